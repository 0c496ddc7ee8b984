#include <errno.h>
#include <stddef.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <string.h>

#include "events.h"
#include "lifecycle.h"
#include "lookups.h"
#include "passive.h"

/*
 * An IPv4 address into a 16-byte field, zero-padded, as one 16-byte store.
 * events_apply copies the field with one 16-byte load; written as a 4-byte
 * copy and a 12-byte clear, that load could not be forwarded from the store
 * buffer and waited for every older store to reach the cache, the new
 * record's cold lines among them (most of events_apply's time under churn).
 */
static void put_addr4(uint8_t dst[16], const uint8_t *src)
{
	/* A vector, so that the compiler cannot split the store in two. */
	typedef uint32_t u32x4 __attribute__((vector_size(16)));
	uint32_t a;
	u32x4 v;

	memcpy(&a, src, 4);
	v = (u32x4){a, 0, 0, 0};
	memcpy(dst, &v, 16);
}

int events_decode(const void *data, size_t len, struct tw_event *e)
{
	const uint8_t *p = data;
	struct tcpwatch_rec r;
	size_t off = sizeof(r);

	if (len < sizeof(r))
		return -EINVAL;
	memcpy(&r, p, sizeof(r));
	if (r.version != TCPWATCH_EVENT_VERSION)
		return -EPROTO;
	if (r.kind < TCPWATCH_EV_STATE || r.kind >= TCPWATCH_EV_KINDS)
		return -EINVAL;
	/* A state this build does not know (a newer kernel's) is counted
	 * malformed rather than stored as something it is not. */
	if (r.oldstate >= TW_TCP_MAX_STATES || r.newstate >= TW_TCP_MAX_STATES)
		return -EINVAL;
	/* Field by field: a memset of the whole event first (rep stos)
	 * stood out in the daemon's profile under churn. */
	e->time_ns = r.time_ns;
	e->cookie = r.cookie;
	e->netns = r.netns;
	e->uid = r.uid;
	e->sport = r.sport;
	e->dport = r.dport;
	e->family = r.family;
	e->kind = r.kind;
	e->oldstate = r.oldstate;
	e->newstate = r.newstate;
	e->flags = r.flags;
	e->sk_err = r.sk_err;
	e->value = r.value;
	e->aux_cookie = 0;
	e->has_task = 0;
	e->pid = e->tid = 0;
	e->comm[0] = '\0';
	if (r.family == AF_INET) {
		if (len < off + sizeof(struct tcpwatch_addr4))
			return -EINVAL;
		put_addr4(e->saddr, p + off + offsetof(struct tcpwatch_addr4, saddr));
		put_addr4(e->daddr, p + off + offsetof(struct tcpwatch_addr4, daddr));
		off += sizeof(struct tcpwatch_addr4);
	} else if (r.family == AF_INET6) {
		if (len < off + sizeof(struct tcpwatch_addr6))
			return -EINVAL;
		memcpy(e->saddr, p + off + offsetof(struct tcpwatch_addr6, saddr), 16);
		memcpy(e->daddr, p + off + offsetof(struct tcpwatch_addr6, daddr), 16);
		off += sizeof(struct tcpwatch_addr6);
	} else if (r.family == 0) {
		memset(e->saddr, 0, sizeof(e->saddr));
		memset(e->daddr, 0, sizeof(e->daddr));
	} else {
		return -EINVAL;
	}
	if (r.flags & TCPWATCH_EVF_TASK) {
		if (len < off + sizeof(struct tcpwatch_task))
			return -EINVAL;
		e->has_task = 1;
		memcpy(&e->pid, p + off + offsetof(struct tcpwatch_task, pid), sizeof(e->pid));
		memcpy(&e->tid, p + off + offsetof(struct tcpwatch_task, tid), sizeof(e->tid));
		memcpy(e->comm, p + off + offsetof(struct tcpwatch_task, comm), sizeof(e->comm));
		e->comm[sizeof(e->comm) - 1] = '\0';
		off += sizeof(struct tcpwatch_task);
	}
	if (r.flags & TCPWATCH_EVF_AUX) {
		if (len < off + sizeof(e->aux_cookie))
			return -EINVAL;
		memcpy(&e->aux_cookie, p + off, sizeof(e->aux_cookie));
		off += sizeof(e->aux_cookie);
	}
	e->has_req = false;
	if (r.flags & TCPWATCH_EVF_REQ) {
		if (len < off + sizeof(e->req))
			return -EINVAL;
		memcpy(&e->req, p + off, sizeof(e->req));
		e->has_req = true;
	}
	return 0;
}

