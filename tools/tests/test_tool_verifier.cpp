#include <algorithm>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "IioSimPattern.h"
#include "PatternVerifier.h"
#include "iiosim_pattern.h" // the C implementation the VM programs use

using namespace iiousb::tool;

namespace {

using Bytes = std::vector<std::uint8_t>;

// `size` bytes of iio-sim's full pattern from pattern byte `pos` on.
Bytes pattern(const std::vector<unsigned> &channels, std::uint64_t pos, std::size_t size)
{
    const std::uint64_t setBytes = 2 * channels.size();
    Bytes out;
    out.reserve(size);
    for (std::size_t i = 0; i < size; ++i, ++pos) {
        const std::uint64_t rest = pos % setBytes;
        const std::uint16_t v = iiosim::value(pos / setBytes, channels[rest / 2]);
        out.push_back(static_cast<std::uint8_t>(rest % 2 ? v >> 8 : v & 0xff));
    }
    return out;
}

// Blocks `indices` (of `block` bytes each) of the full pattern, concatenated.
Bytes blocks(const std::vector<unsigned> &channels, std::uint64_t block,
             const std::vector<std::uint64_t> &indices)
{
    Bytes out;
    for (std::uint64_t i : indices) {
        Bytes b = pattern(channels, i * block, block);
        out.insert(out.end(), b.begin(), b.end());
    }
    return out;
}

// A header-mode block: magic, seq, first sample, then zeros.
Bytes headerBlock(std::uint64_t block, std::uint32_t seq, std::uint64_t sample)
{
    Bytes b(block, 0);
    auto put = [&](std::size_t at, std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i)
            b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    put(0, iiosim::kHeaderMagic, 4);
    put(4, seq, 4);
    put(8, sample, 8);
    return b;
}

void appendHeaderBlock(Bytes &data, std::uint64_t block, std::uint32_t seq, std::uint64_t sample)
{
    Bytes b = headerBlock(block, seq, sample);
    data.insert(data.end(), b.begin(), b.end());
}

PatternVerifier make(std::vector<unsigned> channels, std::uint64_t block,
                     PatternKind kind = PatternKind::Auto, bool fromZero = true)
{
    auto v = PatternVerifier::create({std::move(channels), block}, kind, fromZero);
    EXPECT_TRUE(v) << v.error().message;
    return std::move(v).value();
}

// Feeds in irregular chunks, as USB transfers of odd sizes would.
void feedChunked(PatternVerifier &v, const Bytes &data, std::size_t chunk = 4099)
{
    std::size_t step = 1;
    for (std::size_t i = 0; i < data.size();) {
        const std::size_t n = std::min(data.size() - i, step);
        v.feed(std::span<const std::uint8_t>(data.data() + i, n));
        i += n;
        step = step * 3 % chunk + 1;
    }
    v.finish();
}

const std::vector<unsigned> kFour = {0, 1, 2, 3};
constexpr std::uint64_t kBlock = 16384;

} // namespace

TEST(Pattern, ValueMatchesTheKernelFormula)
{
    // v(S, c) = (S * 0x9E37 + c * 0x1F + (S >> 16)) mod 2^16
    EXPECT_EQ(iiosim::value(0, 0), 0);
    EXPECT_EQ(iiosim::value(0, 3), 3 * 0x1f);
    EXPECT_EQ(iiosim::value(1, 0), 0x9e37);
    EXPECT_EQ(iiosim::value(2, 1), (2 * 0x9e37 + 0x1f) & 0xffff);
    const std::uint64_t s = 0x123456789ull;
    EXPECT_EQ(iiosim::value(s, 5), static_cast<std::uint16_t>((s * 0x9e37 + 5 * 0x1f + (s >> 16))));
}

TEST(Pattern, SameAsTheCImplementation)
{
    // The C header's stream over a channel subset, byte by byte, against ours.
    iiosim_stream st;
    ASSERT_EQ(iiosim_stream_init(&st, 0x8a41), 0); // channels 0, 6, 9, 11, 15
    const std::vector<unsigned> channels = {0, 6, 9, 11, 15};
    iiosim_stream_seek(&st, 0x12345678ull * 10 + 3);
    Bytes c(4099);
    iiosim_fill(&st, c.data(), c.size());
    EXPECT_EQ(c, pattern(channels, 0x12345678ull * 10 + 3, c.size()));
    EXPECT_EQ(IIOSIM_HEADER_MAGIC, iiosim::kHeaderMagic);
    EXPECT_EQ(std::size_t{IIOSIM_HEADER_SIZE}, iiosim::kHeaderSize);
    for (std::uint64_t s : {0ull, 1ull, 65535ull, 65536ull, 0xffffffffull, 0x123456789abcull})
        for (unsigned ch = 0; ch < 16; ++ch)
            EXPECT_EQ(iiosim_value(s, ch), iiosim::value(s, ch));
}

