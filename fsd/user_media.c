// SPDX-License-Identifier: MIT
/*
 * "media": the userspace half of the media storage policy (bpf/media.bpf.c;
 * docs/media.md).  -o policy=media,user=media:DB_PATH
 *
 * Location redaction (OPEN, USER).  The policy sends here the opens that
 * may need it: JPEG or unclassified files, opened by a caller that is
 * neither privileged nor granted media location.  A file the policy could
 * not classify (cookie 0: made through the mount, or renamed, since its
 * lookup) is a JPEG if its current name says so; one with several names is
 * decided by its content.  For a JPEG the handler finds the GPS ranges of
 * the file (media_exif.c).  None: the normal open, still
 * passthrough.  Some: it claims the open (user.h), which the daemon then
 * serves without passthrough, with direct I/O, and whose READs come to
 * media_read, which zeroes the ranges in what it returns.  The ranges are
 * computed again when the file's size, mtime or ctime change (it may be
 * written meanwhile, through another open).  The kernel keeps one I/O mode
 * per inode: an inode open in passthrough (by a privileged caller, say)
 * cannot take a claimed open, which then fails with EBUSY; unredacted bytes
 * are never served instead.  COPY_FILE_RANGE from a claimed open fails with
 * EOPNOTSUPP, and the kernel copies through READs.
 *
 * Renames (RENAME, RENAME2, USER).  The policy checks what the context
 * shows (the old parent); the new parent's cookie it cannot see: a rename
 * into a private parent fails with EXDEV, replacing Android/data or
 * Android/obb with EACCES.  The moved node's cookie is reset (its name, so
 * its type, changed), and the index follows.
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
#include "fsd.h"
#include "media_exif.h"
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
	MC_OPENS_CHECKED, /* opens whose file was looked at for GPS */
	MC_OPENS_PASSTHROUGH, /* not a JPEG, or nothing to redact: the normal open */
	MC_OPENS_REDACTED, /* claimed: GPS served as zeros */
	MC_OPENS_BUSY, /* refused: the inode is open in passthrough */
	MC_OPENS_FAILED, /* refused: the file could not be vouched for */
	MC_READS_REDACTED,
	MC_RANGES_REFRESHED, /* the file changed under a redacted open */
	MC_RENAMES,
	MC_RENAMES_REFUSED,
	MC_INDEX_UPDATES,
	MC_INDEX_ERRORS,
	MC_INDEX_NS, /* time in index updates */
	MC_COUNT
};

