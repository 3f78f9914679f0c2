/* SPDX-License-Identifier: MIT */
/*
 * fsd internals shared between its files: configuration, the request being
 * served, and the interfaces of the node, handle, backing-id, device and
 * statistics modules.  Each module's file says what it owns.
 *
 * Lock order (outer first): handle->dir_lock, node_table lock, backing lock,
 * handle table lock.  No lock is held across a call that can block on the
 * FUSE device or on another request.
 */
#ifndef FSD_H
#define FSD_H

#ifdef __bpf__
#error "fsd.h is the daemon's; BPF programs include <fusebpf/policy.bpf.h>"
#endif

#include <fusebpf/filter.h>
#include <fusebpf/fuse_ext.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "user.h"

#define FSD_VERSION "0.2.0"

/* Largest WRITE payload we accept and largest READ we serve: 1 MiB. */
#define FSD_MAX_PAGES 256
#define FSD_MAX_WRITE (FSD_MAX_PAGES * 4096u)
/* Request buffer: header and fixed args of the largest request, plus data. */
#define FSD_REQ_BUF (FSD_MAX_WRITE + 4096u)

/* ---- configuration (options.c) ---- */

enum cache_mode { CACHE_NEVER, CACHE_AUTO, CACHE_ALWAYS };

/* -o uring=: whether requests come over FUSE-over-io_uring (dev_uring.c). */
enum uring_mode {
	URING_MODE_AUTO, /* the default: when the kernel's enable_uring is set */
	URING_MODE_ON, /* asked for: a line in the log if the kernel does not offer it */
	URING_MODE_OFF,
};

/* -o kernel=: which kernel runs the filters, and so how fsd mounts (main.c). */
enum kernel_mode {
	KERNEL_AUTO, /* the default: fusebpf when /dev/fusebpf exists, else fuse */
	KERNEL_FUSE, /* /dev/fuse, type fuse: the daemon runs the filters */
	KERNEL_FUSEBPF, /* /dev/fusebpf, type fusebpf: the project's module runs them */
	KERNEL_RFC, /* /dev/fuse, type fuse, root_dir=: an RFC FUSE-BPF kernel runs them */
};

struct config {
	const char *backing_dir;
	const char *mountpoint;
	bool foreground;
	bool debug;
	unsigned threads;
	enum cache_mode cache;
	double entry_timeout; /* seconds; positive entries */
	double negative_timeout; /* seconds; cached ENOENT */
	double attr_timeout; /* seconds */
	bool passthrough; /* use kernel passthrough when the kernel offers it */
	enum uring_mode uring; /* serve requests over io_uring: -o uring= */
	bool allow_other;
	bool default_permissions;
	unsigned long mount_flags; /* MS_RDONLY, MS_NOSUID, ... */
	unsigned fd_cache; /* O_PATH fds kept open for nodes; 0 = automatic */
	unsigned max_opens_per_uid; /* open handles of one uid but root; 0 = automatic */
	bool show_help;
	bool show_version;
	const char *stats_mountpoint; /* --stats MOUNTPOINT: print its counters */
	char policy[FUSEBPF_POLICY_NAME_LEN]; /* -o policy=NAME: the root's, inherited below */
	enum kernel_mode kernel; /* -o kernel=; main.c resolves KERNEL_AUTO before serving */
	uint64_t user_ops; /* -o user_ops=: opcodes that default to userspace */
	const struct user_module *user; /* -o user=NAME[:ARGS] */
	char user_args[256];
	int dev_fd; /* --dev-fd N: serve this connection, mount nothing (-1: /dev/fuse) */
	char fsname[4096]; /* -o fsname=: the source /proc/mounts shows ("": BACKING_DIR) */
	char subtype[64]; /* -o subtype=: the type is fuse.SUBTYPE, plain fuse when "" */
	char kernel_opts[1024]; /* -o context= and the other SELinux options, as given */
	bool remount; /* -o remount: change the flags of the mount on MOUNTPOINT */
	bool helper; /* run as mount.fuse.fsd: mount(8)'s helper arguments */
	bool fake; /* the helper's -f: check the arguments, mount nothing */
	const char *mount_ns; /* the helper's -N NS: mount in that mount namespace */
};

