#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lifecycle.h"
#include "passive.h"
#include "reconcile.h"

void reconcile_fini(struct tw_reconcile *r)
{
	free(r->pending);
	r->pending = NULL;
	r->n_pending = r->cap_pending = 0;
	free(r->owner_wanted);
	r->owner_wanted = NULL;
	r->n_owner_wanted = r->cap_owner_wanted = 0;
}

/*
 * Room for one more element in an array that doubles from first: returns
 * the array (moved, perhaps) or NULL if it is full and cannot grow, in
 * which case it is left as it was. What does not fit in any list here is
 * taken up again by the next pass.
 */
static void *room_for_one(void *v, size_t n, size_t *cap, size_t elem, size_t first)
{
	size_t c;

	if (n < *cap)
		return v;
	c = *cap ? *cap * 2 : first;
	v = realloc(v, c * elem);
	if (v)
		*cap = c;
	return v;
}

bool reconcile_wants_owner(const struct tw_conn *c)
{
	/* Accepted connections carry the listener's owner until a scan finds
	 * the process that accepted them (fork()ing servers, pools). */
	return c->inode && !(c->flags & TW_CONN_CLOSED) &&
	       (!(c->flags & TW_CONN_HAS_TASK) || c->flags & TW_CONN_OWNER_LISTENER);
}

#define OWNER_WANTED_FIRST 256

void reconcile_trim_owner_wanted(struct tw_reconcile *r)
{
	size_t want = r->n_owner_wanted * 2;
	uint64_t *v;

	if (want < OWNER_WANTED_FIRST)
		want = OWNER_WANTED_FIRST;
	if (r->cap_owner_wanted <= want * 2)
		return;
	v = realloc(r->owner_wanted, want * sizeof(*v));
	if (!v)
		return; /* it keeps the larger array */
	r->owner_wanted = v;
	r->cap_owner_wanted = want;
}

/* Notes a connection for the owner pass, once. On allocation failure it
 * is simply not noted: the next pass tries again. */
static void want_owner(struct tw_reconcile *r, struct tw_conn *c)
{
	uint64_t *v;

	if (c->flags & TW_CONN_OWNER_WANTED || !reconcile_wants_owner(c))
		return;
	v = room_for_one(r->owner_wanted, r->n_owner_wanted, &r->cap_owner_wanted, sizeof(*v),
			 OWNER_WANTED_FIRST);
	if (!v) {
		r->stats.alloc_failures++;
		return;
	}
	r->owner_wanted = v;
	r->owner_wanted[r->n_owner_wanted++] = c->cookie;
	c->flags |= TW_CONN_OWNER_WANTED;
}

void reconcile_init(struct tw_reconcile *r, struct tw_conntable *table)
{
	memset(r, 0, sizeof(*r));
	r->table = table;
	r->initial = true;
}

void reconcile_skip_time_wait(struct tw_reconcile *r)
{
	r->with_time_wait = false;
}

void reconcile_begin(struct tw_reconcile *r, uint64_t now_ns)
{
	r->n_pending = 0;
	r->with_time_wait = true;
	r->gen++;
	r->pass_start_ns = now_ns;
}

static void add_derived(struct tw_reconcile *r, struct tw_conn *c, uint8_t from, uint8_t to,
			uint64_t now_ns)
{
	struct tw_hist h = {
		.time_ns = now_ns,
		.kind = TW_HIST_STATE,
		.from = from,
		.to = to,
		.flags = TW_HIST_DERIVED,
	};

	conntable_hist_append(r->table, c, &h);
}

static void set_from_diag(struct tw_conntable *t, struct tw_conn *c, uint32_t netns,
			  const struct tw_ksock *s)
{
	c->netns = netns;
	c->family = s->family;
	memcpy(c->local_addr, s->local_addr, 16);
	memcpy(c->remote_addr, s->remote_addr, 16);
	conntable_set_ports(t, c, s->local_port, s->remote_port);
	if (s->uid || !c->uid)
		c->uid = s->uid;
	if (s->inode)
		c->inode = s->inode;
}

