/*
 * kbug_ffs: reproducers for the FunctionFS DMABUF bugs of Linux 6.12 that
 * kernel-patches/linux-6.12/002*.patch fix.
 *
 *   kbug_ffs unbind   FUNCTIONFS_DMABUF_DETACH and _TRANSFER after the UDC was
 *                     unbound: ffs->gadget is NULL by then (oops without 0022;
 *                     with it both fail with ENODEV, and close() releases the
 *                     attachment).
 *   kbug_ffs fence    SYNC_IOC_FILE_INFO on a sync_file of an FFS transfer after
 *                     DETACH and after closing the endpoint: the fence's lock
 *                     was the freed attachment's (use-after-free without 0021,
 *                     seen by KASAN on the debug kernel).
 *   kbug_ffs contend  a blocking transfer on ep2 waits for a write fence with
 *                     the DMABUF's reservation lock held while another task
 *                     queues on that lock; the fence is then signalled, and
 *                     ffs_dmabuf_transfer() releases the lock to the waiter
 *                     (lockdep "SOFTIRQ-safe -> SOFTIRQ-unsafe" on the debug
 *                     kernel without 0020, every time).
 *   kbug_ffs abort [N] N rounds (default 500) of attach/transfer/abort (DETACH
 *                     or close) on two endpoints at once with the same DMABUF:
 *                     the same path under load; the lock has a waiter at the
 *                     wrong moment only now and then.
 *   kbug_ffs double   a second transfer of one DMABUF while its first is in
 *                     flight on the endpoint must get EBUSY (0027); then the
 *                     UDC is unbound, which must end the first with
 *                     ESHUTDOWN. Without 0027 the second is accepted and
 *                     replaces the first fence in the reservation object,
 *                     which frees it ("refcount_t: addition on 0" at the
 *                     unbind without 0023 as well).
 *   kbug_ffs double-detach  the same, with a sync_file holding the first
 *                     transfer's fence (so it cannot be freed), then DETACH:
 *                     it must cancel the first transfer (ECONNRESET). Without
 *                     0027 the second is accepted, and DETACH cancels only the
 *                     attachment's latest request: the first stays queued,
 *                     its fence pending, after DETACH returned.
 *   kbug_ffs chain [N] USB_FFS_DMABUF_TRANSFER_AFTER_FENCES (0028) behind the
 *                     fence of a DMABUF enqueued on iio-sim's ADC, held back
 *                     with sim_stall: the transfer is queued once the IIO
 *                     block completes (DETACH then dequeues it: ECONNRESET),
 *                     DETACH and close cancel it before (ECANCELED), the IIO
 *                     block's error fails it, an unbind before the IIO block
 *                     completes fails it (ESHUTDOWN); then N rounds (default
 *                     200) of the IIO completion racing DETACH or close, and
 *                     N/20 of it racing an unbind.
 *                     Needs iio-sim.
 *
 * The program sets up a configfs gadget with one FunctionFS function (two bulk
 * IN endpoints), binds it to the first UDC and waits for the host side of
 * dummy_hcd to configure it. Nobody reads the endpoints on the host, so
 * transfers stay pending until they are aborted. Exit status 0 when the kernel
 * behaved as fixed, 1 otherwise.
 */
#include <dirent.h>
#include <asm/byteorder.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

#include "kbug_common.h"
#include "kbug_iio_dev.h"

#define GADGET "/sys/kernel/config/usb_gadget/kbug"
#define FFS_MOUNT "/tmp/kbug-ffs"
#define DMABUF_SIZE (64 * 1024)

static char udc_name[256];
static int ep0 = -1;

struct ep_descs {
	struct usb_endpoint_descriptor_no_audio ep;
	struct usb_ss_ep_comp_descriptor comp;
} __attribute__((packed));

static const struct {
	struct usb_functionfs_descs_head_v2 header;
	__le32 fs_count, hs_count, ss_count;
	struct {
		struct usb_interface_descriptor intf;
		struct usb_endpoint_descriptor_no_audio ep1, ep2;
	} __attribute__((packed)) fs, hs;
	struct {
		struct usb_interface_descriptor intf;
		struct ep_descs ep1, ep2;
	} __attribute__((packed)) ss;
} __attribute__((packed)) descriptors = {
	.header = {
		.magic = __cpu_to_le32(FUNCTIONFS_DESCRIPTORS_MAGIC_V2),
		.flags = __cpu_to_le32(FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC |
				 FUNCTIONFS_HAS_SS_DESC),
		.length = __cpu_to_le32(sizeof(descriptors)),
	},
	.fs_count = __cpu_to_le32(3),
	.hs_count = __cpu_to_le32(3),
	.ss_count = __cpu_to_le32(5),
#define INTF { .bLength = sizeof(struct usb_interface_descriptor), \
	       .bDescriptorType = USB_DT_INTERFACE, .bNumEndpoints = 2, \
	       .bInterfaceClass = USB_CLASS_VENDOR_SPEC, .iInterface = 1 }
