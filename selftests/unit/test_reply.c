// SPDX-License-Identifier: MIT
/*
 * Reply encoding (fsd/reply.c): struct stat to struct fuse_attr, entry and
 * attribute replies carrying the configured timeouts, negative entries, the
 * kernel's 8-byte aligned dirent and direntplus records, and the split of a
 * timeout in seconds into whole seconds and nanoseconds.
 *
 * The record layouts are checked against the kernel ABI spelled out here
 * (offsets 24 and 152), not only against fuse.h's own macros.
 */
#define _GNU_SOURCE
#include "../../fsd/fsd.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

TestSuite(reply, .timeout = 10);

/* struct fuse_dirent: ino, off, namelen, type, then the name. */
#define DIRENT_NAME_OFFSET 24
/* struct fuse_direntplus: a 128-byte fuse_entry_out, then a fuse_dirent. */
#define DIRENTPLUS_NAME_OFFSET (128 + DIRENT_NAME_OFFSET)

/* The timeouts the configuration gives, as requests without a per-caller policy use. */
static const struct cache_timeouts *config_timeouts(void)
{
	static struct cache_timeouts t;

	cache_timeouts_from_config(&t);
	return &t;
}

static struct stat sample_stat(void)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_ino = 0x1122334455667788ull;
	st.st_size = 0x123456789abull;
	st.st_blocks = 4242;
	st.st_atim = (struct timespec){ 1700000001, 111111111 };
	st.st_mtim = (struct timespec){ 1700000002, 222222222 };
	st.st_ctim = (struct timespec){ 1700000003, 333333333 };
	st.st_mode = S_IFREG | 04751;
	st.st_nlink = 3;
	st.st_uid = 1234;
	st.st_gid = 5678;
	st.st_rdev = makedev(259, 70000);
	st.st_blksize = 65536;
	return st;
}

static void assert_attr_is(const struct fuse_attr *a, const struct stat *st)
{
	cr_assert_eq(a->ino, st->st_ino);
	cr_assert_eq(a->size, (uint64_t)st->st_size);
	cr_assert_eq(a->blocks, (uint64_t)st->st_blocks);
	cr_assert_eq(a->atime, (uint64_t)st->st_atim.tv_sec);
	cr_assert_eq(a->mtime, (uint64_t)st->st_mtim.tv_sec);
	cr_assert_eq(a->ctime, (uint64_t)st->st_ctim.tv_sec);
	cr_assert_eq(a->atimensec, st->st_atim.tv_nsec);
	cr_assert_eq(a->mtimensec, st->st_mtim.tv_nsec);
	cr_assert_eq(a->ctimensec, st->st_ctim.tv_nsec);
	cr_assert_eq(a->mode, st->st_mode);
	cr_assert_eq(a->nlink, st->st_nlink);
	cr_assert_eq(a->uid, st->st_uid);
	cr_assert_eq(a->gid, st->st_gid);
	cr_assert_eq(a->blksize, st->st_blksize);
	cr_assert_eq(a->flags, 0);
}

Test(reply, attr_from_stat_fields)
{
	struct stat st = sample_stat();
	struct fuse_attr a;

	memset(&a, 0xff, sizeof(a));
	attr_from_stat(&a, &st);
	assert_attr_is(&a, &st);
	/* The kernel decodes rdev as its own 32-bit dev_t (12-bit major, 20-bit minor). */
	cr_assert_eq((a.rdev & 0xfff00) >> 8, 259, "rdev %#x", a.rdev);
	cr_assert_eq((a.rdev & 0xff) | ((a.rdev >> 12) & 0xfff00), 70000, "rdev %#x", a.rdev);
}

/* The same for what fstat says of a real file. */
Test(reply, attr_from_real_stat)
{
	char path[] = "/tmp/fsd-reply.XXXXXX";
	struct fuse_attr a;
	struct stat st;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	unlink(path);
	cr_assert_eq(write(fd, "twelve bytes", 12), 12);
	cr_assert_eq(fstat(fd, &st), 0);
	close(fd);
	attr_from_stat(&a, &st);
	assert_attr_is(&a, &st);
	cr_assert_eq(a.size, 12);
	cr_assert_eq(a.nlink, 0);
	cr_assert(S_ISREG(a.mode));
}

