// SPDX-License-Identifier: MIT
/*
 * Request decoding and the request pipeline (fsd/request.c), without the
 * kernel: raw FUSE requests are built in a buffer and given to
 * request_process(), whose worker writes its replies into one end of a
 * SOCK_SEQPACKET socketpair, one message per reply, read back from the
 * other end.  The node table serves a scratch backing directory.
 *
 * Covers the checks of names and other strings, header and fixed-struct
 * lengths, opcodes without a handler, requests that get no reply (FORGET,
 * BATCH_FORGET), a real LOOKUP and GETATTR, ESTALE for unknown nodeids,
 * the reference and lookup counts a request leaves behind, and the lookup
 * taken back when its reply cannot be delivered.
 */
#define _GNU_SOURCE
#include "../../fsd/fsd.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[256];
static int sv[2] = { -1, -1 };
static struct worker W;
/* Requests are built here; uint64_t keeps the header aligned as the kernel's. */
static uint64_t req_buf[(8192 + 64) / 8];
static uint64_t reply_buf[(FSD_MAX_WRITE + 4096) / 8];

static void session_init(void);

static void decode_setup(void)
{
	const char *base = getenv("FSD_TEST_TMP");
	int ret;

	snprintf(dir, sizeof(dir), "%s/decode.XXXXXX", base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
	ret = node_table_init(dir, 64);
	cr_assert_eq(ret, 0, "node_table_init: %s", strerror(-ret));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	W.fd = sv[0];
	W.in_buf = malloc(FSD_REQ_BUF);
	W.out_buf = malloc(FSD_MAX_WRITE);
	cr_assert(W.in_buf && W.out_buf);
	session_init();
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void decode_teardown(void)
{
	node_table_destroy();
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	free(W.in_buf);
	free(W.out_buf);
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(decode, .init = decode_setup, .fini = decode_teardown, .timeout = 30);

static const char *path_of(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void create_file(const char *name)
{
	int fd = open(path_of(name), O_CREAT | O_WRONLY | O_EXCL, 0644);

	cr_assert(fd >= 0, "create %s: %s", name, strerror(errno));
	close(fd);
}

static uint64_t node_count(void)
{
	struct node_stats s;

	node_stats(&s);
	return s.nodes;
}

/*
 * Builds a request in req_buf: the header, then arg_len bytes of arg;
 * hdr.len is the true length.  Returns that length.
 */
static size_t build(uint32_t opcode, uint64_t unique, uint64_t nodeid, const void *arg,
		    size_t arg_len)
{
	struct fuse_in_header *hdr = (void *)req_buf;

	cr_assert_leq(sizeof(*hdr) + arg_len, sizeof(req_buf));
	memset(hdr, 0, sizeof(*hdr));
	hdr->len = sizeof(*hdr) + arg_len;
	hdr->opcode = opcode;
	hdr->unique = unique;
	hdr->nodeid = nodeid;
	hdr->uid = 0;
	hdr->gid = 0;
	hdr->pid = getpid();
	if (arg_len)
		memcpy((char *)req_buf + sizeof(*hdr), arg, arg_len);
	return hdr->len;
}

/* The kernel's first request: everything else is refused before it. */
static void session_init(void)
{
	struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION, .minor = 45 };
	const struct fuse_out_header *out = (const void *)reply_buf;

	request_process(&W, (const char *)req_buf, build(FUSE_INIT, 2, 0, &in, sizeof(in)));
	cr_assert_eq(recv(sv[1], reply_buf, sizeof(reply_buf), MSG_DONTWAIT),
		     sizeof(*out) + sizeof(struct fuse_init_out));
	cr_assert_eq(out->error, 0);
}

static struct fuse_in_header *hdr_of_req(void)
{
	return (void *)req_buf;
}

static void process(size_t len)
{
	request_process(&W, (const char *)req_buf, len);
}

/* Reads the one reply that must be waiting; returns its length. */
static size_t recv_reply(uint64_t unique)
{
	const struct fuse_out_header *out = (const void *)reply_buf;
	ssize_t n = recv(sv[1], reply_buf, sizeof(reply_buf), MSG_DONTWAIT);

	cr_assert(n >= 0, "no reply to unique %lu: %s", (unsigned long)unique, strerror(errno));
	cr_assert_geq((size_t)n, sizeof(*out));
	cr_assert_eq(out->len, (uint32_t)n, "header says %u bytes, %zd sent", out->len, n);
	cr_assert_eq(out->unique, unique, "reply to unique %lu, expected %lu",
		     (unsigned long)out->unique, (unsigned long)unique);
	return n;
}

/* Reads a reply and returns its error; an error reply is a bare header. */
static int reply_error(uint64_t unique)
{
	const struct fuse_out_header *out = (const void *)reply_buf;
	size_t n = recv_reply(unique);

	if (out->error)
		cr_assert_eq(n, sizeof(*out), "error %d with %zu bytes", out->error, n);
	return out->error;
}

static void assert_no_reply(void)
{
	ssize_t n = recv(sv[1], reply_buf, sizeof(reply_buf), MSG_DONTWAIT);

	cr_assert_eq(n, -1, "unexpected %zd-byte reply (error %d)", n,
		     n >= 16 ? ((struct fuse_out_header *)reply_buf)->error : 0);
	cr_assert_eq(errno, EAGAIN);
}

static const void *reply_arg_of(void)
{
	return (const char *)reply_buf + sizeof(struct fuse_out_header);
}

/* Sends LOOKUP of the first len bytes of name in the root; returns the error. */
static int lookup_raw(uint64_t unique, const char *name, size_t len)
{
	process(build(FUSE_LOOKUP, unique, FSD_ROOT_ID, name, len));
	return reply_error(unique);
}

/* LOOKUP of a NUL-terminated name, as the kernel sends it. */
static int lookup_name(uint64_t unique, const char *name)
{
	return lookup_raw(unique, name, strlen(name) + 1);
}

/* LOOKUP that must succeed; returns the entry. */
static struct fuse_entry_out lookup_ok(uint64_t unique, const char *name)
{
	struct fuse_entry_out e;
	int err = lookup_name(unique, name);

	cr_assert_eq(err, 0, "LOOKUP %s: %s", name, strerror(-err));
	cr_assert_eq(((struct fuse_out_header *)reply_buf)->len,
		     sizeof(struct fuse_out_header) + sizeof(e));
	memcpy(&e, reply_arg_of(), sizeof(e));
	return e;
}

Test(decode, lookup_name_with_slash)
{
	create_file("a");
	cr_assert_eq(lookup_name(101, "a/b"), -EINVAL);
	cr_assert_eq(lookup_name(102, "/"), -EINVAL);
	cr_assert_eq(lookup_name(103, "a/"), -EINVAL, "a trailing slash is still a slash");
	cr_assert_eq(node_count(), 1);
}

Test(decode, lookup_dot_and_dotdot)
{
	cr_assert_eq(lookup_name(0x1122334455667788ull, "."), -EINVAL);
	cr_assert_eq(lookup_name(7, ".."), -EINVAL);
	/* Only those two: names that start with dots are names. */
	create_file("...");
	create_file(".hidden");
	lookup_ok(8, "...");
	lookup_ok(9, ".hidden");
}

Test(decode, lookup_empty_name)
{
	cr_assert_eq(lookup_raw(5, "", 1), -EINVAL);
	/* No string at all. */
	cr_assert_eq(lookup_raw(6, "", 0), -EINVAL);
}

/* The name must end inside the request, even when a file of that prefix exists. */
Test(decode, lookup_name_without_nul)
{
	create_file("abc");
	cr_assert_eq(lookup_raw(42, "abc", 3), -EINVAL);
	cr_assert_eq(node_count(), 1);
	lookup_ok(43, "abc");
}

Test(decode, lookup_name_length_limit)
{
	char name[NAME_MAX + 2];

	memset(name, 'n', sizeof(name));
	name[NAME_MAX + 1] = '\0'; /* 256 bytes */
	cr_assert_eq(lookup_name(77, name), -ENAMETOOLONG);

	name[NAME_MAX] = '\0'; /* 255 bytes: the longest name */
	create_file(name);
	lookup_ok(78, name);
}

Test(decode, lookup_existing_file)
{
	struct fuse_entry_out e, e2;
	struct node *n;
	struct stat st;

	fsd_config.entry_timeout = 2.5;
	fsd_config.attr_timeout = 3;
	create_file("f");
	cr_assert_eq(stat(path_of("f"), &st), 0);

	e = lookup_ok(0xabcdef, "f");
	cr_assert_gt(e.nodeid, FSD_ROOT_ID);
	cr_assert_eq(e.attr.ino, st.st_ino);
	cr_assert_eq(e.attr.mode, st.st_mode);
	cr_assert_eq(e.entry_valid, 2);
	cr_assert_eq(e.entry_valid_nsec, 500000000);
	cr_assert_eq(e.attr_valid, 3);
	/* A counter nodeid (the backing dir is no filesystem's root): the session's generation. */
	cr_assert_neq(e.generation, 0);
	cr_assert_eq(node_count(), 2);

	/* The request kept the lookup it handed over, and no reference. */
	n = node_get(e.nodeid);
	cr_assert_not_null(n);
	cr_assert_eq(n->nlookup, 1);
	cr_assert_eq(n->refs, 1, "a reference leaked from the request");
	node_put(n);

	e2 = lookup_ok(0xabcdf0, "f");
	cr_assert_eq(e2.nodeid, e.nodeid);
	cr_assert_eq(n->nlookup, 2);
	cr_assert_eq(n->refs, 0);
	cr_assert_eq(node_count(), 2);
}

Test(decode, lookup_in_subdirectory)
{
	struct fuse_entry_out d, x;
	struct stat st;

	cr_assert_eq(mkdir(path_of("d"), 0755), 0);
	create_file("d/x");
	cr_assert_eq(stat(path_of("d/x"), &st), 0);
	d = lookup_ok(1, "d");
	process(build(FUSE_LOOKUP, 2, d.nodeid, "x", 2));
	cr_assert_eq(reply_error(2), 0);
	memcpy(&x, reply_arg_of(), sizeof(x));
	cr_assert_eq(x.attr.ino, st.st_ino);
	cr_assert_neq(x.nodeid, d.nodeid);
}

Test(decode, lookup_missing)
{
	const struct fuse_entry_out *e = reply_arg_of();

	cr_assert_eq(lookup_name(1, "absent"), -ENOENT, "negative_timeout 0 replies ENOENT");

	/* With a negative timeout the absence is an entry with nodeid 0. */
	fsd_config.negative_timeout = 2.5;
	cr_assert_eq(lookup_name(2, "absent"), 0);
	cr_assert_eq(((struct fuse_out_header *)reply_buf)->len,
		     sizeof(struct fuse_out_header) + sizeof(*e));
	cr_assert_eq(e->nodeid, 0);
	cr_assert_eq(e->entry_valid, 2);
	cr_assert_eq(e->entry_valid_nsec, 500000000);
	cr_assert_eq(node_count(), 1);
}

Test(decode, unknown_opcodes_enosys)
{
	static const uint32_t opcodes[] = { 99, FUSE_IOCTL, 0, FUSE_GETLK, FUSE_BMAP, FUSE_POLL,
					    FSD_OP_MAX, 0xffffffffu };
	struct fuse_getattr_in in = { 0 };

	for (size_t i = 0; i < sizeof(opcodes) / sizeof(opcodes[0]); i++) {
		process(build(opcodes[i], 500 + i, FSD_ROOT_ID, &in, sizeof(in)));
		cr_assert_eq(reply_error(500 + i), -ENOSYS, "opcode %u", opcodes[i]);
	}
	/* With no arguments at all, too. */
	process(build(99, 600, FSD_ROOT_ID, NULL, 0));
	cr_assert_eq(reply_error(600), -ENOSYS);
}

Test(decode, header_len_mismatch)
{
	struct fuse_getattr_in in = { 0 };
	size_t len = build(FUSE_GETATTR, 31, FSD_ROOT_ID, &in, sizeof(in));

	/* The header claims more than was read. */
	hdr_of_req()->len = len + 8;
	process(len);
	cr_assert_eq(reply_error(31), -EINVAL);

	/* The header claims less: trailing bytes nobody accounts for. */
	len = build(FUSE_GETATTR, 32, FSD_ROOT_ID, &in, sizeof(in));
	hdr_of_req()->len = len - 8;
	process(len);
	cr_assert_eq(reply_error(32), -EINVAL);

	hdr_of_req()->len = 0;
	process(len);
	cr_assert_eq(reply_error(32), -EINVAL);

	/* Extensions longer than the request. */
	len = build(FUSE_GETATTR, 33, FSD_ROOT_ID, &in, sizeof(in));
	hdr_of_req()->total_extlen = 5;
	process(len);
	cr_assert_eq(reply_error(33), -EINVAL);

	/* The same request, well formed, is served. */
	process(build(FUSE_GETATTR, 34, FSD_ROOT_ID, &in, sizeof(in)));
	cr_assert_eq(reply_error(34), 0);
}

/*
 * Extensions are the last total_extlen * 8 bytes; the name must end before
 * them.  Here its only NUL is inside the extension, and a file named by
 * the bytes up to that NUL exists, so reading into the extension would
 * find it.
 */
Test(decode, extensions_not_read_as_arguments)
{
	char arg[16];
	size_t len;

	create_file("abcxxxxx");
	memcpy(arg, "abcxxxxx", 8);
	memset(arg + 8, 0, 8);
	len = build(FUSE_LOOKUP, 40, FSD_ROOT_ID, arg, sizeof(arg));
	hdr_of_req()->total_extlen = 1;
	process(len);
	cr_assert_eq(reply_error(40), -EINVAL);
	cr_assert_eq(node_count(), 1);

	/* A terminated name before the extension is served. */
	memcpy(arg, "abcxxxxx", 8);
	arg[3] = '\0';
	create_file("abc");
	len = build(FUSE_LOOKUP, 41, FSD_ROOT_ID, arg, sizeof(arg));
	hdr_of_req()->total_extlen = 1;
	process(len);
	cr_assert_eq(reply_error(41), 0);
}

Test(decode, truncated_fixed_struct)
{
	struct fuse_getattr_in in = { 0 };
	struct fuse_mkdir_in mk = { .mode = 0755 };

	process(build(FUSE_GETATTR, 51, FSD_ROOT_ID, &in, 4));
	cr_assert_eq(reply_error(51), -EINVAL);
	process(build(FUSE_GETATTR, 52, FSD_ROOT_ID, NULL, 0));
	cr_assert_eq(reply_error(52), -EINVAL);

	/* MKDIR cut inside its struct: nothing may be created. */
	process(build(FUSE_MKDIR, 53, FSD_ROOT_ID, &mk, sizeof(mk) - 1));
	cr_assert_eq(reply_error(53), -EINVAL);
	cr_assert_eq(node_count(), 1);
}

/* Without a whole header there is no unique to answer: dropped. */
Test(decode, shorter_than_header_dropped)
{
	size_t len = build(FUSE_GETATTR, 60, FSD_ROOT_ID, NULL, 0);

	cr_assert_eq(len, sizeof(struct fuse_in_header));
	process(len - 1);
	assert_no_reply();
	process(0);
	assert_no_reply();
}

Test(decode, getattr_root)
{
	struct fuse_getattr_in in = { 0 };
	const struct fuse_attr_out *a = reply_arg_of();
	struct stat st;

	fsd_config.attr_timeout = 1.25;
	cr_assert_eq(stat(dir, &st), 0);
	process(build(FUSE_GETATTR, 61, FSD_ROOT_ID, &in, sizeof(in)));
	cr_assert_eq(reply_error(61), 0);
	cr_assert_eq(((struct fuse_out_header *)reply_buf)->len,
		     sizeof(struct fuse_out_header) + sizeof(*a));
	cr_assert_eq(a->attr.ino, st.st_ino);
	cr_assert_eq(a->attr.mode, st.st_mode);
	cr_assert_eq(a->attr_valid, 1);
	cr_assert_eq(a->attr_valid_nsec, 250000000);
}

Test(decode, getattr_unknown_nodeid_estale)
{
	struct fuse_getattr_in in = { 0 };

	process(build(FUSE_GETATTR, 71, 12345, &in, sizeof(in)));
	cr_assert_eq(reply_error(71), -ESTALE);
	process(build(FUSE_GETATTR, 72, 0, &in, sizeof(in)));
	cr_assert_eq(reply_error(72), -ESTALE);
	/* A LOOKUP in an unknown directory as well. */
	process(build(FUSE_LOOKUP, 73, 999, "x", 2));
	cr_assert_eq(reply_error(73), -ESTALE);
}

Test(decode, forget_has_no_reply)
{
	struct fuse_forget_in forget = { .nlookup = 1 };
	struct fuse_getattr_in in = { 0 };
	struct fuse_entry_out e;

	create_file("f");
	e = lookup_ok(80, "f");
	e = lookup_ok(81, "f");
	cr_assert_eq(node_count(), 2);

	process(build(FUSE_FORGET, 82, e.nodeid, &forget, sizeof(forget)));
	assert_no_reply();
	cr_assert_eq(node_count(), 2, "one of two lookups forgotten: the node stays");

	process(build(FUSE_FORGET, 83, e.nodeid, &forget, sizeof(forget)));
	assert_no_reply();
	cr_assert_eq(node_count(), 1, "all lookups forgotten: the node goes");

	process(build(FUSE_GETATTR, 84, e.nodeid, &in, sizeof(in)));
	cr_assert_eq(reply_error(84), -ESTALE);

	/* FORGET of an unknown node and a malformed FORGET: still no reply. */
	process(build(FUSE_FORGET, 85, 4242, &forget, sizeof(forget)));
	assert_no_reply();
	process(build(FUSE_FORGET, 86, FSD_ROOT_ID, &forget, 3));
	assert_no_reply();
	cr_assert_eq(node_count(), 1);
}

Test(decode, batch_forget)
{
	struct {
		struct fuse_batch_forget_in in;
		struct fuse_forget_one one[2];
	} batch = { .in.count = 2 };
	struct fuse_entry_out f, g;

	create_file("f");
	create_file("g");
	f = lookup_ok(90, "f");
	g = lookup_ok(91, "g");
	cr_assert_eq(node_count(), 3);
	batch.one[0] = (struct fuse_forget_one){ f.nodeid, 1 };
	batch.one[1] = (struct fuse_forget_one){ g.nodeid, 1 };

	/* A count beyond the entries sent forgets nothing. */
	batch.in.count = 3;
	process(build(FUSE_BATCH_FORGET, 92, 0, &batch, sizeof(batch)));
	assert_no_reply();
	cr_assert_eq(node_count(), 3);

	batch.in.count = 2;
	process(build(FUSE_BATCH_FORGET, 93, 0, &batch, sizeof(batch)));
	assert_no_reply();
	cr_assert_eq(node_count(), 1);
}

Test(decode, symlink_strings)
{
	static char arg[2 + PATH_MAX + 1];
	size_t len;

	/* Target missing its NUL. */
	process(build(FUSE_SYMLINK, 110, FSD_ROOT_ID, "l\0tgt", 5));
	cr_assert_eq(reply_error(110), -EINVAL);
	/* Empty target. */
	process(build(FUSE_SYMLINK, 111, FSD_ROOT_ID, "l\0", 3));
	cr_assert_eq(reply_error(111), -ENOENT);
	/* A PATH_MAX-byte target does not fit with its NUL. */
	memcpy(arg, "l", 2);
	memset(arg + 2, 'x', PATH_MAX);
	arg[2 + PATH_MAX] = '\0';
	len = build(FUSE_SYMLINK, 112, FSD_ROOT_ID, arg, sizeof(arg));
	process(len);
	cr_assert_eq(reply_error(112), -ENAMETOOLONG);
	/* Bad link name. */
	process(build(FUSE_SYMLINK, 113, FSD_ROOT_ID, "..\0tgt", 7));
	cr_assert_eq(reply_error(113), -EINVAL);
	cr_assert_eq(access(path_of("l"), F_OK), -1, "a rejected SYMLINK created something");
}

Test(decode, rename_second_name_checked)
{
	struct {
		struct fuse_rename_in in;
		char names[16];
	} r = { .in.newdir = FSD_ROOT_ID };

	create_file("a");
	memcpy(r.names, "a\0b/c", 6);
	process(build(FUSE_RENAME, 120, FSD_ROOT_ID, &r, sizeof(r.in) + 6));
	cr_assert_eq(reply_error(120), -EINVAL);
	memcpy(r.names, "a\0b", 3); /* second name without NUL */
	process(build(FUSE_RENAME, 121, FSD_ROOT_ID, &r, sizeof(r.in) + 3));
	cr_assert_eq(reply_error(121), -EINVAL);
	cr_assert_eq(access(path_of("a"), F_OK), 0, "a rejected RENAME moved the file");
}

Test(decode, xattr_name_checked)
{
	struct {
		struct fuse_getxattr_in in;
		char name[XATTR_NAME_MAX + 2];
	} g = { .in.size = 0 };

	g.name[0] = '\0';
	process(build(FUSE_GETXATTR, 130, FSD_ROOT_ID, &g, sizeof(g.in) + 1));
	cr_assert_eq(reply_error(130), -EINVAL);
	memset(g.name, 'u', sizeof(g.name));
	memcpy(g.name, "user.", 5);
	g.name[XATTR_NAME_MAX + 1] = '\0';
	process(build(FUSE_GETXATTR, 131, FSD_ROOT_ID, &g, sizeof(g)));
	cr_assert_eq(reply_error(131), -ERANGE);
}

/*
 * A LOOKUP whose reply the kernel never gets (the write fails) must not
 * leave a lookup the kernel will never forget: the node goes away.
 */
Test(decode, undelivered_lookup_taken_back)
{
	struct fuse_getattr_in in = { 0 };

	create_file("f");
	signal(SIGPIPE, SIG_IGN);
	close(sv[1]);
	sv[1] = -1;
	process(build(FUSE_LOOKUP, 140, FSD_ROOT_ID, "f", 2));
	cr_assert_eq(node_count(), 1, "the undelivered lookup kept its node");
	/* The other requests still work on the table. */
	process(build(FUSE_GETATTR, 141, FSD_ROOT_ID, &in, sizeof(in)));
	cr_assert_eq(node_count(), 1);
}

Test(decode, stats_count_requests_and_errors)
{
	create_file("f");
	lookup_ok(150, "f");
	cr_assert_eq(lookup_name(151, "absent"), -ENOENT);
	cr_assert_eq(lookup_name(152, ".."), -EINVAL);
	cr_assert_eq(stats_requests[FUSE_LOOKUP], 3);
	cr_assert_eq(stats_errors[FUSE_LOOKUP], 2);
	cr_assert_str_eq(opcode_name(FUSE_LOOKUP), "LOOKUP");
	cr_assert_str_eq(opcode_name(99), "UNKNOWN");
	cr_assert_str_eq(opcode_name(0xffffffffu), "UNKNOWN");
}

/* The debug log reads the request too: malformed ones must not trip it. */
Test(decode, debug_log_of_malformed_requests)
{
	struct fuse_getattr_in in = { 0 };

	fsd_config.debug = true;
	cr_assert_eq(lookup_raw(160, "abc", 3), -EINVAL);
	cr_assert_eq(lookup_name(161, "a/b"), -EINVAL);
	process(build(FUSE_GETATTR, 162, FSD_ROOT_ID, &in, 4));
	cr_assert_eq(reply_error(162), -EINVAL);
	process(build(77, 163, FSD_ROOT_ID, NULL, 0));
	cr_assert_eq(reply_error(163), -ENOSYS);
}
