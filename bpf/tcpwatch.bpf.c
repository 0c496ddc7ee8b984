// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwatch kernel side: typed raw tracepoints on TCP state changes,
 * retransmits and resets. Each program reserves one ring-buffer record,
 * fills it and submits it; everything else happens in user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpwatch.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader between open and load. 0 = every namespace. */
const volatile __u32 filter_netns = 0;
/*
 * Waking the reader on every record costs an IPI per TCP state change
 * (irq_work): at 100k connections/s that was the largest single cost of
 * tracing. Records are submitted without a wakeup; the reader drains on a
 * short timer, and is woken early only when this much data waits.
 */
const volatile __u64 wakeup_bytes = 256 * 1024;

/*
 * One ring buffer per CPU: a shared one made both CPUs of a busy host
 * contend for its reserve lock (6.5% of a churning workload's CPU). User
 * space merges them back into time order (daemon/reorder.c). The loader
 * sizes the array to the CPUs and fills it with rings it creates.
 */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* the loader's rings replace this template */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* resized to the number of CPUs */
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

/* Reservations that failed because the ring buffer was full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost_events SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&lost_events, &zero);

	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/* Wake the reader only for the record that crosses wakeup_bytes: past
 * it, every record would wake it again until it catches up. */
static __always_inline void *this_cpu_ring(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&rings, &cpu);
}

static __always_inline void submit(struct tcpwatch_event *e)
{
	void *ring = this_cpu_ring();
	__u64 avail = ring ? bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) : 0;
	__u64 flags = avail >= wakeup_bytes && avail < wakeup_bytes + 2 * sizeof(*e) + 16
			      ? BPF_RB_FORCE_WAKEUP
			      : BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(e, flags);
}

/* tp_btf arguments are typed kernel pointers: plain loads, which the
 * verifier turns into fault-safe ones, cost less than probe-read calls. */
static __always_inline __u32 common_netns(const struct sock_common *skc)
{
	return skc->skc_net.net->ns.inum;
}

/* Fill addresses, ports, family and netns from a sock_common (full, request
 * or timewait socket all start with one). Returns 0 if not IPv4/IPv6. */
