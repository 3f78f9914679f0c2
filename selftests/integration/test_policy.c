// SPDX-License-Identifier: MIT
/*
 * The policy step through a real mount: every verdict on the opcodes that
 * matter, name rewriting, inheritance and the LOOKUP postfilter's choice of
 * policy, hot replacement under load and while the daemon opens the
 * policy, the default opcode masks, and the data path under filters.  The
 * `verdicts` policy (bpf/verdicts.bpf.c) is steered through its maps; the
 * `example` userspace module (fsd/user_example.c) shows each userspace call.
 */
#define _GNU_SOURCE
#include "fixture.h"
#include "bpf/trace.h"
#include "bpf/verdicts.h"
#include "loader/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fusebpf/filter.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static char pol[16], pol2[16];

static void policies_fini(void)
{
	mnt_teardown();
	if (pol[0])
		test_policy_unload(pol);
	if (pol2[0])
		test_policy_unload(pol2);
}

TestSuite(verdict, .fini = policies_fini, .timeout = 120);
TestSuite(policy, .fini = policies_fini, .timeout = 180);

#define ERR(call) ((call) < 0 ? -errno : 0)
#define EXAMPLE_MTIME 1000000000 /* what the example module writes */
#define BPF_MTIME 1234567890 /* what the tests have the verdicts policy write */

/* ---- steering the verdicts policy ---- */

static void map_set(const char *map, uint32_t key, int32_t value)
{
	struct verdicts_setting s = { value, 1 };
	int fd = test_policy_map(pol, map);

	cr_assert_eq(bpf_map_update_elem(fd, &key, &s, 0), 0, "%s[%u]", map, key);
	close(fd);
}

static void verdict_pre(uint32_t op, int32_t verdict)
{
	map_set("pre", op, verdict);
}

static void verdict_post(uint32_t op, int32_t ret)
{
	map_set("post", op, ret);
}

static void verdict_mtime(uint64_t t)
{
	uint32_t key = 0;
	int fd = test_policy_map(pol, "mtime");

	cr_assert_eq(bpf_map_update_elem(fd, &key, &t, 0), 0);
	close(fd);
}

static uint64_t bpf_calls(uint32_t op, uint32_t phase)
{
	return test_policy_calls(pol, op, phase);
}

static uint64_t stat_of(const char *fmt, const char *op)
{
	char key[128];

	snprintf(key, sizeof(key), fmt, op);
	return mnt_stat(&M, key);
}

/*
 * A counter of the daemon's plus fusebpf.ko's of that name (kernel.KEY):
 * the verdicts, counted by whoever ran the prefilter, the daemon or, on
 * the module, the kernel.
 */
static uint64_t counted(const char *fmt, const char *op)
{
	char key[128];

	snprintf(key, sizeof(key), "kernel.");
	snprintf(key + 7, sizeof(key) - 7, fmt, op);
	return mnt_stat(&M, key + 7) + mnt_stat(&M, key);
}

/* ---- the operations, each making one request of its opcode ---- */

/* A file "f" with 5 bytes, and xattr user.x, made in the backing directory. */
static void seed(void)
{
	put(bp(&M, "f"), "hello");
	cr_assert_eq(setxattr(bp(&M, "f"), "user.x", "1", 1, 0), 0);
	put(bp(&M, "gone"), "x");
	put(bp(&M, "from"), "x");
}

static int do_lookup(void)
{
	struct stat st;

	return ERR(stat(mp(&M, "f"), &st));
}

static int do_getattr(void)
{
	struct stat st;
	int fd = open(mp(&M, "f"), O_PATH), err;

	if (fd < 0)
		return -errno;
	err = ERR(fstat(fd, &st));
	close(fd);
	return err;
}

static int do_open(void)
{
	int fd = open(mp(&M, "f"), O_RDONLY);

	return fd < 0 ? -errno : close(fd);
}

static int do_read(void)
{
	char buf[16];
	int fd = open(mp(&M, "f"), O_RDONLY), err;

	if (fd < 0)
		return -errno;
	err = read(fd, buf, sizeof(buf)) < 0 ? -errno : 0;
	close(fd);
	return err;
}

static int do_write(void)
{
	int fd = open(mp(&M, "f"), O_WRONLY), err;

	if (fd < 0)
		return -errno;
	err = write(fd, "HELLO", 5) < 0 ? -errno : 0;
	close(fd);
	return err;
}

static int do_create(void)
{
	int fd = open(mp(&M, "new"), O_CREAT | O_EXCL | O_WRONLY, 0644);

	return fd < 0 ? -errno : close(fd);
}

static int do_unlink(void)
{
	return ERR(unlink(mp(&M, "gone")));
}

static int do_rename(void)
{
	return ERR(rename(mp(&M, "from"), mp(&M, "to")));
}

static int do_readdir(void)
{
	DIR *d = opendir(mp(&M, ""));
	int n = 0;

	if (!d)
		return -errno;
	errno = 0;
	while (readdir(d))
		n++;
	n = errno ? -errno : 0;
	closedir(d);
	return n;
}

static int do_setattr(void)
{
	return ERR(chmod(mp(&M, "f"), 0640));
}

static int do_getxattr(void)
{
	char v[8];

	return ERR(getxattr(mp(&M, "f"), "user.x", v, sizeof(v)));
}

static int do_setxattr(void)
{
	return ERR(setxattr(mp(&M, "f"), "user.y", "2", 1, 0));
}

struct op_case {
	uint32_t op;
	uint32_t op2; /* READDIR also READDIRPLUS: the kernel chooses */
	const char *name;
	int (*run)(void);
};

static const struct op_case cases[] = {
	{ FUSE_LOOKUP, 0, "LOOKUP", do_lookup },
	{ FUSE_GETATTR, 0, "GETATTR", do_getattr },
	{ FUSE_OPEN, 0, "OPEN", do_open },
	{ FUSE_READ, 0, "READ", do_read },
	{ FUSE_WRITE, 0, "WRITE", do_write },
	{ FUSE_CREATE, 0, "CREATE", do_create },
	{ FUSE_UNLINK, 0, "UNLINK", do_unlink },
	{ FUSE_RENAME, 0, "RENAME", do_rename },
	{ FUSE_READDIRPLUS, FUSE_READDIR, "READDIRPLUS", do_readdir },
	{ FUSE_SETATTR, 0, "SETATTR", do_setattr },
	{ FUSE_GETXATTR, 0, "GETXATTR", do_getxattr },
	{ FUSE_SETXATTR, 0, "SETXATTR", do_setxattr },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Mounts with the verdicts policy, nothing cached so each operation reaches it. */
static void verdict_mount(const char *extra)
{
	char opts[512];

	test_policy_load("verdicts", "v", pol);
	snprintf(opts, sizeof(opts), "cache=never,policy=%s,user=example%s%s", pol,
		 extra ? "," : "", extra ? extra : "");
	start(opts);
	seed();
}

/* Runs one case with the prefilter verdict v on its opcode(s); its result. */
static int run_with(const struct op_case *c, int32_t v)
{
	verdict_pre(c->op, v);
	if (c->op2)
		verdict_pre(c->op2, v);
	return c->run();
}

static uint64_t both(const char *fmt, const struct op_case *c)
{
	return counted(fmt, c->name) + (c->op2 ? counted(fmt, "READDIR") : 0);
}

/*
 * After a listing with verdict v the daemon holds no handle of the
 * directory: on fusebpf.ko, which opens directories itself, a USER
 * listing makes the daemon open it too, and that handle goes with the
 * directory (RELEASEDIR is asynchronous).
 */
static void assert_no_listing_handle_left(const struct op_case *c, int32_t v)
{
	if (c->op != FUSE_READDIRPLUS)
		return;
	cr_assert_eq(mnt_handles_settled(&M), 0, "READDIR verdict %d: a handle left open", v);
}

static uint64_t bpf_post_calls(const struct op_case *c)
{
	return bpf_calls(c->op, FUSEBPF_PHASE_POST) +
	       (c->op2 ? bpf_calls(c->op2, FUSEBPF_PHASE_POST) : 0);
}

Test(verdict, continue_does_the_backing_operation_and_nothing_else)
{
	verdict_mount(NULL);
	for (size_t i = 0; i < NCASES; i++) {
		const struct op_case *c = &cases[i];
		uint64_t v0 = both("verdict.%s.CONTINUE", c), u0 = both("user.%s", c);
		uint64_t p0 = bpf_post_calls(c);

		cr_assert_eq(run_with(c, FUSEBPF_CONTINUE), 0, "%s", c->name);
		cr_assert_gt(both("verdict.%s.CONTINUE", c), v0, "%s: no CONTINUE counted", c->name);
		cr_assert_eq(both("user.%s", c), u0, "%s went to userspace", c->name);
		cr_assert_eq(bpf_post_calls(c), p0, "%s ran a postfilter", c->name);
	}
	cr_assert(access(bp(&M, "new"), F_OK) == 0 && access(bp(&M, "gone"), F_OK) < 0 &&
		  access(bp(&M, "to"), F_OK) == 0, "the operations reached the backing directory");
}

Test(verdict, user_goes_to_the_userspace_handler)
{
	char buf[16] = "";
	struct stat st;
	int fd;

	verdict_mount(NULL);
	for (size_t i = 0; i < NCASES; i++) {
		const struct op_case *c = &cases[i];
		uint64_t u0 = both("user.%s", c);

		cr_assert_eq(run_with(c, FUSEBPF_USER), 0, "%s", c->name);
		cr_assert_gt(both("user.%s", c), u0, "%s: the userspace handler did not run",
			     c->name);
		assert_no_listing_handle_left(c, FUSEBPF_USER);
	}
	/* The example module's own handlers: READ upper-cases, GETATTR sets mtime. */
	put(bp(&M, "f"), "hello");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf) - 1), 5);
	cr_assert_str_eq(buf, "HELLO");
	fd = open(mp(&M, "f"), O_PATH);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	close(fd);
	cr_assert_eq(st.st_mtime, EXAMPLE_MTIME);
}

