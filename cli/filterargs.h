/* The state and filter-expression words of `list` and `watch`, as ss(8)
 * takes them: `state NAME`, `exclude NAME`, then an expression. */
#ifndef TCPWATCH_FILTERARGS_H
#define TCPWATCH_FILTERARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "ssfilter.h"

struct filter_args {
	uint32_t states;   /* state NAME...; 0 = not given */
	uint32_t excluded; /* exclude NAME... */
	char expr[TW_SSF_MAX_LEN + 1];
};

/* Takes argv[*i] (and its operand) if it is a state word or part of an
 * expression. Returns 1 if taken, 0 if not ours, -1 after printing an
 * error. */
int filter_args_take(struct filter_args *fa, int argc, char **argv, int *i, const char *cmd);
/* Checks the expression; prints the error under the offending token. */
int filter_args_check(const struct filter_args *fa, const char *cmd);
/* Returns 0, or -1 (printed) if every state was excluded.
 * Adds state= (from mask, or default_mask when no state was named, minus
 * the excluded ones) and filter= to a query string. */
int filter_args_query(const struct filter_args *fa, uint32_t default_mask, char *q, size_t len,
		      const char *cmd);

#endif
