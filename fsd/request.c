// SPDX-License-Identifier: MIT
/*
 * The opcode table and the request pipeline.
 *
 * One row per FUSE opcode says everything fsd does with it: its name, the
 * size of its fixed input, the strings that follow it and how to check them,
 * and the handler that performs it on the backing inode.  An opcode with no
 * row gets ENOSYS.
 *
 * request_process() reads top to bottom: decode (all validation is here),
 * find the node, [the policy's prefilter goes here], the backing handler,
 * [the postfilter goes here], then exactly one reply.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* How a string argument is checked. */
enum str_kind {
	STR_NONE,
	STR_NAME, /* one path component: not empty, no '/', not "." or ".." */
	STR_LINK, /* a symlink target: any bytes, shorter than PATH_MAX */
	STR_XATTR, /* an xattr name: not empty, at most XATTR_NAME_MAX */
	STR_IGNORED, /* present on the wire, unused (TMPFILE's "/") */
};

enum op_flags {
	OP_NO_REPLY = 1 << 0, /* FORGET and friends: the kernel expects none */
	OP_NO_NODE = 1 << 1, /* hdr->nodeid names no node to look up */
	OP_DATA = 1 << 2, /* a payload follows the strings */
};

struct op {
	const char *name;
	uint16_t in_size; /* the fixed input struct */
	uint8_t flags;
	uint8_t str[2]; /* enum str_kind of each string argument */
	int (*backing)(struct request *req);
};

#define NAME1 { STR_NAME }
#define NAME2 { STR_NAME, STR_NAME }

