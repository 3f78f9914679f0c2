// SPDX-License-Identifier: MIT
/*
 * fusebpf: the command-line tool for policies.  Loads (verifies and pins)
 * policy objects and tells the running daemons to switch to the new
 * version, lists, shows and unloads them, and shows a mount's statistics.
 * The policies in bpf/ are built in (their skeletons), so `fusebpf load
 * hide` needs no file.
 */
#define _GNU_SOURCE
#include "loader.h"

#include <fusebpf/control.h>

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/media.h"
#include "media/media_index.h"

#include "bpf/trace.h"
#include "hide.skel.h"
#include "media.skel.h"
#include "passthrough.skel.h"
#include "readonly.skel.h"
#include "trace.skel.h"
#include "verdicts.skel.h"
/* Their kernel-mode builds, for fusebpf.ko. */
#include "kernel/hide.skel.h"
#include "kernel/media.skel.h"
#include "kernel/passthrough.skel.h"
#include "kernel/readonly.skel.h"
#include "kernel/trace.skel.h"
#include "kernel/verdicts.skel.h"

/* The clang flags of bpf/'s policies, less the tree's -Iinclude: the Makefile's, one source. */
#ifndef FUSEBPF_BPF_FLAGS
#error "FUSEBPF_BPF_FLAGS: the Makefile passes the flags policies are built with"
#endif

/* The policies of bpf/, by the name `load` knows them by, and their kernel-mode builds. */
static const struct {
	const char *name;
	const void *(*elf_bytes)(size_t *size);
	const void *(*kernel_elf_bytes)(size_t *size);
} builtins[] = {
	{ "hide", hide_bpf__elf_bytes, hide_kbpf__elf_bytes },
	{ "media", media_bpf__elf_bytes, media_kbpf__elf_bytes },
	{ "passthrough", passthrough_bpf__elf_bytes, passthrough_kbpf__elf_bytes },
	{ "readonly", readonly_bpf__elf_bytes, readonly_kbpf__elf_bytes },
	{ "trace", trace_bpf__elf_bytes, trace_kbpf__elf_bytes },
	{ "verdicts", verdicts_bpf__elf_bytes, verdicts_kbpf__elf_bytes },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fusebpf COMMAND [ARGS]\n"
		"\n"
		"  load FILE|BUILTIN [--name NAME]\n"
		"                      verify and pin a policy object, or a built-in policy;\n"
		"                      mounts running a policy of that name switch to it;\n"
		"                      with fusebpf.ko loaded, its kernel-mode build (for a\n"
		"                      FILE, kernel/FILE beside it) is registered there too\n"
		"  list                the loaded policies\n"
		"  show NAME           a loaded policy's filters and maps\n"
		"  unload NAME         remove a policy (from fusebpf.ko too); mounts running\n"
		"                      it take the defaults (refused while fusebpf.ko's\n"
		"                      mounts use it)\n"
		"  stats MOUNTPOINT    per opcode: requests, verdicts, userspace calls and\n"
		"                      time in filters of the fsd serving MOUNTPOINT\n"
		"  build FILE.c [-o OUT] [CLANG_ARG...]\n"
		"                      compile a policy with clang ($CLANG) and the headers\n"
		"                      installed beside fusebpf (PREFIX/include), into OUT\n"
		"                      (default: FILE.o, so my.bpf.c gives my.bpf.o), and\n"
		"                      its kernel-mode build for fusebpf.ko into kernel/OUT\n"
		"  media [--policy NAME] ...\n"
		"                      the media storage policy (docs/media.md; NAME: media):\n"
		"    app add UID PACKAGE | app rm UID [PACKAGE]\n"
		"                                          which app a uid is\n"
		"    privileged add UID | privileged rm UID\n"
		"                                          uids that see every app's files\n"
		"    grant UID location | revoke UID location\n"
		"                                          GPS tags unredacted for that uid\n"
		"    apps                                  the tables above\n"
		"    query [--owner UID] [--type MIME|TYPE/*] [--prefix PATH] DB\n"
		"                                          rows of the media index DB\n"
		"    rescan BACKING DB                     rebuild the index DB of BACKING; through\n"
		"                                          the fsd that owns DB if one runs\n"
		"\n"
		"built-in policies:");
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		fprintf(out, " %s", builtins[i].name);
	fprintf(out, "\npinned under %s; maps under %s/NAME/maps/ (see bpftool map)\n",
		LOADER_PIN_ROOT, LOADER_PIN_ROOT);
}

