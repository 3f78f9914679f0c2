#!/bin/bash
# Runs the test suite in a QEMU guest per kernel and prints one table:
# kernel, the FUSE protocol the guest's kernel negotiated, passthrough,
# tests passed / failed / skipped, wall time.  Exits non-zero when a test
# failed or a guest did not get through the suite.  docs/vmtest.md.
#
# Usage: scripts/vmtest.sh BUILD_DIR, as root, after make all, with
#   KERNEL=IMAGE        a bzImage to test instead of the matrix
#   MODULES=DIR         its lib/modules/VER (default /lib/modules/VER if there)
#   VMTEST_KERNELS=...  a subset of the matrix: "6.1 6.12 fusebpf" (the default;
#                       fusebpf is the 6.12 guest with BUILD/kernel/fusebpf.ko
#                       loaded, which make kmod builds, running the kernel suite)
#   VMTEST_RUN=CMD      a shell command to run in the guest instead of the suite
#                       (its output in tests.log; the table shows its exit status)
#   VMTEST_FILTER=GLOB  a Criterion --filter, e.g. 'options/*'
#   VMTEST_FUSEBPF_FILTER=GLOB  the fusebpf guest's filter (default 'kernel/*')
#   VMTEST_TIMEOUT=S    seconds a guest may run before it counts as hung (7200,
#                       times the guests that share each host core)
#   VMTEST_TIME_SCALE=N the suite's timeouts multiplied by N (FSD_TEST_TIME_SCALE;
#                       default 5 under TCG, 1 under KVM, times the guests
#                       that share each host core: VMTEST_JOBS=2 on 2 cores, 2)
#   VMTEST_ACCEL=auto|kvm|tcg  auto (the default): KVM where /dev/kvm is usable
#                       and boots the kernel, TCG otherwise
#   VMTEST_JOBS=N       guests run at once (default 1)
#   VMTEST_MEM=MB VMTEST_CPUS=N
#   VMTEST_DISK=SIZE    the guest's scratch disk (ext4, sparse; default 16G)
#   VMTEST_APPEND=...   more kernel parameters (loglevel=7 shows the boot)
#   VMTEST_OUT=DIR      where each guest's console.log and tests.log are kept
#                       (default BUILD_DIR/vmtest/VER)
#
# The guest shares the host's root read-only over virtio-9p and runs
# scripts/vmtest-init.sh as its init; nothing is mounted on the host.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
timeout_s=${VMTEST_TIMEOUT:-7200}
mem=${VMTEST_MEM:-2048}
disk=${VMTEST_DISK:-16G}
cpus=${VMTEST_CPUS:-$(nproc)}
accel=${VMTEST_ACCEL:-auto}
max_jobs=${VMTEST_JOBS:-1}
# TCG runs the suite's syscalls 10 to 40 times slower than the host; the
# tests' loops are sized by the guest's smaller fd limit, and their
# timeouts (there to catch hangs) stretched by this under TCG.
tcg_time_scale=${VMTEST_TIME_SCALE:-5}
kvm_time_scale=${VMTEST_TIME_SCALE:-1}
# A KVM guest that has not reached its /init by then is booted again under TCG.
kvm_boot_s=20
# Modules the guest needs before it can see the host's root; those built in
# are skipped, and modules.dep brings their dependencies.  Then those of the
# scratch disk, which the guest can do without (it falls back to tmpfs).
initramfs_modules=(virtio_pci 9pnet_virtio 9p fuse)
optional_modules=(virtio_blk crc32c_generic ext4)

die() {
	echo "vmtest: $*" >&2
	exit 2
}

[[ $max_jobs =~ ^[1-9][0-9]*$ ]] || die "VMTEST_JOBS=$max_jobs: expected how many guests run at once"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "VMTEST_CPUS=$cpus: expected a number of CPUs"
[[ $tcg_time_scale =~ ^[1-9][0-9]*$ ]] ||
	die "VMTEST_TIME_SCALE=$tcg_time_scale: expected a whole factor"
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "VMTEST_TIMEOUT=$timeout_s: expected seconds"
# Guests run at once share the host's cores: each is that many times
# slower, so the timeouts not given stretch by as much (VMTEST_JOBS=2
# with two CPUs each on two cores: twice).
share=$(((max_jobs * cpus + $(nproc) - 1) / $(nproc)))
[[ -n ${VMTEST_TIME_SCALE:-} ]] || tcg_time_scale=$((tcg_time_scale * share))
[[ -n ${VMTEST_TIME_SCALE:-} ]] || kvm_time_scale=$((kvm_time_scale * share))
[[ -n ${VMTEST_TIMEOUT:-} ]] || timeout_s=$((timeout_s * share))
[[ $accel == auto || $accel == tcg || $accel == kvm ]] ||
	die "VMTEST_ACCEL=$accel: expected auto, kvm or tcg"
