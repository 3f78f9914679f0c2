// SPDX-License-Identifier: MIT
/*
 * Command line: fsd [options] BACKING_DIR MOUNTPOINT, in the style of other
 * FUSE filesystems, or fsd --dev-fd N [options] BACKING_DIR to serve a
 * connection a test harness opened.  Parsing only; nothing here touches the
 * system, so it is unit tested as it is.
 */
#define _GNU_SOURCE
#include "fsd.h"
#include "loader/loader.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#define FSD_THREADS_DEFAULT 4
#define FSD_THREADS_MAX 64
/* cache=always: the mount owns its backing directory; see docs/operations.md. */
#define TIMEOUT_ALWAYS 86400.0
#define TIMEOUT_AUTO 1.0

const char *kernel_mode_name(enum kernel_mode mode)
{
	switch (mode) {
	case KERNEL_FUSE:
		return "fuse";
	case KERNEL_FUSEBPF:
		return "fusebpf";
	case KERNEL_RFC:
		return "rfc";
	default:
		return "auto";
	}
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 1e9)) /* NaN fails too */
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void cache_set(struct config *cfg, enum cache_mode mode)
{
	double t = mode == CACHE_ALWAYS ? TIMEOUT_ALWAYS : mode == CACHE_AUTO ? TIMEOUT_AUTO : 0;

	cfg->entry_timeout = cfg->negative_timeout = cfg->attr_timeout = t;
}

/*
 * The mount flags, mapped as util-linux's libmount maps mount(8)'s options:
 * an option sets its flag, its opposite clears it, and the kernel settles
 * the rest (noatime wins over relatime, strictatime over both, relatime is
 * the default).  So `fsd -o X`, `mount -t fuse.fsd -o X` and an fstab line
 * with X give the mount the flags they give a local filesystem.
 */
static const struct {
	const char *name;
	unsigned long flag;
	bool clear;
} mount_flags[] = {
	{ "ro", MS_RDONLY },		   { "rw", MS_RDONLY, true },
	{ "nosuid", MS_NOSUID },	   { "suid", MS_NOSUID, true },
	{ "nodev", MS_NODEV },		   { "dev", MS_NODEV, true },
	{ "noexec", MS_NOEXEC },	   { "exec", MS_NOEXEC, true },
	{ "sync", MS_SYNCHRONOUS },	   { "async", MS_SYNCHRONOUS, true },
	{ "dirsync", MS_DIRSYNC },
	{ "noatime", MS_NOATIME },	   { "atime", MS_NOATIME, true },
	{ "nodiratime", MS_NODIRATIME },   { "diratime", MS_NODIRATIME, true },
	{ "relatime", MS_RELATIME },	   { "norelatime", MS_RELATIME, true },
	{ "strictatime", MS_STRICTATIME }, { "nostrictatime", MS_STRICTATIME, true },
	{ "lazytime", MS_LAZYTIME },	   { "nolazytime", MS_LAZYTIME, true },
	{ "nosymfollow", MS_NOSYMFOLLOW }, { "symfollow", MS_NOSYMFOLLOW, true },
	{ "silent", MS_SILENT },	   { "loud", MS_SILENT, true },
};

/*
 * mount(8)'s own options, and the kernel's that mean nothing to a FUSE
 * mount: accepted and ignored, so that any fstab line mount(8), mount -a
 * or systemd hands over mounts.  defaults sets nothing that is not the
 * default; auto/noauto, _netdev and nofail tell mount -a and systemd when
 * to mount; user, users, owner, group (and their no- forms) let ordinary
 * users mount from fstab, which fsd refuses anyway (it must run as root);
 * mand: Linux has no mandatory locks since 5.15; iversion: FUSE keeps no
 * i_version.  Also, with any value: comment=, uhelper=, helper=, and every
 * x-* and X-* (notes for userspace).
 */
static const char *const mount_ignored[] = {
	"defaults", "auto",  "noauto",	"_netdev", "nofail",  "user", "nouser", "users",
	"nousers",  "owner", "noowner", "group",   "nogroup", "mand", "nomand", "iversion",
	"noiversion",
};
static const char *const mount_ignored_keys[] = { "comment", "uhelper", "helper" };

