// SPDX-License-Identifier: MIT
/*
 * Filesystem-wide opcodes: INIT (protocol negotiation), DESTROY, STATFS,
 * INTERRUPT, and the FORGET family that releases the kernel's lookups.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include "arch.h"

#include <elf.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/statfs.h>

#define FSD_MINOR_OLDEST 31 /* the oldest kernel protocol we serve */
#define FSD_MINOR 45 /* the protocol we speak */

int fsd_dont_mask;
bool fsd_export;
bool fsd_setxattr_ext;
bool fsd_bpf_kernel;
bool fsd_bpf_init;
unsigned int fsd_kernel_minor;
const struct arch *fsd_client_arch;

/*
 * The opcode masks (FUSEBPF_INIT_BPF), from a FUSE-BPF kernel that offers
 * them (fusebpf.ko; an RFC kernel does not): it lists the opcodes it can do
 * on backing files, the daemon answers with those that go to it when no
 * filter decides.  Taken only in FUSE-BPF mode, which the mount chose.
 */
static void init_bpf(const struct fusebpf_init_in *in, struct fusebpf_init_out *out)
{
	double cache = fmin(fsd_config.entry_timeout, fsd_config.attr_timeout);

	fsd_bpf_init = true;
	/* Every opcode's default: also of those the kernel sends us to do (FUSEBPF_IN_BACKING). */
	out->bpf_user_ops = fsd_config.user_ops & FUSEBPF_FILTERABLE_OPS;
	/* What a policy filtered in the kernel is cached as our replies are. */
	out->bpf_cache_ms = cache * 1000 < UINT32_MAX ? (uint32_t)(cache * 1000) : UINT32_MAX;
	if (fsd_config.debug)
		fsd_log("INIT: FUSE-BPF kernel, backing ops %#llx, user ops %#llx, cache %u ms",
			(unsigned long long)in->bpf_backing_ops,
			(unsigned long long)out->bpf_user_ops, out->bpf_cache_ms);
}

/*
 * A client that says its architecture (FUSEBPF_INIT_ARCH): translate its
 * open flags and our errnos if we know it, else ask for x86-64's values if
 * it can send them, else take its values as ours, and say so once.
 */
static void init_arch(const struct fusebpf_init_in *in, struct fusebpf_init_out *out)
{
	const struct arch *a = arch_find(in->arch);

	if (a == arch_native()) {
		out->arch_mode = FUSEBPF_ARCH_NATIVE;
	} else if (a) {
		out->arch_mode = FUSEBPF_ARCH_TRANSLATE;
		fsd_client_arch = a;
	} else if (in->arch_flags & FUSEBPF_ARCH_CAN_CANONICAL) {
		out->arch_mode = FUSEBPF_ARCH_CANONICAL;
		a = arch_find(EM_X86_64);
		if (a != arch_native())
			fsd_client_arch = a;
	} else {
		out->arch_mode = FUSEBPF_ARCH_NATIVE;
		fsd_log("INIT: client architecture %u (ELF e_machine) is unknown: its open flags "
			"and errnos are taken as this machine's, untranslated", in->arch);
	}
	if (fsd_config.debug)
		fsd_log("INIT: client architecture %u, mode %u%s%s", in->arch, out->arch_mode,
			fsd_client_arch ? ", translating " : "",
			fsd_client_arch ? arch_name(fsd_client_arch) : "");
}
atomic_int fsd_initialized;

/* INIT features we ask for when the kernel offers them. */
static uint64_t init_wanted(void)
{
	/* DIRECT_IO_ALLOW_MMAP: cache=never files (FOPEN_DIRECT_IO) can be mmapped. */
	uint64_t want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
			FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS |
			FUSE_MAX_PAGES | FUSE_ASYNC_DIO | FUSE_INIT_EXT |
			FUSEBPF_DIRECT_IO_ALLOW_MMAP;

	/*
	 * The kernel keeps symlink targets for every caller alike, out of
	 * reach of a policy's per-caller decisions (FUSEBPF_REPLY_NO_CACHE):
	 * with a policy, READLINK always reaches the daemon.
	 */
	if (fsd_config.cache != CACHE_NEVER && !fsd_config.policy[0])
		want |= FUSE_CACHE_SYMLINKS;
	if (fsd_config.passthrough)
		want |= FUSEBPF_PASSTHROUGH;
	/*
	 * The daemon clears setuid/setgid/capabilities on unprivileged writes:
	 * the kernel then stops asking for security.capability on every write.
	 */
	want |= FUSE_HANDLE_KILLPRIV_V2;
	/*
	 * SETXATTR then carries setxattr_flags: FUSE_SETXATTR_ACL_KILL_SGID
	 * says when setting the access ACL must clear setgid, which the
	 * daemon, setting it as root, would otherwise keep.
	 */
	want |= FUSE_SETXATTR_EXT;
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
	/*
	 * File handles that open their inode even after the kernel forgot it
	 * (FUSE_EXPORT_SUPPORT: the nodeid carries the backing handle), or
	 * none at all rather than handles that go stale (a kernel of 7.40
	 * on).  A policy or a module decides by the names on the way to an
	 * inode, and a handle skips them: no handles under one, nor under a
	 * FUSE-BPF kernel, whose filters decide by names too.
	 */
	if (node_exportable() && !fsd_config.policy[0] && !fsd_config.user && !fsd_bpf_kernel)
		want |= FUSE_EXPORT_SUPPORT;
	else
		want |= FUSEBPF_NO_EXPORT_SUPPORT;
	return want;
}