/* Sends one command to a control socket; the answer, malloc'ed, or NULL with errno set. */
static char *control_send(const char *path, const char *command)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t used = 0, size = 4096;
	char *buf = malloc(size), line[256];
	int fd, len = snprintf(line, sizeof(line), "%s\n", command);
	ssize_t n;

	if (!buf)
		return NULL;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* A daemon going away meanwhile is EPIPE, not SIGPIPE: the other daemons still hear. */
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    send(fd, line, len, MSG_NOSIGNAL) != len) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		free(buf);
		errno = e;
		return NULL;
	}
	while ((n = read(fd, buf + used, size - used - 1)) > 0) {
		used += n;
		if (size - used < 2) {
			char *more = realloc(buf, size * 2);

			if (!more)
				break;
			buf = more;
			size *= 2;
		}
	}
	close(fd);
	buf[used] = '\0';
	return buf;
}

/*
 * Tells every running daemon "reload NAME" or "unload NAME": how many run
 * it; *failed counts those that could not take it.
 */
static int daemons_tell(const char *verb, const char *name, int *failed)
{
	DIR *d = opendir(FUSEBPF_CONTROL_DIR);
	struct dirent *e;
	char path[512], command[64];
	int users = 0;

	*failed = 0;
	if (!d)
		return 0;
	snprintf(command, sizeof(command), "%s %s", verb, name);
	while ((e = readdir(d))) {
		char *answer;

		if (strncmp(e->d_name, "fsd-", 4) || !strstr(e->d_name, ".sock"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", FUSEBPF_CONTROL_DIR, e->d_name);
		answer = control_send(path, command);
		if (!answer)
			continue; /* a daemon that is gone */
		if (!strncmp(answer, "ok", 2)) {
			users++;
		} else if (strncmp(answer, "unused", 6)) {
			fprintf(stderr, "fusebpf: daemon at %s: %s", path, answer);
			(*failed)++;
		}
		free(answer);
	}
	closedir(d);
	return users;
}

static int cmd_load(int argc, char **argv)
{
	const char *what = NULL, *name = NULL;
	char loaded[FUSEBPF_POLICY_NAME_LEN];
	struct loader_error err = { 0 };
	bool builtin = false;
	struct stat st;
	int e, users, failed;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!what && argv[i][0] != '-')
			what = argv[i];
		else {
			fprintf(stderr, "fusebpf load: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!what) {
		fprintf(stderr, "fusebpf load: which policy? a FILE.bpf.o or a built-in name\n");
		return 2;
	}
	/*
	 * A path, or a file of that name here, is loaded as a file; any other
	 * name is a built-in's.  A directory is never a policy object: `load
	 * media` at the top of the source tree, which has a media/, is the
	 * built-in.
	 */
	e = -ENOENT;
	if ((stat(what, &st) == 0 && !S_ISDIR(st.st_mode)) || strchr(what, '/') ||
	    strstr(what, ".o")) {
		e = loader_load_file(what, name, loaded, &err);
	} else {
		for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
			size_t size, ksize;
			const void *obj, *kobj;

			if (strcmp(builtins[i].name, what))
				continue;
			obj = builtins[i].elf_bytes(&size);
			kobj = builtins[i].kernel_elf_bytes(&ksize);
			e = loader_load_mem(obj, size, kobj, ksize, what, name, loaded, &err);
			builtin = true;
			break;
		}
		if (!builtin)
			snprintf(err.msg, sizeof(err.msg),
				 "%s: no such file, and no built-in policy of that name", what);
	}
	if (e) {
		fprintf(stderr, "fusebpf load: %s\n", err.msg);
		if (err.log[0] && strstr(err.msg, "verifier")) {
			char *tail = err.log, *p;
			int lines = 0;

			/* The verifier's last lines: what it refused, and where. */
			for (p = err.log + strlen(err.log); p > err.log; p--)
				if (*p == '\n' && ++lines > 12) {
					tail = p + 1;
					break;
				}
			fprintf(stderr, "%s", tail);
		}
		return 1;
	}
	users = daemons_tell("reload", loaded, &failed);
	printf("policy %s loaded (pinned in %s/%s%s)", loaded, LOADER_PIN_ROOT, loaded,
	       loader_kernel_present() ? "; registered with fusebpf.ko" : "");
	if (users)
		printf("; %d mount%s switched to it", users, users == 1 ? "" : "s");
	printf("\n");
	/* Pinned, but a mount runs its old version: say so in the status too. */
	return failed ? 1 : 0;
}

static int list_one(const char *name, void *arg)
{
	(void)arg;
	printf("%s\n", name);
	return 0;
}

/* ---- stats ---- */

struct kv {
	char *key;
	char *value;
};

static const char *kv_get(const struct kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return kv[i].value;
	return NULL;
}

static unsigned long long kv_num(const struct kv *kv, size_t n, const char *fmt, const char *op,
				 const char *sub)
{
	char key[128];
	const char *v;

	snprintf(key, sizeof(key), fmt, op, sub);
	v = kv_get(kv, n, key);
	return v ? strtoull(v, NULL, 0) : 0;
}

/* The counts of a policy the mount runs, if it keeps them as trace does. */
static void trace_counts_print(const char *policy)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	bool header = false;
	char path[256];
	int fd;

	loader_map_path(policy, "counts", path, sizeof(path));
	fd = loader_map_open(policy, "counts", NULL);
	if (fd < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.key_size != sizeof(uint32_t) ||
	    info.value_size != sizeof(struct trace_count)) {
		close(fd);
		return;
	}
	for (uint32_t op = 0; op < FUSEBPF_OP_MAX && op < info.max_entries; op++) {
		struct trace_count c;

		if (bpf_map_lookup_elem(fd, &op, &c) || !c.requests)
			continue;
		if (!header) {
			printf("\npolicy %s counts (%s): requests and the verdicts it returned\n",
			       policy, path);
			printf("%-16s %10s %10s %10s\n", "opcode", "requests", "default", "other");
			header = true;
		}
		printf("%-16s %10llu %10llu %10llu\n", fusebpf_opcode_names[op],
		       (unsigned long long)c.requests,
		       (unsigned long long)c.verdicts[FUSEBPF_CALL_DEFAULT],
		       (unsigned long long)(c.requests - c.verdicts[FUSEBPF_CALL_DEFAULT]));
	}
	close(fd);
}

