// SPDX-License-Identifier: MIT
/*
 * What a user other than root must not be able to steer through the
 * directories and the socket that root's tools and daemons trust: pin
 * directories owned by another uid or writable by group or others are
 * refused by `fusebpf load`, by fsd and by the tools that open pinned maps,
 * with a message naming the directory; the control socket answers only
 * root, the daemon's uid and CAP_SYS_ADMIN, whatever its file's mode.
 *
 * Per-policy directories are tested on the real bpffs under the test's own
 * policy name, so tests running alongside see nothing; /sys/fs/bpf and
 * /sys/fs/bpf/fusebpf themselves are tested in a mount namespace of the
 * test's own, on a bpffs of its own mounted there.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define OTHER_UID 10099

static char pol[16];
static char pin_dir[64]; /* /sys/fs/bpf/fusebpf/<pol> */

/* Whatever a test changed goes back to root's before the policy is unloaded. */
static void hardening_fini(void)
{
	mnt_teardown();
	if (pol[0]) {
		sh("chown -R 0:0 '%s' 2>/dev/null; chmod 0700 '%s' '%s/maps' '%s/progs' "
		   "2>/dev/null", pin_dir, pin_dir, pin_dir, pin_dir);
		test_policy_unload(pol);
	}
}

TestSuite(hardening, .fini = hardening_fini, .timeout = 120);

static void policy_load(void)
{
	test_policy_load("hide", "hd", pol);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/fusebpf/%s", pol);
}

/* Runs fsd -f -o policy=POL on scratch dirs; its exit status, its output in out. */
static int fsd_with_policy(char *out, size_t size)
{
	char dir[PATH_MAX];
	int status;

	snprintf(dir, sizeof(dir), "%s/hardening.XXXXXX", test_tmp());
	cr_assert(mkdtemp(dir));
	cr_assert_eq(sh("mkdir '%s/b' '%s/m'", dir, dir), 0);
	/* Refused before mounting; the timeout only bounds a daemon that would not be. */
	status = sh_output(out, size, "timeout 10 '%s' -f -o policy=%s '%s/b' '%s/m'", fsd_bin(),
			   pol, dir, dir);
	sh("umount -l '%s/m' 2>/dev/null; rm -rf '%s'", dir, dir);
	return status;
}

/* `fusebpf ARGS` fails and says words. */
static void tool_refuses(const char *args, const char *words)
{
	char out[8192];
	int status = fusebpf(out, sizeof(out), "%s", args);

	cr_assert_neq(status, 0, "fusebpf %s succeeded: %s", args, out);
	cr_assert(strstr(out, words), "fusebpf %s: no '%s' in: %s", args, words, out);
}

/* Everything that opens the policy's pins refuses it, with words. */
static void everything_refuses(const char *words)
{
	char args[128], out[8192];

	snprintf(args, sizeof(args), "load hide --name %s", pol);
	tool_refuses(args, words);
	snprintf(args, sizeof(args), "show %s", pol);
	tool_refuses(args, words);
	snprintf(args, sizeof(args), "media --policy %s apps", pol);
	tool_refuses(args, words);
	snprintf(args, sizeof(args), "unload %s", pol);
	tool_refuses(args, words);
	cr_assert_eq(fsd_with_policy(out, sizeof(out)), 1, "fsd was not refused: %s", out);
	cr_assert(strstr(out, words), "fsd: no '%s' in: %s", words, out);
}

