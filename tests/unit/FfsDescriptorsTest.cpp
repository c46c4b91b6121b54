// The FunctionFS descriptor and strings blobs, byte for byte.
#include "ffs/FfsDescriptors.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

using namespace iiousb;
using Bytes = std::vector<std::uint8_t>;

namespace {

std::uint32_t le32(const Bytes &b, std::size_t off)
{
    return b[off] | b[off + 1] << 8 | b[off + 2] << 16 |
           static_cast<std::uint32_t>(b[off + 3]) << 24;
}

Bytes interface(std::uint8_t numEndpoints)
{
    return {9, 4, 0, 0, numEndpoints, 0xff, 0x49, 0x01, 1};
}

Bytes endpoint(std::uint8_t address, std::uint16_t maxPacket)
{
    return {7,
            5,
            address,
            2,
            static_cast<std::uint8_t>(maxPacket),
            static_cast<std::uint8_t>(maxPacket >> 8),
            0};
}

const Bytes kCompanion = {6, 0x30, 15, 0, 0, 0};

void append(Bytes &out, const Bytes &in)
{
    out.insert(out.end(), in.begin(), in.end());
}

} // namespace

TEST(FfsDescriptors, RxAndTxStreams)
{
    const proto::Direction dirs[] = {proto::Direction::Rx, proto::Direction::Tx};
    const Bytes d = ffs::buildDescriptors(dirs);

    Bytes expected;
    // usb_functionfs_descs_head_v2: magic 3, length, flags FS|HS|SS; then the counts.
    append(expected, {3, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0});
    append(expected, {3, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0});
    for (std::uint16_t mps : {64, 512}) {
        append(expected, interface(2));
        append(expected, endpoint(0x81, mps));
        append(expected, endpoint(0x02, mps));
    }
    append(expected, interface(2));
    append(expected, endpoint(0x81, 1024));
    append(expected, kCompanion);
    append(expected, endpoint(0x02, 1024));
    append(expected, kCompanion);
    expected[4] = static_cast<std::uint8_t>(expected.size());

    EXPECT_EQ(d.size(), 105u);
    EXPECT_EQ(le32(d, 4), d.size());
    EXPECT_EQ(d, expected);
}

TEST(FfsDescriptors, EndpointNumbersFollowStreamOrder)
{
    const proto::Direction dirs[] = {proto::Direction::Tx, proto::Direction::Rx,
                                     proto::Direction::Rx};
    const Bytes d = ffs::buildDescriptors(dirs);
    // Full-speed set: header 24 bytes, interface 9, then 7-byte endpoints.
    EXPECT_EQ(d[24 + 4], 3); // bNumEndpoints
    EXPECT_EQ(d[24 + 9 + 2], 0x01);
    EXPECT_EQ(d[24 + 9 + 7 + 2], 0x82);
    EXPECT_EQ(d[24 + 9 + 14 + 2], 0x83);
    EXPECT_EQ(le32(d, 12), 4u); // fs_count
    EXPECT_EQ(le32(d, 16), 4u); // hs_count
    EXPECT_EQ(le32(d, 20), 7u); // ss_count: interface + 3 endpoints + 3 companions
    EXPECT_EQ(d.size(), 24u + 2 * (9 + 3 * 7) + 9 + 3 * (7 + 6));
}

TEST(FfsDescriptors, FifteenStreams)
{
    std::vector<proto::Direction> dirs(15, proto::Direction::Rx);
    const Bytes d = ffs::buildDescriptors(dirs);
    EXPECT_EQ(le32(d, 4), d.size());
    // The last SuperSpeed endpoint: 0x8f, 1024 bytes, then its companion at the very end.
    const std::size_t lastEp = d.size() - 6 - 7;
    EXPECT_EQ(d[lastEp + 2], 0x8f);
    EXPECT_EQ(d[lastEp + 4] | d[lastEp + 5] << 8, 1024);
    EXPECT_EQ(Bytes(d.end() - 6, d.end()), kCompanion);
}

TEST(FfsDescriptors, Strings)
{
    const Bytes s = ffs::buildStrings("iiousb");
    const Bytes expected = {2, 0, 0, 0, 25, 0,   0,   0,   1,   0,   0,   0, 1,
                            0, 0, 0, 9, 4,  'i', 'i', 'o', 'u', 's', 'b', 0};
    EXPECT_EQ(s, expected);
}

// The metadata endpoint (docs/protocol.md, "Metadata"): interrupt IN after the streams',
// 64/1024/1024 bytes, every (micro)frame, its SuperSpeed companion sized for one packet.
TEST(FfsDescriptors, MetadataEndpointIsInterruptInLast)
{
    const proto::Direction dirs[] = {proto::Direction::Rx, proto::Direction::Tx};
    const Bytes d = ffs::buildDescriptors(dirs, true);

    Bytes expected;
    append(expected, {3, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0});
    append(expected, {4, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0});
    const std::uint16_t bulk[] = {64, 512, 1024};
    const std::uint16_t meta[] = {64, 1024, 1024};
    for (int speed = 0; speed < 3; speed++) {
        append(expected, interface(3));
        append(expected, endpoint(0x81, bulk[speed]));
        if (speed == 2)
            append(expected, kCompanion);
        append(expected, endpoint(0x02, bulk[speed]));
        if (speed == 2)
            append(expected, kCompanion);
        Bytes m = endpoint(0x83, meta[speed]);
        m[3] = 3; // interrupt
        m[6] = 1; // bInterval
        append(expected, m);
        if (speed == 2)
            append(expected, {6, 0x30, 0, 0, 0x00, 0x04}); // no burst, 1024 bytes per interval
    }
    expected[4] = static_cast<std::uint8_t>(expected.size());
    EXPECT_EQ(le32(d, 4), d.size());
    EXPECT_EQ(d, expected);
}
