#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpfload.h"
#include "reorder.h"
#include "tcpwatch.h"
#include "tcpwatch.skel.h"

struct ring_ctx {
	struct tw_bpf *b;
	unsigned cpu;
};

struct tw_bpf {
	struct tcpwatch_bpf *skel;
	struct ring_buffer *rb;
	bpf_event_cb cb;
	void *ctx;
	int ncpus;
	int *ring_fds;
	struct ring_ctx *ring_ctx;
	struct tw_reorder *reorder;
	uint64_t reorder_dropped;
	uint64_t *percpu; /* scratch for reading the lost counter */
};

/* A record from one CPU's ring: held until it is safe to release in
 * time order (reorder.h). */
static int on_record(void *ctx, void *data, size_t len)
{
	struct ring_ctx *rc = ctx;
	const struct tcpwatch_event *e = data;

	if (len < sizeof(*e)) {
		/* Not ours to judge: events_decode() counts it malformed. */
		rc->b->cb(data, len, rc->b->ctx);
		return 0;
	}
	if (reorder_push(rc->b->reorder, rc->cpu, data, len, e->time_ns) < 0)
		rc->b->reorder_dropped++;
	return 0;
}

static void on_release(const void *rec, size_t len, void *data)
{
	struct tw_bpf *b = data;

	b->cb(rec, len, b->ctx);
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The per-CPU rings: the first one also serves as the template the
 * program is verified against (same type and size as the others). */
static int make_rings(struct tw_bpf *b, uint32_t ring_size, char *err, size_t err_len)
{
	b->ring_fds = calloc((size_t)b->ncpus, sizeof(*b->ring_fds));
	b->ring_ctx = calloc((size_t)b->ncpus, sizeof(*b->ring_ctx));
	if (!b->ring_fds || !b->ring_ctx) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (int cpu = 0; cpu < b->ncpus; cpu++)
		b->ring_fds[cpu] = -1;
	for (int cpu = 0; cpu < b->ncpus; cpu++) {
		b->ring_fds[cpu] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, ring_size, NULL);
		if (b->ring_fds[cpu] < 0) {
			int e = errno;

			snprintf(err, err_len, "cannot create a %u-byte ring buffer: %s", ring_size,
				 strerror(e));
			return -e;
		}
		b->ring_ctx[cpu] = (struct ring_ctx){ .b = b, .cpu = (unsigned)cpu };
	}
	bpf_map__set_max_entries(b->skel->maps.rings, (uint32_t)b->ncpus);
	return bpf_map__set_inner_map_fd(b->skel->maps.rings, b->ring_fds[0]);
}

static int attach_rings(struct tw_bpf *b, char *err, size_t err_len)
{
	int outer = bpf_map__fd(b->skel->maps.rings);

	for (int cpu = 0; cpu < b->ncpus; cpu++) {
		uint32_t key = (uint32_t)cpu;
		int r;

		if (bpf_map_update_elem(outer, &key, &b->ring_fds[cpu], BPF_ANY) < 0) {
			snprintf(err, err_len, "cannot install the ring of CPU %d: %s", cpu,
				 strerror(errno));
			return -errno;
		}
		if (!b->rb) {
			b->rb = ring_buffer__new(b->ring_fds[cpu], on_record, &b->ring_ctx[cpu], NULL);
			r = b->rb ? 0 : -errno;
		} else {
			r = ring_buffer__add(b->rb, b->ring_fds[cpu], on_record, &b->ring_ctx[cpu]);
		}
		if (r < 0) {
			snprintf(err, err_len, "cannot read the ring buffers: %s", strerror(-r));
			return r;
		}
	}
	return 0;
}

