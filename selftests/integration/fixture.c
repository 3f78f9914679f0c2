// SPDX-License-Identifier: MIT
/*
 * The integration-test fixture; see fixture.h.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <criterion/internal/ordered-set.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct mnt M;

/*
 * The watchdog gives up on a test after this long, times test_time_scale()
 * (Criterion's own timeout is shorter).
 */
#define WATCHDOG_SECONDS 1200
/* How long a daemon may take to mount and to answer on its statistics socket. */
#define MOUNT_WAIT_SECONDS 20

static const char *env_or(const char *name, const char *otherwise)
{
	const char *v = getenv(name);

	return v && *v ? v : otherwise;
}

const char *fsd_bin(void)
{
	return env_or("FSD_BIN", "build/fsd");
}

const char *fusebpf_bin(void)
{
	return env_or("FUSEBPF_BIN", "build/fusebpf");
}

const char *test_tmp(void)
{
	return env_or("FSD_TEST_TMP", "/tmp");
}

unsigned int test_time_scale(void)
{
	static unsigned int scale;
	char *end;
	unsigned long v;

	if (!scale) {
		v = strtoul(env_or("FSD_TEST_TIME_SCALE", "1"), &end, 10);
		scale = *end || v < 1 || v > 100 ? 1 : (unsigned int)v;
	}
	return scale;
}

/*
 * The test binary's main, Criterion's own but for one step: every suite's
 * and test's timeout is multiplied by test_time_scale() before the runner,
 * this process, reads them to start each test.
 */
static void scale_timeouts(struct criterion_test_set *set)
{
	unsigned int scale = test_time_scale();

	for (struct criterion_ordered_set_node *s = set->suites->first; s; s = s->next) {
		struct criterion_suite_set *suite = (void *)(s + 1);

		if (suite->suite.data)
			suite->suite.data->timeout *= scale;
		for (struct criterion_ordered_set_node *t = suite->tests ? suite->tests->first : NULL;
		     t; t = t->next) {
			struct criterion_test *test = (void *)(t + 1);

			if (test->data)
				test->data->timeout *= scale;
		}
	}
}

int main(int argc, char *argv[])
{
	struct criterion_test_set *set = criterion_initialize();
	int failed = 0;

	scale_timeouts(set);
	if (criterion_handle_args(argc, argv, true))
		failed = !criterion_run_all_tests(set);
	criterion_finalize(set);
	return failed;
}

bool is_mounted(const char *dir)
{
	char line[PATH_MAX * 2];
	size_t len = strlen(dir);
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ' ');

		found = p && !strncmp(p + 1, dir, len) && p[1 + len] == ' ';
	}
	fclose(f);
	return found;
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

uint64_t mnt_handles_settled(const struct mnt *m)
{
	for (int i = 0; i < 50 && mnt_stat(m, "handles"); i++)
		sleep_ms(100);
	return mnt_stat(m, "handles");
}

/*
 * Waits for the test process to close its end of the pipe (done or dead)
 * or for the time limit, then makes sure nothing stays mounted or running.
 */
static void watchdog(int fd, const char *dir, pid_t fsd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	/*
	 * Holding nothing else: a copy of another mount's watchdog pipe, made
	 * by this fork, would keep that watchdog from seeing its test let go.
	 */
	close_range(3, fd - 1, 0);
	close_range(fd + 1, ~0U, 0);
	while (poll(&p, 1, WATCHDOG_SECONDS * 1000 * (int)test_time_scale()) < 0 && errno == EINTR)
		;
	if (is_mounted(dir))
		umount2(dir, MNT_DETACH);
	kill(fsd, SIGTERM);
	for (int i = 0; i < 20 && kill(fsd, 0) == 0; i++)
		sleep_ms(100);
	kill(fsd, SIGKILL);
	_exit(0);
}

static void mnt_run(struct mnt *m, const char *opts);

/* The first lines of the daemon's log, for a failure message. */
static void log_head(const struct mnt *m, char *buf, size_t size)
{
	int fd = open(m->log, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

void mnt_start(struct mnt *m, const char *opts)
{
	mnt_start_over(m, NULL, opts);
}

void mnt_start_over(struct mnt *m, const char *backing, const char *opts)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->root, sizeof(m->root), "%s/t.XXXXXX", test_tmp());
	cr_assert(mkdtemp(m->root), "mkdtemp %s: %s", m->root, strerror(errno));
	cr_assert(snprintf(m->backing, sizeof(m->backing), "%s", backing ? backing : "") <
			  (int)sizeof(m->backing) &&
		  snprintf(m->dir, sizeof(m->dir), "%s/mnt", m->root) < (int)sizeof(m->dir) &&
		  snprintf(m->log, sizeof(m->log), "%s/fsd.log", m->root) < (int)sizeof(m->log));
	cr_assert(mkdir(m->dir, 0755) == 0);
	if (!backing) {
		cr_assert(snprintf(m->backing, sizeof(m->backing), "%s/backing", m->root) <
			  (int)sizeof(m->backing));
		cr_assert(mkdir(m->backing, 0755) == 0);
		/* Tests create as other uids: let them in, as /tmp would. */
		chmod(m->backing, 01777);
	}
	mnt_run(m, opts);
}

