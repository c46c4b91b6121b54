/*
 * tool_ffs_source: a stand-in iiousb device for testing the host tool before the
 * daemon streams. A FunctionFS function with the iiousb interface triple (ff/49/01,
 * docs/protocol.md), bulk IN ep1 (stream 0 "rx0") and bulk OUT ep2 (stream 1 "tx0"),
 * answering GET_INFO, START, STOP and GET_STATS on ep0 like iiousbd. While rx0 runs it
 * write()s blocks of iio-sim's pattern (tests/vm/progs/common/iiosim_pattern.h) to ep1;
 * while tx0 runs it read()s ep2 and checks the data against the same pattern.
 *
 *   tool_ffs_source [--ready FILE] [--block BYTES] [--mask HEX] [--pattern full|header]
 *                   [--drop-block N] [--corrupt-offset N]
 *                   [--dmabuf N [--iio NAME] [--profile]] FFS_DIR
 *
 * --dmabuf N turns rx0 into the raw zero-copy loop the benchmark (bench/) compares the
 * daemon with: at START it takes N DMABUFs of --block bytes from /dev/dma_heap/system
 * (/dev/udmabuf on a kernel without dma-heaps, as Debian's arm64 one: common/dmabuf_alloc.h;
 * the allocator is logged), attaches each to the IIO buffer of device NAME (default
 * iio-sim-adc, channels --mask) and to ep1, and cycles them with nothing but ioctls:
 * IIO_BUFFER_DMABUF_ENQUEUE -> IIO fence -> FUNCTIONFS_DMABUF_TRANSFER -> USB fence ->
 * enqueue again, waiting with poll() on sync_files exported right after each queue and
 * reading every fence's status before the next stage; blocks go out in the order IIO
 * filled them. The data is never touched (whatever pattern iio-sim is set to; --pattern
 * and the fault options do not apply). STOP disables the IIO buffer, reads and closes the
 * sync_files, then detaches. --profile times each kind of call with the thread's CPU clock
 * and logs the split per block at the end of each run: two more system calls per call
 * (CLOCK_THREAD_CPUTIME_ID has no vDSO path), so the benchmark runs the loop without it.
 *
 * --drop-block N leaves out block N of each rx run (the stream jumps, as after an
 * overrun); --corrupt-offset N flips the bits of byte N of each rx run. The program
 * runs until SIGTERM/SIGINT, then closes ep0 (which unbinds the gadget) and prints
 * its counters. Exit status: 0, 1 on a setup failure, 2 usage.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>

#include <linux/iio/buffer.h>

#include "ffs_test_util.h"
#include "iiosim_pattern.h"

/* The interface iiousbd exposes (docs/protocol.md): class ff, subclass 'I', protocol 1. */
#define SOURCE_SUBCLASS 0x49
#define SOURCE_PROTOCOL 0x01
#define SOURCE_STRING "iiousb"

enum { REQ_GET_INFO = 1, REQ_START = 2, REQ_STOP = 3, REQ_GET_STATS = 4 };

struct stream {
    pthread_t thread;
    int fd;
    bool in;
    uint8_t ep_addr;
    /* Under lock. */
    bool running;
    unsigned generation; /* bumped by every START and STOP */
    bool idle;           /* the thread is not inside a run */
    uint64_t bytes, blocks, errors;
    double started, stopped;
};

static struct {
    const char *ready;
    uint64_t block;
    uint32_t mask;
    bool header;
    int64_t drop_block;
    int64_t corrupt_offset;
    int dmabufs;          /* --dmabuf N: rx0 is the raw DMABUF loop; 0: write() */
    const char *iio_name; /* --iio NAME */
    bool profile;         /* --profile */
} opt = {.block = 1 << 20,
         .mask = 0xf,
         .drop_block = -1,
         .corrupt_offset = -1,
         .iio_name = "iio-sim-adc"};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct stream streams[2];
