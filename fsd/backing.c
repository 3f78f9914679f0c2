// SPDX-License-Identifier: MIT
/*
 * Kernel passthrough backing ids: one per inode, registered with
 * FUSE_DEV_IOC_BACKING_OPEN on the first passthrough open and closed with
 * FUSE_DEV_IOC_BACKING_CLOSE when the last one is released.  The kernel keeps
 * its own reference to the backing file while FUSE files use it.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <sys/ioctl.h>

int fsd_passthrough; /* set by INIT when the kernel accepted FUSE_PASSTHROUGH */
int fsd_session_fd = -1; /* the device fd the ioctls go to */

static pthread_mutex_t backing_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t backing_ids; /* registered now, guarded by backing_lock */

int backing_get(struct node *node, int fd)
{
	struct fusebpf_backing_map map = { .fd = fd };
	int id;

	pthread_mutex_lock(&backing_lock);
	if (node->backing_failed) {
		id = -EOPNOTSUPP;
	} else if (node->backing_opens) {
		node->backing_opens++;
		id = node->backing_id;
	} else {
		id = ioctl(fsd_session_fd, FUSEBPF_DEV_IOC_BACKING_OPEN, &map);
		if (id > 0) {
			node->backing_id = id;
			node->backing_opens = 1;
			backing_ids++;
		} else {
			/*
			 * Refused for this inode (a backing fs stacked too
			 * deep, say): its opens are served by the daemon.
			 * Other inodes keep passthrough.
			 */
			id = id < 0 ? -errno : -EIO;
			node->backing_failed = true;
			fsd_log("passthrough refused for inode %llu: %d, serving it in the daemon",
				(unsigned long long)node->ino, id);
		}
	}
	pthread_mutex_unlock(&backing_lock);
	return id;
}

void backing_put(struct node *node)
{
	pthread_mutex_lock(&backing_lock);
	if (node->backing_opens && --node->backing_opens == 0) {
		uint32_t id = node->backing_id;

		if (ioctl(fsd_session_fd, FUSEBPF_DEV_IOC_BACKING_CLOSE, &id) < 0)
			fsd_log("closing backing id %u: errno %d", id, errno);
		node->backing_id = 0;
		backing_ids--;
	}
	pthread_mutex_unlock(&backing_lock);
}

uint64_t backing_count(void)
{
	uint64_t n;

	pthread_mutex_lock(&backing_lock);
	n = backing_ids;
	pthread_mutex_unlock(&backing_lock);
	return n;
}
