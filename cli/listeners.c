/* tcpwatch listeners (ll): listening sockets and their queues, like ss -ltn
 * with what ss cannot say: what passed through the queues and how long it
 * waited there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"
#include "client.h"
#include "fetch.h"
#include "filterargs.h"
#include "fmt.h"
#include "ladder.h"
#include "listeners.h"
#include "tcpstate.h"

/* A histogram's value in a short text: "12ms", "1.5s", "-". */
static void us_text(const cJSON *h, const char *key, char *out, size_t len)
{
	double us = json_num(h, key, -1);

	if (us < 0)
		snprintf(out, len, "-");
	else if (us < 1000)
		snprintf(out, len, "%.0fus", us);
	else if (us < 1e6)
		snprintf(out, len, "%.1fms", us / 1000);
	else
		snprintf(out, len, "%.2fs", us / 1e6);
}

static void print_row(const cJSON *l, bool process)
{
	char ep[TW_ENDPOINT_STRLEN * 2], p50[16], p99[16], comm[64];
	const cJSON *aw = cJSON_GetObjectItem(l, "accept_wait_us");
	/* The kernel's drops at the socket (sampled) count the overflows
	 * (events, live) among the rest: the larger is the newer. */
	double ovfl = json_num(l, "listen_drops", 0) > json_num(l, "overflows", 0)
			      ? json_num(l, "listen_drops", 0)
			      : json_num(l, "overflows", 0);

	json_endpoint(l, "local_addr", "local_port", ep, sizeof(ep));
	us_text(aw, "p50", p50, sizeof(p50));
	us_text(aw, "p99", p99, sizeof(p99));
	printf("%-7s %6.0f %6.0f %-27s %5.0f %5.0f %7.0f %6.0f/%-5.0f %6.0f %7.0f %7s %7s %12.0f",
	       cJSON_IsTrue(cJSON_GetObjectItem(l, "closed")) ? "CLOSED" : "LISTEN",
	       json_num(l, "accept_queue", 0), json_num(l, "accept_queue_limit", 0), ep,
	       json_num(l, "accept_queue_max_seen", 0), json_num(l, "syn_queue", 0),
	       json_num(l, "synack_retransmits", 0), json_num(l, "half_open_completed", 0),
	       json_num(l, "half_open_expired", 0), ovfl, json_num(l, "drops_total", 0), p50, p99,
	       json_num(l, "cookie", 0));
	if (process && json_str(l, "comm", NULL))
		printf(" users:((\"%s\",pid=%.0f))",
		       json_str_safe(l, "comm", "?", comm, sizeof(comm)), json_num(l, "pid", 0));
	putchar('\n');
}

void listeners_print(const cJSON *v, bool process, bool no_header)
{
	const cJSON *l;

	if (!no_header)
		printf("%-7s %6s %6s %-27s %5s %5s %7s %12s %6s %7s %7s %7s %12s%s\n", "State",
		       "Recv-Q", "Send-Q", "Local Address:Port", "MaxQ", "SynQ", "SAKrtx",
		       "HalfOpen ok/exp", "Ovfl", "Drops", "AccW50", "AccW99", "Cookie",
		       process ? " Process" : "");
	cJSON_ArrayForEach (l, v)
		print_row(l, process);
}

int cmd_listeners(const struct cli_opts *o, int argc, char **argv)
{
	struct filter_args fa = {0};
	char path[4096] = "/api/v1/listeners", query[3800] = "";
	bool all = false, process = false, no_header = false;
	cJSON *v;
	int r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		r = filter_args_take(&fa, argc, argv, &i, "listeners");
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		if (!strcmp(a, "-a") || !strcmp(a, "--all"))
			all = true;
		else if (!strcmp(a, "-p") || !strcmp(a, "--processes"))
			process = true;
		else if (!strcmp(a, "-H") || !strcmp(a, "--no-header"))
			no_header = true;
		else if (!strcmp(a, "-l") || !strcmp(a, "-t") || !strcmp(a, "-n"))
			continue; /* ss muscle memory: listeners, TCP, numeric already */
		else {
			fprintf(stderr, "tcpwatch listeners: unknown option %s\n", a);
			return 2;
		}
	}
	if (filter_args_check(&fa, "listeners") < 0)
		return 2;
	query_add(query, sizeof(query), "state", all ? "LISTEN,CLOSE" : "LISTEN");
	if (*fa.expr)
		query_add(query, sizeof(query), "filter", fa.expr);
	strncat(path, query, sizeof(path) - strlen(path) - 1);
	r = cli_fetch_json(o, path, "listeners", &v);
	if (r <= 0)
		return r < 0 ? 1 : 0;
	listeners_print(v, process, no_header);
	cJSON_Delete(v);
	return 0;
}

