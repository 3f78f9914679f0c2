// SPDX-License-Identifier: MIT
/*
 * Mount lifecycle: the daemon comes up, serves, and goes away cleanly on
 * unmount and on SIGTERM; startup errors are one clear line.  The mount's
 * options: atime rules on the backing files, the flags and the options of
 * mount(8), fsname= and subtype=; and mounting through mount(8), an fstab
 * line and remount, with fsd as the helper mount.fuse.fsd.
 */
#define _GNU_SOURCE
#include "fixture.h"

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
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(mount, .timeout = 60);

Test(mount, serves_backing_and_exits_clean_on_unmount)
{
	char buf[16] = "";

	mnt_start(&M, NULL);
	cr_assert_eq(write_file(bp(&M, "f"), "hello", 5), 0);
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	cr_assert(mnt_stop(&M), "fsd did not exit 0 after umount");
}

Test(mount, sigterm_unmounts)
{
	struct stat st;
	int status;

	mnt_start(&M, NULL);
	cr_assert_eq(stat(mp(&M, ""), &st), 0);
	cr_assert_eq(kill(M.fsd, SIGTERM), 0);
	cr_assert_eq(waitpid(M.fsd, &status, 0), M.fsd);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	M.fsd = 0;
	cr_assert_eq(sh("grep -q ' %s ' /proc/mounts", M.dir), 1, "still mounted after SIGTERM");
	mnt_stop(&M);
}

/*
 * The kernel gives an unmounted FUSE mount's device number, which names the
 * control socket, to the next mount at once.  A daemon that leaves late
 * (here: stopped until the next daemon serves) must not take the next
 * daemon's socket away with its own.
 */
Test(mount, a_late_exit_leaves_the_next_daemons_control_socket)
{
	struct mnt next = { 0 };
	struct stat st;
	int status;

	for (int try = 0;; try++) {
		dev_t dev;

		mnt_start(&M, NULL);
		cr_assert_eq(stat(M.dir, &st), 0);
		dev = st.st_dev;
		cr_assert_eq(kill(M.fsd, SIGSTOP), 0);
		cr_assert_eq(umount2(M.dir, 0), 0, "umount with the daemon stopped: %m");
		mnt_start(&next, NULL);
		cr_assert_eq(stat(next.dir, &st), 0);
		if (st.st_dev == dev)
			break;
		/*
		 * Another test's mount took the number in between, or another
		 * test's new mount namespace holds a copy of the old mount, which
		 * keeps its connection (and its daemon) alive: again.
		 */
		kill(M.fsd, SIGKILL);
		waitpid(M.fsd, NULL, 0);
		M.fsd = 0;
		mnt_stop(&M);
		mnt_stop(&next);
		if (try == 9)
			cr_skip_test("the device number went to another mount 10 times");
	}
	cr_assert_eq(kill(M.fsd, SIGCONT), 0);
	cr_assert_eq(waitpid(M.fsd, &status, 0), M.fsd);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	M.fsd = 0;
	mnt_stat(&next, "nodes"); /* asserts that fsd --stats reached the daemon */
	cr_assert(mnt_stop(&next), "the new daemon did not exit 0");
	mnt_stop(&M);
}

