#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conntable_int.h"
#include "gaps.h"
#include "lifecycle.h"
#include "persist.h"

/* The gap windows live in the table's own struct: a file that drops them
 * would lose the history_gap of every connection they cover. */

static const uint8_t magic[8] = "TWSTATE";

#define RECORD_MAX_BYTES (PERSIST_RECORD_FIXED + PERSIST_HIST_MAX * PERSIST_HIST_BYTES)
#define GAPS_BYTES(n)    ((size_t)(n)*16 + 8 + 4)

/*
 * CRC-32: the reflected 0xEDB88320 polynomial, eight bytes a step
 * ("slicing by 8"): a byte at a time, a million connections' file took
 * as long to check as to read.
 */
uint32_t persist_crc32(uint32_t crc, const void *data, size_t len)
{
	static uint32_t table[8][256];
	const uint8_t *p = data;

	if (!table[0][1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[0][i] = c;
		}
		for (uint32_t i = 0; i < 256; i++)
			for (int k = 1; k < 8; k++)
				table[k][i] =
					(table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
	}
	crc = ~crc;
	for (; len >= 8; len -= 8, p += 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);

		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		      table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^ table[3][p[4]] ^
		      table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
	}
	while (len--)
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* A fuzzing build (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, as libFuzzer
 * users spell it) takes every checksum, so that mutated files reach the
 * field checks behind them instead of stopping at the first CRC. */
static bool crc_ok(uint32_t stored, uint32_t computed)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	(void)stored;
	(void)computed;
	return true;
#else
	return stored == computed;
#endif
}

/* --- little-endian fields --- */

static uint8_t *put8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint8_t *put_bytes(uint8_t *p, const void *v, size_t n)
{
	memcpy(p, v, n);
	return p + n;
}

static uint8_t get8(const uint8_t **p)
{
	return *(*p)++;
}

static uint16_t get16(const uint8_t **p)
{
	uint16_t v = (uint16_t)((*p)[0] | (*p)[1] << 8);

	*p += 2;
	return v;
}

static uint32_t get32(const uint8_t **p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)(*p)[i] << (8 * i);
	*p += 4;
	return v;
}

static uint64_t get64(const uint8_t **p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	*p += 8;
	return v;
}

static void get_bytes(const uint8_t **p, void *v, size_t n)
{
	memcpy(v, *p, n);
	*p += n;
}

/*
 * The flags a restored connection keeps, with their bits in the file (the
 * table's own values may change between versions; these may not). The
 * others describe indexes and passes of the running daemon (listener and
 * 4-tuple indexes, owner lists, reconcile marks) and are rebuilt.
 */
static const struct {
	uint32_t conn; /* enum tw_conn_flag */
	uint32_t file;
} kept_flags[] = {
	{TW_CONN_CLOSED, 1u << 0},         {TW_CONN_HAS_TASK, 1u << 1},
	{TW_CONN_FROM_SNAPSHOT, 1u << 2},  {TW_CONN_TW_DERIVED, 1u << 3},
	{TW_CONN_OWNER_LISTENER, 1u << 4}, {TW_CONN_HANDSHAKE_SRTT, 1u << 5},
	{TW_CONN_ACCEPTED, 1u << 6},       {TW_CONN_HALF_OPEN_TIMED, 1u << 7},
};
#define FILE_FLAGS_KNOWN 0xffu

static uint32_t flags_to_file(uint32_t flags)
{
	uint32_t v = 0;

	for (size_t i = 0; i < sizeof(kept_flags) / sizeof(kept_flags[0]); i++)
		if (flags & kept_flags[i].conn)
			v |= kept_flags[i].file;
	return v;
}

static uint32_t flags_from_file(uint32_t v)
{
	uint32_t flags = 0;

	for (size_t i = 0; i < sizeof(kept_flags) / sizeof(kept_flags[0]); i++)
		if (v & kept_flags[i].file)
			flags |= kept_flags[i].conn;
	return flags;
}

/* --- one record --- */

