/*
 * A verifiable byte stream shared by the gadget and host test programs.
 *
 * Byte N of the stream with seed S is byte (N % 8) (little endian) of
 * pattern_word(S, N / 8). pattern_word() is a bijection of the word index,
 * so data that is lost, repeated, reordered or shifted by any number of
 * bytes does not verify. Both ends only need to agree on the seed and on
 * the stream offset at which each buffer starts.
 */
#ifndef IIOUSB_TEST_PATTERN_H
#define IIOUSB_TEST_PATTERN_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t pattern_word(uint64_t seed, uint64_t index)
{
    uint64_t x = (index + seed) * 0x9e3779b97f4a7c15ull;

    return x ^ (x >> 31);
}

static inline uint8_t pattern_byte(uint64_t seed, uint64_t offset)
{
    return (uint8_t)(pattern_word(seed, offset / 8) >> (8 * (offset % 8)));
}

/* Fill buf[0..len) with stream bytes [offset, offset + len). */
static inline void pattern_fill(void *buf, uint64_t offset, size_t len, uint64_t seed)
{
    uint8_t *p = buf;

    while (len && (offset % 8)) {
        *p++ = pattern_byte(seed, offset++);
        len--;
    }
    while (len >= 8) {
        uint64_t w = htole64(pattern_word(seed, offset / 8));

        memcpy(p, &w, 8);
        p += 8;
        offset += 8;
        len -= 8;
    }
    while (len--)
        *p++ = pattern_byte(seed, offset++);
}

/*
 * Check buf[0..len) against stream bytes [offset, offset + len). Returns the
 * number of wrong bytes; *first_bad (if not NULL) gets the stream offset of
 * the first one.
 */
static inline size_t pattern_check(const void *buf, uint64_t offset, size_t len, uint64_t seed,
                                   uint64_t *first_bad)
{
    const uint8_t *p = buf;
    size_t bad = 0;

    while (len) {
        if (!(offset % 8) && len >= 8) {
            uint64_t w = htole64(pattern_word(seed, offset / 8));

            if (!memcmp(p, &w, 8)) {
                p += 8;
                offset += 8;
                len -= 8;
                continue;
            }
        }
        if (*p != pattern_byte(seed, offset)) {
            if (!bad && first_bad)
                *first_bad = offset;
            bad++;
        }
        p++;
        offset++;
        len--;
    }
    return bad;
}

#endif /* IIOUSB_TEST_PATTERN_H */
