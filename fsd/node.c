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
 * A nodeid names the same inode in every daemon on the same backing dir:
 * when the backing dir is the root of its filesystem and file handles were
 * negotiated (fsd_export), a node's nodeid carries its backing file handle,
 * so that a file handle of the mount (which the kernel makes of nodeid and
 * generation) opens its inode after the kernel forgot it, or in the next
 * daemon after a remount: the kernel asks for "." in that nodeid, and
 * node_resolve() opens the handle it carries.  Nodes whose handle does not
 * fit (another mount, a handle too long, O_TMPFILE, a nodeid taken) get one
 * from a counter, never reused, with the session's random generation, so
 * that a stale handle of another session or of a handle-carrying nodeid is
 * refused by the kernel's generation check rather than opening another
 * inode.  A node lives while the kernel holds lookups on it or a
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
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <time.h>
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
	/* Set by node_table_init, read-only afterwards: */
	struct node_id_format id_format; /* nodeids that carry handles; handle_bytes 0: none */
	int root_mount_id; /* the mount whose handles they carry, the root's */
	uint32_t session_gen; /* the generation of counter nodeids, never 0 */
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t id_hash_in(uint64_t id, size_t nbuckets)
{
	return (size_t)(id * 0x9e3779b97f4a7c15ull) & (nbuckets - 1);
}

static size_t key_hash_in(dev_t dev, ino_t ino, size_t nbuckets)
{
	return (size_t)((ino ^ ((uint64_t)dev << 32)) * 0x9e3779b97f4a7c15ull) & (nbuckets - 1);
}

/* Bytes past the eighth all zero: the handle fits in 64 bits. */
static bool handle_fits(const struct file_handle *fh)
{
	for (unsigned i = 8; i < fh->handle_bytes; i++)
		if (fh->f_handle[i])
			return false;
	return true;
}

/*
 * A nodeid carries a handle of the format's type and size that fits: its
 * first eight bytes (fewer for a shorter format, the rest zero) as they lie
 * in memory, so that decoding copies them back.  ext4's FILEID_INO32_GEN
 * (inode number and generation, 8 bytes) always fits; tmpfs's 12 bytes do
 * while the inode number has 32 bits.
 */
uint64_t node_id_encode(const struct node_id_format *f, const struct file_handle *fh)
{
	uint64_t id = 0;

	if (!f->handle_bytes || fh->handle_type != f->handle_type ||
	    fh->handle_bytes != f->handle_bytes || !handle_fits(fh))
		return 0;
	memcpy(&id, fh->f_handle, f->handle_bytes < 8 ? f->handle_bytes : 8);
	/* 0 is no node, 1 the root's: such a handle gets a counter nodeid. */
	return id > FSD_ROOT_ID ? id : 0;
}

