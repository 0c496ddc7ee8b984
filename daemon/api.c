#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "filter.h"
#include "log.h"
#include "table.h"

extern const unsigned char web_index_html[]; /* web_assets.c, generated */
extern const size_t web_index_html_len;

#define API_MAX_QUERY_BYTES 4096 /* all query keys and values together */
#define API_STREAM_BLOCK (64 * 1024)
#define API_ROWS_PER_FILL 256
#define API_WATCH_QUEUE_MAX (1024 * 1024) /* bytes queued per slow event reader */

struct watcher {
	struct tw_api *api;
	struct MHD_Connection *conn;
	struct tw_filter filter;
	struct tw_buf queue;
	size_t off;
	bool suspended;
	uint64_t dropped;        /* events this reader missed, all told */
	uint64_t dropped_unsaid; /* not yet reported to it */
	struct watcher *prev, *next;
};

struct tw_api {
	struct tw_loop *loop;
	struct tw_api_hooks hooks;
	struct MHD_Daemon *unix_daemon;
	struct MHD_Daemon *tcp_daemon;
	int unix_epfd, tcp_epfd;
	char socket_path[108];
	unsigned long long requests, errors;
	struct watcher *watchers;
	uint32_t n_watchers, max_watchers;
	uint64_t watch_dropped;
};

static enum MHD_Result queue_buf(struct MHD_Connection *conn, unsigned status, struct tw_buf *b)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (b->oom) {
		buf_reset(b);
		b->oom = false;
		buf_puts(b, "{\"error\":\"out of memory\",\"status\":503}");
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	buf_put(b, "\n", 1);
	r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result queue_error(struct tw_api *api, struct MHD_Connection *conn,
				   unsigned status, const char *message)
{
	struct tw_buf b;
	enum MHD_Result ret;

	api->errors++;
	buf_init(&b);
	json_error(&b, (int)status, message);
	ret = queue_buf(conn, status, &b);
	buf_free(&b);
	return ret;
}

/* --- GET /api/v1/connections: streamed, so the loop never stalls --- */

/* How a listing is written: JSON rows, or the text table of `tcpwatch list`. */
struct list_view {
	bool text;
	bool no_header;
	unsigned columns; /* TABLE_COL_* */
};

struct list_stream {
	struct tw_api *api;
	struct tw_filter filter;
	uint64_t *cookies; /* snapshot of the table, sorted: a stable order */
	size_t n, pos;
	uint64_t emitted;
	struct tw_buf pending;
	size_t pending_off;
	int phase; /* 0 '[' or header, 1 rows, 2 ']', 3 done */
	struct tw_clock clk;
	struct list_view view;
};

static void fill_pending(struct list_stream *s)
{
	struct tw_buf *b = &s->pending;

	buf_reset(b);
	s->pending_off = 0;
	switch (s->phase) {
	case 0:
		if (!s->view.text)
			buf_puts(b, "[");
		else if (!s->view.no_header)
			table_header(b, s->view.columns);
		s->phase = 1;
		break;
	case 1:
		for (int rows = 0; rows < API_ROWS_PER_FILL && s->pos < s->n &&
				   s->emitted < s->filter.limit;) {
			/* Looked up again: the table may have changed
			 * between two chunks; gone means skipped. */
			struct tw_conn *c = conntable_get(s->api->hooks.table, s->cookies[s->pos++]);

			if (!c || !filter_match(&s->filter, c))
				continue;
			if (s->view.text) {
				table_row(b, c, &s->clk, s->view.columns);
			} else {
				buf_puts(b, s->emitted ? ",\n" : "\n");
				json_conn(b, c, &s->clk, JSON_CONN_ROW);
			}
			s->emitted++;
			rows++;
		}
		if (s->pos >= s->n || s->emitted >= s->filter.limit)
			s->phase = 2;
		break;
	case 2:
		if (!s->view.text)
			buf_puts(b, "\n]\n");
		s->phase = 3;
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
			if (s->phase == 3)
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

struct query_ctx {
	struct tw_filter *filter;
	struct list_view *view; /* NULL: no format/columns/header parameters */
	size_t bytes;
	int status; /* 0 = fine */
	char err[256];
};

/* format=, columns=, header=. Returns true if key was one of them (with
 * q->status set on a bad value). */
static bool view_set(struct list_view *v, const char *key, const char *value, struct query_ctx *q)
{
	if (!value)
		value = "";
	if (!strcmp(key, "format")) {
		if (!strcmp(value, "json") || !strcmp(value, "text"))
			v->text = value[0] == 't';
		else
			goto bad;
		return true;
	}
	if (!strcmp(key, "columns")) {
		if (table_parse_columns(value, &v->columns) < 0)
			goto bad;
		return true;
	}
	if (!strcmp(key, "header")) {
		if (strcmp(value, "0") && strcmp(value, "1"))
			goto bad;
		v->no_header = value[0] == '0';
		return true;
	}
	return false;
bad:
	q->status = MHD_HTTP_BAD_REQUEST;
	snprintf(q->err, sizeof(q->err), "%s: invalid value '%.64s'", key, value);
	return true;
}

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct query_ctx *q = cls;

	(void)kind;
	q->bytes += strlen(key) + (value ? strlen(value) : 0) + 2;
	if (q->bytes > API_MAX_QUERY_BYTES) {
		q->status = MHD_HTTP_URI_TOO_LONG;
		snprintf(q->err, sizeof(q->err), "query string longer than %d bytes",
			 API_MAX_QUERY_BYTES);
		return MHD_NO;
	}
	if (q->view && view_set(q->view, key, value, q)) {
		if (q->status)
			return MHD_NO;
		return MHD_YES;
	}
	if (q->filter && filter_set(q->filter, key, value, q->err, sizeof(q->err)) < 0) {
		q->status = MHD_HTTP_BAD_REQUEST;
		return MHD_NO;
	}
	if (!q->filter) {
		q->status = MHD_HTTP_BAD_REQUEST;
		snprintf(q->err, sizeof(q->err), "unknown parameter '%.64s'", key);
		return MHD_NO;
	}
	return MHD_YES;
}

/* Applies the query string to filter (NULL: no parameters allowed).
 * Returns 0 or the HTTP status of the error, with the message in q. */
static unsigned parse_query(struct MHD_Connection *conn, struct tw_filter *filter,
			    struct list_view *view, struct query_ctx *q)
{
	memset(q, 0, sizeof(*q));
	q->view = view;
	q->filter = filter;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_iter, q);
	return (unsigned)q->status;
}

static enum MHD_Result handle_list(struct tw_api *api, struct MHD_Connection *conn)
{
	struct list_stream *s = calloc(1, sizeof(*s));
	struct MHD_Response *r;
	struct query_ctx q;
	enum MHD_Result ret;
	unsigned status;

