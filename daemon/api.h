/*
 * The HTTP JSON API (libmicrohttpd) on a Unix socket and on a loopback TCP
 * port, driven from the daemon's event loop: no threads of its own.
 */
#ifndef TCPWATCH_API_H
#define TCPWATCH_API_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "conntable.h"
#include "findings.h"
#include "json.h"
#include "loop.h"

struct tw_api;

struct tw_api_hooks {
	struct tw_conntable *table;
	/* Writes the /api/v1/stats object. */
	void (*write_stats)(struct tw_buf *b, void *data);
	/* Applies events still waiting in the ring buffer, so that an answer
	 * includes everything that happened before the request. */
	void (*sync)(void *data);
	void *data;
	const struct tw_findings_config *findings;
};

/* Binds the Unix socket (replacing a stale one) and the TCP listener
 * (unless cfg->listen is "none"). NULL with a message in err on failure. */
struct tw_api *api_new(struct tw_loop *loop, const struct tw_config *cfg,
		       const struct tw_api_hooks *hooks, char *err, size_t err_len);
/* Stops serving, removes the Unix socket. Accepts NULL. */
void api_free(struct tw_api *api);
/* Lets libmicrohttpd time out idle clients; call about once a second. */
void api_tick(struct tw_api *api);
/* True while an /api/v1/events stream is open. */
bool api_watching(const struct tw_api *api);
/* Sends a history entry just added to c to every /api/v1/events stream
 * whose filter takes it. Cheap when nobody watches. */
void api_publish(struct tw_api *api, const struct tw_conn *c, const struct tw_hist *h);
/* Keeps event streams alive (a comment line) and finds dead clients. */
void api_ping_watchers(struct tw_api *api);
/* Event streams open now, and events they had to drop (slow readers). */
void api_watch_stats(struct tw_api *api, uint64_t *ret_watchers, uint64_t *ret_dropped);
/* Sends a history entry just added to c to every /api/v1/events stream
 * whose filter takes it. Cheap when nobody watches. */
void api_publish(struct tw_api *api, const struct tw_conn *c, const struct tw_hist *h);
/* Keeps event streams alive (a comment line) and finds dead clients. */
void api_ping_watchers(struct tw_api *api);
/* Event streams open now, and events they had to drop (slow readers). */
void api_watch_stats(struct tw_api *api, uint64_t *ret_watchers, uint64_t *ret_dropped);

#endif
