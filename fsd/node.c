// SPDX-License-Identifier: MIT
/*
 * The node table: every inode the kernel knows, by nodeid and by backing
 * (dev, ino), with a bounded cache of O_PATH fds.
 *
 * A node names its backing inode by file handle (name_to_handle_at), so it
 * needs no open fd while idle: the kernel can hold far more inodes than the
 * RLIMIT_NOFILE of the daemon.  An O_PATH fd is opened on demand
 * (open_by_handle_at) and kept in an LRU cache while nobody uses it.  On a
 * filesystem without file handles, or without the privilege to open them
 * (CAP_DAC_READ_SEARCH: fsd --dev-fd run as a user), the node keeps its fd
 * for its lifetime.
 *
 * Nodeids come from a counter and are never reused, so the FUSE generation
 * is always 0.  A node lives while the kernel holds lookups on it or a
 * request or open handle holds a reference.  A request's reference pins the
 * node's fd, which the request uses; an open handle's does not: a file held
 * open leaves its node's fd in the cache, to be closed like any idle one.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct mount_fd {
	int mount_id;
	int fd;
};

static struct {
	pthread_mutex_t lock;
	struct node **by_id; /* chained on id_next */
	struct node **by_key; /* chained on key_next, hashed nodes only */
	size_t nbuckets; /* power of two, both tables */
	size_t count;
	uint64_t next_id;
	struct node root;
	/* LRU of cached fds with refs == 0: head is the oldest. */
	struct node *lru_head, *lru_tail;
	size_t fds_cached, fd_cache_max;
	/* fds on each backing mount seen, for open_by_handle_at. */
	struct mount_fd mounts[16];
	unsigned nmounts;
	bool handles_denied; /* open_by_handle_at needs a privilege we lack (node_table_init) */
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t id_hash_in(uint64_t id, size_t nbuckets)
{
	return (size_t)(id * 0x9e3779b97f4a7c15ull) & (nbuckets - 1);
}

static size_t key_hash_in(dev_t dev, ino_t ino, size_t nbuckets)
{
	return (size_t)((ino ^ ((uint64_t)dev << 32)) * 0x9e3779b97f4a7c15ull) & (nbuckets - 1);
}

static size_t id_hash(uint64_t id)
{
	return id_hash_in(id, table.nbuckets);
}

static size_t key_hash(dev_t dev, ino_t ino)
{
	return key_hash_in(dev, ino, table.nbuckets);
}

static void lru_remove(struct node *n)
{
	if (n->lru_prev)
		n->lru_prev->lru_next = n->lru_next;
	else if (table.lru_head == n)
		table.lru_head = n->lru_next;
	else
		return; /* not on the list */
	if (n->lru_next)
		n->lru_next->lru_prev = n->lru_prev;
	else
		table.lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
}

static void lru_append(struct node *n)
{
	n->lru_prev = table.lru_tail;
	n->lru_next = NULL;
	if (table.lru_tail)
		table.lru_tail->lru_next = n;
	else
		table.lru_head = n;
	table.lru_tail = n;
}

/* Closes the oldest idle cached fd; false if there is none.  Lock held. */
static bool lru_evict_one(void)
{
	struct node *n = table.lru_head;

	if (!n)
		return false;
	lru_remove(n);
	close(n->fd);
	n->fd = -1;
	table.fds_cached--;
	return true;
}

static void table_grow(void)
{
	size_t nb = table.nbuckets * 2;
	struct node **by_id = calloc(nb, sizeof(*by_id));
	struct node **by_key = calloc(nb, sizeof(*by_key));

	if (!by_id || !by_key) {
		free(by_id);
		free(by_key);
		return; /* keep the longer chains */
	}
	for (size_t i = 0; i < table.nbuckets; i++) {
		struct node *n, *next;

		for (n = table.by_id[i]; n; n = next) {
			next = n->id_next;
			size_t h = id_hash_in(n->nodeid, nb);

			n->id_next = by_id[h];
			by_id[h] = n;
		}
		for (n = table.by_key[i]; n; n = next) {
			next = n->key_next;
			size_t h = key_hash_in(n->dev, n->ino, nb);

			n->key_next = by_key[h];
			by_key[h] = n;
		}
	}
	free(table.by_id);
	free(table.by_key);
	table.by_id = by_id;
	table.by_key = by_key;
	table.nbuckets = nb;
}

static void key_unhash(struct node *n)
{
	struct node **pp;

	if (!n->hashed)
		return;
	for (pp = &table.by_key[key_hash(n->dev, n->ino)]; *pp; pp = &(*pp)->key_next) {
		if (*pp == n) {
			*pp = n->key_next;
			break;
		}
	}
	n->hashed = false;
}

