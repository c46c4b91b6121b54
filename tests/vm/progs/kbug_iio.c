/*
 * kbug_iio: reproducers for the industrialio-buffer-dma bugs of Linux 6.12 that
 * kernel-patches/linux-6.12/001*.patch fix, on iio-sim's input device.
 *
 *   kbug_iio dmabuf-read  read() on the buffer fd (O_NONBLOCK) while DMABUF
 *                         mode is on: NULL fileio block dereferenced in
 *                         iio_dma_buffer_dequeue() without 0010; then DETACH and
 *                         enable again at once: fileio must work (0013).
 *   kbug_iio detach-race [N]  N times (default 20): a DMABUF enqueued on the
 *                         enabled buffer (iio-sim stalled), the buffer disabled
 *                         (the transfer aborted, its fence signalled), DETACH
 *                         and enable at once, as a SCHED_FIFO task pinned to
 *                         one CPU so that the IIO core's cleanup work, which
 *                         drops the attachment's last reference, cannot run in
 *                         between: fileio must work (0013; without it, or with
 *                         its first version that only flushed buffer-dma's own
 *                         cleanup work, the buffer is enabled in DMABUF mode
 *                         and read() fails with EBUSY). Then a DMABUF enqueued
 *                         on the disabled buffer and detached before enabling:
 *                         its transfer must still run and signal its fence.
 *   kbug_iio reorder      two fileio sessions, the first consuming one block:
 *                         the second must start with block 0 (0011); iio-sim's
 *                         pattern catches block 1 coming first.
 *   kbug_iio lockorder    fileio read, then DMABUF attach: queue->lock -> mmap
 *                         lock and resv -> queue->lock (lockdep on the debug
 *                         kernel without 0012).
 *   kbug_iio readers      two threads read() the same blocking buffer fd at
 *                         once, into memory each copy has to fault in: both
 *                         must get data, and neither EBUSY (0012 takes
 *                         queue->lock off the copy; a second reader must still
 *                         wait for the first, as it did under queue->lock).
 *   kbug_iio removed      a DMABUF enqueued on the disabled buffer, then iio-sim
 *                         unbound, then a second ENQUEUE (ENODEV with 0014),
 *                         then every fd closed: without 0014 the first DMABUF's
 *                         fence is never signalled and the DMABUF stays listed
 *                         in /sys/kernel/debug/dma_buf/bufinfo, attached to
 *                         iio-sim, for good.
 *   kbug_iio requeue-out  on iio-sim's output device, a DMABUF enqueued while
 *                         the DAC is stalled, then enqueued again: the second
 *                         ENQUEUE must fail with EBUSY and leave the first
 *                         block's fence in the DMABUF's reservation object.
 *                         Without 0015 the IIO core replaces it there with the
 *                         second fence (same context), which drops the first
 *                         fence's only reference: the reservation object reads
 *                         as idle while the DAC still holds the block, and the
 *                         block's completion takes a reference on the freed
 *                         fence ("refcount_t: addition on 0; use-after-free").
 *   kbug_iio read-removed [N]  N times (default 100): threads in non-blocking
 *                         read() loops on the enabled buffer (fileio), each
 *                         read asking for more than the buffer holds, while
 *                         iio-sim is unbound; then bound again. Every reader
 *                         must end with ENODEV. Without 0016 a read that
 *                         passed iio_buffer_ready()'s check of
 *                         indio_dev->info before the unbind cleared it reads
 *                         it again to flush the hardware FIFO: NULL
 *                         dereference (oops at 0x98, hwfifo_flush_to_buffer).
 *
 * Exit status 0 when the kernel behaved as fixed, 1 otherwise.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "iiosim_pattern.h"
#include "kbug_common.h"
#include "kbug_iio_dev.h"

#define CHANNELS 4
#define SET_BYTES (2 * CHANNELS)
#define LENGTH 1024 /* sample sets: two fileio blocks of LENGTH / 2 sets */
#define BLOCK_BYTES (SET_BYTES * LENGTH / 2)

/*
 * Reads exactly len bytes with poll() and non-blocking read(): 0, or the
 * errno of the read() that failed (ETIMEDOUT: no data within 5 s).
 */
