/*
 * The prober's sockets in one network namespace: a raw TCP socket per
 * family (the SYNs out; SYN-ACKs, RSTs, ICMP errors and the kernel's
 * timestamps in), UDP sockets for route lookups, and TCP sockets that hold
 * the source ports so no real connection ever uses one.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#ifndef SCM_TS_OPT_ID
#define SCM_TS_OPT_ID 81 /* Linux 6.13; glibc 2.36 lacks it */
#endif

#define RAW_RCVBUF (4 << 20)

static int fam_of(int family)
{
	return family == AF_INET6;
}

/* Keeps only segments to our ports: the raw socket is handed a copy of
 * every TCP segment the namespace receives. IPv4 reads start at the IP
 * header, IPv6 ones at the TCP header. */
static int attach_filter(int fd, int family, uint16_t lo, uint16_t hi)
{
	struct sock_filter v4[] = {
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0), /* x = IP header length */
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),  /* a = TCP dport */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, lo, 0, 2),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, hi, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_filter v6[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, lo, 0, 2),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, hi, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {
		.len = family == AF_INET ? 6 : 5,
		.filter = family == AF_INET ? v4 : v6,
	};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

static int set_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v));
}

static int open_raw(int family, uint16_t lo, uint16_t hi)
{
	int ts = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE |
		 SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY |
		 SOF_TIMESTAMPING_OPT_CMSG;
	int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	int bad;

	if (fd < 0)
		return -errno;
	/* Filter first: nothing unwanted queues meanwhile. */
	bad = attach_filter(fd, family, lo, hi) < 0 ||
	      setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)) < 0;
	(void)set_int(fd, SOL_SOCKET, SO_RCVBUF, RAW_RCVBUF);
	if (family == AF_INET)
		bad = bad || set_int(fd, IPPROTO_IP, IP_RECVERR, 1) < 0 ||
		      set_int(fd, IPPROTO_IP, IP_RECVTTL, 1) < 0 ||
		      set_int(fd, IPPROTO_IP, IP_RECVTOS, 1) < 0;
	else
		bad = bad || set_int(fd, IPPROTO_IPV6, IPV6_CHECKSUM, 16) < 0 ||
		      set_int(fd, IPPROTO_IPV6, IPV6_RECVERR, 1) < 0 ||
		      set_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) < 0 ||
		      set_int(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1) < 0 ||
		      set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0;
	if (bad) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Holds port (both families where IPv6 works): bound, never listening,
 * without SO_REUSEADDR, so nobody else can bind it and connect() never
 * picks it. */
static int reserve_port(uint16_t port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		if (set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0) == 0 &&
		    bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0)
			return fd;
		close(fd);
		if (errno == EADDRINUSE)
			return -EADDRINUSE;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* The window scale the namespace's own SYNs carry (tcp_select_initial_window). */
static uint8_t own_wscale(void)
{
	unsigned long a = 0, b = 0, c = 0, rmem_max = 0, space;
	uint8_t ws = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_rmem", "re");

	if (f) {
		if (fscanf(f, "%lu %lu %lu", &a, &b, &c) != 3)
			c = 0;
		fclose(f);
	}
	f = fopen("/proc/sys/net/core/rmem_max", "re");
	if (f) {
		if (fscanf(f, "%lu", &rmem_max) != 1)
			rmem_max = 0;
		fclose(f);
	}
	space = c > rmem_max ? c : rmem_max;
	if (!space)
		return 7;
	while ((space >> ws) > 1 && ws < 63)
		ws++;
	/* ilog2(space) - 15, within [0, 14] */
	return ws <= 15 ? 0 : (ws - 15 > 14 ? 14 : (uint8_t)(ws - 15));
}

/*
 * Receive timestamps are switched on for the whole host (a static key)
 * by a work item some time after the first socket asks: until then
 * packets arrive unstamped. Waits (100 ms at most) until a datagram to
 * ourselves on loopback comes stamped.
 */
