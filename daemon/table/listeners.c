#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "listeners.h"

#define FIRST_CAP 64

static uint64_t listen_key(uint32_t netns, uint16_t port)
{
	return ((uint64_t)netns << 16) | port;
}

static size_t hash_bucket(uint64_t v, size_t cap)
{
	return (size_t)((v * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

int listen_index_init(struct tw_listen_index *x)
{
	memset(x, 0, sizeof(*x));
	x->by_key = calloc(FIRST_CAP, sizeof(*x->by_key));
	x->by_cookie = calloc(FIRST_CAP, sizeof(*x->by_cookie));
	if (!x->by_key || !x->by_cookie) {
		listen_index_fini(x);
		return -ENOMEM;
	}
	x->cap = FIRST_CAP;
	return 0;
}

static void record_free(struct tw_listener *l)
{
	free(l->accept_wait);
	free(l->half_open_lifetime);
	free(l->depth);
	free(l->recent);
	free(l);
}

void listen_index_fini(struct tw_listen_index *x)
{
	for (size_t i = 0; x->by_cookie && i < x->cap; i++) {
		struct tw_listener *l = x->by_cookie[i], *next;

		for (; l; l = next) {
			next = l->next_by_cookie;
			record_free(l);
		}
	}
	free(x->by_key);
	free(x->by_cookie);
	memset(x, 0, sizeof(*x));
}

/* Both bucket arrays at twice the size; on failure the chains just get
 * longer. */
static void grow(struct tw_listen_index *x)
{
	size_t cap = x->cap * 2;
	struct tw_listener **k = calloc(cap, sizeof(*k)), **c = calloc(cap, sizeof(*c));

	if (!k || !c) {
		free(k);
		free(c);
		x->alloc_failures++;
		return;
	}
	for (size_t i = 0; i < x->cap; i++) {
		struct tw_listener *l = x->by_cookie[i], *next;

		for (; l; l = next) {
			size_t cb = hash_bucket(l->cookie, cap);

			next = l->next_by_cookie;
			l->next_by_cookie = c[cb];
			c[cb] = l;
			if (l->keyed) {
				size_t kb = hash_bucket(l->key, cap);

				l->next_by_key = k[kb];
				k[kb] = l;
			}
		}
	}
	free(x->by_key);
	free(x->by_cookie);
	x->by_key = k;
	x->by_cookie = c;
	x->cap = cap;
}

struct tw_listener *listen_index_get(const struct tw_listen_index *x, uint64_t cookie)
{
	for (struct tw_listener *l = x->by_cookie[hash_bucket(cookie, x->cap)]; l;
	     l = l->next_by_cookie)
		if (l->cookie == cookie)
			return l;
	return NULL;
}

static void unkey(struct tw_listen_index *x, struct tw_listener *l)
{
	struct tw_listener **p;

	if (!l->keyed)
		return;
	for (p = &x->by_key[hash_bucket(l->key, x->cap)]; *p != l; p = &(*p)->next_by_key)
		x->steps++;
	*p = l->next_by_key;
	l->keyed = false;
	x->keyed--;
}

struct tw_listener *listen_index_add(struct tw_listen_index *x, struct tw_conn *c, uint64_t now_ns)
{
	struct tw_listener *l = listen_index_get(x, c->cookie);
	size_t b;

	if (!l) {
		if (x->count + 1 > x->cap)
			grow(x);
		l = calloc(1, sizeof(*l));
		if (!l) {
			x->alloc_failures++;
			return NULL;
		}
		l->cookie = c->cookie;
		l->created_ns = now_ns;
		b = hash_bucket(l->cookie, x->cap);
		l->next_by_cookie = x->by_cookie[b];
		x->by_cookie[b] = l;
		x->count++;
	}
	l->conn = c;
	unkey(x, l); /* it may listen again on another port */
	l->key = listen_key(c->netns, c->local_port);
	b = hash_bucket(l->key, x->cap);
	l->next_by_key = x->by_key[b];
	x->by_key[b] = l;
	l->keyed = true;
	x->keyed++;
	return l;
}

void listen_index_unkey(struct tw_listen_index *x, struct tw_conn *c)
{
	struct tw_listener *l = listen_index_get(x, c->cookie);

	if (l)
		unkey(x, l);
}

void listen_index_remove(struct tw_listen_index *x, struct tw_conn *c)
{
	struct tw_listener **p = &x->by_cookie[hash_bucket(c->cookie, x->cap)], *l;

	for (; *p && (*p)->cookie != c->cookie; p = &(*p)->next_by_cookie)
		x->steps++;
	if (!(l = *p))
		return;
	*p = l->next_by_cookie;
	unkey(x, l);
	record_free(l);
	x->count--;
}

/* Constant-size compares, which the compiler inlines: a child of a
 * listener is looked up for every accepted connection. */
static bool addr_eq(int family, const uint8_t a[16], const uint8_t b[16])
{
	return family == AF_INET ? !memcmp(a, b, 4) : !memcmp(a, b, 16);
}

static bool addr_is_any(int family, const uint8_t addr[16])
{
	static const uint8_t zero[16];

	return addr_eq(family, addr, zero);
}

struct tw_conn *listen_index_find(const struct tw_listen_index *x, uint32_t netns, int family,
				  const uint8_t addr[16], uint16_t port)
{
	uint64_t key = listen_key(netns, port);
	struct tw_conn *wildcard = NULL;

	for (struct tw_listener *n = x->by_key[hash_bucket(key, x->cap)]; n; n = n->next_by_key) {
		struct tw_conn *c = n->conn;

		if (n->key != key)
			continue;
		/* An IPv6 wildcard listener also takes IPv4 (v4-mapped). */
		if (c->family != family &&
		    !(c->family == AF_INET6 && addr_is_any(AF_INET6, c->local_addr)))
			continue;
		if (c->family == family && addr_eq(family, c->local_addr, addr))
			return c;
		if (addr_is_any(c->family, c->local_addr))
			wildcard = c;
	}
	return wildcard;
}

void listen_index_foreach(struct tw_listen_index *x, void (*fn)(struct tw_listener *l, void *data),
			  void *data)
{
	for (size_t i = 0; i < x->cap; i++)
		for (struct tw_listener *l = x->by_cookie[i]; l; l = l->next_by_cookie)
			fn(l, data);
}

size_t listen_index_bytes(const struct tw_listen_index *x)
{
	/* The records; their rings and histograms are counted as allocated
	 * by listener_bytes() where it matters (the stats). */
	return 2 * x->cap * sizeof(*x->by_key) + x->count * sizeof(struct tw_listener);
}

int listener_sample(struct tw_listener *l, uint64_t now_ns)
{
	struct tw_depth_sample *s;

	if (!l->depth && !(l->depth = calloc(TW_LISTENER_DEPTH_SAMPLES, sizeof(*l->depth))))
		return -ENOMEM;
	s = &l->depth[l->depth_head];
	l->depth_head = (uint16_t)((l->depth_head + 1) % TW_LISTENER_DEPTH_SAMPLES);
	if (l->depth_n < TW_LISTENER_DEPTH_SAMPLES)
		l->depth_n++;
	*s = (struct tw_depth_sample){
		.time_ns = now_ns,
		.accept_queue = l->accept_queue,
		.syn_queue = l->syn_queue,
		.overflows = l->overflows,
		.listen_drops = l->listen_drops,
		.synack_retransmits = l->synack_retransmits,
		.children = l->children,
		.expired = l->half_open[TW_HALFOPEN_EXPIRED],
		.drops = l->drops.total,
	};
	return 0;
}

static uint64_t field_of(const struct tw_depth_sample *d, size_t field)
{
	uint64_t v;

	memcpy(&v, (const char *)d + field, sizeof(v));
	return v;
}

uint64_t listener_growth(const struct tw_listener *l, size_t field, uint64_t since_ns)
{
	const struct tw_depth_sample *newest = listener_depth(l, 0), *base = NULL, *d;
	/* listen_drops is the kernel's count since the socket was made; a
	 * listener first found by a dump had it before we did. Our own
	 * counters start with the record. */
	bool kernels = field == offsetof(struct tw_depth_sample, listen_drops);
	bool from_nothing = l->created_ns >= since_ns &&
			    !(kernels && l->conn && l->conn->flags & TW_CONN_FROM_SNAPSHOT);
	uint64_t from;

	if (!newest)
		return 0;
	/* The baseline is the last sample before the window; else, for a
	 * record made within the window, nothing; else the oldest sample
	 * there is (none but the newest: no growth seen). */
	for (unsigned k = 1; (d = listener_depth(l, k)); k++) {
		base = d;
		if (d->time_ns < since_ns)
			break;
	}
	if (base && base->time_ns < since_ns)
		from = field_of(base, field);
	else if (from_nothing)
		from = 0;
	else if (base)
		from = field_of(base, field);
	else
		return 0;
	return field_of(newest, field) > from ? field_of(newest, field) - from : 0;
}

int listener_add_halfopen(struct tw_listener *l, const struct tw_halfopen *h)
{
	if (!l->recent && !(l->recent = calloc(TW_LISTENER_RECENT, sizeof(*l->recent))))
		return -ENOMEM;
	l->recent[l->recent_head] = *h;
	l->recent_head = (uint16_t)((l->recent_head + 1) % TW_LISTENER_RECENT);
	if (l->recent_n < TW_LISTENER_RECENT)
		l->recent_n++;
	return 0;
}

const struct tw_depth_sample *listener_depth(const struct tw_listener *l, unsigned k)
{
	if (k >= l->depth_n)
		return NULL;
	return &l->depth[(l->depth_head + TW_LISTENER_DEPTH_SAMPLES - 1 - k) %
			 TW_LISTENER_DEPTH_SAMPLES];
}

const struct tw_halfopen *listener_recent(const struct tw_listener *l, unsigned k)
{
	if (k >= l->recent_n)
		return NULL;
	return &l->recent[(l->recent_head + TW_LISTENER_RECENT - 1 - k) % TW_LISTENER_RECENT];
}
