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

/* The first byte of a C1 control's UTF-8 form (U+0080..U+009F) at p. */
static int is_c1(const unsigned char *p)
{
	return p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
}

static int needs_escape(const unsigned char *p, int quote)
{
	return *p < 0x20 || *p == 0x7f || *p == '\\' || (quote && *p == '"') || is_c1(p);
}

int tw_fmt_needs_escape(const char *s, int quote)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (needs_escape(p, quote))
			return 1;
	return 0;
}

size_t tw_fmt_escaped(char *out, size_t cap, const char *s, int quote)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	if (!cap)
		return 0;
	for (; *p; p++) {
		int c1 = is_c1(p);
		int esc = needs_escape(p, quote);
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
