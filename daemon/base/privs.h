/*
 * Least privilege: after start-up the daemon keeps only the capabilities
 * it still uses, optionally as another user, and can never regain more.
 */
#ifndef TCPWATCH_PRIVS_H
#define TCPWATCH_PRIVS_H

#include <stddef.h>
#include <stdint.h>

#define PRIV_BIT(cap) (1ull << (cap))

/*
 * Keeps the capabilities in keep (PRIV_BIT(CAP_...)) and drops the rest
 * from the effective, permitted, inheritable and ambient sets (and the
 * bounding set, where CAP_SETPCAP allows); no_new_privs is set. With a
 * user (started as root), switches to it and its groups first, the kept
 * capabilities surviving the switch. 0 or a negative errno with a
 * message in err.
 */
int privs_drop(uint64_t keep, const char *user, char *err, size_t err_len);
/* The calling thread's effective capabilities; 0 if they cannot be read. */
uint64_t privs_effective(void);
/* "cap_net_raw,cap_sys_admin" ("none" when empty) into out. */
void privs_format(uint64_t caps, char *out, size_t len);

#endif
