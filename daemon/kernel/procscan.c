#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procscan.h"

/* inode -> index into the process array; open addressing. */
struct slot {
	uint32_t inode; /* 0 = empty */
	uint32_t proc;
};

struct tw_procscan {
	char root[64];
	size_t max_entries;
	struct slot *slots;
	size_t cap, count;
	struct tw_proc_owner *procs;
	size_t n_procs, cap_procs;
	uint64_t refused;        /* sockets over max_entries */
	uint64_t alloc_failures; /* sockets or processes dropped for want of memory */
	struct tw_task_source src;
	bool use_src;
	bool stepping;          /* a procscan_scan_step walk under way */
	uint32_t step_last_pid; /* its src_scan's last_pid */
};

struct tw_procscan *procscan_new(const char *proc_root, size_t max_entries)
{
	struct tw_procscan *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	snprintf(p->root, sizeof(p->root), "%s", proc_root);
	p->max_entries = max_entries;
	return p;
}

void procscan_free(struct tw_procscan *p)
{
	if (!p)
		return;
	/* A stepped walk under way is the source's to close (tasks_close):
	 * it may be gone already. */
	free(p->slots);
	free(p->procs);
	free(p);
}

void procscan_use_source(struct tw_procscan *p, const struct tw_task_source *src)
{
	procscan_scan_cancel(p);
	p->use_src = src != NULL;
	if (src)
		p->src = *src;
}

/* The slots a map starts with (32 KiB), and the processes: what trim keeps. */
#define SLOTS_FIRST 4096
#define PROCS_FIRST 256

static size_t slot_of(uint32_t inode, size_t cap)
{
	return (size_t)((inode * 2654435761u) & (cap - 1));
}

static int slots_grow(struct tw_procscan *p)
{
	size_t cap = p->cap ? p->cap * 2 : SLOTS_FIRST;
	struct slot *s = calloc(cap, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < p->cap; i++) {
		if (!p->slots[i].inode)
			continue;
		size_t j = slot_of(p->slots[i].inode, cap);

		while (s[j].inode)
			j = (j + 1) & (cap - 1);
		s[j] = p->slots[i];
	}
	free(p->slots);
	p->slots = s;
	p->cap = cap;
	return 0;
}

static void put(struct tw_procscan *p, uint32_t inode, uint32_t proc)
{
	size_t i;

	if (p->count >= p->max_entries) {
		p->refused++;
		return;
	}
	if ((p->count + 1) * 2 > p->cap && slots_grow(p) < 0) {
		p->alloc_failures++;
		return;
	}
	for (i = slot_of(inode, p->cap); p->slots[i].inode; i = (i + 1) & (p->cap - 1))
		if (p->slots[i].inode == inode)
			return; /* shared socket: first owner wins */
	p->slots[i].inode = inode;
	p->slots[i].proc = (uint32_t)proc;
	p->count++;
}

/* A new process entry, zeroed: its pointer, or NULL (counted). */
static struct tw_proc_owner *new_proc(struct tw_procscan *p)
{
	struct tw_proc_owner *o;

	if (p->n_procs == p->cap_procs) {
		size_t cap = p->cap_procs ? p->cap_procs * 2 : PROCS_FIRST;
		struct tw_proc_owner *v = realloc(p->procs, cap * sizeof(*v));

		if (!v) {
			p->alloc_failures++;
			return NULL;
		}
		p->procs = v;
		p->cap_procs = cap;
	}
	o = &p->procs[p->n_procs];
	memset(o, 0, sizeof(*o));
	return o;
}

