/*
 * The prober's engine: targets and jobs, their schedules, the probes in
 * flight, the limits, and the verdict on every packet the sockets read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <time.h>

#include "addr.h"
#include "clock.h"
#include "internal.h"
#include "log.h"
#include "prober_int.h"

const char *probe_mode_name(unsigned mode)
{
	static const char *const names[] = {"syn", "trace", "half-open"};

	return mode < 3 ? names[mode] : "?";
}

/* --- probes in flight --- */

static void live_unlink(struct tw_prober *p, struct probe_flight *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		p->live = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
	p->n_live--;
}

static void live_link(struct tw_prober *p, struct probe_flight *f)
{
	f->prev = NULL;
	f->next = p->live;
	if (p->live)
		p->live->prev = f;
	p->live = f;
	p->n_live++;
}

static void trace_step(struct tw_prober *p, struct tw_probe_target *t, uint64_t now);

/* A job ends when its last probe did. */
static void job_check_done(struct tw_probe_target *t, uint64_t now)
{
	if (t->configured || t->done || t->in_flight)
		return;
	if (t->mode == TW_PROBE_MODE_TRACE ? !t->trace_reached : t->next_seq < t->count)
		return;
	t->done = true;
	t->ended_ns = now;
}

/* A half-open probe's port passes our RSTs again; the last one's links go. */
static void halfopen_release(struct tw_prober *p, struct probe_ctx *c, uint16_t port)
{
	if (p->halfopen)
		halfopen_mark(p->halfopen, port, false);
	if (c->halfopen_users && !--c->halfopen_users)
		halfopen_detach(c);
}

/* The quiet after a half-open probe's last SYN-ACK that means the server
 * gave up: twice the next wait of its doubling schedule, 3 s at least. */
static uint64_t halfopen_quiet_ns(const struct tw_probe_target *t)
{
	uint64_t last = 0, q;
	uint32_t n =
		t->ho_synacks < TW_HALFOPEN_SYNACKS_MAX ? t->ho_synacks : TW_HALFOPEN_SYNACKS_MAX;

	if (n >= 2)
		last = t->ho_rx_ns[n - 1] - t->ho_rx_ns[n - 2];
	q = 4 * last;
	return q > 3 * NSEC_PER_SEC ? q : 3 * NSEC_PER_SEC;
}

static void halfopen_synack(struct tw_probe_target *t, struct probe_flight *f, uint64_t stamp)
{
	uint64_t now = clock_mono_ns(), end = t->created_ns + TW_HALFOPEN_MAX_S * NSEC_PER_SEC;

	if (t->ho_synacks < TW_HALFOPEN_SYNACKS_MAX)
		t->ho_rx_ns[t->ho_synacks] = stamp;
	t->ho_synacks++;
	f->deadline_ns = now + halfopen_quiet_ns(t);
	if (f->deadline_ns > end)
		f->deadline_ns = end;
}

/* The probe of slot i ends with what res holds. */
static void flight_end(struct tw_prober *p, struct probe_ctx *c, uint32_t i, uint64_t now)
{
	struct probe_flight *f = &c->flights[i];
	struct tw_probe_slot *s = &c->slots.v[i];
	struct tw_probe_target *t = f->t;
	struct tw_probe_result *r = &f->res;

	s->live = false;
	live_unlink(p, f);
	if (t && t->mode == TW_PROBE_MODE_HALF_OPEN)
		halfopen_release(p, c, (uint16_t)(c->slots.port_min + i));
	if (!f->tx_ns) {
		r->flags |= TW_RESULT_NO_TX_STAMP;
		p->n.no_tx_stamp++;
	} else {
		r->sent_ns = f->tx_ns;
	}
	if (f->replied && !f->rx_ns) {
		r->flags |= TW_RESULT_NO_RX_STAMP;
		p->n.no_rx_stamp++;
	}
	r->rtt_ns = -1;
	if (f->replied && f->tx_ns && f->rx_ns) {
		if (f->rx_ns > f->tx_ns) {
			r->rtt_ns = (int64_t)(f->rx_ns - f->tx_ns);
		} else {
			r->flags |= TW_RESULT_BAD_CLOCK;
			p->n.bad_clock++;
		}
	}
	if (!t)
		return;
	f->t = NULL;
	results_add(&t->results, r);
	t->in_flight--;
	if (t->mode == TW_PROBE_MODE_TRACE)
		trace_step(p, t, now);
	else
		job_check_done(t, now);
}

/* A trace's hop ended when all its attempts did: the next TTL, unless the
 * target (or an unreachable) answered or the hops ran out. */
