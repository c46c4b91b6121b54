// SPDX-License-Identifier: GPL-2.0
/*
 * iio-sim: simulated IIO converters on top of industrialio-buffer-dma
 *
 * The module creates one platform device, "iio-sim", and binds its own
 * platform driver to it. The driver registers two IIO devices:
 *
 *  - "iio-sim-adc", an input device whose DMA engine fills the blocks it is
 *    given with a verifiable pattern;
 *  - "iio-sim-dac", an output device whose DMA engine consumes the blocks it is
 *    given and checks them against the same pattern, with counters in sysfs;
 *
 * and, with the module parameter adcs=N (1 to 8, default 1), N - 1 more input
 * devices like the first, "iio-sim-adc1" to "iio-sim-adc<N-1>" (names and
 * labels), registered after the DAC so that the first two keep their numbers.
 * Each converter has its own buffer, DMA engine and sysfs knobs.
 *
 * Both use the queue of industrialio-buffer-dma, so they work with fileio
 * (read()/write() on the buffer) and with DMABUFs (IIO_BUFFER_DMABUF_*_IOCTL),
 * like a driver on industrialio-buffer-dmaengine. The "DMA" is a work item
 * that goes through the CPU view of each block: the coherent allocation of a
 * fileio block, or, for a DMABUF, the memory behind the DMA addresses of the
 * importer's mapping (see "DMABUF access" below). At a non-zero sampling
 * frequency an hrtimer paces block completion to that many sample sets per
 * second.
 *
 * Pattern. Every sample set carries a global sample index S, counted from 0
 * when the buffer is enabled. Channel c (its scan index) of sample set S holds
 * the 16-bit little-endian value
 *
 *	v(S, c) = (S * 0x9E37 + c * 0x1F + (S >> 16)) mod 2^16
 *
 * and a sample set holds the enabled channels only, in scan index order. In
 * header mode only the first 16 bytes of each block are written (input) or
 * checked (output): the little-endian u32 0x49494F53 ("IIOS" as a number),
 * the u32 block sequence number (0 for the first block after enable) and the
 * u64 index S of the block's first sample set.
 *
 * The output device treats its blocks as one byte stream that starts at S = 0
 * when the buffer is enabled (or after sim_reset) and goes on across blocks. A
 * cyclic block is consumed again and again; each pass is checked from the
 * stream position at which the block started, so a cyclic block that holds the
 * pattern from S = 0 passes every time. It is repeated until the buffer is
 * disabled (its fence then signals -EINTR) or until another block is queued
 * behind it: it then completes successfully at the end of the current pass.
 *
 * Sysfs, on each IIO device: sim_blocks and sim_bytes count the blocks (and
 * cyclic passes) and bytes moved; sim_pattern (full or header) can be changed
 * while the buffer is disabled; writing 1 to sim_reset clears the counters.
 * The DAC also has sim_errors, the number of mismatching bytes (full) or bad
 * headers (header), and sim_first_error_offset, the stream offset of the first
 * mismatching byte since the last reset (-1 if none); on the DAC, sim_reset
 * also restarts the expected stream at S = 0 with the next block. Writing 1 to
 * sim_stall makes the DMA engine stall (a fault to test watchdogs with): queued
 * blocks stay queued and none completes until 0 is written; disabling the
 * buffer still aborts them.
 *
 * Free-running ADC. With sim_free_run set to 1 (while the buffer is disabled)
 * and a non-zero sampling frequency, the ADC behaves like a converter that
 * keeps sampling when its DMA has nothing to fill: when a block completes and
 * no other block is queued behind it once its fence signalled, the sample sets
 * converted from the fence's timestamp until the next block is submitted are
 * lost,
 * floor((t_submit - t_done) * rate) of them, and
 * the next block starts that much further on in S (so the block headers and
 * the full pattern show the gap). sim_lost counts the sample sets lost and
 * sim_gaps the gaps since the buffer was enabled or sim_reset. With 0 (the
 * default) the stream of samples simply pauses while the DMA is starved.
 *
 * DMABUF access. An importer must not touch the pages of an imported DMABUF
 * (CONFIG_DMABUF_DEBUG scrambles or hides the page pointers of the scatter
 * table it gets), only the DMA addresses its device was given. So the simulated DMA
 * goes where a device would: through the DMA segments of the mapping, to the
 * memory behind each address (dma_to_phys()), which the CPU reaches through
 * its own kernel mapping. That is the device's view only if the mapping is a
 * direct one (no IOMMU) and neither bounces (swiotlb) nor needs cache
 * maintenance: exactly when dma_need_sync() is false for every segment.
 * ATTACH is refused (-EOPNOTSUPP) for a device behind an IOMMU, and a block
 * whose mapping needs syncs is aborted (fence -EINTR) with an error in the log.
 *
 * Cache maintenance. A real input device writes memory, past the CPU caches,
 * between the sync_for_device of the mapping (dma_buf_map_attachment() at
 * ATTACH, the exporter's end_cpu_access() after a DMA_BUF_IOCTL_SYNC_END) and
 * the sync_for_cpu of a CPU reader (begin_cpu_access(), DMA_BUF_IOCTL_SYNC
 * START), which drops the lines the CPU may have fetched meanwhile. The CPU
 * standing in for it writes through its caches instead: on a non-coherent
 * machine it would have to clean (write back) its lines to memory before the
 * fence signals, or the reader's invalidation discards them and a second
 * device (the USB controller) reads stale memory. The streaming DMA API has
 * no call for "the CPU wrote for the device" on a DMA_FROM_DEVICE mapping:
 * dma_sync_*_for_device(DMA_TO_DEVICE) cleans, but DMA-API debugging rejects
 * a direction that is not the mapping's, and sync_for_device(DMA_FROM_DEVICE)
 * invalidates on 32-bit ARM, dropping the data just written. Likewise an
 * output device reads memory after the producer's SYNC_END cleaned it, while
 * the CPU reading through its caches sees the producer's writes whether or not
 * it synced. The model is exact only on a cache-coherent machine (x86; QEMU
 * TCG models no caches), where those syncs are no-ops: iio-sim makes no sync
 * calls and refuses mappings that would need them. Fileio blocks are coherent
 * allocations, which the CPU may access directly anywhere.
 */

