/*
 * ffs_dmabuf_test - FunctionFS DMABUF tests, gadget side.
 *
 *   ffs_dmabuf_test [options] MODE FFS_DIR
 *
 * Writes the test descriptors (tests/vm/progs/common/ffs_test_util.h: bulk IN
 * ep1, bulk OUT ep2) to FFS_DIR/ep0, touches --ready FILE (the scenario then
 * binds the UDC) and waits for the host to configure the function. Then:
 *
 *   stream   streams --in-bytes of the test pattern (seed --seed-in) to the
 *            host through DMABUFs from /dev/dma_heap/system (or udmabuf) attached to ep1,
 *            and receives --out-bytes (seed --seed-out) into DMABUFs attached
 *            to ep2, with --bufs buffers of --buf-size in flight each way.
 *            Every transfer's fence must signal with status 1, every byte
 *            received must match. --odd uses transfer lengths that are not
 *            multiples of the packet size (short last packets). The host side
 *            is usb_host_rw --in/--out with the same sizes and seeds.
 *   eperm    FUNCTIONFS_DMABUF_ATTACH must fail with EPERM (a UDC without
 *            scatter-gather, such as Debian's dummy_hcd); then the same
 *            streams run with read()/write() on the mmapped DMABUFs, the
 *            fallback a daemon uses there.
 *   copy     only that fallback, in --buf-size read()/write() calls (on a UDC
 *            with scatter-gather f_fs turns those into SG requests).
 *   hazards  error paths and lifetime rules of the DMABUF ioctls, against the
 *            running kernel; runs its own host side (libusb) in this process.
 *            --udc-file FILE: the gadget's configfs UDC attribute, written
 *            empty for the final unbind check.
 *   double-in reproduces a 6.12 f_fs bug: a second IN TRANSFER of a DMABUF
 *            whose first IN transfer is still pending (allowed: IN transfers
 *            only wait for write fences) replaces the first fence in the
 *            DMABUF's reservation object, which drops the first fence's only
 *            reference; the first transfer's completion then uses the freed
 *            fence ("refcount_t: addition on 0; use-after-free" from
 *            ffs_epfile_dmabuf_io_complete, KASAN on a debug kernel).
 *            Passes (status 0, clean dmesg) only on a fixed kernel: 0027 refuses
 *            the second transfer while the first is pending (EBUSY when
 *            non-blocking) and takes it once the host read the first; 0023
 *            alone would keep the first fence alive. With FFS_DOUBLE_IN_HOLD=1
 *            a sync_file holds the first fence (the control case).
 *
 * Exit status: 0 passed, 1 failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>

#include "ffs_test_util.h"
#include "test_pattern.h"
#include "usb_host_util.h"

#define MAX_BUFS 16
#define POISON 0xa5

struct options {
    const char *mode;
    const char *dir;
    const char *ready;
    const char *udc_file;
    uint64_t in_bytes;
    uint64_t out_bytes;
    size_t buf_size;
    int bufs;
    bool odd;
    uint64_t seed_in;
    uint64_t seed_out;
    int timeout_s;
};

/* ---- stream mode ------------------------------------------------------- */

struct slot {
    struct test_dmabuf b;
    int sync_fd; /* -1: idle */
    uint64_t off;
    uint64_t len;    /* transfer length */
    uint64_t expect; /* OUT: bytes the host fills (the last transfer is short) */
    bool poisoned;   /* OUT: the bytes after `expect` were set to POISON */
};

/*
 * Whether the CPU may write into a DMABUF attached to the OUT endpoint. The
 * system heap syncs every attachment with the CPU access's direction
 * (DMA_TO_DEVICE for a write), which DMA-API debugging reports against the
 * endpoint's DMA_FROM_DEVICE mapping; where it is on, the check that bytes after
 * a short OUT transfer stay untouched is skipped (said once, loudly).
 */
static bool out_poison_ok = true;

struct direction {
    const char *name;
    int ep;
    bool in;
    uint16_t mps;
    uint64_t total;
    uint64_t seed;
    uint64_t queued;
    uint64_t done;
    unsigned int xfers;
    int nslots;
    struct slot slot[MAX_BUFS];
    double t_first;
    double t_last;
};

static const struct options *opt;
static double pattern_cpu; /* CPU seconds spent filling and checking patterns */

static uint64_t round_up(uint64_t v, uint64_t m)
{
    return (v + m - 1) / m * m;
}

/*
 * Length of the next transfer. IN transfers may have any length; with --odd
 * they are not multiples of the packet size, so each ends with a short packet.
 * OUT transfers are whole packets (a full packet into a shorter request is an
 * overflow), shorter than the buffer with --odd; the last one is rounded up
 * and ends with the host's short packet, *expect says how many bytes come.
 */
static uint64_t next_len(const struct direction *d, uint64_t *expect)
{
    static const uint64_t in_special[] = {1, 63, 511, 512, 513, 1023, 1025, 4095, 4097, 65537};
    uint64_t left = d->total - d->queued;
    uint64_t len = opt->buf_size;
    unsigned int n = d->xfers;

    if (d->in) {
        if (opt->odd && n < sizeof(in_special) / sizeof(in_special[0]))
            len = in_special[n];
        else if (opt->odd)
            len = opt->buf_size - 1 - (n * 7919u) % 4093u;
        if (len > opt->buf_size)
            len = opt->buf_size;
        if (len > left)
            len = left;
        *expect = len;
        return len;
    }
    if (opt->odd)
        len = n < 5 ? d->mps * (n + 1) : opt->buf_size - (n % 7) * d->mps;
    if (len >= left) {
        *expect = left;
        return round_up(left, d->mps);
    }
    *expect = len;
    return len;
}