#define EP(addr, size) { .bLength = sizeof(struct usb_endpoint_descriptor_no_audio), \
			 .bDescriptorType = USB_DT_ENDPOINT, .bEndpointAddress = (addr), \
			 .bmAttributes = USB_ENDPOINT_XFER_BULK, .wMaxPacketSize = __cpu_to_le16(size) }
#define COMP { .bLength = sizeof(struct usb_ss_ep_comp_descriptor), \
	       .bDescriptorType = USB_DT_SS_ENDPOINT_COMP }
	.fs = { INTF, EP(1 | USB_DIR_IN, 64), EP(2 | USB_DIR_IN, 64) },
	.hs = { INTF, EP(1 | USB_DIR_IN, 512), EP(2 | USB_DIR_IN, 512) },
	.ss = { INTF, { EP(1 | USB_DIR_IN, 1024), COMP }, { EP(2 | USB_DIR_IN, 1024), COMP } },
};

#define STR "kbug"
static const struct {
	struct usb_functionfs_strings_head header;
	struct {
		__le16 code;
		const char str1[sizeof(STR)];
	} __attribute__((packed)) lang0;
} __attribute__((packed)) strings = {
	.header = {
		.magic = __cpu_to_le32(FUNCTIONFS_STRINGS_MAGIC),
		.length = __cpu_to_le32(sizeof(strings)),
		.str_count = __cpu_to_le32(1),
		.lang_count = __cpu_to_le32(1),
	},
	.lang0 = { __cpu_to_le16(0x0409), STR },
};

static void mkdir_p(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		kbug_die("mkdir %s: %s", path, strerror(errno));
}

static void first_udc(void)
{
	DIR *d = opendir("/sys/class/udc");
	struct dirent *e;

	if (!d)
		kbug_die("no /sys/class/udc: %s", strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(udc_name, sizeof(udc_name), "%s", e->d_name);
			break;
		}
	closedir(d);
	if (!udc_name[0])
		kbug_die("no UDC in /sys/class/udc");
}

static void gadget_create(void)
{
	mkdir_p(GADGET);
	kbug_must_write(GADGET "/idVendor", "0x1d6b");
	kbug_must_write(GADGET "/idProduct", "0x0104");
	mkdir_p(GADGET "/strings/0x409");
	kbug_must_write(GADGET "/strings/0x409/product", "kbug FunctionFS DMABUF");
	mkdir_p(GADGET "/configs/c.1");
	mkdir_p(GADGET "/functions/ffs.kbug");
	if (symlink(GADGET "/functions/ffs.kbug", GADGET "/configs/c.1/ffs.kbug") && errno != EEXIST)
		kbug_die("symlink ffs.kbug: %s", strerror(errno));
	mkdir_p(FFS_MOUNT);
	if (mount("kbug", FFS_MOUNT, "functionfs", 0, NULL))
		kbug_die("mount functionfs: %s", strerror(errno));

	ep0 = open(FFS_MOUNT "/ep0", O_RDWR | O_CLOEXEC);
	if (ep0 < 0)
		kbug_die("open ep0: %s", strerror(errno));
	if (write(ep0, &descriptors, sizeof(descriptors)) != sizeof(descriptors))
		kbug_die("write descriptors: %s", strerror(errno));
	if (write(ep0, &strings, sizeof(strings)) != sizeof(strings))
		kbug_die("write strings: %s", strerror(errno));
}

/* Waits until ep0 reports the event type (ENABLE once the host configured us). */
static void wait_event(int type)
{
	struct usb_functionfs_event ev;
	struct pollfd pfd = { .fd = ep0, .events = POLLIN };
	int waited = 0;

	for (;;) {
		int r = poll(&pfd, 1, 1000);

		if (r < 0)
			kbug_die("poll ep0: %s", strerror(errno));
		if (!r) {
			if (++waited == 20)
				kbug_die("no FunctionFS event %d within 20 s", type);
			continue;
		}
		if (read(ep0, &ev, sizeof(ev)) != sizeof(ev))
			kbug_die("read ep0: %s", strerror(errno));
		kbug_log("ep0 event %d", ev.type);
		if (ev.type == type)
			return;
	}
}

