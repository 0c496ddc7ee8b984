/* Unit tests for daemon/kernel/procscan.c from a task source (what the
 * socket iterator reports): a process's sockets map to it, the first owner
 * of a shared socket wins, want() filters before anything is stored, the
 * bound refuses (and counts) the rest, and a scan replaces the last. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "procscan.h"

struct fake {
	struct tw_task_sock v[8];
	size_t n;
	int fail;     /* returned after the records, if negative */
	size_t next;  /* sockets_step: the next record */
	size_t steps; /* sockets_step calls */
	bool cancelled;
};

static int fake_sockets(void *src, void (*fn)(const struct tw_task_sock *, void *), void *ctx)
{
	struct fake *f = src;

	for (size_t i = 0; i < f->n; i++)
		fn(&f->v[i], ctx);
	return f->fail;
}

/* Two records a step, as a read of the iterator gives a part. */
static int fake_step(void *src, void (*fn)(const struct tw_task_sock *, void *), void *ctx,
		     uint64_t budget_ns)
{
	struct fake *f = src;

	(void)budget_ns;
	f->steps++;
	for (int i = 0; i < 2 && f->next < f->n; i++)
		fn(&f->v[f->next++], ctx);
	if (f->next < f->n)
		return 0;
	f->next = 0;
	return f->fail < 0 ? f->fail : 1;
}

static void fake_cancel(void *src)
{
	struct fake *f = src;

	f->next = 0;
	f->cancelled = true;
}

static struct tw_task_sock sock(uint32_t inode, uint32_t pid, uint32_t uid, const char *comm)
{
	struct tw_task_sock s = {.inode = inode, .pid = pid, .uid = uid};

	strncpy(s.comm, comm, sizeof(s.comm) - 1);
	return s;
}

static bool not_30(uint32_t inode, void *ctx)
{
	(void)ctx;
	return inode != 30;
}

static void test_owners_from_source(void **state)
{
	struct fake f = {.v = {sock(10, 100, 0, "nginx"), sock(20, 100, 0, "nginx"),
			       sock(20, 200, 33, "worker"), sock(30, 200, 33, "worker"),
			       sock(40, 200, 33, "worker"), sock(0, 300, 0, "zero")},
			 .n = 6};
	struct tw_task_source src = {.sockets = fake_sockets, .src = &f};
	struct tw_procscan *p = procscan_new("/nonexistent", 3);
	struct tw_proc_owner o;

	(void)state;
	assert_non_null(p);
	procscan_use_source(p, &src);
	assert_int_equal(procscan_scan_only(p, not_30, NULL), 3);
	assert_int_equal(procscan_lookup(p, 10, &o), 0);
	assert_int_equal(o.pid, 100);
	assert_string_equal(o.comm, "nginx");
	assert_int_equal(procscan_lookup(p, 20, &o), 0);
	assert_int_equal(o.pid, 100);                          /* shared: the first owner */
	assert_int_equal(procscan_lookup(p, 30, &o), -ENOENT); /* not wanted */
	assert_int_equal(procscan_lookup(p, 40, &o), 0);
	assert_int_equal(o.pid, 200);
	assert_int_equal(o.uid, 33);
	assert_string_equal(o.comm, "worker");
	assert_int_equal(procscan_lookup(p, 0, &o), -ENOENT);

	/* Over the bound of 3: refused, counted. */
	assert_int_equal(procscan_scan(p), 3);
	assert_int_equal(procscan_lookup(p, 30, &o), 0);
	assert_int_equal(procscan_lookup(p, 40, &o), -ENOENT);

	/* A new scan replaces the last; an error is passed on. */
	f.n = 1;
	f.v[0] = sock(50, 500, 0, "new");
	assert_int_equal(procscan_scan(p), 1);
	assert_int_equal(procscan_lookup(p, 10, &o), -ENOENT);
	assert_int_equal(procscan_lookup(p, 50, &o), 0);
	assert_int_equal(o.pid, 500);
	f.fail = -EIO;
	assert_int_equal(procscan_scan(p), -EIO);
	procscan_free(p);
}

/* A scan in steps: in progress until the source's walk ends, then the
 * same map as a scan at once; a process whose sockets a step boundary cut
 * stays one process; a cancelled walk starts over. */
