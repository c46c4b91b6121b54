// SPDX-License-Identifier: GPL-2.0
/*
 * stream_duplex: drives two iiousbd streams at once from one host process (one
 * process must own the interface): STARTs stream 0 (rx) and stream 1 (tx),
 * keeps N bulk IN reads and N bulk OUT writes in flight, checks every byte read
 * against iio-sim's pattern and writes the pattern out, then waits until the
 * daemon's GET_STATS says the tx stream moved everything and STOPs both.
 *
 *   stream_duplex RX_BYTES TX_BYTES [RX_MASK [TX_MASK [SIZE [N]]]]
 *
 * Masks are iio-sim channel masks in hex (f: four channels). The DAC checks the
 * written data (its sim_* counters). Exit 0 when the rx data was intact.
 */
#include <libusb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/iiosim_pattern.h"

struct side {
	struct iiosim_stream st;
	uint64_t target, queued, done;
	int in_flight;
	int status; /* first failed transfer status, or -1 */
};

static struct side rx = { .status = -1 }, tx = { .status = -1 };
static uint64_t rx_errors;
static int64_t rx_first_error = -1;
static unsigned int chunk = 1 << 20;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void submit_next(struct libusb_transfer *t, struct side *s, bool out)
{
	uint64_t left = s->target - s->queued;

	if (!left || s->status >= 0)
		return;
	t->length = (int)(left < chunk ? left : chunk);
	if (out)
		iiosim_fill(&s->st, t->buffer, (size_t)t->length);
	if (libusb_submit_transfer(t)) {
		s->status = 99;
		return;
	}
	s->queued += (uint64_t)t->length;
	s->in_flight++;
}

static void LIBUSB_CALL on_rx(struct libusb_transfer *t)
{
	rx.in_flight--;
	if (t->status != LIBUSB_TRANSFER_COMPLETED) {
		if (rx.status < 0)
			rx.status = (int)t->status;
		return;
	}
	rx_errors += iiosim_check(&rx.st, t->buffer, (size_t)t->actual_length, &rx_first_error);
	rx.done += (uint64_t)t->actual_length;
	rx.queued -= (uint64_t)(t->length - t->actual_length);
	submit_next(t, &rx, false);
}

static void LIBUSB_CALL on_tx(struct libusb_transfer *t)
{
	tx.in_flight--;
	if (t->status != LIBUSB_TRANSFER_COMPLETED) {
		if (tx.status < 0)
			tx.status = (int)t->status;
		return;
	}
	tx.done += (uint64_t)t->actual_length;
	submit_next(t, &tx, true);
}

static libusb_device_handle *find_device(libusb_context *ctx, int *intf, unsigned char *in_ep,
					 unsigned char *out_ep)
{
	libusb_device_handle *h = NULL;
	libusb_device **list;
	ssize_t n = libusb_get_device_list(ctx, &list);

	for (ssize_t i = 0; i < n && !h; i++) {
		struct libusb_config_descriptor *cfg;
		const struct libusb_interface_descriptor *d;

		if (libusb_get_active_config_descriptor(list[i], &cfg))
			continue;
		d = &cfg->interface[0].altsetting[0];
		if (d->bInterfaceClass == 0xff && d->bInterfaceSubClass == 0x49 &&
		    d->bNumEndpoints >= 2 && libusb_open(list[i], &h) == 0) {
			/* Endpoints are in stream order: stream 0 rx, stream 1 tx. */
			*intf = d->bInterfaceNumber;
			*in_ep = d->endpoint[0].bEndpointAddress;
			*out_ep = d->endpoint[1].bEndpointAddress;
		}
		libusb_free_config_descriptor(cfg);
	}
	libusb_free_device_list(list, 1);
	return h;
}

/* START/STOP; START is answered once the stream's buffers are set up (docs/protocol.md: 10 s). */
static int control(libusb_device_handle *h, int intf, uint8_t req, uint16_t stream)
{
	return libusb_control_transfer(h, 0x41, req, stream, (uint16_t)intf, NULL, 0, 10000);
}

static uint64_t device_bytes(libusb_device_handle *h, int intf, uint16_t stream)
{
	unsigned char rec[64];
	uint64_t v = 0;

	if (libusb_control_transfer(h, 0xc1, 0x04, stream, (uint16_t)intf, rec, 64, 2000) < 64)
		return 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | rec[8 + i];
	return v;
}

