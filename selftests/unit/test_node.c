// SPDX-License-Identifier: MIT
/*
 * The node table (fsd/node.c) on a scratch backing directory, without a
 * mount: one node per backing inode (same name twice, hard links), lookup
 * counts and references freeing nodes, the root that is never freed, the
 * bounded LRU of O_PATH fds and reopening evicted nodes by file handle,
 * growth of the hash tables, and an inode number reused by a new inode
 * getting a node of its own.
 *
 * The table is a process-wide singleton; Criterion runs every test in a
 * process of its own, so each test initialises it and the fini destroys it.
 */
#define _GNU_SOURCE
#include "../../fsd/fsd.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static bool table_up;

static void node_setup(void)
{
	const char *base = getenv("FSD_TEST_TMP");

	snprintf(dir, sizeof(dir), "%s/node.XXXXXX", base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void node_teardown(void)
{
	if (table_up)
		node_table_destroy();
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(node, .init = node_setup, .fini = node_teardown, .timeout = 60);

static void table_init(unsigned fd_cache)
{
	int ret = node_table_init(dir, fd_cache);

	cr_assert_eq(ret, 0, "node_table_init: %s", strerror(-ret));
	table_up = true;
}

static const char *path_of(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void create_file(const char *name)
{
	int fd = open(path_of(name), O_CREAT | O_WRONLY | O_EXCL, 0644);

	cr_assert(fd >= 0, "create %s: %s", name, strerror(errno));
	close(fd);
}

static ino_t ino_of(const char *name)
{
	struct stat st;

	cr_assert_eq(lstat(path_of(name), &st), 0, "stat %s: %s", name, strerror(errno));
	return st.st_ino;
}

static struct node *lookup(struct node *parent, const char *name)
{
	struct node *n = NULL;
	struct stat st;
	int ret = node_lookup(parent, name, &st, &n);

	cr_assert_eq(ret, 0, "node_lookup %s: %s", name, strerror(-ret));
	cr_assert_not_null(n);
	cr_assert_eq(st.st_ino, n->ino, "%s: stat and node disagree", name);
	return n;
}

static uint64_t node_count(void)
{
	struct node_stats s;

	node_stats(&s);
	return s.nodes;
}

static uint64_t fds_cached(void)
{
	struct node_stats s;

	node_stats(&s);
	return s.fds_cached;
}

static int open_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int count = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		count++;
	closedir(d);
	return count;
}

/* The node's fd names the inode the node was made for. */
static void assert_fd_is(struct node *n, const char *name)
{
	struct stat st;
	int fd = node_fd(n);

	cr_assert(fd >= 0, "node_fd of %s: %s", name, strerror(-fd));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_ino, ino_of(name), "node_fd of %s reaches inode %lu", name,
		     (unsigned long)st.st_ino);
}

Test(node, lookup_twice_gives_same_node)
{
	struct node *root, *a, *b;
	struct stat st;

	create_file("f");
	table_init(0);
	cr_assert_eq(node_count(), 1, "only the root after init");
	root = node_get(FSD_ROOT_ID);
	cr_assert_not_null(root);

	a = lookup(root, "f");
	cr_assert_gt(a->nodeid, FSD_ROOT_ID);
	cr_assert_eq(a->ino, ino_of("f"));
	cr_assert_eq(a->type, S_IFREG);
	cr_assert_eq(a->nlookup, 1);
	cr_assert_eq(node_lookup(root, "f", &st, &b), 0);
	cr_assert_eq(b, a, "second lookup made another node");
	cr_assert_eq(a->nlookup, 2);
	cr_assert_eq(st.st_ino, ino_of("f"));
	cr_assert_eq(node_count(), 2);
	node_put(a);
	node_put(b);
	node_put(root);
}

Test(node, lookup_missing_name)
{
	struct node *root, *n = NULL;
	struct stat st;

	table_init(0);
	root = node_get(FSD_ROOT_ID);
	cr_assert_eq(node_lookup(root, "absent", &st, &n), -ENOENT);
	cr_assert_eq(node_count(), 1);
	node_put(root);
}

Test(node, hard_links_share_a_node)
{
	struct node *root, *a, *b;

	char f_path[512];

	create_file("f");
	snprintf(f_path, sizeof(f_path), "%s", path_of("f"));
	cr_assert_eq(link(f_path, path_of("g")), 0);
	table_init(0);
	root = node_get(FSD_ROOT_ID);
	a = lookup(root, "f");
	b = lookup(root, "g");
	cr_assert_eq(a, b, "two names of one inode made two nodes");
	cr_assert_eq(a->nlookup, 2);
	cr_assert_eq(node_count(), 2);
	node_put(a);
	node_put(b);
	node_put(root);
}

/* Lookups do not follow symlinks: the node is the link itself. */
Test(node, symlink_is_its_own_node)
{
	struct node *root, *f, *l;

	create_file("f");
	cr_assert_eq(symlink("f", path_of("l")), 0);
	table_init(0);
	root = node_get(FSD_ROOT_ID);
	f = lookup(root, "f");
	l = lookup(root, "l");
	cr_assert_neq(f, l);
	cr_assert_eq(l->type, S_IFLNK);
	cr_assert_eq(l->ino, ino_of("l"));
	node_put(f);
	node_put(l);
	node_put(root);
}

Test(node, forget_then_put_frees)
{
	struct node *root, *n;
	uint64_t id;

	create_file("f");
	table_init(0);
	root = node_get(FSD_ROOT_ID);
	n = lookup(root, "f");
	id = n->nodeid;
	cr_assert_eq(node_count(), 2);

	/* The request's reference keeps it after the kernel forgets it. */
	node_forget(id, 1);
	cr_assert_eq(node_count(), 2);
	node_put(n);
	cr_assert_eq(node_count(), 1, "node outlived its last lookup and reference");
	cr_assert_null(node_get(id));
	node_put(root);
}

Test(node, put_then_forget_frees)
{
	struct node *root, *n;
	uint64_t id;

	create_file("f");
	table_init(0);
	root = node_get(FSD_ROOT_ID);
	n = lookup(root, "f");
	id = n->nodeid;
	node_put(n);
	/* The kernel still holds its lookup. */
	cr_assert_eq(node_count(), 2);
	n = node_get(id);
	cr_assert_not_null(n);
	node_put(n);

	node_forget(id, 1);
	cr_assert_eq(node_count(), 1);
	cr_assert_null(node_get(id));
	node_put(root);
}

Test(node, forget_counts_lookups)
{
	struct node *root, *n = NULL;
	uint64_t id;

	create_file("f");
	table_init(0);
	root = node_get(FSD_ROOT_ID);
	for (int i = 0; i < 3; i++) {
		n = lookup(root, "f");
		node_put(n);
	}
	id = n->nodeid;
	cr_assert_eq(n->nlookup, 3);
	node_forget(id, 2);
	cr_assert_eq(node_count(), 2, "freed with one lookup left");
	cr_assert_eq(n->nlookup, 1);
	/* More than it holds drops them all, without wrapping around. */
	node_forget(id, 5);
	cr_assert_eq(node_count(), 1);
	cr_assert_null(node_get(id));
	node_put(root);
}

/* A lookup undone (reply not delivered) leaves the node to the last put. */
Test(node, unlookup_then_put_frees)
{
	struct node *root, *n;
	uint64_t id;

	create_file("f");
	table_init(0);
	root = node_get(FSD_ROOT_ID);
	n = lookup(root, "f");
	id = n->nodeid;
	node_unlookup(n, 1);
	cr_assert_eq(node_count(), 2);
	node_put(n);
	cr_assert_eq(node_count(), 1);
	cr_assert_null(node_get(id));
	node_put(root);
}

Test(node, unknown_id_is_null)
{
	struct node *root, *n;

	create_file("f");
	table_init(0);
	cr_assert_null(node_get(0));
	cr_assert_null(node_get(2), "no node was made yet");
	cr_assert_null(node_get(12345));
	cr_assert_null(node_get(UINT64_MAX));
	/* Forgetting an unknown id is harmless. */
	node_forget(12345, 1);
	cr_assert_eq(node_count(), 1);

	root = node_get(FSD_ROOT_ID);
	n = lookup(root, "f");
	cr_assert_null(node_get(n->nodeid + 1));
	node_put(n);
	node_put(root);
}

Test(node, root_is_never_freed)
{
	struct node *root;
	struct stat st, want;
	int fd;

	table_init(0);
	node_forget(FSD_ROOT_ID, 1000);
	for (int i = 0; i < 10; i++)
		node_put(node_get(FSD_ROOT_ID));
	node_forget(FSD_ROOT_ID, 1);
	cr_assert_eq(node_count(), 1);
	root = node_get(FSD_ROOT_ID);
	cr_assert_not_null(root, "root freed");
	cr_assert_eq(root->nodeid, FSD_ROOT_ID);
	cr_assert_eq(root->type, S_IFDIR);
	fd = node_fd(root);
	cr_assert(fd >= 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(stat(dir, &want), 0);
	cr_assert_eq(st.st_ino, want.st_ino);
	cr_assert_eq(st.st_dev, want.st_dev);
	node_put(root);
}

/* A reference taken by node_ref keeps the node like one from node_get. */
Test(node, ref_keeps_node)
{
	struct node *root, *n;
	uint64_t id;

	create_file("f");
	table_init(0);
	root = node_get(FSD_ROOT_ID);
	n = lookup(root, "f");
	id = n->nodeid;
	node_ref(n);
	node_forget(id, 1);
	node_put(n);
	cr_assert_eq(node_count(), 2, "freed with a reference left");
	assert_fd_is(n, "f");
	node_put(n);
	cr_assert_eq(node_count(), 1);
	node_put(root);
}

/* Probes that this filesystem gives file handles we may open. */
static bool handles_work(void)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[NODE_HANDLE_MAX];
	} h = { .fh.handle_bytes = NODE_HANDLE_MAX };
	int mount_id, mfd, fd;

	if (name_to_handle_at(AT_FDCWD, dir, &h.fh, &mount_id, 0) < 0)
		return false;
	mfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (mfd < 0)
		return false;
	fd = open_by_handle_at(mfd, &h.fh, O_PATH);
	close(mfd);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

Test(node, fd_cache_is_bounded_lru)
{
	enum { NFILES = 100, CACHE = 16 };
	struct node *root, *nodes[NFILES];
	char name[32];
	int fds_before;

	if (!handles_work())
		cr_skip_test("no file handles on %s: every node keeps its fd", dir);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		create_file(name);
	}
	table_init(CACHE);
	root = node_get(FSD_ROOT_ID);
	fds_before = open_fd_count();

	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		nodes[i] = lookup(root, name);
	}
	for (int i = 0; i < NFILES; i++)
		node_put(nodes[i]);

	cr_assert_leq(fds_cached(), CACHE, "fds_cached %lu", (unsigned long)fds_cached());
	cr_assert_eq(fds_cached(), CACHE, "evicted more than needed");
	cr_assert_leq(open_fd_count(), fds_before + CACHE, "fds open beyond the cache");
	cr_assert_eq(node_count(), NFILES + 1, "eviction freed nodes the kernel still holds");

	/* The oldest idle fds went first. */
	cr_assert_eq(nodes[0]->fd, -1);
	cr_assert_eq(nodes[NFILES - CACHE - 1]->fd, -1);
	cr_assert_geq(nodes[NFILES - CACHE]->fd, 0);
	cr_assert_geq(nodes[NFILES - 1]->fd, 0);

	/* An evicted node reopens its own inode by handle. */
	cr_assert_eq(node_get(nodes[0]->nodeid), nodes[0]);
	assert_fd_is(nodes[0], "f000");
	node_put(nodes[0]);
	cr_assert_leq(fds_cached(), CACHE);
	/* It is now the newest; the oldest cached one made room. */
	cr_assert_geq(nodes[0]->fd, 0);
	cr_assert_eq(nodes[NFILES - CACHE]->fd, -1);

	for (int i = 0; i < NFILES; i += 7) {
		snprintf(name, sizeof(name), "f%03d", i);
		cr_assert_eq(node_get(nodes[i]->nodeid), nodes[i]);
		assert_fd_is(nodes[i], name);
		node_put(nodes[i]);
		cr_assert_leq(fds_cached(), CACHE);
	}
	node_put(root);
}

