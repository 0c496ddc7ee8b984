/*
 * The daemon's core without its HTTP door: the table, the tracer, the
 * reconcile procedure and the loop's handlers for them. main.c adds the
 * API on top.
 */
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "clock.h"
#include "daemon.h"
#include "dropreason.h"
#include "log.h"
#include "netstat.h"
#include "privs.h"

void daemon_drain(void *data)
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
	daemon_drain(data);
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
	daemon_drain(d);
	/* Under churn thousands close between two ticks: keep retention
	 * at its bound here, where it costs a glance when nothing is due. */
	conntable_expire(d->table, clock_mono_ns());
}

/*
 * Once a second. Events lost since the last look: the table is told when
 * (connections alive then are marked history_gap), and an early reconcile
 * repairs what they missed. Under a lasting overload the early reconciles
 * back off (1 s, 2 s, 4 s, ... up to reconcile-interval), so a loss does
 * not make the daemon dump every socket every second for ever; a quiet
 * spell resets it.
 */
void daemon_check_lost(struct tw_daemon *d)
{
	uint64_t lost = bpfload_lost(d->bpf), now = clock_mono_ns();
	uint64_t max = (uint64_t)d->cfg.reconcile_interval_ms * NSEC_PER_MSEC;

	if (lost == d->lost_seen) {
		if (d->early_backoff_ns && now - d->lost_last_ns > 4 * d->early_backoff_ns)
			d->early_backoff_ns = 0;
		d->lost_checked_ns = now;
		return;
	}
	conntable_note_gap(d->table, d->lost_checked_ns ? d->lost_checked_ns : d->start_mono_ns,
			   now);
	d->lost_seen = lost;
	d->lost_last_ns = d->lost_checked_ns = now;
	if (now < d->early_next_ns) {
		d->early_deferred++;
		return;
	}
	sync_start_early(d->sync);
	d->early_backoff_ns = !d->early_backoff_ns ? NSEC_PER_SEC : 2 * d->early_backoff_ns;
	if (d->early_backoff_ns > max)
		d->early_backoff_ns = max;
	d->early_next_ns = now + d->early_backoff_ns;
}

void daemon_save_state(struct tw_daemon *d)
{
	if (!d->state.enabled)
		return;
	daemon_drain(d); /* what happened until now, in the file */
	statefile_save(&d->state, d->table);
}

/* A crash (kill -9, OOM) loses at most what happened since the last one. */
static void on_checkpoint_timer(struct tw_loop *l, void *data)
{
	(void)l;
	daemon_save_state(data);
}

static bool netns_followed(uint32_t inode, void *data)
{
	struct tw_daemon *d = data;

	return sync_netns_followed(d->sync, inode);
}

static int netns_fd(uint32_t inode, void *data)
{
	struct tw_daemon *d = data;

	return sync_netns_fd(d->sync, inode);
}

static size_t netns_list(uint32_t *out, size_t max, void *data)
{
	struct tw_daemon *d = data;

	return sync_netns_list(d->sync, out, max);
}

/*
 * The table's buckets for the sockets the kernel holds, before the first
 * snapshot adds them: a million records inserted into a table of 1,024
 * buckets made it double ten times, each doubling a rehash of all so far,
 * the last of them (half a million records) a turn of its own. From
 * /proc/net/sockstat: every namespace's TCP sockets and this one's
 * TIME_WAIT. A hint only: without it the table grows as before.
 */
static void reserve_table(struct tw_daemon *d)
{
	char text[4096];
	FILE *f = fopen("/proc/net/sockstat", "re");
	size_t n;
	long want;

	if (!f)
		return;
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	want = netstat_sockstat_tcp(text, n);
	if (want > 0)
		conntable_reserve(d->table, (size_t)want);
}

/* What start-up loads beside the tracing programs. */
struct side_load {
	struct tw_tasks *tasks;
	int drop_reasons;
	char why[256]; /* why tasks is NULL */
};

static void *side_load(void *data)
{
	struct side_load *s = data;

	s->tasks = tasks_open(s->why, sizeof(s->why));
	s->drop_reasons = dropreason_load();
	return NULL;
}

