// SPDX-License-Identifier: MIT
/*
 * The floor of a FUSE mount on this machine: a FUSE server that does no
 * work at all, so that what the benchmark measures on it is the cost of
 * the round trips alone: a reference for what a FUSE daemon pays for a
 * workload (not a strict bound: fsd has measured above it).
 * scripts/bench-floor.sh runs metabench's loops on it, on the root
 * filesystem and on fsd, and prints the ratios.
 *
 *   floor MOUNTPOINT    mounts and serves in the background, until unmounted
 *   floor --switch N    times N round trips of a byte between two threads
 *                       over pipes, on one CPU and on two: what waking the
 *                       other side costs here, under any FUSE request
 *
 * Every name looked up exists: a regular file, with its attributes cached
 * for a day ("t..." names: for no time at all, to time GETATTR), as fsd's
 * cache=always does. OPEN, RELEASE, FLUSH and UNLINK succeed; GETXATTR
 * answers ENODATA, as a file without that xattr. Four threads, each on its
 * own clone of the device fd, as fsd's four workers, so that an
 * asynchronous RELEASE does not hold up the next request.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400

static int devfd;

static __thread int reply_fd;

static void reply(uint64_t unique, int error, const void *arg, size_t len)
{
	struct fuse_out_header h = { .len = sizeof(h) + (error ? 0 : len), .error = error,
				     .unique = unique };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)arg, error ? 0 : len } };

	if (writev(reply_fd, iov, 2) < 0 && errno != ENOENT)
		perror("floor: reply");
}

static void attr_of(struct fuse_attr *a, uint64_t nodeid)
{
	memset(a, 0, sizeof(*a));
	a->ino = nodeid;
	a->mode = nodeid == FUSE_ROOT_ID ? S_IFDIR | 0777 : S_IFREG | 0644;
	a->nlink = 1;
}

/*
 * Node ids: 1 is the root, names hash to ids above it, even; a "t..." name's
 * id is odd, and its attributes are never cached.
 */
static uint64_t nodeid_of(const char *name)
{
	uint64_t h = 1469598103934665603ull;
	bool uncached = name[0] == 't';

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (h << 2) + 2 + uncached;
}

/* A thread's own clone of the session's device fd, as fsd's workers have. */
static int dev_clone(void)
{
	uint32_t session = devfd;
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0 && ioctl(fd, FUSE_DEV_IOC_CLONE, &session) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void *serve(void *arg)
{
	char *buf = malloc(1 << 20);
	int fd = arg ? dev_clone() : devfd;

	if (!buf || fd < 0)
		return NULL;
	reply_fd = fd;
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);
		struct fuse_in_header *h = (void *)buf;
		const char *name = buf + sizeof(*h);

		if (n < 0) {
			if (errno == ENODEV)
				return NULL;
			continue;
		}
		switch (h->opcode) {
		case FUSE_INIT: {
			struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION, .minor = 38,
						   .max_write = 65536, .max_readahead = 65536 };

			reply(h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out e = { .nodeid = nodeid_of(name), .entry_valid = DAY };

			e.attr_valid = e.nodeid & 1 ? 0 : DAY;
			attr_of(&e.attr, e.nodeid);
			reply(h->unique, 0, &e, sizeof(e));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out a = { .attr_valid = h->nodeid & 1 ? 0 : DAY };

			attr_of(&a.attr, h->nodeid);
			reply(h->unique, 0, &a, sizeof(a));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = { .fh = 1, .open_flags = FOPEN_NOFLUSH | FOPEN_KEEP_CACHE };

			reply(h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_RELEASE:
		case FUSE_FLUSH:
		case FUSE_UNLINK:
			reply(h->unique, 0, NULL, 0);
			break;
		case FUSE_GETXATTR:
			reply(h->unique, -ENODATA, NULL, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;
		default:
			reply(h->unique, -ENOSYS, NULL, 0);
		}
	}
}

static int ping[2], pong[2];
static long switch_rounds;

static bool pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

static void *echo(void *cpu)
{
	char c;

	if (!pin_to_cpu((int)(intptr_t)cpu))
		return NULL; /* checked by the caller first */
	for (long i = 0; i < switch_rounds; i++)
		if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
			break;
	return NULL;
}

/*
 * Microseconds per round trip with the echoing thread on CPU cpu, the
 * caller on CPU 0; < 0 if either cannot run there.
 */
static double round_trip_us(int cpu)
{
	struct timespec a, b;
	pthread_t t;
	char c = 'x';

	if (!pin_to_cpu(cpu) || !pin_to_cpu(0) ||
	    pthread_create(&t, NULL, echo, (void *)(intptr_t)cpu))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < switch_rounds; i++)
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			break;
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(t, NULL);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / switch_rounds / 1e3;
}

static int switch_cost(const char *rounds)
{
	switch_rounds = strtol(rounds, NULL, 10);
	if (switch_rounds <= 0 || pipe(ping) || pipe(pong)) {
		fprintf(stderr, "floor: --switch needs a count of rounds\n");
		return 2;
	}
	double one = round_trip_us(0), two = round_trip_us(1);

	if (one < 0) {
		fprintf(stderr, "floor: --switch: cannot run on CPU 0: %s\n", strerror(errno));
		return 1;
	}
	printf("%.2f", one);
	if (two >= 0) /* else CPU 1 is offline or not ours */
		printf(" %.2f", two);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	char opts[128];

	if (argc == 3 && !strcmp(argv[1], "--switch"))
		return switch_cost(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: floor MOUNTPOINT | floor --switch N\n");
		return 2;
	}
	devfd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (devfd < 0) {
		perror("floor: /dev/fuse");
		return 1;
	}
	/* The same permission model as fsd's: the kernel checks, from the modes. */
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,default_permissions",
		 devfd);
	if (mount("floor", argv[1], "fuse.floor", 0, opts) < 0) {
		perror("floor: mount");
		return 1;
	}
	if (fork() == 0) {
		pthread_t t[4];

		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, serve, i ? "clone" : NULL);
		pthread_join(t[0], NULL); /* every thread sees ENODEV at the unmount */
		_exit(0);
	}
	return 0;
}
