/* Unit tests for daemon/findings.c: which observations are reported for a
 * table, how they are grouped, their thresholds and bounds, read back from
 * the JSON it writes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "findings.h"
#include "json.h"
#include "lifecycle.h"

#define NETNS 4026531840u
#define SEC   1000000000ull
#define NOW   (10000 * SEC)

static const struct tw_conntable_limits limits = {
	.max_live = 100000,
	.retain_count = 100000,
	.retain_age_ns = 3600 * SEC,
	.history_max = 16,
};

static const struct tw_findings_config cfg = {
	.close_wait_threshold_ms = 60000,
	.time_wait_pileup = 3,
	.fin_wait2_pileup = 2,
	.connect_failures = 3,
	.peer_resets = 2,
};

struct fixture {
	struct tw_conntable *t;
	cJSON *json;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->t = conntable_new(&limits);
	if (!f->t) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cJSON_Delete(f->json);
	conntable_free(f->t);
	free(f);
	return 0;
}

/* A live IPv4 connection 10.0.0.1:(30000 + cookie % 30000) -> remote:port,
 * in state since last_change_ns. */
static struct tw_conn *conn(struct fixture *f, uint64_t cookie, uint8_t state, const char *remote,
			    uint16_t port, uint64_t last_change_ns)
{
	bool created = false;
	struct tw_conn *c = conntable_get_or_add(f->t, cookie, &created);
	int family = strchr(remote, ':') ? AF_INET6 : AF_INET;

	assert_non_null(c);
	assert_true(created);
	c->state = state;
	c->family = (uint8_t)family;
	c->netns = NETNS;
	assert_int_equal(
		inet_pton(family, family == AF_INET ? "10.0.0.1" : "fd00::1", c->local_addr), 1);
	assert_int_equal(inet_pton(family, remote, c->remote_addr), 1);
	c->local_port = (uint16_t)(30000 + cookie % 30000);
	c->remote_port = port;
	c->first_seen_ns = last_change_ns;
	c->last_change_ns = last_change_ns;
	return c;
}

static void own(struct tw_conn *c, uint32_t pid, const char *comm)
{
	c->pid = pid;
	snprintf(c->comm, sizeof(c->comm), "%s", comm);
	c->flags |= TW_CONN_HAS_TASK;
}

/* A connection that ended with reason, retired from the table. */
static struct tw_conn *ended(struct fixture *f, uint64_t cookie, uint8_t reason, const char *remote,
			     uint16_t port)
{
	struct tw_conn *c = conn(f, cookie, TW_TCP_CLOSE, remote, port, NOW - 10 * SEC);

	c->role = TW_ROLE_ACTIVE;
	c->end_reason = reason;
	conntable_retire(f->t, c, NOW - 10 * SEC);
	assert_true(c->flags & TW_CONN_CLOSED);
	return c;
}

/* Collects the findings at now_ns, encodes them as the API does, and
 * returns the "findings" array. */
static cJSON *findings(struct fixture *f, uint64_t now_ns)
{
	struct tw_findings found;
	struct tw_buf b;
	cJSON *arr;

	assert_int_equal(findings_collect(f->t, &cfg, now_ns, &found), 0);
	buf_init(&b);
	json_findings(&b, &found, &cfg);
	findings_free(&found);
	assert_false(b.oom);
	assert_non_null(b.data);
	cJSON_Delete(f->json);
	f->json = cJSON_ParseWithLength(b.data, b.len);
	if (!f->json)
		fail_msg("not JSON: %s", b.data);
	buf_free(&b);
	arr = cJSON_GetObjectItemCaseSensitive(f->json, "findings");
	assert_true(cJSON_IsArray(arr));
	return arr;
}

static int count_kind(const cJSON *arr, const char *kind)
{
	const cJSON *it;
	int n = 0;

	cJSON_ArrayForEach (it, arr) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "kind");

		assert_true(cJSON_IsString(k));
		if (!strcmp(k->valuestring, kind))
			n++;
	}
	return n;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("field %s missing or not a number", key);
	return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v))
		fail_msg("field %s missing or not a string", key);
	return v->valuestring;
}

