// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: fsd's request decoder and dispatcher (request_process),
 * in-process, as the simulated kernel drives them, against a scratch backing
 * directory that is rebuilt for every input.
 *
 * An input is one configuration byte, then frames, each one request:
 *
 *	byte 0      bit 0 debug log (formats every request, as -d does)
 *	            bits 1-2 cache mode (0 never, 1 auto, else always)
 *	            bit 3 negative entries cached (negative_timeout > 0)
 *	            bit 4 the input sends its own INIT (else the target sends 7.45's)
 *	            bit 5 a FUSE-BPF mount (-o kernel=fusebpf): filter calls and
 *	                  LOOKUP entries (through the ioctl's two messages on
 *	                  the socket, fsd/dev.c); with a 7.45 INIT from the
 *	                  target, the kernel is fusebpf.ko on arm64, offering no
 *	                  passthrough but the opcode masks and its architecture
 *	                  (FUSEBPF_INIT_BPF, FUSEBPF_INIT_ARCH): open flags
 *	                  translated
 *	            bit 6 no_default_permissions
 *	            bit 7 the target's INIT is 7.31's (16 bytes) instead of 7.45's
 *	frame       u16 little-endian: bits 0-12 the request's length, bit 13
 *	            "set hdr.len to it", bit 14 "give it a fresh unique"; then
 *	            the request's bytes
 *
 * Node ids are deterministic (the node table is rebuilt per input: the root
 * is 1, new nodes 2, 3...).  Open handles are numbered by a counter that
 * never restarts, so an fh of 1..N in a request that carries one means "the
 * Nth handle opened in this input" and is translated.
 *
 * Each request is copied into a buffer of exactly its size (AddressSanitizer
 * sees any read past it), given to request_process, and its reply read back
 * from the socketpair the worker writes to and checked as the kernel would
 * (fuse_dev_do_write, copy_out_args): none for the no-reply opcodes, a
 * request shorter than its header or with unique 0; else exactly one,
 * whose len is the bytes sent, whose unique is the request's, whose error is
 * a real errno with no payload, and whose payload has the size the kernel
 * accepts for that opcode.  The lookups the replies hand over and the
 * FORGETs the daemon accepts are counted as the kernel counts them: after
 * every request each node the kernel still holds must exist, and after the
 * last frame the target releases every handle and forgets every lookup, as
 * the kernel does on unmount, and then the node table must hold the root
 * alone and no handle may remain.
 *
 * The scratch tree has symlinks that point outside it (to a sentinel file
 * beside the backing directory, relatively and absolutely); after every
 * input the sentinel and the directory holding it must be unchanged: no
 * request may reach outside the backing directory.  File sizes are capped
 * (RLIMIT_FSIZE) so no request can fill the disk.
 */
#define _GNU_SOURCE
#include "../../fsd/fsd.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The sanitizers' runtime, linked by -fsanitize=address. */
void __sanitizer_set_death_callback(void (*callback)(void));

/* What fsd's modules take from main.c: the fuzzer builds in no userspace module. */
struct config fsd_config;
const struct user_module *const user_modules[] = { NULL };
static bool verbose;

void fsd_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	/* Formatted even when quiet: the sanitizers see every argument read. */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (verbose)
		fprintf(stderr, "fsd: %s\n", line);
}

void fsd_worker_exited(int err)
{
	(void)err;
}

#define FRAME_LEN_MASK	0x1fff
#define FRAME_FIX_LEN	0x2000
#define FRAME_FIX_UNIQUE 0x4000

/* Larger than any reply: FSD_MAX_WRITE of data and a header. */
#define REPLY_BUF (FSD_MAX_WRITE + 4096)

static char fence[64]; /* holds the sentinel and the backing dir */
static char root[96]; /* the backing dir */
static char sentinel[96];
static struct stat sentinel_st, fence_st;
static int sv[2];
static struct worker W;
static unsigned char *reply_buf;
static struct config base_config;
static bool exact_replies; /* the socket can carry the largest reply */

