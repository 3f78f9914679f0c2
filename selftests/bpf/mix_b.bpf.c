// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Version B of mix_a.bpf.c. */
#define MIX_MARK 'B'
#include "mix_a.bpf.c"