TEST(Verifier, RejectsLayoutsItCannotCheck)
{
    EXPECT_FALSE(PatternVerifier::create({{}, kBlock}, PatternKind::Full, true));
    EXPECT_FALSE(PatternVerifier::create({{0, 16}, kBlock}, PatternKind::Full, true));
    EXPECT_FALSE(PatternVerifier::create({{0}, 0}, PatternKind::Full, true));
    EXPECT_FALSE(PatternVerifier::create({{0}, 8}, PatternKind::Full, true));
}

TEST(Verifier, CleanStreamAcrossOddChunks)
{
    PatternVerifier v = make(kFour, kBlock);
    const Bytes data = blocks(kFour, kBlock, {0, 1, 2, 3, 4, 5, 6, 7});
    feedChunked(v, data);
    EXPECT_EQ(v.kind(), PatternKind::Full);
    EXPECT_TRUE(v.summary().ok()) << v.statusText();
    EXPECT_EQ(v.summary().matchedBytes, data.size());
    EXPECT_EQ(v.summary().streamBytes, data.size());
    EXPECT_EQ(v.summary().firstSample, 0u);
    EXPECT_EQ(v.statusText(), "verify ok");
}

TEST(Verifier, ChannelSubsetFollowsScanIndices)
{
    const std::vector<unsigned> subset = {1, 3, 6};
    PatternVerifier v = make(subset, 6000);
    feedChunked(v, blocks(subset, 6000, {0, 1, 2, 3}));
    EXPECT_TRUE(v.summary().ok()) << v.statusText();

    // The same data checked as if channels 0, 1, 2 were enabled does not match.
    PatternVerifier wrong = make({0, 1, 2}, 6000);
    feedChunked(wrong, blocks(subset, 6000, {0, 1, 2, 3}));
    EXPECT_FALSE(wrong.summary().ok());
    EXPECT_FALSE(wrong.summary().synced);
    EXPECT_EQ(wrong.summary().corruptBytes, 4 * 6000u);
}

TEST(Verifier, LostBlocksAreReportedWithTheirOffset)
{
    PatternVerifier v = make(kFour, kBlock);
    feedChunked(v, blocks(kFour, kBlock, {0, 1, 2, 5, 6, 7}));
    const VerifySummary &s = v.summary();
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.lostEvents, 1u);
    EXPECT_EQ(s.lostBytes, 2 * kBlock);
    EXPECT_EQ(s.corruptEvents, 0u);
    EXPECT_EQ(s.duplicatedEvents, 0u);
    ASSERT_EQ(v.events().size(), 1u);
    EXPECT_EQ(v.events()[0].kind, VerifyEvent::Kind::Lost);
    EXPECT_EQ(v.events()[0].offset, 3 * kBlock);
    EXPECT_EQ(s.matchedBytes, 6 * kBlock);
}

TEST(Verifier, DuplicatedBlocks)
{
    PatternVerifier v = make(kFour, kBlock);
    feedChunked(v, blocks(kFour, kBlock, {0, 1, 2, 2, 3, 4}));
    const VerifySummary &s = v.summary();
    EXPECT_EQ(s.duplicatedEvents, 1u);
    EXPECT_EQ(s.duplicatedBytes, kBlock);
    EXPECT_EQ(s.lostEvents, 0u);
    EXPECT_EQ(s.corruptEvents, 0u);
    ASSERT_EQ(v.events().size(), 1u);
    EXPECT_EQ(v.events()[0].offset, 3 * kBlock);
}

