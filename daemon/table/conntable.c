#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "conntable_int.h"
#include "histo.h"
#include "lifecycle.h"
#include "listeners.h"
#include "lookups.h"
#include "nsstat.h"
#include "retain.h"
#include "slab.h"
#include "u64map.h"

/*
 * Chains are built of links (conntable.h): a bucket is the link to its
 * chain's newest connection. Old connections (TIME_WAIT, retained) sit in
 * a quarter of the buckets; a new cookie landing on one learns that it is
 * absent from the bucket alone, and removing a connection copies its link
 * to the one before, so neither reads the older connection behind it.
 * (Records are cache-line aligned: the low bit of a pointer is free.)
 */
static bool link_more(const struct tw_link *l)
{
	return l->to & 1;
}

/*
 * The kernel hands out socket cookies from a global counter in per-CPU
 * batches of 4096 consecutive values (COOKIE_LOCAL_BATCH, gen_cookie_next()
 * in include/linux/cookie.h). Under churn every event is about one of the
 * newest sockets, and the oldest closed ones leave retention in about the
 * order they were born. So a batch keeps its low 12 bits as the bucket's
 * low bits, and only the batch number is hashed to choose its block: the
 * buckets of recent sockets are a few adjacent cache lines instead of one
 * miss each across megabytes, while batches (and with them the long-lived
 * TIME_WAIT sockets of old batches) still spread over the table.
 */
#define COOKIE_BATCH_BITS 12

static size_t bucket_of(uint64_t cookie, size_t cap)
{
	uint64_t batch = (cookie >> COOKIE_BATCH_BITS) * 0x9E3779B97F4A7C15ull;

	return (size_t)(((batch >> 32) << COOKIE_BATCH_BITS) |
			(cookie & ((1u << COOKIE_BATCH_BITS) - 1))) &
	       (cap - 1);
}

struct tw_conntable *conntable_new(const struct tw_conntable_limits *limits)
{
	struct tw_conntable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->limits = *limits;
	/* Over the record's entries: only a history on the heap drops any. */
	if (t->limits.history_max < TW_HIST_INLINE + 1)
		t->limits.history_max = TW_HIST_INLINE + 1;
	t->cap = 1024;
	t->buckets = calloc(t->cap, sizeof(*t->buckets));
	t->records = slab_new(sizeof(struct tw_conn));
	u64map_init(&t->requests, REQUESTS_MAX);
	u64map_init(&t->drop_map, DROP_COUNTS_MAX);
	if (!t->buckets || !t->records || listen_index_init(&t->listeners) < 0) {
		slab_free(t->records);
		free(t->buckets);
		free(t);
		return NULL;
	}
	return t;
}

/* Under churn a connection is born for every one that dies: the slab
 * hands the record that just died, still in cache, to the next one. */
static void conn_release(struct tw_conntable *t, struct tw_conn *c)
{
	if (c->hist_len > TW_HIST_INLINE)
		free(c->hist_heap.v);
	slab_release(t->records, c);
}

static struct tw_conn *conn_alloc(struct tw_conntable *t)
{
	return slab_alloc(t->records);
}

static void free_hist(struct tw_conn *c, void *data)
{
	(void)data;
	if (c->hist_len > TW_HIST_INLINE)
		free(c->hist_heap.v);
}

void conntable_free(struct tw_conntable *t)
{
	if (!t)
		return;
	/* The slab goes whole; only histories grown out of line are
	 * allocations of their own. */
	conntable_foreach(t, free_hist, NULL);
	slab_free(t->records);
	for (unsigned i = 0; i < TW_TOTAL_HISTOS; i++)
		free(t->totals.h[i]);
	listen_index_fini(&t->listeners);
	free(t->buckets);
	free(t->old);
	retain_fini(&t->retained);
	u64map_fini(&t->requests);
	for (size_t i = 0; i < t->drop_map.cap; i++)
		if (t->drop_map.slots[i].key)
			free((void *)(uintptr_t)t->drop_map.slots[i].value);
	u64map_fini(&t->drop_map);
	nsstat_fini(&t->nsstat);
	conntable_free_port_index(t);
	free(t);
}

/* The chain a cookie belongs in: while the table doubles, the old one's
 * until its bucket moved (masked hashing: the old bucket is the new one's
 * low bits). */
