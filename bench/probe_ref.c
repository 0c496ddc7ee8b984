/*
 * tw-probe-ref: the practical limit of a SYN prober's RTT, for
 * bench/run-probe-rtt.sh. The least a prober timed by the kernel can do:
 * one raw IPPROTO_TCP socket (the kernel writes the IPv4 header, we the
 * TCP segment and its checksum), SO_TIMESTAMPING with software TX and RX
 * stamps, one probe in flight at a time:
 *
 *   send a SYN (sendmsg, the probe's number as its SCM_TS_OPT_ID key)
 *   TX stamp: the error queue's SCM_TIMESTAMPING whose sock_extended_err
 *             is SO_EE_ORIGIN_TIMESTAMPING / SCM_TSTAMP_SND with our key
 *             (OPT_TSONLY: the stamp without the packet)
 *   RX stamp: the SCM_TIMESTAMPING of the answer read from the same socket
 *             (a SYN-ACK or RST from the target to our port acking ISN + 1)
 *   RTT = RX - TX
 *
 * No event loop, no table, no other work: what is left of the error is the
 * kernel's (where it stamps) and the emulated link's. The SYN is the one
 * tcpwatchd sends (40 bytes: MSS, SACK permitted, timestamps, NOP, window
 * scale), so the two cost the same on the wire.
 *
 *   tw-probe-ref -d ADDR -p PORT [-c COUNT] [-i INTERVAL_S] [-w TIMEOUT_S]
 *                [-s SPORT_BASE]
 *
 * Probe k is sent at start + k * INTERVAL from source port SPORT_BASE + k
 * (each port held by a bound TCP socket meanwhile, so nothing else on the
 * host uses it). Only 198.18.0.0/15 and 127.0.0.0/8 are accepted as
 * targets (the benchmarks' network rule). Output, one line per probe:
 *
 *   probe seq=K sport=P isn=N state=open|closed|lost tx_ns=T rx_ns=R rtt_ns=X
 *
 * (T and R CLOCK_REALTIME, 0 when missing; X -1 when either is), then
 * "done sent=N received=M no_tx_stamp=A no_rx_stamp=B opt_id=cmsg|counter".
 * Exit status 0, 1 on errors, 2 on usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SCM_TS_OPT_ID
#define SCM_TS_OPT_ID 81 /* Linux 6.13; glibc 2.36 lacks it */
#endif

#define SYN_LEN   40
#define MAX_COUNT 10000
#define TCP_SYN   0x02
#define TCP_RST   0x04
#define TCP_ACK   0x10

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint16_t tcp_checksum(const uint8_t src[4], const uint8_t dst[4], const uint8_t *seg,
			     size_t len)
{
	uint32_t sum = 6 + (uint32_t)len;
	size_t i;

	for (i = 0; i < 4; i += 2)
		sum += get16(src + i) + get16(dst + i);
	for (i = 0; i + 1 < len; i += 2)
		sum += get16(seg + i);
	if (len & 1)
		sum += (uint32_t)seg[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Linux's SYN: MSS, SACK permitted, timestamps, NOP, window scale 7. */
static void build_syn(uint8_t out[SYN_LEN], const uint8_t src[4], const uint8_t dst[4],
		      uint16_t sport, uint16_t dport, uint32_t isn, uint32_t tsval)
{
	uint8_t *o = out + 20;

	memset(out, 0, SYN_LEN);
	put16(out, sport);
	put16(out + 2, dport);
	put32(out + 4, isn);
	out[12] = (SYN_LEN / 4) << 4;
	out[13] = TCP_SYN;
	put16(out + 14, 65535 / 1460 * 1460);
	o[0] = 2, o[1] = 4, put16(o + 2, 1460);
	o[4] = 4, o[5] = 2, o[6] = 8, o[7] = 10;
	put32(o + 8, tsval);
	o[16] = 1, o[17] = 3, o[18] = 3, o[19] = 7;
	put16(out + 16, tcp_checksum(src, dst, out, SYN_LEN));
}

/* Only segments to our source ports reach the socket (it is handed a copy
 * of every TCP segment the namespace receives). IPv4: from the IP header. */
static int attach_filter(int fd, uint16_t lo, uint16_t hi)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, lo, 0, 2),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, hi, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* Receive stamps are switched on host-wide by a work item a moment after
 * the first socket asks: wait (100 ms at most) until a datagram to
 * ourselves comes stamped. */
static void wait_rx_stamps(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		close(fd);
		return;
	}
	for (int i = 0; i < 50; i++) {
		char ctl[256], byte = 0;
		struct iovec iov = {.iov_base = &byte, .iov_len = 1};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		bool stamped = false;

		if (sendto(fd, &byte, 1, 0, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    recvmsg(fd, &m, 0) < 0)
			break;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
			stamped |= h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPING;
		if (stamped)
			break;
		usleep(2000);
	}
	close(fd);
}

struct flight {
	uint32_t key, isn;
	uint16_t sport;
	uint64_t tx_ns, rx_ns;
	const char *state;
};

/* Drains the error queue: our TX stamp, if it is there. */
static void read_errqueue(int fd, struct flight *f)
{
	for (;;) {
		char ctl[512];
		uint8_t buf[64];
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		struct sock_extended_err *ee = NULL;
		uint64_t stamp = 0;

		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPING) {
				struct scm_timestamping st;

				memcpy(&st, CMSG_DATA(h), sizeof(st));
				stamp = ts_ns(&st.ts[0]);
			} else if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_RECVERR) {
				ee = (struct sock_extended_err *)CMSG_DATA(h);
			}
		}
		if (ee && ee->ee_origin == SO_EE_ORIGIN_TIMESTAMPING &&
		    ee->ee_info == SCM_TSTAMP_SND && ee->ee_data == f->key && stamp)
			f->tx_ns = stamp;
	}
}

