/* Unit tests for daemon/diag.c: sock_diag replies built by hand in a byte
 * buffer and parsed with diag_parse(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>

#include "diag.h"

#define SEQ    4242
#define PORTID 777
#define COOKIE 0x1122334455667788ull

/* Consecutive netlink messages, as one recv() returns them. */
struct msgbuf {
	union {
		char data[16384];
		struct nlmsghdr align;
	};
	size_t len;
};

static struct nlmsghdr *msg_begin(struct msgbuf *b, uint16_t type, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b->data + b->len);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = PORTID;
	return nlh;
}

static void msg_end(struct msgbuf *b, struct nlmsghdr *nlh)
{
	b->len += MNL_ALIGN(nlh->nlmsg_len);
	assert_true(b->len < sizeof(b->data));
}

/* A socket message; the caller may add attributes before msg_end(). */
static struct nlmsghdr *put_sock_header(struct msgbuf *b, uint8_t family, uint64_t cookie,
					struct inet_diag_msg **ret_m)
{
	struct nlmsghdr *nlh = msg_begin(b, SOCK_DIAG_BY_FAMILY, SEQ);
	struct inet_diag_msg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));

	m->idiag_family = family;
	m->idiag_state = TW_TCP_ESTABLISHED;
	m->idiag_timer = 2;
	m->idiag_retrans = 3;
	m->id.idiag_sport = htons(40000);
	m->id.idiag_dport = htons(443);
	if (family == AF_INET6) {
		static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
		static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 2};

		memcpy(m->id.idiag_src, src, 16);
		memcpy(m->id.idiag_dst, dst, 16);
	} else {
		static const uint8_t src[4] = {127, 0, 0, 1};
		static const uint8_t dst[4] = {192, 0, 2, 9};

		memcpy(m->id.idiag_src, src, 4);
		memcpy(m->id.idiag_dst, dst, 4);
	}
	m->id.idiag_cookie[0] = (uint32_t)cookie;
	m->id.idiag_cookie[1] = (uint32_t)(cookie >> 32);
	m->idiag_expires = 7000;
	m->idiag_rqueue = 11;
	m->idiag_wqueue = 22;
	m->idiag_uid = 1001;
	m->idiag_inode = 987654;
	*ret_m = m;
	return nlh;
}

static struct tcp_info sample_info(void)
{
	struct tcp_info ti;

	memset(&ti, 0, sizeof(ti));
	ti.tcpi_rtt = 1500;
	ti.tcpi_rttvar = 250;
	ti.tcpi_snd_cwnd = 10;
	ti.tcpi_total_retrans = 4;
	ti.tcpi_lost = 1;
	ti.tcpi_last_data_sent = 30;
	ti.tcpi_last_data_recv = 40;
	ti.tcpi_bytes_acked = 1ull << 33;
	ti.tcpi_bytes_received = 123456789;
	ti.tcpi_delivery_rate = 5000000;
	return ti;
}

/* A socket with a tcp_info attribute of info_len bytes (may be longer
 * than struct tcp_info: the tail is zeros, as a newer kernel's). */
static void put_sock(struct msgbuf *b, uint8_t family, uint64_t cookie, size_t info_len)
{
	struct inet_diag_msg *m;
	struct nlmsghdr *nlh = put_sock_header(b, family, cookie, &m);
	char payload[sizeof(struct tcp_info) + 64];
	struct tcp_info ti = sample_info();

	memset(payload, 0, sizeof(payload));
	memcpy(payload, &ti, sizeof(ti));
	if (info_len)
		mnl_attr_put(nlh, INET_DIAG_INFO, info_len, payload);
	msg_end(b, nlh);
}

static void put_done(struct msgbuf *b)
{
	struct nlmsghdr *nlh = msg_begin(b, NLMSG_DONE, SEQ);
	int *status = mnl_nlmsg_put_extra_header(nlh, sizeof(int));

	*status = 0;
	msg_end(b, nlh);
}

