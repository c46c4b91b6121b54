/*
 * usb_host_rw - host side of the FunctionFS test gadgets (libusb-1.0).
 *
 *   usb_host_rw [options]
 *
 * Opens the test device (waiting for it to enumerate), claims interface 0
 * and, in this order:
 *   --set-alt              sends SET_INTERFACE(0, 0): the gadget's endpoints
 *                          are disabled and enabled again
 *   --ctrl REQ[:VALUE]     sends a vendor OUT request to the interface
 *   --drain                reads the bulk IN endpoint until it stays empty for
 *                          --read-timeout-ms and prints what came
 *   --read-once N          one bulk IN read of up to N bytes; prints
 *                          READ <n> "<data>" or READ timeout; with
 *                          --expect STR / --expect-none the exit status says
 *                          whether exactly STR (or nothing) came
 *   --in BYTES             reads BYTES from bulk IN with --urbs transfers of
 *                          --urb-size in flight and checks every byte against
 *                          the test pattern (seed --seed-in)
 *   --out BYTES            writes BYTES of the test pattern (seed --seed-out)
 *                          to bulk OUT, concurrently with --in
 * and prints the throughput of each direction. Sizes take K, M, G suffixes.
 * Exit status: 0 all checks passed, 1 a check or transfer failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <libusb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_pattern.h"
#include "usb_host_util.h"

#define MAX_URBS 64

struct stream {
    const char *name;
    struct host_dev *d;
    bool in;
    uint8_t ep;
    uint16_t mps;
    uint64_t total;
    uint64_t seed;
    size_t urb_size;
    unsigned int timeout_ms;

    uint64_t queued;      /* OUT: bytes handed to transfers so far */
    uint64_t outstanding; /* IN: bytes requested by transfers in flight */
    uint64_t done;        /* bytes completed (IN: received and checked) */
    int inflight;
    bool failed;
    uint64_t bad_bytes;
    uint64_t first_bad;
    double t_start;
    double t_end;
    struct libusb_transfer *xfer[MAX_URBS];
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);

    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        break;
    case '\0':
        break;
    default:
        fprintf(stderr, "usb_host_rw: bad size '%s'\n", s);
        exit(2);
    }
    return v;
}

static bool stream_finished(const struct stream *s)
{
    return s->failed || (s->done >= s->total && s->inflight == 0);
}

static void stream_fail(struct stream *s, const char *what)
{
    if (!s->failed)
        fprintf(stderr, "usb_host_rw: %s: %s at stream offset %llu\n", s->name, what,
                (unsigned long long)s->done);
    s->failed = true;
}

/* Length of the next transfer, 0 if none is needed. */
static size_t stream_next_len(const struct stream *s)
{
    if (s->in) {
        uint64_t want = s->total - s->done - s->outstanding;

        if (s->total <= s->done + s->outstanding)
            return 0;
        /* IN transfers must be whole packets, or a full packet overflows them. */
        want = (want + s->mps - 1) / s->mps * s->mps;
        return want < s->urb_size ? (size_t)want : s->urb_size;
    }
    if (s->queued >= s->total)
        return 0;
    return s->total - s->queued < s->urb_size ? (size_t)(s->total - s->queued) : s->urb_size;
}

static void LIBUSB_CALL stream_cb(struct libusb_transfer *t);

static int stream_submit(struct stream *s, struct libusb_transfer *t)
{
    size_t len = stream_next_len(s);
    int ret;

    if (!len || s->failed)
        return 0;
    if (!s->in)
        pattern_fill(t->buffer, s->queued, len, s->seed);
    libusb_fill_bulk_transfer(t, s->d->h, s->ep, t->buffer, (int)len, stream_cb, s, s->timeout_ms);
    ret = libusb_submit_transfer(t);
    if (ret) {
        fprintf(stderr, "usb_host_rw: %s: submitting %zu bytes: %s\n", s->name, len,
                libusb_error_name(ret));
        s->failed = true;
        return ret;
    }
    if (s->in)
        s->outstanding += len;
    else
        s->queued += len;
    s->inflight++;
    return 0;
}

