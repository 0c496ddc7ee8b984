/*
 * tw-tun-responder: a host behind a TUN device, for the prober's tests and
 * benchmarks. Run it inside a network namespace (ip netns exec NS ...): it
 * creates (or attaches to) the TUN device --dev (IFF_TUN | IFF_NO_PI) in
 * that namespace and answers, for the addresses --v4 and --v6, every SYN
 * that the namespace routes into the device:
 *
 *   open       a SYN-ACK, ack = seq + 1, with Linux's options (MSS, SACK
 *              permitted and timestamps if the SYN offered them, window
 *              scale if it did), window and TTL
 *   closed     a RST|ACK, seq 0, ack = seq + 1 (tcp_v4_send_reset's)
 *   silent     nothing
 *   unreach    an ICMP destination unreachable (IPv4 type 3, default code
 *              13; ICMPv6 type 1, default code 1) quoting the SYN whole;
 *              unreach:C4,C6 with those codes, unreach/Q quoting only
 *              the first Q (8 or more) bytes of its TCP header
 *
 * per destination port (--port P=MODE), else --mode. Every reply leaves
 * --delay-us after the SYN was read (--sport-delay LO-HI=US: SYNs from
 * those source ports after US instead); the hold is timed on CLOCK_MONOTONIC:
 * the device is busy-polled (non-blocking reads in a loop, never a sleep)
 * so a SYN's arrival is seen within a read's time, and the reply is
 * written once the clock reaches arrival + delay. Replies wait in a heap
 * ordered by their due time, so any number of SYNs can be held at once.
 *
 * Output (stdout, written out at once unless a reply is due within 1 ms;
 * a pipe is made non-blocking and what it cannot take yet waits in memory,
 * so a slow reader never delays a reply): "ready dev=NAME" once the device
 * is there (configure it then: addresses, up), then one line per SYN:
 *
 *   held fam=4 src=A sport=P dst=A dport=P seq=N ttl=T opts=MSTNW
 *        csum=ok reply=synack seen_ns=S ns=HOLD late_ns=L write_ns=W
 *
 * (one line) where HOLD is the time from the read that returned the SYN
 * to the start of the write of its reply, in ns; L how far past its due
 * time that write began, W how long it took; S how long before the SYN
 * was read the last read that found nothing began (when the SYN came is
 * known to within S: large if the responder was scheduled out). The lines
 * "dropped ... reply=none seen_ns=S" are a silent port's. csum says whether
 * the SYN's IPv4 header and TCP checksums were right. Anything but a SYN
 * (our kernel's RSTs answering the SYN-ACKs, ND, MLD) is ignored.
 *
 * The busy loop takes a CPU whole: --cpu N pins it to one (keep the rest of
 * the test off that one, or it is scheduled out when they run, and its
 * holds are late: seen_ns and late_ns show it); --rt PRIO runs it
 * SCHED_FIFO (beware: the kernel then still gives the CPU's other tasks
 * their 5 %, in slices of up to 50 ms).
 *
 * Exits 0 on SIGTERM or SIGINT, when its parent dies, or after --timeout
 * seconds (600 by default); 77 if the kernel has no TUN; 1 on other
 * errors; 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS   64
#define MAX_PKT     2048
#define FLUSH_GUARD 1000000ull /* ns: no flush when a reply is due sooner */
#define EXIT_NO_TUN 77
#define TCP_FIN     0x01
#define TCP_SYN     0x02
#define TCP_RST     0x04
#define TCP_ACK     0x10
#define ICMP4_QUOTE (576 - 20 - 8)  /* RFC 1812: the error within 576 bytes */
#define ICMP6_QUOTE (1280 - 40 - 8) /* RFC 4443: within the minimum MTU */

enum mode { MODE_OPEN, MODE_CLOSED, MODE_SILENT, MODE_UNREACH };
static const char *const mode_names[] = {"open", "closed", "silent", "unreach"};
static const char *const reply_names[] = {"synack", "rst", "none", "icmp"};

