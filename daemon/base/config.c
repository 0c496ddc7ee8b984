#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define INI_HANDLER_LINENO 1 /* as Debian builds libinih: the handler gets it */
#include <ini.h>

#define FIELD(f) offsetof(struct tw_config, f), sizeof(((struct tw_config *)0)->f)
#define DAY_S    86400u

const struct tw_config_key tw_config_keys[] = {
	{"socket", 's', TW_CFG_STRING, false, false, FIELD(socket_path), 0, 0, TW_DEFAULT_SOCKET,
	 "PATH", "API Unix socket", NULL},
	{"listen", 'l', TW_CFG_STRING, false, false, FIELD(listen), 0, 0, TW_DEFAULT_LISTEN,
	 "ADDR:PORT|none", "API on loopback TCP", NULL},
	{"allowed-hosts", 0, TW_CFG_TEXT, false, false, FIELD(allowed_hosts), 0, 0, "", "NAME,...",
	 "Host names the TCP API answers besides loopback ones and the listen address", NULL},
	{"token", 0, TW_CFG_TEXT, false, false, FIELD(token), 0, 0, "", "TOKEN",
	 "the TCP API wants it (Authorization: Bearer) but for /healthz and /metrics; "
	 "needed to listen beyond loopback; set it in the file",
	 NULL},
	{"foreground", 'f', TW_CFG_FLAG, false, true, FIELD(foreground), 0, 1, "false", NULL,
	 "stay in the foreground (systemd runs it so)", NULL},
	{"debug", 'd', TW_CFG_FLAG, true, false, FIELD(debug), 0, 1, "false", NULL,
	 "verbose logging", NULL},
	{"reconcile-interval", 0, TW_CFG_SECONDS, true, false, FIELD(reconcile_interval_ms), 100,
	 3600 * 1000, "5", "S", "sock_diag reconcile period, seconds", NULL},
	{"retain-count", 0, TW_CFG_UINT, true, false, FIELD(retain_count), 0, 10000000, "10000",
	 "N", "closed connections kept", NULL},
	{"retain-age", 0, TW_CFG_UINT, true, false, FIELD(retain_age_s), 0, 7 * DAY_S, "600", "S",
	 "seconds a closed connection is kept", NULL},
	{"max-connections", 0, TW_CFG_UINT, false, false, FIELD(max_connections), 16, 50000000,
	 "1000000", "N", "live connections tracked", NULL},
	{"max-half-opens", 0, TW_CFG_UINT, false, false, FIELD(max_half_opens), 16, 10000000,
	 "65536", "N", "half-open connections (SYN queue entries) tracked", NULL},
	{"history-max", 0, TW_CFG_UINT, false, false, FIELD(history_max), 8, 4096, "32", "N",
	 "history entries per connection", NULL},
	{"ringbuf-kb", 0, TW_CFG_UINT, false, false, FIELD(ringbuf_kb), 8, 1048576, "16384", "N",
	 "BPF ring buffers in KiB, all CPUs", NULL},
	{"max-netns", 0, TW_CFG_UINT, false, false, FIELD(max_netns), 1, 65536, "256", "N",
	 "network namespaces followed", NULL},
	{"user", 0, TW_CFG_TEXT, false, false, FIELD(user), 0, 0, "", "NAME",
	 "started as root: run as this user after start-up, keeping only the "
	 "capabilities still used",
	 NULL},
	{"socket-group", 0, TW_CFG_TEXT, false, false, FIELD(socket_group), 0, 0, "tcpwatch",
	 "GROUP", "group of the API socket (mode 0660): its members use the CLI", NULL},
	{"max-clients", 0, TW_CFG_UINT, false, false, FIELD(max_clients), 1, 65536, "1024", "N",
	 "concurrent API connections, on each of the Unix socket and TCP", NULL},
	{"max-clients-per-peer", 0, TW_CFG_UINT, false, false, FIELD(max_clients_per_peer), 1,
	 65536, "64", "N", "API connections of one client (a uid, a TCP address)", NULL},
	{"request-timeout", 0, TW_CFG_SECONDS, false, false, FIELD(request_timeout_ms), 1000,
	 3600 * 1000, "60", "S",
	 "the longest an API request may take, its headers to its last byte (event streams "
	 "excepted)",
	 NULL},
	{"netns-filter", 0, TW_CFG_UINT, false, false, FIELD(netns_filter), 0, UINT32_MAX, "0",
	 "INODE", "trace only this network namespace (0: all)", NULL},
	{"max-watchers", 0, TW_CFG_UINT, false, false, FIELD(max_watchers), 0, 1024, "16", "N",
	 "concurrent event streams, on each of the Unix socket and TCP", NULL},
	{"state-dir", 0, TW_CFG_TEXT, false, false, FIELD(state_dir), 0, 0, "/var/lib/tcpwatch",
	 "PATH|none",
	 "the table is saved here at stop and loaded at start (\"\" or none: not kept)", NULL},
	{"checkpoint-interval", 0, TW_CFG_SECONDS, false, false, FIELD(checkpoint_interval_ms), 0,
	 DAY_S * 1000ull, "60", "S",
	 "also saved this often, so a crash loses at most this much (0: only at stop)", NULL},
	{"close-wait-threshold", 0, TW_CFG_SECONDS, true, false, FIELD(close_wait_threshold_ms), 0,
	 DAY_S * 1000ull, "60", "S", "CLOSE_WAIT older than this is stuck", "Findings thresholds"},
	{"time-wait-pileup", 0, TW_CFG_UINT, true, false, FIELD(time_wait_pileup), 1, UINT32_MAX,
	 "500", "N", "TIME_WAIT per remote endpoint", NULL},
	{"fin-wait2-pileup", 0, TW_CFG_UINT, true, false, FIELD(fin_wait2_pileup), 1, UINT32_MAX,
	 "50", "N", "FIN_WAIT2 per remote endpoint", NULL},
	{"connect-failures", 0, TW_CFG_UINT, true, false, FIELD(connect_failures), 1, UINT32_MAX,
	 "5", "N", "failed connects per destination", NULL},
	{"peer-resets", 0, TW_CFG_UINT, true, false, FIELD(peer_resets), 1, UINT32_MAX, "5", "N",
	 "resets from one remote endpoint", NULL},
	{"accept-queue-threshold", 0, TW_CFG_UINT, true, false, FIELD(accept_queue_pct), 1, 100,
	 "90", "PCT", "accept queue at this share of its backlog is full", NULL},
	{"accept-wait-threshold", 0, TW_CFG_SECONDS, true, false, FIELD(accept_wait_threshold_ms),
	 1, 3600 * 1000, "1", "S", "accept wait p99 over this is slow", NULL},
	{"findings-window", 0, TW_CFG_SECONDS, true, false, FIELD(findings_window_ms), 1000,
	 86400 * 1000, "60", "S", "counters grown within this are rising", NULL},
	{"handshake-slow-ratio", 0, TW_CFG_UINT, true, false, FIELD(handshake_slow_ratio), 2, 1000,
	 "4", "N", "handshakes N times the probe RTT to the same endpoint are slow", NULL},
	{"probe", 0, TW_CFG_LIST, false, false, FIELD(probe_targets), 0, 0, "",
	 "'ADDR:PORT [interval=S] [timeout=S] [netns=PATH|INODE]'",
	 "a target probed for ever (repeatable)", "Prober"},
	{"probe-allow", 0, TW_CFG_LIST, false, false, FIELD(probe_allow), 0, 0, "",
	 "PREFIX[:PORT[-PORT]],...",
	 "what on-demand probes may reach, besides loopback and "
	 "followed namespaces' interface addresses (repeatable)",
	 NULL},
	{"probe-token", 0, TW_CFG_TEXT, false, false, FIELD(probe_token), 0, 0, "", "TOKEN",
	 "on-demand probes over TCP need it (Authorization: Bearer); set it in the file", NULL},
	{"probe-port-base", 0, TW_CFG_UINT, false, false, FIELD(probe_port_base), 1024, 65535,
	 "61000", "PORT", "first source port the prober reserves", NULL},
	{"probe-port-count", 0, TW_CFG_UINT, false, false, FIELD(probe_port_count), 1, 16384, "512",
	 "N", "source ports reserved (probes in flight at most)", NULL},
	{"probe-rate", 0, TW_CFG_UINT, false, false, FIELD(probe_rate), 1, 1000000, "1000", "N",
	 "probes per second, all targets", NULL},
	{"probe-min-interval", 0, TW_CFG_SECONDS, false, false, FIELD(probe_min_interval_ms), 1,
	 3600 * 1000, "0.01", "S", "shortest interval between probes of one target", NULL},
	{"probe-max-jobs", 0, TW_CFG_UINT, false, false, FIELD(probe_max_jobs), 1, 1024, "16", "N",
	 "on-demand probe jobs running at once", NULL},
	{"probe-max-targets", 0, TW_CFG_UINT, false, false, FIELD(probe_max_targets), 0, 4096,
	 "256", "N", "configured probe targets", NULL},
	{"probe-max-count", 0, TW_CFG_UINT, false, false, FIELD(probe_max_count), 1, 1000000,
	 "10000", "N", "probes in one on-demand job", NULL},
	{"probe-history", 0, TW_CFG_UINT, false, false, FIELD(probe_history), 1, 100000, "1000",
	 "N", "results kept per configured target (the summary's window)", NULL},
	{"probe-max-netns", 0, TW_CFG_UINT, false, false, FIELD(probe_max_netns), 1, 256, "8", "N",
	 "namespaces probed from", NULL},
	{.name = NULL},
};