static volatile sig_atomic_t quit;
static bool quitting;
/* Set once FUNCTIONFS_UNBIND was seen: DMABUF ioctls on the endpoints would then
 * dereference the gone gadget (6.12): close the endpoint instead of detaching. */
static bool ffs_unbound;

static void on_signal(int sig)
{
    if (sig != SIGUSR1)
        quit = 1;
}

static int write_descriptors(int ep0)
{
    return ffs_test_write_descriptors_as(ep0, SOURCE_SUBCLASS, SOURCE_PROTOCOL, SOURCE_STRING);
}

static int info_text(char *buf, size_t size)
{
    unsigned nchan = (unsigned)__builtin_popcount(opt.mask);
    int n = snprintf(buf, size, "iiousb 1\ndevice serial=SRC0001 streams=2\n");

    for (int s = 0; s < 2; s++) {
        n += snprintf(buf + n, size - (size_t)n,
                      "stream %d name=%s dir=%s ep=0x%02x iio=%s block=%llu blocks=%d rate=0 "
                      "sample-bytes=%u channels=%u\n",
                      s, s ? "tx0" : "rx0", s ? "tx" : "rx", streams[s].ep_addr,
                      s ? "tool-ffs-sink" : "tool-ffs-source", (unsigned long long)opt.block,
                      !s && opt.dmabufs ? opt.dmabufs : 4, 2 * nchan, nchan);
        unsigned pos = 0;
        for (unsigned c = 0; c < IIOSIM_MAX_CHANNELS; c++)
            if (opt.mask & (1u << c))
                n += snprintf(buf + n, size - (size_t)n, "channel %d %u voltage%u le:s16/16>>0\n",
                              s, pos++, c);
    }
    return n;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void stats_record(int s, uint8_t rec[64])
{
    struct stream *st = &streams[s];

    memset(rec, 0, 64);
    pthread_mutex_lock(&lock);
    put_le(rec, 1, 2);
    put_le(rec + 2, 64, 2);
    rec[4] = st->running ? 1 : 0;
    rec[5] = s == 0 && opt.dmabufs ? 1 : 2; /* "IIO" side: DMABUF, or copy */
    rec[6] = s == 0 && opt.dmabufs ? 1 : 2; /* USB side: DMABUF, or write()/read() */
    put_le(rec + 8, st->bytes, 8);
    put_le(rec + 16, st->blocks, 8);
    put_le(rec + 40, st->in ? st->errors : 0, 8);
    put_le(rec + 48, st->in ? 0 : st->errors, 8); /* tx: pattern mismatches */
    double end = st->running ? test_now() : st->stopped;
    put_le(rec + 56, st->started > 0 ? (uint64_t)((end - st->started) * 1e9) : 0, 8);
    pthread_mutex_unlock(&lock);
}

/* STOP: end the run and wait until the thread is out of its blocking read()/write(). */
static void stream_set(int s, bool run)
{
    struct stream *st = &streams[s];

    pthread_mutex_lock(&lock);
    if (st->running == run) {
        pthread_mutex_unlock(&lock);
        return;
    }
    st->running = run;
    st->generation++;
    if (run) {
        st->bytes = st->blocks = st->errors = 0;
        st->started = test_now();
    } else {
        st->stopped = test_now();
    }
    pthread_cond_broadcast(&cond);
    while (!run && !st->idle) {
        pthread_mutex_unlock(&lock);
        pthread_kill(st->thread, SIGUSR1); /* EINTR out of the endpoint I/O */
        usleep(5000);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    tlog("stream %d %s", s, run ? "started" : "stopped");
}

/* One run of a stream with write() (rx0) or read() (tx0), until STOP. */
static void copy_run(struct stream *st, unsigned gen, uint8_t *buf)
{
    struct iiosim_stream pat;
    iiosim_stream_init(&pat, opt.mask);
    uint64_t seq = 0, offset = 0;
    int64_t first_error = -1;
    bool go = true;
    while (go) {
        uint64_t len = opt.block;
        ssize_t r;
        if (st->in) {
            uint64_t first = pat.sample;
            if (opt.header) {
                iiosim_header_make(buf, (uint32_t)seq, first);
                iiosim_stream_seek(&pat, pat.offset + len);
                /* S advances by whole sets per block, as iio-sim does */
                pat.sample = first + len / iiosim_set_bytes(&pat);
            } else {
                iiosim_fill(&pat, buf, len);
            }
            if ((int64_t)seq == opt.drop_block) {
                seq++;
                continue;
            }
            if (opt.corrupt_offset >= 0 && (uint64_t)opt.corrupt_offset >= offset &&
                (uint64_t)opt.corrupt_offset < offset + len)
                buf[opt.corrupt_offset - offset] ^= 0xff;
            r = write(st->fd, buf, len);
        } else {
            r = read(st->fd, buf, len);
            if (r > 0) {
                uint64_t bad = iiosim_check(&pat, buf, (size_t)r, &first_error);
                pthread_mutex_lock(&lock);
                st->errors += bad;
                pthread_mutex_unlock(&lock);
            }
        }
        pthread_mutex_lock(&lock);
        if (r > 0) {
            st->bytes += (uint64_t)r;
            st->blocks++;
            offset += (uint64_t)r;
        }
        go = st->running && st->generation == gen && !quitting && (r > 0 || errno == EAGAIN);
        if (r < 0 && errno != EINTR && go)
            go = false;
        if (r < 0 && errno != EINTR)
            tlog("stream %s: %s: %s", st->in ? "rx0" : "tx0", st->in ? "write" : "read",
                 strerror(errno));
        pthread_mutex_unlock(&lock);
        seq++;
    }
    if (!st->in)
        tlog("tx0 run: %llu bytes checked, %llu mismatching, first at %lld",
             (unsigned long long)offset, (unsigned long long)st->errors, (long long)first_error);
}

/* ---- --dmabuf: the raw zero-copy IIO -> FunctionFS loop ------------------------------ */

#include "common/iio_dmabuf_uapi.h"

#define MAX_DMABUFS 64

enum slot_state { SLOT_IDLE, SLOT_IIO, SLOT_USB };

struct zslot {
    int fd;      /* the DMABUF */
    int sync_fd; /* sync_file of the stage in flight, or -1 */
    enum slot_state state;
    bool iio_attached, ffs_attached;
};

struct zrun {
    char sysdir[300]; /* /sys/bus/iio/devices/iio:deviceN */
    int dev_fd, buf_fd, ep;
    bool enabled;
    int n;
    struct zslot slot[MAX_DMABUFS];
};

static int sysfs_put(const char *dir, const char *file, const char *val)
{
    char path[512];
    int fd, err = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (write(fd, val, strlen(val)) < 0)
        err = -errno;
    close(fd);
    return err;
}

/* The IIO device named opt.iio_name: its sysfs directory and /dev node number. */
static int iio_find(struct zrun *z, int *num)
{
    DIR *d = opendir("/sys/bus/iio/devices");
    struct dirent *de;
    int ret = -ENODEV;

    if (!d)
        return -errno;
    while (ret && (de = readdir(d))) {
        char path[300], name[64] = "";
        int fd;
        ssize_t n;

        if (strncmp(de->d_name, "iio:device", 10))
            continue;
        snprintf(path, sizeof(path), "/sys/bus/iio/devices/%s/name", de->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, name, sizeof(name) - 1);
        close(fd);
        if (n <= 0)
            continue;
        name[strcspn(name, "\n")] = '\0';
        if (strcmp(name, opt.iio_name))
            continue;
        snprintf(z->sysdir, sizeof(z->sysdir), "/sys/bus/iio/devices/%s", de->d_name);
        *num = atoi(de->d_name + 10);
        ret = 0;
    }
    closedir(d);
    return ret;
}

static int iio_ioctl_fd(int buf_fd, unsigned long req, int fd)
{
    return ioctl(buf_fd, req, &fd) < 0 ? -errno : 0;
}

/*
 * Where the loop's CPU time goes (--profile): this thread's CPU seconds per kind of call,
 * logged at the end of each run (the benchmark's server CPU is the whole process's).
 */
enum { PROF_ENQUEUE, PROF_TRANSFER, PROF_EXPORT, PROF_STATUS, PROF_POLL, PROF_N };
static const char *const prof_name[PROF_N] = {"IIO enqueue", "FFS transfer", "export",
                                              "status+close", "poll"};
static double prof[PROF_N];

static double thread_cpu(void)
{
    struct timespec ts;

    if (!opt.profile)
        return 0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Export the fence of the stage just queued, before it can signal (DESIGN.md's rules). */
static int export_fence(struct zslot *s)
{
    double t = thread_cpu();
    int fd = test_export_sync_file(s->fd);

    prof[PROF_EXPORT] += thread_cpu() - t;

    if (fd < 0)
        return fd;
    s->sync_fd = fd;
    return 0;
}

static int iio_queue(struct zrun *z, struct zslot *s)
{
    struct iio_dmabuf req = {.fd = (__u32)s->fd, .bytes_used = opt.block};
    double t = thread_cpu();
    int r = ioctl(z->buf_fd, IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req);

    prof[PROF_ENQUEUE] += thread_cpu() - t;
    if (r < 0)
        return -errno;
    s->state = SLOT_IIO;
    return export_fence(s);
}

static int usb_queue(struct zrun *z, struct zslot *s)
{
    double t = thread_cpu();
    int ret = ffs_dmabuf_transfer(z->ep, s->fd, opt.block, 0);

    prof[PROF_TRANSFER] += thread_cpu() - t;
    if (ret)
        return ret;
    s->state = SLOT_USB;
    return export_fence(s);
}

/* Read a signalled stage's fence status and close its sync_file: 1 done, else error. */
static int stage_done(struct zslot *s)
{
    double t = thread_cpu();
    int status = test_sync_file_status(s->sync_fd, NULL, NULL, 0);

    close(s->sync_fd);
    prof[PROF_STATUS] += thread_cpu() - t;
    s->sync_fd = -1;
    s->state = SLOT_IDLE;
    return status;
}

static int zrun_setup(struct zrun *z, int ep)
{
    int num = 0, heap, ret;
    char path[64];

    z->ep = ep;
    z->n = opt.dmabufs;
    z->dev_fd = z->buf_fd = -1;
    for (int i = 0; i < z->n; i++)
        z->slot[i] = (struct zslot){.fd = -1, .sync_fd = -1};
    ret = iio_find(z, &num);
    if (ret) {
        tlog("dmabuf: no IIO device '%s': %s", opt.iio_name, strerror(-ret));
        return ret;
    }
    sysfs_put(z->sysdir, "buffer0/enable", "0");
    for (unsigned c = 0; c < IIOSIM_MAX_CHANNELS; c++) {
        char file[64];

        snprintf(file, sizeof(file), "buffer0/in_voltage%u_en", c);
        ret = sysfs_put(z->sysdir, file, opt.mask & (1u << c) ? "1" : "0");
        if (ret && (opt.mask & (1u << c))) {
            tlog("dmabuf: enabling %s/%s: %s", z->sysdir, file, strerror(-ret));
            return ret;
        }
    }
    snprintf(path, sizeof(path), "/dev/iio:device%d", num);
    z->dev_fd = open(path, O_RDWR | O_CLOEXEC);
    if (z->dev_fd < 0) {
        ret = -errno;
        tlog("dmabuf: %s: %s", path, strerror(errno));
        return ret;
    }
    z->buf_fd = 0;
    if (ioctl(z->dev_fd, IIO_BUFFER_GET_FD_IOCTL, &z->buf_fd) < 0) {
        ret = -errno;
        z->buf_fd = -1;
        tlog("dmabuf: IIO_BUFFER_GET_FD_IOCTL: %s", strerror(errno));
        return ret;
    }
    heap = test_dmabuf_allocator_open();
    if (heap < 0) {
        ret = -errno;
        tlog("dmabuf: %s: %s", test_dmabuf_allocator_name(), strerror(errno));
        return ret;
    }
    for (int i = 0; i < z->n; i++) {
        struct zslot *s = &z->slot[i];

        s->fd = test_dmabuf_create(heap, opt.block);
        if (s->fd < 0) {
            ret = s->fd;
            tlog("dmabuf: allocating %llu bytes: %s", (unsigned long long)opt.block,
                 strerror(-ret));
            break;
        }
        ret = iio_ioctl_fd(z->buf_fd, IIO_BUFFER_DMABUF_ATTACH_IOCTL, s->fd);
        if (ret) {
            tlog("dmabuf: IIO_BUFFER_DMABUF_ATTACH_IOCTL: %s", strerror(-ret));
            break;
        }
        s->iio_attached = true;
        ret = ffs_dmabuf_attach(ep, s->fd);
        if (ret) {
            tlog("dmabuf: FUNCTIONFS_DMABUF_ATTACH: %s", strerror(-ret));
            break;
        }
        s->ffs_attached = true;
    }
    close(heap);
    if (ret)
        return ret;
    tlog("dmabuf: %d x %llu B allocated from %s", z->n, (unsigned long long)opt.block,
         test_dmabuf_allocator_name());
    /* Every DMABUF goes to IIO first (allowed before enable); then enable. */
    for (int i = 0; i < z->n; i++) {
        ret = iio_queue(z, &z->slot[i]);
        if (ret) {
            tlog("dmabuf: first IIO enqueue: %s", strerror(-ret));
            return ret;
        }
    }
    ret = sysfs_put(z->sysdir, "buffer0/enable", "1");
    if (ret) {
        tlog("dmabuf: enabling the IIO buffer: %s", strerror(-ret));
        return ret;
    }
    z->enabled = true;
    return 0;
}

/*
 * Tear down in the order the 6.12 kernel needs: stop the IIO side (queued blocks end
 * with -EINTR), read and close every sync_file while its DMABUF is still attached, then
 * detach (an FFS DETACH dequeues a transfer the host did not read; after an unbind the
 * endpoint is closed instead), then free.
 */
static void zrun_teardown(struct zrun *z, struct stream *st)
{
    if (z->enabled)
        sysfs_put(z->sysdir, "buffer0/enable", "0");
    for (int i = 0; i < z->n; i++) {
        struct zslot *s = &z->slot[i];

        if (s->sync_fd >= 0) {
            (void)test_sync_file_status(s->sync_fd, NULL, NULL, 0);
            close(s->sync_fd);
            s->sync_fd = -1;
        }
    }
    if (ffs_unbound && st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
    for (int i = 0; i < z->n; i++) {
        struct zslot *s = &z->slot[i];

        if (s->ffs_attached && st->fd >= 0)
            ffs_dmabuf_detach(z->ep, s->fd);
        if (s->iio_attached)
            iio_ioctl_fd(z->buf_fd, IIO_BUFFER_DMABUF_DETACH_IOCTL, s->fd);
        if (s->fd >= 0)
            close(s->fd);
    }
    if (z->buf_fd >= 0)
        close(z->buf_fd);
    if (z->dev_fd >= 0)
        close(z->dev_fd);
}

/*
 * One rx0 run in --dmabuf mode. The DMABUFs form a ring: IIO fills them in the order
 * they were queued and the endpoint sends them in the order they were queued, so only
 * the oldest slot of each stage can complete next; polling those two keeps the blocks
 * in order.
 */
static void dmabuf_run(struct stream *st, unsigned gen)
{
    static struct zrun z;
    int iio_next = 0, usb_next = 0, ret;
    bool go;

    memset(&z, 0, sizeof(z));
    memset(prof, 0, sizeof(prof));
    ret = zrun_setup(&z, st->fd);
    pthread_mutex_lock(&lock);
    if (ret)
        st->errors++;
    go = !ret && st->running && st->generation == gen && !quitting;
    pthread_mutex_unlock(&lock);
    if (!ret)
        tlog("dmabuf: %d x %llu B attached to %s and ep1, streaming", z.n,
             (unsigned long long)opt.block, opt.iio_name);
    while (go) {
        struct pollfd pfd[2];
        struct zslot *a = &z.slot[iio_next], *b = &z.slot[usb_next];
        int n = 0, ia = -1, ib = -1;

        if (a->state == SLOT_IIO) {
            ia = n;
            pfd[n++] = (struct pollfd){.fd = a->sync_fd, .events = POLLIN};
        }
        if (b->state == SLOT_USB) {
            ib = n;
            pfd[n++] = (struct pollfd){.fd = b->sync_fd, .events = POLLIN};
        }
        if (!n) {
            tlog("dmabuf: no stage in flight (internal error)");
            ret = -EINVAL;
        } else {
            double t = thread_cpu();
            int r = poll(pfd, (nfds_t)n, 1000);

            prof[PROF_POLL] += thread_cpu() - t;
            if (r < 0 && errno != EINTR) {
                ret = -errno;
                tlog("dmabuf: poll: %s", strerror(errno));
            }
        }
        if (!ret && ia >= 0 && (pfd[ia].revents & POLLIN)) {
            int status = stage_done(a);

            if (status != 1) {
                tlog("dmabuf: IIO block failed: fence status %d", status);
                ret = status < 0 ? status : -EIO;
            } else if ((ret = usb_queue(&z, a))) {
                tlog("dmabuf: FUNCTIONFS_DMABUF_TRANSFER: %s", strerror(-ret));
            } else {
                iio_next = (iio_next + 1) % z.n;
            }
        }
        if (!ret && ib >= 0 && (pfd[ib].revents & POLLIN)) {
            int status = stage_done(b);

            if (status != 1) {
                tlog("dmabuf: USB transfer failed: fence status %d", status);
                ret = status < 0 ? status : -EIO;
            } else if ((ret = iio_queue(&z, b))) {
                tlog("dmabuf: IIO_BUFFER_DMABUF_ENQUEUE: %s", strerror(-ret));
            } else {
                usb_next = (usb_next + 1) % z.n;
                pthread_mutex_lock(&lock);
                st->bytes += opt.block;
                st->blocks++;
                pthread_mutex_unlock(&lock);
            }
        }
        pthread_mutex_lock(&lock);
        if (ret)
            st->errors++;
        go = !ret && st->running && st->generation == gen && !quitting;
        pthread_mutex_unlock(&lock);
    }
    zrun_teardown(&z, st);
    tlog("dmabuf: run ended: %llu blocks sent%s", (unsigned long long)st->blocks,
         ret ? " (stopped by an error)" : "");
    if (st->blocks && opt.profile) {
        char line[256];
        int len = 0;

        for (int k = 0; k < PROF_N; k++)
            len += snprintf(line + len, sizeof(line) - (size_t)len, "%s%s %.0f", k ? ", " : "",
                            prof_name[k], prof[k] * 1e6 / (double)st->blocks);
        tlog("dmabuf: loop thread CPU per block, us: %s", line);
    }
}

static void *stream_thread(void *arg)
{
    struct stream *st = arg;
    uint8_t *buf = malloc(opt.block);

    if (!buf)
        return NULL;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!st->running && !quitting)
            pthread_cond_wait(&cond, &lock);
        if (quitting)
            break;
        unsigned gen = st->generation;
        st->idle = false;
        pthread_mutex_unlock(&lock);

        if (st->in && opt.dmabufs)
            dmabuf_run(st, gen);
        else
            copy_run(st, gen, buf);
        pthread_mutex_lock(&lock);
        st->idle = true;
        /* A START that came while we were busy has its own generation: go round. */
        while (st->running && st->generation == gen && !quitting)
            pthread_cond_wait(&cond, &lock);
    }
    st->idle = true;
    pthread_mutex_unlock(&lock);
    free(buf);
    return NULL;
}

static void handle_setup(int ep0, const struct usb_ctrlrequest *setup)
{
    uint16_t value = le16toh(setup->wValue), length = le16toh(setup->wLength);
    static char info[8192];
    ssize_t r = 0;

    if (setup->bRequestType == 0xc1 && setup->bRequest == REQ_GET_INFO && length > 0) {
        int n = info_text(info, sizeof(info));
        size_t off = value < n ? value : (size_t)n;
        size_t len = (size_t)n - off < length ? (size_t)n - off : length;
        r = write(ep0, info + off, len);
    } else if (setup->bRequestType == 0x41 &&
               (setup->bRequest == REQ_START || setup->bRequest == REQ_STOP) && value < 2 &&
               length == 0) {
        stream_set(value, setup->bRequest == REQ_START);
        r = read(ep0, NULL, 0); /* status stage */
    } else if (setup->bRequestType == 0xc1 && setup->bRequest == REQ_GET_STATS && value < 2 &&
               length >= 64) {
        uint8_t rec[64];
        stats_record(value, rec);
        r = write(ep0, rec, sizeof(rec));
    } else {
        tlog("stalling request %02x %02x value %u length %u", setup->bRequestType, setup->bRequest,
             value, length);
        ffs_test_stall(ep0, setup);
    }
    if (r < 0)
        tlog("ep0 reply: %s", strerror(errno));
}

static int open_endpoints(const char *dir)
{
    const char *names[2] = {"ep1", "ep2"};

    for (int s = 0; s < 2; s++) {
        struct usb_endpoint_descriptor desc;
        if (streams[s].fd >= 0)
            continue;
        streams[s].fd = ffs_test_open(dir, names[s], O_RDWR);
        if (streams[s].fd < 0) {
            tlog("open %s/%s: %s", dir, names[s], strerror(-streams[s].fd));
            return -1;
        }
        if (ioctl(streams[s].fd, FUNCTIONFS_ENDPOINT_DESC, &desc) == 0)
            streams[s].ep_addr = desc.bEndpointAddress;
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: tool_ffs_source [--ready FILE] [--block BYTES] [--mask HEX] "
            "[--pattern full|header] [--drop-block N] [--corrupt-offset N]\n"
            "                       [--dmabuf N (1..%d; --block a multiple of 4096) "
            "[--iio NAME] [--profile]] FFS_DIR\n",
            MAX_DMABUFS);
    return 2;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    struct sigaction sa = {.sa_handler = on_signal};
    int ep0, ret;

    test_prog = "tool_ffs_source";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--ready") && v)
            opt.ready = argv[++i];
        else if (!strcmp(a, "--block") && v)
            opt.block = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(a, "--mask") && v)
            opt.mask = (uint32_t)strtoul(argv[++i], NULL, 16);
        else if (!strcmp(a, "--pattern") && v)
            opt.header = !strcmp(argv[++i], "header");
        else if (!strcmp(a, "--drop-block") && v)
            opt.drop_block = strtoll(argv[++i], NULL, 0);
        else if (!strcmp(a, "--corrupt-offset") && v)
            opt.corrupt_offset = strtoll(argv[++i], NULL, 0);
        else if (!strcmp(a, "--dmabuf") && v)
            opt.dmabufs = atoi(argv[++i]);
        else if (!strcmp(a, "--iio") && v)
            opt.iio_name = argv[++i];
        else if (!strcmp(a, "--profile"))
            opt.profile = true;
        else if (a[0] != '-' && !dir)
            dir = a;
        else
            return usage();
    }
    if (!dir || opt.block < IIOSIM_HEADER_SIZE || !(opt.mask & 0xffff) || opt.dmabufs < 0 ||
        opt.dmabufs > MAX_DMABUFS || (opt.dmabufs && opt.block % 4096))
        return usage();

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: interrupts endpoint I/O */
    signal(SIGPIPE, SIG_IGN);

    ep0 = ffs_test_open(dir, "ep0", O_RDWR);
    if (ep0 < 0) {
        tlog("open %s/ep0: %s", dir, strerror(-ep0));
        return 1;
    }
    ret = write_descriptors(ep0);
    if (ret) {
        tlog("writing descriptors: %s", strerror(-ret));
        return 1;
    }
    streams[0] = (struct stream){.fd = -1, .in = true, .ep_addr = 0x81, .idle = true};
    streams[1] = (struct stream){.fd = -1, .in = false, .ep_addr = 0x02, .idle = true};
    test_touch(opt.ready);
    if (opt.dmabufs)
        tlog("descriptors written; rx0: %d DMABUFs of %llu bytes from %s (mask 0x%x), zero-copy",
             opt.dmabufs, (unsigned long long)opt.block, opt.iio_name, opt.mask);
    else
        tlog("descriptors written; block %llu, mask 0x%x, %s pattern",
             (unsigned long long)opt.block, opt.mask, opt.header ? "header" : "full");

    bool threads = false;
    while (!quit) {
        struct usb_functionfs_event ev;
        ret = ffs_test_read_event(ep0, &ev, 200);
        /*
         * EIDRM: f_fs cancelled a control request the host gave up on (it sent
         * the next SETUP first); the events that follow are still there.
         */
        if (ret == -EIDRM) {
            tlog("ep0: a control request was cancelled by the host");
            continue;
        }
        if (ret < 0 && ret != -EINTR) {
            tlog("ep0: %s", strerror(-ret));
            break;
        }
        if (ret <= 0)
            continue;
        switch (ev.type) {
        case FUNCTIONFS_ENABLE:
            ffs_unbound = false;
            if (open_endpoints(dir))
                goto out;
            if (!threads) {
                for (int s = 0; s < 2; s++)
                    pthread_create(&streams[s].thread, NULL, stream_thread, &streams[s]);
                threads = true;
            }
            tlog("enabled: rx0 on 0x%02x, tx0 on 0x%02x", streams[0].ep_addr, streams[1].ep_addr);
            break;
        case FUNCTIONFS_DISABLE:
        case FUNCTIONFS_UNBIND:
            if (ev.type == FUNCTIONFS_UNBIND)
                ffs_unbound = true;
            if (threads)
                for (int s = 0; s < 2; s++)
                    stream_set(s, false);
            tlog("event %s", ffs_event_name(ev.type));
            break;
        case FUNCTIONFS_SETUP:
            handle_setup(ep0, &ev.u.setup);
            break;
        default:
            break;
        }
    }
out:
    if (threads) {
        for (int s = 0; s < 2; s++)
            stream_set(s, false);
        pthread_mutex_lock(&lock);
        quitting = true;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
        for (int s = 0; s < 2; s++)
            pthread_join(streams[s].thread, NULL);
    }
    for (int s = 0; s < 2; s++) {
        tlog("%s: %llu bytes, %llu blocks, %llu errors", s ? "tx0" : "rx0",
             (unsigned long long)streams[s].bytes, (unsigned long long)streams[s].blocks,
             (unsigned long long)streams[s].errors);
        if (streams[s].fd >= 0)
            close(streams[s].fd);
    }
    close(ep0);
    return 0;
}