static int queue_one(struct direction *d, struct slot *s)
{
    uint64_t expect, len = next_len(d, &expect);
    double c0 = test_cpu_now();
    int ret;

    s->poisoned = !d->in && expect < len && out_poison_ok;
    if (d->in || s->poisoned) {
        ret = test_dmabuf_cpu_sync(s->b.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
        if (ret)
            goto sync_err;
        if (d->in)
            pattern_fill(s->b.map, d->queued, len, d->seed);
        else
            memset(s->b.map, POISON, len); /* what the host does not write stays */
        ret = test_dmabuf_cpu_sync(s->b.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
        if (ret)
            goto sync_err;
    }
    pattern_cpu += test_cpu_now() - c0;

    ret = ffs_dmabuf_transfer(d->ep, s->b.fd, len, 0);
    if (ret) {
        tlog("%s: FUNCTIONFS_DMABUF_TRANSFER of %llu bytes: %s", d->name, (unsigned long long)len,
             strerror(-ret));
        return ret;
    }
    /* Right away, before the fence can signal (see test_export_sync_file()). */
    s->sync_fd = test_export_sync_file(s->b.fd);
    if (s->sync_fd < 0) {
        tlog("%s: DMA_BUF_IOCTL_EXPORT_SYNC_FILE: %s", d->name, strerror(-s->sync_fd));
        return s->sync_fd;
    }
    if (!d->xfers)
        d->t_first = d->t_last = test_now();
    s->off = d->queued;
    s->len = len;
    s->expect = expect;
    d->queued += expect;
    d->xfers++;
    return 0;
sync_err:
    tlog("%s: DMA_BUF_IOCTL_SYNC: %s", d->name, strerror(-ret));
    return ret;
}

static int complete_one(struct direction *d, struct slot *s)
{
    int status = test_sync_file_status(s->sync_fd, NULL, NULL, 0);

    close(s->sync_fd);
    s->sync_fd = -1;
    if (status != 1) {
        tlog("%s: transfer of %llu bytes at offset %llu: fence status %d (%s)", d->name,
             (unsigned long long)s->len, (unsigned long long)s->off, status,
             status < 0 ? strerror(-status) : "pending");
        return -EIO;
    }
    if (!d->in) {
        uint64_t first_bad = 0;
        size_t bad;
        double c0 = test_cpu_now();
        int ret = test_dmabuf_cpu_sync(s->b.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);

        if (ret) {
            tlog("%s: DMA_BUF_IOCTL_SYNC: %s", d->name, strerror(-ret));
            return ret;
        }
        bad = pattern_check(s->b.map, s->off, s->expect, d->seed, &first_bad);
        for (uint64_t i = s->expect; s->poisoned && i < s->len; i++)
            if (s->b.map[i] != POISON) {
                tlog("%s: byte %llu after the end of the data was written", d->name,
                     (unsigned long long)i);
                bad++;
                break;
            }
        test_dmabuf_cpu_sync(s->b.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
        pattern_cpu += test_cpu_now() - c0;
        if (bad) {
            tlog("%s: %zu bad bytes in the transfer at offset %llu, first at %llu", d->name, bad,
                 (unsigned long long)s->off, (unsigned long long)first_bad);
            return -EIO;
        }
    }
    d->done += s->expect;
    d->t_last = test_now();
    return 0;
}

static int dir_setup(struct direction *d, int heap, int ep, bool in, uint64_t total, uint64_t seed,
                     uint16_t mps)
{
    d->name = in ? "IN" : "OUT";
    d->ep = ep;
    d->in = in;
    d->mps = mps;
    d->total = total;
    d->seed = seed;
    d->nslots = total ? opt->bufs : 0;
    for (int i = 0; i < d->nslots; i++) {
        struct slot *s = &d->slot[i];
        int ret = test_dmabuf_alloc(heap, opt->buf_size, &s->b);

        s->sync_fd = -1;
        if (ret) {
            tlog("allocating a %zu byte DMABUF: %s", opt->buf_size, strerror(-ret));
            return ret;
        }
        ret = ffs_dmabuf_attach(ep, s->b.fd);
        if (ret) {
            tlog("%s: FUNCTIONFS_DMABUF_ATTACH: %s", d->name, strerror(-ret));
            return ret;
        }
    }
    return 0;
}

static void dir_teardown(struct direction *d)
{
    for (int i = 0; i < d->nslots; i++) {
        struct slot *s = &d->slot[i];

        /* sync_files first: their fences do not outlive the attachment (6.12). */
        if (s->sync_fd >= 0)
            close(s->sync_fd);
        s->sync_fd = -1;
        if (s->b.fd >= 0) {
            int ret = ffs_dmabuf_detach(d->ep, s->b.fd);

            if (ret)
                tlog("%s: FUNCTIONFS_DMABUF_DETACH: %s", d->name, strerror(-ret));
        }
        test_dmabuf_free(&s->b);
    }
}

static void dir_report(const struct direction *d)
{
    double secs = d->t_last - d->t_first;
    double mib = (double)d->done / (1024.0 * 1024.0);

    if (!d->total)
        return;
    printf("%s: %llu bytes in %u DMABUF transfers%s in %.2f s: %.1f MiB/s\n", d->name,
           (unsigned long long)d->done, d->xfers, d->in ? "" : ", pattern verified", secs,
           secs > 0 ? mib / secs : 0.0);
}

static int run_stream(int ep_in, int ep_out, uint16_t mps)
{
    struct direction in = {0}, out = {0};
    double cpu0 = test_cpu_now(), last_progress;
    int heap, ret;

    if (opt->odd && access("/sys/kernel/debug/dma-api", F_OK) == 0) {
        out_poison_ok = false;
        tlog("SKIP: bytes after short OUT transfers are not checked: DMA-API debugging is on and "
             "the system heap syncs CPU writes to the OUT endpoint's mapping in the wrong "
             "direction");
    }
    heap = test_dmabuf_allocator_open();
    if (heap < 0) {
        tlog("%s: %s", test_dmabuf_allocator_name(), strerror(errno));
        return 1;
    }
    ret = dir_setup(&in, heap, ep_in, true, opt->in_bytes, opt->seed_in, mps);
    if (!ret)
        ret = dir_setup(&out, heap, ep_out, false, opt->out_bytes, opt->seed_out, mps);
    close(heap);
    last_progress = test_now();

    while (!ret && (in.done < in.total || out.done < out.total)) {
        struct pollfd pfd[2 * MAX_BUFS];
        struct slot *owner[2 * MAX_BUFS];
        struct direction *dir[2 * MAX_BUFS];
        int n = 0;

        for (int k = 0; k < 2 && !ret; k++) {
            struct direction *d = k ? &out : &in;

            for (int i = 0; i < d->nslots && !ret; i++) {
                struct slot *s = &d->slot[i];

                if (s->sync_fd < 0 && d->queued < d->total)
                    ret = queue_one(d, s);
                if (s->sync_fd >= 0) {
                    pfd[n] = (struct pollfd){.fd = s->sync_fd, .events = POLLIN};
                    owner[n] = s;
                    dir[n++] = d;
                }
            }
        }
        if (ret || !n)
            break;
        if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR) {
            ret = -errno;
            break;
        }
        for (int i = 0; i < n && !ret; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            ret = complete_one(dir[i], owner[i]);
            last_progress = test_now();
        }
        if (test_now() - last_progress > opt->timeout_s) {
            tlog("no transfer completed for %d s (IN %llu/%llu, OUT %llu/%llu bytes)",
                 opt->timeout_s, (unsigned long long)in.done, (unsigned long long)in.total,
                 (unsigned long long)out.done, (unsigned long long)out.total);
            ret = -ETIMEDOUT;
        }
    }

    dir_report(&in);
    dir_report(&out);
    printf("gadget CPU: %.2f s, of which %.2f s filling and checking patterns\n",
           test_cpu_now() - cpu0, pattern_cpu);
    dir_teardown(&in);
    dir_teardown(&out);
    return ret ? 1 : 0;
}

/* ---- eperm mode: no DMABUF import, CPU copies instead ------------------ */

static int run_copy(int ep_in, int ep_out, bool expect_eperm)
{
    /* Debian's dummy_hcd: f_fs kmalloc()s a bounce buffer of this size. */
    const size_t chunk = expect_eperm ? 64 * 1024 : opt->buf_size;
    struct test_dmabuf b;
    uint64_t in_off = 0, out_off = 0;
    double t0 = test_now();
    int heap, ret, failed = 0;

    heap = test_dmabuf_allocator_open();
    if (heap < 0) {
        tlog("%s: %s", test_dmabuf_allocator_name(), strerror(errno));
        return 1;
    }
    ret = test_dmabuf_alloc(heap, chunk, &b);
    close(heap);
    if (ret) {
        tlog("allocating a DMABUF: %s", strerror(-ret));
        return 1;
    }
    if (!expect_eperm)
        goto copy;
    ret = ffs_dmabuf_attach(ep_in, b.fd);
    printf("FUNCTIONFS_DMABUF_ATTACH on the IN endpoint: %s\n", ret ? strerror(-ret) : "ok");
    failed |= ret != -EPERM;
    if (!ret)
        ffs_dmabuf_detach(ep_in, b.fd);
    ret = ffs_dmabuf_attach(ep_out, b.fd);
    printf("FUNCTIONFS_DMABUF_ATTACH on the OUT endpoint: %s\n", ret ? strerror(-ret) : "ok");
    failed |= ret != -EPERM;
    if (!ret)
        ffs_dmabuf_detach(ep_out, b.fd);
    if (failed) {
        printf("expected EPERM: the UDC should not support scatter-gather\n");
        test_dmabuf_free(&b);
        return 1;
    }

copy:
    /*
     * The fallback: write()/read() through the mmapped DMABUF. On a UDC with
     * scatter-gather, f_fs hands transfers over PAGE_SIZE to it as SG requests.
     */
    while (!failed && (in_off < opt->in_bytes || out_off < opt->out_bytes)) {
        if (in_off < opt->in_bytes) {
            size_t len = opt->in_bytes - in_off < chunk ? opt->in_bytes - in_off : chunk;
            ssize_t n;

            test_dmabuf_cpu_sync(b.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
            pattern_fill(b.map, in_off, len, opt->seed_in);
            test_dmabuf_cpu_sync(b.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
            n = write(ep_in, b.map, len);
            if (n != (ssize_t)len) {
                tlog("write to the IN endpoint: %zd (%s)", n, strerror(errno));
                failed = 1;
            }
            in_off += len;
        }
        if (out_off < opt->out_bytes && !failed) {
            ssize_t n;
            uint64_t first_bad = 0;

            test_dmabuf_cpu_sync(b.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
            n = read(ep_out, b.map, chunk);
            test_dmabuf_cpu_sync(b.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
            if (n <= 0 || (uint64_t)n > opt->out_bytes - out_off) {
                tlog("read from the OUT endpoint: %zd (%s)", n, strerror(errno));
                failed = 1;
            } else if (pattern_check(b.map, out_off, (size_t)n, opt->seed_out, &first_bad)) {
                tlog("OUT: pattern mismatch at offset %llu", (unsigned long long)first_bad);
                failed = 1;
            } else {
                out_off += (uint64_t)n;
            }
        }
    }
    if (!failed)
        printf("copy path (%zu byte read()/write()): IN %llu bytes written, OUT %llu bytes "
               "read and verified, %.2f s\n",
               chunk, (unsigned long long)in_off, (unsigned long long)out_off, test_now() - t0);
    test_dmabuf_free(&b);
    return failed;
}

/* ---- hazards mode ------------------------------------------------------- */

static int checks, failures;

__attribute__((format(printf, 2, 3))) static void check(bool ok, const char *fmt, ...)
{
    va_list ap;

    checks++;
    if (!ok)
        failures++;
    printf("%s - ", ok ? "ok" : "NOT OK");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static const char *err_name(int err)
{
    static char buf[32];

    switch (err) {
    case 0:
        return "0";
    case -EINVAL:
        return "EINVAL";
    case -EPERM:
        return "EPERM";
    case -EBADF:
        return "EBADF";
    case -EBUSY:
        return "EBUSY";
    case -ENOTTY:
        return "ENOTTY";
    case -ECONNRESET:
        return "ECONNRESET";
    case -ESHUTDOWN:
        return "ESHUTDOWN";
    case -EAGAIN:
        return "EAGAIN";
    default:
        snprintf(buf, sizeof(buf), "%d", err);
        return buf;
    }
}

static void check_err(int got, int want, const char *what)
{
    check(got == want, "%s -> %s (want %s)", what, err_name(got), err_name(want));
}

struct hz {
    int ep0, ep_in, ep_out, heap;
    struct host_dev host;
    uint64_t in_off; /* stream offset the host expects next on IN */
    uint64_t out_off;
};

static void hz_fill(struct test_dmabuf *b, uint64_t off, size_t len)
{
    test_dmabuf_cpu_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    pattern_fill(b->map, off, len, opt->seed_in);
    test_dmabuf_cpu_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
}

/* Host: read len bytes from bulk IN and check them against the IN pattern. */
static bool hz_host_read(struct hz *h, size_t len, const char *what)
{
    size_t cap = round_up(len, h->host.mps_in);
    unsigned char *buf = malloc(cap);
    int got = 0, ret;
    uint64_t first_bad = 0;
    bool ok;

    ret = libusb_bulk_transfer(h->host.h, h->host.ep_in, buf, (int)cap, &got, 5000);
    ok = !ret && (size_t)got == len &&
         !pattern_check(buf, h->in_off, len, opt->seed_in, &first_bad);
    check(ok, "%s: host read %d of %zu bytes (%s)%s", what, got, len,
          ret ? libusb_error_name(ret) : "ok", ok ? ", pattern ok" : "");
    h->in_off += (uint64_t)got;
    free(buf);
    return ok;
}

/* Host: nothing may be waiting on bulk IN. */
static void hz_host_expect_nothing(struct hz *h, const char *what)
{
    unsigned char buf[4096];
    int got = 0, ret;

    ret = libusb_bulk_transfer(h->host.h, h->host.ep_in, buf, sizeof(buf), &got, 300);
    check(ret == LIBUSB_ERROR_TIMEOUT && got == 0, "%s: host reads nothing (%s, %d bytes)", what,
          libusb_error_name(ret), got);
}

/* Host: write len bytes of the OUT pattern. */
static bool hz_host_write(struct hz *h, size_t len, const char *what)
{
    unsigned char *buf = malloc(len);
    int done = 0, ret;

    pattern_fill(buf, h->out_off, len, opt->seed_out);
    ret = libusb_bulk_transfer(h->host.h, h->host.ep_out, buf, (int)len, &done, 5000);
    check(!ret && (size_t)done == len, "%s: host wrote %d of %zu bytes (%s)", what, done, len,
          ret ? libusb_error_name(ret) : "ok");
    free(buf);
    return !ret;
}

static bool hz_check_out_data(struct test_dmabuf *b, uint64_t off, size_t len, const char *what)
{
    uint64_t first_bad = 0;
    size_t bad;

    test_dmabuf_cpu_sync(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    bad = pattern_check(b->map, off, len, opt->seed_out, &first_bad);
    test_dmabuf_cpu_sync(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    check(!bad, "%s: %zu bytes received into the DMABUF match", what, len);
    return !bad;
}

/*
 * All fences of a DMABUF signalled: POLLOUT on the DMABUF fd. Unlike a
 * sync_file, this is safe after the attachment is gone: dma-buf's poll only
 * looks at the signalled bit of fences that are signalled already.
 */
static void hz_expect_idle(const struct test_dmabuf *b, const char *what)
{
    int ret = test_poll(b->fd, POLLOUT, 3000);

    check(ret == 1, "%s: all fences of the DMABUF signalled", what);
}

struct detach_race {
    int ep, fd;
    pthread_barrier_t *barrier;
    int ret;
};

static void *detach_thread(void *arg)
{
    struct detach_race *r = arg;

    pthread_barrier_wait(r->barrier);
    r->ret = ffs_dmabuf_detach(r->ep, r->fd);
    return NULL;
}

static int run_hazards(struct hz *h)
{
    const size_t size = 256 * 1024;
    struct test_dmabuf a, b, c, d[3], e[2];
    int pipefd[2], sfd, sfd2, ret;

    h->heap = test_dmabuf_allocator_open();
    if (h->heap < 0 || pipe2(pipefd, O_CLOEXEC)) {
        tlog("setup: %s", strerror(errno));
        return 1;
    }
    if (test_dmabuf_alloc(h->heap, size, &a) || test_dmabuf_alloc(h->heap, size, &b) ||
        test_dmabuf_alloc(h->heap, size, &c) || test_dmabuf_alloc(h->heap, size, &d[0]) ||
        test_dmabuf_alloc(h->heap, size, &d[1]) || test_dmabuf_alloc(h->heap, size, &d[2]) ||
        test_dmabuf_alloc(h->heap, size, &e[0]) || test_dmabuf_alloc(h->heap, size, &e[1])) {
        tlog("allocating DMABUFs failed");
        return 1;
    }

    /* 1. Argument checks (f_fs.c: ffs_dmabuf_attach/detach/transfer, ffs_ep0_ioctl). */
    check_err(ffs_dmabuf_attach(h->ep0, a.fd), -ENOTTY, "ATTACH on ep0");
    check_err(ffs_dmabuf_attach(h->ep_in, pipefd[0]), -EINVAL, "ATTACH of a pipe");
    check_err(ffs_dmabuf_attach(h->ep_in, -1), -EBADF, "ATTACH of fd -1");
    check_err(ffs_dmabuf_detach(h->ep_in, a.fd), -EPERM, "DETACH of a DMABUF never attached");
    check_err(ffs_dmabuf_detach(h->ep_in, pipefd[0]), -EINVAL, "DETACH of a pipe");
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 4096, 0), -EPERM,
              "TRANSFER of a DMABUF never attached");
    check_err(ffs_dmabuf_attach(h->ep_in, a.fd), 0, "ATTACH");
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 0, 0), -EINVAL, "TRANSFER of length 0");
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, size + 1, 0), -EINVAL,
              "TRANSFER longer than the DMABUF");
    /* Bits 0 to 2 are kernel-patches 0024/0025/0028's flags: bit 3 is unknown to every f_fs. */
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 4096, 8), -EINVAL, "TRANSFER with flags 8");
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 4096, 0x80000000u), -EINVAL,
              "TRANSFER with flags 0x80000000");
    check_err(ffs_dmabuf_transfer(h->ep_in, pipefd[0], 4096, 0), -EINVAL, "TRANSFER of a pipe");
    check_err(ffs_dmabuf_transfer(h->ep_in, -1, 4096, 0), -EBADF, "TRANSFER of fd -1");
    hz_expect_idle(&a, "failed TRANSFERs");

    /* 2. A transfer the host reads: fence status 1. */
    hz_fill(&a, h->in_off, 10000);
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 10000, 0), 0, "TRANSFER 10000 bytes IN");
    sfd = test_export_sync_file(a.fd);
    check(sfd >= 0, "EXPORT_SYNC_FILE -> %d", sfd);
    hz_host_read(h, 10000, "IN transfer");
    check(test_poll(sfd, POLLIN, 3000) == 1, "sync_file signalled");
    ret = test_sync_file_status(sfd, NULL, NULL, 0);
    check(ret == 1, "fence status %d (want 1)", ret);
    close(sfd);

    /*
     * 3. DETACH while a transfer is pending, then once more. The sync_file is
     * read and closed before the DETACH: the fence's status cannot be read
     * safely afterwards (6.12 frees the fence lock with the attachment), so
     * the dequeue shows as a signalled DMABUF and nothing reaching the host.
     * (Two pending IN transfers of one DMABUF would keep the attachment alive
     * to read the -ECONNRESET status, but trip another 6.12 bug; see the
     * double-in mode.)
     */
    hz_fill(&a, h->in_off, 5000);
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 5000, 0), 0, "TRANSFER 5000 bytes IN");
    sfd = test_export_sync_file(a.fd);
    check(sfd >= 0 && test_sync_file_status(sfd, NULL, NULL, 0) == 0,
          "fence pending while the host does not read");
    if (sfd >= 0)
        close(sfd);
    check_err(ffs_dmabuf_detach(h->ep_in, a.fd), 0, "DETACH with the transfer pending");
    hz_expect_idle(&a, "DETACH with a transfer pending");
    check_err(ffs_dmabuf_detach(h->ep_in, a.fd), -EPERM, "second DETACH");
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 4096, 0), -EPERM, "TRANSFER after DETACH");
    hz_host_expect_nothing(h, "the pending transfer was dequeued by DETACH");

    /* 4. Two threads detach the same DMABUF at once, a transfer pending. */
    {
        int zero = 0, eperm = 0, other = 0;

        for (int i = 0; i < 20; i++) {
            pthread_barrier_t barrier;
            struct detach_race r[2];
            pthread_t t[2];

            if (ffs_dmabuf_attach(h->ep_in, b.fd)) {
                other++;
                break;
            }
            hz_fill(&b, h->in_off, 4096);
            if (ffs_dmabuf_transfer(h->ep_in, b.fd, 4096, 0))
                other++;
            /* Read and close the sync_file while the attachment exists. */
            sfd = test_export_sync_file(b.fd);
            if (sfd < 0 || test_sync_file_status(sfd, NULL, NULL, 0) != 0)
                other++;
            if (sfd >= 0)
                close(sfd);
            pthread_barrier_init(&barrier, NULL, 2);
            for (int k = 0; k < 2; k++) {
                r[k] = (struct detach_race){.ep = h->ep_in, .fd = b.fd, .barrier = &barrier};
                pthread_create(&t[k], NULL, detach_thread, &r[k]);
            }
            for (int k = 0; k < 2; k++) {
                pthread_join(t[k], NULL);
                if (r[k].ret == 0)
                    zero++;
                else if (r[k].ret == -EPERM)
                    eperm++;
                else
                    other++;
            }
            pthread_barrier_destroy(&barrier);
            if (test_poll(b.fd, POLLOUT, 3000) != 1)
                other++;
        }
        check(zero == 20 && eperm == 20 && !other,
              "20 rounds of two concurrent DETACHes with a transfer pending: %d succeeded, "
              "%d EPERM, %d other results or unsignalled fences",
              zero, eperm, other);
        hz_host_expect_nothing(h, "every transfer was dequeued");
    }

    /* 5. O_NONBLOCK TRANSFER behind a pending write fence: EBUSY. */
    check_err(ffs_dmabuf_attach(h->ep_out, c.fd), 0, "ATTACH on the OUT endpoint");
    check_err(ffs_dmabuf_transfer(h->ep_out, c.fd, 8192, 0), 0, "TRANSFER 8192 bytes OUT");
    sfd = test_export_sync_file(c.fd);
    fcntl(h->ep_out, F_SETFL, fcntl(h->ep_out, F_GETFL) | O_NONBLOCK);
    check_err(ffs_dmabuf_transfer(h->ep_out, c.fd, 8192, 0), -EBUSY,
              "O_NONBLOCK TRANSFER while the OUT fence is pending");
    fcntl(h->ep_out, F_SETFL, fcntl(h->ep_out, F_GETFL) & ~O_NONBLOCK);
    hz_host_write(h, 8192, "OUT transfer");
    check(test_poll(sfd, POLLIN, 3000) == 1, "OUT sync_file signalled");
    ret = test_sync_file_status(sfd, NULL, NULL, 0);
    check(ret == 1, "OUT fence status %d (want 1)", ret);
    close(sfd);
    hz_check_out_data(&c, h->out_off, 8192, "OUT transfer");
    h->out_off += 8192;
    check_err(ffs_dmabuf_detach(h->ep_out, c.fd), 0, "DETACH on the OUT endpoint");

    /* 6. Close both endpoints with transfers in flight on five DMABUFs. */
    for (int i = 0; i < 3; i++) {
        char what[64];

        snprintf(what, sizeof(what), "IN DMABUF %d: ATTACH + TRANSFER", i);
        ret = ffs_dmabuf_attach(h->ep_in, d[i].fd);
        if (!ret)
            ret = ffs_dmabuf_transfer(h->ep_in, d[i].fd, 65536 + (size_t)i, 0);
        check_err(ret, 0, what);
        sfd = test_export_sync_file(d[i].fd);
        if (sfd >= 0)
            close(sfd);
    }
    for (int i = 0; i < 2; i++) {
        char what[64];

        snprintf(what, sizeof(what), "OUT DMABUF %d: ATTACH + TRANSFER", i);
        ret = ffs_dmabuf_attach(h->ep_out, e[i].fd);
        if (!ret)
            ret = ffs_dmabuf_transfer(h->ep_out, e[i].fd, 65536, 0);
        check_err(ret, 0, what);
        sfd = test_export_sync_file(e[i].fd);
        if (sfd >= 0)
            close(sfd);
    }
    close(h->ep_in);
    close(h->ep_out);
    for (int i = 0; i < 3; i++)
        hz_expect_idle(&d[i], "IN endpoint closed");
    for (int i = 0; i < 2; i++)
        hz_expect_idle(&e[i], "OUT endpoint closed");
    hz_host_expect_nothing(h, "IN transfers dequeued on close");

    /* The endpoints work again after reopening. */
    h->ep_in = ffs_test_open(opt->dir, "ep1", O_RDWR);
    h->ep_out = ffs_test_open(opt->dir, "ep2", O_RDWR);
    check(h->ep_in >= 0 && h->ep_out >= 0, "endpoints reopened");
    check_err(ffs_dmabuf_attach(h->ep_in, d[0].fd), 0, "ATTACH after reopening");
    hz_fill(&d[0], h->in_off, 100000);
    check_err(ffs_dmabuf_transfer(h->ep_in, d[0].fd, 100000, 0), 0, "TRANSFER after reopening");
    sfd = test_export_sync_file(d[0].fd);
    hz_host_read(h, 100000, "IN after reopening");
    check(test_poll(sfd, POLLIN, 3000) == 1 && test_sync_file_status(sfd, NULL, NULL, 0) == 1,
          "fence status 1 after reopening");
    close(sfd);
    check_err(ffs_dmabuf_attach(h->ep_out, e[0].fd), 0, "OUT ATTACH after reopening");
    check_err(ffs_dmabuf_transfer(h->ep_out, e[0].fd, 32768, 0), 0, "OUT TRANSFER after reopening");
    sfd = test_export_sync_file(e[0].fd);
    hz_host_write(h, 32768, "OUT after reopening");
    check(test_poll(sfd, POLLIN, 3000) == 1 && test_sync_file_status(sfd, NULL, NULL, 0) == 1,
          "OUT fence status 1 after reopening");
    close(sfd);
    hz_check_out_data(&e[0], h->out_off, 32768, "OUT after reopening");
    h->out_off += 32768;

    /*
     * 7. UDC unbind with transfers pending: the fences signal with ESHUTDOWN.
     * The DMABUFs stay attached until the endpoints are closed: after an
     * unbind, DETACH (or any DMABUF ioctl) would dereference the gadget that
     * is gone (6.12), and the sync_file must be read while attached.
     */
    if (opt->udc_file) {
        int fd;

        hz_fill(&d[0], h->in_off, 70000);
        check_err(ffs_dmabuf_transfer(h->ep_in, d[0].fd, 70000, 0), 0,
                  "TRANSFER before the unbind");
        sfd = test_export_sync_file(d[0].fd);
        check_err(ffs_dmabuf_transfer(h->ep_out, e[0].fd, 65536, 0), 0,
                  "OUT TRANSFER before the unbind");
        sfd2 = test_export_sync_file(e[0].fd);
        host_close(&h->host);
        fd = open(opt->udc_file, O_WRONLY | O_CLOEXEC);
        check(fd >= 0 && write(fd, "\n", 1) == 1, "UDC unbound via %s", opt->udc_file);
        if (fd >= 0)
            close(fd);
        check(test_poll(sfd, POLLIN, 3000) == 1, "IN sync_file signalled after the unbind");
        ret = test_sync_file_status(sfd, NULL, NULL, 0);
        check(ret == -ESHUTDOWN, "IN fence status after the unbind: %s (want ESHUTDOWN)",
              err_name(ret));
        check(test_poll(sfd2, POLLIN, 3000) == 1, "OUT sync_file signalled after the unbind");
        ret = test_sync_file_status(sfd2, NULL, NULL, 0);
        check(ret == -ESHUTDOWN, "OUT fence status after the unbind: %s (want ESHUTDOWN)",
              err_name(ret));
        close(sfd);
        close(sfd2);
    }
    /* Closing the endpoints detaches what is still attached. */
    close(h->ep_in);
    close(h->ep_out);
    h->ep_in = h->ep_out = -1;
    hz_expect_idle(&d[0], "IN endpoint closed at the end");
    hz_expect_idle(&e[0], "OUT endpoint closed at the end");

    test_dmabuf_free(&a);
    test_dmabuf_free(&b);
    test_dmabuf_free(&c);
    for (int i = 0; i < 3; i++)
        test_dmabuf_free(&d[i]);
    for (int i = 0; i < 2; i++)
        test_dmabuf_free(&e[i]);
    close(pipefd[0]);
    close(pipefd[1]);
    close(h->heap);
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}