static int add_proc(struct tw_procscan *p, int pid_dir, uint32_t pid)
{
	struct tw_proc_owner *o = new_proc(p);
	struct stat st;
	int fd;
	ssize_t n;

	if (!o)
		return -ENOMEM;
	o->pid = pid;
	if (fstat(pid_dir, &st) == 0)
		o->uid = st.st_uid;
	fd = openat(pid_dir, "comm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, o->comm, sizeof(o->comm) - 1);
		if (n > 0 && o->comm[n - 1] == '\n')
			n--;
		o->comm[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return (int)p->n_procs++;
}

static void scan_pid(struct tw_procscan *p, int proc_fd, const char *name,
		     bool (*want)(uint32_t, void *), void *ctx)
{
	char link[64];
	int pid_dir, fd_dir, proc_index = -1;
	DIR *d;
	struct dirent *de;

	pid_dir = openat(proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pid_dir < 0)
		return;
	fd_dir = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd_dir < 0)
		goto out;
	d = fdopendir(fd_dir);
	if (!d) {
		close(fd_dir);
		goto out;
	}
	while ((de = readdir(d))) {
		ssize_t n;
		unsigned long inode;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(fd_dir, de->d_name, link, sizeof(link) - 1);
		if (n < 9 || memcmp(link, "socket:[", 8))
			continue;
		link[n] = '\0';
		inode = strtoul(link + 8, NULL, 10);
		if (!inode || inode > UINT32_MAX || (want && !want((uint32_t)inode, ctx)))
			continue;
		if (proc_index < 0) {
			proc_index = add_proc(p, pid_dir, (uint32_t)strtoul(name, NULL, 10));
			if (proc_index < 0)
				break;
		}
		put(p, (uint32_t)inode, (uint32_t)proc_index);
	}
	closedir(d);
out:
	close(pid_dir);
}

int procscan_scan(struct tw_procscan *p)
{
	return procscan_scan_only(p, NULL, NULL);
}

struct src_scan {
	struct tw_procscan *p;
	bool (*want)(uint32_t, void *);
	void *ctx;
	uint32_t last_pid; /* the process of p->procs[n_procs - 1], if any */
};

/* The iterator writes a process's sockets together: one entry each. */
static void src_sock(const struct tw_task_sock *s, void *arg)
{
	struct src_scan *q = arg;
	struct tw_procscan *p = q->p;

	if (!s->inode || (q->want && !q->want(s->inode, q->ctx)))
		return;
	if (!p->n_procs || q->last_pid != s->pid) {
		struct tw_proc_owner *o = new_proc(p);

		if (!o)
			return;
		o->pid = s->pid;
		o->uid = s->uid;
		memcpy(o->comm, s->comm, sizeof(o->comm));
		o->comm[sizeof(o->comm) - 1] = '\0';
		p->n_procs++;
		q->last_pid = s->pid;
	}
	put(p, s->inode, (uint32_t)(p->n_procs - 1));
}

static void clear(struct tw_procscan *p)
{
	if (p->slots)
		memset(p->slots, 0, p->cap * sizeof(*p->slots));
	p->count = 0;
	p->n_procs = 0;
}

int procscan_scan_only(struct tw_procscan *p, bool (*want)(uint32_t inode, void *ctx), void *ctx)
{
	int proc_fd;
	DIR *d;
	struct dirent *de;

	if (p->use_src) {
		struct src_scan q = {.p = p, .want = want, .ctx = ctx};
		int r;

		clear(p);
		r = p->src.sockets(p->src.src, src_sock, &q);
		return r < 0 ? r : (int)p->count;
	}
	proc_fd = open(p->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		return -errno;
	d = fdopendir(proc_fd);
	if (!d) {
		int err = -errno;

		close(proc_fd);
		return err;
	}
	clear(p);
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		scan_pid(p, proc_fd, de->d_name, want, ctx);
	}
	closedir(d);
	return (int)p->count;
}

int procscan_scan_step(struct tw_procscan *p, bool (*want)(uint32_t inode, void *ctx), void *ctx,
		       uint64_t budget_ns)
{
	struct src_scan q = {.p = p, .want = want, .ctx = ctx};
	int r;

	if (!p->use_src || !p->src.sockets_step)
		return procscan_scan_only(p, want, ctx);
	if (!p->stepping) {
		clear(p);
		p->stepping = true;
		p->step_last_pid = 0;
	}
	q.last_pid = p->step_last_pid;
	r = p->src.sockets_step(p->src.src, src_sock, &q, budget_ns);
	p->step_last_pid = q.last_pid;
	if (r == 0)
		return -EINPROGRESS;
	p->stepping = false;
	return r < 0 ? r : (int)p->count;
}

void procscan_scan_cancel(struct tw_procscan *p)
{
	if (p->stepping && p->src.sockets_cancel)
		p->src.sockets_cancel(p->src.src);
	p->stepping = false;
}

int procscan_lookup(struct tw_procscan *p, uint32_t inode, struct tw_proc_owner *ret)
{
	if (!p->cap || !inode)
		return -ENOENT;
	for (size_t i = slot_of(inode, p->cap); p->slots[i].inode; i = (i + 1) & (p->cap - 1)) {
		if (p->slots[i].inode == inode) {
			*ret = p->procs[p->slots[i].proc];
			return 0;
		}
	}
	return -ENOENT;
}

void procscan_trim(struct tw_procscan *p)
{
	if (p->stepping)
		return; /* its map is still filling */
	if (p->cap <= SLOTS_FIRST && p->cap_procs <= PROCS_FIRST)
		return;
	/* Both go: the slots name processes by their index. */
	free(p->slots);
	free(p->procs);
	p->slots = NULL;
	p->procs = NULL;
	p->cap = p->cap_procs = p->n_procs = 0;
}

size_t procscan_bytes(const struct tw_procscan *p)
{
	return p->cap * sizeof(*p->slots) + p->cap_procs * sizeof(*p->procs);
}

void procscan_report(const struct tw_procscan *p, struct tw_stats *s)
{
	stats_gauge(s, "procscan_sockets", p->count);
	stats_counter(s, "procscan_refused", p->refused);
	stats_counter(s, "procscan_alloc_failures", p->alloc_failures);
	stats_gauge(s, "procscan_bytes", procscan_bytes(p));
	stats_text(s, "owner_source", p->use_src ? "task_iter" : "proc");
}
