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
#include "usb_host_util.h"

#define TIMEOUT_MS 5000

struct pipe {
	libusb_device_handle *h;
	uint8_t in, out;
	char line[256];
};

/* Finds the interface whose string is "IIO" and its pipe 1 endpoints. */
static int find_iio(libusb_device_handle *h, int *intf, uint8_t *in, uint8_t *out)
{
	struct libusb_config_descriptor *cfg;
	int ret = LIBUSB_ERROR_NOT_FOUND;

	if (libusb_get_active_config_descriptor(libusb_get_device(h), &cfg))
		return LIBUSB_ERROR_IO;
	for (int i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface_descriptor *alt = &cfg->interface[i].altsetting[0];
		unsigned char name[64] = "";

		if (!alt->iInterface || alt->bNumEndpoints < 4)
			continue;
		if (libusb_get_string_descriptor_ascii(h, alt->iInterface, name, sizeof(name)) < 0 ||
		    strcmp((char *)name, "IIO"))
			continue;
		/* Pipe i: endpoint descriptors 2i (IN) and 2i+1 (OUT). */
		*intf = alt->bInterfaceNumber;
		*in = alt->endpoint[2].bEndpointAddress;
		*out = alt->endpoint[3].bEndpointAddress;
		ret = 0;
		break;
	}
	libusb_free_config_descriptor(cfg);
	return ret;
}

static int vendor(libusb_device_handle *h, uint8_t req, uint16_t value, int intf)
{
	return libusb_control_transfer(h, 0x41, req, value, (uint16_t)intf, NULL, 0, 1000);
}

static int send_line(struct pipe *p, const char *text)
{
	int done = 0;
	int ret = libusb_bulk_transfer(p->h, p->out, (unsigned char *)text, (int)strlen(text),
				       &done, TIMEOUT_MS);

	if (ret || done != (int)strlen(text)) {
		fprintf(stderr, "iiod_pieces: sending '%s': %s\n", text, libusb_error_name(ret));
		return -1;
	}
	return 0;
}

/* One reply line: every reply integer is a transfer of its own. */
static int read_line(struct pipe *p)
{
	int done = 0;
	int ret = libusb_bulk_transfer(p->h, p->in, (unsigned char *)p->line,
				       (int)sizeof(p->line) - 1, &done, TIMEOUT_MS);

	if (ret) {
		fprintf(stderr, "iiod_pieces: reading a line: %s\n", libusb_error_name(ret));
		return -1;
	}
	p->line[done] = '\0';
	if (!done || p->line[done - 1] != '\n') {
		fprintf(stderr, "iiod_pieces: not a line: '%s'\n", p->line);
		return -1;
	}
	return 0;
}

static int read_payload(struct pipe *p, uint8_t *dst, int len)
{
	while (len > 0) {
		int done = 0;
		int ret = libusb_bulk_transfer(p->h, p->in, dst, len, &done, TIMEOUT_MS);

		if (ret) {
			fprintf(stderr, "iiod_pieces: payload: %s (%d left)\n",
				libusb_error_name(ret), len);
			return -1;
		}
		dst += done;
		len -= done;
	}
	return 0;
}

/* READBUF of `bytes` into buf: the chunks' lines, the mask once, the payloads. */
static int readbuf(struct pipe *p, const char *dev, uint8_t *buf, int bytes, int *chunks)
{
	char cmd[128];
	int got = 0;

	snprintf(cmd, sizeof(cmd), "READBUF %s %d\r\n", dev, bytes);
	if (send_line(p, cmd))
		return -1;
	*chunks = 0;
	while (got < bytes) {
		long n;

		if (read_line(p))
			return -1;
		n = strtol(p->line, NULL, 10);
		if (n <= 0 || n > bytes - got) {
			fprintf(stderr, "iiod_pieces: READBUF %d: chunk line '%s' after %d bytes\n",
				bytes, p->line, got);
			return -1;
		}
		if (*chunks == 0) {
			if (read_line(p))
				return -1;
			if (strcmp(p->line, "0000000f\n")) {
				fprintf(stderr, "iiod_pieces: mask line '%s'\n", p->line);
				return -1;
			}
		}
		if (read_payload(p, buf + got, (int)n))
			return -1;
		got += (int)n;
		++*chunks;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int vid, pid;
	struct host_dev d;
	struct pipe p = {0};
	struct iiosim_stream st;
	int intf, block, rounds;
	uint64_t offset = 0, errors = 0;
	int64_t first_error = -1;
	uint8_t *buf;
	char cmd[128];

	if (argc != 5 || sscanf(argv[1], "%x:%x", &vid, &pid) != 2) {
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
	if (!buf || iiosim_stream_init(&st, 0xf))
		return 1;
	if (libusb_init(&d.ctx))
		return 1;
	d.h = libusb_open_device_with_vid_pid(d.ctx, (uint16_t)vid, (uint16_t)pid);
	if (!d.h) {
		fprintf(stderr, "iiod_pieces: no device %04x:%04x\n", vid, pid);
		return 1;
	}
	if (find_iio(d.h, &intf, &p.in, &p.out)) {
		fprintf(stderr, "iiod_pieces: no \"IIO\" interface with two pipes\n");
		return 1;
	}
	libusb_set_auto_detach_kernel_driver(d.h, 1);
	if (libusb_claim_interface(d.h, intf)) {
		fprintf(stderr, "iiod_pieces: cannot claim interface %d\n", intf);
		return 1;
	}
	p.h = d.h;
	if (vendor(d.h, 0, 0, intf) < 0 || vendor(d.h, 1, 1, intf) < 0) {
		fprintf(stderr, "iiod_pieces: RESET_PIPES/OPEN_PIPE 1 failed\n");
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "OPEN %s %d 0000000f\r\n", argv[2], block / 8);
	if (send_line(&p, cmd) || read_line(&p))
		return 1;
	if (strcmp(p.line, "0\n")) {
		fprintf(stderr, "iiod_pieces: OPEN answered '%s'", p.line);
		return 1;
	}
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
	if (send_line(&p, "CLOSE ") < 0)
		return 1;
	snprintf(cmd, sizeof(cmd), "%s\r\n", argv[2]);
	if (send_line(&p, cmd) || read_line(&p))
		return 1;
	vendor(d.h, 2, 1, intf);
	vendor(d.h, 0, 0, intf);
	printf("iiod_pieces: %" PRIu64 " bytes in %d rounds, %" PRIu64 " mismatching bytes",
	       offset, rounds, errors);
	if (errors)
		printf(", first at byte %" PRId64, first_error);
	printf("; CLOSE answered %s", p.line);
	libusb_release_interface(d.h, intf);
	libusb_close(d.h);
	libusb_exit(d.ctx);
	free(buf);
	return errors ? 1 : 0;
}
