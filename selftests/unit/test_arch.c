// SPDX-License-Identifier: MIT
/*
 * The architecture tables of fsd/arch.c: open(2) flags and errno numbers of
 * a FUSE client of another architecture, translated to and from fsd's own.
 *
 * The header tests take their expectations from the kernel itself, never
 * from the tables under test: they extract Linux 6.1's uapi fcntl.h and
 * errno.h (every architecture's, and asm-generic's) from the Debian package
 * linux-source-6.1, let cpp -dM resolve the #ifndef/#undef layering of each
 * architecture, evaluate the resulting #defines (octal, hex, decimal, names
 * and |), and check every flag and every errno of every architecture.  The
 * tests before them check the cases that matter most with literal values.
 */
#define _GNU_SOURCE
#include "../../fsd/arch.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(arch, .timeout = 10);

#define LINUX_TARBALL "/usr/src/linux-source-6.1.tar.xz"
#define LINUX_TOP "linux-source-6.1"

/* The machine this test runs on, decided here rather than by arch_native(). */
#if defined(__x86_64__)
#define HOST_EM EM_X86_64
#elif defined(__i386__)
#define HOST_EM EM_386
#elif defined(__aarch64__)
#define HOST_EM EM_AARCH64
#elif defined(__arm__)
#define HOST_EM EM_ARM
#elif defined(__riscv)
#define HOST_EM EM_RISCV
#elif defined(__powerpc64__)
#define HOST_EM EM_PPC64
#elif defined(__s390__)
#define HOST_EM EM_S390
#elif defined(__loongarch__)
#define HOST_EM EM_LOONGARCH
#else
#define HOST_EM 0
#endif

/* Every architecture fsd must have a row for, and where the kernel keeps its headers. */
struct test_arch {
	uint32_t em;
	const char *dir; /* arch/<dir>/include/uapi/asm */
	const char *defines[2]; /* the compiler's predefines its headers test */
};

static const struct test_arch test_archs[] = {
	{ EM_X86_64, "x86" },
	{ EM_386, "x86" },
	{ EM_AARCH64, "arm64" },
	{ EM_ARM, "arm" },
	{ EM_RISCV, "riscv" },
	{ EM_PPC64, "powerpc" },
	{ EM_PPC, "powerpc" },
	{ EM_S390, "s390" },
	{ EM_MIPS, "mips" },
	{ EM_SPARCV9, "sparc", { "-D__sparc__", "-D__arch64__" } },
	{ EM_SPARC, "sparc", { "-D__sparc__" } },
	{ EM_ALPHA, "alpha" },
	{ EM_PARISC, "parisc" },
	{ EM_LOONGARCH, "loongarch" },
};
#define N_ARCHS (sizeof(test_archs) / sizeof(test_archs[0]))

static const struct arch *find(uint32_t em)
{
	const struct arch *a = arch_find(em);

	cr_assert_not_null(a, "no table for e_machine %u", em);
	return a;
}

static uint32_t to_native(const struct arch *a, uint32_t flags)
{
	uint32_t out = 0xdeadbeef;
	int err = arch_open_flags_to_native(a, flags, &out);

	cr_assert_eq(err, 0, "%s: flags %#o refused (unknown %#o)", arch_name(a), flags,
		     arch_open_flags_unknown(a, flags));
	return out;
}

static uint32_t from_native(const struct arch *a, uint32_t flags)
{
	uint32_t out = 0xdeadbeef;

	cr_assert_eq(arch_open_flags_from_native(a, flags, &out), 0, "%s: native %#o refused",
		     arch_name(a), flags);
	return out;
}

static bool native_is_x86_64(void)
{
	return HOST_EM == EM_X86_64;
}

/* ---- the tables exist, and the native one is this machine's ---- */

