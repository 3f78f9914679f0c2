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
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

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
					   "FLUSH", "FSYNC", "RELEASE", "OPENDIR", "READDIR",
					   "RELEASEDIR", "GETXATTR", "LISTXATTR" };
	for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++)
		cr_assert_eq(requests(ops[i]), 0, "the daemon saw %llu %s",
			     (unsigned long long)requests(ops[i]), ops[i]);
	cr_assert_eq(mnt_stat(&M, "nodes"), 1);
	cr_assert(mnt_stop(&M));
}

static int open_read_as_other(void *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int open_write_as_other(void *path)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* The kernel checks the caller's permission as the daemon's open would. */
Test(kernel, permissions_are_the_callers)
{
	int err;

	need_module();
	mnt_start(&M, "kernel=fusebpf");
	cr_assert_eq(chmod(M.root, 0711), 0); /* uid 1000 reaches the mount */
	make_tree(&M);
	cr_assert_eq(chmod(bp(&M, "d"), 0755), 0);
	cr_assert_eq(chmod(bp(&M, "f"), 0600), 0);
	cr_assert_eq(run_as(1000, 1000, open_read_as_other, (void *)mp(&M, "f")), EACCES);
	/* d/e is 0700: no way through it. */
	cr_assert_eq(run_as(1000, 1000, open_read_as_other, (void *)mp(&M, "d/e/h")), EACCES);
	/* d/g is uid 1000's, 0644. */
	cr_assert_eq(run_as(1000, 1000, open_write_as_other, (void *)mp(&M, "d/g")), 0);
	cr_assert_eq(run_as(1001, 1001, open_write_as_other, (void *)mp(&M, "d/g")), EACCES);
	cr_assert_eq(run_as(1001, 1001, open_read_as_other, (void *)mp(&M, "d/g")), 0);
	cr_assert_eq(chmod(bp(&M, "f"), 0644), 0);
	err = run_as(1000, 1000, open_read_as_other, (void *)mp(&M, "f"));
	cr_assert_eq(err, 0, "open as uid 1000 after chmod 644: %s", strerror(err));
	cr_assert_eq(requests("OPEN"), 0);
	cr_assert(mnt_stop(&M));
}

/*
 * An inode the kernel looked up has no node in the daemon: the first of
 * its requests that reaches the daemon (SETATTR, here) comes after a
 * LOOKUP of its name there, the parent's first; once the kernel forgets
 * the inodes, the daemon forgets those nodes.
 */
Test(kernel, the_daemon_learns_kernel_inodes_by_name_and_forgets_them)
{
	struct stat st;

	need_module();
	mnt_start(&M, "kernel=fusebpf");
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
