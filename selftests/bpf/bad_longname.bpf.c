// SPDX-License-Identifier: GPL-2.0 OR MIT
/* A policy name of 16 characters: one more than the 15 a name may have. */
#include <fusebpf/policy.bpf.h>

FUSEBPF_POLICY("sixteen_chars_xx");

FUSEBPF_PREFILTER(getattr)
{
	return FUSEBPF_CONTINUE;
}
