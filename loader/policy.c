// SPDX-License-Identifier: MIT
/*
 * Loading, pinning, listing and removing policies, and opening and running
 * the filters of a pinned one.  See loader.h for the pinned layout.
 */
#define _GNU_SOURCE
#include "loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static const char *const phase_names[] = { [FUSEBPF_PHASE_PRE] = "prefilter",
					   [FUSEBPF_PHASE_POST] = "postfilter" };

bool loader_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= FUSEBPF_POLICY_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_-", name[i]))
			return false;
	return true;
}

bool loader_opcode_filterable(uint32_t opcode)
{
	return opcode < FUSEBPF_OP_MAX && (FUSEBPF_FILTERABLE_OPS & (1ULL << opcode));
}

int loader_filter_parse(const char *prog_name, uint32_t *opcode, uint32_t *phase)
{
	const char *us = strrchr(prog_name, '_');
	size_t oplen;

	if (!us)
		return -EINVAL;
	if (!strcmp(us + 1, phase_names[FUSEBPF_PHASE_PRE]))
		*phase = FUSEBPF_PHASE_PRE;
	else if (!strcmp(us + 1, phase_names[FUSEBPF_PHASE_POST]))
		*phase = FUSEBPF_PHASE_POST;
	else
		return -EINVAL;
	oplen = us - prog_name;
	for (uint32_t op = 0; op < FUSEBPF_OP_MAX; op++) {
		const char *n = fusebpf_opcode_names[op];

		if (n && strlen(n) == oplen && !strncasecmp(n, prog_name, oplen)) {
			*opcode = op;
			return 0;
		}
	}
	return -EINVAL;
}

int loader_bpffs_mount(void)
{
	struct statfs sf;

	if (statfs(LOADER_BPFFS, &sf) == 0 && sf.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", LOADER_BPFFS, "bpf", 0, "mode=0700") < 0)
		return -errno;
	return 0;
}

static int path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int loader_map_path(const char *policy, const char *map, char *buf, size_t size)
{
	return path_fmt(buf, size, LOADER_PIN_ROOT "/%s/maps/%s", policy, map);
}

static int mkdir_exist_ok(const char *path, mode_t mode)
{
	return mkdir(path, mode) < 0 && errno != EEXIST ? -errno : 0;
}

/* Serialises loaders and readers of one policy: an flock'ed file in /run/fusebpf. */
static int policy_lock(const char *name)
{
	char path[128];
	int fd, err;

	err = mkdir_exist_ok(LOADER_RUN_DIR, 0755);
	if (err)
		return err;
	err = path_fmt(path, sizeof(path), LOADER_RUN_DIR "/policy-%s.lock", name);
	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void policy_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* Unlinks the pins in dir, then dir itself. */
static int dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) < 0 && !err)
		err = -errno;
	return err;
}

/* ---- libbpf's messages, kept for the error report ---- */

static __thread struct loader_error *capture;

static int print_capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	size_t used, len, room = sizeof(capture->log) - 1;
	char *text, *tail;

	if (level != LIBBPF_WARN || !capture || vasprintf(&text, fmt, ap) < 0)
		return 0;
	/* Keep the tail: the verifier's last lines say what it refused. */
	len = strlen(text);
	tail = len > room ? text + len - room : text;
	len = strlen(tail);
	used = strlen(capture->log);
	if (used + len > room) {
		size_t drop = used + len - room;

		memmove(capture->log, capture->log + drop, used - drop + 1);
		used -= drop;
	}
	memcpy(capture->log + used, tail, len + 1);
	free(text);
	return 0;
}

static int fail(struct loader_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* ---- the ".fusebpf" section: the policy's name and the ABI it was built with ---- */

static int info_read(const void *obj, size_t size, struct fusebpf_policy_info *info)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int err = -ENOENT;

	elf_version(EV_CURRENT);
	elf = elf_memory((char *)obj, size);
	if (!elf)
		return -ENOEXEC;
	if (elf_getshdrstrndx(elf, &shstrndx)) {
		elf_end(elf);
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (strcmp(name, ".fusebpf"))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || data->d_size != sizeof(*info) || !data->d_buf) {
			err = -EBADMSG;
			break;
		}
		memcpy(info, data->d_buf, sizeof(*info));
		err = 0;
		break;
	}
	elf_end(elf);
	return err;
}

/* Checks what the object says of itself and its programs before the kernel sees it. */
static int object_check(struct bpf_object *obj, const struct fusebpf_policy_info *info,
			const char *override, char name[FUSEBPF_POLICY_NAME_LEN],
			struct loader_error *err)
{
	struct bpf_program *prog;

