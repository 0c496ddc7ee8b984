/* Unit tests for daemon/config.c: keys, bounds, the INI file and flags. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))
#define LIT(s)  s, sizeof(s) - 1 /* a literal and its length, NUL bytes included */

/* Writes len bytes to a new temporary file; its path goes into path. */
static void write_temp_bytes(char path[64], const char *data, size_t len)
{
	FILE *f;
	int fd;

	snprintf(path, 64, "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_temp(char path[64], const char *text)
{
	write_temp_bytes(path, text, strlen(text));
}

/* Loads text: config_load_file's result, the error in err. */
static int load_text(struct tw_config *c, const char *text, size_t len, char *err, size_t err_len)
{
	char path[64];
	int r;

	write_temp_bytes(path, text, len);
	err[0] = '\0';
	r = config_load_file(c, path, err, err_len);
	/* The message starts with the file's name: drop it, keep ":LINE: ..." */
	if (r < 0 && !strncmp(err, path, strlen(path)))
		memmove(err, err + strlen(path), strlen(err + strlen(path)) + 1);
	unlink(path);
	return r;
}

/* Refused, with the error at that line, mentioning what. */
static void load_bad(const char *text, size_t len, int lineno, const char *what)
{
	char err[512], want[32];
	struct tw_config c;

	config_defaults(&c);
	if (load_text(&c, text, len, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted: '%.60s'", text);
	snprintf(want, sizeof(want), ":%d: ", lineno);
	if (strncmp(err, want, strlen(want)) || !strstr(err, what))
		fail_msg("error '%s', wanted line %d and '%s'", err, lineno, what);
}

static void set_ok(struct tw_config *c, const char *key, const char *value)
{
	char err[256] = "";

	if (config_set(c, key, value, err, sizeof(err)) != 0)
		fail_msg("%s = %s rejected: %s", key, value, err);
}

/* Refused, with a message naming the key, and nothing changed. */
static void set_bad(const char *key, const char *value)
{
	struct tw_config c, before;
	char err[256] = "";

	config_defaults(&c);
	before = c;
	if (config_set(&c, key, value, err, sizeof(err)) != -EINVAL)
		fail_msg("%s = '%s' accepted", key, value);
	if (!strstr(err, key))
		fail_msg("error for %s = '%s' does not name it: '%s'", key, value, err);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_defaults(void **state)
{
	struct tw_config c;

	(void)state;
	config_defaults(&c);
	assert_string_equal(c.socket_path, TW_DEFAULT_SOCKET);
	assert_string_equal(c.listen, TW_DEFAULT_LISTEN);
	assert_false(c.foreground);
	assert_false(c.debug);
	assert_int_equal(c.reconcile_interval_ms, 5000);
	assert_int_equal(c.retain_count, 10000);
	assert_int_equal(c.retain_age_s, 600);
	assert_int_equal(c.max_connections, 1000000);
	assert_int_equal(c.history_max, 32);
	assert_int_equal(c.ringbuf_kb, 16384);
	assert_int_equal(c.max_netns, 256);
	assert_int_equal(c.max_clients, 1024);
	assert_int_equal(c.netns_filter, 0);
}

static void test_set_each_key(void **state)
{
	struct tw_config c;

	(void)state;
	config_defaults(&c);
	set_ok(&c, "socket", "/tmp/tw.sock");
	assert_string_equal(c.socket_path, "/tmp/tw.sock");
	set_ok(&c, "listen", "none");
	assert_string_equal(c.listen, "none");
	set_ok(&c, "listen", "[::1]:9000");
	assert_string_equal(c.listen, "[::1]:9000");
	set_ok(&c, "reconcile-interval", "2");
	assert_int_equal(c.reconcile_interval_ms, 2000);
	set_ok(&c, "reconcile-interval", "0.25");
	assert_int_equal(c.reconcile_interval_ms, 250);
	set_ok(&c, "retain-count", "42");
	assert_int_equal(c.retain_count, 42);
	set_ok(&c, "retain-age", "30");
	assert_int_equal(c.retain_age_s, 30);
	set_ok(&c, "max-connections", "5000");
	assert_int_equal(c.max_connections, 5000);
	set_ok(&c, "history-max", "64");
	assert_int_equal(c.history_max, 64);
	set_ok(&c, "ringbuf-kb", "1024");
	assert_int_equal(c.ringbuf_kb, 1024);
	set_ok(&c, "max-netns", "8");
	assert_int_equal(c.max_netns, 8);
	set_ok(&c, "max-clients", "16");
	assert_int_equal(c.max_clients, 16);
	set_ok(&c, "netns-filter", "4026531840");
	assert_int_equal(c.netns_filter, 4026531840u);
}

/* Each numeric key: its bounds accepted, one past them refused. */
static void test_bounds(void **state)
{
	static const struct {
		const char *key, *min, *max, *below, *above;
	} k[] = {
		{"retain-count", "0", "10000000", NULL, "10000001"},
		{"retain-age", "0", "604800", NULL, "604801"},
		{"max-connections", "16", "50000000", "15", "50000001"},
		{"history-max", "8", "4096", "7", "4097"},
		{"ringbuf-kb", "8", "1048576", "7", "1048577"},
		{"max-netns", "1", "65536", "0", "65537"},
		{"max-clients", "1", "65536", "0", "65537"},
		{"netns-filter", "0", "4294967295", NULL, "4294967296"},
		{"reconcile-interval", "0.1", "3600", "0.09", "3600.5"},
	};
	struct tw_config c;

	(void)state;
	config_defaults(&c);
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		set_ok(&c, k[i].key, k[i].min);
		set_ok(&c, k[i].key, k[i].max);
		if (k[i].below)
			set_bad(k[i].key, k[i].below);
		set_bad(k[i].key, k[i].above);
	}
	assert_int_equal(c.reconcile_interval_ms, 3600000);
	assert_int_equal(c.netns_filter, UINT32_MAX);
}

static void test_bad_values(void **state)
{
	static const char *const numeric[] = {
		"retain-count", "retain-age",   "max-connections",
		"history-max",  "ringbuf-kb",   "max-netns",
		"max-clients",  "netns-filter", "reconcile-interval",
	};
	char long_path[200];

	(void)state;
	for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
		set_bad(numeric[i], "");
		set_bad(numeric[i], "abc");
		set_bad(numeric[i], "-1");
		set_bad(numeric[i], "12x");
		set_bad(numeric[i], "99999999999999999999999");
	}
	set_bad("reconcile-interval", "nan");
	set_bad("reconcile-interval", "inf");
	set_bad("socket", "");
	set_bad("listen", "");
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	long_path[108] = '\0'; /* one byte more than sun_path holds with its NUL */
	set_bad("socket", long_path);
	long_path[107] = '\0';
	{
		struct tw_config c;

		config_defaults(&c);
		set_ok(&c, "socket", long_path);
		assert_int_equal(strlen(c.socket_path), 107);
	}
	long_path[64] = '\0';
	set_bad("listen", long_path);
}

static void test_unknown_key(void **state)
{
	struct tw_config c;
	char err[256] = "";

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "retain_cnt", "5", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "retain_cnt"));
}

static void test_load_file(void **state)
{
	char path[64], err[512] = "";
	struct tw_config c;

	(void)state;
	write_temp(path, "# tcpwatchd settings\n"
			 "; also a comment\n"
			 "\n"
			 "[tcpwatchd]\n"
			 "retain_count = 42\n"
			 "   history-max=64   \n"
			 "socket = /tmp/x.sock\n"
			 "reconcile_interval = 0.5\n"
			 "\n"
			 "[other-program]\n"
			 "retain_count = 7\n"
			 "this line is not ours and not checked\n"
			 "[tcpwatchd]\n"
			 "max_clients\t=\t9\n");
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.retain_count, 42);
	assert_int_equal(c.history_max, 64);
	assert_string_equal(c.socket_path, "/tmp/x.sock");
	assert_int_equal(c.reconcile_interval_ms, 500);
	assert_int_equal(c.max_clients, 9);
	assert_int_equal(c.max_netns, 256); /* untouched */
	unlink(path);
}

