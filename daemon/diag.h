/*
 * sock_diag (NETLINK_SOCK_DIAG) for TCP: dump requests and the parser for
 * their replies. Library code: reports errors, never logs.
 */
#ifndef TCPWATCH_DIAG_H
#define TCPWATCH_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

struct nlmsghdr;

/* One socket as sock_diag reports it. */
struct tw_diag_sock {
	uint64_t cookie;
	uint8_t family;
	uint8_t state;
	uint8_t timer;        /* idiag_timer: 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 probe */
	uint8_t retrans;      /* idiag_retrans */
	uint16_t local_port;  /* host order */
	uint16_t remote_port;
	uint8_t local_addr[16];
	uint8_t remote_addr[16];
	uint32_t expires_ms;
	uint32_t rqueue;      /* LISTEN: accept queue length; else bytes unread */
	uint32_t wqueue;      /* LISTEN: accept queue limit; else bytes unsent */
	uint32_t uid;
	uint32_t inode;
	bool has_info;
	struct tw_tcpinfo info; /* valid with has_info (sample_ns left 0) */
};

/* Opens a non-blocking NETLINK_SOCK_DIAG socket in the calling thread's
 * network namespace. Returns the fd or a negative errno. */
int diag_open(void);

/* Every state but BOUND_INACTIVE; SYN_RECV brings NEW_SYN_RECV. */
#define DIAG_STATES_ALL ((1u << 13) - 1)
/* TIME_WAIT minisockets (also those in their FIN_WAIT2 substate). */
#define DIAG_STATE_TIME_WAIT (1u << 6)

/* Sends a dump request for the TCP sockets of one family in the states of
 * the mask (1 << state), with tcp_info. seq identifies the replies. 0 or
 * negative errno. */
int diag_request_dump(int fd, int family, uint32_t states, uint32_t seq);

/*
 * Parses the replies in buf (as returned by one recv) and calls cb for
 * every socket. Returns 1 while the dump goes on, 0 when NLMSG_DONE was
 * seen, a negative errno on a netlink error or a malformed message.
 */
typedef void (*diag_sock_cb)(const struct tw_diag_sock *s, void *data);
int diag_parse(const void *buf, size_t len, uint32_t seq, diag_sock_cb cb, void *data);

/* Parses one SOCK_DIAG_BY_FAMILY message. 0 or -EINVAL. */
int diag_parse_msg(const struct nlmsghdr *nlh, struct tw_diag_sock *ret);

#endif
