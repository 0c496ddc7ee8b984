/*
 * tw-hold: open many established loopback TCP connections and hold them.
 *
 * A process may have at most 20000 descriptors on the machines this runs
 * on (and the limit cannot be raised), so the pairs are spread over worker
 * processes that each hold at most -w pairs (default 9000), both ends of
 * each pair in the same worker.  Each worker listens on LISTENERS_PER_WORKER
 * sockets, each on its own 127.0.0.x address with a kernel-chosen port, and
 * spreads its connections over them round robin, so no single destination
 * needs more than a few thousand ephemeral ports.
 *
 * Prints "ready pairs=N sockets=M workers=W" on stdout once every pair is
 * established, then holds them until SIGTERM or SIGINT or the -t timeout.
 * On the way out every socket is closed with SO_LINGER {1, 0} (an RST), so
 * a run leaves no TIME_WAIT sockets behind to use up the next run's ports.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, pipe2, IP_BIND_ADDRESS_NO_PORT */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS              1000000u
#define MAX_PAIRS_PER_WORKER     9500u
#define DEFAULT_PAIRS_PER_WORKER 9000u
#define MAX_WORKERS              256u
#define LISTENERS_PER_WORKER     4u
#define LISTEN_BACKLOG           1024
#define MAX_TIMEOUT_S            86400u
/* How long the workers may take to establish everything. */
#define SETUP_TIMEOUT_S 300
/* How long a worker may take to close its sockets once told to stop. */
#define STOP_GRACE_S  20
#define IO_TIMEOUT_MS 5000

struct hold_options {
	unsigned int sockets;
	unsigned int pairs_per_worker;
	unsigned int timeout_s;
	bool abort_close; /* close with RST (no TIME_WAIT left behind) */
};

/* What a worker reports to the parent through its pipe, once. */
struct worker_report {
	int32_t pairs; /* pairs established */
	int32_t error; /* 0, or the positive errno that stopped setup */
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [-n SOCKETS] [-w PAIRS_PER_WORKER] [-t SECONDS] [-f]\n"
		"  -n SOCKETS  established sockets to hold, both ends counted (default 100000;\n"
		"              an odd number is rounded up)\n"
		"  -w PAIRS    most pairs per worker process (default %u, max %u)\n"
		"  -t SECONDS  give up holding after this long (default 3600)\n"
		"  -f          close gracefully with FIN (default: RST, leaves no TIME_WAIT)\n"
		"Prints: ready pairs=N sockets=M workers=W\n",
		prog, DEFAULT_PAIRS_PER_WORKER, MAX_PAIRS_PER_WORKER);
}

static int parse_uint(const char *text, unsigned long max, unsigned int *ret)
{
	char *end;
	unsigned long value;

	errno = 0;
	value = strtoul(text, &end, 10);
	if (errno || end == text || *end || value > max || text[0] == '-')
		return -EINVAL;
	*ret = (unsigned int)value;
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval tv = {
		.tv_sec = IO_TIMEOUT_MS / 1000,
		.tv_usec = (IO_TIMEOUT_MS % 1000) * 1000,
	};

	/* Best effort: a failure here only loses the safety net. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void close_all(int *fds, unsigned int count, bool abort_close)
{
	struct linger linger = {.l_onoff = 1, .l_linger = 0};

	for (unsigned int i = 0; i < count; i++) {
		if (fds[i] < 0)
			continue;
		if (abort_close)
			(void)setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
		close(fds[i]);
		fds[i] = -1;
	}
}

/* Listener @index of worker @worker: 127.0.0.(2 + n % 250), port 0. */
static int open_listener(unsigned int worker, unsigned int index, struct sockaddr_in *ret_addr)
{
	unsigned int n = worker * LISTENERS_PER_WORKER + index;
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl((127u << 24) | (2 + n % 250)),
	};
	socklen_t len = sizeof(addr);
	int fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	set_timeouts(fd);
	*ret_addr = addr;
	return fd;
}

/*
 * Establish @pairs pairs, report to @report_fd, hold until told to stop.
 * Never returns.
 */