static void udc_bind(void)
{
	kbug_must_write(GADGET "/UDC", udc_name);
	wait_event(FUNCTIONFS_ENABLE);
	kbug_log("gadget bound to %s and configured", udc_name);
}

static void udc_unbind(void)
{
	kbug_must_write(GADGET "/UDC", "\n");
	kbug_log("gadget unbound from %s", udc_name);
}

static int ep_open(int n)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), FFS_MOUNT "/ep%d", n);
	/*
	 * Not O_NONBLOCK here: open() then fails with EAGAIN while ffs->mutex
	 * is taken (6.12.117 takes it in ffs_epfile_open()).
	 */
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		kbug_die("open %s: %s", path, strerror(errno));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		kbug_die("O_NONBLOCK on %s: %s", path, strerror(errno));
	return fd;
}

static int ffs_ioctl(int ep, unsigned long req, void *arg)
{
	return ioctl(ep, req, arg) ? -errno : 0;
}

static void attach(int ep, int dmabuf)
{
	int err, tries = 0;

	/* EBUSY: the reservation lock is taken (trylock on O_NONBLOCK files). */
	while ((err = ffs_ioctl(ep, KBUG_FUNCTIONFS_DMABUF_ATTACH, &dmabuf)) == -EBUSY &&
	       ++tries < 1000)
		kbug_sleep_ms(1);

	if (err)
		kbug_die("FUNCTIONFS_DMABUF_ATTACH: %s (dummy_hcd without SG support?)",
			 strerror(-err));
}

static int transfer(int ep, int dmabuf)
{
	struct kbug_ffs_dmabuf_transfer_req req = { .fd = dmabuf, .length = DMABUF_SIZE };

	return ffs_ioctl(ep, KBUG_FUNCTIONFS_DMABUF_TRANSFER, &req);
}

static int detach(int ep, int dmabuf)
{
	return ffs_ioctl(ep, KBUG_FUNCTIONFS_DMABUF_DETACH, &dmabuf);
}

#define KBUG_FFS_TRANSFER_SYNC_FILE 0x2
#define KBUG_FFS_TRANSFER_AFTER_FENCES 0x4

/* A transfer queued behind the DMABUF's fences: its sync_file, or -errno. */
static int transfer_after(int ep, int dmabuf)
{
	struct kbug_ffs_dmabuf_transfer_req req = {
		.fd = dmabuf,
		.length = DMABUF_SIZE,
		.flags = KBUG_FFS_TRANSFER_SYNC_FILE | KBUG_FFS_TRANSFER_AFTER_FENCES,
	};
	int r = ioctl(ep, KBUG_FUNCTIONFS_DMABUF_TRANSFER, &req);

	return r < 0 ? -errno : r;
}

/* The sync_file's status once it is not pending, or 0 after @ms. */
static int wait_status(int sf, int ms)
{
	int status;

	while ((status = kbug_sync_file_status(sf, NULL, 0)) == 0 && ms > 0) {
		kbug_sleep_ms(10);
		ms -= 10;
	}
	return status;
}

/* Bug 6: DETACH and TRANSFER after the UDC was unbound. */
static int test_unbind(void)
{
	int dmabuf = kbug_dmabuf_alloc(DMABUF_SIZE);
	int ep1 = ep_open(1);
	int err;

	attach(ep1, dmabuf);
	udc_unbind();

	/* 0022: both fail with ENODEV; the attachment goes with close(). */
	err = detach(ep1, dmabuf);
	kbug_log("DETACH after unbind: %s", err ? strerror(-err) : "ok");
	if (err != -ENODEV)
		kbug_die("DETACH after unbind: expected ENODEV");

	err = transfer(ep1, dmabuf);
	kbug_log("TRANSFER after unbind: %s", err ? strerror(-err) : "ok");
	if (err != -ENODEV)
		kbug_die("TRANSFER after unbind: expected ENODEV");

	err = ffs_ioctl(ep1, KBUG_FUNCTIONFS_DMABUF_ATTACH, &dmabuf);
	kbug_log("ATTACH after unbind: %s", err ? strerror(-err) : "ok");
	if (err != -EPERM)
		kbug_die("ATTACH after unbind: expected EPERM");
	close(ep1);
	close(dmabuf);
	return 0;
}

