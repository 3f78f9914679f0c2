#!/bin/bash
# Runs one libFuzzer target of a fuzz build for a bounded time: from its seed
# corpus kept in the repo (selftests/fuzz/corpus for the request target,
# selftests/fuzz/corpus-location for the location target; never written to)
# and the corpus it grows in BUILD/corpus-TARGET, with its dictionary if it
# has one.  A crash leaves its input in BUILD/ (crash-*, leak-*, timeout-*)
# and fails the run.
# Usage: scripts/fuzz.sh BUILD_DIR TARGET SECONDS [libFuzzer args]
set -u
build=${1:-build/fuzz}
target=${2:-request}
seconds=${3:-60}
shift 3 || shift $#
top=$(cd "$(dirname "$0")/.." && pwd)

case $target in
request) seeds=$top/selftests/fuzz/corpus ;;
*) seeds=$top/selftests/fuzz/corpus-$target ;;
esac
dict=$top/selftests/fuzz/fuzz_$target.dict
[[ -f $dict ]] && set -- -dict="$dict" "$@"
mkdir -p "$build/corpus-$target"
# The request target makes its scratch tree under TMPDIR and removes it when done.
"$top/$build/fuzz_$target" \
	-max_total_time="$seconds" -timeout=10 -handle_xfsz=0 -rss_limit_mb=4096 -print_final_stats=1 \
	-artifact_prefix="$build/" \
	"$@" "$build/corpus-$target" "$seeds" 2>&1 | tee "$build/fuzz-$target.log" |
	grep -E '^#[0-9]+.*(INITED|DONE|pulse)|^stat::|ERROR|SUMMARY|Test unit written|fuzz_[a-z]+:|^==[0-9]+=='
status=${PIPESTATUS[0]}
echo "fuzz: $target: libFuzzer exited $status; full log in $build/fuzz-$target.log"
exit "$status"