static int run_case_index;
static int run_case_child(void *arg)
{
	(void)arg;
	return -cases[run_case_index].run();
}

Test(verdict, user_prefilter_calls_userspace_then_the_backing_operation)
{
	verdict_mount("user=example:deny_uid=4242");
	for (size_t i = 0; i < NCASES; i++) {
		const struct op_case *c = &cases[i];
		uint64_t p0 = both("user.example.prefilter.%s", c);
		int status;

		cr_assert_eq(run_with(c, FUSEBPF_USER_PREFILTER), 0, "%s", c->name);
		cr_assert_gt(both("user.example.prefilter.%s", c), p0,
			     "%s: no userspace prefilter call", c->name);
		assert_no_listing_handle_left(c, FUSEBPF_USER_PREFILTER);
		/* The module refuses uid 4242 everything; LOOKUP is enough to see it. */
		if (c->op != FUSE_LOOKUP)
			continue;
		run_case_index = i;
		status = run_as(4242, 4242, run_case_child, NULL);
		cr_assert_eq(status, EACCES, "uid 4242's %s: %d, not EACCES", c->name, status);
	}
	cr_assert(access(bp(&M, "new"), F_OK) == 0, "the backing operation ran after the call");
}

Test(verdict, postfilter_runs_the_bpf_postfilter_after_the_backing_operation)
{
	struct stat st;

	verdict_mount(NULL);
	verdict_mtime(BPF_MTIME);
	for (size_t i = 0; i < NCASES; i++) {
		const struct op_case *c = &cases[i];
		uint64_t p0 = bpf_post_calls(c);

		cr_assert_eq(run_with(c, FUSEBPF_POSTFILTER), 0, "%s", c->name);
		cr_assert_gt(bpf_post_calls(c), p0, "%s: no postfilter", c->name);
	}
	/* The postfilter's changes to the output reach the caller. */
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_mtime, BPF_MTIME, "LOOKUP postfilter's mtime");
	cr_assert_eq(do_getattr(), 0);
	/* And its error replaces the result; the backing operation did happen. */
	verdict_post(FUSE_CREATE, -EXDEV);
	cr_assert_eq(ERR(open(mp(&M, "created2"), O_CREAT | O_EXCL | O_WRONLY, 0644)), -EXDEV);
	cr_assert(access(bp(&M, "created2"), F_OK) == 0);
	verdict_post(FUSE_LOOKUP, -ENOTBLK);
	cr_assert_eq(do_lookup(), -ENOTBLK);
}

Test(verdict, user_postfilter_calls_userspace_after_the_backing_operation)
{
	struct stat st;

	verdict_mount(NULL);
	for (size_t i = 0; i < NCASES; i++) {
		const struct op_case *c = &cases[i];
		uint64_t p0 = both("user.example.postfilter.%s", c);

		cr_assert_eq(run_with(c, FUSEBPF_USER_POSTFILTER), 0, "%s", c->name);
		cr_assert_gt(both("user.example.postfilter.%s", c), p0, "%s: no userspace postfilter",
			     c->name);
		assert_no_listing_handle_left(c, FUSEBPF_USER_POSTFILTER);
	}
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_eq(st.st_mtime, EXAMPLE_MTIME, "the userspace postfilter's mtime");
	/* Its error replaces the result ("postfail." names, in the example module). */
	put(bp(&M, "postfail.x"), "x");
	cr_assert_eq(ERR(stat(mp(&M, "postfail.x"), &st)), -EREMOTEIO);
}

Test(verdict, call_default_takes_the_opcode_default)
{
	verdict_mount("user_ops=open,unlink");
	cr_assert_eq(run_with(&cases[2], FUSEBPF_CALL_DEFAULT), 0); /* OPEN: user */
	cr_assert_eq(stat_of("user.%s", "OPEN"), 1);
	cr_assert_eq(run_with(&cases[6], FUSEBPF_CALL_DEFAULT), 0); /* UNLINK: user */
	cr_assert_eq(stat_of("user.%s", "UNLINK"), 1);
	cr_assert_eq(run_with(&cases[0], FUSEBPF_CALL_DEFAULT), 0); /* LOOKUP: backing */
	cr_assert_eq(stat_of("user.%s", "LOOKUP"), 0);
	cr_assert_gt(counted("verdict.%s.CALL_DEFAULT", "LOOKUP"), 0);
}

Test(verdict, a_negative_verdict_fails_with_that_errno)
{
	verdict_mount(NULL);
	for (size_t i = 0; i < NCASES; i++) {
		const struct op_case *c = &cases[i];
		int err = run_with(c, -ENOTBLK);

		/* READDIR fails at opendir's first read; the others at their call. */
		cr_assert_eq(err, -ENOTBLK, "%s: %d", c->name, err);
		verdict_pre(c->op, FUSEBPF_CALL_DEFAULT);
		if (c->op2)
			verdict_pre(c->op2, FUSEBPF_CALL_DEFAULT);
	}
	cr_assert(access(bp(&M, "new"), F_OK) < 0 && access(bp(&M, "gone"), F_OK) == 0,
		  "a refused operation must not reach the backing directory");
}

Test(verdict, a_verdict_that_is_none_fails_with_eio)
{
	verdict_mount(NULL);
	verdict_pre(FUSE_LOOKUP, 42);
	cr_assert_eq(do_lookup(), -EIO);
}

/* ---- names ---- */

Test(policy, prefilters_rewrite_names)
{
	struct stat st, real;

	verdict_mount("user=example");
	cr_assert_eq(stat(mp(&M, "f"), &real), 0);
	/* BPF: "bpfalias.X" is X. */
	cr_assert_eq(stat(mp(&M, "bpfalias.f"), &st), 0);
	cr_assert_eq(st.st_ino, real.st_ino);
	put(mp(&M, "bpfalias.made"), "x");
	cr_assert(access(bp(&M, "made"), F_OK) == 0 && access(bp(&M, "bpfalias.made"), F_OK) < 0);
	cr_assert_eq(rename(mp(&M, "made"), mp(&M, "bpfalias.moved")), 0);
	cr_assert(access(bp(&M, "moved"), F_OK) == 0);
	/* Userspace (USER_PREFILTER): "alias.X" is X. */
	verdict_pre(FUSE_LOOKUP, FUSEBPF_USER_PREFILTER);
	cr_assert_eq(stat(mp(&M, "alias.f"), &st), 0);
	cr_assert_eq(st.st_ino, real.st_ino);
}