TEST(Verifier, CorruptBytesAreRangesAtTheirOffsets)
{
    Bytes data = blocks(kFour, kBlock, {0, 1, 2, 3});
    data[12345] ^= 0x01;
    for (std::size_t i = 40000; i < 40010; ++i)
        data[i] ^= 0xff;
    // Corruption right at a block boundary is not mistaken for a jump.
    data[2 * kBlock] ^= 0x80;
    PatternVerifier v = make(kFour, kBlock);
    feedChunked(v, data);
    const VerifySummary &s = v.summary();
    EXPECT_EQ(s.corruptEvents, 3u);
    EXPECT_EQ(s.corruptBytes, 12u);
    EXPECT_EQ(s.lostEvents, 0u);
    EXPECT_EQ(s.duplicatedEvents, 0u);
    ASSERT_EQ(v.events().size(), 3u);
    EXPECT_EQ(v.events()[0].offset, 12345u);
    EXPECT_EQ(v.events()[0].bytes, 1u);
    EXPECT_EQ(v.events()[1].offset, 2 * kBlock);
    EXPECT_EQ(v.events()[2].offset, 40000u);
    EXPECT_EQ(v.events()[2].bytes, 10u);
}

TEST(Verifier, LateStartIsLostOnlyIfWeStartedTheStream)
{
    const Bytes data = blocks(kFour, kBlock, {3, 4, 5});
    PatternVerifier fresh = make(kFour, kBlock, PatternKind::Auto, true);
    feedChunked(fresh, data);
    EXPECT_EQ(fresh.summary().lostEvents, 1u);
    EXPECT_EQ(fresh.summary().lostBytes, 3 * kBlock);
    EXPECT_EQ(fresh.summary().firstSample, 3 * kBlock / 8);

    PatternVerifier joined = make(kFour, kBlock, PatternKind::Auto, false);
    feedChunked(joined, data);
    EXPECT_TRUE(joined.summary().ok()) << joined.statusText();
    EXPECT_EQ(joined.summary().firstSample, 3 * kBlock / 8);
}

TEST(Verifier, BlocksThatSplitSampleSets)
{
    // 3 channels = 6-byte sets; 1000-byte blocks end in the middle of a set.
    const std::vector<unsigned> three = {0, 2, 4};
    PatternVerifier v = make(three, 1000);
    feedChunked(v, blocks(three, 1000, {0, 1, 2, 7, 8, 9, 10}), 333);
    EXPECT_EQ(v.summary().lostEvents, 1u);
    EXPECT_EQ(v.summary().lostBytes, 4000u);
    EXPECT_EQ(v.summary().corruptEvents, 0u);
}

TEST(Verifier, AStreamEndingRightAfterAJump)
{
    // Less than the look-ahead after the jump: finish() still decides.
    Bytes data = blocks(kFour, kBlock, {0, 1});
    Bytes tail = pattern(kFour, 4 * kBlock, 100);
    data.insert(data.end(), tail.begin(), tail.end());
    PatternVerifier v = make(kFour, kBlock);
    feedChunked(v, data);
    EXPECT_EQ(v.summary().lostEvents, 1u);
    EXPECT_EQ(v.summary().lostBytes, 2 * kBlock);
    EXPECT_EQ(v.summary().streamBytes, data.size());
}

TEST(Verifier, GarbageHasNoPattern)
{
    Bytes data(3 * kBlock, 0x5a);
    PatternVerifier v = make(kFour, kBlock);
    feedChunked(v, data);
    EXPECT_FALSE(v.summary().synced);
    EXPECT_FALSE(v.summary().ok());
    EXPECT_EQ(v.summary().corruptBytes, data.size());
    EXPECT_EQ(v.statusText(), "verify: no pattern");
}

TEST(Verifier, LargeStreamStaysCheap)
{
    // 64 MiB through the full check (guards against accidental quadratic behaviour).
    PatternVerifier v = make(kFour, 1 << 20);
    Bytes chunk;
    for (std::uint64_t i = 0; i < 64; ++i) {
        chunk = pattern(kFour, i << 20, 1 << 20);
        v.feed(chunk);
    }
    v.finish();
    EXPECT_TRUE(v.summary().ok());
    EXPECT_EQ(v.summary().matchedBytes, 64u << 20);
}

TEST(HeaderVerifier, CleanHeadersAreAutoDetected)
{
    const std::uint64_t block = 4096, perBlock = block / 8;
    Bytes data;
    for (std::uint32_t seq = 0; seq < 10; ++seq)
        appendHeaderBlock(data, block, seq, seq * perBlock);
    PatternVerifier v = make(kFour, block);
    feedChunked(v, data, 7);
    EXPECT_EQ(v.kind(), PatternKind::Header);
    EXPECT_TRUE(v.summary().ok()) << v.statusText();
    EXPECT_EQ(v.summary().headers, 10u);
}