/* A directory whose fd was evicted still serves lookups in it. */
Test(node, lookup_in_evicted_directory)
{
	struct node *root, *d, *x;
	uint64_t did;

	if (!handles_work())
		cr_skip_test("no file handles on %s", dir);
	cr_assert_eq(mkdir(path_of("d"), 0755), 0);
	create_file("d/x");
	table_init(16);
	root = node_get(FSD_ROOT_ID);
	d = lookup(root, "d");
	did = d->nodeid;
	cr_assert_eq(d->type, S_IFDIR);
	node_put(d);
	while (node_fd_reclaim())
		;
	cr_assert_eq(fds_cached(), 0);
	cr_assert_eq(d->fd, -1);

	d = node_get(did);
	cr_assert_not_null(d);
	x = lookup(d, "x");
	cr_assert_eq(x->ino, ino_of("d/x"));
	node_put(x);
	node_put(d);
	node_put(root);
}

/* More nodes than hash buckets: every node still found by id and by inode. */
Test(node, table_grows)
{
	enum { NFILES = 2500 };
	static struct node *nodes[NFILES];
	struct node *root, *n;
	char name[32];

	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "g%04d", i);
		create_file(name);
	}
	table_init(64);
	root = node_get(FSD_ROOT_ID);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "g%04d", i);
		nodes[i] = lookup(root, name);
		node_put(nodes[i]);
	}
	cr_assert_eq(node_count(), NFILES + 1);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "g%04d", i);
		cr_assert_eq(node_get(nodes[i]->nodeid), nodes[i], "%s lost by id", name);
		node_put(nodes[i]);
		n = lookup(root, name);
		cr_assert_eq(n, nodes[i], "%s lost by inode: looked up as a new node", name);
		node_put(n);
	}
	for (int i = 0; i < NFILES; i++)
		node_forget(nodes[i]->nodeid, 2);
	cr_assert_eq(node_count(), 1);
	cr_assert_eq(fds_cached(), 0);
	node_put(root);
}

