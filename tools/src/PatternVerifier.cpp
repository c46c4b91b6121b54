#include "PatternVerifier.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "Format.h"
#include "IioSimPattern.h"

namespace iiousb::tool {

namespace {

// Bytes compared before a jump or the start of the pattern is believed.
constexpr std::size_t kLookahead = 4096;
// Block jumps searched at a mismatch on a block boundary.
constexpr std::uint64_t kMaxLostBlocks = 1u << 16;
constexpr std::uint64_t kMaxDuplicatedBlocks = 256;

std::uint32_t le32(const std::uint8_t *p)
{
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

std::uint64_t le64(const std::uint8_t *p)
{
    return static_cast<std::uint64_t>(le32(p)) | static_cast<std::uint64_t>(le32(p + 4)) << 32;
}

std::string format(const char *fmt, auto... args)
{
    char buf[256];
    std::snprintf(buf, sizeof(buf), fmt, args...);
    return buf;
}

} // namespace

std::string_view eventKindName(VerifyEvent::Kind kind)
{
    switch (kind) {
    case VerifyEvent::Kind::Lost:
        return "lost";
    case VerifyEvent::Kind::Duplicated:
        return "duplicated";
    case VerifyEvent::Kind::Corrupt:
        return "corrupt";
    }
    return "?";
}

Expected<PatternVerifier> PatternVerifier::create(PatternLayout layout, PatternKind kind,
                                                  bool expectStartAtZero)
{
    if (layout.channels.empty())
        return Error{"cannot verify: the stream has no enabled channels"};
    if (layout.channels.size() > iiosim::kMaxChannels)
        return Error{"cannot verify: more than 16 channels (iio-sim has at most 16)"};
    for (unsigned c : layout.channels)
        if (c >= iiosim::kMaxChannels)
            return Error{"cannot verify: channel scan index " + std::to_string(c) +
                         " is not an iio-sim channel"};
    const std::uint64_t setBytes = 2 * layout.channels.size();
    if (layout.blockBytes == 0)
        return Error{"cannot verify: unknown block size"};
    if (layout.blockBytes < iiosim::kHeaderSize)
        return Error{"cannot verify: blocks of " + std::to_string(layout.blockBytes) +
                     " bytes are smaller than a block header"};
    (void)setBytes;
    return PatternVerifier(std::move(layout), kind, expectStartAtZero);
}

PatternVerifier::PatternVerifier(PatternLayout layout, PatternKind kind, bool expectStartAtZero)
    : layout_(std::move(layout)), kind_(kind), expectStartAtZero_(expectStartAtZero),
      setBytes_(static_cast<unsigned>(2 * layout_.channels.size()))
{
    for (unsigned c : layout_.channels)
        channelTerm_.push_back(c * 0x1fu);
}

void PatternVerifier::addEvent(VerifyEvent::Kind kind, std::uint64_t offset, std::uint64_t bytes,
                               std::string detail)
{
    switch (kind) {
    case VerifyEvent::Kind::Lost:
        summary_.lostBytes += bytes;
        summary_.lostEvents++;
        break;
    case VerifyEvent::Kind::Duplicated:
        summary_.duplicatedBytes += bytes;
        summary_.duplicatedEvents++;
        break;
    case VerifyEvent::Kind::Corrupt:
        summary_.corruptBytes += bytes;
        summary_.corruptEvents++;
        break;
    }
    if (events_.size() < kMaxEvents)
        events_.push_back({kind, offset, bytes, std::move(detail)});
}

// Adjacent corrupt bytes make one event (one range).
void PatternVerifier::addCorrupt(std::uint64_t offset, std::uint64_t bytes)
{
    if (bytes == 0)
        return;
    if (summary_.corruptEvents > 0 && !events_.empty()) {
        VerifyEvent &last = events_.back();
        if (last.kind == VerifyEvent::Kind::Corrupt && last.offset + last.bytes == offset &&
            last.detail.empty()) {
            last.bytes += bytes;
            summary_.corruptBytes += bytes;
            return;
        }
    }
    addEvent(VerifyEvent::Kind::Corrupt, offset, bytes, {});
}

std::uint8_t PatternVerifier::patternByte(std::uint64_t pos) const
{
    const std::uint64_t sample = pos / setBytes_;
    const unsigned rest = static_cast<unsigned>(pos % setBytes_);
    const std::uint16_t v = iiosim::value(sample, layout_.channels[rest / 2]);
    return static_cast<std::uint8_t>(rest % 2 ? v >> 8 : v & 0xff);
}

// Compares whole 16-bit words (after a leading odd byte, if any): a word that differs
// counts as not matching from its first byte, so that a jump at a block boundary is seen at
// the boundary even when the low bytes happen to agree. A trailing half word is left to
// the caller.
std::size_t PatternVerifier::matchRun(const std::uint8_t *data, std::size_t size,
                                      std::uint64_t pos) const
{
    std::size_t i = 0;
    if (size > 0 && pos % 2) {
        if (data[0] != patternByte(pos))
            return 0;
        i = 1;
        ++pos;
    }
    const unsigned nchan = static_cast<unsigned>(channelTerm_.size());
    std::uint64_t sample = pos / setBytes_;
    unsigned word = static_cast<unsigned>(pos % setBytes_) / 2;
    std::uint32_t term = iiosim::sampleTerm(sample);
    while (size - i >= 2) {
        const auto v = static_cast<std::uint16_t>(term + channelTerm_[word]);
        const auto got = static_cast<std::uint16_t>(data[i] | data[i + 1] << 8);
        if (got != v)
            return i;
        i += 2;
        if (++word == nchan) {
            word = 0;
            term = iiosim::sampleTerm(++sample);
        }
    }
    return i;
}

bool PatternVerifier::matchesAt(std::span<const std::uint8_t> data, std::uint64_t pos) const
{
    std::size_t n = std::min(data.size(), kLookahead);
    if (n == 0)
        return false;
    if (n == 1)
        return data[0] == patternByte(pos);
    // Cheap reject on the first two bytes before the full comparison.
    if (data[0] != patternByte(pos) || data[1] != patternByte(pos + 1))
        return false;
    if ((pos + n) % 2) // whole words only
        --n;
    return matchRun(data.data(), n, pos) == n;
}

bool PatternVerifier::atBlockBoundary() const
{
    return (offset_ - boundaryBase_) % layout_.blockBytes == 0;
}

// At the first byte (or a block boundary after unrecognised data): the stream starts at
// sample 0 or, if blocks were lost before the capture started or the stream was already
// running, at the start of some later block.
bool PatternVerifier::trySync(std::span<const std::uint8_t> data)
{
    for (std::uint64_t k = 0; k <= kMaxLostBlocks; ++k) {
        const std::uint64_t pos = k * layout_.blockBytes;
        if (!matchesAt(data, pos))
            continue;
        synced_ = true;
        boundaryBase_ = offset_;
        pos_ = pos;
        if (!summary_.synced) {
            summary_.synced = true;
            summary_.firstSample = pos / setBytes_;
            if (pos != 0 && expectStartAtZero_)
                addEvent(VerifyEvent::Kind::Lost, offset_, pos,
                         format("the stream starts at sample %" PRIu64 " instead of 0: %" PRIu64
                                " block(s) lost before it",
                                pos / setBytes_, k));
        }
        return true;
    }
    return false;
}

// A mismatch on a block boundary: whole blocks lost (the pattern jumps forward) or sent
// again (it jumps back)?
bool PatternVerifier::tryJump(std::span<const std::uint8_t> data)
{
    const std::uint64_t block = layout_.blockBytes;
    for (std::uint64_t k = 1; k <= kMaxLostBlocks; ++k) {
        if (matchesAt(data, pos_ + k * block)) {
            addEvent(VerifyEvent::Kind::Lost, offset_, k * block,
                     format("%" PRIu64 " block(s) missing: expected sample %" PRIu64
                            ", got sample %" PRIu64,
                            k, pos_ / setBytes_, (pos_ + k * block) / setBytes_));
            pos_ += k * block;
            return true;
        }
        if (k <= kMaxDuplicatedBlocks && k * block <= pos_ && matchesAt(data, pos_ - k * block)) {
            addEvent(VerifyEvent::Kind::Duplicated, offset_, k * block,
                     format("the stream goes back %" PRIu64 " block(s): expected sample %" PRIu64
                            ", got sample %" PRIu64 " again",
                            k, pos_ / setBytes_, (pos_ - k * block) / setBytes_));
            pos_ -= k * block;
            return true;
        }
    }
    return false;
}

std::size_t PatternVerifier::processFull(std::span<const std::uint8_t> data, bool final)
{
    std::size_t i = 0;
    const std::uint64_t block = layout_.blockBytes;
    while (i < data.size()) {
        const std::size_t avail = data.size() - i;
        if (!synced_) {
            if (!atBlockBoundary()) {
                // Unrecognised data: corrupt up to the next block boundary, then try again.
                const std::uint64_t toBoundary = block - (offset_ - boundaryBase_) % block;
                const std::size_t n =
                        static_cast<std::size_t>(std::min<std::uint64_t>(avail, toBoundary));
                addCorrupt(offset_, n);
                i += n;
                offset_ += n;
                continue;
            }
            if (avail < std::min<std::uint64_t>(kLookahead, block) && !final)
                return i;
            if (!trySync(data.subspan(i))) {
                boundaryBase_ = offset_;
                const std::size_t n =
                        static_cast<std::size_t>(std::min<std::uint64_t>(avail, block));
                if (!summary_.synced && events_.empty())
                    addEvent(VerifyEvent::Kind::Corrupt, offset_, 0,
                             "no iio-sim pattern found (wrong channels or pattern mode?)");
                addCorrupt(offset_, n);
                i += n;
                offset_ += n;
            }
            continue;
        }

        const std::size_t n = matchRun(data.data() + i, avail, pos_);
        i += n;
        offset_ += n;
        pos_ += n;
        summary_.matchedBytes += n;
        if (i == data.size())
            break;

        if (atBlockBoundary()) {
            if (data.size() - i < std::min<std::uint64_t>(kLookahead, block) && !final)
                return i;
            if (tryJump(data.subspan(i)))
                continue;
        }
        // Half a word at the end of the data: wait for the other half.
        if (data.size() - i == 1 && pos_ % 2 == 0 && !final)
            return i;
        // Byte by byte through the word that differs: a corrupt byte is counted, the
        // pattern goes on from the next position.
        if (data[i] == patternByte(pos_))
            summary_.matchedBytes++;
        else
            addCorrupt(offset_, 1);
        ++i;
        ++offset_;
        ++pos_;
    }
    return i;
}

void PatternVerifier::checkHeader(std::uint64_t blockOffset)
{
    const std::uint32_t magic = le32(header_);
    const std::uint32_t seq = le32(header_ + 4);
    const std::uint64_t sample = le64(header_ + 8);
    const std::uint64_t perBlock = layout_.blockBytes / setBytes_;

    if (magic != iiosim::kHeaderMagic) {
        addEvent(VerifyEvent::Kind::Corrupt, blockOffset, iiosim::kHeaderSize,
                 format("block header magic 0x%08" PRIx32 " instead of 0x%08" PRIx32, magic,
                        iiosim::kHeaderMagic));
        if (havePrev_) {
            prevSeq_++;
            prevSample_ += perBlock;
        }
        return;
    }
    if (!havePrev_) {
        havePrev_ = true;
        summary_.synced = true;
        summary_.firstSample = sample;
        if (expectStartAtZero_ && seq != 0)
            addEvent(VerifyEvent::Kind::Lost, blockOffset,
                     static_cast<std::uint64_t>(seq) * layout_.blockBytes,
                     format("the stream starts at block %" PRIu32 " (sample %" PRIu64
                            ") instead of 0",
                            seq, sample));
        else if (sample != static_cast<std::uint64_t>(seq) * perBlock)
            addEvent(VerifyEvent::Kind::Corrupt, blockOffset, iiosim::kHeaderSize,
                     format("block %" PRIu32 " says sample %" PRIu64 ", expected %" PRIu64, seq,
                            sample, static_cast<std::uint64_t>(seq) * perBlock));
        else
            summary_.headers++;
        prevSeq_ = maxSeq_ = seq;
        prevSample_ = sample;
        return;
    }

    const std::uint32_t expected = prevSeq_ + 1;
    const auto ahead = static_cast<std::int32_t>(seq - expected);
    const std::uint64_t expectedSample =
            prevSample_ + static_cast<std::uint64_t>(static_cast<std::int64_t>(seq - prevSeq_) *
                                                     static_cast<std::int64_t>(perBlock));
    const bool sampleOk = sample == expectedSample;
    if (static_cast<std::int32_t>(seq - maxSeq_) <= 0) {
        addEvent(VerifyEvent::Kind::Duplicated, blockOffset, layout_.blockBytes,
                 format("block %" PRIu32 " again (expected block %" PRIu32 ")", seq, expected));
    } else if (ahead > 0) {
        addEvent(VerifyEvent::Kind::Lost, blockOffset,
                 static_cast<std::uint64_t>(ahead) * layout_.blockBytes,
                 format("%" PRId32 " block(s) missing: expected block %" PRIu32 ", got %" PRIu32,
                        ahead, expected, seq));
    }
    const bool gap = !sampleOk && ahead == 0 && sample > expectedSample;
    if (gap) {
        summary_.gapEvents++;
        summary_.gapSamples += sample - expectedSample;
        if (gaps_.size() < kMaxGaps)
            gaps_.push_back({blockOffset / layout_.blockBytes, sample - expectedSample});
        summary_.headers++;
    } else if (!sampleOk) {
        addEvent(VerifyEvent::Kind::Corrupt, blockOffset, iiosim::kHeaderSize,
                 format("block %" PRIu32 " says sample %" PRIu64 ", expected %" PRIu64, seq, sample,
                        expectedSample));
    } else if (ahead == 0) {
        summary_.headers++;
    }
    prevSeq_ = seq;
    // A wrong sample index is the corrupt part: go on from the one the sequence implies.
    prevSample_ = sampleOk || gap ? sample : expectedSample;
    if (static_cast<std::int32_t>(seq - maxSeq_) > 0)
        maxSeq_ = seq;
}

std::size_t PatternVerifier::processHeader(std::span<const std::uint8_t> data)
{
    std::size_t i = 0;
    const std::uint64_t block = layout_.blockBytes;
    while (i < data.size()) {
        const std::uint64_t inBlock = offset_ % block;
        if (inBlock < iiosim::kHeaderSize) {
            const std::size_t n = static_cast<std::size_t>(
                    std::min<std::uint64_t>(data.size() - i, iiosim::kHeaderSize - inBlock));
            std::memcpy(header_ + inBlock, data.data() + i, n);
            i += n;
            offset_ += n;
            if (inBlock + n == iiosim::kHeaderSize)
                checkHeader(offset_ - iiosim::kHeaderSize);
            continue;
        }
        const std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(data.size() - i, block - inBlock));
        i += n;
        offset_ += n;
    }
    summary_.matchedBytes = offset_;
    return i;
}

void PatternVerifier::process(bool final)
{
    if (kind_ == PatternKind::Auto) {
        if (hold_.size() < 4 && !final)
            return;
        kind_ = hold_.size() >= 4 && le32(hold_.data()) == iiosim::kHeaderMagic
                        ? PatternKind::Header
                        : PatternKind::Full;
    }
    std::size_t used =
            kind_ == PatternKind::Header ? processHeader(hold_) : processFull(hold_, final);
    hold_.erase(hold_.begin(), hold_.begin() + static_cast<std::ptrdiff_t>(used));
}

void PatternVerifier::feed(std::span<const std::uint8_t> data)
{
    summary_.streamBytes += data.size();
    if (hold_.empty() && kind_ != PatternKind::Auto) {
        // The common case: straight from the caller's buffer, holding back only a tail
        // that needs look-ahead.
        std::size_t used =
                kind_ == PatternKind::Header ? processHeader(data) : processFull(data, false);
        hold_.assign(data.begin() + static_cast<std::ptrdiff_t>(used), data.end());
        return;
    }
    hold_.insert(hold_.end(), data.begin(), data.end());
    process(false);
}

void PatternVerifier::finish()
{
    if (!hold_.empty() || kind_ == PatternKind::Auto)
        process(true);
    if (kind_ == PatternKind::Header && !summary_.synced && summary_.streamBytes > 0 &&
        summary_.corruptEvents == 0)
        addEvent(VerifyEvent::Kind::Corrupt, 0, 0, "no complete block header in the stream");
}

std::string PatternVerifier::statusText() const
{
    const VerifySummary &s = summary_;
    if (s.streamBytes == 0)
        return "verify: no data";
    if (!s.synced && s.corruptEvents > 0)
        return "verify: no pattern";
    const std::string gaps =
            s.gapEvents ? ", " + std::to_string(s.gapEvents) + " gaps in the sample index" : "";
    if (s.lostEvents == 0 && s.duplicatedEvents == 0 && s.corruptEvents == 0)
        return "verify ok" + gaps;
    std::string text = "verify:";
    if (s.lostEvents)
        text += " lost " + formatBytes(s.lostBytes) + " (" + std::to_string(s.lostEvents) + "x)";
    if (s.duplicatedEvents)
        text += " dup " + formatBytes(s.duplicatedBytes) + " (" +
                std::to_string(s.duplicatedEvents) + "x)";
    if (s.corruptEvents)
        text += " corrupt " + formatBytes(s.corruptBytes) + " (" + std::to_string(s.corruptEvents) +
                "x)";
    return text + gaps;
}

} // namespace iiousb::tool
