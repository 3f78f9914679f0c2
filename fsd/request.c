// SPDX-License-Identifier: MIT
/*
 * The opcode table and the request pipeline.
 *
 * One row per FUSE opcode says everything fsd does with it: the size of its
 * fixed input, the strings that follow it and how to check them, and the
 * handler that performs it on the backing inode (its name is in
 * <fusebpf/opcodes.h>).  An opcode with no handler gets ENOSYS.
 *
 * request_process() reads top to bottom: decode (all validation is here),
 * find the node, prefilter (the node's policy decides: a verdict, or the
 * opcode's default), the backing handler or the userspace one as the
 * verdict says, postfilter, then exactly one reply.
 */
#define _GNU_SOURCE
#include "fsd.h"
#include "arch.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* How a string argument is checked. */
enum str_kind {
	STR_NONE,
	STR_NAME, /* one path component: not empty, no '/', not "." or ".." */
	STR_LOOKUP, /* STR_NAME, or "." and ".." with fsd_export (opening a file handle) */
	STR_LINK, /* a symlink target: any bytes, shorter than PATH_MAX */
	STR_XATTR, /* an xattr name: not empty, at most XATTR_NAME_MAX */
	STR_IGNORED, /* present on the wire, unused (TMPFILE's "/") */
};

enum op_flags {
	OP_NO_REPLY = 1 << 0, /* FORGET and friends: the kernel expects none */
	OP_NO_NODE = 1 << 1, /* hdr->nodeid names no node to look up */
	OP_DATA = 1 << 2, /* a payload follows the strings */
	OP_ENTRY_FILTER = 1 << 3, /* READDIR(PLUS): the postfilter runs on each entry */
	OP_OPEN_FLAGS = 1 << 4, /* the input starts with open(2) flags: translated per client */
	OP_FINAL = 1 << 5, /* the kernel has let go (RELEASE): filters observe, cannot refuse */
	OP_MAY_BLOCK = 1 << 6, /* can wait long on the backing disk: see request_may_block() */
};

struct op {
	uint16_t in_size; /* the fixed input struct */
	uint8_t flags;
	uint8_t str[2]; /* enum str_kind of each string argument */
	int (*backing)(struct request *req);
	/*
	 * Bit i: string argument i is a name a FUSE-BPF kernel does not let a
	 * userspace prefilter change (the RFC marks it immutable: the dentry
	 * is the kernel's); its prefilter-call reply leaves the last argument
	 * out when it is one (request_filter_call).
	 */
	uint8_t immutable;
};

#define NAME1 { STR_NAME }
#define NAME2 { STR_NAME, STR_NAME }
#define IN(type) .in_size = sizeof(struct type)
#define IMMUTABLE1 .immutable = 1
#define IMMUTABLE2 .immutable = 3

static const struct op ops[FSD_OP_MAX] = {
	[FUSE_LOOKUP] = { .str = { STR_LOOKUP }, .backing = op_lookup },
	[FUSE_FORGET] = { IN(fuse_forget_in), OP_NO_REPLY | OP_NO_NODE, .backing = op_forget },
	[FUSE_GETATTR] = { IN(fuse_getattr_in), .backing = op_getattr },
	[FUSE_SETATTR] = { IN(fuse_setattr_in), .backing = op_setattr },
	[FUSE_READLINK] = { .backing = op_readlink },
	[FUSE_SYMLINK] = { .str = { STR_NAME, STR_LINK }, .backing = op_symlink, IMMUTABLE1 },
	[FUSE_MKNOD] = { IN(fuse_mknod_in), .str = NAME1, .backing = op_mknod, IMMUTABLE1 },
	[FUSE_MKDIR] = { IN(fuse_mkdir_in), .str = NAME1, .backing = op_mkdir, IMMUTABLE1 },
	[FUSE_UNLINK] = { .str = NAME1, .backing = op_unlink, IMMUTABLE1 },
	[FUSE_RMDIR] = { .str = NAME1, .backing = op_rmdir, IMMUTABLE1 },
	[FUSE_RENAME] = { IN(fuse_rename_in), .str = NAME2, .backing = op_rename, IMMUTABLE2 },
	[FUSE_LINK] = { IN(fuse_link_in), .str = NAME1, .backing = op_link },
	[FUSE_OPEN] = { IN(fuse_open_in), OP_OPEN_FLAGS, .backing = op_open },
	[FUSE_READ] = { IN(fuse_read_in), OP_MAY_BLOCK, .backing = op_read },
	[FUSE_WRITE] = { IN(fuse_write_in), OP_DATA | OP_MAY_BLOCK, .backing = op_write },
	[FUSE_STATFS] = { .backing = op_statfs },
	[FUSE_RELEASE] = { IN(fuse_release_in), OP_FINAL, .backing = op_release },
	[FUSE_FSYNC] = { IN(fuse_fsync_in), OP_MAY_BLOCK, .backing = op_fsync },
	/* Without FUSE_SETXATTR_EXT the kernel sends the 8-byte compat struct (op_in_size). */
	[FUSE_SETXATTR] = { FUSE_COMPAT_SETXATTR_IN_SIZE, OP_DATA, { STR_XATTR }, op_setxattr },
	[FUSE_GETXATTR] = { IN(fuse_getxattr_in), .str = { STR_XATTR }, .backing = op_getxattr },
	[FUSE_LISTXATTR] = { IN(fuse_getxattr_in), .backing = op_listxattr },
	[FUSE_REMOVEXATTR] = { .str = { STR_XATTR }, .backing = op_removexattr },
	[FUSE_FLUSH] = { IN(fuse_flush_in), OP_MAY_BLOCK, .backing = op_flush },
	/* fuse_init_in grew over time: the 16-byte 7.x head, the rest as data. */
	[FUSE_INIT] = { 16, OP_NO_NODE | OP_DATA, .backing = op_init },
	[FUSE_OPENDIR] = { IN(fuse_open_in), OP_OPEN_FLAGS, .backing = op_opendir },
	[FUSE_READDIR] = { IN(fuse_read_in), OP_ENTRY_FILTER | OP_MAY_BLOCK, .backing = op_readdir },
	[FUSE_RELEASEDIR] = { IN(fuse_release_in), OP_FINAL, .backing = op_releasedir },
	[FUSE_FSYNCDIR] = { IN(fuse_fsync_in), OP_MAY_BLOCK, .backing = op_fsyncdir },
	/* GETLK, SETLK, SETLKW: ENOSYS, and the kernel then locks locally. */
	[FUSE_ACCESS] = { IN(fuse_access_in), .backing = op_access },
	[FUSE_CREATE] = { IN(fuse_create_in), OP_OPEN_FLAGS, NAME1, op_create, IMMUTABLE1 },
	[FUSE_INTERRUPT] = { IN(fuse_interrupt_in), OP_NO_REPLY | OP_NO_NODE, .backing = op_interrupt },
	[FUSE_DESTROY] = { 0, OP_NO_NODE, .backing = op_destroy },
	/* Answers a retrieve notification, which fsd never sends; the kernel expects no reply. */
	[FUSE_NOTIFY_REPLY] = { 0, OP_NO_REPLY },
	[FUSE_BATCH_FORGET] = { IN(fuse_batch_forget_in), OP_NO_REPLY | OP_NO_NODE | OP_DATA,
				.backing = op_batch_forget },
	[FUSE_FALLOCATE] = { IN(fuse_fallocate_in), OP_MAY_BLOCK, .backing = op_fallocate },
	[FUSE_READDIRPLUS] = { IN(fuse_read_in), OP_ENTRY_FILTER | OP_MAY_BLOCK,
			      .backing = op_readdirplus },
	[FUSE_RENAME2] = { IN(fuse_rename2_in), .str = NAME2, .backing = op_rename2, IMMUTABLE2 },
	[FUSE_LSEEK] = { IN(fuse_lseek_in), .backing = op_lseek },
	[FUSE_COPY_FILE_RANGE] = { IN(fuse_copy_file_range_in), OP_MAY_BLOCK,
				  .backing = op_copy_file_range },
	/* The name is "/" on the wire, and means nothing. */
	[FUSE_TMPFILE] = { IN(fuse_create_in), OP_OPEN_FLAGS, { STR_IGNORED }, op_tmpfile },
	[FUSEBPF_OP_STATX] = { IN(fusebpf_statx_in), .backing = op_statx },
};