struct mode_spec {
	enum mode mode;
	int code4, code6; /* unreach: the ICMP codes; -1 the defaults */
	int quote;        /* unreach: bytes of the TCP header quoted; -1 all */
};

struct port_mode {
	uint16_t port;
	struct mode_spec spec;
};

static struct {
	const char *dev;
	bool have4, have6;
	uint8_t addr4[4], addr6[16];
	struct mode_spec mode;
	struct port_mode ports[MAX_PORTS];
	unsigned n_ports;
	uint64_t delay_ns;
	/* --sport-delay LO-HI=US: SYNs from these source ports wait this
	 * long instead (a server slow for some clients: the prober's finding
	 * that handshakes are slower than its probes) */
	uint16_t slow_lo, slow_hi;
	uint64_t slow_delay_ns;
	int code4, code6;
	int mss;    /* 0: the MTU's (1460 IPv4, 1440 IPv6) */
	int window; /* 0: Linux's for the MSS */
	int wscale;
	int ttl;
	double timeout_s;
	int cpu;
	int rt; /* SCHED_FIFO priority; 0 the normal scheduler */
} opt = {
	.dev = "twresp0",
	.mode = {MODE_OPEN, -1, -1, -1},
	.code4 = 13,
	.code6 = 1,
	.wscale = 7,
	.ttl = 64,
	.timeout_s = 600,
	.cpu = -1,
};

/* A SYN read, and its reply waiting for its time. */
struct pending {
	uint64_t arrival_ns, due_ns, order;
	uint64_t seen_ns; /* the arrival's uncertainty: since the last empty read began */
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t ttl;
	char opts[16];
	bool csum_ok;
	enum mode mode;
	size_t len;
	uint8_t pkt[MAX_PKT];
};

static struct {
	struct pending **v;
	size_t n, cap;
} heap;

/* The lines for stdout wait here: a reader slow to empty the pipe must
 * not stop the loop (it is made non-blocking if it is a pipe). */
static struct {
	char *v;
	size_t len, cap;
	bool broken; /* the reader is gone */
} outbuf;

static volatile sig_atomic_t stop;
static uint64_t n_syns, n_replies, n_ignored, n_errors;
static uint64_t rng_state;

