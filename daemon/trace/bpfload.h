/* Loads and attaches bpf/tcpwatch.bpf.c and reads its ring buffer. */
#ifndef TCPWATCH_BPFLOAD_H
#define TCPWATCH_BPFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

struct tw_bpf;

/* Called for every ring-buffer record; data is borrowed until return. */
typedef void (*bpf_event_cb)(const void *data, size_t len, void *ctx);

/* Once, before any BPF object is opened, on any thread: libbpf's messages
 * without its debug ones. */
void bpfload_init(void);

/*
 * Opens, configures, loads and attaches the programs. netns_filter 0 traces
 * every namespace. On failure returns NULL and writes a message for an
 * operator into err (missing BTF, privileges...).
 */
struct tw_bpf *bpfload_open(uint32_t ringbuf_bytes, uint32_t netns_filter, bpf_event_cb cb,
			    void *ctx, char *err, size_t err_len);
void bpfload_close(struct tw_bpf *b);
/* Records are submitted without waking the reader (each wakeup is an IPI
 * per TCP state change); drain at least this often. */
#define BPFLOAD_DRAIN_MS 20

/* An fd that becomes readable when much data is waiting. */
int bpfload_epoll_fd(struct tw_bpf *b);
/* Consumes every waiting record. Returns how many, or negative errno. */
int bpfload_consume(struct tw_bpf *b);
/* Events lost and not, all CPUs, read in one pass. */
struct tw_bpf_losses {
	uint64_t ring;        /* records that found the ring buffer full */
	uint64_t nested;      /* tracepoint hits the kernel skipped because the
			       * program was already running on that CPU and no
			       * other copy served them (BPF does not nest; see
			       * bpf/tcpwatch.bpf.c for the two copies) */
	uint64_t handed_over; /* skipped runs the program's other copy served:
			       * no loss, shown so the copies can be seen */
};
void bpfload_losses(struct tw_bpf *b, struct tw_bpf_losses *ret);
/* ring + nested. */
uint64_t bpfload_lost(struct tw_bpf *b);
/* The ring-buffer overflows of each CPU (without recursion misses, which
 * are per program): how many CPUs were written into ret, or -errno. */
int bpfload_lost_per_cpu(struct tw_bpf *b, uint64_t *ret, int max);
/* Drops by reason (enum skb_drop_reason), all CPUs, exact even when the
 * ring is full: ret[0..n). -ENOENT when kfree_skb is not traced. */
int bpfload_drops(struct tw_bpf *b, uint64_t *ret, unsigned n);
/* Adds events_lost, events_nested_lost, events_nested_handed_over (from
 * l, bpfload_losses), trace_drops and trace_accept to s. */
void bpfload_report(struct tw_bpf *b, const struct tw_bpf_losses *l, struct tw_stats *s);

#endif
