// The configuration loader: the example configs load, defaults and value syntaxes, and a
// corpus of broken configs (data/config/*.yaml) whose first line says the expected error:
// "# expect: SUFFIX" where the message must be "<path>SUFFIX".
#include "config/Config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using namespace iiousb;

namespace {

const fs::path kSource = IIOUSB_SOURCE_DIR;

// A machine with 1 GiB of memory, 4 KiB pages and any mount point welcome.
SystemFacts testFacts()
{
    SystemFacts f;
    f.memTotal = 1ull << 30;
    f.memTotalSource = "test";
    f.pageSize = 4096;
    f.mountPointProblem = [](const std::string &) { return std::string(); };
    return f;
}

Config parseOk(const std::string &text, const SystemFacts &facts = testFacts())
{
    auto c = parseConfig(text, "test.yaml", facts);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? *c : Config{};
}

const char *kMinimal = "gadget: {vid: 0x1d6b, pid: 260}\n"
                       "streams:\n"
                       "  - {name: rx0, direction: rx, device: iio-sim-adc}\n";

} // namespace

TEST(Config, ExamplesLoad)
{
    std::vector<fs::path> files;
    for (const auto &e : fs::directory_iterator(kSource / "config"))
        if (e.path().extension() == ".yaml")
            files.push_back(e.path());
    ASSERT_GE(files.size(), 3u);
    for (const auto &f : files) {
        auto c = loadConfig(f.string());
        EXPECT_TRUE(c.ok()) << f << ": " << (c.ok() ? "" : c.error().message);
    }
}

TEST(Config, SimulatedDeviceExample)
{
    auto c = loadConfig((kSource / "config/iiousbd.yaml").string());
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->gadget.vendorId, 0x1d6b);
    EXPECT_EQ(c->gadget.productId, 0x0104);
    EXPECT_EQ(c->gadget.serial, "0001");
    EXPECT_EQ(c->gadget.udc, ""); // auto
    ASSERT_EQ(c->streams.size(), 2u);
    EXPECT_EQ(c->streams[0].name, "rx0");
    EXPECT_EQ(c->streams[0].direction, proto::Direction::Rx);
    EXPECT_EQ(c->streams[0].device, "iio-sim-adc");
    EXPECT_FALSE(c->streams[0].channels.has_value());
    EXPECT_EQ(c->streams[0].blockSize, 1u << 20);
    ASSERT_EQ(c->streams[0].attributes.size(), 1u);
    EXPECT_EQ(c->streams[0].attributes[0].first, "sampling_frequency");
    EXPECT_EQ(c->streams[0].attributes[0].second, "1000000");
    EXPECT_EQ(c->streams[1].direction, proto::Direction::Tx);
}

TEST(Config, Defaults)
{
    Config c = parseOk(kMinimal);
    EXPECT_EQ(c.path, "test.yaml");
    EXPECT_EQ(c.gadget.name, "iiousb");
    EXPECT_EQ(c.gadget.vendorId, 0x1d6b);
    EXPECT_EQ(c.gadget.productId, 260);
    EXPECT_EQ(c.gadget.bcdDevice, 0x0100);
    EXPECT_EQ(c.gadget.maxPowerMa, 100u);
    EXPECT_EQ(c.gadget.udc, "");
    EXPECT_EQ(c.gadget.serial, "");
    EXPECT_EQ(c.functionfs.instance, "iiousb");
    EXPECT_EQ(c.functionfs.mountPoint, "/run/iiousbd/ffs");
    EXPECT_FALSE(c.libiio.enabled);
    EXPECT_EQ(c.libiio.pipes, 3u);
    EXPECT_EQ(c.libiio.instance, "iio");
    EXPECT_EQ(c.libiio.mountPoint, "/run/iiousbd/iio");
    EXPECT_TRUE(c.libiio.attributeWrites);
    EXPECT_FALSE(c.libiio.debugAttributes);
    EXPECT_EQ(c.limits.dmabufMemory, 256u << 20); // a quarter of the test's 1 GiB
    EXPECT_FALSE(c.limits.dmabufMemoryFromFile);
    ASSERT_EQ(c.streams.size(), 1u);
    const StreamConfig &s = c.streams[0];
    EXPECT_EQ(s.blockSize, 1u << 20);
    EXPECT_EQ(s.blockCount, 4u);
    EXPECT_EQ(s.dmabufHeap, "/dev/dma_heap/system");
    EXPECT_EQ(s.zeroCopy, ZeroCopy::Auto);
    EXPECT_FALSE(s.channels.has_value());
    EXPECT_TRUE(s.attributes.empty());
}

