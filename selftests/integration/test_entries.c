// SPDX-License-Identifier: MIT
/*
 * Opcodes on names and inodes, through a real mount, each compared with
 * the backing directory: LOOKUP (and its negative answer), GETATTR,
 * SETATTR (chmod, chown, truncate, utimensat, and the same through an open
 * fd), READLINK, SYMLINK, MKNOD (fifo, unix socket, device node), MKDIR,
 * UNLINK, RMDIR, RENAME, RENAME2 (noreplace, exchange), LINK, STATX,
 * ACCESS and STATFS; and that an error the backing filesystem gives
 * reaches the caller unchanged.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

TestSuite(entries, .fini = mnt_teardown, .timeout = 60);

/* errno of a call that returns -1 on failure, 0 when it succeeded. */
#define ERRNO_OF(call) ((call) < 0 ? errno : 0)

static void lstat_ok(const char *path, struct stat *st)
{
	cr_assert_eq(lstat(path, st), 0, "lstat %s: %s", path, strerror(errno));
}

/* The attributes a mount must pass on unchanged (st_dev differs, naturally). */
static void assert_same_attrs(const struct stat *got, const struct stat *want, const char *what)
{
	cr_assert_eq(got->st_ino, want->st_ino, "%s: ino", what);
	cr_assert_eq(got->st_mode, want->st_mode, "%s: mode %o vs %o", what, got->st_mode,
		     want->st_mode);
	cr_assert_eq(got->st_nlink, want->st_nlink, "%s: nlink", what);
	cr_assert_eq(got->st_uid, want->st_uid, "%s: uid", what);
	cr_assert_eq(got->st_gid, want->st_gid, "%s: gid", what);
	cr_assert_eq(got->st_size, want->st_size, "%s: size", what);
	cr_assert_eq(got->st_rdev, want->st_rdev, "%s: rdev", what);
	cr_assert_eq(got->st_mtim.tv_sec, want->st_mtim.tv_sec, "%s: mtime", what);
	cr_assert_eq(got->st_mtim.tv_nsec, want->st_mtim.tv_nsec, "%s: mtime ns", what);
}

static void assert_same_as_backing(const char *rel)
{
	struct stat in_mount, in_backing;

	lstat_ok(mp(&M, rel), &in_mount);
	lstat_ok(bp(&M, rel), &in_backing);
	assert_same_attrs(&in_mount, &in_backing, rel);
}

Test(entries, lookup_reports_backing_attributes)
{
	uint64_t lookups;

	start(NULL);
	cr_assert_eq(mkdir(bp(&M, "d"), 0750), 0);
	cr_assert_eq(mkdir(bp(&M, "d/sub"), 0700), 0);
	put(bp(&M, "d/sub/f"), "hello");
	cr_assert_eq(chmod(bp(&M, "d/sub/f"), 0640), 0);
	cr_assert_eq(chown(bp(&M, "d/sub/f"), 123, 456), 0);
	cr_assert_eq(symlink("sub/f", bp(&M, "d/l")), 0);

	lookups = served("LOOKUP");
	assert_same_as_backing("d");
	assert_same_as_backing("d/sub");
	assert_same_as_backing("d/sub/f");
	assert_same_as_backing("d/l");
	cr_assert_geq(served("LOOKUP"), lookups + 4);
}

Test(entries, lookup_of_missing_name_is_enoent)
{
	uint64_t lookups;
	struct stat st;

	start(NULL);
	put(bp(&M, "f"), "x");
	lookups = served("LOOKUP");
	cr_assert_eq(ERRNO_OF(stat(mp(&M, "missing"), &st)), ENOENT);
	cr_assert_eq(ERRNO_OF(stat(mp(&M, "missing/deeper"), &st)), ENOENT);
	cr_assert_eq(ERRNO_OF(stat(mp(&M, "f/x"), &st)), ENOTDIR);
	cr_assert_geq(served("LOOKUP"), lookups + 2);
	/* A name that was missing and then created through the mount is found. */
	put(mp(&M, "missing"), "now");
	cr_assert_eq(stat(mp(&M, "missing"), &st), 0);
	cr_assert_eq(st.st_size, 3);
}

/*
 * attr_timeout=0: every stat asks the daemon, which asks the backing file
 * (on fusebpf.ko, the kernel asks it).
 */
Test(entries, getattr_reports_backing_changes)
{
	struct stat st;
	uint64_t getattrs;

	start("attr_timeout=0");
	put(bp(&M, "f"), "12345");
	assert_same_as_backing("f");
	put(bp(&M, "f"), "1234567890");
	cr_assert_eq(chmod(bp(&M, "f"), 0600), 0);
	getattrs = served("GETATTR");
	assert_same_as_backing("f");
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_size, 10);
	cr_assert_geq(served("GETATTR"), getattrs + 1);
}

Test(entries, getattr_on_open_fd_matches_backing)
{
	struct stat in_mount, in_backing;
	int fd;

	start(NULL);
	fd = open(mp(&M, "f"), O_RDWR | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "some bytes", 10), 10);
	cr_assert_eq(fstat(fd, &in_mount), 0);
	lstat_ok(bp(&M, "f"), &in_backing);
	cr_assert_eq(in_mount.st_ino, in_backing.st_ino);
	cr_assert_eq(in_mount.st_size, 10);
	cr_assert_eq(in_backing.st_size, 10);
	cr_assert_eq(in_mount.st_mode, in_backing.st_mode);
	close(fd);
}

