// SigMF recordings (tools/src/Sigmf.h): datatypes from IIO scan formats, the .sigmf-meta
// the writer makes (parsed back with nlohmann-json), gaps, the reader for play, file names.
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "Sigmf.h"

using namespace iiousb;
using namespace iiousb::tool;
using nlohmann::json;

namespace {

proto::StreamInfo streamOf(std::vector<std::string> formats, unsigned sampleBytes,
                           std::uint64_t rate = 1000000)
{
    proto::StreamInfo s;
    s.index = 0;
    s.name = "rx0";
    s.iio = "iio-sim-adc";
    s.rate = rate;
    s.sampleBytes = sampleBytes;
    for (unsigned i = 0; i < formats.size(); ++i)
        s.channels.push_back({i, "voltage" + std::to_string(i), formats[i]});
    return s;
}

proto::StreamInfo s16Stream(unsigned channels, std::uint64_t rate = 1000000)
{
    return streamOf(std::vector<std::string>(channels, "le:s16/16>>0"), 2 * channels, rate);
}

bool contains(const std::string &text, std::string_view part)
{
    return text.find(part) != std::string::npos;
}

SystemTime timeOf(int year, int month, int day, int h, int m, int s, int us)
{
    std::tm t{};
    t.tm_year = year - 1900;
    t.tm_mon = month - 1;
    t.tm_mday = day;
    t.tm_hour = h;
    t.tm_min = m;
    t.tm_sec = s;
    return std::chrono::system_clock::from_time_t(timegm(&t)) + std::chrono::microseconds(us);
}

SigmfGlobal globalFor(std::string datatype, unsigned channels, std::uint64_t rate)
{
    SigmfGlobal g;
    g.datatype = std::move(datatype);
    g.numChannels = channels;
    g.sampleRate = rate;
    g.hw = "iiousb serial=0123 stream=rx0 iio=iio-sim-adc";
    g.description = "test";
    g.recorder = "iiousb 9.9.9";
    return g;
}

// A fresh directory, removed with everything in it at the end of the test.
class TempDir {
public:
    TempDir()
    {
        std::string pattern =
                (std::filesystem::temp_directory_path() / "iiousb-sigmf-XXXXXX").string();
        if (!mkdtemp(pattern.data()))
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string operator/(const std::string &name) const { return (path_ / name).string(); }
    std::vector<std::string> files() const
    {
        std::vector<std::string> out;
        for (const auto &e : std::filesystem::directory_iterator(path_))
            out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    std::filesystem::path path_;
};

void writeFile(const std::string &path, const std::string &text)
{
    std::ofstream(path, std::ios::binary) << text;
}

std::string readFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

} // namespace

// --- Datatypes ---------------------------------------------------------------------------

TEST(SigmfDatatype, RealAndComplex16)
{
    auto real = sigmfDatatype(s16Stream(4), false);
    ASSERT_TRUE(real) << real.error().message;
    EXPECT_EQ(real->name, "ri16_le");
    EXPECT_EQ(real->numChannels, 4u);
    EXPECT_EQ(real->componentBytes, 2u);
    EXPECT_FALSE(real->complex);
    EXPECT_EQ(real->iioFormat, "le:s16/16>>0");
    EXPECT_TRUE(real->storageNote.empty());

    auto iq = sigmfDatatype(s16Stream(4), true);
    ASSERT_TRUE(iq) << iq.error().message;
    EXPECT_EQ(iq->name, "ci16_le");
    EXPECT_EQ(iq->numChannels, 2u);
    EXPECT_TRUE(iq->complex);
}

TEST(SigmfDatatype, WidthsSignsAndByteOrders)
{
    struct Case {
        const char *format;
        unsigned bytes;
        bool complex;
        const char *name;
    };
    const Case cases[] = {
            {"le:u16/16>>0", 2, false, "ru16_le"}, {"be:s16/16>>0", 2, false, "ri16_be"},
            {"le:s32/32>>0", 4, false, "ri32_le"}, {"be:u32/32>>0", 4, true, "cu32_be"},
            {"le:s8/8>>0", 1, false, "ri8"},       {"be:u8/8>>0", 1, true, "cu8"},
    };
    for (const Case &c : cases) {
        auto t = sigmfDatatype(streamOf({c.format, c.format}, 2 * c.bytes), c.complex);
        ASSERT_TRUE(t) << c.format << ": " << t.error().message;
        EXPECT_EQ(t->name, c.name) << c.format;
        EXPECT_EQ(t->componentBytes, c.bytes) << c.format;
    }
}

TEST(SigmfDatatype, PartialWordsAreRecordedAsTheStorageTypeWithANote)
{
    auto shifted = sigmfDatatype(streamOf({"le:s12/16>>4", "le:s12/16>>4"}, 4), true);
    ASSERT_TRUE(shifted) << shifted.error().message;
    EXPECT_EQ(shifted->name, "ci16_le");
    EXPECT_TRUE(contains(shifted->storageNote, "12 signed bits from bit 4"))
            << shifted->storageNote;
    EXPECT_TRUE(contains(shifted->storageNote, "shift right by 4")) << shifted->storageNote;

    auto low = sigmfDatatype(streamOf({"le:u12/16>>0"}, 2), false);
    ASSERT_TRUE(low) << low.error().message;
    EXPECT_EQ(low->name, "ru16_le");
    EXPECT_TRUE(contains(low->storageNote, "not part of the sample")) << low->storageNote;

    // The description carries the note, the channels and the pairing.
    const std::string text =
            sigmfDescription(streamOf({"le:s12/16>>4", "le:s12/16>>4"}, 4), *shifted);
    EXPECT_TRUE(contains(text, "rx0 (IIO device iio-sim-adc)")) << text;
    EXPECT_TRUE(contains(text, "(voltage0, voltage1)")) << text;
    EXPECT_TRUE(contains(text, "shift right by 4")) << text;
}

TEST(SigmfDatatype, Errors)
{
    auto check = [](const proto::StreamInfo &s, bool complex, std::vector<std::string> words) {
        auto t = sigmfDatatype(s, complex);
        ASSERT_FALSE(t) << "accepted as " << t->name;
        for (const std::string &w : words)
            EXPECT_TRUE(contains(t.error().message, w)) << t.error().message << " / " << w;
    };
    check(streamOf({"le:s16/16>>0", "le:s12/16>>4"}, 4), false,
          {"voltage0 (le:s16/16>>0)", "voltage1 (le:s12/16>>4)", "one datatype"});
    check(s16Stream(3), true, {"3 channels", "even"});
    check(streamOf({"le:s64/64>>0"}, 8), false, {"64-bit"});
    check(streamOf({"le:s24/24>>0"}, 3), false, {"24-bit"});
    check(streamOf({"le:s16/16X2>>0"}, 4), false, {"repeats"});
    check(streamOf({}, 0), false, {"no channels"});
    check(streamOf({"le:s16/16>>0", "le:s16/16>>0"}, 8), false, {"8 bytes", "padding"});
    check(streamOf({"garbage"}, 2), false, {"garbage"});
}

TEST(SigmfDatatype, ParseNames)
{
    for (const char *name : {"ri16_le", "ci16_be", "cf32_le", "rf64_be", "ru32_le", "cu8", "ri8"}) {
        auto t = parseSigmfType(name);
        ASSERT_TRUE(t) << name;
        EXPECT_EQ(t->name(), name);
    }
    auto t = parseSigmfType("ci16_le");
    EXPECT_TRUE(t->complex);
    EXPECT_EQ(t->kind, 'i');
    EXPECT_EQ(t->bits, 16u);
    EXPECT_FALSE(t->bigEndian);
    EXPECT_EQ(parseSigmfType("cu8_le")->name(), "cu8"); // the schema lets bytes carry one
    for (const char *bad : {"", "ri16", "xi16_le", "ri24_le", "ri16_xx", "ri16_le_", "cf16_le"})
        EXPECT_FALSE(parseSigmfType(bad)) << bad;
}

// --- Writing -----------------------------------------------------------------------------

TEST(SigmfWriter, MetaRoundTrip)
{
    SigmfGlobal g = globalFor("ci16_le", 2, 1000000);
    g.description = "quote \" backslash \\ newline \n tab \t bad utf-8 \xff end";
    SigmfWriter w({"rec.sigmf-data", "rec.sigmf-meta"}, g);
    const SystemTime t0 = timeOf(2026, 12, 7, 1, 2, 3, 123456);
    w.addCapture(0, 0, t0);
    w.addAnnotation(10, 5, "hello", std::string("lbl"));

    const std::string text = w.metaText();
    const json meta = json::parse(text); // throws (fails the test) if not valid JSON
    ASSERT_TRUE(meta.is_object());
    EXPECT_EQ(meta.size(), 3u);
    EXPECT_EQ(text.find("\"global\""), text.find('"')); // global comes first
    const json &global = meta.at("global");
    EXPECT_EQ(global.at("core:datatype"), "ci16_le");
    EXPECT_EQ(global.at("core:version"), "1.2.5");
    EXPECT_EQ(global.at("core:num_channels"), 2);
    EXPECT_EQ(global.at("core:sample_rate"), 1000000);
    EXPECT_EQ(global.at("core:hw"), "iiousb serial=0123 stream=rx0 iio=iio-sim-adc");
    EXPECT_EQ(global.at("core:recorder"), "iiousb 9.9.9");
    const std::string description = global.at("core:description");
    EXPECT_TRUE(contains(description, "quote \" backslash \\ newline \n tab \t bad utf-8 "));
    EXPECT_TRUE(contains(description, "\xEF\xBF\xBD end")); // U+FFFD for the bad byte

    const json &captures = meta.at("captures");
    ASSERT_EQ(captures.size(), 1u);
    EXPECT_EQ(captures[0].at("core:sample_start"), 0);
    EXPECT_EQ(captures[0].at("core:global_index"), 0);
    EXPECT_EQ(captures[0].at("core:datetime"), "2026-12-07T01:02:03.123456Z");

    const json &annotations = meta.at("annotations");
    ASSERT_EQ(annotations.size(), 1u);
    EXPECT_EQ(annotations[0].at("core:sample_start"), 10);
    EXPECT_EQ(annotations[0].at("core:sample_count"), 5);
    EXPECT_EQ(annotations[0].at("core:comment"), "hello");
    EXPECT_EQ(annotations[0].at("core:label"), "lbl");

    // Every key of the three objects is a core: field (the spec forbids others without an
    // extension).
    for (const json *o : {&global, &captures[0], &annotations[0]})
        for (const auto &[key, value] : o->items())
            EXPECT_TRUE(key.starts_with("core:")) << key;
}

TEST(SigmfWriter, UnknownRateAndEmptyStringsAreLeftOut)
{
    SigmfGlobal g;
    g.datatype = "ri8";
    SigmfWriter w({"a.sigmf-data", "a.sigmf-meta"}, g);
    const json meta = json::parse(w.metaText());
    const json &global = meta.at("global");
    EXPECT_FALSE(global.contains("core:sample_rate"));
    EXPECT_FALSE(global.contains("core:hw"));
    EXPECT_FALSE(global.contains("core:description"));
    EXPECT_EQ(global.at("core:num_channels"), 1);
    EXPECT_TRUE(meta.at("captures").is_array());
    EXPECT_TRUE(meta.at("captures").empty());
    EXPECT_TRUE(meta.at("annotations").is_array());
}

TEST(SigmfWriter, SegmentsAreSortedAndOneCapturePerStart)
{
    SigmfWriter w({"a.sigmf-data", "a.sigmf-meta"}, globalFor("ri16_le", 1, 0));
    w.addCapture(300, 900);
    w.addCapture(0, 0);
    w.addCapture(100, 150);
    w.addCapture(100, 200); // replaces the one at 100
    w.addAnnotation(50, 1, "b");
    w.addAnnotation(20, 1, "a");
    w.addAnnotation(50, 1, "c");
    EXPECT_EQ(w.captureCount(), 3u);
    const json meta = json::parse(w.metaText());
    const json &c = meta.at("captures");
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(c[0].at("core:sample_start"), 0);
    EXPECT_EQ(c[1].at("core:sample_start"), 100);
    EXPECT_EQ(c[1].at("core:global_index"), 200);
    EXPECT_EQ(c[2].at("core:sample_start"), 300);
    EXPECT_FALSE(c[0].contains("core:datetime"));
    const json &a = meta.at("annotations");
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a[0].at("core:comment"), "a");
    EXPECT_EQ(a[1].at("core:comment"), "b"); // same start: the order they came in
    EXPECT_EQ(a[2].at("core:comment"), "c");
}

TEST(SigmfWriter, Datetime)
{
    EXPECT_EQ(sigmfDatetime(timeOf(2026, 12, 7, 1, 2, 3, 123456)), "2026-12-07T01:02:03.123456Z");
    EXPECT_EQ(sigmfDatetime(timeOf(2000, 2, 29, 23, 59, 59, 0)), "2000-02-29T23:59:59.000000Z");
    EXPECT_EQ(sigmfDatetime(SystemTime{} - std::chrono::microseconds(1)),
              "1969-12-31T23:59:59.999999Z");
}

TEST(SigmfWriter, NoteGap)
{
    SigmfWriter w({"a.sigmf-data", "a.sigmf-meta"}, globalFor("ci16_le", 1, 1000));
    const SystemTime t0 = timeOf(2026, 12, 7, 1, 2, 3, 0);
    w.addCapture(0, 0, t0);
    // 500 sample sets in the file, then 1500 lost: the next block is global sample 2000,
    // 2 s after sample 0 at 1 kHz.
    w.noteGap(500, 2000, 1500);
    // One more with the caller's time, and one lost sample set.
    w.noteGap(800, 2301, 1, timeOf(2030, 1, 1, 0, 0, 0, 5));

    const json meta = json::parse(w.metaText());
    const json &c = meta.at("captures");
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(c[1].at("core:sample_start"), 500);
    EXPECT_EQ(c[1].at("core:global_index"), 2000);
    EXPECT_EQ(c[1].at("core:datetime"), "2026-12-07T01:02:05.000000Z");
    EXPECT_EQ(c[2].at("core:sample_start"), 800);
    EXPECT_EQ(c[2].at("core:global_index"), 2301);
    EXPECT_EQ(c[2].at("core:datetime"), "2030-01-01T00:00:00.000005Z");
    const json &a = meta.at("annotations");
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].at("core:sample_start"), 500);
    EXPECT_EQ(a[0].at("core:sample_count"), 1);
    EXPECT_EQ(a[0].at("core:label"), "overrun");
    EXPECT_EQ(a[0].at("core:comment"), "overrun: 1500 sample sets lost before this sample");
    EXPECT_EQ(a[1].at("core:comment"), "overrun: 1 sample set lost before this sample");

    // Without a sample rate (or a first time) there is no time to derive.
    SigmfWriter noRate({"b.sigmf-data", "b.sigmf-meta"}, globalFor("ri16_le", 1, 0));
    noRate.addCapture(0, 0, t0);
    noRate.noteGap(10, 20, 10);
    const json m2 = json::parse(noRate.metaText());
    EXPECT_FALSE(m2.at("captures")[1].contains("core:datetime"));
    EXPECT_EQ(m2.at("captures")[1].at("core:global_index"), 20);
}

