// SPDX-License-Identifier: MIT
/*
 * Ownership and permissions through a real mount: what a non-root caller
 * creates (files, directories, symlinks, fifos, sockets, tmpfiles) is its
 * own in the backing directory; a setgid directory hands on its group;
 * setuid/setgid mode bits end as a local filesystem leaves them; and the
 * permission checks (writing, chown, chmod, sticky directories) refuse what
 * a local filesystem refuses.  The daemon runs as root, so each of these
 * is something it must do on the caller's behalf.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static void owner_setup(void);

TestSuite(owner, .init = owner_setup, .fini = mnt_teardown, .timeout = 60);

#define ERRNO_OF(call) ((call) < 0 ? errno : 0)
#define USER 1000
#define OTHER_USER 1001
#define FOREIGN_GROUP 4242

static void owner_setup(void)
{
	start(NULL);
	/* mkdtemp made the scratch dir 0700: let other uids reach the mount and backing dir. */
	cr_assert_eq(chmod(M.root, 0711), 0);
}

static void lstat_ok(const char *path, struct stat *st)
{
	cr_assert_eq(lstat(path, st), 0, "lstat %s: %s", path, strerror(errno));
}

static void assert_owner(const char *rel, uid_t uid, gid_t gid)
{
	struct stat st;

	lstat_ok(bp(&M, rel), &st);
	cr_assert_eq(st.st_uid, uid, "%s: uid %u, expected %u", rel, st.st_uid, uid);
	cr_assert_eq(st.st_gid, gid, "%s: gid %u, expected %u", rel, st.st_gid, gid);
	lstat_ok(mp(&M, rel), &st);
	cr_assert_eq(st.st_uid, uid, "%s in mount: uid %u", rel, st.st_uid);
	cr_assert_eq(st.st_gid, gid, "%s in mount: gid %u", rel, st.st_gid);
}

/* Each helper runs in a child as another uid: returns 0 or the errno of what failed. */

static int create_file(void *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0)
		return errno;
	if (write(fd, "mine", 4) != 4)
		return EIO;
	return ERRNO_OF(close(fd));
}

static int make_dir(void *path)
{
	return ERRNO_OF(mkdir(path, 0755));
}

static int make_symlink(void *path)
{
	return ERRNO_OF(symlink("some-target", path));
}

static int make_fifo(void *path)
{
	return ERRNO_OF(mkfifo(path, 0644));
}

static int bind_socket(void *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	if (s < 0 || strlen(path) >= sizeof(addr.sun_path))
		return EINVAL;
	strcpy(addr.sun_path, path);
	return ERRNO_OF(bind(s, (struct sockaddr *)&addr, sizeof(addr)));
}

static int make_tmpfile_then_link(void *dir)
{
	char proc[64], name[PATH_MAX];
	int fd = open(dir, O_TMPFILE | O_RDWR, 0640);

	if (fd < 0)
		return errno;
	if (write(fd, "tmp", 3) != 3)
		return EIO;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	snprintf(name, sizeof(name), "%s/linked", (char *)dir);
	return ERRNO_OF(linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW));
}

Test(owner, file_created_by_user_is_users)
{
	cr_assert_eq(run_as(USER, USER, create_file, (void *)mp(&M, "f")), 0);
	assert_owner("f", USER, USER);
}

Test(owner, dir_created_by_user_is_users)
{
	cr_assert_eq(run_as(USER, USER, make_dir, (void *)mp(&M, "d")), 0);
	assert_owner("d", USER, USER);
	/* And what the user creates inside it. */
	cr_assert_eq(run_as(USER, USER, create_file, (void *)mp(&M, "d/f")), 0);
	assert_owner("d/f", USER, USER);
}

Test(owner, symlink_created_by_user_is_users)
{
	cr_assert_eq(run_as(USER, USER, make_symlink, (void *)mp(&M, "l")), 0);
	assert_owner("l", USER, USER);
}

