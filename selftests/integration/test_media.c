// SPDX-License-Identifier: MIT
/*
 * The media storage overlay through real mounts: the media policy
 * (bpf/media.bpf.c) and the media userspace module (media/user_media.c), as
 * several uids (run_as: setresuid in a child).
 *
 * Visibility of Android/data and Android/obb for lookup, readdir and
 * readdirplus, create and rename, with the kernel's caches in play (one
 * uid's success must not become another's through a cached entry or
 * listing).  Location redaction: the bytes read through the mount compared
 * with the backing file, where the expected zero ranges come from exiftool
 * (selftests/media/exiftool_gps_ranges.py), not from the code under test;
 * that the other opens stay on passthrough (no READ reaches the daemon) and
 * redacted ones do not.  The media index: rows after each kind of change,
 * through the CLI; survival of a SIGKILL of the daemon in the middle of
 * writes; a rescan giving the same rows as the updates did.
 *
 * Uids: A (10001, com.a, holds the location grant), B (10002, com.b),
 * P (10003, privileged), O (10004, in no table).
 */
#define _GNU_SOURCE
#include "fixture.h"
#include "../../media/media_index.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define UID_A 10001
#define UID_B 10002
#define UID_P 10003
#define UID_O 10004

static char pol[16];
static char db_dir[PATH_MAX], db[PATH_MAX];
static char jpeggen_bin[PATH_MAX], ranges_script[PATH_MAX];

/* What a child leaves for the test: shared, since it runs in another process. */
struct shared {
	size_t len;
	char buf[4 << 20];
};
static struct shared *shared;

/*
 * The holder (hold_start) a failed test left: its process group, whose
 * open would keep the mount busy.
 */
static pid_t holder;

static void media_fini(void)
{
	if (holder > 0) {
		kill(-holder, SIGKILL);
		waitpid(holder, NULL, 0);
	}
	mnt_teardown();
	if (pol[0])
		test_policy_unload(pol);
	if (db_dir[0])
		sh("rm -rf '%s'", db_dir);
	if (shared)
		munmap(shared, sizeof(*shared));
}

TestSuite(media, .fini = media_fini, .timeout = 180);

/* ---- setup ---- */

static void mkdir_777(const char *path)
{
	cr_assert(mkdir(path, 0777) == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
	cr_assert_eq(chmod(path, 0777), 0);
}

/* The tree every test starts from, made in the backing directory. */
static void seed_tree(void)
{
	static const char *const dirs[] = {
		"Android", "Android/data", "Android/data/com.a", "Android/data/com.b",
		"Android/obb", "Android/obb/com.a", "Android/obb/com.b", "DCIM", "DCIM/Camera",
	};

	/* No sticky root: the kernel would refuse renames over root's entries itself. */
	cr_assert_eq(chmod(M.dir, 0777), 0);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		mkdir_777(bp(&M, dirs[i]));
	put(bp(&M, "Android/data/com.a/a.txt"), "a's");
	put(bp(&M, "Android/data/com.b/b.txt"), "b's");
	cr_assert_eq(chmod(bp(&M, "Android/data/com.a/a.txt"), 0666), 0);
	cr_assert_eq(chmod(bp(&M, "Android/data/com.b/b.txt"), 0666), 0);
}

static void jpeg(const char *rel, const char *args)
{
	cr_assert_eq(sh("'%s' %s '%s'", jpeggen_bin, args, bp(&M, rel)), 0, "jpeggen %s", rel);
	cr_assert_eq(chmod(bp(&M, rel), 0666), 0);
}

/*
 * Loads the policy, fills its tables, mounts with the media module and
 * makes the tree (behind the daemon's back, then rescanned with the CLI).
 */
static void media_start(void)
{
	char out[4096], opts[PATH_MAX + 64];

	find_above("jpeggen", jpeggen_bin, sizeof(jpeggen_bin));
	find_above("selftests/media/exiftool_gps_ranges.py", ranges_script, sizeof(ranges_script));
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	cr_assert(shared != MAP_FAILED);
	snprintf(db_dir, sizeof(db_dir), "%s/mdb.XXXXXX", test_tmp());
	cr_assert(mkdtemp(db_dir));
	cr_assert(snprintf(db, sizeof(db), "%s/index.db", db_dir) < (int)sizeof(db));

	test_policy_load("media", "m", pol);
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s app add %d com.a", pol, UID_A), 0,
		     "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s app add %d com.b", pol, UID_B), 0,
		     "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s privileged add %d", pol, UID_P),
		     0, "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s grant %d location", pol, UID_A),
		     0, "%s", out);

	snprintf(opts, sizeof(opts), "policy=%s,user=media:%s", pol, db);
	start(opts);
	/* Other uids must reach the mountpoint inside the test's scratch dir. */
	cr_assert_eq(chmod(M.root, 0711), 0);
	seed_tree();
}

/* ---- acting as a uid ---- */

enum act {
	ACT_STAT,
	ACT_LIST, /* names of a directory, sorted, one per line, into shared */
	ACT_READ, /* the whole file into shared */
	ACT_MMAP, /* the whole file through a shared mapping into shared */
	ACT_COPY, /* copy_file_range a to b */
	ACT_MKDIR,
	ACT_CREATE,
	ACT_MKNOD,
	ACT_SYMLINK,
	ACT_LINK,
	ACT_RENAME,
	ACT_UNLINK,
	ACT_RMDIR,
	ACT_WRITE, /* a: path, b: text */
};

struct act_arg {
	enum act act;
	const char *a, *b;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *path)
{
	char *names[4096];
	size_t n = 0;
	struct dirent *e;
	DIR *d = opendir(path);

	if (!d)
		return errno;
	while ((e = readdir(d)) && n < 4096)
		names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	shared->len = 0;
	for (size_t i = 0; i < n; i++) {
		shared->len += snprintf(shared->buf + shared->len, sizeof(shared->buf) - shared->len,
					"%s\n", names[i]);
		free(names[i]);
	}
	return 0;
}

static int read_all(const char *path, bool map)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return errno;
	if (fstat(fd, &st) || (size_t)st.st_size > sizeof(shared->buf))
		return EFBIG;
	shared->len = 0;
	if (map) {
		void *p = st.st_size ? mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0) : NULL;

		if (p == MAP_FAILED)
			return errno;
		memcpy(shared->buf, p, st.st_size);
		munmap(p, st.st_size);
		shared->len = st.st_size;
	} else {
		while ((n = read(fd, shared->buf + shared->len, sizeof(shared->buf) - shared->len)) >
		       0)
			shared->len += n;
		if (n < 0)
			return errno;
	}
	return close(fd) ? errno : 0;
}

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	struct stat st;
	ssize_t n;
	loff_t done = 0;

	if (in < 0 || out < 0 || fstat(in, &st))
		return errno;
	while (done < st.st_size) {
		n = copy_file_range(in, NULL, out, NULL, st.st_size - done, 0);
		if (n <= 0)
			return n < 0 ? errno : EIO;
		done += n;
	}
	close(in);
	return close(out) ? errno : 0;
}

