/*
 * tcpwatchd: wires the modules to the event loop. Privileged resources
 * (BPF, netlink, sockets) are opened first; then the loop runs.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/types.h>

#include "api.h"
#include "bpfload.h"
#include "config.h"
#include "conntable.h"
#include "diag.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "netns.h"
#include "procscan.h"
#include "reconcile.h"
#include "ringmerge.h"
#include "service.h"
#include "tcpwatch.h"

#define PROCSCAN_MIN_INTERVAL_NS (2ull * 1000000000ull)
#define RECONCILE_TIME_WAIT_EVERY 6 /* passes; 30 s at the default interval */
#define DIAG_RECV_TIMEOUT_MS 2000
#define DIAG_BUF_SIZE (32 * 1024) /* netlink dumps send at most this per recv */

struct tw_daemon {
	struct tw_config cfg;
	struct tw_loop *loop;
	struct tw_conntable *table;
	struct tw_bpf *bpf;
	struct tw_api *api;
	struct tw_netns_set netns;
	struct tw_procscan *procs;
	struct tw_reconcile rec;
	struct tw_event_stats ev;
	uint64_t start_mono_ns;
	uint64_t procscan_last_ns;
	uint64_t procscans;
	uint64_t owners_found;
	uint64_t lost_at_last_reconcile;
	uint64_t early_reconciles;
	uint64_t diag_errors;
	uint64_t last_reconcile_ns;     /* duration of the last pass */
	uint32_t diag_seq;
	char *diag_buf;
	uint32_t ticks;
	struct tw_findings_config findings;
};

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
	if (api_watching(d->api) && e.cookie) {
		struct tw_conn *c = conntable_get(d->table, e.cookie);

		/* The entry this event added, if it added one. */
		if (c && c->hist_len && c->hist[c->hist_len - 1].time_ns == e.time_ns)
			api_publish(d->api, c, &c->hist[c->hist_len - 1]);
	}
}

static void drain_events(struct tw_daemon *d)
{
	bpfload_consume(d->bpf);
}

static void sync_events(void *data)
{
	drain_events(data);
}

struct dump_ctx {
	struct tw_daemon *d;
	uint32_t netns;
	uint64_t now_ns;
};

static void on_diag_sock(const struct tw_diag_sock *s, void *data)
{
	struct dump_ctx *ctx = data;

	reconcile_sock(&ctx->d->rec, ctx->netns, s, ctx->now_ns);
}

/*
 * Dumps one family of one namespace. The netlink replies are read in
 * batches, with the ring buffer drained between them, so events keep
 * flowing even while 100,000 sockets are walked.
 */
static int dump_one(struct tw_daemon *d, int fd, uint32_t netns, int family, uint32_t states)
{
	struct dump_ctx ctx = { .d = d, .netns = netns };
	uint32_t seq = ++d->diag_seq;
	int r;

	/* Anything a previous, failed dump left behind is stale. */
	while (recv(fd, d->diag_buf, DIAG_BUF_SIZE, MSG_DONTWAIT) > 0)
		;
	r = diag_request_dump(fd, family, states, seq);
	if (r < 0)
		return r;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		r = poll(&pfd, 1, DIAG_RECV_TIMEOUT_MS);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n = recv(fd, d->diag_buf, DIAG_BUF_SIZE, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno; /* ENOBUFS: the dump overran us */
		}
		ctx.now_ns = clock_mono_ns();
		r = diag_parse(d->diag_buf, (size_t)n, seq, on_diag_sock, &ctx);
		if (r <= 0)
			return r;
		drain_events(d);
	}
}

/*
 * Gives sockets their owning process, scanning /proc at most every
 * PROCSCAN_MIN_INTERVAL_NS and only when an owner is missing. Only the
 * connections the reconcile noted (a socket inode and no owner, or only
 * the listener's) are looked at, not the whole table: under churn that is
 * a few out of a hundred thousand TIME_WAIT sockets.
 *
 * One pass over the noted cookies: those resolved or no longer wanting an
 * owner leave the list; returns how many of the rest arrived after the last
 * scan (a scan could name them).
 */