/* The finding of this kind for a remote endpoint; NULL if none. */
static const cJSON *by_endpoint(const cJSON *arr, const char *kind, const char *addr, uint16_t port)
{
	const cJSON *it, *found = NULL;

	cJSON_ArrayForEach (it, arr) {
		if (strcmp(str(it, "kind"), kind))
			continue;
		if (strcmp(str(it, "remote_addr"), addr) || num(it, "remote_port") != port)
			continue;
		assert_null(found); /* one finding per endpoint */
		found = it;
	}
	return found;
}

/* The close_wait_stuck finding naming pid (0: the one without processes). */
static const cJSON *by_pid(const cJSON *arr, uint32_t pid)
{
	const cJSON *it, *found = NULL;

	cJSON_ArrayForEach (it, arr) {
		const cJSON *procs;

		if (strcmp(str(it, "kind"), "close_wait_stuck"))
			continue;
		procs = cJSON_GetObjectItemCaseSensitive(it, "processes");
		assert_true(cJSON_IsArray(procs));
		if (pid == 0 ? cJSON_GetArraySize(procs) != 0
			     : (cJSON_GetArraySize(procs) < 1 ||
				num(cJSON_GetArrayItem(procs, 0), "pid") != pid))
			continue;
		assert_null(found); /* one finding per process */
		found = it;
	}
	return found;
}

/* The "connections" of a finding are exactly these cookies, in any order. */
static void assert_cookies(const cJSON *finding, const uint64_t *want, int n)
{
	const cJSON *conns = cJSON_GetObjectItemCaseSensitive(finding, "connections");
	const cJSON *it;

	assert_true(cJSON_IsArray(conns));
	assert_int_equal(cJSON_GetArraySize(conns), n);
	cJSON_ArrayForEach (it, conns) {
		bool hit = false;

		assert_true(cJSON_IsNumber(it));
		for (int i = 0; i < n; i++)
			hit = hit || (uint64_t)it->valuedouble == want[i];
		if (!hit)
			fail_msg("unexpected cookie %.0f", it->valuedouble);
	}
}

static void assert_common(const cJSON *finding)
{
	assert_string_equal(str(finding, "severity"), "warning");
	assert_true(strlen(str(finding, "summary")) > 0);
	assert_true(strlen(str(finding, "explanation")) > 0);
	assert_int_equal(num(finding, "netns"), NETNS);
}

/* --- empty and thresholds --- */

static void test_empty_table(void **state)
{
	struct fixture *f = *state;
	cJSON *arr = findings(f, NOW);
	const cJSON *th, *trunc;

	assert_int_equal(cJSON_GetArraySize(arr), 0);
	trunc = cJSON_GetObjectItemCaseSensitive(f->json, "truncated");
	assert_true(cJSON_IsFalse(trunc));
	th = cJSON_GetObjectItemCaseSensitive(f->json, "thresholds");
	assert_true(cJSON_IsObject(th));
	assert_int_equal(num(th, "close_wait_ms"), 60000);
	assert_int_equal(num(th, "time_wait_pileup"), 3);
	assert_int_equal(num(th, "fin_wait2_pileup"), 2);
	assert_int_equal(num(th, "connect_failures"), 3);
	assert_int_equal(num(th, "peer_resets"), 2);
}

static void test_nothing_to_report(void **state)
{
	struct fixture *f = *state;
	cJSON *arr;

	/* healthy or below every threshold */
	own(conn(f, 1, TW_TCP_ESTABLISHED, "10.0.0.2", 80, NOW - 3600 * SEC), 100, "app");
	own(conn(f, 2, TW_TCP_CLOSE_WAIT, "10.0.0.2", 80, NOW - 59 * SEC), 100, "app");
	conn(f, 3, TW_TCP_TIME_WAIT, "10.0.0.2", 80, NOW - 5 * SEC);
	conn(f, 4, TW_TCP_TIME_WAIT, "10.0.0.2", 80, NOW - 5 * SEC);
	conn(f, 5, TW_TCP_FIN_WAIT2, "10.0.0.2", 80, NOW - 5 * SEC);
	conn(f, 6, TW_TCP_LISTEN, "0.0.0.0", 0, NOW - 3600 * SEC);
	ended(f, 7, TW_END_REFUSED, "10.0.0.3", 5432);
	ended(f, 8, TW_END_CONNECT_TIMEOUT, "10.0.0.3", 5432);
	ended(f, 9, TW_END_RESET_RECEIVED, "10.0.0.4", 443);
	ended(f, 10, TW_END_CLOSED_BY_PEER, "10.0.0.4", 443);
	arr = findings(f, NOW);
	if (cJSON_GetArraySize(arr) != 0) {
		char *s = cJSON_PrintUnformatted(f->json);

		print_error("%s\n", s);
		free(s);
		fail_msg("expected no findings");
	}
}

