// SPDX-License-Identifier: MIT
/*
 * Hostile input from the simulated kernel: every malformed request gets an
 * error reply, or none where the protocol has none, and the daemon keeps
 * serving (every test ends with expect_alive).
 *
 * Covered: truncated headers, hdr.len disagreeing with the bytes read,
 * total_extlen past the end, names without NUL or past NAME_MAX, PATH_MAX
 * and XATTR_NAME_MAX, names that are not one component, unknown opcodes,
 * INTERRUPT and NOTIFY_REPLY for uniques nobody knows, unique 0, FORGET and
 * BATCH_FORGET of unknown nodes and with counts past the payload, nodeid 0,
 * handles used after their release, absurd READ/WRITE/xattr/copy sizes, a
 * READDIRPLUS whose nodeid is not its handle's, a message larger than the
 * request buffer, and a sweep of every opcode with every body length.
 *
 * The empty message is not sent: on a socket it reads as the end of the
 * connection, and /dev/fuse never delivers one.
 */
#define _GNU_SOURCE
#include "wire.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(wire_hostile, .init = wire_setup, .fini = wire_teardown, .timeout = 120);

/* Entries in the backing root, to prove a refused request created nothing. */
static int backing_entries(void)
{
	DIR *d = opendir(W.backing);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void put_file(const char *rel, const char *text)
{
	int fd = open(wire_path(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "creating %s: %s", rel, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* CREATE that must succeed: the node, and the handle in *fh. */
static uint64_t create_ok(uint64_t parent, const char *name, uint64_t *fh)
{
	const char *p = expect_reply(send_create(parent, name, O_RDWR | O_CREAT, 0644), 0,
				     sizeof(struct fuse_entry_out) +
					     sizeof(struct fusebpf_open_out));

	*fh = ((const struct fusebpf_open_out *)(p + sizeof(struct fuse_entry_out)))->fh;
	return ((const struct fuse_entry_out *)p)->nodeid;
}

/* Without a whole header there is no unique to answer: dropped, silently. */
Test(wire_hostile, truncated_headers_dropped)
{
	struct fuse_getattr_in in = { 0 };

	for (size_t n = 1; n < sizeof(struct fuse_in_header); n++) {
		req_begin(FUSE_GETATTR, FUSE_ROOT_ID);
		REQ_PUT(in);
		req_send_truncated(n);
	}
	/* With one worker, a reply to any of them would come before this one. */
	expect_alive();
}

/* hdr.len must be the bytes read: more, less, or nonsense is EINVAL. */
Test(wire_hostile, header_len_disagrees_with_message)
{
	static const int64_t deltas[] = { 1, 8, 4096, -1, -8, -16 };
	struct fuse_getattr_in in = { 0 };

	for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		req_begin(FUSE_GETATTR, FUSE_ROOT_ID);
		REQ_PUT(in);
		req_forge_len(req_len() + deltas[i]);
		expect_error(req_send(), -EINVAL);
	}
	static const uint32_t absurd[] = { 0, 39, 40, 0xffffffffu };
	for (size_t i = 0; i < sizeof(absurd) / sizeof(absurd[0]); i++) {
		req_begin(FUSE_GETATTR, FUSE_ROOT_ID);
		REQ_PUT(in);
		req_forge_len(absurd[i]);
		expect_error(req_send(), -EINVAL);
	}
	expect_alive();
}

/* Extensions are counted in 8-byte units from the end; past the start is EINVAL. */
Test(wire_hostile, total_extlen)
{
	struct fuse_getattr_in in = { 0 };
	const char ext[8] = "extbytes";

	req_begin(FUSE_GETATTR, FUSE_ROOT_ID);
	REQ_PUT(in);
	req_hdr()->total_extlen = 0xffff;
	expect_error(req_send(), -EINVAL);

	/* Room for the extension but not for the fixed struct before it. */
	req_begin(FUSE_GETATTR, FUSE_ROOT_ID);
	REQ_PUT(in);
	req_hdr()->total_extlen = 2;
	expect_error(req_send(), -EINVAL);

	/* An extension after a whole request is skipped (none is negotiated). */
	req_begin(FUSE_GETATTR, FUSE_ROOT_ID);
	REQ_PUT(in);
	REQ_PUT(ext);
	req_hdr()->total_extlen = 1;
	expect_reply(req_send(), 0, sizeof(struct fuse_attr_out));

	/* A name whose only NUL lies in the extension has none. */
	put_file("abcdefg", "x");
	req_begin(FUSE_LOOKUP, FUSE_ROOT_ID);
	req_put("abcdefg", 7);
	req_put("\0\0\0\0\0\0\0\0", 8);
	req_hdr()->total_extlen = 1;
	expect_error(req_send(), -EINVAL);
	expect_alive();
}

/* A name without its NUL, for every opcode that takes one. */
Test(wire_hostile, names_without_nul)
{
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_create_in cr = { .flags = O_RDWR, .mode = 0644 };
	struct fuse_mknod_in mn = { .mode = S_IFREG | 0644 };
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	struct fuse_link_in ln = { .oldnodeid = FUSE_ROOT_ID };
	int before;

	put_file("abc", "x");
	before = backing_entries();

	req_begin(FUSE_LOOKUP, FUSE_ROOT_ID);
	req_put("abc", 3);
	expect_error(req_send(), -EINVAL);
	req_begin(FUSE_MKDIR, FUSE_ROOT_ID);
	REQ_PUT(mk);
	req_put("new", 3);
	expect_error(req_send(), -EINVAL);
	req_begin(FUSE_CREATE, FUSE_ROOT_ID);
	REQ_PUT(cr);
	req_put("new", 3);
	expect_error(req_send(), -EINVAL);
	req_begin(FUSE_MKNOD, FUSE_ROOT_ID);
	REQ_PUT(mn);
	req_put("new", 3);
	expect_error(req_send(), -EINVAL);
	req_begin(FUSE_UNLINK, FUSE_ROOT_ID);
	req_put("abc", 3);
	expect_error(req_send(), -EINVAL);
	req_begin(FUSE_SYMLINK, FUSE_ROOT_ID);
	req_put("new\0target", 10); /* the target's NUL is missing */
	expect_error(req_send(), -EINVAL);
	req_begin(FUSE_RENAME, FUSE_ROOT_ID);
	REQ_PUT(rn);
	req_put("abc\0new", 7); /* the second name's NUL is missing */
	expect_error(req_send(), -EINVAL);
	req_begin(FUSE_LINK, FUSE_ROOT_ID);
	REQ_PUT(ln);
	req_put("new", 3);
	expect_error(req_send(), -EINVAL);
	req_begin(FUSE_GETXATTR, FUSE_ROOT_ID);
	{
		struct fuse_getxattr_in gx = { .size = 64 };

		REQ_PUT(gx);
	}
	req_put("user.x", 6);
	expect_error(req_send(), -EINVAL);

	cr_assert_eq(backing_entries(), before, "a refused request changed the backing dir");
	cr_assert_eq(access(wire_path("abc"), F_OK), 0);
	expect_alive();
}

/* Names that are not one path component; names and targets past their limits. */
Test(wire_hostile, names_out_of_bounds)
{
	static const char *const bad[] = { "", ".", "..", "a/b", "/", "a/" };
	char name[NAME_MAX + 2], *target, xname[XATTR_NAME_MAX + 2];
	int before = backing_entries();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_error(send_lookup(FUSE_ROOT_ID, bad[i]), -EINVAL);
		expect_error(send_mkdir(FUSE_ROOT_ID, bad[i], 0755), -EINVAL);
		expect_error(send_create(FUSE_ROOT_ID, bad[i], O_RDWR, 0644), -EINVAL);
	}
	memset(name, 'n', sizeof(name));
	name[NAME_MAX + 1] = '\0'; /* NAME_MAX + 1 bytes */
	expect_error(send_lookup(FUSE_ROOT_ID, name), -ENAMETOOLONG);
	expect_error(send_mkdir(FUSE_ROOT_ID, name, 0755), -ENAMETOOLONG);
	name[NAME_MAX] = '\0'; /* the longest name */
	expect_entry(send_mkdir(FUSE_ROOT_ID, name, 0755));
	before++;

	/* A symlink target of PATH_MAX bytes does not fit with its NUL. */
	target = malloc(PATH_MAX + 1);
	cr_assert_not_null(target);
	memset(target, 't', PATH_MAX);
	target[PATH_MAX] = '\0';
	req_begin(FUSE_SYMLINK, FUSE_ROOT_ID);
	req_str("link");
	req_str(target);
	expect_error(req_send(), -ENAMETOOLONG);
	free(target);

	memset(xname, 'x', sizeof(xname));
	memcpy(xname, "user.", 5);
	xname[XATTR_NAME_MAX + 1] = '\0';
	expect_error(send_getxattr(FUSE_ROOT_ID, xname, 64), -ERANGE);
	expect_error(send_setxattr(FUSE_ROOT_ID, xname, "v", 1), -ERANGE);
	expect_error(send_getxattr(FUSE_ROOT_ID, "", 64), -EINVAL);

	cr_assert_eq(backing_entries(), before, "a refused request changed the backing dir");
	expect_alive();
}

/* Opcodes without a row, never defined or not served: ENOSYS. */
Test(wire_hostile, unknown_opcodes_enosys)
{
	static const uint32_t ops[] = {
		0, 7, 19, FUSE_GETLK, FUSE_SETLK, FUSE_SETLKW, FUSE_BMAP, FUSE_IOCTL, FUSE_POLL,
		FUSE_SETUPMAPPING, FUSE_REMOVEMAPPING, FUSE_SYNCFS,
		53, /* 7.45's COPY_FILE_RANGE_64: the kernel falls back to 47 on ENOSYS */
		63, 64, 4096 /* CUSE_INIT */, 0xffffffffu,
		/* FUSE_INIT byte-swapped gets EPROTO in that byte order: test_cross_arch.c */
	};
	struct fuse_getattr_in in = { 0 };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		req_begin(ops[i], FUSE_ROOT_ID);
		REQ_PUT(in);
		expect_error(req_send(), -ENOSYS);
		req_begin(ops[i], FUSE_ROOT_ID);
		expect_error(req_send(), -ENOSYS);
	}
	expect_alive();
}

/* The kernel expects no reply to these: none comes, whatever they name. */
Test(wire_hostile, interrupt_and_notify_reply_for_unknown_uniques)
{
	struct fuse_notify_retrieve_in nr = { .size = 0 };
	uint64_t done = send_getattr(FUSE_ROOT_ID);

	expect_reply(done, 0, sizeof(struct fuse_attr_out));
	send_interrupt(123456789);
	send_interrupt(done); /* already answered */
	send_interrupt(0);
	req_begin(FUSE_INTERRUPT, 0); /* truncated */
	req_put("abc", 3);
	req_send();
	req_begin(FUSE_NOTIFY_REPLY, FUSE_ROOT_ID);
	REQ_PUT(nr);
	req_send();
	req_begin(FUSE_NOTIFY_REPLY, 0);
	req_send();
	expect_alive();
}

/* Unique 0 marks a notification: a reply would be misread.  Dropped. */
Test(wire_hostile, unique_zero_dropped)
{
	struct fuse_getattr_in in = { 0 };
	ssize_t sent;

	req_begin(FUSE_GETATTR, FUSE_ROOT_ID);
	REQ_PUT(in);
	req_hdr()->len = req_len();
	req_hdr()->unique = 0;
	sent = send(W.fd, req_hdr(), req_len(), 0);
	cr_assert_eq(sent, (ssize_t)req_len());
	expect_alive();
}

Test(wire_hostile, forget_of_unknown_nodes_and_bad_counts)
{
	struct {
		struct fuse_batch_forget_in in;
		struct fuse_forget_one one[2];
	} batch = { .in.count = 2 };
	uint64_t a, b;

	put_file("a", "a");
	put_file("b", "b");
	a = lookup_ok(FUSE_ROOT_ID, "a");
	b = lookup_ok(FUSE_ROOT_ID, "b");

	send_forget(987654, 1);
	send_forget(0, 1);
	send_forget(FUSE_ROOT_ID, ~0ull); /* the root is never forgotten */
	send_forget(a + b + 1000, ~0ull);
	req_begin(FUSE_FORGET, a); /* truncated: forgets nothing */
	req_put("abc", 3);
	req_send();
	expect_alive();

	/* A count past the entries sent: nothing is forgotten. */
	batch.one[0] = (struct fuse_forget_one){ a, 1 };
	batch.one[1] = (struct fuse_forget_one){ b, 1 };
	req_begin(FUSE_BATCH_FORGET, 0);
	batch.in.count = 3;
	REQ_PUT(batch);
	req_send();
	req_begin(FUSE_BATCH_FORGET, 0);
	batch.in.count = 0xffffffffu;
	REQ_PUT(batch);
	req_send();
	req_begin(FUSE_BATCH_FORGET, 0);
	batch.in.count = 0;
	REQ_PUT(batch);
	req_send();
	expect_reply(send_getattr(a), 0, sizeof(struct fuse_attr_out));
	expect_reply(send_getattr(b), 0, sizeof(struct fuse_attr_out));

	/* Unknown ids among known ones: those are skipped, the rest forgotten. */
	batch.one[0] = (struct fuse_forget_one){ 424242, 5 };
	batch.one[1] = (struct fuse_forget_one){ b, 1 };
	batch.in.count = 2;
	req_begin(FUSE_BATCH_FORGET, 0);
	REQ_PUT(batch);
	req_send();
	expect_error(send_getattr(b), -ESTALE);
	/* More than the lookups held: the node goes, no underflow. */
	send_forget(a, ~0ull);
	expect_error(send_getattr(a), -ESTALE);
	expect_alive();
}

/* Nodeid 0, and ids never handed out: ESTALE for every opcode that names a node. */
Test(wire_hostile, unknown_nodeids_estale)
{
	static const uint64_t ids[] = { 0, 2, 77, ~0ull };

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		expect_error(send_getattr(ids[i]), -ESTALE);
		expect_error(send_lookup(ids[i], "a"), -ESTALE);
		expect_error(send_open(ids[i], O_RDONLY), -ESTALE);
		expect_error(send_opendir(ids[i]), -ESTALE);
		expect_error(send_mkdir(ids[i], "d", 0755), -ESTALE);
	}
	{
		/* A LINK and a RENAME whose other node is unknown. */
		struct fuse_link_in ln = { .oldnodeid = 99 };
		struct fuse_rename_in rn = { .newdir = 99 };

		put_file("f", "x");
		req_begin(FUSE_LINK, FUSE_ROOT_ID);
		REQ_PUT(ln);
		req_str("l");
		expect_error(req_send(), -ESTALE);
		req_begin(FUSE_RENAME, FUSE_ROOT_ID);
		REQ_PUT(rn);
		req_str("f");
		req_str("g");
		expect_error(req_send(), -ESTALE);
		cr_assert_eq(access(wire_path("f"), F_OK), 0);
	}
	expect_alive();
}

