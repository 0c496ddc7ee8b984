/*
 * Colours for terminals: only when stdout is one, never with NO_COLOR set
 * (https://no-color.org) or TERM=dumb; piped output is the plain text.
 */
#ifndef TCPWATCH_CLI_COLOUR_H
#define TCPWATCH_CLI_COLOUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Whether output to fd may be coloured. */
bool colour_wanted(int fd);

/* The escape sequence that colours an ss state name ("ESTAB", "CLOSE-WAIT",
 * ...), "" for none. COLOUR_RESET ends it. */
const char *colour_of_state(const char *name, size_t len);
#define COLOUR_RESET "\033[0m"
#define COLOUR_BOLD  "\033[1m"

/* Writes the text table to out; with colour, each row's leading state is
 * coloured and the header is bold. The text itself is unchanged: columns
 * stay aligned, since escapes take no room. */
void colour_write_table(FILE *out, const char *text, size_t len, bool colour);

#endif
