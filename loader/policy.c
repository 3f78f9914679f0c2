// SPDX-License-Identifier: MIT
/*
 * Loading, pinning, listing and removing policies, and opening and running
 * the filters of a pinned one.  See loader.h for the pinned layout.
 */
#define _GNU_SOURCE
#include "loader.h"

#include <fusebpf/kernel.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
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

/* Fills err (which may be NULL) with the message; returns code. */
static int fail(struct loader_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int loader_map_path(const char *policy, const char *map, char *buf, size_t size)
{
	return path_fmt(buf, size, LOADER_PIN_ROOT "/%s/maps/%s", policy, map);
}

/* ---- the directories the loader and the daemon trust ---- */

/*
 * Opens the directory name in at without following a symlink, and checks
 * that nobody but root can change what is in it: owned by uid 0, writable
 * by neither group nor others.  A pin directory another user can write is
 * one where they can put filters or maps of their own for a daemon running
 * as root to run, or make a lock file a symlink to one of root's files, so
 * it is refused rather than used.  The checks are made on the opened
 * directory, and what is in it is used through the fd (or /proc/self/fd/N
 * paths where libbpf wants a path), so a rename between the check and the
 * use changes nothing.  sticky_ok allows the world-writable sticky mode
 * (1777) that the root of a bpffs mount has by default: others may add
 * names there but not remove or rename root's.  shown names the directory
 * in the message.  An fd, or -errno with err saying why (-EPERM: refused).
 */
static int dir_open_trusted(int at, const char *name, const char *shown, bool sticky_ok,
			    struct loader_error *err)
{
	struct stat st;
	int fd, e;

	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		if (e == -ELOOP || e == -ENOTDIR)
			return fail(err, -EPERM, "%s: a symlink or not a directory; refusing it",
				    shown);
		return fail(err, e, "%s: %s", shown, strerror(-e));
	}
	if (fstat(fd, &st) < 0) {
		e = -errno;
		close(fd);
		return fail(err, e, "%s: %s", shown, strerror(-e));
	}
	if (st.st_uid != 0) {
		close(fd);
		return fail(err, -EPERM, "%s: owned by uid %u, not root; refusing it", shown,
			    (unsigned)st.st_uid);
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(sticky_ok && (st.st_mode & S_ISVTX))) {
		close(fd);
		return fail(err, -EPERM, "%s: writable by %s (mode %04o); refusing it", shown,
			    (st.st_mode & S_IWGRP) && (st.st_mode & S_IWOTH) ? "group and others" :
			    st.st_mode & S_IWGRP ? "group" : "others",
			    (unsigned)(st.st_mode & 07777));
	}
	return fd;
}

int loader_dir_trusted(int at, const char *name, const char *shown, struct loader_error *err)
{
	return dir_open_trusted(at, name, shown, false, err);
}

/* dir_open_trusted, after making the directory (0700) if create and it is missing. */
static int subdir_open(int at, const char *name, const char *shown, bool create,
		       struct loader_error *err)
{
	if (create && mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return fail(err, -errno, "creating %s: %s", shown, strerror(errno));
	return dir_open_trusted(at, name, shown, false, err);
}

/*
 * Opens LOADER_PIN_ROOT (name NULL) or a policy's directory in it, having
 * checked each directory from the bpffs mount down (dir_open_trusted);
 * with create, makes the missing ones.  An fd, or -errno with err saying
 * why (-ENOENT: not there).
 */
static int pin_dir_open(const char *name, bool create, struct loader_error *err)
{
	char shown[128];
	int bpffs, root, dir;

	bpffs = dir_open_trusted(AT_FDCWD, LOADER_BPFFS, LOADER_BPFFS, true, err);
	if (bpffs < 0)
		return bpffs;
	/* LOADER_PIN_ROOT less "LOADER_BPFFS/": "fusebpf". */
	root = subdir_open(bpffs, LOADER_PIN_ROOT + sizeof(LOADER_BPFFS), LOADER_PIN_ROOT, create,
			   err);
	close(bpffs);
	if (root < 0 || !name)
		return root;
	if (path_fmt(shown, sizeof(shown), LOADER_PIN_ROOT "/%s", name)) {
		close(root);
		return fail(err, -ENAMETOOLONG, "policy name '%s' too long", name);
	}
	dir = subdir_open(root, name, shown, create, err);
	close(root);
	return dir;
}

/* Opens the subdirectory sub ("maps", "progs") of policy name's directory dir; checked. */
static int policy_subdir_open(int dir, const char *name, const char *sub, bool create,
			      struct loader_error *err)
{
	char shown[160];