#include <linux/dma-direct.h>
#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/iio/buffer-dma.h>
#include <linux/iio/buffer.h>
#include <linux/iio/buffer_impl.h>
#include <linux/iio/iio.h>
#include <linux/iio/sysfs.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/unaligned.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#define IIO_SIM_MAX_CHANNELS		16
#define IIO_SIM_HEADER_MAGIC		0x49494f53
#define IIO_SIM_HEADER_SIZE		16
/* A late block restarts the pacing clock instead of catching up in a burst */
#define IIO_SIM_LATE_NS			(10 * NSEC_PER_MSEC)
/* Passes of a cyclic block at "as fast as possible" are at least this long */
#define IIO_SIM_CYCLIC_MIN_NS		NSEC_PER_MSEC
/* dma_alloc_coherent() beyond order 10 WARNs without CMA */
#define IIO_SIM_FILEIO_BLOCK_MAX	SZ_4M
#define IIO_SIM_MAX_ADCS		8

static unsigned int channels = 4;
module_param(channels, uint, 0444);
MODULE_PARM_DESC(channels, "Channels of each device, 1 to 16 (default 4)");

static char *pattern = "full";
module_param(pattern, charp, 0444);
MODULE_PARM_DESC(pattern,
		 "Initial data pattern, full or header (default full; sim_pattern in sysfs)");

static unsigned int sampling_frequency = 1000000;
module_param(sampling_frequency, uint, 0444);
MODULE_PARM_DESC(sampling_frequency,
		 "Initial sample sets per second, 0 = as fast as possible (default 1000000)");

static unsigned int adcs = 1;
module_param(adcs, uint, 0444);
MODULE_PARM_DESC(adcs,
		 "Input devices, 1 to 8: iio-sim-adc, then iio-sim-adc1... (default 1)");

static unsigned int max_fileio_block = SZ_1M;
module_param(max_fileio_block, uint, 0444);
MODULE_PARM_DESC(max_fileio_block,
		 "Largest fileio block in bytes, at most 4 MiB; the buffer length is clamped to it (default 1 MiB)");

enum iio_sim_pattern {
	IIO_SIM_PATTERN_FULL,
	IIO_SIM_PATTERN_HEADER,
};

static const char * const iio_sim_pattern_names[] = {
	[IIO_SIM_PATTERN_FULL] = "full",
	[IIO_SIM_PATTERN_HEADER] = "header",
};

/* A position in the sample stream */
struct iio_sim_cursor {
	u64 sample;		/* index S of the current sample set */
	unsigned int word;	/* 16-bit word within the set */
	unsigned int byte;	/* byte within the word, 0 or 1 */
};

/* The transfer of one block */
struct iio_sim_xfer {
	struct iio_sim_cursor cur;
	size_t pos;		/* byte offset in the block */
	u64 errors;
	s64 first_error;	/* block offset of the first mismatch, or -1 */
	u8 header[IIO_SIM_HEADER_SIZE];
};

struct iio_sim_stats {
	u64 blocks;
	u64 bytes;
	u64 errors;
	s64 first_error;
	u64 lost;
	u64 gaps;
};

/**
 * struct iio_sim - one simulated converter and its DMA buffer
 * @queue: industrialio-buffer-dma queue; its buffer's release frees this
 * @output: true for the DAC
 * @pattern: data pattern, changed only while the buffer is disabled
 * @rate: sample sets per second, changed only while the buffer is disabled
 * @chan: scan indices of the enabled channels, in order (worker)
 * @nchan: number of enabled channels (worker)
 * @set_bytes: bytes per sample set (worker)
 * @run_pattern: @pattern when the buffer was enabled (worker)
 * @run_rate: @rate when the buffer was enabled (worker)
 * @cur: next position in the stream (worker)
 * @seq: next block sequence number (worker)
 * @cyclic_cur: stream position where the current cyclic block started (worker)
 * @cyclic_seq: sequence number of the current cyclic block (worker)
 * @cyclic_pass: passes made over the current cyclic block (worker)
 * @paced: bytes moved since the pacing clock started (worker)
 * @start: pacing clock (worker)
 * @due: completion time of the head block (worker)
 * @head_done: the head block was filled or checked, it waits for @due (worker)
 * @active: blocks given to the DMA, in order, under queue.list_lock
 * @stopping: the worker must not start anything, under queue.list_lock
 * @stall: the worker completes nothing (sim_stall), under queue.list_lock
 * @work: the DMA engine
 * @timer: wakes @work up when the head block is due
 * @stats_lock: protects @stats and @reset_pending
 * @stats: counters shown in sysfs
 * @reset_pending: the DAC's stream restarts at S = 0 with the next block
 * @free_run: the ADC loses the samples it converts while starved (sim_free_run)
 * @run_free: @free_run when the buffer was enabled (worker, submit)
 * @idle_since: when the last block completed with none queued behind it, or 0,
 *	under queue.list_lock
 * @skip: sample sets lost before the next block, under queue.list_lock
 */
struct iio_sim {
	struct iio_dma_buffer_queue queue;
	bool output;

	enum iio_sim_pattern pattern;
	u32 rate;

	unsigned int chan[IIO_SIM_MAX_CHANNELS];
	unsigned int nchan;
	unsigned int set_bytes;
	enum iio_sim_pattern run_pattern;
	u32 run_rate;
	struct iio_sim_cursor cur;
	u32 seq;
	struct iio_sim_cursor cyclic_cur;
	u32 cyclic_seq;
	u64 cyclic_pass;
	u64 paced;
	ktime_t start;
	ktime_t due;
	bool head_done;

	struct list_head active;
	bool stopping;
	bool stall;
	struct work_struct work;
	struct hrtimer timer;

	spinlock_t stats_lock; /* protects stats and reset_pending */
	struct iio_sim_stats stats;
	bool reset_pending;

	bool free_run;
	bool run_free;
	ktime_t idle_since;
	u64 skip;
};

struct iio_sim_state {
	struct iio_sim *sim;
};

static struct workqueue_struct *iio_sim_wq;
static struct platform_device *iio_sim_pdev;
static enum iio_sim_pattern iio_sim_default_pattern;

