// SPDX-License-Identifier: MIT
/*
 * INIT negotiation against simulated kernels: every protocol from 7.31 to
 * 7.45 (and a later one), as shipped, without FUSE_INIT_EXT, without
 * FUSE_PASSTHROUGH and offering nothing; a higher major (the major-only
 * reply, then the second INIT the protocol expects), a lower major, minors
 * fsd does not serve, short and oversized INIT bodies, INIT_EXT without
 * flags2, a second INIT after the first, and requests before INIT.
 *
 * Every byte of the 64-byte fuse_init_out is checked against what fsd must
 * answer, and the reply is also put through the checks the kernel makes in
 * process_init_reply (fs/fuse/inode.c) and fuse_dev_do_write (fs/fuse/dev.c).
 *
 * What a correct server answers, and why:
 *  - major > 7: the protocol's rule (include/uapi/linux/fuse.h, "Version
 *    negotiation") is to reply with our major and expect a new INIT.  fsd
 *    sends only the 7.0 head {major, minor} (FUSE_COMPAT_INIT_OUT_SIZE): the
 *    kernel reads INIT's reply as a variable-length argument, zero-filling
 *    what is short, and no other field has a layout a different major
 *    would share.  The session starts only with the 7.x INIT that follows.
 *  - major < 7, or 7.x older than 7.31: EPROTO, as libfuse answers a major
 *    it cannot speak.  (Before 7.23 a kernel expected a 24-byte reply,
 *    FUSE_COMPAT_22_INIT_OUT_SIZE, and would refuse 64 bytes: fsd never
 *    sends a struct to those, only the error.)
 *  - a body shorter than the 16-byte 7.x head: EINVAL, like every request
 *    shorter than its fixed struct; the session does not start.
 *  - a body longer than fsd's fuse_init_in: a later kernel's struct, read as
 *    far as fsd knows it.
 *  - a second INIT after one was answered: EIO, as libfuse answers it, and
 *    nothing is renegotiated.  Every request before INIT: EIO too (FORGET
 *    and the other no-reply opcodes get none).
 */
#define _GNU_SOURCE
#include "wire.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(wire_init, .fini = wire_teardown, .timeout = 120);

/* fsd's answer to a kernel, field by field (its documented behaviour). */
#define FSD_MINOR	  45
#define FSD_MAX_WRITE	  (1u << 20)
#define FSD_MAX_PAGES	  256
#define FSD_MAX_BG	  64
#define FSD_CONGESTION	  48
#define KERNEL_READAHEAD  (128 * 1024)
/* The flags fsd asks for: cache, passthrough and permission options decide three groups. */
#define WANT_ALWAYS                                                                        \
	(FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS |   \
	 FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_ASYNC_DIO |  \
	 FUSE_INIT_EXT | FUSEBPF_DIRECT_IO_ALLOW_MMAP | FUSE_HANDLE_KILLPRIV_V2 |          \
	 FUSE_SETXATTR_EXT)
#define WANT_CACHED	 FUSE_CACHE_SYMLINKS
#define WANT_PASSTHROUGH FUSEBPF_PASSTHROUGH
#define WANT_PERMISSIONS (FUSE_POSIX_ACL | FUSE_DONT_MASK)
/* The harness's backing dir is no filesystem's root: file handles refused (node_exportable). */
#define WANT_HANDLES	 FUSEBPF_NO_EXPORT_SUPPORT
#define WANT_DEFAULT	 (WANT_ALWAYS | WANT_CACHED | WANT_PASSTHROUGH | WANT_PERMISSIONS | WANT_HANDLES)

/*
 * The flags a kernel sees offered by this INIT: the low word, and flags2
 * only with FUSE_INIT_EXT and a body that holds it.
 */
static uint64_t offered_of(uint64_t flags, size_t in_size)
{
	uint64_t offered = (uint32_t)flags;

	if ((flags & FUSE_INIT_EXT) && in_size >= 20)
		offered |= flags & 0xffffffff00000000ull;
	return offered;
}

static struct fusebpf_init_out init_expected(unsigned minor, uint64_t offered, uint64_t wants)
{
	uint64_t granted = offered & wants;
	struct fusebpf_init_out o;

	if (minor < 40) /* no passthrough before 7.40, whatever the flags say */
		granted &= ~FUSEBPF_PASSTHROUGH;
	memset(&o, 0, sizeof(o));
	o.major = FUSE_KERNEL_VERSION;
	o.minor = FSD_MINOR;
	o.max_readahead = KERNEL_READAHEAD;
	o.flags = (uint32_t)granted;
	o.flags2 = (uint32_t)(granted >> 32);
	o.max_background = FSD_MAX_BG;
	o.congestion_threshold = FSD_CONGESTION;
	o.max_write = FSD_MAX_WRITE;
	o.time_gran = 1;
	o.max_pages = FSD_MAX_PAGES;
	o.max_stack_depth = (granted & FUSEBPF_PASSTHROUGH) ? 1 : 0;
	return o;
}

