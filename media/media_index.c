// SPDX-License-Identifier: MIT
/*
 * The media index (media_index.h): its SQLite database, the walks of the
 * backing tree that feed it, and the MIME table.
 *
 * Durability.  WAL, synchronous=NORMAL, every update one transaction.  A
 * commit appends to the WAL without fsync; the WAL is synced at checkpoints.
 * A process killed at any point (kill -9, a crash) loses nothing it
 * committed (the WAL is in the page cache) and leaves no half transaction
 * visible: frames without a commit record are ignored when the next
 * connection recovers the WAL.  A power loss may undo the last transactions
 * since a checkpoint, never corrupt the file (WAL frames are checksummed);
 * that is acceptable for an index that only repeats what the tree holds and
 * that a rescan restores.  FULL would put an fsync in every update, that is
 * in the daemon's request path.
 *
 * Threads.  One connection and a mutex, rather than a connection per worker:
 * SQLite admits one writer at a time anyway, and writers on separate
 * connections wait for each other by sleeping in the busy handler (1, 2, 5,
 * 10 ms steps) where a mutex hands over in microseconds.  The mutex also
 * covers the stat of the tree, so two threads reporting the same file write
 * their rows in the order they looked at it, and statements are prepared
 * once.  Other processes have their own connection: WAL lets them read while
 * this one writes, and the busy timeout covers a writer in another process
 * holding the write lock (a writer that does not own the index: tests; the
 * CLI's rescan goes through the daemon that owns it, media_index.h).
 *
 * Paths are TEXT compared bytewise (BINARY collation: memcmp), so the rows
 * below directory "d" are exactly those in ["d/", "d0") ('0' follows '/'):
 * range comparisons, no LIKE, nothing in a name is a wildcard.  Names that
 * are not UTF-8 are stored as their bytes.
 */
#define _GNU_SOURCE
#include "media_index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
/* Truncate the WAL back to this after a checkpoint (a rescan can grow it). */
#define WAL_SIZE_LIMIT	4194304 /* 4 MiB; spelled out for the SQL */
#define NOMEDIA		".nomedia"

#define STR_(x) #x
#define STR(x)	STR_(x)

struct media_index {
	pthread_mutex_t lock; /* guards everything below and the connection */
	sqlite3 *db;
	int root_fd; /* O_PATH on the backing root; -1: query-only */
	int lock_fd; /* DB_PATH.lock, locked (MEDIA_INDEX_OWN); else -1 */
	bool rdonly;
	/* Prepared once, NULL for a read-only index. */
	sqlite3_stmt *begin, *commit, *rollback;
	sqlite3_stmt *upsert, *del_one, *del_range, *del_all, *move;
};

/* ---- MIME types ---- */

/*
 * By extension, compared without case.  Where IANA and Android differ, the
 * type Android's MediaStore reports (audio/x-wav, video/x-matroska).
 */
static const struct {
	const char *ext, *type;
} mime_table[] = {
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "jpe", "image/jpeg" },
	{ "png", "image/png" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "heic", "image/heic" },
	{ "heif", "image/heif" },
	{ "avif", "image/avif" },
	{ "bmp", "image/bmp" },
	{ "tif", "image/tiff" },
	{ "tiff", "image/tiff" },
	{ "dng", "image/x-adobe-dng" },
	{ "svg", "image/svg+xml" },
	{ "mp4", "video/mp4" },
	{ "m4v", "video/x-m4v" },
	{ "mkv", "video/x-matroska" },
	{ "webm", "video/webm" },
	{ "3gp", "video/3gpp" },
	{ "3g2", "video/3gpp2" },
	{ "mov", "video/quicktime" },
	{ "avi", "video/x-msvideo" },
	{ "ts", "video/mp2t" },
	{ "mpg", "video/mpeg" },
	{ "mpeg", "video/mpeg" },
	{ "wmv", "video/x-ms-wmv" },
	{ "mp3", "audio/mpeg" },
	{ "ogg", "audio/ogg" },
	{ "oga", "audio/ogg" },
	{ "opus", "audio/ogg" }, /* Ogg Opus files, RFC 7845 */
	{ "flac", "audio/flac" },
	{ "m4a", "audio/mp4" },
	{ "aac", "audio/aac" },
	{ "wav", "audio/x-wav" },
	{ "amr", "audio/amr" },
	{ "mid", "audio/midi" },
	{ "midi", "audio/midi" },
	{ "wma", "audio/x-ms-wma" },
	{ "pdf", "application/pdf" },
	{ "txt", "text/plain" },
};

#define MIME_DEFAULT "application/octet-stream"

