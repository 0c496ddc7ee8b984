/* tcpwatch subcommands. Each returns the process exit code:
 * 0 done, 1 failed (daemon unreachable, not found...), 2 bad usage. */
#ifndef TCPWATCH_CLI_H
#define TCPWATCH_CLI_H

#include "opts.h"

int cmd_list(const struct cli_opts *o, int argc, char **argv);
int cmd_show(const struct cli_opts *o, int argc, char **argv);
int cmd_stats(const struct cli_opts *o, int argc, char **argv);
int cmd_watch(const struct cli_opts *o, int argc, char **argv);
int cmd_findings(const struct cli_opts *o, int argc, char **argv);
int cmd_listeners(const struct cli_opts *o, int argc, char **argv);
int cmd_probe(const struct cli_opts *o, int argc, char **argv);
int cmd_top(const struct cli_opts *o, int argc, char **argv);

#endif
