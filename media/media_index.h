/* SPDX-License-Identifier: MIT */
/*
 * The media index: a SQLite database of the regular files of a backing tree
 * (path, size, MIME type, owner uid, modification time), kept current by the
 * daemon after each change it makes through the mount, queried by the CLI.
 *
 * This header and media_index.c use no fsd globals, so both the daemon and
 * the CLI link them (with -lsqlite3).
 *
 * Paths are relative to the backing root, without a leading or trailing '/',
 * "//", "." or ".." ("DCIM/Camera/a.jpg"); anything else is -EINVAL.  A path
 * of PATH_MAX bytes or more, or with a component longer than NAME_MAX, is
 * -ENAMETOOLONG: the index holds no such path (a rescan skips them), so an
 * update about one is an update that could not be made.  Every function
 * returns 0 or -errno.  The backing tree is always reached with
 * openat() one component at a time and O_NOFOLLOW: a symlink anywhere in a
 * path makes it not indexable, and a rescan never follows one.
 *
 * What is indexed: every regular file (any name, any extension) except the
 * ones under a directory that holds an entry named ".nomedia" (of any type),
 * that directory itself or any ancestor up to and including the backing
 * root; ".nomedia" itself never is.  Directories, symlinks and special files
 * are not rows.
 *
 * Rows: size in bytes; mtime in nanoseconds since the epoch (st_mtim: fine
 * enough to tell two writes in the same second apart); owner is the backing
 * file's st_uid; MIME type from the extension (media_mime_type()).
 *
 * Threads: every call may come from any thread.  One SQLite connection per
 * index, serialised by a mutex held for the whole call, including the stat of
 * the backing file: the last call about a path always sees the latest state
 * of the tree and writes last.  Other processes (the CLI) use their own
 * index; WAL lets them read while the daemon writes.
 *
 * Ownership.  SQLite's locks are POSIX locks, which belong to the process
 * that took them: a connection opened before a fork(), used by the child,
 * holds none, and another process's checkpoint can then delete the WAL the
 * child still appends to (its commits are lost).  Open the index in the
 * process that uses it.  The one process that keeps an index current (the
 * daemon) or rebuilds it (`fusebpf media rescan`) opens it with
 * MEDIA_INDEX_OWN: an exclusive OFD lock on the file "DB_PATH.lock" beside
 * it (made 0600, never removed), held until media_index_close() or the
 * process's death, in which the owner writes "pid PID\nbacking PATH\n".  It
 * is taken without waiting: another owner makes the open fail with -EAGAIN,
 * and media_index_owner() says who that is.  Readers, and writers without
 * the flag (tests), take no such lock.
 *
 * Ordering: an update reads the tree as it is when called, so calls about the
 * same entry must come in the order of the operations (the daemon calls from
 * the postfilter, before it replies: the kernel holds the directory locks of
 * the operation until the reply).
 */
#ifndef FSD_MEDIA_INDEX_H
#define FSD_MEDIA_INDEX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * PRAGMA user_version of the schema this code writes.  Changelog:
 *   1: table media(path TEXT PRIMARY KEY, size, mime, owner, mtime_ns)
 *      WITHOUT ROWID; indexes on (owner, path) and (mime, path).
 */
#define MEDIA_INDEX_VERSION 1

struct media_index;

/* Flags of media_index_open(). */
#define MEDIA_INDEX_RDONLY 0x1u /* queries only: no schema creation, updates are -EROFS */
#define MEDIA_INDEX_OWN	   0x2u /* the owner: takes DB_PATH.lock (above); not with RDONLY */

/*
 * Opens (creating it, mode 0600, unless MEDIA_INDEX_RDONLY) the database at
 * db_path for the tree at backing_root.  backing_root may be NULL for a
 * query-only index; updates then fail with -EINVAL.  A database of another
 * schema version is -EPROTO (it holds nothing the tree does not: delete it
 * and rescan).  A new database is empty: call media_index_rescan().  With
 * MEDIA_INDEX_OWN, -EAGAIN if another open file holds DB_PATH.lock, even in
 * this process.
 */
int media_index_open(const char *db_path, const char *backing_root, unsigned flags,
		     struct media_index **out);