/* Reads segments: the answer to f (from dst:dport to f's port, acking
 * isn + 1), with its RX stamp. */
static void read_segments(int fd, struct flight *f, const uint8_t dst[4], uint16_t dport)
{
	for (;;) {
		char ctl[512];
		uint8_t buf[1600];
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		ssize_t len = recvmsg(fd, &m, MSG_DONTWAIT);
		const uint8_t *t;
		size_t ihl;
		uint8_t flags;
		uint64_t stamp = 0;

		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			continue; /* an ICMP error reported once as sk_err */
		}
		if (len < 20 || (buf[0] >> 4) != 4)
			continue;
		ihl = (size_t)(buf[0] & 15) * 4;
		if (buf[9] != IPPROTO_TCP || (size_t)len < ihl + 20 || memcmp(buf + 12, dst, 4))
			continue;
		t = buf + ihl;
		flags = t[13];
		if (get16(t) != dport || get16(t + 2) != f->sport || !(flags & TCP_ACK) ||
		    get32(t + 8) != f->isn + 1)
			continue;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPING) {
				struct scm_timestamping st;

				memcpy(&st, CMSG_DATA(h), sizeof(st));
				stamp = ts_ns(&st.ts[0]);
			}
		if (f->state)
			continue; /* a duplicate */
		if ((flags & (TCP_SYN | TCP_RST)) == TCP_SYN)
			f->state = "open";
		else if (flags & TCP_RST)
			f->state = "closed";
		else
			continue;
		f->rx_ns = stamp;
	}
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s -d ADDR -p PORT [-c COUNT] [-i INTERVAL_S] [-w TIMEOUT_S] "
		"[-s SPORT_BASE]\n"
		"  ADDR in 198.18.0.0/15 or 127.0.0.0/8; probe k from port SPORT_BASE + k\n",
		prog);
	return 2;
}

