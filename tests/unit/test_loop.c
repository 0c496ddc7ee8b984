/* Unit tests for daemon/base/loop.c: fd handlers, timers (re-armed,
 * stopped, one-shot), the timeout hook, and removals during a batch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

struct counts {
	struct tw_loop *l;
	int fd_calls, timer_calls, due_calls, stop_after;
	int pipe_a[2], pipe_b[2];
	int timer;
};

static void on_fd(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	struct counts *c = data;
	char b[16];

	(void)events;
	if (read(fd, b, sizeof(b)) > 0)
		c->fd_calls++;
	if (c->fd_calls >= c->stop_after)
		loop_stop(l);
}

static void test_fd_handler(void **state)
{
	struct counts c = {.stop_after = 1};
	struct tw_loop *l = loop_new();

	(void)state;
	assert_non_null(l);
	assert_int_equal(pipe(c.pipe_a), 0);
	assert_int_equal(loop_add_fd(l, c.pipe_a[0], EPOLLIN, on_fd, &c, "a"), 0);
	assert_int_equal(write(c.pipe_a[1], "x", 1), 1);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(c.fd_calls, 1);
	/* The loop runs again after a stop. */
	c.stop_after = 2;
	assert_int_equal(write(c.pipe_a[1], "y", 1), 1);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(c.fd_calls, 2);
	assert_int_equal(loop_del_fd(l, c.pipe_a[0]), 0);
	assert_int_equal(loop_del_fd(l, c.pipe_a[0]), -ENOENT);
	close(c.pipe_a[0]);
	close(c.pipe_a[1]);
	loop_free(l);
}

static void on_timer(struct tw_loop *l, void *data)
{
	struct counts *c = data;

	if (++c->timer_calls >= c->stop_after)
		loop_stop(l);
}

