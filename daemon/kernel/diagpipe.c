#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "diagpipe.h"

struct slot {
	long len;         /* or the failed read's negative errno */
	uint64_t foreign; /* datagrams dropped before this one */
};

/*
 * The buffers are a ring: count of them, from head on, hold datagrams in
 * the order read (head is the one the loop took, if taken); the reader
 * fills the one after them, outside the lock: nobody else touches it.
 */
struct tw_diagpipe {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int efd;     /* to the loop: readable while datagrams wait */
	int wake_fd; /* to the reader: stop or quit */
	size_t buf_size;
	unsigned nbufs;
	char *bufs;
	struct slot *slots;
	unsigned head, count;
	bool taken;
	bool active;  /* reading fd */
	bool reading; /* the reader is in a read, outside the lock */
	bool quit;
	int fd;
	size_t req_len; /* a request to send before reading, if not 0 */
	char req[DIAG_REQUEST_MAX];
	uint64_t gen; /* a stop makes the read under way void */
	uint64_t reads;
};

static void efd_set(int fd)
{
	uint64_t one = 1;

	(void)!write(fd, &one, sizeof(one));
}

static void efd_clear(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

static bool ends_dump(const void *buf, long len)
{
	const struct nlmsghdr *h = buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left))
		if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
			return true;
	return false;
}

/* One datagram from fd; -EAGAIN when woken first. */
static long read_one(struct tw_diagpipe *p, int fd, void *buf, uint64_t *foreign)
{
	for (;;) {
		struct pollfd pf[2] = {{.fd = fd, .events = POLLIN},
				       {.fd = p->wake_fd, .events = POLLIN}};
		struct tw_diag_counters c = {0};
		long n;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pf[1].revents) {
			efd_clear(p->wake_fd);
			return -EAGAIN;
		}
		n = diag_recv(fd, buf, p->buf_size, &c);
		*foreign += c.foreign;
		if (n != -EAGAIN)
			return n;
	}
}

static void *reader(void *data)
{
	struct tw_diagpipe *p = data;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		unsigned w;
		uint64_t gen, foreign = 0;
		long n;
		int fd;

		while (!p->quit && (!p->active || p->count == p->nbufs))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->quit)
			break;
		w = (p->head + p->count) % p->nbufs;
		fd = p->fd;
		gen = p->gen;
		p->reading = true;
		if (p->req_len) {
			/* The request first: its send is the first datagram's
			 * fill (and the walk of the hash, when the family has
			 * few sockets), which stays off the loop too. p->req
			 * is not written while reading is set. */
			size_t len = p->req_len;

			p->req_len = 0;
			pthread_mutex_unlock(&p->mu);
			n = diag_send(fd, p->req, len);
			if (n == 0)
				n = read_one(p, fd, p->bufs + (size_t)w * p->buf_size, &foreign);
		} else {
			pthread_mutex_unlock(&p->mu);
			n = read_one(p, fd, p->bufs + (size_t)w * p->buf_size, &foreign);
		}
		pthread_mutex_lock(&p->mu);
		p->reading = false;
		pthread_cond_broadcast(&p->cv);
		if (gen != p->gen || !p->active || n == -EAGAIN)
			continue;
		p->slots[w] = (struct slot){.len = n, .foreign = foreign};
		p->count++;
		__atomic_fetch_add(&p->reads, 1, __ATOMIC_RELAXED);
		if (n < 0 || ends_dump(p->bufs + (size_t)w * p->buf_size, n))
			p->active = false;
		efd_set(p->efd);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct tw_diagpipe *diagpipe_new(size_t buf_size, unsigned nbufs)
{
	struct tw_diagpipe *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	if (!p)
		return NULL;
	p->efd = p->wake_fd = -1;
	if (nbufs < 2 || !buf_size)
		goto fail_mem;
	p->buf_size = buf_size;
	p->nbufs = nbufs;
	p->bufs = malloc(buf_size * nbufs);
	p->slots = calloc(nbufs, sizeof(*p->slots));
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!p->bufs || !p->slots || p->efd < 0 || p->wake_fd < 0)
		goto fail_mem;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals stay the loop's (its signalfd): the reader blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&p->thread, NULL, reader, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		return p;
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
fail_mem:
	if (p->efd >= 0)
		close(p->efd);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	free(p->slots);
	free(p->bufs);
	free(p);
	return NULL;
}

void diagpipe_free(struct tw_diagpipe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = true;
	p->gen++;
	efd_set(p->wake_fd);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	close(p->efd);
	close(p->wake_fd);
	free(p->slots);
	free(p->bufs);
	free(p);
}

int diagpipe_fd(const struct tw_diagpipe *p)
{
	return p->efd;
}

int diagpipe_start(struct tw_diagpipe *p, int fd, const void *req, size_t req_len)
{
	if (req_len > sizeof(p->req))
		return -EMSGSIZE;
	diagpipe_stop(p);
	pthread_mutex_lock(&p->mu);
	p->fd = fd;
	p->req_len = req_len;
	if (req_len)
		memcpy(p->req, req, req_len);
	p->active = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static bool ready(const struct tw_diagpipe *p)
{
	return p->count > 0 && !p->taken;
}

const void *diagpipe_next(struct tw_diagpipe *p, int wait_ms, long *ret_len, uint64_t *foreign)
{
	const void *ret = NULL;
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	while (wait_ms > 0 && !ready(p) && p->active &&
	       pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0)
		;
	*ret_len = -EAGAIN;
	if (ready(p)) {
		const struct slot *s = &p->slots[p->head];

		*foreign += s->foreign;
		*ret_len = s->len;
		p->taken = true;
		if (s->len >= 0) {
			ret = p->bufs + (size_t)p->head * p->buf_size;
		} else { /* the failed read: given back at once */
			p->head = (p->head + 1) % p->nbufs;
			p->count--;
			p->taken = false;
			pthread_cond_broadcast(&p->cv);
		}
	}
	/* The eventfd is readable exactly while untaken datagrams wait. */
	if (!ready(p))
		efd_clear(p->efd);
	pthread_mutex_unlock(&p->mu);
	return ret;
}

void diagpipe_done(struct tw_diagpipe *p)
{
	pthread_mutex_lock(&p->mu);
	if (p->taken) {
		p->head = (p->head + 1) % p->nbufs;
		p->count--;
		p->taken = false;
		if (ready(p))
			efd_set(p->efd);
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

void diagpipe_stop(struct tw_diagpipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->active = false;
	p->req_len = 0;
	p->gen++;
	/* (A send under way is not woken: it ends with its first datagram.) */
	if (p->reading)
		efd_set(p->wake_fd);
	while (p->reading)
		pthread_cond_wait(&p->cv, &p->mu);
	p->head = p->count = 0;
	p->taken = false;
	efd_clear(p->efd);
	efd_clear(p->wake_fd);
	pthread_mutex_unlock(&p->mu);
}

uint64_t diagpipe_reads(const struct tw_diagpipe *p)
{
	return __atomic_load_n(&p->reads, __ATOMIC_RELAXED);
}
