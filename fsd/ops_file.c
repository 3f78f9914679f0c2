// SPDX-License-Identifier: MIT
/*
 * Opcodes on open files: OPEN, CREATE, TMPFILE, READ, WRITE, RELEASE, FLUSH,
 * FSYNC, FALLOCATE, LSEEK and COPY_FILE_RANGE.
 *
 * Each open gets its own backing fd, opened with the caller's flags.  With
 * kernel passthrough the inode's backing id is shared by its opens and the
 * kernel serves read, write and mmap itself: READ and WRITE then never get
 * here, and the daemon closes the open's fd once the kernel holds the
 * backing file, so that files held open cost it no fds; the few requests
 * that need one reopen the file for themselves (handle_fd).
 *
 * Every open is charged to its caller's uid first (handle_charge), before
 * CREATE makes anything: a uid at its cap gets EMFILE and nothing changes.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/*
 * Whether the caller is in group gid: its gid, or one of its supplementary
 * groups, which only /proc/PID/status tells.  Used on the rare paths that
 * clear privileges, never per request.
 */
static bool caller_in_group(const struct fuse_in_header *hdr, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	if (hdr->gid == gid)
		return true;
	snprintf(path, sizeof(path), "/proc/%u/status", hdr->pid);
	f = hdr->pid ? fopen(path, "re") : NULL;
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line + 7, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (g == gid) {
				found = true;
				break;
			}
			p = end;
		}
		break;
	}
	fclose(f);
	return found;
}

/*
 * What a write or truncate by an unprivileged caller does on a local
 * filesystem: clear setuid; clear setgid if the file is group-executable or
 * the caller is not in its group; clear file capabilities.  The kernel asks
 * for it (FUSE_HANDLE_KILLPRIV_V2) because the daemon's own writes, as root,
 * would not.  fd may be O_PATH.
 */
int privs_kill(int fd, const struct fuse_in_header *hdr)
{
	mode_t kill = S_ISUID;
	char path[PROC_FD_PATH_MAX];
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	if ((st.st_mode & S_ISGID) && ((st.st_mode & S_IXGRP) || !caller_in_group(hdr, st.st_gid)))
		kill |= S_ISGID;
	proc_fd_path(path, fd);
	if ((st.st_mode & kill) && chmod(path, st.st_mode & ~kill & 07777) < 0)
		return -errno;
	if (removexattr(path, "security.capability") < 0 && errno != ENODATA &&
	    errno != EOPNOTSUPP)
		return -errno;
	return 0;
}

/*
 * Flags the daemon's own fd must not carry: creation is done by CREATE, and
 * O_DIRECT would need aligned buffers (a passthrough open still gets
 * O_DIRECT: the kernel opens its backing file with the caller's flags).
 */
#define OPEN_FLAGS_DROPPED (O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT)
/* And what a reopen (handle_fd) must not do again: truncate, or make a new inode. */
#define REOPEN_FLAGS_DROPPED (OPEN_FLAGS_DROPPED | O_TRUNC | O_TMPFILE)

/*
 * Whether the daemon must see this open's writes: an unprivileged caller's
 * write must clear setuid, setgid and file capabilities (privs_kill), and
 * passthrough writes never reach the daemon.
 */
static bool writes_kill_privs(const struct request *req, int fd, int flags)
{
	struct stat st;

	if (req->hdr->uid == 0 || (flags & O_ACCMODE) == O_RDONLY)
		return false;
	if (fstat(fd, &st) < 0)
		return true;
	/* Any setgid file: whether to clear it depends on the caller, per write. */
	if (st.st_mode & (S_ISUID | S_ISGID))
		return true;
	return fgetxattr(fd, "security.capability", NULL, 0) >= 0;
}

/*
 * Whether the policy must see this file's reads and writes: it filters READ
 * or WRITE, or they default to userspace.  Passthrough would hide them, and
 * the page cache would answer reads without asking.
 */
