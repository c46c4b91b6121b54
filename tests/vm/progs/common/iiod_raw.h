/*
 * A raw iiod-protocol client over libusb (no libiio), for the guest programs
 * that send what libiio clients never do: find the interface named "IIO",
 * open a pipe with the ep0 vendor requests, send command lines, read reply
 * lines (each its own transfer) and payloads of an announced length.
 *
 * Header-only: every guest program is built from its own .c file.
 */
#ifndef IIOUSB_IIOD_RAW_H
#define IIOUSB_IIOD_RAW_H

#include <libusb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define IIOD_RAW_TIMEOUT_MS 5000

struct iiod_pipe {
	libusb_device_handle *h;
	int intf;
	uint8_t in, out;
	const char *who; /* the program, for messages */
	char line[256];
};

/* Finds the interface whose string is "IIO" and the endpoints of pipe `pipe`. */
static inline int iiod_find(struct iiod_pipe *p, int pipe)
{
	struct libusb_config_descriptor *cfg;
	int ret = LIBUSB_ERROR_NOT_FOUND;

	if (libusb_get_active_config_descriptor(libusb_get_device(p->h), &cfg))
		return LIBUSB_ERROR_IO;
	for (int i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface_descriptor *alt = &cfg->interface[i].altsetting[0];
		unsigned char name[64] = "";

		if (!alt->iInterface || alt->bNumEndpoints < 2 * (pipe + 1))
			continue;
		if (libusb_get_string_descriptor_ascii(p->h, alt->iInterface, name,
						       sizeof(name)) < 0 ||
		    strcmp((char *)name, "IIO"))
			continue;
		/* Pipe i: endpoint descriptors 2i (IN) and 2i+1 (OUT). */
		p->intf = alt->bInterfaceNumber;
		p->in = alt->endpoint[2 * pipe].bEndpointAddress;
		p->out = alt->endpoint[2 * pipe + 1].bEndpointAddress;
		ret = 0;
		break;
	}
	libusb_free_config_descriptor(cfg);
	return ret;
}

/* RESET_PIPES (0), OPEN_PIPE (1), CLOSE_PIPE (2) of pipe `value`. */
static inline int iiod_vendor(struct iiod_pipe *p, uint8_t req, uint16_t value)
{
	return libusb_control_transfer(p->h, 0x41, req, value, (uint16_t)p->intf, NULL, 0, 1000);
}

/*
 * Opens the device VID:PID ("vvvv:pppp"), claims its "IIO" interface and
 * opens pipe `pipe` after RESET_PIPES. 0, or -1 with the reason printed.
 */
static inline int iiod_connect(struct iiod_pipe *p, libusb_context **ctx, const char *vidpid,
			       int pipe)
{
	unsigned int vid, pid;

	if (sscanf(vidpid, "%x:%x", &vid, &pid) != 2) {
		fprintf(stderr, "%s: '%s' is not VID:PID\n", p->who, vidpid);
		return -1;
	}
	if (libusb_init(ctx))
		return -1;
	p->h = libusb_open_device_with_vid_pid(*ctx, (uint16_t)vid, (uint16_t)pid);
	if (!p->h) {
		fprintf(stderr, "%s: no device %04x:%04x\n", p->who, vid, pid);
		return -1;
	}
	if (iiod_find(p, pipe)) {
		fprintf(stderr, "%s: no \"IIO\" interface with pipe %d\n", p->who, pipe);
		return -1;
	}
	libusb_set_auto_detach_kernel_driver(p->h, 1);
	if (libusb_claim_interface(p->h, p->intf)) {
		fprintf(stderr, "%s: cannot claim interface %d\n", p->who, p->intf);
		return -1;
	}
	if (iiod_vendor(p, 0, 0) < 0 || iiod_vendor(p, 1, (uint16_t)pipe) < 0) {
		fprintf(stderr, "%s: RESET_PIPES/OPEN_PIPE %d failed\n", p->who, pipe);
		return -1;
	}
	return 0;
}

