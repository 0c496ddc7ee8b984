/*
 * The prober's targets: configured ones (probed for ever) and jobs (from
 * the API), the limits that keep the API from turning the daemon into a
 * flood, and the figures.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "addr.h"
#include "clock.h"
#include "log.h"
#include "prober_int.h"
#include "siphash.h"

#define JOBS_KEPT 32 /* ended jobs kept to be read */

/* "1", "1.5", "1s", "500ms": seconds, to ns. 0 or -EINVAL. */
static int parse_duration(const char *s, uint64_t *ret)
{
	double x;
	char *end;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -EINVAL;
	x = strtod(s, &end);
	if (!strcmp(end, "ms"))
		x /= 1000;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	if (!(x >= 0) || x > 86400)
		return -EINVAL;
	*ret = (uint64_t)(x * 1e9 + 0.5);
	return 0;
}

static uint32_t inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint32_t)st.st_ino : 0;
}

/* A path of a followed namespace: its descriptor in the daemon's namespace
 * set (opened by handle or path, whoever holds it). Whoever opens the
 * path later checks the inode (ctx_open, the half-open attach): the set
 * may have let the namespace go, and the number been reused. */
static int path_of_inode(struct tw_prober *p, uint32_t inode, char *out, size_t len)
{
	int fd = p->hooks.netns_fd ? p->hooks.netns_fd(inode, p->hooks.data) : -1;

	if (fd < 0)
		return -ENOENT;
	snprintf(out, len, "/proc/self/fd/%d", fd);
	return 0;
}

#define OWN_ADDR_NS_MAX 1024 /* namespaces searched for an address */

/*
 * The default allow-list's second half: an address of an interface of any
 * namespace the daemon follows (its own, a container's). Asked only when a
 * target is outside the configured list, so a refusal may cost a look into
 * every followed namespace (a thread each).
 */
static bool addr_of_followed_ns(struct tw_prober *p, int family, const uint8_t addr[16])
{
	uint32_t *inodes;
	size_t n;
	bool found = false;

	if (ns_has_addr(NULL, family, addr))
		return true;
	if (!p->hooks.netns_list)
		return false;
	inodes = calloc(OWN_ADDR_NS_MAX, sizeof(*inodes));
	if (!inodes)
		return false;
	n = p->hooks.netns_list(inodes, OWN_ADDR_NS_MAX, p->hooks.data);
	for (size_t i = 0; i < n && !found; i++) {
		char path[64];

		if (inodes[i] != p->self_netns &&
		    path_of_inode(p, inodes[i], path, sizeof(path)) == 0)
			found = ns_has_addr(path, family, addr);
	}
	free(inodes);
	return found;
}

/* The namespace of text ("", a path, an inode): its inode and a path. */
static enum tw_probe_refusal resolve_netns(struct tw_prober *p, const char *text,
					   uint32_t *ret_inode, char *path, size_t path_len,
					   char *err, size_t err_len)
{
	uint32_t ino;

	if (!*text) {
		*ret_inode = p->self_netns;
		snprintf(path, path_len, "/proc/self/ns/net");
		return TW_REFUSE_NONE;
	}
	if (text[0] == '/') {
		ino = inode_of(text);
		if (!ino) {
			snprintf(err, err_len, "netns %s: no such namespace", text);
			return TW_REFUSE_NO_NETNS;
		}
		snprintf(path, path_len, "%s", text);
	} else {
		char *end;
		unsigned long v = strtoul(text, &end, 10);

		if (*end || !v || v > UINT32_MAX || text[0] < '0' || text[0] > '9') {
			snprintf(err, err_len, "netns must be a path or a namespace inode");
			return TW_REFUSE_INVALID;
		}
		ino = (uint32_t)v;
	}
	if (ino != p->self_netns &&
	    !(p->hooks.netns_followed && p->hooks.netns_followed(ino, p->hooks.data))) {
		snprintf(err, err_len, "netns %u is not a namespace tcpwatchd follows", ino);
		return TW_REFUSE_NO_NETNS;
	}
	if (text[0] != '/' && ino != p->self_netns && path_of_inode(p, ino, path, path_len) < 0) {
		snprintf(err, err_len, "netns %u: no such namespace", ino);
		return TW_REFUSE_NO_NETNS;
	}
	*ret_inode = ino;
	return TW_REFUSE_NONE;
}

