/*
 * Packets the kernel dropped, by its reason (enum skb_drop_reason). The
 * names come from the kernel's BTF at start (trace/dropreason.c fills
 * them in); counts are kept sparse, since one socket sees few reasons.
 */
#ifndef TCPWATCH_DROPS_H
#define TCPWATCH_DROPS_H

#include <stddef.h>
#include <stdint.h>

/* Reasons with a slot of their own (the kernel's core values; higher,
 * subsystem-specific ones share the last). Equal to bpf/tcpwatch.h's
 * TCPWATCH_DROP_REASONS. */
#define TW_DROP_REASONS 256

/* Sets the name of a reason (copied; without the SKB_DROP_REASON_ prefix). */
void drops_set_name(unsigned reason, const char *name);
/* The name of a reason, or "REASON_<n>" in buf when the kernel gave none. */
const char *drops_name(unsigned reason, char *buf, size_t len);
/* A reason by name; -1 if unknown. */
int drops_reason(const char *name);
/* Names known (the largest value + 1). */
unsigned drops_names_known(void);
/* Frees the names. */
void drops_free_names(void);

#define TW_DROP_SLOTS 6

/* Counts by reason: TW_DROP_SLOTS reasons, then the rest together. */
struct tw_drop_counts {
	uint64_t total;
	uint32_t other; /* drops of reasons beyond the slots */
	uint16_t reason[TW_DROP_SLOTS];
	uint32_t count[TW_DROP_SLOTS];
};

void drop_counts_add(struct tw_drop_counts *d, unsigned reason);
/* The count of one reason (0 if never seen or folded into other). */
uint32_t drop_counts_get(const struct tw_drop_counts *d, unsigned reason);

#endif
