/*
 * A sock_diag dump read ahead on a thread of its own.
 *
 * Each recvmsg() of a dump has the kernel fill the next datagram there and
 * then (netlink_dump() runs inside netlink_recvmsg()), so the kernel's walk
 * and our parsing take turns on one CPU: at 100,000 sockets the kernel's
 * half was single recvmsg() calls of up to 99 ms on the event loop. The
 * reader thread makes those calls, into a bounded set of buffers, while
 * the loop parses what it read: the two halves overlap on two CPUs, and
 * the loop never waits in the kernel's walk.
 *
 * It also sends the dump's request: the kernel fills the first datagram
 * inside that sendto(), and for a family with few sockets walks its whole
 * hash there (an IPv6 dump among 100,000 IPv4 sockets: 15-25 ms).
 *
 * The reader only sends and reads: the table, the parsing and every
 * decision stay on the loop's thread (the table has one writer). Between
 * dumps it does not touch the socket, which the loop then owns (flushes,
 * lookups of one socket).
 */
#ifndef TCPWATCH_DIAGPIPE_H
#define TCPWATCH_DIAGPIPE_H

#include <stddef.h>
#include <stdint.h>

struct tw_diagpipe;

/* A reader with nbufs buffers of buf_size bytes (at least 2). NULL when
 * memory or the thread could not be had: the caller reads inline. */
struct tw_diagpipe *diagpipe_new(size_t buf_size, unsigned nbufs);
/* Stops the thread and frees everything. NULL is fine. */
void diagpipe_free(struct tw_diagpipe *p);

/* An eventfd, readable while read datagrams wait (the loop watches it). */
int diagpipe_fd(const struct tw_diagpipe *p);

/* Starts reading fd: first sends req (req_len bytes, at most
 * DIAG_REQUEST_MAX; none when 0: the dump was requested already), then
 * datagram after datagram, until one that ends the dump (NLMSG_DONE or
 * NLMSG_ERROR), a failed send or read (handed over as its errno), or
 * diagpipe_stop(). 0, or -EMSGSIZE for a request too long. */
int diagpipe_start(struct tw_diagpipe *p, int fd, const void *req, size_t req_len);

/*
 * The oldest datagram read and not yet taken, waiting for one up to
 * wait_ms (0: not at all). Returns it and its length in *ret_len, or NULL
 * with *ret_len -EAGAIN (none yet) or the failed read's negative errno.
 * *foreign grows by the datagrams the reader dropped as not the kernel's.
 * The datagram stays valid until diagpipe_done().
 */
const void *diagpipe_next(struct tw_diagpipe *p, int wait_ms, long *ret_len, uint64_t *foreign);
/* Gives the datagram diagpipe_next() returned back to the reader. */
void diagpipe_done(struct tw_diagpipe *p);

/* Stops reading and drops what was read and not taken; returns once the
 * reader no longer touches the socket. Idle already: returns at once. */
void diagpipe_stop(struct tw_diagpipe *p);

/* Datagrams the reader has read, in all. */
uint64_t diagpipe_reads(const struct tw_diagpipe *p);

#endif
