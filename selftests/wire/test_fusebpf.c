// SPDX-License-Identifier: MIT
/*
 * A FUSE-BPF kernel, simulated: FUSEBPF_INIT_BPF and the opcode masks at
 * INIT, the backing and BPF entries of LOOKUP replies, and the userspace
 * prefilter and postfilter calls (opcode | 0x10000, | 0x20000), served by
 * the same userspace module as in daemon mode (fsd/user_example.c).  Every
 * byte of the replies is checked.  docs/abi.md defines the wire.
 */
#define _GNU_SOURCE
#include "wire.h"
#include "../integration/fixture.h"

#include <criterion/criterion.h>
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

/* INIT 7.45 as this machine's kernel sends it, plus the FUSE-BPF words. */
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

Test(wire_fusebpf, init_takes_the_masks_only_when_offered)
{
	const struct fusebpf_init_out *o;
	uint64_t user = (1ULL << FUSE_OPEN) | (1ULL << FUSE_UNLINK);

	WIRE_START("-o", "user_ops=open,unlink");
	/* The kernel can do UNLINK on backing files but not OPEN, say. */
	o = init_bpf(FUSEBPF_FILTERABLE_OPS & ~(1ULL << FUSE_OPEN));
	cr_assert(o->flags2 & (FUSEBPF_INIT_BPF >> 32), "FUSEBPF_INIT_BPF not accepted");
	cr_assert_eq(o->bpf_user_ops, user & ~(1ULL << FUSE_OPEN),
		     "user ops %#llx: the daemon's, among those the kernel can do",
		     (unsigned long long)o->bpf_user_ops);
	expect_alive();
	cr_assert_eq(wire_stop(), 0);

	/* A mainline kernel: no flag back, the words stay 0. */
	WIRE_START("-o", "user_ops=open,unlink");
	wire_init();
	cr_assert_not(W.init.flags2 & (FUSEBPF_INIT_BPF >> 32));
	cr_assert_eq(W.init.bpf_user_ops, 0);
	cr_assert_eq(W.init.arch_mode, 0);
}

Test(wire_fusebpf, filter_calls_without_the_extension_get_enosys)
{
	WIRE_START("-o", "user=example");
	wire_init();
	req_begin(FUSE_LOOKUP | FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID);
	req_str("a");
	expect_error(req_send(), -ENOSYS);
	expect_alive();
}

/* The entries after fuse_entry_out in a LOOKUP reply. */
static const struct fusebpf_lookup_entry *lookup_entries(uint64_t parent, const char *name,
							 size_t n, struct fuse_entry_out *entry)
{
	const unsigned char *p;

	p = expect_reply(send_lookup(parent, name), 0,
			 sizeof(*entry) + n * sizeof(struct fusebpf_lookup_entry));
	memcpy(entry, p, sizeof(*entry));
	return (const void *)(p + sizeof(*entry));
}

/* The backing fd in an entry was the daemon's own fd of that backing file. */
static void assert_backing_fd(uint64_t fd, const char *rel)
{
	char pattern[PATH_MAX + 64], log[1 << 16] = "";
	FILE *f;
	size_t n;

	snprintf(pattern, sizeof(pattern), "BACKING fd=%llu (%s)", (unsigned long long)fd,
		 wire_path(rel));
	f = fopen(W.log, "r");
	cr_assert(f);
	n = fread(log, 1, sizeof(log) - 1, f);
	fclose(f);
	log[n] = '\0';
	cr_assert(strstr(log, pattern), "the daemon did not resolve fd %llu to %s: %s",
		  (unsigned long long)fd, wire_path(rel), log);
}

Test(wire_fusebpf, lookup_replies_carry_backing_and_policy_entries)
{
	char pol[16], out[4096], cmd[512];
	const struct fusebpf_lookup_entry *e;
	struct fuse_entry_out entry;
	struct stat st;

	if (geteuid() != 0)
		cr_skip_test("loading a policy needs root");
	snprintf(pol, sizeof(pol), "t%dw", (int)getpid() % 10000000);
	snprintf(cmd, sizeof(cmd), "'%s' load passthrough --name %s 2>&1", fusebpf_bin(), pol);
	{
		FILE *f = popen(cmd, "r");

		cr_assert(f);
		out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
		cr_assert_eq(pclose(f), 0, "%s: %s", cmd, out);
	}
	{
		char opt[64];

		snprintf(opt, sizeof(opt), "policy=%s,user=example", pol);
		WIRE_START("-o", opt);
	}
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
	/* A missing name: a negative entry (cache=always caches those), no entries. */
	cr_assert_eq(((const struct fuse_entry_out *)expect_reply(
			      send_lookup(FUSE_ROOT_ID, "missing"), 0, sizeof(entry)))->nodeid, 0);
	expect_alive();
	cr_assert_eq(wire_stop(), 0);
	snprintf(cmd, sizeof(cmd), "'%s' unload %s >/dev/null 2>&1", fusebpf_bin(), pol);
	cr_assert_eq(system(cmd), 0);
}

/* Sends a filter call: the opcode with call OR-ed in; error_in in the header's last word. */
static void call_begin(uint32_t opcode, uint32_t call, uint64_t nodeid, int32_t error_in)
{
	req_begin(opcode | call, nodeid);
	memcpy((char *)req_hdr() + sizeof(struct fuse_in_header) - 4, &error_in, 4);
}

