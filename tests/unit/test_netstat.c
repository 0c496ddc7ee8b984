/* Unit tests for daemon/kernel/netstat.c: the parser of /proc/net/netstat
 * and /proc/net/snmp (a header line and a values line per group) and the
 * reader of the two files. Real-looking text (a 6.x kernel's groups and
 * names), then missing keys, unknown keys and groups, values past 2^32,
 * malformed lines and every truncation of a real file: it must never
 * crash, never read past the text, and never store a wrong value. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netstat.h"
#include "nsstat.h"

#define SENTINEL 0x5e5e5e5e5e5e5e5eull

/* /proc/net/snmp of a 6.x kernel, as read. */
static const char snmp_text[] =
	"Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams "
	"InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout "
	"ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits\n"
	"Ip: 2 64 433316262 0 0 0 0 0 433316262 433316113 0 0 0 0 0 0 0 0 0 433316113\n"
	"Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs "
	"InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps "
	"OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds "
	"OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps "
	"OutTimestampReps OutAddrMasks OutAddrMaskReps\n"
	"Icmp: 1 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	"IcmpMsg: InType3\n"
	"IcmpMsg: 1\n"
	"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails "
	"EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n"
	"Tcp: 1 200 120000 -1 54216956 54216844 59 200028 12 433316328 433315982 200 3 100115 0\n"
	"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors "
	"IgnoredMulti MemErrors\n"
	"Udp: 32 0 7 33 0 0 0 0 0\n"
	"UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors "
	"InCsumErrors IgnoredMulti MemErrors\n"
	"UdpLite: 0 0 0 0 0 0 0 0 0\n";

/* The names of a 6.x kernel's TcpExt group, in its order. */
static const char tcpext_names[] =
	"SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned "
	"OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive "
	"PAWSEstab BeyondWindow TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs "
	"DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops TCPHPHits TCPPureAcks "
	"TCPHPAcks TCPRenoRecovery TCPSackRecovery TCPSACKReneging TCPSACKReorder TCPRenoReorder "
	"TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo TCPLossUndo TCPLostRetransmit "
	"TCPRenoFailures TCPSackFailures TCPLossFailures TCPFastRetrans TCPSlowStartRetrans "
	"TCPTimeouts TCPLossProbes TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail "
	"TCPRcvCollapsed TCPBacklogCoalesce TCPDSACKOldSent TCPDSACKOfoSent TCPDSACKRecv "
	"TCPDSACKOfoRecv TCPAbortOnData TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout "
	"TCPAbortOnLinger TCPAbortFailed TCPMemoryPressures TCPMemoryPressuresChrono "
	"TCPSACKDiscard TCPDSACKIgnoredOld TCPDSACKIgnoredNoUndo TCPSpuriousRTOs TCPMD5NotFound "
	"TCPMD5Unexpected TCPMD5Failure TCPSackShifted TCPSackMerged TCPSackShiftFallback "
	"TCPBacklogDrop PFMemallocDrop TCPMinTTLDrop TCPDeferAcceptDrop IPReversePathFilter "
	"TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop TCPRetransFail TCPRcvCoalesce "
	"TCPOFOQueue TCPOFODrop TCPOFOMerge TCPChallengeACK TCPSYNChallenge TCPFastOpenActive "
	"TCPFastOpenActiveFail TCPFastOpenPassive TCPFastOpenPassiveFail TCPFastOpenListenOverflow "
	"TCPFastOpenCookieReqd TCPFastOpenBlackhole TCPSpuriousRtxHostQueues BusyPollRxPackets "
	"TCPAutoCorking TCPFromZeroWindowAdv TCPToZeroWindowAdv TCPWantZeroWindowAdv "
	"TCPSynRetrans TCPOrigDataSent TCPHystartTrainDetect TCPHystartTrainCwnd "
	"TCPHystartDelayDetect TCPHystartDelayCwnd TCPACKSkippedSynRecv TCPACKSkippedPAWS "
	"TCPACKSkippedSeq TCPACKSkippedFinWait2 TCPACKSkippedTimeWait TCPACKSkippedChallenge "
	"TCPWinProbe TCPKeepAlive TCPMTUPFail TCPMTUPSuccess TCPDelivered TCPDeliveredCE "
	"TCPAckCompressed TCPZeroWindowDrop TCPRcvQDrop TCPWqueueTooBig TCPFastOpenPassiveAltKey "
	"TcpTimeoutRehash TcpDuplicateDataRehash TCPDSACKRecvSegs TCPDSACKIgnoredDubious "
	"TCPMigrateReqSuccess TCPMigrateReqFailure TCPPLBRehash TCPAORequired TCPAOBad "
	"TCPAOKeyNotFound TCPAOGood TCPAODroppedIcmps";

