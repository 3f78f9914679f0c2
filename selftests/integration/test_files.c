// SPDX-License-Identifier: MIT
/*
 * Opcodes on open files through a real mount, checked against the backing
 * file: OPEN, CREATE, READ, WRITE, FLUSH, FSYNC, FALLOCATE (and punching
 * holes), LSEEK with SEEK_DATA/SEEK_HOLE, COPY_FILE_RANGE and O_TMPFILE;
 * sparse files and offsets past 4 GiB; 1 MiB writes with and without
 * kernel passthrough; concurrent writers; an unlinked file kept open.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(files, .fini = mnt_teardown, .timeout = 120);

#define ERRNO_OF(call) ((call) < 0 ? errno : 0)
#define MIB (1024 * 1024)

static void stat_ok(const char *path, struct stat *st)
{
	cr_assert_eq(lstat(path, st), 0, "lstat %s: %s", path, strerror(errno));
}

/* A byte that depends on the position and on a seed, so misplaced data shows. */
static unsigned char pattern(uint64_t off, unsigned int seed)
{
	return (unsigned char)((off * 2654435761u >> 13) ^ seed);
}

static void fill(unsigned char *buf, size_t len, uint64_t off, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(off + i, seed);
}

/* Index of the first byte of buf that is not the pattern, or len. */
static size_t first_mismatch(const unsigned char *buf, size_t len, uint64_t off,
			     unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern(off + i, seed))
			return i;
	return len;
}

static bool is_zero(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

static int open_ok(const char *path, int flags)
{
	int fd = open(path, flags, 0644);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	return fd;
}

Test(files, create_makes_backing_file_with_mode_and_content)
{
	char buf[16] = "";
	struct stat st;
	uint64_t creates;
	int fd;

	start(NULL);
	umask(0);
	creates = served("CREATE");
	fd = open(mp(&M, "f"), O_WRONLY | O_CREAT, 0640);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "created", 7), 7);
	cr_assert_eq(close(fd), 0);
	cr_assert_geq(served("CREATE"), creates + 1);
	stat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_mode, S_IFREG | 0640, "mode %o", st.st_mode);
	cr_assert_eq(read_file(bp(&M, "f"), buf, sizeof(buf)), 7);
	cr_assert_str_eq(buf, "created");
}

Test(files, create_excl_of_existing_is_eexist)
{
	char buf[16] = "";

	start(NULL);
	put(mp(&M, "seen"), "one");
	put(bp(&M, "unseen"), "two"); /* the mount has not looked this one up */
	cr_assert_eq(ERRNO_OF(open(mp(&M, "seen"), O_WRONLY | O_CREAT | O_EXCL, 0644)), EEXIST);
	cr_assert_eq(ERRNO_OF(open(mp(&M, "unseen"), O_WRONLY | O_CREAT | O_EXCL, 0644)), EEXIST);
	cr_assert_eq(read_file(bp(&M, "unseen"), buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "two");
	cr_assert_eq(ERRNO_OF(open(mp(&M, "missing"), O_RDONLY)), ENOENT);
}

Test(files, open_flags_act_on_backing_file)
{
	char buf[32] = "";
	uint64_t opens;
	int fd;

	start(NULL);
	put(bp(&M, "f"), "backing content");
	opens = served("OPEN");
	cr_assert_eq(read_file(mp(&M, "f"), buf, sizeof(buf)), 15);
	cr_assert_str_eq(buf, "backing content");
	cr_assert_geq(served("OPEN"), opens + 1);

	fd = open_ok(mp(&M, "f"), O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "+more", 5), 5);
	close(fd);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(bp(&M, "f"), buf, sizeof(buf)), 20);
	cr_assert_str_eq(buf, "backing content+more");

	fd = open_ok(mp(&M, "f"), O_WRONLY | O_TRUNC);
	close(fd);
	cr_assert_eq(read_file(bp(&M, "f"), buf, sizeof(buf)), 0);
}

