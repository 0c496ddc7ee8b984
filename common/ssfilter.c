#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ssfilter.h"

struct tok {
	const char *s;
	size_t len;
	int offset;
};

struct parser {
	const char *text;
	struct tok toks[TW_SSF_MAX_NODES * 4];
	int n_toks, pos, depth;
	struct tw_ssfilter *f;
	struct tw_ssf_error *err;
};

static int fail(struct parser *p, int offset, const char *fmt, const char *tok, size_t len)
{
	char t[64];

	snprintf(t, sizeof(t), "%.*s", (int)(len > 40 ? 40 : len), tok ? tok : "");
	p->err->offset = offset;
	snprintf(p->err->message, sizeof(p->err->message), fmt, t);
	return -EINVAL;
}

static bool is_op_char(char c)
{
	return c == '=' || c == '!' || c == '<' || c == '>';
}

static int lex(struct parser *p)
{
	const char *s = p->text;
	size_t i = 0, n = strlen(s);

	while (i < n) {
		struct tok *t;
		size_t start = i;

		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++;
			continue;
		}
		if (p->n_toks == (int)(sizeof(p->toks) / sizeof(p->toks[0])))
			return fail(p, (int)i, "expression too long%s", "", 0);
		if (s[i] == '(' || s[i] == ')' || s[i] == ',') {
			i++;
		} else if (!strncmp(s + i, "&&", 2) || !strncmp(s + i, "||", 2)) {
			i += 2;
		} else if (is_op_char(s[i])) {
			/* ==, !=, >=, <=, =, <, >, ! */
			i++;
			if (i < n && s[i] == '=')
				i++;
		} else {
			while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
			       s[i] != '(' && s[i] != ')' && s[i] != ',' && !is_op_char(s[i]) &&
			       s[i] != '&' && s[i] != '|')
				i++;
			if (i == start)
				return fail(p, (int)i, "unexpected character '%s'", s + i, 1);
		}
		t = &p->toks[p->n_toks++];
		t->s = s + start;
		t->len = i - start;
		t->offset = (int)start;
	}
	return 0;
}

static bool tok_is(const struct tok *t, const char *word)
{
	return t && t->len == strlen(word) && !strncmp(t->s, word, t->len);
}

static struct tok *peek(struct parser *p)
{
	return p->pos < p->n_toks ? &p->toks[p->pos] : NULL;
}

static int end_offset(struct parser *p)
{
	return (int)strlen(p->text);
}

static int new_node(struct parser *p, uint8_t type, int offset)
{
	struct tw_ssf_node *nd;

	if (p->f->n == TW_SSF_MAX_NODES)
		return fail(p, offset, "expression too complex%s", "", 0);
	nd = &p->f->nodes[p->f->n];
	memset(nd, 0, sizeof(*nd));
	nd->type = type;
	nd->left = nd->right = -1;
	nd->port = -1;
	return p->f->n++;
}

static int parse_op(struct parser *p, uint8_t *op)
{
	static const struct {
		const char *word;
		uint8_t op;
	} ops[] = {
		{"=", TW_SSF_EQ},   {"==", TW_SSF_EQ},  {"eq", TW_SSF_EQ}, {"!=", TW_SSF_NE},
		{"ne", TW_SSF_NE},  {"neq", TW_SSF_NE}, {">", TW_SSF_GT},  {"gt", TW_SSF_GT},
		{"<", TW_SSF_LT},   {"lt", TW_SSF_LT},  {">=", TW_SSF_GE}, {"ge", TW_SSF_GE},
		{"geq", TW_SSF_GE}, {"<=", TW_SSF_LE},  {"le", TW_SSF_LE}, {"leq", TW_SSF_LE},
	};
	struct tok *t = peek(p);

	*op = TW_SSF_EQ;
	for (size_t i = 0; t && i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (tok_is(t, ops[i].word)) {
			*op = ops[i].op;
			p->pos++;
			return 1;
		}
	}
	return 0;
}

static int parse_port(const char *s, size_t len, int32_t *ret)
{
	long v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*ret = (int32_t)v;
	return 0;
}

