#!/bin/bash
# Mount vs native benchmark: runs the same workloads on a backing directory
# on the root filesystem (native) and on an fsd mount of it, and prints one
# table with the ratio mount/native, then the daemon's requests per workload
# (deltas of `fsd --stats`), the final --stats and the passthrough status.
#
# Usage: scripts/bench.sh BUILD_DIR        (make bench runs it; needs root)
#
# Environment:
#   BENCH_QUICK=1       small sizes for a quick try: 128 MiB, 2,000 files, 3 s of
#                       random reads, a generated tree instead of the kernel source
#   BENCH_ONLY=LIST     comma-separated workloads: seqwrite seqread randread meta ls
#                       tree media, or the groups data (the first three) and all (default);
#                       media is scripts/bench-media.sh, with mounts of its own
#   BENCH_FSD_OPTS=...  extra fsd options, e.g. "-o passthrough=off --threads 2"
#   BENCH_URING=0       no io_uring side; by default, where the kernel has FUSE over
#                       io_uring, fsd runs twice: over /dev/fuse (-o uring=off) and on a
#                       second mount over io_uring (-o uring=on), the sides taking turns
#                       (none when BENCH_FSD_OPTS sets uring= itself)
#   BENCH_CHART=FILE    also draw the ratios as a PNG chart (scripts/bench-chart.sh)
#   BENCH_SIZE_MB, BENCH_FILES, BENCH_RUNTIME, BENCH_TREE (a .tar.xz, or "gen"),
#   BENCH_TREE_FILES (files of the generated tree), BENCH_ROUNDS (rounds of the
#   metadata and ls workloads, median reported; default 3), BENCH_SCRATCH (parent of the
#   scratch dir, default /var/tmp), BENCH_TIMEOUT (watchdog for the whole run, s)
#
# Every step runs under timeout(1) and a watchdog kills the daemon (which
# aborts the FUSE connection) if the whole run overstays, so nothing can hang;
# the EXIT trap unmounts and removes the scratch directory whatever happened.
set -euo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
me=bench
# shellcheck source=scripts/bench-lib.sh
source "$top/scripts/bench-lib.sh"
build=${1:-build}
[[ $build = /* ]] || build=$top/$build
fsd=$build/fsd
metabench=$build/metabench

quick=${BENCH_QUICK:-0}
[[ $quick = 0 ]] && quick=
size_mb=${BENCH_SIZE_MB:-${quick:+128}}
size_mb=${size_mb:-1024}
nfiles=${BENCH_FILES:-${quick:+2000}}
nfiles=${nfiles:-10000}
runtime=${BENCH_RUNTIME:-${quick:+3}}
runtime=${runtime:-10}
tree_src=${BENCH_TREE:-${quick:+gen}}
tree_src=${tree_src:-/usr/src/linux-source-6.1.tar.xz}
tree_files=${BENCH_TREE_FILES:-3000}
rounds=${BENCH_ROUNDS:-3}
limit=${BENCH_TIMEOUT:-${quick:+900}}
limit=${limit:-3600}
fsd_opts=${BENCH_FSD_OPTS:-}
only=,${BENCH_ONLY:-all},
only=${only//,data,/,seqwrite,seqread,randread,}

for w in ${only//,/ }; do
	case $w in
	all | seqwrite | seqread | randread | meta | ls | tree | media) ;;
	*) die "unknown workload '$w' in BENCH_ONLY (seqwrite seqread randread meta ls tree media data all)" ;;
	esac
done
want() { [[ $only = *,all,* || $only = *,$1,* ]]; }

[[ $(id -u) = 0 ]] || die "must run as root (mounting, dropping caches)"
[[ -x $fsd ]] || die "no daemon at $fsd; run make BUILD=${1:-build} first"
if want randread; then
	command -v fio >/dev/null || die "fio is missing (make deps)"
fi
if want tree && [[ $tree_src != gen ]]; then
	[[ -r $tree_src ]] || die "no $tree_src (package linux-source-6.1; make deps), or BENCH_TREE=gen"
fi

[[ -x $metabench ]] || die "no $metabench; run make BUILD=${1:-build} first"

scratch=$(mktemp -d "${BENCH_SCRATCH:-/var/tmp}/fsd-bench.XXXXXX")
chmod 755 "$scratch"
back=$scratch/back
mnt=$scratch/mnt
work=$scratch/work
ring_mnt=$scratch/ring-mnt
mkdir -p "$back/native" "$back/fsd" "$back/ring" "$mnt" "$ring_mnt" "$work"
native_root=$back/native
fsd_root=$mnt/fsd
ring_root=$ring_mnt/ring
watchdog_pid=

# The sides: native, fsd over /dev/fuse, and fsd over io_uring (ring) where
# the kernel has it.  The kernel offers io_uring only while enable_uring is
# set; the bench sets it for the ring mount's INIT and puts it back.
uring_param=/sys/module/fuse/parameters/enable_uring
uring_saved=
sides_all="native fsd"
declare -A mnt_of=([fsd]=$mnt [ring]=$ring_mnt) opts_of pid_of=([fsd]= [ring]=)
if [[ $fsd_opts = *uring=* ]]; then
	opts_of[fsd]=$fsd_opts
else
	opts_of[fsd]="${fsd_opts:+$fsd_opts }-o uring=off"
	if [[ ${BENCH_URING:-1} != 0 && -w $uring_param ]]; then
		sides_all+=" ring"
		opts_of[ring]="${fsd_opts:+$fsd_opts }-o uring=on"
	fi
fi
ring=
[[ $sides_all = *ring* ]] && ring=1

uring_put_back() {
	[[ -n $uring_saved ]] || return 0
	if [[ $uring_saved = Y ]]; then echo 1 >"$uring_param"; else echo 0 >"$uring_param"; fi
	uring_saved=
}

fsd_stop() {
	local side=$1 pid=${pid_of[$1]}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bench: fsd ($side) did not exit on SIGTERM; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	pid_of[$side]=
}

cleanup() {
	set +e
	trap - EXIT INT TERM
	if [[ -n $watchdog_pid ]]; then
		# Its sleep first: the watchdog then exits without acting.
		pkill -P "$watchdog_pid" 2>/dev/null
		wait "$watchdog_pid" 2>/dev/null
	fi
	uring_put_back
	fsd_stop fsd
	fsd_stop ring
	is_mounted "$mnt" && umount -l "$mnt"
	is_mounted "$ring_mnt" && umount -l "$ring_mnt"
	if is_mounted "$mnt" || is_mounted "$ring_mnt"; then
		echo "bench: $mnt or $ring_mnt is still mounted; leaving $scratch in place" >&2
	else
		rm -rf "$scratch"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Kills the daemon, which aborts the connection, so whatever waits on the
# mount gets ENOTCONN; then stops the steps and the script itself.
watchdog() {
	trap - EXIT INT TERM
	set +e # each step below, whether the one before it worked or not
	# Killed by cleanup: the run ended in time; quietly, without "Terminated".
	{ sleep "$limit" || exit 0; } 2>/dev/null
	echo "bench: watchdog: the run took over ${limit}s; aborting" >&2
	for f in "$scratch"/*.pid; do
		[[ -s $f ]] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	umount -l "$mnt" 2>/dev/null
	umount -l "$ring_mnt" 2>/dev/null
	pkill -TERM -P "$1" 2>/dev/null
	kill -TERM "$1" 2>/dev/null
}
watchdog $$ &
watchdog_pid=$!

# Mounts $back for SIDE (fsd or ring) with its options.
fsd_start() {
	local side=$1 dir=${mnt_of[$1]} root=${1}_root
	# shellcheck disable=SC2086 # the options are meant to be split
	"$fsd" -f ${opts_of[$side]} "$back" "$dir" 2>>"$scratch/$side.log" &
	pid_of[$side]=$!
	echo "${pid_of[$side]}" >"$scratch/$side.pid"
	for _ in $(seq 100); do
		if is_mounted "$dir" && stat "${!root}" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "${pid_of[$side]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$scratch/$side.log" >&2
	die "fsd ($side) did not come up on $dir"
}

# One step of a workload, never longer than $1 seconds.
step() {
	local secs=$1
	shift
	timeout --kill-after=10 "$secs" "$@"
}

stats_snap() {
	"$fsd" --stats "$mnt" >"$1" 2>/dev/null || : >"$1"
}

# Table rows and the request deltas, in the order they are measured.
rows=()
requests=()

# row LABEL UNIT KIND ARRAY [SUFFIX]: a row of the medians of ARRAY[SIDE SUFFIX],
# the numbers measured on each side; KIND is rate (higher is better) or time.
row() {
	local -n values=$4
	local suffix=${5:-} side line="$1|$2|$3"
	for side in native fsd ring; do
		# shellcheck disable=SC2086 # lists of numbers
		line+="|$(median ${values[$side$suffix]:-})"
	done
	rows+=("$line")
}

# Requests the daemon saw between two snapshots, per item when PER > 0.
delta() {
	local label=$1 before=$2 after=$3 per=$4 unit=$5 line
	line=$(awk -v per="$per" -v unit="$unit" '
		FNR == NR { if ($1 ~ /^requests\./) seen[$1] = $2; next }
		$1 ~ /^requests\./ {
			d = $2 - seen[$1]
			if (d <= 0)
				next
			total += d
			if (per > 0 && d / per < 0.005)
				next
			op = substr($1, 10)
			if (per > 0)
				out = out sprintf(" %s %.2f", op, d / per)
			else
				out = out sprintf(" %s %d", op, d)
		}
		END {
			if (per > 0)
				printf "%.2f/%s:%s", total / per, unit, out
			else
				printf "%d total:%s", total, out
		}' "$before" "$after")
	requests+=("$label|$line")
}

size_label() {
	if ((size_mb % 1024 == 0)); then echo "$((size_mb / 1024)) GiB"; else echo "$size_mb MiB"; fi
}

thousands() {
	echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'
}

bytes=$((size_mb * 1048576))
mbps() {
	awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / s / 1e6 }'
}

data_file() {
	local f=$1/seq.dat
	if [[ ! -f $f || $(stat -c %s "$f") != "$bytes" ]]; then
		step 600 dd if=/dev/zero of="$f" bs=1M count="$size_mb" conv=fsync status=none
	fi
	echo "$f"
}

# Sets T to the seconds that "$@" takes, with snapshots of the daemon's
# counters around it on the mount side.  Not to be run in a subshell: the
# request deltas are collected in this shell.
# Usage: timed SIDE LABEL PER UNIT LIMIT cmd...
timed() {
	local side=$1 label=$2 per=$3 unit=$4 secs=$5 t0 t1
	shift 5
	[[ $side = fsd && $per -ge 0 ]] && stats_snap "$scratch/s0"
	t0=$EPOCHREALTIME
	step "$secs" "$@" || die "$label ($side): '$*' failed"
	t1=$EPOCHREALTIME
	# PER < 0: a repeated round, whose requests are not listed again.
	[[ $side = fsd && $per -ge 0 ]] && stats_snap "$scratch/s1" &&
		delta "$label" "$scratch/s0" "$scratch/s1" "$per" "$unit"
	T=$(elapsed "$t0" "$t1")
}

echo "fsd benchmark: native = $back/native (root filesystem), fsd = $mnt (over /dev/fuse)${ring:+,}" \
	"${ring:+fsd+uring = $ring_mnt (over io_uring)}"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) cores;" \
	"load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "fsd options: ${opts_of[fsd]}${ring:+; fsd+uring: ${opts_of[ring]}}; sizes: $(size_label) data, $nfiles files" \
	"per metadata workload, ${runtime}s of random reads;" \
	"median of $rounds rounds (sides taking turns) for all but the source tree, which runs once"

# The media workload: its own tree and mounts (native, no policy, media policy).
if want media; then
	step "$limit" "$top/scripts/bench-media.sh" "$build" "$scratch/media" ||
		die "the media workload failed"
	[[ $only = ,media, ]] && exit 0
	echo
fi

# Fixtures made before mounting, so the mount finds them as if they were old.
if want ls; then
	for side in $sides_all; do
		mkdir "$back/$side/lsdir"
		"$metabench" create "$back/$side/lsdir" "$nfiles" >/dev/null
	done
fi
tree_entries=0
if want tree; then
	if [[ $tree_src = gen ]]; then
		gen_tree_tar "$work/tree.tar" "$tree_files" "$work"
		tree_label="generated tree"
	else
		echo "decompressing $tree_src once (not timed)..."
		step 900 xz -dc "$tree_src" >"$work/tree.tar" || die "cannot decompress $tree_src"
		tree_label=$(basename "$tree_src" .tar.xz)
	fi
	tree_entries=$(tar -tf "$work/tree.tar" | wc -l)
fi

fsd_start fsd
echo "mounted: fsd pid ${pid_of[fsd]}; $(grep " $mnt " /proc/mounts | cut -d' ' -f3,4)"
if [[ -n $ring ]]; then
	uring_saved=$(cat "$uring_param")
	echo 1 >"$uring_param"
	fsd_start ring
	uring_put_back
	for _ in $(seq 50); do
		[[ $("$fsd" --stats "$ring_mnt" | awk '$1 == "uring" { print $2 }') = 1 ]] && break
		sleep 0.1
	done
	if [[ $("$fsd" --stats "$ring_mnt" | awk '$1 == "uring" { print $2 }') = 1 ]]; then
		echo "mounted: fsd+uring pid ${pid_of[ring]}, serving over io_uring"
	else
		# A FUSE-BPF kernel, say: fsd serves it without rings.
		echo "no io_uring side: the mount got no rings ($(cat "$scratch/ring.log"))"
		fsd_stop ring
		umount -l "$ring_mnt" 2>/dev/null || true
		sides_all="native fsd"
		ring=
	fi
fi
echo

# The data workloads, too, run $rounds rounds with the sides taking turns,
# and report medians: the virtio disk's speed wanders from run to run.
if want seqwrite; then
	declare -A r
	for ((round = 1; round <= rounds; round++)); do
		for side in $(sides "$round" $sides_all); do
			root=${side}_root
			per=$((round == 1 ? 0 : -1)) # its requests listed once
			rm -f "${!root}/seq.dat"
			sync
			drop_caches
			timed "$side" "seq write $(size_label) + fsync" "$per" "" 600 \
				dd if=/dev/zero of="${!root}/seq.dat" bs=1M count="$size_mb" \
				conv=fsync status=none
			r[$side]+=" $(mbps "$T")"
		done
	done
	row "seq write $(size_label) + fsync" MB/s rate r
fi

if want seqread; then
	declare -A cold warm
	for ((round = 1; round <= rounds; round++)); do
		for side in $(sides "$round" $sides_all); do
			root=${side}_root
			per=$((round == 1 ? 0 : -1)) # its requests listed once
			f=$(data_file "${!root}")
			drop_caches
			timed "$side" "seq read $(size_label), cold" "$per" "" 600 \
				dd if="$f" of=/dev/null bs=1M status=none
			cold[$side]+=" $(mbps "$T")"
			timed "$side" "seq read $(size_label), warm" "$per" "" 600 \
				dd if="$f" of=/dev/null bs=1M status=none
			warm[$side]+=" $(mbps "$T")"
		done
	done
	row "seq read $(size_label), cold" MB/s rate cold
	row "seq read $(size_label), warm" MB/s rate warm
fi

if want randread; then
	declare -A iops
	for ((round = 1; round <= rounds; round++)); do
		for side in $(sides "$round" $sides_all); do
			root=${side}_root
			per=$((round == 1 ? 0 : -1)) # its requests listed once
			f=$(data_file "${!root}")
			cat "$f" >/dev/null # warm: the whole file in the page cache
			timed "$side" "rand read 4k QD1, warm" "$per" "" $((runtime + 120)) \
				fio --name=randread --filename="$f" --rw=randread --bs=4k \
				--iodepth=1 --ioengine=psync --size="${size_mb}M" --time_based \
				--runtime="$runtime" --invalidate=0 --randrepeat=0 --norandommap \
				--output-format=json --output="$work/fio.json" >/dev/null
			iops[$side]+=" $(python3 -c 'import json, sys
print("%.0f" % json.load(open(sys.argv[1]))["jobs"][0]["read"]["iops"])' "$work/fio.json")"
		done
	done
	row "rand read 4 KiB QD1 ($(size_label)), warm" IOPS rate iops
fi
if want seqwrite || want seqread || want randread; then
	rm -f "$native_root/seq.dat" "$fsd_root/seq.dat" "$ring_root/seq.dat"
fi

if want meta; then
	declare -A ops
	for ((round = 1; round <= rounds; round++)); do
		for side in $(sides "$round" $sides_all); do
			root=${side}_root
			dir=${!root}/meta
			mkdir "$dir"
			for phase in create stat open unlink; do
				sync # the last phase's writeback does not run into this one
				count=0
				[[ $side = fsd && $round = 1 ]] && count=1
				((count)) && stats_snap "$scratch/s0"
				out=$(step 600 "$metabench" $phase "$dir" "$nfiles") ||
					die "metabench $phase ($side) failed"
				((count)) && stats_snap "$scratch/s1" &&
					delta "${phase/open/open+close}" "$scratch/s0" "$scratch/s1" \
						"$nfiles" file
				ops[$side.$phase]+=" ${out%% *}"
			done
			rmdir "$dir"
		done
	done
	for phase in create stat open unlink; do
		label=$phase
		[[ $phase = open ]] && label=open+close
		row "$label, $(thousands "$nfiles") files in one dir" ops/s rate ops ".$phase"
	done
fi

if want ls; then
	declare -A lscold lswarm
	for ((round = 1; round <= rounds; round++)); do
		for side in $(sides "$round" $sides_all); do
			root=${side}_root
			per=-1
			[[ $side = fsd && $round = 1 ]] && per=$nfiles
			drop_caches
			# shellcheck disable=SC2016 # $1 is for sh
			timed "$side" "ls -l, cold" "$per" entry 600 \
				sh -c 'ls -l "$1" >/dev/null' sh "${!root}/lsdir"
			lscold[$side]+=" $T"
			# shellcheck disable=SC2016 # $1 is for sh
			timed "$side" "ls -l, warm" "$per" entry 600 \
				sh -c 'ls -l "$1" >/dev/null' sh "${!root}/lsdir"
			lswarm[$side]+=" $T"
		done
	done
	row "ls -l $(thousands "$nfiles") entries, cold" s time lscold
	row "ls -l $(thousands "$nfiles") entries, warm" s time lswarm
fi

if want tree; then
	declare -A ext del
	for side in $sides_all; do
		root=${side}_root
		mkdir "${!root}/tree"
		cat "$work/tree.tar" >/dev/null # the archive is read from memory
		sync
		timed "$side" "tar -xf" "$tree_entries" entry 1800 \
			tar -xf "$work/tree.tar" -C "${!root}/tree"
		ext[$side]=$T
		sync
		timed "$side" "rm -rf" "$tree_entries" entry 1800 rm -rf "${!root}/tree"
		del[$side]=$T
		sync
	done
	n=$(thousands "$tree_entries")
	row "tar -xf $tree_label ($n entries)" s time ext
	row "rm -rf of that tree" s time del
fi

# The table.  Ratios are mount/native: throughput ratio for rates (higher is
# better, 1.00 = native) and time ratio for seconds ("x native time").
fmt() {
	case $1 in
	MB/s) printf '%.1f' "$2" ;;
	s) printf '%.3f' "$2" ;;
	*) printf '%.0f' "$2" ;;
	esac
}
# mount/native for a row: "0.52x" for a rate, "3.10x native time" for seconds.
ratio() {
	local kind=$1 nat=$2 mount=$3 r
	r=$(awk -v n="$nat" -v m="$mount" 'BEGIN { printf "%.2f", (n > 0 ? m / n : 0) }')
	if [[ $kind = time ]]; then echo "${r}x native time"; else echo "${r}x"; fi
}
{
	printf '%-44s %6s %11s %11s  %-20s' workload unit native fsd "fsd/native"
	[[ -n $ring ]] && printf ' %11s  %s' fsd+uring "fsd+uring/native"
	echo
	for r in "${rows[@]}"; do
		IFS='|' read -r label unit kind nat mount ringed <<<"$r"
		printf '%-44s %6s %11s %11s  %-20s' "$label" "$unit" "$(fmt "$unit" "$nat")" \
			"$(fmt "$unit" "$mount")" "$(ratio "$kind" "$nat" "$mount")"
		[[ -n $ring ]] && printf ' %11s  %s' "$(fmt "$unit" "$ringed")" \
			"$(ratio "$kind" "$nat" "$ringed")"
		echo
	done
} | sed 's/ *$//'
echo "fsd: options ${opts_of[fsd]}${ring:+; fsd+uring: options ${opts_of[ring]}}"
echo "x/native: throughput ratio for MB/s, IOPS and ops/s (higher is better, 1.00x = native);"
echo "time ratio (\"x native time\", lower is better) for the workloads in seconds."
if [[ -n ${BENCH_CHART:-} ]]; then
	printf '%s\n' "${rows[@]}" >"$scratch/rows"
	"$top/scripts/bench-chart.sh" "$scratch/rows" "$BENCH_CHART" &&
		echo "chart: $BENCH_CHART"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "fsd requests per workload (deltas of fsd --stats; per file/entry where it applies):"
for r in "${requests[@]}"; do
	IFS='|' read -r label line <<<"$r"
	printf '  %-34s %s\n' "$label" "$line"
done

echo
echo "fsd --stats at the end:"
stats_snap "$scratch/s_end"
sed 's/^/  /' "$scratch/s_end"
pt=$(awk '$1 == "passthrough" { print $2 }' "$scratch/s_end")
reads=$(awk '$1 == "requests.READ" { print $2 }' "$scratch/s_end")
writes=$(awk '$1 == "requests.WRITE" { print $2 }' "$scratch/s_end")
if [[ $pt = 1 ]]; then
	echo "kernel passthrough: on (kernel $(uname -r)); READ/WRITE requests that reached the" \
		"daemon: ${reads:-0}/${writes:-0}"
else
	echo "kernel passthrough: OFF (kernel $(uname -r)); data went through the daemon:" \
		"READ ${reads:-0}, WRITE ${writes:-0} requests"
fi
