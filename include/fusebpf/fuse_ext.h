/* SPDX-License-Identifier: MIT */
/*
 * FUSE wire definitions that Debian 12's <linux/fuse.h> (protocol 7.38)
 * lacks and fsd uses, from the protocol versions after it (fsd speaks 7.45;
 * nothing it uses changed after 7.43).  Every value is the kernel's.
 *
 * Changelog of what this header adds over 7.38:
 *   7.39  FUSE_STATX and its structs, FUSE_DIRECT_IO_ALLOW_MMAP
 *   7.40  FUSE_PASSTHROUGH, max_stack_depth in fuse_init_out, backing_id in
 *         fuse_open_out, FOPEN_PASSTHROUGH, the backing ioctls,
 *         FUSE_NO_EXPORT_SUPPORT
 *   7.42  FUSE_OVER_IO_URING and the io_uring ring entry structs and commands
 *   7.43  request_timeout in fuse_init_out (fsd leaves it 0)
 *
 * and, in the second half, what a FUSE-BPF kernel speaks (docs/abi.md, "The
 * wire to a FUSE-BPF kernel"): the RFC's (v3/v4) filter calls, their
 * FUSE_ERROR_IN request extension, LOOKUP entries and the ioctl that carries
 * them, which fsd uses in FUSE-BPF mode (-o kernel=fusebpf|rfc); then this
 * project's own INIT extensions, words of fuse_init_in and fuse_init_out that
 * mainline leaves unused and flags2 bits at the top of the range, used only
 * when the kernel offered them at INIT.
 */
#ifndef FUSEBPF_FUSE_EXT_H
#define FUSEBPF_FUSE_EXT_H

/*
 * BPF programs include it too (filter.h), and fusebpf.ko (kernel/); the
 * ioctls are not for BPF.
 */
#include <linux/fuse.h>
#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/ioctl.h>
#else
#include <stdint.h>
#endif

/* INIT flags (flags2 is bits 32..63, sent only with FUSE_INIT_EXT). */
#define FUSEBPF_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#define FUSEBPF_PASSTHROUGH	     (1ULL << 37)
/* No file handles: name_to_handle_at fails with EOPNOTSUPP (except for fids). */
#define FUSEBPF_NO_EXPORT_SUPPORT    (1ULL << 38)
#define FUSEBPF_OVER_IO_URING	     (1ULL << 41)

/* The first minor version that carries passthrough. */
#define FUSEBPF_MINOR_PASSTHROUGH 40
/* The first minor version that carries FUSE over io_uring. */
#define FUSEBPF_MINOR_OVER_IO_URING 42

/* Open reply flag: read/write/mmap go to the backing file (7.40). */
#define FUSEBPF_FOPEN_PASSTHROUGH (1 << 7)

/* Opcodes after 7.38. */
#define FUSEBPF_OP_STATX 52

/*
 * fuse_init_out as of 7.43: the 7.38 unused[7] became max_stack_depth,
 * request_timeout and padding.  Same 64-byte size.
 */
struct fusebpf_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
	uint16_t request_timeout;
	uint16_t unused0;
	uint32_t unused1;
	/* Unused by mainline; this project's extensions, when negotiated: */
	uint64_t bpf_user_ops; /* FUSEBPF_INIT_BPF: the opcodes that default to the userspace handler */
	uint32_t arch_mode; /* FUSEBPF_INIT_ARCH: FUSEBPF_ARCH_* */
	uint32_t bpf_cache_ms; /* FUSEBPF_INIT_BPF: how long filtered entries and attributes stay cached */
};
_Static_assert(sizeof(struct fusebpf_init_out) == 64, "fuse_init_out is 64 bytes");
_Static_assert(__builtin_offsetof(struct fusebpf_init_out, bpf_user_ops) == 48, "at 48");
_Static_assert(sizeof(struct fusebpf_init_out) == sizeof(struct fuse_init_out),
	       "same size as the 7.38 layout");