static void put_error(struct msgbuf *b, int error)
{
	struct nlmsghdr *nlh = msg_begin(b, NLMSG_ERROR, SEQ);
	struct nlmsgerr *err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));

	err->error = error;
	err->msg.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	err->msg.nlmsg_seq = SEQ;
	msg_end(b, nlh);
}

struct seen {
	size_t n;
	struct tw_ksock socks[8];
};

static void collect(const struct tw_ksock *s, void *data)
{
	struct seen *seen = data;

	assert_true(seen->n < 8);
	seen->socks[seen->n++] = *s;
}

static struct tw_diag_counters counts;

/* The replies of dump seq, addressed to our PORTID. */
static int parse(const void *buf, size_t len, uint32_t seq, struct seen *seen)
{
	return diag_parse(buf, len, seq, PORTID, collect, seen, &counts);
}

static void assert_sample_info(const struct tw_ksock *s)
{
	assert_true(s->has_info);
	assert_int_equal(s->info.rtt_us, 1500);
	assert_int_equal(s->info.rttvar_us, 250);
	assert_int_equal(s->info.snd_cwnd, 10);
	assert_int_equal(s->info.total_retrans, 4);
	assert_int_equal(s->info.lost, 1);
	assert_int_equal(s->info.last_data_sent_ms, 30);
	assert_int_equal(s->info.last_data_recv_ms, 40);
	assert_int_equal(s->info.bytes_acked, 1ull << 33);
	assert_int_equal(s->info.bytes_received, 123456789);
	assert_int_equal(s->info.delivery_rate_bps, 5000000);
}

static void test_ipv4_socket_then_done(void **state)
{
	static const uint8_t src[16] = {127, 0, 0, 1};
	static const uint8_t dst[16] = {192, 0, 2, 9};
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};
	const struct tw_ksock *s;

	(void)state;
	put_sock(&b, AF_INET, COOKIE, sizeof(struct tcp_info));
	put_done(&b);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 0);
	assert_int_equal(seen.n, 1);
	s = &seen.socks[0];
	assert_int_equal(s->cookie, COOKIE);
	assert_int_equal(s->family, AF_INET);
	assert_int_equal(s->state, TW_TCP_ESTABLISHED);
	assert_int_equal(s->timer, 2);
	assert_int_equal(s->retrans, 3);
	assert_int_equal(s->local_port, 40000); /* host order */
	assert_int_equal(s->remote_port, 443);
	/* IPv4 in the first four bytes, the rest zero. */
	assert_memory_equal(s->local_addr, src, 16);
	assert_memory_equal(s->remote_addr, dst, 16);
	assert_int_equal(s->expires_ms, 7000);
	assert_int_equal(s->rqueue, 11);
	assert_int_equal(s->wqueue, 22);
	assert_int_equal(s->uid, 1001);
	assert_int_equal(s->inode, 987654);
	assert_sample_info(s);
}

static void test_ipv6_socket(void **state)
{
	static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 2};
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};

	(void)state;
	put_sock(&b, AF_INET6, 7, sizeof(struct tcp_info));
	put_done(&b);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.socks[0].family, AF_INET6);
	assert_int_equal(seen.socks[0].cookie, 7);
	assert_memory_equal(seen.socks[0].local_addr, src, 16);
	assert_memory_equal(seen.socks[0].remote_addr, dst, 16);
}

static void test_dump_goes_on_without_done(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};

	(void)state;
	put_sock(&b, AF_INET, 1, sizeof(struct tcp_info));
	put_sock(&b, AF_INET6, 2, sizeof(struct tcp_info));
	put_sock(&b, AF_INET, 3, sizeof(struct tcp_info));
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 1);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.socks[0].cookie, 1);
	assert_int_equal(seen.socks[1].cookie, 2);
	assert_int_equal(seen.socks[2].cookie, 3);

	/* The next recv() holds only the DONE. */
	b.len = 0;
	seen.n = 0;
	put_done(&b);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 0);
	assert_int_equal(seen.n, 0);
}

static void test_without_tcp_info(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};

	(void)state;
	put_sock(&b, AF_INET, 1, 0);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 1);
	assert_int_equal(seen.n, 1);
	assert_false(seen.socks[0].has_info);
	assert_int_equal(seen.socks[0].info.rtt_us, 0);
}

