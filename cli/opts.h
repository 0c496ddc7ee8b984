/* The options every tcpwatch command takes. */
#ifndef TCPWATCH_CLI_OPTS_H
#define TCPWATCH_CLI_OPTS_H

#include <stdbool.h>

struct cli_opts {
	const char *socket_path;
	bool json;
};

#endif
