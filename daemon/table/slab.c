#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
	bool in_room;
};

_Static_assert(sizeof(struct chunk) <= LINE, "chunk header is one cache line");

struct tw_slab {
	size_t size;   /* what callers asked for */
	size_t stride; /* size rounded up to a cache line */
	uint32_t per_chunk;
	struct chunk *room; /* chunks with a free slot, most recent first */
	struct chunk *all;
	struct chunk *cur; /* where the last object was released: still cached */
	size_t n_chunks, n_room, in_use;
};

struct tw_slab *slab_new(size_t size)
{
	struct tw_slab *s;
	size_t stride = (size + LINE - 1) & ~(size_t)(LINE - 1);

	if (!size || stride > TW_SLAB_CHUNK - LINE)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->size = size;
	s->stride = stride;
	s->per_chunk = (uint32_t)((TW_SLAB_CHUNK - LINE) / stride);
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

/* A 2 MiB-aligned chunk: map twice the size, keep the aligned middle. */
static struct chunk *chunk_new(struct tw_slab *s)
{
	size_t len = 2 * (size_t)TW_SLAB_CHUNK;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *base;
	struct chunk *k;

	if (p == MAP_FAILED)
		return NULL;
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
	POISON(base + LINE, TW_SLAB_CHUNK - LINE);
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
	UNPOISON((uint8_t *)k + LINE, TW_SLAB_CHUNK - LINE);
	munmap(k, TW_SLAB_CHUNK);
}

void slab_free(struct tw_slab *s)
{
	if (!s)
		return;
	while (s->all)
		chunk_drop(s, s->all);
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
		obj = (uint8_t *)k + LINE + (size_t)k->carved++ * s->stride;
		UNPOISON(obj, s->size);
	}
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

size_t slab_bytes(const struct tw_slab *s)
{
	return s->n_chunks * (size_t)TW_SLAB_CHUNK;
}

size_t slab_in_use(const struct tw_slab *s)
{
	return s->in_use;
}
