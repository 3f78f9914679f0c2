// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * trace: counts every request per opcode and per verdict, and decides
 * nothing.  Its prefilter runs on every opcode a policy can filter, returns
 * the verdict that the `verdicts` map holds for the opcode (CALL_DEFAULT when
 * it holds none: the request takes its default path) and counts it in
 * `counts`, which `fusebpf stats` shows next to the daemon's own counters.
 * READ and WRITE are not traced: a filter on them would take every file off
 * the passthrough fast path, and with it what there is to measure.
 *
 * Maps (under /sys/fs/bpf/fusebpf/trace/maps/):
 *   counts    array, opcode -> struct trace_count (requests, per-verdict counts)
 *   verdicts  hash, opcode -> __s32 verdict or -errno to return instead
 */
#include <fusebpf/policy.bpf.h>

#include "trace.h"

FUSEBPF_POLICY("trace");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FUSEBPF_OP_MAX);
	__type(key, __u32);
	__type(value, struct trace_count);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FUSEBPF_OP_MAX);
	__type(key, __u32);
	__type(value, __s32);
} verdicts SEC(".maps");

static __always_inline int trace(struct fusebpf_ctx *ctx)
{
	__u32 op = ctx->opcode;
	struct trace_count *c = bpf_map_lookup_elem(&counts, &op);
	__s32 *v = bpf_map_lookup_elem(&verdicts, &op);
	int verdict = v ? *v : FUSEBPF_CALL_DEFAULT;
	__u32 slot = verdict < 0 ? FUSEBPF_VERDICT_MAX + 1 : verdict;

	if (c) {
		__sync_fetch_and_add(&c->requests, 1);
		if (slot <= FUSEBPF_VERDICT_MAX + 1)
			__sync_fetch_and_add(&c->verdicts[slot], 1);
	}
	return verdict;
}

#define TRACE(op)                                                                                  \
	FUSEBPF_PREFILTER(op)                                                                      \
	{                                                                                          \
		return trace(ctx);                                                                 \
	}

TRACE(lookup)
TRACE(getattr)
TRACE(setattr)
TRACE(readlink)
TRACE(symlink)
TRACE(mknod)
TRACE(mkdir)
TRACE(unlink)
TRACE(rmdir)
TRACE(rename)
TRACE(link)
TRACE(open)
TRACE(statfs)
TRACE(release)
TRACE(fsync)
TRACE(setxattr)
TRACE(getxattr)
TRACE(listxattr)
TRACE(removexattr)
TRACE(flush)
TRACE(opendir)
TRACE(readdir)
TRACE(releasedir)
TRACE(fsyncdir)
TRACE(access)
TRACE(create)
TRACE(fallocate)
TRACE(readdirplus)
TRACE(rename2)
TRACE(lseek)
TRACE(copy_file_range)
TRACE(tmpfile)
TRACE(statx)
