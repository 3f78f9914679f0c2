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

# The middle value of its arguments (the lower one of the two for an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Seconds from A to B, two $EPOCHREALTIME values.
elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'
}

# The sides of round N (1, 2, ...) in the order they run: A first in odd
# rounds, B first in even ones, so that neither always inherits the other's
# dirty pages and warm caches.
sides() {
	if (($1 % 2)); then echo "$2 $3"; else echo "$3 $2"; fi
}
