/* SIGHUP: the configuration read again, applied where it can change live. */
#include <string.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"

void daemon_apply_limits(struct tw_daemon *d)
{
	d->findings = (struct tw_findings_config){
		.close_wait_threshold_ms = d->cfg.close_wait_threshold_ms,
		.time_wait_pileup = d->cfg.time_wait_pileup,
		.fin_wait2_pileup = d->cfg.fin_wait2_pileup,
		.connect_failures = d->cfg.connect_failures,
		.peer_resets = d->cfg.peer_resets,
		.accept_queue_pct = d->cfg.accept_queue_pct,
		.accept_wait_ms = d->cfg.accept_wait_threshold_ms,
		.window_ms = d->cfg.findings_window_ms,
		.handshake_ratio = d->cfg.handshake_slow_ratio,
	};
	if (d->table)
		conntable_set_retention(d->table, d->cfg.retain_count,
					(uint64_t)d->cfg.retain_age_s * NSEC_PER_SEC);
	log_set_level(d->cfg.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
}

void daemon_reload(struct tw_daemon *d)
{
	struct tw_config next;
	char err[512] = "";
	unsigned changed = 0;

	config_defaults(&next);
	if (config_parse_args(&next, d->argc, d->argv, err, sizeof(err)) != 0) {
		d->reload_failures++;
		log_err("reload: %s; the settings stay as they were", err);
		return;
	}
	for (const struct tw_config_key *k = tw_config_keys; k->name; k++) {
		if (!config_differs(&d->cfg, &next, k))
			continue;
		if (!k->live) {
			log_warn("reload: %s changed, but takes effect only after a restart",
				 k->name);
			/* Keep the running value, so the next reload says it again. */
			memcpy((char *)&next + k->offset, (char *)&d->cfg + k->offset, k->size);
			continue;
		}
		log_info("reload: %s changed", k->name);
		changed++;
	}
	if (next.reconcile_interval_ms != d->cfg.reconcile_interval_ms)
		loop_timer_set(d->loop, d->reconcile_timer, next.reconcile_interval_ms,
			       next.reconcile_interval_ms);
	d->cfg = next;
	daemon_apply_limits(d);
	conntable_expire(d->table, clock_mono_ns());
	d->reloads++;
	log_info("reloaded %s: %u setting%s changed",
		 d->cfg.config_path[0] ? d->cfg.config_path : "the flags", changed,
		 changed == 1 ? "" : "s");
}