static const char ipext_mptcp_text[] =
	"IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts "
	"InOctets OutOctets InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets "
	"InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts ReasmOverlaps\n"
	"IpExt: 0 0 0 0 0 0 24746672932 24719009501 0 0 0 0 0 451066791 0 0 0 0\n"
	"MPTcpExt: MPCapableSYNRX MPCapableSYNTX MPCurrEstab Blackhole\n"
	"MPTcpExt: 0 0 77 0\n";

/* The value the made-up TcpExt line gives a name: distinct per field, and
 * past 2^32 for one of ours. */
static uint64_t tcpext_value(const char *name, size_t i)
{
	if (!strcmp(name, "ListenOverflows"))
		return 240;
	if (!strcmp(name, "ListenDrops"))
		return 5000000000ull + 241; /* past 2^32 */
	if (!strcmp(name, "SyncookiesSent"))
		return 40;
	return 1000 + i;
}

/* /proc/net/netstat: TcpExt with every name of a real kernel, values from
 * tcpext_value, then IpExt and MPTcpExt. Caller frees. */
static char *netstat_text(void)
{
	size_t cap = 16384, len = 0;
	char *out = malloc(cap), *names = strdup(tcpext_names), *save = NULL;
	size_t i = 0;

	assert_non_null(out);
	assert_non_null(names);
	len += (size_t)snprintf(out + len, cap - len, "TcpExt: %s\nTcpExt:", tcpext_names);
	for (char *n = strtok_r(names, " ", &save); n; n = strtok_r(NULL, " ", &save), i++)
		len += (size_t)snprintf(out + len, cap - len, " %llu",
					(unsigned long long)tcpext_value(n, i));
	len += (size_t)snprintf(out + len, cap - len, "\n%s", ipext_mptcp_text);
	assert_true(len < cap);
	free(names);
	return out;
}

/* The TcpExt value expected for a key (0 if the line has no such name). */
static uint64_t tcpext_expected(int k)
{
	char *names = strdup(tcpext_names), *save = NULL;
	uint64_t want = 0;
	size_t i = 0;

	assert_non_null(names);
	for (char *n = strtok_r(names, " ", &save); n; n = strtok_r(NULL, " ", &save), i++)
		if (!strcmp(n, tw_nsstat_name[k]))
			want = tcpext_value(n, i);
	free(names);
	return want;
}

static void sentinel(uint64_t v[TW_NS_KEYS])
{
	for (int k = 0; k < TW_NS_KEYS; k++)
		v[k] = SENTINEL;
}

/* The expected value of every key after both files (snmp_text's Tcp and
 * netstat_text's TcpExt). */
static void expected(uint64_t want[TW_NS_KEYS])
{
	for (int k = 0; k < TW_NS_KEYS; k++)
		want[k] = !strcmp(tw_nsstat_group[k], "TcpExt") ? tcpext_expected(k) : 0;
	want[TW_NS_ACTIVE_OPENS] = 54216956;
	want[TW_NS_PASSIVE_OPENS] = 54216844;
	want[TW_NS_ATTEMPT_FAILS] = 59;
	want[TW_NS_ESTAB_RESETS] = 200028;
	want[TW_NS_CURR_ESTAB] = 12;
	want[TW_NS_RETRANS_SEGS] = 200;
	want[TW_NS_IN_ERRS] = 3;
	want[TW_NS_OUT_RSTS] = 100115;
}

/* Parses text given exactly len bytes, with no NUL after them: a read
 * past the end is a sanitizer error. */
static int parse_exact(const char *text, size_t len, uint64_t v[TW_NS_KEYS])
{
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, text, len);
	r = netstat_parse(copy, len, v);
	free(copy);
	return r;
}

/* /proc/net/snmp: the Tcp keys, and only those (Udp's InErrors is not
 * Tcp's InErrs; MaxConn -1 is no key of ours). */
