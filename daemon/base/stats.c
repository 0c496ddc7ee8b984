#include <string.h>

#include "stats.h"

void stats_init(struct tw_stats *s)
{
	s->n = 0;
	s->refused = 0;
}

static struct tw_stat *next(struct tw_stats *s, const char *name, uint8_t type)
{
	struct tw_stat *st;

	if (s->n == TW_STATS_MAX) {
		s->refused++;
		return NULL;
	}
	st = &s->v[s->n++];
	st->name = name;
	st->type = type;
	return st;
}

void stats_counter(struct tw_stats *s, const char *name, uint64_t v)
{
	struct tw_stat *st = next(s, name, TW_STAT_COUNTER);

	if (st)
		st->u = v;
}

void stats_gauge(struct tw_stats *s, const char *name, uint64_t v)
{
	struct tw_stat *st = next(s, name, TW_STAT_GAUGE);

	if (st)
		st->u = v;
}

void stats_real(struct tw_stats *s, const char *name, double v)
{
	struct tw_stat *st = next(s, name, TW_STAT_REAL);

	if (st)
		st->d = v;
}

void stats_text(struct tw_stats *s, const char *name, const char *v)
{
	struct tw_stat *st = next(s, name, TW_STAT_TEXT);

	if (st)
		st->s = v;
}

const struct tw_stat *stats_find(const struct tw_stats *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}
