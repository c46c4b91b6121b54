#include "Options.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include "Sigmf.h"

namespace iiousb::tool {

namespace {

struct Multiplier {
    std::string_view suffix;
    std::uint64_t factor;
    Amount::Unit unit;
};

// Longest suffixes first so that "KiB" is not taken for "B".
constexpr Multiplier kAmountSuffixes[] = {
        {"KiB", 1ull << 10, Amount::Unit::Bytes},   {"MiB", 1ull << 20, Amount::Unit::Bytes},
        {"GiB", 1ull << 30, Amount::Unit::Bytes},   {"kB", 1000ull, Amount::Unit::Bytes},
        {"KB", 1000ull, Amount::Unit::Bytes},       {"MB", 1000000ull, Amount::Unit::Bytes},
        {"GB", 1000000000ull, Amount::Unit::Bytes}, {"B", 1, Amount::Unit::Bytes},
        {"k", 1000ull, Amount::Unit::Samples},      {"K", 1000ull, Amount::Unit::Samples},
        {"M", 1000000ull, Amount::Unit::Samples},   {"G", 1000000000ull, Amount::Unit::Samples},
};

constexpr Multiplier kSizeSuffixes[] = {
        {"KiB", 1ull << 10, Amount::Unit::Bytes},   {"MiB", 1ull << 20, Amount::Unit::Bytes},
        {"GiB", 1ull << 30, Amount::Unit::Bytes},   {"kB", 1000ull, Amount::Unit::Bytes},
        {"KB", 1000ull, Amount::Unit::Bytes},       {"MB", 1000000ull, Amount::Unit::Bytes},
        {"GB", 1000000000ull, Amount::Unit::Bytes}, {"k", 1ull << 10, Amount::Unit::Bytes},
        {"K", 1ull << 10, Amount::Unit::Bytes},     {"M", 1ull << 20, Amount::Unit::Bytes},
        {"G", 1ull << 30, Amount::Unit::Bytes},     {"B", 1, Amount::Unit::Bytes},
};

template <std::size_t N>
Expected<Amount> parseWithSuffixes(std::string_view text, const Multiplier (&suffixes)[N],
                                   Amount::Unit plainUnit)
{
    if (text.empty())
        return Error{"empty number"};
    std::uint64_t value = 0;
    const char *end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value, 10);
    if (ptr == text.data())
        return Error{"'" + std::string(text) + "' is not a number"};
    if (ec == std::errc::result_out_of_range)
        return Error{"'" + std::string(text) + "' is too large"};
    std::string_view rest(ptr, static_cast<std::size_t>(end - ptr));
    Amount amount{value, plainUnit};
    if (rest.empty())
        return amount;
    for (const Multiplier &m : suffixes) {
        if (rest != m.suffix)
            continue;
        if (value > std::numeric_limits<std::uint64_t>::max() / m.factor)
            return Error{"'" + std::string(text) + "' is too large"};
        return Amount{value * m.factor, m.unit};
    }
    return Error{"'" + std::string(text) + "': unknown unit '" + std::string(rest) + "'"};
}

Expected<unsigned> parseUnsigned(std::string_view text, std::string_view what)
{
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size())
        return Error{std::string(what) + ": '" + std::string(text) + "' is not a number"};
    return value;
}

Expected<double> parseSeconds(std::string_view text)
{
    // from_chars for double is in libstdc++ 11+.
    double value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() ||
        !std::isfinite(value) || value <= 0)
        return Error{"-t: '" + std::string(text) + "' is not a positive number of seconds"};
    return value;
}

struct OptionSpec {
    char shortName; // 0 if none
    std::string_view longName;
    bool takesValue;
};

constexpr OptionSpec kOptionSpecs[] = {
        {'h', "help", false},     {'V', "version", false},      {'d', "device", true},
        {0, "usb", true},         {'q', "quiet", false},        {0, "json", false},
        {'o', "output", true},    {'i', "input", true},         {'n', "count", true},
        {'t', "time", true},      {0, "verify", false},         {0, "cyclic", false},
        {'T', "transfers", true}, {'S', "transfer-size", true}, {0, "no-dev-mem", false},
        {0, "no-meta", false},    {0, "latency", false},        {0, "meta-log", true},
        {0, "format", true},      {0, "complex", false},
};

