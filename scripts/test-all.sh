#!/usr/bin/env bash
# Every test of vmtaint, from a fresh Debian 12 machine: installs what the tests need, makes (or reuses) the
# real crash dumps, runs the whole test suite, lints, and fuzzes each parser briefly.
#
#   bash scripts/test-all.sh            # what CI runs (.ci/run calls exactly this)
#
# Environment:
#   VMTAINT_TESTCORES_DIR  where real dumps are made and cached (default: ~/.cache/vmtaint/testcores)
#   FUZZ_SECONDS           seconds per fuzz target (default 20; 0 skips fuzzing, never under CI)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vmtaint
export VMTAINT_TESTCORES_DIR=${VMTAINT_TESTCORES_DIR:-$cache/testcores}  # the script's default too
fuzz_seconds=${FUZZ_SECONDS:-20}
if [ "${CI:-}" = true ] && [ "$fuzz_seconds" = 0 ]; then fuzz_seconds=20; fi

step() { printf '\n=== %s (%ss)\n' "$*" "$SECONDS"; }

step "system packages"
bash scripts/install-deps.sh

step "real dumps (cached in $VMTAINT_TESTCORES_DIR)"
bash testcores/make-real-cores.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

if [ "$fuzz_seconds" != 0 ]; then
  step "fuzz (${fuzz_seconds}s per target)"
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  (cd fuzz && cargo run --quiet --manifest-path ../Cargo.toml -p testcores --example fuzz-seeds -- seeds)
  # The vmlinux target starts from small ELF files with DWARF 4 and 5 (the kernel's own are far too big).
  mkdir -p fuzz/seeds/vmlinux
  for v in 4 5; do
    gcc -g -gdwarf-$v -O0 -o "fuzz/seeds/vmlinux/tiny-dwarf$v" fuzz/seed-src/tiny_kernel.c
  done
  for t in elf kdump flattened vmcoreinfo lzo btf kallsyms analyzers vmlinux text_log printk; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    # RUSTC_BOOTSTRAP: cargo fuzz needs -Z flags; the machine has one (stable) toolchain.
    log=fuzz/fuzz-$t.log
    if (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$fuzz_seconds" -max_len=65536 -rss_limit_mb=1024 > "../$log" 2>&1); then
      grep -E '^Done' "$log"
    else
      echo "fuzz target $t FAILED; the input is in fuzz/artifacts/$t/:"
      grep -v -E '^#[0-9]+|^INFO|^\s*"' "$log" | tail -n 60
      exit 1
    fi
  done
fi
step "all tests passed"
