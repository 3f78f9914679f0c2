// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * media: Android-style shared media storage.  The mount's root is the
 * storage root ("/sdcard"); a caller is an app by its uid (map `apps`),
 * privileged (map `privileged`: sees everything) or neither ("other").
 * docs/media.md tells the whole story; in short:
 *
 * Private directories.  Android/data/ and Android/obb/ are *private
 * parents*: in them a caller that is not privileged sees, and may create,
 * only the entry named after its own package.  LOOKUP of another name fails
 * with ENOENT, READDIR and READDIRPLUS leave the other names out, CREATE,
 * MKDIR, MKNOD, SYMLINK and LINK of another name fail with EACCES (whether
 * the name exists or not: the error tells nothing), UNLINK, RMDIR and
 * RENAME of another name fail with ENOENT.  The policy knows a private
 * parent by its node cookie: the LOOKUP postfilter (and the READDIRPLUS
 * postfilter, for the entries it lists) classifies each child by its name
 * and its parent's cookie (bpf/media.h), so no filter needs a path.
 *
 * The kernel caches entries, missing entries and listings for every caller
 * alike, so every request in a private parent sets FUSEBPF_REPLY_NO_CACHE:
 * each path walk through Android/data/<pkg> asks the policy again, as the
 * caller.  The rest of the tree keeps the kernel's caches, which is why the
 * policy is not FUSEBPF_POLICY_PER_CALLER.  Below an app's own directory
 * nothing is checked: it is reached only through that directory's entry,
 * whose lookup is checked on every walk (docs/media.md: fds and working
 * directories passed between processes are the limits).
 *
 * The structure stays put.  Android/, Android/data and Android/obb cannot be
 * renamed or replaced by a rename (EACCES), nor removed by callers that are
 * not privileged; a rename into a private parent fails with EXDEV for every
 * caller (`mv` then copies, through the checks above), because the kernel
 * would keep the moved entry cached under its old timeout.  Making one of
 * these directories (MKDIR) replies uncached, so that the next walk looks
 * it up and the postfilter gives it its cookie.  RENAME goes to the
 * userspace module, which knows the new parent's cookie, that the context
 * does not carry.
 *
 * Location redaction.  What a file holds decides, never its name: a name
 * is changed by any app that can write the directory.  Read opens by a
 * caller that is privileged or holds the media location grant (map
 * `location`) take the passthrough fast path (CONTINUE); every other open
 * goes to the userspace module (USER), which reads the file (its verdict
 * cached per inode) and serves the location in it blanked, refuses a file
 * it cannot vouch for, and opens every other file normally, by
 * passthrough.  The prefilter tells the module what it knows of the caller
 * in the request cookie (MEDIA_R_PRIVILEGED, MEDIA_R_LOCATION).  Every open
 * replies uncached, so that an open the daemon serves never shares the
 * page cache (passthrough opens have none of their own).
 *
 * Ownership.  An app may not change another app's files: UNLINK, SETATTR
 * (but a truncate through an open file), SETXATTR and REMOVEXATTR of a
 * caller that is not privileged go to the module (USER), which checks the
 * file's owner (its backing uid, the index's `owner`) and fails another
 * uid's with EACCES, else does the operation and the index update.  RENAME
 * goes there anyway; the prefilter leaves MEDIA_R_PRIVILEGED in the request
 * cookie for a privileged caller, whose renames the module does not check.
 * Privileged callers keep the verdicts below: never checked.
 *
 * Media index.  CREATE, MKNOD, MKDIR, LINK, UNLINK, RMDIR, SETATTR of size,
 * owner or mtime, and RELEASE of a file opened for writing go to the
 * module's postfilters (USER_POSTFILTER), which update the index (or, for
 * the requests Ownership sends to the module, its handlers do).
 *
 * Syscall flavour: hash maps only.  A name is compared after copying it to
 * the stack (fusebpf_name_copy); one copy at a time fits in the 512-byte
 * stack.
 */
#include <fusebpf/policy.bpf.h>

#include "media.h"

FUSEBPF_POLICY(MEDIA_POLICY_NAME);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MEDIA_APPS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* 256-byte values: allocated as apps come */
	__type(key, __u32);
	__type(value, struct media_package);
} apps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MEDIA_UIDS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} privileged SEC(".maps"), location SEC(".maps");

#define S_IFMT_		 0170000
#define S_IFDIR_	 0040000
#define S_IFREG_	 0100000
#define O_ACCMODE_	 3 /* O_RDONLY 0, O_WRONLY 1, O_RDWR 2 on every architecture */
#define O_TRUNC_	 01000 /* the generic value; fsd translates other architectures' flags */
#define RENAME_EXCHANGE_ (1 << 1)

