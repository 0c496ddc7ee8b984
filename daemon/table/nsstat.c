#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "nsstat.h"

const char *const tw_nsstat_group[TW_NS_KEYS] = {
	[TW_NS_LISTEN_OVERFLOWS] = "TcpExt",
	[TW_NS_LISTEN_DROPS] = "TcpExt",
	[TW_NS_REQQ_FULL_DROP] = "TcpExt",
	[TW_NS_REQQ_FULL_DO_COOKIES] = "TcpExt",
	[TW_NS_SYNCOOKIES_SENT] = "TcpExt",
	[TW_NS_SYNCOOKIES_RECV] = "TcpExt",
	[TW_NS_SYNCOOKIES_FAILED] = "TcpExt",
	[TW_NS_SYN_RETRANS] = "TcpExt",
	[TW_NS_EMBRYONIC_RSTS] = "TcpExt",
	[TW_NS_ABORT_ON_DATA] = "TcpExt",
	[TW_NS_ACTIVE_OPENS] = "Tcp",
	[TW_NS_PASSIVE_OPENS] = "Tcp",
	[TW_NS_ATTEMPT_FAILS] = "Tcp",
	[TW_NS_ESTAB_RESETS] = "Tcp",
	[TW_NS_CURR_ESTAB] = "Tcp",
	[TW_NS_RETRANS_SEGS] = "Tcp",
	[TW_NS_IN_ERRS] = "Tcp",
	[TW_NS_OUT_RSTS] = "Tcp",
};

const char *const tw_nsstat_name[TW_NS_KEYS] = {
	[TW_NS_LISTEN_OVERFLOWS] = "ListenOverflows",
	[TW_NS_LISTEN_DROPS] = "ListenDrops",
	[TW_NS_REQQ_FULL_DROP] = "TCPReqQFullDrop",
	[TW_NS_REQQ_FULL_DO_COOKIES] = "TCPReqQFullDoCookies",
	[TW_NS_SYNCOOKIES_SENT] = "SyncookiesSent",
	[TW_NS_SYNCOOKIES_RECV] = "SyncookiesRecv",
	[TW_NS_SYNCOOKIES_FAILED] = "SyncookiesFailed",
	[TW_NS_SYN_RETRANS] = "TCPSynRetrans",
	[TW_NS_EMBRYONIC_RSTS] = "EmbryonicRsts",
	[TW_NS_ABORT_ON_DATA] = "TCPAbortOnData",
	[TW_NS_ACTIVE_OPENS] = "ActiveOpens",
	[TW_NS_PASSIVE_OPENS] = "PassiveOpens",
	[TW_NS_ATTEMPT_FAILS] = "AttemptFails",
	[TW_NS_ESTAB_RESETS] = "EstabResets",
	[TW_NS_CURR_ESTAB] = "CurrEstab",
	[TW_NS_RETRANS_SEGS] = "RetransSegs",
	[TW_NS_IN_ERRS] = "InErrs",
	[TW_NS_OUT_RSTS] = "OutRsts",
};

struct tw_nsstat *nsstat_entry(struct tw_nsstat_set *s, uint32_t netns)
{
	struct tw_nsstat *v;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].netns == netns)
			return &s->v[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;

		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	v = &s->v[s->n++];
	memset(v, 0, sizeof(*v));
	v->netns = netns;
	return v;
}

const struct tw_nsstat *nsstat_find(const struct tw_nsstat_set *s, uint32_t netns)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].netns == netns)
			return &s->v[i];
	return NULL;
}

void nsstat_update(struct tw_nsstat *e, const uint64_t v[TW_NS_KEYS], uint64_t now_ns)
{
	if (e->valid) {
		memcpy(e->prev, e->v, sizeof(e->prev));
		e->prev_ns = e->now_ns;
		for (int k = 0; k < TW_NS_KEYS; k++) {
			if (v[k] > e->v[k]) {
				e->grew_ns[k] = now_ns;
				e->grew_by[k] = v[k] - e->v[k];
			}
		}
	}
	memcpy(e->v, v, sizeof(e->v));
	e->now_ns = now_ns;
	e->valid = true;
}

double nsstat_rate(const struct tw_nsstat *e, enum tw_nsstat_key k)
{
	if (!e->prev_ns || e->now_ns <= e->prev_ns || e->v[k] < e->prev[k])
		return 0;
	return (double)(e->v[k] - e->prev[k]) * (double)NSEC_PER_SEC /
	       (double)(e->now_ns - e->prev_ns);
}

static bool kept(const uint32_t *keep, size_t n, uint32_t netns)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] == netns)
			return true;
	return false;
}

void nsstat_retain(struct tw_nsstat_set *s, const uint32_t *keep, size_t n_keep)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++)
		if (kept(keep, n_keep, s->v[i].netns))
			s->v[k++] = s->v[i];
	s->n = k;
}

void nsstat_fini(struct tw_nsstat_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
