// SPDX-License-Identifier: MIT
/*
 * fsd --dev-fd: the daemon serves a connection it was given, the simulated
 * kernel's socket, with the same request loop as /dev/fuse.  Covers the end
 * of the session (the peer closes, with or without replies unread), several
 * workers reading one socket, a daemon run as an ordinary user, and the
 * connections it refuses.
 */
#define _GNU_SOURCE
#include "wire.h"
#include "../integration/fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(wire, .fini = wire_teardown, .timeout = 60);

Test(wire, serves_and_exits_when_the_kernel_closes)
{
	wire_setup();
	expect_alive();
	cr_assert_eq(wire_stop(), 0, "fsd must exit 0 when the connection ends");
}

Test(wire, exits_when_closed_before_init)
{
	wire_setup_no_init();
	cr_assert_eq(wire_stop(), 0);
}

/* Replies still queued when the kernel's end goes: fsd still ends cleanly. */
Test(wire, exits_when_closed_with_replies_unread)
{
	wire_setup();
	for (int i = 0; i < 32; i++)
		send_getattr(FUSE_ROOT_ID);
	close(W.fd);
	W.fd = -1;
	cr_assert_eq(wire_stop(), 0);
}

/* A full transcript through open files and directories, as the kernel would send it. */
static void session_exercise(void)
{
	struct fuse_entry_out d;
	uint64_t f, fh, dh, u;
	const char *p;
	struct stat st;

	d = expect_entry(send_mkdir(FUSE_ROOT_ID, "dir", 0755));
	cr_assert_eq(stat(wire_path("dir"), &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(d.attr.ino, st.st_ino);

	u = send_create(d.nodeid, "f", O_RDWR | O_CREAT, 0644);
	p = expect_reply(u, 0, sizeof(struct fuse_entry_out) + sizeof(struct fusebpf_open_out));
	f = ((const struct fuse_entry_out *)p)->nodeid;
	fh = ((const struct fusebpf_open_out *)(p + sizeof(struct fuse_entry_out)))->fh;
	u = send_write(f, fh, 0, "hello wire", 10);
	p = expect_reply(u, 0, sizeof(struct fuse_write_out));
	cr_assert_eq(((const struct fuse_write_out *)p)->size, 10);
	p = expect_reply(send_read(f, fh, 6, 100), 0, 4);
	cr_assert_eq(memcmp(p, "wire", 4), 0);
	expect_error(send_release(FUSE_RELEASE, f, fh), 0);

	dh = expect_open(send_opendir(d.nodeid));
	p = expect_reply(send_readdir(FUSE_READDIR, d.nodeid, dh, 0, 4096), 0, WIRE_ANY_LEN);
	cr_assert(memmem(p, reply_arg_len(), "f", 1), "READDIR does not list f");
	expect_error(send_release(FUSE_RELEASEDIR, d.nodeid, dh), 0);

	send_forget(f, 1);
	send_forget(d.nodeid, 1);
	expect_alive();
	expect_error(send_getattr(f), -ESTALE);
}

Test(wire, full_session)
{
	wire_setup();
	session_exercise();
}

/*
 * No root needed: the daemon runs as an ordinary user (nobody, when the
 * suite runs as root; the suite's own user otherwise).
 */
Test(wire, runs_as_an_ordinary_user)
{
	wire_start(NULL, 65534);
	wire_init();
	session_exercise();
	if (geteuid() == 0) {
		struct stat st;

		cr_assert_eq(stat(wire_path("dir/f"), &st), 0);
		cr_assert_eq(st.st_uid, 65534, "created by uid %u, not the daemon's user",
			     st.st_uid);
	}
}

/*
 * Several workers read the same socket (one message goes to one reader):
 * many requests in flight, each answered once, with its own unique.
 */
Test(wire, several_workers_share_the_socket)
{
	enum { N = 400 };
	static bool seen[N];
	uint64_t first;

	WIRE_START("--threads", "4");
	wire_init();
	cr_assert_eq(mkdir(wire_path("d"), 0755), 0);
	first = W.unique + 2;
	for (int i = 0; i < N; i++) {
		if (i % 2)
			send_getattr(FUSE_ROOT_ID);
		else
			send_lookup(FUSE_ROOT_ID, i % 4 ? "d" : "missing");
	}
	/* Any order: each reply must answer one request of ours, once. */
	for (int i = 0; i < N; i++) {
		const struct fuse_out_header *out = reply_next();
		uint64_t idx = (out->unique - first) / 2;

		cr_assert_eq(out->error, 0, "unique %llu: error %d",
			     (unsigned long long)out->unique, out->error);
		cr_assert(idx < N && !seen[idx], "unique %llu answered twice or never asked",
			  (unsigned long long)out->unique);
		seen[idx] = true;
	}
	expect_alive();
}

/* A byte stream would run requests together: refused before anything is served. */
Test(wire, refuses_a_stream_socket)
{
	int sv[2], status;
	pid_t pid;
	char dir[] = "/tmp/fsd-wire-stream.XXXXXX";

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		const char *fsd = fsd_bin();
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		dup2(sv[1], 3);
		execl(fsd, fsd, "--dev-fd", "3", dir, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x", status);
	close(sv[0]);
	rmdir(dir);
}
