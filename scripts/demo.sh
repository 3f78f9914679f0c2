#!/bin/bash
# `make demo`: the media storage overlay (docs/media.md) on a small example
# tree, as two apps and a privileged uid: what each sees of Android/data,
# GPS tags redacted for one app and not the other, the media index, and how
# many requests took the fast path.  Leaves nothing mounted or loaded,
# whatever happens.
# Usage: scripts/demo.sh BUILD_DIR        (as root; make demo builds first)
set -euo pipefail
export LC_ALL=C
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$top/$build
fsd=$build/fsd
fusebpf=$build/fusebpf
jpeggen=$build/jpeggen
policy=media-demo

camera=10010 # com.example.camera: holds the media location grant
social=10020 # com.example.social: does not
system=1000  # privileged: sees every app's files

[[ $(id -u) = 0 ]] || {
	echo "demo: must run as root (mounting, BPF)" >&2
	exit 1
}
work=$(mktemp -d /tmp/fsd-demo.XXXXXX)
backing=$work/storage
mnt=$work/sdcard
db=$work/media.db
loaded=

cleanup() {
	set +e
	if grep -qs " $mnt fuse" /proc/mounts; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	[[ -n $loaded ]] && "$fusebpf" unload "$policy" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {
	printf '\033[2m$ %s\033[0m\n' "$*"
	"$@"
}
# Runs a command as an app, showing it as that app's.
as() {
	local uid=$1 who=$2
	shift 2
	printf '\033[2m[%s] $ %s\033[0m\n' "$who" "$*"
	setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@" 2>&1 | sed "s|$work/||g" || true
}

step "an example shared storage: photos with and without GPS tags, two apps' private directories"
chmod 755 "$work"
mkdir -p "$backing"/{DCIM/Camera,Pictures/Screenshots,Music/ringtones,Download} \
	"$backing"/Android/data/{com.example.camera,com.example.social}/files \
	"$backing"/Android/obb/{com.example.camera,com.example.social} "$mnt"
"$jpeggen" --size 320x240 --seed 1 "$backing/DCIM/Camera/IMG_0001.jpg"
"$jpeggen" --size 320x240 --seed 2 --order mm --thumbnail --lat 35.6586 --lon 139.7454 \
	"$backing/DCIM/Camera/IMG_0002.jpg"
"$jpeggen" --size 320x240 --seed 3 --no-gps "$backing/DCIM/Camera/IMG_0003.jpg"
"$jpeggen" --size 320x240 --seed 5 --xmp --lat 40.6892 --lon -74.0445 "$backing/DCIM/Camera/IMG_0004.jpg"
"$jpeggen" --size 200x400 --seed 4 --no-gps "$backing/Pictures/Screenshots/shot.jpg"
head -c 20000 /dev/urandom >"$backing/Music/ringtones/bell.ogg"
touch "$backing/Music/ringtones/.nomedia"
echo "draft" >"$backing/Download/notes.txt"
echo "camera settings" >"$backing/Android/data/com.example.camera/files/settings.json"
echo "social cache" >"$backing/Android/data/com.example.social/files/cache.bin"
chown -R "$camera:$camera" "$backing/Android/data/com.example.camera"
chown -R "$social:$social" "$backing/Android/data/com.example.social"
# The camera took the photos: they are its own, no other app's to change.
chown "$camera:$camera" "$backing"/DCIM/Camera/*.jpg
# As on Android's lower filesystem, the mode bits let everyone in: the policy decides.
chmod -R a+rwX "$backing"
(cd "$backing" && find . -mindepth 1 | sort | sed 's|^\./|  |')

step "load the media policy and tell it who is who (BPF maps)"
show "$fusebpf" load media --name "$policy"
loaded=1
show "$fusebpf" media --policy "$policy" app add "$camera" com.example.camera
show "$fusebpf" media --policy "$policy" app add "$social" com.example.social
show "$fusebpf" media --policy "$policy" privileged add "$system"
show "$fusebpf" media --policy "$policy" grant "$camera" location
show "$fusebpf" media --policy "$policy" apps

step "mount: the policy in BPF, the media module (redaction, index) in userspace"
show timeout 120 "$fsd" -o "policy=$policy,user=media:$db" "$backing" "$mnt"
grep " $mnt " /proc/mounts | cut -d' ' -f1-3

step "Android/data as each app, and as the privileged uid"
as "$camera" camera ls -l "$mnt/Android/data"
as "$social" social ls -l "$mnt/Android/data"
as "$system" system ls -l "$mnt/Android/data"
as "$social" social cat "$mnt/Android/data/com.example.camera/files/settings.json"
as "$social" social mkdir "$mnt/Android/data/com.example.camera"
as "$social" social ls "$mnt/Android/data/com.example.social/files"

photo=DCIM/Camera/IMG_0002.jpg
step "GPS tags of $photo: the camera app holds the location grant, the social app does not"
as "$camera" camera exiftool -s -gps:all "$mnt/$photo"
as "$social" social exiftool -s -gps:all "$mnt/$photo"
echo "(nothing: the GPS directory reads as zeros; every other tag is there:)"
as "$social" social exiftool -s -Model -DateTimeOriginal -ImageSize "$mnt/$photo"
printf '\033[2m[social] $ cmp -l %s %s | wc -l\033[0m\n' "sdcard/$photo" "storage/$photo"
n=$(setpriv --reuid=$social --regid=$social --clear-groups cmp -l "$mnt/$photo" "$backing/$photo" |
	wc -l || true)
echo "$n bytes differ from the backing file (of $(stat -c %s "$backing/$photo")), all of them GPS data;" \
	"the camera's copy:"
as "$camera" camera cmp "$mnt/$photo" "$backing/$photo"
echo "identical; a photo without GPS is identical for the social app too:"
as "$social" social cmp "$mnt/DCIM/Camera/IMG_0003.jpg" "$backing/DCIM/Camera/IMG_0003.jpg"
echo "identical"
echo "What the file holds decides, not its name: renamed by its owner, or with junk after its"
echo "SOI marker (which libexif and exiftool skip), a photo is still redacted:"
as "$camera" camera mv "$mnt/$photo" "$mnt/DCIM/Camera/IMG_0002.dat"
as "$social" social exiftool -s -gps:all "$mnt/DCIM/Camera/IMG_0002.dat"
as "$camera" camera mv "$mnt/DCIM/Camera/IMG_0002.dat" "$mnt/$photo"
printf '\xd8' | dd of="$backing/DCIM/Camera/IMG_0004.jpg" bs=1 seek=2 conv=notrunc status=none
as "$social" social exiftool -a -s -G1 '-GPS*' "$backing/DCIM/Camera/IMG_0004.jpg"
as "$social" social exiftool -a -s -G1 '-GPS*' "$mnt/DCIM/Camera/IMG_0004.jpg"
echo "(the backing file's GPS, which exiftool reads through the junk; nothing through the mount)"

step "the media index: kept current through the mount (SQLite, $db)"
as "$social" social cp "$backing/DCIM/Camera/IMG_0003.jpg" "$mnt/Pictures/shared.jpg"
as "$camera" camera mv "$mnt/DCIM/Camera/IMG_0001.jpg" "$mnt/DCIM/Camera/IMG_0001_edited.jpg"
as "$social" social rm "$mnt/DCIM/Camera/IMG_0002.jpg"
echo "(the camera's photo: not the social app's to remove, though the directory is writable by all)"
sleep 0.2 # the close reaches the daemon just after cp returns
show "$fusebpf" media query "$db"
echo "(Music/ringtones has a .nomedia: not indexed)"
show "$fusebpf" media query --owner "$social" "$db"
show "$fusebpf" media query --type 'image/*' --prefix DCIM/ "$db"

step "what the daemon did: fast path (passthrough, CONTINUE) vs userspace"
show "$fusebpf" stats "$mnt"
echo "OPEN: the privileged and granted reads went CONTINUE (passthrough: the kernel reads"
echo "them, no READ reaches the daemon); the social app's opens went USER, to the module, which"
echo "read each file once (opens_checked) and opened those without location by passthrough too;"
echo "READ requests are only the redacted reads."

step "unmount"
show umount "$mnt"
sleep 0.2
if grep -qs " $mnt fuse" /proc/mounts; then echo "still mounted?"; else echo "unmounted"; fi
