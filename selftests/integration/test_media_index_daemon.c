// SPDX-License-Identifier: MIT
/*
 * The media index of a daemon started the way users start it: without -f,
 * so that fsd forks, and its parent exits once the mount is up.  The index
 * must be opened by the process that serves (SQLite's POSIX locks are not
 * inherited across fork: a daemon without them appends to a WAL that any
 * reader's checkpoint deletes, and loses its commits), and it is owned by
 * that daemon alone (DB.lock, media_index.h): `fusebpf media rescan` of it
 * goes through the daemon, a second fsd is refused.  Also: an update the
 * daemon cannot make because the path is longer than PATH_MAX is counted in
 * index_errors.
 *
 * The test process is a child subreaper, so the daemon, orphaned by its
 * parent's exit, becomes its child and its exit status can be waited for,
 * as a service manager would.  A watchdog of our own unmounts and kills
 * the daemon if the test dies or hangs: the fixture's (mnt_start) knows
 * only the pid of the process it started, which here is the one that
 * exits.  It finds the daemon by the pid the test learnt from the control
 * socket or, before that, by the mountpoint in its command line.
 */
#define _GNU_SOURCE
#include "fixture.h"
#include "../../media/media_index.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UID_A 10001 /* com.a */

/* The watchdog gives up on a test after this long. */
#define WATCHDOG_SECONDS 300

static char pol[16];
static char db_dir[PATH_MAX], db[PATH_MAX];

/* Shared with the watchdog and the test's children. */
struct shared {
	pid_t daemon; /* the daemon's pid, once known */
	int stop; /* readers: stop */
	int queries, query_failures;
};
static struct shared *shared;
static pid_t watchdog_pid;
static int watchdog_fd = -1;
static pid_t daemon_pid;

/* snprintf into a PATH_MAX buffer; a path that does not fit is a broken test. */
static __attribute__((format(printf, 2, 3))) void path_fmt(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		abort();
}

/* A process (not a zombie) whose command line has dir as an argument: an fsd of ours. */
static pid_t pid_serving(const char *dir)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		char path[64], args[8192], state[512];
		pid_t pid = atoi(e->d_name);
		ssize_t n;
		int fd;

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, args, sizeof(args) - 1);
		close(fd);
		if (n <= 0)
			continue;
		args[n] = '\0';
		for (char *a = args; a < args + n; a += strlen(a) + 1) {
			if (strcmp(a, dir))
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
			fd = open(path, O_RDONLY);
			n = fd < 0 ? -1 : read(fd, state, sizeof(state) - 1);
			if (fd >= 0)
				close(fd);
			state[n > 0 ? n : 0] = '\0';
			if (!strstr(state, ") Z "))
				found = pid;
			break;
		}
	}
	closedir(d);
	return found;
}

static void watchdog(int fd, const char *dir)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	pid_t pid;

	while (poll(&p, 1, WATCHDOG_SECONDS * 1000) < 0 && errno == EINTR)
		;
	if (is_mounted(dir))
		umount2(dir, MNT_DETACH);
	pid = shared->daemon > 0 ? shared->daemon : pid_serving(dir);
	if (pid > 0) {
		kill(pid, SIGTERM);
		for (int i = 0; i < 20 && kill(pid, 0) == 0; i++)
			sleep_ms(100);
		kill(pid, SIGKILL);
	}
	_exit(0);
}

/*
 * The scratch dirs (in M, for mp(), bp() and mnt_stat()), the policy and
 * its tables, the watchdog.  Nothing runs yet.
 */
