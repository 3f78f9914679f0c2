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
#include <sys/xattr.h>

static int xattr_path(struct request *req, char *path, size_t size)
{
	int fd = node_fd(req->node);

	if (fd < 0)
		return fd;
	snprintf(path, size, "/proc/self/fd/%d", fd);
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

OP_HANDLER(op_setxattr)
{
	const struct fuse_setxattr_in *in = req->in;
	char path[64];
	int err;

	if (in->size > req->data_len)
		return -EINVAL;
	err = xattr_path(req, path, sizeof(path));
	if (err)
		return err;
	return setxattr(path, req->name, req->data, in->size, in->flags) < 0 ? -errno : 0;
}

OP_HANDLER(op_getxattr)
{
	const struct fuse_getxattr_in *in = req->in;
	size_t size = in->size < FSD_MAX_WRITE ? in->size : FSD_MAX_WRITE;
	char path[64];
	int err;

	err = xattr_path(req, path, sizeof(path));
	if (err)
		return err;
	return xattr_reply(req, in->size, getxattr(path, req->name, req->worker->out_buf, size));
}

OP_HANDLER(op_listxattr)
{
	const struct fuse_getxattr_in *in = req->in;
	size_t size = in->size < FSD_MAX_WRITE ? in->size : FSD_MAX_WRITE;
	char path[64];
	int err;

	err = xattr_path(req, path, sizeof(path));
	if (err)
		return err;
	return xattr_reply(req, in->size, listxattr(path, req->worker->out_buf, size));
}

OP_HANDLER(op_removexattr)
{
	char path[64];
	int err;

	err = xattr_path(req, path, sizeof(path));
	if (err)
		return err;
	return removexattr(path, req->name) < 0 ? -errno : 0;
}
