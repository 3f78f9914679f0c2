// SPDX-License-Identifier: MIT
/*
 * The open(2) flag and errno tables of the architectures a FUSE client
 * kernel may have, and the translations between a client's values and fsd's
 * own (arch.h says what an architecture is and which way each function goes).
 *
 * The values are those of Linux 6.1's uapi headers, in the radix the headers
 * use: arch/<arch>/include/uapi/asm/fcntl.h and errno.h, falling back to
 * include/uapi/asm-generic/ for what an architecture does not define (which
 * is what the kernel's build does for an architecture without its own
 * header).  selftests/unit/test_arch.c checks every value against those
 * headers, evaluated independently of these tables.
 */
#include "arch.h"

#include <elf.h>
#include <errno.h>
#include <stddef.h>

/*
 * The errno tables are indexed by the native errno names, so they need a
 * host whose numbering is asm-generic's, x86-64's (every architecture fsd
 * is expected to run on; alpha, mips, parisc and sparc are not).
 */
_Static_assert(EAGAIN == 11 && EDEADLK == 35 && ENOSYS == 38 && EOPNOTSUPP == 95 && EDQUOT == 122 &&
		   EHWPOISON == 133,
	       "this host's errno numbering is not asm-generic's: the tables need native rows");

/* The last asm-generic errno (EHWPOISON).  Every architecture has them all. */
#define ARCH_ERRNO_MAX 133

/* The access mode: 0, 1, 2 (and 3, "no access", for ioctl-only opens) everywhere. */
#define ARCH_O_ACCMODE 00000003
/*
 * The kernel's own bits in a file's f_flags, which FUSE sends along with the
 * open flags: __FMODE_EXEC on an exec's open, __FMODE_NONOTIFY on
 * fanotify's (include/linux/fs.h:121,170).  The same on every architecture,
 * and guaranteed apart from every O_ flag (fs/fcntl.c:1025); open(2)
 * ignores them.
 */
#define ARCH_FMODE_EXEC	    0x20
#define ARCH_FMODE_NONOTIFY 0x4000000
#define ARCH_O_KERNEL_BITS  (ARCH_FMODE_EXEC | ARCH_FMODE_NONOTIFY)

/* The one-bit open flags.  O_SYNC is __O_SYNC|O_DSYNC, O_TMPFILE __O_TMPFILE|O_DIRECTORY. */
enum arch_open_flag {
	AO_CREAT,
	AO_EXCL,
	AO_NOCTTY,
	AO_TRUNC,
	AO_APPEND,
	AO_NONBLOCK,
	AO_DSYNC,
	AO_FASYNC,
	AO_DIRECT,
	AO_LARGEFILE,
	AO_DIRECTORY,
	AO_NOFOLLOW,
	AO_NOATIME,
	AO_CLOEXEC,
	AO__SYNC, /* __O_SYNC */
	AO_PATH,
	AO__TMPFILE, /* __O_TMPFILE */
	AO_COUNT
};

struct arch_open_flags {
	uint32_t bit[AO_COUNT];
	/*
	 * sparc's own O_NDELAY bit: 0x0004 (sparc32's O_NDELAY is 0x0004 |
	 * O_NONBLOCK).  The kernel treats it as O_NONBLOCK (fs/fcntl.c:54),
	 * which is O_NDELAY everywhere else.  0 on other architectures.
	 */
	uint32_t ndelay;
};

struct arch {
	uint16_t id; /* ELF e_machine */
	/* A second number for EDEADLK (the architecture's EDEADLOCK), or 0. */
	uint16_t edeadlock;
	const char *name;
	const struct arch_open_flags *open;
	/* [native errno] = the architecture's number, 0 for no errno (see below). */
	const uint16_t *errnos;
};

/* The tables keep the layout of the headers they copy. */
/* clang-format off */

/* x86-64, i386, riscv, s390, loongarch: include/uapi/asm-generic/fcntl.h */
static const struct arch_open_flags open_generic = {
	.bit = {
		[AO_CREAT] = 00000100,
		[AO_EXCL] = 00000200,
		[AO_NOCTTY] = 00000400,
		[AO_TRUNC] = 00001000,
		[AO_APPEND] = 00002000,
		[AO_NONBLOCK] = 00004000,
		[AO_DSYNC] = 00010000,
		[AO_FASYNC] = 00020000,
		[AO_DIRECT] = 00040000,
		[AO_LARGEFILE] = 00100000,
		[AO_DIRECTORY] = 00200000,
		[AO_NOFOLLOW] = 00400000,
		[AO_NOATIME] = 01000000,
		[AO_CLOEXEC] = 02000000,
		[AO__SYNC] = 04000000,
		[AO_PATH] = 010000000,
		[AO__TMPFILE] = 020000000,
	},
};

