/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What the trace policy (trace.bpf.c) and its readers (fusebpf stats, the
 * tests) share: the value of its `counts` map, one per opcode.
 */
#ifndef FUSEBPF_BPF_TRACE_H
#define FUSEBPF_BPF_TRACE_H

#include <fusebpf/filter.h>
#include <linux/types.h>

struct trace_count {
	__u64 requests;
	__u64 verdicts[FUSEBPF_VERDICT_MAX + 2]; /* [0..5] verdicts, [6] negative errnos */
};

#endif /* FUSEBPF_BPF_TRACE_H */
