// SPDX-License-Identifier: MIT
/*
 * Open file and directory handles: the fh the kernel passes back on READ,
 * WRITE, RELEASE and friends.  Handles are numbered from a counter and found
 * through a hash table; a handle holds a reference to its node and the
 * backing fd opened with the caller's flags, and the state of a userspace
 * module that claimed the open (user.h).
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define HANDLE_BUCKETS 4096 /* fixed: open handles are bounded by the fd limit */

static struct {
	pthread_mutex_t lock;
	struct handle *buckets[HANDLE_BUCKETS];
	uint64_t next_fh;
	uint64_t count;
} handles = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_fh = 1 };

static struct handle **bucket(uint64_t fh)
{
	return &handles.buckets[fh & (HANDLE_BUCKETS - 1)];
}

int handle_new(struct node *node, int fd, struct handle **out)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->node = node;
	h->fd = fd;
	h->refs = 1; /* the table's */
	pthread_mutex_init(&h->dir_lock, NULL);
	pthread_mutex_lock(&handles.lock);
	h->fh = handles.next_fh++;
	h->next = *bucket(h->fh);
	*bucket(h->fh) = h;
	handles.count++;
	pthread_mutex_unlock(&handles.lock);
	*out = h;
	return 0;
}

struct handle *handle_get(uint64_t fh)
{
	struct handle *h;

	pthread_mutex_lock(&handles.lock);
	for (h = *bucket(fh); h; h = h->next)
		if (h->fh == fh)
			break;
	if (h)
		h->refs++;
	pthread_mutex_unlock(&handles.lock);
	return h;
}

/*
 * The kernel sends nothing on an fh after its RELEASE, but a request on it
 * may still be in flight on another worker: the last reference frees.
 */
void handle_put(struct handle *h)
{
	bool last;

	if (!h)
		return;
	pthread_mutex_lock(&handles.lock);
	last = --h->refs == 0;
	pthread_mutex_unlock(&handles.lock);
	if (!last)
		return;
	if (h->is_file)
		backing_release(h->node, h->passthrough);
	if (h->user && user_module->handle_free)
		user_module->handle_free(h->user);
	close(h->fd);
	node_put(h->node);
	pthread_mutex_destroy(&h->dir_lock);
	free(h->dir_buf);
	free(h);
}

int handle_release(uint64_t fh)
{
	struct handle **pp, *h = NULL;

	pthread_mutex_lock(&handles.lock);
	for (pp = bucket(fh); *pp; pp = &(*pp)->next) {
		if ((*pp)->fh == fh) {
			h = *pp;
			*pp = h->next;
			handles.count--;
			break;
		}
	}
	pthread_mutex_unlock(&handles.lock);
	if (!h)
		return -EBADF;
	handle_put(h); /* the table's reference */
	return 0;
}

bool handle_claimed(uint64_t fh)
{
	struct handle *h = handle_get(fh);
	bool claimed = h && h->user;

	handle_put(h);
	return claimed;
}

uint64_t handle_count(void)
{
	uint64_t n;

	pthread_mutex_lock(&handles.lock);
	n = handles.count;
	pthread_mutex_unlock(&handles.lock);
	return n;
}
