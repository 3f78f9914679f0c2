// SPDX-License-Identifier: MIT
/*
 * Counters, and the control socket that serves them and takes policy
 * reloads (the protocol is in <fusebpf/control.h>).  `fsd --stats
 * MOUNTPOINT` and the fusebpf tool are its clients.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <fusebpf/control.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>


_Atomic uint64_t stats_requests[FSD_OP_MAX];
_Atomic uint64_t stats_errors[FSD_OP_MAX];
_Atomic uint64_t stats_verdicts[FSD_OP_MAX][FUSEBPF_VERDICT_MAX + 2];
_Atomic uint64_t stats_user[FSD_OP_MAX];
_Atomic uint64_t stats_filter_calls[FSD_OP_MAX];
_Atomic uint64_t stats_filter_ns[FSD_OP_MAX];

_Atomic uint64_t stats_dev_requests;
_Atomic uint64_t stats_uring_requests;

static int listen_fd = -1;
static pthread_t control_thread;
static struct sockaddr_un control_addr;

static void control_path(struct sockaddr_un *addr, dev_t dev)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	snprintf(addr->sun_path, sizeof(addr->sun_path), FUSEBPF_CONTROL_PATH_FMT,
		 (unsigned long long)dev);
}

static void stats_write(FILE *f)
{
	char names[1024];
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
	fprintf(f, "mask.backing %#llx\n", (unsigned long long)opcode_mask_backing());
	opcode_mask_format(fsd_config.user_ops, names, sizeof(names));
	fprintf(f, "mask.user %#llx %s\n", (unsigned long long)fsd_config.user_ops, names);
	fprintf(f, "user_module %s\n", user_module->name);
	fprintf(f, "root_policy %s\n", fsd_config.policy[0] ? fsd_config.policy : "none");
	policy_stats(f);
	for (unsigned op = 0; op < FSD_OP_MAX; op++) {
		uint64_t n = atomic_load(&stats_requests[op]);
		uint64_t e = atomic_load(&stats_errors[op]);
		uint64_t u = atomic_load(&stats_user[op]);
		uint64_t fc = atomic_load(&stats_filter_calls[op]);

		if (n)
			fprintf(f, "requests.%s %llu\n", opcode_name(op), (unsigned long long)n);
		if (e)
			fprintf(f, "errors.%s %llu\n", opcode_name(op), (unsigned long long)e);
		if (u)
			fprintf(f, "user.%s %llu\n", opcode_name(op), (unsigned long long)u);
		if (fc)
			fprintf(f, "filter_calls.%s %llu\nfilter_ns.%s %llu\n", opcode_name(op),
				(unsigned long long)fc, opcode_name(op),
				(unsigned long long)atomic_load(&stats_filter_ns[op]));
		for (int v = 0; v <= FUSEBPF_VERDICT_MAX + 1; v++) {
			uint64_t c = atomic_load(&stats_verdicts[op][v]);

			if (c)
				fprintf(f, "verdict.%s.%s %llu\n", opcode_name(op),
					fusebpf_verdict_names[v], (unsigned long long)c);
		}
	}
	if (user_module->stats)
		user_module->stats(f);
}

/* One command line from a client, answered on f. */
static void control_command(char *line, FILE *f)
{
	char *name = strchr(line, ' ');
	int err;

	line[strcspn(line, "\r\n")] = '\0';
	if (name)
		*name++ = '\0';
	if (!strcmp(line, "stats") || !line[0]) {
		stats_write(f);
		return;
	}
	if (!name || (strcmp(line, "reload") && strcmp(line, "unload"))) {
		fprintf(f, "error unknown command '%s'\n", line);
		return;
	}
	err = !strcmp(line, "reload") ? policy_reload(name) : policy_unload(name);
	if (err == -ENOENT)
		fprintf(f, "unused\n");
	else if (err)
		fprintf(f, "error %s\n", strerror(-err));
	else
		fprintf(f, "ok\n");
}

/* Reads one line (up to its newline, or what fits); 0 or -errno. */
static int control_read_line(int fd, char *buf, size_t size)
{
	size_t used = 0;

	while (used + 1 < size) {
		ssize_t n = read(fd, buf + used, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0 || buf[used] == '\n')
			break;
		used++;
	}
	buf[used] = '\0';
	return 0;
}

static void *control_loop(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		char line[256];
		FILE *f;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* shut down by control_stop */
		}
		/* A client that never sends its line must not stall the others. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 5 },
			   sizeof(struct timeval));
		if (control_read_line(fd, line, sizeof(line)) < 0 || !(f = fdopen(fd, "w"))) {
			close(fd);
			continue;
		}
		control_command(line, f);
		fclose(f);
	}
}

int control_serve(dev_t mount_dev)
{
	int err;

	mkdir(FUSEBPF_CONTROL_DIR, 0755);
	control_path(&control_addr, mount_dev);
	unlink(control_addr.sun_path); /* left by a daemon that was killed */
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	if (bind(listen_fd, (struct sockaddr *)&control_addr, sizeof(control_addr)) < 0 ||
	    chmod(control_addr.sun_path, 0600) < 0 || listen(listen_fd, 8) < 0) {
		err = -errno;
		close(listen_fd);
		listen_fd = -1;
		return err;
	}
	err = -pthread_create(&control_thread, NULL, control_loop, NULL);
	if (err) {
		close(listen_fd);
		listen_fd = -1;
		unlink(control_addr.sun_path);
	}
	return err;
}

void control_stop(void)
{
	if (listen_fd < 0)
		return;
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(control_thread, NULL);
	close(listen_fd);
	listen_fd = -1;
	unlink(control_addr.sun_path);
}

int control_send(const char *mountpoint, const char *command)
{
	struct sockaddr_un addr;
	struct stat st;
	char buf[4096];
	ssize_t n;
	int fd, err;

	if (stat(mountpoint, &st) < 0)
		return -errno;
	control_path(&addr, st.st_dev);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    write(fd, command, strlen(command)) < 0 || write(fd, "\n", 1) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, stdout);
	close(fd);
	return 0;
}