/* SELinux's mount options: the kernel's, passed to it as given (quotes and all). */
static const char *const lsm_keys[] = { "context", "fscontext", "defcontext", "rootcontext" };

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * One -o item.  Timeouts are collected in explicit[] (-1: not given) so that
 * they win over cache=, in whatever order the two come.
 */
static int option_one(struct config *cfg, const char *opt, char *err, size_t errlen,
		      double explicit[3])
{
	const char *eq = strchr(opt, '=');
	size_t klen = eq ? (size_t)(eq - opt) : strlen(opt);
	const char *val = eq ? eq + 1 : NULL;
	static const char *const timeout_names[3] = { "entry_timeout", "negative_timeout",
						      "attr_timeout" };

#define KEY(k) (klen == strlen(k) && !strncmp(opt, k, klen))
	if (!*opt)
		return 0; /* "-o a,,b" */
	for (size_t i = 0; i < ARRAY_LEN(mount_flags); i++) {
		if (KEY(mount_flags[i].name) && !val) {
			if (mount_flags[i].clear)
				cfg->mount_flags &= ~mount_flags[i].flag;
			else
				cfg->mount_flags |= mount_flags[i].flag;
			return 0;
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(mount_ignored); i++)
		if (KEY(mount_ignored[i]) && !val)
			return 0;
	for (size_t i = 0; i < ARRAY_LEN(mount_ignored_keys); i++)
		if (KEY(mount_ignored_keys[i]) && val)
			return 0;
	if (!strncmp(opt, "x-", 2) || !strncmp(opt, "X-", 2))
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(lsm_keys); i++) {
		size_t used = strlen(cfg->kernel_opts);

		if (!KEY(lsm_keys[i]) || !val)
			continue;
		if (snprintf(cfg->kernel_opts + used, sizeof(cfg->kernel_opts) - used, "%s%s",
			     used ? "," : "", opt) >= (int)(sizeof(cfg->kernel_opts) - used))
			return fail(err, errlen, "option %s: SELinux options longer than %zu bytes",
				    opt, sizeof(cfg->kernel_opts) - 1);
		return 0;
	}
	if (KEY("remount") && !val) {
		cfg->remount = true;
		return 0;
	}
	/*
	 * The kernel's FUSE options that /proc/mounts shows, which mount(8)
	 * hands back on a remount: fsd sets them itself, so only its own
	 * values are taken (the mount belongs to root, who runs the daemon).
	 */
	if ((KEY("user_id") || KEY("group_id")) && val) {
		if (strcmp(val, "0"))
			return fail(err, errlen,
				    "option %s: fsd mounts as %.*s=0 (the daemon runs "
				    "as root)",
				    opt, (int)klen, opt);
		return 0;
	}
	if (KEY("fsname") && val) {
		if (!*val || strlen(val) >= sizeof(cfg->fsname))
			return fail(err, errlen,
				    "option fsname: expected a name of 1 to %zu bytes, "
				    "got %zu",
				    sizeof(cfg->fsname) - 1, strlen(val));
		snprintf(cfg->fsname, sizeof(cfg->fsname), "%s", val);
		return 0;
	}
	if (KEY("subtype") && val) {
		/* The kernel shows it as the type, fuse.SUBTYPE, in fields split at spaces. */
		if (strlen(val) >= sizeof(cfg->subtype) || strpbrk(val, " \t\n\\/"))
			return fail(err, errlen,
				    "option subtype=%s: expected up to %zu characters, "
				    "no spaces or slashes",
				    val, sizeof(cfg->subtype) - 1);
		snprintf(cfg->subtype, sizeof(cfg->subtype), "%s", val);
		return 0;
	}
	if (KEY("threads") && val) {
		if (parse_uint(val, 1, FSD_THREADS_MAX, &cfg->threads))
			return fail(err, errlen,
				    "option threads=%s: expected a number from 1 to %d", val,
				    FSD_THREADS_MAX);
		return 0;
	}
	if (KEY("cache") && val) {
		if (!strcmp(val, "always"))
			cfg->cache = CACHE_ALWAYS;
		else if (!strcmp(val, "auto"))
			cfg->cache = CACHE_AUTO;
		else if (!strcmp(val, "never"))
			cfg->cache = CACHE_NEVER;
		else
			return fail(err, errlen, "option cache=%s: expected always, auto or never", val);
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		if (KEY(timeout_names[i]) && val) {
			if (parse_seconds(val, &explicit[i]))
				return fail(err, errlen,
					    "option %s=%s: expected seconds, 0 to 1e9",
					    timeout_names[i], val);
			return 0;
		}
	}
	if (KEY("passthrough") && val) {
		if (!strcmp(val, "on"))
			cfg->passthrough = true;
		else if (!strcmp(val, "off"))
			cfg->passthrough = false;
		else
			return fail(err, errlen, "option passthrough=%s: expected on or off", val);
		return 0;
	}
	if (KEY("uring") && val) {
		if (!strcmp(val, "auto"))
			cfg->uring = URING_MODE_AUTO;
		else if (!strcmp(val, "on"))
			cfg->uring = URING_MODE_ON;
		else if (!strcmp(val, "off"))
			cfg->uring = URING_MODE_OFF;
		else
			return fail(err, errlen, "option uring=%s: expected auto, on or off", val);
		return 0;
	}
	if (KEY("fd_cache") && val) {
		if (parse_uint(val, 16, 1u << 30, &cfg->fd_cache))
			return fail(err, errlen, "option fd_cache=%s: expected a number of fds >= 16",
				    val);
		return 0;
	}
	if (KEY("max_opens_per_uid") && val) {
		if (parse_uint(val, 1, 1u << 30, &cfg->max_opens_per_uid))
			return fail(err, errlen, "option max_opens_per_uid=%s: expected a number of "
				    "open files and directories from 1 to %u", val, 1u << 30);
		return 0;
	}
	if (KEY("allow_other") && !val) {
		cfg->allow_other = true;
		return 0;
	}
	if (KEY("no_allow_other") && !val) {
		cfg->allow_other = false;
		return 0;
	}
	if (KEY("policy") && val) {
		/* The loader's rule; a FUSE-BPF kernel gets it in the mount data (root_bpf=). */
		if (!loader_name_valid(val))
			return fail(err, errlen, "option policy=%s: expected a policy name of 1 to %d "
				    "characters of [A-Za-z0-9_-]", val, FUSEBPF_POLICY_NAME_LEN - 1);
		snprintf(cfg->policy, sizeof(cfg->policy), "%s", val);
		return 0;
	}
	if (KEY("kernel") && val) {
		enum kernel_mode mode;

		for (mode = KERNEL_AUTO; mode <= KERNEL_RFC; mode++)
			if (!strcmp(val, kernel_mode_name(mode)))
				break;
		if (mode > KERNEL_RFC)
			return fail(err, errlen,
				    "option kernel=%s: expected fuse, fusebpf, rfc or auto", val);
		cfg->kernel = mode;
		return 0;
	}
	if (KEY("user_ops") && val) {
		char why[160];

		if (opcode_mask_parse(val, &cfg->user_ops, why, sizeof(why)))
			return fail(err, errlen, "option user_ops=%s: %s", val, why);
		return 0;
	}
	if (KEY("user") && val) {
		const char *colon = strchr(val, ':');
		char name[64], known[256];

		snprintf(name, sizeof(name), "%.*s", colon ? (int)(colon - val) : (int)strlen(val),
			 val);
		cfg->user = user_module_find(name);
		if (!cfg->user) {
			user_modules_list(known, sizeof(known));
			return fail(err, errlen, "option user=%s: no userspace module '%s' (built in: %s)",
				    val, name, known);
		}
		if (colon && strlen(colon + 1) >= sizeof(cfg->user_args))
			return fail(err, errlen, "option user=%s: arguments too long", val);
		snprintf(cfg->user_args, sizeof(cfg->user_args), "%s", colon ? colon + 1 : "");
		return 0;
	}
	if (KEY("default_permissions") && !val) {
		cfg->default_permissions = true;
		return 0;
	}
	if (KEY("no_default_permissions") && !val) {
		cfg->default_permissions = false;
		return 0;
	}
#undef KEY
	return fail(err, errlen, "unknown option '%s' (see --help)", opt);
}