/* Starts fsd on m's backing dir and mountpoint, and waits until the mount answers. */
static void mnt_run(struct mnt *m, const char *opts)
{
	char log[1024];
	int pipefd[2], logfd, wait_steps;

	m->fsd = fork();
	cr_assert(m->fsd >= 0);
	if (m->fsd == 0) {
		const char *argv[40];
		char *extra = getenv("FSD_TEST_OPTS") ? strdup(getenv("FSD_TEST_OPTS")) : NULL;
		char *save = NULL;
		int n = 0;

		logfd = open(m->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (logfd >= 0) {
			dup2(logfd, 2);
			dup2(logfd, 1);
		}
		argv[n++] = fsd_bin();
		argv[n++] = "-f";
		if (opts && *opts) {
			argv[n++] = "-o";
			argv[n++] = opts;
		}
		/*
		 * The machine's enable_uring may be on (a uring test sets it
		 * for a moment): a test gets io_uring only when it asks, so
		 * that timing never decides which transport serves it.
		 */
		if (!(opts && strstr(opts, "uring")) && !(extra && strstr(extra, "uring"))) {
			argv[n++] = "-o";
			argv[n++] = "uring=off";
		}
		/* The whole suite under other options: FSD_TEST_OPTS="-o uring=on". */
		for (char *a = extra ? strtok_r(extra, " ", &save) : NULL; a && n < 36;
		     a = strtok_r(NULL, " ", &save))
			argv[n++] = a;
		argv[n++] = m->backing;
		argv[n++] = m->dir;
		argv[n] = NULL;
		execv(argv[0], (char **)argv);
		_exit(127);
	}

	cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
	m->watchdog = fork();
	cr_assert(m->watchdog >= 0);
	if (m->watchdog == 0) {
		close(pipefd[1]);
		watchdog(pipefd[0], m->dir, m->fsd);
	}
	close(pipefd[0]);
	m->watchdog_fd = pipefd[1];

	/* A daemon under ASan on a loaded 2-CPU machine starts in seconds. */
	wait_steps = MOUNT_WAIT_SECONDS * 20 * (int)test_time_scale();
	for (int i = 0; i < wait_steps && !is_mounted(m->dir); i++) {
		int status;

		if (waitpid(m->fsd, &status, WNOHANG) == m->fsd) {
			log_head(m, log, sizeof(log));
			m->fsd = 0;
			cr_assert_fail("fsd exited before mounting (status %d): %s", status, log);
		}
		sleep_ms(50);
	}
	cr_assert(is_mounted(m->dir), "fsd did not mount %s within %d s", m->dir, wait_steps / 20);
	/*
	 * Ready when INIT is answered and the statistics socket answers: a
	 * connect, not the file, which a daemon killed with -9 on a mount of
	 * the same device number may have left behind.
	 */
	for (int i = 0; i < wait_steps; i++) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		struct stat st;
		int fd;

		if (stat(m->dir, &st) == 0) {
			snprintf(sun.sun_path, sizeof(sun.sun_path), "/run/fusebpf/fsd-%llu.sock",
				 (unsigned long long)st.st_dev);
			fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			cr_assert(fd >= 0);
			if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
				close(fd);
				return;
			}
			close(fd);
		}
		sleep_ms(50);
	}
	log_head(m, log, sizeof(log));
	cr_assert_fail("fsd on %s did not serve statistics within %d s; its log: %s", m->dir,
		       wait_steps / 20, log);
}

