/* tcpwatch listeners, and `show` of a listener. */
#ifndef TCPWATCH_CLI_LISTENERS_H
#define TCPWATCH_CLI_LISTENERS_H

#include "opts.h"

/* The listener with this cookie: its queues, counters and its recent
 * half-opens as ladders. Returns an exit code. */
int listener_show(const struct cli_opts *o, const char *cookie);

#endif
