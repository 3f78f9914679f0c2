// SPDX-License-Identifier: MIT
/*
 * Counters, and the control socket that serves them and takes policy
 * reloads (the protocol is in <fusebpf/control.h>).  `fsd --stats
 * MOUNTPOINT` and the fusebpf tool are its clients; only privileged ones
 * are answered (control_peer_check).
 */
#define _GNU_SOURCE
#include "fsd.h"
#include "loader/loader.h"

#include <fusebpf/control.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; the asm-generic number, x86-64's and arm64's */
#endif


_Atomic uint64_t stats_requests[FSD_OP_MAX];
_Atomic uint64_t stats_errors[FSD_OP_MAX];
_Atomic uint64_t stats_verdicts[FSD_OP_MAX][FUSEBPF_VERDICT_MAX + 2];
_Atomic uint64_t stats_user[FSD_OP_MAX];
_Atomic uint64_t stats_filter_calls[FSD_OP_MAX];
_Atomic uint64_t stats_filter_ns[FSD_OP_MAX];

_Atomic uint64_t stats_dev_requests;
_Atomic uint64_t stats_uring_requests;
_Atomic uint64_t stats_uring_offloaded;

static int listen_fd = -1;
static pthread_t control_thread;
static struct sockaddr_un control_addr;
static dev_t control_dev; /* the mount's */
/*
 * The socket is named by the mount's device number, which the kernel gives
 * to the next mount as soon as this one is unmounted: a daemon still on its
 * way out and a new daemon's socket can share a name.  So a daemon removes
 * only the socket file it made (control_ino), and makes and removes it under
 * a lock on the directory (control_dir), which the other daemon takes too.
 */
static int control_dir = -1;
static ino_t control_ino;

/*
 * What fusebpf.ko served itself on this mount, per opcode, and the
 * verdicts of the prefilters it ran: its fusebpfctl file bpf_stats
 * ("OPCODE count", "verdict.OPCODE.VERDICT count" lines), as kernel.KEY
 * lines.  The control filesystem's directory is the connection's device
 * number as the kernel encodes it.
 */
static void kernel_stats_write(FILE *f)
{
	char path[128], op[64];
	unsigned long long n;
	FILE *in;

	snprintf(path, sizeof(path), "/sys/fs/fusebpf/connections/%u/bpf_stats",
		 (major(control_dev) << 20) | minor(control_dev));
	in = fopen(path, "re");
	if (!in) {
		fprintf(f, "kernel_stats none (%s: %s)\n", path, strerror(errno));
		return;
	}
	while (fscanf(in, "%63s %llu", op, &n) == 2)
		fprintf(f, "kernel.%s %llu\n", op, n);
	fclose(in);
}

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
	struct backing_stats bs;
	struct node_stats ns;

	node_stats(&ns);
	fprintf(f, "pid %d\n", (int)getpid());
	/* Who runs the filters: fuse (the daemon), fusebpf or rfc (the kernel; -o kernel=). */
	fprintf(f, "kernel %s\n", kernel_mode_name(fsd_config.kernel));
	fprintf(f, "kernel_masks %d\n", fsd_bpf_init); /* FUSEBPF_INIT_BPF exchanged at INIT */
	fprintf(f, "kernel_minor %u\n", fsd_kernel_minor);
	fprintf(f, "passthrough %d\n", fsd_passthrough);
	fprintf(f, "export %d\n", fsd_export); /* file handles that open forgotten inodes */
	fprintf(f, "uring %d\n", uring_active());
	fprintf(f, "dev_requests %llu\n", (unsigned long long)atomic_load(&stats_dev_requests));
	fprintf(f, "uring_requests %llu\n", (unsigned long long)atomic_load(&stats_uring_requests));
	fprintf(f, "uring_offloaded %llu\n",
		(unsigned long long)atomic_load(&stats_uring_offloaded));
	fprintf(f, "nodes %llu\n", (unsigned long long)ns.nodes);
	fprintf(f, "fds_cached %llu\n", (unsigned long long)ns.fds_cached);
	fprintf(f, "fd_cache_max %llu\n", (unsigned long long)ns.fd_cache_max);
	fprintf(f, "handles %llu\n", (unsigned long long)handle_count());
	backing_stats_get(&bs);
	fprintf(f, "backing_ids %llu\n", (unsigned long long)bs.in_use);
	fprintf(f, "backing_kept %llu\n", (unsigned long long)bs.kept);
	fprintf(f, "opens_without_fd %llu\n", (unsigned long long)bs.opens_without_fd);
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
	if (fsd_config.kernel == KERNEL_FUSEBPF)
		kernel_stats_write(f);
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
	if (user_module->control && !strcmp(line, user_module->name)) {
		err = user_module->control(name ? name : "", f);
		if (err)
			fprintf(f, "error %s\n", strerror(-err));
		return;
	}
	if (!strcmp(line, "atime")) {
		unsigned long flags;

		/* After a remount (main.c): reads take the mount's new atime rule. */
		err = name ? tree_atime_parse(name, &flags) : -EINVAL;
		if (!err)
			err = tree_atime_set(flags);
		if (err)
			fprintf(f, "error %s\n", strerror(-err));
		else
			fprintf(f, "ok\n");
		return;
	}
	if (!name || (strcmp(line, "reload") && strcmp(line, "unload"))) {
		fprintf(f, "error unknown command '%s'\n", line);
		return;
	}
	/* Either way the pins changed: the daemon runs what they hold now. */
	err = policy_reload(name);
	if (err == -ENOENT)
		fprintf(f, "unused\n");
	else if (err)
		fprintf(f, "error %s\n", strerror(-err));
	else
		fprintf(f, "ok\n");
}