/* What the simulated kernel holds: lookups per nodeid, handles opened. */
static uint64_t *lookups;
static size_t lookups_len;
static uint64_t *fhs;
static size_t nfhs, fhs_cap;
static uint64_t next_unique;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The scratch tree goes with the process, whether it ends or crashes (the input replays it). */
static void fence_remove(void)
{
	if (fence[0])
		nftw(fence, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	fence[0] = '\0';
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz_request: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fence_remove();
	abort();
}

/* Empties a directory whatever the fuzzer made of it (modes 000 included). */
static void tree_clear(int dirfd)
{
	for (;;) {
		int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *e;
		bool removed = false, left = false;

		if (!d)
			die("reading the scratch tree: %s", strerror(errno));
		while ((e = readdir(d))) {
			int sub;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (unlinkat(dirfd, e->d_name, 0) == 0) {
				removed = true;
				continue;
			}
			fchmodat(dirfd, e->d_name, 0700, 0);
			sub = openat(dirfd, e->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				tree_clear(sub);
				close(sub);
			}
			if (unlinkat(dirfd, e->d_name, AT_REMOVEDIR) == 0)
				removed = true;
			else
				left = true;
		}
		closedir(d);
		if (!left)
			return;
		if (!removed)
			die("cannot empty the scratch tree: %s", strerror(errno));
	}
}

static void put(int dirfd, const char *name, const char *text, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die("creating %s: %s", name, strerror(errno));
	close(fd);
}

/* The small tree every input starts from. */
static void tree_reset(void)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), d;

	if (fd < 0)
		die("the backing dir is gone: %s", strerror(errno));
	fchmod(fd, 0755);
	if (geteuid() == 0 && fchown(fd, 0, 0) < 0)
		die("chown %s: %s", root, strerror(errno));
	tree_clear(fd);
	put(fd, "f", "hello fuzz\n", 0644);
	fsetxattr(fd, "user.x", "1", 1, 0); /* best effort: the fs may lack user xattrs */
	if (mkdirat(fd, "d", 0755) < 0 || (d = openat(fd, "d", O_RDONLY | O_DIRECTORY)) < 0)
		die("mkdir d: %s", strerror(errno));
	put(d, "g", "g\n", 0600);
	close(d);
	if (mkdirat(fd, "x", 0700) < 0 || symlinkat("f", fd, "ln") < 0 ||
	    symlinkat("../sentinel", fd, "out") < 0 || symlinkat(sentinel, fd, "abs") < 0 ||
	    linkat(fd, "f", fd, "h", 0) < 0 || mkfifoat(fd, "p", 0644) < 0)
		die("making the scratch tree: %s", strerror(errno));
	close(fd);
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_uid == b->st_uid &&
	       a->st_gid == b->st_gid && a->st_size == b->st_size && a->st_nlink == b->st_nlink &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Nothing outside the backing dir may change. */
