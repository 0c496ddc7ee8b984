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
};

/* setns() changes only the calling thread: do it in a thread of its own. */
static void *open_in_ns(void *arg)
{
	struct open_job *job = arg;

	if (setns(job->ns_fd, CLONE_NEWNET) < 0) {
		job->result = -errno;
		return NULL;
	}
	job->result = diag_open();
	return NULL;
}

static int diag_open_in(const char *ns_path)
{
	struct open_job job = { .result = -EIO };
	pthread_t th;
	int err;

	job.ns_fd = open(ns_path, O_RDONLY | O_CLOEXEC);
	if (job.ns_fd < 0)
		return -errno;
	err = pthread_create(&th, NULL, open_in_ns, &job);
	if (err) {
		close(job.ns_fd);
		return -err;
	}
	pthread_join(th, NULL);
	close(job.ns_fd);
	return job.result;
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
	s->v[0] = (struct tw_netns){ .inode = s->self_inode, .diag_fd = fd };
	s->n = 1;
	return 0;
}

void netns_fini(struct tw_netns_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		close(s->v[i].diag_fd);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void consider(struct tw_netns_set *s, const char *path)
{
	uint32_t inode = netns_inode_of(path);
	int fd;

	if (!inode)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].inode == inode) {
			s->v[i].seen_gen = s->gen;
			return;
		}
	}
	if (s->n == s->max) {
		s->refused++;
		return;
	}
	fd = diag_open_in(path);
	if (fd < 0) {
		s->open_failures++;
		return;
	}
	s->v[s->n++] = (struct tw_netns){ .inode = inode, .diag_fd = fd, .seen_gen = s->gen };
}

int netns_refresh(struct tw_netns_set *s, const char *proc_root, const char *run_netns)
{
	char path[512];
	DIR *d;
	struct dirent *de;

	s->gen++;
	s->v[0].seen_gen = s->gen; /* our own is always followed */
	d = opendir(proc_root);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "%s/%s/ns/net", proc_root, de->d_name);
			consider(s, path);
		}
		closedir(d);
	}
	d = opendir(run_netns);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", run_netns, de->d_name);
			consider(s, path);
		}
		closedir(d);
	}
	/* Forget namespaces nobody holds any more. */
	for (size_t i = 1; i < s->n;) {
		if (s->v[i].seen_gen != s->gen) {
			close(s->v[i].diag_fd);
			s->v[i] = s->v[--s->n];
		} else {
			i++;
		}
	}
	return (int)s->n;
}