/* Fills *cfg from argv; 0, or -EINVAL with a one-line message in err. */
int options_parse(int argc, char **argv, struct config *cfg, char *err, size_t errlen);
void options_usage(const char *prog);
/* "auto", "fuse", "fusebpf", "rfc": as -o kernel= takes it and the statistics show it. */
const char *kernel_mode_name(enum kernel_mode mode);

extern struct config fsd_config;

/* ---- the backing tree (tree.c) ---- */

/*
 * Copies the mount of backing_dir for data opens, with the atime rule of
 * mount_flags (MS_NOATIME, MS_STRICTATIME, MS_NODIRATIME; relatime when
 * none); 0 or -errno (then files open on the backing mounts themselves).
 */
int tree_init(const char *backing_dir, unsigned long mount_flags);
/* The fd to open files of the node table's backing mount fd by for data: its copy's. */
int tree_mount_fd(int mount_fd);
/* Opens the backing directory for data through its copy; fd, or -errno (-EOPNOTSUPP: no copy). */
int tree_root_open(int flags);
/* Gives the copies the atime rule of mount_flags (after a remount); 0 or -errno. */
int tree_atime_set(unsigned long mount_flags);
/* "noatime,nodiratime" to and from those flags, for the control socket's atime command. */
int tree_atime_parse(const char *words, unsigned long *mount_flags);
void tree_atime_format(unsigned long mount_flags, char *buf, size_t size);

/* ---- nodes (node.c) ---- */

/* Up to 128 bytes of file handle, as MAX_HANDLE_SZ. */
#define NODE_HANDLE_MAX 128

struct node {
	/* Immutable after creation. */
	uint64_t nodeid;
	uint32_t generation; /* FUSE generation: 0, or the session's for a counter nodeid */
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits */
	int mount_fd; /* fd on the backing mount, for open_by_handle_at */
	int handle_type;
	unsigned handle_bytes; /* 0: no file handle, fd is pinned */
	unsigned char handle[NODE_HANDLE_MAX];

	/* Guarded by the node table lock. */
	uint64_t nlookup; /* kernel references (LOOKUP minus FORGET) */
	unsigned refs; /* requests using the node now: they pin its fd */
	unsigned opens; /* open handles: they keep the node, not its fd */
	int fd; /* O_PATH fd, or -1 when not cached */
	bool hashed; /* reachable through the dev/ino index */
	struct node *id_next, *key_next; /* hash chains */
	struct node *lru_prev, *lru_next; /* cached fd, refs == 0 (opens may be > 0) */

	/*
	 * The policy whose filters run on this node's requests (NULL: none).
	 * Set when the node is made (its parent's) and by LOOKUP postfilters;
	 * read and written with atomic loads and stores.
	 */
	struct policy *policy;
	/* What a filter left for later filters on this node (fusebpf_ctx.child_cookie); atomic too. */
	uint64_t cookie;

	/* Guarded by the backing lock (backing.c). */
	int backing_id; /* kernel passthrough id (of opens, or kept), 0 when none */
	unsigned backing_opens; /* passthrough opens, sharing backing_id */
	unsigned backing_map_writers; /* of those, O_RDWR opens (backing_attr_timeout) */
	unsigned cached_opens; /* opens whose data the daemon serves */
	bool backing_failed; /* kernel refused this inode: serve data ourselves */
};

#define FSD_ROOT_ID 1

/*
 * How a nodeid carries a backing file handle (node.c): handles of the
 * backing root's type and size whose bytes past the eighth are all zero.
 * handle_bytes 0: none does.
 */
struct file_handle; /* <fcntl.h>, _GNU_SOURCE */
struct node_id_format {
	int handle_type;
	unsigned handle_bytes;
};
/* The nodeid that carries fh, or 0 if it does not fit (0 and 1 are never one). */
uint64_t node_id_encode(const struct node_id_format *f, const struct file_handle *fh);
/* The handle nodeid carries, into fh (NODE_HANDLE_MAX bytes of room); 0 or -ESTALE. */
int node_id_decode(const struct node_id_format *f, uint64_t nodeid, struct file_handle *fh);

