/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The record that bpf/tcpwatch.bpf.c sends through the ring buffer and
 * daemon/events.c decodes. Fixed-width types only: this header is
 * compiled both against vmlinux.h (BPF) and the C library (user space).
 * Bump TCPWATCH_EVENT_VERSION whenever the layout changes.
 */
#ifndef TCPWATCH_H
#define TCPWATCH_H

#define TCPWATCH_EVENT_VERSION 1
#define TCPWATCH_COMM_LEN 16

enum tcpwatch_event_kind {
	TCPWATCH_EV_STATE = 1,           /* inet_sock_set_state, TCP only */
	TCPWATCH_EV_RETRANSMIT = 2,      /* tcp_retransmit_skb */
	TCPWATCH_EV_RETRANSMIT_SYNACK = 3, /* tcp_retransmit_synack: cookie is the listener's */
	TCPWATCH_EV_RESET_SENT = 4,      /* tcp_send_reset */
	TCPWATCH_EV_RESET_RECEIVED = 5,  /* tcp_receive_reset */
};

/* The namespace's TIME_WAIT table (tcp_max_tw_buckets) was full when a
 * closing socket would have become a TIME_WAIT minisocket: it did not. */
#define TCPWATCH_EVF_TW_FULL 0x01

/* has_task: pid, tid and comm belong to the socket's owner (the transition
 * ran in the owning task's syscall), see "Process attribution" in
 * docs/ARCHITECTURE.md. Otherwise they are zero. */
struct tcpwatch_event {
	__u64 time_ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cookie;       /* bpf_get_socket_cookie(sk) == sock_diag idiag_cookie */
	__u64 aux_cookie;   /* RETRANSMIT_SYNACK: the request socket's cookie */
	__u32 netns;        /* network namespace inode */
	__u32 pid;          /* tgid, when has_task */
	__u32 tid;
	__u32 uid;          /* sk->sk_uid: the socket's owner, always valid */
	__u8 saddr[16];     /* local; IPv4 in the first 4 bytes */
	__u8 daddr[16];     /* remote */
	__u16 sport;        /* local port, host order */
	__u16 dport;        /* remote port, host order */
	__u16 family;       /* AF_INET or AF_INET6 */
	__u8 kind;          /* enum tcpwatch_event_kind */
	__u8 version;       /* TCPWATCH_EVENT_VERSION */
	__u8 oldstate;      /* STATE: old state; others: the socket's state */
	__u8 newstate;      /* STATE only */
	__u8 has_task;
	__u8 flags;         /* TCPWATCH_EVF_* */
	__s32 sk_err;       /* sk->sk_err at the event (ECONNRESET, ETIMEDOUT...) */
	__u32 value;        /* RESET_SENT: enum sk_rst_reason; RETRANSMIT: err;
			     * STATE: smoothed RTT in us (the child's first sample at
			     * SYN_RECV->ESTABLISHED is the SYN-ACK->ACK time) */
	char comm[TCPWATCH_COMM_LEN];
};

#endif
