"""Real dumps for the tests: the same ones and the same gate as the Rust tests (testcores/src/real.rs).

Dumps of the default kernel live in $VMTAINT_TESTCORES_DIR (default ~/.cache/vmtaint/testcores) under
<release>/<scenario>/, made by testcores/make-real-cores.sh with the guest's own view in truth/. When they are
missing the tests fail, saying what to run; VMTAINT_ALLOW_MISSING_REAL=1 (never under CI=true) makes them say
loudly that they are NOT RUN instead.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEFAULT_RELEASE = "6.1.0-56-cloud-amd64"
FORMATS = ("vmcore.elf", "vmcore.zlib", "vmcore.lzo", "vmcore.flat")
ROOT = Path(__file__).resolve().parents[2]


def testcores_dir() -> Path:
    d = os.environ.get("VMTAINT_TESTCORES_DIR")
    if d:
        return Path(d)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "vmtaint" / "testcores"


class Scenario:
    def __init__(self, d: Path):
        self.dir = d
        self.name = d.name

    @property
    def dumps(self):
        return [self.dir / f for f in FORMATS]

    @property
    def tainted(self) -> int:
        return int((self.dir / "truth" / "tainted").read_text().split()[0])


def _gate(what: str) -> None:
    ci = os.environ.get("CI") in ("true", "1")
    if os.environ.get("VMTAINT_ALLOW_MISSING_REAL") == "1" and not ci:
        print(f"WARNING: {what} is missing; VMTAINT_ALLOW_MISSING_REAL=1 so these tests are NOT RUN",
              file=sys.stderr)
        pytest.skip(f"{what} missing (VMTAINT_ALLOW_MISSING_REAL=1)")
    pytest.fail(f"{what} is missing (run `bash testcores/make-real-cores.sh` first)", pytrace=False)


@pytest.fixture(scope="session")
def scenarios():
    kernel = testcores_dir() / DEFAULT_RELEASE
    found = sorted(
        (Scenario(d) for d in kernel.iterdir() if (d / "truth" / "tainted").exists())
        if kernel.is_dir() else [],
        key=lambda s: s.name,
    )
    if not found or any(not d.exists() for s in found for d in s.dumps):
        _gate(f"real test dumps in {kernel}")
    return found


@pytest.fixture(scope="session")
def cli():
    """The vmtaint binary the Rust tests built (what the Python module must agree with)."""
    exe = os.environ.get("VMTAINT_BIN")
    if not exe:
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        exe = target / "debug" / "vmtaint"
    exe = Path(exe)
    if not exe.exists():
        pytest.fail(f"the vmtaint binary {exe} is missing (cargo build -p vmtaint, or set VMTAINT_BIN)",
                    pytrace=False)

    def run(*args):
        out = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
        return out.returncode, out.stdout, out.stderr

    def json_of(*args):
        code, out, err = run(*args)
        assert code == 0, err
        return json.loads(out)

    run.json = json_of
    return run


@pytest.fixture
def tmp_tree(tmp_path, scenarios):
    """A tree of links to every real dump, a file that is not a dump and a damaged dump."""
    want = {}
    for s in scenarios:
        d = tmp_path / "crash" / s.name
        d.mkdir(parents=True)
        for dump in s.dumps:
            link = d / dump.name
            link.symlink_to(dump)
            want[str(link)] = s.tainted
    (tmp_path / "crash" / "README.txt").write_text("not a dump\n")
    good = next(s for s in scenarios if s.name == "clean").dir / "vmcore.lzo"
    damaged = tmp_path / "crash" / "broken" / "vmcore"
    damaged.parent.mkdir()
    damaged.write_bytes(good.read_bytes()[:3000])
    return tmp_path / "crash", want, str(damaged)


def pytest_report_header(config):
    return f"vmtaint test dumps: {testcores_dir()}; shutil.which('vmtaint')={shutil.which('vmtaint')}"