/* After RELEASE the fh is gone: every use of it is EBADF. */
Test(wire_hostile, released_handles_ebadf)
{
	struct fuse_flush_in fl = { 0 };
	struct fuse_fsync_in fs = { 0 };
	struct fuse_lseek_in ls = { .whence = SEEK_SET };
	struct fuse_fallocate_in fa = { .length = 1 };
	uint64_t f, fh, dh;

	f = create_ok(FUSE_ROOT_ID, "f", &fh);
	expect_error(send_release(FUSE_RELEASE, f, fh), 0);

	expect_error(send_read(f, fh, 0, 10), -EBADF);
	expect_error(send_write(f, fh, 0, "x", 1), -EBADF);
	fl.fh = fs.fh = ls.fh = fa.fh = fh;
	req_begin(FUSE_FLUSH, f);
	REQ_PUT(fl);
	expect_error(req_send(), -EBADF);
	req_begin(FUSE_FSYNC, f);
	REQ_PUT(fs);
	expect_error(req_send(), -EBADF);
	req_begin(FUSE_LSEEK, f);
	REQ_PUT(ls);
	expect_error(req_send(), -EBADF);
	req_begin(FUSE_FALLOCATE, f);
	REQ_PUT(fa);
	expect_error(req_send(), -EBADF);
	expect_error(send_release(FUSE_RELEASE, f, fh), -EBADF);
	/* Handles never issued. */
	expect_error(send_read(f, 0, 0, 10), -EBADF);
	expect_error(send_read(f, fh + 1000, 0, 10), -EBADF);

	dh = expect_open(send_opendir(FUSE_ROOT_ID));
	expect_error(send_release(FUSE_RELEASEDIR, FUSE_ROOT_ID, dh), 0);
	expect_error(send_readdir(FUSE_READDIR, FUSE_ROOT_ID, dh, 0, 4096), -EBADF);
	expect_error(send_readdir(FUSE_READDIRPLUS, FUSE_ROOT_ID, dh, 0, 4096), -EBADF);
	expect_error(send_release(FUSE_RELEASEDIR, FUSE_ROOT_ID, dh), -EBADF);
	expect_alive();
}

