/* SPDX-License-Identifier: MIT */
/*
 * For policy authors: declare a policy and its filters so that they read
 * like the FUSE-BPF RFC's <op>_prefilter / <op>_postfilter functions.
 *
 *	#include <fusebpf/policy.bpf.h>
 *
 *	FUSEBPF_POLICY("nodots");
 *
 *	FUSEBPF_PREFILTER(lookup)
 *	{
 *		return ctx->name[0] == '.' ? -ENOENT : FUSEBPF_CONTINUE;
 *	}
 *
 * Each filter is a function of `struct fusebpf_ctx *ctx` returning a verdict
 * (prefilters) or 0 / -errno (postfilters); see filter.h and docs/abi.md.
 *
 * Program flavours.  By default a filter is a BPF_PROG_TYPE_SYSCALL program,
 * which the daemon runs with BPF_PROG_RUN on the context.  The kernel makes
 * every syscall program sleepable, and sleepable programs may only use
 * array, hash, ring buffer and storage maps.  A policy that needs other maps
 * (an LPM trie, a bloom filter) defines FUSEBPF_FLAVOR_XDP before the
 * include: its filters are then hosted in BPF_PROG_TYPE_XDP programs, which
 * are not sleepable; the daemon runs them with BPF_PROG_RUN too, the context
 * as their packet data.  The filter bodies are the same in both flavours.
 * In the syscall flavour the verifier takes ctx for what it is, the
 * program's context: fields are read and written as ctx->a.b (a pointer
 * into the context may not be kept and dereferenced), and helpers may read
 * but not write it: copy names out with fusebpf_name_copy, write them back
 * with fusebpf_name_set.  In the XDP flavour ctx points into packet memory,
 * which helpers and pointers may use freely.
 *
 * Kernel mode (FUSEBPF_FLAVOR_KERNEL, which the build sets, never a policy):
 * the filters run in fusebpf.ko as members of a struct_ops map of struct
 * fusebpf_ops (kernel.h), one member per opcode, called for both phases.
 * Here a filter is a static function; the build generates, from the
 * daemon-mode object's program names, a file that includes the policy and
 * defines each member with FUSEBPF_KERNEL_OP and the map (docs/abi.md,
 * "Kernel mode").  ctx is then a pointer the verifier knows by its BTF
 * type: fields are read and written at constant offsets, as in the syscall
 * flavour, and never at a variable one (name[i] in a loop): copy names out
 * with fusebpf_name_copy first, which works in every flavour.  Which fields
 * a filter may write is the module's to say (docs/abi.md).
 */
#ifndef FUSEBPF_POLICY_BPF_H
#define FUSEBPF_POLICY_BPF_H

#ifndef __bpf__
#error "policy.bpf.h is for BPF programs; the daemon uses filter.h"
#endif

#include <fusebpf/filter.h>
#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>

/*
 * The policy's name (at most 15 characters) and the ABI it is built against;
 * FUSEBPF_POLICY_FLAGS also gives flags (FUSEBPF_POLICY_PER_CALLER).
 */
#define FUSEBPF_POLICY_FLAGS(policy_name, policy_flags)                                    \
	const struct fusebpf_policy_info fusebpf_policy SEC(".fusebpf") = {                \
		.magic = FUSEBPF_POLICY_MAGIC,                                             \
		.abi_version = FUSEBPF_ABI_VERSION,                                        \
		.ctx_size = sizeof(struct fusebpf_ctx),                                    \
		.flags = (policy_flags),                                                   \
		.name = policy_name,                                                       \
	};                                                                                 \
	char _license[] SEC("license") = "GPL"
#define FUSEBPF_POLICY(policy_name) FUSEBPF_POLICY_FLAGS(policy_name, 0)

