/* The daemon's figures for /api/v1/stats, gathered from every layer. */
#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

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

void daemon_collect_stats(struct tw_stats *s, void *daemon)
{
	struct tw_daemon *d = daemon;
	struct tw_loop_stats ls;

	stats_text(s, "version", TCPWATCH_VERSION);
	stats_gauge(s, "uptime_s", (clock_mono_ns() - d->start_mono_ns) / NSEC_PER_SEC);
	events_report(&d->ev, s);
	bpfload_report(d->bpf, s);
	sync_report(d->sync, s);
	conntable_report(d->table, s);
	stats_gauge(s, "rss_bytes", rss_bytes());
	loop_get_stats(d->loop, &ls);
	stats_counter(s, "loop_iterations", ls.iterations);
	stats_real(s, "loop_max_ms", (double)ls.busy_max_ns / 1e6);
	stats_counter(s, "config_reloads", d->reloads);
	stats_counter(s, "config_reload_failures", d->reload_failures);
}
