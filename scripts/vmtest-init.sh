#!/bin/sh
# The init of a `make vmtest` guest (scripts/vmtest.sh builds the guest and
# reads what this leaves behind).  It runs twice:
#
#   /init in the initramfs, under busybox: loads the modules the initramfs
#   carries (virtio-pci, the 9p stack and fuse where they are modules, then
#   virtio-blk and ext4 for the scratch disk if they load), mounts
#   the host's root read-only over 9p and switch_roots into it, running itself
#   again from there as "stage2";
#
#   stage2, as PID 1 in the host's root: mounts the guest's own /proc, /sys,
#   /dev, bpffs, fusectl, the host's scratch disk on /tmp and tmpfs on /run,
#   /dev/shm, /var/tmp, the host's writable result directory at
#   /run/vmtest; probes what FUSE the kernel offers, runs
#   scripts/run-tests.sh, and reboots, which QEMU's -no-reboot makes its exit.
#
# What the host reads: /run/vmtest/probe (the INIT line of a probe mount),
# tests.log (the suite's output), status (its exit code); and on the console
# "VMTEST-ERROR <cause>" when the guest could not get as far as the tests.
# Plain sh: stage 1 runs under busybox ash, stage 2 under the host's /bin/sh.

fail() {
	echo "VMTEST-ERROR $*"
	[ -d /run/vmtest ] && echo "$*" > /run/vmtest/error
	halt_guest
}

halt_guest() {
	sync
	[ -d /run/vmtest ] && umount /run/vmtest 2>/dev/null
	# -no-reboot on the QEMU side turns a reboot into QEMU's exit; poweroff
	# needs ACPI, which a user's kernel may lack.
	busybox reboot -f 2>/dev/null || echo b > /proc/sysrq-trigger
	sleep 10
}

stage1() {
	/bin/busybox --install -s /bin
	export PATH=/bin
	mkdir -p /proc /sys /dev /newroot
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	exec </dev/console >/dev/console 2>&1
	# The host's sign that the kernel booted (under KVM it falls back to TCG without it).
	echo "VMTEST-BOOTED $(uname -r)"
	. /vmtest.conf
	for m in $(cat /modules/order); do
		insmod "/modules/$m" || fail "insmod $m failed (kernel $(uname -r))"
	done
	# Those the guest can do without (the scratch disk's).
	for m in $(cat /modules/optional); do
		insmod "/modules/$m" 2>/dev/null
	done
	grep -qw 9p /proc/filesystems ||
		fail "kernel $(uname -r) has no 9p filesystem (CONFIG_9P_FS, CONFIG_NET_9P_VIRTIO)"
	# The 9p share's device appears once virtio-pci has probed it.
	i=0
	while ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 \
			hostroot /newroot 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 50 ] || fail "kernel $(uname -r): mounting the host's root over virtio-9p failed" \
			"(CONFIG_NET_9P_VIRTIO, CONFIG_VIRTIO_PCI)"
		sleep 0.1
	done
	[ -x "/newroot$VMTEST_TOP/scripts/vmtest-init.sh" ] ||
		fail "the host's root has no $VMTEST_TOP/scripts/vmtest-init.sh"
	umount /proc /sys
	exec switch_root /newroot /bin/sh "$VMTEST_TOP/scripts/vmtest-init.sh" stage2
}

# Mounts the filesystem of fusebpf's FUSE server on a tmpfs directory with
# -d and keeps its INIT line: the protocol the kernel offered and whether
# passthrough was granted.  A read through it makes it do some work.
probe() {
	p=/tmp/vmtest-probe
	mkdir -p $p/backing $p/mnt
	echo probe > $p/backing/f
	"$VMTEST_TOP/$VMTEST_BUILD/fsd" -d $p/backing $p/mnt 2> $p/log &
	pid=$!
	i=0
	while ! grep -q " $p/mnt " /proc/mounts; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
			echo "probe: fsd did not mount: $(tail -n 3 $p/log | tr '\n' ' ')"
			kill $pid 2>/dev/null
			return
		fi
		sleep 0.1
	done
	cat $p/mnt/f > /dev/null
	umount $p/mnt
	wait $pid
	grep -m1 'INIT: kernel' $p/log || echo "probe: no INIT line: $(tail -n 3 $p/log | tr '\n' ' ')"
}