/*
 * The next item of an -o list, cut at a comma outside double quotes: an
 * SELinux context may carry commas, context="system_u:object_r:t:s0:c1,c2".
 * NULL at the end.
 */
static char *list_next(char **cursor)
{
	char *item = *cursor, *p = item;
	bool quoted = false;

	if (!item)
		return NULL;
	for (; *p && (quoted || *p != ','); p++)
		if (*p == '"')
			quoted = !quoted;
	*cursor = *p ? p + 1 : NULL;
	*p = '\0';
	return item;
}

/*
 * The items of one -o list.  user_ops= takes a list of its own, so after it
 * an item that is an opcode name continues it: -o user_ops=open,unlink,ro.
 */
static int options_list(struct config *cfg, const char *list, char *err, size_t errlen,
			double explicit[3])
{
	char *copy = strdup(list), *cursor = copy, *tok;
	bool in_user_ops = false;
	int ret = 0;

	if (!copy)
		return fail(err, errlen, "out of memory");
	while (!ret && (tok = list_next(&cursor))) {
		uint64_t more;
		char why[160];

		if (!*tok)
			continue; /* "-o a,,b"; mount(8) leaves one where it took an option out */
		if (in_user_ops && !strchr(tok, '=')) {
			if (opcode_mask_parse(tok, &more, why, sizeof(why)) == 0) {
				cfg->user_ops |= more;
				continue;
			}
			if (option_one(cfg, tok, err, errlen, explicit))
				ret = fail(err, errlen, "option user_ops: %s, nor a mount option", why);
			in_user_ops = false;
			continue;
		}
		ret = option_one(cfg, tok, err, errlen, explicit);
		in_user_ops = !strncmp(tok, "user_ops=", 9);
	}
	free(copy);
	return ret;
}