Test(arch, every_architecture_has_a_row_and_only_those)
{
	unsigned found = 0;

	for (size_t i = 0; i < N_ARCHS; i++)
		cr_expect_eq(arch_id(find(test_archs[i].em)), test_archs[i].em);
	/* Every row is one this file checks: none escapes the header tests. */
	for (uint32_t em = 0; em <= 0xffff; em++)
		found += arch_find(em) != NULL;
	cr_expect_eq(found, N_ARCHS, "%u rows, %zu checked here", found, N_ARCHS);
	cr_expect_null(arch_find(EM_IA_64));
	cr_expect_null(arch_find(0x10000 | EM_X86_64));
	cr_expect_str_eq(arch_name(find(EM_AARCH64)), "arm64");
}

Test(arch, native_is_the_build_host)
{
	cr_assert_not_null(arch_native());
	cr_expect_eq(arch_id(arch_native()), HOST_EM);
}

/* ---- open flags: the cases that motivate the tables, in literal values ---- */

Test(arch, arm64_o_direct_is_native_o_direct_not_o_directory)
{
	const struct arch *arm64 = find(EM_AARCH64);

	if (!native_is_x86_64())
		cr_skip_test("the literal native values here are x86-64's");
	/* arch/arm64/include/uapi/asm/fcntl.h: O_DIRECT 0200000, O_DIRECTORY 040000. */
	cr_expect_eq(to_native(arm64, 0200000), 040000);
	cr_expect_eq(to_native(arm64, 0200000), (uint32_t)O_DIRECT);
	cr_expect_neq(to_native(arm64, 0200000) & O_DIRECTORY, O_DIRECTORY);
	cr_expect_eq(to_native(arm64, 040000), 0200000);
	cr_expect_eq(to_native(arm64, 040000), (uint32_t)O_DIRECTORY);
	/* O_NOFOLLOW 0100000 is x86-64's O_LARGEFILE, arm64's O_LARGEFILE x86-64's O_NOFOLLOW. */
	cr_expect_eq(to_native(arm64, 0100000), (uint32_t)O_NOFOLLOW);
	cr_expect_eq(to_native(arm64, 0400000), 0100000);
	/* A whole open: O_RDWR | O_DIRECT | O_NOFOLLOW | O_CLOEXEC. */
	cr_expect_eq(to_native(arm64, 02 | 0200000 | 0100000 | 02000000),
		     (uint32_t)(O_RDWR | O_DIRECT | O_NOFOLLOW | O_CLOEXEC));
	cr_expect_eq(from_native(arm64, O_DIRECT | O_DIRECTORY), 0200000 | 040000);
}

Test(arch, sparc64_o_creat_is_native_o_creat_not_o_trunc)
{
	const struct arch *sparc64 = find(EM_SPARCV9);

	if (!native_is_x86_64())
		cr_skip_test("the literal native values here are x86-64's");
	/* arch/sparc/include/uapi/asm/fcntl.h: O_CREAT 0x0200 is x86-64's O_TRUNC (01000). */
	cr_expect_eq(to_native(sparc64, 0x0200), (uint32_t)O_CREAT);
	cr_expect_eq(to_native(sparc64, 0x0200 | 0x0800 | 0x0001),
		     (uint32_t)(O_CREAT | O_EXCL | O_WRONLY));
	cr_expect_eq(to_native(sparc64, 0x0400), (uint32_t)O_TRUNC);
	cr_expect_eq(from_native(sparc64, O_CREAT | O_TRUNC), 0x0200 | 0x0400);
	/* O_SYNC is __O_SYNC | O_DSYNC: both bits, on both sides. */
	cr_expect_eq(to_native(sparc64, 0x800000 | 0x2000), (uint32_t)O_SYNC);
}

Test(arch, sparc_o_ndelay_is_o_nonblock)
{
	/* sparc64's O_NDELAY is 0x0004 alone, sparc32's 0x0004 | O_NONBLOCK (0x4000). */
	cr_expect_eq(to_native(find(EM_SPARCV9), 0x0004), (uint32_t)O_NONBLOCK);
	cr_expect_eq(to_native(find(EM_SPARC), 0x4004), (uint32_t)O_NONBLOCK);
	/* And back: O_NONBLOCK alone, not the old bit too. */
	cr_expect_eq(from_native(find(EM_SPARCV9), O_NONBLOCK), 0x4000);
	/* Only sparc has that bit. */
	cr_expect_eq(arch_open_flags_to_native(find(EM_AARCH64), 0x0004, &(uint32_t){ 0 }),
		     -EINVAL);
}

