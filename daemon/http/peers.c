#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "peers.h"

struct http_peer {
	struct http_peer *prev, *next;
	struct MHD_Connection *conn;
	uint64_t busy_since_ns; /* the connection's start, or its last request's end */
	uint8_t door;           /* enum peers_door */
	uint8_t family;         /* TCP: the peer's address family */
	bool admitted, stream, cut;
	const char *refusal; /* why it is not admitted */
	uint32_t uid;        /* Unix: the peer's uid */
	uint8_t addr[16];    /* TCP: the peer's address */
};

void peers_init(struct http_peers *p, uint32_t max, uint32_t max_per_peer, uint64_t timeout_ns)
{
	memset(p, 0, sizeof(*p));
	p->max = max;
	p->max_per_peer = max_per_peer;
	p->timeout_ns = timeout_ns;
}

/* Who is at the other end: a uid (SO_PEERCRED) or an address. */
static void identify(struct http_peer *e, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	if (e->door == PEERS_UNIX) {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		e->uid = ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0
				 ? cred.uid
				 : (uint32_t)-1;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	e->family = (uint8_t)ci->client_addr->sa_family;
	if (e->family == AF_INET)
		memcpy(e->addr, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, 4);
	else if (e->family == AF_INET6)
		memcpy(e->addr, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, 16);
}

static bool same_peer(const struct http_peer *a, const struct http_peer *b)
{
	if (a->door != b->door)
		return false;
	if (a->door == PEERS_UNIX)
		return a->uid == b->uid;
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* Admits e unless its door or its peer has all the slots it may have. */
static void admit(struct http_peers *p, struct http_peer *e)
{
	uint32_t mine = 0;

	if (p->n[e->door] >= p->max) {
		p->refused_full++;
		e->refusal = "too many API connections (max-clients)";
		return;
	}
	for (const struct http_peer *o = p->head; o; o = o->next)
		if (o != e && o->admitted && same_peer(o, e))
			mine++;
	if (mine >= p->max_per_peer) {
		p->refused_peer++;
		e->refusal = "too many API connections from this client (max-clients-per-peer)";
		return;
	}
	e->admitted = true;
	p->n[e->door]++;
}

void peers_notify(struct http_peers *p, struct MHD_Daemon *unix_daemon, struct MHD_Connection *conn,
		  void **socket_context, enum MHD_ConnectionNotificationCode toe)
{
	struct http_peer *e = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);

		e = calloc(1, sizeof(*e));
		if (!e) {
			/* Not tracked: it is cut at once rather than served unbounded. */
			p->untracked++;
			MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
			return;
		}
		e->conn = conn;
		e->busy_since_ns = clock_mono_ns();
		e->door = ci && ci->daemon == unix_daemon ? PEERS_UNIX : PEERS_TCP;
		identify(e, conn);
		e->next = p->head;
		if (p->head)
			p->head->prev = e;
		p->head = e;
		admit(p, e);
		if (!e->admitted) /* answered 503 at its first request, or gone in 1 s */
			MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
		*socket_context = e;
		return;
	}
	if (!e)
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		p->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (e->admitted)
		p->n[e->door]--;
	free(e);
	*socket_context = NULL;
}

static struct http_peer *peer_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

const char *peers_refusal(struct MHD_Connection *conn)
{
	const struct http_peer *e = peer_of(conn);

	if (!e)
		return "out of memory";
	return e->admitted ? "" : e->refusal;
}

void peers_request_done(struct MHD_Connection *conn)
{
	struct http_peer *e = peer_of(conn);

	if (e)
		e->busy_since_ns = clock_mono_ns();
}

void peers_mark_stream(struct MHD_Connection *conn)
{
	struct http_peer *e = peer_of(conn);

	if (e)
		e->stream = true;
}

/*
 * MHD's own timeout is an idle one: a byte every 29 s keeps a request
 * going for ever. A request (or the wait before one) that has taken its
 * whole time is shut down: MHD, which still owns the descriptor, sees the
 * end of it and closes the connection at once.
 */
void peers_tick(struct http_peers *p, uint64_t now_ns)
{
	for (struct http_peer *e = p->head; e; e = e->next) {
		const union MHD_ConnectionInfo *ci;

		if (e->stream || e->cut || now_ns - e->busy_since_ns <= p->timeout_ns)
			continue;
		e->cut = true;
		p->cut_slow++;
		MHD_set_connection_option(e->conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
		ci = MHD_get_connection_info(e->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
	}
}

void peers_report(const struct http_peers *p, struct tw_stats *s)
{
	stats_gauge(s, "http_clients_unix", p->n[PEERS_UNIX]);
	stats_gauge(s, "http_clients_tcp", p->n[PEERS_TCP]);
	stats_counter(s, "http_clients_refused_full", p->refused_full);
	stats_counter(s, "http_clients_refused_peer", p->refused_peer);
	stats_counter(s, "http_requests_cut_slow", p->cut_slow);
	stats_counter(s, "http_clients_untracked", p->untracked);
}
