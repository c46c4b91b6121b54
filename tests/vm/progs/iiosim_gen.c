// SPDX-License-Identifier: GPL-2.0
/*
 * iiosim_gen MASK BYTES: writes the first BYTES bytes of iio-sim's pattern
 * stream for the channel mask MASK (hex) to stdout, for feeding a DAC stream
 * ("iiosim_gen f 16777216 | iiousb play tx0 -i -").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/iiosim_pattern.h"

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 16];
	struct iiosim_stream st;
	unsigned long long left;

	if (argc != 3) {
		fprintf(stderr, "usage: iiosim_gen MASK BYTES\n");
		return 2;
	}
	if (iiosim_stream_init(&st, (uint32_t)strtoul(argv[1], NULL, 16))) {
		fprintf(stderr, "iiosim_gen: bad mask %s\n", argv[1]);
		return 2;
	}
	left = strtoull(argv[2], NULL, 0);
	while (left) {
		size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		size_t off = 0;

		iiosim_fill(&st, buf, n);
		while (off < n) {
			ssize_t w = write(STDOUT_FILENO, buf + off, n - off);

			if (w <= 0) {
				perror("iiosim_gen: write");
				return 1;
			}
			off += (size_t)w;
		}
		left -= n;
	}
	return 0;
}
