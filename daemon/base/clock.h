/*
 * Time, read in one place. The daemon keeps every time as CLOCK_MONOTONIC
 * nanoseconds (the clock bpf_ktime_get_ns() reads, so kernel and daemon
 * times compare directly) and turns them into wall-clock time only for
 * output.
 */
#ifndef TCPWATCH_CLOCK_H
#define TCPWATCH_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define NSEC_PER_USEC 1000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC  1000000000ull
#define USEC_PER_SEC  1000000ull
#define MSEC_PER_SEC  1000ull

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t clock_mono_ns(void);
/* CLOCK_REALTIME now, in nanoseconds (the clock of the kernel's socket
 * timestamps: the prober's send times when the kernel gave none). */
uint64_t clock_wall_ns(void);

/* The offset between CLOCK_MONOTONIC and wall-clock time, sampled once per
 * reply so every time in it converts the same way. */
struct tw_clock {
	int64_t mono_to_wall_ns;
	uint64_t now_mono_ns;
};
void clock_sample(struct tw_clock *clk);
/* A CLOCK_MONOTONIC time as wall-clock nanoseconds since the epoch. */
uint64_t clock_to_wall(const struct tw_clock *clk, uint64_t mono_ns);

#define TW_RFC3339_LEN 32 /* "2026-12-01T07:56:04.123456Z" and its NUL */
/* RFC 3339 UTC with microseconds into out (at least TW_RFC3339_LEN bytes;
 * shorter buffers get a truncated string). */
void clock_format_rfc3339(uint64_t wall_ns, char *out, size_t len);

#endif
