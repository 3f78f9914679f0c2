#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of the request fuzzer (selftests/fuzz/corpus/).

Each seed is an input of fuzz_request.c: a configuration byte, then frames
(a little-endian u16 of length and flags, then one raw FUSE request).  The
seeds are short transcripts, valid and invalid, over the tree the target
builds for every input:

    f (file, user.x), h (hard link to f), d/ (dir), d/g, x/ (empty dir),
    ln -> f, out -> ../sentinel, abs -> <fence>/sentinel, p (fifo)

Node ids are deterministic (root 1, then 2, 3... in lookup order) and an
fh of N means the Nth handle opened in the input.  Run from anywhere:
    python3 selftests/fuzz/make_corpus.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

FIX_LEN = 0x2000
FIX_UNIQUE = 0x4000

OP = dict(LOOKUP=1, FORGET=2, GETATTR=3, SETATTR=4, READLINK=5, SYMLINK=6, MKNOD=8,
          MKDIR=9, UNLINK=10, RMDIR=11, RENAME=12, LINK=13, OPEN=14, READ=15, WRITE=16,
          STATFS=17, RELEASE=18, FSYNC=20, SETXATTR=21, GETXATTR=22, LISTXATTR=23,
          REMOVEXATTR=24, FLUSH=25, INIT=26, OPENDIR=27, READDIR=28, RELEASEDIR=29,
          FSYNCDIR=30, GETLK=31, ACCESS=34, CREATE=35, INTERRUPT=36, DESTROY=38,
          NOTIFY_REPLY=41, BATCH_FORGET=42, FALLOCATE=43, READDIRPLUS=44, RENAME2=45,
          LSEEK=46, COPY_FILE_RANGE=47, TMPFILE=51, STATX=52)

O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC = 0, 1, 2, 0o100, 0o200, 0o1000
O_DIRECTORY = 0o200000
S_IFIFO, S_IFCHR, S_IFREG = 0o010000, 0o020000, 0o100000

# config byte bits
DEBUG, CACHE_AUTO, CACHE_ALWAYS, NEGATIVE = 0x01, 0x02, 0x04, 0x08
OWN_INIT, NO_PASSTHROUGH, NO_DEFAULT_PERMS, OLD_INIT = 0x10, 0x20, 0x40, 0x80


def hdr(op, nodeid, body, uid=0, gid=0, pid=0, length=None, unique=0, extlen=0):
    total = 40 + len(body)
    return struct.pack("<IIQQIIIHH", total if length is None else length, op, unique,
                       nodeid, uid, gid, pid, extlen, 0) + body


def frame(req, flags=FIX_LEN | FIX_UNIQUE):
    assert len(req) < 0x2000
    return struct.pack("<H", len(req) | flags) + req


def s(name):
    return name.encode() + b"\0"


def req(op, nodeid=1, body=b"", **kw):
    return frame(hdr(OP[op], nodeid, body), kw.pop("flags", FIX_LEN | FIX_UNIQUE))


def raw(data, flags=0):
    return frame(data, flags)


def init(major=7, minor=45, flags=0x7fffffff, flags2=0xffffffff, size=64):
    body = struct.pack("<IIIII", major, minor, 131072, flags, flags2) + b"\0" * 44
    return req("INIT", 0, body[:size])


getattr_in = struct.pack("<IIQ", 0, 0, 0)


def open_in(flags):
    return struct.pack("<II", flags, 0)


def read_in(fh, off, size):
    return struct.pack("<QQIIQII", fh, off, size, 0, 0, 0, 0)


def write_in(fh, off, data, size=None):
    return struct.pack("<QQIIQII", fh, off, len(data) if size is None else size, 0, 0, 0,
                       0) + data


def release_in(fh):
    return struct.pack("<QIIQ", fh, 0, 0, 0)


def create_in(flags, mode, name):
    return struct.pack("<IIII", flags, mode, 0o22, 0) + s(name)


def mkdir_in(mode, name):
    return struct.pack("<II", mode, 0o22) + s(name)