static size_t owners_pass(struct tw_daemon *d)
{
	struct tw_reconcile *r = &d->rec;
	size_t kept = 0, missing = 0;

	for (size_t i = 0; i < r->n_owner_wanted; i++) {
		struct tw_conn *c = conntable_get(d->table, r->owner_wanted[i]);
		struct tw_proc_owner own;

		if (!c || !(c->flags & TW_CONN_OWNER_WANTED))
			continue; /* gone, or its record reused */
		if (!reconcile_wants_owner(c)) {
			c->flags &= ~TW_CONN_OWNER_WANTED;
			continue;
		}
		if (procscan_lookup(d->procs, c->inode, &own) == 0) {
			c->pid = own.pid;
			memcpy(c->comm, own.comm, sizeof(c->comm));
			c->flags |= TW_CONN_HAS_TASK;
			c->flags &= ~(TW_CONN_OWNER_LISTENER | TW_CONN_OWNER_WANTED);
			d->owners_found++;
			continue;
		}
		/* Rescan for owners never scanned for: new since the last scan. */
		if (!(c->flags & TW_CONN_OWNER_LISTENER) || c->first_seen_ns > d->procscan_last_ns)
			missing++;
		r->owner_wanted[kept++] = r->owner_wanted[i];
	}
	r->n_owner_wanted = kept;
	return missing;
}

static void attribute_owners(struct tw_daemon *d, uint64_t now_ns)
{
	if (!owners_pass(d) || now_ns - d->procscan_last_ns < PROCSCAN_MIN_INTERVAL_NS)
		return;
	if (procscan_scan(d->procs) < 0)
		return;
	d->procscans++;
	d->procscan_last_ns = now_ns;
	owners_pass(d);
}

static void reconcile_run(struct tw_daemon *d)
{
	uint32_t spared[64];
	size_t n_spared = 0;
	uint64_t start;
	uint32_t states = DIAG_STATES_ALL;
	static const int families[] = { AF_INET, AF_INET6 };

	drain_events(d);
	netns_refresh(&d->netns, "/proc", "/run/netns");
	start = clock_mono_ns();
	reconcile_begin(&d->rec, start);
	/* TIME_WAIT minisockets can be most of a busy host's sockets and only
	 * expire: dump them every RECONCILE_TIME_WAIT_EVERY passes, and on
	 * the first pass and after lost events. */
	if (!d->rec.initial && d->rec.stats.runs % RECONCILE_TIME_WAIT_EVERY &&
	    bpfload_lost(d->bpf) == d->lost_at_last_reconcile) {
		states &= ~DIAG_STATE_TIME_WAIT;
		reconcile_skip_time_wait(&d->rec);
	}
	for (size_t i = 0; i < d->netns.n; i++) {
		for (size_t f = 0; f < 2; f++) {
			int r = dump_one(d, d->netns.v[i].diag_fd, d->netns.v[i].inode, families[f],
					 states);

			if (r < 0) {
				d->diag_errors++;
				log_debug("sock_diag dump of netns %u failed: %s", d->netns.v[i].inode,
					  strerror(-r));
				if (n_spared < sizeof(spared) / sizeof(spared[0]))
					spared[n_spared++] = d->netns.v[i].inode;
				break;
			}
		}
	}
	/* Too many failures to name: sweep nothing this time. */
	if (n_spared == sizeof(spared) / sizeof(spared[0]))
		return;
	/* Events are released in time order once older than the reorder
	 * delay: wait that long, so every event stamped before the dumps
	 * ended is applied before their disagreements are judged. */
	{
		struct timespec ts = { .tv_nsec = (long)TW_REORDER_DELAY_NS };

		nanosleep(&ts, NULL);
	}
	drain_events(d);
	reconcile_end(&d->rec, spared, n_spared, clock_mono_ns());
	attribute_owners(d, clock_mono_ns());
	conntable_expire(d->table, clock_mono_ns());
	d->last_reconcile_ns = clock_mono_ns() - start;
	d->lost_at_last_reconcile = bpfload_lost(d->bpf);
}

static void on_reconcile_timer(struct tw_loop *l, void *data)
{
	(void)l;
	reconcile_run(data);
}

static void on_ringbuf(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	struct tw_daemon *d = data;

	(void)l;
	(void)fd;
	(void)events;
	drain_events(d);
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

	(void)l;
	api_tick(d->api);
	if (++d->ticks % 15 == 0)
		api_ping_watchers(d->api);
	if (bpfload_lost(d->bpf) != d->lost_at_last_reconcile) {
		d->early_reconciles++;
		reconcile_run(d);
	}
}