/* The body of c's record into out (RECORD_MAX_BYTES at least); its
 * length. A history longer than the file may hold keeps its first
 * entries and its latest, as the table does. */
static size_t encode_record(const struct tw_conn *c, uint8_t *out)
{
	uint16_t n = c->hist_len > PERSIST_HIST_MAX ? PERSIST_HIST_MAX : c->hist_len;
	uint32_t skipped = (uint32_t)(c->hist_len - n);
	const struct tw_tcpinfo *in = &c->info;
	const struct tw_skmem *m = &in->mem;
	uint8_t *p = out;

	p = put64(p, c->cookie);
	p = put64(p, c->first_seen_ns);
	p = put64(p, c->last_change_ns);
	p = put64(p, c->flags & TW_CONN_CLOSED ? conn_closed_ns(c) : 0);
	p = put64(p, c->listener_cookie);
	p = put32(p, c->accept_wait_us);
	p = put32(p, conn_hist_dropped(c) + skipped);
	p = put_bytes(p, c->local_addr, 16);
	p = put_bytes(p, c->remote_addr, 16);
	p = put32(p, c->netns);
	p = put32(p, c->pid);
	p = put32(p, c->uid);
	p = put32(p, c->inode);
	p = put32(p, c->retransmits);
	p = put32(p, c->handshake_us);
	p = put16(p, c->syn_retransmits);
	p = put16(p, c->drops);
	p = put16(p, c->resets_sent);
	p = put16(p, c->resets_received);
	p = put16(p, c->local_port);
	p = put16(p, c->remote_port);
	p = put32(p, flags_to_file(c->flags));
	p = put8(p, c->family);
	p = put8(p, c->state);
	p = put8(p, c->role);
	p = put8(p, c->closed_first);
	p = put8(p, c->end_reason);
	p = put8(p, 0);
	p = put16(p, 0);
	p = put_bytes(p, c->comm, 16);
	p = put64(p, conn_sample_ns(c));
	p = put64(p, in->bytes_acked);
	p = put64(p, in->bytes_received);
	p = put64(p, in->delivery_rate_bps);
	p = put32(p, in->rtt_us);
	p = put32(p, in->rttvar_us);
	p = put32(p, in->snd_cwnd);
	p = put32(p, in->total_retrans);
	p = put32(p, in->lost);
	p = put32(p, in->last_data_sent_ms);
	p = put32(p, in->last_data_recv_ms);
	p = put32(p, in->timer_expires_ms);
	p = put32(p, m->rmem_alloc_bytes);
	p = put32(p, m->rcvbuf_bytes);
	p = put32(p, m->wmem_alloc_bytes);
	p = put32(p, m->sndbuf_bytes);
	p = put32(p, m->fwd_alloc_bytes);
	p = put32(p, m->wmem_queued_bytes);
	p = put32(p, m->optmem_bytes);
	p = put32(p, m->backlog_bytes);
	p = put32(p, m->drops);
	p = put8(p, in->timer);
	p = put8(p, in->timer_retrans);
	p = put8(p, in->has_info);
	p = put8(p, in->has_mem);
	p = put16(p, n);
	p = put16(p, 0);
	for (uint16_t i = 0; i < n; i++) {
		/* Past the first ones, the latest: skip the oldest of the rest. */
		struct tw_hist h = conn_hist(c, i < TW_HIST_KEEP_FIRST ? i : (uint32_t)i + skipped);

		p = put64(p, h.time_ns);
		p = put8(p, h.kind);
		p = put8(p, h.flags);
		p = put8(p, h.from);
		p = put8(p, h.to);
		p = put32(p, h.value);
	}
	return (size_t)(p - out);
}

/* What older files may hold in a history entry's value (19 bits); the
 * table keeps at most TW_HIST_VALUE_MAX of it. */
#define PERSIST_HIST_VALUE_MAX ((1u << 19) - 1)