/* Sizes no kernel sends: capped, refused, or served for what is really there. */
Test(wire_hostile, absurd_sizes)
{
	struct fuse_copy_file_range_in cp = { .len = ~0ull };
	struct fuse_lseek_in ls = { .whence = 99 };
	struct fuse_write_in wr = { .size = 100 };
	struct fuse_getxattr_in lx = { .size = 1 };
	const struct fuse_write_out *wo;
	uint64_t f, fh, g, gh;
	char buf[64];

	f = create_ok(FUSE_ROOT_ID, "f", &fh);
	expect_reply(send_write(f, fh, 0, "0123456789", 10), 0, sizeof(*wo));

	/* READ: a 4 GiB size is capped, what exists is returned. */
	cr_assert_eq(memcmp(expect_reply(send_read(f, fh, 0, 0xffffffffu), 0, 10), "0123456789",
			    10),
		     0);
	expect_reply(send_read(f, fh, 0, 0), 0, 0);
	expect_error(send_read(f, fh, 1ull << 63, 10), -EINVAL);
	expect_reply(send_read(f, fh, 1ull << 62, 10), 0, 0); /* past the end */

	/* WRITE: a size beyond the payload is refused and writes nothing. */
	wr.fh = fh;
	req_begin(FUSE_WRITE, f);
	REQ_PUT(wr);
	req_put("abc", 3);
	expect_error(req_send(), -EINVAL);
	/* A size short of the payload writes that size. */
	wr.size = 2;
	req_begin(FUSE_WRITE, f);
	REQ_PUT(wr);
	req_put("AB-ignored", 10);
	wo = expect_reply(req_send(), 0, sizeof(*wo));
	cr_assert_eq(wo->size, 2);
	cr_assert_eq(memcmp(expect_reply(send_read(f, fh, 0, 64), 0, 10), "AB23456789", 10), 0);
	expect_error(send_write(f, fh, 1ull << 63, "x", 1), -EINVAL);

	/* LSEEK with an unknown whence. */
	ls.fh = fh;
	req_begin(FUSE_LSEEK, f);
	REQ_PUT(ls);
	expect_error(req_send(), -EINVAL);

	/* COPY_FILE_RANGE of 2^64-1 bytes copies what there is. */
	g = create_ok(FUSE_ROOT_ID, "g", &gh);
	cp.fh_in = fh;
	cp.nodeid_out = g;
	cp.fh_out = gh;
	req_begin(FUSE_COPY_FILE_RANGE, f);
	REQ_PUT(cp);
	wo = expect_reply(req_send(), 0, sizeof(*wo));
	cr_assert_eq(wo->size, 10);

	/* SETXATTR: a size beyond the payload is refused; short of it, that size. */
	req_begin(FUSE_SETXATTR, f);
	{
		struct fuse_setxattr_in sx = { .size = 100 };

		req_put(&sx, setxattr_in_size());
		req_str("user.v");
		req_put("abc", 3);
		expect_error(req_send(), -EINVAL);
		sx.size = 2;
		req_begin(FUSE_SETXATTR, f);
		req_put(&sx, setxattr_in_size());
		req_str("user.v");
		req_put("abc", 3);
	}
	expect_error(req_send(), 0);
	cr_assert_eq(getxattr(wire_path("f"), "user.v", buf, sizeof(buf)), 2);
	cr_assert_eq(memcmp(buf, "ab", 2), 0);
	/* GETXATTR of 4 GiB is capped; LISTXATTR into 1 byte is ERANGE. */
	cr_assert_eq(memcmp(expect_reply(send_getxattr(f, "user.v", 0xffffffffu), 0, 2), "ab", 2),
		     0);
	req_begin(FUSE_LISTXATTR, f);
	REQ_PUT(lx);
	expect_error(req_send(), -ERANGE);

	/* READDIR into nothing: an empty reply, which the kernel reads as the end. */
	{
		uint64_t dh = expect_open(send_opendir(FUSE_ROOT_ID));

		expect_reply(send_readdir(FUSE_READDIR, FUSE_ROOT_ID, dh, 0, 0), 0, 0);
		expect_reply(send_readdir(FUSE_READDIRPLUS, FUSE_ROOT_ID, dh, 0, 1), 0, 0);
		/* A file's handle is no directory. */
		expect_error(send_readdir(FUSE_READDIR, f, fh, 0, 4096), -ENOTDIR);
		expect_error(send_release(FUSE_RELEASEDIR, FUSE_ROOT_ID, dh), 0);
	}
	expect_error(send_release(FUSE_RELEASE, f, fh), 0);
	expect_error(send_release(FUSE_RELEASE, g, gh), 0);
	expect_alive();
}