static int act_fn(void *p)
{
	const struct act_arg *a = p;
	struct stat st;
	int r = -1, fd;

	switch (a->act) {
	case ACT_STAT:
		r = stat(a->a, &st);
		break;
	case ACT_LIST:
		return list_dir(a->a);
	case ACT_READ:
		return read_all(a->a, false);
	case ACT_MMAP:
		return read_all(a->a, true);
	case ACT_COPY:
		return copy_file(a->a, a->b);
	case ACT_MKDIR:
		r = mkdir(a->a, 0777);
		break;
	case ACT_CREATE:
		fd = open(a->a, O_WRONLY | O_CREAT | O_EXCL, 0666);
		r = fd < 0 ? -1 : close(fd);
		break;
	case ACT_MKNOD:
		r = mknod(a->a, S_IFREG | 0666, 0);
		break;
	case ACT_SYMLINK:
		r = symlink("target", a->a);
		break;
	case ACT_LINK:
		r = link(a->a, a->b);
		break;
	case ACT_RENAME:
		r = rename(a->a, a->b);
		break;
	case ACT_UNLINK:
		r = unlink(a->a);
		break;
	case ACT_RMDIR:
		r = rmdir(a->a);
		break;
	case ACT_WRITE:
		fd = open(a->a, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (fd < 0)
			return errno;
		r = write(fd, a->b, strlen(a->b)) == (ssize_t)strlen(a->b) ? close(fd) : -1;
		break;
	}
	return r < 0 ? errno : 0;
}

/* Does act as uid: 0 or the errno it failed with. */
static int as(uid_t uid, enum act act, const char *a, const char *b)
{
	struct act_arg arg = { act, a, b };

	return run_as(uid, uid, act_fn, &arg);
}

/* The sorted listing of a directory as uid, one name a line ("" on failure). */
static const char *listing(uid_t uid, const char *path)
{
	static char out[8192];

	out[0] = '\0';
	if (as(uid, ACT_LIST, path, NULL) == 0)
		snprintf(out, sizeof(out), "%.*s", (int)shared->len, shared->buf);
	return out;
}

#define assert_errno(got, want, what)                                                              \
	do {                                                                                       \
		int got_ = (got);                                                                  \
                                                                                                   \
		if (got_ != (want))                                                                \
			cr_assert_fail("%s: %s, expected %s", (what), strerror(got_),              \
				       strerror(want));                                            \
	} while (0)

/* ---- visibility ---- */

Test(media, lookup_shows_each_app_its_own_directory_only)
{
	media_start();
	for (int round = 0; round < 2; round++) {
		/* Alternating: what one uid looked up must not be cached for the next. */
		assert_errno(as(UID_A, ACT_STAT, mp(&M, "Android/data/com.a"), NULL), 0, "A com.a");
		assert_errno(as(UID_B, ACT_STAT, mp(&M, "Android/data/com.a"), NULL), ENOENT,
			     "B com.a");
		assert_errno(as(UID_O, ACT_STAT, mp(&M, "Android/data/com.a"), NULL), ENOENT,
			     "O com.a");
		assert_errno(as(UID_B, ACT_STAT, mp(&M, "Android/data/com.b"), NULL), 0, "B com.b");
		assert_errno(as(UID_A, ACT_STAT, mp(&M, "Android/data/com.b"), NULL), ENOENT,
			     "A com.b");
		assert_errno(as(UID_A, ACT_READ, mp(&M, "Android/data/com.a/a.txt"), NULL), 0,
			     "A a.txt");
		assert_errno(as(UID_B, ACT_READ, mp(&M, "Android/data/com.a/a.txt"), NULL), ENOENT,
			     "B a.txt through com.a");
		assert_errno(as(UID_A, ACT_STAT, mp(&M, "Android/obb/com.b"), NULL), ENOENT,
			     "A obb/com.b");
		assert_errno(as(UID_B, ACT_STAT, mp(&M, "Android/obb/com.b"), NULL), 0,
			     "B obb/com.b");
		assert_errno(as(UID_P, ACT_STAT, mp(&M, "Android/data/com.a"), NULL), 0, "P com.a");
		assert_errno(as(UID_P, ACT_STAT, mp(&M, "Android/data/com.b/b.txt"), NULL), 0,
			     "P b.txt");
		/* The privileged listing makes entries (READDIRPLUS): not B's to use. */
		cr_assert_str_eq(listing(UID_P, mp(&M, "Android/data")), ".\n..\ncom.a\ncom.b\n");
		assert_errno(as(UID_B, ACT_STAT, mp(&M, "Android/data/com.a/a.txt"), NULL), ENOENT,
			     "B a.txt after P listed");
	}
	/* Outside the private parents nothing is hidden. */
	assert_errno(as(UID_O, ACT_STAT, mp(&M, "DCIM/Camera"), NULL), 0, "O DCIM/Camera");
	cr_assert_str_eq(listing(UID_O, mp(&M, "Android")), ".\n..\ndata\nobb\n");
	/* A missing name of one's own is missing, and not cached as missing for later. */
	assert_errno(as(UID_A, ACT_STAT, mp(&M, "Android/data/com.a/none"), NULL), ENOENT, "none");
}

/*
 * Enough entries that one listing takes several requests: the kernel asks
 * READDIRPLUS first, then READDIR for the rest when nothing looked the
 * entries up, so both postfilters filter.
 */
Test(media, readdir_and_readdirplus_list_only_ones_own)
{
	char name[64], want_p[16384] = ".\n..\n";
	uint64_t rd0, rdp0;

	media_start();
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "Android/data/com.filler.with.a.long.name.%03d", i);
		mkdir_777(bp(&M, name));
	}
	for (int i = 0; i < 200; i++) {
		char line[64];

		if (i == 0)
			strcat(want_p, "com.a\ncom.b\n");
		snprintf(line, sizeof(line), "com.filler.with.a.long.name.%03d\n", i);
		strcat(want_p, line);
	}
	rd0 = requests("READDIR");
	rdp0 = requests("READDIRPLUS");
	for (int round = 0; round < 2; round++) {
		cr_assert_str_eq(listing(UID_A, mp(&M, "Android/data")), ".\n..\ncom.a\n");
		cr_assert_str_eq(listing(UID_B, mp(&M, "Android/data")), ".\n..\ncom.b\n");
		cr_assert_str_eq(listing(UID_O, mp(&M, "Android/data")), ".\n..\n");
		cr_assert_str_eq(listing(UID_P, mp(&M, "Android/data")), want_p);
		cr_assert_str_eq(listing(UID_A, mp(&M, "Android/data")), ".\n..\ncom.a\n");
	}
	cr_assert_gt(requests("READDIRPLUS"), rdp0, "no READDIRPLUS: readdirplus untested");
	cr_assert_gt(requests("READDIR"), rd0, "no READDIR: plain readdir untested");
	/* Below one's own directory, listings are plain. */
	cr_assert_str_eq(listing(UID_A, mp(&M, "Android/data/com.a")), ".\n..\na.txt\n");
	cr_assert_str_eq(listing(UID_B, mp(&M, "Android/data/com.a")), "");
}

Test(media, making_another_apps_entry_fails_whether_it_exists_or_not)
{
	static const enum act makers[] = { ACT_MKDIR, ACT_CREATE, ACT_MKNOD, ACT_SYMLINK };

	media_start();
	put(bp(&M, "DCIM/x"), "x");
	cr_assert_eq(chmod(bp(&M, "DCIM/x"), 0666), 0);
	for (size_t i = 0; i < sizeof(makers) / sizeof(makers[0]); i++) {
		assert_errno(as(UID_A, makers[i], mp(&M, "Android/data/com.b"), NULL), EACCES,
			     "A makes existing com.b");
		assert_errno(as(UID_A, makers[i], mp(&M, "Android/data/com.new"), NULL), EACCES,
			     "A makes com.new");
		assert_errno(as(UID_O, makers[i], mp(&M, "Android/obb/com.new"), NULL), EACCES,
			     "O makes obb/com.new");
	}
	assert_errno(as(UID_A, ACT_LINK, mp(&M, "DCIM/x"), mp(&M, "Android/data/com.new")), EACCES,
		     "A links com.new");
	cr_assert_eq(access(bp(&M, "Android/data/com.new"), F_OK), -1, "com.new was made");
	cr_assert_eq(access(bp(&M, "Android/obb/com.new"), F_OK), -1, "obb/com.new was made");

	/* One's own: removed and made again. */
	cr_assert_eq(unlink(bp(&M, "Android/data/com.a/a.txt")), 0);
	assert_errno(as(UID_A, ACT_RMDIR, mp(&M, "Android/data/com.a"), NULL), 0, "A rmdir com.a");
	assert_errno(as(UID_A, ACT_MKDIR, mp(&M, "Android/data/com.a"), NULL), 0, "A mkdir com.a");
	assert_errno(as(UID_A, ACT_CREATE, mp(&M, "Android/data/com.a/new"), NULL), 0, "A new");
	assert_errno(as(UID_B, ACT_STAT, mp(&M, "Android/data/com.a"), NULL), ENOENT,
		     "B sees the new com.a");
	/* Another's cannot be removed. */
	assert_errno(as(UID_A, ACT_RMDIR, mp(&M, "Android/obb/com.b"), NULL), ENOENT,
		     "A rmdir obb/com.b");
	/* The privileged make anything. */
	assert_errno(as(UID_P, ACT_MKDIR, mp(&M, "Android/data/com.p"), NULL), 0, "P mkdir");
	assert_errno(as(UID_A, ACT_STAT, mp(&M, "Android/data/com.p"), NULL), ENOENT,
		     "A sees P's com.p");
	/* The structure is not the apps' to remove. */
	assert_errno(as(UID_A, ACT_RMDIR, mp(&M, "Android/obb"), NULL), EACCES, "A rmdir obb");
}