[[ $(id -u) == 0 ]] || die "must run as root (the suite mounts, and QEMU shares / with the guest)"
[[ -x $top/$build/fsd-tests ]] || die "$top/$build/fsd-tests is missing: run make first"
for t in qemu-system-x86_64 busybox cpio mkfs.ext4; do
	command -v $t > /dev/null || die "$t is missing: run scripts/vmtest-deps.sh"
done

tmp=$(mktemp -d /tmp/vmtest.XXXXXX)
qemu_pid= # in a guest's subshell, its QEMU (timeout's pid)
# Each guest runs in a subshell of its own, which stops its QEMU (through
# timeout, which passes the signal on) when told to.
cleanup() {
	local pids
	pids=$(jobs -p)
	if [[ -n $pids ]]; then
		kill -TERM $pids 2> /dev/null
		wait
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The version string a bzImage carries (its setup header points at it), or
# nothing when the file is not an x86 boot image.
image_version() {
	local f=$1 magic off
	magic=$(dd if="$f" bs=1 skip=514 count=4 2> /dev/null)
	[[ $magic == HdrS ]] || return 1
	off=$(od -An -tu2 -j526 -N2 "$f" | tr -d ' ')
	dd if="$f" bs=1 skip=$((off + 512)) count=256 2> /dev/null | tr '\0' '\n' | head -n1 |
		cut -d' ' -f1
}

# The newest installed image of a matrix line: /boot/vmlinuz-VER.
matrix_image() {
	local pattern
	case $1 in
	6.1) pattern='vmlinuz-6.1.0-*-amd64' ;;
	6.12) pattern='vmlinuz-6.12.*+deb12-amd64' ;;
	# The kernel the module was built for.
	fusebpf)
		[[ -f $top/$build/kernel/fusebpf.ko ]] ||
			die "VMTEST_KERNELS=fusebpf: no $build/kernel/fusebpf.ko: run make kmod"
		pattern="vmlinuz-$(cat "$top/$build/kernel/fusebpf.ko.ver")"
		;;
	*) die "VMTEST_KERNELS: unknown kernel '$1' (the matrix is 6.1 6.12 fusebpf; KERNEL= for others)" ;;
	esac
	# shellcheck disable=SC2086
	ls /boot/$pattern 2> /dev/null | sort -V | tail -n1
}

# mod_path NAME: the module's path under $moddir from modules.dep, or nothing.
mod_path() {
	local n=${1//-/_}
	awk -F: -v n="$n" '{ b = $1; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b);
		gsub(/-/, "_", b); if (b == n) { print $1; exit } }' "$moddir/modules.dep"
}

# Adds a module and its dependencies, dependencies first, to the initramfs,
# listed in modules/$2 (order or optional).
add_module() {
	local path=$1 list=$2 dep base
	[[ -n ${added[$path]:-} ]] && return
	added[$path]=1
	for dep in $(awk -F: -v p="$path" '$1 == p { print $2; exit }' "$moddir/modules.dep"); do
		add_module "$dep" "$list"
	done
	base=${path##*/}
	case $base in
	*.ko.xz) xz -dc "$moddir/$path" > "$root/modules/${base%.xz}" ;;
	*.ko.zst) zstd -qdc "$moddir/$path" > "$root/modules/${base%.zst}" ;;
	*.ko.gz) gzip -dc "$moddir/$path" > "$root/modules/${base%.gz}" ;;
	*) cp "$moddir/$path" "$root/modules/$base" ;;
	esac || die "cannot decompress $moddir/$path"
	echo "${base%.ko*}.ko" >> "$root/modules/$list"
}

# make_initramfs VER MODDIR OUT: busybox, the init, the modules it loads.
make_initramfs() {
	local ver=$1 m path
	moddir=$2
	root=$(dirname "$3")/initramfs
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/dev" "$root/modules"
	: > "$root/modules/order"
	: > "$root/modules/optional"
	cp "$(command -v busybox)" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$top/scripts/vmtest-init.sh" "$root/init"
	echo "VMTEST_TOP='$top'" > "$root/vmtest.conf"
	mknod "$root/dev/console" c 5 1
	declare -gA added=()
	if [[ -n $moddir ]]; then
		[[ -f $moddir/modules.dep ]] || die "MODULES=$moddir has no modules.dep"
		for m in "${initramfs_modules[@]}"; do
			path=$(mod_path "$m")
			if [[ -n $path ]]; then
				add_module "$path" order
			elif ! grep -q "/${m//_/[_-]}\.ko" "$moddir/modules.builtin" 2> /dev/null; then
				die "kernel $ver has no $m, neither built in nor a module in $moddir"
			fi
		done
		for m in "${optional_modules[@]}"; do
			path=$(mod_path "$m")
			[[ -n $path ]] && add_module "$path" optional
		done
	fi
	(cd "$root" && find . | cpio -o -H newc --quiet) > "$3" || die "cannot write the initramfs"
}

