#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "diag.h"
#include "diagpipe.h"
#include "lookups.h"
#include "netns.h"
#include "netstat.h"
#include "nsstat.h"
#include "procscan.h"
#include "reconcile.h"
#include "sync.h"

#define PROCSCAN_MIN_INTERVAL_NS  (2 * NSEC_PER_SEC)
#define PROCSCAN_RETRY_NS         (60 * NSEC_PER_SEC) /* owners not found, again */
#define RECONCILE_TIME_WAIT_EVERY 6                   /* passes; 30 s at the default interval */
/* A dump that sends nothing for this long has failed; one that keeps
 * sending is given up only after DIAG_DUMP_MAX_MS (a million sockets take
 * seconds when the loop also serves clients). */
#define DIAG_DUMP_TIMEOUT_MS 2000
#define DIAG_DUMP_MAX_MS     60000
#define DIAG_BUF_SIZE        (32 * 1024) /* netlink dumps send at most this per recv */
/* One turn of the loop reads datagrams of a dump (about 125 sockets each)
 * for at most this long, and at most DIAG_RECVS_PER_TURN of them, before
 * it serves others: the turn, and so every client's wait behind it, stays
 * near a millisecond while 100,000 sockets are walked. */
#define DIAG_TURN_BUDGET_NS (1 * NSEC_PER_MSEC)
#define DIAG_RECVS_PER_TURN 16
/* Datagrams the reader thread reads ahead of the loop, at most
 * (diagpipe.h): 1 MiB, a few milliseconds of parsing. */
#define DIAG_PIPE_BUFS 32
/* Leftovers of an earlier dump read and dropped before a request, at most. */
#define DIAG_FLUSH_MAX 64
/* 4-tuple lookups of drops one pass makes, at most, and how long each
 * waits for its answer. */
#define LOOKUPS_PER_PASS  64
#define LOOKUP_TIMEOUT_MS 100
/* Events are released once older than the reorder delay (2 ms): a pass
 * waits that long, rounded up, before judging. */
#define SETTLE_MS 3

static const int families[] = {AF_INET, AF_INET6};

enum sync_phase { SYNC_IDLE, SYNC_DUMPING, SYNC_SETTLING, SYNC_SWEEPING, SYNC_OWNERS };

/* The inodes a scan for owners looks for. */
struct wanted {
	uint32_t *inodes; /* sorted */
	size_t n;
};

struct tw_sync {
	struct tw_loop *loop;
	struct tw_conntable *table;
	struct tw_sync_hooks hooks;
	struct tw_sync_config cfg;
	struct tw_netns_set netns;
	struct tw_procscan *procs;
	struct tw_reconcile rec;
	struct tw_diag_counters diag;
	char *buf;
	struct tw_diagpipe *pipe; /* the dumps' reader thread; NULL: read inline */
	enum sync_phase phase;
	bool again;    /* another pass was asked for while one ran */
	bool blocking; /* sync_run_now: poll and sleep instead of the loop */
	/* The dump under way: namespace ns_i, family fam_i. */
	size_t ns_i;
	size_t fam_i;
	int watched_fd;                           /* in the loop, or -1 */
	uint64_t dump_start_ns, dump_progress_ns; /* the dump under way: begun, last datagram */
	uint32_t seq;
	uint32_t states;
	/* Namespaces dumped whole this pass (at most max_netns). */
	uint32_t *dumped;
	size_t n_dumped;
	int deadline_timer, settle_timer;
	uint64_t pass_start_ns, last_pass_ns;
	uint64_t lost_at_last_pass;
	uint64_t early, dump_errors, procscans, owners_found, procscan_last_ns;
	struct wanted owner_w;  /* the owner scan under way (SYNC_OWNERS) */
	uint64_t owner_scan_ns; /* when it began */
	uint64_t netstat_errors;
	int last_error;
};

static void dump_start(struct tw_sync *s);
static void settle(struct tw_sync *s);

static void drain(struct tw_sync *s)
{
	if (s->hooks.drain)
		s->hooks.drain(s->hooks.data);
}

static uint64_t lost(struct tw_sync *s)
{
	return s->hooks.lost ? s->hooks.lost(s->hooks.data) : 0;
}