/* Unlinks and frees a node nobody references.  Lock held. */
static void node_free(struct node *n)
{
	struct node **pp;

	for (pp = &table.by_id[id_hash(n->nodeid)]; *pp; pp = &(*pp)->id_next) {
		if (*pp == n) {
			*pp = n->id_next;
			break;
		}
	}
	key_unhash(n);
	lru_remove(n);
	if (n->fd >= 0) {
		close(n->fd);
		if (n->handle_bytes)
			table.fds_cached--;
	}
	table.count--;
	free(n);
}

/* Frees the node if the kernel and every request are done with it. */
static void node_maybe_free(struct node *n)
{
	if (n->nlookup || n->refs || n->opens || n->nodeid == FSD_ROOT_ID)
		return;
	node_free(n);
}

static int mount_fd_find(int mount_id)
{
	for (unsigned i = 0; i < table.nmounts; i++)
		if (table.mounts[i].mount_id == mount_id)
			return table.mounts[i].fd;
	return -1;
}

/*
 * Remembers an fd on the mount a newly seen handle belongs to, opened from
 * a directory's O_PATH fd (open_by_handle_at refuses O_PATH mount fds).  A
 * node on an unknown mount that is not a directory has no handle: its fd
 * stays pinned.  Lock held.
 */
static int mount_fd_add(int mount_id, int dir_path_fd)
{
	char path[PROC_FD_PATH_MAX];
	int fd;

	if (table.nmounts == sizeof(table.mounts) / sizeof(table.mounts[0]))
		return -1;
	proc_fd_path(path, dir_path_fd);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	table.mounts[table.nmounts].mount_id = mount_id;
	table.mounts[table.nmounts].fd = fd;
	table.nmounts++;
	return fd;
}

int node_table_init(const char *backing_dir, unsigned fd_cache)
{
	struct rlimit rl;
	struct stat st;
	int fd, err;

	table.nbuckets = 1024;
	table.by_id = calloc(table.nbuckets, sizeof(*table.by_id));
	table.by_key = calloc(table.nbuckets, sizeof(*table.by_key));
	if (!table.by_id || !table.by_key)
		return -ENOMEM;

	fd = open(backing_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	table.root.nodeid = FSD_ROOT_ID;
	table.root.dev = st.st_dev;
	table.root.ino = st.st_ino;
	table.root.type = S_IFDIR;
	table.root.mount_fd = -1;
	table.root.fd = fd; /* pinned: handle_bytes stays 0 */
	{
		struct {
			struct file_handle fh;
			unsigned char bytes[NODE_HANDLE_MAX];
		} h = { .fh.handle_bytes = NODE_HANDLE_MAX };
		int mount_id;

		if (name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) == 0)
			table.root.mount_fd = mount_fd_add(mount_id, fd);
		table.handles_denied = false;
		if (table.root.mount_fd >= 0) {
			int probe = open_by_handle_at(table.root.mount_fd, &h.fh,
						      O_PATH | O_CLOEXEC);

			/* CAP_DAC_READ_SEARCH: fsd --dev-fd run as a user lacks it. */
			table.handles_denied = probe < 0 && errno == EPERM;
			if (probe >= 0)
				close(probe);
		}
	}
	table.root.nlookup = 1;
	table.root.id_next = NULL;
	table.by_id[id_hash(FSD_ROOT_ID)] = &table.root;
	table.count = 1;
	table.next_id = FSD_ROOT_ID + 1;

	/* Half the fd limit for idle nodes, the rest for open files. */
	if (!fd_cache) {
		fd_cache = 1024;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			fd_cache = rl.rlim_cur / 2;
	}
	table.fd_cache_max = fd_cache;
	return 0;
}

void node_table_destroy(void)
{
	pthread_mutex_lock(&table.lock);
	for (size_t i = 0; i < table.nbuckets; i++) {
		struct node *n, *next;

		for (n = table.by_id[i]; n; n = next) {
			next = n->id_next;
			if (n == &table.root)
				continue;
			if (n->fd >= 0)
				close(n->fd);
			free(n);
		}
	}
	if (table.root.fd >= 0)
		close(table.root.fd);
	table.root.fd = -1;
	for (unsigned i = 0; i < table.nmounts; i++)
		close(table.mounts[i].fd);
	table.nmounts = 0;
	free(table.by_id);
	free(table.by_key);
	table.by_id = table.by_key = NULL;
	table.count = table.fds_cached = 0;
	table.lru_head = table.lru_tail = NULL;
	pthread_mutex_unlock(&table.lock);
}

