// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * readonly: the mount below this policy cannot be changed.  Every opcode
 * that would change the backing filesystem fails with EROFS at its
 * prefilter, as on a read-only mount; opens for writing or truncation fail
 * the same way, so that WRITE, which passthrough would never show us, cannot
 * happen.  Reads stay on the passthrough fast path.
 */
#include <fusebpf/policy.bpf.h>

#include <asm-generic/fcntl.h>

FUSEBPF_POLICY("readonly");

#define DENY(op)                                                                                   \
	FUSEBPF_PREFILTER(op)                                                                      \
	{                                                                                          \
		return -EROFS;                                                                     \
	}

DENY(setattr)
DENY(symlink)
DENY(mknod)
DENY(mkdir)
DENY(unlink)
DENY(rmdir)
DENY(rename)
DENY(rename2)
DENY(link)
DENY(create)
DENY(tmpfile)
DENY(setxattr)
DENY(removexattr)
DENY(fallocate)
DENY(copy_file_range)

FUSEBPF_PREFILTER(open)
{
	__u32 flags = ctx->in.open.flags;

	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return -EROFS;
	return FUSEBPF_CONTINUE;
}
