// SPDX-License-Identifier: MIT
/*
 * Opcodes on names and inodes: LOOKUP, GETATTR, SETATTR, STATX, READLINK,
 * the creating opcodes (SYMLINK, MKNOD, MKDIR, LINK), UNLINK, RMDIR, RENAME,
 * RENAME2 and ACCESS.  Every name is one checked path component resolved
 * against the parent's backing fd, never followed if it is a symlink.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <unistd.h>

void entry_reply(struct request *req, struct node *node, const struct stat *st)
{
	entry_fill(&req->arg.entry, node->nodeid, node->generation, st, &req->cache);
	backing_attr_timeout(node, &req->arg.entry.attr_valid, &req->arg.entry.attr_valid_nsec);
	req->new_node = node;
	reply_arg(req, sizeof(req->arg.entry));
}

/*
 * The LOOKUP reply to a FUSE-BPF kernel carries, after the entry, the
 * child's backing file, as an fd of ours that the kernel takes when it
 * reads the reply (closed once it is sent), and the child's policy by
 * name, or REMOVE_BPF if it does not have its parent's.  Such a reply goes
 * to the kernel through an ioctl, not a write (dev_reply).
 */
int lookup_bpf_entries(struct request *req, struct node *child)
{
	struct fusebpf_lookup_entry *e = req->entries;
	struct policy *policy = node_policy(child);
	int fd, n = 0;

	/*
	 * Files and directories opened for reading, anything else by its
	 * O_PATH fd; all on the backing mount itself (node_fd), not on its
	 * copy for atime (tree.c): the kernel takes only fds under the
	 * mount's backing directory, and keeps atime by the mount's rule.
	 */
	fd = node_fd(child);
	if (fd >= 0 && (S_ISREG(child->type) || S_ISDIR(child->type)))
		fd = fd_reopen(fd, O_RDONLY | (S_ISDIR(child->type) ? O_DIRECTORY : 0));
	else if (fd >= 0 && (fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		fd = -errno;
	if (fd < 0)
		return fd;
	req->reply_fd = fd;
	memset(req->entries, 0, sizeof(req->entries));
	e[n].entry_type = FUSEBPF_ENTRY_BACKING;
	e[n++].fd = fd;
	if (policy) {
		e[n].entry_type = FUSEBPF_ENTRY_BPF;
		snprintf(e[n++].name, sizeof(e->name), "%s", policy_name(policy));
	} else if (node_policy(req->node)) {
		e[n++].entry_type = FUSEBPF_ENTRY_REMOVE_BPF;
	}
	if (fsd_config.debug) {
		char path[PROC_FD_PATH_MAX], target[PATH_MAX] = "?";
		ssize_t len;

		/* The node's own fd: fd may be on a mount's copy (tree.c), which has no path here. */
		proc_fd_path(path, node_fd(child) >= 0 ? node_fd(child) : fd);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 1] = '\0';
		fsd_log("<- LOOKUP entries: BACKING fd=%d (%s)%s%s", fd, target,
			n > 1 ? (policy ? ", BPF " : ", REMOVE_BPF") : "",
			n > 1 && policy ? policy_name(policy) : "");
	}
	reply_data(req, req->entries, n * sizeof(*e));
	req->reply_ioctl = true;
	return 0;
}

OP_HANDLER(op_lookup)
{
	struct node *child;
	struct stat st;
	int err;

	err = node_lookup(req->node, req->name, &st, &child);
	if (err == -ENOENT && req->cache.negative > 0) {
		entry_fill_negative(&req->arg.entry, &req->cache);
		reply_arg(req, sizeof(req->arg.entry));
		return 0;
	}
	if (err)
		return err;
	entry_reply(req, child, &st);
	return 0;
}

OP_HANDLER(op_getattr)
{
	const struct fuse_getattr_in *in = req->in;
	struct handle *h = NULL;
	struct stat st;
	int fd, err = 0;

	if (in->getattr_flags & FUSE_GETATTR_FH)
		h = handle_get(in->fh);
	fd = h && h->fd >= 0 ? h->fd : node_fd(req->node);
	if (fd < 0)
		err = fd;
	else if (fstat(fd, &st) < 0)
		err = -errno;
	handle_put(h);
	if (err)
		return err;
	attr_out_fill(&req->arg.attr, &st, &req->cache);
	backing_attr_timeout(req->node, &req->arg.attr.attr_valid, &req->arg.attr.attr_valid_nsec);
	reply_arg(req, sizeof(req->arg.attr));
	return 0;
}

static struct timespec setattr_time(uint32_t valid, uint32_t set_bit, uint32_t now_bit,
				    uint64_t sec, uint32_t nsec)
{
	if (valid & now_bit)
		return (struct timespec){ .tv_nsec = UTIME_NOW };
	if (valid & set_bit)
		return (struct timespec){ .tv_sec = sec, .tv_nsec = nsec };
	return (struct timespec){ .tv_nsec = UTIME_OMIT };
}

/*
 * Each attribute through the open handle when the kernel names one (the
 * file may be unlinked), else through the node's O_PATH fd.
 */
OP_HANDLER(op_setattr)
{
	const struct fuse_setattr_in *in = req->in;
	struct node *node = req->node;
	struct handle *h = NULL;
	char path[PROC_FD_PATH_MAX];
	struct stat st;
	int fd, hfd = -1, err = 0;

	if (in->valid & FATTR_FH)
		h = handle_get(in->fh);
	if (h && (hfd = handle_fd(h)) < 0) {
		err = hfd;
		goto out;
	}
	fd = node_fd(node);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	proc_fd_path(path, fd);

	if (in->valid & FATTR_MODE) {
		if (S_ISLNK(node->type))
			err = -EOPNOTSUPP;
		else if (h ? fchmod(hfd, in->mode) : chmod(path, in->mode))
			err = -errno;
		if (err)
			goto out;
	}
	if (in->valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = in->valid & FATTR_UID ? in->uid : (uid_t)-1;
		gid_t gid = in->valid & FATTR_GID ? in->gid : (gid_t)-1;

		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			err = -errno;
			goto out;
		}
	}
	if (in->valid & FATTR_SIZE) {
		if (h ? ftruncate(hfd, in->size) : truncate(path, in->size)) {
			err = -errno;
			goto out;
		}
	}
	/* After a truncate, or alone for a write the kernel passed through. */
	if ((in->valid & FATTR_KILL_SUIDGID) && (err = privs_kill(h ? hfd : fd, req->hdr)))
		goto out;
	if (in->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) {
		struct timespec ts[2] = {
			setattr_time(in->valid, FATTR_ATIME, FATTR_ATIME_NOW, in->atime,
				     in->atimensec),
			setattr_time(in->valid, FATTR_MTIME, FATTR_MTIME_NOW, in->mtime,
				     in->mtimensec),
		};

		if (h ? futimens(hfd, ts) : utimensat(fd, "", ts, AT_EMPTY_PATH)) {
			err = -errno;
			goto out;
		}
	}
	if (fstat(h ? hfd : fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	attr_out_fill(&req->arg.attr, &st, &req->cache);
	backing_attr_timeout(node, &req->arg.attr.attr_valid, &req->arg.attr.attr_valid_nsec);
	reply_arg(req, sizeof(req->arg.attr));
out:
	if (h)
		handle_fd_put(h, hfd);
	handle_put(h);
	return err;
}

static void sx_time(struct fusebpf_sx_time *t, const struct statx_timestamp *s)
{
	t->tv_sec = s->tv_sec;
	t->tv_nsec = s->tv_nsec;
}

OP_HANDLER(op_statx)
{
	const struct fusebpf_statx_in *in = req->in;
	struct fusebpf_statx_out *out = &req->arg.statx;
	struct fusebpf_statx *o = &out->stat;
	struct handle *h = NULL;
	struct statx sx;
	int fd, err = 0;
	/* Only the sync-type bits of the caller's flags mean anything here. */
	int flags = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | (in->sx_flags & AT_STATX_SYNC_TYPE);

	if (in->getattr_flags & FUSE_GETATTR_FH)
		h = handle_get(in->fh);
	fd = h && h->fd >= 0 ? h->fd : node_fd(req->node);
	if (fd < 0)
		err = fd;
	else if (statx(fd, "", flags, in->sx_mask | STATX_BASIC_STATS, &sx) < 0)
		err = -errno;
	handle_put(h);
	if (err)
		return err;

	memset(out, 0, sizeof(*out));
	timeout_split(req->cache.attr, &out->attr_valid, &out->attr_valid_nsec);
	backing_attr_timeout(req->node, &out->attr_valid, &out->attr_valid_nsec);
	o->mask = sx.stx_mask;
	o->blksize = sx.stx_blksize;
	o->attributes = sx.stx_attributes;
	o->nlink = sx.stx_nlink;
	o->uid = sx.stx_uid;
	o->gid = sx.stx_gid;
	o->mode = sx.stx_mode;
	o->ino = sx.stx_ino;
	o->size = sx.stx_size;
	o->blocks = sx.stx_blocks;
	o->attributes_mask = sx.stx_attributes_mask;
	sx_time(&o->atime, &sx.stx_atime);
	sx_time(&o->btime, &sx.stx_btime);
	sx_time(&o->ctime, &sx.stx_ctime);
	sx_time(&o->mtime, &sx.stx_mtime);
	o->rdev_major = sx.stx_rdev_major;
	o->rdev_minor = sx.stx_rdev_minor;
	o->dev_major = sx.stx_dev_major;
	o->dev_minor = sx.stx_dev_minor;
	reply_arg(req, sizeof(*out));
	return 0;
}

OP_HANDLER(op_readlink)
{
	char *buf = req->worker->out_buf;
	ssize_t n;
	int fd = node_open_link(req->node);

	if (fd < 0)
		return fd;
	n = readlinkat(fd, "", buf, PATH_MAX);
	n = n < 0 ? -errno : n;
	close(fd);
	if (n < 0)
		return n;
	reply_data(req, buf, n);
	return 0;
}

/*
 * Creating calls run with the caller's fsuid and fsgid, so that the inode is
 * born the caller's (and, in a setgid directory, the directory's group), as
 * on a local filesystem.  The workers keep root's capabilities meanwhile
 * (SECBIT_NO_SETUID_FIXUP, set in main), so the backing filesystem does not
 * redo the permission checks the kernel already made with the caller's
 * supplementary groups.  Each worker has its own umask (CLONE_FS): the
 * caller's, so that the backing filesystem applies it or the directory's
 * default ACL (FUSE_DONT_MASK: the kernel left both to us).
 */
void create_begin(const struct request *req, uint32_t umask_bits)
{
	if (req->hdr->uid || req->hdr->gid) { /* root's are the worker's already */
		setfsgid(req->hdr->gid);
		setfsuid(req->hdr->uid);
	}
	if (fsd_dont_mask)
		umask(umask_bits & 0777);
}

void create_end(const struct request *req)
{
	if (req->hdr->uid || req->hdr->gid) {
		setfsuid(0);
		setfsgid(0);
	}
	if (fsd_dont_mask)
		umask(0);
}

/* After a successful create or link of name: look it up, reply with its entry. */
static int entry_reply_for(struct request *req, const char *name)
{
	struct node *child;
	struct stat st;
	int err;

	err = node_lookup(req->node, name, &st, &child);
	if (err)
		return err;
	entry_reply(req, child, &st);
	return 0;
}

OP_HANDLER(op_symlink)
{
	int dirfd = node_fd(req->node), err = 0;

	if (dirfd < 0)
		return dirfd;
	create_begin(req, 0);
	if (symlinkat(req->name2, dirfd, req->name) < 0)
		err = -errno;
	create_end(req);
	return err ? err : entry_reply_for(req, req->name);
}

OP_HANDLER(op_mknod)
{
	const struct fuse_mknod_in *in = req->in;
	int dirfd = node_fd(req->node), err = 0;

	if (dirfd < 0)
		return dirfd;
	create_begin(req, in->umask);
	if (mknodat(dirfd, req->name, in->mode, in->rdev) < 0)
		err = -errno;
	create_end(req);
	return err ? err : entry_reply_for(req, req->name);
}

OP_HANDLER(op_mkdir)
{
	const struct fuse_mkdir_in *in = req->in;
	int dirfd = node_fd(req->node), err = 0;

	if (dirfd < 0)
		return dirfd;
	create_begin(req, in->umask);
	if (mkdirat(dirfd, req->name, in->mode) < 0)
		err = -errno;
	create_end(req);
	return err ? err : entry_reply_for(req, req->name);
}

/* LINK: hdr->nodeid is the new parent, in->oldnodeid the inode. */
OP_HANDLER(op_link)
{
	const struct fuse_link_in *in = req->in;
	struct node *old = node_get(in->oldnodeid);
	int oldfd, dirfd, err = 0;

	if (!old)
		return -ESTALE;
	oldfd = node_fd(old);
	dirfd = node_fd(req->node);
	if (oldfd < 0 || dirfd < 0)
		err = oldfd < 0 ? oldfd : dirfd;
	else if (linkat(oldfd, "", dirfd, req->name, AT_EMPTY_PATH) < 0)
		err = -errno;
	node_put(old);
	return err ? err : entry_reply_for(req, req->name);
}

static int remove_entry(struct request *req, int flags)
{
	int dirfd = node_fd(req->node);

	if (dirfd < 0)
		return dirfd;
	return unlinkat(dirfd, req->name, flags) < 0 ? -errno : 0;
}

OP_HANDLER(op_unlink)
{
	return remove_entry(req, 0);
}

OP_HANDLER(op_rmdir)
{
	return remove_entry(req, AT_REMOVEDIR);
}

static int rename_entry(struct request *req, uint64_t newdir, uint32_t flags)
{
	struct node *dst = node_get(newdir);
	int olddirfd, newdirfd, err = 0;

	if (!dst)
		return -ESTALE;
	olddirfd = node_fd(req->node);
	newdirfd = node_fd(dst);
	if (olddirfd < 0 || newdirfd < 0)
		err = olddirfd < 0 ? olddirfd : newdirfd;
	else if (renameat2(olddirfd, req->name, newdirfd, req->name2, flags) < 0)
		err = -errno;
	node_put(dst);
	return err;
}

OP_HANDLER(op_rename)
{
	const struct fuse_rename_in *in = req->in;

	return rename_entry(req, in->newdir, 0);
}

OP_HANDLER(op_rename2)
{
	const struct fuse_rename2_in *in = req->in;

	return rename_entry(req, in->newdir, in->flags);
}

/*
 * Sent only without default_permissions: the check a local filesystem makes,
 * from the inode's mode and the caller's uid and gid (supplementary groups
 * are not on the wire).
 */
OP_HANDLER(op_access)
{
	const struct fuse_access_in *in = req->in;
	uint32_t want = in->mask & (R_OK | W_OK | X_OK), have;
	struct stat st;
	int fd = node_fd(req->node);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (req->hdr->uid == 0) {
		/* root may execute only what someone may execute */
		if ((want & X_OK) && !S_ISDIR(st.st_mode) && !(st.st_mode & 0111))
			return -EACCES;
		return 0;
	}
	if (st.st_uid == req->hdr->uid)
		have = (st.st_mode >> 6) & 7;
	else if (st.st_gid == req->hdr->gid)
		have = (st.st_mode >> 3) & 7;
	else
		have = st.st_mode & 7;
	return (want & ~have) ? -EACCES : 0;
}