Test(entries, chmod_reaches_backing)
{
	struct stat st;

	start(NULL);
	put(mp(&M, "f"), "x");
	cr_assert_eq(chmod(mp(&M, "f"), 0604), 0);
	lstat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_mode, S_IFREG | 0604, "mode %o", st.st_mode);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	cr_assert_eq(chmod(mp(&M, "d"), 01750), 0);
	lstat_ok(bp(&M, "d"), &st);
	cr_assert_eq(st.st_mode, S_IFDIR | 01750, "mode %o", st.st_mode);
	assert_same_as_backing("f");
	assert_same_as_backing("d");
}

Test(entries, chown_reaches_backing)
{
	struct stat st;

	start(NULL);
	put(mp(&M, "f"), "x");
	cr_assert_eq(chown(mp(&M, "f"), 1000, 2000), 0);
	lstat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_uid, 1000);
	cr_assert_eq(st.st_gid, 2000);
	cr_assert_eq(chown(mp(&M, "f"), -1, 3000), 0);
	lstat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_uid, 1000);
	cr_assert_eq(st.st_gid, 3000);
	/* lchown changes the symlink, not its target. */
	cr_assert_eq(symlink("f", mp(&M, "l")), 0);
	cr_assert_eq(lchown(mp(&M, "l"), 1001, 1002), 0);
	lstat_ok(bp(&M, "l"), &st);
	cr_assert_eq(st.st_uid, 1001);
	cr_assert_eq(st.st_gid, 1002);
	lstat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_uid, 1000);
	assert_same_as_backing("f");
	assert_same_as_backing("l");
}

Test(entries, truncate_reaches_backing)
{
	char buf[8192], data[8192];
	struct stat st;

	start(NULL);
	memset(data, 'a', sizeof(data));
	cr_assert_eq(write_file(mp(&M, "f"), data, sizeof(data)), 0);
	cr_assert_eq(truncate(mp(&M, "f"), 100), 0);
	lstat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_size, 100);
	cr_assert_eq(truncate(mp(&M, "f"), 5000), 0);
	lstat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_size, 5000);
	cr_assert_eq(read_file(bp(&M, "f"), buf, sizeof(buf)), 5000);
	memset(data + 100, 0, 4900);
	cr_assert_eq(memcmp(buf, data, 5000), 0, "grown part must read as zeros");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 5000);
	cr_assert_eq(memcmp(buf, data, 5000), 0);
	assert_same_as_backing("f");
}

Test(entries, utimensat_explicit_times_reach_backing)
{
	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1500000000, 987654321 } };
	struct stat st;

	start(NULL);
	put(mp(&M, "f"), "x");
	cr_assert_eq(utimensat(AT_FDCWD, mp(&M, "f"), ts, 0), 0);
	lstat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_atim.tv_sec, ts[0].tv_sec);
	cr_assert_eq(st.st_atim.tv_nsec, ts[0].tv_nsec);
	cr_assert_eq(st.st_mtim.tv_sec, ts[1].tv_sec);
	cr_assert_eq(st.st_mtim.tv_nsec, ts[1].tv_nsec);
	lstat_ok(mp(&M, "f"), &st);
	cr_assert_eq(st.st_atim.tv_sec, ts[0].tv_sec);
	cr_assert_eq(st.st_atim.tv_nsec, ts[0].tv_nsec);
	assert_same_as_backing("f");

	/* UTIME_OMIT leaves that one alone. */
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = (struct timespec){ 1600000000, 5 };
	cr_assert_eq(utimensat(AT_FDCWD, mp(&M, "f"), ts, 0), 0);
	lstat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_atim.tv_sec, 1000000000);
	cr_assert_eq(st.st_atim.tv_nsec, 123456789);
	cr_assert_eq(st.st_mtim.tv_sec, 1600000000);
	cr_assert_eq(st.st_mtim.tv_nsec, 5);
}

Test(entries, utimensat_now_sets_current_time_in_backing)
{
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct timespec before, after;
	struct stat st;

	start(NULL);
	put(mp(&M, "f"), "x");
	cr_assert_eq(utimensat(AT_FDCWD, mp(&M, "f"), old, 0), 0);
	clock_gettime(CLOCK_REALTIME, &before);
	cr_assert_eq(utimensat(AT_FDCWD, mp(&M, "f"), now, 0), 0);
	clock_gettime(CLOCK_REALTIME, &after);
	lstat_ok(bp(&M, "f"), &st);
	/* File times come from a coarse clock: allow a second either side. */
	cr_assert(st.st_mtim.tv_sec >= before.tv_sec - 1 && st.st_mtim.tv_sec <= after.tv_sec + 1,
		  "mtime %ld not in [%ld, %ld]", (long)st.st_mtim.tv_sec, (long)before.tv_sec,
		  (long)after.tv_sec);
	cr_assert(st.st_atim.tv_sec >= before.tv_sec - 1 && st.st_atim.tv_sec <= after.tv_sec + 1);
	assert_same_as_backing("f");
}

