// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwatch kernel side: typed raw tracepoints on TCP state changes,
 * retransmits and resets. Each program builds one record (bpf/tcpwatch.h)
 * on its stack and writes it to its CPU's ring buffer; everything else
 * happens in user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpwatch.h"

#define AF_INET    2
#define AF_INET6   10
#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD

char LICENSE[] SEC("license") = "GPL";

/* A typed view of a kernel pointer as another type (Linux 6.2): the
 * verifier turns the call into nothing and the loads through it into
 * fault-safe ones, so it costs less than a probe-read call. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/*
 * The same view of a pointer the program was given, for loads that walk
 * pointer fields (a socket's namespace, a packet's device). Walking a
 * trusted pointer's pointer field makes the verifier look up whether the
 * field is marked trusted or RCU-protected: four searches of the
 * kernel's BTF by name, each a linear scan of its 150,000 types, for
 * every path it explores through that load. Through the untrusted view
 * the load is the same fault-safe one and the searches are not made;
 * helpers that want a trusted pointer still get the original.
 */
#define UNTRUSTED(p, type)                                                                         \
	((const type *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(type)))

/* Set by the loader between open and load. 0 = every namespace. */
const volatile __u32 filter_netns = 0;

/* The kernel's tick, to turn a request's timer (jiffies) into time; 0 if
 * the kernel's configuration cannot be read (the time is then unknown). */
extern unsigned long CONFIG_HZ __kconfig __weak;
/*
 * Waking the reader on every record costs an IPI per TCP state change
 * (irq_work): at 100k connections/s that was the largest single cost of
 * tracing. Records are written without a wakeup; the reader drains on a
 * short timer, and each CPU wakes it early every wakeup_bytes it writes.
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

/* Bytes this CPU wrote since it last woke the reader, per context. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} written SEC(".maps");

/*
 * Two copies of each program that can run in both task and interrupt
 * context. The kernel's recursion guard is per program and per CPU: with
 * one program, a softirq that interrupted it and hit one of its
 * tracepoints was skipped, its event lost. The kernel runs the copies of
 * a tracepoint one after the other, first then second: the first serves
 * every hit it runs for and notes it in its context's slot; the second
 * serves a hit only if that note is not this hit's, that is when the
 * first was skipped because a softirq interrupted it. The second is
 * skipped in turn when a softirq interrupts its own short run in task
 * context, and then the first, free, serves. A hit is lost only if both
 * copies are running underneath it on that CPU, which takes three nested
 * contexts (TCP's tracepoints do not fire in hard interrupts).
 *
 * The context is told by the stack: a softirq that interrupts a task (the
 * only way one of our runs can be nested) runs on the CPU's interrupt
 * stack (x86-64 and arm64 serve softirqs on their own stack), a task on
 * its own. preempt_count would say it more directly, but it is a per-CPU
 * variable this kernel's kallsyms does not list (no KALLSYMS_ALL), so a
 * program cannot name it. A softirq served by ksoftirqd runs on that
 * task's stack and is taken as task context: nothing nests on it either.
 * Each context also writes its own rings (cpu * 2 + context): a ring then
 * has one producer that no other interrupts, and stays in time order,
 * which the daemon's merge relies on.
 */
#if defined(__TARGET_ARCH_x86) || defined(__TARGET_ARCH_arm64)
#define STACK_CONTEXTS 1
#endif

extern bool CONFIG_KASAN __kconfig __weak;

/* Set where the context cannot be told (another architecture): the first
 * copies then do all the work, and their skipped runs are losses again. */
__u32 ctx_unknown = 0;

/* 1 on the interrupt stack, 0 on the task's. A function of its own, with
 * a few bytes of stack: the programs' own frames are too large for the
 * kernel stack and get a private per-CPU one from the JIT (Linux 6.13),
 * so only a small function's frame is where the kernel runs. */
static __noinline __u32 irq_ctx(void)
{
#ifdef STACK_CONTEXTS
	/* THREAD_SIZE: 16 KiB, twice that with KASAN (x86-64, arm64). */
	__u64 thread_size = CONFIG_KASAN ? 32768 : 16384;
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 lo = (__u64)t->stack, hi = lo + thread_size;
	volatile char here = 0;

	/* Two comparisons of a stack pointer with numbers, which the
	 * verifier allows a privileged loader; the compiler must not fold
	 * them into one subtraction (pointer arithmetic it refuses). */
	barrier_var(hi);
	return !((__u64)&here >= lo && (__u64)&here < hi);
#else
	if (!ctx_unknown)
		ctx_unknown = 1;
	return 0;
#endif
}

