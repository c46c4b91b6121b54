#include "check/SystemCheck.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <zlib.h>

#include <sys/ioctl.h>
#include <sys/utsname.h>

#include "base/KernelUapi.h"
#include "base/UniqueFd.h"
#include "dmabuf/DmaBuf.h"
#include "iio/IioBuffer.h"
#include "iio/IioContext.h"

namespace iiousb::check {

namespace {

const std::string kConfigfs = "/sys/kernel/config";
const std::string kUdcClass = "/sys/class/udc";
const std::string kKallsyms = "/proc/kallsyms";
// f_fs's DMABUF code (Linux 6.9): the fence ops' get_driver_name (kernel-patches 0021
// drops their release: dma_fence_free() frees the fence).
constexpr const char *kFfsDmabufSymbol = "ffs_dmabuf_get_driver_name";

bool versionAtLeast(const std::string &release, int major, int minor)
{
    const auto v = kernelVersion(release);
    return v.first > major || (v.first == major && v.second >= minor);
}

// Whether /proc/kallsyms (its text) names `symbol`: "ADDR t NAME\n" or "ADDR t NAME\t[mod]".
bool hasSymbol(const std::string &kallsyms, const std::string &symbol)
{
    const std::string needle = " " + symbol;
    for (auto pos = kallsyms.find(needle); pos != std::string::npos;
         pos = kallsyms.find(needle, pos + 1)) {
        const auto end = pos + needle.size();
        if (end == kallsyms.size() || kallsyms[end] == '\n' || kallsyms[end] == '\t')
            return true;
    }
    return false;
}

// The mount point of the first mount of filesystem type `type` in /proc/mounts, or "".
std::string mountOf(const std::string &mounts, const std::string &type)
{
    std::istringstream in(mounts);
    std::string dev, dir, fstype, rest;
    while (in >> dev >> dir >> fstype && std::getline(in, rest))
        if (fstype == type)
            return dir;
    return {};
}

std::string baseName(const std::string &path)
{
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

class Checker {
public:
    Checker(SystemProbe &probe, const Config *config)
        : probe_(probe), config_(config), release_(probe.kernelRelease()),
          kallsyms_(probe.readFile(kKallsyms).value_or(""))
    {}

    std::vector<CheckLine> run()
    {
        checkConfigfs();
        checkUdc();
        checkFunctionFs();
        checkIio();
        checkAllocator();
        checkLegacyMmap();
        checkKernelFixes();
        return std::move(lines_);
    }

private:
    void add(Verdict v, std::string what, std::string text)
    {
        lines_.push_back({v, std::move(what), std::move(text)});
    }
    bool moduleLoaded(const std::string &name) { return probe_.exists("/sys/module/" + name); }
    // Symbols are only useful when /proc/kallsyms is there and lists the module's.
    bool symbolsOf(const std::string &module) { return !kallsyms_.empty() && moduleLoaded(module); }

    void checkConfigfs()
    {
        const std::string at = mountOf(probe_.readFile("/proc/mounts").value_or(""), "configfs");
        if (at.empty())
            add(Verdict::Missing, "configfs",
                "not mounted (no configfs in /proc/mounts): mount -t configfs none " + kConfigfs);
        else
            add(Verdict::Ok, "configfs", "mounted on " + at);
        const std::string gadgets = kConfigfs + "/usb_gadget";
        if (probe_.exists(gadgets))
            add(Verdict::Ok, "usb_gadget configfs", gadgets + " exists (libcomposite)");
        else
            add(Verdict::Missing, "usb_gadget configfs",
                gadgets + " missing: modprobe libcomposite (CONFIG_USB_CONFIGFS, "
                          "CONFIG_USB_LIBCOMPOSITE)");
    }

    // Whether the UDC driver sets gadget->sg_supported, which FUNCTIONFS_DMABUF_ATTACH
    // requires (EPERM otherwise; f_fs in 6.9+). sysfs does not show the flag: known drivers.
    void checkUdc()
    {
        std::vector<std::string> udcs = probe_.listDir(kUdcClass);
        const std::string wanted = config_ ? config_->gadget.udc : "";
        if (!wanted.empty()) {
            if (std::find(udcs.begin(), udcs.end(), wanted) == udcs.end()) {
                add(Verdict::Missing, "UDC " + wanted,
                    "the configured UDC is not in " + kUdcClass +
                            " (there: " + (udcs.empty() ? "none" : join(udcs)) +
                            "): load its driver; iiousbd waits for it to appear");
                return;
            }
            udcs = {wanted};
        }
        if (udcs.empty()) {
            add(Verdict::Missing, "UDC",
                "none in " + kUdcClass +
                        ": load the USB device controller's driver (dwc3, ci_hdrc_usb2, "
                        "dummy_hcd); iiousbd waits for one to appear");
            return;
        }
        for (const auto &udc : udcs) {
            const std::string driver =
                    baseName(probe_.readLink(kUdcClass + "/" + udc + "/device/driver"));
            const std::string what = "UDC " + udc;
            const std::string by = " (driver " + (driver.empty() ? "unknown" : driver) + ")";
            if (driver == "dwc3" || driver.starts_with("ci_hdrc")) {
                add(Verdict::Ok, what, "scatter-gather" + by + " sets gadget->sg_supported");
            } else if (driver == "dummy_udc") {
                if (!symbolsOf("dummy_hcd"))
                    add(Verdict::Note, what,
                        "dummy_hcd" + by +
                                ": cannot tell the patched module from Debian's without "
                                "/proc/kallsyms; only kernel-patches 0001 gives it "
                                "scatter-gather");
                else if (hasSymbol(kallsyms_, "dummy_copy_request"))
                    add(Verdict::Ok, what,
                        "scatter-gather" + by +
                                ": patched dummy_hcd (kernel-patches 0001: "
                                "dummy_copy_request in " +
                                kKallsyms + ")");
                else
                    add(Verdict::CopyOnly, what,
                        "no scatter-gather" + by +
                                ": stock dummy_hcd never sets gadget->sg_supported, so "
                                "FUNCTIONFS_DMABUF_ATTACH fails with EPERM and the USB side "
                                "copies; load the module built by kernel-patches/build.sh "
                                "(0001)");
            } else {
                add(Verdict::Note, what,
                    "scatter-gather unknown" + by +
                            ": gadget->sg_supported is not visible from user space; iiousbd "
                            "logs FUNCTIONFS_DMABUF_ATTACH's result when a stream starts "
                            "(EPERM: no scatter-gather, copy fallback)");
            }
        }
    }

    void checkFunctionFs()
    {
        const bool registered =
                probe_.readFile("/proc/filesystems").value_or("").find("\tfunctionfs\n") !=
                std::string::npos;
        const std::string modulesDep = "/lib/modules/" + release_ + "/modules.dep";
        const bool available =
                probe_.readFile(modulesDep).value_or("").find("/usb_f_fs.ko") != std::string::npos;
        // (f_fs registers the filesystem when its first function instance is created, not
        // when the module loads.)
        if (registered)
            add(Verdict::Ok, "FunctionFS", "functionfs in /proc/filesystems");
        else if (moduleLoaded("usb_f_fs"))
            add(Verdict::Ok, "FunctionFS",
                "module usb_f_fs loaded (functionfs registers with the first ffs instance)");
        else if (available)
            add(Verdict::Ok, "FunctionFS",
                "module usb_f_fs in " + modulesDep + " (loaded when the gadget asks for it)");
        else
            add(Verdict::Missing, "FunctionFS",
                "no functionfs in /proc/filesystems and no usb_f_fs in " + modulesDep +
                        ": needs CONFIG_USB_F_FS and CONFIG_USB_CONFIGFS_F_FS");

        // FUNCTIONFS_DMABUF_ATTACH/DETACH/TRANSFER (Linux 6.9). Probing the ioctl needs a
        // data endpoint, i.e. a mounted function with descriptors bound to a UDC: too much to
        // set up, and a running daemon's endpoints are not ours to touch. The module's code
        // is the evidence: f_fs's DMABUF fence ops (ffs_dmabuf_get_driver_name(), never
        // inlined: a function pointer) in /proc/kallsyms, else the version.
        const std::string what = "FunctionFS DMABUF";
        if (!registered && !available && !moduleLoaded("usb_f_fs")) {
            add(Verdict::Note, what, "not checked: no FunctionFS (line above)");
            return;
        }
        if (symbolsOf("usb_f_fs") || (registered && !kallsyms_.empty())) {
            if (hasSymbol(kallsyms_, kFfsDmabufSymbol))
                add(Verdict::Ok, what,
                    std::string("FUNCTIONFS_DMABUF_ATTACH/TRANSFER: ") + kFfsDmabufSymbol + " in " +
                            kKallsyms);
            else
                add(Verdict::CopyOnly, what,
                    std::string("no ") + kFfsDmabufSymbol + " in " + kKallsyms +
                            ": this f_fs lacks FUNCTIONFS_DMABUF_ATTACH (Linux 6.9); the USB "
                            "side copies");
        } else if (versionAtLeast(release_, 6, 9)) {
            add(Verdict::Ok, what,
                "Linux " + release_ +
                        " >= 6.9 has FUNCTIONFS_DMABUF_ATTACH/TRANSFER (usb_f_fs not loaded: "
                        "judged by the version)");
        } else {
            add(Verdict::CopyOnly, what,
                "Linux " + release_ +
                        " < 6.9 has no FUNCTIONFS_DMABUF_ATTACH unless backported; the USB side "
                        "copies (docs/boards.md)");
        }
    }

    void checkIio()
    {
        if (!config_) {
            add(Verdict::Note, "IIO DMABUF",
                "no configuration: the streams' IIO devices were not probed (--config FILE)");
            return;
        }
        std::set<std::string> probed;
        for (const auto &stream : config_->streams) {
            const std::string what = "IIO DMABUF " + stream.name;
            auto id = probe_.resolveIioDevice(stream);
            if (!id) {
                add(Verdict::Missing, what, id.error().message);
                continue;
            }
            const std::string dev = what + " (" + *id + ")";
            if (!probed.insert(*id).second) {
                add(Verdict::Note, dev, "same device as an earlier stream");
                continue;
            }
            const auto p = probe_.probeIioDmabuf(*id);
            switch (p.state) {
            case IioDmabufProbe::State::Enabled:
                add(Verdict::Note, dev,
                    "buffer enabled (a stream is running): not probed, to leave it alone");
                break;
            case IioDmabufProbe::State::Busy:
                add(Verdict::Note, dev, "in use (" + p.detail + "): not probed");
                break;
            case IioDmabufProbe::State::Failed:
                add(Verdict::Missing, dev, p.detail);
                break;
            case IioDmabufProbe::State::Answered:
                iioAnswer(dev, p.error);
                break;
            }
        }
    }

    // IIO_BUFFER_DMABUF_ATTACH_IOCTL with fd -1 on the buffer fd (6.12's
    // iio_buffer_attach_dmabuf() checks the buffer's DMABUF ops before the fd).
    void iioAnswer(const std::string &what, int err)
    {
        const std::string ioctlName = "IIO_BUFFER_DMABUF_ATTACH_IOCTL";
        switch (err) {
        case EBADF:
            add(Verdict::Ok, what, ioctlName + " supported (fd -1 -> EBADF)");
            break;
        case ENOTTY:
            add(Verdict::CopyOnly, what,
                ioctlName + " -> ENOTTY: no IIO DMABUF in this kernel (Linux 6.11); the IIO "
                            "side copies");
            break;
        case EPERM:
            add(Verdict::CopyOnly, what,
                ioctlName + " -> EPERM: the buffer cannot import DMABUFs (not "
                            "industrialio-buffer-dma, e.g. kfifo; or ADI's "
                            "CONFIG_IIO_DMA_BUF_MMAP_LEGACY=y); the IIO side copies");
            break;
        default:
            add(Verdict::CopyOnly, what,
                ioctlName + " -> " + errnoString(err) +
                        ": unexpected; the IIO side will "
                        "likely copy");
        }
    }

    void checkAllocator()
    {
        std::set<std::string> heaps;
        if (config_)
            for (const auto &s : config_->streams)
                heaps.insert(s.dmabufHeap);
        if (heaps.empty())
            heaps.insert(StreamConfig{}.dmabufHeap);
        for (const auto &heap : heaps) {
            auto origin = probe_.allocateDmabuf(heap);
            if (origin)
                add(Verdict::Ok, "DMABUF allocator", "allocated a page from " + *origin);
            else
                add(Verdict::Missing, "DMABUF allocator",
                    origin.error().message + ": needs CONFIG_DMABUF_HEAPS_SYSTEM (" + heap +
                            ") or CONFIG_UDMABUF (/dev/udmabuf)");
        }
    }

    void checkLegacyMmap()
    {
        const std::string what = "CONFIG_IIO_DMA_BUF_MMAP_LEGACY";
        std::string source;
        const auto config = probe_.kernelConfig(&source);
        if (!config) {
            add(Verdict::Note, what,
                "cannot tell: no /proc/config.gz (CONFIG_IKCONFIG_PROC) and no /boot/config-" +
                        release_ + "; the IIO DMABUF lines show its effect");
        } else if (config->find("\n" + what + "=y") != std::string::npos ||
                   config->starts_with(what + "=y")) {
            add(Verdict::CopyOnly, what,
                "=y in " + source +
                        ": ADI's legacy mmap API replaces IIO DMABUF in "
                        "industrialio-buffer-dma; rebuild with it =n (docs/boards.md)");
        } else {
            add(Verdict::Ok, what, "not set in " + source);
        }
    }

    // The fixes carried in kernel-patches/linux-6.12 for the IIO core and
    // industrialio-buffer-dma (0010-0015) and f_fs (0020-0027) add no function that survives
    // inlining (checked with nm on the built modules: the only difference is an imported
    // flush_work, which /proc/kallsyms does not list), and a module's srcversion says
    // nothing without the expected value.
    // dummy_hcd's 0001 is detected on the UDC line.
    void checkKernelFixes()
    {
        add(Verdict::Note, "kernel fixes",
            "kernel-patches 0010-0015 (IIO core, industrialio-buffer-dma) and 0020-0027 (f_fs) "
            "cannot be detected at run time, see docs/boards.md");
    }

    static std::string join(const std::vector<std::string> &v)
    {
        std::string out;
        for (const auto &s : v)
            out += (out.empty() ? "" : ", ") + s;
        return out;
    }

    SystemProbe &probe_;
    const Config *config_;
    std::string release_;
    std::string kallsyms_;
    std::vector<CheckLine> lines_;
};

class LocalProbe final : public SystemProbe {
public:
    std::optional<std::string> readFile(const std::string &path) override
    {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            return std::nullopt;
        std::ostringstream out;
        out << in.rdbuf();
        return out.str();
    }

    std::vector<std::string> listDir(const std::string &path) override
    {
        std::vector<std::string> names;
        std::error_code ec;
        for (const auto &e : std::filesystem::directory_iterator(path, ec))
            names.push_back(e.path().filename());
        std::sort(names.begin(), names.end());
        return names;
    }

    bool exists(const std::string &path) override
    {
        std::error_code ec;
        return std::filesystem::exists(path, ec);
    }

    std::string readLink(const std::string &path) override
    {
        std::error_code ec;
        return std::filesystem::read_symlink(path, ec).string();
    }

    std::string kernelRelease() override
    {
        utsname u{};
        return uname(&u) == 0 ? u.release : "";
    }

    std::optional<std::string> kernelConfig(std::string *source) override
    {
        if (gzFile gz = gzopen("/proc/config.gz", "rb")) {
            std::string text;
            char chunk[16384];
            int n;
            while ((n = gzread(gz, chunk, sizeof(chunk))) > 0)
                text.append(chunk, n);
            gzclose(gz);
            if (n == 0 && !text.empty()) {
                *source = "/proc/config.gz";
                return text;
            }
        }
        *source = "/boot/config-" + kernelRelease();
        return readFile(*source);
    }

    Result<std::string> resolveIioDevice(const StreamConfig &stream) override
    {
        if (!ctx_) {
            auto ctx = iio::IioContext::createLocal();
            if (!ctx)
                return ctx.takeError();
            ctx_ = std::move(*ctx);
        }
        auto d = ctx_->describe(stream);
        if (!d)
            return d.takeError();
        return d->deviceId;
    }

    IioDmabufProbe probeIioDmabuf(const std::string &deviceId) override
    {
        const std::string dir = "/sys/bus/iio/devices/" + deviceId;
        std::string enable;
        for (const char *buffer : {"/buffer0/enable", "/buffer/enable"})
            if (auto e = readFile(dir + buffer)) {
                enable = *e;
                break;
            }
        if (enable.empty())
            return {IioDmabufProbe::State::Failed, 0,
                    deviceId + " has no buffer (" + dir + "/buffer0/enable missing)"};
        if (enable.starts_with("1"))
            return {IioDmabufProbe::State::Enabled, 0, {}};

        auto handles = iio::takeBuffer(deviceId);
        if (!handles) {
            const int err = handles.error().code;
            if (err == -EBUSY)
                return {IioDmabufProbe::State::Busy, 0, handles.error().message};
            if (err == -ENOTTY || err == -EINVAL)
                return {IioDmabufProbe::State::Answered, ENOTTY, {}}; // no buffer fds (< 5.11)
            return {IioDmabufProbe::State::Failed, 0, handles.error().message};
        }
        const UniqueFd buffer = std::move(handles->buffer);
        int invalid = -1;
        const int r = ioctl(buffer.get(), uapi::kIioDmabufAttach, &invalid);
        return {IioDmabufProbe::State::Answered, r < 0 ? errno : 0, {}};
    }

    Result<std::string> allocateDmabuf(const std::string &heapPath) override
    {
        auto buf = dmabuf::DmaBuf::allocate(heapPath, 4096);
        if (!buf)
            return buf.takeError();
        return buf->origin();
    }

private:
    std::unique_ptr<iio::IioContext> ctx_;
};

} // namespace

std::pair<int, int> kernelVersion(const std::string &release)
{
    int major = 0, minor = 0;
    if (sscanf(release.c_str(), "%d.%d", &major, &minor) != 2)
        return {0, 0};
    return {major, minor};
}

std::unique_ptr<SystemProbe> localProbe()
{
    return std::make_unique<LocalProbe>();
}

std::vector<CheckLine> checkSystem(SystemProbe &probe, const Config *config)
{
    return Checker(probe, config).run();
}

int exitStatus(const std::vector<CheckLine> &lines)
{
    int status = 0;
    for (const auto &l : lines) {
        if (l.verdict == Verdict::Missing)
            return 2;
        if (l.verdict == Verdict::CopyOnly)
            status = 1;
    }
    return status;
}

std::string formatLine(const CheckLine &line)
{
    static const char *const kLabel[] = {"ok", "note", "copy-only", "missing"};
    char label[16];
    snprintf(label, sizeof(label), "%-10s", kLabel[static_cast<int>(line.verdict)]);
    return label + line.what + ": " + line.text;
}

int runSystemCheck(const std::string &configPath, bool configGiven)
{
    std::optional<Config> config;
    std::vector<CheckLine> lines;
    if (auto loaded = loadConfig(configPath)) {
        config = std::move(*loaded);
        lines.push_back({Verdict::Ok, "configuration", configPath});
    } else if (configGiven || loaded.error().code != -ENOENT) {
        lines.push_back({Verdict::Missing, "configuration", loaded.error().message});
    } else {
        lines.push_back({Verdict::Note, "configuration",
                         configPath + " does not exist: checking without one (--config FILE)"});
    }
    auto probe = localProbe();
    for (auto &line : checkSystem(*probe, config ? &*config : nullptr))
        lines.push_back(std::move(line));
    for (const auto &line : lines)
        printf("%s\n", formatLine(line).c_str());
    const int status = exitStatus(lines);
    printf("%s\n", summaryLine(status).c_str());
    return status;
}

std::string summaryLine(int status)
{
    switch (status) {
    case 0:
        return "result: zero-copy possible on both sides (exit 0)";
    case 1:
        return "result: zero-copy impossible on a side, the copy fallback works (exit 1)";
    default:
        return "result: iiousbd or a configured stream cannot run (exit 2)";
    }
}

} // namespace iiousb::check
