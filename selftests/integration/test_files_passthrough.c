// SPDX-License-Identifier: MIT
/*
 * File data paths and their bookkeeping: with kernel passthrough READ and
 * WRITE never reach the daemon, without it they do; many open/close cycles
 * leave no handle, backing id or fd behind once the asynchronous RELEASEs
 * have arrived; what each cache mode promises about seeing changes; and
 * the times a write through a shared mapping leaves, seen through the mount.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(files_passthrough, .fini = mnt_teardown, .timeout = 180);
TestSuite(files_cache, .fini = mnt_teardown, .timeout = 60);
TestSuite(files_mmap, .fini = mnt_teardown, .timeout = 60);

#define ERRNO_OF(call) ((call) < 0 ? errno : 0)
#define MIB (1024 * 1024)
#define BIG_FILE (64 * MIB)

/* Writes BIG_FILE bytes through the mount in 1 MiB writes and reads them back. */
static void big_file_round_trip(void)
{
	unsigned int *buf = malloc(MIB);
	int fd;

	cr_assert(buf);
	fd = open(mp(&M, "big"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	for (unsigned int chunk = 0; chunk < BIG_FILE / MIB; chunk++) {
		for (size_t i = 0; i < MIB / sizeof(*buf); i++)
			buf[i] = chunk * (MIB / sizeof(*buf)) + i;
		cr_assert_eq(write(fd, buf, MIB), MIB);
	}
	/* Reads must not be served from pages the writes left in the cache. */
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	for (unsigned int chunk = 0; chunk < BIG_FILE / MIB; chunk++) {
		cr_assert_eq(read(fd, buf, MIB), MIB);
		for (size_t i = 0; i < MIB / sizeof(*buf); i++)
			cr_assert_eq(buf[i], chunk * (MIB / sizeof(*buf)) + i, "chunk %u word %zu",
				     chunk, i);
	}
	close(fd);
	free(buf);
}

Test(files_passthrough, big_file_io_bypasses_daemon)
{
	struct stat st;

	start(NULL);
	if (mnt_stat(&M, "passthrough") != 1)
		cr_skip_test("the kernel does not offer FUSE passthrough");
	big_file_round_trip();
	cr_assert_eq(stat(bp(&M, "big"), &st), 0);
	cr_assert_eq(st.st_size, BIG_FILE);
	cr_assert_eq(requests("READ"), 0);
	cr_assert_eq(requests("WRITE"), 0);
}

/*
 * The open that creates a file checks its permission right after the
 * CREATE reply; the reply's attributes serve that check, so creating a
 * file asks for no GETATTR of it (the directory's, which each change in it
 * makes stale, is the kernel's own doing), even O_RDWR, whose passthrough
 * opens let the kernel cache no attributes for longer.
 */
Test(files_passthrough, a_create_asks_no_getattr_of_the_new_file)
{
	char name[32];
	uint64_t before;
	int fd;

	start(NULL);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0, "%s", strerror(errno));
	before = requests("GETATTR");
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "d/f%d", i);
		fd = open(mp(&M, name), O_RDWR | O_CREAT | O_EXCL, 0644);
		cr_assert_geq(fd, 0, "open %s: %s", name, strerror(errno));
		close(fd);
	}
	/* One each for d (each create makes it stale); 2 each asked for the new file too. */
	cr_assert_leq(requests("GETATTR") - before, 75, "50 creates sent %llu GETATTRs",
		      (unsigned long long)(requests("GETATTR") - before));
}

/*
 * An O_WRONLY open cannot write through a shared mapping, so the kernel
 * keeps the attributes of a file open that way (cp, tar, a log): a stat
 * after its create asks nothing, and after a write the attributes the
 * kernel asks for again are the backing file's.
 */
