// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The worked example of docs/abi.md: names that start with a dot are
 * invisible, and none can be made.  LOOKUP refuses them, and with them the
 * listings leave them out (the daemon asks the LOOKUP prefilter about every
 * name it lists); every opcode that makes or renames a name refuses one.
 */
#include <fusebpf/policy.bpf.h>

FUSEBPF_POLICY("nodots");

FUSEBPF_PREFILTER(lookup)
{
	return ctx->name[0] == '.' ? -ENOENT : FUSEBPF_CONTINUE;
}

/* Making a name, or renaming to one. */
#define NO_DOTS(op)                                                                                \
	FUSEBPF_PREFILTER(op)                                                                      \
	{                                                                                          \
		return ctx->name[0] == '.' ? -EPERM : FUSEBPF_CONTINUE;                            \
	}
NO_DOTS(create)
NO_DOTS(mkdir)
NO_DOTS(mknod)
NO_DOTS(symlink)
NO_DOTS(link)

FUSEBPF_PREFILTER(rename)
{
	return ctx->name2[0] == '.' ? -EPERM : FUSEBPF_CONTINUE;
}

FUSEBPF_PREFILTER(rename2)
{
	return ctx->name2[0] == '.' ? -EPERM : FUSEBPF_CONTINUE;
}
