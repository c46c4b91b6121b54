/*
 * daemon_probe: the host side of iiousbd's control protocol (docs/protocol.md), for
 * the daemon_* VM scenarios. Finds the device by VID:PID and the iiousb interface by
 * its class/subclass/protocol triple, then runs one command:
 *
 *   daemon_probe [-d VID:PID] [-w WAIT_MS] describe        interface and endpoints
 *   daemon_probe ... info [SLICE]      GET_INFO text read in SLICE-byte slices (4096)
 *   daemon_probe ... start N | stop N  prints "ok" or "STALL"
 *   daemon_probe ... stats N           the GET_STATS record as key=value
 *   daemon_probe ... raw TYPE REQ VALUE LENGTH   any request to the interface:
 *                                      prints "STALL" or "ok BYTES"
 *   daemon_probe -d HUB ... port N suspend|resume   SET/CLEAR_FEATURE(PORT_SUSPEND) on
 *                                      port N of the hub HUB (a root hub: 1d6b:0002), behind
 *                                      the hub driver's back, for kernels without runtime PM
 *
 * Exit status: 0 when the command ran (a STALL is a result, not a failure), 1 when the
 * device could not be used, 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iiousb_requests.h"

#define TIMEOUT_MS 5000
#define USB_PORT_FEAT_SUSPEND 2
#define USB_PORT_FEAT_C_SUSPEND 18

static libusb_context *ctx;
static libusb_device_handle *dev;
static int intf = -1;

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static int find_interface(FILE *describe)
{
    struct libusb_config_descriptor *cfg;
    int ret = libusb_get_active_config_descriptor(libusb_get_device(dev), &cfg);

    if (ret) {
        fprintf(stderr, "daemon_probe: no active configuration: %s\n", libusb_error_name(ret));
        return -1;
    }
    for (int i = 0; i < cfg->bNumInterfaces; i++) {
        const struct libusb_interface_descriptor *alt = &cfg->interface[i].altsetting[0];

        if (alt->bInterfaceClass != IIOUSB_CLASS || alt->bInterfaceSubClass != IIOUSB_SUBCLASS ||
            alt->bInterfaceProtocol != IIOUSB_PROTOCOL)
            continue;
        intf = alt->bInterfaceNumber;
        if (describe) {
            unsigned char s[128] = "";

            if (alt->iInterface)
                libusb_get_string_descriptor_ascii(dev, alt->iInterface, s, sizeof(s));
            fprintf(describe,
                    "interface %d class=0x%02x subclass=0x%02x protocol=0x%02x "
                    "endpoints=%d string=%s\n",
                    intf, alt->bInterfaceClass, alt->bInterfaceSubClass, alt->bInterfaceProtocol,
                    alt->bNumEndpoints, s);
            for (int e = 0; e < alt->bNumEndpoints; e++) {
                const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];

                fprintf(describe, "endpoint 0x%02x type=%s max-packet=%u\n", ep->bEndpointAddress,
                        (ep->bmAttributes & 3) == LIBUSB_TRANSFER_TYPE_BULK ? "bulk" : "other",
                        ep->wMaxPacketSize);
            }
        }
        break;
    }
    libusb_free_config_descriptor(cfg);
    if (intf < 0) {
        fprintf(stderr, "daemon_probe: no iiousb interface (ff/49/01)\n");
        return -1;
    }
    return 0;
}

/* Returns bytes transferred, -EPIPE for a stall, or another negative value. */
static int control(uint8_t type, uint8_t req, uint16_t value, unsigned char *buf, uint16_t len)
{
    int ret = libusb_control_transfer(dev, type, req, value, (uint16_t)intf, buf, len, TIMEOUT_MS);

    if (ret == LIBUSB_ERROR_PIPE)
        return -EPIPE;
    if (ret < 0) {
        fprintf(stderr, "daemon_probe: control 0x%02x/0x%02x: %s\n", type, req,
                libusb_error_name(ret));
        return -EIO;
    }
    return ret;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int cmd_info(unsigned slice)
{
    unsigned char *buf = malloc(slice);
    unsigned offset = 0;

    if (!buf)
        return 1;
    for (;;) {
        int n = control(0xc1, REQ_GET_INFO, (uint16_t)offset, buf, (uint16_t)slice);

        if (n == -EPIPE) {
            fprintf(stderr, "daemon_probe: GET_INFO at %u stalled\n", offset);
            free(buf);
            return 1;
        }
        if (n < 0) {
            free(buf);
            return 1;
        }
        fwrite(buf, 1, (size_t)n, stdout);
        offset += (unsigned)n;
        if ((unsigned)n < slice || offset > 0xffff)
            break;
    }
    free(buf);
    return 0;
}

static int cmd_stats(uint16_t stream)
{
    static const char *states[] = {"stopped", "running", "failed"};
    static const char *modes[] = {"none", "zero-copy", "copy"};
    unsigned char r[64];
    int n = control(0xc1, REQ_GET_STATS, stream, r, sizeof(r));

    if (n == -EPIPE) {
        printf("STALL\n");
        return 0;
    }
    if (n != 64) {
        fprintf(stderr, "daemon_probe: GET_STATS returned %d bytes\n", n);
        return 1;
    }
    printf("version=%u size=%u state=%s iio=%s usb=%s bytes=%" PRIu64 " blocks=%" PRIu64
           " overruns=%" PRIu64 " underruns=%" PRIu64 " usb-errors=%" PRIu64 " iio-errors=%" PRIu64
           " running-ns=%" PRIu64 "\n",
           (unsigned)le(r, 2), (unsigned)le(r + 2, 2), r[4] < 3 ? states[r[4]] : "?",
           r[5] < 3 ? modes[r[5]] : "?", r[6] < 3 ? modes[r[6]] : "?", le(r + 8, 8), le(r + 16, 8),
           le(r + 24, 8), le(r + 32, 8), le(r + 40, 8), le(r + 48, 8), le(r + 56, 8));
    return 0;
}

/* Suspend or resume port N of the opened hub. A resume is complete once the hub reports
 * the port's C_SUSPEND after the resume signalling (20 ms on dummy_hcd): GET_STATUS then,
 * and acknowledge the change as the hub driver does. A kernel without CONFIG_PM never
 * clears C_SUSPEND itself, and hub_wq would see the port change again and again. */
static int cmd_port(unsigned port, const char *what)
{
    unsigned char st[4];
    int resume = !strcmp(what, "resume"), n;

    if (!resume && strcmp(what, "suspend"))
        return 2;
    n = libusb_control_transfer(dev, 0x23,
                                resume ? LIBUSB_REQUEST_CLEAR_FEATURE : LIBUSB_REQUEST_SET_FEATURE,
                                USB_PORT_FEAT_SUSPEND, (uint16_t)port, NULL, 0, TIMEOUT_MS);
    if (n < 0) {
        fprintf(stderr, "daemon_probe: port %u %s: %s\n", port, what, libusb_error_name(n));
        return 1;
    }
    for (int i = 0; i < 50; i++) {
        sleep_ms(30);
        n = libusb_control_transfer(dev, 0xa3, LIBUSB_REQUEST_GET_STATUS, 0, (uint16_t)port, st,
                                    sizeof(st), TIMEOUT_MS);
        if (n != (int)sizeof(st)) {
            fprintf(stderr, "daemon_probe: port %u status: %s\n", port,
                    n < 0 ? libusb_error_name(n) : "short");
            return 1;
        }
        if (!!(st[0] & (1 << USB_PORT_FEAT_SUSPEND)) != resume) {
            if (resume && (n = libusb_control_transfer(dev, 0x23, LIBUSB_REQUEST_CLEAR_FEATURE,
                                                       USB_PORT_FEAT_C_SUSPEND, (uint16_t)port,
                                                       NULL, 0, TIMEOUT_MS)) < 0) {
                fprintf(stderr, "daemon_probe: port %u: clearing C_SUSPEND: %s\n", port,
                        libusb_error_name(n));
                return 1;
            }
            printf("ok\n");
            return 0;
        }
    }
    fprintf(stderr, "daemon_probe: port %u: status %02x%02x after %s\n", port, st[1], st[0], what);
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: daemon_probe [-d VID:PID] [-w WAIT_MS] "
                    "describe|info [SLICE]|start N|stop N|stats N|raw TYPE REQ VALUE LENGTH|"
                    "port N suspend|resume\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned vid = 0x1d6b, pid = 0x0104;
    int wait_ms = 0, argi = 1, ret;
    const char *cmd;

    while (argi < argc && argv[argi][0] == '-') {
        if (!strcmp(argv[argi], "-d") && argi + 1 < argc) {
            if (sscanf(argv[argi + 1], "%x:%x", &vid, &pid) != 2)
                return usage();
        } else if (!strcmp(argv[argi], "-w") && argi + 1 < argc) {
            wait_ms = atoi(argv[argi + 1]);
        } else {
            return usage();
        }
        argi += 2;
    }
    if (argi >= argc)
        return usage();
    cmd = argv[argi++];

    if (libusb_init(&ctx))
        return 1;
    for (int waited = 0;; waited += 100) {
        dev = libusb_open_device_with_vid_pid(ctx, (uint16_t)vid, (uint16_t)pid);
        if (dev || waited >= wait_ms)
            break;
        sleep_ms(100);
    }
    if (!dev) {
        fprintf(stderr, "daemon_probe: no device %04x:%04x\n", vid, pid);
        libusb_exit(ctx);
        return 1;
    }
    if (!strcmp(cmd, "port")) {
        ret = argi + 1 < argc ? cmd_port((unsigned)strtoul(argv[argi], NULL, 0), argv[argi + 1])
                              : 2;
        if (ret == 2)
            usage();
        goto out;
    }
    ret = 1;
    if (find_interface(!strcmp(cmd, "describe") ? stdout : NULL))
        goto out;
    if ((ret = libusb_claim_interface(dev, intf))) {
        fprintf(stderr, "daemon_probe: claiming interface %d: %s\n", intf, libusb_error_name(ret));
        ret = 1;
        goto out;
    }

    if (!strcmp(cmd, "describe")) {
        ret = 0;
    } else if (!strcmp(cmd, "info")) {
        ret = cmd_info(argi < argc ? (unsigned)strtoul(argv[argi], NULL, 0) : 4096);
    } else if ((!strcmp(cmd, "start") || !strcmp(cmd, "stop")) && argi < argc) {
        int n = control(0x41, !strcmp(cmd, "start") ? REQ_START : REQ_STOP,
                        (uint16_t)strtoul(argv[argi], NULL, 0), NULL, 0);

        printf("%s\n", n == -EPIPE ? "STALL" : n < 0 ? "ERROR" : "ok");
        ret = n == -EPIPE || n >= 0 ? 0 : 1;
    } else if (!strcmp(cmd, "stats") && argi < argc) {
        ret = cmd_stats((uint16_t)strtoul(argv[argi], NULL, 0));
    } else if (!strcmp(cmd, "raw") && argi + 3 < argc) {
        static unsigned char buf[65535];
        unsigned len = (unsigned)strtoul(argv[argi + 3], NULL, 0);
        int n;

        if (len > sizeof(buf))
            len = sizeof(buf);
        n = control((uint8_t)strtoul(argv[argi], NULL, 0),
                    (uint8_t)strtoul(argv[argi + 1], NULL, 0),
                    (uint16_t)strtoul(argv[argi + 2], NULL, 0), buf, (uint16_t)len);
        if (n == -EPIPE)
            printf("STALL\n");
        else if (n >= 0)
            printf("ok %d\n", n);
        ret = n == -EPIPE || n >= 0 ? 0 : 1;
    } else {
        ret = usage();
    }
    libusb_release_interface(dev, intf);
out:
    libusb_close(dev);
    libusb_exit(ctx);
    return ret;
}
