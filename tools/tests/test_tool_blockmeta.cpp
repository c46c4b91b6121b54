// The host's view of the per-block metadata (BlockMeta.h): gaps from records, records
// matched with the data for latency, and the cross-check of announced gaps against the ones
// the data shows (an unannounced gap or a count beyond the device's margin fails).
#include <vector>

#include <gtest/gtest.h>

#include "BlockMeta.h"

using namespace iiousb;
using namespace iiousb::tool;

namespace {

constexpr std::uint64_t kBlock = 4096;
constexpr unsigned kSet = 8; // 512 sample sets per block

proto::MetaRecord rec(std::uint64_t seq, std::uint64_t first, std::uint8_t flags = proto::kMetaTime,
                      std::uint64_t lost = 0, std::uint64_t doneNs = 0)
{
    proto::MetaRecord r;
    r.sequence = seq;
    r.firstSample = first;
    r.flags = flags;
    r.lost = lost;
    r.bytes = kBlock;
    r.completionNs = doneNs ? doneNs : 1000 * (seq + 1);
    return r;
}

} // namespace

TEST(BlockMeta, ContinuousRecordsHaveNoGaps)
{
    std::vector<GapEvent> seen;
    BlockMetaTracker t(kBlock, kSet, proto::Direction::Rx,
                       [&](const GapEvent &g) { seen.push_back(g); });
    for (std::uint64_t i = 0; i < 10; i++)
        t.onRecord(rec(i, i * 512));
    EXPECT_EQ(t.records(), 10u);
    EXPECT_EQ(t.gaps(), 0u);
    EXPECT_TRUE(seen.empty());
    EXPECT_NE(t.summaryText(false).find("10 block records, 0 gaps"), std::string::npos);
}

TEST(BlockMeta, GapsComeFromTheSampleIndexAndTheFlags)
{
    std::vector<GapEvent> seen;
    BlockMetaTracker t(kBlock, kSet, proto::Direction::Rx,
                       [&](const GapEvent &g) { seen.push_back(g); });
    t.onRecord(rec(0, 0));
    t.onRecord(rec(1, 512));
    auto g = rec(2, 1024 + 300, proto::kMetaTime | proto::kMetaGap, 300);
    g.lostMargin = 4;
    t.onRecord(g);
    t.onRecord(rec(3, 1836 + 512, proto::kMetaTime | proto::kMetaGap | proto::kMetaUsbLoss, 512));
    t.onRecord(rec(4, 2860, proto::kMetaGap | proto::kMetaLostUnknown));
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].block, 2u);
    EXPECT_EQ(seen[0].lost, 300u);
    EXPECT_EQ(seen[0].margin, 4u);
    EXPECT_TRUE(seen[0].estimated);
    EXPECT_EQ(seen[1].block, 3u);
    EXPECT_EQ(seen[1].lost, 512u);
    EXPECT_TRUE(seen[1].usbLoss);
    EXPECT_FALSE(seen[1].estimated);
    EXPECT_TRUE(seen[2].unknown);
    EXPECT_EQ(t.lostSamples(), 812u);
    EXPECT_TRUE(t.lostUnknown());
    EXPECT_EQ(t.gapEvents().size(), 3u);
}

TEST(BlockMeta, MissingRecordsAreCounted)
{
    BlockMetaTracker t(kBlock, kSet);
    t.onRecord(rec(0, 0));
    t.onRecord(rec(4, 2048));
    EXPECT_EQ(t.missingRecords(), 3u);
    EXPECT_EQ(t.gaps(), 0u); // nothing says the samples are not contiguous
    EXPECT_NE(t.summaryText(false).find("3 records missing"), std::string::npos);
}

TEST(BlockMeta, FeedRecordsSkipsOtherStreamsAndRejectsGarbage)
{
    BlockMetaTracker t(kBlock, kSet);
    std::vector<std::uint8_t> buf;
    for (std::uint8_t s : {0, 1, 0}) {
        auto r = rec(t.records(), t.records() * 512);
        r.stream = s;
        auto b = proto::encodeMeta(r);
        buf.insert(buf.end(), b.begin(), b.end());
    }
    EXPECT_TRUE(t.feedRecords(buf.data(), buf.size(), 0));
    EXPECT_EQ(t.records(), 2u);
    std::string why;
    std::vector<std::uint8_t> junk(64, 0xff);
    EXPECT_FALSE(t.feedRecords(junk.data(), junk.size(), 0, &why));
    EXPECT_FALSE(why.empty());
}