Test(policy, readdir_postfilters_leave_entries_out)
{
	struct dirent *e;
	int n = 0, seen_hidden = 0;
	DIR *d;

	verdict_mount(NULL);
	/* Many entries, so that the kernel asks with READDIRPLUS and then READDIR. */
	for (int i = 0; i < 600; i++) {
		char name[64];

		snprintf(name, sizeof(name), i % 10 ? "visible%03d" : "bpfhide.%03d", i);
		put(bp(&M, name), "x");
	}
	verdict_pre(FUSE_READDIR, FUSEBPF_POSTFILTER);
	verdict_pre(FUSE_READDIRPLUS, FUSEBPF_POSTFILTER);
	d = opendir(mp(&M, ""));
	cr_assert(d);
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, "bpfhide.", 8))
			seen_hidden++;
		if (!strncmp(e->d_name, "visible", 7))
			n++;
	}
	closedir(d);
	cr_assert_eq(seen_hidden, 0, "hidden names were listed");
	cr_assert_eq(n, 540, "%d visible names listed, not 540", n);
	/* fusebpf.ko lists with READDIR only (docs/kernel.md). */
	cr_assert(mnt_in_kernel(&M) || bpf_calls(FUSE_READDIRPLUS, FUSEBPF_PHASE_POST) > 0,
		  "READDIRPLUS was not filtered (or never sent)");
	cr_assert_gt(bpf_calls(FUSE_READDIR, FUSEBPF_PHASE_POST), 0,
		     "plain READDIR was not filtered (or never sent)");
}

/* ---- the policy of a node ---- */

Test(policy, children_inherit_and_lookup_postfilters_switch_policy)
{
	char dir[64], below[128];

	verdict_mount(NULL);
	test_policy_load("readonly", "r", pol2);
	snprintf(dir, sizeof(dir), "pol.%s", pol2);
	snprintf(below, sizeof(below), "%s/x", dir);
	cr_assert_eq(mkdir(bp(&M, dir), 0755), 0);
	cr_assert_eq(mkdir(bp(&M, "nopol"), 0755), 0);
	cr_assert_eq(mkdir(bp(&M, "plain"), 0755), 0);
	cr_assert_eq(mkdir(bp(&M, "plain/sub"), 0755), 0);
	verdict_pre(FUSE_LOOKUP, FUSEBPF_POSTFILTER);
	verdict_pre(FUSE_MKDIR, -EPERM);

	/* Inherited: the verdicts policy refuses MKDIR in the root and two levels down. */
	cr_assert_eq(ERR(mkdir(mp(&M, "x"), 0755)), -EPERM);
	cr_assert_eq(ERR(mkdir(mp(&M, "plain/sub/x"), 0755)), -EPERM);
	/* Below pol.<readonly>, the LOOKUP postfilter switched to readonly: EROFS. */
	cr_assert_eq(ERR(mkdir(mp(&M, below), 0755)), -EROFS);
	/* Below nopol/ it removed the policy: the defaults, so the MKDIR happens. */
	cr_assert_eq(mkdir(mp(&M, "nopol/x"), 0755), 0);
	cr_assert(access(bp(&M, "nopol/x"), F_OK) == 0);
}

Test(policy, a_child_policy_that_is_not_loaded_fails_the_lookup)
{
	struct stat st;

	verdict_mount(NULL);
	cr_assert_eq(mkdir(bp(&M, "pol.notloaded"), 0755), 0);
	verdict_pre(FUSE_LOOKUP, FUSEBPF_POSTFILTER);
	cr_assert_eq(ERR(stat(mp(&M, "pol.notloaded"), &st)), -EIO);
}

/* ---- hot replacement ---- */

struct load_arg {
	char path[PATH_MAX]; /* made once: mp()'s buffers are not for threads */
	volatile int stop;
	int failures;
	int ops;
	int first_errno;
};

static void *load_loop(void *arg)
{
	struct load_arg *a = arg;
	struct stat st;

	while (!a->stop) {
		int fd = open(a->path, O_RDONLY), err = 0;

		if (fd < 0)
			err = errno;
		else if (fstat(fd, &st) < 0)
			err = errno;
		if (fd >= 0)
			close(fd);
		if (!err && stat(a->path, &st) < 0)
			err = errno;
		__atomic_add_fetch(&a->ops, 1, __ATOMIC_RELAXED);
		if (err && __atomic_fetch_add(&a->failures, 1, __ATOMIC_RELAXED) == 0)
			a->first_errno = err;
	}
	return NULL;
}

static uint64_t mix_runs(void)
{
	uint64_t n[2] = { 0, 0 };
	uint32_t k = 0;
	int fd = test_policy_map(pol, "runs");

	bpf_map_lookup_elem(fd, &k, &n[0]);
	k = 1;
	bpf_map_lookup_elem(fd, &k, &n[1]);
	close(fd);
	return n[0] + n[1];
}

/*
 * Versions A and B of one policy fail any request that ran one's prefilter
 * and the other's postfilter (selftests/bpf/mix_a.bpf.c).  Three threads
 * open, fstat and stat without pause while the policy is replaced 30 times.
 */
Test(policy, replacement_under_load_fails_no_request_and_never_mixes_versions)
{
	struct load_arg a = { 0 };
	char opts[128], out[4096];
	pthread_t t[3];
	uint64_t runs0;

	test_policy_load(test_bpf("mix_a"), "m", pol);
	snprintf(opts, sizeof(opts), "cache=never,policy=%s", pol);
	start(opts);
	put(bp(&M, "f"), "x");
	snprintf(a.path, sizeof(a.path), "%s", mp(&M, "f"));
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, load_loop, &a), 0);
	for (int i = 0; i < 30; i++) {
		int status = fusebpf(out, sizeof(out), "load '%s' --name %s",
				     test_bpf(i % 2 ? "mix_a" : "mix_b"), pol);

		cr_assert_eq(status, 0, "reload %d: %s", i, out);
		cr_assert(strstr(out, "1 mount switched"), "reload %d did not reach the mount: %s",
			  i, out);
	}
	runs0 = mix_runs();
	usleep(200 * 1000);
	a.stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(a.failures, 0, "%d of %d operations failed (first: %s)", a.failures, a.ops,
		     strerror(a.first_errno));
	cr_assert_gt(a.ops, 100, "the load did not run (%d operations)", a.ops);
	cr_assert_gt(mix_runs(), runs0, "the last version does not run");
	/* On fusebpf.ko the kernel runs the filters, and holds the versions. */
	cr_assert(mnt_in_kernel(&M) ||
		      sh("'%s' --stats '%s' | grep -q '^policy.%s version 31$'", fsd_bin(), M.dir,
			 pol) == 0,
		  "the daemon is not at version 31 of the policy");
}

/*
 * The tests of the daemon's versions of a policy mount on the stock FUSE
 * (kernel=fuse), where the daemon runs the filters; on fusebpf.ko the
 * kernel holds the versions (kernel::a_reload_replaces_the_policy_in_place).
 */
Test(policy, a_load_that_fails_leaves_the_old_version_in_force)
{
	char opts[128], out[8192];
	struct stat st;
	uint64_t runs0;

	test_policy_load(test_bpf("mix_a"), "m", pol);
	snprintf(opts, sizeof(opts), "kernel=fuse,cache=never,policy=%s", pol);
	start(opts);
	put(bp(&M, "f"), "x");
	cr_assert_eq(fusebpf(out, sizeof(out), "load '%s' --name %s", test_bpf("bad_verifier"),
			     pol), 1, "%s", out);
	runs0 = mix_runs();
	cr_assert_eq(stat(mp(&M, "f"), &st), 0);
	cr_assert_gt(mix_runs(), runs0, "the old version stopped running");
	cr_assert(
	    sh("'%s' --stats '%s' | grep -q '^policy.%s version 1$'", fsd_bin(), M.dir, pol) == 0);
}