static void setup(void)
{
	char out[4096];
	int pipefd[2];

	/* The daemon, orphaned when the fsd we run exits, becomes our child. */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	cr_assert(shared != MAP_FAILED);
	memset(&M, 0, sizeof(M));
	snprintf(M.root, sizeof(M.root), "%s/d.XXXXXX", test_tmp());
	cr_assert(mkdtemp(M.root));
	cr_assert(snprintf(M.backing, sizeof(M.backing), "%s/backing", M.root) <
			  (int)sizeof(M.backing) &&
		  snprintf(M.dir, sizeof(M.dir), "%s/mnt", M.root) < (int)sizeof(M.dir) &&
		  snprintf(M.log, sizeof(M.log), "%s/fsd.log", M.root) < (int)sizeof(M.log));
	cr_assert(mkdir(M.backing, 0755) == 0 && mkdir(M.dir, 0755) == 0);
	cr_assert_eq(chmod(M.backing, 0777), 0);
	/* Other uids must reach the mountpoint inside the scratch dir. */
	cr_assert_eq(chmod(M.root, 0711), 0);
	snprintf(db_dir, sizeof(db_dir), "%s/mdb.XXXXXX", test_tmp());
	cr_assert(mkdtemp(db_dir));
	cr_assert(snprintf(db, sizeof(db), "%s/index.db", db_dir) < (int)sizeof(db));

	test_policy_load("media", "d", pol);
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s app add %d com.a", pol, UID_A), 0,
		     "%s", out);

	cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
	watchdog_pid = fork();
	cr_assert(watchdog_pid >= 0);
	if (watchdog_pid == 0) {
		close(pipefd[1]);
		watchdog(pipefd[0], M.dir);
	}
	close(pipefd[0]);
	watchdog_fd = pipefd[1];
}

/*
 * Runs `fsd -o policy=POL,user=media:DBPATH BACKING MNT` (no -f) and waits
 * for that command to exit, as a user's shell would; its exit status, and
 * what it printed in out.  The daemon it leaves, if any, logs to syslog;
 * under the sanitizers, their reports go to M.root/san.PID.
 */
