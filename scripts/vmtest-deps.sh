#!/bin/bash
# Installs what `make vmtest` needs beyond scripts/deps.sh: QEMU, a static
# busybox for the guest's initramfs, and the kernels of the built-in matrix,
# the newest linux-image-6.1.0-N-amd64 and linux-image-6.12.N+deb12-amd64
# that apt offers (6.12 comes from bookworm-security).  A kernel image
# installed here is only a file under /boot: it is never booted on the host.
# Idempotent: installs only what is missing.  Run as root.
# --no-kernels: QEMU and busybox only (make vmtest KERNEL=...).
set -euo pipefail
kernels=1
[[ ${1:-} == --no-kernels ]] && kernels=0

newest() {
	apt-cache search --names-only "$1" | cut -d' ' -f1 | sort -V | tail -n1
}

packages=(qemu-system-x86 busybox-static xz-utils zstd cpio kmod)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
# A matrix kernel is there when any image of its line is installed; the
# newest is looked up only when none is, so that a run needs no apt index.
for line in '^linux-image-6\.1\.0-[0-9]+-amd64$' '^linux-image-6\.12\.[0-9]+\+deb12-amd64$'; do
	((kernels)) || break
	dpkg-query -W -f='${Package} ${Status}\n' 'linux-image-6.*' 2>/dev/null |
		grep 'install ok installed' | cut -d' ' -f1 | grep -Eq "$line" && continue
	if [[ $(id -u) != 0 ]]; then
		echo "vmtest-deps: no kernel matching $line; run as root to install it" >&2
		exit 1
	fi
	pkg=$(newest "$line")
	if [[ -z $pkg ]]; then
		apt-get update -qq
		pkg=$(newest "$line")
	fi
	[[ -n $pkg ]] || { echo "vmtest-deps: apt offers no package matching $line" >&2; exit 1; }
	missing+=("$pkg")
done
if ((${#missing[@]})); then
	if [[ $(id -u) != 0 ]]; then
		echo "vmtest-deps: missing packages ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "vmtest-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