# prepare_guest IMAGE MODDIR DIR: checks the image and its modules and makes
# the guest's initramfs in DIR, where run_guest finds it; the version in DIR/ver.
prepare_guest() {
	local image=$1 moddir=$2 g=$3 ver
	[[ -f $image && -r $image ]] || die "KERNEL=$image: no such readable file"
	ver=$(image_version "$image") ||
		die "KERNEL=$image is not a bootable x86 kernel image (no bzImage setup header)"
	[[ -z $moddir && -d /lib/modules/$ver ]] && moddir=/lib/modules/$ver
	[[ -z $moddir || ${moddir%/} == */$ver ]] ||
		die "MODULES=$moddir is not lib/modules/$ver, the version of KERNEL=$image"
	mkdir -p "$g"
	make_initramfs "$ver" "$moddir" "$g/initramfs.cpio"
	echo "$ver" > "$g/ver"
}

# start_qemu ACCEL IMAGE DIR OUT: starts QEMU for the guest prepared in DIR,
# in the background under the hang watchdog (qemu_pid is timeout's, which
# passes a signal on to QEMU), its console in OUT/console.log; the guest's
# settings, with the time scale of that accelerator, in DIR/share/env.
start_qemu() {
	local accel=$1 image=$2 g=$3 out=$4 opts=(-accel tcg,thread=multi -cpu max)
	local scale=$tcg_time_scale
	if [[ $accel == kvm ]]; then
		opts=(-accel kvm -cpu host)
		scale=$kvm_time_scale
	fi
	cat > "$g/share/env" <<-EOF
		VMTEST_TOP='$top'
		VMTEST_BUILD='$build'
		VMTEST_FILTER='${VMTEST_FILTER:-}'
		VMTEST_KMOD='$kmod'
		FSD_TEST_TIME_SCALE='$scale'
	EOF
	# A command is a file: no quoting to get wrong.
	printf '%s\n' "${VMTEST_RUN:-}" > "$g/share/run"
	timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
		"${opts[@]}" -m "$mem" -smp "$cpus" \
		-kernel "$image" -initrd "$g/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 oops=panic loglevel=4 rdinit=/init ${VMTEST_APPEND:-}" \
		-nodefaults -no-reboot -display none -nic none \
		-serial "file:$out/console.log" \
		-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
		-fsdev local,id=vmtest,path="$g/share",security_model=none,multidevs=remap \
		-device virtio-9p-pci,fsdev=vmtest,mount_tag=vmtest \
		-drive file="$g/scratch.img",format=raw,if=virtio,cache=unsafe,discard=unmap \
		> "$g/qemu.log" 2>&1 &
	qemu_pid=$!
}

# Whether the guest printed its first line (the initramfs's /init) within
# kvm_boot_s seconds.
guest_booted() {
	local out=$1 i
	for ((i = 0; i < kvm_boot_s; i++)); do
		grep -q '^VMTEST-BOOTED' "$out/console.log" 2> /dev/null && return 0
		kill -0 "$qemu_pid" 2> /dev/null || return 1
		sleep 1
	done
	return 1
}

