/*
 * tw-sandbox: runs a command inside the parts of the systemd unit's
 * sandbox that can be had without systemd, so the integration tests can
 * run tcpwatchd the way the unit runs it:
 *   --syscalls FILE  a seccomp allow list, one system call name a line
 *                    (SystemCallFilter=, as the test expanded it with
 *                    systemd-analyze syscall-filter); any other call
 *                    fails with EPERM (SystemCallErrorNumber=EPERM)
 *   --proc           a /proc of its own, hidepid=invisible
 *                    (ProtectProc=invisible)
 * then execs the command (setpriv, for User= and the capabilities).
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: tw-sandbox [--syscalls FILE] [--proc] -- COMMAND [ARG]...\n");
	return 2;
}

static int own_proc(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible") <
		    0) {
		fprintf(stderr, "tw-sandbox: cannot mount a /proc of its own: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

static int load_filter(const char *path)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	FILE *f = fopen(path, "re");
	char line[128];
	int n = 0, r;

	if (!ctx || !f) {
		fprintf(stderr, "tw-sandbox: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		int nr;

		line[strcspn(line, " \t\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		nr = seccomp_syscall_resolve_name(line);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not a call of this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0) {
			fprintf(stderr, "tw-sandbox: %s: %s\n", line, strerror(-r));
			return -1;
		}
		n++;
	}
	fclose(f);
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		fprintf(stderr, "tw-sandbox: cannot load the filter: %s\n", strerror(-r));
		return -1;
	}
	return n;
}

int main(int argc, char **argv)
{
	const char *syscalls = NULL;
	int proc = 0, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--syscalls") && i + 1 < argc)
			syscalls = argv[++i];
		else if (!strcmp(argv[i], "--proc"))
			proc = 1;
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else
			return usage();
	}
	if (i >= argc)
		return usage();
	if (proc && own_proc() < 0)
		return 1;
	if (syscalls && load_filter(syscalls) < 0)
		return 1;
	execvp(argv[i], argv + i);
	fprintf(stderr, "tw-sandbox: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