/* A decoded record: the connection's fields and its history. */
struct record {
	struct tw_conn c; /* its own fields; no links, no history */
	uint64_t closed_ns, sample_ns;
	uint32_t hist_dropped;
	bool closed;
	uint16_t hist_len;
	struct tw_hist *hist; /* PERSIST_HIST_MAX entries, the caller's */
};

static int bad(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* Decodes and checks a record's body of len bytes: every field within
 * its range, every time no later than max_ns. */
static int decode_record(const uint8_t *b, size_t len, uint64_t max_ns, struct record *r, char *err,
			 size_t err_len)
{
	struct tw_conn *c = &r->c;
	struct tw_tcpinfo *in = &c->info;
	struct tw_skmem *m = &in->mem;
	const uint8_t *p = b;
	uint32_t file_flags;
	uint16_t n;

	memset(c, 0, sizeof(*c));
	c->cookie = get64(&p);
	c->first_seen_ns = get64(&p);
	c->last_change_ns = get64(&p);
	r->closed_ns = get64(&p);
	c->listener_cookie = get64(&p);
	c->accept_wait_us = get32(&p);
	r->hist_dropped = get32(&p);
	get_bytes(&p, c->local_addr, 16);
	get_bytes(&p, c->remote_addr, 16);
	c->netns = get32(&p);
	c->pid = get32(&p);
	c->uid = get32(&p);
	c->inode = get32(&p);
	c->retransmits = get32(&p);
	c->handshake_us = get32(&p);
	c->syn_retransmits = get16(&p);
	c->drops = get16(&p);
	c->resets_sent = get16(&p);
	c->resets_received = get16(&p);
	c->local_port = get16(&p);
	c->remote_port = get16(&p);
	file_flags = get32(&p);
	c->family = get8(&p);
	c->state = get8(&p);
	c->role = get8(&p);
	c->closed_first = get8(&p);
	c->end_reason = get8(&p);
	if (get8(&p) || get16(&p))
		return bad(err, err_len, "nonzero padding");
	get_bytes(&p, c->comm, 16);
	c->comm[15] = '\0';
	r->sample_ns = get64(&p);
	in->bytes_acked = get64(&p);
	in->bytes_received = get64(&p);
	in->delivery_rate_bps = get64(&p);
	in->rtt_us = get32(&p);
	in->rttvar_us = get32(&p);
	in->snd_cwnd = get32(&p);
	in->total_retrans = get32(&p);
	in->lost = get32(&p);
	in->last_data_sent_ms = get32(&p);
	in->last_data_recv_ms = get32(&p);
	in->timer_expires_ms = get32(&p);
	m->rmem_alloc_bytes = get32(&p);
	m->rcvbuf_bytes = get32(&p);
	m->wmem_alloc_bytes = get32(&p);
	m->sndbuf_bytes = get32(&p);
	m->fwd_alloc_bytes = get32(&p);
	m->wmem_queued_bytes = get32(&p);
	m->optmem_bytes = get32(&p);
	m->backlog_bytes = get32(&p);
	m->drops = get32(&p);
	in->timer = get8(&p);
	in->timer_retrans = get8(&p);
	in->has_info = get8(&p);
	in->has_mem = get8(&p);
	n = get16(&p);
	if (get16(&p))
		return bad(err, err_len, "nonzero padding");

	if ((size_t)(p - b) != PERSIST_RECORD_FIXED)
		abort(); /* the decoder and PERSIST_RECORD_FIXED disagree: a bug */
	if (len != PERSIST_RECORD_FIXED + (size_t)n * PERSIST_HIST_BYTES)
		return bad(err, err_len, "%u history entries in %zu bytes", n, len);
	if (!c->cookie)
		return bad(err, err_len, "cookie 0");
	if (c->family && c->family != AF_INET && c->family != AF_INET6)
		return bad(err, err_len, "family %u", c->family);
	if (c->state >= TW_TCP_MAX_STATES || c->role > TW_ROLE_LISTENER ||
	    c->closed_first > TW_CLOSER_SIMULTANEOUS || c->end_reason >= TW_END_MAX ||
	    in->timer >= TW_TIMER_KINDS || in->has_info > 1 || in->has_mem > 1)
		return bad(err, err_len, "a field out of its range");
	if (file_flags & ~FILE_FLAGS_KNOWN)
		return bad(err, err_len, "unknown flags %#x", file_flags);
	c->flags = flags_from_file(file_flags);
	r->closed = c->flags & TW_CONN_CLOSED;
	c->flags &= ~TW_CONN_CLOSED; /* conntable_retire sets it */
	if (!r->closed && r->closed_ns)
		return bad(err, err_len, "a close time on a live connection");
	if (c->first_seen_ns > max_ns || c->last_change_ns > max_ns || r->closed_ns > max_ns ||
	    r->sample_ns > max_ns)
		return bad(err, err_len, "a time after the save");
	r->hist_len = n;
	for (uint16_t i = 0; i < n; i++) {
		struct tw_hist *h = &r->hist[i];
		uint64_t time_ns = get64(&p);
		uint8_t kind = get8(&p), flags = get8(&p), from = get8(&p), to = get8(&p);
		uint32_t value = get32(&p);

		if (!kind || kind >= TW_HIST_KINDS || flags > TW_HIST_DERIVED ||
		    from >= TW_TCP_MAX_STATES || to >= TW_TCP_MAX_STATES ||
		    value > PERSIST_HIST_VALUE_MAX || time_ns > max_ns)
			return bad(err, err_len, "history entry %u out of its range", i);
		*h = (struct tw_hist){
			.time_ns = time_ns,
			.kind = kind,
			.flags = flags,
			.from = from,
			.to = to,
			.value = value,
		};
	}
	return 0;
}

/* --- saving --- */

struct save_entry {
	uint64_t key; /* retained: queue order; live: after every retained one */
	struct tw_conn *c;
};

struct collect {
	struct tw_conntable *t;
	struct save_entry *v;
	size_t n, cap;
	bool oom;
};

static void collect_one(struct tw_conn *c, void *data)
{
	struct collect *k = data;

	/* A request socket is a moment of a handshake, gone in seconds. */
	if (c->flags & TW_CONN_REQUEST || k->oom)
		return;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 1024;
		struct save_entry *v = realloc(k->v, cap * sizeof(*v));

		if (!v) {
			k->oom = true;
			return;
		}
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n].key = c->flags & TW_CONN_CLOSED ? (uint32_t)(c->retain_pos - k->t->retained.head)
						   : (1ull << 32) + k->n;
	k->v[k->n++].c = c;
}

