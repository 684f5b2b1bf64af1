#!/usr/bin/env bash
# The main job on a real dump: make a real kdump of the Debian 6.1 cloud kernel with tainting modules loaded
# (cached after the first run), build vmtaint, and report on the dump.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash testcores/make-real-cores.sh --kernel 6.1.0-56-cloud-amd64 --scenario mixed
cargo build --release --locked -p vmtaint
dump=${VMTAINT_TESTCORES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmtaint/testcores}/6.1.0-56-cloud-amd64/mixed/vmcore.lzo
echo "+ vmtaint info $dump"
./target/release/vmtaint info "$dump"
echo
echo "+ vmtaint report $dump"
./target/release/vmtaint report "$dump"
