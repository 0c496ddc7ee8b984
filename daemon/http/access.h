/*
 * Who may ask what over TCP. The Unix socket is guarded by its mode and
 * group; the TCP listener by the Host header (a page in a local browser
 * must not read the API through DNS rebinding) and, where configured, a
 * bearer token.
 */
#ifndef TCPWATCH_HTTP_ACCESS_H
#define TCPWATCH_HTTP_ACCESS_H

#include <stdbool.h>

/*
 * True if host (a Host header: name, IPv4, or [IPv6], each with an
 * optional :port) names a loopback host (localhost, 127.0.0.0/8, ::1),
 * the listen address's own host, or one of allowed (names or addresses,
 * separated by commas or spaces, compared without case and port).
 */
bool access_host_ok(const char *host, const char *listen_host, const char *allowed);
/* True if addr (an address literal, IPv6 without brackets) is loopback. */
bool access_addr_is_loopback(const char *addr);
/* An "Authorization" header value carrying "Bearer TOKEN", compared in
 * constant time; false if token is empty. */
bool access_bearer_ok(const char *authorization, const char *token);
/* Paths served to every TCP client without the token: /healthz, /metrics. */
bool access_path_public(const char *url);

#endif
