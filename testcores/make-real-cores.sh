#!/usr/bin/env bash
# Makes real kdump dumps of real Debian cloud kernels, the way users get
# them: QEMU (TCG) boots the kernel with crashkernel=, the guest loads a
# capture kernel with `kexec -p`, runs a scenario that taints the kernel,
# crashes, and the capture kernel writes /proc/vmcore with makedumpfile
# (lzo, flattened lzo, the log) and as a raw ELF copy; the host then makes
# the zlib dump from that copy (byte-identical to the capture kernel's) and
# stores what the peers (drgn, crash) read from each dump beside it.
#
# Every kernel line is one row of the KERNELS table below; the machine stays
# a bookworm machine: other suites' packages are fetched with a private apt
# configuration and unpacked into the cache, never installed.
#
# Output: $VMTAINT_TESTCORES_DIR (default ~/.cache/vmtaint/testcores: outside the repo, so fresh clones and CI reuse it)/
#   <release>/vmlinux -> the kernel's debug vmlinux (installed for the host's
#                        6.1, unpacked in the cache for the others)
#   <release>/<scenario>/{vmcore.lzo,vmcore.zlib,vmcore.flat,vmcore.elf,
#               vmcore-dmesg.txt,truth/,oracle/,manifest.json}
#               (mixed also: qemu.elf, qemu-kdump.flat; x86-64 also
#                vmcore.zstd, written on the host by sid's makedumpfile;
#                no snappy dump: every Debian makedumpfile is built without
#                snappy and this registry serves no makedumpfile source);
#                wrapped also: kern.log, the guest's continuous log copy)
#   .cache/     downloads, unpacked kernels, tools, module builds, work dirs
# A scenario whose manifest carries the current input hash is not rebuilt.
#
# usage: make-real-cores.sh [--force] [--kernel REL]... [--scenario NAME]... [--jobs N] [--prepare]
#   --prepare: fetch, unpack and build for the kernels (no guests)
set -euo pipefail

# --- the kernel lines ----------------------------------------------------------
# One row per kernel:
#   release   `uname -r` of the guest (pinned: the dumps are cached by it)
#   arch      a row of the ARCH table below
#   suite     Debian suite serving its packages ("host": installed from the
#             machine's own bookworm sources; else fetched into the cache;
#             other arches always through their own private apt config)
#   cpu       QEMU -cpu model ("-": QEMU's default)
#   mdf       makedumpfile the capture kernel runs: "bookworm" (the host's
#             1.7.2, or bookworm's package of the guest's arch) or "sid"
#             (built from Debian sid's source package)
#   crash     "8" when Debian bookworm's crash 8.0.2 reads the dumps, "-" not
#   quirks    comma-separated module-build quirks ("-": none):
#             cc-align      kbuild passes -fmin-function-alignment=N (gcc 13+);
#                           gcc 12 gets the equivalent -falign-functions=N
#             kbuild-glibc  the kbuild host tools need a newer glibc than the
#                           machine's: run them with their suite's libc
#             no-btf        skip module BTF (pahole differs from the kernel's)
# 5.10: -43 is the newest 5.10.0-NN whose image, headers and -dbg all
# download (the -dbg of -44..-46 is gone from bullseye-security).
KERNELS=(
	# release                 arch   suite              cpu          mdf      crash quirks
	"5.10.0-43-cloud-amd64     x86_64 bullseye-security  -            bookworm 8     no-btf"
	"6.1.0-56-cloud-amd64      x86_64 host               -            bookworm 8     -"
	"6.12.95+deb12-cloud-amd64 x86_64 bookworm-backports qemu64,-cx16 sid      -     no-btf"
	"7.2.13+deb14-cloud-amd64  x86_64 sid                qemu64,-cx16 sid      -     cc-align,kbuild-glibc,no-btf"
	"6.1.0-56-cloud-arm64      aarch64 bookworm-security max,pauth-impdef=on bookworm - -"
)
# The kernel the host-installed packages belong to (6.1: real::vmlinux()).
HOST_KERNEL=6.1.0-56-cloud-amd64

# --- architectures --------------------------------------------------------------
# Everything arch-specific: how QEMU runs the guest, the console, the capture
# kernel's command line, how out-of-tree modules are compiled.
#   ARCH_MEM/ARCH_CRASHKERNEL  guest RAM (MiB) and its crashkernel= reservation
#   ARCH_QMP     1: the mixed scenario also takes QEMU's own dumps over QMP
#                (the guest's handshake needs a second serial port, which
#                arm64's virt machine lacks)
#   ARCH_TEXT_FIX  1: the kernel's kallsyms lacks `_text` (no
#                CONFIG_KALLSYMS_ALL) and kexec-tools 2.0.25 then writes
#                page_offset 0 into the vmcore ELF header: the first kernel
#                shows kexec a kallsyms with `_text` added
#   ARCH_HOST_ZLIB  1: the host's makedumpfile makes vmcore.zlib from the
#                raw ELF; 0: the capture kernel writes it (the host's
#                makedumpfile reads only its own arch's dumps)
declare -A ARCH_QEMU ARCH_QEMU_PKG ARCH_MACHINE ARCH_CONSOLE ARCH_KARCH ARCH_CROSS ARCH_DEBARCH
#   ARCH_HOST_ZSTD  1: the host's sid makedumpfile (lzo, zstd; Debian builds
#                it without snappy) makes vmcore.zstd from the raw ELF
declare -A ARCH_MEM ARCH_CRASHKERNEL ARCH_ELF_DISK ARCH_QMP ARCH_TEXT_FIX ARCH_HOST_ZLIB ARCH_HOST_PKGS
declare -A ARCH_HOST_ZSTD
ARCH_QEMU[x86_64]=qemu-system-x86_64
ARCH_QEMU_PKG[x86_64]=qemu-system-x86
ARCH_MACHINE[x86_64]="-M q35"
ARCH_CONSOLE[x86_64]=ttyS0
ARCH_KARCH[x86_64]=x86
ARCH_CROSS[x86_64]="" # native
ARCH_DEBARCH[x86_64]=amd64
ARCH_MEM[x86_64]=512
ARCH_CRASHKERNEL[x86_64]=160M
ARCH_ELF_DISK[x86_64]=1G # raw: the ELF /proc/vmcore (about 0.4-0.55 GB)
ARCH_QMP[x86_64]=1
ARCH_TEXT_FIX[x86_64]=0
ARCH_HOST_ZLIB[x86_64]=1
ARCH_HOST_ZSTD[x86_64]=1
ARCH_HOST_PKGS[x86_64]=""
# arm64: guest tools (busybox, kexec, makedumpfile with their libraries) come
# from Debian's arm64 packages, unpacked; modules are cross-compiled.
ARCH_QEMU[aarch64]=qemu-system-aarch64
ARCH_QEMU_PKG[aarch64]=qemu-system-arm
ARCH_MACHINE[aarch64]="-M virt"
ARCH_CONSOLE[aarch64]=ttyAMA0
ARCH_KARCH[aarch64]=arm64
ARCH_CROSS[aarch64]=aarch64-linux-gnu-
ARCH_DEBARCH[aarch64]=arm64
ARCH_MEM[aarch64]=1024
ARCH_CRASHKERNEL[aarch64]=256M
ARCH_ELF_DISK[aarch64]=1536M # about 0.85 GB
ARCH_QMP[aarch64]=0
ARCH_TEXT_FIX[aarch64]=1
ARCH_HOST_ZLIB[aarch64]=0
ARCH_HOST_ZSTD[aarch64]=0
ARCH_HOST_PKGS[aarch64]=gcc-aarch64-linux-gnu

