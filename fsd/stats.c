// SPDX-License-Identifier: MIT
/*
 * Counters, and the unix socket that serves them: connecting to
 * /run/fusebpf/fsd-<dev>.sock, where <dev> is the mount's st_dev, returns
 * one "key value" line per counter and closes.  `fsd --stats MOUNTPOINT`
 * is the client.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define STATS_DIR "/run/fusebpf"

_Atomic uint64_t stats_requests[FSD_OP_MAX];
_Atomic uint64_t stats_errors[FSD_OP_MAX];
_Atomic uint64_t stats_dev_requests;
_Atomic uint64_t stats_uring_requests;

static int listen_fd = -1;
static pthread_t stats_thread;
static struct sockaddr_un stats_addr;

static void stats_path(struct sockaddr_un *addr, dev_t dev)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	snprintf(addr->sun_path, sizeof(addr->sun_path), STATS_DIR "/fsd-%llu.sock",
		 (unsigned long long)dev);
}

static void stats_write(FILE *f)
{
	struct node_stats ns;

	node_stats(&ns);
	fprintf(f, "pid %d\n", (int)getpid());
	fprintf(f, "passthrough %d\n", fsd_passthrough);
	fprintf(f, "uring %d\n", uring_active());
	fprintf(f, "dev_requests %llu\n", (unsigned long long)atomic_load(&stats_dev_requests));
	fprintf(f, "uring_requests %llu\n", (unsigned long long)atomic_load(&stats_uring_requests));
	fprintf(f, "nodes %llu\n", (unsigned long long)ns.nodes);
	fprintf(f, "fds_cached %llu\n", (unsigned long long)ns.fds_cached);
	fprintf(f, "fd_cache_max %llu\n", (unsigned long long)ns.fd_cache_max);
	fprintf(f, "handles %llu\n", (unsigned long long)handle_count());
	fprintf(f, "backing_ids %llu\n", (unsigned long long)backing_count());
	for (unsigned op = 0; op < FSD_OP_MAX; op++) {
		uint64_t n = atomic_load(&stats_requests[op]);
		uint64_t e = atomic_load(&stats_errors[op]);

		if (n)
			fprintf(f, "requests.%s %llu\n", opcode_name(op), (unsigned long long)n);
		if (e)
			fprintf(f, "errors.%s %llu\n", opcode_name(op), (unsigned long long)e);
	}
}

static void *stats_loop(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		FILE *f;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* shut down by stats_stop */
		}
		f = fdopen(fd, "w");
		if (!f) {
			close(fd);
			continue;
		}
		stats_write(f);
		fclose(f);
	}
}

int stats_serve(dev_t mount_dev)
{
	int err;

	mkdir(STATS_DIR, 0755);
	stats_path(&stats_addr, mount_dev);
	unlink(stats_addr.sun_path); /* left by a daemon that was killed */
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	if (bind(listen_fd, (struct sockaddr *)&stats_addr, sizeof(stats_addr)) < 0 ||
	    chmod(stats_addr.sun_path, 0600) < 0 || listen(listen_fd, 8) < 0) {
		err = -errno;
		close(listen_fd);
		listen_fd = -1;
		return err;
	}
	err = -pthread_create(&stats_thread, NULL, stats_loop, NULL);
	if (err) {
		close(listen_fd);
		listen_fd = -1;
		unlink(stats_addr.sun_path);
	}
	return err;
}

void stats_stop(void)
{
	if (listen_fd < 0)
		return;
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(stats_thread, NULL);
	close(listen_fd);
	listen_fd = -1;
	unlink(stats_addr.sun_path);
}

int stats_client(const char *mountpoint)
{
	struct sockaddr_un addr;
	struct stat st;
	char buf[4096];
	ssize_t n;
	int fd, err;

	if (stat(mountpoint, &st) < 0)
		return -errno;
	stats_path(&addr, st.st_dev);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, stdout);
	close(fd);
	return 0;
}
