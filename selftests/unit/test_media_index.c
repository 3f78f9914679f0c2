// SPDX-License-Identifier: MIT
/*
 * The media index (media/media_index.c) against a real scratch backing tree
 * and a real database file, without a mount: each kind of change gives the
 * right rows, directory renames move every row below them (names with % and
 * _ and names that sort next to the range bounds), rmdir of a tree,
 * .nomedia added and removed, symlinks never followed, queries by owner,
 * type and prefix, a rescan equal to the incremental index after random
 * operations, a database left by a writer killed mid-transaction, several
 * writer threads with a reader process, bounded fds on a deep tree and a
 * bind mount loop.
 */
#define _GNU_SOURCE
#include "../../media/media_index.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256], root[300], db[300];
static struct media_index *idx;
static char bound[2][400]; /* bind mounts of a test, undone in the fini */

static void mi_setup(void)
{
	const char *base = getenv("FSD_TEST_TMP");

	snprintf(dir, sizeof(dir), "%s/media.XXXXXX", base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
	snprintf(root, sizeof(root), "%s/tree", dir);
	snprintf(db, sizeof(db), "%s/index.db", dir);
	cr_assert_eq(mkdir(root, 0755), 0, "mkdir %s: %s", root, strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void mi_teardown(void)
{
	media_index_close(idx);
	idx = NULL;
	for (int i = 1; i >= 0; i--)
		if (bound[i][0])
			umount2(bound[i], MNT_DETACH);
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

TestSuite(media_index, .init = mi_setup, .fini = mi_teardown, .timeout = 120);

/* ---- helpers ---- */

/* The backing path of rel; four buffers in turn, for calls with two. */
static const char *bp(const char *rel)
{
	static char bufs[4][4400];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", root, rel);
	return b;
}

static void ok(int ret, const char *what, const char *rel)
{
	cr_assert_eq(ret, 0, "%s %s: %s", what, rel, strerror(-ret));
}

/* Creates or rewrites rel with size bytes (never through a symlink). */
static void put(const char *rel, size_t size)
{
	char buf[4096];
	int fd = open(bp(rel), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);

	cr_assert(fd >= 0, "create %s: %s", rel, strerror(errno));
	memset(buf, 'x', sizeof(buf));
	while (size) {
		size_t n = size < sizeof(buf) ? size : sizeof(buf);

		cr_assert_eq(write(fd, buf, n), (ssize_t)n, "write %s", rel);
		size -= n;
	}
	close(fd);
}

static void mkd(const char *rel)
{
	cr_assert_eq(mkdir(bp(rel), 0755), 0, "mkdir %s: %s", rel, strerror(errno));
}

static void index_up(void)
{
	ok(media_index_open(db, root, 0, &idx), "media_index_open", db);
}

static void changed(const char *rel)
{
	ok(media_index_file_changed(idx, rel), "file_changed", rel);
}

static void removed(const char *rel)
{
	ok(media_index_removed(idx, rel), "removed", rel);
}

static void moved(const char *from, const char *to)
{
	cr_assert_eq(rename(bp(from), bp(to)), 0, "rename %s %s: %s", from, to, strerror(errno));
	ok(media_index_renamed(idx, from, to), "renamed", from);
}

static void rescan(void)
{
	ok(media_index_rescan(idx, NULL), "rescan", root);
}

/* The dump of q as a string (free it). */
static char *dump_of(struct media_index *i, const struct media_query *q)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	ok(media_index_dump(i, q, f), "dump", "");
	fclose(f);
	return text;
}

static int path_line(const struct media_row *row, void *arg)
{
	fprintf(arg, "%s\n", row->path);
	return 0;
}

/* The paths q selects, one a line, in the index's order (free it). */
static char *paths_of(const struct media_query *q)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	ok(media_index_query(idx, q, path_line, f), "query", "");
	fclose(f);
	return text;
}

#define expect_paths(q, want)                                                        \
	do {                                                                         \
		char *got_ = paths_of(q);                                            \
		cr_expect_str_eq(got_, want, "rows:\n%s-- expected:\n%s", got_, want); \
		free(got_);                                                          \
	} while (0)

struct found {
	const char *path;
	bool hit;
	struct media_row row;
	char mime[64];
};

static int find_row(const struct media_row *row, void *arg)
{
	struct found *f = arg;

	if (strcmp(row->path, f->path))
		return 0;
	f->hit = true;
	f->row = *row;
	snprintf(f->mime, sizeof(f->mime), "%s", row->mime);
	f->row.path = f->path;
	f->row.mime = f->mime;
	return 1;
}

/* The row of rel, if there is one. */
static bool row_of(const char *rel, struct media_row *out)
{
	static struct found f;
	struct media_query q = { .prefix = rel };
	int ret;

	f = (struct found){ .path = rel };
	ret = media_index_query(idx, &q, find_row, &f);
	cr_assert(ret == 0 || ret == 1, "query %s: %s", rel, strerror(-ret));
	if (f.hit && out)
		*out = f.row;
	return f.hit;
}

static int64_t mtime_ns(const char *rel)
{
	struct stat st;

	cr_assert_eq(lstat(bp(rel), &st), 0, "stat %s", rel);
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static void rm_tree(const char *rel)
{
	char cmd[4500];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", bp(rel));
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	cr_assert_eq(access(bp(rel), F_OK), -1, "%s still there", rel);
}

/* ---- the MIME table and argument checks ---- */

Test(media_index, mime_from_extension)
{
	cr_expect_str_eq(media_mime_type("a.jpg"), "image/jpeg");
	cr_expect_str_eq(media_mime_type("DCIM/Camera/IMG_1.JPEG"), "image/jpeg");
	cr_expect_str_eq(media_mime_type("x.tar.png"), "image/png");
	cr_expect_str_eq(media_mime_type("v.Mp4"), "video/mp4");
	cr_expect_str_eq(media_mime_type("m.mkv"), "video/x-matroska");
	cr_expect_str_eq(media_mime_type("s.flac"), "audio/flac");
	cr_expect_str_eq(media_mime_type("s.m4a"), "audio/mp4");
	cr_expect_str_eq(media_mime_type("s.wav"), "audio/x-wav");
	cr_expect_str_eq(media_mime_type("h.heic"), "image/heic");
	/* No extension: a leading dot, none at all, a dot in a directory name. */
	cr_expect_str_eq(media_mime_type(".jpg"), "application/octet-stream");
	cr_expect_str_eq(media_mime_type("dir/.mp3"), "application/octet-stream");
	cr_expect_str_eq(media_mime_type("README"), "application/octet-stream");
	cr_expect_str_eq(media_mime_type("a.jpg/b"), "application/octet-stream");
	cr_expect_str_eq(media_mime_type("a.jpg."), "application/octet-stream");
	cr_expect_str_eq(media_mime_type("a.jpgx"), "application/octet-stream");
}

Test(media_index, bad_paths_are_einval)
{
	static const char *bad[] = { "", "/a", "a/", "a//b", ".", "..", "./a", "a/..", "a/./b" };

	index_up();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(media_index_file_changed(idx, bad[i]), -EINVAL, "'%s'", bad[i]);
		cr_expect_eq(media_index_removed(idx, bad[i]), -EINVAL, "'%s'", bad[i]);
		cr_expect_eq(media_index_renamed(idx, "a", bad[i]), -EINVAL, "'%s'", bad[i]);
	}
	cr_expect_eq(media_index_rescan(idx, "/"), -EINVAL);
	/* Either path inside the other. */
	cr_expect_eq(media_index_renamed(idx, "a", "a/b"), -EINVAL);
	cr_expect_eq(media_index_renamed(idx, "a/b", "a"), -EINVAL);
	cr_expect_eq(media_index_renamed(idx, "a", "ab"), 0);
	cr_expect_eq(media_index_renamed(idx, "a", "a"), 0);
}

/* ---- each kind of change ---- */

Test(media_index, create_write_chown_unlink)
{
	struct media_row r;

	index_up();
	mkd("DCIM");
	put("DCIM/a.jpg", 10);
	changed("DCIM/a.jpg");
	cr_assert(row_of("DCIM/a.jpg", &r));
	cr_expect_eq(r.size, 10);
	cr_expect_str_eq(r.mime, "image/jpeg");
	cr_expect_eq(r.owner, getuid());
	cr_expect_eq(r.mtime_ns, mtime_ns("DCIM/a.jpg"));

	/* Written again (a write-close), a new size and mtime. */
	usleep(2000);
	put("DCIM/a.jpg", 5000);
	changed("DCIM/a.jpg");
	cr_assert(row_of("DCIM/a.jpg", &r));
	cr_expect_eq(r.size, 5000);
	cr_expect_eq(r.mtime_ns, mtime_ns("DCIM/a.jpg"));

	cr_assert_eq(chown(bp("DCIM/a.jpg"), 1234, 99), 0);
	changed("DCIM/a.jpg");
	cr_assert(row_of("DCIM/a.jpg", &r));
	cr_expect_eq(r.owner, 1234);

	/* mkdir: no row for a directory. */
	mkd("DCIM/Camera");
	changed("DCIM/Camera");
	expect_paths(NULL, "DCIM/a.jpg\n");

	cr_assert_eq(unlink(bp("DCIM/a.jpg")), 0);
	removed("DCIM/a.jpg");
	expect_paths(NULL, "");

	/* A change reported for a file that is gone by now drops its row. */
	put("b.png", 1);
	changed("b.png");
	cr_assert(row_of("b.png", NULL));
	unlink(bp("b.png"));
	changed("b.png");
	cr_expect_not(row_of("b.png", NULL));

	/* Not regular files: no rows. */
	cr_assert_eq(mkfifo(bp("fifo.mp3"), 0644), 0);
	changed("fifo.mp3");
	mkd("dir.jpg");
	changed("dir.jpg");
	expect_paths(NULL, "");
}

Test(media_index, rmdir_of_a_tree)
{
	static const char *files[] = { "A/x.jpg", "A/B/y.png", "A/B/C/z.mp4", "A0/k.jpg",
				       "A.b/k.jpg", "A-x/k.jpg", "AB/k.jpg", "A\xff/k.jpg" };

	mkd("A");
	mkd("A/B");
	mkd("A/B/C");
	mkd("A0");
	mkd("A.b");
	mkd("A-x");
	mkd("AB");
	mkd("A\xff");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put(files[i], i);
	index_up();
	rescan();
	rm_tree("A");
	/* The tree is gone; rmdir of its top drops every row below. */
	removed("A");
	expect_paths(NULL, "A-x/k.jpg\nA.b/k.jpg\nA0/k.jpg\nAB/k.jpg\nA\xff/k.jpg\n");
}

Test(media_index, rename_of_a_file)
{
	struct media_row r;

	index_up();
	mkd("d");
	put("d/a.tmp", 3);
	changed("d/a.tmp");
	moved("d/a.tmp", "d/a.jpg");
	cr_assert(row_of("d/a.jpg", &r));
	cr_expect_str_eq(r.mime, "image/jpeg");
	cr_expect_eq(r.size, 3);
	expect_paths(NULL, "d/a.jpg\n");

	/* Over another file: one row, the moved file's. */
	put("b.png", 77);
	changed("b.png");
	moved("d/a.jpg", "b.png");
	cr_assert(row_of("b.png", &r));
	cr_expect_eq(r.size, 3);
	cr_expect_str_eq(r.mime, "image/png");
	expect_paths(NULL, "b.png\n");
}

Test(media_index, rename_of_a_directory_moves_every_row)
{
	static const char *inside[] = { "50%_off/a_b%.jpg", "50%_off/%.png", "50%_off/_",
					"50%_off/x%/y_.mp4", "50%_off/x%/deep/\xc3\xa9t\xc3\xa9.jpg",
					"50%_off/raw\xff\xfe.bin" };
	/* Names a LIKE '50%_off%' would take, and names next to the bounds. */
	static const char *outside[] = { "50%Xoff/k.jpg", "50%_offX/k.jpg", "50%_off0/k.jpg",
					 "50%_off.d/k.jpg", "50%_of/k.jpg", "50X_off/k.jpg" };
	struct media_row r;

	mkd("50%_off");
	mkd("50%_off/x%");
	mkd("50%_off/x%/deep");
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++)
		put(inside[i], 100 + i);
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		char d[64];

		snprintf(d, sizeof(d), "%s", outside[i]);
		*strrchr(d, '/') = '\0';
		mkd(d);
		put(outside[i], 1);
	}
	mkd("to");
	index_up();
	rescan();

	/*
	 * Grown behind the index's back: a moved row keeps what the index
	 * knew, which shows the rows were moved rather than rescanned.
	 */
	put("50%_off/x%/y_.mp4", 9999);
	moved("50%_off", "to/_%new");
	expect_paths(NULL, "50%Xoff/k.jpg\n50%_of/k.jpg\n50%_off.d/k.jpg\n50%_off0/k.jpg\n"
			   "50%_offX/k.jpg\n50X_off/k.jpg\n"
			   "to/_%new/%.png\nto/_%new/_\nto/_%new/a_b%.jpg\n"
			   "to/_%new/raw\xff\xfe.bin\n"
			   "to/_%new/x%/deep/\xc3\xa9t\xc3\xa9.jpg\nto/_%new/x%/y_.mp4\n");
	cr_assert(row_of("to/_%new/x%/y_.mp4", &r));
	cr_expect_eq(r.size, 103);
	cr_expect_str_eq(r.mime, "video/mp4");

	/* Back, over an empty directory whose stale rows must not survive. */
	mkd("50%_off");
	put("50%_off/stale.jpg", 1);
	changed("50%_off/stale.jpg");
	unlink(bp("50%_off/stale.jpg"));
	moved("to/_%new", "50%_off");
	cr_assert(row_of("50%_off/x%/deep/\xc3\xa9t\xc3\xa9.jpg", NULL));
	cr_expect_not(row_of("50%_off/stale.jpg", NULL));
	cr_expect_not(row_of("to/_%new/_", NULL));
	changed("50%_off/x%/y_.mp4");

	/* Then the index is what a rescan makes of the tree. */
	char *before = dump_of(idx, NULL);

	rescan();
	char *after = dump_of(idx, NULL);

	cr_expect_str_eq(before, after);
	free(before);
	free(after);
}

