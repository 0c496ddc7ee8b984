#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bpfload.h"
#include "clock.h"
#include "ringmerge.h"
#include "tcpwatch.h"
#include "tcpwatch.skel.h"

/* One ring as mapped (the kernel's layout, see ringmerge.h). */
struct ring_mmap {
	void *consumer; /* one page, read-write */
	void *producer; /* one page, then the data twice, read-only */
	size_t producer_len;
};

struct tw_bpf {
	struct tcpwatch_bpf *skel;
	bpf_event_cb cb;
	void *ctx;
	int ncpus;
	int nrings; /* two per CPU: ring cpu * 2 + context (task, interrupt) */
	int *ring_fds;
	struct ring_mmap *maps;
	struct tw_ringmerge *merge;
	int epoll_fd;            /* the rings, edge-triggered: readable on a wakeup */
	uint64_t *percpu;        /* scratch for reading the per-CPU counters */
	bool drops;              /* kfree_skb is traced */
	const char *accept_mode; /* how accept() is traced, or "off" */
};

#define ACCEPT4_TRACEPOINT "/sys/kernel/tracing/events/syscalls/sys_exit_accept4/id"

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void bpfload_init(void)
{
	libbpf_set_print(quiet_print);
}

/* The rings, two per CPU (one per context, bpf/tcpwatch.bpf.c): the
 * first one also serves as the template the program is verified against
 * (same type and size as the others). */
static int make_rings(struct tw_bpf *b, uint32_t ring_size, char *err, size_t err_len)
{
	b->ring_fds = calloc((size_t)b->nrings, sizeof(*b->ring_fds));
	b->maps = calloc((size_t)b->nrings, sizeof(*b->maps));
	b->merge = ringmerge_new((unsigned)b->nrings);
	if (!b->ring_fds || !b->maps || !b->merge) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (int cpu = 0; cpu < b->nrings; cpu++)
		b->ring_fds[cpu] = -1;
	for (int cpu = 0; cpu < b->nrings; cpu++) {
		b->ring_fds[cpu] =
			bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, ring_size, NULL);
		if (b->ring_fds[cpu] < 0) {
			int e = errno;

			snprintf(err, err_len, "cannot create a %u-byte ring buffer: %s", ring_size,
				 strerror(e));
			return -e;
		}
	}
	return 0;
}

/*
 * Opens the object and configures it for one load attempt. with_optional
 * false leaves out what an older kernel may lack (kfree_skb's rx_sk
 * argument, the syscall tracepoints): the state-change tracing is what
 * must load.
 */
static bool kconfig_readable(void)
{
	struct utsname u;
	char path[128];

	if (access("/proc/config.gz", R_OK) == 0)
		return true;
	if (uname(&u) < 0)
		return false;
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	return access(path, R_OK) == 0;
}

static int open_skel(struct tw_bpf *b, uint32_t netns_filter, uint32_t ring_size,
		     bool with_optional)
{
	/* CONFIG_HZ comes from the kernel's configuration, which libbpf reads
	 * from /boot or /proc/config.gz; where neither can be read (a custom
	 * kernel, a container) it is 0 (timers unknown), not a failed load. */
	LIBBPF_OPTS(bpf_object_open_opts, opts,
		    .kconfig = kconfig_readable() ? NULL : "CONFIG_HZ=0");
	struct tcpwatch_bpf *skel = tcpwatch_bpf__open_opts(&opts);

	if (!skel)
		return -errno;
	b->skel = skel;
	skel->rodata->filter_netns = netns_filter;
	/* Wake the reader early each sixteenth of a ring a CPU writes;
	 * otherwise its drain timer (BPFLOAD_DRAIN_MS) collects the records. */
	skel->rodata->wakeup_bytes = ring_size / 16;
	bpf_map__set_max_entries(skel->maps.rings, (uint32_t)b->nrings);
	if (!with_optional) {
		bpf_program__set_autoload(skel->progs.handle_kfree_skb, false);
		bpf_program__set_autoload(skel->progs.nest_kfree_skb, false);
		bpf_program__set_autoload(skel->progs.handle_accept4, false);
		bpf_program__set_autoload(skel->progs.handle_accept, false);
		bpf_program__set_autoload(skel->progs.handle_sys_exit, false);
	}
	return bpf_map__set_inner_map_fd(skel->maps.rings, b->ring_fds[0]);
}

/* The syscall tracepoints need tracefs (the tracepoint's id is read
 * there): mounted if it is not. */