/* Runs fsd with args, returns its exit status and its first output line. */
static int fsd_run(char *out, size_t outlen, const char *args)
{
	char cmd[4096];
	FILE *f;
	int status;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", fsd_bin(), args);
	f = popen(cmd, "r");
	cr_assert(f);
	out[0] = '\0';
	if (!fgets(out, outlen, f))
		out[0] = '\0';
	while (fgetc(f) != EOF)
		;
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(mount, startup_errors_are_one_clear_line)
{
	char out[512], args[4096];
	const char *tmp = test_tmp();
	char dir[1024], file[1100], mnt[1100];

	snprintf(dir, sizeof(dir), "%s/err.XXXXXX", tmp);
	cr_assert(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	cr_assert_eq(write_file(file, "x", 1), 0);
	cr_assert_eq(mkdir(mnt, 0755), 0);

	snprintf(args, sizeof(args), "-f %s/missing %s", dir, mnt);
	cr_assert_neq(fsd_run(out, sizeof(out), args), 0);
	cr_assert(strstr(out, "missing") && strstr(out, "No such file"), "got: %s", out);

	snprintf(args, sizeof(args), "-f %s %s", file, mnt);
	cr_assert_neq(fsd_run(out, sizeof(out), args), 0);
	cr_assert(strstr(out, "not a directory"), "got: %s", out);

	snprintf(args, sizeof(args), "-f -o bogus %s %s", dir, mnt);
	cr_assert_neq(fsd_run(out, sizeof(out), args), 0);
	cr_assert(strstr(out, "unknown option 'bogus'"), "got: %s", out);

	snprintf(args, sizeof(args), "-f %s %s/sub", mnt, dir);
	cr_assert_neq(fsd_run(out, sizeof(out), args), 0);

	/* Busy: something already mounted there. */
	cr_assert_eq(mount("tmpfs", mnt, "tmpfs", 0, NULL), 0);
	snprintf(args, sizeof(args), "-f %s %s", dir, mnt);
	cr_assert_neq(fsd_run(out, sizeof(out), args), 0);
	umount2(mnt, MNT_DETACH);
	cr_assert(strstr(out, "busy"), "got: %s", out);

	sh("rm -rf '%s'", dir);
}

static int run_fsd_unprivileged(void *arg)
{
	char *out = arg;
	char cmd[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' -f /tmp /mnt 2>&1", fsd_bin());
	f = popen(cmd, "r");
	if (!f || !fgets(out, 512, f))
		return 99;
	return strstr(out, "must run as root") && pclose(f) != 0 ? 0 : 1;
}

Test(mount, refuses_without_cap_sys_admin)
{
	char out[512] = "";

	cr_assert_eq(run_as(65534, 65534, run_fsd_unprivileged, out), 0, "got: %s", out);
}

Test(mount, no_dev_fuse_is_one_clear_line)
{
	char cmd[4096], out[512] = "";
	FILE *f;

	/* A private mount namespace whose /dev has no fuse node. */
	snprintf(cmd, sizeof(cmd),
		 "unshare -m sh -c 'mount -t tmpfs none /dev && exec \"$0\" -f %s /mnt' '%s' 2>&1",
		 test_tmp(), fsd_bin());
	f = popen(cmd, "r");
	cr_assert(f);
	if (!fgets(out, sizeof(out), f))
		out[0] = '\0';
	cr_assert_neq(pclose(f), 0);
	cr_assert(strstr(out, "cannot open /dev/fuse"), "got: %s", out);
}

Test(mount, help_and_version)
{
	char out[512];

	cr_assert_eq(fsd_run(out, sizeof(out), "--help"), 0);
	cr_assert(strstr(out, "usage:"), "got: %s", out);
	cr_assert_eq(fsd_run(out, sizeof(out), "--version"), 0);
	cr_assert(strstr(out, "fsd "), "got: %s", out);
}

Test(mount, debug_logs_every_request_and_reply)
{
	char dir[1024], log[1 << 16];
	ssize_t n;
	int fd;

	snprintf(dir, sizeof(dir), "%s/dbg.XXXXXX", test_tmp());
	cr_assert(mkdtemp(dir));
	/* fsd -d stays in the foreground; timeout is its watchdog, umount -l the fixture's. */
	cr_assert_eq(sh("cd '%s' && mkdir b m && touch b/file && "
			"{ timeout 20 '%s' -d b m 2>log & } && "
			"for i in $(seq 50); do grep -q ' %s/m ' /proc/mounts && break; sleep 0.1; done; "
			"stat m/file >/dev/null; umount m || umount -l m; wait",
			dir, fsd_bin(), dir),
		     0);
	snprintf(log, sizeof(log), "%s/log", dir);
	fd = open(log, O_RDONLY);
	cr_assert(fd >= 0);
	n = read(fd, log, sizeof(log) - 1);
	close(fd);
	sh("rm -rf '%s'", dir);
	cr_assert(n > 0);
	log[n] = '\0';
	cr_assert(strstr(log, "op=INIT"), "no INIT in the debug log: %s", log);
	cr_assert(strstr(log, "op=LOOKUP") && strstr(log, "name=file"), "no LOOKUP of file: %s", log);
	cr_assert(strstr(log, "<- unique="), "no replies logged: %s", log);
}

/* ---- atime: reads through the mount update the backing file's as the mount's options say ---- */

static struct timespec atime_of(const char *path)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "lstat %s: %s", path, strerror(errno));
	return st.st_atim;
}

/* An atime in 2001: older than mtime and ctime, so relatime updates it on the next read. */
static void atime_age(const char *path)
{
	struct timespec ts[2] = { { .tv_sec = 978307200 }, { .tv_nsec = UTIME_OMIT } };

	cr_assert_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0, "utimensat %s: %s",
		     path, strerror(errno));
}

static bool atime_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static void read_through(const char *path)
{
	char buf[64];

	cr_assert_gt(read_file(path, buf, sizeof(buf)), 0, "reading %s", path);
}

static void list_through(const char *path)
{
	DIR *d = opendir(path);

	cr_assert(d, "opendir %s: %s", path, strerror(errno));
	while (readdir(d))
		;
	closedir(d);
}

