/* Unit tests for daemon/kernel/diagpipe.c: real sock_diag dumps of real
 * loopback sockets, read on the reader thread and parsed here, against
 * the same dump read inline. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "diagpipe.h"

#define BUF   (32 * 1024)
#define PAIRS 400 /* 801 sockets on the port: several datagrams */

struct conns {
	int listener;
	uint16_t port;
	int fds[2 * PAIRS];
};

static int conns_open(struct conns *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	c->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->listener < 0 || bind(c->listener, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(c->listener, PAIRS) < 0 ||
	    getsockname(c->listener, (struct sockaddr *)&a, &len) < 0)
		return -1;
	c->port = ntohs(a.sin_port);
	for (int i = 0; i < PAIRS; i++) {
		c->fds[2 * i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fds[2 * i] < 0 ||
		    connect(c->fds[2 * i], (struct sockaddr *)&a, sizeof(a)) < 0)
			return -1;
		c->fds[2 * i + 1] = accept(c->listener, NULL, NULL);
		if (c->fds[2 * i + 1] < 0)
			return -1;
	}
	return 0;
}

static void conns_close(struct conns *c)
{
	for (int i = 0; i < 2 * PAIRS; i++)
		close(c->fds[i]);
	close(c->listener);
}

struct count {
	uint16_t port;
	size_t n;
	uint64_t cookie_sum;
};

static void on_sock(const struct tw_ksock *k, void *data)
{
	struct count *c = data;

	if (k->local_port == c->port || k->remote_port == c->port) {
		c->n++;
		c->cookie_sum += k->cookie;
	}
}

/* One dump of IPv4 sockets, read inline: the reference. */
static struct count dump_inline(int fd, uint16_t port, uint32_t seq)
{
	static char buf[BUF];
	struct tw_diag_counters cnt = {0};
	struct count c = {.port = port};
	int r = 1;

	assert_int_equal(diag_request_dump(fd, AF_INET, DIAG_STATES_ALL, seq), 0);
	while (r > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long n;

		assert_true(poll(&pfd, 1, 2000) == 1);
		n = diag_recv(fd, buf, sizeof(buf), &cnt);
		assert_true(n > 0);
		r = diag_parse(buf, (size_t)n, seq, diag_portid(fd), on_sock, &c, &cnt);
	}
	assert_int_equal(r, 0);
	return c;
}

/* The same dump read by the pipe, requested by the caller or (by_reader)
 * sent by the pipe's reader; *datagrams: how many it handed over. */
static struct count dump_piped_as(struct tw_diagpipe *p, int fd, uint16_t port, uint32_t seq,
				  bool by_reader, size_t *datagrams)
{
	struct tw_diag_counters cnt = {0};
	struct count c = {.port = port};
	uint64_t foreign = 0;
	int r = 1;

	*datagrams = 0;
	if (by_reader) {
		char req[DIAG_REQUEST_MAX];
		size_t len = diag_build_dump(req, sizeof(req), AF_INET, DIAG_STATES_ALL,
					     DIAG_EXT_INFO | DIAG_EXT_MEM, seq);

		assert_true(len > 0);
		assert_int_equal(diagpipe_start(p, fd, req, len), 0);
	} else {
		assert_int_equal(diag_request_dump(fd, AF_INET, DIAG_STATES_ALL, seq), 0);
		assert_int_equal(diagpipe_start(p, fd, NULL, 0), 0);
	}
	while (r > 0) {
		long n;
		const void *d = diagpipe_next(p, 2000, &n, &foreign);

		assert_non_null(d);
		assert_true(n > 0);
		r = diag_parse(d, (size_t)n, seq, diag_portid(fd), on_sock, &c, &cnt);
		diagpipe_done(p);
		(*datagrams)++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(foreign, 0);
	diagpipe_stop(p);
	return c;
}

static struct count dump_piped(struct tw_diagpipe *p, int fd, uint16_t port, uint32_t seq,
			       size_t *datagrams)
{
	return dump_piped_as(p, fd, port, seq, false, datagrams);
}

static bool readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 0) == 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Two buffers only: the reader waits for the parser, datagram after
 * datagram, and what the parser sees is exactly the inline dump. */
