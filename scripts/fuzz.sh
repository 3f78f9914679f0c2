#!/bin/bash
# Runs the request fuzzer of a fuzz build for a bounded time: from the seed
# corpus kept in the repo (selftests/fuzz/corpus, never written to) and the
# corpus it grows in BUILD/corpus, with the dictionary.  A crash leaves its
# input in BUILD/ (crash-*, leak-*, timeout-*) and fails the run.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS [libFuzzer args]
set -u
build=${1:-build/fuzz}
seconds=${2:-60}
shift 2 || shift $#
top=$(cd "$(dirname "$0")/.." && pwd)

mkdir -p "$build/corpus"
# The target makes its scratch tree under TMPDIR and removes it when done.
"$top/$build/fuzz_request" \
	-max_total_time="$seconds" -timeout=10 -handle_xfsz=0 -rss_limit_mb=4096 -print_final_stats=1 \
	-dict="$top/selftests/fuzz/fuzz_request.dict" \
	-artifact_prefix="$build/" \
	"$@" "$build/corpus" "$top/selftests/fuzz/corpus" 2>&1 | tee "$build/fuzz.log" |
	grep -E '^#[0-9]+.*(INITED|DONE|pulse)|^stat::|ERROR|SUMMARY|Test unit written|fuzz_request:|^==[0-9]+=='
status=${PIPESTATUS[0]}
echo "fuzz: libFuzzer exited $status; full log in $build/fuzz.log"
exit "$status"