static int cmp_entry(const void *a, const void *b)
{
	uint64_t x = ((const struct save_entry *)a)->key, y = ((const struct save_entry *)b)->key;

	return x < y ? -1 : x > y;
}

static uint8_t *encode_header(uint8_t *p, const struct tw_persist_clock *now, uint32_t records,
			      uint32_t gaps)
{
	uint8_t *start = p;

	p = put_bytes(p, magic, sizeof(magic));
	p = put32(p, PERSIST_VERSION);
	p = put32(p, PERSIST_HEADER_BYTES);
	p = put64(p, now->realtime_ns);
	p = put64(p, now->monotonic_ns);
	p = put_bytes(p, now->boot_id, 16);
	p = put32(p, records);
	p = put32(p, gaps);
	p = put32(p, PERSIST_RECORD_FIXED);
	return put32(p, persist_crc32(0, start, (size_t)(p - start)));
}

int persist_save(struct tw_conntable *t, FILE *f, const struct tw_persist_clock *now,
		 struct tw_persist_save_stats *ret)
{
	struct collect k = {.t = t};
	const struct tw_gaps *g = &t->gaps;
	uint8_t head[PERSIST_HEADER_BYTES], gaps[GAPS_BYTES(TW_GAPS_MAX)], *p = gaps, *rec;
	struct tw_persist_save_stats st = {0};

