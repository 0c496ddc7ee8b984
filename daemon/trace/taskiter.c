#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
};

void tasks_close(struct tw_tasks *t)
{
	if (!t)
		return;
	bpf_link__destroy(t->sockets);
	bpf_link__destroy(t->netns);
	tasks_bpf__destroy(t->skel);
	free(t->buf);
	free(t);
}

struct tw_tasks *tasks_open(char *err, size_t err_len)
{
	struct tw_tasks *t = calloc(1, sizeof(*t));
	int r;

	if (!t || !(t->buf = malloc(READ_BYTES))) {
		snprintf(err, err_len, "out of memory");
		free(t);
		return NULL;
	}
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
	return (struct tw_task_source){.sockets = sockets, .netns = netns, .src = t};
}

void tasks_report(const struct tw_tasks *t, struct tw_stats *s)
{
	stats_counter(s, "task_iter_runs", t ? t->runs : 0);
	stats_counter(s, "task_iter_records", t ? t->records : 0);
	stats_counter(s, "task_iter_errors", t ? t->errors : 0);
}
