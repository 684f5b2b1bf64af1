#!/usr/bin/env bash
# Makes real kdump dumps of the real Debian cloud kernel, the way users get
# them: QEMU (TCG) boots the kernel with crashkernel=, the guest loads a
# capture kernel with `kexec -p`, runs a scenario that taints the kernel,
# crashes, and the capture kernel writes /proc/vmcore with makedumpfile
# (lzo, flattened lzo, the log) and as a raw ELF copy; the host then makes
# the zlib dump from that copy (byte-identical to the capture kernel's).
#
# Output: $VMTAINT_TESTCORES_DIR (default ~/.cache/vmtaint/testcores: outside the repo, so fresh clones and CI reuse it)/
#   <scenario>/{vmcore.lzo,vmcore.zlib,vmcore.flat,vmcore.elf,vmcore-dmesg.txt,
#               truth/,manifest.json}   (mixed also: qemu.elf, qemu-kdump.flat)
#   vmlinux -> /usr/lib/debug/boot/vmlinux-$REL
# A scenario whose manifest carries the current input hash is not rebuilt.
#
# usage: make-real-cores.sh [--force] [--scenario NAME]... [--jobs N]
set -euo pipefail

REL=${VMTAINT_KERNEL_RELEASE:-6.1.0-56-cloud-amd64}
ALL_SCENARIOS=(mixed many oops clean unloaded) # longest first: better packing
GUEST_MEM_MB=512
CRASHKERNEL=160M
QEMU_TIMEOUT=${VMTAINT_QEMU_TIMEOUT:-120}
OUT_DISK_SIZE=256M # ext4: filtered dumps, log, truth (about 70 MB)
ELF_DISK_SIZE=1G   # raw: the ELF /proc/vmcore (about 0.4-0.55 GB)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT=$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")
GUEST_DIR=$SCRIPT_DIR/guest
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
OUT=${VMTAINT_TESTCORES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmtaint/testcores}
CACHE=${VMTAINT_TESTCORES_CACHE:-$OUT/.cache}
PYTHON=/usr/bin/python3

usage() {
	sed -n 's/^# usage: /usage: /p' "$SCRIPT"
	echo "env: VMTAINT_TESTCORES_DIR, VMTAINT_TESTCORES_CACHE, VMTAINT_KERNEL_RELEASE, VMTAINT_QEMU_TIMEOUT"
	echo "scenarios: ${ALL_SCENARIOS[*]}"
}

die() {
	echo "make-real-cores: $*" >&2
	exit 1
}