TEST(Config, Values)
{
    Config c = parseOk("gadget:\n"
                       "  name: board_1\n"
                       "  vid: 0x0456\n"
                       "  pid: 0xB673\n"
                       "  bcd-device: 0x0212\n"
                       "  serial: 0042\n" // plain scalars keep their text
                       "  max-power: 500\n"
                       "  udc: ci_hdrc.0\n"
                       "functionfs: {instance: sdr, mount: /dev/ffs-sdr}\n"
                       "streams:\n"
                       "  - name: a\n"
                       "    direction: tx\n"
                       "    device: iio:device3\n"
                       "    channels: [voltage2, voltage0]\n"
                       "    attributes: {b: 2, a: one}\n"
                       "    block-size: 64K\n"
                       "    block-count: 64\n"
                       "    dmabuf-heap: /dev/dma_heap/reserved\n"
                       "    zero-copy: require\n"
                       "    stall-timeout: 0\n"
                       "  - {name: b, direction: rx, device: x, block-size: 2MiB, zero-copy: off,\n"
                       "     stall-timeout: 30}\n"
                       "  - {name: c, direction: rx, device: y, block-size: 12KiB, channels: all}\n"
                       "  - {name: d, direction: rx, device: z, block-size: 0x1000}\n");
    EXPECT_EQ(c.gadget.name, "board_1");
    EXPECT_EQ(c.gadget.productId, 0xb673);
    EXPECT_EQ(c.gadget.bcdDevice, 0x0212);
    EXPECT_EQ(c.gadget.serial, "0042");
    EXPECT_EQ(c.gadget.maxPowerMa, 500u);
    EXPECT_EQ(c.gadget.udc, "ci_hdrc.0");
    EXPECT_EQ(c.functionfs.instance, "sdr");
    EXPECT_EQ(c.functionfs.mountPoint, "/dev/ffs-sdr");
    ASSERT_EQ(c.streams.size(), 4u);
    const StreamConfig &a = c.streams[0];
    EXPECT_EQ(a.direction, proto::Direction::Tx);
    EXPECT_EQ(a.device, "iio:device3");
    ASSERT_TRUE(a.channels.has_value());
    EXPECT_EQ(*a.channels, (std::vector<std::string>{"voltage2", "voltage0"}));
    ASSERT_EQ(a.attributes.size(), 2u); // in file order
    EXPECT_EQ(a.attributes[0], (std::pair<std::string, std::string>{"b", "2"}));
    EXPECT_EQ(a.attributes[1], (std::pair<std::string, std::string>{"a", "one"}));
    EXPECT_EQ(a.blockSize, 64u * 1024);
    EXPECT_EQ(a.blockCount, 64u);
    EXPECT_EQ(a.dmabufHeap, "/dev/dma_heap/reserved");
    EXPECT_EQ(a.zeroCopy, ZeroCopy::Require);
    EXPECT_EQ(a.stallTimeout, std::chrono::milliseconds(0));
    EXPECT_EQ(c.streams[1].stallTimeout, std::chrono::seconds(30));
    EXPECT_EQ(c.streams[2].stallTimeout, std::chrono::seconds(5)); // the default
    EXPECT_EQ(c.streams[1].blockSize, 2u << 20);
    EXPECT_EQ(c.streams[1].zeroCopy, ZeroCopy::Off);
    EXPECT_EQ(c.streams[2].blockSize, 12u * 1024);
    EXPECT_FALSE(c.streams[2].channels.has_value());
    EXPECT_EQ(c.streams[3].blockSize, 4096u);
}