	if (!s)
		return queue_error(api, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	filter_init(&s->filter);
	status = parse_query(conn, &s->filter, &s->view, &q);
	if (status) {
		free(s);
		return queue_error(api, conn, status, q.err);
	}
	s->api = api;
	clock_sample(&s->clk);
	s->cookies = conntable_sorted_cookies(api->hooks.table, &s->n);
	if (!s->cookies) {
		free(s);
		return queue_error(api, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	/* Start after the cursor without walking what precedes it. */
	if (s->filter.after) {
		size_t lo = 0, hi = s->n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (s->cookies[mid] <= s->filter.after)
				lo = mid + 1;
			else
				hi = mid;
		}
		s->pos = lo;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, API_STREAM_BLOCK, list_reader, s,
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

static int parse_cookie(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

static enum MHD_Result handle_one(struct tw_api *api, struct MHD_Connection *conn, const char *id)
{
	struct tw_clock clk;
	struct tw_conn *c;
	struct tw_buf b;
	uint64_t cookie;
	enum MHD_Result ret;

	if (parse_cookie(id, &cookie) < 0)
		return queue_error(api, conn, MHD_HTTP_BAD_REQUEST,
				   "connection id must be a socket cookie (a decimal number)");
	c = conntable_get(api->hooks.table, cookie);
	if (!c)
		return queue_error(api, conn, MHD_HTTP_NOT_FOUND, "no such connection");
	clock_sample(&clk);
	buf_init(&b);
	json_conn(&b, c, &clk, JSON_CONN_FULL);
	ret = queue_buf(conn, MHD_HTTP_OK, &b);
	buf_free(&b);
	return ret;
}

/* --- GET /api/v1/events: server-sent events, one per history entry --- */

static void watcher_push(struct watcher *w, const char *data, size_t len)
{
	if (w->queue.len - w->off + len > API_WATCH_QUEUE_MAX) {
		w->dropped++;
		w->dropped_unsaid++;
		w->api->watch_dropped++;
		return;
	}
	if (w->dropped_unsaid) {
		buf_printf(&w->queue, "event: lost\ndata: {\"dropped\":%llu}\n\n",
			   (unsigned long long)w->dropped_unsaid);
		w->dropped_unsaid = 0;
	}
	buf_put(&w->queue, data, len);
	if (w->suspended) {
		w->suspended = false;
		MHD_resume_connection(w->conn);
	}
}

static ssize_t watch_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct watcher *w = cls;
	size_t avail = w->queue.len - w->off, n;

	(void)pos;
	if (w->queue.oom)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (!avail) {
		/* Nothing to say: sleep until api_publish() has news. */
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
	struct watcher *w = cls;
	struct tw_api *api = w->api;

	if (w->prev)
		w->prev->next = w->next;
	else
		api->watchers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	api->n_watchers--;
	buf_free(&w->queue);
	free(w);
}

static enum MHD_Result handle_events(struct tw_api *api, struct MHD_Connection *conn)
{
	struct watcher *w;
	struct MHD_Response *r;
	struct query_ctx q;
	enum MHD_Result ret;
	unsigned status;

	if (api->n_watchers >= api->max_watchers)
		return queue_error(api, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "too many event streams open (max-watchers)");
	w = calloc(1, sizeof(*w));
	if (!w)
		return queue_error(api, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	filter_init(&w->filter);
	w->filter.states = TW_STATES_ALL; /* every transition, CLOSE included */
	status = parse_query(conn, &w->filter, NULL, &q);
	if (status) {
		free(w);
		return queue_error(api, conn, status, q.err);
	}
	w->api = api;
	w->conn = conn;
	buf_init(&w->queue);
	buf_puts(&w->queue, ": tcpwatch events\n\n");
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, watch_reader, w,
					      watch_free);
	if (!r) {
		buf_free(&w->queue);
		free(w);
		return MHD_NO;
	}
	w->next = api->watchers;
	if (api->watchers)
		api->watchers->prev = w;
	api->watchers = w;
	api->n_watchers++;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

bool api_watching(const struct tw_api *api)
{
	return api && api->watchers;
}

void api_publish(struct tw_api *api, const struct tw_conn *c, const struct tw_hist *h)
{
	struct tw_buf b;
	struct tw_clock clk;

	if (!api || !api->watchers)
		return;
	clock_sample(&clk);
	buf_init(&b);
	for (struct watcher *w = api->watchers; w; w = w->next) {
		if (!filter_match(&w->filter, c))
			continue;
		if (!b.len) {
			buf_puts(&b, "data: ");
			json_event(&b, c, h, &clk);
			buf_puts(&b, "\n\n");
			if (b.oom)
				break;
		}
		watcher_push(w, b.data, b.len);
	}
	buf_free(&b);
}

void api_ping_watchers(struct tw_api *api)
{
	for (struct watcher *w = api->watchers; w; w = w->next)
		watcher_push(w, ": ping\n\n", 8);
}

void api_watch_stats(struct tw_api *api, uint64_t *ret_watchers, uint64_t *ret_dropped)
{
	*ret_watchers = api->n_watchers;
	*ret_dropped = api->watch_dropped;
}

static enum MHD_Result handle_findings(struct tw_api *api, struct MHD_Connection *conn)
{
	struct tw_clock clk;
	struct tw_buf b;
	enum MHD_Result ret;

	clock_sample(&clk);
	buf_init(&b);
	findings_write(&b, api->hooks.table, api->hooks.findings, &clk);
	ret = queue_buf(conn, MHD_HTTP_OK, &b);
	buf_free(&b);
	return ret;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **req_cls)
{
	static const char conn_prefix[] = "/api/v1/connections/";
	struct tw_api *api = cls;
	struct query_ctx q;
	struct tw_buf b;
	unsigned status;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	if (!*req_cls) {
		/* First call: headers only. Answer once the body (if any)
		 * is in, which for the methods we serve means now. */
		*req_cls = api;
		if (*upload_data_size)
			return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* bodies are ignored */
		return MHD_YES;
	}
	api->requests++;
	if (api->hooks.sync)
		api->hooks.sync(api->hooks.data);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return queue_error(api, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served");
	if (!strcmp(url, "/api/v1/connections"))
		return handle_list(api, conn);
	if (!strcmp(url, "/api/v1/events"))
		return handle_events(api, conn);

	/* The other endpoints take no parameters. */
	status = parse_query(conn, NULL, NULL, &q);
	if (status)
		return queue_error(api, conn, status, q.err);
	if (!strncmp(url, conn_prefix, sizeof(conn_prefix) - 1))
		return handle_one(api, conn, url + sizeof(conn_prefix) - 1);
	if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
		struct MHD_Response *r = MHD_create_response_from_buffer(
			web_index_html_len, (void *)web_index_html, MHD_RESPMEM_PERSISTENT);

		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
		MHD_add_response_header(r, "Content-Security-Policy",
					"default-src 'self'; script-src 'unsafe-inline' 'self'; "
					"style-src 'unsafe-inline'");
		ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(url, "/healthz")) {
		buf_init(&b);
		buf_puts(&b, "{\"status\":\"ok\"}");
		ret = queue_buf(conn, MHD_HTTP_OK, &b);
		buf_free(&b);
		return ret;
	}
	if (!strcmp(url, "/api/v1/findings"))
		return handle_findings(api, conn);
	if (!strcmp(url, "/api/v1/stats")) {
		buf_init(&b);
		api->hooks.write_stats(&b, api->hooks.data);
		ret = queue_buf(conn, MHD_HTTP_OK, &b);
		buf_free(&b);
		return ret;
	}
	return queue_error(api, conn, MHD_HTTP_NOT_FOUND, "no such endpoint");
}

static void on_epoll(struct tw_loop *l, int fd, uint32_t events, void *data)
{
	struct MHD_Daemon *d = data;

	(void)l;
	(void)fd;
	(void)events;
	MHD_run(d);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

static struct MHD_Daemon *start(struct tw_api *api, const struct tw_config *cfg, int listen_fd,
				const struct sockaddr *addr)
{
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;

	if (addr && addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (listen_fd >= 0)
		return MHD_start_daemon(flags, 0, NULL, NULL, handle_request, api,
					MHD_OPTION_LISTEN_SOCKET, listen_fd,
					MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_clients,
					MHD_OPTION_CONNECTION_TIMEOUT, 30u,
					MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
					MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	return MHD_start_daemon(flags, 0, NULL, NULL, handle_request, api, MHD_OPTION_SOCK_ADDR,
				addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_clients,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_clients,
				MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
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
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, probe;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (mkdir_parent(path) < 0) {
		snprintf(err, err_len, "cannot create the directory of %s: %s", path, strerror(errno));
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

static int watch(struct tw_api *api, struct MHD_Daemon *d, int *ret_epfd)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);

	if (!info)
		return -EINVAL;
	*ret_epfd = info->epoll_fd;
	return loop_add_fd(api->loop, info->epoll_fd, EPOLLIN, on_epoll, d);
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
static int api_timeout(void *data)
{
	struct tw_api *api = data;
	int a = mhd_timeout(api->unix_daemon), b = mhd_timeout(api->tcp_daemon);

	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static void api_due(void *data)
{
	api_tick(data);
}

void api_tick(struct tw_api *api)
{
	if (api->unix_daemon)
		MHD_run(api->unix_daemon);
	if (api->tcp_daemon)
		MHD_run(api->tcp_daemon);
}

struct tw_api *api_new(struct tw_loop *loop, const struct tw_config *cfg,
		       const struct tw_api_hooks *hooks, char *err, size_t err_len)
{
	struct tw_api *api = calloc(1, sizeof(*api));
	int fd;

	if (!api) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	api->loop = loop;
	api->hooks = *hooks;
	api->max_watchers = cfg->max_watchers;
	api->unix_epfd = api->tcp_epfd = -1;
	fd = bind_unix(cfg->socket_path, err, err_len);
	if (fd < 0) {
		free(api);
		return NULL;
	}
	snprintf(api->socket_path, sizeof(api->socket_path), "%s", cfg->socket_path);
	api->unix_daemon = start(api, cfg, fd, NULL);
	if (!api->unix_daemon) {
		close(fd);
		snprintf(err, err_len, "cannot start the HTTP server on %s", cfg->socket_path);
		goto fail;
	}
	if (watch(api, api->unix_daemon, &api->unix_epfd) < 0) {
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
		api->tcp_daemon = start(api, cfg, -1, (struct sockaddr *)&ss);
		if (!api->tcp_daemon) {
			snprintf(err, err_len, "cannot listen on %s (in use?)", cfg->listen);
			goto fail;
		}
		if (watch(api, api->tcp_daemon, &api->tcp_epfd) < 0) {
			snprintf(err, err_len, "cannot watch the HTTP server");
			goto fail;
		}
	}
	loop_set_timeout_hook(loop, api_timeout, api_due, api);
	return api;
fail:
	api_free(api);
	return NULL;
}

void api_free(struct tw_api *api)
{
	if (!api)
		return;
	loop_set_timeout_hook(api->loop, NULL, NULL, NULL);
	/* Stopping a daemon with suspended connections is an API violation. */
	for (struct watcher *w = api->watchers; w; w = w->next) {
		if (w->suspended) {
			w->suspended = false;
			MHD_resume_connection(w->conn);
		}
	}
	if (api->unix_epfd >= 0)
		loop_del_fd(api->loop, api->unix_epfd);
	if (api->tcp_epfd >= 0)
		loop_del_fd(api->loop, api->tcp_epfd);
	if (api->unix_daemon) {
		MHD_stop_daemon(api->unix_daemon);
		unlink(api->socket_path);
	}
	if (api->tcp_daemon)
		MHD_stop_daemon(api->tcp_daemon);
	free(api);
}