void ctx_wait_rx_stamps(void)
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

struct open_job {
	struct probe_ctx *c;
	int ns_fd;
	uint16_t port_min, nports;
	int result;
	char *err;
	size_t err_len;
};

static int open_here(struct open_job *j)
{
	struct probe_ctx *c = j->c;
	uint16_t hi = (uint16_t)(j->port_min + j->nports - 1);

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;

		c->fd[f] = open_raw(family, j->port_min, hi);
		c->udp[f] = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	}
	if (c->fd[0] < 0 && c->fd[1] < 0) {
		snprintf(j->err, j->err_len, "cannot open a raw TCP socket: %s (needs CAP_NET_RAW)",
			 strerror(-c->fd[0]));
		return c->fd[0];
	}
	c->reserve = malloc(j->nports * sizeof(*c->reserve));
	c->flights = calloc(j->nports, sizeof(*c->flights));
	c->usable = calloc(j->nports, sizeof(*c->usable));
	c->slots.v = calloc(j->nports, sizeof(*c->slots.v));
	if (!c->reserve || !c->flights || !c->usable || !c->slots.v) {
		snprintf(j->err, j->err_len, "out of memory");
		return -ENOMEM;
	}
	c->slots.port_min = j->port_min;
	c->slots.n = j->nports;
	for (uint32_t i = 0; i < j->nports; i++) {
		int fd = reserve_port((uint16_t)(j->port_min + i));

		if (fd >= 0) {
			c->reserve[c->n_reserve++] = fd;
			c->usable[i] = true;
		}
	}
	if (!c->n_reserve) {
		snprintf(j->err, j->err_len, "no port of %u-%u could be reserved", j->port_min, hi);
		return -EADDRINUSE;
	}
	c->wscale = own_wscale();
	ctx_read_own_addrs(c);
	return 0;
}

/* setns() changes only the calling thread: do it in a thread of its own. */
static void *open_in_ns(void *arg)
{
	struct open_job *j = arg;

	if (setns(j->ns_fd, CLONE_NEWNET) < 0) {
		j->result = -errno;
		snprintf(j->err, j->err_len, "cannot enter the namespace: %s", strerror(errno));
		return NULL;
	}
	j->result = open_here(j);
	return NULL;
}