/*
 * fuse_init_in: a 16-byte head (major, minor, max_readahead, flags) that
 * every kernel sends, then flags2 and reserved words from 7.36 on; a later
 * kernel's longer struct is read as far as we know it.  Only an answered 7.x
 * INIT starts the session (request_decode refuses anything else before it,
 * and a second INIT after it).
 */
OP_HANDLER(op_init)
{
	const struct fuse_init_in *in = req->in;
	struct fusebpf_init_out *out = &req->arg.init;
	uint64_t offered = in->flags, granted, ext;

	memset(out, 0, sizeof(*out));
	out->major = FUSE_KERNEL_VERSION;
	out->minor = FSD_MINOR;
	if (in->major > FUSE_KERNEL_VERSION) {
		/*
		 * The protocol's rule: answer our major, ignore the rest, and
		 * expect a new INIT in our major.  Only the 7.0 head (major,
		 * minor) has the same layout in every version, and the kernel
		 * reads the INIT reply as a variable-length argument (a short
		 * one is zero-filled), so that is all we send.
		 */
		reply_arg(req, FUSE_COMPAT_INIT_OUT_SIZE);
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
	/* The masks are a FUSE-BPF mount's: a kernel=fuse daemon runs the filters itself. */
	ext = offered & FUSEBPF_INIT_ARCH;
	if (fsd_bpf_kernel)
		ext |= offered & FUSEBPF_INIT_BPF;
	else if (offered & FUSEBPF_INIT_BPF)
		fsd_log("INIT: the kernel offers FUSE-BPF's opcode masks, but fsd runs the filters "
			"itself (kernel=%s): declined", kernel_mode_name(fsd_config.kernel));

	out->max_readahead = in->max_readahead;
	out->flags = (uint32_t)granted;
	out->flags2 = (uint32_t)(granted >> 32);
	out->max_background = 64;
	out->congestion_threshold = 48;
	out->max_write = FSD_MAX_WRITE;
	out->time_gran = 1;
	out->max_pages = FSD_MAX_PAGES;
	fsd_dont_mask = !!(granted & FUSE_DONT_MASK);
	fsd_export = granted & FUSE_EXPORT_SUPPORT;
	fsd_setxattr_ext = granted & FUSE_SETXATTR_EXT;
	fsd_kernel_minor = in->minor;
	if (granted & FUSEBPF_PASSTHROUGH) {
		/* Depth 1: backing files on a plain fs; we may sit under overlayfs. */
		out->max_stack_depth = 1;
		fsd_passthrough = 1;
	}
	/* The extensions read words of the 64-byte fuse_init_in: only when it is whole. */
	if (ext && 16 + req->data_len >= sizeof(struct fusebpf_init_in)) {
		struct fusebpf_init_in whole;

		memcpy(&whole, in, 16);
		memcpy((char *)&whole + 16, req->data, sizeof(whole) - 16);
		if (ext & FUSEBPF_INIT_BPF)
			init_bpf(&whole, out);
		if (ext & FUSEBPF_INIT_ARCH)
			init_arch(&whole, out);
		granted |= ext;
		out->flags2 = (uint32_t)(granted >> 32);
	}
	atomic_store(&fsd_initialized, 1);
	/*
	 * The ring threads register once the kernel has processed this reply
	 * (until then it refuses them with EAGAIN, and they retry).
	 */
	if (uring_wanted())
		uring_negotiated(granted & FUSEBPF_OVER_IO_URING);
	if (fsd_config.debug)
		fsd_log("INIT: kernel %u.%u, protocol 7.%u, flags %#llx of %#llx offered, passthrough %s, "
			"io_uring %s, kernel mode %s%s",
		in->major, in->minor, in->minor < FSD_MINOR ? in->minor : FSD_MINOR,
		(unsigned long long)granted, (unsigned long long)offered,
		fsd_passthrough ? "on" : "off", granted & FUSEBPF_OVER_IO_URING ? "on" : "off",
		kernel_mode_name(fsd_config.kernel),
		!fsd_bpf_kernel ? "" : fsd_bpf_init ? " (opcode masks exchanged)" :
						      " (no opcode masks offered)");
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