int options_parse(int argc, char **argv, struct config *cfg, char *err, size_t errlen)
{
	const char *positional[2];
	const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
	double explicit[3] = { -1, -1, -1 };
	int npos = 0, ret;

	memset(cfg, 0, sizeof(*cfg));
	/* Run as /sbin/mount.fuse.fsd (a link to fsd): mount(8)'s helper. */
	cfg->helper = argc > 0 && argv[0] && !strncmp(base ? base + 1 : argv[0], "mount.", 6);
	snprintf(cfg->subtype, sizeof(cfg->subtype), "fsd");
	cfg->threads = FSD_THREADS_DEFAULT;
	cfg->passthrough = true;
	cfg->uring = URING_MODE_AUTO;
	cfg->allow_other = true;
	cfg->default_permissions = true;
	cfg->cache = CACHE_ALWAYS;
	cfg->dev_fd = -1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cfg->show_help = true;
			return 0;
		}
		if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			cfg->show_version = true;
			return 0;
		}
		if (!strcmp(a, "--stats")) {
			if (i + 1 >= argc)
				return fail(err, errlen, "--stats needs a MOUNTPOINT");
			cfg->stats_mountpoint = argv[++i];
			return 0;
		}
		if (cfg->helper) {
			/*
			 * mount(8) calls a helper "SOURCE TARGET [-sfnv] [-N NS]
			 * [-o OPTS] [-t TYPE]": sloppy, no-mtab and verbose ask
			 * nothing of fsd, fake mounts nothing, and the type is
			 * fuse.fsd, or this program would not have been run.
			 */
			if (!strcmp(a, "-s") || !strcmp(a, "-n") || !strcmp(a, "-v"))
				continue;
			if (!strcmp(a, "-f")) {
				cfg->fake = true;
				continue;
			}
			if (!strcmp(a, "-N") || !strcmp(a, "-t")) {
				if (i + 1 >= argc)
					return fail(err, errlen, "option %s needs a value", a);
				if (a[1] == 'N')
					cfg->mount_ns = argv[i + 1];
				i++;
				continue;
			}
		}
		if (!strcmp(a, "-f")) {
			cfg->foreground = true;
		} else if (!strcmp(a, "-d")) {
			cfg->debug = cfg->foreground = true;
		} else if (!strcmp(a, "-s")) {
			cfg->threads = 1;
		} else if (!strcmp(a, "-o") || !strncmp(a, "-o", 2)) {
			const char *list = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);

			if (!list)
				return fail(err, errlen, "option -o needs a value");
			ret = options_list(cfg, list, err, errlen, explicit);
			if (ret)
				return ret;
		} else if (!strcmp(a, "--threads") || !strncmp(a, "--threads=", 10)) {
			const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v || parse_uint(v, 1, FSD_THREADS_MAX, &cfg->threads))
				return fail(err, errlen, "--threads: expected a number from 1 to %d",
					    FSD_THREADS_MAX);
		} else if (!strcmp(a, "--dev-fd") || !strncmp(a, "--dev-fd=", 9)) {
			const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
			unsigned fd;

			if (!v || parse_uint(v, 0, INT_MAX, &fd))
				return fail(err, errlen, "--dev-fd: expected an fd number");
			cfg->dev_fd = fd;
		} else if (a[0] == '-' && a[1]) {
			return fail(err, errlen, "unknown option '%s' (see --help)", a);
		} else if (npos < 2) {
			positional[npos++] = a;
		} else {
			return fail(err, errlen, "unexpected argument '%s': expected BACKING_DIR MOUNTPOINT", a);
		}
	}
	if (cfg->dev_fd >= 0) {
		/* The connection exists already: nothing to mount, no terminal to leave. */
		if (npos == 0)
			return fail(err, errlen,
				    "missing BACKING_DIR: usage: fsd --dev-fd N BACKING_DIR");
		if (npos == 2)
			return fail(err, errlen,
				    "unexpected argument '%s': --dev-fd mounts nothing",
				    positional[1]);
		if (cfg->remount)
			return fail(err, errlen, "option remount: --dev-fd mounts nothing");
		cfg->foreground = true;
		/* No device to look for: the harness says which kernel it plays. */
		if (cfg->kernel == KERNEL_AUTO)
			cfg->kernel = KERNEL_FUSE;
	} else if (npos < 2) {
		return fail(err, errlen, "missing %s: usage: fsd [options] BACKING_DIR MOUNTPOINT",
			    npos ? "MOUNTPOINT" : "BACKING_DIR and MOUNTPOINT");
	}
	cfg->backing_dir = positional[0];
	cfg->mountpoint = npos == 2 ? positional[1] : NULL;
	cache_set(cfg, cfg->cache);
	if (explicit[0] >= 0)
		cfg->entry_timeout = explicit[0];
	if (explicit[1] >= 0)
		cfg->negative_timeout = explicit[1];
	if (explicit[2] >= 0)
		cfg->attr_timeout = explicit[2];
	/* The daemon acts as root: only the kernel's checks stand between users and that. */
	if (!cfg->default_permissions && cfg->allow_other)
		return fail(err, errlen, "no_default_permissions needs no_allow_other: otherwise "
					 "every user could act as root on the backing directory");
	return 0;
}

