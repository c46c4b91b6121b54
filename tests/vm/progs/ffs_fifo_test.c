/*
 * ffs_fifo_test - gadget side of the udc_fifo_flush scenario.
 *
 *   ffs_fifo_test [--ready FILE] FFS_DIR
 *   ffs_fifo_test --fifo status|flush EPFILE
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
 *   6 (CANCEL_REPLY, n)   queue "reply n" and io_cancel() that very write at
 *                         once, before f_fs has reported it complete (see
 *                         cancel_own()); prints "own cancel: EINPROGRESS"
 *                         when the dequeue reached the UDC and succeeded,
 *                         "own cancel: EINVAL" when it failed or came late;
 *                         then queue "reply n+1"
 *
 * The request is acknowledged after the action, so when the host's control
 * transfer returns the reply is queued. The host side is usb_host_rw.
 *
 * --fifo status|flush EPFILE: FUNCTIONFS_FIFO_STATUS or FUNCTIONFS_FIFO_FLUSH
 * on an endpoint file another process serves (udc_fifo_iiod: iiod's IN
 * endpoint), opened non-blocking; prints "FIFO_STATUS N" / "FIFO_FLUSH ok"
 * or the error (EOPNOTSUPP: the UDC has no fifo_status).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
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
    REQ_CANCEL_REPLY = 6,
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

/* A free write slot with an IN write of a copy of @data prepared in it, or NULL. */
static struct aio_write *prepare_write(const char *what, const void *data, size_t len)
{
    struct aio_write *w = NULL;

    for (int i = 0; i < MAX_WRITES && !w; i++)
        if (!writes[i].busy)
            w = &writes[i];
    if (!w) {
        tlog("too many writes queued");
        return NULL;
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
    return w;
}

static int queue_write(const char *what, const void *data, size_t len)
{
    struct aio_write *w = prepare_write(what, data, len);
    struct iocb *cbs[1];

    if (!w)
        return -ENOSPC;
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

/*
 * Queue "reply n" and cancel it at once. dummy_hcd's emulated FIFO gives the
 * request back inside io_submit(); f_fs then completes the AIO from its
 * (unbound, ordered) completion workqueue, and io_cancel() reaches
 * usb_ep_dequeue() only until that has run. The scenario confines unbound
 * workqueues to CPU 0 (/sys/devices/virtual/workqueue/cpumask); running here
 * on CPU 0 as SCHED_FIFO keeps the worker off the CPU between io_submit()
 * and io_cancel(), so the dequeue reaches the UDC while the request's data
 * are still in the FIFO, as in iiod's session end (udc_fifo_iiod).
 */
static void cancel_own(unsigned int n)
{
    struct sched_param rt = {.sched_priority = 50}, normal = {.sched_priority = 0};
    cpu_set_t cpu0, all;
    struct aio_write *w;
    struct iocb *cbs[1];
    struct io_event ev;
    bool cancelled = false;
    char reply[24], what[32];
    long ret;

    snprintf(reply, sizeof(reply), "reply %u", n);
    snprintf(what, sizeof(what), "\"%s\"", reply);
    w = prepare_write(what, reply, strlen(reply));
    if (!w)
        return;
    cbs[0] = &w->cb;

    sched_getaffinity(0, sizeof(all), &all);
    CPU_ZERO(&cpu0);
    CPU_SET(0, &cpu0);
    if (sched_setaffinity(0, sizeof(cpu0), &cpu0) < 0 ||
        sched_setscheduler(0, SCHED_FIFO, &rt) < 0)
        printf("gadget: SCHED_FIFO on CPU 0: %s\n", strerror(errno));
    ret = sys_io_submit(aio_ctx, 1, cbs) == 1 ? 0 : -errno;
    if (!ret) {
        w->busy = true;
        cancelled = true;
        ret = sys_io_cancel(aio_ctx, &w->cb, &ev) < 0 ? -errno : 0;
    }
    sched_setscheduler(0, SCHED_OTHER, &normal);
    sched_setaffinity(0, sizeof(all), &all);
    if (!cancelled) {
        tlog("io_submit: %s", strerror((int)-ret));
        return;
    }
    printf("gadget: queued %s (%zu bytes) and cancelled it\n", w->what, w->len);
    printf("gadget: own cancel: %s\n",
           ret == -EINPROGRESS ? "EINPROGRESS" : ret ? strerrorname_np((int)-ret) : "0");
    reap(1, 1000);
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
    case REQ_CANCEL_REPLY:
        cancel_own(value);
        queue_reply(value + 1);
        break;
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

/* --fifo status|flush EPFILE */
static int fifo_ctl(const char *op, const char *path)
{
    int fd = open(path, O_RDWR | O_NONBLOCK);
    int ret;

    if (fd < 0) {
        printf("%s: %s\n", path, strerror(errno));
        return 1;
    }
    if (!strcmp(op, "status")) {
        ret = ioctl(fd, FUNCTIONFS_FIFO_STATUS);
        if (ret < 0)
            printf("FIFO_STATUS %s\n", strerrorname_np(errno));
        else
            printf("FIFO_STATUS %d\n", ret);
    } else {
        ret = ioctl(fd, FUNCTIONFS_FIFO_FLUSH);
        if (ret < 0)
            printf("FIFO_FLUSH %s\n", strerrorname_np(errno));
        else
            printf("FIFO_FLUSH ok\n");
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
            {"fifo", required_argument, NULL, 'f'},
            {"ready", required_argument, NULL, 'r'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *ready = NULL, *fifo_op = NULL, *dir;
    bool exit_now = false;
    double deadline;
    int ep0, ret, c;

    test_prog = "ffs_fifo_test";
    while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            ready = optarg;
            break;
        case 'f':
            fifo_op = optarg;
            break;
        default:
            fprintf(stderr, "usage: ffs_fifo_test [--ready FILE] FFS_DIR | --fifo status|flush EPFILE\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: ffs_fifo_test [--ready FILE] FFS_DIR\n");
        return 2;
    }
    dir = argv[optind];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (fifo_op) {
        if (strcmp(fifo_op, "status") && strcmp(fifo_op, "flush")) {
            fprintf(stderr, "ffs_fifo_test: --fifo status|flush EPFILE\n");
            return 2;
        }
        return fifo_ctl(fifo_op, dir);
    }

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
