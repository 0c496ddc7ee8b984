/*
 * The targets on-demand probes may reach: CIDR prefixes with port ranges,
 * from the config's probe-allow ("198.18.0.0/15, 10.1.0.0/16:443,
 * [fd00::/8]:8000-8999"). Loopback is always allowed. Pure logic.
 */
#ifndef TCPWATCH_ALLOW_H
#define TCPWATCH_ALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_ALLOW_MAX 64

struct tw_allow_rule {
	uint8_t family;
	uint8_t addr[16];
	uint8_t prefix_len;
	uint16_t port_lo, port_hi;
};

struct tw_allow {
	struct tw_allow_rule v[TW_ALLOW_MAX];
	size_t n;
};

/* Parses a list (commas or spaces between entries; "" is an empty list).
 * 0, or -EINVAL with a message in err naming the entry. */
int allow_parse(struct tw_allow *a, const char *text, char *err, size_t err_len);
/* True if a rule (or loopback) takes the target. */
bool allow_match(const struct tw_allow *a, int family, const uint8_t addr[16], uint16_t port);
/* ADDR:PORT or [ADDR6]:PORT (literal addresses; the port 1-65535). 0 or
 * -EINVAL (the outputs may be written then). */
int probe_parse_endpoint(const char *s, int *family, uint8_t addr[16], uint16_t *port);
/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool addr_is_loopback(int family, const uint8_t addr[16]);

#endif