/* INET_DIAG_SKMEMINFO: every figure ss -m prints, in the sample and as
 * sk_drops; a shorter (older) array is ignored. */
static void test_skmeminfo(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};
	struct inet_diag_msg *m;
	struct nlmsghdr *nlh;
	uint32_t mem[SK_MEMINFO_VARS];

	(void)state;
	for (int i = 0; i < SK_MEMINFO_VARS; i++)
		mem[i] = 1000u + (uint32_t)i;
	nlh = put_sock_header(&b, AF_INET, 1, &m);
	mnl_attr_put(nlh, INET_DIAG_SKMEMINFO, sizeof(mem), mem);
	msg_end(&b, nlh);
	nlh = put_sock_header(&b, AF_INET, 2, &m);
	mnl_attr_put(nlh, INET_DIAG_SKMEMINFO, 4 * SK_MEMINFO_DROPS, mem);
	msg_end(&b, nlh);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 1);
	assert_int_equal(seen.n, 2);
	assert_true(seen.socks[0].has_mem && seen.socks[0].info.has_mem);
	assert_int_equal(seen.socks[0].info.mem.rmem_alloc_bytes, 1000 + SK_MEMINFO_RMEM_ALLOC);
	assert_int_equal(seen.socks[0].info.mem.rcvbuf_bytes, 1000 + SK_MEMINFO_RCVBUF);
	assert_int_equal(seen.socks[0].info.mem.wmem_alloc_bytes, 1000 + SK_MEMINFO_WMEM_ALLOC);
	assert_int_equal(seen.socks[0].info.mem.sndbuf_bytes, 1000 + SK_MEMINFO_SNDBUF);
	assert_int_equal(seen.socks[0].info.mem.fwd_alloc_bytes, 1000 + SK_MEMINFO_FWD_ALLOC);
	assert_int_equal(seen.socks[0].info.mem.wmem_queued_bytes, 1000 + SK_MEMINFO_WMEM_QUEUED);
	assert_int_equal(seen.socks[0].info.mem.optmem_bytes, 1000 + SK_MEMINFO_OPTMEM);
	assert_int_equal(seen.socks[0].info.mem.backlog_bytes, 1000 + SK_MEMINFO_BACKLOG);
	assert_int_equal(seen.socks[0].info.mem.drops, 1000 + SK_MEMINFO_DROPS);
	assert_int_equal(seen.socks[0].sk_drops, 1000 + SK_MEMINFO_DROPS);
	assert_false(seen.socks[1].has_mem || seen.socks[1].info.has_mem);
}

/* An older kernel's shorter tcp_info: what it has is read, the rest is 0. */
static void test_short_tcp_info(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};
	const struct tw_ksock *s;

	(void)state;
	put_sock(&b, AF_INET, 1, offsetof(struct tcp_info, tcpi_rttvar));
	put_sock(&b, AF_INET, 2, 3); /* shorter than any real one */
	put_done(&b);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 0);
	assert_int_equal(seen.n, 2);
	s = &seen.socks[0];
	assert_true(s->has_info);
	assert_int_equal(s->info.rtt_us, 1500);
	assert_int_equal(s->info.rttvar_us, 0);
	assert_int_equal(s->info.bytes_acked, 0);
	assert_int_equal(s->info.delivery_rate_bps, 0);
	assert_int_equal(seen.socks[1].info.rtt_us, 0);
	assert_int_equal(seen.socks[1].cookie, 2);
}

/* A newer kernel's longer tcp_info: the known part is read. */
static void test_long_tcp_info(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};

	(void)state;
	put_sock(&b, AF_INET, 1, sizeof(struct tcp_info) + 64);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 1);
	assert_int_equal(seen.n, 1);
	assert_sample_info(&seen.socks[0]);
}