int open_ns(const char *ns_path, uint32_t inode)
{
	struct stat st;
	int fd = open(ns_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (inode && (fstat(fd, &st) < 0 || (uint32_t)st.st_ino != inode)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

int ctx_open(struct probe_ctx *c, uint32_t netns, const char *ns_path, uint16_t port_min,
	     uint16_t nports, char *err, size_t err_len)
{
	struct open_job j = {.c = c,
			     .ns_fd = -1,
			     .port_min = port_min,
			     .nports = nports,
			     .result = -EIO,
			     .err = err,
			     .err_len = err_len};
	pthread_t th;
	int e;

	memset(c, 0, sizeof(*c));
	c->netns = netns;
	c->fd[0] = c->fd[1] = c->udp[0] = c->udp[1] = -1;
	if (!ns_path)
		return open_here(&j);
	snprintf(c->ns_path, sizeof(c->ns_path), "%s", ns_path);
	j.ns_fd = open_ns(ns_path, netns);
	if (j.ns_fd < 0) {
		e = j.ns_fd;
		snprintf(err, err_len, "%s: %s", ns_path,
			 e == -ESTALE ? "no longer that namespace" : strerror(-e));
		return e;
	}
	e = pthread_create(&th, NULL, open_in_ns, &j);
	if (e) {
		close(j.ns_fd);
		snprintf(err, err_len, "cannot start a thread: %s", strerror(e));
		return -e;
	}
	pthread_join(th, NULL);
	close(j.ns_fd);
	return j.result;
}

void ctx_close(struct probe_ctx *c)
{
	for (int f = 0; f < 2; f++) {
		if (c->fd[f] >= 0)
			close(c->fd[f]);
		if (c->udp[f] >= 0)
			close(c->udp[f]);
	}
	for (uint32_t i = 0; i < c->n_reserve; i++)
		close(c->reserve[i]);
	halfopen_detach(c);
	free(c->reserve);
	free(c->flights);
	free(c->usable);
	free(c->slots.v);
	free(c->own);
	memset(c, 0, sizeof(*c));
	c->fd[0] = c->fd[1] = c->udp[0] = c->udp[1] = -1;
}

static socklen_t make_sockaddr(int family, const uint8_t addr[16], uint16_t port,
			       struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		memcpy(&a->sin_addr, addr, 4);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	memcpy(&a->sin6_addr, addr, 16);
	return sizeof(*a);
}

int ctx_route(struct probe_ctx *c, int family, const uint8_t dst[16], uint16_t port,
	      uint8_t src[16], uint16_t *ret_mss)
{
	struct sockaddr_storage ss;
	socklen_t sl = make_sockaddr(family, dst, port, &ss);
	int fd = c->udp[fam_of(family)], mtu = 0;
	socklen_t ml = sizeof(mtu);

	if (fd < 0)
		return -EAFNOSUPPORT;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	memset(src, 0, 16);
	if (family == AF_INET)
		memcpy(src, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(src, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	if (getsockopt(fd, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
		       family == AF_INET ? IP_MTU : IPV6_MTU, &mtu, &ml) < 0 ||
	    mtu < 576)
		mtu = 1500;
	/* tcp_mss: the MTU less the IP and TCP headers, at most 65535 */
	mtu -= family == AF_INET ? 40 : 60;
	*ret_mss = (uint16_t)(mtu > 65535 ? 65535 : mtu);
	return 0;
}

int ctx_send(struct probe_ctx *c, int family, const uint8_t dst[16], const uint8_t *seg, size_t len,
	     uint8_t ttl, uint32_t key)
{
	union {
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(uint32_t))];
		struct cmsghdr align;
	} ctl;
	struct sockaddr_storage ss;
	struct iovec iov = {.iov_base = (void *)seg, .iov_len = len};
	struct msghdr m = {.msg_name = &ss,
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *h;
	int fd = c->fd[fam_of(family)], v = ttl;

	if (fd < 0)
		return -EAFNOSUPPORT;
	memset(&ctl, 0, sizeof(ctl));
	m.msg_namelen = make_sockaddr(family, dst, 0, &ss);
	h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	h->cmsg_type = family == AF_INET ? IP_TTL : IPV6_HOPLIMIT;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &v, sizeof(v));
	/* The key on every send: on these sockets it is otherwise sticky. */
	h = CMSG_NXTHDR(&m, h);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_TS_OPT_ID;
	h->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	memcpy(CMSG_DATA(h), &key, sizeof(key));
	if (sendmsg(fd, &m, MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

static void read_errqueue(struct probe_ctx *c, int fam, ctx_event_cb cb, void *data,
			  struct probe_counters *n, unsigned *budget)
{
	int family = fam ? AF_INET6 : AF_INET;

	while ((*budget)--) {
		char ctl[512];
		uint8_t buf[256];
		struct sockaddr_storage ss;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr m = {.msg_name = &ss,
				   .msg_namelen = sizeof(ss),
				   .msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		struct sock_extended_err *ee = NULL;
		struct ctx_event e = {.family = family};
		ssize_t len = recvmsg(c->fd[fam], &m, MSG_ERRQUEUE | MSG_DONTWAIT);

		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				n->recv_errors++;
			return;
		}
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPING) {
				struct scm_timestamping st;

				memcpy(&st, CMSG_DATA(h), sizeof(st));
				e.stamp_ns = ts_ns(&st.ts[0]);
			} else if ((h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_RECVERR) ||
				   (h->cmsg_level == IPPROTO_IPV6 &&
				    h->cmsg_type == IPV6_RECVERR)) {
				ee = (struct sock_extended_err *)CMSG_DATA(h);
			}
		}
		if (!ee)
			continue;
		if (ee->ee_origin == SO_EE_ORIGIN_TIMESTAMPING) {
			if (ee->ee_info != SCM_TSTAMP_SND)
				continue;
			e.kind = CTX_TX_STAMP;
			e.key = ee->ee_data;
			cb(c, &e, data);
			continue;
		}
		if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6)
			continue;
		if (packet_parse_quote(buf, (size_t)len, &e.sport, &e.dport, &e.seq) < 0) {
			n->malformed++;
			continue;
		}
		e.kind = CTX_ICMP;
		e.icmp_type = ee->ee_type;
		e.icmp_code = ee->ee_code;
		{
			const struct sockaddr *off = SO_EE_OFFENDER(ee);

			if (off->sa_family == AF_INET)
				memcpy(e.from, &((const struct sockaddr_in *)off)->sin_addr, 4);
			else if (off->sa_family == AF_INET6)
				memcpy(e.from, &((const struct sockaddr_in6 *)off)->sin6_addr, 16);
		}
		if (ss.ss_family == AF_INET)
			memcpy(e.dst, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		else if (ss.ss_family == AF_INET6)
			memcpy(e.dst, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		cb(c, &e, data);
	}
}

static void read_segments(struct probe_ctx *c, int fam, ctx_event_cb cb, void *data,
			  struct probe_counters *n, unsigned *budget)
{
	while ((*budget)--) {
		char ctl[512];
		uint8_t buf[1600];
		struct sockaddr_storage ss;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr m = {.msg_name = &ss,
				   .msg_namelen = sizeof(ss),
				   .msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		struct ctx_event e = {.kind = CTX_SEGMENT};
		ssize_t len = recvmsg(c->fd[fam], &m, MSG_DONTWAIT);
		int r;

		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* An ICMP error is also reported here once (sk_err). */
			if (errno != EHOSTUNREACH && errno != ENETUNREACH &&
			    errno != ECONNREFUSED && errno != EPROTO && errno != EMSGSIZE)
				n->recv_errors++;
			continue;
		}
		memset(&e.seg, 0, sizeof(e.seg));
		e.seg.ip_ecn = 0xff;
		if (fam == 0) {
			r = packet_parse_ipv4(buf, (size_t)len, &e.seg);
		} else {
			e.seg.family = AF_INET6;
			memcpy(e.seg.src, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
			r = packet_parse_tcp(buf, (size_t)len, &e.seg);
		}
		if (r < 0) {
			n->malformed++;
			continue;
		}
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			int v;

			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPING) {
				struct scm_timestamping st;

				memcpy(&st, CMSG_DATA(h), sizeof(st));
				e.stamp_ns = ts_ns(&st.ts[0]);
			} else if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;

				memcpy(&pi, CMSG_DATA(h), sizeof(pi));
				memcpy(e.seg.dst, &pi.ipi6_addr, 16);
				e.seg.have_dst = true;
			} else if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_HOPLIMIT) {
				memcpy(&v, CMSG_DATA(h), sizeof(v));
				e.seg.ttl = (uint8_t)v;
			} else if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_TCLASS) {
				memcpy(&v, CMSG_DATA(h), sizeof(v));
				e.seg.ip_ecn = (uint8_t)(v & 3);
			}
		}
		cb(c, &e, data);
	}
}

void ctx_read(struct probe_ctx *c, int fam, ctx_event_cb cb, void *data, struct probe_counters *n,
	      unsigned budget)
{
	if (c->fd[fam] < 0)
		return;
	read_errqueue(c, fam, cb, data, n, &budget);
	read_segments(c, fam, cb, data, n, &budget);
}
