/* Unit tests for daemon/kernel/netns.c, as root: the namespace a diag
 * socket was made in is the namespace it is recorded under, even while the
 * paths the scan reads change under it (a process moving to another
 * namespace). Skipped without root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"

/* The children made, killed by the teardown even when a test fails. */
static pid_t children[4];
static size_t n_children;

static int kill_children(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_children; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	n_children = 0;
	return 0;
}

/* A child in a namespace of its own, until killed. */
static pid_t ns_child(void)
{
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	assert_true(n_children < sizeof(children) / sizeof(children[0]));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Not holding the test's output open. */
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(1);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	children[n_children++] = pid;
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

/* The namespace a socket lives in, by asking the kernel. */
static uint32_t socket_netns(int fd)
{
	int ns = ioctl(fd, SIOCGSKNS);
	struct stat st;

	assert_true(ns >= 0);
	assert_int_equal(fstat(ns, &st), 0);
	close(ns);
	return (uint32_t)st.st_ino;
}

struct flipper {
	char link[320], a[64], b[64];
	atomic_bool stop;
};

/* Points the link at one namespace, then the other, as fast as it can. */
static void *flip(void *arg)
{
	struct flipper *f = arg;
	char tmp[340];

	snprintf(tmp, sizeof(tmp), "%s.new", f->link);
	for (unsigned i = 0; !atomic_load(&f->stop); i++) {
		unlink(tmp);
		if (symlink(i & 1 ? f->a : f->b, tmp) == 0)
			rename(tmp, f->link);
	}
	unlink(tmp);
	return NULL;
}

static void test_recorded_namespace_is_the_sockets(void **state)
{
	char root[] = "/tmp/tw-netns-XXXXXX", procdir[300], rundir[300], mismatch[128] = "";
	struct flipper f = {0};
	struct tw_netns_set s;
	pthread_t th;
	pid_t a, b;
	unsigned checked = 0;

	(void)state;
	if (geteuid() != 0)
		skip();
	a = ns_child();
	b = ns_child();
	assert_non_null(mkdtemp(root));
	snprintf(procdir, sizeof(procdir), "%s/proc", root);
	snprintf(rundir, sizeof(rundir), "%s/run", root);
	assert_int_equal(mkdir(procdir, 0700), 0);
	assert_int_equal(mkdir(rundir, 0700), 0);
	snprintf(f.link, sizeof(f.link), "%s/flip", rundir);
	snprintf(f.a, sizeof(f.a), "/proc/%d/ns/net", a);
	snprintf(f.b, sizeof(f.b), "/proc/%d/ns/net", b);
	assert_int_equal(symlink(f.a, f.link), 0);
	assert_int_equal(netns_init(&s, 8), 0);
	assert_int_equal(pthread_create(&th, NULL, flip, &f), 0);
	for (int round = 0; round < 400 && !mismatch[0]; round++) {
		netns_refresh(&s, procdir, rundir);
		for (size_t i = 1; i < s.n; i++, checked++)
			if (socket_netns(s.v[i].diag_fd) != s.v[i].inode && !mismatch[0])
				snprintf(mismatch, sizeof(mismatch),
					 "round %d: namespace %u's diag socket lives in %u", round,
					 s.v[i].inode, socket_netns(s.v[i].diag_fd));
	}
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	if (mismatch[0])
		fail_msg("%s", mismatch);
	assert_true(checked > 0);
	/* What the refresh saw exists, sorted and unique. */
	for (size_t i = 1; i < s.n_existing; i++)
		assert_true(s.existing[i - 1] < s.existing[i]);
	netns_fini(&s);
	unlink(f.link);
	rmdir(procdir);
	rmdir(rundir);
	rmdir(root);
}

/* Over max, namespaces are refused (counted for this refresh) but still
 * known to exist. */
static void test_refused_still_existing(void **state)
{
	char root[] = "/tmp/tw-netns-XXXXXX", path[300], target[64];
	struct tw_netns_set s;
	pid_t a;
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		skip();
	a = ns_child();
	assert_non_null(mkdtemp(root));
	snprintf(target, sizeof(target), "/proc/%d/ns/net", a);
	snprintf(path, sizeof(path), "%s/a", root);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(netns_init(&s, 1), 0);
	netns_refresh(&s, "/nonexistent", root);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.refused, 1);
	assert_int_equal(s.n_existing, 2);
	assert_true(s.existing[0] == st.st_ino || s.existing[1] == st.st_ino);
	netns_refresh(&s, "/nonexistent", root);
	assert_int_equal(s.refused, 1); /* a count of this refresh, not a total */
	netns_fini(&s);
	unlink(path);
	rmdir(root);
}

