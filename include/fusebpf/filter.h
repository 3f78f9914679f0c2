/* SPDX-License-Identifier: MIT */
/*
 * The filter ABI: what a policy's filters see of a request, what they may
 * return, and how a policy object describes itself.  Shared by the BPF
 * programs in bpf/ and the daemon; the layout is fixed by the asserts at
 * the end and checked by a unit test.  docs/abi.md explains it.
 *
 * Changelog
 *   ABI 1  the first: struct fusebpf_ctx of 992 bytes, verdicts 0..5 as the
 *          FUSE-BPF RFC numbers them, struct fusebpf_policy_info.
 */
#ifndef FUSEBPF_FILTER_H
#define FUSEBPF_FILTER_H

#include <fusebpf/fuse_ext.h>
#include <fusebpf/opcodes.h>
#include <linux/types.h>

#define FUSEBPF_ABI_VERSION 1

/*
 * What a prefilter returns (the RFC's values, kept for wire compatibility).
 * Any negative value fails the operation with that errno.  A postfilter
 * returns 0 to keep the result (with the output it may have changed) or a
 * negative errno to fail the operation.
 */
enum fusebpf_verdict {
	FUSEBPF_CONTINUE = 0, /* do the backing operation; no more filters */
	FUSEBPF_USER = 1, /* the userspace handler serves it; no backing operation */
	FUSEBPF_USER_PREFILTER = 2, /* a userspace prefilter call, then the backing operation */
	FUSEBPF_POSTFILTER = 3, /* the backing operation, then the BPF postfilter */
	FUSEBPF_USER_POSTFILTER = 4, /* the backing operation, then a userspace postfilter call */
	FUSEBPF_CALL_DEFAULT = 5, /* no decision: the opcode's default (backing or user) */
};
#define FUSEBPF_VERDICT_MAX FUSEBPF_CALL_DEFAULT

#ifndef __bpf__
/* For logs and statistics: each verdict's name, and "ERRNO" for any -errno. */
static const char *const fusebpf_verdict_names[FUSEBPF_VERDICT_MAX + 2] = {
	[FUSEBPF_CONTINUE] = "CONTINUE",
	[FUSEBPF_USER] = "USER",
	[FUSEBPF_USER_PREFILTER] = "USER_PREFILTER",
	[FUSEBPF_POSTFILTER] = "POSTFILTER",
	[FUSEBPF_USER_POSTFILTER] = "USER_POSTFILTER",
	[FUSEBPF_CALL_DEFAULT] = "CALL_DEFAULT",
	[FUSEBPF_VERDICT_MAX + 1] = "ERRNO",
};
#endif

/*
 * The opcodes a policy may filter, one bit per opcode number: every opcode
 * that acts on the backing filesystem.  INIT, DESTROY, FORGET, BATCH_FORGET
 * and INTERRUPT are the connection's own business and are never filtered.
 */
#define FUSEBPF_OP_BIT(op) (1ULL << (op))
#define FUSEBPF_FILTERABLE_OPS                                                                     \
	(FUSEBPF_OP_BIT(FUSE_LOOKUP) | FUSEBPF_OP_BIT(FUSE_GETATTR) |                             \
	 FUSEBPF_OP_BIT(FUSE_SETATTR) | FUSEBPF_OP_BIT(FUSE_READLINK) |                           \
	 FUSEBPF_OP_BIT(FUSE_SYMLINK) | FUSEBPF_OP_BIT(FUSE_MKNOD) | FUSEBPF_OP_BIT(FUSE_MKDIR) | \
	 FUSEBPF_OP_BIT(FUSE_UNLINK) | FUSEBPF_OP_BIT(FUSE_RMDIR) | FUSEBPF_OP_BIT(FUSE_RENAME) | \
	 FUSEBPF_OP_BIT(FUSE_LINK) | FUSEBPF_OP_BIT(FUSE_OPEN) | FUSEBPF_OP_BIT(FUSE_READ) |      \
	 FUSEBPF_OP_BIT(FUSE_WRITE) | FUSEBPF_OP_BIT(FUSE_STATFS) | FUSEBPF_OP_BIT(FUSE_RELEASE) | \
	 FUSEBPF_OP_BIT(FUSE_FSYNC) | FUSEBPF_OP_BIT(FUSE_SETXATTR) |                             \
	 FUSEBPF_OP_BIT(FUSE_GETXATTR) | FUSEBPF_OP_BIT(FUSE_LISTXATTR) |                         \
	 FUSEBPF_OP_BIT(FUSE_REMOVEXATTR) | FUSEBPF_OP_BIT(FUSE_FLUSH) |                          \
	 FUSEBPF_OP_BIT(FUSE_OPENDIR) | FUSEBPF_OP_BIT(FUSE_READDIR) |                            \
	 FUSEBPF_OP_BIT(FUSE_RELEASEDIR) | FUSEBPF_OP_BIT(FUSE_FSYNCDIR) |                        \
	 FUSEBPF_OP_BIT(FUSE_ACCESS) | FUSEBPF_OP_BIT(FUSE_CREATE) |                              \
	 FUSEBPF_OP_BIT(FUSE_FALLOCATE) | FUSEBPF_OP_BIT(FUSE_READDIRPLUS) |                      \
	 FUSEBPF_OP_BIT(FUSE_RENAME2) | FUSEBPF_OP_BIT(FUSE_LSEEK) |                              \
	 FUSEBPF_OP_BIT(FUSE_COPY_FILE_RANGE) | FUSEBPF_OP_BIT(FUSE_TMPFILE) |                    \
	 FUSEBPF_OP_BIT(FUSEBPF_OP_STATX))

