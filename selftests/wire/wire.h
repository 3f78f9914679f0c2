/* SPDX-License-Identifier: MIT */
/*
 * The simulated kernel: a test harness that plays the kernel's side of
 * /dev/fuse, byte for byte.  It starts `fsd --dev-fd` on one end of a
 * SOCK_SEQPACKET socketpair (which keeps the device's framing: one message
 * is one request or one reply) over a scratch backing directory, sends raw
 * FUSE requests on the other end and checks the raw replies: total length,
 * unique, error and payload.  No mount, no root.
 *
 * Tests read as protocol transcripts:
 *
 *	u = send_lookup(FUSE_ROOT_ID, "a");
 *	expect_error(u, -ENOENT);
 *
 * Every wait for a reply has a deadline (WIRE_TIMEOUT_MS), so a daemon that
 * stays silent fails the test instead of hanging it.
 *
 * Replies arrive as the kernel would take them: written, or, for a LOOKUP
 * reply that carries FUSE-BPF entries, as the RFC's ioctl
 * FUSEBPF_DEV_IOC_BPF_RESPONSE, which the daemon sends over the socket as a
 * struct fusebpf_sim_ioctl message followed by the reply (fsd/dev.c).  As
 * an RFC kernel, the harness refuses a LOOKUP reply with entries that was
 * written (the kernel's write fails it with EINVAL) and the ioctl of any
 * other reply: either fails the test.  Requests are built one
 * at a time (req_begin, req_put..., req_send); the send_* helpers build and
 * send the common opcodes as a kernel would.
 */
#ifndef FSD_TEST_WIRE_H
#define FSD_TEST_WIRE_H

#include <fusebpf/fuse_ext.h>

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How long a reply may take, in ms; FSD_WIRE_TIMEOUT_MS overrides. */
#define WIRE_TIMEOUT_MS 5000
/* The protocol the simulated kernel speaks unless a test says otherwise. */
#define WIRE_MINOR 45
/* expect_reply: do not check the payload's length. */
#define WIRE_ANY_LEN ((size_t)-1)

struct wire {
	char root[PATH_MAX]; /* the test's scratch dir, holds the two below */
	char backing[PATH_MAX];
	char log[PATH_MAX]; /* fsd's stderr */
	int fd; /* the kernel's end of the socketpair */
	pid_t fsd;
	uint64_t unique; /* the last unique sent */
	struct fusebpf_init_out init; /* the INIT reply, once wire_init succeeded */
	/* The last reply read: header and payload. */
	unsigned char *reply;
	size_t reply_len;
	uint32_t reply_ioctl; /* its ioctl request number if it came as an ioctl, else 0 */
};

/* The harness of the running test (Criterion runs each test in a process). */
extern struct wire W;

/*
 * Makes a scratch backing dir and starts `fsd --dev-fd 3 -d -s ARGS...
 * BACKING` (argv: NULL-terminated extra arguments, may be NULL).  uid: run
 * fsd as this user (when the test runs as root; (uid_t)-1 to keep ours).
 * Aborts the test on failure.
 */
void wire_start(const char *const *argv, uid_t uid);
#define WIRE_START(...) wire_start((const char *const[]){ __VA_ARGS__, NULL }, (uid_t)-1)
/*
 * Ends the session as a kernel would on unmount (closes its end), waits for
 * fsd to exit and removes the scratch dir.  Returns fsd's exit status (-1:
 * it had to be killed).  Fails the test if a reply was left unread or the
 * daemon's log has a sanitizer report.  A test may start again after it.
 */
int wire_stop(void);
/* Criterion fixtures: start with default options and INIT 7.45; stop, crash on trouble. */
void wire_setup(void);
void wire_setup_no_init(void);
void wire_teardown(void);
/* A path in the backing dir (static buffer, 4 rotating). */
const char *wire_path(const char *rel);

/*
 * The INIT flags a kernel of protocol 7.minor offers (fs/fuse/inode.c,
 * fuse_send_init of that version, on a kernel built with passthrough): the
 * low word in flags, the high word in flags2 from 7.36 on.
 */
