//! Resolves what vmtaint needs from a debug vmlinux and prints it with the time taken.
//!
//! `cargo run --release -p symbols --example resolve -- /usr/lib/debug/boot/vmlinux-$(uname -r)`

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: resolve VMLINUX")?;
    let quiet = std::env::args().any(|a| a == "-q");
    let t = Instant::now();
    let v = symbols::Vmlinux::open(&path)?;
    if std::env::var_os("RESOLVE_TIMES").is_some() {
        eprintln!("open {:?}", t.elapsed());
    }
    let first = Instant::now();
    v.symbol("tainted_mask")?;
    if std::env::var_os("RESOLVE_TIMES").is_some() {
        eprintln!("first symbol (builds the name index) {:?}", first.elapsed());
    }
    for name in [
        "tainted_mask",
        "taint_flags",
        "modules",
        "last_unloaded_module",
        "prb",
        "init_uts_ns",
        "linux_banner",
    ] {
        let s = v.symbol(name)?;
        if !quiet {
            println!(
                "symbol {name} {:#x} size {} {:?}",
                s.address, s.size, s.kind
            );
        }
    }
    if std::env::var_os("RESOLVE_TIMES").is_some() {
        eprintln!("symbols {:?}", t.elapsed());
    }
    let step = Instant::now();
    let states = v.enumeration("module_state")?;
    let lum = v.variable_type("last_unloaded_module")?;
    let after_lum = step.elapsed();
    let tf = v.variable_type("taint_flags")?;
    // The log reader needs `prb` (a pointer to struct printk_ringbuffer) anyway; asking for it
    // before the layout lets the layout come from the unit already skimmed. Pass
    // `--types-first` to measure without it.
    if !std::env::args().any(|a| a == "--types-first") {
        v.variable_type("prb")?;
    }
    if std::env::var_os("RESOLVE_TIMES").is_some() {
        eprintln!(
            "enum+last_unloaded_module {after_lum:?}, +taint_flags {:?}",
            step.elapsed()
        );
    }
    let module = v.layout("module")?;
    let mem_type = if module.has_member("mem") {
        "module_memory"
    } else {
        "module_layout"
    };
    for name in [
        "module",
        "taint_flag",
        "list_head",
        "printk_ringbuffer",
        mem_type,
        "kernel_symbol",
    ] {
        let step = Instant::now();
        let l = v.layout(name)?;
        if std::env::var_os("RESOLVE_TIMES").is_some() {
            eprintln!("layout {name} {:?}", step.elapsed());
        }
        if !quiet {
            println!("layout {name} size {} members {}", l.size, l.members.len());
        }
    }
    if !quiet {
        println!("module.taints {:?}", module.member("taints")?.offset);
        println!("enum module_state {:?}", states.values);
        println!("last_unloaded_module: {lum}");
        println!("taint_flags: {tf}");
    }
    eprintln!("resolved in {:?}", t.elapsed());
    Ok(())
}
