/* tcpwatch list: connections as a table, like ss -tan, or as JSON. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "colour.h"
#include "fetch.h"
#include "client.h"
#include "filterargs.h"
#include "kernel.h"
#include "listsort.h"
#include "summary.h"
#include "tcpstate.h"
#include "text.h"

struct list_args {
	bool listening, all, v4, v6, process, no_header, timers, ext, info, mem;
	bool summary, kernel, reverse;
	char sort[16];        /* --sort KEY, "" the default order */
	char netns[16];       /* -N: an inode in decimal, "" all */
	char netns_path[300]; /* -N NAME or PATH: the namespace's file ("" for an inode) */
	struct filter_args filter;
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "tcpwatch list: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

/* -N NAME (of /run/netns, as ss -N), a path, or an inode: the inode. */
static int netns_arg(const char *v, char *out, size_t len, char *path, size_t path_len)
{
	struct stat st;
	char *end;
	unsigned long ino = strtoul(v, &end, 10);

	if (*v >= '0' && *v <= '9' && !*end && ino && ino <= UINT32_MAX) {
		snprintf(out, len, "%lu", ino);
		path[0] = '\0';
		return 0;
	}
	snprintf(path, path_len, v[0] == '/' ? "%s" : "/run/netns/%s", v);
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
		/* -4 and -6 (maybe bundled: -6p) are options, not numbers of an
		 * expression. */
		bool family_flag = s[0] == '-' && (s[1] == '4' || s[1] == '6');
		int r = family_flag ? 0 : filter_args_take(&a->filter, argc, argv, &i, "list");

		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		if (!strcmp(s, "-N") || !strcmp(s, "--net") || !strncmp(s, "--net=", 6)) {
			const char *v =
				s[1] == 'N' || !s[5] ? (i + 1 < argc ? argv[++i] : NULL) : s + 6;

			if (!v || netns_arg(v, a->netns, sizeof(a->netns), a->netns_path,
					    sizeof(a->netns_path)) < 0)
				return usage_error(
					"-N takes a namespace name (/run/netns), a path or an "
					"inode:",
					v ? v : "(none)");
			continue;
		}
		if (!strcmp(s, "--sort") || !strncmp(s, "--sort=", 7)) {
			const char *v = s[6] ? s + 7 : (i + 1 < argc ? argv[++i] : NULL);
			struct listsort ls;

			if (!v || strlen(v) >= sizeof(a->sort) || listsort_parse(v, &ls) < 0) {
				fprintf(stderr,
					"tcpwatch list: --sort: unknown key '%.32s' (one of %s; "
					"-KEY for descending)\n",
					v ? v : "", listsort_keys_text);
				return 2;
			}
			snprintf(a->sort, sizeof(a->sort), "%s", v);
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
					a->mem = true;
					break;
				case 's':
					a->summary = true;
					break;
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
		} else if (!strcmp(s, "--memory")) {
			a->mem = true;
		} else if (!strcmp(s, "--summary")) {
			a->summary = true;
		} else if (!strcmp(s, "--kernel")) {
			a->kernel = true;
		} else if (!strcmp(s, "--reverse")) {
			a->reverse = true;
		} else {
			return usage_error("unknown option", s);
		}
	}
	if (a->v4 && a->v6)
		return usage_error("-4 and -6 exclude each other", NULL);
	return filter_args_check(&a->filter, "list") < 0 ? 2 : 0;
}

/* kernel: the query for the daemon-less list (no namespace: -N enters it). */
static int build_query(const struct list_args *a, char *q, size_t len, bool kernel)
{
	uint32_t def;

	if (a->summary && !a->listening && !a->all)
		def = TW_STATES_ALL; /* ss -s counts every socket */
	else if (a->listening)
		def = TW_STATE_BIT(TW_TCP_LISTEN);
	else if (a->all) /* every state, and retained closed connections */
		def = TW_STATES_ALL;
	else /* ss's default: connected, without TIME_WAIT and SYN_RECV */
		def = TW_STATES_CONNECTED_DEFAULT;
	q[0] = '\0';
	if (filter_args_query(&a->filter, def, q, len, "list") < 0)
		return -1;
	if (a->netns[0] && !kernel)
		query_add(q, len, "netns", a->netns);
	if (a->v4)
		query_add(q, len, "family", "inet");
	if (a->v6)
		query_add(q, len, "family", "inet6");
	return 0;
}