Test(reply, entry_fill_uses_configured_timeouts)
{
	struct stat st = sample_stat();
	struct fuse_entry_out e;

	fsd_config.entry_timeout = 1.5;
	fsd_config.attr_timeout = 2.25;
	fsd_config.negative_timeout = 9;
	memset(&e, 0xff, sizeof(e));
	entry_fill(&e, 77, 0xdeadbeef, &st, config_timeouts());
	cr_assert_eq(e.nodeid, 77);
	cr_assert_eq(e.generation, 0xdeadbeef);
	cr_assert_eq(e.entry_valid, 1);
	cr_assert_eq(e.entry_valid_nsec, 500000000);
	cr_assert_eq(e.attr_valid, 2);
	cr_assert_eq(e.attr_valid_nsec, 250000000);
	assert_attr_is(&e.attr, &st);
}

Test(reply, entry_fill_cache_always)
{
	struct stat st = sample_stat();
	struct fuse_entry_out e;

	fsd_config.entry_timeout = fsd_config.attr_timeout = 86400;
	entry_fill(&e, 2, 0, &st, config_timeouts());
	cr_assert_eq(e.entry_valid, 86400);
	cr_assert_eq(e.entry_valid_nsec, 0);
	cr_assert_eq(e.attr_valid, 86400);
	cr_assert_eq(e.attr_valid_nsec, 0);
}

Test(reply, entry_fill_negative_has_no_node)
{
	struct fuse_entry_out e, zero;

	fsd_config.entry_timeout = 5;
	fsd_config.attr_timeout = 6;
	fsd_config.negative_timeout = 3.75;
	memset(&e, 0xff, sizeof(e));
	entry_fill_negative(&e, config_timeouts());
	cr_assert_eq(e.nodeid, 0);
	cr_assert_eq(e.generation, 0);
	cr_assert_eq(e.entry_valid, 3);
	cr_assert_eq(e.entry_valid_nsec, 750000000);
	cr_assert_eq(e.attr_valid, 0);
	cr_assert_eq(e.attr_valid_nsec, 0);
	memset(&zero, 0, sizeof(zero));
	cr_assert_eq(memcmp(&e.attr, &zero.attr, sizeof(e.attr)), 0, "attributes not zeroed");
}

Test(reply, attr_out_fill)
{
	struct stat st = sample_stat();
	struct fuse_attr_out a;

	fsd_config.attr_timeout = 0.5;
	memset(&a, 0xff, sizeof(a));
	attr_out_fill(&a, &st, config_timeouts());
	cr_assert_eq(a.attr_valid, 0);
	cr_assert_eq(a.attr_valid_nsec, 500000000);
	cr_assert_eq(a.dummy, 0);
	assert_attr_is(&a.attr, &st);

	fsd_config.attr_timeout = 0;
	attr_out_fill(&a, &st, config_timeouts());
	cr_assert_eq(a.attr_valid, 0);
	cr_assert_eq(a.attr_valid_nsec, 0);
}

Test(reply, abi_offsets)
{
	cr_assert_eq(FUSE_NAME_OFFSET, DIRENT_NAME_OFFSET);
	cr_assert_eq(sizeof(struct fuse_entry_out), 128);
	cr_assert_eq(FUSE_NAME_OFFSET_DIRENTPLUS, DIRENTPLUS_NAME_OFFSET);
}

/* Checks one dirent record at rec and returns its length. */
static size_t check_dirent(const unsigned char *rec, const char *name, uint64_t ino,
			   uint32_t type, uint64_t off)
{
	size_t namelen = strlen(name);
	size_t reclen = (DIRENT_NAME_OFFSET + namelen + 7) / 8 * 8;
	uint64_t u64;
	uint32_t u32;

	memcpy(&u64, rec, 8);
	cr_assert_eq(u64, ino, "ino");
	memcpy(&u64, rec + 8, 8);
	cr_assert_eq(u64, off, "off");
	memcpy(&u32, rec + 16, 4);
	cr_assert_eq(u32, namelen, "namelen");
	memcpy(&u32, rec + 20, 4);
	cr_assert_eq(u32, type, "type");
	cr_assert_eq(memcmp(rec + DIRENT_NAME_OFFSET, name, namelen), 0, "name");
	for (size_t i = DIRENT_NAME_OFFSET + namelen; i < reclen; i++)
		cr_assert_eq(rec[i], 0, "padding byte %zu of '%s' is %#x", i, name, rec[i]);
	return reclen;
}

