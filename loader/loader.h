/* SPDX-License-Identifier: MIT */
/*
 * The policy loader: the only code that talks to libbpf.  It loads policy
 * objects (verified by the kernel), pins them under bpffs, lists, shows and
 * unloads them, and gives the daemon the filters of a pinned policy and the
 * means to run them.
 *
 * Pinned layout, one directory per policy:
 *
 *	/sys/fs/bpf/fusebpf/NAME/maps/MAP          the policy's maps, kept across
 *	                                            reloads when compatible
 *	/sys/fs/bpf/fusebpf/NAME/progs/OP_PHASE    the filters of the current version
 *	/sys/fs/bpf/fusebpf/NAME/progs/policy_info its name and flags (an array map)
 *	/sys/fs/bpf/fusebpf/NAME/kernel_link       with fusebpf.ko loaded: the link
 *	                                            that registers the policy's
 *	                                            kernel-mode build with it
 *
 * A reload pins the new filters in a directory of their own and exchanges it
 * with progs/ in one rename, so a reader sees one version or the other.
 * Loaders and readers of one policy serialise on a lock file in /run/fusebpf.
 *
 * Every one of these directories (fusebpf/, NAME/, maps/, progs/, and
 * /run/fusebpf) must be root's alone: a directory owned by another uid, or
 * writable by group or others, is refused with a message naming it, by the
 * loader and by the daemon, rather than used (/sys/fs/bpf itself may be
 * 1777, bpffs's default).  Checks are made on the opened directory (O_NOFOLLOW)
 * and what is in it is reached through that fd.
 */
#ifndef FUSEBPF_LOADER_H
#define FUSEBPF_LOADER_H

#ifdef __bpf__
#error "loader.h is for userspace"
#endif

#include <fusebpf/filter.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LOADER_BPFFS "/sys/fs/bpf"
#define LOADER_PIN_ROOT LOADER_BPFFS "/fusebpf"
#define LOADER_RUN_DIR "/run/fusebpf" /* lock files; FUSEBPF_CONTROL_DIR too */
#define LOADER_KERNEL_BTF "/sys/kernel/btf/fusebpf" /* there while fusebpf.ko is loaded */
#define LOADER_KERNEL_LINK "kernel_link"
/* fusebpf.ko's policies, each with how many of its mounts' inodes hold it */
#define LOADER_KERNEL_POLICIES "/sys/fs/fusebpf/policies"

/* How a filter program is run (see policy.bpf.h). */
enum loader_flavor {
	LOADER_FLAVOR_NONE = 0,
	LOADER_FLAVOR_SYSCALL, /* BPF_PROG_TYPE_SYSCALL: the context is ctx_in */
	LOADER_FLAVOR_XDP, /* BPF_PROG_TYPE_XDP: the context is the packet */
};

/*
 * One version of a policy's filters, as the daemon runs them.  Two opens
 * got the same version if and only if their ids are equal: the id is that
 * of the policy info pinned with the filters, new with every load, and
 * while info_fd holds that pin no other can be given its id.
 */
struct loader_filters {
	char name[FUSEBPF_POLICY_NAME_LEN];
	uint32_t flags; /* FUSEBPF_POLICY_* */
	uint32_t id; /* which load pinned these filters */
	int info_fd; /* the policy info of that load, held for its id */
	int fd[FUSEBPF_OP_MAX][2]; /* [opcode][phase - 1]; -1 when absent */
	uint8_t flavor[FUSEBPF_OP_MAX][2]; /* enum loader_flavor */
};

/* Why a load failed, for the user: one line, then the verifier's last lines. */
struct loader_error {
	char msg[512];
	char log[4096];
};

/*
 * Writes the kernel-mode source of the policy src to out: src included,
 * and a struct_ops member for each filter its daemon-mode object obj has
 * (loader/kernel_source.c); 0 or -errno.
 */
