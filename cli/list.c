/* tcpwatch list: connections as a table, like ss -tan, or as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "filterargs.h"
#include "tcpstate.h"

struct list_args {
	bool listening, all, v4, v6, process, no_header;
	struct filter_args filter;
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "tcpwatch list: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

static int parse_args(struct list_args *a, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int r = filter_args_take(&a->filter, argc, argv, &i, "list");

		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		if (s[0] == '-' && s[1] && s[1] != '-') {
			/* Bundled short flags, as in ss -tanp. */
			for (const char *f = s + 1; *f; f++) {
				switch (*f) {
				case 'l': a->listening = true; break;
				case 'a': a->all = true; break;
				case '4': a->v4 = true; break;
				case '6': a->v6 = true; break;
				case 'p': a->process = true; break;
				case 'H': a->no_header = true; break;
				case 't': case 'n': case 'e': case 'i': break; /* always TCP, numeric, detailed */
				default: {
					char flag[3] = { '-', *f, 0 };

					return usage_error("unknown option", flag);
				}
				}
			}
		} else if (!strcmp(s, "--listening")) {
			a->listening = true;
		} else if (!strcmp(s, "--all")) {
			a->all = true;
		} else if (!strcmp(s, "--processes")) {
			a->process = true;
		} else if (!strcmp(s, "--no-header")) {
			a->no_header = true;
		} else {
			return usage_error("unknown option", s);
		}
	}
	if (a->v4 && a->v6)
		return usage_error("-4 and -6 exclude each other", NULL);
	return filter_args_check(&a->filter, "list") < 0 ? 2 : 0;
}

static int build_query(const struct list_args *a, char *q, size_t len)
{
	uint32_t def;

	if (a->listening)
		def = TW_STATE_BIT(TW_TCP_LISTEN);
	else if (a->all) /* every state, and retained closed connections */
		def = TW_STATES_ALL;
	else /* ss's default: connected, without TIME_WAIT and SYN_RECV */
		def = TW_STATES_CONNECTED_DEFAULT;
	q[0] = '\0';
	if (filter_args_query(&a->filter, def, q, len, "list") < 0)
		return -1;
	if (a->v4)
		query_add(q, len, "family", "inet");
	if (a->v6)
		query_add(q, len, "family", "inet6");
	return 0;
}

static void endpoint(char *out, size_t len, const char *addr, double port, bool v6)
{
	if (v6)
		snprintf(out, len, "[%s]:%.0f", addr, port);
	else
		snprintf(out, len, "%s:%.0f", addr, port);
}

static void format_us(double us, char *out, size_t len)
{
	if (us < 0)
		snprintf(out, len, "-");
	else if (us < 1000)
		snprintf(out, len, "%.0fus", us);
	else if (us < 1000000)
		snprintf(out, len, "%.1fms", us / 1000);
	else
		snprintf(out, len, "%.2fs", us / 1e6);
}

static void print_row(const cJSON *row, const struct list_args *a)
{
	char local[80], remote[80], age[16], hs[16];
	bool v6 = !strcmp(json_str(row, "family", ""), "inet6");
	const char *state = json_str(row, "state", "?");
	int s = tcpstate_parse(state);
	bool closed = cJSON_IsTrue(cJSON_GetObjectItem(row, "closed"));

	endpoint(local, sizeof(local), json_str(row, "local_addr", "*"), json_num(row, "local_port", 0),
		 v6);
	if (json_num(row, "remote_port", 0) == 0)
		snprintf(remote, sizeof(remote), "%s:*", v6 ? "[::]" : "0.0.0.0");
	else
		endpoint(remote, sizeof(remote), json_str(row, "remote_addr", "*"),
			 json_num(row, "remote_port", 0), v6);
	format_duration_ms(json_num(row, "age_ms", -1), age, sizeof(age));
	format_us(json_num(row, "handshake_us", -1), hs, sizeof(hs));
	printf("%-11s %-27s %-27s %8s %8s", closed ? "CLOSED" : s > 0 ? tcpstate_ss_name(s) : state,
	       local, remote, age, hs);
	if (a->all)
		printf(" %-18s", json_str(row, "end_reason", "-"));
	printf(" %12.0f", json_num(row, "cookie", 0));
	if (a->process) {
		const char *comm = json_str(row, "comm", NULL);

		if (comm)
			printf(" users:((\"%s\",pid=%.0f))", comm, json_num(row, "pid", 0));
	}
	putchar('\n');
}

/* The daemon writes one row per line: parse them one at a time instead of
 * building a tree of the whole listing. */
static int print_table(char *body, const struct list_args *a)
{
	char *line = body, *next;

	if (!a->no_header) {
		printf("%-11s %-27s %-27s %8s %8s", "State", "Local Address:Port",
		       "Peer Address:Port", "Age", "Hshake");
		if (a->all)
			printf(" %-18s", "End");
		printf(" %12s%s\n", "Cookie", a->process ? " Process" : "");
	}
	for (; line && *line; line = next) {
		size_t n;
		cJSON *row;

		next = strchr(line, '\n');
		n = next ? (size_t)(next - line) : strlen(line);
		if (next)
			next++;
		if (n && line[n - 1] == ',')
			n--;
		if (!n || line[0] != '{')
			continue;
		row = cJSON_ParseWithLength(line, n);
		if (!row) {
			fprintf(stderr, "tcpwatch list: malformed row from tcpwatchd\n");
			return 1;
		}
		print_row(row, a);
		cJSON_Delete(row);
	}
	return 0;
}

int cmd_list(const struct cli_opts *o, int argc, char **argv)
{
	struct list_args a = { 0 };
	char path[4096] = "/api/v1/connections", query[3800];
	static char outbuf[1 << 20];
	char *body;
	size_t len;
	int r;

	r = parse_args(&a, argc, argv);
	if (r)
		return r;
	if (build_query(&a, query, sizeof(query)) < 0)
		return 2;
	strncat(path, query, sizeof(path) - strlen(path) - 1);
	body = cli_fetch(o, path, &len);
	if (!body)
		return 1;
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (o->json) {
		fwrite(body, 1, len, stdout);
		r = 0;
	} else {
		r = print_table(body, &a);
	}
	free(body);
	return r;
}
