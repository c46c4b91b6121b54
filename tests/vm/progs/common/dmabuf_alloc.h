/*
 * DMABUF allocation for the guest programs: from /dev/dma_heap/system, or, on a kernel
 * without dma-heaps (Debian's arm64 and armhf kernels: CONFIG_DMABUF_HEAPS is off), from
 * /dev/udmabuf over a sealed memfd, as iiousbd does (daemon/dmabuf/DmaBuf.cpp).
 *
 *   int alloc = test_dmabuf_allocator_open();   // the heap, else /dev/udmabuf; -1, errno
 *   int fd = test_dmabuf_create(alloc, size);   // a DMABUF of size bytes, or -errno
 *
 * udmabuf needs a size that is a multiple of the page size.
 */
#ifndef IIOUSB_TEST_DMABUF_ALLOC_H
#define IIOUSB_TEST_DMABUF_ALLOC_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#define TEST_DMA_HEAP "/dev/dma_heap/system"
#define TEST_UDMABUF "/dev/udmabuf"

/* The allocator: an fd of the system dma-heap, or of /dev/udmabuf if there is no such heap. */
static inline int test_dmabuf_allocator_open(void)
{
	int fd = open(TEST_DMA_HEAP, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	return open(TEST_UDMABUF, O_RDWR | O_CLOEXEC);
}

/* The name of the allocator test_dmabuf_allocator_open() would pick, for messages. */
static inline const char *test_dmabuf_allocator_name(void)
{
	return access(TEST_DMA_HEAP, F_OK) == 0 ? TEST_DMA_HEAP : TEST_UDMABUF;
}

/* /dev/udmabuf is a misc device (major 10); dma-heaps have a character major of their own. */
static inline int test_dmabuf_allocator_is_udmabuf(int alloc_fd)
{
	struct stat st;

	return fstat(alloc_fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10;
}

/* A new DMABUF of size bytes from the allocator alloc_fd; its fd, or -errno. */
static inline int test_dmabuf_create(int alloc_fd, size_t size)
{
	if (test_dmabuf_allocator_is_udmabuf(alloc_fd)) {
		struct udmabuf_create create = { 0 };
		int memfd, fd, err;

		memfd = memfd_create("iiousb-test-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (memfd < 0)
			return -errno;
		if (ftruncate(memfd, (off_t)size) < 0 || fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
			err = -errno;
			close(memfd);
			return err;
		}
		create.memfd = (uint32_t)memfd;
		create.flags = UDMABUF_FLAGS_CLOEXEC;
		create.offset = 0;
		create.size = size;
		fd = ioctl(alloc_fd, UDMABUF_CREATE, &create);
		err = fd < 0 ? -errno : fd;
		close(memfd); /* the udmabuf holds the memfd's pages */
		return err;
	} else {
		struct dma_heap_allocation_data alloc = {
			.len = size,
			.fd_flags = O_RDWR | O_CLOEXEC,
		};

		if (ioctl(alloc_fd, DMA_HEAP_IOCTL_ALLOC, &alloc) < 0)
			return -errno;
		return (int)alloc.fd;
	}
}

#endif /* IIOUSB_TEST_DMABUF_ALLOC_H */