/*
 * Who owns the index at db_path: 1 if its lock is held, with the owner's pid
 * and backing root as it wrote them (0 and "" while it has not yet), 0 if
 * nobody holds it, or -errno.  backing may be NULL.
 */
int media_index_owner(const char *db_path, pid_t *pid, char *backing, size_t size);

/* Closes the connection (checkpointing the WAL); NULL is a no-op. */
void media_index_close(struct media_index *idx);

/*
 * rel was created, written, chmod/chowned or otherwise changed: stats it and
 * inserts or replaces its row, or deletes it when rel is gone or not
 * indexable.  rel named ".nomedia" (created: any type) rescans its directory,
 * which drops (or, if it is gone, brings back) the rows of the subtree.  A
 * directory (mkdir) only loses a stale row at that exact path; its contents
 * are left alone.
 */
int media_index_file_changed(struct media_index *idx, const char *rel);

/*
 * rel was unlinked or rmdir'ed: its row and every row below it go.  Removing
 * a ".nomedia" rescans its directory.  If something is at rel again by now,
 * it is indexed as it is.
 */
int media_index_removed(struct media_index *idx, const char *rel);

/*
 * old_rel was renamed to new_rel (a file or a whole directory), in one
 * transaction.  A directory that stays visible moves its rows to the new
 * prefix without touching the tree; a file is restatted (its extension, so
 * its MIME type, may have changed); a move into or out of a .nomedia
 * subtree, or of a ".nomedia", rescans what it affects.  Either path inside
 * the other is -EINVAL.  For RENAME_EXCHANGE call media_index_rescan() on
 * both paths.
 */
int media_index_renamed(struct media_index *idx, const char *old_rel, const char *new_rel);

/*
 * Rebuilds the rows at and below rel ("" or NULL: the whole tree) from the
 * backing tree, in one transaction: a crash leaves the old rows or the new
 * ones.  The walk skips .nomedia subtrees, follows no symlink, does not
 * enter a directory again below itself (a bind mount loop), and holds at
 * most three fds of its own at a time, however deep the tree.
 * Other calls on this index wait until it is done.
 */
int media_index_rescan(struct media_index *idx, const char *rel);

/* One row, valid during the callback only. */
struct media_row {
	const char *path; /* relative to the backing root */
	const char *mime;
	int64_t size;	  /* bytes */
	int64_t mtime_ns; /* st_mtim, ns since the epoch */
	uid_t owner;	  /* st_uid */
};

/* Filters, all optional (a zeroed struct selects every row), and'ed. */
struct media_query {
	/* Paths starting with these bytes; "DCIM/" is the subtree of DCIM. */
	const char *prefix;
	/*
	 * "image/jpeg" exactly; a top-level type, '/' and '*' ("image/" "*")
	 * every type under it; "*" any.
	 */
	const char *mime;
	bool by_owner; /* only rows whose owner is owner */
	uid_t owner;
};

/*
 * Called once per row, in path order (bytewise); a non-zero return stops the
 * query and is its result (use -errno).  The index is locked meanwhile: the
 * callback must not call back into the same index.
 */
typedef int (*media_index_row_fn)(const struct media_row *row, void *arg);

/* The rows q selects (NULL: all) in path order; -EINVAL for a bad MIME pattern. */
int media_index_query(struct media_index *idx, const struct media_query *q, media_index_row_fn fn,
		      void *arg);

/*
 * Writes the rows q selects (NULL: all), one line each in path order:
 * "path\tsize\tmime\towner\tmtime_ns\n", with '\\', tab, newline and other
 * control bytes of the path escaped as \\, \t, \n and \xHH.  Stable: the
 * same rows always give the same text.
 */
int media_index_dump(struct media_index *idx, const struct media_query *q, FILE *out);

/*
 * MIME type of a file name from its extension: the bytes after the last
 * '.', compared without case, if that dot is not the name's first byte
 * (".jpg" has none).  Images jpg jpeg jpe png gif webp heic heif avif bmp
 * tif tiff dng svg; video mp4 m4v mkv webm 3gp 3g2 mov avi ts mpg mpeg wmv;
 * audio mp3 ogg oga opus flac m4a aac wav amr mid midi wma; pdf, txt.
 * Anything else is "application/octet-stream".
 */
const char *media_mime_type(const char *name);

#endif /* FSD_MEDIA_INDEX_H */
