/*
 * tx_short: the host side of the stream_tx_short scenario. Talks to iiousbd's tx stream
 * NAME (found in GET_INFO) and sends, on its bulk OUT endpoint:
 *
 *   tx_short [-d VID:PID] stream NAME BLOCKS
 *       START, then BLOCKS full blocks of iio-sim's pattern (channel mask from
 *       GET_INFO's channel count), a short or zero-length transfer after each one
 *       (garbage that the DAC must never see); waits until the device took them all.
 *   tx_short ... budget NAME COUNT
 *       START, then up to COUNT zero-length transfers (1 s timeout each: once the
 *       device gave up it takes no more).
 *   tx_short ... cyclic NAME BYTES
 *       START_CYCLIC with BYTES, then a zero-length and a short transfer, then the
 *       BYTES-byte waveform (the pattern from sample 0).
 *
 * Each prints one line: "sent full=N short=N" and then the device's GET_STATS record
 * (read with wLength 4096) as "stats version=.. size=.. state=.. blocks=.. bytes=..
 * short=.. usb-errors=..". The stream is left as it is (the scenario checks the DAC
 * first, then STOPs it). Exit status 0 when the transfers went as planned, 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/time.h>

#include "iiosim_pattern.h"

#include "iiousb_requests.h"

#define CTRL_TIMEOUT_MS 10000

static libusb_context *ctx;
static libusb_device_handle *dev;
static int intf = -1;
static unsigned stream_index, ep, channels;
static unsigned long long block;

static int find_interface(void)
{
    struct libusb_config_descriptor *cfg;

    if (libusb_get_active_config_descriptor(libusb_get_device(dev), &cfg))
        return -1;
    for (int i = 0; i < cfg->bNumInterfaces; i++) {
        const struct libusb_interface_descriptor *alt = &cfg->interface[i].altsetting[0];

        if (alt->bInterfaceClass == IIOUSB_CLASS && alt->bInterfaceSubClass == IIOUSB_SUBCLASS &&
            alt->bInterfaceProtocol == IIOUSB_PROTOCOL)
            intf = alt->bInterfaceNumber;
    }
    libusb_free_config_descriptor(cfg);
    return intf < 0 ? -1 : 0;
}

static int control(uint8_t type, uint8_t req, uint16_t value, unsigned char *buf, uint16_t len)
{
    int ret = libusb_control_transfer(dev, type, req, value, (uint16_t)intf, buf, len,
                                      CTRL_TIMEOUT_MS);

    if (ret < 0)
        fprintf(stderr, "tx_short: control 0x%02x/0x%02x: %s\n", type, req, libusb_error_name(ret));
    return ret;
}

/* The stream line of NAME in GET_INFO (one 4096-byte slice is enough for the test config). */
static int find_stream(const char *name)
{
    static unsigned char text[4097];
    char want[80];
    const char *line;
    int n = control(0xc1, REQ_GET_INFO, 0, text, 4096);

    if (n < 0)
        return -1;
    text[n] = 0;
    snprintf(want, sizeof(want), " name=%s ", name);
    for (line = (const char *)text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *end = strchr(line, '\n');
        char buf[512];
        size_t len = end ? (size_t)(end - line) : strlen(line);

        if (len >= sizeof(buf) || strncmp(line, "stream ", 7))
            continue;
        memcpy(buf, line, len);
        buf[len] = 0;
        strcat(buf, " ");
        if (!strstr(buf, want) || !strstr(buf, " dir=tx "))
            continue;
        stream_index = (unsigned)strtoul(buf + 7, NULL, 10);
        ep = (unsigned)strtoul(strstr(buf, " ep=") + 4, NULL, 16);
        block = strtoull(strstr(buf, " block=") + 7, NULL, 10);
        channels = (unsigned)strtoul(strstr(buf, " channels=") + 10, NULL, 10);
        return 0;
    }
    fprintf(stderr, "tx_short: no tx stream %s in GET_INFO\n", name);
    return -1;
}

static void transfer_done(struct libusb_transfer *t)
{
    *(int *)t->user_data = 1;
}

