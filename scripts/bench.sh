#!/usr/bin/env bash
# Benchmarks (issue 14), vmtaint side by side with its peers on the same real dumps, in one run. Prints every
# table as the README shows it (hyperfine's own markdown for the timing rows) and keeps it in
# target/bench/README-bench.md.
#
#   bash scripts/bench.sh            # everything (about half an hour on 2 cores: crash takes ~7 s a run, and the
#                                    # cold scan copies 200 dumps and drops the page cache twice)
#   bash scripts/bench.sh --readme   # the same, then the README's section between <!-- bench --> and
#                                    # <!-- /bench --> becomes exactly what was printed
#   bash scripts/bench.sh --smoke    # every table once, small: 1 run each, the smallest scale size, 6 dumps in
#                                    # the cold scan, no peers' slow runs (test-all.sh's "bench smoke" step)
#   RUNS=5 bash scripts/bench.sh     # runs per command for the fast tools (default 10)
#
# Every command must succeed: a failing one stops the script with its error (hyperfine and peak.py fail loudly).
# Needs root for the cold-cache scan (/proc/sys/vm/drop_caches); scratch goes to $BENCH_SCRATCH (default /tmp)
# and is deleted on exit.
set -Eeuo pipefail
trap 'echo "bench.sh: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
root=$PWD
mode=full readme=0
for a in "$@"; do
  case $a in
    --smoke) mode=smoke ;;
    --readme) readme=1 ;;
    *) echo "usage: bench.sh [--smoke] [--readme]" >&2; exit 2 ;;
  esac