/* Past the kernel's coarse clock tick, so that a second update shows. */
static void tick(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* A file, a directory with an entry and a symlink in the backing directory, their atimes aged. */
static void atime_tree(void)
{
	put(bp(&M, "f"), "hello");
	cr_assert_eq(mkdir(bp(&M, "d"), 0755), 0);
	put(bp(&M, "d/x"), "x");
	cr_assert_eq(symlink("f", bp(&M, "l")), 0);
	atime_age(bp(&M, "f"));
	atime_age(bp(&M, "d"));
	atime_age(bp(&M, "l"));
}

/*
 * noatime: no read through the mount touches the backing atime: a file's
 * data (served by passthrough, and by the daemon), a listing, a symlink.
 * The backing directory's own mount is relatime, which would.
 */
static void noatime_leaves_atime(const char *opts)
{
	struct timespec f, d, l;
	char link[16] = "";

	start(opts);
	atime_tree();
	f = atime_of(bp(&M, "f"));
	d = atime_of(bp(&M, "d"));
	l = atime_of(bp(&M, "l"));
	read_through(mp(&M, "f"));
	list_through(mp(&M, "d"));
	cr_assert_eq(readlink(mp(&M, "l"), link, sizeof(link) - 1), 1);
	cr_assert(atime_eq(atime_of(bp(&M, "f")), f), "-o %s: a read updated the file's atime",
		  opts);
	cr_assert(atime_eq(atime_of(bp(&M, "d")), d), "-o %s: a listing updated the dir's atime",
		  opts);
	cr_assert(atime_eq(atime_of(bp(&M, "l")), l), "-o %s: readlink updated the link's atime",
		  opts);
	/* What a stat through the mount shows is the backing file's. */
	cr_assert(atime_eq(atime_of(mp(&M, "f")), f), "-o %s: the mount shows another atime", opts);
	cr_assert(mnt_stop(&M));
}

Test(mount, atime_noatime_leaves_backing_atime)
{
	noatime_leaves_atime("noatime");
}

Test(mount, atime_noatime_leaves_backing_atime_daemon_reads)
{
	noatime_leaves_atime("noatime,passthrough=off");
}

/*
 * A filesystem mounted under the backing directory after the daemon
 * started is seen through the mount, and its files keep the mount's rule.
 */
Test(mount, atime_noatime_holds_on_a_filesystem_mounted_later)
{
	struct timespec old;
	struct statvfs in_mount, in_backing;

	start("noatime");
	cr_assert_eq(mkdir(bp(&M, "sub"), 0755), 0);
	if (mount("tmpfs", bp(&M, "sub"), "tmpfs", MS_STRICTATIME, "size=1m") < 0)
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
	put(bp(&M, "sub/f"), "hello");
	atime_age(bp(&M, "sub/f"));
	old = atime_of(bp(&M, "sub/f"));
	read_through(mp(&M, "sub/f"));
	cr_assert_eq(statvfs(mp(&M, "sub"), &in_mount), 0);
	cr_assert_eq(statvfs(bp(&M, "sub"), &in_backing), 0);
	cr_assert(atime_eq(atime_of(bp(&M, "sub/f")), old),
		  "noatime: a read on a later strictatime submount updated atime");
	umount2(bp(&M, "sub"), MNT_DETACH);
	cr_assert_eq(in_mount.f_blocks, in_backing.f_blocks, "the submount is not seen");
	cr_assert(mnt_stop(&M));
}

/* relatime (the default): the first read after a change updates atime, the next ones do not. */
Test(mount, atime_relatime_updates_once)
{
	struct timespec old, first;

	start(NULL);
	atime_tree();
	/* A read in the clock tick of the change would leave atime == ctime: due again. */
	tick();
	old = atime_of(bp(&M, "f"));
	read_through(mp(&M, "f"));
	first = atime_of(bp(&M, "f"));
	cr_assert_gt(first.tv_sec, old.tv_sec, "the first read did not update atime");
	tick();
	read_through(mp(&M, "f"));
	cr_assert(atime_eq(atime_of(bp(&M, "f")), first), "relatime: a second read updated atime");
	list_through(mp(&M, "d"));
	cr_assert_gt(atime_of(bp(&M, "d")).tv_sec, old.tv_sec, "a listing did not update atime");
	cr_assert(mnt_stop(&M));
}

/*
 * strictatime: every read that reaches the backing file updates atime,
 * though the backing directory's own mount is relatime.  Passthrough reads
 * all reach it; the daemon's only those the page cache does not serve,
 * so that case runs with cache=never.
 */
static void strictatime_updates_every_read(const char *opts)
{
	struct timespec first;

	start(opts);
	if (!strstr(opts, "cache=never") && !mnt_stat(&M, "passthrough"))
		cr_skip_test("the kernel did not accept FUSE_PASSTHROUGH: reads its page cache "
			     "serves reach no backing file (the _daemon_reads case is this kernel's)");
	atime_tree();
	read_through(mp(&M, "f"));
	first = atime_of(bp(&M, "f"));
	tick();
	read_through(mp(&M, "f"));
	cr_assert_gt(atime_of(bp(&M, "f")).tv_sec * 1000000000ll + atime_of(bp(&M, "f")).tv_nsec,
		     first.tv_sec * 1000000000ll + first.tv_nsec,
		     "-o %s: the second read did not update atime", opts);
	cr_assert(mnt_stop(&M));
}

Test(mount, atime_strictatime_updates_every_read)
{
	strictatime_updates_every_read("strictatime");
}

Test(mount, atime_strictatime_updates_every_read_daemon_reads)
{
	strictatime_updates_every_read("strictatime,passthrough=off,cache=never");
}

/* nodiratime: listings leave a directory's atime, file reads update theirs. */
Test(mount, atime_nodiratime_leaves_directories)
{
	struct timespec f, d;

	start("nodiratime");
	atime_tree();
	f = atime_of(bp(&M, "f"));
	d = atime_of(bp(&M, "d"));
	list_through(mp(&M, "d"));
	read_through(mp(&M, "f"));
	cr_assert(atime_eq(atime_of(bp(&M, "d")), d), "nodiratime: a listing updated atime");
	cr_assert_gt(atime_of(bp(&M, "f")).tv_sec, f.tv_sec, "nodiratime: a read did not update");
	cr_assert(mnt_stop(&M));
}

/* ---- the options mount(8) may pass, given to fsd itself (as mount.fuse3 gives them) ---- */

/* The fields source, type and options of dir's line in /proc/self/mounts; false if none. */
static bool mount_line(const char *dir, char *out, size_t size)
{
	char line[PATH_MAX * 2], src[PATH_MAX], at[PATH_MAX], type[64], opts[1024];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "r");

	cr_assert(f);
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%4095s %4095s %63s %1023s", src, at, type, opts) == 4 &&
			!strcmp(at, dir);
	fclose(f);
	if (found)
		snprintf(out, size, "%s %s %s", src, type, opts);
	return found;
}