/* A task source of fixed namespaces (what the task iterator reports). */
struct fake_tasks {
	struct tw_task_netns v[4];
	size_t n;
	unsigned runs;
};

static int fake_netns(void *src, void (*fn)(const struct tw_task_netns *, void *), void *ctx)
{
	struct fake_tasks *t = src;

	t->runs++;
	for (size_t i = 0; i < t->n; i++)
		fn(&t->v[i], ctx);
	return 0;
}

/* The id a namespace's nsfs file handle carries; 0 if this kernel has
 * none (before 6.18). */
static uint64_t ns_id_of(const char *path)
{
	struct {
		struct file_handle fh;
		unsigned char b[64];
	} h = {.fh.handle_bytes = 64};
	int mount_id, fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t id = 0;

	assert_true(fd >= 0);
	if (name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) == 0 &&
	    h.fh.handle_bytes >= 8)
		memcpy(&id, h.fh.f_handle, sizeof(id));
	close(fd);
	return id;
}

/* A namespace the task source names is opened by its file handle, not a
 * path (proc_root leads nowhere), and followed; one whose handle is stale
 * is counted, and still known to exist. */
static void test_opened_by_handle(void **state)
{
	struct fake_tasks t = {0};
	struct tw_task_source src = {.netns = fake_netns, .src = &t};
	struct tw_netns_set s;
	char path[64];
	struct stat st;
	pid_t a;

	(void)state;
	if (geteuid() != 0)
		skip();
	a = ns_child();
	snprintf(path, sizeof(path), "/proc/%d/ns/net", a);
	assert_int_equal(stat(path, &st), 0);
	t.v[0] = (struct tw_task_netns){
		.ns_id = ns_id_of(path), .inode = (uint32_t)st.st_ino, .pid = (uint32_t)a};
	if (!t.v[0].ns_id)
		skip(); /* no namespace file handles here */
	/* Another id with a made-up inode: no such namespace. */
	t.v[1] = (struct tw_task_netns){.ns_id = t.v[0].ns_id + 1000000, .inode = 1, .pid = 1};
	t.n = 2;
	assert_int_equal(netns_init(&s, 8), 0);
	netns_use_source(&s, &src);
	netns_refresh(&s, "/nonexistent", "/nonexistent");
	assert_int_equal(t.runs, 1);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.v[1].inode, (uint32_t)st.st_ino);
	assert_int_equal(socket_netns(s.v[1].diag_fd), (uint32_t)st.st_ino);
	assert_int_equal(netns_fd(&s, (uint32_t)st.st_ino), s.v[1].ns_fd);
	assert_int_equal(netns_fd(&s, 12345), -1);
	assert_int_equal(s.handle_opens, 1);
	assert_int_equal(s.handle_failures, 1);
	/* Both exist, as far as the refresh knows: 1, ours, the child's. */
	assert_int_equal(s.n_existing, 3);
	/* Known now: not opened again. */
	netns_refresh(&s, "/nonexistent", "/nonexistent");
	assert_int_equal(s.handle_opens, 1);
	assert_int_equal(s.n, 2);
	/* Gone from the source: forgotten. */
	t.n = 0;
	netns_refresh(&s, "/nonexistent", "/nonexistent");
	assert_int_equal(s.n, 1);
	netns_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_recorded_namespace_is_the_sockets, kill_children),
		cmocka_unit_test_teardown(test_refused_still_existing, kill_children),
		cmocka_unit_test_teardown(test_opened_by_handle, kill_children),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
