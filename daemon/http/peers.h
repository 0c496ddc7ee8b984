/*
 * The API's connections, per door (Unix socket, TCP): bounded in number,
 * in number per peer (a uid on the Unix socket, an address over TCP), and
 * in the time a request may take, so that no client can hold every slot
 * or keep one for ever by sending or reading a byte at a time.
 */
#ifndef TCPWATCH_HTTP_PEERS_H
#define TCPWATCH_HTTP_PEERS_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "stats.h"

#include "http.h"

/* Connections accepted beyond max-clients, only to be answered 503. */
#define PEERS_MARGIN HTTP_CLIENTS_MARGIN

enum peers_door { PEERS_TCP, PEERS_UNIX };

struct http_peer;

struct http_peers {
	struct http_peer *head;
	uint32_t n[2]; /* admitted connections, per door */
	uint32_t max, max_per_peer;
	uint64_t timeout_ns;   /* a request's whole time, headers to last byte */
	uint64_t refused_full; /* over max-clients */
	uint64_t refused_peer; /* over max-clients-per-peer */
	uint64_t cut_slow;     /* requests that took longer than timeout_ns */
	uint64_t untracked;    /* connections cut at once: no memory to track them */
};

void peers_init(struct http_peers *p, uint32_t max, uint32_t max_per_peer, uint64_t timeout_ns);
/* MHD_OPTION_NOTIFY_CONNECTION: cls is the struct http_peers; the door is
 * read from the daemon the connection came to (unix_daemon). */
void peers_notify(struct http_peers *p, struct MHD_Daemon *unix_daemon, struct MHD_Connection *conn,
		  void **socket_context, enum MHD_ConnectionNotificationCode toe);
/* Why conn may not be served ("" if it may): its first request is
 * answered 503 with this. */
const char *peers_refusal(struct MHD_Connection *conn);
/* A request on conn ended: its next one starts its clock. */
void peers_request_done(struct MHD_Connection *conn);
/* conn is an event stream: long by design, exempt from the time limit. */
void peers_mark_stream(struct MHD_Connection *conn);
/* Once a second: requests over their time are cut. */
void peers_tick(struct http_peers *p, uint64_t now_ns);
void peers_report(const struct http_peers *p, struct tw_stats *s);

#endif