/*
 * ---- a load while the daemon opens the policy ----
 *
 * The window: the daemon has read a policy's pins, and let go of the
 * loader's lock of it, but has not entered it in its registry yet (the
 * first LOOKUP postfilter naming it) or has no control socket yet
 * (startup); a load then tells it nothing.  To hold the daemon there, a
 * child of the test (the holder) takes that lock, so that the daemon's open
 * waits for it; attaches with ptrace to the thread that waits; lets the lock
 * go; and runs that thread one system call at a time until it has closed
 * the lock file, the last step of its open.  With the thread stopped there,
 * it loads the policy's next version, and then lets the thread go.
 */

/* Whether the test (and so its holder) may trace: a child of its own, attached and killed. */
static int ptrace_probe(void)
{
	pid_t child = fork();
	int err = 0, status;

	cr_assert_geq(child, 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	if (ptrace(PTRACE_SEIZE, child, 0, 0) < 0)
		err = -errno;
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	return err;
}

/* Whether fd of thread tid is the file st describes. */
static bool fd_is(pid_t tid, unsigned long long fd, const struct stat *st)
{
	char path[64];
	struct stat fst;

	snprintf(path, sizeof(path), "/proc/%d/fd/%llu", (int)tid, fd);
	return stat(path, &fst) == 0 && fst.st_dev == st->st_dev && fst.st_ino == st->st_ino;
}

/* The thread of process pid that is in flock() on the file st describes; 0 if none. */
static pid_t flock_thread(pid_t pid, const struct stat *st)
{
	char path[320], line[256];
	struct dirent *e;
	pid_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && !found && (e = readdir(d))) {
		unsigned long long arg0;
		long nr;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", (int)pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && sscanf(line, "%ld %llx", &nr, &arg0) == 2 &&
		    nr == SYS_flock && fd_is(atoi(e->d_name), arg0, st))
			found = atoi(e->d_name);
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

/* The thread that waits for the flock the holder has on the file st describes; 0 if none yet. */
static pid_t lock_waiter(const struct stat *st)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	pid_t found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		const char *arrow = strstr(line, "->");
		unsigned maj, min;
		unsigned long long ino;
		int pid;

		if (arrow &&
		    sscanf(arrow + 2, " FLOCK ADVISORY WRITE %d %x:%x:%llu", &pid, &maj, &min,
			   &ino) == 4 &&
		    ino == st->st_ino && maj == major(st->st_dev) && min == minor(st->st_dev))
			found = flock_thread(pid, st);
	}
	if (f)
		fclose(f);
	return found;
}

static char hold_why[4608];

#define HOLD_FAIL(...) (snprintf(hold_why, sizeof(hold_why), __VA_ARGS__), hold_why)

/*
 * The holder's work (see above): after taking the lock of policy name it
 * writes one byte on ready; it loads what as name with the daemon held.
 * NULL, or what went wrong.
 */
static const char *hold_and_load(const char *name, const char *what, int ready)
{
	struct __ptrace_syscall_info info;
	char path[128], cmd[2048], out[4096];
	bool closing = false;
	int lock, status, sig = 0;
	struct stat st;
	pid_t tid;
	size_t n;
	FILE *p;

	snprintf(path, sizeof(path), LOADER_RUN_DIR "/policy-%s.lock", name);
	lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0 || fstat(lock, &st) < 0)
		return HOLD_FAIL("locking %s: %s", path, strerror(errno));
	if (write(ready, "L", 1) != 1)
		return HOLD_FAIL("telling the test: %s", strerror(errno));
	while (!(tid = lock_waiter(&st)))
		usleep(5000);
	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD) < 0 ||
	    ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 || waitpid(tid, &status, __WALL) != tid)
		return HOLD_FAIL("attaching to thread %d of the daemon: %s", (int)tid,
				 strerror(errno));
	close(lock); /* the daemon's flock() goes through once the thread runs */
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, tid, 0, sig) < 0 || waitpid(tid, &status, __WALL) != tid)
			return HOLD_FAIL("tracing thread %d: %s", (int)tid, strerror(errno));
		if (!WIFSTOPPED(status))
			return HOLD_FAIL("thread %d ended in its open (status %#x)", (int)tid,
					 status);
		sig = 0;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			if (status >> 16 == 0)
				sig = WSTOPSIG(status); /* a signal for the thread: passed on */
			continue;
		}
		if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info) <= 0)
			return HOLD_FAIL("PTRACE_GET_SYSCALL_INFO: %s", strerror(errno));
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
			closing = info.entry.nr == SYS_close && fd_is(tid, info.entry.args[0], &st);
		else if (info.op == PTRACE_SYSCALL_INFO_EXIT && closing)
			break; /* read the pins, let go of the lock: in the window */
	}
	snprintf(cmd, sizeof(cmd), "'%s' load '%s' --name %s 2>&1", fusebpf_bin(), what, name);
	p = popen(cmd, "r");
	if (!p)
		return HOLD_FAIL("running fusebpf: %s", strerror(errno));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	if (status != 0)
		return HOLD_FAIL("fusebpf load %s --name %s: %s", what, name, out);
	/* The daemon that is held could not be told: else this was not the window. */
	if (strstr(out, "switched"))
		return HOLD_FAIL("the load reached a daemon that was to be held: %s", out);
	if (ptrace(PTRACE_DETACH, tid, 0, 0) < 0)
		return HOLD_FAIL("letting thread %d go: %s", (int)tid, strerror(errno));
	return NULL;
}

struct holder {
	pid_t pid;
	int report; /* what went wrong, if anything, then EOF */
};

/* Starts the holder of policy name, which is to load what; returns once it holds the lock. */
static struct holder holder_start(const char *name, const char *what)
{
	struct holder h;
	int fds[2], err;
	char c;

	err = ptrace_probe();
	if (err)
		cr_skip_test("ptrace is not allowed here: %s", strerror(-err));
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	h.pid = fork();
	cr_assert_geq(h.pid, 0);
	if (h.pid == 0) {
		const char *why;

		close(fds[0]);
		alarm(60 * test_time_scale()); /* a holder never outlives a stuck test */
		why = hold_and_load(name, what, fds[1]);
		if (why && write(fds[1], why, strlen(why)) < 0)
			_exit(2);
		_exit(why ? 1 : 0);
	}
	close(fds[1]);
	h.report = fds[0];
	cr_assert_eq(read(h.report, &c, 1), 1, "the holder did not take the lock of %s", name);
	return h;
}

static void holder_wait(struct holder h)
{
	char why[sizeof(hold_why)];
	size_t used = 0;
	ssize_t n;
	int status;

	while (used < sizeof(why) - 1 &&
	       (n = read(h.report, why + used, sizeof(why) - 1 - used)) > 0)
		used += n;
	why[used] = '\0';
	close(h.report);
	cr_assert_eq(waitpid(h.pid, &status, 0), h.pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "holding the daemon in its open (status %#x): %s", status, why);
}

/* The daemon opens the root's policy before it has a control socket to hear of a load. */
Test(policy, a_load_while_the_daemon_starts_reaches_it)
{
	struct holder h;
	char opts[128];

	test_policy_load("passthrough", "s", pol);
	h = holder_start(pol, "readonly");
	snprintf(opts, sizeof(opts), "kernel=fuse,cache=never,policy=%s", pol);
	start(opts); /* opens passthrough, is held while readonly replaces it */
	holder_wait(h);
	cr_assert(
	    sh("'%s' --stats '%s' | grep -q '^policy.%s version 2$'", fsd_bin(), M.dir, pol) == 0,
	    "the daemon is not at version 2 of the policy");
	cr_assert_eq(ERR(mkdir(mp(&M, "d"), 0755)), -EROFS,
		     "the version the daemon opened before the load still runs");
}

