// The logger's field plumbing (LOG(...).field(...) reaches the sink with the call site's
// file, line and function) and the per-call-site rate limiter.
#include "log/Log.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

using namespace iiousb;
using namespace std::chrono_literals;

namespace {

IIOUSB_LOG_CATEGORY(Test, "test")

struct Captured {
    log::Level level;
    std::string category;
    std::string file;
    int line;
    std::string function;
    std::string message;
    log::Fields fields;
};

// Installs a capturing sink for the test's lifetime.
class CaptureSink {
public:
    CaptureSink()
    {
        previous_ = log::setSink([this](const log::Record &r) {
            records.push_back({r.level, std::string(r.category), std::string(r.file), r.line,
                               std::string(r.function), std::string(r.message),
                               r.fields ? *r.fields : log::Fields()});
        });
    }
    ~CaptureSink() { log::setSink(std::move(previous_)); }
    CaptureSink(const CaptureSink &) = delete;
    CaptureSink &operator=(const CaptureSink &) = delete;

    std::vector<Captured> records;

private:
    log::Sink previous_;
};

void logFromHere(int i)
{
    LOG(Test, Error) << "same error " << i;
}

} // namespace

TEST(Log, PlainCallSiteStillStreams)
{
    CaptureSink sink;
    LOG(Test, Info) << "value " << 42 << ' ' << std::hex << 255 << std::endl;
    ASSERT_EQ(sink.records.size(), 1u);
    EXPECT_EQ(sink.records[0].message, "value 42 ff\n");
    EXPECT_EQ(sink.records[0].category, "test");
    EXPECT_EQ(sink.records[0].level, log::Level::Info);
    EXPECT_TRUE(sink.records[0].fields.empty());
}

TEST(Log, FieldsAndCallSiteReachTheSink)
{
    CaptureSink sink;
    const std::string name = "rx0";
    const int line = __LINE__ + 1;
    LOG(Test, Notice)
                    .field(log::kStream, name)
                    .field(log::kDevice, "iio-sim-adc")
                    .field(log::kEvent, "start")
                    .field("IIOUSB_BLOCKS", std::uint64_t{4})
            << "started";
    ASSERT_EQ(sink.records.size(), 1u);
    const Captured &r = sink.records[0];
    EXPECT_EQ(r.message, "started");
    EXPECT_EQ(r.level, log::Level::Notice);
    EXPECT_EQ(r.line, line);
    EXPECT_EQ(r.file, "tests/unit/LogTest.cpp");
    EXPECT_NE(r.function.find("TestBody"), std::string::npos) << r.function;
    const log::Fields expected = {{"IIOUSB_STREAM", "rx0"},
                                  {"IIOUSB_DEVICE", "iio-sim-adc"},
                                  {"IIOUSB_EVENT", "start"},
                                  {"IIOUSB_BLOCKS", "4"}};
    EXPECT_EQ(r.fields, expected);
}

TEST(Log, BadFieldNameIsDroppedAndSaid)
{
    CaptureSink sink;
    LOG(Test, Info).field("iiousb_lower", "x").field("_TRUSTED", "y") << "text";
    ASSERT_EQ(sink.records.size(), 1u);
    EXPECT_TRUE(sink.records[0].fields.empty());
    EXPECT_NE(sink.records[0].message.find("bad field name 'iiousb_lower'"), std::string::npos);
    EXPECT_NE(sink.records[0].message.find("bad field name '_TRUSTED'"), std::string::npos);
}

TEST(Log, DisabledLevelEvaluatesNothing)
{
    CaptureSink sink;
    int evaluated = 0;
    auto count = [&] { return ++evaluated; };
    LOG(Test, Debug).field(log::kEvent, std::to_string(count())) << count();
    EXPECT_EQ(evaluated, 0);
    EXPECT_TRUE(sink.records.empty());
}