static void test_parse_snmp(void **state)
{
	uint64_t v[TW_NS_KEYS], want[TW_NS_KEYS];
	int n_tcp = 0;

	(void)state;
	sentinel(v);
	expected(want);
	for (int k = 0; k < TW_NS_KEYS; k++)
		n_tcp += !strcmp(tw_nsstat_group[k], "Tcp");
	assert_int_equal(parse_exact(snmp_text, strlen(snmp_text), v), n_tcp);
	for (int k = 0; k < TW_NS_KEYS; k++) {
		if (!strcmp(tw_nsstat_group[k], "Tcp"))
			assert_int_equal(v[k], want[k]);
		else
			assert_int_equal(v[k], SENTINEL); /* left alone */
	}
}

/* /proc/net/netstat: every TcpExt key from a full-size line (136 fields),
 * including one past 2^32; IpExt and MPTcpExt (MPCurrEstab is not
 * CurrEstab) ignored. */
static void test_parse_netstat(void **state)
{
	uint64_t v[TW_NS_KEYS], want[TW_NS_KEYS];
	char *text = netstat_text();
	int n_ext = 0;

	(void)state;
	sentinel(v);
	expected(want);
	for (int k = 0; k < TW_NS_KEYS; k++)
		n_ext += !strcmp(tw_nsstat_group[k], "TcpExt");
	assert_int_equal(parse_exact(text, strlen(text), v), n_ext);
	for (int k = 0; k < TW_NS_KEYS; k++) {
		if (!strcmp(tw_nsstat_group[k], "TcpExt"))
			assert_int_equal(v[k], want[k]);
		else
			assert_int_equal(v[k], SENTINEL);
	}
	assert_int_equal(v[TW_NS_LISTEN_DROPS], 5000000241ull);
	assert_int_equal(v[TW_NS_LISTEN_OVERFLOWS], 240);
	assert_int_equal(v[TW_NS_SYNCOOKIES_SENT], 40);
	free(text);
}

/* Values up to 2^64 - 1 are kept whole; a negative one (CurrEstab and
 * MaxConn print signed) is 0, not 2^64 - 1. */
static void test_large_and_signed_values(void **state)
{
	static const char t[] = "Tcp: ActiveOpens PassiveOpens RetransSegs CurrEstab\n"
				"Tcp: 4294967296 18446744073709551615 99999999999999 -5\n";
	uint64_t v[TW_NS_KEYS];

	(void)state;
	sentinel(v);
	assert_int_equal(parse_exact(t, strlen(t), v), 4);
	assert_int_equal(v[TW_NS_ACTIVE_OPENS], 4294967296ull);
	assert_int_equal(v[TW_NS_PASSIVE_OPENS], UINT64_MAX);
	assert_int_equal(v[TW_NS_RETRANS_SEGS], 99999999999999ull);
	assert_int_equal(v[TW_NS_CURR_ESTAB], 0);
}

/* A file that lacks some keys (an older kernel) sets the ones it has and
 * leaves the others; unknown names and groups are skipped, not errors. */
static void test_missing_and_unknown_keys(void **state)
{
	static const char t[] = "TcpExt: SomethingNew ListenDrops AnotherNewOne\n"
				"TcpExt: 1 9 2\n"
				"FutureGroup: ListenOverflows ActiveOpens\n"
				"FutureGroup: 111 222\n";
	uint64_t v[TW_NS_KEYS];

	(void)state;
	sentinel(v);
	assert_int_equal(parse_exact(t, strlen(t), v), 1);
	assert_int_equal(v[TW_NS_LISTEN_DROPS], 9);
	/* The same names in another group are not ours. */
	assert_int_equal(v[TW_NS_LISTEN_OVERFLOWS], SENTINEL);
	assert_int_equal(v[TW_NS_ACTIVE_OPENS], SENTINEL);
	for (int k = 0; k < TW_NS_KEYS; k++)
		if (k != TW_NS_LISTEN_DROPS)
			assert_int_equal(v[k], SENTINEL);
}

/* A group whose name is a prefix of another's ("Tcp" of "TcpExt") is not
 * mistaken for it, either way round. */