Test(media, renames_into_or_out_of_another_apps_directory_fail)
{
	media_start();
	put(bp(&M, "DCIM/x"), "x");
	put(bp(&M, "Android/data/com.a/mine"), "mine");
	cr_assert_eq(chown(bp(&M, "Android/data/com.a/mine"), UID_A, UID_A), 0); /* A's to move */
	mkdir_777(bp(&M, "DCIM/dir"));
	cr_assert_eq(chmod(bp(&M, "DCIM/x"), 0666), 0);

	/* Out of another's: its names are missing. */
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "Android/data/com.b/b.txt"), mp(&M, "DCIM/b")),
		     ENOENT, "A moves b.txt out");
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "Android/data/com.b"), mp(&M, "DCIM/stolen")),
		     ENOENT, "A moves com.b out");
	/* Into another's. */
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "DCIM/x"), mp(&M, "Android/data/com.b/x")),
		     ENOENT, "A moves x into com.b");
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "DCIM/dir"), mp(&M, "Android/data/com.b")),
		     EXDEV, "A replaces com.b");
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "Android/data/com.a"), mp(&M, "Android/data/com.b")),
		     EXDEV, "A renames com.a to com.b");
	/* Into a private parent, even one's own name, even privileged: mv copies instead. */
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "DCIM/dir"), mp(&M, "Android/obb/com.a2")),
		     EXDEV, "A moves a dir into obb");
	assert_errno(as(UID_P, ACT_RENAME, mp(&M, "DCIM/dir"), mp(&M, "Android/obb/com.p")),
		     EXDEV, "P moves a dir into obb");
	/* The structure stays. */
	assert_errno(as(UID_P, ACT_RENAME, mp(&M, "Android/data"), mp(&M, "Android/gone")),
		     EACCES, "P renames Android/data");
	assert_errno(as(UID_P, ACT_RENAME, mp(&M, "DCIM/dir"), mp(&M, "Android/data")), EACCES,
		     "P replaces Android/data");
	assert_errno(as(UID_P, ACT_RENAME, mp(&M, "DCIM/dir"), mp(&M, "Android")), EACCES,
		     "P replaces Android");
	/* Within one's own directory, and out of it, as anywhere. */
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "Android/data/com.a/mine"),
			mp(&M, "Android/data/com.a/mine2")),
		     0, "A renames in com.a");
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "Android/data/com.a/mine2"), mp(&M, "DCIM/mine")),
		     0, "A moves its file out");

	/* Nothing refused reached the backing directory. */
	cr_assert_eq(access(bp(&M, "Android/data/com.b/b.txt"), F_OK), 0);
	cr_assert_eq(access(bp(&M, "DCIM/x"), F_OK), 0);
	cr_assert_eq(access(bp(&M, "DCIM/dir"), F_OK), 0);
	cr_assert_eq(access(bp(&M, "Android/data/com.a"), F_OK), 0);
	cr_assert_eq(access(bp(&M, "Android/data"), F_OK), 0);
	cr_assert_eq(access(bp(&M, "DCIM/mine"), F_OK), 0);
}

/* ---- redaction ---- */

static unsigned char *file_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	cr_assert(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n ? n : 1);
	cr_assert(buf && fread(buf, 1, n, f) == (size_t)n);
	fclose(f);
	*len = n;
	return buf;
}

/* exiftool's GPS ranges of a backing file, as a byte map; how many bytes. */
static size_t exiftool_map(const char *path, bool *map, size_t size)
{
	char cmd[PATH_MAX * 2 + 16], line[128];
	size_t bytes = 0;
	FILE *f;

	memset(map, 0, size);
	snprintf(cmd, sizeof(cmd), "'%s' '%s'", ranges_script, path);
	f = popen(cmd, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long off, len;

		cr_assert_eq(sscanf(line, "%llu %llu", &off, &len), 2, "exiftool ranges: %s", line);
		cr_assert_leq(off + len, size);
		for (unsigned long long i = off; i < off + len; i++)
			map[i] = true;
		bytes += len;
	}
	cr_assert_eq(pclose(f), 0, "%s failed on %s", ranges_script, path);
	return bytes;
}

/*
 * Reads rel through the mount as uid (by read, or by mmap) and checks it
 * against the backing file: redacted, exiftool's GPS ranges read as zeros
 * and every other byte is the file's; or else identical.
 */
/*
 * Reads rel as uid; redacted, the GPS bytes that exiftool finds in
 * gps_of (another file of the same layout: rel itself, or the photo rel
 * was made from) read as zeros, all others as rel's own.
 */
static void check_read_as(uid_t uid, enum act how, const char *rel, const char *gps_of,
			  bool redacted)
{
	size_t len;
	unsigned char *want = file_bytes(bp(&M, rel), &len);
	bool *map = calloc(len, 1);
	size_t gps = exiftool_map(bp(&M, gps_of), map, len), nonzero = 0;

	/*
	 * The daemon serves media files FOPEN_DIRECT_IO (the policy's NO_CACHE),
	 * and a shared mapping of such a file needs FUSE_DIRECT_IO_ALLOW_MMAP
	 * (7.39, Linux 6.6): before it the kernel refuses the mmap with ENODEV.
	 */
	if (how == ACT_MMAP && mnt_stat(&M, "kernel_minor") < 39) {
		assert_errno(as(uid, how, mp(&M, rel), NULL), ENODEV, rel);
		goto out;
	}
	assert_errno(as(uid, how, mp(&M, rel), NULL), 0, rel);
	cr_assert_eq(shared->len, len, "%s as %u: %zu bytes, the file has %zu", rel, uid,
		     shared->len, len);
	cr_assert_gt(gps, 100, "%s: exiftool finds only %zu GPS bytes", rel, gps);
	for (size_t i = 0; i < len; i++) {
		unsigned char got = shared->buf[i];

		if (redacted && map[i]) {
			cr_assert_eq(got, 0, "%s as %u: GPS byte %zu is %#x", rel, uid, i, got);
			nonzero += want[i] != 0;
		} else {
			cr_assert_eq(got, want[i], "%s as %u: byte %zu is %#x, the file's %#x", rel,
				     uid, i, got, want[i]);
		}
	}
	if (redacted)
		cr_assert_gt(nonzero, 50, "%s: the GPS bytes were zeros already", rel);
out:
	free(map);
	free(want);
}

static void check_read(uid_t uid, enum act how, const char *rel, bool redacted)
{
	check_read_as(uid, how, rel, rel, redacted);
}

static void wait_release(void)
{
	/* RELEASE is sent after close(2) returns; the next test's opens must find none. */
	for (int i = 0; i < 100 && mnt_stat(&M, "handles") > 0; i++)
		usleep(20000);
	cr_assert_eq(mnt_stat(&M, "handles"), 0, "open handles left");
}

Test(media, gps_bytes_are_zeros_for_apps_without_the_grant)
{
	uint64_t reads;

	media_start();
	jpeg("DCIM/Camera/gps.jpg", "");
	jpeg("DCIM/Camera/mm.JPEG", "--order mm --thumbnail --app 3 --lat -33.8568 --lon 151.2153");
	jpeg("DCIM/Camera/camera.jpg", "--no-jfif --size 640x480");
	jpeg("DCIM/Camera/nogps.jpg", "--no-gps");
	cr_assert_eq(sh("cp '%s' '%s' && chmod 666 '%s'", bp(&M, "DCIM/Camera/gps.jpg"),
			bp(&M, "DCIM/gps.bin"), bp(&M, "DCIM/gps.bin")),
		     0);

	/*
	 * Privileged, granted: unredacted, and passthrough (no READ reaches the
	 * daemon) where the kernel has it.
	 */
	reads = requests("READ");
	check_read(UID_P, ACT_READ, "DCIM/Camera/gps.jpg", false);
	check_read(UID_A, ACT_READ, "DCIM/Camera/gps.jpg", false);
	check_read(UID_A, ACT_READ, "DCIM/Camera/mm.JPEG", false);
	check_read(UID_A, ACT_READ, "DCIM/gps.bin", false);
	/* Nothing to redact: the module read it, then passthrough too. */
	assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/Camera/nogps.jpg"), NULL), 0, "nogps");
	if (mnt_stat(&M, "passthrough"))
		cr_assert_eq(requests("READ"), reads, "a non-redacted read reached the daemon");
	wait_release();

	/* The others: redacted, by the daemon, whatever the file is called. */
	check_read(UID_B, ACT_READ, "DCIM/Camera/gps.jpg", true);
	wait_release();
	check_read(UID_B, ACT_READ, "DCIM/gps.bin", true);
	cr_assert_gt(requests("READ"), reads, "a redacted read did not reach the daemon");
	wait_release();
	check_read(UID_O, ACT_READ, "DCIM/Camera/mm.JPEG", true);
	wait_release();
	check_read(UID_B, ACT_READ, "DCIM/Camera/camera.jpg", true);
	wait_release();
	check_read(UID_B, ACT_MMAP, "DCIM/Camera/mm.JPEG", true);
	wait_release();
	cr_assert_gt(mnt_stat(&M, "user.media.reads_redacted"), 0);
	cr_assert_geq(mnt_stat(&M, "user.media.opens_redacted"), 5);
	/* And the privileged read the file whole again: no redacted page was kept. */
	check_read(UID_P, ACT_READ, "DCIM/Camera/mm.JPEG", false);
	check_read(UID_P, ACT_MMAP, "DCIM/Camera/mm.JPEG", false);
}

