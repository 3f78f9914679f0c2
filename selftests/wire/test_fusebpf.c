// SPDX-License-Identifier: MIT
/*
 * A FUSE-BPF kernel, simulated, speaking the RFC's wire (v3/v4): fsd in
 * FUSE-BPF mode because of how it was started (-o kernel=fusebpf or rfc),
 * not because of an INIT flag; the opcode masks at INIT when the kernel
 * offers them (fusebpf.ko does, an RFC kernel does not); the BACKING and
 * BPF entries of LOOKUP replies, which reach the kernel through the ioctl
 * FUSE_DEV_IOC_BPF_RESPONSE (wire.c refuses them written); and the
 * userspace prefilter and postfilter calls (opcode | 0x10000, | 0x20000),
 * the postfilter's error as the FUSE_ERROR_IN request extension, the
 * prefilter's reply without the immutable name the RFC leaves out.  They
 * are served by the same userspace module as in daemon mode
 * (fsd/user_example.c).  Every byte of the replies is checked.
 * docs/abi.md, "The wire to a FUSE-BPF kernel", defines the wire.
 */
#define _GNU_SOURCE
#include "wire.h"
#include "../integration/fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fusebpf/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(wire_fusebpf, .fini = wire_teardown, .timeout = 60);

#define EXAMPLE_MTIME 1000000000 /* what the example module's postfilter writes */
#define ENTRY_REPLY(n) \
	(sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out) + \
	 (n) * sizeof(struct fusebpf_lookup_entry))

/* INIT 7.45 as this machine's kernel sends it, plus the opcode masks fusebpf.ko offers. */
static const struct fusebpf_init_out *init_bpf(uint64_t backing_ops)
{
	struct fusebpf_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = 45,
		.max_readahead = 128 * 1024,
	};
	uint64_t flags = kernel_init_flags(45) | FUSEBPF_INIT_BPF;
	static struct fusebpf_init_out out;

	in.flags = (uint32_t)flags;
	in.flags2 = (uint32_t)(flags >> 32);
	in.bpf_backing_ops = backing_ops;
	req_begin(FUSE_INIT, 0);
	REQ_PUT(in);
	memcpy(&out, expect_reply(req_send(), 0, sizeof(out)), sizeof(out));
	return &out;
}

/* Whether fsd's log (its -d lines) has s. */
static bool log_has(const char *s)
{
	static char log[1 << 16];
	FILE *f = fopen(W.log, "r");
	size_t n;

	cr_assert(f);
	n = fread(log, 1, sizeof(log) - 1, f);
	fclose(f);
	log[n] = '\0';
	return strstr(log, s);
}

/* The entries after fuse_entry_out in a LOOKUP reply, which came as the ioctl. */
static const struct fusebpf_lookup_entry *lookup_entries(uint64_t parent, const char *name,
							 size_t n, struct fuse_entry_out *entry)
{
	const unsigned char *p;

	p = expect_reply(send_lookup(parent, name), 0,
			 sizeof(*entry) + n * sizeof(struct fusebpf_lookup_entry));
	cr_assert_eq(W.reply_ioctl, FUSEBPF_DEV_IOC_BPF_RESPONSE(ENTRY_REPLY(n)),
		     "ioctl %#x, expected _IOW(229, 125, char[%zu])", W.reply_ioctl,
		     ENTRY_REPLY(n));
	memcpy(entry, p, sizeof(*entry));
	return (const void *)(p + sizeof(*entry));
}

/* The backing fd in an entry was the daemon's own fd of that backing file. */
static void assert_backing_fd(uint64_t fd, const char *rel)
{
	char pattern[PATH_MAX + 64];

	snprintf(pattern, sizeof(pattern), "BACKING fd=%llu (%s)", (unsigned long long)fd,
		 wire_path(rel));
	cr_assert(log_has(pattern), "the daemon did not resolve fd %llu to %s",
		  (unsigned long long)fd, wire_path(rel));
}

