#!/bin/sh
# PID 1 of the first (crashing) kernel. It loads the capture kernel with
# `kexec -p`, runs the scenario named by `vmtaint.scenario=` on the kernel
# command line, saves the kernel's own view of its taint ("truth") on the
# virtio disk, and then crashes (sysrq c, or an oops for `oops`).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# Progress on the console with the guest's uptime: the serial log shows
# where the time goes.
stamp() { echo "vmtaint: [$(cut -d' ' -f1 /proc/uptime)] $*"; }

fail() {
	echo "VMTAINT-FAIL: $*"
	umount /mnt 2>/dev/null
	sync
	poweroff -f
}

scenario=
handshake=0
for arg in $(cat /proc/cmdline); do
	case $arg in
	vmtaint.scenario=*) scenario=${arg#*=} ;;
	vmtaint.handshake=1) handshake=1 ;;
	esac
done
echo "vmtaint: first kernel $(uname -r), scenario '$scenario'"

# The disk carries the truth files out; its driver stack is all modules.
# (/etc/vmtaint/virtio-modules: those this kernel has as modules)
for m in $(cat /etc/vmtaint/virtio-modules); do
	modprobe "$m" || fail "modprobe $m"
done
# The host names its disks by serial: "out" (ext4) and "elf" (raw).
disk() {
	for b in /sys/block/vd*; do
		if [ "$(cat "$b/serial" 2>/dev/null)" = "$1" ]; then
			echo "/dev/${b##*/}"
			return 0
		fi
	done
	return 1
}
n=0
until out_disk=$(disk out) && [ -b "$out_disk" ]; do
	n=$((n + 1))
	[ $n -le 100 ] || fail "no disk with serial 'out'"
	usleep 50000
done
mount -t ext4 "$out_disk" /mnt || fail "mount $out_disk"
mkdir -p /mnt/out/truth
# The last module rmmod'ed and the taints it had just before ("" if none).
: >/mnt/out/truth/last_unloaded.txt

# Only this kernel needs kexec: it loads the capture kernel into the
# crashkernel= reservation; the capture kernel boots its own initramfs.
# -i (--no-checks) skips the purgatory's SHA-256 check of that reservation:
# under TCG it costs about 8 s of CPU per dump and guards only against a
# corrupted capture kernel, which would show up as a failed run anyway.
# The host wrote how this arch's capture kernel is loaded (CAPTURE_KERNEL,
# CAPTURE_APPEND).
stamp "disk mounted"
. /etc/vmtaint/capture.env
kexec -p -i "$CAPTURE_KERNEL" --initrd=/boot/capture.cpio --append="$CAPTURE_APPEND" ||
	fail "kexec -p"
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "capture kernel not loaded"

stamp "capture kernel loaded"

save_truth() {
	t=/mnt/out/truth
	cat /proc/sys/kernel/tainted >$t/tainted
	cat /proc/modules >$t/modules
	for d in /sys/module/*; do
		[ -f "$d/taint" ] || continue
		letters=$(cat "$d/taint")
		echo "${d##*/} ${letters:--}"
	done >$t/module_taints.txt
	dmesg >$t/dmesg.txt
	uname -r >$t/uname.txt
	cat /proc/keys >$t/keys.txt
	for f in /sys/module/oot_params/parameters/*; do
		if [ -f "$f" ]; then echo "${f##*/}=$(cat "$f")"; fi
	done >$t/params.txt
	if [ -f /sys/module/module/parameters/sig_enforce ]; then
		cat /sys/module/module/parameters/sig_enforce >$t/sig_enforce
	fi
	echo "vmtaint: tainted=$(cat $t/tainted)"
}

# Leaves the disk clean for the capture kernel, which mounts it again.
release_disk() {
	sync
	umount /mnt || fail "umount /mnt"
}

# rmmod, remembering the module's taints in truth/last_unloaded.txt.
unload() {
	echo "$1 $(cat "/sys/module/$1/taint")" >/mnt/out/truth/last_unloaded.txt
	rmmod "$1" || fail "rmmod $1"
}

# One module load meant to fail: its uptime, exit status, command and
# message go to truth/load_attempts.txt (tab-separated), and the message to
# the kernel log, as modprobe and systemd-modules-load write theirs.
attempt() {
	up=$(cut -d' ' -f1 /proc/uptime)
	err=$("$@" 2>&1)
	st=$?
	printf '%s\t%s\t%s\t%s\n' "$up" "$st" "$*" "$err" >>/mnt/out/truth/load_attempts.txt
	[ -z "$err" ] || echo "$err" >/dev/kmsg
	[ "$st" != 0 ] || fail "$* succeeded"
}