static bool data_filtered(const struct request *req)
{
	uint64_t data_ops = FUSEBPF_OP_BIT(FUSE_READ) | FUSEBPF_OP_BIT(FUSE_WRITE);

	for (uint32_t phase = FUSEBPF_PHASE_PRE; phase <= FUSEBPF_PHASE_POST; phase++)
		if (policy_has(req->filters, FUSE_READ, phase) ||
		    policy_has(req->filters, FUSE_WRITE, phase))
			return true;
	return fsd_config.user_ops & data_ops;
}

/*
 * The handle of an open counted by backing_open (its id, or 0), and the
 * reply's open_out.  Takes ownership of fd and of the caller's charge.
 */
static int open_handle(struct request *req, struct node *node, int fd, int flags, int id,
		       struct fusebpf_open_out *out)
{
	/* Asked only of an open the daemon serves: its data bypasses the page cache. */
	bool filtered = id == 0 && (data_filtered(req) || req->open_user);
	struct handle *h;
	int err;

	err = handle_new(node, fd, req->hdr->uid, flags & ~REOPEN_FLAGS_DROPPED, &h);
	if (err) {
		backing_release(node, id > 0, flags);
		return err;
	}
	req->new_fh = h->fh;
	h->user = req->open_user; /* the handle frees it from now on */
	req->open_user = NULL;
	h->is_file = true;
	/* Counted in that mode: the release of the handle uncounts it there. */
	h->passthrough = id > 0;
	memset(out, 0, sizeof(*out));
	out->fh = h->fh;
	if (id > 0) {
		out->backing_id = id;
		/*
		 * FLUSH would reach our fd, not the backing file the kernel
		 * writes through: it has nothing to flush.
		 */
		out->open_flags = FUSEBPF_FOPEN_PASSTHROUGH | FOPEN_NOFLUSH;
	} else if (filtered || req->no_cache || fsd_config.cache == CACHE_NEVER ||
		   (flags & O_DIRECT)) {
		out->open_flags = FOPEN_DIRECT_IO;
	} else if (fsd_config.cache == CACHE_ALWAYS && !req->no_cache) {
		out->open_flags = FOPEN_KEEP_CACHE;
	}
	return 0;
}

/*
 * Turns an open backing fd into a handle and the reply's open_out: kernel
 * passthrough when the inode's mode allows it, else the daemon serves data,
 * with the page cache as the cache mode says (never when the policy filters
 * data).  Takes ownership of fd and of the caller's charge (handle_charge).
 */
static int open_reply(struct request *req, struct node *node, int fd, int flags,
		      struct fusebpf_open_out *out)
{
	/* A userspace handler that claimed the open must see its data (user.h). */
	bool filtered = data_filtered(req) || req->open_user;
	bool want_passthrough = !filtered && !writes_kill_privs(req, fd, flags);
	int err = 0, id;

	id = backing_open(node, want_passthrough, flags);
	if (id > 0 && filtered) {
		/*
		 * The kernel keeps one I/O mode per inode, and this one is
		 * open in passthrough (from before a policy reload): joining it
		 * would hide this open's data from the policy.
		 */
		fsd_log("open of inode %llu: its data must reach the policy but it is open in "
			"passthrough: EBUSY", (unsigned long long)node->ino);
		err = -EBUSY;
	} else if (id > 0 && !want_passthrough) {
		/*
		 * The inode is already open in passthrough, which this open
		 * must join: its writes will not reach us, so clear the
		 * privileges now, as the first write would.
		 */
		err = privs_kill(fd, req->hdr);
	}
	if (id > 0 || err) {
		/*
		 * A passthrough open's fd is not needed any more: the kernel
		 * serves its data from the backing file it took its own
		 * reference to when the id was registered.
		 */
		close(fd);
		fd = -1;
	}
	if (err) {
		handle_uncharge(req->hdr->uid);
		/* Counted in its mode by backing_open: uncounted there. */
		backing_release(node, id > 0, flags);
		return err;
	}
	return open_handle(req, node, fd, flags, id, out);
}

