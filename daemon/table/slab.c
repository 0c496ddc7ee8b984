#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "slab.h"

#define LINE 64

/* Under AddressSanitizer, what is not handed out is poisoned: a use after
 * release or past an object's end is reported as with malloc. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* At the start of every chunk, one cache line. */
struct chunk {
	struct chunk *room_prev, *room_next; /* chunks with a free slot */
	struct chunk *all_prev, *all_next;
	void *free;      /* released objects, linked through their first word */
	uint32_t used;   /* objects handed out */
	uint32_t carved; /* slots handed out at least once */
	uint32_t id;     /* its place in by_id: a handle's upper half */
	bool in_room;
};

_Static_assert(sizeof(struct chunk) <= LINE, "chunk header is one cache line");

struct tw_slab {
	size_t size;   /* what callers asked for */
	size_t stride; /* size rounded up to a cache line */
	uint32_t per_chunk;
	size_t objs;        /* a chunk's first object: after the header and a
			     * tag byte per slot (slab_tag), whole lines */
	struct chunk *room; /* chunks with a free slot, most recent first */
	struct chunk *all;
	struct chunk *cur;    /* where the last object was released: still cached */
	struct chunk **by_id; /* by_id[k->id] == k; [0] unused, NULL where free */
	uint32_t ids;         /* by_id's length */
	size_t n_chunks, n_room, in_use;
};

static size_t round_line(size_t n)
{
	return (n + LINE - 1) & ~(size_t)(LINE - 1);
}

struct tw_slab *slab_new(size_t size)
{
	struct tw_slab *s;
	size_t stride = (size + LINE - 1) & ~(size_t)(LINE - 1);

	if (!size || stride > TW_SLAB_CHUNK - LINE ||
	    (TW_SLAB_CHUNK - LINE) / stride > (1u << TW_SLAB_SLOT_BITS))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	/* Room for 15 chunks' numbers (30 MiB of objects) from the start:
	 * then a slab's first objects never wait for an allocation. */
	s->ids = 16;
	s->by_id = calloc(s->ids, sizeof(*s->by_id));
	if (!s->by_id) {
		free(s);
		return NULL;
	}
	s->size = size;
	s->stride = stride;
	s->per_chunk = (uint32_t)((TW_SLAB_CHUNK - LINE) / (stride + 1));
	while (LINE + round_line(s->per_chunk) + (size_t)s->per_chunk * stride > TW_SLAB_CHUNK)
		s->per_chunk--;
	s->objs = LINE + round_line(s->per_chunk);
	return s;
}

static struct chunk *chunk_of(const void *obj)
{
	return (struct chunk *)((uintptr_t)obj & ~(uintptr_t)(TW_SLAB_CHUNK - 1));
}

static bool has_room(const struct tw_slab *s, const struct chunk *k)
{
	return k->free || k->carved < s->per_chunk;
}

static void room_add(struct tw_slab *s, struct chunk *k)
{
	k->room_prev = NULL;
	k->room_next = s->room;
	if (s->room)
		s->room->room_prev = k;
	s->room = k;
	k->in_room = true;
	s->n_room++;
}

static void room_remove(struct tw_slab *s, struct chunk *k)
{
	if (k->room_prev)
		k->room_prev->room_next = k->room_next;
	else
		s->room = k->room_next;
	if (k->room_next)
		k->room_next->room_prev = k->room_prev;
	k->in_room = false;
	s->n_room--;
}

/* A free place in by_id (grown if need be), or 0: none (no memory, or
 * TW_SLAB_MAX_CHUNKS of them). Chunks come and go rarely: a scan will do. */
static uint32_t chunk_id(struct tw_slab *s)
{
	struct chunk **n;
	uint32_t i, len;

	for (i = 1; i < s->ids; i++)
		if (!s->by_id[i])
			return i;
	i = s->ids ? s->ids : 1; /* the first of the new places */
	len = s->ids ? s->ids * 2 : 16;
	if (len > TW_SLAB_MAX_CHUNKS + 1)
		len = TW_SLAB_MAX_CHUNKS + 1;
	if (i >= len)
		return 0;
	n = realloc(s->by_id, len * sizeof(*n));
	if (!n)
		return 0;
	memset(n + s->ids, 0, (len - s->ids) * sizeof(*n));
	s->by_id = n;
	s->ids = len;
	return i;
}

/* A 2 MiB-aligned chunk: map twice the size, keep the aligned middle. */
static struct chunk *chunk_new(struct tw_slab *s)
{
	size_t len = 2 * (size_t)TW_SLAB_CHUNK;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *base;
	struct chunk *k;
	uint32_t id;

