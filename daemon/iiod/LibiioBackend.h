// The part of IiodBackend that libiio already does: the context XML (iio_context_get_xml),
// attributes, triggers, on a libiio context (local on the board; an XML context in tests).
// The buffer calls (OPEN, CLOSE, READBUF, WRITEBUF) are not here yet: they answer -ENOSYS
// until the zero-copy data path is wired (docs/libiio.md, "Protocol coverage").
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "iiod/IiodBackend.h"

struct iio_context;
struct iio_device;

namespace iiousb::iiod {

struct LibiioBackendOptions {
    bool allowWrites = true; // WRITE of attributes (else -EPERM)
    bool allowDebug = false; // debug attributes (direct_reg_access...): listed and readable
};

// <debug-attribute .../> elements removed from a context XML.
std::string stripDebugAttributes(std::string_view xml);

class LibiioBackend : public IiodBackend {
public:
    using ContextPtr = std::shared_ptr<iio_context>;

    // The board's IIO devices (iio_create_local_context).
    static Result<ContextPtr> createLocalContext();
    // A context described by XML (iio_create_xml_context_mem): attributes cannot be read.
    static Result<ContextPtr> createXmlContext(std::string_view xml);

    LibiioBackend(ContextPtr ctx, LibiioBackendOptions options);

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

    // What the clients asked for, for the data path: TIMEOUT (0: none) and BUFFERS_COUNT.
    std::uint32_t timeoutMs() const { return timeoutMs_; }
    unsigned buffersCount(const std::string &device) const;

private:
    Result<iio_device *> device(const std::string &id) const;

    ContextPtr ctx_;
    LibiioBackendOptions options_;
    std::uint32_t timeoutMs_ = 0;
    std::map<std::string, unsigned> buffersCount_;
};

} // namespace iiousb::iiod
