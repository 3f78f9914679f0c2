// SPDX-License-Identifier: MIT
/*
 * make install and make uninstall, into a DESTDIR, from the build under
 * test (the directory of $FSD_BIN; make is told not to rebuild it): what
 * goes where, the man pages, and then the install used as a policy author
 * and an administrator would: a policy built outside the tree with the
 * installed `fusebpf build` (and with fusebpf.pc's clang line, which must
 * give the same object), loaded with the installed fusebpf, and mounted
 * with `mount -t fuse.fsd` through the installed helper.  Uninstall must
 * remove exactly what install put there.
 *
 * mount(8) looks for helpers only in /sbin, where a test must not install
 * one, and the helper links to PREFIX/sbin/fsd, outside the DESTDIR.  So
 * the mount runs in a mount namespace of its own (unshare -m, private
 * propagation) in which DESTDIR/PREFIX is bound over PREFIX and DESTDIR/sbin
 * over /usr/sbin (Debian's /sbin), and everything that needs the mount is
 * done there, in one shell script.  A watchdog kills whatever still names
 * the test's scratch dir (the daemon, in that namespace) when the test ends
 * or hangs; the namespace and its mounts go with the last of them.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREFIX "/usr/local"
#define WATCHDOG_SECONDS 150

TestSuite(install, .timeout = 120);

static struct {
	char root[PATH_MAX]; /* the scratch dir */
	char dest[PATH_MAX]; /* DESTDIR */
	char top[PATH_MAX];  /* the tree */
	char build[PATH_MAX]; /* BUILD, relative to top */
	char policy[16];     /* the test's policy: t<pid>o, loaded or not */
	pid_t watchdog;
	int watchdog_fd;
} I;

/* Kills what names the scratch dir (passed in the environment: sh -c's own args must not). */
static void watchdog(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, WATCHDOG_SECONDS * 1000 * (int)test_time_scale()) < 0 && errno == EINTR)
		;
	setenv("W_ROOT", I.root, 1);
	sh("pkill -TERM -f \"$W_ROOT/\"; sleep 1; pkill -KILL -f \"$W_ROOT/\"");
	test_policy_unload(I.policy);
	_exit(0);
}

/* Runs make TARGET with this build, DESTDIR and ARGS, from the tree; its status, output in out. */
static int make(char *out, size_t size, const char *target, const char *args)
{
	/* -o: install what the build under test holds; never relink it while tests run. */
	return sh_output(out, size,
			 "make -C '%s' --no-print-directory BUILD='%s' -o '%s/fsd' -o '%s/fusebpf' "
			 "DESTDIR='%s' %s %s",
			 I.top, I.build, I.build, I.build, I.dest, args, target);
}

/* The files and links under DESTDIR, sorted, one "path[ -> target]" a line. */
static void dest_files(char *out, size_t size)
{
	cr_assert_eq(sh_output(out, size,
			       "cd '%s' && find . ! -type d \\( -type l -printf '%%P -> %%l\\n' -o "
			       "-printf '%%P\\n' \\) | sort",
			       I.dest),
		     0, "%s", out);
}

/* A scratch dir with a DESTDIR, the tree and the build found, the watchdog started. */
static void inst_setup(void)
{
	char makefile[PATH_MAX], fsd[PATH_MAX], *slash;
	size_t len;
	int pipefd[2];

	memset(&I, 0, sizeof(I));
	snprintf(I.root, sizeof(I.root), "%s/install.XXXXXX", test_tmp());
	cr_assert(mkdtemp(I.root), "mkdtemp %s: %s", I.root, strerror(errno));
	cr_assert(snprintf(I.dest, sizeof(I.dest), "%s/dest", I.root) < (int)sizeof(I.dest));
	cr_assert_eq(mkdir(I.dest, 0755), 0);

	find_above("scripts/man.sh", makefile, sizeof(makefile));
	*strstr(makefile, "/scripts/man.sh") = '\0';
	cr_assert(realpath(makefile, I.top), "%s: %s", makefile, strerror(errno));
	cr_assert(realpath(fsd_bin(), fsd), "%s: %s", fsd_bin(), strerror(errno));
	slash = strrchr(fsd, '/');
	*slash = '\0';
	len = strlen(I.top);
	cr_assert(!strncmp(fsd, I.top, len) && fsd[len] == '/',
		  "the build %s is not in the tree %s", fsd, I.top);
	snprintf(I.build, sizeof(I.build), "%s", fsd + len + 1);
	snprintf(I.policy, sizeof(I.policy), "t%do", (int)getpid() % 10000000);

	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	I.watchdog = fork();
	cr_assert(I.watchdog >= 0);
	if (I.watchdog == 0) {
		close(pipefd[1]);
		watchdog(pipefd[0]);
	}
	close(pipefd[0]);
	I.watchdog_fd = pipefd[1];
}