/* Queues a transfer that stays pending and exports its fence as a sync_file. */
static int pending_transfer_fence(int ep, int dmabuf)
{
	char driver[32];
	int err, sf;

	err = transfer(ep, dmabuf);
	if (err)
		kbug_die("TRANSFER: %s", strerror(-err));
	sf = kbug_export_sync_file(dmabuf);
	err = kbug_sync_file_status(sf, driver, sizeof(driver));
	if (err != 0 || strcmp(driver, "functionfs"))
		kbug_die("fresh FFS fence: status %d driver '%s', expected 0 'functionfs'", err,
			 driver);
	return sf;
}

static void check_aborted(int sf, const char *how)
{
	int status;

	/* Let the completion work drop the attachment (and, unfixed, its lock). */
	kbug_sleep_ms(200);
	status = kbug_sync_file_status(sf, NULL, 0);
	kbug_log("fence of a transfer aborted by %s: status %d", how, status);
	if (status != -ECONNRESET)
		kbug_die("fence after %s: expected %d (-ECONNRESET)", how, -ECONNRESET);
	close(sf);
}

/* Bug 5: fence ops on a sync_file that outlives DETACH or closing the endpoint. */
static int test_fence(void)
{
	int dmabuf1 = kbug_dmabuf_alloc(DMABUF_SIZE);
	int dmabuf2 = kbug_dmabuf_alloc(DMABUF_SIZE);
	int ep1 = ep_open(1);
	int ep2 = ep_open(2);
	int sf, err;

	attach(ep1, dmabuf1);
	sf = pending_transfer_fence(ep1, dmabuf1);
	err = detach(ep1, dmabuf1);
	if (err)
		kbug_die("DETACH: %s", strerror(-err));
	check_aborted(sf, "DETACH");

	attach(ep2, dmabuf2);
	sf = pending_transfer_fence(ep2, dmabuf2);
	close(ep2);
	check_aborted(sf, "closing the endpoint");

	close(ep1);
	close(dmabuf1);
	close(dmabuf2);
	return 0;
}

struct abort_ctx {
	int epnum;
	int dmabuf;
	int rounds;
};

/*
 * Attach, queue a transfer that stays pending, abort it with DETACH or (every
 * fourth round) by closing the endpoint. Two of these run on two endpoints
 * with the same DMABUF: the cleanup of one locks the DMABUF's reservation
 * object while the other queues a transfer under it.
 */
static void *abort_loop(void *arg)
{
	struct abort_ctx *ctx = arg;
	int ep = ep_open(ctx->epnum);
	int i, err;

	for (i = 0; i < ctx->rounds; i++) {
		attach(ep, ctx->dmabuf);
		err = transfer(ep, ctx->dmabuf);
		if (err && err != -EBUSY)
			kbug_die("TRANSFER on ep%d: %s", ctx->epnum, strerror(-err));
		if (i % 4 == 3) {
			close(ep);
			ep = ep_open(ctx->epnum);
			continue;
		}
		err = detach(ep, ctx->dmabuf);
		if (err)
			kbug_die("DETACH on ep%d: %s", ctx->epnum, strerror(-err));
	}
	close(ep);
	return NULL;
}

/* Bug 4: the abort path while the reservation lock is contended. */
static int test_abort(int rounds)
{
	struct abort_ctx ctx1 = { .epnum = 1, .rounds = rounds };
	struct abort_ctx ctx2 = { .epnum = 2, .rounds = rounds };
	pthread_t thread;

	ctx1.dmabuf = ctx2.dmabuf = kbug_dmabuf_alloc(DMABUF_SIZE);
	if (pthread_create(&thread, NULL, abort_loop, &ctx2))
		kbug_die("pthread_create");
	abort_loop(&ctx1);
	pthread_join(thread, NULL);
	kbug_log("%d attach/transfer/abort rounds on ep1 and ep2 each", rounds);
	kbug_sleep_ms(200);
	close(ctx1.dmabuf);
	return 0;
}

struct contend_ctx {
	int fd;		/* endpoint to transfer on, or sync_file to import */
	int dmabuf;
	int err;
	long long done_ms;	/* 0 while the ioctl has not returned */
};

static void *contend_transfer(void *arg)
{
	struct contend_ctx *ctx = arg;

	ctx->err = transfer(ctx->fd, ctx->dmabuf);
	__atomic_store_n(&ctx->done_ms, kbug_now_ms(), __ATOMIC_RELEASE);
	return NULL;
}

