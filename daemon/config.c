#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void config_defaults(struct tw_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", TW_DEFAULT_SOCKET);
	snprintf(c->listen, sizeof(c->listen), "%s", TW_DEFAULT_LISTEN);
	c->reconcile_interval_ms = 5000;
	c->retain_count = 10000;
	c->retain_age_s = 600;
	c->max_connections = 1000000;
	c->history_max = 32;
	c->ringbuf_kb = 16384;
	c->max_netns = 256;
	c->max_clients = 64;
	c->close_wait_threshold_ms = 60000;
	c->time_wait_pileup = 500;
	c->fin_wait2_pileup = 50;
	c->connect_failures = 5;
	c->peer_resets = 5;
	c->max_watchers = 16;
}

static int parse_uint(const char *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long x;
	char *end;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return -EINVAL;
	*ret = x;
	return 0;
}

/* Seconds, fractions allowed ("0.5"), to milliseconds. */
static int parse_seconds_ms(const char *v, uint32_t min_ms, uint32_t max_ms, uint32_t *ret)
{
	double x;
	char *end;

	if (!*v)
		return -EINVAL;
	errno = 0;
	x = strtod(v, &end);
	if (errno || *end || x != x || x * 1000 < min_ms || x * 1000 > max_ms)
		return -EINVAL;
	*ret = (uint32_t)(x * 1000 + 0.5);
	return 0;
}

struct uint_key {
	const char *key;
	size_t offset;
	uint64_t min, max;
};

static const struct uint_key uint_keys[] = {
	{ "retain-count", offsetof(struct tw_config, retain_count), 0, 10000000 },
	{ "retain-age", offsetof(struct tw_config, retain_age_s), 0, 86400 * 7 },
	{ "max-connections", offsetof(struct tw_config, max_connections), 16, 50000000 },
	{ "history-max", offsetof(struct tw_config, history_max), 8, 4096 },
	{ "ringbuf-kb", offsetof(struct tw_config, ringbuf_kb), 64, 1048576 },
	{ "max-netns", offsetof(struct tw_config, max_netns), 1, 65536 },
	{ "max-clients", offsetof(struct tw_config, max_clients), 1, 4096 },
	{ "netns-filter", offsetof(struct tw_config, netns_filter), 0, UINT32_MAX },
	{ "time-wait-pileup", offsetof(struct tw_config, time_wait_pileup), 1, UINT32_MAX },
	{ "fin-wait2-pileup", offsetof(struct tw_config, fin_wait2_pileup), 1, UINT32_MAX },
	{ "connect-failures", offsetof(struct tw_config, connect_failures), 1, UINT32_MAX },
	{ "peer-resets", offsetof(struct tw_config, peer_resets), 1, UINT32_MAX },
	{ "max-watchers", offsetof(struct tw_config, max_watchers), 0, 1024 },
};

int config_set(struct tw_config *c, const char *key, const char *value, char *err, size_t err_len)
{
	uint64_t x;

	if (!strcmp(key, "socket")) {
		if (strlen(value) >= sizeof(c->socket_path) || !*value)
			goto bad;
		snprintf(c->socket_path, sizeof(c->socket_path), "%s", value);
		return 0;
	}
	if (!strcmp(key, "listen")) {
		if (strlen(value) >= sizeof(c->listen) || !*value)
			goto bad;
		snprintf(c->listen, sizeof(c->listen), "%s", value);
		return 0;
	}
	if (!strcmp(key, "close-wait-threshold")) {
		if (parse_seconds_ms(value, 0, 86400 * 1000, &c->close_wait_threshold_ms) < 0)
			goto bad;
		return 0;
	}
	if (!strcmp(key, "reconcile-interval")) {
		if (parse_seconds_ms(value, 100, 3600 * 1000, &c->reconcile_interval_ms) < 0)
			goto bad;
		return 0;
	}
	for (size_t i = 0; i < sizeof(uint_keys) / sizeof(uint_keys[0]); i++) {
		if (strcmp(key, uint_keys[i].key))
			continue;
		if (parse_uint(value, uint_keys[i].min, uint_keys[i].max, &x) < 0) {
			snprintf(err, err_len, "%s: '%s' is not a number in [%llu, %llu]", key, value,
				 (unsigned long long)uint_keys[i].min,
				 (unsigned long long)uint_keys[i].max);
			return -EINVAL;
		}
		*(uint32_t *)((char *)c + uint_keys[i].offset) = (uint32_t)x;
		return 0;
	}
	snprintf(err, err_len, "unknown setting '%s'", key);
	return -EINVAL;
bad:
	snprintf(err, err_len, "%s: invalid value '%s'", key, value);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int config_load_file(struct tw_config *c, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	unsigned lineno = 0;
	bool ours = true;

	if (!f) {
		if (errno == ENOENT)
			return -ENOENT;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		bool too_long = !strchr(line, '\n') && !feof(f);
		char *s = trim(line), *eq, msg[256];
		int ch;

		lineno++;
		if (too_long) /* drop the rest of the line */
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (too_long) {
			snprintf(err, err_len, "%s:%u: line longer than %zu bytes", path, lineno,
				 sizeof(line) - 2);
			fclose(f);
			return -EINVAL;
		}
		if (*s == '[') {
			ours = !strcmp(s, "[tcpwatchd]");
			continue;
		}
		if (!ours)
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, err_len, "%s:%u: expected key = value", path, lineno);
			fclose(f);
			return -EINVAL;
		}
		*eq = '\0';
		/* Keys may use _ or -. */
		for (char *k = s; *k; k++)
			if (*k == '_')
				*k = '-';
		if (config_set(c, trim(s), trim(eq + 1), msg, sizeof(msg)) < 0) {
			snprintf(err, err_len, "%s:%u: %s", path, lineno, msg);
			fclose(f);
			return -EINVAL;
		}
	}
	fclose(f);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcpwatchd [OPTIONS]\n"
		"Follows every TCP connection's life and serves it over HTTP.\n\n"
		"  -c, --config PATH            INI file (default " TW_DEFAULT_CONFIG ")\n"
		"  -s, --socket PATH            API Unix socket (default " TW_DEFAULT_SOCKET ")\n"
		"  -l, --listen ADDR:PORT|none  API on loopback TCP (default " TW_DEFAULT_LISTEN ")\n"
		"  -f, --foreground             stay in the foreground (systemd runs it so)\n"
		"      --reconcile-interval S   sock_diag reconcile period, seconds (default 5)\n"
		"      --retain-count N         closed connections kept (default 10000)\n"
		"      --retain-age S           seconds a closed connection is kept (default 600)\n"
		"      --max-connections N      live connections tracked (default 1000000)\n"
		"      --history-max N          history entries per connection (default 32)\n"
		"      --ringbuf-kb N           BPF ring buffers in KiB, all CPUs (default 16384)\n"
		"      --max-netns N            network namespaces followed (default 256)\n"
		"      --max-clients N          concurrent API connections (default 64)\n"
		"      --netns-filter INODE     trace only this network namespace\n"
		"      --max-watchers N         concurrent event streams (default 16)\n"
		"Findings thresholds:\n"
		"      --close-wait-threshold S CLOSE_WAIT older than this is stuck (default 60)\n"
		"      --time-wait-pileup N     TIME_WAIT per remote endpoint (default 500)\n"
		"      --fin-wait2-pileup N     FIN_WAIT2 per remote endpoint (default 50)\n"
		"      --connect-failures N     failed connects per destination (default 5)\n"
		"      --peer-resets N          resets from one remote endpoint (default 5)\n"
		"  -d, --debug                  verbose logging\n"
		"  -h, --help, -V, --version\n");
}

