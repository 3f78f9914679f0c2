// SPDX-License-Identifier: MIT
/*
 * fsd: checks its arguments, mounts, starts the workers and waits for a
 * signal or for the mount to go away, then unmounts.  With --dev-fd it
 * serves a connection it was given instead (a test harness playing the
 * kernel): no mount, no root needed, and it exits when the peer closes.
 *
 * fsd mounts with mount(2) itself and speaks the protocol on /dev/fuse
 * itself: libfuse is not used (Debian 12's 3.14 cannot negotiate
 * passthrough, and the mount plumbing a root daemon needs is one call).
 */
#define _GNU_SOURCE
#include "fsd.h"
#include "loader/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/securebits.h>

struct config fsd_config;
static bool log_to_syslog;

/*
 * The userspace modules fsd is built with (-o user=NAME, user.h): the
 * example the tests use, and the media storage overlay (media/, an
 * application of the daemon: the daemon's own files name no module).
 */
extern const struct user_module user_example;
extern const struct user_module user_media;

const struct user_module *const user_modules[] = {
	&user_example,
	&user_media,
	NULL,
};

void fsd_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_to_syslog) {
		vsyslog(LOG_NOTICE, fmt, ap);
	} else {
		char line[1024];

		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "fsd: %s\n", line);
	}
	va_end(ap);
}

/* The first worker to stop says why: -ENODEV when the mount went away. */
static _Atomic int worker_exit_err;

/* Workers tell the main thread that the connection has ended. */
void fsd_worker_exited(int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&worker_exit_err, &none, err);
	kill(getpid(), SIGUSR2);
}

/*
 * Workers create files with the caller's fsuid (create_begin) but must keep
 * root's capabilities meanwhile: without SECBIT_NO_SETUID_FIXUP, a fsuid
 * other than 0 drops CAP_DAC_OVERRIDE and friends.  Set here, inherited by
 * every thread.  Also raise the soft fd limit: idle nodes cache fds.
 */
static int creds_setup(void)
{
	struct rlimit rl;

	if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED) < 0)
		return -errno;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return 0;
}

static bool has_cap_sys_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return geteuid() == 0;
	return data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN);
}

static bool is_mount_root(const char *path)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, 0, 0, &sx) < 0)
		return false;
	return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* The checks whose failure deserves a clear message before mounting. */
static int check_paths(const struct config *cfg, char *backing, char *mnt)
{
	struct stat st;
	size_t blen;

	if (stat(cfg->backing_dir, &st) < 0) {
		fprintf(stderr, "fsd: backing directory '%s': %s\n", cfg->backing_dir,
			strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "fsd: backing directory '%s' is not a directory\n",
			cfg->backing_dir);
		return -1;
	}
	if (!cfg->mountpoint) { /* --dev-fd */
		if (realpath(cfg->backing_dir, backing))
			return 0;
		fprintf(stderr, "fsd: resolving '%s': %s\n", cfg->backing_dir, strerror(errno));
		return -1;
	}
	if (stat(cfg->mountpoint, &st) < 0) {
		fprintf(stderr, "fsd: mountpoint '%s': %s\n", cfg->mountpoint, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "fsd: mountpoint '%s' is not a directory\n", cfg->mountpoint);
		return -1;
	}
	if (!realpath(cfg->backing_dir, backing) || !realpath(cfg->mountpoint, mnt)) {
		fprintf(stderr, "fsd: resolving paths: %s\n", strerror(errno));
		return -1;
	}
	if (is_mount_root(mnt) && strcmp(mnt, "/") != 0) {
		fprintf(stderr, "fsd: mountpoint '%s' is busy: something is already mounted there\n",
			cfg->mountpoint);
		return -1;
	}
	/* The daemon would walk into its own mount and deadlock. */
	blen = strlen(backing);
	if (!strncmp(mnt, backing, blen) && (mnt[blen] == '/' || mnt[blen] == '\0' || blen == 1)) {
		fprintf(stderr, "fsd: mountpoint '%s' is inside the backing directory '%s'\n",
			cfg->mountpoint, cfg->backing_dir);
		return -1;
	}
	return 0;
}

/*
 * -o kernel=auto: the project's module when it is loaded (it made
 * /dev/fusebpf), else the stock FUSE.  With --dev-fd options_parse chose.
 */
static void kernel_resolve(struct config *cfg)
{
	struct stat st;

	if (cfg->kernel == KERNEL_AUTO)
		cfg->kernel = stat("/dev/fusebpf", &st) == 0 ? KERNEL_FUSEBPF : KERNEL_FUSE;
	fsd_bpf_kernel = cfg->kernel == KERNEL_FUSEBPF || cfg->kernel == KERNEL_RFC;
}