static int try_read_exact(int fd, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN) {
			int err = n ? errno : EIO;

			kbug_log("read buffer after %zu of %zu bytes: %s", got, len,
				 n ? strerror(err) : "end of file");
			return err;
		}
		if (poll(&pfd, 1, 5000) != 1) {
			kbug_log("no data on the buffer within 5 s (%zu of %zu bytes)", got, len);
			return ETIMEDOUT;
		}
	}
	return 0;
}

static void read_exact(int fd, void *buf, size_t len)
{
	if (try_read_exact(fd, buf, len))
		kbug_die("read_exact failed");
}

/* Checks that buf holds the first len bytes of the pattern after enable. */
static int check_from_start(const void *buf, size_t len, const char *what)
{
	struct iiosim_stream st;
	int64_t first = -1;
	uint64_t bad;

	iiosim_stream_init(&st, (1u << CHANNELS) - 1);
	bad = iiosim_check(&st, buf, len, &first);
	if (!bad) {
		kbug_log("%s: %zu bytes match iio-sim's pattern from sample 0", what, len);
		return 0;
	}
	kbug_log("%s: %llu of %zu bytes do not match iio-sim's pattern, the first at offset %lld"
		 " (block %lld of %d bytes)",
		 what, (unsigned long long)bad, len, (long long)first,
		 (long long)(first / BLOCK_BYTES), BLOCK_BYTES);
	return 1;
}

/* Bug 1 (and the deferred release after DETACH). */
static int test_dmabuf_read(void)
{
	static char buf[BLOCK_BYTES];
	int bfd = buffer_fd();
	int dmabuf = kbug_dmabuf_alloc(BLOCK_BYTES);
	ssize_t n;
	int err;

	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ATTACH_IOCTL, &dmabuf);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_ATTACH: %s", strerror(-err));
	buffer_enable(1);

	kbug_log("read() on the buffer fd in DMABUF mode");
	n = read(bfd, buf, sizeof(buf));
	err = n < 0 ? errno : 0;
	kbug_log("read() in DMABUF mode: %zd (%s)", n, n < 0 ? strerror(err) : "data");
	if (n >= 0 || err != EBUSY)
		kbug_die("read() in DMABUF mode: expected EBUSY");
	n = write(bfd, buf, sizeof(buf));
	kbug_log("write() on the input buffer: %zd (%s)", n, n < 0 ? strerror(errno) : "?");

	/* Without a queued block the DETACH releases the DMABUF block at once. */
	buffer_enable(0);
	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_DETACH_IOCTL, &dmabuf);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_DETACH: %s", strerror(-err));
	buffer_enable(1);
	kbug_log("enabled right after DETACH: expecting fileio mode");
	read_exact(bfd, buf, sizeof(buf));
	buffer_enable(0);

	close(dmabuf);
	close(bfd);
	return check_from_start(buf, sizeof(buf), "fileio after DETACH");
}

/* Bug 2: the second fileio session must start with block 0. */
static int test_reorder(void)
{
	static char buf[2 * BLOCK_BYTES];
	int bfd = buffer_fd();

	buffer_enable(1);
	read_exact(bfd, buf, BLOCK_BYTES);
	buffer_enable(0);
	if (check_from_start(buf, BLOCK_BYTES, "session 1 (one block)"))
		kbug_die("session 1 already out of order");

	buffer_enable(1);
	read_exact(bfd, buf, sizeof(buf));
	buffer_enable(0);
	close(bfd);
	if (check_from_start(buf, sizeof(buf), "session 2 (two blocks)"))
		kbug_die("session 2 out of order: block 1 handed out before block 0");
	return 0;
}

/* Bug 3: fileio (copy_to_user under queue->lock) followed by a DMABUF attach. */
static int test_lockorder(void)
{
	char *buf;
	int bfd = buffer_fd();
	int dmabuf, err;

	/* Fresh anonymous memory: the copy faults it in. */
	buf = mmap(NULL, BLOCK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		kbug_die("mmap: %s", strerror(errno));
	buffer_enable(1);
	read_exact(bfd, buf, BLOCK_BYTES);
	buffer_enable(0);
	if (check_from_start(buf, BLOCK_BYTES, "fileio"))
		return 1;

	dmabuf = kbug_dmabuf_alloc(BLOCK_BYTES);
	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ATTACH_IOCTL, &dmabuf);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_ATTACH after fileio: %s", strerror(-err));
	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_DETACH_IOCTL, &dmabuf);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_DETACH: %s", strerror(-err));
	kbug_log("fileio, then DMABUF attach/detach done");
	close(dmabuf);
	close(bfd);
	munmap(buf, BLOCK_BYTES);
	return 0;
}

