// The iiod command line parser: a lexer with the start conditions of v0.25:iiod/lexer.l and a
// matcher for the productions of v0.25:iiod/parser.y:94-442 (identical in v0.24 and v0.26).
#include "iiod/IiodCommand.h"

#include <array>
#include <cerrno>
#include <limits>
#include <vector>

namespace iiousb::iiod {

namespace {

// Token kinds of parser.y's %token list. A line that fits no production is answered -EINVAL
// (parser.y:437 "error END", yyerror at :446).
enum class Tok {
    Space,
    End,
    Version,
    Exit,
    Help,
    Open,
    Close,
    Print,
    ZPrint,
    Read,
    ReadBuf,
    WriteBuf,
    Write,
    SetTrig,
    GetTrig,
    Timeout,
    DebugAttr,
    BufferAttr,
    InOut,
    Cyclic,
    Set,
    BuffersCount,
    Word,
    Device,
    Channel,
    Value,
};

// lexer.l's start conditions (all %s, inclusive: rules without a condition apply in each).
enum class State { Initial, WantDevice, WantChnOrAttr, WantChn, WantAttr, WantValue };

struct Token {
    Tok kind;
    std::string text;    // Word, Device, Channel, Value
    bool output = false; // InOut
};

bool isAlpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}
bool isWordBody(char c)
{
    return isAlpha(c) || isDigit(c) || c == '-' || c == '_' || c == '.';
}

std::size_t bodyRun(std::string_view s, std::size_t at)
{
    std::size_t n = 0;
    while (at + n < s.size() && isWordBody(s[at + n]))
        ++n;
    return n;
}

// Length of the longest WORD at `at` (lexer.l:18: an optional "<alpha>+," or "iio:" prefix,
// then one or more of - _ . alnum), 0 if none.
std::size_t matchWord(std::string_view s, std::size_t at)
{
    std::size_t best = bodyRun(s, at);
    std::size_t alpha = 0;
    while (at + alpha < s.size() && isAlpha(s[at + alpha]))
        ++alpha;
    if (alpha > 0 && at + alpha < s.size() && s[at + alpha] == ',') {
        const std::size_t body = bodyRun(s, at + alpha + 1);
        if (body > 0)
            best = std::max(best, alpha + 1 + body);
    }
    if (s.substr(at, 4) == "iio:") {
        const std::size_t body = bodyRun(s, at + 4);
        if (body > 0)
            best = std::max(best, 4 + body);
    }
    return best;
}

// Length of a keyword written all upper or all lower case at `at`, 0 if absent.
std::size_t matchKeyword(std::string_view s, std::size_t at, std::string_view upper)
{
    if (s.substr(at, upper.size()).size() != upper.size())
        return 0;
    bool allUpper = true, allLower = true;
    for (std::size_t i = 0; i < upper.size(); ++i) {
        const char c = s[at + i];
        const char u = upper[i];
        const char l = isAlpha(u) ? static_cast<char>(u - 'A' + 'a') : u;
        allUpper = allUpper && c == u;
        allLower = allLower && c == l;
    }
    return allUpper || allLower ? upper.size() : 0;
}

struct Rule {
    std::optional<State> only; // the start condition, none: every state
    std::string_view keyword;  // empty: the rule's pattern is WORD
    Tok kind;
    std::optional<State> next; // BEGIN(next) when it matches
};

// The rules of lexer.l that return a token, in file order (flex prefers the longest match,
// then the earliest rule). SPACE, END and "." are handled apart in lex().
constexpr State kI = State::Initial;
const std::array kRules = {
        Rule{kI, "VERSION", Tok::Version, {}},
        Rule{kI, "PRINT", Tok::Print, {}},
        Rule{kI, "ZPRINT", Tok::ZPrint, {}},
        Rule{kI, "EXIT", Tok::Exit, {}},
        Rule{kI, "QUIT", Tok::Exit, {}},
        Rule{kI, "HELP", Tok::Help, {}},
        Rule{kI, "TIMEOUT", Tok::Timeout, {}},
        Rule{kI, "OPEN", Tok::Open, State::WantDevice},
        Rule{kI, "CLOSE", Tok::Close, State::WantDevice},
        Rule{kI, "READ", Tok::Read, State::WantDevice},
        Rule{kI, "READBUF", Tok::ReadBuf, State::WantDevice},
        Rule{kI, "WRITEBUF", Tok::WriteBuf, State::WantDevice},
        Rule{kI, "WRITE", Tok::Write, State::WantDevice},
        Rule{kI, "SETTRIG", Tok::SetTrig, State::WantDevice},
        Rule{kI, "GETTRIG", Tok::GetTrig, State::WantDevice},
        Rule{kI, "SET", Tok::Set, State::WantDevice},
        Rule{State::WantDevice, "", Tok::Device, State::WantChnOrAttr},
        Rule{State::WantChnOrAttr, "BUFFERS_COUNT", Tok::BuffersCount, State::WantValue},
        Rule{State::WantChnOrAttr, "DEBUG", Tok::DebugAttr, State::WantAttr},
        Rule{State::WantChnOrAttr, "BUFFER", Tok::BufferAttr, State::WantAttr},
        Rule{State::WantChnOrAttr, "INPUT", Tok::InOut, State::WantChn},
        Rule{State::WantChnOrAttr, "OUTPUT", Tok::InOut, State::WantChn},
        Rule{State::WantChn, "", Tok::Channel, State::WantAttr},
        Rule{State::WantValue, "", Tok::Value, {}},
        Rule{{}, "CYCLIC", Tok::Cyclic, {}},
        Rule{{}, "", Tok::Word, {}},
};

// Splits a line ('\n' included) into tokens the way iiod's lexer does (lexer.l:161 SPACE,
// 165 END, 170 ".").
std::vector<Token> lex(std::string_view s)
{
    std::vector<Token> tokens;
    State state = State::Initial;
    std::size_t at = 0;
    while (at < s.size()) {
        // END: [ \t]*\r?\n, SPACE: [ \t]+ (END wins when longer).
        std::size_t blanks = 0;
        while (at + blanks < s.size() && (s[at + blanks] == ' ' || s[at + blanks] == '\t'))
            ++blanks;
        std::size_t end = blanks;
        if (at + end < s.size() && s[at + end] == '\r')
            ++end;
        if (at + end < s.size() && s[at + end] == '\n') {
            tokens.push_back({Tok::End, {}});
            state = State::Initial;
            at += end + 1;
            continue;
        }
        if (blanks > 0) {
            tokens.push_back({Tok::Space, {}});
            at += blanks;
            continue;
        }
        const Rule *best = nullptr;
        std::size_t bestLen = 0;
        for (const Rule &rule : kRules) {
            if (rule.only && *rule.only != state)
                continue;
            const std::size_t len =
                    rule.keyword.empty() ? matchWord(s, at) : matchKeyword(s, at, rule.keyword);
            if (len > bestLen) {
                best = &rule;
                bestLen = len;
            }
        }
        if (!best) {
            // lexer.l ".": the character is dropped and the state reset.
            state = State::Initial;
            ++at;
            continue;
        }
        Token token{best->kind, std::string(s.substr(at, bestLen))};
        token.output = best->kind == Tok::InOut && (s[at] == 'o' || s[at] == 'O');
        tokens.push_back(std::move(token));
        if (best->next)
            state = *best->next;
        at += bestLen;
    }
    return tokens;
}

// atol()/strtol() as iiod applies them to a word: optional sign, leading digits, rest ignored.
long long leadingNumber(std::string_view word)
{
    std::size_t i = 0;
    bool negative = false;
    if (i < word.size() && (word[i] == '-' || word[i] == '+')) {
        negative = word[i] == '-';
        ++i;
    }
    long long value = 0;
    constexpr long long kMax = std::numeric_limits<long long>::max() / 10 - 10;
    for (; i < word.size() && isDigit(word[i]); ++i)
        value = value > kMax ? value : value * 10 + (word[i] - '0');
    return negative ? -value : value;
}

Result<std::uint64_t> count(std::string_view word)
{
    const long long v = leadingNumber(word);
    if (v < 0)
        return makeError(-EINVAL, "negative count \"" + std::string(word) + "\"");
    return static_cast<std::uint64_t>(v);
}

// A production: its tokens, SPACE included.
using Pattern = std::vector<Tok>;

bool matches(const std::vector<Token> &tokens, const Pattern &p)
{
    if (tokens.size() != p.size())
        return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (tokens[i].kind != p[i])
            return false;
    }
    return true;
}

