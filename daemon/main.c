/*
 * tcpwatchd: wires the layers to the event loop. Privileged resources
 * (BPF, netlink, sockets) are opened first; then the loop runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "service.h"

/* A ring-buffer record: into the table, then to the event streams. */
static void on_record(const void *data, size_t len, void *ctx)
{
	struct tw_daemon *d = ctx;
	struct tw_event e;

	if (events_decode(data, len, &e) < 0) {
		d->ev.malformed++;
		return;
	}
	events_apply(d->table, &e, &d->ev);
	/* Nobody watching (the usual case): no second lookup per event. */
	if (http_watching(d->http) && e.cookie) {
		struct tw_conn *c = conntable_get(d->table, e.cookie);

		/* The entry this event added, if it added one. */
		if (c && c->hist_len && c->hist[c->hist_len - 1].time_ns == e.time_ns)
			http_publish(d->http, c, &c->hist[c->hist_len - 1]);
	}
}

static void drain_events(void *data)
{
	struct tw_daemon *d = data;

	bpfload_consume(d->bpf);
}

static uint64_t events_lost(void *data)
{
	struct tw_daemon *d = data;

	return bpfload_lost(d->bpf);
}

static void on_ringbuf(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	drain_events(data);
}

static void on_reconcile_timer(struct tw_loop *l, void *data)
{
	struct tw_daemon *d = data;

	(void)l;
	sync_start(d->sync);
}

static void on_drain_timer(struct tw_loop *l, void *data)
{
	struct tw_daemon *d = data;

	(void)l;
	drain_events(d);
	/* Under churn thousands close between two ticks: keep retention
	 * at its bound here, where it costs a glance when nothing is due. */
	conntable_expire(d->table, clock_mono_ns());
}

/* Once a second: HTTP timeouts, event-stream pings, and an early
 * reconcile when events were lost (the snapshot repairs what they missed). */
static void on_tick(struct tw_loop *l, void *data)
{
	struct tw_daemon *d = data;
	uint64_t lost = bpfload_lost(d->bpf);

	(void)l;
	http_tick(d->http);
	if (++d->ticks % 15 == 0)
		http_ping_watchers(d->http);
	if (lost != d->lost_seen) {
		d->lost_seen = lost;
		sync_start_early(d->sync);
	}
}

static void on_signal(struct tw_loop *l, int signo, void *data)
{
	if (signo == SIGHUP) {
		daemon_reload(data);
		return;
	}
	log_info("signal %d, stopping", signo);
	loop_stop(l);
}

/* Tracing first, then the snapshot: nothing falls between them. */
static int start(struct tw_daemon *d, char *err, size_t err_len)
{
	const struct tw_conntable_limits limits = {
		.max_live = d->cfg.max_connections,
		.retain_count = d->cfg.retain_count,
		.retain_age_ns = (uint64_t)d->cfg.retain_age_s * NSEC_PER_SEC,
		.history_max = (uint16_t)d->cfg.history_max,
	};
	const struct tw_sync_config sc = {
		.max_netns = d->cfg.max_netns,
		.max_owner_entries = 4u * d->cfg.max_connections,
		.proc_root = "/proc",
		.run_netns = "/run/netns",
	};
	const struct tw_sync_hooks sh = {.drain = drain_events, .lost = events_lost, .data = d};
	struct tw_http_hooks hh = {
		.collect_stats = daemon_collect_stats,
		.sync = drain_events,
		.data = d,
		.findings = &d->findings,
	};
	int r;

	d->loop = loop_new();
	d->table = conntable_new(&limits);
	if (!d->loop || !d->table)
		return snprintf(err, err_len, "out of memory"), -ENOMEM;
	daemon_apply_limits(d);
	d->sync = sync_new(d->loop, d->table, &sc, &sh, &r);
	if (!d->sync)
		return snprintf(err, err_len, "cannot open sock_diag: %s", strerror(-r)), r;
	d->bpf = bpfload_open(d->cfg.ringbuf_kb * 1024u, d->cfg.netns_filter, on_record, d, err,
			      err_len);
	if (!d->bpf)
		return -EINVAL;
	sync_run_now(d->sync);
	hh.table = d->table;
	d->http = http_new(d->loop, &d->cfg, &hh, err, err_len);
	if (!d->http)
		return -EINVAL;
	d->reconcile_timer = loop_add_timer(d->loop, d->cfg.reconcile_interval_ms,
					    d->cfg.reconcile_interval_ms, on_reconcile_timer, d);
	if (d->reconcile_timer < 0 ||
	    loop_add_fd(d->loop, bpfload_epoll_fd(d->bpf), EPOLLIN, on_ringbuf, d) < 0 ||
	    loop_add_signals(d->loop, (const int[]){SIGTERM, SIGINT, SIGHUP, 0}, on_signal, d) <
		    0 ||
	    loop_add_timer(d->loop, BPFLOAD_DRAIN_MS, BPFLOAD_DRAIN_MS, on_drain_timer, d) < 0 ||
	    loop_add_timer(d->loop, 1000, 1000, on_tick, d) < 0)
		return snprintf(err, err_len, "cannot set up the event loop"), -EINVAL;
	return 0;
}

static void stop(struct tw_daemon *d)
{
	http_free(d->http);
	bpfload_close(d->bpf);
	sync_free(d->sync);
	conntable_free(d->table);
	loop_free(d->loop);
}

int main(int argc, char **argv)
{
	static struct tw_daemon d;
	char err[512] = "";
	int r;

	config_defaults(&d.cfg);
	r = config_parse_args(&d.cfg, argc, argv, err, sizeof(err));
	if (r != 0) {
		if (r < 0)
			fprintf(stderr, "tcpwatchd: %s\n", err);
		return r < 0 ? 2 : 0;
	}
	d.argc = argc;
	d.argv = argv;
	d.start_mono_ns = clock_mono_ns();
	log_set_journal(getenv("JOURNAL_STREAM") != NULL);
	if (geteuid() != 0)
		log_warn("not running as root: loading BPF needs CAP_BPF and CAP_PERFMON");
	if (start(&d, err, sizeof(err)) < 0) {
		log_err("%s", err);
		stop(&d);
		return 1;
	}
	log_info("tracking %llu connections in %zu network namespaces; API on unix:%s%s%s",
		 (unsigned long long)conntable_live(d.table), sync_netns_count(d.sync),
		 d.cfg.socket_path, strcmp(d.cfg.listen, "none") ? " and http://" : "",
		 strcmp(d.cfg.listen, "none") ? d.cfg.listen : "");
	if (!d.cfg.foreground && !getenv("NOTIFY_SOCKET") && service_daemonize() < 0) {
		log_err("cannot go to the background: %s", strerror(errno));
		stop(&d);
		return 1;
	}
	service_notify("READY=1");
	r = loop_run(d.loop);
	service_notify("STOPPING=1");
	if (r < 0)
		log_err("event loop failed: %s", strerror(-r));
	stop(&d);
	return r < 0 ? 1 : 0;
}