/* What process_init_reply accepts and how it reads the reply. */
static void kernel_accepts(const struct fusebpf_init_out *o, uint64_t offered)
{
	uint64_t flags = o->flags;

	cr_assert_eq(o->major, FUSE_KERNEL_VERSION, "the kernel fails a reply of major %u",
		     o->major);
	if (flags & FUSE_INIT_EXT)
		flags |= (uint64_t)o->flags2 << 32;
	cr_assert_eq(flags & ~offered, 0, "granted flags the kernel did not offer: %#llx",
		     (unsigned long long)(flags & ~offered));
	if (flags & FUSEBPF_PASSTHROUGH) {
		/* Otherwise the kernel silently leaves passthrough off. */
		cr_assert(o->max_stack_depth >= 1 && o->max_stack_depth <= 2,
			  "passthrough with max_stack_depth %u", o->max_stack_depth);
		cr_assert_not(flags & FUSE_WRITEBACK_CACHE, "passthrough with writeback cache");
	}
	cr_assert_geq(o->max_write, 4096);
	cr_assert(o->max_pages >= 1 && o->max_pages <= 256, "max_pages %u", o->max_pages);
	cr_assert(o->time_gran >= 1 && o->time_gran <= 1000000000, "time_gran %u", o->time_gran);
	cr_assert_leq(o->congestion_threshold, o->max_background);
}

static const char *const field_names[16] = {
	"major",	 "minor",	  "max_readahead",  "flags",
	"max_background/congestion_threshold", "max_write", "time_gran",
	"max_pages/map_alignment", "flags2", "max_stack_depth",
	"request_timeout/unused",  "unused", "unused", "unused", "unused", "unused",
};

/* Every byte, with the first differing 32-bit word named. */
static void assert_init_bytes(const void *got, const struct fusebpf_init_out *want)
{
	const uint32_t *g = got, *w = (const void *)want;

	for (int i = 0; i < 16; i++)
		cr_assert_eq(g[i], w[i], "fuse_init_out word %d (%s): %#x, expected %#x", i,
			     field_names[i], g[i], w[i]);
}

/* Sends one INIT and checks the whole reply; the session is then in service. */
static void init_and_check(unsigned minor, uint64_t flags, size_t in_size, uint64_t wants)
{
	uint64_t offered = offered_of(flags, in_size);
	struct fusebpf_init_out want;
	const void *got;

	/*
	 * This project's extensions (test_fusebpf.c) are taken when offered
	 * with a whole fuse_init_in; here their words are 0: an unknown client
	 * architecture, left untranslated.  The opcode masks are declined: the
	 * daemon runs kernel=fuse, the filters are its own.
	 */
	if (in_size >= sizeof(struct fusebpf_init_in))
		wants |= FUSEBPF_INIT_ARCH;
	want = init_expected(minor, offered, wants);

	got = expect_reply(send_init(FUSE_KERNEL_VERSION, minor, flags, in_size), 0,
			   sizeof(struct fusebpf_init_out));
	assert_init_bytes(got, &want);
	kernel_accepts(got, offered);
	expect_alive();
}

/* One session: start, INIT, check, a request, stop. */
static void session(unsigned minor, uint64_t flags, size_t in_size)
{
	wire_setup_no_init();
	init_and_check(minor, flags, in_size, WANT_DEFAULT);
	cr_assert_eq(wire_stop(), 0);
}

ParameterizedTestParameters(wire_init, kernel_versions)
{
	static unsigned minors[] = { 31, 32, 33, 34, 35, 36, 37, 38, 39,
				     40, 41, 42, 43, 44, 45, 46 };

	return cr_make_param_array(unsigned, minors, sizeof(minors) / sizeof(minors[0]));
}

ParameterizedTest(unsigned *minor, wire_init, kernel_versions)
{
	uint64_t flags = kernel_init_flags(*minor);
	size_t size = kernel_init_in_size(*minor);

	/* As shipped. */
	session(*minor, flags, size);
	/* Without FUSE_INIT_EXT: flags2 is there (7.36+) but must be ignored. */
	session(*minor, flags & ~(uint64_t)FUSE_INIT_EXT, size);
	/* Without passthrough (CONFIG_FUSE_PASSTHROUGH=n). */
	session(*minor, flags & ~FUSEBPF_PASSTHROUGH, size);
	/* Offering nothing at all. */
	session(*minor, 0, size);
	/* Every bit, defined in this version or not: passthrough only from 7.40. */
	session(*minor, ~0ull, size);
}

