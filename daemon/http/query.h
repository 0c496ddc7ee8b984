/*
 * Query strings: the connection filter (filter.h) and, for listings, how
 * they are written (format=, columns=, header=, sort=). Bounded in size.
 */
#ifndef TCPWATCH_QUERY_H
#define TCPWATCH_QUERY_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "filter.h"
#include "listsort.h"

#define HTTP_MAX_QUERY_BYTES 4096 /* all query keys and values together */

/* How a listing is written: JSON rows, or the text table of `tcpwatch list`. */
struct list_view {
	bool text;
	bool no_header;
	unsigned columns;     /* TEXT_COL_* */
	struct listsort sort; /* sort=: the rows' order (default: by cookie) */
};

struct query_error {
	unsigned status; /* 0: fine; else the HTTP status to answer */
	char message[256];
	bool has_offset; /* a filter= expression's error: offset of its bad token */
	int offset;
};

/* Applies conn's query string to filter and view. With filter NULL no
 * parameter is allowed; with view NULL no view parameter. Returns 0 or the
 * HTTP status of the error, with its message in *err. */
unsigned query_parse(struct MHD_Connection *conn, struct tw_filter *filter, struct list_view *view,
		     struct query_error *err);

/* Applies one parameter, as query_parse does for each (exposed for the
 * fuzz target). 0 or an HTTP status with the message in *err. */
unsigned query_apply(struct tw_filter *filter, struct list_view *view, const char *key,
		     const char *value, struct query_error *err);

#endif