ALL_SCENARIOS=(mixed wrapped many loadfail initfree oops coreoops clean unloaded) # longest first: better packing
# Under TCG on a busy host the kernel's IO-APIC timer check can time out
# ("IO-APIC + timer doesn't work!" panics the capture kernel): skip it, as
# virtual machines commonly do.
TIMER_ARGS=no_timer_check
# A guest takes 15-80 s on an idle machine; several times that when builds
# share the CPU.
QEMU_TIMEOUT=${VMTAINT_QEMU_TIMEOUT:-400}
OUT_DISK_SIZE=256M # ext4: filtered dumps, log, truth (about 70 MB)
DRGN_VERSION=0.3.0

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT=$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")
GUEST_DIR=$SCRIPT_DIR/guest
ORACLE_DIR=$SCRIPT_DIR/oracle
OUT=${VMTAINT_TESTCORES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmtaint/testcores}
CACHE=${VMTAINT_TESTCORES_CACHE:-$OUT/.cache}
PYTHON=/usr/bin/python3

usage() {
	sed -n 's/^# usage: /usage: /p' "$SCRIPT"
	echo "env: VMTAINT_TESTCORES_DIR, VMTAINT_TESTCORES_CACHE, VMTAINT_QEMU_TIMEOUT"
	echo "kernels: $(for r in "${KERNELS[@]}"; do printf '%s ' "${r%% *}"; done)"
	echo "         (--kernel also takes a unique prefix: 5.10, 6.1.0, 6.12, 7.2)"
	echo "scenarios: ${ALL_SCENARIOS[*]}"
}

die() {
	echo "make-real-cores: $*" >&2
	exit 1
}

# Fields of a kernel's row.
declare -A K_ARCH K_SUITE K_CPU K_MDF K_CRASH K_QUIRKS
ALL_KERNELS=()
for row in "${KERNELS[@]}"; do
	read -r rel arch suite cpu mdf crash quirks <<<"$row"
	[ -n "${ARCH_QEMU[$arch]:-}" ] || die "kernel $rel: no ARCH entry for '$arch'"
	ALL_KERNELS+=("$rel")
	K_ARCH[$rel]=$arch K_SUITE[$rel]=$suite K_CPU[$rel]=$cpu K_MDF[$rel]=$mdf
	K_CRASH[$rel]=$crash K_QUIRKS[$rel]=$quirks
done
has_quirk() { case ",${K_QUIRKS[$1]}," in *",$2,"*) return 0 ;; *) return 1 ;; esac }