/* arm, arm64: arch/arm{,64}/include/uapi/asm/fcntl.h */
static const struct arch_open_flags open_arm = {
	.bit = {
		[AO_CREAT] = 00000100,
		[AO_EXCL] = 00000200,
		[AO_NOCTTY] = 00000400,
		[AO_TRUNC] = 00001000,
		[AO_APPEND] = 00002000,
		[AO_NONBLOCK] = 00004000,
		[AO_DSYNC] = 00010000,
		[AO_FASYNC] = 00020000,
		[AO_DIRECTORY] = 040000, /* arm */
		[AO_NOFOLLOW] = 0100000, /* arm */
		[AO_DIRECT] = 0200000, /* arm */
		[AO_LARGEFILE] = 0400000, /* arm */
		[AO_NOATIME] = 01000000,
		[AO_CLOEXEC] = 02000000,
		[AO__SYNC] = 04000000,
		[AO_PATH] = 010000000,
		[AO__TMPFILE] = 020000000,
	},
};

/* powerpc, powerpc64: arch/powerpc/include/uapi/asm/fcntl.h */
static const struct arch_open_flags open_powerpc = {
	.bit = {
		[AO_CREAT] = 00000100,
		[AO_EXCL] = 00000200,
		[AO_NOCTTY] = 00000400,
		[AO_TRUNC] = 00001000,
		[AO_APPEND] = 00002000,
		[AO_NONBLOCK] = 00004000,
		[AO_DSYNC] = 00010000,
		[AO_FASYNC] = 00020000,
		[AO_DIRECTORY] = 040000, /* powerpc */
		[AO_NOFOLLOW] = 0100000, /* powerpc */
		[AO_LARGEFILE] = 0200000, /* powerpc */
		[AO_DIRECT] = 0400000, /* powerpc */
		[AO_NOATIME] = 01000000,
		[AO_CLOEXEC] = 02000000,
		[AO__SYNC] = 04000000,
		[AO_PATH] = 010000000,
		[AO__TMPFILE] = 020000000,
	},
};

/* arch/mips/include/uapi/asm/fcntl.h (hex), the rest asm-generic (octal) */
static const struct arch_open_flags open_mips = {
	.bit = {
		[AO_APPEND] = 0x0008,
		[AO_DSYNC] = 0x0010,
		[AO_NONBLOCK] = 0x0080,
		[AO_CREAT] = 0x0100,
		[AO_TRUNC] = 0x0200,
		[AO_EXCL] = 0x0400,
		[AO_NOCTTY] = 0x0800,
		[AO_FASYNC] = 0x1000,
		[AO_LARGEFILE] = 0x2000,
		[AO__SYNC] = 0x4000,
		[AO_DIRECT] = 0x8000,
		[AO_DIRECTORY] = 00200000,
		[AO_NOFOLLOW] = 00400000,
		[AO_NOATIME] = 01000000,
		[AO_CLOEXEC] = 02000000,
		[AO_PATH] = 010000000,
		[AO__TMPFILE] = 020000000,
	},
};

/* sparc, sparc64: arch/sparc/include/uapi/asm/fcntl.h (hex), the rest asm-generic (octal) */
static const struct arch_open_flags open_sparc = {
	.bit = {
		[AO_APPEND] = 0x0008,
		[AO_FASYNC] = 0x0040,
		[AO_CREAT] = 0x0200,
		[AO_TRUNC] = 0x0400,
		[AO_EXCL] = 0x0800,
		[AO_DSYNC] = 0x2000,
		[AO_NONBLOCK] = 0x4000,
		[AO_NOCTTY] = 0x8000,
		[AO_LARGEFILE] = 0x40000,
		[AO_DIRECT] = 0x100000,
		[AO_NOATIME] = 0x200000,
		[AO_CLOEXEC] = 0x400000,
		[AO__SYNC] = 0x800000,
		[AO_PATH] = 0x1000000,
		[AO__TMPFILE] = 0x2000000,
		[AO_DIRECTORY] = 00200000,
		[AO_NOFOLLOW] = 00400000,
	},
	.ndelay = 0x0004,
};

/* arch/alpha/include/uapi/asm/fcntl.h, FASYNC from asm-generic */
static const struct arch_open_flags open_alpha = {
	.bit = {
		[AO_CREAT] = 01000,
		[AO_TRUNC] = 02000,
		[AO_EXCL] = 04000,
		[AO_NOCTTY] = 010000,
		[AO_NONBLOCK] = 00004,
		[AO_APPEND] = 00010,
		[AO_DSYNC] = 040000,
		[AO_DIRECTORY] = 0100000,
		[AO_NOFOLLOW] = 0200000,
		[AO_LARGEFILE] = 0400000,
		[AO_DIRECT] = 02000000,
		[AO_NOATIME] = 04000000,
		[AO_CLOEXEC] = 010000000,
		[AO__SYNC] = 020000000,
		[AO_PATH] = 040000000,
		[AO__TMPFILE] = 0100000000,
		[AO_FASYNC] = 00020000,
	},
};

