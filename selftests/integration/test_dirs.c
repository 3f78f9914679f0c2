// SPDX-License-Identifier: MIT
/*
 * Directory opcodes through a real mount: OPENDIR, READDIR, READDIRPLUS,
 * RELEASEDIR and FSYNCDIR.  A listing must hold exactly the backing
 * directory's names with their inode numbers and types; a 10,000-entry
 * directory is listed completely, and telldir/seekdir lead back to the
 * same names, with the default options, without passthrough and with
 * cache=never.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(dirs, .fini = mnt_teardown, .timeout = 120);

#define BIG_DIR_ENTRIES 10000

struct entry {
	char name[256];
	ino_t ino;
	unsigned char type;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* All entries of a directory but . and .., sorted by name; returns the count. */
static size_t list_dir(const char *path, struct entry **out)
{
	size_t n = 0, cap = 64;
	struct entry *v = malloc(cap * sizeof(*v));
	DIR *d = opendir(path);
	struct dirent *e;

	cr_assert(v && d, "opendir %s: %s", path, strerror(errno));
	errno = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap)
			cr_assert(v = realloc(v, (cap *= 2) * sizeof(*v)));
		snprintf(v[n].name, sizeof(v[n].name), "%s", e->d_name);
		v[n].ino = e->d_ino;
		v[n].type = e->d_type;
		n++;
	}
	cr_assert_eq(errno, 0, "readdir %s: %s", path, strerror(errno));
	closedir(d);
	qsort(v, n, sizeof(*v), entry_cmp);
	*out = v;
	return n;
}

/* The mount lists what the backing dir lists, names, inode numbers and types alike. */
static void assert_listing_matches_backing(const char *rel)
{
	struct entry *in_mount, *in_backing;
	size_t n = list_dir(mp(&M, rel), &in_mount);

	cr_assert_eq(n, list_dir(bp(&M, rel), &in_backing), "entry count of '%s'", rel);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(in_mount[i].name, in_backing[i].name);
		if (i > 0)
			cr_assert_str_neq(in_mount[i].name, in_mount[i - 1].name, "listed twice");
		cr_assert_eq(in_mount[i].ino, in_backing[i].ino, "%s", in_mount[i].name);
		cr_assert_eq(in_mount[i].type, in_backing[i].type, "%s", in_mount[i].name);
	}
	free(in_mount);
	free(in_backing);
}

Test(dirs, readdir_lists_backing_entries_with_inos_and_types)
{
	uint64_t opendirs, readdirs;

	start(NULL);
	put(bp(&M, "file"), "x");
	cr_assert_eq(mkdir(bp(&M, "dir"), 0755), 0);
	cr_assert_eq(symlink("file", bp(&M, "link")), 0);
	cr_assert_eq(mkfifo(bp(&M, "fifo"), 0644), 0);
	put(bp(&M, "dir/inner"), "y");
	put(bp(&M, "with space and ünïcode"), "z");
	opendirs = served("OPENDIR");
	readdirs = served("READDIR") + served("READDIRPLUS");
	assert_listing_matches_backing("");
	assert_listing_matches_backing("dir");
	cr_assert_geq(served("OPENDIR"), opendirs + 2);
	cr_assert_geq(served("READDIR") + served("READDIRPLUS"), readdirs + 2);
}

