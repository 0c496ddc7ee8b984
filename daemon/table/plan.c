/*
 * The query planner (filter_plan_cookies, filter.h): which connections a
 * listing reads. Apart from filter.c, which the fuzzers build alone.
 */
#include <errno.h>
#include <stdint.h>

#include "filter.h"

static bool matches(const struct tw_conn *c, const void *f)
{
	return filter_match(f, c);
}

/* An index that cannot answer (its heads could not be allocated) means a
 * scan, as a query without a port. Either way the filter is applied while
 * the cookies are gathered (each record read once, only matches sorted);
 * the listing applies it again as it writes, since the table changes
 * between its chunks. */
uint64_t *filter_plan_cookies(struct tw_conntable *t, const struct tw_filter *f, size_t *ret_n)
{
	bool (*keep)(const struct tw_conn *, const void *) =
		filter_is_everything(f) ? NULL : matches;
	int32_t ports[TW_PORT_SIDES];
	enum tw_port_side side;
	uint64_t *v;

	filter_required_ports(f, ports);
	if (ports[TW_PORT_LOCAL] >= 0 && ports[TW_PORT_REMOTE] >= 0) {
		size_t local = conntable_port_count(t, TW_PORT_LOCAL,
						    (uint16_t)ports[TW_PORT_LOCAL], SIZE_MAX);

		side = conntable_port_count(t, TW_PORT_REMOTE, (uint16_t)ports[TW_PORT_REMOTE],
					    local) < local
			       ? TW_PORT_REMOTE
			       : TW_PORT_LOCAL;
	} else if (ports[TW_PORT_LOCAL] >= 0) {
		side = TW_PORT_LOCAL;
	} else if (ports[TW_PORT_REMOTE] >= 0) {
		side = TW_PORT_REMOTE;
	} else {
		return conntable_cookies_where(t, keep, f, ret_n);
	}
	v = conntable_port_cookies_where(t, side, (uint16_t)ports[side], keep, f, ret_n);
	if (!v && errno == ENOENT)
		return conntable_cookies_where(t, keep, f, ret_n);
	return v;
}

bool filter_plan_scans(const struct tw_filter *f)
{
	int32_t ports[TW_PORT_SIDES];

	filter_required_ports(f, ports);
	return ports[TW_PORT_LOCAL] < 0 && ports[TW_PORT_REMOTE] < 0;
}