/* arch/parisc/include/uapi/asm/fcntl.h, O_TRUNC, FASYNC and O_DIRECT from asm-generic */
static const struct arch_open_flags open_parisc = {
	.bit = {
		[AO_APPEND] = 000000010,
		[AO_CREAT] = 000000400,
		[AO_EXCL] = 000002000,
		[AO_LARGEFILE] = 000004000,
		[AO__SYNC] = 000100000,
		[AO_NONBLOCK] = 000200000,
		[AO_NOCTTY] = 000400000,
		[AO_DSYNC] = 001000000,
		[AO_NOATIME] = 004000000,
		[AO_CLOEXEC] = 010000000,
		[AO_DIRECTORY] = 000010000,
		[AO_NOFOLLOW] = 000000200,
		[AO_PATH] = 020000000,
		[AO__TMPFILE] = 040000000,
		[AO_TRUNC] = 00001000,
		[AO_FASYNC] = 00020000,
		[AO_DIRECT] = 00040000,
	},
};

/*
 * errno: [native number] = the architecture's number; 0 where no errno has
 * the native number (41 and 58, EWOULDBLOCK and EDEADLOCK being aliases).
 * Every architecture has every errno of asm-generic, some of them under a
 * second name (parisc's ECANCELLED) and some with numbers of their own for
 * an alias (struct arch's edeadlock).
 */

/* x86-64, i386, arm, arm64, riscv, powerpc, s390, loongarch: asm-generic/errno{-base,}.h */
static const uint16_t errno_generic[ARCH_ERRNO_MAX + 1] = {
	[EPERM] = 1,                [ENOENT] = 2,               [ESRCH] = 3,
	[EINTR] = 4,                [EIO] = 5,                  [ENXIO] = 6,
	[E2BIG] = 7,                [ENOEXEC] = 8,              [EBADF] = 9,
	[ECHILD] = 10,              [EAGAIN] = 11,              [ENOMEM] = 12,
	[EACCES] = 13,              [EFAULT] = 14,              [ENOTBLK] = 15,
	[EBUSY] = 16,               [EEXIST] = 17,              [EXDEV] = 18,
	[ENODEV] = 19,              [ENOTDIR] = 20,             [EISDIR] = 21,
	[EINVAL] = 22,              [ENFILE] = 23,              [EMFILE] = 24,
	[ENOTTY] = 25,              [ETXTBSY] = 26,             [EFBIG] = 27,
	[ENOSPC] = 28,              [ESPIPE] = 29,              [EROFS] = 30,
	[EMLINK] = 31,              [EPIPE] = 32,               [EDOM] = 33,
	[ERANGE] = 34,              [EDEADLK] = 35,             [ENAMETOOLONG] = 36,
	[ENOLCK] = 37,              [ENOSYS] = 38,              [ENOTEMPTY] = 39,
	[ELOOP] = 40,               [ENOMSG] = 42,              [EIDRM] = 43,
	[ECHRNG] = 44,              [EL2NSYNC] = 45,            [EL3HLT] = 46,
	[EL3RST] = 47,              [ELNRNG] = 48,              [EUNATCH] = 49,
	[ENOCSI] = 50,              [EL2HLT] = 51,              [EBADE] = 52,
	[EBADR] = 53,               [EXFULL] = 54,              [ENOANO] = 55,
	[EBADRQC] = 56,             [EBADSLT] = 57,             [EBFONT] = 59,
	[ENOSTR] = 60,              [ENODATA] = 61,             [ETIME] = 62,
	[ENOSR] = 63,               [ENONET] = 64,              [ENOPKG] = 65,
	[EREMOTE] = 66,             [ENOLINK] = 67,             [EADV] = 68,
	[ESRMNT] = 69,              [ECOMM] = 70,               [EPROTO] = 71,
	[EMULTIHOP] = 72,           [EDOTDOT] = 73,             [EBADMSG] = 74,
	[EOVERFLOW] = 75,           [ENOTUNIQ] = 76,            [EBADFD] = 77,
	[EREMCHG] = 78,             [ELIBACC] = 79,             [ELIBBAD] = 80,
	[ELIBSCN] = 81,             [ELIBMAX] = 82,             [ELIBEXEC] = 83,
	[EILSEQ] = 84,              [ERESTART] = 85,            [ESTRPIPE] = 86,
	[EUSERS] = 87,              [ENOTSOCK] = 88,            [EDESTADDRREQ] = 89,
	[EMSGSIZE] = 90,            [EPROTOTYPE] = 91,          [ENOPROTOOPT] = 92,
	[EPROTONOSUPPORT] = 93,     [ESOCKTNOSUPPORT] = 94,     [EOPNOTSUPP] = 95,
	[EPFNOSUPPORT] = 96,        [EAFNOSUPPORT] = 97,        [EADDRINUSE] = 98,
	[EADDRNOTAVAIL] = 99,       [ENETDOWN] = 100,           [ENETUNREACH] = 101,
	[ENETRESET] = 102,          [ECONNABORTED] = 103,       [ECONNRESET] = 104,
	[ENOBUFS] = 105,            [EISCONN] = 106,            [ENOTCONN] = 107,
	[ESHUTDOWN] = 108,          [ETOOMANYREFS] = 109,       [ETIMEDOUT] = 110,
	[ECONNREFUSED] = 111,       [EHOSTDOWN] = 112,          [EHOSTUNREACH] = 113,
	[EALREADY] = 114,           [EINPROGRESS] = 115,        [ESTALE] = 116,
	[EUCLEAN] = 117,            [ENOTNAM] = 118,            [ENAVAIL] = 119,
	[EISNAM] = 120,             [EREMOTEIO] = 121,          [EDQUOT] = 122,
	[ENOMEDIUM] = 123,          [EMEDIUMTYPE] = 124,        [ECANCELED] = 125,
	[ENOKEY] = 126,             [EKEYEXPIRED] = 127,        [EKEYREVOKED] = 128,
	[EKEYREJECTED] = 129,       [EOWNERDEAD] = 130,         [ENOTRECOVERABLE] = 131,
	[ERFKILL] = 132,            [EHWPOISON] = 133,
};

