//! The kallsyms and BTF scans on real dumps (testcores/make-real-cores.sh): ignoring VMCOREINFO's
//! description of the tables, the scan finds the very tables VMCOREINFO names, the same symbols at the
//! same addresses as the debug vmlinux, and the BTF blob at `__start_BTF`; and a dump whose VMCOREINFO
//! lacks the kallsyms keys (as before 6.0) reports the same as with DWARF.

use std::time::Instant;

use engine::btf_source::{dump_kallsyms, image_window};
use engine::DebuginfoOptions;
use symbols::image_scan::{find_btf, find_kallsyms, ScanWindow};
use symbols::kallsyms::{Kallsyms, KallsymsTables};
use symbols::Vmlinux;
use testcores::real;
use vmcore::Vmcore;

/// Symbols the analyzers look up, and the ends of the image.
const SYMBOLS: [&str; 9] = [
    "tainted_mask",
    "taint_flags",
    "last_unloaded_module",
    "modules",
    "panic_cpu",
    "sig_enforce",
    "__start_BTF",
    "_stext",
    "_end",
];

/// The kallsyms tables as the debug vmlinux places them (plus the KASLR slide).
fn vmlinux_tables(v: &Vmlinux, slide: u64) -> Vec<(&'static str, Option<u64>)> {
    let at = |n: &str| v.symbol(n).ok().map(|s| s.address.wrapping_add(slide));
    [
        "kallsyms_names",
        "kallsyms_num_syms",
        "kallsyms_token_table",
        "kallsyms_token_index",
        "kallsyms_markers",
        "kallsyms_offsets",
        "kallsyms_relative_base",
        "kallsyms_addresses",
    ]
    .into_iter()
    .map(|n| (n, at(n)))
    .collect()
}

fn found_tables(t: &KallsymsTables) -> Vec<(&'static str, Option<u64>)> {
    vec![
        ("kallsyms_names", Some(t.names)),
        ("kallsyms_num_syms", Some(t.num_syms)),
        ("kallsyms_token_table", Some(t.token_table)),
        ("kallsyms_token_index", Some(t.token_index)),
        ("kallsyms_markers", t.markers),
        ("kallsyms_offsets", t.offsets),
        ("kallsyms_relative_base", t.relative_base),
        ("kallsyms_addresses", t.addresses),
    ]
}

/// On every dump of kernel line `line`: the scan (ignoring VMCOREINFO's description) finds the tables
/// where the debug vmlinux puts them, the symbols the analyzers use at the vmlinux's addresses, the same
/// table as VMCOREINFO's description where there is one, and the BTF blob at `__start_BTF`.
fn the_scan_finds_the_tables(line: &str) {
    let kernel = real::kernels()
        .into_iter()
        .find(|k| k.line() == line)
        .unwrap_or_else(|| panic!("the real-dump script makes kernel line {line}"));
    let v = Vmlinux::open(kernel.vmlinux()).expect("the debug vmlinux the dumps were made with");
    let mut timings = Vec::new();
    for s in kernel.scenarios() {
        for path in s.dumps() {
            let dump = Vmcore::open(&path).unwrap();
            let vi = dump.vmcoreinfo().expect("VMCOREINFO");
            let slide = vi.kernel_offset.expect("KERNELOFFSET");
            let stext = vi.stext.expect("SYMBOL(_stext)");
            let window = image_window(vi).expect("a window");
            let read = &dump;
            let started = Instant::now();
            let found = find_kallsyms(read, window, stext)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let kallsyms_ms = started.elapsed().as_secs_f64() * 1e3;
            assert_eq!(
                found_tables(&found.tables),
                vmlinux_tables(&v, slide),
                "{}",
                path.display()
            );
            assert_eq!(
                found.seqs_of_names,
                v.symbol("kallsyms_seqs_of_names").is_ok(),
                "{}",
                path.display()
            );
            let k = &found.kallsyms;
            if let Some(described) = KallsymsTables::from_lookup(|n| vi.symbol(n)) {
                let reference = Kallsyms::read(&described, read).unwrap();
                assert_eq!(k.len(), reference.len());
                assert!(k.iter().eq(reference.iter()), "{}", path.display());
            }
            for name in SYMBOLS {
                let want = v.symbol(name).unwrap().address.wrapping_add(slide);
                assert_eq!(k.address(name), Some(want), "{}: {name}", path.display());
            }

            let started = Instant::now();
            let after = ScanWindow {
                start: found.tables.token_index + 512,
                end: window.end,
            };
            let btf = find_btf(read, after)
                .or_else(|_| find_btf(read, window))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let btf_ms = started.elapsed().as_secs_f64() * 1e3;
            let start = v.symbol("__start_BTF").unwrap().address + slide;
            let stop = v.symbol("__stop_BTF").unwrap().address + slide;
            assert_eq!((btf.start, btf.len), (start, stop - start));
            // Bounded: the scan reads a part of the window, never all of it.
            let window_pages = (window.end - window.start) / 4096;
            assert!(found.stats.pages_read + found.stats.pages_unreadable <= window_pages + 1);
            timings.push(format!(
                "{line} {}/{}: kallsyms {kallsyms_ms:.1} ms ({} pages), BTF {btf_ms:.1} ms ({} pages)",
                s.name,
                path.file_name().unwrap().to_string_lossy(),
                found.stats.pages_read + found.stats.pages_unreadable,
                btf.stats.pages_read + btf.stats.pages_unreadable,
            ));
        }
    }
    eprintln!("{}", timings.join("\n"));
}

