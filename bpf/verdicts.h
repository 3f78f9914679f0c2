/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What the verdicts policy (verdicts.bpf.c) and the tests that steer it
 * share: the values of its maps.
 */
#ifndef FUSEBPF_BPF_VERDICTS_H
#define FUSEBPF_BPF_VERDICTS_H

#include <linux/types.h>

/* pre, post, nocache: per opcode, a value and whether it is set. */
struct verdicts_setting {
	__s32 value;
	__u32 set; /* 0: not set */
};

/* One filter call, on the events ring buffer. */
struct verdicts_event {
	__u64 nodeid;
	__u32 opcode;
	__u32 phase;
	__u32 uid;
	__s32 error_in;
	char name[32];
};

/* The cookie its LOOKUP and READDIRPLUS postfilters give "cookie.*" names. */
#define VERDICTS_COOKIE 0xc00c1e

#endif /* FUSEBPF_BPF_VERDICTS_H */
