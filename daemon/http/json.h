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

#include "buf.h"
#include "clock.h"
#include "conntable.h"
#include "findings.h"
#include "nsstat.h"
#include "stats.h"

/* A JSON string literal, escaped. NULL is written as null. */
void json_string(struct tw_buf *b, const char *s);

/* ,"key":"value" (value escaped; NULL written as null). */
void json_string_field(struct tw_buf *b, const char *key, const char *value);

enum json_conn_view {
	JSON_CONN_ROW,  /* listing row: identity, endpoints, state, owner, timings */
	JSON_CONN_FULL, /* plus tcp_info and the history */
};
/* drops: its counts by reason (FULL view; NULL: none). */
void json_conn(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
	       enum json_conn_view view, const struct tw_drop_counts *drops);
/* The same, with "history_gap": events may be missing from its history
 * (conntable_history_gap). json_conn says false. */
void json_conn_gap(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
		   enum json_conn_view view, const struct tw_drop_counts *drops, bool history_gap);

/* One history entry of a connection as a live event (/api/v1/events):
 * the entry's fields and the connection's endpoints, flat. */
void json_event(struct tw_buf *b, const struct tw_conn *c, uint32_t hist_index,
		const struct tw_clock *clk);

/* {"error": message, "status": status} */
void json_error(struct tw_buf *b, int status, const char *message);
/* The same, with the byte offset of a filter expression's bad token
 * ("offset"), when offset >= 0. */
void json_error_at(struct tw_buf *b, int status, const char *message, int offset);

/* {"findings":[...],"truncated":...,"thresholds":{...}} */
void json_findings(struct tw_buf *b, const struct tw_findings *f,
		   const struct tw_findings_config *cfg);

/* ,"NAME_ns":N,"NAME":"RFC 3339" for a CLOCK_MONOTONIC time. */
void json_time_fields(struct tw_buf *b, const char *name, const struct tw_clock *clk,
		      uint64_t mono_ns);
/* ,"key":{"REASON":n,...,"other":n} */
void json_drop_counts(struct tw_buf *b, const char *key, const struct tw_drop_counts *d);
/* ,"key":{"count","p50","p90","p99","max","min","avg"} in us (nulls when empty). */
void json_histo(struct tw_buf *b, const char *key, const struct tw_histo *h);

/* A listener (listeners.h) with its connection's identity and owner; with
 * detail also its depth history and recent half-opens (active ones from
 * the table). ns: its namespace's counters (NULL: unknown). */
void json_listener(struct tw_buf *b, struct tw_conntable *t, const struct tw_listener *l,
		   const struct tw_nsstat *ns, const struct tw_clock *clk, bool detail);

/* The daemon's figures as one object, in their order. */
void json_stats(struct tw_buf *b, const struct tw_stats *s);

#endif