static void set_endpoints(struct tw_conntable *t, struct tw_conn *c, const struct tw_event *e)
{
	c->family = (uint8_t)e->family;
	/* Only a socket's first transitions carry it (bpf/tcpwatch.h). */
	if (e->netns)
		c->netns = e->netns;
	memcpy(c->local_addr, e->saddr, 16);
	memcpy(c->remote_addr, e->daddr, 16);
	conntable_set_ports(t, c, e->sport, e->dport);
}

static void set_task(struct tw_conn *c, const struct tw_event *e)
{
	c->pid = e->pid;
	memcpy(c->comm, e->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
	c->flags |= TW_CONN_HAS_TASK;
}

static void hist_add(struct tw_conntable *t, struct tw_conn *c, uint8_t kind, uint64_t time_ns,
		     uint8_t from, uint8_t to, uint8_t flags, uint32_t value)
{
	struct tw_hist h = {
		.time_ns = time_ns,
		.kind = kind,
		.from = from,
		.to = to,
		.flags = flags,
		.value = value < TW_HIST_VALUE_MAX ? value : TW_HIST_VALUE_MAX,
	};

	conntable_hist_append(t, c, &h);
}

/*
 * There is no TIME_WAIT event: the kernel hands a closing socket to a
 * timewait minisocket (same cookie) and the full socket fires X->CLOSE.
 * A clean close from FIN_WAIT2 or CLOSING (no error, no reset) is that
 * hand-over; the reconcile confirms it and sees the minisocket expire.
 */
static bool becomes_time_wait(const struct tw_conn *c, const struct tw_event *e)
{
	if (e->sk_err != 0 || e->flags & TCPWATCH_EVF_TW_FULL)
		return false;
	if (e->oldstate != TW_TCP_FIN_WAIT2 && e->oldstate != TW_TCP_CLOSING)
		return false;
	if (c->resets_received || c->resets_sent)
		return false;
	return true;
}

static void apply_state(struct tw_conntable *t, const struct tw_event *e, struct tw_event_stats *st)
{
	bool created;
	struct tw_conn *c = conntable_get_or_add(t, e->cookie, &created);
	uint8_t to = e->newstate;

	if (!c) {
		st->refused++;
		return;
	}
	if (created) {
		c->first_seen_ns = e->time_ns;
		set_endpoints(t, c, e);
		c->uid = e->uid; /* 0 unless e->netns: then the reconcile's */
	} else {
		/* A closed socket used again (connect() after a failure). */
		if (c->flags & TW_CONN_CLOSED && to != TW_TCP_CLOSE)
			conntable_revive(t, c);
		/* While closing, the socket is unhashed and its local port
		 * reads 0: keep what we knew. connect() fires SYN_SENT before
		 * choosing the port, so later events fill it in. */
		if (to != TW_TCP_CLOSE && e->sport)
			set_endpoints(t, c, e);
	}
	if (e->has_task)
		set_task(c, e);

	if (e->oldstate == TW_TCP_LISTEN && to == TW_TCP_SYN_RECV) {
		/* An accepted child: until accept() gives it a file it
		 * belongs to the listener's owner. */
		struct tw_conn *l = conntable_find_listener(t, c->netns, c->family, c->local_addr,
							    c->local_port);

		if (l) {
			c->listener_cookie = l->cookie;
			if (l->flags & TW_CONN_HAS_TASK && !(c->flags & TW_CONN_HAS_TASK)) {
				c->pid = l->pid;
				memcpy(c->comm, l->comm, sizeof(c->comm));
				c->flags |= TW_CONN_HAS_TASK | TW_CONN_OWNER_LISTENER;
			}
		}
	}

	if (to == TW_TCP_CLOSE && e->flags & TCPWATCH_EVF_TW_FULL)
		st->time_wait_overflow++;
	if (to == TW_TCP_CLOSE && becomes_time_wait(c, e)) {
		hist_add(t, c, TW_HIST_STATE, e->time_ns, e->oldstate, TW_TCP_TIME_WAIT,
			 TW_HIST_DERIVED, 0);
		lifecycle_on_transition(c, e->oldstate, TW_TCP_TIME_WAIT, e->time_ns, e->sk_err,
					e->value);
		conntable_set_state(t, c, TW_TCP_TIME_WAIT);
		c->flags |= TW_CONN_TW_DERIVED;
		c->last_change_ns = e->time_ns;
		return;
	}
	hist_add(t, c, TW_HIST_STATE, e->time_ns, e->oldstate, to, 0, 0);
	lifecycle_on_transition(c, e->oldstate, to, e->time_ns, e->sk_err, e->value);
	conntable_set_state(t, c, to);
	c->last_change_ns = e->time_ns;
	c->flags &= ~(TW_CONN_FROM_SNAPSHOT | TW_CONN_TW_DERIVED);
	/* At ESTABLISHED sk_err carries total_retrans (bpf/tcpwatch.h). */
	if (to == TW_TCP_ESTABLISHED && e->oldstate == TW_TCP_SYN_RECV && c->listener_cookie)
		passive_on_established(t, c, e->time_ns, e->sk_err > 0 ? (unsigned)e->sk_err : 0);
	if (to == TW_TCP_CLOSE)
		conntable_retire(t, c, e->time_ns);
	else
		conntable_update_listener(t, c);
}

static void apply_synack(struct tw_conntable *t, const struct tw_event *e)
{
	struct tw_synack s = {
		.time_ns = e->time_ns,
		.listener_cookie = e->cookie,
		.request_cookie = e->aux_cookie,
		.netns = e->netns,
		.family = (uint8_t)e->family,
		.local_port = e->sport,
		.remote_port = e->dport,
	};
	struct tw_conn *l = conntable_get(t, e->cookie);

	memcpy(s.local_addr, e->saddr, 16);
	memcpy(s.remote_addr, e->daddr, 16);
	if (e->has_req) {
		s.first_synack_ns = e->req.first_synack_ns;
		s.next_timer_us = e->req.next_timer_us;
		s.num_retrans = e->req.num_retrans;
	}
	/* The namespace is the listener's. */
	if (l && l->netns)
		s.netns = l->netns;
	if (l)
		l->retransmits++;
	passive_on_synack(t, &s);
}

/* A drop tied to no socket: a SYN is its listener's; anything else names a
 * 4-tuple that sock_diag can resolve later. */
static void drop_by_tuple(struct tw_conntable *t, const struct tw_event *e,
			  struct tw_event_stats *st)
{
	struct tw_conn *l;
	struct tw_lookup q;
	int tcp_flags = e->sk_err;

	if (tcp_flags >= 0 && (tcp_flags & 0x12) == 0x02) { /* SYN without ACK */
		l = conntable_find_listener(t, e->netns, e->family, e->saddr, e->sport);
		if (l) {
			passive_on_drop(conntable_listener(t, l->cookie), e->value);
			st->drops_to_listener++;
			return;
		}
	}
	if (!e->family) {
		st->drops_unattributed++;
		return;
	}
	q = (struct tw_lookup){
		.time_ns = e->time_ns,
		.netns = e->netns,
		.family = (uint8_t)e->family,
		.reason = (uint16_t)e->value,
		.local_port = e->sport,
		.remote_port = e->dport,
	};
	memcpy(q.local_addr, e->saddr, 16);
	memcpy(q.remote_addr, e->daddr, 16);
	if (lookups_push(conntable_lookups(t), &q))
		st->drops_looked_up++;
	else
		st->drops_unattributed++;
}

static void apply_drop(struct tw_conntable *t, const struct tw_event *e, struct tw_event_stats *st)
{
	struct tw_conn *c = e->cookie ? conntable_get(t, e->cookie) : NULL;

	if (!(e->flags & TCPWATCH_EVF_SOCK)) {
		drop_by_tuple(t, e, st);
		return;
	}
	if (!c) {
		/* A request or listener we have no record of: its listener
		 * by address, or nothing. */
		struct tw_conn *l =
			conntable_find_listener(t, e->netns, e->family, e->saddr, e->sport);

		if (l && (e->oldstate == TW_TCP_NEW_SYN_RECV || e->oldstate == TW_TCP_LISTEN)) {
			passive_on_drop(conntable_listener(t, l->cookie), e->value);
			st->drops_to_listener++;
		} else if (e->oldstate != TW_TCP_LISTEN && e->oldstate != TW_TCP_NEW_SYN_RECV) {
			/* A socket our programs never saw (its cookie was
			 * never made): the 4-tuple names it. */
			drop_by_tuple(t, e, st);
		} else {
			st->drops_unattributed++;
		}
		return;
	}
	if (c->flags & TW_CONN_LISTENER_REC && c->state == TW_TCP_LISTEN) {
		passive_on_drop(conntable_listener(t, c->cookie), e->value);
		st->drops_to_listener++;
		return;
	}
	if (c->flags & TW_CONN_REQUEST) {
		passive_on_drop(c->listener_cookie ? conntable_listener(t, c->listener_cookie)
						   : NULL,
				e->value);
		st->drops_to_listener++;
	} else {
		st->drops_to_conn++;
	}
	conntable_record_drop(t, c, e->value, e->time_ns);
}

static void apply_accept(struct tw_conntable *t, const struct tw_event *e,
			 struct tw_event_stats *st)
{
	struct tw_conn *c = conntable_get(t, e->cookie);

	if (!c) {
		st->accepts_unmatched++;
		return;
	}
	/* The process accept() ran in owns it now: the listener's owner was
	 * only a guess (fork()ing servers, worker pools). */
	if (e->has_task) {
		set_task(c, e);
		c->flags &= ~TW_CONN_OWNER_LISTENER;
	}
	passive_on_accept(t, c, e->time_ns);
}

static void apply_other(struct tw_conntable *t, const struct tw_event *e, struct tw_event_stats *st)
{
	struct tw_conn *c;
	uint8_t kind;

	switch (e->kind) {
	case TCPWATCH_EV_RETRANSMIT_SYNACK:
		apply_synack(t, e);
		return;
	case TCPWATCH_EV_DROP:
		apply_drop(t, e, st);
		return;
	case TCPWATCH_EV_ACCEPT:
		apply_accept(t, e, st);
		return;
	}

	if (e->kind == TCPWATCH_EV_RESET_SENT && e->cookie == 0) {
		st->resets_sent_no_socket++;
		return;
	}
	c = conntable_get(t, e->cookie);
	if (!c) {
		st->unmatched++;
		return;
	}
	/* connect() fires SYN_SENT before it picks the port; a refused or
	 * timed-out connection learns it here or never. */
	if (!c->local_port && e->sport && e->family == c->family)
		set_endpoints(t, c, e);
	switch (e->kind) {
	case TCPWATCH_EV_RETRANSMIT:
		kind = TW_HIST_RETRANSMIT;
		c->retransmits++;
		if (e->oldstate == TW_TCP_SYN_SENT)
			c->syn_retransmits++;
		break;
	case TCPWATCH_EV_RESET_SENT:
		kind = TW_HIST_RESET_SENT;
		if (c->resets_sent < UINT16_MAX)
			c->resets_sent++;
		lifecycle_on_reset_sent(c);
		break;
	case TCPWATCH_EV_RESET_RECEIVED:
		kind = TW_HIST_RESET_RECEIVED;
		if (c->resets_received < UINT16_MAX)
			c->resets_received++;
		break;
	default:
		return;
	}
	hist_add(t, c, kind, e->time_ns, e->oldstate, 0, 0, e->value);
}

void events_apply(struct tw_conntable *t, const struct tw_event *e, struct tw_event_stats *st)
{
	st->received++;
	if (e->kind < TCPWATCH_EV_KINDS)
		st->by_kind[e->kind]++;
	if (e->kind == TCPWATCH_EV_STATE)
		apply_state(t, e, st);
	else
		apply_other(t, e, st);
}

void events_report(const struct tw_event_stats *st, struct tw_stats *s)
{
	stats_counter(s, "events_received", st->received);
	stats_counter(s, "events_malformed", st->malformed);
	stats_counter(s, "events_unmatched", st->unmatched);
	stats_counter(s, "events_refused", st->refused);
	stats_counter(s, "events_state", st->by_kind[TCPWATCH_EV_STATE]);
	stats_counter(s, "events_retransmit", st->by_kind[TCPWATCH_EV_RETRANSMIT]);
	stats_counter(s, "events_synack_retransmit", st->by_kind[TCPWATCH_EV_RETRANSMIT_SYNACK]);
	stats_counter(s, "events_reset_sent", st->by_kind[TCPWATCH_EV_RESET_SENT]);
	stats_counter(s, "events_reset_received", st->by_kind[TCPWATCH_EV_RESET_RECEIVED]);
	stats_counter(s, "resets_sent_no_socket", st->resets_sent_no_socket);
	stats_counter(s, "time_wait_overflow", st->time_wait_overflow);
	stats_counter(s, "events_drop", st->by_kind[TCPWATCH_EV_DROP]);
	stats_counter(s, "events_accept", st->by_kind[TCPWATCH_EV_ACCEPT]);
	stats_counter(s, "drops_to_listener", st->drops_to_listener);
	stats_counter(s, "drops_to_connection", st->drops_to_conn);
	stats_counter(s, "drops_looked_up", st->drops_looked_up);
	stats_counter(s, "drops_unattributed", st->drops_unattributed);
	stats_counter(s, "accepts_unmatched", st->accepts_unmatched);
}
