/* Unit tests for daemon/http/access.c: which Host headers the TCP API
 * answers (DNS rebinding), the bearer token comparison, and the paths
 * served without it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "access.h"

static void loopback_hosts(void **state)
{
	(void)state;
	assert_true(access_host_ok("localhost", "127.0.0.1", ""));
	assert_true(access_host_ok("LocalHost:9466", "127.0.0.1", ""));
	assert_true(access_host_ok("127.0.0.1:9466", "127.0.0.1", ""));
	assert_true(access_host_ok("127.3.4.5", "127.0.0.1", NULL));
	assert_true(access_host_ok("[::1]:9466", "127.0.0.1", ""));
	assert_true(access_host_ok("[::1]", "::1", ""));
	assert_true(access_host_ok("[::ffff:127.0.0.1]:80", "::1", ""));
}

static void foreign_hosts(void **state)
{
	(void)state;
	/* A rebinding page's Host is its own name. */
	assert_false(access_host_ok("evil.example", "127.0.0.1", ""));
	assert_false(access_host_ok("evil.example:9466", "127.0.0.1", ""));
	assert_false(access_host_ok("localhost.evil.example", "127.0.0.1", ""));
	assert_false(access_host_ok("128.0.0.1", "127.0.0.1", ""));
	assert_false(access_host_ok("[::2]:80", "127.0.0.1", ""));
	/* Malformed: no host, a port that is not one, unbracketed IPv6. */
	assert_false(access_host_ok(NULL, "127.0.0.1", ""));
	assert_false(access_host_ok("", "127.0.0.1", ""));
	assert_false(access_host_ok(":80", "127.0.0.1", ""));
	assert_false(access_host_ok("localhost:", "127.0.0.1", ""));
	assert_false(access_host_ok("localhost:80x", "127.0.0.1", ""));
	assert_false(access_host_ok("::1", "127.0.0.1", ""));
	assert_false(access_host_ok("[::1", "127.0.0.1", ""));
	assert_false(access_host_ok("[::1]x", "127.0.0.1", ""));
	assert_false(access_host_ok("[]:80", "127.0.0.1", ""));
}

static void configured_hosts(void **state)
{
	(void)state;
	assert_true(access_host_ok("mon.example:9466", "127.0.0.1", "a.example, mon.example"));
	assert_true(access_host_ok("MON.example", "127.0.0.1", "a.example,mon.example:1"));
	assert_true(access_host_ok("[fd00::1]:9466", "127.0.0.1", "[fd00::1]"));
	assert_false(access_host_ok("mon.example.org", "127.0.0.1", "mon.example"));
	assert_false(access_host_ok("example", "127.0.0.1", "mon.example"));
	/* The listen address itself. */
	assert_true(access_host_ok("198.18.0.1:9466", "198.18.0.1", ""));
	assert_true(access_host_ok("[fd00::5]:9466", "fd00::5", ""));
	assert_false(access_host_ok("198.18.0.2:9466", "198.18.0.1", ""));
}

static void loopback_addresses(void **state)
{
	(void)state;
	assert_true(access_addr_is_loopback("127.0.0.1"));
	assert_true(access_addr_is_loopback("::1"));
	assert_false(access_addr_is_loopback("0.0.0.0"));
	assert_false(access_addr_is_loopback("::"));
	assert_false(access_addr_is_loopback("198.18.0.1"));
	assert_false(access_addr_is_loopback("localhost"));
}

static void bearer(void **state)
{
	(void)state;
	assert_true(access_bearer_ok("Bearer s3cret", "s3cret"));
	assert_true(access_bearer_ok("bearer s3cret", "s3cret"));
	assert_false(access_bearer_ok("Bearer s3cre", "s3cret"));
	assert_false(access_bearer_ok("Bearer s3cret2", "s3cret"));
	assert_false(access_bearer_ok("Bearer S3cret", "s3cret"));
	assert_false(access_bearer_ok("Basic s3cret", "s3cret"));
	assert_false(access_bearer_ok("s3cret", "s3cret"));
	assert_false(access_bearer_ok(NULL, "s3cret"));
	/* No token configured: nothing matches, not even an empty one. */
	assert_false(access_bearer_ok("Bearer ", ""));
	assert_false(access_bearer_ok("Bearer x", NULL));
}

static void public_paths(void **state)
{
	(void)state;
	assert_true(access_path_public("/healthz"));
	assert_true(access_path_public("/metrics"));
	assert_false(access_path_public("/metrics/"));
	assert_false(access_path_public("/api/v1/stats"));
	assert_false(access_path_public("/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loopback_hosts),   cmocka_unit_test(foreign_hosts),
		cmocka_unit_test(configured_hosts), cmocka_unit_test(loopback_addresses),
		cmocka_unit_test(bearer),           cmocka_unit_test(public_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