static void on_signal(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)data;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("signal %u, stopping", si.ssi_signo);
	loop_stop(l);
}

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long pages = 0, resident = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

static void write_stats(struct tw_buf *b, void *data)
{
	struct tw_daemon *d = data;
	struct tw_conntable_stats ts;
	const struct tw_reconcile_stats *rs = &d->rec.stats;

	uint64_t watchers = 0, watch_dropped = 0;

	conntable_get_stats(d->table, &ts);
	if (d->api)
		api_watch_stats(d->api, &watchers, &watch_dropped);
	buf_printf(b,
		   "{\"version\":\"%s\",\"uptime_s\":%llu,"
		   "\"events_received\":%llu,\"events_lost\":%llu,\"events_nested_lost\":%llu,"
		   "\"events_malformed\":%llu,"
		   "\"events_unmatched\":%llu,\"events_refused\":%llu,"
		   "\"events_state\":%llu,\"events_retransmit\":%llu,\"events_synack_retransmit\":%llu,"
		   "\"events_reset_sent\":%llu,\"events_reset_received\":%llu,"
		   "\"resets_sent_no_socket\":%llu,\"time_wait_overflow\":%llu,",
		   TCPWATCH_VERSION,
		   (unsigned long long)((clock_mono_ns() - d->start_mono_ns) / 1000000000ull),
		   (unsigned long long)d->ev.received, (unsigned long long)bpfload_lost(d->bpf),
		   (unsigned long long)bpfload_recursion_misses(d->bpf),
		   (unsigned long long)d->ev.malformed, (unsigned long long)d->ev.unmatched,
		   (unsigned long long)d->ev.refused, (unsigned long long)d->ev.by_kind[1],
		   (unsigned long long)d->ev.by_kind[2], (unsigned long long)d->ev.by_kind[3],
		   (unsigned long long)d->ev.by_kind[4], (unsigned long long)d->ev.by_kind[5],
		   (unsigned long long)d->ev.resets_sent_no_socket,
		   (unsigned long long)d->ev.time_wait_overflow);
	buf_printf(b,
		   "\"reconcile_runs\":%llu,\"reconcile_corrections\":%llu,"
		   "\"reconcile_added\":%llu,\"reconcile_state_fixed\":%llu,"
		   "\"reconcile_vanished\":%llu,\"time_wait_ended\":%llu,"
		   "\"reconcile_early\":%llu,\"reconcile_errors\":%llu,\"reconcile_last_ms\":%.3f,",
		   (unsigned long long)rs->runs, (unsigned long long)rs->corrections,
		   (unsigned long long)rs->added, (unsigned long long)rs->state_fixed,
		   (unsigned long long)rs->vanished, (unsigned long long)rs->time_wait_ended,
		   (unsigned long long)d->early_reconciles, (unsigned long long)d->diag_errors,
		   (double)d->last_reconcile_ns / 1e6);
	buf_printf(b,
		   "\"connections_live\":%llu,\"connections_retained\":%llu,\"listeners\":%llu,"
		   "\"connections_refused\":%llu,\"connections_evicted\":%llu,"
		   "\"history_dropped\":%llu,\"table_bytes\":%llu,\"netns\":%zu,"
		   "\"netns_refused\":%llu,\"procscans\":%llu,\"owners_found\":%llu,"
		   "\"rss_bytes\":%ld,\"watchers\":%llu,\"watch_dropped\":%llu}",
		   (unsigned long long)ts.live, (unsigned long long)ts.retained,
		   (unsigned long long)ts.listeners, (unsigned long long)ts.refused_full,
		   (unsigned long long)ts.evicted, (unsigned long long)ts.history_dropped,
		   (unsigned long long)ts.bytes, d->netns.n, (unsigned long long)d->netns.refused,
		   (unsigned long long)d->procscans, (unsigned long long)d->owners_found, rss_bytes(),
		   (unsigned long long)watchers, (unsigned long long)watch_dropped);
}

static int setup_signals(struct tw_daemon *d)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	return loop_add_fd(d->loop, fd, EPOLLIN, on_signal, d);
}

static void daemon_free(struct tw_daemon *d)
{
	api_free(d->api);
	bpfload_close(d->bpf);
	if (d->netns.v)
		netns_fini(&d->netns);
	procscan_free(d->procs);
	reconcile_fini(&d->rec);
	conntable_free(d->table);
	loop_free(d->loop);
	free(d->diag_buf);
}