static void inst_teardown(void)
{
	if (!I.watchdog)
		return;
	close(I.watchdog_fd);
	waitpid(I.watchdog, NULL, 0);
	I.watchdog = 0;
	if (!getenv("FSD_TEST_KEEP"))
		sh("rm -rf '%s'", I.root);
}

/* Writes a file under DESTDIR (what was there before install, which uninstall must keep). */
static void dest_put(const char *rel)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", I.dest, rel);
	cr_assert_eq(sh("mkdir -p \"$(dirname '%s')\"", path), 0);
	put(path, "not ours\n");
}

/* What goes where; the man pages are the --help texts; uninstall removes exactly that. */
Test(install, installs_and_uninstalls_exactly, .fini = inst_teardown)
{
	char out[16384], path[PATH_MAX * 2];
	static const char installed[] =
		"sbin/mount.fuse.fsd -> " PREFIX "/sbin/fsd\n"
		"sbin/mount.other\n"
		"usr/local/include/fusebpf/control.h\n"
		"usr/local/include/fusebpf/filter.h\n"
		"usr/local/include/fusebpf/fuse_ext.h\n"
		"usr/local/include/fusebpf/kernel.h\n"
		"usr/local/include/fusebpf/opcodes.h\n"
		"usr/local/include/fusebpf/policy.bpf.h\n"
		"usr/local/include/other.h\n"
		"usr/local/lib/pkgconfig/fusebpf.pc\n"
		"usr/local/sbin/fsd\n"
		"usr/local/sbin/fusebpf\n"
		"usr/local/sbin/other\n"
		"usr/local/share/man/man8/fsd.8\n"
		"usr/local/share/man/man8/fusebpf.8\n";

	inst_setup();
	dest_put("sbin/mount.other");
	dest_put("usr/local/include/other.h");
	dest_put("usr/local/sbin/other");
	cr_assert_eq(make(out, sizeof(out), "install", ""), 0, "make install: %s", out);
	dest_files(out, sizeof(out));
	cr_assert_str_eq(out, installed);

	/* The programs are the build's, the headers the tree's. */
	cr_assert_eq(sh("cmp -s '%s/%s/fsd' '%s" PREFIX "/sbin/fsd' && "
			"cmp -s '%s/%s/fusebpf' '%s" PREFIX "/sbin/fusebpf' && "
			"cmp -s '%s/include/fusebpf/policy.bpf.h' '%s" PREFIX
			"/include/fusebpf/policy.bpf.h' && "
			"test -x '%s" PREFIX "/sbin/fsd'",
			I.top, I.build, I.dest, I.top, I.build, I.dest, I.top, I.dest, I.dest),
		     0);

	/*
	 * Each man page renders without a warning and holds its program's
	 * --help, line for line (spaces squeezed: man indents and fills them).
	 */
	for (int i = 0; i < 2; i++) {
		const char *prog = i ? "fusebpf" : "fsd";

		snprintf(path, sizeof(path), "%s" PREFIX "/share/man/man8/%s.8", I.dest, prog);
		cr_assert_eq(sh_output(out, sizeof(out), "groff -man -ww -z -Tutf8 '%s'", path), 0,
			     "%s", out);
		cr_assert_str_empty(out, "groff on %s: %s", path, out);
		cr_assert_eq(sh_output(out, sizeof(out),
				       "MANWIDTH=200 man -l '%s' | tr -s ' ' > '%s/page' && "
				       "'%s/%s/%s' --help | sed 1d | tr -s ' ' | grep . | "
				       "while IFS= read -r l; do grep -qxF \" $l\" '%s/page' || "
				       "grep -qxF \"$l\" '%s/page' || "
				       "{ echo \"missing: $l\"; exit 1; }; done",
				       path, I.root, I.top, I.build, prog, I.root, I.root),
			     0, "%s(8) lacks a line of its --help: %s", prog, out);
	}
	cr_assert_eq(sh("MANWIDTH=200 man -l '%s" PREFIX "/share/man/man8/fsd.8' | "
			"grep -q '^ *fsd \\[options\\] BACKING_DIR MOUNTPOINT$'",
			I.dest),
		     0, "fsd(8) has no SYNOPSIS of fsd");

	/* Another PREFIX's uninstall leaves this one's helper. */
	cr_assert_eq(make(out, sizeof(out), "uninstall", "PREFIX=/opt/elsewhere"), 0, "%s", out);
	dest_files(out, sizeof(out));
	cr_assert_str_eq(out, installed);

	cr_assert_eq(make(out, sizeof(out), "uninstall", ""), 0, "make uninstall: %s", out);
	dest_files(out, sizeof(out));
	cr_assert_str_eq(out, "sbin/mount.other\n"
			      "usr/local/include/other.h\n"
			      "usr/local/sbin/other\n");
	snprintf(path, sizeof(path), "%s" PREFIX "/include/fusebpf", I.dest);
	cr_assert_neq(access(path, F_OK), 0, "%s is left", path);
}

