// SPDX-License-Identifier: MIT
/*
 * fsd on fusebpf.ko (docs/kernel.md): the kernel serves what it can on the
 * backing inodes, and the daemon sees none of it.  These run where
 * /dev/fusebpf exists, the fusebpf guest of make vmtest, and skip
 * elsewhere.  The daemon's request counts (its statistics) are what prove
 * the fast path.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fusebpf/filter.h>

#include "bpf/verdicts.h"

TestSuite(kernel, .timeout = 120);

static void need_module(void)
{
	if (access("/dev/fusebpf", F_OK) != 0)
		cr_skip_test("no /dev/fusebpf: fusebpf.ko is not loaded (make vmtest VMTEST_KERNELS=fusebpf)");
}

/* A backing tree of every kind of entry, two levels deep. */
static void make_tree(struct mnt *m)
{
	cr_assert_eq(mkdir(bp(m, "d"), 0750), 0);
	cr_assert_eq(mkdir(bp(m, "d/e"), 0700), 0);
	put(bp(m, "f"), "hello");
	put(bp(m, "d/g"), "sub");
	put(bp(m, "d/e/h"), "deeper");
	cr_assert_eq(symlink("f", bp(m, "l")), 0);
	cr_assert_eq(mkfifo(bp(m, "p"), 0640), 0);
	cr_assert_eq(chown(bp(m, "d/g"), 1000, 1001), 0);
}

/* Each opcode named reached the daemon zero times, and the kernel served it. */
static void assert_served_in_kernel(const char *const ops[], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(requests(ops[i]), 0, "the daemon saw %llu %s",
			     (unsigned long long)requests(ops[i]), ops[i]);
		cr_assert_gt(served(ops[i]), 0, "no %s was served", ops[i]);
	}
}

#define ASSERT_SERVED_IN_KERNEL(...)                                                               \
	do {                                                                                       \
		static const char *const ops_[] = { __VA_ARGS__ };                                 \
		assert_served_in_kernel(ops_, sizeof(ops_) / sizeof(*ops_));                       \
	} while (0)

/* fusebpf.ko mounted over make_tree(), which other uids may reach. */
static void start_tree_for_all_uids(void)
{
	need_module();
	mnt_start(&M, "kernel=fusebpf");
	cr_assert_eq(chmod(M.root, 0711), 0);
	make_tree(&M);
}

/* A sticky directory anyone may write, holding root's file "roots". */
static void make_sticky_dir(void)
{
	cr_assert_eq(mkdir(bp(&M, "sticky"), 0755), 0);
	cr_assert_eq(chmod(bp(&M, "sticky"), 01777), 0);
	put(bp(&M, "sticky/roots"), "");
}

static const char *const tree[] = { "", "f", "d", "d/g", "d/e", "d/e/h", "l", "p" };