static inline struct tw_link *head_of(const struct tw_conntable *t, uint64_t cookie)
{
	if (t->old) {
		size_t j = bucket_of(cookie, t->old_cap);

		if (j >= t->mig)
			return &t->old[j];
	}
	return &t->buckets[bucket_of(cookie, t->cap)];
}

struct tw_conn *conntable_get(struct tw_conntable *t, uint64_t cookie)
{
	const struct tw_link *l = head_of(t, cookie);

	for (;;) {
		struct tw_conn *c = link_to(l);

		if (!c)
			return NULL;
		if (l->cookie == cookie)
			return c;
		if (!link_more(l))
			return NULL;
		l = &c->next;
	}
}

/* c becomes the first of the chain b. */
static void insert_at(struct tw_link *b, struct tw_conn *c)
{
	c->next = *b;
	b->cookie = c->cookie;
	b->to = (uintptr_t)c | (link_to(&c->next) ? 1 : 0);
}

/* The old buckets' records move, n buckets of them (the doubling's
 * steps); the old array goes once all have. */
static void migrate(struct tw_conntable *t, size_t n)
{
	size_t end = t->mig + n < t->old_cap ? t->mig + n : t->old_cap;

	for (; t->mig < end; t->mig++) {
		struct tw_conn *c = link_to(&t->old[t->mig]), *next;

		for (; c; c = next) {
			next = link_to(&c->next);
			insert_at(&t->buckets[bucket_of(c->cookie, t->cap)], c);
		}
	}
	if (t->mig == t->old_cap) {
		free(t->old);
		t->old = NULL;
		t->old_cap = t->mig = 0;
	}
}

/* Rehashes at once into cap buckets (a doubling under way finishes
 * first). */
static int resize(struct tw_conntable *t, size_t cap)
{
	struct tw_link *buckets = calloc(cap, sizeof(*buckets));

	if (!buckets)
		return -ENOMEM;
	if (t->old)
		migrate(t, t->old_cap);
	for (size_t i = 0; i < t->cap; i++) {
		struct tw_conn *c = link_to(&t->buckets[i]), *next;

		for (; c; c = next) {
			next = link_to(&c->next);
			insert_at(&buckets[bucket_of(c->cookie, cap)], c);
		}
	}
	free(t->buckets);
	t->buckets = buckets;
	t->cap = cap;
	return 0;
}

/*
 * Twice the buckets, moved DOUBLE_STEP old buckets per insert from then
 * on: at a million records, moving them all at once held the loop for
 * some 100 ms. The doubling is done after a quarter of the old count in
 * inserts, so the load stays under 1.25 a bucket. The new array is
 * calloc's fresh mapping: zero pages until written.
 */
#define DOUBLE_STEP 4

static int grow(struct tw_conntable *t)
{
	struct tw_link *buckets;

	if (t->old)
		return 0; /* one at a time: this one ends within cap / 4 inserts */
	buckets = calloc(t->cap * 2, sizeof(*buckets));
	if (!buckets)
		return -ENOMEM;
	t->old = t->buckets;
	t->old_cap = t->cap;
	t->mig = 0;
	t->buckets = buckets;
	t->cap *= 2;
	t->doublings++;
	return 0;
}

int conntable_reserve(struct tw_conntable *t, size_t n)
{
	size_t cap = t->cap;

	if (n > t->limits.max_live)
		n = t->limits.max_live;
	while (cap < n && cap < (SIZE_MAX / 2) / sizeof(*t->buckets))
		cap *= 2;
	if (cap == t->cap)
		return 0;
	if (resize(t, cap) < 0) {
		t->alloc_failures++;
		return -ENOMEM;
	}
	return 0;
}

struct tw_conn *conntable_get_or_add(struct tw_conntable *t, uint64_t cookie, bool *ret_created)
{
	struct tw_conn *c = conntable_get(t, cookie);

	*ret_created = false;
	if (c)
		return c;
	if (t->live >= t->limits.max_live) {
		t->refused_full++;
		return NULL;
	}
	/* At most one connection per bucket. A bucket is 16 bytes, and at
	 * one connection per two (as before) they were 32 to 64 bytes of
	 * every connection, a million's 33 to 67 MB; now 16 to 32. Chains
	 * stay short all the same: a link carries its connection's cookie
	 * and whether more follow, so a lookup that misses reads no record
	 * unless two share the bucket, and the cookies of one batch (bucket_of)
	 * never share one. */
	if (t->count + 1 > t->cap && grow(t) < 0) {
		t->alloc_failures++;
		return NULL;
	}
	if (t->old)
		migrate(t, DOUBLE_STEP);
	c = conn_alloc(t);
	if (!c) {
		t->alloc_failures++;
		return NULL;
	}
	c->cookie = cookie;
	insert_at(head_of(t, cookie), c);
	/* Once its build began, the port index lists every new record, port
	 * 0 until its ports are known. */
	if (t->port_index_kept)
		conntable_set_ports(t, c, 0, 0);
	t->count++;
	t->live++;
	*ret_created = true;
	return c;
}