static void worker_run(const struct hold_options *opt, unsigned int worker, unsigned int pairs,
		       int report_fd)
{
	struct sockaddr_in servers[LISTENERS_PER_WORKER];
	int listeners[LISTENERS_PER_WORKER];
	struct worker_report report = {0, 0};
	struct timespec wait = {.tv_sec = opt->timeout_s + SETUP_TIMEOUT_S};
	sigset_t stop_signals;
	int *fds;
	unsigned int open_fds = 0;

	/* If the parent dies, stop (and close) like on SIGTERM. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(1);
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);

	for (unsigned int i = 0; i < LISTENERS_PER_WORKER; i++)
		listeners[i] = -1;
	fds = calloc((size_t)pairs * 2, sizeof(*fds));
	if (!fds) {
		report.error = ENOMEM;
		goto report;
	}
	for (unsigned int i = 0; i < LISTENERS_PER_WORKER; i++) {
		listeners[i] = open_listener(worker, i, &servers[i]);
		if (listeners[i] < 0) {
			report.error = -listeners[i];
			goto report;
		}
	}
	for (unsigned int i = 0; i < pairs; i++) {
		unsigned int l = i % LISTENERS_PER_WORKER;
		int client, accepted;

		client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (client < 0) {
			report.error = errno;
			break;
		}
		fds[open_fds++] = client;
		set_timeouts(client);
		if (connect(client, (struct sockaddr *)&servers[l], sizeof(servers[l])) < 0) {
			report.error = errno;
			break;
		}
		accepted = accept4(listeners[l], NULL, NULL, SOCK_CLOEXEC);
		if (accepted < 0) {
			report.error = errno;
			break;
		}
		fds[open_fds++] = accepted;
		report.pairs++;
	}
	/* The listeners are not part of what is held. */
	for (unsigned int i = 0; i < LISTENERS_PER_WORKER; i++) {
		if (listeners[i] >= 0)
			close(listeners[i]);
		listeners[i] = -1;
	}
report:
	if (write(report_fd, &report, sizeof(report)) != sizeof(report))
		report.error = report.error ? report.error : EPIPE;
	close(report_fd);
	if (!report.error)
		(void)sigtimedwait(&stop_signals, NULL, &wait);
	if (fds)
		close_all(fds, open_fds, opt->abort_close);
	for (unsigned int i = 0; i < LISTENERS_PER_WORKER; i++)
		if (listeners[i] >= 0)
			close(listeners[i]);
	_exit(report.error ? 1 : 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read every worker's report; returns the pairs established or -errno. */
static long collect_reports(const int *report_fds, unsigned int workers)
{
	struct pollfd pfds[MAX_WORKERS];
	unsigned int pending = workers;
	double deadline = now_s() + SETUP_TIMEOUT_S;
	long pairs = 0;
	int error = 0;

	for (unsigned int i = 0; i < workers; i++)
		pfds[i] = (struct pollfd){.fd = report_fds[i], .events = POLLIN};
	while (pending) {
		double left = deadline - now_s();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(pfds, workers, (int)(left * 1000) + 1);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (unsigned int i = 0; n > 0 && i < workers; i++) {
			struct worker_report report;

			if (pfds[i].fd < 0 || !pfds[i].revents)
				continue;
			if (read(pfds[i].fd, &report, sizeof(report)) != sizeof(report))
				report = (struct worker_report){0, EPIPE};
			if (report.error) {
				fprintf(stderr, "tw-hold: worker %u: %s after %d pairs\n", i,
					strerror(report.error), report.pairs);
				error = report.error;
			}
			pairs += report.pairs;
			pfds[i].fd = -1;
			pending--;
		}
	}
	return error ? -error : pairs;
}

static void stop_workers(const pid_t *pids, unsigned int workers)
{
	double deadline;
	unsigned int left = 0;

	for (unsigned int i = 0; i < workers; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
			left++;
		}
	}
	deadline = now_s() + STOP_GRACE_S;
	while (left && now_s() < deadline) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);

		if (pid > 0)
			left--;
		else if (pid < 0)
			break;
		else
			usleep(10000);
	}
	for (unsigned int i = 0; left && i < workers; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
}

