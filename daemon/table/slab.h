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

/* Bytes of chunks held (what the slab costs in memory, at most). */
size_t slab_bytes(const struct tw_slab *s);
/* Objects allocated now. */
size_t slab_in_use(const struct tw_slab *s);

#endif
