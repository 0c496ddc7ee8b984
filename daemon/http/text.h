/*
 * The listing as a text table, like `ss -tan` prints it: what
 * `tcpwatch list` shows. Rendered here, in one pass with no per-field
 * formatting calls, so 100,000 rows cost milliseconds and the CLI only
 * copies bytes.
 */
#ifndef TCPWATCH_TEXT_H
#define TCPWATCH_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "conntable.h"
#include "buf.h"
#include "clock.h"

enum text_column {
	TEXT_COL_PROCESS = 1 << 0, /* users:(("comm",pid=N)) */
	TEXT_COL_END = 1 << 1,     /* end reason */
	TEXT_COL_TIMER = 1 << 2,   /* timer:(keepalive,45sec,0), as ss -o */
	TEXT_COL_EXT = 1 << 3,     /* uid:U ino:I sk:COOKIE, as ss -e */
	TEXT_COL_INFO = 1 << 4,    /* a second line of tcp_info, as ss -i */
	TEXT_COL_MEM = 1 << 5,     /* skmem:(r,rb,t,tb,f,w,o,bl,d) on the second line, as ss -m */
	TEXT_COL_QUEUES = 1 << 6,  /* Recv-Q Send-Q after State, as ss: only text_row_queues
				    * has them (the record keeps no queues) */
};

void text_header(struct tw_buf *b, unsigned columns);
/* One row. A record whose first_seen_ns is 0 (one made from a sock_diag
 * answer, not tracked) shows its age as "-". */
void text_row(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
	      unsigned columns);
/* The same with the socket's queues (sock_diag's idiag_rqueue and
 * idiag_wqueue) for TEXT_COL_QUEUES. */
void text_row_queues(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
		     unsigned columns, uint32_t rqueue, uint32_t wqueue);
/* Parses "process,end,timer,ext,info,mem" into TEXT_COL_* bits; -EINVAL
 * on an unknown name (queues is not one: the daemon has none to show). */
int text_parse_columns(const char *text, unsigned *ret);

#endif
