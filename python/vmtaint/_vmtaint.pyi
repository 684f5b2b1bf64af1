"""Type stubs of vmtaint's compiled module (see vmtaint/__init__.py)."""

import os
from types import TracebackType
from typing import Any, Dict, Iterator, Optional, Sequence, Type, Union

StrPath = Union[str, "os.PathLike[str]"]

class DumpError(OSError):
    """A dump could not be read.

    ``path`` (also ``filename``) names the file, ``offset`` the byte offset in it (None when the error is not
    at one place), ``reason`` what was expected there, ``errno`` the system's error number when the system
    refused (a missing or unreadable file), else None.
    """

    path: str
    offset: Optional[int]
    reason: str

def report(
    path: StrPath,
    vmlinux: Optional[StrPath] = None,
    debuginfo_dirs: Sequence[StrPath] = (),
    no_debuginfo: bool = False,
) -> Dict[str, Any]:
    """The taint report of one dump: exactly ``vmtaint report --json``'s document.

    Keys (docs/schema/report.schema.json): ``tainted_mask`` (None without a verdict), ``taint_string``,
    ``flags``, ``modules`` (addresses as ``"0x..."`` strings), ``signatures``, ``last_unloaded_module``,
    ``unloaded_tainted_modules``, ``unexplained_flags``, ``timeline``, ``panic``, ``problems``, ``source``
    (which symbols answered) and ``dump``. Raises DumpError when ``path`` is not a readable dump.
    """

def info(path: StrPath) -> Dict[str, Any]:
    """What a dump is: exactly ``vmtaint info --json``'s document (docs/schema/info.schema.json)."""

class Scan(Iterator[Dict[str, Any]]):
    """The iterator :func:`scan` returns: one dict per dump, in the order they finish."""

    @property
    def total(self) -> int:
        """How many dumps the walk found (each is yielded once)."""
    def __iter__(self) -> "Scan": ...
    def __next__(self) -> Dict[str, Any]: ...
    def close(self) -> None:
        """Stop: no more dumps are started; waits for the workers to finish the ones they are on."""
    def __enter__(self) -> "Scan": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

def scan(
    paths: Sequence[StrPath],
    debuginfo_dirs: Sequence[StrPath] = (),
    jobs: Optional[int] = None,
) -> Scan:
    """Report on every dump under ``paths`` (files or directories, recursively; dumps recognised by content).

    Yields ``vmtaint scan``'s JSON line for each dump as it finishes: ``path``, ``size``, ``mtime``, the
    report's keys (or ``error``), ``elapsed_ms``, and ``archive`` in a kdump archive layout. ``jobs`` dumps
    are analysed at once (default: one per CPU). Ctrl-C, ``close()``, leaving a ``with`` block or dropping
    the iterator stops the worker threads and waits for them. Raises DumpError when a path does not exist.
    """