/*
 * READDIRPLUS names its directory twice, by nodeid and by fh; the names are
 * the handle's directory's, so they are looked up there.
 */
Test(wire_hostile, readdirplus_nodeid_not_its_handles)
{
	uint64_t a, b, dh;
	const unsigned char *p, *end;
	bool found = false;
	struct stat st;

	cr_assert_eq(mkdir(wire_path("A"), 0755), 0);
	cr_assert_eq(mkdir(wire_path("B"), 0755), 0);
	put_file("B/y", "y");
	cr_assert_eq(stat(wire_path("B/y"), &st), 0);
	a = lookup_ok(FUSE_ROOT_ID, "A");
	b = lookup_ok(FUSE_ROOT_ID, "B");
	dh = expect_open(send_opendir(b));

	p = expect_reply(send_readdir(FUSE_READDIRPLUS, a, dh, 0, 4096), 0, WIRE_ANY_LEN);
	end = p + reply_arg_len();
	while (p < end) {
		const struct fuse_direntplus *dp = (const void *)p;

		if (dp->dirent.namelen == 1 && dp->dirent.name[0] == 'y') {
			found = true;
			cr_assert_neq(dp->entry_out.nodeid, 0, "y listed without its node");
			cr_assert_eq(dp->entry_out.attr.ino, st.st_ino);
			send_forget(dp->entry_out.nodeid, 1);
		}
		p += FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + dp->dirent.namelen);
	}
	cr_assert(found, "READDIRPLUS lost B's entry y");
	expect_error(send_release(FUSE_RELEASEDIR, b, dh), 0);
	expect_alive();
}

