// SPDX-License-Identifier: MIT
/*
 * Directory opcodes: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR.
 *
 * Offsets are the backing filesystem's own getdents64 d_off cookies, so
 * telldir/seekdir through the mount behave as on the backing directory.  A
 * handle buffers the records of one getdents64 call; a READDIR at the offset
 * where the previous one stopped continues from the buffer, any other
 * offset seeks the backing directory.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIR_BUF_SIZE (64 * 1024)
/* dir_emit: the name vanished since getdents; no record is smaller. */
#define DIR_SKIPPED 1

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

OP_HANDLER(op_opendir)
{
	struct fusebpf_open_out *out = &req->arg.open;
	struct handle *h;
	int fd, err;

	/* A listing holds an fd while it is open: it counts as an open (handle.c). */
	err = handle_charge(req->hdr->uid);
	if (err)
		return err;
	fd = node_open(req->node, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		handle_uncharge(req->hdr->uid);
		return fd;
	}
	err = handle_new(req->node, fd, req->hdr->uid, 0, &h);
	if (err)
		return err;
	req->new_fh = h->fh; /* released if the reply fails */
	memset(out, 0, sizeof(*out));
	out->fh = h->fh;
	/* Listings are cached for every caller alike: not when the policy says so. */
	if (fsd_config.cache == CACHE_ALWAYS && !req->no_cache)
		out->open_flags = FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE;
	reply_arg(req, sizeof(*out));
	return 0;
}

/* Makes the next buffered record the one at offset.  dir_lock held. */
static int dir_seek(struct handle *h, uint64_t offset)
{
	if (offset == h->dir_next_off && h->dir_buf)
		return 0;
	if (lseek(h->fd, offset, SEEK_SET) < 0)
		return -errno;
	h->dir_len = h->dir_pos = 0;
	h->dir_eof = false;
	h->dir_next_off = offset;
	return 0;
}

/* The next backing record, refilling the buffer; NULL at the end. */
static int dir_next(struct handle *h, struct linux_dirent64 **out)
{
	if (h->dir_pos >= h->dir_len) {
		long n;

		if (h->dir_eof) {
			*out = NULL;
			return 0;
		}
		n = getdents64(h->fd, h->dir_buf, DIR_BUF_SIZE);
		if (n < 0)
			return -errno;
		h->dir_len = n;
		h->dir_pos = 0;
		if (n == 0) {
			h->dir_eof = true;
			*out = NULL;
			return 0;
		}
	}
	*out = (struct linux_dirent64 *)(h->dir_buf + h->dir_pos);
	return 0;
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Adds one record to the reply; for READDIRPLUS it also looks the name up,
 * handing the kernel a lookup that the reply carries (an entry that cannot
 * be looked up goes without, nodeid 0, rather than stopping the listing).
 * The policy's postfilter, if the verdict asked for one, sees each entry
 * and may leave it out or rename it.  dir is the directory the handle
 * reads.  Returns the bytes used, 0 when the reply is full, DIR_SKIPPED, or
 * -errno.
 */
static long dir_emit(struct request *req, struct node *dir, char *buf, size_t size,
		     const struct linux_dirent64 *d, bool plus)
{
	struct fusebpf_dirent de = { .ino = d->d_ino, .off = d->d_off, .type = d->d_type };
	char name[FUSEBPF_NAME_LEN] = ""; /* zero-padded, as a filter's map key wants it */
	size_t namelen = strlen(d->d_name);
	struct node *child = NULL;
	long used;
	int err;

	if (namelen >= sizeof(name))
		return DIR_SKIPPED; /* longer than any name FUSE can carry */
	memcpy(name, d->d_name, namelen + 1);
	/* Check the size first: an entry must not be looked up in vain. */
	if (FUSE_DIRENT_ALIGN((plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET) + namelen) >
	    size)
		return 0;
	/*
	 * The LOOKUP filters decide a name listed as they decide a lookup.
	 * READDIRPLUS lists "." and "..", and the names they leave to the
	 * kernel, without attributes (nodeid 0): the kernel does not link them,
	 * and looks them up itself when it needs them.
	 */
	err = is_dot_or_dotdot(name) ? 0 : request_entry_lookup(req, dir, name, plus, &de.entry,
								  &child);
	if (err)
		return DIR_SKIPPED;
	if (child) {
		de.ino = de.entry.attr.ino;
		de.type = (de.entry.attr.mode & S_IFMT) >> 12;
	}
	/* "." and ".." are no names a policy may hide or rename. */
	if (!is_dot_or_dotdot(name) && request_entry_filter(req, name, &de, child) < 0) {
		if (child)
			node_unlookup(child, 1); /* the kernel will not hear of it */
		node_put(child);
		return DIR_SKIPPED;
	}
	namelen = strlen(name);
	if (plus)
		used = direntplus_add(buf, size, name, namelen, de.ino, &de.entry, de.type, de.off);
	else
		used = dirent_add(buf, size, name, namelen, de.ino, de.type, de.off);
	if (!used && child)
		node_unlookup(child, 1); /* a rewritten name that no longer fits */
	node_put(child); /* the lookup, now the kernel's, keeps it */
	return used;
}

static int readdir_common(struct request *req, bool plus)
{
	const struct fuse_read_in *in = req->in;
	size_t size = in->size < FSD_MAX_WRITE ? in->size : FSD_MAX_WRITE;
	char *buf = req->worker->out_buf;
	struct handle *h = handle_get(in->fh);
	size_t len = 0;
	int err;

	if (!h)
		return -EBADF;
	pthread_mutex_lock(&h->dir_lock);
	if (!h->dir_buf && !(h->dir_buf = malloc(DIR_BUF_SIZE))) {
		err = -ENOMEM;
		goto out;
	}
	err = dir_seek(h, in->offset);
	while (!err) {
		struct linux_dirent64 *d = NULL;
		long used;

		err = dir_next(h, &d);
		if (err || !d)
			break;
		/* The handle's directory: a request's nodeid need not be it. */
		used = dir_emit(req, h->node, buf + len, size - len, d, plus);
		if (used < 0)
			err = used;
		if (used <= 0)
			break;
		if (used != DIR_SKIPPED)
			len += used;
		h->dir_pos += d->d_reclen;
		h->dir_next_off = d->d_off;
	}
	/* An error after some entries: return those, the next call retries. */
	if (len)
		err = 0;
	reply_data(req, buf, len);
out:
	pthread_mutex_unlock(&h->dir_lock);
	handle_put(h);
	return err;
}

OP_HANDLER(op_readdir)
{
	return readdir_common(req, false);
}

OP_HANDLER(op_readdirplus)
{
	return readdir_common(req, true);
}

OP_HANDLER(op_releasedir)
{
	const struct fuse_release_in *in = req->in;

	return handle_release(in->fh);
}

/* The same as FSYNC: fuse_fsync_in, and the handle's fd is the directory. */
OP_HANDLER(op_fsyncdir)
{
	return op_fsync(req);
}
