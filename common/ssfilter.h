/*
 * Filter expressions in ss(8)'s grammar, for `tcpwatch list EXPR` and the
 * API's filter= parameter:
 *
 *   expr  := or
 *   or    := and { ("or" | "||" | ",") and }
 *   and   := unary { ["and" | "&&"] unary }        juxtaposition means and
 *   unary := ("not" | "!") unary | "(" or ")" | pred
 *   pred  := ("src" | "dst") [OP] ADDRSPEC
 *          | ("sport" | "dport") [OP] PORTSPEC
 *   OP    := = == eq | != ne neq | > gt | < lt | >= ge geq | <= le leq
 *   ADDRSPEC := ADDR[/PREFIX][:PORT] | [ADDR6][/PREFIX][:PORT] | *[:PORT] | :PORT
 *   PORTSPEC := :PORT | PORT | *:PORT
 *
 * Parsing is bounded (TW_SSF_MAX_NODES nodes, TW_SSF_MAX_DEPTH nesting);
 * errors carry the offset of the offending token.
 */
#ifndef TCPWATCH_SSFILTER_H
#define TCPWATCH_SSFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_SSF_MAX_NODES 128
#define TW_SSF_MAX_DEPTH 32
#define TW_SSF_MAX_LEN   1024

enum tw_ssf_node_type { TW_SSF_AND, TW_SSF_OR, TW_SSF_NOT, TW_SSF_PRED };
enum tw_ssf_field { TW_SSF_SRC, TW_SSF_DST, TW_SSF_SPORT, TW_SSF_DPORT };
enum tw_ssf_op { TW_SSF_EQ, TW_SSF_NE, TW_SSF_LT, TW_SSF_GT, TW_SSF_LE, TW_SSF_GE };

struct tw_ssf_node {
	uint8_t type;  /* enum tw_ssf_node_type */
	uint8_t field; /* PRED: enum tw_ssf_field */
	uint8_t op;    /* PRED: enum tw_ssf_op */
	uint8_t has_addr;
	int16_t left, right; /* child indexes; NOT uses left */
	int32_t port;        /* -1 = any */
	int family;
	uint8_t addr[16];
	unsigned prefix_len;
};

struct tw_ssfilter {
	struct tw_ssf_node nodes[TW_SSF_MAX_NODES];
	int n;
	int root; /* -1: empty expression, matches everything */
};

struct tw_ssf_error {
	int offset; /* byte offset into the expression of the bad token */
	char message[160];
};

/* The endpoints a filter looks at. */
struct tw_ssf_sock {
	int family;
	const uint8_t *local_addr, *remote_addr; /* 16 bytes each */
	uint16_t local_port, remote_port;
};

/* Parses text. 0, or -EINVAL with *err filled. */
int ssfilter_parse(struct tw_ssfilter *f, const char *text, struct tw_ssf_error *err);
bool ssfilter_match(const struct tw_ssfilter *f, const struct tw_ssf_sock *s);

#endif
