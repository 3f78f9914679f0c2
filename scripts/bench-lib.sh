# shellcheck shell=bash disable=SC2154 # $me: set by the script that sources this
# What the benchmark scripts share; sourced, not run.  A script sets $me,
# the name its messages start with, before sourcing this.

die() {
	echo "$me: $*" >&2
	exit 1
}

# Whether DIR is a FUSE mount point.
is_mounted() { grep -qs " $1 fuse" /proc/mounts; }

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# Writes TAR, a source-like tree of N small files in nested directories
# (d<N/300>/s<N/30%10>/f<N>.c, 100 to 4,300 bytes), made in scratch dir WORK.
gen_tree_tar() {
	local tar=$1 n=$2 work=$3 gen=$3/gen/src-tree d i
	for ((i = 0; i < n; i++)); do
		d=$gen/d$((i / 300))/s$((i / 30 % 10))
		[[ -d $d ]] || mkdir -p "$d"
		head -c $((i % 7 * 700 + 100)) /dev/urandom >"$d/f$i.c"
	done
	tar -cf "$tar" -C "$work/gen" src-tree
	rm -rf "$work/gen"
}

# The middle value of its arguments (the lower one of the two for an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Seconds from A to B, two $EPOCHREALTIME values.
elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'
}

# The sides of round N (1, 2, ...) in the order they run: round N starts
# with the Nth side and goes round (A B, then B A; A B C, B C A, C A B), so
# that no side always inherits another's dirty pages and warm caches.
sides() {
	local round=$1
	shift
	local n=$# i order=()
	for ((i = 0; i < n; i++)); do
		order+=("${@:$(((round - 1 + i) % n + 1)):1}")
	done
	echo "${order[*]}"
}