/* 0012: concurrent readers of one buffer must wait for each other, not fail. */
#define READERS_LENGTH 65536 /* sample sets: 256 KiB fileio blocks */
#define READERS_CHUNK (64 * 1024)
#define READERS_TOTAL (16 * 1024 * 1024)

struct reader {
	pthread_t thread;
	int fd;
	char *map;
	size_t got;
	long reads, ebusy, other;
	int first_err;
};

static size_t readers_total; /* bytes read by both, __atomic */

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	while (__atomic_load_n(&readers_total, __ATOMIC_RELAXED) < READERS_TOTAL) {
		ssize_t n;

		/* The copy has to fault every page in again: a slow copy_to_user(). */
		madvise(r->map, READERS_CHUNK, MADV_DONTNEED);
		n = read(r->fd, r->map, READERS_CHUNK);
		if (n > 0) {
			r->got += (size_t)n;
			r->reads++;
			__atomic_add_fetch(&readers_total, (size_t)n, __ATOMIC_RELAXED);
		} else if (n < 0 && errno == EBUSY) {
			r->ebusy++;
		} else {
			if (!r->other++)
				r->first_err = n ? errno : EIO;
			if (r->other > 1000)
				break;
		}
	}
	return NULL;
}

static int test_readers(void)
{
	struct reader r[2];
	int bfd = buffer_fd(), i, rc = 0;
	char path[400];

	/* Blocking reads: the second reader has to wait, for data or the first. */
	if (fcntl(bfd, F_SETFL, fcntl(bfd, F_GETFL) & ~O_NONBLOCK))
		kbug_die("clear O_NONBLOCK: %s", strerror(errno));
	/* As fast as the simulated DMA goes: the readers spend their time copying. */
	snprintf(path, sizeof(path), "%s/sampling_frequency", sysdir);
	kbug_must_write(path, "0");
	memset(r, 0, sizeof(r));
	buffer_enable(1);
	for (i = 0; i < 2; i++) {
		r[i].fd = bfd;
		r[i].map = mmap(NULL, READERS_CHUNK, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r[i].map == MAP_FAILED)
			kbug_die("mmap: %s", strerror(errno));
		if (pthread_create(&r[i].thread, NULL, reader_main, &r[i]))
			kbug_die("pthread_create failed");
	}
	alarm(120);
	for (i = 0; i < 2; i++)
		pthread_join(r[i].thread, NULL);
	alarm(0);
	buffer_enable(0);
	for (i = 0; i < 2; i++) {
		kbug_log("reader %d: %zu bytes in %ld read()s, %ld EBUSY, %ld other errors%s%s",
			 i, r[i].got, r[i].reads, r[i].ebusy, r[i].other,
			 r[i].other ? ", the first: " : "",
			 r[i].other ? strerror(r[i].first_err) : "");
		if (!r[i].got || r[i].ebusy || r[i].other)
			rc = 1;
		munmap(r[i].map, READERS_CHUNK);
	}
	if (rc)
		kbug_log("concurrent readers: expected both to wait for each other and get data");
	close(bfd);
	return rc;
}

static int dmabuf_fences(int dmabuf, char *driver, size_t len);

/*
 * SCHED_FIFO on CPU 0: a work item queued on that CPU (the IIO core's
 * iio_buffer_cleanup(), when the abort signals a fence) waits until we sleep.
 */
static void realtime_on_cpu0(void)
{
	struct sched_param sp = { .sched_priority = 50 };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		kbug_log("sched_setaffinity: %s (race less likely)", strerror(errno));
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		kbug_log("SCHED_FIFO: %s (race less likely)", strerror(errno));
}

/*
 * Attach @dmabuf to the buffer, stall iio-sim, enable the buffer and enqueue
 * the whole DMABUF: its block stays queued (the device takes none) until the
 * stall ends or the buffer is disabled.
 */
static void attach_enqueue_stalled(int bfd, int dmabuf)
{
	struct kbug_iio_dmabuf req = { .fd = (__u32)dmabuf, .bytes_used = BLOCK_BYTES };
	int err;

	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ATTACH_IOCTL, &dmabuf);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_ATTACH: %s", strerror(-err));
	dev_attr_write("sim_stall", "1");
	buffer_enable(1);
	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_ENQUEUE: %s", strerror(-err));
}