/*
 * The kernel may hold a node for an unlinked inode whose number the backing
 * filesystem then gives to a new file.  The new file must get a node of its
 * own.  Whether a number is reused soon is the filesystem's choice (ext4
 * usually hands out the lowest free inode of the group again, tmpfs never
 * does), and another process creating files at the same time can take it
 * first, so the test tries a few rounds of creating files until it sees a
 * reuse and is skipped if none comes.  The old node's fd must be closed
 * first, or the inode would not be freed.
 */
Test(node, reused_inode_number_is_a_new_node)
{
	enum { ROUNDS = 5, ATTEMPTS = 200 };
	struct node *root, *old = NULL, *fresh, *again;
	uint64_t old_id = 0;
	ino_t old_ino = 0;
	char name[32] = "", old_name[32];
	bool reused = false;

	if (!handles_work())
		cr_skip_test("no file handles on %s: the node pins its inode", dir);
	table_init(16);
	root = node_get(FSD_ROOT_ID);
	for (int round = 0; round < ROUNDS && !reused; round++) {
		if (old)
			node_forget(old_id, 1); /* the last round's, never reused */
		snprintf(old_name, sizeof(old_name), "old%d", round);
		create_file(old_name);
		old = lookup(root, old_name);
		old_id = old->nodeid;
		old_ino = old->ino;
		node_put(old);
		while (node_fd_reclaim())
			;
		cr_assert_eq(old->fd, -1);
		cr_assert_eq(unlink(path_of(old_name)), 0);

		for (int i = 0; i < ATTEMPTS && !reused; i++) {
			snprintf(name, sizeof(name), "r%d_%03d", round, i);
			create_file(name);
			reused = ino_of(name) == old_ino;
		}
	}
	if (!reused)
		cr_skip_test("no inode number reused within %d rounds of %d files on %s", ROUNDS,
			     ATTEMPTS, dir);
	cr_assert_eq(node_count(), 2);

	fresh = lookup(root, name);
	cr_assert_neq(fresh, old, "a new inode was given the node of a dead one");
	cr_assert_neq(fresh->nodeid, old_id);
	cr_assert_eq(fresh->ino, old_ino);
	assert_fd_is(fresh, name);
	cr_assert_eq(node_count(), 3);

	/* The kernel's old node is still there, and its handle is stale. */
	cr_assert_eq(node_get(old_id), old);
	cr_assert_lt(node_fd(old), 0, "the dead inode's handle opened something");
	node_put(old);

	/* The index now leads to the new node. */
	again = lookup(root, name);
	cr_assert_eq(again, fresh);
	node_put(again);

	/* Forgetting the old node leaves the new one alone. */
	node_forget(old_id, 1);
	cr_assert_eq(node_count(), 2);
	again = lookup(root, name);
	cr_assert_eq(again, fresh);
	cr_assert_eq(fresh->nlookup, 3);
	node_put(again);
	node_put(fresh);
	node_put(root);
}

