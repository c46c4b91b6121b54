#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "Options.h"

using namespace iiousb::tool;

namespace {

Expected<Options> parse(std::vector<std::string_view> args)
{
    return parseOptions(args);
}

} // namespace

TEST(Options, NoCommandIsAnError)
{
    auto r = parse({});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("no command"), std::string::npos);
}

TEST(Options, HelpAndVersionWinAnywhere)
{
    EXPECT_EQ(parse({"--help"})->command, Command::Help);
    EXPECT_EQ(parse({"capture", "-h"})->command, Command::Help);
    EXPECT_EQ(parse({"-V"})->command, Command::Version);
    EXPECT_EQ(parse({"help"})->command, Command::Help);
}

TEST(Options, ListInfoStats)
{
    EXPECT_EQ(parse({"list"})->command, Command::List);
    auto info = parse({"info", "--json", "-d", "0001"});
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->command, Command::Info);
    EXPECT_TRUE(info->json);
    EXPECT_EQ(info->serial, "0001");

    auto stats = parse({"-d0002", "stats", "rx0"});
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->command, Command::Stats);
    EXPECT_EQ(stats->stream, "rx0");
    EXPECT_EQ(stats->serial, "0002");
    EXPECT_EQ(parse({"stats"})->stream, "");

    EXPECT_FALSE(parse({"info", "extra"}));
    EXPECT_FALSE(parse({"stats", "a", "b"}));
}