Test(arch, unknown_bit_is_refused_and_named)
{
	const struct arch *arm64 = find(EM_AARCH64), *alpha = find(EM_ALPHA);
	uint32_t out = 0x12345678;

	/* A bit above __O_TMPFILE (020000000), as a newer kernel's flag would be. */
	cr_expect_eq(arch_open_flags_to_native(arm64, O_RDONLY | 040000000, &out), -EINVAL);
	cr_expect_eq(out, 0x12345678, "*native written on failure");
	cr_expect_eq(arch_open_flags_unknown(arm64, 02 | 040000 | 040000000), 040000000);
	cr_expect_eq(arch_open_flags_unknown(arm64, 02 | 040000), 0);
	/* x86-64's O_CREAT value (0100) is no flag on alpha (whose O_CREAT is 01000). */
	cr_expect_eq(arch_open_flags_to_native(alpha, 0100, &out), -EINVAL);
	cr_expect_eq(arch_open_flags_unknown(alpha, 0100 | 01000), 0100);
	/* The reverse refuses a native bit no flag has. */
	cr_expect_eq(arch_open_flags_from_native(alpha, 0x80000000u, &out), -EINVAL);
}

Test(arch, kernel_exec_bit_passes)
{
	/*
	 * An exec's open carries __FMODE_EXEC (0x20) in f_flags and FUSE sends
	 * it (fs/exec.c:913, fs/fuse/file.c:30): refusing it would break exec.
	 */
	for (size_t i = 0; i < N_ARCHS; i++) {
		const struct arch *a = find(test_archs[i].em);

		cr_expect_eq(to_native(a, 0x20), 0x20, "%s", arch_name(a));
		cr_expect_eq(from_native(a, 0x20), 0x20, "%s", arch_name(a));
	}
}

/* ---- errno, in literal values ---- */

Test(arch, errno_round_trips)
{
	static const int errnos[] = { ENOENT, EAGAIN, ENOSYS, EDEADLK, EOPNOTSUPP, EDQUOT,
				      ESTALE, ENOTEMPTY, EHWPOISON, EIO };

	for (size_t i = 0; i < N_ARCHS; i++) {
		const struct arch *a = find(test_archs[i].em);

		cr_expect_eq(arch_errno_from_native(a, -ENOENT), -2, "%s", arch_name(a));
		cr_expect_eq(arch_errno_from_native(a, 0), 0);
		cr_expect_eq(arch_errno_to_native(a, 0), 0);
		for (size_t j = 0; j < sizeof(errnos) / sizeof(errnos[0]); j++) {
			int there = arch_errno_from_native(a, -errnos[j]);

			cr_expect_lt(there, 0);
			cr_expect_eq(arch_errno_to_native(a, there), -errnos[j], "%s: errno %d",
				     arch_name(a), errnos[j]);
		}
	}
	/* The numbers that differ most (arch/<arch>/include/uapi/asm/errno.h). */
	cr_expect_eq(arch_errno_from_native(find(EM_ALPHA), -EAGAIN), -35);
	cr_expect_eq(arch_errno_from_native(find(EM_ALPHA), -ENOSYS), -78);
	cr_expect_eq(arch_errno_from_native(find(EM_MIPS), -ENOSYS), -89);
	cr_expect_eq(arch_errno_from_native(find(EM_PARISC), -ENOSYS), -251);
	cr_expect_eq(arch_errno_from_native(find(EM_SPARCV9), -ENOSYS), -90);
	cr_expect_eq(arch_errno_from_native(find(EM_MIPS), -EDQUOT), -1133);
	cr_expect_eq(arch_errno_from_native(find(EM_AARCH64), -ENOSYS), -ENOSYS);
	/* powerpc's EDEADLOCK (58) is EDEADLK; EDEADLK itself is sent as 35. */
	cr_expect_eq(arch_errno_to_native(find(EM_PPC64), -58), -EDEADLK);
	cr_expect_eq(arch_errno_from_native(find(EM_PPC64), -EDEADLK), -35);
}

