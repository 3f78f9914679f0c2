// SPDX-License-Identifier: GPL-2.0 OR MIT
/* A BPF object that is not a policy: no FUSEBPF_POLICY(). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("syscall") int getattr_prefilter(void *ctx)
{
	return 0;
}
char _license[] SEC("license") = "GPL";