/* A LOOKUP postfilter names a policy the daemon has not run yet: it opens it then. */
Test(policy, a_load_while_a_lookup_opens_the_policy_reaches_the_daemon)
{
	char dir[64], below[128];
	struct holder h;
	struct stat st;

	verdict_mount("kernel=fuse"); /* cache=never: every stat is a LOOKUP */
	test_policy_load("passthrough", "p", pol2);
	snprintf(dir, sizeof(dir), "pol.%s", pol2);
	snprintf(below, sizeof(below), "%s/d", dir);
	cr_assert_eq(mkdir(bp(&M, dir), 0755), 0);
	verdict_pre(FUSE_LOOKUP, FUSEBPF_POSTFILTER);
	h = holder_start(pol2, "readonly");
	/* Opens passthrough, and is held while readonly replaces it. */
	cr_assert_eq(stat(mp(&M, dir), &st), 0);
	holder_wait(h);
	cr_assert(
	    sh("'%s' --stats '%s' | grep -q '^policy.%s version 2$'", fsd_bin(), M.dir, pol2) == 0,
	    "the daemon is not at version 2 of the policy");
	cr_assert_eq(ERR(mkdir(mp(&M, below), 0755)), -EROFS,
		     "the version the daemon opened before the load still runs");
}

/* ---- the data path under filters ---- */

Test(policy, files_are_passthrough_unless_the_policy_filters_data)
{
	char opts[128], buf[8];

	/*
	 * trace filters no READ or WRITE: passthrough, the daemon sees no data;
	 * on a kernel without passthrough the daemon serves it, unfiltered.
	 */
	test_policy_load("trace", "t", pol);
	snprintf(opts, sizeof(opts), "policy=%s", pol);
	start(opts);
	put(mp(&M, "f"), "hello");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 5);
	if (mnt_stat(&M, "passthrough")) {
		cr_assert_eq(requests("READ") + requests("WRITE"), 0);
	} else {
		cr_assert_gt(requests("READ"), 0);
		cr_assert_eq(mnt_stat(&M, "filter_calls.READ"), 0);
		cr_assert_eq(mnt_stat(&M, "filter_calls.WRITE"), 0);
	}
	mnt_teardown();

	/* verdicts filters both: every read and write reaches the daemon and the filters. */
	test_policy_load("verdicts", "v", pol2);
	memcpy(pol, pol2, sizeof(pol));
	pol2[0] = '\0';
	snprintf(opts, sizeof(opts), "policy=%s", pol);
	start(opts);
	put(mp(&M, "f"), "hello");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 5);
	cr_assert_gt(requests("READ"), 0);
	cr_assert_gt(requests("WRITE"), 0);
	cr_assert_gt(bpf_calls(FUSE_READ, FUSEBPF_PHASE_PRE), 0);
	cr_assert_gt(bpf_calls(FUSE_WRITE, FUSEBPF_PHASE_PRE), 0);
}

/* ---- default opcode masks ---- */

Test(policy, user_ops_sends_opcodes_to_userspace_without_a_policy)
{
	start("user=example,user_ops=open,unlink,ro");
	put(bp(&M, "f"), "x");
	cr_assert_eq(do_open(), 0);
	cr_assert_eq(requests("OPEN"), mnt_stat(&M, "user.OPEN"));
	cr_assert_eq(mnt_stat(&M, "user.LOOKUP"), 0);
	/* ro after the list is a mount option again, not an opcode. */
	cr_assert_eq(ERR(unlink(mp(&M, "f"))), -EROFS);
}

/* fsd refuses with a line naming what is wrong; real directories, so that nothing else fails. */
static void refused(const char *opts, const char *words)
{
	const char *tmp = test_tmp();

	cr_assert_eq(sh("mkdir -p '%s/rb' '%s/rm'", tmp, tmp), 0);
	cr_assert_neq(sh("timeout 20 '%s' -f -o %s '%s/rb' '%s/rm' > '%s/o' 2>&1", fsd_bin(), opts,
			 tmp, tmp, tmp),
		      0, "fsd -o %s started", opts);
	cr_assert_eq(sh("grep -qF \"%s\" '%s/o'", words, tmp), 0, "-o %s: no '%s' in the message",
		     opts, words);
}

Test(policy, bad_user_ops_modules_and_policies_are_refused_by_name)
{
	refused("user_ops=open,frob", "'frob' is not an opcode");
	refused("user_ops=init", "'init' is not an opcode the daemon serves");
	refused("user=nosuch", "no userspace module 'nosuch'");
	refused("policy=notloaded_xyz", "policy 'notloaded_xyz': No such file or directory");
	refused("policy=a/b", "expected a policy name");
}

Test(policy, masks_are_shown_by_the_debug_log_and_the_tool)
{
	char out[8192];

	start("user_ops=unlink");
	cr_assert_eq(fusebpf(out, sizeof(out), "stats '%s'", M.dir), 0, "%s", out);
	cr_assert(strstr(out, "opcode masks: backing 0x"), "%s", out);
	cr_assert(strstr(out, "user 0x400 UNLINK"), "%s", out);
	mnt_teardown();

	/* fsd -d stays in the foreground; timeout is its watchdog, umount -l the fixture's. */
	cr_assert_eq(sh("cd '%s' && mkdir -p dbg/b dbg/m && cd dbg && "
			"{ timeout 20 '%s' -d -o user_ops=unlink b m 2>log & } && "
			"for i in $(seq 50); do grep -q \" $PWD/m \" /proc/mounts && break; "
			"sleep 0.1; done; umount m || umount -l m; wait; "
			"grep -q 'opcode mask user 0x400: UNLINK' log && "
			"grep -q 'opcode mask backing 0x' log",
			test_tmp(), fsd_bin()),
		     0, "the debug log does not show the masks");
}

/* ---- the policies bpf/ ships ---- */

TestSuite(shipped, .fini = policies_fini, .timeout = 180);

static void mount_with(const char *builtin, const char *suffix, const char *extra)
{
	char opts[256];

	test_policy_load(builtin, suffix, pol);
	snprintf(opts, sizeof(opts), "policy=%s%s%s", pol, extra ? "," : "", extra ? extra : "");
	start(opts);
}

/*
 * A policy that filters no READ or WRITE leaves file data passthrough:
 * the daemon sees none; on a kernel without passthrough (6.1) the daemon
 * serves it, and no filter sees it.
 */
static void assert_data_unfiltered(const char *what)
{
	if (mnt_stat(&M, "passthrough"))
		cr_assert_eq(requests("READ") + requests("WRITE"), 0, "%s left passthrough", what);
	else
		cr_assert_eq(mnt_stat(&M, "filter_calls.READ") + mnt_stat(&M, "filter_calls.WRITE"), 0,
			     "a filter saw the %s", what);
}

Test(shipped, passthrough_filters_nothing)
{
	char buf[8];

	mount_with("passthrough", "p", NULL);
	put(mp(&M, "f"), "hello");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 5);
	cr_assert_eq(rename(mp(&M, "f"), mp(&M, "g")), 0);
	cr_assert_eq(unlink(mp(&M, "g")), 0);
	assert_data_unfiltered("data");
	cr_assert(sh("'%s' --stats '%s' | grep -q '^filter_calls'", fsd_bin(), M.dir) != 0,
		  "a policy without filters ran a filter");
}

