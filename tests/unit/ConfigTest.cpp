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

Config parseOk(const std::string &text)
{
    auto c = parseConfig(text, "test.yaml");
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
                       "  - {name: b, direction: rx, device: x, block-size: 2MiB, zero-copy: off}\n"
                       "  - {name: c, direction: rx, device: y, block-size: 3KiB, channels: all}\n"
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
    EXPECT_EQ(c.streams[1].blockSize, 2u << 20);
    EXPECT_EQ(c.streams[1].zeroCopy, ZeroCopy::Off);
    EXPECT_EQ(c.streams[2].blockSize, 3u * 1024);
    EXPECT_FALSE(c.streams[2].channels.has_value());
    EXPECT_EQ(c.streams[3].blockSize, 4096u);
}

TEST(Config, SameSettingsIgnoresPath)
{
    auto a = parseConfig(kMinimal, "a.yaml");
    auto b = parseConfig(kMinimal, "b.yaml");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(a->sameSettings(*b));
    auto c = parseConfig(std::string(kMinimal) + "functionfs: {instance: other}\n", "a.yaml");
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(a->sameSettings(*c));
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