int node_table_init(const char *backing_dir, unsigned fd_cache);
/*
 * Whether file handles of the mount can be made to work: the backing dir is
 * the root of its filesystem and that filesystem's handles fit in a nodeid.
 */
bool node_exportable(void);
void node_table_destroy(void);
/* Takes a reference to the node with this id, or NULL. */
struct node *node_get(uint64_t nodeid);
/*
 * The same for the nodeid of a file handle the kernel opens (a LOOKUP of
 * "."): the live node, or, with fsd_export, one made anew from the backing
 * handle the nodeid carries.  0, or -ESTALE when there is no such inode.
 */
int node_resolve(uint64_t nodeid, struct node **out);
void node_put(struct node *node);
void node_ref(struct node *node);
/*
 * An open handle's reference: it keeps the node but leaves its O_PATH fd in
 * the LRU cache, so that files held open do not pin fds of the daemon.
 */
void node_ref_open(struct node *node);
void node_put_open(struct node *node);
/* O_PATH fd of the node, valid while the caller holds a reference. */
int node_fd(struct node *node);
/* Opens the backing inode anew with these flags (regular files, dirs). */
int node_open(struct node *node, int flags);
/* A new O_PATH fd of the node for READLINK, on its mount's copy (tree.c); fd or -errno. */
int node_open_link(struct node *node);
/*
 * Finds or creates the node for name in parent, adds one lookup and one
 * reference.  Fills *st.  A new node gets the parent's policy.  0 or -errno.
 * With fsd_export, "." is parent itself and ".." its parent (the kernel's
 * lookups to open a file handle).
 */
int node_lookup(struct node *parent, const char *name, struct stat *st, struct node **out);
/*
 * The same for an inode known by an O_PATH fd (taken over), made in
 * parent.  Without by_handle the node keeps the fd for its lifetime
 * (O_TMPFILE inodes).
 */
int node_from_fd(int fd, bool by_handle, struct node *parent, struct stat *st,
		 struct node **out);
struct policy *node_policy(const struct node *node);
void node_set_policy(struct node *node, struct policy *policy);
uint64_t node_cookie(const struct node *node);
void node_set_cookie(struct node *node, uint64_t cookie);
/* Drops nlookup kernel references. */
void node_forget(uint64_t nodeid, uint64_t nlookup);
/* Calls node_forget for a node the caller has a reference to. */
void node_unlookup(struct node *node, uint64_t nlookup);
/* Closes cached fds until one more can be opened (after EMFILE). */
bool node_fd_reclaim(void);
/*
 * Opens what fd (an O_PATH or open_tree fd) names, again, with flags, through
 * /proc/self/fd, reclaiming cached fds on EMFILE; the new fd or -errno.
 */
int fd_reopen(int fd, int flags);

struct node_stats {
	uint64_t nodes;
	uint64_t fds_cached;
	uint64_t fd_cache_max;
};
void node_stats(struct node_stats *out);

/* ---- policies and their filters (filter.c) ---- */

/*
 * A policy the daemon runs, by name; it lives until the daemon exits.  Its
 * filters come in versions: a reload replaces the current version, and a
 * request holds the version it started with until it replies, so that it
 * never runs the prefilter of one version and the postfilter of another.
 */
struct policy;
struct policy_version;

/* The policy of that name, opening its pinned filters the first time; -ENOENT if not loaded. */
int policy_get(const char *name, struct policy **out);
/* The current version of policy (NULL policy, or unloaded: NULL), referenced. */
struct policy_version *policy_acquire(struct policy *policy);
void policy_release(struct policy_version *v);
/*
 * Brings name to what is pinned now (after a load, or an unload: its nodes
 * then run the defaults); 0, or -ENOENT if the daemon has never run it.
 */
int policy_reload(const char *name);
/* policy_reload of every policy the daemon runs: once its control socket listens. */
void policy_sync_all(void);
const char *policy_name(const struct policy *policy);
/* Whether v has a filter for opcode in phase. */
bool policy_has(const struct policy_version *v, uint32_t opcode, uint32_t phase);
/* Whether v's decisions depend on the caller (FUSEBPF_POLICY_PER_CALLER). */
bool policy_per_caller(const struct policy_version *v);
/* Runs v's filter of opcode and phase on ctx: its return, or -EIO if it could not run. */
int filter_run(const struct policy_version *v, uint32_t opcode, uint32_t phase,
	       struct fusebpf_ctx *ctx);
