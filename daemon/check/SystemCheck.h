// `iiousbd --check-system`: what the zero-copy path needs from the running system and
// whether it is there (docs/boards.md). The checks look at the system only through a
// SystemProbe, so that the report logic is tested with injected results; localProbe()
// reads the real machine and leaves nothing behind (no gadget, no mount, no fd).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/Result.h"
#include "config/Config.h"

namespace iiousb::check {

enum class Verdict {
    Ok,       // needed and there
    Note,     // not needed, or cannot be determined here: says why
    CopyOnly, // zero-copy impossible on a side; the copy fallback works
    Missing,  // iiousbd (or a configured stream) cannot run
};

struct CheckLine {
    Verdict verdict;
    std::string what; // "configfs", "UDC dummy_udc.0", "IIO DMABUF rx0 (iio:device0)"
    std::string text; // what was found and, unless ok, what to do
};

// What probing an IIO device's buffer for the DMABUF ioctls found.
struct IioDmabufProbe {
    enum class State {
        Answered, // IIO_BUFFER_DMABUF_ATTACH_IOCTL with fd -1 returned `error`
        Enabled,  // the buffer is enabled (a stream runs): not probed
        Busy,     // another program holds the chardev or the buffer: not probed
        Failed,   // could not get to the buffer fd: `detail` says why
    };
    State state = State::Failed;
    int error = 0;      // positive errno of the ATTACH probe (Answered)
    std::string detail; // holders (Busy), the failure (Failed)
};

// The system as the checks see it. Paths are absolute.
class SystemProbe {
public:
    virtual ~SystemProbe() = default;
    // The whole file, nullopt if it cannot be read.
    virtual std::optional<std::string> readFile(const std::string &path) = 0;
    // Entry names, sorted; empty if the directory is missing.
    virtual std::vector<std::string> listDir(const std::string &path) = 0;
    virtual bool exists(const std::string &path) = 0;
    // The target of a symbolic link, "" if none.
    virtual std::string readLink(const std::string &path) = 0;
    virtual std::string kernelRelease() = 0; // uname -r
    // The running kernel's configuration and where it came from (/proc/config.gz,
    // /boot/config-RELEASE), nullopt if neither is there.
    virtual std::optional<std::string> kernelConfig(std::string *source) = 0;
    // The IIO device id ("iio:device0") of a configured stream.
    virtual Result<std::string> resolveIioDevice(const StreamConfig &stream) = 0;
    virtual IioDmabufProbe probeIioDmabuf(const std::string &deviceId) = 0;
    // Allocates (and frees) a page from the heap (udmabuf when the heap is missing, like
    // the streams do); returns where it came from.
    virtual Result<std::string> allocateDmabuf(const std::string &heapPath) = 0;
};

// The probe of the running machine.
std::unique_ptr<SystemProbe> localProbe();

// Every check, in report order. `config` null: no per-stream checks (a line says so).
std::vector<CheckLine> checkSystem(SystemProbe &probe, const Config *config);

// 0: everything zero-copy needs is there; 1: zero-copy impossible on a side, the copy
// fallback works; 2: iiousbd or a configured stream cannot run.
int exitStatus(const std::vector<CheckLine> &lines);

// "ok        configfs: mounted on /sys/kernel/config"
std::string formatLine(const CheckLine &line);
// The last line of the report, for an exit status.
std::string summaryLine(int status);

// `iiousbd --check-system`: loads the configuration (`configPath`; a missing one is only a
// note unless `configGiven`), runs every check on this machine, prints the report on
// stdout and returns exitStatus().
int runSystemCheck(const std::string &configPath, bool configGiven);

// "6.12.38+deb12-arm64" -> {6, 12}; {0, 0} if it does not start with MAJOR.MINOR.
std::pair<int, int> kernelVersion(const std::string &release);

} // namespace iiousb::check
