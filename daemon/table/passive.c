#include <string.h>

#include "clock.h"
#include "lifecycle.h"
#include "passive.h"

static int overflow_reason = -1;

void passive_set_overflow_reason(int reason)
{
	overflow_reason = reason;
}

static void hist_add(struct tw_conntable *t, struct tw_conn *c, uint8_t kind, uint64_t time_ns,
		     uint8_t flags, uint32_t value)
{
	struct tw_hist h = {
		.time_ns = time_ns,
		.kind = kind,
		.from = c->state,
		.flags = flags,
		.value = value < TW_HIST_VALUE_MAX ? value : TW_HIST_VALUE_MAX,
	};

	conntable_hist_append(t, c, &h);
}

/* Into a listener's histogram and the table's total of the same kind. */
static void histo_count(struct tw_conntable *t, struct tw_histo **h, unsigned total, uint64_t us)
{
	if (histo_add_lazy(h, us) < 0 || histo_add_lazy(&conntable_totals(t)->h[total], us) < 0)
		conntable_count_alloc_failure(t);
}

static struct tw_listener *listener_of(struct tw_conntable *t, const struct tw_conn *c)
{
	return c->listener_cookie ? conntable_listener(t, c->listener_cookie) : NULL;
}

void passive_on_synack(struct tw_conntable *t, const struct tw_synack *s)
{
	struct tw_listener *l = conntable_listener(t, s->listener_cookie);
	struct tw_conn *req;
	bool created;

	if (l)
		l->synack_retransmits++;
	if (!s->request_cookie)
		return;
	req = conntable_add_request(t, s->request_cookie, &created);
	if (!req)
		return; /* too many, table full or out of memory: counted there */
	if (created) {
		conntable_set_state(t, req, TW_TCP_SYN_RECV);
		req->role = TW_ROLE_PASSIVE;
		req->netns = s->netns;
		req->family = s->family;
		memcpy(req->local_addr, s->local_addr, 16);
		memcpy(req->remote_addr, s->remote_addr, 16);
		conntable_set_ports(t, req, s->local_port, s->remote_port);
		req->first_seen_ns = s->first_synack_ns ? s->first_synack_ns : s->time_ns;
		req->last_change_ns = req->first_seen_ns;
		if (s->first_synack_ns)
			hist_add(t, req, TW_HIST_SYNACK, s->first_synack_ns, 0, 0);
		if (l) {
			req->listener_cookie = l->cookie;
			if (l->conn && l->conn->flags & TW_CONN_HAS_TASK) {
				req->pid = l->conn->pid;
				memcpy(req->comm, l->conn->comm, sizeof(req->comm));
				req->flags |= TW_CONN_HAS_TASK | TW_CONN_OWNER_LISTENER;
			}
		}
		conntable_index_request(t, req);
	} else if (!(req->flags & TW_CONN_REQUEST)) {
		return; /* a cookie that is no request: not ours to change */
	}
	if (s->first_synack_ns && req->flags & TW_CONN_FROM_SNAPSHOT) {
		/* Found by a dump first: now its first SYN-ACK is known. */
		conntable_set_first_seen(req, s->first_synack_ns);
		req->flags &= ~TW_CONN_FROM_SNAPSHOT;
	}
	if (req->syn_retransmits < UINT16_MAX)
		req->syn_retransmits++;
	req->retransmits++;
	hist_add(t, req, TW_HIST_SYNACK_RETRANSMIT, s->time_ns, 0, (uint32_t)s->num_retrans + 1);
	req->last_change_ns = s->time_ns;
	/* Its next timer: another SYN-ACK, or the end. */
	req->info.timer = TW_TIMER_RETRANSMIT;
	req->info.timer_retrans = (uint8_t)(s->num_retrans + 1);
	req->info.timer_expires_ms = (s->next_timer_us + 999) / 1000;
	conn_set_sample_ns(req, s->time_ns);
}

/* The request's summary for its listener; retransmit times from its
 * history. */
static void summarize(const struct tw_conn *req, uint8_t end, uint64_t end_ns, uint8_t flags,
		      struct tw_halfopen *h)
{
	memset(h, 0, sizeof(*h));
	h->cookie = req->cookie;
	h->first_synack_ns = req->first_seen_ns;
	h->end_ns = end_ns;
	h->end = end;
	h->flags = flags;
	h->family = req->family;
	h->remote_port = req->remote_port;
	memcpy(h->remote_addr, req->remote_addr, 16);
	h->retransmits = req->syn_retransmits;
	for (uint16_t i = 0, k = 0; i < req->hist_len && k < TW_HALFOPEN_SYNACKS; i++) {
		struct tw_hist e = conn_hist(req, i);

		if (e.kind == TW_HIST_SYNACK_RETRANSMIT)
			h->retransmit_ns[k++] = e.time_ns;
	}
	if (req->flags & TW_CONN_FROM_SNAPSHOT)
		h->flags |= TW_HALFOPEN_FIRST_DERIVED;
}