/* A request larger than the daemon's buffer arrives cut: its len gives it away. */
Test(wire_hostile, message_larger_than_the_request_buffer)
{
	size_t big = (1u << 20) + 64 * 1024;
	char *data = calloc(1, big);
	struct fuse_write_in wr = { .fh = 1, .size = big };
	ssize_t sent;

	cr_assert_not_null(data);
	req_begin(FUSE_WRITE, FUSE_ROOT_ID);
	REQ_PUT(wr);
	req_put(data, big);
	free(data);
	req_hdr()->len = req_len();
	req_hdr()->unique = W.unique += 2;
	sent = send(W.fd, req_hdr(), req_len(), MSG_NOSIGNAL);
	if (sent < 0 && errno == EMSGSIZE)
		cr_skip_test("cannot send a %zu-byte message without raising wmem_max", req_len());
	cr_assert_eq(sent, (ssize_t)req_len());
	expect_error(W.unique, -EINVAL);
	expect_alive();
}

/* Opcodes the kernel expects no reply to (request.c's OP_NO_REPLY rows). */
static bool no_reply_opcode(uint32_t op)
{
	return op == FUSE_FORGET || op == FUSE_BATCH_FORGET || op == FUSE_INTERRUPT ||
	       op == FUSE_NOTIFY_REPLY;
}