static void *contend_import(void *arg)
{
	struct contend_ctx *ctx = arg;

	ctx->err = kbug_import_sync_file(ctx->dmabuf, ctx->fd, DMA_BUF_SYNC_READ);
	__atomic_store_n(&ctx->done_ms, kbug_now_ms(), __ATOMIC_RELEASE);
	return NULL;
}

static void check_contender(struct contend_ctx *ctx, const char *what, long long signal_ms)
{
	long long done = __atomic_load_n(&ctx->done_ms, __ATOMIC_ACQUIRE);

	kbug_log("%s returned %s %lld ms after the fence was signalled", what,
		 ctx->err ? strerror(-ctx->err) : "ok", done - signal_ms);
	if (ctx->err)
		kbug_die("%s: expected success", what);
	if (done < signal_ms)
		kbug_die("%s returned before the fence was signalled: the reproducer's setup no longer holds",
			 what);
}

/*
 * Bug 4, deterministic. ffs_dmabuf_transfer() holds the reservation lock
 * while it waits (up to 5 s on a blocking file) for the fences an IN transfer
 * must wait for: the write fences. An IN transfer left pending on ep1 whose
 * fence is imported into the DMABUF as a write fence makes a blocking
 * transfer of that DMABUF on ep2 wait with the lock held; an
 * IMPORT_SYNC_FILE then sleeps on the lock; DETACH on ep1 signals the fence,
 * and ep2's transfer, once queued, unlocks a mutex that has a waiter, which
 * takes its wait_lock (without 0020: under eps_lock).
 */
static int test_contend(void)
{
	int dmabuf = kbug_dmabuf_alloc(DMABUF_SIZE);
	int ep1 = ep_open(1);
	int ep2 = ep_open(2);
	struct contend_ctx xfer = { .fd = ep2, .dmabuf = dmabuf };
	struct contend_ctx import = { .dmabuf = dmabuf };
	pthread_t t_xfer, t_import;
	long long signal_ms;
	int err;

	attach(ep1, dmabuf);
	attach(ep2, dmabuf);
	if (fcntl(ep2, F_SETFL, fcntl(ep2, F_GETFL) & ~O_NONBLOCK))
		kbug_die("clearing O_NONBLOCK on ep2: %s", strerror(errno));

	import.fd = pending_transfer_fence(ep1, dmabuf);
	err = kbug_import_sync_file(dmabuf, import.fd, DMA_BUF_SYNC_WRITE);
	if (err)
		kbug_die("DMA_BUF_IOCTL_IMPORT_SYNC_FILE (write): %s", strerror(-err));

	if (pthread_create(&t_xfer, NULL, contend_transfer, &xfer))
		kbug_die("pthread_create");
	kbug_sleep_ms(500);
	if (pthread_create(&t_import, NULL, contend_import, &import))
		kbug_die("pthread_create");
	kbug_sleep_ms(500);
	if (__atomic_load_n(&xfer.done_ms, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&import.done_ms, __ATOMIC_ACQUIRE))
		kbug_die("the transfer on ep2 (%s) or the import (%s) did not wait for ep1's fence",
			 xfer.err ? strerror(-xfer.err) : "ok",
			 import.err ? strerror(-import.err) : "ok");
	kbug_log("transfer on ep2 waits with the reservation lock held, an import waits for the lock");

	signal_ms = kbug_now_ms();
	err = detach(ep1, dmabuf);
	if (err)
		kbug_die("DETACH on ep1: %s", strerror(-err));
	pthread_join(t_xfer, NULL);
	pthread_join(t_import, NULL);
	check_contender(&xfer, "blocking TRANSFER on ep2", signal_ms);
	check_contender(&import, "IMPORT_SYNC_FILE", signal_ms);

	/* Closing ep2 aborts its transfer, which nobody reads. */
	close(ep2);
	close(ep1);
	kbug_sleep_ms(200);
	close(import.fd);
	close(dmabuf);
	return 0;
}

/*
 * Two transfers of one DMABUF in flight on one endpoint: the second fence
 * replaces the first in the reservation object. Unbinding the UDC completes
 * both requests (unfixed: the first one's fence is already freed).
 */
/* A second TRANSFER of a DMABUF whose first is pending: EBUSY (non-blocking). */
static int second_transfer_refused(int ep, int dmabuf)
{
	int err = transfer(ep, dmabuf);

	kbug_log("second TRANSFER of the DMABUF while its first is pending: %s",
		 err ? strerror(-err) : "accepted");
	if (err == -EBUSY)
		return 0;
	kbug_log("second TRANSFER: expected EBUSY");
	return 1;
}