// "--verify" takes an optional value ("--verify=header"), handled apart.

std::optional<Command> commandByName(std::string_view name)
{
    if (name == "list")
        return Command::List;
    if (name == "info")
        return Command::Info;
    if (name == "capture" || name == "rx")
        return Command::Capture;
    if (name == "play" || name == "tx")
        return Command::Play;
    if (name == "stats")
        return Command::Stats;
    if (name == "help")
        return Command::Help;
    if (name == "version")
        return Command::Version;
    return std::nullopt;
}

std::string_view commandName(Command command)
{
    switch (command) {
    case Command::Help:
        return "help";
    case Command::Version:
        return "version";
    case Command::List:
        return "list";
    case Command::Info:
        return "info";
    case Command::Capture:
        return "capture";
    case Command::Play:
        return "play";
    case Command::Stats:
        return "stats";
    }
    return "?";
}

// Which options make sense with which command (global ones with every command).
bool optionAllowed(std::string_view longName, Command command)
{
    if (longName == "help" || longName == "version" || longName == "device" || longName == "usb" ||
        longName == "quiet")
        return true;
    if (longName == "json")
        return command == Command::Info || command == Command::Stats || command == Command::List;
    if (longName == "output" || longName == "verify" || longName == "no-meta" ||
        longName == "latency")
        return command == Command::Capture;
    if (longName == "input" || longName == "cyclic")
        return command == Command::Play;
    if (longName == "meta-log")
        return command == Command::Capture || command == Command::Play;
    if (longName == "complex")
        return command == Command::Capture;
    if (longName == "count" || longName == "time" || longName == "transfers" ||
        longName == "transfer-size" || longName == "no-dev-mem" || longName == "format")
        return command == Command::Capture || command == Command::Play;
    return false;
}

Expected<void> applyOption(Options &opts, std::string_view name, std::string_view value)
{
    if (name == "help") {
        opts.command = Command::Help;
    } else if (name == "version") {
        opts.command = Command::Version;
    } else if (name == "device") {
        if (value.empty())
            return Error{"-d: empty serial number"};
        opts.serial = value;
    } else if (name == "usb") {
        auto id = parseUsbId(value);
        if (!id)
            return id.error();
        opts.usbId = *id;
    } else if (name == "quiet") {
        opts.quiet = true;
    } else if (name == "json") {
        opts.json = true;
    } else if (name == "output") {
        if (value.empty())
            return Error{"-o: empty file name (use - for stdout)"};
        opts.output = value;
    } else if (name == "input") {
        if (value.empty())
            return Error{"-i: empty file name (use - for stdin)"};
        opts.input = value;
    } else if (name == "count") {
        auto amount = parseAmount(value);
        if (!amount)
            return Error{"-n: " + amount.error().message};
        if (amount->value == 0)
            return Error{"-n: the count must be greater than 0"};
        opts.count = *amount;
    } else if (name == "time") {
        auto seconds = parseSeconds(value);
        if (!seconds)
            return seconds.error();
        opts.seconds = *seconds;
    } else if (name == "verify") {
        if (value.empty() || value == "full")
            opts.verify = VerifyMode::Full;
        else if (value == "header" || value == "cheap")
            opts.verify = VerifyMode::Header;
        else
            return Error{"--verify: '" + std::string(value) + "' is not full or header"};
    } else if (name == "cyclic") {
        opts.cyclic = true;
    } else if (name == "transfers") {
        auto n = parseUnsigned(value, "-T");
        if (!n)
            return n.error();
        if (*n == 0 || *n > kMaxTransfers)
            return Error{"-T: transfers in flight must be 1.." + std::to_string(kMaxTransfers)};
        opts.transfers = *n;
    } else if (name == "transfer-size") {
        auto size = parseByteSize(value);
        if (!size)
            return Error{"-S: " + size.error().message};
        if (*size == 0 || *size > kMaxTransferSize || *size % kTransferSizeGranule != 0)
            return Error{"-S: the transfer size must be a multiple of " +
                         std::to_string(kTransferSizeGranule) + " bytes up to " +
                         std::to_string(kMaxTransferSize >> 20) + " MiB"};
        opts.transferSize = static_cast<std::uint32_t>(*size);
    } else if (name == "no-dev-mem") {
        opts.devMem = false;
    } else if (name == "no-meta") {
        opts.metadata = false;
    } else if (name == "latency") {
        opts.latency = true;
    } else if (name == "meta-log") {
        opts.metaLog = std::string(value);
    } else if (name == "format") {
        if (value == "raw")
            opts.format = FileFormat::Raw;
        else if (value == "sigmf")
            opts.format = FileFormat::Sigmf;
        else
            return Error{"--format: '" + std::string(value) + "' is not raw or sigmf"};
    } else if (name == "complex") {
        opts.complex = true;
    }
    return {};
}