static void on_diag_sock(const struct tw_ksock *k, void *data)
{
	struct tw_sync *s = data;

	reconcile_sock(&s->rec, s->netns.v[s->ns_i].inode, k, clock_mono_ns());
}

static void unwatch(struct tw_sync *s)
{
	if (s->pipe)
		diagpipe_stop(s->pipe);
	if (s->watched_fd >= 0) {
		loop_del_fd(s->loop, s->watched_fd);
		s->watched_fd = -1;
	}
	if (!s->blocking)
		loop_timer_stop(s->loop, s->deadline_timer);
}

/* The namespace's dump ended, whole or not: on to the next. */
static void next_namespace(struct tw_sync *s, bool whole)
{
	if (whole)
		s->dumped[s->n_dumped++] = s->netns.v[s->ns_i].inode;
	s->ns_i++;
	s->fam_i = 0;
	dump_start(s);
}

static void dump_failed(struct tw_sync *s, int err)
{
	unwatch(s);
	s->dump_errors++;
	s->last_error = err;
	next_namespace(s, false);
}

static void dump_done(struct tw_sync *s)
{
	unwatch(s);
	if (++s->fam_i < sizeof(families) / sizeof(families[0]))
		dump_start(s);
	else
		next_namespace(s, true);
}

/* The dump's next datagram (*ret: where it is): its length, -EAGAIN when
 * none came within wait_ms, or a negative errno. */
static long next_datagram(struct tw_sync *s, int wait_ms, const void **ret)
{
	const struct tw_netns *ns = &s->netns.v[s->ns_i];
	long n;

	if (s->pipe) {
		*ret = diagpipe_next(s->pipe, wait_ms, &n, &s->diag.foreign);
		return n;
	}
	if (wait_ms > 0) {
		struct pollfd pfd = {.fd = ns->diag_fd, .events = POLLIN};
		int r;

		do
			r = poll(&pfd, 1, wait_ms);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
	}
	*ret = s->buf;
	return diag_recv(ns->diag_fd, s->buf, DIAG_BUF_SIZE, &s->diag);
}

/*
 * Reads datagrams of the dump under way for at most DIAG_TURN_BUDGET_NS
 * (at least one, at most DIAG_RECVS_PER_TURN), draining the ring buffers
 * after each, so that events keep flowing and clients are served even
 * while 100,000 sockets are walked. The first may be waited for up to
 * wait_ms. Returns whether one came.
 */
static bool read_replies(struct tw_sync *s, int wait_ms)
{
	const struct tw_netns *ns = &s->netns.v[s->ns_i];
	uint64_t t0 = clock_mono_ns(), now = t0;

	for (int i = 0; i < DIAG_RECVS_PER_TURN && s->phase == SYNC_DUMPING &&
			(i == 0 || now - t0 < DIAG_TURN_BUDGET_NS);
	     i++) {
		const void *buf = NULL;
		long n = next_datagram(s, i == 0 ? wait_ms : 0, &buf);
		int r;

		if (n == -EAGAIN)
			return i > 0;
		s->dump_progress_ns = now;
		if (n < 0) {
			dump_failed(s, (int)n);
			return true;
		}
		r = diag_parse(buf, (size_t)n, s->seq, ns->diag_portid, on_diag_sock, s, &s->diag);
		if (s->pipe)
			diagpipe_done(s->pipe);
		drain(s);
		if (r < 0) {
			dump_failed(s, r);
			return true;
		}
		if (r == 0) {
			dump_done(s);
			return true;
		}
		now = clock_mono_ns();
	}
	return true;
}

static void on_diag_readable(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	struct tw_sync *s = data;

	(void)l;
	(void)fd;
	(void)events;
	if (s->phase == SYNC_DUMPING)
		read_replies(s, 0);
}

/* DIAG_DUMP_TIMEOUT_MS after the dump began or last moved: a dump that
 * still sends is given more time, up to DIAG_DUMP_MAX_MS in all. */