static void on_signal(int signo)
{
	(void)signo;
	stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint32_t rnd32(void)
{
	/* xorshift64*: the ISNs need only differ */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void out_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || outbuf.broken)
		return;
	if (outbuf.len + (size_t)n + 1 > outbuf.cap) {
		size_t cap = outbuf.cap ? outbuf.cap : 65536;
		char *v;

		while (cap < outbuf.len + (size_t)n + 1)
			cap *= 2;
		v = realloc(outbuf.v, cap);
		if (!v)
			return;
		outbuf.v = v;
		outbuf.cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(outbuf.v + outbuf.len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	outbuf.len += (size_t)n;
}

/* Writes what waits, as much as the pipe takes now (all: everything, or
 * what a reader takes within 5 s). */
static void out_flush(bool all)
{
	size_t done = 0;
	int waits = 0;

	while (done < outbuf.len && !outbuf.broken) {
		ssize_t n = write(STDOUT_FILENO, outbuf.v + done, outbuf.len - done);

		if (n > 0) {
			done += (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT};

			if (!all || waits++ == 50)
				break;
			poll(&pfd, 1, 100);
		} else if (n < 0 && errno != EINTR) {
			outbuf.broken = true;
		}
	}
	if (!done)
		return;
	memmove(outbuf.v, outbuf.v + done, outbuf.len - done);
	outbuf.len -= done;
}

/* Writes what waits unless a reply is due within FLUSH_GUARD. */
static void out_flush_idle(uint64_t now);

/* --- checksums --- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)(p[len - 1] << 8);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The sum of the pseudo-header of family over len bytes of proto. */
static uint32_t pseudo(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
		       size_t len)
{
	size_t alen = family == AF_INET6 ? 16 : 4;
	uint32_t s = sum16(src, alen, 0);

	s = sum16(dst, alen, s);
	return s + proto + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* --- packets --- */

/* The IP header of a reply from dst to src (the SYN's addresses swapped),
 * proto, carrying plen bytes. Its length. */
static size_t ip_header(uint8_t *out, int family, const uint8_t *from, const uint8_t *to,
			uint8_t proto, size_t plen, uint8_t tos)
{
	if (family == AF_INET) {
		memset(out, 0, 20);
		out[0] = 0x45;
		out[1] = tos;
		put16(out + 2, (uint16_t)(20 + plen));
		put16(out + 6, 0x4000); /* DF, id 0: as Linux's SYN-ACKs and RSTs */
		out[8] = (uint8_t)opt.ttl;
		out[9] = proto;
		memcpy(out + 12, from, 4);
		memcpy(out + 16, to, 4);
		put16(out + 10, fold(sum16(out, 20, 0)));
		return 20;
	}
	memset(out, 0, 40);
	out[0] = (uint8_t)(0x60 | tos >> 4);
	out[1] = (uint8_t)(tos << 4);
	put16(out + 4, (uint16_t)plen);
	out[6] = proto;
	out[7] = (uint8_t)opt.ttl;
	memcpy(out + 8, from, 16);
	memcpy(out + 24, to, 16);
	return 40;
}

struct syn_opts {
	int mss; /* -1 none */
	int ws;  /* -1 none */
	bool sack, ts;
	uint32_t tsval;
	char fp[16];
};

/* The SYN's options, and their fingerprint (the daemon's letters). */
static void parse_opts(const uint8_t *o, size_t len, struct syn_opts *s)
{
	size_t i = 0, k = 0;

	memset(s, 0, sizeof(*s));
	s->mss = s->ws = -1;
	while (i < len && k + 1 < sizeof(s->fp)) {
		uint8_t kind = o[i], l;

		if (kind == 0) {
			s->fp[k++] = 'E';
			break;
		}
		if (kind == 1) {
			s->fp[k++] = 'N';
			i++;
			continue;
		}
		if (i + 1 >= len || (l = o[i + 1]) < 2 || i + l > len) {
			s->fp[k++] = '?';
			break;
		}
		if (kind == 2 && l == 4) {
			s->mss = get16(o + i + 2);
			s->fp[k++] = 'M';
		} else if (kind == 3 && l == 3) {
			s->ws = o[i + 2];
			s->fp[k++] = 'W';
		} else if (kind == 4 && l == 2) {
			s->sack = true;
			s->fp[k++] = 'S';
		} else if (kind == 8 && l == 10) {
			s->ts = true;
			s->tsval = get32(o + i + 2);
			s->fp[k++] = 'T';
		} else {
			s->fp[k++] = '?';
		}
		i += l;
	}
	s->fp[k] = '\0';
}

/* The TCP reply to the SYN in p (its fields filled in), after the IP header. */
static size_t tcp_reply(struct pending *p, const struct syn_opts *so, uint8_t *tcp)
{
	size_t n = 20;
	bool open = p->mode == MODE_OPEN;

	memset(tcp, 0, 60);
	put16(tcp, p->dport);
	put16(tcp + 2, p->sport);
	put32(tcp + 4, open ? rnd32() : 0);
	put32(tcp + 8, p->seq + 1);
	tcp[13] = open ? TCP_SYN | TCP_ACK : TCP_RST | TCP_ACK;
	if (open) {
		/* tcp_options_write's order: MSS, SACK-permitted folded into
		 * the timestamps' word, timestamps, NOP + window scale */
		int mss = opt.mss ? opt.mss : p->family == AF_INET ? 1460 : 1440;
		int eff = mss - (so->ts ? 12 : 0), win = opt.window;

		tcp[n++] = 2, tcp[n++] = 4;
		put16(tcp + n, (uint16_t)mss), n += 2;
		if (so->ts) {
			tcp[n++] = so->sack ? 4 : 1;
			tcp[n++] = so->sack ? 2 : 1;
			tcp[n++] = 8, tcp[n++] = 10;
			put32(tcp + n, rnd32()), n += 4;
			put32(tcp + n, so->tsval), n += 4;
		} else if (so->sack) {
			tcp[n++] = 1, tcp[n++] = 1, tcp[n++] = 4, tcp[n++] = 2;
		}
		if (so->ws >= 0) {
			tcp[n++] = 1, tcp[n++] = 3, tcp[n++] = 3;
			tcp[n++] = (uint8_t)opt.wscale;
		}
		if (!win)
			win = eff > 0 ? 65535 / eff * eff : 65535;
		put16(tcp + 14, (uint16_t)win);
	}
	tcp[12] = (uint8_t)((n / 4) << 4);
	put16(tcp + 16, fold(sum16(tcp, n, pseudo(p->family, p->dst, p->src, IPPROTO_TCP, n))));
	return n;
}

/* The ICMP error (code) quoting the SYN (syn, len: the whole IP packet). */
static size_t icmp_reply(const struct pending *p, int code, int quote, const uint8_t *syn,
			 size_t len, uint8_t *icmp)
{
	bool v4 = p->family == AF_INET;
	size_t max = v4 ? ICMP4_QUOTE : ICMP6_QUOTE, q = len > max ? max : len;
	size_t ip_len = v4 ? (size_t)(syn[0] & 15) * 4 : 40;
	uint32_t s;

	if (quote >= 0 && ip_len + (size_t)quote < q)
		q = ip_len + (size_t)quote;
	memset(icmp, 0, 8);
	icmp[0] = v4 ? 3 : 1; /* destination unreachable */
	icmp[1] = (uint8_t)code;
	memcpy(icmp + 8, syn, q);
	s = sum16(icmp, 8 + q, v4 ? 0 : pseudo(AF_INET6, p->dst, p->src, IPPROTO_ICMPV6, 8 + q));
	put16(icmp + 2, fold(s));
	return 8 + q;
}

static const struct mode_spec *mode_of(uint16_t port)
{
	for (unsigned i = 0; i < opt.n_ports; i++)
		if (opt.ports[i].port == port)
			return &opt.ports[i].spec;
	return &opt.mode;
}

/* --- the heap of replies, by due time (then arrival) --- */

static bool before(const struct pending *a, const struct pending *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->order < b->order);
}

static int heap_push(struct pending *p)
{
	size_t i;

	if (heap.n == heap.cap) {
		size_t cap = heap.cap ? 2 * heap.cap : 64;
		struct pending **v = realloc(heap.v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		heap.v = v;
		heap.cap = cap;
	}
	i = heap.n++;
	while (i && before(p, heap.v[(i - 1) / 2])) {
		heap.v[i] = heap.v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap.v[i] = p;
	return 0;
}

static struct pending *heap_pop(void)
{
	struct pending *top = heap.v[0], *last = heap.v[--heap.n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= heap.n)
			break;
		if (c + 1 < heap.n && before(heap.v[c + 1], heap.v[c]))
			c++;
		if (!before(heap.v[c], last))
			break;
		heap.v[i] = heap.v[c];
		i = c;
	}
	if (heap.n)
		heap.v[i] = last;
	return top;
}

/* --- the SYNs --- */

static void print_line(const char *what, const struct pending *p, int64_t hold_ns, int64_t late_ns,
		       int64_t write_ns)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->src, src, sizeof(src));
	inet_ntop(p->family, p->dst, dst, sizeof(dst));
	out_printf("%s fam=%d src=%s sport=%u dst=%s dport=%u seq=%u ttl=%u opts=%s csum=%s "
		   "reply=%s",
		   what, p->family == AF_INET6 ? 6 : 4, src, p->sport, dst, p->dport, p->seq,
		   p->ttl, p->opts[0] ? p->opts : "-", p->csum_ok ? "ok" : "bad",
		   reply_names[p->mode]);
	out_printf(" seen_ns=%llu", (unsigned long long)p->seen_ns);
	if (hold_ns >= 0)
		out_printf(" ns=%lld late_ns=%lld write_ns=%lld", (long long)hold_ns,
			   (long long)late_ns, (long long)write_ns);
	out_printf("\n");
}

/* A packet read at now: a SYN to one of our addresses is answered. */
static void on_packet(const uint8_t *pkt, size_t len, uint64_t now, uint64_t seen_ns,
		      uint64_t *order)
{
	struct pending *p;
	const struct mode_spec *ms;
	struct syn_opts so;
	const uint8_t *tcp;
	size_t ip_len, tcp_len, doff, n;
	uint32_t s;
	int family;

	if (len >= 20 && pkt[0] >> 4 == 4) {
		ip_len = (size_t)(pkt[0] & 15) * 4;
		if (ip_len < 20 || get16(pkt + 2) > len || get16(pkt + 2) < ip_len + 20 ||
		    pkt[9] != IPPROTO_TCP || (get16(pkt + 6) & 0x3fff) || !opt.have4 ||
		    memcmp(pkt + 16, opt.addr4, 4))
			goto ignore;
		family = AF_INET;
		len = get16(pkt + 2);
	} else if (len >= 60 && pkt[0] >> 4 == 6) {
		ip_len = 40;
		if ((size_t)get16(pkt + 4) + 40 > len || get16(pkt + 4) < 20 ||
		    pkt[6] != IPPROTO_TCP || !opt.have6 || memcmp(pkt + 24, opt.addr6, 16))
			goto ignore;
		family = AF_INET6;
		len = 40 + (size_t)get16(pkt + 4);
	} else {
		goto ignore;
	}
	tcp = pkt + ip_len;
	tcp_len = len - ip_len;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || doff > tcp_len ||
	    (tcp[13] & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) != TCP_SYN)
		goto ignore;
	p = malloc(sizeof(*p));
	if (!p) {
		n_errors++;
		return;
	}
	n_syns++;
	p->arrival_ns = now;
	p->seen_ns = seen_ns;
	p->due_ns = now + opt.delay_ns;
	if (opt.slow_hi && get16(tcp) >= opt.slow_lo && get16(tcp) <= opt.slow_hi)
		p->due_ns = now + opt.slow_delay_ns;
	p->order = (*order)++;
	p->family = family;
	memset(p->src, 0, 16);
	memset(p->dst, 0, 16);
	memcpy(p->src, pkt + (family == AF_INET ? 12 : 8), family == AF_INET ? 4 : 16);
	memcpy(p->dst, pkt + (family == AF_INET ? 16 : 24), family == AF_INET ? 4 : 16);
	p->sport = get16(tcp);
	p->dport = get16(tcp + 2);
	p->seq = get32(tcp + 4);
	p->ttl = pkt[family == AF_INET ? 8 : 7];
	s = pseudo(family, p->src, p->dst, IPPROTO_TCP, tcp_len);
	p->csum_ok = fold(sum16(tcp, tcp_len, s)) == 0 &&
		     (family == AF_INET6 || fold(sum16(pkt, ip_len, 0)) == 0);
	parse_opts(tcp + 20, doff - 20, &so);
	memcpy(p->opts, so.fp, sizeof(p->opts));
	ms = mode_of(p->dport);
	p->mode = ms->mode;
	if (p->mode == MODE_SILENT) {
		print_line("dropped", p, -1, 0, 0);
		out_flush_idle(mono_ns());
		free(p);
		return;
	}
	if (p->mode == MODE_UNREACH) {
		int code = family == AF_INET ? (ms->code4 >= 0 ? ms->code4 : opt.code4)
					     : (ms->code6 >= 0 ? ms->code6 : opt.code6);

		n = icmp_reply(p, code, ms->quote, pkt, len,
			       p->pkt + (family == AF_INET ? 20 : 40));
		p->len = ip_header(p->pkt, family, p->dst, p->src,
				   family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6, n, 0xc0) +
			 n;
	} else {
		n = tcp_reply(p, &so, p->pkt + (family == AF_INET ? 20 : 40));
		p->len = ip_header(p->pkt, family, p->dst, p->src, IPPROTO_TCP, n, 0) + n;
	}
	if (heap_push(p) < 0) {
		n_errors++;
		free(p);
	}
	return;
ignore:
	n_ignored++;
}

