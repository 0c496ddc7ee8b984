/*
 * What the prober's files share: a namespace's sockets (sock.c) and the
 * engine's state (prober.c). Not a door for other layers (they use probe.h).
 */
#ifndef TCPWATCH_PROBE_INTERNAL_H
#define TCPWATCH_PROBE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "allow.h"
#include "match.h"
#include "probe.h"

/* A probe in flight: the slot's probe, the result being built. */
struct probe_flight {
	struct tw_probe_target *t;
	struct tw_probe_result res;
	uint64_t deadline_ns;             /* CLOCK_MONOTONIC: silence past this is filtered */
	uint64_t tx_ns, rx_ns;            /* the kernel's stamps (CLOCK_REALTIME); 0 none yet */
	bool replied;                     /* the answer is in res; the TX stamp may lag */
	struct probe_flight *prev, *next; /* the live list */
};

/* The prober's sockets in one network namespace. */
struct probe_ctx {
	uint32_t netns;
	int fd[2];    /* raw TCP sockets: [0] IPv4, [1] IPv6; -1 unavailable */
	int udp[2];   /* unconnected UDP sockets for route lookups */
	int *reserve; /* TCP sockets bound to the range's ports, never listening */
	uint32_t n_reserve;
	uint8_t wscale; /* as the namespace's own SYNs (tcp_rmem) */
	struct tw_slots slots;
	struct probe_flight *flights; /* by slot */
	bool *usable;                 /* by slot: the port could be reserved */
	uint32_t cursor;              /* the next slot tried */
	/* The namespace's own interface addresses (the default allow-list). */
	uint8_t (*own)[17]; /* family, then the address */
	uint32_t n_own;
	char ns_path[256]; /* "" our own namespace */
	int *links;        /* half-open mode: tcx links, one per interface */
	uint32_t n_links;
	uint32_t halfopen_users; /* half-open probes in flight */
	struct probe_ctx *next;
};

struct probe_counters {
	uint64_t foreign, duplicates, ignored, malformed;
	uint64_t no_tx_stamp, no_rx_stamp, bad_clock;
	uint64_t ports_busy, rate_delayed, send_errors, recv_errors;
	uint64_t refused_allow, refused_limit, refused_invalid, refused_netns;
	uint64_t ctx_failures;
};

/* Opens the namespace at ns_path, checking it is still inode's (0: any):
 * a descriptor, -ESTALE if another one is there now, or -errno. */
int open_ns(const char *ns_path, uint32_t inode);
/* Opens a namespace's sockets (inode 0: ours, else ns_path's), reserving
 * ports port_min .. port_min + nports - 1. 0 or negative errno with a
 * message in err. */
int ctx_open(struct probe_ctx *c, uint32_t netns, const char *ns_path, uint16_t port_min,
	     uint16_t nports, char *err, size_t err_len);
void ctx_close(struct probe_ctx *c);
/* Returns once the kernel stamps received packets (100 ms at most). */
void ctx_wait_rx_stamps(void);
/* Reads the interface addresses of the calling thread's namespace into c
 * (ifaddr.c). */
void ctx_read_own_addrs(struct probe_ctx *c);
/* True if addr is an interface address of the namespace at ns_path (NULL:
 * ours), looked up by a thread inside it. */
bool ns_has_addr(const char *ns_path, int family, const uint8_t addr[16]);
/* True if addr is an address of one of the namespace's interfaces. */
bool ctx_own_addr(const struct probe_ctx *c, int family, const uint8_t addr[16]);
/* The source address and MSS the namespace's routing gives for dst. 0 or
 * negative errno (-ENETUNREACH...). */
int ctx_route(struct probe_ctx *c, int family, const uint8_t dst[16], uint16_t port,
	      uint8_t src[16], uint16_t *ret_mss);
/* Sends seg to dst with ttl and the timestamp key. 0 or negative errno. */
int ctx_send(struct probe_ctx *c, int family, const uint8_t dst[16], const uint8_t *seg, size_t len,
	     uint8_t ttl, uint32_t key);

/* The half-open mode's BPF program (halfopen.c). */
struct probe_halfopen;
int halfopen_load(struct probe_halfopen **ret, char *err, size_t err_len);
void halfopen_unload(struct probe_halfopen *h);
/* Drops (on) or passes our RSTs from port. 0 or negative errno. */
int halfopen_mark(struct probe_halfopen *h, uint16_t port, bool on);
uint64_t halfopen_dropped(const struct probe_halfopen *h);
/* Attaches the program to every interface of c's namespace (once). */
int halfopen_attach(struct probe_halfopen *h, struct probe_ctx *c);
void halfopen_detach(struct probe_ctx *c);

/* What a socket read gave, for the engine to judge. */
struct ctx_event {
	enum { CTX_TX_STAMP, CTX_SEGMENT, CTX_ICMP } kind;
	uint32_t key;          /* TX stamp: its key */
	uint64_t stamp_ns;     /* CLOCK_REALTIME; 0 none */
	struct tw_tcp_seg seg; /* CTX_SEGMENT */
	/* CTX_ICMP: the original destination, the quoted TCP header, the
	 * ICMP type and code, and the router or host that sent it */
	int family;
	uint8_t dst[16];
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t icmp_type, icmp_code;
	uint8_t from[16];
};
typedef void (*ctx_event_cb)(struct probe_ctx *c, const struct ctx_event *e, void *data);
/* Reads what waits on socket fam (0 or 1): the error queue first (TX
 * stamps, ICMP), then the segments, at most budget packets. */
void ctx_read(struct probe_ctx *c, int fam, ctx_event_cb cb, void *data, struct probe_counters *n,
	      unsigned budget);

#endif