# An exact release, or a prefix naming exactly one.
resolve_kernel() {
	local want=$1 r found=()
	for r in "${ALL_KERNELS[@]}"; do
		[ "$r" = "$want" ] && {
			echo "$r"
			return
		}
		case $r in "$want"*) found+=("$r") ;; esac
	done
	[ ${#found[@]} = 1 ] || die "--kernel '$want' matches ${#found[@]} kernels (${found[*]:-none}); known: ${ALL_KERNELS[*]}"
	echo "${found[0]}"
}

force=0
prepare_only=0
jobs_max=2
selected=()
kernels=()
while [ $# -gt 0 ]; do
	case $1 in
	--force) force=1 ;;
	--prepare) prepare_only=1 ;;
	--scenario)
		[ $# -ge 2 ] || die "--scenario needs a name"
		case " ${ALL_SCENARIOS[*]} " in *" $2 "*) ;; *) die "unknown scenario '$2'" ;; esac
		selected+=("$2")
		shift
		;;
	--kernel)
		[ $# -ge 2 ] || die "--kernel needs a release"
		kernels+=("$(resolve_kernel "$2")")
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
[ ${#kernels[@]} -gt 0 ] || kernels=("${ALL_KERNELS[@]}")

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
run_start=$(now)
log() { echo "[$(elapsed "$run_start")s] $*"; }

# --- host packages -----------------------------------------------------------

apt_updated=0
apt_update_once() {
	if [ $apt_updated = 0 ]; then
		apt-get update -qq
		apt_updated=1
	fi
}

ensure_packages() {
	local wanted=(crash makedumpfile kexec-tools busybox-static cpio
		e2fsprogs dwarves gcc make python3 python3-venv coreutils xz-utils zstd openssl
		"linux-headers-$HOST_KERNEL" "linux-image-$HOST_KERNEL-dbg")
	local missing=() p k
	for k in "${kernels[@]}"; do
		# shellcheck disable=SC2206 # package names are words
		wanted+=("${ARCH_QEMU_PKG[${K_ARCH[$k]}]}" ${ARCH_HOST_PKGS[${K_ARCH[$k]}]})
	done
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

# --- other suites: a private apt configuration ---------------------------------
# Its own sources, lists, cache and (empty) status: the machine's apt setup
# and installed packages are untouched; packages are only downloaded.

PAPT=$CACHE/apt
private_apt_setup() {
	local stamp=$PAPT/lists/.updated
	mkdir -p "$PAPT/etc/sources.list.d" "$PAPT/etc/preferences.d" "$PAPT/lists/partial" \
		"$PAPT/cache/archives/partial" "$PAPT/state"
	local key=/usr/share/keyrings/debian-archive-keyring.gpg
	cat >"$PAPT/etc/sources.list.new" <<EOF
deb [signed-by=$key] http://deb.debian.org/debian bullseye main
deb [signed-by=$key] http://deb.debian.org/debian-security bullseye-security main
deb [signed-by=$key] http://deb.debian.org/debian bookworm-backports main
deb [signed-by=$key] http://deb.debian.org/debian sid main
deb-src [signed-by=$key] http://deb.debian.org/debian sid main
EOF
	if ! cmp -s "$PAPT/etc/sources.list.new" "$PAPT/etc/sources.list"; then
		mv "$PAPT/etc/sources.list.new" "$PAPT/etc/sources.list"
		rm -f "$stamp"
	fi
	rm -f "$PAPT/etc/sources.list.new"
	touch "$PAPT/state/status"
	cat >"$PAPT/apt.conf" <<EOF
Dir::Etc::sourcelist "$PAPT/etc/sources.list";
Dir::Etc::sourceparts "$PAPT/etc/sources.list.d";
Dir::Etc::preferences "$PAPT/etc/preferences";
Dir::Etc::preferencesparts "$PAPT/etc/preferences.d";
Dir::State::lists "$PAPT/lists";
Dir::State::status "$PAPT/state/status";
Dir::Cache "$PAPT/cache";
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
	# Lists older than a day are refreshed (the pinned kernels stay put;
	# only where they are served may move).
	if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
		APT_CONFIG=$PAPT/apt.conf apt-get update -qq || die "private apt update failed"
		touch "$stamp"
	fi
}
papt() { APT_CONFIG=${PAPT_CONF:-$PAPT/apt.conf} "$@"; }

# Other arches' packages: a private apt configuration of that arch (bookworm
# and its security suite), used by setting PAPT_CONF=$(arch_apt_setup ARCH).
arch_apt_setup() {
	local arch=$1 debarch=${ARCH_DEBARCH[$1]} a stamp
	a=$CACHE/apt-$debarch
	stamp=$a/lists/.updated
	mkdir -p "$a/etc/sources.list.d" "$a/etc/preferences.d" "$a/lists/partial" \
		"$a/cache/archives/partial" "$a/state"
	local key=/usr/share/keyrings/debian-archive-keyring.gpg
	cat >"$a/etc/sources.list" <<EOF
deb [signed-by=$key] http://deb.debian.org/debian bookworm main
deb [signed-by=$key] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=$key] http://deb.debian.org/debian-security bookworm-security main
EOF
	touch "$a/state/status"
	cat >"$a/apt.conf" <<EOF
APT::Architecture "$debarch";
APT::Architectures { "$debarch"; };
Dir::Etc::sourcelist "$a/etc/sources.list";
Dir::Etc::sourceparts "$a/etc/sources.list.d";
Dir::Etc::preferences "$a/etc/preferences";
Dir::Etc::preferencesparts "$a/etc/preferences.d";
Dir::State::lists "$a/lists";
Dir::State::status "$a/state/status";
Dir::Cache "$a/cache";
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
	if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
		APT_CONFIG=$a/apt.conf apt-get update -qq >&2 || die "$arch apt update failed"
		touch "$stamp"
	fi
	echo "$a/apt.conf"
}
is_cross() { [ -n "${ARCH_CROSS[${K_ARCH[$1]}]}" ]; }

# Downloads packages into the current directory (names must resolve exactly).
papt_download() {
	local p
	for p in "$@"; do
		papt apt-get download -qq "$p" || die "cannot download $p (private apt: $PAPT)"
	done
}

# Direct dependencies of a package whose names match a pattern.
papt_deps_matching() {
	papt apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "$1" | sed -n 's/^ *Depends: //p' | tr -d '<>' | grep -E "$2" | sort -u || true
}

# --- kernels: packages, unpacked --------------------------------------------------
# For a kernel R, KDIR=$CACHE/kernels/R holds root/ (image, modules, headers,
# kbuild unpacked) and dbg/ (only the debug vmlinux of the -dbg package).

kdir() { echo "$CACHE/kernels/$1"; }

# The boot image, the modules tree and the headers directory of a kernel.
kernel_paths() {
	local r=$1 root
	if [ "${K_SUITE[$r]}" = host ]; then
		root=$CACHE/kernels/$r/root
		KMODS=$root/lib/modules/$r
		KHEADERS=/usr/src/linux-headers-$r
		VMLINUX=/usr/lib/debug/boot/vmlinux-$r
	else
		root=$(kdir "$r")/root
		KMODS=$root/lib/modules/$r
		KHEADERS=$root/usr/src/linux-headers-$r
		VMLINUX=$(kdir "$r")/dbg/usr/lib/debug/boot/vmlinux-$r
	fi
	# 7.x ships vmlinuz beside its modules; older images under /boot.
	if [ -f "$root/boot/vmlinuz-$r" ]; then KIMAGE=$root/boot/vmlinuz-$r; else KIMAGE=$KMODS/vmlinuz; fi
}

prepare_kernel() {
	local r=$1 d start
	d=$(kdir "$r")
	[ -f "$d/.ok" ] && return 0
	start=$(now)
	rm -rf "$d"
	mkdir -p "$d/deb" "$d/dbgdeb"
	if [ "${K_SUITE[$r]}" = host ]; then
		# Installed on the host: headers and -dbg (ensure_packages); only the
		# image is unpacked (the host runs another kernel).
		(cd "$d/deb" && apt-get download -qq -o APT::Sandbox::User=root "linux-image-$r") ||
			(apt_update_once && cd "$d/deb" &&
				apt-get download -qq -o APT::Sandbox::User=root "linux-image-$r")
	elif is_cross "$r"; then
		# Image, headers (with their arch-independent common part) and -dbg of
		# the guest's arch; the kbuild tools are the host's own (same 6.1
		# source, installed with the host kernel's headers).
		local PAPT_CONF
		PAPT_CONF=$(arch_apt_setup "${K_ARCH[$r]}")
		local headers=(linux-headers-"$r")
		# shellcheck disable=SC2207
		headers+=($(papt_deps_matching "linux-headers-$r" '^linux-headers-.*-common'))
		(cd "$d/deb" && papt_download "linux-image-$r" "${headers[@]}")
		(cd "$d/dbgdeb" && papt_download "linux-image-$r-dbg")
	else
		private_apt_setup
		# 7.x splits the image into linux-binary-R and linux-modules-R.
		local image=(linux-image-"$r") headers=(linux-headers-"$r") split
		split=$(papt_deps_matching "linux-image-$r" "^linux-(binary|modules)-")
		# shellcheck disable=SC2206 # one package name per word
		[ -z "$split" ] || image=($split)
		# shellcheck disable=SC2207
		headers+=($(papt_deps_matching "linux-headers-$r" '^linux-(headers-.*-common|kbuild-)'))
		(cd "$d/deb" && papt_download "${image[@]}" "${headers[@]}")
		(cd "$d/dbgdeb" && papt_download "linux-image-$r-dbg")
	fi
	log "$r: downloaded ($(du -sh "$d" | cut -f1)) in $(elapsed "$start")s"
	local deb
	for deb in "$d"/deb/*.deb; do dpkg-deb -x "$deb" "$d/root"; done
	# 7.x packages ship under /usr only: give the tree a merged-/usr /lib.
	[ -e "$d/root/lib" ] || ln -s usr/lib "$d/root/lib"
	if is_cross "$r"; then
		local kb
		kb=$(basename "$(dirname "$(readlink "$d/root/usr/src/linux-headers-$r/scripts")")")
		[ -d "/usr/lib/$kb" ] || die "$r: the host has no /usr/lib/$kb (from linux-headers-$HOST_KERNEL)"
		ln -sfn "/usr/lib/$kb" "$d/root/usr/lib/$kb"
	fi
	if [ "${K_SUITE[$r]}" != host ]; then
		# Only the vmlinux: the package also carries every module's debug
		# info. (7.x: boot/vmlinux-R links to lib/modules/R/vmlinux.)
		mkdir -p "$d/dbg"
		dpkg-deb --fsys-tarfile "$d"/dbgdeb/*.deb |
			tar -x -C "$d/dbg" --wildcards --exclude='*.ko' './usr/lib/debug/*vmlinux*' ||
			die "$r: cannot unpack the debug vmlinux"
	fi
	rm -rf "$d/deb" "$d/dbgdeb"
	kernel_paths "$r"
	[ -f "$KIMAGE" ] || die "$r: no vmlinuz in the packages"
	[ -f "$VMLINUX" ] || die "$r: no debug vmlinux at $VMLINUX"
	[ -d "$KHEADERS" ] || die "$r: no headers at $KHEADERS"
	# The headers' Makefile names its common part (and 7.x its output
	# directory) by absolute /usr/src paths: point them into the cache.
	[ "${K_SUITE[$r]}" = host ] || sed -i "s|/usr/src/|$d/root/usr/src/|g" "$KHEADERS/Makefile"
	# The packages ship no modules.dep (their postinst runs depmod).
	busybox depmod -b "$d/root" "$r"
	has_quirk "$r" kbuild-glibc && shim_kbuild_glibc "$r"
	log "$r: unpacked in $(elapsed "$start")s"
	touch "$d/.ok"
}

# A sysroot of another suite's packages: PKG... and the libraries they link,
# recursively (only lib* packages: no perl, no shells), unpacked into DIR.
# Its programs run with its own loader (sysroot_exec), never the host's.
sysroot_setup() {
	local dir=$1 p dep
	shift
	[ -f "$dir/.ok" ] && return 0
	rm -rf "$dir"
	mkdir -p "$dir/deb"
	local -A seen=()
	local queue=("$@")
	while [ ${#queue[@]} -gt 0 ]; do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		[ -z "${seen[$p]:-}" ] || continue
		seen[$p]=1
		for dep in $(papt_deps_matching "$p" '^(lib|zlib)' | grep -vE -- '-dev$|^libc-'); do
			[ -n "${seen[$dep]:-}" ] || queue+=("$dep")
		done
	done
	(cd "$dir/deb" && papt_download "${!seen[@]}")
	for p in "$dir"/deb/*.deb; do dpkg-deb -x "$p" "$dir"; done
	rm -rf "$dir/deb"
	[ -n "$(sysroot_loader "$dir")" ] || die "no loader in the sysroot $dir"
	touch "$dir/.ok"
}
sysroot_loader() {
	local l
	for l in "$1/usr/lib64/ld-linux-x86-64.so.2" "$1/lib64/ld-linux-x86-64.so.2"; do
		[ -e "$l" ] && echo "$l" && return 0
	done
	return 0
}
sysroot_libpath() { echo "$1/usr/lib/x86_64-linux-gnu:$1/lib/x86_64-linux-gnu"; }

# Writes OUT, a script that runs the sysroot's program BIN with its loader.
sysroot_wrapper() {
	local dir=$1 bin=$2 out=$3
	printf '#!/bin/sh\nexec %s --library-path %s --argv0 "$0" %s "$@"\n' \
		"$(sysroot_loader "$dir")" "$(sysroot_libpath "$dir")" "$bin" >"$out"
	chmod +x "$out"
}

# Copies a sysroot's dynamic program into an initramfs tree with the
# libraries its loader resolves and the loader itself, at the standard paths.
install_sysroot_program() {
	local root=$1 dir=$2 bin=$3 dest=$4 loader lib
	loader=$(sysroot_loader "$dir")
	mkdir -p "$root$(dirname "$dest")" "$root/lib64" "$root/lib/x86_64-linux-gnu"
	cp "$bin" "$root$dest"
	cp -L "$loader" "$root/lib64/ld-linux-x86-64.so.2"
	for lib in $("$loader" --library-path "$(sysroot_libpath "$dir")" --list "$bin" |
		sed -n 's/.*=> \(\/[^ ]*\).*/\1/p'); do
		cp -L "$lib" "$root/lib/x86_64-linux-gnu/"
	done
}

# The kbuild host tools (fixdep, modpost, objtool, ...) of a newer suite link
# a newer glibc than bookworm's (sid: 2.38+, for the C23 __isoc23_strto*).
# They run with that suite's own loader and libraries: each ELF executable
# becomes a wrapper (sysroot_wrapper) around the original, kept as NAME.bin.
shim_kbuild_glibc() {
	local r=$1 d kb f
	d=$(kdir "$r")
	kb=$(find "$d/root/usr/lib" -maxdepth 1 -name 'linux-kbuild-*' | head -1)
	[ -n "$kb" ] || die "$r: no linux-kbuild directory"
	sysroot_setup "$d/sysroot" "$(basename "$kb")"
	while IFS= read -r -d '' f; do
		[ "$(magic_of "$f" 4)" = "$MAGIC_ELF" ] || continue
		mv "$f" "$f.bin"
		sysroot_wrapper "$d/sysroot" "$f.bin" "$f"
	done < <(find "$kb" -type f -perm -u+x -print0)
}

# Prints the module files (relative to $KMODS) that the named modules need,
# themselves included. Names match with '-' and '_' alike, as modprobe does.
# Unknown names are an error unless MISSING_OK=1 (then they are skipped).
module_closure() {
	awk -v want="$*" -v missing_ok="${MISSING_OK:-0}" '
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) { k = w[i]; gsub("-", "_", k); need[k] = 1 } }
		{
			path = $1; sub(":$", "", path)
			base = path; sub(".*/", "", base); sub("\\.ko(\\.[a-z]+)?$", "", base); gsub("-", "_", base)
			if (base in need) { found[base] = 1; print path; for (i = 2; i <= NF; i++) print $i }
		}
		END { if (!missing_ok) for (k in need) if (!(k in found)) { print "no such module: " k > "/dev/stderr"; bad = 1 }; exit bad }
	' "$KMODS/modules.dep" | LC_ALL=C sort -u
}

# The named modules that exist as loadable files of this kernel.
existing_modules() {
	local m
	for m in "$@"; do
		MISSING_OK=1 module_closure "$m" | grep -q . && echo "$m"
	done
	return 0
}

# Copies stock modules (with dependencies) into an initramfs tree and writes
# a modules.dep for that subset, so the guest can use plain modprobe.
install_modules() {
	local root=$1 rel=$2 rel_path
	shift 2
	mkdir -p "$root/lib/modules/$rel"
	# Compressed modules (6.12+: .ko.xz) are stored plain: busybox's
	# modprobe loads only plain ones.
	local src dest
	for rel_path in $(module_closure "$@"); do
		src=$KMODS/$rel_path dest=$root/lib/modules/$rel/${rel_path%.ko*}.ko
		mkdir -p "$(dirname "$dest")"
		case $rel_path in
		*.ko) cp "$src" "$dest" ;;
		*.ko.xz) xz -dc "$src" >"$dest" ;;
		*.ko.zst) zstd -qdc "$src" >"$dest" ;;
		*.ko.gz) gzip -dc "$src" >"$dest" ;;
		*) die "unknown module file $rel_path" ;;
		esac
	done
	busybox depmod -b "$root" "$rel"
}

