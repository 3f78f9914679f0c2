// SPDX-License-Identifier: MIT
/*
 * Extended attributes through a real mount (SETXATTR, GETXATTR, LISTXATTR,
 * REMOVEXATTR), on files, directories and symlinks, each checked against
 * the backing inode: values written one side are read the other, and the
 * errors of the flags and of missing names are the backing filesystem's.
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
#include <sys/xattr.h>
#include <unistd.h>

static void xattr_setup(void);

TestSuite(xattr, .init = xattr_setup, .fini = mnt_teardown, .timeout = 60);

#define ERRNO_OF(call) ((call) < 0 ? errno : 0)

/* A mount with a file "f" and a directory "d"; skips if the backing fs has no user xattrs. */
static void xattr_setup(void)
{
	start(NULL);
	cr_assert_eq(write_file(bp(&M, "f"), "x", 1), 0);
	cr_assert_eq(mkdir(bp(&M, "d"), 0755), 0);
	if (setxattr(bp(&M, "f"), "user.probe", "1", 1, 0) < 0 && errno == EOPNOTSUPP)
		cr_skip_test("the backing filesystem has no user xattrs");
	cr_assert_eq(removexattr(bp(&M, "f"), "user.probe"), 0);
}

static void assert_value(const char *path, const char *name, const void *want, size_t len)
{
	char buf[8192];
	ssize_t n = getxattr(path, name, buf, sizeof(buf));

	cr_assert_eq(n, (ssize_t)len, "getxattr %s %s: %zd (%s)", path, name, n,
		     n < 0 ? strerror(errno) : "");
	cr_assert_eq(memcmp(buf, want, len), 0, "value of %s on %s", name, path);
}

Test(xattr, set_through_mount_is_in_backing)
{
	uint64_t sets = served("SETXATTR");

	cr_assert_eq(setxattr(mp(&M, "f"), "user.color", "blue", 4, 0), 0, "%s", strerror(errno));
	cr_assert_eq(setxattr(mp(&M, "d"), "user.kind", "directory", 9, 0), 0);
	cr_assert_geq(served("SETXATTR"), sets + 2);
	assert_value(bp(&M, "f"), "user.color", "blue", 4);
	assert_value(bp(&M, "d"), "user.kind", "directory", 9);
	assert_value(mp(&M, "f"), "user.color", "blue", 4);
}

Test(xattr, set_in_backing_is_read_through_mount)
{
	uint64_t gets;

	cr_assert_eq(setxattr(bp(&M, "f"), "user.origin", "backing", 7, 0), 0);
	cr_assert_eq(setxattr(bp(&M, "d"), "user.origin", "backing dir", 11, 0), 0);
	gets = served("GETXATTR");
	assert_value(mp(&M, "f"), "user.origin", "backing", 7);
	assert_value(mp(&M, "d"), "user.origin", "backing dir", 11);
	cr_assert_geq(served("GETXATTR"), gets + 2);
}

Test(xattr, binary_and_large_values_round_trip)
{
	char empty = 0, binary[256], *large = malloc(3000);

	cr_assert(large);
	for (int i = 0; i < 256; i++)
		binary[i] = (char)i;
	for (int i = 0; i < 3000; i++)
		large[i] = (char)(i * 7);
	cr_assert_eq(setxattr(mp(&M, "f"), "user.binary", binary, sizeof(binary), 0), 0);
	cr_assert_eq(setxattr(mp(&M, "f"), "user.large", large, 3000, 0), 0, "%s",
		     strerror(errno));
	cr_assert_eq(setxattr(mp(&M, "f"), "user.empty", &empty, 0, 0), 0);
	assert_value(bp(&M, "f"), "user.binary", binary, sizeof(binary));
	assert_value(bp(&M, "f"), "user.large", large, 3000);
	assert_value(bp(&M, "f"), "user.empty", "", 0);
	assert_value(mp(&M, "f"), "user.binary", binary, sizeof(binary));
	assert_value(mp(&M, "f"), "user.large", large, 3000);
	assert_value(mp(&M, "f"), "user.empty", "", 0);
	free(large);
}

Test(xattr, create_flag_on_existing_is_eexist)
{
	cr_assert_eq(setxattr(mp(&M, "f"), "user.a", "1", 1, XATTR_CREATE), 0);
	cr_assert_eq(ERRNO_OF(setxattr(mp(&M, "f"), "user.a", "2", 1, XATTR_CREATE)), EEXIST);
	assert_value(bp(&M, "f"), "user.a", "1", 1);
	/* Set behind the mount's back: only the backing fs knows it exists. */
	cr_assert_eq(setxattr(bp(&M, "f"), "user.b", "3", 1, 0), 0);
	cr_assert_eq(ERRNO_OF(setxattr(mp(&M, "f"), "user.b", "4", 1, XATTR_CREATE)), EEXIST);
	assert_value(bp(&M, "f"), "user.b", "3", 1);
}