static void test_group_prefix(void **state)
{
	static const char t[] = "TcpExt: ActiveOpens\n"
				"TcpExt: 5\n"
				"Tcp: ListenDrops\n"
				"Tcp: 6\n";
	uint64_t v[TW_NS_KEYS];

	(void)state;
	sentinel(v);
	assert_int_equal(parse_exact(t, strlen(t), v), 0);
	assert_int_equal(v[TW_NS_ACTIVE_OPENS], SENTINEL);
	assert_int_equal(v[TW_NS_LISTEN_DROPS], SENTINEL);
	/* A values line of the other group is no values line. */
	{
		static const char u[] = "Tcp: ActiveOpens\nTcpExt: 5\n";

		assert_int_equal(parse_exact(u, strlen(u), v), -EINVAL);
		assert_int_equal(v[TW_NS_ACTIVE_OPENS], SENTINEL);
	}
}

/* Text that is not such a file is -EINVAL: a header without values, a
 * values line with more or fewer fields, a line without a group, two
 * headers in a row. */
static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"Tcp: ActiveOpens PassiveOpens\n",
		"Tcp: ActiveOpens PassiveOpens",
		"Tcp: ActiveOpens PassiveOpens\nTcp: 1\n",
		"Tcp: ActiveOpens PassiveOpens\nTcp: 1 2 3\n",
		"Tcp: ActiveOpens\nUdp: 1\n",
		"no group here\nat all\n",
		"Tcp ActiveOpens\nTcp 1\n",
		"Tcp: ActiveOpens\nTcp: 1\nTcp: PassiveOpens\n",
		"Tcp: ActiveOpens\n\nTcp: PassiveOpens\nTcp: 3\n",
	};
	uint64_t v[TW_NS_KEYS];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		sentinel(v);
		r = parse_exact(bad[i], strlen(bad[i]), v);
		if (r != -EINVAL)
			fail_msg("case %zu: %d, want -EINVAL", i, r);
		/* Nothing taken from a mismatched pair. */
		assert_int_equal(v[TW_NS_PASSIVE_OPENS], SENTINEL);
	}
	/* Empty lines between pairs are no harm. */
	{
		static const char ok[] = "\nTcp: ActiveOpens\nTcp: 4\n\n\nTcp: OutRsts\nTcp: 8\n\n";

		sentinel(v);
		assert_int_equal(parse_exact(ok, strlen(ok), v), 2);
		assert_int_equal(v[TW_NS_ACTIVE_OPENS], 4);
		assert_int_equal(v[TW_NS_OUT_RSTS], 8);
	}
	/* Nothing at all sets nothing. */
	sentinel(v);
	assert_true(parse_exact("", 0, v) <= 0);
	assert_true(parse_exact("\n\n", 2, v) <= 0);
	for (int k = 0; k < TW_NS_KEYS; k++)
		assert_int_equal(v[k], SENTINEL);
}

/* Values that are not numbers do not crash the parse nor disturb the
 * other fields. (Note: netstat.c ignores strtoull's end pointer, so a
 * non-numeric value is stored as 0 or as its numeric prefix; /proc never
 * prints one, so this only checks its neighbours.) */
static void test_garbage_values(void **state)
{
	static const char t[] = "Tcp: ActiveOpens PassiveOpens AttemptFails OutRsts\n"
				"Tcp: 12 abc 3x 7\n";
	uint64_t v[TW_NS_KEYS];
	int r;

	(void)state;
	sentinel(v);
	r = parse_exact(t, strlen(t), v);
	assert_true(r == -EINVAL || r >= 2);
	if (r >= 0) {
		assert_int_equal(v[TW_NS_ACTIVE_OPENS], 12);
		assert_int_equal(v[TW_NS_OUT_RSTS], 7);
	}
}

/* Binary junk, NULs inside, very long lines, thousands of fields,
 * tabs: no crash, no read past the text. */