static void on_deadline(struct tw_loop *l, void *data)
{
	struct tw_sync *s = data;
	uint64_t now = clock_mono_ns(), idle = now - s->dump_progress_ns;

	(void)l;
	if (s->phase != SYNC_DUMPING)
		return;
	if (idle < (uint64_t)DIAG_DUMP_TIMEOUT_MS * NSEC_PER_MSEC &&
	    now - s->dump_start_ns < (uint64_t)DIAG_DUMP_MAX_MS * NSEC_PER_MSEC) {
		loop_timer_set(
			s->loop, s->deadline_timer,
			(uint32_t)((DIAG_DUMP_TIMEOUT_MS * NSEC_PER_MSEC - idle) / NSEC_PER_MSEC) +
				1,
			0);
		return;
	}
	dump_failed(s, -ETIMEDOUT);
}

static void dump_start(struct tw_sync *s)
{
	const struct tw_netns *ns;

	/* A loop, not a recursion: every namespace's request may fail. */
	for (;; s->ns_i++, s->fam_i = 0) {
		int r;

		if (s->ns_i >= s->netns.n) {
			settle(s);
			return;
		}
		ns = &s->netns.v[s->ns_i];
		/* Anything a previous, failed dump left behind is stale. */
		for (int i = 0; i < DIAG_FLUSH_MAX; i++)
			if (diag_recv(ns->diag_fd, s->buf, DIAG_BUF_SIZE, &s->diag) < 0)
				break;
		if (s->pipe) {
			/* The reader sends it (a failure comes back as a read's). */
			char req[DIAG_REQUEST_MAX];
			size_t len =
				diag_build_dump(req, sizeof(req), families[s->fam_i], s->states,
						DIAG_EXT_INFO | DIAG_EXT_MEM, ++s->seq);

			r = diagpipe_start(s->pipe, ns->diag_fd, req, len);
		} else {
			r = diag_request_dump(ns->diag_fd, families[s->fam_i], s->states, ++s->seq);
		}
		if (r == 0)
			break;
		s->dump_errors++;
		s->last_error = r;
	}
	if (s->blocking)
		return;
	if (loop_add_fd(s->loop, s->pipe ? diagpipe_fd(s->pipe) : ns->diag_fd, EPOLLIN,
			on_diag_readable, s, "reconcile") < 0) {
		dump_failed(s, -errno);
		return;
	}
	s->watched_fd = s->pipe ? diagpipe_fd(s->pipe) : ns->diag_fd;
	s->dump_start_ns = s->dump_progress_ns = clock_mono_ns();
	loop_timer_set(s->loop, s->deadline_timer, DIAG_DUMP_TIMEOUT_MS, 0);
}

static void pass_begin(struct tw_sync *s)
{
	drain(s);
	netns_refresh(&s->netns, s->cfg.proc_root, s->cfg.run_netns);
	s->pass_start_ns = clock_mono_ns();
	reconcile_begin(&s->rec, s->pass_start_ns);
	s->states = DIAG_STATES_ALL;
	/* TIME_WAIT minisockets can be most of a busy host's sockets and only
	 * expire: dump them every RECONCILE_TIME_WAIT_EVERY passes, and on
	 * the first pass and after lost events. */
	if (!s->rec.initial && s->rec.stats.runs % RECONCILE_TIME_WAIT_EVERY &&
	    lost(s) == s->lost_at_last_pass) {
		s->states &= ~DIAG_STATE_TIME_WAIT;
		reconcile_skip_time_wait(&s->rec);
	}
	s->n_dumped = 0;
	s->ns_i = 0;
	s->fam_i = 0;
	s->phase = SYNC_DUMPING;
	dump_start(s);
}

/*
 * Gives sockets their owning process, scanning /proc at most every
 * PROCSCAN_MIN_INTERVAL_NS and only when an owner is missing. Only the
 * connections the reconcile noted (a socket inode and no owner, or only
 * the listener's) are looked at, not the whole table: under churn that is
 * a few out of a hundred thousand TIME_WAIT sockets.
 *
 * One pass over the noted cookies: those resolved or no longer wanting an
 * owner leave the list; returns how many of the rest a scan could name:
 * those never scanned for. One a scan did not find (its only descriptor in
 * flight in SCM_RIGHTS, say) is searched for again only with the next
 * new one, or every PROCSCAN_RETRY_NS: it does not make every pass scan.
 */
