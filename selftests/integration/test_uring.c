// SPDX-License-Identifier: MIT
/*
 * FUSE over io_uring through a real mount: with the kernel's enable_uring
 * set, -o uring=on serves requests over the rings (the daemon's
 * uring_requests counter grows, and the only requests read from /dev/fuse
 * are the FORGETs the kernel always sends there); files, directories,
 * data (passthrough off) and xattrs behave; unmount, SIGTERM and SIGKILL
 * end it cleanly; and without enable_uring the option falls back to
 * /dev/fuse with a one-line notice.  The default, uring=auto, uses the
 * rings when enable_uring is set and otherwise makes none, quietly.
 *
 * enable_uring is the machine's: each test takes a lock so that no other
 * test of this file changes it meanwhile, and puts back the value it found.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define ENABLE_URING "/sys/module/fuse/parameters/enable_uring"
#define LOCK_PATH "/run/fusebpf/test-enable-uring.lock"

static int lock_fd = -1;
static char saved = 0; /* 'Y' or 'N': the value to put back, 0 if none */

static void enable_uring_set(char value)
{
	int fd = open(ENABLE_URING, O_WRONLY);

	cr_assert(fd >= 0, "open %s: %s", ENABLE_URING, strerror(errno));
	cr_assert_eq(write(fd, value == 'Y' ? "1" : "0", 1), 1, "write %s: %s", ENABLE_URING,
		     strerror(errno));
	close(fd);
}

/*
 * Takes the lock, remembers enable_uring and sets it to value.  A test's
 * own .init runs after the suite's: it only changes the value.
 */
static void enable_uring_take(char value)
{
	char cur[4] = "";
	int fd;

	if (lock_fd >= 0) {
		enable_uring_set(value);
		return;
	}
	mkdir("/run/fusebpf", 0755);
	lock_fd = open(LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert(lock_fd >= 0 && flock(lock_fd, LOCK_EX) == 0, "locking %s", LOCK_PATH);
	fd = open(ENABLE_URING, O_RDONLY);
	if (fd < 0)
		cr_skip_test("this kernel has no FUSE over io_uring (%s)", ENABLE_URING);
	cr_assert(read(fd, cur, sizeof(cur) - 1) >= 1);
	close(fd);
	saved = cur[0];
	enable_uring_set(value);
}

/*
 * The kernel reads enable_uring at INIT and REGISTER only: once a mount is
 * up, the value goes back at once, so that a test that hangs later and is
 * killed (no .fini then) does not leave it changed.
 */
static void enable_uring_put_back(void)
{
	if (saved)
		enable_uring_set(saved);
	saved = 0;
}

static void enable_uring_restore(void)
{
	mnt_stop(&M);
	enable_uring_put_back();
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
}

static void uring_on_setup(void)
{
	enable_uring_take('Y');
}

static void uring_off_setup(void)
{
	enable_uring_take('N');
}

TestSuite(uring, .init = uring_on_setup, .fini = enable_uring_restore, .timeout = 60);

/* Starts fsd over backing (NULL: a new dir) with opts and waits until every ring is registered. */
static void start_uring_over(const char *backing, const char *opts)
{
	mnt_start_over(&M, backing, opts);
	for (int i = 0; i < 40 && mnt_stat(&M, "uring") != 1; i++)
		sleep_ms(50);
	cr_assert_eq(mnt_stat(&M, "uring"), 1, "the rings of %s are not serving", opts);
	enable_uring_put_back();
}

static void start_uring(const char *opts)
{
	start_uring_over(NULL, opts);
}

struct counts {
	uint64_t dev, uring, forgets;
};

/*
 * The transports' counters once they stand still (a FORGET the kernel
 * queued may still be on its way when the operations return).
 */
static struct counts counts_settled(void)
{
	struct counts c = { 0 }, prev;

	for (int i = 0; i < 20; i++) {
		prev = c;
		c.dev = mnt_stat(&M, "dev_requests");
		c.uring = mnt_stat(&M, "uring_requests");
		c.forgets = requests("FORGET") + requests("BATCH_FORGET");
		if (i && !memcmp(&c, &prev, sizeof(c)))
			break;
		sleep_ms(100);
	}
	return c;
}

static char *log_read(void)
{
	static char buf[1 << 16];
	int fd = open(M.log, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int count_lines_with(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Creates, writes, reads, lists, renames and removes n files in a new directory. */
static void ordinary_ops(int n)
{
	char name[64], to[64], buf[64];
	DIR *d;
	struct dirent *de;
	struct stat st;
	int seen = 0;

	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0, "%s", strerror(errno));
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "d/f%d", i);
		snprintf(buf, sizeof(buf), "content %d", i);
		put(mp(&M, name), buf);
	}
	for (int i = 0; i < n; i++) {
		char want[64] = "";

		snprintf(name, sizeof(name), "d/f%d", i);
		snprintf(want, sizeof(want), "content %d", i);
		memset(buf, 0, sizeof(buf));
		cr_assert_eq(read_file(mp(&M, name), buf, sizeof(buf)), (ssize_t)strlen(want));
		cr_assert_str_eq(buf, want);
		cr_assert_eq(stat(mp(&M, name), &st), 0);
		cr_assert_eq(st.st_size, (off_t)strlen(want));
	}
	d = opendir(mp(&M, "d"));
	cr_assert(d);
	while ((de = readdir(d)))
		seen += de->d_name[0] == 'f';
	closedir(d);
	cr_assert_eq(seen, n, "readdir saw %d of %d files", seen, n);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "d/f%d", i);
		snprintf(to, sizeof(to), "d/g%d", i);
		cr_assert_eq(rename(mp(&M, name), mp(&M, to)), 0, "%s", strerror(errno));
		cr_assert_eq(access(bp(&M, to), F_OK), 0, "%s not in the backing dir", to);
	}
	for (int i = 0; i < n; i++) {
		snprintf(to, sizeof(to), "d/g%d", i);
		cr_assert_eq(unlink(mp(&M, to)), 0, "%s", strerror(errno));
	}
	cr_assert_eq(rmdir(mp(&M, "d")), 0, "%s", strerror(errno));
	cr_assert_eq(access(bp(&M, "d"), F_OK), -1);
}