Test(entries, fchmod_ftruncate_futimens_through_open_fd_reach_backing)
{
	struct timespec ts[2] = { { 1200000000, 1 }, { 1300000000, 2 } };
	struct stat st;
	int fd;

	start(NULL);
	fd = open(mp(&M, "f"), O_RDWR | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "0123456789", 10), 10);
	cr_assert_eq(fchmod(fd, 0611), 0);
	cr_assert_eq(ftruncate(fd, 4), 0);
	cr_assert_eq(futimens(fd, ts), 0);
	lstat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_mode, S_IFREG | 0611, "mode %o", st.st_mode);
	cr_assert_eq(st.st_size, 4);
	cr_assert_eq(st.st_atim.tv_sec, ts[0].tv_sec);
	cr_assert_eq(st.st_atim.tv_nsec, ts[0].tv_nsec);
	cr_assert_eq(st.st_mtim.tv_sec, ts[1].tv_sec);
	cr_assert_eq(st.st_mtim.tv_nsec, ts[1].tv_nsec);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 4);
	cr_assert_eq(st.st_mode, S_IFREG | 0611);
	close(fd);
	assert_same_as_backing("f");
}

Test(entries, readlink_returns_backing_target)
{
	const char *target = "../some/where/else";
	char buf[256];
	ssize_t n;
	struct stat st;

	start(NULL);
	cr_assert_eq(symlink(target, bp(&M, "l")), 0);
	n = readlink(mp(&M, "l"), buf, sizeof(buf));
	cr_assert_eq(n, (ssize_t)strlen(target));
	cr_assert_eq(memcmp(buf, target, n), 0);
	lstat_ok(mp(&M, "l"), &st);
	cr_assert(S_ISLNK(st.st_mode));
	cr_assert_eq(st.st_size, (off_t)strlen(target));
	cr_assert_eq(ERRNO_OF(readlink(mp(&M, "missing"), buf, sizeof(buf))), ENOENT);
}

Test(entries, symlink_creates_backing_symlink)
{
	char buf[256];
	struct stat via_link, target;
	ssize_t n;

	start(NULL);
	put(mp(&M, "f"), "target");
	cr_assert_eq(symlink("f", mp(&M, "l")), 0);
	cr_assert_eq(symlink("/no/such/absolute/path", mp(&M, "dangling")), 0);
	n = readlink(bp(&M, "l"), buf, sizeof(buf));
	cr_assert_eq(n, 1);
	cr_assert_eq(buf[0], 'f');
	n = readlink(bp(&M, "dangling"), buf, sizeof(buf));
	cr_assert_eq(n, (ssize_t)strlen("/no/such/absolute/path"));
	/* Following it through the mount reaches the target inode. */
	cr_assert_eq(stat(mp(&M, "l"), &via_link), 0);
	cr_assert_eq(stat(mp(&M, "f"), &target), 0);
	cr_assert_eq(via_link.st_ino, target.st_ino);
	cr_assert_eq(ERRNO_OF(symlink("f", mp(&M, "l"))), EEXIST);
	assert_same_as_backing("l");
	assert_same_as_backing("dangling");
}

Test(entries, mknod_fifo_creates_backing_fifo)
{
	char buf[8];
	struct stat st;
	uint64_t mknods;
	int fd;

	start(NULL);
	umask(0);
	mknods = served("MKNOD");
	cr_assert_eq(mkfifo(mp(&M, "fifo"), 0640), 0);
	cr_assert_geq(served("MKNOD"), mknods + 1);
	lstat_ok(bp(&M, "fifo"), &st);
	cr_assert_eq(st.st_mode, S_IFIFO | 0640, "mode %o", st.st_mode);
	assert_same_as_backing("fifo");
	/* It works as a fifo through the mount. */
	fd = open(mp(&M, "fifo"), O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "abc", 3), 3);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 3);
	cr_assert_eq(memcmp(buf, "abc", 3), 0);
	close(fd);
}

Test(entries, bind_unix_socket_creates_backing_socket)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int server, client, conn;
	char c = 0;
	struct stat st;

	start(NULL);
	cr_assert_lt(strlen(mp(&M, "sock")), sizeof(addr.sun_path));
	strcpy(addr.sun_path, mp(&M, "sock"));
	server = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(server, 0);
	cr_assert_eq(bind(server, (struct sockaddr *)&addr, sizeof(addr)), 0, "bind: %s",
		     strerror(errno));
	cr_assert_eq(listen(server, 1), 0);
	lstat_ok(bp(&M, "sock"), &st);
	cr_assert(S_ISSOCK(st.st_mode), "mode %o", st.st_mode);
	assert_same_as_backing("sock");

	/* Connecting by the path in the mount reaches the bound socket. */
	client = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(connect(client, (struct sockaddr *)&addr, sizeof(addr)), 0, "connect: %s",
		     strerror(errno));
	conn = accept(server, NULL, NULL);
	cr_assert_geq(conn, 0);
	cr_assert_eq(write(client, "z", 1), 1);
	cr_assert_eq(read(conn, &c, 1), 1);
	cr_assert_eq(c, 'z');
	close(conn);
	close(client);
	close(server);
}

Test(entries, mknod_char_device_creates_backing_node)
{
	struct stat st;

	start(NULL);
	umask(0);
	cr_assert_eq(mknod(mp(&M, "null"), S_IFCHR | 0666, makedev(1, 3)), 0, "mknod: %s",
		     strerror(errno));
	lstat_ok(bp(&M, "null"), &st);
	cr_assert_eq(st.st_mode, S_IFCHR | 0666, "mode %o", st.st_mode);
	cr_assert_eq(major(st.st_rdev), 1);
	cr_assert_eq(minor(st.st_rdev), 3);
	assert_same_as_backing("null");
	/* And a regular file by mknod. */
	cr_assert_eq(mknod(mp(&M, "plain"), S_IFREG | 0600, 0), 0);
	lstat_ok(bp(&M, "plain"), &st);
	cr_assert_eq(st.st_mode, S_IFREG | 0600);
	cr_assert_eq(st.st_size, 0);
}