/* ADDR[/PREFIX][:PORT], [ADDR6][/PREFIX][:PORT], *[:PORT], :PORT */
static int parse_addrspec(struct parser *p, struct tw_ssf_node *nd, const struct tok *t)
{
	char buf[TW_ADDR_STRLEN + 8];
	const char *s = t->s, *end = t->s + t->len, *port = NULL, *addr_end;

	if (*s == '[') {
		const char *close = memchr(s, ']', t->len);

		if (!close)
			return fail(p, t->offset, "missing ']' in '%s'", t->s, t->len);
		addr_end = close;
		s++;
		/* optional /prefix, then optional :port */
		{
			const char *q = close + 1;

			if (q < end && *q == '/') {
				const char *c = memchr(q, ':', (size_t)(end - q));

				addr_end = c ? c : end;
				port = c;
			} else {
				port = q < end ? q : NULL;
			}
			if (port && *port != ':')
				return fail(p, t->offset, "bad address '%s'", t->s, t->len);
			/* Rebuild "ADDR6/PREFIX" without the brackets. */
			snprintf(buf, sizeof(buf), "%.*s%.*s", (int)(close - s), s,
				 (int)(addr_end > close + 1 ? addr_end - close - 1 : 0), close + 1);
		}
	} else {
		const char *first = memchr(s, ':', t->len);
		const char *last = first;

		for (const char *q = s; q < end; q++)
			if (*q == ':')
				last = q;
		if (first && first == last) { /* IPv4 or * with a port */
			addr_end = first;
			port = first;
		} else { /* no colon, or an IPv6 address without brackets */
			addr_end = end;
		}
		if ((size_t)(addr_end - s) >= sizeof(buf))
			return fail(p, t->offset, "bad address '%s'", t->s, t->len);
		snprintf(buf, sizeof(buf), "%.*s", (int)(addr_end - s), s);
	}
	if (port) {
		if (!(port + 1 < end && port[1] == '*' && port + 2 == end) &&
		    parse_port(port + 1, (size_t)(end - port - 1), &nd->port) < 0)
			return fail(p, t->offset, "bad port in '%s'", t->s, t->len);
	}
	if (buf[0] && strcmp(buf, "*")) {
		if (tw_prefix_parse(buf, &nd->family, nd->addr, &nd->prefix_len) < 0)
			return fail(p, t->offset, "bad address '%s'", t->s, t->len);
		nd->has_addr = 1;
	}
	return 0;
}

static int parse_or(struct parser *p);

static int parse_pred(struct parser *p)
{
	struct tok *t = peek(p), *v;
	struct tw_ssf_node *nd;
	int idx, r;
	uint8_t field, op;

	if (!t)
		return fail(p, end_offset(p), "expression ends too early%s", "", 0);
	if (tok_is(t, "src") || tok_is(t, "dst"))
		field = tok_is(t, "src") ? TW_SSF_SRC : TW_SSF_DST;
	else if (tok_is(t, "sport") || tok_is(t, "dport"))
		field = tok_is(t, "sport") ? TW_SSF_SPORT : TW_SSF_DPORT;
	else
		return fail(p, t->offset,
			    "unexpected '%s': expected src, dst, sport, dport, not or (", t->s,
			    t->len);
	p->pos++;
	{
		const struct tok *op_tok = peek(p);

		parse_op(p, &op);
		if ((field == TW_SSF_SRC || field == TW_SSF_DST) && op != TW_SSF_EQ &&
		    op != TW_SSF_NE)
			return fail(p, op_tok->offset, "'%s' takes only = or !=", t->s, t->len);
	}
	v = peek(p);
	if (!v || tok_is(v, "(") || tok_is(v, ")"))
		return fail(p, v ? v->offset : end_offset(p), "'%s' needs a value", t->s, t->len);
	p->pos++;
	idx = new_node(p, TW_SSF_PRED, t->offset);
	if (idx < 0)
		return idx;
	nd = &p->f->nodes[idx];
	nd->field = field;
	nd->op = op;
	if (field == TW_SSF_SRC || field == TW_SSF_DST) {
		r = parse_addrspec(p, nd, v);
		if (r < 0)
			return r;
		if (!nd->has_addr && nd->port < 0)
			return fail(p, v->offset, "'%s' matches everything", v->s, v->len);
	} else {
		const char *s = v->s;
		size_t len = v->len;

		if (len >= 2 && s[0] == '*' && s[1] == ':') {
			s += 2;
			len -= 2;
		} else if (len >= 1 && s[0] == ':') {
			s++;
			len--;
		}
		if (parse_port(s, len, &nd->port) < 0)
			return fail(p, v->offset, "bad port '%s'", v->s, v->len);
	}
	return idx;
}

static int parse_unary(struct parser *p)
{
	struct tok *t = peek(p);
	int idx, child;

	if (t && (tok_is(t, "not") || tok_is(t, "!"))) {
		p->pos++;
		if (++p->depth > TW_SSF_MAX_DEPTH)
			return fail(p, t->offset, "expression nested too deeply%s", "", 0);
		child = parse_unary(p);
		p->depth--;
		if (child < 0)
			return child;
		idx = new_node(p, TW_SSF_NOT, t->offset);
		if (idx < 0)
			return idx;
		p->f->nodes[idx].left = (int16_t)child;
		return idx;
	}
	if (t && tok_is(t, "(")) {
		p->pos++;
		if (++p->depth > TW_SSF_MAX_DEPTH)
			return fail(p, t->offset, "expression nested too deeply%s", "", 0);
		idx = parse_or(p);
		p->depth--;
		if (idx < 0)
			return idx;
		t = peek(p);
		if (!tok_is(t, ")"))
			return fail(p, t ? t->offset : end_offset(p),
				    "expected ')' to close the '(' here%s", "", 0);
		p->pos++;
		return idx;
	}
	return parse_pred(p);
}