/* --- CLOSE_WAIT --- */

static void test_close_wait_stuck(void **state)
{
	struct fixture *f = *state;
	const uint64_t app[] = {11, 12, 13};
	const uint64_t other[] = {21};
	const cJSON *arr, *fa, *fo, *procs;

	/* pid 100: three stuck (one to another peer), one too recent */
	own(conn(f, 11, TW_TCP_CLOSE_WAIT, "10.0.0.2", 80, NOW - 120 * SEC), 100, "app");
	own(conn(f, 12, TW_TCP_CLOSE_WAIT, "10.0.0.2", 80, NOW - 61 * SEC), 100, "app");
	own(conn(f, 13, TW_TCP_CLOSE_WAIT, "10.0.0.9", 9000, NOW - 300 * SEC), 100, "app");
	own(conn(f, 14, TW_TCP_CLOSE_WAIT, "10.0.0.2", 80, NOW - 59 * SEC), 100, "app");
	/* pid 200: one stuck */
	own(conn(f, 21, TW_TCP_CLOSE_WAIT, "10.0.0.2", 80, NOW - 90 * SEC), 200, "worker");
	/* old, but not in CLOSE_WAIT */
	own(conn(f, 31, TW_TCP_ESTABLISHED, "10.0.0.2", 80, NOW - 900 * SEC), 300, "idle");
	own(conn(f, 32, TW_TCP_LAST_ACK, "10.0.0.2", 80, NOW - 900 * SEC), 300, "idle");

	arr = findings(f, NOW);
	assert_int_equal(count_kind(arr, "close_wait_stuck"), 2);
	assert_int_equal(cJSON_GetArraySize(arr), 2);

	fa = by_pid(arr, 100);
	assert_non_null(fa);
	assert_common(fa);
	assert_int_equal(num(fa, "count"), 3);
	assert_int_equal(num(fa, "oldest_ms"), 300000);
	/* Grouped per process, whatever the family: no family field. */
	assert_null(cJSON_GetObjectItemCaseSensitive(fa, "family"));
	assert_cookies(fa, app, 3);
	procs = cJSON_GetObjectItemCaseSensitive(fa, "processes");
	assert_int_equal(cJSON_GetArraySize(procs), 1);
	assert_int_equal(num(cJSON_GetArrayItem(procs, 0), "pid"), 100);
	assert_string_equal(str(cJSON_GetArrayItem(procs, 0), "comm"), "app");
	/* grouped by process, so no single remote endpoint */
	assert_null(cJSON_GetObjectItemCaseSensitive(fa, "remote_addr"));
	assert_non_null(strstr(str(fa, "summary"), "app"));

	fo = by_pid(arr, 200);
	assert_non_null(fo);
	assert_int_equal(num(fo, "count"), 1);
	assert_int_equal(num(fo, "oldest_ms"), 90000);
	assert_cookies(fo, other, 1);
	procs = cJSON_GetObjectItemCaseSensitive(fo, "processes");
	assert_string_equal(str(cJSON_GetArrayItem(procs, 0), "comm"), "worker");

	/* most connections first */
	assert_ptr_equal(cJSON_GetArrayItem(arr, 0), fa);

	/* a minute earlier only the 300 s and 120 s ones were old enough */
	arr = findings(f, NOW - 60 * SEC);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	fa = by_pid(arr, 100);
	assert_non_null(fa);
	assert_int_equal(num(fa, "count"), 2);
}

