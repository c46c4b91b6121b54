// SigMF recordings for capture and play: NAME.sigmf-data (the samples as the device sends
// them) and NAME.sigmf-meta (JSON). Follows the SigMF specification v1.2.5
// (github.com/sigmf/SigMF, tag v1.2.5: additional_content.md for the dataset format,
// sigmf-schema.json for the fields).
//
// A SigMF "sample" with core:num_channels > 1 is one value of every channel at one time
// index (channels interleaved; the reference implementation, sigmf-python, reads
// sample_start * sample size * num_channels bytes in): exactly an IIO sample set (scan).
// With --complex, channel pairs (I, Q) form one complex sample, so the sample index is
// still the sample set's. Sample indices here (file sample, global index) count sample sets.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "Expected.h"
#include "Options.h"
#include "protocol/Protocol.h"

namespace iiousb::tool {

// The core:version written.
inline constexpr std::string_view kSigmfVersion = "1.2.5";
inline constexpr std::string_view kSigmfDataSuffix = ".sigmf-data";
inline constexpr std::string_view kSigmfMetaSuffix = ".sigmf-meta";

using SystemTime = std::chrono::system_clock::time_point;

// --- Datatype ----------------------------------------------------------------------------

struct SigmfDatatype {
    std::string name;            // core:datatype: "ri16_le", "ci16_le", "ru8", ...
    unsigned numChannels = 0;    // core:num_channels (complex: I/Q pairs)
    unsigned componentBytes = 0; // bytes of one real value or one of I, Q
    bool complex = false;
    std::string iioFormat; // the channels' common IIO scan format, e.g. "le:s12/16>>4"
    // Non-empty when the IIO values do not fill their storage words (fewer real bits, or a
    // shift): the recording keeps the raw storage words, and this says how to read them.
    std::string storageNote;
};

// The datatype of a recording of `stream`: every channel must have the same IIO scan
// format, with 8, 16 or 32 storage bits and no repeat; the sample set must be the channels
// without padding. `complex` pairs the channels in scan order as (I, Q) and needs an even
// number of them. Errors say what does not fit.
Expected<SigmfDatatype> sigmfDatatype(const proto::StreamInfo &stream, bool complex);

// A core:datatype string taken apart ("ci16_le": complex, 'i', 16 bits, little endian).
struct SigmfType {
    bool complex = false;
    char kind = 'i'; // 'f' float, 'i' signed, 'u' unsigned
    unsigned bits = 0;
    bool bigEndian = false; // (8-bit types have no byte order)
    unsigned componentBytes() const { return bits / 8; }
    std::string name() const;
};
Expected<SigmfType> parseSigmfType(std::string_view text);

// core:description for a capture of `stream`: channels, their format, the storage note.
std::string sigmfDescription(const proto::StreamInfo &stream, const SigmfDatatype &type);

// "2026-12-07T01:02:03.123456Z" (UTC, microseconds), as core:datetime wants it.
std::string sigmfDatetime(SystemTime time);

// --- File names --------------------------------------------------------------------------

struct SigmfPaths {
    std::string data; // NAME.sigmf-data
    std::string meta; // NAME.sigmf-meta
};

// Whether `name` ends in .sigmf-data or .sigmf-meta.
bool hasSigmfSuffix(std::string_view name);

// The two files of the recording `name` ("rec", "rec.sigmf-data" or "rec.sigmf-meta" all
// give rec.sigmf-data + rec.sigmf-meta). "-" (stdin/stdout) and a name that is only a
// suffix are errors.
Expected<SigmfPaths> sigmfPaths(std::string_view name);

// play -i: the file to read and, for a SigMF recording, its two files. `format` Auto takes
// a .sigmf-data/.sigmf-meta name as SigMF, an existing file as raw, and otherwise NAME as a
// recording when NAME.sigmf-meta exists. Sigmf needs the .sigmf-meta to exist.
struct PlayInput {
    std::string path; // what to read the samples from ("-": stdin)
    std::optional<SigmfPaths> sigmf;
};
Expected<PlayInput> resolvePlayInput(const std::string &input, FileFormat format);

// --- Writing -----------------------------------------------------------------------------

struct SigmfGlobal {
    std::string datatype;         // core:datatype
    unsigned numChannels = 1;     // core:num_channels
    std::uint64_t sampleRate = 0; // core:sample_rate in Hz; 0 (unknown): left out
    std::string hw;               // core:hw, e.g. "iiousb serial=... stream=rx0 iio=iio-sim-adc"
    std::string description;      // core:description
    std::string recorder;         // core:recorder, e.g. "iiousb 0.1.0"
};

// Collects the metadata of a recording while it is written and writes NAME.sigmf-meta at
// the end. Captures and annotations can be added in any order at any time; the file has
// them sorted by core:sample_start (annotations with the same start keep their order).
class SigmfWriter {
public:
    SigmfWriter(SigmfPaths paths, SigmfGlobal global);

