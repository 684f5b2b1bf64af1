#!/usr/bin/env bash
# Builds the one static x86-64 vmtaint (glibc linked statically, zstd built
# from source and linked in) and prints its path. `--target` keeps RUSTFLAGS
# off build scripts and proc-macros, which must stay dynamic.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
	cargo build --release --locked -q -p vmtaint --target $target >&2
dir=${CARGO_TARGET_DIR:-target}
echo "$(cd "$dir" && pwd)/$target/release/vmtaint"
