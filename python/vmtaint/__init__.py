"""Kernel taint from Linux crash dumps (vmcores), from vmtaint's Rust engine.

>>> import vmtaint
>>> r = vmtaint.report("/var/crash/vmcore")            # doctest: +SKIP
>>> r["tainted_mask"], r["taint_string"]                # doctest: +SKIP
(12801, 'Tainted: P        W  OE     ')

``report`` and ``info`` return exactly the JSON documents ``vmtaint report --json`` and ``vmtaint info --json``
print (docs/schema/); ``scan`` yields the JSON lines ``vmtaint scan`` writes, one dict per dump as it
finishes. A file that is not a readable dump raises ``DumpError`` (an ``OSError``) naming the path, the offset
and what was expected there.
"""

from ._vmtaint import DumpError, Scan, info, report, scan

__all__ = ["DumpError", "Scan", "info", "report", "scan"]
