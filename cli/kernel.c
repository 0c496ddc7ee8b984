#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "colour.h"
#include "kernel.h"
#include "procscan.h"
#include "tcpstate.h"
#include "text.h"

#define DUMP_TIMEOUT_MS 5000
#define RECV_BUF        (64 * 1024)

int kernel_enter_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int dump_family(int fd, uint32_t portid, int family, uint32_t states, unsigned ext,
		       uint32_t seq, void *buf, diag_sock_cb cb, void *data)
{
	struct tw_diag_counters counts = {0};
	int r = diag_request_dump_ext(fd, family, states, ext, seq);

	if (r < 0)
		return r;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long n = diag_recv(fd, buf, RECV_BUF, &counts);

		if (n == -EAGAIN) {
			int k = poll(&p, 1, DUMP_TIMEOUT_MS);

			if (k < 0 && errno != EINTR)
				return -errno;
			if (k == 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return (int)n;
		r = diag_parse(buf, (size_t)n, seq, portid, cb, data, &counts);
		if (r <= 0)
			return r;
	}
}

int kernel_dump(int family, uint32_t states, bool want_info, diag_sock_cb cb, void *data)
{
	static const int families[] = {AF_INET, AF_INET6};
	uint32_t mask = states & DIAG_STATES_ALL;
	void *buf;
	int fd, r = 0;
	uint32_t portid;

	/* Request sockets answer to SYN_RECV's bit. */
	if (states & TW_STATE_BIT(TW_TCP_NEW_SYN_RECV))
		mask |= TW_STATE_BIT(TW_TCP_SYN_RECV);
	if (!mask)
		return 0;
	fd = diag_open();
	if (fd < 0)
		return fd;
	buf = malloc(RECV_BUF);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	portid = diag_portid(fd);
	/* Memory always: it is cheap, and tells request sockets apart. */
	for (size_t i = 0; i < 2 && r >= 0; i++)
		if (!family || family == families[i])
			r = dump_family(fd, portid, families[i], mask,
					DIAG_EXT_MEM | (want_info ? DIAG_EXT_INFO : 0),
					(uint32_t)i + 1, buf, cb, data);
	free(buf);
	close(fd);
	return r < 0 ? r : 0;
}

void kernel_conn_from(const struct tw_ksock *s, uint64_t now_ns, struct tw_conn *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->cookie = s->cookie;
	ret->family = s->family;
	ret->state = s->state;
	ret->local_port = s->local_port;
	ret->remote_port = s->remote_port;
	memcpy(ret->local_addr, s->local_addr, sizeof(ret->local_addr));
	memcpy(ret->remote_addr, s->remote_addr, sizeof(ret->remote_addr));
	ret->uid = s->uid;
	ret->inode = s->inode;
	ret->flags = TW_CONN_FROM_SNAPSHOT;
	if (s->state == TW_TCP_NEW_SYN_RECV)
		ret->flags |= TW_CONN_REQUEST;
	ret->info = s->info;
	ret->info.has_info = s->has_info;
	conn_set_sample_ns(ret, now_ns);
	ret->info.timer = s->timer;
	ret->info.timer_retrans = s->retrans;
	ret->info.timer_expires_ms = s->expires_ms;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kernel_filter_from_query(const char *query, struct tw_filter *f, char *err, size_t err_len)
{
	const char *p = query[0] == '?' ? query + 1 : query;

	while (*p) {
		size_t len = strcspn(p, "&");
		char key[64], *value = malloc(len + 1);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len, n = 0;
		int r;

		if (!value)
			return -ENOMEM;
		snprintf(key, sizeof(key), "%.*s", (int)(klen < sizeof(key) ? klen : 0), p);
		for (const char *v = eq ? eq + 1 : p + len; v < p + len; v++) {
			if (*v == '%' && v + 2 < p + len && hexval(v[1]) >= 0 &&
			    hexval(v[2]) >= 0) {
				value[n++] = (char)(hexval(v[1]) << 4 | hexval(v[2]));
				v += 2;
			} else {
				value[n++] = *v;
			}
		}
		value[n] = '\0';
		r = filter_set(f, key, value, err, err_len);
		free(value);
		if (r < 0)
			return r;
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

struct row {
	struct tw_conn c;
	uint32_t rqueue, wqueue;
};

struct list_ctx {
	const struct kernel_list_opts *o;
	struct tw_filter filter;
	struct tw_clock clk;
	struct tw_buf out;
	struct tw_procscan *procs;
	struct row *rows; /* with sort=: kept, then sorted */
	size_t n, cap;
	uint64_t emitted;
	bool oom;
};

static void owner(struct list_ctx *x, struct tw_conn *c)
{
	struct tw_proc_owner o;

	if (!x->procs || !c->inode || procscan_lookup(x->procs, c->inode, &o) < 0)
		return;
	c->pid = o.pid;
	memcpy(c->comm, o.comm, sizeof(c->comm));
	c->flags |= TW_CONN_HAS_TASK;
}

static void list_one(const struct tw_ksock *s, void *data)
{
	struct list_ctx *x = data;
	struct tw_conn c;

	kernel_conn_from(s, x->clk.now_mono_ns, &c);
	if (!filter_match(&x->filter, &c))
		return;
	owner(x, &c);
	if (x->o->sort.key) {
		if (x->n == x->cap) {
			size_t cap = x->cap ? x->cap * 2 : 1024;
			struct row *r = realloc(x->rows, cap * sizeof(*r));

			if (!r) {
				x->oom = true;
				return;
			}
			x->rows = r;
			x->cap = cap;
		}
		x->rows[x->n++] = (struct row){.c = c, .rqueue = s->rqueue, .wqueue = s->wqueue};
		return;
	}
	if (x->o->limit && x->emitted >= x->o->limit)
		return;
	text_row_queues(&x->out, &c, &x->clk, x->o->columns, s->rqueue, s->wqueue);
	x->emitted++;
}

static void print_sorted(struct list_ctx *x)
{
	struct listsort_entry *e = malloc((x->n ? x->n : 1) * sizeof(*e));
	uint64_t max = x->o->limit ? x->o->limit : UINT64_MAX;

	if (!e) {
		x->oom = true;
		return;
	}
	for (size_t i = 0; i < x->n; i++) {
		listsort_entry_of(&x->o->sort, &x->rows[i].c, &x->clk, &e[i]);
		e[i].cookie = i; /* ties by dump order; the index finds the row */
	}
	qsort(e, x->n, sizeof(*e), listsort_cmp);
	for (size_t i = 0; i < x->n && i < max; i++) {
		const struct row *r = &x->rows[e[i].cookie];

		text_row_queues(&x->out, &r->c, &x->clk, x->o->columns, r->rqueue, r->wqueue);
	}
	free(e);
}

int kernel_list(const struct kernel_list_opts *o)
{
	struct list_ctx x = {.o = o};
	char err[256];
	bool info = o->columns & TEXT_COL_INFO || o->sort.key == LISTSORT_RTT ||
		    o->sort.key == LISTSORT_BYTES;
	int r, ret = 0;

	filter_init(&x.filter);
	if (kernel_filter_from_query(o->query, &x.filter, err, sizeof(err)) < 0) {
		fprintf(stderr, "tcpwatch list: %s\n", err);
		return 2;
	}
	buf_init(&x.out);
	clock_sample(&x.clk);
	if (o->processes) {
		x.procs = procscan_new("/proc", 1u << 22);
		if (x.procs && procscan_scan(x.procs) < 0) {
			procscan_free(x.procs);
			x.procs = NULL;
		}
	}
	if (!o->no_header)
		text_header(&x.out, o->columns);
	r = kernel_dump(x.filter.family, x.filter.states, info, list_one, &x);
	if (r < 0) {
		fprintf(stderr, "tcpwatch list: sock_diag: %s\n", strerror(-r));
		ret = 1;
	} else {
		if (o->sort.key)
			print_sorted(&x);
		if (x.oom || x.out.oom) {
			fprintf(stderr, "tcpwatch list: out of memory\n");
			ret = 1;
		} else {
			colour_write_table(stdout, x.out.data, x.out.len, o->colour);
		}
	}
	free(x.rows);
	procscan_free(x.procs);
	buf_free(&x.out);
	return ret;
}

struct count_ctx {
	struct tw_filter filter;
	struct kernel_counts *counts;
	uint64_t now_ns;
};

static void count_one(const struct tw_ksock *s, void *data)
{
	struct count_ctx *x = data;
	struct tw_conn c;

	kernel_conn_from(s, x->now_ns, &c);
	if (!filter_match(&x->filter, &c) || c.state >= TW_TCP_MAX_STATES)
		return;
	x->counts->by_family[c.family == AF_INET6][c.state]++;
	/* An orphan: a full socket (a TIME_WAIT minisocket has no memory
	 * figures) with no file any more, still closing (tcp_orphan_count). */
	if (s->has_mem && !c.inode &&
	    (c.state == TW_TCP_FIN_WAIT1 || c.state == TW_TCP_FIN_WAIT2 ||
	     c.state == TW_TCP_CLOSING || c.state == TW_TCP_LAST_ACK))
		x->counts->orphaned++;
}

int kernel_count(const char *query, struct kernel_counts *ret)
{
	struct count_ctx x = {.counts = ret, .now_ns = clock_mono_ns()};
	char err[256];
	int r;

	memset(ret, 0, sizeof(*ret));
	filter_init(&x.filter);
	if (kernel_filter_from_query(query, &x.filter, err, sizeof(err)) < 0) {
		fprintf(stderr, "tcpwatch list: %s\n", err);
		return -EINVAL;
	}
	r = kernel_dump(x.filter.family, x.filter.states, false, count_one, &x);
	if (r < 0)
		fprintf(stderr, "tcpwatch list: sock_diag: %s\n", strerror(-r));
	return r;
}
