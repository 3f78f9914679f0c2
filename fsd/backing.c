// SPDX-License-Identifier: MIT
/*
 * The I/O mode of each inode's opens, and kernel passthrough backing ids.
 *
 * The kernel requires all opens of an inode to agree: either every one is
 * passthrough (FOPEN_PASSTHROUGH, sharing one backing file) or none is (the
 * daemon serves READ and WRITE).  A new open joins the mode of the opens
 * that exist; only an inode with no opens chooses.  Its backing id is
 * registered with FUSE_DEV_IOC_BACKING_OPEN on the first passthrough open,
 * by an O_PATH fd of the node (backing_register): it holds no read or
 * write access to the inode, only the inode, as the fd cache's fds do.
 *
 * When the last open is released the id is kept, within a budget of
 * fd_cache_max ids, and closed with FUSE_DEV_IOC_BACKING_CLOSE when the
 * kernel forgets the node or the node's cached fd is evicted (node.c),
 * whichever comes first.  The next open of the file then costs the daemon
 * no ioctl, and a read-only one not even an open of its own
 * (backing_open_kept): the kernel opens its backing file from the id.  A
 * kept id is not an open: it binds the inode to no I/O mode.
 *
 * While an inode is open for writing in passthrough, writes through a
 * shared mapping reach the backing file (its mtime and ctime) without the
 * kernel's FUSE inode seeing them, so the kernel may not cache its
 * attributes.  Only an O_RDWR open can make such a mapping: mmap needs
 * read access, and a shared mapping can be written only through a file
 * open for writing.  An O_WRONLY open writes by write(2), truncate and
 * fallocate, each of which the kernel sees and drops the attributes for.
 * So the attributes of a file being written by `cp` or `tar` stay cached.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int fsd_passthrough; /* set by INIT when the kernel accepted FUSE_PASSTHROUGH */
int fsd_session_fd = -1; /* the device fd the ioctls go to */

static pthread_mutex_t backing_lock = PTHREAD_MUTEX_INITIALIZER;
static struct backing_stats backing_stats; /* guarded by backing_lock */
static uint64_t backing_kept_max;

void backing_init(uint64_t kept_max)
{
	backing_kept_max = kept_max;
}

/* Gives the node's id back to the kernel.  backing_lock held. */
static void backing_unregister(struct node *node)
{
	uint32_t id = node->backing_id;

	if (ioctl(fsd_session_fd, FUSEBPF_DEV_IOC_BACKING_CLOSE, &id) < 0)
		fsd_log("closing backing id %u: %s", id, strerror(errno));
	node->backing_id = 0;
}

/*
 * Registers pathfd, an O_PATH fd of the node on the mount's copy
 * (node_open_link), as its backing file.  The kernel opens each
 * passthrough file from the registered file's path with that open's own
 * flags, so the id holds no read or write access to the inode (an exec of
 * the backing file, a read-only remount and leases are not refused for
 * it), and reads keep the FUSE mount's atime rule, whichever open
 * registered it.  backing_lock held.
 */
static int backing_register(struct node *node, int pathfd)
{
	struct fusebpf_backing_map map = { .fd = pathfd };
	int id = ioctl(fsd_session_fd, FUSEBPF_DEV_IOC_BACKING_OPEN, &map);

	if (id > 0) {
		node->backing_id = id;
		return id;
	}
	/*
	 * Refused for this inode (a backing fs stacked too deep, say): its
	 * opens are served by the daemon.  Other inodes keep passthrough.
	 */
	node->backing_failed = true;
	fsd_log("passthrough refused for inode %llu: %s; the daemon serves its data",
		(unsigned long long)node->ino, id < 0 ? strerror(errno) : "no id");
	return 0;
}

/* Whether an open of these flags can write the file through a shared mapping. */
static bool maps_writable(int open_flags)
{
	return (open_flags & O_ACCMODE) == O_RDWR;
}

/* Whether node has a backing id now (of its opens, or kept). */
static bool backing_registered(struct node *node)
{
	bool registered;

	pthread_mutex_lock(&backing_lock);
	registered = node->backing_id > 0;
	pthread_mutex_unlock(&backing_lock);
	return registered;
}

int backing_open(struct node *node, bool want_passthrough, int open_flags)
{
	bool first_writer = false;
	int id = 0, pathfd = -1;

	/*
	 * The fd to register, opened outside the lock (node.c's lock is
	 * taken before it).  None: this open is the daemon's, and a later
	 * one tries again.
	 */
	if (want_passthrough && fsd_passthrough && !backing_registered(node))
		pathfd = node_open_link(node);
	pthread_mutex_lock(&backing_lock);
	if (node->backing_opens) {
		id = node->backing_id; /* the kernel requires the inode's mode */
	} else if (!node->cached_opens && want_passthrough && fsd_passthrough &&
		   !node->backing_failed) {
		if (node->backing_id > 0) {
			id = node->backing_id;
			backing_stats.kept--;
		} else if (pathfd >= 0) {
			id = backing_register(node, pathfd);
		}
		if (id > 0)
			backing_stats.in_use++;
	}
	if (id > 0) {
		node->backing_opens++;
		if (maps_writable(open_flags))
			first_writer = node->backing_map_writers++ == 0;
	} else {
		node->cached_opens++;
	}
	pthread_mutex_unlock(&backing_lock);
	if (pathfd >= 0)
		close(pathfd);
	/*
	 * From now on replies about the inode carry no attribute timeout
	 * (backing_attr_timeout); the attributes the kernel cached before (a
	 * LOOKUP's, for attr_timeout) are dropped here, after the count, so
	 * that no reply with a timeout can outlive it (a reply sent before
	 * the drop is older than it, and the kernel discards it).
	 */
	if (first_writer && fsd_config.attr_timeout > 0)
		dev_notify_inval_inode(node->nodeid);
	return id;
}

int backing_open_kept(struct node *node)
{
	int id = 0;

	pthread_mutex_lock(&backing_lock);
	if (node->backing_id > 0 && !node->cached_opens) {
		id = node->backing_id;
		if (node->backing_opens++ == 0) {
			backing_stats.kept--;
			backing_stats.in_use++;
		}
		backing_stats.opens_without_fd++;
	}
	pthread_mutex_unlock(&backing_lock);
	return id;
}

void backing_release(struct node *node, bool passthrough, int open_flags)
{
	pthread_mutex_lock(&backing_lock);
	if (passthrough && maps_writable(open_flags))
		node->backing_map_writers--;
	if (!passthrough) {
		node->cached_opens--;
	} else if (--node->backing_opens == 0) {
		backing_stats.in_use--;
		if (backing_stats.kept < backing_kept_max)
			backing_stats.kept++;
		else
			backing_unregister(node);
	}
	pthread_mutex_unlock(&backing_lock);
}

void backing_forget(struct node *node)
{
	pthread_mutex_lock(&backing_lock);
	if (node->backing_id > 0 && !node->backing_opens) {
		backing_unregister(node);
		backing_stats.kept--;
	}
	pthread_mutex_unlock(&backing_lock);
}

void backing_attr_timeout(struct node *node, uint64_t *sec, uint32_t *nsec)
{
	if (!fsd_passthrough)
		return;
	pthread_mutex_lock(&backing_lock);
	if (node->backing_map_writers) {
		*sec = 0;
		*nsec = 0;
	}
	pthread_mutex_unlock(&backing_lock);
}

void backing_stats_get(struct backing_stats *out)
{
	pthread_mutex_lock(&backing_lock);
	*out = backing_stats;
	pthread_mutex_unlock(&backing_lock);
}
