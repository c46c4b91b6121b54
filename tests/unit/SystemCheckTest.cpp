// The --check-system report logic against a fake system (check::SystemProbe with injected
// results): which line says what, and the exit status.
#include "check/SystemCheck.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

using namespace iiousb;
using namespace iiousb::check;

namespace {

class FakeProbe : public SystemProbe {
public:
    std::map<std::string, std::string> files;
    std::map<std::string, std::vector<std::string>> dirs;
    std::set<std::string> paths;
    std::map<std::string, std::string> links;
    std::string release = "6.12.38+deb12-amd64";
    std::optional<std::string> config;
    std::map<std::string, std::string> devices; // stream device selector -> iio:deviceN
    std::map<std::string, IioDmabufProbe> iio;  // iio:deviceN -> probe result
    std::map<std::string, std::string> heaps;   // heap path -> origin; missing: fails
    std::vector<std::string> iioProbed;

    std::optional<std::string> readFile(const std::string &path) override
    {
        auto it = files.find(path);
        return it == files.end() ? std::nullopt : std::optional(it->second);
    }
    std::vector<std::string> listDir(const std::string &path) override
    {
        auto it = dirs.find(path);
        return it == dirs.end() ? std::vector<std::string>{} : it->second;
    }
    bool exists(const std::string &path) override { return paths.count(path) != 0; }
    std::string readLink(const std::string &path) override
    {
        auto it = links.find(path);
        return it == links.end() ? "" : it->second;
    }
    std::string kernelRelease() override { return release; }
    std::optional<std::string> kernelConfig(std::string *source) override
    {
        *source = "/proc/config.gz";
        return config;
    }
    Result<std::string> resolveIioDevice(const StreamConfig &stream) override
    {
        auto it = devices.find(stream.device);
        if (it == devices.end())
            return makeError(-ENODEV, "No IIO device '" + stream.device + "'");
        return it->second;
    }
    IioDmabufProbe probeIioDmabuf(const std::string &deviceId) override
    {
        iioProbed.push_back(deviceId);
        return iio.at(deviceId);
    }
    Result<std::string> allocateDmabuf(const std::string &heapPath) override
    {
        auto it = heaps.find(heapPath);
        if (it == heaps.end())
            return makeError(-ENOENT, "Failed to open " + heapPath + " and /dev/udmabuf");
        return it->second;
    }

    // A system with everything the zero-copy path needs: the rig's patched modules.
    static FakeProbe complete()
    {
        FakeProbe p;
        p.files["/proc/mounts"] = "sysfs /sys sysfs rw 0 0\n"
                                  "configfs /sys/kernel/config configfs rw 0 0\n";
        p.paths.insert("/sys/kernel/config/usb_gadget");
        p.dirs["/sys/class/udc"] = {"dummy_udc.0"};
        p.links["/sys/class/udc/dummy_udc.0/device/driver"] =
                "../../../bus/platform/drivers/dummy_udc";
        p.files["/proc/filesystems"] = "nodev\tsysfs\nnodev\tfunctionfs\n";
        for (const char *m : {"dummy_hcd", "usb_f_fs", "industrialio_buffer_dma"})
            p.paths.insert(std::string("/sys/module/") + m);
        p.files["/proc/kallsyms"] = "0000000000000000 T _text\n"
                                    "0000000000000000 t dummy_copy_request\t[dummy_hcd]\n"
                                    "0000000000000000 t ffs_dmabuf_get_driver_name\t[usb_f_fs]\n"
                                    "0000000000000000 T iio_dma_buffer_attach_dmabuf\t"
                                    "[industrialio_buffer_dma]\n";
        p.config = "CONFIG_IIO=m\n# CONFIG_IIO_DMA_BUF_MMAP_LEGACY is not set\n";
        p.devices = {{"iio-sim-adc", "iio:device0"}, {"iio-sim-dac", "iio:device1"}};
        p.iio["iio:device0"] = {IioDmabufProbe::State::Answered, EBADF, {}};
        p.iio["iio:device1"] = {IioDmabufProbe::State::Answered, EBADF, {}};
        p.heaps["/dev/dma_heap/system"] = "/dev/dma_heap/system";
        return p;
    }
};

Config twoStreams()
{
    Config c;
    StreamConfig rx;
    rx.name = "rx0";
    rx.device = "iio-sim-adc";
    StreamConfig tx = rx;
    tx.name = "tx0";
    tx.direction = proto::Direction::Tx;
    tx.device = "iio-sim-dac";
    c.streams = {rx, tx};
    return c;
}

const CheckLine &lineFor(const std::vector<CheckLine> &lines, const std::string &what)
{
    for (const auto &l : lines)
        if (l.what == what)
            return l;
    static CheckLine none{Verdict::Missing, "(none)", "no line"};
    ADD_FAILURE() << "no line for " << what;
    return none;
}

} // namespace

