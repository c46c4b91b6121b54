/*
 * usb_bulk_baseline: the plainest libusb-1.0 async bulk reader, the yardstick for
 * `iiousb capture` throughput (issue 4: within 5% with the same transfer count and size).
 * It finds the first device with the iiousb interface triple (ff/49/01), claims it,
 * optionally STARTs a stream (vendor request 0x02, docs/protocol.md), keeps N transfers
 * of SIZE bytes in flight on the endpoint for T seconds, STOPs and prints the rate.
 * The data is not looked at.
 *
 *   usb_bulk_baseline [-n TRANSFERS] [-s SIZE] [-t SECONDS] [-e EP] [-c STREAM] [-z]
 *
 * -z uses usbfs zero-copy buffers (libusb_dev_mem_alloc), as iiousb does by default.
 * Output (one line): "usb_bulk_baseline: N x SIZE B: BYTES bytes in T s: R MiB/s; CPU C s"
 * (C: the process's user + system time while the transfers ran).
 */
#include <libusb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/resource.h>

static uint64_t total;
static int in_flight;
static bool stopping;
static int failed_status = -1;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system time of the process. */
static double cpu_now(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void LIBUSB_CALL on_transfer(struct libusb_transfer *t)
{
    in_flight--;
    if (t->status == LIBUSB_TRANSFER_COMPLETED) {
        total += (uint64_t)t->actual_length;
        if (!stopping && libusb_submit_transfer(t) == 0) {
            in_flight++;
            return;
        }
    } else if (t->status != LIBUSB_TRANSFER_CANCELLED) {
        failed_status = t->status;
        stopping = true;
    }
}

static libusb_device_handle *open_iiousb(libusb_context *ctx, int *intf)
{
    libusb_device **list;
    libusb_device_handle *h = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);

    for (ssize_t i = 0; i < n && !h; i++) {
        struct libusb_config_descriptor *cfg;
        if (libusb_get_active_config_descriptor(list[i], &cfg))
            continue;
        for (int j = 0; j < cfg->bNumInterfaces && !h; j++) {
            const struct libusb_interface_descriptor *alt = &cfg->interface[j].altsetting[0];
            if (alt->bInterfaceClass == 0xff && alt->bInterfaceSubClass == 0x49 &&
                alt->bInterfaceProtocol == 0x01 && libusb_open(list[i], &h) == 0)
                *intf = alt->bInterfaceNumber;
        }
        libusb_free_config_descriptor(cfg);
    }
    libusb_free_device_list(list, 1);
    return h;
}

int main(int argc, char **argv)
{
    int transfers = 16, stream = -1, intf = 0, r;
    unsigned size = 256 * 1024;
    double seconds = 5;
    unsigned ep = 0x81;
    bool devmem = false;
    libusb_context *ctx;
    libusb_device_handle *h;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "-z"))
            devmem = true;
        else if (!v)
            goto usage;
        else if (!strcmp(argv[i], "-n"))
            transfers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s"))
            size = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-t"))
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "-e"))
            ep = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-c"))
            stream = atoi(argv[++i]);
        else
            goto usage;
    }
    if (transfers < 1 || size == 0 || seconds <= 0)
        goto usage;

    if (libusb_init(&ctx)) {
        fprintf(stderr, "usb_bulk_baseline: libusb_init failed\n");
        return 1;
    }
    h = open_iiousb(ctx, &intf);
    if (!h) {
        fprintf(stderr, "usb_bulk_baseline: no iiousb device\n");
        return 1;
    }
    r = libusb_claim_interface(h, intf);
    if (r) {
        fprintf(stderr, "usb_bulk_baseline: claim: %s\n", libusb_error_name(r));
        return 1;
    }
    if (stream >= 0) {
        r = libusb_control_transfer(h, 0x41, 0x02, (uint16_t)stream, (uint16_t)intf, NULL, 0, 2000);
        if (r < 0) {
            fprintf(stderr, "usb_bulk_baseline: START: %s\n", libusb_error_name(r));
            return 1;
        }
    }

    struct libusb_transfer **xfers = calloc((size_t)transfers, sizeof(*xfers));
    bool any_devmem = false;
    for (int i = 0; i < transfers; i++) {
        unsigned char *buf = devmem ? libusb_dev_mem_alloc(h, size) : NULL;
        any_devmem |= buf != NULL;
        if (!buf)
            buf = malloc(size);
        xfers[i] = libusb_alloc_transfer(0);
        libusb_fill_bulk_transfer(xfers[i], h, (unsigned char)ep, buf, (int)size, on_transfer, NULL,
                                  0);
    }
    double cpu0 = cpu_now();
    double t0 = now();
    for (int i = 0; i < transfers; i++) {
        r = libusb_submit_transfer(xfers[i]);
        if (r) {
            fprintf(stderr, "usb_bulk_baseline: submit: %s\n", libusb_error_name(r));
            stopping = true;
            break;
        }
        in_flight++;
    }
    double end = t0 + seconds, t1 = t0;
    bool cancelled = false;
    while (in_flight > 0) {
        struct timeval tv = {0, 100000};
        libusb_handle_events_timeout_completed(ctx, &tv, NULL);
        t1 = now();
        if (!stopping && t1 >= end)
            stopping = true;
        if (stopping && !cancelled) {
            for (int i = 0; i < transfers; i++)
                libusb_cancel_transfer(xfers[i]);
            cancelled = true;
        }
    }
    if (stream >= 0)
        libusb_control_transfer(h, 0x41, 0x03, (uint16_t)stream, (uint16_t)intf, NULL, 0, 2000);
    double dt = t1 - t0;
    double cpu = cpu_now() - cpu0;
    printf("usb_bulk_baseline: %d x %u B%s: %llu bytes in %.2f s: %.2f MiB/s; CPU %.2f s\n",
           transfers, size, any_devmem ? " (usbfs zero-copy)" : "", (unsigned long long)total, dt,
           (double)total / dt / (1024.0 * 1024.0), cpu);
    if (failed_status >= 0)
        fprintf(stderr, "usb_bulk_baseline: a transfer failed with status %d\n", failed_status);
    libusb_release_interface(h, intf);
    libusb_close(h);
    libusb_exit(ctx);
    return failed_status >= 0;

usage:
    fprintf(stderr, "usage: usb_bulk_baseline [-n TRANSFERS] [-s SIZE] [-t SECONDS] [-e EP] "
                    "[-c STREAM] [-z]\n");
    return 2;
}