static void LIBUSB_CALL stream_cb(struct libusb_transfer *t)
{
    struct stream *s = t->user_data;

    s->inflight--;
    if (s->in)
        s->outstanding -= (uint64_t)t->length;
    if (t->status == LIBUSB_TRANSFER_CANCELLED && s->done >= s->total)
        return; /* surplus read cancelled after the last byte came */
    if (t->status != LIBUSB_TRANSFER_COMPLETED) {
        char what[96];

        snprintf(what, sizeof(what), "transfer of %d bytes ended with %s after %d bytes", t->length,
                 libusb_error_name(t->status), t->actual_length);
        stream_fail(s, what);
        return;
    }
    if (s->in) {
        uint64_t first_bad = 0;
        size_t bad;

        if (s->done + (uint64_t)t->actual_length > s->total) {
            stream_fail(s, "device sent more than expected");
            return;
        }
        bad = pattern_check(t->buffer, s->done, (size_t)t->actual_length, s->seed, &first_bad);
        if (bad) {
            if (!s->bad_bytes)
                s->first_bad = first_bad;
            s->bad_bytes += bad;
            stream_fail(s, "pattern mismatch");
        }
    } else if (t->actual_length != t->length) {
        stream_fail(s, "short write");
        return;
    }
    s->done += (uint64_t)t->actual_length;
    s->t_end = now();
    if (s->done >= s->total) {
        /* The last byte came: surplus reads (whole-packet rounding) get nothing. */
        for (int i = 0; i < MAX_URBS && s->xfer[i]; i++)
            if (s->xfer[i] != t)
                libusb_cancel_transfer(s->xfer[i]);
        return;
    }
    stream_submit(s, t);
}

static int stream_start(struct stream *s, int urbs)
{
    s->t_start = s->t_end = now();
    for (int i = 0; i < urbs; i++) {
        unsigned char *buf;

        s->xfer[i] = libusb_alloc_transfer(0);
        buf = malloc(s->urb_size);
        if (!s->xfer[i] || !buf) {
            free(buf);
            fprintf(stderr, "usb_host_rw: out of memory\n");
            return -ENOMEM;
        }
        s->xfer[i]->buffer = buf;
        s->xfer[i]->flags = 0;
        if (stream_submit(s, s->xfer[i]))
            return -EIO;
    }
    return 0;
}

static void stream_free(struct stream *s)
{
    for (int i = 0; i < MAX_URBS && s->xfer[i]; i++) {
        free(s->xfer[i]->buffer);
        s->xfer[i]->buffer = NULL;
        libusb_free_transfer(s->xfer[i]);
        s->xfer[i] = NULL;
    }
}

static bool stream_report(const struct stream *s)
{
    double secs = s->t_end - s->t_start;
    double mib = (double)s->done / (1024.0 * 1024.0);

    if (!s->total)
        return true;
    if (s->failed || s->done != s->total) {
        printf("%s: FAILED after %llu of %llu bytes", s->name, (unsigned long long)s->done,
               (unsigned long long)s->total);
        if (s->bad_bytes)
            printf(", %llu bad bytes, first at offset %llu", (unsigned long long)s->bad_bytes,
                   (unsigned long long)s->first_bad);
        printf("\n");
        return false;
    }
    printf("%s: %llu bytes %s in %.2f s: %.1f MiB/s\n", s->name, (unsigned long long)s->done,
           s->in ? "received, pattern verified" : "sent", secs, secs > 0 ? mib / secs : 0.0);
    return true;
}

