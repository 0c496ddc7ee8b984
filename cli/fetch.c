#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "client.h"
#include "fetch.h"
#include "fmt.h"

/* s escaped in a new cJSON allocation, NULL if out of memory. */
static char *escaped(const char *s)
{
	size_t cap = strlen(s) * 4 + 1; /* at most \xHH per byte */
	char *out = cJSON_malloc(cap);

	if (out)
		tw_fmt_escaped(out, cap, s, 0);
	return out;
}

/* A key or string made safe; one that cannot be (out of memory) is cut at
 * its first byte: nothing unsafe is ever left. */
static void make_safe_text(char **text)
{
	char *e;

	if (!*text || !tw_fmt_needs_escape(*text, 0))
		return;
	e = escaped(*text);
	if (!e) {
		(*text)[0] = '\0';
		return;
	}
	cJSON_free(*text);
	*text = e;
}

void cli_json_make_safe(cJSON *j)
{
	for (; j; j = j->next) {
		if (!(j->type & cJSON_StringIsConst))
			make_safe_text(&j->string);
		if (cJSON_IsString(j) && !(j->type & cJSON_IsReference))
			make_safe_text(&j->valuestring);
		if (j->child)
			cli_json_make_safe(j->child);
	}
}

cJSON *cli_json_parse(const char *s, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(s, len);

	cli_json_make_safe(j);
	return j;
}

char *cli_fetch(const struct cli_opts *o, const char *path, size_t *ret_len)
{
	struct tw_reply r;
	char err[512], msg[512];

	if (client_get(o->socket_path, path, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "tcpwatch: %s\n", err);
		return NULL;
	}
	if (r.status < 200 || r.status > 299) {
		cJSON *j = r.body ? cli_json_parse(r.body, r.len) : NULL;

		fprintf(stderr, "tcpwatch: %s (HTTP %d)\n",
			json_str_safe(j, "error", "request failed", msg, sizeof(msg)), r.status);
		cJSON_Delete(j);
		reply_free(&r);
		return NULL;
	}
	if (ret_len)
		*ret_len = r.len;
	return r.body;
}

bool cli_fetch_quiet_ok(const struct cli_opts *o, const char *path)
{
	struct tw_reply r;
	char err[512];
	bool ok;

	if (client_get(o->socket_path, path, &r, err, sizeof(err)) < 0)
		return false;
	ok = r.status >= 200 && r.status <= 299;
	reply_free(&r);
	return ok;
}

int cli_fetch_json(const struct cli_opts *o, const char *path, const char *cmd, cJSON **ret)
{
	size_t len;
	char *body = cli_fetch(o, path, &len);

	if (!body)
		return -1;
	if (o->json) {
		fwrite(body, 1, len, stdout);
		free(body);
		return 0;
	}
	*ret = cli_json_parse(body, len);
	free(body);
	if (!*ret) {
		fprintf(stderr, "tcpwatch %s: malformed reply from tcpwatchd\n", cmd);
		return -1;
	}
	return 1;
}

const char *json_str(const cJSON *obj, const char *key, const char *fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : fallback;
}

double json_num(const cJSON *obj, const char *key, double fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

uint64_t json_u64(const cJSON *obj, const char *key, uint64_t fallback)
{
	double v = json_num(obj, key, -1);

	/* Converting a double outside the type's range is undefined: a
	 * negative or huge count from the wire is the fallback instead. */
	return v >= 0 && v < 18446744073709551616.0 ? (uint64_t)v : fallback;
}

const char *json_str_safe(const cJSON *obj, const char *key, const char *fallback, char *out,
			  size_t len)
{
	/* The tree was made safe where it was parsed (cli_json_parse); the
	 * fallback is ours. */
	if (len)
		snprintf(out, len, "%s", json_str(obj, key, fallback));
	return out;
}

const char *json_endpoint(const cJSON *obj, const char *addr_key, const char *port_key, char *out,
			  size_t len)
{
	char addr[TW_ADDR_STRLEN * 4 + 1];
	double port = json_num(obj, port_key, 0);

	json_str_safe(obj, addr_key, "?", addr, sizeof(addr));
	return tw_endpoint_format_text(addr, port >= 0 && port <= 65535 ? (uint16_t)port : 0, out,
				       len);
}
