/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The records of bpf/tasks.bpf.c's iterators, as the daemon reads them
 * (daemon/trace/tasks.c). Fixed sizes, no padding, native byte order.
 */
#ifndef TCPWATCH_TASKS_H
#define TCPWATCH_TASKS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* One TCP socket in a process's descriptor table. */
struct tcpwatch_task_sock {
	__u32 inode; /* the socket's inode, as sock_diag reports it */
	__u32 tgid;  /* the process */
	__u32 euid;  /* its effective uid (the owner of /proc/PID) */
	char comm[16];
};

/* The network namespace of a task, once per run of tasks in the same one. */
struct tcpwatch_task_netns {
	__u64 ns_id; /* the namespace's 64-bit id (its nsfs file handle), 0 if
		      * the kernel has none (before 6.18) */
	__u32 inode; /* its nsfs inode */
	__u32 tgid;  /* a process in it */
};

#endif