static void test_scan_in_steps(void **state)
{
	struct fake f = {.v = {sock(10, 100, 0, "nginx"), sock(20, 100, 0, "nginx"),
			       sock(21, 100, 0, "nginx"), sock(30, 200, 33, "worker"),
			       sock(40, 200, 33, "worker")},
			 .n = 5};
	struct tw_task_source src = {.sockets = fake_sockets,
				     .sockets_step = fake_step,
				     .sockets_cancel = fake_cancel,
				     .src = &f};
	struct tw_procscan *p = procscan_new("/nonexistent", 100);
	struct tw_proc_owner o;
	int r;

	(void)state;
	assert_non_null(p);
	procscan_use_source(p, &src);
	assert_int_equal(procscan_scan_step(p, not_30, NULL, 0), -EINPROGRESS);
	assert_int_equal(procscan_lookup(p, 10, &o), 0); /* a part, meanwhile */
	assert_int_equal(procscan_lookup(p, 40, &o), -ENOENT);
	assert_int_equal(procscan_scan_step(p, not_30, NULL, 0), -EINPROGRESS);
	r = procscan_scan_step(p, not_30, NULL, 0);
	assert_int_equal(r, 4);
	assert_int_equal(f.steps, 3);
	assert_int_equal(procscan_lookup(p, 21, &o), 0);
	assert_int_equal(o.pid, 100);
	assert_string_equal(o.comm, "nginx");
	assert_int_equal(procscan_lookup(p, 30, &o), -ENOENT);
	assert_int_equal(procscan_lookup(p, 40, &o), 0);
	assert_int_equal(o.pid, 200);
	assert_int_equal(o.uid, 33);

	/* The next scan starts afresh; cancelled, it starts over again. */
	f.v[0] = sock(11, 101, 0, "other");
	assert_int_equal(procscan_scan_step(p, NULL, NULL, 0), -EINPROGRESS);
	assert_int_equal(procscan_lookup(p, 40, &o), -ENOENT);
	procscan_scan_cancel(p);
	assert_true(f.cancelled);
	f.steps = 0;
	while ((r = procscan_scan_step(p, NULL, NULL, 0)) == -EINPROGRESS)
		;
	assert_int_equal(r, 5);
	assert_int_equal(f.steps, 3);
	assert_int_equal(procscan_lookup(p, 11, &o), 0);
	assert_int_equal(o.pid, 101);
	assert_int_equal(procscan_lookup(p, 10, &o), -ENOENT);

	/* An error ends the walk and is passed on. */
	f.fail = -EIO;
	while ((r = procscan_scan_step(p, NULL, NULL, 0)) == -EINPROGRESS)
		;
	assert_int_equal(r, -EIO);
	procscan_free(p);
}

/* A comm the source gives unterminated is cut at 15 characters. */
static void test_comm_terminated(void **state)
{
	struct fake f = {.n = 1};
	struct tw_task_source src = {.sockets = fake_sockets, .src = &f};
	struct tw_procscan *p = procscan_new("/nonexistent", 16);
	struct tw_proc_owner o;

	(void)state;
	f.v[0] = (struct tw_task_sock){.inode = 7, .pid = 70};
	memset(f.v[0].comm, 'x', sizeof(f.v[0].comm));
	procscan_use_source(p, &src);
	assert_int_equal(procscan_scan(p), 1);
	assert_int_equal(procscan_lookup(p, 7, &o), 0);
	assert_int_equal(strlen(o.comm), 15);
	procscan_free(p);
}

/* Many sockets: inode i+1 of process 100 + i / 10. */
static int many_sockets(void *src, void (*fn)(const struct tw_task_sock *, void *), void *ctx)
{
	size_t n = *(size_t *)src;

	for (size_t i = 0; i < n; i++) {
		struct tw_task_sock s = sock((uint32_t)i + 1, (uint32_t)(100 + i / 10), 0, "many");

		fn(&s, ctx);
	}
	return 0;
}

/* A scan's map is freed by trim once it outgrew the first one (a
 * start-up's million owners), and kept when small; lookups then find
 * nothing, the next scan builds it again, and the gauge keeps the last
 * scan's count. */
static void test_trim(void **state)
{
	size_t n = 20000;
	struct tw_task_source src = {.sockets = many_sockets, .src = &n};
	struct tw_procscan *p = procscan_new("/nonexistent", 100000);
	struct tw_proc_owner o;
	size_t small;

	(void)state;
	assert_non_null(p);
	procscan_use_source(p, &src);
	assert_int_equal(procscan_scan(p), 20000);
	assert_true(procscan_bytes(p) >= 40000 * 8);
	assert_int_equal(procscan_lookup(p, 12345, &o), 0);
	assert_int_equal(o.pid, 100 + 12344 / 10);
	procscan_trim(p);
	assert_int_equal(procscan_bytes(p), 0);
	assert_int_equal(procscan_lookup(p, 12345, &o), -ENOENT);
	procscan_trim(p); /* nothing to free: fine */

	n = 10;
	assert_int_equal(procscan_scan(p), 10);
	small = procscan_bytes(p);
	assert_true(small > 0);
	procscan_trim(p); /* small: kept */
	assert_int_equal(procscan_bytes(p), small);
	assert_int_equal(procscan_lookup(p, 7, &o), 0);
	assert_int_equal(o.pid, 100);
	procscan_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners_from_source),
		cmocka_unit_test(test_comm_terminated),
		cmocka_unit_test(test_scan_in_steps),
		cmocka_unit_test(test_trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