	if (p == MAP_FAILED)
		return NULL;
	id = chunk_id(s);
	if (!id) {
		munmap(p, len);
		return NULL;
	}
	base = (uint8_t *)(((uintptr_t)p + TW_SLAB_CHUNK - 1) & ~(uintptr_t)(TW_SLAB_CHUNK - 1));
	if (base > p)
		munmap(p, (size_t)(base - p));
	if (base + TW_SLAB_CHUNK < p + len)
		munmap(base + TW_SLAB_CHUNK, (size_t)(p + len - (base + TW_SLAB_CHUNK)));
	/* Without transparent huge pages this fails or is ignored: still a
	 * working chunk of small pages. */
	madvise(base, TW_SLAB_CHUNK, MADV_HUGEPAGE);
	k = (struct chunk *)base;
	memset(k, 0, sizeof(*k));
	k->id = id;
	s->by_id[id] = k;
	POISON(base + s->objs, TW_SLAB_CHUNK - s->objs);
	k->all_next = s->all;
	if (s->all)
		s->all->all_prev = k;
	s->all = k;
	s->n_chunks++;
	room_add(s, k);
	return k;
}

static void chunk_drop(struct tw_slab *s, struct chunk *k)
{
	if (k->in_room)
		room_remove(s, k);
	if (k->all_prev)
		k->all_prev->all_next = k->all_next;
	else
		s->all = k->all_next;
	if (k->all_next)
		k->all_next->all_prev = k->all_prev;
	if (s->cur == k)
		s->cur = NULL;
	s->n_chunks--;
	s->by_id[k->id] = NULL;
	UNPOISON((uint8_t *)k + s->objs, TW_SLAB_CHUNK - s->objs);
	munmap(k, TW_SLAB_CHUNK);
}

void slab_free(struct tw_slab *s)
{
	if (!s)
		return;
	while (s->all)
		chunk_drop(s, s->all);
	free(s->by_id);
	free(s);
}

void *slab_alloc(struct tw_slab *s)
{
	struct chunk *k = s->cur;
	void *obj;

	if (!k || !has_room(s, k)) {
		k = s->room ? s->room : chunk_new(s);
		if (!k)
			return NULL;
		s->cur = k;
	}
	if (k->free) {
		obj = k->free;
		UNPOISON(obj, s->size);
		memcpy(&k->free, obj, sizeof(k->free));
	} else {
		obj = (uint8_t *)k + s->objs + (size_t)k->carved++ * s->stride;
		UNPOISON(obj, s->size);
	}
	*slab_tag(s, obj) = 1;
	k->used++;
	s->in_use++;
	if (!has_room(s, k))
		room_remove(s, k);
	memset(obj, 0, s->size);
	return obj;
}

void slab_release(struct tw_slab *s, void *obj)
{
	struct chunk *k;

	if (!obj)
		return;
	k = chunk_of(obj);
	*slab_tag(s, obj) = 0;
	memcpy(obj, &k->free, sizeof(k->free));
	POISON(obj, s->stride);
	k->free = obj;
	k->used--;
	s->in_use--;
	if (!k->in_room)
		room_add(s, k);
	s->cur = k;
	/* Empty, and another chunk has room: give it back. */
	if (k->used == 0 && s->n_room > 1)
		chunk_drop(s, k);
}

uint32_t slab_handle(const struct tw_slab *s, const void *obj)
{
	const struct chunk *k = chunk_of(obj);
	size_t slot = (size_t)((const uint8_t *)obj - ((const uint8_t *)k + s->objs)) / s->stride;

	return k->id << TW_SLAB_SLOT_BITS | (uint32_t)slot;
}

void *slab_at(const struct tw_slab *s, uint32_t handle)
{
	struct chunk *k = s->by_id[handle >> TW_SLAB_SLOT_BITS];

	return (uint8_t *)k + s->objs +
	       (size_t)(handle & ((1u << TW_SLAB_SLOT_BITS) - 1)) * s->stride;
}

uint8_t *slab_tag(const struct tw_slab *s, const void *obj)
{
	struct chunk *k = chunk_of(obj);
	size_t slot = (size_t)((const uint8_t *)obj - ((const uint8_t *)k + s->objs)) / s->stride;

	return (uint8_t *)k + LINE + slot;
}

/* At most this many tags asked for: 64 slots at a time, else one by one. */
#define SCAN_BLOCK_TAGS 4
#define SCAN_BLOCK      64
/* A block of 64 tags costs the budget this many slots (and each object
 * visited one more). */
#define SCAN_BLOCK_COST 8

/* Sixteen tags at a time: SSE2's pcmpeqb and pmovmskb, or the same in
 * the compiler's vectors. want[] holds each tag asked for, in every byte. */
#ifdef __SSE2__
typedef __m128i tags16;

static inline void tags16_set(tags16 *v, uint8_t tag)
{
	*v = _mm_set1_epi8((char)tag);
}

/* Bit i set: tag i of the 64 at p (64-byte aligned) is one of want[]
 * (nwant of them, at least one). */
