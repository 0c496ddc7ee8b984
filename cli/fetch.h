/* What every subcommand uses to ask the daemon and read its answer. */
#ifndef TCPWATCH_CLI_FETCH_H
#define TCPWATCH_CLI_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "opts.h"

/* GETs path and, unless the status is 2xx, prints the daemon's error.
 * Returns the body (caller frees) or NULL. */
char *cli_fetch(const struct cli_opts *o, const char *path, size_t *ret_len);

/* GETs path; with --json prints the body as is and returns 0. Otherwise
 * parses it into *ret (caller deletes, made safe as cli_json_parse does)
 * and returns 1. -1 on failure (printed). */
int cli_fetch_json(const struct cli_opts *o, const char *path, const char *cmd, cJSON **ret);

/* Parses an answer of the daemon and makes every key and string in it
 * safe for a terminal (cli_json_make_safe): whatever the CLI prints of it,
 * through any accessor, carries no control byte. NULL if malformed. */
cJSON *cli_json_parse(const char *s, size_t len);
/* Every key and string of j and what follows it escaped as \xHH where it
 * holds a control byte (C0, DEL, C1) or a backslash, as tw_fmt_escaped. */
void cli_json_make_safe(cJSON *j);

/* GETs path; true if the daemon answered 2xx (nothing printed). */
bool cli_fetch_quiet_ok(const struct cli_opts *o, const char *path);

/* Field accessors tolerant of missing or null fields. */
const char *json_str(const cJSON *obj, const char *key, const char *fallback);
double json_num(const cJSON *obj, const char *key, double fallback);
/* A count: a number in 0..UINT64_MAX (fraction dropped), else fallback. */
uint64_t json_u64(const cJSON *obj, const char *key, uint64_t fallback);

/* A string field of a parsed answer (already safe for a terminal, see
 * cli_json_parse), copied into out; fallback when missing. Returns out. */
const char *json_str_safe(const cJSON *obj, const char *key, const char *fallback, char *out,
			  size_t len);
/* ADDR:PORT or [ADDR6]:PORT from an object's addr_key and port_key. */
const char *json_endpoint(const cJSON *obj, const char *addr_key, const char *port_key, char *out,
			  size_t len);

#endif
