#include "fmt.h"

size_t tw_fmt_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t tw_fmt_age(char *out, uint64_t ms)
{
	uint64_t s = ms / 1000;
	size_t n;

	if (s < 60) { /* 1.5s */
		n = tw_fmt_u64(out, s);
		out[n++] = '.';
		out[n++] = (char)('0' + ms % 1000 / 100);
		out[n++] = 's';
	} else if (s < 3600) { /* 3m02s */
		n = tw_fmt_u64(out, s / 60);
		out[n++] = 'm';
		out[n++] = (char)('0' + s % 60 / 10);
		out[n++] = (char)('0' + s % 10);
		out[n++] = 's';
	} else if (s < 86400) { /* 2h05m */
		n = tw_fmt_u64(out, s / 3600);
		out[n++] = 'h';
		out[n++] = (char)('0' + s / 60 % 60 / 10);
		out[n++] = (char)('0' + s / 60 % 10);
		out[n++] = 'm';
	} else { /* 4d03h */
		n = tw_fmt_u64(out, s / 86400);
		out[n++] = 'd';
		out[n++] = (char)('0' + s / 3600 % 24 / 10);
		out[n++] = (char)('0' + s / 3600 % 24 % 10);
		out[n++] = 'h';
	}
	out[n] = '\0';
	return n;
}
