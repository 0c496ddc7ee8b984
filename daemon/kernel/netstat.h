/*
 * A namespace's TCP counters from /proc/net/netstat (TcpExt) and
 * /proc/net/snmp (Tcp), read through descriptors opened inside it: a
 * /proc/net file keeps the namespace it was opened in, so re-reading it
 * from offset 0 gives that namespace's counters now.
 */
#ifndef TCPWATCH_NETSTAT_H
#define TCPWATCH_NETSTAT_H

#include <stddef.h>
#include <stdint.h>

#include "nsstat.h"

/* Parses the text of either file (header line, values line, per group)
 * into v[] for the keys it has; the others are left. Returns how many
 * keys it set, or -EINVAL for text that is not such a file. */
int netstat_parse(const char *text, size_t len, uint64_t v[TW_NS_KEYS]);
/* Reads both files (fds from netns.c; -1 skips one) into v[]. 0, or a
 * negative errno. */
int netstat_read(int netstat_fd, int snmp_fd, uint64_t v[TW_NS_KEYS]);

/* From the text of /proc/net/sockstat ("TCP: inuse 5 orphan 0 tw 2 alloc
 * 7 mem 1"): alloc (the TCP sockets of every namespace: the kernel keeps
 * one count) plus tw (the TIME_WAIT ones of the reader's namespace), the
 * size a first snapshot will have. -EINVAL if the line or a field is
 * missing. */
long netstat_sockstat_tcp(const char *text, size_t len);

#endif