Test(owner, fifo_and_socket_created_by_user_are_users)
{
	cr_assert_eq(run_as(USER, USER, make_fifo, (void *)mp(&M, "fifo")), 0);
	assert_owner("fifo", USER, USER);
	cr_assert_eq(run_as(USER, USER, bind_socket, (void *)mp(&M, "sock")), 0);
	assert_owner("sock", USER, USER);
}

Test(owner, tmpfile_created_by_user_is_users)
{
	struct stat st;

	cr_assert_eq(mkdir(mp(&M, "d"), 0777), 0);
	cr_assert_eq(chmod(mp(&M, "d"), 0777), 0);
	cr_assert_eq(run_as(USER, USER, make_tmpfile_then_link, (void *)mp(&M, "d")), 0);
	assert_owner("d/linked", USER, USER);
	lstat_ok(bp(&M, "d/linked"), &st);
	cr_assert_eq(st.st_mode, S_IFREG | 0640, "mode %o", st.st_mode);
}

Test(owner, device_node_made_by_root_then_chowned)
{
	struct stat st;

	cr_assert_eq(mknod(mp(&M, "dev"), S_IFCHR | 0600, makedev(1, 3)), 0, "%s",
		     strerror(errno));
	assert_owner("dev", 0, 0);
	cr_assert_eq(chown(mp(&M, "dev"), USER, USER), 0);
	assert_owner("dev", USER, USER);
	lstat_ok(bp(&M, "dev"), &st);
	cr_assert(S_ISCHR(st.st_mode));
	cr_assert_eq(st.st_rdev, makedev(1, 3));
}

Test(owner, root_creations_stay_roots)
{
	cr_assert_eq(create_file((void *)mp(&M, "f")), 0);
	cr_assert_eq(make_dir((void *)mp(&M, "d")), 0);
	cr_assert_eq(make_symlink((void *)mp(&M, "l")), 0);
	assert_owner("f", 0, 0);
	assert_owner("d", 0, 0);
	assert_owner("l", 0, 0);
}

/* A root-owned setgid directory of a group the user is not in, open to all. */
static void make_setgid_dir(const char *rel)
{
	cr_assert_eq(mkdir(bp(&M, rel), 0777), 0);
	cr_assert_eq(chown(bp(&M, rel), 0, FOREIGN_GROUP), 0);
	cr_assert_eq(chmod(bp(&M, rel), 02777), 0);
}

Test(owner, setgid_dir_gives_its_group)
{
	struct stat st;

	make_setgid_dir("sg");
	cr_assert_eq(run_as(USER, USER, create_file, (void *)mp(&M, "sg/f")), 0);
	cr_assert_eq(run_as(USER, USER, make_dir, (void *)mp(&M, "sg/d")), 0);
	cr_assert_eq(run_as(USER, USER, make_symlink, (void *)mp(&M, "sg/l")), 0);
	cr_assert_eq(run_as(USER, USER, make_fifo, (void *)mp(&M, "sg/fifo")), 0);
	assert_owner("sg/f", USER, FOREIGN_GROUP);
	assert_owner("sg/d", USER, FOREIGN_GROUP);
	assert_owner("sg/l", USER, FOREIGN_GROUP);
	assert_owner("sg/fifo", USER, FOREIGN_GROUP);
	/* A new directory inherits the setgid bit itself. */
	lstat_ok(bp(&M, "sg/d"), &st);
	cr_assert(st.st_mode & S_ISGID, "mode %o", st.st_mode);
	/* Root's creations get the directory's group too. */
	cr_assert_eq(create_file((void *)mp(&M, "sg/rootf")), 0);
	cr_assert_eq(make_dir((void *)mp(&M, "sg/rootd")), 0);
	assert_owner("sg/rootf", 0, FOREIGN_GROUP);
	assert_owner("sg/rootd", 0, FOREIGN_GROUP);
}

