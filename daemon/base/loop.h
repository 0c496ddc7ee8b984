/*
 * The daemon's one event loop: epoll over file descriptors and periodic
 * timers (timerfd). Handlers run to completion; nothing else runs
 * meanwhile, so the modules they call need no locks.
 */
#ifndef TCPWATCH_LOOP_H
#define TCPWATCH_LOOP_H

#include <stdint.h>

struct tw_loop;

/* Called with the epoll events that fired (EPOLLIN...). */
typedef void (*loop_fd_cb)(struct tw_loop *l, int fd, uint32_t events, void *data);
/* Called once per expiry batch of a timer. */
typedef void (*loop_timer_cb)(struct tw_loop *l, void *data);

struct tw_loop *loop_new(void);
/* Frees the loop and its timers (not the fds added with loop_add_fd). */
void loop_free(struct tw_loop *l);

/* Watches fd for events (EPOLLIN, EPOLLOUT...). 0 or negative errno. */
int loop_add_fd(struct tw_loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data);
int loop_del_fd(struct tw_loop *l, int fd);

/* Delivers the signals of signals[] (a list ending with 0) through the loop
 * (a signalfd; they are blocked for the process): cb runs with each one's
 * number. SIGPIPE is ignored. 0 or negative errno. */
typedef void (*loop_signal_cb)(struct tw_loop *l, int signo, void *data);
int loop_add_signals(struct tw_loop *l, const int *signals, loop_signal_cb cb, void *data);

/* A timer firing first after first_ms, then every interval_ms (0: once).
 * Returns a timer id (>= 0) or negative errno. */
int loop_add_timer(struct tw_loop *l, uint32_t first_ms, uint32_t interval_ms, loop_timer_cb cb,
		   void *data);
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
			   void (*on_due)(void *data), void *data);

/* Runs until loop_stop() (and again when called again). 0, or negative
 * errno if epoll failed. */
int loop_run(struct tw_loop *l);
void loop_stop(struct tw_loop *l);

/* How long handlers ran per iteration: the longest, and the count. */
struct tw_loop_stats {
	uint64_t iterations;
	uint64_t busy_max_ns; /* the longest iteration's handlers */
};
void loop_get_stats(const struct tw_loop *l, struct tw_loop_stats *ret);

#endif
