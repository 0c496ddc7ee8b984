/*
 * tcpwatch top: connections by throughput, from tcp_info byte counters
 * (bytes_acked, bytes_received) in two sock_diag dumps -d seconds apart.
 * Straight from the kernel, not the daemon: the daemon samples tcp_info
 * only at its reconcile (seconds apart, whenever it ran), while a dump
 * here is taken exactly when each batch wants it and costs one sock_diag
 * pass.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "clock.h"
#include "colour.h"
#include "client.h"
#include "filterargs.h"
#include "fmt.h"
#include "kernel.h"
#include "procscan.h"
#include "tcprate.h"
#include "tcpstate.h"

struct top_args {
	double delay_s;
	long batches; /* 0: until interrupted */
	bool v4, v6, process;
	char netns_path[300];
	struct filter_args filter;
};

struct dump {
	struct tw_rate_sample *samples; /* sorted by cookie */
	struct tw_conn *conns;          /* samples[i]'s connection */
	size_t n, cap;
	uint64_t time_ns;
	bool oom;
};

struct dump_ctx {
	struct dump *d;
	const struct tw_filter *filter;
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "tcpwatch top: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

static int parse_args(struct top_args *a, int argc, char **argv)
{
	a->delay_s = 1.0;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int r;

		if (!strcmp(s, "-d") || !strcmp(s, "--delay") || !strcmp(s, "-n") ||
		    !strcmp(s, "--batches") || !strcmp(s, "-N") || !strcmp(s, "--net")) {
			const char *v = i + 1 < argc ? argv[++i] : NULL;
			char *end = NULL;

			if (!v)
				return usage_error(s, "needs a value");
			if (s[1] == 'd' || s[2] == 'd') {
				a->delay_s = strtod(v, &end);
				if (*end || !(a->delay_s >= 0.01 && a->delay_s <= 3600))
					return usage_error("-d takes seconds (0.01 to 3600):", v);
			} else if (s[1] == 'n' || s[2] == 'b') {
				a->batches = strtol(v, &end, 10);
				if (*end || a->batches < 1)
					return usage_error("-n takes a count of at least 1:", v);
			} else {
				snprintf(a->netns_path, sizeof(a->netns_path),
					 v[0] == '/' ? "%s" : "/run/netns/%s", v);
			}
			continue;
		}
		if (!strcmp(s, "-4")) {
			a->v4 = true;
			continue;
		}
		if (!strcmp(s, "-6")) {
			a->v6 = true;
			continue;
		}
		if (!strcmp(s, "-p") || !strcmp(s, "--processes")) {
			a->process = true;
			continue;
		}
		r = filter_args_take(&a->filter, argc, argv, &i, "top");
		if (r < 0)
			return 2;
		if (r == 0)
			return usage_error("unknown option", s);
	}
	if (a->v4 && a->v6)
		return usage_error("-4 and -6 exclude each other", NULL);
	return filter_args_check(&a->filter, "top") < 0 ? 2 : 0;
}

static void dump_free(struct dump *d)
{
	free(d->samples);
	free(d->conns);
	memset(d, 0, sizeof(*d));
}

static void take(const struct tw_ksock *s, void *data)
{
	struct dump_ctx *x = data;
	struct dump *d = x->d;
	struct tw_conn c;

	if (!s->has_info)
		return; /* request sockets and TIME_WAIT move no data */
	kernel_conn_from(s, d->time_ns, &c);
	if (!filter_match(x->filter, &c))
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		struct tw_rate_sample *ns = realloc(d->samples, cap * sizeof(*ns));
		struct tw_conn *nc;

		if (ns)
			d->samples = ns;
		nc = ns ? realloc(d->conns, cap * sizeof(*nc)) : NULL;
		if (!nc) {
			d->oom = true;
			return;
		}
		d->conns = nc;
		d->cap = cap;
	}
	d->conns[d->n++] = c; /* samples are filled once sorted */
}

