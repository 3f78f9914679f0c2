// SPDX-License-Identifier: MIT
/*
 * Open handles (fsd/handle.c) without a mount: the limits computed from
 * the fd limit and the node fd cache, per-uid caps (EMFILE for that uid
 * alone, none for root), the budget of all uids but root (ENFILE) and
 * root's reserve, charges given back, and a handle's open reference that
 * keeps its node but leaves the node's O_PATH fd to the cache.
 *
 * The handle and node tables are process-wide; Criterion runs every test in
 * a process of its own.
 */
#define _GNU_SOURCE
#include "../../fsd/fsd.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(handle, .timeout = 30);

static void assert_limits(unsigned long fd_limit, unsigned long fd_cache, unsigned per_uid_opt,
			  unsigned per_uid, unsigned users, unsigned all)
{
	struct handle_limits l;

	handle_limits_compute(fd_limit, fd_cache, per_uid_opt, &l);
	cr_assert(l.per_uid == per_uid && l.users == users && l.all == all,
		  "fd limit %lu, fd_cache %lu, per_uid %u: got %u/%u/%u, want %u/%u/%u", fd_limit,
		  fd_cache, per_uid_opt, l.per_uid, l.users, l.all, per_uid, users, all);
}

Test(handle, limits_from_the_fd_limit)
{
	/* This host: a quarter per uid, the cache's half less an eighth, root half of that more. */
	assert_limits(20000, 10000, 0, 5000, 7500, 8750);
	assert_limits(1024, 512, 0, 256, 384, 448);
	assert_limits(20000, 10000, 200, 200, 7500, 8750);
	/* A smaller cache leaves the opens more. */
	assert_limits(20000, 64, 0, 5000, 17436, 18686);
	/* A cache that leaves no room: a few opens still (the cache gives way on EMFILE). */
	assert_limits(20000, 1u << 30, 0, 5000, 16, 16);
	assert_limits(32, 16, 0, 16, 16, 16);
}

Test(handle, no_limits_until_set)
{
	for (int i = 0; i < 100000; i++)
		cr_assert_eq(handle_charge(1000), 0);
}

Test(handle, per_uid_cap_is_emfile_for_that_uid_alone)
{
	handle_limits_set(&(struct handle_limits){ .per_uid = 3, .users = 100, .all = 200 });
	for (int i = 0; i < 3; i++)
		cr_assert_eq(handle_charge(1000), 0);
	cr_assert_eq(handle_charge(1000), -EMFILE);
	cr_assert_eq(handle_charge(1000), -EMFILE, "refused twice: still refused");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(handle_charge(1001), 0, "another uid has a cap of its own");
	cr_assert_eq(handle_charge(1001), -EMFILE);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(handle_charge(0), 0, "root has no cap of its own");
	/* A close gives the uid one back. */
	handle_uncharge(1000);
	cr_assert_eq(handle_charge(1000), 0);
	cr_assert_eq(handle_charge(1000), -EMFILE);
}

Test(handle, budget_of_uids_is_enfile_and_root_has_the_reserve)
{
	handle_limits_set(&(struct handle_limits){ .per_uid = 4, .users = 10, .all = 12 });
	for (uid_t uid = 1000; uid < 1002; uid++)
		for (int i = 0; i < 4; i++)
			cr_assert_eq(handle_charge(uid), 0);
	cr_assert_eq(handle_charge(1002), 0);
	cr_assert_eq(handle_charge(1002), 0);
	cr_assert_eq(handle_charge(1002), -ENFILE, "the uids' budget of 10 is spent");
	cr_assert_eq(handle_charge(1003), -ENFILE, "for every uid but root");
	cr_assert_eq(handle_charge(1000), -EMFILE, "a uid at its cap still says EMFILE");
	cr_assert_eq(handle_charge(0), 0, "root takes from the reserve");
	cr_assert_eq(handle_charge(0), 0);
	cr_assert_eq(handle_charge(0), -ENFILE, "root too stops at the whole budget");
	handle_uncharge(1002);
	cr_assert_eq(handle_charge(1003), -ENFILE, "root's opens still hold the reserve");
	handle_uncharge(0);
	handle_uncharge(0);
	cr_assert_eq(handle_charge(1003), 0, "root gave the reserve back");
}

static char dir[256];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void scratch_teardown(void)
{
	node_table_destroy();
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A file held open leaves its node's fd in the cache, where it can be
 * closed; the handle still reaches its file (handle_fd reopens it), and its
 * release frees the node the kernel has forgotten and gives the charge back.
 */
Test(handle, open_file_leaves_its_node_fd_to_the_cache, .fini = scratch_teardown)
{
	const char *base = getenv("FSD_TEST_TMP");
	struct node *root, *n;
	struct node_stats ns;
	struct handle *h;
	struct stat st;
	char path[300];
	int fd, ret;

	snprintf(dir, sizeof(dir), "%s/handle.XXXXXX", base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert(fd >= 0 && write(fd, "abc", 3) == 3);
	close(fd);
	cr_assert_eq(node_table_init(dir, 16), 0);
	handle_limits_set(&(struct handle_limits){ .per_uid = 1, .users = 10, .all = 10 });

	root = node_get(FSD_ROOT_ID);
	ret = node_lookup(root, "f", &st, &n);
	cr_assert_eq(ret, 0, "node_lookup: %s", strerror(-ret));
	if (!n->handle_bytes)
		cr_skip_test("no file handles on %s: every node keeps its fd", dir);
	cr_assert_eq(handle_charge(1000), 0);
	cr_assert_eq(handle_new(n, -1, 1000, O_RDONLY, &h), 0);
	node_put(n); /* the request's reference: only the handle's is left */
	node_forget(n->nodeid, 1); /* and the kernel forgot it */
	node_put(root);

	node_stats(&ns);
	cr_assert_eq(ns.nodes, 2, "the handle keeps the node");
	cr_assert_geq(n->fd, 0);
	cr_assert(node_fd_reclaim(), "the open file's node fd is not in the cache");
	cr_assert_eq(n->fd, -1);

	fd = handle_fd(h);
	cr_assert_geq(fd, 0, "handle_fd: %s", strerror(-fd));
	{
		char buf[8] = "";

		cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 3);
		cr_assert_str_eq(buf, "abc");
	}
	handle_fd_put(h, fd);
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "the reopened fd was not closed");

	cr_assert_eq(handle_charge(1000), -EMFILE);
	cr_assert_eq(handle_release(h->fh), 0);
	node_stats(&ns);
	cr_assert_eq(ns.nodes, 1, "the released handle's forgotten node was kept");
	cr_assert_eq(handle_charge(1000), 0, "the release gave the charge back");
}
