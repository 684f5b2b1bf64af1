#![no_main]
// Any bytes as a debug vmlinux: ELF headers, the symbol table and lazily parsed DWARF, asked the questions
// the analyzers ask. Seeds: small ELF files with DWARF made by test-all (gcc -g).
use std::io::Write;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Vmlinux maps a file: write the input to one (tmpfs when /dev/shm exists).
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("vmtaint-fuzz-vmlinux-{}", std::process::id()));
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(data));
    if written.is_err() {
        return;
    }
    if let Ok(v) = symbols::Vmlinux::open(&path) {
        let _ = v.build_id();
        let _ = v.check_build_id("00112233445566778899aabbccddeeff00112233");
        for s in ["tainted_mask", "main", "modules", "linux_banner"] {
            let _ = v.symbol(s);
            let _ = v.symbol_bytes(s);
        }
        let _ = v.linux_banner();
        let _ = v.btf_section();
        if v.has_dwarf() {
            for t in ["module", "taint_flag", "point", "list_head"] {
                if let Ok(l) = v.layout(t) {
                    let _ = l.member("list.next");
                    let _ = l.member("mkobj.mod");
                }
            }
            let _ = v.enumeration("module_state").map(|e| e.value("MODULE_STATE_LIVE"));
            for var in ["tainted_mask", "last_unloaded_module", "taint_flags", "global"] {
                let _ = v.variable_type(var);
            }
        }
    }
    let _ = std::fs::remove_file(&path);
});
