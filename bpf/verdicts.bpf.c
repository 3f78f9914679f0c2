// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * verdicts: a policy the tests steer through its maps to take every path
 * of the pipeline, on every opcode a policy can filter.
 *
 * Prefilters return the verdict `pre` holds for the opcode (CALL_DEFAULT
 * when it holds none); postfilters return what `post` holds (0 when none)
 * after setting the mtime of the attributes in the output to `mtime[0]` if
 * that is not 0.  Names:
 *   "bpfalias.X"  the prefilter rewrites it to "X"
 *   "bpfhide.*"   READDIR and READDIRPLUS postfilters leave it out
 *   "pol.NAME"    the LOOKUP postfilter gives the child policy NAME
 *   "nopol"       the LOOKUP postfilter gives the child no policy
 *   "cookie.*"    LOOKUP and READDIRPLUS postfilters give the child cookie
 *                 0xc00c1e; every prefilter keeps the node_cookie it sees in
 *                 `seen_cookie` (by opcode)
 * A prefilter sets FUSEBPF_REPLY_NO_CACHE where `nocache` holds a setting.
 * Every call is counted in `calls` ([opcode * 2 + phase - 1]), the error a
 * postfilter saw is kept in `last_error`, and each call is reported on the
 * `events` ring buffer.
 */
#include <fusebpf/policy.bpf.h>

#include "verdicts.h"

FUSEBPF_POLICY("verdicts");


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FUSEBPF_OP_MAX);
	__type(key, __u32);
	__type(value, struct verdicts_setting);
} pre SEC(".maps"), post SEC(".maps"), nocache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FUSEBPF_OP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} seen_cookie SEC(".maps");


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} mtime SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FUSEBPF_OP_MAX * 2);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FUSEBPF_OP_MAX);
	__type(key, __u32);
	__type(value, __s32);
} last_error SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

static __always_inline void record(struct fusebpf_ctx *ctx)
{
	__u32 slot = ctx->opcode * 2 + ctx->phase - 1;
	__u64 *n = bpf_map_lookup_elem(&calls, &slot);
	struct verdicts_event *e;

	if (n)
		__sync_fetch_and_add(n, 1);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	e->nodeid = ctx->nodeid;
	e->opcode = ctx->opcode;
	e->phase = ctx->phase;
	e->uid = ctx->uid;
	e->error_in = ctx->error_in;
	bpf_probe_read_kernel(e->name, sizeof(e->name), ctx->name);
	e->name[sizeof(e->name) - 1] = '\0';
	bpf_ringbuf_submit(e, 0);
}

/* "bpfalias.X" -> "X", in place. */
static __always_inline void unalias(char *name)
{
	char rest[FUSEBPF_NAME_LEN] __attribute__((aligned(8))) = {};

	if (!fusebpf_name_has_prefix(name, "bpfalias."))
		return;
	bpf_probe_read_kernel(rest, FUSEBPF_NAME_LEN - 9, name + 9);
	fusebpf_name_set(name, rest);
}

static __always_inline int prefilter(struct fusebpf_ctx *ctx)
{
	__u32 op = ctx->opcode;
	struct verdicts_setting *s = bpf_map_lookup_elem(&pre, &op);

	struct verdicts_setting *nc = bpf_map_lookup_elem(&nocache, &op);
	__u64 *seen = bpf_map_lookup_elem(&seen_cookie, &op);

	record(ctx);
	unalias(ctx->name);
	unalias(ctx->name2);
	if (seen)
		*seen = ctx->node_cookie;
	if (nc && nc->set)
		ctx->reply_flags |= FUSEBPF_REPLY_NO_CACHE;
	return s && s->set ? s->value : FUSEBPF_CALL_DEFAULT;
}

/*
 * Sets the mtime of the attributes in the output.  op is a constant, so the
 * switch folds to one store at a constant offset of ctx, as the verifier
 * wants (see policy.bpf.h).
 */
static __always_inline void out_set_mtime(struct fusebpf_ctx *ctx, __u32 op, __u64 t)
{
	switch (op) {
	case FUSE_GETATTR:
	case FUSE_SETATTR:
		ctx->out.attr.attr.mtime = t;
		break;
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		ctx->out.create.entry.attr.mtime = t;
		break;
	case FUSE_LOOKUP:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		ctx->out.entry.attr.mtime = t;
		break;
	case FUSE_READDIRPLUS:
		ctx->out.dirent.entry.attr.mtime = t;
		break;
	}
}