int main(int argc, char **argv)
{
	uint8_t dst[4], src[4];
	double count_d = 10, interval = 0.05, timeout = 1, port_d = 0, base_d = 20000;
	const char *addr = NULL;
	uint32_t count, sent = 0, received = 0, no_tx = 0, no_rx = 0;
	uint16_t dport, base;
	int ts = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE |
		 SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
	int one = 1, fd, c, *holds;
	bool use_cmsg = true;
	uint64_t start;

	while ((c = getopt(argc, argv, "d:p:c:i:w:s:h")) != -1) {
		switch (c) {
		case 'd':
			addr = optarg;
			break;
		case 'p':
			if (parse_double(optarg, 1, 65535, &port_d) < 0)
				return usage(stderr, argv[0]);
			break;
		case 'c':
			if (parse_double(optarg, 1, MAX_COUNT, &count_d) < 0)
				return usage(stderr, argv[0]);
			break;
		case 'i':
			if (parse_double(optarg, 0.001, 60, &interval) < 0)
				return usage(stderr, argv[0]);
			break;
		case 'w':
			if (parse_double(optarg, 0.001, 60, &timeout) < 0)
				return usage(stderr, argv[0]);
			break;
		case 's':
			if (parse_double(optarg, 1024, 65535, &base_d) < 0)
				return usage(stderr, argv[0]);
			break;
		case 'h':
			return usage(stdout, argv[0]), 0;
		default:
			return usage(stderr, argv[0]);
		}
	}
	if (!addr || !port_d || optind != argc)
		return usage(stderr, argv[0]);
	if (inet_pton(AF_INET, addr, dst) != 1 ||
	    !((dst[0] == 198 && (dst[1] & 0xfe) == 18) || dst[0] == 127)) {
		fprintf(stderr, "tw-probe-ref: %s: only 198.18.0.0/15 and 127.0.0.0/8\n", addr);
		return 2;
	}
	count = (uint32_t)count_d;
	dport = (uint16_t)port_d;
	base = (uint16_t)base_d;
	if ((uint32_t)base + count - 1 > 65535) {
		fprintf(stderr, "tw-probe-ref: SPORT_BASE + COUNT - 1 is over 65535\n");
		return 2;
	}

	/* The source address: the route's. */
	{
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(dport)};
		socklen_t al = sizeof(a);
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		memcpy(&a.sin_addr, dst, 4);
		if (u < 0 || connect(u, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    getsockname(u, (struct sockaddr *)&a, &al) < 0) {
			perror("tw-probe-ref: route");
			return 1;
		}
		memcpy(src, &a.sin_addr, 4);
		close(u);
	}
	/* The source ports, held. */
	holds = calloc(count, sizeof(*holds));
	if (!holds)
		return perror("tw-probe-ref"), 1;
	for (uint32_t k = 0; k < count; k++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(base + k)};

		holds[k] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (holds[k] < 0 || bind(holds[k], (struct sockaddr *)&a, sizeof(a)) < 0) {
			fprintf(stderr, "tw-probe-ref: cannot hold port %u: %s\n",
				(unsigned)(base + k), strerror(errno));
			return 1;
		}
	}
	fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		perror("tw-probe-ref: raw socket (needs CAP_NET_RAW)");
		return 1;
	}
	if (attach_filter(fd, base, (uint16_t)(base + count - 1)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) < 0) {
		perror("tw-probe-ref: setsockopt");
		return 1;
	}
	wait_rx_stamps();

	start = mono_ns();
	for (uint32_t k = 0; k < count; k++) {
		union {
			char buf[CMSG_SPACE(sizeof(uint32_t))];
			struct cmsghdr align;
		} ctl;
		struct sockaddr_in to = {.sin_family = AF_INET};
		uint8_t seg[SYN_LEN];
		struct iovec iov = {.iov_base = seg, .iov_len = sizeof(seg)};
		struct msghdr m = {.msg_name = &to,
				   .msg_namelen = sizeof(to),
				   .msg_iov = &iov,
				   .msg_iovlen = 1};
		struct flight f = {.key = k, .sport = (uint16_t)(base + k)};
		struct timespec due;
		uint64_t t_due = start + (uint64_t)((double)k * interval * 1e9), deadline;

		due.tv_sec = (time_t)(t_due / 1000000000ull);
		due.tv_nsec = (long)(t_due % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
			;
		if (getrandom(&f.isn, sizeof(f.isn), 0) != sizeof(f.isn))
			f.isn = (uint32_t)mono_ns() * 2654435761u;
		build_syn(seg, src, dst, f.sport, dport, f.isn, (uint32_t)(mono_ns() / 1000000));
		memcpy(&to.sin_addr, dst, 4);
		if (use_cmsg) {
			struct cmsghdr *h;

			memset(&ctl, 0, sizeof(ctl));
			m.msg_control = ctl.buf;
			m.msg_controllen = sizeof(ctl.buf);
			h = CMSG_FIRSTHDR(&m);
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_TS_OPT_ID;
			h->cmsg_len = CMSG_LEN(sizeof(uint32_t));
			memcpy(CMSG_DATA(h), &f.key, sizeof(f.key));
		}
		if (sendmsg(fd, &m, 0) < 0) {
			if (use_cmsg && errno == EINVAL && k == 0) {
				/* a kernel before 6.13: the socket's own counter, which
				 * counts sends from 0 */
				use_cmsg = false;
				m.msg_control = NULL;
				m.msg_controllen = 0;
				if (sendmsg(fd, &m, 0) == 0)
					goto sent_ok;
			}
			fprintf(stderr, "tw-probe-ref: probe %u: sendmsg: %s\n", k,
				strerror(errno));
			printf("probe seq=%u sport=%u isn=%u state=error tx_ns=0 rx_ns=0 "
			       "rtt_ns=-1\n",
			       k, f.sport, f.isn);
			continue;
		}
	sent_ok:
		sent++;
		deadline = mono_ns() + (uint64_t)(timeout * 1e9);
		while (!(f.tx_ns && f.state)) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			uint64_t now = mono_ns();
			int ms;

			if (now >= deadline)
				break;
			ms = (int)((deadline - now + 999999) / 1000000);
			if (poll(&p, 1, ms) < 0 && errno != EINTR) {
				perror("tw-probe-ref: poll");
				return 1;
			}
			read_errqueue(fd, &f);
			read_segments(fd, &f, dst, dport);
		}
		/* The TX stamp can only trail a lost answer's timeout. */
		if (!f.tx_ns)
			read_errqueue(fd, &f);
		no_tx += !f.tx_ns;
		received += f.state != NULL;
		no_rx += f.state && !f.rx_ns;
		printf("probe seq=%u sport=%u isn=%u state=%s tx_ns=%llu rx_ns=%llu rtt_ns=%lld\n",
		       k, f.sport, f.isn, f.state ? f.state : "lost", (unsigned long long)f.tx_ns,
		       (unsigned long long)f.rx_ns,
		       f.tx_ns && f.rx_ns && f.rx_ns > f.tx_ns ? (long long)(f.rx_ns - f.tx_ns)
							       : -1LL);
	}
	printf("done sent=%u received=%u no_tx_stamp=%u no_rx_stamp=%u opt_id=%s\n", sent, received,
	       no_tx, no_rx, use_cmsg ? "cmsg" : "counter");
	close(fd);
	for (uint32_t k = 0; k < count; k++)
		close(holds[k]);
	free(holds);
	return 0;
}