# run_guest NAME IMAGE DIR: boots the guest prepare_guest made in DIR and
# leaves its row of the table in DIR/row, its failed tests in DIR/failures,
# what stopped it in DIR/error, and DIR/failed if anything failed.  The
# guest named fusebpf loads the module (kmod, for start_qemu).
run_guest() {
	local name=$1 image=$2 g=$3 ver out start rc probe fuse pt pass fail skip secs err
	ver=$(cat "$g/ver")
	kmod=
	if [[ $name == fusebpf ]]; then
		kmod=$build/kernel/fusebpf.ko
		ver="$ver+fusebpf.ko"
		# The module's own tests (the rest of the suite runs on the 6.12
		# guest; on the module it is not there yet: docs/kernel.md).
		VMTEST_FILTER=${VMTEST_FUSEBPF_FILTER:-kernel/*}
	fi
	out=${VMTEST_OUT:-$top/$build/vmtest}/$ver
	rm -rf "$out" "$g/share"
	mkdir -p "$out" "$g/share"
	# The tests' scratch (/tmp in the guest): sparse, so it costs the host
	# only what the tests write.
	rm -f "$g/scratch.img"
	truncate -s "$disk" "$g/scratch.img"
	mkfs.ext4 -q -F -O ^has_journal -d "$tmp/disk" "$g/scratch.img" ||
		die "mkfs.ext4 of the scratch disk failed"
	local use=$accel
	if [[ $use == auto ]]; then
		use=tcg
		[[ -c /dev/kvm && -r /dev/kvm && -w /dev/kvm ]] && use=kvm
	fi
	echo "vmtest: $name ($ver) booting under $use${VMTEST_FILTER:+, --filter=$VMTEST_FILTER};" \
		"console: $out/console.log"
	start=$(date +%s)
	start_qemu "$use" "$image" "$g" "$out"
	# Some machines' KVM does not boot stock kernels (this project's does
	# not): the guest is silent from the start.  Nothing has touched the
	# scratch disk yet.
	if [[ $accel == auto && $use == kvm ]] && ! guest_booted "$out"; then
		kill -TERM "$qemu_pid" 2> /dev/null
		wait "$qemu_pid"
		echo "vmtest: $name ($ver): KVM did not boot it within ${kvm_boot_s}s; booting under tcg"
		use=tcg
		start=$(date +%s)
		start_qemu tcg "$image" "$g" "$out"
	fi
	wait $qemu_pid
	rc=$?
	# Under TCG with several vCPUs, Debian's kernels now and then take a
	# stray int3 while patching their own code early in the boot (seen
	# twice in a day here, both under a load of 7, both before the
	# initramfs ran): a kernel that panicked before reaching /init boots
	# once more.  A second panic is reported.
	if ((rc == 0)) && grep -q 'Kernel panic' "$out/console.log" &&
		! grep -q '^VMTEST-BOOTED' "$out/console.log"; then
		echo "vmtest: $name ($ver): the kernel panicked before /init" \
			"($(grep -m1 -E 'Oops|BUG:' "$out/console.log" | cut -c1-80)); booting it again"
		mv "$out/console.log" "$out/console-panic.log"
		start=$(date +%s)
		start_qemu "$use" "$image" "$g" "$out"
		wait $qemu_pid
		rc=$?
	fi
	qemu_pid=
	secs=$(($(date +%s) - start))
	[[ -f $g/share/tests.log ]] && cp "$g/share/tests.log" "$out/tests.log"
	[[ -f $g/share/probe ]] && cp "$g/share/probe" "$out/probe"

	probe=$(cat "$g/share/probe" 2> /dev/null)
	fuse=$(sed -n 's/.*INIT: kernel \([0-9]*\.[0-9]*\),.*/\1/p' <<< "$probe")
	pt=$(sed -n 's/.*passthrough \(on\|off\).*/\1/p' <<< "$probe")
	case $pt in on) pt=yes ;; off) pt=no ;; *) pt='?' ;; esac
	pass=$(sed -n 's/.*Synthesis: .*Passing: \([0-9]*\).*/\1/p' "$out/tests.log" 2> /dev/null)
	fail=$(sed -n 's/.*Synthesis: .*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' \
		"$out/tests.log" 2> /dev/null)
	[[ -n $fail ]] && fail=$((${fail% *} + ${fail#* }))
	skip=$(grep '^\[SKIP\]' "$out/tests.log" 2> /dev/null | grep -vc ': Test is disabled$')
	# A command of its own (VMTEST_RUN): its exit status is the result.
	if [[ -n ${VMTEST_RUN:-} && -f $g/share/status ]]; then
		pass=-
		fail=$(cat "$g/share/status")
		((fail == 0)) || fail="exit $fail"
	fi

	err=
	if ((rc == 124 || rc == 137)); then
		err="guest hung: no result after ${timeout_s}s (VMTEST_TIMEOUT), QEMU killed"
	elif ((rc != 0)); then
		err="QEMU failed (exit $rc): $(tail -n 2 "$g/qemu.log" | tr '\n' ' ')"
	elif grep -q '^VMTEST-ERROR' "$out/console.log"; then
		err=$(sed -n 's/^VMTEST-ERROR //p' "$out/console.log" | head -n1)
	elif grep -q 'Kernel panic' "$out/console.log"; then
		err="guest panicked: $(grep -m1 'Kernel panic' "$out/console.log")"
	elif [[ ! -f $g/share/status ]]; then
		err="guest stopped before the suite finished"
	elif [[ -z $pass && -z ${VMTEST_RUN:-} ]]; then
		err="the suite exited $(cat "$g/share/status") without a summary line"
	fi
	# A kernel splat fails the run even when every test passed.
	if [[ -z $err ]] && grep -qE 'BUG:|Oops|WARNING: CPU|KASAN|UBSAN|general protection' \
			"$out/console.log"; then
		err="kernel warning in the guest log: $(grep -m1 -E 'BUG:|Oops|WARNING: CPU|KASAN|UBSAN|general protection' "$out/console.log")"
	fi
	if [[ -n $err ]]; then
		echo "vmtest: $name ($ver): $err; last console lines:" >&2
		if [[ -s $out/console.log ]]; then
			tail -n 15 "$out/console.log" | sed 's/^/  | /' >&2
		else
			echo "  | (none: add VMTEST_APPEND=loglevel=7 to see the boot)" >&2
		fi
		echo "$ver: $err" > "$g/error"
		: > "$g/failed"
	elif [[ $(cat "$g/share/status") != 0 || $fail != 0 ]]; then
		: > "$g/failed"
	fi
	[[ -f $out/tests.log ]] || skip=
	[[ -n $err ]] && fail="${fail:+$fail, }guest error"
	printf '| %s | %s | %s | %s | %s | %s | %d:%02d |\n' "$ver" "${fuse:-?}" "$pt" \
		"${pass:--}" "${fail:--}" "${skip:--}" $((secs / 60)) $((secs % 60)) > "$g/row"
	# Failed tests, for the summary.
	grep -E '^\[FAIL\]' "$out/tests.log" 2> /dev/null | sed "s/^/  $ver: /" > "$g/failures"
}

# The tree and the build as they are now, for every guest: the guest
# mounts this copy over $top, so that a rebuild or an edit on the host
# while a guest runs (Criterion re-executes its binary for each test)
# does not reach the guest.  The copy is on the scratch disk, which
# mkfs.ext4 -d fills.
mkdir -p "$tmp/disk/vmtest-top/$build"
tar -C "$top" --exclude=./.git --exclude="./$build" -cf - . | tar -C "$tmp/disk/vmtest-top" -xf - ||
	die "cannot copy $top"
for f in fsd fusebpf fsd-tests jpeggen metabench floor bpf man; do
	[[ -e $top/$build/$f ]] && cp -a "$top/$build/$f" "$tmp/disk/vmtest-top/$build/"
done
if [[ -f $top/$build/kernel/fusebpf.ko ]]; then
	mkdir -p "$tmp/disk/vmtest-top/$build/kernel"
	cp "$top/$build/kernel/fusebpf.ko" "$tmp/disk/vmtest-top/$build/kernel/"
fi

guests=()
if [[ -n ${KERNEL:-} ]]; then
	prepare_guest "$KERNEL" "${MODULES:-}" "$tmp/g1"
	guests=("KERNEL=$KERNEL|$KERNEL")
else
	for k in ${VMTEST_KERNELS:-6.1 6.12 fusebpf}; do
		image=$(matrix_image "$k")
		[[ -n $image ]] || die "no $k kernel in /boot: run scripts/vmtest-deps.sh"
		prepare_guest "$image" "" "$tmp/g$((${#guests[@]} + 1))"
		guests+=("$k|$image")
	done
fi
for i in "${!guests[@]}"; do
	while (($(jobs -rp | wc -l) >= max_jobs)); do
		wait -n
	done
	g=$tmp/g$((i + 1))
	(
		trap '[[ -n $qemu_pid ]] && kill -TERM "$qemu_pid" 2> /dev/null; wait; exit 130' TERM
		run_guest "${guests[i]%%|*}" "${guests[i]#*|}" "$g"
	) || : > "$g/failed" &
done
wait

failed=0
: > "$tmp/rows"
: > "$tmp/failures"
: > "$tmp/errors"
for i in "${!guests[@]}"; do
	g=$tmp/g$((i + 1))
	cat "$g/row" >> "$tmp/rows" 2> /dev/null
	cat "$g/failures" >> "$tmp/failures" 2> /dev/null
	cat "$g/error" >> "$tmp/errors" 2> /dev/null
	[[ -e $g/failed ]] && failed=1
done
echo
echo "| kernel | FUSE | passthrough | passed | failed | skipped | wall time |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
cat "$tmp/rows"
if [[ -s $tmp/failures ]]; then
	echo
	echo "failed tests:"
	cat "$tmp/failures"
fi
if [[ -s $tmp/errors ]]; then
	echo
	echo "guest errors:"
	sed 's/^/  /' "$tmp/errors"
fi
exit $failed