static const char *const counter_names[MC_COUNT] = {
	[MC_OPENS_CHECKED] = "opens_checked",
	[MC_OPENS_PASSTHROUGH] = "opens_passthrough",
	[MC_OPENS_REDACTED] = "opens_redacted",
	[MC_OPENS_BUSY] = "opens_busy",
	[MC_OPENS_FAILED] = "opens_failed",
	[MC_READS_REDACTED] = "reads_redacted",
	[MC_RANGES_REFRESHED] = "ranges_refreshed",
	[MC_RENAMES] = "renames",
	[MC_RENAMES_REFUSED] = "renames_refused",
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

/* A path the daemon could not name (removed meanwhile, say): the index is told nothing. */
static void path_failed(const char *what, int err)
{
	if (err != -ENOENT)
		fsd_log("media index: no path for %s: %s", what, strerror(-err));
}

/* CREATE, MKNOD, MKDIR, LINK: the new entry. */
static int media_made(struct request *req, struct fusebpf_ctx *ctx)
{
	char rel[PATH_MAX];
	int err;

	if (ctx->error_in)
		return 0;
	/*
	 * A new name for a node the kernel knows (LINK): the name that
	 * classified it no longer decides alone.
	 */
	if (ctx->opcode == FUSE_LINK && req->new_node)
		node_set_cookie(req->new_node, 0);
	err = child_rel(req->node, ctx->name, rel, sizeof(rel));
	if (err)
		path_failed(ctx->name, err);
	else
		index_update(INDEX_CHANGED, rel, NULL);
	return 0;
}

/* UNLINK, RMDIR. */
static int media_removed(struct request *req, struct fusebpf_ctx *ctx)
{
	char rel[PATH_MAX];
	int err;

	if (ctx->error_in)
		return 0;
	err = child_rel(req->node, ctx->name, rel, sizeof(rel));
	if (err)
		path_failed(ctx->name, err);
	else
		index_update(INDEX_REMOVED, rel, NULL);
	return 0;
}

/* SETATTR (size, owner, mtime), RELEASE of an open for writing: the node itself. */
static int media_changed(struct request *req, struct fusebpf_ctx *ctx)
{
	char rel[PATH_MAX];
	int err;

	if (ctx->error_in)
		return 0;
	if (ctx->opcode == FUSE_RELEASE && !(ctx->in.release.flags & O_ACCMODE))
		return 0;
	err = node_rel(req->node, rel, sizeof(rel));
	if (err)
		path_failed("a changed file", err);
	else if (rel[0]) /* the root is no file */
		index_update(INDEX_CHANGED, rel, NULL);
	return 0;
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

struct media_open {
	pthread_mutex_t lock; /* guards the rest; held across a READ */
	struct byte_range *ranges;
	size_t count;
	struct stat seen; /* the file when the ranges were computed */
};

static bool stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * The GPS ranges of fd, and the file's stat they describe: a stat that is
 * the same before and after the parse.  0 or -errno; -EBUSY if the file
 * kept changing.
 */
static int ranges_stable(int fd, struct byte_range **ranges, size_t *count, struct stat *st)
{
	for (int i = 0; i < MEDIA_STABLE_TRIES; i++) {
		struct stat after;
		int err;

		if (fstat(fd, st) < 0)
			return -errno;
		err = media_exif_gps_ranges(fd, ranges, count);
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

/* Whether a file name ends in ".jpg" or ".jpeg", in any case: as the policy says (media.bpf.c). */
static bool name_is_jpeg(const char *name)
{
	size_t len = strlen(name);

	return (len >= 4 && !strcasecmp(name + len - 4, ".jpg")) ||
	       (len >= 5 && !strcasecmp(name + len - 5, ".jpeg"));
}

/*
 * Whether the file the policy could not classify (cookie 0: made by CREATE,
 * or renamed, since its last lookup) is a JPEG by its current name.  A
 * file with several names (cookie SEEN without KNOWN) is, whatever its
 * names: its content decides.  When in doubt, yes.
 */
static bool open_maybe_jpeg(struct request *req)
{
	int fd = node_fd(req->node);
	char rel[PATH_MAX];
	const char *slash;
	struct stat st;

	if (node_cookie(req->node) & MEDIA_C_SEEN)
		return true;
	/* Which of several names the path would show is anyone's guess. */
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_nlink != 1)
		return true;
	if (fd_rel(fd, rel, sizeof(rel)))
		return true;
	slash = strrchr(rel, '/');
	return name_is_jpeg(slash ? slash + 1 : rel);
}

static int media_open(struct request *req)
{
	struct byte_range *ranges;
	struct media_open *mo;
	struct stat st;
	size_t n;
	int fd, err;

	if (!open_maybe_jpeg(req)) {
		count(MC_OPENS_PASSTHROUGH, 1);
		return request_backing(req);
	}
	count(MC_OPENS_CHECKED, 1);
	fd = node_open(req->node, O_RDONLY);
	if (fd < 0)
		return fd;
	err = ranges_stable(fd, &ranges, &n, &st);
	close(fd);
	if (err) {
		/* Fail closed: a file that cannot be vouched for is not served. */
		count(MC_OPENS_FAILED, 1);
		fsd_log("media: open of inode %llu by uid %u: GPS ranges: %s; refused",
			(unsigned long long)req->node->ino, req->hdr->uid, strerror(-err));
		return err;
	}
	if (!n) {
		count(MC_OPENS_PASSTHROUGH, 1);
		return request_backing(req);
	}
	mo = calloc(1, sizeof(*mo));
	if (!mo) {
		free(ranges);
		return -ENOMEM;
	}
	pthread_mutex_init(&mo->lock, NULL);
	mo->ranges = ranges;
	mo->count = n;
	mo->seen = st;
	req->open_user = mo;
	err = request_backing(req);
	if (req->open_user) {
		/* No handle took it. */
		media_open_free(req->open_user);
		req->open_user = NULL;
	}
	if (!err)
		count(MC_OPENS_REDACTED, 1);
	else if (err == -EBUSY)
		count(MC_OPENS_BUSY, 1);
	return err;
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
 * READ of a claimed open: the bytes, with the GPS ranges zeroed.  The read
 * is kept only if the file was the same before and after it, as when its
 * ranges were computed.
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
		media_exif_redact((void *)req->out_data, req->out_len, in->offset, mo->ranges,
				  mo->count);
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
	err = media_index_open(args, root_len ? root_path : "/", 0, &media_idx);
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
	.handle_free = media_open_free,
	.handler = {
		[FUSE_OPEN] = media_open,
		[FUSE_READ] = media_read,
		[FUSE_COPY_FILE_RANGE] = media_copy_file_range,
		[FUSE_RENAME] = media_rename,
		[FUSE_RENAME2] = media_rename,
	},
	.postfilter = {
		[FUSE_CREATE] = media_made,
		[FUSE_MKNOD] = media_made,
		[FUSE_MKDIR] = media_made,
		[FUSE_LINK] = media_made,
		[FUSE_UNLINK] = media_removed,
		[FUSE_RMDIR] = media_removed,
		[FUSE_SETATTR] = media_changed,
		[FUSE_RELEASE] = media_changed,
	},
};