/* ---- .nomedia ---- */

Test(media_index, nomedia_hides_and_shows_a_subtree)
{
	mkd("A");
	mkd("A/B");
	mkd("A/B/C");
	mkd("A2");
	put("A/x.jpg", 1);
	put("A/B/y.jpg", 1);
	put("A/B/C/z.jpg", 1);
	put("A2/w.jpg", 1);
	index_up();
	rescan();

	put("A/.nomedia", 0);
	changed("A/.nomedia");
	expect_paths(NULL, "A2/w.jpg\n");

	/* Created below a .nomedia: not indexed. */
	put("A/B/n.jpg", 1);
	changed("A/B/n.jpg");
	expect_paths(NULL, "A2/w.jpg\n");

	/* A second one deeper, then the first goes: only A/x.jpg comes back. */
	put("A/B/.nomedia", 0);
	changed("A/B/.nomedia");
	unlink(bp("A/.nomedia"));
	removed("A/.nomedia");
	expect_paths(NULL, "A/x.jpg\nA2/w.jpg\n");

	unlink(bp("A/B/.nomedia"));
	removed("A/B/.nomedia");
	expect_paths(NULL, "A/B/C/z.jpg\nA/B/n.jpg\nA/B/y.jpg\nA/x.jpg\nA2/w.jpg\n");

	/* A directory named .nomedia hides too; at the root, everything. */
	mkd("A/B/.nomedia");
	changed("A/B/.nomedia");
	expect_paths(NULL, "A/x.jpg\nA2/w.jpg\n");
	put(".nomedia", 0);
	changed(".nomedia");
	expect_paths(NULL, "");
	rescan();
	expect_paths(NULL, "");
	unlink(bp(".nomedia"));
	removed(".nomedia");
	expect_paths(NULL, "A/x.jpg\nA2/w.jpg\n");
}