static const struct op ops[FSD_OP_MAX] = {
	[FUSE_LOOKUP] = { "LOOKUP", 0, 0, NAME1, op_lookup },
	[FUSE_FORGET] = { "FORGET", sizeof(struct fuse_forget_in), OP_NO_REPLY | OP_NO_NODE, {}, op_forget },
	[FUSE_GETATTR] = { "GETATTR", sizeof(struct fuse_getattr_in), 0, {}, op_getattr },
	[FUSE_SETATTR] = { "SETATTR", sizeof(struct fuse_setattr_in), 0, {}, op_setattr },
	[FUSE_READLINK] = { "READLINK", 0, 0, {}, op_readlink },
	[FUSE_SYMLINK] = { "SYMLINK", 0, 0, { STR_NAME, STR_LINK }, op_symlink },
	[FUSE_MKNOD] = { "MKNOD", sizeof(struct fuse_mknod_in), 0, NAME1, op_mknod },
	[FUSE_MKDIR] = { "MKDIR", sizeof(struct fuse_mkdir_in), 0, NAME1, op_mkdir },
	[FUSE_UNLINK] = { "UNLINK", 0, 0, NAME1, op_unlink },
	[FUSE_RMDIR] = { "RMDIR", 0, 0, NAME1, op_rmdir },
	[FUSE_RENAME] = { "RENAME", sizeof(struct fuse_rename_in), 0, NAME2, op_rename },
	[FUSE_LINK] = { "LINK", sizeof(struct fuse_link_in), 0, NAME1, op_link },
	[FUSE_OPEN] = { "OPEN", sizeof(struct fuse_open_in), 0, {}, op_open },
	[FUSE_READ] = { "READ", sizeof(struct fuse_read_in), 0, {}, op_read },
	[FUSE_WRITE] = { "WRITE", sizeof(struct fuse_write_in), OP_DATA, {}, op_write },
	[FUSE_STATFS] = { "STATFS", 0, 0, {}, op_statfs },
	[FUSE_RELEASE] = { "RELEASE", sizeof(struct fuse_release_in), 0, {}, op_release },
	[FUSE_FSYNC] = { "FSYNC", sizeof(struct fuse_fsync_in), 0, {}, op_fsync },
	[FUSE_SETXATTR] = { "SETXATTR", FUSE_COMPAT_SETXATTR_IN_SIZE, OP_DATA, { STR_XATTR }, op_setxattr },
	[FUSE_GETXATTR] = { "GETXATTR", sizeof(struct fuse_getxattr_in), 0, { STR_XATTR }, op_getxattr },
	[FUSE_LISTXATTR] = { "LISTXATTR", sizeof(struct fuse_getxattr_in), 0, {}, op_listxattr },
	[FUSE_REMOVEXATTR] = { "REMOVEXATTR", 0, 0, { STR_XATTR }, op_removexattr },
	[FUSE_FLUSH] = { "FLUSH", sizeof(struct fuse_flush_in), 0, {}, op_flush },
	/* fuse_init_in grew over time: the 16-byte 7.x head, the rest as data. */
	[FUSE_INIT] = { "INIT", 16, OP_NO_NODE | OP_DATA, {}, op_init },
	[FUSE_OPENDIR] = { "OPENDIR", sizeof(struct fuse_open_in), 0, {}, op_opendir },
	[FUSE_READDIR] = { "READDIR", sizeof(struct fuse_read_in), 0, {}, op_readdir },
	[FUSE_RELEASEDIR] = { "RELEASEDIR", sizeof(struct fuse_release_in), 0, {}, op_releasedir },
	[FUSE_FSYNCDIR] = { "FSYNCDIR", sizeof(struct fuse_fsync_in), 0, {}, op_fsyncdir },
	[FUSE_GETLK] = { "GETLK" }, /* ENOSYS: the kernel then locks locally */
	[FUSE_SETLK] = { "SETLK" },
	[FUSE_SETLKW] = { "SETLKW" },
	[FUSE_ACCESS] = { "ACCESS", sizeof(struct fuse_access_in), 0, {}, op_access },
	[FUSE_CREATE] = { "CREATE", sizeof(struct fuse_create_in), 0, NAME1, op_create },
	[FUSE_INTERRUPT] = { "INTERRUPT", sizeof(struct fuse_interrupt_in), OP_NO_REPLY | OP_NO_NODE, {}, op_interrupt },
	[FUSE_BMAP] = { "BMAP" },
	[FUSE_DESTROY] = { "DESTROY", 0, OP_NO_NODE, {}, op_destroy },
	[FUSE_IOCTL] = { "IOCTL" },
	[FUSE_POLL] = { "POLL" },
	/* Answers a retrieve notification, which fsd never sends; the kernel expects no reply. */
	[FUSE_NOTIFY_REPLY] = { "NOTIFY_REPLY", 0, OP_NO_REPLY },
	[FUSE_BATCH_FORGET] = { "BATCH_FORGET", sizeof(struct fuse_batch_forget_in), OP_NO_REPLY | OP_NO_NODE | OP_DATA, {}, op_batch_forget },
	[FUSE_FALLOCATE] = { "FALLOCATE", sizeof(struct fuse_fallocate_in), 0, {}, op_fallocate },
	[FUSE_READDIRPLUS] = { "READDIRPLUS", sizeof(struct fuse_read_in), 0, {}, op_readdirplus },
	[FUSE_RENAME2] = { "RENAME2", sizeof(struct fuse_rename2_in), 0, NAME2, op_rename2 },
	[FUSE_LSEEK] = { "LSEEK", sizeof(struct fuse_lseek_in), 0, {}, op_lseek },
	[FUSE_COPY_FILE_RANGE] = { "COPY_FILE_RANGE", sizeof(struct fuse_copy_file_range_in), 0, {}, op_copy_file_range },
	[FUSE_SETUPMAPPING] = { "SETUPMAPPING" },
	[FUSE_REMOVEMAPPING] = { "REMOVEMAPPING" },
	[FUSE_SYNCFS] = { "SYNCFS" },
	[FUSE_TMPFILE] = { "TMPFILE", sizeof(struct fuse_create_in), 0, { STR_IGNORED }, op_tmpfile },
	[FUSEBPF_OP_STATX] = { "STATX", sizeof(struct fusebpf_statx_in), 0, {}, op_statx },
};

