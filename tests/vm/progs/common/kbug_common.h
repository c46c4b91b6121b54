/*
 * Shared bits of the kbug_* guest programs, which reproduce the kernel bugs
 * fixed by kernel-patches/linux-6.12/00[12]*.patch (issue 6): the DMABUF
 * uapi that Debian's 6.1 userspace headers lack, and small helpers.
 */
#ifndef KBUG_COMMON_H
#define KBUG_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/types.h>
#include <sys/ioctl.h>

#include "dmabuf_alloc.h"

/* include/uapi/linux/usb/functionfs.h, Linux 6.9 */
struct kbug_ffs_dmabuf_transfer_req {
	int fd;
	__u32 flags;
	__u64 length;
} __attribute__((packed));
#define KBUG_FUNCTIONFS_DMABUF_ATTACH _IOW('g', 131, int)
#define KBUG_FUNCTIONFS_DMABUF_DETACH _IOW('g', 132, int)
#define KBUG_FUNCTIONFS_DMABUF_TRANSFER _IOW('g', 133, struct kbug_ffs_dmabuf_transfer_req)

/* include/uapi/linux/iio/buffer.h, Linux 6.11 */
struct kbug_iio_dmabuf {
	__u32 fd;
	__u32 flags;
	__u64 bytes_used;
};
#define KBUG_IIO_BUFFER_GET_FD_IOCTL _IOWR('i', 0x91, int)
#define KBUG_IIO_BUFFER_DMABUF_ATTACH_IOCTL _IOW('i', 0x92, int)
#define KBUG_IIO_BUFFER_DMABUF_DETACH_IOCTL _IOW('i', 0x93, int)
#define KBUG_IIO_BUFFER_DMABUF_ENQUEUE_IOCTL _IOW('i', 0x94, struct kbug_iio_dmabuf)

static inline void kbug_log(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("[%5ld.%03ld] ", (long)ts.tv_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

#define kbug_die(...)					\
	do {						\
		kbug_log("FAIL: " __VA_ARGS__);		\
		exit(1);				\
	} while (0)

/* Writes a string to a sysfs or configfs file; returns 0 or -errno. */
static inline int kbug_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

static inline void kbug_must_write(const char *path, const char *val)
{
	int err = kbug_write_file(path, val);

	if (err)
		kbug_die("write '%s' to %s: %s", val, path, strerror(-err));
}

/* Reads the first line of a file into buf (without the newline). */
static inline int kbug_read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* A DMABUF of len bytes from the system dma-heap (udmabuf on kernels without dma-heaps). */
static inline int kbug_dmabuf_alloc(size_t len)
{
	int heap = test_dmabuf_allocator_open();
	int fd;

	if (heap < 0)
		kbug_die("open %s: %s", test_dmabuf_allocator_name(), strerror(errno));
	fd = test_dmabuf_create(heap, len);
	if (fd < 0)
		kbug_die("allocating %zu bytes from %s: %s", len, test_dmabuf_allocator_name(),
			 strerror(-fd));
	close(heap);
	return fd;
}

/* sync_file of the DMABUF's current fences (DMA_BUF_SYNC_WRITE: all of them). */
static inline int kbug_export_sync_file(int dmabuf)
{
	struct dma_buf_export_sync_file req = {.flags = DMA_BUF_SYNC_WRITE, .fd = -1};

	if (ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &req))
		kbug_die("DMA_BUF_IOCTL_EXPORT_SYNC_FILE: %s", strerror(errno));
	return req.fd;
}

/*
 * Adds the sync_file's fence to the DMABUF's reservation object (flags:
 * DMA_BUF_SYNC_READ or _WRITE, the usage it gets). Takes the reservation lock.
 */
static inline int kbug_import_sync_file(int dmabuf, int sync_file, __u32 flags)
{
	struct dma_buf_import_sync_file req = {.flags = flags, .fd = sync_file};

	return ioctl(dmabuf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &req) ? -errno : 0;
}

/* Status of a sync_file with one fence: 1 signalled, 0 pending, <0 error. */
static inline int kbug_sync_file_status(int sync_file, char *driver, size_t len)
{
	struct sync_fence_info fence;
	struct sync_file_info info;

	memset(&fence, 0, sizeof(fence));
	memset(&info, 0, sizeof(info));
	info.num_fences = 1;
	info.sync_fence_info = (uintptr_t)&fence;
	if (ioctl(sync_file, SYNC_IOC_FILE_INFO, &info))
		kbug_die("SYNC_IOC_FILE_INFO: %s", strerror(errno));
	if (driver)
		snprintf(driver, len, "%s", fence.driver_name);
	return fence.status;
}

static inline void kbug_sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* CLOCK_MONOTONIC in milliseconds. */
static inline long long kbug_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif /* KBUG_COMMON_H */
