/* The daemon's figures for /api/v1/stats, gathered from every layer. */
#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "drops.h"

static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long pages = 0, resident = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* drop_<REASON>: drops of TCP packets by reason, host-wide, from the BPF
 * side's per-CPU counters (exact even when the ring overflows); the
 * reasons seen so far only. The names live as long as the process. */
/* "12 lost of 345678 (cpu0 12, cpu1 0; 0 nested)": the ring overflows of
 * each CPU, and the kernel's recursion misses (a program already running
 * on that CPU), against the events received. */
/* "events 1.204, http 0.310, ...": each handler's longest call, in ms;
 * "events 12, http 0, ...": its calls of 5 ms or more. */
static void loop_text(struct tw_daemon *d, struct tw_stats *s)
{
	const char *names[TW_LOOP_NAMES];
	uint64_t max_ns[TW_LOOP_NAMES], over[TW_LOOP_NAMES], cpu[TW_LOOP_NAMES];
	size_t n = loop_handler_max(d->loop, names, max_ns, over, cpu, TW_LOOP_NAMES), k = 0, m = 0,
	       c = 0;

	d->loop_text[0] = d->loop_over_text[0] = d->loop_cpu_text[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int w = k < sizeof(d->loop_text)
				? snprintf(d->loop_text + k, sizeof(d->loop_text) - k, "%s%s %.3f",
					   i ? ", " : "", names[i], (double)max_ns[i] / 1e6)
				: 0;
		int v = m < sizeof(d->loop_over_text)
				? snprintf(d->loop_over_text + m, sizeof(d->loop_over_text) - m,
					   "%s%s %llu", i ? ", " : "", names[i],
					   (unsigned long long)over[i])
				: 0;

		int u = c < sizeof(d->loop_cpu_text)
				? snprintf(d->loop_cpu_text + c, sizeof(d->loop_cpu_text) - c,
					   "%s%s %llu", i ? ", " : "", names[i],
					   (unsigned long long)cpu[i])
				: 0;

		k += w > 0 ? (size_t)w : 0;
		m += v > 0 ? (size_t)v : 0;
		c += u > 0 ? (size_t)u : 0;
	}
	stats_text(s, "loop_handlers_max_ms", d->loop_text);
	stats_text(s, "loop_handlers_over_5ms", d->loop_over_text);
	stats_text(s, "loop_handlers_cpu_over_5ms", d->loop_cpu_text);
}