static void test_netlink_error(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};

	(void)state;
	put_error(&b, -EPERM);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), -EPERM);
	assert_int_equal(seen.n, 0);

	/* Sockets before the error are still reported. */
	b.len = 0;
	put_sock(&b, AF_INET, 1, sizeof(struct tcp_info));
	put_error(&b, -ENOBUFS);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), -ENOBUFS);
	assert_int_equal(seen.n, 1);
}

/* Replies of another dump (an earlier one that timed out) or addressed to
 * another port are skipped and counted; the dump goes on. */
static void test_wrong_seq_or_port_skipped(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};
	struct nlmsghdr *nlh;
	uint64_t stale = counts.stale;

	(void)state;
	put_sock(&b, AF_INET, 1, sizeof(struct tcp_info));
	assert_int_equal(parse(b.data, b.len, SEQ + 1, &seen), 1);
	assert_int_equal(seen.n, 0);
	assert_int_equal(counts.stale, stale + 1);

	nlh = (struct nlmsghdr *)b.data;
	nlh->nlmsg_pid = PORTID + 1;
	put_sock(&b, AF_INET, 2, sizeof(struct tcp_info));
	put_done(&b);
	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.socks[0].cookie, 2);
	assert_int_equal(counts.stale, stale + 2);
}

/* Malformed messages are skipped; the good ones around them are not. */
static void test_malformed_skipped(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};
	struct inet_diag_msg *m;
	struct nlmsghdr *nlh;

	(void)state;
	put_sock(&b, AF_INET, 1, sizeof(struct tcp_info));

	/* Payload shorter than struct inet_diag_msg. */
	nlh = msg_begin(&b, SOCK_DIAG_BY_FAMILY, SEQ);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct inet_diag_msg) / 2);
	msg_end(&b, nlh);

	/* Neither IPv4 nor IPv6. */
	nlh = put_sock_header(&b, AF_UNIX, 99, &m);
	msg_end(&b, nlh);

	/* An attribute type newer than we know: ignored, the rest read. */
	nlh = put_sock_header(&b, AF_INET, 3, &m);
	mnl_attr_put_u32(nlh, INET_DIAG_MAX + 5, 1);
	{
		struct tcp_info ti = sample_info();

		mnl_attr_put(nlh, INET_DIAG_INFO, sizeof(ti), &ti);
	}
	msg_end(&b, nlh);

	/* Some other message type. */
	nlh = msg_begin(&b, SOCK_DIAG_BY_FAMILY + 1, SEQ);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct inet_diag_msg));
	msg_end(&b, nlh);

	put_sock(&b, AF_INET6, 4, sizeof(struct tcp_info));
	put_done(&b);

	assert_int_equal(parse(b.data, b.len, SEQ, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.socks[0].cookie, 1);
	assert_int_equal(seen.socks[1].cookie, 3);
	assert_sample_info(&seen.socks[1]);
	assert_int_equal(seen.socks[2].cookie, 4);
}

/* An attribute whose length runs past the message must not be read. */
static void test_attribute_overrun(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};
	struct inet_diag_msg *m;
	struct nlmsghdr *nlh = put_sock_header(&b, AF_INET, 5, &m);
	struct nlattr *a;

	(void)state;
	a = (struct nlattr *)mnl_nlmsg_get_payload_tail(nlh);
	a->nla_type = INET_DIAG_INFO;
	a->nla_len = 4000; /* but only 8 bytes follow */
	nlh->nlmsg_len += 8;
	msg_end(&b, nlh);
	parse(b.data, b.len, SEQ, &seen);
	/* Either skipped or reported without the bogus tcp_info. */
	assert_true(seen.n <= 1);
	if (seen.n)
		assert_false(seen.socks[0].has_info);
}

/* A buffer cut in the middle of a message: the whole ones are parsed. */
static void test_truncated_buffer(void **state)
{
	struct msgbuf b = {.len = 0};
	struct seen seen = {0};
	size_t first;

	(void)state;
	put_sock(&b, AF_INET, 1, sizeof(struct tcp_info));
	first = b.len;
	put_sock(&b, AF_INET, 2, sizeof(struct tcp_info));
	parse(b.data, first + 20, SEQ, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.socks[0].cookie, 1);

	seen.n = 0;
	parse(b.data, 10, SEQ, &seen); /* not even a header */
	assert_int_equal(seen.n, 0);
}

