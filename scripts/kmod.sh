#!/bin/bash
# Builds BUILD/kernel/fusebpf.ko: fs/fuse of Debian's linux-source-6.12 with
# the patches of kernel/series applied, against the headers of the newest
# Debian 6.12 kernel installed (scripts/vmtest-deps.sh installs both, of
# the same version).  docs/kernel.md.
#
# Usage: scripts/kmod.sh BUILD_DIR
#   KVER=6.12.N+deb12-amd64   the headers to build against (default: the newest)
#
# BUILD/kernel/src/fs/fuse is the patched tree, made again from the source
# tarball whenever a patch or the series changes; the build in it is
# incremental.  BUILD/kernel/fusebpf.ko.ver is the kernel it is built for.
set -euo pipefail
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/$build/kernel
tarball=/usr/src/linux-source-6.12.tar.xz

die() {
	echo "kmod: $*" >&2
	exit 2
}

ver=${KVER:-$(ls -d /lib/modules/6.12.*+deb12-amd64/build 2> /dev/null | sort -V | tail -n1 |
	cut -d/ -f4)}
[[ -n $ver ]] || die "no Debian 6.12 kernel headers: run scripts/vmtest-deps.sh"
[[ -d /lib/modules/$ver/build ]] || die "KVER=$ver: no headers in /lib/modules/$ver/build"
[[ -r $tarball ]] || die "$tarball is missing: run scripts/vmtest-deps.sh"
# The source must be the headers' version: a module built from other
# sources may load and then misread the kernel's structures.
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2> /dev/null) || src_version=
hdr_version=$(dpkg-query -W -f='${Version}' "linux-headers-$ver" 2> /dev/null) || hdr_version=
[[ -n $src_version && $src_version == "$hdr_version" ]] ||
	die "linux-source-6.12 is version '${src_version:-none}' but linux-headers-$ver is" \
		"'${hdr_version:-none}': install the same version of both (scripts/vmtest-deps.sh)"

mapfile -t patches < <(grep -v '^#' "$top/kernel/series" | grep -v '^$')
stamp=$( (echo "$src_version"; cd "$top/kernel" && cat series "${patches[@]}") | sha256sum | cut -d' ' -f1)
if [[ $(cat "$out/src/.stamp" 2> /dev/null) != "$stamp" ]]; then
	rm -rf "$out/src"
	mkdir -p "$out/src"
	tar -xJf "$tarball" -C "$out/src" --strip-components=1 linux-source-6.12/fs/fuse ||
		die "cannot extract fs/fuse from $tarball"
	for p in "${patches[@]}"; do
		patch -p1 -s -d "$out/src" < "$top/kernel/$p" > "$out/patch.log" 2>&1 ||
			die "kernel/$p does not apply to linux-source-6.12 $src_version: $(head -n3 "$out/patch.log")"
	done
	echo "$stamp" > "$out/src/.stamp"
fi
make -s -C "/lib/modules/$ver/build" M="$out/src/fs/fuse" FUSEBPF_INCLUDE="$top/include" \
	modules > "$out/build.log" 2>&1 || {
	cat "$out/build.log" >&2
	die "the build against /lib/modules/$ver/build failed"
}
# Warnings are errors here, as in the kernel's own CI.
if grep -E 'warning:|WARNING:' "$out/build.log" >&2; then
	die "the build warned (above; the whole log is $out/build.log)"
fi
cp "$out/src/fs/fuse/fusebpf.ko" "$out/fusebpf.ko"
echo "$ver" > "$out/fusebpf.ko.ver"
echo "kmod: $build/kernel/fusebpf.ko for $ver"