/*
 * fuse_init_in as of 7.36 (flags2, then unused words), with the words this
 * project's extensions use.
 */
struct fusebpf_init_in {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint32_t flags2;
	uint32_t unused0;
	/* Unused by mainline; this project's extensions, when the flags2 bit is set: */
	uint64_t bpf_backing_ops; /* FUSEBPF_INIT_BPF: opcodes the kernel can do on backing files */
	uint32_t arch; /* FUSEBPF_INIT_ARCH: the client's ELF e_machine */
	uint32_t arch_flags; /* FUSEBPF_ARCH_CAN_CANONICAL */
	uint32_t unused[6];
};
_Static_assert(sizeof(struct fusebpf_init_in) == 64, "fuse_init_in is 64 bytes");
_Static_assert(__builtin_offsetof(struct fusebpf_init_in, bpf_backing_ops) == 24, "at 24");

/* fuse_open_out as of 7.40: padding became backing_id. */
struct fusebpf_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};
_Static_assert(sizeof(struct fusebpf_open_out) == sizeof(struct fuse_open_out),
	       "same size as the 7.38 layout");

/* FUSE_DEV_IOC_BACKING_OPEN argument (7.40). */
struct fusebpf_backing_map {
	int32_t fd;
	uint32_t flags; /* must be 0 */
	uint64_t padding; /* must be 0 */
};
_Static_assert(sizeof(struct fusebpf_backing_map) == 16, "fuse_backing_map is 16 bytes");

#ifndef __bpf__
#ifndef __KERNEL__
#include <sys/ioctl.h>
#endif

#define FUSEBPF_DEV_IOC_MAGIC 229
#ifndef FUSE_DEV_IOC_CLONE
#define FUSE_DEV_IOC_CLONE _IOR(FUSEBPF_DEV_IOC_MAGIC, 0, uint32_t)
#endif
#define FUSEBPF_DEV_IOC_BACKING_OPEN  _IOW(FUSEBPF_DEV_IOC_MAGIC, 1, struct fusebpf_backing_map)
#define FUSEBPF_DEV_IOC_BACKING_CLOSE _IOW(FUSEBPF_DEV_IOC_MAGIC, 2, uint32_t)
#endif /* !__bpf__ */

/* FUSE_STATX (7.39). */
struct fusebpf_sx_time {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};

struct fusebpf_statx {
	uint32_t mask;
	uint32_t blksize;
	uint64_t attributes;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint16_t mode;
	uint16_t spare0;
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;
	uint64_t attributes_mask;
	struct fusebpf_sx_time atime;
	struct fusebpf_sx_time btime;
	struct fusebpf_sx_time ctime;
	struct fusebpf_sx_time mtime;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t spare2[14];
};
_Static_assert(sizeof(struct fusebpf_statx) == 256, "fuse_statx is 256 bytes");

struct fusebpf_statx_in {
	uint32_t getattr_flags;
	uint32_t reserved;
	uint64_t fh;
	uint32_t sx_flags;
	uint32_t sx_mask;
};
_Static_assert(sizeof(struct fusebpf_statx_in) == 24, "fuse_statx_in is 24 bytes");

struct fusebpf_statx_out {
	uint64_t attr_valid;
	uint32_t attr_valid_nsec;
	uint32_t flags;
	uint64_t spare[2];
	struct fusebpf_statx stat;
};
_Static_assert(sizeof(struct fusebpf_statx_out) == 288, "fuse_statx_out is 288 bytes");

/* ---- this project's extensions (docs/abi.md) ---- */

/*
 * INIT flags, at the top of the 64 (mainline is at bit 42): the kernel sets
 * them in fuse_init_in's flags2, the daemon in fuse_init_out's to accept.
 * FUSEBPF_INIT_BPF is the opcode masks' exchange (fusebpf.ko offers it, an
 * RFC kernel never does); it is not what makes a mount FUSE-BPF: the mount
 * is (root_dir=).
 */
