/* tcpwatch stats: the daemon's own counters. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cmd_stats(const struct cli_opts *o, int argc, char **argv)
{
	const cJSON *item;
	char *body;
	size_t len;
	cJSON *s;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "tcpwatch stats: takes no arguments\n");
		return 2;
	}
	body = cli_fetch(o, "/api/v1/stats", &len);
	if (!body)
		return 1;
	if (o->json) {
		fwrite(body, 1, len, stdout);
		free(body);
		return 0;
	}
	s = cJSON_ParseWithLength(body, len);
	free(body);
	if (!s) {
		fprintf(stderr, "tcpwatch stats: malformed reply\n");
		return 1;
	}
	cJSON_ArrayForEach(item, s)
	{
		if (cJSON_IsNumber(item))
			printf("%-28s %.15g\n", item->string, item->valuedouble);
		else if (cJSON_IsString(item))
			printf("%-28s %s\n", item->string, item->valuestring);
	}
	cJSON_Delete(s);
	return 0;
}
