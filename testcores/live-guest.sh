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
#   live.stderr, live.rc, info.json, info.rc, truth/, serial.log}; and
#   live-dwarf.{json,stderr,rc} (`--vmlinux`) for the mixed scenario of
#   kernels whose kallsyms lacks data symbols (ARCH_TEXT_FIX arches: arm64)
# Scenarios: mixed (the dumps' mixed modules, one unloaded), aux (bit 16 only).
#
# usage: live-guest.sh [--kernel REL]... [--binary PATH]...
#   --binary: a static vmtaint, used for the guests of its own architecture
#     (read with `file`); default: built with scripts/build-static.sh --arch
#     for each architecture of the kernels run
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
LIVE_TIMEOUT=${VMTAINT_QEMU_TIMEOUT:-240}

# The architecture of an executable, as the ARCH table names it.
binary_arch() {
	case $(file -b "$1") in
	*x86-64*) echo x86_64 ;;
	*aarch64*) echo aarch64 ;;
	*) echo unknown ;;
	esac
}
declare -A binary_of
want=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel)
		want+=("$(resolve_kernel "$2")")
		shift
		;;
	--binary)
		[ -x "$2" ] || die "no vmtaint binary at $2"
		binary_of[$(binary_arch "$2")]=$2
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
for r in "${want[@]}"; do
	a=${K_ARCH[$r]}
	[ -n "${binary_of[$a]:-}" ] || binary_of[$a]=$("$REPO/scripts/build-static.sh" --arch "$a")
	b=${binary_of[$a]}
	[ -x "$b" ] || die "no vmtaint binary at $b"
	[ "$(binary_arch "$b")" = "$a" ] || die "$b is not an $a executable: $(file -b "$b")"
	# The proof that it is static: nothing in the guest but busybox and modules.
	if file "$b" | grep -q 'dynamically linked'; then die "$b is not static"; fi
done

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
	cp "${binary_of[$arch]}" "$w/root/bin/vmtaint"
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
	# Kernels without data symbols in kallsyms (the ARCH_TEXT_FIX arches: no
	# CONFIG_KALLSYMS_ALL) give a reduced live report without debuginfo: the
	# mixed guest also reports with the debug vmlinux, from a second disk.
	if [ "${ARCH_TEXT_FIX[$arch]}" = 1 ] && [ "$s" = mixed ]; then
		kernel_paths "$r"
		[ -f "$VMLINUX" ] || die "$r: no debug vmlinux at $VMLINUX"
		mkdir -p "$w/debug"
		cp "$VMLINUX" "$w/debug/vmlinux"
		truncate -s $(($(stat -c %s "$VMLINUX") / 1048576 + 64))M "$w/debug.img"
		mkfs.ext4 -q -F -O ^has_journal -m 0 -d "$w/debug" "$w/debug.img"
		rm -rf "$w/debug"
		qemu+=(-drive "file=$w/debug.img,if=none,id=dbg,format=raw,readonly=on"
			-device virtio-blk-pci,drive=dbg,serial=debug)
	fi
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
	build=$(build_of "$r") || die "$r: no build of the real-dump script; run testcores/make-real-cores.sh --kernel $r first"
	for s in "${LIVE_SCENARIOS[@]}"; do live_one "$r" "$s" "$build"; done
done