	conntable_foreach(t, collect_one, &k);
	rec = malloc(RECORD_MAX_BYTES + 8);
	if (k.oom || !rec) {
		free(k.v);
		free(rec);
		return -ENOMEM;
	}
	if (k.n > PERSIST_RECORDS_MAX)
		k.n = PERSIST_RECORDS_MAX; /* beyond any configuration's bounds */
	if (k.n)                           /* an empty table collected nothing: k.v is NULL */
		qsort(k.v, k.n, sizeof(*k.v), cmp_entry);

	encode_header(head, now, (uint32_t)k.n, g->n);
	fwrite(head, 1, sizeof(head), f);
	for (uint32_t i = 0; i < g->n; i++) {
		uint32_t slot = (g->first + i) % TW_GAPS_MAX;

		p = put64(p, g->start_ns[slot]);
		p = put64(p, g->end_ns[slot]);
	}
	p = put64(p, g->forgotten_end_ns);
	p = put32(p, persist_crc32(0, gaps, (size_t)(p - gaps)));
	fwrite(gaps, 1, (size_t)(p - gaps), f);

	for (size_t i = 0; i < k.n; i++) {
		size_t len = encode_record(k.v[i].c, rec + 4);
		uint32_t crc;

		put32(rec, (uint32_t)len);
		crc = persist_crc32(0, rec, len + 4);
		put32(rec + 4 + len, crc);
		if (fwrite(rec, 1, len + 8, f) != len + 8)
			break;
		st.records++;
		if (k.v[i].c->flags & TW_CONN_CLOSED)
			st.retained++;
	}
	free(rec);
	free(k.v);
	if (ferror(f))
		return -EIO;
	*ret = st;
	return 0;
}

/* --- loading --- */

struct file_header {
	uint32_t version;
	uint64_t realtime_ns, monotonic_ns;
	uint8_t boot_id[16];
	uint32_t records, gaps;
};

static int read_exact(FILE *f, void *buf, size_t n)
{
	if (fread(buf, 1, n, f) == n)
		return 0;
	return ferror(f) ? -EIO : -EBADMSG;
}

static int read_header(FILE *f, struct file_header *h, char *err, size_t err_len)
{
	uint8_t b[PERSIST_HEADER_BYTES];
	const uint8_t *p = b + sizeof(magic);
	uint32_t header_bytes, fixed;
	int r = read_exact(f, b, sizeof(magic) + 4);

	if (r == -EIO)
		return snprintf(err, err_len, "read error"), r;
	if (r < 0 || memcmp(b, magic, sizeof(magic)))
		return bad(err, err_len, "not a tcpwatchd state file");
	h->version = get32(&p);
	if (h->version > PERSIST_VERSION) {
		snprintf(err, err_len, "version %u, newer than this tcpwatchd's (%u)", h->version,
			 PERSIST_VERSION);
		return -ENOTSUP;
	}
	if (h->version != PERSIST_VERSION)
		return bad(err, err_len, "version %u", h->version);
	r = read_exact(f, b + sizeof(magic) + 4, sizeof(b) - sizeof(magic) - 4);
	if (r < 0)
		return r == -EIO ? (snprintf(err, err_len, "read error"), r)
				 : bad(err, err_len, "truncated header");
	header_bytes = get32(&p);
	h->realtime_ns = get64(&p);
	h->monotonic_ns = get64(&p);
	get_bytes(&p, h->boot_id, 16);
	h->records = get32(&p);
	h->gaps = get32(&p);
	fixed = get32(&p);
	if (!crc_ok(get32(&p), persist_crc32(0, b, sizeof(b) - 4)))
		return bad(err, err_len, "header CRC mismatch");
	if (header_bytes != PERSIST_HEADER_BYTES || fixed != PERSIST_RECORD_FIXED)
		return bad(err, err_len, "header of %u bytes, records of %u", header_bytes, fixed);
	if (h->records > PERSIST_RECORDS_MAX || h->gaps > TW_GAPS_MAX)
		return bad(err, err_len, "%u records, %u gap windows: over the bounds", h->records,
			   h->gaps);
	return 0;
}