Test(media_index, nomedia_by_rename)
{
	mkd("pics");
	mkd("hidden");
	put("pics/a.jpg", 1);
	put("pics/b.png", 1);
	put("hidden/.nomedia", 0);
	put("hidden/h.jpg", 1);
	put("note.txt", 1);
	index_up();
	rescan();
	expect_paths(NULL, "note.txt\npics/a.jpg\npics/b.png\n");

	/* A directory moved under a .nomedia, then out again. */
	moved("pics", "hidden/pics");
	expect_paths(NULL, "note.txt\n");
	moved("hidden/pics", "pics2");
	expect_paths(NULL, "note.txt\npics2/a.jpg\npics2/b.png\n");

	/* A file renamed to .nomedia hides its directory; renamed away, shows it. */
	put("pics2/mark", 0);
	changed("pics2/mark");
	moved("pics2/mark", "pics2/.nomedia");
	expect_paths(NULL, "note.txt\n");
	moved("pics2/.nomedia", "pics2/c.jpg");
	expect_paths(NULL, "note.txt\npics2/a.jpg\npics2/b.png\npics2/c.jpg\n");

	/* The .nomedia of hidden/ moved elsewhere: hidden/ shows, the other hides. */
	moved("hidden/.nomedia", "pics2/.nomedia");
	expect_paths(NULL, "hidden/h.jpg\nnote.txt\n");
}