// capture: raw or SigMF from --format and the -o name.
Expected<void> resolveCaptureFormat(Options &opts)
{
    const bool sigmfName = hasSigmfSuffix(opts.output);
    if (opts.format == FileFormat::Auto)
        opts.format = sigmfName ? FileFormat::Sigmf : FileFormat::Raw;
    else if (opts.format == FileFormat::Raw && sigmfName)
        return Error{"--format raw: '" + opts.output +
                     "' would be a raw file with a SigMF name (SigMF reserves .sigmf-data and "
                     ".sigmf-meta); name it otherwise or drop --format raw"};
    if (opts.format == FileFormat::Sigmf) {
        if (opts.output == "-")
            return Error{"--format sigmf writes NAME.sigmf-data and NAME.sigmf-meta: give "
                         "-o NAME, not stdout"};
        if (auto paths = sigmfPaths(opts.output); !paths)
            return Error{"-o: " + paths.error().message};
    } else if (opts.complex) {
        return Error{"--complex records channel pairs as I/Q in a SigMF recording: use it "
                     "with -o NAME.sigmf-data or --format sigmf"};
    }
    return {};
}

// capture STREAM[,STREAM...]: the list, and where several streams write.
Expected<void> splitStreams(Options &opts)
{
    std::string_view rest = opts.stream;
    for (;;) {
        const auto comma = rest.find(',');
        const std::string_view key = rest.substr(0, comma);
        if (key.empty())
            return Error{"'capture': empty stream name in '" + opts.stream + "'"};
        if (std::find(opts.streams.begin(), opts.streams.end(), key) != opts.streams.end())
            return Error{"'capture': stream '" + std::string(key) + "' given twice"};
        opts.streams.emplace_back(key);
        if (comma == std::string_view::npos)
            break;
        rest.remove_prefix(comma + 1);
    }
    if (opts.streams.size() == 1)
        return {};
    auto perStream = [](const std::string &path) {
        return path == "/dev/null" || path.find("{}") != std::string::npos;
    };
    if (!perStream(opts.output))
        return Error{"several streams are captured to a file each: give -o with {} for the "
                     "stream's name (e.g. -o cap-{}.bin) or -o /dev/null"};
    if (!opts.metaLog.empty() && !perStream(opts.metaLog))
        return Error{"--meta-log with several streams: give a name with {} for the stream's "
                     "name (e.g. --meta-log meta-{}.csv)"};
    return {};
}

} // namespace

std::string perStreamPath(std::string_view pattern, std::string_view stream)
{
    std::string path;
    for (;;) {
        const auto at = pattern.find("{}");
        path += pattern.substr(0, at);
        if (at == std::string_view::npos)
            return path;
        path += stream;
        pattern.remove_prefix(at + 2);
    }
}

Expected<Amount> parseAmount(std::string_view text)
{
    return parseWithSuffixes(text, kAmountSuffixes, Amount::Unit::Samples);
}

Expected<std::uint64_t> parseByteSize(std::string_view text)
{
    auto amount = parseWithSuffixes(text, kSizeSuffixes, Amount::Unit::Bytes);
    if (!amount)
        return amount.error();
    return amount->value;
}