/* arch/alpha/include/uapi/asm/errno.h */
static const uint16_t errno_alpha[ARCH_ERRNO_MAX + 1] = {
	[EPERM] = 1,                [ENOENT] = 2,               [ESRCH] = 3,
	[EINTR] = 4,                [EIO] = 5,                  [ENXIO] = 6,
	[E2BIG] = 7,                [ENOEXEC] = 8,              [EBADF] = 9,
	[ECHILD] = 10,              [EAGAIN] = 35,              [ENOMEM] = 12,
	[EACCES] = 13,              [EFAULT] = 14,              [ENOTBLK] = 15,
	[EBUSY] = 16,               [EEXIST] = 17,              [EXDEV] = 18,
	[ENODEV] = 19,              [ENOTDIR] = 20,             [EISDIR] = 21,
	[EINVAL] = 22,              [ENFILE] = 23,              [EMFILE] = 24,
	[ENOTTY] = 25,              [ETXTBSY] = 26,             [EFBIG] = 27,
	[ENOSPC] = 28,              [ESPIPE] = 29,              [EROFS] = 30,
	[EMLINK] = 31,              [EPIPE] = 32,               [EDOM] = 33,
	[ERANGE] = 34,              [EDEADLK] = 11,             [ENAMETOOLONG] = 63,
	[ENOLCK] = 77,              [ENOSYS] = 78,              [ENOTEMPTY] = 66,
	[ELOOP] = 62,               [ENOMSG] = 80,              [EIDRM] = 81,
	[ECHRNG] = 88,              [EL2NSYNC] = 89,            [EL3HLT] = 90,
	[EL3RST] = 91,              [ELNRNG] = 93,              [EUNATCH] = 94,
	[ENOCSI] = 95,              [EL2HLT] = 96,              [EBADE] = 97,
	[EBADR] = 98,               [EXFULL] = 99,              [ENOANO] = 100,
	[EBADRQC] = 101,            [EBADSLT] = 102,            [EBFONT] = 104,
	[ENOSTR] = 87,              [ENODATA] = 86,             [ETIME] = 83,
	[ENOSR] = 82,               [ENONET] = 105,             [ENOPKG] = 92,
	[EREMOTE] = 71,             [ENOLINK] = 106,            [EADV] = 107,
	[ESRMNT] = 108,             [ECOMM] = 109,              [EPROTO] = 85,
	[EMULTIHOP] = 110,          [EDOTDOT] = 111,            [EBADMSG] = 84,
	[EOVERFLOW] = 112,          [ENOTUNIQ] = 113,           [EBADFD] = 114,
	[EREMCHG] = 115,            [ELIBACC] = 122,            [ELIBBAD] = 123,
	[ELIBSCN] = 124,            [ELIBMAX] = 125,            [ELIBEXEC] = 126,
	[EILSEQ] = 116,             [ERESTART] = 127,           [ESTRPIPE] = 128,
	[EUSERS] = 68,              [ENOTSOCK] = 38,            [EDESTADDRREQ] = 39,
	[EMSGSIZE] = 40,            [EPROTOTYPE] = 41,          [ENOPROTOOPT] = 42,
	[EPROTONOSUPPORT] = 43,     [ESOCKTNOSUPPORT] = 44,     [EOPNOTSUPP] = 45,
	[EPFNOSUPPORT] = 46,        [EAFNOSUPPORT] = 47,        [EADDRINUSE] = 48,
	[EADDRNOTAVAIL] = 49,       [ENETDOWN] = 50,            [ENETUNREACH] = 51,
	[ENETRESET] = 52,           [ECONNABORTED] = 53,        [ECONNRESET] = 54,
	[ENOBUFS] = 55,             [EISCONN] = 56,             [ENOTCONN] = 57,
	[ESHUTDOWN] = 58,           [ETOOMANYREFS] = 59,        [ETIMEDOUT] = 60,
	[ECONNREFUSED] = 61,        [EHOSTDOWN] = 64,           [EHOSTUNREACH] = 65,
	[EALREADY] = 37,            [EINPROGRESS] = 36,         [ESTALE] = 70,
	[EUCLEAN] = 117,            [ENOTNAM] = 118,            [ENAVAIL] = 119,
	[EISNAM] = 120,             [EREMOTEIO] = 121,          [EDQUOT] = 69,
	[ENOMEDIUM] = 129,          [EMEDIUMTYPE] = 130,        [ECANCELED] = 131,
	[ENOKEY] = 132,             [EKEYEXPIRED] = 133,        [EKEYREVOKED] = 134,
	[EKEYREJECTED] = 135,       [EOWNERDEAD] = 136,         [ENOTRECOVERABLE] = 137,
	[ERFKILL] = 138,            [EHWPOISON] = 139,
};

