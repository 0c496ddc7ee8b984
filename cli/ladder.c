#include <stdio.h>
#include <string.h>

#include "ladder.h"

void arrow(char *out, size_t len, const struct packet *p)
{
	size_t label = strlen(p->label) + 2, left = (ARROW_WIDTH - label) / 2, i = 0;

	if (len < ARROW_WIDTH + 1 || label + 4 > ARROW_WIDTH) {
		snprintf(out, len, "%s%s%s", p->out ? "" : "<", p->label, p->out ? ">" : "");
		return;
	}
	for (; i < left; i++)
		out[i] = '-';
	out[i++] = ' ';
	memcpy(out + i, p->label, label - 2);
	i += label - 2;
	out[i++] = ' ';
	for (; i < ARROW_WIDTH; i++)
		out[i] = '-';
	if (p->out)
		out[ARROW_WIDTH - 1] = '>';
	else
		out[0] = '<';
	out[ARROW_WIDTH] = '\0';
}

void format_delta(double ns, char *out, size_t len)
{
	if (ns < 1e3)
		snprintf(out, len, "+%.0fns", ns);
	else if (ns < 1e6)
		snprintf(out, len, "+%.0fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(out, len, "+%.1fms", ns / 1e6);
	else
		snprintf(out, len, "+%.2fs", ns / 1e9);
}

void ladder_line(double t_ns, const char *delta, const char *state, const struct packet *p,
		 const char *note)
{
	char line[ARROW_WIDTH + 1] = "";

	if (p)
		arrow(line, sizeof(line), p);
	/* No trailing blanks: the note, if any, ends the line. */
	if (note && note[0])
		printf("  %10.6f %9s  %-14s %-*s %s\n", t_ns / 1e9, delta, state, ARROW_WIDTH, line,
		       note);
	else if (line[0])
		printf("  %10.6f %9s  %-14s %s\n", t_ns / 1e9, delta, state, line);
	else
		printf("  %10.6f %9s  %s\n", t_ns / 1e9, delta, state);
}
