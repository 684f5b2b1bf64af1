#!/usr/bin/env bash
# Builds crash 9 from Debian sid's source package, offline, on this bookworm
# machine, and prints the path of the crash binary on stdout (nothing else;
# the build's output goes to a log beside it, shown only when it fails).
#
# Bookworm's crash 8.0.2 cannot open the 6.12 and 7.2 dumps; crash 9 opens
# 6.12 (and 5.10, 6.1). crash's own Makefile downloads a gdb tarball at build
# time; Debian's source package carries gdb as a second upstream tarball
# (crash_VERSION.orig-gdb.tar.gz, unpacked as gdb/) and patches the Makefile
# to use it (debian/patches/0002-Dont-download-gdb-tarball.patch), so the
# build needs nothing but the package registry. The source comes through the
# real-dump script's private apt configuration (its `deb-src ... sid` line);
# the machine's own apt setup and packages are untouched, except bookworm's
# build dependencies, installed from its own sources when missing.
#
# --target ARM64 builds crash for arm64 dumps on this x86-64 host (crash's
# own `make target=ARM64`; the arm64 real dumps need it, crash reads one
# architecture per build); without it, crash for the host's (x86-64) dumps.
#
# Cached in $VMTAINT_TESTCORES_CACHE (default $VMTAINT_TESTCORES_DIR/.cache)
# under crash-<version>[-arm64]-<key>/, keyed by the source package version,
# the target and this script's text (comments excluded): a second run only
# prints the path.
#   crash-.../crash      the binary
#   crash-.../defs.h     its extension interface (what extensions compile against)
#   crash-.../build.log  the build's output
# Pinned like the real-dump script's makedumpfile: sid keeps only its newest
# version, so this moves when sid's does (the script says so and stops).
#
# usage: build-crash9.sh [--cached] [--target ARM64]
#   --cached: print the path only if the build is already cached; exit 1
#             (saying what to run) when it is not. Tests use this.
#   --target ARM64: crash for arm64 dumps (default: the host's).
set -euo pipefail

CRASH_SID_VERSION=9.0.2+~16.3-1
# Debian's Build-Depends, from bookworm (debhelper aside: crash's own Makefile builds).
BUILD_DEPS=(make gcc g++ bison flex gawk texinfo zlib1g-dev libncurses-dev liblzo2-dev
	libsnappy-dev libzstd-dev libmpfr-dev libgmp-dev binutils-dev dpkg-dev)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
REAL=$HERE/make-real-cores.sh
my_args=("$@")
set --
# shellcheck disable=SC1090 # the real-dump script's private apt configuration, not its main part
source <(sed -n '1,/^# --- main ---/p' "$REAL" |
	sed "s|^SCRIPT_DIR=.*|SCRIPT_DIR=$HERE|; s|^SCRIPT=.*|SCRIPT=$REAL|")
set -- "${my_args[@]}"

# Messages go to the caller's stderr (fd 4 once the build's output goes to its log).
exec 4>&2
fail() {
	echo "build-crash9: $*" >&4
	exit 1
}

usage() {
	sed -n 's/^# usage: /usage: /p' "$SELF" >&2
	exit 2
}
cached_only=0
target=
while [ $# -gt 0 ]; do
	case $1 in
	--cached) cached_only=1 ;;
	--target)
		[ "${2:-}" = ARM64 ] || usage
		target=$2
		shift
		;;
	*) usage ;;
	esac
	shift
done
# What crash's Makefile takes (`make target=ARM64`), and the cache directory's suffix.
make_target=()
suffix=
if [ -n "$target" ]; then
	make_target=("target=$target")
	suffix=-${target,,}
fi

key=$({
	echo "crash=$CRASH_SID_VERSION target=$target"
	grep -v '^[[:space:]]*#' "$SELF"
} | sha256sum | cut -c1-16)
D=$CACHE/crash-${CRASH_SID_VERSION//[~+:]/_}$suffix-$key
if [ -f "$D/.ok" ]; then
	echo "$D/crash"
	exit 0
fi
[ $cached_only = 0 ] || fail "crash $CRASH_SID_VERSION${target:+ for $target} is not built (no $D/.ok): run testcores/build-crash9.sh${target:+ --target $target} (it took 73 min on 2 cores shared with other builds)"

mkdir -p "$CACHE"
exec 9>"$D.lock"
flock 9
if [ -f "$D/.ok" ]; then # built by a concurrent run
	echo "$D/crash"
	exit 0
fi

rm -rf "$D"
mkdir -p "$D"
LOG=$D/build.log
on_error() {
	echo "build-crash9: the build failed; the end of $LOG:" >&4
	tail -n 40 "$LOG" >&4
}
trap on_error ERR
exec 3>&1 >"$LOG" 2>&1
start=$(date +%s)

missing=()
for p in "${BUILD_DEPS[@]}"; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || fail "missing build dependencies (run as root to install): ${missing[*]}"
	echo "installing from bookworm: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

private_apt_setup
mkdir -p "$D/dl"
(cd "$D/dl" && papt apt-get source -q --download-only "crash=$CRASH_SID_VERSION") ||
	fail "sid no longer has crash $CRASH_SID_VERSION: update CRASH_SID_VERSION (see $LOG)"
# Unpacks crash, gdb/ from the component tarball, and applies Debian's patches.
dpkg-source -x "$D/dl/crash_${CRASH_SID_VERSION}.dsc" "$D/src"
[ -d "$D/src/gdb" ] || fail "Debian's source package has no gdb/ component any more"
# dpkg-source also leaves the upstream tarballs beside src/.
rm -rf "$D/dl" "$D"/crash_*

cd "$D/src"
# The goals lzo, snappy and zstd each build `all` with that codec; named
# together they build it once with all three (as Debian's rules end up).
nice make -j"$(nproc)" "${make_target[@]}" lzo snappy zstd
# `crash --version` starts with an empty line, then `crash 9.0.2`.
said=$(./crash --version 2>&1 || true)
[[ $'\n'$said$'\n' = *$'\n'"crash ${CRASH_SID_VERSION%%+*}"$'\n'* ]] ||
	fail "the built crash does not say crash ${CRASH_SID_VERSION%%+*}: $said"
cp crash defs.h "$D/"
cd "$D"
rm -rf "$D/src"
echo "built in $(($(date +%s) - start)) s"
trap - ERR
touch "$D/.ok"
echo "$D/crash" >&3