static void test_load_file_without_section(void **state)
{
	char path[64], err[512] = "";
	struct tw_config c;

	(void)state;
	write_temp(path, "listen = none\nretain-age = 5\n");
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "none");
	assert_int_equal(c.retain_age_s, 5);
	unlink(path);
}

/* The error names the file and line, then the key. */
static void test_load_file_errors(void **state)
{
	char path[64], err[512], want[128];
	struct tw_config c;

	(void)state;
	write_temp(path, "[tcpwatchd]\n# fine\nretain_count = abc\n");
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3:", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_non_null(strstr(err, "retain-count"));
	unlink(path);

	write_temp(path, "[tcpwatchd]\nretain-count = 5\nno equals sign here\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3:", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	unlink(path);

	write_temp(path, "\n\n\n[tcpwatchd]\nmystery = 1\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:5:", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_non_null(strstr(err, "mystery"));
	unlink(path);

	assert_int_equal(config_load_file(&c, "/nonexistent/tcpwatchd.conf", err, sizeof(err)),
			 -ENOENT);
}

/* A comment longer than the line buffer is still a comment. */
static void test_load_file_long_comment(void **state)
{
	char path[64], err[512] = "";
	char *text = malloc(4096);
	struct tw_config c;
	int r;

	(void)state;
	assert_non_null(text);
	strcpy(text, "# ");
	memset(text + 2, 'c', 2000);
	strcpy(text + 2002, "\n[tcpwatchd]\nretain-count = 42\n");
	write_temp(path, text);
	free(text);
	config_defaults(&c);
	r = config_load_file(&c, path, err, sizeof(err));
	unlink(path);
	if (r != 0)
		fail_msg("load failed: %s", err);
	assert_int_equal(c.retain_count, 42);
}

/* A line over 1022 bytes is refused, not cut: libinih's own reader would
 * apply the head and take the rest for the next line. */
static void test_load_file_long_line(void **state)
{
	static const char key[] = "[tcpwatchd]\nprobe-allow = ";
	size_t head = strlen(key) - strlen("[tcpwatchd]\n");
	char *text = malloc(4096), err[512];
	struct tw_config c;
	int r;

	(void)state;
	assert_non_null(text);
	/* 1022 bytes: taken whole. */
	strcpy(text, key);
	memset(text + strlen(key), 'a', 1022 - head);
	strcpy(text + strlen(key) + 1022 - head, "\nretain-count = 42\n");
	config_defaults(&c);
	r = load_text(&c, text, strlen(text), err, sizeof(err));
	if (r != 0)
		fail_msg("a 1022-byte line refused: %s", err);
	assert_int_equal(strlen(c.probe_allow), 1022 - head);
	assert_int_equal(c.retain_count, 42);
	/* 1023 bytes, and with CRLF the '\r' counts: refused at line 2, and
	 * nothing after it applied. */
	strcpy(text, key);
	memset(text + strlen(key), 'a', 1023 - head);
	strcpy(text + strlen(key) + 1023 - head, "\nretain-count = 42\n");
	load_bad(text, strlen(text), 2, "line longer than 1022 bytes");
	config_defaults(&c);
	assert_int_equal(load_text(&c, text, strlen(text), err, sizeof(err)), -EINVAL);
	assert_int_equal(c.retain_count, 10000);
	assert_int_equal(c.probe_allow[0], '\0');
	strcpy(text + strlen(key) + 1022 - head, "\r\n");
	load_bad(text, strlen(text), 2, "longer than");
	/* Also in another program's section, and as the file's last line. */
	strcpy(text, "[other]\nk = ");
	memset(text + strlen(text), 'x', 2000 - strlen(text));
	text[2000] = '\0';
	load_bad(text, strlen(text), 2, "longer than");
	free(text);
}

/* Errors name the line they are on, counted as the file has them: after
 * long comments, blank and CRLF lines; the first error is the one told. */
static void test_load_file_error_lines(void **state)
{
	char *text = malloc(4096), err[512];
	struct tw_config c;

	(void)state;
	assert_non_null(text);
	strcpy(text, "# ");
	memset(text + 2, 'c', 3000);
	strcpy(text + 3002, "\n\r\n[tcpwatchd]\r\nretain-count = 7\r\n"
			    "max-clients = 0\nmystery = 1\n");
	load_bad(text, strlen(text), 5, "max-clients");
	strcpy(text + 3002, "\n  ; indented comment\nhistory-max = 9\nretain_cnt = 5\n");
	load_bad(text, strlen(text), 4, "unknown setting 'retain_cnt'");
	load_bad(LIT("retain-age = 1\nsocket =\nretain-age = x\n"), 2, "socket");
	load_bad(LIT("[tcpwatchd\nretain-count = 1\n"), 1, "expected [section]");
	load_bad(LIT("retain-count\n"), 1, "expected key = value");
	/* A NUL byte would cut the line as silently; in a comment it is nothing. */
	load_bad(LIT("retain-count = 1\nsocket = /tmp/a\0b\n"), 2, "NUL byte");
	config_defaults(&c);
	assert_int_equal(load_text(&c, LIT("# a\0b\nretain-count = 3\n"), err, sizeof(err)), 0);
	assert_int_equal(c.retain_count, 3);
	free(text);
}

/* What the file meant before libinih: a value keeps its ';' and '#', an
 * indented line is a key of its own, a key given twice takes the last
 * value (a list: both), "[tcpwatchd]" may come and go. */
static void test_load_file_syntax(void **state)
{
	static const char text[] = "\xef\xbb\xbfprobe-token = a ;b #c\n"
				   "retain-count = 1\n"
				   "\tretain-count = 2\n"
				   "probe = 127.0.0.1:1\n"
				   "[other]\n"
				   "probe = 127.0.0.1:9\n"
				   "[tcpwatchd]\n"
				   "probe = 127.0.0.1:2\n"
				   "listen : none\n";
	char err[512];
	struct tw_config c;
	int r;

	(void)state;
	config_defaults(&c);
	r = load_text(&c, text, strlen(text), err, sizeof(err));
	if (r != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(c.probe_token, "a ;b #c");
	assert_int_equal(c.retain_count, 2);
	assert_string_equal(c.probe_targets, "127.0.0.1:1\n127.0.0.1:2");
	assert_string_equal(c.listen, "none"); /* libinih takes ':' for '=' too */
}

static void test_args_override_file(void **state)
{
	char path[64], err[512] = "";
	struct tw_config c;

	(void)state;
	write_temp(path,
		   "[tcpwatchd]\nretain_count = 42\nhistory_max = 64\nsocket = /tmp/f.sock\n");
	{
		char *argv[] = {"tcpwatchd",   "--retain-count",
				"5",           "-c",
				path,          "-s",
				"/tmp/a.sock", "-f",
				"-d",          "--reconcile-interval=2.5",
				"-l",          "none"};

		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, ARGC(argv), argv, err, sizeof(err)), 0);
	}
	/* Flags win, whatever their place relative to -c. */
	assert_int_equal(c.retain_count, 5);
	assert_string_equal(c.socket_path, "/tmp/a.sock");
	/* The file fills in the rest. */
	assert_int_equal(c.history_max, 64);
	assert_true(c.foreground);
	assert_true(c.debug);
	assert_int_equal(c.reconcile_interval_ms, 2500);
	assert_string_equal(c.listen, "none");
	assert_string_equal(c.config_path, path);
	unlink(path);
}

static void test_args_errors(void **state)
{
	char path[64], err[512];
	struct tw_config c;

	(void)state;
	write_temp(path, "[tcpwatchd]\n");
	{
		char *argv[] = {"tcpwatchd", "-c", path, "--bogus"};

		err[0] = '\0';
		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, ARGC(argv), argv, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "--bogus"));
	}
	{
		char *argv[] = {"tcpwatchd", "-c", path, "--history-max", "1"};

		err[0] = '\0';
		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, ARGC(argv), argv, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "history-max"));
	}
	{
		char *argv[] = {"tcpwatchd", "-c", path, "stray"};

		err[0] = '\0';
		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, ARGC(argv), argv, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "stray"));
	}
	{
		char *argv[] = {"tcpwatchd", "-c", path, "--retain-count"};

		err[0] = '\0';
		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, ARGC(argv), argv, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "retain-count"));
	}
	{
		/* A file named with -c must exist. */
		char *argv[] = {"tcpwatchd", "-c", "/nonexistent/x.conf"};

		err[0] = '\0';
		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, ARGC(argv), argv, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "/nonexistent/x.conf"));
	}
	unlink(path);
	{
		char bad[64], *argv[] = {"tcpwatchd", "-c", bad};

		write_temp(bad, "[tcpwatchd]\nmax_netns = 0\n");
		err[0] = '\0';
		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, ARGC(argv), argv, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, bad));
		assert_non_null(strstr(err, "max-netns"));
		unlink(bad);
	}
}