/*
 * The buffers can outlive their IIO devices (a buffer file descriptor keeps
 * its DMABUF blocks, and the blocks keep the buffer). Module exit waits for
 * the last one; attached DMABUFs also hold a module reference.
 */
static atomic_t iio_sim_buffers = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(iio_sim_buffers_wq);

static struct iio_sim *iio_sim_from_queue(struct iio_dma_buffer_queue *queue)
{
	return container_of(queue, struct iio_sim, queue);
}

static struct iio_sim *iio_sim_from_buffer(struct iio_buffer *buffer)
{
	return container_of(buffer, struct iio_sim, queue.buffer);
}

static struct iio_sim *iio_sim_from_dev(struct device *dev)
{
	struct iio_sim_state *st = iio_priv(dev_to_iio_dev(dev));

	return st->sim;
}

static inline u16 iio_sim_value(u64 sample, unsigned int chan)
{
	return (u16)((u32)sample * 0x9e37 + chan * 0x1f + (u32)(sample >> 16));
}

static inline void iio_sim_next_word(struct iio_sim *sim,
				     struct iio_sim_cursor *cur)
{
	if (++cur->word == sim->nchan) {
		cur->word = 0;
		cur->sample++;
	}
}

/* Returns the byte at the cursor and moves the cursor past it */
static u8 iio_sim_next_byte(struct iio_sim *sim, struct iio_sim_cursor *cur)
{
	u16 v = iio_sim_value(cur->sample, sim->chan[cur->word]);

	if (!cur->byte) {
		cur->byte = 1;
		return v & 0xff;
	}
	cur->byte = 0;
	iio_sim_next_word(sim, cur);
	return v >> 8;
}

static void iio_sim_error(struct iio_sim_xfer *x, size_t pos)
{
	if (!x->errors)
		x->first_error = pos;
	x->errors++;
}

static void iio_sim_fill_chunk(struct iio_sim *sim, struct iio_sim_xfer *x,
			       u8 *buf, size_t len)
{
	struct iio_sim_cursor *cur = &x->cur;
	__le16 *p;
	size_t i, n;

	while (len) {
		if (cur->byte || len < 2 || !IS_ALIGNED((unsigned long)buf, 2)) {
			*buf++ = iio_sim_next_byte(sim, cur);
			x->pos++;
			len--;
			continue;
		}

		p = (__le16 *)buf;
		n = len / 2;
		for (i = 0; i < n; i++) {
			p[i] = cpu_to_le16(iio_sim_value(cur->sample,
							 sim->chan[cur->word]));
			iio_sim_next_word(sim, cur);
		}
		buf += 2 * n;
		x->pos += 2 * n;
		len -= 2 * n;
	}
}

static void iio_sim_check_chunk(struct iio_sim *sim, struct iio_sim_xfer *x,
				u8 *buf, size_t len)
{
	struct iio_sim_cursor *cur = &x->cur;
	const __le16 *p;
	size_t i, n;
	u16 diff;

	while (len) {
		if (cur->byte || len < 2 || !IS_ALIGNED((unsigned long)buf, 2)) {
			if (*buf++ != iio_sim_next_byte(sim, cur))
				iio_sim_error(x, x->pos);
			x->pos++;
			len--;
			continue;
		}

		p = (const __le16 *)buf;
		n = len / 2;
		for (i = 0; i < n; i++) {
			diff = le16_to_cpu(p[i]) ^
			       iio_sim_value(cur->sample, sim->chan[cur->word]);
			if (unlikely(diff)) {
				if (diff & 0xff)
					iio_sim_error(x, x->pos + 2 * i);
				if (diff >> 8)
					iio_sim_error(x, x->pos + 2 * i + 1);
			}
			iio_sim_next_word(sim, cur);
		}
		buf += 2 * n;
		x->pos += 2 * n;
		len -= 2 * n;
	}
}

static void iio_sim_fill_header_chunk(struct iio_sim *sim,
				      struct iio_sim_xfer *x, u8 *buf,
				      size_t len)
{
	memcpy(buf, &x->header[x->pos], len);
	x->pos += len;
}

static void iio_sim_check_header_chunk(struct iio_sim *sim,
				       struct iio_sim_xfer *x, u8 *buf,
				       size_t len)
{
	size_t i;

	for (i = 0; i < len; i++, x->pos++) {
		if (buf[i] != x->header[x->pos] && !x->errors)
			iio_sim_error(x, x->pos);
	}
}

/*
 * Whether the CPU can stand in for the device on the DMA mapping of a DMABUF
 * block (see "DMABUF access" at the top): every DMA segment must be a direct
 * mapping of RAM that needs no syncs, i.e. is neither bounced nor mapped for a
 * non-coherent device. Attaching already refused a device behind an IOMMU.
 */
static bool iio_sim_dmabuf_usable(struct iio_sim *sim,
				  struct iio_dma_buffer_block *block)
{
	struct device *dev = sim->queue.dev;
	struct scatterlist *sg;
	dma_addr_t addr;
	unsigned int i;

	for_each_sgtable_dma_sg(block->sg_table, sg, i) {
		addr = sg_dma_address(sg);
		if (!sg_dma_len(sg))
			continue;
		if (dma_need_sync(dev, addr)) {
			dev_err_ratelimited(dev,
					    "DMA segment %pad needs cache maintenance or bouncing, which the simulated DMA cannot model: block aborted\n",
					    &addr);
			return false;
		}
		if (!pfn_valid(PHYS_PFN(dma_to_phys(dev, addr))) ||
		    !pfn_valid(PHYS_PFN(dma_to_phys(dev, addr + sg_dma_len(sg) - 1)))) {
			dev_err_ratelimited(dev,
					    "DMA segment %pad is not RAM on a direct mapping: block aborted\n",
					    &addr);
			return false;
		}
	}

	return true;
}

/*
 * Hands the first @len bytes of @block to @fn, chunk by chunk: the CPU view of
 * a fileio block is contiguous; a DMABUF is reached through the DMA segments
 * of its mapping (checked by iio_sim_dmabuf_usable()), page by page.
 */
