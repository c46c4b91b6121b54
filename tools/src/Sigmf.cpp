#include "Sigmf.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

namespace iiousb::tool {

namespace {

using OrderedJson = nlohmann::ordered_json;
using Json = nlohmann::json;

std::string streamText(const proto::StreamInfo &stream)
{
    return stream.name.empty() ? "stream " + std::to_string(stream.index)
                               : "stream '" + stream.name + "'";
}

bool sameFormat(const proto::ScanFormat &a, const proto::ScanFormat &b)
{
    return a.bigEndian == b.bigEndian && a.isSigned == b.isSigned && a.bits == b.bits &&
           a.storageBits == b.storageBits && a.shift == b.shift && a.repeat == b.repeat;
}

std::string plural(std::uint64_t n, const char *one, const char *many)
{
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

bool exists(const std::string &path)
{
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// What a stream's channels can be recorded as, for the messages: "ri16_le x 2 channels, or
// ci16_le x 1".
std::string streamTypesText(const SigmfDatatype &real)
{
    std::string text = real.name + " x " + plural(real.numChannels, "channel", "channels");
    if (real.numChannels % 2 == 0) {
        SigmfType complex = *parseSigmfType(real.name);
        complex.complex = true;
        text += ", or " + complex.name() + " x " +
                plural(real.numChannels / 2, "channel", "channels");
    }
    return text;
}

} // namespace

// --- Datatype ----------------------------------------------------------------------------

std::string SigmfType::name() const
{
    std::string text;
    text += complex ? 'c' : 'r';
    text += kind;
    text += std::to_string(bits);
    if (bits != 8)
        text += bigEndian ? "_be" : "_le";
    return text;
}

Expected<SigmfType> parseSigmfType(std::string_view text)
{
    // dataset-format = (real / complex) ((type endianness) / byte), spec v1.2.5 "SigMF
    // Dataset Format"; the schema's pattern also lets an endianness follow a byte type.
    auto bad = [&] {
        return Error{"'" + std::string(text) +
                     "' is not a SigMF datatype (like ri16_le, ci16_le, cf32_le, ru8)"};
    };
    SigmfType type;
    if (text.size() < 3 || (text[0] != 'c' && text[0] != 'r'))
        return bad();
    type.complex = text[0] == 'c';
    text.remove_prefix(1);
    static constexpr std::string_view kTypes[] = {"f32", "f64", "i32", "i16",
                                                  "u32", "u16", "i8",  "u8"};
    const std::string_view *match = nullptr;
    for (const std::string_view &t : kTypes)
        if (text.starts_with(t))
            match = &t;
    if (!match)
        return bad();
    type.kind = (*match)[0];
    type.bits = static_cast<unsigned>(std::stoul(std::string(match->substr(1))));
    text.remove_prefix(match->size());
    if (text == "_le" || text == "_be")
        type.bigEndian = text == "_be";
    else if (!text.empty() || type.bits != 8)
        return bad();
    return type;
}

Expected<SigmfDatatype> sigmfDatatype(const proto::StreamInfo &stream, bool complex)
{
    const std::string label = streamText(stream);
    if (stream.channels.empty())
        return Error{label + " has no channels enabled: there is nothing to record as SigMF"};
    const proto::ChannelInfo &first = stream.channels.front();
    const auto format = proto::parseScanFormat(first.format);
    if (!format)
        return Error{label + ": channel " + first.id + " has a scan format iiousb cannot read ('" +
                     first.format + "')"};
    for (const proto::ChannelInfo &c : stream.channels) {
        const auto f = proto::parseScanFormat(c.format);
        if (!f || !sameFormat(*f, *format))
            return Error{label + ": channels " + first.id + " (" + first.format + ") and " + c.id +
                         " (" + c.format +
                         ") have different formats, and a SigMF recording has one datatype for "
                         "all its channels"};
    }
    if (format->repeat != 1)
        return Error{label + ": channel format " + first.format +
                     " repeats values within a channel, which SigMF cannot describe"};
    if (format->storageBits != 8 && format->storageBits != 16 && format->storageBits != 32)
        return Error{label + ": channel format " + first.format + " has " +
                     std::to_string(format->storageBits) +
                     "-bit storage; SigMF's integer datatypes are 8, 16 and 32 bits"};
    const unsigned bytes = format->storageBits / 8;
    const auto channels = static_cast<unsigned>(stream.channels.size());
    if (stream.sampleBytes != channels * bytes)
        return Error{label + ": a sample set is " + std::to_string(stream.sampleBytes) +
                     " bytes, not " + std::to_string(channels) + " x " + std::to_string(bytes) +
                     " (padding between channels), which SigMF cannot describe"};
    if (complex && channels % 2 != 0)
        return Error{label + " has " + plural(channels, "channel", "channels") +
                     ": --complex pairs channels as (I, Q) and needs an even number of them"};

    SigmfType type;
    type.complex = complex;
    type.kind = format->isSigned ? 'i' : 'u';
    type.bits = format->storageBits;
    type.bigEndian = format->bigEndian;

    SigmfDatatype out;
    out.name = type.name();
    out.complex = complex;
    out.numChannels = complex ? channels / 2 : channels;
    out.componentBytes = bytes;
    out.iioFormat = first.format;
    if (format->bits < format->storageBits || format->shift != 0) {
        // The raw words are recorded as the device delivers them; SigMF has no datatype for
        // an n-bit value at a bit offset in a wider word.
        out.storageNote = "Samples are the raw " + std::to_string(format->storageBits) +
                          "-bit IIO storage words (" + first.format + "): the value is " +
                          std::to_string(format->bits) + " " +
                          (format->isSigned ? "signed" : "unsigned") + " bits from bit " +
                          std::to_string(format->shift) + " of each word";
        if (format->shift != 0)
            out.storageNote += " (shift right by " + std::to_string(format->shift) + ")";
        if (format->bits + format->shift < format->storageBits)
            out.storageNote += "; the bits above it are not part of the sample";
        out.storageNote += ".";
    }
    return out;
}

std::string sigmfDescription(const proto::StreamInfo &stream, const SigmfDatatype &type)
{
    std::string text =
            "iiousb capture of " + (stream.name.empty() ? streamText(stream) : stream.name);
    if (!stream.iio.empty())
        text += " (IIO device " + stream.iio + ")";
    text += ": " + plural(stream.channels.size(), "channel", "channels");
    for (std::size_t i = 0; i < stream.channels.size(); ++i)
        text += (i ? ", " : " ") + stream.channels[i].id;
    text += " (" + type.iioFormat + ")";
    if (type.complex) {
        text += " as " + plural(type.numChannels, "complex channel", "complex channels") +
                " (I, Q):";
        for (std::size_t i = 0; i + 1 < stream.channels.size(); i += 2)
            text += (i ? ", (" : " (") + stream.channels[i].id + ", " + stream.channels[i + 1].id +
                    ")";
    }
    text += ".";
    if (!type.storageNote.empty())
        text += " " + type.storageNote;
    return text;
}

std::string sigmfDatetime(SystemTime time)
{
    using namespace std::chrono;
    const auto us = duration_cast<microseconds>(time.time_since_epoch()).count();
    auto secs = us / 1000000;
    auto frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        --secs;
    }
    const auto t = static_cast<std::time_t>(secs);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(frac));
    return buf;
}

// --- File names --------------------------------------------------------------------------

bool hasSigmfSuffix(std::string_view name)
{
    return name.ends_with(kSigmfDataSuffix) || name.ends_with(kSigmfMetaSuffix);
}

Expected<SigmfPaths> sigmfPaths(std::string_view name)
{
    if (name == "-")
        return Error{"a SigMF recording is two files (NAME.sigmf-data and NAME.sigmf-meta), "
                     "not stdin or stdout: give a file NAME"};
    std::string_view base = name;
    if (hasSigmfSuffix(base))
        base.remove_suffix(kSigmfDataSuffix.size()); // both suffixes have the same length
    if (base.empty() || base.ends_with('/'))
        return Error{"'" + std::string(name) + "' names no SigMF recording (NAME.sigmf-data)"};
    return SigmfPaths{std::string(base) + std::string(kSigmfDataSuffix),
                      std::string(base) + std::string(kSigmfMetaSuffix)};
}

Expected<PlayInput> resolvePlayInput(const std::string &input, FileFormat format)
{
    if (input == "-") {
        if (format == FileFormat::Sigmf)
            return sigmfPaths(input).error();
        return PlayInput{input, std::nullopt};
    }
    if (format == FileFormat::Raw)
        return PlayInput{input, std::nullopt};
    auto recording = [&]() -> Expected<PlayInput> {
        auto paths = sigmfPaths(input);
        if (!paths)
            return paths.error();
        if (!exists(paths->meta))
            return Error{"no SigMF recording " + paths->data + ": " + paths->meta +
                         " does not exist" +
                         (exists(paths->data)
                                  ? " (--format raw plays " + paths->data + " as raw samples)"
                                  : std::string())};
        return PlayInput{paths->data, *paths};
    };
    if (format == FileFormat::Sigmf || hasSigmfSuffix(input))
        return recording();
    if (!exists(input) && exists(input + std::string(kSigmfMetaSuffix)))
        return recording();
    return PlayInput{input, std::nullopt};
}

// --- Writing -----------------------------------------------------------------------------

SigmfWriter::SigmfWriter(SigmfPaths paths, SigmfGlobal global)
    : paths_(std::move(paths)), global_(std::move(global))
{}

void SigmfWriter::addCapture(std::uint64_t fileSample, std::uint64_t globalIndex,
                             std::optional<SystemTime> datetime)
{
    auto it = std::lower_bound(
            captures_.begin(), captures_.end(), fileSample,
            [](const Capture &c, std::uint64_t sample) { return c.fileSample < sample; });
    Capture capture{fileSample, globalIndex, datetime};
    if (it != captures_.end() && it->fileSample == fileSample)
        *it = capture;
    else
        captures_.insert(it, capture);
}

void SigmfWriter::addAnnotation(std::uint64_t fileSample, std::uint64_t count, std::string comment,
                                std::optional<std::string> label)
{
    annotations_.push_back(Annotation{fileSample, count, std::move(comment), std::move(label)});
}

void SigmfWriter::noteGap(std::uint64_t fileSample, std::uint64_t globalIndex,
                          std::uint64_t lostSampleSets, std::optional<SystemTime> datetime)
{
    if (!datetime && global_.sampleRate > 0) {
        // The device's sample counter runs at the sample rate: the first segment with a
        // time gives the time of any later global index.
        auto base = std::find_if(captures_.begin(), captures_.end(),
                                 [](const Capture &c) { return c.datetime.has_value(); });
        if (base != captures_.end() && base->fileSample < fileSample) {
            const long double delta = static_cast<long double>(globalIndex) -
                                      static_cast<long double>(base->globalIndex);
            const long double ns = delta * 1e9L / static_cast<long double>(global_.sampleRate);
            datetime = *base->datetime + std::chrono::duration_cast<SystemTime::duration>(
                                                 std::chrono::nanoseconds(std::llroundl(ns)));
        }
    }
    addCapture(fileSample, globalIndex, datetime);
    addAnnotation(fileSample, 1,
                  "overrun: " + std::to_string(lostSampleSets) +
                          (lostSampleSets == 1 ? " sample set" : " sample sets") +
                          " lost before this sample",
                  "overrun");
}

std::string SigmfWriter::metaText() const
{
    OrderedJson meta;
    OrderedJson &global = meta["global"];
    global["core:datatype"] = global_.datatype;
    global["core:version"] = std::string(kSigmfVersion);
    global["core:num_channels"] = global_.numChannels;
    if (global_.sampleRate > 0)
        global["core:sample_rate"] = global_.sampleRate;
    if (!global_.hw.empty())
        global["core:hw"] = global_.hw;
    if (!global_.description.empty())
        global["core:description"] = global_.description;
    if (!global_.recorder.empty())
        global["core:recorder"] = global_.recorder;

    OrderedJson captures = OrderedJson::array();
    for (const Capture &c : captures_) {
        OrderedJson segment;
        segment["core:sample_start"] = c.fileSample;
        segment["core:global_index"] = c.globalIndex;
        if (c.datetime)
            segment["core:datetime"] = sigmfDatetime(*c.datetime);
        captures.push_back(std::move(segment));
    }
    meta["captures"] = std::move(captures);

    std::vector<const Annotation *> sorted;
    sorted.reserve(annotations_.size());
    for (const Annotation &a : annotations_)
        sorted.push_back(&a);
    std::stable_sort(sorted.begin(), sorted.end(), [](const Annotation *a, const Annotation *b) {
        return a->fileSample < b->fileSample;
    });
    OrderedJson annotations = OrderedJson::array();
    for (const Annotation *a : sorted) {
        OrderedJson segment;
        segment["core:sample_start"] = a->fileSample;
        segment["core:sample_count"] = a->count;
        if (a->label)
            segment["core:label"] = *a->label;
        segment["core:comment"] = a->comment;
        annotations.push_back(std::move(segment));
    }
    meta["annotations"] = std::move(annotations);

    // Strings from the device (serial, names) may not be UTF-8: replace what is not.
    return meta.dump(4, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

Expected<void> SigmfWriter::finish() const
{
    const std::string text = metaText();
    const std::string tmp = paths_.meta + ".tmp";
    auto failed = [&](const std::string &what) {
        Error error{what + " " + tmp + ": " + std::strerror(errno)};
        ::unlink(tmp.c_str());
        return error;
    };
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return Error{"cannot create " + tmp + ": " + std::strerror(errno)};
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t r = ::write(fd, text.data() + done, text.size() - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ::close(fd);
            return failed("cannot write");
        }
        done += static_cast<std::size_t>(r);
    }
    if (::fsync(fd) != 0 && errno != EINVAL) {
        ::close(fd);
        return failed("cannot flush");
    }
    if (::close(fd) != 0)
        return failed("cannot close");
    if (::rename(tmp.c_str(), paths_.meta.c_str()) != 0) {
        Error error{"cannot rename " + tmp + " to " + paths_.meta + ": " + std::strerror(errno)};
        ::unlink(tmp.c_str());
        return error;
    }
    return {};
}

// --- Reading -----------------------------------------------------------------------------

Expected<SigmfRecording> parseSigmfMeta(std::string_view text, const std::string &name)
{
    Json doc;
    try {
        doc = Json::parse(text);
    } catch (const Json::exception &e) {
        return Error{name + ": not valid JSON: " + e.what()};
    }
    if (!doc.is_object())
        return Error{name + ": not a SigMF meta file (the top level is not a JSON object)"};
    const auto global = doc.find("global");
    if (global == doc.end() || !global->is_object())
        return Error{name + ": not a SigMF meta file (no \"global\" object)"};
    auto field = [&](const char *key) -> const Json * {
        auto it = global->find(key);
        return it == global->end() ? nullptr : &*it;
    };
    auto wrongType = [&](const char *key, const char *what) {
        return Error{name + ": global " + key + " is not " + what};
    };
    auto optionalString = [&](const char *key, std::string &out) -> Expected<void> {
        if (const Json *v = field(key)) {
            if (!v->is_string())
                return wrongType(key, "a string");
            out = v->get<std::string>();
        }
        return {};
    };

    SigmfRecording rec;
    const Json *datatype = field("core:datatype");
    if (!datatype)
        return Error{name + ": global core:datatype is missing"};
    if (!datatype->is_string())
        return wrongType("core:datatype", "a string");
    rec.datatype = datatype->get<std::string>();
    auto type = parseSigmfType(rec.datatype);
    if (!type)
        return Error{name + ": core:datatype " + type.error().message};
    rec.type = *type;

    if (const Json *v = field("core:num_channels")) {
        if (!v->is_number_integer() || v->get<std::int64_t>() < 1 ||
            v->get<std::int64_t>() > std::numeric_limits<unsigned>::max())
            return wrongType("core:num_channels", "a positive integer");
        rec.numChannels = v->get<unsigned>();
    }
    if (const Json *v = field("core:sample_rate")) {
        if (!v->is_number() || !(v->get<double>() > 0))
            return wrongType("core:sample_rate", "a positive number");
        rec.sampleRate = v->get<double>();
    }
    const std::pair<const char *, std::string *> strings[] = {
            {"core:version", &rec.version},
            {"core:hw", &rec.hw},
            {"core:description", &rec.description},
            {"core:recorder", &rec.recorder}};
    for (const auto &[key, out] : strings)
        if (auto r = optionalString(key, *out); !r)
            return r.error();

    // What a player of conforming datasets cannot honour.
    if (field("core:dataset"))
        return Error{name + ": a Non-Conforming Dataset (global core:dataset), which iiousb "
                            "cannot play"};
    if (const Json *v = field("core:trailing_bytes"); v && !(v->is_number() && *v == 0))
        return Error{name + ": a Non-Conforming Dataset (global core:trailing_bytes), which "
                            "iiousb cannot play"};
    if (const Json *v = field("core:metadata_only"); v && v->is_boolean() && v->get<bool>())
        return Error{name + ": a metadata-only file (core:metadata_only), it has no samples"};

    const std::pair<const char *, std::size_t *> arrays[] = {{"captures", &rec.captures},
                                                             {"annotations", &rec.annotations}};
    for (const auto &[key, count] : arrays) {
        auto it = doc.find(key);
        if (it == doc.end())
            continue;
        if (!it->is_array())
            return Error{name + ": \"" + key + "\" is not an array"};
        *count = it->size();
    }
    if (auto it = doc.find("captures"); it != doc.end()) {
        for (const Json &c : *it) {
            if (!c.is_object())
                return Error{name + ": a capture segment is not a JSON object"};
            auto hb = c.find("core:header_bytes");
            if (hb != c.end() && !(hb->is_number() && *hb == 0))
                return Error{name + ": a Non-Conforming Dataset (core:header_bytes in a "
                                    "capture segment), which iiousb cannot play"};
        }
    }
    return rec;
}

Expected<SigmfRecording> readSigmfRecording(const SigmfPaths &paths)
{
    std::ifstream in(paths.meta, std::ios::binary);
    if (!in)
        return Error{"cannot open " + paths.meta + ": " + std::strerror(errno)};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        return Error{"cannot read " + paths.meta};
    auto rec = parseSigmfMeta(text.str(), paths.meta);
    if (!rec)
        return rec.error();
    rec->paths = paths;
    struct stat st {};
    if (::stat(paths.data.c_str(), &st) != 0)
        return Error{"SigMF recording " + paths.meta + " has no data file " + paths.data + ": " +
                     std::strerror(errno)};
    return rec;
}

Expected<void> checkRecordingFitsStream(const SigmfRecording &recording,
                                        const proto::StreamInfo &stream)
{
    const std::string label = streamText(stream);
    auto streamType = sigmfDatatype(stream, false);
    if (!streamType)
        return Error{"cannot play a SigMF recording to " + label + ": " +
                     streamType.error().message};
    const SigmfType want = *parseSigmfType(streamType->name);
    const SigmfType &have = recording.type;
    const std::uint64_t values = std::uint64_t{recording.numChannels} * (have.complex ? 2u : 1u);
    const bool sameValues = have.kind == want.kind && have.bits == want.bits &&
                            (have.bits == 8 || have.bigEndian == want.bigEndian);
    if (sameValues && values == stream.channels.size())
        return {};
    return Error{"SigMF recording " + recording.paths.meta + " is " + recording.datatype + " x " +
                 plural(recording.numChannels, "channel", "channels") + " (" +
                 plural(values, "value", "values") + " per sample), but " + label + " takes " +
                 plural(stream.channels.size(), "channel", "channels") + " of " +
                 streamType->iioFormat + " (" + streamTypesText(*streamType) + ")"};
}

std::optional<std::string> sampleRateWarning(const SigmfRecording &recording,
                                             const proto::StreamInfo &stream)
{
    const std::string label = streamText(stream);
    auto hz = [](double rate) {
        char buf[48];
        std::snprintf(buf, sizeof(buf), "%.10g Hz", rate);
        return std::string(buf);
    };
    if (!recording.sampleRate && stream.rate == 0)
        return std::nullopt;
    if (!recording.sampleRate)
        return "the recording has no core:sample_rate; " + label + " plays at " +
               hz(static_cast<double>(stream.rate));
    if (stream.rate == 0)
        return "the recording was made at " + hz(*recording.sampleRate) + "; " + label +
               " reports no sampling frequency, so the rate it plays at is not known";
    const double streamRate = static_cast<double>(stream.rate);
    if (std::fabs(*recording.sampleRate - streamRate) <= 1e-9 * streamRate)
        return std::nullopt;
    return "the recording was made at " + hz(*recording.sampleRate) + " but " + label +
           " plays at " + hz(streamRate);
}

} // namespace iiousb::tool
