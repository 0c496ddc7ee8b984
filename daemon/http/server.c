/*
 * The HTTP server: libmicrohttpd on the Unix socket and the TCP port,
 * driven from the event loop, and the dispatch of each request to its
 * route (routes.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "access.h"
#include "clock.h"
#include "internal.h"
#include "json.h"
#include "log.h"

#define HTTP_CONNECTION_TIMEOUT_S 30u
#define HTTP_CONNECTION_MEMORY    (32 * 1024)

static const char *allow_header; /* the 405 being answered's Allow */

struct MHD_Response *http_response_buf(unsigned *status, struct tw_buf *b)
{
	struct MHD_Response *r;

	static const char oom_body[] = "{\"error\":\"out of memory\",\"status\":503}\n";

	if (!b->oom)
		buf_put(b, "\n", 1);
	/* Out of memory: a fixed body that needs no allocation of its own. */
	if (b->oom) {
		*status = MHD_HTTP_SERVICE_UNAVAILABLE;
		r = MHD_create_response_from_buffer(sizeof(oom_body) - 1, (void *)oom_body,
						    MHD_RESPMEM_PERSISTENT);
	} else {
		r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_COPY);
	}
	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (*status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
					allow_header ? allow_header : "GET, HEAD");
	if (*status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"tcpwatchd\"");
	return r;
}

/* The shared pass whose leader's handler runs now: its answer is kept
 * for those waiting (handlers run one at a time, on the loop). */
static struct http_share *share_capture;

/* A pass others wait for (http_walk_shared, below). */
struct http_share {
	char key[32];
	struct http_job *job;      /* the leader's, until its handler ran or it left */
	bool started;              /* the pass took a step: no one joins it */
	bool woken;                /* the waiting were resumed */
	struct MHD_Response *resp; /* the leader's answer, for the waiting */
	unsigned status;
	struct MHD_Connection **waiting;
	size_t n_waiting, cap_waiting;
};

enum MHD_Result http_reply_buf(struct MHD_Connection *conn, unsigned status, struct tw_buf *b)
{
	struct MHD_Response *r = http_response_buf(&status, b);

	if (!r)
		return MHD_NO;
	return http_queue_response(conn, status, r);
}

enum MHD_Result http_reply_typed(struct tw_http *h, struct MHD_Connection *conn, struct tw_buf *b,
				 const char *type)
{
	struct MHD_Response *r;

	if (b->oom) {
		buf_free(b);
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_COPY);
	buf_free(b);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return http_queue_response(conn, MHD_HTTP_OK, r);
}

enum MHD_Result http_reply_query_error(struct tw_http *h, struct MHD_Connection *conn,
				       const struct query_error *qe)
{
	struct tw_buf b;
	enum MHD_Result ret;

	h->errors++;
	buf_init(&b);
	json_error_at(&b, (int)qe->status, qe->message, qe->has_offset ? qe->offset : -1);
	ret = http_reply_buf(conn, qe->status, &b);
	buf_free(&b);
	return ret;
}

enum MHD_Result http_reply_error(struct tw_http *h, struct MHD_Connection *conn, unsigned status,
				 const char *message)
{
	struct tw_buf b;
	enum MHD_Result ret;

	h->errors++;
	buf_init(&b);
	json_error(&b, (int)status, message);
	ret = http_reply_buf(conn, status, &b);
	buf_free(&b);
	return ret;
}

/*
 * TCP requests: a Host that names this daemon (DNS rebinding otherwise
 * lets any web page read it), and the token where one is configured
 * (except /healthz and /metrics). True if refused, with the refusal's
 * result in *ret.
 */
static bool access_refused(struct tw_http *h, struct MHD_Connection *conn, const char *url,
			   bool *token_ok, enum MHD_Result *ret)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
	const char *host, *auth;

	*token_ok = false;
	if (ci && ci->daemon == h->unix_daemon)
		return false;
	host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (!access_host_ok(host, h->listen_host, h->allowed_hosts)) {
		h->host_refused++;
		*ret = http_reply_error(h, conn, MHD_HTTP_MISDIRECTED_REQUEST,
					"this Host is not tcpwatchd's: a loopback name or "
					"address, the listen address, or one of allowed-hosts");
		return true;
	}
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	*token_ok = access_bearer_ok(auth, h->token);
	if (h->token[0] && !*token_ok && !access_path_public(url)) {
		h->token_refused++;
		*ret = http_reply_error(h, conn, MHD_HTTP_UNAUTHORIZED,
					"a missing or wrong token (Authorization: Bearer TOKEN)");
		return true;
	}
	return false;
}

