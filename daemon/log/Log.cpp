#include "log/Log.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <utility>
#include <vector>

#include <unistd.h>

#include <sys/stat.h>
#include <sys/uio.h>

// Our own CODE_FILE/CODE_LINE/CODE_FUNC (the LOG call site's), not sd_journal_sendv()'s.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

namespace iiousb::log {

namespace {

struct Registry {
    std::mutex lock;
    std::vector<Category *> categories;
    // The applied spec, in order: (category or "*", level).
    std::vector<std::pair<std::string, Level>> rules;
    bool journal = false;
    bool journalChecked = false;
    Sink sink;
    RateLimiter limiter{kRateLimitBurst, kRateLimitInterval};
};

Registry &registry()
{
    static Registry r;
    return r;
}

Level levelFor(const Registry &r, std::string_view name)
{
    Level level = Level::Info;
    for (const auto &[cat, lvl] : r.rules) {
        if (cat == "*" || cat == name)
            level = lvl;
    }
    return level;
}

// stderr is the journal when $JOURNAL_STREAM names its device and inode.
bool stderrIsJournal()
{
    const char *env = getenv("JOURNAL_STREAM");
    if (!env)
        return false;
    unsigned long long dev = 0, ino = 0;
    if (sscanf(env, "%llu:%llu", &dev, &ino) != 2)
        return false;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) < 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

} // namespace

int syslogPriority(Level level)
{
    switch (level) {
    case Level::Debug:
        return 7;
    case Level::Info:
        return 6;
    case Level::Notice:
        return 5;
    case Level::Warning:
        return 4;
    case Level::Error:
        return 3;
    }
    return 6;
}

std::optional<Level> parseLevel(std::string_view name)
{
    if (name == "debug")
        return Level::Debug;
    if (name == "info")
        return Level::Info;
    if (name == "notice")
        return Level::Notice;
    if (name == "warning" || name == "warn")
        return Level::Warning;
    if (name == "error" || name == "err")
        return Level::Error;
    return std::nullopt;
}

std::string_view levelName(Level level)
{
    switch (level) {
    case Level::Debug:
        return "debug";
    case Level::Info:
        return "info";
    case Level::Notice:
        return "notice";
    case Level::Warning:
        return "warning";
    case Level::Error:
        return "error";
    }
    return "?";
}

Category::Category(const char *name) : name_(name), level_(Level::Info)
{
    Registry &r = registry();
    std::lock_guard guard(r.lock);
    level_ = levelFor(r, name_);
    r.categories.push_back(this);
}

bool configure(std::string_view spec, std::string *error)
{
    std::vector<std::pair<std::string, Level>> rules;
    std::string_view rest = spec;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (item.empty())
            continue;
        auto eq = item.find('=');
        std::string cat = eq == std::string_view::npos ? "*" : std::string(item.substr(0, eq));
        std::string_view levelText = eq == std::string_view::npos ? item : item.substr(eq + 1);
        auto lvl = parseLevel(levelText);
        if (!lvl || cat.empty()) {
            if (error)
                *error = "bad log level '" + std::string(item) +
                         "' (expected LEVEL or CATEGORY=LEVEL, LEVEL one of debug, info, notice, "
                         "warning, error)";
            return false;
        }
        rules.emplace_back(std::move(cat), *lvl);
    }
    Registry &r = registry();
    std::lock_guard guard(r.lock);
    for (auto &rule : rules)
        r.rules.push_back(std::move(rule));
    for (Category *c : r.categories)
        c->setLevel(levelFor(r, c->name()));
    return true;
}

