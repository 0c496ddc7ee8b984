/*
 * tcpwatchd settings: defaults, the INI file, then command-line flags.
 *
 * Every setting is one row of a table (config.c) that yields its flag,
 * its --help line, its default, its INI key, its bounds and whether
 * SIGHUP may change it while the daemon runs.
 */
#ifndef TCPWATCH_CONFIG_H
#define TCPWATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TW_DEFAULT_SOCKET "/run/tcpwatch/tcpwatchd.sock"
#define TW_DEFAULT_LISTEN "127.0.0.1:9466"
#define TW_DEFAULT_CONFIG "/etc/tcpwatch/tcpwatchd.conf"

struct tw_config {
	char socket_path[108];    /* sun_path */
	char listen[64];          /* ADDR:PORT, or "none" */
	char config_path[256];    /* the file read, "" if none */
	char allowed_hosts[1024]; /* Host names the TCP API answers, besides loopback */
	char token[128];          /* the TCP API's bearer token, "" none */
	char user[64];            /* run as this user after start-up, "" stay */
	char socket_group[64];    /* the API socket's group, "" the daemon's */
	bool foreground;
	bool debug;
	uint32_t reconcile_interval_ms;
	uint32_t retain_count;
	uint32_t retain_age_s;
	uint32_t max_connections; /* live connections tracked */
	uint32_t max_half_opens;  /* request sockets tracked, part of them */
	uint32_t history_max;
	uint32_t ringbuf_kb;
	uint32_t max_netns;
	uint32_t max_clients; /* concurrent HTTP connections, per door */
	uint32_t max_clients_per_peer;
	uint32_t request_timeout_ms; /* a request's whole time */
	uint32_t netns_filter;       /* 0 = every namespace */
	uint32_t max_watchers;       /* concurrent /api/v1/events streams */
	/* the table across restarts */
	char state_dir[256];             /* "" or "none": not kept */
	uint32_t checkpoint_interval_ms; /* saves while running, 0: only at stop */
	/* findings thresholds */
	uint32_t close_wait_threshold_ms;
	uint32_t time_wait_pileup;
	uint32_t fin_wait2_pileup;
	uint32_t connect_failures;
	uint32_t peer_resets;
	uint32_t accept_queue_pct;
	uint32_t accept_wait_threshold_ms;
	uint32_t findings_window_ms;
	uint32_t handshake_slow_ratio;
	/* the prober */
	char probe_targets[16384]; /* one "ADDR:PORT [interval=S] ..." a line */
	char probe_allow[2048];
	char probe_token[128];
	uint32_t probe_port_base, probe_port_count;
	uint32_t probe_rate;
	uint32_t probe_min_interval_ms;
	uint32_t probe_max_jobs, probe_max_targets, probe_max_count, probe_history;
	uint32_t probe_max_netns;
};

enum tw_config_type {
	TW_CFG_UINT,    /* a decimal uint32 in [min, max] */
	TW_CFG_SECONDS, /* seconds, fractions allowed, stored as uint32 ms in [min, max] ms */
	TW_CFG_STRING,  /* a non-empty string shorter than its field */
	TW_CFG_FLAG,    /* a flag without a value; in the file: true/false, yes/no, 1/0 */
	TW_CFG_TEXT,    /* a string shorter than its field, "" allowed */
	TW_CFG_LIST,    /* every occurrence adds a line (the field bounds the total) */
};

struct tw_config_key {
	const char *name;  /* --name and the INI key (which may use _ for -) */
	char short_name;   /* -x, or 0 */
	uint8_t type;      /* enum tw_config_type */
	bool live;         /* SIGHUP applies a new value without a restart */
	bool cli_only;     /* a flag, not a key of the file */
	size_t offset;     /* in struct tw_config */
	size_t size;       /* of the field */
	uint64_t min, max; /* bounds, in the stored unit */
	const char *def;   /* the default, in the file's syntax */
	const char *arg;   /* what --help shows as the value */
	const char *help;
	const char *group; /* a --help heading starts at this key, or NULL */
};

/* The table, ending with a row whose name is NULL. */
extern const struct tw_config_key tw_config_keys[];

void config_defaults(struct tw_config *c);
/* The row of a key (- or _ alike); NULL if unknown. */
const struct tw_config_key *config_key(const char *name);
/*
 * Parses argv (and the config file it names, or the default one if it
 * exists). Returns 0, 1 when --help/--version was printed, or -EINVAL
 * with a message in err.
 */
int config_parse_args(struct tw_config *c, int argc, char **argv, char *err, size_t err_len);
/* Applies one key = value, as from the INI file. On failure *c is left
 * as it was. 0 or -EINVAL with a message in err. */
int config_set(struct tw_config *c, const char *key, const char *value, char *err, size_t err_len);
/* Loads an INI file ([tcpwatchd] section or none; lines of at most 1022
 * bytes but comments) through libinih. -ENOENT if missing, -EINVAL (or
 * another negative errno) with a message "FILE:LINE: ..." in err. Not
 * thread-safe: it sets libinih's options, which are globals. */
int config_load_file(struct tw_config *c, const char *path, char *err, size_t err_len);
/* The --help text, generated from the table. */
void config_usage(FILE *out);
/* True if key's field differs between a and b. */
bool config_differs(const struct tw_config *a, const struct tw_config *b,
		    const struct tw_config_key *key);

#endif
