#!/bin/bash
# The in-kernel FUSE-BPF benchmark, run inside the fusebpf guest of
# scripts/vmtest.sh (make vmbench): the same workloads on a tmpfs backing
# directory natively, through fsd on the stock fuse, through fsd on
# fusebpf.ko with no policy and with the trace policy in the kernel, and
# through kernel overlayfs (the in-kernel anchor), in one guest run; one
# table of rates and ratios to native, medians of ROUNDS.
# Compare only inside one run: the guest is TCG, several times slower
# than the host.  docs/benchmarks.md.
#
# Usage (in the guest): scripts/vmbench.sh BUILD_DIR [FILES] [ROUNDS]
set -u
me=vmbench
build=${1:?usage: vmbench.sh BUILD_DIR [FILES] [ROUNDS]}
files=${2:-10000}
rounds=${3:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$top/scripts/bench-lib.sh"

fsd=$top/$build/fsd
fusebpf=$top/$build/fusebpf
metabench=$top/$build/metabench
[[ -x $fsd && -x $fusebpf && -x $metabench ]] ||
	die "no $build/fsd, $build/fusebpf or $build/metabench: run make first"
[[ -e /dev/fusebpf ]] || die "no /dev/fusebpf: run it in the fusebpf guest (make vmbench)"

work=$(mktemp -d /tmp/vmbench.XXXXXX)
mnt=$work/mnt
pid=
cleanup() {
	umount "$mnt" 2>/dev/null
	[[ -n $pid ]] && wait "$pid" 2>/dev/null
	"$fusebpf" unload vmbench-trace > /dev/null 2>&1
	umount "$work/backing" "$work/upper" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# The backing tree: FILES empty files and one 64 MiB file, on tmpfs.
mkdir -p "$work/backing" "$work/upper" "$mnt"
mount -t tmpfs -o size=512m tmpfs "$work/backing" || die "cannot mount tmpfs"
mount -t tmpfs tmpfs "$work/upper"
mkdir -p "$work/backing/d" "$work/upper/u" "$work/upper/w"
"$metabench" create "$work/backing/d" "$files" > /dev/null || die "cannot make $files files"
head -c $((64 << 20)) /dev/urandom > "$work/backing/big"

# mount_side SIDE: makes $mnt show the backing tree as SIDE does.
mount_side() {
	case $1 in
	native) mount --bind "$work/backing" "$mnt" ;;
	overlayfs)
		mount -t overlay overlay -o "lowerdir=$work/backing,upperdir=$work/upper/u,workdir=$work/upper/w" "$mnt"
		;;
	fuse | fusebpf | trace)
		local opts="kernel=$1"
		[[ $1 == trace ]] && opts="kernel=fusebpf,policy=vmbench-trace"
		"$fsd" -f -o "$opts" "$work/backing" "$mnt" 2> "$work/fsd.log" &
		pid=$!
		for _ in $(seq 100); do grep -qs " $mnt " /proc/mounts && return 0; sleep 0.1; done
		die "fsd did not mount ($1): $(tail -n 2 "$work/fsd.log")"
		;;
	esac
}

unmount_side() {
	umount "$mnt" || die "cannot unmount $mnt"
	if [[ -n $pid ]]; then
		wait "$pid"
		pid=
	fi
}

# Rates (operations per second) of one round of every workload, one per line.
workloads() {
	local a b rate
	# Warm: looked up once first.
	"$metabench" stat "$mnt/d" "$files" > /dev/null
	echo "stat $("$metabench" stat "$mnt/d" "$files" | cut -d' ' -f1)"
	echo "open+close $("$metabench" open "$mnt/d" "$files" | cut -d' ' -f1)"
	ls -l "$mnt/d" > /dev/null
	a=$EPOCHREALTIME
	ls -l "$mnt/d" > /dev/null
	b=$EPOCHREALTIME
	echo "ls -l warm $(awk -v n="$files" -v t="$(elapsed "$a" "$b")" 'BEGIN { printf "%.0f", n / t }')"
	drop_caches
	a=$EPOCHREALTIME
	ls -l "$mnt/d" > /dev/null
	b=$EPOCHREALTIME
	echo "ls -l cold $(awk -v n="$files" -v t="$(elapsed "$a" "$b")" 'BEGIN { printf "%.0f", n / t }')"
	a=$EPOCHREALTIME
	ls -f "$mnt/d" > /dev/null
	b=$EPOCHREALTIME
	echo "readdir $(awk -v n="$files" -v t="$(elapsed "$a" "$b")" 'BEGIN { printf "%.0f", n / t }')"
	rate=$(fio --name=r --filename="$mnt/big" --rw=randread --bs=4k --size=64m --runtime=5 \
		--time_based --ioengine=psync --output-format=terse --terse-version=3 2> /dev/null |
		cut -d';' -f8)
	echo "random 4k read ${rate:-0}"
	# Names made and removed through the mount, in a directory of their own.
	mkdir "$mnt/c" || die "cannot make $mnt/c"
	echo "create $("$metabench" create "$mnt/c" "$files" | cut -d' ' -f1)"
	echo "unlink $("$metabench" unlink "$mnt/c" "$files" | cut -d' ' -f1)"
	rmdir "$mnt/c" || die "cannot remove $mnt/c"
}

# trace counts every request by opcode and verdict, in the kernel here.
"$fusebpf" load trace --name vmbench-trace > /dev/null || die "cannot load the trace policy"
sides=(native fuse fusebpf trace overlayfs)
names=("stat" "open+close" "ls -l warm" "ls -l cold" "readdir" "random 4k read" "create" "unlink")
declare -A result
# Each round starts at the next side, so that no side always runs after
# the same one (under TCG a guest slows as it fills its caches).
for ((r = 0; r < rounds; r++)); do
	for ((i = 0; i < ${#sides[@]}; i++)); do
		side=${sides[(r + i) % ${#sides[@]}]}
		mount_side "$side"
		while read -r line; do
			name=${line% *}
			result[$side/$name]+=" ${line##* }"
		done < <(workloads)
		unmount_side
	done
done

echo
echo "vmbench: $(uname -r), $files files on tmpfs, medians of $rounds rounds (ops/s; random 4k read: IOPS)"
echo
echo "| workload | native | fsd, stock fuse | fsd, fusebpf.ko | fusebpf.ko, trace | kernel overlayfs |"
echo "| --- | --- | --- | --- | --- | --- |"
for name in "${names[@]}"; do
	# shellcheck disable=SC2086
	base=$(median ${result[native/$name]})
	row="| $name | $base"
	for side in fuse fusebpf trace overlayfs; do
		# shellcheck disable=SC2086
		v=$(median ${result[$side/$name]})
		row+=" | $v ($(awk -v v="$v" -v b="$base" 'BEGIN { printf "%.2fx", b ? v / b : 0 }'))"
	done
	echo "$row |"
done

# The policy's cost in the kernel: trace against no policy, on the module.
echo
echo "| workload | fusebpf.ko, trace / no policy |"
echo "| --- | --- |"
for name in "${names[@]}"; do
	# shellcheck disable=SC2086
	plain=$(median ${result[fusebpf/$name]})
	# shellcheck disable=SC2086
	traced=$(median ${result[trace/$name]})
	echo "| $name | $(awk -v t="$traced" -v p="$plain" 'BEGIN { printf "%.2fx", p ? t / p : 0 }') |"
done