Test(hardening, a_policy_directory_of_another_uid_is_refused_by_the_tool_and_fsd)
{
	char words[160], out[8192];

	policy_load();
	cr_assert_eq(chown(pin_dir, OTHER_UID, OTHER_UID), 0);
	snprintf(words, sizeof(words), "%s: owned by uid %d, not root; refusing it", pin_dir,
		 OTHER_UID);
	everything_refuses(words);
	/* Its maps/ alone is enough. */
	cr_assert_eq(chown(pin_dir, 0, 0), 0);
	cr_assert_eq(sh("chown %d '%s/maps'", OTHER_UID, pin_dir), 0);
	snprintf(words, sizeof(words), "%s/maps: owned by uid %d, not root", pin_dir, OTHER_UID);
	everything_refuses(words);
	/* root's again: used again. */
	cr_assert_eq(sh("chown 0 '%s/maps'", pin_dir), 0);
	cr_assert_eq(fusebpf(out, sizeof(out), "load hide --name %s", pol), 0, "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "show %s", pol), 0, "%s", out);
}

Test(hardening, a_policy_directory_others_or_the_group_can_write_is_refused)
{
	char words[160], out[8192];

	policy_load();
	cr_assert_eq(sh("chmod o+w '%s/maps'", pin_dir), 0);
	snprintf(words, sizeof(words), "%s/maps: writable by others (mode 0702); refusing it",
		 pin_dir);
	everything_refuses(words);
	cr_assert_eq(sh("chmod 0700 '%s/maps' && chmod g+w '%s/progs'", pin_dir, pin_dir), 0);
	snprintf(words, sizeof(words), "%s/progs: writable by group (mode 0720); refusing it",
		 pin_dir);
	everything_refuses(words);
	cr_assert_eq(sh("chmod 0700 '%s/progs' && chmod 0777 '%s'", pin_dir, pin_dir), 0);
	snprintf(words, sizeof(words), "%s: writable by group and others (mode 0777)", pin_dir);
	everything_refuses(words);
	/* 0755 is root's alone too. */
	cr_assert_eq(chmod(pin_dir, 0755), 0);
	cr_assert_eq(fusebpf(out, sizeof(out), "load hide --name %s", pol), 0, "%s", out);
	cr_assert_eq(fusebpf(out, sizeof(out), "media --policy %s apps", pol), 1, "%s", out);
	cr_assert(strstr(out, "has no map"), "%s", out); /* hide's maps are not media's */
}

static void control_socket_path(char *path, size_t size)
{
	struct stat st;

	cr_assert_eq(stat(M.dir, &st), 0);
	snprintf(path, size, "/run/fusebpf/fsd-%llu.sock", (unsigned long long)st.st_dev);
}

/*
 * Sends command (a line) to the control socket at path and reads the
 * answer to its end; 0, or -errno if it could not connect or send.  Plain
 * calls: the clients of other uids run it in a child.
 */
static int control_ask(const char *path, const char *command, char *reply, size_t size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t used = 0, len = strlen(command);
	ssize_t n;
	int fd, err = 0;

	reply[0] = '\0';
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    send(fd, command, len, MSG_NOSIGNAL) != (ssize_t)len)
		err = -errno;
	while (!err && used + 1 < size && (n = read(fd, reply + used, size - used - 1)) > 0)
		used += n;
	reply[used] = '\0';
	close(fd);
	return err;
}

/* A reload a running daemon is told of is refused by it too, and its version stays. */
Test(hardening, a_running_daemon_keeps_its_version_when_the_directory_turns_bad)
{
	char opts[64], path[128], reply[4096];

	policy_load();
	snprintf(opts, sizeof(opts), "policy=%s", pol);
	start(opts);
	cr_assert_eq(chown(pin_dir, OTHER_UID, 0), 0);
	/* What `fusebpf load` tells the daemons after a load (which is refused first now). */
	control_socket_path(path, sizeof(path));
	snprintf(opts, sizeof(opts), "reload %s\n", pol);
	cr_assert_eq(control_ask(path, opts, reply, sizeof(reply)), 0);
	cr_assert_str_eq(reply, "error Operation not permitted\n");
	cr_assert_eq(sh("grep -q 'policy %s: %s: owned by uid %d, not root; refusing it' '%s'", pol,
			pin_dir, OTHER_UID, M.log),
		     0, "the daemon did not log the refusal");
	cr_assert_eq(control_ask(path, "stats\n", reply, sizeof(reply)), 0);
	/* Under fusebpf.ko the kernel holds the policy's versions. */
	snprintf(opts, sizeof(opts), mnt_in_kernel(&M) ? "\npolicy.%s in the kernel\n" :
							"\npolicy.%s version 1\n", pol);
	cr_assert(strstr(reply, opts), "the version in force changed: %s", reply);
	cr_assert_eq(chown(pin_dir, 0, 0), 0);
}

/*
 * /sys/fs/bpf and /sys/fs/bpf/fusebpf, on a bpffs of the test's own in a
 * mount namespace of its own: a script run by unshare(1).
 */