static void iio_sim_walk(struct iio_sim *sim, struct iio_dma_buffer_block *block,
			 size_t len, struct iio_sim_xfer *x,
			 void (*fn)(struct iio_sim *sim, struct iio_sim_xfer *x,
				    u8 *buf, size_t len))
{
	struct device *dev = sim->queue.dev;
	struct scatterlist *sg;
	unsigned int i;

	if (block->fileio) {
		fn(sim, x, block->vaddr, len);
		return;
	}

	for_each_sgtable_dma_sg(block->sg_table, sg, i) {
		dma_addr_t addr = sg_dma_address(sg);
		size_t left = min_t(size_t, sg_dma_len(sg), len);

		len -= left;
		while (left) {
			phys_addr_t phys = dma_to_phys(dev, addr);
			size_t pg_off = offset_in_page(phys);
			size_t n = min_t(size_t, left, PAGE_SIZE - pg_off);
			u8 *vaddr = kmap_local_pfn(PHYS_PFN(phys));

			fn(sim, x, vaddr + pg_off, n);
			kunmap_local(vaddr);
			addr += n;
			left -= n;
		}
		if (!len)
			break;
	}
}

static u64 iio_sim_bytes_to_ns(struct iio_sim *sim, u64 bytes)
{
	return mul_u64_u64_div_u64(bytes, NSEC_PER_SEC,
				   (u64)sim->run_rate * sim->set_bytes);
}

/* Fills or checks the head block; returns when it is due to complete */
static ktime_t iio_sim_process(struct iio_sim *sim,
			       struct iio_dma_buffer_block *block)
{
	struct iio_sim_xfer x = { .first_error = -1 };
	size_t len = block->bytes_used;
	ktime_t now = ktime_get();
	ktime_t started;
	u64 skip;

	spin_lock_irq(&sim->queue.list_lock);
	skip = sim->skip;
	sim->skip = 0;
	spin_unlock_irq(&sim->queue.list_lock);
	if (skip) {
		/* The converter went on without us: so does the pacing clock */
		sim->cur.sample += skip;
		sim->start = ktime_sub_ns(now, iio_sim_bytes_to_ns(sim, sim->paced));
	}

	spin_lock_irq(&sim->stats_lock);
	if (sim->reset_pending) {
		sim->reset_pending = false;
		memset(&sim->cur, 0, sizeof(sim->cur));
		sim->seq = 0;
		sim->cyclic_pass = 0;
	}
	spin_unlock_irq(&sim->stats_lock);

	if (block->cyclic) {
		if (!sim->cyclic_pass) {
			sim->cyclic_cur = sim->cur;
			sim->cyclic_seq = sim->seq;
		} else {
			sim->cur = sim->cyclic_cur;
			sim->seq = sim->cyclic_seq;
		}
		sim->cyclic_pass++;
	}

	x.cur = sim->cur;
	if (sim->run_pattern == IIO_SIM_PATTERN_HEADER) {
		put_unaligned_le32(IIO_SIM_HEADER_MAGIC, &x.header[0]);
		put_unaligned_le32(sim->seq, &x.header[4]);
		put_unaligned_le64(x.cur.sample, &x.header[8]);
		iio_sim_walk(sim, block, min_t(size_t, len, IIO_SIM_HEADER_SIZE),
			     &x, sim->output ? iio_sim_check_header_chunk :
					       iio_sim_fill_header_chunk);
		x.cur.sample += len / sim->set_bytes;
	} else {
		iio_sim_walk(sim, block, len, &x,
			     sim->output ? iio_sim_check_chunk :
					   iio_sim_fill_chunk);
	}
	sim->cur = x.cur;
	sim->seq++;

	/*
	 * No cache maintenance: the mapping needs none (iio_sim_dmabuf_usable()),
	 * which is what makes the CPU's access the device's.
	 */

	spin_lock_irq(&sim->stats_lock);
	if (skip) {
		sim->stats.lost += skip;
		sim->stats.gaps++;
	}
	if (!sim->reset_pending) {
		if (x.errors && sim->stats.first_error < 0)
			sim->stats.first_error = sim->stats.bytes + x.first_error;
		sim->stats.errors += x.errors;
		sim->stats.bytes += len;
		sim->stats.blocks++;
	}
	spin_unlock_irq(&sim->stats_lock);

	if (!sim->run_rate) {
		if (block->cyclic)
			return ktime_add_ns(now, IIO_SIM_CYCLIC_MIN_NS);
		return now;
	}

	started = ktime_add_ns(sim->start, iio_sim_bytes_to_ns(sim, sim->paced));
	if (ktime_after(now, ktime_add_ns(started, IIO_SIM_LATE_NS)))
		sim->start = ktime_sub_ns(now, iio_sim_bytes_to_ns(sim, sim->paced));
	sim->paced += len;

	return ktime_add_ns(sim->start, iio_sim_bytes_to_ns(sim, sim->paced));
}

static void iio_sim_work(struct work_struct *work)
{
	struct iio_sim *sim = container_of(work, struct iio_sim, work);
	struct iio_dma_buffer_queue *queue = &sim->queue;
	struct iio_dma_buffer_block *block;
	bool complete;

	for (;;) {
		spin_lock_irq(&queue->list_lock);
		block = (sim->stopping || sim->stall) ? NULL :
			list_first_entry_or_null(&sim->active,
						 struct iio_dma_buffer_block,
						 head);
		spin_unlock_irq(&queue->list_lock);
		if (!block)
			return;

		if (!block->bytes_used ||
		    (!sim->head_done && !block->fileio &&
		     !iio_sim_dmabuf_usable(sim, block))) {
			LIST_HEAD(aborted);

			spin_lock_irq(&queue->list_lock);
			list_move(&block->head, &aborted);
			spin_unlock_irq(&queue->list_lock);
			iio_dma_buffer_block_list_abort(queue, &aborted);
			continue;
		}

		/*
		 * The block stays on the list while it is processed: only the
		 * abort callback takes blocks off it, after cancelling us.
		 */
		if (!sim->head_done) {
			sim->due = iio_sim_process(sim, block);
			sim->head_done = true;
		}

		spin_lock_irq(&queue->list_lock);
		if (sim->stopping) {
			spin_unlock_irq(&queue->list_lock);
			return;
		}
		if (ktime_before(ktime_get(), sim->due)) {
			hrtimer_start(&sim->timer, sim->due, HRTIMER_MODE_ABS);
			spin_unlock_irq(&queue->list_lock);
			return;
		}
		sim->head_done = false;
		complete = !block->cyclic || !list_is_singular(&sim->active);
		if (complete)
			list_del(&block->head);
		spin_unlock_irq(&queue->list_lock);

		if (complete) {
			struct dma_fence *fence = block->fileio ? NULL :
				dma_fence_get(block->fence);
			ktime_t done;

			sim->cyclic_pass = 0;
			iio_dma_buffer_block_done(block);
			/*
			 * Starved from when the completion is known, the time
			 * its fence signalled, until the next submit; a block
			 * submitted before that was in time.
			 */
			done = fence && test_bit(DMA_FENCE_FLAG_TIMESTAMP_BIT,
						 &fence->flags) ?
				fence->timestamp : ktime_get();
			dma_fence_put(fence);
			spin_lock_irq(&queue->list_lock);
			if (list_empty(&sim->active))
				sim->idle_since = done;
			spin_unlock_irq(&queue->list_lock);
		}
		cond_resched();
	}
}