/* The tables apply to the next request: nothing of them was cached. */
Test(media, table_changes_apply_at_once)
{
	char out[4096];

	media_start();
	jpeg("DCIM/gps.jpg", "");
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s apps", pol), 0);
	cr_assert(strstr(out, "10001      com.a") && strstr(out, "location") &&
			  strstr(out, "10003      -") && strstr(out, "privileged"),
		  "%s", out);
	assert_errno(as(UID_B, ACT_STAT, mp(&M, "Android/data/com.b"), NULL), 0, "B com.b");
	cr_assert_str_eq(listing(UID_B, mp(&M, "Android/data")), ".\n..\ncom.b\n");

	/* B is no app any more: it sees nothing, then is com.a's second uid. */
	cr_assert_neq(fusebpf(out, sizeof(out), "media --policy %s app rm %d com.a", pol, UID_B),
		      0, "removed B as com.a's");
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s app rm %d com.b", pol, UID_B), 0,
		     "%s", out);
	assert_errno(as(UID_B, ACT_STAT, mp(&M, "Android/data/com.b"), NULL), ENOENT, "B com.b");
	cr_assert_str_eq(listing(UID_B, mp(&M, "Android/data")), ".\n..\n");
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s app add %d com.a", pol, UID_B), 0,
		     "%s", out);
	assert_errno(as(UID_B, ACT_STAT, mp(&M, "Android/data/com.a/a.txt"), NULL), 0, "B as com.a");

	/* The grant: revoked, A's next open is redacted; given to B, B's is not. */
	check_read(UID_A, ACT_READ, "DCIM/gps.jpg", false);
	wait_release();
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s revoke %d location", pol, UID_A),
		     0, "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s grant %d location", pol, UID_B),
		     0, "%s", out);
	check_read(UID_A, ACT_READ, "DCIM/gps.jpg", true);
	wait_release();
	check_read(UID_B, ACT_READ, "DCIM/gps.jpg", false);
	wait_release();
	/* Privileged no more: P is "other". */
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s privileged rm %d", pol, UID_P),
		     0, "%s", out);
	cr_assert_str_eq(listing(UID_P, mp(&M, "Android/data")), ".\n..\n");
	check_read(UID_P, ACT_READ, "DCIM/gps.jpg", true);
	/* Bad input is refused, naming what was wrong. */
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s app add 12 a/b", pol), 2);
	cr_assert(strstr(out, "not a package name"), "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s app add -1 x", pol), 2);
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy nosuchpolicy apps"), 1);
	cr_assert(strstr(out, "not loaded"), "%s", out);
}

/* The copy of a redacted file is redacted: COPY_FILE_RANGE falls back to READs. */
Test(media, copies_of_redacted_files_are_redacted)
{
	size_t len;
	unsigned char *copy;
	bool *map;

	media_start();
	jpeg("DCIM/Camera/gps.jpg", "--thumbnail");
	assert_errno(as(UID_B, ACT_COPY, mp(&M, "DCIM/Camera/gps.jpg"), mp(&M, "DCIM/copy.bin")),
		     0, "B copies");
	wait_release();
	copy = file_bytes(bp(&M, "DCIM/copy.bin"), &len);
	map = calloc(len, 1);
	cr_assert_gt(exiftool_map(bp(&M, "DCIM/Camera/gps.jpg"), map, len), 0);
	for (size_t i = 0; i < len; i++)
		if (map[i])
			cr_assert_eq(copy[i], 0, "copy byte %zu is %#x", i, copy[i]);
	free(map);
	free(copy);
	/* A's copy is whole. */
	assert_errno(as(UID_A, ACT_COPY, mp(&M, "DCIM/Camera/gps.jpg"), mp(&M, "DCIM/copy2.jpg")),
		     0, "A copies");
	cr_assert_eq(sh("cmp -s '%s' '%s'", bp(&M, "DCIM/copy2.jpg"), bp(&M, "DCIM/Camera/gps.jpg")),
		     0);
}

struct hold {
	const char *path;
	int flags;
	int ready[2], done[2];
};

/* Opens path, says so on ready, waits for done. */
static int hold_open(void *p)
{
	struct hold *h = p;
	int fd = open(h->path, h->flags);
	char c = fd >= 0 ? 'y' : 'n';

	if (write(h->ready[1], &c, 1) != 1 || read(h->done[0], &c, 1) < 0)
		return 1;
	return fd < 0;
}

static pid_t hold_start_flags(struct hold *h, uid_t uid, const char *path, int flags)
{
	char c;
	pid_t pid;

	h->path = path;
	h->flags = flags;
	cr_assert(pipe(h->ready) == 0 && pipe(h->done) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		_exit(run_as(uid, uid, hold_open, h));
	}
	holder = pid;
	cr_assert_eq(read(h->ready[0], &c, 1), 1);
	cr_assert_eq(c, 'y', "the holder could not open %s", path);
	return pid;
}

static pid_t hold_start(struct hold *h, uid_t uid, const char *path)
{
	return hold_start_flags(h, uid, path, O_RDONLY);
}

static void hold_stop(struct hold *h, pid_t pid)
{
	int status;

	cr_assert_eq(write(h->done[1], "x", 1), 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	holder = 0;
	close(h->ready[0]);
	close(h->ready[1]);
	close(h->done[0]);
	close(h->done[1]);
	wait_release();
}

/*
 * What a file holds decides, never its name: a photo renamed to anything
 * through the mount (by any app that can write its directory), made under
 * another name, or linked, is redacted; a file of another kind named .jpg
 * is served whole, by passthrough.
 */
Test(media, files_are_judged_by_content_not_by_name)
{
	unsigned char *text;
	uint64_t reads;
	size_t len;

	media_start();
	jpeg("DCIM/src.jpg", "");
	cr_assert_eq(sh("cp '%s' '%s' && chmod 666 '%s'", bp(&M, "DCIM/src.jpg"),
			bp(&M, "DCIM/looked.jpg"), bp(&M, "DCIM/looked.jpg")),
		     0);
	assert_errno(as(UID_P, ACT_COPY, mp(&M, "DCIM/src.jpg"), mp(&M, "DCIM/made.dat")), 0,
		     "P copies");
	wait_release();
	check_read(UID_B, ACT_READ, "DCIM/made.dat", true);
	wait_release();
	/* Looked up as .jpg, renamed to .dat (by root, who made it): still redacted. */
	check_read(UID_B, ACT_READ, "DCIM/looked.jpg", true);
	wait_release();
	assert_errno(as(0, ACT_RENAME, mp(&M, "DCIM/looked.jpg"), mp(&M, "DCIM/renamed.dat")), 0,
		     "renames");
	check_read(UID_B, ACT_READ, "DCIM/renamed.dat", true);
	wait_release();
	assert_errno(as(0, ACT_LINK, mp(&M, "DCIM/renamed.dat"), mp(&M, "DCIM/link.txt")), 0,
		     "links");
	check_read(UID_B, ACT_READ, "DCIM/link.txt", true);
	wait_release();

	/* Text named like a photo: whole, and no READ reaches the daemon (passthrough). */
	cr_assert_eq(sh("seq 1 5000 > '%s'", bp(&M, "DCIM/text.jpg")), 0);
	reads = requests("READ");
	assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/text.jpg"), NULL), 0, "text.jpg");
	text = file_bytes(bp(&M, "DCIM/text.jpg"), &len);
	cr_assert(shared->len == len && !memcmp(shared->buf, text, len), "text.jpg not served whole");
	free(text);
	if (mnt_stat(&M, "passthrough"))
		cr_assert_eq(requests("READ"), reads,
			     "a read of text named .jpg reached the daemon");
}

/*
 * The bypass that once worked: one 0xd8 after SOI stopped the module's
 * marker walk, while libexif and exiftool skip it and read the GPS.  The
 * bytes exiftool places in the unchanged photo read as zeros.
 */
Test(media, junk_after_soi_does_not_bypass_redaction)
{
	char path[PATH_MAX];
	int fd;

	media_start();
	jpeg("DCIM/orig.jpg", "--order mm --app 2");
	cr_assert_eq(sh("cp '%s' '%s'", bp(&M, "DCIM/orig.jpg"), bp(&M, "DCIM/junk.jpg")), 0);
	snprintf(path, sizeof(path), "%s", bp(&M, "DCIM/junk.jpg"));
	fd = open(path, O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, "Ø", 1, 2), 1);
	close(fd);
	check_read_as(UID_B, ACT_READ, "DCIM/junk.jpg", "DCIM/orig.jpg", true);
	wait_release();
	check_read_as(UID_A, ACT_READ, "DCIM/junk.jpg", "DCIM/orig.jpg", false);
}