static struct node *id_find(uint64_t nodeid)
{
	struct node *n;

	for (n = table.by_id[id_hash(nodeid)]; n; n = n->id_next)
		if (n->nodeid == nodeid)
			return n;
	return NULL;
}

struct node *node_get(uint64_t nodeid)
{
	struct node *n;

	pthread_mutex_lock(&table.lock);
	n = id_find(nodeid);
	if (n) {
		if (n->refs++ == 0 && n->fd >= 0)
			lru_remove(n);
	}
	pthread_mutex_unlock(&table.lock);
	return n;
}

void node_ref(struct node *n)
{
	pthread_mutex_lock(&table.lock);
	if (n->refs++ == 0 && n->fd >= 0)
		lru_remove(n);
	pthread_mutex_unlock(&table.lock);
}

void node_put(struct node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&table.lock);
	if (--n->refs == 0) {
		if (n->fd >= 0 && n->handle_bytes)
			lru_append(n);
		node_maybe_free(n);
		while (table.fds_cached > table.fd_cache_max && lru_evict_one())
			;
	}
	pthread_mutex_unlock(&table.lock);
}

void node_ref_open(struct node *n)
{
	pthread_mutex_lock(&table.lock);
	n->opens++;
	pthread_mutex_unlock(&table.lock);
}

void node_put_open(struct node *n)
{
	pthread_mutex_lock(&table.lock);
	n->opens--;
	node_maybe_free(n);
	pthread_mutex_unlock(&table.lock);
}

static int handle_open(struct node *n, int flags)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[NODE_HANDLE_MAX];
	} h;
	int fd;

	h.fh.handle_bytes = n->handle_bytes;
	h.fh.handle_type = n->handle_type;
	memcpy(h.fh.f_handle, n->handle, n->handle_bytes);
	for (;;) {
		fd = open_by_handle_at(n->mount_fd, &h.fh, flags | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EMFILE || !node_fd_reclaim())
			return -errno;
	}
}

int node_fd(struct node *n)
{
	int fd;

	pthread_mutex_lock(&table.lock);
	fd = n->fd;
	pthread_mutex_unlock(&table.lock);
	if (fd >= 0)
		return fd;

	fd = handle_open(n, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&table.lock);
	if (n->fd < 0) {
		n->fd = fd;
		table.fds_cached++;
	} else {
		close(fd); /* another request opened it first */
		fd = n->fd;
	}
	pthread_mutex_unlock(&table.lock);
	return fd;
}

int node_open(struct node *n, int flags)
{
	char path[PROC_FD_PATH_MAX];
	int fd;

	/* Only regular files and directories are ever reopened. */
	if (!S_ISREG(n->type) && !S_ISDIR(n->type))
		return -ELOOP;
	if (n->handle_bytes)
		return handle_open(n, flags);
	fd = node_fd(n);
	if (fd < 0)
		return fd;
	/* O_NOFOLLOW would refuse the magic link itself; the type is checked above. */
	proc_fd_path(path, fd);
	for (;;) {
		int nfd = open(path, (flags & ~O_NOFOLLOW) | O_CLOEXEC);

		if (nfd >= 0)
			return nfd;
		if (errno != EMFILE || !node_fd_reclaim())
			return -errno;
	}
}

bool node_fd_reclaim(void)
{
	bool closed;

	pthread_mutex_lock(&table.lock);
	closed = lru_evict_one();
	pthread_mutex_unlock(&table.lock);
	return closed;
}

static struct node *key_find(dev_t dev, ino_t ino)
{
	struct node *n;

	for (n = table.by_key[key_hash(dev, ino)]; n; n = n->key_next)
		if (n->ino == ino && n->dev == dev)
			return n;
	return NULL;
}

static int openat_retry(int dirfd, const char *name, int flags)
{
	for (;;) {
		int fd = openat(dirfd, name, flags | O_CLOEXEC);

		if (fd >= 0)
			return fd;
		if (errno != EMFILE || !node_fd_reclaim())
			return -errno;
	}
}

/* Takes a lookup and a reference on a node.  Lock held. */
static void node_hold(struct node *n)
{
	n->nlookup++;
	if (n->refs++ == 0 && n->fd >= 0)
		lru_remove(n);
}

static bool same_handle(const struct node *n, const struct file_handle *fh)
{
	return n->handle_bytes == fh->handle_bytes && n->handle_type == fh->handle_type &&
	       !memcmp(n->handle, fh->f_handle, fh->handle_bytes);
}

