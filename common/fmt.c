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

size_t tw_fmt_escaped(char *out, size_t cap, const char *s, int quote)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	if (!cap)
		return 0;
	for (; *p; p++) {
		int c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
		int esc = *p < 0x20 || *p == 0x7f || *p == '\\' || (quote && *p == '"') || c1;
		size_t need = esc ? (c1 ? 8 : 4) : 1;

		if (n + need > cap - 1)
			break;
		if (!esc) {
			out[n++] = (char)*p;
			continue;
		}
		for (int i = 0; i <= c1; i++) {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[p[i] >> 4];
			out[n++] = hex[p[i] & 15];
		}
		p += c1;
	}
	out[n] = '\0';
	return n;
}