Test(arch, errno_without_counterpart_is_eio)
{
	const struct arch *ppc = find(EM_PPC64), *mips = find(EM_MIPS), *alpha = find(EM_ALPHA);

	/* 58 is no native errno; sent as is it would be powerpc's EDEADLOCK. */
	cr_expect_eq(arch_errno_from_native(ppc, -58), -EIO);
	cr_expect_eq(arch_errno_from_native(alpha, -41), -5);
	/* Kernel-internal (ENOTSUPP 524), past the last errno, positive. */
	cr_expect_eq(arch_errno_from_native(alpha, -524), -5);
	cr_expect_eq(arch_errno_from_native(alpha, -134), -5);
	cr_expect_eq(arch_errno_from_native(alpha, 5), -5);
	cr_expect_eq(arch_errno_from_native(alpha, INT_MIN), -5);
	/* mips' EINIT (141) and sparc's EPROCLIM (67) have no native counterpart. */
	cr_expect_eq(arch_errno_to_native(mips, -141), -EIO);
	cr_expect_eq(arch_errno_to_native(find(EM_SPARCV9), -67), -EIO);
	cr_expect_eq(arch_errno_to_native(mips, -4000), -EIO);
	cr_expect_eq(arch_errno_to_native(mips, 3), -EIO);
	cr_expect_eq(arch_errno_to_native(mips, INT_MIN), -EIO);
	/* 0x10000 + 2 must not wrap to ENOENT's 2. */
	cr_expect_eq(arch_errno_to_native(mips, -0x10002), -EIO);
}

/* ---- the kernel's headers ---- */

/* The #defines of one architecture, as cpp -dM leaves them. */
struct macro {
	char *name;
	char *def;
};

struct header_set {
	struct macro *m;
	size_t n;
};

static char uapi_dir[PATH_MAX];

/* Runs argv with stdout to out_path (NULL: inherited); its exit status, -1 if it could not run. */
static int run(char *const argv[], const char *out_path)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (!pid) {
		if (out_path) {
			int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(127);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0, "%s", path);
}

static void path_join(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_join(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && n < PATH_MAX);
}

/*
 * An include directory per architecture, laid out as the kernel's build lays
 * out the installed headers: asm/ is the architecture's own header where it
 * has one, else a one-line wrapper of asm-generic's (the kernel generates
 * the same for its mandatory-y headers, include/uapi/asm-generic/Kbuild).
 * linux/types.h and mips' asm/sgidefs.h are empty: cpp needs no types, and
 * the mips ABI only changes struct flock padding.
 */
static void make_include_dir(const char *dir)
{
	char path[PATH_MAX], target[PATH_MAX];
	static const char *headers[] = { "fcntl", "errno" };

	path_join(path, "%s/inc/%s/asm", uapi_dir, dir);
	cr_assert_eq(run((char *[]){ "mkdir", "-p", path, NULL }, NULL), 0);
	path_join(path, "%s/inc/%s/linux", uapi_dir, dir);
	cr_assert_eq(run((char *[]){ "mkdir", "-p", path, NULL }, NULL), 0);
	path_join(path, "%s/inc/%s/linux/types.h", uapi_dir, dir);
	write_file(path, "");
	path_join(path, "%s/inc/%s/asm/sgidefs.h", uapi_dir, dir);
	write_file(path, "");
	path_join(path, "%s/inc/%s/asm-generic", uapi_dir, dir);
	path_join(target, "%s/" LINUX_TOP "/include/uapi/asm-generic", uapi_dir);
	cr_assert(!symlink(target, path) || errno == EEXIST, "%s: %s", path, strerror(errno));
	for (size_t i = 0; i < 2; i++) {
		path_join(target, "%s/" LINUX_TOP "/arch/%s/include/uapi/asm/%s.h", uapi_dir, dir,
			  headers[i]);
		path_join(path, "%s/inc/%s/asm/%s.h", uapi_dir, dir, headers[i]);
		if (!access(target, R_OK)) {
			cr_assert(!symlink(target, path) || errno == EEXIST, "%s", path);
		} else {
			char text[64];

			snprintf(text, sizeof(text), "#include <asm-generic/%s.h>\n", headers[i]);
			write_file(path, text);
		}
	}
}

