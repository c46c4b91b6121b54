/*
 * ep0_fault: a misbehaving host on iiousbd's control pipe, for the daemon_ep0_fault VM
 * scenario (issue 11, "No host can wedge iiousbd"). f_fs blocks the gadget process in
 * ep0's data and status stages until the host completes the control transfer, so a host
 * that gives up on a transfer after its SETUP went out must not be able to stall the
 * daemon's event loop. This program is that host:
 *
 *   ep0_fault [-d VID:PID] [-w WAIT_MS] [-q] abandon N
 *       N vendor requests to the iiousb interface, GET_STATS (0xc1/0x04, wValue a stream
 *       index, wLength 64) or GET_INFO (0xc1/0x01, wLength 64..4096), each with a libusb
 *       timeout of 1-5 ms, so that many are abandoned after their SETUP went out; a random
 *       0-20 ms pause between them. Then more such requests without the pause until one
 *       times out (at most 200), so that the run ends on an abandoned transfer: no later
 *       request of ours completes it. (Whether its SETUP reached the gadget before the
 *       host gave up, the host cannot tell: the scenario looks at the daemon's wchan.)
 *   ep0_fault ... random N [SEED]
 *       N random SETUPs (see random_setup() for what is never sent), random OUT data,
 *       random timeouts of 1-200 ms (a fifth of them 1-5 ms). Stalls, timeouts and
 *       requests the host's usbfs refuses are expected and counted by kind.
 *   ep0_fault ... probe N [INTERVAL_MS]
 *       N GET_STATS(0) with a 1 s timeout, INTERVAL_MS (50) apart, or fewer until SIGINT or
 *       SIGTERM: the latency of a well-behaved host while another instance runs the fault
 *       load. Every probe must succeed; one that is stalled is sent once more at once, and
 *       that second try must succeed (counted apart as "stalled, then answered"). The gadget
 *       API cannot tell which control transfer a halt of ep0 is for: when the daemon halts
 *       ep0 to reject another process's request just as the host gives up on it and sends
 *       the probe's SETUP, the UDC may clear the halt for the new SETUP before the halt is
 *       set (dummy_hcd clears it in dummy_timer() and only then calls the gadget's setup()
 *       with its lock dropped), and the halt then stalls the probe. Stalled again, or a
 *       timeout (a daemon that does not answer), fails.
 *
 * random and probe end with one normal GET_STATS(0) with a 1000 ms timeout, which must
 * succeed; abandon does not: its point is to leave the last transfer abandoned, with no
 * later SETUP of ours to complete it.
 * The device is found by VID:PID (1d6b:0104 by default) and the interface by its
 * class/subclass/protocol triple ff/49/01, as in daemon_probe. The interface is claimed
 * when it is free. While `iiousb capture` or `play` holds it, it is not: vendor requests
 * need no claim, but usbfs refuses standard and class requests to an interface or endpoint
 * that another process claimed (EBUSY), so random sends those to the device and ep0.
 *
 * Exit status: 0 when the device stayed (and answered the final GET_STATS); 1 when it
 * disappeared (LIBUSB_ERROR_NO_DEVICE), could not be opened, or the final GET_STATS (or,
 * in probe mode, any probe) failed; 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <libusb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iiousb_requests.h"

#define STATS_LEN 64
#define FINAL_TIMEOUT_MS 1000
#define MAX_ENDPOINTS 32

static libusb_context *ctx;
static libusb_device_handle *dev;
static int intf = -1;
static int claimed;
static int quiet;
static unsigned nstreams = 1;
static uint8_t endpoints[MAX_ENDPOINTS];
static unsigned nendpoints;
static uint64_t rng_state;
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* splitmix64: the same sequence for the same seed on every libc. */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A number in [lo, hi]. */
static unsigned rnd_range(unsigned lo, unsigned hi)
{
    return lo + (unsigned)(rnd() % ((uint64_t)hi - lo + 1));
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Outcomes of control transfers, by kind. */
enum outcome { OK, TIMEOUT, STALL, OVERFLOW, BUSY, REFUSED, OTHER, GONE, NOUTCOMES };
static const char *const outcome_names[NOUTCOMES] = {
        "ok", "timeout", "stall", "overflow", "busy", "refused", "other", "no-device",
};

static enum outcome classify(int ret)
{
    if (ret >= 0)
        return OK;
    switch (ret) {
    case LIBUSB_ERROR_TIMEOUT:
        return TIMEOUT;
    case LIBUSB_ERROR_PIPE:
        return STALL;
    /*
     * More data than wLength: the device answered with a longer data stage than asked for,
     * e.g. an earlier, abandoned request's reply sent in this request's data stage.
     */
    case LIBUSB_ERROR_OVERFLOW:
        return OVERFLOW;
    case LIBUSB_ERROR_BUSY:
        return BUSY;
    /* usbfs refusing a wIndex it has no interface or endpoint for, or a bad length. */
    case LIBUSB_ERROR_NOT_FOUND:
    case LIBUSB_ERROR_INVALID_PARAM:
    case LIBUSB_ERROR_ACCESS:
        return REFUSED;
    case LIBUSB_ERROR_NO_DEVICE:
        return GONE;
    default:
        return OTHER;
    }
}

static void print_counts(const char *what, const unsigned counts[NOUTCOMES])
{
    printf("%s:", what);
    for (int i = 0; i < NOUTCOMES; i++)
        printf(" %s=%u", outcome_names[i], counts[i]);
    printf("\n");
}

static int open_device(unsigned vid, unsigned pid, int wait_ms)
{
    struct libusb_config_descriptor *cfg;
    int ret;

    /*
     * A fresh context per attempt: without udevd (the test VM) libusb's device list
     * never learns of devices that appear after libusb_init().
     */
    for (int waited = 0;; waited += 100) {
        ret = libusb_init(&ctx);
        if (ret) {
            fprintf(stderr, "ep0_fault: libusb_init: %s\n", libusb_error_name(ret));
            return -1;
        }
        dev = libusb_open_device_with_vid_pid(ctx, (uint16_t)vid, (uint16_t)pid);
        if (dev)
            break;
        libusb_exit(ctx);
        ctx = NULL;
        if (waited >= wait_ms) {
            fprintf(stderr, "ep0_fault: no USB device %04x:%04x (waited %d ms)\n", vid, pid,
                    wait_ms);
            return -1;
        }
        sleep_ms(100);
    }
    ret = libusb_get_active_config_descriptor(libusb_get_device(dev), &cfg);
    if (ret) {
        fprintf(stderr, "ep0_fault: %04x:%04x has no active configuration: %s\n", vid, pid,
                libusb_error_name(ret));
        return -1;
    }
    for (int i = 0; i < cfg->bNumInterfaces && intf < 0; i++) {
        const struct libusb_interface_descriptor *alt = &cfg->interface[i].altsetting[0];

        if (alt->bInterfaceClass != IIOUSB_CLASS || alt->bInterfaceSubClass != IIOUSB_SUBCLASS ||
            alt->bInterfaceProtocol != IIOUSB_PROTOCOL)
            continue;
        intf = alt->bInterfaceNumber;
        for (int e = 0; e < alt->bNumEndpoints && nendpoints < MAX_ENDPOINTS; e++)
            endpoints[nendpoints++] = alt->endpoint[e].bEndpointAddress;
    }
    libusb_free_config_descriptor(cfg);
    if (intf < 0) {
        fprintf(stderr, "ep0_fault: %04x:%04x has no iiousb interface (ff/49/01)\n", vid, pid);
        return -1;
    }
    /* One bulk endpoint per stream (docs/protocol.md). */
    if (nendpoints > 0)
        nstreams = nendpoints;
    ret = libusb_claim_interface(dev, intf);
    if (ret == 0) {
        claimed = 1;
    } else if (ret == LIBUSB_ERROR_BUSY) {
        if (!quiet)
            printf("ep0_fault: interface %d is claimed by another process: only vendor "
                   "requests go to it\n",
                   intf);
    } else {
        fprintf(stderr, "ep0_fault: claiming interface %d: %s\n", intf, libusb_error_name(ret));
        return -1;
    }
    return 0;
}

static void close_device(void)
{
    if (dev) {
        if (claimed)
            libusb_release_interface(dev, intf);
        libusb_close(dev);
    }
    if (ctx)
        libusb_exit(ctx);
}

/* One well-behaved GET_STATS(0) with the final timeout; ret gets libusb's result. */
static enum outcome get_stats_once(unsigned char r[STATS_LEN], int *ret)
{
    *ret = libusb_control_transfer(dev, 0xc1, REQ_GET_STATS, 0, (uint16_t)intf, r, STATS_LEN,
                                   FINAL_TIMEOUT_MS);
    return *ret == STATS_LEN ? OK : *ret >= 0 ? OTHER : classify(*ret);
}

/* A well-behaved GET_STATS of stream 0; 0 when it answered with the whole record. */
static int final_check(void)
{
    unsigned char r[STATS_LEN];
    double t0 = now_ms();
    int ret;

    if (get_stats_once(r, &ret) != OK) {
        fprintf(stderr, "ep0_fault: FAIL: the final GET_STATS(0) with a %d ms timeout: %s\n",
                FINAL_TIMEOUT_MS, ret < 0 ? libusb_error_name(ret) : "short reply");
        return -1;
    }
    printf("final GET_STATS(0): ok in %.1f ms\n", now_ms() - t0);
    return 0;
}

/* One GET_STATS or GET_INFO with the given timeout; returns libusb's result. */
static int abandonable_request(unsigned timeout_ms)
{
    static unsigned char buf[4096];

    if (rnd() & 1)
        return libusb_control_transfer(dev, 0xc1, REQ_GET_STATS,
                                       (uint16_t)rnd_range(0, nstreams - 1), (uint16_t)intf, buf,
                                       STATS_LEN, timeout_ms);
    /* A slice from offset 0 (the info text is short): a long data stage. */
    return libusb_control_transfer(dev, 0xc1, REQ_GET_INFO, 0, (uint16_t)intf, buf,
                                   (uint16_t)rnd_range(64, 4096), timeout_ms);
}

static int cmd_abandon(unsigned n)
{
    unsigned counts[NOUTCOMES] = {0}, extra = 0;
    enum outcome last = OK;
    double t0 = now_ms();

    for (unsigned i = 0; i < n; i++) {
        last = classify(abandonable_request(rnd_range(1, 5)));
        counts[last]++;
        if (last == GONE)
            break;
        sleep_ms(rnd_range(0, 20));
    }
    /* End on an abandoned transfer: no later request of ours completes it. */
    while (last != GONE && last != TIMEOUT && extra < 200) {
        last = classify(abandonable_request(rnd_range(1, 5)));
        counts[last]++;
        extra++;
    }
    printf("abandon: %u requests (%u to end on an abandoned one) in %.1f s: completed %u, "
           "timed out %u, stalled %u, other %u%s\n",
           n + extra, extra, (now_ms() - t0) / 1e3, counts[OK], counts[TIMEOUT], counts[STALL],
           counts[OVERFLOW] + counts[BUSY] + counts[REFUSED] + counts[OTHER],
           last == TIMEOUT ? ", last abandoned" : "");
    if (counts[GONE]) {
        fprintf(stderr, "ep0_fault: FAIL: the device disappeared (LIBUSB_ERROR_NO_DEVICE)\n");
        return 1;
    }
    if (counts[OTHER])
        fprintf(stderr, "ep0_fault: %u requests failed in an unexpected way\n", counts[OTHER]);
    return 0;
}

/*
 * One random SETUP. Never sent, because they would reconfigure the device or stop the
 * streams under test rather than exercise ep0:
 *   - standard SET_ADDRESS, SET_CONFIGURATION, SET_INTERFACE (a new address or
 *     configuration, an alternate setting: the host would lose the device or its
 *     endpoints), SET_FEATURE and CLEAR_FEATURE on any recipient (remote wakeup, test
 *     modes, U1/U2, function suspend, ENDPOINT_HALT: halting or resetting a stream's
 *     endpoint);
 *   - vendor START (0x02), STOP (0x03) and START_CYCLIC (0x05), whatever the recipient
 *     and wIndex (f_fs maps interface and endpoint requests onto the daemon's interface):
 *     they start and stop the streams that the scenario checks.
 * Everything else is fair: unknown requests, wrong directions and lengths, vendor requests
 * to other interfaces and endpoints, class requests.
 */
static void random_setup(uint8_t *type, uint8_t *req, uint16_t *value, uint16_t *index,
                         uint16_t *length)
{
    unsigned t = rnd_range(0, 9), recip = rnd_range(0, 3);

    /*
     * usbfs lets a process send standard and class requests to an interface or its
     * endpoints only if it claimed the interface (it tries to claim it on the fly and
     * fails with EBUSY, logging each time, while `iiousb capture` holds it): without the
     * claim, send those to the device or ep0 instead.
     */
    if (!claimed && t >= 5 && recip != 0)
        recip = (unsigned)rnd_range(0, 1) * 3;
    for (;;) {
        *type = (uint8_t)((rnd() & 1 ? LIBUSB_ENDPOINT_IN : LIBUSB_ENDPOINT_OUT) |
                          (t < 5   ? LIBUSB_REQUEST_TYPE_VENDOR
                           : t < 8 ? LIBUSB_REQUEST_TYPE_STANDARD
                                   : LIBUSB_REQUEST_TYPE_CLASS) |
                          (recip == 0   ? LIBUSB_RECIPIENT_DEVICE
                           : recip == 3 ? LIBUSB_RECIPIENT_ENDPOINT
                                        : LIBUSB_RECIPIENT_INTERFACE));
        /* Mostly the requests that exist, sometimes anything. */
        *req = (uint8_t)(rnd() % 4 ? rnd_range(0, 0x0d) : rnd_range(0, 255));
        if (t >= 5 && t < 8 &&
            (*req == LIBUSB_REQUEST_SET_ADDRESS || *req == LIBUSB_REQUEST_SET_CONFIGURATION ||
             *req == LIBUSB_REQUEST_SET_INTERFACE || *req == LIBUSB_REQUEST_SET_FEATURE ||
             *req == LIBUSB_REQUEST_CLEAR_FEATURE))
            continue;
        if (t < 5 && (*req == REQ_START || *req == REQ_STOP || *req == REQ_START_CYCLIC))
            continue;
        break;
    }
    switch (rnd_range(0, 3)) {
    case 0:
        *value = (uint16_t)rnd();
        break;
    default:
        *value = (uint16_t)rnd_range(0, nstreams); /* a stream index, or one past them */
        break;
    }
    if (!claimed && t >= 5 && recip == 3)
        *index = (uint16_t)(rnd() & 1 ? 0x80 : 0); /* ep0 */
    else if (t < 5 && rnd_range(0, 4) == 0)
        *index = (uint16_t)rnd(); /* (usbfs refuses other types to interfaces it lacks) */
    else if (recip == 3)
        *index = nendpoints ? endpoints[rnd_range(0, nendpoints - 1)] : 0;
    else
        *index = (uint16_t)intf;
    switch (rnd_range(0, 9)) {
    case 0:
        *length = 4096;
        break;
    case 1:
    case 2:
    case 3:
        *length = (uint16_t)rnd_range(0, 4096);
        break;
    case 4:
        *length = 0;
        break;
    default:
        *length = (uint16_t)rnd_range(1, 64);
        break;
    }
}

static int cmd_random(unsigned n, uint64_t seed)
{
    static unsigned char buf[4096];
    unsigned counts[NOUTCOMES] = {0}, by_type[4][NOUTCOMES] = {{0}};
    static const char *const type_names[3] = {"standard", "class", "vendor"};
    double t0 = now_ms();
    int rc = 0;

    rng_state = seed;
    printf("random: %u SETUPs, seed %" PRIu64 "\n", n, seed);
    for (unsigned i = 0; i < n; i++) {
        uint8_t type, req;
        uint16_t value, index, length;
        unsigned timeout = rnd_range(0, 4) == 0 ? rnd_range(1, 5) : rnd_range(6, 200);
        enum outcome o;
        int ret;

        random_setup(&type, &req, &value, &index, &length);
        if (!(type & LIBUSB_ENDPOINT_IN))
            for (unsigned b = 0; b < length; b++)
                buf[b] = (unsigned char)rnd();
        ret = libusb_control_transfer(dev, type, req, value, index, buf, length, timeout);
        o = classify(ret);
        counts[o]++;
        by_type[(type >> 5) & 3][o]++;
        if ((o == OTHER || o == OVERFLOW) && !quiet)
            fprintf(stderr,
                    "ep0_fault: #%u type=0x%02x req=0x%02x value=0x%04x index=0x%04x len=%u "
                    "timeout=%u ms: %s\n",
                    i, type, req, value, index, length, timeout, libusb_error_name(ret));
        if (o == GONE) {
            fprintf(stderr,
                    "ep0_fault: FAIL: the device disappeared (LIBUSB_ERROR_NO_DEVICE) at #%u "
                    "(type=0x%02x req=0x%02x value=0x%04x index=0x%04x len=%u)\n",
                    i, type, req, value, index, length);
            rc = 1;
            break;
        }
    }
    printf("random: %u SETUPs in %.1f s\n", n, (now_ms() - t0) / 1e3);
    for (int t = 0; t < 3; t++)
        print_counts(type_names[t], by_type[t]);
    print_counts("random: all", counts);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int cmd_probe(unsigned n, unsigned interval_ms)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    unsigned char r[STATS_LEN];
    unsigned counts[NOUTCOMES] = {0}, done = 0, stalled_once = 0;
    double *lat = calloc(n ? n : 1, sizeof(*lat));

    if (!lat) {
        fprintf(stderr, "ep0_fault: out of memory\n");
        return 1;
    }
    /* No SA_RESTART: the pause between probes ends at once; a transfer in flight finishes. */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (done < n && !stop_requested) {
        double t0 = now_ms();
        int ret;
        enum outcome o = get_stats_once(r, &ret);

        if (o == STALL) {
            fprintf(stderr, "ep0_fault: probe #%u: stalled after %.1f ms, sending it again\n", done,
                    now_ms() - t0);
            o = get_stats_once(r, &ret);
            if (o == OK)
                stalled_once++;
        }
        lat[done++] = now_ms() - t0;
        counts[o]++;
        if (o != OK)
            fprintf(stderr, "ep0_fault: probe #%u: %s after %.1f ms\n", done - 1,
                    ret >= 0 ? "short reply" : libusb_error_name(ret), lat[done - 1]);
        if (o == GONE)
            break;
        if (!stop_requested)
            sleep_ms(interval_ms);
    }
    qsort(lat, done, sizeof(*lat), cmp_double);
    if (done)
        printf("probe: %u GET_STATS(0), %u ok; latency ms: min %.1f p50 %.1f p90 %.1f p99 %.1f "
               "max %.1f\n",
               done, counts[OK], lat[0], lat[done / 2], lat[done * 9 / 10], lat[done * 99 / 100],
               lat[done - 1]);
    free(lat);
    print_counts("probe", counts);
    printf("probe: %u stalled, then answered when sent again\n", stalled_once);
    if (counts[OK] != done)
        fprintf(stderr, "ep0_fault: FAIL: %u of %u probes failed\n", done - counts[OK], done);
    return counts[OK] == done ? 0 : 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: ep0_fault [-d VID:PID] [-w WAIT_MS] [-q] abandon N | random N [SEED] "
                    "| probe N [INTERVAL_MS]\n");
    return 2;
}

