#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "loop.h"

#define LOOP_MAX_TIMERS 16
#define LOOP_BATCH      64
/* A turn this long, or this long in CPU, is logged with the handler that
 * took most of it, at most once per LOOP_SLOW_LOG_NS. */
#define LOOP_SLOW_NS     (50 * NSEC_PER_MSEC)
#define LOOP_SLOW_CPU_NS (10 * NSEC_PER_MSEC)
#define LOOP_SLOW_LOG_NS (10 * NSEC_PER_SEC)

struct handler {
	int fd;
	bool dead;     /* removed during this iteration: freed after it */
	unsigned name; /* its slot in tw_loop.names */
	loop_fd_cb fd_cb;
	loop_timer_cb timer_cb;
	void *data;
	struct handler *next; /* registry (or graveyard), to free and to find by fd */
};

struct tw_loop {
	int epfd;
	bool stop;
	struct handler *handlers;
	/* Handlers removed while an iteration runs: events of the same
	 * batch may still point at them. */
	struct handler *graveyard;
	int timer_fds[LOOP_MAX_TIMERS];
	int n_timers;
	int (*get_timeout_ms)(void *data);
	void (*on_due)(void *data);
	void *hook_data;
	loop_signal_cb signal_cb;
	void *signal_data;
	int signal_fd;
	struct tw_loop_stats stats;
	/* The handlers by name (slot 0 "other": past TW_LOOP_NAMES names),
	 * and the longest call of each; the hook's slot. */
	const char *names[TW_LOOP_NAMES];
	uint64_t name_max_ns[TW_LOOP_NAMES];
	uint64_t name_over_5ms[TW_LOOP_NAMES]; /* calls of 5 ms or more */
	/* Turns of 5 ms of CPU or more, each the name's whose call was the
	 * turn's longest (one CPU time a turn, not one a call: a call's
	 * share is not known, but the longest on the clock holds it). */
	uint64_t name_cpu_over_5ms[TW_LOOP_NAMES];
	unsigned n_names, hook_name;
	uint64_t slow_logged_ns;
	uint64_t cpu_last_ns; /* the thread's CPU time at the last turn's end */
};

/* The calling thread's CPU time (a system call, not the vDSO: one a turn). */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* The slot of name (names are compared as strings: several handlers of
 * one kind share one). */
static unsigned name_slot(struct tw_loop *l, const char *name)
{
	if (!name)
		return 0;
	for (unsigned i = 1; i < l->n_names; i++)
		if (!strcmp(l->names[i], name))
			return i;
	if (l->n_names == TW_LOOP_NAMES)
		return 0;
	l->names[l->n_names] = name;
	return l->n_names++;
}

struct tw_loop *loop_new(void)
{
	struct tw_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->signal_fd = -1;
	l->names[0] = "other";
	l->n_names = 1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct tw_loop *l)
{
	struct handler *h, *next;

	if (!l)
		return;
	for (h = l->handlers; h; h = next) {
		next = h->next;
		if (h->timer_cb)
			close(h->fd);
		free(h);
	}
	for (h = l->graveyard; h; h = next) {
		next = h->next;
		free(h);
	}
	if (l->signal_fd >= 0)
		close(l->signal_fd);
	close(l->epfd);
	free(l);
}

static struct handler *add_handler(struct tw_loop *l, int fd, uint32_t events, const char *name)
{
	struct handler *h = calloc(1, sizeof(*h));
	struct epoll_event ev = {.events = events};

	if (!h)
		return NULL;
	h->fd = fd;
	h->name = name_slot(l, name);
	ev.data.ptr = h;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;

		free(h);
		errno = err;
		return NULL;
	}
	h->next = l->handlers;
	l->handlers = h;
	return h;
}

int loop_add_fd(struct tw_loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data,
		const char *name)
{
	struct handler *h = add_handler(l, fd, events, name);

	if (!h)
		return -errno;
	h->fd_cb = cb;
	h->data = data;
	return 0;
}

int loop_del_fd(struct tw_loop *l, int fd)
{
	for (struct handler **p = &l->handlers; *p; p = &(*p)->next) {
		if ((*p)->fd == fd && (*p)->fd_cb) {
			struct handler *h = *p;

			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			*p = h->next;
			h->dead = true;
			h->next = l->graveyard;
			l->graveyard = h;
			return 0;
		}
	}
	return -ENOENT;
}

static void on_signalfd(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)data;
	while (read(fd, &si, sizeof(si)) == sizeof(si))
		l->signal_cb(l, (int)si.ssi_signo, l->signal_data);
}

