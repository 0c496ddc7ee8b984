/*
 * Throughput of connections between two samples of their tcp_info byte
 * counters (what `tcpwatch top` ranks by). Pure: no I/O.
 */
#ifndef TCPWATCH_TCPRATE_H
#define TCPWATCH_TCPRATE_H

#include <stddef.h>
#include <stdint.h>

struct tw_rate_sample {
	uint64_t cookie;
	uint64_t bytes_acked;    /* tcpi_bytes_acked: sent and acknowledged */
	uint64_t bytes_received; /* tcpi_bytes_received */
};

struct tw_rate {
	uint64_t cookie;
	size_t index;          /* of its sample in cur */
	double sent_per_s;     /* bytes per second */
	double received_per_s; /* bytes per second */
};

/* Sorts samples by cookie (what tcprate_compute wants). */
void tcprate_sort(struct tw_rate_sample *v, size_t n);

/*
 * The rate of every connection of cur (sorted by cookie) since prev
 * (sorted by cookie), dt_ns apart, in ret (n_cur entries, cur's order).
 * A connection absent from prev began within dt: all its bytes count. A
 * counter that went back (impossible for one socket) counts 0. dt_ns 0
 * gives rates of 0.
 */
void tcprate_compute(const struct tw_rate_sample *prev, size_t n_prev,
		     const struct tw_rate_sample *cur, size_t n_cur, uint64_t dt_ns,
		     struct tw_rate *ret);

/* qsort comparator: by total rate, highest first; ties by cookie. */
int tcprate_cmp(const void *a, const void *b);

/* "0B/s", "950B/s", "12.3KB/s", "1.25MB/s", "3.4GB/s" (powers of 1000),
 * at most 11 bytes and a NUL. Returns out. */
char *tcprate_format(double bytes_per_s, char out[16]);

#endif