static void defer(struct tw_reconcile *r, uint64_t cookie, uint8_t state, bool added)
{
	struct tw_reconcile_pending *p =
		room_for_one(r->pending, r->n_pending, &r->cap_pending, sizeof(*p), 64);

	if (!p) {
		r->stats.alloc_failures++;
		return; /* judged again next pass */
	}
	r->pending = p;
	r->pending[r->n_pending++] = (struct tw_reconcile_pending){
		.cookie = cookie,
		.state = state,
		.added = added,
	};
}

/* The dump saw state for c, the events say otherwise, and no event
 * newer than the pass explains it: believe the kernel. */
static void fix_state(struct tw_reconcile *r, struct tw_conn *c, uint8_t state, uint64_t now_ns)
{
	uint8_t old = c->state;

	if (c->flags & TW_CONN_CLOSED)
		conntable_revive(r->table, c);
	if (c->flags & TW_CONN_TW_DERIVED && old == TW_TCP_TIME_WAIT && state == TW_TCP_FIN_WAIT2 &&
	    c->hist_len && conn_hist(c, c->hist_len - 1u).to == TW_TCP_TIME_WAIT) {
		/* An orphaned socket's minisocket waits in FIN_WAIT2 for the
		 * peer's FIN: the derived TIME_WAIT was early. */
		conn_hist_set_to(c, c->hist_len - 1u, TW_TCP_FIN_WAIT2);
		conntable_set_state(r->table, c, state);
		return;
	}
	add_derived(r, c, old, state, now_ns);
	lifecycle_on_transition(c, old, state, now_ns, 0, 0);
	conntable_set_state(r->table, c, state);
	c->last_change_ns = now_ns;
	if (c->flags & TW_CONN_TW_DERIVED && old == TW_TCP_FIN_WAIT2 && state == TW_TCP_TIME_WAIT)
		return; /* the peer's FIN reached the minisocket: expected */
	r->stats.state_fixed++;
	r->stats.corrections++;
	conntable_update_listener(r->table, c);
}

static void judge_pending(struct tw_reconcile *r, uint64_t now_ns)
{
	for (size_t i = 0; i < r->n_pending; i++) {
		const struct tw_reconcile_pending *p = &r->pending[i];
		struct tw_conn *c = conntable_get(r->table, p->cookie);

		if (!c)
			continue;
		if (p->added) {
			/* Still no event for it: the events missed it. */
			if (c->flags & TW_CONN_FROM_SNAPSHOT) {
				r->stats.added++;
				r->stats.corrections++;
			}
			continue;
		}
		if (c->last_change_ns < r->pass_start_ns && c->state != p->state)
			fix_state(r, c, p->state, now_ns);
	}
	r->n_pending = 0;
}

/* A socket found by a snapshot has no events to tell its role: one whose
 * local endpoint is a listener's was accepted, any other connected. */
static void guess_role(struct tw_conntable *t, struct tw_conn *c)
{
	struct tw_conn *l;

	if (c->state == TW_TCP_LISTEN) {
		c->role = TW_ROLE_LISTENER;
		return;
	}
	l = conntable_find_listener(t, c->netns, c->family, c->local_addr, c->local_port);
	if (l) {
		c->role = TW_ROLE_PASSIVE;
		c->listener_cookie = l->cookie;
	} else {
		c->role = TW_ROLE_ACTIVE;
	}
}