TEST(SigmfWriter, FinishWritesTheMetaAtomically)
{
    TempDir dir;
    const SigmfPaths paths{dir / "rec.sigmf-data", dir / "rec.sigmf-meta"};
    writeFile(paths.meta, "old"); // an earlier recording's
    SigmfWriter w(paths, globalFor("ri16_le", 2, 48000));
    w.addCapture(0, 0);
    ASSERT_TRUE(w.finish());
    EXPECT_EQ(readFile(paths.meta), w.metaText());
    EXPECT_EQ(dir.files(), std::vector<std::string>{"rec.sigmf-meta"}); // no .tmp left

    SigmfWriter nowhere({dir / "no/such/dir.sigmf-data", dir / "no/such/dir.sigmf-meta"},
                        globalFor("ri16_le", 2, 48000));
    auto r = nowhere.finish();
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "dir.sigmf-meta.tmp")) << r.error().message;
}

// --- Reading -----------------------------------------------------------------------------

TEST(SigmfReader, ReadsWhatTheWriterWrites)
{
    SigmfWriter w({"x.sigmf-data", "x.sigmf-meta"}, globalFor("ci16_le", 2, 2500000));
    w.addCapture(0, 0, timeOf(2026, 1, 2, 3, 4, 5, 6));
    w.noteGap(10, 20, 10);
    auto rec = parseSigmfMeta(w.metaText(), "x.sigmf-meta");
    ASSERT_TRUE(rec) << rec.error().message;
    EXPECT_EQ(rec->datatype, "ci16_le");
    EXPECT_TRUE(rec->type.complex);
    EXPECT_EQ(rec->numChannels, 2u);
    ASSERT_TRUE(rec->sampleRate);
    EXPECT_DOUBLE_EQ(*rec->sampleRate, 2500000.0);
    EXPECT_EQ(rec->version, "1.2.5");
    EXPECT_EQ(rec->hw, "iiousb serial=0123 stream=rx0 iio=iio-sim-adc");
    EXPECT_EQ(rec->recorder, "iiousb 9.9.9");
    EXPECT_EQ(rec->captures, 2u);
    EXPECT_EQ(rec->annotations, 1u);
}

