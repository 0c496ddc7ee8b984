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

/*
 * Copies s into out (cap bytes, NUL-terminated), writing every byte a
 * terminal would act on as \xHH: C0 controls, DEL, the UTF-8 forms of the
 * C1 controls (U+0080..U+009F, CSI among them), a backslash, and with quote
 * also '"'. Process names and other strings from outside go through it
 * before they reach a screen. Returns the length written (truncated at a
 * whole escape).
 */
size_t tw_fmt_escaped(char *out, size_t cap, const char *s, int quote);
/* Whether tw_fmt_escaped would change s (some byte needs an escape). */
int tw_fmt_needs_escape(const char *s, int quote);

#endif
