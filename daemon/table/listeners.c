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

void listen_index_fini(struct tw_listen_index *x)
{
	for (size_t i = 0; x->by_key && i < x->cap; i++) {
		struct tw_listen_node *n = x->by_key[i], *next;

		for (; n; n = next) {
			next = n->next_by_key;
			free(n);
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
	struct tw_listen_node **k = calloc(cap, sizeof(*k)), **c = calloc(cap, sizeof(*c));

	if (!k || !c) {
		free(k);
		free(c);
		x->alloc_failures++;
		return;
	}
	for (size_t i = 0; i < x->cap; i++) {
		struct tw_listen_node *n = x->by_key[i], *next;

		for (; n; n = next) {
			size_t kb = hash_bucket(n->key, cap), cb = hash_bucket(n->cookie, cap);

			next = n->next_by_key;
			n->next_by_key = k[kb];
			k[kb] = n;
			n->next_by_cookie = c[cb];
			c[cb] = n;
		}
	}
	free(x->by_key);
	free(x->by_cookie);
	x->by_key = k;
	x->by_cookie = c;
	x->cap = cap;
}

int listen_index_add(struct tw_listen_index *x, struct tw_conn *c)
{
	struct tw_listen_node *n;
	size_t b;

	if (x->count + 1 > x->cap)
		grow(x);
	n = malloc(sizeof(*n));
	if (!n) {
		x->alloc_failures++;
		return -ENOMEM;
	}
	n->cookie = c->cookie;
	n->key = listen_key(c->netns, c->local_port);
	n->conn = c;
	b = hash_bucket(n->key, x->cap);
	n->next_by_key = x->by_key[b];
	x->by_key[b] = n;
	b = hash_bucket(n->cookie, x->cap);
	n->next_by_cookie = x->by_cookie[b];
	x->by_cookie[b] = n;
	x->count++;
	return 0;
}

void listen_index_remove(struct tw_listen_index *x, struct tw_conn *c)
{
	struct tw_listen_node **p = &x->by_cookie[hash_bucket(c->cookie, x->cap)], *n;

	for (; *p && (*p)->conn != c; p = &(*p)->next_by_cookie)
		x->steps++;
	if (!(n = *p))
		return;
	*p = n->next_by_cookie;
	for (p = &x->by_key[hash_bucket(n->key, x->cap)]; *p != n; p = &(*p)->next_by_key)
		x->steps++;
	*p = n->next_by_key;
	free(n);
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

	for (struct tw_listen_node *n = x->by_key[hash_bucket(key, x->cap)]; n;
	     n = n->next_by_key) {
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
