#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privs.h"

/* The names as capabilities(7) and /proc/PID/status tools spell them. */
static const char *const cap_names[] = {
	"cap_chown",
	"cap_dac_override",
	"cap_dac_read_search",
	"cap_fowner",
	"cap_fsetid",
	"cap_kill",
	"cap_setgid",
	"cap_setuid",
	"cap_setpcap",
	"cap_linux_immutable",
	"cap_net_bind_service",
	"cap_net_broadcast",
	"cap_net_admin",
	"cap_net_raw",
	"cap_ipc_lock",
	"cap_ipc_owner",
	"cap_sys_module",
	"cap_sys_rawio",
	"cap_sys_chroot",
	"cap_sys_ptrace",
	"cap_sys_pacct",
	"cap_sys_admin",
	"cap_sys_boot",
	"cap_sys_nice",
	"cap_sys_resource",
	"cap_sys_time",
	"cap_sys_tty_config",
	"cap_mknod",
	"cap_lease",
	"cap_audit_write",
	"cap_audit_control",
	"cap_setfcap",
	"cap_mac_override",
	"cap_mac_admin",
	"cap_syslog",
	"cap_wake_alarm",
	"cap_block_suspend",
	"cap_audit_read",
	"cap_perfmon",
	"cap_bpf",
	"cap_checkpoint_restore",
};
#define N_CAPS (sizeof(cap_names) / sizeof(cap_names[0]))

static int caps_get(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}, {0}}; /* Valgrind marks only d[0] written */

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	*eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	*prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	return 0;
}

static int caps_set(uint64_t caps)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {
		{.effective = (uint32_t)caps, .permitted = (uint32_t)caps},
		{.effective = (uint32_t)(caps >> 32), .permitted = (uint32_t)(caps >> 32)},
	};

	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

uint64_t privs_effective(void)
{
	uint64_t eff = 0, prm = 0;

	return caps_get(&eff, &prm) < 0 ? 0 : eff;
}

void privs_format(uint64_t caps, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < 64; i++) {
		int w;

		if (!(caps & PRIV_BIT(i)))
			continue;
		if (i < N_CAPS)
			w = snprintf(out + n, len - n, "%s%s", n ? "," : "", cap_names[i]);
		else
			w = snprintf(out + n, len - n, "%scap_%zu", n ? "," : "", i);
		if (w < 0 || (size_t)w >= len - n)
			return;
		n += (size_t)w;
	}
	if (!n)
		snprintf(out, len, "none");
}

/* To user and its groups, the permitted set kept over the switch. */
static int switch_user(const char *user, char *err, size_t err_len)
{
	struct passwd *pw = getpwnam(user);

	if (!pw)
		return snprintf(err, err_len, "user %s: no such user", user), -ENOENT;
	if (geteuid() != 0)
		return snprintf(err, err_len, "user %s: switching users needs root", user), -EPERM;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		int e = errno;

		snprintf(err, err_len, "cannot become user %s: %s", user, strerror(e));
		return -e;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

int privs_drop(uint64_t keep, const char *user, char *err, size_t err_len)
{
	uint64_t eff = 0, prm = 0;
	int r = caps_get(&eff, &prm);

	if (r < 0)
		return snprintf(err, err_len, "cannot read capabilities: %s", strerror(-r)), r;
	keep &= prm; /* what we never had cannot be kept */
	/* The bounding set first: it needs CAP_SETPCAP, which goes next. */
	for (unsigned long i = 0; i < 64; i++)
		if (!(keep & PRIV_BIT(i)) && prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
			prctl(PR_CAPBSET_DROP, i, 0, 0, 0); /* EPERM without CAP_SETPCAP */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (user && *user && (r = switch_user(user, err, err_len)) < 0)
		return r;
	r = caps_set(keep);
	if (r < 0)
		return snprintf(err, err_len, "cannot drop capabilities: %s", strerror(-r)), r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		return snprintf(err, err_len, "cannot set no_new_privs: %s", strerror(-r)), r;
	}
	if (caps_get(&eff, &prm) < 0 || eff != keep || prm != keep)
		return snprintf(err, err_len, "capabilities did not drop"), -EPERM;
	return 0;
}
