/*
 * One socket as the kernel reports it (a sock_diag dump record). Defined
 * in the table's layer: the reconcile (table/) judges these and the
 * sock_diag parser (kernel/diag.c) produces them.
 */
#ifndef TCPWATCH_KSOCK_H
#define TCPWATCH_KSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "conntable.h"

struct tw_ksock {
	uint64_t cookie;
	uint8_t family;
	uint8_t state;
	uint8_t timer;       /* enum tw_timer_kind */
	uint8_t retrans;     /* idiag_retrans: unanswered probes, retransmits, or a request
			      * socket's SYN-ACK retransmits */
	uint16_t local_port; /* host order */
	uint16_t remote_port;
	uint8_t local_addr[16];
	uint8_t remote_addr[16];
	uint32_t expires_ms;
	uint32_t rqueue; /* LISTEN: accept queue length; else bytes unread */
	uint32_t wqueue; /* LISTEN: accept queue limit; else bytes unsent */
	uint32_t uid;
	uint32_t inode;
	bool has_info;
	struct tw_tcpinfo info; /* valid with has_info (sample_ns left 0) */
	bool has_mem;
	uint32_t sk_drops; /* SK_MEMINFO_DROPS (with has_mem): packets the socket dropped;
			    * a listener's are its ListenDrops (tcp_listendrop) */
};

#endif