#if defined(FUSEBPF_FLAVOR_KERNEL)
/* Kernel mode: plain functions, called by the members FUSEBPF_KERNEL_OP makes. */
#define FUSEBPF_FILTER_(fn) static __always_inline int fn(struct fusebpf_ctx *ctx)
#elif defined(FUSEBPF_FLAVOR_XDP)
#define FUSEBPF_FILTER_(fn)                                                                \
	static __always_inline int fn##_body(struct fusebpf_ctx *ctx);                    \
	SEC("xdp") int fn(struct xdp_md *xdp)                                              \
	{                                                                                  \
		struct fusebpf_ctx *ctx = (void *)(long)xdp->data;                         \
                                                                                           \
		if ((void *)(ctx + 1) > (void *)(long)xdp->data_end)                       \
			return -EINVAL;                                                    \
		return fn##_body(ctx);                                                     \
	}                                                                                  \
	static __always_inline int fn##_body(struct fusebpf_ctx *ctx)
#else
#define FUSEBPF_FILTER_(fn) SEC("syscall") int fn(struct fusebpf_ctx *ctx)
#endif

/* int <op>_prefilter(struct fusebpf_ctx *ctx): op is the opcode's lower-case name. */
#define FUSEBPF_PREFILTER(op) FUSEBPF_FILTER_(op##_prefilter)
/* int <op>_postfilter(struct fusebpf_ctx *ctx) */
#define FUSEBPF_POSTFILTER(op) FUSEBPF_FILTER_(op##_postfilter)

#ifdef FUSEBPF_FLAVOR_KERNEL
#include <fusebpf/kernel.h>
#include <bpf/bpf_tracing.h>

/* What a member returns for the phase of which the policy has no filter. */
static __always_inline int fusebpf_no_prefilter(struct fusebpf_ctx *ctx)
{
	return FUSEBPF_CALL_DEFAULT;
}

static __always_inline int fusebpf_no_postfilter(struct fusebpf_ctx *ctx)
{
	return 0;
}

/*
 * The struct_ops member of opcode op, fusebpf_<op>: pre (<op>_prefilter or
 * fusebpf_no_prefilter) for the prefilter phase, post for the other.  For
 * the generated file only (the Makefile, "kernel mode").  The module never
 * passes NULL, but Debian's 6.12 verifier takes the context of the 24th
 * member (readdir) for one that may be NULL: the member of index
 * BPF_TRACE_RAW_TP (23), whose arguments it marks so for any program that
 * expects that attach type, as a struct_ops program of that member does.
 */
#define FUSEBPF_KERNEL_OP(op, pre, post)                                                           \
	SEC("struct_ops/" #op)                                                                     \
	int BPF_PROG(fusebpf_##op, struct fusebpf_ctx *fctx)                                       \
	{                                                                                          \
		if (!fctx)                                                                         \
			return -EINVAL;                                                            \
		return fctx->phase == FUSEBPF_PHASE_PRE ? pre(fctx) : post(fctx);                  \
	}
#endif

/*
 * Copies a name buffer of the context (name, name2) into dst, a buffer of
 * FUSEBPF_NAME_LEN bytes on the stack or in a map value, for use as a map key.
 */
static __always_inline int fusebpf_name_copy(char *dst, const char *ctx_name)
{
	return bpf_probe_read_kernel(dst, FUSEBPF_NAME_LEN, ctx_name);
}

/*
 * Sets a name buffer of the context from src, FUSEBPF_NAME_LEN bytes on the
 * stack or in a map value (8-byte aligned).  Helpers may not write into a
 * syscall program's context, so this copies with constant offsets.
 */
static __always_inline void fusebpf_name_set(char *ctx_name, const char *src)
{
#pragma unroll
	for (unsigned i = 0; i < FUSEBPF_NAME_LEN / 8; i++)
		((__u64 *)ctx_name)[i] = ((const __u64 *)src)[i];
	ctx_name[FUSEBPF_NAME_LEN - 1] = '\0';
}

/* Whether a context name equals the string literal s (bounded: s is a constant). */
#define fusebpf_name_eq(ctx_name, s) fusebpf_name_eq_(ctx_name, s, sizeof(s))
static __always_inline int fusebpf_name_eq_(const char *name, const char *s, unsigned size)
{
#pragma unroll
	for (unsigned i = 0; i < size; i++)
		if (name[i] != s[i])
			return 0;
	return 1;
}

/* Whether a context name starts with the string literal p. */
#define fusebpf_name_has_prefix(ctx_name, p) fusebpf_name_eq_(ctx_name, p, sizeof(p) - 1)

#endif /* FUSEBPF_POLICY_BPF_H */