/* CLOSE_PIPE, RESET_PIPES, and the device let go. */
static inline void iiod_disconnect(struct iiod_pipe *p, libusb_context *ctx, int pipe)
{
	iiod_vendor(p, 2, (uint16_t)pipe);
	iiod_vendor(p, 0, 0);
	libusb_release_interface(p->h, p->intf);
	libusb_close(p->h);
	libusb_exit(ctx);
}

/* `len` bytes as one OUT transfer. */
static inline int iiod_send(struct iiod_pipe *p, const void *data, int len)
{
	int done = 0;
	int ret = libusb_bulk_transfer(p->h, p->out, (unsigned char *)data, len, &done,
				       IIOD_RAW_TIMEOUT_MS);

	if (ret || done != len) {
		fprintf(stderr, "%s: sending %d bytes: %s (%d sent)\n", p->who, len,
			libusb_error_name(ret), done);
		return -1;
	}
	return 0;
}

static inline int iiod_send_line(struct iiod_pipe *p, const char *text)
{
	return iiod_send(p, text, (int)strlen(text));
}

/* One reply line into p->line: every reply integer is a transfer of its own. */
static inline int iiod_read_line(struct iiod_pipe *p)
{
	int done = 0;
	int ret = libusb_bulk_transfer(p->h, p->in, (unsigned char *)p->line,
				       (int)sizeof(p->line) - 1, &done, IIOD_RAW_TIMEOUT_MS);

	if (ret) {
		fprintf(stderr, "%s: reading a line: %s\n", p->who, libusb_error_name(ret));
		return -1;
	}
	p->line[done] = '\0';
	if (!done || p->line[done - 1] != '\n') {
		fprintf(stderr, "%s: not a line: '%s'\n", p->who, p->line);
		return -1;
	}
	return 0;
}

static inline int iiod_read_payload(struct iiod_pipe *p, uint8_t *dst, int len)
{
	while (len > 0) {
		int done = 0;
		int ret = libusb_bulk_transfer(p->h, p->in, dst, len, &done, IIOD_RAW_TIMEOUT_MS);

		if (ret) {
			fprintf(stderr, "%s: payload: %s (%d left)\n", p->who,
				libusb_error_name(ret), len);
			return -1;
		}
		dst += done;
		len -= done;
	}
	return 0;
}

/* Sends `cmd` and reads its reply line: 0 with the line in p->line. */
static inline int iiod_command(struct iiod_pipe *p, const char *cmd)
{
	return iiod_send_line(p, cmd) || iiod_read_line(p) ? -1 : 0;
}

/*
 * OPEN of `dev` with `samples` sample sets and all four of iio-sim's channels
 * (mask 0000000f): 0 once it answered 0, -1 with the answer printed.
 */
static inline int iiod_open_all4(struct iiod_pipe *p, const char *dev, int samples)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "OPEN %s %d 0000000f\r\n", dev, samples);
	if (iiod_command(p, cmd))
		return -1;
	if (strcmp(p->line, "0\n")) {
		fprintf(stderr, "%s: OPEN answered '%s'", p->who, p->line);
		return -1;
	}
	return 0;
}

/* iiod_connect() on pipe 1, then iiod_open_all4(). */
static inline int iiod_start(struct iiod_pipe *p, libusb_context **ctx, const char *vidpid,
			     const char *dev, int samples)
{
	return iiod_connect(p, ctx, vidpid, 1) || iiod_open_all4(p, dev, samples) ? -1 : 0;
}

/* CLOSE of `dev`, sent as two transfers: its answer in p->line. */
static inline int iiod_close(struct iiod_pipe *p, const char *dev)
{
	char cmd[128];

	if (iiod_send_line(p, "CLOSE ") < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s\r\n", dev);
	return iiod_command(p, cmd);
}

#endif
