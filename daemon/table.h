/*
 * The listing as a text table, like `ss -tan` prints it: what
 * `tcpwatch list` shows. Rendered here, in one pass with no per-field
 * formatting calls, so 100,000 rows cost milliseconds and the CLI only
 * copies bytes.
 */
#ifndef TCPWATCH_TABLE_H
#define TCPWATCH_TABLE_H

#include <stdbool.h>

#include "conntable.h"
#include "json.h"

enum table_column {
	TABLE_COL_PROCESS = 1 << 0, /* users:(("comm",pid=N)) */
	TABLE_COL_END = 1 << 1,     /* end reason */
};

void table_header(struct tw_buf *b, unsigned columns);
void table_row(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
	       unsigned columns);
/* Parses "process,end" into TABLE_COL_* bits; -1 on an unknown name. */
int table_parse_columns(const char *text, unsigned *ret);

#endif