/* This machine's kernel: passthrough granted with depth 1, flags2 used. */
Test(wire_init, this_kernel_gets_passthrough)
{
	const struct fusebpf_init_out *o;

	wire_setup_no_init();
	o = expect_reply(send_init(7, 45, kernel_init_flags(45), 64), 0, sizeof(*o));
	cr_assert(o->flags & FUSE_INIT_EXT);
	cr_assert(o->flags2 & (FUSEBPF_PASSTHROUGH >> 32));
	cr_assert_eq(o->max_stack_depth, 1);
	cr_assert_eq(o->minor, 45);
}

/* The options decide what is asked for. */
Test(wire_init, options_decide_the_flags)
{
	WIRE_START("-o", "cache=never,passthrough=off,no_default_permissions,no_allow_other");
	init_and_check(45, kernel_init_flags(45), 64, WANT_ALWAYS | WANT_HANDLES);
	cr_assert_eq(wire_stop(), 0);

	WIRE_START("-o", "cache=auto");
	init_and_check(45, kernel_init_flags(45), 64, WANT_DEFAULT);
}

/* A later kernel: a longer fuse_init_in and flags fsd does not know. */
Test(wire_init, later_kernel_longer_init_and_unknown_flags)
{
	wire_setup_no_init();
	init_and_check(46, ~0ull, 128, WANT_DEFAULT);
	cr_assert_eq(wire_stop(), 0);

	wire_setup_no_init();
	init_and_check(1000, kernel_init_flags(45), 4096, WANT_DEFAULT);
}

/* The oversized body's extra bytes are not read as anything. */
Test(wire_init, oversized_body_is_ignored_past_fuse_init_in)
{
	unsigned char body[200];
	struct fuse_init_in in = { .major = 7,
				   .minor = 45,
				   .max_readahead = KERNEL_READAHEAD,
				   .flags = (uint32_t)kernel_init_flags(45),
				   .flags2 = (uint32_t)(kernel_init_flags(45) >> 32) };
	struct fusebpf_init_out want = init_expected(45, kernel_init_flags(45), WANT_DEFAULT);

	wire_setup_no_init();
	memset(body, 0xff, sizeof(body));
	memcpy(body, &in, sizeof(in));
	req_begin(FUSE_INIT, 0);
	req_put(body, sizeof(body));
	assert_init_bytes(expect_reply(req_send(), 0, sizeof(want)), &want);
	expect_alive();
}

/* INIT_EXT offered, but the body ends before flags2: there is no flags2. */
Test(wire_init, init_ext_without_room_for_flags2)
{
	for (size_t size = 16; size <= 20; size++) {
		wire_setup_no_init();
		init_and_check(45, kernel_init_flags(45), size, WANT_DEFAULT);
		if (size < 20)
			cr_assert_eq(W.init.flags2, 0);
		cr_assert_eq(wire_stop(), 0);
	}
}

/*
 * A kernel of a higher major: the major-only reply (8 bytes: 7 and our
 * minor), no session yet; then the 7.x INIT the protocol promises.
 */
Test(wire_init, higher_major_gets_major_only_reply_then_retry)
{
	static const uint32_t majors[] = { 8, 9, 0xffffffffu };
	const uint32_t *head;

	wire_setup_no_init();
	for (size_t i = 0; i < sizeof(majors) / sizeof(majors[0]); i++) {
		head = expect_reply(send_init(majors[i], 0, ~0ull, 64), 0,
				    FUSE_COMPAT_INIT_OUT_SIZE);
		cr_assert_eq(head[0], FUSE_KERNEL_VERSION, "major %u", head[0]);
		cr_assert_eq(head[1], FSD_MINOR, "minor %u", head[1]);
		/* Not in session yet. */
		expect_error(send_getattr(FUSE_ROOT_ID), -EIO);
	}
	init_and_check(45, kernel_init_flags(45), 64, WANT_DEFAULT);
	/* Now in session: another INIT, of any major, is refused. */
	expect_error(send_init(8, 0, 0, 64), -EIO);
	expect_alive();
}

Test(wire_init, lower_major_eproto)
{
	wire_setup_no_init();
	expect_error(send_init(6, 45, kernel_init_flags(45), 64), -EPROTO);
	expect_error(send_init(0, 0, 0, 16), -EPROTO);
	expect_error(send_getattr(FUSE_ROOT_ID), -EIO);
	init_and_check(45, kernel_init_flags(45), 64, WANT_DEFAULT);
}