static struct tw_probe_target *target_new(struct tw_prober *p, uint32_t cap)
{
	struct tw_probe_target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (results_init(&t->results, cap) < 0) {
		free(t);
		return NULL;
	}
	t->id = ++p->next_id;
	t->created_ns = clock_mono_ns();
	t->trace_ttl = 1;
	return t;
}

static void target_append(struct tw_prober *p, struct tw_probe_target *t)
{
	struct tw_probe_target **pp = &p->targets;

	while (*pp)
		pp = &(*pp)->next;
	*pp = t;
}

static void target_free(struct tw_prober *p, struct tw_probe_target *t)
{
	prober_drop_flights(p, t);
	results_free(&t->results);
	free(t);
}

/* The first probe's time within the interval: spread by the target's
 * hash, so many targets do not probe together. */
static uint64_t phase(const struct tw_prober *p, const struct tw_probe_target *t)
{
	uint8_t m[24];

	memcpy(m, t->addr, 16);
	memcpy(m + 16, &t->port, 2);
	memcpy(m + 18, &t->netns, 4);
	m[22] = t->family;
	m[23] = 0;
	return t->interval_ns ? siphash24(p->key, m, sizeof(m)) % t->interval_ns : 0;
}

/* probe = ADDR:PORT [interval=S] [timeout=S] [netns=PATH|INODE] */
static int add_configured(struct tw_prober *p, char *line, uint32_t history, char *err,
			  size_t err_len)
{
	char *save = NULL, *tok = strtok_r(line, " \t", &save), msg[256];
	struct tw_probe_request req = {.interval_ns = NSEC_PER_SEC, .timeout_ns = 2 * NSEC_PER_SEC};
	struct tw_probe_target *t;
	char path[300];
	int family;

	if (!tok || probe_parse_endpoint(tok, &family, req.addr, &req.port) < 0) {
		snprintf(err, err_len, "probe: '%s' is not ADDR:PORT or [ADDR6]:PORT",
			 tok ? tok : "");
		return -EINVAL;
	}
	req.family = family;
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(tok, '=');
		int r = -EINVAL;

		if (eq) {
			*eq++ = '\0';
			if (!strcmp(tok, "interval"))
				r = parse_duration(eq, &req.interval_ns);
			else if (!strcmp(tok, "timeout"))
				r = parse_duration(eq, &req.timeout_ns);
			else if (!strcmp(tok, "netns") && strlen(eq) < sizeof(req.netns))
				r = (snprintf(req.netns, sizeof(req.netns), "%s", eq), 0);
		}
		if (r < 0) {
			snprintf(err, err_len,
				 "probe: '%s%s%s' is not interval=S, timeout=S or netns=PATH|INODE",
				 tok, eq ? "=" : "", eq ? eq : "");
			return -EINVAL;
		}
	}
	if (req.interval_ns < p->min_interval_ns || !req.timeout_ns ||
	    req.timeout_ns > 60 * NSEC_PER_SEC) {
		snprintf(err, err_len,
			 "probe: interval under probe-min-interval or timeout not in (0, 60] s");
		return -EINVAL;
	}
	if (resolve_netns(p, req.netns, &req.count, path, sizeof(path), msg, sizeof(msg))) {
		snprintf(err, err_len, "probe: %s", msg);
		return -EINVAL;
	}
	t = target_new(p, history);
	if (!t) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	t->configured = true;
	t->family = (uint8_t)req.family;
	memcpy(t->addr, req.addr, 16);
	t->port = req.port;
	t->netns = req.count;
	t->interval_ns = req.interval_ns;
	t->timeout_ns = req.timeout_ns;
	t->ctx = prober_ctx(p, t->netns, path, msg, sizeof(msg));
	if (!t->ctx) {
		snprintf(err, err_len, "probe: %s", msg);
		target_free(p, t);
		return -EINVAL;
	}
	t->next_ns = clock_mono_ns() + phase(p, t);
	target_append(p, t);
	p->n_configured++;
	return 0;
}

static int add_all_configured(struct tw_prober *p, const struct tw_config *cfg, char *err,
			      size_t err_len)
{
	char *copy = strdup(cfg->probe_targets), *save = NULL, *line;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (line = strtok_r(copy, "\n", &save); line && !r; line = strtok_r(NULL, "\n", &save)) {
		if (p->n_configured >= cfg->probe_max_targets) {
			snprintf(err, err_len, "more than %u probe targets (probe-max-targets)",
				 cfg->probe_max_targets);
			r = -EINVAL;
			break;
		}
		r = add_configured(p, line, cfg->probe_history, err, err_len);
	}
	free(copy);
	return r;
}