TEST(HeaderVerifier, LostDuplicatedCorrupt)
{
    const std::uint64_t block = 4096, perBlock = block / 8;
    Bytes data;
    auto add = [&](std::uint32_t seq, std::uint64_t sample) {
        appendHeaderBlock(data, block, seq, sample);
    };
    add(0, 0);
    add(1, perBlock);
    add(4, 4 * perBlock); // 2 and 3 lost
    add(4, 4 * perBlock); // sent again
    add(5, 5 * perBlock);
    add(6, 999);         // wrong sample index
    Bytes bad(block, 0); // no magic
    data.insert(data.end(), bad.begin(), bad.end());
    add(8, 8 * perBlock);

    PatternVerifier v = make(kFour, block, PatternKind::Header);
    feedChunked(v, data, 1000);
    const VerifySummary &s = v.summary();
    EXPECT_EQ(s.lostEvents, 1u);
    EXPECT_EQ(s.lostBytes, 2 * block);
    EXPECT_EQ(s.duplicatedEvents, 1u);
    EXPECT_EQ(s.duplicatedBytes, block);
    EXPECT_EQ(s.corruptEvents, 2u);
    ASSERT_GE(v.events().size(), 4u);
    EXPECT_EQ(v.events()[0].kind, VerifyEvent::Kind::Lost);
    EXPECT_EQ(v.events()[0].offset, 2 * block);
    EXPECT_EQ(v.events()[1].kind, VerifyEvent::Kind::Duplicated);
    EXPECT_EQ(v.events()[1].offset, 3 * block);
    EXPECT_EQ(v.events()[2].kind, VerifyEvent::Kind::Corrupt);
    EXPECT_EQ(v.events()[2].offset, 5 * block);
    EXPECT_EQ(v.events()[3].offset, 6 * block);
}

TEST(HeaderVerifier, FirstBlockNotZero)
{
    const std::uint64_t block = 4096, perBlock = block / 8;
    Bytes data = headerBlock(block, 3, 3 * perBlock);
    PatternVerifier fresh = make(kFour, block, PatternKind::Header, true);
    feedChunked(fresh, data);
    EXPECT_EQ(fresh.summary().lostEvents, 1u);
    EXPECT_EQ(fresh.summary().lostBytes, 3 * block);
    PatternVerifier joined = make(kFour, block, PatternKind::Header, false);
    feedChunked(joined, data);
    EXPECT_TRUE(joined.summary().ok());
    EXPECT_EQ(joined.summary().firstSample, 3 * perBlock);
}

// A free-running converter (iio-sim's sim_free_run) starts a block further on in the sample
// index while the sequence goes on: a gap, kept apart from corruption, and a failure unless
// the caller says the device announced it.
TEST(HeaderVerifier, ForwardJumpsOfTheSampleIndexAreGaps)
{
    const std::uint64_t block = 4096, perBlock = block / 8;
    Bytes data;
    auto add = [&](std::uint32_t seq, std::uint64_t sample) {
        appendHeaderBlock(data, block, seq, sample);
    };
    add(0, 0);
    add(1, perBlock);
    add(2, 2 * perBlock + 1234); // 1234 sample sets lost before block 2
    add(3, 3 * perBlock + 1234);
    add(4, 4 * perBlock + 1234 + 7);
    PatternVerifier v = make(kFour, block, PatternKind::Header);
    feedChunked(v, data, 333);
    v.finish();
    const VerifySummary &s = v.summary();
    EXPECT_EQ(s.corruptEvents, 0u);
    EXPECT_EQ(s.lostEvents, 0u);
    EXPECT_EQ(s.gapEvents, 2u);
    EXPECT_EQ(s.gapSamples, 1241u);
    EXPECT_EQ(s.headers, 5u);
    ASSERT_EQ(v.gaps().size(), 2u);
    EXPECT_EQ(v.gaps()[0].block, 2u);
    EXPECT_EQ(v.gaps()[0].samples, 1234u);
    EXPECT_EQ(v.gaps()[1].block, 4u);
    EXPECT_EQ(v.gaps()[1].samples, 7u);
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(s.ok(true));
    EXPECT_NE(v.statusText().find("2 gaps in the sample index"), std::string::npos);
}