/* Writes "policy.NAME version N" lines for the statistics. */
void policy_stats(FILE *f);
void policy_registry_destroy(void);

/* ---- open handles (handle.c) ---- */

struct handle {
	uint64_t fh;
	struct node *node; /* holds an open reference (node_ref_open) */
	/*
	 * The backing file or directory, opened with the caller's flags; -1
	 * for a passthrough file, whose data the kernel serves from the
	 * backing file it holds: handle_fd reopens it for the few requests
	 * that need one.
	 */
	int fd;
	int flags; /* a file's open flags, for handle_fd: none that create or truncate */
	uid_t uid; /* who opened it: charged to that uid (handle_charge) */
	bool passthrough; /* a passthrough open (else the daemon serves its data) */
	bool is_file; /* a file open, counted by backing_open (else a directory) */
	/*
	 * The userspace module's state for an open it claimed (user.h), set
	 * once before the reply: its READ and COPY_FILE_RANGE requests go to
	 * the module.  Freed by user_module->handle_free with the handle.
	 */
	void *user;

	/* Directory reading state, guarded by dir_lock. */
	pthread_mutex_t dir_lock;
	char *dir_buf; /* raw getdents64 records not yet returned */
	size_t dir_len, dir_pos;
	uint64_t dir_next_off; /* offset the next READDIR continues at */
	bool dir_eof;

	/* Guarded by the handle table lock. */
	struct handle *next; /* hash chain */
	unsigned refs; /* the table's, plus requests using it */
};

/*
 * How many open handles (files and directories) the daemon gives out, from
 * its fd limit and its node fd cache; see handle.c.  Each 0: no limit.
 */
struct handle_limits {
	unsigned per_uid; /* one uid's, root's aside: EMFILE past it */
	unsigned users; /* every uid's but root's together: ENFILE past it */
	unsigned all; /* everyone's, root's too: ENFILE past it */
};
/* The limits for this fd limit and node fd cache bound; per_uid 0: the default. */
void handle_limits_compute(unsigned long fd_limit, unsigned long fd_cache_max, unsigned per_uid,
			   struct handle_limits *out);
/* Sets the limits (none until then, as in the unit tests). */
void handle_limits_set(const struct handle_limits *limits);
/* Sets them from RLIMIT_NOFILE and the node table's fd cache (node_table_init first); logs them. */
void handle_limits_init(unsigned per_uid);
/* Counts one open for uid before it is made: 0, -EMFILE or -ENFILE (or -ENOMEM). */
int handle_charge(uid_t uid);
/* Uncounts a charge no handle took over. */
void handle_uncharge(uid_t uid);
/*
 * A handle of node opened by uid, charged with handle_charge: takes over
 * the charge and fd (-1: a passthrough file's, none), on failure too, and
 * takes its own open reference on node.  flags: a file's open flags.
 */
int handle_new(struct node *node, int fd, uid_t uid, int flags, struct handle **out);
/*
 * An fd of the handle's backing file for a request on it: its own, or the
 * file reopened with its open flags (a passthrough file).  0+ or -errno;
 * give it back with handle_fd_put.
 */
int handle_fd(struct handle *h);
void handle_fd_put(struct handle *h, int fd);
/* Takes a reference to the open handle fh, or NULL. */
struct handle *handle_get(uint64_t fh);
void handle_put(struct handle *h);
/* Forgets fh (freed when its last user is done); 0 or -EBADF. */
int handle_release(uint64_t fh);
/* Whether fh is an open a userspace module claimed (handle->user set). */
bool handle_claimed(uint64_t fh);
uint64_t handle_count(void);

/* ---- I/O modes of opens, kernel passthrough backing ids (backing.c) ---- */