static void test_piped_dump_is_the_inline_dump(void **state)
{
	static struct conns c;
	struct tw_diagpipe *p = diagpipe_new(BUF, 2);
	int fd = diag_open();
	struct count ref, got;
	size_t datagrams;

	(void)state;
	assert_non_null(p);
	if (fd < 0 || conns_open(&c) < 0)
		skip();
	ref = dump_inline(fd, c.port, 1);
	got = dump_piped(p, fd, c.port, 2, &datagrams);
	assert_int_equal(ref.n, 2 * PAIRS + 1);
	assert_int_equal(got.n, ref.n);
	assert_true(got.cookie_sum == ref.cookie_sum);
	assert_true(datagrams >= 3);
	assert_true(diagpipe_reads(p) == datagrams);
	/* Every datagram taken: nothing waits, the eventfd is quiet. */
	assert_false(readable(diagpipe_fd(p)));
	diagpipe_free(p);
	close(fd);
	conns_close(&c);
}

/* The reader sends the request itself: the same dump, and the request is
 * spent (the next dump, started without one, is the caller's). */
static void test_reader_sends_the_request(void **state)
{
	static struct conns c;
	struct tw_diagpipe *p = diagpipe_new(BUF, 2);
	int fd = diag_open();
	struct count ref, got;
	size_t datagrams;
	char big[DIAG_REQUEST_MAX + 1] = {0};

	(void)state;
	assert_non_null(p);
	if (fd < 0 || conns_open(&c) < 0)
		skip();
	ref = dump_inline(fd, c.port, 1);
	got = dump_piped_as(p, fd, c.port, 2, true, &datagrams);
	assert_int_equal(got.n, ref.n);
	assert_true(got.cookie_sum == ref.cookie_sum);
	assert_true(datagrams >= 3);
	got = dump_piped_as(p, fd, c.port, 3, false, &datagrams);
	assert_int_equal(got.n, ref.n);
	got = dump_piped_as(p, fd, c.port, 4, true, &datagrams);
	assert_int_equal(got.n, ref.n);
	/* A request longer than the pipe holds is refused, nothing started. */
	assert_int_equal(diagpipe_start(p, fd, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(diag_build_dump(big, DIAG_REQUEST_MAX - 1, AF_INET, 1, 0, 1), 0);
	diagpipe_free(p);
	close(fd);
	conns_close(&c);
}

/* A request whose send fails is handed over as its errno, like a read. */
static void test_failed_send(void **state)
{
	struct tw_diagpipe *p = diagpipe_new(BUF, 2);
	int gone = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char req[DIAG_REQUEST_MAX];
	size_t len = diag_build_dump(req, sizeof(req), AF_INET, DIAG_STATES_ALL, 0, 1);
	uint64_t foreign = 0;
	long n = 0;

	(void)state;
	assert_non_null(p);
	assert_true(gone >= 0);
	close(gone);
	assert_int_equal(diagpipe_start(p, gone, req, len), 0);
	assert_null(diagpipe_next(p, 2000, &n, &foreign));
	assert_int_equal(n, -EBADF);
	assert_null(diagpipe_next(p, 20, &n, &foreign));
	assert_int_equal(n, -EAGAIN);
	diagpipe_free(p);
}

/* The eventfd is readable exactly while a datagram waits untaken. */
static void test_eventfd_tells_waiting(void **state)
{
	static struct conns c;
	struct tw_diagpipe *p = diagpipe_new(BUF, 4);
	int fd = diag_open();
	struct tw_diag_counters cnt = {0};
	struct count got = {0};
	uint64_t foreign = 0;
	const void *d;
	long n;

	(void)state;
	assert_non_null(p);
	if (fd < 0 || conns_open(&c) < 0)
		skip();
	got.port = c.port;
	assert_false(readable(diagpipe_fd(p)));
	assert_int_equal(diag_request_dump(fd, AF_INET, DIAG_STATES_ALL, 7), 0);
	assert_int_equal(diagpipe_start(p, fd, NULL, 0), 0);
	{
		struct pollfd pfd = {.fd = diagpipe_fd(p), .events = POLLIN};

		assert_int_equal(poll(&pfd, 1, 2000), 1);
	}
	d = diagpipe_next(p, 0, &n, &foreign);
	assert_non_null(d);
	assert_int_equal(diag_parse(d, (size_t)n, 7, diag_portid(fd), on_sock, &got, &cnt), 1);
	/* Taken and not given back: a second one is not handed out. */
	assert_null(diagpipe_next(p, 50, &n, &foreign));
	assert_int_equal(n, -EAGAIN);
	diagpipe_done(p);
	/* The reader has run ahead meanwhile (four buffers, a dump of many). */
	assert_true(readable(diagpipe_fd(p)));
	diagpipe_stop(p);
	assert_false(readable(diagpipe_fd(p)));
	diagpipe_free(p);
	close(fd);
	conns_close(&c);
}

/* Stopped in the middle, the reader leaves the socket alone: the loop
 * flushes the rest itself, and the next dump is whole again. */
static void test_stop_mid_dump(void **state)
{
	static struct conns c;
	static char buf[BUF];
	struct tw_diagpipe *p = diagpipe_new(BUF, 2);
	int fd = diag_open();
	struct tw_diag_counters cnt = {0};
	uint64_t foreign = 0;
	struct count ref, got;
	size_t datagrams;
	long n;

	(void)state;
	assert_non_null(p);
	if (fd < 0 || conns_open(&c) < 0)
		skip();
	ref = dump_inline(fd, c.port, 1);
	assert_int_equal(diag_request_dump(fd, AF_INET, DIAG_STATES_ALL, 2), 0);
	assert_int_equal(diagpipe_start(p, fd, NULL, 0), 0);
	assert_non_null(diagpipe_next(p, 2000, &n, &foreign));
	diagpipe_stop(p);
	/* After the stop, nothing is handed out. */
	assert_null(diagpipe_next(p, 20, &n, &foreign));
	assert_int_equal(n, -EAGAIN);
	/* The rest of that dump is the caller's to read (or drop). */
	for (int i = 0; i < 1000 && diag_recv(fd, buf, sizeof(buf), &cnt) != -EAGAIN; i++)
		;
	got = dump_piped(p, fd, c.port, 3, &datagrams);
	assert_int_equal(got.n, ref.n);
	assert_true(got.cookie_sum == ref.cookie_sum);
	diagpipe_free(p);
	close(fd);
	conns_close(&c);
}

/* Idle, a wait ends at its time with nothing; a bad size makes no pipe. */
static void test_idle_and_bad_arguments(void **state)
{
	struct tw_diagpipe *p = diagpipe_new(BUF, 2);
	uint64_t foreign = 0, t0;
	long n = 0;

	(void)state;
	assert_non_null(p);
	t0 = now_ms();
	assert_null(diagpipe_next(p, 30, &n, &foreign));
	assert_int_equal(n, -EAGAIN);
	/* Not started: no wait at all, nothing will come. */
	assert_true(now_ms() - t0 < 1000);
	diagpipe_stop(p);
	diagpipe_stop(p);
	diagpipe_free(p);
	diagpipe_free(NULL);
	assert_null(diagpipe_new(BUF, 1));
	assert_null(diagpipe_new(0, 4));
}

/* A read that fails is handed over as its errno, and ends the reading. */
static void test_failed_read(void **state)
{
	struct tw_diagpipe *p = diagpipe_new(BUF, 2);
	int gone = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint64_t foreign = 0;
	long n = 0;

	(void)state;
	assert_non_null(p);
	assert_true(gone >= 0);
	close(gone); /* a descriptor no longer open: EBADF */
	assert_int_equal(diagpipe_start(p, gone, NULL, 0), 0);
	assert_null(diagpipe_next(p, 2000, &n, &foreign));
	assert_int_equal(n, -EBADF);
	assert_true(diagpipe_reads(p) == 1);
	/* Nothing follows it. */
	assert_null(diagpipe_next(p, 20, &n, &foreign));
	assert_int_equal(n, -EAGAIN);
	assert_false(readable(diagpipe_fd(p)));
	diagpipe_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_piped_dump_is_the_inline_dump),
		cmocka_unit_test(test_reader_sends_the_request),
		cmocka_unit_test(test_failed_send),
		cmocka_unit_test(test_eventfd_tells_waiting),
		cmocka_unit_test(test_stop_mid_dump),
		cmocka_unit_test(test_idle_and_bad_arguments),
		cmocka_unit_test(test_failed_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
