/*
 * The embedded TCP prober: crafted SYNs from raw sockets, timed by the
 * kernel's own software timestamps, answered by SYN-ACK (open), RST
 * (closed), an ICMP error or silence (filtered). Targets come from the
 * config (probed for ever, on a schedule) and from the API (jobs of a
 * count); both live in the daemon's event loop.
 */
#ifndef TCPWATCH_PROBE_H
#define TCPWATCH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "conntable.h"
#include "findings.h"
#include "loop.h"
#include "results.h"
#include "stats.h"

enum tw_probe_mode {
	TW_PROBE_MODE_SYN,       /* SYN, answer, the kernel resets */
	TW_PROBE_MODE_TRACE,     /* SYNs with TTL 1, 2, 3 ... */
	TW_PROBE_MODE_HALF_OPEN, /* one SYN left half-open: the SYN-ACKs resent */
};
const char *probe_mode_name(unsigned mode);

#define TW_PROBE_TRACE_HOPS_MAX 30
#define TW_HALFOPEN_SYNACKS_MAX 16  /* SYN-ACK times kept (tcp_synack_retries <= 15 fits) */
#define TW_HALFOPEN_MAX_S       300 /* a half-open probe waits at most this long */

struct tw_probe_target {
	uint32_t id;
	bool configured; /* from the config: for ever; else a job of count probes */
	bool done;       /* a job that ended (kept for a while to be read) */
	uint8_t mode;    /* enum tw_probe_mode */
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
	uint32_t netns; /* inode of the namespace probed from */
	uint32_t count; /* probes (a trace: attempts per hop) */
	uint32_t next_seq;
	uint32_t in_flight;
	uint64_t interval_ns, timeout_ns;
	uint64_t created_ns, ended_ns; /* CLOCK_MONOTONIC */
	uint64_t next_ns;              /* the next send */
	uint8_t trace_ttl;             /* the hop being probed */
	bool trace_reached;            /* the target answered */
	struct tw_results results;
	/* private */
	/* half-open mode: the kernel's arrival time of each SYN-ACK
	 * (CLOCK_REALTIME), the first one first */
	uint64_t ho_rx_ns[TW_HALFOPEN_SYNACKS_MAX];
	uint32_t ho_synacks; /* SYN-ACKs seen (more than kept possible) */
	/* real connections to it (prober_handshakes) */
	uint32_t hs_count, hs_p50_us, hs_max_us;
	uint8_t src[16];
	uint16_t mss;
	uint64_t src_until_ns;
	void *ctx;
	struct tw_probe_target *next;
};

/* An on-demand probe, as POST /api/v1/probes asks for it. */
struct tw_probe_request {
	int family;
	uint8_t addr[16];
	uint16_t port;
	uint32_t count;
	uint64_t interval_ns, timeout_ns;
	uint8_t mode;
	char netns[256]; /* "", a path or an inode number */
};

/* Why a request was refused (the API turns these into statuses). */
enum tw_probe_refusal {
	TW_REFUSE_NONE,
	TW_REFUSE_INVALID,     /* 400 */
	TW_REFUSE_NOT_ALLOWED, /* 403: the allow-list */
	TW_REFUSE_NO_NETNS,    /* 404: not a namespace the daemon follows */
	TW_REFUSE_LIMIT,       /* 429: concurrency, rate, interval */
	TW_REFUSE_UNAVAILABLE, /* 503: no raw socket, out of memory */
	TW_REFUSE_UNSUPPORTED, /* 501 */
};

struct tw_prober;

/* Hooks the wiring gives: the namespaces the daemon follows. */
struct tw_prober_hooks {
	/* Is a namespace inode one the daemon follows. */
	bool (*netns_followed)(uint32_t inode, void *data);
	/* A descriptor of a followed namespace (the daemon's; valid during
	 * the call's loop turn), or -1. */
	int (*netns_fd)(uint32_t inode, void *data);
	/* Up to max followed namespaces' inodes into out: how many. */
	size_t (*netns_list)(uint32_t *out, size_t max, void *data);
	void *data;
};

/* Sets up from cfg (the probe-* keys; targets are opened and scheduled).
 * NULL with a message in err on a bad configuration. */
struct tw_prober *prober_new(struct tw_loop *loop, const struct tw_config *cfg,
			     const struct tw_prober_hooks *hooks, char *err, size_t err_len);
void prober_free(struct tw_prober *p);

/* Starts a job. Its id in *ret_id; or a refusal with its message in err. */
enum tw_probe_refusal prober_submit(struct tw_prober *p, const struct tw_probe_request *req,
				    uint32_t *ret_id, char *err, size_t err_len);
/* Ends a job now (its probes in flight are dropped). 0 or -ENOENT. */
int prober_cancel(struct tw_prober *p, uint32_t id);
/* Targets and jobs, configured ones first. */
struct tw_probe_target *prober_first(const struct tw_prober *p);
struct tw_probe_target *prober_find(const struct tw_prober *p, uint32_t id);
/* Whether a probe token is set, and if text is it (constant time). */
/* The half-open mode's program was loaded at start-up. */
bool prober_half_open_ready(const struct tw_prober *p);
/* Unloads it: half-open jobs are refused with why. */
void prober_half_open_disable(struct tw_prober *p, const char *why);
bool prober_token_set(const struct tw_prober *p);
bool prober_token_ok(const struct tw_prober *p, const char *text);

/*
 * One pass over the table: the handshakes of connections this host opened
 * to each target (hs_* of every target), and a finding (at most max, into
 * out) for each target whose handshakes' median is over ratio times the
 * probes' median RTT and 1 ms more. Returns the findings written.
 */
size_t prober_handshakes(struct tw_prober *p, struct tw_conntable *t, uint32_t ratio,
			 struct tw_finding *out, size_t max);

void prober_report(const struct tw_prober *p, struct tw_stats *s);

#endif
