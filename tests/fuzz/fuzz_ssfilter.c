/*
 * libFuzzer target: common/ssfilter.c, the ss(8) expression parser and its
 * matcher, on their own (fuzz_query reaches them through the API's
 * filter=). The input is the expression. Besides never crashing:
 *
 * - a parsed filter is a well-formed tree: the root and every child index
 *   in range and below its parent (children are made first), ports within
 *   -1..65535, prefixes within the family's width;
 * - a refusal carries a message and an offset inside the text;
 * - no printer exists to round-trip through, so the oracle is
 *   metamorphic: when the text's parentheses balance, "not ( TEXT )" parses
 *   exactly when TEXT does (or hits a size limit), and on every socket of
 *   a fixed set matches exactly where TEXT does not; "( TEXT ) and
 *   ( TEXT )" matches where TEXT does.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssfilter.h"

#define N_SOCKS 8

static uint8_t addrs[][16] = {
	{127, 0, 0, 1},
	{10, 1, 2, 3},
	{0},
	{255, 255, 255, 255},
	{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},             /* ::1 */
	{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, /* 2001:db8::1 */
	{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1},     /* ::ffff:127.0.0.1 */
	{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd}, /* fe80::abcd */
};

static const struct tw_ssf_sock socks[N_SOCKS] = {
	{AF_INET, addrs[0], addrs[0], 443, 40000},  {AF_INET, addrs[1], addrs[3], 0, 65535},
	{AF_INET, addrs[2], addrs[1], 22, 22},      {AF_INET, addrs[3], addrs[2], 65535, 1},
	{AF_INET6, addrs[4], addrs[4], 443, 40000}, {AF_INET6, addrs[5], addrs[6], 80, 8080},
	{AF_INET6, addrs[6], addrs[7], 1, 0},       {AF_INET6, addrs[7], addrs[5], 9466, 53},
};

static void check_tree(const struct tw_ssfilter *f)
{
	if (f->root < -1 || f->root >= f->n || f->n < 0 || f->n > TW_SSF_MAX_NODES)
		abort();
	for (int i = 0; i < f->n; i++) {
		const struct tw_ssf_node *nd = &f->nodes[i];

		switch (nd->type) {
		case TW_SSF_AND:
		case TW_SSF_OR:
			if (nd->right < 0 || nd->right >= i)
				abort();
			/* fall through */
		case TW_SSF_NOT:
			if (nd->left < 0 || nd->left >= i)
				abort();
			break;
		case TW_SSF_PRED:
			if (nd->port < -1 || nd->port > 65535 || nd->field > TW_SSF_DPORT ||
			    nd->op > TW_SSF_GE)
				abort();
			if (nd->has_addr && !(nd->family == AF_INET && nd->prefix_len <= 32) &&
			    !(nd->family == AF_INET6 && nd->prefix_len <= 128))
				abort();
			break;
		default:
			abort();
		}
	}
}

static void check_error(const struct tw_ssf_error *e, size_t len)
{
	if (!e->message[0] || !memchr(e->message, '\0', sizeof(e->message)))
		abort();
	if (e->offset < 0 || (size_t)e->offset > len)
		abort();
}

/* Parentheses never close more than they opened, and all are closed. */
static int balanced(const char *s)
{
	int depth = 0;

	for (; *s; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')' && --depth < 0)
			return 0;
	}
	return depth == 0;
}

static int is_limit(const struct tw_ssf_error *e)
{
	return strstr(e->message, "too complex") || strstr(e->message, "too deeply") ||
	       strstr(e->message, "too long") || strstr(e->message, "longer than");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_ssfilter *f = malloc(sizeof(*f)), *g = malloc(sizeof(*g));
	char *text = malloc(size + 1), *wrap = malloc(2 * size + 32);
	struct tw_ssf_error err, err2;
	bool m[N_SOCKS];
	int r;

	if (!f || !g || !text || !wrap)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	r = ssfilter_parse(f, text, &err);
	if (r < 0) {
		check_error(&err, strlen(text));
	} else {
		check_tree(f);
		for (int i = 0; i < N_SOCKS; i++)
			m[i] = ssfilter_match(f, &socks[i]);
	}
	if (!balanced(text) || (r == 0 && f->root < 0))
		goto out; /* empty: "not ()" is no expression */

	snprintf(wrap, 2 * size + 32, "not ( %s )", text);
	if (ssfilter_parse(g, wrap, &err2) < 0) {
		check_error(&err2, strlen(wrap));
		if (r == 0 && !is_limit(&err2))
			abort(); /* TEXT parsed, "not ( TEXT )" did not */
	} else {
		if (r < 0)
			abort(); /* TEXT was refused, "not ( TEXT )" was not */
		check_tree(g);
		for (int i = 0; i < N_SOCKS; i++)
			if (ssfilter_match(g, &socks[i]) == m[i])
				abort();
	}
	if (r < 0)
		goto out;
	snprintf(wrap, 2 * size + 32, "( %s ) and ( %s )", text, text);
	if (ssfilter_parse(g, wrap, &err2) == 0) {
		check_tree(g);
		for (int i = 0; i < N_SOCKS; i++)
			if (ssfilter_match(g, &socks[i]) != m[i])
				abort();
	} else if (!is_limit(&err2)) {
		abort();
	}
out:
	free(f);
	free(g);
	free(text);
	free(wrap);
	return 0;
}