def mknod_in(mode, rdev, name):
    return struct.pack("<IIII", mode, rdev, 0o22, 0) + s(name)


def setattr_in(valid, fh=0, size=0, mode=0, uid=0, gid=0, atime=0, mtime=0):
    return struct.pack("<IIQQQQQQIIIIIIII", valid, 0, fh, size, 0, atime, mtime, 0, 0, 0, 0,
                       mode, 0, uid, gid, 0)


def xattr_in(size, flags=0):
    return struct.pack("<II", size, flags)


def forget_in(n):
    return struct.pack("<Q", n)


def batch(entries, count=None):
    body = struct.pack("<II", len(entries) if count is None else count, 0)
    for nodeid, n in entries:
        body += struct.pack("<QQ", nodeid, n)
    return body


FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE = 1, 2, 4, 8
FATTR_ATIME, FATTR_MTIME, FATTR_FH, FATTR_ATIME_NOW, FATTR_MTIME_NOW = 16, 32, 64, 128, 256
FATTR_KILL_SUIDGID = 1 << 11

seeds = {}


def seed(name, cfg, *frames):
    seeds[name] = bytes([cfg]) + b"".join(frames)


C = CACHE_ALWAYS

# --- valid transcripts ---
seed("lookup-getattr-forget", C,
     req("LOOKUP", 1, s("f")), req("GETATTR", 2, getattr_in), req("FORGET", 2, forget_in(1)))
seed("open-read-write-release", C,
     req("LOOKUP", 1, s("f")), req("OPEN", 2, open_in(O_RDWR)),
     req("READ", 2, read_in(1, 0, 4096)), req("WRITE", 2, write_in(1, 3, b"XYZ")),
     req("FLUSH", 2, struct.pack("<QIIQ", 1, 0, 0, 0)),
     req("FSYNC", 2, struct.pack("<QII", 1, 1, 0)), req("RELEASE", 2, release_in(1)))
seed("mkdir-create-readdirplus", C | NEGATIVE,
     req("MKDIR", 1, mkdir_in(0o755, "n")), req("CREATE", 2, create_in(O_RDWR | O_CREAT, 0o644, "c")),
     req("WRITE", 3, write_in(1, 0, b"hello")), req("OPENDIR", 2, open_in(O_RDONLY)),
     req("READDIRPLUS", 2, read_in(2, 0, 4096)), req("RELEASEDIR", 2, release_in(2)),
     req("RELEASE", 3, release_in(1)))
seed("readdir-root", C | DEBUG,
     req("OPENDIR", 1, open_in(O_RDONLY | O_DIRECTORY)), req("READDIR", 1, read_in(1, 0, 4096)),
     req("READDIR", 1, read_in(1, 3, 80)), req("READDIRPLUS", 1, read_in(1, 0, 300)),
     req("FSYNCDIR", 1, struct.pack("<QII", 1, 0, 0)), req("RELEASEDIR", 1, release_in(1)))
seed("symlink-readlink", C,
     req("SYMLINK", 1, s("s") + s("f")), req("READLINK", 2), req("LOOKUP", 1, s("ln")),
     req("READLINK", 3), req("UNLINK", 1, s("s")))
seed("xattrs", C,
     req("LOOKUP", 1, s("f")), req("SETXATTR", 2, xattr_in(3) + s("user.y") + b"abc"),
     req("GETXATTR", 2, xattr_in(0) + s("user.y")), req("GETXATTR", 2, xattr_in(64) + s("user.y")),
     req("LISTXATTR", 2, xattr_in(0)), req("LISTXATTR", 2, xattr_in(256)),
     req("REMOVEXATTR", 2, s("user.y")), req("GETXATTR", 2, xattr_in(64) + s("user.x")))
seed("trusted-xattr-as-user", C,
     req("LOOKUP", 1, s("f")), req("SETXATTR", 2, xattr_in(1) + s("trusted.t") + b"t"),
     frame(hdr(OP["LISTXATTR"], 2, xattr_in(256), uid=1000, gid=1000)))