Test(shipped, trace_counts_every_request_by_opcode_and_verdict)
{
	struct trace_count c = { 0 };
	uint32_t op = FUSE_CREATE;
	int32_t refuse = -EDQUOT;
	char out[16384];
	int fd;

	mount_with("trace", "t", "cache=never");
	for (int i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		put(mp(&M, name), "x");
	}
	fd = test_policy_map(pol, "counts");
	cr_assert_eq(bpf_map_lookup_elem(fd, &op, &c), 0);
	cr_assert_eq(c.requests, served("CREATE"), "trace saw %llu CREATEs, the mount served %llu",
		     (unsigned long long)c.requests, (unsigned long long)served("CREATE"));
	cr_assert_eq(c.requests, 5);
	cr_assert_eq(c.verdicts[FUSEBPF_CALL_DEFAULT], 5);
	close(fd);
	/* Its verdicts map makes it decide. */
	fd = test_policy_map(pol, "verdicts");
	cr_assert_eq(bpf_map_update_elem(fd, &op, &refuse, 0), 0);
	close(fd);
	cr_assert_eq(write_file(mp(&M, "refused"), "x", 1), -EDQUOT);
	fd = test_policy_map(pol, "counts");
	cr_assert_eq(bpf_map_lookup_elem(fd, &op, &c), 0);
	close(fd);
	cr_assert_eq(c.verdicts[FUSEBPF_VERDICT_MAX + 1], 1);
	/* fusebpf stats shows the daemon's counters and trace's. */
	cr_assert_eq(fusebpf(out, sizeof(out), "stats '%s'", M.dir), 0, "%s", out);
	cr_assert(strstr(out, "CREATE") && strstr(out, "CALL_DEFAULT 5"), "%s", out);
	cr_assert(strstr(out, "counts (/sys/fs/bpf/fusebpf/"), "%s", out);
	assert_data_unfiltered("writes");
}

static int all_refused_erofs(void)
{
	char f[PATH_MAX];
	int fd, bad = 0;

	snprintf(f, sizeof(f), "%s", mp(&M, "f")); /* mp's buffers rotate */
#define EXPECT_EROFS(call)                                                                         \
	do {                                                                                       \
		if ((call) >= 0 || errno != EROFS) {                                               \
			fprintf(stderr, "%s: %s, not EROFS\n", #call, strerror(errno));            \
			bad++;                                                                     \
		}                                                                                  \
	} while (0)
	EXPECT_EROFS(open(mp(&M, "new"), O_CREAT | O_WRONLY, 0644));
	EXPECT_EROFS(mkdir(mp(&M, "d2"), 0755));
	EXPECT_EROFS(mknod(mp(&M, "fifo"), S_IFIFO | 0644, 0));
	EXPECT_EROFS(symlink("f", mp(&M, "sl")));
	EXPECT_EROFS(link(f, mp(&M, "hl")));
	EXPECT_EROFS(unlink(f));
	EXPECT_EROFS(rmdir(mp(&M, "d")));
	EXPECT_EROFS(rename(f, mp(&M, "g")));
	EXPECT_EROFS(chmod(f, 0600));
	EXPECT_EROFS(truncate(f, 0));
	EXPECT_EROFS(setxattr(f, "user.y", "1", 1, 0));
	EXPECT_EROFS(removexattr(f, "user.x"));
	EXPECT_EROFS(open(f, O_WRONLY));
	EXPECT_EROFS(open(f, O_RDWR));
	EXPECT_EROFS(open(f, O_RDONLY | O_TRUNC));
#undef EXPECT_EROFS
	fd = open(f, O_RDONLY);
	if (fd < 0)
		bad++;
	else
		close(fd);
	return bad;
}

Test(shipped, readonly_refuses_every_change_with_erofs)
{
	char buf[8];

	mount_with("readonly", "r", "cache=never");
	put(bp(&M, "f"), "hello");
	cr_assert_eq(setxattr(bp(&M, "f"), "user.x", "1", 1, 0), 0);
	cr_assert_eq(mkdir(bp(&M, "d"), 0755), 0);
	cr_assert_eq(all_refused_erofs(), 0, "some changes were not refused (above)");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 5);
	assert_data_unfiltered("reads");
	cr_assert(access(bp(&M, "g"), F_OK) < 0 && access(bp(&M, "f"), F_OK) == 0);
}

/* Adds name to hide's exact-name map, or as a prefix to its LPM trie. */
static void hide_add(const char *name, bool prefix)
{
	uint8_t one = 1;
	int fd;

	if (prefix) {
		struct {
			uint32_t prefixlen;
			char data[256];
		} key = { .prefixlen = strlen(name) * 8 };

		strncpy(key.data, name, sizeof(key.data) - 1);
		fd = test_policy_map(pol, "prefixes");
		cr_assert_eq(bpf_map_update_elem(fd, &key, &one, 0), 0, "prefix %s", name);
	} else {
		char key[256] = "";

		strncpy(key, name, sizeof(key) - 1);
		fd = test_policy_map(pol, "names");
		cr_assert_eq(bpf_map_update_elem(fd, key, &one, 0), 0, "name %s", name);
	}
	close(fd);
}

Test(shipped, hide_makes_names_invisible_to_lookup_and_both_readdirs)
{
	int listed = 0, visible = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	test_policy_load("hide", "h", pol);
	hide_add("secret", false);
	hide_add(".cache", true);
	{
		char opts[128];

		snprintf(opts, sizeof(opts), "policy=%s", pol);
		start(opts);
	}
	cr_assert_eq(mkdir(bp(&M, "sub"), 0755), 0);
	put(bp(&M, "secret"), "x");
	put(bp(&M, "sub/secret"), "x");
	put(bp(&M, ".cache-1"), "x");
	put(bp(&M, "secretive"), "x"); /* not the name, not the prefix: visible */
	for (int i = 0; i < 600; i++) {
		char name[32];

		snprintf(name, sizeof(name), i % 7 ? "v%03d" : ".cache%03d", i);
		put(bp(&M, name), "x");
	}
	cr_assert_eq(ERR(stat(mp(&M, "secret"), &st)), -ENOENT);
	cr_assert_eq(ERR(stat(mp(&M, "sub/secret"), &st)), -ENOENT);
	cr_assert_eq(ERR(stat(mp(&M, ".cache-1"), &st)), -ENOENT);
	cr_assert_eq(stat(mp(&M, "secretive"), &st), 0);
	d = opendir(mp(&M, ""));
	cr_assert(d);
	while ((e = readdir(d))) {
		listed++;
		cr_assert(strcmp(e->d_name, "secret") && strncmp(e->d_name, ".cache", 6),
			  "%s was listed", e->d_name);
		if (e->d_name[0] == 'v')
			visible++;
	}
	closedir(d);
	cr_assert_eq(visible, 514, "%d of the 514 visible names listed", visible);
	/*
	 * Both kinds of listing came (fusebpf.ko lists with READDIR only),
	 * and the LOOKUP prefilter left the hidden names out.
	 */
	cr_assert(mnt_in_kernel(&M) || requests("READDIRPLUS") > 0, "READDIRPLUS never came");
	cr_assert_gt(served("READDIR"), 0, "READDIR never came");
	cr_assert_geq(counted("verdict.%s.ERRNO", "LOOKUP"), 86 + 3);
	/* A hidden name cannot be made or shadowed either. */
	cr_assert_eq(write_file(mp(&M, "secret"), "y", 1), -EPERM);
	cr_assert_eq(ERR(mkdir(mp(&M, "sub/.cache-x"), 0755)), -EPERM);
	cr_assert_eq(ERR(rename(mp(&M, "secretive"), mp(&M, "secret"))), -EPERM);
	cr_assert_eq(sh("cat '%s' | grep -qx x", bp(&M, "secret")), 0, "the hidden file changed");
}

/* ---- maps, from outside: bpftool and a ring buffer reader ---- */

static int events_seen;
static int count_event(void *ctx, void *data, size_t size)
{
	const struct verdicts_event *e = data;

	(void)ctx;
	if (size >= sizeof(*e) && e->opcode == FUSE_LOOKUP && !strcmp(e->name, "ringme"))
		events_seen++;
	return 0;
}

