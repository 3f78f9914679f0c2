// SPDX-License-Identifier: MIT
/*
 * An external POSIX filesystem test suite gives the same results on the
 * mount as on a plain directory of the backing filesystem: CPython's own
 * regression tests for the modules that exercise the filesystem (os, posix,
 * shutil, tempfile, io, pathlib, tarfile, zipfile, mailbox, ...), from the
 * Debian package libpython3.11-testsuite, run by scripts/posix-suite.sh.
 *
 * Measured here (2 cores): 22 modules, 3497 test cases (about 3200 pass
 * and 300 skip on ext4), about 45 s on ext4 and 60 s on the mount per run.
 * Every test case must end the same way on both sides (pass, fail or skip):
 * a skip only on the mount would hide a missing feature as well as a fail.
 * Run as root and as uid 1000, because root passes permission checks that
 * an ordinary user's tests rely on failing.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(posix_suite, .init = mnt_setup, .fini = mnt_teardown, .timeout = 900);

/* The suite runs thousands of cases: fewer passes means it did not really run. */
#define MIN_PASSING_CASES 2500

/* First lines of `diff plain mount`, for the failure message. */
static void diff_head(const char *plain, const char *mount, char *out, size_t len)
{
	char cmd[PATH_MAX * 3];
	size_t used = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "diff '%s' '%s' | grep '^[<>]' | head -30", plain, mount);
	out[0] = '\0';
	f = popen(cmd, "r");
	if (!f)
		return;
	while (used + 1 < len && fgets(out + used, len - used, f))
		used += strlen(out + used);
	pclose(f);
}

/* Runs the suite on a plain dir beside the backing dir, then on the mount, as uid. */
static void suite_same_on_mount(uid_t uid)
{
	char script[PATH_MAX], plain[PATH_MAX], plain_out[PATH_MAX], mount_out[PATH_MAX];
	char diff[4096];
	int passing;

	if (sh("/usr/bin/python3 -c 'import test.libregrtest' 2>/dev/null") != 0)
		cr_skip_test("CPython's test suite is missing: apt-get install "
			     "libpython3.11-testsuite (scripts/deps.sh installs it)");
	find_above("scripts/posix-suite.sh", script, sizeof(script));
	/* The scratch dir is 0700; uid 1000 must reach the mount and the plain dir. */
	cr_assert_eq(chmod(M.root, 0755), 0);
	cr_assert(snprintf(plain, sizeof(plain), "%s/plain", M.root) < (int)sizeof(plain) &&
		  snprintf(plain_out, sizeof(plain_out), "%s/plain.txt", M.root) <
		      (int)sizeof(plain_out) &&
		  snprintf(mount_out, sizeof(mount_out), "%s/mount.txt", M.root) <
		      (int)sizeof(mount_out));

	cr_assert_eq(sh("'%s' '%s' '%s' %u", script, plain, plain_out, uid), 0,
		     "suite did not run on the plain dir, see %s.log", plain_out);
	cr_assert_eq(sh("'%s' '%s' '%s' %u", script, mp(&M, "suite"), mount_out, uid), 0,
		     "suite did not run on the mount, see %s.log", mount_out);

	passing = sh("test $(grep -c '^pass ' '%s') -ge %d", plain_out, MIN_PASSING_CASES);
	cr_assert_eq(passing, 0, "fewer than %d cases passed on the plain dir, see %s.log",
		     MIN_PASSING_CASES, plain_out);
	diff_head(plain_out, mount_out, diff, sizeof(diff));
	cr_assert_eq(sh("cmp -s '%s' '%s'", plain_out, mount_out), 0,
		     "cases ending differently (< plain dir, > mount):\n%s", diff);
}

Test(posix_suite, cpython_fs_tests_same_as_backing_as_root)
{
	suite_same_on_mount(0);
}

Test(posix_suite, cpython_fs_tests_same_as_backing_as_uid_1000)
{
	suite_same_on_mount(1000);
}