/*
 * A turn serves requests for HTTP_TURN_BUDGET_NS; a request that comes
 * after that waits for the next turn (its connection suspended, resumed by
 * resume_deferred before the next run), after the loop has served the
 * rings, the reconcile and its timers. Each turn serves at least one.
 */
#define HTTP_TURN_BUDGET_NS (2 * NSEC_PER_MSEC)

static bool defer(struct tw_http *h, struct MHD_Connection *conn, struct http_req *req)
{
	if (clock_mono_ns() - h->turn_start_ns < HTTP_TURN_BUDGET_NS ||
	    h->n_deferred == h->cap_deferred)
		return false;
	MHD_suspend_connection(conn);
	req->deferred = true;
	h->deferred[h->n_deferred++] = conn;
	h->deferrals++;
	return true;
}

/* What the jobs may take of a loop turn, all of them together, before
 * the requests' HTTP_TURN_BUDGET_NS. */
#define HTTP_JOB_BUDGET_NS (1 * NSEC_PER_MSEC)

int http_job_start(struct tw_http *h, struct MHD_Connection *conn, void *data, http_job_step step,
		   void (*free_fn)(void *data))
{
	struct http_job *j;

	if (!h->cur || h->cur->job || h->n_jobs == h->cap_jobs)
		return -ENOSPC;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct http_job){.conn = conn, .data = data, .step = step, .free = free_fn};
	MHD_suspend_connection(conn);
	h->cur->job = j;
	h->jobs[h->n_jobs++] = j;
	return 0;
}

void *http_job_take(struct tw_http *h)
{
	struct http_job *j = h->cur ? h->cur->job : NULL;
	void *data;

	if (!j || !j->done)
		return NULL;
	data = j->data;
	if (j->share) /* the pass is over: a new one gathers */
		j->share->job = NULL;
	free(j);
	h->cur->job = NULL;
	return data;
}

static bool walk_job_step(void *data, uint64_t budget_ns)
{
	return walk_step(data, budget_ns);
}

int http_walk(struct tw_http *h, struct MHD_Connection *conn, struct tw_walk *w,
	      void (*free_fn)(void *data))
{
	if (conntable_live(w->table) >= HTTP_WALK_SLICED_MIN &&
	    http_job_start(h, conn, w, walk_job_step, free_fn) == 0) {
		h->walks_sliced++;
		return 0;
	}
	walk_all(w);
	return 1;
}

static void job_unlist(struct tw_http *h, size_t i)
{
	h->jobs[i] = h->jobs[--h->n_jobs];
}

/*
 * Passes shared. Fifty clients asking for the summary at once were fifty
 * passes over the table, each stepped in its share of a millisecond a
 * turn: at 100,000 connections each waited a second. A request now finds
 * the pass asked in the same words that has not begun (its job not yet
 * stepped) and waits for its answer, which every request it answers asked
 * for before the pass began: each is told what a pass of its own would
 * have counted. A pass of a key does not begin while another of that key
 * is under way, so the requests of that time gather behind it: one pass
 * under way and one gathering per key, whatever the number of clients.
 */

static struct http_share *share_find(struct tw_http *h, const char *key)
{
	for (size_t i = 0; i < h->n_shares; i++) {
		struct http_share *sh = h->shares[i];

		if (sh->job && !sh->started && !strcmp(sh->key, key))
			return sh;
	}
	return NULL;
}

/* Another pass of the key is under way: this one waits for its end. */
static bool share_behind(const struct tw_http *h, const struct http_share *sh)
{
	for (size_t i = 0; i < h->n_shares; i++) {
		const struct http_share *o = h->shares[i];

		if (o != sh && o->started && o->job && !o->job->done && !strcmp(o->key, sh->key))
			return true;
	}
	return false;
}

