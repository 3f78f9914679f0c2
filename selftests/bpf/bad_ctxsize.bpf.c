// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Built against another context layout: its .fusebpf section says 512 bytes. */
#include <fusebpf/policy.bpf.h>

const struct fusebpf_policy_info fusebpf_policy SEC(".fusebpf") = {
	.magic = FUSEBPF_POLICY_MAGIC,
	.abi_version = FUSEBPF_ABI_VERSION,
	.ctx_size = 512,
	.name = "bad_ctxsize",
};
char _license[] SEC("license") = "GPL";

FUSEBPF_PREFILTER(getattr)
{
	return FUSEBPF_CONTINUE;
}
