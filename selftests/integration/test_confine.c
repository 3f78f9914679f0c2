// SPDX-License-Identifier: MIT
/*
 * Confinement: the daemon itself never reaches outside the backing dir.
 * Symlinks that point outside are served as symlinks, and the operations
 * that must not follow them (lstat, readlink, unlink, rename, lchown,
 * utimensat/lsetxattr with no-follow, O_NOFOLLOW) act on the link, not on
 * its target.  When someone swaps a directory of the backing tree for a
 * symlink to the outside while the mount holds it open, requests relative to
 * the held directory still go to the directory (now moved), never through
 * the new symlink; a path walk may follow the symlink only because the mount
 * shows it as one.  Files renamed behind the mount's back keep working
 * through fds opened before.  "." and ".." style names fail as on a plain
 * directory.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(confine, .init = mnt_setup, .fini = mnt_teardown, .timeout = 60);

static const char *fmt_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt_path(const char *fmt, ...)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ & 3];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, PATH_MAX, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0 && n < PATH_MAX, "path too long");
	return b;
}

/* A dir beside the backing dir, so outside the mount: the decoy targets. */
static const char *outside(const char *rel)
{
	return fmt_path("%s/outside%s%s", M.root, *rel ? "/" : "", rel);
}

static void make_outside(void)
{
	cr_assert_eq(mkdir(outside(""), 0755), 0);
	cr_assert_eq(write_file(outside("secret"), "outside\n", 8), 0);
}