/* The userspace module's own counters, "user.MODULE.NAME VALUE" lines. */
static void module_counters_print(const struct kv *kv, size_t n)
{
	const char *module = kv_get(kv, n, "user_module");
	char prefix[64];
	size_t len;
	bool header = false;

	if (!module)
		return;
	len = snprintf(prefix, sizeof(prefix), "user.%s.", module);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(kv[i].key, prefix, len))
			continue;
		if (!header)
			printf("\nuserspace module %s:\n", module);
		header = true;
		printf("  %-28s %s\n", kv[i].key + len, kv[i].value);
	}
}

static int cmd_stats(const char *mountpoint)
{
	char path[256], *answer, *line, *save = NULL;
	struct kv kv[1024];
	size_t n = 0;
	struct stat st;

	if (stat(mountpoint, &st) < 0) {
		fprintf(stderr, "fusebpf stats: %s: %s\n", mountpoint, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), FUSEBPF_CONTROL_PATH_FMT, (unsigned long long)st.st_dev);
	answer = control_send(path, "stats");
	if (!answer) {
		fprintf(stderr, "fusebpf stats: no fsd serves %s (%s: %s)\n", mountpoint, path,
			strerror(errno));
		return 1;
	}
	for (line = strtok_r(answer, "\n", &save); line && n < 1024;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (!sp)
			continue;
		*sp = '\0';
		kv[n++] = (struct kv){ line, sp + 1 };
	}
	printf("mount %s: root policy %s, userspace module %s, filters run by %s (kernel=%s)\n",
	       mountpoint, kv_get(kv, n, "root_policy") ?: "?", kv_get(kv, n, "user_module") ?: "?",
	       !kv_get(kv, n, "kernel")		       ? "?" :
	       !strcmp(kv_get(kv, n, "kernel"), "fuse") ? "the daemon" :
							  "the kernel",
	       kv_get(kv, n, "kernel") ?: "?");
	/* uring_requests counts requests that came over the rings, offloaded or not. */
	if (!strcmp(kv_get(kv, n, "uring") ?: "0", "1"))
		printf("transport: io_uring, a queue per CPU (%s requests, %s of them by offload "
		       "threads); /dev/fuse %s\n",
		       kv_get(kv, n, "uring_requests") ?: "?", kv_get(kv, n, "uring_offloaded") ?: "?",
		       kv_get(kv, n, "dev_requests") ?: "?");
	else
		printf("transport: /dev/fuse (%s requests); io_uring not in use\n",
		       kv_get(kv, n, "dev_requests") ?: "?");
	for (size_t i = 0; i < n; i++)
		if (!strncmp(kv[i].key, "policy.", 7))
			printf("policy %s: %s\n", kv[i].key + 7, kv[i].value);
	printf("opcode masks: backing %s; user %s\n", kv_get(kv, n, "mask.backing") ?: "?",
	       kv_get(kv, n, "mask.user") ?: "?");
	printf("\n%-16s %9s %9s %7s %9s %9s %8s  %s\n", "opcode", "kernel", "requests", "errors",
	       "fast path", "userspace", "filter us", "prefilter verdicts");
	for (uint32_t op = 0; op < FUSEBPF_OP_MAX; op++) {
		const char *name = fusebpf_opcode_names[op];
		unsigned long long req, user, calls, ns, kern;
		char vbuf[256] = "";
		size_t used = 0;

		if (!name)
			continue;
		req = kv_num(kv, n, "requests.%s%s", name, "");
		kern = kv_num(kv, n, "kernel.%s%s", name, "");
		user = kv_num(kv, n, "user.%s%s", name, "");
		calls = kv_num(kv, n, "filter_calls.%s%s", name, "");
		ns = kv_num(kv, n, "filter_ns.%s%s", name, "");
		/* Counted by whoever ran the prefilter: the daemon, or fusebpf.ko (kernel.). */
		for (size_t v = 0; v <= FUSEBPF_VERDICT_MAX + 1; v++) {
			const char *vname = fusebpf_verdict_names[v];
			unsigned long long c = kv_num(kv, n, "verdict.%s.%s", name, vname) +
					       kv_num(kv, n, "kernel.verdict.%s.%s", name, vname);

			if (c && used < sizeof(vbuf))
				used += snprintf(vbuf + used, sizeof(vbuf) - used, "%s%s %llu",
						 used ? ", " : "", vname, c);
		}
		if (!req && !kern && !used)
			continue;
		printf("%-16s %9llu %9llu %7llu %9llu %9llu %8.2f  %s\n", name, kern, req,
		       kv_num(kv, n, "errors.%s%s", name, ""), req - user, user,
		       calls ? ns / 1000.0 / calls : 0.0, vbuf);
	}
	printf("(kernel: served by fusebpf.ko on the backing inode, no request reached the\n"
	       " daemon (kernel=fusebpf; file data by passthrough is not counted);\n"
	       " requests: what reached the daemon; fast path: of those, served on the backing\n"
	       " filesystem by the daemon or, for file data, by the kernel's passthrough, which\n"
	       " the daemon never sees; filter us: mean time per BPF filter call)\n");
	for (size_t i = 0; i < n; i++)
		if (!strncmp(kv[i].key, "policy.", 7))
			trace_counts_print(kv[i].key + 7);
	module_counters_print(kv, n);
	free(answer);
	return 0;
}