const char *opcode_name(uint32_t opcode)
{
	if (opcode < FSD_OP_MAX && fusebpf_opcode_names[opcode])
		return fusebpf_opcode_names[opcode];
	return "UNKNOWN";
}

/*
 * The size of an opcode's fixed input on the wire: the table's, except
 * SETXATTR's, which is the whole fuse_setxattr_in (with setxattr_flags)
 * once FUSE_SETXATTR_EXT is negotiated.
 */
static size_t op_in_size(const struct op *op, uint32_t opcode)
{
	if (opcode == FUSE_SETXATTR && fsd_setxattr_ext)
		return sizeof(struct fuse_setxattr_in);
	return op->in_size;
}

static int string_check(enum str_kind kind, const char *s, size_t len)
{
	switch (kind) {
	case STR_LOOKUP:
		if (fsd_export && (!strcmp(s, ".") || !strcmp(s, "..")))
			return 0;
		return string_check(STR_NAME, s, len);
	case STR_NAME:
		if (len == 0 || memchr(s, '/', len) || !strcmp(s, ".") || !strcmp(s, ".."))
			return -EINVAL;
		return len > NAME_MAX ? -ENAMETOOLONG : 0;
	case STR_LINK:
		if (len == 0)
			return -ENOENT;
		return len >= PATH_MAX ? -ENAMETOOLONG : 0;
	case STR_XATTR:
		if (len == 0)
			return -EINVAL;
		return len > XATTR_NAME_MAX ? -ERANGE : 0;
	default:
		return 0;
	}
}

/* Checks every length in the request and points req at its parts. */
/*
 * Open flags in the client's values become ours (fuse_open_in and
 * fuse_create_in both start with them), in a copy the request reads.
 */
static int request_translate_flags(struct request *req, const struct op *op)
{
	uint32_t flags, native;

	memcpy(&flags, req->in, sizeof(flags));
	if (arch_open_flags_to_native(fsd_client_arch, flags, &native)) {
		fsd_log("%s: open flags %#x carry bits %#x unknown to %s: EINVAL",
			opcode_name(req->opcode), flags,
			arch_open_flags_unknown(fsd_client_arch, flags), arch_name(fsd_client_arch));
		return -EINVAL;
	}
	memcpy(&req->in_native, req->in, op->in_size);
	memcpy(&req->in_native, &native, sizeof(native));
	req->in = &req->in_native;
	return 0;
}

/*
 * The extensions at the end of a filter call: records of a fuse_ext_header
 * and a payload, each inside the len bytes that total_extlen counts, sized
 * in multiples of 8.  A postfilter call carries the backing operation's
 * error (FUSEBPF_EXT_ERROR_IN, once, a real errno, padding 0); a prefilter
 * call has none; types fsd does not know are skipped.  0 or -EINVAL.
 */
