/*
 * libFuzzer target: sock_diag replies. The kernel is trusted, but the
 * parser must still never read past what it was given.
 */
#include <stdint.h>
#include <string.h>

#include "diag.h"

static void on_sock(const struct tw_ksock *s, void *data)
{
	size_t *n = data;

	*n += s->local_port + s->state;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_diag_counters counts = {0};
	size_t n = 0;
	/* mnl reads whole netlink messages: give it aligned memory. */
	static uint64_t buf[65536 / 8];

	if (size > sizeof(buf))
		size = sizeof(buf);
	memcpy(buf, data, size);
	diag_parse(buf, size, 1, 0, on_sock, &n, &counts);
	diag_parse(buf, size, 0, 1234, on_sock, &n, &counts);
	return 0;
}