static void share_free(struct tw_http *h, struct http_share *sh)
{
	for (size_t i = 0; i < h->n_shares; i++)
		if (h->shares[i] == sh) {
			h->shares[i] = h->shares[--h->n_shares];
			break;
		}
	if (sh->resp)
		MHD_destroy_response(sh->resp);
	free(sh->waiting);
	free(sh);
}

/* Over once the leader's handler ran (or it left) and no one waits. */
static void share_settle(struct tw_http *h, struct http_share *sh)
{
	if (!sh->job && !sh->n_waiting)
		share_free(h, sh);
}

/* The leader is done (answered: resp set; or not, or gone): the waiting
 * are resumed, to take its answer or, without one, to ask again. */
static void share_wake(struct tw_http *h, struct http_share *sh)
{
	if (sh->job)
		sh->job->share = NULL;
	sh->job = NULL;
	if (!sh->woken) {
		sh->woken = true;
		for (size_t i = 0; i < sh->n_waiting; i++)
			MHD_resume_connection(sh->waiting[i]);
		if (sh->n_waiting)
			h->deferred_resumed = true;
	}
	share_settle(h, sh);
}

static void share_leave(struct tw_http *h, struct http_share *sh, struct MHD_Connection *conn)
{
	for (size_t i = 0; i < sh->n_waiting; i++)
		if (sh->waiting[i] == conn) {
			sh->waiting[i] = sh->waiting[--sh->n_waiting];
			break;
		}
	share_settle(h, sh);
}