static void test_close_wait_unknown_owner_and_closed(void **state)
{
	struct fixture *f = *state;
	const uint64_t unknown[] = {41, 42};
	const cJSON *arr, *fu;
	struct tw_conn *c;

	conn(f, 41, TW_TCP_CLOSE_WAIT, "10.0.0.2", 80, NOW - 100 * SEC);
	conn(f, 42, TW_TCP_CLOSE_WAIT, "10.0.0.3", 80, NOW - 100 * SEC);
	/* retired connections are history: never stuck */
	c = conn(f, 43, TW_TCP_CLOSE_WAIT, "10.0.0.2", 80, NOW - 100 * SEC);
	own(c, 500, "gone");
	conntable_retire(f->t, c, NOW - 50 * SEC);

	arr = findings(f, NOW);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	fu = by_pid(arr, 0);
	assert_non_null(fu);
	assert_int_equal(num(fu, "count"), 2);
	assert_cookies(fu, unknown, 2);
	assert_null(by_pid(arr, 500));
}

/* --- pile-ups --- */

static void test_time_wait_pileup(void **state)
{
	struct fixture *f = *state;
	const uint64_t want[] = {51, 52, 53};
	const cJSON *arr, *tw;

	/* 3 to 10.0.0.2:80: at the threshold */
	conn(f, 51, TW_TCP_TIME_WAIT, "10.0.0.2", 80, NOW - 10 * SEC);
	conn(f, 52, TW_TCP_TIME_WAIT, "10.0.0.2", 80, NOW - 30 * SEC);
	conn(f, 53, TW_TCP_TIME_WAIT, "10.0.0.2", 80, NOW - 20 * SEC);
	/* 2 to 10.0.0.3:80 and 2 to 10.0.0.2:81: below it */
	conn(f, 54, TW_TCP_TIME_WAIT, "10.0.0.3", 80, NOW - 10 * SEC);
	conn(f, 55, TW_TCP_TIME_WAIT, "10.0.0.3", 80, NOW - 10 * SEC);
	conn(f, 56, TW_TCP_TIME_WAIT, "10.0.0.2", 81, NOW - 10 * SEC);
	conn(f, 57, TW_TCP_TIME_WAIT, "10.0.0.2", 81, NOW - 10 * SEC);
	/* same endpoint, other state */
	conn(f, 58, TW_TCP_ESTABLISHED, "10.0.0.2", 80, NOW - 10 * SEC);

	arr = findings(f, NOW);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	assert_int_equal(count_kind(arr, "time_wait_pileup"), 1);
	tw = by_endpoint(arr, "time_wait_pileup", "10.0.0.2", 80);
	assert_non_null(tw);
	assert_common(tw);
	assert_string_equal(str(tw, "family"), "inet");
	assert_int_equal(num(tw, "count"), 3);
	assert_int_equal(num(tw, "oldest_ms"), 30000);
	assert_cookies(tw, want, 3);
	assert_non_null(strstr(str(tw, "summary"), "10.0.0.2:80"));
	assert_null(by_endpoint(arr, "time_wait_pileup", "10.0.0.3", 80));
	assert_null(by_endpoint(arr, "time_wait_pileup", "10.0.0.2", 81));

	/* one more to 10.0.0.3:80 reaches the threshold there too */
	conn(f, 59, TW_TCP_TIME_WAIT, "10.0.0.3", 80, NOW - 10 * SEC);
	arr = findings(f, NOW);
	assert_int_equal(count_kind(arr, "time_wait_pileup"), 2);
	assert_non_null(by_endpoint(arr, "time_wait_pileup", "10.0.0.3", 80));
}

static void test_fin_wait2_pileup(void **state)
{
	struct fixture *f = *state;
	const uint64_t want[] = {61, 62};
	const cJSON *arr, *fw;

	conn(f, 61, TW_TCP_FIN_WAIT2, "10.0.0.5", 443, NOW - 10 * SEC);
	conn(f, 62, TW_TCP_FIN_WAIT2, "10.0.0.5", 443, NOW - 40 * SEC);
	conn(f, 63, TW_TCP_FIN_WAIT2, "10.0.0.6", 443, NOW - 40 * SEC);
	/* FIN_WAIT1 and TIME_WAIT to the same endpoint do not count */
	conn(f, 64, TW_TCP_FIN_WAIT1, "10.0.0.6", 443, NOW - 40 * SEC);
	conn(f, 65, TW_TCP_TIME_WAIT, "10.0.0.6", 443, NOW - 40 * SEC);

	arr = findings(f, NOW);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	fw = by_endpoint(arr, "fin_wait2_pileup", "10.0.0.5", 443);
	assert_non_null(fw);
	assert_common(fw);
	assert_int_equal(num(fw, "count"), 2);
	assert_int_equal(num(fw, "oldest_ms"), 40000);
	assert_cookies(fw, want, 2);
	assert_null(by_endpoint(arr, "fin_wait2_pileup", "10.0.0.6", 443));
}