static void test_timers(void **state)
{
	struct counts c = {.stop_after = 3};
	struct tw_loop *l = loop_new();
	uint64_t t0 = clock_mono_ns(), dt;
	int id;

	(void)state;
	assert_non_null(l);
	id = loop_add_timer(l, 10, 10, on_timer, &c, "t");
	assert_true(id >= 0);
	assert_int_equal(loop_run(l), 0);
	dt = clock_mono_ns() - t0;
	assert_int_equal(c.timer_calls, 3);
	assert_true(dt >= 25 * NSEC_PER_MSEC); /* three expiries of 10 ms, roughly */
	/* Re-armed as a one-shot at once. */
	c.timer_calls = 0;
	c.stop_after = 1;
	assert_int_equal(loop_timer_set(l, id, 0, 0), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(c.timer_calls, 1);
	assert_int_equal(loop_timer_set(l, id + 100, 1, 1), -EINVAL);
	assert_int_equal(loop_timer_stop(l, id + 100), -EINVAL);
	loop_free(l);
}

static int hook_timeout(void *data)
{
	struct counts *c = data;

	return c->due_calls < 3 ? 0 : 5;
}

static void hook_due(void *data)
{
	struct counts *c = data;

	if (++c->due_calls == 3)
		loop_stop(c->l);
}

/* A hook that says "work is ready" (0) is run again at once. */
static void test_timeout_hook(void **state)
{
	struct counts c = {0};
	struct tw_loop *l = loop_new();
	struct tw_loop_stats st;

	(void)state;
	c.l = l;
	loop_set_timeout_hook(l, hook_timeout, hook_due, &c, "hook");
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(c.due_calls, 3);
	loop_get_stats(l, &st);
	assert_true(st.iterations >= 3);
	loop_free(l);
}

/* The handler of a in the same batch removes b and adds another fd: b's
 * pending event must not run (nor touch freed memory). */
static struct counts *batch;

static void on_b(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	(void)data;
	fail_msg("a removed handler ran");
}

static void on_a(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	char b[4];

	(void)events;
	(void)data;
	if (read(fd, b, sizeof(b)) < 0)
		return;
	loop_del_fd(l, batch->pipe_b[0]);
	batch->fd_calls++;
	loop_stop(l);
}

static void test_remove_during_batch(void **state)
{
	struct counts c = {0};
	struct tw_loop *l = loop_new();

	(void)state;
	batch = &c;
	assert_int_equal(pipe(c.pipe_a), 0);
	assert_int_equal(pipe(c.pipe_b), 0);
	assert_int_equal(loop_add_fd(l, c.pipe_b[0], EPOLLIN, on_b, &c, "b"), 0);
	assert_int_equal(loop_add_fd(l, c.pipe_a[0], EPOLLIN, on_a, &c, "a"), 0);
	/* Whichever epoll reports first: make both ready, and let a remove b
	 * if it runs first; if b ran first the test fails in on_b. To make a
	 * run first, b is registered first (epoll reports in readiness order:
	 * write a, then b). */
	assert_int_equal(write(c.pipe_a[1], "a", 1), 1);
	assert_int_equal(write(c.pipe_b[1], "b", 1), 1);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(c.fd_calls, 1);
	for (int i = 0; i < 2; i++) {
		close(c.pipe_a[i]);
		close(c.pipe_b[i]);
	}
	loop_free(l);
}

/* Busy-time buckets: each value falls in the bucket whose range holds it,
 * a bucket is at most 1/8 of its value wide, and the ranges tile. */
static void test_busy_buckets(void **state)
{
	(void)state;
	for (uint64_t us = 0; us < (1u << 22); us += 1 + us / 64) {
		unsigned b = loop_busy_bucket(us);
		uint64_t low = b ? loop_busy_bucket_high(b - 1) : 0,
			 high = loop_busy_bucket_high(b);

		assert_true(low <= us);
		assert_true(us < high);
		assert_true(high - low <= (low < 8 ? 1 : low / 8));
	}
	assert_int_equal(loop_busy_bucket(UINT64_MAX), TW_LOOP_BUCKETS - 1);
}

/* Quantiles are the top of the right bucket, never under the true value
 * and never over the longest; the counts over a bound count exactly the
 * iterations in buckets at or above it. */
static void test_busy_quantiles(void **state)
{
	struct tw_loop_stats st = {0};

	(void)state;
	assert_int_equal(loop_busy_quantile_us(&st, 0.99), 0);
	/* 990 turns of 3 us, 9 of 2 ms, 1 of 40 ms. */
	st.busy[loop_busy_bucket(3)] = 990;
	st.busy[loop_busy_bucket(2000)] = 9;
	st.busy[loop_busy_bucket(40000)] = 1;
	st.iterations = 1000;
	st.busy_max_ns = 40000 * 1000ull;
	assert_int_equal(loop_busy_quantile_us(&st, 0.5), 4);
	assert_int_equal(loop_busy_quantile_us(&st, 0.99), 4);
	assert_true(loop_busy_quantile_us(&st, 0.995) >= 2000);
	assert_true(loop_busy_quantile_us(&st, 0.995) <= 2000 + 2000 / 8);
	assert_int_equal(loop_busy_quantile_us(&st, 1.0), 40000);
	assert_int_equal(loop_busy_at_least(&st, 1000), 10);
	assert_int_equal(loop_busy_at_least(&st, 5000), 1);
	assert_int_equal(loop_busy_at_least(&st, 50000), 0);
	assert_int_equal(loop_busy_at_least(&st, 0), 1000);
}

/* A real turn that sleeps 6 ms in its handler lands in the histogram. */
static void on_slow(struct tw_loop *l, void *data)
{
	struct timespec ts = {0, 6 * 1000 * 1000};

	(void)data;
	nanosleep(&ts, NULL);
	loop_stop(l);
}

static uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* One that computes for 6 ms of CPU (however long the clock says). */
static void on_spin(struct tw_loop *l, void *data)
{
	uint64_t t0 = cpu_now_ns();

	(void)l;
	(void)data;
	while (cpu_now_ns() - t0 < 6 * NSEC_PER_MSEC)
		;
}

static void on_quick(struct tw_loop *l, void *data)
{
	(void)l;
	(void)data;
}

static void test_busy_recorded(void **state)
{
	struct tw_loop *l = loop_new();
	struct tw_loop_stats st;
	const char *names[8];
	uint64_t max_ns[8], over[8], cpu[8];
	size_t n;

	(void)state;
	assert_non_null(l);
	assert_true(loop_add_timer(l, 1, 1, on_quick, NULL, "quick") >= 0);
	assert_true(loop_add_timer(l, 20, 0, on_slow, NULL, "slow") >= 0);
	assert_int_equal(loop_run(l), 0);
	loop_get_stats(l, &st);
	assert_true(loop_busy_at_least(&st, 2500) >= 1);
	assert_true(loop_busy_quantile_us(&st, 1.0) >= 3000);
	/* The longest turn's handler, and each name's longest call. */
	assert_non_null(st.max_handler);
	assert_string_equal(st.max_handler, "slow");
	assert_true(st.max_handler_ns >= 3000000 && st.max_handler_ns <= st.busy_max_ns);
	n = loop_handler_max(l, names, max_ns, over, cpu, 8);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "quick");
	assert_string_equal(names[1], "slow");
	assert_true(max_ns[0] < max_ns[1]);
	assert_true(max_ns[1] >= 3000000);
	assert_int_equal(over[1], 1); /* its one call, 6 ms */
	/* It slept: 6 ms on the clock, not of CPU. */
	assert_true(st.busy_max_cpu_ns < 3000000);
	assert_int_equal(st.cpu_over_5ms, 0);
	assert_int_equal(cpu[0] + cpu[1], 0);
	loop_free(l);
}

/* A turn that computes counts as CPU; one that sleeps does not. */
static void test_busy_cpu(void **state)
{
	struct tw_loop *l = loop_new();
	struct tw_loop_stats st;

	(void)state;
	assert_non_null(l);
	assert_true(loop_add_timer(l, 5, 0, on_spin, NULL, "spin") >= 0);
	assert_true(loop_add_timer(l, 30, 0, on_slow, NULL, "slow") >= 0);
	assert_int_equal(loop_run(l), 0);
	loop_get_stats(l, &st);
	assert_true(st.cpu_max_ns >= 5 * NSEC_PER_MSEC);
	assert_int_equal(st.cpu_over_5ms, 1);
	/* Which handler computed: the one whose call was that turn's longest. */
	assert_non_null(st.cpu_max_handler);
	assert_string_equal(st.cpu_max_handler, "spin");
	assert_true(st.cpu_max_handler_ns >= 5 * NSEC_PER_MSEC);
	{
		const char *names[8];
		uint64_t max_ns[8], over[8], cpu[8];
		size_t n = loop_handler_max(l, names, max_ns, over, cpu, 8);

		assert_int_equal(n, 2);
		assert_string_equal(names[0], "spin");
		assert_int_equal(cpu[0], 1);
		assert_int_equal(cpu[1], 0);
	}
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_handler),    cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timeout_hook),  cmocka_unit_test(test_remove_during_batch),
		cmocka_unit_test(test_busy_buckets),  cmocka_unit_test(test_busy_quantiles),
		cmocka_unit_test(test_busy_recorded), cmocka_unit_test(test_busy_cpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