static size_t owners_pass(struct tw_sync *s, bool after_scan, uint64_t now_ns)
{
	struct tw_reconcile *r = &s->rec;
	size_t kept = 0, missing = 0;

	for (size_t i = 0; i < r->n_owner_wanted; i++) {
		struct tw_conn *c = conntable_get(s->table, r->owner_wanted[i]);
		struct tw_proc_owner own;

		if (!c || !(c->flags & TW_CONN_OWNER_WANTED))
			continue; /* gone, or its record reused */
		if (!reconcile_wants_owner(c)) {
			c->flags &= ~TW_CONN_OWNER_WANTED;
			continue;
		}
		if (procscan_lookup(s->procs, c->inode, &own) == 0) {
			c->pid = own.pid;
			memcpy(c->comm, own.comm, sizeof(c->comm));
			c->flags |= TW_CONN_HAS_TASK;
			c->flags &= ~(TW_CONN_OWNER_LISTENER | TW_CONN_OWNER_WANTED);
			s->owners_found++;
			continue;
		}
		if (after_scan)
			c->flags |= TW_CONN_OWNER_SEARCHED;
		else if (!(c->flags & (TW_CONN_OWNER_LISTENER | TW_CONN_OWNER_SEARCHED)) ||
			 c->first_seen_ns > s->procscan_last_ns ||
			 now_ns - s->procscan_last_ns >= PROCSCAN_RETRY_NS)
			missing++;
		r->owner_wanted[kept++] = r->owner_wanted[i];
	}
	r->n_owner_wanted = kept;
	return missing;
}

static int cmp_u32(const void *a, const void *b);

static bool inode_wanted(uint32_t inode, void *ctx)
{
	const struct wanted *w = ctx;

	return bsearch(&inode, w->inodes, w->n, sizeof(*w->inodes), cmp_u32) != NULL;
}

/* The inodes of the noted connections, sorted; false if out of memory. */
static bool wanted_inodes(struct tw_sync *s, struct wanted *w)
{
	const struct tw_reconcile *r = &s->rec;

	w->n = 0;
	w->inodes = malloc((r->n_owner_wanted ? r->n_owner_wanted : 1) * sizeof(*w->inodes));
	if (!w->inodes)
		return false;
	for (size_t i = 0; i < r->n_owner_wanted; i++) {
		const struct tw_conn *c = conntable_get(s->table, r->owner_wanted[i]);

		if (c && c->inode)
			w->inodes[w->n++] = c->inode;
	}
	qsort(w->inodes, w->n, sizeof(*w->inodes), cmp_u32);
	return true;
}

/* Whether the noted connections need a scan for owners now (one a turn
 * of the loop in steps, SYNC_OWNERS: a million descriptors take a second
 * to walk); if so, its inodes are in s->owner_w. */
static bool owners_begin(struct tw_sync *s, uint64_t now_ns)
{
	if (!owners_pass(s, false, now_ns) ||
	    now_ns - s->procscan_last_ns < PROCSCAN_MIN_INTERVAL_NS)
		return false;
	if (!wanted_inodes(s, &s->owner_w)) {
		s->rec.stats.alloc_failures++; /* counted as the reconcile's */
		return false;
	}
	s->owner_scan_ns = now_ns;
	return true;
}

/* One step of the scan, budget_ns at most: true once it is over and its
 * owners given. */