TEST(Config, Libiio)
{
    Config c = parseOk(std::string(kMinimal) +
                       "libiio: {enabled: true, pipes: 4, instance: pluto, mount: /run/p,\n"
                       "         attribute-writes: false, debug-attributes: true}\n");
    EXPECT_TRUE(c.libiio.enabled);
    EXPECT_EQ(c.libiio.pipes, 4u);
    EXPECT_EQ(c.libiio.instance, "pluto");
    EXPECT_EQ(c.libiio.mountPoint, "/run/p");
    EXPECT_FALSE(c.libiio.attributeWrites);
    EXPECT_TRUE(c.libiio.debugAttributes);
    // The example configuration exposes both interfaces.
    auto example = loadConfig((kSource / "config/iiousbd.yaml").string());
    ASSERT_TRUE(example.ok()) << example.error().message;
    EXPECT_TRUE(example->libiio.enabled);
    EXPECT_EQ(example->libiio.pipes, 3u);
}

TEST(Config, LibiioZeroCopy)
{
    Config d = parseOk(std::string(kMinimal) + "libiio: {enabled: true}\n");
    EXPECT_EQ(d.libiio.zeroCopy, ZeroCopy::Auto);
    EXPECT_EQ(d.libiio.dmabufHeap, "/dev/dma_heap/system");
    EXPECT_EQ(d.libiio.buffers, 4u);
    Config c = parseOk(std::string(kMinimal) +
                       "libiio: {enabled: true, zero-copy: require, dmabuf-heap: /dev/dma_heap/x,\n"
                       "         buffers: 8}\n");
    EXPECT_EQ(c.libiio.zeroCopy, ZeroCopy::Require);
    EXPECT_EQ(c.libiio.dmabufHeap, "/dev/dma_heap/x");
    EXPECT_EQ(c.libiio.buffers, 8u);
    EXPECT_EQ(parseOk(std::string(kMinimal) + "libiio: {zero-copy: off}\n").libiio.zeroCopy,
              ZeroCopy::Off);
}

TEST(Config, SameSettingsIgnoresPath)
{
    auto a = parseConfig(kMinimal, "a.yaml", testFacts());
    auto b = parseConfig(kMinimal, "b.yaml", testFacts());
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(a->sameSettings(*b));
    auto c = parseConfig(std::string(kMinimal) + "functionfs: {instance: other}\n", "a.yaml",
                         testFacts());
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(a->sameSettings(*c));
    auto d = parseConfig(std::string(kMinimal) + "limits: {dmabuf-memory: 1G}\n", "a.yaml",
                         testFacts());
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(a->sameSettings(*d));
}

std::string parseError(const std::string &text, const SystemFacts &facts = testFacts())
{
    auto c = parseConfig(text, "test.yaml", facts);
    EXPECT_FALSE(c.ok()) << "loaded";
    return c.ok() ? "" : c.error().message;
}

TEST(Config, LibiioZeroCopyErrors)
{
    const std::string base = std::string(kMinimal) + "libiio:\n  enabled: true\n";
    EXPECT_EQ(parseError(base + "  zero-copy: maybe\n"),
              "test.yaml:6:14: libiio.zero-copy: expected auto, require or off, got 'maybe'");
    EXPECT_NE(parseError(base + "  buffers: 0\n").find("libiio.buffers"), std::string::npos);
}

TEST(Config, LibiioDevices)
{
    EXPECT_FALSE(parseOk(std::string(kMinimal) + "libiio: {enabled: true}\n").libiio.devices);
    EXPECT_FALSE(parseOk(std::string(kMinimal) + "libiio: {devices: all}\n").libiio.devices);
    Config c = parseOk(std::string(kMinimal) +
                       "libiio: {devices: [ad9361-phy, 'iio:device3', cf-ad9361-lpc]}\n");
    ASSERT_TRUE(c.libiio.devices);
    EXPECT_EQ(*c.libiio.devices,
              (std::vector<std::string>{"ad9361-phy", "iio:device3", "cf-ad9361-lpc"}));
    const std::string base = std::string(kMinimal) + "libiio:\n  devices: ";
    EXPECT_EQ(parseError(base + "[]\n"),
              "test.yaml:5:12: libiio.devices: expected 'all' or a list of IIO device ids "
              "(iio:deviceN), names or labels, got an empty list");
    EXPECT_EQ(parseError(base + "some\n"),
              "test.yaml:5:12: libiio.devices: expected 'all' or a list of IIO device ids "
              "(iio:deviceN), names or labels, got 'some'");
    EXPECT_EQ(parseError(base + "[adc, adc]\n"),
              "test.yaml:5:18: libiio.devices[1]: device 'adc' listed twice");
    EXPECT_NE(parseError(base + "[{a: 1}]\n").find("libiio.devices[0]: expected a string"),
              std::string::npos);
}