/* fusebpf_ctx.phase */
enum fusebpf_phase {
	FUSEBPF_PHASE_PRE = 1,
	FUSEBPF_PHASE_POST = 2,
};

/*
 * fusebpf_ctx.child_policy: what a LOOKUP postfilter makes of the child's
 * policy (the RFC's BPF and REMOVE_BPF lookup entries).
 */
enum fusebpf_child_policy {
	FUSEBPF_CHILD_INHERIT = 0, /* the parent's (the default) */
	FUSEBPF_CHILD_SET = 1, /* the policy named in child_policy_name */
	FUSEBPF_CHILD_REMOVE = 2, /* none: the child and its descendants run the defaults */
};

/*
 * fusebpf_ctx.reply_flags, set by a prefilter: the reply must not be cached
 * by the kernel, which shares its caches among callers (entries, negative
 * entries, attributes, directory listings, file pages): for decisions that
 * depend on who asks.  FUSEBPF_POLICY_PER_CALLER sets it for every request.
 */
#define FUSEBPF_REPLY_NO_CACHE (1u << 0)

/* A path component or an xattr name, with its NUL (NAME_MAX, XATTR_NAME_MAX + 1). */
#define FUSEBPF_NAME_LEN 256
/* A policy name, with its NUL. */
#define FUSEBPF_POLICY_NAME_LEN 16

/* What a READDIR or READDIRPLUS postfilter sees of one entry (its name is in name). */
struct fusebpf_dirent {
	__u64 ino;
	__u64 off;
	__u32 type; /* DT_* */
	__u32 padding;
	struct fuse_entry_out entry; /* READDIRPLUS: its attributes; nodeid 0 if none */
};

/* The opcode's fixed input, as on the wire; in_size bytes of it are valid. */
union fusebpf_in {
	struct fuse_getattr_in getattr;
	struct fuse_setattr_in setattr;
	struct fuse_mknod_in mknod;
	struct fuse_mkdir_in mkdir;
	struct fuse_rename_in rename;
	struct fuse_rename2_in rename2;
	struct fuse_link_in link;
	struct fuse_open_in open; /* OPEN, OPENDIR */
	struct fuse_create_in create; /* CREATE, TMPFILE */
	struct fuse_read_in read; /* READ, READDIR, READDIRPLUS */
	struct fuse_write_in write;
	struct fuse_release_in release; /* RELEASE, RELEASEDIR */
	struct fuse_flush_in flush;
	struct fuse_fsync_in fsync; /* FSYNC, FSYNCDIR */
	struct fuse_setxattr_in setxattr;
	struct fuse_getxattr_in getxattr; /* GETXATTR, LISTXATTR */
	struct fuse_access_in access;
	struct fuse_fallocate_in fallocate;
	struct fuse_lseek_in lseek;
	struct fuse_copy_file_range_in copy_file_range;
	struct fusebpf_statx_in statx;
	__u64 raw[12];
};

/*
 * The reply's fixed output, as on the wire (postfilters); out_size bytes are
 * valid.  For replies that are data (READ, READLINK, GETXATTR and LISTXATTR
 * with a buffer) out_size is the data's length and the data is not here.
 */