/* ---- symlinks ---- */

Test(media_index, symlinks_are_not_followed)
{
	char outside[400];

	snprintf(outside, sizeof(outside), "%s/outside", dir);
	cr_assert_eq(mkdir(outside, 0755), 0);
	mkd("real");
	put("real/r.jpg", 1);
	put("../outside/o.jpg", 1);
	cr_assert_eq(symlink(outside, bp("link")), 0);
	cr_assert_eq(symlink("real", bp("alias")), 0);
	cr_assert_eq(symlink("real/r.jpg", bp("l.jpg")), 0);
	cr_assert_eq(symlink(outside, bp("real/out")), 0);
	index_up();

	changed("link/o.jpg");
	changed("alias/r.jpg");
	changed("l.jpg");
	changed("real/out/o.jpg");
	changed("real/r.jpg");
	expect_paths(NULL, "real/r.jpg\n");
	rescan();
	expect_paths(NULL, "real/r.jpg\n");
	ok(media_index_rescan(idx, "link"), "rescan", "link");
	ok(media_index_rescan(idx, "alias"), "rescan", "alias");
	expect_paths(NULL, "real/r.jpg\n");

	/* A directory renamed onto a symlink's name: the symlink is what's there. */
	moved("real", "real2");
	cr_assert_eq(symlink(outside, bp("real")), 0);
	changed("real");
	expect_paths(NULL, "real2/r.jpg\n");
	/* A symlink named .nomedia still hides: any type counts. */
	cr_assert_eq(symlink("nowhere", bp("real2/.nomedia")), 0);
	changed("real2/.nomedia");
	expect_paths(NULL, "");
}

/* ---- queries ---- */

