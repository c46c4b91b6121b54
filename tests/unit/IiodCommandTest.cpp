// The iiod command line parser: every command libiio 0.24-0.26 clients send, and the lines
// iiod's grammar (v0.25:iiod/lexer.l, parser.y) refuses with -22.
#include "iiod/IiodCommand.h"

#include <cerrno>

#include <gtest/gtest.h>

using namespace iiousb;
using namespace iiousb::iiod;

namespace {

IiodCommand cmd(IiodOp op, std::string device = {})
{
    IiodCommand c;
    c.op = op;
    c.device = device;
    c.attr.device = device;
    return c;
}

IiodCommand open(std::string device, std::uint64_t samples, std::string mask, bool cyclic)
{
    IiodCommand c = cmd(IiodOp::Open, device);
    c.samples = samples;
    c.mask = std::move(mask);
    c.cyclic = cyclic;
    return c;
}

IiodCommand buf(IiodOp op, std::string device, std::uint64_t bytes)
{
    IiodCommand c = cmd(op, device);
    c.bytes = bytes;
    return c;
}

IiodCommand attr(IiodOp op, std::string device, AttrKind kind, std::optional<std::string> name,
                 std::string channel = {}, bool output = false, std::uint64_t bytes = 0)
{
    IiodCommand c = cmd(op, device);
    c.attr.kind = kind;
    c.attr.attribute = std::move(name);
    c.attr.channel = std::move(channel);
    c.attr.output = output;
    c.bytes = bytes;
    return c;
}

IiodCommand timeout(std::uint32_t ms)
{
    IiodCommand c = cmd(IiodOp::Timeout);
    c.timeoutMs = ms;
    return c;
}

IiodCommand setTrig(std::string device, std::optional<std::string> trigger)
{
    IiodCommand c = cmd(IiodOp::SetTrig, device);
    c.trigger = std::move(trigger);
    return c;
}

IiodCommand buffersCount(std::string device, long n)
{
    IiodCommand c = cmd(IiodOp::SetBuffersCount, device);
    c.buffersCount = n;
    return c;
}

struct Accepted {
    const char *line;
    IiodCommand expected;
};

class IiodCommandAccepts : public testing::TestWithParam<Accepted> {};

TEST_P(IiodCommandAccepts, Parses)
{
    const auto r = parseIiodCommand(GetParam().line);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value(), GetParam().expected);
}

constexpr auto kDev = "iio:device4";
constexpr auto In = AttrKind::Channel;