struct tw_conn *conntable_add_request(struct tw_conntable *t, uint64_t cookie, bool *ret_created)
{
	struct tw_conn *c = conntable_get(t, cookie);

	*ret_created = false;
	if (c)
		return c;
	/* A SYN flood is the outside's to grow: the kernel bounds each SYN
	 * queue, we bound them all. */
	if (t->limits.max_requests && t->requests_live >= t->limits.max_requests) {
		t->requests_refused++;
		return NULL;
	}
	c = conntable_get_or_add(t, cookie, ret_created);
	if (c) {
		c->flags |= TW_CONN_REQUEST;
		t->requests_live++;
	}
	return c;
}

void conntable_set_state(struct tw_conntable *t, struct tw_conn *c, uint8_t state)
{
	c->state = state;
	*slab_tag(t->records, c) = (uint8_t)(state + 1);
}

struct scan_call {
	void (*fn)(struct tw_conn *c, void *data);
	void *data;
};

static void scan_one(void *obj, void *data)
{
	const struct scan_call *k = data;

	k->fn(obj, k->data);
}

bool conntable_scan_states(struct tw_conntable *t, uint32_t *cursor, uint32_t states,
			   void (*fn)(struct tw_conn *c, void *data), void *data,
			   uint32_t max_slots)
{
	/* Tags are state + 1 (a record given no state yet: 1, state 0's);
	 * a free slot's 0 is never asked for. */
	uint32_t tags = (states & ((1u << TW_TCP_MAX_STATES) - 1)) << 1;
	struct scan_call k = {fn, data};

	return slab_scan(t->records, cursor, tags, scan_one, &k, max_slots);
}

void conntable_set_first_seen(struct tw_conn *c, uint64_t ns)
{
	uint64_t *w = (uint64_t *)conn_hist_words(c), closed = conn_closed_ns(c),
		 sampled = conn_sample_ns(c), old = c->first_seen_ns;

	if (ns == old)
		return;
	for (uint16_t i = 0; i < c->hist_len; i++) {
		struct tw_hist h = tw_hist_unpack(old, w[i]);

		w[i] = tw_hist_pack(ns, &h);
	}
	c->first_seen_ns = ns;
	conn_set_closed_ns(c, closed);
	conn_set_sample_ns(c, sampled);
}

/* The history moves to the heap: cap entries, the record's copied. */
static int hist_spill(struct tw_conntable *t, struct tw_conn *c, uint32_t cap)
{
	uint64_t *n = malloc((size_t)cap * sizeof(*n));

	if (!n) {
		t->alloc_failures++;
		return -ENOMEM;
	}
	memcpy(n, c->hist_inline, sizeof(c->hist_inline));
	c->hist_heap.v = n;
	c->hist_heap.cap = cap;
	c->hist_heap.dropped = 0;
	t->hist_bytes += (size_t)cap * sizeof(*n);
	return 0;
}

int conntable_hist_append(struct tw_conntable *t, struct tw_conn *c, const struct tw_hist *h)
{
	uint16_t max = t->limits.history_max;
	uint64_t w = tw_hist_pack(c->first_seen_ns, h), *v;

	if (c->hist_len < TW_HIST_INLINE) {
		c->hist_inline[c->hist_len++] = w;
		return 0;
	}
	if (c->hist_len == TW_HIST_INLINE) {
		uint32_t cap = 2 * TW_HIST_INLINE;

		if (hist_spill(t, c, cap < max ? cap : max) < 0)
			return -ENOMEM;
	}
	v = c->hist_heap.v;
	if (c->hist_len == max) {
		/* Keep the beginning of the life and the latest entries. */
		memmove(&v[TW_HIST_KEEP_FIRST], &v[TW_HIST_KEEP_FIRST + 1],
			(size_t)(max - TW_HIST_KEEP_FIRST - 1) * sizeof(*v));
		v[max - 1] = w;
		c->hist_heap.dropped++;
		t->history_dropped++;
		return 0;
	}
	if (c->hist_len == c->hist_heap.cap) {
		uint32_t cap = c->hist_heap.cap * 2;

		if (cap > max)
			cap = max;
		v = realloc(v, (size_t)cap * sizeof(*v));
		if (!v) {
			t->alloc_failures++;
			return -ENOMEM;
		}
		t->hist_bytes += (size_t)(cap - c->hist_heap.cap) * sizeof(*v);
		c->hist_heap.v = v;
		c->hist_heap.cap = cap;
	}
	v[c->hist_len++] = w;
	return 0;
}