static void trace_step(struct tw_prober *p, struct tw_probe_target *t, uint64_t now)
{
	uint32_t n = results_count(&t->results);

	(void)p;
	if (t->in_flight || t->done)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const struct tw_probe_result *r = results_at(&t->results, i);

		if (r->ttl_sent == t->trace_ttl &&
		    (r->state == TW_PROBE_OPEN || r->state == TW_PROBE_CLOSED ||
		     (r->state == TW_PROBE_FILTERED && (r->flags & TW_RESULT_ICMP))))
			t->trace_reached = true;
	}
	if (t->next_seq < t->count * t->trace_ttl)
		return; /* attempts of this hop not all sent */
	if (t->trace_reached || t->trace_ttl >= TW_PROBE_TRACE_HOPS_MAX) {
		t->done = true;
		t->ended_ns = now;
		return;
	}
	t->trace_ttl++;
	t->next_ns = now;
}

static void on_event(struct probe_ctx *c, const struct ctx_event *e, void *data)
{
	struct tw_prober *p = data;
	struct tw_probe_slot *s;
	struct probe_flight *f;
	enum tw_verdict v;
	uint32_t i;

	if (e->kind == CTX_TX_STAMP) {
		i = e->key & 0xffff;
		if (i >= c->slots.n)
			return;
		s = &c->slots.v[i];
		f = &c->flights[i];
		if (!s->live || (s->serial & 0xffff) != e->key >> 16 || f->tx_ns)
			return;
		f->tx_ns = e->stamp_ns;
		if (f->replied)
			flight_end(p, c, i, clock_mono_ns());
		return;
	}
	/* No checksum test: on lo and veth a segment's checksum is left to
	 * the (absent) hardware, so the copy a raw socket reads often has
	 * none; the kernel's TCP checks the original. */
	if (e->kind == CTX_SEGMENT) {
		v = match_segment(&c->slots, &e->seg, &s);
	} else {
		v = match_icmp(&c->slots, e->family, e->dst, e->sport, e->dport, e->seq, &s);
	}
	switch (v) {
	case TW_VERDICT_IGNORED:
		p->n.ignored++;
		return;
	case TW_VERDICT_FOREIGN:
		p->n.foreign++;
		return;
	case TW_VERDICT_DUPLICATE:
		f = &c->flights[s - c->slots.v];
		if (s->live && f->t && f->t->mode == TW_PROBE_MODE_HALF_OPEN &&
		    e->kind == CTX_SEGMENT && (e->seg.flags & TW_TCP_SYN)) {
			halfopen_synack(f->t, f, e->stamp_ns); /* a retransmission */
			return;
		}
		p->n.duplicates++;
		return;
	default:
		break;
	}
	i = (uint32_t)(s - c->slots.v);
	f = &c->flights[i];
	s->answered = true;
	f->replied = true;
	f->rx_ns = e->stamp_ns;
	if (e->kind == CTX_SEGMENT) {
		const struct tw_tcp_seg *g = &e->seg;

		f->res.state = v == TW_VERDICT_OPEN ? TW_PROBE_OPEN : TW_PROBE_CLOSED;
		f->res.ttl = g->ttl;
		f->res.window = g->window;
		f->res.mss = g->mss;
		f->res.wscale = g->wscale;
		f->res.ecn = (uint8_t)((g->flags & (TW_TCP_ECE | TW_TCP_CWR)) |
				       (g->ip_ecn == 0xff ? 0 : g->ip_ecn));
		memcpy(f->res.options, g->options, sizeof(f->res.options));
		f->res.from_family = (uint8_t)g->family;
		memcpy(f->res.from, g->src, 16);
	} else {
		bool exceeded = (e->family == AF_INET && e->icmp_type == 11) ||
				(e->family == AF_INET6 && e->icmp_type == 3);

		f->res.state = exceeded ? TW_PROBE_HOP : TW_PROBE_FILTERED;
		f->res.flags |= TW_RESULT_ICMP;
		f->res.icmp_type = e->icmp_type;
		f->res.icmp_code = e->icmp_code;
		f->res.from_family = (uint8_t)e->family;
		memcpy(f->res.from, e->from, 16);
	}
	if (f->t && f->t->mode == TW_PROBE_MODE_HALF_OPEN && v == TW_VERDICT_OPEN) {
		/* The half-open lives on: wait for the retransmissions. */
		halfopen_synack(f->t, f, e->stamp_ns);
		return;
	}
	if (f->tx_ns)
		flight_end(p, c, i, clock_mono_ns());
	else /* the TX stamp is due any moment; not later than this */
		f->deadline_ns = clock_mono_ns() + 100 * NSEC_PER_MSEC;
}

