/* SPDX-License-Identifier: MIT */
/*
 * The daemon's control socket, between fsd and the tools: a unix stream
 * socket per mount, named after the mount's device number.  A client
 * connects, writes one command line and reads the answer until EOF:
 *
 *	stats          "key value" lines: the daemon's counters
 *	reload NAME    put in force the filters of policy NAME pinned now,
 *	               after a load: "ok", "unused" (the daemon has never
 *	               run it) or "error ..."
 *	unload NAME    the same, after an unload: with nothing pinned, the
 *	               policy's nodes run the defaults
 *	atime WORDS    reads through the mount update atime as WORDS say
 *	               (relatime, strictatime or noatime, then ",nodiratime"
 *	               or not): `mount -o remount` sends it; "ok" or "error ..."
 *	MODULE ARGS    a command for the userspace module MODULE (user.h):
 *	               "ok ..." or "error ..."; "media rescan" rebuilds the
 *	               index the media module owns
 */
#ifndef FUSEBPF_CONTROL_H
#define FUSEBPF_CONTROL_H

#define FUSEBPF_CONTROL_DIR "/run/fusebpf"
/* printf format of the socket's path; the argument is st_dev as unsigned long long. */
#define FUSEBPF_CONTROL_PATH_FMT FUSEBPF_CONTROL_DIR "/fsd-%llu.sock"

#endif /* FUSEBPF_CONTROL_H */