static void test_junk(void **state)
{
	uint64_t v[TW_NS_KEYS];
	uint64_t s = 0x243f6a8885a308d3ull;
	char buf[512];

	(void)state;
	for (int round = 0; round < 2000; round++) {
		size_t len = 1 + (size_t)(round % (int)sizeof(buf));

		for (size_t i = 0; i < len; i++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			/* Mostly the file's own alphabet, so lines pair up. */
			buf[i] = "Tcp: ListenDrops 0123456789\n\t-"[s % 30];
			if (s % 97 == 0)
				buf[i] = (char)(s >> 40);
		}
		sentinel(v);
		(void)parse_exact(buf, len, v);
	}
	/* A NUL ends the text as far as the parser goes. */
	{
		static const char t[] = "Tcp: ActiveOpens\nTcp: 5\n\0Tcp: OutRsts\nTcp: 6\n";

		sentinel(v);
		assert_int_equal(parse_exact(t, sizeof(t) - 1, v), 1);
		assert_int_equal(v[TW_NS_ACTIVE_OPENS], 5);
		assert_int_equal(v[TW_NS_OUT_RSTS], SENTINEL);
	}
	/* Tabs separate like spaces. */
	{
		static const char t[] = "Tcp:\tActiveOpens\tOutRsts\nTcp:\t5\t6\n";

		sentinel(v);
		assert_int_equal(parse_exact(t, strlen(t), v), 2);
		assert_int_equal(v[TW_NS_OUT_RSTS], 6);
	}
	/* 3000 fields with ours first: found, no overflow of the field
	 * arrays. */
	{
		size_t cap = 64 * 1024, len;
		char *t = malloc(cap);

		assert_non_null(t);
		len = (size_t)snprintf(t, cap, "TcpExt: ListenDrops");
		for (int i = 0; i < 3000; i++)
			len += (size_t)snprintf(t + len, cap - len, " F%d", i);
		len += (size_t)snprintf(t + len, cap - len, "\nTcpExt: 77");
		for (int i = 0; i < 3000; i++)
			len += (size_t)snprintf(t + len, cap - len, " %d", i);
		len += (size_t)snprintf(t + len, cap - len, "\n");
		assert_true(len < cap);
		sentinel(v);
		assert_int_equal(parse_exact(t, len, v), 1);
		assert_int_equal(v[TW_NS_LISTEN_DROPS], 77);
		free(t);
	}
}

/* Both files cut at every length (a short read): never a crash, and any
 * key set holds its true value, never a cut-off one. */
static void test_every_truncation(void **state)
{
	char *netstat = netstat_text();
	const char *texts[] = {snmp_text, netstat};
	uint64_t v[TW_NS_KEYS], want[TW_NS_KEYS];

	(void)state;
	expected(want);
	for (size_t f = 0; f < 2; f++) {
		size_t full = strlen(texts[f]);

		for (size_t len = 0; len <= full; len++) {
			int r;

			sentinel(v);
			r = parse_exact(texts[f], len, v);
			assert_true(r == -EINVAL || r >= 0);
			for (int k = 0; k < TW_NS_KEYS; k++)
				if (v[k] != SENTINEL && v[k] != want[k])
					fail_msg("file %zu cut at %zu of %zu: key %s %llu, want "
						 "%llu",
						 f, len, full, tw_nsstat_name[k],
						 (unsigned long long)v[k],
						 (unsigned long long)want[k]);
		}
		/* Whole, it is fine. */
		sentinel(v);
		assert_true(parse_exact(texts[f], full, v) > 0);
	}
	free(netstat);
}