#define N_KEYS (sizeof(tw_config_keys) / sizeof(tw_config_keys[0]) - 1)

/* Keys may be written with _ or -. */
static bool key_eq(const char *table_name, const char *name)
{
	for (; *table_name && *name; table_name++, name++)
		if (*table_name != *name && !(*table_name == '-' && *name == '_'))
			return false;
	return *table_name == *name;
}

const struct tw_config_key *config_key(const char *name)
{
	for (const struct tw_config_key *k = tw_config_keys; k->name; k++)
		if (key_eq(k->name, name))
			return k;
	return NULL;
}

static void *field(struct tw_config *c, const struct tw_config_key *k)
{
	return (char *)c + k->offset;
}

static int parse_uint(const char *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long x;
	char *end;

	if (*v < '0' || *v > '9') /* strtoull would skip spaces and take a sign */
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return -EINVAL;
	*ret = x;
	return 0;
}

/* Seconds, fractions allowed ("0.5"), to milliseconds. */
static int parse_seconds_ms(const char *v, uint64_t min_ms, uint64_t max_ms, uint64_t *ret)
{
	double x;
	char *end;

	if ((*v < '0' || *v > '9') && *v != '.') /* strtod would take spaces, signs, "inf" */
		return -EINVAL;
	errno = 0;
	x = strtod(v, &end);
	if (errno || *end || x != x || x * 1000 < (double)min_ms || x * 1000 > (double)max_ms)
		return -EINVAL;
	*ret = (uint64_t)(x * 1000 + 0.5);
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
		*ret = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int set_key(struct tw_config *c, const struct tw_config_key *k, const char *value, char *err,
		   size_t err_len)
{
	uint64_t x;
	bool b;

	switch (k->type) {
	case TW_CFG_STRING:
	case TW_CFG_TEXT:
		if ((!*value && k->type == TW_CFG_STRING) || strlen(value) >= k->size)
			break;
		memcpy(field(c, k), value, strlen(value) + 1);
		return 0;
	case TW_CFG_LIST: {
		char *f = field(c, k);
		size_t used = strlen(f), n = strlen(value);

		if (!n)
			return 0;
		if (strchr(value, '\n') || used + n + 2 > k->size) {
			snprintf(err, err_len, "%s: the entries exceed %zu bytes", k->name,
				 k->size - 1);
			return -EINVAL;
		}
		if (used)
			f[used++] = '\n';
		memcpy(f + used, value, n + 1);
		return 0;
	}
	case TW_CFG_FLAG:
		if (parse_bool(value, &b) < 0)
			break;
		*(bool *)field(c, k) = b;
		return 0;
	case TW_CFG_SECONDS:
		if (parse_seconds_ms(value, k->min, k->max, &x) < 0)
			break;
		*(uint32_t *)field(c, k) = (uint32_t)x;
		return 0;
	case TW_CFG_UINT:
		if (parse_uint(value, k->min, k->max, &x) < 0) {
			snprintf(err, err_len, "%s: '%s' is not a number in [%llu, %llu]", k->name,
				 value, (unsigned long long)k->min, (unsigned long long)k->max);
			return -EINVAL;
		}
		*(uint32_t *)field(c, k) = (uint32_t)x;
		return 0;
	}
	snprintf(err, err_len, "%s: invalid value '%s'", k->name, value);
	return -EINVAL;
}

void config_defaults(struct tw_config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (const struct tw_config_key *k = tw_config_keys; k->name; k++)
		if (set_key(c, k, k->def, err, sizeof(err)) < 0)
			abort(); /* a default outside its own bounds: the table is wrong */
}

int config_set(struct tw_config *c, const char *key, const char *value, char *err, size_t err_len)
{
	const struct tw_config_key *k = config_key(key);

	if (!k || k->cli_only) {
		snprintf(err, err_len, "unknown setting '%s'", key);
		return -EINVAL;
	}
	return set_key(c, k, value, err, err_len);
}

bool config_differs(const struct tw_config *a, const struct tw_config *b,
		    const struct tw_config_key *key)
{
	return memcmp((const char *)a + key->offset, (const char *)b + key->offset, key->size) != 0;
}

/*
 * The file is read by libinih, as Debian builds it: the handler gets the
 * line number, and the compile-time options of ini.h are run-time
 * variables, which ini_options() sets to the syntax the file has always
 * had. Load on one thread at a time (they are the library's globals).
 */
#define INI_LINE_MAX_BYTES 1022 /* a line's text, its '\n' not counted */

static void ini_options(void)
{
	ini_max_line = INI_LINE_MAX_BYTES + 1; /* ini_parse_stream's buffer, on its stack */
	ini_use_stack = true;
	ini_allow_multiline = false;       /* an indented line is a line of its own */
	ini_allow_inline_comments = false; /* "a ;b" is a value: a token may hold ';' */
	ini_allow_no_value = true;         /* a line without '=' reaches on_key, which judges */
	ini_stop_on_first_error = true;
}

/* One load: where the values go, and the first error. */
struct ini_load {
	struct tw_config *config;
	FILE *file;
	const char *path;
	int lines_read; /* by read_line: inih counts the same lines */
	bool failed;    /* err holds the first error */
	char *err;
	size_t err_len;
};

static void load_error(struct ini_load *l, int lineno, const char *what)
{
	if (!l->failed)
		snprintf(l->err, l->err_len, "%s:%d: %s", l->path, lineno, what);
	l->failed = true;
}

/*
 * inih's reader. The stock one (fgets) cuts a line longer than inih's
 * buffer and hands the rest on as the next line: the value is applied cut
 * short and the line numbers after it are off. Here such a line ends the
 * parse with an error, and so does a NUL byte, which would cut it as
 * silently; a comment may be longer or hold anything (inih sees its head).
 */
static char *read_line(char *str, int num, void *stream)
{
	struct ini_load *l = stream;
	size_t n = 0, room = (size_t)num - 1;
	bool too_long = false, nul = false;
	int ch, first = 0; /* the line's first non-space byte, 0 if none yet */

	while ((ch = getc(l->file)) != EOF && ch != '\n') {
		if (!first && !isspace(ch))
			first = ch ? ch : -1;
		nul |= !ch;
		if (n < room)
			str[n++] = (char)ch;
		else
			too_long = true;
	}
	if (ch == EOF && !n)
		return NULL; /* the end, or a read error (config_load_file asks) */
	str[n] = '\0';
	l->lines_read++;
	if (first == '#' || first == ';' || !first)
		return str; /* a comment, or blank */
	if (too_long || nul) {
		char msg[64] = "NUL byte in the line";

		if (too_long)
			snprintf(msg, sizeof(msg), "line longer than %zu bytes", room);
		load_error(l, l->lines_read, msg);
		return NULL;
	}
	return str;
}

static int on_key(void *data, const char *section, const char *name, const char *value, int lineno)
{
	struct ini_load *l = data;
	char msg[256];

	if (*section && strcmp(section, "tcpwatchd"))
		return 1; /* another program's section: not ours to check */
	if (!value) {
		load_error(l, lineno, "expected key = value");
		return 0;
	}
	if (config_set(l->config, name, value, msg, sizeof(msg)) < 0) {
		load_error(l, lineno, msg);
		return 0;
	}
	return 1;
}

int config_load_file(struct tw_config *c, const char *path, char *err, size_t err_len)
{
	struct ini_load l = {.config = c, .path = path, .err = err, .err_len = err_len};
	int r;

	l.file = fopen(path, "re");
	if (!l.file) {
		r = -errno;
		if (r != -ENOENT)
			snprintf(err, err_len, "%s: %s", path, strerror(-r));
		return r;
	}
	ini_options();
	r = ini_parse_stream(read_line, &l, on_key, &l);
	if (r > 0) /* inih's own refusal, a "[section" without its ']' */
		load_error(&l, r, "expected [section] or key = value");
	if (!l.failed && (r < 0 || ferror(l.file))) {
		r = r < 0 ? -ENOMEM : -EIO;
		snprintf(err, err_len, "%s: %s", path, strerror(-r));
		fclose(l.file);
		return r;
	}
	fclose(l.file);
	return l.failed ? -EINVAL : 0;
}

static void print_default(FILE *out, const struct tw_config_key *k)
{
	if (k->type == TW_CFG_FLAG || !k->def[0] || !strcmp(k->def, "0"))
		return;
	fprintf(out, " (default %s)", k->def);
}

void config_usage(FILE *out)
{
	fprintf(out, "Usage: tcpwatchd [OPTIONS]\n"
		     "Follows every TCP connection's life and serves it over HTTP.\n\n");
	fprintf(out, "  -c, %-27s %s\n", "--config PATH",
		"INI file (default " TW_DEFAULT_CONFIG ")");
	for (const struct tw_config_key *k = tw_config_keys; k->name; k++) {
		char flag[64];

		if (k->group)
			fprintf(out, "%s:\n", k->group);
		snprintf(flag, sizeof(flag), "--%s%s%s", k->name, k->arg ? " " : "",
			 k->arg ? k->arg : "");
		if (k->short_name)
			fprintf(out, "  -%c, %-27s %s", k->short_name, flag, k->help);
		else
			fprintf(out, "      %-27s %s", flag, k->help);
		print_default(out, k);
		fputc('\n', out);
	}
	fprintf(out,
		"  -h, --help, -V, --version\n"
		"Every option but --config, --foreground, --help and --version is also a key\n"
		"of the INI file. SIGHUP reloads the file; settings it cannot change live are\n"
		"logged as such.\n");
}

enum { OPT_CONFIG = 'c', OPT_HELP = 'h', OPT_VERSION = 'V', OPT_KEY = 1 };

/* getopt's tables, built from the key table. */
struct opt_tables {
	struct option longs[N_KEYS + 4];
	char shorts[2 * N_KEYS + 8];
};

static void build_opts(struct opt_tables *t)
{
	size_t n = 0, s = 0;

	t->longs[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	t->longs[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	t->longs[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	s += (size_t)sprintf(t->shorts, "c:hV");
	for (const struct tw_config_key *k = tw_config_keys; k->name; k++) {
		int has_arg = k->type == TW_CFG_FLAG ? no_argument : required_argument;

		t->longs[n++] = (struct option){k->name, has_arg, NULL, OPT_KEY};
		if (k->short_name) {
			t->shorts[s++] = k->short_name;
			if (has_arg == required_argument)
				t->shorts[s++] = ':';
		}
	}
	t->longs[n] = (struct option){0};
	t->shorts[s] = '\0';
}

static const struct tw_config_key *key_by_short(int c)
{
	for (const struct tw_config_key *k = tw_config_keys; k->name; k++)
		if (k->short_name && k->short_name == c)
			return k;
	return NULL;
}

static void unknown_option(int argc, char **argv, char *err, size_t err_len)
{
	if (optopt && optopt != OPT_KEY) {
		/* Mid-cluster ("-xf"), getopt has not moved on yet. */
		const char *arg =
			optind < argc && argv[optind][0] == '-' && strchr(argv[optind], optopt)
				? argv[optind]
				: argv[optind - 1];

		snprintf(err, err_len, "unknown or incomplete option '-%c' in '%s' (see --help)",
			 optopt, arg);
	} else {
		snprintf(err, err_len, "unknown or incomplete option '%s' (see --help)",
			 argv[optind - 1]);
	}
}

static int load_config_file(struct tw_config *c, const char *path, char *err, size_t err_len)
{
	int r = config_load_file(c, path ? path : TW_DEFAULT_CONFIG, err, err_len);

	if (r < 0 && !(r == -ENOENT && !path)) {
		if (r == -ENOENT)
			snprintf(err, err_len, "%s: no such file", path);
		return -EINVAL;
	}
	snprintf(c->config_path, sizeof(c->config_path), "%s",
		 path ? path : (r == 0 ? TW_DEFAULT_CONFIG : ""));
	return 0;
}

int config_parse_args(struct tw_config *c, int argc, char **argv, char *err, size_t err_len)
{
	struct opt_tables t;
	const char *config_path = NULL;
	int opt, idx;

	build_opts(&t);
	/* First pass: the config file, so flags override it. */
	opterr = 0;
	optind = 0; /* glibc: 0 resets getopt's state fully */
	while ((opt = getopt_long(argc, argv, t.shorts, t.longs, &idx)) != -1)
		if (opt == OPT_CONFIG)
			config_path = optarg;
	if (load_config_file(c, config_path, err, err_len) < 0)
		return -EINVAL;

	optind = 0;
	while ((opt = getopt_long(argc, argv, t.shorts, t.longs, &idx)) != -1) {
		const struct tw_config_key *k = NULL;

		switch (opt) {
		case OPT_CONFIG:
			continue;
		case OPT_HELP:
			config_usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("tcpwatchd %s\n", TCPWATCH_VERSION);
			return 1;
		case OPT_KEY:
			k = config_key(t.longs[idx].name);
			break;
		case '?':
		case ':':
			unknown_option(argc, argv, err, err_len);
			return -EINVAL;
		default:
			k = key_by_short(opt);
			break;
		}
		if (!k ||
		    set_key(c, k, k->type == TW_CFG_FLAG ? "true" : optarg, err, err_len) < 0) {
			if (!k)
				unknown_option(argc, argv, err, err_len);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}