union fusebpf_out {
	struct fuse_entry_out entry; /* LOOKUP, MKNOD, MKDIR, SYMLINK, LINK */
	struct fuse_attr_out attr; /* GETATTR, SETATTR */
	struct fusebpf_open_out open; /* OPEN, OPENDIR */
	struct {
		struct fuse_entry_out entry;
		struct fusebpf_open_out open;
	} create; /* CREATE, TMPFILE */
	struct fuse_write_out write; /* WRITE, COPY_FILE_RANGE */
	struct fuse_statfs_out statfs;
	struct fuse_getxattr_out getxattr; /* GETXATTR, LISTXATTR asking for the size */
	struct fuse_lseek_out lseek;
	struct fusebpf_statx_out statx;
	struct fusebpf_dirent dirent; /* READDIR, READDIRPLUS: one entry */
	__u64 raw[36];
};

/*
 * The context of one filter call.  Filters may write in, out, name, name2,
 * reply_flags, cookie and the child_* fields; the daemon checks names again
 * after a prefilter (one path component, not "." or "..") and fails the
 * request with EINVAL if a rewritten name is not one.
 */
struct fusebpf_ctx {
	__u64 nodeid; /* the node the request is on (the parent for names) */
	__u32 opcode; /* FUSE_LOOKUP, ... */
	__u32 phase; /* enum fusebpf_phase */
	__u32 uid; /* the caller */
	__u32 gid;
	__u32 pid;
	__s32 error_in; /* postfilter: the backing operation's result, 0 or -errno */
	__u32 in_size;
	__u32 out_size;
	__u32 reply_flags; /* a prefilter may set FUSEBPF_REPLY_* */
	__u32 child_policy; /* LOOKUP postfilter: enum fusebpf_child_policy */
	char child_policy_name[FUSEBPF_POLICY_NAME_LEN];
	__u64 cookie; /* 0; what a prefilter leaves here its postfilter finds */
	__u64 node_cookie; /* the node's cookie (see child_cookie) */
	/*
	 * LOOKUP postfilter, READDIRPLUS postfilter: a cookie the child node
	 * keeps (0 keeps the one it has), which later filters on it find in
	 * node_cookie: what a policy learnt from the name, say, for requests
	 * that carry none.  It lives as long as the node.
	 */
	__u64 child_cookie;
	__u64 reserved; /* 0 */
	union fusebpf_in in;
	union fusebpf_out out;
	/*
	 * Names, NUL-terminated: the entry's name (LOOKUP, CREATE, MKNOD, MKDIR,
	 * SYMLINK, LINK, UNLINK, RMDIR, the old name of RENAME and RENAME2, a
	 * READDIR entry) or the xattr's (SETXATTR, GETXATTR, REMOVEXATTR); name2
	 * is the new name of RENAME and RENAME2.
	 */
	char name[FUSEBPF_NAME_LEN];
	char name2[FUSEBPF_NAME_LEN];
};

/*
 * fusebpf_policy_info.flags: the policy's decisions depend on who asks
 * (uid, gid, pid).  The kernel caches entries, attributes and directory
 * listings for every caller alike, so under such a policy the daemon asks
 * it to cache none of them, and each request reaches the filters.
 */
#define FUSEBPF_POLICY_PER_CALLER (1u << 0)
#define FUSEBPF_POLICY_FLAGS_ALL FUSEBPF_POLICY_PER_CALLER

/* FUSEBPF_POLICY() puts one in section ".fusebpf" of a policy object. */
#define FUSEBPF_POLICY_MAGIC 0x46425046 /* "FPBF" */
struct fusebpf_policy_info {
	__u32 magic;
	__u32 abi_version; /* FUSEBPF_ABI_VERSION it was built with */
	__u32 ctx_size; /* sizeof(struct fusebpf_ctx) it was built with */
	__u32 flags; /* FUSEBPF_POLICY_* */
	char name[FUSEBPF_POLICY_NAME_LEN];
};

_Static_assert(sizeof(struct fusebpf_dirent) == 152, "fusebpf_dirent is 152 bytes");
_Static_assert(sizeof(union fusebpf_in) == 96, "fusebpf_in is 96 bytes");
_Static_assert(sizeof(union fusebpf_out) == 288, "fusebpf_out is 288 bytes");
_Static_assert(sizeof(struct fusebpf_ctx) == 992, "fusebpf_ctx is 992 bytes");
_Static_assert(__builtin_offsetof(struct fusebpf_ctx, in) == 96, "in at 96");
_Static_assert(__builtin_offsetof(struct fusebpf_ctx, out) == 192, "out at 192");
_Static_assert(__builtin_offsetof(struct fusebpf_ctx, name) == 480, "name at 480");
_Static_assert(__builtin_offsetof(struct fusebpf_ctx, name2) == 736, "name2 at 736");
_Static_assert(sizeof(struct fusebpf_policy_info) == 32, "fusebpf_policy_info is 32 bytes");

#endif /* FUSEBPF_FILTER_H */
