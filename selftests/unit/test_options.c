// SPDX-License-Identifier: MIT
/*
 * fsd's command line (fsd/options.c): options_parse() on argv vectors.
 * Defaults, -f/-d/-s, --threads in both spellings and its bounds, -o lists
 * (several items, repeated -o, empty items), cache= and the timeouts it
 * sets, explicit timeouts winning over cache= in either order,
 * passthrough=, fd_cache= and max_opens_per_uid= bounds, mount flags,
 * the error messages of unknown options and bad arguments, --help /
 * --version / --stats, and --dev-fd with its single positional argument.
 * What mount(8) hands over: every mount flag and its opposite, its own
 * options accepted and ignored, fsname=/subtype=, SELinux contexts with
 * quoted commas, remount, and the helper's arguments (mount.fuse.fsd).
 * kernel= and its default with --dev-fd.
 */
#define _GNU_SOURCE
#include "../../fsd/fsd.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/mount.h>

static struct config cfg;
static char err[256];

static int parse_vec(char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	memset(err, 0, sizeof(err));
	return options_parse(argc, argv, &cfg, err, sizeof(err));
}

/* PARSE("-f", "/b", "/m"): argv[0] is "fsd", as the daemon sees it. */
#define PARSE(...) parse_vec((char *[]){ "fsd", ##__VA_ARGS__, NULL })

/* Parses and expects -EINVAL with a message that contains want. */
#define PARSE_FAILS(want, ...)                                                             \
	do {                                                                               \
		int ret_ = PARSE(__VA_ARGS__);                                              \
		cr_assert_eq(ret_, -EINVAL, "expected -EINVAL, got %d", ret_);              \
		cr_assert(strstr(err, want), "error message '%s' does not name '%s'", err, \
			  want);                                                           \
	} while (0)

static void assert_timeouts(double entry, double negative, double attr)
{
	cr_assert_float_eq(cfg.entry_timeout, entry, 1e-9, "entry_timeout %g", cfg.entry_timeout);
	cr_assert_float_eq(cfg.negative_timeout, negative, 1e-9, "negative_timeout %g",
			   cfg.negative_timeout);
	cr_assert_float_eq(cfg.attr_timeout, attr, 1e-9, "attr_timeout %g", cfg.attr_timeout);
}

TestSuite(options, .timeout = 10);

Test(options, defaults)
{
	cr_assert_eq(PARSE("/backing", "/mnt"), 0, "%s", err);
	cr_assert_str_eq(cfg.backing_dir, "/backing");
	cr_assert_str_eq(cfg.mountpoint, "/mnt");
	cr_assert_eq(cfg.threads, 4);
	cr_assert_eq(cfg.cache, CACHE_ALWAYS);
	assert_timeouts(86400, 86400, 86400);
	cr_assert(cfg.passthrough);
	cr_assert(cfg.allow_other);
	cr_assert(cfg.default_permissions);
	cr_assert_not(cfg.foreground);
	cr_assert_not(cfg.debug);
	cr_assert_eq(cfg.mount_flags, 0);
	cr_assert_eq(cfg.fd_cache, 0, "fd_cache defaults to automatic (0)");
	cr_assert_not(cfg.show_help);
	cr_assert_not(cfg.show_version);
	cr_assert_null(cfg.stats_mountpoint);
	cr_assert_eq(cfg.dev_fd, -1, "/dev/fuse unless --dev-fd says otherwise");
}

