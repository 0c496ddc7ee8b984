/*
 * libFuzzer target: the state file (daemon/table/persist.c). Whatever the
 * bytes, loading never reads past them, never crashes or leaks, and a
 * refused file leaves the table as it was; one that loads must save and
 * load again. Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, so the
 * checksums pass and mutations reach the field checks behind them. The
 * clock is the seed files' (their boot id, a save time before "now").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "persist.h"

static const struct tw_persist_clock now = {
	.realtime_ns = 1900000000000000000ull,
	.monotonic_ns = 4000000000000000ull,
	.boot_id = {0x7c, 0x1e, 0x5a, 0x42, 0x10, 0x01, 0x4d, 0x2b, 0x9e, 0x33, 0x61, 0x0f, 0xa4,
		    0x58, 0xc2, 0x17},
};

static struct tw_conntable *table(void)
{
	static const struct tw_conntable_limits limits = {
		.max_live = 256,
		.max_requests = 64,
		.retain_count = 64,
		.retain_age_ns = 1ull << 62,
		.history_max = 16,
	};

	return conntable_new(&limits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_persist_load_stats ls;
	struct tw_persist_save_stats ss;
	struct tw_conntable *t = table(), *u;
	char err[256];
	FILE *f;

	if (!t)
		return 0;
	f = fmemopen((void *)data, size ? size : 1, "rb");
	if (f && size && persist_load(t, f, &now, &ls, err, sizeof(err)) == 0) {
		/* Loaded: what it holds saves and loads again. */
		char *buf = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&buf, &len);

		if (out && persist_save(t, out, &now, &ss) == 0 && fflush(out) == 0) {
			FILE *in = fmemopen(buf, len ? len : 1, "rb");

			u = table();
			if (in && u && persist_load(u, in, &now, &ls, err, sizeof(err)) != 0)
				__builtin_trap(); /* our own file refused */
			if (in)
				fclose(in);
			conntable_free(u);
		}
		if (out)
			fclose(out);
		free(buf);
	}
	if (f)
		fclose(f);
	conntable_free(t);
	return 0;
}
