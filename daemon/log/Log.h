// A small logger: one category per module, levels filterable per category, one record per
// message. Under journald (stderr is the journal stream) records go to the journal through
// sd_journal_sendv() with PRIORITY, CODE_FILE/CODE_LINE/CODE_FUNC and any fields the call
// site attached; otherwise one line per message on stderr.
//
//   IIOUSB_LOG_CATEGORY(Gadget, "gadget")         // once per .cpp file
//   LOG(Gadget, Error) << "Failed to bind " << udc << ": " << errnoString(r);
//   LOG(Stream, Info).field(log::kStream, name).field(log::kEvent, "start") << "Started";
//
// Levels: debug, info, notice, warning, error. The default level is info; the spec
// "LEVEL" or "CATEGORY=LEVEL,..." ("*" for all) comes from --log-level or $IIOUSB_LOG.
// Warnings and errors, and messages marked hostTriggered(), are rate-limited per call site
// (kRateLimitBurst per kRateLimitInterval); the next message let through says how many were
// suppressed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iiousb::log {

enum class Level { Debug = 0, Info = 1, Notice = 2, Warning = 3, Error = 4 };

std::optional<Level> parseLevel(std::string_view name);
std::string_view levelName(Level level);
int syslogPriority(Level level);

// Our journal fields (journalctl -u iiousbd IIOUSB_STREAM=rx0).
inline constexpr std::string_view kStream = "IIOUSB_STREAM"; // stream name (config)
inline constexpr std::string_view kDevice = "IIOUSB_DEVICE"; // IIO device name
// What happened: start, stop, disconnect, fallback, overrun, ...
inline constexpr std::string_view kEvent = "IIOUSB_EVENT";

// A journal field name: upper-case letters, digits and '_', not starting with '_' or a
// digit, at most 64 characters (fields starting with '_' are trusted, set by journald).
bool validFieldName(std::string_view name);

class Category {
public:
    explicit Category(const char *name);
    Category(const Category &) = delete;
    Category &operator=(const Category &) = delete;

    const char *name() const { return name_; }
    bool enabled(Level level) const { return level >= level_; }
    void setLevel(Level level) { level_ = level; }

private:
    const char *name_;
    Level level_;
};

// Applies a level spec ("debug", "ffs=debug,*=warning") to every category, present and
// future. Returns false (and says why in `error`) on a syntax error, changing nothing.
bool configure(std::string_view spec, std::string *error = nullptr);

using Fields = std::vector<std::pair<std::string, std::string>>;

// One message as handed to the output.
struct Record {
    Level level = Level::Info;
    std::string_view category;
    std::string_view file; // relative to the source tree ("daemon/service/Daemon.cpp")
    int line = 0;
    std::string_view function;
    std::string_view message;
    const Fields *fields = nullptr;
};

// Where records go: by default the journal or stderr (decided once, on the first message).
// Tests install their own; setSink(nullptr) restores the default. Returns the previous one.
using Sink = std::function<void(const Record &)>;
Sink setSink(Sink sink);

// At most `burst` messages per call site in each `interval`; the rest are counted and
// reported with the next message let through after the interval.
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;

    RateLimiter(unsigned burst, Clock::duration interval) : burst_(burst), interval_(interval) {}

    struct Decision {
        bool emit = true;
        // When emitting: how many messages of this key were suppressed before this one.
        std::uint64_t suppressed = 0;
    };

    // `key` identifies the call site (file:line).
    Decision check(const std::string &key, Clock::time_point now);

private:
    struct Window {
        Clock::time_point start;
        unsigned count = 0;
        std::uint64_t suppressed = 0;
    };

    unsigned burst_;
    Clock::duration interval_;
    std::map<std::string, Window> windows_;
};

inline constexpr unsigned kRateLimitBurst = 10;
inline constexpr std::chrono::seconds kRateLimitInterval{10};

class Message {
public:
    Message(const Category &category, Level level, const char *file, int line,
            const char *function);
    Message(const Message &) = delete;
    Message &operator=(const Message &) = delete;
    ~Message();

    // Attaches a journal field to this message (ignored, with a note in the message, if
    // `name` is not a valid field name).
    Message &field(std::string_view name, std::string_view value);
    Message &field(std::string_view name, std::uint64_t value)
    {
        return field(name, std::string_view(std::to_string(value)));
    }

    // Marks a message that a USB host (or any outside party) can cause at will: it is
    // rate-limited like warnings, whatever its level, so a host looping bad requests cannot
    // flood the journal.
    Message &hostTriggered()
    {
        hostTriggered_ = true;
        return *this;
    }

    std::ostream &stream() { return stream_; }

    template <typename T>
    Message &operator<<(const T &value)
    {
        stream_ << value;
        return *this;
    }
    Message &operator<<(std::ostream &(*manip)(std::ostream &))
    {
        stream_ << manip;
        return *this;
    }
    Message &operator<<(std::ios_base &(*manip)(std::ios_base &))
    {
        stream_ << manip;
        return *this;
    }

private:
    const Category &category_;
    Level level_;
    const char *file_;
    int line_;
    const char *function_;
    Fields fields_;
    bool hostTriggered_ = false;
    std::ostringstream stream_;
};

struct Voidify {
    void operator&(Message &) {}
};

} // namespace iiousb::log

// The macros expand to a function definition and to the start of a stream expression: they
// cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define IIOUSB_LOG_CATEGORY(var, name)                                                             \
    [[maybe_unused]] static ::iiousb::log::Category &logCategory##var()                            \
    {                                                                                              \
        static ::iiousb::log::Category category(name);                                             \
        return category;                                                                           \
    }

// The stream expression is evaluated only when the level is enabled (glog's Voidify trick:
// `&` binds looser than `<<`, and the whole is an expression, safe in an unbraced if).
#define LOG(cat, level)                                                                            \
    !logCategory##cat().enabled(::iiousb::log::Level::level)                                       \
            ? (void)0                                                                              \
            : ::iiousb::log::Voidify() & ::iiousb::log::Message(logCategory##cat(),                \
                                                                ::iiousb::log::Level::level,       \
                                                                __FILE__, __LINE__, __func__)
// NOLINTEND(bugprone-macro-parentheses)
