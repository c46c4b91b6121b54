/*
 * ffs_fifo_test - gadget side of the udc_fifo_flush scenario.
 *
 *   ffs_fifo_test [--ready FILE] FFS_DIR
 *
 * Writes the test descriptors (bulk IN ep1, bulk OUT ep2) to FFS_DIR/ep0,
 * touches FILE, and then serves vendor requests (OUT, no data stage, to
 * interface 0) from the host, the way a daemon with a command protocol does.
 * Every IN write is asynchronous (Linux AIO on the endpoint file), so that it
 * can be cancelled like a reply that the host never read:
 *
 *   1 (REPLY, n)          queue the short reply "reply n"
 *   2 (REPLY_DATA, n)     queue "reply n" and 4 KiB of data behind it
 *   3 (RESET_REPLY, n)    a new session starts: cancel every write still
 *                         queued (io_cancel -> usb_ep_dequeue), then queue
 *                         "reply n"
 *   4 (FLUSH_REPLY, n)    FUNCTIONFS_FIFO_STATUS and FUNCTIONFS_FIFO_FLUSH on
 *                         the IN endpoint, then queue "reply n"
 *   5 (EXIT)              exit
 *
 * The request is acknowledged after the action, so when the host's control
 * transfer returns the reply is queued. The host side is usb_host_rw.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/aio_abi.h>
#include <sys/syscall.h>

#include "ffs_test_util.h"

enum {
    REQ_REPLY = 1,
    REQ_REPLY_DATA = 2,
    REQ_RESET_REPLY = 3,
    REQ_FLUSH_REPLY = 4,
    REQ_EXIT = 5,
};

#define MAX_WRITES 16
#define DATA_LEN 4096

struct aio_write {
    struct iocb cb;
    char *buf;
    size_t len;
    bool busy;
    char what[32];
};

static aio_context_t aio_ctx;
static struct aio_write writes[MAX_WRITES];
static int ep_in = -1;

static long sys_io_setup(unsigned int nr, aio_context_t *ctx)
{
    return syscall(SYS_io_setup, nr, ctx);
}

static long sys_io_submit(aio_context_t ctx, long n, struct iocb **cbs)
{
    return syscall(SYS_io_submit, ctx, n, cbs);
}

static long sys_io_cancel(aio_context_t ctx, struct iocb *cb, struct io_event *ev)
{
    return syscall(SYS_io_cancel, ctx, cb, ev);
}

static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev,
                             struct timespec *ts)
{
    return syscall(SYS_io_getevents, ctx, min, max, ev, ts);
}

static int busy_writes(void)
{
    int n = 0;

    for (int i = 0; i < MAX_WRITES; i++)
        n += writes[i].busy;
    return n;
}

/* Collect finished writes, waiting up to timeout_ms for at least min of them. */
static void reap(long min, int timeout_ms)
{
    struct io_event ev[MAX_WRITES];
    struct timespec ts = {.tv_sec = timeout_ms / 1000,
                          .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    long n;

    n = sys_io_getevents(aio_ctx, min, MAX_WRITES, ev, &ts);
    for (long i = 0; i < n; i++) {
        struct aio_write *w = (struct aio_write *)(uintptr_t)ev[i].data;

        if (ev[i].res < 0)
            printf("gadget: %s: write ended with %s\n", w->what, strerror((int)-ev[i].res));
        else
            printf("gadget: %s: write of %zu bytes completed (%lld)\n", w->what, w->len,
                   (long long)ev[i].res);
        w->busy = false;
    }
}

static int queue_write(const char *what, const void *data, size_t len)
{
    struct aio_write *w = NULL;
    struct iocb *cbs[1];

    for (int i = 0; i < MAX_WRITES && !w; i++)
        if (!writes[i].busy)
            w = &writes[i];
    if (!w) {
        tlog("too many writes queued");
        return -ENOSPC;
    }
    free(w->buf);
    w->buf = malloc(len);
    memcpy(w->buf, data, len);
    w->len = len;
    snprintf(w->what, sizeof(w->what), "%s", what);
    memset(&w->cb, 0, sizeof(w->cb));
    w->cb.aio_data = (uintptr_t)w;
    w->cb.aio_lio_opcode = IOCB_CMD_PWRITE;
    w->cb.aio_fildes = (uint32_t)ep_in;
    w->cb.aio_buf = (uintptr_t)w->buf;
    w->cb.aio_nbytes = len;
    cbs[0] = &w->cb;
    if (sys_io_submit(aio_ctx, 1, cbs) != 1) {
        tlog("io_submit: %s", strerror(errno));
        return -errno;
    }
    w->busy = true;
    printf("gadget: queued %s (%zu bytes)\n", what, len);
    /* A short reply may complete at once: dummy_hcd's emulated FIFO takes it. */
    reap(0, 100);
    return 0;
}

static void queue_reply(unsigned int n)
{
    char reply[24], what[32];

    snprintf(reply, sizeof(reply), "reply %u", n);
    snprintf(what, sizeof(what), "\"%s\"", reply);
    queue_write(what, reply, strlen(reply));
}

static void cancel_all(void)
{
    for (int i = 0; i < MAX_WRITES; i++) {
        struct io_event ev;

        if (!writes[i].busy)
            continue;
        if (sys_io_cancel(aio_ctx, &writes[i].cb, &ev) < 0 && errno != EINPROGRESS)
            printf("gadget: cancelling %s: %s\n", writes[i].what, strerror(errno));
        else
            printf("gadget: cancelling %s\n", writes[i].what);
    }
    for (int tries = 0; busy_writes() && tries < 20; tries++)
        reap(1, 100);
    if (busy_writes())
        printf("gadget: %d writes did not end after io_cancel\n", busy_writes());
}

static void handle_setup(int ep0, const struct usb_ctrlrequest *setup, bool *exit_now)
{
    unsigned int value = le16toh(setup->wValue);
    ssize_t ret;

    if ((setup->bRequestType & (USB_TYPE_MASK | USB_DIR_IN)) != USB_TYPE_VENDOR ||
        le16toh(setup->wLength)) {
        printf("gadget: unexpected control request %02x %02x, stalling\n", setup->bRequestType,
               setup->bRequest);
        ffs_test_stall(ep0, setup);
        return;
    }
    printf("gadget: vendor request %u value %u\n", setup->bRequest, value);
    switch (setup->bRequest) {
    case REQ_REPLY:
        queue_reply(value);
        break;
    case REQ_REPLY_DATA: {
        static char data[DATA_LEN];

        queue_reply(value);
        memset(data, 'd', sizeof(data));
        queue_write("4 KiB of data", data, sizeof(data));
        break;
    }
    case REQ_RESET_REPLY:
        cancel_all();
        queue_reply(value);
        break;
    case REQ_FLUSH_REPLY: {
        int st = ioctl(ep_in, FUNCTIONFS_FIFO_STATUS);

        if (st < 0)
            printf("gadget: FUNCTIONFS_FIFO_STATUS: %s\n", strerror(errno));
        else
            printf("gadget: FUNCTIONFS_FIFO_STATUS: %d bytes\n", st);
        if (ioctl(ep_in, FUNCTIONFS_FIFO_FLUSH) < 0)
            printf("gadget: FUNCTIONFS_FIFO_FLUSH: %s\n", strerror(errno));
        queue_reply(value);
        break;
    }
    case REQ_EXIT:
        *exit_now = true;
        break;
    default:
        printf("gadget: unknown vendor request %u, stalling\n", setup->bRequest);
        ffs_test_stall(ep0, setup);
        return;
    }
    fflush(stdout);
    /* Status stage: a zero-length read acknowledges an OUT request. */
    ret = read(ep0, NULL, 0);
    if (ret < 0)
        printf("gadget: acknowledging request %u: %s\n", setup->bRequest, strerror(errno));
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
            {"ready", required_argument, NULL, 'r'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *ready = NULL, *dir;
    bool exit_now = false;
    double deadline;
    int ep0, ret, c;

    test_prog = "ffs_fifo_test";
    while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            ready = optarg;
            break;
        default:
            fprintf(stderr, "usage: ffs_fifo_test [--ready FILE] FFS_DIR\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: ffs_fifo_test [--ready FILE] FFS_DIR\n");
        return 2;
    }
    dir = argv[optind];
    setvbuf(stdout, NULL, _IOLBF, 0);

    ep0 = ffs_test_open(dir, "ep0", O_RDWR);
    if (ep0 < 0) {
        tlog("%s/ep0: %s", dir, strerror(-ep0));
        return 1;
    }
    ret = ffs_test_write_descriptors(ep0);
    if (ret) {
        tlog("writing descriptors: %s", strerror(-ret));
        return 1;
    }
    if (sys_io_setup(MAX_WRITES, &aio_ctx) < 0) {
        tlog("io_setup: %s", strerror(errno));
        return 1;
    }
    test_touch(ready);

    deadline = test_now() + 120;
    while (!exit_now) {
        struct usb_functionfs_event ev;

        if (test_now() > deadline) {
            tlog("no EXIT request within 120 s");
            return 1;
        }
        ret = ffs_test_read_event(ep0, &ev, 200);
        if (busy_writes())
            reap(0, 0);
        if (ret < 0) {
            tlog("reading ep0: %s", strerror(-ret));
            return 1;
        }
        if (!ret)
            continue;
        if (ev.type != FUNCTIONFS_SETUP)
            printf("gadget: event %s\n", ffs_event_name(ev.type));
        switch (ev.type) {
        case FUNCTIONFS_ENABLE:
            if (ep_in < 0) {
                ep_in = ffs_test_open(dir, "ep1", O_RDWR);
                if (ep_in < 0) {
                    tlog("%s/ep1: %s", dir, strerror(-ep_in));
                    return 1;
                }
            }
            break;
        case FUNCTIONFS_SETUP:
            handle_setup(ep0, &ev.u.setup, &exit_now);
            break;
        case FUNCTIONFS_UNBIND:
            exit_now = true;
            break;
        default:
            break;
        }
    }
    cancel_all();
    if (ep_in >= 0)
        close(ep_in);
    close(ep0);
    return 0;
}
