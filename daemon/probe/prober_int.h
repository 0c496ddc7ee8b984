/* The engine's state, shared by prober.c (the probes) and jobs.c (targets,
 * limits, the API's side). */
#ifndef TCPWATCH_PROBER_INT_H
#define TCPWATCH_PROBER_INT_H

#include "internal.h"

struct tw_prober {
	struct tw_loop *loop;
	struct tw_prober_hooks hooks;
	int timer;
	uint8_t key[16]; /* the ISNs' secret, drawn at start */
	uint32_t ts_offset;
	uint32_t serial;
	uint32_t self_netns;
	uint16_t port_min, nports;
	uint32_t max_ctxs;
	struct probe_ctx *ctxs;
	uint32_t n_ctxs;
	struct tw_probe_target *targets; /* configured first, then jobs, oldest first */
	uint32_t n_configured, n_jobs;
	uint32_t next_id;
	struct probe_flight *live;
	uint64_t n_live;
	/* limits */
	double rate; /* probes/s, all targets */
	double tokens;
	uint64_t tokens_ns;
	uint64_t min_interval_ns;
	uint32_t max_jobs, max_count, history;
	struct tw_allow allow;
	char token[128];
	struct probe_counters n;
	/* Loaded at start-up, while the daemon may still load BPF (its
	 * capabilities drop after start-up); NULL with the reason in
	 * halfopen_err where it cannot be. */
	struct probe_halfopen *halfopen;
	char halfopen_err[160];
	uint64_t jobs_started;
};

void prober_reschedule(struct tw_prober *p);
void prober_on_timer(struct tw_loop *l, void *data);
/* A raw socket is readable (prober.c). */
void prober_on_readable(struct tw_loop *l, int fd, uint32_t events, void *data);
struct probe_ctx *prober_ctx(struct tw_prober *p, uint32_t netns, const char *path, char *err,
			     size_t err_len);
void prober_close_ctxs(struct tw_prober *p);
void prober_close_idle(struct tw_prober *p);
void prober_init_secrets(struct tw_prober *p);
void prober_drop_flights(struct tw_prober *p, struct tw_probe_target *t);

#endif
