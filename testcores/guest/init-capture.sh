#!/bin/sh
# PID 1 of the capture kernel (booted by kexec on the crash): writes the
# crashed kernel's memory (/proc/vmcore) to the virtio disks (makedumpfile
# lzo and flattened lzo, the kernel log, a raw ELF copy), marks success, and
# powers the VM off.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# makedumpfile keeps its bitmaps in files under /tmp.
mount -t tmpfs tmpfs /tmp

# Progress on the console with the guest's uptime: the serial log shows
# where the time goes.
stamp() { echo "vmtaint: [$(cut -d' ' -f1 /proc/uptime)] $*"; }

fail() {
	echo "VMTAINT-FAIL: $*"
	umount /mnt 2>/dev/null
	sync
	poweroff -f
}

echo "vmtaint: capture kernel $(uname -r)"
[ -e /proc/vmcore ] || fail "no /proc/vmcore"
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
o=/mnt/out
mkdir -p $o

# Message level 22 = common + error + report messages, no progress bars.
mdf() { makedumpfile --message-level 22 "$@"; }
stamp "disk mounted"
mdf -l -d 31 /proc/vmcore $o/vmcore.lzo || fail "makedumpfile -l"
stamp "lzo written"
# No `-c` (zlib) here unless the host cannot make it (another arch's dump):
# zlib under TCG costs about 5 s of CPU, and the host makes a byte-identical
# vmcore.zlib from the raw ELF copy in well under 1 s.
if [ -f /etc/vmtaint/zlib-in-capture ]; then
	mdf -c -d 31 /proc/vmcore $o/vmcore.zlib || fail "makedumpfile -c"
	stamp "zlib written"
fi
mdf -F -l -d 31 /proc/vmcore >$o/vmcore.flat || fail "makedumpfile -F"
stamp "flat written"
mdf --dump-dmesg /proc/vmcore $o/vmcore-dmesg.txt || fail "makedumpfile --dump-dmesg"
stamp "dmesg written"
# The raw ELF goes byte for byte to its own raw disk (the host cuts the
# image to the recorded size): with O_DIRECT this is more than twice as fast
# as cp to ext4 in the capture kernel's little memory.
elf_disk=$(disk elf) || fail "no disk with serial 'elf'"
stat -c %s /proc/vmcore >$o/vmcore.elf.size || fail "stat /proc/vmcore"
dd if=/proc/vmcore of="$elf_disk" bs=4M iflag=fullblock oflag=direct 2>/dev/null ||
	fail "dd /proc/vmcore"
stamp "elf written"
echo ok >$o/CAPTURE-DONE
sync
umount /mnt || fail "umount /mnt"
echo "vmtaint: capture done"
poweroff -f