int node_lookup(struct node *parent, const char *name, struct stat *st, struct node **out)
{
	int dirfd, fd;

	dirfd = node_fd(parent);
	if (dirfd < 0)
		return dirfd;
	/* Stat and handle come from one fd, so they describe one inode. */
	fd = openat_retry(dirfd, name, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	return node_from_fd(fd, true, parent, st, out);
}

int node_from_fd(int fd, bool by_handle, struct node *parent, struct stat *st, struct node **out)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[NODE_HANDLE_MAX];
	} h;
	struct node *n, *found;
	int mount_id, err;
	bool have_handle = false;

	if (fstat(fd, st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (by_handle && !table.handles_denied) {
		h.fh.handle_bytes = NODE_HANDLE_MAX;
		have_handle = name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) == 0;
	}

	n = calloc(1, sizeof(*n));
	if (!n) {
		close(fd);
		return -ENOMEM;
	}

	pthread_mutex_lock(&table.lock);
	found = key_find(st->st_dev, st->st_ino);
	/*
	 * A node that pins its fd keeps its inode alive: the number cannot
	 * have been reused.  Otherwise the handle tells a reused number; with
	 * no handle to compare (an O_TMPFILE), it is a new inode.
	 */
	if (found && (!found->handle_bytes || (have_handle && same_handle(found, &h.fh)))) {
		/* Known inode (a hard link, or looked up again). */
		node_hold(found);
		if (found->fd < 0) {
			found->fd = fd; /* saves the next open_by_handle_at */
			table.fds_cached++;
			fd = -1;
		}
		pthread_mutex_unlock(&table.lock);
		if (fd >= 0)
			close(fd);
		free(n);
		*out = found;
		return 0;
	}
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->policy = node_policy(parent); /* inherited; a LOOKUP postfilter may change it */
	n->fd = fd;
	n->nlookup = 1;
	n->refs = 1;
	n->mount_fd = have_handle ? mount_fd_find(mount_id) : -1;
	if (have_handle && n->mount_fd < 0 && S_ISDIR(n->type))
		n->mount_fd = mount_fd_add(mount_id, fd); /* first dir seen on a mount */
	if (n->mount_fd >= 0) {
		n->handle_bytes = h.fh.handle_bytes;
		n->handle_type = h.fh.handle_type;
		memcpy(n->handle, h.fh.f_handle, h.fh.handle_bytes);
		table.fds_cached++; /* otherwise the fd is pinned, uncounted */
	}
	/* The inode's number belonged to a dead inode the kernel still holds. */
	if (found)
		key_unhash(found);
	if (table.count >= table.nbuckets)
		table_grow();
	n->nodeid = table.next_id++;
	n->id_next = table.by_id[id_hash(n->nodeid)];
	table.by_id[id_hash(n->nodeid)] = n;
	n->key_next = table.by_key[key_hash(n->dev, n->ino)];
	table.by_key[key_hash(n->dev, n->ino)] = n;
	n->hashed = true;
	table.count++;
	pthread_mutex_unlock(&table.lock);
	*out = n;
	return 0;
}

void node_forget(uint64_t nodeid, uint64_t nlookup)
{
	struct node *n;

	pthread_mutex_lock(&table.lock);
	n = id_find(nodeid);
	if (n && n->nodeid != FSD_ROOT_ID) {
		n->nlookup = nlookup < n->nlookup ? n->nlookup - nlookup : 0;
		node_maybe_free(n);
	}
	pthread_mutex_unlock(&table.lock);
}

/* The caller's reference keeps the node until its node_put. */
void node_unlookup(struct node *n, uint64_t nlookup)
{
	node_forget(n->nodeid, nlookup);
}

struct policy *node_policy(const struct node *n)
{
	return n ? __atomic_load_n(&n->policy, __ATOMIC_ACQUIRE) : NULL;
}

void node_set_policy(struct node *n, struct policy *policy)
{
	__atomic_store_n(&n->policy, policy, __ATOMIC_RELEASE);
}

uint64_t node_cookie(const struct node *n)
{
	return n ? __atomic_load_n(&n->cookie, __ATOMIC_RELAXED) : 0;
}

void node_set_cookie(struct node *n, uint64_t cookie)
{
	__atomic_store_n(&n->cookie, cookie, __ATOMIC_RELAXED);
}

void node_stats(struct node_stats *out)
{
	pthread_mutex_lock(&table.lock);
	out->nodes = table.count;
	out->fds_cached = table.fds_cached;
	out->fd_cache_max = table.fd_cache_max;
	pthread_mutex_unlock(&table.lock);
}