Test(shipped, maps_are_pinned_for_bpftool_and_a_ring_buffer_reaches_userspace)
{
	struct ring_buffer *rb;
	struct stat st;
	int fd;

	verdict_mount(NULL);
	/* bpftool reads and writes the pinned maps while the mount runs. */
	cr_assert_eq(sh("bpftool map dump pinned /sys/fs/bpf/fusebpf/%s/maps/calls >/dev/null", pol),
		     0);
	cr_assert_eq(sh("bpftool map update pinned /sys/fs/bpf/fusebpf/%s/maps/pre "
			"key %d 0 0 0 value hex ff ff ff ff 01 00 00 00",
			pol, FUSE_LOOKUP),
		     0);
	cr_assert_eq(ERR(stat(mp(&M, "f"), &st)), -EPERM, "bpftool's verdict (-1) was not used");
	verdict_pre(FUSE_LOOKUP, FUSEBPF_CONTINUE);
	fd = test_policy_map(pol, "events");
	rb = ring_buffer__new(fd, count_event, NULL, NULL);
	cr_assert(rb);
	put(bp(&M, "ringme"), "x");
	cr_assert_eq(stat(mp(&M, "ringme"), &st), 0);
	for (int i = 0; i < 20 && !events_seen; i++)
		ring_buffer__poll(rb, 100);
	ring_buffer__free(rb);
	close(fd);
	cr_assert_geq(events_seen, 1, "no LOOKUP event for ringme on the ring buffer");
}

/* ---- what the loader refuses, and how it says so ---- */

TestSuite(loader, .fini = policies_fini, .timeout = 60);

static void expect_refused(const char *args, const char *words)
{
	char out[16384];
	int status = fusebpf(out, sizeof(out), "%s", args);

	cr_assert_neq(status, 0, "fusebpf %s succeeded: %s", args, out);
	cr_assert(strstr(out, words), "fusebpf %s: no '%s' in: %s", args, words, out);
}

Test(loader, bad_objects_get_clear_errors_and_pin_nothing)
{
	char args[512], out[4096];

	snprintf(args, sizeof(args), "load '%s'", test_bpf("bad_verifier"));
	expect_refused(args, "verifier refused program 'getattr_prefilter'");
	expect_refused(args, "invalid mem access"); /* the verifier's own last lines */
	snprintf(args, sizeof(args), "load '%s'", test_bpf("bad_progname"));
	expect_refused(args, "program 'frobnicate_prefilter' is not a filter");
	snprintf(args, sizeof(args), "load '%s'", test_bpf("bad_ctxsize"));
	expect_refused(args, "context size mismatch: built with a 512-byte");
	snprintf(args, sizeof(args), "load '%s'", test_bpf("bad_longname"));
	expect_refused(args, "is too long: at most 15 characters");
	snprintf(args, sizeof(args), "load '%s'", test_bpf("bad_notpolicy"));
	expect_refused(args, "not a fusebpf policy");
	expect_refused("load /nonexistent/policy.bpf.o", "/nonexistent/policy.bpf.o: No such file");
	expect_refused("load nosuchbuiltin", "no built-in policy of that name");
	snprintf(args, sizeof(args), "load '%s' --name much_too_long_name", test_bpf("mix_a"));
	expect_refused(args, "policy name 'much_too_long_name' is not valid");
	snprintf(args, sizeof(args), "load '%s' --name bad.name", test_bpf("mix_a"));
	expect_refused(args, "is not valid");
	/* None of them is pinned. */
	cr_assert_eq(fusebpf(out, sizeof(out), "list"), 0);
	cr_assert(!strstr(out, "bad_") && !strstr(out, "sixteen"), "pinned after all: %s", out);
	expect_refused("show bad_verifier", "not loaded");
	expect_refused("unload bad_verifier", "not loaded");
}

