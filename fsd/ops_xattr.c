// SPDX-License-Identifier: MIT
/*
 * Extended attributes: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR.
 *
 * The *xattr calls do not take O_PATH fds, so they reach the node's inode
 * through /proc/self/fd/N, which names that inode itself whatever its type
 * and wherever it has moved.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

static int xattr_path(struct request *req, char path[PROC_FD_PATH_MAX])
{
	int fd = node_fd(req->node);

	if (fd < 0)
		return fd;
	proc_fd_path(path, fd);
	return 0;
}

/* A zero size asks for the size only; a reply larger than max_write cannot be sent. */
static int xattr_reply(struct request *req, uint32_t size, ssize_t n)
{
	if (n < 0)
		return -errno;
	if (size == 0) {
		memset(&req->arg.getxattr, 0, sizeof(req->arg.getxattr));
		req->arg.getxattr.size = n;
		reply_arg(req, sizeof(req->arg.getxattr));
	} else {
		reply_data(req, req->worker->out_buf, n);
	}
	return 0;
}

/*
 * Setting an access ACL clears setgid on a local filesystem when the caller
 * is neither in the file's group nor CAP_FSETID (posix_acl_update_mode).
 * The kernel decides that and sends FUSE_SETXATTR_ACL_KILL_SGID; the
 * daemon, setting the ACL as root, keeps setgid, so clears it after.  The
 * kernel sends the flag with default ACLs too, which never clear it.
 */
static int xattr_acl_kill_sgid(struct request *req, const char *path)
{
	int fd = node_fd(req->node);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!(st.st_mode & S_ISGID) || S_ISLNK(st.st_mode))
		return 0;
	return chmod(path, st.st_mode & 07777 & ~S_ISGID) < 0 ? -errno : 0;
}

OP_HANDLER(op_setxattr)
{
	const struct fuse_setxattr_in *in = req->in;
	/* Past the compat struct only with FUSE_SETXATTR_EXT (op_in_size). */
	uint32_t sx_flags = fsd_setxattr_ext ? in->setxattr_flags : 0;
	char path[PROC_FD_PATH_MAX];
	int err;

	if (in->size > req->data_len)
		return -EINVAL;
	err = xattr_path(req, path);
	if (err)
		return err;
	if (setxattr(path, req->name, req->data, in->size, in->flags) < 0)
		return -errno;
	if ((sx_flags & FUSE_SETXATTR_ACL_KILL_SGID) &&
	    !strcmp(req->name, "system.posix_acl_access"))
		return xattr_acl_kill_sgid(req, path);
	return 0;
}

OP_HANDLER(op_getxattr)
{
	const struct fuse_getxattr_in *in = req->in;
	size_t size = in->size < FSD_MAX_WRITE ? in->size : FSD_MAX_WRITE;
	char path[PROC_FD_PATH_MAX];
	int err;

	err = xattr_path(req, path);
	if (err)
		return err;
	return xattr_reply(req, in->size, getxattr(path, req->name, req->worker->out_buf, size));
}

/*
 * trusted.* names are listed only to root, as a local filesystem lists them
 * only to CAP_SYS_ADMIN (the daemon's own listxattr, as root, sees them all).
 */
static ssize_t xattr_list_hide_trusted(char *list, ssize_t len)
{
	ssize_t in = 0, out = 0;

	while (in < len) {
		size_t n = strnlen(list + in, len - in) + 1;

		if (strncmp(list + in, "trusted.", 8)) {
			memmove(list + out, list + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

OP_HANDLER(op_listxattr)
{
	const struct fuse_getxattr_in *in = req->in;
	char *buf = req->worker->out_buf;
	char path[PROC_FD_PATH_MAX];
	ssize_t n;
	int err;

	err = xattr_path(req, path);
	if (err)
		return err;
	/* The whole list, so that hidden names do not count in the size. */
	n = listxattr(path, buf, FSD_MAX_WRITE);
	if (n < 0)
		return -errno;
	if (req->hdr->uid)
		n = xattr_list_hide_trusted(buf, n);
	if (in->size && (size_t)n > in->size)
		return -ERANGE;
	return xattr_reply(req, in->size, n);
}

OP_HANDLER(op_removexattr)
{
	char path[PROC_FD_PATH_MAX];
	int err;

	err = xattr_path(req, path);
	if (err)
		return err;
	return removexattr(path, req->name) < 0 ? -errno : 0;
}
