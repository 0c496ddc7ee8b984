/* IPv4/IPv6 addresses as tcpwatch stores them: 16 bytes, IPv4 in the
 * first four, plus the family. */
#ifndef TCPWATCH_ADDR_H
#define TCPWATCH_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_ADDR_STRLEN     46                   /* INET6_ADDRSTRLEN */
#define TW_ENDPOINT_STRLEN (TW_ADDR_STRLEN + 8) /* "[" ADDR "]:" PORT and a NUL */

/* Text form into buf (at least TW_ADDR_STRLEN bytes); returns buf. */
const char *tw_addr_format(int family, const uint8_t addr[16], char *buf, size_t len);
/*
 * An endpoint as tcpwatch writes it everywhere: ADDR:PORT, [ADDR6]:PORT,
 * or with any_port ADDR:* (a listener's peer). Written at out without a
 * NUL, and without printf (the daemon's text listing writes 100,000 of
 * them); returns the length, less than TW_ENDPOINT_STRLEN.
 */
size_t tw_endpoint_put(char *out, int family, const uint8_t addr[16], uint16_t port, bool any_port);
/* The same into buf (NUL-terminated, at least TW_ENDPOINT_STRLEN bytes, or
 * truncated); returns buf. */
const char *tw_endpoint_format(int family, const uint8_t addr[16], uint16_t port, char *buf,
			       size_t len);
/* An endpoint from an address in text (as the API gives it) and a port:
 * the address is parsed, so the text is the one tw_endpoint_put writes;
 * text that is no address is copied as it is (escaped by the caller). */
const char *tw_endpoint_format_text(const char *addr, uint16_t port, char *buf, size_t len);
/* Parses an IPv4 or IPv6 literal. Returns 0 and sets *ret_family and
 * ret_addr, or -EINVAL; outputs untouched on failure. */
int tw_addr_parse(const char *text, int *ret_family, uint8_t ret_addr[16]);
/* Parses ADDR or ADDR/PREFIX. Brackets around IPv6 allowed. */
int tw_prefix_parse(const char *text, int *ret_family, uint8_t ret_addr[16],
		    unsigned *ret_prefix_len);
/* True if the first prefix_len bits of a and b match. */
bool tw_addr_prefix_match(const uint8_t a[16], const uint8_t b[16], unsigned prefix_len);

#endif
