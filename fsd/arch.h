/* SPDX-License-Identifier: MIT */
/*
 * The architecture-dependent constants of the FUSE protocol: a client kernel
 * of another architecture (virtio-fs from a VM or to a DPU) sends open(2)
 * flags in its own values and reads the errno of a reply in its own values.
 * docs/cross-arch.md lists every constant a FUSE server sees and says which
 * ones differ; only these two do, among those fsd interprets.
 *
 * An architecture is named by its ELF e_machine (EM_X86_64, EM_AARCH64, ...
 * of <elf.h>): a number both sides already have, with no registry of ours.
 * Word size and byte order are not part of it: no constant here differs
 * between the 32- and 64-bit kernels of one e_machine (EM_SPARC and
 * EM_SPARCV9 are different e_machines), and byte order is a property of the
 * session, found from FUSE_INIT's opcode before anything is decoded.  The
 * functions take and return host-order integers.
 *
 * "native" is the architecture fsd was built for.  The canonical encoding a
 * client may offer instead of its own is x86-64's, which is simply the
 * EM_X86_64 row.  When a client's architecture is the native one, there is
 * nothing to translate and the caller should not call these at all.
 */
#ifndef FSD_ARCH_H
#define FSD_ARCH_H

#include <stdint.h>

struct arch;

/* The architecture with this ELF e_machine, or NULL when fsd has no table for it. */
const struct arch *arch_find(uint32_t e_machine);
/* The architecture fsd was built for. */
const struct arch *arch_native(void);
uint32_t arch_id(const struct arch *a);
/* For logs: "arm64", "sparc64", ... */
const char *arch_name(const struct arch *a);

/*
 * The bits of open flags, in a's encoding, that a's table does not know: 0
 * when every bit is known.  For the log line of a refused request.
 */
uint32_t arch_open_flags_unknown(const struct arch *a, uint32_t flags);
/*
 * open(2) flags as a client of architecture a sends them (fuse_open_in.flags,
 * fuse_create_in.flags, and the flags of READ, WRITE and RELEASE) in native
 * values.  0, or -EINVAL when a bit is unknown: an unknown bit can be neither
 * dropped (it may carry a guarantee, as O_SYNC does) nor passed on (it would
 * be a different native flag).  *native is written only on success.
 */
int arch_open_flags_to_native(const struct arch *a, uint32_t flags, uint32_t *native);
/* The reverse: native open flags in a's values.  0 or -EINVAL, as above. */
int arch_open_flags_from_native(const struct arch *a, uint32_t native, uint32_t *flags);

/*
 * A reply's error (fuse_out_header.error: 0 or a negative errno, native) in
 * a's numbering.  Never fails: what is not an errno of the native numbering
 * (a positive value, a number no errno has, a kernel-internal one such as
 * -ENOTSUPP) becomes -EIO, which is 5 everywhere.
 */
int arch_errno_from_native(const struct arch *a, int neg_errno);
/*
 * The reverse, for tests and for a transport that forwards a's errors: an
 * errno only a has (mips' EINIT, sparc's EPROCLIM) becomes -EIO.
 */
int arch_errno_to_native(const struct arch *a, int neg_errno);

#endif /* FSD_ARCH_H */