/*
 * A read-only open of a file whose backing id is registered (by its other
 * opens, or kept from earlier ones) needs no fd of the daemon: the kernel
 * opens its own backing file from the id.  The daemon's open, as root,
 * would check nothing of the caller's that the kernel has not, and such an
 * open has nothing to truncate, no privileges to clear and no data a
 * policy must see.  What the kernel's open of a backing file skips, and
 * the daemon's open did not: the backing file's own open and close
 * notifications (inotify IN_OPEN; fanotify's permission events still
 * come) and IMA's appraisal at open.  Returns the id, or 0 when the open
 * needs the daemon's own.
 */
static int open_by_backing_id(struct request *req, const struct fuse_open_in *in)
{
	if ((in->flags & (O_ACCMODE | O_TRUNC)) != O_RDONLY ||
	    (in->open_flags & FUSE_OPEN_KILL_SUIDGID) || data_filtered(req) || req->open_user)
		return 0;
	return backing_open_kept(req->node);
}

OP_HANDLER(op_open)
{
	const struct fuse_open_in *in = req->in;
	int fd, err, id;

	err = handle_charge(req->hdr->uid);
	if (err)
		return err;
	reply_arg(req, sizeof(req->arg.open));
	id = open_by_backing_id(req, in);
	if (id > 0)
		return open_handle(req, req->node, -1, in->flags, id, &req->arg.open);
	fd = node_open(req->node, in->flags & ~OPEN_FLAGS_DROPPED);
	if (fd < 0) {
		handle_uncharge(req->hdr->uid);
		return fd;
	}
	if ((in->open_flags & FUSE_OPEN_KILL_SUIDGID) && (err = privs_kill(fd, req->hdr))) {
		close(fd);
		handle_uncharge(req->hdr->uid);
		return err;
	}
	return open_reply(req, req->node, fd, in->flags, &req->arg.open);
}

/*
 * Creates with the caller's ids (create_begin).  Returns the open fd and,
 * in *pathfd, an O_PATH fd of the same inode for its node.
 */
