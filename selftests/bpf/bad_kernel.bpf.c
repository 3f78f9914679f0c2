// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Refused by the verifier in kernel mode only: it writes a field of the
 * context that a filter may only read (nodeid; docs/abi.md).  The
 * verifier lets a daemon-mode program write the whole of its context;
 * fusebpf.ko refuses the write at load.
 */
#include <fusebpf/policy.bpf.h>

FUSEBPF_POLICY("bad_kernel");

FUSEBPF_PREFILTER(getattr)
{
	ctx->nodeid = 0;
	return FUSEBPF_CONTINUE;
}
