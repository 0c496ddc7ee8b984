/*
 * The daemon's one event loop: epoll over file descriptors and periodic
 * timers (timerfd). Handlers run to completion; nothing else runs
 * meanwhile, so the modules they call need no locks.
 */
#ifndef TCPWATCH_LOOP_H
#define TCPWATCH_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct tw_loop;

/* Called with the epoll events that fired (EPOLLIN...). */
typedef void (*loop_fd_cb)(struct tw_loop *l, int fd, uint32_t events, void *data);
/* Called once per expiry batch of a timer. */
typedef void (*loop_timer_cb)(struct tw_loop *l, void *data);

struct tw_loop *loop_new(void);
/* Frees the loop and its timers (not the fds added with loop_add_fd). */
void loop_free(struct tw_loop *l);

/*
 * Every handler has a name (a string that outlives the loop: a literal):
 * the stats say how long each name's longest call ran, and which one took
 * most of the longest turn. Handlers of one kind share a name.
 */
#define TW_LOOP_NAMES 16

/* Watches fd for events (EPOLLIN, EPOLLOUT...). 0 or negative errno. */
int loop_add_fd(struct tw_loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data,
		const char *name);
int loop_del_fd(struct tw_loop *l, int fd);

/* Delivers the signals of signals[] (a list ending with 0) through the loop
 * (a signalfd; they are blocked for the process): cb runs with each one's
 * number. SIGPIPE is ignored. 0 or negative errno. */
typedef void (*loop_signal_cb)(struct tw_loop *l, int signo, void *data);
int loop_add_signals(struct tw_loop *l, const int *signals, loop_signal_cb cb, void *data);

/* A timer firing first after first_ms, then every interval_ms (0: once).
 * Returns a timer id (>= 0) or negative errno. */
int loop_add_timer(struct tw_loop *l, uint32_t first_ms, uint32_t interval_ms, loop_timer_cb cb,
		   void *data, const char *name);
/* Re-arms timer id: first after first_ms (0: at once), then every
 * interval_ms (0: once); loop_timer_stop disarms it. 0 or negative errno. */
int loop_timer_set(struct tw_loop *l, int id, uint32_t first_ms, uint32_t interval_ms);
int loop_timer_stop(struct tw_loop *l, int id);

/*
 * A component with its own notion of time (libmicrohttpd) tells the loop
 * how long it may sleep: get_timeout_ms returns -1 (no limit), 0 (work is
 * ready now) or a delay; on_due runs when that time came. One hook.
 */
void loop_set_timeout_hook(struct tw_loop *l, int (*get_timeout_ms)(void *data),
			   void (*on_due)(void *data), void *data, const char *name);

/* Runs until loop_stop() (and again when called again). 0, or negative
 * errno if epoll failed. */
int loop_run(struct tw_loop *l);
void loop_stop(struct tw_loop *l);

/*
 * How long handlers ran per iteration: the count, the longest, and a
 * log-linear histogram in us (exact below 8 us, then 8 buckets per power
 * of two, so a quantile's bucket is at most 12.5 % wide), up to 2^34 us.
 */
#define TW_LOOP_SUB     8
#define TW_LOOP_MAX_EXP 34
#define TW_LOOP_BUCKETS (TW_LOOP_SUB + (TW_LOOP_MAX_EXP - 3 + 1) * TW_LOOP_SUB)

struct tw_loop_stats {
	uint64_t iterations;
	uint64_t busy_max_ns; /* the longest iteration's handlers */
	/* Of that iteration, the handler that ran longest, and how long. */
	const char *max_handler;
	uint64_t max_handler_ns;
	/* The loop thread's CPU time in an iteration (its handlers and the
	 * epoll_wait before them): a turn long on the clock but short in CPU
	 * waited for a CPU (the machine's other work ran), it did not compute.
	 * The most one took, that of the longest, and those of 5 ms or more. */
	uint64_t cpu_max_ns, busy_max_cpu_ns, cpu_over_5ms;
	/* Of the turn that took the most CPU, the handler whose call was
	 * longest (on the clock), and how long. */
	const char *cpu_max_handler;
	uint64_t cpu_max_handler_ns;
	uint64_t busy[TW_LOOP_BUCKETS];
};
void loop_get_stats(const struct tw_loop *l, struct tw_loop_stats *ret);
/* Each name's longest call, its calls of 5 ms or more and the turns of
 * 5 ms of CPU or more its call was the longest of (up to n names, in the
 * order first registered): how many were written. */
size_t loop_handler_max(const struct tw_loop *l, const char **names, uint64_t *max_ns,
			uint64_t *over_5ms, uint64_t *cpu_over_5ms, size_t n);
/* The iteration under way (the count of those done): handlers of one
 * iteration see the same number. */
uint64_t loop_iteration(const struct tw_loop *l);
/* The bucket of a busy time, and the first value above a bucket (in us). */
unsigned loop_busy_bucket(uint64_t us);
uint64_t loop_busy_bucket_high(unsigned bucket);
/* The q-quantile (0 < q <= 1) of the iterations' busy time in us: the top
 * of its bucket (so never below the true value) but at most the longest
 * turn's whole microseconds; 0 when none ran. */
uint64_t loop_busy_quantile_us(const struct tw_loop_stats *s, double q);
/* Iterations busy for at least us (to within a bucket: those in buckets
 * wholly at or above it). */
uint64_t loop_busy_at_least(const struct tw_loop_stats *s, uint64_t us);

#endif
