// The libiio personality's pure parts: its descriptors (libiio-usb.md §1.1, §1.3) and how it
// reads the ep0 vendor requests RESET_PIPES, OPEN_PIPE and CLOSE_PIPE (§1.2).
#include "function/IiodFunction.h"

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

using namespace iiousb;
using namespace iiousb::function;

namespace {

std::uint32_t le32(const std::vector<std::uint8_t> &d, std::size_t at)
{
    return d[at] | d[at + 1] << 8 | d[at + 2] << 16 | static_cast<std::uint32_t>(d[at + 3]) << 24;
}

proto::SetupPacket vendor(std::uint8_t request, std::uint16_t value, std::uint16_t length = 0)
{
    proto::SetupPacket s;
    s.requestType = 0x41;
    s.request = request;
    s.value = value;
    s.index = 0;
    s.length = length;
    return s;
}

} // namespace

TEST(IiodDescriptors, PipesAreInThenOutPairs)
{
    for (unsigned pipes : {2u, 3u, 8u}) {
        const auto d = buildIiodDescriptors(pipes);
        // Same size as iiod's blob: 51 + 54 n bytes.
        EXPECT_EQ(d.size(), 51u + 54u * pipes) << pipes << " pipes";
        EXPECT_EQ(le32(d, 4), d.size());
        EXPECT_EQ(le32(d, 12), 2 * pipes + 1); // fs_count
        EXPECT_EQ(le32(d, 16), 2 * pipes + 1); // hs_count
        EXPECT_EQ(le32(d, 20), 4 * pipes + 1); // ss_count
        EXPECT_EQ(d[24 + 4], 2 * pipes);       // bNumEndpoints
        for (unsigned i = 0; i < pipes; i++) {
            // Full-speed set: IN (i+1)|0x80 then OUT i+1, 7 bytes each, bulk, 64 bytes.
            const std::size_t in = 24 + 9 + 14 * i, out = in + 7;
            EXPECT_EQ(d[in + 2], (i + 1) | 0x80);
            EXPECT_EQ(d[out + 2], i + 1);
            EXPECT_EQ(d[in + 3], 2); // bulk
            EXPECT_EQ(d[in + 4], 64);
        }
        // SuperSpeed: each endpoint followed by a companion with a real burst.
        const std::size_t ss = 24 + 2 * (9 + 14 * pipes) + 9;
        EXPECT_EQ(d[ss + 7 + 1], 0x30); // USB_DT_SS_ENDPOINT_COMP
        EXPECT_EQ(d[ss + 7 + 2], proto::kSuperSpeedMaxBurst);
        EXPECT_GT(proto::kSuperSpeedMaxBurst, 0);
    }
}

TEST(IiodDescriptors, InterfaceStringIsIio)
{
    const auto s = buildIiodStrings();
    ASSERT_EQ(s.size(), 16u + 2 + 4);
    EXPECT_EQ(std::string(s.begin() + 18, s.end()), std::string("IIO\0", 4));
}

TEST(IiodSetup, PipeRequests)
{
    auto reset = parseIiodSetup(vendor(0, 0), 3);
    ASSERT_TRUE(reset.ok());
    EXPECT_EQ(reset->request, IiodRequest::ResetPipes);
    auto open = parseIiodSetup(vendor(1, 2), 3);
    ASSERT_TRUE(open.ok());
    EXPECT_EQ(open->request, IiodRequest::OpenPipe);
    EXPECT_EQ(open->pipe, 2u);
    auto close = parseIiodSetup(vendor(2, 0), 3);
    ASSERT_TRUE(close.ok());
    EXPECT_EQ(close->request, IiodRequest::ClosePipe);
    EXPECT_EQ(close->pipe, 0u);
}

TEST(IiodSetup, BadRequestsAreRefused)
{
    // Pipe out of range, unknown request, a data stage, not a vendor request, IN direction.
    const proto::SetupPacket bad[] = {vendor(1, 3), vendor(2, 0xffff), vendor(3, 0),
                                      vendor(1, 0, 4)};
    for (const auto &s : bad) {
        auto r = parseIiodSetup(s, 3);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, -EINVAL);
    }
    proto::SetupPacket standard = vendor(1, 0);
    standard.requestType = 0x01;
    EXPECT_FALSE(parseIiodSetup(standard, 3).ok());
    proto::SetupPacket in = vendor(1, 0);
    in.requestType = 0xc1;
    EXPECT_FALSE(parseIiodSetup(in, 3).ok());
    auto msg = parseIiodSetup(vendor(1, 5), 3);
    EXPECT_NE(msg.error().message.find("pipe 5 does not exist (3 pipes)"), std::string::npos)
            << msg.error().message;
}