static int request_extensions(struct request *req, const char *p, size_t len)
{
	bool error_in = false;

	while (len) {
		struct fuse_ext_header xh;
		struct fusebpf_ext_error_in e;

		if (len < sizeof(xh))
			return -EINVAL;
		memcpy(&xh, p, sizeof(xh));
		if (xh.size < sizeof(xh) || xh.size % 8 || xh.size > len)
			return -EINVAL;
		if (xh.type == FUSEBPF_EXT_ERROR_IN) {
			if (xh.size != sizeof(e) || error_in || req->call != FUSEBPF_PHASE_POST)
				return -EINVAL;
			memcpy(&e, p, sizeof(e));
			if (!errno_valid(e.error) || e.padding)
				return -EINVAL;
			req->call_error = e.error;
			error_in = true;
		}
		p += xh.size;
		len -= xh.size;
	}
	return req->call == FUSEBPF_PHASE_POST && !error_in ? -EINVAL : 0;
}

static int request_decode(struct request *req, const struct op *op, const char *buf, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)buf;
	/* Extensions are the last total_extlen * 8 bytes, after every argument. */
	size_t ext = (size_t)hdr->total_extlen * 8;
	const char *p = buf + sizeof(*hdr);
	size_t rest, in_size = op_in_size(op, req->opcode);
	const char **strs[2] = { &req->name, &req->name2 };

	/* The kernel sends INIT first and once; libfuse answers the rest EIO too. */
	if (hdr->opcode == FUSE_INIT ? atomic_load(&fsd_initialized) :
				       !atomic_load(&fsd_initialized))
		return -EIO;
	if (hdr->len != len || len < sizeof(*hdr) + ext)
		return -EINVAL;
	/* Those of a request fsd negotiated none for are skipped. */
	if (req->call) {
		int err = request_extensions(req, buf + len - ext, ext);

		if (err)
			return err;
	}
	rest = len - sizeof(*hdr) - ext;
	if (rest < in_size)
		return -EINVAL;
	req->in = p;
	p += in_size;
	rest -= in_size;
	if ((op->flags & OP_OPEN_FLAGS) && fsd_client_arch) {
		int err = request_translate_flags(req, op);

		if (err)
			return err;
	}

	for (int i = 0; i < 2 && op->str[i] != STR_NONE; i++) {
		const char *nul = memchr(p, '\0', rest);
		size_t slen;
		int err;

		if (!nul)
			return -EINVAL;
		slen = nul - p;
		err = string_check(op->str[i], p, slen);
		if (err)
			return err;
		*strs[i] = p;
		p += slen + 1;
		rest -= slen + 1;
	}
	/* A READDIR(PLUS) postfilter call is of one entry: its name comes first. */
	if (req->call == FUSEBPF_PHASE_POST && (op->flags & OP_ENTRY_FILTER)) {
		const char *nul = memchr(p, '\0', rest);

		if (!nul || string_check(STR_NAME, p, nul - p))
			return -EINVAL;
		req->name = p;
		rest -= nul + 1 - p;
		p = nul + 1;
	}
	/* A postfilter call's output follows; filter calls carry no data payload. */
	if (req->call == FUSEBPF_PHASE_POST || (!req->call && (op->flags & OP_DATA))) {
		req->data = p;
		req->data_len = rest;
	}
	return 0;
}

static void request_log(const struct request *req, const char *buf, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)buf;

	fsd_log("-> unique=%llu op=%s%s(%#x) nodeid=%llu uid=%u gid=%u pid=%u len=%zu%s%s%s%s",
		(unsigned long long)hdr->unique, opcode_name(req->opcode),
		req->call == FUSEBPF_PHASE_PRE ? "/prefilter" :
		req->call == FUSEBPF_PHASE_POST ? "/postfilter" : "", hdr->opcode,
		(unsigned long long)hdr->nodeid, hdr->uid, hdr->gid, hdr->pid, len,
		req->name ? " name=" : "", req->name ? req->name : "",
		req->name2 ? " name2=" : "", req->name2 ? req->name2 : "");
}

/*
 * A reply that failed, or that the kernel did not take (the connection was
 * aborted), hands it no lookups and no open handle: take them back.
 */
static void request_undo(struct request *req)
{
	if (req->new_fh)
		handle_release(req->new_fh);
	if (req->new_node)
		node_unlookup(req->new_node, 1);
	if (req->opcode == FUSE_READDIRPLUS && !req->call && req->out_data) {
		const char *p = req->out_data, *end = p + req->out_len;

		while (p < end) {
			const struct fuse_direntplus *dp = (const void *)p;

			if (dp->entry_out.nodeid)
				node_forget(dp->entry_out.nodeid, 1);
			p += FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + dp->dirent.namelen);
		}
	}
}

/* ---- the policy step ---- */

/*
 * What a filter's -errno becomes.  The kernel latches ENOSYS for the whole
 * connection on many opcodes (OPEN, ACCESS, the xattr calls, ...): from a
 * filter, which decides one request, it is EIO; so is a value no errno has.
 */
static int filter_errno(int ret)
{
	return ret == -ENOSYS || !errno_valid(ret) ? -EIO : ret;
}

/* The context's header: who asks what of which node. */
static void ctx_init(struct fusebpf_ctx *ctx, const struct request *req, uint32_t opcode,
		     uint64_t nodeid, const struct node *node)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->nodeid = nodeid;
	ctx->opcode = opcode;
	ctx->uid = req->hdr->uid;
	ctx->gid = req->hdr->gid;
	ctx->pid = req->hdr->pid;
	ctx->node_cookie = node_cookie(node);
}