Expected<UsbId> parseUsbId(std::string_view text)
{
    auto bad = [&] {
        return Error{"--usb: '" + std::string(text) + "' is not VID:PID (hex, e.g. 1d6b:0104)"};
    };
    auto colon = text.find(':');
    if (colon == std::string_view::npos)
        return bad();
    auto hex16 = [](std::string_view s, std::uint16_t &out) {
        if (s.starts_with("0x") || s.starts_with("0X"))
            s.remove_prefix(2);
        if (s.empty() || s.size() > 4)
            return false;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
        return ec == std::errc() && ptr == s.data() + s.size();
    };
    UsbId id;
    if (!hex16(text.substr(0, colon), id.vendor) || !hex16(text.substr(colon + 1), id.product))
        return bad();
    return id;
}

Expected<Options> parseOptions(std::span<const std::string_view> args)
{
    Options opts;
    std::optional<Command> command;
    std::vector<std::string_view> positional;
    std::vector<std::pair<std::string_view, std::string_view>> given; // option, value
    bool helpOrVersion = false;
    Command helpOrVersionCommand = Command::Help;

    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--") {
            for (++i; i < args.size(); ++i)
                positional.push_back(args[i]);
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            // The first positional argument is the command.
            if (!command) {
                command = commandByName(arg);
                if (!command)
                    return Error{"unknown command '" + std::string(arg) + "'"};
            } else {
                positional.push_back(arg);
            }
            continue;
        }

        const OptionSpec *spec = nullptr;
        std::string_view value;
        bool haveValue = false;
        std::string display;
        if (arg.starts_with("--")) {
            std::string_view body = arg.substr(2);
            auto eq = body.find('=');
            std::string_view name = body.substr(0, eq);
            if (eq != std::string_view::npos) {
                value = body.substr(eq + 1);
                haveValue = true;
            }
            display = "--" + std::string(name);
            for (const OptionSpec &s : kOptionSpecs)
                if (s.longName == name)
                    spec = &s;
            if (!spec)
                return Error{"unknown option '" + display + "'"};
            if (haveValue && !spec->takesValue && name != "verify")
                return Error{"option '" + display + "' takes no value"};
        } else {
            // -x, -xVALUE; flags without values cannot be bundled (kept simple).
            display = std::string(arg.substr(0, 2));
            for (const OptionSpec &s : kOptionSpecs)
                if (s.shortName == arg[1])
                    spec = &s;
            if (!spec)
                return Error{"unknown option '" + display + "'"};
            if (arg.size() > 2) {
                if (!spec->takesValue)
                    return Error{"option '" + display + "' takes no value (in '" +
                                 std::string(arg) + "')"};
                value = arg.substr(2);
                haveValue = true;
            }
        }
        if (spec->takesValue && !haveValue) {
            if (i + 1 >= args.size())
                return Error{"option '" + display + "' needs a value"};
            value = args[++i];
        }
        if (spec->longName == "help" || spec->longName == "version") {
            helpOrVersion = true;
            helpOrVersionCommand = spec->longName == "help" ? Command::Help : Command::Version;
            continue;
        }
        given.emplace_back(spec->longName, value);
    }

    if (helpOrVersion) {
        opts.command = helpOrVersionCommand;
        return opts;
    }
    if (!command)
        return Error{"no command given (list, info, capture, play or stats)"};
    opts.command = *command;
    if (opts.command == Command::Help || opts.command == Command::Version)
        return opts;

    for (auto &[name, value] : given) {
        if (!optionAllowed(name, opts.command))
            return Error{"option --" + std::string(name) + " does not apply to '" +
                         std::string(commandName(opts.command)) + "'"};
        if (auto r = applyOption(opts, name, value); !r)
            return r.error();
    }

    const std::string cmd(commandName(opts.command));
    switch (opts.command) {
    case Command::List:
    case Command::Info:
        if (!positional.empty())
            return Error{"'" + cmd + "' takes no arguments (got '" + std::string(positional[0]) +
                         "')"};
        break;
    case Command::Stats:
        if (positional.size() > 1)
            return Error{"'stats' takes at most one STREAM"};
        if (!positional.empty())
            opts.stream = positional[0];
        break;
    case Command::Capture:
    case Command::Play:
        if (positional.empty())
            return Error{"'" + cmd + "' needs a STREAM (name or index, see 'iiousb info')"};
        if (positional.size() > 1)
            return Error{"'" + cmd + "' takes one STREAM argument (got '" +
                         std::string(positional[1]) + "' too)" +
                         (opts.command == Command::Capture ? "; several streams: rx0,rx1" : "")};
        opts.stream = positional[0];
        if (opts.command == Command::Capture) {
            if (auto r = splitStreams(opts); !r)
                return r.error();
        } else if (opts.stream.find(',') != std::string::npos) {
            return Error{"'play' takes one STREAM (got '" + opts.stream + "')"};
        }
        if (opts.command == Command::Play && opts.input.empty())
            return Error{"'play' needs -i FILE (or -i - for stdin)"};
        if (opts.command == Command::Capture) {
            if (auto r = resolveCaptureFormat(opts); !r)
                return r.error();
        } else if (opts.format == FileFormat::Sigmf && opts.input == "-") {
            return Error{"--format sigmf reads NAME.sigmf-meta and NAME.sigmf-data: give "
                         "-i NAME, not stdin"};
        }
        break;
    case Command::Help:
    case Command::Version:
        break;
    }
    return opts;
}