const char *media_mime_type(const char *name)
{
	const char *base = strrchr(name, '/');
	const char *dot;
	size_t i;

	base = base ? base + 1 : name;
	dot = strrchr(base, '.');
	if (!dot || dot == base)
		return MIME_DEFAULT;
	for (i = 0; i < sizeof(mime_table) / sizeof(mime_table[0]); i++)
		if (!strcasecmp(dot + 1, mime_table[i].ext))
			return mime_table[i].type;
	return MIME_DEFAULT;
}

/* ---- SQLite plumbing ---- */

static int sql_errno(sqlite3 *db, int rc)
{
	int sys;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EUCLEAN;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		sys = db ? sqlite3_system_errno(db) : 0;
		return sys > 0 ? -sys : -EIO;
	default:
		return -EIO;
	}
}

/* Steps a statement that returns no rows, then makes it ready for reuse. */
static int stmt_run(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : sql_errno(db, rc);
}

/*
 * Binds text that stays valid until stmt_run() (which clears the bindings),
 * so SQLite need not copy it.  Chains: does nothing after a failure.
 */
static int bind_text(sqlite3_stmt *st, int rc, int i, const char *s, size_t len)
{
	if (rc != SQLITE_OK)
		return rc;
	return sqlite3_bind_text(st, i, s, (int)len, SQLITE_STATIC);
}

static int bind_int(sqlite3_stmt *st, int rc, int i, int64_t v)
{
	if (rc != SQLITE_OK)
		return rc;
	return sqlite3_bind_int64(st, i, v);
}

/* For a statement whose bindings failed: the error, statement ready for reuse. */
static int bind_failed(sqlite3 *db, sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return sql_errno(db, rc);
}

/* Runs SQL without results (several statements allowed). */
static int db_exec(sqlite3 *db, const char *sql)
{
	return sql_errno(db, sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* Runs SQL returning one text value (a PRAGMA) into buf. */
static int db_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st;
	const unsigned char *v;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return sql_errno(db, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v = sqlite3_column_text(st, 0);
		snprintf(buf, len, "%s", v ? (const char *)v : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_IOERR; /* a PRAGMA that returns nothing: not what we asked */
	}
	sqlite3_finalize(st);
	return sql_errno(db, rc);
}

static int tx_begin(struct media_index *idx)
{
	/*
	 * IMMEDIATE takes the write lock now, waiting up to the busy timeout;
	 * a deferred transaction that later upgrades would fail BUSY at once.
	 */
	return stmt_run(idx->db, idx->begin);
}

/* Commits if err is 0, else rolls back; returns the first error. */
static int tx_end(struct media_index *idx, int err)
{
	if (!err) {
		err = stmt_run(idx->db, idx->commit);
		if (!err)
			return 0;
	}
	/* Some errors (SQLITE_FULL, IOERR, NOMEM) have rolled back already. */
	if (!sqlite3_get_autocommit(idx->db))
		stmt_run(idx->db, idx->rollback);
	return err;
}

/* ---- ownership (media_index.h) ---- */

static int lock_path(const char *db_path, char *buf, size_t size)
{
	return snprintf(buf, size, "%s.lock", db_path) < (int)size ? 0 : -ENAMETOOLONG;
}

/*
 * An OFD lock, not flock() or a POSIX lock: it belongs to the open file, so
 * closing another fd of the same file in this process (SQLite does, for its
 * own files) does not drop it, and a second open in this process conflicts.
 */
static struct flock lock_whole(short type)
{
	return (struct flock){ .l_type = type, .l_whence = SEEK_SET };
}

/* Takes DB_PATH.lock for idx and writes who holds it; -EAGAIN if another does. */
static int owner_lock(struct media_index *idx, const char *db_path, const char *backing_root)
{
	struct flock fl = lock_whole(F_WRLCK);
	char path[PATH_MAX], root[PATH_MAX], text[PATH_MAX + 64];
	int fd, len, err;

	err = lock_path(db_path, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		err = errno == EACCES ? -EAGAIN : -errno;
		close(fd);
		return err;
	}
	/* For the messages of whoever finds it held; the lock is what counts. */
	if (!backing_root || !realpath(backing_root, root))
		root[0] = '\0';
	len = snprintf(text, sizeof(text), "pid %d\nbacking %s\n", (int)getpid(), root);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, len, 0) != len) {
		err = -errno;
		close(fd);
		return err;
	}
	idx->lock_fd = fd;
	return 0;
}