/* 0013: DETACH right after the buffer was disabled with a transfer in flight. */
static int test_detach_race(int rounds)
{
	static char buf[BLOCK_BYTES];
	struct kbug_iio_dmabuf req = { .bytes_used = BLOCK_BYTES };
	int bfd = buffer_fd();
	int failed = 0, round, err, status = 0, i;

	realtime_on_cpu0();
	for (round = 0; round < rounds; round++) {
		int dmabuf = kbug_dmabuf_alloc(BLOCK_BYTES);

		/* The transfer stays in flight until the buffer is disabled. */
		attach_enqueue_stalled(bfd, dmabuf);
		/* Aborts the transfer: its fence's cleanup is queued on this CPU. */
		buffer_enable(0);
		err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_DETACH_IOCTL, &dmabuf);
		if (err)
			kbug_die("IIO_BUFFER_DMABUF_DETACH: %s", strerror(-err));
		dev_attr_write("sim_stall", "0");
		buffer_enable(1);
		err = try_read_exact(bfd, buf, sizeof(buf));
		buffer_enable(0);
		if (err) {
			kbug_log("round %d: no fileio after STOP, DETACH, enable: %s", round,
				 strerror(err));
			failed++;
		} else if (check_from_start(buf, sizeof(buf), "fileio after STOP, DETACH")) {
			failed++;
		}
		close(dmabuf);
		/* Each round on its own: the cleanup work items of this one run now. */
		kbug_sleep_ms(50);
	}
	kbug_log("STOP, DETACH, enable: fileio failed in %d of %d rounds", failed, rounds);

	/*
	 * A transfer queued while the buffer is disabled outlives a DETACH: the
	 * buffer has to be enabled in DMABUF mode for it, and its fence signalled.
	 */
	{
		int dmabuf = kbug_dmabuf_alloc(BLOCK_BYTES);

		err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ATTACH_IOCTL, &dmabuf);
		if (err)
			kbug_die("IIO_BUFFER_DMABUF_ATTACH: %s", strerror(-err));
		req.fd = (__u32)dmabuf;
		err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req);
		if (err)
			kbug_die("IIO_BUFFER_DMABUF_ENQUEUE on the disabled buffer: %s",
				 strerror(-err));
		err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_DETACH_IOCTL, &dmabuf);
		if (err)
			kbug_die("IIO_BUFFER_DMABUF_DETACH: %s", strerror(-err));
		buffer_enable(1);
		for (i = 0; i < 50 && (status = dmabuf_fences(dmabuf, NULL, 0)) == 0; i++)
			kbug_sleep_ms(100);
		buffer_enable(0);
		kbug_log("transfer queued before DETACH: the DMABUF's fences read %d after %d ms",
			 status, i * 100);
		if (status != 1) {
			kbug_log("the transfer queued before DETACH did not complete");
			failed++;
		}
		close(dmabuf);
		/* Then fileio again. */
		buffer_enable(1);
		err = try_read_exact(bfd, buf, sizeof(buf));
		buffer_enable(0);
		if (err || check_from_start(buf, sizeof(buf), "fileio in the next session"))
			failed++;
	}
	close(bfd);
	return failed ? 1 : 0;
}

/* DMABUFs listed in /sys/kernel/debug/dma_buf/bufinfo (debugfs mounted). */
static int count_dmabufs(void)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	char line[256];
	int n = 0;

	if (!f)
		kbug_die("open bufinfo: %s (debugfs not mounted?)", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (line[0] >= '0' && line[0] <= '9')
			n++;
	fclose(f);
	return n;
}

static void show_bufinfo(void)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		printf("  bufinfo| %s", line);
	if (f)
		fclose(f);
}

