/* libtw-failmalloc.so: an LD_PRELOAD allocator shim that makes one chosen
 * allocation (and, if asked, every later one) fail with ENOMEM, for the
 * out-of-memory sweeps in tests/failmalloc/.
 *
 * Wrapped: malloc, calloc, realloc, reallocarray, strdup, strndup,
 * posix_memalign, aligned_alloc, memalign (all counted) and free (for the
 * live count). The real functions come from dlsym(RTLD_NEXT); dlsym itself
 * may allocate (dlerror's buffer), so calls made while resolving are served
 * from a static bootstrap buffer and never freed.
 *
 * Environment:
 *   TW_FAIL_AFTER=N      the Nth counted call (1-based) fails; 0 or unset:
 *                        none fails (the calls are still counted)
 *   TW_FAIL_MODE=once|always  only that call, or that one and every later
 *                        one (default once)
 *   TW_FAIL_PROC=NAME    only in the process whose program_invocation_short_name
 *                        is NAME; every other process passes straight through
 *                        (children of the test runner inherit LD_PRELOAD)
 *   TW_FAIL_IGNORE=SUB   calls made directly from a loaded object whose path
 *                        contains SUB (e.g. libcmocka) are neither counted nor
 *                        failed: the test framework's own bookkeeping
 *   TW_FAIL_REPORT=PATH  at exit, write "calls=C failures=F live=L\n" there
 *   TW_FAIL_CTL=PATH     armed from outside instead of by TW_FAIL_AFTER: PATH
 *                        (at least sizeof(struct failmalloc_ctl) bytes) is
 *                        mapped shared; nothing is counted or failed while
 *                        its armed word is 0. The controller resets calls and
 *                        failures, sets fail_after and mode, then armed = 1;
 *                        it reads the figures back the same way. The layout
 *                        is little-endian 64-bit words, see the struct.
 *
 * The counters are atomics: the daemon starts threads to enter namespaces.
 * Everything here is async-signal-unsafe in the way malloc already is. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The control page: word offsets are part of the interface with
 * tests/failmalloc/failctl.py. */
struct failmalloc_ctl {
	uint64_t magic;      /* FAILMALLOC_MAGIC once mapped by the shim */
	uint64_t armed;      /* 0: pass through, uncounted */
	uint64_t fail_after; /* the Nth counted call fails; 0: none */
	uint64_t always;     /* 1: every call after the Nth fails too */
	uint64_t calls;      /* counted since the controller reset it */
	uint64_t failures;   /* calls made to fail */
	int64_t live;        /* successful allocations minus frees (whole life) */
	uint64_t pid;        /* the process that mapped it */
};

#define FAILMALLOC_MAGIC 0x314c494146777475ull /* "utwFAIL1" */

enum { MODE_ONCE, MODE_ALWAYS };

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

/* Served while dlsym runs; never reused or freed. */
static _Alignas(max_align_t) char bootstrap[64 * 1024];
static size_t bootstrap_used;

static int state;    /* 0 unresolved, 1 resolving, 2 ready */
static bool enabled; /* TW_FAIL_PROC matched (or unset) */
static uint64_t env_fail_after;
static int env_mode;
static struct failmalloc_ctl local_ctl; /* when there is no TW_FAIL_CTL */
static struct failmalloc_ctl *ctl = &local_ctl;
static char report_path[256];

/* Ignored callers: the loadable segments of objects matching TW_FAIL_IGNORE. */
#define MAX_RANGES 16
static struct {
	uintptr_t lo, hi;
} ranges[MAX_RANGES];
static int nranges;
static const char *ignore_sub;
static int ranges_state; /* 0 not looked up, 1 looking, 2 done */

/* Our own calls (dl_iterate_phdr) pass through. initial-exec: a dynamic TLS
 * access could itself call malloc. */
static __thread int in_shim __attribute__((tls_model("initial-exec")));

static void *bootstrap_alloc(size_t size, size_t align)
{
	size_t at = (bootstrap_used + align - 1) & ~(align - 1);

	if (at + size > sizeof(bootstrap))
		return NULL;
	bootstrap_used = at + size;
	return bootstrap + at;
}