static int parse_uint(const char *s, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || end == s || *end || v > 0xffffffffUL)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned vid = 0x1d6b, pid = 0x0104, n, arg2 = 0;
    int wait_ms = 0, argi = 1, ret;
    const char *cmd;

    while (argi < argc && argv[argi][0] == '-') {
        if (!strcmp(argv[argi], "-q")) {
            quiet = 1;
            argi++;
            continue;
        }
        if (!strcmp(argv[argi], "-d") && argi + 1 < argc) {
            if (sscanf(argv[argi + 1], "%x:%x", &vid, &pid) != 2 || vid > 0xffff || pid > 0xffff)
                return usage();
        } else if (!strcmp(argv[argi], "-w") && argi + 1 < argc) {
            wait_ms = atoi(argv[argi + 1]);
        } else {
            return usage();
        }
        argi += 2;
    }
    if (argi + 1 >= argc || parse_uint(argv[argi + 1], &n))
        return usage();
    cmd = argv[argi];
    if (argi + 2 < argc && parse_uint(argv[argi + 2], &arg2))
        return usage();
    if (strcmp(cmd, "abandon") && strcmp(cmd, "random") && strcmp(cmd, "probe"))
        return usage();

    rng_state = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    if (open_device(vid, pid, wait_ms)) {
        close_device();
        return 1;
    }
    if (!strcmp(cmd, "abandon"))
        ret = cmd_abandon(n);
    else if (!strcmp(cmd, "random"))
        ret = cmd_random(n, argi + 2 < argc ? arg2 : rng_state);
    else
        ret = cmd_probe(n, argi + 2 < argc ? arg2 : 50);
    if (ret == 0 && strcmp(cmd, "abandon") && final_check())
        ret = 1;
    close_device();
    return ret;
}