/* ---- double-in mode: reproducer ---------------------------------------- */

static int run_double_in(struct hz *h)
{
    struct test_dmabuf a;
    int held = -1;

    h->heap = test_dmabuf_allocator_open();
    if (h->heap < 0 || test_dmabuf_alloc(h->heap, 65536, &a)) {
        tlog("allocating a DMABUF failed");
        return 1;
    }
    hz_fill(&a, 0, 65536);
    check_err(ffs_dmabuf_attach(h->ep_in, a.fd), 0, "ATTACH");
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 5000, 0), 0, "TRANSFER T1 (5000 bytes IN)");
    /* FFS_DOUBLE_IN_HOLD=1: a sync_file keeps T1's fence alive (the control case). */
    if (getenv("FFS_DOUBLE_IN_HOLD") && *getenv("FFS_DOUBLE_IN_HOLD"))
        held = test_export_sync_file(a.fd);
    /*
     * 0027: T2 waits for T1 like for a conflicting fence; non-blocking, it is
     * refused. (6.12 accepts it, and T1's fence leaves the reservation object.)
     */
    int fl = fcntl(h->ep_in, F_GETFL);
    fcntl(h->ep_in, F_SETFL, fl | O_NONBLOCK);
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 3000, 0), -EBUSY,
              "O_NONBLOCK TRANSFER T2 (3000 bytes) of the same DMABUF while T1 is pending");
    fcntl(h->ep_in, F_SETFL, fl);
    h->in_off = 0;
    hz_host_read(h, 5000, "T1");
    check_err(ffs_dmabuf_transfer(h->ep_in, a.fd, 3000, 0), 0,
              "TRANSFER T2 (3000 bytes) once T1 is done");
    h->in_off = 0;
    hz_host_read(h, 3000, "T2");
    hz_expect_idle(&a, "both transfers done");
    if (held >= 0)
        close(held); /* never polled or read: does not touch the fence lock */
    check_err(ffs_dmabuf_detach(h->ep_in, a.fd), 0, "DETACH");
    test_dmabuf_free(&a);
    close(h->heap);
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}