/*
 * The uid and CapEff of process pid from /proc/PID/status, and whether it
 * is in the daemon's user namespace; 0 or -errno.
 */
static int peer_status(pid_t pid, uid_t *euid, uint64_t *cap_eff, bool *our_userns)
{
	char path[64], line[256];
	struct stat ours, theirs;
	bool have_uid = false, have_cap = false;
	unsigned ruid, eu;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (stat(path, &theirs) < 0 || stat("/proc/self/ns/user", &ours) < 0)
		return -errno;
	*our_userns = theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long cap;

		if (sscanf(line, "Uid: %u %u", &ruid, &eu) == 2) {
			*euid = eu;
			have_uid = true;
		} else if (sscanf(line, "CapEff: %llx", &cap) == 1) {
			*cap_eff = cap;
			have_cap = true;
		}
	}
	fclose(f);
	return have_uid && have_cap ? 0 : -EIO;
}

/*
 * Whether the client on fd may use the socket: root, the daemon's own uid,
 * or a process with CAP_SYS_ADMIN in the daemon's user namespace, who
 * could load a policy or unmount anyway.  The socket file is 0600, but a
 * mode is one chmod from open, so every connection's peer is checked too:
 * 0, or -EPERM with why (one line) in why.
 *
 * The uid is SO_PEERCRED's: the effective uid the kernel recorded when the
 * peer connected, which it cannot lie about.  A capability is not in it,
 * and is read from /proc/PID/status, which raises pid reuse: the peer may
 * have exited and its pid gone to another process by the time it is read.
 * So the peer is pinned with SO_PEERPIDFD (a pidfd of the process that
 * connected, Linux 6.5) and, after the read, pidfd_send_signal(0) checks it
 * still lives: a process that lives still owns its pid, so the status read
 * was its.  Without SO_PEERPIDFD only the uids are let in.  The status must
 * also show the effective uid SO_PEERCRED recorded and the daemon's user
 * namespace: a process that connected, wrote its command and then exec'd
 * a setuid program, or one that is root in a user namespace of its own,
 * has CAP_SYS_ADMIN in its CapEff and no right to the daemon.  Left open:
 * one that execs, after connecting, a program with file capabilities
 * including cap_sys_admin, its uid unchanged (docs/operations.md).
 */
static int control_peer_check(int fd, char *why, size_t size)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uint64_t cap_eff = 0;
	bool our_userns = false;
	uid_t euid = (uid_t)-1;
	int pidfd, err;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		snprintf(why, size, "no peer credentials: %s", strerror(errno));
		return -EPERM;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return 0;
	len = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		snprintf(why, size, "uid %u (pid %d) is not root, and this kernel has no "
			 "SO_PEERPIDFD to check its capabilities safely", (unsigned)cred.uid,
			 (int)cred.pid);
		return -EPERM;
	}
	err = peer_status(cred.pid, &euid, &cap_eff, &our_userns);
	if (!err && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		err = -ESRCH; /* gone: what was read may be another process's */
	close(pidfd);
	if (err) {
		snprintf(why, size, "uid %u (pid %d): cannot read its capabilities: %s",
			 (unsigned)cred.uid, (int)cred.pid, strerror(-err));
		return -EPERM;
	}
	if (euid != cred.uid || !our_userns) {
		snprintf(why, size, "uid %u (pid %d) changed credentials since it connected, or is "
			 "in another user namespace", (unsigned)cred.uid, (int)cred.pid);
		return -EPERM;
	}
	if (!(cap_eff & (1ULL << CAP_SYS_ADMIN))) {
		snprintf(why, size, "uid %u (pid %d) is not root and has no CAP_SYS_ADMIN",
			 (unsigned)cred.uid, (int)cred.pid);
		return -EPERM;
	}
	return 0;
}