extern int fsd_passthrough; /* negotiated at INIT */
extern int fsd_dont_mask; /* negotiated at INIT: the daemon applies the caller's umask */
extern atomic_int fsd_initialized; /* ops_fs.c: a 7.x INIT was answered */
/* Negotiated at INIT (ops_fs.c), read-only afterwards: */
extern unsigned int fsd_kernel_minor; /* the kernel's FUSE 7.x (what it can send) */
extern bool fsd_export; /* FUSE_EXPORT_SUPPORT: LOOKUPs of "." and ".." open file handles */
extern bool fsd_setxattr_ext; /* SETXATTR's input is the 16-byte fuse_setxattr_in */
/*
 * FUSE-BPF mode (-o kernel=fusebpf or rfc; main.c sets it before the
 * session starts): the kernel runs the filters; what it sends is for
 * userspace, filter calls come in, LOOKUP replies carry entries.
 */
extern bool fsd_bpf_kernel;
extern bool fsd_bpf_init; /* INIT: the kernel offered FUSEBPF_INIT_BPF and fsd accepted */
extern const struct arch *fsd_client_arch; /* translate the client's values; NULL: none */
extern int fsd_session_fd; /* receives the backing ioctls */
/*
 * Counts a new open of node and chooses its I/O mode: the
 * mode of the inode's other opens if it has any, else passthrough if wanted
 * and possible.  Returns the backing id (> 0) for passthrough, 0 when the
 * daemon serves the open's data.
 */
int backing_open(struct node *node, bool want_passthrough, int open_flags);
/*
 * Counts a new read-only passthrough open of node on the backing id it has
 * (of its other opens, or kept), with no fd of the daemon.  Returns the id,
 * or 0, counting nothing, when it has none its opens may join.
 */
int backing_open_kept(struct node *node);
void backing_release(struct node *node, bool passthrough, int open_flags);
/* Keeps up to kept_max ids of files no longer open (the fd cache's size). */
void backing_init(uint64_t kept_max);
/* The node goes, or its cached fd: its kept id, if any, goes back to the kernel. */
void backing_forget(struct node *node);
/*
 * Zeroes a reply's attribute timeout (sec, nsec) while node is open
 * O_RDWR in passthrough: writes through a shared mapping of it change the
 * backing file's mtime and ctime without a request the kernel would see.
 */
void backing_attr_timeout(struct node *node, uint64_t *sec, uint32_t *nsec);
struct backing_stats {
	uint64_t in_use; /* ids registered for files open now */
	uint64_t kept; /* ids kept for files no longer open */
	uint64_t opens_without_fd; /* opens served by backing_open_kept */
};
void backing_stats_get(struct backing_stats *out);

/* ---- the FUSE device (dev.c) ---- */

struct request;
struct worker;
/* Opens the device of the kernel mode: /dev/fusebpf for kernel=fusebpf, else /dev/fuse. */
int dev_open(void);
const char *dev_path(void);
/* Checks a connection fsd was given (--dev-fd): a message-keeping socket, or /dev/fuse. */
int dev_given(int fd);
/* True when that connection is a socket (the wire tests' peer plays the kernel). */
bool dev_is_socket(void);
/* A worker's own device fd (FUSE_DEV_IOC_CLONE of the session fd; a dup of a socket). */
int dev_clone(int session_fd);
/* Sends the one reply of a request, over the transport that carried it. */
int dev_reply(struct request *req, int error);
/* Tells the kernel to drop the inode's cached attributes; 0 or -errno. */
int dev_notify_inval_inode(uint64_t nodeid);
/* Serves requests on fd until the connection ends. */
void *dev_worker(void *arg);
/*
 * Sets up a worker thread: its own umask (create_begin sets the caller's),
 * and a name for ps and top: "fsd-" kind number.
 */
void dev_worker_init(struct worker *w, const char *kind, unsigned number);
/* main.c: a worker stopped with err (-ENODEV: the mount is gone). */
void fsd_worker_exited(int err);

/* ---- FUSE over io_uring (dev_uring.c) ---- */

struct uring_ent;
/*
 * Before mounting, unless -o uring=off: when the kernel offers FUSE over
 * io_uring, an io_uring and a thread for each CPU fsd may run on, pinned
 * there, with the entries of every possible CPU's queue, waiting for INIT.  0, or -errno when io_uring cannot be used
 * (the daemon then serves /dev/fuse alone).
 */