Error syntaxError(std::string_view line)
{
    std::string shown(line.substr(0, 80));
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r'))
        shown.pop_back();
    return makeError(-EINVAL, "not an iiod command: \"" + shown + "\"");
}

} // namespace

Result<IiodCommand> parseIiodCommand(std::string_view line)
{
    if (line.empty() || line.back() != '\n' || line.size() > kMaxCommandLine)
        return syntaxError(line);
    const std::vector<Token> t = lex(line);
    using enum Tok;
    IiodCommand c;
    auto text = [&](std::size_t i) { return t[i].text; };

    if (matches(t, {End})) // parser.y:95
        return c;
    // parser.y:98 (EXIT), 103 (HELP), 138 (VERSION), 146 (PRINT), 158 (ZPRINT).
    for (auto [tok, op] : {std::pair{Exit, IiodOp::Exit},
                           {Help, IiodOp::Help},
                           {Version, IiodOp::Version},
                           {Print, IiodOp::Print},
                           {ZPrint, IiodOp::ZPrint}}) {
        if (matches(t, {tok, End})) {
            c.op = op;
            return c;
        }
    }
    if (matches(t, {Timeout, Space, Word, End})) { // parser.y:177
        c.op = IiodOp::Timeout;
        // (unsigned int) atoi(word), parser.y TIMEOUT rule.
        c.timeoutMs = static_cast<std::uint32_t>(leadingNumber(text(2)));
        return c;
    }
    if (t.size() < 3 || t[1].kind != Space || t[2].kind != Device)
        return syntaxError(line);
    c.device = text(2);
    c.attr.device = c.device;

    switch (t[0].kind) {
    case Open: // parser.y:188 (CYCLIC), 200
        if (matches(t, {Open, Space, Device, Space, Word, Space, Word, End}) ||
            matches(t, {Open, Space, Device, Space, Word, Space, Word, Space, Cyclic, End})) {
            c.op = IiodOp::Open;
            auto samples = count(text(4));
            if (!samples)
                return samples.takeError();
            c.samples = *samples;
            c.mask = text(6);
            c.cyclic = t.size() == 10;
            return c;
        }
        break;
    case Close:   // parser.y:212
    case GetTrig: // parser.y:423
        if (matches(t, {t[0].kind, Space, Device, End})) {
            c.op = t[0].kind == Close ? IiodOp::Close : IiodOp::GetTrig;
            return c;
        }
        break;
    case SetTrig: // parser.y:406, 416 (no trigger)
        if (matches(t, {SetTrig, Space, Device, End}) ||
            matches(t, {SetTrig, Space, Device, Space, Word, End})) {
            c.op = IiodOp::SetTrig;
            if (t.size() == 6)
                c.trigger = text(4);
            return c;
        }
        break;
    case ReadBuf:  // parser.y:288
    case WriteBuf: // parser.y:299
        if (matches(t, {t[0].kind, Space, Device, Space, Word, End})) {
            c.op = t[0].kind == ReadBuf ? IiodOp::ReadBuf : IiodOp::WriteBuf;
            auto bytes = count(text(4));
            if (!bytes)
                return bytes.takeError();
            c.bytes = *bytes;
            return c;
        }
        break;
    case Set: // parser.y:430
        if (matches(t, {Set, Space, Device, Space, BuffersCount, Space, Value, End})) {
            c.op = IiodOp::SetBuffersCount;
            c.buffersCount = static_cast<long>(leadingNumber(text(6)));
            return c;
        }
        break;
    case Read:
    case Write: {
        // After the device: [DEBUG|BUFFER|IN_OUT CHANNEL] [attr] (WRITE: then <bytes>).
        // READ: parser.y:220-286; WRITE: parser.y:314-404.
        const bool write = t[0].kind == Write;
        std::size_t i = 3;
        if (i + 1 < t.size() && t[i].kind == Space &&
            (t[i + 1].kind == DebugAttr || t[i + 1].kind == BufferAttr)) {
            c.attr.kind = t[i + 1].kind == DebugAttr ? AttrKind::Debug : AttrKind::Buffer;
            i += 2;
        } else if (i + 3 < t.size() && t[i].kind == Space && t[i + 1].kind == InOut &&
                   t[i + 2].kind == Space && t[i + 3].kind == Channel) {
            c.attr.kind = AttrKind::Channel;
            c.attr.output = t[i + 1].output;
            c.attr.channel = text(i + 3);
            i += 4;
        }
        // The remaining words: READ takes 0 or 1 (attr), WRITE 1 or 2 (attr, bytes).
        std::vector<std::string> words;
        for (; i + 1 < t.size() && t[i].kind == Space && t[i + 1].kind == Word; i += 2)
            words.push_back(text(i + 1));
        const std::size_t minWords = write ? 1 : 0;
        if (i + 1 != t.size() || t[i].kind != End || words.size() < minWords ||
            words.size() > minWords + 1)
            return syntaxError(line);
        // READ/WRITE with a keyword but without words must still have been a full rule:
        // "WRITE dev DEBUG" (no bytes) was refused above by minWords.
        c.op = write ? IiodOp::Write : IiodOp::Read;
        if (words.size() == minWords + 1)
            c.attr.attribute = words.front();
        if (write) {
            auto bytes = count(words.back());
            if (!bytes)
                return bytes.takeError();
            c.bytes = *bytes;
        }
        return c;
    }
    default:
        break;
    }
    return syntaxError(line);
}

} // namespace iiousb::iiod
