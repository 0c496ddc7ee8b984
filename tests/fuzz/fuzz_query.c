/*
 * libFuzzer target: everything an API client controls in a listing
 * request. The input is split at '&' into key=value pairs fed to
 * filter_set() (which parses ss expressions for filter=), and parsed whole
 * as an ss expression; whatever parses is evaluated on a connection.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "ssfilter.h"

static void match_all(const struct tw_filter *f, const struct tw_ssfilter *e)
{
	struct tw_conn c;
	struct tw_ssf_sock s;

	memset(&c, 0, sizeof(c));
	c.family = AF_INET;
	c.state = TW_TCP_ESTABLISHED;
	c.local_addr[0] = 127;
	c.local_addr[3] = 1;
	c.remote_addr[0] = 127;
	c.remote_addr[3] = 1;
	c.local_port = 443;
	c.remote_port = 40000;
	c.cookie = 7;
	filter_match(f, &c);
	s = (struct tw_ssf_sock){.family = AF_INET,
				 .local_addr = c.local_addr,
				 .remote_addr = c.remote_addr,
				 .local_port = 443,
				 .remote_port = 40000};
	ssfilter_match(e, &s);
	c.family = AF_INET6;
	s.family = AF_INET6;
	filter_match(f, &c);
	ssfilter_match(e, &s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *save = NULL, *pair, err[256];
	struct tw_filter *f = malloc(sizeof(*f));
	struct tw_ssfilter *e = malloc(sizeof(*e));
	struct tw_ssf_error se;

	if (!text || !f || !e)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ssfilter_parse(e, text, &se) < 0)
		e->root = -1;
	filter_init(f);
	for (pair = strtok_r(text, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');

		if (eq)
			*eq++ = '\0';
		filter_set(f, pair, eq, err, sizeof(err));
	}
	match_all(f, e);
out:
	free(text);
	free(f);
	free(e);
	return 0;
}