	path_fmt(shown, sizeof(shown), LOADER_PIN_ROOT "/%s/%s", name, sub);
	return subdir_open(dir, sub, shown, create, err);
}

/* Checks the subdirectories of a policy's directory dir that are there; 0 or -errno. */
static int policy_subdirs_check(int dir, const char *name, struct loader_error *err)
{
	static const char *const subs[] = { "maps", "progs", "progs_new" };

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		int fd = policy_subdir_open(dir, name, subs[i], false, err);

		if (fd < 0 && fd != -ENOENT)
			return fd;
		if (fd >= 0)
			close(fd);
	}
	if (err)
		err->msg[0] = '\0';
	return 0;
}

/* The path by which libbpf and bpf_obj_get() reach name in the directory open as dirfd. */
static int fd_path(char *buf, size_t size, int dirfd, const char *name)
{
	return path_fmt(buf, size, "/proc/self/fd/%d/%s", dirfd, name);
}

/*
 * Serialises loaders and readers of one policy: an flock'ed file in
 * /run/fusebpf, which must be root's alone too (a lock file there that is
 * a symlink would have root create or lock whatever it points at).
 */
static int policy_lock(const char *name, struct loader_error *err)
{
	char file[64];
	int dir, fd, e;

	if (mkdir(LOADER_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return fail(err, -errno, "creating " LOADER_RUN_DIR ": %s", strerror(errno));
	dir = dir_open_trusted(AT_FDCWD, LOADER_RUN_DIR, LOADER_RUN_DIR, false, err);
	if (dir < 0)
		return dir;
	path_fmt(file, sizeof(file), "policy-%s.lock", name);
	fd = openat(dir, file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	e = -errno;
	close(dir);
	if (fd < 0)
		return fail(err, e, "locking policy '%s': " LOADER_RUN_DIR "/%s: %s", name, file,
			    strerror(-e));
	if (flock(fd, LOCK_EX) < 0) {
		e = -errno;
		close(fd);
		return fail(err, e, "locking policy '%s': %s", name, strerror(-e));
	}
	return fd;
}

static void policy_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* Unlinks the pins in the directory name of at, then the directory itself. */
static int dir_remove(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;
	int err = 0;
	DIR *d;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && !err)
			err = -errno;
	}
	closedir(d);
	if (unlinkat(at, name, AT_REMOVEDIR) < 0 && !err)
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

/*
 * Pins the maps of the object in maps/ (open as the fd maps while the
 * object loads), reusing compatible pinned ones.
 */
static int maps_pin_paths(struct bpf_object *obj, int maps, struct loader_error *err)
{
	struct bpf_map *map;
	char path[256];

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue; /* .rodata, .bss: the object's own globals */
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			continue; /* kernel mode's ops: new with each version, held by its link */
		if (fd_path(path, sizeof(path), maps, bpf_map__name(map)))
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

/*
 * Reads the policy info pinned at path, and which load pinned it: the id of
 * its map, which every load makes anew.  The map stays open as *fd, so that
 * the kernel gives its id to no other map while the caller holds it.
 */
static int info_get(const char *path, struct fusebpf_policy_info *info, int *fd, uint32_t *id)
{
	struct bpf_map_info minfo = {};
	uint32_t key = 0, len = sizeof(minfo);
	int e = 0;

	*fd = bpf_obj_get(path);
	if (*fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(*fd, &key, info) < 0 ||
	    bpf_obj_get_info_by_fd(*fd, &minfo, &len) < 0)
		e = -errno;
	if (e) {
		close(*fd);
		*fd = -1;
		return e;
	}
	*id = minfo.id;
	return 0;
}

/*
 * Pins the programs and the policy info in a fresh directory and exchanges
 * it with progs/, so that readers see the old set or the new one.  Policy
 * lock held.
 */
static int progs_pin_swap(struct bpf_object *obj, int dir, const char *name,
			  const struct fusebpf_policy_info *info, struct loader_error *err)
{
	char path[320];
	struct bpf_program *prog;
	int fresh, e;

	dir_remove(dir, "progs_new"); /* left by a loader that died */
	fresh = policy_subdir_open(dir, name, "progs_new", true, err);
	if (fresh < 0)
		return fresh;
	bpf_object__for_each_program(prog, obj) {
		if (fd_path(path, sizeof(path), fresh, bpf_program__name(prog)))
			e = -ENAMETOOLONG;
		else
			e = bpf_program__pin(prog, path);
		if (e) {
			fail(err, e, "pinning program '%s': %s", bpf_program__name(prog),
			     strerror(-e));
			goto out_remove;
		}
	}
	fd_path(path, sizeof(path), fresh, INFO_PIN);
	e = info_pin(path, info);
	if (e) {
		fail(err, e, "pinning the policy info: %s", strerror(-e));
		goto out_remove;
	}
	close(fresh);
	if (renameat2(dir, "progs_new", dir, "progs", RENAME_EXCHANGE) == 0) {
		/* The new version is in place: what is left of the old one is litter. */
		e = dir_remove(dir, "progs_new");
		if (e)
			fprintf(stderr, "fusebpf: removing the old version in %s/%s/progs_new: %s\n",
				LOADER_PIN_ROOT, name, strerror(-e));
		return 0;
	}
	if (errno == ENOENT && renameat(dir, "progs_new", dir, "progs") == 0)
		return 0; /* the first version */
	e = -errno;
	dir_remove(dir, "progs_new");
	return fail(err, e, "installing %s/%s/progs: %s", LOADER_PIN_ROOT, name, strerror(-e));
out_remove:
	close(fresh);
	dir_remove(dir, "progs_new");
	return e;
}

/* ---- kernel mode: the policy as a struct_ops map of fusebpf.ko ---- */

bool loader_kernel_present(void)
{
	return access(LOADER_KERNEL_BTF, F_OK) == 0;
}

/* What Debian 12's <linux/bpf.h> (Linux 6.1) lacks of Linux 6.4's struct_ops links. */
#define ATTACH_STRUCT_OPS 44 /* enum bpf_attach_type: BPF_STRUCT_OPS */
union link_info {
	struct bpf_link_info info;
	struct {
		uint32_t type, id, prog_id, padding;
		uint32_t map_id; /* info.struct_ops.map_id */
	} struct_ops;
};

/* The members of struct fusebpf_ops that hold filters. */
#define KERNEL_MEMBER_(member, op) { #member, op, __builtin_offsetof(struct fusebpf_ops, member) },
static const struct kernel_member {
	const char *name;
	uint32_t opcode;
	size_t offset;
} kernel_members[] = { FUSEBPF_KERNEL_OPS(KERNEL_MEMBER_) };
#undef KERNEL_MEMBER_
#define KERNEL_MEMBERS (sizeof(kernel_members) / sizeof(kernel_members[0]))

/* The member a kernel-mode program is ("fusebpf_lookup": lookup), or -1. */
static int kernel_member_find(const char *prog_name)
{
	static const char prefix[] = "fusebpf_";

	if (strncmp(prog_name, prefix, sizeof(prefix) - 1))
		return -1;
	for (size_t i = 0; i < KERNEL_MEMBERS; i++)
		if (!strcmp(prog_name + sizeof(prefix) - 1, kernel_members[i].name))
			return i;
	return -1;
}

static struct bpf_map *kernel_ops_map(struct bpf_object *kobj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, kobj)
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			return map;
	return NULL;
}

/*
 * Checks that the kernel-mode build kobj (named kname, whose policy info
 * is kinfo) is the build of the same policy as the daemon-mode obj (info):
 * the same policy info, one struct_ops map, and a member program
 * (fusebpf_<opcode>) for exactly the opcodes obj has filters of.
 */
static int kernel_object_check(struct bpf_object *obj, const struct fusebpf_policy_info *info,
			       struct bpf_object *kobj, const char *kname,
			       const struct fusebpf_policy_info *kinfo, struct loader_error *err)
{
	bool filtered[KERNEL_MEMBERS] = { false }, member[KERNEL_MEMBERS] = { false };
	struct bpf_program *prog;
	struct bpf_map *map;
	int maps = 0;

	if (memcmp(kinfo, info, sizeof(*info)))
		return fail(err, -EINVAL,
			    "%s is not the kernel-mode build of this policy (its .fusebpf section "
			    "differs): rebuild both", kname);
	bpf_object__for_each_map(map, kobj)
		maps += bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS;
	if (maps != 1)
		return fail(err, -EINVAL,
			    "%s has %d struct_ops maps: a kernel-mode build has one, of struct "
			    "fusebpf_ops", kname, maps);
	bpf_object__for_each_program(prog, obj) {
		uint32_t op, phase;

		loader_filter_parse(bpf_program__name(prog), &op, &phase);
		for (size_t i = 0; i < KERNEL_MEMBERS; i++)
			filtered[i] |= kernel_members[i].opcode == op;
	}
	bpf_object__for_each_program(prog, kobj) {
		int i = kernel_member_find(bpf_program__name(prog));

		if (i < 0 || bpf_program__type(prog) != BPF_PROG_TYPE_STRUCT_OPS)
			return fail(err, -EINVAL,
				    "%s: program '%s' is not a member of struct fusebpf_ops "
				    "(fusebpf_<opcode> in a struct_ops section)", kname,
				    bpf_program__name(prog));
		member[i] = true;
	}
	for (size_t i = 0; i < KERNEL_MEMBERS; i++)
		if (filtered[i] != member[i])
			return fail(err, -EINVAL,
				    "%s does not match the daemon-mode build: %s filters of %s; "
				    "rebuild both", kname,
				    filtered[i] ? "only the daemon-mode build has" :
						  "only the kernel-mode build has",
				    kernel_members[i].name);
	return 0;
}

/*
 * The value of the struct_ops map as the module takes it: the kernel's
 * struct bpf_struct_ops_fusebpf_ops, a header of the kernel's own (zero)
 * and, at the offset of its member data that the module's BTF gives, a
 * struct fusebpf_ops (the same header as ours) holding the fd of each
 * member's program, the policy's flags and name.  libbpf makes such a
 * value too, but keeps it for the links it makes; a reload updates the
 * link pinned by an earlier load, so the loader makes its own.  *value
 * is malloc'ed, of the map's value size.
 */
static int kernel_value(struct bpf_object *kobj, struct bpf_map *map, const char *name,
			uint32_t flags, void **value, struct loader_error *err)
{
	struct btf *vmlinux, *module = NULL;
	const struct btf_member *m;
	const struct btf_type *t;
	struct bpf_program *prog;
	struct fusebpf_ops *ops;
	long data = -1;
	int id, e = 0;

	*value = NULL;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return fail(err, -errno, "reading the kernel's BTF: %s", strerror(errno));
	module = btf__parse_split(LOADER_KERNEL_BTF, vmlinux);
	if (!module) {
		e = fail(err, -errno, LOADER_KERNEL_BTF ": %s", strerror(errno));
		goto out;
	}
	id = btf__find_by_name_kind(module, "bpf_struct_ops_fusebpf_ops", BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(module, id) : NULL;
	for (int i = 0; t && i < btf_vlen(t); i++) {
		m = btf_members(t) + i;
		if (!strcmp(btf__name_by_offset(module, m->name_off), "data") &&
		    btf__resolve_size(module, m->type) == sizeof(struct fusebpf_ops))
			data = btf_member_bit_offset(t, i) / 8;
	}
	if (data < 0 || data + sizeof(*ops) > t->size || t->size != bpf_map__value_size(map)) {
		e = fail(err, -EPROTO,
			 "fusebpf.ko's struct fusebpf_ops is not this loader's (" LOADER_KERNEL_BTF
			 "): are the module and the tool of one build?");
		goto out;
	}
	*value = calloc(1, t->size);
	if (!*value) {
		e = fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	ops = (struct fusebpf_ops *)((char *)*value + data);
	bpf_object__for_each_program(prog, kobj) {
		uint64_t fd = bpf_program__fd(prog);

		memcpy((char *)ops + kernel_members[kernel_member_find(bpf_program__name(prog))].offset,
		       &fd, sizeof(fd));
	}
	ops->flags = flags;
	memcpy(ops->name, name, sizeof(ops->name));
out:
	btf__free(module);
	btf__free(vmlinux);
	return e;
}

/*
 * Registers the loaded kernel-mode build with fusebpf.ko: its map is given
 * its value, then replaces the version the link pinned as NAME/kernel_link
 * holds (the module swaps them in place: no request finds no policy), or,
 * on a first load, gets a link of its own, which is pinned there.  Policy
 * lock held.
 */
static int kernel_attach(struct bpf_object *kobj, int dir, const char *name, uint32_t flags,
			 struct loader_error *err)
{
	struct bpf_map *map = kernel_ops_map(kobj);
	uint32_t zero = 0;
	char path[320];
	void *value;
	int e, link;

	e = kernel_value(kobj, map, name, flags, &value, err);
	if (e)
		return e;
	if (bpf_map_update_elem(bpf_map__fd(map), &zero, value, 0) < 0) {
		e = fail(err, -errno, "fusebpf.ko refused policy '%s': %s (its kernel log may say why)",
			 name, strerror(errno));
		goto out;
	}
	fd_path(path, sizeof(path), dir, LOADER_KERNEL_LINK);
	link = bpf_obj_get(path);
	if (link >= 0) {
		if (bpf_link_update(link, bpf_map__fd(map), NULL) < 0)
			e = fail(err, -errno, "replacing policy '%s' in fusebpf.ko: %s", name,
				 strerror(errno));
		close(link);
		goto out;
	}
	if (errno != ENOENT) {
		e = fail(err, -errno, "%s/%s/" LOADER_KERNEL_LINK ": %s", LOADER_PIN_ROOT, name,
			 strerror(errno));
		goto out;
	}
	link = bpf_link_create(bpf_map__fd(map), 0, ATTACH_STRUCT_OPS, NULL);
	if (link < 0) {
		e = -errno;
		if (e == -EEXIST)
			fail(err, e, "fusebpf.ko has a policy '%s' already, which no %s/%s/"
				     LOADER_KERNEL_LINK " holds: not one this tool loaded",
			     name, LOADER_PIN_ROOT, name);
		else
			fail(err, e, "registering policy '%s' with fusebpf.ko: %s", name,
			     strerror(-e));
		goto out;
	}
	if (bpf_obj_pin(link, path) < 0)
		e = fail(err, -errno, "pinning %s/%s/" LOADER_KERNEL_LINK ": %s", LOADER_PIN_ROOT,
			 name, strerror(errno));
	close(link); /* the pin holds it now; without one, this unregisters it */
out:
	free(value);
	return e;
}

/*
 * Unregisters the policy whose directory is open as dir from fusebpf.ko:
 * detaches its link and removes the pin.  0 if it has none.
 */
static int kernel_detach(int dir, const char *name, struct loader_error *err)
{
	char path[320];
	int link;

	fd_path(path, sizeof(path), dir, LOADER_KERNEL_LINK);
	link = bpf_obj_get(path);
	if (link < 0)
		return errno == ENOENT ? 0 :
					 fail(err, -errno, "%s/%s/" LOADER_KERNEL_LINK ": %s",
					      LOADER_PIN_ROOT, name, strerror(errno));
	/* Now, rather than when the last holder of the link lets it go. */
	bpf_link_detach(link);
	close(link);
	if (unlinkat(dir, LOADER_KERNEL_LINK, 0) < 0)
		return fail(err, -errno, "removing %s/%s/" LOADER_KERNEL_LINK ": %s",
			    LOADER_PIN_ROOT, name, strerror(errno));
	return 0;
}

/*
 * How many inodes of fusebpf.ko's mounts hold the policy; 0 where the
 * module or the policy is not there.
 */
static unsigned long kernel_users(const char *name)
{
	char line[64], policy[32];
	unsigned long users;
	FILE *f;

	f = fopen(LOADER_KERNEL_POLICIES, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%31s %lu", policy, &users) == 2 && !strcmp(policy, name)) {
			fclose(f);
			return users;
		}
	}
	fclose(f);
	return 0;
}

/* Prints the policy's registration with fusebpf.ko, if it has one. */
static void kernel_show(const char *name, FILE *out)
{
	union link_info li;
	uint32_t len = sizeof(li.info);
	char path[320];
	int dir, link;

	dir = pin_dir_open(name, false, NULL);
	if (dir < 0)
		return;
	fd_path(path, sizeof(path), dir, LOADER_KERNEL_LINK);
	link = bpf_obj_get(path);
	close(dir);
	if (link < 0)
		return;
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(link, &li.info, &len) == 0)
		fprintf(out, "  kernel (fusebpf.ko): struct_ops map id %u, link id %u (%s/%s/"
			     LOADER_KERNEL_LINK "), held by %lu inodes of its mounts\n",
			li.struct_ops.map_id, li.info.id, LOADER_PIN_ROOT, name, kernel_users(name));
	close(link);
}

/* Whether the policy whose directory is open as dir has a version in force (progs/). */
static bool policy_installed(int dir)
{
	struct stat st;

	return fstatat(dir, "progs", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A load the kernel refused: libbpf's last words name the program ("prog 'X': ..."). */
static int load_refused(struct loader_error *err, int e, const char *name, const char *mode)
{
	const char *p = err->log, *q;
	char prog[64] = "?";

	while ((q = strstr(p, "prog '")))
		p = q + 6;
	if (p != err->log)
		sscanf(p, "%63[^']", prog);
	if (strstr(err->log, "END PROG LOAD LOG"))
		return fail(err, e, "the kernel's verifier refused program '%s' of policy '%s'%s",
			    prog, name, mode);
	return fail(err, e, "loading policy '%s'%s: %s", name, mode, strerror(-e));
}

/* A policy object: its bytes, its name for messages, and libbpf's open of it. */
struct object {
	const void *buf;
	size_t size;
	const char *name;
	struct bpf_object *obj;
};

/*
 * Loads obj and, if kobj->obj, its kernel-mode build, and makes them the
 * policy's version in force: kernel mode first (registered with fusebpf.ko
 * or replacing the version there), then the daemon's filters.  Nothing
 * changes until both are verified.
 */
static int load_object(struct object *obj, struct object *kobj, const char *override,
		       char loaded_name[FUSEBPF_POLICY_NAME_LEN], struct loader_error *err)
{
	struct fusebpf_policy_info info, kinfo;
	char name[FUSEBPF_POLICY_NAME_LEN];
	int e, lock = -1, dir, maps, root;

	e = info_read(obj->buf, obj->size, &info);
	if (e)
		return fail(err, e == -ENOENT ? -EINVAL : e,
			    "not a fusebpf policy: no .fusebpf section (FUSEBPF_POLICY(\"name\") "
			    "declares one)");
	e = object_check(obj->obj, &info, override, name, err);
	if (e)
		return e;
	if (kobj->obj) {
		e = info_read(kobj->buf, kobj->size, &kinfo);
		if (e)
			return fail(err, e == -ENOENT ? -EINVAL : e,
				    "%s: not a kernel-mode policy: no .fusebpf section", kobj->name);
		e = kernel_object_check(obj->obj, &info, kobj->obj, kobj->name, &kinfo, err);
		if (e)
			return e;
	}
	e = loader_bpffs_mount();
	if (e)
		return fail(err, e, "mounting bpffs on " LOADER_BPFFS ": %s", strerror(-e));
	/* Each directory is made if missing, and refused if another user can change it. */
	dir = pin_dir_open(name, true, err);
	if (dir < 0)
		return dir;
	maps = policy_subdir_open(dir, name, "maps", true, err);
	if (maps < 0) {
		close(dir);
		return maps;
	}
	/* Both builds pin their maps in maps/: kernel mode reuses the daemon-mode build's. */
	e = maps_pin_paths(obj->obj, maps, err);
	if (!e && kobj->obj)
		e = maps_pin_paths(kobj->obj, maps, err);
	if (e)
		goto out_close;
	lock = policy_lock(name, err);
	if (lock < 0) {
		e = lock;
		goto out_close;
	}
	/* An old version's progs/ and progs_new/ are the loader's to use too. */
	e = policy_subdirs_check(dir, name, err);
	if (e)
		goto out;
	e = bpf_object__load(obj->obj);
	if (e) {
		load_refused(err, e, name, "");
		goto out;
	}
	if (kobj->obj) {
		e = bpf_object__load(kobj->obj);
		if (e) {
			load_refused(err, e, name, " in kernel mode");
			goto out;
		}
		e = kernel_attach(kobj->obj, dir, name, info.flags, err);
		if (e)
			goto out;
	}
	memcpy(info.name, name, sizeof(info.name));
	e = progs_pin_swap(obj->obj, dir, name, &info, err);
	if (!e) {
		memcpy(loaded_name, name, FUSEBPF_POLICY_NAME_LEN);
		err->msg[0] = '\0';
	}
out:
	if (e && !policy_installed(dir)) {
		/*
		 * A first load that failed leaves nothing: libbpf unpinned the
		 * maps of the build that failed, not those of one that loaded.
		 */
		kernel_detach(dir, name, NULL);
		dir_remove(dir, "maps");
		root = pin_dir_open(NULL, false, NULL);
		if (root >= 0) {
			unlinkat(root, name, AT_REMOVEDIR);
			close(root);
		}
	}
	policy_unlock(lock);
out_close:
	close(maps);
	close(dir);
	return e;
}

/* Opens o with libbpf; 0 or -errno with err saying why. */
static int object_open(struct object *o, struct loader_error *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = o->name);

	o->obj = bpf_object__open_mem(o->buf, o->size, &opts);
	if (!o->obj)
		return fail(err, -errno, "%s is not a BPF object libbpf can open: %s", o->name,
			    strerror(errno));
	return 0;
}

static int load_common(struct object *obj, struct object *kobj, const char *override,
		       char loaded_name[FUSEBPF_POLICY_NAME_LEN], struct loader_error *err)
{
	libbpf_print_fn_t old_print;
	int e;

	memset(err, 0, sizeof(*err));
	/*
	 * libbpf learnt the maps of .struct_ops.link in 1.2, and to find a
	 * struct_ops type in a module's BTF (not vmlinux's) in 1.4.
	 */
	if (kobj->buf && (libbpf_major_version() < 1 ||
			  (libbpf_major_version() == 1 && libbpf_minor_version() < 4)))
		return fail(err, -ENOTSUP,
			    "fusebpf.ko is loaded, and this fusebpf runs libbpf %u.%u, which cannot "
			    "load a policy for it: kernel mode needs 1.4 (scripts/deps.sh installs it)",
			    libbpf_major_version(), libbpf_minor_version());
	capture = err;
	old_print = libbpf_set_print(print_capture);
	e = object_open(obj, err);
	if (!e && kobj->buf)
		e = object_open(kobj, err);
	if (!e)
		e = load_object(obj, kobj, override, loaded_name, err);
	bpf_object__close(kobj->obj);
	bpf_object__close(obj->obj);
	libbpf_set_print(old_print);
	capture = NULL;
	return e;
}

int loader_load_mem(const void *obj, size_t size, const void *kernel_obj, size_t kernel_size,
		    const char *obj_name, const char *name, char loaded_name[FUSEBPF_POLICY_NAME_LEN],
		    struct loader_error *err)
{
	char kname[80];
	struct object o = { obj, size, obj_name, NULL }, k = { NULL, 0, kname, NULL };

	memset(err, 0, sizeof(*err));
	snprintf(kname, sizeof(kname), "%s (kernel mode)", obj_name);
	if (loader_kernel_present()) {
		k.buf = kernel_obj;
		k.size = kernel_size;
		if (!k.buf)
			return fail(err, -ENOENT, "fusebpf.ko is loaded, and policy %s has no "
				    "kernel-mode build", obj_name);
	}
	return load_common(&o, &k, name, loaded_name, err);
}

/* Reads the file path into *buf (malloc'ed); 0 or -errno with err saying why. */
static int file_read(const char *path, void **buf, size_t *size, struct loader_error *err)
{
	struct stat st;
	ssize_t n;
	int fd;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, -EINVAL, "%s: not a regular file", path);
	}
	*buf = malloc(st.st_size ? st.st_size : 1);
	n = *buf ? pread(fd, *buf, st.st_size, 0) : -1;
	close(fd);
	if (n != st.st_size) {
		free(*buf);
		*buf = NULL;
		return fail(err, -EIO, "%s: cannot read it", path);
	}
	*size = st.st_size;
	return 0;
}

int loader_load_file(const char *path, const char *name, char loaded_name[FUSEBPF_POLICY_NAME_LEN],
		     struct loader_error *err)
{
	const char *base = strrchr(path, '/');
	char objname[64], kname[64], kpath[PATH_MAX];
	struct object o = { NULL, 0, objname, NULL }, k = { NULL, 0, kname, NULL };
	void *buf = NULL, *kbuf = NULL;
	int e;

	memset(err, 0, sizeof(*err));
	base = base ? base + 1 : path;
	snprintf(objname, sizeof(objname), "%s", base);
	e = file_read(path, &buf, &o.size, err);
	if (e)
		return e;
	o.buf = buf;
	if (loader_kernel_present()) {
		/* The kernel-mode build is kernel/BASE beside the file, as make puts it. */
		snprintf(kpath, sizeof(kpath), "%.*skernel/%s", (int)(base - path), path, base);
		snprintf(kname, sizeof(kname), "kernel/%s", base);
		e = file_read(kpath, &kbuf, &k.size, err);
		if (e == -ENOENT)
			fail(err, e, "fusebpf.ko is loaded, and %s has no kernel-mode build beside it "
				     "(%s; make builds one of each policy in bpf/ and selftests/bpf/)",
			     path, kpath);
		if (e)
			goto out;
		k.buf = kbuf;
	}
	e = load_common(&o, &k, name, loaded_name, err);
out:
	free(kbuf);
	free(buf);
	return e;
}

int loader_unload(const char *name, struct loader_error *err)
{
	char sub[160];
	int lock, e, root, dir;
	unsigned long users;

	if (!loader_name_valid(name))
		return fail(err, -EINVAL, "'%s' is not a policy name", name);
	root = pin_dir_open(NULL, false, err);
	if (root < 0)
		return root;
	path_fmt(sub, sizeof(sub), LOADER_PIN_ROOT "/%s", name);
	dir = subdir_open(root, name, sub, false, err);
	if (dir < 0) {
		close(root);
		return dir;
	}
	lock = policy_lock(name, err);
	if (lock < 0) {
		e = lock;
		goto out_close;
	}
	e = policy_subdirs_check(dir, name, err);
	users = e ? 0 : kernel_users(name);
	/* The kernel would fail those inodes' requests with EIO. */
	if (users)
		e = fail(err, -EBUSY,
			 "in use by %lu inodes of fusebpf.ko mounts (" LOADER_KERNEL_POLICIES
			 "): unmount them first",
			 users);
	if (!e)
		e = kernel_detach(dir, name, err);
	if (e)
		goto out;
	e = dir_remove(dir, "progs");
	dir_remove(dir, "progs_new");
	if (!e)
		e = dir_remove(dir, "maps");
	if (!e && unlinkat(root, name, AT_REMOVEDIR) < 0)
		e = -errno;
	if (e) {
		fail(err, e, "removing %s/%s: %s", LOADER_PIN_ROOT, name, strerror(-e));
	} else {
		/* The lock file goes too; a loader that waited on it works on a new one. */
		path_fmt(sub, sizeof(sub), LOADER_RUN_DIR "/policy-%s.lock", name);
		unlink(sub);
	}
out:
	policy_unlock(lock);
out_close:
	close(dir);
	close(root);
	return e;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int loader_list(int (*fn)(const char *name, void *arg), void *arg, struct loader_error *err)
{
	int root = pin_dir_open(NULL, false, err);
	struct dirent *e;
	char *names[256];
	size_t n = 0;
	struct stat st;
	DIR *d;

	if (root == -ENOENT)
		return 0;
	if (root < 0)
		return root;
	d = fdopendir(root);
	if (!d) {
		close(root);
		return fail(err, -errno, LOADER_PIN_ROOT ": %s", strerror(errno));
	}
	while ((e = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
		char progs[64];

		if (e->d_name[0] == '.' || !loader_name_valid(e->d_name))
			continue;
		path_fmt(progs, sizeof(progs), "%s/progs", e->d_name);
		if (fstatat(dirfd(d), progs, &st, AT_SYMLINK_NOFOLLOW) == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	root = 0;
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!root && names[i])
			root = fn(names[i], arg);
		free(names[i]);
	}
	return root;
}

/* ---- the daemon's side: open and run ---- */

int loader_filters_open(const char *name, struct loader_filters *out, struct loader_error *err)
{
	struct fusebpf_policy_info info;
	char path[320];
	struct dirent *ent;
	int lock, dir, progs, e;
	DIR *d;

	memset(out, 0, sizeof(*out));
	out->info_fd = -1;
	for (int op = 0; op < FUSEBPF_OP_MAX; op++)
		out->fd[op][0] = out->fd[op][1] = -1;
	if (!loader_name_valid(name))
		return fail(err, -EINVAL, "'%s' is not a policy name", name);
	snprintf(out->name, sizeof(out->name), "%s", name);
	/*
	 * Not loaded: said before the lock, whose file nothing would remove.
	 * A load that makes the directory after this look swaps its filters
	 * in later still, so the answer is as of this moment.
	 */
	dir = pin_dir_open(name, false, err);
	if (dir < 0)
		return dir;
	close(dir);
	lock = policy_lock(name, err);
	if (lock < 0)
		return lock;
	/* Its directories are checked as the loader checks them (dir_open_trusted). */
	dir = pin_dir_open(name, false, err);
	if (dir < 0) {
		e = dir;
		goto out;
	}
	e = policy_subdirs_check(dir, name, err);
	progs = e ? e : policy_subdir_open(dir, name, "progs", false, err);
	close(dir);
	if (progs < 0) {
		e = progs;
		goto out;
	}
	fd_path(path, sizeof(path), progs, INFO_PIN);
	e = info_get(path, &info, &out->info_fd, &out->id);
	if (e) {
		close(progs);
		fail(err, e, "%s/%s/progs/" INFO_PIN ": %s", LOADER_PIN_ROOT, name, strerror(-e));
		goto out;
	}
	out->flags = info.flags;
	d = fdopendir(progs);
	if (!d) {
		e = -errno;
		close(progs);
		goto out;
	}
	while (!e && (ent = readdir(d))) {
		struct bpf_prog_info pinfo = {};
		uint32_t len = sizeof(pinfo), op, phase;
		int fd;

		if (loader_filter_parse(ent->d_name, &op, &phase) || !loader_opcode_filterable(op))
			continue;
		fd_path(path, sizeof(path), dirfd(d), ent->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			e = fail(err, -errno, "%s/%s/progs/%s: %s", LOADER_PIN_ROOT, name,
				 ent->d_name, strerror(errno));
			break;
		}
		if (bpf_obj_get_info_by_fd(fd, &pinfo, &len) < 0 ||
		    (pinfo.type != BPF_PROG_TYPE_SYSCALL && pinfo.type != BPF_PROG_TYPE_XDP)) {
			close(fd);
			e = fail(err, -EINVAL, "%s/%s/progs/%s: not a filter program",
				 LOADER_PIN_ROOT, name, ent->d_name);
			break;
		}
		out->fd[op][phase - 1] = fd;
		out->flavor[op][phase - 1] = pinfo.type == BPF_PROG_TYPE_SYSCALL ?
						     LOADER_FLAVOR_SYSCALL :
						     LOADER_FLAVOR_XDP;
	}
	closedir(d);
out:
	policy_unlock(lock);
	if (e)
		loader_filters_close(out);
	return e;
}

void loader_filters_close(struct loader_filters *f)
{
	if (f->info_fd >= 0)
		close(f->info_fd);
	f->info_fd = -1;
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

/* Opens policy's maps/ directory, having checked all its directories, as the daemon does. */
static int maps_dir_open(const char *policy, struct loader_error *err)
{
	int dir, maps;

	if (!loader_name_valid(policy))
		return fail(err, -EINVAL, "'%s' is not a policy name", policy);
	dir = pin_dir_open(policy, false, err);
	if (dir < 0)
		return dir;
	maps = policy_subdirs_check(dir, policy, err);
	if (!maps)
		maps = policy_subdir_open(dir, policy, "maps", false, err);
	close(dir);
	return maps;
}

int loader_map_open(const char *policy, const char *map, struct loader_error *err)
{
	char path[320];
	int maps, fd;

	maps = maps_dir_open(policy, err);
	if (maps < 0)
		return maps;
	if (fd_path(path, sizeof(path), maps, map)) {
		close(maps);
		return fail(err, -ENAMETOOLONG, "map name '%s' too long", map);
	}
	fd = bpf_obj_get(path);
	if (fd < 0)
		fd = fail(err, -errno, "%s/%s/maps/%s: %s", LOADER_PIN_ROOT, policy, map,
			  strerror(errno));
	close(maps);
	return fd;
}

int loader_show(const char *name, FILE *out, struct loader_error *err)
{
	struct loader_filters f;
	char dir[160], path[320];
	struct dirent *e;
	int maps;
	DIR *d;

	maps = loader_filters_open(name, &f, err);
	if (maps)
		return maps;
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
	kernel_show(name, out);

	path_fmt(dir, sizeof(dir), LOADER_PIN_ROOT "/%s/maps", name);
	fprintf(out, "  maps (%s):\n", dir);
	maps = maps_dir_open(name, err);
	if (maps == -ENOENT)
		return 0;
	if (maps < 0)
		return maps;
	d = fdopendir(maps);
	if (!d) {
		close(maps);
		return 0;
	}
	while ((e = readdir(d))) {
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd_path(path, sizeof(path), dirfd(d), e->d_name);
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