/*
 * One bulk OUT transfer of `len` bytes; `zlp`: end it with a zero-length packet (a
 * length that is a multiple of wMaxPacketSize is otherwise not ended). Returns the
 * libusb transfer status (0 = completed) or a negative libusb error.
 */
static int send_out(unsigned char *data, int len, int zlp, unsigned timeout_ms)
{
    struct libusb_transfer *t = libusb_alloc_transfer(0);
    int done = 0, ret;

    if (!t)
        return LIBUSB_ERROR_NO_MEM;
    libusb_fill_bulk_transfer(t, dev, (unsigned char)ep, data, len, transfer_done, &done,
                              timeout_ms);
    if (zlp)
        t->flags |= LIBUSB_TRANSFER_ADD_ZERO_PACKET;
    ret = libusb_submit_transfer(t);
    if (ret) {
        libusb_free_transfer(t);
        return ret;
    }
    while (!done)
        libusb_handle_events_completed(ctx, &done);
    ret = t->status == LIBUSB_TRANSFER_COMPLETED && t->actual_length != len ? -EIO
          : t->status == LIBUSB_TRANSFER_COMPLETED                          ? 0
                                                                            : (int)t->status;
    libusb_free_transfer(t);
    return ret;
}

static int print_stats(void)
{
    static const char *states[] = {"stopped", "running", "failed"};
    unsigned char r[4096];
    int n = control(0xc1, REQ_GET_STATS, (uint16_t)stream_index, r, sizeof(r));
    uint64_t v[8];

    if (n < 72) {
        fprintf(stderr, "tx_short: GET_STATS returned %d bytes (want >= 72)\n", n);
        return 1;
    }
    for (int i = 0; i < 8; i++) {
        v[i] = 0;
        for (int b = 7; b >= 0; b--)
            v[i] = (v[i] << 8) | r[8 + 8 * i + b];
    }
    printf("stats version=%u size=%u state=%s bytes=%" PRIu64 " blocks=%" PRIu64
           " underruns=%" PRIu64 " usb-errors=%" PRIu64 " iio-errors=%" PRIu64 " short=%" PRIu64
           " received=%d\n",
           r[0] | r[1] << 8, r[2] | r[3] << 8, r[4] < 3 ? states[r[4]] : "?", v[0], v[1], v[3],
           v[4], v[5], v[7], n);
    return 0;
}

/* Waits (up to 30 s) until GET_STATS says the device played `blocks` blocks. */
static int wait_blocks(unsigned blocks)
{
    unsigned char r[4096];

    for (int i = 0; i < 300; i++) {
        int n = control(0xc1, REQ_GET_STATS, (uint16_t)stream_index, r, sizeof(r));
        uint64_t done = 0;

        if (n < 64)
            return -1;
        for (int b = 7; b >= 0; b--)
            done = (done << 8) | r[16 + b];
        if (done >= blocks)
            return 0;
        libusb_handle_events_timeout_completed(ctx, &(struct timeval){0, 100000}, NULL);
    }
    fprintf(stderr, "tx_short: the device did not play %u blocks within 30 s\n", blocks);
    return -1;
}

static int cmd_stream(unsigned blocks)
{
    /* Short lengths: ZLP, one short packet, not a packet multiple, a multiple ended by a
     * ZLP, one byte less than a block (the stale tail would be 1 byte). */
    const struct {
        int len, zlp;
    } shorts[] = {{0, 0}, {100, 0}, {1000, 0}, {65536, 1}, {-1, 0}};
    const int nshort = (int)(sizeof(shorts) / sizeof(shorts[0]));
    unsigned char *buf = malloc(block), *junk = malloc(block);
    struct iiosim_stream st;
    unsigned full = 0, nshorts = 0;
    int ret = 1;

    if (!buf || !junk || iiosim_stream_init(&st, (1u << channels) - 1))
        goto out;
    memset(junk, 0xa5, block);
    if (control(0x41, REQ_START, (uint16_t)stream_index, NULL, 0) < 0)
        goto out;
    for (unsigned i = 0; i < blocks; i++) {
        int r, len = shorts[i % nshort].len;

        iiosim_fill(&st, buf, block);
        r = send_out(buf, (int)block, 0, 10000);
        if (r) {
            fprintf(stderr, "tx_short: full block %u: %d\n", i, r);
            goto out;
        }
        full++;
        if (len < 0)
            len = (int)block - 1;
        r = send_out(junk, len, shorts[i % nshort].zlp, 10000);
        if (r) {
            fprintf(stderr, "tx_short: short transfer of %d bytes after block %u: %d\n", len, i, r);
            goto out;
        }
        nshorts++;
    }
    ret = wait_blocks(full) ? 1 : 0;
out:
    printf("sent full=%u short=%u block=%llu\n", full, nshorts, block);
    if (print_stats())
        ret = 1;
    free(buf);
    free(junk);
    return ret;
}