struct tw_prober *prober_new(struct tw_loop *loop, const struct tw_config *cfg,
			     const struct tw_prober_hooks *hooks, char *err, size_t err_len)
{
	struct tw_prober *p = calloc(1, sizeof(*p));

	if (!p) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	p->loop = loop;
	if (hooks)
		p->hooks = *hooks;
	p->self_netns = inode_of("/proc/self/ns/net");
	p->port_min = (uint16_t)cfg->probe_port_base;
	p->nports = (uint16_t)(cfg->probe_port_base + cfg->probe_port_count > 65536
				       ? 65536 - cfg->probe_port_base
				       : cfg->probe_port_count);
	p->max_ctxs = cfg->probe_max_netns;
	p->rate = cfg->probe_rate;
	p->tokens = 1;
	p->tokens_ns = clock_mono_ns();
	p->min_interval_ns = (uint64_t)cfg->probe_min_interval_ms * NSEC_PER_MSEC;
	p->max_jobs = cfg->probe_max_jobs;
	p->max_count = cfg->probe_max_count;
	p->history = cfg->probe_history;
	snprintf(p->token, sizeof(p->token), "%s", cfg->probe_token);
	prober_init_secrets(p);
	if (halfopen_load(&p->halfopen, p->halfopen_err, sizeof(p->halfopen_err)) < 0)
		p->halfopen = NULL;
	p->timer = loop_add_timer(loop, 0, 0, prober_on_timer, p, "probe_timer");
	if (p->timer >= 0)
		loop_timer_stop(loop, p->timer);
	if (p->timer < 0 || allow_parse(&p->allow, cfg->probe_allow, err, err_len) < 0 ||
	    add_all_configured(p, cfg, err, err_len) < 0) {
		if (p->timer < 0)
			snprintf(err, err_len, "cannot add the prober's timer");
		prober_free(p);
		return NULL;
	}
	prober_reschedule(p);
	return p;
}

bool prober_half_open_ready(const struct tw_prober *p)
{
	return p->halfopen != NULL;
}

void prober_half_open_disable(struct tw_prober *p, const char *why)
{
	halfopen_unload(p->halfopen);
	p->halfopen = NULL;
	snprintf(p->halfopen_err, sizeof(p->halfopen_err), "%s", why);
}

void prober_free(struct tw_prober *p)
{
	struct tw_probe_target *t, *nx;

	if (!p)
		return;
	for (t = p->targets; t; t = nx) {
		nx = t->next;
		target_free(p, t);
	}
	prober_close_ctxs(p);
	halfopen_unload(p->halfopen);
	free(p);
}

/* Removes the oldest ended job when too many are kept. */
static void evict_ended(struct tw_prober *p)
{
	uint32_t ended = 0;
	struct tw_probe_target **pp, *oldest = NULL, **oldest_pp = NULL;

	for (pp = &p->targets; *pp; pp = &(*pp)->next)
		if ((*pp)->done) {
			if (!oldest)
				oldest = *pp, oldest_pp = pp;
			ended++;
		}
	if (ended < JOBS_KEPT)
		return;
	*oldest_pp = oldest->next;
	p->n_jobs--;
	target_free(p, oldest);
}

static uint32_t active_jobs(const struct tw_prober *p)
{
	uint32_t n = 0;

	for (const struct tw_probe_target *t = p->targets; t; t = t->next)
		n += !t->configured && !t->done;
	return n;
}

static double active_rate(const struct tw_prober *p)
{
	double r = 0;

	for (const struct tw_probe_target *t = p->targets; t; t = t->next)
		if (!t->done && t->interval_ns && t->mode != TW_PROBE_MODE_TRACE)
			r += (double)NSEC_PER_SEC / (double)t->interval_ns;
	return r;
}

static enum tw_probe_refusal refuse(struct tw_prober *p, enum tw_probe_refusal why,
				    uint64_t *counter, char *err, size_t err_len, const char *fmt,
				    ...) __attribute__((format(printf, 6, 7)));

static enum tw_probe_refusal refuse(struct tw_prober *p, enum tw_probe_refusal why,
				    uint64_t *counter, char *err, size_t err_len, const char *fmt,
				    ...)
{
	va_list ap;

	(void)p;
	(*counter)++;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return why;
}