static void print_counters(const cJSON *l)
{
	const cJSON *ns = cJSON_GetObjectItem(l, "netstat"), *item;
	char p50[16], p99[16], max[16], comm[64], ep[TW_ENDPOINT_STRLEN * 2];
	const cJSON *aw = cJSON_GetObjectItem(l, "accept_wait_us"),
		    *ho = cJSON_GetObjectItem(l, "half_open_lifetime_us");

	json_endpoint(l, "local_addr", "local_port", ep, sizeof(ep));
	printf("listener %.0f  %s  %s  netns %.0f%s\n", json_num(l, "cookie", 0),
	       json_str(l, "family", "?"), ep, json_num(l, "netns", 0),
	       cJSON_IsTrue(cJSON_GetObjectItem(l, "closed")) ? "  (closed)" : "");
	if (json_str(l, "comm", NULL))
		printf("  process %s pid %.0f\n", json_str_safe(l, "comm", "?", comm, sizeof(comm)),
		       json_num(l, "pid", 0));
	printf("  accept queue %.0f of %.0f (max seen %.0f)  syn queue %.0f (max seen %.0f)\n",
	       json_num(l, "accept_queue", 0), json_num(l, "accept_queue_limit", 0),
	       json_num(l, "accept_queue_max_seen", 0), json_num(l, "syn_queue", 0),
	       json_num(l, "syn_queue_max_seen", 0));
	printf("  children %.0f accepted %.0f  half-opens completed %.0f expired %.0f reset %.0f"
	       "  SYN-ACKs resent %.0f\n",
	       json_num(l, "children", 0), json_num(l, "accepted", 0),
	       json_num(l, "half_open_completed", 0), json_num(l, "half_open_expired", 0),
	       json_num(l, "half_open_reset", 0), json_num(l, "synack_retransmits", 0));
	us_text(aw, "p50", p50, sizeof(p50));
	us_text(aw, "p99", p99, sizeof(p99));
	us_text(aw, "max", max, sizeof(max));
	printf("  accept wait p50 %s p99 %s max %s (%.0f)", p50, p99, max,
	       json_num(aw, "count", 0));
	us_text(ho, "p50", p50, sizeof(p50));
	us_text(ho, "p99", p99, sizeof(p99));
	us_text(ho, "max", max, sizeof(max));
	printf("  half-open life p50 %s p99 %s max %s (%.0f)\n", p50, p99, max,
	       json_num(ho, "count", 0));
	printf("  overflows %.0f  listen drops %.0f  drops %.0f%s", json_num(l, "overflows", 0),
	       json_num(l, "listen_drops", 0), json_num(l, "drops_total", 0),
	       cJSON_GetArraySize(cJSON_GetObjectItem(l, "drops")) ? ":" : "");
	cJSON_ArrayForEach (item, cJSON_GetObjectItem(l, "drops"))
		if (item->string && cJSON_IsNumber(item))
			printf(" %s %.0f", item->string, item->valuedouble);
	putchar('\n');
	if (cJSON_IsObject(ns)) {
		printf("  namespace:");
		cJSON_ArrayForEach (item, ns)
			if (item->string && json_num(item, "total", 0) > 0)
				printf(" %s %.0f", item->string, json_num(item, "total", 0));
		putchar('\n');
	}
}

/* One half-open connection as a ladder: the SYN, the SYN-ACK and each
 * retransmit, then the ACK, the expiry or the reset. */
static void print_halfopen(const cJSON *h, const char *local)
{
	const cJSON *rt = cJSON_GetObjectItem(h, "retransmit_after_first_us"), *x;
	const char *state = json_str(h, "state", "?");
	char remote[TW_ENDPOINT_STRLEN * 2], delta[24], note[96];
	double prev = 0, life = json_num(h, "lifetime_us", -1);
	struct packet syn = {false, "SYN"}, synack = {true, "SYN-ACK"},
		      resent = {true, "SYN-ACK (retransmit)"}, ack = {false, "ACK"};

	json_endpoint(h, "remote_addr", "remote_port", remote, sizeof(remote));
	printf("\n  half-open from %s: %s, %.0f SYN-ACKs resent%s\n", remote, state,
	       json_num(h, "synack_retransmits", 0),
	       cJSON_IsTrue(cJSON_GetObjectItem(h, "first_synack_derived"))
		       ? " (first SYN-ACK time unknown: found by sock_diag)"
		       : "");
	printf("  %10s %9s  %-14s %-*s %s\n", "time (s)", "delta", local, ARROW_WIDTH, "", remote);
	ladder_line(0, "", "SYN_RECV", &syn, "");
	ladder_line(0, "", "", &synack, "");
	cJSON_ArrayForEach (x, rt) {
		double t = x->valuedouble * 1000;

		format_delta(t - prev, delta, sizeof(delta));
		ladder_line(t, delta, "", &resent, "");
		prev = t;
	}
	if (life < 0)
		return;
	format_delta(life * 1000 - prev, delta, sizeof(delta));
	if (!strcmp(state, "completed")) {
		snprintf(note, sizeof(note), "connection %.0f", json_num(h, "child_cookie", 0));
		ladder_line(life * 1000, delta, "ESTABLISHED", &ack, note);
	} else if (!strcmp(state, "expired")) {
		ladder_line(life * 1000, delta, "(expired)", NULL,
			    "the kernel gave up: no ACK after its last SYN-ACK");
	} else {
		ladder_line(life * 1000, delta, "(gone)", NULL,
			    "reset or dropped before its timer");
	}
}

void listener_print(const cJSON *l)
{
	char local[TW_ENDPOINT_STRLEN * 2];
	const cJSON *h, *d;
	int n = 0;

	print_counters(l);
	d = cJSON_GetObjectItem(l, "depth_history");
	if (cJSON_GetArraySize(d)) {
		printf("  queue samples (newest last):");
		cJSON_ArrayForEach (h, d)
			if (cJSON_GetArraySize(d) - n++ <= 12)
				printf(" %.0f/%.0f", json_num(h, "accept_queue", 0),
				       json_num(h, "syn_queue", 0));
		printf("  (accept/syn)\n");
	}
	json_endpoint(l, "local_addr", "local_port", local, sizeof(local));
	cJSON_ArrayForEach (h, cJSON_GetObjectItem(l, "half_opens"))
		print_halfopen(h, local);
}

int listener_show(const struct cli_opts *o, const char *cookie)
{
	char path[128];
	cJSON *l;
	int r;

	snprintf(path, sizeof(path), "/api/v1/listeners/%s", cookie);
	r = cli_fetch_json(o, path, "show", &l);
	if (r <= 0)
		return r < 0 ? 1 : 0;
	listener_print(l);
	cJSON_Delete(l);
	return 0;
}
