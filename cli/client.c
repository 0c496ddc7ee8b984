#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"

#define REPLY_MAX_BYTES (1ull << 31) /* refuse replies over 2 GiB */

static int read_all(int fd, char **ret, size_t *ret_len)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap >= REPLY_MAX_BYTES) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Decodes a chunked body in place. Returns the new length or -EPROTO. */
static long dechunk(char *body, size_t len)
{
	char *in = body, *out = body, *end = body + len;

	for (;;) {
		char *eol;
		unsigned long size;

		eol = memmem(in, (size_t)(end - in), "\r\n", 2);
		if (!eol)
			return -EPROTO;
		size = strtoul(in, NULL, 16);
		in = eol + 2;
		if (size == 0)
			break;
		if (size > (size_t)(end - in))
			return -EPROTO;
		memmove(out, in, size);
		out += size;
		in += size;
		if (end - in < 2)
			return -EPROTO;
		in += 2;
	}
	*out = '\0';
	return out - body;
}

/* Connects to the daemon and sends a GET for path. Returns the socket, or
 * a negative errno with a message for the user in err. */
static int send_get(const char *socket_path, const char *path, const char *accept, char *err,
		    size_t err_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[8192];
	int fd, r;

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "socket path too long");
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	r = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: tcpwatch/" TCPWATCH_VERSION
		     "\r\nAccept: %s\r\nConnection: close\r\n\r\n",
		     path, accept);
	if (r < 0 || (size_t)r >= sizeof(req)) {
		snprintf(err, err_len, "request too long");
		return -E2BIG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		snprintf(err, err_len, "cannot reach tcpwatchd at %s: %s (is it running? try --socket)",
			 socket_path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	for (size_t off = 0; off < (size_t)r;) {
		ssize_t n = write(fd, req + off, (size_t)r - off);

		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			snprintf(err, err_len, "write: %s", strerror(e));
			close(fd);
			return -e;
		}
		off += (size_t)n;
	}
	return fd;
}

int client_get(const char *socket_path, const char *path, struct tw_reply *ret, char *err,
	       size_t err_len)
{
	char *raw = NULL, *hdr_end, *p;
	size_t raw_len = 0;
	int fd, r, status;
	bool chunked = false;

	fd = send_get(socket_path, path, "application/json", err, err_len);
	if (fd < 0)
		return fd;
	r = read_all(fd, &raw, &raw_len);
	close(fd);
	if (r < 0) {
		snprintf(err, err_len, "reading the reply: %s", strerror(-r));
		return r;
	}
	if (sscanf(raw, "HTTP/1.%*d %d", &status) != 1 ||
	    !(hdr_end = strstr(raw, "\r\n\r\n"))) {
		snprintf(err, err_len, "malformed reply from tcpwatchd");
		free(raw);
		return -EPROTO;
	}
	*hdr_end = '\0';
	for (p = strstr(raw, "\r\n"); p && p < hdr_end; p = strstr(p + 2, "\r\n")) {
		if (!strncasecmp(p + 2, "Transfer-Encoding:", 18) && strcasestr(p + 2, "chunked"))
			chunked = true;
	}
	hdr_end += 4;
	raw_len -= (size_t)(hdr_end - raw);
	memmove(raw, hdr_end, raw_len + 1);
	if (chunked) {
		long n = dechunk(raw, raw_len);

		if (n < 0) {
			snprintf(err, err_len, "malformed chunked reply from tcpwatchd");
			free(raw);
			return -EPROTO;
		}
		raw_len = (size_t)n;
	}
	ret->status = status;
	ret->body = raw;
	ret->len = raw_len;
	return 0;
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
		if ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		    *v == '-' || *v == '_' || *v == '.' || *v == ',' || *v == ':') {
			query[n++] = (char)*v;
		} else {
			query[n++] = '%';
			query[n++] = hex[*v >> 4];
			query[n++] = hex[*v & 15];
		}
	}
	query[n] = '\0';
}

/* Body bytes, already de-chunked, split into lines for the callback. */
struct line_splitter {
	char buf[64 * 1024];
	size_t len;
	client_line_cb cb;
	void *data;
};

static int feed_lines(struct line_splitter *ls, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			int r = ls->cb(ls->buf, ls->len, ls->data);

			ls->len = 0;
			if (r)
				return r;
		} else if (ls->len < sizeof(ls->buf) - 1) {
			ls->buf[ls->len++] = p[i];
		}
	}
	return 0;
}

int client_stream(const char *socket_path, const char *path, client_line_cb line_cb, void *data,
		  char *err, size_t err_len)
{
	struct line_splitter *ls;
	char *in;
	size_t in_len = 0, in_cap = 256 * 1024;
	bool headers_done = false, chunked = false;
	long chunk_left = -1; /* -1: expecting a chunk-size line */
	int fd, r = 0, status = 0;

	fd = send_get(socket_path, path, "text/event-stream", err, err_len);
	if (fd < 0)
		return fd;
	in = malloc(in_cap);
	ls = calloc(1, sizeof(*ls));
	if (!in || !ls) {
		free(in);
		free(ls);
		close(fd);
		return -ENOMEM;
	}
	ls->cb = line_cb;
	ls->data = data;
	r = 0;
	for (;;) {
		ssize_t n = read(fd, in + in_len, in_cap - in_len);
		size_t used = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		in_len += (size_t)n;
		if (!headers_done) {
			char *end = memmem(in, in_len, "\r\n\r\n", 4);

			if (!end) {
				if (in_len == in_cap) {
					snprintf(err, err_len, "reply headers too large");
					r = -EPROTO;
					break;
				}
				continue;
			}
			*end = '\0';
			if (sscanf(in, "HTTP/1.%*d %d", &status) != 1) {
				snprintf(err, err_len, "malformed reply from tcpwatchd");
				r = -EPROTO;
				break;
			}
			chunked = strcasestr(in, "transfer-encoding: chunked") != NULL;
			used = (size_t)(end + 4 - in);
			headers_done = true;
			if (status < 200 || status > 299) {
				/* The body is a JSON error: show it whole. */
				snprintf(err, err_len, "HTTP %d: %.*s", status,
					 (int)(in_len - used > 300 ? 300 : in_len - used), in + used);
				r = -EPROTO;
				break;
			}
		}
		while (used < in_len) {
			if (!chunked) {
				r = feed_lines(ls, in + used, in_len - used);
				used = in_len;
			} else if (chunk_left < 0) {
				char *eol = memmem(in + used, in_len - used, "\r\n", 2);

				if (!eol)
					break;
				chunk_left = strtol(in + used, NULL, 16);
				used = (size_t)(eol + 2 - in);
				if (chunk_left == 0)
					goto done;
			} else {
				size_t take = in_len - used;

				if ((long)take > chunk_left)
					take = (size_t)chunk_left;
				r = feed_lines(ls, in + used, take);
				used += take;
				chunk_left -= (long)take;
				if (chunk_left == 0) {
					if (in_len - used < 2)
						break; /* wait for the CRLF */
					used += 2;
					chunk_left = -1;
				}
			}
			if (r)
				goto done;
		}
		memmove(in, in + used, in_len - used);
		in_len -= used;
		if (chunk_left == 0 && in_len >= 2) {
			memmove(in, in + 2, in_len - 2);
			in_len -= 2;
			chunk_left = -1;
		}
	}
done:
	free(in);
	free(ls);
	close(fd);
	return r < 0 ? r : 0;
}
