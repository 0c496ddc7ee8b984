/*
 * tw-churn: loopback TCP connect/accept/close generator.
 *
 * Each worker process owns one listening socket and runs a tight
 * sequential loop on it: connect, accept, write a few bytes, client
 * close (FIN), server reads the bytes and EOF, server close.  On loopback
 * every step completes inside the syscall that starts it (the packets are
 * processed in softirq on the way out), so a single process needs no event
 * loop and never blocks for long.  The client is the active closer, so its
 * side ends in TIME_WAIT; the life of one connection is
 *
 *   client: CLOSE>SYN_SENT>ESTABLISHED>FIN_WAIT1>FIN_WAIT2>CLOSE
 *   server: LISTEN>SYN_RECV>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSE
 *
 * that is ten inet_sock_set_state transitions per connection.
 *
 * Ports: TIME_WAIT sockets hold the client's 4-tuple for 60 s.  To keep
 * far away from ephemeral port exhaustion without touching any sysctl,
 * IPv4 clients bind their source address (with IP_BIND_ADDRESS_NO_PORT, so
 * the port is still chosen at connect() time against the full 4-tuple)
 * to one of SOURCE_ADDRS_PER_WORKER addresses of 127.0.0.0/8 per worker,
 * taken round robin.  Each source address gives a whole ephemeral range
 * per listener.  IPv6 has a single loopback address, so there only the
 * per-worker listener ports spread the tuples.
 *
 * Output, one line on stdout:
 *   connections=N seconds=S rate=R errors=E workers=C
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, pipe2, IP_BIND_ADDRESS_NO_PORT */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS             64
#define MAX_DURATION_S          3600
#define SOURCE_ADDRS_PER_WORKER 256
/* A worker stops itself this long after its deadline, whatever happens. */
#define WORKER_GRACE_S 10
/* Receive/send timeout on every socket so that no call blocks forever. */
#define IO_TIMEOUT_MS 2000
#define PAYLOAD       "tw-churn"

struct worker_stats {
	uint64_t connections;
	uint64_t errors;
	int failed; /* setup failed: errno, or 0 */
} __attribute__((aligned(64)));

struct churn_options {
	unsigned int duration_s;
	unsigned int workers;
	unsigned int port;
	uint64_t max_connections; /* per run; 0 = unbounded */
	unsigned int interval_us; /* pause between connections; 0 = none */
	double rate;              /* connections/s of all workers together; 0 = no bound */
	const char *address;
	int family;
	struct sockaddr_storage listen_addr;
	socklen_t listen_addr_len;
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [-d SECONDS] [-c WORKERS] [-p PORT] [-a ADDR] [-n COUNT] [-i USEC] [-r "
		"RATE]\n"
		"  -d SECONDS  run this long (default 10, max %d)\n"
		"  -c WORKERS  worker processes, each one listener + one client (default 2, max "
		"%d)\n"
		"  -p PORT     first listener port; worker i listens on PORT+i (default 0 = kernel "
		"picks)\n"
		"  -a ADDR     listen address on loopback: 127.x.y.z or ::1 (default 127.0.0.1)\n"
		"  -n COUNT    stop after about COUNT connections in total (default: no limit)\n"
		"  -i USEC     sleep USEC between connections in each worker (default 0)\n"
		"  -r RATE     at most RATE connections/s in all, each worker on a schedule of\n"
		"              its own (it sleeps when a millisecond or more ahead of it)\n"
		"Prints: connections=N seconds=S rate=R errors=E workers=C\n",
		prog, MAX_DURATION_S, MAX_WORKERS);
}

static int parse_uint(const char *text, unsigned long long max, unsigned long long *ret_value)
{
	char *end;
	unsigned long long value;

	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno || end == text || *end || value > max || text[0] == '-')
		return -EINVAL;
	*ret_value = value;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set_timeouts(int fd)
{
	struct timeval tv = {
		.tv_sec = IO_TIMEOUT_MS / 1000,
		.tv_usec = (IO_TIMEOUT_MS % 1000) * 1000,
	};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

static int parse_address(struct churn_options *opt)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&opt->listen_addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&opt->listen_addr;

	memset(&opt->listen_addr, 0, sizeof(opt->listen_addr));
	if (inet_pton(AF_INET, opt->address, &sin->sin_addr) == 1) {
		/* Loopback only: 127.0.0.0/8. */
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			return -EINVAL;
		sin->sin_family = AF_INET;
		opt->family = AF_INET;
		opt->listen_addr_len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, opt->address, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		opt->family = AF_INET6;
		opt->listen_addr_len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static void set_port(struct sockaddr_storage *addr, unsigned int port)
{
	if (addr->ss_family == AF_INET)
		((struct sockaddr_in *)addr)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)addr)->sin6_port = htons(port);
}

