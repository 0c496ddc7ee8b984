// SPDX-License-Identifier: GPL-2.0
/*
 * The prober's half-open mode: drops this host's own RSTs from the source
 * ports marked in halfopen_ports (a probe waiting for the target's SYN-ACK
 * retransmissions), so the target's half-open connection lives until its
 * kernel gives up. Attached at tcx egress of every interface of the
 * probing namespace while such a probe runs; a link ends with its fd.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2
#define ETH_P_IP    0x0800
#define ETH_P_IPV6  0x86DD

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} halfopen_ports SEC(".maps");

/* RSTs dropped, for the daemon's figures. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} halfopen_dropped SEC(".maps");

SEC("tc")
int halfopen_drop_rst(struct __sk_buff *skb)
{
	__u8 vhl, proto, flags;
	__u16 sport;
	__u32 off, port, zero = 0;
	__u8 *mark;
	__u64 *n;

	if (skb->protocol != bpf_htons(ETH_P_IP) && skb->protocol != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	if (bpf_skb_load_bytes_relative(skb, 0, &vhl, 1, BPF_HDR_START_NET))
		return TC_ACT_OK;
	if (vhl >> 4 == 4) {
		if (bpf_skb_load_bytes_relative(skb, 9, &proto, 1, BPF_HDR_START_NET) || proto != 6)
			return TC_ACT_OK;
		off = (vhl & 15) * 4;
	} else if (vhl >> 4 == 6) {
		/* The kernel's RSTs carry no extension headers. */
		if (bpf_skb_load_bytes_relative(skb, 6, &proto, 1, BPF_HDR_START_NET) || proto != 6)
			return TC_ACT_OK;
		off = 40;
	} else {
		return TC_ACT_OK;
	}
	if (bpf_skb_load_bytes_relative(skb, off + 13, &flags, 1, BPF_HDR_START_NET) ||
	    !(flags & 0x04) || bpf_skb_load_bytes_relative(skb, off, &sport, 2, BPF_HDR_START_NET))
		return TC_ACT_OK;
	port = bpf_ntohs(sport);
	mark = bpf_map_lookup_elem(&halfopen_ports, &port);
	if (!mark || !*mark)
		return TC_ACT_OK;
	n = bpf_map_lookup_elem(&halfopen_dropped, &zero);
	if (n)
		*n += 1;
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
