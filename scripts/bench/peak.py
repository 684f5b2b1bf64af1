#!/usr/bin/env python3
"""Run a command (output discarded) and print what it cost, for scripts/bench.sh:

    peak.py [--ok 0,3] COMMAND...  ->  wall_seconds peak_rss_kib peak_anon_kib fs_read_bytes

peak_rss is the kernel's ru_maxrss (mapped file pages included); peak_anon is the highest RssAnon seen in
/proc/PID/status, sampled every 0.2 ms (anonymous memory only: heap, stacks, private copies; a mapped dump's
pages are file memory); fs_read_bytes is ru_inblock * 512: what the command and its children read from storage
(zero when everything came from the page cache). A failing command fails this script, with its stderr.
"""
import os
import subprocess
import sys
import tempfile
import time

cmd = sys.argv[1:]
ok = {0}
if cmd[:1] == ["--ok"]:  # exit statuses that are answers, not failures (vmtaint's 3: a report without a verdict)
    ok = {int(c) for c in cmd[1].split(",")}
    cmd = cmd[2:]
with tempfile.TemporaryFile() as err:
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    anon = 0
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        anon = max(anon, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.0002)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        err.seek(0)
        sys.stderr.write(err.read().decode(errors="replace")[-4000:])
        sys.exit(f"peak.py: {' '.join(cmd)} exited with {code}")
print(f"{wall:.3f} {ru.ru_maxrss} {anon} {ru.ru_inblock * 512}")
