// SPDX-License-Identifier: MIT
/*
 * The FUSE device: opening and cloning it, the worker loop that reads
 * requests, and the one function that sends replies, on the device or, for
 * requests that came over io_uring, as the ring entry's commit (dev_uring.c).
 *
 * The device may also be a connection fsd was given (--dev-fd): a
 * SOCK_SEQPACKET socket, whose peer plays the kernel, keeps the device's
 * framing (one read is one request, one writev one reply), so the same loop
 * serves it.  A given fd that is not a socket is taken for /dev/fuse.
 */
#define _GNU_SOURCE
#include "fsd.h"
#include "arch.h"

#include <byteswap.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* The session is a socket (dev_given): its workers share it. */
static bool dev_socket;

int dev_open(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int dev_given(int fd)
{
	socklen_t len = sizeof(int);
	int type;

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) {
		/* A byte stream would run requests together. */
		if (type != SOCK_SEQPACKET && type != SOCK_DGRAM)
			return -EPROTOTYPE;
		dev_socket = true;
	}
	return fd;
}

int dev_clone(int session_fd)
{
	uint32_t master = session_fd;
	int fd;

	/* Each message goes to one reader: the workers read the same socket. */
	if (dev_socket) {
		fd = fcntl(session_fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	fd = dev_open();
	if (fd < 0)
		return fd;
	if (ioctl(fd, FUSE_DEV_IOC_CLONE, &master) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Sends the one reply of a request: the header, then (on success) the
 * handler's fixed struct and data.  An error that is not a real errno (the
 * kernel refuses -512 and beyond, and the caller would wait forever) is a
 * bug in a handler: the caller gets EIO and the log says which opcode.
 * Returns 0, or -errno if the kernel refused the reply (the connection was
 * aborted; -ENOENT: it no longer knows the request).
 */
int dev_reply(struct request *req, int error)
{
	struct fuse_out_header out = { .unique = req->hdr->unique };
	struct iovec iov[3] = { { &out, sizeof(out) } };
	int n = 1;
	ssize_t written;

	if (!errno_valid(error)) {
		fsd_log("%s handler returned %d, not 0 or -errno: replying EIO",
			opcode_name(req->opcode), error);
		error = -EIO;
	}
	if (!error) {
		if (req->arg_len)
			iov[n++] = (struct iovec){ &req->arg, req->arg_len };
		if (req->out_len)
			iov[n++] = (struct iovec){ (void *)req->out_data, req->out_len };
	} else {
		req->out_len = 0;
	}
	/* A client of another architecture reads errnos in its own numbering. */
	out.error = fsd_client_arch ? arch_errno_from_native(fsd_client_arch, error) : error;
	for (int i = 0; i < n; i++)
		out.len += iov[i].iov_len;
	if (req->other_byte_order) {
		/* unique goes back as its bytes came. */
		out.len = bswap_32(out.len);
		out.error = (int32_t)bswap_32((uint32_t)out.error);
	}
	if (fsd_config.debug)
		fsd_log("<- unique=%llu error=%d len=%u", (unsigned long long)out.unique, error,
			out.len);
	if (req->worker->transport == WORKER_URING)
		return uring_reply(req->worker, iov, n);
	written = writev(req->worker->fd, iov, n);
	if (written < 0) {
		if (errno != ENOENT)
			fsd_log("reply to %s unique=%llu: %s", opcode_name(req->opcode),
				(unsigned long long)out.unique, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * FUSE_NOTIFY_INVAL_INODE with a negative offset: the kernel drops the
 * inode's cached attributes (and ACLs), and none of its pages, so no page
 * lock is taken and a handler may send it.  Notifications go on the
 * session's /dev/fuse whatever carries the requests.  -ENOENT: the kernel
 * does not know the inode, so has nothing cached.
 */
int dev_notify_inval_inode(uint64_t nodeid)
{
	struct fuse_notify_inval_inode_out arg = { .ino = nodeid, .off = -1 };
	struct fuse_out_header out = { .len = sizeof(out) + sizeof(arg),
				       .error = FUSE_NOTIFY_INVAL_INODE };
	struct iovec iov[2] = { { &out, sizeof(out) }, { &arg, sizeof(arg) } };
	int err = 0;

	if (writev(fsd_session_fd, iov, 2) < 0) {
		err = -errno;
		if (err != -ENOENT)
			fsd_log("invalidating the attributes of node %llu: %s",
				(unsigned long long)nodeid, strerror(-err));
	}
	return err;
}

void dev_worker_init(struct worker *w)
{
	/* A umask of its own: create_begin sets the caller's. */
	if (unshare(CLONE_FS) < 0)
		fsd_log("worker %u: unshare(CLONE_FS): %s", w->index, strerror(errno));
}

void *dev_worker(void *arg)
{
	struct worker *w = arg;
	int err;

	dev_worker_init(w);
	for (;;) {
		ssize_t n = read(w->fd, w->in_buf, FSD_REQ_BUF);

		/* A --dev-fd peer that closed its end: the connection is over. */
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			err = -ENODEV;
			break;
		}
		if (n < 0) {
			/* ENOENT: the request was interrupted before we read it. */
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			err = -errno;
			break;
		}
		atomic_fetch_add_explicit(&stats_dev_requests, 1, memory_order_relaxed);
		request_process(w, w->in_buf, n);
	}
	if (err != -ENODEV) /* ENODEV: unmounted, or the peer closed */
		fsd_log("worker %u: reading /dev/fuse: %s", w->index, strerror(-err));
	fsd_worker_exited(err);
	return NULL;
}
