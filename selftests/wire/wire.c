// SPDX-License-Identifier: MIT
/*
 * The simulated kernel; see wire.h.
 */
#define _GNU_SOURCE
#include "wire.h"
#include "../integration/fixture.h"

#include <fusebpf/opcodes.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct wire W = { .fd = -1 };

/* INIT flags after 7.38 that the system header lacks (the kernel's values). */
#define K_CREATE_SUPP_GROUP (1ULL << 34)
#define K_NO_EXPORT_SUPPORT (1ULL << 38)
#define K_HAS_RESEND	    (1ULL << 39)
#define K_ALLOW_IDMAP	    (1ULL << 40)
#define K_REQUEST_TIMEOUT   (1ULL << 42)

/* Largest request and reply: FSD_REQ_BUF and FSD_MAX_WRITE plus headers. */
#define WIRE_BUF (2u << 20)

static unsigned char req_buf[WIRE_BUF] __attribute__((aligned(8)));
static size_t req_used;
static bool req_len_forged;

/* The opcodes of the last requests sent, by unique: what a reply answers. */
#define SENT_MAX 1024
static struct {
	uint64_t unique;
	uint32_t opcode;
} sent_ops[SENT_MAX];

/* The opcode (with its filter-call bits) of the request unique; 0 if unknown. */
static uint32_t sent_opcode(uint64_t unique)
{
	size_t i = (unique / 2) % SENT_MAX;

	return sent_ops[i].unique == unique ? sent_ops[i].opcode : 0;
}