/* arch/mips/include/uapi/asm/errno.h */
static const uint16_t errno_mips[ARCH_ERRNO_MAX + 1] = {
	[EPERM] = 1,                [ENOENT] = 2,               [ESRCH] = 3,
	[EINTR] = 4,                [EIO] = 5,                  [ENXIO] = 6,
	[E2BIG] = 7,                [ENOEXEC] = 8,              [EBADF] = 9,
	[ECHILD] = 10,              [EAGAIN] = 11,              [ENOMEM] = 12,
	[EACCES] = 13,              [EFAULT] = 14,              [ENOTBLK] = 15,
	[EBUSY] = 16,               [EEXIST] = 17,              [EXDEV] = 18,
	[ENODEV] = 19,              [ENOTDIR] = 20,             [EISDIR] = 21,
	[EINVAL] = 22,              [ENFILE] = 23,              [EMFILE] = 24,
	[ENOTTY] = 25,              [ETXTBSY] = 26,             [EFBIG] = 27,
	[ENOSPC] = 28,              [ESPIPE] = 29,              [EROFS] = 30,
	[EMLINK] = 31,              [EPIPE] = 32,               [EDOM] = 33,
	[ERANGE] = 34,              [EDEADLK] = 45,             [ENAMETOOLONG] = 78,
	[ENOLCK] = 46,              [ENOSYS] = 89,              [ENOTEMPTY] = 93,
	[ELOOP] = 90,               [ENOMSG] = 35,              [EIDRM] = 36,
	[ECHRNG] = 37,              [EL2NSYNC] = 38,            [EL3HLT] = 39,
	[EL3RST] = 40,              [ELNRNG] = 41,              [EUNATCH] = 42,
	[ENOCSI] = 43,              [EL2HLT] = 44,              [EBADE] = 50,
	[EBADR] = 51,               [EXFULL] = 52,              [ENOANO] = 53,
	[EBADRQC] = 54,             [EBADSLT] = 55,             [EBFONT] = 59,
	[ENOSTR] = 60,              [ENODATA] = 61,             [ETIME] = 62,
	[ENOSR] = 63,               [ENONET] = 64,              [ENOPKG] = 65,
	[EREMOTE] = 66,             [ENOLINK] = 67,             [EADV] = 68,
	[ESRMNT] = 69,              [ECOMM] = 70,               [EPROTO] = 71,
	[EMULTIHOP] = 74,           [EDOTDOT] = 73,             [EBADMSG] = 77,
	[EOVERFLOW] = 79,           [ENOTUNIQ] = 80,            [EBADFD] = 81,
	[EREMCHG] = 82,             [ELIBACC] = 83,             [ELIBBAD] = 84,
	[ELIBSCN] = 85,             [ELIBMAX] = 86,             [ELIBEXEC] = 87,
	[EILSEQ] = 88,              [ERESTART] = 91,            [ESTRPIPE] = 92,
	[EUSERS] = 94,              [ENOTSOCK] = 95,            [EDESTADDRREQ] = 96,
	[EMSGSIZE] = 97,            [EPROTOTYPE] = 98,          [ENOPROTOOPT] = 99,
	[EPROTONOSUPPORT] = 120,    [ESOCKTNOSUPPORT] = 121,    [EOPNOTSUPP] = 122,
	[EPFNOSUPPORT] = 123,       [EAFNOSUPPORT] = 124,       [EADDRINUSE] = 125,
	[EADDRNOTAVAIL] = 126,      [ENETDOWN] = 127,           [ENETUNREACH] = 128,
	[ENETRESET] = 129,          [ECONNABORTED] = 130,       [ECONNRESET] = 131,
	[ENOBUFS] = 132,            [EISCONN] = 133,            [ENOTCONN] = 134,
	[ESHUTDOWN] = 143,          [ETOOMANYREFS] = 144,       [ETIMEDOUT] = 145,
	[ECONNREFUSED] = 146,       [EHOSTDOWN] = 147,          [EHOSTUNREACH] = 148,
	[EALREADY] = 149,           [EINPROGRESS] = 150,        [ESTALE] = 151,
	[EUCLEAN] = 135,            [ENOTNAM] = 137,            [ENAVAIL] = 138,
	[EISNAM] = 139,             [EREMOTEIO] = 140,          [EDQUOT] = 1133,
	[ENOMEDIUM] = 159,          [EMEDIUMTYPE] = 160,        [ECANCELED] = 158,
	[ENOKEY] = 161,             [EKEYEXPIRED] = 162,        [EKEYREVOKED] = 163,
	[EKEYREJECTED] = 164,       [EOWNERDEAD] = 165,         [ENOTRECOVERABLE] = 166,
	[ERFKILL] = 167,            [EHWPOISON] = 168,
};