Test(files, pwrite_pread_at_offsets_match_backing)
{
	static const off_t offsets[] = { 0, 1, 4095, 4096, 65537, 1000000 };
	unsigned char buf[5000], back[5000];
	int fd, bfd;

	start(NULL);
	fd = open_ok(mp(&M, "f"), O_RDWR | O_CREAT);
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		fill(buf, sizeof(buf), offsets[i], i);
		cr_assert_eq(pwrite(fd, buf, sizeof(buf), offsets[i]), (ssize_t)sizeof(buf));
	}
	bfd = open_ok(bp(&M, "f"), O_RDONLY);
	/* Later writes overlap earlier ones: compare the mount with the backing file. */
	for (off_t off = 0; off < 1005000; off += sizeof(buf)) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);

		cr_assert_eq(pread(bfd, back, sizeof(back), off), n);
		cr_assert_eq(memcmp(buf, back, n), 0, "at %lld", (long long)off);
	}
	fill(back, sizeof(back), 1000000, 5);
	cr_assert_eq(pread(bfd, buf, sizeof(buf), 1000000), (ssize_t)sizeof(buf));
	cr_assert_eq(memcmp(buf, back, sizeof(buf)), 0);
	close(bfd);
	close(fd);
}

/* One write() of 1 MiB, read back through the mount and from the backing file. */
static void write_and_read_back_one_mib(void)
{
	unsigned char *buf = malloc(MIB), *back = malloc(MIB);
	int fd;

	cr_assert(buf && back);
	fill(buf, MIB, 0, 7);
	fd = open_ok(mp(&M, "big"), O_RDWR | O_CREAT | O_TRUNC);
	cr_assert_eq(write(fd, buf, MIB), MIB);
	cr_assert_eq(pread(fd, back, MIB, 0), MIB);
	cr_assert_eq(first_mismatch(back, MIB, 0, 7), MIB);
	close(fd);
	memset(back, 0, MIB);
	cr_assert_eq(read_file(bp(&M, "big"), back, MIB), MIB);
	cr_assert_eq(first_mismatch(back, MIB, 0, 7), MIB);
	memset(back, 0, MIB);
	cr_assert_eq(read_file(mp(&M, "big"), back, MIB), MIB);
	cr_assert_eq(first_mismatch(back, MIB, 0, 7), MIB);
	free(buf);
	free(back);
}

Test(files, write_of_one_mib_in_one_call)
{
	start(NULL);
	write_and_read_back_one_mib();
}

Test(files, write_of_one_mib_in_one_call_reaches_daemon_without_passthrough)
{
	uint64_t writes;

	start("passthrough=off");
	writes = requests("WRITE");
	write_and_read_back_one_mib();
	cr_assert_gt(requests("WRITE"), writes);
}

Test(files, fsync_and_fdatasync_reach_daemon)
{
	uint64_t fsyncs;
	int fd;

	start(NULL);
	fd = open_ok(mp(&M, "f"), O_RDWR | O_CREAT);
	cr_assert_eq(write(fd, "data", 4), 4);
	fsyncs = served("FSYNC");
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(fdatasync(fd), 0);
	cr_assert_geq(served("FSYNC"), fsyncs + 2);
	close(fd);
}

/* With passthrough the open is FOPEN_NOFLUSH; without it close() sends FLUSH. */
Test(files, close_sends_flush_without_passthrough)
{
	char buf[8] = "";
	uint64_t flushes;
	int fd;

	start("passthrough=off");
	fd = open_ok(mp(&M, "f"), O_RDWR | O_CREAT);
	cr_assert_eq(write(fd, "flushed", 7), 7);
	flushes = requests("FLUSH");
	cr_assert_eq(close(fd), 0);
	cr_assert_geq(requests("FLUSH"), flushes + 1);
	cr_assert_eq(read_file(bp(&M, "f"), buf, sizeof(buf)), 7);
}

Test(files, fallocate_allocates_backing_blocks)
{
	struct stat st;
	uint64_t fallocates;
	int fd;

	start(NULL);
	fd = open_ok(mp(&M, "f"), O_RDWR | O_CREAT);
	fallocates = served("FALLOCATE");
	cr_assert_eq(fallocate(fd, 0, 0, MIB), 0, "%s", strerror(errno));
	cr_assert_geq(served("FALLOCATE"), fallocates + 1);
	stat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_size, MIB);
	cr_assert_geq(st.st_blocks, MIB / 512);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, MIB);

	/* KEEP_SIZE: blocks past the end, size unchanged. */
	cr_assert_eq(fallocate(fd, FALLOC_FL_KEEP_SIZE, MIB, MIB), 0);
	stat_ok(bp(&M, "f"), &st);
	cr_assert_eq(st.st_size, MIB);
	cr_assert_geq(st.st_blocks, 2 * MIB / 512);
	close(fd);
}