/* Whether the mount options field of line (source type options) has opt. */
static bool has_opt(const char *line, const char *opt)
{
	const char *opts = strrchr(line, ' ') + 1;
	size_t len = strlen(opt);

	for (const char *p = opts; (p = strstr(p, opt)); p++)
		if ((p == opts || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
	return false;
}

Test(mount, mount8_options_accepted_by_fsd)
{
	char line[PATH_MAX * 2], buf[8];

	/* mount.fuse3 adds dev,suid; mount(8) hands back user_id/group_id on remount. */
	start("defaults,auto,noauto,_netdev,nofail,user,nouser,users,owner,group,mand,nomand,"
	      "iversion,noiversion,comment=c,uhelper=u,helper=h,x-systemd.automount,X-mount.mkdir,"
	      "dev,suid,exec,async,atime,diratime,norelatime,nostrictatime,nolazytime,symfollow,"
	      "loud,user_id=0,group_id=0");
	cr_assert(mount_line(M.dir, line, sizeof(line)));
	cr_assert(has_opt(line, "rw") && has_opt(line, "relatime"), "%s", line);
	cr_assert_not(has_opt(line, "nosuid") || has_opt(line, "nodev") || has_opt(line, "noexec"),
		      "%s", line);
	put(bp(&M, "f"), "hi");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 2);
	cr_assert(mnt_stop(&M));
}

/* The flags that are the kernel's to apply are applied, and shown. */
Test(mount, mount_flags_applied)
{
	char line[PATH_MAX * 2], buf[8];

	start("lazytime,nosymfollow,dirsync,nodev,silent");
	cr_assert(mount_line(M.dir, line, sizeof(line)));
	cr_assert(has_opt(line, "lazytime") && has_opt(line, "nosymfollow") &&
		      has_opt(line, "dirsync") && has_opt(line, "nodev"),
		  "%s", line);
	put(bp(&M, "f"), "hi");
	cr_assert_eq(symlink("f", bp(&M, "l")), 0);
	cr_assert_eq(readlink(mp(&M, "l"), buf, sizeof(buf)), 1, "readlink still works");
	cr_assert_eq(read_file(mp(&M, "l"), buf, sizeof(buf)), -ELOOP,
		     "nosymfollow: a symlink was followed");
	cr_assert(mnt_stop(&M));
}

/* /proc/mounts shows fsname= as the source, fuse.SUBTYPE (or fuse) as the type. */
Test(mount, fsname_and_subtype_in_proc_mounts)
{
	char line[PATH_MAX * 2], want[PATH_MAX + 64], opts[64];

	start(NULL);
	cr_assert(mount_line(M.dir, line, sizeof(line)));
	snprintf(want, sizeof(want), "%s %s.fsd ", M.backing, fsd_fstype());
	cr_assert(!strncmp(line, want, strlen(want)), "default: %s", line);
	cr_assert(mnt_stop(&M));

	/* Named by our pid: a source other runs on this machine do not unmount. */
	snprintf(opts, sizeof(opts), "fsname=my backing %d,subtype=", (int)getpid());
	start(opts);
	cr_assert(mount_line(M.dir, line, sizeof(line)));
	snprintf(want, sizeof(want), "my\\040backing\\040%d %s rw,", (int)getpid(), fsd_fstype());
	cr_assert(!strncmp(line, want, strlen(want)), "%s", line);
	/* Test suites unmount by source. */
	cr_assert_eq(sh("umount 'my backing %d'", (int)getpid()), 0);
	cr_assert(mnt_stop(&M), "fsd did not exit 0 after umount by source");

	start("subtype=other");
	cr_assert(mount_line(M.dir, line, sizeof(line)));
	snprintf(want, sizeof(want), " %s.other rw,", fsd_fstype());
	cr_assert(strstr(line, want), "%s", line);
	cr_assert(mnt_stop(&M));
}

/* SELinux options go to the kernel: without SELinux it refuses them, as it does for ext4. */
Test(mount, selinux_context_goes_to_the_kernel)
{
	char dir[1024], mnt[1100], args[4096], out[512];

	if (access("/sys/fs/selinux/enforce", F_OK) == 0)
		cr_skip_test("SELinux is on here: context= is taken (covered where it is off)");
	snprintf(dir, sizeof(dir), "%s/ctx.XXXXXX", test_tmp());
	cr_assert(mkdtemp(dir));
	cr_assert_eq(sh("mkdir '%s/b' '%s/m'", dir, dir), 0);
	snprintf(mnt, sizeof(mnt), "%s/m", dir);
	snprintf(args, sizeof(args), "-f -o context=system_u:object_r:tmp_t:s0 %s/b %s/m", dir,
		 dir);
	cr_assert_eq(fsd_run(out, sizeof(out), args), 1);
	cr_assert(!is_mounted(mnt));
	sh("rm -rf '%s'", dir);
	cr_assert(strstr(out, "Invalid argument") && strstr(out, "SELinux"), "got: %s", out);
}

/* ---- mount(8), fstab and remount, with fsd as its helper mount.fuse.fsd ---- */

/*
 * mount(8) looks for its helper only in /sbin, /sbin/fs.d and /sbin/fs,
 * where a test must not install one.  So each mount(8) command runs in a
 * mount namespace of its own whose /usr/sbin (Debian's /sbin) is an overlay
 * with this build's mount.fuse.fsd -> fsd link on top; the mount holding
 * /usr/sbin is made private there first, so that the overlay stays in that
 * namespace.  The scratch dir is a shared bind mount, so the FUSE mount
 * made there propagates back here, where the test checks and unmounts it
 * (which propagates back too, and ends the daemon).
 *
 * Our own watchdog unmounts everything under the scratch dir and kills
 * the daemons, found by their command lines (mount(8)'s grandchildren, in
 * another namespace, name the scratch dir), when the test ends or hangs.
 * The daemons log to syslog; under make asan their sanitizer reports go
 * to files in the scratch dir, which fail the test.
 */

#define M8_WATCHDOG_SECONDS 300

static struct {
	char sbin[PATH_MAX]; /* holds mount.fuse.fsd */
	char mnt2[PATH_MAX]; /* a second mountpoint */
	char fstab[PATH_MAX];
	pid_t watchdog;
	int watchdog_fd;
	pid_t *extra; /* shared with the watchdog: one more process to kill (the -N test's) */
} m8;

/* Whether an argument of process pid's command line is dir or lies below it. */
static bool cmdline_in(const char *pid, const char *dir)
{
	char path[64], args[8192];
	size_t len = strlen(dir);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, args, sizeof(args) - 1);
	close(fd);
	if (n <= 0)
		return false; /* a zombie's is empty */
	args[n] = '\0';
	for (char *a = args; a < args + n; a += strlen(a) + 1)
		if (!strncmp(a, dir, len) && (a[len] == '/' || !a[len]))
			return true;
	return false;
}

