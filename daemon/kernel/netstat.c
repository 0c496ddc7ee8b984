#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netstat.h"

#define NETSTAT_MAX_BYTES (64 * 1024)
#define MAX_FIELDS        256

/* The fields of one line after "Group:", split on spaces (in place). */
static size_t split(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " \t", &save); tok && n < max;
	     tok = strtok_r(NULL, " \t", &save))
		fields[n++] = tok;
	return n;
}

static int group_pair(const char *group, char *names, char *values, uint64_t v[TW_NS_KEYS])
{
	char *nf[MAX_FIELDS], *vf[MAX_FIELDS];
	size_t nn = split(names, nf, MAX_FIELDS), nv = split(values, vf, MAX_FIELDS);
	int set = 0;

	if (nn != nv)
		return -EINVAL;
	for (size_t i = 0; i < nn; i++) {
		for (int k = 0; k < TW_NS_KEYS; k++) {
			char *end;
			unsigned long long x;

			if (strcmp(tw_nsstat_group[k], group) || strcmp(tw_nsstat_name[k], nf[i]))
				continue;
			/* CurrEstab and MaxConn may print as signed; a value
			 * that is no number is not stored. */
			if (vf[i][0] == '-') {
				x = 0;
			} else {
				errno = 0;
				x = strtoull(vf[i], &end, 10);
				if (end == vf[i] || *end || errno)
					continue;
			}
			v[k] = x;
			set++;
		}
	}
	return set;
}

int netstat_parse(const char *text, size_t len, uint64_t v[TW_NS_KEYS])
{
	char *copy = malloc(len + 1), *lines[2], *p, *save = NULL;
	int set = 0, r = 0;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	p = strtok_r(copy, "\n", &save);
	while (p) {
		char *colon;
		size_t glen;

		lines[0] = p;
		lines[1] = strtok_r(NULL, "\n", &save);
		colon = strchr(lines[0], ':');
		if (!lines[1] || !colon ||
		    strncmp(lines[0], lines[1], (size_t)(colon - lines[0]) + 1)) {
			r = -EINVAL;
			break;
		}
		glen = (size_t)(colon - lines[0]);
		lines[0][glen] = '\0';
		r = group_pair(lines[0], colon + 1, lines[1] + glen + 1, v);
		if (r < 0)
			break;
		set += r;
		p = strtok_r(NULL, "\n", &save);
	}
	free(copy);
	return r < 0 ? r : set;
}

static int read_file(int fd, uint64_t v[TW_NS_KEYS])
{
	char *buf;
	ssize_t n, got = 0;
	int r;

	if (fd < 0)
		return 0;
	buf = malloc(NETSTAT_MAX_BYTES);
	if (!buf)
		return -ENOMEM;
	while (got < NETSTAT_MAX_BYTES &&
	       (n = pread(fd, buf + got, (size_t)(NETSTAT_MAX_BYTES - got), got)) > 0)
		got += n;
	r = got > 0 ? netstat_parse(buf, (size_t)got, v) : -EIO;
	free(buf);
	return r < 0 ? r : 0;
}

int netstat_read(int netstat_fd, int snmp_fd, uint64_t v[TW_NS_KEYS])
{
	int r = read_file(netstat_fd, v);

	if (r < 0)
		return r;
	return read_file(snmp_fd, v);
}

/* The number after " key " in line[0..len), or -1. */
static long field(const char *line, size_t len, const char *key)
{
	size_t k = strlen(key);

	for (size_t i = 0; i + k + 2 <= len; i++) {
		unsigned long v = 0;
		size_t j;

		if (line[i] != ' ' || memcmp(line + i + 1, key, k) || line[i + 1 + k] != ' ')
			continue;
		j = i + k + 2;
		if (j >= len || line[j] < '0' || line[j] > '9')
			return -1;
		for (; j < len && line[j] >= '0' && line[j] <= '9'; j++) {
			if (v > (unsigned long)(LONG_MAX / 10) - 10)
				return -1;
			v = v * 10 + (unsigned long)(line[j] - '0');
		}
		return (long)v;
	}
	return -1;
}

long netstat_sockstat_tcp(const char *text, size_t len)
{
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;

		if (end - i > 4 && !memcmp(text + i, "TCP:", 4)) {
			long alloc = field(text + i, end - i, "alloc"),
			     tw = field(text + i, end - i, "tw");

			if (alloc < 0 || tw < 0 || alloc > LONG_MAX - tw)
				return -EINVAL;
			return alloc + tw;
		}
		i = end + 1;
	}
	return -EINVAL;
}