# Appends to kern.log (beside the dump) the log lines newer than its last.
kernlog_sync() {
	last=$(tail -n 1 /mnt/out/kern.log 2>/dev/null | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')
	dmesg | awk -v last="${last:--1}" '
		match($0, /^\[ *[0-9]+\.[0-9]+\]/) { t = substr($0, 2, RLENGTH - 2) + 0 }
		t > last + 0 { print }' >>/mnt/out/kern.log
}

case $scenario in
clean) ;;
mixed)
	# Registers the guest's VMCOREINFO with QEMU (-device vmcoreinfo), so
	# QEMU's own dump-guest-memory ELF carries the note.
	modprobe qemu_fw_cfg || fail "modprobe qemu_fw_cfg"
	insmod /oot/oot_prop.ko || fail "insmod oot_prop"
	insmod /oot/oot_gpl.ko || fail "insmod oot_gpl"
	insmod /oot/oot_warn.ko || fail "insmod oot_warn"
	insmod /oot/oot_gone.ko || fail "insmod oot_gone"
	unload oot_gone
	insmod /oot/oot_params.ko p_int=-42 p_uint=4000000000 p_bool=1 \
		p_invbool=1 p_charp=hello p_arr=1,-2,3 p_ushort=65535 \
		p_long=-9000000000 p_str=world || fail "insmod oot_params"
	;;
unloaded)
	insmod /oot/oot_gone.ko || fail "insmod oot_gone"
	unload oot_gone
	;;
oops)
	insmod /oot/oot_gpl.ko || fail "insmod oot_gpl"
	save_truth
	release_disk
	# insmod is not PID 1, so without panic_on_oops the oops would only
	# kill insmod; with it, the oops goes straight to the capture kernel.
	echo 1 >/proc/sys/kernel/panic_on_oops
	echo "vmtaint: crashing (oops)"
	insmod /oot/oot_oops.ko
	fail "survived the oops"
	;;
coreoops)
	# The oops is in kstrtoint (kernel proper), called by oot_core's init.
	insmod /oot/oot_gpl.ko || fail "insmod oot_gpl"
	save_truth
	release_disk
	echo 1 >/proc/sys/kernel/panic_on_oops
	echo "vmtaint: crashing (oops in a kernel function called by oot_core)"
	insmod /oot/oot_core.ko
	fail "survived the oops"
	;;
initfree)
	# oot_gone is the last unloaded module; oot_initfree keeps a pointer to
	# its own __init function, which the kernel frees after init returns.
	insmod /oot/oot_gone.ko || fail "insmod oot_gone"
	unload oot_gone
	insmod /oot/oot_initfree.ko || fail "insmod oot_initfree"
	# The kernel frees init sections after an RCU grace period (a work).
	sleep 2
	save_truth
	release_disk
	echo 1 >/proc/sys/kernel/panic_on_oops
	echo "vmtaint: crashing (call through a pointer to a freed __init function)"
	echo 1 >/sys/module/oot_initfree/parameters/fire || fail "fire oot_initfree"
	sleep 60
	fail "survived the call into freed init memory"
	;;
loadfail)
	# Loads that fail, each recorded in truth/load_attempts.txt; then
	# module signature enforcement, switched on at runtime (enable-only).
	attempt insmod /oot/oot_needsym.ko
	attempt insmod /oot/oot_params.ko p_ushort=70000
	attempt insmod /oot/oot_params.ko p_str=longer-than-fifteen-chars
	how=runtime
	echo 1 >/sys/module/module/parameters/sig_enforce 2>/dev/null || how="runtime write failed"
	echo "$how" >/mnt/out/truth/sig_enforce_how.txt
	[ "$(cat /sys/module/module/parameters/sig_enforce)" = Y ] || fail "sig_enforce not on ($how)"
	attempt insmod /oot/oot_gpl.ko
	attempt insmod /oot/oot_signed.ko
	;;
wrapped)
	# The tainting modules' lines, then enough log to wrap the printk ring
	# (128 KiB on Debian) several times; kern.log beside the dump is a
	# continuous copy of the log as a syslog daemon would keep it.
	insmod /oot/oot_prop.ko || fail "insmod oot_prop"
	insmod /oot/oot_warn.ko || fail "insmod oot_warn"
	kernlog_sync
	pad=$(printf '%0250d' 0)
	i=0
	while [ $i -lt 1200 ]; do
		# Level 7 (debug): in the ring, not on the slow serial console.
		echo "<7>vmtaint: flood line $i $pad" >/dev/kmsg
		i=$((i + 1))
		[ $((i % 100)) != 0 ] || kernlog_sync
	done
	;;
many)
	for m in $(cat /etc/vmtaint/many-modules); do
		modprobe "$m" || fail "modprobe $m"
	done
	insmod /oot/oot_gpl.ko || fail "insmod oot_gpl"
	;;
*) fail "unknown scenario '$scenario'" ;;
esac

save_truth
release_disk

if [ "$handshake" = 1 ]; then
	# The host dumps this kernel through QMP while it waits here: announce
	# readiness on ttyS1 until the host answers (it may connect late).
	stty -F /dev/ttyS1 raw -echo || fail "stty ttyS1"
	exec 3<>/dev/ttyS1
	n=0
	while :; do
		echo VMTAINT-READY >&3
		if read -t 1 -r line <&3; then
			case $line in *VMTAINT-GO*) break ;; esac
		fi
		n=$((n + 1))
		[ $n -le 90 ] || fail "host never answered on ttyS1"
	done
	echo VMTAINT-GOING >&3
	exec 3<&-
fi

echo "vmtaint: crashing (sysrq c)"
echo c >/proc/sysrq-trigger
fail "survived sysrq c"
