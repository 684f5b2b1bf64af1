#!/usr/bin/env bash
# Live benchmark (issue 13): `vmtaint report --live` on a running kernel and a
# log-only report of a 10 MB kernel log, against `dmesg | grep -i taint` and
# drgn 0.3.0 live (scripts/bench/drgn_taint.py on /proc/kcore, as root).
# Prints markdown tables (hyperfine --export-markdown) on stdout, each after
# a one-line note of where it ran; progress goes to stderr.
#
# A live report needs root and a readable /proc/kcore. Where this machine has
# one, it is measured here. Otherwise (a container: no CONFIG_PROC_KCORE) a
# QEMU (TCG) guest of the real-dump script's x86-64 6.1 kernel runs the
# mixed scenario's modules and this script with --here inside it: the static
# vmtaint, hyperfine and python3 with drgn (copied with the libraries ldd
# names) and the kernel's debug vmlinux (for drgn, and vmtaint's DWARF row)
# on a virtio disk. The host then adds what runs without kcore natively: the
# log-only report and the reduced (/proc, /sys) live report.
#
# usage: live.sh [--here] [--binary PATH] [--runs N]
#   --here    measure this machine's running kernel (root, /proc/kcore)
#   --binary  the vmtaint to measure (default: scripts/build-static.sh)
#   --runs    hyperfine runs per command (default 10; drgn at most 5)
# env (--here): VMLINUX (debug vmlinux of the running kernel, default
#   /usr/lib/debug/boot/vmlinux-$(uname -r)), TAINT_LOG (the 10 MB log),
#   DRGN_PYTHON (a python3 that imports drgn), HYPERFINE.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
here=0
binary=
runs=10
while [ $# -gt 0 ]; do
	case $1 in
	--here) here=1 ;;
	--binary)
		binary=$2
		shift
		;;
	--runs)
		runs=$2
		shift
		;;
	*)
		sed -n 's/^# usage: /usage: /p' "$0" >&2
		exit 2
		;;
	esac
	shift
done
say() { echo "bench/live: $*" >&2; }
die() {
	say "$*"
	exit 1
}
drgn_runs=$((runs < 5 ? runs : 5))