static int create_fd(struct request *req, int dirfd, const char *name, int flags, mode_t mode,
		     uint32_t umask_bits, int *pathfd)
{
	char path[PROC_FD_PATH_MAX];
	int fd, err = 0;

	create_begin(req, umask_bits);
	fd = openat(dirfd, name, (flags & ~O_DIRECT) | O_NOCTTY | O_CLOEXEC, mode);
	if (fd < 0)
		err = -errno;
	create_end(req);
	if (err)
		return err;
	proc_fd_path(path, fd);
	*pathfd = open(path, O_PATH | O_CLOEXEC);
	if (*pathfd < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * A file open O_RDWR by passthrough gets attributes without a timeout
 * (backing_attr_timeout), but the open that creates one checks its
 * permission as soon as the CREATE reply is in (may_open), and would ask
 * again for the attributes this reply carries: a GETATTR per create.  The
 * smallest timeout, one jiffy, covers that check.  It hides nothing: the
 * file is new and empty, and a shared mapping can change it only once
 * something has grown it (write, truncate, fallocate), which the kernel
 * sees and which drops the attributes.
 */
static void create_attr_grace(struct fuse_entry_out *entry)
{
	if (!entry->attr_valid && !entry->attr_valid_nsec && fsd_config.attr_timeout > 0)
		entry->attr_valid_nsec = 1;
}

/*
 * The kernel sends CREATE for a name it believes missing.  The name is
 * created with O_EXCL: if it exists after all (made in the backing
 * directory behind a cached negative entry), ESTALE makes the kernel redo
 * the open with a fresh lookup instead of the daemon opening, as root, a
 * file that may not be the caller's to open.
 */
OP_HANDLER(op_create)
{
	const struct fuse_create_in *in = req->in;
	struct node *child;
	struct stat st;
	int dirfd, fd, pathfd, err;

	dirfd = node_fd(req->node);
	if (dirfd < 0)
		return dirfd;
	err = handle_charge(req->hdr->uid);
	if (err)
		return err;
	fd = create_fd(req, dirfd, req->name, in->flags | O_CREAT | O_EXCL | O_NOFOLLOW, in->mode,
		       in->umask, &pathfd);
	if (fd == -EEXIST && !(in->flags & O_EXCL))
		fd = -ESTALE;
	if (fd < 0) {
		handle_uncharge(req->hdr->uid);
		return fd;
	}
	err = node_from_fd(pathfd, true, req->node, &st, &child);
	if (err) {
		close(fd);
		handle_uncharge(req->hdr->uid);
		return err;
	}
	entry_reply(req, child, &st);
	err = open_reply(req, child, fd, in->flags, &req->arg.create.open);
	if (err)
		return err; /* the dispatcher takes the lookup back */
	/* The entry was filled before the open was counted. */
	backing_attr_timeout(child, &req->arg.create.entry.attr_valid,
			     &req->arg.create.entry.attr_valid_nsec);
	create_attr_grace(&req->arg.create.entry);
	reply_arg(req, sizeof(req->arg.create));
	return 0;
}

/*
 * An O_TMPFILE inode has no name to look up and may never have one: its
 * node keeps an O_PATH fd for its lifetime instead of a file handle.
 */
OP_HANDLER(op_tmpfile)
{
	const struct fuse_create_in *in = req->in;
	struct node *child;
	struct stat st;
	int dirfd, fd, pathfd, err;

	dirfd = node_fd(req->node);
	if (dirfd < 0)
		return dirfd;
	err = handle_charge(req->hdr->uid);
	if (err)
		return err;
	fd = create_fd(req, dirfd, ".", (in->flags & ~O_CREAT) | O_TMPFILE, in->mode, in->umask,
		       &pathfd);
	if (fd < 0) {
		handle_uncharge(req->hdr->uid);
		return fd;
	}
	err = node_from_fd(pathfd, false, req->node, &st, &child);
	if (err) {
		close(fd);
		handle_uncharge(req->hdr->uid);
		return err;
	}
	entry_reply(req, child, &st);
	err = open_reply(req, child, fd, in->flags, &req->arg.create.open);
	if (err)
		return err;
	/* The entry was filled before the open was counted. */
	backing_attr_timeout(child, &req->arg.create.entry.attr_valid,
			     &req->arg.create.entry.attr_valid_nsec);
	reply_arg(req, sizeof(req->arg.create));
	return 0;
}

OP_HANDLER(op_read)
{
	const struct fuse_read_in *in = req->in;
	struct handle *h = handle_get(in->fh);
	size_t size = in->size < FSD_MAX_WRITE ? in->size : FSD_MAX_WRITE;
	ssize_t n = -1;
	int fd, err = 0;

	if (!h)
		return -EBADF;
	fd = handle_fd(h);
	if (fd < 0)
		err = fd;
	else if ((n = pread(fd, req->worker->out_buf, size, in->offset)) < 0)
		err = -errno;
	handle_fd_put(h, fd);
	handle_put(h);
	if (err)
		return err;
	reply_data(req, req->worker->out_buf, n);
	return 0;
}

/* Privileges go before the data changes, as on a local filesystem. */
OP_HANDLER(op_write)
{
	const struct fuse_write_in *in = req->in;
	struct handle *h;
	ssize_t n = 0;
	int fd, err = 0;

	if (in->size > req->data_len)
		return -EINVAL;
	h = handle_get(in->fh);
	if (!h)
		return -EBADF;
	fd = handle_fd(h);
	if (fd < 0)
		err = fd;
	else if (in->write_flags & FUSE_WRITE_KILL_SUIDGID)
		err = privs_kill(fd, req->hdr);
	if (!err && (n = pwrite(fd, req->data, in->size, in->offset)) < 0)
		err = -errno;
	handle_fd_put(h, fd);
	handle_put(h);
	if (err)
		return err;
	memset(&req->arg.write, 0, sizeof(req->arg.write));
	req->arg.write.size = n;
	reply_arg(req, sizeof(req->arg.write));
	return 0;
}

OP_HANDLER(op_release)
{
	const struct fuse_release_in *in = req->in;

	return handle_release(in->fh);
}

/*
 * close() of a duplicate: what a close on the backing file would report.  A
 * passthrough file has no fd of ours (and asks for no FLUSH): nothing to do.
 */
OP_HANDLER(op_flush)
{
	const struct fuse_flush_in *in = req->in;
	struct handle *h = handle_get(in->fh);
	int fd, err = 0;

	if (!h)
		return -EBADF;
	if (h->fd >= 0) {
		fd = dup(h->fd);
		if (fd < 0 || close(fd) < 0)
			err = -errno;
	}
	handle_put(h);
	return err;
}

OP_HANDLER(op_fsync)
{
	const struct fuse_fsync_in *in = req->in;
	struct handle *h = handle_get(in->fh);
	int fd, err = 0;

	if (!h)
		return -EBADF;
	fd = handle_fd(h);
	if (fd < 0)
		err = fd;
	else if ((in->fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(fd) : fsync(fd))
		err = -errno;
	handle_fd_put(h, fd);
	handle_put(h);
	return err;
}

OP_HANDLER(op_fallocate)
{
	const struct fuse_fallocate_in *in = req->in;
	struct handle *h = handle_get(in->fh);
	int fd, err = 0;

	if (!h)
		return -EBADF;
	fd = handle_fd(h);
	if (fd < 0)
		err = fd;
	/* The kernel sends no kill request for these: an unprivileged change is one. */
	else if (req->hdr->uid)
		err = privs_kill(fd, req->hdr);
	if (!err && fallocate(fd, in->mode, in->offset, in->length) < 0)
		err = -errno;
	handle_fd_put(h, fd);
	handle_put(h);
	return err;
}

OP_HANDLER(op_lseek)
{
	const struct fuse_lseek_in *in = req->in;
	struct handle *h = handle_get(in->fh);
	off_t off = -1;
	int fd, err = 0;

	if (!h)
		return -EBADF;
	/* SEEK_DATA and SEEK_HOLE: the answer does not depend on the fd's position. */
	fd = handle_fd(h);
	if (fd < 0)
		err = fd;
	else if ((off = lseek(fd, in->offset, in->whence)) < 0)
		err = -errno;
	handle_fd_put(h, fd);
	handle_put(h);
	if (err)
		return err;
	memset(&req->arg.lseek, 0, sizeof(req->arg.lseek));
	req->arg.lseek.offset = off;
	reply_arg(req, sizeof(req->arg.lseek));
	return 0;
}

/* The reply's size is 32 bits: copy no more than it can say, as the kernel asks no more. */
#define COPY_MAX (UINT32_MAX & ~4095u)

OP_HANDLER(op_copy_file_range)
{
	const struct fuse_copy_file_range_in *in = req->in;
	struct handle *src = handle_get(in->fh_in), *dst = handle_get(in->fh_out);
	loff_t off_in = in->off_in, off_out = in->off_out;
	size_t len = in->len < COPY_MAX ? in->len : COPY_MAX;
	int src_fd = -1, dst_fd = -1, err = 0;
	ssize_t n = -1;

	if (!src || !dst)
		err = -EBADF;
	else if ((src_fd = handle_fd(src)) < 0)
		err = src_fd;
	else if ((dst_fd = handle_fd(dst)) < 0)
		err = dst_fd;
	else if (req->hdr->uid && (err = privs_kill(dst_fd, req->hdr)))
		; /* as FALLOCATE: the kernel sends no kill request */
	else if ((n = copy_file_range(src_fd, &off_in, dst_fd, &off_out, len, in->flags)) < 0)
		err = -errno;
	if (src)
		handle_fd_put(src, src_fd);
	if (dst)
		handle_fd_put(dst, dst_fd);
	handle_put(src);
	handle_put(dst);
	if (err)
		return err;
	memset(&req->arg.write, 0, sizeof(req->arg.write));
	req->arg.write.size = n;
	reply_arg(req, sizeof(req->arg.write));
	return 0;
}