/* What a load keeps between its passes. */
struct load {
	struct tw_conntable *t;
	FILE *f;
	uint64_t max_ns; /* no time in the file may be later */
	uint8_t *buf;    /* RECORD_MAX_BYTES + 8 */
	struct record rec;
	struct tw_persist_load_stats st;
	char *err;
	size_t err_len;
};

/* Reads and checks the next record into l->rec. */
static int next_record(struct load *l, uint32_t index)
{
	uint8_t *b = l->buf;
	const uint8_t *p = b;
	uint32_t len;
	char why[128];
	int r = read_exact(l->f, b, 4);

	if (r < 0)
		goto short_read;
	len = get32(&p);
	if (len < PERSIST_RECORD_FIXED || len > RECORD_MAX_BYTES)
		return bad(l->err, l->err_len, "record %u: length %u", index, len);
	r = read_exact(l->f, b + 4, (size_t)len + 4);
	if (r < 0)
		goto short_read;
	p = b + 4 + len;
	if (!crc_ok(get32(&p), persist_crc32(0, b, (size_t)len + 4)))
		return bad(l->err, l->err_len, "record %u: CRC mismatch", index);
	r = decode_record(b + 4, len, l->max_ns, &l->rec, why, sizeof(why));
	if (r < 0)
		return bad(l->err, l->err_len, "record %u: %s", index, why);
	return 0;
short_read:
	if (r == -EIO)
		return snprintf(l->err, l->err_len, "read error"), r;
	return bad(l->err, l->err_len, "truncated at record %u", index);
}

/* A checked record into the table. */
static void restore(struct load *l)
{
	const struct record *r = &l->rec;
	struct tw_conntable *t = l->t;
	struct tw_conn *c;
	bool created;

	if (conntable_get(t, r->c.cookie)) {
		l->st.duplicates++;
		return;
	}
	c = conntable_get_or_add(t, r->c.cookie, &created);
	if (!c) {
		l->st.refused++;
		return;
	}
	/* Field by field: the record's links, history and retention slot
	 * are the table's. */
	c->first_seen_ns = r->c.first_seen_ns;
	c->last_change_ns = r->c.last_change_ns;
	c->listener_cookie = r->c.listener_cookie;
	c->accept_wait_us = r->c.accept_wait_us;
	memcpy(c->local_addr, r->c.local_addr, 16);
	memcpy(c->remote_addr, r->c.remote_addr, 16);
	c->netns = r->c.netns;
	c->pid = r->c.pid;
	c->uid = r->c.uid;
	c->inode = r->c.inode;
	c->retransmits = r->c.retransmits;
	c->handshake_us = r->c.handshake_us;
	c->syn_retransmits = r->c.syn_retransmits;
	c->drops = r->c.drops;
	c->resets_sent = r->c.resets_sent;
	c->resets_received = r->c.resets_received;
	conntable_set_ports(t, c, r->c.local_port, r->c.remote_port);
	c->flags = r->c.flags;
	c->family = r->c.family;
	conntable_set_state(t, c, r->c.state);
	c->role = r->c.role;
	c->closed_first = r->c.closed_first;
	c->end_reason = r->c.end_reason;
	memcpy(c->comm, r->c.comm, sizeof(c->comm));
	c->info = r->c.info;
	conn_set_sample_ns(c, r->sample_ns);
	for (uint16_t i = 0; i < r->hist_len; i++)
		if (conntable_hist_append(t, c, &r->hist[i]) < 0)
			break; /* no memory: counted by the table; the rest is lost */
	/* The count the file says was dropped, on top of what the table's
	 * own bound dropped just now. */
	conntable_hist_add_dropped(c, r->hist_dropped);
	if (r->closed) {
		conntable_retire(t, c, r->closed_ns);
		l->st.retained++;
	} else {
		conntable_update_listener(t, c);
		l->st.live++;
	}
}