const char *opcode_name(uint32_t opcode)
{
	if (opcode < FSD_OP_MAX && ops[opcode].name)
		return ops[opcode].name;
	return "UNKNOWN";
}

static int string_check(enum str_kind kind, const char *s, size_t len)
{
	switch (kind) {
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
static int request_decode(struct request *req, const struct op *op, const char *buf, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)buf;
	size_t ext = (size_t)hdr->total_extlen * 8;
	const char *p = buf + sizeof(*hdr);
	size_t rest;
	const char **strs[2] = { &req->name, &req->name2 };

	/* The kernel sends INIT first and once; libfuse answers the rest EIO too. */
	if (hdr->opcode == FUSE_INIT ? atomic_load(&fsd_initialized) :
				       !atomic_load(&fsd_initialized))
		return -EIO;
	if (hdr->len != len || len < sizeof(*hdr) + ext)
		return -EINVAL;
	rest = len - sizeof(*hdr) - ext; /* extensions are not negotiated: skip */
	if (rest < op->in_size)
		return -EINVAL;
	req->in = p;
	p += op->in_size;
	rest -= op->in_size;

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
	if (op->flags & OP_DATA) {
		req->data = p;
		req->data_len = rest;
	}
	return 0;
}

static void request_log(const struct request *req, const char *buf, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)buf;

	fsd_log("-> unique=%llu op=%s(%u) nodeid=%llu uid=%u gid=%u pid=%u len=%zu%s%s%s%s",
		(unsigned long long)hdr->unique, opcode_name(hdr->opcode), hdr->opcode,
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
	const struct fuse_in_header *hdr = req->hdr;

	if (req->new_fh)
		handle_release(req->new_fh);
	if (req->new_node)
		node_unlookup(req->new_node, 1);
	if (hdr->opcode == FUSE_READDIRPLUS && req->out_data) {
		const char *p = req->out_data, *end = p + req->out_len;

		while (p < end) {
			const struct fuse_direntplus *dp = (const void *)p;

			if (dp->entry_out.nodeid)
				node_forget(dp->entry_out.nodeid, 1);
			p += FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + dp->dirent.namelen);
		}
	}
}

void request_process(struct worker *w, const char *buf, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)buf;
	struct request req = { .hdr = hdr, .worker = w };
	const struct op *op = NULL;
	int err;

	if (len < sizeof(*hdr)) {
		fsd_log("dropped a %zu-byte request: shorter than its header", len);
		return;
	}
	/* Unique 0 marks a notification: a reply would be read as one. */
	if (!hdr->unique) {
		fsd_log("dropped a request with unique 0 (opcode %u)", hdr->opcode);
		return;
	}
	if (hdr->opcode < FSD_OP_MAX) {
		op = &ops[hdr->opcode];
		atomic_fetch_add_explicit(&stats_requests[hdr->opcode], 1, memory_order_relaxed);
	}

	/* Decode. */
	err = op && op->backing ? request_decode(&req, op, buf, len) : -ENOSYS;
	if (fsd_config.debug)
		request_log(&req, buf, len);
	if (err)
		goto reply;

	/* Find the node. */
	if (!(op->flags & OP_NO_NODE)) {
		req.node = node_get(hdr->nodeid);
		if (!req.node) {
			err = -ESTALE;
			goto reply;
		}
	}

	/* Prefilter: the policy step of issue 3 goes here. */

	/* Backing. */
	err = op->backing(&req);

	/* Postfilter: the policy step of issue 3 goes here. */

reply:
	if (err && hdr->opcode < FSD_OP_MAX)
		atomic_fetch_add_explicit(&stats_errors[hdr->opcode], 1, memory_order_relaxed);
	if (!op || !(op->flags & OP_NO_REPLY)) {
		if (dev_reply(&req, err) < 0 || err)
			request_undo(&req);
	}
	node_put(req.new_node);
	node_put(req.node);
}
