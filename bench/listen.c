/*
 * tw-listen: many listening loopback sockets to probe, for
 * bench/run-probe-rate.sh. Listener i is bound to 127.0.0.(A + i % ADDRS)
 * port PORT + i (so every target is its own address and port), listens
 * with a backlog of 4096 and never accepts: a SYN prober's SYN gets the
 * kernel's SYN-ACK, the prober's kernel answers that with a RST (no socket
 * of its own owns the port), and the request is gone again without a
 * connection ever being made.
 *
 *   tw-listen [-n LISTENERS] [-p PORT] [-a FIRST_HOST] [-A ADDRS] [-t SECONDS]
 *
 * Defaults: 200 listeners, ports from 20000 (below the ephemeral range),
 * addresses 127.0.0.2 .. 127.0.0.9 (-a 2 -A 8; 127.0.0.1 is left to
 * tw-churn's listeners). Prints "listen ADDR:PORT" per listener, then
 * "ready listeners=N", and holds them until SIGTERM or SIGINT, its parent's
 * death or the -t timeout (default 3600 s).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LISTENERS 4096
#define BACKLOG       4096

static volatile sig_atomic_t stop;

static void on_signal(int signo)
{
	(void)signo;
	stop = 1;
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [-n LISTENERS] [-p PORT] [-a FIRST_HOST] [-A ADDRS] [-t SECONDS]\n"
		"  listener i on 127.0.0.(FIRST_HOST + i %% ADDRS):(PORT + i)\n",
		prog);
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long n = 200, port = 20000, first = 2, addrs = 8, timeout = 3600;
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t block, old;
	int c, one = 1, *fds;

	while ((c = getopt(argc, argv, "n:p:a:A:t:h")) != -1) {
		switch (c) {
		case 'n':
			if (parse_uint(optarg, 1, MAX_LISTENERS, &n) < 0)
				return usage(stderr, argv[0]);
			break;
		case 'p':
			if (parse_uint(optarg, 1, 65535, &port) < 0)
				return usage(stderr, argv[0]);
			break;
		case 'a':
			if (parse_uint(optarg, 1, 254, &first) < 0)
				return usage(stderr, argv[0]);
			break;
		case 'A':
			if (parse_uint(optarg, 1, 254, &addrs) < 0)
				return usage(stderr, argv[0]);
			break;
		case 't':
			if (parse_uint(optarg, 1, 86400, &timeout) < 0)
				return usage(stderr, argv[0]);
			break;
		case 'h':
			return usage(stdout, argv[0]), 0;
		default:
			return usage(stderr, argv[0]);
		}
	}
	if (optind != argc || port + n - 1 > 65535 || first + addrs - 1 > 254)
		return usage(stderr, argv[0]);
	/* Blocked until sigsuspend(): none is lost between the test and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0; /* the parent is gone already */
	fds = calloc(n, sizeof(*fds));
	if (!fds)
		return perror("tw-listen"), 1;
	for (unsigned long i = 0; i < n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)(port + i))};
		char text[INET_ADDRSTRLEN];

		a.sin_addr.s_addr = htonl((127u << 24) | (uint32_t)(first + i % addrs));
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 ||
		    setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(fds[i], BACKLOG) < 0) {
			inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text));
			fprintf(stderr, "tw-listen: %s:%lu: %s\n", text, port + i, strerror(errno));
			return 1;
		}
		inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text));
		printf("listen %s:%lu\n", text, port + i);
	}
	printf("ready listeners=%lu\n", n);
	fflush(stdout);
	alarm((unsigned)timeout);
	sigdelset(&old, SIGTERM);
	sigdelset(&old, SIGINT);
	sigdelset(&old, SIGALRM);
	while (!stop)
		sigsuspend(&old);
	for (unsigned long i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return 0;
}
