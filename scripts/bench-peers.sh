#!/bin/bash
# fsd against the other ways to pass a directory through FUSE, and kernel
# overlayfs, in one run on one filesystem: the metadata loops of metabench,
# `ls -l` warm and a tree extract and delete, each side over a backing
# directory of its own, the sides taking turns.  Prints ops/s (or seconds)
# and ratios to native, and which side keeps xattrs and makes new files the
# caller's.
#
# The sides: native; fsd over /dev/fuse; fsd over io_uring (when the kernel
# has it: enable_uring is set for that mount's INIT and put back);
# libfuse's passthrough_ll and passthrough_hp (built from Debian's fuse3
# source, the libfuse the system has); bindfs; fuse-overlayfs; and kernel
# overlayfs (not FUSE: where an in-kernel stacking filesystem stands).
#
# Usage: scripts/bench-peers.sh [--prepare] BUILD_DIR   (make bench runs it; needs root)
#   --prepare: only build libfuse's examples into BUILD_DIR/peers (make bench
#   does it first, so that a missing source shows before the long runs)
# Environment: BENCH_QUICK=1 (2,000 files), BENCH_FILES, BENCH_ROUNDS (median
#   of; default 3), BENCH_TREE_FILES (files of the generated tree; 3,000),
#   PEERS (the sides to run, space-separated), BENCH_TIMEOUT (watchdog, s).
set -euo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
me=bench-peers
# shellcheck source=scripts/bench-lib.sh
source "$top/scripts/bench-lib.sh"
prepare=
if [[ ${1:-} = --prepare ]]; then
	prepare=1
	shift
