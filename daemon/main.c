/*
 * tcpwatchd: wires the layers to the event loop. Privileged resources
 * (BPF, netlink, sockets) are opened first; then the loop runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
		if (c && c->hist_len && conn_hist_last_ns(c) == conn_hist_time_kept(c, e.time_ns))
			http_publish(d->http, c, c->hist_len - 1u);
	}
}

/* The service manager's status line, every 5 s under systemd. */
static void notify_status(struct tw_daemon *d)
{
	struct tw_conntable_stats st;
	char msg[256];

	conntable_get_stats(d->table, &st);
	snprintf(msg, sizeof(msg),
		 "STATUS=tracking %llu connections (%llu listeners, %llu half-open) in %zu "
		 "network namespaces; %llu closed kept",
		 (unsigned long long)st.live, (unsigned long long)st.listeners,
		 (unsigned long long)st.requests, sync_netns_count(d->sync),
		 (unsigned long long)st.retained);
	service_notify(msg);
}

/* Once a second: HTTP timeouts, event-stream pings, and an early
 * reconcile when events were lost (the snapshot repairs what they missed). */
static void on_tick(struct tw_loop *l, void *data)
{
	struct tw_daemon *d = data;

	(void)l;
	http_tick(d->http);
	if (++d->ticks % 15 == 0)
		http_ping_watchers(d->http);
	if (d->ticks % 5 == 0 && getenv("NOTIFY_SOCKET"))
		notify_status(d);
	daemon_check_lost(d);
}

/* systemd's watchdog, fed from the loop: a stalled loop stops feeding it
 * and is restarted. */
static void on_watchdog(struct tw_loop *l, void *data)
{
	(void)l;
	(void)data;
	service_notify("WATCHDOG=1");
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

/* Each door may hold max-clients (and HTTP_CLIENTS_MARGIN more, to be told 503):
 * the soft descriptor limit is raised to the hard one, and a hard limit
 * too low for the configuration is said at start-up. */
static void raise_fd_limit(const struct tw_config *cfg)
{
	rlim_t want = 2 * ((rlim_t)cfg->max_clients + HTTP_CLIENTS_MARGIN) + 1024;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		log_warn("max-clients %u on two doors wants %llu descriptors; the limit is %llu",
			 cfg->max_clients, (unsigned long long)want,
			 (unsigned long long)rl.rlim_cur);
}

static int start(struct tw_daemon *d, char *err, size_t err_len)
{
	struct tw_http_hooks hh = {
		.collect_stats = daemon_collect_stats,
		.sync = daemon_drain,
		.data = d,
		.findings = &d->findings,
	};
	int r;

	raise_fd_limit(&d->cfg);
	r = daemon_open(d, on_record, err, err_len);
	if (r < 0)
		return r;
	hh.table = d->table;
	hh.prober = d->prober;
	d->http = http_new(d->loop, &d->cfg, &hh, err, err_len);
	if (!d->http)
		return -EINVAL;
	if (loop_add_signals(d->loop, (const int[]){SIGTERM, SIGINT, SIGHUP, 0}, on_signal, d) <
		    0 ||
	    loop_add_timer(d->loop, 1000, 1000, on_tick, d, "tick") < 0)
		return snprintf(err, err_len, "cannot set up the event loop"), -EINVAL;
	if (service_watchdog_ms() &&
	    loop_add_timer(d->loop, service_watchdog_ms() / 2, service_watchdog_ms() / 2,
			   on_watchdog, d, "watchdog") < 0)
		return snprintf(err, err_len, "cannot set up the watchdog timer"), -EINVAL;
	return 0;
}

static void stop(struct tw_daemon *d)
{
	http_free(d->http);
	daemon_close(d);
}

int main(int argc, char **argv)
{
	static struct tw_daemon d;
	char err[512] = "";
	int r;

	d.main_mono_ns = clock_mono_ns();
	config_defaults(&d.cfg);
	r = config_parse_args(&d.cfg, argc, argv, err, sizeof(err));
	if (r != 0) {
		if (r < 0)
			fprintf(stderr, "tcpwatchd: %s\n", err);
		return r < 0 ? 2 : 0;
	}
	d.argc = argc;
	d.argv = argv;
	log_set_journal(getenv("JOURNAL_STREAM") != NULL);
	if (geteuid() != 0)
		log_warn("not running as root: loading BPF needs CAP_BPF and CAP_PERFMON");
	if (start(&d, err, sizeof(err)) < 0 || daemon_drop_privileges(&d, err, sizeof(err)) < 0) {
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
	d.ready_mono_ns = clock_mono_ns();
	service_notify("READY=1");
	if (getenv("NOTIFY_SOCKET"))
		notify_status(&d);
	r = loop_run(d.loop);
	service_notify("STOPPING=1");
	if (r < 0)
		log_err("event loop failed: %s", strerror(-r));
	daemon_save_state(&d);
	stop(&d);
	return r < 0 ? 1 : 0;
}