#define FUSEBPF_INIT_BPF (1ULL << 63) /* the opcode masks: bpf_backing_ops, bpf_user_ops */
#define FUSEBPF_INIT_ARCH (1ULL << 62) /* the client says its architecture */

/*
 * fuse_in_header.padding of a request from fusebpf.ko, once FUSEBPF_INIT_BPF
 * is negotiated (0 from any other kernel).  FUSEBPF_IN_BACKING: the kernel
 * sends the request for its backing operation, which it does not do itself
 * (a verdict went on to it, or the kernel learns the daemon's node of an
 * inode it looked up), not for the userspace handler.
 */
#define FUSEBPF_IN_BACKING (1u << 0)

/* fusebpf_init_in.arch_flags: the client can send x86-64's values instead of its own. */
#define FUSEBPF_ARCH_CAN_CANONICAL (1u << 0)
/* fusebpf_init_out.arch_mode: what the daemon does with the client's values. */
enum fusebpf_arch_mode {
	FUSEBPF_ARCH_NATIVE = 0, /* nothing to translate: the same architecture, or unknown */
	FUSEBPF_ARCH_TRANSLATE = 1, /* the daemon translates the client's values */
	FUSEBPF_ARCH_CANONICAL = 2, /* the client sends x86-64's values */
};

/*
 * Filter calls of a FUSE-BPF kernel: the opcode with one of these OR-ed in;
 * the low 16 bits are the opcode filtered.  A postfilter call carries the
 * backing operation's error as a request extension (below).
 */
#define FUSEBPF_PREFILTER_CALL 0x10000u
#define FUSEBPF_POSTFILTER_CALL 0x20000u
#define FUSEBPF_OPCODE_MASK 0xffffu

/*
 * The RFC's request extension type for a postfilter call (after 7.38's
 * FUSE_MAX_NR_SECCTX 31 and FUSE_EXT_GROUPS 32).  Extensions are records at
 * the end of a request, after its arguments, that fuse_in_header.total_extlen
 * counts in 8-byte units; each starts with a struct fuse_ext_header whose
 * size is the record's, header included, a multiple of 8.
 */
#define FUSEBPF_EXT_ERROR_IN 33
struct fusebpf_ext_error_in {
	struct fuse_ext_header hdr; /* size 16, type FUSEBPF_EXT_ERROR_IN */
	int32_t error; /* the backing operation's 0 or -errno */
	uint32_t padding; /* 0: the record is rounded up to 8 bytes */
};
_Static_assert(sizeof(struct fusebpf_ext_error_in) == 16, "the error_in record is 16 bytes");

/* What follows fuse_entry_out in the LOOKUP reply to a FUSE-BPF kernel (up to two). */
enum fusebpf_entry_type {
	FUSEBPF_ENTRY_BACKING = 1, /* fd: the backing file or directory, an fd of the daemon */
	FUSEBPF_ENTRY_BPF = 2, /* name: the policy (ops table) of the node */
	FUSEBPF_ENTRY_REMOVE_BACKING = 3,
	FUSEBPF_ENTRY_REMOVE_BPF = 4, /* the node does not inherit its parent's policy */
};
struct fusebpf_lookup_entry {
	uint32_t entry_type;
	uint32_t unused; /* 0 */
	union {
		struct {
			uint64_t unused2; /* 0 */
			uint64_t fd;
		};
		char name[16];
	};
};
_Static_assert(sizeof(struct fusebpf_lookup_entry) == 24, "a lookup entry is 24 bytes");

#ifndef __bpf__
/*
 * A LOOKUP reply that carries entries is not written to the device: the
 * daemon hands the whole reply (fuse_out_header, fuse_entry_out, entries;
 * n bytes, at most a page) to the kernel with this ioctl, in its own
 * process, where the kernel takes the BACKING entry's fd.  The RFC's
 * _IOW(229, 125, char[n]), spelt without the array type.
 */