static void confinement_check(void)
{
	struct stat st;

	if (lstat(sentinel, &st) < 0 || !same_stat(&st, &sentinel_st))
		die("the sentinel outside the backing dir changed: a request escaped it");
	if (lstat(fence, &st) < 0 || !same_stat(&st, &fence_st))
		die("the directory holding the backing dir changed: a request escaped it");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rlimit fsize = { 16 << 20, 16 << 20 };
	char *args[] = { "fsd", "--dev-fd", "3", "/", NULL };
	char err[256];
	int size = 4 << 20, got = 0;
	socklen_t len = sizeof(got);
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	signal(SIGPIPE, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &fsize) < 0)
		die("RLIMIT_FSIZE: %s", strerror(errno));

	snprintf(fence, sizeof(fence), "%s/fsd-fuzz.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(fence))
		die("mkdtemp %s: %s", fence, strerror(errno));
	atexit(fence_remove);
	__sanitizer_set_death_callback(fence_remove);
	chmod(fence, 0755);
	snprintf(root, sizeof(root), "%s/root", fence);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", fence);
	if (mkdir(root, 0755) < 0)
		die("mkdir %s: %s", root, strerror(errno));
	put(AT_FDCWD, sentinel, "outside the backing dir\n", 0644);
	if (lstat(sentinel, &sentinel_st) < 0 || lstat(fence, &fence_st) < 0)
		die("stat %s: %s", fence, strerror(errno));

	if (options_parse(4, args, &base_config, err, sizeof(err)))
		die("options: %s", err);
	base_config.backing_dir = root;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	/* As --dev-fd: the daemon sends ioctls on it as two messages. */
	if (dev_given(sv[0]) < 0)
		die("dev_given: %s", strerror(errno));
	/* Root may pass net.core.wmem_max: then even a 1 MiB READ reply fits. */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &len);
	exact_replies = got >= (int)(2 * REPLY_BUF);
	if (!exact_replies)
		fprintf(stderr, "fuzz_request: socket buffer %d bytes: large replies may not fit, "
				"a missing reply is not checked (run as root to check it)\n",
			got);
	W.fd = sv[0];
	W.out_buf = malloc(FSD_MAX_WRITE);
	reply_buf = malloc(REPLY_BUF);
	if (!W.out_buf || !reply_buf)
		die("out of memory");
	return 0;
}

static void lookup_add(uint64_t nodeid)
{
	if (!nodeid)
		return;
	if (nodeid >= lookups_len) {
		size_t n = nodeid + 64;

		lookups = realloc(lookups, n * sizeof(*lookups));
		if (!lookups)
			die("out of memory");
		memset(lookups + lookups_len, 0, (n - lookups_len) * sizeof(*lookups));
		lookups_len = n;
	}
	lookups[nodeid]++;
}

static void fh_add(uint64_t fh)
{
	if (nfhs == fhs_cap) {
		fhs_cap = fhs_cap ? fhs_cap * 2 : 16;
		fhs = realloc(fhs, fhs_cap * sizeof(*fhs));
		if (!fhs)
			die("out of memory");
	}
	fhs[nfhs++] = fh;
}

static void lookup_drop(uint64_t nodeid, uint64_t n)
{
	if (nodeid < lookups_len && nodeid != FSD_ROOT_ID)
		lookups[nodeid] = n < lookups[nodeid] ? lookups[nodeid] - n : 0;
}

/*
 * The lookups a FORGET or BATCH_FORGET takes away, if the daemon accepts it
 * (request_decode: a session, the length right, the fixed struct whole; for
 * a batch, a count its payload holds).
 */
static void forget_account(const unsigned char *req, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)req;
	size_t rest;

	if (len < sizeof(*hdr) || !hdr->unique || hdr->len != len ||
	    len < sizeof(*hdr) + (size_t)hdr->total_extlen * 8 || !atomic_load(&fsd_initialized))
		return;
	rest = len - sizeof(*hdr) - (size_t)hdr->total_extlen * 8;
	if (hdr->opcode == FUSE_FORGET && rest >= sizeof(struct fuse_forget_in)) {
		const struct fuse_forget_in *in = (const void *)(req + sizeof(*hdr));

		lookup_drop(hdr->nodeid, in->nlookup);
	} else if (hdr->opcode == FUSE_BATCH_FORGET &&
		   rest >= sizeof(struct fuse_batch_forget_in)) {
		const struct fuse_batch_forget_in *in = (const void *)(req + sizeof(*hdr));
		const struct fuse_forget_one *one = (const void *)(in + 1);

		if (in->count > (rest - sizeof(*in)) / sizeof(*one))
			return;
		for (uint32_t i = 0; i < in->count; i++)
			lookup_drop(one[i].nodeid, one[i].nlookup);
	}
}