Test(media_index, queries_by_owner_type_and_prefix)
{
	static const struct {
		const char *rel;
		uid_t owner;
	} files[] = {
		{ "DCIM/Camera/a.jpg", 1000 }, { "DCIM/Camera/b.PNG", 1001 },
		{ "DCIM/v.mp4", 1000 },	       { "DCIM2/c.jpg", 1000 },
		{ "Music/s.mp3", 1001 },       { "Music/t.flac", 1000 },
		{ "Download/doc.pdf", 1000 },  { "Download/blob", 1002 },
		{ "image", 1000 },
	};
	struct media_query q;

	mkd("DCIM");
	mkd("DCIM/Camera");
	mkd("DCIM2");
	mkd("Music");
	mkd("Download");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		put(files[i].rel, i);
		cr_assert_eq(chown(bp(files[i].rel), files[i].owner, 0), 0);
	}
	index_up();
	rescan();

	q = (struct media_query){ .by_owner = true, .owner = 1001 };
	expect_paths(&q, "DCIM/Camera/b.PNG\nMusic/s.mp3\n");
	q = (struct media_query){ .by_owner = true, .owner = 7 };
	expect_paths(&q, "");

	q = (struct media_query){ .mime = "image/*" };
	expect_paths(&q, "DCIM/Camera/a.jpg\nDCIM/Camera/b.PNG\nDCIM2/c.jpg\n");
	q = (struct media_query){ .mime = "image/png" };
	expect_paths(&q, "DCIM/Camera/b.PNG\n");
	q = (struct media_query){ .mime = "audio/*" };
	expect_paths(&q, "Music/s.mp3\nMusic/t.flac\n");
	q = (struct media_query){ .mime = "application/octet-stream" };
	expect_paths(&q, "Download/blob\nimage\n");
	q = (struct media_query){ .mime = "image" };
	expect_paths(&q, "");
	q = (struct media_query){ .mime = "*" };
	char *any = paths_of(&q), *all = paths_of(NULL);

	cr_expect_str_eq(any, all);
	free(any);
	free(all);

	q = (struct media_query){ .prefix = "DCIM/" };
	expect_paths(&q, "DCIM/Camera/a.jpg\nDCIM/Camera/b.PNG\nDCIM/v.mp4\n");
	q = (struct media_query){ .prefix = "DCIM" };
	expect_paths(&q, "DCIM/Camera/a.jpg\nDCIM/Camera/b.PNG\nDCIM/v.mp4\nDCIM2/c.jpg\n");
	q = (struct media_query){ .prefix = "Music/t" };
	expect_paths(&q, "Music/t.flac\n");

	/* And'ed. */
	q = (struct media_query){ .prefix = "DCIM", .mime = "image/*", .by_owner = true,
				  .owner = 1000 };
	expect_paths(&q, "DCIM/Camera/a.jpg\nDCIM2/c.jpg\n");

	/* Bad patterns. */
	static const char *bad[] = { "", "image*", "*/png", "image/*x", "im/age/*", "/*", "i*/*" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q = (struct media_query){ .mime = bad[i] };
		cr_expect_eq(media_index_query(idx, &q, path_line, stdout), -EINVAL, "'%s'",
			     bad[i]);
	}

	/* The dump: every field, tab-separated, escaped path. */
	put("Download/tab\there\\.txt", 4);
	changed("Download/tab\there\\.txt");
	q = (struct media_query){ .prefix = "Download/t" };
	char *text = dump_of(idx, &q), want[256];

	snprintf(want, sizeof(want), "Download/tab\\there\\\\.txt\t4\ttext/plain\t%u\t%lld\n",
		 (unsigned)getuid(), (long long)mtime_ns("Download/tab\there\\.txt"));
	cr_expect_str_eq(text, want);
	free(text);
}

static int stop_at_second(const struct media_row *row, void *arg)
{
	(void)row;
	return ++*(int *)arg == 2 ? -ECANCELED : 0;
}

Test(media_index, query_callback_stops_the_query)
{
	int seen = 0;

	put("a.jpg", 1);
	put("b.jpg", 1);
	put("c.jpg", 1);
	index_up();
	rescan();
	cr_expect_eq(media_index_query(idx, NULL, stop_at_second, &seen), -ECANCELED);
	cr_expect_eq(seen, 2);
}

/* ---- rescan == incremental ---- */

struct entries {
	char *dirs[512], *files[512];
	size_t ndirs, nfiles;
};

static struct entries *walked;

static int collect(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = path + strlen(root);

	(void)ftw;
	if (*rel == '/')
		rel++;
	if (flag == FTW_D && walked->ndirs < 512)
		walked->dirs[walked->ndirs++] = strdup(rel);
	else if (flag != FTW_D && walked->nfiles < 512 && (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode)))
		walked->files[walked->nfiles++] = strdup(rel);
	return 0;
}

static void entries_clear(struct entries *e)
{
	for (size_t i = 0; i < e->ndirs; i++)
		free(e->dirs[i]);
	for (size_t i = 0; i < e->nfiles; i++)
		free(e->files[i]);
	e->ndirs = e->nfiles = 0;
}

/* The directories and the files (regular, symlinks) of the tree now. */
static void entries_read(struct entries *e)
{
	entries_clear(e);
	walked = e;
	cr_assert_eq(nftw(root, collect, 16, FTW_PHYS), 0);
}

/* dir/name, or name at the root. */
static void join(char *out, size_t len, const char *d, const char *name)
{
	snprintf(out, len, "%s%s%s", d, *d ? "/" : "", name);
}

