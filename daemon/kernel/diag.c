#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "diag.h"

int diag_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK}; /* nl_pid 0 */
	int one = 1, rcvbuf = 4 << 20;

	if (fd < 0)
		return -errno;
	/* A large receive buffer lets the kernel run ahead of us. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	/* Connected to the kernel, the socket takes datagrams from nobody
	 * else (netlink_getsockbyportid() refuses other senders). */
	if (connect(fd, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

uint32_t diag_portid(int fd)
{
	struct sockaddr_nl sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.nl_family != AF_NETLINK)
		return 0;
	return sa.nl_pid;
}

long diag_recv(int fd, void *buf, size_t len, struct tw_diag_counters *counts)
{
	for (;;) {
		struct sockaddr_nl from;
		socklen_t from_len = sizeof(from);
		ssize_t n =
			recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		if (from_len < sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0) {
			counts->foreign++;
			continue;
		}
		return (long)n;
	}
}

int diag_request_dump(int fd, int family, uint32_t states, uint32_t seq)
{
	return diag_request_dump_ext(fd, family, states, DIAG_EXT_INFO | DIAG_EXT_MEM, seq);
}

size_t diag_build_dump(void *buf, size_t size, int family, uint32_t states, unsigned ext,
		       uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct inet_diag_req_v2 *req;

	if (size < DIAG_REQUEST_MAX)
		return 0;
	memset(buf, 0, DIAG_REQUEST_MAX);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = states;
	req->idiag_ext = 0;
	if (ext & DIAG_EXT_INFO)
		req->idiag_ext |= 1u << (INET_DIAG_INFO - 1);
	if (ext & DIAG_EXT_MEM)
		req->idiag_ext |= 1u << (INET_DIAG_SKMEMINFO - 1);
	return nlh->nlmsg_len;
}

int diag_send(int fd, const void *req, size_t len)
{
	struct sockaddr_nl nladdr = {.nl_family = AF_NETLINK};

	if (sendto(fd, req, len, 0, (struct sockaddr *)&nladdr, sizeof(nladdr)) < 0)
		return -errno;
	return 0;
}

int diag_request_dump_ext(int fd, int family, uint32_t states, unsigned ext, uint32_t seq)
{
	char buf[DIAG_REQUEST_MAX];
	size_t len = diag_build_dump(buf, sizeof(buf), family, states, ext, seq);

	return diag_send(fd, buf, len);
}

int diag_request_one(int fd, int family, const uint8_t local[16], uint16_t local_port,
		     const uint8_t remote[16], uint16_t remote_port, uint32_t seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	struct sockaddr_nl nladdr = {.nl_family = AF_NETLINK};
	size_t n = family == AF_INET6 ? 16 : 4;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = DIAG_STATES_ALL;
	req->id.idiag_sport = htons(local_port);
	req->id.idiag_dport = htons(remote_port);
	memcpy(req->id.idiag_src, local, n);
	memcpy(req->id.idiag_dst, remote, n);
	req->id.idiag_cookie[0] = req->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (sendto(fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&nladdr, sizeof(nladdr)) < 0)
		return -errno;
	return 0;
}

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, INET_DIAG_MAX) < 0)
		return MNL_CB_OK; /* newer kernel: skip what we do not know */
	tb[type] = attr;
	return MNL_CB_OK;
}

static void info_from_tcp_info(const void *payload, size_t len, struct tw_tcpinfo *ret)
{
	struct tcp_info ti;

	/* Old kernels send a shorter struct, newer ones a longer one. */
	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, payload, len < sizeof(ti) ? len : sizeof(ti));
	ret->rtt_us = ti.tcpi_rtt;
	ret->rttvar_us = ti.tcpi_rttvar;
	ret->snd_cwnd = ti.tcpi_snd_cwnd;
	ret->total_retrans = ti.tcpi_total_retrans;
	ret->lost = ti.tcpi_lost;
	ret->last_data_sent_ms = ti.tcpi_last_data_sent;
	ret->last_data_recv_ms = ti.tcpi_last_data_recv;
	ret->bytes_acked = ti.tcpi_bytes_acked;
	ret->bytes_received = ti.tcpi_bytes_received;
	ret->delivery_rate_bps = ti.tcpi_delivery_rate;
}

