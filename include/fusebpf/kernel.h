/* SPDX-License-Identifier: MIT */
/*
 * Kernel mode: a policy whose filters run in fusebpf.ko (docs/kernel.md).
 * The module registers the BPF struct_ops type struct fusebpf_ops; a policy
 * is a struct_ops map of it, one member per opcode it may filter.  A member
 * is called for both phases of its opcode, with ctx->phase saying which;
 * the build generates the members from the policy's <op>_prefilter and
 * <op>_postfilter (policy.bpf.h), so policy sources are the same in both
 * modes.  Shared by the module, the loader and kernel-mode policies.
 */
#ifndef FUSEBPF_KERNEL_H
#define FUSEBPF_KERNEL_H

#include <fusebpf/filter.h>

/*
 * X(name, opcode) for every opcode a policy may filter, in opcode order
 * (FUSEBPF_FILTERABLE_OPS): the members of struct fusebpf_ops.
 */
#define FUSEBPF_KERNEL_OPS(X)                                                      \
	X(lookup, FUSE_LOOKUP) X(getattr, FUSE_GETATTR) X(setattr, FUSE_SETATTR) \
	X(readlink, FUSE_READLINK) X(symlink, FUSE_SYMLINK) X(mknod, FUSE_MKNOD) \
	X(mkdir, FUSE_MKDIR) X(unlink, FUSE_UNLINK) X(rmdir, FUSE_RMDIR)         \
	X(rename, FUSE_RENAME) X(link, FUSE_LINK) X(open, FUSE_OPEN)             \
	X(read, FUSE_READ) X(write, FUSE_WRITE) X(statfs, FUSE_STATFS)           \
	X(release, FUSE_RELEASE) X(fsync, FUSE_FSYNC)                            \
	X(setxattr, FUSE_SETXATTR) X(getxattr, FUSE_GETXATTR)                    \
	X(listxattr, FUSE_LISTXATTR) X(removexattr, FUSE_REMOVEXATTR)            \
	X(flush, FUSE_FLUSH) X(opendir, FUSE_OPENDIR) X(readdir, FUSE_READDIR)   \
	X(releasedir, FUSE_RELEASEDIR) X(fsyncdir, FUSE_FSYNCDIR)                \
	X(access, FUSE_ACCESS) X(create, FUSE_CREATE)                            \
	X(fallocate, FUSE_FALLOCATE) X(readdirplus, FUSE_READDIRPLUS)            \
	X(rename2, FUSE_RENAME2) X(lseek, FUSE_LSEEK)                            \
	X(copy_file_range, FUSE_COPY_FILE_RANGE) X(tmpfile, FUSE_TMPFILE)        \
	X(statx, FUSEBPF_OP_STATX)

/*
 * The struct_ops type.  A member returns what the filter of ctx->phase
 * returns: a verdict (prefilter) or 0 / -errno (postfilter); a member
 * left NULL is an opcode with neither.  flags are the policy's
 * (FUSEBPF_POLICY_*), name its name; the loader sets both.
 */
#define FUSEBPF_OPS_MEMBER_(name, op) int (*name)(struct fusebpf_ctx *ctx);
struct fusebpf_ops {
	FUSEBPF_KERNEL_OPS(FUSEBPF_OPS_MEMBER_)
	__u32 flags;
	char name[FUSEBPF_POLICY_NAME_LEN];
};
#undef FUSEBPF_OPS_MEMBER_

#endif /* FUSEBPF_KERNEL_H */
