/*
 * The data pattern of iio-sim (kernel-patches/iio-sim), header only, C and C++.
 *
 * Every sample set carries a global sample index S, counted from 0 when the
 * buffer is enabled. Channel c (its scan index) of set S holds the 16-bit
 * little-endian value
 *
 *	v(S, c) = (S * 0x9E37 + c * 0x1F + (S >> 16)) mod 2^16
 *
 * and a set holds the enabled channels only, in scan index order. The stream
 * is a byte stream: blocks need not end on a set boundary on output.
 *
 * In header mode only the first 16 bytes of each block are meaningful:
 * le32 magic 0x49494F53, le32 block sequence number (0 for the first block
 * after enable), le64 index S of the block's first sample set.
 *
 * Recovering S from a value (to resynchronise after a loss): 0x9E37 is odd, so
 * given the high part H = (S >> 16) mod 2^16,
 *	S mod 2^16 = (v - c * 0x1F - H) * 0x9E37^-1 mod 2^16.
 */
#ifndef IIOSIM_PATTERN_H
#define IIOSIM_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define IIOSIM_MAX_CHANNELS 16
#define IIOSIM_HEADER_MAGIC 0x49494f53u
#define IIOSIM_HEADER_SIZE 16

static inline uint16_t iiosim_value(uint64_t sample, unsigned int chan)
{
	return (uint16_t)((uint32_t)sample * 0x9e37u + chan * 0x1fu + (uint32_t)(sample >> 16));
}

/* A position in the pattern stream of one channel mask. */
struct iiosim_stream {
	unsigned int chan[IIOSIM_MAX_CHANNELS]; /* enabled scan indices, ascending */
	unsigned int nchan;
	uint64_t sample;     /* S of the current set */
	unsigned int word;   /* 16-bit word within the set */
	unsigned int byte;   /* byte within the word */
	uint64_t offset;     /* bytes since the start of the stream */
};

/* Bit i of mask = scan index i enabled. Returns 0, or -1 for an empty mask. */
static inline int iiosim_stream_init(struct iiosim_stream *st, uint32_t mask)
{
	unsigned int i;

	st->nchan = 0;
	for (i = 0; i < IIOSIM_MAX_CHANNELS; i++)
		if (mask & (1u << i))
			st->chan[st->nchan++] = i;
	st->sample = 0;
	st->word = 0;
	st->byte = 0;
	st->offset = 0;
	return st->nchan ? 0 : -1;
}

static inline size_t iiosim_set_bytes(const struct iiosim_stream *st)
{
	return 2u * st->nchan;
}

/* Moves to a byte offset from the start of the stream. */
static inline void iiosim_stream_seek(struct iiosim_stream *st, uint64_t offset)
{
	uint64_t set = iiosim_set_bytes(st);

	st->offset = offset;
	st->sample = offset / set;
	st->word = (unsigned int)(offset % set / 2);
	st->byte = (unsigned int)(offset % 2);
}

static inline void iiosim_advance_word(struct iiosim_stream *st)
{
	if (++st->word == st->nchan) {
		st->word = 0;
		st->sample++;
	}
}

static inline uint8_t iiosim_next_byte(struct iiosim_stream *st)
{
	uint16_t v = iiosim_value(st->sample, st->chan[st->word]);

	st->offset++;
	if (!st->byte) {
		st->byte = 1;
		return (uint8_t)(v & 0xff);
	}
	st->byte = 0;
	iiosim_advance_word(st);
	return (uint8_t)(v >> 8);
}

/* Writes the next len bytes of the stream to buf. */
static inline void iiosim_fill(struct iiosim_stream *st, void *buf, size_t len)
{
	uint8_t *p = (uint8_t *)buf;

	while (len && st->byte) {
		*p++ = iiosim_next_byte(st);
		len--;
	}
	while (len >= 2) {
		uint16_t v = iiosim_value(st->sample, st->chan[st->word]);

		p[0] = (uint8_t)(v & 0xff);
		p[1] = (uint8_t)(v >> 8);
		p += 2;
		len -= 2;
		st->offset += 2;
		iiosim_advance_word(st);
	}
	if (len)
		*p = iiosim_next_byte(st);
}

/*
 * Compares buf with the next len bytes of the stream. Returns the number of
 * mismatching bytes; *first_error (if not NULL) gets the stream offset of the
 * first one unless it is already >= 0.
 */
static inline uint64_t iiosim_check(struct iiosim_stream *st, const void *buf, size_t len,
				    int64_t *first_error)
{
	const uint8_t *p = (const uint8_t *)buf;
	uint64_t errors = 0;

	while (len) {
		uint64_t off = st->offset;
		uint8_t want;

		if (!st->byte && len >= 2) {
			uint16_t v = iiosim_value(st->sample, st->chan[st->word]);
			unsigned int bad = (p[0] != (uint8_t)(v & 0xff)) + (p[1] != (uint8_t)(v >> 8));

			if (bad) {
				if (first_error && *first_error < 0)
					*first_error = (int64_t)(off + (p[0] == (uint8_t)(v & 0xff)));
				errors += bad;
			}
			p += 2;
			len -= 2;
			st->offset += 2;
			iiosim_advance_word(st);
			continue;
		}
		want = iiosim_next_byte(st);
		if (*p != want) {
			if (first_error && *first_error < 0)
				*first_error = (int64_t)off;
			errors++;
		}
		p++;
		len--;
	}
	return errors;
}

static inline void iiosim_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void iiosim_header_make(uint8_t hdr[IIOSIM_HEADER_SIZE], uint32_t seq,
				      uint64_t first_sample)
{
	iiosim_put_le32(hdr, IIOSIM_HEADER_MAGIC);
	iiosim_put_le32(hdr + 4, seq);
	iiosim_put_le32(hdr + 8, (uint32_t)first_sample);
	iiosim_put_le32(hdr + 12, (uint32_t)(first_sample >> 32));
}

/*
 * Checks the header of a block of len bytes (only min(len, 16) bytes are
 * compared). Returns -1 if it matches, else the offset of the first bad byte.
 */
static inline int iiosim_header_check(const void *buf, size_t len, uint32_t seq,
				      uint64_t first_sample)
{
	const uint8_t *p = (const uint8_t *)buf;
	uint8_t hdr[IIOSIM_HEADER_SIZE];
	size_t i;

	iiosim_header_make(hdr, seq, first_sample);
	for (i = 0; i < len && i < IIOSIM_HEADER_SIZE; i++)
		if (p[i] != hdr[i])
			return (int)i;
	return -1;
}

#endif /* IIOSIM_PATTERN_H */