/*
 * Short names compare as one word: a context name is NUL-padded to its 256
 * bytes, so a name of at most 7 bytes is all in its first 8, and equal to a
 * literal when that word is.  (A byte loop over ctx would need a variable
 * offset into it, which the verifier refuses in the syscall flavour.)
 */
#define NAME_WORD(ctx, field) ctx_word(ctx, __builtin_offsetof(struct fusebpf_ctx, field))
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BYTE_AT_(s, i)                                                                             \
	((__u64)(__u8)((i) < sizeof(s) - 1 ? (s)[(i) < sizeof(s) - 1 ? (i) : 0] : 0) << (8 * (i)))
#else
#define BYTE_AT_(s, i)                                                                             \
	((__u64)(__u8)((i) < sizeof(s) - 1 ? (s)[(i) < sizeof(s) - 1 ? (i) : 0] : 0)               \
	 << (56 - 8 * (i)))
#endif
#define WORD_OF(s)                                                                                 \
	(BYTE_AT_(s, 0) | BYTE_AT_(s, 1) | BYTE_AT_(s, 2) | BYTE_AT_(s, 3) | BYTE_AT_(s, 4) |      \
	 BYTE_AT_(s, 5) | BYTE_AT_(s, 6) | BYTE_AT_(s, 7))
#define NAME_IS(ctx, field, s) (NAME_WORD(ctx, field) == WORD_OF(s))
_Static_assert(sizeof("Android") <= 8, "Android is one word");

/*
 * 8 bytes of the context at a constant offset, loaded as ctx + off: left
 * to itself the compiler keeps ctx + 480 in a register and loads at +0,
 * which the verifier refuses ("dereference of modified ctx ptr").
 */
static __always_inline __u64 ctx_word(struct fusebpf_ctx *ctx, const int off)
{
	__u64 v;

	asm volatile("%0 = *(u64 *)(%1 + %2)" : "=r"(v) : "r"(ctx), "i"(off));
	return v;
}

static __always_inline int is_privileged(__u32 uid)
{
	return bpf_map_lookup_elem(&privileged, &uid) != NULL;
}

static __always_inline int is_granted(__u32 uid)
{
	return bpf_map_lookup_elem(&location, &uid) != NULL;
}

/*
 * Whether the caller may see the entry named ctx->name of a private parent:
 * it is privileged, or the name is its package's.
 */
static __always_inline int name_visible(struct fusebpf_ctx *ctx)
{
	char name[FUSEBPF_NAME_LEN] __attribute__((aligned(8)));
	struct media_package *pkg;
	__u32 uid = ctx->uid;

	if (is_privileged(uid))
		return 1;
	pkg = bpf_map_lookup_elem(&apps, &uid);
	if (!pkg || fusebpf_name_copy(name, ctx->name))
		return 0;
	for (int i = 0; i < FUSEBPF_NAME_LEN; i++) {
		if (name[i] != pkg->name[i])
			return 0;
		if (!name[i])
			return 1;
	}
	return 0;
}

static __always_inline int is_dot_or_dotdot(struct fusebpf_ctx *ctx)
{
	return NAME_IS(ctx, name, ".") || NAME_IS(ctx, name, "..");
}

/*
 * Whether ctx->name in this directory is one of the structure's own:
 * Android under the root, data or obb under Android.
 */
static __always_inline int name_structural(struct fusebpf_ctx *ctx)
{
	if (ctx->nodeid == MEDIA_ROOT_NODEID)
		return NAME_IS(ctx, name, "Android");
	if (ctx->node_cookie & MEDIA_C_ANDROID)
		return NAME_IS(ctx, name, "data") || NAME_IS(ctx, name, "obb");
	return 0;
}

/*
 * The cookie of the child ctx->name of this mode in this directory: what
 * the structure makes of a directory.  Files are only SEEN: what they hold,
 * not what they are called, decides their redaction (the module reads them).
 */
static __always_inline __u64 classify(struct fusebpf_ctx *ctx, __u32 mode)
{
	if ((mode & S_IFMT_) != S_IFDIR_)
		return MEDIA_C_SEEN;
	if (name_structural(ctx))
		return MEDIA_C_SEEN |
		       (ctx->nodeid == MEDIA_ROOT_NODEID ? MEDIA_C_ANDROID : MEDIA_C_PRIVATE);
	return MEDIA_C_SEEN | (ctx->node_cookie & MEDIA_C_PRIVATE ? MEDIA_C_APPDIR : 0);
}