Test(uring, serves_requests_through_the_ring)
{
	struct counts before, after;

	start_uring("uring=on");
	before = counts_settled();
	ordinary_ops(50);
	after = counts_settled();
	/* Each file: at least CREATE, OPEN or LOOKUP, RENAME, UNLINK... */
	cr_assert_geq(after.uring - before.uring, 200, "only %llu requests over the ring",
		      (unsigned long long)(after.uring - before.uring));
	cr_assert_eq(after.dev - before.dev, after.forgets - before.forgets,
		     "%llu requests read from /dev/fuse, of which %llu FORGETs",
		     (unsigned long long)(after.dev - before.dev),
		     (unsigned long long)(after.forgets - before.forgets));
	cr_assert(mnt_stop(&M), "fsd did not exit 0 after umount");
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Stats n files g0... of the mount, asking the daemon each time; the milliseconds it took. */
static long stats_ms(int n)
{
	struct timespec t0;
	struct statx stx;
	char name[32];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		cr_assert_eq(statx(AT_FDCWD, mp(&M, name), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS,
				   &stx), 0, "statx %s: %s", name, strerror(errno));
	}
	return ms_since(&t0);
}

/*
 * One slow request does not hold up the others its CPU makes: an fsync that
 * the backing filesystem takes 3 s over (the backing dir is a second fsd
 * mount whose FSYNC handler waits), and stats of other files made on the
 * same CPU meanwhile, which the ring's thread serves while an offload thread
 * waits for the fsync.
 */