/* Writes the replies due by now. */
static void send_due(int fd)
{
	bool printed = false;

	while (heap.n) {
		struct pending *p = heap.v[0];
		uint64_t t = mono_ns(), t2;
		ssize_t n;

		if (t < p->due_ns)
			break;
		heap_pop();
		n = write(fd, p->pkt, p->len);
		t2 = mono_ns();
		if (n != (ssize_t)p->len) {
			fprintf(stderr, "tw-tun-responder: write: %s\n", strerror(errno));
			n_errors++;
		} else {
			n_replies++;
		}
		print_line("held", p, (int64_t)(t - p->arrival_ns), (int64_t)(t - p->due_ns),
			   (int64_t)(t2 - t));
		printed = true;
		free(p);
	}
	if (printed)
		out_flush_idle(mono_ns());
}

static void out_flush_idle(uint64_t now)
{
	if (outbuf.len && (!heap.n || heap.v[0]->due_ns > now + FLUSH_GUARD))
		out_flush(false);
}

/* --- setup --- */

static int open_tun(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		fprintf(stderr, "tw-tun-responder: /dev/net/tun: %s\n", strerror(e));
		exit(e == ENOENT || e == ENODEV || e == ENXIO ? EXIT_NO_TUN : 1);
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		fprintf(stderr, "tw-tun-responder: TUNSETIFF %s: %s\n", name, strerror(e));
		exit(e == ENODEV ? EXIT_NO_TUN : 1);
	}
	return fd;
}

