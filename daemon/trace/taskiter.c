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

/* One run of an iterator: its fd (-1: none), its buffer, and the bytes
 * of a record that a read() cut, waiting for the next read. */
struct walk {
	int fd;
	unsigned char *buf;
	size_t have;
};

struct tw_tasks {
	struct tasks_bpf *skel;
	struct bpf_link *sockets, *netns;
	uint64_t runs, records, errors;
	unsigned char *buf;
	bool ns_ids; /* the kernel's namespaces carry ids (file handles) */
	/* The socket walk in steps (sockets_step), and the steps it took. */
	struct walk step;
	uint64_t steps;
};

void tasks_close(struct tw_tasks *t)
{
	if (!t)
		return;
	bpf_link__destroy(t->sockets);
	bpf_link__destroy(t->netns);
	tasks_bpf__destroy(t->skel);
	if (t->step.fd >= 0)
		close(t->step.fd);
	free(t->step.buf);
	free(t->buf);
	free(t);
}

struct tw_tasks *tasks_open(char *err, size_t err_len)
{
	struct tw_tasks *t = calloc(1, sizeof(*t));
	int r;

	if (!t || !(t->buf = malloc(READ_BYTES)) || !(t->step.buf = malloc(READ_BYTES))) {
		snprintf(err, err_len, "out of memory");
		if (t)
			free(t->buf);
		free(t);
		return NULL;
	}
	t->step.fd = -1;
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

/* Begins a run of the iterator behind link; 0 or a negative errno. */
static int walk_open(struct tw_tasks *t, struct bpf_link *link, struct walk *w)
{
	t->runs++;
	w->have = 0;
	w->fd = bpf_iter_create(bpf_link__fd(link));
	if (w->fd < 0) {
		t->errors++;
		return -errno;
	}
	return 0;
}

static void walk_close(struct walk *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->have = 0;
}

/*
 * Reads the run w for about budget_ns (at least one read), every record of
 * size bytes to fn: 0 while it goes on, 1 once it is over, or a negative
 * errno (over too). A read() returns whole records unless the buffer ends
 * inside one; the rest of such a record waits for the next read.
 */
static int walk_read(struct tw_tasks *t, struct walk *w, size_t size,
		     void (*fn)(const void *rec, void *ctx), void *ctx, uint64_t budget_ns)
{
	uint64_t t0 = clock_mono_ns();
	ssize_t n;
	int e;

	do {
		size_t off = 0;

		n = read(w->fd, w->buf + w->have, READ_BYTES - w->have);
		if (n < 0 && errno == EINTR) {
			n = 1; /* not an end: on to the next read */
			continue;
		}
		if (n <= 0)
			break;
		w->have += (size_t)n;
		for (; w->have - off >= size; off += size) {
			fn(w->buf + off, ctx);
			t->records++;
		}
		w->have -= off;
		memmove(w->buf, w->buf + off, w->have);
	} while (clock_mono_ns() - t0 < budget_ns);
	if (n > 0)
		return 0;
	e = n < 0 ? -errno : 1;
	if (n < 0)
		t->errors++;
	walk_close(w);
	return e;
}

/* One whole run of the iterator behind link, in t's buffer. */
static int run(struct tw_tasks *t, struct bpf_link *link, size_t size,
	       void (*fn)(const void *rec, void *ctx), void *ctx)
{
	struct walk w = {.fd = -1, .buf = t->buf};
	int r = walk_open(t, link, &w);

	if (r < 0)
		return r;
	r = walk_read(t, &w, size, fn, ctx, UINT64_MAX);
	return r < 0 ? r : 0;
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

	walk_close(&t->step);
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
	struct tw_tasks *t = src;
	struct sock_cb c = {.fn = fn, .ctx = ctx};
	int r;

	if (t->step.fd < 0 && (r = walk_open(t, t->sockets, &t->step)) < 0)
		return r;
	t->steps++;
	return walk_read(t, &t->step, sizeof(struct tcpwatch_task_sock), one_sock, &c, budget_ns);
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