Test(files_passthrough, a_file_open_write_only_keeps_its_attributes_cached)
{
	struct stat m, b;
	uint64_t before;
	int fd;

	start(NULL);
	fd = open(mp(&M, "f"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert_geq(fd, 0, "open: %s", strerror(errno));
	before = requests("GETATTR");
	cr_assert_eq(stat(mp(&M, "f"), &m), 0, "%s", strerror(errno));
	cr_assert_eq(fstat(fd, &m), 0, "%s", strerror(errno));
	cr_assert_eq(requests("GETATTR"), before, "a stat of a new file open O_WRONLY asked");
	sleep_ms(20); /* beyond a tick of the kernel's coarse clock */
	cr_assert_eq(write(fd, "0123456789", 10), 10);
	cr_assert_eq(fstat(fd, &m), 0);
	cr_assert_eq(stat(bp(&M, "f"), &b), 0);
	cr_assert(m.st_size == 10 && m.st_mtim.tv_sec == b.st_mtim.tv_sec &&
			  m.st_mtim.tv_nsec == b.st_mtim.tv_nsec,
		  "after a write: size %lld, mtime %lld.%09ld through the mount, %lld.%09ld in the "
		  "backing file", (long long)m.st_size, (long long)m.st_mtim.tv_sec,
		  m.st_mtim.tv_nsec, (long long)b.st_mtim.tv_sec, b.st_mtim.tv_nsec);
	cr_assert_eq(close(fd), 0);
	before = requests("GETATTR");
	cr_assert_eq(stat(mp(&M, "f"), &m), 0);
	cr_assert_eq(requests("GETATTR"), before, "a stat after the close asked");
}

Test(files_passthrough, big_file_io_reaches_daemon_when_off)
{
	struct stat st;

	start("passthrough=off");
	cr_assert_eq(mnt_stat(&M, "passthrough"), 0);
	big_file_round_trip();
	cr_assert_eq(stat(bp(&M, "big"), &st), 0);
	cr_assert_eq(st.st_size, BIG_FILE);
	cr_assert_gt(requests("WRITE"), 0);
	cr_assert_gt(requests("READ"), 0);
}

Test(files_passthrough, reads_reach_daemon_when_off)
{
	char buf[16] = "";

	start("passthrough=off,cache=never");
	put(bp(&M, "f"), "from backing");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 12);
	cr_assert_str_eq(buf, "from backing");
	cr_assert_gt(requests("READ"), 0);
}

/*
 * Polls until the daemon holds no handle and its counter key reads n:
 * RELEASE and FORGET are asynchronous.
 */
static bool wait_for_closed_and(const char *key, uint64_t n)
{
	for (int i = 0; i < 100; i++) {
		if (mnt_stat(&M, "handles") == 0 && mnt_stat(&M, key) == n)
			return true;
		sleep_ms(100);
	}
	return false;
}

/* Polls until the daemon holds no handle and no backing id of an open file. */
static bool wait_for_releases(void)
{
	return wait_for_closed_and("backing_ids", 0);
}

/*
 * The daemon's fds other than its O_PATH cache, which may grow with new
 * inodes; once two counts 100 ms apart agree, since a released handle
 * leaves the table just before its fd is closed.
 */
static int fds_beyond_cache(void)
{
	int now = mnt_fd_count(&M) - (int)mnt_stat(&M, "fds_cached"), last;

	for (int i = 0; i < 50; i++) {
		last = now;
		sleep_ms(100);
		now = mnt_fd_count(&M) - (int)mnt_stat(&M, "fds_cached");
		if (now == last)
			break;
	}
	return now;
}

static void open_close_cycles(int nfiles, int cycles)
{
	char name[32];
	int before, after, fd;

	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		put(mp(&M, name), "x");
	}
	cr_assert(wait_for_releases());
	before = fds_beyond_cache();
	for (int i = 0; i < cycles; i++) {
		snprintf(name, sizeof(name), "f%d", i % nfiles);
		fd = open(mp(&M, name), i & 1 ? O_RDONLY : O_RDWR);
		cr_assert_geq(fd, 0, "cycle %d: %s", i, strerror(errno));
		cr_assert_eq(close(fd), 0);
	}
	cr_assert(wait_for_releases(), "after %d cycles: handles %llu backing_ids %llu", cycles,
		  (unsigned long long)mnt_stat(&M, "handles"),
		  (unsigned long long)mnt_stat(&M, "backing_ids"));
	/* Ids of closed files are kept only within the fd cache's budget. */
	cr_assert_leq(mnt_stat(&M, "backing_kept"), (uint64_t)nfiles);
	cr_assert_leq(mnt_stat(&M, "backing_kept"), mnt_stat(&M, "fd_cache_max"));
	after = fds_beyond_cache();
	cr_assert_eq(after, before, "daemon fds (beyond its cache): %d before, %d after", before,
		     after);
	/* The daemon's OPENs, or on fusebpf.ko the kernel's. */
	cr_assert_geq(served("OPEN"), (uint64_t)cycles);
}