/* Unmounts and waits for fsd; whether its log has a sanitizer report (printed), in *sanitized. */
static bool mnt_halt(struct mnt *m, bool *sanitized)
{
	int status = -1;
	bool clean = false;

	if (m->fsd > 0) {
		if (is_mounted(m->dir) && umount2(m->dir, 0) < 0)
			umount2(m->dir, MNT_DETACH);
		/* 5 s for the daemon to exit, more in a slow guest. */
		for (int i = 0; i < 100 * (int)test_time_scale(); i++) {
			if (waitpid(m->fsd, &status, WNOHANG) == m->fsd) {
				clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
				break;
			}
			sleep_ms(50);
		}
	}
	if (m->watchdog_fd > 0) {
		close(m->watchdog_fd); /* the watchdog cleans up whatever is left */
		waitpid(m->watchdog, NULL, 0);
	}
	m->fsd = 0;
	m->watchdog_fd = 0;
	/* Under make asan: a sanitizer report from the daemon fails the test. */
	*sanitized = sh("grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '%s'", m->log) == 0;
	if (*sanitized)
		sh("cat '%s' >&2", m->log);
	return clean;
}

bool mnt_remount(struct mnt *m, const char *opts)
{
	bool sanitized, clean = mnt_halt(m, &sanitized);

	cr_assert_not(sanitized, "the daemon's log has a sanitizer report (above)");
	mnt_run(m, opts);
	return clean;
}

bool mnt_stop(struct mnt *m)
{
	bool clean, sanitized;

	if (!m->dir[0])
		return false;
	clean = mnt_halt(m, &sanitized);
	if (!getenv("FSD_TEST_KEEP"))
		sh("rm -rf '%s'", m->root);
	m->dir[0] = '\0';
	if (sanitized) {
		/* An assertion in .fini would not fail the test: crash it instead. */
		fprintf(stderr, "fixture: the daemon's log has a sanitizer report (above)\n");
		abort();
	}
	return clean;
}

void mnt_setup(void)
{
	mnt_start(&M, NULL);
}

void mnt_teardown(void)
{
	mnt_stop(&M);
}

static const char *join(const char *base, const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ & 3];

	if (snprintf(b, PATH_MAX, "%s%s%s", base, rel && *rel ? "/" : "", rel ? rel : "") >=
	    PATH_MAX)
		cr_assert_fail("path too long: %s/%s", base, rel);
	return b;
}

const char *mp(const struct mnt *m, const char *rel)
{
	return join(m->dir, rel);
}

const char *bp(const struct mnt *m, const char *rel)
{
	return join(m->backing, rel);
}

uint64_t mnt_stat(const struct mnt *m, const char *key)
{
	char cmd[PATH_MAX * 2], line[256];
	size_t klen = strlen(key);
	uint64_t v = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --stats '%s'", fsd_bin(), m->dir);
	f = popen(cmd, "r");
	cr_assert(f, "running fsd --stats");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			v = strtoull(line + klen + 1, NULL, 10);
	cr_assert(pclose(f) == 0, "fsd --stats %s failed", m->dir);
	return v;
}

uint64_t mnt_requests(const struct mnt *m, const char *op)
{
	char key[64];

	snprintf(key, sizeof(key), "requests.%s", op);
	return mnt_stat(m, key);
}

uint64_t mnt_served(const struct mnt *m, const char *op)
{
	char key[64];

	snprintf(key, sizeof(key), "kernel.%s", op);
	return mnt_requests(m, op) + mnt_stat(m, key);
}

const char *fsd_fstype(void)
{
	return access("/dev/fusebpf", F_OK) == 0 ? "fusebpf" : "fuse";
}

bool mnt_in_kernel(const struct mnt *m)
{
	return sh("'%s' --stats '%s' | grep -qx 'kernel fusebpf'", fsd_bin(), m->dir) == 0;
}

uint64_t requests(const char *op)
{
	return mnt_requests(&M, op);
}

uint64_t served(const char *op)
{
	return mnt_served(&M, op);
}

void start(const char *opts)
{
	mnt_start(&M, opts);
}

void put(const char *path, const char *text)
{
	cr_assert_eq(write_file(path, text, strlen(text)), 0, "writing %s", path);
}

int mnt_fd_count(const struct mnt *m)
{
	char cmd[128], out[32] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls /proc/%d/fd | wc -l", (int)m->fsd);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(out, sizeof(out), f))
		out[0] = '\0';
	pclose(f);
	return out[0] ? atoi(out) : -1;
}

unsigned long mnt_fd_limit(const struct mnt *m)
{
	struct rlimit rl;

	cr_assert_eq(prlimit(m->fsd, RLIMIT_NOFILE, NULL, &rl), 0, "prlimit: %s", strerror(errno));
	cr_log_info("fsd RLIMIT_NOFILE: soft %llu, hard %llu", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
	return rl.rlim_max;
}

int run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
			_exit(126);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct open_args {
	const char *path;
	int flags;
};

static int open_close(void *arg)
{
	const struct open_args *a = arg;
	int fd = open(a->path, a->flags);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

int open_as(uid_t uid, gid_t gid, const char *path, int flags)
{
	struct open_args a = { path, flags };

	return run_as(uid, gid, open_close, &a);
}

int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n < 0 || (size_t)n != len) {
		int err = n < 0 ? -errno : -EIO;

		close(fd);
		return err;
	}
	return close(fd) < 0 ? -errno : 0;
}

