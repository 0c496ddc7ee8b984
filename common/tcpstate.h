/* TCP state numbers as the kernel defines them, and their names. */
#ifndef TCPWATCH_TCPSTATE_H
#define TCPWATCH_TCPSTATE_H

#include <stdint.h>

enum tw_tcp_state {
	TW_TCP_UNKNOWN = 0,
	TW_TCP_ESTABLISHED = 1,
	TW_TCP_SYN_SENT,
	TW_TCP_SYN_RECV,
	TW_TCP_FIN_WAIT1,
	TW_TCP_FIN_WAIT2,
	TW_TCP_TIME_WAIT,
	TW_TCP_CLOSE,
	TW_TCP_CLOSE_WAIT,
	TW_TCP_LAST_ACK,
	TW_TCP_LISTEN,
	TW_TCP_CLOSING,
	TW_TCP_NEW_SYN_RECV, /* request socket in a listener's SYN queue */
	TW_TCP_BOUND_INACTIVE,
	TW_TCP_MAX_STATES,
};

/* Bit mask of states, 1 << state. */
#define TW_STATE_BIT(s) (1u << (s))
#define TW_STATES_ALL   ((1u << TW_TCP_MAX_STATES) - 2u)
/* What `ss -t` shows without -a: neither listeners, nor closed,
 * TIME_WAIT or half-open sockets. */
#define TW_STATES_CONNECTED_DEFAULT                                                                \
	(TW_STATES_ALL &                                                                           \
	 ~(TW_STATE_BIT(TW_TCP_LISTEN) | TW_STATE_BIT(TW_TCP_CLOSE) |                              \
	   TW_STATE_BIT(TW_TCP_TIME_WAIT) | TW_STATE_BIT(TW_TCP_SYN_RECV) |                        \
	   TW_STATE_BIT(TW_TCP_NEW_SYN_RECV) | TW_STATE_BIT(TW_TCP_BOUND_INACTIVE)))

/* Kernel name ("ESTABLISHED", "SYN_SENT"...), "UNKNOWN" if out of range.
 * NEW_SYN_RECV is reported as SYN_RECV, as ss does. */
const char *tcpstate_name(int state);
/* ss's short name ("ESTAB", "SYN-SENT", ...). */
const char *tcpstate_ss_name(int state);
/* Kernel or ss name, any case ("established", "ESTABLISHED", "syn-sent",
 * "SYN_SENT"...). Returns the state or -1. */
int tcpstate_parse(const char *name);
/* A state or one of ss's state groups ("all", "connected", "synchronized",
 * "bucket", "big") to a mask of TW_STATE_BIT()s; 0 if unknown. */
uint32_t tcpstate_parse_mask(const char *name);

#endif