/* ---- media: the media storage policy's tables and index (docs/media.md) ---- */

static int media_usage(void)
{
	fprintf(stderr, "usage: fusebpf media [--policy NAME] app add UID PACKAGE | app rm UID [PACKAGE] |\n"
			"         privileged add|rm UID | grant|revoke UID location | apps |\n"
			"         query [--owner UID] [--type MIME] [--prefix PATH] DB |\n"
			"         rescan BACKING DB\n");
	return 2;
}

static int uid_parse(const char *s, uint32_t *uid)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	/* (uid_t)-1 means "no change" to chown and friends: not a uid. */
	if (errno || *end || v >= UINT32_MAX) {
		fprintf(stderr, "fusebpf media: '%s' is not a uid (0 to %u)\n", s, UINT32_MAX - 1);
		return -EINVAL;
	}
	*uid = v;
	return 0;
}

/* An fd of a map of the media policy; -errno with a message. */
static int media_map(const char *policy, const char *map)
{
	struct loader_error err = { 0 };
	int fd = loader_map_open(policy, map, &err);

	if (fd == -ENOENT)
		fprintf(stderr, "fusebpf media: policy '%s' is not loaded, or has no map '%s' "
			"(fusebpf load media%s%s)\n", policy, map,
			strcmp(policy, MEDIA_POLICY_NAME) ? " --name " : "",
			strcmp(policy, MEDIA_POLICY_NAME) ? policy : "");
	else if (fd < 0)
		fprintf(stderr, "fusebpf media: %s\n", err.msg);
	return fd;
}

/* Adds uid to (value NULL: removes it from) a map of the policy. */
static int media_map_set(const char *policy, const char *map, uint32_t uid, const void *value)
{
	int fd = media_map(policy, map), err = 0;

	if (fd < 0)
		return 1;
	if (value ? bpf_map_update_elem(fd, &uid, value, BPF_ANY) :
		    bpf_map_delete_elem(fd, &uid))
		err = errno;
	close(fd);
	if (err == ENOENT && !value) {
		fprintf(stderr, "fusebpf media: uid %u is not in %s\n", uid, map);
		return 1;
	}
	if (err) {
		fprintf(stderr, "fusebpf media: %s uid %u in %s: %s\n", value ? "adding" : "removing",
			uid, map, strerror(err));
		return 1;
	}
	return 0;
}

/*
 * A package name is what the policy compares entry names of Android/data
 * with: one path component, as a directory could be named.
 */
