// The libiio-backed part of the iiod backend on an XML context (tests/unit/data/iiod): the
// PRINT XML round trip, channel order, debug attributes hidden, device lookup, through a
// real IiodSession. Attribute reads and writes need a local context (sysfs): an XML context
// has no attribute values, libiio answers them with an error, which is all checked here.
#include "iiod/LibiioBackend.h"

#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>

#include <iio.h>

#include <gtest/gtest.h>

#include "iiod/IiodSession.h"

using namespace iiousb;
using namespace iiousb::iiod;
using namespace std::literals;

namespace {

std::string fixture()
{
    std::ifstream in(IIOUSB_SOURCE_DIR "/tests/unit/data/iiod/context.xml");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

LibiioBackend::ContextPtr context()
{
    auto ctx = LibiioBackend::createXmlContext(fixture());
    EXPECT_TRUE(ctx.ok()) << (ctx.ok() ? "" : ctx.error().message);
    return ctx.ok() ? *ctx : nullptr;
}

std::vector<std::string> channelIds(const iio_context *ctx, const char *device)
{
    std::vector<std::string> ids;
    const iio_device *dev = iio_context_find_device(ctx, device);
    for (unsigned i = 0; dev && i < iio_device_get_channels_count(dev); ++i)
        ids.push_back(iio_channel_get_id(iio_device_get_channel(dev, i)));
    return ids;
}

// PRINT through a session: "<len>\n", then the XML and '\n'.
std::string print(IiodBackend &backend)
{
    IiodSession session(backend);
    session.consume("PRINT\r\n");
    auto out = session.takeTransfers();
    EXPECT_EQ(out.size(), 2u);
    if (out.size() != 2)
        return {};
    const auto &len = std::get<std::string>(out[0]);
    const auto &xml = std::get<std::string>(out[1]);
    EXPECT_EQ(std::stoul(len), xml.size() - 1);
    EXPECT_EQ(xml.back(), '\n');
    return xml.substr(0, xml.size() - 1);
}

const std::vector<std::string> kSorted = {"voltage0",  "voltage1", "voltage2",
                                          "timestamp", "temp",     "altvoltage0"};

TEST(LibiioBackend, XmlRoundTripWithChannelsInClientOrder)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    LibiioBackend backend(ctx, {.allowWrites = true, .allowDebug = true});
    const std::string xml = print(backend);
    // What a client builds from the PRINT payload: the same devices, channels sorted by scan
    // index then shift, non-scan channels last (mask bit n = n-th channel).
    iio_context *client = iio_create_xml_context_mem(xml.data(), xml.size());
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(channelIds(client, "iio:device0"), kSorted);
    EXPECT_EQ(iio_context_get_devices_count(client), 2u);
    const iio_device *dev = iio_context_find_device(client, "test-adc");
    ASSERT_NE(dev, nullptr);
    EXPECT_EQ(iio_device_get_debug_attrs_count(dev), 2u);
    EXPECT_EQ(iio_device_get_buffer_attrs_count(dev), 2u);
    EXPECT_EQ(iio_device_get_attrs_count(dev), 1u);
    // The channels are in that order in the text itself too.
    std::size_t last = 0;
    for (const auto &id : kSorted) {
        const std::size_t at = xml.find("<channel id=\"" + id + "\"");
        ASSERT_NE(at, std::string::npos) << id;
        EXPECT_GT(at, last) << id;
        last = at;
    }
    iio_context_destroy(client);
}

TEST(LibiioBackend, DebugAttributesHiddenUnlessAllowed)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    LibiioBackend backend(ctx, {});
    const std::string xml = print(backend);
    EXPECT_EQ(xml.find("<debug-attribute "), std::string::npos);
    EXPECT_NE(xml.find("<buffer-attribute name=\"length\""), std::string::npos);
    iio_context *client = iio_create_xml_context_mem(xml.data(), xml.size());
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(iio_device_get_debug_attrs_count(iio_context_find_device(client, "test-adc")), 0u);
    iio_context_destroy(client);

    IiodSession session(backend);
    session.consume("READ iio:device0 DEBUG direct_reg_access\r\nWRITE iio:device0 DEBUG "
                    "direct_reg_access 2\r\n0\0"sv);
    auto out = session.takeTransfers();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(std::get<std::string>(out[0]), "-1\n");
    EXPECT_EQ(std::get<std::string>(out[1]), "-1\n");
}

