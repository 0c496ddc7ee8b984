/*
 * Where the owners of sockets and the namespaces of tasks come from when
 * not from /proc: the kernel's own walk of its tasks (trace/taskiter.c, BPF
 * task iterators), which needs no access to other users' /proc/PID. The
 * readers (kernel/procscan.c, kernel/netns.c) see only this interface.
 */
#ifndef TCPWATCH_TASKSRC_H
#define TCPWATCH_TASKSRC_H

#include <stdint.h>

/* A TCP socket in a process's descriptor table. */
struct tw_task_sock {
	uint32_t inode;
	uint32_t pid;
	uint32_t uid; /* effective */
	char comm[16];
};

/* A network namespace a task lives in. */
struct tw_task_netns {
	uint64_t ns_id; /* its file handle's id; 0: unknown (the kernel has none) */
	uint32_t inode;
	uint32_t pid;
};

struct tw_task_source {
	/* Calls fn on every TCP socket of every process (a socket in several
	 * processes once per process); 0 or a negative errno. */
	int (*sockets)(void *src, void (*fn)(const struct tw_task_sock *, void *), void *ctx);
	/* The same walk of sockets in steps of about budget_ns each (at least
	 * one read), so that a host with a million descriptors is not walked
	 * in one turn of the loop: 1 once the walk is over, 0 while it goes
	 * on (call again, with the same fn and ctx), or a negative errno (the
	 * walk is over). NULL if the source walks only at once. */
	int (*sockets_step)(void *src, void (*fn)(const struct tw_task_sock *, void *), void *ctx,
			    uint64_t budget_ns);
	/* Ends a walk sockets_step began, if one is under way. */
	void (*sockets_cancel)(void *src);
	/* Calls fn on the namespace of every task (repeats allowed). */
	int (*netns)(void *src, void (*fn)(const struct tw_task_netns *, void *), void *ctx);
	void *src;
};

#endif
