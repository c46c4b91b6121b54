// SPDX-License-Identifier: GPL-2.0
/*
 * iiosim_verify: check a file (or stdin) of iio-sim-adc samples against the
 * pattern from sample set 0 (kernel-patches/iio-sim), e.g. what
 * `iio_readdev -u usb: -s M iio-sim-adc` wrote.
 *
 *	iiosim_verify -m MASK -n BYTES [FILE]
 *
 * MASK: enabled scan indices (bit i = index i, hex); BYTES: the size the file
 * must have. Exit 0 if every byte matches, 1 otherwise (with the first bad
 * offset).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iiosim_pattern.h"

int main(int argc, char **argv)
{
	uint32_t mask = 0;
	uint64_t want = 0, total = 0, errors = 0;
	int64_t first = -1;
	struct iiosim_stream st;
	static uint8_t buf[1 << 16];
	FILE *in = stdin;
	int opt;

	while ((opt = getopt(argc, argv, "m:n:")) != -1) {
		switch (opt) {
		case 'm':
			mask = (uint32_t)strtoul(optarg, NULL, 16);
			break;
		case 'n':
			want = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: iiosim_verify -m MASK -n BYTES [FILE]\n");
			return 2;
		}
	}
	if (optind < argc) {
		in = fopen(argv[optind], "rb");
		if (!in) {
			fprintf(stderr, "iiosim_verify: %s: %s\n", argv[optind], strerror(errno));
			return 2;
		}
	}
	if (iiosim_stream_init(&st, mask) < 0) {
		fprintf(stderr, "iiosim_verify: empty mask\n");
		return 2;
	}
	for (;;) {
		size_t n = fread(buf, 1, sizeof(buf), in);

		if (!n)
			break;
		errors += iiosim_check(&st, buf, n, &first);
		total += n;
	}
	if (total != want) {
		printf("iiosim_verify: %" PRIu64 " bytes, expected %" PRIu64 "\n", total, want);
		return 1;
	}
	if (errors) {
		printf("iiosim_verify: %" PRIu64 " of %" PRIu64 " bytes wrong, first at offset %" PRId64
		       "\n", errors, total, first);
		return 1;
	}
	printf("iiosim_verify: %" PRIu64 " bytes match the pattern (mask 0x%x)\n", total, mask);
	return 0;
}