/*
 * A file the module cannot make sense of is refused to an app without the
 * grant (EBADMSG, counted), and served whole to one with it.
 */
Test(media, unparsable_files_are_refused_not_served)
{
	static const char xmp[] = "\xff\xd8\xff\xe1\x00\x4e"
				  "http://ns.adobe.com/xap/1.0/\0"
				  "<x:xmpmeta><exif:GPSLatitude>48,51.5N</x:xmpmeta>"
				  "\xff\xd9";
	char path[PATH_MAX];
	int fd;

	media_start();
	snprintf(path, sizeof(path), "%s", bp(&M, "DCIM/broken.jpg"));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, xmp, sizeof(xmp) - 1), (ssize_t)sizeof(xmp) - 1);
	close(fd);
	assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/broken.jpg"), NULL), EBADMSG, "B");
	cr_assert_eq(mnt_stat(&M, "user.media.opens_refused"), 1);
	assert_errno(as(UID_A, ACT_READ, mp(&M, "DCIM/broken.jpg"), NULL), 0, "A");
	cr_assert_eq(shared->len, sizeof(xmp) - 1);
}

/*
 * The verdict "no location" is kept per inode, so later opens skip the
 * parse; a write, a truncate and a rename through the mount forget it.
 */
Test(media, the_verdict_is_cached_until_the_file_changes)
{
	char photo[PATH_MAX];
	uint64_t checked, cached;

	media_start();
	jpeg("DCIM/plain.jpg", "--no-gps");
	jpeg("DCIM/plain2.jpg", "--no-gps");
	jpeg("DCIM/gps.jpg", "--order mm");
	snprintf(photo, sizeof(photo), "%s", bp(&M, "DCIM/photo.src"));
	cr_assert_eq(sh("'%s' '%s'", jpeggen_bin, photo), 0);
	/* A verdict on a file changed less than a second ago is not kept (clock ticks). */
	sleep(2);
	checked = mnt_stat(&M, "user.media.opens_checked");
	cached = mnt_stat(&M, "user.media.opens_cached");
	assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/plain.jpg"), NULL), 0, "first");
	wait_release();
	assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/plain.jpg"), NULL), 0, "second");
	wait_release();
	cr_assert_eq(mnt_stat(&M, "user.media.opens_checked"), checked + 1);
	cr_assert_eq(mnt_stat(&M, "user.media.opens_cached"), cached + 1);
	/* Its location ranges are kept too: the second redacted open parses nothing. */
	check_read(UID_B, ACT_READ, "DCIM/gps.jpg", true);
	wait_release();
	check_read(UID_B, ACT_READ, "DCIM/gps.jpg", true);
	wait_release();
	cr_assert_eq(mnt_stat(&M, "user.media.opens_checked"), checked + 2);
	cr_assert_eq(mnt_stat(&M, "user.media.opens_cached"), cached + 2);

	/* Rewritten through the mount with a photo that has GPS: checked again, redacted. */
	cr_assert_eq(sh("cat '%s' > '%s'", photo, mp(&M, "DCIM/plain.jpg")), 0);
	wait_release();
	check_read_as(UID_B, ACT_READ, "DCIM/plain.jpg", "DCIM/photo.src", true);
	wait_release();
	cr_assert_eq(mnt_stat(&M, "user.media.opens_checked"), checked + 3);

	/* Truncated through the mount: checked again. */
	assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/plain2.jpg"), NULL), 0, "plain2");
	wait_release();
	cr_assert_eq(truncate(mp(&M, "DCIM/plain2.jpg"), 100), 0);
	assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/plain2.jpg"), NULL), 0, "truncated");
	wait_release();
	cr_assert_eq(mnt_stat(&M, "user.media.opens_checked"), checked + 5);
	cr_assert_eq(mnt_stat(&M, "user.media.opens_cached"), cached + 2);
}

/*
 * A file being written may get location while a reader holds it: an open
 * of it by an app without the grant is served by the daemon (EBUSY while
 * the writer's open is in passthrough, rather than a passthrough open that
 * would see what is written later).  Without passthrough in the kernel
 * every open is the daemon's, and the reader's open is served at once.
 */
Test(media, files_being_written_are_not_opened_in_passthrough)
{
	struct hold h;
	pid_t pid;

	media_start();
	jpeg("DCIM/wip.jpg", "--no-gps");
	pid = hold_start_flags(&h, 0, mp(&M, "DCIM/wip.jpg"), O_WRONLY);
	assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/wip.jpg"), NULL),
		     mnt_stat(&M, "passthrough") ? EBUSY : 0, "B while written");
	hold_stop(&h, pid);
	/* Closed: the normal open again. */
	assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/wip.jpg"), NULL), 0, "B after");
}

/*
 * One I/O mode per inode: a file open in passthrough cannot take a redacted
 * open, which fails with EBUSY rather than serve the GPS bytes; a file open
 * redacted takes the other opens in the daemon's mode, unredacted for them.
 * Without passthrough in the kernel all opens are in the daemon's mode.
 */
Test(media, an_inode_open_in_passthrough_refuses_redacted_opens)
{
	struct hold h;
	pid_t pid;

	media_start();
	jpeg("DCIM/gps.jpg", "");
	pid = hold_start(&h, UID_P, mp(&M, "DCIM/gps.jpg"));
	if (mnt_stat(&M, "passthrough")) {
		assert_errno(as(UID_B, ACT_READ, mp(&M, "DCIM/gps.jpg"), NULL), EBUSY,
			     "B while P holds");
		cr_assert_eq(mnt_stat(&M, "user.media.opens_busy"), 1);
	} else {
		check_read(UID_B, ACT_READ, "DCIM/gps.jpg", true);
		cr_assert_eq(mnt_stat(&M, "user.media.opens_busy"), 0);
	}
	hold_stop(&h, pid);
	check_read(UID_B, ACT_READ, "DCIM/gps.jpg", true);
	wait_release();

	pid = hold_start(&h, UID_B, mp(&M, "DCIM/gps.jpg"));
	check_read(UID_A, ACT_READ, "DCIM/gps.jpg", false);
	check_read(UID_P, ACT_MMAP, "DCIM/gps.jpg", false);
	check_read(UID_B, ACT_READ, "DCIM/gps.jpg", true);
	hold_stop(&h, pid);
}

/* A redacted open of a file that is rewritten meanwhile redacts what it holds now. */
Test(media, ranges_follow_a_file_rewritten_under_a_redacted_open)
{
	struct hold h;
	pid_t pid;
	char other[PATH_MAX];

	media_start();
	jpeg("DCIM/gps.jpg", "");
	cr_assert(snprintf(other, sizeof(other), "%s/other.jpg", M.root) < (int)sizeof(other));
	cr_assert_eq(sh("'%s' --order mm --thumbnail --app 2 '%s'", jpeggen_bin, other), 0);

	pid = hold_start(&h, UID_B, mp(&M, "DCIM/gps.jpg"));
	/* Rewritten through the mount (in the daemon's mode, as B's open is). */
	cr_assert_eq(sh("cat '%s' > '%s'", other, mp(&M, "DCIM/gps.jpg")), 0);
	check_read(UID_B, ACT_READ, "DCIM/gps.jpg", true);
	hold_stop(&h, pid);
	cr_assert_eq(sh("cmp -s '%s' '%s'", other, bp(&M, "DCIM/gps.jpg")), 0);
}

/* ---- the index ---- */

/* The index as the CLI prints it, with the given query options. */
static const char *query(const char *opts)
{
	static char out[65536];

	cr_assert_eq(fusebpf(out, sizeof(out), "media query %s '%s'", opts ? opts : "", db), 0,
		     "media query: %s", out);
	return out;
}

