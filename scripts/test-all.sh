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

step "crash 9 from Debian sid's source package (cached beside the real dumps)"
# Bookworm's crash 8.0.2 cannot open the 6.12 and 7.2 dumps: the plugin's tests also run inside crash 9.
# The first run installs bookworm's build dependencies and builds each (10-15 min on 2 cores, 73 min shared with other builds); later runs print the path.
echo "crash 9: $(bash testcores/build-crash9.sh)"
# crash reads one architecture per build: the arm64 dumps need one built with `target=ARM64`.
echo "crash 9 for arm64 dumps: $(bash testcores/build-crash9.sh --target ARM64)"

step "live guests: the static vmtaint, report --live inside each kernel's guest"
bash testcores/live-guest.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
# Tests record the support-matrix cells they prove on real dumps; only this run's proofs count.
rm -rf "$VMTAINT_TESTCORES_DIR/.support"
cargo test --workspace --locked

step "support matrix (README) against what the tests proved"
cargo run --quiet --locked -p testcores --example support-matrix -- README.md

step "python module: pip install ./python, pytest on the real dumps"
venv=$cache/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet maturin pytest pandas drgn==0.3.0
# maturin must be on PATH for the build backend; no build isolation: the venv already has it.
PATH="$venv/bin:$PATH" "$venv/bin/pip" install --quiet --no-deps --force-reinstall --no-build-isolation ./python
# The tests compare with the CLI that `cargo test` just built.
export VMTAINT_BIN=${CARGO_TARGET_DIR:-$root/target}/debug/vmtaint
set +e
# From the repository root: in python/, the source folder vmtaint/ would shadow the installed module.
"$venv/bin/pytest" -v -p no:cacheprovider python/tests
rc=$?
set -e
# pytest's 5 is "no tests collected": a suite that ran nothing has not passed.
if [ "$rc" = 5 ]; then echo "pytest collected no tests: FAILED"; exit 1; fi
[ "$rc" = 0 ] || exit "$rc"

step "bench smoke: every benchmark table once, small (scripts/bench.sh --smoke; fails on any failing command)"
bash scripts/bench.sh --smoke

if [ "$fuzz_seconds" != 0 ]; then
  step "fuzz (${fuzz_seconds}s per target)"
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  (cd fuzz && cargo run --quiet --manifest-path ../Cargo.toml -p testcores --example fuzz-seeds -- seeds)
  # The vmlinux target starts from small ELF files with DWARF 4 and 5 (the kernel's own are far too big).
  mkdir -p fuzz/seeds/vmlinux
  for v in 4 5; do
    gcc -g -gdwarf-$v -O0 -o "fuzz/seeds/vmlinux/tiny-dwarf$v" fuzz/seed-src/tiny_kernel.c
  done
  for t in elf kdump flattened vmcoreinfo lzo btf kallsyms analyzers vmlinux text_log printk aarch64 image_scan code_refs; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    # RUSTC_BOOTSTRAP: cargo fuzz needs -Z flags; the machine has one (stable) toolchain.
    log=fuzz/fuzz-$t.log
    if (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$fuzz_seconds" -max_len=65536 -rss_limit_mb=1024 > "../$log" 2>&1); then
      grep -E '^Done' "$log"
    else
      echo "fuzz target $t FAILED; the input is in fuzz/artifacts/$t/:"
      # The panic's own line first: the tail below is mostly libFuzzer's backtrace.
      grep -m 3 -A 1 -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)' "$log" || true
      grep -v -E '^#[0-9]+|^INFO|^\s*"' "$log" | tail -n 60
      exit 1
    fi
  done
fi
step "all tests passed"