/*
 * Source address number @index of worker @worker: 127.W.H.L with W =
 * worker + 1 and H.L = index + 1, so workers never share a source address
 * and none is 127.0.0.x (where listeners usually are).
 */
static void source_address(unsigned int worker, unsigned int index, struct sockaddr_in *ret_addr)
{
	uint32_t host = (127u << 24) | ((worker + 1) << 16) | (index + 1);

	memset(ret_addr, 0, sizeof(*ret_addr));
	ret_addr->sin_family = AF_INET;
	ret_addr->sin_addr.s_addr = htonl(host);
}

static int open_listener(const struct churn_options *opt, unsigned int worker,
			 struct sockaddr_storage *ret_addr, socklen_t *ret_len)
{
	struct sockaddr_storage addr = opt->listen_addr;
	socklen_t len = opt->listen_addr_len;
	int one = 1;
	int fd, err;

	set_port(&addr, opt->port ? opt->port + worker : 0);
	fd = socket(opt->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
		goto fail;
	err = set_timeouts(fd);
	if (err < 0) {
		close(fd);
		return err;
	}
	*ret_addr = addr;
	*ret_len = len;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* One connection's whole life; returns 0 or a negative errno. */
static int churn_one(const struct churn_options *opt, int listen_fd,
		     const struct sockaddr_storage *server, socklen_t server_len,
		     const struct sockaddr_in *source)
{
	char buf[64];
	int one = 1;
	int client, accepted, err = 0;
	ssize_t n;

	client = socket(opt->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (client < 0)
		return -errno;
	if (source) {
		if (setsockopt(client, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) <
			    0 ||
		    bind(client, (const struct sockaddr *)source, sizeof(*source)) < 0) {
			err = -errno;
			goto out_client;
		}
	}
	err = set_timeouts(client);
	if (err < 0)
		goto out_client;
	if (connect(client, (const struct sockaddr *)server, server_len) < 0) {
		err = -errno;
		goto out_client;
	}
	accepted = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (accepted < 0) {
		err = -errno;
		goto out_client;
	}
	if (write(client, PAYLOAD, sizeof(PAYLOAD) - 1) < 0)
		err = -errno;
	close(client);
	client = -1;
	/* Read the payload, then EOF (the client's FIN), then close. */
	for (int reads = 0; reads < 4; reads++) {
		n = read(accepted, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && !err)
				err = -errno;
			break;
		}
	}
	close(accepted);
out_client:
	if (client >= 0)
		close(client);
	return err;
}

static void worker_run(const struct churn_options *opt, unsigned int worker,
		       volatile struct worker_stats *stats, double deadline, uint64_t limit)
{
	struct sockaddr_storage server = {0};
	socklen_t server_len = 0;
	struct sockaddr_in source;
	unsigned int source_index = 0;
	int listen_fd;
	/* Each worker's schedule: connection n is due n / (rate / workers)
	 * seconds after the start. A sleep per connection would last the
	 * timer slack (about 55 us), far longer than one connection takes at
	 * these rates, so the worker runs until it is a millisecond ahead of
	 * the schedule and then sleeps that off at once. */
	double start = now_s(), period = opt->rate > 0 ? opt->workers / opt->rate : 0;

	/* Never outlive the parent or the deadline by much. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned int)(deadline - now_s()) + WORKER_GRACE_S);

	listen_fd = open_listener(opt, worker, &server, &server_len);
	if (listen_fd < 0) {
		stats->failed = -listen_fd;
		_exit(1);
	}
	while (now_s() < deadline && (!limit || stats->connections < limit)) {
		const struct sockaddr_in *src = NULL;

		if (opt->family == AF_INET) {
			source_address(worker, source_index, &source);
			source_index = (source_index + 1) % SOURCE_ADDRS_PER_WORKER;
			src = &source;
		}
		if (churn_one(opt, listen_fd, &server, server_len, src) < 0)
			stats->errors++;
		else
			stats->connections++;
		if (opt->interval_us)
			usleep(opt->interval_us);
		if (period > 0) {
			double ahead = start +
				       (double)(stats->connections + stats->errors) * period -
				       now_s();

			if (ahead >= 1e-3)
				usleep((useconds_t)(ahead * 1e6));
		}
	}
	close(listen_fd);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct churn_options opt = {
		.duration_s = 10,
		.workers = 2,
		.address = "127.0.0.1",
	};
	volatile struct worker_stats *stats;
	pid_t pids[MAX_WORKERS];
	unsigned long long value;
	uint64_t total = 0, errors = 0, per_worker_limit = 0;
	double start, deadline, elapsed;
	int c, status, failed = 0;

	while ((c = getopt(argc, argv, "d:c:p:a:n:i:r:h")) != -1) {
		switch (c) {
		case 'd':
			if (parse_uint(optarg, MAX_DURATION_S, &value) < 0 || !value)
				goto bad_usage;
			opt.duration_s = (unsigned int)value;
			break;
		case 'c':
			if (parse_uint(optarg, MAX_WORKERS, &value) < 0 || !value)
				goto bad_usage;
			opt.workers = (unsigned int)value;
			break;
		case 'p':
			if (parse_uint(optarg, 65535, &value) < 0)
				goto bad_usage;
			opt.port = (unsigned int)value;
			break;
		case 'a':
			opt.address = optarg;
			break;
		case 'n':
			if (parse_uint(optarg, UINT64_MAX, &value) < 0)
				goto bad_usage;
			opt.max_connections = value;
			break;
		case 'i':
			if (parse_uint(optarg, 1000000, &value) < 0)
				goto bad_usage;
			opt.interval_us = (unsigned int)value;
			break;
		case 'r':
			if (parse_uint(optarg, 100000000, &value) < 0 || !value)
				goto bad_usage;
			opt.rate = (double)value;
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
	if (opt.port && opt.port + opt.workers - 1 > 65535) {
		fprintf(stderr, "tw-churn: -p %u + %u workers passes 65535\n", opt.port,
			opt.workers);
		return 2;
	}
	if (parse_address(&opt) < 0) {
		fprintf(stderr, "tw-churn: -a %s: not a loopback address\n", opt.address);
		return 2;
	}
	if (opt.max_connections)
		per_worker_limit = (opt.max_connections + opt.workers - 1) / opt.workers;

	stats = mmap(NULL, sizeof(*stats) * opt.workers, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (stats == MAP_FAILED) {
		perror("tw-churn: mmap");
		return 1;
	}
	memset((void *)stats, 0, sizeof(*stats) * opt.workers);

	start = now_s();
	deadline = start + opt.duration_s;
	for (unsigned int i = 0; i < opt.workers; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("tw-churn: fork");
			for (unsigned int j = 0; j < i; j++)
				kill(pids[j], SIGKILL);
			for (unsigned int j = 0; j < i; j++)
				waitpid(pids[j], NULL, 0);
			return 1;
		}
		if (pids[i] == 0)
			worker_run(&opt, i, &stats[i], deadline, per_worker_limit);
	}
	/*
	 * Workers stop by themselves at the deadline and kill themselves
	 * with SIGALRM a little later; waitpid() therefore returns.
	 */
	for (unsigned int i = 0; i < opt.workers; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	}
	elapsed = now_s() - start;
	for (unsigned int i = 0; i < opt.workers; i++) {
		total += stats[i].connections;
		errors += stats[i].errors;
		if (stats[i].failed)
			fprintf(stderr, "tw-churn: worker %u: listener: %s\n", i,
				strerror(stats[i].failed));
	}
	printf("connections=%" PRIu64 " seconds=%.3f rate=%.1f errors=%" PRIu64 " workers=%u\n",
	       total, elapsed, elapsed > 0 ? (double)total / elapsed : 0.0, errors, opt.workers);
	return failed ? 1 : 0;

bad_usage:
	usage(stderr, argv[0]);
	return 2;
}