void conntable_hist_add_dropped(struct tw_conn *c, uint32_t n)
{
	/* Only a history on the heap (over TW_HIST_INLINE entries) has
	 * dropped any: history_max is more. A count with fewer entries
	 * (no table writes one) has nowhere to be kept. */
	if (c->hist_len > TW_HIST_INLINE)
		c->hist_heap.dropped += n;
}

/*
 * Retention is a queue: who leaves next is known. Each record leaving it
 * was closed ten thousand connections ago and is no longer cached. The
 * queue is an array, so the records a few places ahead are known without
 * reading the ones in between: fetch the whole record of the one
 * RETAIN_AHEAD places on, and the bucket of the one half way (its record
 * arrived since).
 */
#define RETAIN_AHEAD 8u

/*
 * Inlined by force: a function that only loads and prefetches looks pure
 * to GCC's interprocedural analysis, and a call to a pure function whose
 * result nobody uses is deleted, prefetches and all (gcc 12, -O2). Until
 * this was found, these prefetches had never run.
 */
static inline __attribute__((always_inline)) void prefetch_victims(const struct tw_conntable *t)
{
	const struct tw_conn *c;

	if ((c = retain_ahead(&t->retained, RETAIN_AHEAD / 2)))
		__builtin_prefetch(head_of(t, c->cookie), 1);
	if ((c = retain_ahead(&t->retained, RETAIN_AHEAD)))
		for (size_t off = 0; off < sizeof(*c); off += 64)
			__builtin_prefetch((const char *)c + off, 1);
}

/* The oldest retained connection leaves (by count or age). */
static void evict(struct tw_conntable *t, struct tw_conn *oldest)
{
	conntable_remove(t, oldest);
	t->evicted++;
	prefetch_victims(t);
}

void conntable_retire(struct tw_conntable *t, struct tw_conn *c, uint64_t now_ns)
{
	struct tw_conn *oldest;

	if (c->flags & TW_CONN_CLOSED)
		return;
	if (retain_full(&t->retained) && retain_make_room(&t->retained) < 0) {
		/* No memory for a longer queue: the oldest makes room. */
		t->alloc_failures++;
		if ((oldest = retain_oldest(&t->retained)))
			evict(t, oldest);
		if (retain_full(&t->retained))
			return; /* nowhere to go: it stays live */
	}
	c->flags |= TW_CONN_CLOSED;
	conn_set_closed_ns(c, now_ns);
	retain_push(&t->retained, c);
	t->live--;
	conntable_update_listener(t, c);
	/* Over the count bound, the oldest goes now rather than on the next
	 * timer: under churn its record is reused at once, while it is still
	 * in cache, by the next connection. */
	while (t->retained.count > t->limits.retain_count &&
	       (oldest = retain_oldest(&t->retained)) != c)
		evict(t, oldest);
}

void conntable_revive(struct tw_conntable *t, struct tw_conn *c)
{
	if (!(c->flags & TW_CONN_CLOSED))
		return;
	retain_unlink(&t->retained, c);
	c->flags &= ~TW_CONN_CLOSED;
	conn_set_closed_ns(c, 0);
	t->live++;
}