int main(int argc, char **argv)
{
	struct libusb_transfer *xfers[2][32];
	unsigned char in_ep = 0, out_ep = 0;
	libusb_device_handle *h;
	libusb_context *ctx;
	int n = 8, intf = 0, rc = 0;
	double t0, t_rx = 0, t_tx = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: stream_duplex RX_BYTES TX_BYTES [RX_MASK [TX_MASK [SIZE [N]]]]\n");
		return 2;
	}
	rx.target = strtoull(argv[1], NULL, 0);
	tx.target = strtoull(argv[2], NULL, 0);
	if (iiosim_stream_init(&rx.st, argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 16) : 0xf) ||
	    iiosim_stream_init(&tx.st, argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 16) : 0xf))
		return 2;
	if (argc > 5)
		chunk = (unsigned int)strtoul(argv[5], NULL, 0);
	if (argc > 6)
		n = atoi(argv[6]);
	if (n < 1 || n > 32 || !chunk)
		return 2;

	if (libusb_init(&ctx))
		return 1;
	h = find_device(ctx, &intf, &in_ep, &out_ep);
	if (!h || libusb_claim_interface(h, intf)) {
		fprintf(stderr, "stream_duplex: no iiousb device to claim\n");
		return 1;
	}
	if (control(h, intf, 0x02, 0) < 0 || control(h, intf, 0x02, 1) < 0) {
		fprintf(stderr, "stream_duplex: START failed\n");
		return 1;
	}
	t0 = now();
	for (int i = 0; i < n; i++) {
		xfers[0][i] = libusb_alloc_transfer(0);
		xfers[1][i] = libusb_alloc_transfer(0);
		libusb_fill_bulk_transfer(xfers[0][i], h, in_ep, malloc(chunk), 0, on_rx, NULL, 0);
		libusb_fill_bulk_transfer(xfers[1][i], h, out_ep, malloc(chunk), 0, on_tx, NULL, 0);
		submit_next(xfers[0][i], &rx, false);
		submit_next(xfers[1][i], &tx, true);
	}
	double progress_at = now();
	uint64_t last_done = 0;

	while (rx.in_flight || tx.in_flight) {
		struct timeval tv = { 0, 100000 };

		libusb_handle_events_timeout_completed(ctx, &tv, NULL);
		if (rx.done + tx.done != last_done) {
			last_done = rx.done + tx.done;
			progress_at = now();
		} else if (now() - progress_at > 30) {
			fprintf(stderr,
				"stream_duplex: no progress for 30 s: rx %llu/%llu bytes (%d in flight), tx %llu/%llu (%d in flight); device rx %llu tx %llu bytes\n",
				(unsigned long long)rx.done, (unsigned long long)rx.target, rx.in_flight,
				(unsigned long long)tx.done, (unsigned long long)tx.target, tx.in_flight,
				(unsigned long long)device_bytes(h, intf, 0),
				(unsigned long long)device_bytes(h, intf, 1));
			return 1;
		}
		if (!t_rx && !rx.in_flight)
			t_rx = now();
		if (!t_tx && !tx.in_flight)
			t_tx = now();
	}
	/* The last tx blocks may still be on their way into the DAC. */
	for (int i = 0; i < 100 && device_bytes(h, intf, 1) < tx.done; i++) {
		struct timespec ts = { 0, 50000000 };

		nanosleep(&ts, NULL);
	}
	control(h, intf, 0x03, 0);
	control(h, intf, 0x03, 1);
	printf("stream_duplex: rx %llu bytes checked (%.2f MiB/s), %llu bad bytes, first at %lld; tx %llu bytes sent (%.2f MiB/s); device tx bytes %llu\n",
	       (unsigned long long)rx.done, (double)rx.done / (t_rx - t0) / 1048576.0,
	       (unsigned long long)rx_errors, (long long)rx_first_error,
	       (unsigned long long)tx.done, (double)tx.done / (t_tx - t0) / 1048576.0,
	       (unsigned long long)device_bytes(h, intf, 1));
	if (rx.status >= 0 || tx.status >= 0) {
		fprintf(stderr, "stream_duplex: transfer failed (rx %d, tx %d)\n", rx.status, tx.status);
		rc = 1;
	}
	if (rx_errors || rx.done < rx.target || tx.done < tx.target)
		rc = 1;
	libusb_release_interface(h, intf);
	libusb_close(h);
	libusb_exit(ctx);
	return rc;
}
