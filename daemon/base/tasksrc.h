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
	/* Calls fn on the namespace of every task (repeats allowed). */
	int (*netns)(void *src, void (*fn)(const struct tw_task_netns *, void *), void *ctx);
	void *src;
};

#endif
