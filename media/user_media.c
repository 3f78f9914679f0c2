// SPDX-License-Identifier: MIT
/*
 * "media": the userspace half of the media storage policy (bpf/media.bpf.c;
 * docs/media.md).  -o policy=media,user=media:DB_PATH
 *
 * Location redaction (OPEN, USER).  The policy sends here every open for
 * writing and every read by a caller that is neither privileged nor granted
 * media location (the request cookie says which).  What the file holds
 * decides, never its name: media_location.c finds the location in it
 * (EXIF GPS, XMP GPS properties), wherever a tolerant reader would.  None:
 * the normal open, still passthrough, and the verdict is cached per inode
 * until a write, truncate or rename.  Some, or a file being written or
 * still empty (it may get some while the open lasts): the module claims
 * the open (user.h), which the daemon then serves without passthrough,
 * with direct I/O, and whose READs come to media_read, which blanks the
 * ranges in what it returns.  A file it cannot vouch for is refused
 * (EBADMSG).  The ranges are computed again when the file's size, mtime or
 * ctime change (it may be written meanwhile, through another open).  The
 * kernel keeps one I/O mode per inode: an inode open in passthrough (by a
 * privileged caller, a writer) cannot take a claimed open, which then
 * fails with EBUSY; unredacted bytes are never served instead.
 * COPY_FILE_RANGE from a claimed open fails with EOPNOTSUPP, and the
 * kernel copies through READs.  An app reads the files it made whole.
 *
 * Renames (RENAME, RENAME2, USER).  The policy checks what the context
 * shows (the old parent); the new parent's cookie it cannot see: a rename
 * into a private parent fails with EXDEV, replacing Android/data or
 * Android/obb with EACCES.  The moved node's cookie is reset (its name, so
 * its type, changed), and the index follows.
 *
 * Ownership (UNLINK, SETATTR, SETXATTR, REMOVEXATTR, USER; and RENAME).  An
 * app may not change another app's files: the policy sends these requests
 * here when the caller is not privileged, and media_owner_check fails them
 * with EACCES when the file (any type but a directory) is another uid's:
 * its backing inode's uid, the fsuid that made it, the index's owner.  Then
 * the backing operation, and the index update its postfilter would make.
 * A rename checks what moves and what it replaces, unless the policy's
 * request cookie says the caller is privileged (MEDIA_R_PRIVILEGED).
 *
 * The media index (postfilters).  CREATE, MKNOD, MKDIR, LINK, UNLINK, RMDIR,
 * SETATTR and the RELEASE of a file opened for writing update it
 * synchronously, before the reply (media_index.h: calls about one entry
 * must come in the order of the operations).  Paths are the backing
 * inodes' own, read from /proc/self/fd of the node's O_PATH fd, relative to
 * the backing root.  At startup the index is rescanned whole.  An index
 * update that fails is logged and counted, never fails the operation,
 * which is done: `fusebpf media rescan` repairs the index.
 *
 * Counters: user.media.* in the daemon's statistics.
 */
#define _GNU_SOURCE
#include "fsd/fsd.h"
#include "media_location.h"
#include "media_index.h"
#include "bpf/media.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Tries before a file that keeps changing under a read is given up (EBUSY). */
#define MEDIA_STABLE_TRIES 4

static struct media_index *media_idx;
/* The backing root as /proc/self/fd shows paths below it; "" for "/". */
static char root_path[PATH_MAX];
static size_t root_len;

enum media_counter {
	MC_OPENS_WHOLE, /* reads the caller may see whole: privileged, granted, its own file */
	MC_OPENS_CACHED, /* the file's verdict was known: no location, the normal open */
	MC_OPENS_CHECKED, /* opens whose file was read for location */
	MC_OPENS_PASSTHROUGH, /* of those, no location: the normal open */
	MC_OPENS_REDACTED, /* claimed: location served blanked */
	MC_OPENS_WATCHED, /* claimed: no location yet, but being written or empty */
	MC_OPENS_BUSY, /* refused: the inode is open in passthrough */
	MC_OPENS_REFUSED, /* refused: the file could not be vouched for */
	MC_READS_REDACTED,
	MC_RANGES_REFRESHED, /* the file changed under a redacted open */
	MC_RENAMES,
	MC_RENAMES_REFUSED,
	MC_OWNER_REFUSED, /* another uid's file: not the caller's to change (EACCES) */
	MC_INDEX_UPDATES,
	MC_INDEX_ERRORS,
	MC_INDEX_NS, /* time in index updates */
	MC_COUNT
};

