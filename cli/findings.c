/* tcpwatch findings: what deserves an operator's attention, explained. */
#include <stdio.h>

#include "cli.h"
#include "fetch.h"

void findings_print(const cJSON *root)
{
	const cJSON *list = cJSON_GetObjectItem(root, "findings"), *f;
	int n = 0;

	cJSON_ArrayForEach (f, list) {
		const cJSON *procs = cJSON_GetObjectItem(f, "processes"), *p;
		const cJSON *conns = cJSON_GetObjectItem(f, "connections"), *c;
		char kind[64], text[2048];
		int k = 0;

		printf("%s%s: %s\n", n++ ? "\n" : "",
		       json_str_safe(f, "kind", "?", kind, sizeof(kind)),
		       json_str_safe(f, "summary", "", text, sizeof(text)));
		printf("  why: %s\n", json_str_safe(f, "explanation", "", text, sizeof(text)));
		printf("  processes:");
		cJSON_ArrayForEach (p, procs)
			printf(" %s (pid %.0f)", json_str_safe(p, "comm", "?", text, sizeof(text)),
			       json_num(p, "pid", 0));
		if (!cJSON_GetArraySize(procs))
			printf(" unknown");
		printf("\n  connections:");
		cJSON_ArrayForEach (c, conns) {
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
}

int cmd_findings(const struct cli_opts *o, int argc, char **argv)
{
	cJSON *root;
	int r;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "tcpwatch findings: takes no arguments\n");
		return 2;
	}
	r = cli_fetch_json(o, "/api/v1/findings", "findings", &root);
	if (r <= 0)
		return r < 0 ? 1 : 0;
	findings_print(root);
	cJSON_Delete(root);
	return 0;
}