/* ---- names ---- */

FUSEBPF_PREFILTER(lookup)
{
	if (ctx->node_cookie & MEDIA_C_PRIVATE) {
		ctx->reply_flags |= FUSEBPF_REPLY_NO_CACHE;
		if (!name_visible(ctx))
			return -ENOENT;
	}
	return FUSEBPF_POSTFILTER;
}

FUSEBPF_POSTFILTER(lookup)
{
	if (!ctx->error_in && ctx->out.entry.nodeid)
		ctx->child_cookie = classify(ctx, ctx->out.entry.attr.mode);
	return 0;
}

FUSEBPF_PREFILTER(opendir)
{
	/* No FOPEN_CACHE_DIR: the listing depends on who reads it. */
	if (ctx->node_cookie & MEDIA_C_PRIVATE)
		ctx->reply_flags |= FUSEBPF_REPLY_NO_CACHE;
	return FUSEBPF_CONTINUE;
}

FUSEBPF_PREFILTER(readdir)
{
	if (!(ctx->node_cookie & MEDIA_C_PRIVATE))
		return FUSEBPF_CONTINUE;
	ctx->reply_flags |= FUSEBPF_REPLY_NO_CACHE;
	return FUSEBPF_POSTFILTER;
}

FUSEBPF_POSTFILTER(readdir)
{
	return is_dot_or_dotdot(ctx) || name_visible(ctx) ? 0 : -ENOENT;
}

/*
 * READDIRPLUS hands the kernel entries it may never look up: the root's and
 * Android's are classified here as LOOKUP would, those of private parents
 * filtered too.  Elsewhere entries keep cookie 0 (decided by content on
 * open), which costs less than a filter call per entry of every listing.
 */
FUSEBPF_PREFILTER(readdirplus)
{
	__u64 c = ctx->node_cookie;

	if (c & MEDIA_C_PRIVATE) {
		ctx->reply_flags |= FUSEBPF_REPLY_NO_CACHE;
		return FUSEBPF_POSTFILTER;
	}
	if (ctx->nodeid == MEDIA_ROOT_NODEID || (c & MEDIA_C_ANDROID))
		return FUSEBPF_POSTFILTER;
	return FUSEBPF_CONTINUE;
}

FUSEBPF_POSTFILTER(readdirplus)
{
	if (is_dot_or_dotdot(ctx))
		return 0;
	if ((ctx->node_cookie & MEDIA_C_PRIVATE) && !name_visible(ctx))
		return -ENOENT;
	if (ctx->out.dirent.entry.nodeid)
		ctx->child_cookie = classify(ctx, ctx->out.dirent.entry.attr.mode);
	return 0;
}

/*
 * Making an entry: in a private parent only the caller's package's name.
 * The new node's cookie is 0 (the daemon makes it without a LOOKUP): a
 * structural directory gets its cookie from the next walk, which the
 * uncached reply forces.  0 or -errno.
 */
static __always_inline int create_check(struct fusebpf_ctx *ctx)
{
	if (ctx->node_cookie & MEDIA_C_PRIVATE) {
		ctx->reply_flags |= FUSEBPF_REPLY_NO_CACHE;
		if (!name_visible(ctx))
			return -EACCES;
	}
	if (name_structural(ctx))
		ctx->reply_flags |= FUSEBPF_REPLY_NO_CACHE;
	return 0;
}

/* Made entries go to the index (the module's postfilter), but for symlinks. */
#define MEDIA_CREATE(op, verdict)                                                                  \
	FUSEBPF_PREFILTER(op)                                                                      \
	{                                                                                          \
		int err = create_check(ctx);                                                       \
                                                                                                   \
		return err ? err : (verdict);                                                      \
	}

MEDIA_CREATE(create, FUSEBPF_USER_POSTFILTER)
MEDIA_CREATE(mknod, FUSEBPF_USER_POSTFILTER)
MEDIA_CREATE(mkdir, FUSEBPF_USER_POSTFILTER)
MEDIA_CREATE(link, FUSEBPF_USER_POSTFILTER)
MEDIA_CREATE(symlink, FUSEBPF_CONTINUE)

/* Removing an entry: hidden names are missing; the structure stays. */
static __always_inline int remove_check(struct fusebpf_ctx *ctx)
{
	if (ctx->node_cookie & MEDIA_C_PRIVATE) {
		ctx->reply_flags |= FUSEBPF_REPLY_NO_CACHE;
		if (!name_visible(ctx))
			return -ENOENT;
	}
	if (name_structural(ctx) && !is_privileged(ctx->uid))
		return -EACCES;
	return FUSEBPF_USER_POSTFILTER;
}