int main(int argc, char **argv)
{
	static struct tw_daemon d;
	struct tw_conntable_limits limits;
	struct tw_api_hooks hooks;
	char err[512] = "";
	int r;

	config_defaults(&d.cfg);
	r = config_parse_args(&d.cfg, argc, argv, err, sizeof(err));
	if (r > 0)
		return 0;
	if (r < 0) {
		fprintf(stderr, "tcpwatchd: %s\n", err);
		return 2;
	}
	log_set_level(d.cfg.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	log_set_journal(getenv("JOURNAL_STREAM") != NULL);
	if (geteuid() != 0)
		log_warn("not running as root: loading BPF needs CAP_BPF and CAP_PERFMON");

	d.start_mono_ns = clock_mono_ns();
	limits = (struct tw_conntable_limits){
		.max_live = d.cfg.max_connections,
		.retain_count = d.cfg.retain_count,
		.retain_age_ns = (uint64_t)d.cfg.retain_age_s * 1000000000ull,
		.history_max = (uint16_t)d.cfg.history_max,
	};
	d.loop = loop_new();
	d.table = conntable_new(&limits);
	d.procs = procscan_new("/proc", 4u * d.cfg.max_connections);
	d.diag_buf = malloc(DIAG_BUF_SIZE);
	if (!d.loop || !d.table || !d.procs || !d.diag_buf) {
		log_err("out of memory");
		goto fail;
	}
	reconcile_init(&d.rec, d.table);
	r = netns_init(&d.netns, d.cfg.max_netns);
	if (r < 0) {
		log_err("cannot open sock_diag: %s", strerror(-r));
		goto fail;
	}
	d.bpf = bpfload_open(d.cfg.ringbuf_kb * 1024u, d.cfg.netns_filter, on_record, &d, err,
			     sizeof(err));
	if (!d.bpf) {
		log_err("%s", err);
		goto fail;
	}
	/* Tracing first, then the snapshot: nothing falls between them. */
	reconcile_run(&d);
	d.findings = (struct tw_findings_config){
		.close_wait_threshold_ms = d.cfg.close_wait_threshold_ms,
		.time_wait_pileup = d.cfg.time_wait_pileup,
		.fin_wait2_pileup = d.cfg.fin_wait2_pileup,
		.connect_failures = d.cfg.connect_failures,
		.peer_resets = d.cfg.peer_resets,
	};
	hooks = (struct tw_api_hooks){
		.table = d.table, .write_stats = write_stats, .sync = sync_events, .data = &d,
		.findings = &d.findings,
	};
	d.api = api_new(d.loop, &d.cfg, &hooks, err, sizeof(err));
	if (!d.api) {
		log_err("%s", err);
		goto fail;
	}
	if (loop_add_fd(d.loop, bpfload_epoll_fd(d.bpf), EPOLLIN, on_ringbuf, &d) < 0 ||
	    setup_signals(&d) < 0 ||
	    loop_add_timer(d.loop, d.cfg.reconcile_interval_ms, d.cfg.reconcile_interval_ms,
			   on_reconcile_timer, &d) < 0 ||
	    loop_add_timer(d.loop, BPFLOAD_DRAIN_MS, BPFLOAD_DRAIN_MS, on_drain_timer, &d) < 0 ||
	    loop_add_timer(d.loop, 1000, 1000, on_tick, &d) < 0) {
		log_err("cannot set up the event loop");
		goto fail;
	}
	{
		struct tw_conntable_stats ts;

		conntable_get_stats(d.table, &ts);
		log_info("tracking %llu connections in %zu network namespaces",
			 (unsigned long long)ts.live, d.netns.n);
	}
	log_info("API on unix:%s%s%s", d.cfg.socket_path, strcmp(d.cfg.listen, "none") ? " and http://" : "",
		 strcmp(d.cfg.listen, "none") ? d.cfg.listen : "");
	if (!d.cfg.foreground && !getenv("NOTIFY_SOCKET") && service_daemonize() < 0) {
		log_err("cannot go to the background: %s", strerror(errno));
		goto fail;
	}
	service_notify("READY=1");
	r = loop_run(d.loop);
	service_notify("STOPPING=1");
	if (r < 0)
		log_err("event loop failed: %s", strerror(-r));
	daemon_free(&d);
	return r < 0 ? 1 : 0;
fail:
	daemon_free(&d);
	return 1;
}
