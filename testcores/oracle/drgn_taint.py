#!/usr/bin/env python3
"""The drgn oracle stored beside each real dump (make-real-cores.sh): what drgn reads about taint, as JSON.

    python3 drgn_taint.py VMLINUX DUMP > oracle/drgn-FORMAT.json

Keys: release (the dump's utsname), tainted_mask, taint_flags (the kernel's own table: bit, c_true, c_false,
module -- null where the kernel has no `module` member), modules (name, state, taints as a mask and as the
letters of the module-flag bits, sig_ok -- null without CONFIG_MODULE_SIG) in list order, and
last_unloaded_module: {name, taints} where taints is null when the kernel keeps none (a bare char[] before 6.0).
"""
import json
import sys

import drgn
from drgn.helpers.linux.list import list_for_each_entry


def has_member(type_, name):
    while type_.kind == drgn.TypeKind.POINTER:
        type_ = type_.type
    try:
        type_.member(name)
        return True
    except LookupError:
        return False


def main():
    vmlinux, dump = sys.argv[1], sys.argv[2]
    prog = drgn.Program()
    prog.set_core_dump(dump)
    prog.load_debug_info([vmlinux], default=False)

    flags = prog["taint_flags"]
    flag_type = flags[0].type_
    with_module = has_member(flag_type, "module")
    table = []
    for i in range(len(flags)):
        f = flags[i]
        table.append({
            "bit": i,
            "c_true": chr(f.c_true.value_()),
            "c_false": chr(f.c_false.value_()),
            "module": bool(f.module.value_()) if with_module else None,
        })

    def module_letters(mask):
        return "".join(t["c_true"] for t in table
                       if mask >> t["bit"] & 1 and (t["module"] is None or t["module"]))

    modules = []
    for mod in list_for_each_entry("struct module", prog["modules"].address_of_(), "list"):
        taints = mod.taints.value_()
        sig_ok = bool(mod.sig_ok.value_()) if has_member(mod.type_, "sig_ok") else None
        modules.append({
            "name": mod.name.string_().decode(),
            "state": mod.state.format_(type_name=False),
            "taints": taints,
            "letters": module_letters(taints),
            "sig_ok": sig_ok,
        })

    lum = prog["last_unloaded_module"]
    if lum.type_.kind == drgn.TypeKind.ARRAY:
        last = {"name": lum.string_().decode(), "taints": None}
    else:
        last = {"name": lum.name.string_().decode(), "taints": lum.taints.string_().decode()}

    print(json.dumps({
        "release": prog["init_uts_ns"].name.release.string_().decode(),
        "tainted_mask": prog["tainted_mask"].value_(),
        "taint_flags": table,
        "modules": modules,
        "last_unloaded_module": last,
    }, indent=1))


main()