/* One request of len bytes of fill; its reply, if it gets one; the daemon still serves. */
static void one_request(uint32_t op, unsigned char *body, size_t len, int fill)
{
	uint64_t u;

	memset(body, fill ? 0xff : 0, len);
	if (len)
		body[len - 1] = '\0';
	req_begin(op, FUSE_ROOT_ID);
	req_put(body, len);
	u = req_send();
	if (!no_reply_opcode(op)) {
		const struct fuse_out_header *out = reply_next();

		cr_assert_eq(out->unique, u, "%s with %zu bytes: reply to %llu", wire_op_name(op),
			     len, (unsigned long long)out->unique);
		cr_assert(out->error <= 0 && out->error > -512, "%s: error %d", wire_op_name(op),
			  out->error);
		cr_assert(!out->error || out->len == sizeof(*out));
	}
	expect_alive();
}

/*
 * Every opcode below 64 with every body length up to 100 bytes and a few
 * larger, filled with zeros and with 0xff: exactly one reply with the
 * request's unique and a real errno (none for the no-reply opcodes), and
 * the daemon still serves after each.
 */
Test(wire_hostile, every_opcode_every_length, .timeout = 300)
{
	static const size_t extra[] = { 128, 256, 1000, 4200 };
	static unsigned char body[4200];

	for (int fill = 0; fill < 2; fill++) {
		for (uint32_t op = 0; op < 64; op++) {
			if (op == FUSE_INIT)
				continue; /* wire_init covers it */
			for (size_t n = 0; n <= 100 + sizeof(extra) / sizeof(extra[0]); n++)
				one_request(op, body, n <= 100 ? n : extra[n - 101], fill);
		}
	}
}

