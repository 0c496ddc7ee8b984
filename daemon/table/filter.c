#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "filter.h"
#include "tcpstate.h"

void filter_init(struct tw_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->states = TW_STATES_ALL & ~TW_STATE_BIT(TW_TCP_CLOSE);
	f->local_port = f->remote_port = -1;
	f->pid = f->netns = -1;
	f->limit = TW_FILTER_DEFAULT_LIMIT;
	f->expr.root = -1;
	f->error_offset = -1;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *ret)
{
	unsigned long long x;
	char *end;

	if (*v < '0' || *v > '9') /* strtoull would skip spaces and take a sign */
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x > max)
		return -EINVAL;
	*ret = x;
	return 0;
}

static int parse_states(const char *v, uint32_t *ret, char *err, size_t err_len)
{
	char buf[TW_FILTER_MAX_VALUE + 1];
	uint32_t mask = 0;
	char *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint32_t m = tcpstate_parse_mask(tok);

		if (!m) {
			snprintf(err, err_len, "state: unknown state '%s'", tok);
			return -EINVAL;
		}
		mask |= m;
	}
	if (!mask) {
		snprintf(err, err_len, "state: empty");
		return -EINVAL;
	}
	*ret = mask;
	return 0;
}

int filter_set(struct tw_filter *f, const char *key, const char *value, char *err, size_t err_len)
{
	uint64_t x;

	if (!value)
		value = "";
	if (!strcmp(key, "filter")) {
		struct tw_ssf_error e;
		int r = ssfilter_parse(&f->expr, value, &e);

		if (r == -ENOMEM) { /* not the client's error */
			snprintf(err, err_len, "out of memory");
			return r;
		}
		if (r < 0) {
			snprintf(err, err_len, "filter: %s (at offset %d)", e.message, e.offset);
			f->error_offset = e.offset;
			return -EINVAL;
		}
		return 0;
	}
	if (strlen(value) > TW_FILTER_MAX_VALUE) {
		snprintf(err, err_len, "%.32s: value longer than %d bytes", key,
			 TW_FILTER_MAX_VALUE);
		return -EINVAL;
	}
	if (!strcmp(key, "state"))
		return parse_states(value, &f->states, err, err_len);
	if (!strcmp(key, "family")) {
		if (!strcmp(value, "inet") || !strcmp(value, "4"))
			f->family = AF_INET;
		else if (!strcmp(value, "inet6") || !strcmp(value, "6"))
			f->family = AF_INET6;
		else
			goto bad;
		return 0;
	}
	if (!strcmp(key, "local_addr") || !strcmp(key, "remote_addr")) {
		struct tw_addr_match *m = key[0] == 'l' ? &f->local : &f->remote;

		if (tw_prefix_parse(value, &m->family, m->addr, &m->prefix_len) < 0)
			goto bad;
		m->set = true;
		return 0;
	}
	if (!strcmp(key, "local_port") || !strcmp(key, "remote_port")) {
		if (parse_u64(value, 65535, &x) < 0)
			goto bad;
		*(key[0] == 'l' ? &f->local_port : &f->remote_port) = (int32_t)x;
		return 0;
	}
	if (!strcmp(key, "pid")) {
		if (parse_u64(value, INT32_MAX, &x) < 0)
			goto bad;
		f->pid = (int64_t)x;
		return 0;
	}
	if (!strcmp(key, "netns")) {
		if (parse_u64(value, UINT32_MAX, &x) < 0)
			goto bad;
		f->netns = (int64_t)x;
		return 0;
	}
	if (!strcmp(key, "limit")) {
		if (parse_u64(value, 100000000ull, &x) < 0 || x == 0)
			goto bad;
		f->limit = x;
		return 0;
	}
	if (!strcmp(key, "after")) {
		if (parse_u64(value, UINT64_MAX, &x) < 0)
			goto bad;
		f->after = x;
		return 0;
	}
	snprintf(err, err_len, "unknown parameter '%.64s'", key);
	return -EINVAL;
bad:
	snprintf(err, err_len, "%s: invalid value '%.64s'", key, value);
	return -EINVAL;
}