FUSEBPF_PREFILTER(unlink)
{
	int verdict = remove_check(ctx);

	/* Not privileged: the module unlinks only the caller's own files (Ownership). */
	if (verdict == FUSEBPF_USER_POSTFILTER && !is_privileged(ctx->uid))
		return FUSEBPF_USER;
	return verdict;
}

FUSEBPF_PREFILTER(rmdir)
{
	return remove_check(ctx);
}

/*
 * What the context shows of a rename: the old parent's cookie, not the new
 * one's.  The module (USER) checks the new parent, renames and updates the
 * index.
 */
static __always_inline int rename_check(struct fusebpf_ctx *ctx, __u64 newdir, __u32 flags)
{
	if (name_structural(ctx))
		return -EACCES;
	if (newdir == MEDIA_ROOT_NODEID && NAME_IS(ctx, name2, "Android"))
		return -EACCES;
	if (ctx->node_cookie & MEDIA_C_PRIVATE) {
		if (!name_visible(ctx))
			return -ENOENT;
		/* Into a private parent (an exchange moves name2 into this one). */
		if (newdir == ctx->nodeid || (flags & RENAME_EXCHANGE_))
			return -EXDEV;
	}
	/* The module checks whose files move, unless told the caller is privileged. */
	if (is_privileged(ctx->uid))
		ctx->cookie |= MEDIA_R_PRIVILEGED;
	return FUSEBPF_USER;
}

FUSEBPF_PREFILTER(rename)
{
	return rename_check(ctx, ctx->in.rename.newdir, 0);
}

FUSEBPF_PREFILTER(rename2)
{
	return rename_check(ctx, ctx->in.rename2.newdir, ctx->in.rename2.flags);
}

/* ---- files ---- */

FUSEBPF_PREFILTER(open)
{
	/* Any file may be a photo: an open the daemon serves never shares the page cache. */
	ctx->reply_flags |= FUSEBPF_REPLY_NO_CACHE;
	if (is_privileged(ctx->uid))
		ctx->cookie |= MEDIA_R_PRIVILEGED;
	else if (is_granted(ctx->uid))
		ctx->cookie |= MEDIA_R_LOCATION;
	/* Reading what the caller may see whole: the fast path. */
	if (ctx->cookie && !(ctx->in.open.flags & (O_ACCMODE_ | O_TRUNC_)))
		return FUSEBPF_CONTINUE;
	/* Redaction, or a write the module checks and counts (Location redaction, Ownership). */
	return FUSEBPF_USER;
}

/* An unnamed file opened for writing: the module counts the open, as CREATE's, until its RELEASE. */
FUSEBPF_PREFILTER(tmpfile)
{
	return FUSEBPF_USER_POSTFILTER;
}

/* The close of a file opened for writing: the index reads its new size and mtime. */
FUSEBPF_PREFILTER(release)
{
	return (ctx->in.release.flags & O_ACCMODE_) ? FUSEBPF_USER_POSTFILTER : FUSEBPF_CONTINUE;
}

/*
 * A caller that is not privileged changes only its own files (Ownership):
 * the module checks the owner, changes and updates the index.  Not checked:
 * a truncate through an open file (FATTR_FH: the kernel names a handle for
 * ftruncate and open(O_TRUNC), whose file is open for writing anyway), and
 * the kernel clearing setuid bits (FATTR_KILL_SUIDGID alone).
 */
FUSEBPF_PREFILTER(setattr)
{
	__u32 valid = ctx->in.setattr.valid;
	__u32 indexed = FATTR_SIZE | FATTR_UID | FATTR_MTIME;
	__u32 unchecked = FATTR_FH | FATTR_LOCKOWNER | FATTR_KILL_SUIDGID;

	if ((valid & ~unchecked) && !(valid & FATTR_FH) && !is_privileged(ctx->uid))
		return FUSEBPF_USER;
	return (valid & indexed) ? FUSEBPF_USER_POSTFILTER : FUSEBPF_CONTINUE;
}

/* Another uid's file's xattrs are not the caller's to change (Ownership): the module checks. */
FUSEBPF_PREFILTER(setxattr)
{
	return is_privileged(ctx->uid) ? FUSEBPF_CONTINUE : FUSEBPF_USER;
}

FUSEBPF_PREFILTER(removexattr)
{
	return is_privileged(ctx->uid) ? FUSEBPF_CONTINUE : FUSEBPF_USER;
}
