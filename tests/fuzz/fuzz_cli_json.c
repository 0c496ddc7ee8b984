/*
 * libFuzzer target: the CLI's reading of what the daemon sends. A daemon
 * that is buggy, another program on its socket, or a hostile API behind
 * a proxy must not crash `tcpwatch` or corrupt the terminal's memory.
 * The input is a reply body; every renderer gets it (they pick what they
 * know from the JSON and ignore the rest):
 *
 * - show_print (show.c: header and ladder, ladder.c), listener_print and
 *   listeners_print (listeners.c: a listener, the table), findings_print
 *   (findings.c), probe_print with and without trace (probe.c: probe
 *   lines, hops, half-open SYN-ACKs, statistics), summary_from_json and
 *   summary_print (summary.c), each on the parsed body and, when it is an
 *   array, on its first elements;
 * - watch_print_line (watch.c) on each line of the body as an event
 *   stream, and on the body as one "data: " line;
 * - colour_write_table (colour.c) on the body as list's text table;
 * - fetch.c's accessors (json_str_safe, json_endpoint) on the error field
 *   of a refused request.
 *
 * The body is parsed as the CLI parses it (cli_json_parse), and the target
 * aborts if any key or string of the tree still holds a byte a terminal
 * would act on (C0, DEL, C1): whatever a renderer prints of it is safe.
 * Output goes to /dev/null; the sanitizers judge the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "colour.h"
#include "fetch.h"
#include "kernel.h"
#include "listeners.h"
#include "summary.h"

/* summary.c's daemon-less count; the renderers never call it. */
int kernel_count(const char *query, struct kernel_counts *ret)
{
	(void)query, (void)ret;
	abort();
}

static FILE *null_out;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	if (!freopen("/dev/null", "w", stdout))
		abort();
	setvbuf(stdout, NULL, _IOFBF, 1 << 20); /* fewer write()s */
	null_out = fopen("/dev/null", "w");
	if (!null_out)
		abort();
	return 0;
}

/* No control byte left anywhere in the parsed tree. */
static void assert_safe(const cJSON *j)
{
	for (; j; j = j->next) {
		const char *texts[2] = {j->string, cJSON_IsString(j) ? j->valuestring : NULL};

		for (int i = 0; i < 2; i++)
			for (const unsigned char *p = (const unsigned char *)texts[i]; p && *p; p++)
				if (*p < 0x20 || *p == 0x7f ||
				    (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
					abort();
		assert_safe(j->child);
	}
}

static void render(const cJSON *j)
{
	struct summary_counts c;
	char msg[512], ep[128];

	show_print(j);
	listener_print(j);
	listeners_print(j, true, false);
	findings_print(j);
	probe_print("192.0.2.1:80", j, false);
	probe_print("192.0.2.1:80", j, true);
	summary_from_json(j, &c);
	summary_print(&c, true);
	json_str_safe(j, "error", "request failed", msg, sizeof(msg));
	json_endpoint(j, "local_addr", "local_port", ep, sizeof(ep));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *end = text + size;
	bool header_done = false;
	const cJSON *e;
	cJSON *j;
	char *line;
	int n = 0;

	j = cli_json_parse(text, size);
	if (j) {
		assert_safe(j);
		render(j);
		cJSON_ArrayForEach (e, j) {
			if (n++ == 4)
				break;
			render(e);
		}
		cJSON_Delete(j);
	}
	for (const char *p = text; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		/* on_line reads exactly len bytes: no terminator added. */
		watch_print_line(p, len, false, &header_done);
		watch_print_line(p, len, true, &header_done);
		if (!nl)
			break;
		p = nl + 1;
	}
	line = malloc(size + 6);
	if (line) {
		memcpy(line, "data: ", 6);
		memcpy(line + 6, data, size);
		watch_print_line(line, size + 6, false, &header_done);
		free(line);
	}
	colour_write_table(null_out, text, size, true);
	colour_write_table(null_out, text, size, false);
	return 0;
}