force=0
jobs_max=2
selected=()
while [ $# -gt 0 ]; do
	case $1 in
	--force) force=1 ;;
	--scenario)
		[ $# -ge 2 ] || die "--scenario needs a name"
		case " ${ALL_SCENARIOS[*]} " in *" $2 "*) ;; *) die "unknown scenario '$2'" ;; esac
		selected+=("$2")
		shift
		;;
	--jobs)
		[ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a positive number"
		jobs_max=$2
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	shift
done
[ ${#selected[@]} -gt 0 ] || selected=("${ALL_SCENARIOS[@]}")

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
run_start=$(now)

# --- host packages -----------------------------------------------------------

apt_updated=0
apt_update_once() {
	if [ $apt_updated = 0 ]; then
		apt-get update -qq
		apt_updated=1
	fi
}

ensure_packages() {
	local wanted=(qemu-system-x86 crash makedumpfile kexec-tools busybox-static cpio
		e2fsprogs "linux-headers-$REL" "linux-image-$REL-dbg" dwarves gcc make
		python3 coreutils)
	local missing=() p
	for p in "${wanted[@]}"; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing packages (run as root to install): ${missing[*]}"
	echo "installing: ${missing[*]}"
	apt_update_once
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# --- inputs and caching ------------------------------------------------------

# Everything that shapes a dump: this script, the guest side, the kernel.
input_hash() {
	{
		echo "kernel=$REL mem=$GUEST_MEM_MB crashkernel=$CRASHKERNEL"
		sha256sum "$SCRIPT" | cut -d' ' -f1
		(cd "$GUEST_DIR" && find . -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
			xargs -0 sha256sum)
	} | sha256sum | cut -c1-16
}

is_cached() {
	local manifest=$OUT/$1/manifest.json
	[ -f "$manifest" ] && grep -q "\"input_hash\": \"$HASH\"" "$manifest"
}

# The guest kernel and its modules come from the package, unpacked into the
# cache: nothing is installed on the host.
prepare_kernel() {
	KROOT=$CACHE/kernel-$REL/root
	KMODS=$KROOT/lib/modules/$REL
	[ -f "$CACHE/kernel-$REL/.ok" ] && return 0
	local kdir=$CACHE/kernel-$REL
	rm -rf "$kdir"
	mkdir -p "$kdir/deb"
	(cd "$kdir/deb" && apt-get download -qq -o APT::Sandbox::User=root "linux-image-$REL") ||
		(apt_update_once && cd "$kdir/deb" &&
			apt-get download -qq -o APT::Sandbox::User=root "linux-image-$REL")
	dpkg-deb -x "$kdir"/deb/linux-image-"$REL"_*.deb "$KROOT"
	[ -f "$KROOT/boot/vmlinuz-$REL" ] || die "no vmlinuz-$REL in the package"
	# The package ships no modules.dep (its postinst runs depmod).
	busybox depmod -b "$KROOT" "$REL"
	touch "$kdir/.ok"
}

# Prints the module files (relative to $KMODS) that the named modules need,
# themselves included. Names match with '-' and '_' alike, as modprobe does.
module_closure() {
	awk -v want="$*" '
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) { k = w[i]; gsub("-", "_", k); need[k] = 1 } }
		{
			path = $1; sub(":$", "", path)
			base = path; sub(".*/", "", base); sub("\\.ko$", "", base); gsub("-", "_", base)
			if (base in need) { found[base] = 1; print path; for (i = 2; i <= NF; i++) print $i }
		}
		END { for (k in need) if (!(k in found)) { print "no such module: " k > "/dev/stderr"; bad = 1 }; exit bad }
	' "$KMODS/modules.dep" | LC_ALL=C sort -u
}

# Copies stock modules (with dependencies) into an initramfs tree and writes
# a modules.dep for that subset, so the guest can use plain modprobe.
install_modules() {
	local root=$1 rel_path
	shift
	mkdir -p "$root/lib/modules/$REL"
	for rel_path in $(module_closure "$@"); do
		mkdir -p "$root/lib/modules/$REL/$(dirname "$rel_path")"
		cp "$KMODS/$rel_path" "$root/lib/modules/$REL/$rel_path"
	done
	busybox depmod -b "$root" "$REL"
}

# Copies a dynamic executable with the libraries and loader ldd names.
install_program() {
	local root=$1 program=$2 lib
	mkdir -p "$root$(dirname "$program")"
	cp "$program" "$root$program"
	for lib in $(ldd "$program" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

base_tree() {
	local root=$1
	mkdir -p "$root"/{bin,dev,proc,sys,mnt,tmp,etc}
	cp /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
}

make_cpio() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) >"$2"
}

VIRTIO_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"

# Builds the test modules and both initramfs images once per input hash.
prepare_build() {
	BUILD=$CACHE/build-$HASH
	[ -f "$BUILD/.ok" ] && return 0
	rm -rf "$CACHE"/build-*
	mkdir -p "$BUILD/modules"
	cp "$GUEST_DIR"/modules/* "$BUILD/modules/"
	make -s -C "/lib/modules/$REL/build" M="$BUILD/modules" -j"$(nproc)" modules \
		>"$BUILD/modules.log" 2>&1 || { cat "$BUILD/modules.log" >&2; die "module build failed"; }

	local cap=$BUILD/capture-root first=$BUILD/first-root
	base_tree "$cap"
	install_program "$cap" /usr/bin/makedumpfile
	install_modules "$cap" $VIRTIO_MODULES
	cp "$GUEST_DIR/init-capture.sh" "$cap/init"
	make_cpio "$cap" "$BUILD/capture.cpio"

	base_tree "$first"
	install_program "$first" /usr/sbin/kexec
	# shellcheck disable=SC2046 # the list is whitespace-separated words
	install_modules "$first" $VIRTIO_MODULES qemu_fw_cfg \
		$(grep -v '^#' "$GUEST_DIR/many-modules.txt")
	mkdir -p "$first/boot" "$first/oot" "$first/etc/vmtaint"
	cp "$KROOT/boot/vmlinuz-$REL" "$first/boot/vmlinuz"
	cp "$BUILD/capture.cpio" "$first/boot/capture.cpio"
	cp "$BUILD"/modules/*.ko "$first/oot/"
	cp "$GUEST_DIR/many-modules.txt" "$first/etc/vmtaint/"
	cp "$GUEST_DIR/init-first.sh" "$first/init"
	make_cpio "$first" "$BUILD/first.cpio"
	touch "$BUILD/.ok"
}

# --- checks ------------------------------------------------------------------

TAINT_LETTERS=PFSRMBUDAWCIOELKXTN
taint_letters() {
	local mask=$1 i out=""
	for ((i = 0; i < ${#TAINT_LETTERS}; i++)); do
		((mask >> i & 1)) && out+=${TAINT_LETTERS:i:1}
	done
	echo "${out:--}"
}

# tainted_mask the first kernel must report just before the crash.
expected_taint() {
	case $1 in
	clean) echo 0 ;;
	mixed) echo $((1 << 0 | 1 << 9 | 1 << 12 | 1 << 13)) ;; # P W O E
	unloaded) echo $((1 << 0 | 1 << 12 | 1 << 13)) ;;       # P O E
	oops | many) echo $((1 << 12 | 1 << 13)) ;;             # O E (oops: before the oops)
	esac
}

magic_of() { od -An -tx1 -N"$2" "$1" | tr -d ' \n'; }

check_magic() {
	local file=$1 want=$2
	[ -s "$file" ] || die "missing or empty: $file"
	[ "$(magic_of "$file" $((${#want} / 2)))" = "$want" ] || die "bad magic in $file"
}

MAGIC_KDUMP=4b44554d50202020   # "KDUMP   "
MAGIC_FLAT=6d616b6564756d7066696c65 # "makedumpfile"
MAGIC_ELF=7f454c46           # "\x7fELF"

# An ELF core whose program headers account for the whole file was copied
# completely (the last PT_LOAD of /proc/vmcore ends at its end).
elf_covers_file() {
	"$PYTHON" - "$1" <<'PY'
import os, struct, sys
path = sys.argv[1]
size = os.path.getsize(path)
with open(path, "rb") as f:
    ehdr = f.read(64)
    if len(ehdr) < 64 or ehdr[:4] != b"\x7fELF" or ehdr[4] != 2:
        sys.exit("not an ELF64 file")
    e_type, = struct.unpack_from("<H", ehdr, 16)
    e_phoff, = struct.unpack_from("<Q", ehdr, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", ehdr, 54)
    if e_type != 4 or e_phentsize != 56 or not 0 < e_phnum < 65535:
        sys.exit("not an ELF core")
    f.seek(e_phoff)
    table = f.read(e_phentsize * e_phnum)
end = 0
for i in range(e_phnum):
    _, _, p_offset, _, _, p_filesz, _, _ = struct.unpack_from("<IIQQQQQQ", table, i * 56)
    end = max(end, p_offset + p_filesz)
sys.exit(0 if end == size else f"segments end at {end}, file has {size} bytes")
PY
}

verify_outputs() {
	local s=$1 d=$2 t want
	check_magic "$d/vmcore.lzo" $MAGIC_KDUMP
	check_magic "$d/vmcore.zlib" $MAGIC_KDUMP
	check_magic "$d/vmcore.flat" $MAGIC_FLAT
	check_magic "$d/vmcore.elf" $MAGIC_ELF
	elf_covers_file "$d/vmcore.elf" || die "$s: vmcore.elf: segments do not end at the file's end"
	[ -s "$d/vmcore-dmesg.txt" ] || die "$s: empty vmcore-dmesg.txt"
	for t in tainted modules module_taints.txt dmesg.txt uname.txt; do
		[ -f "$d/truth/$t" ] || die "$s: missing truth/$t"
	done
	[ "$(cat "$d/truth/uname.txt")" = "$REL" ] || die "$s: guest ran $(cat "$d/truth/uname.txt")"
	want=$(expected_taint "$s")
	[ "$(cat "$d/truth/tainted")" = "$want" ] ||
		die "$s: guest tainted=$(cat "$d/truth/tainted"), expected $want"
	case $s in
	oops)
		grep -q 'BUG: kernel NULL pointer dereference' "$d/vmcore-dmesg.txt" || die "$s: no oops in the dump's log"
		grep -q 'oot_oops_poke' "$d/vmcore-dmesg.txt" || die "$s: oops not in oot_oops"
		;;
	*) grep -q 'sysrq: Trigger a crash' "$d/vmcore-dmesg.txt" || die "$s: no sysrq crash in the dump's log" ;;
	esac
	case $s in
	mixed)
		check_magic "$d/qemu.elf" $MAGIC_ELF
		check_magic "$d/qemu-kdump.flat" $MAGIC_FLAT
		grep -q '^oot_prop POE$' "$d/truth/module_taints.txt" || die "$s: oot_prop not POE"
		if grep -q '^oot_gone ' "$d/truth/modules"; then die "$s: oot_gone still loaded"; fi
		grep -q 'VMCOREINFO' "$d/qemu.elf" || die "$s: QEMU's ELF has no VMCOREINFO"
		;;
	clean)
		# Only the disk's driver stack, none of it tainted.
		[ "$(wc -l <"$d/truth/modules")" = 6 ] || die "$s: unexpected modules: $(cut -d' ' -f1 "$d/truth/modules")"
		if grep -qv ' -$' "$d/truth/module_taints.txt"; then die "$s: a module is tainted"; fi
		;;
	many)
		[ "$(wc -l <"$d/truth/modules")" -ge 57 ] || die "$s: only $(wc -l <"$d/truth/modules") modules"
		;;
	esac
	return 0
}

write_manifest() {
	local s=$1 d=$2 seconds=$3
	"$PYTHON" - "$s" "$d" "$REL" "$HASH" "$(makedumpfile -v 2>&1 | head -1)" \
		"$(qemu-system-x86_64 --version | head -1)" "$seconds" "$(expected_taint "$s")" <<'PY'
import datetime, json, os, sys
scenario, d, rel, digest, mdf, qemu, seconds, expected = sys.argv[1:]
files = []
for top, _, names in os.walk(d):
    for name in names:
        path = os.path.join(top, name)
        files.append({"path": os.path.relpath(path, d), "size": os.path.getsize(path)})
files.sort(key=lambda f: f["path"])
with open(os.path.join(d, "truth", "tainted")) as f:
    tainted = int(f.read().strip())
manifest = {
    "scenario": scenario,
    "kernel_release": rel,
    "input_hash": digest,
    "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "makedumpfile_version": mdf,
    "qemu_version": qemu,
    "build_seconds": float(seconds),
    "zlib_made_by": "host: makedumpfile -c -d 31 vmcore.elf (byte-identical to the capture kernel's)",
    "guest_tainted": tainted,
    "expected_tainted": int(expected),
    "files": files,
}
with open(os.path.join(d, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
PY
}

# --- one scenario ------------------------------------------------------------

run_scenario() {
	local s=$1 start w serial cmdline status qemu_pid
	start=$(now)
	# Stage times go to this scenario's log.
	stage() { echo "[$(elapsed "$start")s] $*"; }
	w=$CACHE/work/$s
	rm -rf "$w" "$CACHE/work/$s.ok" "${OUT:?}/$s"
	mkdir -p "$w"
	serial=$w/serial.log

	truncate -s $OUT_DISK_SIZE "$w/disk.img"
	truncate -s $ELF_DISK_SIZE "$w/elf.img"
	# No journal, few inodes, tables written now: less work for the guest.
	mkfs.ext4 -q -F -O ^has_journal -N 64 -m 0 \
		-E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$w/disk.img"

	stage "disk made; booting"
	cmdline="console=ttyS0 crashkernel=$CRASHKERNEL panic=1 vmtaint.scenario=$s"
	local qemu=(timeout --foreground --kill-after=5 "$QEMU_TIMEOUT" qemu-system-x86_64
		-accel tcg -M q35 -m $GUEST_MEM_MB -nodefaults -no-user-config
		-display none -no-reboot
		-kernel "$KROOT/boot/vmlinuz-$REL" -initrd "$BUILD/first.cpio"
		-drive "file=$w/disk.img,if=none,id=out,format=raw,cache=unsafe"
		-device virtio-blk-pci,drive=out,serial=out
		-drive "file=$w/elf.img,if=none,id=elf,format=raw,cache=unsafe"
		-device virtio-blk-pci,drive=elf,serial=elf
		-serial "file:$serial")
	if [ "$s" = mixed ]; then
		local qmp_sock=$w/qmp.sock tty_sock=$w/ttyS1.sock
		[ ${#tty_sock} -lt 100 ] || die "socket path too long: $tty_sock"
		qemu+=(-chardev "socket,id=ttyS1,path=$tty_sock,server=on,wait=off"
			-serial chardev:ttyS1
			-qmp "unix:$qmp_sock,server=on,wait=off"
			-device vmcoreinfo
			-append "$cmdline vmtaint.handshake=1")
		"${qemu[@]}" >"$w/qemu.log" 2>&1 &
		qemu_pid=$!
		if ! timeout --foreground "$QEMU_TIMEOUT" "$PYTHON" "$GUEST_DIR/qmp_dump.py" "$qmp_sock" "$tty_sock" \
			"$w/qemu.elf" "$w/qemu-kdump.flat" "$((QEMU_TIMEOUT - 10))"; then
			kill "$qemu_pid" 2>/dev/null || true
			wait "$qemu_pid" || true
			die "$s: QMP capture failed; serial log: $serial"
		fi
		status=0
		wait "$qemu_pid" || status=$?
	else
		status=0
		"${qemu[@]}" -append "$cmdline" >"$w/qemu.log" 2>&1 || status=$?
	fi
	[ $status = 0 ] || die "$s: QEMU exited with $status (124: timed out): $(head -c 500 "$w/qemu.log"); serial log: $serial"

	stage "QEMU done"
	debugfs -R "rdump /out $w" "$w/disk.img" >"$w/debugfs.log" 2>&1 ||
		die "$s: debugfs failed: $(cat "$w/debugfs.log")"
	rm -f "$w/disk.img"
	[ -f "$w/out/CAPTURE-DONE" ] || die "$s: the capture kernel did not finish; serial log: $serial"
	rm -f "$w/out/CAPTURE-DONE"
	local elf_size
	elf_size=$(cat "$w/out/vmcore.elf.size")
	[[ $elf_size =~ ^[0-9]+$ ]] && [ "$elf_size" -le "$(stat -c %s "$w/elf.img")" ] ||
		die "$s: bad ELF size '$elf_size'"
	truncate -s "$elf_size" "$w/elf.img"
	mv "$w/elf.img" "$w/out/vmcore.elf"
	rm "$w/out/vmcore.elf.size"
	# Same makedumpfile, same bytes in: this file is byte-identical to what
	# `makedumpfile -c -d 31 /proc/vmcore` writes in the capture kernel
	# (checked), at a fraction of the cost of zlib under TCG.
	TMPDIR=$w makedumpfile -c -d 31 --message-level 4 "$w/out/vmcore.elf" "$w/out/vmcore.zlib" ||
		die "$s: makedumpfile -c on the host failed"
	if [ "$s" = mixed ]; then
		mv "$w/qemu.elf" "$w/qemu-kdump.flat" "$w/out/"
	fi
	cp "$serial" "$w/out/serial.log"

	stage "outputs copied from the disk"
	verify_outputs "$s" "$w/out"
	write_manifest "$s" "$w/out" "$(elapsed "$start")"
	stage "verified"
	mv "$w/out" "$OUT/$s"
	rm -rf "$w"
	touch "$CACHE/work/$s.ok"
	local tainted
	tainted=$(cat "$OUT/$s/truth/tainted")
	printf '%-9s built  %5ss  tainted=%s (%s)\n' "$s" "$(elapsed "$start")" \
		"$tainted" "$(taint_letters "$tainted")" >&3
}

# --- main --------------------------------------------------------------------

ensure_packages
mkdir -p "$OUT" "$CACHE"
HASH=$(input_hash)

todo=()
for s in "${selected[@]}"; do
	if [ $force = 0 ] && is_cached "$s"; then
		printf '%-9s cached\n' "$s"
	else
		todo+=("$s")
	fi
done

if [ ${#todo[@]} -gt 0 ]; then
	prepare_kernel
	prepare_build
	exec 3>&1
	# Job control gives every scenario its own process group, so an
	# interrupted run can stop its QEMUs (timeout --foreground stays in it).
	set -m
	trap 'for p in $(jobs -p); do kill -- "-$p" 2>/dev/null || true; done' EXIT
	mkdir -p "$CACHE/work"
	for s in "${todo[@]}"; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
		run_scenario "$s" >"$CACHE/work/$s.log" 2>&1 &
	done
	wait || true
	trap - EXIT
	set +m
	failed=0
	for s in "${todo[@]}"; do
		if [ ! -f "$CACHE/work/$s.ok" ]; then
			printf '%-9s FAILED (log: %s)\n' "$s" "$CACHE/work/$s.log"
			tail -n 5 "$CACHE/work/$s.log" | sed 's/^/    /'
			failed=1
		fi
	done
	[ $failed = 0 ] || exit 1
fi

vmlinux=/usr/lib/debug/boot/vmlinux-$REL
[ -f "$vmlinux" ] || die "no debug vmlinux at $vmlinux"
ln -sfn "$vmlinux" "$OUT/vmlinux"
echo "all done in $(elapsed "$run_start")s: $OUT (vmlinux -> $vmlinux)"
