#!/bin/bash
# The floor: the metadata loops of metabench on the root filesystem
# (native), on fsd, and on a FUSE server that does no work at all
# (build/floor, selftests/bench/floor.c), in one run.  What the floor does
# on this machine is what the round trips cost a server that does no work:
# a reference for these loops, not a strict bound (fsd has run above it,
# docs/benchmarks.md).  Prints ops/s and ratios to native, and what passing
# a byte to another thread and back costs here, on one CPU and on two
# (floor --switch), under every synchronous FUSE request.
#
# Usage: scripts/bench-floor.sh BUILD_DIR      (make bench runs it; needs root)
# Environment: BENCH_QUICK=1 (2,000 files), BENCH_FILES, BENCH_ROUNDS (median
#   of; default 3), BENCH_TIMEOUT (watchdog, s).
set -euo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
me=bench-floor
# shellcheck source=scripts/bench-lib.sh
source "$top/scripts/bench-lib.sh"
build=${1:-build}
[[ $build = /* ]] || build=$top/$build
quick=${BENCH_QUICK:-0}
[[ $quick = 0 ]] && quick=
nfiles=${BENCH_FILES:-${quick:+2000}}
nfiles=${nfiles:-10000}
rounds=${BENCH_ROUNDS:-3}
limit=${BENCH_TIMEOUT:-900}

[[ $(id -u) = 0 ]] || die "must run as root"
for b in fsd floor metabench; do
	[[ -x $build/$b ]] || die "no $build/$b; run make first"
done

scratch=$(mktemp -d /var/tmp/fsd-bench-floor.XXXXXX)
chmod 755 "$scratch"
mkdir -p "$scratch/native" "$scratch/back" "$scratch/m_fsd" "$scratch/m_floor"
wd=
cleanup() {
	set +e
	[[ -n $wd ]] && pkill -P "$wd" 2>/dev/null
	for m in m_fsd m_floor; do
		is_mounted "$scratch/$m" && umount -l "$scratch/$m"
	done
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
{ sleep "$limit" && echo "bench-floor: watchdog fired" >&2 && pkill -KILL -f "$scratch" &&
	kill -TERM $$; } 2>/dev/null &
wd=$!

"$build/floor" "$scratch/m_floor" || die "the floor server did not mount"
"$build/fsd" "$scratch/back" "$scratch/m_fsd" || die "fsd did not mount"
for _ in $(seq 50); do is_mounted "$scratch/m_floor" && is_mounted "$scratch/m_fsd" && break; sleep 0.1; done

declare -A ops
for ((r = 1; r <= rounds; r++)); do
	for side in native fsd floor; do
		case $side in
		native) d=$scratch/native/r$r ;;
		fsd) d=$scratch/m_fsd/r$r ;;
		floor) d=$scratch/m_floor ;;
		esac
		# The names exist before the loops: made on disk, looked up on the floor.
		if [[ $side != floor ]]; then
			mkdir "$d"
			timeout 600 "$build/metabench" create "$d" "$nfiles" >/dev/null
		else
			timeout 600 "$build/metabench" stat "$d" "$nfiles" >/dev/null
		fi
		for phase in getattr xattr open unlink; do
			out=$(timeout 600 "$build/metabench" $phase "$d" "$nfiles") || die "$phase ($side)"
			ops[$side.$phase]+=" ${out%% *}"
		done
		[[ $side != floor ]] && rmdir "$d"
	done
done

echo "the floor: a FUSE server that does nothing, vs native and fsd ($nfiles files, median of $rounds)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %10s %10s %10s %10s %12s\n' "ops/s" native fsd floor fsd/native floor/native
for phase in getattr xattr open unlink; do
	# shellcheck disable=SC2086 # lists of numbers
	n=$(median ${ops[native.$phase]}) f=$(median ${ops[fsd.$phase]}) l=$(median ${ops[floor.$phase]})
	label=$phase
	[[ $phase = getattr ]] && label="statx, uncached (GETATTR)"
	[[ $phase = xattr ]] && label="lgetxattr (ls -l, per file)"
	[[ $phase = open ]] && label="open+close"
	awk -v label="$label" -v n="$n" -v f="$f" -v l="$l" 'BEGIN {
		printf "%-28s %10.0f %10.0f %10.0f %9.2fx %11.2fx\n", label, n, f, l, f / n, l / n }'
done
echo "floor/native: what a FUSE server doing no work reaches here for that loop (a reference, not a bound)."
read -r one two < <("$build/floor" --switch 100000) || die "floor --switch failed"
echo "a byte to another thread and back over pipes: $one us on one CPU${two:+, $two us on two}"