TEST(LibiioBackend, StripDebugAttributes)
{
    EXPECT_EQ(stripDebugAttributes("<a/><debug-attribute name=\"x\" /><b/>"
                                   "<debug-attribute name=\"y\" />"),
              "<a/><b/>");
    EXPECT_EQ(stripDebugAttributes("<debug-attribute name=\"x\""), "<debug-attribute name=\"x\"");
}

TEST(LibiioBackend, KeepDevices)
{
    const std::string xml = "<context><device id=\"a\" name=\"x\"><channel/></device>"
                            "<device id=\"b\" /><device id=\"c\"></device></context>";
    EXPECT_EQ(keepDevices(xml, {"a", "c"}),
              "<context><device id=\"a\" name=\"x\"><channel/></device>"
              "<device id=\"c\"></device></context>");
    EXPECT_EQ(keepDevices(xml, {"b"}), "<context><device id=\"b\" /></context>");
    EXPECT_EQ(keepDevices(xml, {}), "<context></context>");
    // Text that is not a whole element is kept as it is.
    EXPECT_EQ(keepDevices("<device id=\"a", {}), "<device id=\"a");
}

TEST(LibiioBackend, HiddenDevicesAreNotThere)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    // By name: the ADC stays, the trigger (iio:device1) is hidden.
    LibiioBackend backend(ctx, {.devices = std::vector<std::string>{"test-adc"}});
    const std::string xml = print(backend);
    iio_context *client = iio_create_xml_context_mem(xml.data(), xml.size());
    ASSERT_NE(client, nullptr) << xml;
    EXPECT_EQ(iio_context_get_devices_count(client), 1u);
    EXPECT_NE(iio_context_find_device(client, "test-adc"), nullptr);
    EXPECT_EQ(channelIds(client, "iio:device0"), kSorted);
    iio_context_destroy(client);
    EXPECT_EQ(*backend.resolveDevice("iio:device0"), "iio:device0");
    for (const char *hidden : {"test-trigger", "iio:device1"}) {
        auto r = backend.resolveDevice(hidden);
        ASSERT_FALSE(r.ok()) << hidden;
        EXPECT_EQ(r.error().code, -ENODEV) << hidden;
    }
    // Every command naming it answers -ENODEV, as for a device that does not exist; the
    // trigger cannot be set either.
    IiodSession session(backend);
    session.consume("READ iio:device1 sampling_frequency\r\n"
                    "WRITE test-trigger sampling_frequency 1\r\n1"
                    "OPEN iio:device1 16 00000001\r\n"
                    "GETTRIG iio:device1\r\n"
                    "SETTRIG iio:device0 test-trigger\r\n"sv);
    auto out = session.takeTransfers();
    ASSERT_EQ(out.size(), 5u);
    for (std::size_t i = 0; i < 4; ++i)
        EXPECT_EQ(std::get<std::string>(out[i]), "-19\n") << i;
    EXPECT_EQ(std::get<std::string>(out[4]), "-2\n");

    // By id, the same device.
    LibiioBackend byId(ctx, {.devices = std::vector<std::string>{"iio:device1"}});
    EXPECT_EQ(*byId.resolveDevice("test-trigger"), "iio:device1");
    EXPECT_EQ(byId.resolveDevice("test-adc").error().code, -ENODEV);
}

TEST(LibiioBackend, DevicesByIdNameAndVersion)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    LibiioBackend backend(ctx, {});
    EXPECT_EQ(*backend.resolveDevice("iio:device0"), "iio:device0");
    EXPECT_EQ(*backend.resolveDevice("test-trigger"), "iio:device1");
    auto missing = backend.resolveDevice("nope");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, -ENODEV);
    const IiodVersion v = backend.version();
    EXPECT_EQ(v.major, 0u);
    EXPECT_GE(v.minor, 24u);
    EXPECT_FALSE(v.git.empty());
}