static int cmd_budget(unsigned count)
{
    unsigned sent = 0;

    if (control(0x41, REQ_START, (uint16_t)stream_index, NULL, 0) < 0)
        return 1;
    for (; sent < count; sent++)
        if (send_out(NULL, 0, 0, 1000))
            break;
    printf("sent full=0 short=%u\n", sent);
    return print_stats();
}

static int cmd_cyclic(unsigned bytes)
{
    unsigned char len[8];
    unsigned char *wave = malloc(bytes), *junk = calloc(1, bytes);
    struct iiosim_stream st;
    int ret = 1, sent = 0;

    if (!wave || !junk || iiosim_stream_init(&st, (1u << channels) - 1))
        goto out;
    iiosim_fill(&st, wave, bytes);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)bytes >> (8 * i));
    if (control(0x41, REQ_START_CYCLIC, (uint16_t)stream_index, len, 8) != 8)
        goto out;
    if (send_out(NULL, 0, 0, 10000) || send_out(junk, 1000, 0, 10000)) {
        fprintf(stderr, "tx_short: short cyclic transfers not taken\n");
        goto out;
    }
    if (send_out(wave, (int)bytes, 0, 10000)) {
        fprintf(stderr, "tx_short: the waveform was not taken\n");
        goto out;
    }
    /* The host sees its transfer complete before the daemon has handled it (on the copy path
     * the AIO completion runs in a kernel worker after the URB is given back): wait for it. */
    sent = 1;
    ret = wait_blocks(1) ? 1 : 0;
out:
    printf("sent full=%d short=2\n", sent);
    if (print_stats())
        ret = 1;
    free(wave);
    free(junk);
    return ret;
}

static int usage(void)
{
    fprintf(stderr, "usage: tx_short [-d VID:PID] stream NAME BLOCKS|budget NAME COUNT|"
                    "cyclic NAME BYTES\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned vid = 0x1d6b, pid = 0x0104;
    int argi = 1, ret = 1;
    unsigned long n;

    if (argc > 2 && !strcmp(argv[1], "-d")) {
        if (sscanf(argv[2], "%x:%x", &vid, &pid) != 2)
            return usage();
        argi = 3;
    }
    if (argc - argi != 3)
        return usage();
    n = strtoul(argv[argi + 2], NULL, 0);
    if (libusb_init(&ctx))
        return 1;
    dev = libusb_open_device_with_vid_pid(ctx, (uint16_t)vid, (uint16_t)pid);
    if (!dev) {
        fprintf(stderr, "tx_short: no device %04x:%04x\n", vid, pid);
        goto exit;
    }
    if (find_interface() || libusb_claim_interface(dev, intf)) {
        fprintf(stderr, "tx_short: no iiousb interface to claim\n");
        goto close;
    }
    if (find_stream(argv[argi + 1]))
        goto release;
    if (!strcmp(argv[argi], "stream"))
        ret = cmd_stream((unsigned)n);
    else if (!strcmp(argv[argi], "budget"))
        ret = cmd_budget((unsigned)n);
    else if (!strcmp(argv[argi], "cyclic"))
        ret = cmd_cyclic((unsigned)n);
    else
        ret = usage();
release:
    libusb_release_interface(dev, intf);
close:
    libusb_close(dev);
exit:
    libusb_exit(ctx);
    return ret;
}