static bool package_valid(const char *p)
{
	size_t len = strlen(p);

	return len > 0 && len < MEDIA_PACKAGE_LEN && !strchr(p, '/') && strcmp(p, ".") &&
	       strcmp(p, "..");
}

static int media_app(const char *policy, int argc, char **argv)
{
	struct media_package pkg = {};
	uint32_t uid;

	if (argc == 3 && !strcmp(argv[0], "add")) {
		if (uid_parse(argv[1], &uid))
			return 2;
		if (!package_valid(argv[2])) {
			fprintf(stderr, "fusebpf media: '%s' is not a package name: 1 to %d bytes, "
				"no '/', not . or ..\n", argv[2], MEDIA_PACKAGE_LEN - 1);
			return 2;
		}
		strcpy(pkg.name, argv[2]);
		return media_map_set(policy, MEDIA_MAP_APPS, uid, &pkg);
	}
	if ((argc == 2 || argc == 3) && !strcmp(argv[0], "rm")) {
		if (uid_parse(argv[1], &uid))
			return 2;
		if (argc == 3) {
			/* Only if it is that package's: a check against removing another's. */
			int fd = media_map(policy, MEDIA_MAP_APPS), found;

			if (fd < 0)
				return 1;
			found = bpf_map_lookup_elem(fd, &uid, &pkg) == 0;
			close(fd);
			pkg.name[MEDIA_PACKAGE_LEN - 1] = '\0';
			if (!found || strcmp(pkg.name, argv[2])) {
				fprintf(stderr, "fusebpf media: uid %u is not %s's (it is %s)\n", uid,
					argv[2], found ? pkg.name : "no app's");
				return 1;
			}
		}
		return media_map_set(policy, MEDIA_MAP_APPS, uid, NULL);
	}
	return media_usage();
}

/* Whether uid is in a uid set of the policy (fd of the map). */
static bool uid_in(int fd, uint32_t uid)
{
	uint8_t v;

	return fd >= 0 && bpf_map_lookup_elem(fd, &uid, &v) == 0;
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Every key of a uid-keyed map, sorted, appended to *uids. */
static int uids_collect(int fd, uint32_t **uids, size_t *n, size_t *cap)
{
	uint32_t key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (*n == *cap) {
			uint32_t *more = realloc(*uids, (*cap ? *cap * 2 : 64) * sizeof(**uids));

			if (!more)
				return -ENOMEM;
			*uids = more;
			*cap = *cap ? *cap * 2 : 64;
		}
		(*uids)[(*n)++] = next;
		key = next;
		prev = &key;
	}
	return 0;
}

/* The three tables, one line per uid that is in any of them, by uid. */
static int media_apps(const char *policy)
{
	int apps = media_map(policy, MEDIA_MAP_APPS);
	int priv = apps < 0 ? -1 : media_map(policy, MEDIA_MAP_PRIVILEGED);
	int loc = priv < 0 ? -1 : media_map(policy, MEDIA_MAP_LOCATION);
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	int ret = 1;

	if (loc < 0)
		goto out;
	if (uids_collect(apps, &uids, &n, &cap) || uids_collect(priv, &uids, &n, &cap) ||
	    uids_collect(loc, &uids, &n, &cap)) {
		fprintf(stderr, "fusebpf media apps: out of memory\n");
		goto out;
	}
	qsort(uids, n, sizeof(*uids), uid_cmp);
	printf("%-10s %-40s %s\n", "uid", "package", "flags");
	for (size_t i = 0; i < n; i++) {
		struct media_package pkg;

		if (i && uids[i] == uids[i - 1])
			continue;
		if (bpf_map_lookup_elem(apps, &uids[i], &pkg))
			snprintf(pkg.name, sizeof(pkg.name), "-");
		pkg.name[MEDIA_PACKAGE_LEN - 1] = '\0';
		printf("%-10u %-40s %s%s%s\n", uids[i], pkg.name, uid_in(priv, uids[i]) ? "privileged" : "",
		       uid_in(priv, uids[i]) && uid_in(loc, uids[i]) ? "," : "",
		       uid_in(loc, uids[i]) ? "location" : "");
	}
	ret = 0;
out:
	free(uids);
	if (apps >= 0)
		close(apps);
	if (priv >= 0)
		close(priv);
	if (loc >= 0)
		close(loc);
	return ret;
}