TEST(LibiioBackend, SessionAnswersOnXmlContext)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    LibiioBackend backend(ctx, {.allowWrites = false});
    IiodSession session(backend);
    // Unknown channel -ENXIO, unknown device -ENODEV, writes refused -EPERM, TIMEOUT and
    // BUFFERS_COUNT remembered, buffers not wired (-ENOSYS).
    session.consume("READ iio:device0 INPUT voltage9 raw\r\n"
                    "READ iio:device9 sampling_frequency\r\n"
                    "WRITE iio:device0 sampling_frequency 3\r\n12\0"
                    "TIMEOUT 2500\r\n"
                    "SET test-adc BUFFERS_COUNT 6\r\n"
                    "OPEN iio:device0 1024 00000001\r\n"sv);
    std::vector<std::string> replies;
    for (const auto &t : session.takeTransfers())
        replies.push_back(std::get<std::string>(t));
    EXPECT_EQ(replies, (std::vector<std::string>{"-6\n", "-19\n", "-1\n", "0\n", "0\n",
                                                 std::to_string(-ENOSYS) + "\n"}));
    EXPECT_EQ(backend.timeoutMs(), 2500u);
    EXPECT_EQ(backend.buffersCount("iio:device0"), 6u);
    EXPECT_EQ(backend.buffersCount("iio:device1"), 4u);
}

TEST(LibiioBackend, AttributeReadOnXmlContextIsAnErrorNotACrash)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    LibiioBackend backend(ctx, {});
    // The XML backend has no attribute I/O: a negative errno. "read all" packs the errors.
    auto one = backend.readAttr({"iio:device0", AttrKind::Device, false, {}, "sampling_frequency"});
    EXPECT_FALSE(one.ok());
    auto all = backend.readAttr({"iio:device0", AttrKind::Channel, false, "voltage0", {}});
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 8u); // two attributes, each a negative be32 and no value
    EXPECT_EQ(static_cast<unsigned char>((*all)[0]), 0xffu);
}

} // namespace

namespace {

// Records what the backend reports for a READBUF/WRITEBUF.
struct RecordingSink : IiodTransferSink {
    std::vector<IiodPayload> chunks;
    bool ready = false;
    std::optional<Result<std::uint64_t>> done;
    void readChunk(const IiodPayload &p) override { chunks.push_back(p); }
    void writeReady() override { ready = true; }
    void transferDone(Result<std::uint64_t> bytes) override { done = std::move(bytes); }
};

} // namespace

TEST(LibiioBackend, BufferCallsCheckTheirInput)
{
    LibiioBackend backend(context(), {});
    ASSERT_GE(backend.completionFd(), 0);
    // Not opened in this session: READBUF and WRITEBUF end with -EBADF, CLOSE with -ENXIO,
    // without touching the sink otherwise.
    RecordingSink read;
    backend.readBuffer("iio:device0", 4096, read);
    ASSERT_TRUE(read.done.has_value());
    EXPECT_EQ(read.done->error().code, -EBADF);
    EXPECT_TRUE(read.chunks.empty());
    RecordingSink write;
    backend.writeBuffer("iio:device0", 4096, write);
    ASSERT_TRUE(write.done.has_value());
    EXPECT_EQ(write.done->error().code, -EBADF);
    EXPECT_FALSE(write.ready);
    EXPECT_EQ(backend.closeBuffer("iio:device0").error().code, -ENXIO);

    // OPEN: the mask must have one word per 32 channels, at least one scan channel, and a
    // sample count; an unknown device is -ENODEV.
    EXPECT_EQ(backend.openBuffer({"iio:device0", 1024, {}, false}).error().code, -EINVAL);
    EXPECT_EQ(backend.openBuffer({"iio:device0", 1024, {0, 0}, false}).error().code, -EINVAL);
    EXPECT_EQ(backend.openBuffer({"iio:device0", 0, {0x1}, false}).error().code, -EINVAL);
    // Only "temp" (bit 4 in the sorted order), not a scan element.
    EXPECT_EQ(backend.openBuffer({"iio:device0", 1024, {0x10}, false}).error().code, -EINVAL);
    EXPECT_EQ(backend.openBuffer({"iio:device9", 1024, {0x1}, false}).error().code, -ENODEV);
    // CYCLIC is for output devices (test-adc's channels are inputs); it needs the daemon's
    // event loop for its DMABUF block, which this backend was not given.
    auto cyclic = backend.openBuffer({"iio:device0", 1024, {0x1}, true});
    ASSERT_FALSE(cyclic.ok());
    EXPECT_EQ(cyclic.error().code, -EINVAL);
    EXPECT_NE(cyclic.error().message.find("not an output device"), std::string::npos);
}