/* Sends sig (0: none) to every other process with an argument in dir; how many there are. */
static int signal_in(const char *dir, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int count = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		pid_t pid = atoi(e->d_name);

		if (pid <= 0 || pid == getpid() || !cmdline_in(e->d_name, dir))
			continue;
		if (sig)
			kill(pid, sig);
		count++;
	}
	closedir(d);
	return count;
}

/* Unmounts (lazily) whatever is mounted on or below dir, the latest first. */
static void umount_in(const char *dir)
{
	static char at[32][PATH_MAX];
	char line[PATH_MAX * 2], src[PATH_MAX];
	size_t len = strlen(dir);
	int n = 0;
	FILE *f = fopen("/proc/self/mounts", "r");

	if (!f)
		return;
	while (n < 32 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%4095s %4095s", src, at[n]) == 2 && !strncmp(at[n], dir, len) &&
		    (at[n][len] == '/' || !at[n][len]))
			n++;
	fclose(f);
	while (n-- > 0)
		umount2(at[n], MNT_DETACH);
}

static void m8_watchdog(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, M8_WATCHDOG_SECONDS * 1000 * (int)test_time_scale()) < 0 &&
	       errno == EINTR)
		;
	umount_in(M.root);
	if (signal_in(M.root, SIGTERM))
		for (int i = 0; i < 20 && signal_in(M.root, 0); i++)
			sleep_ms(100);
	signal_in(M.root, SIGKILL);
	if (*m8.extra > 0)
		kill(*m8.extra, SIGKILL);
	_exit(0);
}

/* Whether every daemon of the test has exited (within 5 s). */
static bool daemons_gone(void)
{
	for (int i = 0; i < 100 * (int)test_time_scale(); i++) {
		if (!signal_in(M.root, 0))
			return true;
		sleep_ms(50);
	}
	return false;
}

/*
 * Runs the shell command line fmt (mount(8), umount(8)...) in a mount
 * namespace where mount(8) finds this build's fsd as /sbin/mount.fuse.fsd;
 * its exit status, its output in out.
 */
