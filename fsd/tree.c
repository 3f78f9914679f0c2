// SPDX-License-Identifier: MIT
/*
 * The backing tree: the mounts the daemon reads backing files through,
 * private copies (open_tree(OPEN_TREE_CLONE), attached to no namespace) of
 * the backing mounts that carry the FUSE mount's atime rule.
 *
 * Why: the kernel marks every FUSE inode S_NOATIME and leaves atime to the
 * daemon, and the atime a stat through the mount shows is the backing
 * file's.  That one is updated by whoever reads the backing file, under the
 * rule of the mount the file was opened through: the daemon's reads (READ,
 * READDIR, READLINK) and the kernel's passthrough reads, which go to a
 * backing file opened on the path of the one the daemon registered.  So
 * every open for data (node_open, node_open_link) goes through a copy of
 * the file's mount whose atime attributes are the FUSE mount's, and reads
 * update atime as noatime, nodiratime, relatime or strictatime say,
 * whatever the backing mount says.  A file CREATE or TMPFILE made is open
 * on the backing mount itself (openat of its parent): reads through that
 * open follow the backing mount's rule.
 *
 * Names are still resolved on the backing mounts themselves (the nodes'
 * O_PATH fds), so a filesystem mounted under the backing directory while
 * the daemon runs is seen, and gets its copy when a file of it is first
 * opened.  One copy per backing mount, without its submounts: a copy only
 * opens files by handle (open_by_handle_at), and the root by its own root.
 * Without the privilege to copy (fsd --dev-fd as a user) or the system
 * calls (Linux before 5.12), files open on the backing mounts themselves.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define TREE_MOUNTS_MAX 16 /* as many as the node table keeps fds for */

static pthread_mutex_t tree_lock = PTHREAD_MUTEX_INITIALIZER;
/* Guarded by tree_lock: copies, ncopies, atime_flags. */
static struct {
	int mount_fd; /* the node table's fd on a backing mount */
	int copy_fd;  /* a directory of its copy, or mount_fd itself when it cannot be copied */
	int tree_fd;  /* the copy itself (open_tree's), -1 when none */
} copies[TREE_MOUNTS_MAX];
static unsigned ncopies;
static unsigned long atime_flags; /* the rule in force: MS_NOATIME, MS_STRICTATIME, MS_NODIRATIME */
/* Set by tree_init before the workers start, read-only after. */
static int root_fd = -1;     /* the copy of the backing directory's mount, rooted there */
static int root_dir_fd = -1; /* a directory on it, for open_by_handle_at */
static uint64_t root_mnt_id; /* the backing directory's mount (STATX_MNT_ID) */
static bool copying;	     /* tree_init could copy: copy the mounts met later too */

