#include <string.h>
#include <strings.h>

#include "tcpstate.h"

static const char *const kernel_names[TW_TCP_MAX_STATES] = {
	[TW_TCP_ESTABLISHED] = "ESTABLISHED",
	[TW_TCP_SYN_SENT] = "SYN_SENT",
	[TW_TCP_SYN_RECV] = "SYN_RECV",
	[TW_TCP_FIN_WAIT1] = "FIN_WAIT1",
	[TW_TCP_FIN_WAIT2] = "FIN_WAIT2",
	[TW_TCP_TIME_WAIT] = "TIME_WAIT",
	[TW_TCP_CLOSE] = "CLOSE",
	[TW_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TW_TCP_LAST_ACK] = "LAST_ACK",
	[TW_TCP_LISTEN] = "LISTEN",
	[TW_TCP_CLOSING] = "CLOSING",
	[TW_TCP_NEW_SYN_RECV] = "SYN_RECV",
	[TW_TCP_BOUND_INACTIVE] = "BOUND_INACTIVE",
};

/* The names ss prints and the long names its filter takes. */
static const char *const ss_names[TW_TCP_MAX_STATES] = {
	[TW_TCP_ESTABLISHED] = "ESTAB",     [TW_TCP_SYN_SENT] = "SYN-SENT",
	[TW_TCP_SYN_RECV] = "SYN-RECV",     [TW_TCP_FIN_WAIT1] = "FIN-WAIT-1",
	[TW_TCP_FIN_WAIT2] = "FIN-WAIT-2",  [TW_TCP_TIME_WAIT] = "TIME-WAIT",
	[TW_TCP_CLOSE] = "UNCONN",          [TW_TCP_CLOSE_WAIT] = "CLOSE-WAIT",
	[TW_TCP_LAST_ACK] = "LAST-ACK",     [TW_TCP_LISTEN] = "LISTEN",
	[TW_TCP_CLOSING] = "CLOSING",       [TW_TCP_NEW_SYN_RECV] = "SYN-RECV",
	[TW_TCP_BOUND_INACTIVE] = "UNCONN",
};

static const char *const ss_filter_names[TW_TCP_MAX_STATES] = {
	[TW_TCP_ESTABLISHED] = "established",
	[TW_TCP_SYN_SENT] = "syn-sent",
	[TW_TCP_SYN_RECV] = "syn-recv",
	[TW_TCP_FIN_WAIT1] = "fin-wait-1",
	[TW_TCP_FIN_WAIT2] = "fin-wait-2",
	[TW_TCP_TIME_WAIT] = "time-wait",
	[TW_TCP_CLOSE] = "closed",
	[TW_TCP_CLOSE_WAIT] = "close-wait",
	[TW_TCP_LAST_ACK] = "last-ack",
	[TW_TCP_LISTEN] = "listening",
	[TW_TCP_CLOSING] = "closing",
};

const char *tcpstate_name(int state)
{
	if (state <= 0 || state >= TW_TCP_MAX_STATES)
		return "UNKNOWN";
	return kernel_names[state];
}

const char *tcpstate_ss_name(int state)
{
	if (state <= 0 || state >= TW_TCP_MAX_STATES)
		return "UNKNOWN";
	return ss_names[state];
}

int tcpstate_parse(const char *name)
{
	for (int s = 1; s < TW_TCP_MAX_STATES; s++) {
		if (s == TW_TCP_NEW_SYN_RECV)
			continue;
		if (!strcasecmp(name, kernel_names[s]) || !strcasecmp(name, ss_names[s]) ||
		    (ss_filter_names[s] && !strcasecmp(name, ss_filter_names[s])))
			return s;
	}
	if (!strcasecmp(name, "listen"))
		return TW_TCP_LISTEN;
	if (!strcasecmp(name, "close"))
		return TW_TCP_CLOSE;
	return -1;
}

uint32_t tcpstate_parse_mask(const char *name)
{
	const uint32_t all = TW_STATES_ALL & ~TW_STATE_BIT(TW_TCP_NEW_SYN_RECV) &
			     ~TW_STATE_BIT(TW_TCP_BOUND_INACTIVE);
	/* Groups as ss(8) defines them. */
	const uint32_t bucket = TW_STATE_BIT(TW_TCP_SYN_RECV) | TW_STATE_BIT(TW_TCP_TIME_WAIT);
	const uint32_t connected =
		all & ~(TW_STATE_BIT(TW_TCP_LISTEN) | TW_STATE_BIT(TW_TCP_CLOSE));
	const uint32_t synchronized = connected & ~TW_STATE_BIT(TW_TCP_SYN_SENT);
	int s;

	if (!strcasecmp(name, "all"))
		return all;
	if (!strcasecmp(name, "connected"))
		return connected;
	if (!strcasecmp(name, "synchronized"))
		return synchronized;
	if (!strcasecmp(name, "bucket"))
		return bucket;
	if (!strcasecmp(name, "big"))
		return all & ~bucket;
	s = tcpstate_parse(name);
	if (s < 0)
		return 0;
	return TW_STATE_BIT(s);
}