Test(files, punch_hole_keep_size_zeroes_range_in_backing)
{
	unsigned char *buf = malloc(3 * MIB);
	struct stat before, after;
	int fd, bfd;

	cr_assert(buf);
	start(NULL);
	fill(buf, 3 * MIB, 0, 3);
	fd = open_ok(mp(&M, "f"), O_RDWR | O_CREAT);
	cr_assert_eq(write(fd, buf, 3 * MIB), 3 * MIB);
	cr_assert_eq(fsync(fd), 0);
	stat_ok(bp(&M, "f"), &before);
	cr_assert_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MIB, MIB), 0,
		     "%s", strerror(errno));
	stat_ok(bp(&M, "f"), &after);
	cr_assert_eq(after.st_size, 3 * MIB);
	cr_assert_leq(after.st_blocks, before.st_blocks - MIB / 512);

	bfd = open_ok(bp(&M, "f"), O_RDONLY);
	cr_assert_eq(lseek(bfd, 0, SEEK_HOLE), MIB);
	cr_assert_eq(lseek(bfd, MIB, SEEK_DATA), 2 * MIB);
	close(bfd);
	/* Through the mount: data, zeros, data. */
	cr_assert_eq(pread(fd, buf, 3 * MIB, 0), 3 * MIB);
	cr_assert_eq(first_mismatch(buf, MIB, 0, 3), MIB);
	cr_assert(is_zero(buf + MIB, MIB));
	cr_assert_eq(first_mismatch(buf + 2 * MIB, MIB, 2 * MIB, 3), MIB);
	close(fd);
	free(buf);
}

Test(files, lseek_data_and_hole_match_backing)
{
	static const off_t probes[] = { 0, 4095, 4096, 8192, MIB - 1, MIB, MIB + 4096,
					2 * MIB, 4 * MIB - 1 };
	unsigned char buf[4096];
	uint64_t lseeks;
	int fd, bfd;

	start(NULL);
	fill(buf, sizeof(buf), 0, 1);
	fd = open_ok(mp(&M, "sparse"), O_RDWR | O_CREAT);
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), 2 * MIB), (ssize_t)sizeof(buf));
	cr_assert_eq(ftruncate(fd, 4 * MIB), 0);
	cr_assert_eq(fsync(fd), 0);
	bfd = open_ok(bp(&M, "sparse"), O_RDONLY);
	lseeks = served("LSEEK");
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		off_t want, got;

		want = lseek(bfd, probes[i], SEEK_DATA);
		got = lseek(fd, probes[i], SEEK_DATA);
		cr_assert_eq(got, want, "SEEK_DATA from %lld", (long long)probes[i]);
		want = lseek(bfd, probes[i], SEEK_HOLE);
		got = lseek(fd, probes[i], SEEK_HOLE);
		cr_assert_eq(got, want, "SEEK_HOLE from %lld", (long long)probes[i]);
	}
	/* Past the last data: ENXIO from both. */
	cr_assert_eq(ERRNO_OF(lseek(fd, 2 * MIB + 4096, SEEK_DATA)),
		     ERRNO_OF(lseek(bfd, 2 * MIB + 4096, SEEK_DATA)));
	cr_assert_eq(ERRNO_OF(lseek(fd, 5 * MIB, SEEK_HOLE)), ENXIO);
	cr_assert_gt(served("LSEEK"), lseeks);
	close(bfd);
	close(fd);
}

Test(files, sparse_file_reads_zeros_and_stays_sparse)
{
	unsigned char buf[65536];
	struct stat st;
	int fd;

	start(NULL);
	fd = open_ok(mp(&M, "sparse"), O_RDWR | O_CREAT);
	cr_assert_eq(pwrite(fd, "end", 3, 100 * MIB), 3);
	close(fd);
	stat_ok(bp(&M, "sparse"), &st);
	cr_assert_eq(st.st_size, 100 * MIB + 3);
	cr_assert_lt(st.st_blocks, 1024, "blocks %lld", (long long)st.st_blocks);
	fd = open_ok(mp(&M, "sparse"), O_RDONLY);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 50 * MIB), (ssize_t)sizeof(buf));
	cr_assert(is_zero(buf, sizeof(buf)));
	cr_assert_eq(pread(fd, buf, sizeof(buf), 100 * MIB), 3);
	cr_assert_eq(memcmp(buf, "end", 3), 0);
	close(fd);
}