int loop_add_signals(struct tw_loop *l, const int *signals, loop_signal_cb cb, void *data)
{
	sigset_t mask;
	int fd, r;

	if (l->signal_fd >= 0)
		return -EBUSY;
	sigemptyset(&mask);
	for (; *signals; signals++)
		sigaddset(&mask, *signals);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	l->signal_cb = cb;
	l->signal_data = data;
	r = loop_add_fd(l, fd, EPOLLIN, on_signalfd, NULL, "signals");
	if (r < 0) {
		close(fd);
		return r;
	}
	l->signal_fd = fd;
	return 0;
}

int loop_timer_set(struct tw_loop *l, int id, uint32_t first_ms, uint32_t interval_ms)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = first_ms / MSEC_PER_SEC,
			     .tv_nsec = (long)(first_ms % MSEC_PER_SEC * NSEC_PER_MSEC)},
		.it_interval = {.tv_sec = interval_ms / MSEC_PER_SEC,
				.tv_nsec = (long)(interval_ms % MSEC_PER_SEC * NSEC_PER_MSEC)},
	};

	if (id < 0 || id >= l->n_timers)
		return -EINVAL;
	if (first_ms == 0)
		its.it_value.tv_nsec = 1; /* 0 would disarm */
	if (timerfd_settime(l->timer_fds[id], 0, &its, NULL) < 0)
		return -errno;
	return 0;
}

int loop_add_timer(struct tw_loop *l, uint32_t first_ms, uint32_t interval_ms, loop_timer_cb cb,
		   void *data, const char *name)
{
	struct handler *h;
	int fd, id, r;

	if (l->n_timers == LOOP_MAX_TIMERS)
		return -ENOSPC;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	h = add_handler(l, fd, EPOLLIN, name);
	if (!h) {
		int err = -errno;

		close(fd);
		return err;
	}
	h->timer_cb = cb;
	h->data = data;
	id = l->n_timers++;
	l->timer_fds[id] = fd;
	r = loop_timer_set(l, id, first_ms, interval_ms);
	return r < 0 ? r : id;
}

int loop_timer_stop(struct tw_loop *l, int id)
{
	struct itimerspec off = {0};

	if (id < 0 || id >= l->n_timers)
		return -EINVAL;
	if (timerfd_settime(l->timer_fds[id], 0, &off, NULL) < 0)
		return -errno;
	return 0;
}

void loop_set_timeout_hook(struct tw_loop *l, int (*get_timeout_ms)(void *data),
			   void (*on_due)(void *data), void *data, const char *name)
{
	l->hook_name = name_slot(l, name);
	l->get_timeout_ms = get_timeout_ms;
	l->on_due = on_due;
	l->hook_data = data;
}

void loop_stop(struct tw_loop *l)
{
	l->stop = true;
}

/* A call of handler slot name took ns: its longest, and the turn's. */
static void account(struct tw_loop *l, unsigned name, uint64_t ns, uint64_t *top_ns, unsigned *top)
{
	if (ns > l->name_max_ns[name])
		l->name_max_ns[name] = ns;
	if (ns >= 5 * NSEC_PER_MSEC)
		l->name_over_5ms[name]++;
	if (ns > *top_ns) {
		*top_ns = ns;
		*top = name;
	}
}

int loop_run(struct tw_loop *l)
{
	struct epoll_event evs[LOOP_BATCH];

	l->stop = false;
	l->cpu_last_ns = thread_cpu_ns();
	while (!l->stop) {
		int timeout = l->get_timeout_ms ? l->get_timeout_ms(l->hook_data) : -1;
		int n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout);
		uint64_t start, t, top_ns = 0, cpu, cpu_ns;
		unsigned top = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		start = t = clock_mono_ns();
		for (int i = 0; i < n && !l->stop; i++) {
			struct handler *h = evs[i].data.ptr;
			uint64_t done;

			if (h->dead)
				continue;
			if (h->timer_cb) {
				uint64_t expirations;

				if (read(h->fd, &expirations, sizeof(expirations)) > 0)
					h->timer_cb(l, h->data);
			} else {
				h->fd_cb(l, h->fd, evs[i].events, h->data);
			}
			done = clock_mono_ns();
			account(l, h->name, done - t, &top_ns, &top);
			t = done;
		}
		if (l->on_due && (n == 0 || timeout == 0) && !l->stop) {
			uint64_t done;

			l->on_due(l->hook_data);
			done = clock_mono_ns();
			account(l, l->hook_name, done - t, &top_ns, &top);
		}
		while (l->graveyard) {
			struct handler *h = l->graveyard;

			l->graveyard = h->next;
			free(h);
		}
		t = clock_mono_ns();
		start = t - start;
		cpu = thread_cpu_ns();
		cpu_ns = cpu > l->cpu_last_ns ? cpu - l->cpu_last_ns : 0;
		l->cpu_last_ns = cpu;
		if (cpu_ns > l->stats.cpu_max_ns) {
			l->stats.cpu_max_ns = cpu_ns;
			l->stats.cpu_max_handler = l->names[top];
			l->stats.cpu_max_handler_ns = top_ns;
		}
		if (cpu_ns >= 5 * NSEC_PER_MSEC) {
			l->stats.cpu_over_5ms++;
			l->name_cpu_over_5ms[top]++;
		}
		if (start > l->stats.busy_max_ns) {
			l->stats.busy_max_ns = start;
			l->stats.busy_max_cpu_ns = cpu_ns;
			l->stats.max_handler = l->names[top];
			l->stats.max_handler_ns = top_ns;
		}
		l->stats.busy[loop_busy_bucket(start / 1000)]++;
		l->stats.iterations++;
		if ((start >= LOOP_SLOW_NS || cpu_ns >= LOOP_SLOW_CPU_NS) &&
		    (!l->slow_logged_ns || t - l->slow_logged_ns >= LOOP_SLOW_LOG_NS)) {
			l->slow_logged_ns = t;
			log_warn("loop: a turn of %.1f ms (%.1f ms of CPU), %.1f ms of it in %s",
				 (double)start / 1e6, (double)cpu_ns / 1e6, (double)top_ns / 1e6,
				 l->names[top]);
		}
	}
	return 0;
}

