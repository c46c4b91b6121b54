#include "log/Log.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <utility>
#include <vector>

#include <unistd.h>

#include <sys/stat.h>

namespace iiousb::log {

namespace {

struct Registry {
    std::mutex lock;
    std::vector<Category *> categories;
    // The applied spec, in order: (category or "*", level).
    std::vector<std::pair<std::string, Level>> rules;
    bool journal = false;
    bool journalChecked = false;
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

} // namespace

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

Message::Message(const Category &category, Level level) : category_(category), level_(level) {}

Message::~Message()
{
    Registry &r = registry();
    std::string line;
    {
        std::lock_guard guard(r.lock);
        if (!r.journalChecked) {
            r.journal = stderrIsJournal();
            r.journalChecked = true;
        }
    }
    if (r.journal) {
        line = "<" + std::to_string(syslogPriority(level_)) + ">";
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char stamp[32];
        snprintf(stamp, sizeof(stamp), "[%5lld.%06ld] ", static_cast<long long>(ts.tv_sec),
                 ts.tv_nsec / 1000);
        line = stamp;
        line += levelName(level_);
        line += ' ';
    }
    line += category_.name();
    line += ": ";
    line += stream_.str();
    line += '\n';
    fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace iiousb::log
