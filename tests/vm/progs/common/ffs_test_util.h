/*
 * Helpers for the FunctionFS test gadgets in tests/vm/progs: descriptors for
 * one vendor interface with a bulk IN and a bulk OUT endpoint (full, high and
 * SuperSpeed), ep0 events, DMABUFs from the system dma-heap, the FunctionFS
 * DMABUF ioctls and sync_file fence status.
 *
 * Header-only: every guest program is built from its own .c file.
 */
#ifndef IIOUSB_FFS_TEST_UTIL_H
#define IIOUSB_FFS_TEST_UTIL_H

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "dmabuf_alloc.h"

/*
 * FunctionFS DMABUF interface, added in Linux 6.9 (include/uapi/linux/usb/
 * functionfs.h); the build host's uapi headers may predate it.
 */
#ifndef FUNCTIONFS_DMABUF_ATTACH
struct usb_ffs_dmabuf_transfer_req {
    int fd;
    __u32 flags;
    __u64 length;
} __attribute__((packed));
#define FUNCTIONFS_DMABUF_ATTACH _IOW('g', 131, int)
#define FUNCTIONFS_DMABUF_DETACH _IOW('g', 132, int)
#define FUNCTIONFS_DMABUF_TRANSFER _IOW('g', 133, struct usb_ffs_dmabuf_transfer_req)
#endif

/* The test gadget's USB identity; the scenarios create it with these IDs. */
#define TEST_VID 0x1d6b
#define TEST_PID 0x0104

/* ---- logging ----------------------------------------------------------- */

static const char *test_prog = "test";