fi
build=${1:-build}
[[ $build = /* ]] || build=$top/$build
quick=${BENCH_QUICK:-0}
[[ $quick = 0 ]] && quick=
nfiles=${BENCH_FILES:-${quick:+2000}}
nfiles=${nfiles:-10000}
rounds=${BENCH_ROUNDS:-3}
tree_files=${BENCH_TREE_FILES:-3000}
limit=${BENCH_TIMEOUT:-1800}
uring_param=/sys/module/fuse/parameters/enable_uring

[[ $(id -u) = 0 ]] || die "must run as root"
for b in fsd metabench; do
	[[ -x $build/$b ]] || die "no $build/$b; run make first"
done
for c in bindfs fuse-overlayfs g++ pkg-config; do
	command -v "$c" >/dev/null || die "$c is missing (make deps)"
done

# libfuse's examples, from the source of the libfuse this system has.
peers_dir=$build/peers
build_libfuse_examples() {
	local ver src
	[[ -x $peers_dir/passthrough_ll && -x $peers_dir/passthrough_hp &&
		$peers_dir/passthrough_hp -nt $top/scripts/bench-peers.sh ]] && return 0
	ver=$(pkg-config --modversion fuse3) || die "libfuse3-dev is missing (make deps)"
	mkdir -p "$peers_dir/apt/lists/partial" "$peers_dir/apt/parts"
	cat >"$peers_dir/apt/parts/src.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	local apt=(apt-get -qq -o Dir::Etc::SourceList=/dev/null
		-o "Dir::Etc::SourceParts=$peers_dir/apt/parts"
		-o "Dir::State::Lists=$peers_dir/apt/lists")
	if ! ls "$peers_dir"/fuse3_*.orig.tar.xz >/dev/null 2>&1; then
		"${apt[@]}" update 2>/dev/null || die "cannot read Debian's source index"
		(cd "$peers_dir" && "${apt[@]}" source --download-only fuse3 2>/dev/null) ||
			die "cannot download the fuse3 source package"
	fi
	src=$peers_dir/fuse-$ver
	[[ -d $src ]] || tar -xf "$peers_dir"/fuse3_*.orig.tar.xz -C "$peers_dir" ||
		die "cannot unpack the fuse3 source"
	[[ -f $src/example/passthrough_ll.c ]] || die "no libfuse $ver examples in $src"
	# What libfuse's own build (meson's config.h) defines on Linux: without
	# them the examples leave out xattrs and utimes.
	local have=(-DHAVE_SETXATTR -DHAVE_UTIMENSAT -DHAVE_POSIX_FALLOCATE -DHAVE_FALLOCATE
		-DHAVE_COPY_FILE_RANGE)
	# shellcheck disable=SC2046 # pkg-config's flags are meant to be split
	gcc -O2 "${have[@]}" -o "$peers_dir/passthrough_ll" "$src/example/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) || die "building passthrough_ll failed"
	# shellcheck disable=SC2046
	g++ -O2 -std=c++17 "${have[@]}" -o "$peers_dir/passthrough_hp" \
		"$src/example/passthrough_hp.cc" $(pkg-config --cflags --libs fuse3) -lpthread ||
		die "building passthrough_hp failed"
}
build_libfuse_examples
[[ -n $prepare ]] && exit 0

all_sides="native fsd ring passthrough_ll passthrough_hp bindfs fuse-overlayfs overlayfs"
[[ -w $uring_param ]] || all_sides=${all_sides/ ring/}
sides_run=${PEERS:-$all_sides}
for s in $sides_run; do
	[[ " $all_sides " = *" $s "* ]] || die "unknown or unavailable side '$s' in PEERS ($all_sides)"
done

scratch=$(mktemp -d /var/tmp/fsd-bench-peers.XXXXXX)
chmod 755 "$scratch"
uring_saved=
wd=
cleanup() {
	set +e
	[[ -n $wd ]] && pkill -P "$wd" 2>/dev/null
	if [[ -n $uring_saved ]]; then
		if [[ $uring_saved = Y ]]; then echo 1 >"$uring_param"; else echo 0 >"$uring_param"; fi
	fi
	# /proc/mounts, not mountpoint(1): a FUSE mount whose daemon died fails stat.
	for m in "$scratch"/mnt/*; do
		grep -qs " $m " /proc/mounts && umount "$m" 2>/dev/null
		grep -qs " $m " /proc/mounts && umount -l "$m"
	done
	for f in "$scratch"/*.pid; do
		[[ -s $f ]] && kill -TERM "$(cat "$f")" 2>/dev/null
	done
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
{ sleep "$limit" && echo "bench-peers: watchdog fired" >&2 && pkill -KILL -f "$scratch" &&
	kill -TERM $$; } 2>/dev/null &
wd=$!

# Mounts side's view of back/SIDE at mnt/SIDE; the FUSE daemons stay in the
# foreground, so that their pids are known.
mount_side() {
	local side=$1 back=$scratch/back/$1 dir=$scratch/mnt/$1 empty=$scratch/empty/$1
	local work=$scratch/work/$1
	mkdir -p "$back" "$dir" "$empty" "$work"
	case $side in
	native) return 0 ;;
	fsd) "$build/fsd" -f -o uring=off "$back" "$dir" 2>>"$scratch/$side.log" & ;;
	ring)
		uring_saved=$(cat "$uring_param")
		echo 1 >"$uring_param"
		"$build/fsd" -f -o uring=on "$back" "$dir" 2>>"$scratch/$side.log" &
		;;
	# Its defaults: no xattrs, a timeout of one second; cache=always as fsd's.
	passthrough_ll) "$peers_dir/passthrough_ll" -f -o source="$back",cache=always,allow_other "$dir" \
		2>>"$scratch/$side.log" & ;;
	passthrough_hp) "$peers_dir/passthrough_hp" --foreground "$back" "$dir" \
		2>>"$scratch/$side.log" & ;;
	bindfs) bindfs -f --multithreaded "$back" "$dir" 2>>"$scratch/$side.log" & ;;
	fuse-overlayfs) fuse-overlayfs -f -o lowerdir="$empty",upperdir="$back",workdir="$work" \
		"$dir" 2>>"$scratch/$side.log" & ;;
	overlayfs)
		mount -t overlay overlay -o lowerdir="$empty",upperdir="$back",workdir="$work" "$dir" ||
			die "kernel overlayfs did not mount"
		return 0
		;;
	esac
	echo $! >"$scratch/$side.pid"
	for _ in $(seq 100); do
		mountpoint -q "$dir" && break
		sleep 0.1
	done
	mountpoint -q "$dir" || die "$side did not mount (log: $(cat "$scratch/$side.log"))"
	if [[ $side = ring ]]; then
		echo "$uring_saved" | grep -q Y && echo 1 >"$uring_param" || echo 0 >"$uring_param"
		uring_saved=
		for _ in $(seq 50); do
			[[ $("$build/fsd" --stats "$dir" | awk '$1 == "uring" { print $2 }') = 1 ]] && break
			sleep 0.1
		done
		[[ $("$build/fsd" --stats "$dir" | awk '$1 == "uring" { print $2 }') = 1 ]] ||
			die "fsd did not get its io_uring rings"
	fi
}

root_of() { if [[ $1 = native ]]; then echo "$scratch/back/native"; else echo "$scratch/mnt/$1"; fi; }

# What a side keeps: xattrs (user.* set and read back) and the caller's
# ownership of what it creates (a file made by uid 1000 in a 1777 dir).
features() {
	local d f
	d=$(root_of "$1")/features
	mkdir -p "$d" && chmod 1777 "$d"
	f=$d/x
	: >"$f"
	if setfattr -n user.peer -v 1 "$f" 2>/dev/null &&
		[[ $(getfattr --only-values -n user.peer "$f" 2>/dev/null) = 1 ]]; then
		printf 'xattrs'
	else
		printf 'no xattrs'
	fi
	if ! setpriv --reuid 1000 --regid 1000 --clear-groups touch "$d/u" 2>/dev/null; then
		printf ', others refused'
	elif [[ $(stat -c %u "$d/u") = 1000 ]]; then
		printf ', caller owns'
	else
		printf ', mounter owns'
	fi
	rm -rf "$d"
}

# The tree: bench.sh's generated one.
gen_tree_tar "$scratch/tree.tar" "$tree_files" "$scratch"

# The ls fixture is made before mounting, as old files.
for side in $sides_run; do
	mkdir -p "$scratch/back/$side/lsdir"
	"$build/metabench" create "$scratch/back/$side/lsdir" "$nfiles" >/dev/null
done
declare -A feat ops failed
for side in $sides_run; do
	mount_side "$side"
	feat[$side]=$(features "$side")
done

for ((r = 1; r <= rounds; r++)); do
	# shellcheck disable=SC2086 # a list of names
	for side in $(sides "$r" $sides_run); do
		root=$(root_of "$side")
		d=$root/r$r
		mkdir "$d"
		# A side that fails a loop (passthrough_ll: an fd per inode it knows,
		# up to the open-file limit) is marked, not timed, and the run goes on.
		for phase in create stat open unlink; do
			sync
			if out=$(timeout 600 "$build/metabench" $phase "$d" "$nfiles" 2>"$scratch/err"); then
				ops[$side.$phase]+=" ${out%% *}"
			else
				failed[$side.$phase]=$(head -c 160 "$scratch/err")
			fi
		done
		rm -rf "$d" || true
		ls -l "$root/lsdir" >/dev/null
		t0=$EPOCHREALTIME
		timeout 600 ls -l "$root/lsdir" >/dev/null || die "ls -l ($side) failed"
		ops[$side.ls]+=" $(elapsed "$t0" "$EPOCHREALTIME")"
		mkdir "$root/tree"
		sync
		t0=$EPOCHREALTIME
		# A side that cannot do what tar asks (passthrough_hp: utimes) is marked, not timed.
		if timeout 900 tar -xf "$scratch/tree.tar" -C "$root/tree" 2>>"$scratch/tar-$side.log"; then
			ops[$side.tar]+=" $(elapsed "$t0" "$EPOCHREALTIME")"
		else
			failed[$side.tar]="$(grep -m1 -o 'Cannot [a-z]*: .*' "$scratch/tar-$side.log")"
		fi
		sync
		t0=$EPOCHREALTIME
		timeout 900 rm -rf "$root/tree" || die "rm -rf ($side) failed"
		ops[$side.rm]+=" $(elapsed "$t0" "$EPOCHREALTIME")"
	done
done

entries=$(tar -tf "$scratch/tree.tar" | wc -l)
echo "fsd and its peers: the same workloads on each, over one ext4 ($nfiles files;" \
	"a tree of $entries entries; median of $rounds rounds, the sides taking turns)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) cores;" \
	"libfuse $(pkg-config --modversion fuse3); $(bindfs --version 2>&1 | head -1);" \
	"$(fuse-overlayfs --version 2>/dev/null | grep -m1 '^fuse-overlayfs')"
printf '%-15s %-24s' side keeps
for w in create stat open+close unlink "ls -l warm" "tar -xf" "rm -rf"; do
	printf ' %15s' "$w"
done
echo
for side in $sides_run; do
	printf '%-15s %-24s' "$side" "${feat[$side]}"
	for w in create stat open unlink ls tar rm; do
		# shellcheck disable=SC2086 # lists of numbers
		v=$(median ${ops[$side.$w]:-}) n=$(median ${ops[native.$w]:-})
		if [[ -z $v ]]; then
			printf ' %15s' "fails"
			continue
		fi
		# Failed in some rounds: the median of the others, marked.
		[[ -n ${failed[$side.$w]:-} ]] && mark='!' || mark=' '
		case $w in
		ls | tar | rm) # seconds: the ratio is the time native takes over this side's
			awk -v v="$v" -v n="$n" -v m="$mark" 'BEGIN {
				printf " %6.3fs%s %5.2fx", v, m, (v > 0 && n > 0 ? n / v : 0) }' ;;
		*) awk -v v="$v" -v n="$n" -v m="$mark" 'BEGIN {
				printf " %7.0f%s %5.2fx", v, m, (n > 0 ? v / n : 0) }' ;;
		esac
	done
	echo
done
for k in "${!failed[@]}"; do
	echo "! ${k%%.*}: ${k#*.} failed in a round: ${failed[$k]}"
done
echo "ops/s for the metabench loops, seconds for the rest; each followed by the speed"
echo "relative to native (higher is better: 1.00x = native, for times native's time"
echo "over the side's). fsd: -o uring=off; ring: fsd -o uring=on; passthrough_ll:"
echo "-o cache=always; the others: their defaults (bindfs --multithreaded)."