/*
 * Extracts the headers once per test run (the tests run in parallel
 * processes; a lock lets one extract while the others wait) into
 * $FSD_TEST_TMP, which scripts/run-tests.sh makes for each run (run
 * directly, the binary uses /tmp and keeps the copy).  About 10 s of xz.
 * FSD_TEST_LINUX_TARBALL names another tarball (a missing one: the skip).
 */
static void headers_extract(void)
{
	const char *tmp = getenv("FSD_TEST_TMP");
	const char *tarball = getenv("FSD_TEST_LINUX_TARBALL");
	char lock_path[PATH_MAX], done[PATH_MAX], probe[PATH_MAX];
	int lock_fd;

	if (!tarball)
		tarball = LINUX_TARBALL;
	if (access(tarball, R_OK))
		cr_skip_test("%s is missing: apt-get install linux-source-6.1 "
			     "(scripts/deps.sh installs it)",
			     tarball);
	path_join(uapi_dir, "%s/fsd-linux-6.1-uapi", tmp ? tmp : "/tmp");
	path_join(lock_path, "%s.lock", uapi_dir);
	path_join(done, "%s/complete", uapi_dir);
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	cr_assert_geq(lock_fd, 0, "%s: %s", lock_path, strerror(errno));
	cr_assert_eq(flock(lock_fd, LOCK_EX), 0);
	if (access(done, F_OK)) {
		char *tar[] = { "tar", "-xJf", (char *)tarball, "-C", uapi_dir, "--wildcards",
				LINUX_TOP "/arch/*/include/uapi/asm/fcntl.h",
				LINUX_TOP "/arch/*/include/uapi/asm/errno.h",
				LINUX_TOP "/include/uapi/asm-generic/fcntl.h",
				LINUX_TOP "/include/uapi/asm-generic/errno.h",
				LINUX_TOP "/include/uapi/asm-generic/errno-base.h",
				LINUX_TOP "/include/linux/fs.h", NULL };

		cr_assert_eq(run((char *[]){ "mkdir", "-p", uapi_dir, NULL }, NULL), 0);
		cr_assert_eq(run(tar, NULL), 0, "extracting the uapi headers from %s failed",
			     tarball);
		for (size_t i = 0; i < N_ARCHS; i++)
			make_include_dir(test_archs[i].dir);
		path_join(probe, "%s/probe.c", uapi_dir);
		write_file(probe, "#include <asm/fcntl.h>\n#include <asm/errno.h>\n");
		write_file(done, "");
	}
	close(lock_fd);
}

static struct header_set headers_load(const struct test_arch *t)
{
	char inc[PATH_MAX], probe[PATH_MAX], out[PATH_MAX], line[512];
	struct header_set set = { 0 };
	char *argv[16];
	int argc = 0;
	FILE *f;

	path_join(inc, "-I%s/inc/%s", uapi_dir, t->dir);
	path_join(probe, "%s/probe.c", uapi_dir);
	path_join(out, "%s/macros.%d", uapi_dir, getpid());
	argv[argc++] = "cpp";
	argv[argc++] = "-nostdinc"; /* nothing of this host's headers */
	argv[argc++] = "-undef"; /* nor its predefines (__x86_64__, ...) */
	argv[argc++] = "-dM";
	argv[argc++] = inc;
	for (size_t i = 0; i < 2 && t->defines[i]; i++)
		argv[argc++] = (char *)t->defines[i];
	argv[argc++] = probe;
	argv[argc] = NULL;
	cr_assert_eq(run(argv, out), 0, "cpp failed on %s's headers", t->dir);

