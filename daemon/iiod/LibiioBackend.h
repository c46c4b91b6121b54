// IiodBackend through libiio: the context XML (iio_context_get_xml), attributes, triggers,
// on a libiio context (local on the board; an XML context in tests), and the copy data path
// of READBUF through libiio's local buffers (iio_device_create_buffer, iio_buffer_refill).
// A refill may block (it waits for the converter): it runs on a thread of its own, one per
// opened buffer and READBUF, whose end is reported through completionFd(), an eventfd the
// transport watches on its event loop (then dispatch()). Chunks are copies; sendPayload()
// hands them to the transport's PayloadWriter. WRITEBUF asks the transport for the data
// (DataRequester: read that many bytes from the OUT endpoint and hand them to writeData()),
// copies it into the libiio buffer and pushes it on a thread (iio_buffer_push blocks).
// OPEN ... CYCLIC of an output device (with setZeroCopy()) takes CyclicTx: the one WRITEBUF's
// waveform goes into a DMABUF block the DAC plays until CLOSE.
// With setZeroCopy() (the daemon; unit tests leave it off), READBUF of an input device takes
// the zero-copy path instead (ZeroCopyRx: DMABUF blocks from IIO sent on the IN endpoint as
// they are), and so does WRITEBUF of an output device (ZeroCopyTx: the data is received into
// DMABUF blocks on the OUT endpoint, which then go to the DAC; the transport reads nothing
// meanwhile, as the session wants no input during a WRITEBUF); READBUF's payloads are transfers the
// backend starts itself and whose end it reports through the PayloadDone callback
// (payloadInFlight() meanwhile).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "base/UniqueFd.h"
#include "config/Config.h"
#include "iiod/CyclicTx.h"
#include "iiod/IiodBackend.h"
#include "iiod/ZeroCopyRx.h"
#include "iiod/ZeroCopyTx.h"

struct iio_buffer;
struct iio_context;
struct iio_device;

namespace iiousb::iiod {

struct LibiioBackendOptions {
    bool allowWrites = true; // WRITE of attributes (else -EPERM)
    bool allowDebug = false; // debug attributes (direct_reg_access...): listed and readable
    // The READBUF data path once setZeroCopy() was called (Off: libiio's copy).
    ZeroCopy zeroCopy = ZeroCopy::Auto;
    std::string heap = "/dev/dma_heap/system";
    unsigned buffers = 4; // blocks per buffer unless the client sets BUFFERS_COUNT
    // The devices clients see, each by id, name or label; nullopt: all of them. A device left
    // out is not in PRINT's XML and every command naming it answers -ENODEV.
    std::optional<std::vector<std::string>> devices = std::nullopt;
};

// A buffer a client has open, as the daemon's STATUS line shows it.
struct LibiioBufferStatus {
    enum class Kind { In, Out, Cyclic };
    std::string device; // canonical id
    Kind kind = Kind::In;
    // Each side's data path (zero-copy or copy; libiio's own copy path: copy on both, a
    // cyclic buffer's USB side: none, the waveform crosses once).
    proto::PortMode iio = proto::PortMode::Copy;
    proto::PortMode usb = proto::PortMode::Copy;
    std::uint64_t bytes = 0; // moved since OPEN

    // "iio:device0 in (IIO zero-copy, USB zero-copy)", "iio:device1 out (USB copy, IIO
    // zero-copy)", "iio:device1 cyclic (IIO zero-copy)": the sides in the data's order.
    std::string text() const;
};

// <debug-attribute .../> elements removed from a context XML.
std::string stripDebugAttributes(std::string_view xml);
// The <device> elements of a context XML whose id is not in `ids` removed.
std::string keepDevices(std::string_view xml, const std::vector<std::string> &ids);

class LibiioBackend : public IiodBackend {
public:
    using ContextPtr = std::shared_ptr<iio_context>;

    // The board's IIO devices (iio_create_local_context).
    static Result<ContextPtr> createLocalContext();
    // A context described by XML (iio_create_xml_context_mem): attributes cannot be read.
    static Result<ContextPtr> createXmlContext(std::string_view xml);

    // Writes the bytes of a payload on the pipe's IN endpoint (queued after what is there).
    using PayloadWriter = std::function<void(std::string bytes)>;
    // Reads `bytes` more bytes of a WRITEBUF's data from the OUT endpoint into writeData().
    using DataRequester = std::function<void(std::uint64_t bytes)>;
    // A payload the backend sent itself ended: 0, or -errno (the reply stream is broken).
    using PayloadDone = std::function<void(int status)>;

    LibiioBackend(ContextPtr ctx, LibiioBackendOptions options);
    LibiioBackend(const LibiioBackend &) = delete;
    LibiioBackend &operator=(const LibiioBackend &) = delete;
    // Closes every buffer still open.
    ~LibiioBackend() override;

    void setPayloadWriter(PayloadWriter writer) { payloadWriter_ = std::move(writer); }
    void setDataRequester(DataRequester requester) { dataRequester_ = std::move(requester); }
    void setPayloadDone(PayloadDone done) { payloadDone_ = std::move(done); }
    // READBUF of input devices through DMABUFs sent on `inEndpoint` (the pipe's IN file),
    // WRITEBUF of output devices through DMABUFs received on `outEndpoint` (its OUT file).
    void setZeroCopy(EventLoop &loop, std::string inEndpoint, std::string outEndpoint)
    {
        loop_ = &loop;
        inEndpoint_ = std::move(inEndpoint);
        outEndpoint_ = std::move(outEndpoint);
    }
    // A payload sent by the backend itself has not ended yet: write nothing after it.
    bool payloadInFlight() const { return payloadInFlight_; }
    // Data of the pending WRITEBUF, as the transport reads it (never more than requested).
    void writeData(std::string_view bytes);
    // Readable when a refill thread finished: call dispatch() from the event loop. -1 if the
    // eventfd could not be created (then every OPEN fails).
    int completionFd() const { return completion_.get(); }
    void dispatch();

