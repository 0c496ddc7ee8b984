/* Numbers and durations as tcpwatch prints them, written without printf:
 * the daemon formats 100,000-row tables with them. */
#ifndef TCPWATCH_FMT_H
#define TCPWATCH_FMT_H

#include <stddef.h>
#include <stdint.h>

#define TW_FMT_AGE_LEN 24 /* room tw_fmt_age needs, NUL included */

/* Decimal digits of v into out (no NUL); returns their count (<= 20). */
size_t tw_fmt_u64(char *out, uint64_t v);
/* An age: "1.5s", "3m02s", "2h05m", "4d03h" (NUL-terminated); returns
 * its length. */
size_t tw_fmt_age(char *out, uint64_t ms);

#endif
