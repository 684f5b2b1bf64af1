#!/usr/bin/env bash
# Runs the static vmtaint inside QEMU guests of every kernel of the real-dump
# script's KERNELS table: each guest runs a scenario, then
# `vmtaint report --live --json` on its own running kernel, and saves the
# result with the kernel's own view (truth/). The Rust test cli/tests/live_guest.rs
# compares them, and with the dump report of the same scenario.
#
# The kernels, their boot images and modules are the real-dump script's
# (testcores/make-real-cores.sh must have built them): its tables and
# functions are sourced from it, up to its main part. (Sourced, not edited:
# that script's text is the cache key of the dumps.) The vmtaint binary is
# never part of those cached builds: each run packs it into its own initramfs.
#
# Output: $VMTAINT_TESTCORES_DIR/live/<release>/<scenario>/{live.json,
#   live.stderr, live.rc, info.json, info.rc, truth/, serial.log}
# Scenarios: mixed (the dumps' mixed modules, one unloaded), aux (bit 16 only).
#
# usage: live-guest.sh [--kernel REL]... [--binary PATH]
#   --binary: the static vmtaint (default: built with scripts/build-static.sh)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REAL=$HERE/make-real-cores.sh
live_args=("$@")
set --
# shellcheck disable=SC1090 # the real-dump script's tables and functions, not its main part
source <(sed -n '1,/^# --- main ---/p' "$REAL" |
	sed "s|^SCRIPT_DIR=.*|SCRIPT_DIR=$HERE|; s|^SCRIPT=.*|SCRIPT=$REAL|")
set -- "${live_args[@]}"

LIVE_SCENARIOS=(mixed aux)
LIVE_TIMEOUT=${VMTAINT_QEMU_TIMEOUT:-120}
binary=
want=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel)
		want+=("$(resolve_kernel "$2")")
		shift
		;;
	--binary)
		binary=$2
		shift
		;;
	*)
		sed -n 's/^# usage: /usage: /p' "$0" >&2
		exit 2
		;;
	esac
	shift
done
[ ${#want[@]} -gt 0 ] || want=("${ALL_KERNELS[@]}")
if [ -z "$binary" ]; then
	binary=$("$REPO/scripts/build-static.sh")
fi
[ -x "$binary" ] || die "no vmtaint binary at $binary"
# The proof that it is static: nothing in the guest but busybox and modules.
if file "$binary" | grep -q 'dynamically linked'; then die "$binary is not static"; fi

# The build of a kernel the real-dump script made (any input hash: only the
# boot image, stock and out-of-tree modules are used, which the hash does not
# change for a given kernel row).
build_of() {
	local b
	for b in "$(kdir "$1")"/build-*; do
		[ -f "$b/.ok" ] && [ -f "$b/first-root/boot/vmlinuz" ] && {
			echo "$b"
			return 0
		}
	done
	return 1
}

live_one() {
	local r=$1 s=$2 build=$3 arch w out serial
	arch=${K_ARCH[$r]}
	w=$CACHE/live-work/$r/$s
	out=$OUT/live/$r/$s
	rm -rf "$w" "$out"
	mkdir -p "$w/root"
	# The first kernel's tree without kexec, the capture kernel or its init.
	cp -a "$build/first-root/." "$w/root/"
	rm -rf "$w/root/boot" "$w/root/init" "$w/root/usr/sbin/kexec"
	cp "$HERE/live/init-live.sh" "$w/root/init"
	cp "$binary" "$w/root/bin/vmtaint"
	make_cpio "$w/root" "$w/live.cpio"
	truncate -s 64M "$w/disk.img"
	mkfs.ext4 -q -F -O ^has_journal -N 64 -m 0 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$w/disk.img"
	serial=$w/serial.log
	# shellcheck disable=SC2206 # the machine option is words
	local qemu=(timeout --foreground --kill-after=5 "$LIVE_TIMEOUT" "${ARCH_QEMU[$arch]}"
		-accel tcg ${ARCH_MACHINE[$arch]} -m "${ARCH_MEM[$arch]}" -nodefaults -no-user-config
		-display none -no-reboot
		-kernel "$build/first-root/boot/vmlinuz" -initrd "$w/live.cpio"
		-drive "file=$w/disk.img,if=none,id=out,format=raw,cache=unsafe"
		-device virtio-blk-pci,drive=out,serial=out
		-serial "file:$serial"
		-append "console=${ARCH_CONSOLE[$arch]} panic=1 vmtaint.scenario=$s")
	[ "${K_CPU[$r]}" = - ] || qemu+=(-cpu "${K_CPU[$r]}")
	local start
	start=$(now)
	"${qemu[@]}" >"$w/qemu.log" 2>&1 || die "$r/$s: QEMU failed ($?): $(head -c 300 "$w/qemu.log"); serial: $serial"
	grep -q VMTAINT-LIVE-DONE "$serial" || die "$r/$s: the guest did not finish: $(grep VMTAINT-FAIL "$serial" || tail -5 "$serial")"
	debugfs -R "rdump /out $w" "$w/disk.img" >"$w/debugfs.log" 2>&1 || die "$r/$s: debugfs: $(cat "$w/debugfs.log")"
	mkdir -p "$(dirname "$out")"
	mv "$w/out" "$out"
	cp "$serial" "$out/serial.log"
	rm -rf "$w"
	printf '%-26s live-%-6s %5ss  tainted=%s  report exit %s\n' "$r" "$s" "$(elapsed "$start")" \
		"$(cat "$out/truth/tainted")" "$(cat "$out/live.rc")"
}

for r in "${want[@]}"; do
	[ "${K_ARCH[$r]}" = x86_64 ] || {
		echo "$r: skipped: the static binary is x86-64 only"
		continue
	}
	build=$(build_of "$r") || die "$r: no build of the real-dump script; run testcores/make-real-cores.sh --kernel $r first"
	for s in "${LIVE_SCENARIOS[@]}"; do live_one "$r" "$s" "$build"; done
done
