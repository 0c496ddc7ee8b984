/*
 * tw-drops: a flood of packets the local kernel drops, on loopback, to
 * measure what the kfree_skb program costs per drop.
 *
 *   udp   UDP datagrams to a port nothing listens on: each is freed with
 *         the reason NO_SOCKET. Not TCP: the program's filter turns it away
 *         (it reads the IP header and stops), the cost every other drop of
 *         a host pays.
 *   tcp   TCP segments (ACK, from a raw socket) to a port nothing listens
 *         on: each is freed with NO_SOCKET after the kernel answers it with
 *         a RST, which nothing expects either and is dropped too: two TCP
 *         drops per packet, each recorded and sent to the daemon.
 *
 * Each worker process sends as fast as sendto() returns; on loopback the
 * packet is received, answered and freed in softirq before sendto()
 * returns, so the rate is what the drop path costs. Addresses: 127.0.0.1
 * to 127.0.0.1, destination port PORT (default 9, discard, nothing there:
 * the run checks).
 *
 * Output, one line on stdout:
 *   packets=N seconds=S rate=R errors=E workers=C mode=M
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS    64
#define MAX_DURATION_S 3600

struct worker_stats {
	uint64_t packets;
	uint64_t errors;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* An ACK segment from sport to dport, 127.0.0.1 both ends, its checksum
 * right (the kernel checks it on loopback for raw sockets). */
static void build_ack(struct tcphdr *th, uint16_t sport, uint16_t dport, uint32_t seq)
{
	struct {
		uint32_t src, dst;
		uint8_t zero, proto;
		uint16_t len;
	} __attribute__((packed)) ph = {
		.src = htonl(INADDR_LOOPBACK),
		.dst = htonl(INADDR_LOOPBACK),
		.proto = IPPROTO_TCP,
		.len = htons(sizeof(*th)),
	};
	uint32_t sum;

	memset(th, 0, sizeof(*th));
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(seq);
	th->ack_seq = htonl(1);
	th->doff = sizeof(*th) / 4;
	th->ack = 1;
	th->window = htons(512);
	sum = csum_add(0, &ph, sizeof(ph));
	sum = csum_add(sum, th, sizeof(*th));
	th->check = htons(csum_fold(sum));
}

static int worker(const char *mode, uint16_t port, int index, double deadline,
		  struct worker_stats *st)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
	bool tcp = !strcmp(mode, "tcp");
	char payload[16] = "tw-drops";
	struct tcphdr th;
	uint32_t seq = 1;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = tcp ? socket(AF_INET, SOCK_RAW, IPPROTO_TCP) : socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("tw-drops: socket");
		return 1;
	}
	/* A source port per worker, away from the ephemeral range. */
	build_ack(&th, (uint16_t)(20000 + index), port, seq);
	while (now_s() < deadline) {
		for (int i = 0; i < 256; i++) {
			ssize_t n;

			if (tcp) {
				build_ack(&th, (uint16_t)(20000 + index), port, seq += 1000);
				n = sendto(fd, &th, sizeof(th), 0, (struct sockaddr *)&to,
					   sizeof(to));
			} else {
				n = sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&to,
					   sizeof(to));
			}
			if (n < 0)
				st->errors++;
			else
				st->packets++;
		}
	}
	close(fd);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: tw-drops -m udp|tcp [-c WORKERS] [-d SECONDS] [-p PORT]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = NULL;
	int workers = 1, duration = 10, port = 9, opt;
	struct worker_stats *st;
	uint64_t packets = 0, errors = 0;
	double t0, t1;
	pid_t pids[MAX_WORKERS];

	while ((opt = getopt(argc, argv, "m:c:d:p:")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'c':
			workers = atoi(optarg);
			break;
		case 'd':
			duration = atoi(optarg);
			break;
		case 'p':
			port = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!mode || (strcmp(mode, "udp") && strcmp(mode, "tcp")) || workers < 1 ||
	    workers > MAX_WORKERS || duration < 1 || duration > MAX_DURATION_S || port < 1 ||
	    port > 65535)
		usage();
	st = mmap(NULL, sizeof(*st) * (size_t)workers, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED) {
		perror("tw-drops: mmap");
		return 1;
	}
	memset(st, 0, sizeof(*st) * (size_t)workers);
	t0 = now_s();
	for (int i = 0; i < workers; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("tw-drops: fork");
			return 1;
		}
		if (pids[i] == 0)
			_exit(worker(mode, (uint16_t)port, i, t0 + duration, &st[i]));
	}
	for (int i = 0; i < workers; i++) {
		int status;

		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			errors++;
	}
	t1 = now_s();
	for (int i = 0; i < workers; i++) {
		packets += st[i].packets;
		errors += st[i].errors;
	}
	printf("packets=%llu seconds=%.3f rate=%.0f errors=%llu workers=%d mode=%s\n",
	       (unsigned long long)packets, t1 - t0, (double)packets / (t1 - t0),
	       (unsigned long long)errors, workers, mode);
	return errors && !packets;
}
