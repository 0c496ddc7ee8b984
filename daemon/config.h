/* tcpwatchd settings: defaults, the INI file, then command-line flags. */
#ifndef TCPWATCH_CONFIG_H
#define TCPWATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_DEFAULT_SOCKET "/run/tcpwatch/tcpwatchd.sock"
#define TW_DEFAULT_LISTEN "127.0.0.1:9466"
#define TW_DEFAULT_CONFIG "/etc/tcpwatch/tcpwatchd.conf"

struct tw_config {
	char socket_path[108];       /* sun_path */
	char listen[64];             /* ADDR:PORT, or "none" */
	char config_path[256];
	bool foreground;
	bool debug;
	uint32_t reconcile_interval_ms;
	uint32_t retain_count;
	uint32_t retain_age_s;
	uint32_t max_connections;    /* live connections tracked */
	uint32_t history_max;
	uint32_t ringbuf_kb;
	uint32_t max_netns;
	uint32_t max_clients;        /* concurrent HTTP connections */
	uint32_t netns_filter;       /* 0 = every namespace */
	/* findings thresholds */
	uint32_t close_wait_threshold_ms;
	uint32_t time_wait_pileup;
	uint32_t fin_wait2_pileup;
	uint32_t connect_failures;
	uint32_t peer_resets;
	uint32_t max_watchers;       /* concurrent /api/v1/events streams */
};

void config_defaults(struct tw_config *c);
/*
 * Parses argv (and the config file it names, or the default one if it
 * exists). Returns 0, 1 when --help/--version was printed, or -EINVAL
 * with a message in err.
 */
int config_parse_args(struct tw_config *c, int argc, char **argv, char *err, size_t err_len);
/* Applies one key = value, as from the INI file. */
int config_set(struct tw_config *c, const char *key, const char *value, char *err, size_t err_len);
/* Loads an INI file ([tcpwatchd] section or none). -ENOENT if missing. */
int config_load_file(struct tw_config *c, const char *path, char *err, size_t err_len);

#endif