/*
 * /proc/mounts shows fsname (default: the backing directory) and fuse.SUBTYPE,
 * or fusebpf.SUBTYPE on fusebpf.ko.  A FUSE-BPF kernel learns
 * the root's backing directory and policy from the mount data, as the RFC
 * has it: root_dir= an fd of this process, which the kernel takes during
 * mount(2), and root_bpf= the policy's name.
 */
static int fuse_mount(const struct config *cfg, const char *backing, const char *mnt, int devfd)
{
	char opts[2048], bpf[64] = "", type[8 + sizeof(cfg->subtype)];
	int root_fd = -1, err = 0;

	snprintf(type, sizeof(type), "%s%s%s", cfg->kernel == KERNEL_FUSEBPF ? "fusebpf" : "fuse",
		 cfg->subtype[0] ? "." : "", cfg->subtype);
	if (fsd_bpf_kernel) {
		int used;

		root_fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0)
			return -errno;
		used = snprintf(bpf, sizeof(bpf), ",root_dir=%d", root_fd);
		if (cfg->policy[0])
			snprintf(bpf + used, sizeof(bpf) - used, ",root_bpf=%s", cfg->policy);
	}
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0%s%s%s%s%s", devfd,
		 cfg->default_permissions ? ",default_permissions" : "",
		 cfg->allow_other ? ",allow_other" : "", bpf, cfg->kernel_opts[0] ? "," : "",
		 cfg->kernel_opts);
	if (cfg->debug)
		fsd_log("mount type %s, data \"%s\"", type, opts);
	if (mount(cfg->fsname[0] ? cfg->fsname : backing, mnt, type, cfg->mount_flags, opts) < 0)
		err = -errno;
	if (root_fd >= 0)
		close(root_fd);
	return err;
}

/* What may be behind a mount(2) that failed, beyond its errno. */
static const char *mount_hint(const struct config *cfg, int err)
{
	if (err == -EINVAL && cfg->kernel == KERNEL_RFC)
		return " (kernel=rfc: this kernel's FUSE refused root_dir=; it has no FUSE-BPF?)";
	if (err == -ENODEV && cfg->kernel == KERNEL_FUSEBPF)
		return " (kernel=fusebpf: no filesystem type fusebpf; fusebpf.ko not loaded?)";
	if (err == -EINVAL && cfg->kernel_opts[0])
		return " (context= and the other SELinux options need SELinux on)";
	return "";
}

/*
 * -o remount (`mount -o remount MOUNTPOINT` runs the helper so): changes
 * the flags of the mount on MOUNTPOINT as for a local filesystem, then
 * gives its daemon the atime rule the mount now has (tree.c).  fsd's own
 * options are fixed when the daemon starts: ignored here, as the kernel
 * ignores a FUSE mount's own options on remount.  An exit status.
 */
static int remount(const struct config *cfg)
{
	char words[64], command[80], answer[256] = "";
	unsigned long atime;
	struct statvfs sv;
	FILE *out;
	int err;

	if (mount(NULL, cfg->mountpoint, NULL, MS_REMOUNT | cfg->mount_flags, NULL) < 0) {
		fprintf(stderr, "fsd: remounting '%s': %s\n", cfg->mountpoint, strerror(errno));
		return 1;
	}
	/* Options that name no atime rule keep the old one: ask the mount which it has. */
	if (statvfs(cfg->mountpoint, &sv) < 0) {
		fprintf(stderr, "fsd: remounted '%s', but cannot read its flags back: %s\n",
			cfg->mountpoint, strerror(errno));
		return 1;
	}
	atime = sv.f_flag & ST_NOATIME	  ? MS_NOATIME
		: sv.f_flag & ST_RELATIME ? MS_RELATIME
					  : MS_STRICTATIME;
	if (sv.f_flag & ST_NODIRATIME)
		atime |= MS_NODIRATIME;
	tree_atime_format(atime, words, sizeof(words));
	snprintf(command, sizeof(command), "atime %s", words);
	out = fmemopen(answer, sizeof(answer) - 1, "w");
	err = out ? control_send(cfg->mountpoint, command, out) : -errno;
	if (out)
		fclose(out);
	if (err || strncmp(answer, "ok", 2)) {
		answer[strcspn(answer, "\n")] = '\0';
		fprintf(stderr, "fsd: remounted '%s', but its daemon did not take '%s': %s\n",
			cfg->mountpoint, command, err ? strerror(-err) : answer);
		return 1;
	}
	return 0;
}