static bool same_target(const struct tw_probe_target *t, const struct tw_probe_request *r,
			uint32_t netns)
{
	return t->family == r->family && t->port == r->port && t->netns == netns &&
	       !memcmp(t->addr, r->addr, 16);
}

enum tw_probe_refusal prober_submit(struct tw_prober *p, const struct tw_probe_request *req,
				    uint32_t *ret_id, char *err, size_t err_len)
{
	struct tw_probe_target *t;
	struct probe_ctx *c;
	char path[300], ep[TW_ENDPOINT_STRLEN], msg[256];
	uint32_t netns, cap;
	enum tw_probe_refusal why;
	double rate;

	tw_endpoint_format(req->family, req->addr, req->port, ep, sizeof(ep));
	if (req->mode == TW_PROBE_MODE_HALF_OPEN && req->count != 1)
		return refuse(p, TW_REFUSE_INVALID, &p->n.refused_invalid, err, err_len,
			      "the half-open mode sends one SYN: count must be 1");
	if (req->mode == TW_PROBE_MODE_HALF_OPEN && !p->halfopen)
		return refuse(p, TW_REFUSE_UNSUPPORTED, &p->n.refused_invalid, err, err_len,
			      "the half-open mode is not available here: %s", p->halfopen_err);
	if (req->mode == TW_PROBE_MODE_TRACE ? req->count < 1 || req->count > 10
					     : req->count < 1 || req->count > p->max_count)
		return refuse(p, TW_REFUSE_INVALID, &p->n.refused_invalid, err, err_len,
			      "count must be in [1, %u]%s",
			      req->mode == TW_PROBE_MODE_TRACE ? 10 : p->max_count,
			      req->mode == TW_PROBE_MODE_TRACE ? " (attempts per hop)"
							       : " (probe-max-count)");
	if (!req->timeout_ns || req->timeout_ns > 60 * NSEC_PER_SEC)
		return refuse(p, TW_REFUSE_INVALID, &p->n.refused_invalid, err, err_len,
			      "timeout must be in (0, 60] seconds");
	if (req->mode != TW_PROBE_MODE_TRACE && req->count > 1 &&
	    req->interval_ns < p->min_interval_ns)
		return refuse(p, TW_REFUSE_LIMIT, &p->n.refused_limit, err, err_len,
			      "interval %.3f s is under the per-target minimum of %.3f s "
			      "(probe-min-interval)",
			      (double)req->interval_ns / 1e9, (double)p->min_interval_ns / 1e9);
	why = resolve_netns(p, req->netns, &netns, path, sizeof(path), err, err_len);
	if (why) {
		(*(why == TW_REFUSE_NO_NETNS ? &p->n.refused_netns : &p->n.refused_invalid))++;
		return why;
	}
	if (active_jobs(p) >= p->max_jobs)
		return refuse(p, TW_REFUSE_LIMIT, &p->n.refused_limit, err, err_len,
			      "%u probe jobs are running, the most allowed (probe-max-jobs)",
			      active_jobs(p));
	for (t = p->targets; t; t = t->next)
		if (!t->done && same_target(t, req, netns))
			return refuse(p, TW_REFUSE_LIMIT, &p->n.refused_limit, err, err_len,
				      "%s is being probed already (target %u): one prober per "
				      "target (probe-min-interval)",
				      ep, t->id);
	rate = req->mode == TW_PROBE_MODE_TRACE || req->count == 1
		       ? 0
		       : (double)NSEC_PER_SEC / (double)req->interval_ns;
	if (active_rate(p) + rate > p->rate)
		return refuse(p, TW_REFUSE_LIMIT, &p->n.refused_limit, err, err_len,
			      "%.0f probes/s more would exceed the probe rate of %.0f/s "
			      "(probe-rate)",
			      rate, p->rate);
	c = prober_ctx(p, netns, path, msg, sizeof(msg));
	if (!c)
		return refuse(p, TW_REFUSE_UNAVAILABLE, &p->n.refused_invalid, err, err_len,
			      "cannot probe from namespace %u: %s", netns, msg);
	if (!allow_match(&p->allow, req->family, req->addr, req->port) &&
	    !ctx_own_addr(c, req->family, req->addr) &&
	    !addr_of_followed_ns(p, req->family, req->addr))
		return refuse(p, TW_REFUSE_NOT_ALLOWED, &p->n.refused_allow, err, err_len,
			      "%s is not in the allow-list (probe-allow; loopback and the "
			      "interface addresses of the namespaces tcpwatchd follows are "
			      "allowed by default)",
			      ep);
	if (c->fd[req->family == AF_INET6] < 0)
		return refuse(p, TW_REFUSE_UNAVAILABLE, &p->n.refused_invalid, err, err_len,
			      "no raw socket for IPv%d in namespace %u",
			      req->family == AF_INET6 ? 6 : 4, netns);
	evict_ended(p);
	cap = req->mode == TW_PROBE_MODE_TRACE ? req->count * TW_PROBE_TRACE_HOPS_MAX : req->count;
	t = target_new(p, cap);
	if (!t)
		return refuse(p, TW_REFUSE_UNAVAILABLE, &p->n.refused_invalid, err, err_len,
			      "out of memory");
	t->mode = req->mode;
	t->family = (uint8_t)req->family;
	memcpy(t->addr, req->addr, 16);
	t->port = req->port;
	t->netns = netns;
	t->count = req->count;
	t->interval_ns = req->interval_ns;
	t->timeout_ns = req->timeout_ns;
	t->ctx = c;
	t->next_ns = clock_mono_ns();
	target_append(p, t);
	p->n_jobs++;
	p->jobs_started++;
	*ret_id = t->id;
	prober_reschedule(p);
	return TW_REFUSE_NONE;
}

