/*
 * GET /api/v1/connections, streamed: the handler snapshots the sorted
 * cookies (or, with sort=, the matching ones in that order), and each block of the reply looks its
 * connections up again (gone ones are skipped), so the loop never stalls for a whole listing.
 *
 * A filter with no port to take from the port index walks the whole
 * table. On a table of LIST_SLICED_MIN connections or more that walk is
 * done in slices (table/gather.h) while the request waits suspended
 * (http_job_start), a millisecond of a loop turn at a time, and the rows
 * come from the gathered runs merged as they are written.
 *
 * A filter with a port on such a table, before the port index is
 * complete, waits the same way for the index's build in slices
 * (conntable_port_index_step); the index then answers it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gather.h"
#include "internal.h"
#include "json.h"
#include "listsort.h"
#include "query.h"
#include "text.h"

#define LIST_STREAM_BLOCK  (64 * 1024)
#define LIST_ROWS_PER_FILL 256
/* Below this a scan takes a few milliseconds at most: done at once. */
#define LIST_SLICED_MIN 16384
/* Up to this many rows known (an index's answer, most often one or a
 * few) the reply is formatted at once and sent with its length: one
 * write of headers and body, where a stream is a write for the headers,
 * one per chunk and one for its end, each a segment the client wakes for. */
#define LIST_BUFFERED_ROWS 64

enum list_phase { LIST_OPEN, LIST_ROWS, LIST_CLOSE, LIST_DONE };

struct list_stream {
	struct tw_conntable *table;
	struct tw_filter filter;
	uint64_t *cookies; /* snapshot of the table, sorted: a stable order */
	size_t n, pos;
	struct tw_gather *g; /* instead of cookies: a scan in slices, its runs */
	bool wait_index;     /* a job waits for the port index's build */
	uint64_t emitted;
	struct tw_buf pending;
	size_t pending_off;
	enum list_phase phase;
	struct tw_clock clk;
	struct list_view view;
};

static bool next_cookie(struct list_stream *s, uint64_t *ret)
{
	if (s->g)
		return gather_next(s->g, ret);
	if (s->pos >= s->n)
		return false;
	*ret = s->cookies[s->pos++];
	return true;
}

static void fill_rows(struct list_stream *s, struct tw_buf *b)
{
	bool more = true;

	for (int rows = 0; rows < LIST_ROWS_PER_FILL && s->emitted < s->filter.limit;) {
		struct tw_conn *c;
		uint64_t cookie;

		more = next_cookie(s, &cookie);
		if (!more)
			break;
		/* Looked up again: the table may have changed between two
		 * chunks; gone means skipped. */
		c = conntable_get(s->table, cookie);
		if (!c || !filter_match(&s->filter, c))
			continue;
		if (s->view.text) {
			text_row(b, c, &s->clk, s->view.columns);
		} else {
			buf_puts(b, s->emitted ? ",\n" : "\n");
			json_conn_gap(b, c, &s->clk, JSON_CONN_ROW, NULL,
				      conntable_history_gap(s->table, c, s->clk.now_mono_ns));
		}
		s->emitted++;
		rows++;
	}
	if (!more || s->emitted >= s->filter.limit)
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
	if (s->g) {
		gather_free(s->g);
		free(s->g);
	}
	buf_free(&s->pending);
	free(s);
}

/* sort=: the matching connections' cookies, in the order asked, replace
 * the snapshot. Keys are computed once, at the handler's clock, so the
 * order is one instant's even though rows are written later. */
static int sort_cookies(struct list_stream *s)
{
	struct listsort_entry *e = malloc((s->n ? s->n : 1) * sizeof(*e));
	size_t m = 0;

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		struct tw_conn *c = conntable_get(s->table, s->cookies[i]);

		if (c && filter_match(&s->filter, c))
			listsort_entry_of(&s->view.sort, c, &s->clk, &e[m++]);
	}
	qsort(e, m, sizeof(*e), listsort_cmp);
	for (size_t i = 0; i < m; i++)
		s->cookies[i] = e[i].cookie;
	s->n = m;
	free(e);
	return 0;
}