/* The hit the first copy served last in each context (task, interrupt):
 * the tracepoint's object (socket, request or packet) and what else tells
 * it apart. */
struct hit {
	__u64 obj;
	__u64 aux;
};

struct served {
	struct hit level[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct served);
} served SEC(".maps");

enum copy { FIRST_COPY, SECOND_COPY, ONLY_COPY };

static __always_inline int is_hit(struct hit *h, const void *obj, __u64 aux)
{
	if (h->obj != (__u64)obj || h->aux != aux)
		return 0;
	h->obj = 0;
	return 1;
}

/*
 * Whether this copy serves the hit on obj/aux, called once the program's
 * filters have passed (both copies take the same decisions up to here):
 * its context's level + 1 (the ring), or 0. A program that runs in one
 * context only (accept's syscall exit) is its ONLY_COPY.
 *
 * The second copy looks at both contexts' notes rather than telling its
 * own context (which costs a call): the first copy's note for a hit in
 * the other context is another hit's. It runs on every hit, so this is
 * most of its cost.
 */
static __always_inline __u32 serves(enum copy copy, const void *obj, __u64 aux)
{
	__u32 zero = 0, level;
	struct served *sv;

	if (copy == ONLY_COPY)
		return 1;
#ifndef STACK_CONTEXTS
	if (copy == SECOND_COPY)
		return 0;
#endif
	sv = bpf_map_lookup_elem(&served, &zero);
	if (!sv)
		return 0;
	if (copy == SECOND_COPY &&
	    (is_hit(&sv->level[0], obj, aux) || is_hit(&sv->level[1], obj, aux)))
		return 0;
	level = irq_ctx() & 1;
	if (copy == FIRST_COPY) {
		sv->level[level].obj = (__u64)obj;
		sv->level[level].aux = aux;
	}
	return level + 1;
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&lost_events, &zero);

	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/* A record as built on the stack: the header, then the addresses of its
 * family, then the task or the aux cookie. Only the sections in use are
 * written to the ring (record_size). */
union tail {
	struct tcpwatch_task task;
	__u64 aux_cookie;
	struct {
		__u64 aux_cookie;
		struct tcpwatch_req req;
	} synack;
};

struct wire {
	struct tcpwatch_rec r;
	union {
		struct {
			struct tcpwatch_addr4 a;
			union tail t;
		} v4;
		struct {
			struct tcpwatch_addr6 a;
			union tail t;
		} v6;
	};
	__u64 spare; /* record_size's bound if both TASK and AUX were set */
	__u32 level; /* the context: which of this CPU's rings (not sent) */
};

/* Where the task or aux cookie goes: right after the addresses. The
 * offset is made opaque to the compiler, which would otherwise pick
 * between the two addresses with a bit operation on the pointer, and the
 * verifier refuses those; an addition it checks against the bounds. */
static __always_inline union tail *tail_of(struct wire *w)
{
	/* No addresses (family 0): the tail follows the header. */
	__u64 off = w->r.family == AF_INET6  ? offsetof(struct wire, v6.t)
		    : w->r.family == AF_INET ? offsetof(struct wire, v4.t)
					     : offsetof(struct wire, v4.a);

	barrier_var(off);
	return (union tail *)((char *)w + off);
}

static __always_inline __u32 record_size(const struct wire *w)
{
	__u32 n = sizeof(struct tcpwatch_rec);

	if (w->r.family == AF_INET)
		n += sizeof(struct tcpwatch_addr4);
	else if (w->r.family == AF_INET6)
		n += sizeof(struct tcpwatch_addr6);
	if (w->r.flags & TCPWATCH_EVF_TASK)
		n += sizeof(struct tcpwatch_task);
	if (w->r.flags & TCPWATCH_EVF_AUX)
		n += sizeof(__u64);
	if (w->r.flags & TCPWATCH_EVF_REQ)
		n += sizeof(struct tcpwatch_req);
	return n <= sizeof(*w) ? n : sizeof(*w);
}

