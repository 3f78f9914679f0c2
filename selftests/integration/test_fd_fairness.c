// SPDX-License-Identifier: MIT
/*
 * Descriptor fairness: one uid holding files open cannot take the daemon's
 * fds from everyone else.  A uid other than root stops at its cap
 * (-o max_opens_per_uid, default a quarter of the daemon's fd limit) with
 * EMFILE, for its opens, listings and creates alike, and nothing is created;
 * meanwhile another uid and root still read, list and create.  When several
 * uids spend the budget of all but root, theirs fail with ENFILE and root
 * still works, from the reserve.  A passthrough file held open costs the
 * daemon no fd of its own, and the requests that need one (fsync,
 * fallocate, ftruncate, SEEK_DATA, copy_file_range, fstat of an unlinked
 * file) reopen it.  Each hog is a child process as its own uid that opens
 * until refused and holds its files until told to go.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(fd_fairness, .timeout = 120);

#define HOG_UID 41001
#define OTHER_UID 41002
#define THIRD_UID 41003

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * n files f0 .. f<n-1> in the backing dir of the running mount, readable by
 * all; and the mount reachable by the other uids.
 */
static void make_files(int n)
{
	char name[32];

	cr_assert_eq(chmod(M.root, 0711), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		put(bp(&M, name), "data\n");
	}
}

/* What a hog reports once it has opened all it could. */
struct hog_report {
	int opened; /* files it holds open */
	int open_err; /* errno of the open that was refused, 0 if none was */
	int dir_err; /* errno of an opendir after that, 0 if it worked */
	int create_err; /* errno of a create after that, 0 if it worked */
};

struct hog {
	pid_t pid;
	int ctl; /* closing it lets the hog go */
	struct hog_report r;
};

/* The ctl fds of the hogs running: a new hog must not hold the others'. */
static int hog_ctls[4], nhogs;

/*
 * As uid, in a child: opens f0 .. f<n-1> through the mount until one is
 * refused, then tries an opendir and the create of "<uid>.new", reports,
 * and holds everything open until ctl closes.
 */