struct create_mode {
	const char *path;
	mode_t mode;
};

static int create_with_mode(void *arg)
{
	const struct create_mode *c = arg;
	int fd;

	umask(0);
	fd = open(c->path, O_WRONLY | O_CREAT | O_EXCL, c->mode);
	if (fd < 0)
		return errno;
	return ERRNO_OF(close(fd));
}

static int mkdir_with_mode(void *arg)
{
	const struct create_mode *c = arg;

	umask(0);
	return ERRNO_OF(mkdir(c->path, c->mode));
}

/*
 * The user creates the same names with the same modes natively in one
 * directory and through the mount in its twin: the modes must agree,
 * setuid and setgid bits included.
 */
static void assert_modes_as_native(const char *dir, int (*create)(void *), const char *name,
				   mode_t mode)
{
	char rel[128];
	struct stat native, mounted;
	struct create_mode in_backing, in_mount;

	snprintf(rel, sizeof(rel), "%s/native-%s", dir, name);
	in_backing = (struct create_mode){ bp(&M, rel), mode };
	cr_assert_eq(run_as(USER, USER, create, &in_backing), 0, "native %s", rel);
	lstat_ok(bp(&M, rel), &native);
	snprintf(rel, sizeof(rel), "%s/mount-%s", dir, name);
	in_mount = (struct create_mode){ mp(&M, rel), mode };
	cr_assert_eq(run_as(USER, USER, create, &in_mount), 0, "through mount %s", rel);
	lstat_ok(bp(&M, rel), &mounted);
	cr_assert_eq(mounted.st_mode, native.st_mode, "%s mode %o: mount %o, native %o", rel,
		     mode, mounted.st_mode, native.st_mode);
	cr_assert_eq(mounted.st_uid, native.st_uid, "%s", rel);
	cr_assert_eq(mounted.st_gid, native.st_gid, "%s", rel);
}

Test(owner, setuid_setgid_bits_as_local_filesystem)
{
	cr_assert_eq(mkdir(bp(&M, "plain"), 0777), 0);
	cr_assert_eq(chmod(bp(&M, "plain"), 0777), 0);
	make_setgid_dir("sg");
	assert_modes_as_native("plain", create_with_mode, "suid", 04755);
	assert_modes_as_native("plain", create_with_mode, "sgid", 02755);
	assert_modes_as_native("plain", create_with_mode, "both", 06750);
	assert_modes_as_native("plain", mkdir_with_mode, "dir", 02755);
	/* Not in the directory's group: a local filesystem drops the file's setgid bit. */
	assert_modes_as_native("sg", create_with_mode, "suid", 04755);
	assert_modes_as_native("sg", create_with_mode, "sgid", 02755);
	assert_modes_as_native("sg", mkdir_with_mode, "dir", 0755);
}

static int truncate_it(void *path)
{
	return ERRNO_OF(truncate(path, 0));
}

static int unlink_it(void *path)
{
	return ERRNO_OF(unlink(path));
}

static int read_it(void *path)
{
	char buf[8];
	ssize_t n = read_file(path, buf, sizeof(buf));

	return n < 0 ? (int)-n : 0;
}