static int share_join(struct tw_http *h, struct http_share *sh, struct MHD_Connection *conn)
{
	if (sh->n_waiting == sh->cap_waiting) {
		size_t cap = sh->cap_waiting ? 2 * sh->cap_waiting : 16;
		struct MHD_Connection **v;

		if (cap > h->cap_deferred)
			return -ENOSPC;
		v = realloc(sh->waiting, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		sh->waiting = v;
		sh->cap_waiting = cap;
	}
	MHD_suspend_connection(conn);
	sh->waiting[sh->n_waiting++] = conn;
	h->cur->share = sh;
	return 0;
}

static void share_new(struct tw_http *h, struct http_job *j, const char *key)
{
	struct http_share *sh;

	if (h->n_shares == h->cap_jobs || strlen(key) >= sizeof(sh->key))
		return;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return; /* a pass of its own, not shared */
	snprintf(sh->key, sizeof(sh->key), "%s", key);
	sh->job = j;
	j->share = sh;
	h->shares[h->n_shares++] = sh;
}

int http_walk_shared(struct tw_http *h, struct MHD_Connection *conn, const char *key,
		     struct tw_walk *w, void (*free_fn)(void *data))
{
	struct http_share *sh;

	if (conntable_live(w->table) < HTTP_WALK_SLICED_MIN || !h->cur || h->cur->job)
		return http_walk(h, conn, w, free_fn);
	sh = share_find(h, key);
	if (sh && share_join(h, sh, conn) == 0) {
		free_fn(w); /* the walk is the data's first member */
		return 0;
	}
	if (http_walk(h, conn, w, free_fn) != 0)
		return 1;
	share_new(h, h->cur->job, key);
	return 0;
}

enum MHD_Result http_queue_response(struct MHD_Connection *conn, unsigned status,
				    struct MHD_Response *r)
{
	enum MHD_Result ret = MHD_queue_response(conn, status, r);

	/* A leader's answer is kept (the reference given up here) for those
	 * waiting; an error is not: they ask again. */
	if (share_capture && !share_capture->resp && ret == MHD_YES && status == MHD_HTTP_OK &&
	    share_capture->n_waiting) {
		share_capture->resp = r;
		share_capture->status = status;
		return ret;
	}
	MHD_destroy_response(r);
	return ret;
}

/* A request that waited for another's pass, called once resumed: the
 * answer sent (true, *ret), or none came and it is handled afresh. */
static bool share_answer(struct tw_http *h, struct MHD_Connection *conn, struct http_req *req,
			 enum MHD_Result *ret)
{
	struct http_share *sh = req->share;
	bool answered = sh->resp != NULL;

	*ret = MHD_NO;
	req->share = NULL;
	if (answered) {
		*ret = MHD_queue_response(conn, sh->status, sh->resp);
		h->served++;
		h->passes_shared++;
	}
	share_leave(h, sh, conn);
	return answered;
}

/* The jobs' steps for this turn, round robin from where the last turn's
 * budget ran out; a finished one's connection is resumed. */
static void run_jobs(struct tw_http *h)
{
	uint64_t t0 = clock_mono_ns(), spent = 0;

	for (size_t k = 0; k < h->n_jobs && spent < HTTP_JOB_BUDGET_NS;) {
		size_t i = (h->job_next + k) % h->n_jobs;
		struct http_job *j = h->jobs[i];

		if (j->share && !j->share->started) {
			if (share_behind(h, j->share)) {
				k++; /* gathers until the pass before it ends */
				continue;
			}
			j->share->started = true;
		}
		if (j->step(j->data, HTTP_JOB_BUDGET_NS - spent)) {
			j->done = true;
			job_unlist(h, i);
			MHD_resume_connection(j->conn);
			h->deferred_resumed = true;
		} else {
			k++;
		}
		spent = clock_mono_ns() - t0;
	}
	h->job_next = h->n_jobs ? (h->job_next + 1) % h->n_jobs : 0;
}

static void resume_jobs(struct tw_http *h)
{
	while (h->n_jobs) {
		struct http_job *j = h->jobs[h->n_jobs - 1];

		job_unlist(h, h->n_jobs - 1);
		MHD_resume_connection(j->conn);
	}
}

static void resume_deferred(struct tw_http *h)
{
	for (size_t i = 0; i < h->n_deferred; i++)
		MHD_resume_connection(h->deferred[i]);
	if (h->n_deferred)
		h->deferred_resumed = true;
	h->n_deferred = 0;
}

/* A turn of libmicrohttpd begins, with the requests the last one put off.
 * The budget is the loop iteration's: the iteration may run libmicrohttpd
 * three times (each daemon's epoll fd, then the timeout hook for both),
 * and together they serve requests for HTTP_TURN_BUDGET_NS. */
static void turn_begin(struct tw_http *h)
{
	uint64_t it = loop_iteration(h->loop);

	h->turn++;
	if (!h->turn_start_ns || it != h->turn_iteration) {
		h->turn_iteration = it;
		h->turn_start_ns = clock_mono_ns();
	}
	resume_deferred(h);
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **req_cls)
{
	struct tw_http *h = cls;
	struct http_req *req = *req_cls;
	const char *rest = "";
	struct http_share *lead;
	http_handler handler;
	unsigned status = 0;
	enum MHD_Result ret;
	char msg[96];

	(void)version;
	if (!req) {
		const char *refused = peers_refusal(conn);

		if (*refused) /* over a connection limit: told so, then closed */
			return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, refused);
		/* First call: headers only. The body (bounded) comes next. */
		req = calloc(1, sizeof(*req));
		if (!req) {
			h->alloc_failures++;
			return MHD_NO;
		}
		*req_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		if (req->too_big || req->len + n > HTTP_BODY_MAX) {
			if (!req->too_big)
				h->bodies_too_big++;
			req->too_big = true;
		} else {
			char *grown = realloc(req->body, req->len + n + 1);

			if (!grown) {
				h->alloc_failures++;
				return MHD_NO;
			}
			memcpy(grown + req->len, upload_data, n);
			req->body = grown;
			req->len += n;
			req->body[req->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* Resumed with another's answer, or to ask again without one. */
	if (req->share && share_answer(h, conn, req, &ret))
		return ret;
	if (!req->admitted) {
		h->requests++;
		if (access_refused(h, conn, url, &req->token_ok, &ret))
			return ret;
		req->admitted = true;
	}
	/* Put off again if its turn is spent too: each iteration serves at
	 * least its first request. */
	if (defer(h, conn, req))
		return MHD_YES;
	req->deferred = false;
	if (h->hooks.sync)
		h->hooks.sync(h->hooks.data);
	handler = routes_find(method, url, &rest, &status);
	if (!handler) {
		allow_header = routes_allowed(url);
		snprintf(msg, sizeof(msg), "method not allowed (%s)", allow_header);
		ret = http_reply_error(h, conn, status,
				       status == MHD_HTTP_METHOD_NOT_ALLOWED ? msg
									     : "no such endpoint");
		allow_header = NULL;
		return ret;
	}
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);

		h->req = *req;
		h->req.method = method;
		h->req.via_unix = ci && ci->daemon == h->unix_daemon;
		if (!h->req.body)
			h->req.body = (char *)"";
	}
	h->served++;
	h->cur = req;
	lead = req->job && req->job->done ? req->job->share : NULL;
	share_capture = lead;
	ret = handler(h, conn, rest);
	share_capture = NULL;
	if (lead)
		share_wake(h, lead);
	h->cur = NULL;
	memset(&h->req, 0, sizeof(h->req));
	return ret;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_req *req = *req_cls;
	struct tw_http *h = cls;

	(void)toe;
	peers_request_done(conn);
	if (req && req->share) { /* gone while it waited for another's pass */
		share_leave(h, req->share, conn);
		req->share = NULL;
	}
	if (req && req->job) {
		struct http_job *j = req->job;

		for (size_t i = 0; i < h->n_jobs; i++)
			if (h->jobs[i] == j) {
				job_unlist(h, i);
				break;
			}
		if (j->share) /* those waiting for it ask again */
			share_wake(h, j->share);
		j->free(j->data);
		free(j);
	}
	if (req) {
		free(req->body);
		free(req);
		*req_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct tw_http *h = cls;

	peers_notify(&h->peers, h->unix_daemon, conn, socket_context, toe);
}

static void on_epoll(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	struct tw_http *h = data;

	(void)l;
	(void)events;
	turn_begin(h);
	MHD_run(fd == h->unix_epfd ? h->unix_daemon : h->tcp_daemon);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

static struct MHD_Daemon *start(struct tw_http *h, const struct tw_config *cfg, int listen_fd,
				const struct sockaddr *addr)
{
	unsigned flags =
		MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;

	if (addr && addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* MHD takes PEERS_MARGIN more than max-clients: those are answered
	 * 503 (peers.c) instead of being closed unanswered. */
	unsigned limit = cfg->max_clients + PEERS_MARGIN;

	if (listen_fd >= 0)
		return MHD_start_daemon(
			flags, 0, NULL, NULL, handle_request, h, MHD_OPTION_LISTEN_SOCKET,
			listen_fd, MHD_OPTION_CONNECTION_LIMIT, limit,
			MHD_OPTION_CONNECTION_TIMEOUT, HTTP_CONNECTION_TIMEOUT_S,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_NOTIFY_COMPLETED,
			request_done, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
			MHD_OPTION_END);
	return MHD_start_daemon(flags, 0, NULL, NULL, handle_request, h, MHD_OPTION_SOCK_ADDR, addr,
				MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT,
				HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
				NULL, MHD_OPTION_NOTIFY_COMPLETED, request_done, h,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
}

static int mkdir_parent(const char *path)
{
	char dir[108];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Binds the Unix socket. A leftover socket file nobody answers on is
 * replaced; a live daemon's is not. */
static int bind_unix(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, probe;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (mkdir_parent(path) < 0) {
		snprintf(err, err_len, "cannot create the directory of %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, err_len, "%s exists and is not a socket", path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(err, err_len, "another tcpwatchd is serving %s", path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 128) < 0) {
		int e = errno;

		snprintf(err, err_len, "cannot listen on %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

/* The socket's group: its members use the CLI without root. The default
 * group (tcpwatch) may be missing, then only root (and the daemon's own
 * group) can connect; a group named in the configuration must exist. */
static int set_socket_group(const char *path, const char *group, char *err, size_t err_len)
{
	struct group *g;

	if (!*group)
		return 0;
	g = getgrnam(group);
	if (!g) {
		if (!strcmp(group, "tcpwatch")) {
			log_info("no group tcpwatch: the API socket %s serves root and the "
				 "daemon's own group only",
				 path);
			return 0;
		}
		snprintf(err, err_len, "socket-group %s: no such group", group);
		return -ENOENT;
	}
	if (chown(path, (uid_t)-1, g->gr_gid) < 0) {
		int e = errno;

		snprintf(err, err_len, "cannot give %s to group %s: %s", path, group, strerror(e));
		return -e;
	}
	return 0;
}

/* The host of ADDR:PORT or [ADDR6]:PORT, without brackets. */
static int listen_host(const char *text, char *out, size_t len)
{
	const char *colon = strrchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : 0;

	if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
		text++;
		n -= 2;
	}
	if (!n || n >= len)
		return -EINVAL;
	memcpy(out, text, n);
	out[n] = '\0';
	return 0;
}

static int parse_listen(const char *text, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	unsigned long port;
	char *end;
	size_t n;

	if (!colon)
		return -EINVAL;
	n = (size_t)(colon - text);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !colon[1] || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		host[n - 1] = '\0';
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1 ? 0 : -EINVAL;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -EINVAL;
	}
}

static int watch(struct tw_http *h, struct MHD_Daemon *d, int *ret_epfd)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);

	if (!info)
		return -EINVAL;
	*ret_epfd = info->epoll_fd;
	return loop_add_fd(h->loop, info->epoll_fd, EPOLLIN, on_epoll, h, "http");
}

static int mhd_timeout(struct MHD_Daemon *d)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (!d || MHD_get_timeout(d, &t) != MHD_YES)
		return -1;
	return t > 1000 ? 1000 : (int)t;
}

/* libmicrohttpd's epoll is edge-triggered: a connection that can take
 * more of a streamed reply raises no new edge, so the loop must come
 * back as soon as MHD says work is ready (timeout 0). */
static int http_timeout(void *data)
{
	struct tw_http *h = data;
	int a = mhd_timeout(h->unix_daemon), b = mhd_timeout(h->tcp_daemon);

	if (h->sse.resumed || h->n_deferred || h->deferred_resumed || h->n_jobs)
		return 0; /* events wait in a resumed stream, requests put off, jobs */
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static void http_due(void *data)
{
	http_tick(data);
}

void http_tick(struct tw_http *h)
{
	uint64_t now = clock_mono_ns();

	if (now - h->peers_ticked_ns >= NSEC_PER_SEC) {
		h->peers_ticked_ns = now;
		peers_tick(&h->peers, now);
	}
	h->sse.resumed = false;
	run_jobs(h);
	turn_begin(h);
	h->deferred_resumed = false;
	if (h->unix_daemon)
		MHD_run(h->unix_daemon);
	if (h->tcp_daemon)
		MHD_run(h->tcp_daemon);
}

struct tw_http *http_new(struct tw_loop *loop, const struct tw_config *cfg,
			 const struct tw_http_hooks *hooks, char *err, size_t err_len)
{
	struct tw_http *h = calloc(1, sizeof(*h));
	int fd;

	if (!h) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	h->loop = loop;
	h->hooks = *hooks;
	/* Every connection of both doors may be put off at once. */
	h->cap_deferred = 2 * ((size_t)cfg->max_clients + PEERS_MARGIN);
	h->deferred = calloc(h->cap_deferred, sizeof(*h->deferred));
	h->cap_jobs = h->cap_deferred;
	h->jobs = calloc(h->cap_jobs, sizeof(*h->jobs));
	h->shares = calloc(h->cap_jobs, sizeof(*h->shares));
	if (!h->deferred || !h->jobs || !h->shares) {
		snprintf(err, err_len, "out of memory");
		free(h->deferred);
		free(h->jobs);
		free(h->shares);
		free(h);
		return NULL;
	}
	sse_init(&h->sse, cfg->max_watchers);
	peers_init(&h->peers, cfg->max_clients, cfg->max_clients_per_peer,
		   (uint64_t)cfg->request_timeout_ms * NSEC_PER_MSEC);
	h->unix_epfd = h->tcp_epfd = -1;
	fd = bind_unix(cfg->socket_path, err, err_len);
	if (fd >= 0 && set_socket_group(cfg->socket_path, cfg->socket_group, err, err_len) < 0) {
		close(fd);
		unlink(cfg->socket_path);
		fd = -1;
	}
	if (fd < 0) {
		free(h->deferred);
		free(h->jobs);
		free(h->shares);
		free(h);
		return NULL;
	}
	snprintf(h->socket_path, sizeof(h->socket_path), "%s", cfg->socket_path);
	h->unix_daemon = start(h, cfg, fd, NULL);
	if (!h->unix_daemon) {
		close(fd);
		snprintf(err, err_len, "cannot start the HTTP server on %s", cfg->socket_path);
		goto fail;
	}
	if (watch(h, h->unix_daemon, &h->unix_epfd) < 0) {
		snprintf(err, err_len, "cannot watch the HTTP server");
		goto fail;
	}
	if (strcmp(cfg->listen, "none")) {
		struct sockaddr_storage ss;

		if (parse_listen(cfg->listen, &ss) < 0) {
			snprintf(err, err_len, "listen: '%s' is not ADDR:PORT or [ADDR6]:PORT",
				 cfg->listen);
			goto fail;
		}
		if (listen_host(cfg->listen, h->listen_host, sizeof(h->listen_host)) < 0 ||
		    (!access_addr_is_loopback(h->listen_host) && !cfg->token[0])) {
			snprintf(err, err_len,
				 "listen: %s is not a loopback address: set a token (every "
				 "request but /healthz and /metrics then needs it)",
				 cfg->listen);
			goto fail;
		}
		snprintf(h->allowed_hosts, sizeof(h->allowed_hosts), "%s", cfg->allowed_hosts);
		snprintf(h->token, sizeof(h->token), "%s", cfg->token);
		h->tcp_daemon = start(h, cfg, -1, (struct sockaddr *)&ss);
		if (!h->tcp_daemon) {
			snprintf(err, err_len, "cannot listen on %s (in use?)", cfg->listen);
			goto fail;
		}
		if (watch(h, h->tcp_daemon, &h->tcp_epfd) < 0) {
			snprintf(err, err_len, "cannot watch the HTTP server");
			goto fail;
		}
	}
	loop_set_timeout_hook(loop, http_timeout, http_due, h, "http");
	return h;
fail:
	http_free(h);
	return NULL;
}

void http_free(struct tw_http *h)
{
	if (!h)
		return;
	loop_set_timeout_hook(h->loop, NULL, NULL, NULL, NULL);
	/* Stopping a daemon with suspended connections is an API violation. */
	sse_resume_all(&h->sse);
	resume_deferred(h);
	resume_jobs(h);
	for (size_t i = h->n_shares; i-- > 0;)
		if (i < h->n_shares)
			share_wake(h, h->shares[i]);
	if (h->unix_epfd >= 0)
		loop_del_fd(h->loop, h->unix_epfd);
	if (h->tcp_epfd >= 0)
		loop_del_fd(h->loop, h->tcp_epfd);
	if (h->unix_daemon) {
		MHD_stop_daemon(h->unix_daemon);
		unlink(h->socket_path);
	}
	if (h->tcp_daemon)
		MHD_stop_daemon(h->tcp_daemon);
	http_stats_unshare(h);
	while (h->n_shares)
		share_free(h, h->shares[0]);
	sse_fini(&h->sse);
	free(h->deferred);
	free(h->jobs);
	free(h->shares);
	free(h);
}

bool http_watching(const struct tw_http *h)
{
	return h && h->sse.watchers;
}

void http_publish(struct tw_http *h, const struct tw_conn *c, uint32_t hist_index)
{
	if (h)
		sse_publish(&h->sse, c, hist_index, loop_iteration(h->loop));
}

void http_ping_watchers(struct tw_http *h)
{
	sse_ping(&h->sse);
}

void http_report(const struct tw_http *h, struct tw_stats *s)
{
	stats_counter(s, "http_requests", h->requests);
	stats_counter(s, "http_stats_shared", h->stats_shared);
	stats_counter(s, "http_deferred", h->deferrals);
	stats_counter(s, "http_scans_sliced", h->scans_sliced);
	stats_counter(s, "http_index_waits", h->index_waits);
	stats_counter(s, "http_walks_sliced", h->walks_sliced);
	stats_counter(s, "http_passes_shared", h->passes_shared);
	stats_counter(s, "http_alloc_failures", h->alloc_failures);
	peers_report(&h->peers, s);
	stats_counter(s, "http_errors", h->errors);
	stats_counter(s, "http_bodies_too_big", h->bodies_too_big);
	stats_counter(s, "http_probe_token_refused", h->probe_token_refused);
	stats_counter(s, "http_host_refused", h->host_refused);
	stats_counter(s, "http_token_refused", h->token_refused);
	sse_report(&h->sse, s);
}