static bool owners_step(struct tw_sync *s, uint64_t budget_ns)
{
	int r = procscan_scan_step(s->procs, inode_wanted, &s->owner_w, budget_ns);

	if (r == -EINPROGRESS)
		return false;
	free(s->owner_w.inodes);
	s->owner_w = (struct wanted){0};
	if (r < 0)
		return true;
	s->procscans++;
	s->procscan_last_ns = s->owner_scan_ns;
	owners_pass(s, true, clock_mono_ns());
	/* What a scan for a start-up's owners leaves (16 MiB of map and 8 of
	 * list at a million) is not kept for the few the next one looks for. */
	procscan_trim(s->procs);
	reconcile_trim_owner_wanted(&s->rec);
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Each followed namespace's own counters, read through the files opened
 * inside it; namespaces no longer followed are forgotten. */
static void read_counters(struct tw_sync *s, uint64_t now_ns)
{
	struct tw_nsstat_set *set = conntable_nsstat(s->table);

	for (size_t i = 0; i < s->netns.n; i++) {
		const struct tw_netns *ns = &s->netns.v[i];
		uint64_t v[TW_NS_KEYS] = {0};
		struct tw_nsstat *e;

		if (ns->netstat_fd < 0 && ns->snmp_fd < 0)
			continue;
		if (netstat_read(ns->netstat_fd, ns->snmp_fd, v) < 0) {
			s->netstat_errors++;
			continue;
		}
		e = nsstat_entry(set, ns->inode);
		if (e)
			nsstat_update(e, v, now_ns);
	}
	nsstat_retain(set, s->dumped, s->n_dumped);
}

struct found {
	uint64_t cookie;
};

static void on_found(const struct tw_ksock *k, void *data)
{
	struct found *f = data;

	f->cookie = k->cookie;
}

/* The socket of a 4-tuple in a namespace, asked of sock_diag (0: none). */
static uint64_t lookup_cookie(struct tw_sync *s, const struct tw_lookup *q)
{
	const struct tw_netns *ns = NULL;
	struct found f = {0};
	struct pollfd pfd;
	long n;

	for (size_t i = 0; i < s->netns.n && !ns; i++)
		if (s->netns.v[i].inode == q->netns || (!q->netns && i == 0))
			ns = &s->netns.v[i];
	if (!ns || diag_request_one(ns->diag_fd, q->family, q->local_addr, q->local_port,
				    q->remote_addr, q->remote_port, ++s->seq) < 0)
		return 0;
	pfd = (struct pollfd){.fd = ns->diag_fd, .events = POLLIN};
	if (poll(&pfd, 1, LOOKUP_TIMEOUT_MS) <= 0)
		return 0;
	n = diag_recv(ns->diag_fd, s->buf, DIAG_BUF_SIZE, &s->diag);
	if (n > 0)
		diag_parse(s->buf, (size_t)n, s->seq, ns->diag_portid, on_found, &f, &s->diag);
	return f.cookie;
}

/* Drops that named only a 4-tuple: counted on the connection that has it. */
static void resolve_lookups(struct tw_sync *s)
{
	struct tw_lookups *q = conntable_lookups(s->table);
	struct tw_lookup l;

	for (int i = 0; i < LOOKUPS_PER_PASS && lookups_pop(q, &l); i++) {
		uint64_t cookie = lookup_cookie(s, &l);
		struct tw_conn *c = cookie ? conntable_get(s->table, cookie) : NULL;

		if (!c) {
			q->not_found++;
			continue;
		}
		q->found++;
		conntable_record_drop(s->table, c, l.reason, l.time_ns);
	}
}

static void pass_over(struct tw_sync *s)
{
	conntable_expire(s->table, clock_mono_ns());
	s->last_pass_ns = clock_mono_ns() - s->pass_start_ns;
	s->lost_at_last_pass = lost(s);
	s->phase = SYNC_IDLE;
	if (s->again && !s->blocking) {
		s->again = false;
		pass_begin(s);
	}
}

/* A step of a phase that runs a turn of the loop at a time: unless it
 * was the last, the next comes at once after the loop has served others. */
static bool last_step(struct tw_sync *s, bool done)
{
	if (!done)
		loop_timer_set(s->loop, s->settle_timer, 0, 0);
	return done;
}

static void owners_turn(struct tw_sync *s)
{
	if (last_step(s, owners_step(s, DIAG_TURN_BUDGET_NS)))
		pass_over(s);
}

/* The pass's last steps, once the sweep is over: counters, lookups, and
 * the owners a scan can name (in steps outside start-up). */
static void pass_done(struct tw_sync *s)
{
	read_counters(s, clock_mono_ns());
	resolve_lookups(s);
	if (owners_begin(s, clock_mono_ns())) {
		if (!s->blocking) {
			s->phase = SYNC_OWNERS;
			owners_turn(s);
			return;
		}
		while (!owners_step(s, UINT64_MAX))
			;
	}
	pass_over(s);
}

/* One slice of the sweep per turn, DIAG_TURN_BUDGET_NS at most. */
static void sweep(struct tw_sync *s)
{
	if (last_step(s, reconcile_sweep_step(&s->rec, DIAG_TURN_BUDGET_NS)))
		pass_done(s);
}

/* The dumps are over and their events applied: judge. The sweep for what
 * vanished walks the whole table (a million records at most), so outside
 * start-up it runs in slices, a turn of the loop each. */
static void finish(struct tw_sync *s)
{
	struct tw_reconcile_scope scope;

	drain(s);
	qsort(s->dumped, s->n_dumped, sizeof(*s->dumped), cmp_u32);
	scope = (struct tw_reconcile_scope){
		.dumped = s->dumped,
		.n_dumped = s->n_dumped,
		.existing = s->netns.existing,
		.n_existing = s->netns.n_existing,
		.existing_complete = s->netns.existing_complete,
	};
	if (s->blocking) {
		reconcile_end(&s->rec, &scope, clock_mono_ns());
		pass_done(s);
		return;
	}
	reconcile_sweep_begin(&s->rec, &scope, clock_mono_ns());
	s->phase = SYNC_SWEEPING;
	sweep(s);
}

static void on_settled(struct tw_loop *l, void *data)
{
	struct tw_sync *s = data;

	(void)l;
	if (s->phase == SYNC_SETTLING)
		finish(s);
	else if (s->phase == SYNC_SWEEPING)
		sweep(s);
	else if (s->phase == SYNC_OWNERS)
		owners_turn(s);
}

/* Events are released in time order once older than the reorder delay:
 * wait that long, so every event stamped before the dumps ended is applied
 * before their disagreements are judged. */
static void settle(struct tw_sync *s)
{
	s->phase = SYNC_SETTLING;
	if (!s->blocking)
		loop_timer_set(s->loop, s->settle_timer, SETTLE_MS, 0);
}

void sync_run_now(struct tw_sync *s)
{
	if (s->phase != SYNC_IDLE)
		return;
	s->blocking = true;
	pass_begin(s);
	while (s->phase == SYNC_DUMPING)
		if (!read_replies(s, DIAG_DUMP_TIMEOUT_MS))
			dump_failed(s, -ETIMEDOUT);
	if (s->phase == SYNC_SETTLING) {
		struct timespec ts = {.tv_nsec = (long)(SETTLE_MS * NSEC_PER_MSEC)};

		nanosleep(&ts, NULL);
		finish(s);
	}
	s->blocking = false;
}

void sync_start(struct tw_sync *s)
{
	if (s->phase != SYNC_IDLE) {
		s->again = true;
		return;
	}
	pass_begin(s);
}

void sync_start_early(struct tw_sync *s)
{
	s->early++;
	sync_start(s);
}

bool sync_running(const struct tw_sync *s)
{
	return s->phase != SYNC_IDLE;
}

size_t sync_netns_count(const struct tw_sync *s)
{
	return s->netns.n;
}

bool sync_netns_followed(const struct tw_sync *s, uint32_t inode)
{
	for (size_t i = 0; i < s->netns.n; i++)
		if (s->netns.v[i].inode == inode)
			return true;
	return false;
}

int sync_netns_fd(const struct tw_sync *s, uint32_t inode)
{
	return netns_fd(&s->netns, inode);
}

size_t sync_netns_list(const struct tw_sync *s, uint32_t *out, size_t max)
{
	size_t n = 0;

	for (; n < s->netns.n && n < max; n++)
		out[n] = s->netns.v[n].inode;
	return n;
}

void sync_use_task_source(struct tw_sync *s, const struct tw_task_source *src)
{
	procscan_use_source(s->procs, src);
	netns_use_source(&s->netns, src);
}

struct tw_sync *sync_new(struct tw_loop *loop, struct tw_conntable *table,
			 const struct tw_sync_config *cfg, const struct tw_sync_hooks *hooks,
			 int *ret_err)
{
	struct tw_sync *s = calloc(1, sizeof(*s));
	int r = -ENOMEM;

	if (!s)
		goto fail;
	s->loop = loop;
	s->table = table;
	s->cfg = *cfg;
	s->hooks = *hooks;
	s->watched_fd = -1;
	s->deadline_timer = s->settle_timer = -1;
	s->buf = malloc(DIAG_BUF_SIZE);
	/* Without a thread (out of memory, a thread limit) dumps are read
	 * inline, as before. */
	s->pipe = diagpipe_new(DIAG_BUF_SIZE, DIAG_PIPE_BUFS);
	s->dumped = calloc(cfg->max_netns ? cfg->max_netns : 1, sizeof(*s->dumped));
	s->procs = procscan_new(cfg->proc_root, cfg->max_owner_entries);
	if (!s->buf || !s->dumped || !s->procs)
		goto fail;
	reconcile_init(&s->rec, table);
	r = netns_init(&s->netns, cfg->max_netns);
	if (r < 0)
		goto fail;
	s->deadline_timer =
		loop_add_timer(loop, DIAG_DUMP_TIMEOUT_MS, 0, on_deadline, s, "reconcile_deadline");
	s->settle_timer = loop_add_timer(loop, SETTLE_MS, 0, on_settled, s, "reconcile_settle");
	if (s->deadline_timer < 0 || s->settle_timer < 0) {
		r = s->deadline_timer < 0 ? s->deadline_timer : s->settle_timer;
		goto fail;
	}
	loop_timer_stop(loop, s->deadline_timer);
	loop_timer_stop(loop, s->settle_timer);
	return s;
fail:
	*ret_err = r;
	sync_free(s);
	return NULL;
}

void sync_free(struct tw_sync *s)
{
	if (!s)
		return;
	if (s->watched_fd >= 0)
		loop_del_fd(s->loop, s->watched_fd);
	diagpipe_free(s->pipe);
	if (s->netns.v)
		netns_fini(&s->netns);
	reconcile_fini(&s->rec);
	procscan_free(s->procs);
	free(s->owner_w.inodes);
	free(s->dumped);
	free(s->buf);
	free(s);
}

void sync_report(const struct tw_sync *s, struct tw_stats *st)
{
	const struct tw_reconcile_stats *rs = &s->rec.stats;

	stats_counter(st, "reconcile_runs", rs->runs);
	stats_counter(st, "reconcile_corrections", rs->corrections);
	stats_counter(st, "reconcile_added", rs->added);
	stats_counter(st, "reconcile_state_fixed", rs->state_fixed);
	stats_counter(st, "reconcile_vanished", rs->vanished);
	stats_counter(st, "time_wait_ended", rs->time_wait_ended);
	stats_counter(st, "reconcile_early", s->early);
	stats_counter(st, "reconcile_errors", s->dump_errors);
	stats_gauge(st, "reconcile_unreconciled", rs->unreconciled);
	stats_counter(st, "reconcile_alloc_failures", rs->alloc_failures);
	stats_real(st, "reconcile_last_ms", (double)s->last_pass_ns / 1e6);
	stats_counter(st, "reconcile_sweep_turns", rs->sweep_turns);
	stats_counter(st, "reconcile_sweeps_cut", rs->sweeps_cut);
	stats_counter(st, "diag_foreign", s->diag.foreign);
	stats_counter(st, "diag_read_ahead", s->pipe ? diagpipe_reads(s->pipe) : 0);
	stats_counter(st, "diag_stale", s->diag.stale);
	stats_counter(st, "diag_malformed", s->diag.malformed);
	stats_gauge(st, "netns", s->netns.n);
	stats_gauge(st, "netns_refused", s->netns.refused);
	stats_counter(st, "netns_open_failures", s->netns.open_failures);
	stats_counter(st, "netns_handle_opens", s->netns.handle_opens);
	stats_counter(st, "netns_handle_failures", s->netns.handle_failures);
	stats_counter(st, "netstat_errors", s->netstat_errors);
	{
		const struct tw_lookups *q = conntable_lookups(s->table);

		stats_counter(st, "drop_lookups", q->queued);
		stats_counter(st, "drop_lookups_found", q->found);
		stats_counter(st, "drop_lookups_not_found", q->not_found);
		stats_counter(st, "drop_lookups_refused", q->refused);
	}
	stats_counter(st, "procscans", s->procscans);
	stats_counter(st, "owners_found", s->owners_found);
	procscan_report(s->procs, st);
}