TEST(Options, CaptureDefaults)
{
    auto r = parse({"capture", "rx0"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->command, Command::Capture);
    EXPECT_EQ(r->stream, "rx0");
    EXPECT_EQ(r->output, "-");
    EXPECT_FALSE(r->count);
    EXPECT_EQ(r->verify, VerifyMode::None);
    EXPECT_EQ(r->transfers, 16u);
    EXPECT_EQ(r->transferSize, 256u * 1024);
    EXPECT_TRUE(r->devMem);
    EXPECT_EQ(r->format, FileFormat::Raw);
    EXPECT_FALSE(r->complex);
}

TEST(Options, CaptureEverything)
{
    auto r = parse({"capture", "0", "-o", "out.bin", "-n", "1M", "--verify", "-T", "8",
                    "--transfer-size=1MiB", "-t", "2.5", "-q", "--no-dev-mem"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->stream, "0");
    EXPECT_EQ(r->output, "out.bin");
    ASSERT_TRUE(r->count);
    EXPECT_EQ(r->count->unit, Amount::Unit::Samples);
    EXPECT_EQ(r->count->value, 1000000u);
    EXPECT_EQ(r->count->bytes(8), 8000000u);
    EXPECT_EQ(r->verify, VerifyMode::Full);
    EXPECT_EQ(r->transfers, 8u);
    EXPECT_EQ(r->transferSize, 1024u * 1024);
    EXPECT_DOUBLE_EQ(r->seconds, 2.5);
    EXPECT_TRUE(r->quiet);
    EXPECT_FALSE(r->devMem);

    EXPECT_EQ(parse({"capture", "rx0", "--verify=header"})->verify, VerifyMode::Header);
    EXPECT_EQ(parse({"capture", "rx0", "--verify=full"})->verify, VerifyMode::Full);
    EXPECT_FALSE(parse({"capture", "rx0", "--verify=sometimes"}));
}

TEST(Options, CaptureNeedsOneStream)
{
    EXPECT_FALSE(parse({"capture"}));
    EXPECT_FALSE(parse({"capture", "a", "b"}));
    auto r = parse({"capture", "--", "-odd-name"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->stream, "-odd-name");
}

TEST(Options, CaptureSeveralStreams)
{
    auto one = parse({"capture", "rx0"});
    ASSERT_TRUE(one) << one.error().message;
    EXPECT_EQ(one->streams, std::vector<std::string>{"rx0"});

    auto r = parse({"capture", "rx0,1,rx2", "-o", "/dev/null", "-t", "3"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->streams, (std::vector<std::string>{"rx0", "1", "rx2"}));
    auto files = parse({"capture", "rx0,rx1", "-o", "cap-{}.sigmf-data", "--meta-log", "m{}.csv"});
    ASSERT_TRUE(files) << files.error().message;
    EXPECT_EQ(files->format, FileFormat::Sigmf);

    auto fails = [](std::vector<std::string_view> args, std::string_view why) {
        auto f = parse(args);
        ASSERT_FALSE(f);
        EXPECT_NE(f.error().message.find(why), std::string::npos) << f.error().message;
    };
    fails({"capture", "rx0,rx1"}, "{}");                  // stdout for both
    fails({"capture", "rx0,rx1", "-o", "cap.bin"}, "{}"); // one file for both
    fails({"capture", "rx0,rx1", "-o", "/dev/null", "--meta-log", "m.csv"}, "--meta-log");
    fails({"capture", "rx0,,rx1", "-o", "/dev/null"}, "empty");
    fails({"capture", "rx0,", "-o", "/dev/null"}, "empty");
    fails({"capture", "rx0,rx0", "-o", "/dev/null"}, "twice");
    fails({"play", "tx0,tx1", "-i", "-"}, "one STREAM");
}

TEST(Options, PerStreamPath)
{
    EXPECT_EQ(perStreamPath("cap-{}.bin", "rx1"), "cap-rx1.bin");
    EXPECT_EQ(perStreamPath("{}/{}.raw", "rx0"), "rx0/rx0.raw");
    EXPECT_EQ(perStreamPath("/dev/null", "rx0"), "/dev/null");
    EXPECT_EQ(perStreamPath("-", "rx0"), "-");
}

TEST(Options, Play)
{
    auto r = parse({"play", "tx0", "-i", "-", "--cyclic"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->command, Command::Play);
    EXPECT_EQ(r->input, "-");
    EXPECT_TRUE(r->cyclic);
    auto noInput = parse({"play", "tx0"});
    ASSERT_FALSE(noInput);
    EXPECT_NE(noInput.error().message.find("-i"), std::string::npos);
}

TEST(Options, CaptureFormat)
{
    auto format = [](std::vector<std::string_view> args) {
        auto r = parse(args);
        EXPECT_TRUE(r) << r.error().message;
        return r ? r->format : FileFormat::Auto;
    };
    // The name decides unless --format does.
    EXPECT_EQ(format({"capture", "rx0", "-o", "rec.sigmf-data"}), FileFormat::Sigmf);
    EXPECT_EQ(format({"capture", "rx0", "-o", "rec.sigmf-meta"}), FileFormat::Sigmf);
    EXPECT_EQ(format({"capture", "rx0", "-o", "rec.bin"}), FileFormat::Raw);
    EXPECT_EQ(format({"capture", "rx0", "-o", "-"}), FileFormat::Raw);
    EXPECT_EQ(format({"capture", "rx0", "-o", "rec", "--format", "sigmf"}), FileFormat::Sigmf);
    EXPECT_EQ(format({"capture", "rx0", "--format=raw", "-o", "rec.bin"}), FileFormat::Raw);
    auto iq = parse({"capture", "rx0", "-o", "rec.sigmf-data", "--complex", "--verify"});
    ASSERT_TRUE(iq) << iq.error().message;
    EXPECT_TRUE(iq->complex);
    EXPECT_EQ(iq->verify, VerifyMode::Full);

    auto fails = [](std::vector<std::string_view> args, std::string_view why) {
        auto r = parse(args);
        ASSERT_FALSE(r) << args.back();
        EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
    };
    fails({"capture", "rx0", "--format", "sigmf"}, "not stdout"); // -o defaults to -
    fails({"capture", "rx0", "-o", "-", "--format", "sigmf"}, "not stdout");
    fails({"capture", "rx0", "-o", "x.sigmf-data", "--format", "raw"}, "SigMF name");
    fails({"capture", "rx0", "-o", "x.bin", "--complex"}, "--complex");
    fails({"capture", "rx0", "--complex"}, "--complex");
    fails({"capture", "rx0", "-o", ".sigmf-data"}, "names no SigMF recording");
    fails({"capture", "rx0", "-o", "x", "--format", "wav"}, "not raw or sigmf");
}

TEST(Options, PlayFormat)
{
    // play decides Auto when it opens the files (NAME may be NAME.sigmf-meta's recording).
    EXPECT_EQ(parse({"play", "tx0", "-i", "rec"})->format, FileFormat::Auto);
    EXPECT_EQ(parse({"play", "tx0", "-i", "rec.sigmf-data"})->format, FileFormat::Auto);
    EXPECT_EQ(parse({"play", "tx0", "-i", "rec", "--format", "sigmf"})->format, FileFormat::Sigmf);
    EXPECT_EQ(parse({"play", "tx0", "-i", "rec.sigmf-data", "--format", "raw"})->format,
              FileFormat::Raw);
    EXPECT_FALSE(parse({"play", "tx0", "-i", "-", "--format", "sigmf"}));
    EXPECT_FALSE(parse({"play", "tx0", "-i", "rec", "--complex"}));
    EXPECT_FALSE(parse({"stats", "--format", "raw"}));
}

TEST(Options, OptionsMustFitTheCommand)
{
    EXPECT_FALSE(parse({"play", "tx0", "-i", "f", "--verify"}));
    EXPECT_FALSE(parse({"capture", "rx0", "--cyclic"}));
    EXPECT_FALSE(parse({"info", "-o", "x"}));
    EXPECT_FALSE(parse({"list", "-n", "10"}));
}

TEST(Options, BadValues)
{
    EXPECT_FALSE(parse({"capture", "rx0", "-T", "0"}));
    EXPECT_FALSE(parse({"capture", "rx0", "-T", "2000"}));
    EXPECT_FALSE(parse({"capture", "rx0", "-T", "x"}));
    EXPECT_FALSE(parse({"capture", "rx0", "-S", "1000"})); // not a multiple of 1024
    EXPECT_FALSE(parse({"capture", "rx0", "-S", "128MiB"}));
    EXPECT_FALSE(parse({"capture", "rx0", "-n", "0"}));
    EXPECT_FALSE(parse({"capture", "rx0", "-n", "12parsecs"}));
    EXPECT_FALSE(parse({"capture", "rx0", "-t", "-1"}));
    EXPECT_FALSE(parse({"capture", "rx0", "-o"}));
    EXPECT_FALSE(parse({"capture", "rx0", "--bogus"}));
    EXPECT_FALSE(parse({"frobnicate"}));
    EXPECT_FALSE(parse({"list", "--quiet=yes"}));
}

TEST(Options, Amounts)
{
    auto a = parseAmount("4096");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->unit, Amount::Unit::Samples);
    EXPECT_EQ(a->value, 4096u);

    struct Case {
        std::string_view text;
        std::uint64_t value;
        Amount::Unit unit;
    };
    const Case cases[] = {
            {"4096B", 4096, Amount::Unit::Bytes},      {"64KiB", 65536, Amount::Unit::Bytes},
            {"16MiB", 16u << 20, Amount::Unit::Bytes}, {"1GiB", 1u << 30, Amount::Unit::Bytes},
            {"10MB", 10000000, Amount::Unit::Bytes},   {"2kB", 2000, Amount::Unit::Bytes},
            {"3k", 3000, Amount::Unit::Samples},       {"2M", 2000000, Amount::Unit::Samples},
            {"1G", 1000000000, Amount::Unit::Samples},
    };
    for (const Case &c : cases) {
        auto r = parseAmount(c.text);
        ASSERT_TRUE(r) << c.text << ": " << r.error().message;
        EXPECT_EQ(r->value, c.value) << c.text;
        EXPECT_EQ(r->unit, c.unit) << c.text;
    }
    EXPECT_EQ(parseAmount("1000B")->bytes(8), 1000u);
    EXPECT_FALSE(parseAmount(""));
    EXPECT_FALSE(parseAmount("MiB"));
    EXPECT_FALSE(parseAmount("99999999999999999999"));
    EXPECT_FALSE(parseAmount("99999999999999GiB"));
}

TEST(Options, ByteSizes)
{
    EXPECT_EQ(*parseByteSize("262144"), 262144u);
    EXPECT_EQ(*parseByteSize("256k"), 262144u);
    EXPECT_EQ(*parseByteSize("256KiB"), 262144u);
    EXPECT_EQ(*parseByteSize("1M"), 1048576u);
    EXPECT_FALSE(parseByteSize("1.5M"));
}

TEST(Options, UsbId)
{
    auto id = parseUsbId("1d6b:0104");
    ASSERT_TRUE(id);
    EXPECT_EQ(id->vendor, 0x1d6b);
    EXPECT_EQ(id->product, 0x0104);
    EXPECT_EQ(parseUsbId("0xABCD:0x1")->vendor, 0xabcd);
    EXPECT_FALSE(parseUsbId("1d6b"));
    EXPECT_FALSE(parseUsbId("12345:1"));
    EXPECT_FALSE(parseUsbId("xyz:1"));
    EXPECT_TRUE(parse({"--usb", "1d6b:0104", "list"}));
    EXPECT_FALSE(parse({"--usb", "nope", "list"}));
}

TEST(Options, UsageMentionsEveryCommand)
{
    const std::string text = usageText();
    for (const char *word : {"list", "info", "stats", "capture", "play", "--verify", "--cyclic",
                             "usbfs", "Ctrl-C", "--format raw|sigmf", "--complex", ".sigmf-data"})
        EXPECT_NE(text.find(word), std::string::npos) << word;
}