static void test_parse_msg_direct(void **state)
{
	struct msgbuf b = {.len = 0};
	struct tw_ksock s;
	struct inet_diag_msg *m;
	struct nlmsghdr *nlh;

	(void)state;
	nlh = put_sock_header(&b, AF_INET, COOKIE, &m);
	msg_end(&b, nlh);
	memset(&s, 0xff, sizeof(s));
	assert_int_equal(diag_parse_msg(nlh, &s), 0);
	assert_int_equal(s.cookie, COOKIE);
	assert_false(s.has_info);

	nlh->nlmsg_type = NLMSG_DONE;
	assert_int_equal(diag_parse_msg(nlh, &s), -EINVAL);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	m->idiag_family = AF_PACKET;
	assert_int_equal(diag_parse_msg(nlh, &s), -EINVAL);
}

/* A datagram from another socket (not the kernel) is dropped and counted;
 * the kernel's replies are taken. The receiving socket is left unconnected
 * here so that the forged datagram arrives at all (diag_open connects its
 * sockets, and the kernel then refuses such senders outright). */
static void test_foreign_sender_dropped(void **state)
{
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	struct tw_diag_counters c = {0};
	struct msgbuf b = {.len = 0};
	char buf[8192];
	int rx, tx;
	long n;

	(void)state;
	rx = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
	tx = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (rx < 0 || tx < 0)
		skip();
	assert_int_equal(bind(rx, (struct sockaddr *)&to, sizeof(to)), 0);
	to.nl_pid = diag_portid(rx);
	assert_true(to.nl_pid != 0);
	put_sock(&b, AF_INET, 1, sizeof(struct tcp_info));
	put_done(&b);
	assert_int_equal(sendto(tx, b.data, b.len, 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)b.len);
	n = diag_recv(rx, buf, sizeof(buf), &c);
	assert_int_equal(n, -EAGAIN);
	assert_int_equal(c.foreign, 1);
	/* A request to the kernel is answered by the kernel: taken. */
	assert_int_equal(diag_request_dump(rx, AF_INET, 1u << 10 /* LISTEN */, 9), 0);
	for (int i = 0; i < 100 && (n = diag_recv(rx, buf, sizeof(buf), &c)) == -EAGAIN; i++)
		usleep(10000);
	assert_true(n > 0);
	assert_int_equal(c.foreign, 1);
	close(rx);
	close(tx);
}

/* diag_open's socket is connected to the kernel: another socket's send to
 * it is refused at the sender. */
static void test_connected_refuses_others(void **state)
{
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	struct msgbuf b = {.len = 0};
	int rx = diag_open(), tx = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	(void)state;
	if (rx < 0 || tx < 0)
		skip();
	/* The port id exists once the socket is bound (at connect). */
	to.nl_pid = diag_portid(rx);
	assert_true(to.nl_pid != 0);
	put_sock(&b, AF_INET, 1, sizeof(struct tcp_info));
	assert_int_equal(sendto(tx, b.data, b.len, 0, (struct sockaddr *)&to, sizeof(to)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(rx);
	close(tx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_socket_then_done),
		cmocka_unit_test(test_ipv6_socket),
		cmocka_unit_test(test_dump_goes_on_without_done),
		cmocka_unit_test(test_without_tcp_info),
		cmocka_unit_test(test_short_tcp_info),
		cmocka_unit_test(test_long_tcp_info),
		cmocka_unit_test(test_netlink_error),
		cmocka_unit_test(test_wrong_seq_or_port_skipped),
		cmocka_unit_test(test_foreign_sender_dropped),
		cmocka_unit_test(test_connected_refuses_others),
		cmocka_unit_test(test_malformed_skipped),
		cmocka_unit_test(test_attribute_overrun),
		cmocka_unit_test(test_truncated_buffer),
		cmocka_unit_test(test_parse_msg_direct),
		cmocka_unit_test(test_skmeminfo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