# Copies a dynamic executable with the libraries and loader ldd names.
install_program() {
	local root=$1 program=$2 dest=${3:-$2} lib
	mkdir -p "$root$(dirname "$dest")"
	cp "$program" "$root$dest"
	for lib in $(ldd "$program" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

base_tree() {
	local root=$1 busybox=${2:-/bin/busybox}
	mkdir -p "$root"/{bin,dev,proc,sys,mnt,tmp,etc/vmtaint}
	cp "$busybox" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
}

# Another arch's guest tools: busybox-static, kexec-tools and makedumpfile
# of Debian's packages for that arch with the libraries they depend on
# (recursively, lib* only), unpacked into $CACHE/tools-DEBARCH (CROSS_ROOT).
prepare_cross_tools() {
	local arch=$1 d p dep PAPT_CONF
	d=$CACHE/tools-${ARCH_DEBARCH[$arch]}
	CROSS_ROOT=$d
	[ -f "$d/.ok" ] && return 0
	PAPT_CONF=$(arch_apt_setup "$arch")
	rm -rf "$d"
	mkdir -p "$d/deb"
	local -A seen=()
	local queue=(busybox-static kexec-tools makedumpfile)
	while [ ${#queue[@]} -gt 0 ]; do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		[ -z "${seen[$p]:-}" ] || continue
		seen[$p]=1
		for dep in $(papt_deps_matching "$p" '^(lib|zlib)' | grep -vE -- '-dev$|^libc-'); do
			[ -n "${seen[$dep]:-}" ] || queue+=("$dep")
		done
	done
	(cd "$d/deb" && papt_download "${!seen[@]}")
	for p in "$d"/deb/*.deb; do dpkg-deb -x "$p" "$d"; done
	dpkg-deb -f "$d"/deb/makedumpfile_*.deb Version >"$d/makedumpfile.version"
	rm -rf "$d/deb"
	[ -x "$d/bin/busybox" ] && [ -x "$d/sbin/kexec" ] && [ -x "$d/usr/bin/makedumpfile" ] ||
		die "$arch tools incomplete in $d"
	touch "$d/.ok"
}

# Copies another arch's dynamic program from the tools tree into an
# initramfs tree with the libraries it needs (DT_NEEDED, recursively, found
# by readelf: the host cannot run that arch's loader) and its loader.
install_cross_program() {
	local root=$1 tools=$2 bin=$3 dest=$4 interp lib f
	mkdir -p "$root$(dirname "$dest")"
	cp "$tools$bin" "$root$dest"
	interp=$(readelf -lW "$tools$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	[ -n "$interp" ] || die "$bin has no program interpreter"
	mkdir -p "$root$(dirname "$interp")"
	cp -L "$tools$interp" "$root$interp"
	local -A done_libs=()
	local queue=("$tools$bin")
	while [ ${#queue[@]} -gt 0 ]; do
		f=${queue[0]}
		queue=("${queue[@]:1}")
		for lib in $(readelf -dW "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			[ -z "${done_libs[$lib]:-}" ] || continue
			done_libs[$lib]=1
			local found=
			for dir in lib/${ARCH_DEBARCH_TRIPLET} usr/lib/${ARCH_DEBARCH_TRIPLET}; do
				if [ -e "$tools/$dir/$lib" ]; then
					mkdir -p "$root/$dir"
					cp -L "$tools/$dir/$lib" "$root/$dir/$lib"
					queue+=("$tools/$dir/$lib")
					found=1
					break
				fi
			done
			[ -n "$found" ] || die "$bin needs $lib, which is not in $tools"
		done
	done
}

make_cpio() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) >"$2"
}

# The disk's driver stack: whichever of these the kernel has as modules
# (5.10 predates the virtio_pci_*_dev split).
VIRTIO_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"

# --- tools ---------------------------------------------------------------------

# The makedumpfile a kernel's capture kernel (and the host's zlib pass) runs.
makedumpfile_for() {
	case ${K_MDF[$1]} in
	bookworm) echo /usr/bin/makedumpfile ;;
	sid) echo "$MDF_SID" ;;
	*) die "$1: unknown makedumpfile '${K_MDF[$1]}'" ;;
	esac
}

# makedumpfile from Debian sid, with the libraries it links (sysroot_setup):
# on the host through a wrapper, in the capture initramfs at the standard
# paths. (sid's source package does not download from this registry.)
# Pinned like the kernels (a cached run needs no network); sid keeps only its
# newest version, so this moves when sid's does.
MDF_SID_VERSION=1:1.7.8-1
MDF_SID=
prepare_makedumpfile_sid() {
	local version=$MDF_SID_VERSION d
	d=$CACHE/makedumpfile-${version#*:}
	MDF_SID=$d/makedumpfile
	MDF_SID_ROOT=$d/sysroot
	MDF_SID_BIN=$MDF_SID_ROOT/usr/bin/makedumpfile
	[ -f "$d/.ok" ] && return 0
	private_apt_setup
	rm -rf "$d"
	mkdir -p "$d"
	[ "$(papt apt-cache policy makedumpfile | sed -n 's/^ *Candidate: //p')" = "$version" ] ||
		die "sid no longer has makedumpfile $version: update MDF_SID_VERSION"
	sysroot_setup "$MDF_SID_ROOT" makedumpfile
	[ -x "$MDF_SID_BIN" ] || die "no $MDF_SID_BIN in sid's package"
	sysroot_wrapper "$MDF_SID_ROOT" "$MDF_SID_BIN" "$MDF_SID"
	"$MDF_SID" -v >/dev/null 2>&1 || die "sid's makedumpfile does not run: $("$MDF_SID" -v 2>&1 | tail -2)"
	log "makedumpfile $version ready"
	touch "$d/.ok"
}

# drgn from PyPI, pinned, in its own venv: the second reader of every dump.
DRGN_PY=$CACHE/drgn-$DRGN_VERSION/bin/python3
prepare_drgn() {
	local d=$CACHE/drgn-$DRGN_VERSION
	[ -f "$d/.ok" ] && return 0
	rm -rf "$d"
	"$PYTHON" -m venv "$d" || die "python3 -m venv failed"
	"$d/bin/pip" install -q "drgn==$DRGN_VERSION" || die "pip install drgn==$DRGN_VERSION failed"
	"$DRGN_PY" -c 'import drgn' || die "drgn does not import"
	touch "$d/.ok"
}

# --- inputs and caching ------------------------------------------------------

# Everything that shapes a kernel's dumps: this script, the guest side, the
# kernel's row, the makedumpfile it uses.
input_hash() {
	local r=$1
	{
		echo "kernel=$r ${K_ARCH[$r]} ${K_SUITE[$r]} ${K_CPU[$r]} ${K_MDF[$r]} ${K_CRASH[$r]} ${K_QUIRKS[$r]}"
		echo "mem=${ARCH_MEM[${K_ARCH[$r]}]} crashkernel=${ARCH_CRASHKERNEL[${K_ARCH[$r]}]} drgn=$DRGN_VERSION"
		[ "${K_MDF[$r]}" = bookworm ] && [ "${ARCH_HOST_ZSTD[${K_ARCH[$r]}]}" = 0 ] || echo "mdf=$MDF_SID"
		# Comments do not shape dumps.
		grep -v '^[[:space:]]*#' "$SCRIPT" | sha256sum | cut -d' ' -f1
		(cd "$SCRIPT_DIR" && find guest oracle -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
			xargs -0 sha256sum)
	} | sha256sum | cut -c1-16
}

is_cached() {
	local manifest=$OUT/$1/$2/manifest.json
	[ -f "$manifest" ] && grep -q "\"input_hash\": \"$3\"" "$manifest"
}

# A C compiler for the kernel's modules: the machine's gcc (cross gcc for
# other arches), with flags it lacks translated.
write_cc_wrapper() {
	local r=$1 out=$2 cc
	cc=${ARCH_CROSS[${K_ARCH[$r]}]}gcc
	if has_quirk "$r" cc-align; then
		cat >"$out" <<EOF
#!/bin/sh
# gcc 12 lacks -fmin-function-alignment=N (gcc 13+): -falign-functions=N aligns every function too.
for a do
	shift
	case \$a in -fmin-function-alignment=*) a=-falign-functions=\${a#*=} ;; esac
	set -- "\$@" "\$a"
done
exec $cc "\$@"
EOF
	else
		printf '#!/bin/sh\nexec %s "$@"\n' "$cc" >"$out"
	fi
	chmod +x "$out"
}

# Signs DIR/oot_signed.ko with a key made here (openssl), which no kernel
# trusts, using the headers' scripts/sign-file (KHEADERS); where that cannot
# run on this machine (5.10's links OpenSSL 1.1), the host kernel's: the
# appended signature's format is the same.
sign_untrusted() {
	local dir=$1 sign=$KHEADERS/scripts/sign-file
	openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 36500 -batch \
		-subj "/CN=vmtaint untrusted test key/" -keyout "$dir/untrusted.key" \
		-out "$dir/untrusted.crt" >"$dir/openssl.log" 2>&1 ||
		die "openssl req failed: $(tail -3 "$dir/openssl.log")"
	local usage
	usage=$("$sign" 2>&1 || true)
	case $usage in *Usage*) ;; *) sign=/usr/src/linux-headers-$HOST_KERNEL/scripts/sign-file ;; esac
	"$sign" sha256 "$dir/untrusted.key" "$dir/untrusted.crt" "$dir/oot_signed.ko" ||
		die "sign-file ($sign) failed"
	tail -c 28 "$dir/oot_signed.ko" | grep -q 'Module signature appended' || die "oot_signed.ko is not signed"
	echo "$sign" >"$dir/sign-file.used"
}

# Builds the test modules and both initramfs images once per input hash.
prepare_build() {
	local r=$1 hash=$2 build
	build=$(kdir "$r")/build-$hash
	BUILD=$build
	[ -f "$build/.ok" ] && return 0
	local start
	start=$(now)
	rm -rf "$(kdir "$r")"/build-*
	mkdir -p "$build/modules"
	kernel_paths "$r"
	cp "$GUEST_DIR"/modules/* "$build/modules/"
	write_cc_wrapper "$r" "$build/cc"
	local arch=${K_ARCH[$r]} make_args
	make_args=(-C "$KHEADERS" M="$build/modules" ARCH="${ARCH_KARCH[$arch]}" CC="$build/cc"
		HOSTCC=gcc)
	[ -z "${ARCH_CROSS[$arch]}" ] || make_args+=(CROSS_COMPILE="${ARCH_CROSS[$arch]}")
	# Module BTF needs the kernel's own pahole; the tests read no module BTF.
	has_quirk "$r" no-btf && make_args+=(CONFIG_DEBUG_INFO_BTF_MODULES=)
	make -s "${make_args[@]}" -j"$(nproc)" modules >"$build/modules.log" 2>&1 ||
		{ cat "$build/modules.log" >&2; die "$r: module build failed"; }
	log "$r: modules built in $(elapsed "$start")s"
	sign_untrusted "$build/modules"

	local virtio many mdf
	# shellcheck disable=SC2086
	virtio=$(existing_modules $VIRTIO_MODULES | tr '\n' ' ')
	# shellcheck disable=SC2046
	many=$(existing_modules $(grep -v '^#' "$GUEST_DIR/many-modules.txt") | tr '\n' ' ')
	mdf=$(makedumpfile_for "$r")

	local cap=$build/capture-root first=$build/first-root busybox=/bin/busybox
	if is_cross "$r"; then
		prepare_cross_tools "$arch"
		busybox=$CROSS_ROOT/bin/busybox
		ARCH_DEBARCH_TRIPLET=${ARCH_CROSS[$arch]%-}
	fi
	base_tree "$cap" "$busybox"
	if is_cross "$r"; then
		install_cross_program "$cap" "$CROSS_ROOT" /usr/bin/makedumpfile /usr/bin/makedumpfile
	elif [ "${K_MDF[$r]}" = sid ]; then
		install_sysroot_program "$cap" "$MDF_SID_ROOT" "$MDF_SID_BIN" /usr/bin/makedumpfile
	else
		install_program "$cap" "$mdf" /usr/bin/makedumpfile
	fi
	# shellcheck disable=SC2086
	install_modules "$cap" "$r" $virtio
	echo "$virtio" >"$cap/etc/vmtaint/virtio-modules"
	cp "$GUEST_DIR/init-capture.sh" "$cap/init"

	base_tree "$first" "$busybox"
	if is_cross "$r"; then
		install_cross_program "$first" "$CROSS_ROOT" /sbin/kexec /usr/sbin/kexec
	else
		install_program "$first" /usr/sbin/kexec
	fi
	# The host's makedumpfile reads only its own arch's dumps: the capture
	# kernel writes vmcore.zlib itself.
	[ "${ARCH_HOST_ZLIB[$arch]}" = 1 ] || touch "$cap/etc/vmtaint/zlib-in-capture"
	make_cpio "$cap" "$build/capture.cpio"
	# shellcheck disable=SC2086
	install_modules "$first" "$r" $virtio qemu_fw_cfg $many
	mkdir -p "$first/boot" "$first/oot"
	cp "$KIMAGE" "$first/boot/vmlinuz"
	cp "$build/capture.cpio" "$first/boot/capture.cpio"
	cp "$build"/modules/*.ko "$first/oot/"
	echo "$virtio" >"$first/etc/vmtaint/virtio-modules"
	echo "$many" >"$first/etc/vmtaint/many-modules"
	# How this arch's capture kernel is loaded and what it is told.
	cat >"$first/etc/vmtaint/capture.env" <<EOF
CAPTURE_KERNEL=/boot/vmlinuz
CAPTURE_APPEND="console=${ARCH_CONSOLE[$arch]} nr_cpus=1 reset_devices irqpoll panic=1 $TIMER_ARGS"
EOF
	if [ "${ARCH_TEXT_FIX[$arch]}" = 1 ]; then
		# kexec-tools takes page_offset from `_text` in /proc/kallsyms, which
		# lacks it here: show kexec a copy with `_text` = `_stext` minus their
		# distance in the vmlinux (the low 32 bits carry the subtraction: the
		# image is far from a 4 GiB boundary).
		local text stext
		text=$(nm "$VMLINUX" | awk '$3 == "_text" { print $1 }')
		stext=$(nm "$VMLINUX" | awk '$3 == "_stext" { print $1 }')
		[ -n "$text" ] && [ -n "$stext" ] || die "$r: no _text/_stext in $VMLINUX"
		cat >>"$first/etc/vmtaint/capture.env" <<EOF
stext=\$(awk '\$3 == "_stext" { print \$1; exit }' /proc/kallsyms)
[ \${#stext} = 16 ] || fail "no _stext in /proc/kallsyms"
printf '%s%08x T _text\\n' "\${stext%????????}" \$((0x\${stext#????????} - $((0x$stext - 0x$text)))) >/tmp/kallsyms
cat /proc/kallsyms >>/tmp/kallsyms
mount --bind /tmp/kallsyms /proc/kallsyms || fail "bind-mount a kallsyms with _text"
EOF
	fi
	cp "$GUEST_DIR/init-first.sh" "$first/init"
	make_cpio "$first" "$build/first.cpio"
	# What the checks expect from this build.
	# shellcheck disable=SC2086
	module_closure $virtio | wc -l >"$build/virtio-count"
	# shellcheck disable=SC2086
	module_closure $virtio $many | wc -l >"$build/many-count"
	touch "$build/.ok"
}

# --- checks ------------------------------------------------------------------

TAINT_LETTERS=PFSRMBUDAWCIOELKXTNJ
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
	oops | many | coreoops) echo $((1 << 12 | 1 << 13)) ;;  # O E (oopses: before the oops)
	# No module loads, but a failed load taints the kernel (O and E are set
	# before the symbols are resolved): at most O E (checked as a bound).
	loadfail) echo $((1 << 12 | 1 << 13)) ;;
	initfree) echo $((1 << 0 | 1 << 12 | 1 << 13)) ;;       # P O E (before the crash)
	wrapped) echo $((1 << 0 | 1 << 9 | 1 << 12 | 1 << 13)) ;; # P W O E
	esac
}

magic_of() { od -An -tx1 -N"$2" "$1" | tr -d ' \n'; }

check_magic() {
	local file=$1 want=$2
	[ -s "$file" ] || die "missing or empty: $file"
	[ "$(magic_of "$file" $((${#want} / 2)))" = "$want" ] || die "bad magic in $file"
}

MAGIC_KDUMP=4b44554d50202020        # "KDUMP   "
MAGIC_FLAT=6d616b6564756d7066696c65 # "makedumpfile"
MAGIC_ELF=7f454c46                  # "\x7fELF"

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
	local r=$1 s=$2 d=$3 t want
	check_magic "$d/vmcore.lzo" $MAGIC_KDUMP
	check_magic "$d/vmcore.zlib" $MAGIC_KDUMP
	check_magic "$d/vmcore.flat" $MAGIC_FLAT
	check_magic "$d/vmcore.elf" $MAGIC_ELF
	[ "${ARCH_HOST_ZSTD[${K_ARCH[$r]}]}" = 0 ] || check_magic "$d/vmcore.zstd" $MAGIC_KDUMP
	elf_covers_file "$d/vmcore.elf" || die "$s: vmcore.elf: segments do not end at the file's end"
	[ -s "$d/vmcore-dmesg.txt" ] || die "$s: empty vmcore-dmesg.txt"
	for t in tainted modules module_taints.txt dmesg.txt uname.txt last_unloaded.txt; do
		[ -f "$d/truth/$t" ] || die "$s: missing truth/$t"
	done
	[ "$(cat "$d/truth/uname.txt")" = "$r" ] || die "$s: guest ran $(cat "$d/truth/uname.txt")"
	want=$(expected_taint "$s")
	if [ "$s" = loadfail ]; then
		(($(cat "$d/truth/tainted") & ~want)) &&
			die "$s: guest tainted=$(cat "$d/truth/tainted"), expected at most $want"
	else
		[ "$(cat "$d/truth/tainted")" = "$want" ] ||
			die "$s: guest tainted=$(cat "$d/truth/tainted"), expected $want"
	fi
	case $s in
	oops)
		# x86: "BUG: kernel NULL pointer dereference"; arm64: "Unable to handle kernel NULL pointer dereference"
		grep -qE '(BUG: kernel|Unable to handle kernel) NULL pointer dereference' "$d/vmcore-dmesg.txt" ||
			die "$s: no oops in the dump's log"
		grep -q 'oot_oops_poke' "$d/vmcore-dmesg.txt" || die "$s: oops not in oot_oops"
		;;
	coreoops)
		grep -qE '(BUG: kernel|Unable to handle kernel) NULL pointer dereference' "$d/vmcore-dmesg.txt" ||
			die "$s: no oops in the dump's log"
		grep -qE 'oot_core_parse\+0x[0-9a-f]+/0x[0-9a-f]+ \[oot_core\]' "$d/vmcore-dmesg.txt" ||
			die "$s: oot_core_parse is not on the call trace"
		;;
	initfree)
		grep -q 'oot_initfree: calling the freed init function' "$d/vmcore-dmesg.txt" ||
			die "$s: the work did not run"
		if grep -q 'oot_initfree: survived' "$d/vmcore-dmesg.txt"; then die "$s: the call survived"; fi
		grep -qE 'Oops|Unable to handle kernel' "$d/vmcore-dmesg.txt" || die "$s: no oops in the dump's log"
		;;
	*) grep -q 'sysrq: Trigger a crash' "$d/vmcore-dmesg.txt" || die "$s: no sysrq crash in the dump's log" ;;
	esac
	case $s in
	mixed | unloaded | initfree)
		grep -q '^oot_gone POE$' "$d/truth/last_unloaded.txt" ||
			die "$s: last_unloaded.txt is '$(cat "$d/truth/last_unloaded.txt")', not 'oot_gone POE'"
		;;
	*) [ ! -s "$d/truth/last_unloaded.txt" ] || die "$s: a module was unloaded" ;;
	esac
	case $s in
	mixed)
		if [ "${ARCH_QMP[${K_ARCH[$r]}]}" = 1 ]; then
			check_magic "$d/qemu.elf" $MAGIC_ELF
			check_magic "$d/qemu-kdump.flat" $MAGIC_FLAT
			grep -q 'VMCOREINFO' "$d/qemu.elf" || die "$s: QEMU's ELF has no VMCOREINFO"
		fi
		grep -q '^oot_prop POE$' "$d/truth/module_taints.txt" || die "$s: oot_prop not POE"
		if grep -q '^oot_gone ' "$d/truth/modules"; then die "$s: oot_gone still loaded"; fi
		;;
	clean)
		# Only the disk's driver stack, none of it tainted.
		[ "$(wc -l <"$d/truth/modules")" = "$(cat "$BUILD/virtio-count")" ] ||
			die "$s: unexpected modules: $(cut -d' ' -f1 "$d/truth/modules" | tr '\n' ' ')"
		if grep -qv ' -$' "$d/truth/module_taints.txt"; then die "$s: a module is tainted"; fi
		;;
	loadfail)
		# Five attempts, all failed (non-zero status), none left loaded.
		[ "$(awk -F'\t' '$2 != 0' "$d/truth/load_attempts.txt" | wc -l)" = 5 ] ||
			die "$s: load_attempts.txt: $(cat "$d/truth/load_attempts.txt")"
		grep -q '^Y$' "$d/truth/sig_enforce" || die "$s: sig_enforce not on"
		if grep -q '^oot_' "$d/truth/modules"; then die "$s: an oot module loaded"; fi
		grep -q 'Unknown symbol oot_export_hello' "$d/vmcore-dmesg.txt" || die "$s: no Unknown symbol line"
		grep -q 'is rejected' "$d/vmcore-dmesg.txt" || die "$s: no signature rejection"
		;;
	wrapped)
		# The tainting lines are gone from the ring, kept in kern.log.
		grep -q 'oot_prop: loaded' "$d/kern.log" || die "$s: kern.log lacks the oot_prop line"
		if grep -q 'oot_prop: loaded' "$d/vmcore-dmesg.txt"; then die "$s: the ring did not wrap"; fi
		grep -q 'vmtaint: flood line 1199 ' "$d/vmcore-dmesg.txt" || die "$s: the flood's end is not in the ring"
		;;
	many)
		# The driver stack, the stock modules with their dependencies, oot_gpl.
		[ "$(wc -l <"$d/truth/modules")" -ge "$(cat "$BUILD/many-count")" ] ||
			die "$s: only $(wc -l <"$d/truth/modules") modules, expected $(cat "$BUILD/many-count") + 1"
		;;
	esac
	return 0
}

# --- oracles: what the peers read from each dump --------------------------------

# oracle/drgn-<format>.json (drgn on every dump of every kernel) and
# oracle/crash-<format>.txt (crash 8.0.2 `sys -t; mod -t`, where it reads the
# kernel's dumps, on one kdump-compressed and the ELF dump: crash costs
# seconds per dump under TCG-loaded CI, and reads every format alike).
CRASH_FORMATS="lzo elf"
run_oracles() {
	local r=$1 d=$2 f fmt
	mkdir -p "$d/oracle"
	for f in vmcore.lzo vmcore.zlib vmcore.flat vmcore.elf; do
		fmt=${f#vmcore.}
		"$DRGN_PY" "$ORACLE_DIR/drgn_taint.py" "$VMLINUX" "$d/$f" >"$d/oracle/drgn-$fmt.json" \
			2>"$d/oracle/drgn-$fmt.err" || die "drgn failed on $d/$f: $(tail -3 "$d/oracle/drgn-$fmt.err")"
		[ -s "$d/oracle/drgn-$fmt.err" ] || rm -f "$d/oracle/drgn-$fmt.err"
		if [ "${K_CRASH[$r]}" = 8 ] && [[ " $CRASH_FORMATS " = *" $fmt "* ]]; then
			printf 'sys -t\nmod -t\np last_unloaded_module\nquit\n' >"$d/oracle/crash.cmd"
			crash -s -i "$d/oracle/crash.cmd" "$VMLINUX" "$d/$f" </dev/null >"$d/oracle/crash-$fmt.txt" 2>&1 ||
				die "crash failed on $d/$f: $(tail -3 "$d/oracle/crash-$fmt.txt")"
			grep -q '^TAINTED_MASK: ' "$d/oracle/crash-$fmt.txt" ||
				die "crash printed no TAINTED_MASK for $d/$f: $(tail -3 "$d/oracle/crash-$fmt.txt")"
			rm -f "$d/oracle/crash.cmd"
		fi
	done
}

write_manifest() {
	local r=$1 s=$2 d=$3 seconds=$4 hash=$5 mdf mdf_version
	if is_cross "$r"; then
		mdf_version="makedumpfile $(cat "$CACHE/tools-${ARCH_DEBARCH[${K_ARCH[$r]}]}/makedumpfile.version") (Debian ${ARCH_DEBARCH[${K_ARCH[$r]}]})"
	else
		mdf=$(makedumpfile_for "$r")
		mdf_version=$("$mdf" -v 2>&1 | head -1)
	fi
	"$PYTHON" - "$s" "$d" "$r" "${K_ARCH[$r]}" "$hash" "$mdf_version" \
		"$("${ARCH_QEMU[${K_ARCH[$r]}]}" --version | head -1)" "$seconds" "$(expected_taint "$s")" \
		"$VMLINUX" "${K_SUITE[$r]}" "${K_CPU[$r]}" "${K_QUIRKS[$r]}" \
		"$([ "${K_CRASH[$r]}" = 8 ] && crash -v 2>/dev/null | sed -n 's/^crash \([0-9.]*\).*/\1/p' | head -1)" \
		"$DRGN_VERSION" "${ARCH_HOST_ZLIB[${K_ARCH[$r]}]}" \
		"$([ "${ARCH_HOST_ZSTD[${K_ARCH[$r]}]}" = 1 ] && "$MDF_SID" -v 2>&1 | head -1)" <<'PY'
import datetime, json, os, sys
(scenario, d, rel, arch, digest, mdf, qemu, seconds, expected, vmlinux, suite, cpu, quirks,
 crash, drgn, host_zlib, zstd_mdf) = sys.argv[1:]
files = []
for top, _, names in os.walk(d):
    for name in names:
        path = os.path.join(top, name)
        files.append({"path": os.path.relpath(path, d), "size": os.path.getsize(path)})
files.sort(key=lambda f: f["path"])
with open(os.path.join(d, "truth", "tainted")) as f:
    tainted = int(f.read().strip())
oracles = {"drgn": drgn}
if crash:
    oracles["crash"] = crash
manifest = {
    "scenario": scenario,
    "kernel_release": rel,
    "arch": arch,
    "debian_suite": suite,
    "qemu_cpu": None if cpu == "-" else cpu,
    "module_build_quirks": [] if quirks == "-" else quirks.split(","),
    "vmlinux": vmlinux,
    "input_hash": digest,
    "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "makedumpfile_version": mdf,
    "qemu_version": qemu,
    "build_seconds": float(seconds),
    "zlib_made_by": "host: makedumpfile -c -d 31 vmcore.elf, the capture kernel's makedumpfile (byte-identical to its output)"
    if host_zlib == "1" else "capture kernel: makedumpfile -c -d 31 /proc/vmcore",
    "zstd_made_by": f"host: {zstd_mdf} (Debian sid): makedumpfile -z -d 31 vmcore.elf" if zstd_mdf else None,
    "oracles": oracles,
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
	local r=$1 s=$2 hash=$3 start w serial cmdline status qemu_pid arch mdf
	start=$(now)
	arch=${K_ARCH[$r]}
	kernel_paths "$r"
	BUILD=$(kdir "$r")/build-$hash
	mdf=$(makedumpfile_for "$r")
	# Stage times go to this scenario's log.
	stage() { echo "[$(elapsed "$start")s] $*"; }
	w=$CACHE/work/$r/$s
	rm -rf "$w" "$CACHE/work/$r/$s.ok" "${OUT:?}/$r/$s"
	mkdir -p "$w"
	serial=$w/serial.log

	truncate -s $OUT_DISK_SIZE "$w/disk.img"
	truncate -s "${ARCH_ELF_DISK[$arch]}" "$w/elf.img"
	# No journal, few inodes, tables written now: less work for the guest.
	mkfs.ext4 -q -F -O ^has_journal -N 64 -m 0 \
		-E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$w/disk.img"

	stage "disk made; booting"
	cmdline="console=${ARCH_CONSOLE[$arch]} crashkernel=${ARCH_CRASHKERNEL[$arch]} panic=1 $TIMER_ARGS vmtaint.scenario=$s"
	# shellcheck disable=SC2206 # the machine option is words
	local qemu=(timeout --foreground --kill-after=5 "$QEMU_TIMEOUT" "${ARCH_QEMU[$arch]}"
		-accel tcg ${ARCH_MACHINE[$arch]} -m "${ARCH_MEM[$arch]}" -nodefaults -no-user-config
		-display none -no-reboot
		-kernel "$BUILD/first-root/boot/vmlinuz" -initrd "$BUILD/first.cpio"
		-drive "file=$w/disk.img,if=none,id=out,format=raw,cache=unsafe"
		-device virtio-blk-pci,drive=out,serial=out
		-drive "file=$w/elf.img,if=none,id=elf,format=raw,cache=unsafe"
		-device virtio-blk-pci,drive=elf,serial=elf
		-serial "file:$serial")
	[ "${K_CPU[$r]}" = - ] || qemu+=(-cpu "${K_CPU[$r]}")
	if [ "$s" = mixed ] && [ "${ARCH_QMP[$arch]}" = 1 ]; then
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
			die "$r/$s: QMP capture failed; serial log: $serial"
		fi
		status=0
		wait "$qemu_pid" || status=$?
	else
		status=0
		"${qemu[@]}" -append "$cmdline" >"$w/qemu.log" 2>&1 || status=$?
	fi
	[ $status = 0 ] || die "$r/$s: QEMU exited with $status (124: timed out): $(head -c 500 "$w/qemu.log"); serial log: $serial"

	stage "QEMU done"
	debugfs -R "rdump /out $w" "$w/disk.img" >"$w/debugfs.log" 2>&1 ||
		die "$r/$s: debugfs failed: $(cat "$w/debugfs.log")"
	rm -f "$w/disk.img"
	[ -f "$w/out/CAPTURE-DONE" ] || die "$r/$s: the capture kernel did not finish; serial log: $serial"
	rm -f "$w/out/CAPTURE-DONE"
	local elf_size
	elf_size=$(cat "$w/out/vmcore.elf.size")
	[[ $elf_size =~ ^[0-9]+$ ]] && [ "$elf_size" -le "$(stat -c %s "$w/elf.img")" ] ||
		die "$r/$s: bad ELF size '$elf_size'"
	truncate -s "$elf_size" "$w/elf.img"
	mv "$w/elf.img" "$w/out/vmcore.elf"
	rm "$w/out/vmcore.elf.size"
	# Same makedumpfile, same bytes in: this file is byte-identical to what
	# `makedumpfile -c -d 31 /proc/vmcore` writes in the capture kernel
	# (checked), at a fraction of the cost of zlib under TCG.
	if [ "${ARCH_HOST_ZLIB[$arch]}" = 1 ]; then
		TMPDIR=$w "$mdf" -c -d 31 --message-level 4 "$w/out/vmcore.elf" "$w/out/vmcore.zlib" ||
			die "$r/$s: makedumpfile -c on the host failed"
	fi
	# zstd: sid's makedumpfile on the raw ELF (-z -d 31, as -l and -c are).
	if [ "${ARCH_HOST_ZSTD[$arch]}" = 1 ]; then
		TMPDIR=$w "$MDF_SID" -z -d 31 --message-level 4 "$w/out/vmcore.elf" "$w/out/vmcore.zstd" ||
			die "$r/$s: makedumpfile -z on the host failed"
	fi
	if [ "$s" = mixed ] && [ "${ARCH_QMP[$arch]}" = 1 ]; then
		mv "$w/qemu.elf" "$w/qemu-kdump.flat" "$w/out/"
	fi
	cp "$serial" "$w/out/serial.log"

	stage "outputs copied from the disk"
	verify_outputs "$r" "$s" "$w/out"
	stage "verified"
	run_oracles "$r" "$w/out"
	stage "oracles done"
	write_manifest "$r" "$s" "$w/out" "$(elapsed "$start")" "$hash"
	mkdir -p "$OUT/$r"
	mv "$w/out" "$OUT/$r/$s"
	rm -rf "$w"
	touch "$CACHE/work/$r/$s.ok"
	local tainted
	tainted=$(cat "$OUT/$r/$s/truth/tainted")
	printf '%-26s %-9s built  %5ss  tainted=%s (%s)\n' "$r" "$s" "$(elapsed "$start")" \
		"$tainted" "$(taint_letters "$tainted")" >&3
}

# A guest that fails (TCG on a loaded host can time out) gets one more try;
# the log keeps both attempts, the output is verified either way.
run_scenario_retry() {
	(run_scenario "$@") && return 0
	echo "=== attempt 1 failed; trying once more"
	(run_scenario "$@")
}

# <release>/vmlinux -> the kernel's debug vmlinux (made as soon as the kernel
# is unpacked: a failed scenario elsewhere does not leave it missing).
link_vmlinux() {
	kernel_paths "$1"
	[ -f "$VMLINUX" ] || die "$1: no debug vmlinux at $VMLINUX"
	mkdir -p "$OUT/$1"
	ln -sfn "$(readlink -f "$VMLINUX")" "$OUT/$1/vmlinux"
}

# --- main --------------------------------------------------------------------

ensure_packages
mkdir -p "$OUT" "$CACHE"
# One run at a time per cache: runs share build and work directories and the
# outputs (another run's build may be a different script version's).
exec 9>>"$CACHE/lock"
if ! flock -n 9; then
	echo "waiting for another make-real-cores run to finish (lock: $CACHE/lock)"
	flock 9
fi

need_sid_mdf=0
for r in "${kernels[@]}"; do
	[ "${K_MDF[$r]}" = sid ] && need_sid_mdf=1
	[ "${ARCH_HOST_ZSTD[${K_ARCH[$r]}]}" = 1 ] && need_sid_mdf=1
done
[ $need_sid_mdf = 0 ] || prepare_makedumpfile_sid

declare -A HASH
todo=()
for r in "${kernels[@]}"; do
	HASH[$r]=$(input_hash "$r")
	if [ $prepare_only = 1 ]; then
		prepare_kernel "$r"
		prepare_build "$r" "${HASH[$r]}"
		continue
	fi
	for s in "${selected[@]}"; do
		if [ $force = 0 ] && is_cached "$r" "$s" "${HASH[$r]}"; then
			printf '%-26s %-9s cached\n' "$r" "$s"
		else
			todo+=("$r/$s")
		fi
	done
done

if [ ${#todo[@]} -gt 0 ]; then
	prepare_drgn
	declare -A prepared
	for t in "${todo[@]}"; do
		r=${t%/*}
		[ -z "${prepared[$r]:-}" ] || continue
		prepare_kernel "$r"
		prepare_build "$r" "${HASH[$r]}"
		link_vmlinux "$r"
		prepared[$r]=1
	done
	exec 3>&1
	# Job control gives every scenario its own process group, so an
	# interrupted run can stop its QEMUs (timeout --foreground stays in it).
	set -m
	trap 'for p in $(jobs -p); do kill -- "-$p" 2>/dev/null || true; done' EXIT
	for t in "${todo[@]}"; do
		r=${t%/*} s=${t#*/}
		mkdir -p "$CACHE/work/$r"
		while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
		run_scenario_retry "$r" "$s" "${HASH[$r]}" >"$CACHE/work/$r/$s.log" 2>&1 &
	done
	wait || true
	trap - EXIT
	set +m
	failed=0
	for t in "${todo[@]}"; do
		if [ ! -f "$CACHE/work/$t.ok" ]; then
			printf '%-26s FAILED (log: %s)\n' "$t" "$CACHE/work/$t.log"
			tail -n 5 "$CACHE/work/$t.log" | sed 's/^/    /'
			failed=1
		fi
	done
	[ $failed = 0 ] || exit 1
fi

for r in "${kernels[@]}"; do link_vmlinux "$r"; done
echo "all done in $(elapsed "$run_start")s: $OUT (kernels: ${kernels[*]})"
