// SPDX-License-Identifier: MIT
/*
 * The node table (fsd/node.c) on a scratch backing directory, without a
 * mount: one node per backing inode (same name twice, hard links), lookup
 * counts and references freeing nodes, the root that is never freed, the
 * bounded LRU of O_PATH fds and reopening evicted nodes by file handle,
 * growth of the hash tables, and an inode number reused by a new inode
 * getting a node of its own; nodeids that carry backing file handles, and
 * the lookups of "." and ".." that open them, on a tmpfs whose root is the
 * backing dir.
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
#include <sys/mount.h>
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

/* ---- nodeids that carry backing file handles ---- */

struct fh_buf {
	struct file_handle fh;
	unsigned char bytes[NODE_HANDLE_MAX];
};

static struct fh_buf fh_make(int type, unsigned len, const void *bytes)
{
	struct fh_buf h = { .fh = { .handle_bytes = len, .handle_type = type } };

	memcpy(h.fh.f_handle, bytes, len);
	return h;
}

/* ext4's FILEID_INO32_GEN: inode number and generation, 8 bytes, all of the nodeid. */
Test(node, id_carries_an_8_byte_handle)
{
	const struct node_id_format f = { 1, 8 };
	const unsigned char ino_gen[8] = { 0x0c, 0, 0, 0, 0x78, 0x56, 0x34, 0xf2 };
	struct fh_buf h = fh_make(1, 8, ino_gen), back;
	uint64_t id = node_id_encode(&f, &h.fh);

	cr_assert_gt(id, FSD_ROOT_ID);
	memset(&back, 0xa5, sizeof(back));
	cr_assert_eq(node_id_decode(&f, id, &back.fh), 0);
	cr_assert_eq(back.fh.handle_type, 1);
	cr_assert_eq(back.fh.handle_bytes, 8);
	cr_assert_arr_eq(back.fh.f_handle, ino_gen, 8);
}

/* tmpfs's 12 bytes (generation, inode number in two halves): while the high half is 0. */
Test(node, id_carries_a_longer_handle_with_a_zero_tail)
{
	const struct node_id_format f = { 1, 12 };
	const unsigned char gen_ino[12] = { 0x11, 0x22, 0x33, 0x44, 0x2a, 0, 0, 0 };
	unsigned char big[12];
	struct fh_buf h = fh_make(1, 12, gen_ino), back;
	uint64_t id = node_id_encode(&f, &h.fh);

	cr_assert_gt(id, FSD_ROOT_ID);
	memset(&back, 0xa5, sizeof(back));
	cr_assert_eq(node_id_decode(&f, id, &back.fh), 0);
	cr_assert_eq(back.fh.handle_bytes, 12);
	cr_assert_arr_eq(back.fh.f_handle, gen_ino, 12, "the tail must come back zero");

	memcpy(big, gen_ino, sizeof(big));
	big[8] = 1; /* a 64-bit inode number: does not fit */
	h = fh_make(1, 12, big);
	cr_assert_eq(node_id_encode(&f, &h.fh), 0);
}

Test(node, id_refuses_other_handles)
{
	const struct node_id_format f = { 1, 8 }, none = { 0, 0 };
	const unsigned char some[12] = { 9, 8, 7, 6, 5, 4, 3, 2 };
	const unsigned char zero[8] = { 0 }, one[8] = { 1 };
	struct fh_buf h = fh_make(1, 8, some);

	cr_assert_gt(node_id_encode(&f, &h.fh), FSD_ROOT_ID);
	cr_assert_eq(node_id_encode(&none, &h.fh), 0, "no format, no handle nodeids");
	h = fh_make(2, 8, some);
	cr_assert_eq(node_id_encode(&f, &h.fh), 0, "another handle type");
	h = fh_make(1, 12, some);
	cr_assert_eq(node_id_encode(&f, &h.fh), 0, "another handle size");
	/* 0 is no node and 1 the root: such handles get counter nodeids. */
	h = fh_make(1, 8, zero);
	cr_assert_eq(node_id_encode(&f, &h.fh), 0);
	h = fh_make(1, 8, one);
	cr_assert_eq(node_id_encode(&f, &h.fh), 0);
}

