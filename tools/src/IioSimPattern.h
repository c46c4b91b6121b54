// The test pattern of iio-sim, the simulated IIO converter (kernel-patches/iio-sim/, its
// README and the comment at the top of iio-sim.c define it). This is the one C++
// implementation; the kernel module and tests/vm/progs/common/iiosim_pattern.h are the C
// ones.
//
// Full pattern: every sample set carries a global sample index S, counted from 0 when the
// IIO buffer is enabled; channel c (its scan index) of sample set S holds the 16-bit
// little-endian value v(S, c) below, and a sample set holds the enabled channels only, in
// scan index order. The stream is one byte sequence across blocks.
//
// Header pattern: only the first 16 bytes of each block are written: u32 magic
// 0x49494F53 ("IIOS" as a little-endian number), u32 block sequence number (0 for the first
// block after enable), u64 index S of the block's first sample set; S advances by
// block bytes / sample-set bytes per block.
#pragma once

#include <cstddef>
#include <cstdint>

namespace iiousb::tool::iiosim {

inline constexpr std::uint32_t kHeaderMagic = 0x49494f53;
inline constexpr std::size_t kHeaderSize = 16;
inline constexpr unsigned kMaxChannels = 16;

constexpr std::uint16_t value(std::uint64_t sample, unsigned channel)
{
    return static_cast<std::uint16_t>(static_cast<std::uint32_t>(sample) * 0x9e37u +
                                      channel * 0x1fu + static_cast<std::uint32_t>(sample >> 16));
}

// The part of value() that depends on the sample only (add channel * 0x1f).
constexpr std::uint32_t sampleTerm(std::uint64_t sample)
{
    return static_cast<std::uint32_t>(sample) * 0x9e37u + static_cast<std::uint32_t>(sample >> 16);
}

} // namespace iiousb::tool::iiosim
