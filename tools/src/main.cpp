// iiousb: the host tool for iiousbd devices (docs/protocol.md).
#include <cstdio>
#include <string_view>
#include <vector>

#include "Commands.h"
#include "Options.h"

#ifndef IIOUSB_VERSION
#define IIOUSB_VERSION "unknown"
#endif

int main(int argc, char **argv)
{
    using namespace iiousb::tool;
    std::vector<std::string_view> args(argv + 1, argv + argc);
    auto opts = parseOptions(args);
    if (!opts) {
        printError(opts.error().message + " (see iiousb --help)");
        return kExitUsage;
    }
    switch (opts->command) {
    case Command::Help:
        std::fputs(usageText().c_str(), stdout);
        return kExitOk;
    case Command::Version:
        std::puts("iiousb " IIOUSB_VERSION " (protocol 1)");
        return kExitOk;
    case Command::List:
        return runList(*opts);
    case Command::Info:
        return runInfo(*opts);
    case Command::Stats:
        return runStats(*opts);
    case Command::Capture:
        return runCapture(*opts);
    case Command::Play:
        return runPlay(*opts);
    }
    return kExitFailure;
}