/*
 * An O_TMPFILE inode has no name to look up and no usable handle while
 * unlinked, so its node keeps its fd (node_from_fd without by_handle).
 * Once it is linked (LINK of the tmpfile's node, linkat of /proc/self/fd),
 * the name leads to the same inode, which the kernel already knows by
 * that node: a second node would give it two kernel inodes with separate
 * attribute caches.  The pinned fd keeps the inode alive, so its number
 * cannot have been reused.
 */
Test(node, linked_tmpfile_keeps_its_node)
{
	struct node *root, *tmp, *linked;
	char proc_path[64];
	struct stat st;
	int fd, pathfd, ret;

	table_init(16);
	fd = open(dir, O_TMPFILE | O_RDWR, 0600);
	if (fd < 0 && errno == EOPNOTSUPP)
		cr_skip_test("no O_TMPFILE on %s", dir);
	cr_assert(fd >= 0, "O_TMPFILE: %s", strerror(errno));
	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
	pathfd = open(proc_path, O_PATH | O_CLOEXEC);
	cr_assert(pathfd >= 0);
	ret = node_from_fd(pathfd, false, NULL, &st, &tmp);
	cr_assert_eq(ret, 0, "node_from_fd: %s", strerror(-ret));
	cr_assert_eq(tmp->ino, st.st_ino);

	cr_assert_eq(linkat(fd, "", AT_FDCWD, path_of("linked"), AT_EMPTY_PATH), 0,
		     "linkat: %s", strerror(errno));
	root = node_get(FSD_ROOT_ID);
	linked = lookup(root, "linked");
	cr_assert_eq(linked->ino, tmp->ino);
	cr_assert_eq(linked, tmp, "the linked tmpfile got node %lu besides its node %lu",
		     (unsigned long)linked->nodeid, (unsigned long)tmp->nodeid);
	cr_assert_eq(node_count(), 2);
	node_put(linked);
	node_put(tmp);
	node_put(root);
	close(fd);
}
