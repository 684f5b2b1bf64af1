#!/bin/sh
# PID 1 of a live-test guest (testcores/live-guest.sh): runs a scenario, then
# the static vmtaint on the running kernel (`report --live --json`), saves its
# output with the kernel's own view ("truth") on the virtio disk, powers off.
# With a second disk (serial "debug") holding the kernel's debug vmlinux, it
# also runs `report --live --json --vmlinux` (live-dwarf.json).
# Scenarios: mixed (as the real-dump script's: proprietary, GPL and warning
# out-of-tree modules, one unloaded), aux (only bit 16 written to
# /proc/sys/kernel/tainted).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
	echo "VMTAINT-FAIL: $*"
	umount /mnt 2>/dev/null
	sync
	poweroff -f
}

scenario=
for arg in $(cat /proc/cmdline); do
	case $arg in vmtaint.scenario=*) scenario=${arg#*=} ;; esac
done
echo "vmtaint: live guest $(uname -r), scenario '$scenario'"
for m in $(cat /etc/vmtaint/virtio-modules); do
	modprobe "$m" || fail "modprobe $m"
done
# The disks, by their serial: "out" (results), "debug" (the kernel's debug
# vmlinux, only for kernels whose kallsyms has no data symbols).
disk() {
	for b in /sys/block/vd*; do
		[ "$(cat "$b/serial" 2>/dev/null)" = "$1" ] && echo "/dev/${b##*/}" && return 0
	done
	return 1
}
n=0
until disk out >/dev/null; do
	n=$((n + 1))
	[ $n -le 100 ] || fail "no virtio disk"
	usleep 50000
done
mount -t ext4 "$(disk out)" /mnt || fail "mount the out disk"
out=/mnt/out
mkdir -p $out/truth
: >$out/truth/last_unloaded.txt

case $scenario in
mixed)
	insmod /oot/oot_prop.ko || fail "insmod oot_prop"
	insmod /oot/oot_gpl.ko || fail "insmod oot_gpl"
	insmod /oot/oot_warn.ko || fail "insmod oot_warn"
	insmod /oot/oot_gone.ko || fail "insmod oot_gone"
	echo "oot_gone $(cat /sys/module/oot_gone/taint)" >$out/truth/last_unloaded.txt
	rmmod oot_gone || fail "rmmod oot_gone"
	;;
aux) echo 65536 >/proc/sys/kernel/tainted || fail "write tainted" ;;
*) fail "unknown scenario '$scenario'" ;;
esac

# The report first, then the truth: nothing happens in between.
/bin/vmtaint report --live --json >$out/live.json 2>$out/live.stderr
echo $? >$out/live.rc
t=$out/truth
cat /proc/sys/kernel/tainted >$t/tainted
cat /proc/modules >$t/modules
for d in /sys/module/*; do
	[ -f "$d/taint" ] || continue
	letters=$(cat "$d/taint")
	echo "${d##*/} ${letters:--}"
done >$t/module_taints.txt
dmesg >$t/dmesg.txt
uname -r >$t/uname.txt
# With the debug vmlinux (where its disk is attached): the full report.
if dbg=$(disk debug); then
	mkdir -p /debug
	mount -t ext4 -o ro "$dbg" /debug || fail "mount the debug disk"
	/bin/vmtaint report --live --json --vmlinux /debug/vmlinux >$out/live-dwarf.json 2>$out/live-dwarf.stderr
	echo $? >$out/live-dwarf.rc
	umount /debug
fi
# The static binary also runs where nothing else could: no libraries here.
/bin/vmtaint info --live --json >$out/info.json 2>$out/info.stderr
echo $? >$out/info.rc
echo "vmtaint: tainted=$(cat $t/tainted) live rc=$(cat $out/live.rc)"
sync
umount /mnt || fail "umount"
echo VMTAINT-LIVE-DONE
poweroff -f
