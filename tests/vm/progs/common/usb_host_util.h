/*
 * Host side of the FunctionFS test gadgets (libusb-1.0): find the test device,
 * claim its vendor interface, look up the bulk IN and OUT endpoints.
 *
 * Header-only: every guest program is built from its own .c file.
 */
#ifndef IIOUSB_USB_HOST_UTIL_H
#define IIOUSB_USB_HOST_UTIL_H

#include <libusb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct host_dev {
    libusb_context *ctx;
    libusb_device_handle *h;
    int intf;
    uint8_t ep_in;
    uint8_t ep_out;
    uint16_t mps_in;
    uint16_t mps_out;
    int speed; /* enum libusb_speed */
};

static inline void host_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Find the bulk endpoints of interface 0 in the active configuration. */
static inline int host_find_endpoints(struct host_dev *d)
{
    struct libusb_config_descriptor *cfg;
    const struct libusb_interface_descriptor *alt;
    int ret;

    ret = libusb_get_active_config_descriptor(libusb_get_device(d->h), &cfg);
    if (ret)
        return ret;
    ret = LIBUSB_ERROR_NOT_FOUND;
    if (cfg->bNumInterfaces < 1 || cfg->interface[0].num_altsetting < 1)
        goto out;
    alt = &cfg->interface[0].altsetting[0];
    d->intf = alt->bInterfaceNumber;
    for (int i = 0; i < alt->bNumEndpoints; i++) {
        const struct libusb_endpoint_descriptor *ep = &alt->endpoint[i];

        if ((ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
            continue;
        if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) {
            d->ep_in = ep->bEndpointAddress;
            d->mps_in = ep->wMaxPacketSize & 0x7ff;
        } else {
            d->ep_out = ep->bEndpointAddress;
            d->mps_out = ep->wMaxPacketSize & 0x7ff;
        }
    }
    if (d->ep_in && d->ep_out)
        ret = 0;
out:
    libusb_free_config_descriptor(cfg);
    return ret;
}

/*
 * Open the device vid:pid, waiting up to wait_ms for it to show up (the
 * scenario binds the UDC while we start), and claim interface 0. Returns 0 or
 * a libusb error; prints what failed.
 */
static inline int host_open(struct host_dev *d, uint16_t vid, uint16_t pid, int wait_ms)
{
    int ret;

    *d = (struct host_dev){0};
    /*
     * A fresh context per attempt: without udevd (the test VM) libusb's
     * device list never learns of devices that appear after libusb_init().
     */
    for (int waited = 0;; waited += 100) {
        ret = libusb_init(&d->ctx);
        if (ret) {
            fprintf(stderr, "libusb_init: %s\n", libusb_error_name(ret));
            return ret;
        }
        d->h = libusb_open_device_with_vid_pid(d->ctx, vid, pid);
        /* Until the host configured it, the device has no active configuration. */
        ret = d->h ? host_find_endpoints(d) : LIBUSB_ERROR_NO_DEVICE;
        if (!ret)
            break;
        if (d->h)
            libusb_close(d->h);
        d->h = NULL;
        libusb_exit(d->ctx);
        d->ctx = NULL;
        if (waited >= wait_ms) {
            fprintf(stderr, "no USB device %04x:%04x with a bulk IN/OUT pair after %d ms: %s\n",
                    vid, pid, wait_ms, libusb_error_name(ret));
            return ret;
        }
        host_sleep_ms(100);
    }
    ret = libusb_claim_interface(d->h, d->intf);
    if (ret) {
        fprintf(stderr, "claiming interface %d: %s\n", d->intf, libusb_error_name(ret));
        goto err;
    }
    d->speed = libusb_get_device_speed(libusb_get_device(d->h));
    return 0;
err:
    libusb_close(d->h);
    libusb_exit(d->ctx);
    *d = (struct host_dev){0};
    return ret;
}

static inline void host_close(struct host_dev *d)
{
    if (d->h) {
        libusb_release_interface(d->h, d->intf);
        libusb_close(d->h);
    }
    if (d->ctx)
        libusb_exit(d->ctx);
    *d = (struct host_dev){0};
}

static inline const char *host_speed_name(int speed)
{
    switch (speed) {
    case LIBUSB_SPEED_LOW:
        return "low";
    case LIBUSB_SPEED_FULL:
        return "full";
    case LIBUSB_SPEED_HIGH:
        return "high";
    case LIBUSB_SPEED_SUPER:
        return "super";
    case LIBUSB_SPEED_SUPER_PLUS:
        return "super+";
    default:
        return "unknown";
    }
}

/* Vendor request to the interface, no data stage. */
static inline int host_vendor_out(struct host_dev *d, uint8_t request, uint16_t value,
                                  unsigned int timeout_ms)
{
    int ret = libusb_control_transfer(
            d->h, LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_INTERFACE,
            request, value, (uint16_t)d->intf, NULL, 0, timeout_ms);

    return ret < 0 ? ret : 0;
}

#endif /* IIOUSB_USB_HOST_UTIL_H */