/* Copies the request's input into the filter context, once per request. */
static void ctx_fill(struct request *req, const struct op *op)
{
	struct fusebpf_ctx *ctx = &req->ctx;

	if (req->ctx_ready)
		return;
	ctx_init(ctx, req, req->opcode, req->hdr->nodeid, req->node);
	ctx->in_size = op_in_size(op, req->opcode);
	memcpy(&ctx->in, req->in, ctx->in_size);
	/* Decoding bounded names and xattr names to 255 bytes. */
	if (req->name && op->str[0] != STR_IGNORED)
		strcpy(ctx->name, req->name);
	if (req->name2 && op->str[1] == STR_NAME)
		strcpy(ctx->name2, req->name2);
	req->ctx_ready = true;
}

/* One name a filter may have rewritten: still a valid one? */
static int ctx_name_take(char *buf, enum str_kind kind, const char **name)
{
	buf[FUSEBPF_NAME_LEN - 1] = '\0';
	if (string_check(kind, buf, strlen(buf)))
		return -EINVAL;
	*name = buf;
	return 0;
}

/*
 * After a prefilter: the request goes on with the input and names as the
 * filter left them, checked again as decoding checked them.  Opcodes the
 * kernel has already let go of (OP_FINAL) keep their input.
 */
static int ctx_take_input(struct request *req, const struct op *op)
{
	int err = 0;

	if (op->flags & OP_FINAL)
		return 0;
	req->in = &req->ctx.in;
	if (req->name && op->str[0] != STR_IGNORED)
		err = ctx_name_take(req->ctx.name, op->str[0], &req->name);
	if (!err && req->name2 && op->str[1] == STR_NAME)
		err = ctx_name_take(req->ctx.name2, op->str[1], &req->name2);
	if (err)
		fsd_log("%s: a prefilter left a name that is not a valid one: EINVAL",
			opcode_name(req->opcode));
	return err;
}

/* Before a postfilter: the result of the operation, as the reply would carry it. */
static void ctx_fill_output(struct request *req, const struct op *op, int err)
{
	ctx_fill(req, op);
	req->ctx.error_in = err;
	req->ctx.out_size = err ? 0 : req->arg_len ? req->arg_len : req->out_len;
	memset(&req->ctx.out, 0, sizeof(req->ctx.out));
	if (!err && req->arg_len)
		memcpy(&req->ctx.out, &req->arg, req->arg_len);
}

/*
 * What a postfilter may not change in an output: the node and the open
 * handle it hands the kernel, which the daemon counts (a lookup, an fh, a
 * backing id and the passthrough mode that goes with it).
 */
static void out_keep_identity(uint32_t opcode, union fusebpf_out *out,
			      const union fusebpf_out *was)
{
	struct fuse_entry_out *e = NULL;
	struct fusebpf_open_out *o = NULL;
	const struct fuse_entry_out *we = NULL;
	const struct fusebpf_open_out *wo = NULL;

	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		e = &out->entry, we = &was->entry;
		break;
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		e = &out->create.entry, we = &was->create.entry;
		o = &out->create.open, wo = &was->create.open;
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		o = &out->open, wo = &was->open;
		break;
	case FUSE_READDIRPLUS:
		e = &out->dirent.entry, we = &was->dirent.entry;
		break;
	}
	if (e) {
		e->nodeid = we->nodeid;
		e->generation = we->generation;
	}
	if (o) {
		o->fh = wo->fh;
		o->backing_id = wo->backing_id;
		o->open_flags = (o->open_flags & ~FUSEBPF_FOPEN_PASSTHROUGH) |
				(wo->open_flags & FUSEBPF_FOPEN_PASSTHROUGH);
	}
}

/*
 * A LOOKUP postfilter (or a READDIRPLUS one) may give the child a cookie,
 * and a LOOKUP postfilter another policy, or none.  A policy that is not
 * loaded fails the lookup rather than leave the child unguarded.
 */
static int ctx_child_apply(const struct fusebpf_ctx *ctx, struct node *child)
{
	struct policy *policy = NULL;
	char name[FUSEBPF_POLICY_NAME_LEN];
	int err;

	if (!child)
		return 0;
	if (ctx->child_cookie)
		node_set_cookie(child, ctx->child_cookie);
	if (ctx->opcode != FUSE_LOOKUP)
		return 0;
	switch (ctx->child_policy) {
	case FUSEBPF_CHILD_INHERIT:
		return 0;
	case FUSEBPF_CHILD_REMOVE:
		break;
	case FUSEBPF_CHILD_SET:
		memcpy(name, ctx->child_policy_name, sizeof(name));
		name[sizeof(name) - 1] = '\0';
		err = policy_get(name, &policy);
		if (err) {
			fsd_log("LOOKUP postfilter set policy '%s' on '%s': %s; failing the lookup",
				name, ctx->name, strerror(-err));
			return -EIO;
		}
		break;
	default:
		return -EIO;
	}
	node_set_policy(child, policy);
	return 0;
}

/* The kernel must cache nothing of this request's reply. */
static void request_no_cache(struct request *req)
{
	req->no_cache = true;
	memset(&req->cache, 0, sizeof(req->cache));
}

/* After a postfilter returned ret: the request's result. */
static int ctx_take_output(struct request *req, int err, int ret)
{
	union fusebpf_out was;

	if (ret < 0)
		return filter_errno(ret);
	if (err)
		return err;
	if (req->arg_len) {
		memcpy(&was, &req->arg, req->arg_len);
		out_keep_identity(req->opcode, &req->ctx.out, &was);
		memcpy(&req->arg, &req->ctx.out, req->arg_len);
	}
	return ctx_child_apply(&req->ctx, req->new_node);
}

