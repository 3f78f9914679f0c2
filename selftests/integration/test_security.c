// SPDX-License-Identifier: MIT
/*
 * Regression tests for what a user of the mount must not be able to do
 * through a daemon that runs as root: take over files behind a stale
 * negative entry, keep setuid bits after changing a file's data, or get
 * modes a local filesystem would not give.  Compared with the backing
 * filesystem where it applies.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(security, .init = mnt_setup, .fini = mnt_teardown, .timeout = 60);

#define NOBODY 65534

static int open_creat_read(void *path)
{
	char buf[64];
	int fd = open(path, O_RDWR | O_CREAT, 0644);

	if (fd < 0)
		return errno == EACCES ? 0 : 10;
	/* Opened: it must at least not be root's secret. */
	return read(fd, buf, sizeof(buf)) > 0 ? 20 : 30;
}

/*
 * The kernel cached "no such name"; root then creates a private file under
 * that name in the backing directory.  A user's open(O_CREAT) sends CREATE
 * for the name: the user must get what a local filesystem gives (EACCES),
 * not root's file, and the file must stay root's.
 */
Test(security, create_over_stale_negative_entry_does_not_take_the_file)
{
	struct stat st;

	cr_assert_eq(chmod(M.root, 0755), 0);
	cr_assert_eq(stat(mp(&M, "secret"), &st), -1); /* caches ENOENT */
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(write_file(bp(&M, "secret"), "root only", 9), 0);
	cr_assert_eq(chmod(bp(&M, "secret"), 0600), 0);

	cr_assert_eq(run_as(NOBODY, NOBODY, open_creat_read, (void *)mp(&M, "secret")), 0);
	cr_assert_eq(stat(bp(&M, "secret"), &st), 0);
	cr_assert_eq(st.st_uid, 0, "the file changed hands: uid %u", st.st_uid);
	cr_assert_eq(st.st_mode & 07777, 0600);
}

/* O_RDWR: a FIFO opens without a reader, so the daemon's reply is what counts. */
static int open_creat_nonblock(void *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK, 0644);

	if (fd >= 0)
		close(fd);
	return 0;
}

/* The same with a FIFO behind the stale entry: no worker may block on it. */
Test(security, create_over_stale_negative_fifo_does_not_block)
{
	struct stat st;

	cr_assert_eq(stat(mp(&M, "fifo"), &st), -1);
	cr_assert_eq(mkfifo(bp(&M, "fifo"), 0666), 0);
	cr_assert_eq(run_as(0, 0, open_creat_nonblock, (void *)mp(&M, "fifo")), 0);
	/* Still serving, nothing left open. */
	cr_assert_eq(write_file(mp(&M, "after"), "x", 1), 0);
	cr_assert_eq(mnt_handles_settled(&M), 0);
}

struct setuid_case {
	const char *path;
	int hold_readonly; /* keep a read-only (passthrough) open while writing */
	int copy_range; /* change the data with copy_file_range instead of write */
	const char *src;
};

static int change_data(void *arg)
{
	struct setuid_case *c = arg;
	int ro = -1, fd, src;

	if (c->hold_readonly && (ro = open(c->path, O_RDONLY)) < 0)
		return 10;
	fd = open(c->path, O_WRONLY);
	if (fd < 0)
		return 11;
	if (c->copy_range) {
		loff_t off = 0;

		src = open(c->src, O_RDONLY);
		if (src < 0 || copy_file_range(src, NULL, fd, &off, 4, 0) != 4)
			return 12;
		close(src);
	} else if (write(fd, "evil", 4) != 4) {
		return 13;
	}
	close(fd);
	if (ro >= 0)
		close(ro);
	return 0;
}