Test(files, pwrite_at_five_gib_reads_back)
{
	const off_t five_gib = 5LL << 30;
	unsigned char buf[8192], back[8192];
	struct stat st;
	int fd, bfd;

	start(NULL);
	fill(buf, sizeof(buf), five_gib, 9);
	fd = open_ok(mp(&M, "huge"), O_RDWR | O_CREAT);
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), five_gib), (ssize_t)sizeof(buf));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, five_gib + (off_t)sizeof(buf));
	stat_ok(bp(&M, "huge"), &st);
	cr_assert_eq(st.st_size, five_gib + (off_t)sizeof(buf));
	cr_assert_eq(pread(fd, back, sizeof(back), five_gib), (ssize_t)sizeof(back));
	cr_assert_eq(memcmp(back, buf, sizeof(buf)), 0);
	/* Just below 4 GiB and across it: a hole. */
	cr_assert_eq(pread(fd, back, sizeof(back), (4LL << 30) - 4096), (ssize_t)sizeof(back));
	cr_assert(is_zero(back, sizeof(back)));
	close(fd);
	bfd = open_ok(bp(&M, "huge"), O_RDONLY);
	cr_assert_eq(pread(bfd, back, sizeof(back), five_gib), (ssize_t)sizeof(back));
	cr_assert_eq(memcmp(back, buf, sizeof(buf)), 0);
	close(bfd);
	/* Reopened, the size and the data are still there. */
	fd = open_ok(mp(&M, "huge"), O_RDONLY);
	cr_assert_eq(lseek(fd, 0, SEEK_END), five_gib + (off_t)sizeof(buf));
	cr_assert_eq(pread(fd, back, 100, five_gib + 8150), 42);
	close(fd);
}

Test(files, copy_file_range_copies_in_backing)
{
	unsigned char *buf = malloc(2 * MIB), *back = malloc(2 * MIB);
	loff_t off_in = 4096, off_out = 0;
	uint64_t copies;
	ssize_t n, total = 0;
	int in, out;

	cr_assert(buf && back);
	start(NULL);
	fill(buf, 2 * MIB, 0, 11);
	cr_assert_eq(write_file(mp(&M, "src"), buf, 2 * MIB), 0);
	in = open_ok(mp(&M, "src"), O_RDONLY);
	out = open_ok(mp(&M, "dst"), O_WRONLY | O_CREAT);
	copies = served("COPY_FILE_RANGE");
	while (total < MIB) {
		n = copy_file_range(in, &off_in, out, &off_out, MIB - total, 0);
		cr_assert_gt(n, 0, "copy_file_range: %s", strerror(errno));
		total += n;
	}
	cr_assert_eq(off_in, 4096 + MIB);
	cr_assert_eq(off_out, MIB);
	cr_assert_gt(served("COPY_FILE_RANGE"), copies);
	close(in);
	close(out);
	cr_assert_eq(read_file(bp(&M, "dst"), back, 2 * MIB), MIB);
	cr_assert_eq(first_mismatch(back, MIB, 4096, 11), MIB);
	cr_assert_eq(read_file(mp(&M, "dst"), back, 2 * MIB), MIB);
	cr_assert_eq(first_mismatch(back, MIB, 4096, 11), MIB);
	free(buf);
	free(back);
}