/* A file with the given text, open for reading (unlinked already). */
static int file_with(const char *text)
{
	char path[] = "/tmp/test_netstat.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

/* netstat_read reads both files from offset 0 into one v[]; -1 skips a
 * file; re-reading the same descriptors gives the values now. */
static void test_read_files(void **state)
{
	char *text = netstat_text();
	int nfd = file_with(text), sfd = file_with(snmp_text);
	uint64_t v[TW_NS_KEYS], want[TW_NS_KEYS];

	(void)state;
	expected(want);
	sentinel(v);
	assert_int_equal(netstat_read(nfd, sfd, v), 0);
	for (int k = 0; k < TW_NS_KEYS; k++)
		assert_int_equal(v[k], want[k]);
	/* The file offset does not matter (pread from 0): read again. */
	sentinel(v);
	assert_int_equal(netstat_read(nfd, sfd, v), 0);
	assert_int_equal(v[TW_NS_OUT_RSTS], 100115);
	/* The counters move: the same descriptor sees the new text. */
	{
		static const char t[] = "Tcp: OutRsts ActiveOpens\nTcp: 100116 1\n";

		assert_int_equal(ftruncate(sfd, 0), 0);
		assert_int_equal(pwrite(sfd, t, strlen(t), 0), (ssize_t)strlen(t));
		assert_int_equal(netstat_read(-1, sfd, v), 0);
		assert_int_equal(v[TW_NS_OUT_RSTS], 100116);
		assert_int_equal(v[TW_NS_ACTIVE_OPENS], 1);
	}
	/* -1 for both: nothing read, nothing changed. */
	sentinel(v);
	assert_int_equal(netstat_read(-1, -1, v), 0);
	for (int k = 0; k < TW_NS_KEYS; k++)
		assert_int_equal(v[k], SENTINEL);
	/* Only netstat. */
	sentinel(v);
	assert_int_equal(netstat_read(nfd, -1, v), 0);
	assert_int_equal(v[TW_NS_LISTEN_DROPS], want[TW_NS_LISTEN_DROPS]);
	assert_int_equal(v[TW_NS_OUT_RSTS], SENTINEL);
	close(nfd);
	close(sfd);
	free(text);
}

/* An empty file, a descriptor that cannot be read, or text that is no
 * such file: a negative errno, and the second file is not read after the
 * first failed. */
static void test_read_errors(void **state)
{
	int empty = file_with(""), junk = file_with("this is not\n/proc/net/netstat\n");
	int sfd = file_with(snmp_text);
	int dir = open("/", O_RDONLY | O_DIRECTORY);
	uint64_t v[TW_NS_KEYS];

	(void)state;
	assert_true(dir >= 0);
	sentinel(v);
	assert_true(netstat_read(empty, -1, v) < 0);
	assert_true(netstat_read(dir, -1, v) < 0); /* pread: EISDIR */
	assert_int_equal(netstat_read(junk, -1, v), -EINVAL);
	assert_true(netstat_read(empty, sfd, v) < 0);
	assert_int_equal(v[TW_NS_OUT_RSTS], SENTINEL);
	/* A good first file and a bad second: an error. */
	assert_true(netstat_read(sfd, empty, v) < 0);
	close(empty);
	close(junk);
	close(sfd);
	close(dir);
}

/* /proc/net/sockstat's TCP line: alloc + tw, wherever the line is;
 * anything else is -EINVAL. */
static void test_sockstat(void **state)
{
	static const char real[] = "sockets: used 240\n"
				   "TCP: inuse 100004 orphan 0 tw 5120 alloc 100011 mem 3\n"
				   "UDP: inuse 2 mem 1\n";
	static const char *bad[] = {
		"",
		"sockets: used 8\n",
		"TCP: inuse 1 orphan 0 alloc 1 mem 0\n",          /* no tw */
		"TCP: inuse 1 orphan 0 tw 0 mem 0\n",             /* no alloc */
		"TCP: inuse 1 orphan 0 tw x alloc 1 mem 0\n",     /* not a number */
		"TCP: inuse 1 tw 0 alloc 99999999999999999999\n", /* too large */
		"UDP: inuse 1 tw 0 alloc 1\n",
	};

	(void)state;
	assert_int_equal(netstat_sockstat_tcp(real, strlen(real)), 100011 + 5120);
	/* Cut at the end of the number: still read. */
	assert_int_equal(netstat_sockstat_tcp(real, strstr(real, " mem") - real), 105131);
	{
		static const char zero[] = "TCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0";

		assert_int_equal(netstat_sockstat_tcp(zero, strlen(zero)), 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netstat_sockstat_tcp(bad[i], strlen(bad[i])), -EINVAL);
	/* Every truncation of the real text: an answer or -EINVAL, no read
	 * past the length. */
	for (size_t n = 0; n <= strlen(real); n++) {
		char *cut = malloc(n ? n : 1);
		long r;

		assert_non_null(cut);
		memcpy(cut, real, n);
		r = netstat_sockstat_tcp(cut, n);
		assert_true(r == -EINVAL || r >= 0);
		free(cut);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_snmp),
		cmocka_unit_test(test_parse_netstat),
		cmocka_unit_test(test_large_and_signed_values),
		cmocka_unit_test(test_missing_and_unknown_keys),
		cmocka_unit_test(test_group_prefix),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_garbage_values),
		cmocka_unit_test(test_junk),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_read_files),
		cmocka_unit_test(test_sockstat),
		cmocka_unit_test(test_read_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
