/*
 * What the files of http/ share: the server's state and the reply
 * helpers. Not a door for other layers (they use http.h).
 */
#ifndef TCPWATCH_HTTP_INTERNAL_H
#define TCPWATCH_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdint.h>

#include "buf.h"
#include "filter.h"
#include "http.h"
#include "peers.h"
#include "query.h"
#include "sse.h"
#include "walk.h"

#define HTTP_BODY_MAX 4096

/* The request being answered (handlers run one at a time). */
struct http_req {
	const char *method;
	bool via_unix; /* on the Unix socket (else TCP) */
	bool token_ok; /* over TCP with the configured token */
	char *body;    /* what came, up to HTTP_BODY_MAX, NUL-terminated */
	size_t len;
	bool too_big;
	bool deferred;            /* counted and admitted, then put off to a later turn */
	bool admitted;            /* counted and let in (its first call) */
	struct http_job *job;     /* its handler's work in slices (http_job_start) */
	struct http_share *share; /* waits for another's pass (http_walk_shared) */
};

/*
 * Work a handler spreads over later loop turns (a listing's scan of the
 * table, http/list.c): the request's connection is suspended while the
 * loop steps it, at most HTTP_JOB_BUDGET_NS a turn for all of them; once
 * step says it is done the connection is resumed, libmicrohttpd calls the
 * handler again, and the handler takes the data back (http_job_take). A
 * request that ends before (the client left, the daemon stops) frees it.
 */
typedef bool (*http_job_step)(void *data, uint64_t budget_ns);

struct http_job {
	struct MHD_Connection *conn;
	void *data;
	http_job_step step;
	void (*free)(void *data);
	bool done;
	struct http_share *share; /* others wait for its answer (http_walk_shared) */
};

struct tw_http {
	struct tw_loop *loop;
	struct tw_http_hooks hooks;
	struct MHD_Daemon *unix_daemon;
	struct MHD_Daemon *tcp_daemon;
	int unix_epfd, tcp_epfd;
	char socket_path[108];
	/* TCP: the listen address's host, the names allowed in Host, the
	 * token (http/access.c) */
	char listen_host[64];
	char allowed_hosts[1024];
	char token[128];
	uint64_t requests, errors;
	uint64_t bodies_too_big, probe_token_refused;
	uint64_t host_refused, token_refused;
	uint64_t alloc_failures; /* requests dropped for want of memory */
	struct http_req req;
	struct tw_sse sse;
	struct http_peers peers;
	uint64_t peers_ticked_ns;
	/* The loop's turns that ran libmicrohttpd (http/server.c), when the
	 * last began, and the requests put off from it to the next (suspended
	 * connections, resumed before the next run): a turn serves requests
	 * for HTTP_TURN_BUDGET_NS and leaves the rest for the next, so that
	 * fifty slow listings do not hold the loop for fifty listings' time. */
	uint64_t turn;
	uint64_t turn_start_ns, turn_iteration; /* the budget's: per loop iteration */
	struct MHD_Connection **deferred;
	size_t n_deferred, cap_deferred;
	bool deferred_resumed; /* resumed: both daemons must run (http_tick) */
	uint64_t deferrals;
	/* The request whose handler runs now, and the jobs being stepped
	 * (http_job_start): at most one per connection. */
	struct http_req *cur;
	struct http_job **jobs;
	size_t n_jobs, cap_jobs, job_next;
	uint64_t scans_sliced; /* listings scanned by a job (list.c) */
	uint64_t index_waits;  /* listings that waited for the port index's build */
	uint64_t walks_sliced; /* summaries, metrics and findings passed by a job */
	/* Passes others wait for (http_walk_shared, server.c): one a job. */
	struct http_share **shares;
	size_t n_shares;
	uint64_t passes_shared; /* requests answered by another's pass */
	/* GET /api/v1/stats, formatted once for the requests of one turn
	 * (http/routes.c): the answer, the turn, the time, h->served and
	 * h->errors when it was made, and how many requests shared one. A
	 * request put off to a later turn counts only when it is served. */
	struct MHD_Response *stats_resp;
	uint64_t served; /* requests handed to their handler */
	uint64_t stats_turn, stats_ns, stats_served, stats_errors;
	uint64_t stats_shared;
};

/* Sends b (a JSON body; a newline is added) with status; a buffer that ran
 * out of memory becomes a 503. */
enum MHD_Result http_reply_buf(struct MHD_Connection *conn, unsigned status, struct tw_buf *b);
/* Sends b as it is (not JSON-terminated) with 200 and content type, and
 * frees it; a buffer that ran out of memory is a 503 instead. */