/* One random operation done on the tree and reported to the index. */
static void random_op(struct entries *e, unsigned *seed)
{
	static const char *file_names[] = { "x.jpg", "y.PNG", "z%.mp4", "w_.mp3", "v.txt", "u",
					    "t.ogg", "s.heic" };
	static const char *dir_names[] = { "d", "d0", "d.x", "d_%", "e" };
	char a[1024], b[1024];
	const char *d = e->dirs[rand_r(seed) % e->ndirs];
	const char *f = e->nfiles ? e->files[rand_r(seed) % e->nfiles] : NULL;
	int op = rand_r(seed) % 100;

	if (op < 38) { /* create */
		struct stat st;

		join(a, sizeof(a), d, file_names[rand_r(seed) % 8]);
		if (!lstat(bp(a), &st) && !S_ISREG(st.st_mode))
			return; /* a symlink renamed to this name, say */
		put(a, rand_r(seed) % 3000);
		changed(a);
	} else if (op < 48 && f) { /* write, chown */
		struct stat st;

		if (lstat(bp(f), &st) || !S_ISREG(st.st_mode))
			return;
		if (rand_r(seed) % 2)
			put(f, rand_r(seed) % 5000);
		else
			cr_assert_eq(chown(bp(f), 1000 + rand_r(seed) % 3, 0), 0);
		changed(f);
	} else if (op < 52 && f) { /* unlink */
		cr_assert_eq(unlink(bp(f)), 0);
		removed(f);
	} else if (op < 62) { /* mkdir */
		join(a, sizeof(a), d, dir_names[rand_r(seed) % 5]);
		if (strlen(a) > 60 || mkdir(bp(a), 0755))
			return;
		changed(a);
	} else if (op < 63 && *d) { /* rm -rf, reported once for the top */
		rm_tree(d);
		removed(d);
	} else if (op < 75 && f) { /* rename a file */
		const char *to = e->dirs[rand_r(seed) % e->ndirs];

		join(a, sizeof(a), to, file_names[rand_r(seed) % 8]);
		if (!strcmp(a, f) || rename(bp(f), bp(a)))
			return;
		cr_assert_eq(media_index_renamed(idx, f, a), 0);
	} else if (op < 87 && *d) { /* rename a directory */
		const char *to = e->dirs[rand_r(seed) % e->ndirs];

		join(a, sizeof(a), to, dir_names[rand_r(seed) % 5]);
		snprintf(b, sizeof(b), "%s/", d);
		if (!strcmp(a, d) || !strncmp(a, b, strlen(b)) || strlen(a) > 60 ||
		    rename(bp(d), bp(a)))
			return;
		cr_assert_eq(media_index_renamed(idx, d, a), 0, "rename %s %s", d, a);
	} else if (op < 93) { /* .nomedia in or out; at the root, rarely */
		if (!*d && rand_r(seed) % 8)
			return;
		size_t marks = 0;

		for (size_t i = 0; i < e->nfiles; i++)
			if (!strcmp(strrchr(e->files[i], '/') ? strrchr(e->files[i], '/') + 1
							     : e->files[i], ".nomedia") &&
			    marks++ == 2) {
				/* Three already: the tree should keep rows to compare. */
				snprintf(a, sizeof(a), "%s", e->files[i]);
				cr_assert_eq(unlink(bp(a)), 0);
				removed(a);
				return;
			}
		join(a, sizeof(a), d, ".nomedia");
		if (!access(bp(a), F_OK)) {
			cr_assert_eq(unlink(bp(a)), 0);
			removed(a);
		} else {
			put(a, 0);
			changed(a);
		}
	} else { /* a symlink, to a file or a directory */
		join(a, sizeof(a), d, rand_r(seed) % 2 ? "sym.jpg" : "symdir");
		if (symlink(rand_r(seed) % 2 ? root : "x.jpg", bp(a)))
			return;
		changed(a);
	}
}

Test(media_index, rescan_equals_incremental_after_random_operations)
{
	struct entries e = { 0 };
	unsigned rows = 0;

	index_up();
	for (unsigned s = 1; s <= 6; s++) {
		unsigned seed = s * 7919;

		for (int i = 1; i <= 400; i++) {
			char *incremental, *rescanned;

			entries_read(&e);
			random_op(&e, &seed);
			if (i % 50)
				continue;
			incremental = dump_of(idx, NULL);
			rescan();
			rescanned = dump_of(idx, NULL);
			cr_assert_str_eq(incremental, rescanned,
					 "seed %u, op %d: incremental\n%s-- rescan\n%s", s, i,
					 incremental, rescanned);
			for (char *p = rescanned; *p; p++)
				rows += *p == '\n';
			free(incremental);
			free(rescanned);
		}
	}
	entries_clear(&e);
	/* 48 comparisons: they must have compared something. */
	cr_expect_gt(rows, 400, "the random tree should have held rows: %u", rows);
}

/* ---- crash safety ---- */