seed("rename-link-unlink-rmdir", C,
     req("RENAME", 1, struct.pack("<Q", 1) + s("f") + s("f2")),
     req("RENAME2", 1, struct.pack("<QII", 1, 1, 0) + s("f2") + s("h")),
     req("LOOKUP", 1, s("h")), req("LINK", 1, struct.pack("<Q", 2) + s("h2")),
     req("UNLINK", 1, s("h2")), req("RMDIR", 1, s("x")), req("RMDIR", 1, s("d")))
seed("statfs-access-statx", C,
     req("STATFS", 1), req("ACCESS", 1, struct.pack("<II", 7, 0)),
     req("STATX", 1, struct.pack("<IIQII", 0, 0, 0, 0, 0x7ff)),
     frame(hdr(OP["ACCESS"], 1, struct.pack("<II", 2, 0), uid=1000, gid=1000)))
seed("setattr", C,
     req("LOOKUP", 1, s("f")), req("OPEN", 2, open_in(O_RDWR)),
     req("SETATTR", 2, setattr_in(FATTR_MODE, mode=0o4755)),
     req("SETATTR", 2, setattr_in(FATTR_SIZE | FATTR_FH, fh=1, size=3)),
     req("SETATTR", 2, setattr_in(FATTR_ATIME | FATTR_MTIME_NOW, atime=1000)),
     req("SETATTR", 2, setattr_in(FATTR_UID | FATTR_GID, uid=1000, gid=1000)),
     frame(hdr(OP["WRITE"], 2, struct.pack("<QQIIQII", 1, 0, 1, 4, 0, 0, 0) + b"w",
               uid=1000, gid=1000)),
     req("SETATTR", 2, setattr_in(FATTR_KILL_SUIDGID)), req("RELEASE", 2, release_in(1)))
seed("tmpfile", C,
     req("TMPFILE", 1, create_in(O_RDWR, 0o600, "/")), req("WRITE", 2, write_in(1, 0, b"tmp")),
     req("READ", 2, read_in(1, 0, 10)), req("RELEASE", 2, release_in(1)))
seed("lseek-fallocate-copy", C,
     req("LOOKUP", 1, s("f")), req("OPEN", 2, open_in(O_RDWR)),
     req("CREATE", 1, create_in(O_RDWR | O_CREAT, 0o644, "c")),
     req("LSEEK", 2, struct.pack("<QQII", 1, 0, 3, 0)),
     req("LSEEK", 2, struct.pack("<QQII", 1, 0, 4, 0)),
     req("FALLOCATE", 2, struct.pack("<QQQII", 1, 0, 8192, 0, 0)),
     req("COPY_FILE_RANGE", 2, struct.pack("<QQQQQQQ", 1, 0, 3, 2, 0, 100, 0)),
     req("RELEASE", 2, release_in(1)), req("RELEASE", 3, release_in(2)))
seed("mknod", C,
     req("MKNOD", 1, mknod_in(S_IFIFO | 0o644, 0, "fifo")),
     req("MKNOD", 1, mknod_in(S_IFCHR | 0o600, 0x0103, "null")),
     req("MKNOD", 1, mknod_in(S_IFREG | 0o644, 0, "reg")),
     req("OPEN", 3, open_in(O_RDWR)), req("LOOKUP", 1, s("p")), req("OPEN", 5, open_in(O_RDONLY)))
seed("symlinks-outside", C,
     req("LOOKUP", 1, s("out")), req("LOOKUP", 1, s("abs")),
     req("SETATTR", 2, setattr_in(FATTR_SIZE, size=0)),
     req("SETATTR", 3, setattr_in(FATTR_MODE | FATTR_UID, mode=0o777, uid=1)),
     req("SETXATTR", 3, xattr_in(1) + s("trusted.t") + b"t"),
     req("OPEN", 3, open_in(O_RDWR | O_TRUNC)), req("LOOKUP", 2, s("sentinel")),
     req("LINK", 1, struct.pack("<Q", 3) + s("abs2")), req("READLINK", 3))