/* Bug 7 (0014): DMABUF blocks still queued when the driver goes away. */
static int test_removed(void)
{
	int base = count_dmabufs();
	int bfd = buffer_fd();
	int dmabuf = kbug_dmabuf_alloc(BLOCK_BYTES);
	int late = kbug_dmabuf_alloc(BLOCK_BYTES);
	struct kbug_iio_dmabuf req = { .bytes_used = BLOCK_BYTES };
	int err, n = 0, i, rc = 0;

	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ATTACH_IOCTL, &dmabuf);
	if (!err)
		err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ATTACH_IOCTL, &late);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_ATTACH: %s", strerror(-err));
	req.fd = (__u32)dmabuf;
	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_ENQUEUE on the disabled buffer: %s", strerror(-err));
	kbug_log("DMABUF enqueued on the disabled buffer; unbinding iio-sim");
	kbug_must_write("/sys/bus/platform/drivers/iio-sim/unbind", "iio-sim");

	req.fd = (__u32)late;
	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req);
	kbug_log("ENQUEUE after the driver went away: %s", err ? strerror(-err) : "accepted");
	if (err != -ENODEV) {
		kbug_log("ENQUEUE after the driver went away: expected ENODEV");
		rc = 1;
	}

	close(late);
	close(dmabuf);
	close(bfd);
	close(devfd);
	devfd = -1;
	/* The IIO core drops the last references from a work item. */
	for (i = 0; i < 50 && (n = count_dmabufs()) > base; i++)
		kbug_sleep_ms(100);
	if (n > base) {
		kbug_log("DMABUF leak: %d DMABUF(s) still listed 5 s after every fd was closed", n - base);
		show_bufinfo();
		rc = 1;
	} else {
		kbug_log("every DMABUF released %d ms after the fds were closed", i * 100);
	}
	kbug_must_write("/sys/bus/platform/drivers/iio-sim/bind", "iio-sim");
	return rc;
}

/* Bug 10 (0016): non-blocking fileio read()s racing the device's removal. */
#define RACE_READERS 2

struct race_reader {
	pthread_t thread;
	int fd;
	volatile int *stop;
	unsigned long reads;
	int other; /* the first error other than EAGAIN and ENODEV */
	int done;  /* 1 once read() said ENODEV */
};

static void *race_read_loop(void *arg)
{
	struct race_reader *r = arg;
	/* More than the buffer holds: every read() that finds less flushes. */
	size_t len = 2 * LENGTH * SET_BYTES;
	char *buf = malloc(len);

	if (!buf) {
		r->other = ENOMEM;
		return NULL;
	}
	/*
	 * Until the device is gone. A read() that passed the IIO core's check
	 * before the unbind may fail otherwise (buffer-dma says EBUSY once its
	 * fileio blocks are freed); the next one must say ENODEV.
	 */
	while (!*r->stop) {
		ssize_t n = read(r->fd, buf, len);

		r->reads++;
		if (n >= 0 || errno == EAGAIN)
			continue;
		if (errno == ENODEV) {
			__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
			break;
		}
		if (!r->other)
			r->other = errno;
	}
	free(buf);
	return NULL;
}

