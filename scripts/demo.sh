#!/bin/bash
# The built-in example: mirrors a small generated tree through fsd and shows
# what the mount does.  Leaves nothing mounted, whatever happens.
# Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
fsd=$(cd "$(dirname "$0")/.." && pwd)/$build/fsd
work=$(mktemp -d /tmp/fsd-demo.XXXXXX)
backing=$work/backing
mnt=$work/mnt

cleanup() {
	grep -q " $mnt " /proc/mounts && umount -l "$mnt"
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

chmod 755 "$work"
mkdir -p "$backing/photos" "$backing/docs" "$mnt"
echo "hello from the backing directory" > "$backing/docs/readme.txt"
head -c 64M /dev/urandom > "$backing/photos/big.bin"
ln -s docs/readme.txt "$backing/link"

step "mount: fsd -o cache=always $backing $mnt"
timeout 120 "$fsd" "$backing" "$mnt"
grep " $mnt " /proc/mounts

step "the mount mirrors the backing directory"
ls -l "$mnt" "$mnt/docs"
cat "$mnt/link"

step "files created through the mount belong to the caller (uid 1000 here)"
chmod 1777 "$mnt/docs"
setpriv --reuid=1000 --regid=1000 --clear-groups sh -c "echo mine > '$mnt/docs/by-1000.txt'"
stat -c '%n: uid %u gid %g' "$backing/docs/by-1000.txt"

step "file data goes through kernel passthrough: reading 64 MiB"
dd if="$mnt/photos/big.bin" of=/dev/null bs=1M 2>&1 | tail -1
cmp "$mnt/photos/big.bin" "$backing/photos/big.bin" && echo "identical to the backing file"

step "what reached the daemon (fsd --stats): no READ requests for those 64 MiB"
"$fsd" --stats "$mnt" | grep -E '^(passthrough|nodes|requests\.(LOOKUP|OPEN|READ|WRITE|READDIRPLUS)) '
echo "requests.READ $("$fsd" --stats "$mnt" | awk '$1=="requests.READ"{print $2}' | grep . || echo 0)"

step "unmount"
umount "$mnt"
sleep 0.2
grep -q " $mnt " /proc/mounts && echo "still mounted?" || echo "unmounted; the daemon has exited"
