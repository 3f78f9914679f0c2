// SPDX-License-Identifier: MIT
/*
 * File handles through a real mount: name_to_handle_at on the mount, then
 * open_by_handle_at with that handle once the kernel has forgotten the
 * inode (a cache drop) or the daemon that served it is gone (an unmount and
 * a new mount of the same backing dir), for files and directories, after
 * the parent was renamed, and for a deleted file (ESTALE).  Handles work
 * where the backing dir is the root of its filesystem (a tmpfs, an ext4
 * image on a loop device); elsewhere, or under a userspace module, the
 * mount refuses them with EOPNOTSUPP (kernels of FUSE 7.40 on).
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
#include <time.h>
#include <unistd.h>

static void handles_teardown(void)
{
	/* The backing filesystem first, lazily: the daemon still holds it. */
	if (M.dir[0] && is_mounted(M.backing))
		umount2(M.backing, MNT_DETACH);
	mnt_teardown();
}

TestSuite(handles, .init = mnt_setup, .fini = handles_teardown, .timeout = 120);

/* FUSE's handles: FILEID_INO64_GEN, nodeid (high word first) and generation. */
#define FUSE_FILEID_INO64_GEN 0x81

struct fh {
	struct file_handle fh;
	unsigned char bytes[MAX_HANDLE_SZ];
};

/* Word i of a FUSE handle (nodeid high, nodeid low, generation), and setting it. */
static uint32_t word(const struct fh *h, int i)
{
	uint32_t w;

	memcpy(&w, h->fh.f_handle + 4 * i, sizeof(w));
	return w;
}

static void word_set(struct fh *h, int i, uint32_t w)
{
	memcpy(h->fh.f_handle + 4 * i, &w, sizeof(w));
}

static struct fh handle_of(const char *path)
{
	struct fh h = { .fh.handle_bytes = MAX_HANDLE_SZ };
	int mount_id;

	cr_assert_eq(name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0), 0,
		     "name_to_handle_at %s: %s", path, strerror(errno));
	return h;
}