/* The helper's -N NS: mount in mount namespace NS, a path or a pid; 0 or -errno. */
static int mount_ns_enter(const char *ns)
{
	char path[64];
	int fd, err = 0;

	if (*ns && strspn(ns, "0123456789") == strlen(ns)) {
		snprintf(path, sizeof(path), "/proc/%.20s/ns/mnt", ns);
		ns = path;
	}
	fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Single-threaded still, as setns(CLONE_NEWNS) needs. */
	if (setns(fd, CLONE_NEWNS) < 0)
		err = -errno;
	close(fd);
	return err;
}

/*
 * Forks; the parent waits for the child to report whether the mount came
 * up and exits with that status, so errors reach the terminal.
 */
static int daemonize(int *status_fd)
{
	int pipefd[2];
	pid_t pid;
	char status = 1;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pipefd[1]);
		if (read(pipefd[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(pipefd[0]);
	setsid();
	*status_fd = pipefd[1];
	return 0;
}

static void daemon_ready(int status_fd, char status)
{
	int null;

	if (status_fd < 0)
		return;
	if (status == 0 && (null = open("/dev/null", O_RDWR)) >= 0) {
		log_to_syslog = true;
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
		if (chdir("/") < 0)
			fsd_log("chdir /: %s", strerror(errno));
	}
	if (write(status_fd, &status, 1) < 0)
		fsd_log("reporting startup: %s", strerror(errno));
	close(status_fd);
}

/*
 * The policy step's setup: the root's policy (inherited by everything below
 * it) and which userspace module runs (user_setup starts it).  Messages go
 * to stderr: nothing is mounted.  Before the fork: what it holds are fds.
 */
static int policy_setup(const struct config *cfg)
{
	char names[1024];
	struct policy *policy;
	struct node *root;
	int err;

	if (cfg->user)
		user_module = cfg->user;
	if (cfg->policy[0]) {
		/* A FUSE-BPF kernel runs the policy: the daemon keeps its name (filter.c). */
		err = fsd_bpf_kernel ? 0 : loader_bpffs_mount();
		if (err) {
			fprintf(stderr, "fsd: cannot mount bpffs on " LOADER_BPFFS ": %s\n",
				strerror(-err));
			return err;
		}
		err = policy_get(cfg->policy, &policy);
		if (err) {
			fprintf(stderr, "fsd: policy '%s': %s%s\n", cfg->policy, strerror(-err),
				err == -ENOENT ? " (load it first: fusebpf load FILE)" : "");
			return err;
		}
		root = node_get(FSD_ROOT_ID);
		node_set_policy(root, policy);
		node_put(root);
	}
	if (cfg->debug) {
		fsd_log("kernel mode %s: %s; filters run in %s", kernel_mode_name(cfg->kernel),
			cfg->dev_fd >= 0 ? "the --dev-fd connection" : dev_path(),
			fsd_bpf_kernel ? "the kernel" : "the daemon");
		opcode_mask_format(opcode_mask_backing(), names, sizeof(names));
		fsd_log("opcode mask backing %#llx: %s", (unsigned long long)opcode_mask_backing(),
			names);
		opcode_mask_format(cfg->user_ops, names, sizeof(names));
		fsd_log("opcode mask user %#llx: %s; policy %s; userspace module %s",
			(unsigned long long)cfg->user_ops, names, cfg->policy[0] ? cfg->policy : "none",
			user_module->name);
	}
	return 0;
}

/*
 * Starts the userspace module, in the process that serves: after the fork.
 * A module's state may not survive one: the media index's SQLite locks are
 * POSIX locks, the process's own, which a child does not inherit (its
 * commits would go to a WAL that another process's checkpoint deletes).
 * Messages still reach the terminal: daemon_ready() has not yet run.
 */
static int user_setup(const struct config *cfg)
{
	int err;

	if (!user_module->init)
		return 0;
	err = user_module->init(cfg->user_args[0] ? cfg->user_args : NULL);
	if (err)
		fprintf(stderr, "fsd: userspace module '%s' refused its arguments '%s': %s\n",
			user_module->name, cfg->user_args, strerror(-err));
	return err;
}

static int workers_start(struct worker *w, unsigned n, int session_fd)
{
	for (unsigned i = 0; i < n; i++) {
		int err;

		w[i].index = i;
		w[i].fd = i == 0 ? session_fd : dev_clone(session_fd);
		if (w[i].fd < 0) {
			fsd_log("cloning /dev/fuse for worker %u: %s", i, strerror(-w[i].fd));
			return w[i].fd;
		}
		w[i].in_buf = malloc(FSD_REQ_BUF);
		w[i].out_buf = malloc(FSD_MAX_WRITE);
		if (!w[i].in_buf || !w[i].out_buf)
			return -ENOMEM;
		err = pthread_create(&w[i].thread, NULL, dev_worker, &w[i]);
		if (err)
			return -err;
	}
	return 0;
}

/* Waits until deadline for every worker to finish; true if they all did. */
static bool workers_join(struct worker *w, unsigned n, const struct timespec *deadline)
{
	for (unsigned i = 0; i < n; i++) {
		if (!w[i].thread)
			continue;
		if (pthread_timedjoin_np(w[i].thread, NULL, deadline))
			return false;
		w[i].thread = 0;
	}
	return true;
}

static void workers_free(struct worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (w[i].fd >= 0)
			close(w[i].fd);
		free(w[i].in_buf);
		free(w[i].out_buf);
	}
	free(w);
}

int main(int argc, char **argv)
{
	static const char need_root[] =
	    "fsd: must run as root: mounting and kernel passthrough need CAP_SYS_ADMIN\n";
	struct config *cfg = &fsd_config;
	struct node_stats ns;
	char err_msg[256], backing[PATH_MAX], mnt[PATH_MAX];
	struct worker *workers = NULL;
	int devfd = -1, status_fd = -1, err, sig;
	bool unmounted_outside = false;
	int ended;
	sigset_t sigs;
	struct stat st;
	struct timespec deadline;

	err = options_parse(argc, argv, cfg, err_msg, sizeof(err_msg));
	/*
	 * mount(8) runs its helper with the caller's uid: a user's fstab mount
	 * (user, users, owner, group) learns first that fsd needs root, not
	 * that the user=NAME mount(8) may add is no module of fsd's.
	 */
	if (err) {
		if (cfg->helper && !has_cap_sys_admin())
			fputs(need_root, stderr);
		else
			fprintf(stderr, "fsd: %s\n", err_msg);
		/* mount(8)'s status for a bad invocation is 1; fsd's own is 2. */
		return cfg->helper ? 1 : 2;
	}
	if (cfg->show_help) {
		options_usage(argv[0]);
		return 0;
	}
	if (cfg->show_version) {
		printf("fsd %s (FUSE protocol 7.31 to 7.45)\n", FSD_VERSION);
		return 0;
	}
	if (cfg->stats_mountpoint) {
		err = control_send(cfg->stats_mountpoint, "stats", stdout);
		if (err)
			fprintf(stderr, "fsd: no fsd statistics for '%s': %s\n",
				cfg->stats_mountpoint, strerror(-err));
		return err ? 1 : 0;
	}
	if (cfg->fake)
		return 0; /* mount -f: the arguments are checked, nothing is mounted */
	if (cfg->dev_fd < 0 && !has_cap_sys_admin()) {
		fputs(need_root, stderr);
		return 1;
	}
	if (cfg->mount_ns) {
		err = mount_ns_enter(cfg->mount_ns);
		if (err) {
			fprintf(stderr, "fsd: mount namespace '%s': %s\n", cfg->mount_ns,
				strerror(-err));
			return 1;
		}
	}
	if (cfg->remount)
		return remount(cfg);
	if (check_paths(cfg, backing, mnt))
		return 1;
	kernel_resolve(cfg);
	/* Without the privilege (--dev-fd as a user) creation runs as the daemon's user. */
	err = creds_setup();
	if (err && cfg->dev_fd < 0) {
		fprintf(stderr, "fsd: cannot keep capabilities across fsuid changes: %s\n",
			strerror(-err));
		return 1;
	}
	devfd = cfg->dev_fd >= 0 ? dev_given(cfg->dev_fd) : dev_open();
	if (devfd < 0) {
		if (cfg->dev_fd >= 0)
			fprintf(stderr, "fsd: --dev-fd %d: %s\n", cfg->dev_fd, strerror(-devfd));
		else if (cfg->kernel == KERNEL_FUSEBPF)
			fprintf(stderr, "fsd: kernel=fusebpf: %s: %s%s\n", dev_path(),
				strerror(-devfd),
				devfd == -ENOENT || devfd == -ENODEV || devfd == -ENXIO
				    ? " (fusebpf.ko not loaded?)"
				    : "");
		else
			fprintf(stderr, "fsd: cannot open %s: %s\n", dev_path(), strerror(-devfd));
		return 1;
	}
	/*
	 * Reads through the mount update atime as its options say (tree.c);
	 * a FUSE-BPF kernel does so for the files it opens itself.
	 */
	err = tree_init(backing, cfg->mount_flags);
	if (err && cfg->mountpoint)
		fprintf(stderr,
			"fsd: cannot copy the mount of '%s' (%s): reads through the mount "
			"update atime as the backing mount says\n",
			backing, strerror(-err));
	err = node_table_init(backing, cfg->fd_cache);
	if (err) {
		fprintf(stderr, "fsd: backing directory '%s': %s\n", cfg->backing_dir,
			strerror(-err));
		return 1;
	}
	handle_limits_init(cfg->max_opens_per_uid); /* from the fd cache node_table_init sized */
	node_stats(&ns);
	backing_init(ns.fd_cache_max); /* a kept backing id pins its inode as a cached fd does */
	if (policy_setup(cfg))
		return 1;
	/* Modes arrive with the caller's umask applied: apply none of ours. */
	umask(0);

	if (!cfg->foreground && daemonize(&status_fd) < 0) {
		fprintf(stderr, "fsd: cannot start in the background: %s\n", strerror(errno));
		return 1;
	}
	/* Workers leave every signal to the main thread. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/* Before the mount: the first requests may need it. */
	if (user_setup(cfg)) {
		daemon_ready(status_fd, 1);
		return 1;
	}
	err = cfg->mountpoint ? fuse_mount(cfg, backing, mnt, devfd) : 0;
	if (err) {
		fprintf(stderr, "fsd: mounting '%s' on '%s': %s%s\n", cfg->backing_dir,
			cfg->mountpoint, strerror(-err), mount_hint(cfg, err));
		daemon_ready(status_fd, 1);
		return 1;
	}
	fsd_session_fd = devfd;
	/* Before the workers: INIT asks for io_uring only if the rings are there. */
	if (cfg->uring != URING_MODE_OFF)
		uring_setup(devfd);
	workers = calloc(cfg->threads, sizeof(*workers));
	if (!workers || workers_start(workers, cfg->threads, devfd)) {
		fprintf(stderr, "fsd: cannot start %u workers\n", cfg->threads);
		if (cfg->mountpoint)
			umount2(mnt, MNT_DETACH);
		daemon_ready(status_fd, 1);
		return 1;
	}
	/* Answered once INIT is: the workers are running. */
	if (cfg->mountpoint) {
		err = stat(mnt, &st) < 0 ? -errno : control_serve(st.st_dev);
		if (err)
			fsd_log("statistics socket: %s (continuing without)", strerror(-err));
	}
	if (cfg->debug)
		fsd_log("serving '%s' on '%s' with %u workers%s", backing,
			cfg->mountpoint ? mnt : "--dev-fd", cfg->threads,
			uring_wanted() ? " and io_uring queues" : "");
	daemon_ready(status_fd, 0);

	do {
		if (sigwait(&sigs, &sig))
			sig = SIGTERM;
	} while (sig == SIGPIPE);
	/*
	 * -ENODEV: unmounted, or the --dev-fd peer closed its end.
	 * -ECONNABORTED: the kernel ended the connection (an abort through
	 * fusectl, or, now and then, an unmount): detached below if still
	 * mounted, and not a failure of the daemon's.
	 */
	ended = atomic_load(&worker_exit_err);
	unmounted_outside = sig == SIGUSR2 && ended == -ENODEV;

	control_stop();
	if (cfg->mountpoint && !unmounted_outside && umount2(mnt, MNT_DETACH) < 0 &&
	    !(ended == -ECONNABORTED && errno == EINVAL))
		fsd_log("unmounting '%s': %s", mnt, strerror(errno));
	uring_stop();
	/*
	 * With nothing open on it the connection ends now: the workers see
	 * ENODEV and the kernel hands back the ring entries.  If files are
	 * still open, exiting closes the device, which aborts the connection:
	 * their next access gets ENOTCONN.
	 */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	/* Workers that did not stop may still be in the module: leave it and the tables be. */
	if (workers_join(workers, cfg->threads, &deadline) && uring_join(&deadline)) {
		workers_free(workers, cfg->threads);
		uring_free();
		node_table_destroy();
		policy_registry_destroy();
		if (user_module->fini)
			user_module->fini();
	}
	/* A worker that stopped for another reason than the connection's end failed. */
	return sig == SIGUSR2 && !unmounted_outside && ended != -ECONNABORTED ? 1 : 0;
}