// Two streams of 4 x 64 MiB and 1 x 1 MiB: 257 MiB (the second on line 4).
const char *kBig = "gadget: {vid: 0x1d6b, pid: 260}\n"
                   "streams:\n"
                   "  - {name: rx0, direction: rx, device: adc, block-size: 64M}\n"
                   "  - {name: tx0, direction: tx, device: dac, block-count: 1}\n";

TEST(Config, DmabufMemoryDefaultCap)
{
    // 1 GiB of memory: 256 MiB for DMABUFs.
    EXPECT_EQ(parseError(kBig),
              "test.yaml:4:5: streams[1]: the DMABUFs of streams[0..1] take 257 MiB (block-size x "
              "block-count, summed), more than the 256 MiB allowed (the default: 1/4 of MemTotal "
              "1 GiB from test; set limits.dmabuf-memory to change it)");
    // MemTotal as /proc/meminfo gives it (kB, not a whole MiB).
    SystemFacts f = testFacts();
    f.memTotal = 1004580ull * 1024;
    f.memTotalSource = "/proc/meminfo";
    Config c = parseOk(kMinimal, f);
    EXPECT_EQ(c.limits.dmabufMemory, 1004580ull * 1024 / 4);
    // Unknown MemTotal: no default cap.
    f.memTotal = 0;
    Config big = parseOk(kBig, f);
    EXPECT_EQ(big.limits.dmabufMemory, 0u);
    // Exactly at the cap is fine.
    SystemFacts g = testFacts();
    g.memTotal = 257ull << 22; // a quarter: 257 MiB
    parseOk(kBig, g);
}

TEST(Config, DmabufMemoryKey)
{
    Config c = parseOk(std::string(kBig) + "limits:\n  dmabuf-memory: 2GiB\n");
    EXPECT_EQ(c.limits.dmabufMemory, 2ull << 30);
    EXPECT_TRUE(c.limits.dmabufMemoryFromFile);
    // The key wins over MemTotal, both ways.
    EXPECT_EQ(parseOk(std::string(kMinimal) + "limits: {dmabuf-memory: 1G}\n").limits.dmabufMemory,
              1u << 30);
    EXPECT_EQ(parseError("limits: {dmabuf-memory: 4M}\n" + std::string(kMinimal) +
                         "  - {name: tx0, direction: tx, device: dac, block-count: 1}\n"),
              "test.yaml:5:5: streams[1]: the DMABUFs of streams[0..1] take 5 MiB (block-size x "
              "block-count, summed), more than the 4 MiB allowed (limits.dmabuf-memory at line 1)");
    EXPECT_EQ(parseError(std::string(kMinimal) + "limits: {dmabuf-memory: 1000K}\n"),
              "test.yaml:4:25: limits.dmabuf-memory: expected a size in bytes "
              "1048576..1099511627776 (suffixes K, KiB, M, MiB, G, GiB allowed), got '1000K'");
}

TEST(Config, BlockSizeMultiple)
{
    const std::string head = "gadget: {vid: 0x1d6b, pid: 260}\nstreams:\n  - {name: a, "
                             "direction: rx, device: x, block-size: ";
    EXPECT_EQ(parseOk(head + "4K}\n").streams[0].blockSize, 4096u);
    EXPECT_EQ(parseError(head + "1536}\n"),
              "test.yaml:3:53: streams[0].block-size: expected a multiple of 4096 (whole "
              "1024-byte USB packets and whole 4096-byte pages), got '1536'");
    // 64 KiB pages (arm64 kernels with CONFIG_ARM64_64K_PAGES).
    SystemFacts f = testFacts();
    f.pageSize = 65536;
    EXPECT_EQ(parseOk(head + "128K}\n", f).streams[0].blockSize, 128u << 10);
    EXPECT_EQ(parseError(head + "4K}\n", f),
              "test.yaml:3:53: streams[0].block-size: expected a multiple of 65536 (whole "
              "1024-byte USB packets and whole 65536-byte pages), got '4K'");
    // The default, 1 MiB, fits both.
    EXPECT_EQ(parseOk(kMinimal, f).streams[0].blockSize, 1u << 20);
}

