#include <bpf/btf.h>
#include <errno.h>
#include <string.h>

#include "dropreason.h"
#include "drops.h"
#include "passive.h"

#define PREFIX "SKB_DROP_REASON_"

int dropreason_load(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int id, n = 0;
	const struct btf_type *t;
	const struct btf_enum *e;

	if (!btf)
		return -errno;
	id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	if (id < 0) {
		btf__free(btf);
		return -ENOENT;
	}
	t = btf__type_by_id(btf, (__u32)id);
	e = btf_enum(t);
	for (unsigned i = 0; i < btf_vlen(t); i++, e++) {
		const char *name = btf__name_by_offset(btf, e->name_off);
		unsigned v = (unsigned)e->val;

		/* The markers (MAX, SUBSYS_MASK) are no reasons. */
		if (!name || v >= TW_DROP_REASONS || strstr(name, "_MAX") || strstr(name, "SUBSYS"))
			continue;
		if (!strncmp(name, PREFIX, strlen(PREFIX)))
			name += strlen(PREFIX);
		drops_set_name(v, name);
		n++;
	}
	btf__free(btf);
	passive_set_overflow_reason(drops_reason("TCP_LISTEN_OVERFLOW"));
	return n;
}