static void hog_run(uid_t uid, int n, int report_fd, int ctl_fd)
{
	struct hog_report r = { 0 };
	struct rlimit rl;
	char name[32];
	DIR *d;
	int fd;

	/* The hog's own fd limit must not be what stops it: raise it to the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		_exit(126);
	for (r.opened = 0; r.opened < n; r.opened++) {
		snprintf(name, sizeof(name), "f%d", r.opened);
		if (open(mp(&M, name), O_RDONLY) < 0) {
			r.open_err = errno;
			break;
		}
	}
	d = opendir(mp(&M, ""));
	r.dir_err = d ? 0 : errno;
	snprintf(name, sizeof(name), "%u.new", (unsigned)uid);
	fd = open(mp(&M, name), O_WRONLY | O_CREAT | O_EXCL, 0644);
	r.create_err = fd >= 0 ? 0 : errno;
	if (write(report_fd, &r, sizeof(r)) != sizeof(r))
		_exit(125);
	/* Hold until the test closes its end (or dies). */
	while (read(ctl_fd, name, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static struct hog hog_start(uid_t uid, int n)
{
	int report[2], ctl[2];
	struct hog h = { 0 };
	ssize_t got;

	cr_assert(pipe(report) == 0 && pipe(ctl) == 0);
	h.pid = fork();
	cr_assert(h.pid >= 0);
	if (h.pid == 0) {
		close(report[0]);
		close(ctl[1]);
		for (int i = 0; i < nhogs; i++)
			close(hog_ctls[i]);
		hog_run(uid, n, report[1], ctl[0]);
	}
	close(report[1]);
	close(ctl[0]);
	h.ctl = ctl[1];
	cr_assert_lt(nhogs, 4);
	hog_ctls[nhogs++] = h.ctl;
	got = read(report[0], &h.r, sizeof(h.r));
	close(report[0]);
	cr_assert_eq(got, (ssize_t)sizeof(h.r), "hog uid %u died before reporting", (unsigned)uid);
	cr_log_info("uid %u: %d opens, then %s; opendir: %s; create: %s", (unsigned)uid,
		    h.r.opened, strerror(h.r.open_err), strerror(h.r.dir_err),
		    strerror(h.r.create_err));
	return h;
}

/* Lets the hog go and waits until the daemon has seen its files released. */
static void hog_stop(struct hog *h, uint64_t handles_after)
{
	for (int i = 0; i < nhogs; i++)
		if (hog_ctls[i] == h->ctl)
			hog_ctls[i] = hog_ctls[--nhogs];
	close(h->ctl);
	waitpid(h->pid, NULL, 0);
	for (int i = 0; i < 100 && mnt_stat(&M, "handles") > handles_after; i++)
		sleep_ms(50);
	cr_assert_leq(mnt_stat(&M, "handles"), handles_after,
		      "the hog's handles were not released");
}

/*
 * What a user does and expects to keep working: cat a file, ls the root,
 * touch a file of its own, mkdir.  0, or the step that failed.
 */
static int ordinary_work(void *arg)
{
	const char *who = arg;
	char buf[64], name[64];
	struct dirent *e;
	int fd, entries = 0;
	DIR *d;

	if (read_file(mp(&M, "f0"), buf, sizeof(buf)) != 5)
		return 1;
	d = opendir(mp(&M, ""));
	if (!d)
		return 2;
	while ((e = readdir(d)))
		entries++;
	closedir(d);
	if (entries < 3)
		return 3;
	snprintf(name, sizeof(name), "touched-by-%s", who);
	fd = open(mp(&M, name), O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return 4;
	close(fd);
	snprintf(name, sizeof(name), "dir-of-%s", who);
	if (mkdir(mp(&M, name), 0755) < 0 && errno != EEXIST)
		return 5;
	return 0;
}

static void assert_works_as(uid_t uid, const char *who)
{
	int step = run_as(uid, uid, ordinary_work, (void *)who);

	cr_assert_eq(step, 0, "%s (uid %u) could not work: step %d (1 cat, 2 opendir, 3 readdir, "
			      "4 create, 5 mkdir)", who, (unsigned)uid, step);
}

static bool exists_in_backing(uid_t uid)
{
	char name[32];

	snprintf(name, sizeof(name), "%u.new", (unsigned)uid);
	return access(bp(&M, name), F_OK) == 0;
}

/*
 * On fusebpf.ko with passthrough the kernel creates, opens and serves
 * files itself: an open costs the daemon no fd
 * (kernel::opens_of_one_file_at_once_share_the_backing counts them), so
 * the daemon's per-uid caps and fd cache have nothing to work on.
 */
static void need_daemon_opens(void)
{
	if (mnt_in_kernel(&M) && mnt_stat(&M, "passthrough"))
		cr_skip_test("fusebpf.ko creates and opens files in the kernel: they cost the "
			     "daemon no fd, and the kernel serves their requests");
}

/* The daemon's soft fd limit, the L of fsd/handle.c. */
static unsigned long fsd_fd_limit(void)
{
	struct rlimit rl;

	cr_assert_eq(prlimit(M.fsd, RLIMIT_NOFILE, NULL, &rl), 0, "prlimit: %s", strerror(errno));
	return rl.rlim_cur;
}

/*
 * With a cap of 200: the hog's 201st open, an opendir and a create fail
 * with EMFILE and the create makes nothing; a second uid gets its own 200;
 * a third uid and root work as usual; once the hog lets go, it works too.
 */
Test(fd_fairness, uid_at_its_cap_gets_emfile_others_work)
{
	struct hog hog, second;

	start("max_opens_per_uid=200");
	need_daemon_opens();
	make_files(250);

	hog = hog_start(HOG_UID, 250);
	cr_assert_eq(hog.r.opened, 200, "the hog held %d opens, its cap is 200", hog.r.opened);
	cr_assert_eq(hog.r.open_err, EMFILE, "the refused open: %s", strerror(hog.r.open_err));
	cr_assert_eq(hog.r.dir_err, EMFILE, "listings count: %s", strerror(hog.r.dir_err));
	cr_assert_eq(hog.r.create_err, EMFILE, "creates count: %s", strerror(hog.r.create_err));
	cr_assert_not(exists_in_backing(HOG_UID), "a create refused at the cap made the file");

	second = hog_start(OTHER_UID, 250);
	cr_assert_eq(second.r.opened, 200, "another uid got %d of its own 200", second.r.opened);
	cr_assert_eq(second.r.open_err, EMFILE);

	assert_works_as(THIRD_UID, "third");
	assert_works_as(0, "root");
	/* Root has no cap of its own: it holds more than 200 at once. */
	{
		int fds[250], n;

		for (n = 0; n < 250; n++) {
			char name[16];

			snprintf(name, sizeof(name), "f%d", n);
			fds[n] = open(mp(&M, name), O_RDONLY);
			if (fds[n] < 0)
				break;
		}
		cr_assert_eq(n, 250, "root's open %d failed: %s", n, strerror(errno));
		while (n--)
			close(fds[n]);
	}

	hog_stop(&hog, 200);
	hog_stop(&second, 0);
	assert_works_as(HOG_UID, "hog");
	cr_assert(mnt_stop(&M), "fsd did not exit cleanly");
}

/*
 * The case reported: one uid opening 10,000 files.  At the default cap
 * (a quarter of the fd limit) it is refused with EMFILE; the daemon stays
 * well under its fd limit, and another uid and root work while it holds
 * them.  opts: passthrough=off is the worst case, where every open holds a
 * daemon fd.
 */
static void ten_thousand(const char *opts)
{
	unsigned long limit;
	struct hog hog;
	double t0;
	int fds;

	start(opts);
	need_daemon_opens();
	make_files(10000);
	limit = fsd_fd_limit();
	t0 = now_s();
	hog = hog_start(HOG_UID, 10000);
	cr_log_info("%s: %d opens in %.2f s", opts ? opts : "defaults", hog.r.opened,
		    now_s() - t0);
	cr_assert_eq((unsigned long)hog.r.opened, limit / 4,
		     "the hog held %d opens; the default cap is a quarter of %lu", hog.r.opened,
		     limit);
	cr_assert_eq(hog.r.open_err, EMFILE, "the refused open: %s", strerror(hog.r.open_err));
	fds = mnt_fd_count(&M);
	cr_log_info("fsd holds %d fds of its %lu", fds, limit);
	cr_assert_lt((unsigned long)fds, limit * 7 / 8, "fsd holds %d fds of %lu", fds, limit);
	assert_works_as(OTHER_UID, "other");
	assert_works_as(0, "root");
	hog_stop(&hog, 0);
	cr_assert(mnt_stop(&M), "fsd did not exit cleanly");
}

Test(fd_fairness, default_cap_stops_one_uid_opening_ten_thousand_files)
{
	ten_thousand(NULL);
}

Test(fd_fairness, default_cap_without_passthrough)
{
	ten_thousand("passthrough=off");
}

/*
 * Several uids together: with the daemon's fd limit at 1,024 (the cache
 * takes 512), one uid may hold 256 opens, all uids but root 384 and root
 * 64 more.  The first hog stops at its cap, the second where the budget of
 * all but root ends (ENFILE), a third uid gets ENFILE too; root still
 * reads, lists, creates and opens from the reserve; when the hogs let go,
 * the third uid works again.
 */
Test(fd_fairness, reserve_keeps_root_working_when_uids_spend_the_budget)
{
	struct rlimit rl = { 1024, 1024 };
	struct hog a, b;
	int fds[48], n, third;

	/* fsd inherits it; main raises the soft limit only up to the hard one. */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "setrlimit: %s", strerror(errno));
	start(NULL);
	need_daemon_opens();
	make_files(300);
	cr_assert_eq(fsd_fd_limit(), 1024);

	a = hog_start(HOG_UID, 300);
	cr_assert_eq(a.r.opened, 256, "the first hog held %d, its cap is 256", a.r.opened);
	cr_assert_eq(a.r.open_err, EMFILE);
	b = hog_start(OTHER_UID, 300);
	cr_assert_eq(b.r.opened, 384 - 256, "the second hog held %d, the budget leaves 128",
		     b.r.opened);
	cr_assert_eq(b.r.open_err, ENFILE, "past the budget: %s", strerror(b.r.open_err));
	cr_assert_eq(b.r.create_err, ENFILE);
	cr_assert_not(exists_in_backing(OTHER_UID));

	third = run_as(THIRD_UID, THIRD_UID, ordinary_work, "third");
	cr_assert_eq(third, 1, "a third uid's cat is refused while the budget is spent (step %d)",
		     third);
	assert_works_as(0, "root");
	for (n = 0; n < 48; n++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", n);
		fds[n] = open(mp(&M, name), O_RDONLY);
		if (fds[n] < 0)
			break;
	}
	cr_assert_eq(n, 48, "root's open %d failed: %s", n, strerror(errno));
	cr_assert_lt(mnt_fd_count(&M), 1024 - 32, "fsd is out of fds");
	while (n--)
		close(fds[n]);

	hog_stop(&b, 256);
	hog_stop(&a, 0);
	assert_works_as(THIRD_UID, "third");
	cr_assert(mnt_stop(&M), "fsd did not exit cleanly");
}

/* The daemon's fds per file held open: n files opened by this process. */
static double fds_per_open(int n)
{
	int before, after, *fds = calloc(n, sizeof(int));
	char name[32];

	cr_assert(fds);
	before = mnt_fd_count(&M);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		fds[i] = open(mp(&M, name), O_RDONLY);
		cr_assert_geq(fds[i], 0, "open %s: %s", name, strerror(errno));
	}
	after = mnt_fd_count(&M);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return (double)(after - before) / n;
}

/*
 * With a small node fd cache, what a file held open costs is what it pins:
 * a passthrough file nothing, a file whose data the daemon serves its one
 * fd (it was two of each: the open's fd and its node's O_PATH fd).
 */
Test(fd_fairness, a_passthrough_file_held_open_pins_no_daemon_fd)
{
	double per_open;

	start("fd_cache=64");
	make_files(500);
	if (!mnt_stat(&M, "passthrough"))
		cr_skip_test("the kernel did not accept FUSE_PASSTHROUGH");
	per_open = fds_per_open(500);
	cr_log_info("passthrough: %.3f daemon fds per open file (fd_cache=64)", per_open);
	cr_assert_lt(per_open, 0.2, "%.3f fds per passthrough open", per_open);
	cr_assert(mnt_stop(&M));

	start("fd_cache=64,passthrough=off");
	make_files(500);
	per_open = fds_per_open(500);
	cr_log_info("passthrough=off: %.3f daemon fds per open file (fd_cache=64)", per_open);
	cr_assert(per_open > 0.9 && per_open < 1.2, "%.3f fds per open", per_open);
	cr_assert(mnt_stop(&M));
}

/*
 * The requests that reach the daemon on a passthrough file it keeps no fd
 * for: fsync, fallocate, ftruncate, SEEK_DATA, copy_file_range, fchmod,
 * and fstat after unlink, with the node's cached fd pushed out of a small
 * cache by other lookups; the backing files end as they should.
 */
Test(fd_fairness, passthrough_file_without_daemon_fd_serves_its_requests)
{
	char buf[64] = "", name[16];
	struct stat st;
	int a, b;

	start("fd_cache=16");
	make_files(100);
	if (!mnt_stat(&M, "passthrough"))
		cr_skip_test("the kernel did not accept FUSE_PASSTHROUGH");
	need_daemon_opens();
	a = open(mp(&M, "a"), O_RDWR | O_CREAT, 0644);
	b = open(mp(&M, "b"), O_RDWR | O_CREAT, 0644);
	cr_assert(a >= 0 && b >= 0, "create: %s", strerror(errno));
	cr_assert_eq(mnt_stat(&M, "backing_ids"), 2, "the files are not passthrough");
	/* Lookups of 100 other names push a and b's O_PATH fds out of the cache. */
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(stat(mp(&M, name), &st), 0);
	}
	cr_assert_eq(pwrite(a, "hello world", 11, 0), 11);
	cr_assert_eq(fsync(a), 0, "fsync: %s", strerror(errno));
	cr_assert_eq(fdatasync(a), 0, "fdatasync: %s", strerror(errno));
	cr_assert_eq(fallocate(a, 0, 0, 8192), 0, "fallocate: %s", strerror(errno));
	cr_assert_eq(ftruncate(a, 5), 0, "ftruncate: %s", strerror(errno));
	cr_assert_eq(lseek(a, 0, SEEK_DATA), 0, "SEEK_DATA: %s", strerror(errno));
	cr_assert_eq(lseek(a, 0, SEEK_HOLE), 5, "SEEK_HOLE: %s", strerror(errno));
	cr_assert_eq(fchmod(a, 0600), 0, "fchmod: %s", strerror(errno));
	cr_assert_eq(copy_file_range(a, &(loff_t){ 0 }, b, &(loff_t){ 0 }, 5, 0), 5,
		     "copy_file_range: %s", strerror(errno));
	cr_assert_eq(read_file(bp(&M, "b"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	cr_assert_eq(stat(bp(&M, "a"), &st), 0);
	cr_assert_eq(st.st_size, 5);
	cr_assert_eq(st.st_mode & 07777, 0600);

	/* Unlinked, and its node's fd pushed out again: fstat and ftruncate still reach it. */
	cr_assert_eq(unlink(mp(&M, "a")), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(stat(mp(&M, name), &st), 0);
	}
	cr_assert_eq(ftruncate(a, 3), 0, "ftruncate of an unlinked file: %s", strerror(errno));
	cr_assert_eq(fstat(a, &st), 0, "fstat of an unlinked file: %s", strerror(errno));
	cr_assert_eq(st.st_size, 3);
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(pread(a, buf, sizeof(buf), 0), 3);
	close(a);
	close(b);
	cr_assert(mnt_stop(&M));
}
