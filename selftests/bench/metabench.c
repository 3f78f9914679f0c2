// SPDX-License-Identifier: MIT
/*
 * Metadata micro-benchmark for scripts/bench.sh: one phase per run over N
 * files named f000000.. in one directory, timed with CLOCK_MONOTONIC around
 * the loop only, so process start-up is not counted.
 *
 *   metabench create DIR N   open(O_CREAT|O_EXCL|O_WRONLY) + close
 *   metabench stat DIR N     stat
 *   metabench getattr DIR N  statx with AT_STATX_FORCE_SYNC: one GETATTR round
 *                            trip each on a FUSE mount, whatever it caches
 *   metabench open DIR N     open(O_RDONLY) + close
 *   metabench unlink DIR N   unlink
 *   metabench xattr DIR N    lgetxattr security.selinux, as `ls -l` asks of every
 *                            file (none of them has it: ENODATA is success here)
 *
 * Prints "OPS_PER_SEC SECONDS" on stdout.  One phase per process lets the
 * script read the daemon's counters between phases; the kernel's caches
 * survive from one process to the next, as they would within one.
 *
 * Built by scripts/bench.sh itself (cc -O2), not by the Makefile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

enum phase { PHASE_CREATE, PHASE_STAT, PHASE_GETATTR, PHASE_OPEN, PHASE_UNLINK, PHASE_XATTR };

static const char *const phase_names[] = {
	[PHASE_CREATE] = "create",
	[PHASE_STAT] = "stat",
	[PHASE_GETATTR] = "getattr",
	[PHASE_OPEN] = "open",
	[PHASE_UNLINK] = "unlink",
	[PHASE_XATTR] = "xattr",
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 0 or the errno of the failed call; the fd is never left open. */
static int one_op(enum phase phase, int dirfd, const char *name)
{
	struct statx stx;
	struct stat st;
	int fd;

	switch (phase) {
	case PHASE_CREATE:
		fd = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return errno;
		return close(fd) ? errno : 0;
	case PHASE_STAT:
		return fstatat(dirfd, name, &st, 0) ? errno : 0;
	case PHASE_GETATTR:
		return statx(dirfd, name, AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &stx) ? errno : 0;
	case PHASE_OPEN:
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno;
		return close(fd) ? errno : 0;
	case PHASE_UNLINK:
		return unlinkat(dirfd, name, 0) ? errno : 0;
	case PHASE_XATTR: {
		char path[64], value[256];

		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
		if (lgetxattr(path, "security.selinux", value, sizeof(value)) >= 0)
			return 0;
		return errno == ENODATA ? 0 : errno;
	}
	}
	return EINVAL;
}

int main(int argc, char **argv)
{
	enum phase phase = PHASE_CREATE;
	bool found = false;
	char name[32];
	double start, elapsed;
	long count;
	int dirfd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s create|stat|getattr|open|unlink|xattr DIR N\n", argv[0]);
		return 2;
	}
	for (unsigned i = 0; i < sizeof(phase_names) / sizeof(phase_names[0]); i++) {
		if (!strcmp(argv[1], phase_names[i])) {
			phase = i;
			found = true;
		}
	}
	count = strtol(argv[3], NULL, 10);
	if (!found || count <= 0) {
		fprintf(stderr, "metabench: bad phase '%s' or count '%s'\n", argv[1], argv[3]);
		return 2;
	}
	dirfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "metabench: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}

	start = now();
	for (long i = 0; i < count; i++) {
		int err;

		snprintf(name, sizeof(name), "f%06ld", i);
		err = one_op(phase, dirfd, name);
		if (err) {
			fprintf(stderr, "metabench: %s %s/%s: %s\n", argv[1], argv[2], name,
				strerror(err));
			return 1;
		}
	}
	elapsed = now() - start;

	close(dirfd);
	printf("%.0f %.6f\n", count / elapsed, elapsed);
	return 0;
}