/* ---- main -------------------------------------------------------------- */

static uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);

    if (*end == 'K' || *end == 'k')
        v <<= 10;
    else if (*end == 'M' || *end == 'm')
        v <<= 20;
    else if (*end) {
        fprintf(stderr, "ffs_dmabuf_test: bad size '%s'\n", s);
        exit(2);
    }
    return v;
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: ffs_dmabuf_test [--ready FILE] [--in-bytes N] [--out-bytes N]\n"
            "                       [--buf-size N] [--bufs N] [--odd] [--seed-in N]\n"
            "                       [--seed-out N] [--timeout SEC] [--udc-file FILE]\n"
            "                       stream|eperm|copy|hazards|double-in FFS_DIR\n");
    exit(status);
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
            {"ready", required_argument, NULL, 'r'},
            {"in-bytes", required_argument, NULL, 'i'},
            {"out-bytes", required_argument, NULL, 'o'},
            {"buf-size", required_argument, NULL, 's'},
            {"bufs", required_argument, NULL, 'n'},
            {"odd", no_argument, NULL, 'd'},
            {"seed-in", required_argument, NULL, 'I'},
            {"seed-out", required_argument, NULL, 'O'},
            {"timeout", required_argument, NULL, 't'},
            {"udc-file", required_argument, NULL, 'u'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    static struct options o = {
            .in_bytes = 64 << 20,
            .out_bytes = 64 << 20,
            .buf_size = 1 << 20,
            .bufs = 4,
            .seed_in = 1,
            .seed_out = 2,
            .timeout_s = 20,
    };
    struct hz h = {.ep0 = -1, .ep_in = -1, .ep_out = -1, .heap = -1};
    uint16_t mps = 512;
    int c, ret;

    test_prog = "ffs_dmabuf_test";
    opt = &o;
    while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o.ready = optarg;
            break;
        case 'i':
            o.in_bytes = parse_size(optarg);
            break;
        case 'o':
            o.out_bytes = parse_size(optarg);
            break;
        case 's':
            o.buf_size = (size_t)parse_size(optarg);
            break;
        case 'n':
            o.bufs = atoi(optarg);
            break;
        case 'd':
            o.odd = true;
            break;
        case 'I':
            o.seed_in = strtoull(optarg, NULL, 0);
            break;
        case 'O':
            o.seed_out = strtoull(optarg, NULL, 0);
            break;
        case 't':
            o.timeout_s = atoi(optarg);
            break;
        case 'u':
            o.udc_file = optarg;
            break;
        case 'h':
            usage(0);
            break;
        default:
            usage(2);
        }
    }
    if (argc - optind != 2 || o.bufs < 1 || o.bufs > MAX_BUFS || o.buf_size < 4096 ||
        o.buf_size % 4096)
        usage(2);
    o.mode = argv[optind];
    o.dir = argv[optind + 1];
    if (strcmp(o.mode, "stream") && strcmp(o.mode, "eperm") && strcmp(o.mode, "copy") &&
        strcmp(o.mode, "hazards") && strcmp(o.mode, "double-in"))
        usage(2);

    h.ep0 = ffs_test_open(o.dir, "ep0", O_RDWR);
    if (h.ep0 < 0) {
        tlog("%s/ep0: %s", o.dir, strerror(-h.ep0));
        return 1;
    }
    ret = ffs_test_write_descriptors(h.ep0);
    if (ret) {
        tlog("writing descriptors to %s/ep0: %s", o.dir, strerror(-ret));
        return 1;
    }
    test_touch(o.ready);
    ret = ffs_test_wait_enable(h.ep0, 60000);
    if (ret) {
        tlog("waiting for the host to enable the function: %s", strerror(-ret));
        return 1;
    }
    h.ep_in = ffs_test_open(o.dir, "ep1", O_RDWR);
    h.ep_out = ffs_test_open(o.dir, "ep2", O_RDWR);
    if (h.ep_in < 0 || h.ep_out < 0) {
        tlog("opening %s/ep1 and ep2: %s", o.dir, strerror(-(h.ep_in < 0 ? h.ep_in : h.ep_out)));
        return 1;
    }
    {
        struct usb_endpoint_descriptor desc;

        if (ioctl(h.ep_in, FUNCTIONFS_ENDPOINT_DESC, &desc) == 0)
            mps = le16toh(desc.wMaxPacketSize) & 0x7ff;
        printf("bulk endpoints enabled, max packet size %u\n", mps);
    }

    if (!strcmp(o.mode, "stream")) {
        ret = run_stream(h.ep_in, h.ep_out, mps);
    } else if (!strcmp(o.mode, "eperm")) {
        ret = run_copy(h.ep_in, h.ep_out, true);
    } else if (!strcmp(o.mode, "copy")) {
        ret = run_copy(h.ep_in, h.ep_out, false);
    } else {
        if (host_open(&h.host, TEST_VID, TEST_PID, 30000))
            return 1;
        ret = strcmp(o.mode, "hazards") ? run_double_in(&h) : run_hazards(&h);
        host_close(&h.host);
    }
    fflush(stdout);
    if (h.ep_in >= 0)
        close(h.ep_in);
    if (h.ep_out >= 0)
        close(h.ep_out);
    close(h.ep0);
    return ret;
}