static enum hrtimer_restart iio_sim_timer(struct hrtimer *timer)
{
	struct iio_sim *sim = container_of(timer, struct iio_sim, timer);
	unsigned long flags;

	spin_lock_irqsave(&sim->queue.list_lock, flags);
	if (!sim->stopping)
		queue_work(iio_sim_wq, &sim->work);
	spin_unlock_irqrestore(&sim->queue.list_lock, flags);

	return HRTIMER_NORESTART;
}

static int iio_sim_submit(struct iio_dma_buffer_queue *queue,
			  struct iio_dma_buffer_block *block)
{
	struct iio_sim *sim = iio_sim_from_queue(queue);

	if (!block->fileio && !block->sg_table)
		return -EINVAL;

	/*
	 * An input block holds whole sample sets. One too small for a single
	 * set is aborted by the worker rather than refused here: a refused
	 * block stays busy until DETACH, and its fence would signal before
	 * userspace could export it.
	 */
	if (!sim->output)
		block->bytes_used = rounddown(block->bytes_used, sim->set_bytes);

	spin_lock_irq(&queue->list_lock);
	if (sim->run_free && sim->idle_since && list_empty(&sim->active)) {
		ktime_t idle = ktime_sub(ktime_get(), sim->idle_since);

		if (idle > 0)
			sim->skip += mul_u64_u64_div_u64(ktime_to_ns(idle),
							 sim->run_rate,
							 NSEC_PER_SEC);
	}
	sim->idle_since = 0;
	list_add_tail(&block->head, &sim->active);
	if (!sim->stopping)
		queue_work(iio_sim_wq, &sim->work);
	spin_unlock_irq(&queue->list_lock);

	return 0;
}

/* Called with queue->lock held when the buffer is disabled */
static void iio_sim_abort(struct iio_dma_buffer_queue *queue)
{
	struct iio_sim *sim = iio_sim_from_queue(queue);

	spin_lock_irq(&queue->list_lock);
	sim->stopping = true;
	spin_unlock_irq(&queue->list_lock);

	/* Neither re-arms the other once stopping is set */
	hrtimer_cancel(&sim->timer);
	cancel_work_sync(&sim->work);

	sim->head_done = false;
	iio_dma_buffer_block_list_abort(queue, &sim->active);
}

static const struct iio_dma_buffer_ops iio_sim_dma_ops = {
	.submit = iio_sim_submit,
	.abort = iio_sim_abort,
};

static int iio_sim_buffer_enable(struct iio_buffer *buffer,
				 struct iio_dev *indio_dev)
{
	struct iio_sim *sim = iio_sim_from_buffer(buffer);
	unsigned int c, n = 0;

	iio_for_each_active_channel(indio_dev, c) {
		if (n == ARRAY_SIZE(sim->chan))
			return -EINVAL;
		sim->chan[n++] = c;
	}
	if (!n || buffer->bytes_per_datum != 2 * n)
		return -EINVAL;

	sim->nchan = n;
	sim->set_bytes = 2 * n;
	sim->run_pattern = sim->pattern;
	sim->run_rate = sim->rate;
	sim->run_free = sim->free_run && sim->rate && !sim->output;
	memset(&sim->cur, 0, sizeof(sim->cur));
	sim->seq = 0;
	sim->cyclic_pass = 0;
	sim->paced = 0;
	sim->head_done = false;
	sim->start = ktime_get();

	spin_lock_irq(&sim->stats_lock);
	sim->reset_pending = false;
	sim->stats.lost = 0;
	sim->stats.gaps = 0;
	spin_unlock_irq(&sim->stats_lock);

	spin_lock_irq(&sim->queue.list_lock);
	sim->stopping = false;
	sim->idle_since = 0;
	sim->skip = 0;
	spin_unlock_irq(&sim->queue.list_lock);

	return iio_dma_buffer_enable(buffer, indio_dev);
}

static int iio_sim_request_update(struct iio_buffer *buffer)
{
	size_t bpd = buffer->bytes_per_datum;
	unsigned int max_length;

	/*
	 * Two fileio blocks of bytes_per_datum * length / 2 bytes each; length
	 * sizes nothing else, so it is clamped in DMABUF mode too.
	 */
	if (bpd) {
		max_length = max_t(size_t, 2 * (max_fileio_block / bpd), 2);
		if (buffer->length > max_length)
			iio_dma_buffer_set_length(buffer, max_length);
	}

	return iio_dma_buffer_request_update(buffer);
}

static struct iio_dma_buffer_block *
iio_sim_attach_dmabuf(struct iio_buffer *buffer,
		      struct dma_buf_attachment *attach)
{
	struct device *dev = iio_sim_from_buffer(buffer)->queue.dev;
	struct iio_dma_buffer_block *block;

	/* Its DMA addresses are not physical ones: see "DMABUF access" */
	if (device_iommu_mapped(dev)) {
		dev_err(dev, "behind an IOMMU: DMABUFs not supported\n");
		return ERR_PTR(-EOPNOTSUPP);
	}