static int count_outside_entries(void)
{
	DIR *d = opendir(outside(""));
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static int err_of(int rc)
{
	return rc < 0 ? errno : 0;
}

static void assert_contents(const char *path, const char *want)
{
	char buf[256];
	ssize_t n = read_file(path, buf, sizeof(buf) - 1);

	cr_assert(n >= 0, "read %s: %s", path, strerror((int)-n));
	buf[n] = '\0';
	cr_assert_str_eq(buf, want, "%s", path);
}

static void assert_link_served(const char *name, const char *target)
{
	struct stat in_mount, in_backing;
	char buf[PATH_MAX];
	ssize_t n;

	cr_assert_eq(lstat(mp(&M, name), &in_mount), 0, "lstat %s: %s", name, strerror(errno));
	cr_assert_eq(lstat(bp(&M, name), &in_backing), 0);
	cr_assert(S_ISLNK(in_mount.st_mode), "%s is not a symlink in the mount (mode %o)", name,
		  in_mount.st_mode);
	cr_assert_eq(in_mount.st_ino, in_backing.st_ino, "%s", name);
	cr_assert_eq(in_mount.st_size, in_backing.st_size, "%s", name);
	n = readlink(mp(&M, name), buf, sizeof(buf) - 1);
	cr_assert(n >= 0, "readlink %s: %s", name, strerror(errno));
	buf[n] = '\0';
	cr_assert_str_eq(buf, target);
}

Test(confine, outside_symlinks_are_served_as_symlinks)
{
	struct dirent *e;
	int links = 0;
	DIR *d;

	make_outside();
	cr_assert_eq(mkdir(bp(&M, "deep"), 0755), 0);
	cr_assert_eq(symlink("/etc", bp(&M, "abs")), 0);
	cr_assert_eq(symlink("../../..", bp(&M, "up")), 0);
	cr_assert_eq(symlink("../../outside/secret", bp(&M, "deep/rel")), 0);
	cr_assert_eq(symlink(outside("secret"), bp(&M, "abs_file")), 0);

	assert_link_served("abs", "/etc");
	assert_link_served("up", "../../..");
	assert_link_served("deep/rel", "../../outside/secret");
	assert_link_served("abs_file", outside("secret"));

	d = opendir(mp(&M, ""));
	cr_assert(d);
	while ((e = readdir(d)))
		if (!strcmp(e->d_name, "abs") || !strcmp(e->d_name, "up") ||
		    !strcmp(e->d_name, "abs_file")) {
			cr_assert(e->d_type == DT_LNK || e->d_type == DT_UNKNOWN, "%s: d_type %d",
				  e->d_name, e->d_type);
			links++;
		}
	closedir(d);
	cr_assert_eq(links, 3);
}

Test(confine, nofollow_open_of_outside_link_acts_on_link)
{
	struct stat st;
	int fd;

	make_outside();
	cr_assert_eq(symlink(outside("secret"), bp(&M, "l")), 0);
	cr_assert_eq(symlink(outside("not-there"), bp(&M, "dangling")), 0);

	errno = 0;
	cr_assert_eq(open(mp(&M, "l"), O_RDONLY | O_NOFOLLOW), -1);
	cr_assert_eq(errno, ELOOP);
	fd = open(mp(&M, "l"), O_PATH | O_NOFOLLOW);
	cr_assert(fd >= 0, "O_PATH|O_NOFOLLOW: %s", strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert(S_ISLNK(st.st_mode));
	close(fd);

	/* O_CREAT|O_EXCL never follows a final symlink, dangling or not. */
	errno = 0;
	cr_assert_eq(open(mp(&M, "dangling"), O_WRONLY | O_CREAT | O_EXCL, 0644), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(access(outside("not-there"), F_OK), -1);
}

Test(confine, unlink_and_rename_of_outside_link_leave_target)
{
	make_outside();
	cr_assert_eq(symlink(outside("secret"), bp(&M, "l1")), 0);
	cr_assert_eq(symlink(outside(""), bp(&M, "l2")), 0);

	cr_assert_eq(unlink(mp(&M, "l1")), 0, "unlink: %s", strerror(errno));
	cr_assert_eq(access(bp(&M, "l1"), F_OK), -1);
	assert_contents(outside("secret"), "outside\n");

	cr_assert_eq(rename(mp(&M, "l2"), mp(&M, "l2.moved")), 0, "rename: %s", strerror(errno));
	assert_link_served("l2.moved", outside(""));
	assert_contents(outside("secret"), "outside\n");

	/* rmdir does not follow either: the link is not a directory. */
	errno = 0;
	cr_assert_eq(rmdir(mp(&M, "l2.moved")), -1);
	cr_assert_eq(errno, ENOTDIR);
	cr_assert_eq(access(outside(""), F_OK), 0);
}

Test(confine, lchown_and_nofollow_utimes_change_link_not_target)
{
	struct timespec times[2] = { { 1000000, 0 }, { 1000000, 0 } };
	struct stat link_st, target_before, target_after;

	make_outside();
	cr_assert_eq(symlink(outside("secret"), bp(&M, "l")), 0);
	cr_assert_eq(stat(outside("secret"), &target_before), 0);

	cr_assert_eq(lchown(mp(&M, "l"), 1000, 1000), 0, "lchown: %s", strerror(errno));
	cr_assert_eq(utimensat(AT_FDCWD, mp(&M, "l"), times, AT_SYMLINK_NOFOLLOW), 0,
		     "utimensat: %s", strerror(errno));

	cr_assert_eq(lstat(bp(&M, "l"), &link_st), 0);
	cr_assert(link_st.st_uid == 1000 && link_st.st_gid == 1000, "link owner %u:%u",
		  link_st.st_uid, link_st.st_gid);
	cr_assert_eq(link_st.st_mtim.tv_sec, 1000000);
	cr_assert_eq(stat(outside("secret"), &target_after), 0);
	cr_assert(target_after.st_uid == target_before.st_uid &&
		      target_after.st_gid == target_before.st_gid,
		  "the target's owner changed");
	cr_assert_eq(target_after.st_mtim.tv_sec, target_before.st_mtim.tv_sec,
		     "the target's mtime changed");
}

/*
 * xattrs on the link itself: trusted.* is allowed on symlinks (user.* is
 * not, with EPERM); each must end as on a link of the backing dir, and
 * never land on the target.
 */
Test(confine, lsetxattr_on_outside_link_acts_on_link)
{
	static const char *const names[] = { "trusted.fsd_confine", "user.fsd_confine" };
	char buf[16];

	make_outside();
	cr_assert_eq(symlink(outside("secret"), bp(&M, "l")), 0);
	cr_assert_eq(symlink(outside("secret"), outside("reference")), 0);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int want = err_of(lsetxattr(outside("reference"), names[i], "v", 1, 0));
		int got = err_of(lsetxattr(mp(&M, "l"), names[i], "v", 1, 0));

		cr_assert_eq(got, want, "lsetxattr %s: %s on the mount, %s on a plain link",
			     names[i], strerror(got), strerror(want));
		if (got)
			continue;
		cr_assert_eq(lgetxattr(bp(&M, "l"), names[i], buf, sizeof(buf)), 1,
			     "%s not on the backing link", names[i]);
		cr_assert_eq(lgetxattr(mp(&M, "l"), names[i], buf, sizeof(buf)), 1);
		errno = 0;
		cr_assert_eq(getxattr(outside("secret"), names[i], buf, sizeof(buf)), -1);
		cr_assert_eq(errno, ENODATA, "%s landed on the target", names[i]);
		cr_assert_eq(lremovexattr(mp(&M, "l"), names[i]), 0);
		cr_assert_eq(lgetxattr(bp(&M, "l"), names[i], buf, sizeof(buf)), -1);
	}
}

/*
 * Makes backing dir "d" with passwd = "inside\n", opens it through the
 * mount (fd and cwd), then renames it to "d.old" and puts a symlink to
 * target in its place.  Returns the fd.
 */
static int swap_held_dir_for_symlink(const char *target)
{
	int dfd;

	cr_assert_eq(mkdir(bp(&M, "d"), 0755), 0);
	cr_assert_eq(write_file(bp(&M, "d/passwd"), "inside\n", 7), 0);
	assert_contents(mp(&M, "d/passwd"), "inside\n");
	dfd = open(mp(&M, "d"), O_RDONLY | O_DIRECTORY);
	cr_assert(dfd >= 0);
	cr_assert_eq(fchdir(dfd), 0);

	cr_assert_eq(rename(bp(&M, "d"), bp(&M, "d.old")), 0);
	cr_assert_eq(symlink(target, bp(&M, "d")), 0);
	return dfd;
}

static void assert_read_at(int dfd, const char *name, const char *want)
{
	char buf[64];
	int fd = openat(dfd, name, O_RDONLY);
	ssize_t n;

	cr_assert(fd >= 0, "openat %s: %s", name, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert(n >= 0);
	buf[n] = '\0';
	cr_assert_str_eq(buf, want, "%s read through the held dir", name);
}

/*
 * A path walk through "d" after the swap: the kernel may still use its
 * cached entry (a directory: the moved one) or look "d" up again (the
 * symlink, which it then follows).  Which one it used must agree with what
 * lstat shows, so the daemon never followed the symlink on its own.
 */
static void assert_path_walk_consistent(const char *outside_contents)
{
	char buf[4096];
	struct stat st;
	ssize_t n;

	n = read_file(mp(&M, "d/passwd"), buf, sizeof(buf) - 1);
	cr_assert(n >= 0, "read d/passwd: %s", strerror((int)-n));
	buf[n] = '\0';
	cr_assert_eq(lstat(mp(&M, "d"), &st), 0);
	if (!strcmp(buf, "inside\n"))
		cr_assert(S_ISDIR(st.st_mode), "inside contents, yet d is not a dir");
	else
		cr_assert(S_ISLNK(st.st_mode) && !strcmp(buf, outside_contents),
			  "d/passwd gave outside contents but d is not shown as a symlink");
}

static void dir_swapped_for_etc_link(void)
{
	char etc_passwd[4096];
	struct stat held, moved;
	ssize_t n = read_file("/etc/passwd", etc_passwd, sizeof(etc_passwd) - 1);
	int dfd;

	cr_assert(n > 0);
	etc_passwd[n] = '\0';
	dfd = swap_held_dir_for_symlink("/etc");

	assert_read_at(dfd, "passwd", "inside\n");
	assert_read_at(AT_FDCWD, "passwd", "inside\n");
	cr_assert_eq(fstat(dfd, &held), 0);
	cr_assert_eq(stat(mp(&M, "d.old"), &moved), 0);
	cr_assert_eq(held.st_ino, moved.st_ino);
	assert_path_walk_consistent(etc_passwd);
	cr_assert_eq(chdir("/"), 0);
	close(dfd);
}

Test(confine, dir_swapped_for_etc_link_held_fd_stays_inside)
{
	dir_swapped_for_etc_link();
}

/* With no caching the kernel looks "d" up again, so it must see the symlink. */
Test(confine, dir_swapped_for_etc_link_uncached)
{
	struct stat st;

	mnt_stop(&M);
	mnt_start(&M, "cache=never");
	dir_swapped_for_etc_link();
	cr_assert_eq(lstat(mp(&M, "d"), &st), 0);
	cr_assert(S_ISLNK(st.st_mode), "uncached lookup of d is not the new symlink");
}

/* Fills a 16-fd cache with other inodes, so the daemon must reopen the swapped ones. */
static void evict_fd_cache(void)
{
	for (int i = 0; i < 64; i++)
		cr_assert_eq(write_file(mp(&M, fmt_path("evict%d", i)), "e", 1), 0);
	cr_assert_leq(mnt_stat(&M, "fds_cached"), 16);
}

/* The daemon reopens evicted inodes by handle, never by their old name. */
Test(confine, dir_swapped_after_fd_eviction_held_fd_stays_inside)
{
	int dfd, fd;

	mnt_stop(&M);
	mnt_start(&M, "fd_cache=16");
	make_outside();
	cr_assert_eq(write_file(outside("passwd"), "outside\n", 8), 0);
	dfd = swap_held_dir_for_symlink(outside(""));
	evict_fd_cache();

	assert_read_at(dfd, "passwd", "inside\n");
	assert_read_at(AT_FDCWD, "passwd", "inside\n");
	fd = openat(dfd, "created", O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert(fd >= 0, "create: %s", strerror(errno));
	close(fd);
	cr_assert_eq(access(bp(&M, "d.old/created"), F_OK), 0);
	cr_assert_eq(count_outside_entries(), 2, "outside dir changed");
	assert_path_walk_consistent("outside\n");
	cr_assert_eq(chdir("/"), 0);
	close(dfd);
}

/*
 * A file known to the mount swapped for a symlink to the outside: reopening
 * the inode the mount holds (O_PATH fd, via /proc/self/fd) gets the original
 * file, even after its fd was evicted from the daemon's cache.
 */
Test(confine, file_swapped_for_outside_link_reopens_original)
{
	const char *reopen;
	int path_fd;

	mnt_stop(&M);
	mnt_start(&M, "fd_cache=16");
	make_outside();
	cr_assert_eq(write_file(bp(&M, "f"), "inside\n", 7), 0);
	path_fd = open(mp(&M, "f"), O_PATH);
	cr_assert(path_fd >= 0);
	cr_assert_eq(rename(bp(&M, "f"), bp(&M, "f.old")), 0);
	cr_assert_eq(symlink(outside("secret"), bp(&M, "f")), 0);
	evict_fd_cache();

	reopen = fmt_path("/proc/self/fd/%d", path_fd);
	assert_contents(reopen, "inside\n");
	cr_assert_eq(write_file(reopen, "rewritten\n", 10), 0);
	assert_contents(bp(&M, "f.old"), "rewritten\n");
	assert_contents(outside("secret"), "outside\n");
	close(path_fd);
}

/* Writes relative to the held dir after the swap land in the moved dir, not outside. */
Test(confine, dir_swapped_for_outside_link_writes_stay_inside)
{
	int dfd, fd;

	make_outside();
	dfd = swap_held_dir_for_symlink(outside(""));

	fd = openat(dfd, "created", O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert(fd >= 0, "create: %s", strerror(errno));
	close(fd);
	cr_assert_eq(mkdirat(dfd, "subdir", 0755), 0);
	cr_assert_eq(symlinkat("x", dfd, "link"), 0);
	cr_assert_eq(mknodat(dfd, "fifo", S_IFIFO | 0644, 0), 0);
	cr_assert_eq(renameat(dfd, "passwd", dfd, "renamed"), 0);
	cr_assert_eq(linkat(dfd, "renamed", dfd, "hardlink", 0), 0);
	cr_assert_eq(unlinkat(dfd, "renamed", 0), 0);

	for (const char *const *n =
		 (const char *const[]){ "created", "subdir", "link", "fifo", "hardlink", NULL };
	     *n; n++) {
		cr_assert_eq(faccessat(AT_FDCWD, fmt_path("%s/%s", bp(&M, "d.old"), *n), F_OK,
				       AT_SYMLINK_NOFOLLOW),
			     0, "%s missing from the moved dir", *n);
		cr_assert_eq(faccessat(AT_FDCWD, outside(*n), F_OK, AT_SYMLINK_NOFOLLOW), -1,
			     "%s created outside", *n);
	}
	cr_assert_eq(access(bp(&M, "d.old/renamed"), F_OK), -1);
	cr_assert_eq(count_outside_entries(), 1, "outside dir changed");
	cr_assert_eq(chdir("/"), 0);
	close(dfd);
}

/*
 * A file renamed into another dir of the backing tree keeps working through
 * an fd opened before: writes, and the requests that reach the daemon with
 * the open file (fsync, fchmod, ftruncate, fsetxattr), act on the moved file
 * and do not recreate the old name.
 */
static void renamed_file_keeps_working_through_fd(void)
{
	struct stat st;
	char buf[8];
	int fd;

	cr_assert_eq(write_file(bp(&M, "f"), "abc", 3), 0);
	cr_assert_eq(mkdir(bp(&M, "sub"), 0755), 0);
	fd = open(mp(&M, "f"), O_RDWR | O_APPEND);
	cr_assert(fd >= 0);
	cr_assert_eq(rename(bp(&M, "f"), bp(&M, "sub/g")), 0);

	cr_assert_eq(write(fd, "defgh", 5), 5);
	cr_assert_eq(fsync(fd), 0, "fsync: %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, 6), 0, "ftruncate: %s", strerror(errno));
	cr_assert_eq(fchmod(fd, 0600), 0, "fchmod: %s", strerror(errno));
	cr_assert_eq(fsetxattr(fd, "user.moved", "1", 1, 0), 0, "fsetxattr: %s", strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 6);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 6);
	cr_assert(!memcmp(buf, "abcdef", 6));
	close(fd);

	assert_contents(bp(&M, "sub/g"), "abcdef");
	cr_assert_eq(stat(bp(&M, "sub/g"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(getxattr(bp(&M, "sub/g"), "user.moved", buf, sizeof(buf)), 1);
	cr_assert_eq(access(bp(&M, "f"), F_OK), -1, "the old name came back");
	assert_contents(mp(&M, "sub/g"), "abcdef");
}

Test(confine, renamed_file_keeps_working_through_fd)
{
	renamed_file_keeps_working_through_fd();
}

/* The same with passthrough off, so that the daemon serves the writes itself. */
Test(confine, renamed_file_keeps_working_through_fd_no_passthrough)
{
	mnt_stop(&M);
	mnt_start(&M, "passthrough=off");
	renamed_file_keeps_working_through_fd();
}

/*
 * "." and ".." names, over-long names and odd bytes in names: each
 * operation ends with the same errno in a dir of the mount as in a plain
 * dir beside the backing dir, and the names that can be created appear
 * byte for byte in the backing dir.
 */
struct name_op {
	const char *what;
	int (*run)(const char *base);
};

static const char *at(const char *base, const char *rel)
{
	return fmt_path("%s/%s", base, rel);
}

static int op_mkdir_dot(const char *b)
{
	return err_of(mkdir(at(b, "."), 0755));
}

static int op_mkdir_dotdot(const char *b)
{
	return err_of(mkdir(at(b, "sub/.."), 0755));
}

static int op_rmdir_dot(const char *b)
{
	return err_of(rmdir(at(b, "sub/.")));
}

static int op_rmdir_dotdot(const char *b)
{
	return err_of(rmdir(at(b, "sub/..")));
}

static int op_unlink_dot(const char *b)
{
	return err_of(unlink(at(b, "sub/.")));
}

static int op_unlink_dotdot(const char *b)
{
	return err_of(unlink(at(b, "sub/..")));
}

static int op_mknod_dot(const char *b)
{
	return err_of(mknod(at(b, "sub/."), S_IFREG | 0644, 0));
}

static int op_symlink_dotdot(const char *b)
{
	return err_of(symlink("x", at(b, "sub/..")));
}

static int op_link_to_dot(const char *b)
{
	return err_of(link(at(b, "file"), at(b, "sub/.")));
}

static int op_rename_dot(const char *b)
{
	return err_of(rename(at(b, "sub/."), at(b, "x")));
}

static int op_rename_onto_dotdot(const char *b)
{
	return err_of(rename(at(b, "file"), at(b, "sub/..")));
}

static int op_rename_dir_into_itself(const char *b)
{
	return err_of(rename(at(b, "sub"), at(b, "sub/inner")));
}

static int op_open_creat_dot(const char *b)
{
	int fd = open(at(b, "sub/."), O_WRONLY | O_CREAT, 0644);
	int err = err_of(fd);

	if (fd >= 0)
		close(fd);
	return err;
}

static int op_open_excl_dotdot(const char *b)
{
	int fd = open(at(b, "sub/.."), O_RDONLY | O_CREAT | O_EXCL, 0644);
	int err = err_of(fd);

	if (fd >= 0)
		close(fd);
	return err;
}

static char long_name[300];

static int op_create_named(const char *b, size_t len)
{
	memset(long_name, 'n', len);
	long_name[len] = '\0';
	return err_of(mknod(at(b, long_name), S_IFREG | 0644, 0));
}

static int op_create_255(const char *b)
{
	return op_create_named(b, 255);
}

static int op_create_256(const char *b)
{
	return op_create_named(b, 256);
}

static const char *const odd_names[] = { "a\nb",    "\xff\xfe", " lead", "trail ", "-", "...",
					 ".hidden", "a b",	"\\",	 "*?[",	   NULL };

static int op_create_odd_names(const char *b)
{
	for (const char *const *n = odd_names; *n; n++)
		if (mknod(at(b, *n), S_IFREG | 0644, 0))
			return errno;
	return 0;
}

static const struct name_op name_ops[] = {
	{ "mkdir .", op_mkdir_dot },
	{ "mkdir sub/..", op_mkdir_dotdot },
	{ "rmdir sub/.", op_rmdir_dot },
	{ "rmdir sub/..", op_rmdir_dotdot },
	{ "unlink sub/.", op_unlink_dot },
	{ "unlink sub/..", op_unlink_dotdot },
	{ "mknod sub/.", op_mknod_dot },
	{ "symlink sub/..", op_symlink_dotdot },
	{ "link file sub/.", op_link_to_dot },
	{ "rename sub/. x", op_rename_dot },
	{ "rename file sub/..", op_rename_onto_dotdot },
	{ "rename sub sub/inner", op_rename_dir_into_itself },
	{ "open sub/. O_CREAT", op_open_creat_dot },
	{ "open sub/.. O_CREAT|O_EXCL", op_open_excl_dotdot },
	{ "create 255-byte name", op_create_255 },
	{ "create 256-byte name", op_create_256 },
	{ "create odd names", op_create_odd_names },
};

static void make_name_playground(const char *base)
{
	cr_assert_eq(mkdir(base, 0755), 0, "mkdir %s: %s", base, strerror(errno));
	cr_assert_eq(mkdir(at(base, "sub"), 0755), 0);
	cr_assert_eq(write_file(at(base, "sub/f"), "f", 1), 0);
	cr_assert_eq(write_file(at(base, "file"), "file", 4), 0);
}

/* The sorted listing of dir, names with their bytes escaped, for comparison. */
static void listing(const char *dir, char *out, size_t len)
{
	char cmd[PATH_MAX + 64];
	size_t used = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cd '%s' && ls -1AbR | LC_ALL=C sort", dir);
	f = popen(cmd, "r");
	cr_assert(f);
	out[0] = '\0';
	while (used + 1 < len && fgets(out + used, len - used, f))
		used += strlen(out + used);
	cr_assert_eq(pclose(f), 0);
}

Test(confine, dot_and_odd_names_fail_as_on_plain_dir)
{
	char ref[PATH_MAX], in_mount[PATH_MAX];
	char in_ref_list[8192], in_mount_list[8192], in_backing_list[8192];
	struct stat above_mount, above_backing;

	/* Copies: at() and mp() hand out rotating buffers. */
	snprintf(ref, sizeof(ref), "%s", fmt_path("%s/reference", M.root));
	snprintf(in_mount, sizeof(in_mount), "%s", mp(&M, "w"));
	make_name_playground(ref);
	make_name_playground(in_mount);
	for (size_t i = 0; i < sizeof(name_ops) / sizeof(name_ops[0]); i++) {
		int want = name_ops[i].run(ref);
		int got = name_ops[i].run(in_mount);

		cr_assert_eq(got, want, "%s: %s on the mount, %s on a plain dir", name_ops[i].what,
			     strerror(got), strerror(want));
	}
	listing(ref, in_ref_list, sizeof(in_ref_list));
	listing(in_mount, in_mount_list, sizeof(in_mount_list));
	listing(bp(&M, "w"), in_backing_list, sizeof(in_backing_list));
	cr_assert_str_eq(in_mount_list, in_ref_list);
	cr_assert_str_eq(in_backing_list, in_ref_list);

	/* ".." of the mount root leaves the mount (the kernel's doing), as ".." of the backing dir.
	 */
	cr_assert_eq(stat(mp(&M, ".."), &above_mount), 0);
	cr_assert_eq(stat(bp(&M, ".."), &above_backing), 0);
	cr_assert(above_mount.st_ino == above_backing.st_ino &&
		  above_mount.st_dev == above_backing.st_dev);
}