static bool tracefs_ready(void)
{
	if (access(ACCEPT4_TRACEPOINT, R_OK) == 0)
		return true;
	mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
	return access(ACCEPT4_TRACEPOINT, R_OK) == 0;
}

static int attach_one(struct bpf_program *prog, struct bpf_link **ret)
{
	struct bpf_link *l = bpf_program__attach(prog);

	if (!l)
		return -errno;
	*ret = l;
	return 0;
}

/*
 * Attaches the programs one by one: the state changes, retransmits and
 * resets must attach; accept() is traced through its own syscall
 * tracepoints where they can be had (they run only for accept), else
 * through every syscall's exit.
 */
static int attach_programs(struct tw_bpf *b, char *err, size_t err_len)
{
	struct tcpwatch_bpf *s = b->skel;
	struct {
		struct bpf_program *prog;
		struct bpf_link **link;
	} required[] = {
		{s->progs.handle_set_state, &s->links.handle_set_state},
		{s->progs.handle_retransmit, &s->links.handle_retransmit},
		{s->progs.handle_retransmit_synack, &s->links.handle_retransmit_synack},
		{s->progs.handle_send_reset, &s->links.handle_send_reset},
		{s->progs.handle_receive_reset, &s->links.handle_receive_reset},
		{s->progs.nest_set_state, &s->links.nest_set_state},
		{s->progs.nest_retransmit, &s->links.nest_retransmit},
		{s->progs.nest_retransmit_synack, &s->links.nest_retransmit_synack},
		{s->progs.nest_send_reset, &s->links.nest_send_reset},
		{s->progs.nest_receive_reset, &s->links.nest_receive_reset},
	};
	int r;

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		r = attach_one(required[i].prog, required[i].link);
		if (r < 0) {
			snprintf(err, err_len, "cannot attach %s: %s",
				 bpf_program__name(required[i].prog), strerror(-r));
			return r;
		}
	}
	b->drops = bpf_program__autoload(s->progs.handle_kfree_skb) &&
		   attach_one(s->progs.handle_kfree_skb, &s->links.handle_kfree_skb) == 0;
	if (b->drops && attach_one(s->progs.nest_kfree_skb, &s->links.nest_kfree_skb) < 0) {
		bpf_link__destroy(s->links.handle_kfree_skb);
		s->links.handle_kfree_skb = NULL;
		b->drops = false;
	}
	b->accept_mode = "off";
	if (!bpf_program__autoload(s->progs.handle_accept4))
		return 0;
	if (tracefs_ready() && attach_one(s->progs.handle_accept4, &s->links.handle_accept4) == 0) {
		if (attach_one(s->progs.handle_accept, &s->links.handle_accept) == 0) {
			b->accept_mode = "syscall_tracepoints";
			return 0;
		}
		bpf_link__destroy(s->links.handle_accept4);
		s->links.handle_accept4 = NULL;
	}
	if (attach_one(s->progs.handle_sys_exit, &s->links.handle_sys_exit) == 0)
		b->accept_mode = "sys_exit";
	return 0;
}

/* Maps one ring the way the kernel lays it out: the consumer page
 * writable, the producer page and the data (twice) read-only. */
static int map_ring(struct tw_bpf *b, int cpu, uint32_t ring_size)
{
	long page = sysconf(_SC_PAGESIZE);
	struct ring_mmap *m = &b->maps[cpu];
	void *p;

	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, b->ring_fds[cpu], 0);
	if (p == MAP_FAILED)
		return -errno;
	m->consumer = p;
	m->producer_len = (size_t)page + 2 * (size_t)ring_size;
	p = mmap(NULL, m->producer_len, PROT_READ, MAP_SHARED, b->ring_fds[cpu], page);
	if (p == MAP_FAILED)
		return -errno;
	m->producer = p;
	ringmerge_set(b->merge, (unsigned)cpu,
		      &(struct tw_ring_map){
			      .consumer_pos = m->consumer,
			      .producer_pos = m->producer,
			      .data = (const uint8_t *)m->producer + page,
			      .size = ring_size,
		      });
	return 0;
}

/*
 * Puts the rings in the outer map. Each update of a map of maps waits for
 * an RCU grace period (maybe_wait_bpf_programs()), 7 to 15 ms here: one
 * batch update waits once, for all of them. A kernel without batches for
 * these maps gets them one by one.
 */