stage2() {
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	export HOME=/tmp TERM=dumb LANG=C.UTF-8
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/pts /dev/shm
	# What udev would make: bash's process substitution needs /dev/fd.
	ln -sf /proc/self/fd /dev/fd
	ln -sf /proc/self/fd/0 /dev/stdin
	ln -sf /proc/self/fd/1 /dev/stdout
	ln -sf /proc/self/fd/2 /dev/stderr
	mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
	for d in /run /dev/shm /var/tmp; do
		mount -t tmpfs -o mode=1777 tmpfs $d
	done
	# The tests' scratch is an ext4 disk the host made, as the host's /tmp
	# is: tmpfs before 6.6 has no user.* xattrs, which the tests set on the
	# backing.  tmpfs when the kernel cannot mount it.
	scratch=ext4
	if ! mount -t ext4 -o discard /dev/vda /tmp 2>/dev/null; then
		scratch=tmpfs
		mount -t tmpfs -o mode=1777 tmpfs /tmp
	fi
	chmod 1777 /tmp
	mkdir -p /run/vmtest
	mount -t 9p -o trans=virtio,version=9p2000.L,cache=none vmtest /run/vmtest ||
		fail "mounting the host's result directory over 9p failed"
	. /run/vmtest/env
	export FSD_TEST_TIME_SCALE
	# The tests size their trees by the daemon's fd limit (fixture.h): the
	# kernel's default for init, 4,096, set here so that it does not depend
	# on the kernel.
	ulimit -n 4096
	# The host's copy of the tree and the build, taken when the run began,
	# over the tree's path.  A tree under /tmp (a CI clone) is now hidden
	# by the scratch disk, where its mount point is made.
	if [ -d /tmp/vmtest-top ]; then
		case $VMTEST_TOP in /tmp/*) mkdir -p "$VMTEST_TOP" ;; esac
		mount --bind /tmp/vmtest-top "$VMTEST_TOP" || fail "cannot mount the copy of $VMTEST_TOP"
	fi
	mount -t bpf bpf /sys/fs/bpf || fail "kernel $(uname -r) has no bpffs (CONFIG_BPF_SYSCALL)"
	[ -e /dev/fuse ] || modprobe fuse 2>/dev/null
	[ -e /dev/fuse ] || fail "kernel $(uname -r) has no /dev/fuse (CONFIG_FUSE_FS)"
	mount -t fusectl fusectl /sys/fs/fuse/connections || fail "mounting fusectl failed"
	# The project's FUSE-BPF module, in the guest that tests it; fsd then
	# takes /dev/fusebpf (its -o kernel=auto).
	if [ -n "$VMTEST_KMOD" ]; then
		insmod "$VMTEST_TOP/$VMTEST_KMOD" ||
			fail "insmod $VMTEST_KMOD failed: $(dmesg | tail -n 1)"
		mount -t fusebpfctl fusebpfctl /sys/fs/fusebpf/connections ||
			fail "mounting fusebpfctl failed"
	fi
	# Loop devices, for the tests that make a filesystem image (they skip without).
	modprobe loop 2>/dev/null
	mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	ip link set lo up 2>/dev/null || busybox ip link set lo up
	hostname vmtest 2>/dev/null

	echo "VMTEST-STAGE2 $(uname -r) at $(cut -d" " -f1 /proc/uptime)s, /tmp on $scratch"
	probe > /run/vmtest/probe 2>&1
	echo "VMTEST-PROBED at $(cut -d" " -f1 /proc/uptime)s"
	cat /run/vmtest/probe
	# The suite's own watchdogs and run-tests.sh's timeout come first; the
	# host's timeout around QEMU is the last.
	cd "$VMTEST_TOP" || fail "no $VMTEST_TOP in the guest"
	set -- "$VMTEST_BUILD" --verbose
	[ -n "$VMTEST_FILTER" ] && set -- "$@" "--filter=$VMTEST_FILTER"
	# VMTEST_RUN: a command of the user's instead.
	if [ -s /run/vmtest/run ] && [ -n "$(cat /run/vmtest/run)" ]; then
		set -- sh /run/vmtest/run
	else
		set -- scripts/run-tests.sh "$@"
	fi
	{ "$@" 2>&1; echo $? > /run/vmtest/status; } | tee /run/vmtest/tests.log
	echo "VMTEST-EXIT $(cat /run/vmtest/status) at $(cut -d" " -f1 /proc/uptime)s"
	# Whatever the tests did, the module must leave: a reference left
	# behind (a mount, a file, a policy) is a leak.  A BPF link just
	# released may hold it a moment longer.
	if [ -n "$VMTEST_KMOD" ]; then
		umount /sys/fs/fusebpf/connections
		i=0
		until rmmod fusebpf 2>/run/vmtest/rmmod; do
			i=$((i + 1))
			[ $i -lt 20 ] || fail "rmmod fusebpf after the suite failed: $(cat /run/vmtest/rmmod)" \
				"($(grep -c ' fusebpf' /proc/mounts) fusebpf mounts left; policies" \
				"registered: $(tr '\n' ' ' < /sys/fs/fusebpf/policies))"
			sleep 0.5
		done
	fi
	halt_guest
}

case "$1" in
stage2) stage2 ;;
*) stage1 ;;
esac
