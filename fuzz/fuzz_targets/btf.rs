#![no_main]
// Any bytes as a BTF blob: parse, then resolve every type and ask the questions the analyzers ask.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(btf) = symbols::btf::Btf::parse(data.to_vec()) {
        btf.check_all();
        let _ = btf.layout("module").map(|l| l.member("mkobj.mod"));
        let _ = btf.enumeration("module_state");
        let _ = btf.enumerator("MODULE_STATE_LIVE");
        for v in ["taint_flags", "last_unloaded_module", "panic_cpu", "tainted_mask"] {
            let _ = btf.variable_type(v, None);
        }
    }
});