static int usage(const char *msg, const char *arg)
{
	fprintf(stderr, "tw-tun-responder: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	fprintf(stderr,
		"usage: tw-tun-responder [--dev NAME] [--v4 198.18.X.Y] [--v6 fd00::...]\n"
		"         [--mode open|closed|silent|unreach[:C4[,C6]][/Q]] [--port P=MODE]...\n"
		"         [--delay-us N] [--sport-delay LO-HI=US] [--icmp-code4 C] [--icmp-code6 "
		"C] [--mss N]\n"
		"         [--window N] [--wscale N] [--ttl N] [--timeout S] [--cpu N]\n"
		"         [--rt PRIO]\n");
	return 2;
}

static int parse_uint(const char *s, long max, long *ret)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* open, closed, silent, unreach, unreach:C4, unreach:C4,C6, and any of
 * the unreach ones with /Q (only Q bytes of the TCP header quoted) */
static int parse_mode(const char *arg, struct mode_spec *m)
{
	char s[64], buf[32], *comma, *colon, *slash;
	size_t n;
	int i;
	long v;

	if (strlen(arg) >= sizeof(s))
		return -EINVAL;
	snprintf(s, sizeof(s), "%s", arg);
	m->quote = -1;
	slash = strchr(s, '/');
	if (slash) {
		*slash++ = '\0';
		if (parse_uint(slash, 60, &v) < 0 || v < 8)
			return -EINVAL; /* RFC 792: 8 bytes at least */
		m->quote = (int)v;
	}
	colon = strchr(s, ':');
	n = colon ? (size_t)(colon - s) : strlen(s);
	for (i = 0; i < 4; i++)
		if (strlen(mode_names[i]) == n && !strncmp(s, mode_names[i], n))
			break;
	if (i == 4)
		return -EINVAL;
	m->mode = (enum mode)i;
	m->code4 = m->code6 = -1;
	if (slash && m->mode != MODE_UNREACH)
		return -EINVAL;
	if (!colon)
		return 0;
	if (m->mode != MODE_UNREACH || strlen(colon + 1) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", colon + 1);
	comma = strchr(buf, ',');
	if (comma)
		*comma++ = '\0';
	if (parse_uint(buf, 255, &v) < 0)
		return -EINVAL;
	m->code4 = (int)v;
	if (comma) {
		if (parse_uint(comma, 255, &v) < 0)
			return -EINVAL;
		m->code6 = (int)v;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t order = 0, end_ns, last_empty;
	uint8_t buf[65536];
	struct sigaction sa = {.sa_handler = on_signal};
	pid_t parent;
	struct stat st;
	int fd, out_flags = -1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		long x;

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return usage("a host behind a TUN device", NULL), 0;
		if (!v)
			return usage("an option needs a value", a);
		i++;
		if (!strcmp(a, "--dev")) {
			if (strlen(v) >= IFNAMSIZ)
				return usage("a device name is at most 15 characters", v);
			opt.dev = v;
		} else if (!strcmp(a, "--v4")) {
			/* only the test networks: 198.18.0.0/15 */
			if (inet_pton(AF_INET, v, opt.addr4) != 1 || opt.addr4[0] != 198 ||
			    (opt.addr4[1] & 0xfe) != 18)
				return usage("--v4 takes an address of 198.18.0.0/15", v);
			opt.have4 = true;
		} else if (!strcmp(a, "--v6")) {
			if (inet_pton(AF_INET6, v, opt.addr6) != 1 || opt.addr6[0] != 0xfd)
				return usage("--v6 takes an address of fd00::/8", v);
			opt.have6 = true;
		} else if (!strcmp(a, "--mode")) {
			if (parse_mode(v, &opt.mode) < 0)
				return usage("not a mode", v);
		} else if (!strcmp(a, "--port")) {
			const char *eq = strchr(v, '=');
			char num[8];

			if (!eq || eq - v >= (long)sizeof(num) || opt.n_ports == MAX_PORTS)
				return usage("--port takes PORT=MODE", v);
			memcpy(num, v, (size_t)(eq - v));
			num[eq - v] = '\0';
			if (parse_uint(num, 65535, &x) < 0 || !x ||
			    parse_mode(eq + 1, &opt.ports[opt.n_ports].spec) < 0)
				return usage("--port takes PORT=MODE", v);
			opt.ports[opt.n_ports++].port = (uint16_t)x;
		} else if (!strcmp(a, "--sport-delay")) {
			unsigned lo, hi, us;
			char end;

			if (sscanf(v, "%u-%u=%u%c", &lo, &hi, &us, &end) != 3 || !lo || lo > hi ||
			    hi > 65535 || us > 60000000)
				return usage("--sport-delay takes LO-HI=MICROSECONDS", v);
			opt.slow_lo = (uint16_t)lo;
			opt.slow_hi = (uint16_t)hi;
			opt.slow_delay_ns = (uint64_t)us * 1000;
		} else if (!strcmp(a, "--delay-us")) {
			if (parse_uint(v, 60000000, &x) < 0)
				return usage("--delay-us takes microseconds", v);
			opt.delay_ns = (uint64_t)x * 1000;
		} else if (!strcmp(a, "--icmp-code4") || !strcmp(a, "--icmp-code6")) {
			if (parse_uint(v, 255, &x) < 0)
				return usage("an ICMP code is 0 to 255", v);
			*(a[11] == '4' ? &opt.code4 : &opt.code6) = (int)x;
		} else if (!strcmp(a, "--mss")) {
			if (parse_uint(v, 65535, &x) < 0 || x < 64)
				return usage("--mss takes 64 to 65535", v);
			opt.mss = (int)x;
		} else if (!strcmp(a, "--window")) {
			if (parse_uint(v, 65535, &x) < 0 || !x)
				return usage("--window takes 1 to 65535", v);
			opt.window = (int)x;
		} else if (!strcmp(a, "--wscale")) {
			if (parse_uint(v, 14, &x) < 0)
				return usage("--wscale takes 0 to 14", v);
			opt.wscale = (int)x;
		} else if (!strcmp(a, "--ttl")) {
			if (parse_uint(v, 255, &x) < 0 || !x)
				return usage("--ttl takes 1 to 255", v);
			opt.ttl = (int)x;
		} else if (!strcmp(a, "--timeout")) {
			char *end;

			opt.timeout_s = strtod(v, &end);
			if (*end || !(opt.timeout_s > 0) || opt.timeout_s > 86400)
				return usage("--timeout takes seconds", v);
		} else if (!strcmp(a, "--cpu")) {
			if (parse_uint(v, CPU_SETSIZE - 1, &x) < 0)
				return usage("--cpu takes a CPU number", v);
			opt.cpu = (int)x;
		} else if (!strcmp(a, "--rt")) {
			if (parse_uint(v, 99, &x) < 0)
				return usage("--rt takes a SCHED_FIFO priority, 1 to 99 (0: none)",
					     v);
			opt.rt = (int)x;
		} else {
			return usage("unknown option", a);
		}
	}
	if (!opt.have4 && !opt.have6)
		return usage("which address to emulate? (--v4, --v6)", NULL);
	if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state) || !rng_state)
		rng_state = mono_ns() | 1;
	if (opt.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opt.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "tw-tun-responder: CPU %d: %s\n", opt.cpu, strerror(errno));
			return 1;
		}
	}
	if (opt.rt) {
		/* Not scheduled out by the machine's other work while it holds
		 * a reply or waits for a SYN; --timeout bounds the spin. */
		struct sched_param sp = {.sched_priority = opt.rt};

		if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0 ||
		    sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0)
			fprintf(stderr, "tw-tun-responder: SCHED_FIFO %d: %s\n", opt.rt,
				strerror(errno));
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a reader gone is outbuf.broken */
	/* A busy loop must not outlive the test that started it. */
	parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		return 0;
	fd = open_tun(opt.dev);
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    (out_flags = fcntl(STDOUT_FILENO, F_GETFL)) >= 0)
		fcntl(STDOUT_FILENO, F_SETFL, out_flags | O_NONBLOCK);
	out_printf("ready dev=%s\n", opt.dev);
	out_flush(true);
	end_ns = mono_ns() + (uint64_t)(opt.timeout_s * 1e9);
	last_empty = mono_ns();
	for (uint64_t spins = 0; !stop; spins++) {
		uint64_t t0 = mono_ns();
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			uint64_t t1 = mono_ns();

			/* It came after the last read that found nothing began. */
			on_packet(buf, (size_t)n, t1, t1 - last_empty, &order);
		} else if (n < 0 && errno == EAGAIN) {
			last_empty = t0;
		} else if (n < 0 && errno != EINTR) {
			fprintf(stderr, "tw-tun-responder: read: %s\n", strerror(errno));
			return 1;
		}
		if (heap.n)
			send_due(fd);
		if (!(spins & 0x3ff) && outbuf.len) /* what a full pipe left */
			out_flush_idle(mono_ns());
		if (!(spins & 0xffff) && mono_ns() >= end_ns)
			break;
	}
	/* What is still held is dropped: nobody waits for it any more. */
	while (heap.n)
		free(heap_pop());
	free(heap.v);
	close(fd);
	out_flush(true);
	if (out_flags >= 0)
		fcntl(STDOUT_FILENO, F_SETFL, out_flags);
	free(outbuf.v);
	fprintf(stderr, "tw-tun-responder: %llu SYNs, %llu replies, %llu ignored, %llu errors\n",
		(unsigned long long)n_syns, (unsigned long long)n_replies,
		(unsigned long long)n_ignored, (unsigned long long)n_errors);
	return n_errors ? 1 : 0;
}
