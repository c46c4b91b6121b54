/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The IIO DMABUF interface of include/uapi/linux/iio/buffer.h, Linux 6.11 and
 * later, for guest programs built against older libc headers (Debian
 * bookworm's are 6.1).
 */
#ifndef IIO_DMABUF_UAPI_H
#define IIO_DMABUF_UAPI_H

#include <linux/iio/buffer.h>
#include <linux/types.h>
#include <sys/ioctl.h>

#ifndef IIO_BUFFER_DMABUF_ATTACH_IOCTL
#define IIO_BUFFER_DMABUF_CYCLIC (1 << 0)
struct iio_dmabuf {
	__u32 fd;
	__u32 flags;
	__u64 bytes_used;
};
#define IIO_BUFFER_DMABUF_ATTACH_IOCTL _IOW('i', 0x92, int)
#define IIO_BUFFER_DMABUF_DETACH_IOCTL _IOW('i', 0x93, int)
#define IIO_BUFFER_DMABUF_ENQUEUE_IOCTL _IOW('i', 0x94, struct iio_dmabuf)
#endif
#ifndef IIO_BUFFER_DMABUF_SYNC_FILE
/* kernel-patches 0017: the ENQUEUE returns the transfer's fence as a sync_file */
#define IIO_BUFFER_DMABUF_SYNC_FILE (1 << 1)
#endif

#endif /* IIO_DMABUF_UAPI_H */
