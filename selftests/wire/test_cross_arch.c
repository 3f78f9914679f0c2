// SPDX-License-Identifier: MIT
/*
 * Clients of another architecture, simulated: FUSEBPF_INIT_ARCH at INIT
 * (the client's ELF e_machine, the daemon's answer), then open flags in the
 * client's values and errnos in the client's numbering.  The values the
 * tests send and expect are the kernel's uapi headers' for that
 * architecture (arch/<arch>/include/uapi/asm/{fcntl,errno}.h), written out
 * here, not taken from fsd's tables (test_arch.c checks those).
 */
#define _GNU_SOURCE
#include "wire.h"

#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(wire_arch, .fini = wire_teardown, .timeout = 60);

/* arch/arm64/include/uapi/asm/fcntl.h */
#define ARM64_O_DIRECT 0200000
#define ARM64_O_DIRECTORY 040000
/* arch/sparc/include/uapi/asm/fcntl.h and errno.h */
#define SPARC_O_CREAT 0x200
#define SPARC_O_TRUNC 0x400
#define SPARC_ENOTEMPTY 66
#define SPARC_ENAMETOOLONG 63

static const struct fusebpf_init_out *init_arch(uint32_t e_machine, uint32_t arch_flags)
{
	struct fusebpf_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = 45,
		.max_readahead = 128 * 1024,
		.arch = e_machine,
		.arch_flags = arch_flags,
	};
	uint64_t flags = kernel_init_flags(45) | FUSEBPF_INIT_ARCH;
	static struct fusebpf_init_out out;

	in.flags = (uint32_t)flags;
	in.flags2 = (uint32_t)(flags >> 32);
	req_begin(FUSE_INIT, 0);
	REQ_PUT(in);
	memcpy(&out, expect_reply(req_send(), 0, sizeof(out)), sizeof(out));
	cr_assert(out.flags2 & (FUSEBPF_INIT_ARCH >> 32), "FUSEBPF_INIT_ARCH not accepted");
	return &out;
}

/* OPEN of regular file "f" with flags: the reply's error, and its open_flags on success. */
static int open_f(uint32_t flags, uint32_t *open_flags)
{
	uint64_t f = lookup_ok(FUSE_ROOT_ID, "f"), u = send_open(f, flags);
	const struct fuse_out_header *h = reply_next();

	cr_assert_eq(h->unique, u);
	if (!h->error) {
		const struct fusebpf_open_out *o = (const void *)(h + 1);

		*open_flags = o->open_flags;
		expect_error(send_release(FUSE_RELEASE, f, o->fh), 0);
	}
	return h->error;
}

static void make_f(void)
{
	cr_assert_eq(close(open(wire_path("f"), O_CREAT | O_WRONLY, 0644)), 0);
}

Test(wire_arch, an_arm64_o_direct_opens_with_o_direct_not_o_directory)
{
	uint32_t oflags = 0;

	WIRE_START("-o", "cache=always");
	cr_assert_eq(init_arch(EM_AARCH64, 0)->arch_mode, FUSEBPF_ARCH_TRANSLATE);
	make_f();
	/* arm64's O_DIRECT is x86-64's O_DIRECTORY: untranslated, a file would be ENOTDIR. */
	cr_assert_eq(open_f(O_RDONLY | ARM64_O_DIRECT, &oflags), 0);
	cr_assert(oflags & FOPEN_DIRECT_IO, "the open was not direct I/O (open_flags %#x)", oflags);
	/* And arm64's O_DIRECTORY is a directory open: ENOTDIR on a file. */
	cr_assert_eq(open_f(O_RDONLY | ARM64_O_DIRECTORY, &oflags), -ENOTDIR);
	/* A bit arm64 does not define is refused, not guessed. */
	cr_assert_eq(open_f(O_RDONLY | 0x40000000, &oflags), -EINVAL);
	expect_alive();
}

Test(wire_arch, without_the_extension_nothing_is_translated)
{
	uint32_t oflags = 0;

	WIRE_START("-o", "cache=always");
	wire_init();
	cr_assert_eq(W.init.arch_mode, 0);
	make_f();
	cr_assert_eq(open_f(O_RDONLY | ARM64_O_DIRECT, &oflags), -ENOTDIR,
		     "an untranslated arm64 O_DIRECT is O_DIRECTORY here");
}

