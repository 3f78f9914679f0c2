// SPDX-License-Identifier: GPL-2.0 OR MIT
/* A program whose name names no filter: "frobnicate" is no FUSE opcode. */
#include <fusebpf/policy.bpf.h>

FUSEBPF_POLICY("bad_progname");

FUSEBPF_PREFILTER(frobnicate)
{
	return FUSEBPF_CONTINUE;
}
