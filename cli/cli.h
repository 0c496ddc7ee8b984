/* tcpwatch subcommands. Each returns the process exit code:
 * 0 done, 1 failed (daemon unreachable, not found...), 2 bad usage. */
#ifndef TCPWATCH_CLI_H
#define TCPWATCH_CLI_H

#include <stdbool.h>

#include <cjson/cJSON.h>

struct cli_opts {
	const char *socket_path;
	bool json;
};

int cmd_list(const struct cli_opts *o, int argc, char **argv);
int cmd_show(const struct cli_opts *o, int argc, char **argv);
int cmd_stats(const struct cli_opts *o, int argc, char **argv);
int cmd_watch(const struct cli_opts *o, int argc, char **argv);
int cmd_findings(const struct cli_opts *o, int argc, char **argv);

/* GETs path and, unless the status is 2xx, prints the daemon's error.
 * Returns the body (caller frees) or NULL. */
char *cli_fetch(const struct cli_opts *o, const char *path, size_t *ret_len);

/* GETs path; with --json prints the body as is and returns 0. Otherwise
 * parses it into *ret (caller deletes) and returns 1. -1 on failure
 * (printed). */
int cli_fetch_json(const struct cli_opts *o, const char *path, const char *cmd, cJSON **ret);

/* Field accessors tolerant of missing or null fields. */
const char *json_str(const cJSON *obj, const char *key, const char *fallback);
double json_num(const cJSON *obj, const char *key, double fallback);

#endif
