/*
 * Fixed-size objects carved from 2 MiB chunks: the connection table's
 * records.
 *
 * Why not malloc: under churn the table touches a few hundred thousand
 * records spread over tens of megabytes, most of them once when they are
 * created and once when they leave retention, long after. With malloc's
 * 4 KiB pages every such touch was also a TLB miss (a nested page walk in
 * a VM), and its 16-byte alignment spread a 320-byte record over six
 * cache lines instead of five. Chunks are 2 MiB-aligned and advised for
 * transparent huge pages, objects are cache-line aligned, and an emptied
 * chunk is returned to the system as soon as another one has room.
 *
 * The most recently freed object is handed out next: under churn it is
 * the one still in cache.
 */
#ifndef TCPWATCH_SLAB_H
#define TCPWATCH_SLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_SLAB_CHUNK (2u << 20)

struct tw_slab;

/* A slab of objects of size bytes (rounded up to 64), at most a chunk's
 * worth each. NULL on allocation failure or a bad size. */
struct tw_slab *slab_new(size_t size);
/* Frees every chunk, whatever is still allocated. */
void slab_free(struct tw_slab *s);

/* An object, zeroed. NULL when memory ran out. */
void *slab_alloc(struct tw_slab *s);
/* Gives an object back. */
void slab_release(struct tw_slab *s, void *obj);

/*
 * A handle: an object's name in 32 bits, for links between objects that
 * would cost 8 bytes as pointers. The chunk's number (1 to
 * TW_SLAB_MAX_CHUNKS) above TW_SLAB_SLOT_BITS, the object's slot below, so
 * a handle is never 0 nor UINT32_MAX. Valid while the object is allocated.
 */
#define TW_SLAB_SLOT_BITS  16
#define TW_SLAB_MAX_CHUNKS 65534u
uint32_t slab_handle(const struct tw_slab *s, const void *obj);
void *slab_at(const struct tw_slab *s, uint32_t handle);

/*
 * A tag: a byte per object kept apart from it, in its chunk's first lines,
 * so a scan for a few kinds of object reads the tags, a byte each, and
 * only the objects it wants. 0 while the slot is free, 1 when handed out;
 * the rest is the caller's (2 to 31).
 */
uint8_t *slab_tag(const struct tw_slab *s, const void *obj);
/* Calls fn for each allocated object whose tag's bit is set in tags, in
 * the order of their handles, from *cursor (0: the start), visiting at
 * most max_slots slots; *cursor is then where to go on. True once the
 * end is reached. An object allocated throughout a scan is visited
 * once, whatever else comes and goes; fn must not allocate or release. */
bool slab_scan(const struct tw_slab *s, uint32_t *cursor, uint32_t tags,
	       void (*fn)(void *obj, void *data), void *data, uint32_t max_slots);
/* Objects a chunk holds. */
uint32_t slab_per_chunk(const struct tw_slab *s);

/* Bytes of chunks held (what the slab costs in memory, at most). */
size_t slab_bytes(const struct tw_slab *s);
/* Objects allocated now. */
size_t slab_in_use(const struct tw_slab *s);

#endif
