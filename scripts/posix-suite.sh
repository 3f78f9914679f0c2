#!/bin/bash
# Runs the filesystem-heavy modules of CPython's regression suite (Debian
# package libpython3.11-testsuite) with the cwd, TMPDIR, HOME and the suite's
# own temp dir all inside DIR, and writes one line per test case to OUT:
# "pass|fail|skip <test id>", sorted, so two runs (e.g. a plain directory and
# the same directory under fsd) can be compared with diff.
#
# Usage: scripts/posix-suite.sh DIR OUT [UID]
#   DIR  the directory under test (made if missing; owned by UID)
#   OUT  result list; OUT.log gets the suite's console output
#   UID  run as this uid/gid instead of root (no supplementary groups)
# Exit status: 0 if the suite ran (whatever its results), 2 if it did not.
set -u
dir=$1 out=$2 uid=${3:-0}
python=/usr/bin/python3

# Measured on a 2-core VM: about 60 s in all on the mount, 45 s on ext4.
modules=(
	test_os test_posix test_shutil test_stat test_tempfile test_fileio
	test_glob test_pathlib test_fnmatch test_filecmp test_fileinput
	test_genericpath test_posixpath test_mmap test_dbm_dumb test_mailbox
	test_largefile test_py_compile test_import test_io
	test_zipfile test_tarfile
)

if ! "$python" -c 'import test.libregrtest' 2>/dev/null; then
	echo "posix-suite: CPython's test suite is missing (apt-get install libpython3.11-testsuite)" >&2
	exit 2
fi

mkdir -p "$dir/home" "$dir/tmp" || exit 2
chown -R "$uid:$uid" "$dir" || exit 2

run=()
if [[ $uid != 0 ]]; then
	run=(setpriv --reuid="$uid" --regid="$uid" --clear-groups --)
fi

# -B: never write .pyc files into the system's test package as root.
(cd "$dir" && env -i PATH=/usr/bin:/bin HOME="$dir/home" TMPDIR="$dir/tmp" LANG=C.UTF-8 \
	"${run[@]}" "$python" -B -m test --tempdir "$dir/tmp/regrtest" \
	--junit-xml "$dir/tmp/junit.xml" --timeout $((300 * ${FSD_TEST_TIME_SCALE:-1})) "${modules[@]}") >"$out.log" 2>&1

if [[ ! -s $dir/tmp/junit.xml ]]; then
	echo "posix-suite: no results, see $out.log" >&2
	exit 2
fi

# A test case is "fail" if it has a <failure> or <error>, "skip" if <skipped>.
"$python" -B - "$dir/tmp/junit.xml" >"$out" <<'EOF' || exit 2
import sys
import xml.etree.ElementTree as ET

lines = []
for case in ET.parse(sys.argv[1]).iter("testcase"):
    kinds = {child.tag for child in case}
    if kinds & {"failure", "error"}:
        status = "fail"
    elif "skipped" in kinds:
        status = "skip"
    else:
        status = "pass"
    lines.append(f"{status} {case.get('name')}")
print("\n".join(sorted(lines)))
EOF