seed("subdir", C,
     req("LOOKUP", 1, s("d")), req("LOOKUP", 2, s("g")), req("OPEN", 3, open_in(O_RDONLY)),
     req("READ", 3, read_in(1, 0, 100)), req("RENAME", 2, struct.pack("<Q", 1) + s("g") + s("g2")),
     req("RELEASE", 3, release_in(1)), req("FORGET", 3, forget_in(1)))
seed("batch-forget", C,
     req("LOOKUP", 1, s("f")), req("LOOKUP", 1, s("d")), req("LOOKUP", 1, s("h")),
     req("BATCH_FORGET", 0, batch([(2, 2), (3, 1)])))
seed("interrupt-notify", C,
     req("INTERRUPT", 0, struct.pack("<Q", 12345)),
     req("NOTIFY_REPLY", 1, struct.pack("<QQQQ", 1, 0, 0, 0)),
     req("GETATTR", 1, getattr_in))
seed("destroy", C, req("DESTROY", 0), req("GETATTR", 1, getattr_in))
seed("cache-never", 0, req("LOOKUP", 1, s("f")), req("OPEN", 2, open_in(O_RDONLY | 0o40000)),
     req("READ", 2, read_in(1, 0, 4096)), req("RELEASE", 2, release_in(1)))
seed("cache-auto-no-perms", CACHE_AUTO | NO_DEFAULT_PERMS | NO_PASSTHROUGH,
     req("LOOKUP", 1, s("absent")), req("CREATE", 1, create_in(O_WRONLY | O_CREAT, 0o666, "absent")),
     req("RELEASE", 2, release_in(1)))
seed("old-kernel", C | OLD_INIT, req("LOOKUP", 1, s("f")), req("OPEN", 2, open_in(O_RDWR)))
seed("own-init", C | OWN_INIT, init(), req("GETATTR", 1, getattr_in))
seed("own-init-major8", C | OWN_INIT, init(major=8, minor=0), init(), req("STATFS", 1))
seed("own-init-old", C | OWN_INIT, init(minor=30, size=16), init(minor=31, size=16),
     req("GETATTR", 1, getattr_in))
seed("own-init-short", C | OWN_INIT, init(size=12), init(size=20), req("GETATTR", 1, getattr_in))
seed("before-init", C | OWN_INIT, req("LOOKUP", 1, s("f")), req("FORGET", 2, forget_in(1)), init())
seed("second-init", C, init(), req("GETATTR", 1, getattr_in))

seed("negative-lookup", C | NEGATIVE,
     req("LOOKUP", 1, s("absent")), req("LOOKUP", 1, s("f")), req("FORGET", 2, forget_in(1)),
     req("LOOKUP", 1, s("f")))
seed("setgid-write-by-user", C,
     req("LOOKUP", 1, s("f")),
     req("SETATTR", 2, setattr_in(FATTR_MODE | FATTR_GID, mode=0o2775, gid=4242)),
     frame(hdr(OP["OPEN"], 2, open_in(O_WRONLY), uid=1000, gid=1000, pid=1)),
     frame(hdr(OP["WRITE"], 2, struct.pack("<QQIIQII", 1, 0, 1, 4, 0, 0, 0) + b"w",
               uid=1000, gid=1000, pid=1)),
     frame(hdr(OP["FALLOCATE"], 2, struct.pack("<QQQII", 1, 0, 10, 0, 0), uid=1000, gid=1000, pid=1)),
     req("RELEASE", 2, release_in(1)))

# --- invalid requests ---
seed("truncated-header", C, raw(hdr(OP["GETATTR"], 1, getattr_in)[:10]), req("GETATTR", 1, getattr_in))
seed("len-mismatch", C, raw(hdr(OP["GETATTR"], 1, getattr_in, length=200, unique=2)),
     raw(hdr(OP["GETATTR"], 1, getattr_in, length=41, unique=4)))
