/*
 * The reconcile procedure: sock_diag dumps of every followed namespace
 * and family, fed to the reconcile (table/reconcile.h), then owners from
 * /proc for the sockets that lack one, then retention's bounds.
 *
 * A pass runs inside the event loop a batch of netlink replies at a time
 * (the diag socket is watched like any other fd), so requests and ring
 * buffer drains are served between batches; the table stays
 * single-writer. At start-up a pass runs to its end before the daemon
 * reports ready.
 */
#ifndef TCPWATCH_SYNC_H
#define TCPWATCH_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"
#include "loop.h"
#include "stats.h"
#include "tasksrc.h"

struct tw_sync_hooks {
	/* Applies the events waiting in the ring buffers. */
	void (*drain)(void *data);
	/* Events lost so far (a pass after a loss also dumps TIME_WAIT). */
	uint64_t (*lost)(void *data);
	void *data;
};

struct tw_sync_config {
	uint32_t max_netns;
	uint32_t max_owner_entries; /* sockets the /proc owner map holds */
	const char *proc_root;      /* "/proc" except in tests */
	const char *run_netns;      /* "/run/netns" except in tests */
};

struct tw_sync;

/* Opens the sock_diag socket of our own namespace. NULL and a negative
 * errno in *ret_err on failure. */
struct tw_sync *sync_new(struct tw_loop *loop, struct tw_conntable *table,
			 const struct tw_sync_config *cfg, const struct tw_sync_hooks *hooks,
			 int *ret_err);
void sync_free(struct tw_sync *s);

/* Runs a whole pass now and returns when it is done (start-up). */
void sync_run_now(struct tw_sync *s);
/* Starts a pass in the loop; if one is running, another follows it. */
void sync_start(struct tw_sync *s);
/* A pass started because events were lost (counted apart). */
void sync_start_early(struct tw_sync *s);
bool sync_running(const struct tw_sync *s);
/* Namespaces followed now. */
size_t sync_netns_count(const struct tw_sync *s);
/* True if the namespace of inode is one followed now. */
bool sync_netns_followed(const struct tw_sync *s, uint32_t inode);
/* A descriptor of the followed namespace inode (valid until the next
 * pass), or -1. */
int sync_netns_fd(const struct tw_sync *s, uint32_t inode);
/* Up to max followed namespaces' inodes into out: how many. */
size_t sync_netns_list(const struct tw_sync *s, uint32_t *out, size_t max);
/* The owners of sockets and the processes' namespaces from src (the
 * kernel's walk of its tasks) instead of /proc, from the next pass on. */
void sync_use_task_source(struct tw_sync *s, const struct tw_task_source *src);
/* Adds the reconcile_*, diag_*, netns* and owner figures to st. */
void sync_report(const struct tw_sync *s, struct tw_stats *st);

#endif