static void print_data(const unsigned char *buf, int len)
{
    printf("READ %d \"", len);
    for (int i = 0; i < len; i++) {
        if (buf[i] >= 0x20 && buf[i] < 0x7f && buf[i] != '"' && buf[i] != '\\')
            putchar(buf[i]);
        else
            printf("\\x%02x", buf[i]);
    }
    printf("\"\n");
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: usb_host_rw [--vid HEX] [--pid HEX] [--wait-ms MS]\n"
            "                   [--ctrl REQ[:VALUE]] [--set-alt] [--drain]\n"
            "                   [--read-once N [--read-timeout-ms MS] [--expect STR | "
            "--expect-none]]\n"
            "                   [--in BYTES] [--out BYTES] [--seed-in N] [--seed-out N]\n"
            "                   [--urb-size BYTES] [--urbs N] [--timeout-ms MS]\n");
    exit(status);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
            {"vid", required_argument, NULL, 'V'},
            {"pid", required_argument, NULL, 'P'},
            {"wait-ms", required_argument, NULL, 'w'},
            {"ctrl", required_argument, NULL, 'c'},
            {"set-alt", no_argument, NULL, 'a'},
            {"drain", no_argument, NULL, 'd'},
            {"read-once", required_argument, NULL, 'r'},
            {"read-timeout-ms", required_argument, NULL, 'R'},
            {"expect", required_argument, NULL, 'e'},
            {"expect-none", no_argument, NULL, 'E'},
            {"in", required_argument, NULL, 'i'},
            {"out", required_argument, NULL, 'o'},
            {"seed-in", required_argument, NULL, 'I'},
            {"seed-out", required_argument, NULL, 'O'},
            {"urb-size", required_argument, NULL, 's'},
            {"urbs", required_argument, NULL, 'n'},
            {"timeout-ms", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    unsigned int vid = 0x1d6b, pid = 0x0104, wait_ms = 30000, read_timeout_ms = 1000;
    unsigned int timeout_ms = 20000;
    int ctrl_req = -1, ctrl_value = 0, read_once = 0, urbs = 8;
    bool set_alt = false, drain = false, expect_none = false;
    const char *expect = NULL;
    uint64_t in_bytes = 0, out_bytes = 0, seed_in = 1, seed_out = 2, urb_size = 1 << 20;
    struct stream in = {.name = "IN", .in = true};
    struct stream out = {.name = "OUT", .in = false};
    struct host_dev d;
    bool ok = true;
    int opt;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'V':
            vid = (unsigned int)strtoul(optarg, NULL, 16);
            break;
        case 'P':
            pid = (unsigned int)strtoul(optarg, NULL, 16);
            break;
        case 'w':
            wait_ms = (unsigned int)strtoul(optarg, NULL, 0);
            break;
        case 'c': {
            char *colon;

            ctrl_req = (int)strtol(optarg, &colon, 0);
            if (*colon == ':')
                ctrl_value = (int)strtol(colon + 1, NULL, 0);
            break;
        }
        case 'a':
            set_alt = true;
            break;
        case 'd':
            drain = true;
            break;
        case 'r':
            read_once = (int)strtol(optarg, NULL, 0);
            break;
        case 'R':
            read_timeout_ms = (unsigned int)strtoul(optarg, NULL, 0);
            break;
        case 'e':
            expect = optarg;
            break;
        case 'E':
            expect_none = true;
            break;
        case 'i':
            in_bytes = parse_size(optarg);
            break;
        case 'o':
            out_bytes = parse_size(optarg);
            break;
        case 'I':
            seed_in = strtoull(optarg, NULL, 0);
            break;
        case 'O':
            seed_out = strtoull(optarg, NULL, 0);
            break;
        case 's':
            urb_size = parse_size(optarg);
            break;
        case 'n':
            urbs = (int)strtol(optarg, NULL, 0);
            break;
        case 't':
            timeout_ms = (unsigned int)strtoul(optarg, NULL, 0);
            break;
        case 'h':
            usage(0);
            break;
        default:
            usage(2);
        }
    }
    if (optind != argc || urbs < 1 || urbs > MAX_URBS || !urb_size)
        usage(2);

    if (host_open(&d, (uint16_t)vid, (uint16_t)pid, (int)wait_ms))
        return 1;
    printf("device %04x:%04x at %s speed, bulk IN 0x%02x (%u), OUT 0x%02x (%u)\n", vid, pid,
           host_speed_name(d.speed), d.ep_in, d.mps_in, d.ep_out, d.mps_out);

    if (set_alt) {
        int ret = libusb_set_interface_alt_setting(d.h, d.intf, 0);

        printf("SET_INTERFACE %s\n", ret ? libusb_error_name(ret) : "ok");
        if (ret)
            ok = false;
    }
    if (ok && ctrl_req >= 0) {
        int ret = host_vendor_out(&d, (uint8_t)ctrl_req, (uint16_t)ctrl_value, 5000);

        printf("CTRL %d:%d %s\n", ctrl_req, ctrl_value, ret ? libusb_error_name(ret) : "ok");
        if (ret)
            ok = false;
    }
    if (ok && drain) {
        unsigned char buf[4096];
        int got, ret;

        while ((ret = libusb_bulk_transfer(d.h, d.ep_in, buf, sizeof(buf), &got,
                                           read_timeout_ms)) == 0 ||
               got > 0) {
            printf("DRAIN ");
            print_data(buf, got);
            if (ret)
                break;
        }
    }
    if (ok && read_once > 0) {
        /* Whole packets, so that a longer reply shows up instead of overflowing. */
        int len = (read_once + d.mps_in - 1) / d.mps_in * d.mps_in;
        unsigned char *buf = calloc(1, (size_t)len);
        int got = 0, ret;

        ret = libusb_bulk_transfer(d.h, d.ep_in, buf, len, &got, read_timeout_ms);
        if (ret == LIBUSB_ERROR_TIMEOUT && got == 0) {
            printf("READ timeout\n");
            if (expect)
                ok = false;
        } else if (ret && got == 0) {
            printf("READ error %s\n", libusb_error_name(ret));
            ok = false;
        } else {
            print_data(buf, got);
            if (expect_none ||
                (expect && ((size_t)got != strlen(expect) || memcmp(buf, expect, (size_t)got))))
                ok = false;
        }
        if (!ok && (expect || expect_none))
            printf("READ did not match: expected %s%s%s\n", expect ? "\"" : "",
                   expect ? expect : "nothing", expect ? "\"" : "");
        free(buf);
    }

    if (ok && (in_bytes || out_bytes)) {
        double deadline;

        in.d = out.d = &d;
        in.ep = d.ep_in;
        in.mps = d.mps_in;
        out.ep = d.ep_out;
        out.mps = d.mps_out;
        in.total = in_bytes;
        out.total = out_bytes;
        in.seed = seed_in;
        out.seed = seed_out;
        in.timeout_ms = out.timeout_ms = timeout_ms;
        in.urb_size = out.urb_size = (size_t)(urb_size / d.mps_in * d.mps_in);
        if (!in.urb_size)
            usage(2);
        if ((in.total && stream_start(&in, urbs)) || (out.total && stream_start(&out, urbs)))
            in.failed = true;
        deadline = now() + 600;
        while (!(stream_finished(&in) && stream_finished(&out)) || in.inflight || out.inflight) {
            struct timeval tv = {.tv_sec = 1};
            int ret = libusb_handle_events_timeout_completed(d.ctx, &tv, NULL);

            if (ret && ret != LIBUSB_ERROR_INTERRUPTED) {
                fprintf(stderr, "usb_host_rw: libusb_handle_events: %s\n", libusb_error_name(ret));
                in.failed = true;
                break;
            }
            if ((in.failed || out.failed) && (in.inflight || out.inflight)) {
                /* Cancel the rest and let the callbacks run. */
                for (int i = 0; i < MAX_URBS; i++) {
                    if (in.xfer[i])
                        libusb_cancel_transfer(in.xfer[i]);
                    if (out.xfer[i])
                        libusb_cancel_transfer(out.xfer[i]);
                }
            }
            if (now() > deadline) {
                fprintf(stderr, "usb_host_rw: streams did not finish in time\n");
                in.failed = true;
                break;
            }
        }
        ok = stream_report(&in) && ok;
        ok = stream_report(&out) && ok;
        if (in.inflight || out.inflight)
            ok = false; /* transfers still owned by libusb: leave them to exit() */
        else {
            stream_free(&in);
            stream_free(&out);
        }
    }

    host_close(&d);
    return ok ? 0 : 1;
}
