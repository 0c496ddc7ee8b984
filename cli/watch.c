/* tcpwatch watch: live transitions, one line each, like tcpstates. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fetch.h"
#include "client.h"
#include "addr.h"
#include "filterargs.h"
#include "tcpstate.h"

struct watch_ctx {
	bool json;
	bool header_done;
};

static int on_line(const char *line, size_t len, void *data)
{
	struct watch_ctx *w = data;
	char local[TW_ENDPOINT_STRLEN * 2], remote[TW_ENDPOINT_STRLEN * 2], comm[80];
	cJSON *e;

	if (len < 6 || strncmp(line, "data: ", 6)) /* comments, event: names */
		return 0;
	line += 6;
	len -= 6;
	if (w->json) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
		return 0; /* flushed once per chunk (client_stream) */
	}
	e = cli_json_parse(line, len);
	if (!e)
		return 0;
	if (cJSON_GetObjectItem(e, "dropped")) {
		printf("*** %.0f events dropped: this terminal reads too slowly\n",
		       json_num(e, "dropped", 0));
		cJSON_Delete(e);
		return 0;
	}
	if (!w->header_done) {
		printf("%-15s %-12s %-7s %-15s %-27s %-27s %-25s %10s\n", "TIME", "COOKIE", "PID",
		       "COMM", "LOCAL", "REMOTE", "TRANSITION", "MS");
		w->header_done = true;
	}
	json_endpoint(e, "local_addr", "local_port", local, sizeof(local));
	json_endpoint(e, "remote_addr", "remote_port", remote, sizeof(remote));
	{
		char t[64], what[64], pid[16] = "-", kind[24], a[24], b[24];

		json_str_safe(e, "time", "", t, sizeof(t));
		json_str_safe(e, "kind", "?", kind, sizeof(kind));
		if (!strcmp(kind, "state"))
			snprintf(what, sizeof(what), "%s -> %s",
				 json_str_safe(e, "from", "?", a, sizeof(a)),
				 json_str_safe(e, "to", "?", b, sizeof(b)));
		else
			snprintf(what, sizeof(what), "%s (%s)", kind,
				 json_str_safe(e, "state", "?", a, sizeof(a)));
		if (json_num(e, "pid", -1) >= 0)
			snprintf(pid, sizeof(pid), "%.0f", json_num(e, "pid", 0));
		printf("%-15.15s %-12.0f %-7s %-15.15s %-27s %-27s %-25s %10.3f\n",
		       strlen(t) > 11 ? t + 11 : t, json_num(e, "cookie", 0), pid,
		       json_str_safe(e, "comm", "-", comm, sizeof(comm)), local, remote, what,
		       json_num(e, "in_state_us", 0) / 1000);
	}
	cJSON_Delete(e);
	return 0;
}

void watch_print_line(const char *line, size_t len, bool json, bool *header_done)
{
	struct watch_ctx w = {.json = json, .header_done = *header_done};

	on_line(line, len, &w);
	*header_done = w.header_done;
}

int cmd_watch(const struct cli_opts *o, int argc, char **argv)
{
	struct filter_args fa = {0};
	struct watch_ctx w = {.json = o->json};
	char path[4096] = "/api/v1/events", query[3800] = "", err[512];
	int r;

	for (int i = 1; i < argc; i++) {
		r = filter_args_take(&fa, argc, argv, &i, "watch");
		if (r < 0)
			return 2;
		if (r == 0) {
			fprintf(stderr, "tcpwatch watch: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (filter_args_check(&fa, "watch") < 0 ||
	    filter_args_query(&fa, TW_STATES_ALL, query, sizeof(query), "watch") < 0)
		return 2;
	strncat(path, query, sizeof(path) - strlen(path) - 1);
	signal(SIGPIPE, SIG_DFL);
	r = client_stream(o->socket_path, path, on_line, &w, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "tcpwatch watch: %s\n", err);
		return 1;
	}
	return 0;
}