Test(wire_fusebpf, prefilter_calls_reach_the_modules_prefilter)
{
	struct fuse_open_in open_in = { .flags = O_RDONLY | O_NOATIME };
	const char *p;

	WIRE_START("-o", "user=example:deny_uid=4242");
	init_bpf(FUSEBPF_FILTERABLE_OPS);

	/* The module rewrites "alias.f" to "f": the reply is the input as left. */
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID, 0);
	req_str("alias.f");
	p = expect_reply(req_send(), 0, 2);
	cr_assert_eq(memcmp(p, "f", 2), 0);

	/* A name it leaves alone comes back as it went. */
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID, 0);
	req_str("plain");
	p = expect_reply(req_send(), 0, 6);
	cr_assert_eq(memcmp(p, "plain", 6), 0);

	/* RENAME: the fixed struct, then both names. */
	{
		struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
		char want[sizeof(rn) + 8];

		call_begin(FUSE_RENAME, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID, 0);
		REQ_PUT(rn);
		req_str("alias.a");
		req_str("b");
		memcpy(want, &rn, sizeof(rn));
		memcpy(want + sizeof(rn), "a\0b", 4);
		p = expect_reply(req_send(), 0, sizeof(rn) + 4);
		cr_assert_eq(memcmp(p, want, sizeof(rn) + 4), 0);
	}

	/* No names: the fixed input comes back byte for byte. */
	call_begin(FUSE_OPEN, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID, 0);
	REQ_PUT(open_in);
	p = expect_reply(req_send(), 0, sizeof(open_in));
	cr_assert_eq(memcmp(p, &open_in, sizeof(open_in)), 0);

	/* The module refuses uid 4242: its error is the reply's. */
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID, 0);
	req_hdr()->uid = 4242;
	req_str("f");
	expect_error(req_send(), -EACCES);

	/* A rewritten name must still be a name. */
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL, FUSE_ROOT_ID, 0);
	req_str("alias..");
	expect_error(req_send(), -EINVAL);

	/* Not a filter call: INIT cannot be filtered, and both bits are no call. */
	req_begin(FUSE_INIT | FUSEBPF_PREFILTER_CALL, 0);
	expect_error(req_send(), -ENOSYS);
	call_begin(FUSE_LOOKUP, FUSEBPF_PREFILTER_CALL | FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID, 0);
	req_str("f");
	expect_error(req_send(), -ENOSYS);
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

	WIRE_START("-o", "user=example");
	init_bpf(FUSEBPF_FILTERABLE_OPS);

	/* GETATTR: input, then the backing operation's output; the module sets mtime. */
	call_begin(FUSE_GETATTR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID, 0);
	REQ_PUT(gin);
	REQ_PUT(aout);
	want.attr.mtime = EXAMPLE_MTIME;
	p = expect_reply(req_send(), 0, sizeof(aout));
	cr_assert_eq(memcmp(p, &want, sizeof(want)), 0, "only mtime may change");

	/* The backing operation failed (error_in): the module leaves the output alone. */
	call_begin(FUSE_GETATTR, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID, -ENOENT);
	REQ_PUT(gin);
	REQ_PUT(aout);
	p = expect_reply(req_send(), 0, sizeof(aout));
	cr_assert_eq(memcmp(p, &aout, sizeof(aout)), 0);

	/* LOOKUP: the name, then fuse_entry_out. */
	call_begin(FUSE_LOOKUP, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID, 0);
	req_str("f");
	REQ_PUT(eout);
	p = expect_reply(req_send(), 0, sizeof(eout));
	cr_assert_eq(((const struct fuse_entry_out *)p)->attr.mtime, EXAMPLE_MTIME);
	cr_assert_eq(((const struct fuse_entry_out *)p)->nodeid, 99);

	/* The module fails what it is told of "postfail.*". */
	call_begin(FUSE_LOOKUP, FUSEBPF_POSTFILTER_CALL, FUSE_ROOT_ID, 0);
	req_str("postfail.x");
	REQ_PUT(eout);
	expect_error(req_send(), -EREMOTEIO);
	expect_alive();
}

Test(wire_fusebpf, plain_requests_of_a_fusebpf_kernel_go_to_userspace)
{
	struct fuse_entry_out d;
	uint64_t u, f, fh;
	const char *p;

	WIRE_START("-o", "user=example");
	init_bpf(FUSEBPF_FILTERABLE_OPS);
	d = expect_entry(send_mkdir(FUSE_ROOT_ID, "d", 0755));
	u = send_create(d.nodeid, "f", O_RDWR | O_CREAT, 0644);
	p = expect_reply(u, 0, sizeof(struct fuse_entry_out) + sizeof(struct fusebpf_open_out));
	f = ((const struct fuse_entry_out *)p)->nodeid;
	fh = ((const struct fusebpf_open_out *)(p + sizeof(struct fuse_entry_out)))->fh;
	expect_reply(send_write(f, fh, 0, "hello", 5), 0, sizeof(struct fuse_write_out));
	/* The kernel sent READ to us: the module's READ handler serves it. */
	p = expect_reply(send_read(f, fh, 0, 100), 0, 5);
	cr_assert_eq(memcmp(p, "HELLO", 5), 0);
	expect_error(send_release(FUSE_RELEASE, f, fh), 0);
	expect_alive();
}
