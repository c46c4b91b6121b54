// Recognising an iiousb interface in a configuration descriptor, as the device list does.
#include <gtest/gtest.h>

#include "DeviceFinder.h"
#include "StatusLine.h"

using namespace iiousb::tool;

namespace {

libusb_endpoint_descriptor bulk(std::uint8_t address, std::uint16_t maxPacket)
{
    libusb_endpoint_descriptor ep{};
    ep.bLength = LIBUSB_DT_ENDPOINT_SIZE;
    ep.bDescriptorType = LIBUSB_DT_ENDPOINT;
    ep.bEndpointAddress = address;
    ep.bmAttributes = LIBUSB_TRANSFER_TYPE_BULK;
    ep.wMaxPacketSize = maxPacket;
    return ep;
}

libusb_interface_descriptor intf(std::uint8_t number, std::uint8_t cls, std::uint8_t sub,
                                 std::uint8_t protocol, const libusb_endpoint_descriptor *eps,
                                 std::uint8_t count, std::uint8_t alt = 0)
{
    libusb_interface_descriptor d{};
    d.bLength = LIBUSB_DT_INTERFACE_SIZE;
    d.bDescriptorType = LIBUSB_DT_INTERFACE;
    d.bInterfaceNumber = number;
    d.bAlternateSetting = alt;
    d.bInterfaceClass = cls;
    d.bInterfaceSubClass = sub;
    d.bInterfaceProtocol = protocol;
    d.bNumEndpoints = count;
    d.endpoint = eps;
    return d;
}

} // namespace

TEST(Descriptor, FindsTheIiousbInterfaceAmongOthers)
{
    const libusb_endpoint_descriptor cdcEps[] = {bulk(0x83, 512)};
    libusb_endpoint_descriptor ours[] = {bulk(0x81, 512), bulk(0x02, 512), {}};
    ours[2] = bulk(0x84, 512);
    ours[2].bmAttributes = LIBUSB_TRANSFER_TYPE_INTERRUPT; // not a stream
    const libusb_interface_descriptor alts0[] = {intf(0, 0x02, 0x02, 0x01, cdcEps, 1)};
    const libusb_interface_descriptor alts1[] = {intf(1, 0xff, 0x49, 0x01, ours, 3)};
    const libusb_interface interfaces[] = {{alts0, 1}, {alts1, 1}};
    libusb_config_descriptor config{};
    config.bNumInterfaces = 2;
    config.interface = interfaces;

    auto match = findIiousbInterface(config);
    ASSERT_TRUE(match);
    EXPECT_EQ(match->number, 1);
    EXPECT_EQ(match->protocol, 1);
    ASSERT_EQ(match->endpoints.size(), 2u);
    EXPECT_EQ(match->endpoints[0].address, 0x81);
    EXPECT_EQ(match->endpoints[1].address, 0x02);
    EXPECT_EQ(match->endpoints[0].maxPacket, 512);
}

TEST(Descriptor, OtherVendorInterfacesAreNotOurs)
{
    const libusb_endpoint_descriptor eps[] = {bulk(0x81, 512)};
    const libusb_interface_descriptor alts[] = {intf(0, 0xff, 0x42, 0x01, eps, 1)};
    const libusb_interface interfaces[] = {{alts, 1}};
    libusb_config_descriptor config{};
    config.bNumInterfaces = 1;
    config.interface = interfaces;
    EXPECT_FALSE(findIiousbInterface(config));
}

TEST(Descriptor, ALaterProtocolVersionIsFoundAndToldApart)
{
    const libusb_interface_descriptor alts[] = {intf(0, 0xff, 0x49, 0x02, nullptr, 0)};
    const libusb_interface interfaces[] = {{alts, 1}};
    libusb_config_descriptor config{};
    config.bNumInterfaces = 1;
    config.interface = interfaces;
    auto match = findIiousbInterface(config);
    ASSERT_TRUE(match);
    EXPECT_EQ(match->protocol, 2);
}

TEST(Descriptor, Names)
{
    EXPECT_EQ(speedName(LIBUSB_SPEED_HIGH), "high (480 Mbit/s)");
    EXPECT_EQ(speedName(LIBUSB_SPEED_SUPER), "super (5 Gbit/s)");
    EXPECT_EQ(usbIdText(0x1d6b, 0x104), "1d6b:0104");
}

TEST(StatusLine, ProgressLineAndRates)
{
    const std::string line = formatProgress({"rx0", "rx", 12.5e6, 125000000, 10.0, 0, "verify ok"});
    EXPECT_EQ(line, "rx0 rx  12.5 MB/s  total 125 MB  10.0 s  errors 0  verify ok");

    using namespace std::chrono;
    const RateMeter::Clock::time_point t0{};
    RateMeter meter(t0);
    EXPECT_DOUBLE_EQ(meter.tick(t0 + seconds(1), 1000000), 1e6);
    EXPECT_DOUBLE_EQ(meter.tick(t0 + seconds(3), 5000000), 2e6);
    EXPECT_DOUBLE_EQ(meter.average(t0 + seconds(4), 8000000), 2e6);
    EXPECT_DOUBLE_EQ(meter.elapsed(t0 + milliseconds(1500)), 1.5);
}