int node_id_decode(const struct node_id_format *f, uint64_t nodeid, struct file_handle *fh)
{
	unsigned n = f->handle_bytes < 8 ? f->handle_bytes : 8;
	unsigned char b[8];

	if (!f->handle_bytes || f->handle_bytes > NODE_HANDLE_MAX || nodeid <= FSD_ROOT_ID)
		return -ESTALE;
	memcpy(b, &nodeid, sizeof(b));
	/* Bytes a shorter format has no room for: no handle's nodeid. */
	for (unsigned i = n; i < sizeof(b); i++)
		if (b[i])
			return -ESTALE;
	fh->handle_type = f->handle_type;
	fh->handle_bytes = f->handle_bytes;
	memset(fh->f_handle, 0, f->handle_bytes);
	memcpy(fh->f_handle, b, n);
	return 0;
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
	/* A kept backing id pins the inode as the fd did: both go, oldest first. */
	backing_forget(n);
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
	backing_forget(n);
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

/* A mount point as /proc/self/mountinfo writes it (space, tab, newline, backslash as \ooo). */
static void mountinfo_unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * Whether the backing dir (root: its stat) is the root of its filesystem:
 * the inode that a mount of the whole filesystem (root "/" in
 * /proc/self/mountinfo) shows at its mount point.  Then every inode a
 * handle of that filesystem names lies inside the backing dir; under a
 * subdirectory, a handle could name any file of the filesystem, and only a
 * directory could be walked up to tell.  By device and inode, not by mount:
 * the mount the daemon reaches the backing dir through may be a private
 * copy (tree.c), which mountinfo does not list.  A filesystem whose root no
 * mount shows counts as not one: the check errs on the side of refusing.
 */
static bool backing_is_fs_root(const struct stat *root)
{
	char *line = NULL;
	size_t size = 0;
	bool whole = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (!whole && getline(&line, &size, f) > 0) {
		unsigned int major, minor;
		char *fs_root, *point, *save = NULL;
		struct stat st;
		int at = 0;

		/* "ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS ..." */
		if (sscanf(line, "%*d %*d %u:%u %n", &major, &minor, &at) != 2 || !at ||
		    makedev(major, minor) != root->st_dev)
			continue;
		fs_root = strtok_r(line + at, " ", &save);
		point = strtok_r(NULL, " ", &save);
		if (!fs_root || !point || strcmp(fs_root, "/"))
			continue;
		mountinfo_unescape(point);
		whole = stat(point, &st) == 0 && st.st_dev == root->st_dev &&
			st.st_ino == root->st_ino;
	}
	free(line);
	fclose(f);
	return whole;
}

/*
 * Nodeids carry the handles of the root's mount, in the root's handle
 * format, if file handles can work at all: handles can be opened, the
 * backing dir is the root of its filesystem, and the root's handle fits.
 */
static void id_format_init(const struct stat *root, const struct file_handle *root_fh,
			   int mount_id)
{
	table.id_format = (struct node_id_format){ 0 };
	table.root_mount_id = mount_id;
	if (table.handles_denied || table.root.mount_fd < 0 || !handle_fits(root_fh) ||
	    !backing_is_fs_root(root))
		return;
	table.id_format.handle_type = root_fh->handle_type;
	table.id_format.handle_bytes = root_fh->handle_bytes;
}

bool node_exportable(void)
{
	return table.id_format.handle_bytes != 0;
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
		int mount_id = -1;

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
		id_format_init(&st, &h.fh, mount_id);
	}
	/* Random, so that a handle of an earlier daemon's counter nodeid is stale. */
	if (getrandom(&table.session_gen, sizeof(table.session_gen), GRND_NONBLOCK) !=
	    sizeof(table.session_gen))
		table.session_gen = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	if (!table.session_gen)
		table.session_gen = 1;
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
	table.id_format = (struct node_id_format){ 0 };
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

static int handle_open_at(int mount_fd, struct file_handle *fh, int flags)
{
	for (;;) {
		int fd = open_by_handle_at(mount_fd, fh, flags | O_CLOEXEC);

		if (fd >= 0)
			return fd;
		if (errno != EMFILE || !node_fd_reclaim())
			return -errno;
	}
}

static int handle_open(struct node *n, int flags)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[NODE_HANDLE_MAX];
	} h;

	h.fh.handle_bytes = n->handle_bytes;
	h.fh.handle_type = n->handle_type;
	memcpy(h.fh.f_handle, n->handle, n->handle_bytes);
	/* Opens for data go through the mount's copy, with the FUSE mount's atime rule (tree.c). */
	return handle_open_at(flags & O_PATH ? n->mount_fd : tree_mount_fd(n->mount_fd), &h.fh,
			      flags);
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
	int fd;

	/* Only regular files and directories are ever reopened. */
	if (!S_ISREG(n->type) && !S_ISDIR(n->type))
		return -ELOOP;
	if (n->handle_bytes)
		return handle_open(n, flags);
	/* The root has no handle: its mount's copy is rooted at it (tree.c). */
	if (n->nodeid == FSD_ROOT_ID && (fd = tree_root_open(flags)) != -EOPNOTSUPP)
		return fd;
	fd = node_fd(n);
	return fd < 0 ? fd : fd_reopen(fd, flags);
}

int fd_reopen(int fd, int flags)
{
	char path[PROC_FD_PATH_MAX];

	/* O_NOFOLLOW would refuse the magic link itself; callers check the type. */
	proc_fd_path(path, fd);
	for (;;) {
		int nfd = open(path, (flags & ~O_NOFOLLOW) | O_CLOEXEC);

		if (nfd >= 0)
			return nfd;
		if (errno != EMFILE || !node_fd_reclaim())
			return -errno;
	}
}