int uring_setup(int session_fd);
/* True when uring_setup succeeded: INIT asks for FUSE_OVER_IO_URING. */
bool uring_wanted(void);
/* INIT's outcome: the threads register their rings, or end. */
void uring_negotiated(bool granted);
/* Ends the threads still waiting for INIT (the mount went away first). */
void uring_stop(void);
/* Waits until deadline for the ring threads; true if they all ended. */
bool uring_join(const struct timespec *deadline);
void uring_free(void);
/* Queues the reply held in iov (iov[0]: the fuse_out_header) as the entry's commit. */
int uring_reply(struct worker *w, const struct iovec *iov, int n);
/* 1 once every ring is registered and serving. */
int uring_active(void);

/* ---- the request (request.c) ---- */

/* How a worker receives requests and sends their replies. */
enum worker_transport {
	WORKER_DEV, /* read and writev on a /dev/fuse fd */
	WORKER_URING, /* the entries of an io_uring queue */
};

struct worker {
	enum worker_transport transport;
	int fd; /* WORKER_DEV: its device fd */
	unsigned index;
	pthread_t thread;
	char *in_buf; /* FSD_REQ_BUF bytes (WORKER_DEV) */
	/*
	 * FSD_MAX_WRITE bytes for READ, READDIR, xattr replies.  For
	 * WORKER_URING it is the payload buffer of the entry being served,
	 * which holds the request's strings and data (req->name, req->data)
	 * too: a handler reads its input before it writes its output here.
	 */
	char *out_buf;
	struct uring_ent *ent; /* WORKER_URING: the entry being served */
};

/* How long the kernel may cache what a reply tells it, in seconds. */
struct cache_timeouts {
	double entry;
	double negative;
	double attr;
};

/* A reply carries at most a fixed struct and one data buffer. */
union reply_arg {
	struct fuse_entry_out entry;
	struct fuse_attr_out attr;
	struct fusebpf_open_out open;
	struct {
		struct fuse_entry_out entry;
		struct fusebpf_open_out open;
	} create;
	struct fuse_write_out write;
	struct fuse_statfs_out statfs;
	struct fuse_getxattr_out getxattr;
	struct fuse_lseek_out lseek;
	struct fusebpf_init_out init;
	struct fusebpf_statx_out statx;
};
/* A postfilter's output (and a filter call's input) is copied in and out of it. */
_Static_assert(sizeof(union reply_arg) >= sizeof(union fusebpf_out), "reply_arg holds fusebpf_out");
_Static_assert(sizeof(union reply_arg) >= sizeof(union fusebpf_in), "reply_arg holds fusebpf_in");

struct request {
	const struct fuse_in_header *hdr;
	uint32_t opcode; /* hdr->opcode; of a filter call, the opcode filtered */
	uint32_t call; /* a FUSE-BPF kernel's filter call: its phase; 0: none */
	int call_error; /* a postfilter call's FUSEBPF_EXT_ERROR_IN: the backing op's result */
	bool other_byte_order; /* a byte-swapped INIT: the reply header is swapped too */
	const void *in; /* the opcode's fixed input struct */
	const char *name; /* first string argument, checked */
	const char *name2; /* second string argument, checked */
	const void *data; /* trailing payload: write data, xattr value */
	size_t data_len;
	struct node *node; /* hdr->nodeid, referenced, for ops that name a node */
	struct worker *worker;

	/* The policy step. */
	struct policy_version *filters; /* the node's policy, referenced; NULL: none */
	struct cache_timeouts cache; /* all 0 when no_cache */
	bool no_cache; /* the kernel must cache nothing of the reply (FUSEBPF_REPLY_NO_CACHE) */
	int entry_post; /* READDIR(PLUS): FUSEBPF_POSTFILTER or _USER_POSTFILTER per entry, or 0 */
	bool ctx_ready; /* ctx holds the request's input */
	struct fusebpf_ctx ctx; /* what filters see; input read from here after a prefilter */
	/* A userspace OPEN or CREATE handler claims the open it makes (user.h); the handle takes it. */
	void *open_user;