/* Runs a userspace filter of phase on req, if the module has one; 0 or -errno. */
static int user_filter(struct request *req, const struct op *op, uint32_t phase, int err)
{
	uint32_t opcode = req->opcode;
	int ret;

	if (phase == FUSEBPF_PHASE_PRE) {
		if (!user_module->prefilter[opcode])
			return 0;
		ctx_fill(req, op);
		req->ctx.phase = phase;
		ret = user_module->prefilter[opcode](req, &req->ctx);
		if (ret < 0)
			return op->flags & OP_FINAL ? 0 : filter_errno(ret);
		if (req->ctx.reply_flags & FUSEBPF_REPLY_NO_CACHE)
			request_no_cache(req);
		return ctx_take_input(req, op);
	}
	if (!user_module->postfilter[opcode])
		return err;
	ctx_fill_output(req, op, err);
	req->ctx.phase = phase;
	ret = user_module->postfilter[opcode](req, &req->ctx);
	return ctx_take_output(req, err, ret);
}

/* Counts a prefilter's verdict; a negative errno, or no verdict at all (EIO), as ERRNO. */
static void verdict_count(uint32_t opcode, int verdict)
{
	int slot = verdict < 0 || verdict > FUSEBPF_VERDICT_MAX ? FUSEBPF_VERDICT_MAX + 1 : verdict;

	atomic_fetch_add_explicit(&stats_verdicts[opcode][slot], 1, memory_order_relaxed);
}

/* The verdict when no filter decides: the opcode's default. */
static int verdict_default(uint32_t opcode)
{
	return fsd_config.user_ops & FUSEBPF_OP_BIT(opcode) ? FUSEBPF_USER : FUSEBPF_CONTINUE;
}

/*
 * The node's policy decides what happens to the request: the verdict of its
 * prefilter, or the opcode's default (-o user_ops) when there is none or it
 * says CALL_DEFAULT.  Returns the verdict, or -errno to fail the request.
 * A release the kernel has already made (OP_FINAL) cannot be refused.
 */
static int request_prefilter(struct request *req, const struct op *op)
{
	uint32_t opcode = req->opcode;
	int verdict = FUSEBPF_CALL_DEFAULT, err;

	if (!(FUSEBPF_FILTERABLE_OPS & FUSEBPF_OP_BIT(opcode)))
		return FUSEBPF_CONTINUE;
	/*
	 * A FUSE-BPF kernel ran the filters: what it sends us is for
	 * userspace, unless fusebpf.ko says it is for the backing operation.
	 */
	if (fsd_bpf_kernel)
		return fsd_bpf_init && (req->hdr->padding & FUSEBPF_IN_BACKING) ? FUSEBPF_CONTINUE :
										   FUSEBPF_USER;
	req->filters = policy_acquire(node_policy(req->node));
	if (policy_per_caller(req->filters))
		request_no_cache(req);
	if (policy_has(req->filters, opcode, FUSEBPF_PHASE_PRE)) {
		ctx_fill(req, op);
		req->ctx.phase = FUSEBPF_PHASE_PRE;
		verdict = filter_run(req->filters, opcode, FUSEBPF_PHASE_PRE, &req->ctx);
		verdict_count(opcode, verdict);
		if (verdict > FUSEBPF_VERDICT_MAX) {
			fsd_log("%s prefilter of policy %s returned %d, not a verdict: EIO",
				opcode_name(opcode), policy_name(node_policy(req->node)), verdict);
			verdict = -EIO;
		}
		if (verdict < 0)
			return op->flags & OP_FINAL ? FUSEBPF_CONTINUE : filter_errno(verdict);
		if (req->ctx.reply_flags & FUSEBPF_REPLY_NO_CACHE)
			request_no_cache(req);
		err = ctx_take_input(req, op);
		if (err)
			return err;
	}
	return verdict == FUSEBPF_CALL_DEFAULT ? verdict_default(opcode) : verdict;
}

/*
 * A READ (or COPY_FILE_RANGE) on a handle a userspace module claimed at
 * OPEN goes to the module whatever the verdict: it serves that file's data.
 */
static bool request_claimed(const struct request *req)
{
	/* No handler: a claim would end in the backing handler anyway. */
	if (!user_module->handler[req->opcode])
		return false;
	switch (req->opcode) {
	case FUSE_READ:
		return handle_claimed(((const struct fuse_read_in *)req->in)->fh);
	case FUSE_COPY_FILE_RANGE:
		return handle_claimed(((const struct fuse_copy_file_range_in *)req->in)->fh_in);
	default:
		return false;
	}
}

/* The backing operation, the userspace handler, or both, as the verdict says. */
static int request_perform(struct request *req, const struct op *op, int verdict)
{
	int err;

	switch (verdict) {
	case FUSEBPF_USER:
		return user_handle(req);
	case FUSEBPF_USER_PREFILTER:
		err = user_filter(req, op, FUSEBPF_PHASE_PRE, 0);
		if (err)
			return err;
		return op->backing(req);
	case FUSEBPF_POSTFILTER:
	case FUSEBPF_USER_POSTFILTER:
		/* READDIR(PLUS) run the postfilter on each entry as they list it. */
		if (op->flags & OP_ENTRY_FILTER)
			req->entry_post = verdict;
		return op->backing(req);
	default:
		return op->backing(req);
	}
}

/* The postfilter the verdict asked for, BPF or userspace; the request's result. */
static int request_postfilter(struct request *req, const struct op *op, int verdict, int err)
{
	if (op->flags & OP_ENTRY_FILTER)
		return err;
	if (verdict == FUSEBPF_POSTFILTER &&
	    policy_has(req->filters, req->opcode, FUSEBPF_PHASE_POST)) {
		ctx_fill_output(req, op, err);
		req->ctx.phase = FUSEBPF_PHASE_POST;
		return ctx_take_output(req, err, filter_run(req->filters, req->opcode,
							    FUSEBPF_PHASE_POST, &req->ctx));
	}
	if (verdict == FUSEBPF_USER_POSTFILTER)
		return user_filter(req, op, FUSEBPF_PHASE_POST, err);
	return err;
}

