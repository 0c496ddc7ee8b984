#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colour.h"

bool colour_wanted(int fd)
{
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

	if (no && *no)
		return false;
	if (term && !strcmp(term, "dumb"))
		return false;
	return isatty(fd) == 1;
}

const char *colour_of_state(const char *name, size_t len)
{
	static const struct {
		const char *name, *esc;
	} map[] = {
		{"ESTAB", "\033[32m"},                                  /* green: working */
		{"LISTEN", "\033[36m"},                                 /* cyan */
		{"SYN-SENT", "\033[33m"},                               /* yellow: on the way */
		{"SYN-RECV", "\033[33m"},   {"CLOSE-WAIT", "\033[31m"}, /* red: the app has not
									   closed */
		{"FIN-WAIT-1", "\033[34m"},                             /* blue: closing */
		{"FIN-WAIT-2", "\033[34m"}, {"LAST-ACK", "\033[34m"},   {"CLOSING", "\033[34m"},
		{"TIME-WAIT", "\033[2m"}, /* dim: done */
		{"CLOSED", "\033[2m"},      {"UNCONN", "\033[2m"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i].name) == len && !memcmp(map[i].name, name, len))
			return map[i].esc;
	return "";
}

void colour_write_table(FILE *out, const char *text, size_t len, bool colour)
{
	const char *p = text, *end = text + len;

	if (!colour) {
		fwrite(text, 1, len, out);
		return;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl + 1 : end;
		size_t word = 0;
		const char *esc;

		while (p + word < eol && p[word] != ' ' && p[word] != '\t' && p[word] != '\n')
			word++;
		esc = colour_of_state(p, word);
		if (word == 5 && !memcmp(p, "State", 5)) {
			fputs(COLOUR_BOLD, out);
			fwrite(p, 1, (size_t)(eol - p) - (nl ? 1 : 0), out);
			fputs(COLOUR_RESET, out);
			if (nl)
				fputc('\n', out);
		} else if (*esc) {
			fputs(esc, out);
			fwrite(p, 1, word, out);
			fputs(COLOUR_RESET, out);
			fwrite(p + word, 1, (size_t)(eol - p) - word, out);
		} else {
			fwrite(p, 1, (size_t)(eol - p), out);
		}
		p = eol;
	}
}