static int media_query(int argc, char **argv)
{
	struct media_query q = {};
	struct media_index *idx;
	const char *db = NULL;
	int err;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--owner") && i + 1 < argc) {
			if (uid_parse(argv[++i], &q.owner))
				return 2;
			q.by_owner = true;
		} else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
			q.mime = argv[++i];
		} else if (!strcmp(argv[i], "--prefix") && i + 1 < argc) {
			q.prefix = argv[++i];
		} else if (!db && argv[i][0] != '-') {
			db = argv[i];
		} else {
			return media_usage();
		}
	}
	if (!db)
		return media_usage();
	err = media_index_open(db, NULL, MEDIA_INDEX_RDONLY, &idx);
	if (err) {
		fprintf(stderr, "fusebpf media query: %s: %s\n", db, strerror(-err));
		return 1;
	}
	err = media_index_dump(idx, &q, stdout);
	media_index_close(idx);
	if (err) {
		fprintf(stderr, "fusebpf media query: %s: %s%s\n", db, strerror(-err),
			err == -EINVAL ? " (--type: a MIME type, TYPE/*, or *)" : "");
		return 1;
	}
	return 0;
}

/* How long a rescan waits for an owner of the index that is no daemon (another rescan). */
#define RESCAN_WAIT_MS 10000

/* The control socket of the daemon of that pid, into path; 0 or -ENOENT. */
static int daemon_socket(pid_t pid, char *path, size_t size)
{
	DIR *d = opendir(FUSEBPF_CONTROL_DIR);
	struct dirent *e;
	char want[32];
	int err = -ENOENT;

	if (!d)
		return -ENOENT;
	snprintf(want, sizeof(want), "\npid %d\n", (int)pid);
	while (err && (e = readdir(d))) {
		char *answer;

		if (strncmp(e->d_name, "fsd-", 4) || !strstr(e->d_name, ".sock"))
			continue;
		snprintf(path, size, "%s/%s", FUSEBPF_CONTROL_DIR, e->d_name);
		answer = control_send(path, "stats");
		if (!answer)
			continue;
		/* The stats begin with "pid N": look for it as a whole line. */
		if (!strncmp(answer, want + 1, strlen(want + 1)) || strstr(answer, want))
			err = 0;
		free(answer);
	}
	closedir(d);
	return err;
}

/*
 * The index is owned (media_index.h): by a daemon, which rescans when told
 * to through its control socket, or by another rescan, which will be done
 * soon.  A rescan beside the owner would write an index that another
 * process keeps, in an order neither sees.
 */
static int media_rescan_owned(const char *backing, const char *db, bool *retry)
{
	char owner_root[PATH_MAX], want_root[PATH_MAX], sock[512], *answer;
	pid_t pid;
	int owned;

	*retry = false;
	owned = media_index_owner(db, &pid, owner_root, sizeof(owner_root));
	if (owned < 0) {
		fprintf(stderr, "fusebpf media rescan: %s.lock: %s\n", db, strerror(-owned));
		return 1;
	}
	if (!owned || !pid || daemon_socket(pid, sock, sizeof(sock))) {
		*retry = true; /* gone, just taken, or not a daemon */
		return 1;
	}
	if (!realpath(backing, want_root)) {
		fprintf(stderr, "fusebpf media rescan: %s: %s\n", backing, strerror(errno));
		return 1;
	}
	if (strcmp(owner_root, want_root)) {
		fprintf(stderr, "fusebpf media rescan: index %s is owned by a running fsd (pid %d) "
			"as the index of %s, not of %s\n", db, (int)pid, owner_root, backing);
		return 1;
	}
	answer = control_send(sock, "media rescan");
	if (!answer) {
		fprintf(stderr, "fusebpf media rescan: index %s is owned by a running fsd (pid %d), "
			"which did not answer on %s: %s\n", db, (int)pid, sock, strerror(errno));
		return 1;
	}
	if (strncmp(answer, "ok", 2)) {
		fprintf(stderr, "fusebpf media rescan: index %s is owned by a running fsd (pid %d), "
			"whose rescan failed: %s", db, (int)pid, answer);
		free(answer);
		return 1;
	}
	free(answer);
	printf("index %s rebuilt from %s by the fsd that owns it (pid %d)\n", db, backing,
	       (int)pid);
	return 0;
}

static int media_rescan(const char *backing, const char *db)
{
	struct media_index *idx;
	pid_t pid = 0;
	bool retry;
	int err, ret;

	for (int waited = 0;; waited += 100) {
		err = media_index_open(db, backing, MEDIA_INDEX_OWN, &idx);
		if (err != -EAGAIN)
			break;
		ret = media_rescan_owned(backing, db, &retry);
		if (!retry)
			return ret;
		if (waited >= RESCAN_WAIT_MS) {
			media_index_owner(db, &pid, NULL, 0);
			fprintf(stderr, "fusebpf media rescan: index %s is owned by process %d, "
				"which is no fsd that answers on " FUSEBPF_CONTROL_DIR
				" (another rescan?); gave up after %d s\n", db, (int)pid,
				RESCAN_WAIT_MS / 1000);
			return 1;
		}
		usleep(100000);
	}
	if (err) {
		fprintf(stderr, "fusebpf media rescan: %s of %s: %s\n", db, backing, strerror(-err));
		return 1;
	}
	err = media_index_rescan(idx, "");
	media_index_close(idx);
	if (err) {
		fprintf(stderr, "fusebpf media rescan: %s: %s\n", backing, strerror(-err));
		return 1;
	}
	printf("index %s rebuilt from %s\n", db, backing);
	return 0;
}