TEST(Config, OneStreamPerDeviceAndDirection)
{
    // rx and tx on one device are two buffers; different selectors of one device are only
    // told apart at start.
    Config c = parseOk("gadget: {vid: 0x1d6b, pid: 260}\nstreams:\n"
                       "  - {name: a, direction: rx, device: adc}\n"
                       "  - {name: b, direction: tx, device: adc}\n"
                       "  - {name: c, direction: rx, device: iio:device0}\n");
    EXPECT_EQ(c.streams.size(), 3u);
    EXPECT_EQ(parseError("gadget: {vid: 0x1d6b, pid: 260}\nstreams:\n"
                         "  - {name: a, direction: tx, device: dac}\n"
                         "  - {name: b, direction: tx, device: dac}\n"),
              "test.yaml:4:38: streams[1].device: IIO device 'dac' already has a tx stream ('a', "
              "streams[0]): one IIO buffer has one owner");
}

TEST(Config, MountPointChecked)
{
    SystemFacts f = testFacts();
    std::vector<std::string> asked;
    f.mountPointProblem = [&asked](const std::string &path) {
        asked.push_back(path);
        return path == "/busy" ? std::string("it is busy") : std::string();
    };
    parseOk(kMinimal, f); // the default is checked too
    parseOk(std::string(kMinimal) + "functionfs: {mount: /free}\n", f);
    EXPECT_EQ(asked, (std::vector<std::string>{"/run/iiousbd/ffs", "/free"}));
    EXPECT_EQ(parseError(std::string(kMinimal) + "functionfs: {instance: x, mount: /busy}\n", f),
              "test.yaml:4:34: functionfs.mount: it is busy");
}

TEST(Config, LocalMountPointProblem)
{
    const fs::path dir = fs::path(testing::TempDir()) / "iiousb-mount-test";
    fs::remove_all(dir);
    EXPECT_EQ(localMountPointProblem((dir / "missing").string()), ""); // created at start
    EXPECT_EQ(localMountPointProblem((dir / "missing/below").string()), "");
    fs::create_directories(dir / "empty");
    EXPECT_EQ(localMountPointProblem((dir / "empty").string()), "");
    fs::create_directories(dir / "full/sub");
    EXPECT_EQ(localMountPointProblem((dir / "full").string()),
              "'" + (dir / "full").string() +
                      "' is a directory with files in it (expected a missing or empty directory: "
                      "FunctionFS is mounted over it)");
    std::ofstream((dir / "file").string()) << "x";
    EXPECT_EQ(localMountPointProblem((dir / "file").string()),
              "'" + (dir / "file").string() + "' exists and is not a directory");
    fs::remove_all(dir);
}

TEST(Config, MissingFile)
{
    auto c = loadConfig("/nonexistent/iiousbd.yaml");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, -ENOENT);
    EXPECT_EQ(c.error().message, "/nonexistent/iiousbd.yaml: cannot read the configuration: No "
                                 "such file or directory (ENOENT)");
}

// One test per broken config of the corpus.
class BrokenConfig : public testing::TestWithParam<std::string> {};

TEST_P(BrokenConfig, FailsWithExpectedMessage)
{
    const fs::path path = kSource / "tests/unit/data/config" / GetParam();
    std::ifstream in(path);
    std::string first;
    ASSERT_TRUE(std::getline(in, first)) << path;
    const std::string tag = "# expect: ";
    ASSERT_EQ(first.rfind(tag, 0), 0u) << path << ": first line must be '# expect: ...'";
    const std::string expected = path.string() + first.substr(tag.size());

    auto c = loadConfig(path.string());
    ASSERT_FALSE(c.ok()) << path << " loaded";
    EXPECT_EQ(c.error().code, -EINVAL);
    EXPECT_EQ(c.error().message, expected);
}

std::vector<std::string> brokenConfigs()
{
    std::vector<std::string> names;
    for (const auto &e : fs::directory_iterator(kSource / "tests/unit/data/config"))
        if (e.path().extension() == ".yaml")
            names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BrokenConfig, testing::ValuesIn(brokenConfigs()),
                         [](const testing::TestParamInfo<std::string> &info) {
                             std::string n = fs::path(info.param).stem().string();
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });
