/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The records that bpf/tcpwatch.bpf.c sends through the ring buffers and
 * daemon/events.c decodes. Fixed-width types only: this header is
 * compiled both against vmlinux.h (BPF) and the C library (user space).
 * Bump TCPWATCH_EVENT_VERSION whenever the layout changes.
 *
 * A record is variable-sized: the common one (an IPv4 state change) is 48
 * bytes, 56 with the ring's header, under a cache line of ring. Under
 * churn a million records a second are written, each to ring memory the
 * CPU last touched a whole lap ago, so the ring's cache misses are a large
 * part of tracing's cost (the fixed record was 120 bytes). Sections, in
 * this order:
 *
 *   struct tcpwatch_rec         always
 *   struct tcpwatch_addr4       family AF_INET
 *   struct tcpwatch_addr6       family AF_INET6 (other families: no section)
 *   struct tcpwatch_task        if flags & TCPWATCH_EVF_TASK
 *   __u64 aux_cookie            if flags & TCPWATCH_EVF_AUX
 *
 * A decoder takes the sections the header announces and ignores any bytes
 * after them.
 */
#ifndef TCPWATCH_H
#define TCPWATCH_H

#define TCPWATCH_EVENT_VERSION 2
#define TCPWATCH_COMM_LEN      16

enum tcpwatch_event_kind {
	TCPWATCH_EV_STATE = 1,             /* inet_sock_set_state, TCP only */
	TCPWATCH_EV_RETRANSMIT = 2,        /* tcp_retransmit_skb */
	TCPWATCH_EV_RETRANSMIT_SYNACK = 3, /* tcp_retransmit_synack: cookie is the listener's */
	TCPWATCH_EV_RESET_SENT = 4,        /* tcp_send_reset */
	TCPWATCH_EV_RESET_RECEIVED = 5,    /* tcp_receive_reset */
	TCPWATCH_EV_KINDS,                 /* one past the last kind */
};

/* The namespace's TIME_WAIT table (tcp_max_tw_buckets) was full when a
 * closing socket would have become a TIME_WAIT minisocket: it did not. */
#define TCPWATCH_EVF_TW_FULL 0x01
/* A struct tcpwatch_task follows the addresses: the transition ran in the
 * owning task's syscall, see "Process attribution" in
 * docs/ARCHITECTURE.md. */
#define TCPWATCH_EVF_TASK 0x02
/* An aux cookie follows (RETRANSMIT_SYNACK: the request socket's). */
#define TCPWATCH_EVF_AUX 0x04

struct tcpwatch_rec {
	__u64 time_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC; first, the
			* ring merge reads it (daemon/ringmerge.h) */
	__u64 cookie;  /* bpf_get_socket_cookie(sk) == sock_diag idiag_cookie */
	__u32 netns;   /* network namespace inode; STATE records carry it
			* only from CLOSE or LISTEN (a socket's first
			* transition), others 0 */
	__u32 uid;     /* sk->sk_uid: the socket's owner; STATE records
			* only with the netns, RESET_RECEIVED always */
	__u16 sport;   /* local port, host order */
	__u16 dport;   /* remote port, host order */
	__u8 kind;     /* enum tcpwatch_event_kind */
	__u8 version;  /* TCPWATCH_EVENT_VERSION */
	__u8 oldstate; /* STATE: old state; others: the socket's state */
	__u8 newstate; /* STATE only */
	__u8 family;   /* AF_INET, AF_INET6; 0 = no addresses */
	__u8 flags;    /* TCPWATCH_EVF_* */
	__s16 sk_err;  /* sk->sk_err at the event (ECONNRESET, ETIMEDOUT...);
			* STATE records: only at CLOSE */
	__u32 value;   /* RESET_SENT: enum sk_rst_reason; RETRANSMIT: err;
			* STATE: smoothed RTT in us (the child's first sample at
			* SYN_RECV->ESTABLISHED is the SYN-ACK->ACK time) */
};

struct tcpwatch_addr4 {
	__u32 saddr; /* local, network order */
	__u32 daddr; /* remote */
};

struct tcpwatch_addr6 {
	__u8 saddr[16];
	__u8 daddr[16];
};

struct tcpwatch_task {
	__u32 pid; /* tgid */
	__u32 tid;
	char comm[TCPWATCH_COMM_LEN];
};

#endif