	block = iio_dma_buffer_attach_dmabuf(buffer, attach);
	if (!IS_ERR(block))
		__module_get(THIS_MODULE);

	return block;
}

static void iio_sim_detach_dmabuf(struct iio_buffer *buffer,
				  struct iio_dma_buffer_block *block)
{
	iio_dma_buffer_detach_dmabuf(buffer, block);
	module_put(THIS_MODULE);
}

static void iio_sim_buffer_release(struct iio_buffer *buffer)
{
	struct iio_sim *sim = iio_sim_from_buffer(buffer);
	unsigned long flags;

	hrtimer_cancel(&sim->timer);
	cancel_work_sync(&sim->work);
	iio_dma_buffer_release(&sim->queue);
	kfree(sim);

	/* Under the lock, so that module exit cannot free it under us */
	spin_lock_irqsave(&iio_sim_buffers_wq.lock, flags);
	if (atomic_dec_and_test(&iio_sim_buffers))
		wake_up_locked(&iio_sim_buffers_wq);
	spin_unlock_irqrestore(&iio_sim_buffers_wq.lock, flags);
}

static const struct iio_buffer_access_funcs iio_sim_access_funcs = {
	.read = iio_dma_buffer_read,
	.write = iio_dma_buffer_write,
	.set_bytes_per_datum = iio_dma_buffer_set_bytes_per_datum,
	.set_length = iio_dma_buffer_set_length,
	.request_update = iio_sim_request_update,
	.enable = iio_sim_buffer_enable,
	.disable = iio_dma_buffer_disable,
	.data_available = iio_dma_buffer_usage,
	.space_available = iio_dma_buffer_usage,
	.release = iio_sim_buffer_release,

	.enqueue_dmabuf = iio_dma_buffer_enqueue_dmabuf,
	.attach_dmabuf = iio_sim_attach_dmabuf,
	.detach_dmabuf = iio_sim_detach_dmabuf,

	.lock_queue = iio_dma_buffer_lock_queue,
	.unlock_queue = iio_dma_buffer_unlock_queue,

	.get_dma_dev = iio_dma_buffer_get_dma_dev,

	.modes = INDIO_BUFFER_HARDWARE,
	.flags = INDIO_BUFFER_FLAG_FIXED_WATERMARK,
};

static int iio_sim_read_raw(struct iio_dev *indio_dev,
			    struct iio_chan_spec const *chan,
			    int *val, int *val2, long mask)
{
	struct iio_sim_state *st = iio_priv(indio_dev);

	switch (mask) {
	case IIO_CHAN_INFO_SAMP_FREQ:
		*val = READ_ONCE(st->sim->rate);
		return IIO_VAL_INT;
	default:
		return -EINVAL;
	}
}

static int iio_sim_write_raw(struct iio_dev *indio_dev,
			     struct iio_chan_spec const *chan,
			     int val, int val2, long mask)
{
	struct iio_sim_state *st = iio_priv(indio_dev);
	int ret;

	switch (mask) {
	case IIO_CHAN_INFO_SAMP_FREQ:
		if (val < 0 || val2)
			return -EINVAL;
		ret = iio_device_claim_direct_mode(indio_dev);
		if (ret)
			return ret;
		WRITE_ONCE(st->sim->rate, val);
		iio_device_release_direct_mode(indio_dev);
		return 0;
	default:
		return -EINVAL;
	}
}

static int iio_sim_write_raw_get_fmt(struct iio_dev *indio_dev,
				     struct iio_chan_spec const *chan, long mask)
{
	return IIO_VAL_INT;
}

/* A u64 counter of the stats, at @offset in struct iio_sim_stats */
static ssize_t iio_sim_show_stat(struct device *dev, char *buf, size_t offset)
{
	struct iio_sim *sim = iio_sim_from_dev(dev);
	u64 val;

	spin_lock_irq(&sim->stats_lock);
	val = *(u64 *)((u8 *)&sim->stats + offset);
	spin_unlock_irq(&sim->stats_lock);

	return sysfs_emit(buf, "%llu\n", val);
}

static ssize_t sim_blocks_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return iio_sim_show_stat(dev, buf,
				 offsetof(struct iio_sim_stats, blocks));
}

static ssize_t sim_bytes_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return iio_sim_show_stat(dev, buf,
				 offsetof(struct iio_sim_stats, bytes));
}

static ssize_t sim_errors_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return iio_sim_show_stat(dev, buf,
				 offsetof(struct iio_sim_stats, errors));
}

static ssize_t sim_first_error_offset_show(struct device *dev,
					   struct device_attribute *attr,
					   char *buf)
{
	struct iio_sim *sim = iio_sim_from_dev(dev);
	s64 val;

	spin_lock_irq(&sim->stats_lock);
	val = sim->stats.first_error;
	spin_unlock_irq(&sim->stats_lock);

	return sysfs_emit(buf, "%lld\n", val);
}

static ssize_t sim_reset_store(struct device *dev,
			       struct device_attribute *attr,
			       const char *buf, size_t len)
{
	struct iio_sim *sim = iio_sim_from_dev(dev);
	bool val;
	int ret;

	ret = kstrtobool(buf, &val);
	if (ret)
		return ret;
	if (!val)
		return len;

	spin_lock_irq(&sim->stats_lock);
	sim->stats.blocks = 0;
	sim->stats.bytes = 0;
	sim->stats.errors = 0;
	sim->stats.first_error = -1;
	sim->stats.lost = 0;
	sim->stats.gaps = 0;
	/* The ADC's sample index only restarts when its buffer is enabled */
	if (sim->output)
		sim->reset_pending = true;
	spin_unlock_irq(&sim->stats_lock);

	return len;
}

static ssize_t sim_pattern_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct iio_sim *sim = iio_sim_from_dev(dev);

	return sysfs_emit(buf, "%s\n",
			  iio_sim_pattern_names[READ_ONCE(sim->pattern)]);
}