int main(int argc, char **argv)
{
	struct hold_options opt = {
		.sockets = 100000,
		.pairs_per_worker = DEFAULT_PAIRS_PER_WORKER,
		.timeout_s = 3600,
		.abort_close = true,
	};
	pid_t pids[MAX_WORKERS] = {0};
	int report_fds[MAX_WORKERS];
	unsigned int pairs, workers, assigned = 0;
	struct rlimit nofile;
	struct timespec wait;
	sigset_t signals;
	long established;
	int c, sig, ret = 0;

	while ((c = getopt(argc, argv, "n:w:t:fh")) != -1) {
		switch (c) {
		case 'n':
			if (parse_uint(optarg, MAX_SOCKETS, &opt.sockets) < 0 || !opt.sockets)
				goto bad_usage;
			break;
		case 'w':
			if (parse_uint(optarg, MAX_PAIRS_PER_WORKER, &opt.pairs_per_worker) < 0 ||
			    !opt.pairs_per_worker)
				goto bad_usage;
			break;
		case 't':
			if (parse_uint(optarg, MAX_TIMEOUT_S, &opt.timeout_s) < 0 || !opt.timeout_s)
				goto bad_usage;
			break;
		case 'f':
			opt.abort_close = false;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			goto bad_usage;
		}
	}
	if (optind != argc)
		goto bad_usage;

	pairs = (opt.sockets + 1) / 2;
	workers = (pairs + opt.pairs_per_worker - 1) / opt.pairs_per_worker;
	if (workers > MAX_WORKERS) {
		fprintf(stderr, "tw-hold: %u workers needed, at most %u\n", workers, MAX_WORKERS);
		return 2;
	}
	/* Each worker needs two fds per pair plus a few. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)opt.pairs_per_worker * 2 + LISTENERS_PER_WORKER + 16 > nofile.rlim_cur) {
		fprintf(stderr, "tw-hold: -w %u needs %u descriptors, limit is %llu\n",
			opt.pairs_per_worker, opt.pairs_per_worker * 2 + LISTENERS_PER_WORKER + 16,
			(unsigned long long)nofile.rlim_cur);
		return 2;
	}

	/* Handled synchronously with sigtimedwait(); workers inherit this. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGCHLD);
	sigprocmask(SIG_BLOCK, &signals, NULL);

	for (unsigned int i = 0; i < workers; i++) {
		unsigned int share = pairs - assigned;
		int pipe_fds[2];

		if (share > opt.pairs_per_worker)
			share = opt.pairs_per_worker;
		if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
			perror("tw-hold: pipe");
			stop_workers(pids, i);
			return 1;
		}
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("tw-hold: fork");
			close(pipe_fds[0]);
			close(pipe_fds[1]);
			pids[i] = 0;
			stop_workers(pids, i);
			return 1;
		}
		if (pids[i] == 0) {
			close(pipe_fds[0]);
			for (unsigned int j = 0; j < i; j++)
				close(report_fds[j]);
			worker_run(&opt, i, share, pipe_fds[1]);
		}
		close(pipe_fds[1]);
		report_fds[i] = pipe_fds[0];
		assigned += share;
	}

	established = collect_reports(report_fds, workers);
	for (unsigned int i = 0; i < workers; i++)
		close(report_fds[i]);
	if (established < 0) {
		fprintf(stderr, "tw-hold: setup failed: %s\n", strerror((int)-established));
		stop_workers(pids, workers);
		return 1;
	}
	printf("ready pairs=%ld sockets=%ld workers=%u\n", established, established * 2, workers);
	fflush(stdout);

	/* Hold until a stop signal, a worker's death, or the timeout. */
	wait = (struct timespec){.tv_sec = opt.timeout_s};
	sig = sigtimedwait(&signals, NULL, &wait);
	if (sig == SIGCHLD) {
		fprintf(stderr, "tw-hold: a worker exited early\n");
		ret = 1;
	} else if (sig < 0 && errno == EAGAIN) {
		fprintf(stderr, "tw-hold: timeout after %u s\n", opt.timeout_s);
	}
	stop_workers(pids, workers);
	return ret;

bad_usage:
	usage(stderr, argv[0]);
	return 2;
}
