/*
 * The CLI without the daemon: TCP sockets straight from sock_diag, parsed
 * by the daemon's own parser (kernel/diag.c), matched by its filter
 * (table/filter.c) and printed by its table (http/text.c). Only the calling
 * network namespace (-N enters another first, as ss -N does).
 */
#ifndef TCPWATCH_CLI_KERNEL_H
#define TCPWATCH_CLI_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"
#include "diag.h"
#include "filter.h"
#include "listsort.h"

/* Enters the namespace at path (ss -N). 0 or negative errno. */
int kernel_enter_netns(const char *path);

/* Dumps the TCP sockets of family (0: both) in the states of mask
 * (TW_STATE_BIT()s; NEW_SYN_RECV comes with SYN_RECV), with tcp_info when
 * want_info, and calls cb for each. 0, or a negative errno. */
int kernel_dump(int family, uint32_t states, bool want_info, diag_sock_cb cb, void *data);

/* A record for the filter and the table from what the kernel reported:
 * no history, no age (first_seen_ns 0), the timer sampled at now_ns. */
void kernel_conn_from(const struct tw_ksock *s, uint64_t now_ns, struct tw_conn *ret);

/* Applies a query string as the CLI builds it for the daemon ("?k=v&...",
 * values percent-encoded) to f, with the daemon's filter_set: one grammar.
 * 0, or -EINVAL with the message in err. */
int kernel_filter_from_query(const char *query, struct tw_filter *f, char *err, size_t err_len);

struct kernel_list_opts {
	const char *query; /* the daemon's query: state=, filter=, family= */
	unsigned columns;  /* TEXT_COL_* (QUEUES added) */
	bool no_header;
	bool processes; /* -p: owners from /proc */
	struct listsort sort;
	uint64_t limit; /* 0: none */
	bool colour;
};

/* tcpwatch list --kernel: prints the table; returns the exit code. */
int kernel_list(const struct kernel_list_opts *o);

/* Per-state counts of the matching sockets, for -s. by_family[0] IPv4, [1] IPv6. */
struct kernel_counts {
	uint64_t by_family[2][TW_TCP_MAX_STATES];
	uint64_t orphaned; /* closed by their process, still in FIN_WAIT1, FIN_WAIT2,
			    * CLOSING or LAST_ACK (no inode) */
};
int kernel_count(const char *query, struct kernel_counts *ret);

#endif