static int by_cookie(const void *a, const void *b)
{
	const struct tw_conn *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

/* A dump, its connections and samples sorted by cookie (what
 * tcprate_compute merges on). */
static int take_dump(const struct tw_filter *f, struct dump *d)
{
	struct dump_ctx x = {.d = d, .filter = f};
	int r;

	d->n = 0;
	d->time_ns = clock_mono_ns();
	r = kernel_dump(f->family, f->states, true, take, &x);
	if (r < 0)
		return r;
	if (d->oom)
		return -ENOMEM;
	qsort(d->conns, d->n, sizeof(*d->conns), by_cookie);
	for (size_t i = 0; i < d->n; i++)
		d->samples[i] = (struct tw_rate_sample){
			.cookie = d->conns[i].cookie,
			.bytes_acked = d->conns[i].info.bytes_acked,
			.bytes_received = d->conns[i].info.bytes_received,
		};
	return 0;
}

static int term_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return 24;
}

static void owner(struct tw_procscan *p, struct tw_conn *c, char *out, size_t len)
{
	struct tw_proc_owner o;
	char comm[64];

	out[0] = '\0';
	if (!p || !c->inode || procscan_lookup(p, c->inode, &o) < 0)
		return;
	o.comm[sizeof(o.comm) - 1] = '\0';
	tw_fmt_escaped(comm, sizeof(comm), o.comm, 1);
	snprintf(out, len, " users:((\"%s\",pid=%u))", comm, o.pid);
}

static void print_batch(const struct cli_opts *o, const struct top_args *a, const struct dump *cur,
			const struct tw_rate *r, size_t n, double dt_s, bool tty, bool colour,
			struct tw_procscan *procs)
{
	size_t moving = 0, max_rows = SIZE_MAX;
	double sent = 0, received = 0;
	char s1[16], s2[16], s3[16], when[16];
	time_t now = time(NULL);
	struct tm tm;

	for (size_t i = 0; i < n; i++) {
		sent += r[i].sent_per_s;
		received += r[i].received_per_s;
		moving += r[i].sent_per_s + r[i].received_per_s > 0;
	}
	if (o->json) {
		printf("{\"interval_s\":%.3f,\"connections\":%zu,\"moving\":%zu,\"rows\":[", dt_s,
		       n, moving);
		for (size_t i = 0; i < moving; i++) {
			const struct tw_conn *c = &cur->conns[r[i].index];
			char l[TW_ENDPOINT_STRLEN], p[TW_ENDPOINT_STRLEN];

			l[tw_endpoint_put(l, c->family, c->local_addr, c->local_port, false)] = 0;
			p[tw_endpoint_put(p, c->family, c->remote_addr, c->remote_port, false)] = 0;
			printf("%s{\"cookie\":%" PRIu64 ",\"state\":\"%s\",\"local\":\"%s\","
			       "\"remote\":\"%s\",\"sent_bytes_per_s\":%.0f,"
			       "\"received_bytes_per_s\":%.0f}",
			       i ? "," : "", c->cookie, tcpstate_name(c->state), l, p,
			       r[i].sent_per_s, r[i].received_per_s);
		}
		printf("]}\n");
		fflush(stdout);
		return;
	}
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (tty) {
		int rows = term_rows() - 4;

		max_rows = rows > 0 ? (size_t)rows : 1;
		fputs("\033[H\033[2J", stdout);
	}
	printf("tcpwatch top - %s, %.2fs: %zu connections, %zu moving data, sent %s, received %s\n",
	       when, dt_s, n, moving, tcprate_format(sent, s1), tcprate_format(received, s2));
	printf("%s%-11s %-27s %-27s %10s %10s %10s %12s%s%s\n", colour ? COLOUR_BOLD : "", "State",
	       "Local Address:Port", "Peer Address:Port", "Sent/s", "Recv/s", "Total/s", "Cookie",
	       a->process ? " Process" : "", colour ? COLOUR_RESET : "");
	for (size_t i = 0; i < moving && i < max_rows; i++) {
		struct tw_conn *c = &cur->conns[r[i].index];
		char l[TW_ENDPOINT_STRLEN], p[TW_ENDPOINT_STRLEN], who[128];
		const char *name = tcpstate_ss_name(c->state);
		const char *esc = colour ? colour_of_state(name, strlen(name)) : "";

		l[tw_endpoint_put(l, c->family, c->local_addr, c->local_port, false)] = 0;
		p[tw_endpoint_put(p, c->family, c->remote_addr, c->remote_port, false)] = 0;
		owner(procs, c, who, sizeof(who));
		printf("%s%-11s%s %-27s %-27s %10s %10s %10s %12" PRIu64 "%s\n", esc, name,
		       *esc ? COLOUR_RESET : "", l, p, tcprate_format(r[i].sent_per_s, s1),
		       tcprate_format(r[i].received_per_s, s2),
		       tcprate_format(r[i].sent_per_s + r[i].received_per_s, s3), c->cookie, who);
	}
	if (!tty)
		putchar('\n');
	fflush(stdout);
}

