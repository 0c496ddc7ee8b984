/*
 * HTTP to tcpwatchd's Unix socket through libcurl: requests, replies of
 * any size (de-chunked by curl), and long-lived event streams split into
 * lines.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "fmt.h"

#define REPLY_MAX_BYTES   (1ull << 31) /* refuse replies over 2 GiB */
#define ERROR_BODY_MAX    (4 * 1024)   /* of an error reply, what is kept */
#define LINE_MAX_BYTES    (64 * 1024)  /* a longer event line is cut */
#define CONNECT_TIMEOUT_S 10L          /* a daemon that does not accept */
#define STALL_TIMEOUT_S   60L          /* a reply (not a stream) silent this long */

static bool curl_ready;

/* A handle for GET path on the daemon at socket_path. NULL with a message
 * in err. */
static CURL *open_get(const char *socket_path, const char *path, struct curl_slist **headers,
		      const char *accept, char *err, size_t err_len)
{
	char url[8192], hdr[128];
	CURL *c;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
			snprintf(err, err_len, "cannot initialise libcurl");
			return NULL;
		}
		curl_ready = true;
	}
	if ((size_t)snprintf(url, sizeof(url), "http://localhost%s", path) >= sizeof(url)) {
		snprintf(err, err_len, "request too long");
		return NULL;
	}
	c = curl_easy_init();
	if (!c) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(hdr, sizeof(hdr), "Accept: %s", accept);
	*headers = curl_slist_append(NULL, hdr);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tcpwatch/" TCPWATCH_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	return c;
}

/* A reply's body, bounded. */
struct body {
	char *data;
	size_t len, cap;
	size_t max;
	bool too_large; /* the reply went past max */
};

