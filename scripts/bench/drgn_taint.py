#!/usr/bin/env python3
"""The peer for `vmtaint report`: the same answers with drgn (tainted_mask, each module's taints and sig_ok,
last_unloaded_module), as a support engineer would script it today.

    python3 drgn_taint.py VMLINUX DUMP
"""
import sys

import drgn
from drgn.helpers.linux.list import list_for_each_entry

vmlinux, dump = sys.argv[1], sys.argv[2]
prog = drgn.Program()
prog.set_core_dump(dump)
prog.load_debug_info([vmlinux], default=False)
print("tainted_mask", hex(prog["tainted_mask"].value_()))
flags = prog["taint_flags"]
# 6.19 dropped taint_flag.module: a module's taints are then every flag set in its mask.
per_module = flags.type_.type.has_member("module")
for mod in list_for_each_entry("struct module", prog["modules"].address_of_(), "list"):
    taints = mod.taints.value_()
    letters = "".join(chr(flags[i].c_true.value_()) for i in range(len(flags)) if taints >> i & 1 and (not per_module or flags[i].module))
    print(mod.name.string_().decode(), letters, "signed" if mod.sig_ok else "unsigned")
lum = prog["last_unloaded_module"]
if lum.type_.kind == drgn.TypeKind.ARRAY:  # 5.10: a bare char[] (no taints kept)
    print("last_unloaded_module", lum.string_().decode())
else:
    print("last_unloaded_module", lum.name.string_().decode(), lum.taints.string_().decode())
