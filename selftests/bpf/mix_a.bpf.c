// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Two versions of one policy for the hot-replacement test: mix_a and mix_b
 * (the same source built with MIX_MARK 'A' and 'B').  The prefilter of GETATTR,
 * LOOKUP and OPEN leaves its mark in ctx->cookie and asks for the postfilter,
 * which fails the request with EIO if the mark is another version's: a
 * request that ran one version's prefilter and the other's postfilter fails.
 * Each version counts its calls in `runs` ([0] prefilter, [1] postfilter).
 */
#include <fusebpf/policy.bpf.h>

#ifndef MIX_MARK
#define MIX_MARK 'A'
#endif

FUSEBPF_POLICY("mix");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&runs, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

#define MIX(op)                                                                                    \
	FUSEBPF_PREFILTER(op)                                                                      \
	{                                                                                          \
		count(0);                                                                          \
		ctx->cookie = MIX_MARK;                                                            \
		return FUSEBPF_POSTFILTER;                                                         \
	}                                                                                          \
	FUSEBPF_POSTFILTER(op)                                                                     \
	{                                                                                          \
		count(1);                                                                          \
		return ctx->cookie == MIX_MARK ? 0 : -EIO;                                         \
	}

MIX(getattr)
MIX(lookup)
MIX(open)
