#!/usr/bin/env bash
# Builds one static vmtaint executable (no run-time library needs: it runs in
# a busybox initramfs) and prints its path.
#
# usage: build-static.sh [--arch x86_64|aarch64]
#   x86_64 (default): glibc linked statically (+crt-static), zstd built from
#     source and linked in.
#   aarch64: cross-built on an x86-64 host for aarch64-unknown-linux-musl (musl
#     is static by default); the C code (zstd) is compiled and the executable
#     linked by Debian's cross gcc against rustup's self-contained musl.
#     Needs: `rustup target add aarch64-unknown-linux-musl` and the packages
#     gcc-aarch64-linux-gnu libc6-dev-arm64-cross (scripts/install-deps.sh).
# `--target` keeps RUSTFLAGS off build scripts and proc-macros, which must stay
# dynamic host programs.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=x86_64
while [ $# -gt 0 ]; do
	case $1 in
	--arch)
		[ $# -ge 2 ] || { echo "build-static: --arch needs x86_64 or aarch64" >&2; exit 2; }
		arch=$2
		shift
		;;
	*)
		sed -n 's/^# usage: /usage: /p' "$0" >&2
		exit 2
		;;
	esac
	shift
done
case $arch in
x86_64)
	target=x86_64-unknown-linux-gnu
	RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
		cargo build --release --locked -q -p vmtaint --target $target >&2
	;;
aarch64)
	target=aarch64-unknown-linux-musl
	cross=aarch64-linux-gnu-
	command -v ${cross}gcc >/dev/null ||
		{ echo "build-static: no ${cross}gcc (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2; exit 1; }
	[ -f /usr/aarch64-linux-gnu/include/stdint.h ] ||
		{ echo "build-static: no arm64 C headers (apt-get install libc6-dev-arm64-cross)" >&2; exit 1; }
	if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx $target; then
		echo "build-static: the Rust std for $target is missing (rustup target add $target)" >&2
		exit 1
	fi
	CC_aarch64_unknown_linux_musl=${cross}gcc AR_aarch64_unknown_linux_musl=${cross}ar \
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=${cross}gcc \
		cargo build --release --locked -q -p vmtaint --target $target >&2
	;;
*)
	echo "build-static: unknown --arch '$arch' (x86_64 or aarch64)" >&2
	exit 2
	;;
esac
dir=${CARGO_TARGET_DIR:-target}
echo "$(cd "$dir" && pwd)/$target/release/vmtaint"