	f = fopen(out, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char name[128], *def;
		int len;

		/* "#define NAME DEF"; function-like macros are of no use here. */
		if (sscanf(line, "#define %127[A-Za-z0-9_]%n", name, &len) != 1 || line[len] != ' ')
			continue;
		def = line + len + 1;
		def[strcspn(def, "\n")] = 0;
		set.m = realloc(set.m, (set.n + 1) * sizeof(*set.m));
		cr_assert_not_null(set.m);
		set.m[set.n].name = strdup(name);
		set.m[set.n].def = strdup(def);
		set.n++;
	}
	fclose(f);
	unlink(out);
	cr_assert_gt(set.n, 100, "%s: only %zu macros", t->dir, set.n);
	return set;
}

static void headers_free(struct header_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->m[i].name);
		free(s->m[i].def);
	}
	free(s->m);
}

static const char *macro_def(const struct header_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->m[i].name, name))
			return s->m[i].def;
	return NULL;
}

static bool macro_value(const struct header_set *s, const char *name, uint64_t *v, int depth);

/* term: a number, a macro name or (expr); expr: terms joined by |. */
static bool eval_expr(const struct header_set *s, const char **p, uint64_t *v, int depth);

static bool eval_term(const struct header_set *s, const char **p, uint64_t *v, int depth)
{
	while (isspace((unsigned char)**p))
		(*p)++;
	if (**p == '(') {
		(*p)++;
		if (!eval_expr(s, p, v, depth))
			return false;
		while (isspace((unsigned char)**p))
			(*p)++;
		return *(*p)++ == ')';
	}
	if (isdigit((unsigned char)**p)) {
		char *end;

		*v = strtoull(*p, &end, 0); /* 0: octal, hex and decimal, as C reads them */
		while (*end == 'u' || *end == 'U' || *end == 'l' || *end == 'L')
			end++;
		*p = end;
		return true;
	}
	if (isalpha((unsigned char)**p) || **p == '_') {
		char name[128];
		size_t n = 0;

		while ((isalnum((unsigned char)**p) || **p == '_') && n < sizeof(name) - 1)
			name[n++] = *(*p)++;
		name[n] = 0;
		return macro_value(s, name, v, depth + 1);
	}
	return false;
}

static bool eval_expr(const struct header_set *s, const char **p, uint64_t *v, int depth)
{
	uint64_t t;

	if (!eval_term(s, p, v, depth))
		return false;
	for (;;) {
		while (isspace((unsigned char)**p))
			(*p)++;
		if (**p != '|')
			return true;
		(*p)++;
		if (!eval_term(s, p, &t, depth))
			return false;
		*v |= t;
	}
}

static bool macro_value(const struct header_set *s, const char *name, uint64_t *v, int depth)
{
	const char *def = macro_def(s, name);

	if (!def || depth > 8 || !eval_expr(s, &def, v, depth))
		return false;
	while (isspace((unsigned char)*def))
		def++;
	return !*def;
}

/* A macro the test needs: defined, and evaluable. */
static uint32_t need(const struct header_set *s, const char *arch, const char *name)
{
	uint64_t v;

	cr_assert(macro_value(s, name, &v, 0), "%s: %s is not defined or not evaluable (%s)", arch,
		  name, macro_def(s, name) ? macro_def(s, name) : "undefined");
	cr_assert_leq(v, UINT32_MAX);
	return (uint32_t)v;
}

static const struct test_arch *host_arch(void)
{
	for (size_t i = 0; i < N_ARCHS; i++)
		if (test_archs[i].em == HOST_EM)
			return &test_archs[i];
	cr_skip_test("no kernel header set known for this machine");
	return NULL;
}