static bool starts_unary(const struct tok *t)
{
	return t && !tok_is(t, ")") && !tok_is(t, "or") && !tok_is(t, "||") && !tok_is(t, ",");
}

/* left OP right, where OP is and (juxtaposition included) or or. */
static bool takes_and(struct parser *p, const struct tok *t)
{
	if (tok_is(t, "and") || tok_is(t, "&&")) {
		p->pos++;
		return true;
	}
	return starts_unary(t);
}

static bool takes_or(struct parser *p, const struct tok *t)
{
	if (tok_is(t, "or") || tok_is(t, "||") || tok_is(t, ",")) {
		p->pos++;
		return true;
	}
	return false;
}

static int parse_binary(struct parser *p, uint8_t type, int (*operand)(struct parser *),
			bool (*takes_op)(struct parser *, const struct tok *))
{
	int left = operand(p);

	while (left >= 0) {
		struct tok *t = peek(p);
		int right, idx;

		if (!takes_op(p, t))
			break;
		right = operand(p);
		if (right < 0)
			return right;
		idx = new_node(p, type, t->offset);
		if (idx < 0)
			return idx;
		p->f->nodes[idx].left = (int16_t)left;
		p->f->nodes[idx].right = (int16_t)right;
		left = idx;
	}
	return left;
}

static int parse_and(struct parser *p)
{
	return parse_binary(p, TW_SSF_AND, parse_unary, takes_and);
}

static int parse_or(struct parser *p)
{
	return parse_binary(p, TW_SSF_OR, parse_and, takes_or);
}

int ssfilter_parse(struct tw_ssfilter *f, const char *text, struct tw_ssf_error *err)
{
	struct parser *p;
	int r;

	memset(err, 0, sizeof(*err));
	f->n = 0;
	f->root = -1;
	if (strlen(text) > TW_SSF_MAX_LEN) {
		err->offset = TW_SSF_MAX_LEN;
		snprintf(err->message, sizeof(err->message), "expression longer than %d bytes",
			 TW_SSF_MAX_LEN);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -ENOMEM;
	}
	p->text = text;
	p->f = f;
	p->err = err;
	r = lex(p);
	if (r == 0 && p->n_toks) {
		r = parse_or(p);
		if (r >= 0 && p->pos < p->n_toks) {
			struct tok *t = &p->toks[p->pos];

			r = fail(p, t->offset, "unexpected '%s'", t->s, t->len);
		}
		if (r >= 0) {
			f->root = r;
			r = 0;
		}
	}
	free(p);
	return r < 0 ? -EINVAL : 0;
}

static bool cmp_port(uint8_t op, uint16_t have, int32_t want)
{
	switch (op) {
	case TW_SSF_EQ:
		return have == want;
	case TW_SSF_NE:
		return have != want;
	case TW_SSF_LT:
		return have < want;
	case TW_SSF_GT:
		return have > want;
	case TW_SSF_LE:
		return have <= want;
	case TW_SSF_GE:
		return have >= want;
	}
	return false;
}

static bool match_pred(const struct tw_ssf_node *nd, const struct tw_ssf_sock *s)
{
	bool local = nd->field == TW_SSF_SRC || nd->field == TW_SSF_SPORT;
	uint16_t port = local ? s->local_port : s->remote_port;
	const uint8_t *addr = local ? s->local_addr : s->remote_addr;
	bool m = true;

	if (nd->field == TW_SSF_SPORT || nd->field == TW_SSF_DPORT)
		return cmp_port(nd->op, port, nd->port);
	if (nd->has_addr)
		m = nd->family == s->family && tw_addr_prefix_match(nd->addr, addr, nd->prefix_len);
	if (m && nd->port >= 0)
		m = port == nd->port;
	return nd->op == TW_SSF_NE ? !m : m;
}

static bool eval(const struct tw_ssfilter *f, int idx, const struct tw_ssf_sock *s)
{
	const struct tw_ssf_node *nd = &f->nodes[idx];

	switch (nd->type) {
	case TW_SSF_AND:
		return eval(f, nd->left, s) && eval(f, nd->right, s);
	case TW_SSF_OR:
		return eval(f, nd->left, s) || eval(f, nd->right, s);
	case TW_SSF_NOT:
		return !eval(f, nd->left, s);
	case TW_SSF_PRED:
		return match_pred(nd, s);
	}
	return false;
}

bool ssfilter_match(const struct tw_ssfilter *f, const struct tw_ssf_sock *s)
{
	return f->root < 0 || eval(f, f->root, s);
}
