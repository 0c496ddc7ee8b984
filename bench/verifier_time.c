/*
 * tw-verifier-time: the kernel's verification time of each program of a
 * BPF object, from its own log (level 4: "verification time N usec").
 *
 *   tw-verifier-time OBJECT [RUNS]
 *
 * Loads the whole object RUNS times (default 3) and prints, per run, each
 * program's time and the sum, then the median sum: what start-up pays the
 * verifier for that object. Needs root (CAP_BPF, CAP_PERFMON).
 */
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 31

static double run_sum;
static char prog_name[128];

static int on_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	const char *p;

	vsnprintf(line, sizeof(line), fmt, ap);
	if ((p = strstr(line, "prog '"))) {
		const char *end = strchr(p + 6, '\'');

		if (end && (size_t)(end - p - 6) < sizeof(prog_name)) {
			memcpy(prog_name, p + 6, (size_t)(end - p - 6));
			prog_name[end - p - 6] = '\0';
		}
	}
	for (p = line; (p = strstr(p, "verification time ")); p++) {
		double us = strtod(p + 18, NULL);

		printf("  %-28s %8.1f ms\n", prog_name, us / 1000.0);
		run_sum += us / 1000.0;
	}
	if (level == LIBBPF_WARN && strstr(line, "failed"))
		fputs(line, stderr);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	double sums[MAX_RUNS];
	int runs = argc > 2 ? atoi(argv[2]) : 3;

	if (argc < 2 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: %s OBJECT [RUNS (1-%d)]\n", argv[0], MAX_RUNS);
		return 2;
	}
	libbpf_set_print(on_print);
	for (int r = 0; r < runs; r++) {
		LIBBPF_OPTS(bpf_object_open_opts, opts, .kernel_log_level = 4);
		struct bpf_object *obj = bpf_object__open_file(argv[1], &opts);
		struct bpf_program *prog;
		int err;

		if (!obj) {
			perror(argv[1]);
			return 1;
		}
		bpf_object__for_each_program (prog, obj)
			bpf_program__set_log_level(prog, 4);
		run_sum = 0;
		printf("run %d:\n", r + 1);
		err = bpf_object__load(obj);
		bpf_object__close(obj);
		if (err) {
			fprintf(stderr, "%s: load failed: %s\n", argv[1], strerror(-err));
			return 1;
		}
		printf("  sum %.1f ms\n", run_sum);
		sums[r] = run_sum;
	}
	qsort(sums, (size_t)runs, sizeof(sums[0]), cmp_double);
	printf("result object=%s runs=%d verification_ms_median=%.1f\n", argv[1], runs,
	       sums[runs / 2]);
	return 0;
}