/* The id of the mount fd is on, 0 if unknown. */
static uint64_t mount_id_of(int dirfd, const char *path)
{
	struct statx sx;

	if (statx(dirfd, path, *path ? 0 : AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0 ||
	    !(sx.stx_mask & STATX_MNT_ID))
		return 0;
	return sx.stx_mnt_id;
}

/* The atime words of mount(8), and the flags path_mount() reads them from. */
static const struct {
	const char *name;
	unsigned long flag;
} atime_words[] = {
	{ "relatime", MS_RELATIME },
	{ "strictatime", MS_STRICTATIME },
	{ "noatime", MS_NOATIME },
	{ "nodiratime", MS_NODIRATIME },
};

/* Gives the copy on fd the atime rule of flags; 0 or -errno. */
static int copy_set(int fd, unsigned long flags)
{
	struct mount_attr attr = { .attr_clr = MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME };

	/* As path_mount() does: strictatime beats noatime, which beats the relatime default. */
	if (flags & MS_STRICTATIME)
		attr.attr_set = MOUNT_ATTR_STRICTATIME;
	else if (flags & MS_NOATIME)
		attr.attr_set = MOUNT_ATTR_NOATIME;
	else
		attr.attr_set = MOUNT_ATTR_RELATIME;
	if (flags & MS_NODIRATIME)
		attr.attr_set |= MOUNT_ATTR_NODIRATIME;
	if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -errno;
	return 0;
}

/* A copy of the mount of dirfd/path, rooted there, with the rule in force; fd or -errno. */
static int copy_make(int dirfd, const char *path)
{
	int fd, err;

	fd = open_tree(dirfd, path,
		       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (*path ? 0 : AT_EMPTY_PATH));
	if (fd < 0)
		return -errno;
	err = copy_set(fd, atime_flags);
	if (err) {
		close(fd);
		return err;
	}
	/* Kept open for the daemon's life: closing it would dissolve the copy. */
	return fd;
}


int tree_init(const char *backing_dir, unsigned long mount_flags)
{
	int fd, dir;

	atime_flags = mount_flags & (MS_NOATIME | MS_STRICTATIME | MS_NODIRATIME);
	fd = copy_make(AT_FDCWD, backing_dir);
	if (fd < 0)
		return fd;
	/* open_by_handle_at refuses the O_PATH fd open_tree gives. */
	dir = fd_reopen(fd, O_RDONLY | O_DIRECTORY);
	if (dir < 0) {
		close(fd);
		return dir;
	}
	root_fd = fd;
	root_dir_fd = dir;
	/* The backing directory's mount is copied now, not when a file is first opened. */
	root_mnt_id = mount_id_of(AT_FDCWD, backing_dir);
	copying = true;
	return 0;
}

int tree_mount_fd(int mount_fd)
{
	int fd, tree;

	pthread_mutex_lock(&tree_lock);
	for (unsigned i = 0; i < ncopies; i++) {
		if (copies[i].mount_fd == mount_fd) {
			fd = copies[i].copy_fd;
			pthread_mutex_unlock(&tree_lock);
			return fd;
		}
	}
	if (!copying || ncopies == TREE_MOUNTS_MAX) {
		pthread_mutex_unlock(&tree_lock);
		return mount_fd;
	}
	if (root_mnt_id && mount_id_of(mount_fd, "") == root_mnt_id) {
		/* The root's copy opens any inode of that filesystem by handle. */
		copies[ncopies].mount_fd = mount_fd;
		copies[ncopies].copy_fd = root_dir_fd;
		copies[ncopies].tree_fd = -1; /* root_fd, which tree_atime_set sets */
		ncopies++;
		pthread_mutex_unlock(&tree_lock);
		return root_dir_fd;
	}
	tree = copy_make(mount_fd, "");
	/* open_by_handle_at refuses the O_PATH fd open_tree gives. */
	fd = tree >= 0 ? fd_reopen(tree, O_RDONLY | O_DIRECTORY) : tree;
	if (fd < 0) {
		fsd_log("atime: cannot copy a backing mount (%s): its files keep its rule",
			strerror(-fd));
		if (tree >= 0)
			close(tree);
		tree = -1;
		fd = mount_fd;
	}
	copies[ncopies].mount_fd = mount_fd;
	copies[ncopies].copy_fd = fd;
	copies[ncopies].tree_fd = tree;
	ncopies++;
	pthread_mutex_unlock(&tree_lock);
	return fd;
}

int tree_root_open(int flags)
{
	return root_fd < 0 ? -EOPNOTSUPP : fd_reopen(root_fd, flags);
}

int tree_atime_set(unsigned long mount_flags)
{
	int err = 0;

	pthread_mutex_lock(&tree_lock);
	if (!copying) {
		pthread_mutex_unlock(&tree_lock);
		return -EOPNOTSUPP;
	}
	atime_flags = mount_flags & (MS_NOATIME | MS_STRICTATIME | MS_NODIRATIME);
	err = copy_set(root_fd, atime_flags);
	for (unsigned i = 0; i < ncopies && !err; i++)
		if (copies[i].tree_fd >= 0)
			err = copy_set(copies[i].tree_fd, atime_flags);
	pthread_mutex_unlock(&tree_lock);
	return err;
}

int tree_atime_parse(const char *words, unsigned long *mount_flags)
{
	char copy[128], *save = NULL, *w;

	if (strlen(words) >= sizeof(copy))
		return -EINVAL;
	snprintf(copy, sizeof(copy), "%s", words);
	*mount_flags = 0;
	for (w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		while (i < sizeof(atime_words) / sizeof(atime_words[0]) &&
		       strcmp(w, atime_words[i].name))
			i++;
		if (i == sizeof(atime_words) / sizeof(atime_words[0]))
			return -EINVAL;
		*mount_flags |= atime_words[i].flag;
	}
	return 0;
}

void tree_atime_format(unsigned long mount_flags, char *buf, size_t size)
{
	const char *mode = mount_flags & MS_STRICTATIME ? "strictatime"
			   : mount_flags & MS_NOATIME	? "noatime"
							: "relatime";

	snprintf(buf, size, "%s%s", mode, mount_flags & MS_NODIRATIME ? ",nodiratime" : "");
}