static void loss_text(struct tw_daemon *d, const struct tw_bpf_losses *l, struct tw_stats *s)
{
	/* events_lost_cpuN, a counter per CPU too (the metrics' cpu label).
	 * The names live as long as the process. */
	static char names[256][32];
	uint64_t cpu[256];
	int n = bpfload_lost_per_cpu(d->bpf, cpu, 256);
	size_t len = sizeof(d->loss_text), k;

	for (int i = 0; i < n; i++) {
		if (!names[i][0])
			snprintf(names[i], sizeof(names[i]), "events_lost_cpu%d", i);
		stats_counter(s, names[i], cpu[i]);
	}
	k = (size_t)snprintf(d->loss_text, len, "%llu lost of %llu (",
			     (unsigned long long)(l->ring + l->nested),
			     (unsigned long long)d->ev.received);
	for (int i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(d->loss_text + k, len - k, "%scpu%d %llu", i ? ", " : "", i,
				      (unsigned long long)cpu[i]);
	if (k < len)
		snprintf(d->loss_text + k, len - k, "; %llu nested)",
			 (unsigned long long)l->nested);
	stats_text(s, "events_loss", d->loss_text);
}

static void drop_stats(struct tw_daemon *d, struct tw_stats *s)
{
	static char names[TW_DROP_REASONS][48];
	uint64_t v[TW_DROP_REASONS], total = 0;
	char buf[32];

	if (bpfload_drops(d->bpf, v, TW_DROP_REASONS) < 0)
		return;
	for (unsigned r = 0; r < TW_DROP_REASONS; r++)
		total += v[r];
	stats_counter(s, "drops_total", total);
	for (unsigned r = 0; r < TW_DROP_REASONS; r++) {
		if (!v[r])
			continue;
		if (!names[r][0])
			snprintf(names[r], sizeof(names[r]), "drop_%s",
				 drops_name(r, buf, sizeof(buf)));
		stats_counter(s, names[r], v[r]);
	}
}

void daemon_collect_stats(struct tw_stats *s, void *daemon)
{
	struct tw_daemon *d = daemon;
	struct tw_bpf_losses losses;
	struct tw_loop_stats ls;

	stats_text(s, "version", TCPWATCH_VERSION);
	stats_gauge(s, "uptime_s", (clock_mono_ns() - d->start_mono_ns) / NSEC_PER_SEC);
	/* From main's entry to READY=1: the table complete (the first
	 * reconcile pass is part of daemon_open), the API listening. */
	stats_real(s, "startup_ms",
		   d->ready_mono_ns > d->main_mono_ns
			   ? (double)(d->ready_mono_ns - d->main_mono_ns) / 1e6
			   : 0);
	events_report(&d->ev, s);
	bpfload_losses(d->bpf, &losses);
	bpfload_report(d->bpf, &losses, s);
	loss_text(d, &losses, s);
	sync_report(d->sync, s);
	tasks_report(d->tasks, s);
	conntable_report(d->table, s);
	statefile_report(&d->state, s);
	stats_gauge(s, "rss_bytes", rss_bytes());
	loop_get_stats(d->loop, &ls);
	stats_counter(s, "loop_iterations", ls.iterations);
	stats_real(s, "loop_max_ms", (double)ls.busy_max_ns / 1e6);
	stats_text(s, "loop_max_handler", ls.max_handler ? ls.max_handler : "");
	stats_real(s, "loop_max_handler_ms", (double)ls.max_handler_ns / 1e6);
	stats_real(s, "loop_max_turn_cpu_ms", (double)ls.busy_max_cpu_ns / 1e6);
	stats_real(s, "loop_max_cpu_ms", (double)ls.cpu_max_ns / 1e6);
	stats_counter(s, "loop_cpu_over_5ms", ls.cpu_over_5ms);
	stats_text(s, "loop_max_cpu_handler", ls.cpu_max_handler ? ls.cpu_max_handler : "");
	stats_real(s, "loop_max_cpu_handler_ms", (double)ls.cpu_max_handler_ns / 1e6);
	loop_text(d, s);
	/* The distribution of a turn's busy time: quantiles (each the top of
	 * its 12.5 %-wide bucket) and counts over fixed bounds. */
	stats_real(s, "loop_p50_ms", (double)loop_busy_quantile_us(&ls, 0.5) / 1e3);
	stats_real(s, "loop_p99_ms", (double)loop_busy_quantile_us(&ls, 0.99) / 1e3);
	stats_real(s, "loop_p999_ms", (double)loop_busy_quantile_us(&ls, 0.999) / 1e3);
	stats_counter(s, "loop_over_1ms", loop_busy_at_least(&ls, 1000));
	stats_counter(s, "loop_over_5ms", loop_busy_at_least(&ls, 5000));
	stats_counter(s, "loop_over_50ms", loop_busy_at_least(&ls, 50000));
	stats_counter(s, "loop_over_500ms", loop_busy_at_least(&ls, 500000));
	drop_stats(d, s);
	if (d->prober)
		prober_report(d->prober, s);
	stats_gauge(s, "drop_reason_names", d->drop_reasons > 0 ? (uint64_t)d->drop_reasons : 0);
	stats_counter(s, "reconcile_early_deferred", d->early_deferred);
	stats_counter(s, "config_reloads", d->reloads);
	stats_counter(s, "config_reload_failures", d->reload_failures);
}