struct tw_bpf *bpfload_open(uint32_t ringbuf_bytes, uint32_t netns_filter, bpf_event_cb cb,
			    void *ctx, char *err, size_t err_len)
{
	struct tw_bpf *b = calloc(1, sizeof(*b));
	uint32_t ring_size = 1u << 16;
	int r;

	if (!b) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	libbpf_set_print(quiet_print);
	b->cb = cb;
	b->ctx = ctx;
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		snprintf(err, err_len,
			 "this kernel has no BTF (/sys/kernel/btf/vmlinux): tcpwatchd needs "
			 "CONFIG_DEBUG_INFO_BTF=y (Linux 5.8 or later)");
		goto fail;
	}
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus <= 0) {
		snprintf(err, err_len, "cannot count CPUs: %s", strerror(-b->ncpus));
		goto fail;
	}
	/* The configured size is shared by the CPUs; each ring a power of
	 * two, at least 256 KiB. */
	while ((uint64_t)ring_size * (uint64_t)b->ncpus < ringbuf_bytes && ring_size < (1u << 30))
		ring_size <<= 1;
	if (ring_size < (256u << 10))
		ring_size = 256u << 10;
	b->percpu = calloc((size_t)b->ncpus, sizeof(*b->percpu));
	/* Room for two full rings per CPU: a drain may take a whole ring
	 * while the last one's newest records are still held. */
	b->reorder = reorder_new((unsigned)b->ncpus, sizeof(struct tcpwatch_event),
				 2 * (ring_size / sizeof(struct tcpwatch_event) + 1));
	b->skel = tcpwatch_bpf__open();
	if (!b->percpu || !b->reorder || !b->skel) {
		snprintf(err, err_len, "cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	b->skel->rodata->filter_netns = netns_filter;
	/* Wake the reader early when a sixteenth of a ring is full;
	 * otherwise its drain timer (BPFLOAD_DRAIN_MS) collects the records. */
	b->skel->rodata->wakeup_bytes = ring_size / 16;
	if (make_rings(b, ring_size, err, err_len) < 0)
		goto fail;
	r = tcpwatch_bpf__load(b->skel);
	if (r) {
		if (r == -EPERM || (r == -EACCES && geteuid() != 0))
			snprintf(err, err_len,
				 "cannot load the BPF programs (%s): tcpwatchd needs root or "
				 "CAP_BPF+CAP_PERFMON",
				 strerror(-r));
		else
			snprintf(err, err_len,
				 "cannot load the BPF programs (%s): this kernel rejected them "
				 "(see the verifier log above); tcpwatchd needs BTF and tp_btf "
				 "tracepoints (Linux 5.8 or later)",
				 strerror(-r));
		goto fail;
	}
	if (attach_rings(b, err, err_len) < 0)
		goto fail;
	r = tcpwatch_bpf__attach(b->skel);
	if (r) {
		snprintf(err, err_len, "cannot attach the BPF programs: %s", strerror(-r));
		goto fail;
	}
	return b;
fail:
	bpfload_close(b);
	return NULL;
}

void bpfload_close(struct tw_bpf *b)
{
	if (!b)
		return;
	ring_buffer__free(b->rb);
	tcpwatch_bpf__destroy(b->skel);
	for (int cpu = 0; b->ring_fds && cpu < b->ncpus; cpu++)
		if (b->ring_fds[cpu] >= 0)
			close(b->ring_fds[cpu]);
	free(b->ring_fds);
	free(b->ring_ctx);
	reorder_free(b->reorder);
	free(b->percpu);
	free(b);
}

int bpfload_epoll_fd(struct tw_bpf *b)
{
	return ring_buffer__epoll_fd(b->rb);
}

int bpfload_consume(struct tw_bpf *b)
{
	/* The watermark is taken before reading: whatever is still unseen
	 * was stamped after it minus the delay bound. */
	uint64_t watermark = mono_ns() - TW_REORDER_DELAY_NS;
	int r = ring_buffer__consume(b->rb);

	if (r < 0)
		return r;
	return (int)reorder_release(b->reorder, watermark, on_release, b);
}

uint64_t bpfload_recursion_misses(struct tw_bpf *b)
{
	struct bpf_program *prog;
	uint64_t sum = 0;

	bpf_object__for_each_program(prog, b->skel->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0)
			sum += info.recursion_misses;
	}
	return sum;
}

uint64_t bpfload_lost(struct tw_bpf *b)
{
	uint32_t zero = 0;
	uint64_t sum = b->reorder_dropped;

	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.lost_events), &zero, b->percpu) == 0)
		for (int i = 0; i < b->ncpus; i++)
			sum += b->percpu[i];
	return sum + bpfload_recursion_misses(b);
}
