// A small logger: one category per module, levels filterable per category, one line per
// message on stderr (with a syslog priority prefix when stderr is the journal). A later
// issue adds structured journal fields here without changing the call sites.
//
//   IIOUSB_LOG_CATEGORY(Gadget, "gadget")         // once per .cpp file
//   LOG(Gadget, Error) << "Failed to bind " << udc << ": " << errnoString(r);
//
// Levels: debug, info, notice, warning, error. The default level is info; the spec
// "LEVEL" or "CATEGORY=LEVEL,..." ("*" for all) comes from --log-level or $IIOUSB_LOG.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace iiousb::log {

enum class Level { Debug = 0, Info = 1, Notice = 2, Warning = 3, Error = 4 };

std::optional<Level> parseLevel(std::string_view name);
std::string_view levelName(Level level);

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

class Message {
public:
    Message(const Category &category, Level level);
    Message(const Message &) = delete;
    Message &operator=(const Message &) = delete;
    ~Message();

    std::ostream &stream() { return stream_; }

private:
    const Category &category_;
    Level level_;
    std::ostringstream stream_;
};

struct Voidify {
    void operator&(std::ostream &) {}
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
            : ::iiousb::log::Voidify() &                                                           \
                      ::iiousb::log::Message(logCategory##cat(), ::iiousb::log::Level::level)      \
                              .stream()
// NOLINTEND(bugprone-macro-parentheses)
