/* The names of the kernel's drop reasons, read from its BTF at start. */
#ifndef TCPWATCH_DROPREASON_H
#define TCPWATCH_DROPREASON_H

/* Fills the table's names (drops.h) from enum skb_drop_reason in
 * /sys/kernel/btf/vmlinux, without the SKB_DROP_REASON_ prefix. Returns
 * how many, or a negative errno (no BTF, or no such enum). */
int dropreason_load(void);

#endif