/*
 * Five times as many opens as the daemon may hold fds (100,000 on this
 * project's host, 20,480 in a make vmtest guest): one fd or backing id kept
 * per open would run out.  A limit above 20,000 counts as 20,000.
 */
static int cycles_past_fd_limit(void)
{
	unsigned long limit = mnt_fd_limit(&M);

	return 5 * (int)(limit < 20000 ? limit : 20000);
}

Test(files_passthrough, open_close_cycles_5x_the_fd_limit_on_one_file_leave_nothing_open)
{
	start(NULL);
	open_close_cycles(1, cycles_past_fd_limit());
}

Test(files_passthrough, open_close_cycles_5x_the_fd_limit_over_1000_files_leave_nothing_open)
{
	start(NULL);
	open_close_cycles(1000, cycles_past_fd_limit());
}

Test(files_passthrough, open_close_cycles_without_passthrough_leave_nothing_open)
{
	start("passthrough=off");
	open_close_cycles(100, 20000);
}

/* Reads path through the mount and asserts its contents. */
static void assert_reads(const char *name, const char *want)
{
	char buf[64] = "";

	cr_assert_eq(read_file(mp(&M, name), buf, sizeof(buf) - 1), (ssize_t)strlen(want),
		     "%s: %s", name, strerror(errno));
	cr_assert_str_eq(buf, want, "%s", name);
}

/* The daemon's own passthrough opens are tested where it makes them. */
static void need_daemon_passthrough(void)
{
	if (mnt_stat(&M, "passthrough") != 1)
		cr_skip_test("the kernel does not offer FUSE passthrough");
	if (mnt_in_kernel(&M))
		cr_skip_test("fusebpf.ko opens the files of a passthrough policy itself");
}

/* Runs path; its exit status, 2 if exec failed with ETXTBSY, 3 otherwise. */
static int run_status(const char *path)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(path, path, (char *)NULL);
		_exit(errno == ETXTBSY ? 2 : 3);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Polls until the daemon keeps n backing ids of closed files. */
static bool wait_for_kept(uint64_t n)
{
	return wait_for_closed_and("backing_kept", n);
}

/*
 * A closed file's backing id stays registered, so a read-only open of it
 * again costs the daemon no open of its own: the kernel opens its backing
 * file from the id, and reads what the backing file holds now.  Opens that
 * need the daemon's open still get it: for writing, and O_TRUNC (which
 * must truncate).  The id holds no access to the backing file (an exec of
 * it works), and goes back to the kernel when the file does.
 */