TEST(SystemCheck, CompleteSystemIsAllOk)
{
    FakeProbe p = FakeProbe::complete();
    const Config c = twoStreams();
    const auto lines = checkSystem(p, &c);
    for (const auto &l : lines) {
        if (l.what != "kernel fixes") { // never detectable: a note
            EXPECT_EQ(l.verdict, Verdict::Ok) << formatLine(l);
        }
    }
    EXPECT_EQ(exitStatus(lines), 0);
    EXPECT_EQ(lineFor(lines, "kernel fixes").verdict, Verdict::Note);
    EXPECT_NE(lineFor(lines, "kernel fixes").text.find("cannot be detected at run time"),
              std::string::npos);
    EXPECT_NE(lineFor(lines, "UDC dummy_udc.0").text.find("kernel-patches 0001"),
              std::string::npos);
    EXPECT_NE(lineFor(lines, "IIO DMABUF rx0 (iio:device0)").text.find("EBADF"), std::string::npos);
    EXPECT_EQ(formatLine(lineFor(lines, "configfs")),
              "ok        configfs: mounted on /sys/kernel/config");
}

TEST(SystemCheck, StockDummyHcdIsCopyOnly)
{
    FakeProbe p = FakeProbe::complete();
    p.files["/proc/kallsyms"] = "0000000000000000 t ffs_dmabuf_get_driver_name\t[usb_f_fs]\n"
                                "0000000000000000 T iio_dma_buffer_attach_dmabuf\t"
                                "[industrialio_buffer_dma]\n";
    const Config c = twoStreams();
    const auto lines = checkSystem(p, &c);
    const auto &udc = lineFor(lines, "UDC dummy_udc.0");
    EXPECT_EQ(udc.verdict, Verdict::CopyOnly);
    EXPECT_NE(udc.text.find("no scatter-gather"), std::string::npos) << udc.text;
    EXPECT_EQ(exitStatus(lines), 1);
}

TEST(SystemCheck, DummyHcdWithoutKallsymsIsUnknown)
{
    FakeProbe p = FakeProbe::complete();
    p.files.erase("/proc/kallsyms");
    const auto lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "UDC dummy_udc.0").verdict, Verdict::Note);
    // FunctionFS DMABUF by the kernel version then.
    const auto &ffs = lineFor(lines, "FunctionFS DMABUF");
    EXPECT_EQ(ffs.verdict, Verdict::Ok);
    EXPECT_NE(ffs.text.find(">= 6.9"), std::string::npos) << ffs.text;
    p.release = "6.1.70-xilinx";
    EXPECT_EQ(lineFor(checkSystem(p, nullptr), "FunctionFS DMABUF").verdict, Verdict::CopyOnly);
}

