#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "query.h"
#include "text.h"

struct query_ctx {
	struct tw_filter *filter;
	struct list_view *view;
	size_t bytes;
	struct query_error *err;
};

static unsigned bad(struct query_error *err, const char *key, const char *value)
{
	err->status = MHD_HTTP_BAD_REQUEST;
	snprintf(err->message, sizeof(err->message), "%.64s: invalid value '%.64s'", key, value);
	return err->status;
}

/* format=, columns=, sort=, header=. Returns 1 if key was one of them (0 or an
 * error status in err), 0 if not. */
static int view_set(struct list_view *v, const char *key, const char *value,
		    struct query_error *err)
{
	if (!strcmp(key, "format")) {
		if (!strcmp(value, "json") || !strcmp(value, "text"))
			v->text = value[0] == 't';
		else
			bad(err, key, value);
		return 1;
	}
	if (!strcmp(key, "columns")) {
		if (text_parse_columns(value, &v->columns) < 0)
			bad(err, key, value);
		return 1;
	}
	if (!strcmp(key, "sort")) {
		if (listsort_parse(value, &v->sort) < 0) {
			err->status = MHD_HTTP_BAD_REQUEST;
			snprintf(err->message, sizeof(err->message),
				 "sort: unknown key '%.64s' (one of %s; -KEY for descending)",
				 value, listsort_keys_text);
		}
		return 1;
	}
	if (!strcmp(key, "header")) {
		if (strcmp(value, "0") && strcmp(value, "1"))
			bad(err, key, value);
		else
			v->no_header = value[0] == '0';
		return 1;
	}
	return 0;
}

unsigned query_apply(struct tw_filter *filter, struct list_view *view, const char *key,
		     const char *value, struct query_error *err)
{
	int r;

	if (!value)
		value = "";
	if (view && view_set(view, key, value, err))
		return err->status;
	if (!filter) {
		err->status = MHD_HTTP_BAD_REQUEST;
		snprintf(err->message, sizeof(err->message), "unknown parameter '%.64s'", key);
		return err->status;
	}
	r = filter_set(filter, key, value, err->message, sizeof(err->message));
	if (r == -ENOMEM) {
		err->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	} else if (r < 0) {
		err->status = MHD_HTTP_BAD_REQUEST;
		err->has_offset = filter->error_offset >= 0;
		err->offset = filter->error_offset;
	}
	return err->status;
}

static enum MHD_Result each(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_ctx *q = cls;

	(void)kind;
	q->bytes += strlen(key) + (value ? strlen(value) : 0) + 2;
	if (q->bytes > HTTP_MAX_QUERY_BYTES) {
		q->err->status = MHD_HTTP_URI_TOO_LONG;
		snprintf(q->err->message, sizeof(q->err->message),
			 "query string longer than %d bytes", HTTP_MAX_QUERY_BYTES);
		return MHD_NO;
	}
	return query_apply(q->filter, q->view, key, value, q->err) ? MHD_NO : MHD_YES;
}

unsigned query_parse(struct MHD_Connection *conn, struct tw_filter *filter, struct list_view *view,
		     struct query_error *err)
{
	struct query_ctx q = {.filter = filter, .view = view, .err = err};

	memset(err, 0, sizeof(*err));
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, each, &q);
	return err->status;
}