/* A directory named as a built-in is not taken for the policy file (the source tree's media/). */
Test(loader, a_directory_of_a_builtins_name_is_not_its_file)
{
	char dir[PATH_MAX], out[8192];

	snprintf(dir, sizeof(dir), "%s/loader-cwd-XXXXXX", test_tmp());
	cr_assert(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
	cr_assert_eq(sh("mkdir '%s/hide'", dir), 0);
	snprintf(pol, sizeof(pol), "t%dd", (int)getpid() % 10000000);
	cr_assert_eq(sh_output(out, sizeof(out), "cd '%s' && '%s' load hide --name %s", dir,
			       fusebpf_bin(), pol),
		     0, "fusebpf load hide, beside a directory hide/: %s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "show %s", pol), 0, "%s", out);
	cr_assert(strstr(out, "prefixes"), "not the built-in hide: %s", out);
	/* A path is still a file: the directory is refused as one. */
	cr_assert_neq(sh_output(out, sizeof(out), "cd '%s' && '%s' load ./hide --name %s", dir,
				fusebpf_bin(), pol),
		      0);
	cr_assert(strstr(out, "not a regular file"), "%s", out);
	sh("rm -rf '%s'", dir);
}

Test(loader, load_list_show_unload)
{
	char out[8192];

	test_policy_load("hide", "h", pol);
	cr_assert_eq(fusebpf(out, sizeof(out), "list"), 0);
	cr_assert(strstr(out, pol), "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "show %s", pol), 0);
	cr_assert(strstr(out, "LOOKUP") && strstr(out, "prefilter") && strstr(out, "xdp"), "%s",
		  out);
	cr_assert(strstr(out, "prefixes") && strstr(out, "lpm_trie"), "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "unload %s", pol), 0);
	cr_assert_eq(fusebpf(out, sizeof(out), "list"), 0);
	cr_assert(!strstr(out, pol), "%s", out);
	cr_assert(access("/sys/fs/bpf/fusebpf", F_OK) == 0);
	pol[0] = '\0';
}

Test(loader, unloading_a_policy_in_use_leaves_its_nodes_the_defaults)
{
	char out[4096];
	struct stat st;

	mount_with("verdicts", "v", "cache=never");
	put(bp(&M, "f"), "x");
	verdict_pre(FUSE_LOOKUP, -EPERM);
	cr_assert_eq(ERR(stat(mp(&M, "f"), &st)), -EPERM);
	if (mnt_in_kernel(&M)) {
		/* fusebpf.ko's inodes hold it: the unload is refused, the policy goes on. */
		cr_assert_neq(fusebpf(out, sizeof(out), "unload %s", pol), 0, "unloaded in use");
		cr_assert(strstr(out, "in use by"), "%s", out);
		cr_assert_eq(ERR(stat(mp(&M, "f"), &st)), -EPERM);
		return;
	}
	cr_assert_eq(fusebpf(out, sizeof(out), "unload %s", pol), 0, "%s", out);
	cr_assert_eq(stat(mp(&M, "f"), &st), 0, "the unloaded policy still decides");
	pol[0] = '\0';
}

/* ---- what filters tell the daemon beyond a verdict ---- */

static uint64_t seen_cookie(uint32_t op)
{
	uint64_t v = 0;
	int fd = test_policy_map(pol, "seen_cookie");

	cr_assert_eq(bpf_map_lookup_elem(fd, &op, &v), 0);
	close(fd);
	return v;
}

Test(policy, a_lookup_postfilter_leaves_a_cookie_later_filters_find)
{
	int fd;

	verdict_mount(NULL);
	put(bp(&M, "cookie.f"), "x");
	put(bp(&M, "plain"), "x");
	verdict_pre(FUSE_LOOKUP, FUSEBPF_POSTFILTER);
	fd = open(mp(&M, "cookie.f"), O_RDONLY);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(seen_cookie(FUSE_OPEN), VERDICTS_COOKIE, "OPEN saw cookie %#llx",
		     (unsigned long long)seen_cookie(FUSE_OPEN));
	fd = open(mp(&M, "plain"), O_RDONLY);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(seen_cookie(FUSE_OPEN), 0);
}

Test(policy, reply_no_cache_keeps_the_kernel_asking)
{
	char opts[128];
	struct stat st;
	uint64_t n0;

	/* Default caching (cache=always): one LOOKUP, then the kernel's dentry answers. */
	test_policy_load("verdicts", "v", pol);
	snprintf(opts, sizeof(opts), "policy=%s", pol);
	start(opts);
	put(bp(&M, "a"), "x");
	put(bp(&M, "b"), "x");
	/* The daemon's LOOKUPs, or on fusebpf.ko the kernel's. */
	n0 = served("LOOKUP");
	for (int i = 0; i < 5; i++)
		cr_assert_eq(stat(mp(&M, "a"), &st), 0);
	cr_assert_eq(served("LOOKUP") - n0, 1);
	/* With FUSEBPF_REPLY_NO_CACHE on LOOKUP, every stat asks again. */
	map_set("nocache", FUSE_LOOKUP, 1);
	n0 = served("LOOKUP");
	for (int i = 0; i < 5; i++)
		cr_assert_eq(stat(mp(&M, "b"), &st), 0);
	cr_assert_geq(served("LOOKUP") - n0, 5);
}

Test(policy, reply_no_cache_of_a_lookup_prefilter_holds_for_listings)
{
	char opts[128];
	struct dirent *e;
	struct stat st;
	uint64_t n0, plus0;
	DIR *d;

	test_policy_load("verdicts", "v", pol);
	snprintf(opts, sizeof(opts), "policy=%s", pol);
	start(opts);
	map_set("nocache", FUSE_LOOKUP, 1);
	put(bp(&M, "c"), "x");
	/* A READDIRPLUS entry is a lookup handed to the kernel: not one to cache. */
	plus0 = requests("READDIRPLUS");
	d = opendir(mp(&M, ""));
	cr_assert_not_null(d);
	while ((e = readdir(d)))
		;
	closedir(d);
	/* fusebpf.ko lists with READDIR only, and makes no entries of a listing. */
	cr_assert(mnt_in_kernel(&M) || requests("READDIRPLUS") - plus0 >= 1,
		  "the listing should be a READDIRPLUS");
	n0 = served("LOOKUP");
	for (int i = 0; i < 5; i++)
		cr_assert_eq(stat(mp(&M, "c"), &st), 0);
	cr_assert_geq(served("LOOKUP") - n0, 5);
}

/* ---- what the kernel's ways require of filters ---- */

Test(policy, a_release_cannot_be_refused)
{
	verdict_mount(NULL);
	verdict_pre(FUSE_RELEASE, -EPERM);
	verdict_pre(FUSE_RELEASEDIR, -EPERM);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(do_open(), 0);
		cr_assert_eq(do_readdir(), 0);
	}
	/* RELEASE is asynchronous: wait for the handles to go. */
	cr_assert_eq(mnt_handles_settled(&M), 0, "refused releases leaked their handles");
	cr_assert_geq(counted("verdict.%s.ERRNO", "RELEASE"), 5);
}

Test(policy, enosys_from_a_filter_is_eio_and_switches_nothing_off)
{
	verdict_mount(NULL);
	verdict_pre(FUSE_OPEN, -ENOSYS);
	cr_assert_eq(do_open(), -EIO);
	/* Had the kernel seen ENOSYS, it would no longer send OPEN at all. */
	verdict_pre(FUSE_OPEN, -EPERM);
	cr_assert_eq(do_open(), -EPERM);
	verdict_pre(FUSE_GETXATTR, -ENOSYS);
	cr_assert_eq(do_getxattr(), -EIO);
	verdict_pre(FUSE_GETXATTR, FUSEBPF_CONTINUE);
	cr_assert_eq(do_getxattr(), 0);
}

/* With the kernel's caches on (cache=always), a listing must not let names around LOOKUP. */
Test(policy, readdirplus_entries_pass_the_lookup_filters)
{
	char opts[128], dir[64], below[128];
	struct dirent *e;
	int listed = 0;
	DIR *d;

	test_policy_load("verdicts", "v", pol);
	test_policy_load("readonly", "r", pol2);
	snprintf(opts, sizeof(opts), "policy=%s", pol);
	start(opts);
	snprintf(dir, sizeof(dir), "pol.%s", pol2);
	snprintf(below, sizeof(below), "%s/x", dir);
	cr_assert_eq(mkdir(bp(&M, dir), 0755), 0);
	put(bp(&M, "f"), "x");

	/* The LOOKUP postfilter's child policy holds for a child a listing made. */
	verdict_pre(FUSE_LOOKUP, FUSEBPF_POSTFILTER);
	d = opendir(mp(&M, ""));
	cr_assert(d);
	while ((e = readdir(d)))
		listed++;
	closedir(d);
	cr_assert_geq(listed, 4);
	cr_assert_gt(counted("verdict.%s.POSTFILTER", "LOOKUP"), 0,
		     "the listing did not pass the LOOKUP filters");
	cr_assert_eq(ERR(mkdir(mp(&M, below), 0755)), -EROFS);

	/* A LOOKUP prefilter that refuses every name: a listing (READDIRPLUS, READDIR) shows none. */
	cr_assert_eq(mkdir(bp(&M, "other"), 0755), 0);
	put(bp(&M, "other/a"), "x");
	put(bp(&M, "other/b"), "x");
	verdict_pre(FUSE_LOOKUP, FUSEBPF_CONTINUE);
	d = opendir(mp(&M, "other")); /* LOOKUP of "other" allowed */
	cr_assert(d);
	verdict_pre(FUSE_LOOKUP, -ENOENT);
	listed = 0;
	while ((e = readdir(d)))
		listed += e->d_name[0] != '.';
	closedir(d);
	cr_assert_eq(listed, 0, "%d names a LOOKUP prefilter refuses were listed", listed);
}

/*
 * The daemon's pipeline (kernel=fuse): fusebpf.ko refuses to unload a
 * policy in use (kernel::a_policy_in_use_is_not_unloaded), and fails the
 * inodes of one gone from under it with EIO
 * (kernel::a_policy_gone_from_under_a_mount_fails_its_inodes_until_loaded_again).
 */
Test(policy, an_unloaded_child_policy_fails_the_lookup)
{
	char dir[64], below[128];
	struct stat st;

	verdict_mount("kernel=fuse"); /* cache=never: every stat is a LOOKUP */
	test_policy_load("readonly", "r", pol2);
	snprintf(dir, sizeof(dir), "pol.%s", pol2);
	snprintf(below, sizeof(below), "%s/sub", dir);
	cr_assert_eq(mkdir(bp(&M, dir), 0755), 0);
	cr_assert_eq(mkdir(bp(&M, below), 0755), 0);
	verdict_pre(FUSE_LOOKUP, FUSEBPF_POSTFILTER);
	cr_assert_eq(stat(mp(&M, below), &st), 0); /* the daemon now runs pol2 */
	test_policy_unload(pol2);
	cr_assert_eq(ERR(stat(mp(&M, dir), &st)), -EIO, "an unloaded policy was accepted");
	pol2[0] = '\0';
}

/* docs/abi.md's worked example, as it is written there. */
Test(shipped, the_worked_example_hides_dot_names_everywhere)
{
	char opts[128];
	struct dirent *e;
	struct stat st;
	int visible = 0;
	DIR *d;

	test_policy_load(test_bpf("nodots"), "n", pol);
	snprintf(opts, sizeof(opts), "policy=%s", pol);
	start(opts);
	put(bp(&M, ".hidden"), "x");
	put(bp(&M, "shown"), "x");
	for (int i = 0; i < 300; i++) {
		char name[32];

		snprintf(name, sizeof(name), i % 3 ? "f%03d" : ".f%03d", i);
		put(bp(&M, name), "x");
	}
	d = opendir(mp(&M, ""));
	cr_assert(d);
	while ((e = readdir(d))) {
		cr_assert(e->d_name[0] != '.' || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."),
			  "%s was listed", e->d_name);
		visible++;
	}
	closedir(d);
	cr_assert_eq(visible, 2 + 1 + 200, "%d entries listed", visible);
	cr_assert_eq(ERR(stat(mp(&M, ".hidden"), &st)), -ENOENT);
	cr_assert_eq(write_file(mp(&M, ".new"), "x", 1), -EPERM);
	cr_assert_eq(ERR(mkdir(mp(&M, ".d"), 0755)), -EPERM);
	cr_assert_eq(ERR(symlink("shown", mp(&M, ".l"))), -EPERM);
	cr_assert_eq(ERR(rename(mp(&M, "shown"), mp(&M, ".shown"))), -EPERM);
	cr_assert_eq(stat(mp(&M, "shown"), &st), 0);
}