Test(node, id_decode_refuses_what_no_handle_encodes)
{
	const struct node_id_format f8 = { 1, 8 }, f4 = { 0x42, 4 }, none = { 0, 0 };
	const unsigned char four[4] = { 0x78, 0x56, 0x34, 0x12 };
	struct fh_buf h = fh_make(0x42, 4, four), back;
	uint64_t id;

	cr_assert_eq(node_id_decode(&f8, 0, &back.fh), -ESTALE);
	cr_assert_eq(node_id_decode(&f8, FSD_ROOT_ID, &back.fh), -ESTALE);
	cr_assert_eq(node_id_decode(&none, 0x123456789ull, &back.fh), -ESTALE);
	/* A 4-byte format: bytes of the nodeid past the fourth are no handle's. */
	id = node_id_encode(&f4, &h.fh);
	cr_assert_gt(id, FSD_ROOT_ID);
	cr_assert_eq(node_id_decode(&f4, id, &back.fh), 0);
	cr_assert_eq(back.fh.handle_bytes, 4);
	cr_assert_arr_eq(back.fh.f_handle, four, 4);
	cr_assert_eq(node_id_decode(&f4, id | (1ull << 40), &back.fh), -ESTALE);
	cr_assert_eq(node_id_decode(&f4, id << 32, &back.fh), -ESTALE);
}

/*
 * A tmpfs mounted on the scratch dir: the backing dir is then the root of
 * its filesystem, and its handles (12 bytes, the high half of the inode
 * number 0) fit.  Skipped without the privilege to mount.
 */
static void export_setup(void)
{
	node_setup();
	if (mount("fsd-test", dir, "tmpfs", 0, "mode=0755") < 0) {
		int err = errno;

		rmdir(dir);
		dir[0] = '\0';
		cr_skip_test("mounting a tmpfs: %s", strerror(err));
	}
}

static void export_teardown(void)
{
	if (table_up)
		node_table_destroy();
	table_up = false;
	fsd_export = false;
	if (dir[0]) {
		umount2(dir, MNT_DETACH);
		rmdir(dir);
	}
}

/* The handle nodeid of path, as node_id_encode makes it in the root's format. */
static uint64_t handle_id(const char *path)
{
	struct fh_buf root = { .fh.handle_bytes = NODE_HANDLE_MAX };
	struct fh_buf h = { .fh.handle_bytes = NODE_HANDLE_MAX };
	struct node_id_format f;
	int mount_id;

	cr_assert_eq(name_to_handle_at(AT_FDCWD, dir, &root.fh, &mount_id, 0), 0);
	cr_assert_eq(name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0), 0,
		     "name_to_handle_at %s: %s", path, strerror(errno));
	f.handle_type = root.fh.handle_type;
	f.handle_bytes = root.fh.handle_bytes;
	return node_id_encode(&f, &h.fh);
}

Test(node, export_nodeid_carries_the_handle, .init = export_setup, .fini = export_teardown)
{
	struct node *root, *a, *n;
	uint64_t id;
	int ret;

	create_file("f");
	table_init(0);
	cr_assert(node_exportable(), "a tmpfs root with 12-byte handles is exportable");
	fsd_export = true;
	root = node_get(FSD_ROOT_ID);
	a = lookup(root, "f");
	id = handle_id(path_of("f"));
	cr_assert_gt(id, FSD_ROOT_ID);
	cr_assert_eq(a->nodeid, id, "nodeid %#lx, the handle's %#lx", (unsigned long)a->nodeid,
		     (unsigned long)id);
	cr_assert_eq(a->generation, 0);

	/* Forgotten, then opened by its nodeid alone: the same inode, a reference only. */
	node_unlookup(a, 1);
	node_put(a);
	cr_assert_null(node_get(id));
	cr_assert_eq(node_count(), 1);
	ret = node_resolve(id, &n);
	cr_assert_eq(ret, 0, "node_resolve: %s", strerror(-ret));
	cr_assert_eq(n->nodeid, id);
	cr_assert_eq(n->ino, ino_of("f"));
	cr_assert_eq(n->nlookup, 0);
	cr_assert_eq(n->refs, 1);
	assert_fd_is(n, "f");
	node_put(n);
	cr_assert_eq(node_count(), 1, "a reference alone does not keep the node");
	node_put(root);
}