Test(files, tmpfile_linked_via_proc_fd_keeps_content)
{
	char proc[64], buf[32] = "";
	struct stat st;
	uint64_t tmpfiles;
	int fd;

	start(NULL);
	cr_assert_eq(mkdir(mp(&M, "d"), 0755), 0);
	tmpfiles = requests("TMPFILE");
	fd = open(mp(&M, "d"), O_TMPFILE | O_RDWR, 0600);
	if (fd < 0 && errno == EOPNOTSUPP)
		cr_skip_test("O_TMPFILE not supported by this kernel's FUSE");
	cr_assert_geq(fd, 0, "O_TMPFILE: %s", strerror(errno));
	cr_assert_geq(requests("TMPFILE"), tmpfiles + 1);
	cr_assert_eq(write(fd, "anonymous data", 14), 14);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(sh("[ -z \"$(ls -A '%s')\" ]", bp(&M, "d")), 0, "tmpfile has a name early");

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	cr_assert_eq(linkat(AT_FDCWD, proc, AT_FDCWD, mp(&M, "d/named"), AT_SYMLINK_FOLLOW), 0,
		     "linkat: %s", strerror(errno));
	cr_assert_eq(read_file(bp(&M, "d/named"), buf, sizeof(buf)), 14);
	cr_assert_str_eq(buf, "anonymous data");
	stat_ok(bp(&M, "d/named"), &st);
	cr_assert_eq(st.st_mode, S_IFREG | 0600, "mode %o", st.st_mode);
	cr_assert_eq(st.st_nlink, 1);
	/* Writes through the old fd land in the named file, and its name sees them. */
	cr_assert_eq(pwrite(fd, "ANON", 4, 0), 4);
	cr_assert_eq(pwrite(fd, "+tail", 5, 14), 5);
	stat_ok(bp(&M, "d/named"), &st);
	cr_assert_eq(st.st_size, 19);
	stat_ok(mp(&M, "d/named"), &st);
	cr_assert_eq(st.st_size, 19, "the name's inode is not the fd's: size %lld",
		     (long long)st.st_size);
	close(fd);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_file(mp(&M, "d/named"), buf, sizeof(buf)), 19);
	cr_assert_str_eq(buf, "ANONymous data+tail");
}

Test(files, unlink_open_file_stays_readable_and_writable)
{
	char buf[32] = "";
	struct stat st;
	int fd;

	start(NULL);
	fd = open_ok(mp(&M, "f"), O_RDWR | O_CREAT);
	cr_assert_eq(write(fd, "still here", 10), 10);
	cr_assert_eq(unlink(mp(&M, "f")), 0);
	cr_assert_eq(ERRNO_OF(lstat(bp(&M, "f"), &st)), ENOENT);
	cr_assert_eq(ERRNO_OF(lstat(mp(&M, "f"), &st)), ENOENT);

	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 10);
	cr_assert_str_eq(buf, "still here");
	cr_assert_eq(pwrite(fd, "!", 1, 10), 1);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(st.st_size, 11);
	/* SETATTR on the open handle works without a name. */
	cr_assert_eq(ftruncate(fd, 5), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 5);
	cr_assert_eq(fchmod(fd, 0600), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_mode, S_IFREG | 0600);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 5);
	cr_assert_str_eq(buf, "still");
	/* The name is free for a new file meanwhile. */
	put(mp(&M, "f"), "new");
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 5);
	cr_assert_eq(close(fd), 0);
	cr_assert_eq(read_file(bp(&M, "f"), buf, sizeof(buf)), 3);
}

#define REGION (4 * MIB)
#define CHUNK (64 * 1024)

struct region {
	int fd;
	int index;
};

static void *write_region(void *arg)
{
	const struct region *r = arg;
	unsigned char buf[CHUNK];

	for (off_t off = 0; off < REGION; off += CHUNK) {
		off_t at = (off_t)r->index * REGION + off;

		fill(buf, CHUNK, at, r->index);
		if (pwrite(r->fd, buf, CHUNK, at) != CHUNK)
			return (void *)1;
	}
	return NULL;
}