int daemon_open(struct tw_daemon *d, bpf_event_cb on_record, char *err, size_t err_len)
{
	const struct tw_conntable_limits limits = {
		.max_live = d->cfg.max_connections,
		.max_requests = d->cfg.max_half_opens,
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
	const struct tw_sync_hooks sh = {.drain = daemon_drain, .lost = events_lost, .data = d};
	const struct tw_prober_hooks ph = {.netns_followed = netns_followed,
					   .netns_fd = netns_fd,
					   .netns_list = netns_list,
					   .data = d};
	struct side_load side = {0};
	pthread_t side_thread;
	bool threaded;
	int r;

	d->start_mono_ns = clock_mono_ns();
	d->loop = loop_new();
	d->table = conntable_new(&limits);
	if (!d->loop || !d->table)
		return snprintf(err, err_len, "out of memory"), -ENOMEM;
	daemon_apply_limits(d);
	/* The last run's table, before the first pass judges it. */
	statefile_init(&d->state, d->cfg.state_dir);
	statefile_load(&d->state, d->table);
	d->sync = sync_new(d->loop, d->table, &sc, &sh, &r);
	if (!d->sync)
		return snprintf(err, err_len, "cannot open sock_diag: %s", strerror(-r)), r;
	/* The task iterators and the drop reasons are loaded on a thread of
	 * their own while this one loads the tracing programs: the kernel
	 * verifies them on the other CPU, and start-up is shorter by their
	 * time (about a tenth of it). The iterators stay this thread's. */
	bpfload_init();
	threaded = pthread_create(&side_thread, NULL, side_load, &side) == 0;
	if (!threaded)
		side_load(&side);
	d->bpf = bpfload_open(d->cfg.ringbuf_kb * 1024u, d->cfg.netns_filter, on_record, d, err,
			      err_len);
	if (threaded)
		pthread_join(side_thread, NULL);
	d->tasks = side.tasks;
	d->drop_reasons = side.drop_reasons;
	if (!d->bpf)
		return -EINVAL;
	/* Owners and namespaces by the kernel's walk of its tasks: no access
	 * to other users' /proc/PID needed (bpf/tasks.bpf.c). */
	if (d->tasks) {
		const struct tw_task_source src = tasks_source(d->tasks);

		sync_use_task_source(d->sync, &src);
	} else {
		log_info("owners and namespaces from /proc (%s): other users' processes need "
			 "CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH",
			 side.why);
	}
	reserve_table(d);
	/* Tracing first, then the snapshot: nothing falls between them. */
	sync_run_now(d->sync);
	/* A restored connection the kernel no longer has ended while we were
	 * down; a pass calls a socket gone only on a second miss (a dump
	 * under churn can skip one), so a second pass tells before READY. */
	if (d->state.restored_live)
		sync_run_now(d->sync);
	d->reconcile_timer =
		loop_add_timer(d->loop, d->cfg.reconcile_interval_ms, d->cfg.reconcile_interval_ms,
			       on_reconcile_timer, d, "reconcile_timer");
	if (d->state.enabled && d->cfg.checkpoint_interval_ms &&
	    loop_add_timer(d->loop, d->cfg.checkpoint_interval_ms, d->cfg.checkpoint_interval_ms,
			   on_checkpoint_timer, d, "checkpoint") < 0)
		return snprintf(err, err_len, "cannot set up the checkpoint timer"), -EINVAL;
	if (d->reconcile_timer < 0 ||
	    loop_add_fd(d->loop, bpfload_epoll_fd(d->bpf), EPOLLIN, on_ringbuf, d, "events") < 0 ||
	    loop_add_timer(d->loop, BPFLOAD_DRAIN_MS, BPFLOAD_DRAIN_MS, on_drain_timer, d,
			   "events_drain") < 0)
		return snprintf(err, err_len, "cannot set up the event loop"), -EINVAL;
	d->prober = prober_new(d->loop, &d->cfg, &ph, err, err_len);
	if (!d->prober)
		return -EINVAL;
	return 0;
}

void daemon_close(struct tw_daemon *d)
{
	prober_free(d->prober);
	bpfload_close(d->bpf);
	sync_free(d->sync);
	tasks_close(d->tasks);
	conntable_free(d->table);
	loop_free(d->loop);
}

/*
 * What the daemon still needs once BPF is loaded and its sockets are open
 * (README.md, "Security", has the same list):
 *   CAP_SYS_ADMIN        setns(): a diag socket in each namespace that
 *                        appears later, probes from other namespaces
 *   CAP_NET_RAW          the prober's raw sockets, opened per namespace
 *                        when a probe needs them
 *   CAP_NET_ADMIN        attaching the half-open program (tcx) there
 *   CAP_SYS_PTRACE       only without the task iterators (bpf/tasks.bpf.c),
 *                        or before Linux 6.18 (no namespace file handles):
 *                        /proc/PID/fd and /proc/PID/ns/net of other
 *                        users' processes (owners, namespaces)
 *   CAP_DAC_READ_SEARCH  likewise: listing those directories
 * Gone after start-up: CAP_BPF and CAP_PERFMON (programs loaded and
 * attached, the iterators too), CAP_SYS_RESOURCE and every other
 * capability. sock_diag dumps, tcp_info, the ring buffers and reading the
 * iterators need none; opening a namespace by its file handle needs
 * CAP_SYS_ADMIN, as setns() into it does.
 */
int daemon_drop_privileges(struct tw_daemon *d, char *err, size_t err_len)
{
	uint64_t keep = PRIV_BIT(CAP_NET_RAW);
	char names[256];
	int r;

	if (!d->tasks)
		keep |= PRIV_BIT(CAP_SYS_PTRACE) | PRIV_BIT(CAP_DAC_READ_SEARCH);
	else if (!tasks_netns_handles(d->tasks))
		keep |= PRIV_BIT(CAP_SYS_PTRACE); /* /proc/PID/ns/net, before 6.18 */

	if (d->cfg.max_netns > 1 || d->cfg.probe_max_netns > 1)
		keep |= PRIV_BIT(CAP_SYS_ADMIN);
	if (prober_half_open_ready(d->prober))
		keep |= PRIV_BIT(CAP_NET_ADMIN);
	r = privs_drop(keep, d->cfg.user, err, err_len);
	if (r < 0)
		return r;
	if (prober_half_open_ready(d->prober) && !(privs_effective() & PRIV_BIT(CAP_NET_ADMIN)))
		prober_half_open_disable(d->prober,
					 "it needs CAP_NET_ADMIN, which tcpwatchd does not have "
					 "(README.md, Security)");
	privs_format(privs_effective(), names, sizeof(names));
	log_info("capabilities after start-up: %s%s%s", names, d->cfg.user[0] ? "; user " : "",
		 d->cfg.user);
	return 0;
}