/* What a failed transfer means for a user; b: the reply's body, if kept. */
static int transfer_error(CURL *c, CURLcode code, const struct body *b, const char *socket_path,
			  char *err, size_t err_len)
{
	curl_off_t connected_us = 0;
	long os_errno = 0;
	const char *why;

	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected_us);
	if (code == CURLE_COULDNT_CONNECT || (code == CURLE_OPERATION_TIMEDOUT && !connected_us)) {
		if (code == CURLE_OPERATION_TIMEDOUT)
			why = "timed out";
		else
			why = os_errno ? strerror((int)os_errno) : "connection refused";
		snprintf(err, err_len,
			 "cannot reach tcpwatchd at %s: %s (is it running? try --socket)",
			 socket_path, why);
		if (code == CURLE_OPERATION_TIMEDOUT)
			return -ETIMEDOUT;
		return os_errno ? -(int)os_errno : -ECONNREFUSED;
	}
	if (code == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, err_len, "tcpwatchd at %s stopped answering (nothing for %ld s)",
			 socket_path, STALL_TIMEOUT_S);
		return -ETIMEDOUT;
	}
	if (code == CURLE_WRITE_ERROR && b && b->too_large) {
		snprintf(err, err_len, "the reply of tcpwatchd at %s is over %llu GiB", socket_path,
			 (unsigned long long)(b->max >> 30));
		return -EFBIG;
	}
	if (code == CURLE_WRITE_ERROR || code == CURLE_OUT_OF_MEMORY) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	snprintf(err, err_len, "talking to tcpwatchd at %s: %s", socket_path,
		 curl_easy_strerror(code));
	return -EPROTO;
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
	struct body *b = data;
	size_t len = size * n;

	if (len > b->max - b->len) {
		b->too_large = true;
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 16;
		char *d;

		while (cap < b->len + len + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

int client_get(const char *socket_path, const char *path, struct tw_reply *ret, char *err,
	       size_t err_len)
{
	return client_request(socket_path, "GET", path, NULL, ret, err, err_len);
}

int client_request(const char *socket_path, const char *method, const char *path, const char *body,
		   struct tw_reply *ret, char *err, size_t err_len)
{
	struct curl_slist *headers = NULL;
	struct body b = {.max = REPLY_MAX_BYTES};
	CURL *c = open_get(socket_path, path, &headers, "application/json", err, err_len);
	CURLcode code;
	long status = 0;
	int r = 0;

	if (!c)
		return -ENOMEM;
	if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	/* A reply comes at once; a daemon silent this long is stuck. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
	code = curl_easy_perform(c);
	if (code != CURLE_OK) {
		r = transfer_error(c, code, &b, socket_path, err, err_len);
		free(b.data);
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (!b.data)
			b.data = calloc(1, 1);
		ret->status = (int)status;
		ret->body = b.data;
		ret->len = b.len;
		if (!b.data)
			r = -ENOMEM;
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	return r;
}

void reply_free(struct tw_reply *r)
{
	free(r->body);
	r->body = NULL;
}

void query_add(char *query, size_t len, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(query);

	if (n + strlen(key) + 3 * strlen(value) + 3 >= len)
		return;
	n += (size_t)sprintf(query + n, "%s%s=", n ? "&" : "?", key);
	for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
		if ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		    (*v >= '0' && *v <= '9') || *v == '-' || *v == '_' || *v == '.' || *v == ',' ||
		    *v == ':') {
			query[n++] = (char)*v;
		} else {
			query[n++] = '%';
			query[n++] = hex[*v >> 4];
			query[n++] = hex[*v & 15];
		}
	}
	query[n] = '\0';
}

/* An event stream: its body split into lines for the callback, or, when
 * the daemon refused it, the error body kept for the message. */
struct stream {
	CURL *curl;
	long status;
	client_line_cb cb;
	void *data;
	int stopped; /* the callback's non-zero answer */
	char line[LINE_MAX_BYTES];
	size_t line_len;
	struct body error;
};

static size_t on_stream(char *p, size_t size, size_t n, void *data)
{
	struct stream *s = data;
	size_t len = size * n;

	if (!s->status)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status < 200 || s->status > 299) {
		size_t room = s->error.max - s->error.len; /* the head is kept */

		if (room)
			on_body(p, 1, len < room ? len : room, &s->error);
		return len;
	}
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t seg = (nl ? (size_t)(nl - p) : len) - i;
		size_t room = sizeof(s->line) - 1 - s->line_len;

		/* A line over LINE_MAX_BYTES keeps its head. */
		memcpy(s->line + s->line_len, p + i, seg < room ? seg : room);
		s->line_len += seg < room ? seg : room;
		i += seg;
		if (!nl)
			break;
		i++;
		s->line[s->line_len] = '\0';
		s->stopped = s->cb(s->line, s->line_len, s->data);
		s->line_len = 0;
		if (s->stopped) {
			fflush(stdout);
			return 0; /* ends the transfer */
		}
	}
	/* What the callbacks printed goes out once per chunk received, not
	 * once per line: at peak churn a reader flushing each event spent
	 * most of its time in write(). */
	fflush(stdout);
	return len;
}

int client_stream(const char *socket_path, const char *path, client_line_cb line_cb, void *data,
		  char *err, size_t err_len)
{
	struct curl_slist *headers = NULL;
	struct stream *s = calloc(1, sizeof(*s));
	CURLcode code;
	int r = 0;

	if (!s) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->curl = open_get(socket_path, path, &headers, "text/event-stream", err, err_len);
	if (!s->curl) {
		free(s);
		return -ENOMEM;
	}
	s->cb = line_cb;
	s->data = data;
	s->error.max = ERROR_BODY_MAX;
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	code = curl_easy_perform(s->curl);
	if (s->status && (s->status < 200 || s->status > 299)) {
		/* The body is a JSON error: show it whole (escaped: it may
		 * quote what the user typed). */
		int n = snprintf(err, err_len, "HTTP %ld: ", s->status);

		if (n > 0 && (size_t)n < err_len)
			tw_fmt_escaped(err + n, err_len - (size_t)n,
				       s->error.data ? s->error.data : "", 0);
		r = -EPROTO;
	} else if (code != CURLE_OK && !s->stopped) {
		r = transfer_error(s->curl, code, NULL, socket_path, err, err_len);
	}
	free(s->error.data);
	curl_slist_free_all(headers);
	curl_easy_cleanup(s->curl);
	free(s);
	return r;
}