Test(files_passthrough, a_closed_files_backing_id_serves_its_next_read_only_opens)
{
	uint64_t no_fd;
	struct stat st;
	int fd;

	start(NULL);
	need_daemon_passthrough();
	put(bp(&M, "f"), "first");
	assert_reads("f", "first");
	cr_assert(wait_for_kept(1), "kept %llu ids after the close",
		  (unsigned long long)mnt_stat(&M, "backing_kept"));
	cr_assert_eq(mnt_stat(&M, "backing_ids"), 0);
	no_fd = mnt_stat(&M, "opens_without_fd");

	put(bp(&M, "f"), "second");
	assert_reads("f", "second");
	cr_assert_eq(mnt_stat(&M, "opens_without_fd"), no_fd + 1, "the open asked for a fd");

	/* Writers get the daemon's open, on the same id. */
	fd = open(mp(&M, "f"), O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(write(fd, "+w", 2), 2);
	cr_assert_eq(mnt_stat(&M, "backing_kept"), 0, "the open did not take the kept id");
	cr_assert_eq(mnt_stat(&M, "backing_ids"), 1);
	cr_assert_eq(close(fd), 0);
	assert_reads("f", "second+w");
	cr_assert_eq(mnt_stat(&M, "opens_without_fd"), no_fd + 2);

	/* O_RDONLY | O_TRUNC truncates, which only the daemon's open does. */
	fd = open(mp(&M, "f"), O_RDONLY | O_TRUNC);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(close(fd), 0);
	cr_assert_eq(stat(bp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_size, 0, "O_TRUNC left %lld bytes", (long long)st.st_size);
	cr_assert_eq(mnt_stat(&M, "opens_without_fd"), no_fd + 2);

	/*
	 * A file created and written through the mount keeps its id too,
	 * which holds no write access to the backing file: it runs.
	 */
	fd = open(mp(&M, "g"), O_WRONLY | O_CREAT | O_EXCL, 0755);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(write(fd, "#!/bin/sh\n", 10), 10);
	cr_assert_eq(close(fd), 0);
	cr_assert(wait_for_kept(2), "kept %llu ids after a create",
		  (unsigned long long)mnt_stat(&M, "backing_kept"));
	cr_assert_eq(run_status(bp(&M, "g")), 0, "the backing file did not run (ETXTBSY: 2)");

	/* Unlinked through the mount, the kernel forgets the file, and its id goes. */
	cr_assert_eq(unlink(mp(&M, "f")), 0, "%s", strerror(errno));
	cr_assert(wait_for_kept(1), "kept %llu ids after the unlink",
		  (unsigned long long)mnt_stat(&M, "backing_kept"));
}

/*
 * The daemon keeps no more ids of closed files than its fd cache may hold
 * fds, and drops a node's id with its cached fd, oldest first.
 */
Test(files_passthrough, kept_backing_ids_stay_within_the_fd_cache)
{
	char name[16], text[24];

	start("fd_cache=16");
	need_daemon_passthrough();
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(text, sizeof(text), "text %d", i);
		put(bp(&M, name), text);
		assert_reads(name, text);
	}
	cr_assert(wait_for_releases());
	cr_assert(mnt_stat(&M, "backing_kept") > 0 && mnt_stat(&M, "backing_kept") <= 16,
		  "kept %llu ids of 40 closed files, fd_cache=16",
		  (unsigned long long)mnt_stat(&M, "backing_kept"));
	/* The files past the budget open as before. */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(text, sizeof(text), "text %d", i);
		assert_reads(name, text);
	}
	cr_assert(wait_for_releases());
	cr_assert_leq(mnt_stat(&M, "backing_kept"), 16);
}

/* Whether name is in the directory at path, by readdir. */
static bool listed(const char *path, const char *name)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool found = false;

	cr_assert(d, "opendir %s: %s", path, strerror(errno));
	while (!found && (e = readdir(d)))
		found = !strcmp(e->d_name, name);
	closedir(d);
	return found;
}

Test(files_cache, never_shows_backing_changes_at_once)
{
	struct stat st;
	char buf[32] = "";

	start("cache=never");
	put(bp(&M, "f"), "short");
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_size, 5);
	cr_assert(!listed(mp(&M, ""), "new"));
	cr_assert_eq(ERRNO_OF(stat(mp(&M, "new"), &st)), ENOENT);

	put(bp(&M, "f"), "a longer content");
	put(bp(&M, "new"), "appeared");
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_size, 16);
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 16);
	cr_assert_str_eq(buf, "a longer content");
	cr_assert(listed(mp(&M, ""), "new"));
	cr_assert_eq(stat(mp(&M, "new"), &st), 0);
	cr_assert_eq(st.st_size, 8);

	cr_assert_eq(unlink(bp(&M, "new")), 0);
	cr_assert_eq(ERRNO_OF(stat(mp(&M, "new"), &st)), ENOENT);
	cr_assert(!listed(mp(&M, ""), "new"));
	cr_assert_eq(rename(bp(&M, "f"), bp(&M, "g")), 0);
	cr_assert_eq(ERRNO_OF(stat(mp(&M, "f"), &st)), ENOENT);
	cr_assert_eq(stat(mp(&M, "g"), &st), 0);
}