static bool keep_matching(const struct tw_conn *c, const void *filter)
{
	return filter_match(filter, c);
}

static bool list_step(void *data, uint64_t budget_ns)
{
	struct list_stream *s = data;

	if (s->wait_index)
		return conntable_port_index_step(s->table, budget_ns);
	return gather_step(s->g, budget_ns);
}

/* A few rows: the whole body now (LIST_BUFFERED_ROWS). */
static enum MHD_Result list_reply_buffered(struct tw_http *h, struct MHD_Connection *conn,
					   struct list_stream *s)
{
	const char *type = s->view.text ? "text/plain; charset=utf-8" : "application/json";
	struct tw_buf b;

	buf_init(&b);
	while (s->phase != LIST_DONE && !s->pending.oom) {
		fill_pending(s);
		if (s->pending.len)
			buf_put(&b, s->pending.data, s->pending.len);
	}
	if (s->pending.oom)
		b.oom = true;
	list_free(s);
	return http_reply_typed(h, conn, &b, type);
}

/* The reply, once the cookies are known (gathered or planned). */
static enum MHD_Result list_reply(struct tw_http *h, struct MHD_Connection *conn,
				  struct list_stream *s)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (s->g && s->g->oom) {
		list_free(s);
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	/* Rows and sort keys at the time the rows begin, not when the scan
	 * did: a connection the scan found may be newer than its start. */
	clock_sample(&s->clk);
	if (s->view.sort.key) {
		if (s->filter.after) {
			list_free(s);
			return http_reply_error(h, conn, MHD_HTTP_BAD_REQUEST,
						"after= pages in cookie order: not with sort=");
		}
		if (s->g) {
			s->cookies = gather_flatten(s->g, &s->n);
			gather_free(s->g);
			free(s->g);
			s->g = NULL;
			if (!s->cookies) {
				list_free(s);
				return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
							"out of memory");
			}
		}
		if (sort_cookies(s) < 0) {
			list_free(s);
			return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
						"out of memory");
		}
	}
	if (s->g) {
		if (gather_seek(s->g, s->filter.after) < 0) {
			list_free(s);
			return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
						"out of memory");
		}
	} else if (s->filter.after) {
		s->pos = gather_after(s->cookies, 0, s->n, s->filter.after);
	}
	if (!s->g && s->n - s->pos <= LIST_BUFFERED_ROWS)
		return list_reply_buffered(h, conn, s);
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

/* The planner's cookies (the port index's, or a scan's in this turn),
 * then the reply. */
static enum MHD_Result list_planned(struct tw_http *h, struct MHD_Connection *conn,
				    struct list_stream *s)
{
	s->cookies = filter_plan_cookies(s->table, &s->filter, &s->n);
	if (!s->cookies) {
		free(s);
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	return list_reply(h, conn, s);
}

enum MHD_Result list_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest)
{
	struct list_stream *s = http_job_take(h);
	struct query_error qe;

