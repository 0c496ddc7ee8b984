/*
 * Findings: explained, actionable observations derived from the table on
 * request: connections stuck in CLOSE_WAIT, FIN_WAIT2 and TIME_WAIT
 * pile-ups per remote endpoint, repeated connect failures per
 * destination, peers that keep resetting.
 */
#ifndef TCPWATCH_FINDINGS_H
#define TCPWATCH_FINDINGS_H

#include <stdint.h>

#include "conntable.h"
#include "json.h"

struct tw_findings_config {
	uint32_t close_wait_threshold_ms; /* CLOSE_WAIT older than this is stuck */
	uint32_t time_wait_pileup;        /* TIME_WAIT per remote endpoint */
	uint32_t fin_wait2_pileup;        /* FIN_WAIT2 per remote endpoint */
	uint32_t connect_failures;        /* refused/timed out per destination */
	uint32_t peer_resets;             /* resets received per remote endpoint */
};

#define TW_FINDINGS_MAX 1000        /* findings in one reply */
#define TW_FINDING_MAX_COOKIES 20   /* connections named per finding */
#define TW_FINDING_MAX_PROCS 8      /* processes named per finding */

/* Writes {"findings":[...],"thresholds":{...}} for the table now. */
void findings_write(struct tw_buf *b, struct tw_conntable *t, const struct tw_findings_config *cfg,
		    const struct tw_clock *clk);

#endif