INSTANTIATE_TEST_SUITE_P(
        Table, IiodCommandAccepts,
        testing::Values(
                Accepted{"\r\n", cmd(IiodOp::Empty)}, Accepted{"\n", cmd(IiodOp::Empty)},
                Accepted{" \t\r\n", cmd(IiodOp::Empty)},
                Accepted{"VERSION\r\n", cmd(IiodOp::Version)},
                Accepted{"version\n", cmd(IiodOp::Version)},
                Accepted{"PRINT\r\n", cmd(IiodOp::Print)},
                Accepted{"print\r\n", cmd(IiodOp::Print)},
                Accepted{"PRINT \t\r\n", cmd(IiodOp::Print)},
                // lexer.l ".": an unknown character is dropped.
                Accepted{"PRINT#\r\n", cmd(IiodOp::Print)},
                Accepted{"ZPRINT\r\n", cmd(IiodOp::ZPrint)},
                Accepted{"EXIT\r\n", cmd(IiodOp::Exit)}, Accepted{"quit\r\n", cmd(IiodOp::Exit)},
                Accepted{"HELP\r\n", cmd(IiodOp::Help)},
                Accepted{"TIMEOUT 2500\r\n", timeout(2500)}, Accepted{"timeout 0\r\n", timeout(0)},
                Accepted{"TIMEOUT abc\r\n", timeout(0)}, // atoi
                Accepted{"OPEN iio:device4 4096 0000000f\r\n", open(kDev, 4096, "0000000f", false)},
                Accepted{"OPEN iio:device4 4096 0000000f CYCLIC\r\n",
                         open(kDev, 4096, "0000000f", true)},
                Accepted{"open cf-ad9361-lpc 16 00000001000000ff cyclic\r\n",
                         open("cf-ad9361-lpc", 16, "00000001000000ff", true)},
                Accepted{"OPEN  iio:device4\t4096   0000000f \r\n",
                         open(kDev, 4096, "0000000f", false)},
                Accepted{"CLOSE iio:device4\r\n", cmd(IiodOp::Close, kDev)},
                Accepted{"READBUF iio:device4 131072\r\n", buf(IiodOp::ReadBuf, kDev, 131072)},
                Accepted{"readbuf iio:device4 12abc\r\n", buf(IiodOp::ReadBuf, kDev, 12)},
                Accepted{"WRITEBUF iio:device5 65536\r\n",
                         buf(IiodOp::WriteBuf, "iio:device5", 65536)},
                Accepted{"READ iio:device4 sampling_frequency\r\n",
                         attr(IiodOp::Read, kDev, AttrKind::Device, "sampling_frequency")},
                Accepted{"READ iio:device4\r\n",
                         attr(IiodOp::Read, kDev, AttrKind::Device, std::nullopt)},
                Accepted{"READ iio:device4 DEBUG direct_reg_access\r\n",
                         attr(IiodOp::Read, kDev, AttrKind::Debug, "direct_reg_access")},
                Accepted{"read iio:device4 debug\r\n",
                         attr(IiodOp::Read, kDev, AttrKind::Debug, std::nullopt)},
                Accepted{"READ iio:device4 BUFFER length\r\n",
                         attr(IiodOp::Read, kDev, AttrKind::Buffer, "length")},
                Accepted{"READ iio:device4 BUFFER\r\n",
                         attr(IiodOp::Read, kDev, AttrKind::Buffer, std::nullopt)},
                Accepted{"READ iio:device4 INPUT voltage0 scale\r\n",
                         attr(IiodOp::Read, kDev, In, "scale", "voltage0")},
                Accepted{"READ ad9361-phy OUTPUT altvoltage0 frequency\r\n",
                         attr(IiodOp::Read, "ad9361-phy", In, "frequency", "altvoltage0", true)},
                Accepted{"READ iio:device4 output voltage0\r\n",
                         attr(IiodOp::Read, kDev, In, std::nullopt, "voltage0", true)},
                // Words with a "name," prefix (lexer.l:18).
                Accepted{"READ adi,dev in,x.y-z_1\r\n",
                         attr(IiodOp::Read, "adi,dev", AttrKind::Device, "in,x.y-z_1")},
                Accepted{"WRITE iio:device4 sampling_frequency 11\r\n",
                         attr(IiodOp::Write, kDev, AttrKind::Device, "sampling_frequency", {},
                              false, 11)},
                Accepted{"WRITE iio:device4 128\r\n",
                         attr(IiodOp::Write, kDev, AttrKind::Device, std::nullopt, {}, false, 128)},
                Accepted{"WRITE iio:device4 DEBUG direct_reg_access 5\r\n",
                         attr(IiodOp::Write, kDev, AttrKind::Debug, "direct_reg_access", {}, false,
                              5)},
                Accepted{"WRITE iio:device4 DEBUG 8\r\n",
                         attr(IiodOp::Write, kDev, AttrKind::Debug, std::nullopt, {}, false, 8)},
                Accepted{"WRITE iio:device4 BUFFER length 5\r\n",
                         attr(IiodOp::Write, kDev, AttrKind::Buffer, "length", {}, false, 5)},
                Accepted{"WRITE iio:device4 BUFFER 12\r\n",
                         attr(IiodOp::Write, kDev, AttrKind::Buffer, std::nullopt, {}, false, 12)},
                Accepted{"WRITE ad9361-phy OUTPUT altvoltage0 frequency 11\r\n",
                         attr(IiodOp::Write, "ad9361-phy", In, "frequency", "altvoltage0", true,
                              11)},
                Accepted{"WRITE iio:device4 INPUT voltage0 20\r\n",
                         attr(IiodOp::Write, kDev, In, std::nullopt, "voltage0", false, 20)},
                Accepted{"GETTRIG iio:device4\r\n", cmd(IiodOp::GetTrig, kDev)},
                Accepted{"SETTRIG iio:device4 trigger0\r\n", setTrig(kDev, "trigger0")},
                Accepted{"SETTRIG iio:device4\r\n", setTrig(kDev, std::nullopt)},
                Accepted{"SET iio:device4 BUFFERS_COUNT 4\r\n", buffersCount(kDev, 4)},
                Accepted{"set iio:device4 buffers_count 8\n", buffersCount(kDev, 8)},
                Accepted{"SET iio:device4 BUFFERS_COUNT x\r\n", buffersCount(kDev, 0)}));