static int cmd_media(int argc, char **argv)
{
	const char *policy = MEDIA_POLICY_NAME;
	static const uint8_t one = 1;
	uint32_t uid;

	if (argc >= 2 && !strcmp(argv[0], "--policy")) {
		policy = argv[1];
		argc -= 2;
		argv += 2;
		if (!loader_name_valid(policy)) {
			fprintf(stderr, "fusebpf media: '%s' is not a policy name\n", policy);
			return 2;
		}
	}
	if (argc < 1)
		return media_usage();
	if (!strcmp(argv[0], "app"))
		return media_app(policy, argc - 1, argv + 1);
	if (!strcmp(argv[0], "privileged") && argc == 3 &&
	    (!strcmp(argv[1], "add") || !strcmp(argv[1], "rm"))) {
		if (uid_parse(argv[2], &uid))
			return 2;
		return media_map_set(policy, MEDIA_MAP_PRIVILEGED, uid,
				     !strcmp(argv[1], "add") ? &one : NULL);
	}
	if ((!strcmp(argv[0], "grant") || !strcmp(argv[0], "revoke")) && argc == 3 &&
	    !strcmp(argv[2], "location")) {
		if (uid_parse(argv[1], &uid))
			return 2;
		return media_map_set(policy, MEDIA_MAP_LOCATION, uid,
				     !strcmp(argv[0], "grant") ? &one : NULL);
	}
	if (!strcmp(argv[0], "apps") && argc == 1)
		return media_apps(policy);
	if (!strcmp(argv[0], "query"))
		return media_query(argc - 1, argv + 1);
	if (!strcmp(argv[0], "rescan") && argc == 3)
		return media_rescan(argv[1], argv[2]);
	return media_usage();
}

/* Runs clang with args (NULL-terminated); 0, or 1 when it failed (it said why). */
static int run_clang(char **args)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "fusebpf build: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(args[0], args);
		fprintf(stderr, "fusebpf build: %s: %s (install clang, or set CLANG)\n", args[0],
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	return 0;
}

/*
 * The kernel-mode build of the policy src, whose daemon-mode object is out:
 * OUT's directory/kernel/OUT's name, where fusebpf load looks for it, from
 * the source loader_kernel_source() writes beside it.  args are clang's
 * with the flags, n of them, and room for 8 more.
 */
static int build_kernel_mode(const char *src, const char *out, char **args, int n)
{
	char dir[PATH_MAX], kout[PATH_MAX + 16], ksrc[PATH_MAX + 32], abs_src[PATH_MAX];
	const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
	struct loader_error err = { 0 };
	int e;
	FILE *f;

	if (!realpath(src, abs_src)) {
		fprintf(stderr, "fusebpf build: %s: %s\n", src, strerror(errno));
		return 1;
	}
	snprintf(dir, sizeof(dir), "%.*skernel", (int)(base - out), out);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "fusebpf build: making %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (snprintf(kout, sizeof(kout), "%s/%s", dir, base) >= (int)sizeof(kout) ||
	    snprintf(ksrc, sizeof(ksrc), "%s.kern.c", kout) >= (int)sizeof(ksrc)) {
		fprintf(stderr, "fusebpf build: %s: name too long\n", out);
		return 1;
	}
	f = fopen(ksrc, "we");
	if (!f) {
		fprintf(stderr, "fusebpf build: %s: %s\n", ksrc, strerror(errno));
		return 1;
	}
	e = loader_kernel_source(abs_src, out, f, &err);
	if (fclose(f) && !e)
		e = -errno;
	if (e) {
		fprintf(stderr, "fusebpf build: %s\n", err.msg[0] ? err.msg : strerror(-e));
		unlink(ksrc);
		return 1;
	}
	args[n++] = "-DFUSEBPF_FLAVOR_KERNEL";
	args[n++] = "-c";
	args[n++] = ksrc;
	args[n++] = "-o";
	args[n++] = kout;
	args[n] = NULL;
	e = run_clang(args);
	unlink(ksrc);
	return e;
}

