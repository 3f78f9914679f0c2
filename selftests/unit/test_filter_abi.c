// SPDX-License-Identifier: MIT
/*
 * The filter ABI (include/fusebpf/filter.h): the layout BPF programs are
 * built against (every field's offset, where filter.h's static asserts
 * check a few), the RFC's verdict numbers, the opcodes a policy may
 * filter, and the names the loader and the options give them.
 */
#define _GNU_SOURCE
#include "../../fsd/fsd.h"
#include "loader/loader.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <ctype.h>
#include <string.h>

Test(filter_abi, context_layout_is_fixed)
{
	cr_assert_eq(sizeof(struct fusebpf_ctx), 992);
	cr_assert_eq(offsetof(struct fusebpf_ctx, nodeid), 0);
	cr_assert_eq(offsetof(struct fusebpf_ctx, opcode), 8);
	cr_assert_eq(offsetof(struct fusebpf_ctx, phase), 12);
	cr_assert_eq(offsetof(struct fusebpf_ctx, uid), 16);
	cr_assert_eq(offsetof(struct fusebpf_ctx, gid), 20);
	cr_assert_eq(offsetof(struct fusebpf_ctx, pid), 24);
	cr_assert_eq(offsetof(struct fusebpf_ctx, error_in), 28);
	cr_assert_eq(offsetof(struct fusebpf_ctx, in_size), 32);
	cr_assert_eq(offsetof(struct fusebpf_ctx, out_size), 36);
	cr_assert_eq(offsetof(struct fusebpf_ctx, reply_flags), 40);
	cr_assert_eq(offsetof(struct fusebpf_ctx, child_policy), 44);
	cr_assert_eq(offsetof(struct fusebpf_ctx, child_policy_name), 48);
	cr_assert_eq(offsetof(struct fusebpf_ctx, cookie), 64);
	cr_assert_eq(offsetof(struct fusebpf_ctx, node_cookie), 72);
	cr_assert_eq(offsetof(struct fusebpf_ctx, child_cookie), 80);
	cr_assert_eq(offsetof(struct fusebpf_ctx, in), 96);
	cr_assert_eq(offsetof(struct fusebpf_ctx, out), 192);
	cr_assert_eq(offsetof(struct fusebpf_ctx, name), 480);
	cr_assert_eq(offsetof(struct fusebpf_ctx, name2), 736);
	cr_assert_eq(sizeof(union fusebpf_in), 96);
	cr_assert_eq(sizeof(union fusebpf_out), 288);
	cr_assert_eq(sizeof(struct fusebpf_dirent), 152);
	cr_assert_eq(offsetof(struct fusebpf_dirent, entry), 24);
	cr_assert_eq(sizeof(struct fusebpf_policy_info), 32);
	/*
	 * A syscall program's context accesses must be aligned to their size:
	 * fusebpf_name_set writes the name buffers 8 bytes at a time.
	 */
	cr_assert_eq(offsetof(struct fusebpf_ctx, name) % 8, 0);
	cr_assert_eq(offsetof(struct fusebpf_ctx, name2) % 8, 0);
}

Test(filter_abi, verdicts_keep_the_rfc_numbers)
{
	cr_assert_eq(FUSEBPF_CONTINUE, 0);
	cr_assert_eq(FUSEBPF_USER, 1);
	cr_assert_eq(FUSEBPF_USER_PREFILTER, 2);
	cr_assert_eq(FUSEBPF_POSTFILTER, 3);
	cr_assert_eq(FUSEBPF_USER_POSTFILTER, 4);
	cr_assert_eq(FUSEBPF_CALL_DEFAULT, 5);
}

Test(filter_abi, the_connections_own_opcodes_are_never_filtered)
{
	const uint32_t never[] = { FUSE_INIT, FUSE_DESTROY, FUSE_FORGET, FUSE_BATCH_FORGET,
				   FUSE_INTERRUPT };

	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		cr_assert(!loader_opcode_filterable(never[i]), "%s", fusebpf_opcode_names[never[i]]);
	cr_assert(loader_opcode_filterable(FUSE_LOOKUP));
	cr_assert(loader_opcode_filterable(FUSEBPF_OP_STATX));
	/* The daemon serves every filterable opcode on the backing filesystem. */
	cr_assert_eq(opcode_mask_backing(), FUSEBPF_FILTERABLE_OPS);
}

Test(filter_abi, filter_names_map_to_opcodes_and_phases)
{
	uint32_t op, phase;

	for (uint32_t o = 0; o < FUSEBPF_OP_MAX; o++) {
		char name[64];

		if (!loader_opcode_filterable(o))
			continue;
		snprintf(name, sizeof(name), "%s_postfilter", fusebpf_opcode_names[o]);
		for (char *p = name; *p; p++)
			*p = tolower((unsigned char)*p);
		cr_assert_eq(loader_filter_parse(name, &op, &phase), 0, "%s", name);
		cr_assert_eq(op, o, "%s", name);
		cr_assert_eq(phase, FUSEBPF_PHASE_POST);
	}
	cr_assert_eq(loader_filter_parse("copy_file_range_prefilter", &op, &phase), 0);
	cr_assert_eq(op, FUSE_COPY_FILE_RANGE);
	cr_assert_eq(phase, FUSEBPF_PHASE_PRE);
	cr_assert_eq(loader_filter_parse("lookup", &op, &phase), -EINVAL);
	cr_assert_eq(loader_filter_parse("frobnicate_prefilter", &op, &phase), -EINVAL);
	cr_assert_eq(loader_filter_parse("lookup_midfilter", &op, &phase), -EINVAL);
	cr_assert_eq(loader_filter_parse("_prefilter", &op, &phase), -EINVAL);
}

Test(filter_abi, policy_names)
{
	cr_assert(loader_name_valid("hide"));
	cr_assert(loader_name_valid("a_b-c9"));
	cr_assert(loader_name_valid("fifteen_chars_x"));
	cr_assert(!loader_name_valid("sixteen_chars_xx"));
	cr_assert(!loader_name_valid(""));
	cr_assert(!loader_name_valid("a.b"), "bpffs refuses dots");
	cr_assert(!loader_name_valid("../x"));
	cr_assert(!loader_name_valid("a b"));
}

Test(filter_abi, opcode_masks_from_names)
{
	char err[256], text[512];
	uint64_t mask;

	cr_assert_eq(opcode_mask_parse("open", &mask, err, sizeof(err)), 0);
	cr_assert_eq(mask, 1ULL << FUSE_OPEN);
	cr_assert_eq(opcode_mask_parse("OPEN:unlink+Lookup", &mask, err, sizeof(err)), 0);
	cr_assert_eq(mask, (1ULL << FUSE_OPEN) | (1ULL << FUSE_UNLINK) | (1ULL << FUSE_LOOKUP));
	cr_assert_eq(opcode_mask_parse("all", &mask, err, sizeof(err)), 0);
	cr_assert_eq(mask, opcode_mask_backing());
	cr_assert_eq(opcode_mask_parse("none", &mask, err, sizeof(err)), 0);
	cr_assert_eq(mask, 0);
	cr_assert_eq(opcode_mask_parse("open:frob", &mask, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "'frob'"), "%s", err);
	cr_assert_eq(opcode_mask_parse("init", &mask, err, sizeof(err)), -EINVAL, "INIT is no backing op");
	opcode_mask_format((1ULL << FUSE_OPEN) | (1ULL << FUSE_UNLINK), text, sizeof(text));
	cr_assert_str_eq(text, "UNLINK,OPEN");
	opcode_mask_format(0, text, sizeof(text));
	cr_assert_str_eq(text, "none");
}