static int records_pass(struct load *l, uint32_t n, bool apply)
{
	for (uint32_t i = 0; i < n; i++) {
		int r = next_record(l, i);

		if (r < 0)
			return r;
		if (apply)
			restore(l);
	}
	return 0;
}

int persist_load(struct tw_conntable *t, FILE *f, const struct tw_persist_clock *now,
		 struct tw_persist_load_stats *ret, char *err, size_t err_len)
{
	struct load l = {.t = t, .f = f, .err = err, .err_len = err_len};
	uint8_t gaps[GAPS_BYTES(TW_GAPS_MAX)];
	const uint8_t *p = gaps;
	struct file_header h;
	uint64_t start[TW_GAPS_MAX], end[TW_GAPS_MAX], forgotten;
	long records_at;
	bool same_boot;
	int r;

	r = read_header(f, &h, err, err_len);
	if (r < 0)
		return r;
	same_boot = !memcmp(h.boot_id, now->boot_id, 16);
	if (same_boot && h.monotonic_ns > now->monotonic_ns)
		return bad(err, err_len, "saved at %llu ns, after now (%llu ns) in this boot",
			   (unsigned long long)h.monotonic_ns,
			   (unsigned long long)now->monotonic_ns);
	l.max_ns = h.monotonic_ns + PERSIST_TIME_SLACK_NS;

	r = read_exact(f, gaps, GAPS_BYTES(h.gaps));
	if (r < 0)
		return r == -EIO ? (snprintf(err, err_len, "read error"), r)
				 : bad(err, err_len, "truncated gap windows");
	for (uint32_t i = 0; i < h.gaps; i++) {
		start[i] = get64(&p);
		end[i] = get64(&p);
		if (start[i] > end[i] || end[i] > l.max_ns)
			return bad(err, err_len, "gap window %u out of its range", i);
	}
	forgotten = get64(&p);
	if (!crc_ok(get32(&p), persist_crc32(0, gaps, GAPS_BYTES(h.gaps) - 4)))
		return bad(err, err_len, "gap windows' CRC mismatch");
	if (forgotten > l.max_ns)
		return bad(err, err_len, "gap windows out of their range");
	records_at = ftell(f);

	l.buf = malloc(RECORD_MAX_BYTES + 8);
	l.rec.hist = malloc(PERSIST_HIST_MAX * sizeof(*l.rec.hist));
	if (!l.buf || !l.rec.hist) {
		snprintf(err, err_len, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	/* The whole file first: a bad one changes nothing. */
	r = records_pass(&l, h.records, false);
	if (r < 0)
		goto out;
	if (fgetc(f) != EOF) {
		r = bad(err, err_len, "bytes after the last record");
		goto out;
	}
	if (ferror(f)) {
		snprintf(err, err_len, "read error");
		r = -EIO;
		goto out;
	}
	l.st.saved_mono_ns = h.monotonic_ns;
	l.st.saved_real_ns = h.realtime_ns;
	if (!same_boot) {
		/* No socket outlives a reboot, and a connection closed in the
		 * last boot has a time before this boot's CLOCK_MONOTONIC. */
		l.st.other_boot = h.records;
		goto done;
	}
	if (records_at < 0 || fseek(f, records_at, SEEK_SET) < 0) {
		snprintf(err, err_len, "cannot seek back");
		r = -EIO;
		goto out;
	}
	r = records_pass(&l, h.records, true);
	if (r < 0) /* the file changed under us: what was restored stays */
		goto out;
	for (uint32_t i = 0; i < h.gaps; i++)
		conntable_note_gap(t, start[i], end[i]);
	if (forgotten > t->gaps.forgotten_end_ns)
		t->gaps.forgotten_end_ns = forgotten;
	/* The daemon was down: every connection alive across it may have
	 * missed events. */
	conntable_note_gap(t, h.monotonic_ns, now->monotonic_ns);
done:
	*ret = l.st;
	r = 0;
out:
	free(l.buf);
	free(l.rec.hist);
	return r;
}