int request_entry_filter(struct request *req, char *name, struct fusebpf_dirent *d,
			 struct node *child)
{
	struct fusebpf_ctx *ctx = &req->ctx;
	union fusebpf_out was = { .dirent = *d };
	int ret;

	if (!req->entry_post)
		return 0;
	ctx_fill(req, &ops[req->opcode]);
	ctx->phase = FUSEBPF_PHASE_POST;
	ctx->error_in = 0;
	ctx->child_cookie = 0;
	ctx->out_size = sizeof(*d);
	ctx->out.dirent = *d;
	memcpy(ctx->name, name, FUSEBPF_NAME_LEN);
	if (req->entry_post == FUSEBPF_POSTFILTER) {
		if (!policy_has(req->filters, req->opcode, FUSEBPF_PHASE_POST))
			return 0;
		ret = filter_run(req->filters, req->opcode, FUSEBPF_PHASE_POST, ctx);
	} else {
		if (!user_module->postfilter[req->opcode])
			return 0;
		ret = user_module->postfilter[req->opcode](req, ctx);
	}
	if (ret < 0)
		return ret;
	ctx->name[FUSEBPF_NAME_LEN - 1] = '\0';
	if (strcmp(ctx->name, name)) {
		/* Renamed: to a name, not to a path or to "." and "..". */
		if (string_check(STR_NAME, ctx->name, strlen(ctx->name)))
			return -EINVAL;
		memcpy(name, ctx->name, FUSEBPF_NAME_LEN);
	}
	out_keep_identity(req->opcode, &ctx->out, &was);
	*d = ctx->out.dirent;
	return ctx_child_apply(ctx, child);
}

/*
 * An entry of a listing is a name that LOOKUP would be asked for, so the
 * policy's LOOKUP filters decide it as they decide a LOOKUP: a negative
 * prefilter verdict leaves it out of READDIR and READDIRPLUS alike.  A
 * READDIRPLUS entry also hands the kernel a lookup: a userspace verdict, a
 * name the prefilter rewrote, or a prefilter that asked the kernel to cache
 * nothing (FUSEBPF_REPLY_NO_CACHE) lists it without attributes, so that the
 * kernel makes a LOOKUP of its own; otherwise it is looked up here, and the
 * LOOKUP postfilter, if asked for, sees the entry and chooses the child's
 * policy and cookie.  Returns 0 with *child (NULL: no lookup handed over)
 * and e, or -errno to leave the entry out.
 */
int request_entry_lookup(struct request *req, struct node *dir, const char *name, bool plus,
			 struct fuse_entry_out *e, struct node **child)
{
	struct fusebpf_ctx ctx;
	union fusebpf_out was;
	int verdict = FUSEBPF_CALL_DEFAULT, err;
	struct stat st;

	*child = NULL;
	if (policy_has(req->filters, FUSE_LOOKUP, FUSEBPF_PHASE_PRE)) {
		ctx_init(&ctx, req, FUSE_LOOKUP, dir->nodeid, dir);
		strcpy(ctx.name, name);
		ctx.phase = FUSEBPF_PHASE_PRE;
		verdict = filter_run(req->filters, FUSE_LOOKUP, FUSEBPF_PHASE_PRE, &ctx);
		verdict_count(FUSE_LOOKUP, verdict);
		if (verdict > FUSEBPF_VERDICT_MAX)
			fsd_log("LOOKUP prefilter of policy %s returned %d for a listed name, not a "
				"verdict: leaving '%s' out", policy_name(node_policy(dir)), verdict, name);
		if (verdict < 0 || verdict > FUSEBPF_VERDICT_MAX)
			return -ENOENT;
		ctx.name[FUSEBPF_NAME_LEN - 1] = '\0';
		if (!plus || strcmp(ctx.name, name) || (ctx.reply_flags & FUSEBPF_REPLY_NO_CACHE))
			return 0;
	}
	if (verdict == FUSEBPF_CALL_DEFAULT)
		verdict = verdict_default(FUSE_LOOKUP);
	if (!plus || (verdict != FUSEBPF_CONTINUE && verdict != FUSEBPF_POSTFILTER))
		return 0;
	err = node_lookup(dir, name, &st, child);
	if (err)
		return err == -ENOENT ? err : 0;
	entry_fill(e, (*child)->nodeid, (*child)->generation, &st, &req->cache);
	backing_attr_timeout(*child, &e->attr_valid, &e->attr_valid_nsec);
	/* POSTFILTER is a prefilter's verdict: ctx is what the prefilter left. */
	if (verdict != FUSEBPF_POSTFILTER ||
	    !policy_has(req->filters, FUSE_LOOKUP, FUSEBPF_PHASE_POST))
		return 0;
	ctx.phase = FUSEBPF_PHASE_POST;
	ctx.out.entry = *e;
	ctx.out_size = sizeof(*e);
	was.entry = *e;
	err = filter_run(req->filters, FUSE_LOOKUP, FUSEBPF_PHASE_POST, &ctx);
	if (!err) {
		out_keep_identity(FUSE_LOOKUP, &ctx.out, &was);
		*e = ctx.out.entry;
		err = ctx_child_apply(&ctx, *child);
	}
	if (err < 0) {
		node_unlookup(*child, 1);
		node_put(*child);
		*child = NULL;
		return err;
	}
	return 0;
}

/*
 * After a FUSE-BPF kernel's prefilter call: the names it keeps (op's
 * immutable ones) are the names it sent.  A module that rewrote one would
 * see its choice ignored, so the call fails instead.  0 or -EINVAL.
 */