/* The request's life ends: counted on its listener, kept in its recent
 * half-opens, and it leaves the table. */
static void request_end(struct tw_conntable *t, struct tw_conn *req, uint8_t end, uint64_t end_ns,
			uint8_t flags, uint64_t child_cookie, uint32_t known_life_us)
{
	bool became_child = req->cookie == child_cookie;
	struct tw_listener *l = listener_of(t, req);
	struct tw_halfopen h;

	if (l) {
		summarize(req, end, end_ns, flags, &h);
		h.child_cookie = child_cookie;
		if (known_life_us) {
			/* The kernel's own SYN-ACK -> ACK sample. */
			h.first_synack_ns = end_ns - (uint64_t)known_life_us * NSEC_PER_USEC;
			h.flags &= ~TW_HALFOPEN_FIRST_DERIVED;
		}
		l->half_open[end]++;
		if (!(h.flags & TW_HALFOPEN_FIRST_DERIVED) && end_ns >= h.first_synack_ns)
			histo_count(t, &l->half_open_lifetime, TW_TOTAL_HALF_OPEN,
				    (end_ns - h.first_synack_ns) / NSEC_PER_USEC);
		if (listener_add_halfopen(l, &h) < 0)
			conntable_count_alloc_failure(t);
	}
	if (became_child)
		conntable_request_became_child(t, req); /* the record lives on as it */
	else
		conntable_remove(t, req);
}

void passive_on_established(struct tw_conntable *t, struct tw_conn *child, uint64_t time_ns,
			    unsigned total_retrans)
{
	struct tw_listener *l = listener_of(t, child);
	struct tw_conn *req;
	int64_t depth;

	if (!l)
		return;
	l->children++;
	depth = (int64_t)l->accept_queue + ++l->accept_queue_events;
	if (depth > (int64_t)l->accept_queue_max_seen)
		l->accept_queue_max_seen = (uint32_t)depth;
	child->syn_retransmits =
		(uint16_t)(total_retrans < UINT16_MAX ? total_retrans : UINT16_MAX);
	/* Its request, if a retransmit or a dump made one (a lookup in an
	 * empty index when none did: the usual case). */
	req = conntable_find_request(t, child->netns, child->family, child->local_addr,
				     child->local_port, child->remote_addr, child->remote_port);
	if (total_retrans && req && time_ns > req->first_seen_ns &&
	    !(req->flags & TW_CONN_FROM_SNAPSHOT)) {
		/* SYN-ACKs were resent: the kernel takes no RTT sample (Karn),
		 * and the half-open life runs from the first one. */
		child->handshake_us = (uint32_t)((time_ns - req->first_seen_ns) / NSEC_PER_USEC);
		child->flags &= ~TW_CONN_HANDSHAKE_SRTT;
		child->flags |= TW_CONN_HALF_OPEN_TIMED;
	}
	if (req) {
		request_end(t, req, TW_HALFOPEN_COMPLETED, time_ns, 0, child->cookie,
			    !total_retrans && child->flags & TW_CONN_HANDSHAKE_SRTT
				    ? child->handshake_us
				    : 0);
		return;
	}
	/* No request seen: its first RTT sample is the SYN-ACK -> ACK time,
	 * its whole half-open life (lifecycle.c set handshake_us from it). */
	l->half_open[TW_HALFOPEN_COMPLETED]++;
	if (!total_retrans && child->flags & TW_CONN_HANDSHAKE_SRTT)
		histo_count(t, &l->half_open_lifetime, TW_TOTAL_HALF_OPEN, child->handshake_us);
}

/* The time a child reached ESTABLISHED (its first such entry, among the
 * first ones a history keeps). */
static uint64_t established_at(const struct tw_conn *c)
{
	for (uint16_t i = 0; i < c->hist_len; i++) {
		struct tw_hist h = conn_hist(c, i);

		if (h.kind == TW_HIST_STATE && h.to == TW_TCP_ESTABLISHED)
			return h.time_ns;
	}
	return 0;
}

void passive_on_accept(struct tw_conntable *t, struct tw_conn *child, uint64_t time_ns)
{
	struct tw_listener *l = listener_of(t, child);
	uint64_t est = established_at(child), wait_us;

	if (child->flags & TW_CONN_ACCEPTED)
		return; /* a descriptor passed on and accepted again? once is the truth */
	child->flags |= TW_CONN_ACCEPTED;
	if (l) {
		/* It left the queue, whether or not its wait is known. */
		l->accepted++;
		l->accept_queue_events--;
	}
	if (!est || time_ns < est) {
		/* Its ESTABLISHED was not seen (found by a dump, or the
		 * history lost it): no wait to tell. */
		child->accept_wait_us = 0;
		return;
	}
	wait_us = (time_ns - est) / NSEC_PER_USEC;
	child->accept_wait_us = (uint32_t)(wait_us < UINT32_MAX ? wait_us : UINT32_MAX);
	hist_add(t, child, TW_HIST_ACCEPT, time_ns, 0, (uint32_t)(wait_us / 1000));
	if (l)
		histo_count(t, &l->accept_wait, TW_TOTAL_ACCEPT_WAIT, wait_us);
}

