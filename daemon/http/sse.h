/*
 * GET /api/v1/events: server-sent events, one per history entry. Each
 * stream has its own filter and a bounded queue; a reader too slow to
 * keep up loses events, and is told how many (event: lost).
 */
#ifndef TCPWATCH_SSE_H
#define TCPWATCH_SSE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "clock.h"
#include "conntable.h"
#include "stats.h"

/* Unread bytes one event stream may hold. Its queue's memory is bounded
 * by four times this (see struct sse_watcher). */
#define SSE_QUEUE_MAX (1024 * 1024)

struct sse_watcher;

struct tw_sse {
	struct sse_watcher *watchers;
	uint32_t n, max;    /* streams open; max-watchers, per door */
	uint32_t n_door[2]; /* of them on TCP [0] and on the Unix socket [1] */
	uint64_t dropped;   /* events readers missed, all streams, all time */
	uint64_t opened;    /* streams opened, all time */
	uint64_t refused;   /* streams refused by max-watchers */
	/* A stream was resumed since MHD last ran: MHD_get_timeout() does not
	 * count resumed connections, so the loop must run it at once. */
	bool resumed;
	/* An event's text, its memory kept from one to the next, and the
	 * clock sampled once per loop iteration (iteration + 1; 0: never). */
	struct tw_buf scratch;
	struct tw_clock clk;
	uint64_t clk_turn;
};

struct tw_http;

void sse_init(struct tw_sse *s, uint32_t max_watchers);
/* Opens a stream on conn (its query is a connection filter). */
enum MHD_Result sse_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest);
/* turn: the loop iteration (events of one share a clock sample). */
void sse_publish(struct tw_sse *s, const struct tw_conn *c, uint32_t hist_index, uint64_t turn);
/* Frees what sse_publish keeps (the streams end with their connections). */
void sse_fini(struct tw_sse *s);
void sse_ping(struct tw_sse *s);
/* Wakes every suspended stream: libmicrohttpd must not stop with one. */
void sse_resume_all(struct tw_sse *s);
void sse_report(const struct tw_sse *s, struct tw_stats *st);

#endif