static __always_inline void child_policy(struct fusebpf_ctx *ctx)
{
	if (fusebpf_name_eq(ctx->name, "nopol")) {
		ctx->child_policy = FUSEBPF_CHILD_REMOVE;
		return;
	}
	if (!fusebpf_name_has_prefix(ctx->name, "pol."))
		return;
	ctx->child_policy = FUSEBPF_CHILD_SET;
#pragma unroll
	for (int i = 0; i < FUSEBPF_POLICY_NAME_LEN - 1; i++)
		ctx->child_policy_name[i] = ctx->name[4 + i];
}

static __always_inline int postfilter(struct fusebpf_ctx *ctx, const __u32 op)
{
	__u32 key = op, zero = 0; /* op itself stays a constant the switches fold */
	struct verdicts_setting *s = bpf_map_lookup_elem(&post, &key);
	__s32 *last = bpf_map_lookup_elem(&last_error, &key);
	__u64 *t = bpf_map_lookup_elem(&mtime, &zero);

	record(ctx);
	if (last)
		*last = ctx->error_in;
	if ((op == FUSE_READDIR || op == FUSE_READDIRPLUS) &&
	    fusebpf_name_has_prefix(ctx->name, "bpfhide."))
		return -ENOENT;
	if (op == FUSE_LOOKUP && !ctx->error_in)
		child_policy(ctx);
	if ((op == FUSE_LOOKUP || op == FUSE_READDIRPLUS) && fusebpf_name_has_prefix(ctx->name, "cookie."))
		ctx->child_cookie = VERDICTS_COOKIE;
	if (t && *t && !ctx->error_in)
		out_set_mtime(ctx, op, *t);
	return s && s->set ? s->value : 0;
}

#define BOTH(op, opcode)                                                                           \
	FUSEBPF_PREFILTER(op)                                                                      \
	{                                                                                          \
		return prefilter(ctx);                                                             \
	}                                                                                          \
	FUSEBPF_POSTFILTER(op)                                                                     \
	{                                                                                          \
		return postfilter(ctx, opcode);                                                    \
	}

BOTH(lookup, FUSE_LOOKUP)
BOTH(getattr, FUSE_GETATTR)
BOTH(setattr, FUSE_SETATTR)
BOTH(readlink, FUSE_READLINK)
BOTH(symlink, FUSE_SYMLINK)
BOTH(mknod, FUSE_MKNOD)
BOTH(mkdir, FUSE_MKDIR)
BOTH(unlink, FUSE_UNLINK)
BOTH(rmdir, FUSE_RMDIR)
BOTH(rename, FUSE_RENAME)
BOTH(link, FUSE_LINK)
BOTH(open, FUSE_OPEN)
BOTH(read, FUSE_READ)
BOTH(write, FUSE_WRITE)
BOTH(statfs, FUSE_STATFS)
BOTH(release, FUSE_RELEASE)
BOTH(fsync, FUSE_FSYNC)
BOTH(setxattr, FUSE_SETXATTR)
BOTH(getxattr, FUSE_GETXATTR)
BOTH(listxattr, FUSE_LISTXATTR)
BOTH(removexattr, FUSE_REMOVEXATTR)
BOTH(flush, FUSE_FLUSH)
BOTH(opendir, FUSE_OPENDIR)
BOTH(readdir, FUSE_READDIR)
BOTH(releasedir, FUSE_RELEASEDIR)
BOTH(fsyncdir, FUSE_FSYNCDIR)
BOTH(access, FUSE_ACCESS)
BOTH(create, FUSE_CREATE)
BOTH(fallocate, FUSE_FALLOCATE)
BOTH(readdirplus, FUSE_READDIRPLUS)
BOTH(rename2, FUSE_RENAME2)
BOTH(lseek, FUSE_LSEEK)
BOTH(copy_file_range, FUSE_COPY_FILE_RANGE)
BOTH(tmpfile, FUSE_TMPFILE)
BOTH(statx, FUSEBPF_OP_STATX)