TEST(SigmfReader, AcceptsOtherRecorders)
{
    // Another program's meta: float rate, no num_channels (1), an extension field.
    auto rec = parseSigmfMeta(R"({"global": {"core:datatype": "ri16_le", "core:version": "1.0.0",
        "core:sample_rate": 48000.0, "antenna:gain": 3},
        "captures": [{"core:sample_start": 0, "core:frequency": 915e6}], "annotations": []})",
                              "y.sigmf-meta");
    ASSERT_TRUE(rec) << rec.error().message;
    EXPECT_EQ(rec->numChannels, 1u);
    EXPECT_DOUBLE_EQ(*rec->sampleRate, 48000.0);
    EXPECT_TRUE(rec->hw.empty());
}

TEST(SigmfReader, RejectsWhatItCannotPlay)
{
    struct Case {
        const char *text;
        const char *why;
    };
    const Case cases[] = {
            {"{", "not valid JSON"},
            {"[]", "not a JSON object"},
            {R"({"captures": []})", "no \"global\""},
            {R"({"global": {"core:version": "1.2.5"}})", "core:datatype is missing"},
            {R"({"global": {"core:datatype": 16}})", "core:datatype is not a string"},
            {R"({"global": {"core:datatype": "ci12_le"}})", "not a SigMF datatype"},
            {R"({"global": {"core:datatype": "ri16_le", "core:num_channels": 0}})", "num_channels"},
            {R"({"global": {"core:datatype": "ri16_le", "core:num_channels": "2"}})",
             "num_channels"},
            {R"({"global": {"core:datatype": "ri16_le", "core:sample_rate": -1}})", "sample_rate"},
            {R"({"global": {"core:datatype": "ri16_le", "core:dataset": "x.bin"}})",
             "Non-Conforming"},
            {R"({"global": {"core:datatype": "ri16_le", "core:trailing_bytes": 4}})",
             "Non-Conforming"},
            {R"({"global": {"core:datatype": "ri16_le"},
                 "captures": [{"core:sample_start": 0, "core:header_bytes": 16}]})",
             "Non-Conforming"},
            {R"({"global": {"core:datatype": "ri16_le", "core:metadata_only": true}})",
             "metadata-only"},
            {R"({"global": {"core:datatype": "ri16_le"}, "captures": {}})", "not an array"},
            {R"({"global": {"core:datatype": "ri16_le", "core:hw": 5}})", "core:hw"},
    };
    for (const Case &c : cases) {
        auto rec = parseSigmfMeta(c.text, "bad.sigmf-meta");
        ASSERT_FALSE(rec) << c.text;
        EXPECT_TRUE(contains(rec.error().message, c.why)) << rec.error().message;
        EXPECT_TRUE(contains(rec.error().message, "bad.sigmf-meta")) << rec.error().message;
    }
}

