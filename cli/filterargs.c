#include <stdio.h>
#include <string.h>

#include "client.h"
#include "filterargs.h"
#include "tcpstate.h"

int filter_args_take(struct filter_args *fa, int argc, char **argv, int *i, const char *cmd)
{
	const char *a = argv[*i];

	if (!strcmp(a, "state") || !strcmp(a, "exclude")) {
		uint32_t m;

		if (*i + 1 == argc) {
			fprintf(stderr, "tcpwatch %s: %s needs a state name\n", cmd, a);
			return -1;
		}
		m = tcpstate_parse_mask(argv[++*i]);
		if (!m) {
			fprintf(stderr,
				"tcpwatch %s: unknown state '%s' (established, syn-sent, syn-recv, "
				"fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, "
				"listening, closing, or all, connected, synchronized, bucket, "
				"big)\n",
				cmd, argv[*i]);
			return -1;
		}
		if (!strcmp(a, "state"))
			fa->states |= m;
		else
			fa->excluded |= m;
		return 1;
	}
	if (a[0] == '-' && a[1] && strcmp(a, "-") && !(a[1] >= '0' && a[1] <= '9'))
		return 0; /* an option */
	if (strlen(fa->expr) + strlen(a) + 2 > sizeof(fa->expr)) {
		fprintf(stderr, "tcpwatch %s: filter expression too long\n", cmd);
		return -1;
	}
	if (*fa->expr)
		strcat(fa->expr, " ");
	strcat(fa->expr, a);
	return 1;
}

int filter_args_check(const struct filter_args *fa, const char *cmd)
{
	struct tw_ssfilter f;
	struct tw_ssf_error e;

	if (ssfilter_parse(&f, fa->expr, &e) == 0)
		return 0;
	fprintf(stderr, "tcpwatch %s: bad filter: %s\n  %s\n  %*s^\n", cmd, e.message, fa->expr,
		e.offset, "");
	return -1;
}

int filter_args_query(const struct filter_args *fa, uint32_t default_mask, char *q, size_t len,
		      const char *cmd)
{
	uint32_t mask = (fa->states ? fa->states : default_mask) & ~fa->excluded;
	char names[512] = "";

	for (int s = 1; s < TW_TCP_MAX_STATES; s++) {
		if (!(mask & TW_STATE_BIT(s)) || s == TW_TCP_NEW_SYN_RECV ||
		    s == TW_TCP_BOUND_INACTIVE)
			continue;
		if (*names)
			strcat(names, ",");
		strcat(names, tcpstate_name(s));
	}
	if (!*names) {
		fprintf(stderr, "tcpwatch %s: every state is excluded\n", cmd);
		return -1;
	}
	query_add(q, len, "state", names);
	if (*fa->expr)
		query_add(q, len, "filter", fa->expr);
	return 0;
}
