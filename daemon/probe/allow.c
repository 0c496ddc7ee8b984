#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "allow.h"

static int parse_port(const char *s, const char *end, uint16_t *ret)
{
	unsigned long v = 0;

	if (s == end || end - s > 5)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

static int parse_ports(const char *s, struct tw_allow_rule *r)
{
	const char *dash = strchr(s, '-'), *end = s + strlen(s);

	if (!dash)
		dash = end;
	if (parse_port(s, dash, &r->port_lo) < 0)
		return -EINVAL;
	r->port_hi = r->port_lo;
	if (dash != end && (parse_port(dash + 1, end, &r->port_hi) < 0 || r->port_hi < r->port_lo))
		return -EINVAL;
	return 0;
}

static int parse_entry(char *e, struct tw_allow_rule *r)
{
	char *ports = NULL, *close;
	int family;
	unsigned plen;

	r->port_lo = 1;
	r->port_hi = 65535;
	if (e[0] == '[') {
		close = strchr(e, ']');
		if (!close)
			return -EINVAL;
		*close = '\0';
		if (close[1] == ':')
			ports = close + 2;
		else if (close[1])
			return -EINVAL;
		e++;
	} else if (strchr(e, ':') == strrchr(e, ':') && strchr(e, ':')) {
		/* one colon: IPv4 with ports (IPv6 has two or more) */
		ports = strchr(e, ':');
		*ports++ = '\0';
	}
	if (ports && parse_ports(ports, r) < 0)
		return -EINVAL;
	if (tw_prefix_parse(e, &family, r->addr, &plen) < 0)
		return -EINVAL;
	r->family = (uint8_t)family;
	r->prefix_len = (uint8_t)plen;
	return 0;
}

int allow_parse(struct tw_allow *a, const char *text, char *err, size_t err_len)
{
	char *copy = strdup(text), *save = NULL, *tok;
	int r = 0;

	if (!copy) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	a->n = 0;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		char entry[128];

		snprintf(entry, sizeof(entry), "%s", tok);
		if (a->n == TW_ALLOW_MAX) {
			snprintf(err, err_len, "probe-allow: more than %d entries", TW_ALLOW_MAX);
			r = -EINVAL;
			break;
		}
		if (strlen(tok) >= sizeof(entry) || parse_entry(tok, &a->v[a->n]) < 0) {
			snprintf(err, err_len,
				 "probe-allow: '%s' is not PREFIX, PREFIX:PORT[-PORT] or "
				 "[PREFIX6]:PORT[-PORT]",
				 entry);
			r = -EINVAL;
			break;
		}
		a->n++;
	}
	free(copy);
	return r;
}

bool addr_is_loopback(int family, const uint8_t addr[16])
{
	static const uint8_t one[16] = {[15] = 1};
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (family == AF_INET)
		return addr[0] == 127;
	return !memcmp(addr, one, 16) || (!memcmp(addr, mapped, 12) && addr[12] == 127);
}

bool allow_match(const struct tw_allow *a, int family, const uint8_t addr[16], uint16_t port)
{
	if (addr_is_loopback(family, addr))
		return true;
	for (size_t i = 0; i < a->n; i++) {
		const struct tw_allow_rule *r = &a->v[i];

		if (r->family == family && port >= r->port_lo && port <= r->port_hi &&
		    tw_addr_prefix_match(addr, r->addr, r->prefix_len))
			return true;
	}
	return false;
}

/* ADDR:PORT or [ADDR6]:PORT. 0 or -EINVAL. */
int probe_parse_endpoint(const char *s, int *family, uint8_t addr[16], uint16_t *port)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t n;
	unsigned long v;
	char *end;
	bool bracketed = s[0] == '[';

	if (!colon || colon == s || !colon[1])
		return -EINVAL;
	n = (size_t)(colon - s);
	if (bracketed) {
		if (n < 3 || s[n - 1] != ']')
			return -EINVAL;
		s++, n -= 2;
	}
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	v = strtoul(colon + 1, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -EINVAL;
	if (tw_addr_parse(host, family, addr) < 0)
		return -EINVAL;
	if ((*family == AF_INET6) != bracketed)
		return -EINVAL; /* brackets for IPv6, and only for it */
	*port = (uint16_t)v;
	return 0;
}
