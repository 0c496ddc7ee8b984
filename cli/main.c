/* tcpwatch: the command-line client of tcpwatchd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fmt.h"

#define DEFAULT_SOCKET "/run/tcpwatch/tcpwatchd.sock"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcpwatch [--socket PATH] [--json] COMMAND [ARGS]\n\n"
		"Commands:\n"
		"  list, ls [-l|-a] [-4|-6] [-p] [-o] [-e] [-i] [-m] [-s] [-N NS] [-H]\n"
		"        [--sort [-]KEY] [--reverse] [--kernel] [state NAME]... [exclude NAME]...\n"
		"        [EXPR]\n"
		"                      connections, like ss -tan. NAME: established, syn-sent,\n"
		"                      ..., or the groups all, connected, synchronized, bucket, "
		"big.\n"
		"                      EXPR in ss's grammar: '( dport = :443 or sport = :443 )'\n"
		"                      src 127.0.0.0/8 ...; -a adds retained closed connections\n"
		"                      -m socket memory (skmem), -s counts by state (ss -s);\n"
		"                      --sort state|local|remote|rtt|bytes|age|cookie (-KEY or\n"
		"                      --reverse: descending); --kernel, or no daemon running:\n"
		"                      straight from sock_diag (no histories or end reasons)\n"
		"  top [-d SECONDS] [-n COUNT] [-4|-6] [-p] [-N NS] [state NAME]... [EXPR]\n"
		"                      connections by throughput (tcp_info bytes acked and\n"
		"                      received, between sock_diag dumps), refreshed like top\n"
		"  show, history COOKIE\n"
		"                      one connection's life as a ladder diagram\n"
		"  watch [state NAME]... [EXPR]\n"
		"                      live transitions, one line each (like tcpstates)\n"
		"  listeners, ll [-a] [-p] [EXPR]\n"
		"                      listening sockets and their queues, like ss -ltn: accept\n"
		"                      queue, SYN queue, SYN-ACKs resent, half-opens, overflows,\n"
		"                      drops, accept wait; show COOKIE draws their half-opens\n"
		"  findings            connections stuck in CLOSE_WAIT, TIME_WAIT/FIN_WAIT2\n"
		"                      pile-ups, failing connects, resetting peers, full queues\n"
		"  probe HOST:PORT [-c COUNT] [-i INTERVAL] [-w TIMEOUT] [-4|-6]\n"
		"        [--netns PATH|INODE] [--trace] [--half-open]\n"
		"                      SYN probes from the daemon's raw socket: open (SYN-ACK),\n"
		"                      closed (RST), filtered; RTT from the kernel's timestamps;\n"
		"                      --trace: a TCP traceroute (TTL 1, 2, ...); --half-open:\n"
		"                      one SYN whose SYN-ACK is not reset (the peer's SYN queue)\n"
		"  stats               the daemon's own counters\n\n"
		"Options (anywhere on the line):\n"
		"  -S, --socket PATH   tcpwatchd's API socket (default " DEFAULT_SOCKET
		", or $TCPWATCH_SOCKET)\n"
		"  -j, --json          JSON output\n"
		"  -h, --help          this text\n");
}

struct command {
	const char *name, *alias;
	int (*run)(const struct cli_opts *o, int argc, char **argv);
};

static const struct command commands[] = {
	{"list", "ls", cmd_list},           {"show", "history", cmd_show},
	{"watch", NULL, cmd_watch},         {"findings", NULL, cmd_findings},
	{"listeners", "ll", cmd_listeners}, {"stats", NULL, cmd_stats},
	{"probe", NULL, cmd_probe},         {"top", NULL, cmd_top},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name) ||
		    (commands[i].alias && !strcmp(name, commands[i].alias)))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	struct cli_opts o = {.socket_path = getenv("TCPWATCH_SOCKET")};
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int n = 0, r;
	const struct command *cmd;

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
	cmd = find_command(rest[0]);
	if (cmd) {
		r = cmd->run(&o, n, rest);
	} else {
		char name[256];

		tw_fmt_escaped(name, sizeof(name), rest[0], 0);
		fprintf(stderr, "tcpwatch: unknown command '%s' (see --help)\n", name);
		r = 2;
	}
	free(rest);
	return r;
}