/* cache=always keeps what it saw for a day, but the mount's own changes show at once. */
Test(files_cache, always_shows_the_mounts_own_changes)
{
	struct stat st;
	char buf[32] = "";

	start(NULL);
	put(mp(&M, "f"), "short");
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_size, 5);
	cr_assert(!listed(mp(&M, ""), "new"));
	cr_assert_eq(ERRNO_OF(stat(mp(&M, "new"), &st)), ENOENT);

	put(mp(&M, "f"), "a longer content");
	put(mp(&M, "new"), "appeared");
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_size, 16);
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 16);
	cr_assert_str_eq(buf, "a longer content");
	cr_assert(listed(mp(&M, ""), "new"));
	cr_assert_eq(stat(mp(&M, "new"), &st), 0);
	cr_assert_eq(st.st_size, 8);

	cr_assert_eq(unlink(mp(&M, "new")), 0);
	cr_assert_eq(ERRNO_OF(stat(mp(&M, "new"), &st)), ENOENT);
	cr_assert(!listed(mp(&M, ""), "new"));
	cr_assert_eq(rename(mp(&M, "f"), mp(&M, "g")), 0);
	cr_assert_eq(ERRNO_OF(stat(mp(&M, "f"), &st)), ENOENT);
	cr_assert_eq(stat(mp(&M, "g"), &st), 0);
	cr_assert_eq(truncate(mp(&M, "g"), 3), 0);
	cr_assert_eq(stat(mp(&M, "g"), &st), 0);
	cr_assert_eq(st.st_size, 3);
	cr_assert_eq(chmod(mp(&M, "g"), 0600), 0);
	cr_assert_eq(stat(mp(&M, "g"), &st), 0);
	cr_assert_eq(st.st_mode, S_IFREG | 0600);
}

/* ---- writes through a shared mapping ---- */

static void statx_ok(const char *path, unsigned int mask, struct statx *sx)
{
	cr_assert_eq(statx(AT_FDCWD, path, 0, mask, sx), 0, "statx %s: %s", path, strerror(errno));
}

