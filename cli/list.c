/* tcpwatch list: connections as a table, like ss -tan, or as JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "fetch.h"
#include "client.h"
#include "filterargs.h"
#include "tcpstate.h"

struct list_args {
	bool listening, all, v4, v6, process, no_header, timers, ext, info;
	char netns[16]; /* -N: an inode in decimal, "" all */
	struct filter_args filter;
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "tcpwatch list: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

/* -N NAME (of /run/netns, as ss -N), a path, or an inode: the inode. */
static int netns_arg(const char *v, char *out, size_t len)
{
	char path[300];
	struct stat st;
	char *end;
	unsigned long ino = strtoul(v, &end, 10);

	if (*v >= '0' && *v <= '9' && !*end && ino && ino <= UINT32_MAX) {
		snprintf(out, len, "%lu", ino);
		return 0;
	}
	snprintf(path, sizeof(path), v[0] == '/' ? "%s" : "/run/netns/%s", v);
	if (strchr(v, '/') && v[0] != '/')
		return -1;
	if (stat(path, &st) < 0)
		return -1;
	snprintf(out, len, "%lu", (unsigned long)st.st_ino);
	return 0;
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
		if (!strcmp(s, "-N") || !strcmp(s, "--net") || !strncmp(s, "--net=", 6)) {
			const char *v =
				s[1] == 'N' || !s[5] ? (i + 1 < argc ? argv[++i] : NULL) : s + 6;

			if (!v || netns_arg(v, a->netns, sizeof(a->netns)) < 0)
				return usage_error(
					"-N takes a namespace name (/run/netns), a path or an "
					"inode:",
					v ? v : "(none)");
			continue;
		}
		if (s[0] == '-' && s[1] && s[1] != '-') {
			/* Bundled short flags, as in ss -tanp. */
			for (const char *f = s + 1; *f; f++) {
				switch (*f) {
				case 'l':
					a->listening = true;
					break;
				case 'a':
					a->all = true;
					break;
				case '4':
					a->v4 = true;
					break;
				case '6':
					a->v6 = true;
					break;
				case 'p':
					a->process = true;
					break;
				case 'H':
					a->no_header = true;
					break;
				case 't':
				case 'n':
					break; /* always TCP and numeric */
				case 'o':
					a->timers = true;
					break;
				case 'e':
					a->ext = true;
					break;
				case 'i':
					a->info = true;
					break;
				case 'm':
					return usage_error(
						"-m (socket memory) is not available: the "
						"daemon does not sample skmeminfo",
						NULL);
				default: {
					char flag[3] = {'-', *f, 0};

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
		} else if (!strcmp(s, "--options")) {
			a->timers = true;
		} else if (!strcmp(s, "--extended")) {
			a->ext = true;
		} else if (!strcmp(s, "--info")) {
			a->info = true;
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
	if (a->netns[0])
		query_add(q, len, "netns", a->netns);
	if (a->v4)
		query_add(q, len, "family", "inet");
	if (a->v6)
		query_add(q, len, "family", "inet6");
	return 0;
}

/* The table itself is rendered by the daemon (format=text): one place
 * for its columns, and no parsing here. */
static void add_view(const struct list_args *a, bool json, char *q, size_t len)
{
	char cols[64] = "";
	const struct {
		bool on;
		const char *name;
	} opt[] = {{a->process, "process"},
		   {a->all, "end"},
		   {a->timers, "timer"},
		   {a->ext, "ext"},
		   {a->info, "info"}};

	if (json)
		return;
	query_add(q, len, "format", "text");
	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
		if (opt[i].on) {
			if (*cols)
				strcat(cols, ",");
			strcat(cols, opt[i].name);
		}
	if (*cols)
		query_add(q, len, "columns", cols);
	if (a->no_header)
		query_add(q, len, "header", "0");
}

int cmd_list(const struct cli_opts *o, int argc, char **argv)
{
	struct list_args a = {0};
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
	add_view(&a, o->json, query, sizeof(query));
	strncat(path, query, sizeof(path) - strlen(path) - 1);
	body = cli_fetch(o, path, &len);
	if (!body)
		return 1;
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	fwrite(body, 1, len, stdout);
	free(body);
	return 0;
}