int config_parse_args(struct tw_config *c, int argc, char **argv, char *err, size_t err_len)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "reconcile-interval", required_argument, NULL, 1 },
		{ "retain-count", required_argument, NULL, 1 },
		{ "retain-age", required_argument, NULL, 1 },
		{ "max-connections", required_argument, NULL, 1 },
		{ "history-max", required_argument, NULL, 1 },
		{ "ringbuf-kb", required_argument, NULL, 1 },
		{ "max-netns", required_argument, NULL, 1 },
		{ "max-clients", required_argument, NULL, 1 },
		{ "netns-filter", required_argument, NULL, 1 },
		{ "max-watchers", required_argument, NULL, 1 },
		{ "close-wait-threshold", required_argument, NULL, 1 },
		{ "time-wait-pileup", required_argument, NULL, 1 },
		{ "fin-wait2-pileup", required_argument, NULL, 1 },
		{ "connect-failures", required_argument, NULL, 1 },
		{ "peer-resets", required_argument, NULL, 1 },
		{ 0 },
	};
	const char *config_path = NULL;
	int opt, idx, r;

	/* First pass: the config file, so flags override it. */
	opterr = 0;
	optind = 0; /* glibc: 0 resets getopt's state fully */
	while ((opt = getopt_long(argc, argv, "c:s:l:fdhV", opts, &idx)) != -1)
		if (opt == 'c')
			config_path = optarg;
	r = config_load_file(c, config_path ? config_path : TW_DEFAULT_CONFIG, err, err_len);
	if (r < 0 && !(r == -ENOENT && !config_path)) {
		if (r == -ENOENT)
			snprintf(err, err_len, "%s: no such file", config_path);
		return -EINVAL;
	}
	snprintf(c->config_path, sizeof(c->config_path), "%s",
		 config_path ? config_path : (r == 0 ? TW_DEFAULT_CONFIG : ""));

	optind = 0;
	while ((opt = getopt_long(argc, argv, "c:s:l:fdhV", opts, &idx)) != -1) {
		switch (opt) {
		case 'c':
			break;
		case 's':
			if (config_set(c, "socket", optarg, err, err_len) < 0)
				return -EINVAL;
			break;
		case 'l':
			if (config_set(c, "listen", optarg, err, err_len) < 0)
				return -EINVAL;
			break;
		case 'f':
			c->foreground = true;
			break;
		case 'd':
			c->debug = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("tcpwatchd %s\n", TCPWATCH_VERSION);
			return 1;
		case 1:
			if (config_set(c, opts[idx].name, optarg, err, err_len) < 0)
				return -EINVAL;
			break;
		default:
			if (optopt && optopt != 1) {
				/* Mid-cluster ("-xf"), getopt has not moved on yet. */
				const char *arg = optind < argc && argv[optind][0] == '-' &&
							  strchr(argv[optind], optopt)
						  ? argv[optind]
						  : argv[optind - 1];

				snprintf(err, err_len,
					 "unknown or incomplete option '-%c' in '%s' (see --help)",
					 optopt, arg);
			}
			else
				snprintf(err, err_len, "unknown or incomplete option '%s' (see --help)",
					 argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}