static inline uint64_t block_hits(const uint8_t *p, const tags16 *want, int nwant)
{
	const __m128i *q = (const __m128i *)(const void *)p;
	__m128i v0 = _mm_load_si128(q), v1 = _mm_load_si128(q + 1), v2 = _mm_load_si128(q + 2),
		v3 = _mm_load_si128(q + 3);
	__m128i a0 = _mm_cmpeq_epi8(v0, want[0]), a1 = _mm_cmpeq_epi8(v1, want[0]),
		a2 = _mm_cmpeq_epi8(v2, want[0]), a3 = _mm_cmpeq_epi8(v3, want[0]);

	for (int i = 1; i < nwant; i++) {
		a0 = _mm_or_si128(a0, _mm_cmpeq_epi8(v0, want[i]));
		a1 = _mm_or_si128(a1, _mm_cmpeq_epi8(v1, want[i]));
		a2 = _mm_or_si128(a2, _mm_cmpeq_epi8(v2, want[i]));
		a3 = _mm_or_si128(a3, _mm_cmpeq_epi8(v3, want[i]));
	}
	return (uint64_t)(uint16_t)_mm_movemask_epi8(a0) |
	       (uint64_t)(uint16_t)_mm_movemask_epi8(a1) << 16 |
	       (uint64_t)(uint16_t)_mm_movemask_epi8(a2) << 32 |
	       (uint64_t)(uint16_t)_mm_movemask_epi8(a3) << 48;
}
#else
typedef uint8_t tags16 __attribute__((vector_size(16)));
typedef int8_t hits16 __attribute__((vector_size(16)));

static inline void tags16_set(tags16 *v, uint8_t tag)
{
	for (int k = 0; k < 16; k++)
		(*v)[k] = tag;
}

static inline uint64_t block_hits(const uint8_t *p, const tags16 *want, int nwant)
{
	tags16 v[SCAN_BLOCK / 16];
	hits16 acc[SCAN_BLOCK / 16] = {{0}};
	uint64_t m = 0;

	memcpy(v, p, sizeof(v));
	for (int i = 0; i < nwant; i++)
		for (int k = 0; k < SCAN_BLOCK / 16; k++)
			acc[k] |= (hits16)(v[k] == want[i]);
	for (int k = 0; k < SCAN_BLOCK / 16; k++)
		for (int j = 0; j < 16; j++)
			m |= (uint64_t)(acc[k][j] & 1) << (16 * k + j);
	return m;
}
#endif

bool slab_scan(const struct tw_slab *s, uint32_t *cursor, uint32_t tags,
	       void (*fn)(void *obj, void *data), void *data, uint32_t max_slots)
{
	uint32_t id = *cursor >> TW_SLAB_SLOT_BITS,
		 slot = *cursor & ((1u << TW_SLAB_SLOT_BITS) - 1);
	tags16 want[SCAN_BLOCK_TAGS];
	int nwant = -1; /* -1: one by one */

	tags &= ~1u; /* a free slot is never an object to visit */
	/* A few tags (a query for one or two states): 64 tags at a time,
	 * only the objects with those visited, a megabyte of tags in some
	 * 65 microseconds here (a byte at a time: 280). */
	if (!tags) {
		*cursor = s->ids << TW_SLAB_SLOT_BITS;
		return true; /* nothing to visit */
	}
	if (__builtin_popcount(tags) <= SCAN_BLOCK_TAGS) {
		nwant = 0;
		for (uint8_t v = 0; v < 32; v++)
			if (tags >> v & 1)
				tags16_set(&want[nwant++], v);
	}
	if (!id)
		id = 1;
	for (; id < s->ids; id++, slot = 0) {
		const struct chunk *k = s->by_id[id];
		const uint8_t *tag, *objs;
		uint32_t end;

		if (!k)
			continue;
		tag = (const uint8_t *)k + LINE;
		objs = (const uint8_t *)k + s->objs;
		end = k->carved;
		while (slot < end) {
			if (!max_slots) {
				*cursor = id << TW_SLAB_SLOT_BITS | slot;
				return false;
			}
			if (nwant >= 0 && !(slot % SCAN_BLOCK) && slot + SCAN_BLOCK <= end) {
				uint64_t m;
				uint32_t n;

				if (max_slots < SCAN_BLOCK_COST) {
					*cursor = id << TW_SLAB_SLOT_BITS | slot;
					return false;
				}
				/* (No popcount: without -mpopcnt it is a call.) */
				n = SCAN_BLOCK_COST;
				for (m = block_hits(tag + slot, want, nwant); m; m &= m - 1, n++)
					fn((uint8_t *)objs +
						   (size_t)(slot + (uint32_t)__builtin_ctzll(m)) *
							   s->stride,
					   data);
				max_slots = max_slots > n ? max_slots - n : 0;
				slot += SCAN_BLOCK;
				continue;
			}
			max_slots--;
			if (tags >> (tag[slot] & 31) & 1)
				fn((uint8_t *)objs + (size_t)slot * s->stride, data);
			slot++;
		}
	}
	*cursor = id << TW_SLAB_SLOT_BITS;
	return true;
}

uint32_t slab_per_chunk(const struct tw_slab *s)
{
	return s->per_chunk;
}

size_t slab_bytes(const struct tw_slab *s)
{
	return s->n_chunks * (size_t)TW_SLAB_CHUNK;
}

size_t slab_in_use(const struct tw_slab *s)
{
	return s->in_use;
}
