"""vmtaint's Python module on the real dumps: the same documents as the CLI, the guest's own taint, errors as
DumpError, scans that yield each dump once, stop cleanly on Ctrl-C and leave no thread behind."""

import errno
import os
import signal
import threading
import time
import _thread

import pytest

import vmtaint


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def settle(baseline: int, timeout: float = 10.0) -> int:
    end = time.monotonic() + timeout
    while os_threads() > baseline and time.monotonic() < end:
        time.sleep(0.01)
    return os_threads()


def test_report_and_info_are_the_cli_documents_and_the_guest_taint(scenarios, cli):
    for s in scenarios:
        for dump in s.dumps:
            r = vmtaint.report(dump)
            assert r == cli.json("report", dump, "--json"), dump
            assert r["tainted_mask"] == s.tainted, dump
            assert vmtaint.info(str(dump)) == cli.json("info", dump, "--json"), dump
    # Options reach the engine: without debuginfo the symbols come from the dump's BTF, same verdict.
    dump = scenarios[0].dumps[0]
    r = vmtaint.report(dump, no_debuginfo=True)
    assert r["source"]["kind"] != "dwarf"
    assert r == cli.json("report", dump, "--json", "--no-debuginfo")


def test_unreadable_files_raise_dump_error_naming_path_offset_and_reason(tmp_path, scenarios):
    missing = tmp_path / "nope"
    with pytest.raises(vmtaint.DumpError) as e:
        vmtaint.report(missing)
    assert isinstance(e.value, OSError)
    assert e.value.errno == errno.ENOENT
    assert e.value.path == e.value.filename == str(missing)
    assert e.value.offset is None

    text = tmp_path / "notes.txt"
    text.write_text("not a crash dump at all\n")
    with pytest.raises(vmtaint.DumpError) as e:
        vmtaint.info(text)
    assert e.value.path == str(text) and e.value.offset == 0
    assert "not a crash dump" in e.value.reason
    assert str(text) in str(e.value)

    cut = tmp_path / "vmcore"
    lzo = next(s for s in scenarios if s.name == "clean").dir / "vmcore.lzo"
    cut.write_bytes(lzo.read_bytes()[:3000])
    with pytest.raises(vmtaint.DumpError) as e:
        vmtaint.report(cut)
    assert e.value.path == str(cut)
    assert isinstance(e.value.offset, int) and e.value.offset > 0
    assert "truncated" in e.value.reason

    with pytest.raises(vmtaint.DumpError) as e:
        vmtaint.report(tmp_path)  # a directory
    assert e.value.path == str(tmp_path)


def test_wrong_types_raise_type_errors():
    with pytest.raises(TypeError):
        vmtaint.report(42)
    with pytest.raises(TypeError):
        vmtaint.report("/x", debuginfo_dirs="/usr/lib/debug")  # a str is not a list of paths
    with pytest.raises(TypeError):
        vmtaint.scan("/var/crash")
    with pytest.raises(ValueError):
        vmtaint.scan(["/"], jobs=0)
    with pytest.raises((OverflowError, TypeError, ValueError)):
        vmtaint.scan(["/"], jobs=-1)
    with pytest.raises(vmtaint.DumpError):
        vmtaint.scan(["/nonexistent/vmtaint"])


def test_a_scan_yields_each_dump_once_with_the_cli_line(tmp_tree, cli):
    root, want, damaged = tmp_tree
    seen = {}
    with vmtaint.scan([root], jobs=2) as lines:
        assert lines.total == len(want) + 1
        for line in lines:
            assert line["path"] not in seen, line["path"]
            seen[line["path"]] = line
    assert set(seen) == set(want) | {damaged}
    assert "truncated" in seen[damaged]["error"]
    for path, tainted in want.items():
        line = seen[path]
        assert "error" not in line, line["error"]
        assert line["tainted_mask"] == tainted
        assert {"path", "size", "mtime", "elapsed_ms"} <= set(line)
        extra = ("path", "size", "mtime", "elapsed_ms", "archive", "crash_owner", "tainting_module_at_crash",
                 "load_failure_count")
        report = {k: v for k, v in line.items() if k not in extra}
        assert report == cli.json("report", path, "--json"), path