void options_usage(const char *prog)
{
	printf("usage: %s [options] BACKING_DIR MOUNTPOINT\n"
	       "\n"
	       "Mirrors BACKING_DIR at MOUNTPOINT through FUSE, with file data served by\n"
	       "kernel passthrough when the kernel offers it.\n"
	       "\n"
	       "  -f                    stay in the foreground\n"
	       "  -d                    debug: log every request and reply (implies -f)\n"
	       "  -s                    one worker thread (same as --threads 1)\n"
	       "  --threads N           worker threads, each on its own device fd (default %d)\n"
	       "  --stats MOUNTPOINT    print the counters of the fsd serving MOUNTPOINT\n"
	       "  --dev-fd N            serve the FUSE connection on fd N (a SOCK_SEQPACKET\n"
	       "                        socket from a test harness) instead of mounting:\n"
	       "                        give BACKING_DIR only; exits when the peer closes\n"
	       "  -h, --help            this help\n"
	       "  -V, --version         version\n"
	       "  -o OPT[,OPT...]       mount options:\n"
	       "     cache=always|auto|never  kernel caching of entries, attributes and data\n"
	       "                              (default always: the mount owns BACKING_DIR)\n"
	       "     entry_timeout=S          seconds a name stays cached (always: %g, auto: %g)\n"
	       "     negative_timeout=S       seconds a missing name stays cached\n"
	       "     attr_timeout=S           seconds attributes stay cached\n"
	       "     passthrough=on|off       kernel passthrough of file data (default on)\n"
	       "     uring=auto|on|off        serve requests over io_uring, a queue per CPU\n"
	       "                              (default auto: when the kernel offers it)\n"
	       "     fd_cache=N               O_PATH fds kept open for idle inodes\n"
	       "                              (default: half the open-file limit)\n"
	       "     max_opens_per_uid=N      open files and directories one uid other than\n"
	       "                              root may hold, EMFILE past it (default: a\n"
	       "                              quarter of the open-file limit)\n"
	       "     allow_other, no_allow_other\n"
	       "                              let every user use the mount (default on)\n"
	       "     default_permissions, no_default_permissions\n"
	       "                              the kernel checks permissions from the modes (default on)\n"
	       "     policy=NAME              run the filters of BPF policy NAME (loaded with\n"
	       "                              `fusebpf load`) on the root and what is below it\n"
	       "     kernel=fuse|fusebpf|rfc|auto\n"
	       "                              who runs the filters: fuse, the daemon (/dev/fuse,\n"
	       "                              type fuse); fusebpf, the fusebpf.ko module\n"
	       "                              (/dev/fusebpf, type fusebpf); rfc, a kernel with\n"
	       "                              the FUSE-BPF RFC patches (/dev/fuse); the last two\n"
	       "                              get BACKING_DIR and policy=NAME at mount (root_dir=,\n"
	       "                              root_bpf=). Default auto: fusebpf when /dev/fusebpf\n"
	       "                              exists, else fuse (with --dev-fd: fuse)\n"
	       "     user_ops=OP[,OP...]      opcodes that go to the userspace handler when no\n"
	       "                              filter decides (default none; `all` for every one)\n"
	       "     user=MODULE[:ARGS]       the userspace module serving USER verdicts and\n"
	       "                              userspace filter calls (default none)\n"
	       "     threads=N                worker threads, as --threads N (for fstab lines)\n"
	       "     fsname=NAME              the source /proc/mounts shows (default BACKING_DIR)\n"
	       "     subtype=NAME             the type: fuse.NAME (default fsd; empty: fuse)\n"
	       "     ro, rw, nosuid, suid, nodev, dev, noexec, exec, sync, async, dirsync,\n"
	       "     nosymfollow, symfollow, lazytime, nolazytime, silent, loud\n"
	       "                              the usual mount flags\n"
	       "     relatime (default), strictatime, noatime, nodiratime, and atime,\n"
	       "     norelatime, nostrictatime, diratime\n"
	       "                              when reads through the mount update atime in\n"
	       "                              BACKING_DIR, as on a local filesystem\n"
	       "     remount                  change the mount flags of the running mount\n"
	       "     context=, fscontext=, defcontext=, rootcontext=\n"
	       "                              SELinux labels, passed to the kernel\n"
	       "     defaults, auto, noauto, _netdev, nofail, user, users, owner, group,\n"
	       "     mand, iversion (and their no- forms), comment=, x-*, X-*\n"
	       "                              mount(8)'s: accepted and ignored\n"
	       "     user_id=0, group_id=0    what /proc/mounts shows (a remount hands them\n"
	       "                              back): fsd sets them, and takes no other value\n"
	       "\n"
	       "mount(8) runs fsd as /sbin/mount.fuse.fsd (a link to fsd) for\n"
	       "  mount -t fuse.fsd BACKING_DIR MOUNTPOINT -o OPTS\n"
	       "and for the fstab line\n"
	       "  BACKING_DIR MOUNTPOINT fuse.fsd OPTS 0 0\n"
	       "taking the options above; its -s, -n, -v and -t are ignored, -f mounts\n"
	       "nothing, -N NS mounts in mount namespace NS (a path or a pid).\n",
	       prog, FSD_THREADS_DEFAULT, TIMEOUT_ALWAYS, TIMEOUT_AUTO);
}