/// 5.10: offsets + relative base before kallsyms_num_syms, absolute per-CPU, no seqs_of_names, and no
/// description in VMCOREINFO.
#[test]
fn the_scan_finds_the_tables_5_10() {
    the_scan_finds_the_tables("5.10");
}

/// Debian's 6.1: as 5.10, plus the backported kallsyms_seqs_of_names.
#[test]
fn the_scan_finds_the_tables_6_1() {
    the_scan_finds_the_tables("6.1");
}

/// 7.2: the 6.4+ order (offsets after the token index), base-relative.
#[test]
fn the_scan_finds_the_tables_7_2() {
    the_scan_finds_the_tables("7.2");
}

/// Turns VMCOREINFO's kallsyms keys (in every copy the file holds) into keys no reader knows
/// (`SYMBOX(kallsyms_names)`), so that the dump looks like a kernel before 6.0.
fn without_kallsyms_keys(bytes: &mut [u8]) -> usize {
    let key = b"SYMBOL(kallsyms_";
    let mut n = 0;
    let mut from = 0;
    while let Some(p) = bytes[from..].windows(key.len()).position(|w| w == key) {
        bytes[from + p + 5] = b'X';
        n += 1;
        from += p + key.len();
    }
    n
}

#[test]
fn without_vmcoreinfo_kallsyms_the_report_is_the_same() {
    let opts = |no_debuginfo| DebuginfoOptions {
        no_debuginfo,
        ..Default::default()
    };
    for s in real::scenarios() {
        // The compressed formats (the raw ELF is the same memory, and half a gigabyte to copy).
        for name in ["vmcore.lzo", "vmcore.zlib", "vmcore.flat"] {
            let path = s.dir.join(name);
            let dump = Vmcore::open(&path).unwrap();
            let dwarf = engine::make_report(&dump, &opts(false)).unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            assert!(without_kallsyms_keys(&mut bytes) >= 6, "{}", path.display());
            // Named as the file it came from: the text logs beside it (`wrapped`'s kern.log) are the same.
            let dump = Vmcore::from_bytes(&path, bytes).unwrap();
            assert!(dump
                .vmcoreinfo()
                .unwrap()
                .symbol("kallsyms_names")
                .is_none());
            let found = dump_kallsyms(&dump).unwrap();
            assert!(found.how.contains("found by scan"), "{}", found.how);
            let r = engine::make_report(&dump, &opts(true)).unwrap();
            assert_eq!(r.source.kind, "btf", "{:?}", r.source.tried);
            let rung = r.source.tried.last().unwrap();
            assert_eq!(rung.source, "btf-dump");
            assert!(
                rung.outcome.contains("VMCOREINFO does not describe them")
                    && rung.outcome.contains("found by scan at"),
                "{}",
                rung.outcome
            );
            assert_eq!(
                serde_json::to_value(&r.report).unwrap(),
                serde_json::to_value(&dwarf.report).unwrap(),
                "{}/{name}",
                s.name
            );
        }
    }
}
