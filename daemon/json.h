/*
 * JSON encoders: one per object, used by every endpoint, so a field has
 * one name everywhere. They write into a growable buffer instead of
 * building a cJSON tree: a listing of 100,000 connections must stream
 * without an allocation per field.
 */
#ifndef TCPWATCH_JSON_H
#define TCPWATCH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

struct tw_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* an append failed; the content is truncated */
};

void buf_init(struct tw_buf *b);
void buf_free(struct tw_buf *b);
void buf_reset(struct tw_buf *b);
void buf_put(struct tw_buf *b, const char *s, size_t n);
void buf_puts(struct tw_buf *b, const char *s);
void buf_printf(struct tw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A JSON string literal, escaped. NULL is written as null. */
void json_string(struct tw_buf *b, const char *s);

/* ,"key":"value" (value escaped; NULL written as null). */
void json_string_field(struct tw_buf *b, const char *key, const char *value);

/* Converts CLOCK_MONOTONIC times to wall-clock for output. */
struct tw_clock {
	int64_t mono_to_wall_ns;
	uint64_t now_mono_ns;
};
void clock_sample(struct tw_clock *clk);
uint64_t clock_mono_ns(void);

enum json_conn_view {
	JSON_CONN_ROW,    /* listing row: identity, endpoints, state, owner, timings */
	JSON_CONN_FULL,   /* plus tcp_info and the history */
};
void json_conn(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
	       enum json_conn_view view);

/* One history entry of a connection as a live event (/api/v1/events):
 * the entry's fields and the connection's endpoints, flat. */
void json_event(struct tw_buf *b, const struct tw_conn *c, const struct tw_hist *h,
		const struct tw_clock *clk);

/* {"error": message, "status": status} */
void json_error(struct tw_buf *b, int status, const char *message);

/* RFC 3339 UTC with microseconds into out (at least 32 bytes). */
void format_rfc3339(uint64_t wall_ns, char *out, size_t len);

#endif