ssize_t read_file(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void find_above(const char *rel, char *path, size_t len)
{
	char dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	char *slash;

	cr_assert(n > 0);
	dir[n] = '\0';
	while ((slash = strrchr(dir, '/'))) {
		*slash = '\0';
		if (snprintf(path, len, "%s/%s", dir, rel) < (int)len && access(path, F_OK) == 0)
			return;
	}
	cr_assert_fail("%s not found above the test binary", rel);
}

/* Runs cmd with its stderr joined to its stdout; its exit status, the output in out. */
static int sh_capture(const char *cmd, char *out, size_t size)
{
	size_t used = 0;
	FILE *f;
	int status;

	f = popen(cmd, "r");
	cr_assert(f, "running %s", cmd);
	if (out && size)
		out[0] = '\0';
	for (;;) {
		char buf[512];
		size_t n = fread(buf, 1, sizeof(buf), f);

		if (n == 0)
			break;
		if (out && used + 1 < size) {
			size_t take = n < size - used - 1 ? n : size - used - 1;

			memcpy(out + used, buf, take);
			used += take;
			out[used] = '\0';
		}
	}
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int sh_output(char *out, size_t size, const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 5, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0 && (size_t)n < sizeof(cmd) - 5, "command too long: %s", cmd);
	strcat(cmd, " 2>&1");
	return sh_capture(cmd, out, size);
}

int fusebpf(char *out, size_t size, const char *fmt, ...)
{
	char args[2048], cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", fusebpf_bin(), args);
	return sh_capture(cmd, out, size);
}

void test_policy_load(const char *what, const char *suffix, char name[16])
{
	char out[8192];
	int status;

	snprintf(name, 16, "t%d%s", (int)getpid() % 10000000, suffix);
	status = fusebpf(out, sizeof(out), "load '%s' --name %s", what, name);
	cr_assert_eq(status, 0, "fusebpf load %s --name %s: %s", what, name, out);
}

void test_policy_unload(const char *name)
{
	fusebpf(NULL, 0, "unload %s", name);
}

int test_policy_map(const char *name, const char *map)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/sys/fs/bpf/fusebpf/%s/maps/%s", name, map);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0, "map %s: %s", path, strerror(errno));
	return fd;
}

uint64_t test_policy_calls(const char *name, uint32_t op, uint32_t phase)
{
	uint32_t key = op * 2 + phase - 1;
	uint64_t n = 0;
	int fd = test_policy_map(name, "calls");

	cr_assert_eq(bpf_map_lookup_elem(fd, &key, &n), 0);
	close(fd);
	return n;
}

const char *test_bpf(const char *name)
{
	static char path[PATH_MAX];
	const char *dir = getenv("FSD_BPF_DIR");

	snprintf(path, sizeof(path), "%s/test/%s.bpf.o", dir ? dir : "build/bpf", name);
	return path;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void policy_object_ops(const char *path, bool kernel, char *ops, size_t size)
{
	/* libbpf notes the .fusebpf section it does not know. */
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	struct bpf_map *map;
	char *names[80];
	size_t n = 0, used = 0;
	int maps = 0;

	libbpf_set_print(print);
	cr_assert(obj, "%s: %s", path, strerror(errno));
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);

		cr_assert_lt(n, sizeof(names) / sizeof(*names));
		if (kernel) {
			cr_assert(!strncmp(name, "fusebpf_", 8), "%s: program %s", path, name);
			cr_assert_eq(bpf_program__type(prog), BPF_PROG_TYPE_STRUCT_OPS, "%s: %s",
				     path, name);
			names[n++] = strdup(name + 8);
		} else {
			names[n++] = strndup(name, strrchr(name, '_') - name);
		}
	}
	qsort(names, n, sizeof(*names), str_cmp);
	ops[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(names[i], names[i - 1]))
			used += snprintf(ops + used, size - used, "%s,", names[i]);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	bpf_object__for_each_map(map, obj)
		maps += bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS;
	cr_assert_eq(maps, kernel ? 1 : 0, "%s: %d struct_ops maps", path, maps);
	bpf_object__close(obj);
}