void reconcile_sock(struct tw_reconcile *r, uint32_t netns, const struct tw_ksock *s,
		    uint64_t now_ns)
{
	struct tw_conntable *t = r->table;
	uint8_t state = s->state == TW_TCP_NEW_SYN_RECV ? TW_TCP_SYN_RECV : s->state;
	bool created;
	struct tw_conn *c;

	if (!s->cookie || state == 0 || state >= TW_TCP_MAX_STATES)
		return;
	if (s->state == TW_TCP_NEW_SYN_RECV) {
		c = conntable_add_request(t, s->cookie, &created);
		if (!c) {
			/* Over max-half-opens: still in its listener's SYN queue. */
			passive_on_request_untracked(t, netns, s, r->gen);
			return;
		}
	} else {
		c = conntable_get_or_add(t, s->cookie, &created);
	}
	if (!c)
		return; /* table full (counted) or out of memory (counted) */
	c->seen_gen = (uint16_t)r->gen;
	c->missed = 0;
	c->flags &= ~TW_CONN_UNRECONCILED;
	/* Events carry the namespace and uid only at a socket's first
	 * transition: one first seen by a later event (the earlier ones
	 * lost) learns them here. */
	if (!c->netns) {
		c->netns = netns;
		c->uid = s->uid;
		/* A listener indexed before its namespace was known. */
		if (c->flags & TW_CONN_LISTEN_INDEXED)
			conntable_index_listener(t, c, true);
	}
	if (created) {
		set_from_diag(t, c, netns, s);
		conntable_set_state(t, c, state);
		c->first_seen_ns = now_ns;
		c->last_change_ns = now_ns;
		c->flags |= TW_CONN_FROM_SNAPSHOT;
		guess_role(t, c);
		conntable_update_listener(t, c);
		/* The first pass finds what existed before us: that is no
		 * disagreement. Later, a socket no event announced is, unless
		 * its events were only in flight (checked at the end). */
		if (!r->initial && !(c->flags & TW_CONN_REQUEST))
			defer(r, c->cookie, state, true);
		goto info;
	}
	/* Changed since the pass began: the event is newer than the dump. */
	if (c->last_change_ns >= r->pass_start_ns)
		goto info;
	if (s->inode && !c->inode)
		c->inode = s->inode;
	if (!c->local_port && s->local_port)
		set_from_diag(t, c, netns, s);
	/* The events that explain a difference may still be in the ring
	 * buffer: judge it at the end of the pass, after a last drain. */
	if (c->state != state)
		defer(r, c->cookie, state, false);
info:
	want_owner(r, c);
	if (s->has_info) {
		c->info = s->info;
		c->info.has_info = 1;
	}
	conn_set_sample_ns(c, now_ns);
	c->info.timer = s->timer;
	c->info.timer_retrans = s->retrans;
	c->info.timer_expires_ms = s->expires_ms;
	if (c->flags & TW_CONN_REQUEST)
		passive_on_request_seen(t, c, r->gen, now_ns);
	else if (state == TW_TCP_LISTEN)
		passive_on_listener_seen(t, c, s, now_ns);
}

static bool in_sorted(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] == x)
			return true;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Whether the pass could see c: its namespace was dumped whole (1), is
 * gone (1: its sockets went with it), or exists and was not dumped (0). */
static bool in_scope(const struct tw_reconcile_scope *sc, const struct tw_conn *c)
{
	if (!c->netns) /* its first events lost: seen by no pass yet */
		return sc->existing_complete && sc->n_dumped == sc->n_existing;
	if (in_sorted(sc->dumped, sc->n_dumped, c->netns))
		return true;
	return sc->existing_complete && !in_sorted(sc->existing, sc->n_existing, c->netns);
}

static bool netns_dumped(uint32_t netns, void *data)
{
	const struct tw_reconcile_scope *sc = data;

	return in_sorted(sc->dumped, sc->n_dumped, netns);
}

struct sweep_ctx {
	struct tw_reconcile *r;
	const struct tw_reconcile_scope *scope;
	uint64_t now_ns;
	struct tw_conn **gone;
	size_t n_gone, cap_gone;
};

static void sweep_one(struct tw_conn *c, void *data)
{
	struct sweep_ctx *ctx = data;
	struct tw_conn **v;
	bool minisocket = c->state == TW_TCP_TIME_WAIT || c->flags & TW_CONN_TW_DERIVED;

	if (c->flags & TW_CONN_CLOSED || c->seen_gen == (uint16_t)ctx->r->gen)
		return;
	if (c->last_change_ns >= ctx->r->pass_start_ns)
		return;
	/* The kernel's TIME_WAIT lasts TCP_TIMEWAIT_LEN: past it (and a
	 * pass's slack) the minisocket is gone, dumped or not. */
	if (c->state == TW_TCP_TIME_WAIT &&
	    ctx->now_ns > c->last_change_ns + TW_TIME_WAIT_LEN_NS + 2 * NSEC_PER_SEC) {
		c->missed = TW_RECONCILE_MISSES;
		goto gone;
	}
	if (!in_scope(ctx->scope, c)) {
		c->flags |= TW_CONN_UNRECONCILED;
		ctx->r->sweep.unreconciled++;
		return;
	}
	c->flags &= ~TW_CONN_UNRECONCILED;
	if (minisocket && !ctx->r->with_time_wait)
		return;
	/* A dump walks hash buckets while the kernel changes them and can
	 * skip a socket under churn: only two misses in a row mean gone. */
	if (++c->missed < TW_RECONCILE_MISSES)
		return;
gone:
	v = room_for_one(ctx->gone, ctx->n_gone, &ctx->cap_gone, sizeof(*v), 256);
	if (!v) {
		ctx->r->stats.alloc_failures++;
		return; /* the rest waits for the next pass */
	}
	ctx->gone = v;
	ctx->gone[ctx->n_gone++] = c;
}