/* Answers a refused client (its line read, not looked at) with one line, and logs it. */
static void control_refuse(int fd, const char *why)
{
	char line[320];
	int len;

	fsd_log("control socket: refused a client: %s", why);
	len = snprintf(line, sizeof(line), "error permission denied: %s; the control socket "
		       "is root's\n", why);
	if (send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		fsd_log("control socket: answering a refused client: %s", strerror(errno));
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
	pthread_setname_np(pthread_self(), "fsd-control");
	/*
	 * Loads that came before the socket listened told nobody here; the
	 * policies opened before then are read again, first, so that every
	 * answer on the socket comes after.
	 */
	policy_sync_all();
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		char line[256], why[200];
		FILE *f;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* shut down by control_stop */
		}
		/* A client that never sends its line must not stall the others. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 5 },
			   sizeof(struct timeval));
		/*
		 * A refused client's line is read too, but never looked at: closing
		 * before the client has written would fail its write (EPIPE) and it
		 * would never read why.
		 */
		if (control_peer_check(fd, why, sizeof(why))) {
			if (control_read_line(fd, line, sizeof(line)) == 0)
				control_refuse(fd, why);
			close(fd);
			continue;
		}
		if (control_read_line(fd, line, sizeof(line)) < 0 || !(f = fdopen(fd, "w"))) {
			close(fd);
			continue;
		}
		control_command(line, f);
		fclose(f);
	}
}

/* Removes our socket file, not one that a newer daemon on the same device number made. */
static void control_unlink(void)
{
	struct stat st;

	flock(control_dir, LOCK_EX);
	if (stat(control_addr.sun_path, &st) == 0 && st.st_ino == control_ino)
		unlink(control_addr.sun_path);
	flock(control_dir, LOCK_UN);
}

int control_serve(dev_t mount_dev)
{
	struct loader_error why;
	struct stat st;
	int err;

	control_dev = mount_dev;
	mkdir(FUSEBPF_CONTROL_DIR, 0755);
	/* A directory another user can write is one where they can swap our socket for theirs. */
	control_dir = loader_dir_trusted(AT_FDCWD, FUSEBPF_CONTROL_DIR, FUSEBPF_CONTROL_DIR, &why);
	if (control_dir < 0) {
		fsd_log("control socket: %s", why.msg);
		return control_dir;
	}
	control_path(&control_addr, mount_dev);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0) {
		err = -errno;
		goto out_dir;
	}
	flock(control_dir, LOCK_EX);
	unlink(control_addr.sun_path); /* left by a daemon that was killed */
	/*
	 * bind() gives the file the socket inode's mode less the umask, which is
	 * 0 in fsd: 0600 from the start, not 0777 until the chmod.
	 */
	if (fchmod(listen_fd, 0600) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&control_addr, sizeof(control_addr)) < 0 ||
	    chmod(control_addr.sun_path, 0600) < 0 || stat(control_addr.sun_path, &st) < 0) {
		err = -errno;
		flock(control_dir, LOCK_UN);
		goto out_socket;
	}
	control_ino = st.st_ino;
	flock(control_dir, LOCK_UN);
	if (listen(listen_fd, 8) < 0) {
		err = -errno;
		goto out_unlink;
	}
	err = -pthread_create(&control_thread, NULL, control_loop, NULL);
	if (err)
		goto out_unlink;
	return 0;

out_unlink:
	control_unlink();
out_socket:
	close(listen_fd);
	listen_fd = -1;
out_dir:
	close(control_dir);
	control_dir = -1;
	return err;
}

void control_stop(void)
{
	if (listen_fd < 0)
		return;
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(control_thread, NULL);
	control_unlink();
	close(listen_fd);
	listen_fd = -1;
	close(control_dir);
	control_dir = -1;
}

int control_send(const char *mountpoint, const char *command, FILE *out)
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
		fwrite(buf, 1, n, out);
	close(fd);
	return 0;
}
