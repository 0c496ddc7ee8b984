/* tcpwatch list -s: counts by state and family, as ss -s prints them. */
#ifndef TCPWATCH_CLI_SUMMARY_H
#define TCPWATCH_CLI_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "opts.h"
#include "tcpstate.h"

struct summary_counts {
	uint64_t states[2][TW_TCP_MAX_STATES]; /* [0] IPv4, [1] IPv6 */
	uint64_t closed[2];                    /* retained closed connections (daemon) */
	bool has_closed;                       /* from the daemon */
	bool has_orphaned;                     /* from the kernel */
	uint64_t orphaned;
};

/* From the daemon's GET /api/v1/summary (query: state=, filter=,
 * family=, netns=). With --json the body is printed as is. Exit code. */
int summary_from_daemon(const struct cli_opts *o, const char *query, bool colour);
/* The counts of a GET /api/v1/summary body into *ret. */
void summary_from_json(const cJSON *root, struct summary_counts *ret);
/* From sock_diag (the calling namespace). Exit code. */
int summary_from_kernel(const struct cli_opts *o, const char *query, bool colour);
/* Prints counts as ss -s does, then one row per state. */
void summary_print(const struct summary_counts *c, bool colour);

#endif
