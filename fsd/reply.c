// SPDX-License-Identifier: MIT
/*
 * Reply encoding: struct stat to fuse_attr, entry and attribute replies
 * with the configured cache timeouts, and directory entries in the
 * kernel's 8-byte aligned dirent and direntplus records.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <math.h>
#include <string.h>

void timeout_split(double seconds, uint64_t *sec, uint32_t *nsec)
{
	if (seconds <= 0) {
		*sec = 0;
		*nsec = 0;
		return;
	}
	*sec = (uint64_t)seconds;
	*nsec = (uint32_t)((seconds - floor(seconds)) * 1e9);
}

void attr_from_stat(struct fuse_attr *attr, const struct stat *st)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = st->st_ino;
	attr->size = st->st_size;
	attr->blocks = st->st_blocks;
	attr->atime = st->st_atim.tv_sec;
	attr->mtime = st->st_mtim.tv_sec;
	attr->ctime = st->st_ctim.tv_sec;
	attr->atimensec = st->st_atim.tv_nsec;
	attr->mtimensec = st->st_mtim.tv_nsec;
	attr->ctimensec = st->st_ctim.tv_nsec;
	attr->mode = st->st_mode;
	attr->nlink = st->st_nlink;
	attr->uid = st->st_uid;
	attr->gid = st->st_gid;
	attr->rdev = st->st_rdev;
	attr->blksize = st->st_blksize;
}

void cache_timeouts_from_config(struct cache_timeouts *t)
{
	t->entry = fsd_config.entry_timeout;
	t->negative = fsd_config.negative_timeout;
	t->attr = fsd_config.attr_timeout;
}

void entry_fill(struct fuse_entry_out *e, uint64_t nodeid, uint32_t generation,
		const struct stat *st, const struct cache_timeouts *t)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid;
	e->generation = generation; /* the node's: (nodeid, generation) names one inode */
	timeout_split(t->entry, &e->entry_valid, &e->entry_valid_nsec);
	timeout_split(t->attr, &e->attr_valid, &e->attr_valid_nsec);
	attr_from_stat(&e->attr, st);
}

/* A reply with nodeid 0 lets the kernel cache the absence of a name. */
void entry_fill_negative(struct fuse_entry_out *e, const struct cache_timeouts *t)
{
	memset(e, 0, sizeof(*e));
	timeout_split(t->negative, &e->entry_valid, &e->entry_valid_nsec);
}

void attr_out_fill(struct fuse_attr_out *a, const struct stat *st, const struct cache_timeouts *t)
{
	memset(a, 0, sizeof(*a));
	timeout_split(t->attr, &a->attr_valid, &a->attr_valid_nsec);
	attr_from_stat(&a->attr, st);
}

size_t dirent_add(char *buf, size_t size, const char *name, size_t namelen, uint64_t ino,
		  uint32_t type, uint64_t off)
{
	size_t reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
	struct fuse_dirent *d = (struct fuse_dirent *)buf;

	if (reclen > size)
		return 0;
	d->ino = ino;
	d->off = off;
	d->namelen = namelen;
	d->type = type;
	memcpy(d->name, name, namelen);
	memset(d->name + namelen, 0, reclen - FUSE_NAME_OFFSET - namelen);
	return reclen;
}

size_t direntplus_add(char *buf, size_t size, const char *name, size_t namelen, uint64_t ino,
		      const struct fuse_entry_out *e, uint32_t type, uint64_t off)
{
	size_t reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + namelen);
	struct fuse_direntplus *dp = (struct fuse_direntplus *)buf;

	if (reclen > size)
		return 0;
	dp->entry_out = *e;
	dp->dirent.ino = ino;
	dp->dirent.off = off;
	dp->dirent.namelen = namelen;
	dp->dirent.type = type;
	memcpy(dp->dirent.name, name, namelen);
	memset(dp->dirent.name + namelen, 0, reclen - FUSE_NAME_OFFSET_DIRENTPLUS - namelen);
	return reclen;
}
