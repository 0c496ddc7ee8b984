/* tcpwatch stats: the daemon's own counters. */
#include <stdio.h>

#include "cli.h"
#include "fetch.h"

int cmd_stats(const struct cli_opts *o, int argc, char **argv)
{
	const cJSON *item;
	cJSON *s;
	int r;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "tcpwatch stats: takes no arguments\n");
		return 2;
	}
	r = cli_fetch_json(o, "/api/v1/stats", "stats", &s);
	if (r <= 0)
		return r < 0 ? 1 : 0;
	if (!cJSON_IsObject(s)) {
		fprintf(stderr, "tcpwatch stats: malformed reply from tcpwatchd\n");
		cJSON_Delete(s);
		return 1;
	}
	cJSON_ArrayForEach (item, s) {
		if (!item->string)
			continue;
		if (cJSON_IsNumber(item))
			printf("%-28s %.15g\n", item->string, item->valuedouble);
		else if (cJSON_IsString(item))
			printf("%-28s %s\n", item->string, item->valuestring);
	}
	cJSON_Delete(s);
	return 0;
}