Test(entries, mkdir_creates_backing_dir)
{
	struct stat st;

	start(NULL);
	umask(0);
	cr_assert_eq(mkdir(mp(&M, "d"), 0750), 0);
	cr_assert_eq(mkdir(mp(&M, "d/e"), 0700), 0);
	lstat_ok(bp(&M, "d"), &st);
	cr_assert_eq(st.st_mode, S_IFDIR | 0750, "mode %o", st.st_mode);
	cr_assert_eq(st.st_nlink, 3);
	lstat_ok(bp(&M, "d/e"), &st);
	cr_assert_eq(st.st_mode, S_IFDIR | 0700);
	assert_same_as_backing("d");
	assert_same_as_backing("d/e");
	cr_assert_eq(ERRNO_OF(mkdir(mp(&M, "d"), 0755)), EEXIST);
}

Test(entries, unlink_removes_backing_entry)
{
	struct stat st;

	start(NULL);
	put(mp(&M, "f"), "x");
	put(bp(&M, "g"), "y"); /* created behind the mount's back */
	cr_assert_eq(unlink(mp(&M, "f")), 0);
	cr_assert_eq(unlink(mp(&M, "g")), 0);
	cr_assert_eq(ERRNO_OF(lstat(bp(&M, "f"), &st)), ENOENT);
	cr_assert_eq(ERRNO_OF(lstat(bp(&M, "g"), &st)), ENOENT);
	cr_assert_eq(ERRNO_OF(lstat(mp(&M, "f"), &st)), ENOENT);
	cr_assert_eq(ERRNO_OF(unlink(mp(&M, "f"))), ENOENT);
}

Test(entries, rmdir_removes_empty_backing_dir)
{
	struct stat st;

	start(NULL);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	cr_assert_eq(mkdir(bp(&M, "e"), 0755), 0);
	cr_assert_eq(rmdir(mp(&M, "d")), 0);
	cr_assert_eq(rmdir(mp(&M, "e")), 0);
	cr_assert_eq(ERRNO_OF(lstat(bp(&M, "d"), &st)), ENOENT);
	cr_assert_eq(ERRNO_OF(lstat(bp(&M, "e"), &st)), ENOENT);
	cr_assert_eq(ERRNO_OF(rmdir(mp(&M, "d"))), ENOENT);
}

Test(entries, rmdir_of_nonempty_dir_is_enotempty)
{
	struct stat st;

	start(NULL);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	put(mp(&M, "d/f"), "x");
	cr_assert_eq(mkdir(bp(&M, "e"), 0755), 0);
	put(bp(&M, "e/f"), "x"); /* the mount has not seen e/f: only the backing knows */
	cr_assert_eq(ERRNO_OF(rmdir(mp(&M, "d"))), ENOTEMPTY);
	cr_assert_eq(ERRNO_OF(rmdir(mp(&M, "e"))), ENOTEMPTY);
	lstat_ok(bp(&M, "d/f"), &st);
	lstat_ok(bp(&M, "e/f"), &st);
}