Test(xattr, replace_flag_on_missing_is_enodata)
{
	cr_assert_eq(ERRNO_OF(setxattr(mp(&M, "f"), "user.none", "1", 1, XATTR_REPLACE)),
		     ENODATA);
	cr_assert_eq(ERRNO_OF(getxattr(bp(&M, "f"), "user.none", NULL, 0)), ENODATA);
	cr_assert_eq(setxattr(mp(&M, "f"), "user.r", "old", 3, 0), 0);
	cr_assert_eq(setxattr(mp(&M, "f"), "user.r", "newer", 5, XATTR_REPLACE), 0);
	assert_value(bp(&M, "f"), "user.r", "newer", 5);
}

Test(xattr, get_of_missing_name_is_enodata)
{
	char buf[16];

	cr_assert_eq(ERRNO_OF(getxattr(mp(&M, "f"), "user.missing", buf, sizeof(buf))), ENODATA);
	cr_assert_eq(ERRNO_OF(getxattr(mp(&M, "f"), "user.missing", NULL, 0)), ENODATA);
	cr_assert_eq(ERRNO_OF(getxattr(mp(&M, "d"), "user.missing", buf, sizeof(buf))), ENODATA);
	cr_assert_eq(ERRNO_OF(getxattr(mp(&M, "nofile"), "user.x", buf, sizeof(buf))), ENOENT);
}

Test(xattr, size_zero_probe_returns_value_size)
{
	char buf[4];

	cr_assert_eq(setxattr(bp(&M, "f"), "user.sized", "0123456789", 10, 0), 0);
	cr_assert_eq(getxattr(mp(&M, "f"), "user.sized", NULL, 0), 10);
	cr_assert_eq(ERRNO_OF(getxattr(mp(&M, "f"), "user.sized", buf, sizeof(buf))), ERANGE);
	assert_value(mp(&M, "f"), "user.sized", "0123456789", 10);
}

/* Sorted NUL-separated names of a listxattr buffer, user.* only, joined by spaces. */
static void user_names(const char *list, ssize_t len, char *out, size_t outlen)
{
	const char *names[64];
	int n = 0;

	for (const char *p = list; p < list + len && n < 64; p += strlen(p) + 1)
		if (!strncmp(p, "user.", 5))
			names[n++] = p;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			const char *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? " " : "", names[i]);
}

Test(xattr, listxattr_lists_backing_names)
{
	char in_mount[1024], in_backing[1024], got[1024], want[1024], small[4];
	ssize_t m, b;
	uint64_t lists = served("LISTXATTR");

	cr_assert_eq(setxattr(mp(&M, "f"), "user.one", "1", 1, 0), 0);
	cr_assert_eq(setxattr(mp(&M, "f"), "user.two", "2", 1, 0), 0);
	cr_assert_eq(setxattr(bp(&M, "f"), "user.three", "3", 1, 0), 0);
	m = listxattr(mp(&M, "f"), in_mount, sizeof(in_mount));
	b = listxattr(bp(&M, "f"), in_backing, sizeof(in_backing));
	cr_assert_eq(m, b);
	user_names(in_mount, m, got, sizeof(got));
	user_names(in_backing, b, want, sizeof(want));
	cr_assert_str_eq(got, want);
	cr_assert_str_eq(got, "user.one user.three user.two");
	/* The size-0 probe and a too-small buffer. */
	cr_assert_eq(listxattr(mp(&M, "f"), NULL, 0), b);
	cr_assert_eq(ERRNO_OF(listxattr(mp(&M, "f"), small, sizeof(small))), ERANGE);
	cr_assert_geq(served("LISTXATTR"), lists + 3);
	/* A directory with none lists none of user.*. */
	m = listxattr(mp(&M, "d"), in_mount, sizeof(in_mount));
	cr_assert_geq(m, 0);
	user_names(in_mount, m, got, sizeof(got));
	cr_assert_str_eq(got, "");
}

