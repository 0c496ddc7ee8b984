#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fmt.h"

static size_t put_v4(char *out, const uint8_t a[4])
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		if (i)
			out[n++] = '.';
		n += tw_fmt_u64(out + n, a[i]);
	}
	return n;
}

size_t tw_endpoint_put(char *out, int family, const uint8_t addr[16], uint16_t port, bool any_port)
{
	size_t n = 0;

	if (family == AF_INET6) {
		char text[INET6_ADDRSTRLEN];

		if (!inet_ntop(AF_INET6, addr, text, sizeof(text)))
			strcpy(text, "?");
		out[n++] = '[';
		memcpy(out + n, text, strlen(text));
		n += strlen(text);
		out[n++] = ']';
	} else {
		n += put_v4(out, addr);
	}
	out[n++] = ':';
	if (any_port)
		out[n++] = '*';
	else
		n += tw_fmt_u64(out + n, port);
	return n;
}

const char *tw_endpoint_format(int family, const uint8_t addr[16], uint16_t port, char *buf,
			       size_t len)
{
	char text[TW_ENDPOINT_STRLEN];
	size_t n = tw_endpoint_put(text, family, addr, port, false);

	if (!len)
		return buf;
	if (n > len - 1)
		n = len - 1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	return buf;
}

const char *tw_endpoint_format_text(const char *addr, uint16_t port, char *buf, size_t len)
{
	uint8_t a[16];
	int family;

	if (tw_addr_parse(addr, &family, a) == 0)
		return tw_endpoint_format(family, a, port, buf, len);
	snprintf(buf, len, "%s:%u", addr, port);
	return buf;
}

const char *tw_addr_format(int family, const uint8_t addr[16], char *buf, size_t len)
{
	/* Dotted decimal without inet_ntop's sprintf: every event of a
	 * stream and row of a listing formats two. */
	if (family != AF_INET6 && len >= INET_ADDRSTRLEN) {
		buf[put_v4(buf, addr)] = '\0';
		return buf;
	}
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

int tw_addr_parse(const char *text, int *ret_family, uint8_t ret_addr[16])
{
	uint8_t addr[16] = {0};

	if (inet_pton(AF_INET, text, addr) == 1) {
		*ret_family = AF_INET;
	} else if (inet_pton(AF_INET6, text, addr) == 1) {
		*ret_family = AF_INET6;
	} else {
		return -EINVAL;
	}
	memcpy(ret_addr, addr, 16);
	return 0;
}

int tw_prefix_parse(const char *text, int *ret_family, uint8_t ret_addr[16],
		    unsigned *ret_prefix_len)
{
	char buf[TW_ADDR_STRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long prefix;
	int family;
	uint8_t addr[16];
	char *end;

	if (n >= sizeof(buf) || n == 0)
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (buf[0] == '[' && n > 2 && buf[n - 1] == ']') {
		memmove(buf, buf + 1, n - 2);
		buf[n - 2] = '\0';
	}
	if (tw_addr_parse(buf, &family, addr) < 0)
		return -EINVAL;
	prefix = family == AF_INET ? 32 : 128;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno || *end || prefix > (family == AF_INET ? 32u : 128u))
			return -EINVAL;
	}
	*ret_family = family;
	memcpy(ret_addr, addr, 16);
	*ret_prefix_len = (unsigned)prefix;
	return 0;
}

bool tw_addr_prefix_match(const uint8_t a[16], const uint8_t b[16], unsigned prefix_len)
{
	unsigned bytes = prefix_len / 8, bits = prefix_len % 8;

	if (bytes > 16)
		return false;
	if (memcmp(a, b, bytes))
		return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		return (a[bytes] & mask) == (b[bytes] & mask);
	}
	return true;
}
