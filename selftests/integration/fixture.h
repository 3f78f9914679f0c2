/* SPDX-License-Identifier: MIT */
/*
 * The integration-test fixture: a fresh backing directory, fsd mounted
 * over it in the foreground, and a watchdog process that unmounts and
 * kills the daemon if the test dies or runs past its time, so that a hung
 * daemon can never hang the suite.
 */
#ifndef FSD_TEST_FIXTURE_H
#define FSD_TEST_FIXTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mnt {
	char root[PATH_MAX]; /* the test's scratch dir, holds the two below */
	char backing[PATH_MAX];
	char dir[PATH_MAX]; /* the mountpoint */
	char log[PATH_MAX]; /* fsd's stderr */
	pid_t fsd;
	pid_t watchdog;
	int watchdog_fd; /* closing it tells the watchdog we are done */
};

/* The one mount of the running test (Criterion runs each test in a process). */
extern struct mnt M;

/*
 * The programs under test and the run's scratch dir: $FSD_BIN, $FUSEBPF_BIN
 * and $FSD_TEST_TMP, which scripts/run-tests.sh sets; build/fsd,
 * build/fusebpf and /tmp for a test binary run by hand.
 */
const char *fsd_bin(void);
const char *fusebpf_bin(void);
const char *test_tmp(void);
/*
 * How many times slower than the host this machine runs the suite:
 * FSD_TEST_TIME_SCALE (1 to 100, default 1; make vmtest sets it under TCG).
 * Every Criterion timeout and the fixture's waits and watchdog are
 * multiplied by it; what a test does and asserts is not.
 */
unsigned int test_time_scale(void);

/*
 * Makes a scratch dir, runs `fsd -f -o OPTS $FSD_TEST_OPTS BACKING MNT` and
 * waits until the mount answers.  opts may be NULL; FSD_TEST_OPTS (split at
 * spaces, e.g. "-o uring=on") runs the suite with other options.  Aborts
 * the test on failure.
 */
void mnt_start(struct mnt *m, const char *opts);
/* mnt_start over a backing dir of the test's (another mount, say), which stays. */
void mnt_start_over(struct mnt *m, const char *backing, const char *opts);
/* Unmounts, waits for fsd to exit, removes the scratch dir; true if fsd exited 0. */
bool mnt_stop(struct mnt *m);
/*
 * Unmounts, waits for fsd to exit, and mounts the same backing dir on the
 * same mountpoint with a new fsd (a remount: a new daemon); true if the old
 * one exited 0.  Aborts the test on failure.
 */
bool mnt_remount(struct mnt *m, const char *opts);
/* Whether dir is a mountpoint (/proc/self/mounts). */
bool is_mounted(const char *dir);

/* Paths: in the mount and in the backing dir (static buffers, 4 rotating). */
const char *mp(const struct mnt *m, const char *rel);
const char *bp(const struct mnt *m, const char *rel);

/* A counter from `fsd --stats`: nodes, handles, backing_ids, requests.READ... (0 if absent). */
uint64_t mnt_stat(const struct mnt *m, const char *key);
/* requests.<op> from `fsd --stats`: how many requests of that opcode reached the daemon. */
uint64_t mnt_requests(const struct mnt *m, const char *op);
/*
 * How many of that opcode were served: by the daemon (requests.<op>), or
 * by fusebpf.ko itself on the backing inode (kernel.<op>; 0 elsewhere).
 * For tests that check that an operation was done, not by whom.
 */
uint64_t mnt_served(const struct mnt *m, const char *op);
/* Number of open fds of the daemon process. */
int mnt_fd_count(const struct mnt *m);
/*
 * The daemon's hard RLIMIT_NOFILE (logged, so that a test's output says what
 * it proved): 20,000 on this project's host, 4,096 in a make vmtest guest.
 * Tests that must outgrow it size their work by it.
 */
unsigned long mnt_fd_limit(const struct mnt *m);

/* Sleeps ms milliseconds: the step of the tests' polls for what the kernel does later. */
void sleep_ms(long ms);
/*
 * The daemon's open handles after the kernel's asynchronous releases
 * (RELEASE, RELEASEDIR) came in: polled for up to 5 s until 0.
 */
uint64_t mnt_handles_settled(const struct mnt *m);

/* Runs fn(arg) in a child as uid/gid (no supplementary groups); its exit status. */
int run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg);
/* As uid/gid, opens path with flags and closes it: 0 or the errno. */
int open_as(uid_t uid, gid_t gid, const char *path, int flags);

/* Criterion fixture callbacks: mount with default options, and tear down. */
void mnt_setup(void);
void mnt_teardown(void);

/* Writes len bytes of content to path (creating it); 0 or -errno. */
int write_file(const char *path, const void *buf, size_t len);
/* Reads up to len bytes of path; bytes read or -errno. */
ssize_t read_file(const char *path, void *buf, size_t len);
/* Writes text to path, asserting success. */
void put(const char *path, const char *text);
/* mnt_start(&M, opts), for tests with their own options. */
void start(const char *opts);
/* mnt_requests(&M, op). */
uint64_t requests(const char *op);
/* Whether fusebpf.ko serves the mount, running its filters (fsd --stats: "kernel fusebpf"). */
bool mnt_in_kernel(const struct mnt *m);
/*
 * The filesystem type fsd mounts unless told which kernel: fusebpf where
 * /dev/fusebpf is (fsd takes fusebpf.ko there), fuse elsewhere;
 * /proc/mounts shows it, with ".SUBTYPE".
 */
const char *fsd_fstype(void);
/* mnt_served(&M, op). */
uint64_t served(const char *op);
/* Runs a shell command; its exit status. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a shell command; its exit status, its stdout and stderr in out (may be NULL). */
int sh_output(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Finds rel in the nearest directory above the test binary (BUILD/fsd-tests) that has it. */
void find_above(const char *rel, char *path, size_t len);

/*
 * Policies.  A test loads each policy under a name of its own, "t<pid><suffix>",
 * so that tests running at once share no pinned maps, and unloads it at the end.
 */
/* Runs `fusebpf ARGS`; its exit status, its stdout and stderr in out (may be NULL). */
int fusebpf(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Loads what (a built-in policy or a .bpf.o) as t<pid><suffix>, its name in name; asserts. */
void test_policy_load(const char *what, const char *suffix, char name[16]);
/* Unloads it (no assertion: also called on the way out of a failing test). */
void test_policy_unload(const char *name);
/* An fd of a map of a loaded policy; asserts. */
int test_policy_map(const char *name, const char *map);
/* How many times the filter of opcode op ran in phase, by the `calls` map of verdicts (bpf/). */
uint64_t test_policy_calls(const char *name, uint32_t op, uint32_t phase);
/* The path of a test policy object, selftests/bpf/NAME.bpf.c built. */
const char *test_bpf(const char *name);
/*
 * The opcodes the programs of a policy object are for, sorted, one each,
 * as "lookup,open,": of its filters (<op>_prefilter, <op>_postfilter), or
 * of its struct_ops members (fusebpf_<op>, kernel, asserting that it has
 * its one struct_ops map).
 */
void policy_object_ops(const char *path, bool kernel, char *ops, size_t size);

#endif