/* Older than 7.31: a bare EPROTO, never a struct an old kernel would misread. */
Test(wire_init, minors_before_7_31_eproto)
{
	static const uint32_t minors[] = { 30, 23, 22, 5, 0 };

	wire_setup_no_init();
	for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++)
		expect_error(send_init(7, minors[i], kernel_init_flags(31), 16), -EPROTO);
	expect_error(send_getattr(FUSE_ROOT_ID), -EIO);
	init_and_check(31, kernel_init_flags(31), 16, WANT_DEFAULT);
}

/* Shorter than the 16-byte head every kernel sends: EINVAL, no session. */
Test(wire_init, short_body_einval)
{
	static const size_t sizes[] = { 0, 4, 8, 12, 15 };

	wire_setup_no_init();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		expect_error(send_init(7, 45, kernel_init_flags(45), sizes[i]), -EINVAL);
	expect_error(send_getattr(FUSE_ROOT_ID), -EIO);
	init_and_check(45, kernel_init_flags(45), 64, WANT_DEFAULT);
}

/*
 * A second INIT is refused and renegotiates nothing.  Seen through
 * DONT_MASK: the first INIT does not offer it, so the kernel applies the
 * umask and fsd must not; the refused second INIT offers it.
 */
Test(wire_init, second_init_eio_and_nothing_renegotiated)
{
	uint64_t flags = kernel_init_flags(45) & ~(uint64_t)FUSE_DONT_MASK;
	const struct fuse_entry_out *entry;
	const struct fusebpf_open_out *opened;
	struct stat st;
	const char *p;
	uint64_t u;

	wire_setup_no_init();
	init_and_check(45, flags, 64, WANT_DEFAULT);
	expect_error(send_init(7, 45, kernel_init_flags(45), 64), -EIO);
	expect_error(send_init(7, 45, flags, 64), -EIO);

	u = send_create(FUSE_ROOT_ID, "f", O_WRONLY | O_CREAT, 0666); /* umask 022 */
	p = expect_reply(u, 0, sizeof(struct fuse_entry_out) + sizeof(struct fusebpf_open_out));
	entry = (const struct fuse_entry_out *)p;
	opened = (const struct fusebpf_open_out *)(entry + 1);
	cr_assert_eq(stat(wire_path("f"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0666, "mode %o: fsd applied a umask it was not given",
		     st.st_mode & 0777);
	expect_error(send_release(FUSE_RELEASE, entry->nodeid, opened->fh), 0);
}

/* The kernel sends nothing before INIT: all of it is refused, nothing is done. */
Test(wire_init, requests_before_init)
{
	struct fuse_forget_in forget = { .nlookup = 1 };
	struct fuse_interrupt_in intr = { .unique = 2 };

	wire_setup_no_init();
	cr_assert_eq(mkdir(wire_path("d"), 0755), 0);
	expect_error(send_getattr(FUSE_ROOT_ID), -EIO);
	expect_error(send_lookup(FUSE_ROOT_ID, "d"), -EIO);
	expect_error(send_mkdir(FUSE_ROOT_ID, "new", 0755), -EIO);
	expect_error(send_opendir(FUSE_ROOT_ID), -EIO);
	req_begin(FUSE_STATFS, FUSE_ROOT_ID);
	expect_error(req_send(), -EIO);
	req_begin(FUSE_DESTROY, 0);
	expect_error(req_send(), -EIO);
	/* No reply to these, even refused. */
	req_begin(FUSE_FORGET, FUSE_ROOT_ID);
	REQ_PUT(forget);
	req_send();
	req_begin(FUSE_INTERRUPT, 0);
	REQ_PUT(intr);
	req_send();
	/* Opcodes without a row: ENOSYS, before or after INIT. */
	req_begin(99, FUSE_ROOT_ID);
	expect_error(req_send(), -ENOSYS);
	cr_assert_neq(access(wire_path("new"), F_OK), 0, "MKDIR before INIT created something");

	init_and_check(45, kernel_init_flags(45), 64, WANT_DEFAULT);
	lookup_ok(FUSE_ROOT_ID, "d");
}

/* max_readahead is the kernel's, echoed: fsd reads ahead nothing itself. */
Test(wire_init, max_readahead_echoed)
{
	static const uint32_t values[] = { 0, 4096, 1u << 20 };

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct fuse_init_in in = { .major = 7, .minor = 45, .max_readahead = values[i] };
		const struct fusebpf_init_out *o;

		wire_setup_no_init();
		req_begin(FUSE_INIT, 0);
		REQ_PUT(in);
		o = expect_reply(req_send(), 0, sizeof(*o));
		cr_assert_eq(o->max_readahead, values[i]);
		cr_assert_eq(wire_stop(), 0);
	}
}