static const char *const open_flag_names[] = {
	"O_ACCMODE", "O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC",
	"O_APPEND", "O_NONBLOCK", "O_NDELAY", "O_DSYNC", "FASYNC", "O_DIRECT", "O_LARGEFILE",
	"O_DIRECTORY", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "__O_SYNC", "O_SYNC", "O_PATH",
	"__O_TMPFILE", "O_TMPFILE",
};
#define N_OPEN_FLAGS (sizeof(open_flag_names) / sizeof(open_flag_names[0]))

/* Every bit any open flag of the architecture uses. */
static uint32_t header_open_bits(const struct header_set *s, const char *arch)
{
	uint32_t bits = 0;

	for (size_t i = 0; i < N_OPEN_FLAGS; i++)
		bits |= need(s, arch, open_flag_names[i]);
	return bits;
}

/* The kernel's __FMODE_EXEC and __FMODE_NONOTIFY: "#define FMODE_EXEC ((__force fmode_t)0x20)". */
static uint32_t header_fmode_bits(void)
{
	static const char *const names[] = { "FMODE_EXEC", "FMODE_NONOTIFY" };
	char path[PATH_MAX], line[512];
	uint32_t bits = 0;
	unsigned found = 0;
	FILE *f;

	path_join(path, "%s/" LINUX_TOP "/include/linux/fs.h", uapi_dir);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < 2; i++) {
			char prefix[64];
			const char *hex;

			snprintf(prefix, sizeof(prefix), "#define %s\t", names[i]);
			if (strncmp(line, prefix, strlen(prefix)) || !(hex = strstr(line, ")0x")))
				continue;
			bits |= (uint32_t)strtoul(hex + 1, NULL, 16);
			found++;
		}
	}
	fclose(f);
	cr_assert_eq(found, 2, "FMODE_EXEC and FMODE_NONOTIFY not found in %s", path);
	return bits;
}

Test(arch, open_flags_match_kernel_headers, .timeout = 300)
{
	struct header_set native;

	headers_extract();
	native = headers_load(host_arch());
	for (size_t i = 0; i < N_ARCHS; i++) {
		const struct test_arch *t = &test_archs[i];
		const struct arch *a = find(t->em);
		struct header_set s = headers_load(t);
		uint32_t all = 0, all_native = 0;

		for (size_t j = 0; j < N_OPEN_FLAGS; j++) {
			const char *name = open_flag_names[j];
			uint32_t there = need(&s, t->dir, name);
			uint32_t here = need(&native, "native", name);
			uint32_t out = 0;

			cr_expect_eq(arch_open_flags_to_native(a, there, &out), 0, "%s: %s refused",
				     arch_name(a), name);
			cr_expect_eq(out, here, "%s: %s %#o became %#o, native is %#o",
				     arch_name(a), name, there, out, here);
			all |= there;
			all_native |= here;
			/* Natively O_NDELAY is O_NONBLOCK, checked back under that name. */
			if (!strcmp(name, "O_NDELAY"))
				continue;
			out = 0;
			cr_expect_eq(arch_open_flags_from_native(a, here, &out), 0);
			cr_expect_eq(out, there, "%s: native %s %#o became %#o, header: %#o",
				     arch_name(a), name, here, out, there);
		}
		/* Everything at once: no flag leaks into another. */
		cr_expect_eq(to_native(a, all), all_native, "%s: all flags", arch_name(a));
		headers_free(&s);
	}
	headers_free(&native);
}

Test(arch, open_bits_outside_the_headers_are_refused, .timeout = 300)
{
	uint32_t fmode;

	headers_extract();
	fmode = header_fmode_bits();
	for (size_t i = 0; i < N_ARCHS; i++) {
		const struct test_arch *t = &test_archs[i];
		const struct arch *a = find(t->em);
		struct header_set s = headers_load(t);
		uint32_t known = header_open_bits(&s, t->dir);

		/* The kernel keeps its own bits apart from every flag (fs/fcntl.c:1025). */
		cr_expect_eq(known & fmode, 0, "%s: flags %#o overlap FMODE bits %#x", t->dir,
			     known, fmode);
		for (int bit = 0; bit < 32; bit++) {
			uint32_t b = 1u << bit, out = 0;
			int err = arch_open_flags_to_native(a, b, &out);

			if (b & fmode) {
				cr_expect_eq(err, 0, "%s: kernel bit %#x refused", arch_name(a), b);
				cr_expect_eq(out, b, "%s: kernel bit %#x changed", arch_name(a), b);
			} else if (b & known) {
				cr_expect_eq(err, 0, "%s: header bit %#x refused", arch_name(a), b);
			} else {
				cr_expect_eq(err, -EINVAL, "%s: bit %#x is no flag but was taken",
					     arch_name(a), b);
				cr_expect_eq(arch_open_flags_unknown(a, b), b);
			}
		}
		headers_free(&s);
	}
}