	(void)rest;
	if (s && !s->wait_index) /* called again: the scan in slices is done */
		return list_reply(h, conn, s);
	if (s) { /* called again: the port index is built */
		s->wait_index = false;
		return list_planned(h, conn, s);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	filter_init(&s->filter);
	if (query_parse(conn, &s->filter, &s->view, &qe)) {
		free(s);
		return http_reply_query_error(h, conn, &qe);
	}
	s->table = h->hooks.table;
	if (filter_plan_scans(&s->filter) && conntable_live(s->table) >= LIST_SLICED_MIN) {
		s->g = calloc(1, sizeof(*s->g));
		if (s->g) {
			bool all = filter_is_everything(&s->filter);

			/* The filter refuses every state outside its states:
			 * the walk reads only the records of those. */
			gather_init(s->g, s->table, all ? NULL : keep_matching, &s->filter,
				    all ? UINT32_MAX : s->filter.states);
			if (http_job_start(h, conn, s, list_step, list_free) == 0) {
				h->scans_sliced++;
				return MHD_YES;
			}
			free(s->g);
			s->g = NULL;
		}
	} else if (!filter_plan_scans(&s->filter) && !conntable_port_index_ready(s->table) &&
		   conntable_live(s->table) >= LIST_SLICED_MIN) {
		s->wait_index = true;
		if (http_job_start(h, conn, s, list_step, list_free) == 0) {
			h->index_waits++;
			return MHD_YES;
		}
		s->wait_index = false; /* no job: built in this turn */
	}
	return list_planned(h, conn, s);
}

/* GET /api/v1/summary: what ss -s prints, for the connections the filter
 * matches (every one by default): counts by family and state, and the
 * retained closed ones. One pass over the table, nothing formatted per
 * connection. NEW_SYN_RECV is counted as SYN_RECV, as ss shows it. */
struct summary {
	struct tw_walk w; /* first: http_walk */
	struct tw_filter filter;
	uint64_t states[2][TW_TCP_MAX_STATES]; /* [0] inet, [1] inet6 */
	uint64_t closed[2];
};

static void summary_one(struct tw_conn *c, void *data)
{
	struct summary *s = data;
	int fam = c->family == AF_INET6;

	if (!filter_match(&s->filter, c))
		return;
	if (c->flags & TW_CONN_CLOSED)
		s->closed[fam]++;
	else if (c->state < TW_TCP_MAX_STATES)
		s->states[fam][c->state == TW_TCP_NEW_SYN_RECV ? TW_TCP_SYN_RECV : c->state]++;
}

static void summary_reset(void *data)
{
	struct summary *s = data;

	memset(s->states, 0, sizeof(s->states));
	memset(s->closed, 0, sizeof(s->closed));
}

static enum MHD_Result summary_reply(struct MHD_Connection *conn, struct summary *sp);

enum MHD_Result summary_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest)
{
	struct summary *s = http_job_take(h);
	struct query_error qe;

	(void)rest;
	if (s) /* called again: the pass in slices is done */
		return summary_reply(conn, s);
	s = calloc(1, sizeof(*s));
	if (!s)
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	filter_init(&s->filter);
	s->filter.states = TW_STATES_ALL; /* state= narrows it */
	if (query_parse(conn, &s->filter, NULL, &qe)) {
		free(s);
		return http_reply_query_error(h, conn, &qe);
	}
	walk_init(&s->w, h->hooks.table, summary_one, summary_reset, s);
	/* Without parameters (a dashboard's, most often) one pass answers
	 * every request that came before it began. */
	if ((MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0
		     ? http_walk(h, conn, &s->w, free)
		     : http_walk_shared(h, conn, "summary", &s->w, free)) == 0)
		return MHD_YES;
	return summary_reply(conn, s);
}

static enum MHD_Result summary_reply(struct MHD_Connection *conn, struct summary *sp)
{
	static const char *const fams[2] = {"inet", "inet6"};
	const struct summary *s = sp;
	uint64_t open = 0, closed;
	enum MHD_Result ret;
	struct tw_buf b;

	for (int f = 0; f < 2; f++)
		for (int st = 0; st < TW_TCP_MAX_STATES; st++)
			open += s->states[f][st];
	closed = s->closed[0] + s->closed[1];
	buf_init(&b);
	buf_printf(&b, "{\"total\":%llu,\"open\":%llu,\"closed\":%llu",
		   (unsigned long long)(open + closed), (unsigned long long)open,
		   (unsigned long long)closed);
	for (int f = 0; f < 2; f++) {
		uint64_t total = s->closed[f];
		bool first = true;

		for (int st = 0; st < TW_TCP_MAX_STATES; st++)
			total += s->states[f][st];
		buf_printf(&b, ",\"%s\":{\"total\":%llu,\"closed\":%llu,\"states\":{", fams[f],
			   (unsigned long long)total, (unsigned long long)s->closed[f]);
		for (int st = 1; st < TW_TCP_MAX_STATES; st++) {
			if (!s->states[f][st])
				continue;
			buf_printf(&b, "%s\"%s\":%llu", first ? "" : ",", tcpstate_name(st),
				   (unsigned long long)s->states[f][st]);
			first = false;
		}
		buf_puts(&b, "}}");
	}
	buf_puts(&b, "}");
	free(sp);
	ret = http_reply_buf(conn, MHD_HTTP_OK, &b);
	buf_free(&b);
	return ret;
}