/* Closes what one slice found gone: in the same turn as the walk that
 * found it, before any event can change those records. */
static void retire_gone(struct tw_reconcile *r, struct sweep_ctx *ctx)
{
	uint64_t now_ns = ctx->now_ns;

	for (size_t i = 0; i < ctx->n_gone; i++) {
		struct tw_conn *c = ctx->gone[i];

		if (c->flags & TW_CONN_REQUEST) {
			/* A SYN-queue entry that no child took over: it
			 * expired or was reset. Not a connection of its own. */
			passive_request_gone(r->table, c, now_ns);
			continue;
		}
		uint64_t end_ns = now_ns;

		if (c->state == TW_TCP_TIME_WAIT || (c->flags & TW_CONN_TW_DERIVED)) {
			r->stats.time_wait_ended++;
			/* Its timer says when, better than when we looked. */
			if (c->state == TW_TCP_TIME_WAIT &&
			    now_ns > c->last_change_ns + TW_TIME_WAIT_LEN_NS)
				end_ns = c->last_change_ns + TW_TIME_WAIT_LEN_NS;
		} else {
			r->stats.vanished++;
			r->stats.corrections++;
			lifecycle_on_vanished(c);
		}
		add_derived(r, c, c->state, TW_TCP_CLOSE, end_ns);
		conntable_set_state(r->table, c, TW_TCP_CLOSE);
		c->last_change_ns = end_ns;
		conntable_retire(r->table, c, end_ns);
	}
	ctx->n_gone = 0;
}

void reconcile_sweep_begin(struct tw_reconcile *r, const struct tw_reconcile_scope *scope,
			   uint64_t now_ns)
{
	judge_pending(r, now_ns);
	r->sweep = (struct tw_reconcile_sweep){
		.active = true,
		.buckets = conntable_bucket_count(r->table),
		.scope = *scope,
		.now_ns = now_ns,
	};
}

/* Buckets a slice walks between two looks at the clock: about a tenth of
 * a millisecond of records at the table's load. */
#define SWEEP_SLICE 2048

bool reconcile_sweep_step(struct tw_reconcile *r, uint64_t budget_ns)
{
	struct tw_reconcile_sweep *sw = &r->sweep;
	struct sweep_ctx ctx = {.r = r, .scope = &sw->scope, .now_ns = sw->now_ns};
	uint64_t t0 = clock_mono_ns();

	if (!sw->active)
		return true;
	r->stats.sweep_turns++;
	if (conntable_bucket_count(r->table) != sw->buckets) {
		r->stats.sweeps_cut++;
		sw->next = sw->buckets; /* the rest waits for the next pass */
	}
	while (sw->next < sw->buckets) {
		sw->next =
			conntable_foreach_buckets(r->table, sw->next, SWEEP_SLICE, sweep_one, &ctx);
		retire_gone(r, &ctx);
		if (clock_mono_ns() - t0 >= budget_ns)
			break;
	}
	free(ctx.gone);
	if (sw->next < sw->buckets)
		return false;
	sw->active = false;
	passive_pass_done(r->table, r->gen, sw->now_ns, netns_dumped, (void *)&sw->scope);
	r->stats.unreconciled = sw->unreconciled;
	r->stats.runs++;
	r->initial = false;
	return true;
}

void reconcile_end(struct tw_reconcile *r, const struct tw_reconcile_scope *scope, uint64_t now_ns)
{
	reconcile_sweep_begin(r, scope, now_ns);
	while (!reconcile_sweep_step(r, UINT64_MAX))
		;
}
