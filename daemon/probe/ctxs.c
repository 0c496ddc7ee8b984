/*
 * The prober's namespaces: their sockets opened on first use (at most
 * probe-max-netns), closed when nothing running uses them; and the secrets
 * drawn at start.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "prober_int.h"

static void ctx_free(struct tw_prober *p, struct probe_ctx *c)
{
	for (int fam = 0; fam < 2; fam++)
		if (c->fd[fam] >= 0)
			loop_del_fd(p->loop, c->fd[fam]);
	ctx_close(c);
	free(c);
}

/*
 * Closes the sockets of other namespaces that no running target or job
 * uses: they would keep a namespace alive after its container went (its
 * sockets hold a reference), and take a slot of probe-max-netns. Ended
 * jobs keep their results, not their namespace. Not while sockets are
 * being read (called from the timer and the API).
 */
void prober_close_idle(struct tw_prober *p)
{
	struct probe_ctx **pp = &p->ctxs;

	while (*pp) {
		struct probe_ctx *c = *pp;
		bool used = c->netns == p->self_netns || c->halfopen_users;

		for (struct tw_probe_target *t = p->targets; t && !used; t = t->next)
			used = t->ctx == c && !t->done;
		if (used) {
			pp = &c->next;
			continue;
		}
		for (struct tw_probe_target *t = p->targets; t; t = t->next)
			if (t->ctx == c) {
				prober_drop_flights(p, t);
				t->ctx = NULL;
			}
		*pp = c->next;
		p->n_ctxs--;
		ctx_free(p, c);
	}
}

struct probe_ctx *prober_ctx(struct tw_prober *p, uint32_t netns, const char *path, char *err,
			     size_t err_len)
{
	struct probe_ctx *c;
	int r;

	for (c = p->ctxs; c; c = c->next)
		if (c->netns == netns)
			return c;
	if (p->n_ctxs >= p->max_ctxs)
		prober_close_idle(p);
	if (p->n_ctxs >= p->max_ctxs) {
		snprintf(err, err_len, "probing from more than %u namespaces (probe-max-netns)",
			 p->max_ctxs);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	r = ctx_open(c, netns, netns == p->self_netns ? NULL : path, p->port_min, p->nports, err,
		     err_len);
	if (r < 0) {
		ctx_close(c);
		free(c);
		p->n.ctx_failures++;
		return NULL;
	}
	if (c->n_reserve < p->nports)
		log_warn("probe: %u of ports %u-%u in namespace %u are taken by others",
			 p->nports - c->n_reserve, p->port_min, p->port_min + p->nports - 1, netns);
	for (int fam = 0; fam < 2; fam++)
		if (c->fd[fam] >= 0 &&
		    loop_add_fd(p->loop, c->fd[fam], EPOLLIN, prober_on_readable, p, "probe") < 0)
			log_warn("probe: cannot watch a raw socket");
	c->next = p->ctxs;
	p->ctxs = c;
	p->n_ctxs++;
	if (p->n_ctxs == 1)
		ctx_wait_rx_stamps();
	return c;
}

void prober_close_ctxs(struct tw_prober *p)
{
	struct probe_ctx *c, *nx;

	for (c = p->ctxs; c; c = nx) {
		nx = c->next;
		ctx_free(p, c);
	}
	p->ctxs = NULL;
	p->n_ctxs = 0;
}

void prober_init_secrets(struct tw_prober *p)
{
	if (getrandom(p->key, sizeof(p->key), 0) != sizeof(p->key)) {
		uint64_t x = clock_wall_ns() ^ clock_mono_ns();

		for (size_t i = 0; i < sizeof(p->key); i++)
			p->key[i] = (uint8_t)(x >> (8 * (i % 8))) ^ (uint8_t)i;
	}
	if (getrandom(&p->ts_offset, sizeof(p->ts_offset), 0) != sizeof(p->ts_offset))
		p->ts_offset = (uint32_t)clock_wall_ns();
}