Test(owner, user_cannot_write_roots_0644_file)
{
	char buf[8] = "";

	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	cr_assert_eq(write_file(mp(&M, "d/f"), "root", 4), 0);
	cr_assert_eq(chmod(mp(&M, "d/f"), 0644), 0);
	cr_assert_eq(open_as(USER, USER, mp(&M, "d/f"), O_WRONLY), EACCES);
	cr_assert_eq(run_as(USER, USER, truncate_it, (void *)mp(&M, "d/f")), EACCES);
	cr_assert_eq(run_as(USER, USER, unlink_it, (void *)mp(&M, "d/f")), EACCES);
	cr_assert_eq(run_as(USER, USER, create_file, (void *)mp(&M, "d/new")), EACCES);
	cr_assert_eq(run_as(USER, USER, read_it, (void *)mp(&M, "d/f")), 0);
	cr_assert_eq(read_file(bp(&M, "d/f"), buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "root");
	/* Unreadable when 0600. */
	cr_assert_eq(chmod(mp(&M, "d/f"), 0600), 0);
	cr_assert_eq(run_as(USER, USER, read_it, (void *)mp(&M, "d/f")), EACCES);
}

struct chown_args {
	const char *path;
	uid_t uid;
	gid_t gid;
};

static int chown_it(void *arg)
{
	const struct chown_args *c = arg;

	return ERRNO_OF(lchown(c->path, c->uid, c->gid));
}

static int chmod_it(void *path)
{
	return ERRNO_OF(chmod(path, 0600));
}

Test(owner, user_cannot_chown)
{
	struct chown_args to_root, to_foreign_group, others_file, own_group;

	cr_assert_eq(run_as(USER, USER, create_file, (void *)mp(&M, "mine")), 0);
	cr_assert_eq(write_file(mp(&M, "roots"), "r", 1), 0);
	to_root = (struct chown_args){ mp(&M, "mine"), 0, -1 };
	to_foreign_group = (struct chown_args){ mp(&M, "mine"), -1, FOREIGN_GROUP };
	others_file = (struct chown_args){ mp(&M, "roots"), USER, USER };
	own_group = (struct chown_args){ mp(&M, "mine"), USER, USER };
	cr_assert_eq(run_as(USER, USER, chown_it, &to_root), EPERM);
	cr_assert_eq(run_as(USER, USER, chown_it, &to_foreign_group), EPERM);
	cr_assert_eq(run_as(USER, USER, chown_it, &others_file), EPERM);
	/* A no-op chown to what it already is is allowed. */
	cr_assert_eq(run_as(USER, USER, chown_it, &own_group), 0);
	assert_owner("mine", USER, USER);
	assert_owner("roots", 0, 0);
	/* chmod: own file yes, root's no. */
	cr_assert_eq(run_as(USER, USER, chmod_it, (void *)mp(&M, "mine")), 0);
	cr_assert_eq(run_as(USER, USER, chmod_it, (void *)mp(&M, "roots")), EPERM);
}

static int rename_away(void *path)
{
	char to[PATH_MAX];

	snprintf(to, sizeof(to), "%s.moved", (char *)path);
	return ERRNO_OF(rename(path, to));
}

Test(owner, sticky_dir_protects_others_files)
{
	struct stat st;

	cr_assert_eq(mkdir(mp(&M, "sticky"), 0777), 0);
	cr_assert_eq(chmod(mp(&M, "sticky"), 01777), 0);
	cr_assert_eq(run_as(OTHER_USER, OTHER_USER, create_file, (void *)mp(&M, "sticky/theirs")),
		     0);
	cr_assert_eq(run_as(USER, USER, create_file, (void *)mp(&M, "sticky/mine")), 0);
	cr_assert_eq(run_as(USER, USER, unlink_it, (void *)mp(&M, "sticky/theirs")), EPERM);
	cr_assert_eq(run_as(USER, USER, rename_away, (void *)mp(&M, "sticky/theirs")), EPERM);
	lstat_ok(bp(&M, "sticky/theirs"), &st);
	/* Their own files they may remove. */
	cr_assert_eq(run_as(USER, USER, unlink_it, (void *)mp(&M, "sticky/mine")), 0);
	cr_assert_eq(run_as(OTHER_USER, OTHER_USER, unlink_it, (void *)mp(&M, "sticky/theirs")),
		     0);
	cr_assert_eq(ERRNO_OF(lstat(bp(&M, "sticky/theirs"), &st)), ENOENT);
}

struct times_args {
	const char *path;
	bool now;
};

static int set_times(void *arg)
{
	const struct times_args *t = arg;
	struct timespec explicit[2] = { { 1000, 0 }, { 1000, 0 } };

	return ERRNO_OF(utimensat(AT_FDCWD, t->path, t->now ? NULL : explicit, 0));
}

/* Anyone who may write may touch to now; only the owner may set explicit times. */
Test(owner, utimes_permission_as_local_filesystem)
{
	struct times_args now, explicit;

	cr_assert_eq(write_file(mp(&M, "shared"), "x", 1), 0);
	cr_assert_eq(chmod(mp(&M, "shared"), 0666), 0);
	cr_assert_eq(write_file(mp(&M, "private"), "x", 1), 0);
	cr_assert_eq(chmod(mp(&M, "private"), 0644), 0);
	now = (struct times_args){ mp(&M, "shared"), true };
	explicit = (struct times_args){ mp(&M, "shared"), false };
	cr_assert_eq(run_as(USER, USER, set_times, &now), 0);
	cr_assert_eq(run_as(USER, USER, set_times, &explicit), EPERM);
	now.path = mp(&M, "private");
	cr_assert_eq(run_as(USER, USER, set_times, &now), EACCES);
}

struct write_args {
	const char *path;
	bool truncate_too;
};

static int write_into(void *arg)
{
	const struct write_args *w = arg;
	int fd = open(w->path, O_WRONLY | (w->truncate_too ? O_TRUNC : 0));

	if (fd < 0)
		return errno;
	if (write(fd, "written", 7) != 7)
		return EIO;
	return ERRNO_OF(close(fd));
}

/*
 * A write by someone else to a setuid or setgid file clears those bits,
 * as on a local filesystem: the same write natively and through the mount
 * leaves the same mode.
 */
Test(owner, write_by_other_user_clears_setid_bits_as_local_filesystem)
{
	static const mode_t modes[] = { 04777, 02777, 06777, 02767, 06767, 0777 };
	const int combos = (int)(sizeof(modes) / sizeof(modes[0])) * 4;
	char native[32], mounted[32];
	struct stat n, m;

	/* Each mode, with O_TRUNC or not, the writer outside or inside the file's group. */
	for (int c = 0; c < combos; c++) {
		mode_t mode = modes[c / 4];
		bool trunc = c & 1;
		gid_t group = c & 2 ? USER : 0;
		struct write_args in_backing, in_mount;

		snprintf(native, sizeof(native), "native%d", c);
		snprintf(mounted, sizeof(mounted), "mounted%d", c);
		cr_assert_eq(write_file(bp(&M, native), "root's", 6), 0);
		cr_assert_eq(write_file(bp(&M, mounted), "root's", 6), 0);
		cr_assert_eq(chown(bp(&M, native), 0, group), 0);
		cr_assert_eq(chown(bp(&M, mounted), 0, group), 0);
		cr_assert_eq(chmod(bp(&M, native), mode), 0);
		cr_assert_eq(chmod(bp(&M, mounted), mode), 0);
		in_backing = (struct write_args){ bp(&M, native), trunc };
		in_mount = (struct write_args){ mp(&M, mounted), trunc };
		cr_assert_eq(run_as(USER, USER, write_into, &in_backing), 0);
		cr_assert_eq(run_as(USER, USER, write_into, &in_mount), 0);
		lstat_ok(bp(&M, native), &n);
		lstat_ok(bp(&M, mounted), &m);
		cr_assert_eq(m.st_mode, n.st_mode, "mode %o, group %u, O_TRUNC %d: mount %o, native %o",
			     mode, group, trunc, m.st_mode, n.st_mode);
		lstat_ok(mp(&M, mounted), &m);
		cr_assert_eq(m.st_mode, n.st_mode, "mode %o seen in the mount: %o", mode, m.st_mode);
		cr_assert_eq(m.st_size, n.st_size);
	}
}

/* chown by root clears setuid/setgid on a file, as on a local filesystem. */
Test(owner, chown_clears_setid_bits_as_local_filesystem)
{
	struct stat n, m;

	cr_assert_eq(write_file(bp(&M, "native"), "x", 1), 0);
	cr_assert_eq(write_file(bp(&M, "mounted"), "x", 1), 0);
	cr_assert_eq(chmod(bp(&M, "native"), 06755), 0);
	cr_assert_eq(chmod(bp(&M, "mounted"), 06755), 0);
	cr_assert_eq(chown(bp(&M, "native"), USER, USER), 0);
	cr_assert_eq(chown(mp(&M, "mounted"), USER, USER), 0);
	lstat_ok(bp(&M, "native"), &n);
	lstat_ok(bp(&M, "mounted"), &m);
	cr_assert_eq(m.st_mode, n.st_mode, "mount %o, native %o", m.st_mode, n.st_mode);
	lstat_ok(mp(&M, "mounted"), &m);
	cr_assert_eq(m.st_mode, n.st_mode, "seen in the mount %o", m.st_mode);
}

static int create_under_umask(void *arg)
{
	const char *dir = arg;
	char path[PATH_MAX];
	int fd;

	umask(027);
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0666);
	if (fd < 0)
		return errno;
	close(fd);
	snprintf(path, sizeof(path), "%s/dir", dir);
	if (mkdir(path, 0777))
		return errno;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	return ERRNO_OF(mkfifo(path, 0666));
}