Test(wire_arch, a_sparc64_client_gets_its_flags_read_and_its_errnos)
{
	struct fuse_create_in c = { .flags = O_WRONLY | SPARC_O_CREAT | SPARC_O_TRUNC,
				    .mode = S_IFREG | 0644 };
	char longname[300];
	struct stat st;
	uint64_t d;

	WIRE_START("-o", "cache=never"); /* no negative entries: ENOENT itself */
	cr_assert_eq(init_arch(EM_SPARCV9, 0)->arch_mode, FUSEBPF_ARCH_TRANSLATE);
	/* sparc's O_TRUNC is x86-64's O_APPEND: the file must be truncated. */
	cr_assert_eq(mkdir(wire_path("d"), 0755), 0);
	cr_assert_eq(close(open(wire_path("d/f"), O_CREAT | O_WRONLY, 0644)), 0);
	cr_assert_eq(truncate(wire_path("d/f"), 100), 0);
	d = lookup_ok(FUSE_ROOT_ID, "d");
	req_begin(FUSE_CREATE, d);
	REQ_PUT(c);
	req_str("new");
	expect_reply(req_send(), 0, sizeof(struct fuse_entry_out) + sizeof(struct fusebpf_open_out));
	cr_assert_eq(stat(wire_path("d/new"), &st), 0, "sparc's O_CREAT did not create");
	/* Errnos in sparc's numbering: ENOTEMPTY is 66 there, 39 here. */
	req_begin(FUSE_RMDIR, FUSE_ROOT_ID);
	req_str("d");
	expect_error(req_send(), -SPARC_ENOTEMPTY);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	expect_error(send_lookup(FUSE_ROOT_ID, longname), -SPARC_ENAMETOOLONG);
	/* The same everywhere stays the same. */
	expect_error(send_lookup(FUSE_ROOT_ID, "missing"), -ENOENT);
}

static int count_lines(const char *path, const char *needle)
{
	char line[4096];
	int n = 0;
	FILE *f = fopen(path, "r");

	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

Test(wire_arch, an_unknown_architecture_gets_no_translation_and_one_warning)
{
	uint32_t oflags = 0;

	WIRE_START("-o", "cache=always");
	cr_assert_eq(init_arch(0xbeef, 0)->arch_mode, FUSEBPF_ARCH_NATIVE);
	make_f();
	for (int i = 0; i < 3; i++)
		cr_assert_eq(open_f(O_RDONLY | ARM64_O_DIRECT, &oflags), -ENOTDIR);
	expect_alive();
	cr_assert_eq(count_lines(W.log, "is unknown: its open flags"), 1,
		     "expected exactly one warning in %s", W.log);
}

Test(wire_arch, an_unknown_architecture_that_can_send_x86_64_values_is_asked_to)
{
	uint32_t oflags = 0;

	WIRE_START("-o", "cache=always");
	cr_assert_eq(init_arch(0xbeef, FUSEBPF_ARCH_CAN_CANONICAL)->arch_mode,
		     FUSEBPF_ARCH_CANONICAL);
	make_f();
	cr_assert_eq(open_f(O_RDONLY | O_DIRECT, &oflags), 0);
	cr_assert(oflags & FOPEN_DIRECT_IO);
	cr_assert_eq(count_lines(W.log, "is unknown"), 0);
}

Test(wire_arch, the_same_architecture_needs_nothing)
{
	WIRE_START("-o", "cache=always");
	cr_assert_eq(init_arch(EM_X86_64, 0)->arch_mode, FUSEBPF_ARCH_NATIVE);
	expect_alive();
}

/* A big-endian client's INIT, as read here: EPROTO, in its byte order. */
Test(wire_arch, a_client_of_the_other_byte_order_gets_eproto_in_its_order)
{
	const struct fuse_out_header *h;
	uint64_t u;

	WIRE_START("-o", "cache=always");
	req_begin(FUSE_INIT, 0);
	req_hdr()->opcode = __builtin_bswap32(FUSE_INIT);
	{
		uint32_t head[4] = { __builtin_bswap32(7), __builtin_bswap32(45), 0, 0 };

		req_put(head, sizeof(head));
	}
	req_forge_len(__builtin_bswap32(sizeof(struct fuse_in_header) + 16));
	u = req_send();
	/* Read raw: the harness's own checks assume this machine's byte order. */
	{
		static unsigned char buf[256];
		struct pollfd p = { .fd = W.fd, .events = POLLIN };
		ssize_t n;

		cr_assert_eq(poll(&p, 1, WIRE_TIMEOUT_MS), 1, "no reply");
		n = recv(W.fd, buf, sizeof(buf), 0);
		cr_assert_eq(n, (ssize_t)sizeof(*h));
		h = (const void *)buf;
	}
	cr_assert_eq(__builtin_bswap32(h->len), sizeof(*h), "the length, swapped");
	cr_assert_eq((int32_t)__builtin_bswap32((uint32_t)h->error), -EPROTO);
	cr_assert_eq(h->unique, u, "unique echoed as its bytes came");
}