/* Every node the kernel holds a lookup on is still in the table. */
static void lookups_check(void)
{
	for (size_t id = 0; id < lookups_len; id++) {
		struct node *n;

		if (!lookups[id])
			continue;
		n = node_get(id);
		if (!n)
			die("node %zu is gone while the kernel holds %llu lookups on it", id,
			    (unsigned long long)lookups[id]);
		node_put(n);
	}
}

/* Where the fh fields of an opcode's fixed struct are (-1: none). */
static void fh_offsets(uint32_t opcode, int off[2])
{
	off[0] = off[1] = -1;
	switch (opcode) {
	case FUSE_READ:
	case FUSE_WRITE:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FLUSH:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
	case FUSE_FALLOCATE:
	case FUSE_LSEEK:
		off[0] = 0;
		break;
	case FUSE_GETATTR:
	case FUSE_SETATTR:
	case FUSEBPF_OP_STATX:
		off[0] = 8;
		break;
	case FUSE_COPY_FILE_RANGE:
		off[0] = offsetof(struct fuse_copy_file_range_in, fh_in);
		off[1] = offsetof(struct fuse_copy_file_range_in, fh_out);
		break;
	}
}

/* fh 1..N means the Nth handle this input opened. */
static void fh_translate(unsigned char *req, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)req;
	int off[2];

	fh_offsets(hdr->opcode, off);
	for (int i = 0; i < 2; i++) {
		size_t at = sizeof(*hdr) + off[i];
		uint64_t v;

		if (off[i] < 0 || at + sizeof(v) > len)
			continue;
		memcpy(&v, req + at, sizeof(v));
		if (v >= 1 && v <= nfhs)
			memcpy(req + at, &fhs[v - 1], sizeof(v));
	}
}

static bool no_reply_opcode(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET ||
	       opcode == FUSE_INTERRUPT || opcode == FUSE_NOTIFY_REPLY;
}

/*
 * The payload sizes the kernel accepts (copy_out_args): exact for a fixed
 * reply struct, up to the buffer it offered for variable ones.  -1: any
 * size up to max.
 */
static bool payload_size_ok(const unsigned char *req, size_t n)
{
	const struct fuse_in_header *hdr = (const void *)req;
	const void *in = req + sizeof(*hdr);

	/* A FUSE-BPF kernel's filter calls: the input (with names) or the output back. */
	if (hdr->opcode & FUSEBPF_PREFILTER_CALL)
		return n <= hdr->len - sizeof(*hdr);
	if (hdr->opcode & FUSEBPF_POSTFILTER_CALL)
		return n <= sizeof(union fusebpf_out);
	switch (hdr->opcode) {
	case FUSE_LOOKUP:
		/* To a FUSE-BPF kernel: BACKING, and BPF or REMOVE_BPF, entries follow. */
		if (fsd_bpf_kernel && n > sizeof(struct fuse_entry_out))
			return n == sizeof(struct fuse_entry_out) +
					    sizeof(struct fusebpf_lookup_entry) ||
			       n == sizeof(struct fuse_entry_out) +
					    2 * sizeof(struct fusebpf_lookup_entry);
		return n == sizeof(struct fuse_entry_out);
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		return n == sizeof(struct fuse_entry_out);
	case FUSE_GETATTR:
	case FUSE_SETATTR:
		return n == sizeof(struct fuse_attr_out);
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		return n == sizeof(struct fuse_open_out);
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		return n == sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out);
	case FUSE_WRITE:
	case FUSE_COPY_FILE_RANGE:
		return n == sizeof(struct fuse_write_out);
	case FUSE_STATFS:
		return n == sizeof(struct fuse_statfs_out);
	case FUSE_LSEEK:
		return n == sizeof(struct fuse_lseek_out);
	case FUSEBPF_OP_STATX:
		return n == sizeof(struct fusebpf_statx_out);
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR: {
		const struct fuse_getxattr_in *g = in;

		return g->size ? n <= g->size : n == sizeof(struct fuse_getxattr_out);
	}
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return n <= ((const struct fuse_read_in *)in)->size;
	case FUSE_READLINK:
		return n < 4096; /* a page, less its NUL */
	case FUSE_INIT:
		return n <= sizeof(struct fuse_init_out);
	default:
		return n == 0;
	}
}