/* arch/parisc/include/uapi/asm/errno.h */
static const uint16_t errno_parisc[ARCH_ERRNO_MAX + 1] = {
	[EPERM] = 1,                [ENOENT] = 2,               [ESRCH] = 3,
	[EINTR] = 4,                [EIO] = 5,                  [ENXIO] = 6,
	[E2BIG] = 7,                [ENOEXEC] = 8,              [EBADF] = 9,
	[ECHILD] = 10,              [EAGAIN] = 11,              [ENOMEM] = 12,
	[EACCES] = 13,              [EFAULT] = 14,              [ENOTBLK] = 15,
	[EBUSY] = 16,               [EEXIST] = 17,              [EXDEV] = 18,
	[ENODEV] = 19,              [ENOTDIR] = 20,             [EISDIR] = 21,
	[EINVAL] = 22,              [ENFILE] = 23,              [EMFILE] = 24,
	[ENOTTY] = 25,              [ETXTBSY] = 26,             [EFBIG] = 27,
	[ENOSPC] = 28,              [ESPIPE] = 29,              [EROFS] = 30,
	[EMLINK] = 31,              [EPIPE] = 32,               [EDOM] = 33,
	[ERANGE] = 34,              [EDEADLK] = 45,             [ENAMETOOLONG] = 248,
	[ENOLCK] = 46,              [ENOSYS] = 251,             [ENOTEMPTY] = 247,
	[ELOOP] = 249,              [ENOMSG] = 35,              [EIDRM] = 36,
	[ECHRNG] = 37,              [EL2NSYNC] = 38,            [EL3HLT] = 39,
	[EL3RST] = 40,              [ELNRNG] = 41,              [EUNATCH] = 42,
	[ENOCSI] = 43,              [EL2HLT] = 44,              [EBADE] = 160,
	[EBADR] = 161,              [EXFULL] = 162,             [ENOANO] = 163,
	[EBADRQC] = 164,            [EBADSLT] = 165,            [EBFONT] = 166,
	[ENOSTR] = 54,              [ENODATA] = 51,             [ETIME] = 52,
	[ENOSR] = 53,               [ENONET] = 50,              [ENOPKG] = 55,
	[EREMOTE] = 71,             [ENOLINK] = 57,             [EADV] = 58,
	[ESRMNT] = 59,              [ECOMM] = 60,               [EPROTO] = 61,
	[EMULTIHOP] = 64,           [EDOTDOT] = 66,             [EBADMSG] = 67,
	[EOVERFLOW] = 72,           [ENOTUNIQ] = 167,           [EBADFD] = 168,
	[EREMCHG] = 169,            [ELIBACC] = 170,            [ELIBBAD] = 171,
	[ELIBSCN] = 172,            [ELIBMAX] = 173,            [ELIBEXEC] = 174,
	[EILSEQ] = 47,              [ERESTART] = 175,           [ESTRPIPE] = 176,
	[EUSERS] = 68,              [ENOTSOCK] = 216,           [EDESTADDRREQ] = 217,
	[EMSGSIZE] = 218,           [EPROTOTYPE] = 219,         [ENOPROTOOPT] = 220,
	[EPROTONOSUPPORT] = 221,    [ESOCKTNOSUPPORT] = 222,    [EOPNOTSUPP] = 223,
	[EPFNOSUPPORT] = 224,       [EAFNOSUPPORT] = 225,       [EADDRINUSE] = 226,
	[EADDRNOTAVAIL] = 227,      [ENETDOWN] = 228,           [ENETUNREACH] = 229,
	[ENETRESET] = 230,          [ECONNABORTED] = 231,       [ECONNRESET] = 232,
	[ENOBUFS] = 233,            [EISCONN] = 234,            [ENOTCONN] = 235,
	[ESHUTDOWN] = 236,          [ETOOMANYREFS] = 237,       [ETIMEDOUT] = 238,
	[ECONNREFUSED] = 239,       [EHOSTDOWN] = 241,          [EHOSTUNREACH] = 242,
	[EALREADY] = 244,           [EINPROGRESS] = 245,        [ESTALE] = 70,
	[EUCLEAN] = 177,            [ENOTNAM] = 178,            [ENAVAIL] = 179,
	[EISNAM] = 180,             [EREMOTEIO] = 181,          [EDQUOT] = 69,
	[ENOMEDIUM] = 182,          [EMEDIUMTYPE] = 183,        [ECANCELED] = 253,
	[ENOKEY] = 184,             [EKEYEXPIRED] = 185,        [EKEYREVOKED] = 186,
	[EKEYREJECTED] = 187,       [EOWNERDEAD] = 254,         [ENOTRECOVERABLE] = 255,
	[ERFKILL] = 256,            [EHWPOISON] = 257,
};