	/* Reply payload, set by the handler. */
	union reply_arg arg;
	size_t arg_len;
	const void *out_data;
	size_t out_len;
	/*
	 * What this reply hands to the kernel, taken back if the handler fails
	 * after making it or the reply cannot be delivered (the connection
	 * was aborted): a lookup of new_node, the open handle new_fh.
	 */
	struct node *new_node;
	uint64_t new_fh;
	int reply_fd; /* closed once the reply is written (-1: none): a LOOKUP entry's */
	bool reply_ioctl; /* it carries LOOKUP entries: FUSEBPF_DEV_IOC_BPF_RESPONSE, no write */
	/* The input after translation from the client's architecture, when it needed one. */
	union fusebpf_in in_native;
	struct fusebpf_lookup_entry entries[2]; /* LOOKUP replies to a FUSE-BPF kernel */
};

void request_process(struct worker *w, const char *buf, size_t len);
/* Whether the request (as request_process reads it) may keep its thread waiting long. */
bool request_may_block(const char *buf, size_t len);
/* The backing handler of req's opcode: what a user handler calls to do the normal work. */
int request_backing(struct request *req);
/*
 * Runs the READDIR(PLUS) postfilter on one entry, name (a buffer of
 * FUSEBPF_NAME_LEN bytes, which it may rewrite) and d, whose node (for
 * READDIRPLUS) is child or NULL; 0 to keep it, or -errno to leave it out.
 */
int request_entry_filter(struct request *req, char *name, struct fusebpf_dirent *d,
			 struct node *child);
/*
 * An entry name of dir, decided by the policy's LOOKUP filters: 0, with,
 * for READDIRPLUS (plus), *child looked up (NULL: list it without
 * attributes) and e filled; or -errno to leave it out.
 */
int request_entry_lookup(struct request *req, struct node *dir, const char *name, bool plus,
			 struct fuse_entry_out *e, struct node **child);
/* Parses "-o user_ops=" opcode names into a mask; 0 or -EINVAL naming the bad one in err. */
int opcode_mask_parse(const char *list, uint64_t *mask, char *err, size_t errlen);
/* Formats a mask as opcode names. */
void opcode_mask_format(uint64_t mask, char *buf, size_t size);
/* The opcodes the daemon can serve on the backing filesystem. */
uint64_t opcode_mask_backing(void);

static inline void reply_arg(struct request *req, size_t len)
{
	req->arg_len = len;
}

static inline void reply_data(struct request *req, const void *data, size_t len)
{
	req->out_data = data;
	req->out_len = len;
}

/* ---- reply encoding (reply.c) ---- */

/* The timeouts the options set; requests under per-caller policies use none. */
void cache_timeouts_from_config(struct cache_timeouts *t);
void attr_from_stat(struct fuse_attr *attr, const struct stat *st);
void entry_fill(struct fuse_entry_out *e, uint64_t nodeid, uint32_t generation,
		const struct stat *st, const struct cache_timeouts *t);
void entry_fill_negative(struct fuse_entry_out *e, const struct cache_timeouts *t);
void attr_out_fill(struct fuse_attr_out *a, const struct stat *st, const struct cache_timeouts *t);
/* Appends a dirent to buf; returns bytes used, 0 if it does not fit. */
size_t dirent_add(char *buf, size_t size, const char *name, size_t namelen, uint64_t ino,
		  uint32_t type, uint64_t off);
size_t direntplus_add(char *buf, size_t size, const char *name, size_t namelen, uint64_t ino,
		      const struct fuse_entry_out *e, uint32_t type, uint64_t off);
void timeout_split(double seconds, uint64_t *sec, uint32_t *nsec);

/* ---- opcode handlers (ops_*.c) ---- */