TEST(SigmfReader, ReadNeedsTheDataFile)
{
    TempDir dir;
    const SigmfPaths paths{dir / "r.sigmf-data", dir / "r.sigmf-meta"};
    SigmfWriter w(paths, globalFor("ri16_le", 2, 1000));
    ASSERT_TRUE(w.finish());
    auto missing = readSigmfRecording(paths);
    ASSERT_FALSE(missing);
    EXPECT_TRUE(contains(missing.error().message, "r.sigmf-data")) << missing.error().message;
    writeFile(paths.data, std::string(8, '\0'));
    auto rec = readSigmfRecording(paths);
    ASSERT_TRUE(rec) << rec.error().message;
    EXPECT_EQ(rec->paths.data, paths.data);
    EXPECT_EQ(rec->numChannels, 2u);
    EXPECT_FALSE(readSigmfRecording({dir / "none.sigmf-data", dir / "none.sigmf-meta"}));
}

TEST(SigmfReader, RecordingMustFitTheStream)
{
    auto recording = [](const char *datatype, unsigned channels) {
        SigmfRecording r;
        r.paths = {"r.sigmf-data", "r.sigmf-meta"};
        r.datatype = datatype;
        r.type = *parseSigmfType(datatype);
        r.numChannels = channels;
        return r;
    };
    const proto::StreamInfo tx = s16Stream(2);
    EXPECT_TRUE(checkRecordingFitsStream(recording("ci16_le", 1), tx));
    EXPECT_TRUE(checkRecordingFitsStream(recording("ri16_le", 2), tx));

    auto wrongCount = checkRecordingFitsStream(recording("ci16_le", 2), tx);
    ASSERT_FALSE(wrongCount);
    for (const char *w : {"ci16_le x 2 channels", "4 values", "2 channels of le:s16/16>>0",
                          "ri16_le x 2 channels, or ci16_le x 1 channel", "r.sigmf-meta", "rx0"})
        EXPECT_TRUE(contains(wrongCount.error().message, w)) << wrongCount.error().message;
    EXPECT_FALSE(checkRecordingFitsStream(recording("ri16_be", 2), tx));
    EXPECT_FALSE(checkRecordingFitsStream(recording("ru16_le", 2), tx));
    EXPECT_FALSE(checkRecordingFitsStream(recording("cf32_le", 1), tx));
    EXPECT_FALSE(checkRecordingFitsStream(recording("ri16_le", 1), tx));

    // 8-bit values have no byte order.
    const proto::StreamInfo bytes = streamOf({"be:u8/8>>0", "be:u8/8>>0"}, 2);
    EXPECT_TRUE(checkRecordingFitsStream(recording("cu8", 1), bytes));

    // A stream SigMF cannot describe cannot take any recording.
    auto mixed = checkRecordingFitsStream(recording("ri16_le", 2),
                                          streamOf({"le:s16/16>>0", "le:u16/16>>0"}, 4));
    ASSERT_FALSE(mixed);
    EXPECT_TRUE(contains(mixed.error().message, "cannot play")) << mixed.error().message;
}