static void setuid_cleared(struct setuid_case *c, const char *name)
{
	struct stat st;

	cr_assert_eq(chmod(M.root, 0755), 0);
	cr_assert_eq(write_file(bp(&M, name), "#!/bin/sh\n", 10), 0);
	cr_assert_eq(chmod(bp(&M, name), 04777), 0);
	cr_assert_eq(write_file(bp(&M, "src"), "data", 4), 0);
	cr_assert_eq(chmod(bp(&M, "src"), 0644), 0);
	c->path = mp(&M, name);
	c->src = mp(&M, "src");
	cr_assert_eq(run_as(NOBODY, NOBODY, change_data, c), 0);
	cr_assert_eq(stat(bp(&M, name), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0777, "mode %o: setuid survived a change by another user",
		     st.st_mode & 07777);
}

Test(security, write_clears_setuid_while_a_passthrough_open_exists)
{
	struct setuid_case c = { .hold_readonly = 1 };

	setuid_cleared(&c, "suid_held");
}

Test(security, copy_file_range_clears_setuid)
{
	struct setuid_case c = { .copy_range = 1 };

	setuid_cleared(&c, "suid_copy");
}

/*
 * A directory's default ACL decides new modes, not the umask, on a local
 * filesystem; the mount must do the same.
 */
static int create_with_umask_077(void *dir)
{
	char path[4096];
	int fd;

	umask(077);
	snprintf(path, sizeof(path), "%s/file", (char *)dir);
	fd = open(path, O_WRONLY | O_CREAT, 0666);
	if (fd < 0)
		return 10;
	close(fd);
	snprintf(path, sizeof(path), "%s/dir", (char *)dir);
	return mkdir(path, 0777) ? 11 : 0;
}

Test(security, default_acl_wins_over_umask_as_on_backing)
{
	struct stat in_mount, natively;

	if (sh("command -v setfacl >/dev/null"))
		cr_skip_test("setfacl is missing (package acl; scripts/deps.sh installs it)");
	cr_assert_eq(mkdir(mp(&M, "acl"), 0777), 0);
	cr_assert_eq(sh("setfacl -d -m u::rwx,g::rwx,o::rwx '%s'", mp(&M, "acl")), 0);
	cr_assert_eq(mkdir(bp(&M, "native"), 0777), 0);
	cr_assert_eq(sh("setfacl -d -m u::rwx,g::rwx,o::rwx '%s'", bp(&M, "native")), 0);

	cr_assert_eq(run_as(0, 0, create_with_umask_077, (void *)mp(&M, "acl")), 0);
	cr_assert_eq(run_as(0, 0, create_with_umask_077, (void *)bp(&M, "native")), 0);
	cr_assert_eq(stat(bp(&M, "acl/file"), &in_mount), 0);
	cr_assert_eq(stat(bp(&M, "native/file"), &natively), 0);
	cr_assert_eq(in_mount.st_mode, natively.st_mode, "file: %o through the mount, %o natively",
		     in_mount.st_mode, natively.st_mode);
	cr_assert_eq(stat(bp(&M, "acl/dir"), &in_mount), 0);
	cr_assert_eq(stat(bp(&M, "native/dir"), &natively), 0);
	cr_assert_eq(in_mount.st_mode, natively.st_mode, "dir: %o through the mount, %o natively",
		     in_mount.st_mode, natively.st_mode);
}

/* O_DIRECT on a file the daemon serves (no passthrough): aligned I/O works. */
Test(security, o_direct_without_passthrough_works, .init = NULL)
{
	void *buf = NULL;
	int fd;

	mnt_start(&M, "passthrough=off");
	cr_assert_eq(posix_memalign(&buf, 4096, 8192), 0);
	memset(buf, 'd', 8192);
	fd = open(mp(&M, "direct"), O_RDWR | O_CREAT | O_DIRECT, 0644);
	cr_assert(fd >= 0, "open O_DIRECT: %s", strerror(errno));
	cr_assert_eq(pwrite(fd, buf, 8192, 0), 8192, "pwrite: %s", strerror(errno));
	memset(buf, 0, 8192);
	cr_assert_eq(pread(fd, buf, 8192, 0), 8192, "pread: %s", strerror(errno));
	cr_assert_eq(((char *)buf)[8191], 'd');
	close(fd);
	free(buf);
}