static __attribute__((format(printf, 3, 4))) int mount8(char *out, size_t size, const char *fmt,
							...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(setenv("M8_CMD", cmd, 1), 0);
	cr_assert_eq(setenv("M8_SBIN", m8.sbin, 1), 0);
	/* A helper that never returns fails the test here, not at Criterion's timeout. */
	return sh_output(out, size,
			 "timeout -k 5 %u unshare -m --propagation unchanged sh -c '"
			 "mount --make-private \"$(findmnt -n -o TARGET -T /usr/sbin)\" && "
			 "mount -t overlay overlay -o lowerdir=\"$M8_SBIN\":/usr/sbin /usr/sbin && "
			 "eval \"$M8_CMD\"'",
			 30 * test_time_scale());
}

/* The scratch dir (in M, for mp() and bp()), its shared bind mount, the helper link, the watchdog.
 */
static void m8_setup(void)
{
	char fsd[PATH_MAX], link[PATH_MAX + 32], san[PATH_MAX + 64], out[4096];
	int pipefd[2];

	memset(&M, 0, sizeof(M));
	snprintf(M.root, sizeof(M.root), "%s/m8.XXXXXX", test_tmp());
	cr_assert(mkdtemp(M.root), "mkdtemp %s: %s", M.root, strerror(errno));
	cr_assert(snprintf(M.backing, sizeof(M.backing), "%s/backing", M.root) <
		      (int)sizeof(M.backing) &&
		  snprintf(M.dir, sizeof(M.dir), "%s/mnt", M.root) < (int)sizeof(M.dir) &&
		  snprintf(m8.mnt2, sizeof(m8.mnt2), "%s/mnt2", M.root) < (int)sizeof(m8.mnt2) &&
		  snprintf(m8.sbin, sizeof(m8.sbin), "%s/sbin", M.root) < (int)sizeof(m8.sbin) &&
		  snprintf(m8.fstab, sizeof(m8.fstab), "%s/fstab", M.root) < (int)sizeof(m8.fstab));
	cr_assert(mkdir(M.backing, 0755) == 0 && mkdir(M.dir, 0755) == 0 &&
		  mkdir(m8.mnt2, 0755) == 0 && mkdir(m8.sbin, 0755) == 0);
	cr_assert(realpath(fsd_bin(), fsd), "%s: %s", fsd_bin(), strerror(errno));
	snprintf(link, sizeof(link), "%s/mount.fuse.fsd", m8.sbin);
	cr_assert_eq(symlink(fsd, link), 0);

	m8.extra = mmap(NULL, sizeof(*m8.extra), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	cr_assert(m8.extra != MAP_FAILED);
	*m8.extra = 0;
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	m8.watchdog = fork();
	cr_assert(m8.watchdog >= 0);
	if (m8.watchdog == 0) {
		close(pipefd[1]);
		m8_watchdog(pipefd[0]);
	}
	close(pipefd[0]);
	m8.watchdog_fd = pipefd[1];

	/* A peer group of its own: what is mounted below propagates here, and nowhere else. */
	cr_assert_eq(mount(M.root, M.root, NULL, MS_BIND, NULL), 0, "%s", strerror(errno));
	cr_assert_eq(mount(NULL, M.root, NULL, MS_PRIVATE, NULL), 0, "%s", strerror(errno));
	cr_assert_eq(mount(NULL, M.root, NULL, MS_SHARED, NULL), 0, "%s", strerror(errno));
	if (mount8(out, sizeof(out), "test -x /sbin/mount.fuse.fsd") != 0)
		cr_skip_test("cannot give mount(8) this build's helper (overlayfs, unshare): %s",
			     out);
	/* The daemons' sanitizer reports, under make asan: they log to syslog, not to us. */
	snprintf(san, sizeof(san), "%s%slog_path=%s/san", getenv("ASAN_OPTIONS") ?: "",
		 getenv("ASAN_OPTIONS") ? ":" : "", M.root);
	setenv("ASAN_OPTIONS", san, 1);
	snprintf(san, sizeof(san), "%s%slog_path=%s/san", getenv("UBSAN_OPTIONS") ?: "",
		 getenv("UBSAN_OPTIONS") ? ":" : "", M.root);
	setenv("UBSAN_OPTIONS", san, 1);
}

/* Criterion's .fini: the watchdog cleans up; a sanitizer report of a daemon fails the test. */
static void m8_teardown(void)
{
	bool sanitized;

	if (!m8.watchdog)
		return;
	close(m8.watchdog_fd);
	waitpid(m8.watchdog, NULL, 0);
	m8.watchdog = 0;
	sanitized =
	    sh("grep -qsE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '%s'/san.*", M.root) == 0;
	if (sanitized)
		sh("cat '%s'/san.* >&2", M.root);
	if (!getenv("FSD_TEST_KEEP"))
		sh("rm -rf '%s'", M.root);
	if (sanitized) {
		fprintf(stderr, "test_mount: a daemon's sanitizer report (above)\n");
		abort();
	}
}

/* mount -t fuse.fsd gives the mount fsd gives, and umount by source ends the daemon. */
Test(mount, mount8_mounts_what_fsd_mounts, .fini = m8_teardown)
{
	char out[4096], via8[PATH_MAX * 2], direct[PATH_MAX * 2], buf[16] = "", want[64];
	int pid = getpid(); /* in the sources, which other runs on this machine do not unmount */

	m8_setup();
	put(bp(&M, "f"), "hello");
	cr_assert_eq(mount8(out, sizeof(out),
			    "mount -t fuse.fsd -o noatime,nosuid,nodev,fsname=m8src%d,cache=auto "
			    "'%s' '%s'",
			    pid, M.backing, M.dir),
		     0, "mount(8): %s", out);
	cr_assert_eq(sh("'%s' -o noatime,nosuid,nodev,fsname=m8src%d,cache=auto '%s' '%s'",
			fsd_bin(), pid, M.backing, m8.mnt2),
		     0);
	cr_assert(mount_line(M.dir, via8, sizeof(via8)), "mount(8) mounted nothing here");
	cr_assert(mount_line(m8.mnt2, direct, sizeof(direct)));
	cr_assert_str_eq(via8, direct, "mount(8) and fsd mount differently");
	snprintf(want, sizeof(want), "m8src%d %s.fsd rw,nosuid,nodev,noatime,", pid, fsd_fstype());
	cr_assert(!strncmp(via8, want, strlen(want)), "%s", via8);
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	/* Test suites unmount by source. */
	cr_assert_eq(sh("umount '%s' && umount m8src%d", m8.mnt2, pid), 0);
	cr_assert(!is_mounted(M.dir) && !is_mounted(m8.mnt2));
	cr_assert(daemons_gone(), "a daemon outlived its unmount");
}

/*
 * An fstab line: mount -a mounts it (mount(8)'s, systemd's and fsd's
 * options all in it), leaves the noauto one, which mounts by its
 * mountpoint; subtype= empty mounts as plain fuse; umount by source.
 */
Test(mount, fstab_line_mounts, .fini = m8_teardown)
{
	char out[4096], line[PATH_MAX * 2], want[64];
	int pid = getpid(); /* in the sources, which other runs on this machine do not unmount */
	struct timespec old;
	FILE *f;

	m8_setup();
	f = fopen(m8.fstab, "w");
	cr_assert(f);
	fprintf(f,
		"# as mount -a, systemd and test harnesses read it\n"
		"%s %s fuse.fsd defaults,noatime,fsname=tab%d,subtype=,x-systemd.requires=x.mount,"
		"X-mount.mkdir,nofail,_netdev,comment=fsd,cache=never,threads=2 0 0\n"
		"%s %s fuse.fsd noauto,fsname=tab%d.2 0 0\n",
		M.backing, M.dir, pid, M.backing, m8.mnt2, pid);
	fclose(f);
	put(bp(&M, "f"), "hello");
	atime_age(bp(&M, "f"));
	old = atime_of(bp(&M, "f"));

	cr_assert_eq(mount8(out, sizeof(out), "mount -a -T '%s'", m8.fstab), 0, "mount -a: %s",
		     out);
	cr_assert(mount_line(M.dir, line, sizeof(line)), "mount -a mounted nothing: %s", out);
	snprintf(want, sizeof(want), "tab%d %s rw,noatime,", pid, fsd_fstype());
	cr_assert(!strncmp(line, want, strlen(want)), "%s", line);
	cr_assert_not(is_mounted(m8.mnt2), "mount -a mounted a noauto line");
	read_through(mp(&M, "f"));
	cr_assert(atime_eq(atime_of(bp(&M, "f")), old), "noatime from fstab not honoured");

	cr_assert_eq(mount8(out, sizeof(out), "mount -T '%s' '%s'", m8.fstab, m8.mnt2), 0,
		     "mount MOUNTPOINT: %s", out);
	cr_assert(mount_line(m8.mnt2, line, sizeof(line)));
	snprintf(want, sizeof(want), "tab%d.2 %s.fsd rw,relatime,", pid, fsd_fstype());
	cr_assert(!strncmp(line, want, strlen(want)), "%s", line);

	cr_assert_eq(sh("umount tab%d && umount tab%d.2", pid, pid), 0);
	cr_assert(!is_mounted(M.dir) && !is_mounted(m8.mnt2));
	cr_assert(daemons_gone(), "a daemon outlived its unmount");
}

/*
 * mount -o remount changes the flags, as for a local filesystem, and the
 * daemon takes the new atime rule; ro makes the superblock read-only.
 * cache=never: without passthrough, every read then reaches the backing file.
 * Per-mount flags change on the namespace's own copy of the mount: checked
 * there.
 */
Test(mount, remount_changes_flags_and_atime, .fini = m8_teardown)
{
	char out[4096], want[64], *p, *q = NULL;
	struct timespec old;
	double first;

	m8_setup();
	put(bp(&M, "f"), "hello");
	cr_assert_eq(
	    mount8(out, sizeof(out), "mount -t fuse.fsd -o noatime,cache=never '%s' '%s'", M.backing,
		   M.dir),
	    0, "%s", out);
	atime_age(bp(&M, "f"));
	old = atime_of(bp(&M, "f"));
	read_through(mp(&M, "f"));
	cr_assert(atime_eq(atime_of(bp(&M, "f")), old), "noatime: a read updated atime");

	/*
	 * The reads too, in the namespace of the remount: the new atime
	 * rule is its mount's, as for a local filesystem (fusebpf.ko reads
	 * it there), though fsd's own reads take it for every namespace.
	 */
	cr_assert_eq(mount8(out, sizeof(out),
			    "mount -o remount,strictatime '%s' && grep ' %s ' /proc/self/mounts && "
			    "cat '%s/f' >/dev/null && stat -c 'atime %%.9X' '%s/f' && sleep 0.1 && "
			    "cat '%s/f' >/dev/null && stat -c 'atime %%.9X' '%s/f'",
			    M.dir, M.dir, M.dir, M.backing, M.dir, M.backing),
		     0, "remount: %s", out);
	snprintf(want, sizeof(want), " %s.fsd rw,user_id=0", fsd_fstype());
	cr_assert(strstr(out, want), "strictatime shows no atime word: %s", out);
	cr_assert((p = strstr(out, "atime ")) && (q = strstr(p + 1, "atime ")), "%s", out);
	first = strtod(p + 6, NULL);
	cr_assert_gt(first, old.tv_sec, "the daemon kept noatime after the remount: %s", out);
	cr_assert_neq(strtod(q + 6, NULL), first,
		      "strictatime: the second read did not update atime: %s", out);

	cr_assert_eq(mount8(out, sizeof(out), "mount -o remount,ro '%s'", M.dir), 0, "%s", out);
	cr_assert_eq(write_file(mp(&M, "g"), "x", 1), -EROFS);
	cr_assert_eq(sh("umount '%s'", M.dir), 0);
	cr_assert(daemons_gone(), "the daemon outlived its unmount");
}

/* Every option mount(8) passes is taken: the kernel's applied, mount(8)'s own ignored. */
Test(mount, mount8_options_all_taken, .fini = m8_teardown)
{
	char out[4096], line[PATH_MAX * 2];

	m8_setup();
	cr_assert_eq(mount8(out, sizeof(out),
			    "mount -t fuse.fsd -o rw,relatime,lazytime,nosymfollow,dirsync,silent,"
			    "iversion,mand,nofail,_netdev,x-fsd.test=1,X-fsd.note,comment=fsd,"
			    "defaults,auto,user,users,uhelper=fsd,nouser '%s' '%s'",
			    M.backing, M.dir),
		     0, "%s", out);
	cr_assert(mount_line(M.dir, line, sizeof(line)));
	/* user and users imply noexec, nosuid and nodev (mount(8)). */
	cr_assert(has_opt(line, "lazytime") && has_opt(line, "nosymfollow") &&
		      has_opt(line, "dirsync") && has_opt(line, "noexec") &&
		      has_opt(line, "nosuid") && has_opt(line, "nodev"),
		  "%s", line);
	cr_assert_eq(sh("umount '%s'", M.dir), 0);
	cr_assert(daemons_gone());
}

/* Unknown options fail the mount with their name; mount -f mounts nothing. */
Test(mount, mount8_refuses_unknown_and_fakes, .fini = m8_teardown)
{
	char out[4096];

	m8_setup();
	cr_assert_neq(mount8(out, sizeof(out), "mount -t fuse.fsd -o noatime,bogus_opt '%s' '%s'",
			     M.backing, M.dir),
		      0);
	cr_assert(strstr(out, "unknown option 'bogus_opt'"), "%s", out);
	cr_assert_eq(mount8(out, sizeof(out), "mount -f -t fuse.fsd '%s' '%s'", M.backing, M.dir),
		     0, "%s", out);
	cr_assert_not(is_mounted(M.dir));
	cr_assert(daemons_gone());
}

/* mount -N NS: the helper mounts in that namespace, not in its own. */
Test(mount, mount8_in_another_namespace, .fini = m8_teardown)
{
	char out[4096], path[64];
	struct stat a, b;
	pid_t pid;

	m8_setup();
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		execlp("unshare", "unshare", "-m", "--propagation", "private", "sleep", "300",
		       (char *)NULL);
		_exit(127);
	}
	*m8.extra = pid;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	for (int i = 0; i < 100; i++) {
		if (stat(path, &a) == 0 && stat("/proc/self/ns/mnt", &b) == 0 &&
		    a.st_ino != b.st_ino)
			break;
		sleep_ms(20);
	}
	cr_assert_neq(a.st_ino, b.st_ino, "unshare made no namespace");
	cr_assert_eq(mount8(out, sizeof(out), "mount -N %d -t fuse.fsd '%s' '%s'", (int)pid,
			    M.backing, M.dir),
		     0, "%s", out);
	cr_assert_not(is_mounted(M.dir), "mounted here, not in the namespace given");
	cr_assert_eq(sh("grep -q ' %s ' /proc/%d/mounts", M.dir, (int)pid), 0,
		     "not mounted in the namespace given");
	cr_assert_eq(sh("nsenter -t %d -m umount '%s'", (int)pid, M.dir), 0);
	cr_assert(daemons_gone());
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	*m8.extra = 0;
}
