#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "query.h"

#define SSE_REPLY_BLOCK (64 * 1024)

struct sse_watcher {
	struct tw_sse *sse;
	struct MHD_Connection *conn;
	struct tw_filter filter;
	/* Bytes for the reader: the unread ones are queue[off, len). The
	 * front is dropped (compacted) once the reader has taken at least as
	 * much as waits, so the queue never holds more than 2 * SSE_QUEUE_MAX
	 * bytes and one event (its allocation, grown by doubling, at most
	 * 4 * SSE_QUEUE_MAX), however the reader keeps pace. */
	struct tw_buf queue;
	size_t off;
	bool suspended;
	bool dropping;           /* refused an event; drops until half read */
	bool via_unix;           /* its slot: the Unix socket's or TCP's */
	uint64_t dropped;        /* events this reader missed, all told */
	uint64_t dropped_unsaid; /* not yet reported to it */
	struct sse_watcher *prev, *next;
};

void sse_init(struct tw_sse *s, uint32_t max_watchers)
{
	memset(s, 0, sizeof(*s));
	s->max = max_watchers;
}

static void compact(struct sse_watcher *w)
{
	buf_drop_front(&w->queue, w->off);
	w->off = 0;
}

static void watcher_push(struct sse_watcher *w, const char *data, size_t len)
{
	size_t unread = w->queue.len - w->off;

	if (unread + len > SSE_QUEUE_MAX) {
		w->dropping = true;
		w->dropped++;
		w->dropped_unsaid++;
		w->sse->dropped++;
		return;
	}
	/* Amortised: each byte is moved at most once per byte read. */
	if (w->off && w->off >= unread)
		compact(w);
	if (w->dropped_unsaid) {
		buf_printf(&w->queue, "event: lost\ndata: {\"dropped\":%llu}\n\n",
			   (unsigned long long)w->dropped_unsaid);
		w->dropped_unsaid = 0;
	}
	buf_put(&w->queue, data, len);
	if (w->suspended) {
		w->suspended = false;
		w->sse->resumed = true;
		MHD_resume_connection(w->conn);
	}
}

static ssize_t watch_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse_watcher *w = cls;
	size_t avail = w->queue.len - w->off, n;

	(void)pos;
	if (w->queue.oom)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (!avail) {
		/* Nothing to say: sleep until sse_publish() has news. */
		buf_reset(&w->queue);
		w->off = 0;
		w->suspended = true;
		MHD_suspend_connection(w->conn);
		return 0;
	}
	n = avail < max ? avail : max;
	memcpy(out, w->queue.data + w->off, n);
	w->off += n;
	return (ssize_t)n;
}

static void watch_free(void *cls)
{
	struct sse_watcher *w = cls;
	struct tw_sse *s = w->sse;

	if (w->prev)
		w->prev->next = w->next;
	else
		s->watchers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	s->n--;
	s->n_door[w->via_unix]--;
	buf_free(&w->queue);
	free(w);
}

enum MHD_Result sse_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest)
{
	struct tw_sse *s = &h->sse;
	struct sse_watcher *w;
	struct MHD_Response *r;
	struct query_error qe;
	enum MHD_Result ret;

	(void)rest;
	/* Each door has its own max-watchers slots: TCP clients cannot take
	 * the Unix socket's. */
	if (s->n_door[h->req.via_unix] >= s->max) {
		s->refused++;
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					"too many event streams open (max-watchers)");
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	filter_init(&w->filter);
	w->filter.states = TW_STATES_ALL; /* every transition, CLOSE included */
	if (query_parse(conn, &w->filter, NULL, &qe)) {
		free(w);
		return http_reply_query_error(h, conn, &qe);
	}
	w->sse = s;
	w->conn = conn;
	buf_init(&w->queue);
	buf_puts(&w->queue, ": tcpwatch events\n\n");
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_REPLY_BLOCK, watch_reader, w,
					      watch_free);
	if (!r) {
		buf_free(&w->queue);
		free(w);
		return MHD_NO;
	}
	w->next = s->watchers;
	if (s->watchers)
		s->watchers->prev = w;
	s->watchers = w;
	s->n++;
	s->n_door[h->req.via_unix]++;
	w->via_unix = h->req.via_unix;
	s->opened++;
	peers_mark_stream(conn);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* A reader that cannot take an event: counted as watcher_push counts
 * it. Once one did not fit, the reader drops every event unformatted
 * until it has read its queue down to half: near the top each event was
 * formatted only to be refused (an event's length is known once it is
 * formatted), which at peak churn cost the daemon six seconds of CPU in
 * ten. */
static bool watcher_full(struct sse_watcher *w)
{
	if (w->dropping && w->queue.len - w->off <= SSE_QUEUE_MAX / 2)
		w->dropping = false;
	if (!w->dropping)
		return false;
	w->dropped++;
	w->dropped_unsaid++;
	w->sse->dropped++;
	return true;
}

/* The event is formatted once, for the first reader the filter passes
 * that has room for it: events nobody matches, or that only full readers
 * match, cost the filter alone (a reader slower than the kernel made the
 * daemon format every event it then dropped). */
void sse_publish(struct tw_sse *s, const struct tw_conn *c, uint32_t hist_index, uint64_t turn)
{
	struct tw_buf *b = &s->scratch;
	bool formatted = false;

	if (!s->watchers)
		return;
	for (struct sse_watcher *w = s->watchers; w; w = w->next) {
		if (!filter_match(&w->filter, c) || watcher_full(w))
			continue;
		if (!formatted) {
			/* The events of one iteration came out of the rings
			 * within a few milliseconds: one sample converts their
			 * times (a step of the wall clock shows from the next). */
			if (s->clk_turn != turn + 1) {
				clock_sample(&s->clk);
				s->clk_turn = turn + 1;
			}
			buf_reset(b);
			BUF_LIT(b, "data: ");
			json_event(b, c, hist_index, &s->clk);
			BUF_LIT(b, "\n\n");
			if (b->oom) {
				buf_free(b); /* a smaller one may fit next time */
				break;
			}
			formatted = true;
		}
		watcher_push(w, b->data, b->len);
	}
	/* A rare huge event (a long comm escaped) does not pin its memory. */
	if (b->cap > 16384)
		buf_free(b);
}

void sse_fini(struct tw_sse *s)
{
	buf_free(&s->scratch);
}

void sse_ping(struct tw_sse *s)
{
	for (struct sse_watcher *w = s->watchers; w; w = w->next)
		watcher_push(w, ": ping\n\n", 8);
}

void sse_resume_all(struct tw_sse *s)
{
	for (struct sse_watcher *w = s->watchers; w; w = w->next) {
		if (w->suspended) {
			w->suspended = false;
			MHD_resume_connection(w->conn);
		}
	}
}

void sse_report(const struct tw_sse *s, struct tw_stats *st)
{
	uint64_t queued = 0, held = 0;

	for (const struct sse_watcher *w = s->watchers; w; w = w->next) {
		queued += w->queue.len - w->off;
		held += w->queue.cap;
	}
	stats_gauge(st, "watchers", s->n);
	stats_counter(st, "watch_dropped", s->dropped);
	stats_counter(st, "watch_opened", s->opened);
	stats_counter(st, "watch_refused", s->refused);
	stats_gauge(st, "watch_queued_bytes", queued);
	stats_gauge(st, "watch_buffer_bytes", held);
}