static int in_private_bpffs(char *out, size_t size, const char *script)
{
	return sh_output(out, size,
			 "unshare --mount --propagation private sh -ec '"
			 "mount -t bpf -o mode=0700 bpf /sys/fs/bpf; F=\"%s\"; P=%s; %s'",
			 fusebpf_bin(), pol, script);
}

Test(hardening, the_pin_root_and_bpffs_are_checked_in_a_private_namespace)
{
	char out[8192];

	if (sh("unshare --mount true 2>/dev/null") != 0)
		cr_skip_test("no mount namespaces here");
	snprintf(pol, sizeof(pol), "t%dns", (int)getpid() % 10000000);
	/* Made by another user before root's first load. */
	cr_assert_eq(in_private_bpffs(out, sizeof(out),
				      "mkdir /sys/fs/bpf/fusebpf; chown 10099 /sys/fs/bpf/fusebpf; "
				      "! $F load hide --name $P"),
		     0, "%s", out);
	cr_assert(strstr(out, "fusebpf load: /sys/fs/bpf/fusebpf: owned by uid 10099, not root; "
			      "refusing it"), "%s", out);
	cr_assert_eq(in_private_bpffs(out, sizeof(out),
				      "mkdir -m 0777 /sys/fs/bpf/fusebpf; ! $F load hide --name $P; "
				      "! $F list"),
		     0, "%s", out);
	cr_assert(strstr(out, "/sys/fs/bpf/fusebpf: writable by group and others (mode 0777)"),
		  "%s", out);
	cr_assert_eq(in_private_bpffs(out, sizeof(out),
				      "chown 10099 /sys/fs/bpf; ! $F load hide --name $P"),
		     0, "%s", out);
	cr_assert(strstr(out, "/sys/fs/bpf: owned by uid 10099, not root"), "%s", out);
	cr_assert_eq(in_private_bpffs(out, sizeof(out),
				      "ln -s /tmp /sys/fs/bpf/fusebpf; ! $F load hide --name $P"),
		     0, "%s", out);
	cr_assert(strstr(out, "/sys/fs/bpf/fusebpf: a symlink or not a directory"), "%s", out);
	/* bpffs's default 1777 root is fine: others can add names there, not take root's. */
	cr_assert_eq(in_private_bpffs(out, sizeof(out),
				      "chmod 1777 /sys/fs/bpf; $F load hide --name $P; "
				      "stat -c %a /sys/fs/bpf/fusebpf; $F unload $P"),
		     0, "%s", out);
	cr_assert(strstr(out, "\n700\n"), "the loader's own directory is 0700: %s", out);
	/* Nothing of it reached the real bpffs. */
	cr_assert_neq(sh("test -e /sys/fs/bpf/fusebpf/%s", pol), 0);
	pol[0] = '\0';
}

/* ---- the control socket ---- */

enum client_kind {
	CLIENT_UID, /* an ordinary uid */
	CLIENT_CAP, /* the same uid, with CAP_SYS_ADMIN */
	CLIENT_USERNS, /* the same uid, root in a user namespace of its own */
};

/*
 * Connects to path as OTHER_UID and sends "stats"; its exit status: 0 with
 * the answer in reply, 10 if it could not connect, 20 if it could not
 * become what kind asks (skip).
 */