static int64_t count_rows(sqlite3 *conn)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	cr_assert_eq(sqlite3_prepare_v2(conn, "SELECT count(*) FROM media", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Whether another connection holds the write lock: a transaction is open. */
static bool writer_inside(sqlite3 *probe)
{
	int rc = sqlite3_exec(probe, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_exec(probe, "ROLLBACK", NULL, NULL, NULL);
		return false;
	}
	return rc == SQLITE_BUSY;
}

/* The child: rescans and renames forever, until killed. */
static void writer_loop(int ready)
{
	struct media_index *mine;

	if (media_index_open(db, root, 0, &mine))
		_exit(2);
	if (write(ready, "x", 1) != 1)
		_exit(3);
	for (;;) {
		bool there = !access(bp("files"), F_OK);
		const char *from = there ? "files" : "moved", *to = there ? "moved" : "files";

		if (media_index_rescan(mine, NULL))
			_exit(4);
		if (rename(bp(from), bp(to)) || media_index_renamed(mine, from, to))
			_exit(5);
	}
}

Test(media_index, killed_writer_leaves_a_readable_index)
{
	const int nfiles = 2000, kills = 8;
	char name[64], wal[320];
	int inside = 0;

	mkd("files");
	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "files/f%04d.jpg", i);
		put(name, i % 7);
	}
	index_up();
	rescan();
	media_index_close(idx);
	idx = NULL;
	snprintf(wal, sizeof(wal), "%s-wal", db);

	for (int k = 0; k < kills; k++) {
		int ready[2], status;
		sqlite3 *probe, *conn;
		struct stat st;
		char *text;
		pid_t pid;
		char c;

		cr_assert_eq(pipe(ready), 0);
		pid = fork();
		cr_assert(pid >= 0);
		if (!pid) {
			close(ready[0]);
			writer_loop(ready[1]);
		}
		close(ready[1]);
		cr_assert_eq(read(ready[0], &c, 1), 1, "the writer did not start");
		close(ready[0]);

		/* Kill it at a moment it is inside a transaction, if one comes soon. */
		cr_assert_eq(sqlite3_open_v2(db, &probe, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
		usleep(1000 * (5 + 13 * k));
		for (int tries = 0; tries < 2000; tries++)
			if (writer_inside(probe)) {
				inside++;
				break;
			}
		/* Closed first: the next connection must recover the WAL itself. */
		sqlite3_close(probe);
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status), "the writer exited by itself: %d", status);
		cr_assert_eq(stat(wal, &st), 0, "no WAL left by the killed writer");

		/* A plain connection: consistent, and never half a rescan. */
		cr_assert_eq(sqlite3_open_v2(db, &conn, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		sqlite3_stmt *chk;

		cr_assert_eq(sqlite3_prepare_v2(conn, "PRAGMA integrity_check", -1, &chk, NULL),
			     SQLITE_OK);
		cr_assert_eq(sqlite3_step(chk), SQLITE_ROW);
		cr_expect_str_eq((const char *)sqlite3_column_text(chk, 0), "ok");
		sqlite3_finalize(chk);
		cr_expect_eq(count_rows(conn), nfiles, "kill %d", k);
		sqlite3_close(conn);

		/* And the index itself opens, reads and writes. */
		index_up();
		text = dump_of(idx, NULL);
		cr_expect_eq(strlen(text) > 0, true);
		free(text);
		rescan();
		media_index_close(idx);
		idx = NULL;
	}
	cr_expect_gt(inside, kills / 2, "too few kills landed inside a transaction: %d", inside);
}

/* ---- threads, and a reader process ---- */

#define THREADS 4
#define PER_THREAD 150

/*
 * Criterion's asserts may not fail outside the test's thread: a writer
 * stops at its first failure and returns what failed.
 */
static void *writer_thread(void *arg)
{
	long t = (long)arg;
	char d[32], a[64], b[64], pa[400], pb[400], buf[PER_THREAD];
	static char failed[THREADS][128];
	char *why = failed[t];
	int fd, ret;

	memset(buf, 'x', sizeof(buf));
	snprintf(d, sizeof(d), "t%ld", t);
	snprintf(pa, sizeof(pa), "%s/%s", root, d);
	if (mkdir(pa, 0755) || media_index_file_changed(idx, d)) {
		snprintf(why, 128, "mkdir %s", d);
		return why;
	}
	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(a, sizeof(a), "%s/f%03d.jpg", d, i);
		snprintf(pa, sizeof(pa), "%s/%s", root, a);
		fd = open(pa, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, buf, i) != i || close(fd)) {
			snprintf(why, 128, "create %s: %s", a, strerror(errno));
			return why;
		}
		ret = media_index_file_changed(idx, a);
		if (!ret && i % 10 == 0) {
			snprintf(b, sizeof(b), "%s/f%03d.png", d, i);
			snprintf(pb, sizeof(pb), "%s/%s", root, b);
			ret = rename(pa, pb) ? -errno : media_index_renamed(idx, a, b);
		} else if (!ret && i % 25 == 3) {
			ret = unlink(pa) ? -errno : media_index_removed(idx, a);
		}
		if (ret) {
			snprintf(why, 128, "%s: %s", a, strerror(-ret));
			return why;
		}
	}
	snprintf(a, sizeof(a), "%s-renamed", d);
	snprintf(pa, sizeof(pa), "%s/%s", root, d);
	snprintf(pb, sizeof(pb), "%s/%s", root, a);
	ret = rename(pa, pb) ? -errno : media_index_renamed(idx, d, a);
	if (ret) {
		snprintf(why, 128, "rename %s: %s", d, strerror(-ret));
		return why;
	}
	return NULL;
}

static int count_row(const struct media_row *row, void *arg)
{
	(void)row;
	++*(long *)arg;
	return 0;
}

/* The reader: queries until the pipe closes; exits with how many it did, or 255. */
static void reader_loop(int stop)
{
	struct media_index *ro;
	long n, queries = 0;
	char c;

	fcntl(stop, F_SETFL, O_NONBLOCK);
	if (media_index_open(db, NULL, MEDIA_INDEX_RDONLY, &ro))
		_exit(255);
	while (read(stop, &c, 1) < 0 && errno == EAGAIN) {
		struct media_query q = { .mime = "image/*" };

		n = 0;
		if (media_index_query(ro, &q, count_row, &n))
			_exit(255);
		queries++;
	}
	media_index_close(ro);
	_exit(queries > 100 ? 100 : (int)queries);
}

