/*
 * The HTTP JSON API (libmicrohttpd) on a Unix socket and on a loopback TCP
 * port, driven from the daemon's event loop: no threads of its own.
 */
#ifndef TCPWATCH_HTTP_H
#define TCPWATCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "conntable.h"
#include "findings.h"
#include "loop.h"
#include "probe.h"
#include "stats.h"

struct tw_http;

/* Connections each door accepts beyond max-clients, only to answer them
 * 503: the descriptors the daemon may need are 2 * (max-clients + this). */
#define HTTP_CLIENTS_MARGIN 64u

struct tw_http_hooks {
	struct tw_conntable *table;
	/* Adds the daemon's figures for /api/v1/stats. */
	void (*collect_stats)(struct tw_stats *s, void *data);
	/* Applies events still waiting in the ring buffer, so that an answer
	 * includes everything that happened before the request. */
	void (*sync)(void *data);
	void *data;
	const struct tw_findings_config *findings;
	struct tw_prober *prober; /* NULL: no /api/v1/probes */
};

/* Binds the Unix socket (replacing a stale one) and the TCP listener
 * (unless cfg->listen is "none"). NULL with a message in err on failure. */
struct tw_http *http_new(struct tw_loop *loop, const struct tw_config *cfg,
			 const struct tw_http_hooks *hooks, char *err, size_t err_len);
/* Stops serving, removes the Unix socket. Accepts NULL. */
void http_free(struct tw_http *h);
/* Lets libmicrohttpd time out idle clients; call about once a second. */
void http_tick(struct tw_http *h);
/* True while an /api/v1/events stream is open. */
bool http_watching(const struct tw_http *h);
/* Sends a history entry just added to c to every /api/v1/events stream
 * whose filter takes it. Cheap when nobody watches. */
void http_publish(struct tw_http *h, const struct tw_conn *c, uint32_t hist_index);
/* Keeps event streams alive (a comment line) and finds dead clients. */
void http_ping_watchers(struct tw_http *h);
/* Adds the HTTP figures (requests, errors, event streams) to s. */
void http_report(const struct tw_http *h, struct tw_stats *s);

#endif