/* READDIRPLUS records: well formed, and each nodeid is a lookup handed over. */
static void direntplus_walk(const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;

	while (p < end) {
		const struct fuse_direntplus *dp = (const void *)p;
		size_t reclen;

		if ((size_t)(end - p) < FUSE_NAME_OFFSET_DIRENTPLUS)
			die("READDIRPLUS: a record cut in its header");
		reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + dp->dirent.namelen);
		if (dp->dirent.namelen == 0 || dp->dirent.namelen > NAME_MAX ||
		    reclen > (size_t)(end - p))
			die("READDIRPLUS: a record of namelen %u past the reply",
			    dp->dirent.namelen);
		if (memchr(dp->dirent.name, '/', dp->dirent.namelen) ||
		    memchr(dp->dirent.name, '\0', dp->dirent.namelen))
			die("READDIRPLUS: a name with '/' or NUL");
		lookup_add(dp->entry_out.nodeid);
		p += reclen;
	}
}

/* What the kernel keeps from a successful reply: lookups and open handles. */
static void reply_account(uint32_t opcode, const unsigned char *p, size_t n)
{
	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		lookup_add(((const struct fuse_entry_out *)p)->nodeid);
		break;
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		lookup_add(((const struct fuse_entry_out *)p)->nodeid);
		fh_add(((const struct fuse_open_out *)(p + sizeof(struct fuse_entry_out)))->fh);
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		fh_add(((const struct fuse_open_out *)p)->fh);
		break;
	case FUSE_READDIRPLUS:
		direntplus_walk(p, n);
		break;
	}
}

/* Processes one request and checks its reply, or that it has none. */
static void request_run(const unsigned char *req, size_t len)
{
	const struct fuse_in_header *hdr = (const void *)req;
	const struct fuse_out_header *out = (const void *)reply_buf;
	bool want_reply = len >= sizeof(*hdr) && hdr->unique && !no_reply_opcode(hdr->opcode);
	bool via_ioctl;
	ssize_t n;

	forget_account(req, len);
	request_process(&W, (const char *)req, len);
	n = recv(sv[1], reply_buf, REPLY_BUF, MSG_DONTWAIT | MSG_TRUNC);
	/* An ioctl's marker (fsd/dev.c): its argument, the reply, is the next message. */
	via_ioctl = n == sizeof(struct fusebpf_sim_ioctl) && !out->unique && !out->error;
	if (via_ioctl) {
		const struct fusebpf_sim_ioctl *m = (const void *)reply_buf;
		uint32_t cmd = m->cmd;

		n = recv(sv[1], reply_buf, REPLY_BUF, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 || cmd != FUSEBPF_DEV_IOC_BPF_RESPONSE(n))
			die("%s: an ioctl %#x without its %zd-byte argument",
			    opcode_name(hdr->opcode), cmd, n);
	}
	if (n < 0) {
		if (errno != EAGAIN)
			die("recv: %s", strerror(errno));
		if (want_reply && exact_replies)
			die("no reply to %s (unique %llu, %zu bytes)", opcode_name(hdr->opcode),
			    (unsigned long long)hdr->unique, len);
		return;
	}
	if (!want_reply)
		die("a reply to a request that gets none (%zu bytes, opcode %u)", len,
		    len >= sizeof(*hdr) ? hdr->opcode : 0);
	/* An INIT of the other byte order gets its error in that order: nothing else to check. */
	if (len >= sizeof(*hdr) && hdr->opcode == FUSE_INIT_BSWAP_RESERVED &&
	    n == sizeof(*out) && __builtin_bswap32(out->len) == sizeof(*out))
		return;
	if ((size_t)n < sizeof(*out) || (size_t)n > REPLY_BUF || out->len != (size_t)n)
		die("%s: a %zd-byte reply whose header says %u", opcode_name(hdr->opcode), n,
		    (size_t)n >= sizeof(*out) ? out->len : 0);
	if (out->unique != hdr->unique)
		die("%s: reply to unique %llu, expected %llu", opcode_name(hdr->opcode),
		    (unsigned long long)out->unique, (unsigned long long)hdr->unique);
	if (out->error > 0 || out->error <= -512)
		die("%s: error %d is no errno", opcode_name(hdr->opcode), out->error);
	if (out->error && n != sizeof(*out))
		die("%s: error %d with a payload", opcode_name(hdr->opcode), out->error);
	if (!out->error && !payload_size_ok(req, n - sizeof(*out)))
		die("%s: a %zd-byte payload the kernel would refuse", opcode_name(hdr->opcode),
		    n - (ssize_t)sizeof(*out));
	/* An RFC kernel takes a LOOKUP reply with entries by the ioctl only, and nothing else so. */
	if (via_ioctl != (hdr->opcode == FUSE_LOOKUP && !out->error &&
			  (size_t)n > sizeof(*out) + sizeof(struct fuse_entry_out)))
		die("%s: a %zd-byte reply %s", opcode_name(hdr->opcode), n,
		    via_ioctl ? "sent by FUSE_DEV_IOC_BPF_RESPONSE" : "with LOOKUP entries written");
	if (!out->error)
		reply_account(hdr->opcode, reply_buf + sizeof(*out), n - sizeof(*out));
	if (recv(sv[1], reply_buf, REPLY_BUF, MSG_DONTWAIT) >= 0)
		die("%s: two replies to one request", opcode_name(hdr->opcode));
}