/* The struct is filled anew on every call, not merged with the last one. */
Test(options, every_call_starts_from_defaults)
{
	cr_assert_eq(PARSE("-d", "-s", "-o", "ro,cache=never", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(PARSE("/b", "/m"), 0, "%s", err);
	cr_assert_not(cfg.foreground);
	cr_assert_not(cfg.debug);
	cr_assert_eq(cfg.threads, 4);
	cr_assert_eq(cfg.mount_flags, 0);
	cr_assert_eq(cfg.cache, CACHE_ALWAYS);
	assert_timeouts(86400, 86400, 86400);
}

Test(options, foreground)
{
	cr_assert_eq(PARSE("-f", "/b", "/m"), 0, "%s", err);
	cr_assert(cfg.foreground);
	cr_assert_not(cfg.debug);
}

Test(options, debug_implies_foreground)
{
	cr_assert_eq(PARSE("-d", "/b", "/m"), 0, "%s", err);
	cr_assert(cfg.debug);
	cr_assert(cfg.foreground);
}

Test(options, single_thread)
{
	cr_assert_eq(PARSE("-s", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.threads, 1);
}

/* Options may come after the positional arguments too. */
Test(options, options_after_positionals)
{
	cr_assert_eq(PARSE("/b", "/m", "-f", "-o", "ro"), 0, "%s", err);
	cr_assert_str_eq(cfg.backing_dir, "/b");
	cr_assert_str_eq(cfg.mountpoint, "/m");
	cr_assert(cfg.foreground);
	cr_assert_eq(cfg.mount_flags, MS_RDONLY);
}

Test(options, threads_both_spellings)
{
	cr_assert_eq(PARSE("--threads", "8", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.threads, 8);
	cr_assert_str_eq(cfg.backing_dir, "/b", "the value must not be taken as BACKING_DIR");
	cr_assert_eq(PARSE("--threads=12", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.threads, 12);
	/* The last one given wins, as with -s. */
	cr_assert_eq(PARSE("-s", "--threads=3", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.threads, 3);
	cr_assert_eq(PARSE("--threads=3", "-s", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.threads, 1);
}

Test(options, threads_bounds)
{
	cr_assert_eq(PARSE("--threads", "1", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.threads, 1);
	cr_assert_eq(PARSE("--threads=64", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.threads, 64);

	PARSE_FAILS("--threads", "--threads", "0", "/b", "/m");
	PARSE_FAILS("--threads", "--threads=65", "/b", "/m");
	PARSE_FAILS("--threads", "--threads=-1", "/b", "/m");
	PARSE_FAILS("--threads", "--threads=", "/b", "/m");
	PARSE_FAILS("--threads", "--threads=abc", "/b", "/m");
	PARSE_FAILS("--threads", "--threads=8x", "/b", "/m");
	PARSE_FAILS("--threads", "--threads=18446744073709551617", "/b", "/m");
	/* The value is missing: it is the last argument. */
	PARSE_FAILS("--threads", "/b", "/m", "--threads");
}

Test(options, threads_misspelled_is_unknown)
{
	PARSE_FAILS("--threadsX", "--threadsX", "/b", "/m");
}

Test(options, o_list_with_several_items)
{
	cr_assert_eq(PARSE("-o", "ro,nosuid,cache=auto,fd_cache=32,passthrough=off", "/b", "/m"),
		     0, "%s", err);
	cr_assert_eq(cfg.mount_flags, MS_RDONLY | MS_NOSUID);
	cr_assert_eq(cfg.cache, CACHE_AUTO);
	assert_timeouts(1, 1, 1);
	cr_assert_eq(cfg.fd_cache, 32);
	cr_assert_not(cfg.passthrough);
}

Test(options, o_repeated_accumulates)
{
	cr_assert_eq(PARSE("-o", "ro", "/b", "-o", "nodev", "/m", "-onoexec"), 0, "%s", err);
	cr_assert_eq(cfg.mount_flags, MS_RDONLY | MS_NODEV | MS_NOEXEC);
	cr_assert_str_eq(cfg.backing_dir, "/b");
	cr_assert_str_eq(cfg.mountpoint, "/m");
}

Test(options, o_attached_value)
{
	cr_assert_eq(PARSE("-ocache=never,nosuid", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.cache, CACHE_NEVER);
	cr_assert_eq(cfg.mount_flags, MS_NOSUID);
}

Test(options, o_empty_items_ignored)
{
	cr_assert_eq(PARSE("-o", ",ro,,nodev,", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.mount_flags, MS_RDONLY | MS_NODEV);
}

Test(options, o_without_value)
{
	PARSE_FAILS("-o", "/b", "/m", "-o");
}

Test(options, cache_modes)
{
	cr_assert_eq(PARSE("-o", "cache=auto", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.cache, CACHE_AUTO);
	assert_timeouts(1, 1, 1);

	cr_assert_eq(PARSE("-o", "cache=never", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.cache, CACHE_NEVER);
	assert_timeouts(0, 0, 0);

	cr_assert_eq(PARSE("-o", "cache=always", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.cache, CACHE_ALWAYS);
	assert_timeouts(86400, 86400, 86400);

	/* The last cache= wins. */
	cr_assert_eq(PARSE("-o", "cache=never", "-o", "cache=auto", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.cache, CACHE_AUTO);
	assert_timeouts(1, 1, 1);

	PARSE_FAILS("cache=sometimes", "-o", "cache=sometimes", "/b", "/m");
	PARSE_FAILS("cache=", "-o", "cache=", "/b", "/m");
	PARSE_FAILS("cache", "-o", "cache", "/b", "/m");
}

Test(options, explicit_timeouts_win_over_cache_in_either_order)
{
	cr_assert_eq(PARSE("-o", "entry_timeout=5,cache=never", "/b", "/m"), 0, "%s", err);
	assert_timeouts(5, 0, 0);

	cr_assert_eq(PARSE("-o", "cache=never,entry_timeout=5", "/b", "/m"), 0, "%s", err);
	assert_timeouts(5, 0, 0);

	/* Across separate -o arguments as well. */
	cr_assert_eq(PARSE("-o", "attr_timeout=0.25", "-o", "cache=auto", "/b", "/m"), 0, "%s",
		     err);
	assert_timeouts(1, 1, 0.25);

	cr_assert_eq(PARSE("-o", "negative_timeout=0", "/b", "/m"), 0, "%s", err);
	assert_timeouts(86400, 0, 86400);

	cr_assert_eq(PARSE("-o", "entry_timeout=2,negative_timeout=3,attr_timeout=4,cache=always",
			   "/b", "/m"),
		     0, "%s", err);
	assert_timeouts(2, 3, 4);
	cr_assert_eq(cfg.cache, CACHE_ALWAYS);

	/* The last value of one timeout wins. */
	cr_assert_eq(PARSE("-o", "entry_timeout=2,entry_timeout=7", "/b", "/m"), 0, "%s", err);
	assert_timeouts(7, 86400, 86400);

	cr_assert_eq(PARSE("-o", "entry_timeout=1e9", "/b", "/m"), 0, "%s", err);
	assert_timeouts(1e9, 86400, 86400);
}

Test(options, bad_timeouts)
{
	PARSE_FAILS("entry_timeout=-1", "-o", "entry_timeout=-1", "/b", "/m");
	PARSE_FAILS("negative_timeout=abc", "-o", "negative_timeout=abc", "/b", "/m");
	PARSE_FAILS("attr_timeout=", "-o", "attr_timeout=", "/b", "/m");
	PARSE_FAILS("attr_timeout=5s", "-o", "attr_timeout=5s", "/b", "/m");
	PARSE_FAILS("entry_timeout=1e10", "-o", "entry_timeout=1e10", "/b", "/m");
	PARSE_FAILS("entry_timeout=inf", "-o", "entry_timeout=inf", "/b", "/m");
	/* A timeout needs its value. */
	PARSE_FAILS("entry_timeout", "-o", "entry_timeout", "/b", "/m");
}

/*
 * NaN compares false with both bounds of the range check; a NaN timeout
 * would reach timeout_split(), whose float to integer conversion of NaN is
 * undefined.
 */
Test(options, nan_timeout_rejected)
{
	PARSE_FAILS("entry_timeout=nan", "-o", "entry_timeout=nan", "/b", "/m");
	PARSE_FAILS("attr_timeout=NaN", "-o", "attr_timeout=NaN", "/b", "/m");
}

Test(options, passthrough)
{
	cr_assert_eq(PARSE("-o", "passthrough=off", "/b", "/m"), 0, "%s", err);
	cr_assert_not(cfg.passthrough);
	cr_assert_eq(PARSE("-o", "passthrough=off,passthrough=on", "/b", "/m"), 0, "%s", err);
	cr_assert(cfg.passthrough);
	PARSE_FAILS("passthrough=maybe", "-o", "passthrough=maybe", "/b", "/m");
	PARSE_FAILS("passthrough", "-o", "passthrough", "/b", "/m");
}

Test(options, uring)
{
	cr_assert_eq(PARSE("/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.uring, URING_MODE_AUTO);
	cr_assert_eq(PARSE("-o", "uring=on", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.uring, URING_MODE_ON);
	cr_assert_eq(PARSE("-o", "uring=on,uring=off", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.uring, URING_MODE_OFF);
	cr_assert_eq(PARSE("-o", "uring=off,uring=auto", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.uring, URING_MODE_AUTO);
	PARSE_FAILS("uring=yes", "-o", "uring=yes", "/b", "/m");
	PARSE_FAILS("uring", "-o", "uring", "/b", "/m");
}

Test(options, fd_cache_bounds)
{
	cr_assert_eq(PARSE("-o", "fd_cache=16", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.fd_cache, 16);
	cr_assert_eq(PARSE("-o", "fd_cache=1073741824", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.fd_cache, 1u << 30);

	PARSE_FAILS("fd_cache=15", "-o", "fd_cache=15", "/b", "/m");
	PARSE_FAILS("fd_cache=0", "-o", "fd_cache=0", "/b", "/m");
	PARSE_FAILS("fd_cache=1073741825", "-o", "fd_cache=1073741825", "/b", "/m");
	PARSE_FAILS("fd_cache=-16", "-o", "fd_cache=-16", "/b", "/m");
	PARSE_FAILS("fd_cache=lots", "-o", "fd_cache=lots", "/b", "/m");
	PARSE_FAILS("fd_cache=", "-o", "fd_cache=", "/b", "/m");
}

Test(options, max_opens_per_uid)
{
	cr_assert_eq(PARSE("/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.max_opens_per_uid, 0, "max_opens_per_uid defaults to automatic (0)");
	cr_assert_eq(PARSE("-o", "max_opens_per_uid=200", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.max_opens_per_uid, 200);
	cr_assert_eq(PARSE("-o", "ro,max_opens_per_uid=1,fd_cache=64", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.max_opens_per_uid, 1);
	cr_assert_eq(PARSE("-o", "max_opens_per_uid=1073741824", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.max_opens_per_uid, 1u << 30);

	PARSE_FAILS("max_opens_per_uid=0", "-o", "max_opens_per_uid=0", "/b", "/m");
	PARSE_FAILS("max_opens_per_uid=-5", "-o", "max_opens_per_uid=-5", "/b", "/m");
	PARSE_FAILS("max_opens_per_uid=1073741825", "-o", "max_opens_per_uid=1073741825", "/b",
		    "/m");
	PARSE_FAILS("max_opens_per_uid=lots", "-o", "max_opens_per_uid=lots", "/b", "/m");
	PARSE_FAILS("max_opens_per_uid=", "-o", "max_opens_per_uid=", "/b", "/m");
	PARSE_FAILS("expected a number of open files", "-o", "max_opens_per_uid=12x", "/b", "/m");
	PARSE_FAILS("unknown option 'max_opens_per_uid'", "-o", "max_opens_per_uid", "/b", "/m");
}

Test(options, mount_flags)
{
	static const struct {
		const char *name;
		unsigned long flag;
	} flags[] = {
		{ "ro", MS_RDONLY },
		{ "nosuid", MS_NOSUID },
		{ "nodev", MS_NODEV },
		{ "noexec", MS_NOEXEC },
		{ "noatime", MS_NOATIME },
		{ "nodiratime", MS_NODIRATIME },
		{ "sync", MS_SYNCHRONOUS },
		{ "dirsync", MS_DIRSYNC },
		{ "relatime", MS_RELATIME },
		{ "strictatime", MS_STRICTATIME },
		{ "lazytime", MS_LAZYTIME },
		{ "nosymfollow", MS_NOSYMFOLLOW },
		{ "silent", MS_SILENT },
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		cr_assert_eq(PARSE("-o", (char *)flags[i].name, "/b", "/m"), 0, "%s: %s",
			     flags[i].name, err);
		cr_assert_eq(cfg.mount_flags, flags[i].flag, "-o %s gave flags %#lx", flags[i].name,
			     cfg.mount_flags);
	}
}

Test(options, rw_clears_ro)
{
	cr_assert_eq(PARSE("-o", "ro,nosuid,rw", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.mount_flags, MS_NOSUID, "flags %#lx", cfg.mount_flags);
	cr_assert_eq(PARSE("-o", "rw,ro", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.mount_flags, MS_RDONLY);
	cr_assert_eq(PARSE("-o", "rw", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.mount_flags, 0);
}

/* A flag option given a value is not that flag. */
Test(options, mount_flag_with_value_is_unknown)
{
	PARSE_FAILS("ro=1", "-o", "ro=1", "/b", "/m");
	PARSE_FAILS("allow_other=yes", "-o", "allow_other=yes", "/b", "/m");
}

Test(options, allow_other_and_default_permissions)
{
	cr_assert_eq(PARSE("-o", "no_allow_other,no_default_permissions", "/b", "/m"), 0, "%s",
		     err);
	cr_assert_not(cfg.allow_other);
	cr_assert_not(cfg.default_permissions);
	cr_assert_eq(PARSE("-o", "no_allow_other,allow_other,no_default_permissions",
			   "-o", "default_permissions", "/b", "/m"),
		     0, "%s", err);
	cr_assert(cfg.allow_other);
	cr_assert(cfg.default_permissions);
}

Test(options, unknown_option_named_in_message)
{
	PARSE_FAILS("'frobnicate'", "-o", "frobnicate", "/b", "/m");
	/* The bad one is named, not its neighbours in the list. */
	PARSE_FAILS("'bogus=3'", "-o", "ro,bogus=3,nodev", "/b", "/m");
	cr_assert_null(strstr(err, "nodev"), "message '%s'", err);
	PARSE_FAILS("'-x'", "-x", "/b", "/m");
	PARSE_FAILS("'--frobnicate'", "--frobnicate", "/b", "/m");
}

Test(options, missing_positionals)
{
	PARSE_FAILS("BACKING_DIR and MOUNTPOINT");
	PARSE_FAILS("BACKING_DIR and MOUNTPOINT", "-f", "-o", "ro");
	PARSE_FAILS("MOUNTPOINT", "/b");
	cr_assert_null(strstr(err, "BACKING_DIR and"), "one argument was given: '%s'", err);
}

Test(options, extra_argument)
{
	PARSE_FAILS("'/extra'", "/b", "/m", "/extra");
}

/* The message is cut to the buffer, never written past it. */
Test(options, error_message_fits_small_buffer)
{
	char small[12];

	memset(small, 'X', sizeof(small));
	cr_assert_eq(options_parse(3, (char *[]){ "fsd", "-o", "a_very_long_unknown_option", NULL },
				   &cfg, small, 8),
		     -EINVAL);
	cr_assert_eq(strlen(small), 7, "'%.8s'", small);
	cr_assert_eq(small[8], 'X', "wrote past errlen");
}

Test(options, help_and_version)
{
	cr_assert_eq(PARSE("--help"), 0, "%s", err);
	cr_assert(cfg.show_help);
	cr_assert_eq(PARSE("-h"), 0, "%s", err);
	cr_assert(cfg.show_help);
	/* --help wins over what follows it, even bad arguments. */
	cr_assert_eq(PARSE("--help", "--bogus"), 0, "%s", err);
	cr_assert(cfg.show_help);

	cr_assert_eq(PARSE("--version"), 0, "%s", err);
	cr_assert(cfg.show_version);
	cr_assert_not(cfg.show_help);
	cr_assert_eq(PARSE("-V"), 0, "%s", err);
	cr_assert(cfg.show_version);
}

Test(options, stats)
{
	cr_assert_eq(PARSE("--stats", "/some/mnt"), 0, "%s", err);
	cr_assert_not_null(cfg.stats_mountpoint);
	cr_assert_str_eq(cfg.stats_mountpoint, "/some/mnt");
	cr_assert_not(cfg.show_help);
	PARSE_FAILS("--stats", "--stats");
}

/* A connection given by a harness: BACKING_DIR only, always in the foreground. */
Test(options, dev_fd)
{
	cr_assert_eq(PARSE("--dev-fd", "3", "/b"), 0, "%s", err);
	cr_assert_eq(cfg.dev_fd, 3);
	cr_assert_str_eq(cfg.backing_dir, "/b");
	cr_assert_null(cfg.mountpoint);
	cr_assert(cfg.foreground, "--dev-fd never detaches");
	cr_assert_eq(PARSE("-s", "--dev-fd=0", "-o", "cache=never", "/b"), 0, "%s", err);
	cr_assert_eq(cfg.dev_fd, 0);
	cr_assert_eq(cfg.threads, 1);
	cr_assert_eq(cfg.cache, CACHE_NEVER);

	PARSE_FAILS("'/m'", "--dev-fd", "3", "/b", "/m");
	PARSE_FAILS("missing BACKING_DIR", "--dev-fd", "3");
	PARSE_FAILS("--dev-fd", "--dev-fd", "-1", "/b");
	PARSE_FAILS("--dev-fd", "--dev-fd", "x", "/b");
	PARSE_FAILS("--dev-fd", "--dev-fd", "99999999999", "/b");
	PARSE_FAILS("--dev-fd", "/b", "--dev-fd");
}

/* -o kernel=: a mode by name; auto is main.c's to resolve, but --dev-fd has no device. */
Test(options, kernel_modes)
{
	cr_assert_eq(PARSE("/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.kernel, KERNEL_AUTO);
	cr_assert_eq(PARSE("--dev-fd", "3", "/b"), 0, "%s", err);
	cr_assert_eq(cfg.kernel, KERNEL_FUSE, "--dev-fd: auto is fuse");
	cr_assert_eq(PARSE("-o", "kernel=fuse", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.kernel, KERNEL_FUSE);
	cr_assert_eq(PARSE("-o", "kernel=fusebpf,policy=p-1_x", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.kernel, KERNEL_FUSEBPF);
	cr_assert_eq(PARSE("-o", "kernel=rfc", "--dev-fd", "3", "/b"), 0, "%s", err);
	cr_assert_eq(cfg.kernel, KERNEL_RFC);
	cr_assert_eq(PARSE("-o", "kernel=rfc,kernel=auto", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.kernel, KERNEL_AUTO, "the last one given wins");
	cr_assert_str_eq(kernel_mode_name(KERNEL_FUSEBPF), "fusebpf");

	PARSE_FAILS("option kernel=bpf: expected fuse, fusebpf, rfc or auto", "-o", "kernel=bpf",
		    "/b", "/m");
	PARSE_FAILS("option kernel=: expected", "-o", "kernel=", "/b", "/m");
	PARSE_FAILS("unknown option 'kernel'", "-o", "kernel", "/b", "/m");
	/* The name goes into the mount data (root_bpf=): nothing that could end it. */
	PARSE_FAILS("option policy=\"a,b\"", "-o", "policy=\"a,b\"", "/b", "/m");
	PARSE_FAILS("expected a policy name", "-o", "policy=a.b", "/b", "/m");
}

/* Each flag's opposite clears it, as libmount does: the last one given wins. */
Test(options, mount_flag_opposites_clear)
{
	static const char *const pairs[][2] = {
		{ "nosuid", "suid" },		{ "nodev", "dev" },
		{ "noexec", "exec" },		{ "sync", "async" },
		{ "noatime", "atime" },		{ "nodiratime", "diratime" },
		{ "relatime", "norelatime" },	{ "strictatime", "nostrictatime" },
		{ "lazytime", "nolazytime" },	{ "nosymfollow", "symfollow" },
		{ "silent", "loud" },
	};
	char list[64];

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		snprintf(list, sizeof(list), "ro,%s,%s", pairs[i][0], pairs[i][1]);
		cr_assert_eq(PARSE("-o", list, "/b", "/m"), 0, "%s: %s", list, err);
		cr_assert_eq(cfg.mount_flags, MS_RDONLY, "-o %s gave flags %#lx", list,
			     cfg.mount_flags);
		cr_assert_eq(PARSE("-o", (char *)pairs[i][1], "/b", "/m"), 0, "%s: %s", pairs[i][1],
			     err);
		cr_assert_eq(cfg.mount_flags, 0, "-o %s alone gave flags %#lx", pairs[i][1],
			     cfg.mount_flags);
	}
	/* Several atime words pass as given: the kernel settles them as for any filesystem. */
	cr_assert_eq(PARSE("-o", "noatime,relatime,nodiratime", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.mount_flags, MS_NOATIME | MS_RELATIME | MS_NODIRATIME);
}

/*
 * What mount(8), its fstab and mount.fuse3 may hand over that means nothing
 * to fsd is accepted and changes nothing.
 */
Test(options, mount8_options_accepted_and_ignored)
{
	static const char *const ignored[] = {
		"defaults", "auto", "noauto", "_netdev", "nofail", "user", "nouser", "users",
		"nousers", "owner", "noowner", "group", "nogroup", "mand", "nomand", "iversion",
		"noiversion", "comment=systemd.automount", "uhelper=udisks2", "helper=fsd",
		"x-systemd.automount", "x-systemd.device-timeout=10", "X-mount.mkdir=0755",
		"x-gvfs-show", "user_id=0", "group_id=0",
	};

	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		cr_assert_eq(PARSE("-o", (char *)ignored[i], "/b", "/m"), 0, "%s: %s", ignored[i],
			     err);
		cr_assert_eq(cfg.mount_flags, 0, "-o %s gave flags %#lx", ignored[i],
			     cfg.mount_flags);
		cr_assert_null(cfg.user, "-o %s chose a userspace module", ignored[i]);
		cr_assert(cfg.allow_other && cfg.default_permissions && cfg.passthrough);
		cr_assert_str_eq(cfg.kernel_opts, "");
		cr_assert_not(cfg.remount);
	}
	/* user= with a value is still fsd's userspace module. */
	cr_assert_eq(PARSE("-o", "user,user=example", "/b", "/m"), 0, "%s", err);
	cr_assert_not_null(cfg.user);
	/* The kernel's FUSE options are fsd's to set: only its own values pass (remount). */
	PARSE_FAILS("user_id=1000", "-o", "user_id=1000", "/b", "/m");
	PARSE_FAILS("group_id=5", "-o", "group_id=5", "/b", "/m");
	/* Not mount(8)'s, not fsd's: still unknown, and named. */
	PARSE_FAILS("unknown option 'xsystemd'", "-o", "xsystemd", "/b", "/m");
	PARSE_FAILS("unknown option 'defaults=1'", "-o", "defaults=1", "/b", "/m");
	PARSE_FAILS("unknown option 'bind'", "-o", "rw,bind", "/b", "/m");
}

Test(options, fsname_and_subtype)
{
	char long_name[5000];

	cr_assert_eq(PARSE("/b", "/m"), 0, "%s", err);
	cr_assert_str_eq(cfg.fsname, "", "the source defaults to BACKING_DIR");
	cr_assert_str_eq(cfg.subtype, "fsd");
	cr_assert_eq(PARSE("-o", "fsname=my backing,subtype=myfs", "/b", "/m"), 0, "%s", err);
	cr_assert_str_eq(cfg.fsname, "my backing");
	cr_assert_str_eq(cfg.subtype, "myfs");
	/* An empty subtype mounts as plain fuse. */
	cr_assert_eq(PARSE("-o", "subtype=", "/b", "/m"), 0, "%s", err);
	cr_assert_str_eq(cfg.subtype, "");
	PARSE_FAILS("subtype=a b", "-o", "subtype=a b", "/b", "/m");
	PARSE_FAILS("subtype=a/b", "-o", "subtype=a/b", "/b", "/m");
	PARSE_FAILS("option fsname: expected a name", "-o", "fsname=", "/b", "/m");
	memset(long_name, 'n', sizeof(long_name) - 1);
	memcpy(long_name, "fsname=", 7);
	long_name[sizeof(long_name) - 1] = '\0';
	PARSE_FAILS("fsname: expected a name of 1 to 4095 bytes, got 4992", "-o", long_name, "/b",
		    "/m");
}

/* SELinux contexts go to the kernel as given, commas inside quotes and all. */
Test(options, selinux_contexts_pass_to_the_kernel)
{
	cr_assert_eq(PARSE("-o", "ro,context=\"system_u:object_r:tmp_t:s0:c1,c2\",nodev", "-o",
			   "fscontext=system_u:object_r:fs_t:s0", "/b", "/m"),
		     0, "%s", err);
	cr_assert_str_eq(cfg.kernel_opts, "context=\"system_u:object_r:tmp_t:s0:c1,c2\","
					  "fscontext=system_u:object_r:fs_t:s0");
	cr_assert_eq(cfg.mount_flags, MS_RDONLY | MS_NODEV);
	PARSE_FAILS("unknown option 'context'", "-o", "context", "/b", "/m");
}

Test(options, threads_option_for_fstab)
{
	cr_assert_eq(PARSE("-o", "threads=7", "/b", "/m"), 0, "%s", err);
	cr_assert_eq(cfg.threads, 7);
	PARSE_FAILS("threads=0", "-o", "threads=0", "/b", "/m");
	PARSE_FAILS("threads=65", "-o", "threads=65", "/b", "/m");
}

Test(options, remount)
{
	cr_assert_eq(PARSE("-o", "remount,noatime", "/b", "/m"), 0, "%s", err);
	cr_assert(cfg.remount);
	cr_assert_eq(cfg.mount_flags, MS_NOATIME);
	PARSE_FAILS("remount", "--dev-fd", "3", "-o", "remount", "/b");
}

/* Run as /sbin/mount.fuse.fsd: "SOURCE TARGET [-sfnv] [-N NS] [-o OPTS] [-t TYPE]". */
Test(options, mount_helper_arguments)
{
	char *argv[] = { "/sbin/mount.fuse.fsd", "/b", "/m", "-s", "-n", "-v", "-o",
			 "rw,noatime", "-t", "fuse.fsd", "-N", "/proc/1/ns/mnt", NULL };

	cr_assert_eq(parse_vec(argv), 0, "%s", err);
	cr_assert(cfg.helper);
	cr_assert_not(cfg.fake);
	cr_assert_eq(cfg.threads, 4, "the helper's -s is mount(8)'s sloppy, not one thread");
	cr_assert_not(cfg.foreground, "a helper returns once the mount is up");
	cr_assert_str_eq(cfg.backing_dir, "/b");
	cr_assert_str_eq(cfg.mountpoint, "/m");
	cr_assert_eq(cfg.mount_flags, MS_NOATIME);
	cr_assert_str_eq(cfg.mount_ns, "/proc/1/ns/mnt");

	cr_assert_eq(parse_vec((char *[]){ "mount.fuse.fsd", "/b", "/m", "-f", NULL }), 0, "%s",
		     err);
	cr_assert(cfg.helper && cfg.fake, "-f is mount(8)'s fake");
	cr_assert_not(cfg.foreground);

	/* Not a helper: fsd's own -s and -f. */
	cr_assert_eq(PARSE("-s", "-f", "/b", "/m"), 0, "%s", err);
	cr_assert_not(cfg.helper);
	cr_assert_eq(cfg.threads, 1);
	cr_assert(cfg.foreground);

	/* Unknown options are still refused, by name. */
	cr_assert_eq(parse_vec((char *[]){ "mount.fuse.fsd", "/b", "/m", "-o", "rw,bogus", NULL }),
		     -EINVAL);
	cr_assert(strstr(err, "unknown option 'bogus'"), "%s", err);
	cr_assert_eq(parse_vec((char *[]){ "mount.fuse.fsd", "/b", "/m", "-t", NULL }), -EINVAL);
	cr_assert(strstr(err, "-t"), "%s", err);
	cr_assert_eq(parse_vec((char *[]){ "mount.fuse.fsd", "/b", "/m", "-x", NULL }), -EINVAL);
	cr_assert(strstr(err, "'-x'"), "%s", err);
}