/* The row of rel without its mtime ("size\tmime\towner"), or "" if it has none. */
static const char *row(const char *rel)
{
	static char r[256];
	char opts[PATH_MAX], *out, *line, *save = NULL;
	size_t len = strlen(rel);

	snprintf(opts, sizeof(opts), "--prefix '%s'", rel);
	out = strdup(query(opts));
	r[0] = '\0';
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *mtime = strrchr(line, '\t');

		if (strncmp(line, rel, len) || line[len] != '\t' || !mtime)
			continue;
		*mtime = '\0';
		snprintf(r, sizeof(r), "%s", line + len + 1);
		break;
	}
	free(out);
	return r;
}

/* Waits for rel's row to read want (the RELEASE of a close comes after close returns). */
static void expect_row(const char *rel, const char *want)
{
	for (int i = 0; i < 100 && strcmp(row(rel), want); i++)
		usleep(20000);
	cr_assert_str_eq(row(rel), want, "row of %s", rel);
}

Test(media, index_rows_follow_every_kind_of_change)
{
	char want[128];
	const char *out;
	struct stat st;

	media_start();
	jpeg("DCIM/Camera/behind.jpg", "--no-gps");
	/* Made behind the daemon's back: only a rescan sees it. */
	expect_row("DCIM/Camera/behind.jpg", "");
	cr_assert_eq(fusebpf(NULL, 0, "media rescan '%s' '%s'", M.backing, db), 0);
	cr_assert_eq(stat(bp(&M, "DCIM/Camera/behind.jpg"), &st), 0);
	snprintf(want, sizeof(want), "%lld\timage/jpeg\t0", (long long)st.st_size);
	expect_row("DCIM/Camera/behind.jpg", want);

	/* CREATE, then the write-close. */
	assert_errno(as(UID_A, ACT_CREATE, mp(&M, "DCIM/Camera/new.jpg"), NULL), 0, "create");
	expect_row("DCIM/Camera/new.jpg", "0\timage/jpeg\t10001");
	assert_errno(as(UID_A, ACT_WRITE, mp(&M, "DCIM/Camera/new.jpg"), "twelve bytes"), 0,
		     "write");
	expect_row("DCIM/Camera/new.jpg", "12\timage/jpeg\t10001");
	/* MKNOD of a regular file, SETATTR (truncate, chown). */
	assert_errno(as(UID_B, ACT_MKNOD, mp(&M, "DCIM/node.mp4"), NULL), 0, "mknod");
	expect_row("DCIM/node.mp4", "0\tvideo/mp4\t10002");
	/* By root, who may change B's file once privileged (Ownership). */
	cr_assert_eq(fusebpf(NULL, 0, "media --policy %s privileged add 0", pol), 0);
	cr_assert_eq(truncate(mp(&M, "DCIM/node.mp4"), 4096), 0);
	expect_row("DCIM/node.mp4", "4096\tvideo/mp4\t10002");
	cr_assert_eq(chown(mp(&M, "DCIM/node.mp4"), UID_A, -1), 0);
	expect_row("DCIM/node.mp4", "4096\tvideo/mp4\t10001");
	/* LINK, RENAME of a file (its type follows its name), UNLINK. */
	assert_errno(as(UID_A, ACT_LINK, mp(&M, "DCIM/Camera/new.jpg"), mp(&M, "DCIM/hard.png")), 0,
		     "link");
	expect_row("DCIM/hard.png", "12\timage/png\t10001");
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "DCIM/hard.png"), mp(&M, "DCIM/hard.txt")), 0,
		     "rename");
	expect_row("DCIM/hard.png", "");
	expect_row("DCIM/hard.txt", "12\ttext/plain\t10001");
	assert_errno(as(UID_A, ACT_UNLINK, mp(&M, "DCIM/hard.txt"), NULL), 0, "unlink");
	expect_row("DCIM/hard.txt", "");
	/* MKDIR, a directory rename (its rows move), RMDIR. */
	assert_errno(as(UID_B, ACT_MKDIR, mp(&M, "Pictures"), NULL), 0, "mkdir");
	assert_errno(as(UID_B, ACT_MKDIR, mp(&M, "Pictures/Trip"), NULL), 0, "mkdir");
	assert_errno(as(UID_B, ACT_WRITE, mp(&M, "Pictures/Trip/a.gif"), "gif"), 0, "write");
	assert_errno(as(UID_B, ACT_WRITE, mp(&M, "Pictures/Trip/b.webp"), "webp"), 0, "write");
	expect_row("Pictures/Trip/b.webp", "4\timage/webp\t10002");
	assert_errno(as(UID_B, ACT_RENAME, mp(&M, "Pictures/Trip"), mp(&M, "Pictures/Holiday")), 0,
		     "rename dir");
	expect_row("Pictures/Trip/a.gif", "");
	expect_row("Pictures/Holiday/a.gif", "3\timage/gif\t10002");
	expect_row("Pictures/Holiday/b.webp", "4\timage/webp\t10002");
	assert_errno(as(UID_B, ACT_RENAME, mp(&M, "Pictures"), mp(&M, "Albums")), 0, "rename top");
	expect_row("Albums/Holiday/a.gif", "3\timage/gif\t10002");
	cr_assert_str_eq(query("--prefix Pictures"), "");
	/* .nomedia hides a directory's files, its removal brings them back. */
	assert_errno(as(UID_B, ACT_CREATE, mp(&M, "Albums/Holiday/.nomedia"), NULL), 0, "nomedia");
	expect_row("Albums/Holiday/a.gif", "");
	assert_errno(as(UID_B, ACT_UNLINK, mp(&M, "Albums/Holiday/.nomedia"), NULL), 0, "rm");
	expect_row("Albums/Holiday/a.gif", "3\timage/gif\t10002");
	assert_errno(as(UID_B, ACT_UNLINK, mp(&M, "Albums/Holiday/a.gif"), NULL), 0, "unlink");
	assert_errno(as(UID_B, ACT_UNLINK, mp(&M, "Albums/Holiday/b.webp"), NULL), 0, "unlink");
	assert_errno(as(UID_B, ACT_RMDIR, mp(&M, "Albums/Holiday"), NULL), 0, "rmdir");
	cr_assert_str_eq(query("--prefix Albums"), "");

	/* The CLI's filters. */
	out = query("--owner 10001 --type 'image/*' --prefix DCIM");
	cr_assert(strstr(out, "DCIM/Camera/new.jpg\t12\timage/jpeg\t10001\t"), "%s", out);
	cr_assert_eq(strstr(out, "node.mp4"), NULL, "%s", out);
	cr_assert_eq(strstr(out, "behind.jpg"), NULL, "%s", out);
	cr_assert(strstr(query("--type video/mp4"), "DCIM/node.mp4\t"));
	cr_assert_str_eq(query("--type 'audio/*'"), "");
}

/*
 * The rows the daemon's updates made are the rows a rescan of the tree
 * makes (the index eventually: RELEASE comes after close returns).
 */
Test(media, rescan_equals_the_incremental_index)
{
	char db2[PATH_MAX], out[65536], want[65536];

	media_start();
	jpeg("DCIM/Camera/one.jpg", "");
	cr_assert_eq(fusebpf(NULL, 0, "media rescan '%s' '%s'", M.backing, db), 0);
	for (int i = 0; i < 20; i++) {
		char rel[64], rel2[64];
		uid_t uid = i % 2 ? UID_A : UID_B;

		snprintf(rel, sizeof(rel), "DCIM/f%02d.%s", i, i % 3 ? "jpg" : "mp3");
		assert_errno(as(uid, ACT_WRITE, mp(&M, rel), "some bytes"), 0, rel);
		if (i % 4 == 0) {
			snprintf(rel2, sizeof(rel2), "DCIM/Camera/g%02d.png", i);
			assert_errno(as(uid, ACT_RENAME, mp(&M, rel), mp(&M, rel2)), 0, rel);
		} else if (i % 5 == 0) {
			assert_errno(as(uid, ACT_UNLINK, mp(&M, rel), NULL), 0, rel);
		}
	}
	assert_errno(as(UID_A, ACT_MKDIR, mp(&M, "Music"), NULL), 0, "mkdir");
	assert_errno(as(UID_A, ACT_WRITE, mp(&M, "Music/s.flac"), "flac"), 0, "write");
	assert_errno(as(UID_A, ACT_WRITE, mp(&M, "Music/.nomedia"), ""), 0, "nomedia");
	assert_errno(as(UID_A, ACT_WRITE, mp(&M, "Android/data/com.a/x.ogg"), "ogg"), 0, "ogg");
	assert_errno(as(UID_A, ACT_RENAME, mp(&M, "DCIM/Camera"), mp(&M, "DCIM/Cam")), 0, "mv");
	/* By root, who may change A's file once privileged (Ownership). */
	cr_assert_eq(fusebpf(NULL, 0, "media --policy %s privileged add 0", pol), 0);
	cr_assert_eq(truncate(mp(&M, "DCIM/f01.jpg"), 3), 0);

	cr_assert(snprintf(db2, sizeof(db2), "%s/rescan.db", db_dir) < (int)sizeof(db2));
	cr_assert_eq(fusebpf(out, sizeof(out), "media rescan '%s' '%s'", M.backing, db2), 0, "%s",
		     out);
	cr_assert_eq(fusebpf(want, sizeof(want), "media query '%s'", db2), 0);
	cr_assert(strstr(want, "DCIM/Cam/one.jpg") && strstr(want, "Android/data/com.a/x.ogg") &&
			  !strstr(want, "Music/"),
		  "the rescan is not what the test made: %s", want);
	for (int i = 0; i < 100 && strcmp(query(NULL), want); i++)
		usleep(20000);
	cr_assert_str_eq(query(NULL), want);
}

