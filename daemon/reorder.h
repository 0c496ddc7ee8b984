/*
 * Merges the per-CPU ring buffers back into one time order.
 *
 * Each CPU's ring holds its records in time order (one producer; BPF
 * programs do not nest). Across CPUs, a record stamped at t can become
 * visible later than another CPU's record stamped after t, by at most the
 * time a program takes between stamping and submitting. Records are held
 * here and released in time order only once they are older than a
 * watermark (the drain time minus that bound), so every record still
 * unseen is newer than everything released: a connection's events reach
 * the table in the order they happened, whichever CPU saw them.
 *
 * Pure logic: fixed-size records in, callbacks out.
 */
#ifndef TCPWATCH_REORDER_H
#define TCPWATCH_REORDER_H

#include <stddef.h>
#include <stdint.h>

/* How long a record may take from its timestamp to being visible. */
#define TW_REORDER_DELAY_NS (2ull * 1000000ull)

struct tw_reorder;

/* n_queues FIFOs of records of rec_size bytes, each holding at most
 * max_per_queue. NULL on allocation failure. */
struct tw_reorder *reorder_new(unsigned n_queues, size_t rec_size, size_t max_per_queue);
void reorder_free(struct tw_reorder *r);

/* Copies a record into queue q; records of one queue must come in time
 * order. 0, or -ENOBUFS when the queue is full (the record is dropped:
 * count it lost), -EINVAL for a bad queue or size. */
int reorder_push(struct tw_reorder *r, unsigned q, const void *rec, size_t len, uint64_t time_ns);

/* Calls cb, in time order, for every held record stamped before
 * watermark_ns, and forgets them. Returns how many. */
typedef void (*reorder_cb)(const void *rec, size_t len, void *data);
size_t reorder_release(struct tw_reorder *r, uint64_t watermark_ns, reorder_cb cb, void *data);

/* Records held now. */
size_t reorder_held(const struct tw_reorder *r);
/* Records the queues have room for without growing (their memory). A
 * queue that stayed far below its size for SHRINK_EVERY releases shrinks. */
size_t reorder_capacity(const struct tw_reorder *r);

#endif
