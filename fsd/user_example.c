// SPDX-License-Identifier: MIT
/*
 * "example": a userspace module that shows the interface of user.h and that
 * the tests use to see each userspace path taken.
 * -o user=example[:deny_uid=N][:fsync_ms=N]
 *
 * - USER: READ serves the file's bytes with ASCII letters upper-cased;
 *   GETATTR reports the file's attributes with mtime 1000000000; LOOKUP of
 *   "nopol" gives the child no policy (what a FUSE-BPF kernel then hears as
 *   REMOVE_BPF); FSYNC waits fsync_ms milliseconds first, a disk that is
 *   slow to flush.  Other opcodes get the daemon's own implementation.
 * - USER_PREFILTER: fails every call of uid deny_uid with EACCES; rewrites
 *   a name "alias.X" to "X" (so "alias.a" reaches "a").
 * - USER_POSTFILTER: sets mtime to 1000000000 in the attributes of LOOKUP,
 *   GETATTR, SETATTR, MKDIR, MKNOD, SYMLINK, LINK and CREATE replies;
 *   leaves out of READDIR listings the names starting with "userhide.";
 *   fails with EREMOTEIO an operation on a name starting with "postfail.".
 *
 * Every call is counted; the counts are in the statistics as
 * user.example.{handler,prefilter,postfilter}.OPCODE.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXAMPLE_MTIME 1000000000

static uid_t deny_uid = (uid_t)-1;
static unsigned long fsync_ms;
static _Atomic uint64_t calls[3][FUSEBPF_OP_MAX]; /* handler, prefilter, postfilter */

enum { CALL_HANDLER, CALL_PRE, CALL_POST };

static void count(int kind, const struct request *req)
{
	atomic_fetch_add_explicit(&calls[kind][req->opcode], 1, memory_order_relaxed);
}

/* Arguments "key=N", separated by ':'. */
static int example_init(const char *args)
{
	while (args && *args) {
		const char *val = strchr(args, '=');
		unsigned long n;
		char *end;

		if (!val)
			return -EINVAL;
		if (!isdigit((unsigned char)val[1]))
			return -EINVAL;
		n = strtoul(val + 1, &end, 10);
		if (*end && *end != ':')
			return -EINVAL;
		if (val - args == 8 && !strncmp(args, "deny_uid", 8))
			deny_uid = n;
		else if (val - args == 8 && !strncmp(args, "fsync_ms", 8))
			fsync_ms = n;
		else
			return -EINVAL;
		args = *end ? end + 1 : end;
	}
	return 0;
}

static void example_stats(FILE *f)
{
	static const char *const kinds[] = { "handler", "prefilter", "postfilter" };

	for (int k = 0; k < 3; k++)
		for (int op = 0; op < FUSEBPF_OP_MAX; op++)
			if (atomic_load(&calls[k][op]))
				fprintf(f, "user.example.%s.%s %llu\n", kinds[k], opcode_name(op),
					(unsigned long long)atomic_load(&calls[k][op]));
}

static int example_read(struct request *req)
{
	int err;

	count(CALL_HANDLER, req);
	err = request_backing(req);
	if (err)
		return err;
	/* The reply data is the worker's buffer, ours to change. */
	for (size_t i = 0; i < req->out_len; i++) {
		char *c = (char *)req->out_data + i;

		*c = toupper((unsigned char)*c);
	}
	return 0;
}

static int example_getattr(struct request *req)
{
	int err;

	count(CALL_HANDLER, req);
	err = request_backing(req);
	if (!err)
		req->arg.attr.attr.mtime = EXAMPLE_MTIME;
	return err;
}

static int example_lookup(struct request *req)
{
	int err;

	count(CALL_HANDLER, req);
	err = request_backing(req);
	if (!err && req->new_node && !strcmp(req->name, "nopol"))
		node_set_policy(req->new_node, NULL);
	return err;
}

static int example_fsync(struct request *req)
{
	struct timespec wait = { fsync_ms / 1000, fsync_ms % 1000 * 1000000 };

	count(CALL_HANDLER, req);
	while (nanosleep(&wait, &wait) < 0 && errno == EINTR)
		;
	return request_backing(req);
}

static int example_prefilter(struct request *req, struct fusebpf_ctx *ctx)
{
	count(CALL_PRE, req);
	if (ctx->uid == deny_uid)
		return -EACCES;
	if (!strncmp(ctx->name, "alias.", 6))
		memmove(ctx->name, ctx->name + 6, strlen(ctx->name + 6) + 1);
	return 0;
}

static int example_postfilter(struct request *req, struct fusebpf_ctx *ctx)
{
	struct fuse_attr *attr = NULL;

	count(CALL_POST, req);
	if (!strncmp(ctx->name, "postfail.", 9))
		return -EREMOTEIO;
	if (ctx->error_in)
		return 0;
	switch (ctx->opcode) {
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return strncmp(ctx->name, "userhide.", 9) ? 0 : -ENOENT;
	case FUSE_GETATTR:
	case FUSE_SETATTR:
		attr = &ctx->out.attr.attr;
		break;
	case FUSE_CREATE:
		attr = &ctx->out.create.entry.attr;
		break;
	case FUSE_LOOKUP:
	case FUSE_MKDIR:
	case FUSE_MKNOD:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		if (ctx->out.entry.nodeid)
			attr = &ctx->out.entry.attr;
		break;
	}
	if (attr)
		attr->mtime = EXAMPLE_MTIME;
	return 0;
}

#define ALL_FILTERABLE(fn)                                                                         \
	[FUSE_LOOKUP] = fn, [FUSE_GETATTR] = fn, [FUSE_SETATTR] = fn, [FUSE_READLINK] = fn,        \
	[FUSE_SYMLINK] = fn, [FUSE_MKNOD] = fn, [FUSE_MKDIR] = fn, [FUSE_UNLINK] = fn,             \
	[FUSE_RMDIR] = fn, [FUSE_RENAME] = fn, [FUSE_LINK] = fn, [FUSE_OPEN] = fn,                 \
	[FUSE_READ] = fn, [FUSE_WRITE] = fn, [FUSE_STATFS] = fn, [FUSE_RELEASE] = fn,              \
	[FUSE_FSYNC] = fn, [FUSE_SETXATTR] = fn, [FUSE_GETXATTR] = fn, [FUSE_LISTXATTR] = fn,      \
	[FUSE_REMOVEXATTR] = fn, [FUSE_FLUSH] = fn, [FUSE_OPENDIR] = fn, [FUSE_READDIR] = fn,      \
	[FUSE_RELEASEDIR] = fn, [FUSE_FSYNCDIR] = fn, [FUSE_ACCESS] = fn, [FUSE_CREATE] = fn,      \
	[FUSE_FALLOCATE] = fn, [FUSE_READDIRPLUS] = fn, [FUSE_RENAME2] = fn, [FUSE_LSEEK] = fn,    \
	[FUSE_COPY_FILE_RANGE] = fn, [FUSE_TMPFILE] = fn, [FUSEBPF_OP_STATX] = fn

const struct user_module user_example = {
	.name = "example",
	.init = example_init,
	.stats = example_stats,
	.handler = {
		[FUSE_READ] = example_read,
		[FUSE_GETATTR] = example_getattr,
		[FUSE_LOOKUP] = example_lookup,
		[FUSE_FSYNC] = example_fsync,
	},
	.prefilter = { ALL_FILTERABLE(example_prefilter) },
	.postfilter = { ALL_FILTERABLE(example_postfilter) },
};