int node_open_link(struct node *n)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[NODE_HANDLE_MAX];
	} h;
	int fd;

	if (!n->handle_bytes) {
		fd = node_fd(n);
		if (fd >= 0 && (fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
			fd = -errno;
		return fd;
	}
	h.fh.handle_bytes = n->handle_bytes;
	h.fh.handle_type = n->handle_type;
	memcpy(h.fh.f_handle, n->handle, n->handle_bytes);
	/* On the mount's copy: reading the link updates its atime by the FUSE mount's rule. */
	return handle_open_at(tree_mount_fd(n->mount_fd), &h.fh, O_PATH | O_NOFOLLOW);
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

/*
 * A new node's nodeid: the one its handle (fh, on the root's mount) carries,
 * unless a live node has it (another inode's counter nodeid); else the next
 * free one from the counter, with the session's generation.  Lock held.
 */
static void node_id_assign(struct node *n, const struct file_handle *fh)
{
	uint64_t id = fsd_export && fh ? node_id_encode(&table.id_format, fh) : 0;

	if (id && !id_find(id)) {
		n->nodeid = id;
		n->generation = 0;
		return;
	}
	do
		id = table.next_id++;
	while (id_find(id));
	n->nodeid = id;
	n->generation = table.session_gen;
}

/*
 * The node of an inode a file handle named, or of a directory's parent (fd
 * taken over): the root for the backing dir, else one of its own if it is
 * on the backing filesystem and not deleted.  With fsd_export the backing
 * dir is that filesystem's root, so that is what keeps it inside the
 * backing dir.  A deleted inode (a file still open, an empty dir removed)
 * is stale, as no name leads to it.  The parent of a directory in another
 * filesystem mounted inside is stale too: not known to be inside.
 */
static int node_from_export_fd(int fd, struct stat *st, struct node **out)
{
	int err;

	if (fstat(fd, st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (st->st_dev == table.root.dev && st->st_ino == table.root.ino) {
		close(fd);
		pthread_mutex_lock(&table.lock);
		node_hold(&table.root);
		pthread_mutex_unlock(&table.lock);
		*out = &table.root;
		return 0;
	}
	if (st->st_dev != table.root.dev || !st->st_nlink) {
		close(fd);
		return -ESTALE;
	}
	return node_from_fd(fd, true, NULL, st, out);
}

/*
 * The kernel's lookups to open a file handle (fsd_export): "." is the node
 * itself, ".." its parent (the root's is the root).  No policy runs where
 * they are negotiated (init_wanted), so a node made here has none.
 */
static int node_lookup_dot(struct node *n, bool dotdot, struct stat *st, struct node **out)
{
	int fd;

	if (!fsd_export)
		return -EINVAL;
	fd = node_fd(n);
	if (fd < 0)
		return fd;
	if (dotdot && n != &table.root) {
		if (!S_ISDIR(n->type))
			return -ENOTDIR;
		fd = openat_retry(fd, "..", O_PATH | O_DIRECTORY);
		return fd < 0 ? fd : node_from_export_fd(fd, st, out);
	}
	if (fstat(fd, st) < 0)
		return -errno;
	if (!st->st_nlink)
		return -ESTALE;
	pthread_mutex_lock(&table.lock);
	node_hold(n);
	pthread_mutex_unlock(&table.lock);
	*out = n;
	return 0;
}

int node_lookup(struct node *parent, const char *name, struct stat *st, struct node **out)
{
	int dirfd, fd;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return node_lookup_dot(parent, name[1] == '.', st, out);
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
	node_id_assign(n, have_handle && mount_id == table.root_mount_id ? &h.fh : NULL);
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

int node_resolve(uint64_t nodeid, struct node **out)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[NODE_HANDLE_MAX];
	} h;
	struct node *n;
	struct stat st;
	int fd, err;

	*out = node_get(nodeid);
	if (*out)
		return 0;
	if (!fsd_export || node_id_decode(&table.id_format, nodeid, &h.fh))
		return -ESTALE;
	fd = handle_open_at(table.root.mount_fd, &h.fh, O_PATH | O_NOFOLLOW);
	/* No such inode (any more): stale.  Out of memory or fds: that. */
	if (fd < 0)
		return fd == -ENOMEM || fd == -EMFILE || fd == -ENFILE ? fd : -ESTALE;
	err = node_from_export_fd(fd, &st, &n);
	if (err)
		return err;
	/* A reference for the request: the LOOKUP of "." adds the kernel's lookup. */
	node_unlookup(n, 1);
	/* The root's backing handle, or an inode known by a counter nodeid. */
	if (n->nodeid != nodeid) {
		node_put(n);
		return -ESTALE;
	}
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
