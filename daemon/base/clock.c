#include <string.h>
#include <time.h>

#include "clock.h"

uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t clock_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void clock_sample(struct tw_clock *clk)
{
	uint64_t wall = clock_wall_ns();

	clk->now_mono_ns = clock_mono_ns();
	clk->mono_to_wall_ns = (int64_t)(wall - clk->now_mono_ns);
}

uint64_t clock_to_wall(const struct tw_clock *clk, uint64_t mono_ns)
{
	return (uint64_t)((int64_t)mono_ns + clk->mono_to_wall_ns);
}

/* Two digits of v (0..99) at out. */
static char *put2(char *out, unsigned v)
{
	out[0] = (char)('0' + v / 10 % 10);
	out[1] = (char)('0' + v % 10);
	return out + 2;
}

/*
 * Written digit by digit rather than with snprintf: the fields are known
 * to fit, and GCC's -Wformat-truncation at -O3 cannot see that the
 * struct tm fields are in range (it warned for the year and the day).
 */
/* The date and time of the last second formatted, per thread: an event
 * stream formats the time of every event it sends, and gmtime_r (which
 * takes glibc's time zone lock) once a second is enough. */
static __thread time_t last_sec = -1;
static __thread char last_text[20]; /* "YYYY-MM-DDTHH:MM:SS" */

void clock_format_rfc3339(uint64_t wall_ns, char *out, size_t len)
{
	char text[TW_RFC3339_LEN], *p = text;
	time_t sec = (time_t)(wall_ns / NSEC_PER_SEC);
	unsigned usec = (unsigned)(wall_ns % NSEC_PER_SEC / NSEC_PER_USEC);
	struct tm tm;
	size_t n;

	if (!len)
		return;
	if (sec == last_sec) {
		memcpy(p, last_text, 19);
		p += 19;
		goto fraction;
	}
	if (!gmtime_r(&sec, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		memset(&tm, 0, sizeof(tm)); /* out of RFC 3339's range: 1900-01-00 */
	p = put2(p, (unsigned)(tm.tm_year + 1900) / 100);
	p = put2(p, (unsigned)(tm.tm_year + 1900) % 100);
	*p++ = '-';
	p = put2(p, (unsigned)tm.tm_mon + 1);
	*p++ = '-';
	p = put2(p, (unsigned)tm.tm_mday);
	*p++ = 'T';
	p = put2(p, (unsigned)tm.tm_hour);
	*p++ = ':';
	p = put2(p, (unsigned)tm.tm_min);
	*p++ = ':';
	p = put2(p, (unsigned)tm.tm_sec);
	memcpy(last_text, text, 19);
	last_sec = sec;
fraction:
	*p++ = '.';
	p = put2(p, usec / 10000);
	p = put2(p, usec / 100 % 100);
	p = put2(p, usec % 100);
	*p++ = 'Z';
	n = (size_t)(p - text);
	if (n > len - 1)
		n = len - 1;
	memcpy(out, text, n);
	out[n] = '\0';
}