static void sleep_until(uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = clock_mono_ns();
		struct timespec ts;

		if (now >= deadline_ns)
			return;
		ts.tv_sec = (time_t)((deadline_ns - now) / 1000000000ull);
		ts.tv_nsec = (long)((deadline_ns - now) % 1000000000ull);
		if (nanosleep(&ts, NULL) == 0)
			return;
		if (errno != EINTR)
			return;
	}
}

int cmd_top(const struct cli_opts *o, int argc, char **argv)
{
	struct top_args a = {0};
	struct dump prev = {0}, cur = {0}, tmp;
	struct tw_filter filter;
	char query[3800] = "", err[256];
	bool tty = isatty(STDOUT_FILENO) == 1 && !o->json;
	bool colour = tty && colour_wanted(STDOUT_FILENO);
	struct tw_procscan *procs = NULL;
	struct tw_rate *rates = NULL;
	uint64_t deadline;
	int r, ret = 0;

	r = parse_args(&a, argc, argv);
	if (r)
		return r;
	if (filter_args_query(&a.filter, TW_STATES_CONNECTED_DEFAULT, query, sizeof(query), "top") <
	    0)
		return 2;
	if (a.v4)
		query_add(query, sizeof(query), "family", "inet");
	if (a.v6)
		query_add(query, sizeof(query), "family", "inet6");
	filter_init(&filter);
	if (kernel_filter_from_query(query, &filter, err, sizeof(err)) < 0)
		return usage_error(err, NULL);
	if (a.netns_path[0] && (r = kernel_enter_netns(a.netns_path)) < 0) {
		fprintf(stderr, "tcpwatch top: -N %s: %s\n", a.netns_path, strerror(-r));
		return 1;
	}
	if (a.process)
		procs = procscan_new("/proc", 1u << 22);
	r = take_dump(&filter, &prev);
	deadline = prev.time_ns;
	for (long batch = 0; r >= 0 && (!a.batches || batch < a.batches); batch++) {
		double dt_s;
		struct tw_rate *nr;

		deadline += (uint64_t)llround(a.delay_s * 1e9);
		sleep_until(deadline);
		r = take_dump(&filter, &cur);
		if (r < 0)
			break;
		nr = realloc(rates, (cur.n ? cur.n : 1) * sizeof(*rates));
		if (!nr) {
			r = -ENOMEM;
			break;
		}
		rates = nr;
		tcprate_compute(prev.samples, prev.n, cur.samples, cur.n,
				cur.time_ns - prev.time_ns, rates);
		qsort(rates, cur.n, sizeof(*rates), tcprate_cmp);
		if (procs)
			procscan_scan(procs);
		dt_s = (double)(cur.time_ns - prev.time_ns) / 1e9;
		print_batch(o, &a, &cur, rates, cur.n, dt_s, tty, colour, procs);
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	if (r < 0) {
		fprintf(stderr, "tcpwatch top: sock_diag: %s\n", strerror(-r));
		ret = 1;
	}
	free(rates);
	dump_free(&prev);
	dump_free(&cur);
	procscan_free(procs);
	return ret;
}
