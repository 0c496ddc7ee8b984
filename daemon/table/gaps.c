#include <string.h>

#include "gaps.h"

void gaps_init(struct tw_gaps *g)
{
	memset(g, 0, sizeof(*g));
}

void gaps_note(struct tw_gaps *g, uint64_t start_ns, uint64_t end_ns)
{
	uint32_t last = (g->first + g->n - 1) % TW_GAPS_MAX, slot;

	if (end_ns < start_ns)
		end_ns = start_ns;
	g->noted++;
	if (g->n && start_ns <= g->end_ns[last] && end_ns >= g->start_ns[last]) {
		if (start_ns < g->start_ns[last])
			g->start_ns[last] = start_ns;
		if (end_ns > g->end_ns[last])
			g->end_ns[last] = end_ns;
		return;
	}
	if (g->n == TW_GAPS_MAX) {
		if (g->end_ns[g->first] > g->forgotten_end_ns)
			g->forgotten_end_ns = g->end_ns[g->first];
		g->first = (g->first + 1) % TW_GAPS_MAX;
		g->n--;
	}
	slot = (g->first + g->n) % TW_GAPS_MAX;
	g->start_ns[slot] = start_ns;
	g->end_ns[slot] = end_ns;
	g->n++;
}

bool gaps_overlap(const struct tw_gaps *g, uint64_t from_ns, uint64_t to_ns)
{
	if (g->forgotten_end_ns && from_ns <= g->forgotten_end_ns)
		return true;
	for (uint32_t i = 0; i < g->n; i++) {
		uint32_t k = (g->first + i) % TW_GAPS_MAX;

		if (g->start_ns[k] <= to_ns && g->end_ns[k] >= from_ns)
			return true;
	}
	return false;
}
