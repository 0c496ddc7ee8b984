/*
 * tw-scan-tags: the slab's tag scan alone (slab_scan, what a listing by
 * state reads first), a million 320-byte objects, one in a thousand with
 * the tag asked for, the rest in two others, scanned in the gather's
 * slices of 2,048; prints the time of one whole scan.
 *   tw-scan-tags [-n OBJECTS] [-r ROUNDS]
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "slab.h"

static size_t hits;

static void hit(void *obj, void *data)
{
	(void)obj;
	(void)data;
	hits++;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	long n = 1000000, rounds = 100;
	struct tw_slab *s;
	double t0;
	int opt;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		if (opt == 'n')
			n = atol(optarg);
		else if (opt == 'r')
			rounds = atol(optarg);
		else
			return 2;
	}
	if (n <= 0 || rounds <= 0 || !(s = slab_new(320)))
		return 2;
	for (long i = 0; i < n; i++) {
		void *o = slab_alloc(s);

		if (!o)
			return 1;
		*slab_tag(s, o) = i % 1000 == 0 ? 3 : (uint8_t)(2 + (i % 2) * 4);
	}
	t0 = now_ms();
	for (long r = 0; r < rounds; r++) {
		uint32_t cursor = 0;

		while (!slab_scan(s, &cursor, 1u << 3, hit, NULL, 2048))
			;
	}
	printf("objects=%ld scan_ms=%.3f hits=%zu\n", n, (now_ms() - t0) / (double)rounds,
	       hits / (size_t)rounds);
	slab_free(s);
	return 0;
}