Test(reply, dirent_record_layout)
{
	static const struct {
		const char *name;
		size_t reclen;
	} cases[] = {
		{ "a", 32 },	    { "abc", 32 },	 { "hello", 32 },
		{ "eight_ch", 32 }, { "nine_char", 40 }, { "sixteen_chars_xx", 40 },
	};
	unsigned char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = cases[i].name;
		size_t used;

		memset(buf, 0xa5, sizeof(buf));
		used = dirent_add((char *)buf, sizeof(buf), name, strlen(name), 1000 + i, DT_REG,
				  i + 1);
		cr_assert_eq(used, cases[i].reclen, "'%s': %zu bytes", name, used);
		cr_assert_eq(used % 8, 0);
		check_dirent(buf, name, 1000 + i, DT_REG, i + 1);
		cr_assert_eq(buf[used], 0xa5, "'%s': wrote past its record", name);
	}
}

/* namelen, not a NUL, ends the name: getdents names are not cut anywhere else. */
Test(reply, dirent_uses_namelen)
{
	unsigned char buf[64];
	size_t used;

	memset(buf, 0xa5, sizeof(buf));
	used = dirent_add((char *)buf, sizeof(buf), "abcdef", 3, 5, DT_DIR, 9);
	cr_assert_eq(used, 32);
	check_dirent(buf, "abc", 5, DT_DIR, 9);
}

Test(reply, dirent_does_not_fit)
{
	unsigned char buf[64];

	memset(buf, 0xa5, sizeof(buf));
	/* "hello": a 32-byte record. */
	cr_assert_eq(dirent_add((char *)buf, 31, "hello", 5, 1, DT_REG, 1), 0);
	cr_assert_eq(dirent_add((char *)buf, 29, "hello", 5, 1, DT_REG, 1), 0,
		     "the name fits but the padding does not");
	cr_assert_eq(dirent_add((char *)buf, 0, "hello", 5, 1, DT_REG, 1), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0xa5, "byte %zu written by a record that did not fit", i);
	cr_assert_eq(dirent_add((char *)buf, 32, "hello", 5, 1, DT_REG, 1), 32, "exact fit");
}

/* Records appended one after another until full parse back in order. */
Test(reply, dirent_fill_buffer)
{
	char names[20][24];
	unsigned char buf[400];
	size_t pos = 0, used, n = 0;

	memset(buf, 0xa5, sizeof(buf));
	for (n = 0; n < 20; n++) {
		snprintf(names[n], sizeof(names[n]), "%.*s", (int)(n + 1), "abcdefghijklmnopqrstu");
		used = dirent_add((char *)buf + pos, sizeof(buf) - pos, names[n], n + 1, n + 100,
				  DT_REG, n + 1);
		if (!used)
			break;
		pos += used;
	}
	cr_assert_gt(n, 5);
	cr_assert_lt(n, 20, "400 bytes cannot hold 20 records");
	cr_assert_leq(pos, sizeof(buf));
	for (size_t i = 0, p = 0; i < n; i++)
		p += check_dirent(buf + p, names[i], i + 100, DT_REG, i + 1);
}