/* --sort KEY with --reverse: the key as sort= takes it ("-rtt"). */
static void sort_value(const struct list_args *a, char *out, size_t len)
{
	const char *key = a->sort[0] == '-' || a->sort[0] == '+' ? a->sort + 1 : a->sort;
	bool desc = (a->sort[0] == '-') != a->reverse;

	snprintf(out, len, "%s%s", desc ? "-" : "", a->sort[0] ? key : "cookie");
}

static unsigned view_columns(const struct list_args *a)
{
	return (a->process ? TEXT_COL_PROCESS : 0) | (a->all ? TEXT_COL_END : 0) |
	       (a->timers ? TEXT_COL_TIMER : 0) | (a->ext ? TEXT_COL_EXT : 0) |
	       (a->info ? TEXT_COL_INFO : 0) | (a->mem ? TEXT_COL_MEM : 0);
}

/* The table itself is rendered by the daemon (format=text): one place
 * for its columns, and no parsing here. */
static void add_view(const struct list_args *a, bool json, char *q, size_t len)
{
	char cols[64] = "";
	const struct {
		bool on;
		const char *name;
	} opt[] = {{a->process, "process"}, {a->all, "end"},   {a->timers, "timer"},
		   {a->ext, "ext"},         {a->info, "info"}, {a->mem, "mem"}};

	if (a->sort[0] || a->reverse) {
		char v[24];

		sort_value(a, v, sizeof(v));
		query_add(q, len, "sort", v);
	}
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

/* Whether tcpwatchd answers at path: absent or refusing means no daemon
 * (then the kernel is asked); anything else is the fetch's to report. */
static bool daemon_absent(const char *path, int *ret_errno)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, e = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		e = errno;
	close(fd);
	*ret_errno = e;
	return e == ENOENT || e == ECONNREFUSED || e == ENOTDIR;
}

static int list_kernel(const struct cli_opts *o, const struct list_args *a, bool colour)
{
	char query[3800];
	struct kernel_list_opts ko = {.query = query,
				      .columns = (view_columns(a) & ~(unsigned)TEXT_COL_END) |
						 TEXT_COL_QUEUES,
				      .no_header = a->no_header,
				      .processes = a->process,
				      .colour = colour};
	int r;

	if (a->netns[0] && !a->netns_path[0]) {
		fprintf(stderr, "tcpwatch list: without the daemon, -N takes a namespace name or "
				"path, not an inode\n");
		return 2;
	}
	if (o->json && !a->summary) {
		fprintf(stderr,
			"tcpwatch list: --json needs the daemon (its connection records)\n");
		return 2;
	}
	if (build_query(a, query, sizeof(query), true) < 0)
		return 2;
	if (a->sort[0] || a->reverse) {
		char v[24];

		sort_value(a, v, sizeof(v));
		listsort_parse(v, &ko.sort);
	}
	if (a->netns_path[0] && (r = kernel_enter_netns(a->netns_path)) < 0) {
		fprintf(stderr, "tcpwatch list: -N %s: %s\n", a->netns_path, strerror(-r));
		return 1;
	}
	if (a->summary)
		return summary_from_kernel(o, query, colour);
	return kernel_list(&ko);
}

int cmd_list(const struct cli_opts *o, int argc, char **argv)
{
	struct list_args a = {0};
	char path[4096] = "/api/v1/connections", query[3800];
	static char outbuf[1 << 20];
	bool colour = !o->json && colour_wanted(STDOUT_FILENO);
	char *body;
	size_t len;
	int r, e = 0;

	r = parse_args(&a, argc, argv);
	if (r)
		return r;
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (a.kernel || daemon_absent(o->socket_path, &e)) {
		if (a.kernel)
			fprintf(stderr, "tcpwatch: from the kernel (sock_diag): histories, end "
					"reasons and closed connections need the daemon\n");
		else
			fprintf(stderr,
				"tcpwatch: tcpwatchd is not running (%s: %s); from the kernel "
				"(sock_diag): histories, end reasons and closed connections need "
				"the daemon\n",
				o->socket_path, strerror(e));
		return list_kernel(o, &a, colour);
	}
	if (build_query(&a, query, sizeof(query), false) < 0)
		return 2;
	if (a.summary)
		return summary_from_daemon(o, query, colour);
	add_view(&a, o->json, query, sizeof(query));
	strncat(path, query, sizeof(path) - strlen(path) - 1);
	body = cli_fetch(o, path, &len);
	if (!body)
		return 1;
	colour_write_table(stdout, body, len, colour);
	free(body);
	return 0;
}