std::string usageText()
{
    return R"(Usage: iiousb [OPTIONS] COMMAND [ARGS]

Commands:
  list                         iiousb devices on the bus: serial, speed, streams
  info [--json]                the device description (GET_INFO)
  stats [STREAM] [--json]      stream counters (GET_STATS), all streams by default
  capture STREAM[,STREAM...] [-o FILE|-] [-n COUNT] [-t SEC] [--verify[=full|header]]
          [--format raw|sigmf] [--complex]
                               read an rx stream to a file or stdout (default -); several
                               at once, each to its own file: -o NAME with {} for the
                               stream's name (cap-{}.bin), or -o /dev/null
  play STREAM -i FILE|- [--cyclic] [-n COUNT] [-t SEC] [--format raw|sigmf]
                               send a file, a SigMF recording or stdin to a tx stream

STREAM is a stream name or index as 'iiousb info' shows them.

Options:
  -d, --device SERIAL          use the device with this serial number
      --usb VID:PID            only devices with this vendor/product id (hex)
  -q, --quiet                  no live status line on stderr
      --json                   machine-readable output (list, info, stats)
  -o, --output FILE            capture output, - for stdout (default)
  -i, --input FILE             play input, - for stdin
  -n, --count COUNT            stop after COUNT samples (a plain number, k/M/G = 1e3/1e6/1e9)
                               or bytes (a B unit: 4096B, 64KiB, 16MiB, 1GiB, 10MB)
  -t, --time SEC               stop after SEC seconds
      --verify[=full|header]   check iio-sim's test pattern: every sample (full, default)
                               or only the block headers (header); report lost, duplicated
                               and corrupt bytes with their stream offsets; with the
                               device's block metadata, lost ranges it announced are
                               checked against it instead of counted as errors
      --no-meta                capture: do not ask for per-block metadata (gaps are then
                               only seen by --verify)
      --latency                capture: per-block latency p50/p99/max (host receive time -
                               device completion time; needs one clock on both sides)
      --meta-log FILE          capture/play: every block's metadata record as a CSV line
                               (sequence, first sample, lost, margin, flags, completion ns,
                               bytes)
      --format raw|sigmf       raw samples, or a SigMF recording: NAME.sigmf-data (the
                               samples) + NAME.sigmf-meta (JSON: datatype, sample rate,
                               device, start time). Default: sigmf for -o/-i NAME.sigmf-data
                               or NAME.sigmf-meta (play: also NAME when NAME.sigmf-meta
                               exists), raw otherwise
      --complex                capture, SigMF: channel pairs in scan order are I/Q
                               (ci16_le etc.), num_channels = channels / 2
      --cyclic                 play: repeat the input until stopped
  -T, --transfers N            USB transfers in flight (default 16)
  -S, --transfer-size SIZE     bytes per transfer, a multiple of 1024 (default 256KiB)
      --no-dev-mem             heap buffers instead of usbfs zero-copy memory
  -h, --help                   this text
  -V, --version                the version

A status line (MB/s = 10^6 bytes/s) is printed on stderr once a second; Ctrl-C stops
cleanly (cancel transfers, STOP, release the interface), a second Ctrl-C exits at once.
Exit status: 0 ok, 1 failure, 2 usage error, 3 --verify found errors.
)";
}

} // namespace iiousb::tool