void prober_on_readable(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	struct tw_prober *p = data;

	(void)l;
	(void)events;
	for (struct probe_ctx *c = p->ctxs; c; c = c->next)
		for (int fam = 0; fam < 2; fam++)
			if (c->fd[fam] == fd)
				ctx_read(c, fam, on_event, p, &p->n, 4096);
	prober_reschedule(p);
}

/* --- sending --- */

static bool take_token(struct tw_prober *p, uint64_t now)
{
	double burst = p->rate / 20.0 > 1 ? p->rate / 20.0 : 1;

	p->tokens += (double)(now - p->tokens_ns) * p->rate / (double)NSEC_PER_SEC;
	p->tokens_ns = now;
	if (p->tokens > burst)
		p->tokens = burst;
	if (p->tokens < 1)
		return false;
	p->tokens -= 1;
	return true;
}

static int free_slot(struct probe_ctx *c, uint32_t *ret)
{
	for (uint32_t k = 0; k < c->slots.n; k++) {
		uint32_t i = (c->cursor + k) % c->slots.n;

		if (c->usable[i] && !c->slots.v[i].live) {
			c->cursor = i + 1;
			*ret = i;
			return 0;
		}
	}
	return -EBUSY;
}

/* Sends t's next probe. 0, or -EBUSY / -EAGAIN to try again later. */
static int send_probe(struct tw_prober *p, struct tw_probe_target *t, uint64_t now)
{
	struct probe_ctx *c = t->ctx;
	struct tw_probe_result res = {.seq = t->next_seq, .rtt_ns = -1, .wscale = -1};
	struct probe_flight *f;
	struct tw_probe_slot *s;
	struct tw_syn syn = {.family = t->family, .dport = t->port};
	uint8_t seg[TW_SYN_LEN];
	uint16_t mss = 536;
	uint32_t i;
	int r;

	if (free_slot(c, &i) < 0) {
		/* After a stall the answers that free ports may be waiting
		 * unread: read them, then look again. */
		for (int fam = 0; fam < 2; fam++)
			ctx_read(c, fam, on_event, p, &p->n, 4096);
		if (free_slot(c, &i) < 0) {
			p->n.ports_busy++;
			return -EBUSY;
		}
	}
	if (!take_token(p, now)) {
		p->n.rate_delayed++;
		return -EAGAIN;
	}
	res.ttl_sent = t->mode == TW_PROBE_MODE_TRACE ? t->trace_ttl : 64;
	res.sport = (uint16_t)(c->slots.port_min + i);
	if (now >= t->src_until_ns) {
		r = ctx_route(c, t->family, t->addr, t->port, t->src, &t->mss);
		if (r < 0) {
			res.state = TW_PROBE_ERROR;
			res.errno_ = -r;
			res.sent_ns = clock_wall_ns();
			t->next_seq++;
			results_add(&t->results, &res);
			p->n.send_errors++;
			/* no route: no hop will do better */
			if (t->mode == TW_PROBE_MODE_TRACE)
				t->next_seq = t->count * t->trace_ttl, t->trace_reached = true;
			job_check_done(t, now);
			return 0;
		}
		t->src_until_ns = now + 10 * NSEC_PER_SEC;
	}
	mss = t->mss;
	s = &c->slots.v[i];
	f = &c->flights[i];
	if (++p->serial == 0)
		p->serial = 1;
	*s = (struct tw_probe_slot){
		.serial = p->serial, .live = true, .family = t->family, .dport = t->port};
	memcpy(s->src, t->src, 16);
	memcpy(s->dst, t->addr, 16);
	s->isn = probe_isn(p->key, t->family, t->src, res.sport, t->addr, t->port, s->serial);
	memcpy(syn.src, t->src, 16);
	memcpy(syn.dst, t->addr, 16);
	syn.sport = res.sport;
	syn.isn = s->isn;
	syn.tsval = (uint32_t)(now / NSEC_PER_MSEC) + p->ts_offset;
	syn.mss = mss;
	syn.window = (uint16_t)(65535 / mss * mss);
	syn.wscale = c->wscale;
	syn.checksum = t->family == AF_INET;
	packet_build_syn(&syn, seg);
	*f = (struct probe_flight){.t = t, .res = res, .deadline_ns = now + t->timeout_ns};
	if (t->mode == TW_PROBE_MODE_HALF_OPEN) {
		/* Before the send: the SYN-ACK, and our RST, may come within it. */
		r = halfopen_attach(p->halfopen, c);
		if (r == 0)
			r = halfopen_mark(p->halfopen, res.sport, true);
		if (r < 0) {
			res.state = TW_PROBE_ERROR;
			res.errno_ = -r;
			res.sent_ns = clock_wall_ns();
			s->live = false;
			t->next_seq++;
			results_add(&t->results, &res);
			p->n.send_errors++;
			job_check_done(t, now);
			return 0;
		}
		c->halfopen_users++;
	}
	f->res.sent_ns = clock_wall_ns();
	live_link(p, f);
	t->in_flight++;
	t->next_seq++;
	/* In the table before the send: on lo and veth the answer is queued
	 * before sendmsg() returns. */
	r = ctx_send(c, t->family, t->addr, seg, sizeof(seg), res.ttl_sent,
		     (s->serial & 0xffff) << 16 | i);
	if (r < 0) {
		f->res.state = TW_PROBE_ERROR;
		f->res.errno_ = -r;
		f->res.flags |= TW_RESULT_NO_TX_STAMP;
		p->n.send_errors++;
		p->n.no_tx_stamp--; /* flight_end counts it; a failed send has none */
		flight_end(p, c, i, now);
	}
	return 0;
}

