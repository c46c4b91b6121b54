// SPDX-License-Identifier: GPL-2.0
/*
 * libiio_duplex: RX and TX at once from one libiio context (two buffers, so
 * two pipes of iiousbd's libiio interface): iio-sim-adc's samples are checked
 * against iio-sim's pattern, iio-sim-dac gets the pattern (the scenario checks
 * the DAC's counters).
 *
 *	libiio_duplex URI SAMPLES ROUNDS
 *
 * SAMPLES: sample sets per buffer (all 4 channels, 8 bytes a set); each round
 * pushes one TX buffer and refills one RX buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iio.h>

#include "iiosim_pattern.h"

static int enable_all(struct iio_device *dev)
{
	unsigned int i, n = 0;

	for (i = 0; i < iio_device_get_channels_count(dev); i++) {
		struct iio_channel *chn = iio_device_get_channel(dev, i);

		if (iio_channel_is_scan_element(chn)) {
			iio_channel_enable(chn);
			n++;
		}
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	struct iio_context *ctx;
	struct iio_device *adc, *dac;
	struct iio_buffer *rx, *tx;
	struct iiosim_stream rxs, txs;
	uint64_t errors = 0, rx_bytes = 0, tx_bytes = 0;
	int64_t first = -1;
	size_t samples;
	int rounds, i;

	if (argc != 4) {
		fprintf(stderr, "usage: libiio_duplex URI SAMPLES ROUNDS\n");
		return 2;
	}
	samples = strtoul(argv[2], NULL, 0);
	rounds = atoi(argv[3]);
	ctx = iio_create_context_from_uri(argv[1]);
	if (!ctx) {
		fprintf(stderr, "libiio_duplex: no context at %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	adc = iio_context_find_device(ctx, "iio-sim-adc");
	dac = iio_context_find_device(ctx, "iio-sim-dac");
	if (!adc || !dac || enable_all(adc) != 4 || enable_all(dac) != 4) {
		fprintf(stderr, "libiio_duplex: iio-sim-adc/dac with 4 channels not found\n");
		return 1;
	}
	rx = iio_device_create_buffer(adc, samples, false);
	if (!rx) {
		fprintf(stderr, "libiio_duplex: RX buffer: %s\n", strerror(errno));
		return 1;
	}
	tx = iio_device_create_buffer(dac, samples, false);
	if (!tx) {
		fprintf(stderr, "libiio_duplex: TX buffer (with RX open): %s\n", strerror(errno));
		return 1;
	}
	iiosim_stream_init(&rxs, 0xf);
	iiosim_stream_init(&txs, 0xf);
	for (i = 0; i < rounds; i++) {
		size_t len = (size_t)((char *)iio_buffer_end(tx) - (char *)iio_buffer_start(tx));
		ssize_t r;

		iiosim_fill(&txs, iio_buffer_start(tx), len);
		r = iio_buffer_push(tx);
		if (r < 0) {
			fprintf(stderr, "libiio_duplex: push %d: %s\n", i, strerror((int)-r));
			return 1;
		}
		tx_bytes += (uint64_t)r;
		r = iio_buffer_refill(rx);
		if (r < 0) {
			fprintf(stderr, "libiio_duplex: refill %d: %s\n", i, strerror((int)-r));
			return 1;
		}
		errors += iiosim_check(&rxs, iio_buffer_start(rx), (size_t)r, &first);
		rx_bytes += (uint64_t)r;
	}
	iio_buffer_destroy(tx);
	iio_buffer_destroy(rx);
	iio_context_destroy(ctx);
	printf("libiio_duplex: RX %" PRIu64 " bytes, %" PRIu64 " wrong (first at %" PRId64
	       "); TX %" PRIu64 " bytes pushed\n", rx_bytes, errors, first, tx_bytes);
	return errors ? 1 : 0;
}
