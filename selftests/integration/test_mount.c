// SPDX-License-Identifier: MIT
/*
 * Mount lifecycle: the daemon comes up, serves, and goes away cleanly on
 * unmount and on SIGTERM; startup errors are one clear line.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