Test(media_index, concurrent_writers_and_a_reader)
{
	pthread_t th[THREADS];
	int stop[2], status;
	char *incremental, *rescanned;
	struct media_query q;
	pid_t reader;

	index_up();
	cr_assert_eq(pipe(stop), 0);
	reader = fork(); /* before any thread */
	cr_assert(reader >= 0);
	if (!reader) {
		close(stop[1]);
		reader_loop(stop[0]);
	}
	close(stop[0]);
	for (long t = 0; t < THREADS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, writer_thread, (void *)t), 0);
	for (int t = 0; t < THREADS; t++) {
		void *failed;

		pthread_join(th[t], &failed);
		cr_expect_null(failed, "writer %d: %s", t, failed ? (char *)failed : "");
	}
	close(stop[1]);
	cr_assert_eq(waitpid(reader, &status, 0), reader);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 255, "the reader failed");
	cr_expect_gt(WEXITSTATUS(status), 0, "the reader never got to query");

	for (int t = 0; t < THREADS; t++) {
		char pre[32];

		snprintf(pre, sizeof(pre), "t%d-renamed/", t);
		q = (struct media_query){ .prefix = pre, .mime = "image/png" };
		char *png = paths_of(&q);
		long n = 0;

		q.mime = NULL;
		ok(media_index_query(idx, &q, count_row, &n), "count", pre);
		/* 150 files, 15 renamed to .png, 6 unlinked (i % 25 == 3). */
		cr_expect_eq(n, PER_THREAD - 6, "thread %d rows", t);
		cr_expect_eq(strlen(png), (size_t)15 * (strlen(pre) + 9), "thread %d pngs", t);
		free(png);
	}
	incremental = dump_of(idx, NULL);
	rescan();
	rescanned = dump_of(idx, NULL);
	cr_expect_str_eq(incremental, rescanned);
	free(incremental);
	free(rescanned);
}

/* ---- opening ---- */

Test(media_index, open_modes_and_versions)
{
	struct media_index *ro;
	struct stat st;
	sqlite3 *conn;
	char other[320];

	/* Read-only needs an index to be there. */
	cr_expect_eq(media_index_open(db, NULL, MEDIA_INDEX_RDONLY, &ro), -ENOENT);
	cr_expect_eq(media_index_open(db, NULL, 0x80, &ro), -EINVAL);

	put("a.jpg", 1);
	index_up();
	cr_assert_eq(stat(db, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600, "the index names every file: private");
	rescan();

	ok(media_index_open(db, NULL, MEDIA_INDEX_RDONLY, &ro), "open read-only", db);
	cr_expect_eq(media_index_file_changed(ro, "a.jpg"), -EROFS);
	cr_expect_eq(media_index_rescan(ro, NULL), -EROFS);
	char *text = dump_of(ro, NULL);

	cr_expect_eq(strncmp(text, "a.jpg\t1\timage/jpeg\t", 19), 0, "%s", text);
	free(text);
	media_index_close(ro);

	/* No backing root: queries only. */
	ok(media_index_open(db, NULL, 0, &ro), "open without a tree", db);
	cr_expect_eq(media_index_file_changed(ro, "a.jpg"), -EINVAL);
	media_index_close(ro);

	/* Another schema version is refused, not misread. */
	media_index_close(idx);
	idx = NULL;
	cr_assert_eq(sqlite3_open(db, &conn), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(conn, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(conn);
	cr_expect_eq(media_index_open(db, root, 0, &ro), -EPROTO);
	cr_expect_eq(media_index_open(db, NULL, MEDIA_INDEX_RDONLY, &ro), -EPROTO);

	/* Not a database at all. */
	snprintf(other, sizeof(other), "%s/garbage.db", dir);
	int fd = open(other, O_WRONLY | O_CREAT, 0600);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "this is not a database, not at all, not even close....", 54), 54);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(write(fd, "junkjunkjunkjunk", 16), 16);
	close(fd);
	cr_expect_eq(media_index_open(other, root, 0, &ro), -EUCLEAN);
	cr_expect_eq(media_index_open(dir, root, 0, &ro), -EISDIR);
	cr_expect_null(ro);
}

/* ---- bounded fds, bind mount loops ---- */

Test(media_index, deep_tree_with_few_fds)
{
	char rel[1200] = "", file[1300];
	struct rlimit old, low;
	int open_fds = 0;
	DIR *fds;

	for (int i = 0; i < 300; i++) {
		strcat(rel, i ? "/d" : "d");
		mkd(rel);
	}
	snprintf(file, sizeof(file), "%s/bottom.jpg", rel);
	put(file, 1);
	index_up();

	fds = opendir("/proc/self/fd");
	cr_assert_not_null(fds);
	while (readdir(fds))
		open_fds++;
	closedir(fds);
	/* What is open now (less ".", ".." and the listing's own), and 4 more. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = open_fds - 3 + 4;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	rescan();
	changed(file);
	setrlimit(RLIMIT_NOFILE, &old);
	{
		char *want;

		cr_assert_gt(asprintf(&want, "%s\n", file), 0);
		expect_paths(NULL, want);
		free(want);
	}
}

Test(media_index, bind_mount_loop_is_not_entered_again)
{
	mkd("A");
	mkd("A/B");
	mkd("A/B/loop");
	mkd("C");
	put("A/x.jpg", 1);
	put("A/B/y.jpg", 1);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		cr_skip_test("no mount namespace: %s", strerror(errno));
	/* C shows A/B a second time; A/B/loop shows A inside itself. */
	snprintf(bound[0], sizeof(bound[0]), "%s", bp("C"));
	cr_assert_eq(mount(bp("A/B"), bound[0], NULL, MS_BIND, NULL), 0, "%s", strerror(errno));
	snprintf(bound[1], sizeof(bound[1]), "%s", bp("A/B/loop"));
	cr_assert_eq(mount(bp("A"), bound[1], NULL, MS_BIND, NULL), 0, "%s", strerror(errno));
	index_up();
	rescan();
	expect_paths(NULL, "A/B/y.jpg\nA/x.jpg\nC/y.jpg\n");
}
