/* tcpwatch show COOKIE: one connection's life as a timeline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fetch.h"
#include "ladder.h"
#include "listeners.h"
#include "addr.h"
#include "fmt.h"
#include "tcpstate.h"

static void print_header(const cJSON *c)
{
	char age[TW_FMT_AGE_LEN] = "-", fam[16], local[TW_ENDPOINT_STRLEN * 2],
	     remote[TW_ENDPOINT_STRLEN * 2], comm[80];

	if (json_num(c, "age_ms", -1) >= 0)
		tw_fmt_age(age, json_u64(c, "age_ms", 0));
	printf("connection %.0f  %s  %s -> %s  netns %.0f\n", json_num(c, "cookie", 0),
	       json_str_safe(c, "family", "inet", fam, sizeof(fam)),
	       json_endpoint(c, "local_addr", "local_port", local, sizeof(local)),
	       json_endpoint(c, "remote_addr", "remote_port", remote, sizeof(remote)),
	       json_num(c, "netns", 0));
	printf("  state %s%s  role %s  age %s  first seen %s\n", json_str(c, "state", "?"),
	       cJSON_IsTrue(cJSON_GetObjectItem(c, "closed")) ? " (closed)" : "",
	       json_str(c, "role", "?"), age, json_str(c, "first_seen", "?"));
	if (json_num(c, "handshake_us", -1) >= 0)
		printf("  handshake %.0f us (%s)", json_num(c, "handshake_us", 0),
		       !strcmp(json_str(c, "handshake_source", ""), "synack_rtt")
			       ? "SYN-ACK to ACK, kernel sample"
		       : !strcmp(json_str(c, "handshake_source", ""), "request")
			       ? "first SYN-ACK to ESTABLISHED, SYN-ACKs resent"
			       : "SYN to ESTABLISHED");
	else
		printf("  handshake unknown");
	printf("  closed first: %s  end: %s\n", json_str(c, "closed_first", "-"),
	       json_str(c, "end_reason", "open"));
	if (json_str(c, "comm", NULL))
		printf("  process %s pid %.0f uid %.0f\n",
		       json_str_safe(c, "comm", "?", comm, sizeof(comm)), json_num(c, "pid", 0),
		       json_num(c, "uid", 0));
	else
		printf("  process unknown, uid %.0f\n", json_num(c, "uid", 0));
	printf("  retransmits %.0f (SYN %.0f)  resets sent %.0f received %.0f  drops %.0f\n",
	       json_num(c, "retransmits", 0), json_num(c, "syn_retransmits", 0),
	       json_num(c, "resets_sent", 0), json_num(c, "resets_received", 0),
	       json_num(c, "drops", 0));
	if (json_num(c, "accept_wait_us", -1) >= 0)
		printf("  accepted %.3f ms after ESTABLISHED (accept queue)\n",
		       json_num(c, "accept_wait_us", 0) / 1000);
	{
		const cJSON *ti = cJSON_GetObjectItem(c, "tcp_info");

		if (cJSON_IsObject(ti))
			printf("  rtt %.3f ms (var %.3f)  cwnd %.0f  bytes acked %.0f received "
			       "%.0f\n",
			       json_num(ti, "rtt_us", 0) / 1000,
			       json_num(ti, "rttvar_us", 0) / 1000, json_num(ti, "snd_cwnd", 0),
			       json_num(ti, "bytes_acked", 0), json_num(ti, "bytes_received", 0));
	}
	if (!strcmp(json_str(c, "source", ""), "snapshot"))
		printf("  (found by a sock_diag snapshot: its life before that is unknown)\n");
	if (cJSON_IsTrue(cJSON_GetObjectItem(c, "history_gap")))
		printf("  (history gap: events were lost while it lived, its history may lack "
		       "entries)\n");
	if (cJSON_IsFalse(cJSON_GetObjectItem(c, "reconciled")))
		printf("  (not reconciled: its namespace was not dumped, over max-netns or "
		       "failed)\n");
}

/* The segments a transition implies, in the order they cross the wire. */
static int packets_for(const char *from, const char *to, struct packet p[2])
{
	static const struct {
		const char *from, *to;
		struct packet p[2];
		int n;
	} map[] = {
		{"CLOSE", "SYN_SENT", {{true, "SYN"}}, 1},
		{"SYN_SENT", "ESTABLISHED", {{false, "SYN-ACK"}, {true, "ACK"}}, 2},
		{"LISTEN", "SYN_RECV", {{false, "SYN"}, {true, "SYN-ACK"}}, 2},
		{"SYN_RECV", "ESTABLISHED", {{false, "ACK"}}, 1},
		{"ESTABLISHED", "FIN_WAIT1", {{true, "FIN"}}, 1},
		{"SYN_RECV", "FIN_WAIT1", {{true, "FIN"}}, 1},
		{"FIN_WAIT1", "FIN_WAIT2", {{false, "ACK"}}, 1},
		{"FIN_WAIT2", "TIME_WAIT", {{false, "FIN"}, {true, "ACK"}}, 2},
		{"FIN_WAIT1", "TIME_WAIT", {{false, "FIN+ACK"}, {true, "ACK"}}, 2},
		{"FIN_WAIT1", "CLOSING", {{false, "FIN"}, {true, "ACK"}}, 2},
		{"CLOSING", "TIME_WAIT", {{false, "ACK"}}, 1},
		{"ESTABLISHED", "CLOSE_WAIT", {{false, "FIN"}, {true, "ACK"}}, 2},
		{"CLOSE_WAIT", "LAST_ACK", {{true, "FIN"}}, 1},
		{"LAST_ACK", "CLOSE", {{false, "ACK"}}, 1},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strcmp(map[i].from, from) && !strcmp(map[i].to, to)) {
			memcpy(p, map[i].p, sizeof(map[i].p));
			return map[i].n;
		}
	}
	return 0;
}