/* Begins a record if this copy serves the hit (serves()): false if not. */
static __always_inline int start(struct wire *w, __u8 kind, enum copy copy, const void *obj,
				 __u64 aux)
{
	__u32 level = serves(copy, obj, aux);

	if (!level)
		return 0;
	__builtin_memset(w, 0, sizeof(*w));
	w->level = level - 1;
	w->r.time_ns = bpf_ktime_get_ns();
	w->r.kind = kind;
	w->r.version = TCPWATCH_EVENT_VERSION;
	return 1;
}

/*
 * Copies the record into this CPU's ring. Every wakeup_bytes written, the
 * record also wakes the reader. The counter is a per-CPU array element
 * (one per context, like the rings), which the verifier inlines: asking
 * the ring how full it is would be one more helper call per record.
 */
static __always_inline void emit(struct wire *w)
{
	__u32 ctx = w->level, ring_id = bpf_get_smp_processor_id() * 2 + ctx;
	void *ring = bpf_map_lookup_elem(&rings, &ring_id);
	__u64 *acc = bpf_map_lookup_elem(&written, &ctx);
	__u32 size = record_size(w);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (!ring) {
		count_lost();
		return;
	}
	if (acc) {
		*acc += size + 8;
		if (*acc >= wakeup_bytes) {
			*acc = 0;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	if (bpf_ringbuf_output(ring, w, size, flags))
		count_lost();
}

/* tp_btf arguments are typed kernel pointers: plain loads, which the
 * verifier turns into fault-safe ones, cost less than probe-read calls. */
static __always_inline __u32 common_netns(const struct sock_common *skc)
{
	return UNTRUSTED(skc, struct sock_common)->skc_net.net->ns.inum;
}

/* Fill addresses, ports and family from a sock_common (full, request or
 * timewait socket all start with one), and the netns if with_netns.
 * Returns 0 if not IPv4/IPv6. */
static __always_inline int fill_sock(struct wire *w, const struct sock_common *skc, int with_netns)
{
	__u16 family = skc->skc_family;

	if (family == AF_INET) {
		w->v4.a.saddr = skc->skc_rcv_saddr;
		w->v4.a.daddr = skc->skc_daddr;
	} else if (family == AF_INET6) {
		__builtin_memcpy(w->v6.a.saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(w->v6.a.daddr, &skc->skc_v6_daddr, 16);
	} else {
		return 0;
	}
	w->r.family = family;
	w->r.sport = skc->skc_num;
	w->r.dport = bpf_ntohs(skc->skc_dport);
	if (with_netns)
		w->r.netns = common_netns(skc);
	return 1;
}

static __always_inline int fill_common(struct wire *w, const struct sock_common *skc)
{
	return fill_sock(w, skc, 1);
}

static __always_inline void fill_task(struct wire *w)
{
	union tail *t = tail_of(w);
	__u64 id = bpf_get_current_pid_tgid();

	w->r.flags |= TCPWATCH_EVF_TASK;
	t->task.pid = id >> 32;
	t->task.tid = (__u32)id;
	bpf_get_current_comm(t->task.comm, sizeof(t->task.comm));
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

static __always_inline int set_state(enum copy copy, const struct sock *sk, const int oldstate,
				     const int newstate)
{
	struct wire w;
	int first;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (!netns_wanted(&sk->__sk_common))
		return 0;
	if (!start(&w, TCPWATCH_EV_STATE, copy, sk, (__u64)oldstate << 8 | newstate))
		return 0;
	/*
	 * The namespace's inode shares a cache line with its reference
	 * count, which every socket created or freed in it writes: reading
	 * it on every event was a cache miss each under churn. A socket's
	 * life starts with a transition from CLOSE (connect, listen) or
	 * LISTEN (an accepted child); only those carry it and the owner's
	 * uid (another line TCP rarely reads), the daemon keeps them from
	 * there (and its reconcile fills them in for a socket whose first
	 * events were lost).
	 */
	first = oldstate == TCP_CLOSE || oldstate == TCP_LISTEN;
	if (!fill_sock(&w, &sk->__sk_common, filter_netns || first))
		return 0;
	if (first)
		w.r.uid = sk->sk_uid.val;
	/* The cookie is made on first use (our first event): after that it
	 * is a plain load rather than a helper call. */
	w.r.cookie = sk->__sk_common.skc_cookie.counter;
	if (!w.r.cookie)
		w.r.cookie = bpf_get_socket_cookie((void *)sk);
	w.r.oldstate = oldstate;
	w.r.newstate = newstate;
	/* What ended the connection (refused, timed out, reset). */
	if (newstate == TCP_CLOSE)
		w.r.sk_err = sk->sk_err;
	/* tcp_rcv_state_process seeds srtt from the SYN-ACK->ACK time
	 * (tcp_synack_rtt_meas) just before SYN_RECV->ESTABLISHED. */
	if (newstate == TCP_ESTABLISHED) {
		const struct tcp_sock *tp =
			bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));

		w.r.value = tp->srtt_us >> 3;
		/* An accepted child starts with its request's SYN-ACK
		 * retransmits (tcp_create_openreq_child). */
		w.r.sk_err = (__s16)tp->total_retrans;
	}
	if (newstate == TCP_CLOSE &&
	    (oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING || oldstate == TCP_FIN_WAIT1)) {
		/* tcp_time_wait() gives up without a minisocket when the
		 * death row is full (inet_twsk_alloc): tell user space not to
		 * expect a TIME_WAIT. */
		const struct inet_timewait_death_row *dr =
			&UNTRUSTED(sk, struct sock)->__sk_common.skc_net.net->ipv4.tcp_death_row;

		if (dr->tw_refcount.refs.counter - 1 >= dr->sysctl_max_tw_buckets)
			w.r.flags |= TCPWATCH_EVF_TW_FULL;
	}
	if (runs_in_owner(oldstate, newstate))
		fill_task(&w);
	emit(&w);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return set_state(FIRST_COPY, sk, oldstate, newstate);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nest_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return set_state(SECOND_COPY, sk, oldstate, newstate);
}

static __always_inline int retransmit(enum copy copy, const struct sock *sk,
				      const struct sk_buff *skb, int err)
{
	struct wire w;

	if (!netns_wanted(&sk->__sk_common))
		return 0;
	if (!start(&w, TCPWATCH_EV_RETRANSMIT, copy, skb, err))
		return 0;
	fill_common(&w, &sk->__sk_common);
	w.r.cookie = bpf_get_socket_cookie((void *)sk);
	w.r.oldstate = sk->__sk_common.skc_state;
	w.r.value = err;
	emit(&w);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(handle_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
	return retransmit(FIRST_COPY, sk, skb, err);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(nest_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
	return retransmit(SECOND_COPY, sk, skb, err);
}

static __always_inline int retransmit_synack(enum copy copy, const struct sock *sk,
					     const struct request_sock *req)
{
	struct wire w;

	if (!netns_wanted(&sk->__sk_common))
		return 0;
	const struct tcp_request_sock *treq =
		bpf_rdonly_cast(req, bpf_core_type_id_kernel(struct tcp_request_sock));
	union tail *t;
	__u64 timeout;

	if (!start(&w, TCPWATCH_EV_RETRANSMIT_SYNACK, copy, req, 0))
		return 0;
	/* Addresses of the half-open connection, cookie of its listener. */
	fill_common(&w, &req->__req_common);
	w.r.cookie = bpf_get_socket_cookie((void *)sk);
	w.r.oldstate = TCP_SYN_RECV;
	w.r.flags |= TCPWATCH_EVF_AUX | TCPWATCH_EVF_REQ;
	t = tail_of(&w);
	t->synack.aux_cookie = bpf_get_socket_cookie((void *)req);
	/* snt_synack is the first SYN-ACK's time in us on the clock of
	 * bpf_ktime_get_ns() (tcp_clock_us). */
	t->synack.req.first_synack_ns = treq->snt_synack * 1000;
	t->synack.req.num_retrans = req->num_retrans;
	t->synack.req.num_timeout = req->num_timeout;
	/* From the timer (reqsk_timer_handler): after this SYN-ACK it is
	 * re-armed for timeout << (num_timeout + 1) jiffies, at most
	 * TCP_RTO_MAX (120 s). A SYN-ACK resent for a duplicate SYN does not
	 * move the timer: then this is only an estimate. */
	timeout = (__u64)req->timeout << ((req->num_timeout + 1) & 31);
	if (CONFIG_HZ) {
		timeout = timeout * 1000000 / CONFIG_HZ;
		t->synack.req.next_timer_us = timeout < 120000000 ? timeout : 120000000;
	}
	emit(&w);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(handle_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	return retransmit_synack(FIRST_COPY, sk, req);
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(nest_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	return retransmit_synack(SECOND_COPY, sk, req);
}

/* A reset answering a packet that matched no socket: take the addresses
 * from the offending packet, reversed (we are its destination). */
static __always_inline void fill_from_skb(struct wire *w, const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	struct tcphdr tcp;

	if (bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th))
		return;
	if (proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		w->v4.a.saddr = ip.daddr;
		w->v4.a.daddr = ip.saddr;
		w->r.family = AF_INET;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		__builtin_memcpy(w->v6.a.saddr, &ip6.daddr, 16);
		__builtin_memcpy(w->v6.a.daddr, &ip6.saddr, 16);
		w->r.family = AF_INET6;
	} else {
		return;
	}
	w->r.sport = bpf_ntohs(tcp.dest);
	w->r.dport = bpf_ntohs(tcp.source);
}

static __always_inline int send_reset(enum copy copy, const struct sock *sk,
				      const struct sk_buff *skb, const enum sk_rst_reason reason)
{
	struct wire w;

	if (sk && !netns_wanted(&sk->__sk_common))
		return 0;
	if (!start(&w, TCPWATCH_EV_RESET_SENT, copy, sk ? (const void *)sk : (const void *)skb,
		   reason))
		return 0;
	w.r.value = reason;
	if (sk) {
		fill_common(&w, &sk->__sk_common);
		w.r.cookie = bpf_get_socket_cookie((void *)sk);
		w.r.oldstate = sk->__sk_common.skc_state;
	} else if (skb) {
		/* No socket: the namespace is the receiving device's. */
		w.r.netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
		if (filter_netns && w.r.netns != filter_netns)
			return 0;
		fill_from_skb(&w, skb);
	}
	emit(&w);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(handle_send_reset, const struct sock *sk, const struct sk_buff *skb,
	     const enum sk_rst_reason reason)
{
	return send_reset(FIRST_COPY, sk, skb, reason);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(nest_send_reset, const struct sock *sk, const struct sk_buff *skb,
	     const enum sk_rst_reason reason)
{
	return send_reset(SECOND_COPY, sk, skb, reason);
}

static __always_inline int receive_reset(enum copy copy, struct sock *sk)
{
	struct wire w;

	if (!netns_wanted(&sk->__sk_common))
		return 0;
	if (!start(&w, TCPWATCH_EV_RESET_RECEIVED, copy, sk, 0))
		return 0;
	fill_common(&w, &sk->__sk_common);
	w.r.cookie = bpf_get_socket_cookie(sk);
	w.r.oldstate = sk->__sk_common.skc_state;
	w.r.uid = sk->sk_uid.val;
	emit(&w);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(handle_receive_reset, struct sock *sk)
{
	return receive_reset(FIRST_COPY, sk);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(nest_receive_reset, struct sock *sk)
{
	return receive_reset(SECOND_COPY, sk);
}

/* --- drops: kfree_skb of TCP packets, with the kernel's reason --- */

/* Drops by reason, all CPUs, exact even when the ring is full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPWATCH_DROP_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} drops_by_reason SEC(".maps");

static __always_inline void count_drop(__u32 reason)
{
	__u32 key = reason < TCPWATCH_DROP_REASONS ? reason : TCPWATCH_DROP_REASONS - 1;
	__u64 *n = bpf_map_lookup_elem(&drops_by_reason, &key);

	if (n)
		*n += 1;
}

static __always_inline int is_tcp_sock(const struct sock *sk)
{
	__u8 state = sk->__sk_common.skc_state;
	__u16 family = sk->__sk_common.skc_family;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	/* Request and timewait minisockets are TCP's alone, and end before
	 * sk_protocol (a field of the full socket only). */
	if (state == TCP_NEW_SYN_RECV || state == TCP_TIME_WAIT)
		return 1;
	return sk->sk_protocol == IPPROTO_TCP;
}

/* A dropped packet's headers, read in place: the kernel's memory cast to
 * its header types (bpf_rdonly_cast), each field a plain load the
 * verifier makes fault-safe, instead of a probe-read call per header. */
struct pkt_hdr {
	const struct iphdr *ip;
	const struct ipv6hdr *ip6;
	const struct tcphdr *tcp;
};

/* 1 if the packet is TCP over IPv4 or IPv6 (the filter a drop of any
 * other protocol stops at), its headers in *h. */
static __always_inline int packet_is_tcp(const struct sk_buff *skb, struct pkt_hdr *h)
{
	unsigned char *nh = skb->head + skb->network_header;
	__u16 proto = bpf_ntohs(skb->protocol);

	h->ip = NULL;
	h->ip6 = NULL;
	if (proto == ETH_P_IP) {
		h->ip = bpf_rdonly_cast(nh, bpf_core_type_id_kernel(struct iphdr));
		if (h->ip->protocol != IPPROTO_TCP)
			return 0;
		h->tcp = bpf_rdonly_cast(nh + h->ip->ihl * 4,
					 bpf_core_type_id_kernel(struct tcphdr));
		return 1;
	}
	if (proto == ETH_P_IPV6) {
		h->ip6 = bpf_rdonly_cast(nh, bpf_core_type_id_kernel(struct ipv6hdr));
		if (h->ip6->nexthdr != IPPROTO_TCP)
			return 0;
		h->tcp = bpf_rdonly_cast(nh + sizeof(struct ipv6hdr),
					 bpf_core_type_id_kernel(struct tcphdr));
		return 1;
	}
	return 0;
}

/* Addresses, ports and TCP flags from the packet's headers, as seen from
 * this host (its destination is the local end). */
static __always_inline void fill_from_packet(struct wire *w, const struct pkt_hdr *h)
{
	const struct tcphdr *tcp = h->tcp;

	if (h->ip) {
		w->v4.a.saddr = h->ip->daddr;
		w->v4.a.daddr = h->ip->saddr;
		w->r.family = AF_INET;
	} else if (h->ip6) {
		__builtin_memcpy(w->v6.a.saddr, &h->ip6->daddr, 16);
		__builtin_memcpy(w->v6.a.daddr, &h->ip6->saddr, 16);
		w->r.family = AF_INET6;
	}
	w->r.sport = bpf_ntohs(tcp->dest);
	w->r.dport = bpf_ntohs(tcp->source);
	w->r.sk_err = tcp->fin | tcp->syn << 1 | tcp->rst << 2 | tcp->psh << 3 | tcp->ack << 4 |
		      tcp->urg << 5;
}

/* Every filter runs before the record is begun: a drop that is not TCP's
 * (most of a host's) costs a few loads and at most one header read. */
static __always_inline int kfree_skb_drop(enum copy copy, struct sk_buff *skb,
					  enum skb_drop_reason reason, struct sock *rx_sk)
{
	const struct sock *sk = rx_sk;
	const struct sk_buff *pkt = UNTRUSTED(skb, struct sk_buff);
	struct pkt_hdr h;
	struct wire w;
	__u32 netns;
	__u16 tx = 0;

	/* Not a drop (consumed), or no skb: nothing to say. */
	if (reason <= SKB_CONSUMED || !skb)
		return 0;
	/* A dying socket's queues freed in bulk (a close with data still
	 * queued, every connection of a busy server): counted, not told. */
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_QUEUE_PURGE) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_QUEUE_PURGE)) {
		sk = rx_sk ? rx_sk : pkt->sk;
		if (sk && is_tcp_sock(sk) && netns_wanted(&sk->__sk_common) &&
		    serves(copy, skb, reason))
			count_drop(reason);
		return 0;
	}
	if (!sk) {
		/* The sending socket of a packet on its way out; a received
		 * packet can still be owned by another kind (a TUN device's
		 * writer), which is no TCP socket: its headers speak. */
		sk = pkt->sk;
		if (sk && is_tcp_sock(sk))
			tx = TCPWATCH_EVF_TX;
		else
			sk = NULL;
	}
	if (sk) {
		if (!is_tcp_sock(sk) || !netns_wanted(&sk->__sk_common))
			return 0;
		if (!start(&w, TCPWATCH_EV_DROP, copy, skb, reason))
			return 0;
		fill_common(&w, &sk->__sk_common);
		/* 0 if no program of ours ever made it: a socket we know
		 * has one (skb->sk is not a pointer the cookie helper takes). */
		w.r.cookie = sk->__sk_common.skc_cookie.counter;
		w.r.oldstate = sk->__sk_common.skc_state;
		w.r.flags |= TCPWATCH_EVF_SOCK | tx;
		w.r.sk_err = -1;
	} else {
		if (!packet_is_tcp(pkt, &h))
			return 0;
		netns = pkt->dev ? pkt->dev->nd_net.net->ns.inum : 0;
		if (filter_netns && netns != filter_netns)
			return 0;
		if (!start(&w, TCPWATCH_EV_DROP, copy, skb, reason))
			return 0;
		w.r.netns = netns;
		fill_from_packet(&w, &h);
	}
	w.r.value = reason;
	count_drop(reason);
	emit(&w);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(handle_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
	     struct sock *rx_sk)
{
	return kfree_skb_drop(FIRST_COPY, skb, reason, rx_sk);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(nest_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
	     struct sock *rx_sk)
{
	return kfree_skb_drop(SECOND_COPY, skb, reason, rx_sk);
}

/* --- accept(): the moment a child leaves its listener's accept queue --- */

/*
 * The socket of the descriptor accept() just returned, found through the
 * task's descriptor table. Its cookie was made at LISTEN -> SYN_RECV by
 * handle_set_state. The socket's file must point back at the file, or the
 * descriptor is not (or no longer) the accepted socket.
 */
static __always_inline int on_accept(long fd)
{
	struct task_struct *task;
	struct fdtable *fdt;
	struct file *f;
	struct socket *sock;
	struct sock *sk;
	struct wire w;
	void *slot;

	if (fd < 0)
		return 0;
	/* Plain loads through the task's BTF pointers; only the descriptor
	 * array, indexed by a variable, is read with a helper. */
	task = (struct task_struct *)UNTRUSTED(bpf_get_current_task_btf(), struct task_struct);
	fdt = task->files->fdt;
	if ((unsigned long)fd >= fdt->max_fds ||
	    bpf_probe_read_kernel(&slot, sizeof(slot), &fdt->fd[fd]) || !slot)
		return 0;
	f = bpf_rdonly_cast(slot, bpf_core_type_id_kernel(struct file));
	sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	/* The socket's file must point back at the file: else the
	 * descriptor is no (longer the accepted) socket. */
	if ((void *)sock->file != slot)
		return 0;
	sk = sock->sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (filter_netns && common_netns(&sk->__sk_common) != filter_netns)
		return 0;
	if (!start(&w, TCPWATCH_EV_ACCEPT, ONLY_COPY, NULL, 0))
		return 0;
	w.r.cookie = sk->__sk_common.skc_cookie.counter;
	if (!w.r.cookie)
		return 0; /* never seen by handle_set_state: not ours to time */
	/* The namespace is the connection's, known by its cookie: not read
	 * here (a cache miss: it shares a line with the namespace's
	 * reference count). */
	w.r.oldstate = sk->__sk_common.skc_state;
	fill_task(&w);
	emit(&w);
	return 0;
}

/* The syscall tracepoints run only for their own syscall: the cheapest
 * exact way (tracefs must be mounted to attach them). */
SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_accept4(struct syscall_trace_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_accept(struct syscall_trace_exit *ctx)
{
	return on_accept(ctx->ret);
}

/* Without tracefs: every syscall's exit, filtered to accept and accept4. */
#if defined(__TARGET_ARCH_x86)
#define NR_ACCEPT        43
#define NR_ACCEPT4       288
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_ACCEPT        202
#define NR_ACCEPT4       242
#define SYSCALL_NR(regs) ((regs)->syscallno)
#endif

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
#ifdef NR_ACCEPT
	long nr = SYSCALL_NR(regs);

	if (nr == NR_ACCEPT || nr == NR_ACCEPT4)
		return on_accept(ret);
#endif
	return 0;
}
