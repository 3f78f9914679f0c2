// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * passthrough: no filters.  Every request takes its opcode's default (the
 * backing fast path, unless -o user_ops says otherwise), as with no policy
 * at all; useful as a base to measure against and as the smallest policy.
 */
#include <fusebpf/policy.bpf.h>

FUSEBPF_POLICY("passthrough");
