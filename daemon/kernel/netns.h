/*
 * The network namespaces tcpwatchd covers: its own, every one a process
 * lives in (/proc/PID/ns/net) and every named one (/run/netns). Each gets
 * a sock_diag socket created inside it (a netlink socket stays bound to the
 * namespace it was created in), so reconciles dump containers too.
 */
#ifndef TCPWATCH_NETNS_H
#define TCPWATCH_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tw_netns {
	uint32_t inode;
	int diag_fd;
	uint32_t diag_portid; /* the socket's netlink port id */
	uint32_t seen_gen;
	int netstat_fd; /* /proc/net/netstat opened inside it, or -1 */
	int snmp_fd;    /* /proc/net/snmp, likewise */
};

#define TW_NETNS_EXISTING_MAX 65536 /* namespaces remembered as existing */

struct tw_netns_set {
	struct tw_netns *v; /* followed; v[0] is our own */
	size_t n;
	size_t max; /* bound on namespaces followed */
	uint32_t self_inode;
	uint32_t gen;
	uint64_t refused;       /* namespaces over max at the last refresh */
	uint64_t open_failures; /* namespaces whose diag socket could not be made */
	/* Every namespace the last refresh found, followed or not, sorted and
	 * unique: a connection of one missing here went with its namespace. */
	uint32_t *existing;
	size_t n_existing, cap_existing;
	bool existing_complete; /* false if some could not be remembered */
};

/* Our own namespace's diag socket is created here. 0 or negative errno. */
int netns_init(struct tw_netns_set *s, size_t max);
void netns_fini(struct tw_netns_set *s);
/* Finds new namespaces (opening a diag socket in each) and forgets those
 * that are gone. proc_root and run_netns are "/proc" and "/run/netns"
 * except in tests. Returns the number of namespaces followed. */
int netns_refresh(struct tw_netns_set *s, const char *proc_root, const char *run_netns);
/* Network namespace inode of a path like /proc/self/ns/net; 0 on error. */
uint32_t netns_inode_of(const char *path);

#endif
