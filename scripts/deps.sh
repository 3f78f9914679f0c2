#!/bin/bash
# Installs the Debian packages that building, testing, the demo and the
# benchmark need.  Idempotent: installs only what is missing.  Run as root.
set -euo pipefail

packages=(
	build-essential
	clang llvm
	libcriterion-dev
	libsqlite3-dev
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libexif-dev libjpeg62-turbo-dev libimage-exiftool-perl
	attr acl
	fio
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
	if [[ $(id -u) != 0 ]]; then
		echo "deps: missing packages ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