Test(reply, direntplus_record_layout)
{
	struct stat st = sample_stat();
	struct fuse_entry_out e;
	unsigned char buf[512];
	size_t used;

	fsd_config.entry_timeout = 7;
	fsd_config.attr_timeout = 8;
	entry_fill(&e, 4321, 0, &st, config_timeouts());

	/* 152 + 3 -> 160 */
	memset(buf, 0xa5, sizeof(buf));
	used = direntplus_add((char *)buf, sizeof(buf), "abc", 3, st.st_ino, &e, DT_REG, 11);
	cr_assert_eq(used, 160);
	cr_assert_eq(memcmp(buf, &e, sizeof(e)), 0, "entry_out not copied");
	check_dirent(buf + 128, "abc", st.st_ino, DT_REG, 11);
	cr_assert_eq(buf[used], 0xa5, "wrote past its record");

	/* 152 + 8 -> 160, no padding; 152 + 9 -> 168 */
	memset(buf, 0xa5, sizeof(buf));
	cr_assert_eq(direntplus_add((char *)buf, sizeof(buf), "eight_ch", 8, 1, &e, DT_LNK, 2),
		     160);
	check_dirent(buf + 128, "eight_ch", 1, DT_LNK, 2);
	memset(buf, 0xa5, sizeof(buf));
	cr_assert_eq(direntplus_add((char *)buf, sizeof(buf), "nine_char", 9, 1, &e, DT_DIR, 3),
		     168);
	check_dirent(buf + 128, "nine_char", 1, DT_DIR, 3);
	cr_assert_eq(buf[168], 0xa5);

	/* namelen ends the name. */
	memset(buf, 0xa5, sizeof(buf));
	cr_assert_eq(direntplus_add((char *)buf, sizeof(buf), "xyzzy", 2, 1, &e, DT_REG, 4), 160);
	check_dirent(buf + 128, "xy", 1, DT_REG, 4);
}

Test(reply, direntplus_does_not_fit)
{
	struct fuse_entry_out e;
	unsigned char buf[256];

	memset(&e, 0x11, sizeof(e));
	memset(buf, 0xa5, sizeof(buf));
	cr_assert_eq(direntplus_add((char *)buf, 159, "abc", 3, 1, &e, DT_REG, 1), 0);
	cr_assert_eq(direntplus_add((char *)buf, 128, "abc", 3, 1, &e, DT_REG, 1), 0);
	cr_assert_eq(direntplus_add((char *)buf, 0, "abc", 3, 1, &e, DT_REG, 1), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0xa5, "byte %zu written by a record that did not fit", i);
	cr_assert_eq(direntplus_add((char *)buf, 160, "abc", 3, 1, &e, DT_REG, 1), 160);
}

static void assert_split(double seconds, uint64_t want_sec, uint32_t want_nsec)
{
	uint64_t sec = 12345;
	uint32_t nsec = 12345;

	timeout_split(seconds, &sec, &nsec);
	cr_assert_eq(sec, want_sec, "%.12g s: sec %lu", seconds, (unsigned long)sec);
	cr_assert_eq(nsec, want_nsec, "%.12g s: nsec %u", seconds, nsec);
}

Test(reply, timeout_split_edges)
{
	assert_split(0, 0, 0);
	assert_split(-0.0, 0, 0);
	assert_split(-1, 0, 0);
	assert_split(-0.5, 0, 0);
	assert_split(-1e300, 0, 0);
	assert_split(1, 1, 0);
	assert_split(1.5, 1, 500000000);
	assert_split(0.25, 0, 250000000);
	assert_split(0.5, 0, 500000000);
	assert_split(86400, 86400, 0);
	assert_split(1e9, 1000000000, 0);
	assert_split(3.75, 3, 750000000);
}

/*
 * Decimal fractions are not exact in binary; the nanoseconds may be off by
 * the last one but must stay below one second, also just under an integer.
 */
Test(reply, timeout_split_fractions)
{
	static const double values[] = { 0.1, 0.3, 0.001, 0.000000001, 2.7, 59.999999999,
					 0.9999999999, 1.9999999999999, 123456.789 };

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		double v = values[i];
		uint64_t sec;
		uint32_t nsec;
		double back;

		timeout_split(v, &sec, &nsec);
		cr_assert_lt(nsec, 1000000000u, "%.15g s: nsec %u", v, nsec);
		cr_assert_eq(sec, (uint64_t)floor(v), "%.15g s: sec %lu", v, (unsigned long)sec);
		back = sec + nsec / 1e9;
		cr_assert(fabs(back - v) <= 1.5e-9, "%.15g s split as %lu s %u ns", v,
			  (unsigned long)sec, nsec);
	}
}
