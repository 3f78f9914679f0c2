/* SPDX-License-Identifier: MIT */
/*
 * Userspace handlers: what an embedder (a media provider, say) implements
 * for the requests its policy sends to userspace.  A module is one const
 * struct user_module, listed in the program's user_modules[] (fsd's are in
 * main.c) and chosen at mount with -o user=NAME.  A module depends on the
 * daemon, never the other way round: the daemon knows a module only
 * through this struct.
 *
 * - handler[op] serves a request whose verdict is USER (or whose opcode
 *   defaults to userspace, -o user_ops=) instead of the backing operation.
 *   NULL: the daemon's own implementation serves it, as a FUSE server
 *   without FUSE-BPF would.
 * - prefilter[op] is the userspace prefilter call of USER_PREFILTER, made
 *   before the backing operation; postfilter[op] the postfilter call of
 *   USER_POSTFILTER, made after it.  They see the same context a BPF filter
 *   sees (struct fusebpf_ctx, filter.h), may change it the same way, and
 *   return 0 or -errno (which fails the request).  NULL: nothing to do.
 *
 * Handlers run on worker threads, several at once: a module guards its own
 * state.  They return 0 or -errno, and leave a reply in the request as the
 * backing handlers do (reply_arg, reply_data; see fsd.h); they may call
 * the backing handler of their opcode (request_backing) to do the normal
 * work first.  A FUSE-BPF kernel sends the same prefilter and postfilter
 * calls on the wire (opcode | FUSEBPF_*_CALL); they reach the same functions.
 *
 * Claiming an open.  An OPEN or CREATE handler that must see the data of
 * the open it makes (to redact it, say) sets req->open_user to state of its
 * own before calling request_backing.  The open is then served by the
 * daemon, never by passthrough, with direct I/O (an inode already open in
 * passthrough fails it with EBUSY: the kernel keeps one I/O mode per
 * inode); the handle keeps the state (handle->user), and every READ and
 * COPY_FILE_RANGE from that handle goes to the module's handler, whatever
 * the policy's verdict (a filter may still fail it).  handle_free frees the
 * state with the handle; if the open fails before a handle takes it,
 * req->open_user is still set and the handler frees it.
 */
#ifndef FSD_USER_H
#define FSD_USER_H

#include <fusebpf/filter.h>

#include <stddef.h>
#include <stdio.h>

struct request;

struct user_module {
	const char *name;
	/*
	 * Called once before mounting, in the daemon's process (after it has
	 * gone to the background), with the text after "user=NAME:", or NULL;
	 * 0 or -errno.  Messages on stderr reach the terminal.
	 */
	int (*init)(const char *args);
	/* Called once after unmounting. */
	void (*fini)(void);
	/* Adds "key value" lines of its own to the daemon's statistics. */
	void (*stats)(FILE *f);
	/*
	 * A command line "NAME ARGS" on the control socket, NAME the module's:
	 * writes its answer to f ("ok ..." or "error ...") and returns 0, or
	 * returns -errno for the socket to answer "error <strerror>".
	 */
	int (*control)(const char *args, FILE *f);
	/* Frees the state of a claimed open (req->open_user) when its handle goes. */
	void (*handle_free)(void *user);
	int (*handler[FUSEBPF_OP_MAX])(struct request *req);
	int (*prefilter[FUSEBPF_OP_MAX])(struct request *req, struct fusebpf_ctx *ctx);
	int (*postfilter[FUSEBPF_OP_MAX])(struct request *req, struct fusebpf_ctx *ctx);
};

/*
 * The modules the program is built with, NULL-terminated: defined by the
 * program (fsd/main.c), not by the daemon, so that the daemon depends on no
 * module.  "none" is not among them.
 */
extern const struct user_module *const user_modules[];

/* The module in force (none: every field NULL). */
extern const struct user_module *user_module;

/* Finds a built-in module by name; NULL if there is none. */
const struct user_module *user_module_find(const char *name);
/* Names of the built-in modules, for --help. */
void user_modules_list(char *buf, size_t size);

/* Runs the module's handler for req, or the opcode's backing handler; 0 or -errno. */
int user_handle(struct request *req);

#endif /* FSD_USER_H */