uint64_t kernel_init_flags(unsigned minor);
/* The size of a 7.minor kernel's fuse_init_in: 16 bytes before 7.36, 64 after. */
size_t kernel_init_in_size(unsigned minor);

/* ---- building and sending requests ---- */

/* Starts a request: header with opcode and nodeid, uid/gid 0, the test's pid. */
void req_begin(uint32_t opcode, uint64_t nodeid);
void req_put(const void *p, size_t n);
#define REQ_PUT(x) req_put(&(x), sizeof(x))
/* A string argument with its NUL. */
void req_str(const char *s);
/* The header being built, to forge fields (len is set by req_send unless forged). */
struct fuse_in_header *req_hdr(void);
/* Forges hdr.len: req_send keeps it instead of the true length. */
void req_forge_len(uint32_t len);
/* Bytes built so far, header included. */
size_t req_len(void);
/* Sends the request with the next unique (even, as the kernel's); returns the unique. */
uint64_t req_send(void);
/* Sends the first n bytes built (a truncated request); returns its unique. */
uint64_t req_send_truncated(size_t n);

/* The common opcodes, as the kernel sends them.  Each returns the unique. */
uint64_t send_init(uint32_t major, uint32_t minor, uint64_t flags, size_t in_size);
uint64_t send_lookup(uint64_t parent, const char *name);
uint64_t send_getattr(uint64_t nodeid);
uint64_t send_forget(uint64_t nodeid, uint64_t nlookup);
uint64_t send_open(uint64_t nodeid, uint32_t flags);
uint64_t send_opendir(uint64_t nodeid);
uint64_t send_create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode);
uint64_t send_mkdir(uint64_t parent, const char *name, uint32_t mode);
uint64_t send_read(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t size);
uint64_t send_readdir(uint32_t opcode, uint64_t nodeid, uint64_t fh, uint64_t offset,
		      uint32_t size);
uint64_t send_write(uint64_t nodeid, uint64_t fh, uint64_t offset, const void *data,
		    uint32_t size);
uint64_t send_release(uint32_t opcode, uint64_t nodeid, uint64_t fh);
/* SETXATTR's fixed input as the kernel sends it: 16 bytes if INIT granted FUSE_SETXATTR_EXT, else 8. */
size_t setxattr_in_size(void);
uint64_t send_setxattr(uint64_t nodeid, const char *name, const void *value, uint32_t size);
uint64_t send_getxattr(uint64_t nodeid, const char *name, uint32_t size);
uint64_t send_interrupt(uint64_t unique);

/* ---- reading and checking replies ---- */

/*
 * Waits for the next message (any unique) and checks its framing: at least
 * a header, whose len is the bytes received.  Returns the header.
 */
const struct fuse_out_header *reply_next(void);
/*
 * Waits for the next reply and checks it: framing as reply_next, unique
 * and error are these, an error reply is a bare header, and the payload is
 * arg_len bytes (WIRE_ANY_LEN: any).  Returns the payload.
 */
const void *expect_reply(uint64_t unique, int error, size_t arg_len);
static inline void expect_error(uint64_t unique, int error)
{
	expect_reply(unique, error, 0);
}
/* Payload length of the last reply. */
size_t reply_arg_len(void);
/* A successful entry reply (LOOKUP, MKDIR...) with a node: returns it. */
struct fuse_entry_out expect_entry(uint64_t unique);
/* A successful OPEN/OPENDIR reply: returns the fh. */
uint64_t expect_open(uint64_t unique);
/* LOOKUP that must succeed: the nodeid. */
uint64_t lookup_ok(uint64_t parent, const char *name);
/* Fails the test if any message arrives within ms. */
void expect_silence(unsigned ms);
/*
 * The daemon still serves: GETATTR of the root answers with the backing
 * root's attributes.  Also proves that nothing sent before it was answered
 * out of turn (with one worker, replies come in order).
 */
void expect_alive(void);

/* INIT 7.45 as this machine's kernel sends it, checked for success. */
void wire_init(void);

/* "LOOKUP", "GETATTR"... for messages. */
const char *wire_op_name(uint32_t opcode);

#endif
