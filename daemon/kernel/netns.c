#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_by_handle_at */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "netns.h"

uint32_t netns_inode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;
	return (uint32_t)st.st_ino;
}

struct open_job {
	int ns_fd;
	int result;
	int netstat_fd, snmp_fd;
};

/* The namespace's counters, opened in the calling thread's namespace (a
 * /proc/net file keeps the namespace it was opened in). */
static void open_counters(const char *dir, int *netstat_fd, int *snmp_fd)
{
	char path[64];

	snprintf(path, sizeof(path), "%s/netstat", dir);
	*netstat_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/snmp", dir);
	*snmp_fd = open(path, O_RDONLY | O_CLOEXEC);
}

/* setns() changes only the calling thread: do it in a thread of its own. */
static void *open_in_ns(void *arg)
{
	struct open_job *job = arg;

	if (setns(job->ns_fd, CLONE_NEWNET) < 0) {
		job->result = -errno;
		return NULL;
	}
	job->result = diag_open();
	if (job->result >= 0)
		open_counters("/proc/thread-self/net", &job->netstat_fd, &job->snmp_fd);
	return NULL;
}

/* A diag socket inside the namespace ns_fd refers to, and its counters'
 * files. */
static int diag_open_in(int ns_fd, int *netstat_fd, int *snmp_fd)
{
	struct open_job job = {.ns_fd = ns_fd, .result = -EIO, .netstat_fd = -1, .snmp_fd = -1};
	pthread_t th;
	int err;

	err = pthread_create(&th, NULL, open_in_ns, &job);
	if (err)
		return -err;
	pthread_join(th, NULL);
	*netstat_fd = job.netstat_fd;
	*snmp_fd = job.snmp_fd;
	return job.result;
}

static void close_ns(struct tw_netns *ns)
{
	close(ns->diag_fd);
	if (ns->ns_fd >= 0)
		close(ns->ns_fd);
	if (ns->netstat_fd >= 0)
		close(ns->netstat_fd);
	if (ns->snmp_fd >= 0)
		close(ns->snmp_fd);
}

int netns_init(struct tw_netns_set *s, size_t max)
{
	int fd;

	memset(s, 0, sizeof(*s));
	s->max = max ? max : 1;
	s->v = calloc(s->max, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	s->self_inode = netns_inode_of("/proc/self/ns/net");
	fd = diag_open();
	if (fd < 0) {
		free(s->v);
		s->v = NULL;
		return fd;
	}
	s->v[0] = (struct tw_netns){
		.inode = s->self_inode,
		.diag_fd = fd,
		.diag_portid = diag_portid(fd),
		.ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC),
	};
	open_counters("/proc/self/net", &s->v[0].netstat_fd, &s->v[0].snmp_fd);
	s->n = 1;
	return 0;
}

void netns_fini(struct tw_netns_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		close_ns(&s->v[i]);
	free(s->v);
	free(s->existing);
	memset(s, 0, sizeof(*s));
}

static void note_existing(struct tw_netns_set *s, uint32_t inode)
{
	if (s->n_existing == s->cap_existing) {
		size_t cap = s->cap_existing ? s->cap_existing * 2 : 256;
		uint32_t *v;

		if (cap > 4 * TW_NETNS_EXISTING_MAX ||
		    !(v = realloc(s->existing, cap * sizeof(*v)))) {
			s->existing_complete = false;
			return;
		}
		s->existing = v;
		s->cap_existing = cap;
	}
	s->existing[s->n_existing++] = inode;
}

static struct tw_netns *followed(struct tw_netns_set *s, uint32_t inode)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].inode == inode)
			return &s->v[i];
	return NULL;
}

void netns_use_source(struct tw_netns_set *s, const struct tw_task_source *src)
{
	s->use_src = src != NULL;
	if (src)
		s->src = *src;
}

int netns_fd(const struct tw_netns_set *s, uint32_t inode)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].inode == inode)
			return s->v[i].ns_fd;
	return -1;
}

/* A namespace opened (ns_fd, taken): followed from now on if it is new
 * and there is room, its diag socket made through this descriptor. */
