/*
 * libFuzzer target: ring-buffer records. The BPF side is ours, but the
 * decoder must never read past a record, and whatever decodes (any state
 * numbers, flags, families, cookies, in any order) must apply to the table
 * without a crash or a leak. The input is a series of records, each
 * preceded by one length byte.
 */
#include <stdint.h>
#include <string.h>

#include "conntable.h"
#include "events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tw_conntable_limits limits = {
		.max_live = 64,
		.retain_count = 8,
		.retain_age_ns = 1000000000ull,
		.history_max = 8,
	};
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_event_stats st;
	struct tw_event e;

	if (!t)
		return 0;
	memset(&st, 0, sizeof(st));
	while (size > 0) {
		size_t len = data[0];
		uint8_t rec[256];

		data++;
		size--;
		if (len > size)
			len = size;
		/* A copy of exactly len bytes: ASan sees any read past it. */
		memcpy(rec, data, len);
		if (events_decode(rec, len, &e) == 0) {
			/* Keep cookies few, so that events meet the same
			 * connections. */
			e.cookie %= 16;
			events_apply(t, &e, &st);
		}
		data += len;
		size -= len;
	}
	conntable_expire(t, UINT64_MAX);
	conntable_free(t);
	return 0;
}
