// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's own walk of its tasks, in place of /proc (BPF task
 * iterators; each read() of an iterator's fd runs the program over the
 * next tasks and returns what it wrote):
 *
 *   task_sockets  every TCP socket in a process's descriptor table: which
 *                 process owns a connection (what `ss -p` finds by
 *                 reading every /proc/PID/fd link)
 *   task_netns    the network namespace every task lives in
 *
 * The kernel does not check the reader's access to other users' tasks: the
 * programs are loaded and attached at start-up (CAP_BPF, CAP_PERFMON), and
 * reading them later needs no capability. So tcpwatchd needs neither
 * CAP_SYS_PTRACE nor CAP_DAC_READ_SEARCH, which reading other users'
 * /proc/PID/fd and /proc/PID/ns/net takes. Only TCP sockets are written,
 * so no number of other sockets (Unix sockets, socketpairs) makes a pass
 * longer for the daemon to read.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "tasks.h"

#define S_IFMT   00170000
#define S_IFSOCK 0140000

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_file")
int task_sockets(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tcpwatch_task_sock r;
	struct socket *sock;
	struct sock *sk;

	if (!task || !file || (file->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	r.inode = (__u32)file->f_inode->i_ino;
	r.tgid = (__u32)task->tgid;
	r.euid = task->cred->euid.val;
	__builtin_memcpy(r.comm, task->comm, sizeof(r.comm));
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

/* The namespace of the task before: the threads of a process, and most
 * processes, share one, and need not each be written. One iterator is
 * read at a time (the daemon's loop). */
static __u32 last_inode;

SEC("iter/task")
int task_netns(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct tcpwatch_task_netns r = {};
	struct nsproxy *nsp;
	struct net *net;

	if (ctx->meta->seq_num == 0)
		last_inode = 0;
	if (!task)
		return 0;
	nsp = task->nsproxy;
	if (!nsp) /* exiting */
		return 0;
	net = nsp->net_ns;
	if (!net)
		return 0;
	r.inode = net->ns.inum;
	if (r.inode == last_inode)
		return 0;
	last_inode = r.inode;
	if (bpf_core_field_exists(net->ns.ns_id))
		r.ns_id = BPF_CORE_READ(net, ns.ns_id);
	r.tgid = (__u32)task->tgid;
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