TEST(BlockMeta, LatencyMatchesRecordsWithArrivals)
{
    BlockMetaTracker t(kBlock, kSet);
    // Records before and after their data: both orders match.
    t.onRecord(rec(0, 0, proto::kMetaTime, 0, 1000));
    t.onData(kBlock, 1500); // block 0 arrived 500 ns after its completion
    t.onData(3 * kBlock, 4000);
    t.onRecord(rec(1, 512, proto::kMetaTime, 0, 2000));  // 2000 ns
    t.onRecord(rec(2, 1024, proto::kMetaTime, 0, 3000)); // 1000 ns
    const LatencySummary l = t.latency();
    EXPECT_EQ(l.count, 3u);
    EXPECT_EQ(l.p50Ns, 1000u);
    EXPECT_EQ(l.maxNs, 2000u);
    EXPECT_NE(t.summaryText(true).find("latency p50 0.00 ms"), std::string::npos)
            << t.summaryText(true);
    // No fence time: nothing to measure.
    BlockMetaTracker u(kBlock, kSet);
    u.onRecord(rec(0, 0, 0));
    u.onData(kBlock, 5);
    EXPECT_EQ(u.latency().count, 0u);
    EXPECT_NE(u.summaryText(true).find("no latency measured"), std::string::npos);
}

TEST(BlockMeta, CrossCheckPassesWhenEveryGapIsAnnouncedWithinItsMargin)
{
    std::vector<DataGap> data{{5, 1000}, {9, 20}};
    std::vector<GapEvent> announced(3);
    announced[0] = {5, 0, 1003, 4, true};
    announced[1] = {7, 0, 1, 2, true}; // a possible gap the data does not show: fine
    announced[2] = {9, 0, 20, 1, true};
    const GapCrossCheck c = crossCheckGaps(data, announced);
    EXPECT_TRUE(c.ok());
    EXPECT_EQ(c.matched, 2u);
    EXPECT_EQ(c.exact, 1u);
    EXPECT_EQ(c.maxDiff, 3u);
    EXPECT_EQ(c.notInData, 0u);
}

TEST(BlockMeta, CrossCheckFailsOnUnannouncedGapsAndWrongCounts)
{
    std::vector<DataGap> data{{5, 1000}, {9, 20}};
    std::vector<GapEvent> announced(1);
    announced[0] = {5, 0, 1000, 1, true};
    GapCrossCheck c = crossCheckGaps(data, announced);
    EXPECT_FALSE(c.ok());
    EXPECT_EQ(c.unannounced, 1u);
    ASSERT_FALSE(c.details.empty());
    EXPECT_NE(c.details[0].find("block 9"), std::string::npos) << c.details[0];

    announced[0].lost = 1010; // 10 off, margin 1
    data.pop_back();
    c = crossCheckGaps(data, announced);
    EXPECT_FALSE(c.ok());
    EXPECT_EQ(c.outsideMargin, 1u);
    EXPECT_EQ(c.maxDiff, 10u);

    // Announced with more than its margin where the data goes on: counted, reported.
    std::vector<GapEvent> extra(1);
    extra[0] = {3, 0, 50, 2, true};
    c = crossCheckGaps({}, extra);
    EXPECT_EQ(c.notInData, 1u);
    EXPECT_TRUE(c.ok());
}

// A tx stream's records: its gaps are underruns; rx records of the same index are not its.
TEST(BlockMeta, TxTrackerFollowsTxRecordsOnly)
{
    std::vector<GapEvent> seen;
    BlockMetaTracker t(kBlock, kSet, proto::Direction::Tx,
                       [&](const GapEvent &g) { seen.push_back(g); });
    std::vector<std::uint8_t> buf;
    auto add = [&](proto::MetaRecord r, bool tx) {
        if (tx)
            r.flags |= proto::kMetaTx;
        auto b = proto::encodeMeta(r);
        buf.insert(buf.end(), b.begin(), b.end());
    };
    add(rec(0, 0), true);
    add(rec(0, 0), false); // the rx stream's, same index
    add(rec(1, 512 + 100, proto::kMetaTime | proto::kMetaGap, 100), true);
    ASSERT_TRUE(t.feedRecords(buf.data(), buf.size(), 0));
    EXPECT_EQ(t.records(), 2u);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].block, 1u);
    EXPECT_EQ(seen[0].lost, 100u);
    EXPECT_NE(t.summaryText(false).find("1 underrun, 100 sample sets of silence"),
              std::string::npos)
            << t.summaryText(false);
}