TEST(SystemCheck, KnownSgDriversAndUnknownOnes)
{
    FakeProbe p = FakeProbe::complete();
    p.dirs["/sys/class/udc"] = {"fe200000.usb", "ci_hdrc.0", "other.0"};
    p.links["/sys/class/udc/fe200000.usb/device/driver"] = "../../bus/platform/drivers/dwc3";
    p.links["/sys/class/udc/ci_hdrc.0/device/driver"] = "../../bus/platform/drivers/ci_hdrc";
    p.links["/sys/class/udc/other.0/device/driver"] = "../../bus/platform/drivers/musb-hdrc";
    const auto lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "UDC fe200000.usb").verdict, Verdict::Ok);
    EXPECT_EQ(lineFor(lines, "UDC ci_hdrc.0").verdict, Verdict::Ok);
    EXPECT_EQ(lineFor(lines, "UDC other.0").verdict, Verdict::Note);
    // The configured UDC only.
    Config c;
    c.gadget.udc = "ci_hdrc.0";
    const auto only = checkSystem(p, &c);
    EXPECT_EQ(lineFor(only, "UDC ci_hdrc.0").verdict, Verdict::Ok);
    for (const auto &l : only)
        EXPECT_NE(l.what, "UDC other.0");
    c.gadget.udc = "gone.0";
    EXPECT_EQ(lineFor(checkSystem(p, &c), "UDC gone.0").verdict, Verdict::Missing);
}

TEST(SystemCheck, NoUdcNoConfigfsNoGadgetCannotRun)
{
    FakeProbe p = FakeProbe::complete();
    p.dirs.erase("/sys/class/udc");
    auto lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "UDC").verdict, Verdict::Missing);
    EXPECT_EQ(exitStatus(lines), 2);

    p = FakeProbe::complete();
    p.files["/proc/mounts"] = "sysfs /sys sysfs rw 0 0\n";
    p.paths.erase("/sys/kernel/config/usb_gadget");
    lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "configfs").verdict, Verdict::Missing);
    EXPECT_NE(lineFor(lines, "configfs").text.find("mount -t configfs"), std::string::npos);
    EXPECT_NE(lineFor(lines, "usb_gadget configfs").text.find("modprobe libcomposite"),
              std::string::npos);
    EXPECT_EQ(exitStatus(lines), 2);
}

TEST(SystemCheck, FunctionFsFromModulesDepOrMissing)
{
    FakeProbe p = FakeProbe::complete();
    p.files["/proc/filesystems"] = "nodev\tsysfs\n";
    p.paths.erase("/sys/module/usb_f_fs");
    p.files["/lib/modules/6.12.38+deb12-amd64/modules.dep"] =
            "kernel/drivers/usb/gadget/function/usb_f_fs.ko: kernel/drivers/usb/gadget/"
            "libcomposite.ko\n";
    auto lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "FunctionFS").verdict, Verdict::Ok);
    EXPECT_NE(lineFor(lines, "FunctionFS").text.find("usb_f_fs"), std::string::npos);
    p.paths.insert("/sys/module/usb_f_fs");
    lines = checkSystem(p, nullptr);
    EXPECT_NE(lineFor(lines, "FunctionFS").text.find("usb_f_fs loaded"), std::string::npos);
    p.paths.erase("/sys/module/usb_f_fs");
    p.files.erase("/lib/modules/6.12.38+deb12-amd64/modules.dep");
    lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "FunctionFS").verdict, Verdict::Missing);
    EXPECT_EQ(lineFor(lines, "FunctionFS DMABUF").verdict, Verdict::Note);
    EXPECT_EQ(exitStatus(lines), 2);
}

TEST(SystemCheck, LoadedFfsWithoutDmabufIsCopyOnly)
{
    FakeProbe p = FakeProbe::complete();
    p.files["/proc/kallsyms"] = "0000000000000000 t dummy_copy_request\t[dummy_hcd]\n"
                                "0000000000000000 t ffs_dmabuf_get_driver_namex\t[usb_f_fs]\n";
    const auto lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "FunctionFS DMABUF").verdict, Verdict::CopyOnly);
    EXPECT_EQ(exitStatus(lines), 1);
}

