#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"

#define HOST_MAX 256

bool access_addr_is_loopback(const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

static bool digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* The host part of a Host header into out: "[::1]:80" -> "::1",
 * "a.b:80" -> "a.b". False if it is not one. */
static bool host_part(const char *host, char *out, size_t len)
{
	const char *end, *colon;
	size_t n;

	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end || (end[1] && (end[1] != ':' || !digits(end + 2))))
			return false;
		host++;
	} else {
		colon = strchr(host, ':');
		if (colon && (strchr(colon + 1, ':') || !digits(colon + 1)))
			return false;
		end = colon ? colon : host + strlen(host);
	}
	n = (size_t)(end - host);
	if (!n || n >= len)
		return false;
	memcpy(out, host, n);
	out[n] = '\0';
	return true;
}

/* One entry of the allowed list, "[v6]" brackets and ":port" taken off. */
static bool entry_matches(const char *entry, size_t n, const char *name)
{
	char e[HOST_MAX], bare[HOST_MAX];

	if (!n || n >= sizeof(e))
		return false;
	memcpy(e, entry, n);
	e[n] = '\0';
	if (!host_part(e, bare, sizeof(bare)))
		return false;
	return !strcasecmp(bare, name);
}

bool access_host_ok(const char *host, const char *listen_host, const char *allowed)
{
	char name[HOST_MAX];

	if (!host || !host_part(host, name, sizeof(name)))
		return false;
	if (!strcasecmp(name, "localhost") || access_addr_is_loopback(name))
		return true;
	if (listen_host && *listen_host && !strcasecmp(name, listen_host))
		return true;
	for (const char *p = allowed ? allowed : ""; *p;) {
		size_t n = strcspn(p, ", \t");

		if (entry_matches(p, n, name))
			return true;
		p += n;
		p += strspn(p, ", \t");
	}
	return false;
}

bool access_bearer_ok(const char *authorization, const char *token)
{
	size_t n = token ? strlen(token) : 0, m;
	unsigned char diff = 0;
	const char *given;

	if (!n || !authorization || strncasecmp(authorization, "Bearer ", 7))
		return false;
	given = authorization + 7;
	m = strlen(given);
	/* Every byte of the token is looked at, whatever was sent. */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(token[i] ^ (i < m ? given[i] : 0));
	return !diff && m == n;
}

bool access_path_public(const char *url)
{
	return !strcmp(url, "/healthz") || !strcmp(url, "/metrics");
}