int diag_parse_msg(const struct nlmsghdr *nlh, struct tw_ksock *ret)
{
	const struct nlattr *tb[INET_DIAG_MAX + 1] = {0};
	const struct inet_diag_msg *m;
	struct tw_ksock s;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		return -EINVAL;
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	s.family = m->idiag_family;
	s.state = m->idiag_state;
	s.timer = m->idiag_timer;
	s.retrans = m->idiag_retrans;
	s.local_port = ntohs(m->id.idiag_sport);
	s.remote_port = ntohs(m->id.idiag_dport);
	memcpy(s.local_addr, m->id.idiag_src, s.family == AF_INET ? 4 : 16);
	memcpy(s.remote_addr, m->id.idiag_dst, s.family == AF_INET ? 4 : 16);
	s.cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
	s.expires_ms = m->idiag_expires;
	s.rqueue = m->idiag_rqueue;
	s.wqueue = m->idiag_wqueue;
	s.uid = m->idiag_uid;
	s.inode = m->idiag_inode;
	if (mnl_attr_parse(nlh, sizeof(*m), attr_cb, tb) < 0)
		return -EINVAL;
	if (tb[INET_DIAG_SKMEMINFO] &&
	    mnl_attr_get_payload_len(tb[INET_DIAG_SKMEMINFO]) >= (SK_MEMINFO_DROPS + 1) * 4) {
		uint32_t mem[SK_MEMINFO_DROPS + 1];

		memcpy(mem, mnl_attr_get_payload(tb[INET_DIAG_SKMEMINFO]), sizeof(mem));
		s.has_mem = true;
		s.sk_drops = mem[SK_MEMINFO_DROPS];
		s.info.has_mem = 1;
		s.info.mem = (struct tw_skmem){
			.rmem_alloc_bytes = mem[SK_MEMINFO_RMEM_ALLOC],
			.rcvbuf_bytes = mem[SK_MEMINFO_RCVBUF],
			.wmem_alloc_bytes = mem[SK_MEMINFO_WMEM_ALLOC],
			.sndbuf_bytes = mem[SK_MEMINFO_SNDBUF],
			.fwd_alloc_bytes = mem[SK_MEMINFO_FWD_ALLOC],
			.wmem_queued_bytes = mem[SK_MEMINFO_WMEM_QUEUED],
			.optmem_bytes = mem[SK_MEMINFO_OPTMEM],
			.backlog_bytes = mem[SK_MEMINFO_BACKLOG],
			.drops = mem[SK_MEMINFO_DROPS],
		};
	}
	/* A request socket of a SYN queue is reported as SYN_RECV
	 * (inet_req_diag_fill) and, unlike a full socket, without tcp_info
	 * or memory: told apart here as TW_TCP_NEW_SYN_RECV, its state in
	 * the kernel. */
	if (s.state == TW_TCP_SYN_RECV && !tb[INET_DIAG_INFO] && !tb[INET_DIAG_SKMEMINFO])
		s.state = TW_TCP_NEW_SYN_RECV;
	if (tb[INET_DIAG_INFO]) {
		s.has_info = true;
		info_from_tcp_info(mnl_attr_get_payload(tb[INET_DIAG_INFO]),
				   mnl_attr_get_payload_len(tb[INET_DIAG_INFO]), &s.info);
	}
	*ret = s;
	return 0;
}

/* libmnl trusts nlmsg_len: one over 2^31 passes its (int) comparison and
 * sends the walk far outside the buffer. Returns how many bytes of buf are
 * whole, well-formed messages. */
static size_t well_formed(const void *buf, size_t len)
{
	const char *p = buf;
	size_t good = 0;

	while (len - good >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(p + good);
		size_t step;

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - good)
			break;
		step = NLMSG_ALIGN(nlh->nlmsg_len);
		good = step >= len - good ? len : good + step;
	}
	return good;
}

/* The error an NLMSG_ERROR or NLMSG_DONE message carries (0: none), kept
 * in errno's range. */
static int carried_error(const struct nlmsghdr *nlh)
{
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(int))
		return nlh->nlmsg_type == NLMSG_ERROR ? -EPROTO : 0;
	memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err > 0 || err <= -4096)
		return -EPROTO;
	return err;
}

int diag_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid, diag_sock_cb cb,
	       void *data, struct tw_diag_counters *counts)
{
	size_t good = well_formed(buf, len > INT32_MAX ? INT32_MAX : len);
	const struct nlmsghdr *nlh = buf;
	int left = (int)good;

	/* Parse the whole messages; a broken tail breaks the dump. */
	if (!good)
		return -EPROTO;
	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		struct tw_ksock s;

		if (nlh->nlmsg_seq != seq || (portid && nlh->nlmsg_pid != portid)) {
			counts->stale++;
			continue;
		}
		switch (nlh->nlmsg_type) {
		case NLMSG_NOOP:
			continue;
		case NLMSG_DONE:
			return carried_error(nlh);
		case NLMSG_ERROR:
			return carried_error(nlh) ? carried_error(nlh) : 0; /* an ACK ends it too */
		case NLMSG_OVERRUN:
			return -ENOBUFS;
		}
		if (diag_parse_msg(nlh, &s) < 0) {
			counts->malformed++;
			continue;
		}
		cb(&s, data);
	}
	return good < len ? -EPROTO : 1;
}
