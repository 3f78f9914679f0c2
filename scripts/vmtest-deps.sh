#!/bin/bash
# Installs what `make vmtest` needs beyond scripts/deps.sh: QEMU, a static
# busybox for the guest's initramfs, and the kernels of the built-in matrix,
# the newest linux-image-6.1.0-N-amd64 and linux-image-6.12.N+deb12-amd64
# that apt offers (6.12 comes from bookworm-security).  A kernel image
# installed here is only a file under /boot: it is never booted on the host.
# Then what `make kmod` builds fusebpf.ko with (docs/kernel.md): the
# headers of the newest 6.12 image installed and linux-source-6.12 of the
# same version, and pahole (dwarves) for the module's BTF.
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
install_missing() {
	((${#missing[@]})) || return 0
	if [[ $(id -u) != 0 ]]; then
		echo "vmtest-deps: missing packages ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "vmtest-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
install_missing
((kernels)) || exit 0

# The module's build needs, for the newest 6.12 image now installed.
image=$(dpkg-query -W -f='${Package} ${Status}\n' 'linux-image-6.12.*' 2>/dev/null |
	grep 'install ok installed' | cut -d' ' -f1 | grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
	sort -V | tail -n1)
version=$(dpkg-query -W -f='${Version}' "$image")
installed() {
	dpkg-query -W -f='${Version} ${Status}' "$1" 2>/dev/null
}
headers=linux-headers-${image#linux-image-}
missing=()
[[ $(installed "$headers") == "$version install ok installed" ]] || missing+=("$headers=$version")
[[ $(installed linux-source-6.12) == "$version install ok installed" ]] ||
	missing+=("linux-source-6.12=$version")
[[ $(installed dwarves) == *' install ok installed' ]] || missing+=(dwarves)
install_missing