/* Sends what is due; the earliest time something is due next. */
static uint64_t run_targets(struct tw_prober *p, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (struct tw_probe_target *t = p->targets; t; t = t->next) {
		if (t->done)
			continue;
		while (t->next_ns <= now) {
			if (t->mode == TW_PROBE_MODE_TRACE) {
				if (t->next_seq >= t->count * t->trace_ttl)
					break;
			} else if (!t->configured && t->next_seq >= t->count) {
				break;
			}
			if (send_probe(p, t, now) < 0) {
				/* out of ports or tokens: soon again */
				t->next_ns = now + NSEC_PER_MSEC;
				break;
			}
			if (t->mode == TW_PROBE_MODE_TRACE)
				continue; /* a hop's attempts go together */
			t->next_ns += t->interval_ns;
			if (t->next_ns + t->interval_ns < now) /* after a stall: no burst */
				t->next_ns = now + t->interval_ns;
		}
		if (t->done)
			continue;
		if (t->mode == TW_PROBE_MODE_TRACE ? t->next_seq < t->count * t->trace_ttl
						   : t->configured || t->next_seq < t->count)
			next = t->next_ns < next ? t->next_ns : next;
	}
	return next;
}

static uint64_t expire(struct tw_prober *p, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct probe_flight *f = p->live, *nx;

	for (; f; f = nx) {
		nx = f->next;
		if (f->deadline_ns <= now) {
			struct probe_ctx *c = f->t->ctx;
			uint32_t i = (uint32_t)(f - c->flights);

			if (!f->replied)
				f->res.state = TW_PROBE_FILTERED;
			flight_end(p, c, i, now);
			/* the list may have changed under nx (a trace's next hop
			 * is sent later, by run_targets, so it has not) */
		} else if (f->deadline_ns < next) {
			next = f->deadline_ns;
		}
	}
	return next;
}

void prober_reschedule(struct tw_prober *p)
{
	uint64_t now = clock_mono_ns(), a, b, next;

	a = expire(p, now);
	b = run_targets(p, now);
	next = a < b ? a : b;
	if (next == UINT64_MAX) {
		bool foreign = false;

		for (struct probe_ctx *c = p->ctxs; c; c = c->next)
			foreign |= c->netns != p->self_netns;
		/* Nothing to send: the timer only comes back to close what
		 * other namespaces no longer use. */
		if (foreign)
			loop_timer_set(p->loop, p->timer, 1000, 0);
		else
			loop_timer_stop(p->loop, p->timer);
		return;
	}
	now = clock_mono_ns();
	loop_timer_set(
		p->loop, p->timer,
		next <= now ? 0 : (uint32_t)((next - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC), 0);
}

void prober_on_timer(struct tw_loop *l, void *data)
{
	(void)l;
	prober_close_idle(data);
	prober_reschedule(data);
}

/* Drops a target's probes in flight (their slots free, no results). */
void prober_drop_flights(struct tw_prober *p, struct tw_probe_target *t)
{
	struct probe_flight *f = p->live, *nx;

	for (; f; f = nx) {
		nx = f->next;
		if (f->t == t) {
			struct probe_ctx *c = t->ctx;

			c->slots.v[f - c->flights].live = false;
			live_unlink(p, f);
			if (t->mode == TW_PROBE_MODE_HALF_OPEN)
				halfopen_release(p, c,
						 (uint16_t)(c->slots.port_min + (f - c->flights)));
			f->t = NULL;
		}
	}
	t->in_flight = 0;
}