done
runs=${RUNS:-10}
crash_runs=3
scale_sizes=(4 64 1024 16384)
cold_count=200
if [ $mode = smoke ]; then runs=1 crash_runs=1 scale_sizes=(4) cold_count=6; fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vmtaint
cores=${VMTAINT_TESTCORES_DIR:-$cache/testcores}
target=${CARGO_TARGET_DIR:-$root/target}
out=$target/bench
mkdir -p "$out"
scratch=$(mktemp -d "${BENCH_SCRATCH:-/tmp}/vmtaint-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
peak=(python3 "$root/scripts/bench/peak.py")

command -v hyperfine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
venv=$cache/venv  # test-all.sh's venv has drgn 0.3.0
if ! "$venv/bin/python3" -c 'import drgn; assert drgn.__version__ == "0.3.0"' 2>/dev/null; then
  [ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q drgn==0.3.0
fi
drgn=("$venv/bin/python3" "$root/scripts/bench/drgn_taint.py")
cargo build --release --locked -q -p vmtaint
cargo build --release --locked -q -p vmcore --example scale_dump
bin=$target/release/vmtaint
crash9= crash9_arm64=
if [ -f testcores/build-crash9.sh ]; then
  crash9=$(bash testcores/build-crash9.sh)
  # crash reads one architecture per build: this one reads the arm64 dumps.
  crash9_arm64=$(bash testcores/build-crash9.sh --target ARM64)
fi
printf 'sys -t\nmod -t\nq\n' > "$scratch/crash-cmds"

# The kernels of the real-dump script, in its order: every <release>/ with a vmlinux and a mixed dump.
kernels=()
for d in "$cores"/*/; do
  [ -e "$d/vmlinux" ] && [ -f "$d/mixed/vmcore.lzo" ] && kernels+=("$(basename "$d")")
done
[ ${#kernels[@]} -gt 0 ] || { echo "bench: no real dumps under $cores (run testcores/make-real-cores.sh)" >&2; exit 1; }
k61=$(printf '%s\n' "${kernels[@]}" | grep -m1 '^6\.1\..*amd64$')
all_kernels=("${kernels[@]}")
# The smoke run times one kernel against drgn (crash only checked to read it in the full run).
if [ $mode = smoke ]; then kernels=("$k61"); fi

# The hyperfine markdown of a run, without its header when $2 is "rows".
md() { if [ "${2:-}" = rows ]; then tail -n +3 "$1"; else cat "$1"; fi; }
mib() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1048576:.1f}')" "$1"; }
kib_mb() { echo $(($1 / 1024)); }
# Anonymous memory is often under 1 MB (a report's heap): one decimal, so it never reads as a zero.
anon_mb() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1024:.1f}')" "$1"; }
# Bytes vmtaint read from the dump for one report (its own count, VMTAINT_TRACE=1).
# Exit 3 (a report without a verdict) still reports what it read.
bytes_read() {
  { VMTAINT_TRACE=1 "$@" 2>&1 >/dev/null || [ $? = 3 ]; } |
    sed -n 's/^trace: \([0-9]*\) bytes read from the dump.*/\1/p' | tail -n 1
}
# Does a peer read this dump? (crash fails on kernels it does not know; that is a finding, not an error.)
peer_rc=0
peer_reads() {
  peer_rc=0
  timeout 600 "$@" >"$scratch/peer.out" 2>&1 || peer_rc=$?
  [ $peer_rc = 0 ] && ! grep -qE '^crash: |seek error|invalid structure' "$scratch/peer.out"
}
peer_why() {
  local line
  line=$(grep -m1 -E '^crash: |seek error|invalid structure|error' "$scratch/peer.out" | cut -c1-120 | tr '|' '/' || true)
  echo "exit status $peer_rc${line:+: $line}"
}

{
  echo "Measured by \`bash scripts/bench.sh$([ $mode = smoke ] && echo ' --smoke')\` on $(date -u '+%Y-%m-%d %H:%M') UTC:" \
    "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores, Linux $(uname -r)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; vmtaint $(git describe --always --dirty)."
  echo

  echo "**Taint report per kernel**, on each kernel's real \`mixed/vmcore.lzo\` (kdump, \`-d 31\`, lzo), warm page cache:"
  echo "vmtaint with DWARF (the debug vmlinux) and with no debuginfo (BTF and kallsyms from the dump); drgn 0.3.0"
  echo "running the same facts (\`scripts/bench/drgn_taint.py\`: tainted_mask, each module's taints and signature,"
  echo "last_unloaded_module); crash \`sys -t; mod -t\` where it reads the dump (timed in a run of its own, $crash_runs runs:"
  echo "its Relative column is against itself)."
  echo
  for k in "${kernels[@]}"; do
    dump=$cores/$k/mixed/vmcore.lzo vmlinux=$cores/$k/vmlinux
    echo "$k:"
    echo
    notes=()
    # Exit 3 is vmtaint's documented "report without a verdict" (tainted_mask not found): timed, and said.
    nodebug_ok=0
    "$bin" report --json --no-debuginfo "$dump" >/dev/null 2>"$scratch/nodebug.err" || nodebug_ok=$?
    case $nodebug_ok in
      0) nodebug_flags=() ;;
      3) nodebug_flags=(-i)
         notes+=("vmtaint --no-debuginfo exits 3, a report without a verdict: $(sed 's/^vmtaint: [^:]*: //' "$scratch/nodebug.err" | head -n 1)") ;;
      *) cat "$scratch/nodebug.err" >&2; exit 1 ;;
    esac
    # The others must succeed: checked once here, so the -i above cannot hide their failures.
    "$bin" report --json --vmlinux "$vmlinux" "$dump" >/dev/null
    "${drgn[@]}" "$vmlinux" "$dump" >/dev/null
    hyperfine -N "${nodebug_flags[@]}" --time-unit millisecond --warmup 1 --runs "$runs" \
      --export-markdown "$scratch/fast.md" \
      -n "vmtaint report --json (DWARF)" "$bin report --json --vmlinux $vmlinux $dump" \
      -n "vmtaint report --json --no-debuginfo" "$bin report --json --no-debuginfo $dump" \
      -n "drgn 0.3.0 script" "${drgn[*]} $vmlinux $dump" >/dev/null
    md "$scratch/fast.md"
    # Cold: the first report of a build, its answer index removed before every run (the rows above are warm).
    VMTAINT_INDEX_DIR=$scratch/cold-index hyperfine -N "${nodebug_flags[@]}" --time-unit millisecond \
      --runs "$runs" --prepare "rm -rf $scratch/cold-index" --export-markdown "$scratch/cold.md" \
      -n "vmtaint report --json (DWARF), cold: no answer index" "$bin report --json --vmlinux $vmlinux $dump" \
      -n "vmtaint report --json --no-debuginfo, cold: no answer index" "$bin report --json --no-debuginfo $dump" \
      >/dev/null
    echo
    md "$scratch/cold.md"
    crashes=("crash 8.0.2|crash" ${crash9:+"crash 9|$crash9"})
    if [ "$k" != "${k%arm64}" ]; then
      notes+=("crash 8.0.2: not run (Debian's build reads x86-64 dumps)")
      crashes=(${crash9_arm64:+"crash 9 (target=ARM64)|$crash9_arm64"})
    fi
    for c in "${crashes[@]}"; do
      name=${c%%|*} exe=${c#*|}
      [ $mode = smoke ] && continue
      if peer_reads "$exe" -s "$vmlinux" "$dump" -i "$scratch/crash-cmds"; then
        hyperfine -N --time-unit millisecond --runs "$crash_runs" --export-markdown "$scratch/crash.md" \
          -n "$name: sys -t; mod -t" "$exe -s $vmlinux $dump -i $scratch/crash-cmds" >/dev/null
        md "$scratch/crash.md" rows
      else
        notes+=("$name: does not read it ($(peer_why))")
      fi
    done
    echo
    for n in "${notes[@]}"; do echo "- $n"; done
    [ ${#notes[@]} -gt 0 ] && echo
  done

  echo "**Memory and I/O per report** (same dumps; peak RSS counts the mapped dump and vmlinux pages, peak"
  echo "anonymous memory does not; bytes read is vmtaint's own count of dump-file bytes touched, \`VMTAINT_TRACE=1\`)."
  echo "Warm: the build's answer index present (every report after the first); cold: \`VMTAINT_INDEX=off\`, what a"
  echo "build's first report costs (DWARF read from the vmlinux; without debuginfo, the dump's BTF blob read whole):"
  echo
  echo "| kernel | index | vmtaint DWARF: RSS / anon / read | vmtaint no-debuginfo: RSS / anon / read | drgn 0.3.0: RSS / anon |"
  echo "|---|---|---|---|---|"
  for k in "${kernels[@]}"; do
    dump=$cores/$k/mixed/vmcore.lzo vmlinux=$cores/$k/vmlinux
    read -r _ r3 a3 _ < <("${peak[@]}" "${drgn[@]}" "$vmlinux" "$dump")
    for index in warm cold; do
      env=()
      [ $index = cold ] && env=(env VMTAINT_INDEX=off)
      read -r _ r1 a1 _ < <("${peak[@]}" "${env[@]}" "$bin" report --json --vmlinux "$vmlinux" "$dump")
      read -r _ r2 a2 _ < <("${peak[@]}" --ok 0,3 "${env[@]}" "$bin" report --json --no-debuginfo "$dump")
      b1=$(bytes_read "${env[@]}" "$bin" report --json --vmlinux "$vmlinux" "$dump")
      [ -n "$b1" ] || { echo "bench: no byte count from VMTAINT_TRACE" >&2; exit 1; }
      b2=$(bytes_read "${env[@]}" "$bin" report --json --no-debuginfo "$dump")
      # drgn has no index: its one measurement stands on the warm row.
      peer="$(kib_mb "$r3") MB / $(anon_mb "$a3") MB"
      [ $index = cold ] && peer=-
      printf '| %s | %s | %s / %s MB / %s MiB | %s / %s MB / %s MiB | %s |\n' "$k" "$index" \
        "$(kib_mb "$r1") MB" "$(anon_mb "$a1")" "$(mib "$b1")" "$(kib_mb "$r2") MB" "$(anon_mb "$a2")" "$(mib "$b2")" \
        "$peer"
    done
  done
  echo

  echo "**Cost against machine size**: the real 6.1 \`mixed\` dump's pages, VMCOREINFO and registers in synthetic"
  echo "machines of 4 GiB to 16 TiB (\`vmcore/examples/scale_dump.rs\`): kdump-compressed (header v6, both bitmaps"
  echo "of the whole machine, sparse) and ELF (one \`PT_LOAD\` per run of dumped pages and per GiB of RAM)."
  echo
  src=$cores/$k61/mixed/vmcore.lzo
  "$target/release/examples/scale_dump" "$src" "$scratch/scale" "${scale_sizes[@]}" 2>/dev/null
  args=()
  for g in "${scale_sizes[@]}"; do
    for f in kdump elf; do
      args+=(-n "info $g GiB $f" "$bin info --json $scratch/scale/${g}g.$f")
      args+=(-n "report $g GiB $f" "$bin report --json $scratch/scale/${g}g.$f")
    done
  done
  hyperfine -N --time-unit millisecond --warmup 1 --runs "$(( runs < 5 ? runs : 5 ))" --export-markdown "$scratch/scale.md" "${args[@]}" >/dev/null
  md "$scratch/scale.md"
  echo
  echo "| machine | file | size / on disk | PT_LOADs | info: peak anon | report: peak anon | report: bytes read |"
  echo "|---|---|---|---|---|---|---|"
  for g in "${scale_sizes[@]}"; do
    for f in kdump elf; do
      p=$scratch/scale/${g}g.$f
      read -r _ _ ai _ < <("${peak[@]}" "$bin" info --json "$p")
      read -r _ _ ar _ < <("${peak[@]}" "$bin" report --json "$p")
      loads=-
      if [ $f = elf ]; then loads=$(readelf -lW "$p" | grep -c ' LOAD '); fi
      b=$(bytes_read "$bin" report --json "$p")
      printf '| %s GiB | %s | %s MiB / %s MiB | %s | %s MB | %s MB | %s KiB |\n' "$g" "$f" \
        "$(mib "$(stat -c %s "$p")")" "$(mib "$(( $(stat -c %b "$p") * 512 ))")" "$loads" \
        "$(anon_mb "$ai")" "$(anon_mb "$ar")" "$((b / 1024))"
    done
  done
  # What the largest machine's `info` spends its time on (the one row that grows with RAM): perf's own report.
  big=${scale_sizes[-1]}
  if [ $mode = full ] && command -v perf >/dev/null; then
    echo
    echo "Where \`info\` on the $big GiB kdump spends its time (\`perf record\`, then \`perf report --no-children\`, top 6):"
    echo
    echo '```'
    if perf record -q -o "$scratch/info.perf" "$bin" info --json "$scratch/scale/${big}g.kdump" >/dev/null 2>&1; then
      perf report -i "$scratch/info.perf" --no-children --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 6
    else
      echo "(perf could not record here)"
    fi
    echo '```'
    rm -f "$scratch/info.perf"
  fi
  rm -rf "$scratch/scale"
  echo

  echo "**Cold-cache scan**: $cold_count distinct files (copies of the real kdump dumps of every kernel, scenario and"
  echo "format lzo, zlib, flattened), page cache dropped (\`echo 3 > /proc/sys/vm/drop_caches\`) before each tool;"
  echo "vmtaint \`scan\` (2 jobs) against the drgn script run per dump, 2 at a time (\`xargs -P 2\`). MB read is what"
  echo "the kernel read from storage (\`ru_inblock\`), the debug vmlinux files included."
  echo
  mkdir -p "$scratch/cold"
  # Kernels, then formats, then scenarios vary fastest to slowest: any prefix mixes every build.
  originals=()
  scenarios=$(for k in "${all_kernels[@]}"; do ls "$cores/$k"; done | sort -u)
  for s in $scenarios; do
    for f in vmcore.lzo vmcore.zlib vmcore.flat; do
      for k in "${all_kernels[@]}"; do
        [ -f "$cores/$k/$s/$f" ] && originals+=("$k|$cores/$k/$s/$f")
      done
    done
  done
  : > "$scratch/cold.list"
  for ((i = 0; i < cold_count; i++)); do
    o=${originals[i % ${#originals[@]}]}
    k=${o%%|*} f=${o#*|}
    mkdir -p "$scratch/cold/host$i"
    cp "$f" "$scratch/cold/host$i/vmcore"
    echo "$cores/$k/vmlinux $scratch/cold/host$i/vmcore" >> "$scratch/cold.list"
  done
  debuginfo=()
  for k in "${all_kernels[@]}"; do debuginfo+=(--debuginfo-dir "$cores/$k"); done
  drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
  echo "| tool | dumps | wall | dumps/s | MB read per dump | peak RSS |"
  echo "|---|---|---|---|---|---|"
  # The answer index decides how much of each debug vmlinux a scan reads: the first scan of these builds starts
  # with none (it reads their DWARF and writes the index), every later one has it. Both are measured, from an
  # index directory of the benchmark's own, so no earlier run's index leaks in.
  export VMTAINT_INDEX_DIR=$scratch/scan-index
  rm -rf "$VMTAINT_INDEX_DIR"
  for state in "first scan: no answer index" "again: answer index from the first"; do
    drop
    read -r w r _ io < <("${peak[@]}" "$bin" scan "$scratch/cold" --no-progress "${debuginfo[@]}")
    printf '| vmtaint scan (%s) | %s | %.1f s | %.1f | %.1f | %s MB |\n' "$state" "$cold_count" "$w" \
      "$(echo "$cold_count / $w" | bc -l)" "$(echo "$io / $cold_count / 1048576" | bc -l)" "$(kib_mb "$r")"
  done
  echo "${drgn[*]}" > "$scratch/drgn-cmd"
  drop
  read -r w r _ io < <("${peak[@]}" bash -c "xargs -P 2 -L 1 $(cat "$scratch/drgn-cmd") < $scratch/cold.list > /dev/null")
  printf '| drgn 0.3.0 script | %s | %.1f s | %.1f | %.1f | %s MB |\n' "$cold_count" "$w" \
    "$(echo "$cold_count / $w" | bc -l)" "$(echo "$io / $cold_count / 1048576" | bc -l)" "$(kib_mb "$r")"
  echo

  echo "**Warm batch scan**: the same $cold_count files again, page cache warm, answer index present, every kernel's"
  echo "builds mixed:"
  echo
  hyperfine -N --time-unit millisecond --warmup 1 --runs "$(( runs < 3 ? runs : 3 ))" --export-markdown "$scratch/warm.md" \
    --export-json "$scratch/warm.json" \
    -n "vmtaint scan ($cold_count dumps)" "$bin scan $scratch/cold --no-progress ${debuginfo[*]}" >/dev/null
  md "$scratch/warm.md"
  rate=$(python3 -c "import json, sys; print(round(int(sys.argv[1]) / json.load(open(sys.argv[2]))['results'][0]['median']))" \
    "$cold_count" "$scratch/warm.json")
  printf '\n%s dumps/s warm (median run).\n\n' "$rate"
  rm -rf "$scratch/cold" "$VMTAINT_INDEX_DIR"
  unset VMTAINT_INDEX_DIR

  echo "**Issue 12's budget**: the report with crash site, load failures, parameters and keyrings against the"
  echo "report before them (the commit before the merge of branch 'logs' that brought them), on the 6.1 mixed dump:"
  echo
  if [ $mode = smoke ]; then
    echo "(full run only: it builds the older release.)"
  else
    merge=$(git log --first-parent -n 1 --format=%H --grep="^Merge branch 'logs': crash reports" HEAD)
    [ -n "$merge" ] || { echo "bench: the merge of branch 'logs' (crash reports) is not in this history" >&2; exit 1; }
    before=$(git rev-parse "$merge^1")
    old=$out/pre12-$before
    if [ ! -x "$old" ]; then
      git worktree add -f --detach "$scratch/pre12" "$before" >/dev/null 2>&1
      (cd "$scratch/pre12" && CARGO_TARGET_DIR=$scratch/pre12-target cargo build --release -q -p vmtaint)
      cp "$scratch/pre12-target/release/vmtaint" "$old"
      git worktree remove --force "$scratch/pre12"
      rm -rf "$scratch/pre12-target"
    fi
    hyperfine -N --time-unit millisecond --warmup 2 --runs "$runs" --export-markdown "$scratch/p12.md" \
      -n "before issue 12 ($(git rev-parse --short "$before"))" "$old report --json $src" \
      -n "now" "$bin report --json $src" >/dev/null
    md "$scratch/p12.md"
  fi
  echo

  if [ -f scripts/bench/live.sh ]; then
    echo "**Live kernel** (\`scripts/bench/live.sh\`):"
    echo
    if [ $mode = smoke ]; then
      echo "(full run only: it boots a QEMU guest where this machine has no /proc/kcore.)"
    else
      bash scripts/bench/live.sh --runs "$runs"
    fi
    echo
  fi
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} | tee "$out/README-bench.md"

if [ $readme = 1 ]; then
  python3 - "$out/README-bench.md" README.md <<'EOF'
import sys
body = open(sys.argv[1]).read().rstrip("\n")
readme = open(sys.argv[2]).read()
start, end = "<!-- bench -->", "<!-- /bench -->"
a, b = readme.index(start) + len(start), readme.index(end)
open(sys.argv[2], "w").write(readme[:a] + "\n" + body + "\n" + readme[b:])
EOF
  echo "README.md: benchmark section rewritten from $out/README-bench.md"
fi