static void test_args_version(void **state)
{
	char path[64], err[512] = "";
	struct tw_config c;

	(void)state;
	write_temp(path, "");
	{
		char *argv[] = {"tcpwatchd", "-c", path, "--version"};

		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, ARGC(argv), argv, err, sizeof(err)), 1);
	}
	unlink(path);
}

/* An unknown letter inside a cluster of short options ("-xf"): the error
 * must name that argument, not the one before it. Last: a failure here
 * leaves getopt's internal state mid-argument. */
static void test_args_unknown_short_in_cluster(void **state)
{
	char path[64], err[512] = "";
	struct tw_config c;

	(void)state;
	write_temp(path, "");
	{
		char *argv[] = {"tcpwatchd", "-c", path, "-xf"};

		config_defaults(&c);
		assert_int_equal(config_parse_args(&c, ARGC(argv), argv, err, sizeof(err)),
				 -EINVAL);
		unlink(path);
		if (!strstr(err, "-xf"))
			fail_msg("error does not name '-xf': %s", err);
	}
}

/* The key table is the one source: each key has a help line in --help,
 * a flag, a default it accepts, and the file takes it (unless it is a
 * command-line flag only). */
static void test_key_table(void **state)
{
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct tw_config a, b;
	size_t n = 0;

	(void)state;
	assert_non_null(out);
	config_usage(out);
	fclose(out);
	assert_non_null(text); /* open_memstream's buffer: NULL when out of memory */
	for (const struct tw_config_key *k = tw_config_keys; k->name; k++, n++) {
		char flag[80];

		snprintf(flag, sizeof(flag), "--%s", k->name);
		if (!strstr(text, flag))
			fail_msg("--help does not mention %s", flag);
		assert_non_null(k->help);
		assert_ptr_equal(config_key(k->name), k);
		config_defaults(&a);
		b = a;
		assert_false(config_differs(&a, &b, k));
		if (k->cli_only) {
			assert_int_equal(config_set(&a, k->name, k->def, err, sizeof(err)),
					 -EINVAL);
			continue;
		}
		assert_int_equal(config_set(&a, k->name, k->def, err, sizeof(err)), 0);
		assert_false(config_differs(&a, &b, k));
	}
	assert_true(n >= 19);
	/* _ and - alike. */
	assert_ptr_equal(config_key("retain_count"), config_key("retain-count"));
	assert_null(config_key("retain"));
	/* A changed value differs in its own key only. */
	config_defaults(&a);
	b = a;
	set_ok(&b, "time-wait-pileup", "7");
	for (const struct tw_config_key *k = tw_config_keys; k->name; k++)
		assert_int_equal(config_differs(&a, &b, k), !strcmp(k->name, "time-wait-pileup"));
	assert_true(config_key("time-wait-pileup")->live);
	assert_false(config_key("socket")->live);
	free(text);
}

static void test_flags_in_file(void **state)
{
	char path[64], err[512] = "";
	struct tw_config c;

	(void)state;
	write_temp(path, "[tcpwatchd]\ndebug = yes\n");
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_true(c.debug);
	unlink(path);
	write_temp(path, "[tcpwatchd]\ndebug = maybe\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "debug"));
	unlink(path);
	write_temp(path, "[tcpwatchd]\nforeground = yes\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "foreground"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set_each_key),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_file_without_section),
		cmocka_unit_test(test_load_file_errors),
		cmocka_unit_test(test_load_file_long_comment),
		cmocka_unit_test(test_load_file_long_line),
		cmocka_unit_test(test_load_file_error_lines),
		cmocka_unit_test(test_load_file_syntax),
		cmocka_unit_test(test_args_override_file),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_args_version),
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_flags_in_file),
		cmocka_unit_test(test_args_unknown_short_in_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
