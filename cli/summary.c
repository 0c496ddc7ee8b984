#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colour.h"
#include "fetch.h"
#include "kernel.h"
#include "summary.h"

static uint64_t sum(const uint64_t *v, int n)
{
	uint64_t t = 0;

	for (int i = 0; i < n; i++)
		t += v[i];
	return t;
}

void summary_print(const struct summary_counts *c, bool colour)
{
	uint64_t fam[2], open, closed = c->closed[0] + c->closed[1];
	uint64_t estab = c->states[0][TW_TCP_ESTABLISHED] + c->states[1][TW_TCP_ESTABLISHED];
	uint64_t tw = c->states[0][TW_TCP_TIME_WAIT] + c->states[1][TW_TCP_TIME_WAIT];
	char orphaned[24] = "-", closed_text[24] = "-";

	fam[0] = sum(c->states[0], TW_TCP_MAX_STATES);
	fam[1] = sum(c->states[1], TW_TCP_MAX_STATES);
	open = fam[0] + fam[1];
	if (c->has_closed)
		snprintf(closed_text, sizeof(closed_text), "%" PRIu64, closed);
	if (c->has_orphaned)
		snprintf(orphaned, sizeof(orphaned), "%" PRIu64, c->orphaned);
	printf("Total: %" PRIu64 "\n", open + closed);
	printf("TCP:   %" PRIu64 " (estab %" PRIu64 ", closed %s, orphaned %s, timewait %" PRIu64
	       ")\n\n",
	       open, estab, closed_text, orphaned, tw);
	printf("%s%-12s %8s %8s %8s%s\n", colour ? COLOUR_BOLD : "", "State", "Total", "IPv4",
	       "IPv6", colour ? COLOUR_RESET : "");
	for (int s = 1; s < TW_TCP_MAX_STATES; s++) {
		const char *name = tcpstate_ss_name(s), *esc;

		if (s == TW_TCP_NEW_SYN_RECV || !(c->states[0][s] + c->states[1][s]))
			continue;
		esc = colour ? colour_of_state(name, strlen(name)) : "";
		printf("%s%-12s%s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", esc, name,
		       *esc ? COLOUR_RESET : "", c->states[0][s] + c->states[1][s], c->states[0][s],
		       c->states[1][s]);
	}
	if (c->has_closed && closed)
		printf("%-12s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", "CLOSED", closed,
		       c->closed[0], c->closed[1]);
	printf("%-12s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", "TCP", open + closed,
	       fam[0] + c->closed[0], fam[1] + c->closed[1]);
}

void summary_from_json(const cJSON *root, struct summary_counts *ret)
{
	static const char *const fams[2] = {"inet", "inet6"};

	memset(ret, 0, sizeof(*ret));
	ret->has_closed = true;
	for (int f = 0; f < 2; f++) {
		const cJSON *fo = cJSON_GetObjectItemCaseSensitive(root, fams[f]);
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(fo, "states");

		ret->closed[f] = json_u64(fo, "closed", 0);
		for (int s = 1; s < TW_TCP_MAX_STATES; s++)
			ret->states[f][s] = json_u64(st, tcpstate_name(s), 0);
	}
}

int summary_from_daemon(const struct cli_opts *o, const char *query, bool colour)
{
	char path[4096];
	struct summary_counts c;
	cJSON *root;
	int r;

	snprintf(path, sizeof(path), "/api/v1/summary%s", query);
	r = cli_fetch_json(o, path, "list", &root);
	if (r <= 0)
		return r < 0 ? 1 : 0;
	summary_from_json(root, &c);
	cJSON_Delete(root);
	summary_print(&c, colour);
	return 0;
}

int summary_from_kernel(const struct cli_opts *o, const char *query, bool colour)
{
	struct kernel_counts k;
	struct summary_counts c = {.has_orphaned = true};

	if (kernel_count(query, &k) < 0)
		return 1;
	for (int f = 0; f < 2; f++)
		for (int s = 1; s < TW_TCP_MAX_STATES; s++)
			c.states[f][s == TW_TCP_NEW_SYN_RECV ? TW_TCP_SYN_RECV : s] +=
				k.by_family[f][s];
	c.orphaned = k.orphaned;
	if (o->json) {
		static const char *const fams[2] = {"inet", "inet6"};
		uint64_t total = 0;

		for (int f = 0; f < 2; f++)
			total += sum(c.states[f], TW_TCP_MAX_STATES);
		printf("{\"total\":%" PRIu64 ",\"open\":%" PRIu64
		       ",\"closed\":null,\"orphaned\":%" PRIu64,
		       total, total, c.orphaned);
		for (int f = 0; f < 2; f++) {
			bool first = true;

			printf(",\"%s\":{\"total\":%" PRIu64 ",\"closed\":null,\"states\":{",
			       fams[f], sum(c.states[f], TW_TCP_MAX_STATES));
			for (int s = 1; s < TW_TCP_MAX_STATES; s++) {
				if (!c.states[f][s])
					continue;
				printf("%s\"%s\":%" PRIu64, first ? "" : ",", tcpstate_name(s),
				       c.states[f][s]);
				first = false;
			}
			printf("}}");
		}
		printf("}\n");
		return 0;
	}
	summary_print(&c, colour);
	return 0;
}