Test(entries, rename_moves_backing_entry)
{
	char buf[16] = "";
	struct stat st, before;

	start(NULL);
	cr_assert_eq(mkdir(mp(&M, "d1"), 0755), 0);
	cr_assert_eq(mkdir(mp(&M, "d2"), 0755), 0);
	put(mp(&M, "d1/a"), "alpha");
	lstat_ok(bp(&M, "d1/a"), &before);
	cr_assert_eq(rename(mp(&M, "d1/a"), mp(&M, "d2/b")), 0);
	cr_assert_eq(ERRNO_OF(lstat(bp(&M, "d1/a"), &st)), ENOENT);
	lstat_ok(bp(&M, "d2/b"), &st);
	cr_assert_eq(st.st_ino, before.st_ino);
	cr_assert_eq(read_file(mp(&M, "d2/b"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "alpha");
	assert_same_as_backing("d2/b");

	/* Over an existing file: it is replaced. */
	put(mp(&M, "d2/c"), "old contents");
	cr_assert_eq(rename(mp(&M, "d2/b"), mp(&M, "d2/c")), 0);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(bp(&M, "d2/c"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "alpha");
	cr_assert_eq(ERRNO_OF(lstat(bp(&M, "d2/b"), &st)), ENOENT);

	/* A directory with contents. */
	cr_assert_eq(rename(mp(&M, "d2"), mp(&M, "d1/moved")), 0);
	lstat_ok(bp(&M, "d1/moved/c"), &st);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(mp(&M, "d1/moved/c"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "alpha");
}

Test(entries, rename_noreplace_over_existing_is_eexist)
{
	char buf[16] = "";
	struct stat st;

	start(NULL);
	put(mp(&M, "a"), "aaa");
	put(mp(&M, "b"), "bbb");
	cr_assert_eq(ERRNO_OF(renameat2(AT_FDCWD, mp(&M, "a"), AT_FDCWD, mp(&M, "b"),
					RENAME_NOREPLACE)),
		     EEXIST);
	cr_assert_eq(read_file(bp(&M, "a"), buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "aaa");
	cr_assert_eq(read_file(bp(&M, "b"), buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "bbb");
	/* The target exists only in the backing dir: the daemon must refuse. */
	put(bp(&M, "hidden"), "hhh");
	cr_assert_eq(ERRNO_OF(renameat2(AT_FDCWD, mp(&M, "a"), AT_FDCWD, mp(&M, "hidden"),
					RENAME_NOREPLACE)),
		     EEXIST);
	cr_assert_eq(read_file(bp(&M, "hidden"), buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "hhh");
	cr_assert_eq(renameat2(AT_FDCWD, mp(&M, "a"), AT_FDCWD, mp(&M, "c"), RENAME_NOREPLACE), 0);
	lstat_ok(bp(&M, "c"), &st);
	cr_assert_eq(ERRNO_OF(lstat(bp(&M, "a"), &st)), ENOENT);
}

Test(entries, rename_exchange_swaps_entries)
{
	char buf[16] = "";
	struct stat a_before, b_before, st;

	start(NULL);
	put(mp(&M, "a"), "first");
	put(mp(&M, "b"), "second");
	lstat_ok(bp(&M, "a"), &a_before);
	lstat_ok(bp(&M, "b"), &b_before);
	cr_assert_eq(renameat2(AT_FDCWD, mp(&M, "a"), AT_FDCWD, mp(&M, "b"), RENAME_EXCHANGE), 0,
		     "%s", strerror(errno));
	cr_assert_eq(read_file(bp(&M, "a"), buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "second");
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(bp(&M, "b"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "first");
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(mp(&M, "a"), buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "second");
	lstat_ok(mp(&M, "a"), &st);
	cr_assert_eq(st.st_ino, b_before.st_ino);
	lstat_ok(mp(&M, "b"), &st);
	cr_assert_eq(st.st_ino, a_before.st_ino);

	/* A file and a directory trade places too. */
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	put(mp(&M, "d/in"), "x");
	cr_assert_eq(renameat2(AT_FDCWD, mp(&M, "a"), AT_FDCWD, mp(&M, "d"), RENAME_EXCHANGE), 0);
	lstat_ok(bp(&M, "a/in"), &st);
	lstat_ok(bp(&M, "d"), &st);
	cr_assert(S_ISREG(st.st_mode));
	lstat_ok(mp(&M, "a/in"), &st);
	cr_assert_eq(ERRNO_OF(renameat2(AT_FDCWD, mp(&M, "a"), AT_FDCWD, mp(&M, "missing"),
					RENAME_EXCHANGE)),
		     ENOENT);
}

Test(entries, link_shares_inode_and_nlink)
{
	struct stat f, l, bf, bl;
	char buf[16] = "";

	start(NULL);
	put(mp(&M, "f"), "shared");
	cr_assert_eq(link(mp(&M, "f"), mp(&M, "l")), 0);
	lstat_ok(mp(&M, "f"), &f);
	lstat_ok(mp(&M, "l"), &l);
	lstat_ok(bp(&M, "f"), &bf);
	lstat_ok(bp(&M, "l"), &bl);
	cr_assert_eq(f.st_ino, l.st_ino);
	cr_assert_eq(bf.st_ino, bl.st_ino);
	cr_assert_eq(f.st_ino, bf.st_ino);
	cr_assert_eq(f.st_nlink, 2);
	cr_assert_eq(l.st_nlink, 2);
	cr_assert_eq(bf.st_nlink, 2);
	/* A write through one name shows through the other. */
	put(mp(&M, "l"), "changed");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 7);
	cr_assert_str_eq(buf, "changed");
	cr_assert_eq(unlink(mp(&M, "f")), 0);
	lstat_ok(mp(&M, "l"), &l);
	cr_assert_eq(l.st_nlink, 1);
	lstat_ok(bp(&M, "l"), &bl);
	cr_assert_eq(bl.st_nlink, 1);
	cr_assert_eq(ERRNO_OF(link(mp(&M, "l"), mp(&M, "l"))), EEXIST);
}

Test(entries, statx_btime_matches_backing)
{
	struct statx in_mount, in_backing;

	start(NULL);
	put(bp(&M, "f"), "x");
	cr_assert_eq(statx(AT_FDCWD, bp(&M, "f"), 0, STATX_BASIC_STATS | STATX_BTIME, &in_backing),
		     0);
	if (!(in_backing.stx_mask & STATX_BTIME))
		cr_skip_test("the backing filesystem has no birth time");
	if (mnt_stat(&M, "kernel_minor") < 39)
		cr_skip_test("the kernel's FUSE 7.%llu has no STATX (7.39, Linux 6.6)",
			     (unsigned long long)mnt_stat(&M, "kernel_minor"));
	cr_assert_eq(statx(AT_FDCWD, mp(&M, "f"), 0, STATX_BASIC_STATS | STATX_BTIME, &in_mount),
		     0);
	cr_assert(in_mount.stx_mask & STATX_BTIME, "mask %#x", in_mount.stx_mask);
	cr_assert_eq(in_mount.stx_btime.tv_sec, in_backing.stx_btime.tv_sec);
	cr_assert_eq(in_mount.stx_btime.tv_nsec, in_backing.stx_btime.tv_nsec);
	cr_assert_eq(in_mount.stx_ino, in_backing.stx_ino);
	cr_assert_eq(in_mount.stx_size, in_backing.stx_size);
	cr_assert_eq(in_mount.stx_mtime.tv_nsec, in_backing.stx_mtime.tv_nsec);
	cr_assert_geq(requests("STATX"), 1);
}

struct access_case {
	const char *path;
	int mode;
};

static int access_errno(void *arg)
{
	const struct access_case *c = arg;

	return ERRNO_OF(access(c->path, c->mode));
}

/*
 * Without default_permissions the kernel asks the daemon (ACCESS); the
 * answer must be the one the backing filesystem gives the same caller.
 * That mode is allowed only without allow_other (the daemon acts as root):
 * only root can use the mount, and others get EACCES from the kernel.
 */
static int stat_errno(void *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? errno : 0;
}

Test(entries, access_answers_as_backing_does)
{
	static const struct {
		const char *name;
		mode_t mode;
	} files[] = { { "rw_owner_only", 0600 }, { "readable", 0644 }, { "exec", 0755 },
		      { "group_rw", 0660 }, { "none", 0 } };
	static const int modes[] = { F_OK, R_OK, W_OK, X_OK, R_OK | W_OK };
	uint64_t accesses;

	start("no_default_permissions,no_allow_other");
	cr_assert_eq(chmod(M.root, 0711), 0); /* let uid 1000 reach both dirs */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		put(bp(&M, files[i].name), "x");
		cr_assert_eq(chmod(bp(&M, files[i].name), files[i].mode), 0);
	}
	accesses = served("ACCESS");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		for (size_t j = 0; j < sizeof(modes) / sizeof(modes[0]); j++) {
			struct access_case in_mount = { mp(&M, files[i].name), modes[j] };
			struct access_case in_backing = { bp(&M, files[i].name), modes[j] };

			cr_assert_eq(access_errno(&in_mount), access_errno(&in_backing),
				     "root, %s, mode %d", files[i].name, modes[j]);
		}
	}
	cr_assert_gt(served("ACCESS"), accesses);
	cr_assert_eq(run_as(1000, 1000, stat_errno, (void *)mp(&M, "readable")), EACCES,
		     "a user other than the mounter reached a no_allow_other mount");
}

Test(entries, no_default_permissions_with_allow_other_is_refused)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
		 "'%s' -f -o no_default_permissions /tmp /mnt 2>&1 | "
		 "grep -q 'needs no_allow_other'",
		 fsd_bin());
	cr_assert_eq(sh("%s", cmd), 0);
}

Test(entries, statfs_matches_backing)
{
	struct statvfs in_mount, in_backing;
	uint64_t statfs_requests;

	start(NULL);
	statfs_requests = served("STATFS");
	cr_assert_eq(statvfs(mp(&M, ""), &in_mount), 0);
	cr_assert_eq(statvfs(bp(&M, ""), &in_backing), 0);
	cr_assert_eq(in_mount.f_bsize, in_backing.f_bsize);
	cr_assert_eq(in_mount.f_frsize, in_backing.f_frsize);
	cr_assert_eq(in_mount.f_blocks, in_backing.f_blocks);
	cr_assert_eq(in_mount.f_files, in_backing.f_files);
	cr_assert_eq(in_mount.f_namemax, in_backing.f_namemax);
	/* Others write to the same filesystem meanwhile: free counts move a little. */
	cr_assert_lt(labs((long)(in_mount.f_bfree - in_backing.f_bfree)), 65536);
	cr_assert_lt(labs((long)(in_mount.f_bavail - in_backing.f_bavail)), 65536);
	cr_assert_lt(labs((long)(in_mount.f_ffree - in_backing.f_ffree)), 10000);
	cr_assert_geq(served("STATFS"), statfs_requests + 1);
}

/* Sets or clears the backing file's immutable flag; false if the fs has none. */
static bool set_immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY), flags = 0;
	bool ok;

	if (fd < 0)
		return false;
	ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
	if (ok) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	close(fd);
	return ok;
}

enum op { OP_STAT, OP_OPEN_WRONLY, OP_MKDIR, OP_UNLINK, OP_RMDIR, OP_LINK, OP_RENAME,
	  OP_READLINK, OP_LCHMOD };

static int do_op(enum op op, const char *(*path)(const struct mnt *, const char *),
		 const char *a, const char *b)
{
	struct stat st;
	char buf[64];
	int fd, err;

	switch (op) {
	case OP_STAT:
		return ERRNO_OF(lstat(path(&M, a), &st));
	case OP_OPEN_WRONLY:
		fd = open(path(&M, a), O_WRONLY);
		err = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		return err;
	case OP_MKDIR:
		return ERRNO_OF(mkdir(path(&M, a), 0755));
	case OP_UNLINK:
		return ERRNO_OF(unlink(path(&M, a)));
	case OP_RMDIR:
		return ERRNO_OF(rmdir(path(&M, a)));
	case OP_LINK:
		return ERRNO_OF(link(path(&M, a), path(&M, b)));
	case OP_RENAME:
		return ERRNO_OF(rename(path(&M, a), path(&M, b)));
	case OP_READLINK:
		return ERRNO_OF(readlink(path(&M, a), buf, sizeof(buf)));
	case OP_LCHMOD:
		return ERRNO_OF(fchmodat(AT_FDCWD, path(&M, a), 0600, AT_SYMLINK_NOFOLLOW));
	}
	return -1;
}

Test(entries, backing_errors_reach_caller_unchanged)
{
	static char long_name[301];
	const struct {
		enum op op;
		const char *a, *b;
		int expected;
	} cases[] = {
		{ OP_STAT, "missing", NULL, ENOENT },
		{ OP_STAT, "file/x", NULL, ENOTDIR },
		{ OP_STAT, long_name, NULL, ENAMETOOLONG },
		{ OP_OPEN_WRONLY, "dir", NULL, EISDIR },
		{ OP_MKDIR, "file", NULL, EEXIST },
		{ OP_MKDIR, "missing/x", NULL, ENOENT },
		{ OP_UNLINK, "dir", NULL, EISDIR },
		{ OP_RMDIR, "file", NULL, ENOTDIR },
		{ OP_RMDIR, "full", NULL, ENOTEMPTY },
		{ OP_LINK, "dir", "dirlink", EPERM },
		{ OP_RENAME, "dir", "dir/inside", EINVAL },
		{ OP_RENAME, "full", "file", ENOTDIR },
		{ OP_RENAME, "file", "full", EISDIR },
		{ OP_READLINK, "file", NULL, EINVAL },
		{ OP_LCHMOD, "link", NULL, EOPNOTSUPP },
		{ OP_OPEN_WRONLY, "loop", NULL, ELOOP },
		{ OP_OPEN_WRONLY, "loop/x", NULL, ELOOP },
		{ OP_UNLINK, "immutable", NULL, EPERM },
		{ OP_OPEN_WRONLY, "immutable", NULL, EPERM },
	};
	bool have_flags;

	start(NULL);
	memset(long_name, 'n', sizeof(long_name) - 1);
	put(bp(&M, "file"), "x");
	put(bp(&M, "immutable"), "x");
	cr_assert_eq(mkdir(bp(&M, "dir"), 0755), 0);
	cr_assert_eq(mkdir(bp(&M, "full"), 0755), 0);
	put(bp(&M, "full/f"), "x");
	cr_assert_eq(symlink("file", bp(&M, "link")), 0);
	cr_assert_eq(symlink("loop", bp(&M, "loop")), 0);
	have_flags = set_immutable(bp(&M, "immutable"), true);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int in_backing, in_mount;

		if (!have_flags && !strcmp(cases[i].a, "immutable"))
			continue;
		in_backing = do_op(cases[i].op, bp, cases[i].a, cases[i].b);
		in_mount = do_op(cases[i].op, mp, cases[i].a, cases[i].b);
		if (in_mount != in_backing || in_backing != cases[i].expected) {
			set_immutable(bp(&M, "immutable"), false);
			cr_assert_fail("case %zu (%s): mount %s, backing %s, expected %s", i,
				       cases[i].a, strerror(in_mount), strerror(in_backing),
				       strerror(cases[i].expected));
		}
	}
	if (have_flags)
		set_immutable(bp(&M, "immutable"), false);
}

/*
 * With fd_cache=16 most nodes have no open fd and are reopened by file
 * handle: each name must still lead to its own inode, also after its
 * directory has been renamed.
 */
Test(entries, lookups_beyond_fd_cache_reach_the_right_inodes)
{
	char rel[64], buf[64], want[64];
	struct stat in_mount, in_backing;

	start("fd_cache=16");
	for (int d = 0; d < 3; d++) {
		snprintf(rel, sizeof(rel), "dir%d", d);
		cr_assert_eq(mkdir(mp(&M, rel), 0755), 0);
		for (int i = 0; i < 100; i++) {
			snprintf(rel, sizeof(rel), "dir%d/f%d", d, i);
			snprintf(want, sizeof(want), "file %d of dir %d", i, d);
			put(mp(&M, rel), want);
		}
	}
	cr_assert_eq(rename(mp(&M, "dir1"), mp(&M, "renamed")), 0);
	for (int pass = 0; pass < 2; pass++) {
		for (int d = 0; d < 3; d++) {
			for (int i = 0; i < 100; i++) {
				snprintf(rel, sizeof(rel), d == 1 ? "renamed/f%d" : "dir%d/f%d",
					 d == 1 ? i : d, i);
				snprintf(want, sizeof(want), "file %d of dir %d", i, d);
				memset(buf, 0, sizeof(buf));
				cr_assert_eq(read_file(mp(&M, rel), buf, sizeof(buf)),
					     (ssize_t)strlen(want), "%s", rel);
				cr_assert_str_eq(buf, want);
				cr_assert_eq(chmod(mp(&M, rel), 0600 + pass), 0);
				lstat_ok(mp(&M, rel), &in_mount);
				lstat_ok(bp(&M, rel), &in_backing);
				assert_same_attrs(&in_mount, &in_backing, rel);
				cr_assert_eq(in_backing.st_mode, S_IFREG | (0600 + pass));
			}
		}
	}
	cr_assert_leq(mnt_stat(&M, "fds_cached"), 16);
}

/*
 * A full backing filesystem: a 1 MiB tmpfs mounted inside the backing dir.
 * The writer sees ENOSPC after what fitted, with or without passthrough.
 */
static void assert_enospc_reaches_writer(void)
{
	static char chunk[64 * 1024];
	ssize_t total = 0, n;
	struct stat st;
	int fd, err;

	cr_assert_eq(mkdir(bp(&M, "small"), 0755), 0);
	if (mount("tmpfs", bp(&M, "small"), "tmpfs", 0, "size=1m") < 0)
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
	fd = open(mp(&M, "small/f"), O_WRONLY | O_CREAT, 0644);
	err = fd < 0 ? errno : 0;
	while (!err && total < 8 * 1024 * 1024) {
		n = write(fd, chunk, sizeof(chunk));
		if (n < 0)
			err = errno;
		else
			total += n;
	}
	if (fd >= 0)
		close(fd);
	n = lstat(bp(&M, "small/f"), &st) < 0 ? -1 : st.st_size;
	umount2(bp(&M, "small"), MNT_DETACH);
	cr_assert_eq(err, ENOSPC, "got %s after %zd bytes", strerror(err), total);
	cr_assert_leq(total, 1024 * 1024);
	cr_assert_eq(n, total, "backing size %zd, written %zd", n, total);
}

Test(entries, enospc_from_backing_reaches_writer)
{
	start(NULL);
	assert_enospc_reaches_writer();
}

Test(entries, enospc_from_backing_reaches_writer_without_passthrough)
{
	start("passthrough=off");
	assert_enospc_reaches_writer();
}

/*
 * cache=never: the kernel asks again for every name.  A file replaced
 * behind the mount's back (its inode number likely reused) is the new
 * file, and an fd open on the old one still reads the old one.
 */
Test(entries, file_replaced_in_backing_is_a_new_file)
{
	char buf[32];
	struct stat st;
	int fd;

	start("cache=never");
	for (int round = 0; round < 20; round++) {
		char want[32];

		put(mp(&M, "f"), "first file");
		cr_assert_eq(stat(mp(&M, "f"), &st), 0);
		fd = round & 1 ? open(mp(&M, "f"), O_RDONLY) : -1;
		cr_assert_eq(unlink(bp(&M, "f")), 0);
		snprintf(want, sizeof(want), "replacement %d", round);
		put(bp(&M, "f"), want);
		memset(buf, 0, sizeof(buf));
		cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), (ssize_t)strlen(want),
			     "round %d", round);
		cr_assert_str_eq(buf, want);
		assert_same_as_backing("f");
		if (fd >= 0) {
			memset(buf, 0, sizeof(buf));
			cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 10);
			cr_assert_str_eq(buf, "first file");
			cr_assert_eq(fstat(fd, &st), 0);
			cr_assert_eq(st.st_size, 10);
			close(fd);
		}
		cr_assert_eq(unlink(mp(&M, "f")), 0);
	}
}

