// SPDX-License-Identifier: MIT
/*
 * The FUSE device: opening and cloning it, the worker loop that reads
 * requests, and the one function that sends replies, on the device or, for
 * requests that came over io_uring, as the ring entry's commit (dev_uring.c).
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int dev_open(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int dev_clone(int session_fd)
{
	uint32_t master = session_fd;
	int fd = dev_open();

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

	if (error > 0 || error <= -512) {
		fsd_log("%s handler returned %d, not 0 or -errno: replying EIO",
			opcode_name(req->hdr->opcode), error);
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
	out.error = error;
	for (int i = 0; i < n; i++)
		out.len += iov[i].iov_len;
	if (fsd_config.debug)
		fsd_log("<- unique=%llu error=%d len=%u", (unsigned long long)out.unique, error,
			out.len);
	if (req->worker->transport == WORKER_URING)
		return uring_reply(req->worker, iov, n);
	written = writev(req->worker->fd, iov, n);
	if (written < 0) {
		if (errno != ENOENT)
			fsd_log("reply to %s unique=%llu: %s", opcode_name(req->hdr->opcode),
				(unsigned long long)out.unique, strerror(errno));
		return -errno;
	}
	return 0;
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
	if (err != -ENODEV) /* ENODEV: unmounted */
		fsd_log("worker %u: reading /dev/fuse: %s", w->index, strerror(-err));
	fsd_worker_exited(err);
	return NULL;
}