/* The caller's umask shapes the modes, natively and through the mount alike. */
Test(owner, umask_applies_as_local_filesystem)
{
	static const char *const names[] = { "file", "dir", "fifo" };
	char rel_native[32], rel_mount[32];
	struct stat n, m;

	cr_assert_eq(mkdir(bp(&M, "native"), 0777), 0);
	cr_assert_eq(mkdir(bp(&M, "mounted"), 0777), 0);
	cr_assert_eq(chmod(bp(&M, "native"), 0777), 0);
	cr_assert_eq(chmod(bp(&M, "mounted"), 0777), 0);
	cr_assert_eq(run_as(USER, USER, create_under_umask, (void *)bp(&M, "native")), 0);
	cr_assert_eq(run_as(USER, USER, create_under_umask, (void *)mp(&M, "mounted")), 0);
	for (size_t i = 0; i < 3; i++) {
		snprintf(rel_native, sizeof(rel_native), "native/%s", names[i]);
		snprintf(rel_mount, sizeof(rel_mount), "mounted/%s", names[i]);
		lstat_ok(bp(&M, rel_native), &n);
		lstat_ok(bp(&M, rel_mount), &m);
		cr_assert_eq(m.st_mode, n.st_mode, "%s: mount %o, native %o", names[i], m.st_mode,
			     n.st_mode);
		cr_assert_eq(n.st_mode & 0777, i == 1 ? 0750 : 0640);
	}
}