# A kernel log of about 10 MB: real vmcore-dmesg.txt files of every kernel
# line and scenario, concatenated (timestamps go backwards between files, as
# in a log archive).
make_log() {
	local out=$1 src=${VMTAINT_TESTCORES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmtaint/testcores} files
	mapfile -t files < <(ls "$src"/*/*/vmcore-dmesg.txt 2>/dev/null)
	[ ${#files[@]} -gt 0 ] || die "no vmcore-dmesg.txt under $src (bash testcores/make-real-cores.sh)"
	: >"$out"
	while [ "$(stat -c %s "$out")" -lt $((10 << 20)) ]; do cat "${files[@]}" >>"$out"; done
}

# hyperfine's markdown table of the given commands (name, command pairs).
table() {
	local n=$1 md
	shift
	md=$(mktemp)
	local args=()
	while [ $# -gt 0 ]; do
		args+=(-n "$1" "$2")
		shift 2
	done
	# Exit statuses are checked once before (a log-only report exits 3: a report without a verdict).
	"${HYPERFINE:-hyperfine}" -N -i --warmup 1 --runs "$n" --style none --export-markdown "$md" "${args[@]}" >&2 || {
		rm -f "$md"
		return 1
	}
	cat "$md"
	rm -f "$md"
}

# Run a command once; its exit status must be one of the allowed ones.
check() {
	local allowed=$1 rc=0
	shift
	"$@" >/dev/null 2>"${TMPDIR:-/tmp}/bench-check.err" || rc=$?
	case " $allowed " in *" $rc "*) ;; *) die "$* exited $rc: $(tail -3 "${TMPDIR:-/tmp}/bench-check.err")" ;; esac
}

# --- on this machine's running kernel -------------------------------------------
measure_here() {
	local vt=$1 rel vmlinux log py
	rel=$(uname -r)
	[ "$(id -u)" = 0 ] && head -c 64 /proc/kcore >/dev/null 2>&1 || die "--here needs root and a readable /proc/kcore"
	vmlinux=${VMLINUX:-/usr/lib/debug/boot/vmlinux-$rel}
	log=${TAINT_LOG:-}
	if [ -z "$log" ]; then
		log=$(mktemp)
		make_log "$log"
	fi
	py=${DRGN_PYTHON:-python3}
	echo
	echo "Live, $rel ($(uname -m)), $(awk '/^model name/ { $1 = $2 = $3 = ""; print; exit }' /proc/cpuinfo | sed 's/^ *//')$(grep -q '^flags.* hypervisor' /proc/cpuinfo && echo ', virtual machine'): tainted=$(cat /proc/sys/kernel/tainted), $(wc -l </proc/modules) modules, log $(($(stat -c %s "$log") >> 20)) MiB"
	echo
	check 0 "$vt" report --live --json --no-debuginfo
	check "0 3" "$vt" report --json "$log"
	local rows=("vmtaint report --live (kcore, BTF + kallsyms)" "$vt report --live --json --no-debuginfo")
	[ -f "$vmlinux" ] && check 0 "$vt" report --live --json --vmlinux "$vmlinux" && rows+=("vmtaint report --live --vmlinux (kcore, DWARF)" "$vt report --live --json --vmlinux $vmlinux")
	rows+=("vmtaint report 10 MB log (log only)" "$vt report --json $log")
	rows+=("dmesg | grep -i taint" "sh -c 'dmesg | grep -i taint >/dev/null'")
	rows+=("grep -i taint 10 MB log" "grep -ci taint $log")
	table "$runs" "${rows[@]}"
	if [ ! -f "$vmlinux" ]; then
		echo
		echo "drgn live: not measured: no debug vmlinux at $vmlinux (drgn 0.3.0 needs the kernel's DWARF)"
	elif ! "$py" -c 'import drgn' 2>/dev/null; then
		echo
		echo "drgn live: not measured: $py cannot import drgn"
	elif ! "$py" "$HERE/drgn_taint.py" "$vmlinux" /proc/kcore >/dev/null 2>"${TMPDIR:-/tmp}/drgn.err"; then
		echo
		echo "drgn live: failed: $(tail -1 "${TMPDIR:-/tmp}/drgn.err")"
	else
		echo
		echo "drgn 0.3.0 live: scripts/bench/drgn_taint.py (tainted_mask, module taints and sig_ok, last unloaded) on /proc/kcore with the debug vmlinux"
		echo
		table "$drgn_runs" "drgn live (drgn_taint.py)" "$py $HERE/drgn_taint.py $vmlinux /proc/kcore"
	fi
	[ -n "${TAINT_LOG:-}" ] || rm -f "$log"
}

if [ $here = 1 ]; then
	[ -n "$binary" ] || binary=$(command -v vmtaint || true)
	[ -x "$binary" ] || die "no vmtaint (--binary PATH)"
	measure_here "$binary"
	exit 0
fi

command -v hyperfine >/dev/null || die "hyperfine is needed (apt-get install hyperfine)"
[ -n "$binary" ] || binary=$("$REPO/scripts/build-static.sh")
[ -x "$binary" ] || die "no vmtaint at $binary"
if [ "$(id -u)" = 0 ] && head -c 64 /proc/kcore >/dev/null 2>&1; then
	measure_here "$binary"
	exit 0
fi
why="no /proc/kcore here"
[ -e /proc/kcore ] && why="/proc/kcore unreadable here"

# --- in a QEMU guest --------------------------------------------------------------
REAL=$REPO/testcores/make-real-cores.sh
set --
# shellcheck disable=SC1090 # the real-dump script's tables and functions, not its main part
source <(sed -n '1,/^# --- main ---/p' "$REAL" |
	sed "s|^SCRIPT_DIR=.*|SCRIPT_DIR=$REPO/testcores|; s|^SCRIPT=.*|SCRIPT=$REAL|")
die() {
	say "$*"
	exit 1
}
r=$HOST_KERNEL
kernel_paths "$r"
build=
for b in "$(kdir "$r")"/build-*; do
	[ -f "$b/.ok" ] && [ -f "$b/first-root/boot/vmlinuz" ] && build=$b && break
done
[ -n "$build" ] || die "$r: no build of the real-dump script (bash testcores/make-real-cores.sh --kernel $r)"
[ -f "$VMLINUX" ] || die "no debug vmlinux at $VMLINUX"
venv=${XDG_CACHE_HOME:-$HOME/.cache}/vmtaint/venv
site=$(echo "$venv"/lib/python3*/site-packages)
[ -d "$site/drgn" ] || die "no drgn in $venv (scripts/test-all.sh installs drgn==0.3.0 there)"
pyver=$(basename "$(dirname "$site")")
file "$binary" | grep -q 'x86-64' || die "$binary is not an x86-64 executable"
file "$binary" | grep -q 'dynamically linked' && die "$binary is not static"

w=$(mktemp -d /tmp/vmtaint-bench-live.XXXXXX)
trap 'rm -rf "$w"' EXIT
say "guest $r: preparing in $w"
# The initramfs: the first kernel's busybox tree and modules, the static
# vmtaint, hyperfine, bash (this script) and python3 with their libraries.
mkdir -p "$w/root"
cp -a "$build/first-root/." "$w/root/"
rm -rf "$w/root/boot" "$w/root/init" "$w/root/usr/sbin/kexec"
cp "$binary" "$w/root/bin/vmtaint"
install_program "$w/root" "$(command -v hyperfine)" /bin/hyperfine
install_program "$w/root" "$(readlink -f /usr/bin/python3)" /usr/bin/python3
install_program "$w/root" /bin/bash /bin/bash
# drgn's own libraries travel in its wheel (drgn.libs); the system ones they and python's extension
# modules (readline, ...) need go to the initramfs.
for f in "$site"/_drgn*.so "$site"/drgn.libs/* /usr/lib/"$pyver"/lib-dynload/*.so; do
	for lib in $(ldd "$f" | grep -o '/[^ ]*' | grep -v '/drgn\.libs/'); do
		mkdir -p "$w/root$(dirname "$lib")"
		cp -L "$lib" "$w/root$lib"
	done
done
cat >"$w/root/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
fail() { echo "VMTAINT-FAIL: $*"; poweroff -f; }
for m in $(cat /etc/vmtaint/virtio-modules); do modprobe "$m" || fail "modprobe $m"; done
n=0
until [ -b /dev/vda ]; do n=$((n + 1)); [ $n -le 100 ] || fail "no virtio disk"; usleep 50000; done
mount -t ext4 /dev/vda /mnt || fail "mount"
# The mixed scenario's modules: a tainted kernel to report on.
for m in oot_prop oot_gpl oot_warn oot_gone; do insmod /oot/$m.ko || fail "insmod $m"; done
rmmod oot_gone
mkdir -p /mnt/out
PYTHONHOME=/mnt/py PYTHONPATH=/mnt/py/site DRGN_PYTHON=/usr/bin/python3 HYPERFINE=/bin/hyperfine \
	VMLINUX=/mnt/vmlinux TAINT_LOG=/mnt/taint.log \
	/bin/bash /mnt/bench/live.sh --here --binary /bin/vmtaint --runs "$(cat /mnt/runs)" \
	>/mnt/out/tables.md 2>/mnt/out/stderr
echo $? >/mnt/out/rc
sync
umount /mnt
echo VMTAINT-BENCH-DONE
poweroff -f
EOF
chmod +x "$w/root/init"
make_cpio "$w/root" "$w/bench.cpio"
# The disk: the debug vmlinux, python's standard library and drgn, the log.
d=$w/disk
mkdir -p "$d/py/lib" "$d/py/site" "$d/bench"
cp "$VMLINUX" "$d/vmlinux"
cp -a "/usr/lib/$pyver" "$d/py/lib/"
# Debian's sitecustomize links into /etc; the tests and GUIs are not needed.
rm -rf "$d/py/lib/$pyver/test" "$d/py/lib/$pyver/idlelib" "$d/py/lib/$pyver/tkinter" \
	"$d/py/lib/$pyver/sitecustomize.py"
cp -a "$site"/drgn "$site"/drgn.libs "$site"/_drgn* "$d/py/site/"
cp "$HERE/live.sh" "$HERE/drgn_taint.py" "$d/bench/"
make_log "$d/taint.log"
echo "$runs" >"$d/runs"
size=$(($(du -sm "$d" | cut -f1) + 200))
truncate -s "${size}M" "$w/disk.img"
mkfs.ext4 -q -F -O ^has_journal -m 0 -d "$d" "$w/disk.img"
rm -rf "$d"
arch=x86_64
say "guest $r: running (QEMU TCG, one CPU, 2 GiB)"
# shellcheck disable=SC2206 # the machine option is words
qemu=(timeout --foreground --kill-after=5 "${VMTAINT_QEMU_TIMEOUT:-900}" "${ARCH_QEMU[$arch]}"
	-accel tcg ${ARCH_MACHINE[$arch]} -m 2048 -nodefaults -no-user-config -display none -no-reboot
	-kernel "$build/first-root/boot/vmlinuz" -initrd "$w/bench.cpio"
	-drive "file=$w/disk.img,if=none,id=d,format=raw,cache=unsafe" -device virtio-blk-pci,drive=d
	-serial "file:$w/serial.log" -append "console=${ARCH_CONSOLE[$arch]} panic=1")
[ "${K_CPU[$r]}" = - ] || qemu+=(-cpu "${K_CPU[$r]}")
"${qemu[@]}" >"$w/qemu.log" 2>&1 || die "QEMU failed: $(head -c 300 "$w/qemu.log")"
grep -q VMTAINT-BENCH-DONE "$w/serial.log" || die "the guest did not finish: $(grep VMTAINT-FAIL "$w/serial.log" || tail -5 "$w/serial.log")"
debugfs -R "rdump /out $w" "$w/disk.img" >/dev/null 2>&1 || die "debugfs could not read the results"
[ "$(cat "$w/out/rc")" = 0 ] || die "the guest's benchmark failed: $(tail -5 "$w/out/stderr")"
echo "Ran in a QEMU TCG guest (x86-64 emulated on this host, one CPU: times are several times native) of $r, as root ($why on the host)."
cat "$w/out/tables.md"

# Natively on this host: what needs no kcore.
log=$w/taint.log
make_log "$log"
check 0 "$binary" report --live --json
check "0 3" "$binary" report --json "$log"
echo
echo "Natively on this host ($(uname -r), $(nproc) CPUs; $why: vmtaint's live report here is the reduced one from /proc and /sys), log $(($(stat -c %s "$log") >> 20)) MiB"
echo
table "$runs" \
	"vmtaint report --live (reduced: /proc, /sys)" "$binary report --live --json" \
	"vmtaint report 10 MB log (log only)" "$binary report --json $log" \
	"dmesg | grep -i taint" "sh -c 'dmesg | grep -i taint >/dev/null'" \
	"grep -i taint 10 MB log" "grep -ci taint $log"