static bool is_errno_name(const char *name)
{
	if (name[0] != 'E' || !name[1])
		return false;
	for (const char *c = name + 1; *c; c++)
		if (!isupper((unsigned char)*c) && !isdigit((unsigned char)*c))
			return false;
	return true;
}

Test(arch, errnos_match_kernel_headers, .timeout = 300)
{
	struct header_set native;
	uint32_t native_max = 0;
	bool held[4096] = { false };
	size_t primaries = 0;

	headers_extract();
	native = headers_load(host_arch());
	/* Which native numbers an errno holds (its "primary" name defines it by number). */
	for (size_t k = 0; k < native.n; k++) {
		uint32_t v;

		if (!is_errno_name(native.m[k].name))
			continue;
		v = need(&native, "native", native.m[k].name);
		cr_assert_lt(v, 4096);
		held[v] = true;
		native_max = v > native_max ? v : native_max;
		primaries += isdigit((unsigned char)native.m[k].def[0]);
	}
	cr_assert_gt(primaries, 120, "only %zu errnos found natively", primaries);

	for (size_t i = 0; i < N_ARCHS; i++) {
		const struct test_arch *t = &test_archs[i];
		const struct arch *a = find(t->em);
		struct header_set s = headers_load(t);
		int eio = -(int)need(&s, t->dir, "EIO");

		/* Native to the architecture: every native errno, by its primary name. */
		for (size_t k = 0; k < native.n; k++) {
			const char *name = native.m[k].name;

			if (!is_errno_name(name) || !isdigit((unsigned char)native.m[k].def[0]))
				continue;
			cr_expect_eq(arch_errno_from_native(a, -(int)need(&native, "native", name)),
				     -(int)need(&s, t->dir, name), "%s: %s", arch_name(a), name);
		}
		/* Numbers no native errno holds, and beyond the last one. */
		for (uint32_t v = 1; v <= native_max + 1; v++)
			if (!held[v])
				cr_expect_eq(arch_errno_from_native(a, -(int)v), eio,
					     "%s: native %u is no errno", arch_name(a), v);
		cr_expect_eq(arch_errno_from_native(a, -512), eio);

		/*
		 * The architecture's to native: each of its numbers, by any of
		 * its names that exists natively (parisc's 253 is ECANCELLED and
		 * ECANCELED); none does: EIO.
		 */
		for (size_t k = 0; k < s.n; k++) {
			uint32_t there, expect = 0;

			if (!is_errno_name(s.m[k].name))
				continue;
			there = need(&s, t->dir, s.m[k].name);
			for (size_t l = 0; l < s.n; l++) {
				uint32_t here;

				if (!is_errno_name(s.m[l].name) ||
				    need(&s, t->dir, s.m[l].name) != there ||
				    !macro_def(&native, s.m[l].name))
					continue;
				here = need(&native, "native", s.m[l].name);
				cr_expect(!expect || expect == here, "%s: %u is native %u and %u",
					  t->dir, there, expect, here);
				expect = here;
			}
			if (!expect)
				expect = EIO;
			cr_expect_eq(arch_errno_to_native(a, -(int)there), -(int)expect,
				     "%s: %s (%u)", arch_name(a), s.m[k].name, there);
		}
		headers_free(&s);
	}
	headers_free(&native);
}