@pytest.fixture
def sigint_raises():
    """Python's own SIGINT handler, also where the suite was started with SIGINT ignored (a background job of
    a non-interactive shell: `_thread.interrupt_main()` then does nothing)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_during_a_scan_raises_and_leaves_no_thread(tmp_tree, tmp_path, sigint_raises):
    small, want, _ = tmp_tree
    # A scan long enough to interrupt: every dump linked 20 times over.
    copies = 20
    root = tmp_path / "many"
    for i in range(copies):
        for path in want:
            link = root / str(i) / os.path.relpath(path, small)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.realpath(path))
    vmtaint.report(next(iter(want)))  # the engine's own thread pool starts once, here
    baseline = os_threads()

    # Ctrl-C while next() waits for a dump: raised from inside the iterator, which stops its workers itself.
    lines = vmtaint.scan([root], jobs=1)
    assert os_threads() > baseline, "the scan runs in threads of its own"
    # Armed at the first line, so the interrupt lands mid-scan however fast the reports are.
    timer = threading.Timer(0.05, _thread.interrupt_main)
    got = 0
    with pytest.raises(KeyboardInterrupt):
        while True:
            lines.__next__()
            got += 1
            if got == 1:
                timer.start()
    timer.join()
    assert got < copies * len(want), "interrupted before the end"
    assert settle(baseline) == baseline, "every worker joined"
    assert list(lines) == [], "an interrupted scan is over"

    # Ctrl-C anywhere in a `with` block's loop: leaving the block stops the workers.
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        with vmtaint.scan([root], jobs=1) as lines:
            for _ in lines:
                time.sleep(0.01)
    timer.join()
    assert settle(baseline) == baseline, "every worker joined"

    # close() and dropping the iterator stop the workers too.
    lines = vmtaint.scan([root], jobs=2)
    next(lines)
    lines.close()
    assert settle(baseline) == baseline
    lines = vmtaint.scan([root], jobs=2)
    next(lines)
    del lines
    assert settle(baseline) == baseline


def test_the_gil_is_released_while_rust_works(tmp_tree):
    root, want, _ = tmp_tree
    done = threading.Event()
    spins = 0

    def work():
        for _ in vmtaint.scan([root], jobs=1):
            pass
        done.set()

    t = threading.Thread(target=work)
    t.start()
    started = time.monotonic()
    while not done.is_set():
        spins += 1
    t.join()
    elapsed = time.monotonic() - started
    # Holding the GIL during a report would stall this loop for its whole duration.
    assert spins > 10_000 * elapsed, (spins, elapsed)


def test_the_readme_pandas_example(tmp_tree):
    import pandas as pd

    root, want, damaged = tmp_tree
    df = pd.DataFrame(vmtaint.scan([root]))
    df["tainting"] = df["modules"].map(
        lambda ms: sorted(m["name"] for m in ms if m["taints"]) if isinstance(ms, list) else []
    )
    assert len(df) == len(want) + 1
    assert df.set_index("path").loc[damaged, "error"]
    tainted = df[df["tainted_mask"].fillna(0) > 0]
    assert len(tainted) == sum(1 for t in want.values() if t)


def test_a_drgn_program_hands_its_dump_and_vmlinux_over_in_one_line(scenarios):
    import drgn  # scripts/test-all.sh installs drgn 0.3.0 in the test venv

    s = next(s for s in scenarios if s.name == "mixed")
    dump = s.dir / "vmcore.elf"
    prog = drgn.program_from_core_dump(str(dump))
    prog.load_debug_info([str(s.dir.parent / "vmlinux")])
    # The README's line for a drgn user:
    r = vmtaint.report(prog.core_dump_path, vmlinux=prog.main_module().debug_file_path)
    assert r["source"]["kind"] == "dwarf"
    assert r["source"]["origin"] == prog.main_module().debug_file_path
    assert r["tainted_mask"] == s.tainted == prog["tainted_mask"].value_()