static void request_check(const unsigned char *req, size_t len)
{
	request_run(req, len);
	lookups_check();
}

/* Builds a request of the simulated kernel in an exact-size buffer and runs it. */
static void kernel_send(uint32_t opcode, uint64_t nodeid, const void *arg, size_t arg_len)
{
	size_t len = sizeof(struct fuse_in_header) + arg_len;
	unsigned char *req = malloc(len);
	struct fuse_in_header hdr = {
		.len = len, .opcode = opcode, .unique = next_unique += 2, .nodeid = nodeid
	};

	if (!req)
		die("out of memory");
	memcpy(req, &hdr, sizeof(hdr));
	memcpy(req + sizeof(hdr), arg, arg_len);
	request_run(req, len);
	free(req);
}

static void kernel_init(uint8_t cfg)
{
	bool old = cfg & 0x80;
	uint64_t flags = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC |
			 FUSE_BIG_WRITES | FUSE_DONT_MASK | FUSE_DO_READDIRPLUS |
			 FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS |
			 FUSE_POSIX_ACL | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS;
	struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION, .minor = old ? 31 : 45 };

	struct fusebpf_init_in ext = { 0 };

	if (!old)
		flags |= FUSE_HANDLE_KILLPRIV_V2 | FUSE_INIT_EXT | FUSEBPF_DIRECT_IO_ALLOW_MMAP |
			 (cfg & 0x20 ? FUSEBPF_INIT_BPF | FUSEBPF_INIT_ARCH : FUSEBPF_PASSTHROUGH);
	in.flags = (uint32_t)flags;
	in.flags2 = (uint32_t)(flags >> 32);
	in.max_readahead = 128 * 1024;
	memcpy(&ext, &in, sizeof(in));
	ext.bpf_backing_ops = FUSEBPF_FILTERABLE_OPS;
	ext.arch = EM_AARCH64;
	kernel_send(FUSE_INIT, 0, &ext, old ? 16 : sizeof(ext));
}