TEST(Log, FieldNames)
{
    EXPECT_TRUE(log::validFieldName("IIOUSB_STREAM"));
    EXPECT_TRUE(log::validFieldName("A1"));
    EXPECT_FALSE(log::validFieldName(""));
    EXPECT_FALSE(log::validFieldName("_PID"));
    EXPECT_FALSE(log::validFieldName("1ABC"));
    EXPECT_FALSE(log::validFieldName("IIOUSB-STREAM"));
    EXPECT_FALSE(log::validFieldName("Stream"));
    EXPECT_FALSE(log::validFieldName(std::string(65, 'A')));
    EXPECT_TRUE(log::validFieldName(std::string(64, 'A')));
}

TEST(Log, RepeatedErrorsAreRateLimitedPerCallSite)
{
    CaptureSink sink;
    for (int i = 0; i < 25; i++)
        logFromHere(i);
    // The first kRateLimitBurst get through, the rest wait for the next interval (which
    // does not come during this test: only the count matters).
    ASSERT_EQ(sink.records.size(), log::kRateLimitBurst);
    EXPECT_EQ(sink.records.back().message,
              "same error " + std::to_string(log::kRateLimitBurst - 1));
    // Another call site is not affected.
    LOG(Test, Error) << "other";
    ASSERT_EQ(sink.records.size(), log::kRateLimitBurst + 1);
    EXPECT_EQ(sink.records.back().message, "other");
    // Info messages are never limited.
    for (int i = 0; i < 25; i++)
        LOG(Test, Info) << "info";
    EXPECT_EQ(sink.records.size(), log::kRateLimitBurst + 26);
}

TEST(RateLimiter, BurstThenSuppressThenReport)
{
    log::RateLimiter limiter(3, 10s);
    const auto t0 = log::RateLimiter::Clock::time_point() + 1000s;
    for (int i = 0; i < 3; i++) {
        auto d = limiter.check("a.cpp:1", t0 + std::chrono::seconds(i));
        EXPECT_TRUE(d.emit);
        EXPECT_EQ(d.suppressed, 0u);
    }
    for (int i = 0; i < 5; i++)
        EXPECT_FALSE(limiter.check("a.cpp:1", t0 + 9s).emit);
    // Another key has its own window.
    EXPECT_TRUE(limiter.check("a.cpp:2", t0 + 9s).emit);
    // The window is 10 s from its first message: the next one reports the 5 suppressed.
    auto d = limiter.check("a.cpp:1", t0 + 10s);
    EXPECT_TRUE(d.emit);
    EXPECT_EQ(d.suppressed, 5u);
    // ... and starts a new window with a fresh count.
    EXPECT_TRUE(limiter.check("a.cpp:1", t0 + 11s).emit);
    EXPECT_TRUE(limiter.check("a.cpp:1", t0 + 12s).emit);
    EXPECT_FALSE(limiter.check("a.cpp:1", t0 + 13s).emit);
    d = limiter.check("a.cpp:1", t0 + 30s);
    EXPECT_TRUE(d.emit);
    EXPECT_EQ(d.suppressed, 1u);
}

TEST(RateLimiter, QuietCallSiteNeverSuppressed)
{
    log::RateLimiter limiter(2, 10s);
    const auto t0 = log::RateLimiter::Clock::time_point() + 1000s;
    for (int i = 0; i < 100; i++) {
        auto d = limiter.check("k", t0 + std::chrono::seconds(10 * i));
        EXPECT_TRUE(d.emit);
        EXPECT_EQ(d.suppressed, 0u);
    }
}

TEST(Log, StderrLineCarriesTheFields)
{
    // Not under journald (the test unsets JOURNAL_STREAM before the first default-sink
    // message of this process): the default sink writes one line to stderr.
    unsetenv("JOURNAL_STREAM");
    char path[] = "/tmp/iiousb-logtest-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    ASSERT_GE(saved, 0);
    dup2(fd, STDERR_FILENO);
    LOG(Test, Warning).field(log::kStream, "tx0").field(log::kEvent, "overrun") << "late";
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    std::string text(256, '\0');
    ssize_t n = pread(fd, text.data(), text.size(), 0);
    close(fd);
    ASSERT_GT(n, 0);
    text.resize(static_cast<std::size_t>(n));
    EXPECT_NE(text.find("warning test: late [IIOUSB_STREAM=tx0 IIOUSB_EVENT=overrun]\n"),
              std::string::npos)
            << text;
}
