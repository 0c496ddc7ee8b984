/*
 * Reconciliation: sock_diag is the truth of what exists. A pass walks every
 * socket of every namespace; reconcile_sock() creates what the table missed
 * and corrects what it got wrong, reconcile_end() closes what vanished.
 * Every disagreement is counted. Pure logic, no I/O.
 */
#ifndef TCPWATCH_RECONCILE_H
#define TCPWATCH_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "conntable.h"
#include "ksock.h"

/* Passes in a row that must miss a socket before it counts as gone. */
#define TW_RECONCILE_MISSES 2

struct tw_reconcile_stats {
	uint64_t runs;            /* completed passes */
	uint64_t corrections;     /* disagreements fixed, all kinds */
	uint64_t added;           /* sockets the events had not shown */
	uint64_t state_fixed;     /* state differed */
	uint64_t vanished;        /* in the table, gone from the kernel */
	uint64_t time_wait_ended; /* TIME_WAIT minisockets that expired (not corrections) */
	uint64_t unreconciled;    /* live connections the last pass could not check:
				   * their namespace was not dumped */
	uint64_t alloc_failures;  /* disagreements or owner notes dropped for want of
				   * memory (taken up again by the next pass) */
	uint64_t sweep_turns;     /* slices the sweeps for vanished connections took */
	uint64_t sweeps_cut;      /* sweeps stopped because the table grew under them
				   * (the rest is judged by the next pass) */
};

/* Which namespaces a pass covered, for judging what it did not see. */
struct tw_reconcile_scope {
	const uint32_t *dumped; /* sorted: namespaces dumped whole this pass */
	size_t n_dumped;
	const uint32_t *existing; /* sorted: every namespace that exists now */
	size_t n_existing;
	bool existing_complete; /* existing names them all */
};

/* A disagreement seen during a pass, judged at its end. */
struct tw_reconcile_pending {
	uint64_t cookie;
	uint8_t state; /* what the dump said */
	bool added;    /* the pass created the connection */
};

/* The end of a pass, in slices: the table's buckets walked for what the
 * dumps did not see (reconcile_sweep_begin/step). */
struct tw_reconcile_sweep {
	bool active;
	size_t next;    /* the next bucket */
	size_t buckets; /* the table's count when the sweep began */
	struct tw_reconcile_scope scope;
	uint64_t now_ns;
	uint64_t unreconciled;
};

struct tw_reconcile {
	struct tw_conntable *table;
	uint32_t gen;
	uint64_t pass_start_ns;
	bool initial;        /* the first pass: what it finds existed before us */
	bool with_time_wait; /* this pass dumps TIME_WAIT minisockets */
	struct tw_reconcile_stats stats;
	struct tw_reconcile_pending *pending;
	size_t n_pending, cap_pending;
	/* Cookies of connections a dump gave a socket inode while they had
	 * no owner, or only their listener's: what a /proc scan can name.
	 * The owner pass looks at these instead of the whole table. */
	uint64_t *owner_wanted;
	size_t n_owner_wanted, cap_owner_wanted;
	struct tw_reconcile_sweep sweep;
};

/* The connection still wants an owner a /proc scan could give it. */
bool reconcile_wants_owner(const struct tw_conn *c);
/* Gives back the owner list's room once it is mostly empty (a start-up's
 * million wanted owners leave 8 MiB when found): it keeps twice what it
 * holds, 256 at least. */
void reconcile_trim_owner_wanted(struct tw_reconcile *r);

void reconcile_init(struct tw_reconcile *r, struct tw_conntable *table);
void reconcile_fini(struct tw_reconcile *r);
/* Starts a pass. Drain pending events first: an event older than the pass
 * must not be applied after the snapshot that already includes it. */
void reconcile_begin(struct tw_reconcile *r, uint64_t now_ns);
/*
 * A pass may leave TIME_WAIT minisockets out of its dump: on a busy host
 * they are most of the sockets and all they can still do is expire, which
 * the kernel does after TCP_TIMEWAIT_LEN. Such a pass does not count them
 * missing; a connection in TIME_WAIT longer than that ends in any pass.
 */
void reconcile_skip_time_wait(struct tw_reconcile *r);
#define TW_TIME_WAIT_LEN_NS (60 * NSEC_PER_SEC) /* TCP_TIMEWAIT_LEN */

void reconcile_sock(struct tw_reconcile *r, uint32_t netns, const struct tw_ksock *s,
		    uint64_t now_ns);
/*
 * Ends a pass. Drain pending events first: disagreements noted during the
 * pass are judged now, once events in flight have been applied. Then live
 * connections of the namespaces dumped whole that the pass did not see are
 * closed. A namespace that no longer exists took its sockets with it. Those
 * of a namespace that exists but was not dumped (over max-netns, its dump
 * failed, its namespace unknown) are kept as they are and marked
 * TW_CONN_UNRECONCILED.
 */
void reconcile_end(struct tw_reconcile *r, const struct tw_reconcile_scope *scope, uint64_t now_ns);
/*
 * reconcile_end in slices, so that a million connections are not walked
 * in one turn of the loop: begin judges the disagreements and starts the
 * walk (scope's arrays must stay as they are until it ends); each step
 * walks buckets for at most budget_ns (at least one slice) and closes what
 * vanished among them, and returns true once the pass is over. Events may
 * be applied between steps: a connection that changed since the pass began
 * is not judged, as in reconcile_end. If the table grows between steps
 * (its buckets rehashed), the sweep stops there (sweeps_cut): what it did
 * not reach keeps its count of misses for the next pass.
 */
void reconcile_sweep_begin(struct tw_reconcile *r, const struct tw_reconcile_scope *scope,
			   uint64_t now_ns);
bool reconcile_sweep_step(struct tw_reconcile *r, uint64_t budget_ns);

#endif