TEST(SystemCheck, IioProbeAnswers)
{
    const Config c = twoStreams();
    const std::pair<int, Verdict> cases[] = {{EBADF, Verdict::Ok},
                                             {ENOTTY, Verdict::CopyOnly},
                                             {EPERM, Verdict::CopyOnly},
                                             {EIO, Verdict::CopyOnly}};
    for (const auto &[err, verdict] : cases) {
        FakeProbe p = FakeProbe::complete();
        p.iio["iio:device0"].error = err;
        const auto lines = checkSystem(p, &c);
        const auto &l = lineFor(lines, "IIO DMABUF rx0 (iio:device0)");
        EXPECT_EQ(l.verdict, verdict) << formatLine(l);
        EXPECT_EQ(exitStatus(lines), verdict == Verdict::Ok ? 0 : 1) << err;
    }
}

TEST(SystemCheck, IioSkipsEnabledAndBusyBuffersAndReportsMissingDevices)
{
    FakeProbe p = FakeProbe::complete();
    p.iio["iio:device0"] = {IioDmabufProbe::State::Enabled, 0, {}};
    p.iio["iio:device1"] = {IioDmabufProbe::State::Busy, 0, "PID 7 (iiod)"};
    Config c = twoStreams();
    auto lines = checkSystem(p, &c);
    EXPECT_EQ(lineFor(lines, "IIO DMABUF rx0 (iio:device0)").verdict, Verdict::Note);
    EXPECT_NE(lineFor(lines, "IIO DMABUF rx0 (iio:device0)").text.find("not probed"),
              std::string::npos);
    EXPECT_NE(lineFor(lines, "IIO DMABUF tx0 (iio:device1)").text.find("PID 7 (iiod)"),
              std::string::npos);
    EXPECT_EQ(exitStatus(lines), 0);

    // Two streams on one device: probed once.
    p = FakeProbe::complete();
    c.streams[1].device = "iio-sim-adc";
    lines = checkSystem(p, &c);
    EXPECT_EQ(p.iioProbed, std::vector<std::string>{"iio:device0"});
    EXPECT_EQ(lineFor(lines, "IIO DMABUF tx0 (iio:device0)").verdict, Verdict::Note);

    c.streams[1].device = "nonexistent";
    lines = checkSystem(p, &c);
    EXPECT_EQ(lineFor(lines, "IIO DMABUF tx0").verdict, Verdict::Missing);
    EXPECT_EQ(exitStatus(lines), 2);
}

TEST(SystemCheck, AllocatorPerConfiguredHeap)
{
    FakeProbe p = FakeProbe::complete();
    p.heaps.clear();
    p.heaps["/dev/dma_heap/system"] = "udmabuf";
    auto lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "DMABUF allocator").verdict, Verdict::Ok);
    EXPECT_NE(lineFor(lines, "DMABUF allocator").text.find("udmabuf"), std::string::npos);
    p.heaps.clear();
    lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "DMABUF allocator").verdict, Verdict::Missing);
    EXPECT_NE(lineFor(lines, "DMABUF allocator").text.find("CONFIG_UDMABUF"), std::string::npos);
    EXPECT_EQ(exitStatus(lines), 2);
}

TEST(SystemCheck, LegacyMmapOption)
{
    FakeProbe p = FakeProbe::complete();
    p.config = "CONFIG_IIO=m\nCONFIG_IIO_DMA_BUF_MMAP_LEGACY=y\n";
    auto lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "CONFIG_IIO_DMA_BUF_MMAP_LEGACY").verdict, Verdict::CopyOnly);
    EXPECT_EQ(exitStatus(lines), 1);
    p.config.reset();
    lines = checkSystem(p, nullptr);
    EXPECT_EQ(lineFor(lines, "CONFIG_IIO_DMA_BUF_MMAP_LEGACY").verdict, Verdict::Note);
    EXPECT_EQ(exitStatus(lines), 0);
}

TEST(SystemCheck, KernelVersion)
{
    EXPECT_EQ(kernelVersion("6.12.38+deb12-arm64"), std::make_pair(6, 12));
    EXPECT_EQ(kernelVersion("5.15.36-xilinx"), std::make_pair(5, 15));
    EXPECT_EQ(kernelVersion("weird"), std::make_pair(0, 0));
    EXPECT_EQ(summaryLine(1).find("exit 1") != std::string::npos, true);
}