/* A prefilter call answered: its reply is the module's input, as the test expects. */
static void expect_call_reply(const void *want, size_t len)
{
	const void *p = expect_reply(req_send(), 0, len);

	cr_assert_eq(memcmp(p, want, len), 0, "%s prefilter call: reply bytes differ",
		     wire_op_name(req_hdr()->opcode & FUSEBPF_OPCODE_MASK));
}

Test(wire_fusebpf, fusebpf_mode_takes_the_opcode_masks)
{
	const struct fusebpf_init_out *o;
	uint64_t user = (1ULL << FUSE_OPEN) | (1ULL << FUSE_UNLINK);

	WIRE_START("-o", "kernel=fusebpf,user_ops=open,unlink");
	/*
	 * The kernel can do UNLINK on backing files but not OPEN, say: the
	 * user mask is the daemon's all the same, for what the kernel sends
	 * it to do (FUSEBPF_IN_BACKING) and what it sends for userspace.
	 */
	o = init_bpf(FUSEBPF_FILTERABLE_OPS & ~(1ULL << FUSE_OPEN));
	cr_assert(o->flags2 & (FUSEBPF_INIT_BPF >> 32), "FUSEBPF_INIT_BPF not accepted");
	cr_assert_eq(o->bpf_user_ops, user, "user ops %#llx: the daemon's",
		     (unsigned long long)o->bpf_user_ops);
	/* FUSE-BPF's filters decide by names: no file handles that skip them. */
	cr_assert_not(o->flags & FUSE_EXPORT_SUPPORT);
	cr_assert(log_has("kernel mode fusebpf"));
	expect_alive();
}