Test(entries, same_name_created_and_removed_repeatedly)
{
	char want[32], buf[32];
	struct stat st;

	start("fd_cache=16");
	for (int i = 0; i < 300; i++) {
		snprintf(want, sizeof(want), "generation %d", i);
		put(mp(&M, "f"), want);
		memset(buf, 0, sizeof(buf));
		cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), (ssize_t)strlen(want));
		cr_assert_str_eq(buf, want);
		assert_same_as_backing("f");
		cr_assert_eq(i & 1 ? unlink(mp(&M, "f")) : rename(mp(&M, "f"), mp(&M, "g")), 0);
		if (!(i & 1))
			cr_assert_eq(unlink(mp(&M, "g")), 0);
		cr_assert_eq(ERRNO_OF(stat(mp(&M, "f"), &st)), ENOENT);
		cr_assert_eq(mkdir(mp(&M, "f"), 0755), 0);
		assert_same_as_backing("f");
		cr_assert_eq(rmdir(mp(&M, "f")), 0);
	}
}

/* Names up to NAME_MAX work; one more byte is the backing fs's ENAMETOOLONG. */
Test(entries, longest_name_works)
{
	char name[NAME_MAX + 2];

	start(NULL);
	memset(name, 'x', NAME_MAX);
	name[NAME_MAX] = '\0';
	put(mp(&M, name), "long");
	assert_same_as_backing(name);
	cr_assert_eq(unlink(mp(&M, name)), 0);
	strcat(name, "y");
	cr_assert_eq(ERRNO_OF(open(mp(&M, name), O_WRONLY | O_CREAT, 0644)), ENAMETOOLONG);
	cr_assert_eq(ERRNO_OF(mkdir(mp(&M, name), 0755)), ENAMETOOLONG);
}

