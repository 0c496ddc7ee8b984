/* tcpwatch: the command-line client of tcpwatchd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

#define DEFAULT_SOCKET "/run/tcpwatch/tcpwatchd.sock"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcpwatch [--socket PATH] [--json] COMMAND [ARGS]\n\n"
		"Commands:\n"
		"  list, ls [-l|-a] [-4|-6] [-p] [-H] [state NAME]... [exclude NAME]... [EXPR]\n"
		"                      connections, like ss -tan. NAME: established, syn-sent,\n"
		"                      ..., or the groups all, connected, synchronized, bucket, big.\n"
		"                      EXPR in ss's grammar: '( dport = :443 or sport = :443 )'\n"
		"                      src 127.0.0.0/8 ...; -a adds retained closed connections\n"
		"  show COOKIE         one connection's life as a ladder diagram\n"
		"  watch [state NAME]... [EXPR]\n"
		"                      live transitions, one line each (like tcpstates)\n"
		"  findings            connections stuck in CLOSE_WAIT, TIME_WAIT/FIN_WAIT2\n"
		"                      pile-ups, failing connects, resetting peers\n"
		"  stats               the daemon's own counters\n\n"
		"Options (anywhere on the line):\n"
		"  -S, --socket PATH   tcpwatchd's API socket (default " DEFAULT_SOCKET
		", or $TCPWATCH_SOCKET)\n"
		"  -j, --json          JSON output\n"
		"  -h, --help          this text\n");
}

char *cli_fetch(const struct cli_opts *o, const char *path, size_t *ret_len)
{
	struct tw_reply r;
	char err[512];

	if (client_get(o->socket_path, path, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "tcpwatch: %s\n", err);
		return NULL;
	}
	if (r.status < 200 || r.status > 299) {
		cJSON *j = cJSON_Parse(r.body);

		fprintf(stderr, "tcpwatch: %s (HTTP %d)\n", json_str(j, "error", "request failed"),
			r.status);
		cJSON_Delete(j);
		reply_free(&r);
		return NULL;
	}
	if (ret_len)
		*ret_len = r.len;
	return r.body;
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
	*ret = cJSON_ParseWithLength(body, len);
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

int main(int argc, char **argv)
{
	struct cli_opts o = { .socket_path = getenv("TCPWATCH_SOCKET") };
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int n = 0, r;
	const char *cmd;

	if (!rest)
		return 1;
	if (!o.socket_path || !*o.socket_path)
		o.socket_path = DEFAULT_SOCKET;
	/* Global options may stand anywhere; the rest goes to the command. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--socket") || !strcmp(a, "-S")) {
			if (++i == argc) {
				fprintf(stderr, "tcpwatch: %s needs a path\n", a);
				free(rest);
				return 2;
			}
			o.socket_path = argv[i];
		} else if (!strncmp(a, "--socket=", 9)) {
			o.socket_path = a + 9;
		} else if (!strcmp(a, "--json") || !strcmp(a, "-j")) {
			o.json = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			free(rest);
			return 0;
		} else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("tcpwatch %s\n", TCPWATCH_VERSION);
			free(rest);
			return 0;
		} else {
			rest[n++] = argv[i];
		}
	}
	if (!n) {
		usage(stderr);
		free(rest);
		return 2;
	}
	cmd = rest[0];
	if (!strcmp(cmd, "list") || !strcmp(cmd, "ls"))
		r = cmd_list(&o, n, rest);
	else if (!strcmp(cmd, "show") || !strcmp(cmd, "history"))
		r = cmd_show(&o, n, rest);
	else if (!strcmp(cmd, "stats"))
		r = cmd_stats(&o, n, rest);
	else if (!strcmp(cmd, "watch"))
		r = cmd_watch(&o, n, rest);
	else if (!strcmp(cmd, "findings"))
		r = cmd_findings(&o, n, rest);
	else {
		fprintf(stderr, "tcpwatch: unknown command '%s' (see --help)\n", cmd);
		r = 2;
	}
	free(rest);
	return r;
}
