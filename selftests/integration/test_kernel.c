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
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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
	/* The daemon knows only the root. */
	cr_assert_eq(mnt_stat(&M, "nodes"), 1);
	cr_assert(mnt_stop(&M));
}

/*
 * An inode the kernel looked up has no node in the daemon: the first of
 * its requests that reaches the daemon (OPEN, here) comes after a LOOKUP
 * of its name there, the parent's first; once the kernel forgets the
 * inodes, the daemon forgets those nodes.
 */
Test(kernel, the_daemon_learns_kernel_inodes_by_name_and_forgets_them)
{
	char buf[16] = "";

	need_module();
	mnt_start(&M, "kernel=fusebpf");
	make_tree(&M);
	assert_same_stat(&M, "d/e/h");
	cr_assert_eq(requests("LOOKUP"), 0);
	cr_assert_eq(read_file(mp(&M, "d/e/h"), buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "deeper");
	cr_assert_eq(requests("LOOKUP"), 3, "LOOKUPs of d, e, h: %llu",
		     (unsigned long long)requests("LOOKUP"));
	cr_assert_eq(mnt_stat(&M, "nodes"), 4);
	/* Again: the kernel remembers the daemon's nodeid. */
	cr_assert_eq(read_file(mp(&M, "d/e/h"), buf, sizeof(buf)), 6);
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
