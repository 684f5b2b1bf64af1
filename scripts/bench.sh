#!/usr/bin/env bash
# Benchmarks, side by side with the peers on the same real dumps, in one run. Prints markdown tables and keeps
# them in target/bench/. Run on a quiet machine; numbers for the README come from here.
#
#   bash scripts/bench.sh            # everything (a few minutes: crash takes ~7 s per run)
#   RUNS=5 bash scripts/bench.sh     # runs per command for the fast tools (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vmtaint
release=${VMTAINT_KERNEL_RELEASE:-6.1.0-56-cloud-amd64}
dumps=${VMTAINT_TESTCORES_DIR:-$cache/testcores}/$release
vmlinux=/usr/lib/debug/boot/vmlinux-$release
out=target/bench
mkdir -p "$out"

bash scripts/install-deps.sh
command -v hyperfine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
bash testcores/make-real-cores.sh --kernel "$release"
venv=$cache/drgn-venv
if ! "$venv/bin/python3" -c 'import drgn' 2>/dev/null; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q drgn==0.3.0
fi
cargo build --release --locked -p vmtaint
cargo build --release --locked -p symbols --example resolve
bin=target/release/vmtaint
crash_cmds=$out/crash-cmds
printf 'sys -t\nmod -t\nq\n' > "$crash_cmds"

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1; }  # peak RSS in KiB
row() { printf '| %s | %s | %s MB |\n' "$1" "$2" "$(( $(rss "${@:3}") / 1024 ))"; }

{
  echo "## Taint report on mixed/vmcore.lzo (real kdump, -d 31, lzo)"
  hyperfine -N --warmup 2 --runs "$runs" --export-markdown "$out/report-fast.md" \
    -n "vmtaint report --json" "$bin report --json $dumps/mixed/vmcore.lzo" \
    -n "vmtaint report --json --no-debuginfo" "$bin report --json --no-debuginfo $dumps/mixed/vmcore.lzo" \
    -n "drgn 0.3.0 script" "$venv/bin/python3 scripts/bench/drgn_taint.py $vmlinux $dumps/mixed/vmcore.lzo" >/dev/null
  hyperfine -N --runs 3 --export-markdown "$out/report-crash.md" \
    -n "crash 8.0.2: sys -t; mod -t" "crash -s $vmlinux $dumps/mixed/vmcore.lzo -i $crash_cmds" >/dev/null
  cat "$out/report-fast.md"; tail -n 1 "$out/report-crash.md"
  echo
  echo "| peak RSS | | |"; echo "|---|---|---|"
  row "vmtaint report --json" "" "$bin" report --json "$dumps/mixed/vmcore.lzo"
  row "vmtaint report --no-debuginfo" "" "$bin" report --json --no-debuginfo "$dumps/mixed/vmcore.lzo"
  row "drgn 0.3.0 script" "" "$venv/bin/python3" scripts/bench/drgn_taint.py "$vmlinux" "$dumps/mixed/vmcore.lzo"
  row "crash 8.0.2" "" crash -s "$vmlinux" "$dumps/mixed/vmcore.lzo" -i "$crash_cmds"
  echo

  echo "## Symbols and layouts from the 590 MB debug vmlinux, cold"
  hyperfine -N --warmup 2 --runs "$runs" --export-markdown "$out/symbols.md" \
    -n "symbols (example resolve)" "target/release/examples/resolve $vmlinux -q" \
    -n "drgn 0.3.0: struct module" "$venv/bin/python3 scripts/bench/drgn_types.py $vmlinux" >/dev/null
  cat "$out/symbols.md"
  echo; echo "| peak RSS | | |"; echo "|---|---|---|"
  row "symbols (example resolve)" "" target/release/examples/resolve "$vmlinux" -q
  row "drgn 0.3.0: struct module" "" "$venv/bin/python3" scripts/bench/drgn_types.py "$vmlinux"
  echo

  echo "## vmtaint info, each format of mixed"
  args=()
  for f in vmcore.lzo vmcore.zlib vmcore.flat vmcore.elf qemu.elf qemu-kdump.flat; do
    args+=(-n "$f" "$bin info --json $dumps/mixed/$f")
  done
  hyperfine -N --warmup 2 --runs "$runs" --export-markdown "$out/info.md" "${args[@]}" >/dev/null
  cat "$out/info.md"
  echo

  echo "## Batch scan: N dumps of one build (links to the real ones), 2 cores"
  echo "| dumps | wall | dumps/s | peak RSS |"; echo "|---|---|---|---|"
  for n in 25 100 400; do
    dir=$(mktemp -d); i=0
    while [ $i -lt $n ]; do
      for s in clean mixed unloaded oops many; do
        for f in vmcore.lzo vmcore.zlib vmcore.flat vmcore.elf; do
          [ $i -lt $n ] || break 3
          mkdir -p "$dir/host$i"; ln -s "$dumps/$s/$f" "$dir/host$i/vmcore"; i=$((i + 1))
        done
      done
    done
    start=$(date +%s.%N)
    kb=$(rss "$bin" scan "$dir" --jsonl "$dir/out.jsonl" --no-progress)
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    printf '| %s | %.2f s | %.0f | %s MB |\n' "$n" "$secs" "$(echo "$n / $secs" | bc -l)" $((kb / 1024))
    rm -rf "$dir"
  done
} | tee "$out/README-tables.md"

echo
echo "== page reads (criterion): cargo bench -p vmcore --bench read_pages"
cargo bench --locked -p vmcore --bench read_pages 2>&1 | grep -E '^read_pages|thrpt' | tee "$out/read_pages.txt"