#define OP_HANDLER(name) int name(struct request *req)
/* ops_fs.c */
OP_HANDLER(op_init);
OP_HANDLER(op_destroy);
OP_HANDLER(op_statfs);
OP_HANDLER(op_interrupt);
OP_HANDLER(op_forget);
OP_HANDLER(op_batch_forget);
/* ops_entry.c */
OP_HANDLER(op_lookup);
OP_HANDLER(op_getattr);
OP_HANDLER(op_setattr);
OP_HANDLER(op_statx);
OP_HANDLER(op_readlink);
OP_HANDLER(op_symlink);
OP_HANDLER(op_mknod);
OP_HANDLER(op_mkdir);
OP_HANDLER(op_unlink);
OP_HANDLER(op_rmdir);
OP_HANDLER(op_rename);
OP_HANDLER(op_rename2);
OP_HANDLER(op_link);
OP_HANDLER(op_access);
/* ops_file.c */
OP_HANDLER(op_open);
OP_HANDLER(op_create);
OP_HANDLER(op_tmpfile);
OP_HANDLER(op_read);
OP_HANDLER(op_write);
OP_HANDLER(op_release);
OP_HANDLER(op_flush);
OP_HANDLER(op_fsync);
OP_HANDLER(op_fallocate);
OP_HANDLER(op_lseek);
OP_HANDLER(op_copy_file_range);
/* ops_dir.c */
OP_HANDLER(op_opendir);
OP_HANDLER(op_readdir);
OP_HANDLER(op_readdirplus);
OP_HANDLER(op_releasedir);
OP_HANDLER(op_fsyncdir);
/* ops_xattr.c */
OP_HANDLER(op_setxattr);
OP_HANDLER(op_getxattr);
OP_HANDLER(op_listxattr);
OP_HANDLER(op_removexattr);

/* Clears setuid/setgid/capabilities as an unprivileged write would (ops_file.c). */
int privs_kill(int fd, const struct fuse_in_header *hdr);
/* Around a creating syscall: the caller's fsgid and umask (ops_entry.c). */
void create_begin(const struct request *req, uint32_t umask_bits);
void create_end(const struct request *req);
/* Shared by handlers: fill an entry reply for a node just looked up. */
void entry_reply(struct request *req, struct node *node, const struct stat *st);
/* A FUSE-BPF kernel's LOOKUP reply: the child's backing file and policy follow the entry. */
int lookup_bpf_entries(struct request *req, struct node *child);

/* ---- statistics and the control socket (control.c) ---- */

#define FSD_OP_MAX FUSEBPF_OP_MAX
extern _Atomic uint64_t stats_requests[FSD_OP_MAX];
extern _Atomic uint64_t stats_errors[FSD_OP_MAX];
/* Prefilter verdicts: [op][verdict], and [op][FUSEBPF_VERDICT_MAX + 1] for -errno. */
extern _Atomic uint64_t stats_verdicts[FSD_OP_MAX][FUSEBPF_VERDICT_MAX + 2];
extern _Atomic uint64_t stats_user[FSD_OP_MAX]; /* served by the userspace handler */
extern _Atomic uint64_t stats_filter_calls[FSD_OP_MAX]; /* BPF filter runs, both phases */
extern _Atomic uint64_t stats_filter_ns[FSD_OP_MAX]; /* time in them */
/* Requests received per transport. */
extern _Atomic uint64_t stats_dev_requests;
extern _Atomic uint64_t stats_uring_requests;
/* Requests an io_uring queue handed to its offload threads (request_may_block). */
extern _Atomic uint64_t stats_uring_offloaded;
/* Serves the control socket named after the mount (statistics, policy reloads). */
int control_serve(dev_t mount_dev);
void control_stop(void);
/* Sends command ("stats", ...) to the fsd serving mountpoint; writes its answer to out. */
int control_send(const char *mountpoint, const char *command, FILE *out);
const char *opcode_name(uint32_t opcode);

/*
 * "/proc/self/fd/N": names the inode of fd (an O_PATH fd too) for the calls
 * that take only paths (chmod, truncate, the *xattr calls, reopening).
 */
#define PROC_FD_PATH_MAX 32
static inline void proc_fd_path(char buf[PROC_FD_PATH_MAX], int fd)
{
	snprintf(buf, PROC_FD_PATH_MAX, "/proc/self/fd/%d", fd);
}

/* Whether err is 0 or a negative errno the kernel takes in a reply. */
static inline bool errno_valid(int err)
{
	return err <= 0 && err > -512;
}

/* ---- logging ---- */
void fsd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* FSD_H */
