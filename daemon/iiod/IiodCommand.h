// One command line of iiod's text ("legacy") protocol, as libiio 0.24-0.26 clients send it
// (../shared/libiio-usb.md §2.2), parsed into a typed command. Standard library only.
//
// The accepted language is that of iiod's flex lexer and bison grammar, which are the same in
// v0.24, v0.25 and v0.26 (v0.25:iiod/lexer.l, v0.25:iiod/parser.y:94-442); this is an
// independent implementation of it, not a translation:
// - keywords are all upper or all lower case ("PRINT", "print"; "Print" is a word and so an
//   error); a keyword is only one if no longer word matches at that place (flex's longest
//   match: "READBUF" is READBUF, "READX" a word);
// - tokens are separated by runs of spaces and tabs, a line ends in optional spaces/tabs, an
//   optional '\r' and '\n' (lexer.l, rules SPACE and END);
// - any other character is dropped and resets the lexer to its initial state (lexer.l rule
//   "."), which is how iiod treats it: "PRINT#\r\n" is PRINT;
// - an empty line is accepted and answered with nothing (parser.y "Line: END");
// - a line that matches no rule is answered "-22\n" (parser.y yyerror with -EINVAL).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/Result.h"

namespace iiousb::iiod {

// The longest command line accepted, '\n' included. iiod has no limit of its own (flex grows
// its buffer); the longest line a client sends is an OPEN with its channel mask (8 hex
// digits per 32 channels) or a WRITE with two names, far below this.
inline constexpr std::size_t kMaxCommandLine = 4096;

enum class IiodOp {
    Empty,           // empty line: no reply
    Exit,            // EXIT or QUIT: end of the session, no reply
    Help,            // HELP
    Version,         // VERSION
    Print,           // PRINT
    ZPrint,          // ZPRINT (answered -22: no zstd here, clients fall back to PRINT)
    Timeout,         // TIMEOUT <ms>
    Open,            // OPEN <dev> <samples_count> <mask> [CYCLIC]
    Close,           // CLOSE <dev>
    ReadBuf,         // READBUF <dev> <bytes>
    WriteBuf,        // WRITEBUF <dev> <bytes>
    Read,            // READ <dev> [DEBUG|BUFFER|INPUT <chn>|OUTPUT <chn>] [<attr>]
    Write,           // WRITE <dev> [DEBUG|BUFFER|INPUT <chn>|OUTPUT <chn>] [<attr>] <bytes>
    GetTrig,         // GETTRIG <dev>
    SetTrig,         // SETTRIG <dev> [<trigger>]
    SetBuffersCount, // SET <dev> BUFFERS_COUNT <n>
};

enum class AttrKind { Device, Debug, Buffer, Channel };

// Which attribute(s) a READ or WRITE is about.
struct IiodAttrRef {
    std::string device;                   // id, label or name, as the client wrote it
    AttrKind kind = AttrKind::Device;     //
    bool output = false;                  // Channel: OUTPUT (true) or INPUT
    std::string channel;                  // Channel: id or name
    std::optional<std::string> attribute; // none: all of them ("read all", packed format)

    bool operator==(const IiodAttrRef &) const = default;
};

struct IiodCommand {
    IiodOp op = IiodOp::Empty;
    std::string device;                 // every command with a device
    IiodAttrRef attr;                   // Read, Write
    std::uint64_t bytes = 0;            // ReadBuf, WriteBuf: buffer bytes; Write: value bytes
    std::uint64_t samples = 0;          // Open: samples_count
    std::string mask;                   // Open: the mask as sent (hex, most significant word first)
    bool cyclic = false;                // Open
    std::uint32_t timeoutMs = 0;        // Timeout
    std::optional<std::string> trigger; // SetTrig: none detaches the trigger
    long buffersCount = 0;              // SetBuffersCount

    bool operator==(const IiodCommand &) const = default;
};

// Parses one line, '\n' included (without it the line is incomplete: -EINVAL). Errors are
// -EINVAL, the code iiod answers to a line its grammar does not accept.
// Counts are read like iiod does (atol: leading digits, the rest ignored, "abc" is 0); a
// negative byte or sample count is refused here (iiod would wrap it to a huge unsigned).
Result<IiodCommand> parseIiodCommand(std::string_view line);

} // namespace iiousb::iiod
