// The tool's commands. Each returns the process exit status and prints its own error
// messages (once, at this level): 0 ok, 1 failure, 3 --verify found errors.
#pragma once

#include "Options.h"

namespace iiousb::tool {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitVerifyFailed = 3;

int runList(const Options &opts);
int runInfo(const Options &opts);
int runStats(const Options &opts);
int runCapture(const Options &opts);
int runPlay(const Options &opts);

// "iiousb: MESSAGE" on stderr.
void printError(const std::string &message);

} // namespace iiousb::tool
