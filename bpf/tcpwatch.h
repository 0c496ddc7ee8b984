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
 *   struct tcpwatch_req         if flags & TCPWATCH_EVF_REQ
 *
 * A decoder takes the sections the header announces and ignores any bytes
 * after them.
 */
#ifndef TCPWATCH_H
#define TCPWATCH_H

#define TCPWATCH_EVENT_VERSION 3
#define TCPWATCH_COMM_LEN      16
/* Slots of the per-CPU drop counters: enum skb_drop_reason's core values
 * (this kernel has 128); higher ones (subsystem reasons) share the last. */
#define TCPWATCH_DROP_REASONS 256

enum tcpwatch_event_kind {
	TCPWATCH_EV_STATE = 1,             /* inet_sock_set_state, TCP only */
	TCPWATCH_EV_RETRANSMIT = 2,        /* tcp_retransmit_skb */
	TCPWATCH_EV_RETRANSMIT_SYNACK = 3, /* tcp_retransmit_synack: cookie is the listener's */
	TCPWATCH_EV_RESET_SENT = 4,        /* tcp_send_reset */
	TCPWATCH_EV_RESET_RECEIVED = 5,    /* tcp_receive_reset */
	TCPWATCH_EV_DROP = 6,              /* kfree_skb of a TCP packet, with its reason */
	TCPWATCH_EV_ACCEPT = 7,            /* accept()/accept4() returned this socket */
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
/* A struct tcpwatch_req follows (RETRANSMIT_SYNACK). */
#define TCPWATCH_EVF_REQ 0x08
/* DROP: cookie, state and addresses are those of the socket the kernel
 * found for the packet (rx_sk), or of the packet's own socket (EVF_TX,
 * an outgoing packet); without either, cookie is 0 and the addresses come
 * from the packet's headers, as seen from this host (local = destination). */
#define TCPWATCH_EVF_SOCK 0x10
#define TCPWATCH_EVF_TX   0x20

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
			* STATE records: only at CLOSE; at ESTABLISHED the
			* socket's total_retrans instead (an accepted child's
			* are its request's SYN-ACK retransmits); DROP: the
			* dropped packet's TCP flags (-1: unknown) */
	__u32 value;   /* RESET_SENT: enum sk_rst_reason; RETRANSMIT: err;
			* STATE: smoothed RTT in us (the child's first sample at
			* SYN_RECV->ESTABLISHED is the SYN-ACK->ACK time);
			* DROP: enum skb_drop_reason */
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

/* A request socket of a listener's SYN queue, as tcp_retransmit_synack
 * sees it (the record's addresses are the request's, its cookie the
 * listener's, aux_cookie the request's). */
struct tcpwatch_req {
	__u64 first_synack_ns; /* its first SYN-ACK (tcp_rsk(req)->snt_synack), CLOCK_MONOTONIC */
	__u32 next_timer_us;   /* until its timer fires next: another SYN-ACK, or
				* after the last one its drop; 0 = unknown */
	__u8 num_retrans;      /* SYN-ACKs retransmitted before this one */
	__u8 num_timeout;      /* timer expiries so far */
	__u8 pad[2];
};

#endif
