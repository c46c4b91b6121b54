#include "BlockMeta.h"

#include <algorithm>
#include <cstdio>
#include <span>

namespace iiousb::tool {

BlockMetaTracker::BlockMetaTracker(std::uint64_t blockBytes, unsigned sampleBytes,
                                   proto::Direction dir,
                                   std::function<void(const GapEvent &)> onGap)
    : blockBytes_(blockBytes), sampleBytes_(sampleBytes), dir_(dir), onGap_(std::move(onGap))
{}

bool BlockMetaTracker::feedRecords(const std::uint8_t *data, std::size_t size, std::uint8_t stream,
                                   std::string *error)
{
    std::size_t pos = 0;
    while (pos < size) {
        std::size_t recordSize = 0;
        auto r = proto::decodeMeta(std::span<const std::uint8_t>(data + pos, size - pos),
                                   &recordSize, error);
        if (!r)
            return false;
        const bool tx = (r->flags & proto::kMetaTx) != 0;
        if (r->stream == stream && tx == (dir_ == proto::Direction::Tx))
            onRecord(*r);
        pos += recordSize;
    }
    return true;
}

void BlockMetaTracker::onRecord(const proto::MetaRecord &r)
{
    if (observer_)
        observer_(r);
    records_++;
    GapEvent gap;
    gap.block = r.sequence;
    gap.firstSample = r.firstSample;
    bool isGap = false;
    if (prev_) {
        if (r.sequence > prev_->sequence + 1)
            missingRecords_ += r.sequence - prev_->sequence - 1;
        // The sample index says how much is missing, also across missing records.
        const std::uint64_t expected =
                prev_->firstSample + (sampleBytes_ ? prev_->bytes / sampleBytes_ : 0);
        if (r.sequence == prev_->sequence + 1 && r.firstSample > expected) {
            isGap = true;
            gap.lost = r.firstSample - expected;
        }
    } else if (r.firstSample > 0 && r.sequence == 0) {
        isGap = true; // lost before the first block
        gap.lost = r.firstSample;
    }
    if (r.flags & proto::kMetaGap) {
        isGap = true;
        gap.margin = r.lostMargin;
        gap.unknown = (r.flags & proto::kMetaLostUnknown) != 0;
        gap.usbLoss = (r.flags & proto::kMetaUsbLoss) != 0;
        gap.estimated = !gap.unknown && r.lost > 0 && !gap.usbLoss;
    }
    if (isGap) {
        gaps_++;
        lostSamples_ += gap.lost;
        lostUnknown_ = lostUnknown_ || gap.unknown;
        if (gapEvents_.size() < kMaxGaps)
            gapEvents_.push_back(gap);
        if (onGap_)
            onGap_(gap);
    }
    prev_ = r;
    if (r.flags & proto::kMetaTime)
        completions_.emplace_back(r.sequence, r.completionNs);
    match();
}

void BlockMetaTracker::onData(std::uint64_t totalBytes, std::uint64_t nowNs)
{
    if (!blockBytes_)
        return;
    const std::uint64_t complete = totalBytes / blockBytes_;
    for (; blocksArrived_ < complete; blocksArrived_++)
        arrivals_.emplace_back(blocksArrived_, nowNs);
    match();
}

void BlockMetaTracker::match()
{
    // Records and data both come in block order: drop whichever side is behind.
    while (!completions_.empty() && !arrivals_.empty()) {
        auto [seq, done] = completions_.front();
        auto [block, arrived] = arrivals_.front();
        if (seq < block) {
            completions_.pop_front();
        } else if (block < seq) {
            arrivals_.pop_front();
        } else {
            if (arrived >= done)
                latencies_.push_back(arrived - done);
            completions_.pop_front();
            arrivals_.pop_front();
        }
    }
    // Bounded memory when one side never comes (no data read, records dropped).
    constexpr std::size_t kMax = 1 << 16;
    while (completions_.size() > kMax)
        completions_.pop_front();
    while (arrivals_.size() > kMax)
        arrivals_.pop_front();
}

LatencySummary BlockMetaTracker::latency() const
{
    LatencySummary s;
    s.count = latencies_.size();
    if (latencies_.empty())
        return s;
    std::vector<std::uint64_t> v = latencies_;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
        return v[std::min(i, v.size() - 1)];
    };
    s.p50Ns = at(0.50);
    s.p99Ns = at(0.99);
    s.maxNs = v.back();
    return s;
}

namespace {

std::string ms(std::uint64_t ns)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f ms", static_cast<double>(ns) / 1e6);
    return buf;
}

} // namespace

std::string BlockMetaTracker::summaryText(bool withLatency) const
{
    const bool tx = dir_ == proto::Direction::Tx;
    std::string s =
            std::to_string(records_) + " block records, " + std::to_string(gaps_) +
            (tx ? (gaps_ == 1 ? " underrun" : " underruns") : (gaps_ == 1 ? " gap" : " gaps"));
    if (gaps_) {
        s += ", " + std::to_string(lostSamples_) +
             (tx ? " sample sets of silence" : " sample sets lost");
        if (lostUnknown_)
            s += " (and some of unknown length)";
    }
    if (missingRecords_)
        s += ", " + std::to_string(missingRecords_) + " records missing";
    if (withLatency) {
        const LatencySummary l = latency();
        if (l.count)
            s += "; latency p50 " + ms(l.p50Ns) + ", p99 " + ms(l.p99Ns) + ", max " + ms(l.maxNs) +
                 " (" + std::to_string(l.count) + " blocks)";
        else
            s += "; no latency measured";
    }
    return s;
}

GapCrossCheck crossCheckGaps(const std::vector<DataGap> &data,
                             const std::vector<GapEvent> &announced)
{
    GapCrossCheck c;
    auto note = [&](std::string text) {
        if (c.details.size() < 10)
            c.details.push_back(std::move(text));
    };
    std::size_t a = 0;
    for (const DataGap &d : data) {
        // Announced gaps before this one that the data does not show.
        for (; a < announced.size() && announced[a].block < d.block; a++) {
            if (announced[a].lost > announced[a].margin && !announced[a].unknown) {
                c.notInData++;
                c.maxDiff = std::max(c.maxDiff, announced[a].lost);
                note("block " + std::to_string(announced[a].block) + ": announced " +
                     std::to_string(announced[a].lost) + " sample sets lost, the data goes on");
            }
        }
        if (a < announced.size() && announced[a].block == d.block) {
            const GapEvent &g = announced[a++];
            c.matched++;
            if (!g.unknown) {
                const std::uint64_t diff =
                        g.lost > d.samples ? g.lost - d.samples : d.samples - g.lost;
                c.maxDiff = std::max(c.maxDiff, diff);
                if (diff == 0)
                    c.exact++;
                if (diff > g.margin) {
                    c.outsideMargin++;
                    note("block " + std::to_string(d.block) + ": announced " +
                         std::to_string(g.lost) + " +/- " + std::to_string(g.margin) +
                         " sample sets lost, the data shows " + std::to_string(d.samples));
                }
            }
            continue;
        }
        c.unannounced++;
        note("block " + std::to_string(d.block) + ": " + std::to_string(d.samples) +
             " sample sets missing in the data, not announced by the device");
    }
    for (; a < announced.size(); a++) {
        if (announced[a].lost > announced[a].margin && !announced[a].unknown) {
            c.notInData++;
            c.maxDiff = std::max(c.maxDiff, announced[a].lost);
        }
    }
    return c;
}

} // namespace iiousb::tool
