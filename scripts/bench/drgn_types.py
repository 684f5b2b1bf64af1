#!/usr/bin/env python3
"""The peer for the symbols benchmark: drgn loading the debug vmlinux and resolving `struct module`.

    python3 drgn_types.py VMLINUX
"""
import sys

import drgn

vmlinux = sys.argv[1]
prog = drgn.Program(drgn.host_platform)
# drgn 0.3.0: a vmlinux without a core or live kernel is attached as an extra module.
module = prog.extra_module(vmlinux, create=True)
module.try_file(vmlinux)
print(prog.type("struct module").size)