/* ---- ACLs and setgid ---- */

/* An ACL as setfacl writes it (system.posix_acl_*): version 2, then entries by tag. */
struct acl_xattr {
	uint32_t version;
	struct {
		uint16_t tag, perm;
		uint32_t id;
	} e[5];
};

struct acl_args {
	const char *path;
	const char *name; /* system.posix_acl_access or system.posix_acl_default */
};

/* What `setfacl -m u:1001:r` sets on a 0755 inode: u::rwx,u:1001:r,g::r-x,m::r-x,o::r-x. */
static int set_acl(void *arg)
{
	const struct acl_args *a = arg;
	const struct acl_xattr acl = { 2, { { 0x01, 7, (uint32_t)-1 }, { 0x02, 4, OTHER_USER },
					    { 0x04, 5, (uint32_t)-1 }, { 0x10, 5, (uint32_t)-1 },
					    { 0x20, 5, (uint32_t)-1 } } };

	return ERRNO_OF(setxattr(a->path, a->name, &acl, sizeof(acl), 0));
}

/*
 * The owner of a setgid inode who is not in its group sets an access ACL:
 * a local filesystem clears setgid (posix_acl_update_mode), and so must
 * the mount, where the daemon sets the ACL as root (the kernel tells it
 * with FUSE_SETXATTR_ACL_KILL_SGID).  A member of the group keeps it, and
 * a default ACL never clears it.  Each case natively and through the mount.
 */
