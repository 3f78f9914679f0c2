#!/bin/bash
# The cost of a policy: the same workloads on two fsd mounts of one backing
# filesystem, side by side in one run - one with no policy, one with the
# `trace` policy (a BPF prefilter on every opcode but READ and WRITE) - and,
# for data, on the backing directory itself (native).  Prints the ratios.
#
# Usage: scripts/bench-policy.sh BUILD_DIR     (make bench runs it; needs root)
# Environment: BENCH_QUICK=1 (small sizes), BENCH_FILES, BENCH_SIZE_MB,
#   BENCH_ROUNDS (median of; default 5), BENCH_POLICY (default trace),
#   BENCH_TIMEOUT (watchdog, s).
set -euo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
me=bench-policy
# shellcheck source=scripts/bench-lib.sh
source "$top/scripts/bench-lib.sh"
build=${1:-build}
[[ $build = /* ]] || build=$top/$build
fsd=$build/fsd
fusebpf=$build/fusebpf
metabench=$build/metabench

quick=${BENCH_QUICK:-0}
[[ $quick = 0 ]] && quick=
nfiles=${BENCH_FILES:-${quick:+2000}}
nfiles=${nfiles:-10000}
size_mb=${BENCH_SIZE_MB:-${quick:+128}}
size_mb=${size_mb:-1024}
rounds=${BENCH_ROUNDS:-5}
policy=${BENCH_POLICY:-trace}
limit=${BENCH_TIMEOUT:-1800}

[[ $(id -u) = 0 ]] || die "must run as root"
for b in "$fsd" "$fusebpf" "$metabench"; do
	[[ -x $b ]] || die "no $b; run make first"
done

scratch=$(mktemp -d /var/tmp/fsd-bench-policy.XXXXXX)
chmod 755 "$scratch"
back=$scratch/back
mkdir -p "$back/native" "$back/plain" "$back/policy" "$scratch/m_plain" "$scratch/m_policy"
pname=bench$$
pname=${pname:0:15}
pids=()
wd=

cleanup() {
	set +e
	pkill -P "$wd" 2>/dev/null # the watchdog's sleep, which holds our stdout
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for m in "$scratch/m_plain" "$scratch/m_policy"; do
		is_mounted "$m" && umount -l "$m"
	done
	wait 2>/dev/null
	"$fusebpf" unload "$pname" >/dev/null 2>&1
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The watchdog: a hung mount is aborted by killing its daemon.
{ sleep "$limit" && echo "bench-policy: watchdog fired" >&2 &&
	pkill -KILL -f "$scratch" && kill -TERM $$; } 2>/dev/null &
wd=$!

"$fusebpf" load "$policy" --name "$pname" >/dev/null || die "cannot load policy $policy"

mount_one() { # DIR [OPTS]
	"$fsd" -f ${2:+-o "$2"} "$back" "$1" 2>>"$scratch/fsd.log" &
	pids+=($!)
	for _ in $(seq 100); do
		is_mounted "$1" && stat "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$scratch/fsd.log" >&2
	die "fsd did not come up on $1"
}
mount_one "$scratch/m_plain"
mount_one "$scratch/m_policy" "policy=$pname"

declare -A dir=([native]=$back/native [plain]=$scratch/m_plain/plain
	[policy]=$scratch/m_policy/policy)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "policy cost: fsd with policy '$policy' vs fsd with no policy (metadata), and vs native (data)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$nfiles files per metadata phase, median of $rounds rounds; $size_mb MiB of data"
echo

declare -A ops
rounds_seen=
for ((r = 1; r <= rounds; r++)); do
	for side in $(sides "$r" plain policy); do
		d=${dir[$side]}/meta
		mkdir "$d"
		for phase in create stat open unlink; do
			sync # the last phase's writeback does not run into this one
			out=$(timeout 600 "$metabench" $phase "$d" "$nfiles") || die "metabench $phase ($side)"
			ops[$side.$phase]+=" ${out%% *}"
		done
		rmdir "$d"
	done
done
# ls -l of a directory made before the mounts knew it: cold (caches dropped) and warm.
for side in plain policy; do
	mkdir -p "${dir[$side]}/lsdir"
	"$metabench" create "${dir[$side]}/lsdir" "$nfiles" >/dev/null
done
declare -A lscold lswarm
for ((r = 1; r <= rounds; r++)); do
	for side in $(sides "$r" plain policy); do
		drop_caches
		t0=$EPOCHREALTIME
		ls -l "${dir[$side]}/lsdir" >/dev/null
		t1=$EPOCHREALTIME
		ls -l "${dir[$side]}/lsdir" >/dev/null
		t2=$EPOCHREALTIME
		lscold[$side]+=" $(elapsed "$t0" "$t1")"
		lswarm[$side]+=" $(elapsed "$t1" "$t2")"
	done
done

# The policy side must have been filtered: its filters count what they saw.
creates=$("$fsd" --stats "$scratch/m_policy" | awk '$1 == "verdict.CREATE.CALL_DEFAULT" { print $2 }')
if ((${creates:-0} < rounds * nfiles)); then
	echo "bench-policy: the policy mount's filters saw ${creates:-0} CREATEs, not $((rounds * nfiles))" >&2
	{ grep fuse /proc/mounts; find /run/fusebpf -type s -ls; pgrep -a fsd;
	  "$fsd" --stats "$scratch/m_policy"; "$fsd" --stats "$scratch/m_plain"; } >&2
	exit 1
fi

printf '%-34s %8s %12s %12s  %s\n' workload unit "no policy" "$policy" "policy/no policy"
for phase in create stat open unlink; do
	# shellcheck disable=SC2086 # lists of numbers
	a=$(median ${ops[plain.$phase]}) b=$(median ${ops[policy.$phase]})
	printf '%-34s %8s %12.0f %12.0f  %sx (throughput)\n' "${phase/open/open+close}, $nfiles files" \
		ops/s "$a" "$b" "$(ratio "$b" "$a")"
	rounds_seen+="  ${phase/open/open+close}: no policy${ops[plain.$phase]}; $policy${ops[policy.$phase]}"$'\n'
done
for kind in cold warm; do
	declare -n l=ls$kind
	# shellcheck disable=SC2086
	a=$(median ${l[plain]}) b=$(median ${l[policy]})
	printf '%-34s %8s %12.3f %12.3f  %sx (time)\n' "ls -l $nfiles entries, $kind" s "$a" "$b" \
		"$(ratio "$b" "$a")"
done

# Data: the policy filters no READ or WRITE, so files are passthrough.
echo
printf '%-34s %8s %12s %12s  %s\n' workload unit native "$policy" "policy/native"
declare -A seqr randr
for side in native policy; do
	f=${dir[$side]}/data
	dd if=/dev/zero of="$f" bs=1M count="$size_mb" conv=fsync status=none
	drop_caches
	t0=$EPOCHREALTIME
	dd if="$f" of=/dev/null bs=1M status=none
	t1=$EPOCHREALTIME
	seqr[$side]=$(awk -v s="$(elapsed "$t0" "$t1")" -v m="$size_mb" 'BEGIN { printf "%.1f", m * 1.048576 / s }')
	fio --name=r --filename="$f" --rw=randread --bs=4k --iodepth=1 --ioengine=psync \
		--size="${size_mb}M" --time_based --runtime="${quick:+3}${quick:-10}" --invalidate=0 \
		--output-format=json --output="$scratch/fio.json" >/dev/null
	randr[$side]=$(python3 -c 'import json, sys
print("%.0f" % json.load(open(sys.argv[1]))["jobs"][0]["read"]["iops"])' "$scratch/fio.json")
	rm -f "$f"
done
printf '%-34s %8s %12s %12s  %sx\n' "seq read $size_mb MiB, cold" MB/s "${seqr[native]}" \
	"${seqr[policy]}" "$(ratio "${seqr[policy]}" "${seqr[native]}")"
printf '%-34s %8s %12s %12s  %sx\n' "rand read 4 KiB QD1, warm" IOPS "${randr[native]}" \
	"${randr[policy]}" "$(ratio "${randr[policy]}" "${randr[native]}")"

echo
echo "each round, ops/s (the table gives the medians):"
printf '%s' "$rounds_seen"
echo
echo "policy mount, per opcode (fusebpf stats):"
"$fusebpf" stats "$scratch/m_policy" | sed 's/^/  /'
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