int media_index_owner(const char *db_path, pid_t *pid, char *backing, size_t size)
{
	struct flock fl = lock_whole(F_WRLCK);
	char path[PATH_MAX], text[PATH_MAX + 64], *b;
	ssize_t n;
	int fd, err;

	*pid = 0;
	if (backing && size)
		backing[0] = '\0';
	err = lock_path(db_path, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (fl.l_type == F_UNLCK) {
		close(fd);
		return 0;
	}
	/* An owner that has not finished writing it: what is there, if whole. */
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	if (sscanf(text, "pid %d\n", pid) != 1)
		*pid = 0;
	b = strstr(text, "\nbacking ");
	if (b && backing && size) {
		b += 9;
		n = strcspn(b, "\n");
		if (b[n] == '\n' && (size_t)n < size) {
			memcpy(backing, b, n);
			backing[n] = '\0';
		}
	}
	return 1;
}

/* ---- opening ---- */

static const char schema_sql[] = "CREATE TABLE media ("
				 " path TEXT PRIMARY KEY NOT NULL,"
				 " size INTEGER NOT NULL,"
				 " mime TEXT NOT NULL,"
				 " owner INTEGER NOT NULL,"
				 " mtime_ns INTEGER NOT NULL"
				 ") WITHOUT ROWID;"
				 "CREATE INDEX media_by_owner ON media(owner, path);"
				 "CREATE INDEX media_by_mime ON media(mime, path);"
				 "PRAGMA user_version = " STR(MEDIA_INDEX_VERSION) ";";

/*
 * Creates the schema in a new database, checks the version of an old one.
 * In a transaction: two processes may open a new database at once.
 */
static int db_schema(struct media_index *idx)
{
	char version[32];
	int err;

	if (!idx->rdonly) {
		err = db_exec(idx->db, "BEGIN IMMEDIATE");
		if (err)
			return err;
	}
	err = db_text(idx->db, "PRAGMA user_version", version, sizeof(version));
	if (!err && !strcmp(version, "0") && !idx->rdonly)
		err = db_exec(idx->db, schema_sql);
	else if (!err && strcmp(version, STR(MEDIA_INDEX_VERSION)))
		err = -EPROTO;
	if (idx->rdonly)
		return err;
	if (!err)
		return db_exec(idx->db, "COMMIT");
	if (!sqlite3_get_autocommit(idx->db))
		db_exec(idx->db, "ROLLBACK");
	return err;
}

static int db_prepare(struct media_index *idx)
{
	static const struct {
		size_t offset;
		const char *sql;
	} stmts[] = {
		{ offsetof(struct media_index, begin), "BEGIN IMMEDIATE" },
		{ offsetof(struct media_index, commit), "COMMIT" },
		{ offsetof(struct media_index, rollback), "ROLLBACK" },
		{ offsetof(struct media_index, upsert),
		  "INSERT OR REPLACE INTO media (path, size, mime, owner, mtime_ns)"
		  " VALUES (?1, ?2, ?3, ?4, ?5)" },
		{ offsetof(struct media_index, del_one), "DELETE FROM media WHERE path = ?1" },
		{ offsetof(struct media_index, del_range),
		  "DELETE FROM media WHERE path >= ?1 AND path < ?2" },
		{ offsetof(struct media_index, del_all), "DELETE FROM media" },
		/*
		 * substr() of a BLOB counts bytes (of TEXT, characters): the
		 * tail after the old prefix, whatever the encoding of the name.
		 */
		{ offsetof(struct media_index, move),
		  "UPDATE media SET path = ?1 || substr(CAST(path AS BLOB), ?2)"
		  " WHERE path >= ?3 AND path < ?4" },
	};
	sqlite3_stmt **slot;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		slot = (sqlite3_stmt **)((char *)idx + stmts[i].offset);
		rc = sqlite3_prepare_v3(idx->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, slot,
					NULL);
		if (rc != SQLITE_OK)
			return sql_errno(idx->db, rc);
	}
	return 0;
}

