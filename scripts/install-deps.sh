#!/usr/bin/env bash
# Debian packages the tests need (idempotent; installs only what is missing):
#   the debug vmlinux of the real test kernel (symbols, and the oracle for layouts), crash (the peer we compare
#   with and the host of our extension), pahole/readelf/nm (independent oracles), and what
#   testcores/make-real-cores.sh needs to make real dumps under QEMU; python3-venv for the Python module's tests; chromium renders the HTML pages in tests;
#   the arm64 cross compiler, its C headers and qemu-system-arm for the static aarch64 vmtaint that
#   testcores/live-guest.sh runs in the arm64 guest (scripts/build-static.sh --arch aarch64), with the Rust std
#   for aarch64-unknown-linux-musl (rustup); hyperfine and linux-perf (the profile bench.sh prints) for the benchmarks.
set -euo pipefail
release=${VMTAINT_KERNEL_RELEASE:-6.1.0-56-cloud-amd64}
want=(
  "linux-image-$release-dbg" "linux-headers-$release" crash dwarves binutils gcc make
  qemu-system-x86 makedumpfile kexec-tools busybox-static cpio e2fsprogs python3 python3-venv chromium
  qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross hyperfine linux-perf
)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system packages: ok (${#want[@]} checked, ${#missing[@]} installed)"
# The Rust std of the static aarch64 build (rustup fetches it from the same place as the toolchain).
musl=aarch64-unknown-linux-musl
if ! rustup target list --installed | grep -qx "$musl"; then
  echo "installing the Rust std for $musl"
  rustup target add "$musl"
fi
