// SPDX-License-Identifier: MIT
/*
 * -o kernel=: who runs the filters, and so how fsd mounts.  What a user can
 * get wrong gets one line naming it: a value that is no mode, and
 * kernel=fusebpf on a machine without fusebpf.ko (no /dev/fusebpf).  The
 * modes themselves are served in test_fusebpf.c (FUSE-BPF) and every other
 * wire test (fuse); here, a mount's statistics say which it runs in.
 */
#define _GNU_SOURCE
#include "wire.h"
#include "../integration/fixture.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(wire_kernel_mode, .timeout = 30);

/* Runs fsd ARGS; its exit status, its stderr in err (its stdout is dropped). */
static int fsd_run(char *err, size_t size, const char *args)
{
	char dir[PATH_MAX], file[PATH_MAX + 16];
	FILE *f;
	size_t n;
	int status;

	snprintf(dir, sizeof(dir), "%s/k.XXXXXX", test_tmp());
	cr_assert(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/stderr", dir);
	status = sh("'%s' %s >/dev/null 2>'%s'", fsd_bin(), args, file);
	f = fopen(file, "r");
	cr_assert(f);
	n = fread(err, 1, size - 1, f);
	err[n] = '\0';
	fclose(f);
	sh("rm -rf '%s'", dir);
	return status;
}

Test(wire_kernel_mode, a_value_that_is_no_mode)
{
	char err[1024];

	/* Options are read first: the paths need not exist. */
	cr_assert_eq(fsd_run(err, sizeof(err), "-o kernel=bpf /nonexistent /nonexistent"), 2);
	cr_assert_str_eq(err, "fsd: option kernel=bpf: expected fuse, fusebpf, rfc or auto\n");
	cr_assert_eq(fsd_run(err, sizeof(err), "--dev-fd 0 -o kernel= /nonexistent"), 2);
	cr_assert_str_eq(err, "fsd: option kernel=: expected fuse, fusebpf, rfc or auto\n");
}

/* A fresh dir under the test tmp, with a backing dir b and a mountpoint m in it. */
static void make_dirs(char dir[PATH_MAX], char *backing, char *mnt, size_t size)
{
	snprintf(dir, PATH_MAX, "%s/k.XXXXXX", test_tmp());
	cr_assert(mkdtemp(dir));
	snprintf(backing, size, "%s/b", dir);
	snprintf(mnt, size, "%s/m", dir);
	cr_assert_eq(mkdir(backing, 0755), 0);
	cr_assert_eq(mkdir(mnt, 0755), 0);
}

Test(wire_kernel_mode, fusebpf_without_the_module)
{
	char err[1024], dir[PATH_MAX], backing[PATH_MAX + 8], mnt[PATH_MAX + 8], args[3 * PATH_MAX];
	struct stat st;

	if (geteuid() != 0)
		cr_skip_test("fsd mounts only as root");
	if (stat("/dev/fusebpf", &st) == 0)
		cr_skip_test("fusebpf.ko is loaded here");
	make_dirs(dir, backing, mnt, sizeof(backing));
	snprintf(args, sizeof(args), "-f -o kernel=fusebpf '%s' '%s'", backing, mnt);
	cr_assert_eq(fsd_run(err, sizeof(err), args), 1);
	cr_assert_str_eq(err, "fsd: kernel=fusebpf: /dev/fusebpf: No such file or directory "
			      "(fusebpf.ko not loaded?)\n");
	cr_assert_not(is_mounted(mnt));
	sh("rm -rf '%s'", dir);
}

/* An RFC mount on a kernel whose FUSE has no FUSE-BPF: it refuses root_dir=, and fsd says so. */
Test(wire_kernel_mode, rfc_without_fuse_bpf)
{
	char err[1024], dir[PATH_MAX], backing[PATH_MAX + 8], mnt[PATH_MAX + 8], args[3 * PATH_MAX];
	int status;

	if (geteuid() != 0)
		cr_skip_test("fsd mounts only as root");
	make_dirs(dir, backing, mnt, sizeof(backing));
	/* Not -f: were the mount to work, fsd would serve it in the background. */
	snprintf(args, sizeof(args), "-o kernel=rfc,policy=somepolicy '%s' '%s'", backing, mnt);
	status = fsd_run(err, sizeof(err), args);
	if (status == 0) {
		sh("umount -l '%s'", mnt);
		sh("rm -rf '%s'", dir);
		cr_skip_test("this kernel's FUSE takes root_dir=: it has FUSE-BPF");
	}
	cr_assert_eq(status, 1, "%s", err);
	cr_assert(strstr(err, "Invalid argument (kernel=rfc: this kernel's FUSE refused root_dir=; "
			      "it has no FUSE-BPF?)\n"),
		  "%s", err);
	cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "more than one line: %s", err);
	cr_assert_not(is_mounted(mnt));
	sh("rm -rf '%s'", dir);
}

/* fsd --stats and fusebpf stats say which mode a mount runs in: auto's choice here. */
Test(wire_kernel_mode, stats_say_the_mode)
{
	char out[1 << 16], want[64];
	struct stat st;
	bool module = stat("/dev/fusebpf", &st) == 0;

	if (geteuid() != 0)
		cr_skip_test("fsd mounts only as root");
	mnt_start(&M, NULL);
	cr_assert_eq(sh_output(out, sizeof(out), "'%s' --stats '%s'", fsd_bin(), M.dir), 0, "%s",
		     out);
	snprintf(want, sizeof(want), "\nkernel %s\n", module ? "fusebpf" : "fuse");
	cr_assert(strstr(out, want), "no '%s' in: %s", want + 1, out);
	cr_assert(module || strstr(out, "\nkernel_masks 0\n"), "%s", out);
	cr_assert_eq(sh_output(out, sizeof(out), "'%s' stats '%s'", fusebpf_bin(), M.dir), 0, "%s",
		     out);
	cr_assert(strstr(out, module ? "filters run by the kernel (kernel=fusebpf)" :
				       "filters run by the daemon (kernel=fuse)"),
		  "%s", out);
	cr_assert(mnt_stop(&M), "fsd did not exit 0");
}

Test(wire_kernel_mode, help_names_the_modes)
{
	char out[16384];

	cr_assert_eq(sh_output(out, sizeof(out), "'%s' --help", fsd_bin()), 0);
	cr_assert(strstr(out, "kernel=fuse|fusebpf|rfc|auto"), "%s", out);
}