/* open_by_handle_at on the mount as it is now: an fd, or -errno. */
static int open_handle(const struct fh *h, int flags)
{
	struct fh copy = *h;
	int mfd = open(M.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, err;

	cr_assert(mfd >= 0, "open %s: %s", M.dir, strerror(errno));
	fd = open_by_handle_at(mfd, &copy.fh, flags | O_CLOEXEC);
	err = errno;
	close(mfd);
	return fd >= 0 ? fd : -err;
}

static int open_handle_ok(const struct fh *h, int flags, const char *what)
{
	int fd = open_handle(h, flags);

	cr_assert(fd >= 0, "open_by_handle_at of %s: %s", what, strerror(-fd));
	return fd;
}

/* Where an fd's file is, as /proc shows it. */
static const char *fd_path(int fd)
{
	static char target[PATH_MAX];
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	cr_assert(n > 0, "readlink %s: %s", link, strerror(errno));
	target[n] = '\0';
	return target;
}

static void assert_reads(int fd, const char *want)
{
	char buf[64] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	cr_assert_eq(n, (ssize_t)strlen(want), "read %zd bytes: %s", n, strerror(errno));
	cr_assert_str_eq(buf, want);
}

/*
 * The kernel forgets every inode nobody holds, and the daemon every node
 * the kernel forgot (FORGET comes asynchronously): only the root is left.
 */
static void forget_all(void)
{
	uint64_t nodes = 0;

	sync();
	for (int i = 0; i < 40 * (int)test_time_scale(); i++) {
		cr_assert_eq(sh("echo 3 > /proc/sys/vm/drop_caches"), 0);
		sleep_ms(250);
		nodes = mnt_stat(&M, "nodes");
		if (nodes == 1)
			return;
	}
	cr_assert_fail("the daemon still has %llu nodes after dropping caches",
		       (unsigned long long)nodes);
}

/*
 * Mounts a filesystem of its own on the backing dir, so that the backing
 * dir is its root, and remounts fsd over it: tmpfs, or ext4 in an image on
 * a loop device (skipped where mkfs.ext4 or loop devices are missing).
 */
static void assert_refused(void);

static void whole_fs_backing(const char *fstype)
{
	if (!strcmp(fstype, "tmpfs")) {
		cr_assert_eq(mount("fsd-test", M.backing, "tmpfs", 0, "mode=1777"), 0,
			     "mount tmpfs on %s: %s", M.backing, strerror(errno));
	} else {
		char out[512] = "";

		if (sh_output(out, sizeof(out),
			      "truncate -s 64M '%s/ext4.img' && mkfs.ext4 -q -F '%s/ext4.img' && "
			      "mount -o loop '%s/ext4.img' '%s' && chmod 1777 '%s'",
			      M.root, M.root, M.root, M.backing, M.backing))
			cr_skip_test("no ext4 image on a loop device here: %s", out);
	}
	mnt_remount(&M, NULL);
	if (mnt_in_kernel(&M)) {
		/* Refused, not stale. */
		put(mp(&M, "f"), "x");
		assert_refused();
		cr_skip_test("on fusebpf.ko fsd grants no file handles (FUSEBPF_NO_EXPORT_SUPPORT): "
			     "a handle would skip the filters, which decide by names");
	}
	/* Here, handles are granted: the kernel asks for "." and "..". */
	cr_assert_eq(mnt_stat(&M, "export"), 1, "fsd did not negotiate FUSE_EXPORT_SUPPORT");
}

/* The mount's handle of path carries, as nodeid, the first bytes of the backing one. */
static void assert_nodeid_carries_backing_handle(const char *rel)
{
	struct fh h = handle_of(mp(&M, rel)), b = handle_of(bp(&M, rel));
	uint64_t nodeid = (uint64_t)word(&h, 0) << 32 | word(&h, 1);
	unsigned char want[8] = { 0 };

	cr_assert_eq(h.fh.handle_type, FUSE_FILEID_INO64_GEN);
	cr_assert_eq(h.fh.handle_bytes, 12);
	memcpy(want, b.fh.f_handle, b.fh.handle_bytes < 8 ? b.fh.handle_bytes : 8);
	cr_assert_arr_eq(&nodeid, want, 8, "%s: nodeid %#llx is not the backing handle", rel,
			 (unsigned long long)nodeid);
	cr_assert_eq(word(&h, 2), 0, "%s: a nodeid that carries a handle has generation 0", rel);
}

static void file_and_dir_across_a_cache_drop(const char *fstype)
{
	struct fh d, f;
	uint64_t lookups;
	int fd, dfd;

	whole_fs_backing(fstype);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	put(mp(&M, "d/f"), "hello");
	d = handle_of(mp(&M, "d"));
	f = handle_of(mp(&M, "d/f"));
	assert_nodeid_carries_backing_handle("d");
	assert_nodeid_carries_backing_handle("d/f");

	forget_all();
	lookups = requests("LOOKUP");
	fd = open_handle_ok(&f, O_RDONLY, "d/f");
	cr_assert_gt(requests("LOOKUP"), lookups, "no LOOKUP reached the daemon: not forgotten");
	assert_reads(fd, "hello");
	close(fd);

	forget_all();
	dfd = open_handle_ok(&d, O_RDONLY | O_DIRECTORY, "d");
	/* The kernel connected it to the tree by looking up "..". */
	cr_assert_str_eq(fd_path(dfd), mp(&M, "d"));
	fd = openat(dfd, "f", O_RDONLY);
	cr_assert(fd >= 0, "openat d/f: %s", strerror(errno));
	assert_reads(fd, "hello");
	close(fd);
	close(dfd);
}

Test(handles, file_and_dir_across_a_cache_drop_tmpfs)
{
	file_and_dir_across_a_cache_drop("tmpfs");
}

Test(handles, file_and_dir_across_a_cache_drop_ext4)
{
	file_and_dir_across_a_cache_drop("ext4");
}

static void file_and_dir_across_a_remount(const char *fstype)
{
	struct fh d, f;
	int fd, dfd;

	whole_fs_backing(fstype);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	put(mp(&M, "d/f"), "again");
	d = handle_of(mp(&M, "d"));
	f = handle_of(mp(&M, "d/f"));

	/* A new daemon, which never saw them. */
	cr_assert(mnt_remount(&M, NULL), "the first daemon did not exit cleanly");
	fd = open_handle_ok(&f, O_RDONLY, "d/f");
	assert_reads(fd, "again");
	close(fd);
	dfd = open_handle_ok(&d, O_RDONLY | O_DIRECTORY, "d");
	cr_assert_str_eq(fd_path(dfd), mp(&M, "d"));
	close(dfd);
}

Test(handles, file_and_dir_across_a_remount_tmpfs)
{
	file_and_dir_across_a_remount("tmpfs");
}

Test(handles, file_and_dir_across_a_remount_ext4)
{
	file_and_dir_across_a_remount("ext4");
}

static void after_renaming_the_parent(const char *fstype)
{
	struct fh b, f;
	int fd, dfd;

	whole_fs_backing(fstype);
	cr_assert_eq(mkdir(mp(&M, "a"), 0755), 0);
	cr_assert_eq(mkdir(mp(&M, "a/b"), 0755), 0);
	put(mp(&M, "a/b/f"), "moved");
	b = handle_of(mp(&M, "a/b"));
	f = handle_of(mp(&M, "a/b/f"));
	cr_assert_eq(rename(mp(&M, "a"), mp(&M, "a2")), 0, "rename: %s", strerror(errno));

	forget_all();
	dfd = open_handle_ok(&b, O_RDONLY | O_DIRECTORY, "a2/b");
	cr_assert_str_eq(fd_path(dfd), mp(&M, "a2/b"));
	close(dfd);
	fd = open_handle_ok(&f, O_RDONLY, "a2/b/f");
	assert_reads(fd, "moved");
	close(fd);

	/* And in the backing dir, behind the mount's back, then in a new daemon. */
	cr_assert_eq(rename(bp(&M, "a2"), bp(&M, "a3")), 0, "rename: %s", strerror(errno));
	mnt_remount(&M, NULL);
	dfd = open_handle_ok(&b, O_RDONLY | O_DIRECTORY, "a3/b");
	cr_assert_str_eq(fd_path(dfd), mp(&M, "a3/b"));
	close(dfd);
}

Test(handles, after_renaming_the_parent_tmpfs)
{
	after_renaming_the_parent("tmpfs");
}

Test(handles, after_renaming_the_parent_ext4)
{
	after_renaming_the_parent("ext4");
}

static void deleted_is_stale(const char *fstype)
{
	struct fh f, d, kept;
	int fd, held;

	whole_fs_backing(fstype);
	put(mp(&M, "f"), "gone");
	put(mp(&M, "kept"), "open");
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	f = handle_of(mp(&M, "f"));
	d = handle_of(mp(&M, "d"));
	kept = handle_of(mp(&M, "kept"));
	cr_assert_eq(unlink(mp(&M, "f")), 0);
	cr_assert_eq(rmdir(mp(&M, "d")), 0);
	/* Deleted but held open in the backing dir: no name leads to it either. */
	held = open(bp(&M, "kept"), O_RDONLY);
	cr_assert(held >= 0);
	cr_assert_eq(unlink(bp(&M, "kept")), 0);

	forget_all();
	cr_assert_eq(open_handle(&f, O_RDONLY), -ESTALE);
	cr_assert_eq(open_handle(&d, O_RDONLY | O_DIRECTORY), -ESTALE);
	cr_assert_eq(open_handle(&kept, O_RDONLY), -ESTALE);
	mnt_remount(&M, NULL);
	fd = open_handle(&f, O_RDONLY);
	cr_assert_eq(fd, -ESTALE, "a deleted file's handle gave %d", fd);
	close(held);
}

Test(handles, deleted_is_stale_tmpfs)
{
	deleted_is_stale("tmpfs");
}

Test(handles, deleted_is_stale_ext4)
{
	deleted_is_stale("ext4");
}

/*
 * A handle made up from the backing root's own handle (as a nodeid that
 * carries it) is no handle of the mount's root, whose nodeid is 1; one of
 * another nodeid opens nothing either.
 */
Test(handles, made_up_handles_are_stale)
{
	struct fh h, root;
	unsigned char b[8] = { 0 };
	uint64_t nodeid;

	whole_fs_backing("tmpfs");
	put(mp(&M, "f"), "x");
	h = handle_of(mp(&M, "f"));
	root = handle_of(M.backing);
	memcpy(b, root.fh.f_handle, root.fh.handle_bytes < 8 ? root.fh.handle_bytes : 8);
	memcpy(&nodeid, b, 8);
	word_set(&h, 0, (uint32_t)(nodeid >> 32));
	word_set(&h, 1, (uint32_t)nodeid);
	cr_assert_eq(open_handle(&h, O_RDONLY | O_DIRECTORY), -ESTALE);
	word_set(&h, 0, 0x7fffffff);
	word_set(&h, 1, 0x12345678);
	cr_assert_eq(open_handle(&h, O_RDONLY), -ESTALE);
	/* The right nodeid with another generation: the kernel refuses it. */
	h = handle_of(mp(&M, "f"));
	word_set(&h, 2, 7);
	forget_all();
	cr_assert_eq(open_handle(&h, O_RDONLY), -ESTALE);
}

/* Where handles cannot work, the mount gives none (FUSE_NO_EXPORT_SUPPORT, 7.40 on). */
static void assert_refused(void)
{
	struct fh h = { .fh.handle_bytes = MAX_HANDLE_SZ };
	int mount_id;

	if (mnt_stat(&M, "kernel_minor") < 40)
		cr_skip_test("FUSE 7.%llu: no FUSE_NO_EXPORT_SUPPORT, handles go stale instead",
			     (unsigned long long)mnt_stat(&M, "kernel_minor"));
	cr_assert_eq(mnt_stat(&M, "export"), 0);
	cr_assert_eq(name_to_handle_at(AT_FDCWD, mp(&M, "f"), &h.fh, &mount_id, 0), -1);
	cr_assert_eq(errno, EOPNOTSUPP, "name_to_handle_at: %s", strerror(errno));
}

/* Below a filesystem's root, a handle could name any file of it: refused. */
Test(handles, refused_below_a_filesystem_root)
{
	put(mp(&M, "f"), "x");
	assert_refused();
}

/* A module decides by names, which a handle skips: refused. */
Test(handles, refused_under_a_module)
{
	cr_assert_eq(mount("fsd-test", M.backing, "tmpfs", 0, "mode=1777"), 0);
	mnt_remount(&M, "user=example");
	put(mp(&M, "f"), "x");
	assert_refused();
}