seed("name-without-nul", C, req("LOOKUP", 1, b"f"), req("MKDIR", 1, struct.pack("<II", 0o755, 0) + b"n"))
seed("bad-names", C, req("LOOKUP", 1, s("..")), req("LOOKUP", 1, s("a/b")), req("LOOKUP", 1, s("")),
     req("RENAME", 1, struct.pack("<Q", 1) + s("f") + s(".")))
seed("long-name", C, req("LOOKUP", 1, s("n" * 256)), req("SYMLINK", 1, s("l") + s("t" * 4096)))
seed("unknown-opcodes", C, frame(hdr(99, 1, b"")), frame(hdr(0, 1, getattr_in)),
     frame(hdr(0x10001, 1, s("f"))), frame(hdr(0xffffffff, 1, b"")))
seed("extlen", C, frame(hdr(OP["GETATTR"], 1, getattr_in, extlen=0xffff)),
     frame(hdr(OP["LOOKUP"], 1, b"f\0\0\0\0\0\0\0", extlen=1)))
seed("nodeid-zero", C, req("GETATTR", 0, getattr_in), req("LOOKUP", 0, s("f")), req("OPEN", 0, open_in(0)))
seed("released-fh", C, req("LOOKUP", 1, s("f")), req("OPEN", 2, open_in(O_RDWR)),
     req("RELEASE", 2, release_in(1)), req("READ", 2, read_in(1, 0, 10)),
     req("WRITE", 2, write_in(1, 0, b"x")), req("RELEASE", 2, release_in(1)))
seed("absurd-sizes", C, req("LOOKUP", 1, s("f")), req("OPEN", 2, open_in(O_RDWR)),
     req("READ", 2, read_in(1, 0, 0xffffffff)), req("READ", 2, read_in(1, 1 << 63, 10)),
     req("WRITE", 2, write_in(1, 0, b"abc", size=1000)), req("WRITE", 2, write_in(1, 1 << 40, b"big")),
     req("RELEASE", 2, release_in(1)))
seed("setxattr-size", C, req("SETXATTR", 1, xattr_in(100) + s("user.z") + b"abc"),
     req("GETXATTR", 1, xattr_in(0xffffffff) + s("user.z")))
seed("batch-forget-count", C, req("LOOKUP", 1, s("f")),
     req("BATCH_FORGET", 0, batch([(2, 1)], count=1000)),
     req("BATCH_FORGET", 0, batch([], count=0xffffffff)))
seed("unique-zero", C, raw(hdr(OP["GETATTR"], 1, getattr_in)), req("GETATTR", 1, getattr_in))
seed("readdirplus-other-dir", C, req("LOOKUP", 1, s("d")), req("LOOKUP", 1, s("x")),
     req("OPENDIR", 2, open_in(O_RDONLY)), req("READDIRPLUS", 3, read_in(1, 0, 4096)),
     req("RELEASEDIR", 2, release_in(1)))
seed("forget-weird", C, req("FORGET", 1, forget_in(1 << 63)), req("FORGET", 0, forget_in(1)),
     req("FORGET", 77, b"abc"), req("GETATTR", 1, getattr_in))

# A FUSE-BPF mount (NO_PASSTHROUGH: kernel=fusebpf), with the target's INIT
# fusebpf.ko on arm64: filter calls (opcode | 0x10000 pre, | 0x20000 post,
# the post's error_in as the FUSE_ERROR_IN extension, 33), LOOKUP entries,
# arm64 open flags (O_DIRECT 0o200000 is O_DIRECTORY here).
PRE, POST = 0x10000, 0x20000
FB = CACHE_ALWAYS | NO_PASSTHROUGH
attr_out = struct.pack("<QII", 1, 0, 0) + bytes(88)
entry_out = struct.pack("<QQQQII", 5, 0, 1, 1, 0, 0) + bytes(88)
ERROR_IN = 33


def ext_error_in(error_in, size=16, type_=ERROR_IN, padding=0):
    return struct.pack("<IIiI", size, type_, error_in, padding)