#define FUSEBPF_DEV_IOC_BPF_RESPONSE(n) _IOC(_IOC_WRITE, FUSEBPF_DEV_IOC_MAGIC, 125, (n))
#define FUSEBPF_BPF_RESPONSE_MAX 4096u
_Static_assert(FUSEBPF_DEV_IOC_BPF_RESPONSE(192) == _IOW(FUSEBPF_DEV_IOC_MAGIC, 125, char[192]),
	       "the RFC's ioctl number");

/*
 * The ioctl over a --dev-fd socket (a simulated kernel), where there is no
 * ioctl: the daemon sends this message, then the ioctl's argument as the
 * next message.  It is framed as a notification (unique 0) of code 0, which
 * no kernel sends or takes, so that the peer cannot mistake it for a reply;
 * the argument's bytes are the RFC's.  See fsd/dev.c.
 */
struct fusebpf_sim_ioctl {
	uint32_t len; /* 24 */
	int32_t code; /* 0 */
	uint64_t unique; /* 0 */
	uint32_t cmd; /* the ioctl request: FUSEBPF_DEV_IOC_BPF_RESPONSE(n) */
	uint32_t padding; /* 0 */
};
_Static_assert(sizeof(struct fusebpf_sim_ioctl) == 24, "the ioctl marker is 24 bytes");
#endif /* !__bpf__ */
/*
 * FUSE over io_uring (7.42).  Each ring entry is two buffers registered with
 * FUSEBPF_URING_CMD_REGISTER (an IORING_OP_URING_CMD on the FUSE device fd,
 * sqe->addr pointing at two iovecs, sqe->len 2): the header below, and a
 * payload buffer of at least max(8 KiB, max_write, max_pages pages).  The
 * kernel fills in_out with the fuse_in_header, op_in with the opcode's fixed
 * input struct (zero bytes for opcodes that have none) and the payload with
 * the rest of the request; the daemon answers with
 * FUSEBPF_URING_CMD_COMMIT_AND_FETCH: fuse_out_header in in_out, the reply's
 * arguments in the payload, their size in ring_ent_in_out.payload_sz.
 */
#define FUSEBPF_URING_IN_OUT_HEADER_SZ 128
#define FUSEBPF_URING_OP_IN_OUT_SZ     128

struct fusebpf_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* the request's unique, given back in the commit */
	uint32_t payload_sz; /* bytes used in the payload buffer, either way */
	uint32_t padding;
	uint64_t reserved;
};
_Static_assert(sizeof(struct fusebpf_uring_ent_in_out) == 32, "fuse_uring_ent_in_out is 32 bytes");

struct fusebpf_uring_req_header {
	char in_out[FUSEBPF_URING_IN_OUT_HEADER_SZ]; /* fuse_in_header, then fuse_out_header */
	char op_in[FUSEBPF_URING_OP_IN_OUT_SZ];
	struct fusebpf_uring_ent_in_out ring_ent_in_out;
};
_Static_assert(sizeof(struct fusebpf_uring_req_header) == 288,
	       "fuse_uring_req_header is 288 bytes");

/* io_uring_sqe.cmd_op values. */
enum fusebpf_uring_cmd {
	FUSEBPF_URING_CMD_INVALID = 0,
	FUSEBPF_URING_CMD_REGISTER = 1, /* register an entry; completes with its first request */
	FUSEBPF_URING_CMD_COMMIT_AND_FETCH = 2, /* reply, then wait for the next request */
};

/* In the 80-byte command area of a 128-byte SQE (IORING_SETUP_SQE128). */
struct fusebpf_uring_cmd_req {
	uint64_t flags; /* 0 */
	uint64_t commit_id; /* COMMIT_AND_FETCH: the commit_id of the request answered */
	uint16_t qid; /* the queue: the CPU whose requests it serves */
	uint8_t padding[6];
};
_Static_assert(sizeof(struct fusebpf_uring_cmd_req) == 24, "fuse_uring_cmd_req is 24 bytes");

#endif /* FUSEBPF_FUSE_EXT_H */