static void test_pileup_ipv6_endpoint(void **state)
{
	struct fixture *f = *state;
	const cJSON *arr, *tw;

	for (uint64_t i = 0; i < 3; i++)
		conn(f, 70 + i, TW_TCP_TIME_WAIT, "fd00::2", 8443, NOW - SEC);
	arr = findings(f, NOW);
	tw = by_endpoint(arr, "time_wait_pileup", "fd00::2", 8443);
	assert_non_null(tw);
	assert_string_equal(str(tw, "family"), "inet6");
	assert_int_equal(num(tw, "count"), 3);
	assert_non_null(strstr(str(tw, "summary"), "[fd00::2]:8443"));
}

/* --- failures and resets --- */

static void test_connect_failures(void **state)
{
	struct fixture *f = *state;
	const uint64_t want[] = {81, 82, 83};
	const cJSON *arr, *cf;

	/* refused and timed out both count, per destination */
	ended(f, 81, TW_END_REFUSED, "10.0.0.7", 5432);
	ended(f, 82, TW_END_REFUSED, "10.0.0.7", 5432);
	ended(f, 83, TW_END_CONNECT_TIMEOUT, "10.0.0.7", 5432);
	/* 2 refused elsewhere: below */
	ended(f, 84, TW_END_REFUSED, "10.0.0.8", 5432);
	ended(f, 85, TW_END_CONNECT_TIMEOUT, "10.0.0.8", 5432);
	/* other ends are no connect failures */
	ended(f, 86, TW_END_REFUSED, "10.0.0.9", 1);
	ended(f, 87, TW_END_REFUSED, "10.0.0.9", 1);
	ended(f, 88, TW_END_CONNECT_ABORTED, "10.0.0.9", 1);
	ended(f, 89, TW_END_TIMEOUT, "10.0.0.9", 1);

	arr = findings(f, NOW);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	cf = by_endpoint(arr, "connect_failures", "10.0.0.7", 5432);
	assert_non_null(cf);
	assert_common(cf);
	assert_int_equal(num(cf, "count"), 3);
	assert_cookies(cf, want, 3);
	assert_null(by_endpoint(arr, "connect_failures", "10.0.0.8", 5432));
	assert_null(by_endpoint(arr, "connect_failures", "10.0.0.9", 1));
}

static void test_peer_resets(void **state)
{
	struct fixture *f = *state;
	const uint64_t want[] = {91, 92, 93};
	const cJSON *arr, *pr;
	struct tw_conn *c;

	/* two ended by the peer's RST, one live that has received one */
	ended(f, 91, TW_END_RESET_RECEIVED, "10.0.0.10", 443);
	ended(f, 92, TW_END_RESET_RECEIVED, "10.0.0.10", 443);
	c = conn(f, 93, TW_TCP_ESTABLISHED, "10.0.0.10", 443, NOW - SEC);
	c->resets_received = 1;
	/* one to another peer: below */
	ended(f, 94, TW_END_RESET_RECEIVED, "10.0.0.11", 443);
	/* resets we sent are not the peer's */
	ended(f, 95, TW_END_RESET_SENT, "10.0.0.11", 443);

	arr = findings(f, NOW);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	pr = by_endpoint(arr, "peer_resets", "10.0.0.10", 443);
	assert_non_null(pr);
	assert_common(pr);
	assert_int_equal(num(pr, "count"), 3);
	assert_cookies(pr, want, 3);
	assert_null(by_endpoint(arr, "peer_resets", "10.0.0.11", 443));
}

/* --- bounds --- */