void conntable_remove(struct tw_conntable *t, struct tw_conn *c)
{
	struct tw_link *l = head_of(t, c->cookie), *prev = NULL;

	for (; link_to(l) != c; prev = l, l = &link_to(l)->next)
		if (!link_to(l))
			return; /* not ours */
	*l = c->next;
	/* The one before may have lost its only follower. */
	if (prev && !link_to(l))
		prev->to &= ~(uintptr_t)1;
	if (c->flags & TW_CONN_LISTENER_REC)
		listen_index_remove(&t->listeners, c);
	conntable_unindex_ports(t, c);
	if (c->flags & (TW_CONN_TUPLE_INDEXED | TW_CONN_HAS_DROPS))
		conntable_forget_side_entries(t, c);
	if (c->flags & TW_CONN_CLOSED) {
		/* Counted as it leaves retention: its end reason is final by
		 * then (a RST event may correct it just after the close). */
		t->totals.closed[c->role < TW_TOTAL_ROLES ? c->role : 0]
				[c->end_reason < TW_TOTAL_ENDS ? c->end_reason : 0]++;
		if (c->handshake_us && c->role != TW_ROLE_LISTENER &&
		    histo_add_lazy(&t->totals.h[TW_TOTAL_HANDSHAKE], c->handshake_us) < 0)
			t->alloc_failures++;
		retain_unlink(&t->retained, c);
	} else {
		t->live--;
	}
	if (c->flags & TW_CONN_REQUEST)
		t->requests_live--;
	t->count--;
	if (c->hist_len > TW_HIST_INLINE)
		t->hist_bytes -= (size_t)c->hist_heap.cap * sizeof(*c->hist_heap.v);
	conn_release(t, c);
}

size_t conntable_expire(struct tw_conntable *t, uint64_t now_ns)
{
	size_t dropped = 0;
	struct tw_conn *oldest;

	while ((oldest = retain_oldest(&t->retained)) &&
	       (t->retained.count > t->limits.retain_count ||
		(now_ns > conn_closed_ns(oldest) &&
		 now_ns - conn_closed_ns(oldest) > t->limits.retain_age_ns))) {
		evict(t, oldest);
		dropped++;
	}
	return dropped;
}

/* --- listener index (listeners.c) --- */

void conntable_index_listener(struct tw_conntable *t, struct tw_conn *c, bool want)
{
	if (!want) {
		listen_index_unkey(&t->listeners, c);
		c->flags &= ~TW_CONN_LISTEN_INDEXED;
	} else if (listen_index_add(&t->listeners, c, c->last_change_ns)) {
		c->flags |= TW_CONN_LISTEN_INDEXED | TW_CONN_LISTENER_REC;
	}
}

struct tw_listener *conntable_listener(struct tw_conntable *t, uint64_t cookie)
{
	return listen_index_get(&t->listeners, cookie);
}

void conntable_foreach_listener(struct tw_conntable *t,
				void (*fn)(struct tw_listener *l, void *data), void *data)
{
	listen_index_foreach(&t->listeners, fn, data);
}

void conntable_count_alloc_failure(struct tw_conntable *t)
{
	t->alloc_failures++;
}

struct tw_conn *conntable_find_listener(struct tw_conntable *t, uint32_t netns, int family,
					const uint8_t addr[16], uint16_t port)
{
	return listen_index_find(&t->listeners, netns, family, addr, port);
}

uint64_t conntable_listener_steps(struct tw_conntable *t)
{
	return t->listeners.steps;
}

/* --- iteration and statistics --- */

/*
 * Walks go by position: a bucket, or while the table doubles an old
 * bucket's index, which holds that old bucket's records wherever they are
 * (the old bucket, or the two new ones it split into). A doubling's steps
 * move records only within a position, so a cursor over positions neither
 * misses nor repeats any; the count of positions changes once, when the
 * doubling ends (a cursor starts over then, as on any growth).
 */
static inline void visit_chain(const struct tw_link *l, void (*fn)(struct tw_conn *c, void *data),
			       void *data)
{
	for (struct tw_conn *c = link_to(l); c; c = link_to(&c->next))
		fn(c, data);
}

size_t conntable_foreach_buckets(struct tw_conntable *t, size_t from, size_t n,
				 void (*fn)(struct tw_conn *c, void *data), void *data)
{
	size_t count = conntable_bucket_count(t);
	size_t end = from < count && n < count - from ? from + n : count;

	for (size_t i = from; i < end; i++) {
		if (!t->old) {
			visit_chain(&t->buckets[i], fn, data);
		} else if (i >= t->mig) {
			visit_chain(&t->old[i], fn, data);
		} else {
			visit_chain(&t->buckets[i], fn, data);
			visit_chain(&t->buckets[i + t->old_cap], fn, data);
		}
	}
	return end;
}

void conntable_foreach(struct tw_conntable *t, void (*fn)(struct tw_conn *c, void *data),
		       void *data)
{
	conntable_foreach_buckets(t, 0, SIZE_MAX, fn, data);
}

