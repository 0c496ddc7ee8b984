/*
 * The state file: the table saved across a restart (table/persist.h) in
 * state-dir, as "state". Written whole to "state.tmp", synced, renamed
 * over "state", and the directory synced, so the file is always the last
 * whole save or the one before it. A file that does not load (corrupt,
 * truncated, of a newer version) is renamed "state.bad-TIMESTAMP", said
 * in the log and counted: never fatal.
 */
#ifndef TCPWATCH_STATEFILE_H
#define TCPWATCH_STATEFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "conntable.h"
#include "stats.h"

struct tw_statefile {
	bool enabled; /* a directory is set and the boot id is known */
	char dir[256];
	uint8_t boot_id[16];
	uint64_t saves;         /* whole saves */
	uint64_t save_errors;   /* saves that failed (the previous file stays) */
	uint64_t loaded;        /* records restored at start */
	uint64_t load_errors;   /* files that did not load */
	uint64_t set_aside;     /* of them renamed state.bad-TIMESTAMP */
	uint64_t restored_live; /* live connections restored at start */
	double last_save_ms;    /* how long the last save took */
};

/* Sets sf up for dir ("" or "none": off). Logs why it is off if the boot
 * id cannot be read. */
void statefile_init(struct tw_statefile *sf, const char *dir);
/* Loads the state file into t (empty, before the first reconcile). A
 * missing file is no error; a bad one is set aside. Logs what it did. */
void statefile_load(struct tw_statefile *sf, struct tw_conntable *t);
/* Saves t. 0 or negative errno (logged, counted). */
int statefile_save(struct tw_statefile *sf, struct tw_conntable *t);
/* Adds the state_* figures to s. */
void statefile_report(const struct tw_statefile *sf, struct tw_stats *s);

#endif