static int install_rings(struct tw_bpf *b, int outer, char *err, size_t err_len)
{
	uint32_t *keys = calloc((size_t)b->nrings, sizeof(*keys)), count = (uint32_t)b->nrings;
	bool batched = false;

	if (keys) {
		for (int cpu = 0; cpu < b->nrings; cpu++)
			keys[cpu] = (uint32_t)cpu;
		batched = bpf_map_update_batch(outer, keys, b->ring_fds, &count, NULL) == 0 &&
			  count == (uint32_t)b->nrings;
		free(keys);
	}
	for (int cpu = 0; !batched && cpu < b->nrings; cpu++) {
		uint32_t key = (uint32_t)cpu;

		if (bpf_map_update_elem(outer, &key, &b->ring_fds[cpu], BPF_ANY) < 0) {
			int e = errno;

			snprintf(err, err_len, "cannot install ring %d (CPU %d): %s", cpu, cpu / 2,
				 strerror(e));
			return -e;
		}
	}
	return 0;
}

static int attach_rings(struct tw_bpf *b, uint32_t ring_size, char *err, size_t err_len)
{
	int outer = bpf_map__fd(b->skel->maps.rings), r;

	b->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epoll_fd < 0) {
		int e = errno;

		snprintf(err, err_len, "cannot create an epoll instance: %s", strerror(e));
		return -e;
	}
	r = install_rings(b, outer, err, err_len);
	if (r < 0)
		return r;
	for (int cpu = 0; cpu < b->nrings; cpu++) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)cpu};

		r = map_ring(b, cpu, ring_size);
		if (r < 0) {
			snprintf(err, err_len, "cannot map ring %d (CPU %d): %s", cpu, cpu / 2,
				 strerror(-r));
			return r;
		}
		/* Edge-triggered: records younger than the reorder delay stay
		 * in the ring, and must not keep the loop spinning. */
		if (epoll_ctl(b->epoll_fd, EPOLL_CTL_ADD, b->ring_fds[cpu], &ev) < 0) {
			int e = errno;

			snprintf(err, err_len, "cannot watch ring %d (CPU %d): %s", cpu, cpu / 2,
				 strerror(e));
			return -e;
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
	b->cb = cb;
	b->ctx = ctx;
	b->epoll_fd = -1;
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
	/* The configured size is shared by the rings, two per CPU; each a
	 * power of two pages, the smallest whose sum reaches it (a tiny one
	 * is how the loss tests overflow them). */
	b->nrings = b->ncpus * 2;
	ring_size = 4096;
	while ((uint64_t)ring_size * (uint64_t)b->nrings < ringbuf_bytes && ring_size < (1u << 30))
		ring_size <<= 1;
	b->percpu = calloc((size_t)b->ncpus, sizeof(*b->percpu));
	if (!b->percpu) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	if (make_rings(b, ring_size, err, err_len) < 0)
		goto fail;
	/* Everything first; an older kernel that refuses the optional
	 * programs gets the object without them. */
	r = open_skel(b, netns_filter, ring_size, true);
	if (r == 0)
		r = tcpwatch_bpf__load(b->skel);
	if (r && r != -EPERM) {
		tcpwatch_bpf__destroy(b->skel);
		b->skel = NULL;
		r = open_skel(b, netns_filter, ring_size, false);
		if (r == 0)
			r = tcpwatch_bpf__load(b->skel);
	}
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
	if (attach_rings(b, ring_size, err, err_len) < 0 || attach_programs(b, err, err_len) < 0)
		goto fail;
	return b;
fail:
	bpfload_close(b);
	return NULL;
}

void bpfload_close(struct tw_bpf *b)
{
	if (!b)
		return;
	tcpwatch_bpf__destroy(b->skel);
	for (int cpu = 0; b->maps && cpu < b->nrings; cpu++) {
		if (b->maps[cpu].consumer)
			munmap(b->maps[cpu].consumer, (size_t)sysconf(_SC_PAGESIZE));
		if (b->maps[cpu].producer)
			munmap(b->maps[cpu].producer, b->maps[cpu].producer_len);
	}
	for (int cpu = 0; b->ring_fds && cpu < b->nrings; cpu++)
		if (b->ring_fds[cpu] >= 0)
			close(b->ring_fds[cpu]);
	if (b->epoll_fd >= 0)
		close(b->epoll_fd);
	free(b->ring_fds);
	free(b->maps);
	ringmerge_free(b->merge);
	free(b->percpu);
	free(b);
}

int bpfload_epoll_fd(struct tw_bpf *b)
{
	return b->epoll_fd;
}

static void on_release(const void *rec, size_t len, void *data)
{
	struct tw_bpf *b = data;

	b->cb(rec, len, b->ctx);
}

