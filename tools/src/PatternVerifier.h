// Checks a captured byte stream against iio-sim's test pattern (IioSimPattern.h), as it
// arrives, and reports lost, duplicated and corrupt bytes with their stream offsets.
//
// Full mode compares every byte with the pattern and follows the sample index across
// transfers. Data the device drops (an overrun) or sends twice goes in whole blocks, so
// when the stream stops matching at a block boundary the verifier looks for the block
// jump that explains it (a lost or duplicated range) and carries on from there; any other
// mismatch is corruption. Header mode checks only the 16-byte header at the start of each
// block (magic, sequence number, first sample index). Auto picks one by the first bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "Expected.h"

namespace iiousb::tool {

enum class PatternKind { Auto, Full, Header };

struct PatternLayout {
    std::vector<unsigned> channels; // scan indices of the enabled channels, in scan order
    std::uint64_t blockBytes = 0;   // bytes per block (one USB transfer of the stream)
};

struct VerifyEvent {
    enum class Kind { Lost, Duplicated, Corrupt };
    Kind kind = Kind::Corrupt;
    std::uint64_t offset = 0; // stream offset where it was seen
    std::uint64_t bytes = 0;  // bytes lost, duplicated or corrupt
    std::string detail;
};

std::string_view eventKindName(VerifyEvent::Kind kind); // "lost" | "duplicated" | "corrupt"

struct VerifySummary {
    std::uint64_t streamBytes = 0;  // bytes fed
    std::uint64_t matchedBytes = 0; // bytes equal to the pattern (full) or in checked blocks
    std::uint64_t headers = 0;      // good block headers (header mode)
    std::uint64_t lostBytes = 0;
    std::uint64_t duplicatedBytes = 0;
    std::uint64_t corruptBytes = 0;
    std::uint64_t lostEvents = 0;
    std::uint64_t duplicatedEvents = 0;
    std::uint64_t corruptEvents = 0;
    bool synced = false;           // the pattern was found
    std::uint64_t firstSample = 0; // sample index at the first synced byte
    // Header mode: blocks that follow on in sequence but start further on in the sample
    // index (a free-running converter lost sample sets before them: sim_free_run).
    std::uint64_t gapEvents = 0;
    std::uint64_t gapSamples = 0;

    // Nothing lost, duplicated or corrupt; gaps only count where `gapsExplained` is false
    // (the device announced each of them: BlockMeta's cross-check).
    bool ok(bool gapsExplained = false) const
    {
        return synced && lostEvents == 0 && duplicatedEvents == 0 && corruptEvents == 0 &&
               (gapsExplained || gapEvents == 0);
    }
};

// A gap in the sample index seen in the data (header mode).
struct DataGap {
    std::uint64_t block = 0;   // index of the block after it, from the start of the capture
    std::uint64_t samples = 0; // sample sets missing
};

class PatternVerifier {
public:
    static constexpr std::size_t kMaxEvents = 64; // kept in events(); counters go on

    // expectStartAtZero: the capture started the stream, so its first byte must be sample
    // 0 (anything else means data was lost before the first transfer completed).
    static Expected<PatternVerifier> create(PatternLayout layout, PatternKind kind,
                                            bool expectStartAtZero);

    void feed(std::span<const std::uint8_t> data);
    // The end of the stream: checks what was held back for look-ahead.
    void finish();

    PatternKind kind() const { return kind_; } // Auto until the first bytes decide
    const VerifySummary &summary() const { return summary_; }
    const std::vector<VerifyEvent> &events() const { return events_; }
    const std::vector<DataGap> &gaps() const { return gaps_; } // the first kMaxGaps
    static constexpr std::size_t kMaxGaps = 100000;
    // One short phrase for the live status line: "verify ok", "verify: 1 lost (1.0 MiB)...".
    std::string statusText() const;

private:
    PatternVerifier(PatternLayout layout, PatternKind kind, bool expectStartAtZero);

    std::size_t processFull(std::span<const std::uint8_t> data, bool final);
    std::size_t processHeader(std::span<const std::uint8_t> data);
    void process(bool final);

    // Bytes of `data` that equal the pattern from position `pos` on.
    std::size_t matchRun(const std::uint8_t *data, std::size_t size, std::uint64_t pos) const;
    std::uint8_t patternByte(std::uint64_t pos) const;
    bool matchesAt(std::span<const std::uint8_t> data, std::uint64_t pos) const;
    bool trySync(std::span<const std::uint8_t> data);
    bool tryJump(std::span<const std::uint8_t> data);
    bool atBlockBoundary() const;
    void checkHeader(std::uint64_t blockOffset);

    void addEvent(VerifyEvent::Kind kind, std::uint64_t offset, std::uint64_t bytes,
                  std::string detail);
    void addCorrupt(std::uint64_t offset, std::uint64_t bytes);

    PatternLayout layout_;
    PatternKind kind_;
    bool expectStartAtZero_;
    unsigned setBytes_;
    std::vector<std::uint32_t> channelTerm_; // channel * 0x1f per word of a set

    std::vector<std::uint8_t> hold_; // bytes held back for look-ahead
    std::uint64_t offset_ = 0;       // stream offset of the next byte to process

    // Full mode.
    bool synced_ = false;
    std::uint64_t pos_ = 0;          // pattern byte position expected at offset_
    std::uint64_t boundaryBase_ = 0; // stream offset that block boundaries count from

    // Header mode.
    std::uint8_t header_[16] = {};
    bool havePrev_ = false;
    std::uint32_t prevSeq_ = 0;
    std::uint32_t maxSeq_ = 0;
    std::uint64_t prevSample_ = 0;

    VerifySummary summary_;
    std::vector<VerifyEvent> events_;
    std::vector<DataGap> gaps_;
};

} // namespace iiousb::tool
