#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "taskiter.h"
#include "tasks.h"
#include "tasks.skel.h"

/* Bytes read per read(): the kernel fills up to this from the iterator's
 * buffer, a page at a time. */
#define READ_BYTES (64u * 1024u)

struct tw_tasks {
	struct tasks_bpf *skel;
	struct bpf_link *sockets, *netns;
	uint64_t runs, records, errors;
	unsigned char *buf;
	bool ns_ids; /* the kernel's namespaces carry ids (file handles) */
	/* The socket walk in steps (sockets_step): its iterator, its buffer
	 * and the bytes of a record a read cut; the steps it took. */
	int step_fd;
	unsigned char *step_buf;
	size_t step_have;
	uint64_t steps;
};

void tasks_close(struct tw_tasks *t)
{
	if (!t)
		return;
	bpf_link__destroy(t->sockets);
	bpf_link__destroy(t->netns);
	tasks_bpf__destroy(t->skel);
	if (t->step_fd >= 0)
		close(t->step_fd);
	free(t->step_buf);
	free(t->buf);
	free(t);
}

struct tw_tasks *tasks_open(char *err, size_t err_len)
{
	struct tw_tasks *t = calloc(1, sizeof(*t));
	int r;

	if (!t || !(t->buf = malloc(READ_BYTES)) || !(t->step_buf = malloc(READ_BYTES))) {
		snprintf(err, err_len, "out of memory");
		if (t)
			free(t->buf);
		free(t);
		return NULL;
	}
	t->step_fd = -1;
	t->skel = tasks_bpf__open();
	if (!t->skel) {
		snprintf(err, err_len, "cannot open the task iterators: %s", strerror(errno));
		goto fail;
	}
	r = tasks_bpf__load(t->skel);
	if (r) {
		snprintf(err, err_len, "the kernel refused the task iterators: %s", strerror(-r));
		goto fail;
	}
	t->sockets = bpf_program__attach_iter(t->skel->progs.task_sockets, NULL);
	if (!t->sockets) {
		snprintf(err, err_len, "cannot attach the socket iterator: %s", strerror(errno));
		goto fail;
	}
	t->netns = bpf_program__attach_iter(t->skel->progs.task_netns, NULL);
	if (!t->netns) {
		snprintf(err, err_len, "cannot attach the namespace iterator: %s", strerror(errno));
		goto fail;
	}
	return t;
fail:
	tasks_close(t);
	return NULL;
}

static void note_ns_id(const struct tw_task_netns *n, void *ctx)
{
	if (n->ns_id)
		*(bool *)ctx = true;
}

bool tasks_netns_handles(struct tw_tasks *t)
{
	struct tw_task_source src = tasks_source(t);

	if (!t->ns_ids)
		src.netns(t, note_ns_id, &t->ns_ids);
	return t->ns_ids;
}

/*
 * One run of the iterator behind link: every record of size bytes to fn.
 * A read() returns whole records unless the buffer ends inside one; the
 * rest of such a record waits for the next read.
 */