/* 0027 (and 0023 without it): two transfers of one DMABUF, ended by an unbind. */
static int test_double(void)
{
	int dmabuf = kbug_dmabuf_alloc(DMABUF_SIZE);
	int ep1 = ep_open(1);
	int err, sf, status, rc;

	attach(ep1, dmabuf);
	/* No sync_file for the first one: it would keep the fence alive. */
	err = transfer(ep1, dmabuf);
	if (err)
		kbug_die("first TRANSFER: %s", strerror(-err));
	rc = second_transfer_refused(ep1, dmabuf);
	/* The reservation object's fence: the first transfer's (fixed). */
	sf = kbug_export_sync_file(dmabuf);
	udc_unbind();
	kbug_sleep_ms(200);
	status = kbug_sync_file_status(sf, NULL, 0);
	kbug_log("fence in the reservation object after unbind: %d", status);
	if (status != -ESHUTDOWN) {
		kbug_log("expected %d (-ESHUTDOWN)", -ESHUTDOWN);
		rc = 1;
	}
	close(sf);
	close(ep1);
	close(dmabuf);
	return rc;
}

/* 0027: DETACH must cancel the first transfer too. */
static int test_double_detach(void)
{
	int dmabuf = kbug_dmabuf_alloc(DMABUF_SIZE);
	int ep1 = ep_open(1);
	int err, sf, status, rc;

	attach(ep1, dmabuf);
	sf = pending_transfer_fence(ep1, dmabuf);
	rc = second_transfer_refused(ep1, dmabuf);
	err = detach(ep1, dmabuf);
	if (err)
		kbug_die("DETACH: %s", strerror(-err));
	kbug_sleep_ms(200);
	status = kbug_sync_file_status(sf, NULL, 0);
	kbug_log("fence of the first transfer 200 ms after DETACH: %d", status);
	if (status == 0) {
		kbug_log("the first transfer outlived DETACH: still queued, its fence pending");
		rc = 1;
	} else if (status != -ECONNRESET) {
		kbug_log("expected %d (-ECONNRESET)", -ECONNRESET);
		rc = 1;
	}
	/* Unfixed, the unbind ends the transfer DETACH left behind. */
	udc_unbind();
	close(sf);
	close(ep1);
	close(dmabuf);
	return rc;
}

/* --- chain: USB_FFS_DMABUF_TRANSFER_AFTER_FENCES behind iio-sim's ADC --- */

static int chain_bfd = -1;

/*
 * Enqueues the DMABUF on the ADC, which iio-sim holds back (sim_stall): the
 * IIO fence stays pending until iio_release(). Returns a sync_file of it.
 */
static int iio_enqueue_held(int dmabuf)
{
	struct kbug_iio_dmabuf req = { .fd = (__u32)dmabuf, .bytes_used = DMABUF_SIZE };
	int err, sf;

	dev_attr_write("sim_stall", "1");
	err = iio_ioctl(chain_bfd, KBUG_IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &req);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_ENQUEUE: %s", strerror(-err));
	sf = kbug_export_sync_file(dmabuf);
	if (kbug_sync_file_status(sf, NULL, 0) != 0)
		kbug_die("the IIO block completed although iio-sim is stalled");
	return sf;
}

/* Lets the ADC fill the block and waits for its fence: 1, or its error. */
static int iio_release(int iio_sf)
{
	int status;

	dev_attr_write("sim_stall", "0");
	status = wait_status(iio_sf, 5000);
	if (status == 0)
		kbug_die("the IIO block did not complete within 5 s of the stall's end");
	close(iio_sf);
	return status;
}

/* A chained transfer on @ep; dies unless it returned a pending sync_file. */
static int chained(int ep, int dmabuf)
{
	int sf = transfer_after(ep, dmabuf);

	if (sf < 0)
		kbug_die("TRANSFER with AFTER_FENCES: %s", strerror(-sf));
	if (kbug_sync_file_status(sf, NULL, 0) != 0)
		kbug_die("the chained transfer's fence signalled before the IIO block completed");
	return sf;
}

static int expect(int sf, int want, const char *what)
{
	int status = wait_status(sf, 2000);

	close(sf);
	kbug_log("%s: fence %d (%s)", what, status, status < 0 ? strerror(-status) : "ok");
	if (status == want)
		return 0;
	kbug_log("%s: expected %d", what, want);
	return 1;
}