static ssize_t sim_pattern_store(struct device *dev,
				 struct device_attribute *attr,
				 const char *buf, size_t len)
{
	struct iio_dev *indio_dev = dev_to_iio_dev(dev);
	struct iio_sim *sim = iio_sim_from_dev(dev);
	int ret;

	ret = sysfs_match_string(iio_sim_pattern_names, buf);
	if (ret < 0)
		return ret;

	if (iio_device_claim_direct_mode(indio_dev))
		return -EBUSY;
	WRITE_ONCE(sim->pattern, ret);
	iio_device_release_direct_mode(indio_dev);

	return len;
}

static ssize_t sim_lost_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	return iio_sim_show_stat(dev, buf,
				 offsetof(struct iio_sim_stats, lost));
}

static ssize_t sim_gaps_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	return iio_sim_show_stat(dev, buf,
				 offsetof(struct iio_sim_stats, gaps));
}

static ssize_t sim_free_run_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct iio_sim *sim = iio_sim_from_dev(dev);

	return sysfs_emit(buf, "%d\n", READ_ONCE(sim->free_run));
}

static ssize_t sim_free_run_store(struct device *dev,
				  struct device_attribute *attr,
				  const char *buf, size_t len)
{
	struct iio_dev *indio_dev = dev_to_iio_dev(dev);
	struct iio_sim *sim = iio_sim_from_dev(dev);
	bool val;
	int ret;

	ret = kstrtobool(buf, &val);
	if (ret)
		return ret;

	if (iio_device_claim_direct_mode(indio_dev))
		return -EBUSY;
	WRITE_ONCE(sim->free_run, val);
	iio_device_release_direct_mode(indio_dev);

	return len;
}

static ssize_t sim_stall_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct iio_sim *sim = iio_sim_from_dev(dev);

	return sysfs_emit(buf, "%d\n", READ_ONCE(sim->stall));
}

static ssize_t sim_stall_store(struct device *dev,
			       struct device_attribute *attr,
			       const char *buf, size_t len)
{
	struct iio_sim *sim = iio_sim_from_dev(dev);
	bool val;
	int ret;

	ret = kstrtobool(buf, &val);
	if (ret)
		return ret;

	spin_lock_irq(&sim->queue.list_lock);
	WRITE_ONCE(sim->stall, val);
	/* The worker returned on the stall: wake it up for what is queued */
	if (!val && !sim->stopping)
		queue_work(iio_sim_wq, &sim->work);
	spin_unlock_irq(&sim->queue.list_lock);

	return len;
}

static IIO_DEVICE_ATTR_RO(sim_blocks, 0);
static IIO_DEVICE_ATTR_RO(sim_bytes, 0);
static IIO_DEVICE_ATTR_RO(sim_errors, 0);
static IIO_DEVICE_ATTR_RO(sim_first_error_offset, 0);
static IIO_DEVICE_ATTR_WO(sim_reset, 0);
static IIO_DEVICE_ATTR_RW(sim_pattern, 0);
static IIO_DEVICE_ATTR_RW(sim_stall, 0);
static IIO_DEVICE_ATTR_RO(sim_lost, 0);
static IIO_DEVICE_ATTR_RO(sim_gaps, 0);
static IIO_DEVICE_ATTR_RW(sim_free_run, 0);

static struct attribute *iio_sim_adc_attrs[] = {
	&iio_dev_attr_sim_blocks.dev_attr.attr,
	&iio_dev_attr_sim_bytes.dev_attr.attr,
	&iio_dev_attr_sim_reset.dev_attr.attr,
	&iio_dev_attr_sim_pattern.dev_attr.attr,
	&iio_dev_attr_sim_stall.dev_attr.attr,
	&iio_dev_attr_sim_lost.dev_attr.attr,
	&iio_dev_attr_sim_gaps.dev_attr.attr,
	&iio_dev_attr_sim_free_run.dev_attr.attr,
	NULL
};

static const struct attribute_group iio_sim_adc_group = {
	.attrs = iio_sim_adc_attrs,
};

static struct attribute *iio_sim_dac_attrs[] = {
	&iio_dev_attr_sim_blocks.dev_attr.attr,
	&iio_dev_attr_sim_bytes.dev_attr.attr,
	&iio_dev_attr_sim_errors.dev_attr.attr,
	&iio_dev_attr_sim_first_error_offset.dev_attr.attr,
	&iio_dev_attr_sim_reset.dev_attr.attr,
	&iio_dev_attr_sim_pattern.dev_attr.attr,
	&iio_dev_attr_sim_stall.dev_attr.attr,
	NULL
};

static const struct attribute_group iio_sim_dac_group = {
	.attrs = iio_sim_dac_attrs,
};

static const struct iio_info iio_sim_adc_info = {
	.read_raw = iio_sim_read_raw,
	.write_raw = iio_sim_write_raw,
	.write_raw_get_fmt = iio_sim_write_raw_get_fmt,
	.attrs = &iio_sim_adc_group,
};

static const struct iio_info iio_sim_dac_info = {
	.read_raw = iio_sim_read_raw,
	.write_raw = iio_sim_write_raw,
	.write_raw_get_fmt = iio_sim_write_raw_get_fmt,
	.attrs = &iio_sim_dac_group,
};

static void iio_sim_buffer_free(void *data)
{
	struct iio_sim *sim = data;

	iio_dma_buffer_exit(&sim->queue);
	iio_buffer_put(&sim->queue.buffer);
}