bool validFieldName(std::string_view name)
{
    if (name.empty() || name.size() > 64 || name[0] == '_' || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (char c : name) {
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

Sink setSink(Sink sink)
{
    Registry &r = registry();
    std::lock_guard guard(r.lock);
    std::swap(r.sink, sink);
    return sink;
}

RateLimiter::Decision RateLimiter::check(const std::string &key, Clock::time_point now)
{
    Decision d;
    auto [it, inserted] = windows_.try_emplace(key);
    Window &w = it->second;
    if (inserted || now - w.start >= interval_) {
        d.suppressed = w.suppressed;
        w.start = now;
        w.count = 1;
        w.suppressed = 0;
        return d;
    }
    if (w.count < burst_) {
        w.count++;
        return d;
    }
    w.suppressed++;
    d.emit = false;
    return d;
}

namespace {

// __FILE__ relative to the source tree: from the last "daemon/" or "tools/" on.
std::string_view sourcePath(const char *file)
{
    std::string_view f(file ? file : "");
    for (std::string_view top : {"/daemon/", "/tools/", "/tests/"}) {
        auto pos = f.rfind(top);
        if (pos != std::string_view::npos)
            return f.substr(pos + 1);
    }
    return f;
}

// One line on stderr: with a timestamp and the level, or, when stderr is the journal's
// stream (the journal refused a structured entry), with a "<PRIORITY>" prefix instead.
void writeStderr(const Record &rec, bool journal)
{
    std::string line;
    if (journal) {
        line = "<" + std::to_string(syslogPriority(rec.level)) + ">";
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char stamp[32];
        snprintf(stamp, sizeof(stamp), "[%5lld.%06ld] ", static_cast<long long>(ts.tv_sec),
                 ts.tv_nsec / 1000);
        line = stamp;
        line += levelName(rec.level);
        line += ' ';
    }
    line += rec.category;
    line += ": ";
    line += rec.message;
    if (rec.fields && !rec.fields->empty()) {
        line += " [";
        bool first = true;
        for (const auto &[name, value] : *rec.fields) {
            if (!first)
                line += ' ';
            first = false;
            line += name;
            line += '=';
            line += value;
        }
        line += ']';
    }
    line += '\n';
    fwrite(line.data(), 1, line.size(), stderr);
}

// One journal entry: MESSAGE, PRIORITY, CODE_*, SYSLOG_IDENTIFIER, IIOUSB_CATEGORY and the
// call site's fields. Returns false if the journal refused it.
bool writeJournal(const Record &rec)
{
    std::vector<std::string> items;
    items.reserve(8 + (rec.fields ? rec.fields->size() : 0));
    std::string message = "MESSAGE=";
    message += rec.category;
    message += ": ";
    message += rec.message;
    items.push_back(std::move(message));
    items.push_back("PRIORITY=" + std::to_string(syslogPriority(rec.level)));
    items.push_back("CODE_FILE=" + std::string(rec.file));
    items.push_back("CODE_LINE=" + std::to_string(rec.line));
    items.push_back("CODE_FUNC=" + std::string(rec.function));
    items.emplace_back("SYSLOG_IDENTIFIER=" + std::string(program_invocation_short_name));
    items.push_back("IIOUSB_CATEGORY=" + std::string(rec.category));
    if (rec.fields) {
        for (const auto &[name, value] : *rec.fields)
            items.push_back(name + "=" + value);
    }
    std::vector<struct iovec> iov(items.size());
    for (std::size_t i = 0; i < items.size(); i++) {
        iov[i].iov_base = items[i].data();
        iov[i].iov_len = items[i].size();
    }
    return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

void writeDefault(const Record &rec, bool journal)
{
    if (!journal || !writeJournal(rec))
        writeStderr(rec, journal);
}

} // namespace

Message::Message(const Category &category, Level level, const char *file, int line,
                 const char *function)
    : category_(category), level_(level), file_(file), line_(line), function_(function)
{}

Message &Message::field(std::string_view name, std::string_view value)
{
    if (!validFieldName(name)) {
        stream_ << "[bad field name '" << name << "'] ";
        return *this;
    }
    fields_.emplace_back(std::string(name), std::string(value));
    return *this;
}

Message::~Message()
{
    Registry &r = registry();
    Sink sink;
    bool journal = false;
    RateLimiter::Decision d;
    const std::string_view file = sourcePath(file_);
    {
        std::lock_guard guard(r.lock);
        if (!r.journalChecked) {
            r.journal = stderrIsJournal();
            r.journalChecked = true;
        }
        journal = r.journal;
        sink = r.sink;
        if (level_ >= Level::Warning || hostTriggered_) {
            std::string key(file);
            key += ':';
            key += std::to_string(line_);
            d = r.limiter.check(key, RateLimiter::Clock::now());
        }
    }
    if (!d.emit)
        return;
    const std::string text = stream_.str();
    Record rec;
    rec.category = category_.name();
    rec.file = file;
    rec.line = line_;
    rec.function = function_ ? function_ : "";
    rec.fields = &fields_;
    if (d.suppressed > 0) {
        const std::string note = "Suppressed " + std::to_string(d.suppressed) + " messages from " +
                                 std::string(file) + ":" + std::to_string(line_);
        rec.level = Level::Notice;
        rec.message = note;
        if (sink)
            sink(rec);
        else
            writeDefault(rec, journal);
    }
    rec.level = level_;
    rec.message = text;
    if (sink)
        sink(rec);
    else
        writeDefault(rec, journal);
}

} // namespace iiousb::log