def call(op, phase, nodeid, body, error_in=0, ext=None):
    if ext is None:
        ext = ext_error_in(error_in) if phase == POST else b""
    return frame(hdr(OP[op] | phase, nodeid, body + ext, extlen=len(ext) // 8))


def call_v2(op, nodeid, body, error_in):
    """A postfilter call of RFC v1/v2: error_in in the header's last word."""
    h = hdr(OP[op] | POST, nodeid, body)
    return frame(h[:36] + struct.pack("<i", error_in) + h[40:])


seed("fusebpf-lookup-entries", FB, req("LOOKUP", 1, s("d")), req("LOOKUP", 2, s("g")),
     req("LOOKUP", 1, s("p")), req("LOOKUP", 1, s("ln")), req("LOOKUP", 1, s("nope")))
seed("fusebpf-filter-calls", FB, call("LOOKUP", PRE, 1, s("f")),
     call("RENAME", PRE, 1, struct.pack("<Q", 1) + s("f") + s("g")),
     call("OPEN", PRE, 1, open_in(O_RDWR)), call("GETATTR", POST, 1, getattr_in + attr_out),
     call("GETATTR", POST, 1, getattr_in + attr_out, error_in=-2),
     call("LOOKUP", POST, 1, s("f") + entry_out), call("LOOKUP", POST, 1, s("f")),
     call("WRITE", PRE, 1, write_in(1, 0, b"data")), call("INIT", PRE, 0, b""),
     frame(hdr(OP["LOOKUP"] | PRE | POST, 1, s("f"))))
# Prefilter replies leave the last argument out when it is an immutable name.
seed("fusebpf-immutable-names", FB, call("MKDIR", PRE, 1, mkdir_in(0o755, "d")),
     call("CREATE", PRE, 1, create_in(O_CREAT | O_RDWR, S_IFREG | 0o644, "c")),
     call("UNLINK", PRE, 1, s("f")), call("RMDIR", PRE, 1, s("d")),
     call("RENAME2", PRE, 1, struct.pack("<QII", 1, 1, 0) + s("f") + s("g")),
     call("SYMLINK", PRE, 1, s("l") + s("target")),
     call("LINK", PRE, 1, struct.pack("<Q", 2) + s("n")))
# Extension lists a postfilter call must not get past: sizes, types, contents.
seed("fusebpf-bad-extensions", FB, call_v2("GETATTR", 1, getattr_in + attr_out, -2),
     call("GETATTR", POST, 1, getattr_in + attr_out, ext=b""),
     call("GETATTR", POST, 1, getattr_in + attr_out, ext=ext_error_in(0, size=12)),
     call("GETATTR", POST, 1, getattr_in + attr_out, ext=ext_error_in(0, size=0)),
     call("GETATTR", POST, 1, getattr_in + attr_out, ext=ext_error_in(0, size=24)),
     call("GETATTR", POST, 1, getattr_in + attr_out, ext=ext_error_in(5)),
     call("GETATTR", POST, 1, getattr_in + attr_out, ext=ext_error_in(0) * 2),
     call("GETATTR", POST, 1, getattr_in + attr_out,
          ext=struct.pack("<II", 8, 99) + ext_error_in(-13)),
     call("LOOKUP", PRE, 1, s("f"), ext=ext_error_in(0)))
seed("arm64-open-flags", FB, req("LOOKUP", 1, s("f")), req("OPEN", 2, open_in(0o200000)),
     req("OPEN", 2, open_in(0o40000)), req("OPEN", 2, open_in(0x40000000)),
     req("CREATE", 1, create_in(O_CREAT | 0o200000, S_IFREG | 0o644, "new")))
seed("bswap-init", OWN_INIT, raw(struct.pack(">IIQQIIIHH", 56, 26, 2, 0, 0, 0, 0, 0, 0) +
                                 struct.pack(">IIII", 7, 45, 0, 0), FIX_UNIQUE))

os.makedirs(OUT, exist_ok=True)
for old in os.listdir(OUT):
    os.unlink(os.path.join(OUT, old))
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {OUT}")