static bool addr_match(const struct tw_addr_match *m, const struct tw_conn *c,
		       const uint8_t addr[16])
{
	if (!m->set)
		return true;
	if (m->family != c->family)
		return false;
	return tw_addr_prefix_match(m->addr, addr, m->prefix_len);
}

bool filter_match(const struct tw_filter *f, const struct tw_conn *c)
{
	if (!(f->states & TW_STATE_BIT(c->state)))
		return false;
	/* A retained connection is CLOSE; a live one never shows as CLOSE. */
	if ((c->flags & TW_CONN_CLOSED) && !(f->states & TW_STATE_BIT(TW_TCP_CLOSE)))
		return false;
	if (f->family && c->family != f->family)
		return false;
	if (f->local_port >= 0 && c->local_port != f->local_port)
		return false;
	if (f->remote_port >= 0 && c->remote_port != f->remote_port)
		return false;
	if (f->pid >= 0 && (!(c->flags & TW_CONN_HAS_TASK) || c->pid != (uint64_t)f->pid))
		return false;
	if (f->netns >= 0 && c->netns != (uint64_t)f->netns)
		return false;
	if (c->cookie <= f->after)
		return false;
	if (!addr_match(&f->local, c, c->local_addr) || !addr_match(&f->remote, c, c->remote_addr))
		return false;
	if (f->expr.root >= 0) {
		struct tw_ssf_sock s = {
			.family = c->family,
			.local_addr = c->local_addr,
			.remote_addr = c->remote_addr,
			.local_port = c->local_port,
			.remote_port = c->remote_port,
		};

		return ssfilter_match(&f->expr, &s);
	}
	return true;
}

bool filter_is_everything(const struct tw_filter *f)
{
	/* state=all leaves out, as ss does, the half-open request sockets
	 * (NEW_SYN_RECV) and BOUND_INACTIVE (bound, unconnected sockets, which
	 * the daemon never dumps): the listing refuses those as it writes. */
	uint32_t states =
		f->states | TW_STATE_BIT(TW_TCP_NEW_SYN_RECV) | TW_STATE_BIT(TW_TCP_BOUND_INACTIVE);

	return (states & TW_STATES_ALL) == TW_STATES_ALL && !f->family && !f->local.set &&
	       !f->remote.set && f->local_port < 0 && f->remote_port < 0 && f->pid < 0 &&
	       f->netns < 0 && !f->after && f->expr.root < 0;
}

/* A port the expression's node idx requires on a side, walking and-nodes
 * only: an or or a not lets connections without it through. */
static void expr_ports(const struct tw_ssfilter *e, int idx, int depth, int32_t ports[])
{
	const struct tw_ssf_node *nd;

	if (idx < 0 || idx >= e->n || depth > TW_SSF_MAX_DEPTH * 2)
		return;
	nd = &e->nodes[idx];
	if (nd->type == TW_SSF_AND) {
		expr_ports(e, nd->left, depth + 1, ports);
		expr_ports(e, nd->right, depth + 1, ports);
		return;
	}
	if (nd->type != TW_SSF_PRED || nd->op != TW_SSF_EQ || nd->port < 0 || nd->port > 65535)
		return;
	ports[nd->field == TW_SSF_SRC || nd->field == TW_SSF_SPORT ? TW_PORT_LOCAL
								   : TW_PORT_REMOTE] = nd->port;
}

void filter_required_ports(const struct tw_filter *f, int32_t ports[TW_PORT_SIDES])
{
	ports[TW_PORT_LOCAL] = ports[TW_PORT_REMOTE] = -1;
	if (f->expr.root >= 0)
		expr_ports(&f->expr, f->expr.root, 0, ports);
	/* The parameters win: a connection must match both anyway. */
	if (f->local_port >= 0)
		ports[TW_PORT_LOCAL] = f->local_port;
	if (f->remote_port >= 0)
		ports[TW_PORT_REMOTE] = f->remote_port;
}