	if (info->magic != FUSEBPF_POLICY_MAGIC)
		return fail(err, -EBADMSG, "bad .fusebpf section (magic %#x)", info->magic);
	if (info->abi_version != FUSEBPF_ABI_VERSION)
		return fail(err, -EPROTO, "built for filter ABI %u, this loader speaks ABI %u",
			    info->abi_version, FUSEBPF_ABI_VERSION);
	if (info->ctx_size != sizeof(struct fusebpf_ctx))
		return fail(err, -EPROTO,
			    "context size mismatch: built with a %u-byte struct fusebpf_ctx, "
			    "the daemon's is %zu bytes (rebuild against this include/fusebpf/filter.h)",
			    info->ctx_size, sizeof(struct fusebpf_ctx));
	if (info->flags & ~FUSEBPF_POLICY_FLAGS_ALL)
		return fail(err, -EINVAL, "unknown policy flags %#x (this loader knows %#x)",
			    info->flags & ~FUSEBPF_POLICY_FLAGS_ALL, FUSEBPF_POLICY_FLAGS_ALL);
	if (override) {
		if (!loader_name_valid(override))
			return fail(err, -EINVAL,
				    "policy name '%s' is not valid: 1 to %d characters of "
				    "[A-Za-z0-9_-] (bpffs allows no dots)", override, FUSEBPF_POLICY_NAME_LEN - 1);
		snprintf(name, FUSEBPF_POLICY_NAME_LEN, "%s", override);
	} else {
		if (!memchr(info->name, '\0', sizeof(info->name)))
			return fail(err, -ENAMETOOLONG,
				    "policy name '%.*s...' is too long: at most %d characters",
				    (int)sizeof(info->name), info->name,
				    FUSEBPF_POLICY_NAME_LEN - 1);
		if (!loader_name_valid(info->name))
			return fail(err, -EINVAL,
				    "policy name '%s' is not valid: 1 to %d characters of "
				    "[A-Za-z0-9_-] (bpffs allows no dots)", info->name, FUSEBPF_POLICY_NAME_LEN - 1);
		memcpy(name, info->name, FUSEBPF_POLICY_NAME_LEN);
	}

	bpf_object__for_each_program(prog, obj) {
		const char *pname = bpf_program__name(prog);
		enum bpf_prog_type type = bpf_program__type(prog);
		uint32_t op, phase;

		if (loader_filter_parse(pname, &op, &phase))
			return fail(err, -EINVAL,
				    "program '%s' is not a filter: names are <opcode>_prefilter or "
				    "<opcode>_postfilter with a FUSE opcode (lookup_prefilter, "
				    "readdir_postfilter, ...)", pname);
		if (!loader_opcode_filterable(op))
			return fail(err, -EINVAL, "program '%s': %s requests cannot be filtered",
				    pname, fusebpf_opcode_names[op]);
		if (type != BPF_PROG_TYPE_SYSCALL && type != BPF_PROG_TYPE_XDP)
			return fail(err, -EINVAL,
				    "program '%s' is in section '%s': filters are SEC(\"syscall\") "
				    "(or SEC(\"xdp\") with FUSEBPF_FLAVOR_XDP)", pname,
				    bpf_program__section_name(prog));
	}
	return 0;
}

/* Pins the maps of the object in maps/, reusing compatible pinned ones. */
static int maps_pin_paths(struct bpf_object *obj, const char *name, struct loader_error *err)
{
	struct bpf_map *map;
	char path[256];

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue; /* .rodata, .bss: the object's own globals */
		if (loader_map_path(name, bpf_map__name(map), path, sizeof(path)))
			return fail(err, -ENAMETOOLONG, "map name '%s' too long", bpf_map__name(map));
		if (bpf_map__set_pin_path(map, path))
			return fail(err, -ENOMEM, "map '%s': cannot set its pin path",
				    bpf_map__name(map));
	}
	return 0;
}

/* The pin, next to the filters, that keeps what the daemon needs of the policy info. */
#define INFO_PIN "policy_info"

static int info_pin(const char *path, const struct fusebpf_policy_info *info)
{
	uint32_t key = 0;
	int fd, e = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "fusebpf_info", sizeof(key), sizeof(*info), 1,
			    NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &key, info, 0) < 0 || bpf_obj_pin(fd, path) < 0)
		e = -errno;
	close(fd);
	return e;
}

static int info_get(const char *path, struct fusebpf_policy_info *info)
{
	uint32_t key = 0;
	int fd = bpf_obj_get(path), e = 0;

	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &key, info) < 0)
		e = -errno;
	close(fd);
	return e;
}

