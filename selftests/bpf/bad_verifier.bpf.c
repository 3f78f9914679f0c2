// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Refused by the verifier: uses a map lookup's result without checking it for NULL. */
#include <fusebpf/policy.bpf.h>

FUSEBPF_POLICY("bad_verifier");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

FUSEBPF_PREFILTER(getattr)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&values, &key);

	return *v;
}