static bool readers_done(const struct race_reader *readers, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!__atomic_load_n(&readers[i].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static int test_read_removed(int cycles)
{
	struct race_reader readers[RACE_READERS];
	volatile int stop;
	unsigned long reads = 0, others = 0;
	int c, i, w, rc = 0;

	for (c = 0; c < cycles && !rc; c++) {
		int bfd;

		if (c) {
			kbug_must_write("/sys/bus/platform/drivers/iio-sim/bind", "iio-sim");
			find_device("iio-sim-adc");
			setup_channels("in", CHANNELS, LENGTH);
		}
		bfd = buffer_fd();
		buffer_enable(1);
		stop = 0;
		for (i = 0; i < RACE_READERS; i++) {
			readers[i] = (struct race_reader){ .fd = bfd, .stop = &stop };
			if (pthread_create(&readers[i].thread, NULL, race_read_loop, &readers[i]))
				kbug_die("pthread_create failed");
		}
		/* Let the readers run for a varying while, then take the device away. */
		kbug_sleep_ms(1 + c % 7);
		kbug_must_write("/sys/bus/platform/drivers/iio-sim/unbind", "iio-sim");
		for (w = 0; w < 200 && !readers_done(readers, RACE_READERS); w++)
			kbug_sleep_ms(10);
		stop = 1;
		for (i = 0; i < RACE_READERS; i++) {
			pthread_join(readers[i].thread, NULL);
			reads += readers[i].reads;
			if (readers[i].other && !others++)
				kbug_log("cycle %d: reader %d: %s before ENODEV (logged once)", c, i,
					 strerror(readers[i].other));
			if (!readers[i].done) {
				kbug_log("cycle %d: reader %d: no ENODEV 2 s after the unbind", c, i);
				rc = 1;
			}
		}
		close(bfd);
		close(devfd);
		devfd = -1;
	}
	kbug_log("%d unbinds under %d non-blocking readers, %lu read() calls; %lu reader(s) saw"
		 " another error before ENODEV", c, RACE_READERS, reads, others);
	kbug_must_write("/sys/bus/platform/drivers/iio-sim/bind", "iio-sim");
	return rc;
}

/* Status of the DMABUF's fences now (1 all signalled, 0 one pending, <0 error). */
static int dmabuf_fences(int dmabuf, char *driver, size_t len)
{
	int sync = kbug_export_sync_file(dmabuf);
	int status = kbug_sync_file_status(sync, driver, len);

	close(sync);
	return status;
}

/* New bug (0015): an output DMABUF enqueued again while its block is still queued. */
static int test_requeue_out(void)
{
	int bfd = buffer_fd();
	int dmabuf = kbug_dmabuf_alloc(BLOCK_BYTES);
	struct kbug_iio_dmabuf req = { .bytes_used = BLOCK_BYTES };
	char driver[32] = "";
	int err, status, i, rc = 0;

	/* The DAC takes no block while it is stalled: the first one stays queued. */
	attach_enqueue_stalled(bfd, dmabuf);
	req.fd = (__u32)dmabuf;
	status = dmabuf_fences(dmabuf, driver, sizeof(driver));
	kbug_log("block queued to the stalled DAC: the DMABUF's fence reads %d (%s)", status,
		 driver);
	if (status != 0)
		kbug_die("the queued block's fence is not pending (%d)", status);

	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req);
	kbug_log("second ENQUEUE of the queued DMABUF: %s", err ? strerror(-err) : "accepted");
	if (err != -EBUSY) {
		kbug_log("second ENQUEUE: expected EBUSY");
		rc = 1;
	}
	status = dmabuf_fences(dmabuf, driver, sizeof(driver));
	kbug_log("after it, with the first block still queued, the DMABUF's fences read %d (%s)",
		 status, driver);
	if (status != 0) {
		kbug_log("fence lost: the reservation object reads as idle while the DAC holds the"
			 " block (the first fence was replaced, and freed)");
		rc = 1;
	}

	/* The DAC takes the block: its fence is signalled (freed memory without 0015). */
	dev_attr_write("sim_stall", "0");
	for (i = 0; i < 50 && (status = dmabuf_fences(dmabuf, NULL, 0)) == 0; i++)
		kbug_sleep_ms(100);
	kbug_log("the DAC consumed the block: the DMABUF's fences read %d after %d ms", status,
		 i * 100);
	if (status != 1) {
		kbug_log("expected the block's fence signalled without error");
		rc = 1;
	}
	buffer_enable(0);
	err = iio_ioctl(bfd, KBUG_IIO_BUFFER_DMABUF_DETACH_IOCTL, &dmabuf);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_DETACH: %s", strerror(-err));
	close(dmabuf);
	close(bfd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	const bool out = !strcmp(mode, "requeue-out");
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	find_device(out ? "iio-sim-dac" : "iio-sim-adc");
	setup_channels(out ? "out" : "in", CHANNELS, strcmp(mode, "readers") ? LENGTH : READERS_LENGTH);

	if (out)
		rc = test_requeue_out();
	else if (!strcmp(mode, "dmabuf-read"))
		rc = test_dmabuf_read();
	else if (!strcmp(mode, "reorder"))
		rc = test_reorder();
	else if (!strcmp(mode, "lockorder"))
		rc = test_lockorder();
	else if (!strcmp(mode, "removed"))
		rc = test_removed();
	else if (!strcmp(mode, "readers"))
		rc = test_readers();
	else if (!strcmp(mode, "detach-race"))
		rc = test_detach_race(argc > 2 ? atoi(argv[2]) : 20);
	else if (!strcmp(mode, "read-removed"))
		rc = test_read_removed(argc > 2 ? atoi(argv[2]) : 100);
	else {
		fprintf(stderr, "usage: kbug_iio dmabuf-read|reorder|lockorder|readers|"
			"detach-race [N]|removed|requeue-out|read-removed [N]\n");
		return 2;
	}
	kbug_log("%s: %s", mode, rc ? "FAIL" : "PASS");
	return rc;
}
