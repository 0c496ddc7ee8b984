/*
 * The daemon's parts, as main.c wires them. Shared with the wiring's
 * helpers, core.c (all but the API), reload.c (SIGHUP) and status.c (the
 * figures of /api/v1/stats), which see every layer but http/.
 */
#ifndef TCPWATCH_DAEMON_H
#define TCPWATCH_DAEMON_H

#include <stdint.h>

#include "bpfload.h"
#include "config.h"
#include "conntable.h"
#include "events.h"
#include "findings.h"
#include "loop.h"
#include "probe.h"
#include "statefile.h"
#include "stats.h"
#include "sync.h"
#include "taskiter.h"

struct tw_http;

struct tw_daemon {
	struct tw_config cfg;
	int argc; /* for a reload: defaults, the file, then the flags again */
	char **argv;
	struct tw_loop *loop;
	struct tw_conntable *table;
	struct tw_bpf *bpf;
	struct tw_tasks *tasks; /* the task iterators, or NULL: owners from /proc */
	struct tw_sync *sync;
	struct tw_http *http;
	struct tw_prober *prober;
	struct tw_event_stats ev;
	struct tw_findings_config findings;
	int reconcile_timer;
	struct tw_statefile state; /* the table across restarts */
	uint64_t start_mono_ns;
	uint64_t main_mono_ns, ready_mono_ns; /* main's entry, READY=1 (startup_ms) */
	uint32_t ticks;
	uint64_t lost_seen;       /* events lost at the last look (daemon_check_lost) */
	uint64_t lost_checked_ns; /* that look */
	uint64_t lost_last_ns;    /* the last look that found new losses */
	uint64_t early_backoff_ns, early_next_ns; /* early reconciles after losses */
	uint64_t early_deferred;                  /* losses whose early reconcile waited */
	char loss_text[512];                      /* /api/v1/stats' events_loss */
	char loop_text[512];                      /* /api/v1/stats' loop_handlers_max_ms */
	char loop_over_text[512];                 /* and loop_handlers_over_5ms */
	char loop_cpu_text[512];                  /* and loop_handlers_cpu_over_5ms */
	uint64_t reloads, reload_failures;
	int drop_reasons; /* names read from BTF, or a negative errno */
};

/* Opens the table, the reconcile procedure and the tracer (on_record gets
 * every ring-buffer record), runs the first reconcile pass and adds their
 * handlers to a new loop. 0, or negative errno with a message in err;
 * daemon_close() undoes what was done either way. */
int daemon_open(struct tw_daemon *d, bpf_event_cb on_record, char *err, size_t err_len);
void daemon_close(struct tw_daemon *d);
/* Keeps only the capabilities still used (and becomes cfg.user if set);
 * after daemon_open and the API's sockets. 0 or negative errno. */
int daemon_drop_privileges(struct tw_daemon *d, char *err, size_t err_len);
/* Applies the events waiting in the ring buffers (a hook for the API:
 * answers include everything before the request). */
void daemon_drain(void *daemon);
/* Saves the table to the state file (state-dir), events drained first;
 * at stop and every checkpoint-interval. Failures are logged, counted. */
void daemon_save_state(struct tw_daemon *d);
/* Starts an early reconcile if events were lost since the last look. */
void daemon_check_lost(struct tw_daemon *d);

/* The findings thresholds and retention bounds of a configuration. */
void daemon_apply_limits(struct tw_daemon *d);
/* SIGHUP: reads the configuration again and applies what can change
 * live (logging what cannot). The old settings stay on any error. */
void daemon_reload(struct tw_daemon *d);
/* The daemon's figures, every layer's but HTTP's. */
void daemon_collect_stats(struct tw_stats *s, void *daemon);

#endif
