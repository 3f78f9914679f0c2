// SPDX-License-Identifier: MIT
/*
 * Filesystem-wide opcodes: INIT (protocol negotiation), DESTROY, STATFS,
 * INTERRUPT, and the FORGET family that releases the kernel's lookups.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <string.h>
#include <sys/statfs.h>

#define FSD_MINOR_OLDEST 31 /* the oldest kernel protocol we serve */
#define FSD_MINOR 45 /* the protocol we speak */

int fsd_dont_mask;

/* INIT features we ask for when the kernel offers them. */
static uint64_t init_wanted(void)
{
	/* DIRECT_IO_ALLOW_MMAP: cache=never files (FOPEN_DIRECT_IO) can be mmapped. */
	uint64_t want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
			FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS |
			FUSE_MAX_PAGES | FUSE_ASYNC_DIO | FUSE_INIT_EXT |
			FUSEBPF_DIRECT_IO_ALLOW_MMAP;

	if (fsd_config.cache != CACHE_NEVER)
		want |= FUSE_CACHE_SYMLINKS;
	if (fsd_config.passthrough)
		want |= FUSEBPF_PASSTHROUGH;
	/*
	 * The daemon clears setuid/setgid/capabilities on unprivileged writes:
	 * the kernel then stops asking for security.capability on every write.
	 */
	want |= FUSE_HANDLE_KILLPRIV_V2;
	/*
	 * The kernel then checks ACLs as a local fs does, and caches them;
	 * DONT_MASK leaves the umask to the backing filesystem, which applies
	 * it or a directory's default ACL (create_begin).
	 */
	if (fsd_config.default_permissions)
		want |= FUSE_POSIX_ACL | FUSE_DONT_MASK;
	/* Only with the rings made: once granted, requests wait for them. */
	if (uring_wanted())
		want |= FUSEBPF_OVER_IO_URING;
	return want;
}

/*
 * fuse_init_in: a 16-byte head (major, minor, max_readahead, flags) that
 * every kernel sends, then flags2 and reserved words from 7.36 on.
 */
OP_HANDLER(op_init)
{
	const struct fuse_init_in *in = req->in;
	struct fusebpf_init_out *out = &req->arg.init;
	uint64_t offered = in->flags, granted;

	memset(out, 0, sizeof(*out));
	out->major = FUSE_KERNEL_VERSION;
	out->minor = FSD_MINOR;
	if (in->major > FUSE_KERNEL_VERSION) {
		/* The kernel retries with our major: only major/minor count. */
		reply_arg(req, sizeof(*out));
		return 0;
	}
	if (in->major < FUSE_KERNEL_VERSION || in->minor < FSD_MINOR_OLDEST) {
		fsd_log("kernel FUSE protocol %u.%u is older than 7.%u: not supported", in->major,
			in->minor, FSD_MINOR_OLDEST);
		uring_negotiated(false);
		return -EPROTO;
	}
	if ((offered & FUSE_INIT_EXT) && req->data_len >= sizeof(uint32_t)) {
		uint32_t flags2;

		memcpy(&flags2, req->data, sizeof(flags2));
		offered |= (uint64_t)flags2 << 32;
	}
	granted = offered & init_wanted();
	if (in->minor < FUSEBPF_MINOR_PASSTHROUGH)
		granted &= ~FUSEBPF_PASSTHROUGH;
	if (in->minor < FUSEBPF_MINOR_OVER_IO_URING)
		granted &= ~FUSEBPF_OVER_IO_URING;

	out->max_readahead = in->max_readahead;
	out->flags = (uint32_t)granted;
	out->flags2 = (uint32_t)(granted >> 32);
	out->max_background = 64;
	out->congestion_threshold = 48;
	out->max_write = FSD_MAX_WRITE;
	out->time_gran = 1;
	out->max_pages = FSD_MAX_PAGES;
	fsd_dont_mask = !!(granted & FUSE_DONT_MASK);
	if (granted & FUSEBPF_PASSTHROUGH) {
		/* Depth 1: backing files on a plain fs; we may sit under overlayfs. */
		out->max_stack_depth = 1;
		fsd_passthrough = 1;
	}
	/*
	 * The ring threads register once the kernel has processed this reply
	 * (until then it refuses them with EAGAIN, and they retry).
	 */
	if (uring_wanted())
		uring_negotiated(granted & FUSEBPF_OVER_IO_URING);
	if (fsd_config.debug)
		fsd_log("INIT: kernel %u.%u, protocol 7.%u, flags %#llx of %#llx offered, passthrough %s, "
			"io_uring %s",
		in->major, in->minor, in->minor < FSD_MINOR ? in->minor : FSD_MINOR,
		(unsigned long long)granted, (unsigned long long)offered,
		fsd_passthrough ? "on" : "off", granted & FUSEBPF_OVER_IO_URING ? "on" : "off");
	reply_arg(req, sizeof(*out));
	return 0;
}

OP_HANDLER(op_destroy)
{
	(void)req;
	return 0;
}

OP_HANDLER(op_statfs)
{
	struct fuse_statfs_out *out = &req->arg.statfs;
	struct statfs sf;
	int fd = node_fd(req->node);

	if (fd < 0)
		return fd;
	if (fstatfs(fd, &sf) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	out->st.blocks = sf.f_blocks;
	out->st.bfree = sf.f_bfree;
	out->st.bavail = sf.f_bavail;
	out->st.files = sf.f_files;
	out->st.ffree = sf.f_ffree;
	out->st.bsize = sf.f_bsize;
	out->st.namelen = sf.f_namelen;
	out->st.frsize = sf.f_frsize;
	reply_arg(req, sizeof(*out));
	return 0;
}

/*
 * Backing syscalls are short and not restartable from here: the
 * interrupted request simply completes.  INTERRUPT itself has no reply.
 */
OP_HANDLER(op_interrupt)
{
	(void)req;
	return 0;
}

OP_HANDLER(op_forget)
{
	const struct fuse_forget_in *in = req->in;

	node_forget(req->hdr->nodeid, in->nlookup);
	return 0;
}

OP_HANDLER(op_batch_forget)
{
	const struct fuse_batch_forget_in *in = req->in;
	const struct fuse_forget_one *one = req->data;

	if ((size_t)in->count > req->data_len / sizeof(*one))
		return -EINVAL; /* no reply is sent; the log has it */
	for (uint32_t i = 0; i < in->count; i++)
		node_forget(one[i].nodeid, one[i].nlookup);
	return 0;
}