/* An RFC kernel offers no INIT flag: the mount, here kernel=rfc, makes FUSE-BPF. */
Test(wire_fusebpf, rfc_mode_needs_no_init_flag)
{
	const struct fusebpf_lookup_entry *e;
	struct fuse_entry_out entry;

	WIRE_START("-o", "kernel=rfc,user=example");
	wire_init();
	cr_assert_not(W.init.flags2 & (FUSEBPF_INIT_BPF >> 32));
	cr_assert_eq(W.init.bpf_user_ops, 0);
	cr_assert_not(W.init.flags & FUSE_EXPORT_SUPPORT);
	cr_assert(log_has("kernel mode rfc"));
	/* Filter calls are served, LOOKUP replies carry the backing file. */
	req_begin(FUSE_LOOKUP | FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("alias.x");
	expect_call_reply("x", 2);
	cr_assert_eq(mkdir(wire_path("d"), 0755), 0);
	e = lookup_entries(FUSE_ROOT_ID, "d", 1, &entry);
	cr_assert_eq(e[0].entry_type, FUSEBPF_ENTRY_BACKING);
	assert_backing_fd(e[0].fd, "d");
	expect_alive();
}

/* kernel=fuse (the default with --dev-fd): the daemon filters; a kernel's masks are declined. */
Test(wire_fusebpf, fuse_mode_declines_the_opcode_masks)
{
	const struct fusebpf_init_out *o;

	WIRE_START("-o", "user_ops=open,unlink,user=example");
	o = init_bpf(FUSEBPF_FILTERABLE_OPS);
	cr_assert_not(o->flags2 & (FUSEBPF_INIT_BPF >> 32), "masks accepted in kernel=fuse");
	cr_assert_eq(o->bpf_user_ops, 0);
	cr_assert(log_has("kernel mode fuse"));
	cr_assert(log_has("declined"));
	/* No filter calls, and LOOKUP replies are plain (and written: wire.c checks). */
	req_begin(FUSE_LOOKUP | FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("a");
	expect_error(req_send(), -ENOSYS);
	cr_assert_eq(mkdir(wire_path("d"), 0755), 0);
	expect_entry(send_lookup(FUSE_ROOT_ID, "d"));
	cr_assert_eq(W.reply_ioctl, 0);
	expect_alive();
}

Test(wire_fusebpf, lookup_replies_carry_entries_through_the_ioctl)
{
	const char *pol = "wpolicy";
	const struct fusebpf_lookup_entry *e;
	struct fuse_entry_out entry;
	struct stat st;

	/*
	 * The policy is not loaded: the kernel runs it, so the daemon only
	 * passes its name on (in kernel=fuse mode it would refuse to start).
	 */
	WIRE_START("-o", "kernel=fusebpf,policy=wpolicy,user=example");
	init_bpf(FUSEBPF_FILTERABLE_OPS);
	cr_assert_eq(mkdir(wire_path("d"), 0755), 0);
	cr_assert_eq(mkdir(wire_path("nopol"), 0755), 0);
	cr_assert_eq(close(open(wire_path("d/f"), O_CREAT | O_WRONLY, 0644)), 0);

	/* A directory: BACKING (an fd of the daemon's), then BPF naming the policy. */
	e = lookup_entries(FUSE_ROOT_ID, "d", 2, &entry);
	cr_assert_eq(stat(wire_path("d"), &st), 0);
	cr_assert_eq(entry.attr.ino, st.st_ino);
	cr_assert_eq(e[0].entry_type, FUSEBPF_ENTRY_BACKING);
	cr_assert_eq(e[0].unused, 0);
	cr_assert_eq(e[0].unused2, 0);
	cr_assert_gt(e[0].fd, 2);
	assert_backing_fd(e[0].fd, "d");
	cr_assert_eq(e[1].entry_type, FUSEBPF_ENTRY_BPF);
	cr_assert_eq(e[1].unused, 0);
	cr_assert_eq(memcmp(e[1].name, pol, strlen(pol) + 1), 0, "BPF entry names '%.16s'",
		     e[1].name);
	for (size_t i = strlen(pol) + 1; i < sizeof(e[1].name); i++)
		cr_assert_eq(e[1].name[i], 0, "name padding byte %zu", i);

	/* A file below it: inherited, the same policy. */
	e = lookup_entries(entry.nodeid, "f", 2, &entry);
	cr_assert_eq(e[0].entry_type, FUSEBPF_ENTRY_BACKING);
	assert_backing_fd(e[0].fd, "d/f");
	cr_assert_eq(e[1].entry_type, FUSEBPF_ENTRY_BPF);

	/* The module gives "nopol" no policy: REMOVE_BPF, no name. */
	e = lookup_entries(FUSE_ROOT_ID, "nopol", 2, &entry);
	cr_assert_eq(e[1].entry_type, FUSEBPF_ENTRY_REMOVE_BPF);
	for (size_t i = 0; i < sizeof(e[1].name); i++)
		cr_assert_eq(e[1].name[i], 0);
	/* And below it nothing to remove: BACKING alone. */
	cr_assert_eq(mkdir(wire_path("nopol/x"), 0755), 0);
	e = lookup_entries(entry.nodeid, "x", 1, &entry);
	cr_assert_eq(e[0].entry_type, FUSEBPF_ENTRY_BACKING);
	/* A missing name: a negative entry (cache=always caches those), written, no entries. */
	cr_assert_eq(((const struct fuse_entry_out *)expect_reply(
			      send_lookup(FUSE_ROOT_ID, "missing"), 0, sizeof(entry)))->nodeid, 0);
	cr_assert_eq(W.reply_ioctl, 0);
	/* An error: written. */
	expect_error(send_lookup(FUSE_ROOT_ID, "missing/x"), -EINVAL);
	cr_assert_eq(W.reply_ioctl, 0);
	expect_alive();
}

/* Starts a filter call: the opcode with call OR-ed in. */
static void call_begin(uint32_t opcode, uint32_t call, uint64_t nodeid)
{
	req_begin(opcode | call, nodeid);
}

/* Ends a postfilter call as the RFC's kernel does: the FUSE_ERROR_IN extension. */
static uint64_t post_send(int32_t error_in)
{
	struct fusebpf_ext_error_in x = {
		.hdr = { .size = sizeof(x), .type = FUSEBPF_EXT_ERROR_IN },
		.error = error_in,
	};

	REQ_PUT(x);
	req_hdr()->total_extlen = sizeof(x) / 8;
	return req_send();
}

Test(wire_fusebpf, prefilter_calls_reach_the_modules_prefilter)
{
	struct fuse_open_in open_in = { .flags = O_RDONLY | O_NOATIME };

	WIRE_START("-o", "kernel=fusebpf,user=example:deny_uid=4242");
	init_bpf(FUSEBPF_FILTERABLE_OPS);

	/* The module rewrites "alias.f" to "f": the reply is the input as left. */
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("alias.f");
	expect_call_reply("f", 2);

	/* A name it leaves alone comes back as it went. */
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("plain");
	expect_call_reply("plain", 6);

	/* No names: the fixed input comes back byte for byte. */
	call_begin(FUSE_OPEN, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(open_in);
	expect_call_reply(&open_in, sizeof(open_in));

	/* The module refuses uid 4242: its error is the reply's. */
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_hdr()->uid = 4242;
	req_str("f");
	expect_error(req_send(), -EACCES);

	/* A rewritten name must still be a name. */
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("alias..");
	expect_error(req_send(), -EINVAL);

	/* Not a filter call: INIT cannot be filtered, and both bits are no call. */
	req_begin(FUSE_INIT | FUSEBPF_PREFILTER_CALL, 0);
	expect_error(req_send(), -ENOSYS);
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL | FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	req_str("f");
	expect_error(req_send(), -ENOSYS);
	expect_alive();
}

/*
 * The RFC marks immutable the names of CREATE, MKNOD, MKDIR, SYMLINK (the
 * new link's), UNLINK, RMDIR, RENAME and RENAME2 (both): a prefilter may
 * not change them.  Its reply holds every input argument but the last when
 * that is an immutable name; an immutable name still in it comes back as
 * sent.  LINK's new name and LOOKUP's are not immutable.
 */
Test(wire_fusebpf, prefilter_replies_leave_immutable_names_out)
{
	struct fuse_mkdir_in mk = { .mode = 0755, .umask = 022 };
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0644, .umask = 022 };
	struct fuse_create_in cr = { .flags = O_RDWR | O_CREAT, .mode = 0644, .umask = 022 };
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	struct fuse_rename2_in rn2 = { .newdir = FUSE_ROOT_ID, .flags = 1 /* NOREPLACE */ };
	struct fuse_link_in ln = { .oldnodeid = FUSE_ROOT_ID };
	char want[256];

	WIRE_START("-o", "kernel=fusebpf,user=example");
	init_bpf(FUSEBPF_FILTERABLE_OPS);

	/* MKDIR, MKNOD, CREATE: the fixed struct alone. */
	call_begin(FUSE_MKDIR, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(mk);
	req_str("d");
	expect_call_reply(&mk, sizeof(mk));
	call_begin(FUSE_MKNOD, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(mn);
	req_str("p");
	expect_call_reply(&mn, sizeof(mn));
	call_begin(FUSE_CREATE, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(cr);
	req_str("f");
	expect_call_reply(&cr, sizeof(cr));

	/* UNLINK, RMDIR: their one argument is the name: an empty reply. */
	call_begin(FUSE_UNLINK, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("f");
	expect_reply(req_send(), 0, 0);
	call_begin(FUSE_RMDIR, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("d");
	expect_reply(req_send(), 0, 0);

	/* RENAME, RENAME2: the fixed struct and the old name; the new name is left out. */
	call_begin(FUSE_RENAME, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(rn);
	req_str("a");
	req_str("b");
	memcpy(want, &rn, sizeof(rn));
	memcpy(want + sizeof(rn), "a", 2);
	expect_call_reply(want, sizeof(rn) + 2);
	call_begin(FUSE_RENAME2, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(rn2);
	req_str("a");
	req_str("b");
	memcpy(want, &rn2, sizeof(rn2));
	memcpy(want + sizeof(rn2), "a", 2);
	expect_call_reply(want, sizeof(rn2) + 2);

	/* SYMLINK: the name (immutable, not last) and the target (last, not immutable). */
	call_begin(FUSE_SYMLINK, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("l");
	req_str("alias.target");
	expect_call_reply("l\0alias.target", 15);

	/* LINK's new name may be rewritten, and comes back rewritten. */
	call_begin(FUSE_LINK, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(ln);
	req_str("alias.n");
	memcpy(want, &ln, sizeof(ln));
	memcpy(want + sizeof(ln), "n", 2);
	expect_call_reply(want, sizeof(ln) + 2);

	/* A module that renames an immutable name ("alias.X" to "X") fails the call. */
	call_begin(FUSE_MKDIR, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(mk);
	req_str("alias.d");
	expect_error(req_send(), -EINVAL);
	call_begin(FUSE_UNLINK, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("alias.f");
	expect_error(req_send(), -EINVAL);
	call_begin(FUSE_RENAME, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(rn);
	req_str("alias.a");
	req_str("b");
	expect_error(req_send(), -EINVAL);
	call_begin(FUSE_SYMLINK, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("alias.l");
	req_str("t");
	expect_error(req_send(), -EINVAL);
	cr_assert(log_has("which a FUSE-BPF kernel does not let a prefilter change"));
	expect_alive();
}

Test(wire_fusebpf, postfilter_calls_reach_the_modules_postfilter)
{
	struct fuse_getattr_in gin = { 0 };
	struct fuse_attr_out aout = { .attr_valid = 7, .attr = { .ino = 42, .mtime = 5,
								  .mode = S_IFREG | 0644 } };
	struct fuse_entry_out eout = { .nodeid = 99, .attr = { .ino = 99, .mtime = 6 } };
	struct fuse_attr_out want = aout;
	const char *p;

	WIRE_START("-o", "kernel=fusebpf,user=example");
	init_bpf(FUSEBPF_FILTERABLE_OPS);

	/* GETATTR: input, output, then FUSE_ERROR_IN; the module sets mtime. */
	call_begin(FUSE_GETATTR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(gin);
	REQ_PUT(aout);
	want.attr.mtime = EXAMPLE_MTIME;
	p = expect_reply(post_send(0), 0, sizeof(aout));
	cr_assert_eq(memcmp(p, &want, sizeof(want)), 0, "only mtime may change");

	/* The backing operation failed (error_in): the module leaves the output alone. */
	call_begin(FUSE_GETATTR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(gin);
	REQ_PUT(aout);
	p = expect_reply(post_send(-ENOENT), 0, sizeof(aout));
	cr_assert_eq(memcmp(p, &aout, sizeof(aout)), 0);

	/* LOOKUP: the name, then fuse_entry_out; the reply is written (a filter call). */
	call_begin(FUSE_LOOKUP, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	req_str("f");
	REQ_PUT(eout);
	p = expect_reply(post_send(0), 0, sizeof(eout));
	cr_assert_eq(((const struct fuse_entry_out *)p)->attr.mtime, EXAMPLE_MTIME);
	cr_assert_eq(((const struct fuse_entry_out *)p)->nodeid, 99);
	cr_assert_eq(W.reply_ioctl, 0);

	/* The module fails what it is told of "postfail.*". */
	call_begin(FUSE_LOOKUP, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	req_str("postfail.x");
	REQ_PUT(eout);
	expect_error(post_send(0), -EREMOTEIO);
	expect_alive();
}

/*
 * A READDIR postfilter call is of one entry the kernel listed: the input,
 * the entry's name, its struct fusebpf_dirent; the reply is the entry and
 * its name as the module's postfilter left them, and its error leaves the
 * entry out ("userhide." names, in the example module).
 */
Test(wire_fusebpf, readdir_postfilter_calls_are_per_entry)
{
	struct fuse_read_in rin = { .size = 4096 };
	struct fusebpf_dirent d = { .ino = 7, .off = 3, .type = DT_REG };
	const char *p;

	WIRE_START("-o", "kernel=fusebpf,user=example");
	init_bpf(FUSEBPF_FILTERABLE_OPS);

	call_begin(FUSE_READDIR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(rin);
	req_str("f");
	REQ_PUT(d);
	p = expect_reply(post_send(0), 0, sizeof(d) + 2);
	cr_assert_eq(memcmp(p, &d, sizeof(d)), 0, "the entry comes back as it was");
	cr_assert_str_eq(p + sizeof(d), "f");

	call_begin(FUSE_READDIR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(rin);
	req_str("userhide.f");
	REQ_PUT(d);
	expect_error(post_send(0), -ENOENT);

	/* No name, or a name that is none: EINVAL. */
	call_begin(FUSE_READDIR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(rin);
	REQ_PUT(d);
	expect_error(post_send(0), -EINVAL);
	call_begin(FUSE_READDIR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(rin);
	req_str("a/b");
	REQ_PUT(d);
	expect_error(post_send(0), -EINVAL);
	expect_alive();
}

/* A GETATTR postfilter call with ext (len bytes, total_extlen units) after its output. */
static uint64_t post_with(const void *ext, size_t len, uint16_t extlen)
{
	struct fuse_getattr_in gin = { 0 };
	struct fuse_attr_out aout = { .attr = { .ino = 42, .mode = S_IFREG | 0644 } };

	call_begin(FUSE_GETATTR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
	REQ_PUT(gin);
	REQ_PUT(aout);
	if (len)
		req_put(ext, len);
	req_hdr()->total_extlen = extlen;
	return req_send();
}

/* A well-formed error_in record with fields changed. */
static struct fusebpf_ext_error_in error_in(uint32_t size, uint32_t type, int32_t error,
					    uint32_t padding)
{
	return (struct fusebpf_ext_error_in){ { size, type }, error, padding };
}

/* Extensions that are not the RFC's are refused, none read past its end. */
Test(wire_fusebpf, postfilter_call_extensions_are_checked)
{
	struct fusebpf_ext_error_in x[3];
	struct fuse_ext_header unknown = { .size = 8, .type = 99 };
	char buf[sizeof(unknown) + sizeof(x[0])];

	WIRE_START("-o", "kernel=fusebpf,user=example");
	init_bpf(FUSEBPF_FILTERABLE_OPS);

	/* No extension: a postfilter call must say the backing operation's result. */
	expect_error(post_with(NULL, 0, 0), -EINVAL);
	/*
	 * The v1/v2 layout, error_in in the header's last word: total_extlen
	 * 0xfffe counts more bytes than the request has.
	 */
	{
		struct fuse_getattr_in gin = { 0 };
		struct fuse_attr_out aout = { 0 };
		int32_t e = -ENOENT;

		call_begin(FUSE_GETATTR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID);
		REQ_PUT(gin);
		REQ_PUT(aout);
		memcpy((char *)req_hdr() + sizeof(struct fuse_in_header) - 4, &e, 4);
		expect_error(req_send(), -EINVAL);
	}
	/* Record sizes: not a multiple of 8, 0, past the list, another size than 16. */
	x[0] = error_in(12, FUSEBPF_EXT_ERROR_IN, 0, 0);
	expect_error(post_with(x, 16, 2), -EINVAL);
	x[0] = error_in(0, FUSEBPF_EXT_ERROR_IN, 0, 0);
	expect_error(post_with(x, 16, 2), -EINVAL);
	x[0] = error_in(24, FUSEBPF_EXT_ERROR_IN, 0, 0);
	expect_error(post_with(x, 16, 2), -EINVAL);
	x[0] = error_in(24, FUSEBPF_EXT_ERROR_IN, 0, 0);
	x[1] = error_in(0, 0, 0, 0);
	expect_error(post_with(x, 24, 3), -EINVAL);
	/* Its contents: a real errno, padding 0, once. */
	x[0] = error_in(16, FUSEBPF_EXT_ERROR_IN, 5, 0);
	expect_error(post_with(x, 16, 2), -EINVAL);
	x[0] = error_in(16, FUSEBPF_EXT_ERROR_IN, -600, 0);
	expect_error(post_with(x, 16, 2), -EINVAL);
	x[0] = error_in(16, FUSEBPF_EXT_ERROR_IN, 0, 1);
	expect_error(post_with(x, 16, 2), -EINVAL);
	x[0] = x[1] = error_in(16, FUSEBPF_EXT_ERROR_IN, 0, 0);
	expect_error(post_with(x, 32, 4), -EINVAL);
	/* A list that reaches back into the arguments leaves them too short. */
	x[0] = error_in(16, FUSEBPF_EXT_ERROR_IN, 0, 0);
	expect_error(post_with(x, 16, 12), -EINVAL);
	/* In a prefilter call, where it means nothing. */
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("a");
	REQ_PUT(x[0]);
	req_hdr()->total_extlen = 2;
	expect_error(req_send(), -EINVAL);

	/* A record of a type fsd does not know is skipped. */
	memcpy(buf, &unknown, sizeof(unknown));
	memcpy(buf + sizeof(unknown), &x[0], sizeof(x[0]));
	expect_reply(post_with(buf, sizeof(buf), 3), 0, sizeof(struct fuse_attr_out));
	expect_alive();
}

/*
 * fsd with the example module under fusebpf.ko's INIT: d/f made, open
 * (*f, *fh), holding "hello".
 */
static void example_file_with_hello(uint64_t *f, uint64_t *fh)
{
	struct fuse_entry_out d;
	const char *p;
	uint64_t u;

	WIRE_START("-o", "kernel=fusebpf,user=example");
	init_bpf(FUSEBPF_FILTERABLE_OPS);
	d = expect_entry(send_mkdir(FUSE_ROOT_ID, "d", 0755));
	u = send_create(d.nodeid, "f", O_RDWR | O_CREAT, 0644);
	p = expect_reply(u, 0, sizeof(struct fuse_entry_out) + sizeof(struct fusebpf_open_out));
	*f = ((const struct fuse_entry_out *)p)->nodeid;
	*fh = ((const struct fusebpf_open_out *)(p + sizeof(struct fuse_entry_out)))->fh;
	expect_reply(send_write(*f, *fh, 0, "hello", 5), 0, sizeof(struct fuse_write_out));
}

Test(wire_fusebpf, plain_requests_of_a_fusebpf_kernel_go_to_userspace)
{
	uint64_t f, fh;
	const char *p;

	example_file_with_hello(&f, &fh);
	/* The kernel sent READ to us: the module's READ handler serves it. */
	p = expect_reply(send_read(f, fh, 0, 100), 0, 5);
	cr_assert_eq(memcmp(p, "HELLO", 5), 0);
	expect_error(send_release(FUSE_RELEASE, f, fh), 0);
	expect_alive();
}

/*
 * A request fusebpf.ko marks FUSEBPF_IN_BACKING is for the daemon's backing
 * operation, which the kernel does not do itself: the module's handler
 * does not see it.
 */
Test(wire_fusebpf, requests_marked_in_backing_skip_the_userspace_handler)
{
	uint64_t f, fh;
	const char *p;

	example_file_with_hello(&f, &fh);
	/* The backing file's bytes, not example's upper case. */
	req_begin(FUSE_READ, f);
	REQ_PUT(((struct fuse_read_in){ .fh = fh, .size = 100 }));
	req_hdr()->padding = FUSEBPF_IN_BACKING;
	p = expect_reply(req_send(), 0, 5);
	cr_assert_eq(memcmp(p, "hello", 5), 0, "the module's handler served a backing READ");
	expect_error(send_release(FUSE_RELEASE, f, fh), 0);
	expect_alive();
}