static bool is_bootstrap(const void *p)
{
	return (const char *)p >= bootstrap && (const char *)p < bootstrap + sizeof(bootstrap);
}

static void setup_ctl(void)
{
	const char *path = getenv("TW_FAIL_CTL");
	void *m;
	int fd;

	if (!path || !*path)
		return;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	m = mmap(NULL, sizeof(struct failmalloc_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	ctl = m;
	__atomic_store_n(&ctl->pid, (uint64_t)getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&ctl->magic, FAILMALLOC_MAGIC, __ATOMIC_RELEASE);
}

static void resolve(void)
{
	const char *v, *proc;

	state = 1;
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_free = dlsym(RTLD_NEXT, "free");
	real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	real_memalign = dlsym(RTLD_NEXT, "memalign");

	proc = getenv("TW_FAIL_PROC");
	enabled = !proc || !*proc || !strcmp(proc, program_invocation_short_name);
	if (enabled) {
		v = getenv("TW_FAIL_AFTER");
		env_fail_after = v ? strtoull(v, NULL, 10) : 0;
		v = getenv("TW_FAIL_MODE");
		env_mode = v && !strcmp(v, "always") ? MODE_ALWAYS : MODE_ONCE;
		v = getenv("TW_FAIL_REPORT");
		if (v)
			snprintf(report_path, sizeof(report_path), "%s", v);
		ignore_sub = getenv("TW_FAIL_IGNORE");
		if (ignore_sub && !*ignore_sub)
			ignore_sub = NULL;
		if (getenv("TW_FAIL_CTL")) {
			setup_ctl();
		} else {
			local_ctl.armed = 1;
			local_ctl.fail_after = env_fail_after;
			local_ctl.always = env_mode == MODE_ALWAYS;
		}
	}
	__atomic_store_n(&state, 2, __ATOMIC_RELEASE);
}

static inline void ensure(void)
{
	if (__builtin_expect(__atomic_load_n(&state, __ATOMIC_ACQUIRE) != 2, 0))
		if (state == 0)
			resolve();
}

static int add_range(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (!info->dlpi_name || !strstr(info->dlpi_name, ignore_sub))
		return 0;
	for (int i = 0; i < info->dlpi_phnum && nranges < MAX_RANGES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		ranges[nranges].lo = info->dlpi_addr + ph->p_vaddr;
		ranges[nranges].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
		nranges++;
	}
	return 0;
}

static bool ignored_caller(const void *ret)
{
	uintptr_t a = (uintptr_t)ret;
	int expect = 0;

	if (!ignore_sub)
		return false;
	if (__atomic_load_n(&ranges_state, __ATOMIC_ACQUIRE) != 2) {
		/* The first thread looks; others (rare) treat their call as
		 * counted rather than wait. */
		if (!__atomic_compare_exchange_n(&ranges_state, &expect, 1, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			return false;
		in_shim++;
		dl_iterate_phdr(add_range, NULL);
		in_shim--;
		__atomic_store_n(&ranges_state, 2, __ATOMIC_RELEASE);
	}
	for (int i = 0; i < nranges; i++)
		if (a >= ranges[i].lo && a < ranges[i].hi)
			return true;
	return false;
}

/* Whether this call fails; counts it. ret: the caller's address. */
static bool should_fail(const void *ret)
{
	uint64_t n, after;

	if (!enabled || in_shim || !__atomic_load_n(&ctl->armed, __ATOMIC_ACQUIRE))
		return false;
	if (ignored_caller(ret))
		return false;
	n = __atomic_add_fetch(&ctl->calls, 1, __ATOMIC_RELAXED);
	after = __atomic_load_n(&ctl->fail_after, __ATOMIC_RELAXED);
	if (!after || n < after)
		return false;
	if (n > after && !__atomic_load_n(&ctl->always, __ATOMIC_RELAXED))
		return false;
	__atomic_add_fetch(&ctl->failures, 1, __ATOMIC_RELAXED);
	return true;
}

static inline void *counted(void *p)
{
	if (p && enabled)
		__atomic_add_fetch(&ctl->live, 1, __ATOMIC_RELAXED);
	return p;
}

static void *do_malloc(size_t size, const void *ret)
{
	ensure();
	if (state != 2)
		return bootstrap_alloc(size ? size : 1, _Alignof(max_align_t));
	if (should_fail(ret)) {
		errno = ENOMEM;
		return NULL;
	}
	return counted(real_malloc(size));
}

void *malloc(size_t size)
{
	return do_malloc(size, __builtin_return_address(0));
}

void *calloc(size_t n, size_t size)
{
	void *p;

	ensure();
	if (state != 2) {
		if (size && n > SIZE_MAX / size)
			return NULL;
		p = bootstrap_alloc((n * size) | 1, _Alignof(max_align_t));
		if (p)
			memset(p, 0, n * size);
		return p;
	}
	if (should_fail(__builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return counted(real_calloc(n, size));
}

void free(void *p)
{
	if (!p || is_bootstrap(p))
		return;
	ensure();
	if (enabled)
		__atomic_sub_fetch(&ctl->live, 1, __ATOMIC_RELAXED);
	real_free(p);
}

static void *do_realloc(void *p, size_t size, const void *ret)
{
	void *q;

	ensure();
	if (!p)
		return do_malloc(size, ret);
	if (is_bootstrap(p)) {
		/* Its size is unknown; copying from a bootstrap block never reads
		 * past the buffer since the block is at most what follows it. */
		size_t room = (size_t)(bootstrap + sizeof(bootstrap) - (char *)p);

		q = do_malloc(size ? size : 1, ret);
		if (q)
			memcpy(q, p, size < room ? size : room);
		return q;
	}
	if (size == 0) { /* glibc frees: not an allocation */
		if (enabled)
			__atomic_sub_fetch(&ctl->live, 1, __ATOMIC_RELAXED);
		return real_realloc(p, 0);
	}
	if (should_fail(ret)) {
		errno = ENOMEM;
		return NULL;
	}
	return real_realloc(p, size);
}

void *realloc(void *p, size_t size)
{
	return do_realloc(p, size, __builtin_return_address(0));
}

void *reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return do_realloc(p, n * size, __builtin_return_address(0));
}

char *strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = do_malloc(n, __builtin_return_address(0));

	if (d)
		memcpy(d, s, n);
	return d;
}

char *strndup(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *d = do_malloc(n + 1, __builtin_return_address(0));

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

int posix_memalign(void **ret_p, size_t align, size_t size)
{
	int r;

	ensure();
	if (state != 2) {
		*ret_p = bootstrap_alloc(size ? size : 1, align);
		return *ret_p ? 0 : ENOMEM;
	}
	if (should_fail(__builtin_return_address(0)))
		return ENOMEM;
	r = real_posix_memalign(ret_p, align, size);
	if (!r)
		counted(*ret_p);
	return r;
}

void *aligned_alloc(size_t align, size_t size)
{
	ensure();
	if (state != 2)
		return bootstrap_alloc(size ? size : 1, align);
	if (should_fail(__builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return counted(real_aligned_alloc(align, size));
}

void *memalign(size_t align, size_t size)
{
	ensure();
	if (state != 2)
		return bootstrap_alloc(size ? size : 1, align);
	if (should_fail(__builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return counted(real_memalign(align, size));
}

__attribute__((destructor)) static void failmalloc_report(void)
{
	char line[128];
	int fd, n;

	if (!enabled || !report_path[0])
		return;
	n = snprintf(line, sizeof(line), "calls=%llu failures=%llu live=%lld\n",
		     (unsigned long long)__atomic_load_n(&ctl->calls, __ATOMIC_RELAXED),
		     (unsigned long long)__atomic_load_n(&ctl->failures, __ATOMIC_RELAXED),
		     (long long)__atomic_load_n(&ctl->live, __ATOMIC_RELAXED));
	fd = open(report_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0)
		n = 0;
	close(fd);
}
