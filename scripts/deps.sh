#!/bin/bash
# Installs the Debian packages that building, testing, the demo and the
# benchmark need.  Idempotent: installs only what is missing or, for the
# packages taken from bookworm-backports, older than they must be.  Run as
# root.
set -euo pipefail

if [[ $(id -u) != 0 ]]; then
	as_root() {
		echo "deps: $1; run as root to install them" >&2
		exit 1
	}
else
	as_root() { :; }
fi
export DEBIAN_FRONTEND=noninteractive

packages=(
	build-essential
	clang llvm
	libcriterion-dev
	libsqlite3-dev
	bpftool libelf-dev zlib1g-dev
	libexif-dev libjpeg62-turbo-dev libimage-exiftool-perl
	attr acl
	fio gnuplot-nox
	bindfs fuse-overlayfs libfuse3-dev
	linux-source-6.1
	libpython3.11-testsuite
	python3
	xz-utils
	util-linux procps psmisc
	man-db pkgconf
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	as_root "missing packages ${missing[*]}"
	echo "deps: installing ${missing[*]}"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# From bookworm-backports: a libbpf (1.4) that loads struct_ops maps of a
# type a kernel module defines (fusebpf.ko's struct fusebpf_ops, for
# `fusebpf load` in kernel mode; bookworm's 1.1 looks for it in vmlinux
# only).  Its bpftool (7.5) is not needed: bookworm's makes the skeletons,
# and neither lists a module's struct_ops maps (`struct_ops list` crashes
# on them).  Package and the version it must be.
backported=(libbpf1 1:1.4 libbpf-dev 1:1.4)
sources=/etc/apt/sources.list.d/fusebpf-backports.sources
old=()
for ((i = 0; i < ${#backported[@]}; i += 2)); do
	v=$(dpkg-query -W -f='${Status} ${Version}' "${backported[i]}" 2>/dev/null || true)
	if [[ $v != 'install ok installed '* ]] ||
		dpkg --compare-versions "${v##* }" lt "${backported[i + 1]}"; then
		old+=("${backported[i]}")
	fi
done
if ((${#old[@]})); then
	as_root "packages ${old[*]} missing or older than bookworm-backports has"
	if [[ ! -f $sources ]]; then
		echo "deps: adding bookworm-backports to apt's sources ($sources)"
		cat > "$sources" <<-EOF
			# fusebpf's scripts/deps.sh: libbpf from bookworm-backports.
			Types: deb
			URIs: http://deb.debian.org/debian
			Suites: bookworm-backports
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	fi
	echo "deps: installing ${old[*]} from bookworm-backports"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends -t bookworm-backports "${old[@]}" >/dev/null
fi
