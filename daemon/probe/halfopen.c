/*
 * The half-open mode's BPF side: a tcx egress program on every interface
 * of a probing namespace drops this host's RSTs from marked source ports,
 * so a probe's half-open connection lives on at the target and its SYN-ACK
 * retransmissions can be timed. Links end when their fds close (a crash
 * leaves nothing attached), and are held only while such a probe runs.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "halfopen.skel.h"
#include "internal.h"

#define TCX_EGRESS 47 /* BPF_TCX_EGRESS (Linux 6.6); libbpf 1.1's headers lack it */

struct probe_halfopen {
	struct halfopen_bpf *skel;
	int ports_fd, prog_fd;
};

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int halfopen_load(struct probe_halfopen **ret, char *err, size_t err_len)
{
	struct probe_halfopen *h = calloc(1, sizeof(*h));
	libbpf_print_fn_t old = libbpf_set_print(quiet_print);
	int r;

	if (!h) {
		libbpf_set_print(old);
		return -ENOMEM;
	}
	h->skel = halfopen_bpf__open_and_load();
	r = h->skel ? 0 : -errno;
	libbpf_set_print(old);
	if (r < 0) {
		snprintf(err, err_len, "cannot load the half-open BPF program: %s", strerror(-r));
		free(h);
		return r;
	}
	h->ports_fd = bpf_map__fd(h->skel->maps.halfopen_ports);
	h->prog_fd = bpf_program__fd(h->skel->progs.halfopen_drop_rst);
	*ret = h;
	return 0;
}

void halfopen_unload(struct probe_halfopen *h)
{
	if (!h)
		return;
	halfopen_bpf__destroy(h->skel);
	free(h);
}

int halfopen_mark(struct probe_halfopen *h, uint16_t port, bool on)
{
	uint32_t key = port;
	uint8_t v = on;

	return bpf_map_update_elem(h->ports_fd, &key, &v, BPF_ANY) < 0 ? -errno : 0;
}

uint64_t halfopen_dropped(const struct probe_halfopen *h)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v, total = 0;
	uint32_t key = 0;

	if (!h || ncpu <= 0)
		return 0;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (v && bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.halfopen_dropped), &key, v) == 0)
		for (int i = 0; i < ncpu; i++)
			total += v[i];
	free(v);
	return total;
}

struct attach_job {
	struct probe_halfopen *h;
	struct probe_ctx *c;
	int ns_fd;
	int result;
};

static int attach_here(struct attach_job *j)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	size_t n = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++)
		n++;
	j->c->links = calloc(n ? n : 1, sizeof(int));
	if (!j->c->links) {
		if_freenameindex(ifs);
		return -ENOMEM;
	}
	for (i = ifs; i->if_index; i++) {
		int fd = bpf_link_create(j->h->prog_fd, (int)i->if_index, TCX_EGRESS, NULL);

		if (fd >= 0)
			j->c->links[j->c->n_links++] = fd;
	}
	if_freenameindex(ifs);
	return j->c->n_links ? 0 : -EOPNOTSUPP;
}

static void *attach_in_ns(void *arg)
{
	struct attach_job *j = arg;

	j->result = setns(j->ns_fd, CLONE_NEWNET) < 0 ? -errno : attach_here(j);
	return NULL;
}

int halfopen_attach(struct probe_halfopen *h, struct probe_ctx *c)
{
	struct attach_job j = {.h = h, .c = c, .ns_fd = -1, .result = -EIO};
	pthread_t th;
	int e;

	if (c->n_links)
		return 0;
	if (!c->ns_path[0])
		return attach_here(&j);
	j.ns_fd = open_ns(c->ns_path, c->netns);
	if (j.ns_fd < 0)
		return j.ns_fd;
	e = pthread_create(&th, NULL, attach_in_ns, &j);
	if (e) {
		close(j.ns_fd);
		return -e;
	}
	pthread_join(th, NULL);
	close(j.ns_fd);
	return j.result;
}

void halfopen_detach(struct probe_ctx *c)
{
	for (uint32_t i = 0; i < c->n_links; i++)
		close(c->links[i]);
	free(c->links);
	c->links = NULL;
	c->n_links = 0;
}