/*
 * Pins the programs and the policy info in a fresh directory and exchanges
 * it with progs/, so that readers see the old set or the new one.  Policy
 * lock held.
 */
static int progs_pin_swap(struct bpf_object *obj, const char *dir,
			  const struct fusebpf_policy_info *info, struct loader_error *err)
{
	char fresh[256], cur[256], path[320];
	struct bpf_program *prog;
	int e;

	if (path_fmt(fresh, sizeof(fresh), "%s/progs_new", dir) ||
	    path_fmt(cur, sizeof(cur), "%s/progs", dir))
		return fail(err, -ENAMETOOLONG, "path too long");
	dir_remove(fresh); /* left by a loader that died */
	if (mkdir(fresh, 0700) < 0)
		return fail(err, -errno, "mkdir %s: %s", fresh, strerror(errno));
	bpf_object__for_each_program(prog, obj) {
		if (path_fmt(path, sizeof(path), "%s/%s", fresh, bpf_program__name(prog)))
			e = -ENAMETOOLONG;
		else
			e = bpf_program__pin(prog, path);
		if (e) {
			dir_remove(fresh);
			return fail(err, e, "pinning program '%s': %s", bpf_program__name(prog),
				    strerror(-e));
		}
	}
	path_fmt(path, sizeof(path), "%s/" INFO_PIN, fresh);
	e = info_pin(path, info);
	if (e) {
		dir_remove(fresh);
		return fail(err, e, "pinning the policy info: %s", strerror(-e));
	}
	if (renameat2(AT_FDCWD, fresh, AT_FDCWD, cur, RENAME_EXCHANGE) == 0) {
		/* The new version is in place: what is left of the old one is litter. */
		e = dir_remove(fresh);
		if (e)
			fprintf(stderr, "fusebpf: removing the old version in %s: %s\n", fresh,
				strerror(-e));
		return 0;
	}
	if (errno == ENOENT && rename(fresh, cur) == 0)
		return 0; /* the first version */
	e = -errno;
	dir_remove(fresh);
	return fail(err, e, "installing %s: %s", cur, strerror(-e));
}

/* Whether the policy in dir has a version in force (a progs/ directory). */
static bool policy_installed(const char *dir)
{
	char progs[192];
	struct stat st;

	return !path_fmt(progs, sizeof(progs), "%s/progs", dir) && stat(progs, &st) == 0;
}

static int load_object(struct bpf_object *obj, const void *buf, size_t size, const char *override,
		       char loaded_name[FUSEBPF_POLICY_NAME_LEN], struct loader_error *err)
{
	struct fusebpf_policy_info info;
	char name[FUSEBPF_POLICY_NAME_LEN], dir[128], sub[160];
	int e, lock = -1;

	e = info_read(buf, size, &info);
	if (e)
		return fail(err, e == -ENOENT ? -EINVAL : e,
			    "not a fusebpf policy: no .fusebpf section (FUSEBPF_POLICY(\"name\") "
			    "declares one)");
	e = object_check(obj, &info, override, name, err);
	if (e)
		return e;
	e = loader_bpffs_mount();
	if (e)
		return fail(err, e, "mounting bpffs on " LOADER_BPFFS ": %s", strerror(-e));
	path_fmt(dir, sizeof(dir), LOADER_PIN_ROOT "/%s", name);
	path_fmt(sub, sizeof(sub), "%s/maps", dir);
	if ((e = mkdir_exist_ok(LOADER_PIN_ROOT, 0700)) || (e = mkdir_exist_ok(dir, 0700)) ||
	    (e = mkdir_exist_ok(sub, 0700)))
		return fail(err, e, "creating %s: %s", sub, strerror(-e));
	e = maps_pin_paths(obj, name, err);
	if (e)
		return e;

	lock = policy_lock(name);
	if (lock < 0)
		return fail(err, lock, "locking policy '%s': %s", name, strerror(-lock));
	e = bpf_object__load(obj);
	if (e) {
		const char *p = err->log, *q;
		char prog[64] = "?";

		/* libbpf's last words name the program: "prog 'X': failed to load". */
		while ((q = strstr(p, "prog '")))
			p = q + 6;
		if (p != err->log)
			sscanf(p, "%63[^']", prog);
		if (strstr(err->log, "END PROG LOAD LOG"))
			fail(err, e, "the kernel's verifier refused program '%s' of policy '%s'",
			     prog, name);
		else
			fail(err, e, "loading policy '%s': %s", name, strerror(-e));
		goto out;
	}
	memcpy(info.name, name, sizeof(info.name));
	e = progs_pin_swap(obj, dir, &info, err);
	if (!e) {
		memcpy(loaded_name, name, FUSEBPF_POLICY_NAME_LEN);
		err->msg[0] = '\0';
	}
out:
	if (e && !policy_installed(dir)) {
		/* A first load that failed leaves nothing (libbpf unpinned its maps). */
		rmdir(sub);
		rmdir(dir);
	}
	policy_unlock(lock);
	return e;
}

