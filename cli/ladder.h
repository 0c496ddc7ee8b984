/* Ladder diagrams: the packets of a connection's life as arrows between
 * its two ends, as a packet analyzer's flow graph draws them. */
#ifndef TCPWATCH_CLI_LADDER_H
#define TCPWATCH_CLI_LADDER_H

#include <stdbool.h>
#include <stddef.h>

struct packet {
	bool out; /* local -> remote */
	const char *label;
};

#define ARROW_WIDTH 30

/* An arrow with its label, ARROW_WIDTH wide (out: at least ARROW_WIDTH+1). */
void arrow(char *out, size_t len, const struct packet *p);
/* "+95us", "+1.2ms", "+2.00s" */
void format_delta(double ns, char *out, size_t len);
/* One line of a ladder: time (s), delta, a state or note column, an arrow
 * (p NULL: none), and a note after it. */
void ladder_line(double t_ns, const char *delta, const char *state, const struct packet *p,
		 const char *note);

#endif
