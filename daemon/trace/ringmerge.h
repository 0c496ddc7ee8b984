/*
 * Reads the per-CPU BPF ring buffers in place and merges them into one
 * time order.
 *
 * Each CPU's ring holds its records in time order (one producer; BPF
 * programs do not nest). Across CPUs, a record stamped at t can become
 * visible later than another CPU's record stamped after t, by at most the
 * time a program takes between stamping and submitting. A record is
 * released only once it is older than a watermark (the drain time minus
 * that bound), so every record still unseen is newer than everything
 * released: a connection's events reach the table in the order they
 * happened, whichever CPU saw them.
 *
 * Records wait in the ring itself, not in a copy: the callback reads them
 * where the kernel wrote them, and the consumer position (which frees the
 * space for the producer) moves past them once a release is done.
 *
 * The ring layout is the kernel's (kernel/bpf/ringbuf.c): a consumer
 * position page, a producer position page, then the data area mapped
 * twice in a row so that a record crossing its end reads contiguously.
 * Each record is an 8-byte header (32-bit length with a busy and a discard
 * bit, 32-bit page offset) and the record, padded to 8 bytes. The first 8
 * bytes of every record are its time (struct tcpwatch_event.time_ns); a
 * shorter record is released at once for the callback to reject.
 *
 * Pure logic over memory: tests build rings in ordinary buffers.
 */
#ifndef TCPWATCH_RINGMERGE_H
#define TCPWATCH_RINGMERGE_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"

/* How long a record may take from its timestamp to being visible. */
#define TW_REORDER_DELAY_NS (2 * NSEC_PER_MSEC)

#define TW_RING_BUSY_BIT    (1u << 31) /* BPF_RINGBUF_BUSY_BIT */
#define TW_RING_DISCARD_BIT (1u << 30) /* BPF_RINGBUF_DISCARD_BIT */
#define TW_RING_HDR_SZ      8          /* BPF_RINGBUF_HDR_SZ */

/* One ring as mapped: data is 2 * size bytes, the second half the same
 * pages as the first; size a power of two. */
struct tw_ring_map {
	uint64_t *consumer_pos; /* written by us */
	const uint64_t *producer_pos;
	const uint8_t *data;
	uint64_t size;
};

struct tw_ringmerge;

/* A merger of n rings, all unset. NULL on allocation failure. */
struct tw_ringmerge *ringmerge_new(unsigned n);
void ringmerge_free(struct tw_ringmerge *m);
/* Sets ring i; reading starts at its consumer position. */
void ringmerge_set(struct tw_ringmerge *m, unsigned i, const struct tw_ring_map *ring);

/* Calls cb, in time order, for every committed record stamped before
 * watermark_ns (and every record too short to carry a time), then moves
 * the rings' consumer positions past them. rec is valid until cb returns.
 * Returns how many records were released. */
typedef void (*ringmerge_cb)(const void *rec, size_t len, void *data);
size_t ringmerge_release(struct tw_ringmerge *m, uint64_t watermark_ns, ringmerge_cb cb,
			 void *data);

/* Bytes written to the rings and not yet released (committed or not). */
uint64_t ringmerge_pending_bytes(const struct tw_ringmerge *m);
/* The time of the oldest record the last release saw and held back (a
 * ring's head, newer than its watermark), 0 if it held none back. */
uint64_t ringmerge_oldest_held_ns(const struct tw_ringmerge *m);

#endif
