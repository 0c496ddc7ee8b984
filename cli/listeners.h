/* tcpwatch listeners, and `show` of a listener. */
#ifndef TCPWATCH_CLI_LISTENERS_H
#define TCPWATCH_CLI_LISTENERS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "opts.h"

/* The listener with this cookie: its queues, counters and its recent
 * half-opens as ladders. Returns an exit code. */
int listener_show(const struct cli_opts *o, const char *cookie);
/* What listener_show prints of a listener (GET /api/v1/listeners/ID). */
void listener_print(const cJSON *l);
/* The table of GET /api/v1/listeners (an array), process: the owners. */
void listeners_print(const cJSON *v, bool process, bool no_header);

#endif