static void test_cookie_list_bounded(void **state)
{
	struct fixture *f = *state;
	const int n = TW_FINDING_MAX_COOKIES + 15;
	const cJSON *arr, *tw, *conns, *it;

	for (int i = 0; i < n; i++)
		conn(f, 1000 + (uint64_t)i, TW_TCP_TIME_WAIT, "10.0.0.12", 80, NOW - SEC);
	arr = findings(f, NOW);
	tw = by_endpoint(arr, "time_wait_pileup", "10.0.0.12", 80);
	assert_non_null(tw);
	assert_int_equal(num(tw, "count"), n);
	conns = cJSON_GetObjectItemCaseSensitive(tw, "connections");
	assert_int_equal(cJSON_GetArraySize(conns), TW_FINDING_MAX_COOKIES);
	cJSON_ArrayForEach (it, conns) {
		assert_true(it->valuedouble >= 1000 && it->valuedouble < 1000 + n);
	}
}

static void test_process_list_bounded(void **state)
{
	struct fixture *f = *state;
	const cJSON *arr, *tw, *procs, *it;

	/* 12 owners, each twice: every pid listed once, at most 8 */
	for (int i = 0; i < 24; i++) {
		struct tw_conn *c =
			conn(f, 2000 + (uint64_t)i, TW_TCP_TIME_WAIT, "10.0.0.13", 80, NOW - SEC);
		char comm[16];

		snprintf(comm, sizeof(comm), "proc%d", i % 12);
		own(c, 7000 + (uint32_t)(i % 12), comm);
	}
	arr = findings(f, NOW);
	tw = by_endpoint(arr, "time_wait_pileup", "10.0.0.13", 80);
	assert_non_null(tw);
	assert_int_equal(num(tw, "count"), 24);
	procs = cJSON_GetObjectItemCaseSensitive(tw, "processes");
	assert_int_equal(cJSON_GetArraySize(procs), TW_FINDING_MAX_PROCS);
	cJSON_ArrayForEach (it, procs) {
		char comm[16];
		int pid = (int)num(it, "pid");
		int dup = 0;
		const cJSON *other;

		assert_true(pid >= 7000 && pid < 7012);
		snprintf(comm, sizeof(comm), "proc%d", pid - 7000);
		assert_string_equal(str(it, "comm"), comm);
		cJSON_ArrayForEach (other, procs) {
			if ((int)num(other, "pid") == pid)
				dup++;
		}
		assert_int_equal(dup, 1);
	}
}

static void test_all_kinds_together(void **state)
{
	struct fixture *f = *state;
	const cJSON *arr;

	own(conn(f, 3001, TW_TCP_CLOSE_WAIT, "10.0.1.1", 80, NOW - 100 * SEC), 10, "a");
	for (uint64_t i = 0; i < 3; i++)
		conn(f, 3010 + i, TW_TCP_TIME_WAIT, "10.0.1.2", 80, NOW - SEC);
	for (uint64_t i = 0; i < 2; i++)
		conn(f, 3020 + i, TW_TCP_FIN_WAIT2, "10.0.1.3", 80, NOW - SEC);
	for (uint64_t i = 0; i < 3; i++)
		ended(f, 3030 + i, TW_END_REFUSED, "10.0.1.4", 80);
	for (uint64_t i = 0; i < 2; i++)
		ended(f, 3040 + i, TW_END_RESET_RECEIVED, "10.0.1.5", 80);

	arr = findings(f, NOW);
	assert_int_equal(cJSON_GetArraySize(arr), 5);
	assert_int_equal(count_kind(arr, "close_wait_stuck"), 1);
	assert_int_equal(count_kind(arr, "time_wait_pileup"), 1);
	assert_int_equal(count_kind(arr, "fin_wait2_pileup"), 1);
	assert_int_equal(count_kind(arr, "connect_failures"), 1);
	assert_int_equal(count_kind(arr, "peer_resets"), 1);
	assert_non_null(by_endpoint(arr, "time_wait_pileup", "10.0.1.2", 80));
	assert_non_null(by_endpoint(arr, "fin_wait2_pileup", "10.0.1.3", 80));
	assert_non_null(by_endpoint(arr, "connect_failures", "10.0.1.4", 80));
	assert_non_null(by_endpoint(arr, "peer_resets", "10.0.1.5", 80));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(f->json, "truncated")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_to_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_wait_stuck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_wait_unknown_owner_and_closed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_time_wait_pileup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fin_wait2_pileup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pileup_ipv6_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_list_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_list_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_kinds_together, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
