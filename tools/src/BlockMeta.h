// What the host learns from the device's per-block metadata (docs/protocol.md, "Metadata"):
// the records of one rx stream, matched with the data as it arrives, give every gap in the
// samples (the block after it, the sample sets missing, and whether the device estimated the
// count) and each block's latency (host receive time - the device's IIO completion time;
// meaningful only where both share one clock, as in the test VM).
//
// No I/O: the capture loop feeds records and data progress in; unit tests feed made-up ones.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "PatternVerifier.h"
#include "protocol/Protocol.h"

namespace iiousb::tool {

struct GapEvent {
    std::uint64_t block = 0;       // sequence number of the block after the gap
    std::uint64_t firstSample = 0; // the device's index of that block's first sample set
    std::uint64_t lost = 0;        // sample sets missing before it
    std::uint64_t margin = 0;      // `lost` is within this of the truth (the device says)
    bool estimated = false;        // counted from the converter's rate and fence times
    bool unknown = false;          // the device could not tell how many (no rate)
    bool usbLoss = false;          // blocks that failed on USB (exact)
};

struct LatencySummary {
    std::uint64_t count = 0;
    std::uint64_t p50Ns = 0;
    std::uint64_t p99Ns = 0;
    std::uint64_t maxNs = 0;
};

class BlockMetaTracker {
public:
    // `blockBytes` and `sampleBytes` from GET_INFO; `onGap` is called for each gap as soon
    // as its record arrives.
    BlockMetaTracker(std::uint64_t blockBytes, unsigned sampleBytes,
                     proto::Direction dir = proto::Direction::Rx,
                     std::function<void(const GapEvent &)> onGap = {});

    // One transfer from the metadata endpoint: whole records, for any stream; the ones of
    // other streams (`stream` = the index this tracker follows, of its direction) are
    // ignored. For a tx stream a gap is an underrun (the DAC ran dry before the block). False (with
    // `error`) for bytes that are not records.
    bool feedRecords(const std::uint8_t *data, std::size_t size, std::uint8_t stream,
                     std::string *error = nullptr);
    void onRecord(const proto::MetaRecord &record);
    // Called with every record of the stream, before it is looked at (--meta-log).
    void setObserver(std::function<void(const proto::MetaRecord &)> observer)
    {
        observer_ = std::move(observer);
    }
    // The data stream reached `totalBytes` at host time `nowNs` (CLOCK_MONOTONIC).
    void onData(std::uint64_t totalBytes, std::uint64_t nowNs);

    std::uint64_t records() const { return records_; }
    std::uint64_t missingRecords() const { return missingRecords_; }
    std::uint64_t gaps() const { return gaps_; }
    std::uint64_t lostSamples() const { return lostSamples_; }
    bool lostUnknown() const { return lostUnknown_; }
    const std::vector<GapEvent> &gapEvents() const { return gapEvents_; } // the first kMaxGaps
    LatencySummary latency() const;
    // "12 gaps, 3456 sample sets lost (estimated); latency p50 1.2 ms, p99 3.4 ms, max 5 ms".
    std::string summaryText(bool withLatency) const;

    static constexpr std::size_t kMaxGaps = 1000;

private:
    void match();

    std::uint64_t blockBytes_;
    unsigned sampleBytes_;
    proto::Direction dir_;
    std::function<void(const GapEvent &)> onGap_;
    std::function<void(const proto::MetaRecord &)> observer_;

    std::optional<proto::MetaRecord> prev_;
    std::uint64_t records_ = 0;
    std::uint64_t missingRecords_ = 0;
    std::uint64_t gaps_ = 0;
    std::uint64_t lostSamples_ = 0;
    bool lostUnknown_ = false;
    std::vector<GapEvent> gapEvents_;

    // Matching records with data for the latency: the completion times of blocks whose data
    // has not fully arrived, and the arrival times of blocks whose record has not.
    std::deque<std::pair<std::uint64_t, std::uint64_t>> completions_; // (sequence, ns)
    std::deque<std::pair<std::uint64_t, std::uint64_t>> arrivals_;    // (block, ns)
    std::uint64_t blocksArrived_ = 0;
    std::vector<std::uint64_t> latencies_;
};

// The gaps the data shows (PatternVerifier, header mode) against the ones the device
// announced, matched by block. A gap in the data that the device did not announce is data
// lost without a word, and a count further off than the margin the device gave is a wrong
// report: either fails the check. The counts are the device's estimate (from its
// converter's rate and fence times); announced gaps the data does not show are counted.
struct GapCrossCheck {
    std::uint64_t matched = 0;        // in both, at the same block
    std::uint64_t unannounced = 0;    // in the data only
    std::uint64_t notInData = 0;      // announced with sample sets lost, the data is continuous
    std::uint64_t maxDiff = 0;        // largest |announced - seen| over matched ones
    std::uint64_t exact = 0;          // matched with the same count
    std::uint64_t outsideMargin = 0;  // matched, but further off than the device's margin
    std::vector<std::string> details; // the first mismatches, for the report
    bool ok() const { return unannounced == 0 && outsideMargin == 0; }
};
GapCrossCheck crossCheckGaps(const std::vector<DataGap> &data,
                             const std::vector<GapEvent> &announced);

} // namespace iiousb::tool
