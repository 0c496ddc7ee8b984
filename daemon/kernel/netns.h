/*
 * The network namespaces tcpwatchd covers: its own, every one a process
 * lives in and every named one (/run/netns). Each gets a sock_diag socket
 * created inside it (a netlink socket stays bound to the namespace it was
 * created in), so reconciles dump containers too.
 *
 * The processes' namespaces come from the kernel's walk of its tasks where
 * the daemon has it (base/tasksrc.h): each as its id and inode, opened by
 * its nsfs file handle (open_by_handle_at(), Linux 6.18), which needs
 * CAP_SYS_ADMIN, as setns() does, but no access to the process. Else, and
 * for a kernel whose namespaces have no id, from /proc/PID/ns/net, which
 * for other users' processes needs CAP_SYS_PTRACE.
 */
#ifndef TCPWATCH_NETNS_H
#define TCPWATCH_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tasksrc.h"

struct tw_netns {
	uint32_t inode;
	int diag_fd;
	uint32_t diag_portid; /* the socket's netlink port id */
	uint32_t seen_gen;
	int netstat_fd; /* /proc/net/netstat opened inside it, or -1 */
	int snmp_fd;    /* /proc/net/snmp, likewise */
	int ns_fd;      /* the namespace itself (nsfs), kept for the prober */
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
	bool existing_complete;    /* false if some could not be remembered */
	struct tw_task_source src; /* the tasks' namespaces, if use_src */
	bool use_src;
	uint64_t handle_opens, handle_failures; /* namespaces opened by handle */
};

/* Our own namespace's diag socket is created here. 0 or negative errno. */
int netns_init(struct tw_netns_set *s, size_t max);
void netns_fini(struct tw_netns_set *s);
/* Finds new namespaces (opening a diag socket in each) and forgets those
 * that are gone. proc_root and run_netns are "/proc" and "/run/netns"
 * except in tests. Returns the number of namespaces followed. */
int netns_refresh(struct tw_netns_set *s, const char *proc_root, const char *run_netns);
/* Takes the processes' namespaces from src (copied) instead of /proc. */
void netns_use_source(struct tw_netns_set *s, const struct tw_task_source *src);
/* A descriptor of the followed namespace inode (valid until the next
 * refresh), or -1. */
int netns_fd(const struct tw_netns_set *s, uint32_t inode);
/* Network namespace inode of a path like /proc/self/ns/net; 0 on error. */
uint32_t netns_inode_of(const char *path);

#endif