int bpfload_consume(struct tw_bpf *b)
{
	struct epoll_event evs[64];
	/* The watermark is taken before reading: whatever is still unseen
	 * was stamped after it minus the delay bound. */
	uint64_t watermark = clock_mono_ns() - TW_REORDER_DELAY_NS;

	/* Collect the wakeups, so the fd is quiet until the next one. */
	while (epoll_wait(b->epoll_fd, evs, 64, 0) == 64)
		;
	return (int)ringmerge_release(b->merge, watermark, on_release, b);
}

/* A program's skipped runs (the kernel's recursion guard). */
static uint64_t prog_misses(struct bpf_program *prog)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_program__fd(prog) < 0 ||
	    bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) < 0)
		return 0;
	return info.recursion_misses;
}

/* The programs loaded twice (bpf/tcpwatch.bpf.c): a run one copy skips,
 * the other serves, unless the context could not be told (ctx_unknown),
 * when the second copies serve nothing and the first's skips are lost. */
static bool first_copy(const struct tcpwatch_bpf *s, const struct bpf_program *prog)
{
	return prog == s->progs.handle_set_state || prog == s->progs.handle_retransmit ||
	       prog == s->progs.handle_retransmit_synack || prog == s->progs.handle_send_reset ||
	       prog == s->progs.handle_receive_reset || prog == s->progs.handle_kfree_skb;
}

static bool second_copy(const struct tcpwatch_bpf *s, const struct bpf_program *prog)
{
	return prog == s->progs.nest_set_state || prog == s->progs.nest_retransmit ||
	       prog == s->progs.nest_retransmit_synack || prog == s->progs.nest_send_reset ||
	       prog == s->progs.nest_receive_reset || prog == s->progs.nest_kfree_skb;
}

void bpfload_losses(struct tw_bpf *b, struct tw_bpf_losses *ret)
{
	bool ctx_known = !b->skel->bss->ctx_unknown;
	struct bpf_program *prog;
	uint32_t zero = 0;

	*ret = (struct tw_bpf_losses){0};
	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.lost_events), &zero, b->percpu) == 0)
		for (int i = 0; i < b->ncpus; i++)
			ret->ring += b->percpu[i];
	/* One pass over the programs' skipped runs. */
	bpf_object__for_each_program (prog, b->skel->obj) {
		bool first = first_copy(b->skel, prog), second = second_copy(b->skel, prog);
		uint64_t misses = prog_misses(prog);

		if (ctx_known && (first || second))
			ret->handed_over += misses;
		else if (!second)
			ret->nested += misses;
	}
}

int bpfload_lost_per_cpu(struct tw_bpf *b, uint64_t *ret, int max)
{
	uint32_t zero = 0;
	int n = b->ncpus < max ? b->ncpus : max;

	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.lost_events), &zero, b->percpu) < 0)
		return -errno;
	for (int i = 0; i < n; i++)
		ret[i] = b->percpu[i];
	return n;
}

uint64_t bpfload_lost(struct tw_bpf *b)
{
	struct tw_bpf_losses l;

	bpfload_losses(b, &l);
	return l.ring + l.nested;
}

int bpfload_drops(struct tw_bpf *b, uint64_t *ret, unsigned n)
{
	int fd;

	if (!b->drops)
		return -ENOENT;
	fd = bpf_map__fd(b->skel->maps.drops_by_reason);
	for (uint32_t reason = 0; reason < n && reason < TCPWATCH_DROP_REASONS; reason++) {
		ret[reason] = 0;
		if (bpf_map_lookup_elem(fd, &reason, b->percpu) == 0)
			for (int i = 0; i < b->ncpus; i++)
				ret[reason] += b->percpu[i];
	}
	return 0;
}

void bpfload_report(struct tw_bpf *b, const struct tw_bpf_losses *l, struct tw_stats *s)
{
	stats_counter(s, "events_lost", l->ring + l->nested);
	stats_counter(s, "events_nested_lost", l->nested);
	stats_counter(s, "events_nested_handed_over", l->handed_over);
	/* How far the reader is behind: what the rings hold unread, and the
	 * age of the oldest record the last read held back (they wait
	 * TW_REORDER_DELAY_NS for the other CPUs' records). */
	stats_gauge(s, "events_unread_bytes", ringmerge_pending_bytes(b->merge));
	{
		uint64_t oldest = ringmerge_oldest_held_ns(b->merge), now = clock_mono_ns();

		stats_real(s, "events_unread_oldest_ms",
			   oldest && now > oldest ? (double)(now - oldest) / 1e6 : 0.0);
	}
	stats_gauge(s, "trace_drops", b->drops);
	stats_text(s, "trace_accept", b->accept_mode);
}