/* A writer through the mount, until the mount goes. */
static int writer(void *dir)
{
	char path[PATH_MAX], data[8192];

	memset(data, 'x', sizeof(data));
	for (int i = 0;; i++) {
		snprintf(path, sizeof(path), "%s/w%06d.jpg", (char *)dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);

		if (fd < 0)
			return 0;
		if (write(fd, data, i % sizeof(data)) < 0 || close(fd) < 0)
			return 0;
		if (i % 10 == 9) {
			char to[PATH_MAX];

			snprintf(to, sizeof(to), "%s/r%06d.png", (char *)dir, i);
			if (rename(path, to) < 0)
				return 0;
		}
	}
}

struct rows_seen {
	int rows, stale;
};

/* Counts the rows, and those whose file is not in the backing directory. */
static int count_row(const struct media_row *r, void *arg)
{
	struct rows_seen *seen = arg;

	seen->rows++;
	seen->stale += access(bp(&M, r->path), F_OK) != 0;
	return 0;
}

Test(media, the_index_survives_a_sigkill_of_the_daemon_mid_write)
{
	char check[64] = "";
	struct media_index *idx;
	sqlite3 *sq;
	sqlite3_stmt *st;
	struct rows_seen seen = {};
	pid_t pid;
	int status;

	media_start();
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(run_as(UID_A, UID_A, writer, (void *)mp(&M, "DCIM")));
	/* Until the index has taken a good number of updates (two a file, three if renamed). */
	for (int i = 0; i < 500 && mnt_stat(&M, "user.media.index_updates") < 600; i++)
		usleep(20000);
	cr_assert_geq(mnt_stat(&M, "user.media.index_updates"), 600);
	cr_assert_eq(kill(M.fsd, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);

	cr_assert_eq(sqlite3_open_v2(db, &sq, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(sq, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	snprintf(check, sizeof(check), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(sq);
	cr_assert_str_eq(check, "ok");
	cr_assert_eq(media_index_open(db, NULL, MEDIA_INDEX_RDONLY, &idx), 0);
	cr_assert_eq(media_index_query(idx, NULL, count_row, &seen), 0);
	media_index_close(idx);
	cr_assert_gt(seen.rows, 200, "only %d rows survived", seen.rows);
	/* At most the operations in flight (one a worker) were done but not indexed. */
	cr_assert_leq(seen.stale, 4, "%d of %d rows name no file", seen.stale, seen.rows);
	/* The CLI reads it too, and a rescan brings it up to date. */
	cr_assert(strstr(query("--prefix DCIM/r0000"), "image/png"));
	cr_assert_eq(fusebpf(NULL, 0, "media rescan '%s' '%s'", M.backing, db), 0);
	cr_assert_eq(media_index_open(db, NULL, MEDIA_INDEX_RDONLY, &idx), 0);
	seen = (struct rows_seen){};
	cr_assert_eq(media_index_query(idx, NULL, count_row, &seen), 0);
	media_index_close(idx);
	cr_assert_eq(seen.stale, 0);
}

/* ---- ownership ---- */

enum own_op {
	OWN_MAKE, /* a, with the text b; umask 0: the mode lets every uid write it */
	OWN_MKDIR, /* a, umask 0 */
	OWN_UNLINK,
	OWN_RENAME,
	OWN_NOREPLACE, /* renameat2 RENAME_NOREPLACE */
	OWN_EXCHANGE, /* renameat2 RENAME_EXCHANGE */
	OWN_TRUNCATE, /* to 0 bytes, by path */
	OWN_TOUCH, /* times to now: what write permission allows */
	OWN_SETXATTR, /* user.tag = b */
	OWN_RMXATTR, /* user.tag */
};

struct own_arg {
	enum own_op op;
	const char *a, *b;
};

static int own_fn(void *p)
{
	const struct own_arg *o = p;
	int r = -1, fd;

	switch (o->op) {
	case OWN_MAKE:
		umask(0);
		fd = open(o->a, O_WRONLY | O_CREAT | O_EXCL, 0666);
		if (fd < 0)
			return errno;
		r = write(fd, o->b, strlen(o->b)) == (ssize_t)strlen(o->b) ? close(fd) : -1;
		break;
	case OWN_MKDIR:
		umask(0);
		r = mkdir(o->a, 0777);
		break;
	case OWN_UNLINK:
		r = unlink(o->a);
		break;
	case OWN_RENAME:
		r = rename(o->a, o->b);
		break;
	case OWN_NOREPLACE:
		r = renameat2(AT_FDCWD, o->a, AT_FDCWD, o->b, RENAME_NOREPLACE);
		break;
	case OWN_EXCHANGE:
		r = renameat2(AT_FDCWD, o->a, AT_FDCWD, o->b, RENAME_EXCHANGE);
		break;
	case OWN_TRUNCATE:
		r = truncate(o->a, 0);
		break;
	case OWN_TOUCH:
		r = utimensat(AT_FDCWD, o->a, NULL, 0);
		break;
	case OWN_SETXATTR:
		r = setxattr(o->a, "user.tag", o->b, strlen(o->b), 0);
		break;
	case OWN_RMXATTR:
		r = removexattr(o->a, "user.tag");
		break;
	}
	return r < 0 ? errno : 0;
}

/* Does op as uid (0: root, which is no more than an app unless privileged): 0 or the errno. */
static int own(uid_t uid, enum own_op op, const char *a, const char *b)
{
	struct own_arg arg = { op, a, b };

	return run_as(uid, uid, own_fn, &arg);
}

/* The backing file is as it was made: its bytes, its owner, its mtime and its user.tag. */
static void expect_untouched(const char *rel, const char *text, uid_t owner,
			     const struct stat *was, const char *tag)
{
	char got[64] = "";
	unsigned char *bytes;
	struct stat st;
	size_t len;

	cr_assert_eq(lstat(bp(&M, rel), &st), 0, "%s is gone", rel);
	cr_assert_eq(st.st_uid, owner, "%s: owner %u", rel, st.st_uid);
	cr_assert_eq(st.st_mtim.tv_sec, was->st_mtim.tv_sec, "%s: mtime changed", rel);
	cr_assert_eq(st.st_mtim.tv_nsec, was->st_mtim.tv_nsec, "%s: mtime changed", rel);
	bytes = file_bytes(bp(&M, rel), &len);
	cr_assert(len == strlen(text) && !memcmp(bytes, text, len), "%s: %.*s", rel, (int)len,
		  bytes);
	free(bytes);
	if (tag) {
		cr_assert_eq(getxattr(bp(&M, rel), "user.tag", got, sizeof(got) - 1),
			     (ssize_t)strlen(tag), "%s: user.tag", rel);
		cr_assert_str_eq(got, tag);
	}
}

/*
 * Android's ownership: what an app made, another app may not delete,
 * rename, replace, truncate or touch (EACCES), though the mode bits and the
 * directory let it; root neither, unless privileged.  Nothing of the
 * refused operations reaches the backing files or the index.
 */
Test(media, apps_may_not_change_another_apps_files)
{
	const char *photo = "DCIM/Camera/a.jpg", *mine = "DCIM/Camera/b.jpg";
	struct stat was, was_b, lnk;
	char a[PATH_MAX], b[PATH_MAX];

	media_start();
	snprintf(a, sizeof(a), "%s", mp(&M, photo));
	snprintf(b, sizeof(b), "%s", mp(&M, mine));
	assert_errno(own(UID_A, OWN_MAKE, a, "photo of A"), 0, "A makes its photo");
	assert_errno(own(UID_A, OWN_SETXATTR, a, "A's"), 0, "A tags its photo");
	assert_errno(own(UID_B, OWN_MAKE, b, "B's"), 0, "B makes its file");
	assert_errno(as(UID_A, ACT_SYMLINK, mp(&M, "DCIM/Camera/a.lnk"), NULL), 0, "A's symlink");
	expect_row(photo, "10\timage/jpeg\t10001");
	expect_row(mine, "3\timage/jpeg\t10002");
	wait_release();
	cr_assert_eq(lstat(bp(&M, photo), &was), 0);
	cr_assert_eq(lstat(bp(&M, mine), &was_b), 0);
	cr_assert_eq(was.st_mode & 0777, 0666, "A's photo is not writable by all: untested");

	assert_errno(own(UID_B, OWN_UNLINK, a, NULL), EACCES, "B unlinks A's photo");
	assert_errno(own(UID_B, OWN_RENAME, a, mp(&M, "DCIM/stolen.jpg")), EACCES,
		     "B renames A's photo");
	assert_errno(own(UID_B, OWN_RENAME, b, a), EACCES, "B renames its file onto A's photo");
	assert_errno(own(UID_B, OWN_EXCHANGE, b, a), EACCES, "B exchanges its file with A's");
	assert_errno(own(UID_B, OWN_TRUNCATE, a, NULL), EACCES, "B truncates A's photo");
	assert_errno(own(UID_B, OWN_TOUCH, a, NULL), EACCES, "B touches A's photo");
	assert_errno(own(UID_B, OWN_SETXATTR, a, "B's"), EACCES, "B tags A's photo");
	assert_errno(own(UID_B, OWN_RMXATTR, a, NULL), EACCES, "B untags A's photo");
	assert_errno(own(UID_B, OWN_UNLINK, mp(&M, "DCIM/Camera/a.lnk"), NULL), EACCES,
		     "B unlinks A's symlink");
	assert_errno(own(UID_O, OWN_UNLINK, a, NULL), EACCES, "O unlinks A's photo");
	assert_errno(own(0, OWN_TRUNCATE, a, NULL), EACCES, "root truncates A's photo");
	assert_errno(own(0, OWN_UNLINK, a, NULL), EACCES, "root unlinks A's photo");
	/* No replacing: the name exists, which is what the caller hears. */
	assert_errno(own(UID_B, OWN_NOREPLACE, b, a), EEXIST, "B renames onto A's, noreplace");
	cr_assert_eq(mnt_stat(&M, "user.media.owner_refused"), 12);
	cr_assert_eq(mnt_stat(&M, "user.media.renames_refused"), 3);

	expect_untouched(photo, "photo of A", UID_A, &was, "A's");
	expect_untouched(mine, "B's", UID_B, &was_b, NULL);
	cr_assert_eq(access(bp(&M, "DCIM/stolen.jpg"), F_OK), -1, "stolen.jpg was made");
	cr_assert_eq(lstat(bp(&M, "DCIM/Camera/a.lnk"), &lnk), 0, "A's symlink went");
	expect_row(photo, "10\timage/jpeg\t10001");
	expect_row(mine, "3\timage/jpeg\t10002");
	expect_row("DCIM/stolen.jpg", "");
}

/*
 * An app changes its own files as anywhere; a privileged uid changes
 * anyone's; a directory moves with what is in it, whoever made that.
 */
Test(media, apps_change_their_own_files_and_the_privileged_anyones)
{
	char a1[PATH_MAX], a2[PATH_MAX], a3[PATH_MAX], b1[PATH_MAX];

	media_start();
	snprintf(a1, sizeof(a1), "%s", mp(&M, "DCIM/a1.jpg"));
	snprintf(a2, sizeof(a2), "%s", mp(&M, "DCIM/a2.jpg"));
	snprintf(a3, sizeof(a3), "%s", mp(&M, "DCIM/a3.png"));
	snprintf(b1, sizeof(b1), "%s", mp(&M, "DCIM/b1.jpg"));
	assert_errno(own(UID_A, OWN_MAKE, a1, "one"), 0, "A makes a1");
	assert_errno(own(UID_A, OWN_MAKE, a2, "two!"), 0, "A makes a2");
	assert_errno(own(UID_B, OWN_MAKE, b1, "bee"), 0, "B makes b1");

	/* A, its own. */
	assert_errno(own(UID_A, OWN_SETXATTR, a1, "x"), 0, "A tags a1");
	assert_errno(own(UID_A, OWN_RMXATTR, a1, NULL), 0, "A untags a1");
	assert_errno(own(UID_A, OWN_TOUCH, a1, NULL), 0, "A touches a1");
	assert_errno(own(UID_A, OWN_TRUNCATE, a1, NULL), 0, "A truncates a1");
	expect_row("DCIM/a1.jpg", "0\timage/jpeg\t10001");
	assert_errno(own(UID_A, OWN_RENAME, a1, a3), 0, "A renames a1");
	expect_row("DCIM/a1.jpg", "");
	expect_row("DCIM/a3.png", "0\timage/png\t10001");
	assert_errno(own(UID_A, OWN_EXCHANGE, a2, a3), 0, "A exchanges a2 and a3");
	expect_row("DCIM/a3.png", "4\timage/png\t10001");
	assert_errno(own(UID_A, OWN_RENAME, a3, a2), 0, "A renames a3 onto a2");
	expect_row("DCIM/a3.png", "");
	expect_row("DCIM/a2.jpg", "4\timage/jpeg\t10001");
	assert_errno(own(UID_A, OWN_UNLINK, a2, NULL), 0, "A unlinks a2");
	expect_row("DCIM/a2.jpg", "");
	cr_assert_eq(access(bp(&M, "DCIM/a2.jpg"), F_OK), -1);

	/* P, A's and B's. */
	assert_errno(own(UID_A, OWN_MAKE, a1, "one"), 0, "A makes a1 again");
	assert_errno(own(UID_A, OWN_MAKE, a2, "two!"), 0, "A makes a2 again");
	assert_errno(own(UID_P, OWN_SETXATTR, a1, "p"), 0, "P tags A's");
	assert_errno(own(UID_P, OWN_RMXATTR, a1, NULL), 0, "P untags A's");
	assert_errno(own(UID_P, OWN_TOUCH, a1, NULL), 0, "P touches A's");
	assert_errno(own(UID_P, OWN_TRUNCATE, a2, NULL), 0, "P truncates A's");
	expect_row("DCIM/a2.jpg", "0\timage/jpeg\t10001");
	assert_errno(own(UID_P, OWN_EXCHANGE, a1, b1), 0, "P exchanges A's and B's");
	expect_row("DCIM/b1.jpg", "3\timage/jpeg\t10001");
	expect_row("DCIM/a1.jpg", "3\timage/jpeg\t10002");
	assert_errno(own(UID_P, OWN_RENAME, a2, b1), 0, "P renames A's onto A's");
	assert_errno(own(UID_P, OWN_RENAME, a1, a3), 0, "P renames B's");
	expect_row("DCIM/a3.png", "3\timage/png\t10002");
	assert_errno(own(UID_P, OWN_UNLINK, a3, NULL), 0, "P unlinks B's");
	assert_errno(own(UID_P, OWN_UNLINK, b1, NULL), 0, "P unlinks A's");
	cr_assert_str_eq(query("--prefix DCIM/"), "");

	/* B's directory moves with A's file in it: directories are the modes' to decide. */
	assert_errno(own(UID_B, OWN_MKDIR, mp(&M, "DCIM/Trip"), NULL), 0, "B mkdir");
	assert_errno(own(UID_A, OWN_MAKE, mp(&M, "DCIM/Trip/a.jpg"), "in B's"), 0, "A makes");
	assert_errno(own(UID_B, OWN_RENAME, mp(&M, "DCIM/Trip"), mp(&M, "DCIM/Holiday")), 0,
		     "B moves its directory");
	expect_row("DCIM/Holiday/a.jpg", "6\timage/jpeg\t10001");
	assert_errno(own(UID_B, OWN_UNLINK, mp(&M, "DCIM/Holiday/a.jpg"), NULL), EACCES,
		     "B unlinks A's in its directory");
	cr_assert_eq(mnt_stat(&M, "user.media.owner_refused"), 1);
}