void passive_on_drop(struct tw_listener *l, unsigned reason)
{
	if (!l)
		return;
	drop_counts_add(&l->drops, reason);
	if ((int)reason == overflow_reason)
		l->overflows++;
}

static void count_in_syn_queue(struct tw_listener *l, uint32_t gen)
{
	if (l->syn_queue_gen != gen) {
		l->syn_queue_gen = gen;
		l->syn_queue_counting = 0;
	}
	l->syn_queue_counting++;
}

void passive_on_request_untracked(struct tw_conntable *t, uint32_t netns, const struct tw_ksock *s,
				  uint32_t gen)
{
	struct tw_conn *lc =
		conntable_find_listener(t, netns, s->family, s->local_addr, s->local_port);
	struct tw_listener *l = lc ? conntable_listener(t, lc->cookie) : NULL;

	if (l)
		count_in_syn_queue(l, gen);
}

void passive_on_request_seen(struct tw_conntable *t, struct tw_conn *req, uint32_t gen,
			     uint64_t now_ns)
{
	struct tw_conn *lc = req->listener_cookie
				     ? NULL
				     : conntable_find_listener(t, req->netns, req->family,
							       req->local_addr, req->local_port);
	struct tw_listener *l;

	(void)now_ns;
	if (lc)
		req->listener_cookie = lc->cookie;
	/* The dump's idiag_retrans: its SYN-ACKs resent, some perhaps
	 * before we saw it. */
	if (req->info.timer_retrans > req->syn_retransmits)
		req->syn_retransmits = req->info.timer_retrans;
	l = listener_of(t, req);
	conntable_index_request(t, req);
	if (l)
		count_in_syn_queue(l, gen);
}

void passive_on_listener_seen(struct tw_conntable *t, struct tw_conn *c, const struct tw_ksock *s,
			      uint64_t now_ns)
{
	struct tw_listener *l = conntable_listener(t, c->cookie);

	if (!l)
		return;
	l->sampled_ns = now_ns;
	l->accept_queue = s->rqueue;
	l->accept_queue_limit = s->wqueue;
	l->accept_queue_events = 0;
	if (s->has_mem)
		l->listen_drops = s->sk_drops;
	if (s->rqueue > l->accept_queue_max_seen)
		l->accept_queue_max_seen = s->rqueue;
}

void passive_request_gone(struct tw_conntable *t, struct tw_conn *req, uint64_t now_ns)
{
	/* When its timer was due: from its last SYN-ACK (the event's
	 * schedule) or its last dump (sock_diag's idiag_expires). */
	uint64_t sampled = conn_sample_ns(req),
		 due = sampled + (uint64_t)req->info.timer_expires_ms * NSEC_PER_MSEC;

	/* Due before the pass that missed it, and no SYN-ACK followed: that
	 * timer's run was its end. Earlier, something else ended it (a
	 * reset, or the listener going away). */
	if (req->info.timer_expires_ms && sampled && due <= now_ns)
		request_end(t, req, TW_HALFOPEN_EXPIRED, due, TW_HALFOPEN_END_DERIVED, 0, 0);
	else
		request_end(t, req, TW_HALFOPEN_RESET, now_ns, TW_HALFOPEN_END_DERIVED, 0, 0);
}

struct pass_ctx {
	uint32_t gen;
	uint64_t now_ns;
	bool (*in_scope)(uint32_t netns, void *data);
	void *data;
	struct tw_conntable *t;
};

static void pass_one(struct tw_listener *l, void *data)
{
	struct pass_ctx *p = data;

	if (!l->conn || l->conn->flags & TW_CONN_CLOSED)
		return;
	if (!p->in_scope(l->conn->netns, p->data))
		return;
	l->syn_queue = l->syn_queue_gen == p->gen ? l->syn_queue_counting : 0;
	if (l->syn_queue > l->syn_queue_max_seen)
		l->syn_queue_max_seen = l->syn_queue;
	if (listener_sample(l, p->now_ns) < 0)
		conntable_count_alloc_failure(p->t);
}

void passive_pass_done(struct tw_conntable *t, uint32_t gen, uint64_t now_ns,
		       bool (*in_scope)(uint32_t netns, void *data), void *data)
{
	struct pass_ctx p = {
		.gen = gen, .now_ns = now_ns, .in_scope = in_scope, .data = data, .t = t};

	conntable_foreach_listener(t, pass_one, &p);
}
