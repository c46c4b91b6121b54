// SPDX-License-Identifier: GPL-2.0
/*
 * iiod_pieces: a raw iiod-protocol client (libusb, no libiio) that reads a
 * buffer in pieces libiio clients never ask for, so that iiousbd's zero-copy
 * READBUF has to hand out parts of its DMABUF blocks: a whole block, then
 * pieces that start at the block's beginning (a DMABUF transfer of fewer
 * bytes) and inside it (copied from the mapped block), then several blocks in
 * one READBUF. Everything read is checked against iio-sim's pattern from
 * sample 0 (all four channels enabled).
 *
 *	iiod_pieces VID:PID DEVICE SAMPLES ROUNDS
 *
 * DEVICE: the ADC's id (iio:deviceN). SAMPLES: the buffer's sample sets (a
 * block is SAMPLES x 8 bytes). Each round reads, in bytes of one block B:
 * B, B/4, B/4, B/2, 2B, B/8 x 8. Exit 0 when every byte matched.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iiosim_pattern.h"
#include "iiod_raw.h"

/* READBUF of `bytes` into buf: the chunks' lines, the mask once, the payloads. */
static int readbuf(struct iiod_pipe *p, const char *dev, uint8_t *buf, int bytes, int *chunks)
{
	char cmd[128];
	int got = 0;

	snprintf(cmd, sizeof(cmd), "READBUF %s %d\r\n", dev, bytes);
	if (iiod_send_line(p, cmd))
		return -1;
	*chunks = 0;
	while (got < bytes) {
		long n;

		if (iiod_read_line(p))
			return -1;
		n = strtol(p->line, NULL, 10);
		if (n <= 0 || n > bytes - got) {
			fprintf(stderr, "iiod_pieces: READBUF %d: chunk line '%s' after %d bytes\n",
				bytes, p->line, got);
			return -1;
		}
		if (*chunks == 0) {
			if (iiod_read_line(p))
				return -1;
			if (strcmp(p->line, "0000000f\n")) {
				fprintf(stderr, "iiod_pieces: mask line '%s'\n", p->line);
				return -1;
			}
		}
		if (iiod_read_payload(p, buf + got, (int)n))
			return -1;
		got += (int)n;
		++*chunks;
	}
	return 0;
}

int main(int argc, char **argv)
{
	libusb_context *ctx;
	struct iiod_pipe p = {.who = "iiod_pieces"};
	struct iiosim_stream st;
	int block, rounds;
	uint64_t offset = 0, errors = 0;
	int64_t first_error = -1;
	uint8_t *buf;

	if (argc != 5) {
		fprintf(stderr, "usage: iiod_pieces VID:PID DEVICE SAMPLES ROUNDS\n");
		return 2;
	}
	block = atoi(argv[3]) * 8;
	rounds = atoi(argv[4]);
	if (block <= 0 || block % 64 || rounds <= 0) {
		fprintf(stderr, "iiod_pieces: SAMPLES must be a positive multiple of 8\n");
		return 2;
	}
	buf = malloc(2 * (size_t)block);
	if (!buf || iiosim_stream_init(&st, 0xf) ||
	    iiod_start(&p, &ctx, argv[1], argv[2], block / 8))
		return 1;
	for (int r = 0; r < rounds; r++) {
		const int sizes[] = {block, block / 4, block / 4, block / 2, 2 * block,
				     block / 8, block / 8, block / 8, block / 8,
				     block / 8, block / 8, block / 8, block / 8};

		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			int chunks;
			uint64_t bad;

			if (readbuf(&p, argv[2], buf, sizes[i], &chunks))
				return 1;
			bad = iiosim_check(&st, buf, (size_t)sizes[i], &first_error);
			errors += bad;
			offset += (uint64_t)sizes[i];
			if (r == 0)
				printf("READBUF %d: %d chunk%s%s\n", sizes[i], chunks,
				       chunks == 1 ? "" : "s", bad ? ", MISMATCH" : "");
		}
	}
	if (iiod_close(&p, argv[2]))
		return 1;
	printf("iiod_pieces: %" PRIu64 " bytes in %d rounds, %" PRIu64 " mismatching bytes",
	       offset, rounds, errors);
	if (errors)
		printf(", first at byte %" PRId64, first_error);
	printf("; CLOSE answered %s", p.line);
	iiod_disconnect(&p, ctx, 1);
	free(buf);
	return errors ? 1 : 0;
}
