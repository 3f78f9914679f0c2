// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hide: names listed in a map are invisible.  LOOKUP of such a name fails
 * with ENOENT, which also leaves it out of READDIR and READDIRPLUS listings
 * (the daemon runs the LOOKUP prefilter on every name it lists), and making
 * one (CREATE, MKDIR, MKNOD, SYMLINK, LINK, or RENAME onto it) fails with
 * EPERM, so that a hidden entry can neither be seen nor shadowed.  Entries
 * in any directory below the policy match.
 *
 * Maps (under /sys/fs/bpf/fusebpf/hide/maps/):
 *   names     hash, exact name (char[256], NUL-padded) -> __u8 (any value)
 *   prefixes  LPM trie, struct hide_prefix -> __u8: every name that starts
 *             with data[0 .. prefixlen/8) is hidden
 *
 * The LPM trie is why this policy uses the XDP flavour (see policy.bpf.h).
 * A name is looked up from a copy on the stack: in kernel mode
 * (fusebpf.ko) the context may not be read at a variable offset, as the
 * loop that measures the name does.
 */
#define FUSEBPF_FLAVOR_XDP
#include <fusebpf/policy.bpf.h>

FUSEBPF_POLICY("hide");

/* data is also the name's copy, a key of names: a whole name buffer, NUL-padded. */
struct hide_prefix {
	__u32 prefixlen; /* in bits */
	char data[FUSEBPF_NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, char[FUSEBPF_NAME_LEN]);
	__type(value, __u8);
} names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hide_prefix);
	__type(value, __u8);
} prefixes SEC(".maps");

static __always_inline int hidden(const char *ctx_name)
{
	struct hide_prefix key = {};
	__u32 len;

	if (fusebpf_name_copy(key.data, ctx_name))
		return 1; /* cannot tell: hidden, rather than shown by mistake */
	if (bpf_map_lookup_elem(&names, key.data))
		return 1;
	for (len = 0; len < FUSEBPF_NAME_LEN - 1; len++)
		if (!key.data[len])
			break;
	key.prefixlen = len * 8;
	return bpf_map_lookup_elem(&prefixes, &key) != 0;
}

FUSEBPF_PREFILTER(lookup)
{
	return hidden(ctx->name) ? -ENOENT : FUSEBPF_CONTINUE;
}

#define NO_SHADOWING(op)                                                                           \
	FUSEBPF_PREFILTER(op)                                                                      \
	{                                                                                          \
		return hidden(ctx->name) ? -EPERM : FUSEBPF_CONTINUE;                              \
	}

NO_SHADOWING(create)
NO_SHADOWING(mkdir)
NO_SHADOWING(mknod)
NO_SHADOWING(symlink)
NO_SHADOWING(link)

FUSEBPF_PREFILTER(rename)
{
	return hidden(ctx->name2) ? -EPERM : FUSEBPF_CONTINUE;
}

FUSEBPF_PREFILTER(rename2)
{
	return hidden(ctx->name2) ? -EPERM : FUSEBPF_CONTINUE;
}