Test(uring, a_slow_fsync_holds_up_no_stat_on_its_cpu)
{
	struct mnt slow = { 0 };
	struct timespec t0;
	cpu_set_t cpu0;
	char name[32];
	long usual, meanwhile, fsync_took;
	pid_t child;
	int fd, status;

	mnt_start(&slow, "user=example:fsync_ms=3000,user_ops=fsync");
	put(mp(&slow, "f"), "data");
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		put(mp(&slow, name), "x");
	}
	start_uring_over(slow.dir, "uring=on");
	/* The caller of the fsync and of the stats: one CPU, so one ring. */
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	cr_assert_eq(sched_setaffinity(0, sizeof(cpu0), &cpu0), 0, "%s", strerror(errno));
	usual = stats_ms(20);

	fd = open(mp(&M, "f"), O_WRONLY);
	cr_assert(fd >= 0, "%s", strerror(errno));
	cr_assert_eq(write(fd, "more", 4), 4);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	child = fork();
	cr_assert(child >= 0);
	if (child == 0)
		_exit(fsync(fd) == 0 ? 0 : 1);
	sleep_ms(300 * test_time_scale()); /* the fsync is waiting in the slow mount */
	meanwhile = stats_ms(20);
	cr_assert_eq(waitpid(child, &status, WNOHANG), 0,
		     "the fsync was over before the stats were (%ld ms)", ms_since(&t0));
	cr_assert_eq(waitpid(child, &status, 0), child);
	fsync_took = ms_since(&t0);
	close(fd);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fsync failed: %d", status);
	cr_log_info("20 stats: %ld ms alone, %ld ms while an fsync of %ld ms waited", usual,
		    meanwhile, fsync_took);
	cr_assert_geq(fsync_took, 3000, "the fsync took %ld ms: the slow mount did not slow it",
		      fsync_took);
	cr_assert_lt(meanwhile, 1000 * (long)test_time_scale(),
		     "20 stats took %ld ms while the fsync waited (%ld ms alone)", meanwhile, usual);
	cr_assert_geq(mnt_stat(&M, "uring_offloaded"), 1);
	cr_assert(mnt_stop(&M), "fsd did not exit 0 after umount");
	mnt_stop(&slow);
}

