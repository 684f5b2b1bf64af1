//! Runs the kallsyms and BTF scans over a vmlinux ELF file's sections, as if they were kernel memory at
//! their link addresses: a check of the scans on any kernel build without making a dump (e.g. the
//! vmlinux extracted from a distribution's `vmlinuz`, which keeps `.rodata` and `.BTF`).
//!
//! `cargo run --release -p symbols --example scan_image -- VMLINUX [NAME...]`

use object::{Object, ObjectSection};
use symbols::image_scan::{find_btf, find_kallsyms, ScanWindow};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: scan_image VMLINUX [NAME...]");
    let data = std::fs::read(&path).expect("read the vmlinux");
    let elf = object::File::parse(&*data).expect("an ELF file");
    let sections: Vec<(u64, &[u8], String)> = elf
        .sections()
        .filter(|s| s.address() >= 0xffff_0000_0000_0000)
        .filter_map(|s| Some((s.address(), s.data().ok()?, s.name().ok()?.to_string())))
        .filter(|(_, d, _)| !d.is_empty())
        .collect();
    // Memory is the sections at their addresses, and zeros between sections (as alignment padding in a
    // loaded image); outside the first and last section nothing is mapped.
    let lowest = sections.iter().map(|s| s.0).min().expect("sections");
    let highest = sections
        .iter()
        .map(|s| s.0 + s.1.len() as u64)
        .max()
        .expect("sections");
    let read = |addr: u64, buf: &mut [u8]| -> Result<(), kmem::ReadError> {
        let end = addr.saturating_add(buf.len() as u64);
        if addr < lowest || end > highest {
            return Err(kmem::ReadError::Unmapped {
                vaddr: addr,
                detail: "outside the vmlinux's sections",
            });
        }
        buf.fill(0);
        for (start, bytes, _) in &sections {
            let s_end = start + bytes.len() as u64;
            let (from, to) = (addr.max(*start), end.min(s_end));
            if from < to {
                buf[(from - addr) as usize..(to - addr) as usize]
                    .copy_from_slice(&bytes[(from - start) as usize..(to - start) as usize]);
            }
        }
        Ok(())
    };
    let section = |name: &str| {
        sections
            .iter()
            .find(|s| s.2 == name)
            .map(|s| (s.0, s.1.len() as u64))
    };
    let (text, _) = section(".text").expect(".text");
    let (data_start, _) = section(".data").expect(".data");
    let window = ScanWindow {
        start: text,
        end: data_start,
    };
    // _stext is the start of .text on x86-64.
    let started = std::time::Instant::now();
    let found = find_kallsyms(&read, window, text).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "kallsyms: {:?}\n  {} symbols, {} encoding, seqs_of_names {}, {} in {:.1} ms",
        found.tables,
        found.kallsyms.len(),
        found.kallsyms.encoding().name(),
        found.seqs_of_names,
        found.stats,
        started.elapsed().as_secs_f64() * 1e3
    );
    let started = std::time::Instant::now();
    let btf = find_btf(
        &read,
        ScanWindow {
            start: found.tables.token_index + 512,
            end: window.end,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "BTF: at {:#x}, {} bytes, {} types, {} in {:.1} ms; .BTF section: {:?}",
        btf.start,
        btf.len,
        btf.btf.type_count(),
        btf.stats,
        started.elapsed().as_secs_f64() * 1e3,
        section(".BTF")
    );
    let k = &found.kallsyms;
    for (name, want) in [
        ("_text", Some(text)),
        ("_stext", Some(text)),
        ("_etext", section(".text").map(|(a, l)| a + l)),
        ("__start_rodata", section(".rodata").map(|s| s.0)),
        ("__start_BTF", section(".BTF").map(|s| s.0)),
        ("__stop_BTF", section(".BTF").map(|(a, l)| a + l)),
        ("_sdata", section(".data").map(|s| s.0)),
        ("__bss_start", section(".bss").map(|s| s.0)),
    ] {
        let got = k.address(name);
        println!(
            "  {name:16} {:>18} section {:>18} {}",
            got.map_or("-".into(), |a| format!("{a:#x}")),
            want.map_or("-".into(), |a| format!("{a:#x}")),
            if got == want { "ok" } else { "DIFFERENT" }
        );
    }
    for name in args {
        for s in k.all_named(&name) {
            println!("  {} {} {:#x}", s.kind, s.name, s.address);
        }
    }
}