    IiodVersion version() const override;
    Result<std::string> contextXml() override;
    Result<void> setTimeout(std::uint32_t ms) override;
    Result<std::string> resolveDevice(std::string_view device) override;
    Result<std::string> readAttr(const IiodAttrRef &ref) override;
    Result<std::uint64_t> writeAttr(const IiodAttrRef &ref, std::string_view value) override;
    Result<std::optional<std::string>> trigger(const std::string &device) override;
    Result<void> setTrigger(const std::string &device,
                            const std::optional<std::string> &trigger) override;
    Result<void> setBuffersCount(const std::string &device, unsigned count) override;
    Result<IiodBufferInfo> openBuffer(const IiodOpenRequest &request) override;
    Result<void> closeBuffer(const std::string &device) override;
    void readBuffer(const std::string &device, std::uint64_t bytes,
                    IiodTransferSink &sink) override;
    void sendPayload(const IiodPayload &payload) override;
    void writeBuffer(const std::string &device, std::uint64_t bytes,
                     IiodTransferSink &sink) override;

    // The buffers this session has open.
    std::vector<LibiioBufferStatus> bufferStatus() const;

    // What the clients asked for, for the data path: TIMEOUT (0: none) and BUFFERS_COUNT
    // (LibiioBackendOptions::buffers unless set).
    std::uint32_t timeoutMs() const { return timeoutMs_; }
    unsigned buffersCount(const std::string &device) const;

private:
    struct OpenBuffer;
    // The device by id, name or label, if clients may see it (else -ENODEV).
    Result<iio_device *> device(const std::string &id) const;
    bool exposed(const iio_device *dev) const;
    // Hands out what the buffer holds for its READBUF, starts a refill when it needs more.
    void feed(OpenBuffer &b);
    void startRefill(OpenBuffer &b);
    void requestWriteData(OpenBuffer &b);
    void startPush(OpenBuffer &b);
    // `notify`: tell the transport that a payload in flight of this buffer was cancelled.
    void destroy(OpenBuffer &b, bool notify = false);
    // The zero-copy blocks of an OPEN's buffer on `endpoint`.
    LibiioBlocksOptions blocksOptions(const IiodOpenRequest &request, iio_device *dev,
                                      std::uint64_t sampleBytes, std::string endpoint) const;
    Result<std::unique_ptr<ZeroCopyRx>> openZeroCopy(const IiodOpenRequest &request,
                                                     iio_device *dev, std::uint64_t sampleBytes);
    void feedZeroCopy(OpenBuffer &b);
    Result<std::unique_ptr<ZeroCopyTx>> openZeroCopyTx(const IiodOpenRequest &request,
                                                       iio_device *dev, std::uint64_t sampleBytes);
    // Receives the next piece of b's WRITEBUF when a block is free; ends it on a DAC error.
    void drainZeroCopy(OpenBuffer &b);
    void zeroCopyReceived(const std::string &device, Result<std::uint64_t> bytes);
    // Ends the pending WRITEBUF of b with `result`.
    void endWrite(OpenBuffer &b, Result<std::uint64_t> result);
    Result<std::unique_ptr<CyclicTx>> openCyclic(const IiodOpenRequest &request, iio_device *dev,
                                                 std::uint64_t sampleBytes);
    // The most bytes one piece of a WRITEBUF may have (the buffer's size).
    std::uint64_t capacity(const OpenBuffer &b) const;
    void zeroCopySent(int status);
    // A READBUF chunk readChunk()ed and not sent yet: copied bytes, or a piece of a
    // zero-copy buffer's block.
    struct BlockPiece {
        std::string device;
        ZeroCopyRx::Chunk chunk;
    };
    using Payload = std::variant<std::string, BlockPiece>;
    // Hands the next `bytes` of b's READBUF to its sink; sendPayload() sends them later.
    void handOut(OpenBuffer &b, Payload payload, std::uint64_t bytes);
    // Ends b's READBUF if all of it was handed out: true if none is pending any more.
    bool readDone(OpenBuffer &b);

    ContextPtr ctx_;
    UniqueFd completion_;
    PayloadWriter payloadWriter_;
    DataRequester dataRequester_;
    OpenBuffer *writing_ = nullptr; // the buffer of the pending WRITEBUF
    std::map<std::string, std::unique_ptr<OpenBuffer>> buffers_;
    std::map<std::uint64_t, Payload> payloads_;
    PayloadDone payloadDone_;
    EventLoop *loop_ = nullptr;
    std::string inEndpoint_;
    std::string outEndpoint_;
    bool payloadInFlight_ = false;
    std::string payloadDevice_; // the buffer whose payload is in flight
    std::uint64_t nextPayload_ = 1;
    LibiioBackendOptions options_;
    std::uint32_t timeoutMs_ = 0;
    std::map<std::string, unsigned> buffersCount_;
};

} // namespace iiousb::iiod