Test(node, export_dot_and_dotdot, .init = export_setup, .fini = export_teardown)
{
	struct node *root, *d, *e, *f, *n;
	struct stat st;

	cr_assert_eq(mkdir(path_of("d"), 0755), 0);
	cr_assert_eq(mkdir(path_of("d/e"), 0755), 0);
	create_file("d/f");
	table_init(0);
	root = node_get(FSD_ROOT_ID);
	d = lookup(root, "d");

	/* Not negotiated: "." and ".." are no names. */
	cr_assert_eq(node_lookup(root, ".", &st, &n), -EINVAL);
	cr_assert_eq(node_lookup(d, "..", &st, &n), -EINVAL);

	fsd_export = true;
	e = lookup(d, "e");
	f = lookup(d, "f");
	n = lookup(e, "..");
	cr_assert_eq(n, d, "'..' of d/e is d");
	node_put(n);
	n = lookup(d, "..");
	cr_assert_eq(n, root, "'..' of d is the root, under nodeid 1");
	node_put(n);
	n = lookup(root, "..");
	cr_assert_eq(n, root, "'..' of the root is the root");
	node_put(n);
	n = lookup(f, ".");
	cr_assert_eq(n, f);
	cr_assert_eq(f->nlookup, 2, "'.' adds a lookup");
	node_put(n);
	cr_assert_eq(node_lookup(f, "..", &st, &n), -ENOTDIR);

	/* A deleted inode has no name: stale, even while something holds it. */
	cr_assert_eq(unlink(path_of("d/f")), 0);
	cr_assert_eq(node_lookup(f, ".", &st, &n), -ESTALE);
	node_put(f);
	node_put(e);
	node_put(d);
	node_put(root);
}

Test(node, export_resolve_refuses_stale_nodeids, .init = export_setup, .fini = export_teardown)
{
	struct node *root, *n;
	uint64_t id, root_id;

	create_file("gone");
	table_init(0);
	id = handle_id(path_of("gone"));
	root_id = handle_id(dir);
	root = node_get(FSD_ROOT_ID);

	/* Not negotiated: only live nodes. */
	cr_assert_eq(node_resolve(id, &n), -ESTALE);
	fsd_export = true;
	cr_assert_eq(node_resolve(id, &n), 0);
	node_put(n);
	/* Deleted: its handle opens nothing. */
	cr_assert_eq(unlink(path_of("gone")), 0);
	cr_assert_eq(node_resolve(id, &n), -ESTALE);
	/* The backing root's own handle is no nodeid of the root's (that is 1). */
	cr_assert_eq(node_resolve(root_id, &n), -ESTALE);
	cr_assert_eq(node_resolve(0, &n), -ESTALE);
	cr_assert_eq(node_resolve(FSD_ROOT_ID, &n), 0);
	cr_assert_eq(n, root);
	node_put(n);
	cr_assert_eq(node_count(), 1);
	node_put(root);
}

/* Under a subdirectory a handle could name any file of the filesystem: counter nodeids. */
Test(node, not_exportable_below_a_filesystem_root, .init = export_setup, .fini = export_teardown)
{
	struct node *root, *a;
	char sub[300];
	int ret;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_assert_eq(close(open(path_of("sub/f"), O_CREAT | O_WRONLY, 0644)), 0);
	ret = node_table_init(sub, 0);
	cr_assert_eq(ret, 0);
	table_up = true;
	cr_assert_not(node_exportable());
	fsd_export = true; /* even so: the table makes counter nodeids */
	root = node_get(FSD_ROOT_ID);
	a = lookup(root, "f");
	cr_assert_neq(a->nodeid, handle_id(path_of("sub/f")));
	cr_assert_neq(a->generation, 0, "a counter nodeid has the session's generation");
	node_put(a);
	node_put(root);
}