static int iio_sim_register(struct device *dev, bool output, const char *name)
{
	struct iio_chan_spec *chans;
	struct iio_sim_state *st;
	struct iio_dev *indio_dev;
	struct iio_sim *sim;
	unsigned int i;
	int ret;

	indio_dev = devm_iio_device_alloc(dev, sizeof(*st));
	if (!indio_dev)
		return -ENOMEM;

	chans = devm_kcalloc(dev, channels, sizeof(*chans), GFP_KERNEL);
	if (!chans)
		return -ENOMEM;

	for (i = 0; i < channels; i++) {
		chans[i] = (struct iio_chan_spec) {
			.type = IIO_VOLTAGE,
			.indexed = 1,
			.channel = i,
			.output = output,
			.scan_index = i,
			.info_mask_shared_by_all = BIT(IIO_CHAN_INFO_SAMP_FREQ),
			.scan_type = {
				.sign = 's',
				.realbits = 16,
				.storagebits = 16,
				.endianness = IIO_LE,
			},
		};
	}

	sim = kzalloc(sizeof(*sim), GFP_KERNEL);
	if (!sim)
		return -ENOMEM;
	atomic_inc(&iio_sim_buffers);

	sim->output = output;
	sim->pattern = iio_sim_default_pattern;
	sim->rate = sampling_frequency;
	sim->stopping = true;
	sim->stats.first_error = -1;
	INIT_LIST_HEAD(&sim->active);
	spin_lock_init(&sim->stats_lock);
	INIT_WORK(&sim->work, iio_sim_work);
	hrtimer_init(&sim->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	sim->timer.function = iio_sim_timer;

	iio_dma_buffer_init(&sim->queue, dev, &iio_sim_dma_ops);
	sim->queue.buffer.access = &iio_sim_access_funcs;
	sim->queue.buffer.direction = output ? IIO_BUFFER_DIRECTION_OUT :
					       IIO_BUFFER_DIRECTION_IN;

	ret = devm_add_action_or_reset(dev, iio_sim_buffer_free, sim);
	if (ret)
		return ret;

	st = iio_priv(indio_dev);
	st->sim = sim;
	indio_dev->name = name;
	indio_dev->label = name;
	indio_dev->info = output ? &iio_sim_dac_info : &iio_sim_adc_info;
	indio_dev->modes = INDIO_DIRECT_MODE | INDIO_BUFFER_HARDWARE;
	indio_dev->channels = chans;
	indio_dev->num_channels = channels;

	ret = iio_device_attach_buffer(indio_dev, &sim->queue.buffer);
	if (ret)
		return ret;

	return devm_iio_device_register(dev, indio_dev);
}

static int iio_sim_probe(struct platform_device *pdev)
{
	unsigned int i;
	int ret;

	/*
	 * DMABUFs are mapped for this device with segments as large as the
	 * exporter makes them (the system heap: up to 1 MiB); the default
	 * 64 KiB limit makes DMA-API debugging reject those mappings.
	 */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);

#if defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_DEVICE) || \
	defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU) || \
	defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU_ALL)
	/*
	 * The simulated DMA is the CPU, reading and writing through its own
	 * caches: the device is cache-coherent by construction. Say so, so
	 * that its mappings need no cache maintenance (dma_need_sync() false)
	 * on architectures whose platform devices default to non-coherent
	 * (arm64, arm); x86 has no such flag and is coherent anyway.
	 */
	pdev->dev.dma_coherent = true;
#endif

	ret = iio_sim_register(&pdev->dev, false, "iio-sim-adc");
	if (ret)
		return ret;

	ret = iio_sim_register(&pdev->dev, true, "iio-sim-dac");
	if (ret)
		return ret;

	/* The extra ADCs come last: the first ADC and the DAC keep their ids */
	for (i = 1; i < adcs; i++) {
		const char *name = devm_kasprintf(&pdev->dev, GFP_KERNEL,
						  "iio-sim-adc%u", i);

		if (!name)
			return -ENOMEM;
		ret = iio_sim_register(&pdev->dev, false, name);
		if (ret)
			return ret;
	}

	return 0;
}

static struct platform_driver iio_sim_driver = {
	.driver = {
		.name = "iio-sim",
	},
	.probe = iio_sim_probe,
};

static int __init iio_sim_init(void)
{
	const struct platform_device_info info = {
		.name = "iio-sim",
		.id = PLATFORM_DEVID_NONE,
		/* DMABUFs are mapped for this device: no bouncing */
		.dma_mask = DMA_BIT_MASK(64),
	};
	int ret;

	if (!channels || channels > IIO_SIM_MAX_CHANNELS) {
		pr_err("iio-sim: channels must be 1 to %d\n",
		       IIO_SIM_MAX_CHANNELS);
		return -EINVAL;
	}
	if (!adcs || adcs > IIO_SIM_MAX_ADCS) {
		pr_err("iio-sim: adcs must be 1 to %d\n", IIO_SIM_MAX_ADCS);
		return -EINVAL;
	}
	if (!max_fileio_block || max_fileio_block > IIO_SIM_FILEIO_BLOCK_MAX) {
		pr_err("iio-sim: max_fileio_block must be 1 to %d\n",
		       IIO_SIM_FILEIO_BLOCK_MAX);
		return -EINVAL;
	}
	ret = match_string(iio_sim_pattern_names,
			   ARRAY_SIZE(iio_sim_pattern_names), pattern);
	if (ret < 0) {
		pr_err("iio-sim: pattern must be full or header\n");
		return ret;
	}
	iio_sim_default_pattern = ret;

	iio_sim_wq = alloc_workqueue("iio-sim", WQ_UNBOUND, 0);
	if (!iio_sim_wq)
		return -ENOMEM;

	ret = platform_driver_register(&iio_sim_driver);
	if (ret)
		goto err_destroy_wq;

	iio_sim_pdev = platform_device_register_full(&info);
	if (IS_ERR(iio_sim_pdev)) {
		ret = PTR_ERR(iio_sim_pdev);
		goto err_unregister_driver;
	}

	return 0;

err_unregister_driver:
	platform_driver_unregister(&iio_sim_driver);
err_destroy_wq:
	destroy_workqueue(iio_sim_wq);
	return ret;
}
module_init(iio_sim_init);

static void __exit iio_sim_exit(void)
{
	platform_device_unregister(iio_sim_pdev);
	platform_driver_unregister(&iio_sim_driver);

	if (atomic_read(&iio_sim_buffers))
		pr_info("iio-sim: waiting for %d buffer(s) still in use\n",
			atomic_read(&iio_sim_buffers));
	wait_event(iio_sim_buffers_wq, !atomic_read(&iio_sim_buffers));
	/* Let the last release leave its critical section */
	spin_lock_irq(&iio_sim_buffers_wq.lock);
	spin_unlock_irq(&iio_sim_buffers_wq.lock);

	destroy_workqueue(iio_sim_wq);
}
module_exit(iio_sim_exit);

MODULE_AUTHOR("iiousb project");
MODULE_DESCRIPTION("Simulated IIO ADCs and DAC with DMA buffers and DMABUF support");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(IIO_DMA_BUFFER);
