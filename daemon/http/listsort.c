#include <errno.h>
#include <string.h>

#include "listsort.h"

static const char *const names[LISTSORT_KEYS] = {
	[LISTSORT_COOKIE] = "cookie", [LISTSORT_STATE] = "state", [LISTSORT_LOCAL] = "local",
	[LISTSORT_REMOTE] = "remote", [LISTSORT_RTT] = "rtt",     [LISTSORT_BYTES] = "bytes",
	[LISTSORT_AGE] = "age",
};

const char listsort_keys_text[] = "state, local, remote, rtt, bytes, age, cookie";

int listsort_parse(const char *text, struct listsort *ret)
{
	bool desc = text[0] == '-';
	const char *name = text + (desc || text[0] == '+');

	for (int k = LISTSORT_COOKIE; k < LISTSORT_KEYS; k++)
		if (!strcmp(name, names[k])) {
			ret->key = (uint8_t)k;
			ret->descending = desc;
			return 0;
		}
	return -EINVAL;
}

/* 16 address bytes as two numbers that compare as the bytes do. */
static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void endpoint_keys(uint64_t k[4], int family, const uint8_t addr[16], uint16_t port)
{
	k[0] = (uint64_t)family;
	k[1] = be64(addr);
	k[2] = be64(addr + 8);
	k[3] = port;
}

void listsort_entry_of(const struct listsort *s, const struct tw_conn *c,
		       const struct tw_clock *clk, struct listsort_entry *ret)
{
	const struct tw_tcpinfo *ti = &c->info;
	uint64_t end_ns = c->flags & TW_CONN_CLOSED ? conn_closed_ns(c) : clk->now_mono_ns;

	memset(ret, 0, sizeof(*ret));
	ret->cookie = c->cookie;
	switch (s->key) {
	case LISTSORT_STATE:
		ret->k[0] = c->flags & TW_CONN_CLOSED ? TW_TCP_CLOSE : c->state;
		break;
	case LISTSORT_LOCAL:
		endpoint_keys(ret->k, c->family, c->local_addr, c->local_port);
		break;
	case LISTSORT_REMOTE:
		endpoint_keys(ret->k, c->family, c->remote_addr, c->remote_port);
		break;
	case LISTSORT_RTT:
		ret->unknown = !ti->has_info;
		ret->k[0] = ti->has_info ? ti->rtt_us : 0;
		break;
	case LISTSORT_BYTES:
		ret->unknown = !ti->has_info;
		ret->k[0] = ti->has_info ? ti->bytes_acked + ti->bytes_received : 0;
		break;
	case LISTSORT_AGE:
		ret->k[0] = end_ns > c->first_seen_ns ? end_ns - c->first_seen_ns : 0;
		break;
	case LISTSORT_COOKIE:
		ret->k[0] = c->cookie;
		break;
	default:
		break; /* LISTSORT_NONE: by cookie */
	}
	/* Descending is ascending on the complement; ties stay by cookie. */
	if (s->descending)
		for (int i = 0; i < 4; i++)
			ret->k[i] = ~ret->k[i];
}

int listsort_cmp(const void *a, const void *b)
{
	const struct listsort_entry *x = a, *y = b;

	if (x->unknown != y->unknown)
		return x->unknown < y->unknown ? -1 : 1;
	for (int i = 0; i < 4; i++)
		if (x->k[i] != y->k[i])
			return x->k[i] < y->k[i] ? -1 : 1;
	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	return 0;
}