Test(dirs, readdir_of_empty_dir_has_only_dot_entries)
{
	struct dirent *e;
	int count = 0;
	DIR *d;

	start(NULL);
	cr_assert_eq(mkdir(mp(&M, "empty"), 0755), 0);
	d = opendir(mp(&M, "empty"));
	cr_assert(d);
	while ((e = readdir(d))) {
		cr_assert(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."), "%s", e->d_name);
		count++;
	}
	closedir(d);
	cr_assert_eq(count, 2);
}

Test(dirs, readdir_shows_entries_made_through_mount)
{
	start(NULL);
	assert_listing_matches_backing("");
	put(mp(&M, "a"), "1");
	cr_assert_eq(mkdir(mp(&M, "b"), 0755), 0);
	cr_assert_eq(symlink("a", mp(&M, "c")), 0);
	assert_listing_matches_backing("");
	cr_assert_eq(unlink(mp(&M, "a")), 0);
	cr_assert_eq(rename(mp(&M, "b"), mp(&M, "b2")), 0);
	assert_listing_matches_backing("");
}

Test(dirs, readdir_with_cache_never_shows_backing_changes)
{
	start("cache=never");
	put(bp(&M, "before"), "1");
	assert_listing_matches_backing("");
	put(bp(&M, "after"), "2");
	cr_assert_eq(mkdir(bp(&M, "newdir"), 0755), 0);
	assert_listing_matches_backing("");
	cr_assert_eq(unlink(bp(&M, "before")), 0);
	assert_listing_matches_backing("");
}

Test(dirs, closedir_releases_handle)
{
	uint64_t releasedirs;
	DIR *dirs[10];

	start(NULL);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	releasedirs = requests("RELEASEDIR");
	for (int i = 0; i < 10; i++) {
		dirs[i] = opendir(mp(&M, "d"));
		cr_assert(dirs[i]);
	}
	if (mnt_in_kernel(&M)) {
		/* fusebpf.ko opens and releases them itself: the daemon holds nothing. */
		cr_assert_geq(served("OPENDIR"), 10);
		cr_assert_eq(mnt_stat(&M, "handles"), 0);
		for (int i = 0; i < 10; i++)
			closedir(dirs[i]);
		cr_assert_eq(requests("RELEASEDIR"), releasedirs);
		return;
	}
	cr_assert_geq(mnt_stat(&M, "handles"), 10);
	for (int i = 0; i < 10; i++)
		closedir(dirs[i]);
	/* RELEASEDIR is asynchronous: poll for it. */
	cr_assert_eq(mnt_handles_settled(&M), 0);
	cr_assert_geq(requests("RELEASEDIR"), releasedirs + 10);
}

Test(dirs, fsyncdir_reaches_daemon)
{
	uint64_t fsyncdirs;
	int fd;

	start(NULL);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	put(mp(&M, "d/f"), "x");
	fd = open(mp(&M, "d"), O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	fsyncdirs = served("FSYNCDIR");
	cr_assert_eq(fsync(fd), 0, "%s", strerror(errno));
	cr_assert_eq(fdatasync(fd), 0, "%s", strerror(errno));
	cr_assert_geq(served("FSYNCDIR"), fsyncdirs + 2);
	close(fd);
}

static void make_big_dir(void)
{
	char name[64];
	int dirfd;

	cr_assert_eq(mkdir(bp(&M, "big"), 0755), 0);
	dirfd = open(bp(&M, "big"), O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dirfd, 0);
	for (int i = 0; i < BIG_DIR_ENTRIES; i++) {
		int fd;

		snprintf(name, sizeof(name), "entry-%05d-with-a-longer-name", i);
		fd = openat(dirfd, name, O_WRONLY | O_CREAT, 0644);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	close(dirfd);
}

/* Lists the big dir in one pass: every name once, nothing else. */
static void assert_big_dir_complete(void)
{
	struct entry *v;
	size_t n = list_dir(mp(&M, "big"), &v);
	char want[64];

	cr_assert_eq(n, BIG_DIR_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "entry-%05zu-with-a-longer-name", i);
		cr_assert_str_eq(v[i].name, want, "sorted entry %zu", i);
	}
	free(v);
}

#define MARKS 7

/*
 * Records telldir before several entries of a first pass, then seekdir's
 * back to each (in an order other than the listing's) and checks that the
 * names that follow are those of the first pass.
 */
static void assert_seekdir_returns_to_telldir(void)
{
	static const int at[MARKS] = { 0, 1, 2, 500, 4999, 5000, BIG_DIR_ENTRIES + 1 };
	static const int order[MARKS] = { 4, 0, 6, 2, 5, 1, 3 };
	enum { FOLLOWING = 20 };
	static char names[BIG_DIR_ENTRIES + 2][256];
	long pos[MARKS];
	struct dirent *e;
	int count = 0, mark = 0;
	DIR *d = opendir(mp(&M, "big"));

	cr_assert(d);
	for (;;) {
		long here = telldir(d);

		if (mark < MARKS && count == at[mark])
			pos[mark++] = here;
		e = readdir(d);
		if (!e)
			break;
		cr_assert_lt(count, BIG_DIR_ENTRIES + 2);
		snprintf(names[count++], sizeof(names[0]), "%s", e->d_name);
	}
	cr_assert_eq(count, BIG_DIR_ENTRIES + 2);
	cr_assert_eq(mark, MARKS);

	for (int k = 0; k < MARKS; k++) {
		int m = order[k];

		seekdir(d, pos[m]);
		for (int i = at[m]; i < at[m] + FOLLOWING && i < count; i++) {
			e = readdir(d);
			cr_assert(e, "end of dir at %d after seekdir to mark %d", i, m);
			cr_assert_str_eq(e->d_name, names[i], "entry %d after seekdir to %d", i,
					 at[m]);
		}
		if (at[m] + FOLLOWING >= count)
			cr_assert_null(readdir(d), "entries past the end after seekdir to %d", at[m]);
	}
	/* rewinddir starts over. */
	rewinddir(d);
	e = readdir(d);
	cr_assert(e);
	cr_assert_str_eq(e->d_name, names[0]);
	closedir(d);
}

Test(dirs, ten_thousand_entries_listed_completely)
{
	start(NULL);
	make_big_dir();
	assert_big_dir_complete();
	/* A second listing, from the kernel's cache, is just as complete. */
	assert_big_dir_complete();
	assert_listing_matches_backing("big");
}

Test(dirs, ten_thousand_entries_listed_completely_without_passthrough)
{
	start("passthrough=off");
	make_big_dir();
	assert_big_dir_complete();
	assert_big_dir_complete();
}

Test(dirs, ten_thousand_entries_listed_completely_with_cache_never)
{
	uint64_t readdirs, plus;

	start("cache=never");
	make_big_dir();
	readdirs = requests("READDIR");
	plus = requests("READDIRPLUS");
	assert_big_dir_complete();
	assert_big_dir_complete();
	assert_listing_matches_backing("big");
	if (mnt_stat(&M, "kernel.READDIR")) {
		/* fusebpf.ko lists the backing directory itself, with no request. */
		cr_assert_eq(requests("READDIRPLUS"), plus);
		cr_assert_eq(requests("READDIR"), readdirs);
		return;
	}
	/* The kernel asks for the first batch with attributes, the others without. */
	cr_assert_gt(requests("READDIRPLUS"), plus);
	cr_assert_gt(requests("READDIR"), readdirs);
}

Test(dirs, seekdir_returns_to_telldir_positions)
{
	start(NULL);
	make_big_dir();
	assert_seekdir_returns_to_telldir();
	/* Again, now served from the kernel's directory cache. */
	assert_seekdir_returns_to_telldir();
}

Test(dirs, seekdir_returns_to_telldir_positions_without_passthrough)
{
	start("passthrough=off");
	make_big_dir();
	assert_seekdir_returns_to_telldir();
}

Test(dirs, seekdir_returns_to_telldir_positions_with_cache_never)
{
	start("cache=never");
	make_big_dir();
	assert_seekdir_returns_to_telldir();
	assert_seekdir_returns_to_telldir();
}

#define CHURNERS 6
#define CHURN_ROUNDS 300

/* Creates, renames and removes its own names in the shared dir "d"; leaves one file. */
static int churn_names(int id)
{
	char a[64], b[64], want[32];

	for (int i = 0; i < CHURN_ROUNDS; i++) {
		snprintf(a, sizeof(a), "d/p%d-a%d", id, i % 7);
		snprintf(b, sizeof(b), "d/p%d-b%d", id, i % 5);
		snprintf(want, sizeof(want), "%d:%d", id, i);
		if (write_file(mp(&M, a), want, strlen(want)) || rename(mp(&M, a), mp(&M, b)))
			return 1;
		if (i % 3 == 0 && unlink(mp(&M, b)))
			return 2;
	}
	snprintf(a, sizeof(a), "d/p%d-final", id);
	return write_file(mp(&M, a), "done", 4) ? 3 : 0;
}

/*
 * A lister reads the dir meanwhile.  Which of the changing names it sees
 * is unspecified; that each listing completes with only real names is not.
 */
static int list_repeatedly(void)
{
	for (int i = 0; i < 50; i++) {
		DIR *d = opendir(mp(&M, "d"));
		struct dirent *e;

		if (!d)
			return 1;
		errno = 0;
		while ((e = readdir(d)))
			if (e->d_name[0] != 'p' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				return 2;
		if (errno)
			return 3;
		closedir(d);
	}
	return 0;
}

Test(dirs, concurrent_create_rename_unlink_in_one_dir)
{
	pid_t pids[CHURNERS + 1];

	start(NULL);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	for (int p = 0; p <= CHURNERS; p++) {
		pids[p] = fork();
		cr_assert_geq(pids[p], 0);
		if (pids[p] == 0)
			_exit(p < CHURNERS ? churn_names(p) : list_repeatedly());
	}
	for (int p = 0; p <= CHURNERS; p++) {
		int status;

		cr_assert_eq(waitpid(pids[p], &status, 0), pids[p]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d: status %#x",
			  p, status);
	}
	assert_listing_matches_backing("d");
	for (int p = 0; p < CHURNERS; p++) {
		char rel[64], buf[8] = "";

		snprintf(rel, sizeof(rel), "d/p%d-final", p);
		cr_assert_eq(read_file(mp(&M, rel), buf, sizeof(buf)), 4);
	}
}