static __always_inline int fill_common(struct tcpwatch_event *e,
				       const struct sock_common *skc)
{
	__u16 family = skc->skc_family;

	e->family = family;
	e->sport = skc->skc_num;
	e->dport = bpf_ntohs(skc->skc_dport);
	e->netns = common_netns(skc);
	if (family == AF_INET) {
		__u32 s = skc->skc_rcv_saddr;
		__u32 d = skc->skc_daddr;

		__builtin_memcpy(e->saddr, &s, 4);
		__builtin_memcpy(e->daddr, &d, 4);
	} else if (family == AF_INET6) {
		__builtin_memcpy(e->saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(e->daddr, &skc->skc_v6_daddr, 16);
	} else {
		return 0;
	}
	return 1;
}

static __always_inline struct tcpwatch_event *reserve(__u8 kind)
{
	void *ring = this_cpu_ring();
	struct tcpwatch_event *e;

	if (!ring) {
		count_lost();
		return NULL;
	}
	e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->version = TCPWATCH_EVENT_VERSION;
	e->time_ns = bpf_ktime_get_ns();
	return e;
}

static __always_inline void fill_task(struct tcpwatch_event *e)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->has_task = 1;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/*
 * inet_sock_set_state often runs in softirq, where "current" is whoever was
 * interrupted. These transitions only happen inside the owner's syscall:
 * connect(), listen(), close()/shutdown().
 */
static __always_inline int runs_in_owner(int oldstate, int newstate)
{
	return (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) ||
	       (oldstate == TCP_CLOSE && newstate == TCP_LISTEN) ||
	       (oldstate == TCP_ESTABLISHED && newstate == TCP_FIN_WAIT1) ||
	       (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK) ||
	       (oldstate == TCP_LISTEN && newstate == TCP_CLOSE);
}

static __always_inline int netns_wanted(const struct sock_common *skc)
{
	return filter_netns == 0 || common_netns(skc) == filter_netns;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, const struct sock *sk, const int oldstate,
	     const int newstate)
{
	struct tcpwatch_event *e;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (!netns_wanted(&sk->__sk_common))
		return 0;
	e = reserve(TCPWATCH_EV_STATE);
	if (!e)
		return 0;
	if (!fill_common(e, &sk->__sk_common)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	e->cookie = bpf_get_socket_cookie((void *)sk);
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->uid = sk->sk_uid.val;
	e->sk_err = sk->sk_err;
	/* tcp_rcv_state_process seeds srtt from the SYN-ACK->ACK time
	 * (tcp_synack_rtt_meas) just before SYN_RECV->ESTABLISHED. */
	if (newstate == TCP_ESTABLISHED)
		e->value = BPF_CORE_READ((const struct tcp_sock *)sk, srtt_us) >> 3;
	if (newstate == TCP_CLOSE &&
	    (oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING || oldstate == TCP_FIN_WAIT1)) {
		/* tcp_time_wait() gives up without a minisocket when the
		 * death row is full (inet_twsk_alloc): tell user space not to
		 * expect a TIME_WAIT. */
		const struct inet_timewait_death_row *dr =
			&sk->__sk_common.skc_net.net->ipv4.tcp_death_row;

		if (dr->tw_refcount.refs.counter - 1 >= dr->sysctl_max_tw_buckets)
			e->flags |= TCPWATCH_EVF_TW_FULL;
	}
	if (runs_in_owner(oldstate, newstate))
		fill_task(e);
	submit(e);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(handle_retransmit, const struct sock *sk, const struct sk_buff *skb,
	     int err)
{
	struct tcpwatch_event *e;

	if (!netns_wanted(&sk->__sk_common))
		return 0;
	e = reserve(TCPWATCH_EV_RETRANSMIT);
	if (!e)
		return 0;
	fill_common(e, &sk->__sk_common);
	e->cookie = bpf_get_socket_cookie((void *)sk);
	e->oldstate = sk->__sk_common.skc_state;
	e->value = err;
	submit(e);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(handle_retransmit_synack, const struct sock *sk,
	     const struct request_sock *req)
{
	struct tcpwatch_event *e;

	if (!netns_wanted(&sk->__sk_common))
		return 0;
	e = reserve(TCPWATCH_EV_RETRANSMIT_SYNACK);
	if (!e)
		return 0;
	/* Addresses of the half-open connection, cookie of its listener. */
	fill_common(e, &req->__req_common);
	e->cookie = bpf_get_socket_cookie((void *)sk);
	e->aux_cookie = bpf_get_socket_cookie((void *)req);
	e->oldstate = TCP_SYN_RECV;
	submit(e);
	return 0;
}

/* A reset answering a packet that matched no socket: take the addresses
 * from the offending packet, reversed (we are its destination). */
static __always_inline void fill_from_skb(struct tcpwatch_event *e,
					  const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	struct tcphdr tcp;

	if (proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		e->family = AF_INET;
		__builtin_memcpy(e->saddr, &ip.daddr, 4);
		__builtin_memcpy(e->daddr, &ip.saddr, 4);
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		e->family = AF_INET6;
		__builtin_memcpy(e->saddr, &ip6.daddr, 16);
		__builtin_memcpy(e->daddr, &ip6.saddr, 16);
	} else {
		return;
	}
	if (bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th))
		return;
	e->sport = bpf_ntohs(tcp.dest);
	e->dport = bpf_ntohs(tcp.source);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(handle_send_reset, const struct sock *sk, const struct sk_buff *skb,
	     const enum sk_rst_reason reason)
{
	struct tcpwatch_event *e;

	if (sk && !netns_wanted(&sk->__sk_common))
		return 0;
	e = reserve(TCPWATCH_EV_RESET_SENT);
	if (!e)
		return 0;
	e->value = reason;
	if (sk) {
		fill_common(e, &sk->__sk_common);
		e->cookie = bpf_get_socket_cookie((void *)sk);
		e->oldstate = sk->__sk_common.skc_state;
	} else if (skb) {
		/* No socket: the namespace is the receiving device's. */
		e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
		if (filter_netns && e->netns != filter_netns) {
			bpf_ringbuf_discard(e, 0);
			return 0;
		}
		fill_from_skb(e, skb);
	}
	submit(e);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(handle_receive_reset, struct sock *sk)
{
	struct tcpwatch_event *e;

	if (!netns_wanted(&sk->__sk_common))
		return 0;
	e = reserve(TCPWATCH_EV_RESET_RECEIVED);
	if (!e)
		return 0;
	fill_common(e, &sk->__sk_common);
	e->cookie = bpf_get_socket_cookie(sk);
	e->oldstate = sk->__sk_common.skc_state;
	e->uid = sk->sk_uid.val;
	submit(e);
	return 0;
}