TEST(SigmfReader, SampleRateWarning)
{
    SigmfRecording r;
    r.sampleRate = 1000000.0;
    EXPECT_FALSE(sampleRateWarning(r, s16Stream(2, 1000000)));
    auto differs = sampleRateWarning(r, s16Stream(2, 2000000));
    ASSERT_TRUE(differs);
    EXPECT_TRUE(contains(*differs, "1000000 Hz")) << *differs;
    EXPECT_TRUE(contains(*differs, "2000000 Hz")) << *differs;
    EXPECT_TRUE(sampleRateWarning(r, s16Stream(2, 0)));
    r.sampleRate.reset();
    EXPECT_TRUE(sampleRateWarning(r, s16Stream(2, 1000000)));
    EXPECT_FALSE(sampleRateWarning(r, s16Stream(2, 0)));
}

// --- File names --------------------------------------------------------------------------

TEST(SigmfPaths, NameRules)
{
    for (const char *name : {"rec", "rec.sigmf-data", "rec.sigmf-meta"}) {
        auto p = sigmfPaths(name);
        ASSERT_TRUE(p) << name;
        EXPECT_EQ(p->data, "rec.sigmf-data") << name;
        EXPECT_EQ(p->meta, "rec.sigmf-meta") << name;
    }
    EXPECT_EQ(sigmfPaths("dir/a.b.sigmf-data")->meta, "dir/a.b.sigmf-meta");
    EXPECT_EQ(sigmfPaths("rec.bin")->data, "rec.bin.sigmf-data");
    EXPECT_TRUE(hasSigmfSuffix("x.sigmf-meta"));
    EXPECT_FALSE(hasSigmfSuffix("x.sigmf"));
    EXPECT_FALSE(hasSigmfSuffix("x.sigmf-data.bin"));
    for (const char *bad : {"-", ".sigmf-data", "dir/.sigmf-meta"})
        EXPECT_FALSE(sigmfPaths(bad)) << bad;
}