static unsigned timeout_ms(void)
{
	const char *t = getenv("FSD_WIRE_TIMEOUT_MS");

	return t ? (unsigned)atoi(t) : WIRE_TIMEOUT_MS;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Large messages: a SOCK_SEQPACKET message must fit the sender's buffer.
 * Root may raise it past net.core.wmem_max; others get what they get, and
 * tests keep their messages small.
 */
static void socket_buffers(int fd)
{
	int size = 4 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

void wire_start(const char *const *argv, uid_t uid)
{
	int sv[2], logfd;

	memset(&W, 0, sizeof(W));
	memset(sent_ops, 0, sizeof(sent_ops));
	W.fd = -1;
	snprintf(W.root, sizeof(W.root), "%s/w.XXXXXX", test_tmp());
	cr_assert(mkdtemp(W.root), "mkdtemp %s: %s", W.root, strerror(errno));
	cr_assert(snprintf(W.backing, sizeof(W.backing), "%s/backing", W.root) <
			  (int)sizeof(W.backing) &&
		  snprintf(W.log, sizeof(W.log), "%s/fsd.log", W.root) < (int)sizeof(W.log));
	cr_assert_eq(mkdir(W.backing, 0755), 0);
	chmod(W.root, 0755);
	if (uid != (uid_t)-1 && geteuid() == 0)
		cr_assert_eq(chown(W.backing, uid, uid), 0);
	W.reply = malloc(WIRE_BUF);
	cr_assert_not_null(W.reply);

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	socket_buffers(sv[0]);
	socket_buffers(sv[1]);
	logfd = open(W.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(logfd >= 0);

	W.fsd = fork();
	cr_assert(W.fsd >= 0);
	if (W.fsd == 0) {
		const char *args[64];
		int n = 0;

		/* The kernel's end of the device dies with the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(logfd, 1);
		dup2(logfd, 2);
		dup2(sv[1], 3); /* dup2 clears close-on-exec */
		if (uid != (uid_t)-1 && geteuid() == 0 &&
		    (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(126);
		args[n++] = fsd_bin();
		args[n++] = "--dev-fd";
		args[n++] = "3";
		args[n++] = "-d";
		args[n++] = "-s";
		for (; argv && *argv && n < 60; argv++)
			args[n++] = *argv;
		args[n++] = W.backing;
		args[n] = NULL;
		execv(args[0], (char **)args);
		_exit(127);
	}
	close(logfd);
	close(sv[1]);
	W.fd = sv[0];
}

static bool log_has_sanitizer_report(void)
{
	return sh("grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '%s'", W.log) == 0;
}

/* Nothing may be waiting: every reply was expected by the test. */
static bool stray_reply(void)
{
	ssize_t n = recv(W.fd, W.reply, WIRE_BUF, MSG_DONTWAIT);

	if (n < 0)
		return false;
	if (n >= (ssize_t)sizeof(struct fuse_out_header)) {
		const struct fuse_out_header *out = (const void *)W.reply;

		fprintf(stderr, "wire: unexpected reply: unique %llu error %d len %u\n",
			(unsigned long long)out->unique, out->error, out->len);
	} else {
		fprintf(stderr, "wire: unexpected %zd-byte message\n", n);
	}
	return true;
}

int wire_stop(void)
{
	int status = -1;
	long deadline = now_ms() + timeout_ms();
	bool stray = false;

	if (W.fd >= 0) {
		stray = stray_reply();
		close(W.fd);
		W.fd = -1;
	}
	while (W.fsd > 0) {
		if (waitpid(W.fsd, &status, WNOHANG) == W.fsd) {
			status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
		if (now_ms() > deadline) {
			kill(W.fsd, SIGKILL);
			waitpid(W.fsd, NULL, 0);
			status = -1;
			break;
		}
		sleep_ms(5);
	}
	W.fsd = 0;
	if (stray || log_has_sanitizer_report()) {
		sh("cat '%s' >&2", W.log);
		cr_assert_fail("%s (fsd's log above)",
			       stray ? "a reply nobody asked for was left unread" :
				       "a sanitizer report");
	}
	if (!getenv("FSD_TEST_KEEP"))
		sh("rm -rf '%s'", W.root);
	W.root[0] = '\0';
	free(W.reply);
	W.reply = NULL;
	return status;
}

void wire_setup_no_init(void)
{
	wire_start(NULL, (uid_t)-1);
}

void wire_setup(void)
{
	wire_setup_no_init();
	wire_init();
}

/*
 * .fini cannot fail a test with an assertion: trouble found here (a stray
 * reply, fsd failing or crashing, a sanitizer report) crashes it instead.
 */
void wire_teardown(void)
{
	bool stray = false, sanitized;
	int status = -1;

	if (!W.root[0])
		return;
	if (W.fd >= 0) {
		stray = stray_reply();
		close(W.fd);
		W.fd = -1;
	}
	for (long deadline = now_ms() + timeout_ms(); W.fsd > 0; sleep_ms(5)) {
		if (waitpid(W.fsd, &status, WNOHANG) == W.fsd) {
			status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
		if (now_ms() > deadline) {
			kill(W.fsd, SIGKILL);
			waitpid(W.fsd, NULL, 0);
			break;
		}
	}
	sanitized = log_has_sanitizer_report();
	if (stray || status != 0 || sanitized)
		sh("cat '%s' >&2", W.log);
	if (!getenv("FSD_TEST_KEEP"))
		sh("rm -rf '%s'", W.root);
	W.root[0] = '\0';
	free(W.reply);
	W.reply = NULL;
	if (stray || status != 0 || sanitized) {
		fprintf(stderr, "wire: %s (fsd's log above)\n",
			stray	  ? "a reply nobody asked for" :
			sanitized ? "a sanitizer report" :
				    "fsd did not exit 0 when the kernel's end closed");
		abort();
	}
}

const char *wire_path(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ & 3];

	cr_assert_lt(snprintf(b, PATH_MAX, "%s/%s", W.backing, rel), PATH_MAX);
	return b;
}

/* ---- the simulated kernel's INIT ---- */

uint64_t kernel_init_flags(unsigned minor)
{
	/* What every kernel from 7.31 on offers. */
	uint64_t f = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC |
		     FUSE_EXPORT_SUPPORT | FUSE_BIG_WRITES | FUSE_DONT_MASK | FUSE_SPLICE_WRITE |
		     FUSE_SPLICE_MOVE | FUSE_SPLICE_READ | FUSE_FLOCK_LOCKS | FUSE_HAS_IOCTL_DIR |
		     FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
		     FUSE_ASYNC_DIO | FUSE_WRITEBACK_CACHE | FUSE_NO_OPEN_SUPPORT |
		     FUSE_PARALLEL_DIROPS | FUSE_HANDLE_KILLPRIV | FUSE_POSIX_ACL |
		     FUSE_ABORT_ERROR | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS |
		     FUSE_NO_OPENDIR_SUPPORT | FUSE_EXPLICIT_INVAL_DATA;

	if (minor >= 33)
		f |= FUSE_HANDLE_KILLPRIV_V2 | FUSE_SETXATTR_EXT;
	if (minor >= 36)
		f |= FUSE_INIT_EXT | FUSE_SECURITY_CTX;
	if (minor >= 38)
		f |= K_CREATE_SUPP_GROUP | FUSE_HAS_EXPIRE_ONLY;
	if (minor >= 39)
		f |= FUSEBPF_DIRECT_IO_ALLOW_MMAP;
	if (minor >= 40)
		f |= FUSEBPF_PASSTHROUGH | K_NO_EXPORT_SUPPORT | K_HAS_RESEND;
	if (minor >= 41)
		f |= K_ALLOW_IDMAP;
	/* 7.42's FUSE_OVER_IO_URING only with enable_uring set: not here. */
	if (minor >= 43)
		f |= K_REQUEST_TIMEOUT;
	return f;
}

size_t kernel_init_in_size(unsigned minor)
{
	return minor >= 36 ? sizeof(struct fuse_init_in) : 16;
}

/* ---- requests ---- */

void req_begin(uint32_t opcode, uint64_t nodeid)
{
	struct fuse_in_header *hdr = (void *)req_buf;

	memset(hdr, 0, sizeof(*hdr));
	hdr->opcode = opcode;
	hdr->nodeid = nodeid;
	hdr->pid = getpid();
	req_used = sizeof(*hdr);
	req_len_forged = false;
}

void req_put(const void *p, size_t n)
{
	cr_assert_leq(req_used + n, sizeof(req_buf), "request too large for the harness");
	memcpy(req_buf + req_used, p, n);
	req_used += n;
}

void req_str(const char *s)
{
	req_put(s, strlen(s) + 1);
}

struct fuse_in_header *req_hdr(void)
{
	return (void *)req_buf;
}

void req_forge_len(uint32_t len)
{
	req_hdr()->len = len;
	req_len_forged = true;
}

size_t req_len(void)
{
	return req_used;
}

uint64_t req_send_truncated(size_t n)
{
	struct fuse_in_header *hdr = req_hdr();
	ssize_t sent;

	/* The kernel's uniques are even: odd ones mark INTERRUPT replies. */
	W.unique += 2;
	hdr->unique = W.unique;
	sent_ops[(W.unique / 2) % SENT_MAX].unique = W.unique;
	sent_ops[(W.unique / 2) % SENT_MAX].opcode = hdr->opcode;
	if (!req_len_forged)
		hdr->len = req_used;
	sent = send(W.fd, req_buf, n, MSG_NOSIGNAL);
	cr_assert_eq(sent, (ssize_t)n, "sending %zu bytes of %s: %s", n,
		     wire_op_name(hdr->opcode), sent < 0 ? strerror(errno) : "short");
	return W.unique;
}

uint64_t req_send(void)
{
	return req_send_truncated(req_used);
}

uint64_t send_init(uint32_t major, uint32_t minor, uint64_t flags, size_t in_size)
{
	struct fuse_init_in in = {
		.major = major,
		.minor = minor,
		.max_readahead = 128 * 1024,
		.flags = (uint32_t)flags,
		.flags2 = (uint32_t)(flags >> 32),
	};
	static unsigned char body[8192];

	cr_assert_leq(in_size, sizeof(body));
	memset(body, 0, sizeof(body));
	memcpy(body, &in, in_size < sizeof(in) ? in_size : sizeof(in));
	req_begin(FUSE_INIT, 0);
	req_put(body, in_size);
	return req_send();
}

uint64_t send_lookup(uint64_t parent, const char *name)
{
	req_begin(FUSE_LOOKUP, parent);
	req_str(name);
	return req_send();
}

uint64_t send_getattr(uint64_t nodeid)
{
	struct fuse_getattr_in in = { 0 };

	req_begin(FUSE_GETATTR, nodeid);
	REQ_PUT(in);
	return req_send();
}

uint64_t send_forget(uint64_t nodeid, uint64_t nlookup)
{
	struct fuse_forget_in in = { .nlookup = nlookup };

	req_begin(FUSE_FORGET, nodeid);
	REQ_PUT(in);
	return req_send();
}

uint64_t send_open(uint64_t nodeid, uint32_t flags)
{
	struct fuse_open_in in = { .flags = flags };

	req_begin(FUSE_OPEN, nodeid);
	REQ_PUT(in);
	return req_send();
}

uint64_t send_opendir(uint64_t nodeid)
{
	struct fuse_open_in in = { .flags = O_RDONLY | O_DIRECTORY };

	req_begin(FUSE_OPENDIR, nodeid);
	REQ_PUT(in);
	return req_send();
}

uint64_t send_create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode)
{
	struct fuse_create_in in = { .flags = flags, .mode = mode, .umask = 022 };

	req_begin(FUSE_CREATE, parent);
	REQ_PUT(in);
	req_str(name);
	return req_send();
}

uint64_t send_mkdir(uint64_t parent, const char *name, uint32_t mode)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = 022 };

	req_begin(FUSE_MKDIR, parent);
	REQ_PUT(in);
	req_str(name);
	return req_send();
}

uint64_t send_read(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = offset, .size = size };

	req_begin(FUSE_READ, nodeid);
	REQ_PUT(in);
	return req_send();
}

uint64_t send_readdir(uint32_t opcode, uint64_t nodeid, uint64_t fh, uint64_t offset,
		      uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = offset, .size = size };

	req_begin(opcode, nodeid);
	REQ_PUT(in);
	return req_send();
}

uint64_t send_write(uint64_t nodeid, uint64_t fh, uint64_t offset, const void *data,
		    uint32_t size)
{
	struct fuse_write_in in = { .fh = fh, .offset = offset, .size = size };

	req_begin(FUSE_WRITE, nodeid);
	REQ_PUT(in);
	req_put(data, size);
	return req_send();
}

uint64_t send_release(uint32_t opcode, uint64_t nodeid, uint64_t fh)
{
	struct fuse_release_in in = { .fh = fh };

	req_begin(opcode, nodeid);
	REQ_PUT(in);
	return req_send();
}

size_t setxattr_in_size(void)
{
	return W.init.flags & FUSE_SETXATTR_EXT ? sizeof(struct fuse_setxattr_in) :
						  FUSE_COMPAT_SETXATTR_IN_SIZE;
}

uint64_t send_setxattr(uint64_t nodeid, const char *name, const void *value, uint32_t size)
{
	struct fuse_setxattr_in in = { .size = size };

	req_begin(FUSE_SETXATTR, nodeid);
	req_put(&in, setxattr_in_size());
	req_str(name);
	req_put(value, size);
	return req_send();
}

uint64_t send_getxattr(uint64_t nodeid, const char *name, uint32_t size)
{
	struct fuse_getxattr_in in = { .size = size };

	req_begin(FUSE_GETXATTR, nodeid);
	REQ_PUT(in);
	req_str(name);
	return req_send();
}

uint64_t send_interrupt(uint64_t unique)
{
	struct fuse_interrupt_in in = { .unique = unique };

	req_begin(FUSE_INTERRUPT, 0);
	REQ_PUT(in);
	return req_send();
}

/* ---- replies ---- */

/* Reads the next message into W.reply within the deadline; false on timeout. */
static bool reply_read(unsigned ms)
{
	long deadline = now_ms() + ms;
	struct pollfd p = { .fd = W.fd, .events = POLLIN };

	for (;;) {
		long left = deadline - now_ms();
		ssize_t n;
		int ret;

		if (left < 0)
			left = 0;
		ret = poll(&p, 1, (int)left);
		if (ret < 0 && errno == EINTR)
			continue;
		cr_assert(ret >= 0, "poll: %s", strerror(errno));
		if (ret == 0)
			return false;
		n = recv(W.fd, W.reply, WIRE_BUF, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		cr_assert(n > 0, "the daemon closed the connection (%s)",
			  n < 0 ? strerror(errno) : "end of file");
		cr_assert_leq((size_t)n, WIRE_BUF, "a %zd-byte reply", n);
		W.reply_len = n;
		return true;
	}
}

/*
 * A struct fusebpf_sim_ioctl (a notification of code 0, which no daemon
 * writes) announces an ioctl: its argument is the next message.  Checked as
 * the RFC's fuse_dev_ioctl checks FUSE_DEV_IOC_BPF_RESPONSE: its number,
 * its size that of the argument, at most a page.
 */
static void reply_ioctl_take(void)
{
	struct fusebpf_sim_ioctl m;

	W.reply_ioctl = 0;
	if (W.reply_len < sizeof(struct fuse_out_header))
		return;
	memcpy(&m, W.reply, sizeof(struct fuse_out_header));
	if (m.unique || m.code)
		return;
	cr_assert_eq(W.reply_len, sizeof(m), "an ioctl marker of %zu bytes", W.reply_len);
	memcpy(&m, W.reply, sizeof(m));
	cr_assert_eq(m.len, sizeof(m));
	cr_assert_eq(m.padding, 0, "ioctl marker padding %#x", m.padding);
	cr_assert(reply_read(timeout_ms()), "an ioctl marker (request %#x) with no argument",
		  m.cmd);
	cr_assert_eq(_IOC_TYPE(m.cmd), FUSEBPF_DEV_IOC_MAGIC, "ioctl %#x: not FUSE's", m.cmd);
	cr_assert_eq(_IOC_NR(m.cmd), 125, "ioctl %#x: not FUSE_DEV_IOC_BPF_RESPONSE", m.cmd);
	cr_assert_eq(_IOC_DIR(m.cmd), _IOC_WRITE, "ioctl %#x: not _IOW", m.cmd);
	cr_assert_eq(_IOC_SIZE(m.cmd), W.reply_len,
		     "FUSE_DEV_IOC_BPF_RESPONSE(%u) with a %zu-byte argument", _IOC_SIZE(m.cmd),
		     W.reply_len);
	cr_assert_leq(W.reply_len, FUSEBPF_BPF_RESPONSE_MAX, "a %zu-byte FUSE_DEV_IOC_BPF_RESPONSE",
		      W.reply_len);
	W.reply_ioctl = m.cmd;
}

const struct fuse_out_header *reply_next(void)
{
	const struct fuse_out_header *out = (const void *)W.reply;
	bool entries;

	cr_assert(reply_read(timeout_ms()), "no reply within %u ms (last unique sent %llu)",
		  timeout_ms(), (unsigned long long)W.unique);
	reply_ioctl_take();
	cr_assert_geq(W.reply_len, sizeof(*out), "a %zu-byte reply: shorter than its header",
		      W.reply_len);
	cr_assert_eq(out->len, W.reply_len, "reply header says %u bytes, %zu sent", out->len,
		     W.reply_len);
	/* A successful LOOKUP reply longer than fuse_entry_out carries entries. */
	entries = out->unique && sent_opcode(out->unique) == FUSE_LOOKUP && !out->error &&
		  W.reply_len > sizeof(*out) + sizeof(struct fuse_entry_out);
	cr_assert(!entries || W.reply_ioctl,
		  "unique %llu: a LOOKUP reply with entries was written: an RFC kernel refuses "
		  "it (EINVAL); it goes through FUSE_DEV_IOC_BPF_RESPONSE",
		  (unsigned long long)out->unique);
	cr_assert(entries || !W.reply_ioctl,
		  "unique %llu: FUSE_DEV_IOC_BPF_RESPONSE with a reply that carries no LOOKUP "
		  "entries", (unsigned long long)out->unique);
	return out;
}

const void *expect_reply(uint64_t unique, int error, size_t arg_len)
{
	const struct fuse_out_header *out = reply_next();

	cr_assert_eq(out->unique, unique, "reply to unique %llu (error %d), expected %llu",
		     (unsigned long long)out->unique, out->error, (unsigned long long)unique);
	cr_assert_eq(out->error, error, "unique %llu: error %d (%s), expected %d (%s)",
		     (unsigned long long)unique, out->error, strerror(-out->error), error,
		     strerror(-error));
	/* The kernel refuses an error reply with a payload (fuse_dev_do_write). */
	if (error)
		cr_assert_eq(W.reply_len, sizeof(*out), "error %d with a %zu-byte payload",
			     error, W.reply_len - sizeof(*out));
	else if (arg_len != WIRE_ANY_LEN)
		cr_assert_eq(W.reply_len - sizeof(*out), arg_len,
			     "unique %llu: a %zu-byte payload, expected %zu",
			     (unsigned long long)unique, W.reply_len - sizeof(*out), arg_len);
	return W.reply + sizeof(*out);
}

size_t reply_arg_len(void)
{
	return W.reply_len - sizeof(struct fuse_out_header);
}

struct fuse_entry_out expect_entry(uint64_t unique)
{
	struct fuse_entry_out e;

	memcpy(&e, expect_reply(unique, 0, sizeof(e)), sizeof(e));
	cr_assert_neq(e.nodeid, 0, "an entry without a node");
	return e;
}

uint64_t expect_open(uint64_t unique)
{
	struct fusebpf_open_out o;

	memcpy(&o, expect_reply(unique, 0, sizeof(o)), sizeof(o));
	cr_assert_neq(o.fh, 0);
	return o.fh;
}

uint64_t lookup_ok(uint64_t parent, const char *name)
{
	return expect_entry(send_lookup(parent, name)).nodeid;
}

void expect_silence(unsigned ms)
{
	if (reply_read(ms)) {
		const struct fuse_out_header *out = (const void *)W.reply;

		cr_assert_fail("unexpected %zu-byte message (unique %llu, error %d)", W.reply_len,
			       W.reply_len >= sizeof(*out) ? (unsigned long long)out->unique : 0ull,
			       W.reply_len >= sizeof(*out) ? out->error : 0);
	}
}

void expect_alive(void)
{
	struct fuse_attr_out a;
	struct stat st;

	cr_assert_eq(stat(W.backing, &st), 0);
	memcpy(&a, expect_reply(send_getattr(FUSE_ROOT_ID), 0, sizeof(a)), sizeof(a));
	cr_assert_eq(a.attr.ino, st.st_ino, "GETATTR of the root: inode %llu, expected %llu",
		     (unsigned long long)a.attr.ino, (unsigned long long)st.st_ino);
	cr_assert_eq(a.attr.mode, st.st_mode);
}

void wire_init(void)
{
	uint64_t u = send_init(FUSE_KERNEL_VERSION, WIRE_MINOR, kernel_init_flags(WIRE_MINOR),
			       kernel_init_in_size(WIRE_MINOR));

	memcpy(&W.init, expect_reply(u, 0, sizeof(W.init)), sizeof(W.init));
	cr_assert_eq(W.init.major, FUSE_KERNEL_VERSION);
}

const char *wire_op_name(uint32_t opcode)
{
	if (opcode < FUSEBPF_OP_MAX && fusebpf_opcode_names[opcode])
		return fusebpf_opcode_names[opcode];
	return "UNKNOWN";
}
