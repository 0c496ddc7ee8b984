#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpfload.h"
#include "tcpwatch.skel.h"

struct tw_bpf {
	struct tcpwatch_bpf *skel;
	struct ring_buffer *rb;
	bpf_event_cb cb;
	void *ctx;
	int ncpus;
	uint64_t *percpu; /* scratch for reading the lost counter */
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct tw_bpf *b = ctx;

	b->cb(data, len, b->ctx);
	return 0;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

struct tw_bpf *bpfload_open(uint32_t ringbuf_bytes, uint32_t netns_filter, bpf_event_cb cb,
			    void *ctx, char *err, size_t err_len)
{
	struct tw_bpf *b = calloc(1, sizeof(*b));
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
	b->percpu = calloc((size_t)b->ncpus, sizeof(*b->percpu));
	b->skel = tcpwatch_bpf__open();
	if (!b->percpu || !b->skel) {
		snprintf(err, err_len, "cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	b->skel->rodata->filter_netns = netns_filter;
	/* Ring buffer size: a power of two multiple of the page size. */
	{
		uint32_t size = 1u << 16;

		while (size < ringbuf_bytes && size < (1u << 30))
			size <<= 1;
		bpf_map__set_max_entries(b->skel->maps.events, size);
		/* Wake the reader early when a sixteenth is full; otherwise
		 * its drain timer (BPFLOAD_DRAIN_MS) collects the records. */
		b->skel->rodata->wakeup_bytes = size / 16;
	}
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
	r = tcpwatch_bpf__attach(b->skel);
	if (r) {
		snprintf(err, err_len, "cannot attach the BPF programs: %s", strerror(-r));
		goto fail;
	}
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), on_record, b, NULL);
	if (!b->rb) {
		snprintf(err, err_len, "cannot open the ring buffer: %s", strerror(errno));
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
	free(b->percpu);
	free(b);
}

int bpfload_epoll_fd(struct tw_bpf *b)
{
	return ring_buffer__epoll_fd(b->rb);
}

int bpfload_consume(struct tw_bpf *b)
{
	return ring_buffer__consume(b->rb);
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
	uint64_t sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.lost_events), &zero, b->percpu) == 0)
		for (int i = 0; i < b->ncpus; i++)
			sum += b->percpu[i];
	return sum + bpfload_recursion_misses(b);
}
