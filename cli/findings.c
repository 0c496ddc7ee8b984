/* tcpwatch findings: what deserves an operator's attention, explained. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cmd_findings(const struct cli_opts *o, int argc, char **argv)
{
	const cJSON *list, *f;
	char *body;
	size_t len;
	cJSON *root;
	int n = 0;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "tcpwatch findings: takes no arguments\n");
		return 2;
	}
	body = cli_fetch(o, "/api/v1/findings", &len);
	if (!body)
		return 1;
	if (o->json) {
		fwrite(body, 1, len, stdout);
		free(body);
		return 0;
	}
	root = cJSON_ParseWithLength(body, len);
	free(body);
	if (!root) {
		fprintf(stderr, "tcpwatch findings: malformed reply\n");
		return 1;
	}
	list = cJSON_GetObjectItem(root, "findings");
	cJSON_ArrayForEach(f, list)
	{
		const cJSON *procs = cJSON_GetObjectItem(f, "processes"), *p;
		const cJSON *conns = cJSON_GetObjectItem(f, "connections"), *c;
		int k = 0;

		printf("%s%s: %s\n", n++ ? "\n" : "", json_str(f, "kind", "?"),
		       json_str(f, "summary", ""));
		printf("  why: %s\n", json_str(f, "explanation", ""));
		printf("  processes:");
		cJSON_ArrayForEach(p, procs)
		printf(" %s (pid %.0f)", json_str(p, "comm", "?"), json_num(p, "pid", 0));
		if (!cJSON_GetArraySize(procs))
			printf(" unknown");
		printf("\n  connections:");
		cJSON_ArrayForEach(c, conns)
		{
			if (k++ == 8) {
				printf(" ...");
				break;
			}
			printf(" %.0f", c->valuedouble);
		}
		printf("  (tcpwatch show COOKIE)\n");
	}
	if (!n)
		printf("no findings\n");
	cJSON_Delete(root);
	return 0;
}
