/*
 * A network namespace's own TCP counters (/proc/net/netstat and
 * /proc/net/snmp read inside it), at the last two reconcile passes: totals
 * and their rate. Filled by kernel/netstat.c; the names are node_exporter's
 * (node_netstat_<Group>_<Name>).
 */
#ifndef TCPWATCH_NSSTAT_H
#define TCPWATCH_NSSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tw_nsstat_key {
	TW_NS_LISTEN_OVERFLOWS,
	TW_NS_LISTEN_DROPS,
	TW_NS_REQQ_FULL_DROP,
	TW_NS_REQQ_FULL_DO_COOKIES,
	TW_NS_SYNCOOKIES_SENT,
	TW_NS_SYNCOOKIES_RECV,
	TW_NS_SYNCOOKIES_FAILED,
	TW_NS_SYN_RETRANS,
	TW_NS_EMBRYONIC_RSTS,
	TW_NS_ABORT_ON_DATA,
	TW_NS_ACTIVE_OPENS,
	TW_NS_PASSIVE_OPENS,
	TW_NS_ATTEMPT_FAILS,
	TW_NS_ESTAB_RESETS,
	TW_NS_CURR_ESTAB,
	TW_NS_RETRANS_SEGS,
	TW_NS_IN_ERRS,
	TW_NS_OUT_RSTS,
	TW_NS_KEYS,
};

/* Group ("TcpExt" or "Tcp") and name of each key, as the files spell them. */
extern const char *const tw_nsstat_group[TW_NS_KEYS];
extern const char *const tw_nsstat_name[TW_NS_KEYS];

struct tw_nsstat {
	uint32_t netns;
	bool valid;       /* read at least once */
	uint64_t now_ns;  /* the last read */
	uint64_t prev_ns; /* the read before (0: none) */
	uint64_t v[TW_NS_KEYS];
	uint64_t prev[TW_NS_KEYS];
	uint64_t grew_ns[TW_NS_KEYS]; /* the last read that found it grown */
	uint64_t grew_by[TW_NS_KEYS]; /* by how much, then */
};

struct tw_nsstat_set {
	struct tw_nsstat *v;
	size_t n, cap;
};

/* The entry of netns, made if absent (NULL for want of memory). */
struct tw_nsstat *nsstat_entry(struct tw_nsstat_set *s, uint32_t netns);
const struct tw_nsstat *nsstat_find(const struct tw_nsstat_set *s, uint32_t netns);
/* New values read at now_ns: the old ones become prev. */
void nsstat_update(struct tw_nsstat *e, const uint64_t v[TW_NS_KEYS], uint64_t now_ns);
/* Per second between the last two reads; 0 without two. */
double nsstat_rate(const struct tw_nsstat *e, enum tw_nsstat_key k);
/* Forgets namespaces not in keep[] (sorted). */
void nsstat_retain(struct tw_nsstat_set *s, const uint32_t *keep, size_t n_keep);
void nsstat_fini(struct tw_nsstat_set *s);

#endif