/* Unmount, as the kernel does it: release every handle, forget every lookup. */
static void kernel_unmount(void)
{
	struct fuse_batch_forget_in *batch;
	struct fuse_forget_one *one;
	size_t count = 0;
	struct node_stats ns;

	/* Whatever the input did to the session, the kernel's last words are heard. */
	atomic_store(&fsd_initialized, 1);
	for (size_t i = 0; i < nfhs; i++) {
		struct fuse_release_in rel = { .fh = fhs[i] };

		kernel_send(FUSE_RELEASE, FSD_ROOT_ID, &rel, sizeof(rel));
	}
	batch = calloc(1, sizeof(*batch) + lookups_len * sizeof(*one));
	if (!batch)
		die("out of memory");
	one = (void *)(batch + 1);
	for (size_t id = 0; id < lookups_len; id++)
		if (lookups[id])
			one[count++] = (struct fuse_forget_one){ id, lookups[id] };
	batch->count = count;
	kernel_send(FUSE_BATCH_FORGET, 0, batch, sizeof(*batch) + count * sizeof(*one));
	free(batch);

	node_stats(&ns);
	if (handle_count())
		die("%llu handles left after every handle the kernel got was released",
		    (unsigned long long)handle_count());
	if (ns.nodes != 1)
		die("%llu nodes left after every lookup the kernel got was forgotten: the daemon "
		    "holds lookups it never handed over",
		    (unsigned long long)ns.nodes);
}

static void config_apply(uint8_t cfg)
{
	static const enum cache_mode modes[4] = { CACHE_NEVER, CACHE_AUTO, CACHE_ALWAYS,
						  CACHE_ALWAYS };

	fsd_config = base_config;
	fsd_config.debug = cfg & 0x01;
	fsd_config.cache = modes[(cfg >> 1) & 3];
	fsd_config.negative_timeout = cfg & 0x08 ? 1.5 : 0;
	fsd_config.default_permissions = !(cfg & 0x40);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool xfsz_ignored;
	uint8_t cfg;
	int err;

	/* libFuzzer installs its own SIGXFSZ handler after LLVMFuzzerInitialize. */
	if (!xfsz_ignored) {
		signal(SIGXFSZ, SIG_IGN); /* a write past RLIMIT_FSIZE gets EFBIG instead */
		xfsz_ignored = true;
	}
	if (size < 1)
		return 0;
	cfg = data[0];
	data++;
	size--;

	tree_reset();
	config_apply(cfg);
	err = node_table_init(root, 64);
	if (err)
		die("node_table_init %s: %s", root, strerror(-err));
	atomic_store(&fsd_initialized, 0);
	fsd_passthrough = 0;
	fsd_dont_mask = 0;
	fsd_bpf_kernel = cfg & 0x20;
	fsd_bpf_init = false;
	fsd_client_arch = NULL;
	nfhs = 0;
	if (lookups)
		memset(lookups, 0, lookups_len * sizeof(*lookups));
	next_unique = 0;

	if (!(cfg & 0x10))
		kernel_init(cfg);

	while (size >= 2) {
		uint16_t word = data[0] | data[1] << 8;
		size_t len = word & FRAME_LEN_MASK;
		unsigned char *req;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (len == 0)
			continue; /* on a socket, an empty message is the end of the connection */
		req = malloc(len);
		if (!req)
			die("out of memory");
		memcpy(req, data, len);
		data += len;
		size -= len;
		if ((word & FRAME_FIX_LEN) && len >= sizeof(uint32_t)) {
			uint32_t l = len;

			memcpy(req, &l, sizeof(l));
		}
		if ((word & FRAME_FIX_UNIQUE) && len >= 16) {
			uint64_t u = next_unique += 2;

			memcpy(req + 8, &u, sizeof(u));
		}
		if (len >= sizeof(struct fuse_in_header))
			fh_translate(req, len);
		request_check(req, len);
		free(req);
	}

	kernel_unmount();
	node_table_destroy();
	confinement_check();
	return 0;
}
