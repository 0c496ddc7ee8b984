/*
 * sock_diag (NETLINK_SOCK_DIAG) for TCP: dump requests and the parser for
 * their replies. Library code: reports errors, never logs.
 */
#ifndef TCPWATCH_DIAG_H
#define TCPWATCH_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ksock.h"

struct nlmsghdr;

/* Opens a non-blocking NETLINK_SOCK_DIAG socket in the calling thread's
 * network namespace, connected to the kernel (port id 0): the kernel then
 * refuses datagrams any other socket sends to it (ECONNREFUSED at the
 * sender). Returns the fd or a negative errno. */
int diag_open(void);
/* The socket's own netlink port id (the kernel's replies are addressed to
 * it); 0 if unknown. */
uint32_t diag_portid(int fd);

/* Every state but BOUND_INACTIVE; SYN_RECV brings NEW_SYN_RECV. */
#define DIAG_STATES_ALL ((1u << 13) - 1)
/* TIME_WAIT minisockets (also those in their FIN_WAIT2 substate). */
#define DIAG_STATE_TIME_WAIT (1u << 6)

/* Sends a dump request for the TCP sockets of one family in the states of
 * the mask (1 << state), with tcp_info. seq identifies the replies. 0 or
 * negative errno. */
int diag_request_dump(int fd, int family, uint32_t states, uint32_t seq);
/* The same with the extensions asked for chosen (DIAG_EXT_* bits): tcp_info
 * is the costly part of a dump (tcp_get_info per socket), memory is not.
 * Without DIAG_EXT_MEM nor DIAG_EXT_INFO a full SYN_RECV socket cannot be
 * told from a request socket. */
#define DIAG_EXT_INFO (1u << 0)
#define DIAG_EXT_MEM  (1u << 1)
int diag_request_dump_ext(int fd, int family, uint32_t states, unsigned ext, uint32_t seq);
/* The two halves of a request: the message built into buf (size at least
 * DIAG_REQUEST_MAX; returns its length, 0 when buf is too small), and
 * sent. The send is where the kernel fills the dump's first datagram, and
 * with no socket of the family to fill it, walks its whole hash there:
 * an IPv6 dump among 100,000 IPv4 sockets is a 15-25 ms sendto(). */
#define DIAG_REQUEST_MAX 128
size_t diag_build_dump(void *buf, size_t size, int family, uint32_t states, unsigned ext,
		       uint32_t seq);
int diag_send(int fd, const void *req, size_t len);

/* Asks for the one TCP socket with this 4-tuple (ports in host order,
 * addresses of family in 16 bytes). The reply is a single socket message
 * or an error (ENOENT), read as a dump's. 0 or negative errno. */
int diag_request_one(int fd, int family, const uint8_t local[16], uint16_t local_port,
		     const uint8_t remote[16], uint16_t remote_port, uint32_t seq);

/* What the checks of replies refused. */
struct tw_diag_counters {
	uint64_t foreign;   /* datagrams not sent by the kernel (dropped whole) */
	uint64_t stale;     /* messages of another dump (sequence or port id) */
	uint64_t malformed; /* messages that did not parse (skipped) */
};

/*
 * Receives one datagram from fd into buf, accepting only the kernel's
 * (sender port id 0): others are dropped and counted. Returns its length,
 * -EAGAIN when nothing waits, or another negative errno (-ENOBUFS: a dump
 * overran the socket).
 */
long diag_recv(int fd, void *buf, size_t len, struct tw_diag_counters *counts);

/*
 * Parses the replies in buf (as returned by one recv) and calls cb for
 * every socket. Messages whose sequence is not seq, or whose port id is not
 * portid (0: any), belong to another dump: skipped and counted. Returns 1
 * while the dump goes on, 0 when its NLMSG_DONE was seen, a negative errno
 * on its netlink error or a malformed buffer.
 */
typedef void (*diag_sock_cb)(const struct tw_ksock *s, void *data);
int diag_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid, diag_sock_cb cb,
	       void *data, struct tw_diag_counters *counts);

/* Parses one SOCK_DIAG_BY_FAMILY message. 0 or -EINVAL. */
int diag_parse_msg(const struct nlmsghdr *nlh, struct tw_ksock *ret);

#endif