static inline double test_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double test_cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 1, 2))) static inline void tlog(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", test_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- FunctionFS descriptors and ep0 ------------------------------------ */

#define TEST_EP_IN_ADDR (1 | USB_DIR_IN)
#define TEST_EP_OUT_ADDR (2 | USB_DIR_OUT)

struct ffs_test_intf {
    struct usb_interface_descriptor intf;
    struct usb_endpoint_descriptor_no_audio in;
    struct usb_endpoint_descriptor_no_audio out;
} __attribute__((packed));

struct ffs_test_ss_intf {
    struct usb_interface_descriptor intf;
    struct usb_endpoint_descriptor_no_audio in;
    struct usb_ss_ep_comp_descriptor in_comp;
    struct usb_endpoint_descriptor_no_audio out;
    struct usb_ss_ep_comp_descriptor out_comp;
} __attribute__((packed));

struct ffs_test_descs {
    struct usb_functionfs_descs_head_v2 header;
    __le32 fs_count;
    __le32 hs_count;
    __le32 ss_count;
    struct ffs_test_intf fs;
    struct ffs_test_intf hs;
    struct ffs_test_ss_intf ss;
} __attribute__((packed));

#define FFS_TEST_STRING "iiousb test"

/* Room for one interface string of up to 31 bytes; only the used part is written. */
struct ffs_test_strings {
    struct usb_functionfs_strings_head head;
    __le16 lang;
    char str[32];
} __attribute__((packed));

static inline struct usb_interface_descriptor ffs_test_intf_desc(uint8_t subclass, uint8_t protocol)
{
    struct usb_interface_descriptor d = {
            .bLength = sizeof(d),
            .bDescriptorType = USB_DT_INTERFACE,
            .bInterfaceNumber = 0,
            .bNumEndpoints = 2,
            .bInterfaceClass = USB_CLASS_VENDOR_SPEC,
            .bInterfaceSubClass = subclass,
            .bInterfaceProtocol = protocol,
            .iInterface = 1,
    };
    return d;
}

static inline struct usb_endpoint_descriptor_no_audio ffs_test_ep_desc(uint8_t addr, uint16_t mps)
{
    struct usb_endpoint_descriptor_no_audio d = {
            .bLength = sizeof(d),
            .bDescriptorType = USB_DT_ENDPOINT,
            .bEndpointAddress = addr,
            .bmAttributes = USB_ENDPOINT_XFER_BULK,
            .wMaxPacketSize = htole16(mps),
    };
    return d;
}

static inline struct usb_ss_ep_comp_descriptor ffs_test_ss_comp(void)
{
    struct usb_ss_ep_comp_descriptor d = {
            .bLength = sizeof(d),
            .bDescriptorType = USB_DT_SS_ENDPOINT_COMP,
            .bMaxBurst = 15,
    };
    return d;
}

/*
 * Write descriptors and strings to ep0: one vendor interface (class 0xff, the given
 * subclass and protocol, interface string NAME), ep1 = bulk IN, ep2 = bulk OUT (the
 * files FFS_DIR/ep1 and FFS_DIR/ep2). Returns 0 or -errno.
 */
static inline int ffs_test_write_descriptors_as(int ep0, uint8_t subclass, uint8_t protocol,
                                                const char *name)
{
    struct ffs_test_descs d;
    struct ffs_test_strings s;
    size_t name_size = strlen(name) + 1;
    size_t strings_size = offsetof(struct ffs_test_strings, str) + name_size;

    if (name_size > sizeof(s.str))
        return -EINVAL;

    memset(&d, 0, sizeof(d));
    d.header.magic = htole32(FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
    d.header.length = htole32(sizeof(d));
    d.header.flags =
            htole32(FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC | FUNCTIONFS_HAS_SS_DESC);
    d.fs_count = htole32(3);
    d.hs_count = htole32(3);
    d.ss_count = htole32(5);
    d.fs.intf = ffs_test_intf_desc(subclass, protocol);
    d.fs.in = ffs_test_ep_desc(TEST_EP_IN_ADDR, 64);
    d.fs.out = ffs_test_ep_desc(TEST_EP_OUT_ADDR, 64);
    d.hs.intf = ffs_test_intf_desc(subclass, protocol);
    d.hs.in = ffs_test_ep_desc(TEST_EP_IN_ADDR, 512);
    d.hs.out = ffs_test_ep_desc(TEST_EP_OUT_ADDR, 512);
    d.ss.intf = ffs_test_intf_desc(subclass, protocol);
    d.ss.in = ffs_test_ep_desc(TEST_EP_IN_ADDR, 1024);
    d.ss.in_comp = ffs_test_ss_comp();
    d.ss.out = ffs_test_ep_desc(TEST_EP_OUT_ADDR, 1024);
    d.ss.out_comp = ffs_test_ss_comp();

    memset(&s, 0, sizeof(s));
    s.head.magic = htole32(FUNCTIONFS_STRINGS_MAGIC);
    s.head.length = htole32(strings_size);
    s.head.str_count = htole32(1);
    s.head.lang_count = htole32(1);
    s.lang = htole16(0x0409);
    memcpy(s.str, name, name_size);

    if (write(ep0, &d, sizeof(d)) != (ssize_t)sizeof(d))
        return -errno;
    if (write(ep0, &s, strings_size) != (ssize_t)strings_size)
        return -errno;
    return 0;
}

/* The test gadget's interface: vendor class, subclass and protocol 0. */
static inline int ffs_test_write_descriptors(int ep0)
{
    return ffs_test_write_descriptors_as(ep0, 0, 0, FFS_TEST_STRING);
}

/* Open FFS_DIR/NAME with the given flags (O_CLOEXEC added). Returns fd or -errno. */
static inline int ffs_test_open(const char *dir, const char *name, int flags)
{
    char path[512];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, flags | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Create (or truncate) a file: tells the scenario script that a step is done. */
static inline void test_touch(const char *path)
{
    int fd;

    if (!path)
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
}

static inline const char *ffs_event_name(int type)
{
    switch (type) {
    case FUNCTIONFS_BIND:
        return "BIND";
    case FUNCTIONFS_UNBIND:
        return "UNBIND";
    case FUNCTIONFS_ENABLE:
        return "ENABLE";
    case FUNCTIONFS_DISABLE:
        return "DISABLE";
    case FUNCTIONFS_SETUP:
        return "SETUP";
    case FUNCTIONFS_SUSPEND:
        return "SUSPEND";
    case FUNCTIONFS_RESUME:
        return "RESUME";
    default:
        return "?";
    }
}

/* Wait up to timeout_ms for fd to report one of events. 1 ready, 0 timeout, -errno. */
static inline int test_poll(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int ret;

    do {
        ret = poll(&pfd, 1, timeout_ms);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0)
        return -errno;
    return ret > 0 && (pfd.revents & events) ? 1 : 0;
}

/* Read one ep0 event, waiting up to timeout_ms. 1 read, 0 timeout, -errno. */
static inline int ffs_test_read_event(int ep0, struct usb_functionfs_event *ev, int timeout_ms)
{
    int ret = test_poll(ep0, POLLIN, timeout_ms);

    if (ret <= 0)
        return ret;
    if (read(ep0, ev, sizeof(*ev)) != (ssize_t)sizeof(*ev))
        return -errno;
    return 1;
}

/*
 * Refuse a control request that the test does not handle: FunctionFS stalls
 * ep0 when user space reads (IN requests) or writes (OUT requests) against
 * the direction of the data stage.
 */
static inline void ffs_test_stall(int ep0, const struct usb_ctrlrequest *setup)
{
    ssize_t ret;

    if (setup->bRequestType & USB_DIR_IN)
        ret = read(ep0, NULL, 0);
    else
        ret = write(ep0, NULL, 0);
    (void)ret;
}

/* Wait until the host has configured the function (FUNCTIONFS_ENABLE). */
static inline int ffs_test_wait_enable(int ep0, int timeout_ms)
{
    double end = test_now() + timeout_ms / 1000.0;

    for (;;) {
        struct usb_functionfs_event ev;
        int left = (int)((end - test_now()) * 1000);
        int ret;

        if (left <= 0)
            return -ETIMEDOUT;
        ret = ffs_test_read_event(ep0, &ev, left);
        if (ret < 0)
            return ret;
        if (!ret)
            return -ETIMEDOUT;
        tlog("ep0 event %s", ffs_event_name(ev.type));
        if (ev.type == FUNCTIONFS_ENABLE)
            return 0;
        if (ev.type == FUNCTIONFS_SETUP)
            ffs_test_stall(ep0, &ev.u.setup);
    }
}

/* ---- DMABUFs, FunctionFS DMABUF ioctls, fences ------------------------- */

struct test_dmabuf {
    int fd;
    size_t size;
    uint8_t *map;
};

/* Allocate size bytes from the allocator heap_fd (test_dmabuf_allocator_open(): the system
 * dma-heap, or /dev/udmabuf) and mmap them. 0 or -errno. */
static inline int test_dmabuf_alloc(int heap_fd, size_t size, struct test_dmabuf *b)
{
    int fd = test_dmabuf_create(heap_fd, size);
    void *map;

    if (fd < 0)
        return fd;
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int err = -errno;

        close(fd);
        return err;
    }
    b->fd = fd;
    b->size = size;
    b->map = map;
    return 0;
}

static inline void test_dmabuf_free(struct test_dmabuf *b)
{
    if (b->map)
        munmap(b->map, b->size);
    if (b->fd >= 0)
        close(b->fd);
    b->map = NULL;
    b->fd = -1;
}

/* DMA_BUF_IOCTL_SYNC: bracket CPU access (DMA_BUF_SYNC_START/END | READ/WRITE). */
static inline int test_dmabuf_cpu_sync(int fd, uint64_t flags)
{
    struct dma_buf_sync sync = {.flags = flags};
    int ret;

    do {
        ret = ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
    } while (ret < 0 && (errno == EINTR || errno == EAGAIN));
    return ret < 0 ? -errno : 0;
}

static inline int ffs_dmabuf_attach(int ep, int dmabuf_fd)
{
    return ioctl(ep, FUNCTIONFS_DMABUF_ATTACH, &dmabuf_fd) < 0 ? -errno : 0;
}

static inline int ffs_dmabuf_detach(int ep, int dmabuf_fd)
{
    return ioctl(ep, FUNCTIONFS_DMABUF_DETACH, &dmabuf_fd) < 0 ? -errno : 0;
}

static inline int ffs_dmabuf_transfer(int ep, int dmabuf_fd, uint64_t length, uint32_t flags)
{
    struct usb_ffs_dmabuf_transfer_req req = {
            .fd = dmabuf_fd,
            .flags = flags,
            .length = length,
    };

    return ioctl(ep, FUNCTIONFS_DMABUF_TRANSFER, &req) < 0 ? -errno : 0;
}

/*
 * Export the DMABUF's fences as a sync_file, right after queueing a transfer
 * (DMA_BUF_IOCTL_EXPORT_SYNC_FILE, Linux 6.0). DMA_BUF_SYNC_WRITE asks for
 * every fence: a FunctionFS IN transfer adds a READ fence, which a
 * DMA_BUF_SYNC_READ export skips (it returns an already signalled stub).
 * Exporting after the fence signalled also returns a stub, whose status
 * hides a failed transfer. Returns the sync_file fd or -errno.
 */
static inline int test_export_sync_file(int dmabuf_fd)
{
    struct dma_buf_export_sync_file exp = {.flags = DMA_BUF_SYNC_WRITE, .fd = -1};

    if (ioctl(dmabuf_fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &exp) < 0)
        return -errno;
    return exp.fd;
}

/*
 * Status of a sync_file from SYNC_IOC_FILE_INFO, fence by fence (the merged
 * status of a multi-fence sync_file is not reliable): the first fence error
 * (<0), else 0 while any fence is pending, else 1. Stores the number of fences
 * in *num if num is not NULL; statuses of up to max_st fences in st[].
 *
 * Linux 6.12: a FunctionFS fence's lock is freed with its DMABUF attachment,
 * so only call this (and close the sync_file) while the DMABUF is attached.
 */
static inline int test_sync_file_status(int sync_fd, unsigned int *num, int *st,
                                        unsigned int max_st)
{
    struct sync_file_info info;
    struct sync_fence_info fences[16];
    int status = 1;

    memset(&info, 0, sizeof(info));
    if (ioctl(sync_fd, SYNC_IOC_FILE_INFO, &info) < 0)
        return -errno;
    if (info.num_fences > 16)
        return -E2BIG;
    if (num)
        *num = info.num_fences;
    memset(fences, 0, sizeof(fences));
    info.sync_fence_info = (uintptr_t)fences;
    if (ioctl(sync_fd, SYNC_IOC_FILE_INFO, &info) < 0)
        return -errno;
    for (unsigned int i = 0; i < info.num_fences; i++) {
        if (st && i < max_st)
            st[i] = fences[i].status;
        if (fences[i].status < 0 && status >= 0)
            status = fences[i].status;
        else if (fences[i].status == 0 && status > 0)
            status = 0;
    }
    return status;
}

#endif /* IIOUSB_FFS_TEST_UTIL_H */