size_t loop_handler_max(const struct tw_loop *l, const char **names, uint64_t *max_ns,
			uint64_t *over_5ms, uint64_t *cpu_over_5ms, size_t n)
{
	size_t k = 0;

	for (unsigned i = 0; i < l->n_names && k < n; i++) {
		if (i == 0 && !l->name_max_ns[0])
			continue;
		names[k] = l->names[i];
		over_5ms[k] = l->name_over_5ms[i];
		cpu_over_5ms[k] = l->name_cpu_over_5ms[i];
		max_ns[k++] = l->name_max_ns[i];
	}
	return k;
}

uint64_t loop_iteration(const struct tw_loop *l)
{
	return l->stats.iterations;
}

void loop_get_stats(const struct tw_loop *l, struct tw_loop_stats *ret)
{
	*ret = l->stats;
}

unsigned loop_busy_bucket(uint64_t us)
{
	unsigned e;

	if (us < TW_LOOP_SUB)
		return (unsigned)us;
	e = 63u - (unsigned)__builtin_clzll(us); /* us in [2^e, 2^(e+1)), e >= 3 */
	if (e > TW_LOOP_MAX_EXP)
		return TW_LOOP_BUCKETS - 1;
	return TW_LOOP_SUB + (e - 3) * TW_LOOP_SUB +
	       (unsigned)((us >> (e - 3)) & (TW_LOOP_SUB - 1));
}

uint64_t loop_busy_bucket_high(unsigned bucket)
{
	unsigned e, sub;

	if (bucket < TW_LOOP_SUB)
		return bucket + 1;
	if (bucket >= TW_LOOP_BUCKETS - 1)
		return UINT64_MAX;
	e = (bucket - TW_LOOP_SUB) / TW_LOOP_SUB + 3;
	sub = (bucket - TW_LOOP_SUB) % TW_LOOP_SUB;
	return (uint64_t)(TW_LOOP_SUB + sub + 1) << (e - 3);
}

uint64_t loop_busy_quantile_us(const struct tw_loop_stats *s, double q)
{
	uint64_t total = 0, want, cum = 0;

	for (unsigned b = 0; b < TW_LOOP_BUCKETS; b++)
		total += s->busy[b];
	if (!total || q <= 0)
		return 0;
	want = (uint64_t)(q * (double)total + 0.999999);
	if (want > total)
		want = total;
	if (!want)
		want = 1;
	for (unsigned b = 0; b < TW_LOOP_BUCKETS; b++) {
		cum += s->busy[b];
		if (cum >= want) {
			uint64_t high = loop_busy_bucket_high(b);
			uint64_t max_us = s->busy_max_ns / 1000;

			/* Never above the longest seen (loop_max_ms). */
			return high > max_us ? max_us : high;
		}
	}
	return s->busy_max_ns / 1000;
}

uint64_t loop_busy_at_least(const struct tw_loop_stats *s, uint64_t us)
{
	uint64_t n = 0;

	/* A bucket counts if its lowest value (the previous one's top) is. */
	for (unsigned b = 0; b < TW_LOOP_BUCKETS; b++)
		if ((b ? loop_busy_bucket_high(b - 1) : 0) >= us)
			n += s->busy[b];
	return n;
}