static int load_common(const void *buf, size_t size, const char *obj_name, const char *override,
		       char loaded_name[FUSEBPF_POLICY_NAME_LEN], struct loader_error *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = obj_name);
	libbpf_print_fn_t old_print;
	struct bpf_object *obj;
	int e;

	memset(err, 0, sizeof(*err));
	capture = err;
	old_print = libbpf_set_print(print_capture);
	obj = bpf_object__open_mem(buf, size, &opts);
	if (!obj) {
		e = -errno;
		fail(err, e, "%s is not a BPF object libbpf can open: %s", obj_name, strerror(-e));
	} else {
		e = load_object(obj, buf, size, override, loaded_name, err);
		bpf_object__close(obj);
	}
	libbpf_set_print(old_print);
	capture = NULL;
	return e;
}

int loader_load_mem(const void *obj, size_t size, const char *obj_name, const char *name,
		    char loaded_name[FUSEBPF_POLICY_NAME_LEN], struct loader_error *err)
{
	return load_common(obj, size, obj_name, name, loaded_name, err);
}

int loader_load_file(const char *path, const char *name, char loaded_name[FUSEBPF_POLICY_NAME_LEN],
		     struct loader_error *err)
{
	struct stat st;
	char *buf = NULL, objname[64];
	const char *base = strrchr(path, '/');
	ssize_t n;
	int fd, e;

	memset(err, 0, sizeof(*err));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, -EINVAL, "%s: not a regular file", path);
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	n = buf ? pread(fd, buf, st.st_size, 0) : -1;
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return fail(err, -EIO, "%s: cannot read it", path);
	}
	snprintf(objname, sizeof(objname), "%s", base ? base + 1 : path);
	e = load_common(buf, st.st_size, objname, name, loaded_name, err);
	free(buf);
	return e;
}

int loader_unload(const char *name)
{
	char dir[128], sub[160];
	int lock, e;
	struct stat st;

	if (!loader_name_valid(name))
		return -EINVAL;
	path_fmt(dir, sizeof(dir), LOADER_PIN_ROOT "/%s", name);
	if (stat(dir, &st) < 0)
		return -errno;
	lock = policy_lock(name);
	if (lock < 0)
		return lock;
	path_fmt(sub, sizeof(sub), "%s/progs", dir);
	e = dir_remove(sub);
	path_fmt(sub, sizeof(sub), "%s/progs_new", dir);
	dir_remove(sub);
	path_fmt(sub, sizeof(sub), "%s/maps", dir);
	if (!e)
		e = dir_remove(sub);
	if (!e && rmdir(dir) < 0)
		e = -errno;
	if (!e) {
		/* The lock file goes too; a loader that waited on it works on a new one. */
		path_fmt(sub, sizeof(sub), LOADER_RUN_DIR "/policy-%s.lock", name);
		unlink(sub);
	}
	policy_unlock(lock);
	return e;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int loader_list(int (*fn)(const char *name, void *arg), void *arg)
{
	DIR *d = opendir(LOADER_PIN_ROOT);
	struct dirent *e;
	char *names[256];
	size_t n = 0;
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
		char dir[160];

		if (e->d_name[0] == '.' || !loader_name_valid(e->d_name))
			continue;
		path_fmt(dir, sizeof(dir), LOADER_PIN_ROOT "/%s", e->d_name);
		if (policy_installed(dir))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!err && names[i])
			err = fn(names[i], arg);
		free(names[i]);
	}
	return err;
}

/* ---- the daemon's side: open and run ---- */

