/* SPDX-License-Identifier: MIT */
/*
 * What the media policy (bpf/media.bpf.c), its userspace module
 * (media/user_media.c) and the CLI (`fusebpf media`, loader/fusebpf.c) share:
 * the layout of the policy's maps, the node cookies the policy sets and the
 * module reads, and the default policy name.  Types only, for BPF and C.
 */
#ifndef FUSEBPF_MEDIA_H
#define FUSEBPF_MEDIA_H

#include <linux/types.h>

/* The policy's name as `fusebpf load media` pins it, and the CLI's default. */
#define MEDIA_POLICY_NAME "media"

/*
 * Maps, pinned under /sys/fs/bpf/fusebpf/<policy>/maps/:
 *   apps        hash, __u32 uid -> struct media_package: the app a uid is
 *   privileged  hash, __u32 uid -> __u8 (any value): sees every app's files
 *   location    hash, __u32 uid -> __u8 (any value): holds the media
 *               location grant, reads GPS tags unredacted
 */
#define MEDIA_MAP_APPS	     "apps"
#define MEDIA_MAP_PRIVILEGED "privileged"
#define MEDIA_MAP_LOCATION   "location"
#define MEDIA_APPS_MAX	     16384
#define MEDIA_UIDS_MAX	     4096

/* A package name, NUL-terminated and NUL-padded, as a context name buffer. */
#define MEDIA_PACKAGE_LEN 256
struct media_package {
	char name[MEDIA_PACKAGE_LEN];
};

/* The mount's root, the storage root ("/sdcard"): FUSE's root node id. */
#define MEDIA_ROOT_NODEID 1

/*
 * Node cookies (fusebpf_ctx.child_cookie / node_cookie): what the structure
 * makes of a directory.  0 is a node no LOOKUP or READDIRPLUS postfilter
 * has classified (made by MKDIR, or renamed since): nothing is known of it.
 * Files are never more than SEEN: their content decides their redaction.
 */
#define MEDIA_C_SEEN	(1ULL << 0) /* classified by its last lookup */
#define MEDIA_C_ANDROID (1ULL << 3) /* the directory Android/ under the root */
#define MEDIA_C_PRIVATE (1ULL << 4) /* Android/data/, Android/obb/: a private parent */
#define MEDIA_C_APPDIR	(1ULL << 5) /* a directory in a private parent: an app's own */

/*
 * Request cookies (fusebpf_ctx.cookie): what a prefilter of the policy
 * tells the module's handler of the same request (USER).  0 says nothing,
 * and the module then assumes the least (a FUSE-BPF kernel passes none).
 */
#define MEDIA_R_PRIVILEGED (1ULL << 0) /* RENAME(2), OPEN: privileged caller, owners not checked */
#define MEDIA_R_LOCATION   (1ULL << 1) /* OPEN: the caller holds the media location grant */

#endif /* FUSEBPF_MEDIA_H */