struct release_ctx {
	int iio_sf;
	int status;
};

static void *release_thread(void *arg)
{
	struct release_ctx *ctx = arg;

	ctx->status = iio_release(ctx->iio_sf);
	return NULL;
}

/* Rounds of the IIO completion (the callback queueing) racing DETACH or close. */
static int chain_race(int *ep, int dmabuf, int rounds)
{
	int cancelled = 0, dequeued = 0, i, rc = 0;

	for (i = 0; i < rounds && !rc; i++) {
		struct release_ctx ctx = { .iio_sf = iio_enqueue_held(dmabuf) };
		int sf = chained(*ep, dmabuf);
		pthread_t thread;
		int status, err;

		if (pthread_create(&thread, NULL, release_thread, &ctx))
			kbug_die("pthread_create");
		if (i % 4 == 3) {
			close(*ep);
			*ep = ep_open(1);
		} else if ((err = detach(*ep, dmabuf))) {
			kbug_die("DETACH: %s", strerror(-err));
		}
		pthread_join(thread, NULL);
		if (ctx.status != 1)
			kbug_die("round %d: the IIO block failed: %s", i, strerror(-ctx.status));
		status = wait_status(sf, 2000);
		close(sf);
		if (status == -ECANCELED) {
			cancelled++;
		} else if (status == -ECONNRESET) {
			dequeued++;
		} else {
			kbug_log("round %d: fence %d, expected %d (cancelled while waiting) or %d (dequeued)",
				 i, status, -ECANCELED, -ECONNRESET);
			rc = 1;
		}
		attach(*ep, dmabuf);
	}
	kbug_log("%d rounds of the IIO completion racing DETACH/close: %d cancelled while waiting, %d dequeued once queued",
		 i, cancelled, dequeued);
	return rc;
}

struct release_after_ctx {
	int iio_sf;
	unsigned int delay_us;
	int status;
};

static void *release_after(void *arg)
{
	struct release_after_ctx *ctx = arg;

	usleep(ctx->delay_us);
	ctx->status = iio_release(ctx->iio_sf);
	return NULL;
}

/*
 * Rounds of the IIO completion (the callback) racing the unbind, which
 * disables the endpoint and then drains f_fs's completion workqueue: a
 * transfer that was never queued must not be cleaned up on that queue
 * (WARN in __queue_work() during the drain). Starts and ends unbound.
 */
static int chain_unbind_race(int ep, int dmabuf, int rounds)
{
	int i, rc = 0;

	for (i = 0; i < rounds; i++) {
		struct release_after_ctx ctx = { .delay_us = (unsigned int)(i * 373) % 3000 };
		pthread_t thread;
		int sf;

		udc_bind();
		ctx.iio_sf = iio_enqueue_held(dmabuf);
		sf = chained(ep, dmabuf);
		if (pthread_create(&thread, NULL, release_after, &ctx))
			kbug_die("pthread_create");
		udc_unbind();
		pthread_join(thread, NULL);
		if (ctx.status != 1)
			kbug_die("round %d: the IIO block failed: %s", i, strerror(-ctx.status));
		rc |= expect(sf, -ESHUTDOWN, "the unbind racing the IIO block");
	}
	return rc;
}

