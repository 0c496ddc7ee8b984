#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drops.h"

static char *names[TW_DROP_REASONS];
static unsigned n_names;

void drops_set_name(unsigned reason, const char *name)
{
	char *copy;

	if (reason >= TW_DROP_REASONS || !(copy = strdup(name)))
		return;
	free(names[reason]);
	names[reason] = copy;
	if (reason + 1 > n_names)
		n_names = reason + 1;
}

const char *drops_name(unsigned reason, char *buf, size_t len)
{
	if (reason < TW_DROP_REASONS && names[reason])
		return names[reason];
	snprintf(buf, len, "REASON_%u", reason);
	return buf;
}

int drops_reason(const char *name)
{
	for (unsigned i = 0; i < n_names; i++)
		if (names[i] && !strcmp(names[i], name))
			return (int)i;
	return -1;
}

unsigned drops_names_known(void)
{
	return n_names;
}

void drops_free_names(void)
{
	for (unsigned i = 0; i < TW_DROP_REASONS; i++) {
		free(names[i]);
		names[i] = NULL;
	}
	n_names = 0;
}

void drop_counts_add(struct tw_drop_counts *d, unsigned reason)
{
	if (reason >= TW_DROP_REASONS)
		reason = TW_DROP_REASONS - 1;
	d->total++;
	for (unsigned i = 0; i < TW_DROP_SLOTS; i++) {
		if (d->count[i] && d->reason[i] == reason) {
			d->count[i]++;
			return;
		}
		if (!d->count[i]) {
			d->reason[i] = (uint16_t)reason;
			d->count[i] = 1;
			return;
		}
	}
	d->other++;
}

uint32_t drop_counts_get(const struct tw_drop_counts *d, unsigned reason)
{
	for (unsigned i = 0; i < TW_DROP_SLOTS && d->count[i]; i++)
		if (d->reason[i] == reason)
			return d->count[i];
	return 0;
}