/* The connection as a ladder: local on the left, the peer on the right,
 * each transition and event on its line with the time since the one
 * before. */
static void print_ladder(const cJSON *c)
{
	const cJSON *h = cJSON_GetObjectItem(c, "history"), *e;
	char local[TW_ENDPOINT_STRLEN * 2], remote[TW_ENDPOINT_STRLEN * 2], delta[24],
		line[ARROW_WIDTH + 1];
	double prev = -1;

	json_endpoint(c, "local_addr", "local_port", local, sizeof(local));
	json_endpoint(c, "remote_addr", "remote_port", remote, sizeof(remote));
	printf("\n  %10s %9s  %-14s %-*s %s\n", "time (s)", "delta", local, ARROW_WIDTH, "",
	       remote);
	cJSON_ArrayForEach (e, h) {
		const char *kind = json_str(e, "kind", "?");
		double t = json_num(e, "since_first_ns", 0);
		struct packet p[2];
		int n = 0;
		char note[64] = "";
		const char *state = "";

		if (!strcmp(kind, "dropped")) {
			printf("  %10s %9s  ... %.0f entries dropped ...\n", "", "",
			       json_num(e, "count", 0));
			continue;
		}
		delta[0] = '\0';
		if (prev >= 0)
			format_delta(t - prev, delta, sizeof(delta));
		prev = t;
		if (!strcmp(kind, "state")) {
			state = json_str(e, "to", "?");
			n = packets_for(json_str(e, "from", ""), state, p);
			if (cJSON_IsTrue(cJSON_GetObjectItem(e, "derived")))
				snprintf(note, sizeof(note), "(derived)");
		} else if (!strcmp(kind, "reset_sent")) {
			p[0] = (struct packet){true, "RST"};
			n = 1;
		} else if (!strcmp(kind, "reset_received")) {
			p[0] = (struct packet){false, "RST"};
			n = 1;
		} else if (!strcmp(kind, "retransmit")) {
			bool syn = !strcmp(json_str(e, "state", ""), "SYN_SENT");

			p[0] = (struct packet){true, syn ? "SYN (retransmit)" : "retransmit"};
			n = 1;
		} else if (!strcmp(kind, "synack")) {
			p[0] = (struct packet){true, "SYN-ACK"};
			n = 1;
		} else if (!strcmp(kind, "synack_retransmit")) {
			p[0] = (struct packet){true, "SYN-ACK (retransmit)"};
			n = 1;
		} else if (!strcmp(kind, "drop")) {
			char reason[48];

			p[0] = (struct packet){false, "dropped"};
			n = 1;
			snprintf(note, sizeof(note), "(drop: %s)",
				 json_str_safe(e, "reason", "?", reason, sizeof(reason)));
		} else if (!strcmp(kind, "accept")) {
			snprintf(note, sizeof(note), "accept() after %.0f ms in the accept queue",
				 json_num(e, "wait_ms", 0));
		} else {
			snprintf(note, sizeof(note), "%s", kind);
		}
		ladder_line(t, delta, state, n ? &p[0] : NULL, note);
		for (int i = 1; i < n; i++) {
			arrow(line, sizeof(line), &p[i]);
			printf("  %10s %9s  %-14s %s\n", "", "", "", line);
		}
	}
}

void show_print(const cJSON *c)
{
	print_header(c);
	print_ladder(c);
}

int cmd_show(const struct cli_opts *o, int argc, char **argv)
{
	char path[128];
	cJSON *c;
	int r;

	if (argc != 2) {
		fprintf(stderr, "tcpwatch show: needs exactly one COOKIE (from tcpwatch list)\n");
		return 2;
	}
	if (strspn(argv[1], "0123456789") != strlen(argv[1]) || strlen(argv[1]) > 20 || !*argv[1]) {
		fprintf(stderr, "tcpwatch show: '%s' is not a cookie (a decimal number)\n",
			argv[1]);
		return 2;
	}
	snprintf(path, sizeof(path), "/api/v1/connections/%s", argv[1]);
	/* A listener has its own view, with its half-opens as ladders. */
	if (!o->json) {
		r = cli_fetch_json(o, path, "show", &c);
		if (r <= 0)
			return r < 0 ? 1 : 0;
		if (!strcmp(json_str(c, "role", ""), "listener")) {
			cJSON_Delete(c);
			return listener_show(o, argv[1]);
		}
	} else {
		snprintf(path, sizeof(path), "/api/v1/listeners/%s", argv[1]);
		if (cli_fetch_quiet_ok(o, path))
			return listener_show(o, argv[1]);
		snprintf(path, sizeof(path), "/api/v1/connections/%s", argv[1]);
		r = cli_fetch_json(o, path, "show", &c);
		return r < 0 ? 1 : 0;
	}
	show_print(c);
	cJSON_Delete(c);
	return 0;
}
