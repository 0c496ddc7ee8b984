/*
 * A growable byte buffer for replies. Appends never fail loudly: when
 * memory runs out the buffer is marked oom and further appends are
 * ignored, so an encoder writes its whole object and the caller checks
 * once at the end.
 */
#ifndef TCPWATCH_BUF_H
#define TCPWATCH_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tw_buf {
	char *data; /* NUL-terminated while len > 0 */
	size_t len;
	size_t cap;
	bool oom; /* an append failed; the content is truncated */
};

void buf_init(struct tw_buf *b);
/* Frees the memory; the buffer is empty and usable again. Accepts a
 * buffer that was only initialised. */
void buf_free(struct tw_buf *b);
/* Empties the buffer, keeping its memory, and clears oom. */
void buf_reset(struct tw_buf *b);
/* Room for n more bytes (and a NUL): false, and oom set, if it cannot
 * grow. */
bool buf_reserve(struct tw_buf *b, size_t n);
void buf_put(struct tw_buf *b, const char *s, size_t n);
void buf_puts(struct tw_buf *b, const char *s);
void buf_printf(struct tw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* v in decimal, as "%llu" prints it, without printf's cost. */
void buf_put_u64(struct tw_buf *b, uint64_t v);
/* A string literal, its length known at compile time. */
#define BUF_LIT(b, lit) buf_put((b), "" lit, sizeof(lit) - 1)
/* Removes the first n bytes (n <= len), moving the rest to the front. */
void buf_drop_front(struct tw_buf *b, size_t n);

#endif
