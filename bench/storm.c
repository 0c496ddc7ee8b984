/*
 * tw-storm: loopback connect/accept/close from several threads on one
 * shared listener, both sides closing at once with no data.
 *
 * Unlike tw-churn (one process per listener, strictly sequential), the
 * threads here run on both CPUs against one accept queue, and each
 * connection's two closes cross on the wire: a socket's state changes then
 * come from both the closing task and the softirq that handles the peer's
 * FIN, often on the same CPU within a few hundred nanoseconds. That is
 * the load where a tracing program is interrupted by a softirq that hits
 * its own tracepoint (the kernel's recursion guard: bpf/tcpwatch.bpf.c,
 * two copies), which tw-churn's pattern hardly ever produces.
 *
 * Ports: as tw-churn, each client binds a source address of 127.0.0.0/8
 * (IP_BIND_ADDRESS_NO_PORT keeps the port chosen at connect() time),
 * round robin over SOURCE_ADDRS per thread, so TIME_WAIT sockets never
 * exhaust a range.
 *
 * Output, one line on stdout:
 *   connections=N seconds=S rate=R errors=E threads=T
 *
 * -r RATE paces the threads (RATE/THREADS connections a second each): a
 * reader slower than the flat-out load (a sanitizer build's daemon) then
 * keeps up, and its rings never fill.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* IP_BIND_ADDRESS_NO_PORT */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS  64
#define SOURCE_ADDRS 64

struct worker {
	pthread_t tid;
	int index;
	uint64_t connections;
	uint64_t errors;
};

static int listener = -1;
static struct sockaddr_in target;
static atomic_bool stop;
static double interval; /* seconds between one thread's connections (-r), 0: flat out */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 127.1.T.K for thread T, K in 1..SOURCE_ADDRS. */
static void source_addr(struct sockaddr_in *a, int thread, unsigned k)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(0x7f010000u | ((uint32_t)(thread & 0xff) << 8) |
				   (uint32_t)(1 + k % SOURCE_ADDRS));
}

/* Sleeps until the thread's next connection is due (-r): the schedule is
 * absolute, so a late connection is made up by the ones after it. */
static void pace(double *due)
{
	double t;

	if (interval <= 0)
		return;
	*due += interval;
	t = now();
	if (*due > t) {
		struct timespec ts = {
			.tv_sec = (time_t)(*due - t),
			.tv_nsec = (long)((*due - t - (double)(time_t)(*due - t)) * 1e9)};

		nanosleep(&ts, NULL);
	} else if (t - *due > 1.0) {
		*due = t; /* more than a second behind: no burst to catch up */
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	double due = now();
	unsigned k = 0;
	int one = 1;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct sockaddr_in src;
		int c, a;

		pace(&due);
		c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (c < 0) {
			w->errors++;
			continue;
		}
		source_addr(&src, w->index, k++);
		setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c, (struct sockaddr *)&src, sizeof(src)) < 0 ||
		    connect(c, (struct sockaddr *)&target, sizeof(target)) < 0) {
			w->errors++;
			close(c);
			continue;
		}
		/* Some thread's connection: every thread queues one before it
		 * takes one, so the queue never runs dry for long. */
		a = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0) {
			w->errors++;
			close(c);
			continue;
		}
		close(a);
		close(c);
		w->connections++;
	}
	return NULL;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-d SECONDS] [-t THREADS] [-r RATE]\n"
		"  -d SECONDS  run this long (default 5, max 3600)\n"
		"  -t THREADS  threads sharing the listener (default 4, max %d)\n"
		"  -r RATE     at most RATE connections per second in all (default 0: flat out)\n",
		argv0, MAX_THREADS);
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_THREADS];
	uint64_t connections = 0, errors = 0;
	socklen_t len = sizeof(target);
	long seconds = 5, threads = 4, rate = 0;
	double t0, t1;
	int opt, one = 1;

	while ((opt = getopt(argc, argv, "d:t:r:h")) != -1) {
		char *end;

		switch (opt) {
		case 'd':
			seconds = strtol(optarg, &end, 10);
			if (*end || seconds < 1 || seconds > 3600) {
				usage(argv[0]);
				return 2;
			}
			break;
		case 't':
			threads = strtol(optarg, &end, 10);
			if (*end || threads < 1 || threads > MAX_THREADS) {
				usage(argv[0]);
				return 2;
			}
			break;
		case 'r':
			rate = strtol(optarg, &end, 10);
			if (*end || rate < 0 || rate > 10000000) {
				usage(argv[0]);
				return 2;
			}
			break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (rate > 0)
		interval = (double)threads / (double)rate;
	if (optind != argc) {
		usage(argv[0]);
		return 2;
	}
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listener, (struct sockaddr *)&target, sizeof(target)) < 0 ||
	    listen(listener, 4096) < 0 ||
	    getsockname(listener, (struct sockaddr *)&target, &len) < 0) {
		perror("tw-storm: listener");
		return 1;
	}
	t0 = now();
	for (long i = 0; i < threads; i++) {
		workers[i].index = (int)i;
		if (pthread_create(&workers[i].tid, NULL, run, &workers[i]) != 0) {
			fprintf(stderr, "tw-storm: cannot start thread %ld\n", i);
			return 1;
		}
	}
	sleep((unsigned)seconds);
	atomic_store(&stop, true);
	/* A thread blocked in accept() after the others stopped: one more
	 * connection each wakes them all. */
	for (long i = 0; i < threads; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (c >= 0 && connect(c, (struct sockaddr *)&target, sizeof(target)) == 0)
			close(c);
		else if (c >= 0)
			close(c);
	}
	for (long i = 0; i < threads; i++) {
		pthread_join(workers[i].tid, NULL);
		connections += workers[i].connections;
		errors += workers[i].errors;
	}
	t1 = now();
	close(listener);
	printf("connections=%llu seconds=%.3f rate=%.1f errors=%llu threads=%ld\n",
	       (unsigned long long)connections, t1 - t0, (double)connections / (t1 - t0),
	       (unsigned long long)errors, threads);
	return 0;
}