static int run(struct tw_tasks *t, struct bpf_link *link, size_t size,
	       void (*fn)(const void *rec, void *ctx), void *ctx)
{
	int fd = bpf_iter_create(bpf_link__fd(link));
	size_t have = 0;
	ssize_t n;

	t->runs++;
	if (fd < 0) {
		t->errors++;
		return -errno;
	}
	for (;;) {
		size_t off = 0;

		n = read(fd, t->buf + have, READ_BYTES - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		for (; have - off >= size; off += size) {
			fn(t->buf + off, ctx);
			t->records++;
		}
		have -= off;
		memmove(t->buf, t->buf + off, have);
	}
	if (n < 0) {
		int e = -errno;

		t->errors++;
		close(fd);
		return e;
	}
	close(fd);
	return 0;
}

struct sock_cb {
	void (*fn)(const struct tw_task_sock *, void *);
	void *ctx;
};

static void one_sock(const void *rec, void *ctx)
{
	const struct tcpwatch_task_sock *r = rec;
	const struct sock_cb *c = ctx;
	struct tw_task_sock s = {.inode = r->inode, .pid = r->tgid, .uid = r->euid};

	memcpy(s.comm, r->comm, sizeof(s.comm));
	s.comm[sizeof(s.comm) - 1] = '\0';
	c->fn(&s, c->ctx);
}

static int sockets(void *src, void (*fn)(const struct tw_task_sock *, void *), void *ctx)
{
	struct tw_tasks *t = src;
	struct sock_cb c = {.fn = fn, .ctx = ctx};

	return run(t, t->sockets, sizeof(struct tcpwatch_task_sock), one_sock, &c);
}

static void sockets_cancel(void *src)
{
	struct tw_tasks *t = src;

	if (t->step_fd >= 0)
		close(t->step_fd);
	t->step_fd = -1;
	t->step_have = 0;
}

/*
 * run() in steps: the iterator's position is the kernel's (a task and a
 * descriptor number), so it picks up where the last read ended even when
 * tasks came and went meanwhile. Each read() walks descriptors until 64 KiB
 * of records are written (about 2,300 sockets) or the walk ends.
 */
static int sockets_step(void *src, void (*fn)(const struct tw_task_sock *, void *), void *ctx,
			uint64_t budget_ns)
{
	const size_t size = sizeof(struct tcpwatch_task_sock);
	struct tw_tasks *t = src;
	struct sock_cb c = {.fn = fn, .ctx = ctx};
	uint64_t t0 = clock_mono_ns();
	ssize_t n;

	if (t->step_fd < 0) {
		t->runs++;
		t->step_have = 0;
		t->step_fd = bpf_iter_create(bpf_link__fd(t->sockets));
		if (t->step_fd < 0) {
			int e = -errno;

			t->errors++;
			return e;
		}
	}
	t->steps++;
	do {
		size_t off = 0;

		n = read(t->step_fd, t->step_buf + t->step_have, READ_BYTES - t->step_have);
		if (n < 0 && errno == EINTR) {
			n = 1; /* not an end: on to the next read */
			continue;
		}
		if (n <= 0)
			break;
		t->step_have += (size_t)n;
		for (; t->step_have - off >= size; off += size) {
			one_sock(t->step_buf + off, &c);
			t->records++;
		}
		t->step_have -= off;
		memmove(t->step_buf, t->step_buf + off, t->step_have);
	} while (clock_mono_ns() - t0 < budget_ns);
	if (n > 0)
		return 0;
	if (n < 0) {
		int e = -errno;

		t->errors++;
		sockets_cancel(t);
		return e;
	}
	sockets_cancel(t);
	return 1;
}

struct netns_cb {
	void (*fn)(const struct tw_task_netns *, void *);
	void *ctx;
};

static void one_netns(const void *rec, void *ctx)
{
	const struct tcpwatch_task_netns *r = rec;
	const struct netns_cb *c = ctx;
	struct tw_task_netns s = {.ns_id = r->ns_id, .inode = r->inode, .pid = r->tgid};

	c->fn(&s, c->ctx);
}

static int netns(void *src, void (*fn)(const struct tw_task_netns *, void *), void *ctx)
{
	struct tw_tasks *t = src;
	struct netns_cb c = {.fn = fn, .ctx = ctx};

	return run(t, t->netns, sizeof(struct tcpwatch_task_netns), one_netns, &c);
}

struct tw_task_source tasks_source(struct tw_tasks *t)
{
	return (struct tw_task_source){.sockets = sockets,
				       .sockets_step = sockets_step,
				       .sockets_cancel = sockets_cancel,
				       .netns = netns,
				       .src = t};
}

void tasks_report(const struct tw_tasks *t, struct tw_stats *s)
{
	stats_counter(s, "task_iter_runs", t ? t->runs : 0);
	stats_counter(s, "task_iter_records", t ? t->records : 0);
	stats_counter(s, "task_iter_errors", t ? t->errors : 0);
	stats_counter(s, "task_iter_steps", t ? t->steps : 0);
}