/* arch/sparc/include/uapi/asm/errno.h */
static const uint16_t errno_sparc[ARCH_ERRNO_MAX + 1] = {
	[EPERM] = 1,                [ENOENT] = 2,               [ESRCH] = 3,
	[EINTR] = 4,                [EIO] = 5,                  [ENXIO] = 6,
	[E2BIG] = 7,                [ENOEXEC] = 8,              [EBADF] = 9,
	[ECHILD] = 10,              [EAGAIN] = 11,              [ENOMEM] = 12,
	[EACCES] = 13,              [EFAULT] = 14,              [ENOTBLK] = 15,
	[EBUSY] = 16,               [EEXIST] = 17,              [EXDEV] = 18,
	[ENODEV] = 19,              [ENOTDIR] = 20,             [EISDIR] = 21,
	[EINVAL] = 22,              [ENFILE] = 23,              [EMFILE] = 24,
	[ENOTTY] = 25,              [ETXTBSY] = 26,             [EFBIG] = 27,
	[ENOSPC] = 28,              [ESPIPE] = 29,              [EROFS] = 30,
	[EMLINK] = 31,              [EPIPE] = 32,               [EDOM] = 33,
	[ERANGE] = 34,              [EDEADLK] = 78,             [ENAMETOOLONG] = 63,
	[ENOLCK] = 79,              [ENOSYS] = 90,              [ENOTEMPTY] = 66,
	[ELOOP] = 62,               [ENOMSG] = 75,              [EIDRM] = 77,
	[ECHRNG] = 94,              [EL2NSYNC] = 95,            [EL3HLT] = 96,
	[EL3RST] = 97,              [ELNRNG] = 98,              [EUNATCH] = 99,
	[ENOCSI] = 100,             [EL2HLT] = 101,             [EBADE] = 102,
	[EBADR] = 103,              [EXFULL] = 104,             [ENOANO] = 105,
	[EBADRQC] = 106,            [EBADSLT] = 107,            [EBFONT] = 109,
	[ENOSTR] = 72,              [ENODATA] = 111,            [ETIME] = 73,
	[ENOSR] = 74,               [ENONET] = 80,              [ENOPKG] = 113,
	[EREMOTE] = 71,             [ENOLINK] = 82,             [EADV] = 83,
	[ESRMNT] = 84,              [ECOMM] = 85,               [EPROTO] = 86,
	[EMULTIHOP] = 87,           [EDOTDOT] = 88,             [EBADMSG] = 76,
	[EOVERFLOW] = 92,           [ENOTUNIQ] = 115,           [EBADFD] = 93,
	[EREMCHG] = 89,             [ELIBACC] = 114,            [ELIBBAD] = 112,
	[ELIBSCN] = 124,            [ELIBMAX] = 123,            [ELIBEXEC] = 110,
	[EILSEQ] = 122,             [ERESTART] = 116,           [ESTRPIPE] = 91,
	[EUSERS] = 68,              [ENOTSOCK] = 38,            [EDESTADDRREQ] = 39,
	[EMSGSIZE] = 40,            [EPROTOTYPE] = 41,          [ENOPROTOOPT] = 42,
	[EPROTONOSUPPORT] = 43,     [ESOCKTNOSUPPORT] = 44,     [EOPNOTSUPP] = 45,
	[EPFNOSUPPORT] = 46,        [EAFNOSUPPORT] = 47,        [EADDRINUSE] = 48,
	[EADDRNOTAVAIL] = 49,       [ENETDOWN] = 50,            [ENETUNREACH] = 51,
	[ENETRESET] = 52,           [ECONNABORTED] = 53,        [ECONNRESET] = 54,
	[ENOBUFS] = 55,             [EISCONN] = 56,             [ENOTCONN] = 57,
	[ESHUTDOWN] = 58,           [ETOOMANYREFS] = 59,        [ETIMEDOUT] = 60,
	[ECONNREFUSED] = 61,        [EHOSTDOWN] = 64,           [EHOSTUNREACH] = 65,
	[EALREADY] = 37,            [EINPROGRESS] = 36,         [ESTALE] = 70,
	[EUCLEAN] = 117,            [ENOTNAM] = 118,            [ENAVAIL] = 119,
	[EISNAM] = 120,             [EREMOTEIO] = 121,          [EDQUOT] = 69,
	[ENOMEDIUM] = 125,          [EMEDIUMTYPE] = 126,        [ECANCELED] = 127,
	[ENOKEY] = 128,             [EKEYEXPIRED] = 129,        [EKEYREVOKED] = 130,
	[EKEYREJECTED] = 131,       [EOWNERDEAD] = 132,         [ENOTRECOVERABLE] = 133,
	[ERFKILL] = 134,            [EHWPOISON] = 135,
};

