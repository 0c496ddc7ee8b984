/* tcpwatch show COOKIE: one connection's life as a timeline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tcpstate.h"

static void print_header(const cJSON *c)
{
	const char *fam = json_str(c, "family", "inet");
	bool v6 = !strcmp(fam, "inet6");
	char age[16];

	format_duration_ms(json_num(c, "age_ms", -1), age, sizeof(age));
	printf("connection %.0f  %s  %s%s%s:%.0f -> %s%s%s:%.0f  netns %.0f\n",
	       json_num(c, "cookie", 0), fam, v6 ? "[" : "", json_str(c, "local_addr", "?"),
	       v6 ? "]" : "", json_num(c, "local_port", 0), v6 ? "[" : "",
	       json_str(c, "remote_addr", "?"), v6 ? "]" : "", json_num(c, "remote_port", 0),
	       json_num(c, "netns", 0));
	printf("  state %s%s  age %s  first seen %s\n", json_str(c, "state", "?"),
	       cJSON_IsTrue(cJSON_GetObjectItem(c, "closed")) ? " (closed)" : "", age,
	       json_str(c, "first_seen", "?"));
	if (json_str(c, "comm", NULL))
		printf("  process %s pid %.0f uid %.0f\n", json_str(c, "comm", "?"), json_num(c, "pid", 0),
		       json_num(c, "uid", 0));
	else
		printf("  process unknown, uid %.0f\n", json_num(c, "uid", 0));
	printf("  retransmits %.0f (SYN %.0f)  resets sent %.0f received %.0f\n",
	       json_num(c, "retransmits", 0), json_num(c, "syn_retransmits", 0),
	       json_num(c, "resets_sent", 0), json_num(c, "resets_received", 0));
	{
		const cJSON *ti = cJSON_GetObjectItem(c, "tcp_info");

		if (cJSON_IsObject(ti))
			printf("  rtt %.3f ms (var %.3f)  cwnd %.0f  bytes acked %.0f received %.0f\n",
			       json_num(ti, "rtt_us", 0) / 1000, json_num(ti, "rttvar_us", 0) / 1000,
			       json_num(ti, "snd_cwnd", 0), json_num(ti, "bytes_acked", 0),
			       json_num(ti, "bytes_received", 0));
	}
	if (!strcmp(json_str(c, "source", ""), "snapshot"))
		printf("  (found by a sock_diag snapshot: its life before that is unknown)\n");
}

static void print_history(const cJSON *c)
{
	const cJSON *h = cJSON_GetObjectItem(c, "history"), *e;
	double prev = -1;

	printf("\n  %-12s %-12s %s\n", "since start", "since prev", "event");
	cJSON_ArrayForEach(e, h)
	{
		const char *kind = json_str(e, "kind", "?");
		double t = json_num(e, "since_first_ns", 0) / 1e9;
		char since[32] = "";

		if (!strcmp(kind, "dropped")) {
			printf("  %-12s %-12s ... %.0f entries dropped ...\n", "", "",
			       json_num(e, "count", 0));
			continue;
		}
		if (prev >= 0)
			snprintf(since, sizeof(since), "+%.6fs", t - prev);
		printf("  %-12.6f %-12s ", t, since);
		if (!strcmp(kind, "state"))
			printf("%s -> %s", json_str(e, "from", "?"), json_str(e, "to", "?"));
		else
			printf("%s (in %s)", kind, json_str(e, "state", "?"));
		printf("%s\n", cJSON_IsTrue(cJSON_GetObjectItem(e, "derived")) ? "   [derived]" : "");
		prev = t;
	}
}

int cmd_show(const struct cli_opts *o, int argc, char **argv)
{
	char path[128];
	char *body;
	size_t len;
	cJSON *c;

	if (argc != 2) {
		fprintf(stderr, "tcpwatch show: needs exactly one COOKIE (from tcpwatch list)\n");
		return 2;
	}
	if (strspn(argv[1], "0123456789") != strlen(argv[1]) || strlen(argv[1]) > 20 || !*argv[1]) {
		fprintf(stderr, "tcpwatch show: '%s' is not a cookie (a decimal number)\n", argv[1]);
		return 2;
	}
	snprintf(path, sizeof(path), "/api/v1/connections/%s", argv[1]);
	body = cli_fetch(o, path, &len);
	if (!body)
		return 1;
	if (o->json) {
		fwrite(body, 1, len, stdout);
		free(body);
		return 0;
	}
	c = cJSON_ParseWithLength(body, len);
	free(body);
	if (!c) {
		fprintf(stderr, "tcpwatch show: malformed reply\n");
		return 1;
	}
	print_header(c);
	print_history(c);
	cJSON_Delete(c);
	return 0;
}
