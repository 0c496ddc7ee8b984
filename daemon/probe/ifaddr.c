/*
 * Interface addresses of a namespace: the probing namespace's own (read
 * once, as its sockets open) and any followed namespace's (looked up by a
 * thread inside it), for the default allow-list.
 */
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

void ctx_read_own_addrs(struct probe_ctx *c)
{
	struct ifaddrs *ifa, *i;
	uint32_t n = 0;

	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr &&
		    (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
			n++;
	c->own = calloc(n ? n : 1, sizeof(*c->own));
	for (i = ifa; c->own && i; i = i->ifa_next) {
		uint8_t *o;

		if (!i->ifa_addr || c->n_own == n)
			continue;
		o = c->own[c->n_own];
		if (i->ifa_addr->sa_family == AF_INET) {
			o[0] = AF_INET;
			memcpy(o + 1, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
			c->n_own++;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			o[0] = AF_INET6;
			memcpy(o + 1, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
			c->n_own++;
		}
	}
	freeifaddrs(ifa);
}

bool ctx_own_addr(const struct probe_ctx *c, int family, const uint8_t addr[16])
{
	for (uint32_t i = 0; i < c->n_own; i++)
		if (c->own[i][0] == family &&
		    !memcmp(c->own[i] + 1, addr, family == AF_INET ? 4 : 16))
			return true;
	return false;
}

struct addr_job {
	int ns_fd;
	int family;
	const uint8_t *addr;
	bool found;
};

static bool have_addr_here(int family, const uint8_t addr[16])
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr, 4);
		else
			found = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, addr, 16);
	}
	freeifaddrs(ifa);
	return found;
}

static void *addr_in_ns(void *arg)
{
	struct addr_job *j = arg;

	if (setns(j->ns_fd, CLONE_NEWNET) == 0)
		j->found = have_addr_here(j->family, j->addr);
	return NULL;
}

bool ns_has_addr(const char *ns_path, int family, const uint8_t addr[16])
{
	struct addr_job j = {.family = family, .addr = addr};
	pthread_t th;

	if (!ns_path)
		return have_addr_here(family, addr);
	j.ns_fd = open(ns_path, O_RDONLY | O_CLOEXEC);
	if (j.ns_fd < 0)
		return false;
	if (pthread_create(&th, NULL, addr_in_ns, &j) == 0)
		pthread_join(th, NULL);
	close(j.ns_fd);
	return j.found;
}