/* A policy outside the tree: hides names that start with 's'. */
static const char policy_src[] = "#include <fusebpf/policy.bpf.h>\n"
				 "\n"
				 "FUSEBPF_POLICY(\"outside\");\n"
				 "\n"
				 "FUSEBPF_PREFILTER(lookup)\n"
				 "{\n"
				 "\treturn ctx->name[0] == 's' ? -ENOENT : FUSEBPF_CONTINUE;\n"
				 "}\n";

/*
 * Built with the installed `fusebpf build` and with fusebpf.pc's clang line
 * (the same object), loaded with the installed fusebpf, mounted through the
 * installed helper by mount -t fuse.fsd: the mount is fsd's, runs the
 * policy, and umount ends the daemon.
 */
Test(install, builds_loads_and_mounts_from_outside_the_tree, .fini = inst_teardown)
{
	char out[16384], src[PATH_MAX + 32], backing[PATH_MAX + 32], mnt[PATH_MAX + 32];
	char path[PATH_MAX + 64], san[PATH_MAX * 2], daemon_ops[256], kernel_ops[256], want[32];

	inst_setup();
	cr_assert_eq(make(out, sizeof(out), "install", ""), 0, "make install: %s", out);

	/* The policy, in a dir of its own: only the installed headers are there to include. */
	snprintf(src, sizeof(src), "%s/src", I.root);
	cr_assert_eq(mkdir(src, 0755), 0);
	snprintf(path, sizeof(path), "%s/outside.bpf.c", src);
	put(path, policy_src);
	cr_assert_eq(sh_output(out, sizeof(out),
			       "cd '%s' && '%s" PREFIX "/sbin/fusebpf' build outside.bpf.c", src,
			       I.dest),
		     0, "fusebpf build: %s", out);
	/* And its kernel-mode build, with a struct_ops member for its LOOKUP filter. */
	snprintf(path, sizeof(path), "%s/outside.bpf.o", src);
	policy_object_ops(path, false, daemon_ops, sizeof(daemon_ops));
	snprintf(path, sizeof(path), "%s/kernel/outside.bpf.o", src);
	policy_object_ops(path, true, kernel_ops, sizeof(kernel_ops));
	cr_assert_str_eq(daemon_ops, "lookup,");
	cr_assert_str_eq(kernel_ops, daemon_ops);
	cr_assert_eq(sh_output(out, sizeof(out),
			       "cd '%s' && clang $(PKG_CONFIG_PATH='%s" PREFIX "/lib/pkgconfig' "
			       "pkg-config --define-prefix --variable=bpf_cflags fusebpf) "
			       "-c outside.bpf.c -o pc.bpf.o && cmp outside.bpf.o pc.bpf.o",
			       src, I.dest),
		     0, "fusebpf.pc's clang line: %s", out);

	cr_assert_eq(sh_output(out, sizeof(out),
			       "'%s" PREFIX "/sbin/fusebpf' load '%s/outside.bpf.o' --name %s",
			       I.dest, src, I.policy),
		     0, "fusebpf load: %s", out);

	snprintf(backing, sizeof(backing), "%s/backing", I.root);
	snprintf(mnt, sizeof(mnt), "%s/mnt", I.root);
	cr_assert(mkdir(backing, 0755) == 0 && mkdir(mnt, 0755) == 0);
	snprintf(path, sizeof(path), "%s/visible", backing);
	put(path, "hello\n");
	snprintf(path, sizeof(path), "%s/secret", backing);
	put(path, "hidden\n");

	/* Under make asan, the daemon's sanitizer reports go to files here (it logs to syslog). */
	snprintf(san, sizeof(san), "%s%slog_path=%s/san", getenv("ASAN_OPTIONS") ?: "",
		 getenv("ASAN_OPTIONS") ? ":" : "", I.root);
	setenv("ASAN_OPTIONS", san, 1);
	setenv("I_DEST", I.dest, 1);
	setenv("I_BACKING", backing, 1);
	setenv("I_MNT", mnt, 1);
	setenv("I_POLICY", I.policy, 1);
	cr_assert_eq(sh_output(out, sizeof(out),
			       "timeout -k 5 %u unshare -m sh -ec '"
			       "mount --bind \"$I_DEST" PREFIX "\" " PREFIX "; "
			       "mount --bind \"$I_DEST/sbin\" /usr/sbin; "
			       "trap \"umount -l \\\"$I_MNT\\\" 2>/dev/null || true\" EXIT; "
			       "echo helper $(readlink /sbin/mount.fuse.fsd); "
			       "mount -t fuse.fsd -o policy=$I_POLICY,fsname=installed "
			       "\"$I_BACKING\" \"$I_MNT\"; "
			       "grep \" $I_MNT \" /proc/self/mounts; "
			       "ls \"$I_MNT\"; "
			       "cat \"$I_MNT/visible\"; "
			       "test ! -e \"$I_MNT/secret\"; "
			       "test -e \"$I_BACKING/secret\"; "
			       PREFIX "/sbin/fsd --stats \"$I_MNT\" | grep \"^root_policy \"; "
			       "umount \"$I_MNT\"; "
			       "echo unmounted'",
			       60 * test_time_scale()),
		     0, "mount -t fuse.fsd through the installed helper: %s", out);
	cr_assert(strstr(out, "helper " PREFIX "/sbin/fsd\n"), "%s", out);
	cr_assert(strstr(out, "installed "), "%s", out);
	snprintf(want, sizeof(want), " %s.fsd rw,", fsd_fstype());
	cr_assert(strstr(strstr(out, "installed "), want), "not fsd's mount: %s", out);
	cr_assert(strstr(out, "\nvisible\nhello\n"), "the listing hides secret: %s", out);
	snprintf(path, sizeof(path), "\nroot_policy %s\n", I.policy);
	cr_assert(strstr(out, path), "the mount runs another policy: %s", out);
	cr_assert(strstr(out, "\nunmounted\n"), "%s", out);

	/* The daemon, in the namespace, exits after the unmount. */
	setenv("W_ROOT", I.root, 1);
	cr_assert_eq(sh("for i in $(seq %u); do pgrep -f \"$W_ROOT/\" >/dev/null || exit 0; "
			"sleep 0.1; done; exit 1",
			50 * test_time_scale()),
		     0, "the installed fsd did not exit after umount");
	cr_assert_neq(sh("grep -qsE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '%s'/san.*",
			 I.root),
		      0, "the daemon's sanitizer report: see %s/san.*", I.root);

	cr_assert_eq(sh_output(out, sizeof(out), "'%s" PREFIX "/sbin/fusebpf' unload %s", I.dest,
			       I.policy),
		     0, "fusebpf unload: %s", out);
}