/* One row per ELF e_machine; a row serves the 32- and 64-bit kernels of its e_machine. */
static const struct arch arch_table[] = {
	{ .id = EM_X86_64, .name = "x86-64", .open = &open_generic, .errnos = errno_generic },
	{ .id = EM_386, .name = "i386", .open = &open_generic, .errnos = errno_generic },
	{ .id = EM_AARCH64, .name = "arm64", .open = &open_arm, .errnos = errno_generic },
	{ .id = EM_ARM, .name = "arm", .open = &open_arm, .errnos = errno_generic },
	{ .id = EM_RISCV, .name = "riscv", .open = &open_generic, .errnos = errno_generic },
	{ .id = EM_PPC64, .name = "powerpc64", .open = &open_powerpc, .errnos = errno_generic,
	  .edeadlock = 58 },
	{ .id = EM_PPC, .name = "powerpc", .open = &open_powerpc, .errnos = errno_generic,
	  .edeadlock = 58 },
	{ .id = EM_S390, .name = "s390", .open = &open_generic, .errnos = errno_generic },
	{ .id = EM_MIPS, .name = "mips", .open = &open_mips, .errnos = errno_mips,
	  .edeadlock = 56 },
	{ .id = EM_SPARCV9, .name = "sparc64", .open = &open_sparc, .errnos = errno_sparc,
	  .edeadlock = 108 },
	{ .id = EM_SPARC, .name = "sparc", .open = &open_sparc, .errnos = errno_sparc,
	  .edeadlock = 108 },
	{ .id = EM_ALPHA, .name = "alpha", .open = &open_alpha, .errnos = errno_alpha },
	{ .id = EM_PARISC, .name = "parisc", .open = &open_parisc, .errnos = errno_parisc },
	{ .id = EM_LOONGARCH, .name = "loongarch", .open = &open_generic, .errnos = errno_generic },
};

/* clang-format on */

/* The row fsd's own values come from. */
#if defined(__x86_64__)
#define ARCH_NATIVE EM_X86_64
#elif defined(__i386__)
#define ARCH_NATIVE EM_386
#elif defined(__aarch64__)
#define ARCH_NATIVE EM_AARCH64
#elif defined(__arm__)
#define ARCH_NATIVE EM_ARM
#elif defined(__riscv)
#define ARCH_NATIVE EM_RISCV
#elif defined(__powerpc64__)
#define ARCH_NATIVE EM_PPC64
#elif defined(__powerpc__)
#define ARCH_NATIVE EM_PPC
#elif defined(__s390__)
#define ARCH_NATIVE EM_S390
#elif defined(__loongarch__)
#define ARCH_NATIVE EM_LOONGARCH
#else
#error "fsd/arch.c: no table row for the architecture fsd is built for"
#endif

const struct arch *arch_find(uint32_t e_machine)
{
	for (size_t i = 0; i < sizeof(arch_table) / sizeof(arch_table[0]); i++)
		if (arch_table[i].id == e_machine)
			return &arch_table[i];
	return NULL;
}

const struct arch *arch_native(void)
{
	return arch_find(ARCH_NATIVE);
}

uint32_t arch_id(const struct arch *a)
{
	return a->id;
}

const char *arch_name(const struct arch *a)
{
	return a->name;
}

uint32_t arch_open_flags_unknown(const struct arch *a, uint32_t flags)
{
	uint32_t known = ARCH_O_ACCMODE | ARCH_O_KERNEL_BITS | a->open->ndelay;

	for (int i = 0; i < AO_COUNT; i++)
		known |= a->open->bit[i];
	return flags & ~known;
}

/* Flags known to from's table, bit by bit into to's values. */
static uint32_t open_flags_convert(const struct arch *from, const struct arch *to, uint32_t flags)
{
	uint32_t out = flags & (ARCH_O_ACCMODE | ARCH_O_KERNEL_BITS);

	for (int i = 0; i < AO_COUNT; i++)
		if (flags & from->open->bit[i])
			out |= to->open->bit[i];
	if (flags & from->open->ndelay)
		out |= to->open->bit[AO_NONBLOCK];
	return out;
}

int arch_open_flags_to_native(const struct arch *a, uint32_t flags, uint32_t *native)
{
	if (arch_open_flags_unknown(a, flags))
		return -EINVAL;
	*native = open_flags_convert(a, arch_native(), flags);
	return 0;
}

int arch_open_flags_from_native(const struct arch *a, uint32_t native, uint32_t *flags)
{
	if (arch_open_flags_unknown(arch_native(), native))
		return -EINVAL;
	*flags = open_flags_convert(arch_native(), a, native);
	return 0;
}

int arch_errno_from_native(const struct arch *a, int neg_errno)
{
	int e = EIO;

	if (!neg_errno)
		return 0;
	/* Compared before negating: -INT_MIN does not exist. */
	if (neg_errno < 0 && neg_errno >= -ARCH_ERRNO_MAX && a->errnos[-neg_errno])
		e = -neg_errno;
	return -(int)a->errnos[e];
}

int arch_errno_to_native(const struct arch *a, int neg_errno)
{
	if (!neg_errno)
		return 0;
	if (neg_errno < 0 && neg_errno > -UINT16_MAX) {
		uint16_t value = -neg_errno;

		if (value == a->edeadlock)
			return -EDEADLK;
		for (int e = 1; e <= ARCH_ERRNO_MAX; e++)
			if (a->errnos[e] == value)
				return -e;
	}
	return -EIO;
}
