/*
 * The daemon's own figures as one list of named values. Each module adds
 * its own (xxx_report(..., struct tw_stats *)); /api/v1/stats writes the
 * list as one JSON object, in order, so a figure has one name everywhere
 * and is declared once, where it is counted.
 */
#ifndef TCPWATCH_STATS_H
#define TCPWATCH_STATS_H

#include <stddef.h>
#include <stdint.h>

enum tw_stat_type {
	TW_STAT_COUNTER, /* only grows */
	TW_STAT_GAUGE,   /* a value now */
	TW_STAT_REAL,    /* a measurement with a fraction (milliseconds...) */
	TW_STAT_TEXT,    /* a string, static or owned by the module */
};

struct tw_stat {
	const char *name; /* snake_case, unit in the name */
	uint8_t type;     /* enum tw_stat_type */
	union {
		uint64_t u;
		double d;
		const char *s;
	};
};

#define TW_STATS_MAX 256

struct tw_stats {
	struct tw_stat v[TW_STATS_MAX];
	size_t n;
	size_t refused; /* additions over TW_STATS_MAX (a programming error) */
};

void stats_init(struct tw_stats *s);
void stats_counter(struct tw_stats *s, const char *name, uint64_t v);
void stats_gauge(struct tw_stats *s, const char *name, uint64_t v);
void stats_real(struct tw_stats *s, const char *name, double v);
void stats_text(struct tw_stats *s, const char *name, const char *v);
/* The value of a named figure (tests, status lines); NULL if absent. */
const struct tw_stat *stats_find(const struct tw_stats *s, const char *name);

#endif
