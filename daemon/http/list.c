/*
 * GET /api/v1/connections, streamed: the handler snapshots the sorted
 * cookies, and each block of the reply looks its connections up again
 * (gone ones are skipped), so the loop never stalls for a whole listing.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "query.h"
#include "text.h"

#define LIST_STREAM_BLOCK  (64 * 1024)
#define LIST_ROWS_PER_FILL 256

enum list_phase { LIST_OPEN, LIST_ROWS, LIST_CLOSE, LIST_DONE };

struct list_stream {
	struct tw_conntable *table;
	struct tw_filter filter;
	uint64_t *cookies; /* snapshot of the table, sorted: a stable order */
	size_t n, pos;
	uint64_t emitted;
	struct tw_buf pending;
	size_t pending_off;
	enum list_phase phase;
	struct tw_clock clk;
	struct list_view view;
};

static void fill_rows(struct list_stream *s, struct tw_buf *b)
{
	for (int rows = 0;
	     rows < LIST_ROWS_PER_FILL && s->pos < s->n && s->emitted < s->filter.limit;) {
		/* Looked up again: the table may have changed between two
		 * chunks; gone means skipped. */
		struct tw_conn *c = conntable_get(s->table, s->cookies[s->pos++]);

		if (!c || !filter_match(&s->filter, c))
			continue;
		if (s->view.text) {
			text_row(b, c, &s->clk, s->view.columns);
		} else {
			buf_puts(b, s->emitted ? ",\n" : "\n");
			json_conn(b, c, &s->clk, JSON_CONN_ROW, NULL);
		}
		s->emitted++;
		rows++;
	}
	if (s->pos >= s->n || s->emitted >= s->filter.limit)
		s->phase = LIST_CLOSE;
}

static void fill_pending(struct list_stream *s)
{
	struct tw_buf *b = &s->pending;

	buf_reset(b);
	s->pending_off = 0;
	switch (s->phase) {
	case LIST_OPEN:
		if (!s->view.text)
			buf_puts(b, "[");
		else if (!s->view.no_header)
			text_header(b, s->view.columns);
		s->phase = LIST_ROWS;
		break;
	case LIST_ROWS:
		fill_rows(s, b);
		break;
	case LIST_CLOSE:
		if (!s->view.text)
			buf_puts(b, "\n]\n");
		s->phase = LIST_DONE;
		break;
	case LIST_DONE:
		break;
	}
}

static ssize_t list_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct list_stream *s = cls;
	size_t n = 0;

	(void)pos;
	while (n < max) {
		size_t avail = s->pending.len - s->pending_off, k;

		if (!avail) {
			if (s->phase == LIST_DONE)
				break;
			fill_pending(s);
			if (s->pending.oom)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		k = avail < max - n ? avail : max - n;
		memcpy(out + n, s->pending.data + s->pending_off, k);
		s->pending_off += k;
		n += k;
	}
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)n;
}

static void list_free(void *cls)
{
	struct list_stream *s = cls;

	free(s->cookies);
	buf_free(&s->pending);
	free(s);
}

/* The first position after the cursor, without walking what precedes it. */
static size_t after_cursor(const uint64_t *cookies, size_t n, uint64_t after)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cookies[mid] <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

enum MHD_Result list_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest)
{
	struct list_stream *s = calloc(1, sizeof(*s));
	struct MHD_Response *r;
	struct query_error qe;
	enum MHD_Result ret;

	(void)rest;
	if (!s)
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	filter_init(&s->filter);
	if (query_parse(conn, &s->filter, &s->view, &qe)) {
		free(s);
		return http_reply_error(h, conn, qe.status, qe.message);
	}
	s->table = h->hooks.table;
	clock_sample(&s->clk);
	s->cookies = conntable_sorted_cookies(s->table, &s->n);
	if (!s->cookies) {
		free(s);
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	if (s->filter.after)
		s->pos = after_cursor(s->cookies, s->n, s->filter.after);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, LIST_STREAM_BLOCK, list_reader, s,
					      list_free);
	if (!r) {
		list_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				s->view.text ? "text/plain; charset=utf-8" : "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