    // A capture segment from sample set `fileSample` of the data file on, which is sample
    // set `globalIndex` of the device's stream (core:global_index), optionally with the
    // time of that sample (core:datetime). A segment at the same fileSample replaces the
    // earlier one.
    void addCapture(std::uint64_t fileSample, std::uint64_t globalIndex,
                    std::optional<SystemTime> datetime = std::nullopt);

    // An annotation of `count` sample sets from `fileSample` on.
    void addAnnotation(std::uint64_t fileSample, std::uint64_t count, std::string comment,
                       std::optional<std::string> label = std::nullopt);

    // The device lost `lostSampleSets` sample sets before the data that starts at sample
    // set `fileSample` of the file, which is sample set `globalIndex` of its stream: a new
    // capture segment there (with `datetime`, or else one derived from the first segment's
    // time and the sample rate when both are known) and an annotation of that sample,
    // "overrun: N sample sets lost before this sample", label "overrun".
    void noteGap(std::uint64_t fileSample, std::uint64_t globalIndex, std::uint64_t lostSampleSets,
                 std::optional<SystemTime> datetime = std::nullopt);

    // The .sigmf-meta text (pretty-printed JSON) as finish() writes it.
    std::string metaText() const;

    // Writes NAME.sigmf-meta: to NAME.sigmf-meta.tmp first, flushed, then renamed over
    // it, so that a reader (or an interrupted capture) finds either no meta or a whole one.
    Expected<void> finish() const;

    const SigmfPaths &paths() const { return paths_; }
    const SigmfGlobal &global() const { return global_; }
    std::size_t captureCount() const { return captures_.size(); }
    std::size_t annotationCount() const { return annotations_.size(); }

private:
    struct Capture {
        std::uint64_t fileSample = 0;
        std::uint64_t globalIndex = 0;
        std::optional<SystemTime> datetime;
    };
    struct Annotation {
        std::uint64_t fileSample = 0;
        std::uint64_t count = 0;
        std::string comment;
        std::optional<std::string> label;
    };

    SigmfPaths paths_;
    SigmfGlobal global_;
    std::vector<Capture> captures_; // kept sorted by fileSample
    std::vector<Annotation> annotations_;
};

// --- Reading (play) ----------------------------------------------------------------------

struct SigmfRecording {
    SigmfPaths paths;
    SigmfType type;
    std::string datatype; // core:datatype as written
    unsigned numChannels = 1;
    std::optional<double> sampleRate;
    std::string version; // core:version
    std::string hw;
    std::string description;
    std::string recorder;
    std::size_t captures = 0;
    std::size_t annotations = 0;
};

// Parses a .sigmf-meta text (`name` is used in the messages). Needs a top-level object with
// a "global" object holding a valid core:datatype; checks the types of the fields used.
// Non-Conforming Datasets (core:dataset, core:trailing_bytes, core:header_bytes) and
// metadata-only files cannot be played and are errors.
Expected<SigmfRecording> parseSigmfMeta(std::string_view text, const std::string &name);

// Reads and parses paths.meta; the data file must exist.
Expected<SigmfRecording> readSigmfRecording(const SigmfPaths &paths);

// Whether a recording can be played to `stream` as it is: the same value type (storage
// bits, signedness, byte order) and as many values per sample set. The error names both.
Expected<void> checkRecordingFitsStream(const SigmfRecording &recording,
                                        const proto::StreamInfo &stream);

// A warning when the recording's sample rate differs from the stream's (or one of them is
// not known); nullopt when they agree.
std::optional<std::string> sampleRateWarning(const SigmfRecording &recording,
                                             const proto::StreamInfo &stream);

} // namespace iiousb::tool