TEST(SigmfPaths, PlayInput)
{
    TempDir dir;
    writeFile(dir / "rec.sigmf-meta", "{}");
    writeFile(dir / "rec.sigmf-data", "");
    writeFile(dir / "orphan.sigmf-data", "");
    writeFile(dir / "raw", "");
    writeFile(dir / "raw.sigmf-meta", "{}");

    auto expectSigmf = [&](const std::string &input, FileFormat format) {
        auto r = resolvePlayInput(input, format);
        ASSERT_TRUE(r) << input << ": " << r.error().message;
        ASSERT_TRUE(r->sigmf) << input;
        EXPECT_EQ(r->path, dir / "rec.sigmf-data");
        EXPECT_EQ(r->sigmf->meta, dir / "rec.sigmf-meta");
    };
    expectSigmf(dir / "rec.sigmf-data", FileFormat::Auto);
    expectSigmf(dir / "rec.sigmf-meta", FileFormat::Auto);
    expectSigmf(dir / "rec", FileFormat::Auto); // no file 'rec', but rec.sigmf-meta
    expectSigmf(dir / "rec", FileFormat::Sigmf);

    // A file named exactly as given is raw; so is anything with --format raw.
    auto raw = resolvePlayInput(dir / "raw", FileFormat::Auto);
    ASSERT_TRUE(raw);
    EXPECT_FALSE(raw->sigmf);
    EXPECT_EQ(raw->path, dir / "raw");
    auto forced = resolvePlayInput(dir / "rec.sigmf-data", FileFormat::Raw);
    ASSERT_TRUE(forced);
    EXPECT_FALSE(forced->sigmf);
    EXPECT_EQ(forced->path, dir / "rec.sigmf-data");
    auto missing = resolvePlayInput(dir / "nothing", FileFormat::Auto);
    ASSERT_TRUE(missing); // raw: opening it says it does not exist
    EXPECT_FALSE(missing->sigmf);
    auto stdinRaw = resolvePlayInput("-", FileFormat::Auto);
    ASSERT_TRUE(stdinRaw);
    EXPECT_FALSE(stdinRaw->sigmf);

    // A .sigmf-data without its meta, and stdin as a recording, are errors.
    auto orphan = resolvePlayInput(dir / "orphan.sigmf-data", FileFormat::Auto);
    ASSERT_FALSE(orphan);
    EXPECT_TRUE(contains(orphan.error().message, "orphan.sigmf-meta does not exist"))
            << orphan.error().message;
    EXPECT_TRUE(contains(orphan.error().message, "--format raw")) << orphan.error().message;
    EXPECT_FALSE(resolvePlayInput(dir / "nothing", FileFormat::Sigmf));
    EXPECT_FALSE(resolvePlayInput("-", FileFormat::Sigmf));
}