static void assert_same_stat(struct mnt *m, const char *rel)
{
	struct stat a, b;

	cr_assert_eq(lstat(mp(m, rel), &a), 0, "lstat %s: %s", rel, strerror(errno));
	cr_assert_eq(lstat(bp(m, rel), &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "%s: ino %lu, backing %lu", rel, a.st_ino, b.st_ino);
	cr_assert_eq(a.st_mode, b.st_mode, "%s: mode %o, backing %o", rel, a.st_mode, b.st_mode);
	cr_assert_eq(a.st_nlink, b.st_nlink, "%s", rel);
	cr_assert_eq(a.st_uid, b.st_uid, "%s", rel);
	cr_assert_eq(a.st_gid, b.st_gid, "%s", rel);
	cr_assert_eq(a.st_size, b.st_size, "%s", rel);
	cr_assert_eq(a.st_mtim.tv_sec, b.st_mtim.tv_sec, "%s", rel);
	cr_assert_eq(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec, "%s", rel);
}

Test(kernel, lookups_and_stats_reach_the_daemon_zero_times)
{
	struct statvfs a, b;
	struct stat st;

	need_module();
	mnt_start(&M, "kernel=fusebpf");
	cr_assert_eq(mnt_stat(&M, "kernel_masks"), 1, "the module did not offer its opcode masks");
	make_tree(&M);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(tree) / sizeof(*tree); i++)
			assert_same_stat(&M, tree[i]);
	cr_assert_eq(stat(mp(&M, "d/missing"), &st), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(statvfs(mp(&M, "d"), &a), 0);
	cr_assert_eq(statvfs(bp(&M, "d"), &b), 0);
	cr_assert_eq(a.f_blocks, b.f_blocks);
	cr_assert_eq(a.f_files, b.f_files);
	cr_assert_eq(a.f_bsize, b.f_bsize);

	cr_assert_eq(requests("LOOKUP"), 0, "the daemon saw %llu LOOKUPs",
		     (unsigned long long)requests("LOOKUP"));
	cr_assert_eq(requests("GETATTR"), 0);
	cr_assert_eq(requests("STATFS"), 0);
	/* The kernel's own counts, as fsd shows them from fusebpfctl. */
	cr_assert_geq(mnt_stat(&M, "kernel.LOOKUP"), 7);
	cr_assert_geq(mnt_stat(&M, "kernel.GETATTR"), 1);
	cr_assert_geq(mnt_stat(&M, "kernel.STATFS"), 1);
	cr_assert_eq(sh("'%s' stats '%s' | grep -Eq '^LOOKUP +[1-9][0-9]* +0 '", fusebpf_bin(), M.dir),
		     0, "fusebpf stats shows no kernel LOOKUPs");
	/* The daemon knows only the root. */
	cr_assert_eq(mnt_stat(&M, "nodes"), 1);
	cr_assert(mnt_stop(&M));
}

Test(kernel, opens_reads_listings_and_xattrs_reach_the_daemon_zero_times)
{
	char buf[64] = "", list[256];
	off_t hole, data, end;
	struct dirent *de;
	int fd, names;
	DIR *dir;
	void *map;

	need_module();
	mnt_start(&M, "kernel=fusebpf");
	make_tree(&M);
	cr_assert_eq(setxattr(bp(&M, "d/g"), "user.colour", "blue", 4, 0), 0);

	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	cr_assert_eq(readlink(mp(&M, "l"), buf, sizeof(buf)), 1);
	cr_assert_eq(buf[0], 'f');
	fd = open(mp(&M, "d/e/h"), O_RDONLY);
	cr_assert(fd >= 0);
	map = mmap(NULL, 6, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert(map != MAP_FAILED);
	cr_assert_eq(memcmp(map, "deeper", 6), 0);
	munmap(map, 6);
	close(fd);
	/* Writes, and O_TRUNC, land in the backing file. */
	fd = open(mp(&M, "d/g"), O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0, "open O_TRUNC: %s", strerror(errno));
	cr_assert_eq(write(fd, "again", 5), 5);
	cr_assert_eq(fsync(fd), 0);
	close(fd);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(bp(&M, "d/g"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "again");
	assert_same_stat(&M, "d/g");

	/* Holes and data where the backing file has them. */
	fd = open(bp(&M, "d/e/h"), O_WRONLY);
	cr_assert_eq(pwrite(fd, "x", 1, 1 << 20), 1);
	hole = lseek(fd, 0, SEEK_HOLE);
	data = lseek(fd, hole, SEEK_DATA);
	end = lseek(fd, data, SEEK_HOLE);
	close(fd);
	cr_assert_lt(hole, data, "the backing filesystem keeps no holes");
	fd = open(mp(&M, "d/e/h"), O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(lseek(fd, 0, SEEK_HOLE), hole);
	cr_assert_eq(lseek(fd, hole, SEEK_DATA), data);
	cr_assert_eq(lseek(fd, data, SEEK_HOLE), end);
	close(fd);

	dir = opendir(mp(&M, "d"));
	cr_assert(dir);
	names = 0;
	while ((de = readdir(dir)))
		names += !strcmp(de->d_name, "g") || !strcmp(de->d_name, "e");
	closedir(dir);
	cr_assert_eq(names, 2);

	cr_assert_eq(getxattr(mp(&M, "d/g"), "user.colour", buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "blue", 4), 0);
	cr_assert_eq(getxattr(mp(&M, "d/g"), "user.colour", NULL, 0), 4);
	cr_assert_eq(getxattr(mp(&M, "f"), "user.colour", buf, sizeof(buf)), -1);
	cr_assert_eq(errno, ENODATA);
	cr_assert_gt(listxattr(mp(&M, "d/g"), list, sizeof(list)), 0);
	cr_assert_str_eq(list, "user.colour");

	static const char *const ops[] = { "LOOKUP", "GETATTR", "READLINK", "OPEN", "READ", "WRITE",
					   "FLUSH", "FSYNC", "LSEEK", "RELEASE", "OPENDIR", "READDIR",
					   "RELEASEDIR", "GETXATTR", "LISTXATTR" };
	for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++)
		cr_assert_eq(requests(ops[i]), 0, "the daemon saw %llu %s",
			     (unsigned long long)requests(ops[i]), ops[i]);
	cr_assert_eq(mnt_stat(&M, "nodes"), 1);
	cr_assert(mnt_stop(&M));
}

/*
 * As uid 1000, the owner (no CAP_FSETID): setuid and no write bits after
 * an open for writing; then an ftruncate through that open, and a
 * truncate by path.  0, or the errno of the first that failed, or -1 if
 * the truncate by path was let through.
 */
static int truncates_after_chmod(void *arg)
{
	const char *path = arg;
	int fd = open(path, O_RDWR), err = 0;

	if (fd < 0)
		return errno;
	if (chmod(path, 04555) || ftruncate(fd, 1))
		err = errno;
	else if (truncate(path, 0) == 0)
		err = -1;
	else if (errno != EACCES)
		err = errno;
	close(fd);
	return err;
}

/*
 * SETATTR, FALLOCATE and COPY_FILE_RANGE of backing inodes are the
 * kernel's, with the rules of a local filesystem: an fd opened for
 * writing truncates after the file lost its write bits, a path does not;
 * a truncate by a caller without CAP_FSETID drops setuid; times given and
 * "now"; files the kernel opened allocate and copy, though the daemon has
 * no handle of them.
 */
Test(kernel, setattr_fallocate_and_copies_reach_the_daemon_zero_times)
{
	struct timespec times[2] = { { 1000000000, 5 }, { 1100000000, 7 } };
	char buf[64] = "";
	struct stat st, bst;
	int fd, out;

	start_tree_for_all_uids();

	cr_assert_eq(chmod(mp(&M, "f"), 0640), 0);
	cr_assert_eq(chown(mp(&M, "f"), 1000, 1001), 0);
	cr_assert_eq(utimensat(AT_FDCWD, mp(&M, "f"), times, 0), 0);
	assert_same_stat(&M, "f");
	cr_assert_eq(stat(bp(&M, "f"), &bst), 0);
	cr_assert_eq(bst.st_mode & 07777, 0640);
	cr_assert_eq(bst.st_uid, 1000);
	cr_assert_eq(bst.st_gid, 1001);
	cr_assert_eq(bst.st_atim.tv_sec, times[0].tv_sec);
	cr_assert_eq(bst.st_mtim.tv_nsec, times[1].tv_nsec);
	cr_assert_eq(utimensat(AT_FDCWD, mp(&M, "f"), NULL, 0), 0);
	cr_assert_eq(stat(bp(&M, "f"), &bst), 0);
	cr_assert_gt(bst.st_mtim.tv_sec, times[1].tv_sec, "utimensat(NULL) did not set now");
	cr_assert_eq(truncate(mp(&M, "f"), 2), 0);
	cr_assert_eq(read_file(bp(&M, "f"), buf, sizeof(buf)), 2);
	cr_assert_eq(chown(mp(&M, "l"), 5, 5), 0); /* follows the link to f */
	cr_assert_eq(stat(bp(&M, "f"), &bst), 0);
	cr_assert_eq(bst.st_uid, 5);

	/* uid 1000's own file, as on a local filesystem. */
	cr_assert_eq(chmod(bp(&M, "d"), 0755), 0);
	cr_assert_eq(chown(bp(&M, "d/g"), 1000, 1000), 0);
	cr_assert_eq(chmod(bp(&M, "d/g"), 0644), 0);
	cr_assert_eq(run_as(1000, 1000, truncates_after_chmod, (void *)mp(&M, "d/g")), 0);
	cr_assert_eq(stat(bp(&M, "d/g"), &bst), 0);
	cr_assert_eq(bst.st_size, 1);
	cr_assert_eq(bst.st_mode & 07777, 0555, "the truncate left mode %o: no setuid drop",
		     bst.st_mode & 07777);

	/* Blocks where the backing has them; a copy without the daemon. */
	fd = open(mp(&M, "d/e/h"), O_RDWR);
	cr_assert(fd >= 0, "open: %s", strerror(errno));
	cr_assert_eq(fallocate(fd, 0, 0, 1 << 20), 0, "fallocate: %s", strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(stat(bp(&M, "d/e/h"), &bst), 0);
	cr_assert_eq(st.st_size, 1 << 20);
	cr_assert_eq(bst.st_blocks, st.st_blocks);
	cr_assert_geq(bst.st_blocks, (1 << 20) / 512);
	put(bp(&M, "copy"), "");
	out = open(mp(&M, "copy"), O_WRONLY);
	cr_assert(out >= 0, "open copy: %s", strerror(errno));
	cr_assert_eq(copy_file_range(fd, &(off64_t){ 0 }, out, NULL, 6, 0), 6, "copy_file_range: %s",
		     strerror(errno));
	close(out);
	close(fd);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(bp(&M, "copy"), buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "deeper");

	ASSERT_SERVED_IN_KERNEL("SETATTR", "FALLOCATE", "COPY_FILE_RANGE");
	cr_assert(mnt_stop(&M));
}

/*
 * Opens of one file at once share its backing inode: each has its own
 * backing file, their writes and reads meet in the backing page cache.
 */
Test(kernel, opens_of_one_file_at_once_share_the_backing)
{
	char a[8] = "", b[8] = "";
	int ro, rw, again, daemon_fds;

	need_module();
	mnt_start(&M, "kernel=fusebpf");
	make_tree(&M);
	daemon_fds = mnt_fd_count(&M);
	ro = open(mp(&M, "f"), O_RDONLY);
	cr_assert(ro >= 0, "open f: %s", strerror(errno));
	rw = open(mp(&M, "f"), O_RDWR);
	cr_assert(rw >= 0, "open f a second time: %s", strerror(errno));
	again = open(mp(&M, "f"), O_RDONLY);
	cr_assert(again >= 0, "open f a third time: %s", strerror(errno));
	/* The backing files are the kernel's, not fds of the daemon. */
	cr_assert_eq(mnt_fd_count(&M), daemon_fds, "the daemon holds fds for kernel opens");
	cr_assert_eq(pwrite(rw, "HE", 2, 0), 2);
	cr_assert_eq(pread(ro, a, 5, 0), 5);
	cr_assert_str_eq(a, "HEllo");
	close(ro);
	cr_assert_eq(pread(again, b, 5, 0), 5);
	cr_assert_str_eq(b, "HEllo");
	close(rw);
	close(again);
	memset(a, 0, sizeof(a));
	cr_assert_eq(read_file(bp(&M, "f"), a, sizeof(a)), 5);
	cr_assert_str_eq(a, "HEllo");
	cr_assert_eq(requests("OPEN"), 0);
	cr_assert(mnt_stop(&M));
}

/* The kernel checks the caller's permission as the daemon's open would. */
Test(kernel, permissions_are_the_callers)
{
	int err;

	start_tree_for_all_uids();
	cr_assert_eq(chmod(bp(&M, "d"), 0755), 0);
	cr_assert_eq(chmod(bp(&M, "f"), 0600), 0);
	cr_assert_eq(open_as(1000, 1000, mp(&M, "f"), O_RDONLY), EACCES);
	/* d/e is 0700: no way through it. */
	cr_assert_eq(open_as(1000, 1000, mp(&M, "d/e/h"), O_RDONLY), EACCES);
	/* d/g is uid 1000's, 0644. */
	cr_assert_eq(open_as(1000, 1000, mp(&M, "d/g"), O_WRONLY), 0);
	cr_assert_eq(open_as(1001, 1001, mp(&M, "d/g"), O_WRONLY), EACCES);
	cr_assert_eq(open_as(1001, 1001, mp(&M, "d/g"), O_RDONLY), 0);
	cr_assert_eq(chmod(bp(&M, "f"), 0644), 0);
	err = open_as(1000, 1000, mp(&M, "f"), O_RDONLY);
	cr_assert_eq(err, 0, "open as uid 1000 after chmod 644: %s", strerror(err));
	/* Taken away in the backing directory, at once too. */
	cr_assert_eq(chmod(bp(&M, "f"), 0600), 0);
	cr_assert_eq(open_as(1000, 1000, mp(&M, "f"), O_RDONLY), EACCES);
	cr_assert_eq(chmod(bp(&M, "d"), 0700), 0);
	cr_assert_eq(open_as(1001, 1001, mp(&M, "d/g"), O_RDONLY), EACCES);
	cr_assert_eq(requests("OPEN"), 0);
	cr_assert(mnt_stop(&M));
}

/*
 * An inode the kernel looked up has no node in the daemon: the first of
 * its requests that reaches the daemon (SETATTR, sent there by user_ops)
 * comes after a LOOKUP of its name there, the parent's first; once the
 * kernel forgets the inodes, the daemon forgets those nodes.
 */
Test(kernel, the_daemon_learns_kernel_inodes_by_name_and_forgets_them)
{
	struct stat st;

	need_module();
	/* user_ops: SETATTR is one the kernel would serve itself. */
	mnt_start(&M, "kernel=fusebpf,user_ops=setattr");
	make_tree(&M);
	assert_same_stat(&M, "d/e/h");
	cr_assert_eq(requests("LOOKUP"), 0);
	cr_assert_eq(chmod(mp(&M, "d/e/h"), 0604), 0);
	cr_assert_eq(stat(bp(&M, "d/e/h"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0604);
	cr_assert_eq(requests("SETATTR"), 1);
	cr_assert_eq(requests("LOOKUP"), 3, "LOOKUPs of d, e, h: %llu",
		     (unsigned long long)requests("LOOKUP"));
	cr_assert_eq(mnt_stat(&M, "nodes"), 4);
	/* Again: the kernel remembers the daemon's nodeid. */
	cr_assert_eq(chmod(mp(&M, "d/e/h"), 0644), 0);
	cr_assert_eq(requests("LOOKUP"), 3);

	/* A pass frees what is unused: children first, their parents next. */
	for (int i = 0; i < 100 && mnt_stat(&M, "nodes") != 1; i++) {
		cr_assert_eq(sh("echo 2 > /proc/sys/vm/drop_caches"), 0);
		usleep(50000);
	}
	cr_assert_eq(mnt_stat(&M, "nodes"), 1, "FORGETs unbalanced: %llu nodes left",
		     (unsigned long long)mnt_stat(&M, "nodes"));
	cr_assert(mnt_stop(&M));
}

/* Mounting the module by hand, with root_dir= as bad as it gets. */
static int mount_module(const char *dir, int root_fd, const char *more)
{
	char data[256];
	int dev = open("/dev/fusebpf", O_RDWR | O_CLOEXEC);
	int ret;

	cr_assert(dev >= 0, "/dev/fusebpf: %s", strerror(errno));
	snprintf(data, sizeof(data), "fd=%d,rootmode=40000,user_id=0,group_id=0,root_dir=%d%s",
		 dev, root_fd, more);
	ret = mount("test", dir, "fusebpf", 0, data) ? -errno : 0;
	if (ret == 0)
		umount2(dir, MNT_DETACH);
	close(dev);
	return ret;
}

/*
 * A rename or link names a second inode in its body (the new parent, the
 * linked inode): for inodes the kernel looked up, the daemon gets its own
 * nodeids there too, as in the header.  Renames are the kernel's unless
 * the daemon asks for them (user_ops).
 */
Test(kernel, renames_and_links_of_kernel_inodes_reach_the_daemon_by_its_nodeids)
{
	char buf[16] = "";
	struct stat st;

	need_module();
	mnt_start(&M, "kernel=fusebpf,user_ops=rename,rename2");
	make_tree(&M);
	for (size_t i = 0; i < sizeof(tree) / sizeof(*tree); i++)
		cr_assert_eq(lstat(mp(&M, tree[i]), &st), 0, "%s", tree[i]);

	cr_assert_eq(rename(mp(&M, "d/g"), mp(&M, "d/e/g2")), 0, "rename: %s", strerror(errno));
	cr_assert_eq(read_file(bp(&M, "d/e/g2"), buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "sub");
	cr_assert_eq(link(mp(&M, "f"), mp(&M, "d/e/f2")), 0, "link: %s", strerror(errno));
	cr_assert_eq(stat(bp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_nlink, 2);
	cr_assert_eq(renameat2(AT_FDCWD, mp(&M, "f"), AT_FDCWD, mp(&M, "d/e/h"), RENAME_EXCHANGE), 0,
		     "rename exchange: %s", strerror(errno));
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(bp(&M, "f"), buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "deeper");
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(mp(&M, "d/e/h"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	cr_assert_geq(requests("RENAME") + requests("RENAME2"), 2);
	cr_assert_eq(requests("LINK"), 1);
	cr_assert(mnt_stop(&M));
}

/* Requests of the mount's connection waiting on its daemon (fusectl's waiting file). */
static long waiting_requests(dev_t dev)
{
	char path[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/fs/fusebpf/connections/%u/waiting",
		 (major(dev) << 20) | minor(dev));
	f = fopen(path, "re");
	cr_assert(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fscanf(f, "%ld", &n), 1, "%s", path);
	fclose(f);
	return n;
}

/* A child's chmod of path (SETATTR, the daemon's by user_ops): 0 or the errno, as exit status. */
static int chmod_errno(void *path)
{
	return chmod(path, 0600) ? errno : 0;
}

/* Sets user.x on path (uid 1000's own file, or not): 0 or the errno. */
static int sets_user_xattr(void *path)
{
	return setxattr(path, "user.x", "1", 1, 0) ? errno : 0;
}

/* Sets trusted.x on path, which only CAP_SYS_ADMIN may: 0 or the errno. */
static int sets_trusted_xattr(void *path)
{
	return setxattr(path, "trusted.x", "1", 1, 0) ? errno : 0;
}

/*
 * SETXATTR and REMOVEXATTR in the kernel, as the caller: the flags and
 * errors of setxattr(2) on the backing file, a POSIX ACL as the backing
 * filesystem keeps it, the permission of the file's owner and of others;
 * the daemon sees none of them.
 */
Test(kernel, xattr_changes_reach_the_daemon_zero_times)
{
	/* u::rwx,u:1001:r,g::r-x,m::r-x,o::r-x, as setfacl writes it. */
	const struct {
		uint32_t version;
		struct {
			uint16_t tag, perm;
			uint32_t id;
		} e[5];
	} acl = { 2, { { 0x01, 7, (uint32_t)-1 }, { 0x02, 4, 1001 }, { 0x04, 5, (uint32_t)-1 },
		       { 0x10, 5, (uint32_t)-1 }, { 0x20, 5, (uint32_t)-1 } } };
	char buf[128];

	start_tree_for_all_uids();
	cr_assert_eq(chmod(bp(&M, "d"), 0755), 0);
	cr_assert_eq(chmod(bp(&M, "d/g"), 0644), 0); /* uid 1000's */

	cr_assert_eq(setxattr(mp(&M, "f"), "user.a", "one", 3, 0), 0, "%s", strerror(errno));
	cr_assert_eq(getxattr(bp(&M, "f"), "user.a", buf, sizeof(buf)), 3);
	cr_assert_eq(memcmp(buf, "one", 3), 0);
	cr_assert_eq(setxattr(mp(&M, "f"), "user.a", "two", 3, XATTR_CREATE), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(setxattr(mp(&M, "f"), "user.b", "two", 3, XATTR_REPLACE), -1);
	cr_assert_eq(errno, ENODATA);
	cr_assert_eq(setxattr(mp(&M, "f"), "user.a", "two", 3, XATTR_REPLACE), 0);
	cr_assert_eq(getxattr(mp(&M, "f"), "user.a", buf, sizeof(buf)), 3);
	cr_assert_eq(memcmp(buf, "two", 3), 0);
	cr_assert_eq(removexattr(mp(&M, "f"), "user.a"), 0);
	cr_assert_eq(getxattr(bp(&M, "f"), "user.a", buf, sizeof(buf)), -1);
	cr_assert_eq(errno, ENODATA);
	cr_assert_eq(removexattr(mp(&M, "f"), "user.a"), -1);
	cr_assert_eq(errno, ENODATA);

	/* An ACL is the backing's, as getfacl there reads it; removed, none. */
	cr_assert_eq(setxattr(mp(&M, "d"), "system.posix_acl_access", &acl, sizeof(acl), 0), 0,
		     "%s", strerror(errno));
	cr_assert_eq(getxattr(bp(&M, "d"), "system.posix_acl_access", buf, sizeof(buf)),
		     (ssize_t)sizeof(acl));
	cr_assert_eq(memcmp(buf, &acl, sizeof(acl)), 0);
	cr_assert_eq(removexattr(mp(&M, "d"), "system.posix_acl_access"), 0);
	cr_assert_eq(getxattr(bp(&M, "d"), "system.posix_acl_access", buf, sizeof(buf)), -1);
	cr_assert_eq(errno, ENODATA);

	/* The owner may; another may not write it; trusted.* is root's. */
	cr_assert_eq(run_as(1000, 1000, sets_user_xattr, (void *)mp(&M, "d/g")), 0);
	cr_assert_eq(getxattr(bp(&M, "d/g"), "user.x", buf, sizeof(buf)), 1);
	cr_assert_eq(run_as(1001, 1001, sets_user_xattr, (void *)mp(&M, "f")), EACCES);
	cr_assert_eq(run_as(1000, 1000, sets_trusted_xattr, (void *)mp(&M, "d/g")), EPERM);
	cr_assert_eq(getxattr(bp(&M, "d/g"), "trusted.x", buf, sizeof(buf)), -1);

	ASSERT_SERVED_IN_KERNEL("SETXATTR", "REMOVEXATTR");
	cr_assert(mnt_stop(&M));
}

/* Renames root's file a in a sticky directory to b, as another user: 0 or the errno. */
static int renames_in_sticky(void *dir)
{
	char a[PATH_MAX], b[PATH_MAX];

	snprintf(a, sizeof(a), "%s/roots", (char *)dir);
	snprintf(b, sizeof(b), "%s/mine", (char *)dir);
	return rename(a, b) ? errno : 0;
}

/*
 * RENAME and RENAME2 in the kernel, as the caller: within a directory,
 * across directories, over a file, NOREPLACE and EXCHANGE with their
 * errors, a directory into itself, over a non-empty one, and another
 * user's file in a sticky directory, each as renameat2(2) on the backing
 * directory answers; what was renamed reads through its new name, and
 * the daemon sees no rename.
 */
Test(kernel, renames_reach_the_daemon_zero_times)
{
	char buf[16] = "";
	struct stat st;
	int err;

	start_tree_for_all_uids();
	make_sticky_dir();
	put(bp(&M, "other"), "other");

	cr_assert_eq(rename(mp(&M, "f"), mp(&M, "f2")), 0, "rename: %s", strerror(errno));
	cr_assert_eq(rename(mp(&M, "f2"), mp(&M, "d/e/f3")), 0, "across: %s", strerror(errno));
	cr_assert_eq(read_file(mp(&M, "d/e/f3"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	cr_assert_eq(stat(bp(&M, "f"), &st), -1);
	cr_assert_eq(rename(mp(&M, "other"), mp(&M, "d/e/f3")), 0, "over a file: %s", strerror(errno));
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(bp(&M, "d/e/f3"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "other");
	cr_assert_eq(renameat2(AT_FDCWD, mp(&M, "d/g"), AT_FDCWD, mp(&M, "d/e/f3"),
			       RENAME_NOREPLACE), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(renameat2(AT_FDCWD, mp(&M, "d/g"), AT_FDCWD, mp(&M, "d/nosuch"),
			       RENAME_EXCHANGE), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(renameat2(AT_FDCWD, mp(&M, "d/g"), AT_FDCWD, mp(&M, "d/e"),
			       RENAME_EXCHANGE), 0, "exchange: %s", strerror(errno));
	cr_assert_eq(stat(bp(&M, "d/g/h"), &st), 0, "the directory is not where d/g was");
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(mp(&M, "d/e"), buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "sub");
	cr_assert_eq(rename(mp(&M, "d"), mp(&M, "d/g/inside")), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(rename(mp(&M, "sticky"), mp(&M, "d")), -1);
	cr_assert(errno == ENOTEMPTY || errno == EEXIST, "over a full directory: %s",
		  strerror(errno));
	cr_assert_eq(rename(mp(&M, "nosuch"), mp(&M, "x")), -1);
	cr_assert_eq(errno, ENOENT);
	err = run_as(1001, 1001, renames_in_sticky, (void *)mp(&M, "sticky"));
	cr_assert_eq(err, EPERM, "another user's file in a sticky directory: %s", strerror(err));

	ASSERT_SERVED_IN_KERNEL("RENAME", "RENAME2");
	cr_assert(mnt_stop(&M));
}

/* Unlinks path as another user: 0 or the errno. */
static int unlinks(void *path)
{
	return unlink(path) ? errno : 0;
}

/*
 * UNLINK and RMDIR in the kernel, as the caller: the errors of unlink(2)
 * and rmdir(2) in the backing directory, the sticky bit's rule for
 * another user, a file unlinked while open still read and written
 * through its fd; the daemon sees neither opcode.
 */
Test(kernel, unlink_and_rmdir_reach_the_daemon_zero_times)
{
	char buf[16] = "";
	struct stat st;
	int fd, err;

	start_tree_for_all_uids();
	cr_assert_eq(mkdir(bp(&M, "empty"), 0755), 0);
	make_sticky_dir();

	cr_assert_eq(unlink(mp(&M, "l")), 0, "unlink: %s", strerror(errno));
	cr_assert_eq(lstat(bp(&M, "l"), &st), -1, "the link is still in the backing directory");
	cr_assert_eq(lstat(mp(&M, "l"), &st), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(rmdir(mp(&M, "empty")), 0, "rmdir: %s", strerror(errno));
	cr_assert_eq(stat(bp(&M, "empty"), &st), -1);
	cr_assert_eq(rmdir(mp(&M, "d")), -1);
	cr_assert_eq(errno, ENOTEMPTY);
	cr_assert_eq(unlink(mp(&M, "d")), -1);
	cr_assert_eq(errno, EISDIR);
	cr_assert_eq(rmdir(mp(&M, "f")), -1);
	cr_assert_eq(errno, ENOTDIR);
	cr_assert_eq(unlink(mp(&M, "nosuch")), -1);
	cr_assert_eq(errno, ENOENT);
	err = run_as(1001, 1001, unlinks, (void *)mp(&M, "sticky/roots"));
	cr_assert_eq(err, EPERM, "another user's file in a sticky directory: %s", strerror(err));
	cr_assert_eq(stat(bp(&M, "sticky/roots"), &st), 0);

	/* Unlinked while open: the data stays the fd's. */
	fd = open(mp(&M, "d/g"), O_RDWR);
	cr_assert(fd >= 0, "open: %s", strerror(errno));
	cr_assert_eq(unlink(mp(&M, "d/g")), 0);
	cr_assert_eq(stat(bp(&M, "d/g"), &st), -1);
	cr_assert_eq(pwrite(fd, "new", 3, 0), 3);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 3);
	cr_assert_eq(memcmp(buf, "new", 3), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	close(fd);

	ASSERT_SERVED_IN_KERNEL("UNLINK", "RMDIR");
	cr_assert(mnt_stop(&M));
}

/*
 * As uid 1000, umask 022, in dir: a file written through the fd its
 * creation opened, a directory, a fifo and a symlink; 0 or the errno.
 */
static int makes_inodes(void *dir)
{
	char path[PATH_MAX], buf[8] = "";
	int fd;

	umask(022);
	snprintf(path, sizeof(path), "%s/newfile", (char *)dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
	if (fd < 0)
		return errno;
	if (write(fd, "made", 4) != 4 || pread(fd, buf, sizeof(buf), 0) != 4 ||
	    memcmp(buf, "made", 4))
		return 100;
	close(fd);
	if (open(path, O_RDWR | O_CREAT | O_EXCL, 0666) >= 0 || errno != EEXIST)
		return 101;
	snprintf(path, sizeof(path), "%s/newdir", (char *)dir);
	if (mkdir(path, 0777))
		return errno;
	snprintf(path, sizeof(path), "%s/newfifo", (char *)dir);
	if (mknod(path, S_IFIFO | 0666, 0))
		return errno;
	snprintf(path, sizeof(path), "%s/newlink", (char *)dir);
	if (symlink("newfifo", path))
		return errno;
	snprintf(path, sizeof(path), "%s/newdir", (char *)dir);
	return mkdir(path, 0777) == 0 ? -1 : errno == EEXIST ? 0 : errno;
}

/*
 * CREATE, MKDIR, MKNOD and SYMLINK in the kernel, as the caller: each new
 * inode is the caller's, with its umask, and a setgid directory's group
 * and setgid; a created file is open for reading and writing at once; it
 * stats as its backing inode, its name is known to the mount at once, and
 * the daemon sees none of it.
 */
Test(kernel, creates_and_mkdirs_make_the_callers_inodes)
{
	static const char *const made[] = { "own/newfile", "own/newdir", "own/newfifo",
					     "own/newlink", "sgid/newfile", "sgid/newdir",
					     "sgid/newfifo", "sgid/newlink" };
	char buf[8] = "";
	char target[16] = "";
	struct stat st;

	need_module();
	mnt_start(&M, "kernel=fusebpf");
	cr_assert_eq(chmod(M.root, 0711), 0); /* uid 1000 reaches the mount */
	cr_assert_eq(mkdir(bp(&M, "own"), 0755), 0);
	cr_assert_eq(chown(bp(&M, "own"), 1000, 1000), 0);
	cr_assert_eq(mkdir(bp(&M, "sgid"), 0777), 0);
	cr_assert_eq(chown(bp(&M, "sgid"), 0, 1001), 0);
	cr_assert_eq(chmod(bp(&M, "sgid"), 02777), 0);
	cr_assert_eq(mkdir(bp(&M, "roots"), 0755), 0);

	cr_assert_eq(run_as(1000, 1000, makes_inodes, (void *)mp(&M, "own")), 0);
	cr_assert_eq(run_as(1000, 1000, makes_inodes, (void *)mp(&M, "sgid")), 0);
	cr_assert_eq(run_as(1000, 1000, makes_inodes, (void *)mp(&M, "roots")), EACCES,
		     "uid 1000 made a file in root's 0755 directory");
	for (size_t i = 0; i < sizeof(made) / sizeof(*made); i++) {
		bool sgid = !strncmp(made[i], "sgid/", 5);

		cr_assert_eq(lstat(bp(&M, made[i]), &st), 0, "%s: %s", made[i], strerror(errno));
		cr_assert_eq(st.st_uid, 1000, "%s: uid %u", made[i], st.st_uid);
		cr_assert_eq(st.st_gid, sgid ? 1001 : 1000, "%s: gid %u", made[i], st.st_gid);
		if (S_ISDIR(st.st_mode))
			cr_assert_eq(st.st_mode & 07777, sgid ? 02755 : 0755, "%s: mode %o", made[i],
				     st.st_mode & 07777);
		if (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode))
			cr_assert_eq(st.st_mode & 07777, 0644, "%s: mode %o", made[i],
				     st.st_mode & 07777);
		assert_same_stat(&M, made[i]);
	}
	cr_assert_eq(readlink(mp(&M, "own/newlink"), target, sizeof(target) - 1), 7);
	cr_assert_str_eq(target, "newfifo");
	cr_assert_eq(read_file(bp(&M, "own/newfile"), buf, sizeof(buf) - 1), 4);
	cr_assert_str_eq(buf, "made");
	/* What the kernel made, it serves at once: a file in the new directory. */
	put(mp(&M, "own/newdir/file"), "in");
	cr_assert_eq(stat(bp(&M, "own/newdir/file"), &st), 0);
	cr_assert_eq(unlink(mp(&M, "own/newdir/file")), 0);
	cr_assert_eq(rmdir(mp(&M, "own/newdir")), 0);

	ASSERT_SERVED_IN_KERNEL("CREATE", "MKDIR", "MKNOD", "SYMLINK");
	cr_assert_eq(requests("LOOKUP") + requests("OPEN"), 0,
		     "the daemon was asked for what the kernel made");
	cr_assert(mnt_stop(&M));
}

/*
 * The daemon killed while a request waits on it: the caller gets an error,
 * and from then on the mount serves nothing, the kernel's fast path
 * included (ENOTCONN, as any FUSE mount whose daemon is gone); it
 * unmounts, and the module unloads after the suite (the guest checks).
 */
Test(kernel, the_daemon_killed_mid_request_fails_the_caller_and_the_mount)
{
	struct statx stx;
	struct stat st;
	pid_t child;
	int status;
	dev_t dev;
	DIR *dir;

	need_module();
	mnt_start(&M, "kernel=fusebpf,user_ops=setattr");
	make_tree(&M);
	cr_assert_eq(stat(mp(&M, "d/g"), &st), 0);
	dir = opendir(mp(&M, "d"));
	cr_assert(dir);
	cr_assert_eq(stat(M.dir, &st), 0);
	dev = st.st_dev;
	cr_assert_eq(kill(M.fsd, SIGSTOP), 0);
	child = fork();
	cr_assert(child >= 0);
	if (child == 0)
		_exit(chmod_errno((void *)mp(&M, "d/g")));
	/* Until the chmod's request waits on the stopped daemon. */
	for (int i = 0; i < 200 * (int)test_time_scale() && waiting_requests(dev) < 1; i++)
		usleep(50 * 1000);
	cr_assert_geq(waiting_requests(dev), 1, "no request waits on the daemon");
	cr_assert_eq(waitpid(child, &status, WNOHANG), 0, "the chmod did not wait for the daemon");
	cr_assert_eq(kill(M.fsd, SIGKILL), 0);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) &&
		  (WEXITSTATUS(status) == ECONNABORTED || WEXITSTATUS(status) == ENOTCONN),
		  "the waiting chmod: %s", strerror(WEXITSTATUS(status)));
	/*
	 * Attributes fetched with no timeout stay good until the next clock
	 * tick, as on any FUSE mount, so a plain stat right after the kill
	 * may still be answered from them: a forced one asks the fast path.
	 */
	cr_assert_eq(statx(AT_FDCWD, mp(&M, "d/g"), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &stx),
		     -1, "the kernel still serves a dead mount");
	cr_assert_eq(errno, ENOTCONN, "statx: %s", strerror(errno));
	errno = 0;
	cr_assert_null(readdir(dir), "a listing of a dead mount");
	cr_assert_eq(errno, ENOTCONN, "readdir: %s", strerror(errno));
	closedir(dir);
	cr_assert_not(mnt_stop(&M), "a killed daemon exited cleanly");
}

Test(kernel, bad_root_dir_and_root_bpf_are_refused)
{
	int file, dir;

	need_module();
	mnt_start(&M, "kernel=fusebpf");
	put(bp(&M, "f"), "x");
	cr_assert_eq(mkdir(bp(&M, "mnt2"), 0755), 0);
	file = open(bp(&M, "f"), O_RDONLY | O_CLOEXEC);
	dir = open(bp(&M, ""), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert(file >= 0 && dir >= 0);

	cr_assert_eq(mount_module(bp(&M, "mnt2"), file, ""), -EINVAL, "root_dir= a file");
	cr_assert_eq(mount_module(bp(&M, "mnt2"), 999, ""), -EINVAL, "root_dir= not open");
	cr_assert_eq(mount_module(bp(&M, "mnt2"), dir, ",root_bpf=nosuchpolicy"), -EINVAL,
		     "a policy that is not loaded");
	cr_assert_eq(mount_module(bp(&M, "mnt2"), dir, ""), 0, "a good root_dir");
	close(file);
	close(dir);
	cr_assert(mnt_stop(&M));
}

Test(kernel, the_module_stays_while_mounted)
{
	need_module();
	mnt_start(&M, "kernel=fusebpf");
	cr_assert_neq(sh("rmmod fusebpf 2>/dev/null"), 0, "rmmod went through under a mount");
	cr_assert(access("/dev/fusebpf", F_OK) == 0);
	cr_assert(mnt_stop(&M));
}

/*
 * Policies as struct_ops: `fusebpf load` registers a policy's kernel-mode
 * build with the module (docs/kernel.md, "Loading").  What the module
 * registered is seen from outside through the link the loader pins and the
 * struct_ops map it holds, whose value names the policy.
 */
#include <bpf/bpf.h>

/* The ids of a loaded policy's struct_ops map and link, as `fusebpf show` prints them. */
static bool kernel_ids(const char *name, unsigned *map_id, unsigned *link_id)
{
	char out[8192], *p;

	if (fusebpf(out, sizeof(out), "show %s", name))
		return false;
	p = strstr(out, "struct_ops map id ");
	return p && sscanf(p, "struct_ops map id %u, link id %u", map_id, link_id) == 2;
}

/* Whether map_id is a struct_ops map whose value (struct fusebpf_ops) names the policy. */
static bool struct_ops_names(unsigned map_id, const char *name)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info), zero = 0;
	char value[4096];
	bool named = false;
	int fd = bpf_map_get_fd_by_id(map_id);

	if (fd < 0)
		return false;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	    info.type == BPF_MAP_TYPE_STRUCT_OPS && info.value_size <= sizeof(value) &&
	    bpf_map_lookup_elem(fd, &zero, value) == 0)
		named = memmem(value, info.value_size, name, strlen(name) + 1) != NULL;
	close(fd);
	return named;
}

/* Waits (up to 20 s, scaled) until neither the map nor the link of these ids exists. */
static bool kernel_ids_gone(unsigned map_id, unsigned link_id)
{
	for (unsigned i = 0; i < 200 * test_time_scale(); i++) {
		int map = bpf_map_get_fd_by_id(map_id), link = bpf_link_get_fd_by_id(link_id);

		if (map >= 0)
			close(map);
		if (link >= 0)
			close(link);
		if (map < 0 && link < 0)
			return true;
		usleep(100000);
	}
	return false;
}

/* Loads what as t<pid><suffix> and checks that fusebpf.ko has it by that name. */
static void kernel_load(const char *what, const char *suffix, char name[16], unsigned *map_id,
			unsigned *link_id)
{
	test_policy_load(what, suffix, name);
	cr_assert(kernel_ids(name, map_id, link_id), "%s (%s): not registered with fusebpf.ko",
		  name, what);
	cr_assert(struct_ops_names(*map_id, name), "%s: struct_ops map %u does not name it", name,
		  *map_id);
}

Test(kernel, every_policy_registers_in_kernel_mode)
{
	static const char *const builtins[] = { "passthrough", "hide",	   "readonly",
						"trace",       "verdicts", "media" };
	static const char *const tests[] = { "nodots", "mix_a", "mix_b" };
	char names[9][16], suffix[8];
	unsigned map_id[9], link_id[9];
	size_t n = 0;

	need_module();
	for (size_t i = 0; i < sizeof(builtins) / sizeof(*builtins); i++, n++) {
		snprintf(suffix, sizeof(suffix), "k%zu", n);
		kernel_load(builtins[i], suffix, names[n], &map_id[n], &link_id[n]);
	}
	for (size_t i = 0; i < sizeof(tests) / sizeof(*tests); i++, n++) {
		snprintf(suffix, sizeof(suffix), "k%zu", n);
		kernel_load(test_bpf(tests[i]), suffix, names[n], &map_id[n], &link_id[n]);
	}
	for (size_t i = 0; i < n; i++)
		test_policy_unload(names[i]);
	for (size_t i = 0; i < n; i++)
		cr_assert(kernel_ids_gone(map_id[i], link_id[i]), "%s: still registered", names[i]);
}

/* A load of a registered name updates its link: another map, the same link, no gap. */
Test(kernel, a_reload_replaces_the_policy_in_place)
{
	unsigned map_a, link_a, map_b, link_b;
	char name[16], out[8192];
	int map = 0;

	need_module();
	kernel_load(test_bpf("mix_a"), "r", name, &map_a, &link_a);
	cr_assert_eq(fusebpf(out, sizeof(out), "load '%s' --name %s", test_bpf("mix_b"), name), 0,
		     "%s", out);
	cr_assert(kernel_ids(name, &map_b, &link_b));
	cr_assert_eq(link_b, link_a, "a new link: %u, was %u", link_b, link_a);
	cr_assert_neq(map_b, map_a, "the same struct_ops map after a reload");
	cr_assert(struct_ops_names(map_b, name));
	/* The old version goes once the module lets go of it. */
	for (unsigned i = 0; i < 200 * test_time_scale(); i++) {
		map = bpf_map_get_fd_by_id(map_a);
		if (map < 0)
			break;
		close(map);
		usleep(100000);
	}
	cr_assert_lt(map, 0, "the replaced struct_ops map %u is still there", map_a);
	test_policy_unload(name);
	cr_assert(kernel_ids_gone(map_b, link_b));
}

/* The kernel-mode filters use the maps pinned for the policy, which the map tools see. */
Test(kernel, kernel_mode_shares_the_pinned_maps)
{
	struct bpf_map_info minfo = { 0 };
	uint32_t len = sizeof(minfo), id = 0;
	unsigned map_id, link_id, users = 0;
	char name[16];
	int fd;

	need_module();
	kernel_load(test_bpf("mix_a"), "m", name, &map_id, &link_id);
	fd = test_policy_map(name, "runs");
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &minfo, &len), 0);
	close(fd);
	/* mix's members: GETATTR, LOOKUP and OPEN, each using runs. */
	while (bpf_prog_get_next_id(id, &id) == 0) {
		uint32_t maps[16], plen;
		struct bpf_prog_info info;
		int prog = bpf_prog_get_fd_by_id(id);

		if (prog < 0)
			continue;
		memset(&info, 0, sizeof(info));
		info.nr_map_ids = sizeof(maps) / sizeof(*maps);
		info.map_ids = (uintptr_t)maps;
		plen = sizeof(info);
		if (bpf_obj_get_info_by_fd(prog, &info, &plen) == 0 &&
		    info.type == BPF_PROG_TYPE_STRUCT_OPS && !strncmp(info.name, "fusebpf_", 8))
			for (uint32_t i = 0; i < info.nr_map_ids && i < 16; i++)
				users += maps[i] == minfo.id;
		close(prog);
	}
	test_policy_unload(name);
	cr_assert_eq(users, 3, "%u kernel-mode programs use the pinned map runs (id %u)", users,
		     minfo.id);
}

Test(kernel, unload_unregisters_the_policy)
{
	unsigned map_id, link_id;
	char name[16], out[8192], pin[128];

	need_module();
	kernel_load("passthrough", "u", name, &map_id, &link_id);
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/fusebpf/%s/kernel_link", name);
	cr_assert_eq(access(pin, F_OK), 0, "%s: %s", pin, strerror(errno));
	cr_assert_eq(fusebpf(out, sizeof(out), "unload %s", name), 0, "%s", out);
	cr_assert_neq(access(pin, F_OK), 0);
	cr_assert(kernel_ids_gone(map_id, link_id), "%s: still registered after unload", name);
	cr_assert_neq(fusebpf(out, sizeof(out), "show %s", name), 0);
}

/* Names are the loader's to check; a refusal says what, and leaves nothing behind. */
Test(kernel, a_bad_name_is_refused_with_a_clear_message)
{
	char out[8192];

	need_module();
	cr_assert_neq(fusebpf(out, sizeof(out), "load passthrough --name bad.name"), 0);
	cr_assert(strstr(out, "policy name 'bad.name' is not valid"), "%s", out);
	cr_assert_neq(fusebpf(out, sizeof(out), "load passthrough --name sixteen_chars_xx"), 0);
	cr_assert(strstr(out, "policy name 'sixteen_chars_xx' is not valid"), "%s", out);
	cr_assert_neq(access("/sys/fs/bpf/fusebpf/bad.name", F_OK), 0);
}

/* A filter the daemon's verifier takes and the kernel-mode one refuses: named, with its log. */
Test(kernel, a_kernel_mode_refusal_names_the_filter_and_changes_nothing)
{
	char name[16], out[16384], dir[64];

	need_module();
	snprintf(name, sizeof(name), "t%dbk", (int)getpid() % 10000000);
	cr_assert_neq(fusebpf(out, sizeof(out), "load '%s' --name %s", test_bpf("bad_kernel"),
			      name), 0, "bad_kernel loaded in kernel mode");
	cr_assert(strstr(out, "refused program 'fusebpf_getattr'") && strstr(out, "kernel mode"),
		  "%s", out);
	cr_assert(strstr(out, "may not be written"), "not the verifier's last lines: %s", out);
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/fusebpf/%s", name);
	cr_assert_neq(access(dir, F_OK), 0, "%s left behind", dir);
}

/* A file whose kernel-mode build is not beside it (kernel/FILE) is refused, and says where. */
Test(kernel, a_policy_without_its_kernel_mode_build_is_refused)
{
	char out[8192], copy[PATH_MAX];

	need_module();
	snprintf(copy, sizeof(copy), "%s/nodots.bpf.o", test_tmp());
	cr_assert_eq(sh("cp '%s' '%s'", test_bpf("nodots"), copy), 0);
	cr_assert_neq(fusebpf(out, sizeof(out), "load '%s' --name t%dnk", copy,
			      (int)getpid() % 10000000), 0);
	cr_assert(strstr(out, "no kernel-mode build") && strstr(out, "kernel/nodots.bpf.o"), "%s",
		  out);
	unlink(copy);
}

/* Opens the builds only (suite kernel_build): runs on any kernel, the host's too. */
Test(kernel_build, every_kernel_mode_build_has_a_member_per_filtered_opcode)
{
	static const char *const builtins[] = { "passthrough", "hide",	   "readonly",
						"trace",       "verdicts", "media" };
	static const char *const tests[] = { "nodots", "mix_a", "mix_b", "bad_kernel" };
	const char *dir = getenv("FSD_BPF_DIR") ?: "build/bpf";
	char daemon[PATH_MAX], kernel[PATH_MAX], want[1024], got[1024];

	for (size_t i = 0; i < sizeof(builtins) / sizeof(*builtins) + sizeof(tests) / sizeof(*tests);
	     i++) {
		if (i < sizeof(builtins) / sizeof(*builtins)) {
			snprintf(daemon, sizeof(daemon), "%s/%s.bpf.o", dir, builtins[i]);
			snprintf(kernel, sizeof(kernel), "%s/kernel/%s.bpf.o", dir, builtins[i]);
		} else {
			const char *t = tests[i - sizeof(builtins) / sizeof(*builtins)];

			snprintf(daemon, sizeof(daemon), "%s/test/%s.bpf.o", dir, t);
			snprintf(kernel, sizeof(kernel), "%s/test/kernel/%s.bpf.o", dir, t);
		}
		policy_object_ops(daemon, false, want, sizeof(want));
		policy_object_ops(kernel, true, got, sizeof(got));
		cr_assert_str_eq(got, want, "%s: members %s; %s filters %s", kernel, got, daemon,
				 want);
	}
}

/* ---- policies run by the kernel ---- */

static char kpol[16], kpol2[16];

static void kernel_policy_fini(void)
{
	mnt_stop(&M);
	if (kpol[0])
		test_policy_unload(kpol);
	if (kpol2[0])
		test_policy_unload(kpol2);
	kpol2[0] = '\0';
}

/* Loads policy what as kpol (both builds) and mounts with it on fusebpf.ko; extra: more options. */
static void kernel_policy_mount(const char *what, const char *suffix, const char *extra)
{
	char opts[128];

	need_module();
	test_policy_load(what, suffix, kpol);
	snprintf(opts, sizeof(opts), "kernel=fusebpf,policy=%s%s%s", kpol, extra ? "," : "",
		 extra ? extra : "");
	mnt_start(&M, opts);
}

/* Adds an exact name to hide's names map (shared by both of its builds). */
static void hide_name(const char *name)
{
	char key[FUSEBPF_NAME_LEN] = "";
	uint8_t one = 1;
	int fd = test_policy_map(kpol, "names");

	strncpy(key, name, sizeof(key) - 1);
	cr_assert_eq(bpf_map_update_elem(fd, key, &one, 0), 0, "hiding %s", name);
	close(fd);
}

Test(kernel, hide_in_the_kernel_leaves_names_out_without_the_daemon, .fini = kernel_policy_fini)
{
	char opts[64];
	int listed = 0, visible = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	need_module();
	test_policy_load("hide", "kh", kpol);
	hide_name("secret");
	snprintf(opts, sizeof(opts), "kernel=fusebpf,policy=%s", kpol);
	mnt_start(&M, opts);
	cr_assert_eq(mkdir(bp(&M, "sub"), 0755), 0);
	put(bp(&M, "secret"), "x");
	put(bp(&M, "sub/secret"), "x");
	put(bp(&M, "secretive"), "x");
	cr_assert_eq(stat(mp(&M, "secret"), &st), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(stat(mp(&M, "sub/secret"), &st), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(stat(mp(&M, "secretive"), &st), 0);
	d = opendir(mp(&M, ""));
	cr_assert(d);
	while ((e = readdir(d))) {
		listed++;
		cr_assert(strcmp(e->d_name, "secret"), "secret was listed");
		visible += !strcmp(e->d_name, "secretive") || !strcmp(e->d_name, "sub");
	}
	closedir(d);
	cr_assert_eq(visible, 2);
	cr_assert_eq(listed, 4, "%d entries listed: ., .., sub, secretive", listed);
	/* The daemon saw none of it. */
	cr_assert_eq(requests("LOOKUP"), 0);
	cr_assert_eq(requests("OPENDIR"), 0);
	cr_assert_eq(requests("READDIR"), 0);
	cr_assert_eq(mnt_stat(&M, "nodes"), 1);
}

/* The users /sys/fs/fusebpf/policies gives a policy, -1 if it is not listed. */
static long kernel_policy_users(const char *name)
{
	char line[64], policy[32];
	unsigned long users;
	long found = -1;
	FILE *f = fopen("/sys/fs/fusebpf/policies", "re");

	cr_assert(f, "/sys/fs/fusebpf/policies: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %lu", policy, &users) == 2 && !strcmp(policy, name))
			found = (long)users;
	fclose(f);
	return found;
}

/* A policy the kernel's inodes hold is not unloaded from under them. */
Test(kernel, a_policy_in_use_is_not_unloaded, .fini = kernel_policy_fini)
{
	char opts[64], out[4096];
	struct stat st;

	need_module();
	test_policy_load("passthrough", "ku", kpol);
	cr_assert_eq(kernel_policy_users(kpol), 0);
	snprintf(opts, sizeof(opts), "kernel=fusebpf,policy=%s", kpol);
	mnt_start(&M, opts);
	make_tree(&M);
	cr_assert_eq(stat(mp(&M, "d/g"), &st), 0);
	cr_assert_geq(kernel_policy_users(kpol), 3, "the root, d and d/g hold %s", kpol);

	cr_assert_neq(fusebpf(out, sizeof(out), "unload %s", kpol), 0, "unloaded while in use");
	cr_assert(strstr(out, "in use by") && strstr(out, "unmount them first"), "%s", out);
	cr_assert_eq(stat(mp(&M, "d/g"), &st), 0, "after the refusal: %s", strerror(errno));
	cr_assert(mnt_stop(&M));
	cr_assert_eq(kernel_policy_users(kpol), 0);
	cr_assert_eq(fusebpf(out, sizeof(out), "unload %s", kpol), 0, "%s", out);
	cr_assert_eq(kernel_policy_users(kpol), -1);
	kpol[0] = '\0';
}

/*
 * A policy whose link goes anyway (detached and unpinned behind the
 * loader's back): its inodes' requests fail with EIO, the kernel says so
 * once, and they work again once a policy of that name is loaded.
 */
Test(kernel, a_policy_gone_from_under_a_mount_fails_its_inodes_until_loaded_again,
     .fini = kernel_policy_fini)
{
	char pin[128];
	struct stat st;
	int link;

	kernel_policy_mount("passthrough", "kg", NULL);
	make_tree(&M);
	cr_assert_eq(stat(mp(&M, "d/g"), &st), 0);

	snprintf(pin, sizeof(pin), "/sys/fs/bpf/fusebpf/%s/kernel_link", kpol);
	link = bpf_obj_get(pin);
	cr_assert(link >= 0, "%s: %s", pin, strerror(errno));
	cr_assert_eq(bpf_link_detach(link), 0, "detach: %s", strerror(errno));
	close(link);
	cr_assert_eq(unlink(pin), 0);
	cr_assert_eq(stat(mp(&M, "d/g"), &st), -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(stat(mp(&M, "f"), &st), -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(sh("test $(dmesg | grep -c 'policy %s is not loaded') -eq 1", kpol), 0,
		     "the kernel did not say it once");
	cr_assert_gt(kernel_policy_users(kpol), 0, "unregistered, still held: still listed");

	test_policy_load("passthrough", "kg", kpol);
	cr_assert_eq(stat(mp(&M, "d/g"), &st), 0, "loaded again: %s", strerror(errno));
	cr_assert_eq(st.st_uid, 1000);
}

/* Sets what the verdicts policy's pre or post map says for an opcode. */
static void verdict_set(const char *map, uint32_t op, int32_t value)
{
	struct verdicts_setting v = { .value = value, .set = 1 };
	int fd = test_policy_map(kpol, map);

	cr_assert_eq(bpf_map_update_elem(fd, &op, &v, 0), 0, "%s[%u]", map, op);
	close(fd);
}

static void verdict_clear(const char *map, uint32_t op)
{
	struct verdicts_setting v = { 0 };
	int fd = test_policy_map(kpol, map);

	cr_assert_eq(bpf_map_update_elem(fd, &op, &v, 0), 0);
	close(fd);
}

Test(kernel, every_verdict_does_what_the_abi_says_in_the_kernel, .fini = kernel_policy_fini)
{
	struct stat st, b;
	uint64_t mtime = 12345, getattrs;
	uint32_t zero = 0;
	int fd;

	kernel_policy_mount("verdicts", "kv", "cache=never");
	put(bp(&M, "f"), "hello");
	cr_assert_eq(stat(bp(&M, "f"), &b), 0);

	/* CALL_DEFAULT (nothing set): the kernel's backing GETATTR. */
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_ino, b.st_ino);
	cr_assert_eq(requests("GETATTR"), 0);

	/* -errno: that error. */
	verdict_set("pre", FUSE_GETATTR, -EACCES);
	cr_assert_eq(stat(mp(&M, "f"), &st), -1);
	cr_assert_eq(errno, EACCES);

	/* Not a verdict: EIO. */
	verdict_set("pre", FUSE_GETATTR, 99);
	cr_assert_eq(stat(mp(&M, "f"), &st), -1);
	cr_assert_eq(errno, EIO);

	/* POSTFILTER: the postfilter changes the output. */
	fd = test_policy_map(kpol, "mtime");
	cr_assert_eq(bpf_map_update_elem(fd, &zero, &mtime, 0), 0);
	close(fd);
	verdict_set("pre", FUSE_GETATTR, FUSEBPF_POSTFILTER);
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_mtime, 12345, "mtime %ld", (long)st.st_mtime);
	/* ... and a postfilter's error fails the call. */
	verdict_set("post", FUSE_GETATTR, -ENOLINK);
	cr_assert_eq(stat(mp(&M, "f"), &st), -1);
	cr_assert_eq(errno, ENOLINK);
	verdict_clear("post", FUSE_GETATTR);

	/* USER: the daemon serves it. */
	getattrs = requests("GETATTR");
	verdict_set("pre", FUSE_GETATTR, FUSEBPF_USER);
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_ino, b.st_ino);
	cr_assert_gt(requests("GETATTR"), getattrs, "USER did not reach the daemon");
	verdict_clear("pre", FUSE_GETATTR);

	/* A LOOKUP prefilter renames: bpfalias.f is f. */
	cr_assert_eq(stat(mp(&M, "bpfalias.f"), &st), 0);
	cr_assert_eq(st.st_ino, b.st_ino);
	cr_assert_eq(requests("LOOKUP"), 1, "only USER's translation LOOKUP reached the daemon");
}

/* How many times verdicts' prefilter of opcode op ran. */
static uint64_t prefilter_calls(uint32_t op)
{
	return test_policy_calls(kpol, op, FUSEBPF_PHASE_PRE);
}

/*
 * What a policy filtered in the kernel is cached as the daemon's replies
 * are (docs/abi.md, "No cache"): under cache=always a name's LOOKUP and
 * GETATTR prefilters run once, then the kernel's dentry and attributes
 * answer, and a change through the mount or in the backing directory
 * shows at once all the same; with FUSEBPF_REPLY_NO_CACHE every walk of
 * the name runs them again.  (The tests above that change verdicts while
 * mounted use cache=never.)
 */
Test(kernel, filtered_entries_and_attributes_are_cached_as_the_daemons,
     .fini = kernel_policy_fini)
{
	uint64_t lookups, getattrs;
	struct stat st;

	kernel_policy_mount("verdicts", "kk", NULL);
	put(bp(&M, "a"), "x");
	put(bp(&M, "b"), "x");
	cr_assert_eq(stat(mp(&M, "a"), &st), 0);
	lookups = prefilter_calls(FUSE_LOOKUP);
	getattrs = prefilter_calls(FUSE_GETATTR);
	cr_assert_geq(lookups, 1);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(stat(mp(&M, "a"), &st), 0);
	cr_assert_eq(prefilter_calls(FUSE_LOOKUP), lookups, "cached entries ran LOOKUP again");
	cr_assert_eq(prefilter_calls(FUSE_GETATTR), getattrs, "cached attributes ran GETATTR again");

	cr_assert_eq(chmod(mp(&M, "a"), 0600), 0);
	cr_assert_eq(stat(mp(&M, "a"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o after chmod", st.st_mode & 07777);
	cr_assert_eq(rename(bp(&M, "a"), bp(&M, "c")), 0);
	cr_assert_eq(stat(mp(&M, "a"), &st), -1, "a renamed in the backing directory is still there");
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(stat(mp(&M, "c"), &st), 0);

	verdict_set("nocache", FUSE_LOOKUP, 1);
	lookups = prefilter_calls(FUSE_LOOKUP);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(stat(mp(&M, "b"), &st), 0);
	cr_assert_geq(prefilter_calls(FUSE_LOOKUP) - lookups, 5);
	cr_assert_eq(requests("LOOKUP"), 0);
}

/* A counter of fsd --stats, as a number. */
static uint64_t stat_of(const char *fmt, const char *op)
{
	char key[96];

	snprintf(key, sizeof(key), fmt, op);
	return mnt_stat(&M, key);
}

/*
 * USER_PREFILTER and USER_POSTFILTER from the kernel: the filter calls
 * (opcode | 0x10000, | 0x20000) reach fsd's userspace module around a
 * backing operation the kernel does itself.  `example` rewrites
 * "alias.X" to X before a LOOKUP, sets the mtime after a GETATTR, and
 * fails a "postfail." name after it.
 */
Test(kernel, userspace_filter_calls_go_around_the_kernels_backing_operation,
     .fini = kernel_policy_fini)
{
	uint64_t lookups, served_lookups, getattrs;
	struct stat st, b;

	kernel_policy_mount("verdicts", "ku", "user=example,cache=never");
	put(bp(&M, "f"), "hello");
	put(bp(&M, "postfail.x"), "x");
	cr_assert_eq(stat(bp(&M, "f"), &b), 0);

	verdict_set("pre", FUSE_LOOKUP, FUSEBPF_USER_PREFILTER);
	lookups = requests("LOOKUP");
	served_lookups = stat_of("kernel.%s", "LOOKUP");
	cr_assert_eq(stat(mp(&M, "alias.f"), &st), 0, "alias.f: %s", strerror(errno));
	cr_assert_eq(st.st_ino, b.st_ino);
	cr_assert_eq(stat_of("user.example.prefilter.%s", "LOOKUP"), 1);
	/* The daemon saw the prefilter call, the kernel did the lookup. */
	cr_assert_eq(requests("LOOKUP"), lookups + 1);
	cr_assert_eq(stat_of("kernel.%s", "LOOKUP"), served_lookups + 1);
	verdict_clear("pre", FUSE_LOOKUP);

	verdict_set("pre", FUSE_GETATTR, FUSEBPF_USER_POSTFILTER);
	getattrs = stat_of("kernel.%s", "GETATTR");
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_mtime, 1000000000, "mtime %ld", (long)st.st_mtime);
	cr_assert_eq(st.st_size, 5);
	cr_assert_geq(stat_of("user.example.postfilter.%s", "GETATTR"), 1);
	cr_assert_gt(stat_of("kernel.%s", "GETATTR"), getattrs);
	verdict_clear("pre", FUSE_GETATTR);

	verdict_set("pre", FUSE_LOOKUP, FUSEBPF_USER_POSTFILTER);
	cr_assert_eq(stat(mp(&M, "postfail.x"), &st), -1);
	cr_assert_eq(errno, EREMOTEIO, "postfail.x: %s", strerror(errno));
	/* What reached the daemon of GETATTR was the postfilter calls. */
	cr_assert_eq(requests("GETATTR"), stat_of("user.example.postfilter.%s", "GETATTR"));
}

/*
 * Lists mp(&M, "d"), whose backing has n files "entry-NNN" and n
 * "userhide.NNN", asserting that each is listed once (the userhide ones
 * never under USER_POSTFILTER, the verdict listing it), "." and ".." too; and how many handles the daemon
 * holds meanwhile.
 */
static void assert_lists_each_once(int32_t verdict, int n, uint64_t handles)
{
	bool hidden = verdict == FUSEBPF_USER_POSTFILTER;
	char seen[2][512] = { "" };
	int count = 0, dots = 0, i;
	struct dirent *e;
	DIR *d;

	cr_assert_leq(n, (int)sizeof(seen[0]));
	d = opendir(mp(&M, "d"));
	cr_assert(d, "opendir: %s", strerror(errno));
	errno = 0;
	while ((e = readdir(d))) {
		bool hide = !strncmp(e->d_name, "userhide.", 9);

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
			dots++;
			continue;
		}
		cr_assert_eq(sscanf(e->d_name + (hide ? 9 : 0), hide ? "%d" : "entry-%d", &i), 1,
			     "listed %s", e->d_name);
		cr_assert(i >= 0 && i < n && !seen[hide][i], "%s: listed twice", e->d_name);
		cr_assert(!(hide && hidden), "%s listed", e->d_name);
		seen[hide][i] = 1;
		count++;
	}
	cr_assert_eq(errno, 0, "verdict %d: readdir: %s", verdict, strerror(errno));
	cr_assert_eq(count, hidden ? n : 2 * n, "verdict %d", verdict);
	cr_assert_eq(dots, 2, "\".\" and \"..\" are always listed");
	cr_assert_eq(mnt_stat(&M, "handles"), handles, "the daemon's handles while listing");
	closedir(d);
}

/*
 * READDIR verdicts that need the daemon, on directories the kernel opens
 * itself (no OPENDIR reaches the daemon): USER has the daemon list it,
 * through a handle the daemon opens when first sent a listing and that
 * is released with the directory; USER_PREFILTER calls the daemon before
 * the kernel's listing, USER_POSTFILTER once per entry after it (the
 * example module leaves "userhide." names out, pages of nothing else
 * among them).  Each lists every name once, over many getdents calls.
 */
Test(kernel, listings_a_policy_sends_the_daemon_work_on_kernel_opened_dirs,
     .fini = kernel_policy_fini)
{
	static const int32_t verdicts[] = { FUSEBPF_CONTINUE, FUSEBPF_USER,
					    FUSEBPF_USER_PREFILTER, FUSEBPF_USER_POSTFILTER };
	const int n = 300; /* each kind takes a few pages of entries */
	uint64_t opendirs, readdirs, releasedirs, pre, post;

	kernel_policy_mount("verdicts", "kl", "cache=never,user=example");
	cr_assert_eq(mkdir(bp(&M, "d"), 0755), 0);
	for (int i = 0; i < 2 * n; i++) {
		char name[32];

		snprintf(name, sizeof(name), i < n ? "d/userhide.%03d" : "d/entry-%03d", i % n);
		put(bp(&M, name), "");
	}
	for (size_t v = 0; v < sizeof(verdicts) / sizeof(verdicts[0]); v++) {
		bool user = verdicts[v] == FUSEBPF_USER;

		verdict_set("pre", FUSE_READDIR, verdicts[v]);
		opendirs = requests("OPENDIR");
		readdirs = requests("READDIR");
		releasedirs = requests("RELEASEDIR");
		pre = stat_of("user.example.prefilter.%s", "READDIR");
		post = stat_of("user.example.postfilter.%s", "READDIR");
		assert_lists_each_once(verdicts[v], n, user);
		cr_assert_eq(requests("OPENDIR"), opendirs + user, "verdict %d", verdicts[v]);
		if (user)
			cr_assert_gt(requests("READDIR"), readdirs + 1, "the daemon listed it");
		if (verdicts[v] == FUSEBPF_CONTINUE)
			cr_assert_eq(requests("READDIR"), readdirs);
		if (verdicts[v] == FUSEBPF_USER_PREFILTER)
			cr_assert_gt(stat_of("user.example.prefilter.%s", "READDIR"), pre);
		if (verdicts[v] == FUSEBPF_USER_POSTFILTER)
			cr_assert_geq(stat_of("user.example.postfilter.%s", "READDIR"), post + 2 * n,
				      "a call per entry");
		cr_assert_eq(mnt_handles_settled(&M), 0, "verdict %d: a handle left", verdicts[v]);
		cr_assert_eq(requests("RELEASEDIR"), releasedirs + user);
	}
	verdict_clear("pre", FUSE_READDIR);
}

/*
 * The READDIR postfilter in the kernel leaves names out of a listing; a
 * LOOKUP postfilter gives a child another policy, which its own children
 * inherit.
 */
Test(kernel, readdir_postfilters_and_a_childs_other_policy, .fini = kernel_policy_fini)
{
	char dir[64], below[96], value[8];
	int listed = 0, hidden = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	kernel_policy_mount("verdicts", "kr", "cache=never");
	test_policy_load("passthrough", "kp", kpol2);
	for (int i = 0; i < 30; i++) {
		char name[32];

		snprintf(name, sizeof(name), i % 3 ? "shown%02d" : "bpfhide.%02d", i);
		put(bp(&M, name), "x");
	}
	verdict_set("pre", FUSE_READDIR, FUSEBPF_POSTFILTER);
	d = opendir(mp(&M, ""));
	cr_assert(d);
	while ((e = readdir(d))) {
		listed += !strncmp(e->d_name, "shown", 5);
		hidden += !strncmp(e->d_name, "bpfhide.", 8);
	}
	closedir(d);
	cr_assert_eq(hidden, 0, "%d hidden names listed", hidden);
	cr_assert_eq(listed, 20);
	cr_assert_eq(requests("READDIR"), 0);

	snprintf(dir, sizeof(dir), "pol.%s", kpol2);
	snprintf(below, sizeof(below), "%s/d", dir);
	cr_assert_eq(mkdir(bp(&M, dir), 0755), 0);
	cr_assert_eq(mkdir(bp(&M, below), 0755), 0);
	verdict_set("pre", FUSE_LOOKUP, FUSEBPF_POSTFILTER);
	verdict_set("pre", FUSE_GETXATTR, -EACCES);
	cr_assert_eq(getxattr(mp(&M, "shown01"), "user.x", value, sizeof(value)), -1);
	cr_assert_eq(errno, EACCES, "verdicts' GETXATTR prefilter: %s", strerror(errno));
	/* Under passthrough: no GETXATTR prefilter refuses, below it either. */
	cr_assert_eq(getxattr(mp(&M, dir), "user.x", value, sizeof(value)), -1);
	cr_assert_eq(errno, ENODATA, "%s: %s", dir, strerror(errno));
	cr_assert_eq(getxattr(mp(&M, below), "user.x", value, sizeof(value)), -1);
	cr_assert_eq(errno, ENODATA, "%s: %s", below, strerror(errno));
	cr_assert_eq(stat(mp(&M, below), &st), 0, "%s: %s", below, strerror(errno));
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_geq(kernel_policy_users(kpol2), 2, "%s and d hold %s", dir, kpol2);
	cr_assert_eq(requests("LOOKUP"), 0);
	cr_assert_eq(requests("GETXATTR"), 0);
}

/*
 * The kernel keeps its dentries while their backing dentries stay where
 * they are; what changes in the backing directory behind the mount
 * shows at once.
 */
Test(kernel, changes_in_the_backing_directory_show_at_once)
{
	struct stat st, b;

	need_module();
	mnt_start(&M, "kernel=fusebpf");
	make_tree(&M);
	assert_same_stat(&M, "d/g");
	cr_assert_eq(rename(bp(&M, "d/g"), bp(&M, "d/g2")), 0);
	cr_assert_eq(stat(mp(&M, "d/g"), &st), -1);
	cr_assert_eq(errno, ENOENT);
	assert_same_stat(&M, "d/g2");
	cr_assert_eq(rename(bp(&M, "d/g2"), bp(&M, "f2")), 0);
	cr_assert_eq(stat(mp(&M, "d/g2"), &st), -1);
	assert_same_stat(&M, "f2");
	cr_assert_eq(unlink(bp(&M, "f2")), 0);
	cr_assert_eq(stat(mp(&M, "f2"), &st), -1);
	cr_assert_eq(errno, ENOENT);
	/* Another file under an old name: the new one's inode. */
	put(bp(&M, "f2"), "new");
	cr_assert_eq(stat(bp(&M, "f2"), &b), 0);
	cr_assert_eq(stat(mp(&M, "f2"), &st), 0);
	cr_assert_eq(st.st_ino, b.st_ino);
	cr_assert_eq(st.st_size, 3);
	cr_assert_eq(requests("LOOKUP"), 0);
	cr_assert(mnt_stop(&M));
}

/*
 * A LOOKUP postfilter in the kernel: "nopol" loses the policy (its
 * GETXATTR is no longer refused), "cookie.*" keeps a cookie its later
 * filters see in node_cookie.
 */
Test(kernel, a_lookup_postfilter_gives_the_child_its_policy_and_cookie,
     .fini = kernel_policy_fini)
{
	char value[8];
	uint32_t op = FUSE_GETXATTR;
	uint64_t seen = 0;
	int fd;

	kernel_policy_mount("verdicts", "kc", "cache=never");
	put(bp(&M, "nopol"), "x");
	put(bp(&M, "cookie.a"), "x");
	put(bp(&M, "plain"), "x");
	verdict_set("pre", FUSE_LOOKUP, FUSEBPF_POSTFILTER);
	verdict_set("pre", FUSE_GETXATTR, -EACCES);
	cr_assert_eq(getxattr(mp(&M, "plain"), "user.x", value, sizeof(value)), -1);
	cr_assert_eq(errno, EACCES);
	/* No policy: the kernel's GETXATTR, and there is no such xattr. */
	cr_assert_eq(getxattr(mp(&M, "nopol"), "user.x", value, sizeof(value)), -1);
	cr_assert_eq(errno, ENODATA, "nopol: %s", strerror(errno));
	cr_assert_eq(getxattr(mp(&M, "cookie.a"), "user.x", value, sizeof(value)), -1);
	cr_assert_eq(errno, EACCES);
	fd = test_policy_map(kpol, "seen_cookie");
	cr_assert_eq(bpf_map_lookup_elem(fd, &op, &seen), 0);
	close(fd);
	cr_assert_eq(seen, VERDICTS_COOKIE, "GETXATTR's prefilter saw node_cookie %#llx",
		     (unsigned long long)seen);
	cr_assert_eq(requests("LOOKUP"), 0);
	cr_assert_eq(requests("GETXATTR"), 0);
}
