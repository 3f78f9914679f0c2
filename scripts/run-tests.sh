#!/bin/bash
# Runs the test binary of a build (unit and integration tests) with a scratch
# directory of its own, and makes sure nothing stays mounted afterwards,
# whatever happened.  Usage: scripts/run-tests.sh BUILD_DIR [criterion args]
set -u
build=${1:-build}
shift || true
top=$(cd "$(dirname "$0")/.." && pwd)

export FSD_BIN=$top/$build/fsd
export FUSEBPF_BIN=$top/$build/fusebpf
export FSD_BPF_DIR=$top/$build/bpf
# Under make asan; harmless otherwise.
export LSAN_OPTIONS=suppressions=$top/selftests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
export FSD_TEST_TMP=$(mktemp -d /tmp/fsd-test.XXXXXX)
chmod 755 "$FSD_TEST_TMP"

cleanup() {
	grep -o " $FSD_TEST_TMP/[^ ]*" /proc/mounts | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	pkill -f "$FSD_TEST_TMP" 2>/dev/null
	rm -rf "$FSD_TEST_TMP"
	# Policies the tests loaded under their own names (t<pid>...), if a test died;
	# not those of test processes still alive (another run's, on the same machine).
	for p in /sys/fs/bpf/fusebpf/t[0-9]*; do
		[[ -d $p ]] || continue
		pid=${p##*/t}
		pid=${pid%%[!0-9]*}
		[[ -d /proc/$pid ]] && continue
		"$FUSEBPF_BIN" unload "${p##*/}" >/dev/null 2>&1
	done
}
trap cleanup EXIT

# Criterion's own per-test timeouts and the fixture's watchdog come first;
# this is the last line of defence for the whole run.  FSD_TEST_TIME_SCALE
# (a slow machine: a TCG guest) multiplies them all (fixture.h).
timeout --kill-after=30 $((4800 * ${FSD_TEST_TIME_SCALE:-1})) "$top/$build/fsd-tests" --jobs=2 "$@"
