/*
 * Socket inode -> owning process, by one scan of /proc/PID/fd/ links
 * ("socket:[INODE]"), or of the kernel's own walk of its tasks where the
 * daemon has it (base/tasksrc.h: BPF task iterators, which need no access
 * to other users' /proc/PID). The scan is what `ss -p` does on every call;
 * we do it at most once per reconcile, and only when a socket lacks an
 * owner.
 */
#ifndef TCPWATCH_PROCSCAN_H
#define TCPWATCH_PROCSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "tasksrc.h"

struct tw_procscan;

struct tw_proc_owner {
	uint32_t pid;
	uint32_t uid;
	char comm[16];
};

/* proc_root is "/proc" except in tests. NULL on allocation failure. */
struct tw_procscan *procscan_new(const char *proc_root, size_t max_entries);
void procscan_free(struct tw_procscan *p);
/* Scans src (copied) from now on instead of /proc; NULL: /proc again. */
void procscan_use_source(struct tw_procscan *p, const struct tw_task_source *src);
/* Rescans every process. Returns the number of sockets found, or a
 * negative errno if /proc could not be read. */
int procscan_scan(struct tw_procscan *p);
/* The same, keeping only the sockets want() accepts: the daemon asks only
 * for the TCP sockets it misses an owner for, so no number of other
 * sockets (Unix sockets, socketpairs) can fill the map before them. */
int procscan_scan_only(struct tw_procscan *p, bool (*want)(uint32_t inode, void *ctx), void *ctx);
/* procscan_scan_only in steps of about budget_ns (a source with
 * sockets_step; else all at once): -EINPROGRESS while the walk goes on
 * (call again with the same want and ctx; lookups meanwhile see a part),
 * then what procscan_scan_only returns. */
int procscan_scan_step(struct tw_procscan *p, bool (*want)(uint32_t inode, void *ctx), void *ctx,
		       uint64_t budget_ns);
/* Ends a stepped scan under way, if any (what it found so far stays). */
void procscan_scan_cancel(struct tw_procscan *p);
/* Owner of a socket inode from the last scan; 0 and *ret filled, or -ENOENT. */
int procscan_lookup(struct tw_procscan *p, uint32_t inode, struct tw_proc_owner *ret);
/* Frees the map of the last scan when it outgrew a small one (a start-up
 * scan for a million owners leaves 16 MiB): call once its owners are
 * given. Later lookups find nothing until the next scan; the gauge keeps
 * the last scan's count. */
void procscan_trim(struct tw_procscan *p);
/* Heap bytes the map and the process array hold. */
size_t procscan_bytes(const struct tw_procscan *p);
/* Adds procscan_sockets (mapped by the last scan), procscan_refused
 * (sockets over max_entries, all scans), procscan_alloc_failures and
 * owner_source ("task_iter" or "proc"). */
void procscan_report(const struct tw_procscan *p, struct tw_stats *s);

#endif