Test(owner, acl_by_non_member_clears_setgid_as_local_filesystem)
{
	static const struct {
		const char *name;
		bool dir, default_acl;
		gid_t group;
		mode_t mode;
		bool sgid_stays; /* what ext4 does, asserted so the comparison means something */
	} cases[] = {
		{ "file", false, false, FOREIGN_GROUP, 02755, false },
		{ "file_g_rw", false, false, FOREIGN_GROUP, 02764, false },
		{ "file_member", false, false, USER, 02755, true },
		{ "dir", true, false, FOREIGN_GROUP, 02755, false },
		{ "dir_default", true, true, FOREIGN_GROUP, 02755, true },
	};
	char native[64], mounted[64], acl_n[64], acl_m[64];
	struct stat n, m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *xname = cases[i].default_acl ? "system.posix_acl_default" :
							   "system.posix_acl_access";
		struct acl_args in_backing, in_mount;
		ssize_t len_n, len_m;
		int rc;

		snprintf(native, sizeof(native), "native_%s", cases[i].name);
		snprintf(mounted, sizeof(mounted), "mounted_%s", cases[i].name);
		if (cases[i].dir) {
			cr_assert_eq(mkdir(bp(&M, native), 0755), 0);
			cr_assert_eq(mkdir(bp(&M, mounted), 0755), 0);
		} else {
			cr_assert_eq(write_file(bp(&M, native), "x", 1), 0);
			cr_assert_eq(write_file(bp(&M, mounted), "x", 1), 0);
		}
		cr_assert_eq(chown(bp(&M, native), USER, cases[i].group), 0);
		cr_assert_eq(chown(bp(&M, mounted), USER, cases[i].group), 0);
		cr_assert_eq(chmod(bp(&M, native), cases[i].mode), 0);
		cr_assert_eq(chmod(bp(&M, mounted), cases[i].mode), 0);
		in_backing = (struct acl_args){ bp(&M, native), xname };
		in_mount = (struct acl_args){ mp(&M, mounted), xname };
		rc = run_as(USER, USER, set_acl, &in_backing);
		if (rc == EOPNOTSUPP)
			cr_skip_test("the backing filesystem has no POSIX ACLs");
		cr_assert_eq(rc, 0, "%s: %s", native, strerror(rc));
		cr_assert_eq(run_as(USER, USER, set_acl, &in_mount), 0, "%s", mounted);

		lstat_ok(bp(&M, native), &n);
		cr_assert_eq(!!(n.st_mode & S_ISGID), cases[i].sgid_stays, "%s natively: %o", native,
			     n.st_mode);
		lstat_ok(bp(&M, mounted), &m);
		cr_assert_eq(m.st_mode, n.st_mode, "%s: mount %o, native %o", cases[i].name, m.st_mode,
			     n.st_mode);
		lstat_ok(mp(&M, mounted), &m);
		cr_assert_eq(m.st_mode, n.st_mode, "%s seen in the mount: %o", cases[i].name,
			     m.st_mode);
		len_n = getxattr(bp(&M, native), xname, acl_n, sizeof(acl_n));
		len_m = getxattr(bp(&M, mounted), xname, acl_m, sizeof(acl_m));
		cr_assert_gt(len_n, 0, "%s: %s", native, strerror(errno));
		cr_assert_eq(len_m, len_n, "%s: ACL of %zd bytes, native %zd", cases[i].name, len_m,
			     len_n);
		cr_assert_eq(memcmp(acl_m, acl_n, len_n), 0, "%s: the ACL differs", cases[i].name);
	}
}
