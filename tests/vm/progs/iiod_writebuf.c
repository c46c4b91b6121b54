// SPDX-License-Identifier: GPL-2.0
/*
 * iiod_writebuf: a raw iiod-protocol client (libusb, no libiio) that sends
 * WRITEBUFs libiio clients never send, so that iiousbd's zero-copy WRITEBUF
 * has to cope: a whole block, half a block, two blocks in one WRITEBUF (more
 * than the buffer), and one whose data ends short of what it announced (the
 * host ends its transfer with a short packet): that one must be answered with
 * an error and none of its bytes may reach the DAC; the session then goes on.
 * The good data is iio-sim's pattern from sample 0 (all four channels), so the
 * DAC's own check (sim_errors) sees any stale or stray byte.
 *
 *	iiod_writebuf VID:PID DEVICE SAMPLES
 *
 * DEVICE: the DAC's id (iio:deviceN). SAMPLES: the buffer's sample sets (a
 * block B is SAMPLES x 8 bytes, a multiple of 1024). Prints the pattern bytes
 * the DAC must have consumed (4.5 B) and each WRITEBUF's answer; exit 0 when
 * every answer was the expected one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iiod_raw.h"
#include "iiosim_pattern.h"

static struct iiod_pipe p = {.who = "iiod_writebuf"};

/*
 * WRITEBUF announcing `announced` bytes, then `len` bytes of `data` as one
 * transfer: the final answer into *answer. -1 if the exchange broke.
 */
static int writebuf(const char *dev, int announced, const uint8_t *data, int len, long *answer)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "WRITEBUF %s %d\r\n", dev, announced);
	if (iiod_command(&p, cmd))
		return -1;
	if (strcmp(p.line, "0\n")) {
		fprintf(stderr, "iiod_writebuf: WRITEBUF %d: go-ahead '%s'", announced, p.line);
		return -1;
	}
	if (iiod_send(&p, data, len) || iiod_read_line(&p))
		return -1;
	*answer = strtol(p.line, NULL, 10);
	printf("WRITEBUF %d, %d bytes sent: %ld\n", announced, len, *answer);
	return 0;
}

int main(int argc, char **argv)
{
	libusb_context *ctx;
	struct iiosim_stream st;
	long total = 0, answer;
	int block, ok = 1;
	uint8_t *buf;

	if (argc != 4) {
		fprintf(stderr, "usage: iiod_writebuf VID:PID DEVICE SAMPLES\n");
		return 2;
	}
	block = atoi(argv[3]) * 8;
	if (block <= 0 || block % 1024) {
		fprintf(stderr, "iiod_writebuf: SAMPLES x 8 must be a multiple of 1024\n");
		return 2;
	}
	buf = malloc(2 * (size_t)block);
	if (!buf || iiosim_stream_init(&st, 0xf) ||
	    iiod_start(&p, &ctx, argv[1], argv[2], block / 8))
		return 1;
	/* Whole, half and double blocks of the pattern: each answered with its size. */
	const int sizes[] = {block, block / 2, 2 * block};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		iiosim_fill(&st, buf, (size_t)sizes[i]);
		if (writebuf(argv[2], sizes[i], buf, sizes[i], &answer))
			return 1;
		ok &= answer == sizes[i];
		total += sizes[i];
	}
	/*
	 * Announces a block, sends half of it and 8 bytes (the transfer ends with
	 * a short packet), then waits for the answer: an error. Not the pattern:
	 * a byte of it at the DAC is a pattern error.
	 */
	memset(buf, 0xa5, (size_t)block);
	if (writebuf(argv[2], block, buf, block / 2 + 8, &answer))
		return 1;
	ok &= answer < 0;
	/* The session goes on where the pattern left off. */
	iiosim_fill(&st, buf, (size_t)block);
	if (writebuf(argv[2], block, buf, block, &answer))
		return 1;
	ok &= answer == block;
	total += block;
	/* The DAC plays what is queued before CLOSE drops it. */
	sleep(1);
	if (iiod_close(&p, argv[2]))
		return 1;
	printf("iiod_writebuf: %ld pattern bytes for the DAC; CLOSE answered %s", total, p.line);
	iiod_disconnect(&p, ctx, 1);
	free(buf);
	return ok ? 0 : 1;
}