/* Each of 4 threads writes its own region of one file, with its own open. */
static void write_disjoint_regions(void)
{
	struct region regions[4];
	pthread_t threads[4];
	unsigned char *buf = malloc(REGION);
	int fd;

	cr_assert(buf);
	fd = open_ok(mp(&M, "shared"), O_RDWR | O_CREAT);
	close(fd);
	for (int i = 0; i < 4; i++) {
		regions[i] = (struct region){ open_ok(mp(&M, "shared"), O_WRONLY), i };
		cr_assert_eq(pthread_create(&threads[i], NULL, write_region, &regions[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *ret;

		cr_assert_eq(pthread_join(threads[i], &ret), 0);
		cr_assert_null(ret, "writer %d failed", i);
		close(regions[i].fd);
	}
	fd = open_ok(bp(&M, "shared"), O_RDONLY);
	for (int i = 0; i < 4; i++) {
		size_t bad;

		cr_assert_eq(pread(fd, buf, REGION, (off_t)i * REGION), REGION);
		bad = first_mismatch(buf, REGION, (off_t)i * REGION, i);
		cr_assert_eq(bad, REGION, "region %d differs at %zu", i, bad);
	}
	close(fd);
	free(buf);
}

Test(files, concurrent_writers_to_disjoint_regions_of_one_file)
{
	start(NULL);
	write_disjoint_regions();
}

Test(files, concurrent_writers_to_disjoint_regions_without_passthrough)
{
	start("passthrough=off");
	write_disjoint_regions();
}

#define WRITERS 8
#define FILES_PER_WRITER 50
#define FILE_SIZE (64 * 1024)

static int write_many_files(int writer)
{
	unsigned char buf[FILE_SIZE];
	char name[64];

	for (int i = 0; i < FILES_PER_WRITER; i++) {
		snprintf(name, sizeof(name), "w%d/f%d", writer, i);
		fill(buf, sizeof(buf), i, writer);
		if (write_file(mp(&M, name), buf, sizeof(buf)))
			return 1;
	}
	return 0;
}

Test(files, concurrent_writers_to_many_files)
{
	unsigned char buf[FILE_SIZE + 1];
	pid_t pids[WRITERS];
	char name[64];

	start(NULL);
	for (int w = 0; w < WRITERS; w++) {
		snprintf(name, sizeof(name), "w%d", w);
		cr_assert_eq(mkdir(mp(&M, name), 0755), 0);
	}
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		cr_assert_geq(pids[w], 0);
		if (pids[w] == 0)
			_exit(write_many_files(w));
	}
	for (int w = 0; w < WRITERS; w++) {
		int status;

		cr_assert_eq(waitpid(pids[w], &status, 0), pids[w]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d: %d", w,
			  status);
	}
	for (int w = 0; w < WRITERS; w++) {
		for (int i = 0; i < FILES_PER_WRITER; i++) {
			snprintf(name, sizeof(name), "w%d/f%d", w, i);
			cr_assert_eq(read_file(bp(&M, name), buf, sizeof(buf)), FILE_SIZE, "%s",
				     name);
			cr_assert_eq(first_mismatch(buf, FILE_SIZE, i, w), FILE_SIZE, "%s", name);
		}
	}
}

/* Evicts the idle O_PATH fds of a mount with fd_cache=16 by looking up other files. */
static void churn_fd_cache(const char *prefix, int count)
{
	char name[64];
	struct stat st;

	for (int i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		put(mp(&M, name), "churn");
		cr_assert_eq(stat(mp(&M, name), &st), 0);
	}
	cr_assert_leq(mnt_stat(&M, "fds_cached"), 16);
}

/*
 * The open file's node lost its cached fd before it was opened and then
 * unlinked: attribute and xattr calls on the fd must still reach it.
 */
Test(files, unlinked_open_file_attrs_work_after_fd_cache_eviction)
{
	struct timespec ts[2] = { { 1100000000, 0 }, { 1100000000, 0 } };
	char buf[16] = "";
	struct stat st;
	int fd;

	start("fd_cache=16");
	put(mp(&M, "f"), "0123456789");
	churn_fd_cache("a", 64);
	fd = open_ok(mp(&M, "f"), O_RDWR);
	cr_assert_eq(unlink(mp(&M, "f")), 0);
	churn_fd_cache("b", 64);

	cr_assert_eq(fchmod(fd, 0640), 0, "fchmod: %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, 4), 0, "ftruncate: %s", strerror(errno));
	cr_assert_eq(futimens(fd, ts), 0, "futimens: %s", strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_mode, S_IFREG | 0640, "mode %o", st.st_mode);
	cr_assert_eq(st.st_size, 4);
	cr_assert_eq(st.st_mtim.tv_sec, 1100000000);
	cr_assert_eq(fsetxattr(fd, "user.k", "v", 1, 0), 0, "fsetxattr: %s", strerror(errno));
	cr_assert_eq(fgetxattr(fd, "user.k", buf, sizeof(buf)), 1, "fgetxattr: %s",
		     strerror(errno));
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 4);
	cr_assert_eq(memcmp(buf, "0123", 4), 0);
	cr_assert_eq(close(fd), 0);
}
