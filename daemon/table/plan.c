/*
 * The query planner (filter_plan_cookies, filter.h): which connections a
 * listing reads. Apart from filter.c, which the fuzzers build alone.
 */
#include <errno.h>
#include <stdint.h>

#include "filter.h"

/* An index that cannot answer (its heads could not be allocated) means a
 * scan, as a query without a port. */
uint64_t *filter_plan_cookies(struct tw_conntable *t, const struct tw_filter *f, size_t *ret_n)
{
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
		return conntable_sorted_cookies(t, ret_n);
	}
	v = conntable_port_cookies(t, side, (uint16_t)ports[side], ret_n);
	if (!v && errno == ENOENT)
		return conntable_sorted_cookies(t, ret_n);
	return v;
}