int prober_cancel(struct tw_prober *p, uint32_t id)
{
	struct tw_probe_target *t = prober_find(p, id);

	if (!t || t->configured)
		return -ENOENT;
	if (!t->done) {
		prober_drop_flights(p, t);
		t->done = true;
		t->ended_ns = clock_mono_ns();
	}
	prober_close_idle(p);
	return 0;
}

struct tw_probe_target *prober_first(const struct tw_prober *p)
{
	return p ? p->targets : NULL;
}

struct tw_probe_target *prober_find(const struct tw_prober *p, uint32_t id)
{
	for (struct tw_probe_target *t = p ? p->targets : NULL; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

bool prober_token_set(const struct tw_prober *p)
{
	return p && p->token[0];
}

bool prober_token_ok(const struct tw_prober *p, const char *text)
{
	size_t n = strlen(p->token), m = text ? strlen(text) : 0;
	unsigned char d = n != m;

	if (!p->token[0] || !text)
		return false;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(p->token[i] ^ (i < m ? text[i] : 0));
	return d == 0;
}

void prober_report(const struct tw_prober *p, struct tw_stats *s)
{
	uint64_t sent = 0, received = 0, lost = 0, errors = 0, active = 0;

	for (const struct tw_probe_target *t = p->targets; t; t = t->next) {
		sent += t->results.sent;
		received += t->results.received;
		lost += t->results.lost;
		errors += t->results.errors;
		active += !t->done && !t->configured;
	}
	stats_gauge(s, "probe_targets", p->n_configured);
	stats_gauge(s, "probe_jobs_active", active);
	stats_counter(s, "probe_jobs_started", p->jobs_started);
	stats_gauge(s, "probe_in_flight", p->n_live);
	stats_gauge(s, "probe_netns", p->n_ctxs);
	stats_counter(s, "probe_sent", sent);
	stats_counter(s, "probe_received", received);
	stats_counter(s, "probe_lost", lost);
	stats_counter(s, "probe_send_errors", errors);
	stats_counter(s, "probe_foreign", p->n.foreign);
	stats_counter(s, "probe_duplicates", p->n.duplicates);
	stats_counter(s, "probe_ignored", p->n.ignored);
	stats_counter(s, "probe_malformed", p->n.malformed);
	stats_counter(s, "probe_no_tx_stamp", p->n.no_tx_stamp);
	stats_counter(s, "probe_no_rx_stamp", p->n.no_rx_stamp);
	stats_counter(s, "probe_bad_clock", p->n.bad_clock);
	stats_counter(s, "probe_ports_busy", p->n.ports_busy);
	stats_counter(s, "probe_rate_delayed", p->n.rate_delayed);
	stats_counter(s, "probe_recv_errors", p->n.recv_errors);
	stats_counter(s, "probe_refused_allow", p->n.refused_allow);
	stats_counter(s, "probe_refused_limit", p->n.refused_limit);
	stats_counter(s, "probe_refused_invalid", p->n.refused_invalid);
	stats_counter(s, "probe_refused_netns", p->n.refused_netns);
	stats_counter(s, "probe_netns_failures", p->n.ctx_failures);
	stats_counter(s, "probe_halfopen_rsts_dropped", halfopen_dropped(p->halfopen));
}
