#!/bin/bash
# The media workload of `make bench` (scripts/bench.sh runs it; BENCH_ONLY=media
# runs it alone): an Android-style media tree of 20,000 files (mostly JPEGs
# without GPS tags, some with, app directories under Android/data and
# Android/obb, two big photos), on which an app that holds no location grant
#   - browses the tree with `ls -lR` (caches dropped before each run),
#   - reads every file (warm page cache),
#   - reads the big photos with dd bs=1M, eight times (non-redacted data: MB/s),
#   - creates 2,000 files of 4 KiB (one process, timed inside it),
# on the backing directory (native), on an fsd mount with no policy, and on an
# fsd mount with the media policy and module (docs/media.md), in one run, the
# three sides taking turns (each round another side goes first).  Prints one table with the ratios media/native and
# media/no-policy, and the media module's counters.
#
# Usage: scripts/bench-media.sh BUILD_DIR SCRATCH_DIR      (as root)
# The app browses and reads what it can see on the media mount: the tree but
# the other apps' directories (Android/data/<pkg>, Android/obb/<pkg>), on every
# side alike.
# Environment: BENCH_QUICK=1 (2,000 files, 200 creates, 64 MiB of big photos),
#   BENCH_MEDIA_FILES, BENCH_MEDIA_CREATES, BENCH_MEDIA_BIG_MB, BENCH_ROUNDS
#   (median of; default 3), BENCH_TIMEOUT (watchdog, s), BENCH_FSD_OPTS.
set -euo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
me=bench-media
# shellcheck source=scripts/bench-lib.sh
source "$top/scripts/bench-lib.sh"
build=${1:-build}
[[ $build = /* ]] || build=$top/$build
scratch=${2:?usage: bench-media.sh BUILD_DIR SCRATCH_DIR}
fsd=$build/fsd
fusebpf=$build/fusebpf
jpeggen=$build/jpeggen

quick=${BENCH_QUICK:-0}
[[ $quick = 0 ]] && quick=
nfiles=${BENCH_MEDIA_FILES:-${quick:+2000}}
nfiles=${nfiles:-20000}
ncreate=${BENCH_MEDIA_CREATES:-${quick:+200}}
ncreate=${ncreate:-2000}
big_mb=${BENCH_MEDIA_BIG_MB:-${quick:+64}}
big_mb=${big_mb:-256}
# Passes over the big photos per measurement: memory bandwidth wanders, so
# each measurement reads 2 GiB (256 MiB x 8), a few tenths of a second.
big_passes=8
rounds=${BENCH_ROUNDS:-3}
limit=${BENCH_TIMEOUT:-1800}
fsd_opts=${BENCH_FSD_OPTS:-}
app_uid=10099
app_pkg=com.bench.gallery
policy=bm$$

[[ $(id -u) = 0 ]] || die "must run as root"
for b in "$fsd" "$fusebpf" "$jpeggen"; do
	[[ -x $b ]] || die "no $b; run make first"
done
# Debian's: the app uid must be able to run it (not a python in root's home).
py=/usr/bin/python3
[[ -x $py ]] || die "$py is missing (make deps)"

mkdir -p "$scratch"
chmod 755 "$scratch"
tree=$scratch/tree
mnt_plain=$scratch/mnt-plain
mnt_media=$scratch/mnt-media
db=$scratch/media.db
work=$scratch/work
mkdir -p "$tree" "$mnt_plain" "$mnt_media" "$work"
pids=()
loaded=
watchdog_pid=

cleanup() {
	set +e
	trap - EXIT INT TERM
	if [[ -n $watchdog_pid ]]; then
		pkill -P "$watchdog_pid" 2>/dev/null
		wait "$watchdog_pid" 2>/dev/null
	fi
	for m in "$mnt_plain" "$mnt_media"; do
		is_mounted "$m" && umount "$m" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for m in "$mnt_plain" "$mnt_media"; do
		is_mounted "$m" && umount -l "$m"
	done
	[[ -n $loaded ]] && "$fusebpf" unload "$policy" >/dev/null
	if is_mounted "$mnt_plain" || is_mounted "$mnt_media"; then
		echo "bench-media: still mounted; leaving $scratch" >&2
	else
		rm -rf "$scratch"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Kills the daemons (aborting their connections: nothing waiting on them
# hangs), then the script.
watchdog() {
	trap - EXIT INT TERM
	{ sleep "$limit" || exit 0; } 2>/dev/null
	echo "bench-media: watchdog: the run took over ${limit}s; aborting" >&2
	cat "$scratch"/fsd-*.pid 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	umount -l "$mnt_plain" "$mnt_media" 2>/dev/null
	pkill -TERM -P "$1" 2>/dev/null
	kill -TERM "$1" 2>/dev/null
}
watchdog $$ &
watchdog_pid=$!

as_app=(setpriv "--reuid=$app_uid" "--regid=$app_uid" --clear-groups)

# ---- the tree ----

echo "media workload: $nfiles files, $ncreate creates, $big_mb MiB of big photos; median of" \
	"$rounds rounds; as uid $app_uid ($app_pkg: no location grant)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$EPOCHREALTIME
tpl=$work/tpl
mkdir -p "$tpl"
for i in 1 2 3 4 5 6; do
	"$jpeggen" --no-gps --seed $i --size 160x120 "$tpl/small$i.jpg"
done
"$jpeggen" --no-gps --seed 7 --size 640x480 "$tpl/medium1.jpg"
"$jpeggen" --no-gps --seed 8 --size 640x480 --thumbnail "$tpl/medium2.jpg"
"$jpeggen" --seed 9 --size 160x120 "$tpl/gps1.jpg"
"$jpeggen" --seed 10 --size 640x480 --order mm --thumbnail "$tpl/gps2.jpg"
"$jpeggen" --no-gps --seed 11 --size 1024x768 "$tpl/big.jpg"
head -c 4096 /dev/urandom >"$tpl/blob"

# One process writes the tree: 20,000 forks of cp would take longer than the run.
"$py" - "$tree" "$tpl" "$nfiles" "$big_mb" <<'EOF'
import os, random, sys
tree, tpl, n, big_mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(1)
t = {name: open(os.path.join(tpl, name), "rb").read() for name in os.listdir(tpl)}
small = [t["small%d.jpg" % i] for i in range(1, 7)]
def put(rel, data):
    path = os.path.join(tree, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
def photo(i):
    r = i % 100
    if r < 5:
        return t["gps1.jpg"] if r % 2 else t["gps2.jpg"]      # 5%: GPS tags
    if r < 15:
        return t["medium1.jpg"] if r % 2 else t["medium2.jpg"]
    return small[i % 6]
apps = ["com.example.app%02d" % k for k in range(20)] + ["com.bench.gallery"]
for i in range(n):
    k = rnd.random()
    if k < 0.55:
        put("DCIM/Camera/IMG_%06d.jpg" % i, photo(i))
    elif k < 0.80:
        put("Pictures/Album%02d/P%06d.jpg" % (i % 25, i), photo(i))
    elif k < 0.85:
        ext = ["pdf", "txt", "mp3", "bin"][i % 4]
        put("Download/file%06d.%s" % (i, ext), t["blob"])
    elif k < 0.97:
        app = apps[i % len(apps)]
        put("Android/data/%s/files/%s%06d.%s" % (app, "cache" if i % 3 else "img", i,
            "dat" if i % 3 else "jpg"), t["blob"] if i % 3 else photo(i))
    else:
        put("Android/obb/%s/main.%d.obb" % (apps[i % len(apps)], i), t["blob"])
# Big photos: a JPEG without GPS, then image data as far as big_mb / 2 each.
for b in range(2):
    data = bytearray(t["big.jpg"])
    pad = big_mb * 1048576 // 2 - len(data)
    put("DCIM/Big/BIG_%d.jpg" % b, bytes(data) + os.urandom(pad))
for d in ("Music", "Android/data/com.bench.gallery", "Android/obb/com.bench.gallery"):
    os.makedirs(os.path.join(tree, d), exist_ok=True)
open(os.path.join(tree, "Music", ".nomedia"), "w").close()
EOF
chmod -R u+rwX,go+rX "$tree"
chmod 777 "$tree/DCIM"
ntree=$(find "$tree" -type f | wc -l)
# What the app sees, on every side: all but the other apps' private directories,
# which the media mount hides from it (and which are there to fill Android/data).
browse=(DCIM Pictures Download Music "Android/data/$app_pkg" "Android/obb/$app_pkg")
(cd "$tree" && find "${browse[@]}" -type f -print0) >"$work/files"
nlist=$(tr -cd '\0' <"$work/files" | wc -c)
printf 'tree: %d files (%d outside the other apps'"'"' directories), %s, made in %.1f s\n' \
	"$ntree" "$nlist" "$(du -sh "$tree" | cut -f1)" \
	"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"

# ---- the mounts ----

fsd_start() {
	local name=$1 mnt=$2
	shift 2
	# shellcheck disable=SC2086 # the options are meant to be split
	"$fsd" -f $fsd_opts "$@" "$tree" "$mnt" 2>>"$scratch/fsd-$name.log" &
	pids+=($!)
	echo $! >"$scratch/fsd-$name.pid"
	for _ in $(seq 600); do
		is_mounted "$mnt" && stat "$mnt/DCIM" >/dev/null 2>&1 && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$scratch/fsd-$name.log" >&2
	die "fsd ($name) did not come up on $mnt"
}

"$fusebpf" load media --name "$policy" >/dev/null
loaded=1
"$fusebpf" media --policy "$policy" app add $app_uid $app_pkg
# Root removes the app's files between rounds: another uid's, refused unless privileged.
"$fusebpf" media --policy "$policy" privileged add 0
fsd_start plain "$mnt_plain"
t0=$EPOCHREALTIME
fsd_start media "$mnt_media" -o "policy=$policy,user=media:$db"
printf 'mounted: no policy on %s; media on %s (startup rescan of the index: %.1f s)\n' \
	"$mnt_plain" "$mnt_media" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"

sides=(native plain media)
declare -A root=([native]=$tree [plain]=$mnt_plain [media]=$mnt_media)
declare -A ls_t read_t big_t create_t

stats() { "$fsd" --stats "$mnt_media"; }
# %.0f: awk would print a large count in exponent notation, which $(( )) refuses.
stat_of() { awk -v k="$1" '$1 == k { v = $2 } END { printf "%.0f\n", v }' "$2"; }
# The growth of a counter of the media daemon over the rounds.
grown() { echo $(($(stat_of "$1" "$work/s$rounds") - $(stat_of "$1" "$work/s0"))); }

# Warm: the page cache holds the tree; the read rounds measure the mounts, not the disk.
(cd "$tree" && xargs -0 cat <"$work/files" >/dev/null)

stats >"$work/s0"
for ((round = 1; round <= rounds; round++)); do
	# The sides take turns going first: round 1 native, plain, media; round 2
	# plain, media, native; ... so that no side always runs after the same one.
	k=$(((round - 1) % 3))
	order=("${sides[@]:k}" "${sides[@]:0:k}")
	for side in "${order[@]}"; do
		r=${root[$side]}
		drop_caches
		t0=$EPOCHREALTIME
		(cd "$r" && timeout 900 "${as_app[@]}" ls -lR "${browse[@]}" >/dev/null &&
			timeout 60 "${as_app[@]}" ls -l Android/data Android/obb >/dev/null)
		ls_t[$side]+=" $(elapsed "$t0" "$EPOCHREALTIME")"
	done
	(cd "$tree" && xargs -0 cat <"$work/files" >/dev/null)
	for side in "${order[@]}"; do
		r=${root[$side]}
		t0=$EPOCHREALTIME
		(cd "$r" && timeout 900 "${as_app[@]}" xargs -0 cat <"$work/files" >/dev/null)
		read_t[$side]+=" $(elapsed "$t0" "$EPOCHREALTIME")"
		t0=$EPOCHREALTIME
		for ((pass = 0; pass < big_passes; pass++)); do
			for f in "$r"/DCIM/Big/BIG_*.jpg; do
				timeout 900 "${as_app[@]}" dd if="$f" of=/dev/null bs=1M status=none
			done
		done
		big_t[$side]+=" $(elapsed "$t0" "$EPOCHREALTIME")"
	done
	for side in "${order[@]}"; do
		d=${root[$side]}/DCIM/New-$side-$round
		mkdir "$d"
		chmod 777 "$d"
		create_t[$side]+=" $(timeout 900 "${as_app[@]}" "$py" - "$d" "$ncreate" "$tpl/small1.jpg" <<'EOF'
import os, sys, time
d, n, data = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "rb").read()[:4096]
t = time.monotonic()
for i in range(n):
    with open(os.path.join(d, "NEW_%06d.jpg" % i), "wb") as f:
        f.write(data)
print("%.6f" % (time.monotonic() - t))
EOF
)"
	done
	stats >"$work/s$round"
	for side in "${sides[@]}"; do
		rm -rf "${root[$side]}/DCIM/New-$side-$round"
	done
done

# ---- the table ----

declare -A med
for side in "${sides[@]}"; do
	# shellcheck disable=SC2086 # lists of numbers
	{
		med[ls.$side]=$(median ${ls_t[$side]})
		med[read.$side]=$(median ${read_t[$side]})
		med[big.$side]=$(median ${big_t[$side]})
		med[create.$side]=$(median ${create_t[$side]})
	}
	med[total.$side]=$(awk -v a="${med[ls.$side]}" -v b="${med[read.$side]}" \
		-v c="${med[create.$side]}" 'BEGIN { printf "%.6f", a + b + c }')
done
mbps() { awk -v s="$1" -v mb="$big_mb" -v passes="$big_passes" 'BEGIN { printf "%.0f", passes * mb * 1.048576 / s }'; }
row() {
	local label=$1 unit=$2 kind=$3 n=$4 p=$5 m=$6
	awk -v l="$label" -v u="$unit" -v k="$kind" -v n="$n" -v p="$p" -v m="$m" 'BEGIN {
		if (k == "rate")
			printf "%-34s %5s %9.0f %9.0f %9.0f   %5.2fx     %5.2fx\n", l, u, n, p, m,
				m / n, m / p
		else
			printf "%-34s %5s %9.3f %9.3f %9.3f   %5.2fx     %5.2fx\n", l, u, n, p, m,
				m / n, m / p
	}'
}
echo
printf '%-34s %5s %9s %9s %9s   %-10s %s\n' workload unit native "no policy" media \
	media/native media/no-policy
row "ls -lR, $nlist files, cold" s time "${med[ls.native]}" "${med[ls.plain]}" "${med[ls.media]}"
row "read every file, warm" s time "${med[read.native]}" "${med[read.plain]}" \
	"${med[read.media]}"
row "create $ncreate files of 4 KiB" s time "${med[create.native]}" "${med[create.plain]}" \
	"${med[create.media]}"
row "the three above" s time "${med[total.native]}" "${med[total.plain]}" "${med[total.media]}"
row "read $big_mb MiB of big photos x$big_passes (no GPS)" MB/s rate "$(mbps "${med[big.native]}")" \
	"$(mbps "${med[big.plain]}")" "$(mbps "${med[big.media]}")"
echo "(time ratios for seconds: lower is better; throughput ratios for MB/s: higher is better)"
echo "targets: non-redacted reads at 0.95x native or better (the MB/s row); the whole"
echo "workload (the three) within 1.5x the no-policy mount"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "media daemon over the $rounds rounds (deltas of fsd --stats):"
for k in opens_cached opens_checked opens_passthrough opens_redacted opens_busy opens_refused \
	reads_redacted index_updates index_errors; do
	printf '  %-22s %s\n' "$k" "$(grown "user.media.$k")"
done
n_upd=$(grown user.media.index_updates)
if ((n_upd)); then
	awk -v n="$n_upd" -v ns="$(grown user.media.index_ns)" 'BEGIN {
		printf "  index updates: %.1f us each, synchronous, before the reply\n", ns / n / 1000 }'
fi
for op in LOOKUP OPEN READ RELEASE CREATE READDIRPLUS; do
	printf '  requests.%-13s %s (userspace handler %s)\n' "$op" "$(grown "requests.$op")" \
		"$(grown "user.$op")"
done
