#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static int max_level = LOG_LEVEL_INFO;
static int journal;

void log_set_level(int level)
{
	max_level = level;
}

void log_set_journal(int on)
{
	journal = on;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > max_level)
		return;
	if (journal)
		fprintf(stderr, "<%d>", level);
	fputs("tcpwatchd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