/* Data through the daemon (passthrough off), names and xattrs, over the ring. */
Test(uring, data_names_and_xattrs_behave)
{
	size_t len = 3 << 20;
	char *data = malloc(len), *back = malloc(len), value[32] = "", target[64] = "";
	uint64_t reads, writes, uring0;
	ssize_t n;
	int fd;

	cr_assert(data && back);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 7 + i / 4096);
	start_uring("uring=on,passthrough=off");
	reads = requests("READ");
	writes = requests("WRITE");
	uring0 = mnt_stat(&M, "uring_requests");

	cr_assert_eq(write_file(mp(&M, "big"), data, len), 0);
	fd = open(bp(&M, "big"), O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(read(fd, back, len), (ssize_t)len);
	close(fd);
	cr_assert_eq(memcmp(data, back, len), 0, "the backing file differs from what was written");
	/*
	 * Read back through the mount, from a cold cache: READs of up to 1 MiB.
	 * Only this file's pages are dropped; a global drop_caches would make the
	 * kernel forget the inodes of tests running beside this one.
	 */
	memset(back, 0, len);
	fd = open(mp(&M, "big"), O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	n = 0;
	while ((size_t)n < len) {
		ssize_t r = read(fd, back + n, len - n);

		cr_assert_gt(r, 0, "read: %s", strerror(errno));
		n += r;
	}
	cr_assert_eq(pread(fd, value, 8, 4096 * 3 + 5), 8);
	close(fd);
	cr_assert_eq(memcmp(data, back, len), 0, "the mount reads other bytes");
	cr_assert_eq(memcmp(value, data + 4096 * 3 + 5, 8), 0);
	cr_assert_gt(requests("WRITE"), writes);
	cr_assert_gt(requests("READ"), reads);

	cr_assert_eq(symlink("some/target", mp(&M, "link")), 0);
	cr_assert_eq(readlink(mp(&M, "link"), target, sizeof(target)), 11);
	cr_assert_str_eq(target, "some/target");
	/* GETXATTR's name and value share the entry's payload buffer. */
	if (setxattr(mp(&M, "big"), "user.colour", "cobalt-blue", 11, 0) == 0) {
		char list[256];

		memset(value, 0, sizeof(value));
		cr_assert_eq(getxattr(mp(&M, "big"), "user.colour", value, sizeof(value)), 11);
		cr_assert_str_eq(value, "cobalt-blue");
		cr_assert_eq(getxattr(mp(&M, "big"), "user.colour", NULL, 0), 11);
		n = listxattr(mp(&M, "big"), list, sizeof(list));
		cr_assert_gt(n, 0);
		cr_assert(memmem(list, n, "user.colour", 12), "listxattr lacks user.colour");
	} else {
		cr_assert_eq(errno, EOPNOTSUPP, "setxattr: %s", strerror(errno));
	}
	cr_assert_gt(mnt_stat(&M, "uring_requests"), uring0 + 10);
	free(data);
	free(back);
	cr_assert(mnt_stop(&M), "fsd did not exit 0 after umount");
}

Test(uring, sigterm_exits_clean)
{
	int status;

	start_uring("uring=on");
	put(mp(&M, "f"), "x");
	cr_assert_eq(kill(M.fsd, SIGTERM), 0);
	cr_assert_eq(waitpid(M.fsd, &status, 0), M.fsd);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	M.fsd = 0;
	cr_assert_eq(sh("grep -q ' %s ' /proc/mounts", M.dir), 1, "still mounted after SIGTERM");
}

/* The connection outlives the unmount (a file is open): the rings must not hold up exit. */
Test(uring, sigterm_with_a_file_open_exits)
{
	int status, fd;
	char c;

	start_uring("uring=on");
	put(mp(&M, "f"), "x");
	fd = open(mp(&M, "f"), O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(kill(M.fsd, SIGTERM), 0);
	cr_assert_eq(waitpid(M.fsd, &status, 0), M.fsd);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	M.fsd = 0;
	cr_assert_eq(sh("grep -q ' %s ' /proc/mounts", M.dir), 1, "still mounted after SIGTERM");
	/* Passthrough reads go on from the backing file; others see the aborted connection. */
	errno = 0;
	if (pread(fd, &c, 1, 0) < 0)
		cr_assert_eq(errno, ENOTCONN, "%s", strerror(errno));
	close(fd);
}

Test(uring, sigkill_aborts_the_connection)
{
	int status;
	struct stat st;

	start_uring("uring=on,cache=never");
	put(mp(&M, "f"), "x");
	cr_assert_eq(kill(M.fsd, SIGKILL), 0);
	cr_assert_eq(waitpid(M.fsd, &status, 0), M.fsd);
	M.fsd = 0;
	/*
	 * A request made while the dead daemon's rings are being released
	 * fails with ECANCELED or ECONNABORTED; once the kernel has torn the
	 * connection down, with ENOTCONN.  None waits.
	 */
	for (int i = 0;; i++) {
		cr_assert_eq(stat(mp(&M, "f"), &st), -1);
		if (errno == ENOTCONN)
			break;
		cr_assert(errno == ECANCELED || errno == ECONNABORTED, "%s", strerror(errno));
		cr_assert_lt(i, 50, "the connection is not torn down after 5 s");
		sleep_ms(100);
	}
}

Test(uring, unmount_from_outside_exits_clean)
{
	start_uring("uring=on");
	ordinary_ops(5);
	cr_assert(mnt_stop(&M), "fsd did not exit 0 after umount");
}

Test(uring, falls_back_to_dev_fuse_without_enable_uring, .init = uring_off_setup)
{
	uint64_t dev;

	start("uring=on");
	enable_uring_put_back();
	dev = mnt_stat(&M, "dev_requests");
	ordinary_ops(5);
	cr_assert_eq(mnt_stat(&M, "uring"), 0);
	cr_assert_eq(mnt_stat(&M, "uring_requests"), 0);
	cr_assert_gt(mnt_stat(&M, "dev_requests"), dev + 20);
	cr_assert_eq(count_lines_with(log_read(), "does not offer FUSE over io_uring"), 1,
		     "log: %s", log_read());
	cr_assert(mnt_stop(&M), "fsd did not exit 0 after umount");
}

/* The threads of pid whose name begins with prefix (fsd names them fsd-ring<CPU>, ...). */
static int threads_named(pid_t pid, const char *prefix)
{
	char path[300], comm[32];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	cr_assert(d, "%s: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && !strncmp(comm, prefix, strlen(prefix)))
			n++;
		if (f)
			fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * The kernel has a queue for every possible CPU, but fsd makes a ring and
 * thread only for the CPUs it may run on (online, in its affinity); the
 * others' queues are served by those rings.  Started on one CPU, fsd has
 * one ring, and requests made on another CPU still come over io_uring.
 */
Test(uring, a_cpu_outside_the_daemons_affinity_is_served_by_another_ring)
{
	cpu_set_t all, first, other;
	int cpu_first = -1, cpu_other = -1;
	struct counts before, after;
	char name[32];

	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0, "%s", strerror(errno));
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &all))
			continue;
		if (cpu_first < 0)
			cpu_first = c;
		else if (cpu_other < 0)
			cpu_other = c;
	}
	if (cpu_other < 0)
		cr_skip_test("this test may run on one CPU only");
	CPU_ZERO(&first);
	CPU_SET(cpu_first, &first);
	CPU_ZERO(&other);
	CPU_SET(cpu_other, &other);

	/* fsd inherits the affinity of the test that starts it. */
	cr_assert_eq(sched_setaffinity(0, sizeof(first), &first), 0, "%s", strerror(errno));
	start_uring("uring=on");
	cr_assert_eq(sched_setaffinity(0, sizeof(other), &other), 0, "%s", strerror(errno));
	cr_assert_eq(threads_named(M.fsd, "fsd-ring"), 1, "fsd runs %d ring threads",
		     threads_named(M.fsd, "fsd-ring"));

	before = counts_settled();
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "missing%d", i);
		cr_assert_eq(access(mp(&M, name), F_OK), -1);
		cr_assert_eq(errno, ENOENT);
	}
	cr_assert_eq(sched_getcpu(), cpu_other);
	after = counts_settled();
	cr_assert_geq(after.uring, before.uring + 20, "uring_requests %llu -> %llu",
		      (unsigned long long)before.uring, (unsigned long long)after.uring);
	cr_assert_eq(after.dev - after.forgets, before.dev - before.forgets,
		     "requests other than FORGET came by /dev/fuse");
	cr_assert(mnt_stop(&M), "fsd did not exit 0 after umount");
}