size_t conntable_bucket_count(const struct tw_conntable *t)
{
	return t->old ? t->old_cap : t->cap;
}

int conntable_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct cookies_where {
	bool (*keep)(const struct tw_conn *c, const void *ctx);
	const void *ctx;
	uint64_t *v;
	size_t n;
};

static void keep_cookie(struct tw_conn *c, void *data)
{
	struct cookies_where *w = data;

	if (!w->keep || w->keep(c, w->ctx))
		w->v[w->n++] = c->cookie;
}

uint64_t *conntable_cookies_where(struct tw_conntable *t,
				  bool (*keep)(const struct tw_conn *c, const void *ctx),
				  const void *ctx, size_t *ret_count)
{
	struct cookies_where w = {
		.keep = keep, .ctx = ctx, .v = malloc((t->count ? t->count : 1) * sizeof(*w.v))};
	uint64_t *v = w.v;
	size_t n;

	if (!v)
		return NULL;
	conntable_foreach(t, keep_cookie, &w);
	n = w.n;
	qsort(v, n, sizeof(*v), conntable_cmp_u64);
	*ret_count = n;
	return v;
}

uint64_t *conntable_sorted_cookies(struct tw_conntable *t, size_t *ret_count)
{
	return conntable_cookies_where(t, NULL, NULL, ret_count);
}

void conntable_get_stats(struct tw_conntable *t, struct tw_conntable_stats *ret)
{
	ret->live = t->live;
	ret->retained = t->retained.count;
	ret->listeners = t->listeners.keyed;
	ret->refused_full = t->refused_full;
	ret->requests = t->requests_live;
	ret->requests_refused = t->requests_refused;
	ret->evicted = t->evicted;
	ret->history_dropped = t->history_dropped;
	ret->drop_entries_elided = t->drop_entries_elided;
	ret->alloc_failures = t->alloc_failures + t->listeners.alloc_failures;
	ret->bytes =
		slab_bytes(t->records) + (t->cap + t->old_cap) * sizeof(*t->buckets) +
		retain_bytes(&t->retained) + t->hist_bytes + listen_index_bytes(&t->listeners) +
		u64map_bytes(&t->requests) + u64map_bytes(&t->drop_map) +
		t->drop_map.count * sizeof(struct tw_drop_counts) +
		(t->port_heads[0] ? TW_PORT_SIDES * TW_PORT_HEADS * sizeof(*t->port_heads[0]) : 0);
}

size_t conntable_live(const struct tw_conntable *t)
{
	return t->live;
}

void conntable_set_retention(struct tw_conntable *t, uint32_t count, uint64_t age_ns)
{
	t->limits.retain_count = count;
	t->limits.retain_age_ns = age_ns;
}

const struct tw_conntable_limits *conntable_limits(struct tw_conntable *t)
{
	return &t->limits;
}

void conntable_report(struct tw_conntable *t, struct tw_stats *s)
{
	struct tw_conntable_stats ts;

	conntable_get_stats(t, &ts);
	stats_gauge(s, "connections_live", ts.live);
	stats_gauge(s, "connections_retained", ts.retained);
	stats_gauge(s, "listeners", ts.listeners);
	stats_counter(s, "connections_refused", ts.refused_full);
	stats_gauge(s, "half_opens", ts.requests);
	stats_counter(s, "half_opens_refused", ts.requests_refused);
	stats_counter(s, "connections_evicted", ts.evicted);
	stats_counter(s, "history_dropped", ts.history_dropped);
	stats_counter(s, "drop_entries_elided", ts.drop_entries_elided);
	stats_counter(s, "table_alloc_failures", ts.alloc_failures);
	stats_gauge(s, "table_bytes", ts.bytes);
	stats_gauge(s, "port_index", t->port_index_on);
	stats_counter(s, "port_index_build_steps", t->port_build_steps);
}

void conntable_note_gap(struct tw_conntable *t, uint64_t start_ns, uint64_t end_ns)
{
	gaps_note(&t->gaps, start_ns, end_ns);
}

bool conntable_history_gap(const struct tw_conntable *t, const struct tw_conn *c, uint64_t now_ns)
{
	if (!t->gaps.n && !t->gaps.forgotten_end_ns)
		return false;
	return gaps_overlap(&t->gaps, c->first_seen_ns,
			    c->flags & TW_CONN_CLOSED ? conn_closed_ns(c) : now_ns);
}