static int fsd_command(const char *dbpath, const char *mnt, char *out, size_t size)
{
	char opts[PATH_MAX + 64], env[PATH_MAX + 4096];
	const char *keep;
	int status, fd;
	ssize_t n;
	pid_t pid;

	snprintf(opts, sizeof(opts), "policy=%s,user=media:%s", pol, dbpath);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		fd = open(M.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* The daemon's stderr becomes /dev/null: reports to files of their own. */
		keep = getenv("ASAN_OPTIONS");
		snprintf(env, sizeof(env), "log_path=%s/san%s%s", M.root, keep ? ":" : "",
			 keep ? keep : "");
		setenv("ASAN_OPTIONS", env, 1);
		keep = getenv("UBSAN_OPTIONS");
		snprintf(env, sizeof(env), "log_path=%s/san%s%s", M.root, keep ? ":" : "",
			 keep ? keep : "");
		setenv("UBSAN_OPTIONS", env, 1);
		execl(fsd_bin(), fsd_bin(), "-o", opts, M.backing, mnt, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (out && size) {
		fd = open(M.log, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, out, size - 1);
		if (fd >= 0)
			close(fd);
		out[n > 0 ? n : 0] = '\0';
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The pid in the first line of the daemon's stats, "pid N". */
static pid_t stats_pid(void)
{
	return (pid_t)mnt_stat(&M, "pid");
}

/* The parent of pid, from /proc. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid = 0, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')');
	if (p)
		sscanf(p + 2, "%*c %d", &ppid);
	return ppid;
}

/* Starts the daemon as users do; asserts that it went to the background, mounted and serves. */
static void daemon_start(void)
{
	char out[4096];
	int status;

	status = fsd_command(db, M.dir, out, sizeof(out));
	cr_assert_eq(status, 0, "fsd exited %d: %s", status, out);
	cr_assert(is_mounted(M.dir), "fsd exited 0 but %s is not mounted", M.dir);
	/* Its parent waited for the control socket (daemon_ready comes after it). */
	daemon_pid = stats_pid();
	shared->daemon = daemon_pid;
	cr_assert_gt(daemon_pid, 0);
	/* Forked: not the process we started (gone), and ours now as the subreaper. */
	cr_assert_eq(parent_of(daemon_pid), getpid(), "the daemon %d is not our orphan",
		     (int)daemon_pid);
}

/*
 * Unmounts and waits for the daemon; true if it exited 0.  Sanitizer
 * reports of the daemon's fail the test (abort, as the fixture does).
 */
static bool daemon_stop(void)
{
	bool clean = false;
	int status;

	if (daemon_pid > 0) {
		if (is_mounted(M.dir) && umount2(M.dir, 0) < 0)
			umount2(M.dir, MNT_DETACH);
		for (int i = 0; i < 100; i++) {
			if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
				clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
				daemon_pid = 0;
				shared->daemon = 0;
				break;
			}
			sleep_ms(50);
		}
	}
	if (M.root[0] &&
	    sh("grep -qsE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '%s'/san.*", M.root) == 0) {
		sh("cat '%s'/san.* >&2", M.root);
		fprintf(stderr, "test: the daemon's sanitizer log has a report (above)\n");
		abort();
	}
	return clean;
}

static void teardown(void)
{
	daemon_stop();
	if (watchdog_fd >= 0) {
		close(watchdog_fd); /* the watchdog cleans up whatever is left */
		waitpid(watchdog_pid, NULL, 0);
		watchdog_fd = -1;
	}
	if (pol[0])
		test_policy_unload(pol);
	if (!getenv("FSD_TEST_KEEP")) {
		if (M.root[0])
			sh("rm -rf '%s'", M.root);
		if (db_dir[0])
			sh("rm -rf '%s'", db_dir);
	}
	if (shared)
		munmap(shared, sizeof(*shared));
}

TestSuite(media_index_daemon, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

/* Whether process pid holds a POSIX lock on the file at path (/proc/locks). */
static bool holds_posix_lock(pid_t pid, const char *path)
{
	char line[256], want[64];
	struct stat st;
	bool found = false;
	FILE *f;

	if (stat(path, &st))
		return false;
	path_fmt(want, ":%llu ", (unsigned long long)st.st_ino);
	f = fopen("/proc/locks", "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char kind[16];
		int lpid;

		if (sscanf(line, "%*s %15s %*s %*s %d", kind, &lpid) == 2 &&
		    !strcmp(kind, "POSIX") && lpid == pid && strstr(line, want))
			found = true;
	}
	fclose(f);
	return found;
}

static bool policy_loaded(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/fs/bpf/fusebpf/%s", pol);
	return access(path, F_OK) == 0;
}

/* `fusebpf media query DB` into the file out; its exit status. */
static int query_to(const char *dbpath, const char *out)
{
	return sh("'%s' media query '%s' > '%s' 2>&1", fusebpf_bin(), dbpath, out);
}

/* A reader in another process: `fusebpf media query` of the live index until told to stop. */
static void reader(void)
{
	while (!__atomic_load_n(&shared->stop, __ATOMIC_RELAXED)) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			_exit(1);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			execl(fusebpf_bin(), fusebpf_bin(), "media", "query", db, (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
			__atomic_fetch_add(&shared->query_failures, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&shared->queries, 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

static int file_put(const char *path, size_t len)
{
	static const char bytes[128] = "media index daemon test bytes";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);

	if (fd < 0)
		return -1;
	if (write(fd, bytes, len % sizeof(bytes)) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

#define WRITER_FILES 1000

/*
 * Creates, renames (the extension, so the type; into a subdirectory) and
 * deletes files in dir, and renames and removes whole subdirectories.
 * 0, or the step that failed.
 */
static int writer(void *arg)
{
	const char *dir = arg;
	char a[PATH_MAX], b[PATH_MAX], sub[PATH_MAX];
	int round = 0;

	path_fmt(sub, "%s/s%d", dir, round);
	if (mkdir(sub, 0777))
		return 1;
	for (int i = 0; i < WRITER_FILES; i++) {
		path_fmt(a, "%s/f%05d.jpg", dir, i);
		if (file_put(a, i))
			return 2;
		if (i % 3 == 1) {
			path_fmt(b, "%s/f%05d.png", dir, i);
			if (rename(a, b))
				return 3;
			strcpy(a, b);
		}
		if (i % 5 == 2 && unlink(a))
			return 4;
		if (i % 7 == 3) {
			path_fmt(b, "%s/m%05d.mp4", sub, i);
			if (rename(a, b) && errno != ENOENT)
				return 5;
		}
		if (i % 150 == 149) {
			/* The subdirectory, rows and all, moves; every other one goes. */
			path_fmt(b, "%s/t%d", dir, round);
			if (rename(sub, b))
				return 6;
			if (round % 2 && sh("rm -rf '%s'", b))
				return 7;
			path_fmt(sub, "%s/s%d", dir, ++round);
			if (mkdir(sub, 0777))
				return 8;
		}
	}
	return 0;
}

/* ---- tests ---- */

/*
 * The reproduction: the daemon in the background, thousands of creates,
 * renames and deletes through the mount while other processes query the
 * index (each query's connection may checkpoint the WAL when it closes);
 * then the index is what a rescan of the tree makes.
 */
Test(media_index_daemon, index_of_a_background_daemon_equals_a_rescan_under_load)
{
	static const char *const dirs[] = { "DCIM", "DCIM/w0", "DCIM/w1", "DCIM/w2" };
	char shm[PATH_MAX], live[PATH_MAX], fresh[PATH_MAX], want[PATH_MAX], backing[PATH_MAX];
	pid_t readers[2], writers[3], owner;
	int status, errors;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		cr_assert_eq(mkdir(bp(&M, dirs[i]), 0777), 0);
		cr_assert_eq(chmod(bp(&M, dirs[i]), 0777), 0);
	}
	daemon_start();

	/* The daemon holds SQLite's locks (the WAL index's), and the index's own. */
	path_fmt(shm, "%s-shm", db);
	cr_assert(holds_posix_lock(daemon_pid, shm), "the daemon %d holds no lock on %s",
		  (int)daemon_pid, shm);
	cr_assert_eq(media_index_owner(db, &owner, backing, sizeof(backing)), 1);
	cr_assert_eq(owner, daemon_pid);
	cr_assert(realpath(M.backing, want));
	cr_assert_str_eq(backing, want);

	for (int i = 0; i < 2; i++) {
		readers[i] = fork();
		cr_assert(readers[i] >= 0);
		if (readers[i] == 0)
			reader();
	}
	for (int i = 0; i < 3; i++) {
		static char dir[3][PATH_MAX];

		path_fmt(dir[i], "%s/DCIM/w%d", M.dir, i);
		writers[i] = fork();
		cr_assert(writers[i] >= 0);
		/* One app uid, two as root. */
		if (writers[i] == 0)
			_exit(i == 1 ? run_as(UID_A, UID_A, writer, dir[i]) : writer(dir[i]));
	}
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(waitpid(writers[i], &status, 0), writers[i]);
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "writer %d failed at step %d", i, WEXITSTATUS(status));
	}
	__atomic_store_n(&shared->stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(waitpid(readers[i], &status, 0), readers[i]);
	/*
	 * Without its policy the daemon sees no postfilters, so no updates:
	 * scripts/run-tests.sh unloads every test policy (t*) when it ends,
	 * another run's included.
	 */
	cr_assert(policy_loaded(), "policy %s was unloaded during the test (by another test "
		  "run's cleanup?)", pol);
	/* Still its locks, and no WAL that a reader's checkpoint deleted under it. */
	cr_expect(holds_posix_lock(daemon_pid, shm), "the daemon lost its lock on %s", shm);
	cr_expect(holds_posix_lock(daemon_pid, db), "the daemon lost its lock on %s", db);
	cr_expect_neq(sh("ls -l /proc/%d/fd | grep -q '%s.*(deleted)'", (int)daemon_pid, db), 0,
		      "the daemon writes to a deleted file of the index");
	cr_assert_gt(shared->queries, 4, "only %d queries ran", shared->queries);
	cr_assert_eq(shared->query_failures, 0, "%d of %d queries failed",
		     shared->query_failures, shared->queries);

	/* A rescan of the tree into a database of its own: what the index must hold. */
	path_fmt(fresh, "%s/fresh.db", db_dir);
	path_fmt(want, "%s/want.txt", db_dir);
	path_fmt(live, "%s/live.txt", db_dir);
	cr_assert_eq(sh("'%s' media rescan '%s' '%s' >/dev/null", fusebpf_bin(), M.backing, fresh),
		     0);
	cr_assert_eq(query_to(fresh, want), 0);
	cr_assert_eq(sh("test $(wc -l < '%s') -eq $(find '%s' -type f | wc -l) && "
			"test $(wc -l < '%s') -gt 1500", want, M.backing, want), 0,
		     "the rescan is not the tree");
	/* The last closes' RELEASEs come just after close returns. */
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(query_to(db, live), 0);
		if (!sh("cmp -s '%s' '%s'", live, want))
			break;
		sleep_ms(50);
	}
	errors = (int)mnt_stat(&M, "user.media.index_errors");
	if (sh("cmp -s '%s' '%s'", live, want)) {
		sh("diff '%s' '%s' > '%s.diff'; grep -c '^<' '%s.diff' >&2; head -8 '%s.diff' >&2; "
		   "grep '^>' '%s.diff' | head -8 >&2; wc -l '%s' '%s' >&2",
		   want, live, live, live, live, live, want, live);
		cr_assert_fail("the index of the daemon is not the tree (diff above: < rescan, > "
			       "index); %llu updates, %d failed",
			       (unsigned long long)mnt_stat(&M, "user.media.index_updates"), errors);
	}
	cr_expect_eq(errors, 0, "%d index updates failed", errors);
	/* Its pid did not change, and it stops cleanly. */
	cr_assert_eq(stats_pid(), daemon_pid);
	cr_assert(daemon_stop(), "the daemon did not exit 0");
	cr_assert_eq(media_index_owner(db, &owner, NULL, 0), 0, "the index is still owned");
}

/*
 * `fusebpf media rescan` of the index a daemon owns is done by the daemon;
 * of another tree than the daemon's, refused; a second fsd on the same
 * index is refused at startup, with a message, by the command the user ran.
 */
Test(media_index_daemon, rescan_of_an_owned_index_goes_through_its_daemon)
{
	char out[8192], mnt2[PATH_MAX], other[PATH_MAX], pidtext[32];
	int status;

	cr_assert_eq(mkdir(bp(&M, "DCIM"), 0777), 0);
	daemon_start();
	snprintf(pidtext, sizeof(pidtext), "pid %d", (int)daemon_pid);

	/* Behind the daemon's back: only a rescan sees it. */
	cr_assert_eq(file_put(bp(&M, "DCIM/behind.jpg"), 10), 0);
	cr_assert_eq(fusebpf(out, sizeof(out), "media query '%s'", db), 0, "%s", out);
	cr_assert_null(strstr(out, "DCIM/behind.jpg"), "%s", out);
	status = fusebpf(out, sizeof(out), "media rescan '%s' '%s'", M.backing, db);
	cr_assert_eq(status, 0, "%s", out);
	cr_assert(strstr(out, "by the fsd that owns it") && strstr(out, pidtext), "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "media query '%s'", db), 0, "%s", out);
	cr_assert(strstr(out, "DCIM/behind.jpg\t10\timage/jpeg\t0\t"), "%s", out);

	/* The index of another tree: not this daemon's to rebuild, nor anyone's beside it. */
	path_fmt(other, "%s/other", M.root);
	cr_assert_eq(mkdir(other, 0755), 0);
	status = fusebpf(out, sizeof(out), "media rescan '%s' '%s'", other, db);
	cr_assert_eq(status, 1, "%s", out);
	cr_assert(strstr(out, "owned by a running fsd") && strstr(out, pidtext), "%s", out);

	/* A second daemon on the same index fails to start, and says why. */
	path_fmt(mnt2, "%s/mnt2", M.root);
	cr_assert_eq(mkdir(mnt2, 0755), 0);
	status = fsd_command(db, mnt2, out, sizeof(out));
	cr_assert_neq(status, 0, "a second fsd started on %s: %s", db, out);
	cr_assert(strstr(out, "is owned by process") && strstr(out, pidtext + 4), "%s", out);
	cr_assert(!is_mounted(mnt2));
	for (int i = 0; i < 40 && pid_serving(mnt2); i++)
		sleep_ms(50);
	cr_assert_eq(pid_serving(mnt2), 0, "the refused fsd is still running");

	/* The first one is unharmed. */
	cr_assert_eq(file_put(mp(&M, "DCIM/after.png"), 3), 0);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(fusebpf(out, sizeof(out), "media query '%s'", db), 0, "%s", out);
		if (strstr(out, "DCIM/after.png\t3\t"))
			break;
		sleep_ms(20);
	}
	cr_assert(strstr(out, "DCIM/after.png\t3\timage/png\t0\t"), "%s", out);
	cr_assert(daemon_stop(), "the daemon did not exit 0");

	/* Unowned again: the CLI rescans itself. */
	status = fusebpf(out, sizeof(out), "media rescan '%s' '%s'", M.backing, db);
	cr_assert_eq(status, 0, "%s", out);
	cr_assert_null(strstr(out, "owns it"), "%s", out);
}

/* The owner's lock, in one process: a second owner is refused, readers are not. */
Test(media_index_daemon, one_owner_at_a_time)
{
	struct media_index *a, *b;
	char backing[PATH_MAX], want[PATH_MAX];
	pid_t pid;

	cr_assert_eq(media_index_owner(db, &pid, backing, sizeof(backing)), 0);
	cr_assert_eq(media_index_open(db, M.backing, MEDIA_INDEX_OWN, &a), 0);
	cr_assert_eq(media_index_owner(db, &pid, backing, sizeof(backing)), 1);
	cr_assert_eq(pid, getpid());
	cr_assert(realpath(M.backing, want));
	cr_assert_str_eq(backing, want);
	cr_assert_eq(media_index_open(db, M.backing, MEDIA_INDEX_OWN, &b), -EAGAIN);
	cr_assert_null(b);
	cr_assert_eq(media_index_open(db, NULL, MEDIA_INDEX_RDONLY, &b), 0);
	media_index_close(b);
	cr_assert_eq(media_index_open(db, NULL, MEDIA_INDEX_RDONLY | MEDIA_INDEX_OWN, &b), -EINVAL);
	media_index_close(a);
	cr_assert_eq(media_index_owner(db, &pid, NULL, 0), 0);
	cr_assert_eq(media_index_open(db, M.backing, MEDIA_INDEX_OWN, &b), 0);
	media_index_close(b);
}

/* A database the daemon cannot open fails the fsd command itself, with the reason. */
Test(media_index_daemon, a_bad_database_path_fails_the_command)
{
	char out[4096], bad[PATH_MAX];
	int status;

	path_fmt(bad, "%s/no/such/dir/index.db", M.root);
	status = fsd_command(bad, M.dir, out, sizeof(out));
	cr_assert_eq(status, 1, "fsd exited %d: %s", status, out);
	cr_assert(strstr(out, "media index") && strstr(out, bad) &&
			  strstr(out, "No such file or directory"),
		  "%s", out);
	cr_assert(!is_mounted(M.dir));
	for (int i = 0; i < 40 && pid_serving(M.dir); i++)
		sleep_ms(50);
	cr_assert_eq(pid_serving(M.dir), 0, "an fsd is still running");
}

/*
 * A file whose backing path is longer than PATH_MAX, made through the mount
 * (openat down a chain of long names): the daemon cannot name it, and says
 * so in index_errors rather than silently.
 */
Test(media_index_daemon, paths_longer_than_path_max_count_as_index_errors)
{
	char name[201];
	uint64_t before, after;
	int fd, next, depth = PATH_MAX / 200 + 2;

	memset(name, 'd', 200);
	name[200] = '\0';
	cr_assert_eq(mkdir(bp(&M, "Download"), 0777), 0);
	daemon_start();
	fd = open(mp(&M, "Download"), O_PATH | O_DIRECTORY);
	cr_assert_geq(fd, 0, "%s: %s", mp(&M, "Download"), strerror(errno));
	for (int i = 0; i < depth; i++) {
		cr_assert_eq(mkdirat(fd, name, 0755), 0, "mkdirat at depth %d: %s", i,
			     strerror(errno));
		next = openat(fd, name, O_PATH | O_DIRECTORY);
		cr_assert_geq(next, 0, "openat at depth %d: %s", i, strerror(errno));
		close(fd);
		fd = next;
	}
	before = mnt_stat(&M, "user.media.index_errors");
	/* The mkdirs this deep already failed to be indexed. */
	cr_assert_gt(before, 0);
	next = openat(fd, "deep.jpg", O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert_geq(next, 0, "creating at depth %d: %s", depth, strerror(errno));
	/* CREATE's postfilter runs before the reply: counted by now. */
	after = mnt_stat(&M, "user.media.index_errors");
	cr_assert_gt(after, before, "a create %d directories deep was not counted", depth);
	close(next);
	close(fd);
	/* Not in the index, and the rest of the index still works. */
	cr_assert_eq(file_put(mp(&M, "Download/shallow.txt"), 5), 0);
	for (int i = 0; i < 100 && sh("'%s' media query '%s' | grep -q '^Download/shallow.txt\t5\t'",
				       fusebpf_bin(), db); i++)
		sleep_ms(20);
	cr_assert_eq(sh("'%s' media query '%s' | grep -q '^Download/shallow.txt\t5\t'",
			fusebpf_bin(), db), 0);
	cr_assert_neq(sh("'%s' media query '%s' | grep -q deep.jpg", fusebpf_bin(), db), 0);
	cr_assert(daemon_stop(), "the daemon did not exit 0");
}