static void skip_if_test_opts_set_uring(void)
{
	const char *extra = getenv("FSD_TEST_OPTS");

	if (extra && strstr(extra, "uring"))
		cr_skip_test("FSD_TEST_OPTS sets uring");
}

/* The mount was served by /dev/fuse alone, and the log says nothing of io_uring. */
static void assert_dev_fuse_alone_quietly(void)
{
	cr_assert_eq(mnt_stat(&M, "uring"), 0);
	cr_assert_eq(mnt_stat(&M, "uring_requests"), 0);
	cr_assert_eq(count_lines_with(log_read(), "io_uring"), 0, "log: %s", log_read());
}

Test(uring, off_is_off)
{
	skip_if_test_opts_set_uring();
	start("uring=off");
	enable_uring_put_back();
	ordinary_ops(5);
	assert_dev_fuse_alone_quietly();
}

/* The default, uring=auto: the rings whenever the kernel offers them. */
Test(uring, auto_serves_over_the_rings_when_the_kernel_offers_them)
{
	struct counts before, after;
	char out[8192];
	cpu_set_t cpus;

	skip_if_test_opts_set_uring();
	start_uring("uring=auto");
	before = counts_settled();
	ordinary_ops(5);
	after = counts_settled();
	cr_assert_gt(after.uring, before.uring + 20, "uring_requests %llu -> %llu",
		     (unsigned long long)before.uring, (unsigned long long)after.uring);
	cr_assert_eq(count_lines_with(log_read(), "io_uring"), 0, "log: %s", log_read());
	cr_assert_eq(fusebpf(out, sizeof(out), "stats '%s'", M.dir), 0, "%s", out);
	cr_assert(strstr(out, "transport: io_uring"), "%s", out);
	/* A ring thread for each CPU fsd may run on: it inherited the test's affinity. */
	cr_assert_eq(sched_getaffinity(0, sizeof(cpus), &cpus), 0, "%s", strerror(errno));
	cr_assert_eq(threads_named(M.fsd, "fsd-ring"), CPU_COUNT(&cpus));
}

/* ... and /dev/fuse, without a word and without a thread more than uring=off, when it does not. */
Test(uring, auto_stays_on_dev_fuse_quietly_without_enable_uring, .init = uring_off_setup)
{
	char out[8192];
	int threads_off;

	skip_if_test_opts_set_uring();
	start("uring=off");
	threads_off = threads_named(M.fsd, "");
	cr_assert(mnt_stop(&M), "fsd did not exit 0 after umount");
	start("uring=auto");
	enable_uring_put_back();
	ordinary_ops(5);
	assert_dev_fuse_alone_quietly();
	cr_assert_eq(threads_named(M.fsd, ""), threads_off, "fsd runs %d threads, %d with uring=off",
		     threads_named(M.fsd, ""), threads_off);
	cr_assert_eq(fusebpf(out, sizeof(out), "stats '%s'", M.dir), 0, "%s", out);
	cr_assert(strstr(out, "transport: /dev/fuse"), "%s", out);
}
