// What an iiod protocol session (IiodSession) needs from the rest of the daemon: the IIO
// context (XML, attributes, triggers) and the buffers with their data path. One backend
// object serves one pipe's session: what it opens belongs to that session.
//
// Errors are Error::code = -errno, answered to the client as is ("-19\n"); the message is
// for the journal. Every call but readBuffer()/writeBuffer() is synchronous and short (sysfs
// reads and writes, buffer set-up); the sample data path is asynchronous so that a session
// never blocks the event loop: the backend reports back through the IiodTransferSink.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/Result.h"
#include "iiod/IiodCommand.h"

namespace iiousb::iiod {

// The libiio version the server claims (VERSION: "major.minor.git\n").
struct IiodVersion {
    unsigned major = 0;
    unsigned minor = 0;
    std::string git; // "v0.24", at most 7 characters are sent
};

struct IiodOpenRequest {
    std::string device;              // canonical id (resolveDevice())
    std::uint64_t samples = 0;       // samples_count: the client's buffer size in samples
    std::vector<std::uint32_t> mask; // word i = channels 32i..32i+31, in libiio's order (§3)
    bool cyclic = false;
};

struct IiodBufferInfo {
    // The scan mask the kernel actually streams (may be a superset of the requested one),
    // sent before the first chunk of every READBUF. Same layout as IiodOpenRequest::mask.
    std::vector<std::uint32_t> mask;
    std::uint64_t sampleBytes = 0; // bytes per sample (scan) with that mask
};

// A part of a READBUF's data that the backend owns (e.g. a DMABUF block) and sends itself on
// the pipe's IN endpoint when the transport reaches it in the reply stream (sendPayload()):
// zero copies, one device-side transfer of exactly `bytes` bytes.
struct IiodPayload {
    std::uint64_t block = 0; // the backend's handle for the data
    std::uint64_t bytes = 0; // > 0

    bool operator==(const IiodPayload &) const = default;
};

// How the backend reports the progress of readBuffer() and writeBuffer(). It may be called
// from inside those calls or later (from the event loop), never after closeBuffer() of that
// device, never from another thread.
class IiodTransferSink {
public:
    // READBUF: `payload.bytes` more bytes are ready. The session queues "<bytes>\n", on the
    // first chunk of the READBUF the mask line, then the payload.
    virtual void readChunk(const IiodPayload &payload) = 0;
    // WRITEBUF: the backend is ready to take the data from the OUT endpoint (the session
    // answers "0\n", after which the client sends it).
    virtual void writeReady() = 0;
    // The end of READBUF or WRITEBUF: the bytes moved or -errno. READBUF: fewer than asked
    // sends "0\n" (early end), an error "-errno\n", all of them nothing more. WRITEBUF: the
    // count or error is the final reply line.
    virtual void transferDone(Result<std::uint64_t> bytes) = 0;

protected:
    ~IiodTransferSink() = default;
};

class IiodBackend {
public:
    virtual ~IiodBackend() = default;

    virtual IiodVersion version() const = 0;
    // PRINT: the context description (libiio-usb.md §3).
    virtual Result<std::string> contextXml() = 0;
    // TIMEOUT: the client's I/O timeout in ms (0: none); buffer waits end with -ETIMEDOUT.
    virtual Result<void> setTimeout(std::uint32_t ms) = 0;
    // The canonical id of a device given by id, label or name; -ENODEV if none.
    virtual Result<std::string> resolveDevice(std::string_view device) = 0;

    // READ: the value as libiio's local backend returns it (sysfs content, a trailing '\n'
    // turned into '\0'); without attribute, all of that kind packed (packAttrValues()).
    // `ref.device` is canonical. Unknown channel: -ENXIO.
    virtual Result<std::string> readAttr(const IiodAttrRef &ref) = 0;
    // WRITE: `value` as the client sent it (usually with its '\0'); returns bytes written.
    virtual Result<std::uint64_t> writeAttr(const IiodAttrRef &ref, std::string_view value) = 0;

    // GETTRIG: the trigger's name, none if the device has no trigger; -ENOENT if it cannot
    // have one.
    virtual Result<std::optional<std::string>> trigger(const std::string &device) = 0;
    // SETTRIG: none detaches; an unknown trigger is -ENOENT.
    virtual Result<void> setTrigger(const std::string &device,
                                    const std::optional<std::string> &trigger) = 0;
    // SET BUFFERS_COUNT (>= 1): blocks of the next buffer opened on the device.
    virtual Result<void> setBuffersCount(const std::string &device, unsigned count) = 0;

    // OPEN: creates and starts the device's buffer for this session (-EBUSY if another owner
    // has it, -EINVAL if the mask has the wrong number of words).
    virtual Result<IiodBufferInfo> openBuffer(const IiodOpenRequest &request) = 0;
    // CLOSE, and the end of a session: stops the buffer, cancels a pending read/writeBuffer()
    // without reporting it, frees everything.
    virtual Result<void> closeBuffer(const std::string &device) = 0;

    // READBUF of `bytes` bytes on an opened device: reports readChunk() for each part as it
    // becomes ready, then transferDone() once.
    virtual void readBuffer(const std::string &device, std::uint64_t bytes,
                            IiodTransferSink &sink) = 0;
    // Sends a payload reported by readChunk() on the IN endpoint (the transport calls it in
    // reply-stream order, after the lines before it were written).
    virtual void sendPayload(const IiodPayload &payload) = 0;
    // WRITEBUF of `bytes` bytes: writeReady() when it can take the data, which it then reads
    // from the OUT endpoint itself (the session reads nothing meanwhile), then transferDone()
    // with the bytes taken; or transferDone(error) without writeReady().
    virtual void writeBuffer(const std::string &device, std::uint64_t bytes,
                             IiodTransferSink &sink) = 0;
};

// The "read all" payload (v0.25:local.c:502-541): for each value, a big-endian 32-bit length
// (or -errno), then the value padded with zeros to a multiple of 4 bytes.
std::string packAttrValues(const std::vector<Result<std::string>> &values);

// OPEN's mask ("%08x" words, most significant first) into words, least significant first;
// -EINVAL if the length is not a multiple of 8 or a character is not a hex digit.
Result<std::vector<std::uint32_t>> parseMask(std::string_view mask);
// The mask line of READBUF, '\n' included.
std::string formatMask(const std::vector<std::uint32_t> &mask);

} // namespace iiousb::iiod