enum MHD_Result http_reply_typed(struct tw_http *h, struct MHD_Connection *conn, struct tw_buf *b,
				 const char *type);
/* The response http_reply_buf queues (NULL out of memory); *status
 * becomes 503 for a buffer that ran out of memory. */
struct MHD_Response *http_response_buf(unsigned *status, struct tw_buf *b);
/* {"error": message, "status": status}, counted. */
enum MHD_Result http_reply_error(struct tw_http *h, struct MHD_Connection *conn, unsigned status,
				 const char *message);

/* A refused query: http_reply_error, with "offset" for a filter error. */
enum MHD_Result http_reply_query_error(struct tw_http *h, struct MHD_Connection *conn,
				       const struct query_error *qe);

/* Handlers: each answers the request on conn. rest is what follows a
 * route's prefix (the cookie of /api/v1/connections/{cookie}), else "". */
typedef enum MHD_Result (*http_handler)(struct tw_http *h, struct MHD_Connection *conn,
					const char *rest);
/* The route for method and url: a handler, or NULL with the status to
 * answer in *ret_status (404 unknown path, 405 wrong method). */
http_handler routes_find(const char *method, const char *url, const char **ret_rest,
			 unsigned *ret_status);

/* GET /api/v1/connections: streamed (list.c). */
/* From a handler: suspends the request's connection and steps data on the
 * loop's turns until step returns true; then the handler is called again
 * and http_job_take gives data back. free_fn frees it if the request ends
 * first. 0, or a negative errno (then nothing was taken: do it now). */
int http_job_start(struct tw_http *h, struct MHD_Connection *conn, void *data, http_job_step step,
		   void (*free_fn)(void *data));
/* In the handler called again: the finished job's data (the caller owns
 * it now), or NULL if this request started none. */
void *http_job_take(struct tw_http *h);
/* A pass over the table for a handler (w, initialized, is the first
 * member of data): on a table of HTTP_WALK_SLICED_MIN connections or more
 * a job (0: the handler is called again, and takes data back with
 * http_job_take), else, or when no job can start, the whole pass now (1:
 * answer at once, data is still the caller's). */
#define HTTP_WALK_SLICED_MIN 16384
int http_walk(struct tw_http *h, struct MHD_Connection *conn, struct tw_walk *w,
	      void (*free_fn)(void *data));
/* http_walk for a request that others may ask at the same time in the
 * same words (key: the route and whatever else shapes the answer, e.g.
 * no parameters): a request that finds such a pass not yet begun waits
 * for its answer instead of a pass of its own (0, data freed with
 * free_fn; the handler is not called again: the leader's answer is sent
 * as it is). At most one such pass runs and one gathers per key. */
int http_walk_shared(struct tw_http *h, struct MHD_Connection *conn, const char *key,
		     struct tw_walk *w, void (*free_fn)(void *data));
/* Queues r (the caller's reference is given up): what every handler's
 * answer goes through, so a shared pass's leader leaves its answer for
 * those waiting. */
enum MHD_Result http_queue_response(struct MHD_Connection *conn, unsigned status,
				    struct MHD_Response *r);

enum MHD_Result list_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest);
/* GET /api/v1/summary: counts by family and state, as ss -s (list.c). */
enum MHD_Result summary_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest);
/* GET /api/v1/listeners, and one of them (listeners.c). */
enum MHD_Result listeners_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest);
enum MHD_Result listener_handle(struct tw_http *h, struct MHD_Connection *conn, const char *id);
/* GET and POST /api/v1/probes; GET and DELETE one of them (probes.c). */
enum MHD_Result probes_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest);
enum MHD_Result probe_handle(struct tw_http *h, struct MHD_Connection *conn, const char *id);
/* GET /metrics: Prometheus text or OpenMetrics (metrics.c). */
enum MHD_Result metrics_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest);
/* Every figure of the daemon and of HTTP, in a new list (free it); NULL
 * when out of memory. */
struct tw_stats *http_collect_stats(struct tw_http *h);
/* Drops the /api/v1/stats answer kept for sharing (routes.c). */
void http_stats_unshare(struct tw_http *h);
/* The methods a path takes, for a 405's Allow header ("GET, HEAD"). */
const char *routes_allowed(const char *url);
/* A socket cookie in decimal: 0, or -EINVAL / -ERANGE. */
int http_parse_cookie(const char *s, uint64_t *ret);

#endif
