/* tcpwatch subcommands. Each returns the process exit code:
 * 0 done, 1 failed (daemon unreachable, not found...), 2 bad usage. */
#ifndef TCPWATCH_CLI_H
#define TCPWATCH_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "opts.h"

int cmd_list(const struct cli_opts *o, int argc, char **argv);
int cmd_show(const struct cli_opts *o, int argc, char **argv);
int cmd_stats(const struct cli_opts *o, int argc, char **argv);
int cmd_watch(const struct cli_opts *o, int argc, char **argv);
int cmd_findings(const struct cli_opts *o, int argc, char **argv);
int cmd_listeners(const struct cli_opts *o, int argc, char **argv);
int cmd_probe(const struct cli_opts *o, int argc, char **argv);
int cmd_top(const struct cli_opts *o, int argc, char **argv);

/* The renderers of the daemon's JSON, to stdout; whatever the JSON holds
 * (tests/fuzz/fuzz_cli_json.c feeds them anything). */
/* A connection (GET /api/v1/connections/ID): header and ladder. */
void show_print(const cJSON *c);
/* GET /api/v1/findings. */
void findings_print(const cJSON *root);
/* One line of the event stream, as `tcpwatch watch` prints it; the table
 * header before the first event, then *header_done is set. */
void watch_print_line(const char *line, size_t len, bool json, bool *header_done);
/* A probe job (GET /api/v1/probes/ID): one line per probe (not with
 * trace), then its hops (trace), SYN-ACKs and statistics. */
void probe_print(const char *target, const cJSON *job, bool trace);

#endif