/*
 * build FILE.c [-o OUT] [CLANG_ARG...]: compiles a policy outside this tree
 * with the flags bpf/ is built with and the headers installed beside this
 * program (PREFIX/include for PREFIX/sbin/fusebpf), found from the
 * program's own path, so that a staged install (DESTDIR) or a moved prefix
 * builds with its own headers and never with another install's.  Both
 * builds: OUT for the daemon, kernel/OUT for fusebpf.ko.
 */
static int cmd_build(int argc, char **argv)
{
	const char *clang = getenv("CLANG") ?: "clang", *src, *out = NULL;
	char exe[PATH_MAX], dir[PATH_MAX + 16], include[PATH_MAX], header[PATH_MAX + 48];
	char obj[PATH_MAX], flags[] = FUSEBPF_BPF_FLAGS, *save = NULL, *slash;
	char *args[argc + 32], *kargs[argc + 32];
	int n = 0;
	size_t len;
	ssize_t got;

	if (argc < 1 || argv[0][0] == '-') {
		fprintf(stderr, "usage: fusebpf build FILE.c [-o OUT] [CLANG_ARG...]\n");
		return 2;
	}
	src = argv[0];
	got = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (got <= 0) {
		fprintf(stderr, "fusebpf build: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	exe[got] = '\0';
	slash = strrchr(exe, '/');
	*slash = '\0';
	snprintf(dir, sizeof(dir), "%s/../include", exe);
	snprintf(header, sizeof(header), "%s/fusebpf/policy.bpf.h", dir);
	if (access(header, R_OK) || !realpath(dir, include)) {
		fprintf(stderr, "fusebpf build: no policy headers at %s (make install puts them in "
				"PREFIX/include, beside PREFIX/sbin/fusebpf)\n", header);
		return 1;
	}

	args[n++] = (char *)clang;
	args[n++] = "-I";
	args[n++] = include;
	for (char *f = strtok_r(flags, " ", &save); f && n < 24; f = strtok_r(NULL, " ", &save))
		args[n++] = f;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o")) {
			args[n++] = argv[i];
			continue;
		}
		if (i + 1 == argc) {
			fprintf(stderr, "fusebpf build: -o needs a file name\n");
			return 2;
		}
		out = argv[++i];
	}
	len = strlen(src);
	if (!out) {
		if (len < 3 || strcmp(src + len - 2, ".c") || len >= sizeof(obj)) {
			fprintf(stderr, "fusebpf build: '%s' is not a .c file: give -o OUT\n",
				src);
			return 2;
		}
		memcpy(obj, src, len + 1);
		obj[len - 1] = 'o';
		out = obj;
	}
	memcpy(kargs, args, n * sizeof(*args));
	args[n++] = "-c";
	args[n++] = (char *)src;
	args[n++] = "-o";
	args[n++] = (char *)out;
	args[n] = NULL;
	if (run_clang(args))
		return 1;
	return build_kernel_mode(src, out, kargs, n - 4);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	struct loader_error err = { 0 };
	int e, failed;

	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "load"))
		return cmd_load(argc - 2, argv + 2);
	if (!strcmp(cmd, "list") && argc == 2) {
		e = loader_list(list_one, NULL, &err);
		if (e)
			fprintf(stderr, "fusebpf list: %s\n", err.msg[0] ? err.msg : strerror(-e));
		return e ? 1 : 0;
	}
	if (!strcmp(cmd, "show") && argc == 3) {
		e = loader_show(argv[2], stdout, &err);
		if (e)
			fprintf(stderr, "fusebpf show: policy '%s': %s\n", argv[2],
				e == -ENOENT ? "not loaded" : err.msg[0] ? err.msg : strerror(-e));
		return e ? 1 : 0;
	}
	if (!strcmp(cmd, "unload") && argc == 3) {
		e = loader_unload(argv[2], &err);
		if (e) {
			fprintf(stderr, "fusebpf unload: policy '%s': %s\n", argv[2],
				e == -ENOENT ? "not loaded" : err.msg[0] ? err.msg : strerror(-e));
			return 1;
		}
		daemons_tell("unload", argv[2], &failed);
		printf("policy %s unloaded\n", argv[2]);
		return failed ? 1 : 0;
	}
	if (!strcmp(cmd, "stats") && argc == 3)
		return cmd_stats(argv[2]);
	if (!strcmp(cmd, "media"))
		return cmd_media(argc - 2, argv + 2);
	if (!strcmp(cmd, "build"))
		return cmd_build(argc - 2, argv + 2);
	fprintf(stderr, "fusebpf: unknown command or arguments: '%s' (see fusebpf --help)\n", cmd);
	return 2;
}
