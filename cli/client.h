/* HTTP to tcpwatchd's Unix socket (libcurl). */
#ifndef TCPWATCH_CLIENT_H
#define TCPWATCH_CLIENT_H

#include <stddef.h>

struct tw_reply {
	int status;
	char *body; /* NUL-terminated, de-chunked; caller frees with reply_free */
	size_t len;
};

/* GETs path (with its query string) from the daemon at socket_path.
 * 0, or negative errno with a message for the user in err. */
int client_get(const char *socket_path, const char *path, struct tw_reply *ret, char *err,
	       size_t err_len);
/* The same with another method and a body (NULL: none). */
int client_request(const char *socket_path, const char *method, const char *path, const char *body,
		   struct tw_reply *ret, char *err, size_t err_len);
void reply_free(struct tw_reply *r);

/* Appends key=value to a query string, percent-encoding the value. */
void query_add(char *query, size_t len, const char *key, const char *value);

/* Streams a long-lived reply (server-sent events): calls line_cb for every
 * line of the body as it arrives, until the daemon closes or line_cb
 * returns non-zero. 0 when the stream ended, negative errno otherwise,
 * with a message in err (including an HTTP error's text). What line_cb
 * prints to stdout is flushed once per chunk of the body, not per line. */
typedef int (*client_line_cb)(const char *line, size_t len, void *data);
int client_stream(const char *socket_path, const char *path, client_line_cb line_cb, void *data,
		  char *err, size_t err_len);
#endif