static const char *const counter_names[MC_COUNT] = {
	[MC_OPENS_WHOLE] = "opens_whole",
	[MC_OPENS_CACHED] = "opens_cached",
	[MC_OPENS_CHECKED] = "opens_checked",
	[MC_OPENS_PASSTHROUGH] = "opens_passthrough",
	[MC_OPENS_REDACTED] = "opens_redacted",
	[MC_OPENS_WATCHED] = "opens_watched",
	[MC_OPENS_BUSY] = "opens_busy",
	[MC_OPENS_REFUSED] = "opens_refused",
	[MC_READS_REDACTED] = "reads_redacted",
	[MC_RANGES_REFRESHED] = "ranges_refreshed",
	[MC_RENAMES] = "renames",
	[MC_RENAMES_REFUSED] = "renames_refused",
	[MC_OWNER_REFUSED] = "owner_refused",
	[MC_INDEX_UPDATES] = "index_updates",
	[MC_INDEX_ERRORS] = "index_errors",
	[MC_INDEX_NS] = "index_ns",
};

static _Atomic uint64_t counters[MC_COUNT];

static void count(enum media_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* ---- ownership ---- */

/*
 * Whether the caller may change a file of this stat: 0, or -EACCES if it
 * is another uid's (privileged callers never reach the module).  A file's
 * owner is its backing inode's uid, the fsuid that made it (create_begin),
 * which the index records as its owner.  Directories are left to their
 * modes and the private-directory rules; every other type is covered.
 */
static int media_owner_check(const struct request *req, const struct stat *st)
{
	if (S_ISDIR(st->st_mode) || st->st_uid == req->hdr->uid)
		return 0;
	count(MC_OWNER_REFUSED, 1);
	return -EACCES;
}

/* ---- paths ---- */

/* The path of an fd's inode relative to the backing root; 0 or -errno. */
static int fd_rel(int fd, char *buf, size_t size)
{
	char link[PROC_FD_PATH_MAX], path[PATH_MAX];
	struct stat st;
	const char *rel;
	ssize_t n;

	proc_fd_path(link, fd);
	n = readlink(link, path, sizeof(path));
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	path[n] = '\0';
	/* Removed: the link reads "PATH (deleted)", a path that is not the file's. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_nlink == 0)
		return -ENOENT;
	if (!strcmp(path, root_len ? root_path : "/"))
		rel = "";
	else if (!strncmp(path, root_path, root_len) && path[root_len] == '/')
		rel = path + root_len + 1;
	else
		return -EXDEV; /* moved out of the backing tree */
	if (strlen(rel) >= size)
		return -ENAMETOOLONG;
	strcpy(buf, rel);
	return 0;
}

static int node_rel(struct node *node, char *buf, size_t size)
{
	int fd = node_fd(node);

	return fd < 0 ? fd : fd_rel(fd, buf, size);
}

/* The path of name in directory node. */
static int child_rel(struct node *dir, const char *name, char *buf, size_t size)
{
	size_t len;
	int err = node_rel(dir, buf, size);

	if (err)
		return err;
	len = strlen(buf);
	if (len + !!len + strlen(name) >= size)
		return -ENAMETOOLONG;
	if (len)
		buf[len++] = '/';
	strcpy(buf + len, name);
	return 0;
}

/* ---- what the module knows of each inode ---- */

/*
 * What the module knows of a backing inode between opens: how many opens
 * for writing it has through the mount (every one comes here: the policy
 * sends writes to the module), and the verdict on its content, its
 * location ranges (none: it holds no location), when it looked as `seen`
 * says.  The verdict lets later opens skip the parse; it is forgotten when
 * an open for writing starts or ends, on a truncate or a rename through the
 * mount, and whenever the file's stat (size, mtime, ctime) no longer
 * matches, which covers a change made in the backing tree behind the
 * daemon's back.
 */
struct inode_state {
	dev_t dev;
	ino_t ino;
	unsigned writers;
	bool known; /* ranges, n_ranges and seen hold a verdict */
	struct byte_range *ranges;
	size_t n_ranges;
	struct stat seen;
	struct inode_state *next;
};

#define INODE_BUCKETS 4096
/* Past this many, the states without writers are dropped (their verdicts are only a cache). */
#define INODE_STATES_MAX 65536
/*
 * A file changed less than this ago may change again with the same
 * timestamps (they move by clock ticks): its verdict is not cached.
 */
#define MEDIA_RACY_NS 1000000000ull

static struct {
	pthread_mutex_t lock; /* guards all of it */
	struct inode_state *bucket[INODE_BUCKETS];
	size_t count;
} inodes = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Where node's state is, or would go, in its chain.  inodes.lock held. */
static struct inode_state **inode_slot(const struct node *node)
{
	struct inode_state **pp = &inodes.bucket[(node->ino ^ (node->dev << 7)) % INODE_BUCKETS];

	while (*pp && ((*pp)->ino != node->ino || (*pp)->dev != node->dev))
		pp = &(*pp)->next;
	return pp;
}

/* Forgets s's verdict, and frees the state at *pp when it holds nothing more.  inodes.lock held. */
static void inode_drop_verdict(struct inode_state **pp)
{
	struct inode_state *s = *pp;

	if (!s)
		return;
	s->known = false;
	free(s->ranges);
	s->ranges = NULL;
	s->n_ranges = 0;
	if (!s->writers) {
		*pp = s->next;
		free(s);
		inodes.count--;
	}
}

/* Node's state, made if need be; NULL without memory.  inodes.lock held. */
static struct inode_state *inode_state(const struct node *node)
{
	struct inode_state **pp = inode_slot(node);

	if (*pp)
		return *pp;
	if (inodes.count >= INODE_STATES_MAX) {
		for (size_t b = 0; b < INODE_BUCKETS; b++)
			for (struct inode_state **q = &inodes.bucket[b]; *q;) {
				struct inode_state *s = *q;

				inode_drop_verdict(q);
				if (*q == s)
					q = &s->next;
			}
		pp = inode_slot(node);
	}
	*pp = calloc(1, sizeof(**pp));
	if (!*pp)
		return NULL;
	(*pp)->dev = node->dev;
	(*pp)->ino = node->ino;
	inodes.count++;
	return *pp;
}

/* An open of node for writing starts (+1) or ends (-1); either way its verdict goes. */
static void inode_writer(const struct node *node, int delta)
{
	struct inode_state *s;

	pthread_mutex_lock(&inodes.lock);
	s = inode_state(node);
	if (s) {
		if (delta > 0 || s->writers)
			s->writers += delta;
		inode_drop_verdict(inode_slot(node));
	}
	pthread_mutex_unlock(&inodes.lock);
}

/* Node changed (truncated, renamed): its verdict goes. */
static void inode_forget(const struct node *node)
{
	struct inode_state **pp;

	pthread_mutex_lock(&inodes.lock);
	pp = inode_slot(node);
	inode_drop_verdict(pp);
	pthread_mutex_unlock(&inodes.lock);
}

static bool stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A malloc()ed copy of n ranges (NULL for none); -ENOMEM. */
static int ranges_copy(const struct byte_range *from, size_t n, struct byte_range **to)
{
	*to = NULL;
	if (!n)
		return 0;
	*to = malloc(n * sizeof(*from));
	if (!*to)
		return -ENOMEM;
	memcpy(*to, from, n * sizeof(*from));
	return 0;
}

/*
 * The verdict on node, which looks as st says: 1 with a copy of its
 * ranges in *ranges (NULL, *n 0: no location), 0 if there is none that
 * holds now, or -ENOMEM; and how many opens for writing it has.
 */
static int inode_verdict(const struct node *node, const struct stat *st, unsigned *writers,
			 struct byte_range **ranges, size_t *n)
{
	struct inode_state *s;
	int ret = 0;

	pthread_mutex_lock(&inodes.lock);
	s = *inode_slot(node);
	*writers = s ? s->writers : 0;
	if (s && s->known && !s->writers && stat_same(&s->seen, st)) {
		ret = ranges_copy(s->ranges, s->n_ranges, ranges);
		*n = s->n_ranges;
		ret = ret ? ret : 1;
	}
	pthread_mutex_unlock(&inodes.lock);
	return ret;
}

/* Node, as st says it looked, has these ranges: remembered unless it may still change unseen. */
static void inode_set_verdict(const struct node *node, const struct stat *st,
			      const struct byte_range *ranges, size_t n)
{
	const struct timespec *m = &st->st_mtim, *c = &st->st_ctim;
	const struct timespec *last = c->tv_sec > m->tv_sec ||
					      (c->tv_sec == m->tv_sec && c->tv_nsec > m->tv_nsec)
					  ? c
					  : m;
	struct byte_range *copy;
	struct inode_state *s;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if ((now.tv_sec - last->tv_sec) * 1000000000ll + (now.tv_nsec - last->tv_nsec) <
	    (long long)MEDIA_RACY_NS)
		return;
	if (ranges_copy(ranges, n, &copy))
		return; /* only a cache */
	pthread_mutex_lock(&inodes.lock);
	s = inode_state(node);
	if (s && !s->writers) {
		free(s->ranges);
		s->known = true;
		s->ranges = copy;
		s->n_ranges = n;
		s->seen = *st;
		copy = NULL;
	}
	pthread_mutex_unlock(&inodes.lock);
	free(copy);
}

/* ---- the index ---- */

enum index_op { INDEX_CHANGED, INDEX_REMOVED, INDEX_RENAMED, INDEX_RESCAN };

/* One update; a failure is logged and counted, never the operation's. */
static void index_update(enum index_op op, const char *rel, const char *rel2)
{
	uint64_t start = now_ns();
	int err;

	switch (op) {
	case INDEX_CHANGED:
		err = media_index_file_changed(media_idx, rel);
		break;
	case INDEX_REMOVED:
		err = media_index_removed(media_idx, rel);
		break;
	case INDEX_RENAMED:
		err = media_index_renamed(media_idx, rel, rel2);
		break;
	default:
		err = media_index_rescan(media_idx, rel);
		break;
	}
	count(MC_INDEX_UPDATES, 1);
	count(MC_INDEX_NS, now_ns() - start);
	if (err) {
		count(MC_INDEX_ERRORS, 1);
		fsd_log("media index: updating '%s'%s%s: %s", rel, rel2 ? " -> " : "",
			rel2 ? rel2 : "", strerror(-err));
	}
}

/*
 * A path the daemon could not name: the index is told nothing.  Removed
 * meanwhile (ENOENT), there is nothing to tell; otherwise (a path longer
 * than PATH_MAX: ENAMETOOLONG) the entry is there and its row is not, an
 * update that failed like any other.
 */
static void path_failed(const char *what, int err)
{
	if (err == -ENOENT)
		return;
	count(MC_INDEX_ERRORS, 1);
	fsd_log("media index: no path for %s: %s", what, strerror(-err));
}

/* CREATE, MKNOD, MKDIR, LINK: the new entry (TMPFILE: its open alone). */
static int media_made(struct request *req, struct fusebpf_ctx *ctx)
{
	char rel[PATH_MAX];
	int err;

	if (ctx->error_in)
		return 0;
	/* A CREATE's or TMPFILE's open for writing, counted until its RELEASE as OPEN's are. */
	if ((ctx->opcode == FUSE_CREATE || ctx->opcode == FUSE_TMPFILE) &&
	    (ctx->in.create.flags & O_ACCMODE) && req->new_node)
		inode_writer(req->new_node, 1);
	if (ctx->opcode == FUSE_TMPFILE)
		return 0; /* no name, no row: linked later, it is a LINK */
	err = child_rel(req->node, ctx->name, rel, sizeof(rel));
	if (err)
		path_failed(ctx->name, err);
	else
		index_update(INDEX_CHANGED, rel, NULL);
	return 0;
}

/* UNLINK, RMDIR (media_unlink too): the entry's row and every row below it. */
static void index_removed(struct node *dir, const char *name)
{
	char rel[PATH_MAX];
	int err = child_rel(dir, name, rel, sizeof(rel));

	if (err)
		path_failed(name, err);
	else
		index_update(INDEX_REMOVED, rel, NULL);
}

static int media_removed(struct request *req, struct fusebpf_ctx *ctx)
{
	if (!ctx->error_in)
		index_removed(req->node, ctx->name);
	return 0;
}

/* SETATTR (size, owner, mtime), RELEASE of an open for writing: the node itself's row. */
static void index_changed(struct node *node)
{
	char rel[PATH_MAX];
	int err = node_rel(node, rel, sizeof(rel));

	if (err)
		path_failed("a changed file", err);
	else if (rel[0]) /* the root is no file */
		index_update(INDEX_CHANGED, rel, NULL);
}

static int media_changed(struct request *req, struct fusebpf_ctx *ctx)
{
	if (ctx->error_in)
		return 0;
	if (ctx->opcode == FUSE_RELEASE) {
		if (!(ctx->in.release.flags & O_ACCMODE))
			return 0;
		inode_writer(req->node, -1);
	} else if (ctx->in.setattr.valid & FATTR_SIZE) {
		inode_forget(req->node);
	}
	index_changed(req->node);
	return 0;
}

/* ---- another uid's files ---- */

/* media_owner_check of the entry name of dir, not following a symlink; 0 if not there (below). */
static int entry_owner_check(const struct request *req, struct node *dir, const char *name)
{
	struct stat st;
	int fd = node_fd(dir);

	if (fd < 0 || fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return media_owner_check(req, &st);
}

/* media_owner_check of the request's node itself. */
static int node_owner_check(const struct request *req)
{
	struct stat st;
	int fd = node_fd(req->node);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	return media_owner_check(req, &st);
}

/*
 * The checks below are on requests of callers that are not privileged (the
 * policy sends the privileged ones' to the backing operation directly).
 * The kernel holds the directories' locks across an UNLINK or RENAME, so
 * the entry checked is the entry changed, as far as the mount goes.  An
 * entry that cannot be stat'ed is not checked: the operation fails on it.
 */

/* UNLINK: of the caller's own files only; then the index, as media_removed. */
static int media_unlink(struct request *req)
{
	int err = entry_owner_check(req, req->node, req->name);

	if (err)
		return err;
	err = request_backing(req);
	if (!err)
		index_removed(req->node, req->name);
	return err;
}

/* SETATTR (not through an open file, media.bpf.c): then the index, as media_changed. */
static int media_setattr(struct request *req)
{
	const struct fuse_setattr_in *in = req->in;
	int err = node_owner_check(req);

	if (err)
		return err;
	err = request_backing(req);
	if (!err && (in->valid & FATTR_SIZE))
		inode_forget(req->node);
	if (!err && (in->valid & (FATTR_SIZE | FATTR_UID | FATTR_MTIME)))
		index_changed(req->node);
	return err;
}

/* SETXATTR, REMOVEXATTR. */
static int media_xattr(struct request *req)
{
	int err = node_owner_check(req);

	return err ? err : request_backing(req);
}

/*
 * RENAME, RENAME2: the source, and the target it replaces or exchanges
 * with (none with RENAME_NOREPLACE), must be the caller's own.  A
 * directory's move takes what is in it along: directories are not checked.
 */
static int rename_owner_check(const struct request *req, struct node *dst, uint32_t flags)
{
	int err = entry_owner_check(req, req->node, req->name);

	if (!err && !(flags & RENAME_NOREPLACE))
		err = entry_owner_check(req, dst, req->name2);
	return err;
}

/* ---- renames ---- */

/*
 * The node now at name in dir has a new name: its cookie goes back to 0
 * (unclassified; the next lookup classifies it by the new name).
 */
static void cookie_forget(struct node *dir, const char *name)
{
	struct node *node;
	struct stat st;

	if (node_lookup(dir, name, &st, &node))
		return;
	node_set_cookie(node, 0);
	inode_forget(node);
	node_unlookup(node, 1);
	node_put(node);
}

static int media_rename(struct request *req)
{
	bool rename2 = req->hdr->opcode == FUSE_RENAME2;
	const struct fuse_rename2_in *in2 = req->in;
	const struct fuse_rename_in *in = req->in;
	uint64_t newdir = rename2 ? in2->newdir : in->newdir;
	uint32_t flags = rename2 ? in2->flags : 0;
	char old_rel[PATH_MAX], new_rel[PATH_MAX];
	struct node *dst = node_get(newdir);
	uint64_t c;
	int err, path_err;

	if (!dst)
		return -ESTALE;
	c = node_cookie(dst);
	if (c & MEDIA_C_PRIVATE) {
		/* The kernel would keep the moved entry cached: mv copies instead. */
		err = -EXDEV;
		goto refused;
	}
	if ((c & MEDIA_C_ANDROID) && (!strcmp(req->name2, "data") || !strcmp(req->name2, "obb"))) {
		err = -EACCES;
		goto refused;
	}
	/* The policy vouches for privileged callers; without its word, check. */
	if (!(req->ctx.cookie & MEDIA_R_PRIVILEGED)) {
		err = rename_owner_check(req, dst, flags);
		if (err)
			goto refused;
	}
	/* Both paths before the rename: it changes neither parent's path. */
	path_err = child_rel(req->node, req->name, old_rel, sizeof(old_rel));
	if (!path_err)
		path_err = child_rel(dst, req->name2, new_rel, sizeof(new_rel));
	err = request_backing(req);
	if (err)
		goto out;
	count(MC_RENAMES, 1);
	cookie_forget(dst, req->name2);
	if (flags & RENAME_EXCHANGE)
		cookie_forget(req->node, req->name);
	if (path_err) {
		path_failed(req->name, path_err);
	} else if (flags & RENAME_EXCHANGE) {
		/* media_index.h: an exchange is two rescans. */
		index_update(INDEX_RESCAN, old_rel, NULL);
		index_update(INDEX_RESCAN, new_rel, NULL);
	} else {
		/* A RENAME_WHITEOUT's whiteout is a device: never a row. */
		index_update(INDEX_RENAMED, old_rel, new_rel);
	}
	goto out;
refused:
	count(MC_RENAMES_REFUSED, 1);
out:
	node_put(dst);
	return err;
}

/* ---- redaction ---- */

/* The state of an open the module serves (claimed). */
struct media_open {
	pthread_mutex_t lock; /* guards the rest; held across a READ */
	struct byte_range *ranges;
	size_t count;
	struct stat seen; /* the file when the ranges were computed */
};

/*
 * The location ranges of fd, and the file's stat they describe: a stat
 * that is the same before and after the parse.  0 or -errno; -EBUSY if the
 * file kept changing.
 */
static int ranges_stable(int fd, struct byte_range **ranges, size_t *count, struct stat *st)
{
	for (int i = 0; i < MEDIA_STABLE_TRIES; i++) {
		struct stat after;
		int err;

		if (fstat(fd, st) < 0)
			return -errno;
		err = media_location_ranges(fd, ranges, count);
		if (err)
			return err;
		if (fstat(fd, &after) < 0) {
			err = -errno;
			free(*ranges);
			return err;
		}
		if (stat_same(st, &after))
			return 0;
		free(*ranges);
	}
	return -EBUSY;
}

static void media_open_free(void *user)
{
	struct media_open *mo = user;

	if (!mo)
		return;
	pthread_mutex_destroy(&mo->lock);
	free(mo->ranges);
	free(mo);
}

/*
 * Serves a read open of a file with these location ranges (taken over),
 * as the file looked when they were found (st).  Location in it: the
 * module claims the open and serves it blanked.  None, but the file is
 * being written or still empty (it may get location while this open
 * lasts): claimed too, and checked again on every read.  Otherwise the
 * normal open, by passthrough.
 */
static int media_open_ranges(struct request *req, struct byte_range *ranges, size_t n,
			     const struct stat *st, unsigned writers)
{
	struct media_open *mo;
	int err;

	if (!n && !writers && st->st_size > 0)
		return request_backing(req);
	mo = calloc(1, sizeof(*mo));
	if (!mo) {
		free(ranges);
		return -ENOMEM;
	}
	pthread_mutex_init(&mo->lock, NULL);
	mo->ranges = ranges;
	mo->count = n;
	mo->seen = *st;
	req->open_user = mo;
	err = request_backing(req);
	if (req->open_user) {
		/* No handle took it. */
		media_open_free(req->open_user);
		req->open_user = NULL;
	}
	if (!err)
		count(n ? MC_OPENS_REDACTED : MC_OPENS_WATCHED, 1);
	else if (err == -EBUSY)
		count(MC_OPENS_BUSY, 1);
	return err;
}

/*
 * A read open by a caller that may not see location, of a file it did not
 * make, whose verdict is not cached: the file is read, and the verdict
 * kept.  A file that cannot be vouched for is refused.
 */
static int media_open_checked(struct request *req, unsigned writers)
{
	struct byte_range *ranges;
	struct stat st;
	size_t n;
	int fd, err;

	count(MC_OPENS_CHECKED, 1);
	fd = node_open(req->node, O_RDONLY);
	if (fd < 0)
		return fd;
	err = ranges_stable(fd, &ranges, &n, &st);
	if (!err && n) {
		int left = media_location_left(fd, ranges, n);

		if (!left) { /* all blank already: nothing to hide */
			free(ranges);
			ranges = NULL;
			n = 0;
		}
		if (left < 0) {
			free(ranges);
			err = left;
		}
	}
	close(fd);
	if (err) {
		/* Fail closed: a file that cannot be vouched for is not served. */
		count(MC_OPENS_REFUSED, 1);
		fsd_log("media: open of inode %llu by uid %u: location ranges: %s; refused",
			(unsigned long long)req->node->ino, req->hdr->uid, strerror(-err));
		return err;
	}
	if (!writers)
		inode_set_verdict(req->node, &st, ranges, n);
	if (!n && !writers && st.st_size > 0)
		count(MC_OPENS_PASSTHROUGH, 1);
	return media_open_ranges(req, ranges, n, &st, writers);
}

/*
 * OPEN.  The policy sends here every open for writing and every read by a
 * caller that may not see location (docs/media.md); the request cookie
 * says what the policy knows of the caller.  A write is for the file's
 * owner or a privileged caller, and counted until its RELEASE.  A read of
 * a file the caller made, or of anything but a regular file, is the normal
 * open; of any other file, it depends on what the file holds.
 */
static int media_open(struct request *req)
{
	const struct fuse_open_in *in = req->in;
	uint64_t caller = req->ctx.cookie;
	struct byte_range *ranges;
	unsigned writers;
	struct stat st;
	size_t n;
	int fd, err;

	/* The policy vouches for privileged callers: their opens need no stat. */
	if (in->flags & (O_ACCMODE | O_TRUNC)) {
		err = (caller & MEDIA_R_PRIVILEGED) ? 0 : node_owner_check(req);
		if (!err)
			err = request_backing(req);
		if (!err && (in->flags & O_ACCMODE))
			inode_writer(req->node, 1);
		return err;
	}
	if ((caller & (MEDIA_R_PRIVILEGED | MEDIA_R_LOCATION)) || !S_ISREG(req->node->type)) {
		count(MC_OPENS_WHOLE, 1);
		return request_backing(req);
	}
	fd = node_fd(req->node);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid == req->hdr->uid) {
		count(MC_OPENS_WHOLE, 1);
		return request_backing(req);
	}
	err = inode_verdict(req->node, &st, &writers, &ranges, &n);
	if (err < 0)
		return err;
	if (!err)
		return media_open_checked(req, writers);
	count(MC_OPENS_CACHED, 1);
	return media_open_ranges(req, ranges, n, &st, 0);
}

/* New ranges for a file that changed.  mo->lock held. */
static int ranges_refresh(struct media_open *mo, int fd)
{
	struct byte_range *ranges;
	struct stat st;
	size_t n;
	int err = ranges_stable(fd, &ranges, &n, &st);

	if (err)
		return err;
	free(mo->ranges);
	mo->ranges = ranges;
	mo->count = n;
	mo->seen = st;
	count(MC_RANGES_REFRESHED, 1);
	return 0;
}

/*
 * READ of a claimed open: the bytes, with the location ranges blanked.  The
 * read is kept only if the file was the same before and after it, as when
 * its ranges were computed.
 */
static int media_read(struct request *req)
{
	const struct fuse_read_in *in = req->in;
	struct handle *h = handle_get(in->fh);
	struct media_open *mo;
	struct stat before, after;
	int err = -EBUSY;

	if (!h)
		return -EBADF;
	mo = h->user;
	if (!mo) {
		handle_put(h);
		return request_backing(req);
	}
	pthread_mutex_lock(&mo->lock);
	for (int i = 0; i < MEDIA_STABLE_TRIES; i++) {
		if (fstat(h->fd, &before) < 0) {
			err = -errno;
			break;
		}
		if (!stat_same(&before, &mo->seen)) {
			err = ranges_refresh(mo, h->fd);
			if (err)
				break;
			err = -EBUSY;
			continue;
		}
		err = request_backing(req);
		if (err)
			break;
		if (fstat(h->fd, &after) < 0) {
			err = -errno;
			break;
		}
		if (stat_same(&after, &mo->seen))
			break;
		err = -EBUSY;
	}
	if (!err) {
		/* The reply data is the worker's buffer, ours to change. */
		media_location_redact((void *)req->out_data, req->out_len, in->offset, mo->ranges,
				      mo->count);
		if (mo->count)
			count(MC_READS_REDACTED, 1);
	} else {
		reply_data(req, NULL, 0);
	}
	pthread_mutex_unlock(&mo->lock);
	handle_put(h);
	return err;
}

/* The kernel copies through READs, which redact, when the server cannot. */
static int media_copy_file_range(struct request *req)
{
	const struct fuse_copy_file_range_in *in = req->in;

	return handle_claimed(in->fh_in) ? -EOPNOTSUPP : request_backing(req);
}

/* ---- the module ---- */

static int media_init(const char *args)
{
	char link[PROC_FD_PATH_MAX];
	struct node *root;
	uint64_t start;
	ssize_t n;
	int err;

	if (!args || !args[0]) {
		fprintf(stderr, "fsd: -o user=media:DB_PATH: the index database's path is missing\n");
		return -EINVAL;
	}
	root = node_get(FSD_ROOT_ID);
	if (!root)
		return -ENOENT;
	err = node_fd(root);
	if (err >= 0) {
		proc_fd_path(link, err);
		n = readlink(link, root_path, sizeof(root_path) - 1);
		err = n < 0 ? -errno : 0;
		if (!err) {
			root_path[n] = '\0';
			if (!strcmp(root_path, "/"))
				root_path[0] = '\0';
			root_len = strlen(root_path);
		}
	}
	node_put(root);
	if (err)
		return err;
	/* Called after the fork (main.c): the locks are this process's. */
	err = media_index_open(args, root_len ? root_path : "/", MEDIA_INDEX_OWN, &media_idx);
	if (err == -EAGAIN) {
		char owner_root[PATH_MAX];
		pid_t pid;

		/* The lock of one that just went may be gone: the message says why anyway. */
		if (media_index_owner(args, &pid, owner_root, sizeof(owner_root)) == 1 && pid > 0)
			fprintf(stderr, "fsd: media index '%s' is owned by process %d (indexing "
				"'%s'): one fsd per index, and none while a rescan runs\n",
				args, (int)pid, owner_root);
		else
			fprintf(stderr, "fsd: media index '%s' is owned by another process "
				"(%s.lock is locked)\n", args, args);
		return err;
	}
	if (err) {
		fprintf(stderr, "fsd: media index '%s': %s\n", args, strerror(-err));
		return err;
	}
	/* What changed while no daemon watched. */
	start = now_ns();
	err = media_index_rescan(media_idx, "");
	if (err) {
		fprintf(stderr, "fsd: media index '%s': rescanning '%s': %s\n", args,
			root_len ? root_path : "/", strerror(-err));
		media_index_close(media_idx);
		media_idx = NULL;
		return err;
	}
	if (fsd_config.debug)
		fsd_log("media index %s: rescanned %s in %.1f ms", args, root_len ? root_path : "/",
			(now_ns() - start) / 1e6);
	return 0;
}

static void media_fini(void)
{
	media_index_close(media_idx);
	media_idx = NULL;
}

/*
 * "media rescan" on the control socket: `fusebpf media rescan` of the index
 * this daemon owns is done here, by its one writer, between the workers'
 * updates (the index's mutex orders them); a rescan beside it would not be.
 */
static int media_control(const char *args, FILE *f)
{
	uint64_t start = now_ns();
	int err;

	if (strcmp(args, "rescan")) {
		fprintf(f, "error unknown media command '%s' (rescan)\n", args);
		return 0;
	}
	err = media_index_rescan(media_idx, "");
	if (err) {
		count(MC_INDEX_ERRORS, 1);
		fsd_log("media index: rescanning for fusebpf: %s", strerror(-err));
		return err;
	}
	fprintf(f, "ok rescanned %s in %.1f ms\n", root_len ? root_path : "/",
		(now_ns() - start) / 1e6);
	return 0;
}

static void media_stats(FILE *f)
{
	for (int i = 0; i < MC_COUNT; i++)
		fprintf(f, "user.media.%s %llu\n", counter_names[i],
			(unsigned long long)atomic_load(&counters[i]));
}

const struct user_module user_media = {
	.name = "media",
	.init = media_init,
	.fini = media_fini,
	.stats = media_stats,
	.control = media_control,
	.handle_free = media_open_free,
	.handler = {
		[FUSE_OPEN] = media_open,
		[FUSE_READ] = media_read,
		[FUSE_COPY_FILE_RANGE] = media_copy_file_range,
		[FUSE_RENAME] = media_rename,
		[FUSE_RENAME2] = media_rename,
		[FUSE_UNLINK] = media_unlink,
		[FUSE_SETATTR] = media_setattr,
		[FUSE_SETXATTR] = media_xattr,
		[FUSE_REMOVEXATTR] = media_xattr,
	},
	.postfilter = {
		[FUSE_CREATE] = media_made,
		[FUSE_TMPFILE] = media_made,
		[FUSE_MKNOD] = media_made,
		[FUSE_MKDIR] = media_made,
		[FUSE_LINK] = media_made,
		[FUSE_UNLINK] = media_removed,
		[FUSE_RMDIR] = media_removed,
		[FUSE_SETATTR] = media_changed,
		[FUSE_RELEASE] = media_changed,
	},
};