/* The error of the next reply, which must answer unique. */
static int reply_error_of(uint64_t unique)
{
	const struct fuse_out_header *out = reply_next();

	cr_assert_eq(out->unique, unique, "reply to %llu, expected %llu",
		     (unsigned long long)out->unique, (unsigned long long)unique);
	cr_assert(!out->error || out->len == sizeof(*out));
	return out->error;
}

/*
 * Symlinks in the backing dir that point outside it are nodes of their own,
 * never followed: whatever is done to them, through every opcode that
 * changes an inode, the file and directory they point to are untouched.
 */
Test(wire_hostile, symlinks_out_of_the_backing_dir_never_followed)
{
	char outside[PATH_MAX];
	struct stat before, after, dir_before, dir_after;
	uint64_t links[2], dir;
	const char *p;

	cr_assert_lt(snprintf(outside, sizeof(outside), "%s/outside", W.root), PATH_MAX);
	cr_assert_eq(symlink("../outside", wire_path("rel")), 0);
	cr_assert_eq(symlink(outside, wire_path("abs")), 0);
	cr_assert_eq(symlink(W.root, wire_path("dir")), 0);
	{
		int fd = open(outside, O_WRONLY | O_CREAT, 0644);

		cr_assert(fd >= 0);
		cr_assert_eq(write(fd, "keep me", 7), 7);
		close(fd);
	}
	cr_assert_eq(stat(outside, &before), 0);
	cr_assert_eq(stat(W.root, &dir_before), 0);

	links[0] = lookup_ok(FUSE_ROOT_ID, "rel");
	links[1] = lookup_ok(FUSE_ROOT_ID, "abs");
	dir = lookup_ok(FUSE_ROOT_ID, "dir");
	p = expect_reply(send_getattr(links[1]), 0, sizeof(struct fuse_attr_out));
	cr_assert(S_ISLNK(((const struct fuse_attr_out *)p)->attr.mode),
		  "not the link's attributes");

	for (int i = 0; i < 2; i++) {
		struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 0 };
		uint64_t n = links[i];

		req_begin(FUSE_SETATTR, n);
		REQ_PUT(sa);
		cr_assert_neq(reply_error_of(req_send()), 0, "truncated a symlink");
		sa = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = 0777 };
		req_begin(FUSE_SETATTR, n);
		REQ_PUT(sa);
		reply_error_of(req_send());
		sa = (struct fuse_setattr_in){ .valid = FATTR_UID | FATTR_GID, .uid = 1, .gid = 1 };
		req_begin(FUSE_SETATTR, n);
		REQ_PUT(sa);
		reply_error_of(req_send());
		sa = (struct fuse_setattr_in){ .valid = FATTR_ATIME | FATTR_MTIME, .atime = 1,
					       .mtime = 1 };
		req_begin(FUSE_SETATTR, n);
		REQ_PUT(sa);
		reply_error_of(req_send());
		reply_error_of(send_setxattr(n, "user.x", "v", 1));
		reply_error_of(send_setxattr(n, "trusted.x", "v", 1));
		expect_error(send_open(n, O_RDWR | O_TRUNC), -ELOOP);
		expect_error(send_opendir(n), -ELOOP);
	}
	/* A symlink to a directory outside is no directory to look into or create in. */
	expect_error(send_lookup(dir, "outside"), -ENOTDIR);
	expect_error(send_mkdir(dir, "new", 0755), -ENOTDIR);
	expect_error(send_create(dir, "new", O_RDWR | O_CREAT, 0644), -ENOTDIR);

	cr_assert_eq(stat(outside, &after), 0);
	cr_assert(after.st_size == before.st_size && after.st_mode == before.st_mode &&
			  after.st_uid == before.st_uid &&
			  after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
			  after.st_mtim.tv_nsec == before.st_mtim.tv_nsec &&
			  after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
			  after.st_ctim.tv_nsec == before.st_ctim.tv_nsec,
		  "the file outside the backing dir changed");
	cr_assert_eq(stat(W.root, &dir_after), 0);
	cr_assert(dir_after.st_mtim.tv_sec == dir_before.st_mtim.tv_sec &&
			  dir_after.st_mtim.tv_nsec == dir_before.st_mtim.tv_nsec,
		  "the directory outside the backing dir changed");
	expect_alive();
}
