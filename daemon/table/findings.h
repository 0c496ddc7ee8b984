/*
 * Findings: explained, actionable observations derived from the table on
 * request: connections stuck in CLOSE_WAIT, FIN_WAIT2 and TIME_WAIT
 * pile-ups per remote endpoint, repeated connect failures per
 * destination, peers that keep resetting; and per listener
 * (findings_listen.c): a full accept queue, overflows, SYN cookies,
 * half-opens expiring, slow accepts, drops.
 */
#ifndef TCPWATCH_FINDINGS_H
#define TCPWATCH_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

struct tw_findings_config {
	uint32_t close_wait_threshold_ms; /* CLOSE_WAIT older than this is stuck */
	uint32_t time_wait_pileup;        /* TIME_WAIT per remote endpoint */
	uint32_t fin_wait2_pileup;        /* FIN_WAIT2 per remote endpoint */
	uint32_t connect_failures;        /* refused/timed out per destination */
	uint32_t peer_resets;             /* resets received per remote endpoint */
	uint32_t accept_queue_pct;        /* accept queue at this share of its limit */
	uint32_t accept_wait_ms;          /* accept wait p99 over this */
	uint32_t window_ms;               /* "rising": grew within this window */
	uint32_t handshake_ratio;         /* handshakes this many times the probe RTT */
};

#define TW_FINDINGS_MAX        1000 /* findings in one reply */
#define TW_FINDING_MAX_COOKIES 20   /* connections named per finding */
#define TW_FINDING_MAX_PROCS   8    /* processes named per finding */

enum tw_finding_kind {
	TW_FINDING_CLOSE_WAIT,
	TW_FINDING_TIME_WAIT,
	TW_FINDING_FIN_WAIT2,
	TW_FINDING_CONNECT_FAILURES,
	TW_FINDING_PEER_RESETS,
	TW_FINDING_ACCEPT_QUEUE, /* per listener from here on */
	TW_FINDING_LISTEN_OVERFLOWS,
	TW_FINDING_SYN_COOKIES,
	TW_FINDING_HALF_OPEN_EXPIRING,
	TW_FINDING_ACCEPT_SLOW,
	TW_FINDING_LISTENER_DROPS,
	TW_FINDING_HANDSHAKE_SLOW, /* from the prober: a remote endpoint */
	TW_FINDING_KINDS,
};

struct tw_finding_owner {
	uint32_t pid;
	char comm[16];
};

/* One finding: a kind and what it groups connections by (the owning
 * process for CLOSE_WAIT, the remote endpoint for the others). */
struct tw_finding {
	bool used;
	uint8_t kind; /* enum tw_finding_kind */
	uint8_t family;
	uint16_t port;
	uint32_t netns;
	uint32_t pid;
	uint8_t addr[16];
	uint32_t count;
	uint64_t oldest_ns; /* longest time in the state */
	uint64_t cookies[TW_FINDING_MAX_COOKIES];
	uint32_t n_cookies;
	struct tw_finding_owner procs[TW_FINDING_MAX_PROCS];
	uint32_t n_procs;
	/* Listener kinds: addr and port are the listener's local ones. */
	uint64_t listener_cookie;
	uint64_t value, limit, delta; /* the numbers behind it, per kind */
	char detail[48];              /* a drop reason's name, for LISTENER_DROPS */
};

/* Whether a kind is about a listener. */
static inline bool findings_kind_listener(uint8_t kind)
{
	return kind >= TW_FINDING_ACCEPT_QUEUE && kind <= TW_FINDING_LISTENER_DROPS;
}

struct tw_findings {
	struct tw_finding **list;             /* over their threshold, by kind then count */
	size_t n;                             /* at most TW_FINDINGS_MAX */
	bool truncated;                       /* more than TW_FINDINGS_MAX, or too many groups */
	struct tw_finding *groups;            /* the storage list points into */
	struct tw_finding *listener_findings; /* and the listeners' */
	struct tw_finding *extra;             /* and findings_add's */
};

/* The listener findings, appended to list (at most max); returns how many
 * (findings_listen.c). */
size_t findings_listeners(struct tw_conntable *t, const struct tw_findings_config *cfg,
			  uint64_t now_ns, struct tw_finding *list, size_t max);

/* Gathers the findings of the table at now_ns into *ret (free with
 * findings_free). 0 or -ENOMEM. */
int findings_collect(struct tw_conntable *t, const struct tw_findings_config *cfg, uint64_t now_ns,
		     struct tw_findings *ret);
void findings_free(struct tw_findings *f);
/* The same in steps: a pass to walk (walk.h: in slices over loop turns,
 * or walk_all), then findings_pass_end gives the findings and frees the
 * pass (0 or -ENOMEM, freed either way); findings_pass_free drops one
 * not ended. NULL out of memory. */
struct tw_findings_pass;
struct tw_walk;
struct tw_findings_pass *findings_pass_new(struct tw_conntable *t,
					   const struct tw_findings_config *cfg, uint64_t now_ns);
struct tw_walk *findings_pass_walk(struct tw_findings_pass *p);
int findings_pass_end(struct tw_findings_pass *p, struct tw_findings *ret);
void findings_pass_free(struct tw_findings_pass *p);
/* Adds n findings made elsewhere (the prober's), copied, after the rest
 * (within TW_FINDINGS_MAX). 0 or -ENOMEM. */
int findings_add(struct tw_findings *f, const struct tw_finding *v, size_t n);

const char *findings_kind_name(uint8_t kind);
const char *findings_explanation(uint8_t kind);
/* A listener kind's one sentence (findings_listen.c). */
void findings_listen_summary(const struct tw_finding *f, const struct tw_findings_config *cfg,
			     char *out, size_t len);

/* The finding in one sentence, with its numbers. */
void findings_summary(const struct tw_finding *f, const struct tw_findings_config *cfg, char *out,
		      size_t len);

#endif