int loader_kernel_source(const char *src, const char *obj, FILE *out, struct loader_error *err);

/* Mounts bpffs on /sys/fs/bpf unless it is there; 0 or -errno. */
int loader_bpffs_mount(void);

/* Whether fusebpf.ko is loaded (its BTF is there): loads then register policies with it. */
bool loader_kernel_present(void);

/*
 * Loads a policy object (a file, or an object in memory such as a skeleton's)
 * and pins it, replacing the pinned version of the same name.  name, if not
 * NULL, overrides the name the object declares.  With fusebpf.ko loaded, the
 * policy's kernel-mode build is loaded too and registered with the module
 * under that name, replacing a registered version in place (kernel_obj; for
 * a file, kernel/BASENAME beside it, where make builds it); its maps are the
 * daemon-mode build's.  On failure nothing pinned or registered changes,
 * err says why, and the return is -errno.  *loaded_name gets the policy's
 * name.
 */
int loader_load_file(const char *path, const char *name, char loaded_name[FUSEBPF_POLICY_NAME_LEN],
		     struct loader_error *err);
int loader_load_mem(const void *obj, size_t size, const void *kernel_obj, size_t kernel_size,
		    const char *obj_name, const char *name, char loaded_name[FUSEBPF_POLICY_NAME_LEN],
		    struct loader_error *err);

/*
 * The functions below that take a struct loader_error (which may be NULL)
 * fill its msg when they have more to say than the errno: a refused
 * directory ("/sys/fs/bpf/fusebpf: owned by uid 1000, not root; refusing
 * it", -EPERM), a pin that cannot be opened.
 */

/*
 * Removes a pinned policy (its filters and maps) and unregisters it from
 * fusebpf.ko; -ENOENT if not loaded.
 */
int loader_unload(const char *name, struct loader_error *err);

/* Whether name is a valid policy name: 1 to 15 of [A-Za-z0-9_-]. */
bool loader_name_valid(const char *name);

/* Calls fn for each pinned policy, in name order; 0 or -errno. */
int loader_list(int (*fn)(const char *name, void *arg), void *arg, struct loader_error *err);

/* Prints a pinned policy's filters and maps. */
int loader_show(const char *name, FILE *out, struct loader_error *err);

/*
 * Opens the pinned filters of a policy, as one load left them (the loader's
 * lock of the policy is held while they are read); -ENOENT if it is not
 * loaded.  loader_filters_close closes what an open that succeeded holds.
 */
int loader_filters_open(const char *name, struct loader_filters *out, struct loader_error *err);
void loader_filters_close(struct loader_filters *f);

/* Runs one filter on ctx (which it may change); *ret is its return value. */
int loader_filter_run(int fd, enum loader_flavor flavor, struct fusebpf_ctx *ctx, int *ret);

/*
 * Parses a filter program name ("lookup_prefilter") into opcode and phase;
 * 0, or -EINVAL if it names no filter.
 */
int loader_filter_parse(const char *prog_name, uint32_t *opcode, uint32_t *phase);

/* Whether filters on this opcode are meaningful (not INIT, FORGET, ...). */
bool loader_opcode_filterable(uint32_t opcode);

/* Path of a pinned map of a policy ("/sys/fs/bpf/fusebpf/NAME/maps/MAP"), to show. */
int loader_map_path(const char *policy, const char *map, char *buf, size_t size);

/* Opens a pinned map of a policy, its directories checked; an fd or -errno (-ENOENT). */
int loader_map_open(const char *policy, const char *map, struct loader_error *err);

/*
 * Opens the directory name in at (O_DIRECTORY | O_NOFOLLOW) if it is root's
 * alone: owned by uid 0, not writable by group or others.  shown is its
 * path for the message.  An fd, or -errno (-EPERM: refused) with err saying
 * why.
 */
int loader_dir_trusted(int at, const char *name, const char *shown, struct loader_error *err);

#endif /* FUSEBPF_LOADER_H */