static int client_run(enum client_kind kind, const char *path, char *reply, size_t size)
{
	int pipefd[2], status;
	ssize_t n, used = 0;
	pid_t pid;

	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct caps[2] = {};
		char buf[16384];

		close(pipefd[0]);
		if (kind == CLIENT_CAP && prctl(PR_SET_KEEPCAPS, 1) < 0)
			_exit(20);
		if (setgroups(0, NULL) || setresgid(OTHER_UID, OTHER_UID, OTHER_UID) ||
		    setresuid(OTHER_UID, OTHER_UID, OTHER_UID))
			_exit(20);
		if (kind == CLIENT_CAP) {
			caps[CAP_TO_INDEX(CAP_SYS_ADMIN)].permitted = CAP_TO_MASK(CAP_SYS_ADMIN);
			caps[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective = CAP_TO_MASK(CAP_SYS_ADMIN);
			if (syscall(SYS_capset, &hdr, caps) < 0)
				_exit(20);
		}
		if (kind == CLIENT_USERNS && unshare(CLONE_NEWUSER) < 0)
			_exit(20);
		if (control_ask(path, "stats\n", buf, sizeof(buf)))
			_exit(10);
		n = strlen(buf);
		_exit(write(pipefd[1], buf, n) == n ? 0 : 12);
	}
	close(pipefd[1]);
	while (used + 1 < (ssize_t)size && (n = read(pipefd[0], reply + used, size - used - 1)) > 0)
		used += n;
	reply[used] = '\0';
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* Whether the kernel can pin a socket's peer with a pidfd (Linux 6.5). */
static bool kernel_has_peerpidfd(void)
{
	socklen_t len = sizeof(int);
	int sv[2], pidfd, ok;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ok = getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0;
	if (ok)
		close(pidfd);
	close(sv[0]);
	close(sv[1]);
	return ok;
}

/*
 * Without SO_PEERPIDFD fsd cannot check a peer's capabilities safely (the
 * pid may be reused), so it lets in root and its own uid only, and says why.
 */
static void assert_refused_without_peerpidfd(const char *reply)
{
	cr_assert(strstr(reply, "error permission denied") &&
			  strstr(reply, "this kernel has no SO_PEERPIDFD"),
		  "answer: %s", reply);
}

Test(hardening, the_control_socket_answers_only_root_and_cap_sys_admin)
{
	bool peerpidfd = kernel_has_peerpidfd();

	char path[128], reply[16384], words[128];
	struct stat st;
	int status;

	start(NULL);
	control_socket_path(path, sizeof(path));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "socket mode %o", st.st_mode & 0777);
	cr_assert_eq(stat("/run/fusebpf", &st), 0);
	cr_assert(st.st_uid == 0 && !(st.st_mode & 022));
	/* The mode keeps it out first. */
	cr_assert_eq(client_run(CLIENT_UID, path, reply, sizeof(reply)), 10, "%s", reply);

	/* With the mode relaxed, the peer's credentials still do. */
	cr_assert_eq(chmod(path, 0666), 0);
	status = client_run(CLIENT_UID, path, reply, sizeof(reply));
	cr_assert_eq(status, 0);
	snprintf(words, sizeof(words), "error permission denied: uid %d (pid ", OTHER_UID);
	cr_assert(!strncmp(reply, words, strlen(words)), "answer: %s", reply);
	if (peerpidfd)
		cr_assert(strstr(reply, "is not root and has no CAP_SYS_ADMIN"), "answer: %s", reply);
	else
		assert_refused_without_peerpidfd(reply);
	cr_assert_eq(strchr(reply, '\n'), reply + strlen(reply) - 1, "one line: %s", reply);
	cr_assert(!strstr(reply, "nodes "), "stats given away: %s", reply);
	cr_assert_eq(sh("grep -q 'control socket: refused a client: uid %d' '%s'", OTHER_UID, M.log),
		     0, "the daemon did not log it");

	/* Root in a user namespace of its own has CAP_SYS_ADMIN only there. */
	status = client_run(CLIENT_USERNS, path, reply, sizeof(reply));
	if (status != 20) {
		cr_assert_eq(status, 0);
		if (peerpidfd)
			cr_assert(strstr(reply, "error permission denied") &&
					  strstr(reply, "another user namespace"),
				  "answer: %s", reply);
		else
			assert_refused_without_peerpidfd(reply);
	}

	/* CAP_SYS_ADMIN in the daemon's namespace is let in, where the kernel can pin it. */
	status = client_run(CLIENT_CAP, path, reply, sizeof(reply));
	cr_assert_eq(status, 0);
	if (peerpidfd)
		cr_assert(strstr(reply, "\nnodes "), "answer: %s", reply);
	else
		assert_refused_without_peerpidfd(reply);

	/* And root, of course: fsd --stats and fusebpf stats. */
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_geq(mnt_stat(&M, "nodes"), 1);
	cr_assert_eq(sh("'%s' stats '%s' | grep -q '^mount '", fusebpf_bin(), M.dir), 0);
}