int loader_filters_open(const char *name, struct loader_filters *out)
{
	struct fusebpf_policy_info info;
	char dir[160], path[320];
	struct dirent *e;
	DIR *d;
	int lock, err = 0;

	memset(out, 0, sizeof(*out));
	for (int op = 0; op < FUSEBPF_OP_MAX; op++)
		out->fd[op][0] = out->fd[op][1] = -1;
	if (!loader_name_valid(name))
		return -EINVAL;
	snprintf(out->name, sizeof(out->name), "%s", name);
	lock = policy_lock(name);
	if (lock < 0)
		return lock;
	path_fmt(dir, sizeof(dir), LOADER_PIN_ROOT "/%s/progs", name);
	path_fmt(path, sizeof(path), "%s/" INFO_PIN, dir);
	err = info_get(path, &info);
	if (err)
		goto out;
	out->flags = info.flags;
	d = opendir(dir);
	if (!d) {
		err = -errno;
		goto out;
	}
	while (!err && (e = readdir(d))) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info), op, phase;
		int fd;

		if (loader_filter_parse(e->d_name, &op, &phase) || !loader_opcode_filterable(op))
			continue;
		path_fmt(path, sizeof(path), "%s/%s", dir, e->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = -errno;
			break;
		}
		if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 ||
		    (info.type != BPF_PROG_TYPE_SYSCALL && info.type != BPF_PROG_TYPE_XDP)) {
			close(fd);
			err = -EINVAL;
			break;
		}
		out->fd[op][phase - 1] = fd;
		out->flavor[op][phase - 1] = info.type == BPF_PROG_TYPE_SYSCALL ?
						     LOADER_FLAVOR_SYSCALL :
						     LOADER_FLAVOR_XDP;
	}
	closedir(d);
out:
	policy_unlock(lock);
	if (err)
		loader_filters_close(out);
	return err;
}

void loader_filters_close(struct loader_filters *f)
{
	for (int op = 0; op < FUSEBPF_OP_MAX; op++) {
		for (int ph = 0; ph < 2; ph++) {
			if (f->fd[op][ph] >= 0)
				close(f->fd[op][ph]);
			f->fd[op][ph] = -1;
			f->flavor[op][ph] = LOADER_FLAVOR_NONE;
		}
	}
}

int loader_filter_run(int fd, enum loader_flavor flavor, struct fusebpf_ctx *ctx, int *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (flavor == LOADER_FLAVOR_SYSCALL) {
		opts.ctx_in = ctx;
		opts.ctx_size_in = sizeof(*ctx);
	} else {
		opts.data_in = ctx;
		opts.data_size_in = sizeof(*ctx);
		opts.data_out = ctx;
		opts.data_size_out = sizeof(*ctx);
	}
	if (bpf_prog_test_run_opts(fd, &opts) < 0)
		return -errno;
	*ret = (int)opts.retval;
	return 0;
}

/* ---- show ---- */

static const char *map_type_name(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH: return "hash";
	case BPF_MAP_TYPE_ARRAY: return "array";
	case BPF_MAP_TYPE_PERCPU_HASH: return "percpu_hash";
	case BPF_MAP_TYPE_PERCPU_ARRAY: return "percpu_array";
	case BPF_MAP_TYPE_LRU_HASH: return "lru_hash";
	case BPF_MAP_TYPE_LPM_TRIE: return "lpm_trie";
	case BPF_MAP_TYPE_RINGBUF: return "ringbuf";
	default: return "other";
	}
}

int loader_show(const char *name, FILE *out)
{
	struct loader_filters f;
	char dir[160], path[320];
	struct dirent *e;
	DIR *d;
	int err;

	err = loader_filters_open(name, &f);
	if (err)
		return err;
	fprintf(out, "policy %s%s\n", name,
		f.flags & FUSEBPF_POLICY_PER_CALLER ? " (per caller: no kernel caching)" : "");
	fprintf(out, "  filters (%s/%s/progs):\n", LOADER_PIN_ROOT, name);
	for (int op = 0; op < FUSEBPF_OP_MAX; op++) {
		for (int ph = 0; ph < 2; ph++) {
			struct bpf_prog_info info = {};
			uint32_t len = sizeof(info);

			if (f.fd[op][ph] < 0)
				continue;
			bpf_obj_get_info_by_fd(f.fd[op][ph], &info, &len);
			fprintf(out, "    %-12s %-10s %-7s prog id %u\n", fusebpf_opcode_names[op],
				phase_names[ph + 1],
				f.flavor[op][ph] == LOADER_FLAVOR_SYSCALL ? "syscall" : "xdp",
				info.id);
		}
	}
	loader_filters_close(&f);

	path_fmt(dir, sizeof(dir), LOADER_PIN_ROOT "/%s/maps", name);
	fprintf(out, "  maps (%s):\n", dir);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);
		int fd;

		if (e->d_name[0] == '.')
			continue;
		path_fmt(path, sizeof(path), "%s/%s", dir, e->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
			fprintf(out, "    %-20s %-12s key %u value %u max_entries %u id %u\n",
				e->d_name, map_type_name(info.type), info.key_size,
				info.value_size, info.max_entries, info.id);
		close(fd);
	}
	closedir(d);
	return 0;
}