static void adopt(struct tw_netns_set *s, int ns_fd)
{
	struct tw_netns *known;
	struct stat st;
	int fd, netstat_fd = -1, snmp_fd = -1;

	if (fstat(ns_fd, &st) < 0) {
		close(ns_fd);
		return;
	}
	note_existing(s, (uint32_t)st.st_ino);
	if ((known = followed(s, (uint32_t)st.st_ino))) {
		known->seen_gen = s->gen;
	} else if (s->n == s->max) {
		s->refused++;
	} else if ((fd = diag_open_in(ns_fd, &netstat_fd, &snmp_fd)) < 0) {
		s->open_failures++;
	} else {
		s->v[s->n++] = (struct tw_netns){
			.inode = (uint32_t)st.st_ino,
			.diag_fd = fd,
			.diag_portid = diag_portid(fd),
			.seen_gen = s->gen,
			.netstat_fd = netstat_fd,
			.snmp_fd = snmp_fd,
			.ns_fd = ns_fd,
		};
		return;
	}
	close(ns_fd);
}

/* A namespace followed already: seen now. */
static bool seen(struct tw_netns_set *s, uint32_t inode)
{
	struct tw_netns *known = followed(s, inode);

	if (!known)
		return false;
	known->seen_gen = s->gen;
	note_existing(s, inode);
	return true;
}

/*
 * A namespace already followed is known by its inode (stat). A new one is
 * opened once, and the inode checked and the diag socket made through
 * that descriptor: between a stat and a later open of the path, the
 * process could have moved to another namespace.
 */
static void consider(struct tw_netns_set *s, const char *path)
{
	struct stat st;
	int ns_fd;

	if (stat(path, &st) < 0 || seen(s, (uint32_t)st.st_ino))
		return;
	ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ns_fd >= 0)
		adopt(s, ns_fd);
}

#define FILEID_NSFS 0xf1 /* include/linux/exportfs.h */

struct ns_handle {
	struct file_handle fh;
	uint64_t ns_id; /* struct nsfs_file_handle */
	uint32_t ns_type;
	uint32_t ns_inum;
};

struct src_walk {
	struct tw_netns_set *s;
	const char *proc_root;
};

/* A task's namespace from the kernel's walk: opened by its file handle,
 * relative to any nsfs descriptor (our own namespace's). */
static void src_netns(const struct tw_task_netns *t, void *arg)
{
	struct src_walk *w = arg;
	struct tw_netns_set *s = w->s;
	struct ns_handle h;
	int fd;

	if (!t->inode || seen(s, t->inode))
		return;
	note_existing(s, t->inode); /* it exists, whether it opens or not */
	if (!t->ns_id || s->v[0].ns_fd < 0) {
		char path[96];

		snprintf(path, sizeof(path), "%s/%u/ns/net", w->proc_root, t->pid);
		consider(s, path);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = sizeof(h) - sizeof(h.fh);
	h.fh.handle_type = FILEID_NSFS;
	h.ns_id = t->ns_id;
	h.ns_type = CLONE_NEWNET;
	h.ns_inum = t->inode;
	fd = open_by_handle_at(s->v[0].ns_fd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		s->handle_failures++; /* gone meanwhile, or no CAP_SYS_ADMIN */
		return;
	}
	s->handle_opens++;
	adopt(s, fd);
}

static void scan_dir(struct tw_netns_set *s, const char *dir, bool pids)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (pids ? de->d_name[0] < '1' || de->d_name[0] > '9' : de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), pids ? "%s/%s/ns/net" : "%s/%s", dir, de->d_name);
		consider(s, path);
	}
	closedir(d);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts the namespaces found and drops repeats. */
static void settle_existing(struct tw_netns_set *s)
{
	size_t n = 0;

	qsort(s->existing, s->n_existing, sizeof(*s->existing), cmp_u32);
	for (size_t i = 0; i < s->n_existing; i++)
		if (!n || s->existing[i] != s->existing[n - 1])
			s->existing[n++] = s->existing[i];
	s->n_existing = n;
	if (n > TW_NETNS_EXISTING_MAX)
		s->existing_complete = false;
}

int netns_refresh(struct tw_netns_set *s, const char *proc_root, const char *run_netns)
{
	s->gen++;
	s->refused = 0;
	s->n_existing = 0;
	s->existing_complete = true;
	s->v[0].seen_gen = s->gen; /* our own is always followed */
	note_existing(s, s->self_inode);
	if (s->use_src) {
		struct src_walk w = {.s = s, .proc_root = proc_root};

		if (s->src.netns(s->src.src, src_netns, &w) < 0)
			scan_dir(s, proc_root, true);
	} else {
		scan_dir(s, proc_root, true);
	}
	scan_dir(s, run_netns, false);
	settle_existing(s);
	/* Forget namespaces nobody holds any more. */
	for (size_t i = 1; i < s->n;) {
		if (s->v[i].seen_gen != s->gen) {
			close_ns(&s->v[i]);
			s->v[i] = s->v[--s->n];
		} else {
			i++;
		}
	}
	return (int)s->n;
}