static int test_chain(int rounds)
{
	int dmabuf = kbug_dmabuf_alloc(DMABUF_SIZE);
	int ep1 = ep_open(1);
	int err, iio_sf, sf, status, rc = 0;
	char path[400];

	find_device("iio-sim-adc");
	setup_channels("in", 4, 1024);
	snprintf(path, sizeof(path), "%s/sampling_frequency", sysdir);
	kbug_must_write(path, "0");
	chain_bfd = buffer_fd();
	err = iio_ioctl(chain_bfd, KBUG_IIO_BUFFER_DMABUF_ATTACH_IOCTL, &dmabuf);
	if (err)
		kbug_die("IIO_BUFFER_DMABUF_ATTACH: %s", strerror(-err));
	dev_attr_write("sim_stall", "1");
	buffer_enable(1);
	attach(ep1, dmabuf);

	/* Without the flag, a non-blocking TRANSFER cannot wait for the ADC. */
	iio_sf = iio_enqueue_held(dmabuf);
	err = transfer(ep1, dmabuf);
	kbug_log("TRANSFER without AFTER_FENCES while the IIO block is pending: %s",
		 err ? strerror(-err) : "queued");
	if (err != -EBUSY)
		kbug_die("expected EBUSY");

	/* Queued once the IIO block completed: DETACH then dequeues it. */
	sf = chained(ep1, dmabuf);
	kbug_sleep_ms(200);
	if (kbug_sync_file_status(sf, NULL, 0) != 0)
		kbug_die("the chained transfer ended while the IIO block was pending");
	status = iio_release(iio_sf);
	if (status != 1)
		kbug_die("the IIO block failed: %s", strerror(-status));
	kbug_sleep_ms(200);
	if (kbug_sync_file_status(sf, NULL, 0) != 0)
		kbug_die("the chained transfer ended, but the host reads nothing");
	if (detach(ep1, dmabuf))
		kbug_die("DETACH: %s", strerror(errno));
	rc |= expect(sf, -ECONNRESET, "queued after the IIO block, then DETACH");
	attach(ep1, dmabuf);

	/* DETACH while it waits: cancelled, and the IIO completion finds nothing to queue. */
	iio_sf = iio_enqueue_held(dmabuf);
	sf = chained(ep1, dmabuf);
	if (detach(ep1, dmabuf))
		kbug_die("DETACH: %s", strerror(errno));
	if (iio_release(iio_sf) != 1)
		kbug_die("the IIO block failed");
	rc |= expect(sf, -ECANCELED, "DETACH while waiting for the IIO block");
	attach(ep1, dmabuf);

	/* Closing the endpoint file while it waits. */
	iio_sf = iio_enqueue_held(dmabuf);
	sf = chained(ep1, dmabuf);
	close(ep1);
	if (iio_release(iio_sf) != 1)
		kbug_die("the IIO block failed");
	rc |= expect(sf, -ECANCELED, "closing the endpoint while waiting for the IIO block");
	ep1 = ep_open(1);
	attach(ep1, dmabuf);

	/* The IIO block fails (the buffer is disabled): so does the transfer. */
	iio_sf = iio_enqueue_held(dmabuf);
	sf = chained(ep1, dmabuf);
	buffer_enable(0);
	status = wait_status(iio_sf, 2000);
	close(iio_sf);
	kbug_log("IIO block aborted by disabling the buffer: fence %d", status);
	if (status >= 0)
		kbug_die("expected the IIO block to fail");
	rc |= expect(sf, status, "the IIO block failed");
	if (wait_status(sf = kbug_export_sync_file(dmabuf), 2000) <= 0)
		kbug_die("fences left pending on the DMABUF");
	close(sf);
	buffer_enable(1);

	if (!rc)
		rc = chain_race(&ep1, dmabuf, rounds);

	/* The endpoint disabled (unbind) while it waits: ESHUTDOWN once the block is in. */
	iio_sf = iio_enqueue_held(dmabuf);
	sf = chained(ep1, dmabuf);
	udc_unbind();
	kbug_sleep_ms(100);
	if (iio_release(iio_sf) != 1)
		kbug_die("the IIO block failed");
	rc |= expect(sf, -ESHUTDOWN, "the endpoint disabled while waiting for the IIO block");
	if (!rc)
		rc = chain_unbind_race(ep1, dmabuf, rounds / 20);

	buffer_enable(0);
	close(ep1);
	close(chain_bfd);
	close(dmabuf);
	return rc;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "unbind") && strcmp(mode, "fence") && strcmp(mode, "abort") &&
	    strcmp(mode, "double") && strcmp(mode, "double-detach") && strcmp(mode, "contend") &&
	    strcmp(mode, "chain")) {
		fprintf(stderr,
			"usage: kbug_ffs unbind|fence|contend|abort [ROUNDS]|double|double-detach|chain [ROUNDS]\n");
		return 2;
	}
	first_udc();
	gadget_create();
	udc_bind();

	if (!strcmp(mode, "unbind"))
		rc = test_unbind();
	else if (!strcmp(mode, "fence"))
		rc = test_fence();
	else if (!strcmp(mode, "double"))
		rc = test_double();
	else if (!strcmp(mode, "double-detach"))
		rc = test_double_detach();
	else if (!strcmp(mode, "contend"))
		rc = test_contend();
	else if (!strcmp(mode, "chain"))
		rc = test_chain(argc > 2 ? atoi(argv[2]) : 200);
	else
		rc = test_abort(argc > 2 ? atoi(argv[2]) : 500);

	kbug_log("%s: %s", mode, rc ? "FAIL" : "PASS");
	return rc;
}