/*
 * Another filesystem mounted inside the backing dir: statfs describes it,
 * and rename or link across to it is EXDEV, as it is natively.
 */
Test(entries, backing_submount_statfs_and_exdev)
{
	struct statvfs in_mount, in_backing;
	int err_rename, err_link;

	start(NULL);
	cr_assert_eq(mkdir(bp(&M, "sub"), 0755), 0);
	if (mount("tmpfs", bp(&M, "sub"), "tmpfs", 0, "size=4m") < 0)
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
	put(bp(&M, "here"), "x");
	cr_assert_eq(statvfs(mp(&M, "sub"), &in_mount), 0);
	cr_assert_eq(statvfs(bp(&M, "sub"), &in_backing), 0);
	err_rename = ERRNO_OF(rename(mp(&M, "here"), mp(&M, "sub/there")));
	err_link = ERRNO_OF(link(mp(&M, "here"), mp(&M, "sub/there")));
	umount2(bp(&M, "sub"), MNT_DETACH);
	cr_assert_eq(in_mount.f_blocks, in_backing.f_blocks);
	cr_assert_eq(in_mount.f_bsize, in_backing.f_bsize);
	cr_assert_eq(in_mount.f_files, in_backing.f_files);
	cr_assert_eq(err_rename, EXDEV, "rename: %s", strerror(err_rename));
	cr_assert_eq(err_link, EXDEV, "link: %s", strerror(err_link));
}
