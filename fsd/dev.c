// SPDX-License-Identifier: MIT
/*
 * The FUSE device: opening and cloning it, the worker loop that reads
 * requests, and the one function that sends replies, on the device or, for
 * requests that came over io_uring, as the ring entry's commit (dev_uring.c).
 *
 * The device is /dev/fuse, or /dev/fusebpf with -o kernel=fusebpf (the
 * module's; the same protocol).  In FUSE-BPF mode a LOOKUP reply that
 * carries entries is not written: it is the argument of the RFC's ioctl
 * FUSEBPF_DEV_IOC_BPF_RESPONSE(n), n its length (at most a page), made in
 * the daemon's process so that the kernel can take the entry's backing fd.
 *
 * The device may also be a connection fsd was given (--dev-fd): a
 * SOCK_SEQPACKET socket, whose peer plays the kernel, keeps the device's
 * framing (one read is one request, one writev one reply), so the same loop
 * serves it.  A given fd that is not a socket is taken for /dev/fuse.  A
 * socket has no ioctls, so the ioctl is sent as two messages: a struct
 * fusebpf_sim_ioctl (framed as a notification, unique 0, of code 0, which
 * no kernel sends; it carries the ioctl's request number), then the ioctl's
 * argument, the RFC's bytes.  The workers share the socket, so every send
 * on it takes socket_lock: nothing comes between the two.
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
/* Held around each send on the socket: an ioctl's two messages go together. */
static pthread_mutex_t socket_lock = PTHREAD_MUTEX_INITIALIZER;

const char *dev_path(void)
{
	return fsd_config.kernel == KERNEL_FUSEBPF ? "/dev/fusebpf" : "/dev/fuse";
}

int dev_open(void)
{
	int fd = open(dev_path(), O_RDWR | O_CLOEXEC);

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

bool dev_is_socket(void)
{
	return dev_socket;
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

/* writev on the device, or on the socket under its lock; 0 or -errno. */
static int dev_write(int fd, const struct iovec *iov, int n)
{
	int err = 0;

	if (dev_socket)
		pthread_mutex_lock(&socket_lock);
	if (writev(fd, iov, n) < 0)
		err = -errno;
	if (dev_socket)
		pthread_mutex_unlock(&socket_lock);
	return err;
}

/*
 * A reply with LOOKUP entries: FUSEBPF_DEV_IOC_BPF_RESPONSE with the whole
 * reply as its argument, or its two messages on a socket (top of file).
 */
static int dev_ioctl_reply(int fd, const struct iovec *iov, int n, size_t len)
{
	char buf[FUSEBPF_BPF_RESPONSE_MAX];
	struct fusebpf_sim_ioctl marker = { .len = sizeof(marker) };
	size_t used = 0;
	int err = 0;

	if (len > sizeof(buf))
		return -EMSGSIZE;
	for (int i = 0; i < n; i++) {
		memcpy(buf + used, iov[i].iov_base, iov[i].iov_len);
		used += iov[i].iov_len;
	}
	marker.cmd = FUSEBPF_DEV_IOC_BPF_RESPONSE(len);
	if (!dev_socket)
		return ioctl(fd, marker.cmd, buf) < 0 ? -errno : 0;
	pthread_mutex_lock(&socket_lock);
	if (write(fd, &marker, sizeof(marker)) < 0 || write(fd, buf, len) < 0)
		err = -errno;
	pthread_mutex_unlock(&socket_lock);
	return err;
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
	int n = 1, err;

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
	/* FUSE-BPF mode has no rings (main.c): a reply with entries is a device worker's. */
	if (!error && req->reply_ioctl)
		err = dev_ioctl_reply(req->worker->fd, iov, n, out.len);
	else if (req->worker->transport == WORKER_URING)
		return uring_reply(req->worker, iov, n);
	else
		err = dev_write(req->worker->fd, iov, n);
	if (err && err != -ENOENT)
		fsd_log("reply to %s unique=%llu%s: %s", opcode_name(req->opcode),
			(unsigned long long)out.unique,
			!error && req->reply_ioctl ? " (FUSEBPF_DEV_IOC_BPF_RESPONSE)" : "",
			strerror(-err));
	return err;
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
	int err = dev_write(fsd_session_fd, iov, 2);

	if (err) {
		if (err != -ENOENT)
			fsd_log("invalidating the attributes of node %llu: %s",
				(unsigned long long)nodeid, strerror(-err));
	}
	return err;
}

void dev_worker_init(struct worker *w, const char *kind, unsigned number)
{
	char name[16]; /* the kernel's TASK_COMM_LEN */

	snprintf(name, sizeof(name), "fsd-%s%u", kind, number);
	pthread_setname_np(pthread_self(), name);
	/* A umask of its own: create_begin sets the caller's. */
	if (unshare(CLONE_FS) < 0)
		fsd_log("worker %u: unshare(CLONE_FS): %s", w->index, strerror(errno));
}

void *dev_worker(void *arg)
{
	struct worker *w = arg;
	int err;

	dev_worker_init(w, "dev", w->index);
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
	/* ENODEV: unmounted, or the peer closed; ECONNABORTED: the kernel ended it. */
	if (err != -ENODEV && err != -ECONNABORTED)
		fsd_log("worker %u: reading %s: %s", w->index, dev_socket ? "the --dev-fd socket" :
			dev_path(), strerror(-err));
	fsd_worker_exited(err);
	return NULL;
}