static int ctx_immutable_check(struct request *req, const struct op *op)
{
	char *bufs[2] = { req->ctx.name, req->ctx.name2 };
	const char *sent[2] = { req->name, req->name2 };

	for (int i = 0; i < 2; i++) {
		if (!(op->immutable & (1u << i)) || !sent[i])
			continue;
		bufs[i][FUSEBPF_NAME_LEN - 1] = '\0';
		if (strcmp(bufs[i], sent[i])) {
			fsd_log("%s prefilter call: the module renamed '%s', which a FUSE-BPF "
				"kernel does not let a prefilter change: EINVAL",
				opcode_name(req->opcode), sent[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The postfilter call of one entry of a listing the kernel made: the
 * module's postfilter sees it as in daemon mode (request_entry_filter);
 * the reply is the entry and its name as the filter left them, and an
 * error leaves the entry out.
 */
static int request_entry_call(struct request *req)
{
	char *name = req->worker->out_buf;
	struct fusebpf_dirent d;
	int ret;

	if (req->data_len != sizeof(d))
		return -EINVAL;
	memcpy(&d, req->data, sizeof(d));
	memset(name, 0, FUSEBPF_NAME_LEN);
	strcpy(name, req->name);
	req->entry_post = FUSEBPF_USER_POSTFILTER;
	ret = request_entry_filter(req, name, &d, NULL);
	if (ret < 0)
		return filter_errno(ret);
	memcpy(&req->arg, &d, sizeof(d));
	reply_arg(req, sizeof(d));
	reply_data(req, name, strlen(name) + 1);
	return 0;
}

/*
 * A FUSE-BPF kernel's userspace prefilter or postfilter call: the module's
 * filter sees the context as in daemon mode, and the reply carries the
 * input (prefilter) or the output (postfilter) as the filter left it; the
 * kernel goes on with them.  No filter: they go back unchanged.  As the
 * RFC's kernel reads a prefilter reply, the last argument is not in it
 * when it is an immutable name (MKDIR's name, RENAME's new name, ...).
 */
static int request_filter_call(struct request *req, const struct op *op)
{
	char *names = req->worker->out_buf;
	const char *strs[2];
	size_t used = 0;
	int ret = 0, nstr = 0;

	if (req->call == FUSEBPF_PHASE_POST && (op->flags & OP_ENTRY_FILTER))
		return request_entry_call(req);
	ctx_fill(req, op);
	req->ctx.phase = req->call;
	if (req->call == FUSEBPF_PHASE_POST) {
		size_t n = req->data_len < sizeof(req->ctx.out) ? req->data_len : sizeof(req->ctx.out);

		/* From the request's FUSEBPF_EXT_ERROR_IN (request_extensions). */
		req->ctx.error_in = req->call_error;
		memcpy(&req->ctx.out, req->data, n);
		req->ctx.out_size = n;
		if (user_module->postfilter[req->opcode])
			ret = user_module->postfilter[req->opcode](req, &req->ctx);
		if (ret < 0)
			return filter_errno(ret);
		memcpy(&req->arg, &req->ctx.out, n);
		reply_arg(req, n);
		return 0;
	}
	if (user_module->prefilter[req->opcode])
		ret = user_module->prefilter[req->opcode](req, &req->ctx);
	if (ret < 0)
		return filter_errno(ret);
	ret = ctx_immutable_check(req, op);
	if (!ret)
		ret = ctx_take_input(req, op);
	if (ret)
		return ret;
	memcpy(&req->arg, req->in, op_in_size(op, req->opcode));
	/* The flags go back in the client's values, as they came. */
	if ((op->flags & OP_OPEN_FLAGS) && fsd_client_arch) {
		uint32_t flags;

		memcpy(&flags, &req->arg, sizeof(flags));
		if (arch_open_flags_from_native(fsd_client_arch, flags, &flags))
			return -EINVAL;
		memcpy(&req->arg, &flags, sizeof(flags));
	}
	reply_arg(req, op_in_size(op, req->opcode));
	strs[0] = req->name;
	strs[1] = req->name2;
	while (nstr < 2 && op->str[nstr] != STR_NONE)
		nstr++;
	if (nstr && (op->immutable & (1u << (nstr - 1))))
		nstr--;
	for (int i = 0; i < nstr; i++) {
		size_t n = strlen(strs[i]) + 1;

		memcpy(names + used, strs[i], n);
		used += n;
	}
	reply_data(req, names, used);
	return 0;
}

/*
 * The opcode's row (an empty one for an opcode fsd does not serve); none for
 * a number beyond the table, a filter call that was not negotiated, or one
 * of an opcode that cannot be filtered.
 */
static const struct op *request_op(struct request *req)
{
	uint32_t call = req->hdr->opcode & ~FUSEBPF_OPCODE_MASK;

	req->opcode = req->hdr->opcode & FUSEBPF_OPCODE_MASK;
	if (req->opcode >= FSD_OP_MAX)
		return NULL;
	if (!call)
		return &ops[req->opcode];
	if (!fsd_bpf_kernel || !(FUSEBPF_FILTERABLE_OPS & FUSEBPF_OP_BIT(req->opcode)))
		return NULL;
	if (call == FUSEBPF_PREFILTER_CALL)
		req->call = FUSEBPF_PHASE_PRE;
	else if (call == FUSEBPF_POSTFILTER_CALL)
		req->call = FUSEBPF_PHASE_POST;
	else
		return NULL;
	return &ops[req->opcode];
}

int request_backing(struct request *req)
{
	return ops[req->opcode].backing(req);
}

void request_process(struct worker *w, const char *buf, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)buf;
	struct request req = { .hdr = hdr, .worker = w, .reply_fd = -1 };
	const struct op *op;
	int err, verdict = FUSEBPF_CONTINUE;

	if (len < sizeof(*hdr)) {
		fsd_log("dropped a %zu-byte request: shorter than its header", len);
		return;
	}
	/* Unique 0 marks a notification: a reply would be read as one. */
	if (!hdr->unique) {
		fsd_log("dropped a request with unique 0 (opcode %u)", hdr->opcode);
		return;
	}
	/*
	 * A client of the other byte order, whose INIT we read byte-swapped:
	 * not served (docs/cross-arch.md), told so in its own byte order.
	 */
	if (hdr->opcode == FUSE_INIT_BSWAP_RESERVED) {
		fsd_log("INIT from a client of the other byte order: not supported, EPROTO");
		req.other_byte_order = true;
		dev_reply(&req, -EPROTO);
		return;
	}
	op = request_op(&req);
	if (req.opcode < FSD_OP_MAX)
		atomic_fetch_add_explicit(&stats_requests[req.opcode], 1, memory_order_relaxed);
	cache_timeouts_from_config(&req.cache);

	/* Decode. */
	err = op && op->backing ? request_decode(&req, op, buf, len) : -ENOSYS;
	if (fsd_config.debug)
		request_log(&req, buf, len);
	if (err)
		goto reply;

	/* Find the node: for a LOOKUP of ".", one the daemon may have forgotten or never met. */
	if (!(op->flags & OP_NO_NODE)) {
		if (req.opcode == FUSE_LOOKUP && !strcmp(req.name, "."))
			err = node_resolve(hdr->nodeid, &req.node);
		else if (!(req.node = node_get(hdr->nodeid)))
			err = -ESTALE;
		if (err)
			goto reply;
	}

	/* A FUSE-BPF kernel's filter call: userspace's part of its filtering. */
	if (req.call) {
		err = request_filter_call(&req, op);
		goto reply;
	}

	/* Prefilter. */
	verdict = request_prefilter(&req, op);
	if (verdict < 0) {
		err = verdict;
		goto reply;
	}
	if (request_claimed(&req))
		verdict = FUSEBPF_USER;

	/* Backing, or userspace. */
	err = request_perform(&req, op, verdict);

	/* Postfilter. */
	err = request_postfilter(&req, op, verdict, err);

	/* A FUSE-BPF kernel learns the backing file and the policy of what it looks up. */
	if (!err && fsd_bpf_kernel && req.opcode == FUSE_LOOKUP && req.new_node)
		err = lookup_bpf_entries(&req, req.new_node);

reply:
	if (err && req.opcode < FSD_OP_MAX)
		atomic_fetch_add_explicit(&stats_errors[req.opcode], 1, memory_order_relaxed);
	if (!op || !(op->flags & OP_NO_REPLY)) {
		if (dev_reply(&req, err) < 0 || err)
			request_undo(&req);
	}
	if (req.reply_fd >= 0)
		close(req.reply_fd);
	policy_release(req.filters);
	node_put(req.new_node);
	node_put(req.node);
}

/*
 * Whether a request can keep its thread waiting long: on the backing disk
 * (data, a flush of it, a directory read that is not cached), or in a
 * userspace module, whose handlers and filters may do anything.  An
 * io_uring queue hands such requests to its offload threads, so that one
 * slow call does not hold up the requests made after it on that CPU.
 */
bool request_may_block(const char *buf, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)buf;
	uint32_t opc;

	if (len < sizeof(*hdr) || hdr->opcode >= FSD_OP_MAX)
		return false;
	opc = hdr->opcode;
	return (ops[opc].flags & OP_MAY_BLOCK) || user_module->handler[opc] ||
	       user_module->prefilter[opc] || user_module->postfilter[opc];
}

/* ---- opcode masks ---- */

uint64_t opcode_mask_backing(void)
{
	uint64_t mask = 0;

	for (uint32_t opc = 0; opc < FSD_OP_MAX; opc++)
		if (ops[opc].backing && (FUSEBPF_FILTERABLE_OPS & FUSEBPF_OP_BIT(opc)))
			mask |= FUSEBPF_OP_BIT(opc);
	return mask;
}

int opcode_mask_parse(const char *list, uint64_t *mask, char *err, size_t errlen)
{
	const char *p = list;

	*mask = 0;
	while (*p) {
		size_t n = strcspn(p, ",:+");
		uint32_t opc;

		for (opc = 0; opc < FSD_OP_MAX; opc++)
			if (fusebpf_opcode_names[opc] && strlen(fusebpf_opcode_names[opc]) == n &&
			    !strncasecmp(fusebpf_opcode_names[opc], p, n))
				break;
		if (n == 3 && !strncasecmp(p, "all", 3)) {
			*mask |= opcode_mask_backing();
		} else if (n == 4 && !strncasecmp(p, "none", 4)) {
			;
		} else if (opc == FSD_OP_MAX || !(opcode_mask_backing() & FUSEBPF_OP_BIT(opc))) {
			snprintf(err, errlen, "'%.*s' is not an opcode the daemon serves (LOOKUP, "
				 "OPEN, UNLINK, ...; or all, none)", (int)n, p);
			return -EINVAL;
		} else {
			*mask |= FUSEBPF_OP_BIT(opc);
		}
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

void opcode_mask_format(uint64_t mask, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (uint32_t opc = 0; opc < FSD_OP_MAX && used < size; opc++)
		if (mask & FUSEBPF_OP_BIT(opc))
			used += snprintf(buf + used, size - used, "%s%s", used ? "," : "",
					 opcode_name(opc));
	if (!mask)
		snprintf(buf, size, "none");
}