static bool ts_eq(struct statx_timestamp a, struct statx_timestamp b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool ts_after(struct statx_timestamp a, struct statx_timestamp b)
{
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/*
 * Writes "f" three times through a shared mapping, each followed by msync,
 * and after each compares the mtime and ctime seen through the mount with
 * the backing file's.  Before it is opened, the kernel has cached the
 * file's attributes (a LOOKUP's).  The first look after a write asks statx
 * for the two times alone (so the kernel does not go to the daemon for the
 * atime that mmap made stale), the others stat as ls does.  close_first:
 * the file is closed before the writes, which the mapping outlives.
 */
static void mmap_writes_show_in_times(bool close_first)
{
	struct statx m, b, was;
	char *p, buf[11] = "";
	int fd;

	put(bp(&M, "f"), "0123456789");
	statx_ok(mp(&M, "f"), STATX_BASIC_STATS, &was);
	fd = open(mp(&M, "f"), O_RDWR);
	cr_assert_geq(fd, 0, "open: %s", strerror(errno));
	p = mmap(NULL, 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED, "mmap: %s", strerror(errno));
	if (close_first)
		cr_assert_eq(close(fd), 0);
	for (int i = 0; i < 3; i++) {
		/* Beyond a tick of the kernel's coarse clock (4 ms at HZ 250). */
		sleep_ms(20);
		p[i] = 'x';
		cr_assert_eq(msync(p, 10, MS_SYNC), 0, "msync: %s", strerror(errno));
		statx_ok(bp(&M, "f"), STATX_BASIC_STATS, &b);
		cr_assert(ts_after(b.stx_mtime, was.stx_mtime), "write %d left the backing mtime", i);
		statx_ok(mp(&M, "f"), i == 0 ? STATX_MTIME | STATX_CTIME : STATX_BASIC_STATS, &m);
		cr_assert(ts_eq(m.stx_mtime, b.stx_mtime),
			  "write %d: mtime %lld.%09u through the mount, %lld.%09u in the backing file",
			  i, (long long)m.stx_mtime.tv_sec, m.stx_mtime.tv_nsec,
			  (long long)b.stx_mtime.tv_sec, b.stx_mtime.tv_nsec);
		cr_assert(ts_eq(m.stx_ctime, b.stx_ctime),
			  "write %d: ctime %lld.%09u through the mount, %lld.%09u in the backing file",
			  i, (long long)m.stx_ctime.tv_sec, m.stx_ctime.tv_nsec,
			  (long long)b.stx_ctime.tv_sec, b.stx_ctime.tv_nsec);
		was = b;
	}
	cr_assert_eq(munmap(p, 10), 0);
	if (!close_first)
		cr_assert_eq(close(fd), 0);
	statx_ok(mp(&M, "f"), STATX_BASIC_STATS, &m);
	cr_assert(ts_eq(m.stx_mtime, b.stx_mtime) && ts_eq(m.stx_ctime, b.stx_ctime),
		  "after munmap and close");
	cr_assert_eq(read_file(bp(&M, "f"), buf, 10), 10);
	cr_assert_str_eq(buf, "xxx3456789");
}

/*
 * Passthrough: the writes reach the backing file with no request the
 * kernel's inode sees, so the daemon lets no attributes be cached while
 * the file is open for writing.
 */
Test(files_mmap, write_shows_new_mtime_cache_always)
{
	start(NULL);
	mmap_writes_show_in_times(false);
}

/*
 * A file created through the mount, open for writing by passthrough: its
 * CREATE reply lets the kernel keep its attributes for a jiffy (for the
 * open's own permission check).  Grown by ftruncate and written through a
 * shared mapping at once, it still shows the backing file's times.
 */
Test(files_mmap, write_to_a_new_file_shows_new_mtime)
{
	struct statx m, b;
	char *p;
	int fd;

	start(NULL);
	fd = open(mp(&M, "new"), O_RDWR | O_CREAT | O_EXCL, 0644);
	cr_assert_geq(fd, 0, "open: %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, 10), 0, "ftruncate: %s", strerror(errno));
	p = mmap(NULL, 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED, "mmap: %s", strerror(errno));
	sleep_ms(20); /* beyond a tick of the kernel's coarse clock */
	p[0] = 'x';
	cr_assert_eq(msync(p, 10, MS_SYNC), 0, "msync: %s", strerror(errno));
	statx_ok(bp(&M, "new"), STATX_BASIC_STATS, &b);
	statx_ok(mp(&M, "new"), STATX_BASIC_STATS, &m);
	cr_assert(ts_eq(m.stx_mtime, b.stx_mtime) && m.stx_size == 10,
		  "mtime %lld.%09u and size %llu through the mount, %lld.%09u in the backing file",
		  (long long)m.stx_mtime.tv_sec, m.stx_mtime.tv_nsec,
		  (unsigned long long)m.stx_size, (long long)b.stx_mtime.tv_sec,
		  b.stx_mtime.tv_nsec);
	cr_assert_eq(munmap(p, 10), 0);
	cr_assert_eq(close(fd), 0);
}

Test(files_mmap, write_shows_new_mtime_cache_auto)
{
	start("cache=auto");
	mmap_writes_show_in_times(false);
}

/*
 * cache=never without passthrough (a kernel before 6.9) serves files
 * FOPEN_DIRECT_IO, which a shared mapping needs FUSE_DIRECT_IO_ALLOW_MMAP
 * for (7.39, Linux 6.6): before it mmap fails with ENODEV.
 */
static void start_cache_never(void)
{
	start("cache=never");
	if (!mnt_stat(&M, "passthrough") && mnt_stat(&M, "kernel_minor") < 39)
		cr_skip_test("the kernel's FUSE 7.%llu cannot map FOPEN_DIRECT_IO files shared "
			     "(FUSE_DIRECT_IO_ALLOW_MMAP: 7.39, Linux 6.6)",
			     (unsigned long long)mnt_stat(&M, "kernel_minor"));
}

Test(files_mmap, write_shows_new_mtime_cache_never)
{
	start_cache_never();
	mmap_writes_show_in_times(false);
}

/* Through the page cache: the writeback is a WRITE, after which the kernel asks again. */
Test(files_mmap, write_shows_new_mtime_without_passthrough)
{
	start("passthrough=off");
	mmap_writes_show_in_times(false);
}

/* A mapping that outlives its file's last close: only uncached attributes follow it. */
Test(files_mmap, write_after_close_shows_new_mtime_cache_never)
{
	start_cache_never();
	mmap_writes_show_in_times(true);
}

Test(files_mmap, write_after_close_shows_new_mtime_without_passthrough)
{
	start("passthrough=off");
	mmap_writes_show_in_times(true);
}