static int db_open(struct media_index *idx, const char *path)
{
	int flags = SQLITE_OPEN_NOMUTEX; /* we serialise; see the top of the file */
	char mode[16];
	int fd, rc, err;

	if (idx->rdonly) {
		flags |= SQLITE_OPEN_READONLY;
	} else {
		/*
		 * Created private: the rows name every file of every user.
		 * SQLite gives its -wal and -shm files the same mode.
		 */
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		close(fd);
		flags |= SQLITE_OPEN_READWRITE;
	}
	rc = sqlite3_open_v2(path, &idx->db, flags, NULL);
	if (rc != SQLITE_OK)
		return sql_errno(idx->db, rc);
	sqlite3_busy_timeout(idx->db, BUSY_TIMEOUT_MS);
	if (idx->rdonly)
		return db_schema(idx);

	/* WAL is recorded in the file: readers get it from there. */
	err = db_text(idx->db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (!err && strcmp(mode, "wal"))
		err = -EOPNOTSUPP; /* a filesystem without shared mmap */
	if (!err)
		err = db_exec(idx->db, "PRAGMA synchronous = NORMAL;"
				       "PRAGMA journal_size_limit = " STR(WAL_SIZE_LIMIT) ";");
	if (!err)
		err = db_schema(idx);
	if (!err)
		err = db_prepare(idx); /* after the schema: they name its table */
	return err;
}

int media_index_open(const char *db_path, const char *backing_root, unsigned flags,
		     struct media_index **out)
{
	struct media_index *idx;
	int err;

	*out = NULL;
	if (!db_path || (flags & ~(MEDIA_INDEX_RDONLY | MEDIA_INDEX_OWN)) ||
	    ((flags & MEDIA_INDEX_RDONLY) && (flags & MEDIA_INDEX_OWN)))
		return -EINVAL;
	idx = calloc(1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	pthread_mutex_init(&idx->lock, NULL);
	idx->rdonly = flags & MEDIA_INDEX_RDONLY;
	idx->root_fd = -1;
	idx->lock_fd = -1;
	if (backing_root) {
		idx->root_fd = open(backing_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (idx->root_fd < 0) {
			err = -errno;
			goto out_close;
		}
	}
	/* Before the database: nothing of it is touched unless owned. */
	if (flags & MEDIA_INDEX_OWN) {
		err = owner_lock(idx, db_path, backing_root);
		if (err)
			goto out_close;
	}
	err = db_open(idx, db_path);
	if (err)
		goto out_close;
	*out = idx;
	return 0;

out_close:
	media_index_close(idx);
	return err;
}

void media_index_close(struct media_index *idx)
{
	if (!idx)
		return;
	sqlite3_finalize(idx->begin);
	sqlite3_finalize(idx->commit);
	sqlite3_finalize(idx->rollback);
	sqlite3_finalize(idx->upsert);
	sqlite3_finalize(idx->del_one);
	sqlite3_finalize(idx->del_range);
	sqlite3_finalize(idx->del_all);
	sqlite3_finalize(idx->move);
	/* The last connection to close checkpoints and removes the WAL. */
	sqlite3_close(idx->db);
	if (idx->root_fd >= 0)
		close(idx->root_fd);
	/* Last: the checkpoint above is the owner's. */
	if (idx->lock_fd >= 0)
		close(idx->lock_fd);
	pthread_mutex_destroy(&idx->lock);
	free(idx);
}

/* ---- paths ---- */

/*
 * A relative path as the header defines it (non-empty): 0, -EINVAL, or
 * -ENAMETOOLONG for one the index cannot hold (the daemon counts those as
 * failed updates: the file is there, its row cannot be).
 */
static int rel_check(const char *rel)
{
	const char *p = rel;
	size_t n;

	if (!*rel)
		return -EINVAL;
	if (strnlen(rel, PATH_MAX) >= PATH_MAX)
		return -ENAMETOOLONG;
	for (;;) {
		n = strcspn(p, "/");
		if (n == 0)
			return -EINVAL;
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		if (p[0] == '.' && (n == 1 || (n == 2 && p[1] == '.')))
			return -EINVAL;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

static const char *rel_leaf(const char *rel)
{
	const char *slash = strrchr(rel, '/');

	return slash ? slash + 1 : rel;
}

/* rel is inside dir or is dir; "" contains everything. */
static bool rel_within(const char *rel, const char *dir)
{
	size_t n = strlen(dir);

	return !n || (!strncmp(rel, dir, n) && (rel[n] == '/' || !rel[n]));
}

/* ---- rows ---- */

static int row_put(struct media_index *idx, const char *rel, size_t len, const struct stat *st)
{
	sqlite3_stmt *s = idx->upsert;
	const char *mime = media_mime_type(rel);
	int rc = SQLITE_OK;

	rc = bind_text(s, rc, 1, rel, len);
	rc = bind_int(s, rc, 2, st->st_size);
	rc = bind_text(s, rc, 3, mime, strlen(mime));
	rc = bind_int(s, rc, 4, st->st_uid);
	rc = bind_int(s, rc, 5, (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
	if (rc != SQLITE_OK)
		return bind_failed(idx->db, s, rc);
	return stmt_run(idx->db, s);
}

static int row_delete(struct media_index *idx, const char *rel, size_t len)
{
	int rc = bind_text(idx->del_one, SQLITE_OK, 1, rel, len);

	if (rc != SQLITE_OK)
		return bind_failed(idx->db, idx->del_one, rc);
	return stmt_run(idx->db, idx->del_one);
}

/* The bounds of the rows below directory rel: ["rel/", "rel0"). */
static void range_of(const char *rel, size_t len, char *lo, char *hi)
{
	memcpy(lo, rel, len);
	memcpy(hi, rel, len);
	lo[len] = '/';
	hi[len] = '/' + 1;
}

/* Deletes the row at rel and every row below it; "" deletes all. */
static int rows_delete_tree(struct media_index *idx, const char *rel)
{
	size_t len = strlen(rel);
	char lo[PATH_MAX + 1], hi[PATH_MAX + 1];
	int rc, err;

	if (!len)
		return stmt_run(idx->db, idx->del_all);
	err = row_delete(idx, rel, len);
	if (err)
		return err;
	range_of(rel, len, lo, hi);
	rc = bind_text(idx->del_range, SQLITE_OK, 1, lo, len + 1);
	rc = bind_text(idx->del_range, rc, 2, hi, len + 1);
	if (rc != SQLITE_OK)
		return bind_failed(idx->db, idx->del_range, rc);
	return stmt_run(idx->db, idx->del_range);
}

/* Renames the rows below directory old to below new; new's old rows go first. */
static int rows_move(struct media_index *idx, const char *old, const char *new)
{
	size_t olen = strlen(old);
	char lo[PATH_MAX + 1], hi[PATH_MAX + 1];
	sqlite3_stmt *s = idx->move;
	int rc, err;

	err = rows_delete_tree(idx, new);
	if (!err)
		err = row_delete(idx, old, olen); /* a stale row of a file once there */
	if (err)
		return err;
	range_of(old, olen, lo, hi);
	rc = bind_text(s, SQLITE_OK, 1, new, strlen(new));
	rc = bind_int(s, rc, 2, (int64_t)olen + 1); /* 1-based: from the '/' on */
	rc = bind_text(s, rc, 3, lo, olen + 1);
	rc = bind_text(s, rc, 4, hi, olen + 1);
	if (rc != SQLITE_OK)
		return bind_failed(idx->db, s, rc);
	return stmt_run(idx->db, s);
}

/* ---- the backing tree ---- */

static void fd_put(struct media_index *idx, int fd)
{
	if (fd >= 0 && fd != idx->root_fd)
		close(fd);
}

/* Whether the directory at fd holds a .nomedia: 1, 0 or -errno. */
static int dir_hidden(int fd)
{
	struct stat st;

	if (!fstatat(fd, NOMEDIA, &st, AT_SYMLINK_NOFOLLOW))
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/* An open that met a symlink or a non-directory: the path is not in the tree. */
static int open_errno(int err)
{
	return err == ENOTDIR || err == ELOOP ? -ENOENT : -err;
}

/*
 * Opens (O_PATH) the parent directory of rel, one component at a time from
 * the root with O_NOFOLLOW: no symlink is followed, nothing outside the tree
 * is reached.  With check, every directory on the way, root and parent
 * included, is checked for a .nomedia.  Returns 0 with *dirfd (release with
 * fd_put) and *leaf, 1 if a .nomedia hides rel, -ENOENT if a component is
 * missing, a symlink or not a directory, or another -errno.
 */
static int tree_parent(struct media_index *idx, const char *rel, bool check, int *dirfd,
		       const char **leaf)
{
	char name[NAME_MAX + 1];
	int fd = idx->root_fd, next, ret;
	const char *p = rel;
	size_t n;

	for (;;) {
		if (check) {
			ret = dir_hidden(fd);
			if (ret)
				goto out_put;
		}
		n = strcspn(p, "/");
		if (!p[n])
			break;
		memcpy(name, p, n);
		name[n] = '\0';
		next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			ret = open_errno(errno);
			goto out_put;
		}
		fd_put(idx, fd);
		fd = next;
		p += n + 1;
	}
	*dirfd = fd;
	*leaf = p;
	return 0;

out_put:
	fd_put(idx, fd);
	return ret;
}

enum entry_kind { ENTRY_NONE, ENTRY_FILE, ENTRY_DIR };

/*
 * What is at rel for the index: ENTRY_FILE (a regular file no .nomedia
 * hides; *st filled), ENTRY_DIR (a directory no .nomedia above hides; its
 * own is for the walk to find), ENTRY_NONE (gone, hidden, behind a symlink,
 * another type), or -errno.
 */
static int tree_lookup(struct media_index *idx, const char *rel, struct stat *st)
{
	const char *leaf;
	int dirfd, ret;

	if (!*rel)
		return fstat(idx->root_fd, st) ? -errno : ENTRY_DIR;
	ret = tree_parent(idx, rel, true, &dirfd, &leaf);
	if (ret == 1 || ret == -ENOENT)
		return ENTRY_NONE;
	if (ret)
		return ret;
	if (fstatat(dirfd, leaf, st, AT_SYMLINK_NOFOLLOW))
		ret = errno == ENOENT ? ENTRY_NONE : -errno;
	else if (S_ISREG(st->st_mode))
		ret = strcmp(leaf, NOMEDIA) ? ENTRY_FILE : ENTRY_NONE;
	else if (S_ISDIR(st->st_mode))
		ret = ENTRY_DIR;
	else
		ret = ENTRY_NONE;
	fd_put(idx, dirfd);
	return ret;
}

/* Opens directory rel for reading, without following symlinks. */
static int tree_opendir(struct media_index *idx, const char *rel, int *out)
{
	const char *leaf = ".";
	int dirfd = idx->root_fd, fd, ret;

	if (*rel) {
		ret = tree_parent(idx, rel, false, &dirfd, &leaf);
		if (ret)
			return ret;
	}
	fd = openat(dirfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	ret = fd < 0 ? open_errno(errno) : 0;
	fd_put(idx, dirfd);
	*out = fd;
	return ret;
}

/*
 * The state of a walk, depth first.  Directories left to read are queued by
 * path, so no fd stays open from one directory to the next, with the node of
 * their parent.  A node per directory read, linked to its parent, lets a
 * directory that is its own ancestor (a bind mount of an ancestor inside the
 * tree) be skipped instead of looping; a directory met twice otherwise
 * (bound elsewhere in the tree) is indexed at both paths, as the mount shows
 * it.
 */
struct walk_node {
	struct walk_node *parent;
	struct walk_node *next; /* every node of the walk, to free them */
	dev_t dev;
	ino_t ino;
};

struct walk {
	struct walk_todo {
		char *path;
		struct walk_node *parent;
	} *todo;
	size_t ntodo, todo_cap;
	struct walk_node *nodes;
};

static int walk_push(struct walk *w, const char *rel, size_t len, struct walk_node *parent)
{
	struct walk_todo *grown;
	char *copy;
	size_t cap;

	if (w->ntodo == w->todo_cap) {
		cap = w->todo_cap ? 2 * w->todo_cap : 64;
		grown = realloc(w->todo, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		w->todo = grown;
		w->todo_cap = cap;
	}
	copy = strndup(rel, len);
	if (!copy)
		return -ENOMEM;
	w->todo[w->ntodo++] = (struct walk_todo){ .path = copy, .parent = parent };
	return 0;
}

/* The node of a directory about to be read; NULL with *err 0 if it is its own ancestor. */
static struct walk_node *walk_enter(struct walk *w, struct walk_node *parent,
				    const struct stat *st, int *err)
{
	struct walk_node *n;

	*err = 0;
	for (n = parent; n; n = n->parent)
		if (n->dev == st->st_dev && n->ino == st->st_ino)
			return NULL;
	n = malloc(sizeof(*n));
	if (!n) {
		*err = -ENOMEM;
		return NULL;
	}
	*n = (struct walk_node){ .parent = parent, .next = w->nodes, .dev = st->st_dev,
				 .ino = st->st_ino };
	w->nodes = n;
	return n;
}

/* Indexes the regular files of a queued directory and queues its subdirectories. */
static int walk_dir(struct media_index *idx, struct walk *w, const struct walk_todo *todo)
{
	size_t dlen = strlen(todo->path), nlen;
	struct walk_node *node = NULL;
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	unsigned char type;
	DIR *d;
	int fd, err;

	err = tree_opendir(idx, todo->path, &fd);
	if (err)
		/* Gone or replaced by a symlink since it was queued, or unreadable. */
		return err == -ENOENT || err == -EACCES ? 0 : err;
	if (fstat(fd, &st))
		err = -errno;
	else
		node = walk_enter(w, todo->parent, &st, &err);
	if (node) {
		err = dir_hidden(fd);
		if (err > 0)
			node = NULL;
	}
	if (!node) {
		close(fd);
		return err < 0 ? err : 0;
	}
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	memcpy(path, todo->path, dlen);
	if (dlen)
		path[dlen++] = '/';
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			err = -errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, NOMEDIA))
			continue;
		nlen = strlen(de->d_name);
		if (dlen + nlen >= PATH_MAX)
			continue; /* no path to it that the index could take */
		memcpy(path + dlen, de->d_name, nlen + 1);
		type = de->d_type;
		if (type == DT_REG || type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
				if (errno == ENOENT)
					continue;
				err = -errno;
				break;
			}
			if (S_ISREG(st.st_mode)) {
				err = row_put(idx, path, dlen + nlen, &st);
				if (err)
					break;
				continue;
			}
			type = S_ISDIR(st.st_mode) ? DT_DIR : DT_UNKNOWN;
		}
		if (type == DT_DIR) {
			err = walk_push(w, path, dlen + nlen, node);
			if (err)
				break;
		}
	}
	closedir(d);
	return err;
}

/* Indexes the tree below directory rel, which no .nomedia above hides. */
static int tree_walk(struct media_index *idx, const char *rel)
{
	struct walk w = { 0 };
	struct walk_todo todo;
	struct walk_node *n;
	int err;

	err = walk_push(&w, rel, strlen(rel), NULL);
	while (!err && w.ntodo) {
		todo = w.todo[--w.ntodo];
		err = walk_dir(idx, &w, &todo);
		free(todo.path);
	}
	while (w.ntodo)
		free(w.todo[--w.ntodo].path);
	free(w.todo);
	while ((n = w.nodes)) {
		w.nodes = n->next;
		free(n);
	}
	return err;
}

/* Drops the rows at and below rel and indexes what the tree holds there now. */
static int tree_sync(struct media_index *idx, const char *rel)
{
	struct stat st;
	int kind, err;

	err = rows_delete_tree(idx, rel);
	if (err)
		return err;
	kind = tree_lookup(idx, rel, &st);
	if (kind == ENTRY_FILE)
		return row_put(idx, rel, strlen(rel), &st);
	if (kind == ENTRY_DIR)
		return tree_walk(idx, rel);
	return kind; /* ENTRY_NONE is 0 */
}

/* tree_sync() of the directory holding rel, whose leaf is leaf. */
static int parent_sync(struct media_index *idx, const char *rel, const char *leaf)
{
	char parent[PATH_MAX];
	size_t len = leaf == rel ? 0 : (size_t)(leaf - rel - 1);

	memcpy(parent, rel, len);
	parent[len] = '\0';
	return tree_sync(idx, parent);
}

/* 1 if no .nomedia hides the entries of rel's directory, 0 if one does or rel's gone, -errno. */
static int parent_visible(struct media_index *idx, const char *rel)
{
	const char *leaf;
	int dirfd, ret;

	ret = tree_parent(idx, rel, true, &dirfd, &leaf);
	if (!ret) {
		fd_put(idx, dirfd);
		return 1;
	}
	return ret == 1 || ret == -ENOENT ? 0 : ret;
}

/* ---- updates ---- */

static int update_changed(struct media_index *idx, const char *rel, const char *unused)
{
	const char *leaf = rel_leaf(rel);
	struct stat st;
	int kind;

	(void)unused;
	if (!strcmp(leaf, NOMEDIA))
		return parent_sync(idx, rel, leaf);
	kind = tree_lookup(idx, rel, &st);
	if (kind == ENTRY_FILE)
		return row_put(idx, rel, strlen(rel), &st);
	if (kind < 0)
		return kind;
	return row_delete(idx, rel, strlen(rel));
}

static int update_removed(struct media_index *idx, const char *rel, const char *unused)
{
	const char *leaf = rel_leaf(rel);

	(void)unused;
	if (!strcmp(leaf, NOMEDIA))
		return parent_sync(idx, rel, leaf);
	return tree_sync(idx, rel);
}

static int update_renamed(struct media_index *idx, const char *old, const char *new)
{
	const char *old_leaf = rel_leaf(old), *new_leaf = rel_leaf(new);
	bool old_nomedia = !strcmp(old_leaf, NOMEDIA), new_nomedia = !strcmp(new_leaf, NOMEDIA);
	struct stat st;
	int kind, err;

	if (old_nomedia || new_nomedia) {
		/* Each side's directory gains or loses its .nomedia: rescan it. */
		err = old_nomedia ? parent_sync(idx, old, old_leaf) : rows_delete_tree(idx, old);
		if (!err)
			err = new_nomedia ? parent_sync(idx, new, new_leaf) : tree_sync(idx, new);
		return err;
	}
	kind = tree_lookup(idx, new, &st);
	if (kind < 0)
		return kind;
	if (kind == ENTRY_DIR) {
		/*
		 * The rows below old exist if its directory is visible: then
		 * they are the rows below new, moved.  Otherwise there are none
		 * to move; the tree has them.
		 */
		err = parent_visible(idx, old);
		if (err < 0)
			return err;
		if (err)
			return rows_move(idx, old, new);
	}
	err = rows_delete_tree(idx, old);
	return err ? err : tree_sync(idx, new);
}

typedef int (*update_fn)(struct media_index *idx, const char *a, const char *b);

/* Runs one update in a transaction of its own, under the lock. */
static int update_run(struct media_index *idx, update_fn fn, const char *a, const char *b)
{
	int err;

	if (idx->rdonly)
		return -EROFS;
	if (idx->root_fd < 0)
		return -EINVAL;
	pthread_mutex_lock(&idx->lock);
	err = tx_begin(idx);
	if (!err)
		err = tx_end(idx, fn(idx, a, b));
	pthread_mutex_unlock(&idx->lock);
	return err;
}

int media_index_file_changed(struct media_index *idx, const char *rel)
{
	int err = rel_check(rel);

	return err ? err : update_run(idx, update_changed, rel, NULL);
}

int media_index_removed(struct media_index *idx, const char *rel)
{
	int err = rel_check(rel);

	return err ? err : update_run(idx, update_removed, rel, NULL);
}

int media_index_renamed(struct media_index *idx, const char *old_rel, const char *new_rel)
{
	int err = rel_check(old_rel);

	if (!err)
		err = rel_check(new_rel);
	if (err)
		return err;
	if (!strcmp(old_rel, new_rel))
		return 0; /* rename(2) onto itself changes nothing */
	if (rel_within(old_rel, new_rel) || rel_within(new_rel, old_rel))
		return -EINVAL;
	return update_run(idx, update_renamed, old_rel, new_rel);
}

static int update_rescan(struct media_index *idx, const char *rel, const char *unused)
{
	(void)unused;
	return tree_sync(idx, rel);
}

int media_index_rescan(struct media_index *idx, const char *rel)
{
	int err;

	if (!rel)
		rel = "";
	err = *rel ? rel_check(rel) : 0;
	return err ? err : update_run(idx, update_rescan, rel, NULL);
}

/* ---- queries ---- */

/*
 * The smallest string above every string starting with prefix: prefix with
 * trailing 0xff bytes dropped and the last byte incremented.  0 if none
 * (empty, or all 0xff): no upper bound.
 */
static size_t prefix_end(const char *prefix, size_t len, char *end)
{
	while (len && (unsigned char)prefix[len - 1] == 0xff)
		len--;
	if (!len)
		return 0;
	memcpy(end, prefix, len);
	end[len - 1] = (char)((unsigned char)end[len - 1] + 1);
	return len;
}

static int bind_named(sqlite3_stmt *st, int rc, const char *name, const char *s, size_t len)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (rc != SQLITE_OK || !i)
		return rc;
	return sqlite3_bind_text(st, i, s, (int)len, SQLITE_STATIC);
}

int media_index_query(struct media_index *idx, const struct media_query *q,
		      media_index_row_fn fn, void *arg)
{
	static const struct media_query all;
	char sql[512] = "SELECT path, size, mime, owner, mtime_ns FROM media WHERE 1";
	char path_hi[PATH_MAX], mime_hi[256];
	size_t plen = 0, phi = 0, mlen = 0;
	bool mime_range = false;
	const char *star;
	struct media_row row;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (!q)
		q = &all;
	if (q->prefix) {
		plen = strlen(q->prefix);
		if (plen >= PATH_MAX)
			return -EINVAL;
		phi = prefix_end(q->prefix, plen, path_hi);
	}
	if (q->mime && strcmp(q->mime, "*") && strcmp(q->mime, "*/*")) {
		mlen = strlen(q->mime);
		star = strchr(q->mime, '*');
		if (!mlen || mlen >= sizeof(mime_hi))
			return -EINVAL;
		if (star) {
			/* Only "type/" then '*', the last byte: ["type/", "type0"). */
			if (star != q->mime + mlen - 1 || mlen < 3 || star[-1] != '/' ||
			    memchr(q->mime, '/', mlen - 2))
				return -EINVAL;
			mime_range = true;
			mlen--;
			memcpy(mime_hi, q->mime, mlen);
			mime_hi[mlen - 1] = '/' + 1;
		}
	}
	if (plen)
		strcat(sql, phi ? " AND path >= :plo AND path < :phi" : " AND path >= :plo");
	if (mlen)
		strcat(sql, mime_range ? " AND mime >= :mlo AND mime < :mhi" : " AND mime = :mlo");
	if (q->by_owner)
		strcat(sql, " AND owner = :owner");
	strcat(sql, " ORDER BY path");

	pthread_mutex_lock(&idx->lock);
	rc = sqlite3_prepare_v2(idx->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = sql_errno(idx->db, rc);
		goto out_unlock;
	}
	rc = bind_named(st, SQLITE_OK, ":plo", q->prefix, plen);
	rc = bind_named(st, rc, ":phi", path_hi, phi);
	rc = bind_named(st, rc, ":mlo", q->mime, mlen);
	rc = bind_named(st, rc, ":mhi", mime_hi, mime_range ? mlen : 0);
	if (rc == SQLITE_OK && q->by_owner)
		rc = sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":owner"), q->owner);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.path = (const char *)sqlite3_column_text(st, 0);
		row.size = sqlite3_column_int64(st, 1);
		row.mime = (const char *)sqlite3_column_text(st, 2);
		row.owner = (uid_t)sqlite3_column_int64(st, 3);
		row.mtime_ns = sqlite3_column_int64(st, 4);
		if (!row.path || !row.mime) {
			rc = SQLITE_NOMEM;
			break;
		}
		ret = fn(&row, arg);
		if (ret)
			break;
		rc = SQLITE_OK;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sql_errno(idx->db, rc);
	sqlite3_finalize(st);
out_unlock:
	pthread_mutex_unlock(&idx->lock);
	return ret;
}

static int dump_row(const struct media_row *row, void *arg)
{
	FILE *out = arg;
	const unsigned char *p;

	for (p = (const unsigned char *)row->path; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			putc(*p, out);
	}
	fprintf(out, "\t%lld\t%s\t%u\t%lld\n", (long long)row->size, row->mime,
		(unsigned)row->owner, (long long)row->mtime_ns);
	return ferror(out) ? -EIO : 0;
}

int media_index_dump(struct media_index *idx, const struct media_query *q, FILE *out)
{
	int err = media_index_query(idx, q, dump_row, out);

	if (!err && fflush(out))
		err = -errno;
	return err;
}