Test(xattr, removexattr_removes_from_backing)
{
	uint64_t removes = served("REMOVEXATTR");

	cr_assert_eq(setxattr(mp(&M, "f"), "user.gone", "soon", 4, 0), 0);
	cr_assert_eq(setxattr(bp(&M, "d"), "user.gone", "too", 3, 0), 0);
	cr_assert_eq(removexattr(mp(&M, "f"), "user.gone"), 0);
	cr_assert_eq(removexattr(mp(&M, "d"), "user.gone"), 0);
	cr_assert_geq(served("REMOVEXATTR"), removes + 2);
	cr_assert_eq(ERRNO_OF(getxattr(bp(&M, "f"), "user.gone", NULL, 0)), ENODATA);
	cr_assert_eq(ERRNO_OF(getxattr(bp(&M, "d"), "user.gone", NULL, 0)), ENODATA);
	cr_assert_eq(ERRNO_OF(getxattr(mp(&M, "f"), "user.gone", NULL, 0)), ENODATA);
	cr_assert_eq(ERRNO_OF(removexattr(mp(&M, "f"), "user.gone")), ENODATA);
}

Test(xattr, symlink_xattrs_as_backing)
{
	int in_mount, in_backing;
	char buf[16];

	cr_assert_eq(symlink("f", mp(&M, "l")), 0);
	/* user.* on a symlink itself: whatever the backing fs says, the mount says. */
	in_backing = ERRNO_OF(lsetxattr(bp(&M, "l"), "user.x", "1", 1, 0));
	in_mount = ERRNO_OF(lsetxattr(mp(&M, "l"), "user.y", "1", 1, 0));
	cr_assert_eq(in_mount, in_backing, "mount %s, backing %s", strerror(in_mount),
		     strerror(in_backing));
	/* Through the link, the target's. */
	cr_assert_eq(setxattr(mp(&M, "l"), "user.via", "link", 4, 0), 0);
	assert_value(bp(&M, "f"), "user.via", "link", 4);
	cr_assert_eq(ERRNO_OF(lgetxattr(mp(&M, "l"), "user.via", buf, sizeof(buf))),
		     ERRNO_OF(lgetxattr(bp(&M, "l"), "user.via", buf, sizeof(buf))));
}

Test(xattr, fsetxattr_on_open_fd_reaches_backing)
{
	char buf[16];
	int fd = open(mp(&M, "f"), O_RDWR);

	cr_assert_geq(fd, 0);
	cr_assert_eq(fsetxattr(fd, "user.fd", "handle", 6, 0), 0);
	cr_assert_eq(fgetxattr(fd, "user.fd", buf, sizeof(buf)), 6);
	cr_assert_eq(memcmp(buf, "handle", 6), 0);
	cr_assert_eq(flistxattr(fd, NULL, 0), listxattr(bp(&M, "f"), NULL, 0));
	cr_assert_eq(fremovexattr(fd, "user.fd"), 0);
	close(fd);
	cr_assert_eq(ERRNO_OF(getxattr(bp(&M, "f"), "user.fd", NULL, 0)), ENODATA);
}

/* Permission to set follows the inode's mode: uid 1000 cannot on root's 0644 file. */
static int set_as_other(void *path)
{
	return ERRNO_OF(setxattr(path, "user.other", "1", 1, 0));
}

Test(xattr, set_on_others_file_is_eacces)
{
	cr_assert_eq(chmod(M.root, 0711), 0); /* let uid 1000 reach both dirs */
	cr_assert_eq(chmod(bp(&M, "f"), 0644), 0);
	cr_assert_eq(run_as(1000, 1000, set_as_other, (void *)bp(&M, "f")), EACCES);
	cr_assert_eq(run_as(1000, 1000, set_as_other, (void *)mp(&M, "f")), EACCES);
	cr_assert_eq(ERRNO_OF(getxattr(bp(&M, "f"), "user.other", NULL, 0)), ENODATA);
}

/* Limits are the backing filesystem's: the same errors through the mount. */
Test(xattr, oversize_value_and_long_name_fail_as_backing)
{
	static char value[65536];
	char long_name[300];
	int in_mount, in_backing;

	in_backing = ERRNO_OF(setxattr(bp(&M, "f"), "user.huge", value, sizeof(value), 0));
	in_mount = ERRNO_OF(setxattr(mp(&M, "f"), "user.huge", value, sizeof(value), 0));
	cr_assert_eq(in_mount, in_backing, "mount %s, backing %s", strerror(in_mount),
		     strerror(in_backing));
	cr_assert_neq(in_mount, 0, "a 64 KiB value fits: pick a bigger one for this fs");

	snprintf(long_name, sizeof(long_name), "user.%0290d", 0);
	in_backing = ERRNO_OF(setxattr(bp(&M, "f"), long_name, "1", 1, 0));
	in_mount = ERRNO_OF(setxattr(mp(&M, "f"), long_name, "1", 1, 0));
	cr_assert_eq(in_mount, in_backing, "mount %s, backing %s", strerror(in_mount),
		     strerror(in_backing));
	cr_assert_eq(in_mount, ERANGE);
	cr_assert_eq(ERRNO_OF(getxattr(mp(&M, "f"), long_name, NULL, 0)), ERANGE);
}