class IiodCommandRejects : public testing::TestWithParam<const char *> {};

TEST_P(IiodCommandRejects, WithEinval)
{
    const auto r = parseIiodCommand(GetParam());
    ASSERT_FALSE(r.ok()) << GetParam();
    EXPECT_EQ(r.error().code, -EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Table, IiodCommandRejects,
                         testing::Values("PRINT",           // no end of line
                                         "Print\r\n",       // mixed case is a word
                                         "PRINTX\r\n",      // longest match: a word
                                         " PRINT\r\n",      // leading space
                                         "PRINT extra\r\n", //
                                         "BINARY\r\n",      // 1.0 clients: -22 makes them fall back
                                         "FOO\r\n",         //
                                         "VERSION 1\r\n",   //
                                         "TIMEOUT\r\n",     //
                                         "TIMEOUT 1 2\r\n", //
                                         "OPEN\r\n",        //
                                         "OPEN iio:device4\r\n",                        //
                                         "OPEN iio:device4 4096\r\n",                   //
                                         "OPEN iio:device4 4096 0000000f CYCLIC x\r\n", //
                                         "OPEN iio:device4 4096 0000000f LOOP\r\n",     //
                                         "OPEN iio:device4 -1 0000000f\r\n", // negative count
                                         "OPEN iio:device4 4096 debug\r\n",  // DEBUG keyword there
                                         "CLOSE\r\n",                        //
                                         "CLOSE a b\r\n",                    //
                                         "READBUF iio:device4\r\n",          //
                                         "READBUF iio:device4 1 2\r\n",      //
                                         "READBUF iio:device4 -5\r\n",       //
                                         "WRITEBUF iio:device4\r\n",         //
                                         "READ\r\n",                         //
                                         "READ iio:device4 a b\r\n", // a channel needs INPUT/OUTPUT
                                         "READ iio:device4 INPUT\r\n",           //
                                         "READ iio:device4 INPUT v0 a b\r\n",    //
                                         "READ iio:device4 DEBUG a b\r\n",       //
                                         "READ iio:device4 BUFFER a b\r\n",      //
                                         "WRITE iio:device4\r\n",                // no byte count
                                         "WRITE iio:device4 DEBUG\r\n",          //
                                         "WRITE iio:device4 BUFFER\r\n",         //
                                         "WRITE iio:device4 INPUT voltage0\r\n", //
                                         "WRITE iio:device4 a b c\r\n",          //
                                         "WRITE iio:device4 INPUT v0 a b c\r\n", //
                                         "GETTRIG\r\n",                          //
                                         "GETTRIG a b\r\n",                      //
                                         "SETTRIG a b c\r\n",                    //
                                         "SET iio:device4 BUFFERS_COUNT\r\n",    //
                                         "SET iio:device4 4\r\n",                //
                                         "SET iio:device4 BUFFERS 4\r\n",        //
                                         "READ iio:device4 in@raw\r\n", // '@' dropped, state reset
                                         "CYCLIC\r\n"));

TEST(IiodCommand, OverLongLineRefused)
{
    std::string line = "READ iio:device0 " + std::string(kMaxCommandLine, 'a') + "\r\n";
    auto r = parseIiodCommand(line);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, -EINVAL);
    // A line of exactly the limit is fine.
    line = "READ iio:device0 " + std::string(kMaxCommandLine - 19, 'a') + "\r\n";
    ASSERT_EQ(line.size(), kMaxCommandLine);
    EXPECT_TRUE(parseIiodCommand(line).ok());
}

} // namespace
