//! Reports without debuginfo: BTF and kallsyms from the dump itself (or `.BTF` from a vmlinux) give the
//! same report as DWARF, on every real dump of every kernel line (testcores/make-real-cores.sh).

mod common;

use std::path::Path;
use std::sync::Arc;

use analyzers::target::TypeRef;
use engine::btf_source::{dump_kallsyms, BtfSource};
use engine::debuginfo::{DebuginfoOptions, DwarfSource, VmlinuxCache};
use engine::make_report_cached;
use engine::recover::{recoverable, CodeRecovery};
use engine::target::SymbolSource;
use serde_json::Value;
use symbols::btf::Btf;
use symbols::{TypeDesc, Vmlinux};
use testcores::real;
use vmcore::Vmcore;

/// Structs and unions the analyzers ask about (from `VMTAINT_TRACE=1 vmtaint report`), and the globals
/// they ask `TypeOf` about.
const STRUCTS: [&str; 5] = [
    "module",
    "taint_flag",
    "printk_info",
    "list_head",
    "printk_ringbuffer",
];
const VARIABLES: [&str; 6] = [
    "tainted_mask",
    "taint_flags",
    "last_unloaded_module",
    "panic_cpu",
    "kernel_locked_down",
    "prb",
];
/// Symbols the analyzers look up (the same trace).
const SYMBOLS: [&str; 8] = [
    "tainted_mask",
    "taint_flags",
    "last_unloaded_module",
    "modules",
    "panic_cpu",
    "sig_enforce",
    "kernel_locked_down",
    "__start_BTF",
];

fn without_source(mut v: Value) -> Value {
    v.as_object_mut().expect("an object").remove("source");
    v
}

/// `real::dir()` holds `<release>/vmlinux` for every kernel: the debuginfo search finds each by build-id.
fn opts(no_debuginfo: bool) -> DebuginfoOptions {
    DebuginfoOptions {
        no_debuginfo,
        dirs: vec![real::dir()],
        ..Default::default()
    }
}

fn vmlinux(k: &real::Kernel) -> Arc<Vmlinux> {
    Arc::new(Vmlinux::open(k.vmlinux()).expect("the debug vmlinux the dumps were made with"))
}

/// Every scenario of the kernels whose dumps hold everything the report needs (x86-64: Debian builds them
/// with CONFIG_KALLSYMS_ALL). arm64's kallsyms has no data symbols; what its dumps give without debuginfo
/// (the mask from the log, said so) is tested in report_real_arm64.rs.
fn full_kallsyms_scenarios() -> Vec<real::Scenario> {
    real::scenarios_of("x86_64")
}

/// The mixed scenario of every such kernel line.
fn each_mixed() -> Vec<real::Scenario> {
    full_kallsyms_scenarios()
        .into_iter()
        .filter(|s| s.name == "mixed")
        .collect()
}

fn slide(dump: &Vmcore) -> u64 {
    dump.vmcoreinfo()
        .and_then(|v| v.kernel_offset)
        .expect("KERNELOFFSET")
}

#[test]
fn every_dump_reports_the_same_without_debuginfo() {
    let scenarios = full_kallsyms_scenarios();
    assert_eq!(
        scenarios.len(),
        real::SCENARIOS.len() * real::kernels_of("x86_64").len(),
        "every scenario of every kernel is present"
    );
    let cache = VmlinuxCache::default();
    let dumps: Vec<_> = scenarios.iter().flat_map(|s| s.dumps()).collect();
    real::check_each(
        dumps,
        |p| p.display().to_string(),
        |path| {
            let dump = Vmcore::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let dwarf = make_report_cached(&dump, &opts(false), &cache).unwrap();
            assert_eq!(dwarf.source.kind, "dwarf", "{}", path.display());
            let btf = make_report_cached(&dump, &opts(true), &cache).unwrap();
            assert_eq!(
                btf.source.kind,
                "btf",
                "{}: {:?}",
                path.display(),
                btf.source.tried
            );
            assert_eq!(btf.source.origin, "dump");
            assert_eq!(
                btf.source.tried.last().map(|a| a.source.as_ref()),
                Some("btf-dump"),
                "kallsyms has every symbol: nothing is recovered from code"
            );
            let (d, b) = (
                serde_json::to_value(&dwarf).unwrap(),
                serde_json::to_value(&btf).unwrap(),
            );
            assert_eq!(
                without_source(d),
                without_source(b),
                "{}: the BTF report differs from the DWARF one",
                path.display()
            );
        },
    );
}

#[test]
fn the_command_line_agrees() {
    real::check_each(each_mixed(), real::Scenario::id, the_command_line_agrees_on);
}

fn the_command_line_agrees_on(s: &real::Scenario) {
    let dump = s.dir.join("vmcore.lzo");
    let run = |extra: &[&str]| -> Value { common::report_json(&dump, extra) };
    let dwarf = run(&[]);
    let btf = run(&["--no-debuginfo"]);
    assert_eq!(btf["source"]["kind"], "btf");
    assert_eq!(btf["source"]["origin"], "dump");
    // The middle rung: the vmlinux's .BTF (and .symtab) when DWARF is not to be used.
    let vmlinux = s.kernel.vmlinux();
    let from_file = run(&["--no-debuginfo", "--vmlinux", vmlinux.to_str().unwrap()]);
    assert_eq!(from_file["source"]["kind"], "btf");
    assert_eq!(from_file["source"]["origin"], vmlinux.to_str().unwrap());
    assert_eq!(from_file["source"]["matched_by"], "build-id");
    let tried: Vec<&str> = from_file["source"]["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["source"].as_str().unwrap())
        .collect();
    assert_eq!(tried, ["dwarf", "btf-vmlinux"]);
    assert_eq!(without_source(dwarf.clone()), without_source(btf));
    assert_eq!(without_source(dwarf), without_source(from_file));
}

/// Every type question the analyzers ask gets the same full answer (layouts with every nested member, type
/// names and bit fields) from the dump's BTF, from the vmlinux's .BTF and from DWARF.
#[test]
fn btf_layouts_equal_dwarf_layouts() {
    real::check_each(
        each_mixed(),
        real::Scenario::id,
        btf_layouts_equal_dwarf_layouts_on,
    );
}

fn btf_layouts_equal_dwarf_layouts_on(s: &real::Scenario) {
    let dump_path = s.dir.join("vmcore.lzo");
    let dump = Vmcore::open(&dump_path).unwrap();
    let v = vmlinux(&s.kernel);
    let in_dump = BtfSource::from_dump(&dump).unwrap();
    let from_file = Btf::parse(v.btf_section().unwrap().expect(".BTF").to_vec()).unwrap();
    // The kernel's memory holds the very blob the vmlinux file carries.
    assert_eq!(in_dump.btf().type_count(), from_file.type_count());
    for name in STRUCTS {
        let dwarf = v.layout(name).unwrap();
        assert_eq!(
            *in_dump.btf().layout(name).unwrap(),
            *dwarf,
            "struct {name}"
        );
        assert_eq!(
            *from_file.layout(name).unwrap(),
            *dwarf,
            "struct {name} (.BTF)"
        );
    }
    for name in ["module_state", "lockdown_reason"] {
        let dwarf = v.enumeration(name).unwrap();
        assert_eq!(
            in_dump.btf().enumeration(name).unwrap(),
            *dwarf,
            "enum {name}"
        );
        for (n, val) in &dwarf.values {
            assert_eq!(in_dump.btf().enumerator(n), Some(*val), "{n}");
        }
    }
    // Global variables: BTF has no VAR for them, the table in symbols::btf_variables supplies the types.
    let dwarf_src = DwarfSource {
        vmlinux: v.clone(),
        slide: slide(&dump),
    };
    for name in VARIABLES {
        let dwarf = v.variable_type(name).unwrap();
        let btf = in_dump.btf().variable_type(name, None).unwrap();
        match (&btf, &*dwarf) {
            // 5.10's BTF has no VAR for taint_flags and the kernel's table says no length: the element
            // type must agree; the report takes the length from the symbol's extent instead.
            (
                TypeDesc::Array {
                    element: b,
                    count: None,
                },
                TypeDesc::Array { element: d, .. },
            ) if s.kernel.version() < (6, 0) => assert_eq!(b, d, "typeof({name}) elements"),
            _ => assert_eq!(btf, *dwarf, "typeof({name})"),
        }
        let ty = TypeRef::TypeOf(name);
        // An array of unknown length has no size (5.10, above): unknown, never a wrong size.
        if !(s.kernel.version() < (6, 0) && in_dump.size_of(ty).is_none()) {
            assert_eq!(in_dump.size_of(ty), dwarf_src.size_of(ty), "size of {name}");
        }
    }
    for (ty, member) in [
        (TypeRef::TypeOf("panic_cpu"), "counter"),
        (TypeRef::Struct("module"), "mkobj.mod"),
        (TypeRef::Struct("printk_info"), "level"),
    ] {
        let want = dwarf_src.member(ty, member);
        assert!(want.is_some(), "{ty} {member}");
        assert_eq!(in_dump.member(ty, member), want, "{ty} {member}");
    }
    // Members that come and go with the kernel version: BTF answers as DWARF does, present or absent.
    // `last_unloaded_module.taints` (6.0+; 5.x has a bare name), module memory in `core_layout` (<= 6.3)
    // or `mem[]` (6.4+).
    for (ty, member) in [
        (TypeRef::TypeOf("last_unloaded_module"), "taints"),
        (TypeRef::Struct("module"), "core_layout.size"),
        (TypeRef::Struct("module"), "mem"),
    ] {
        assert_eq!(
            in_dump.member(ty, member),
            dwarf_src.member(ty, member),
            "{ty} {member}"
        );
    }
    assert!(
        dwarf_src
            .member(TypeRef::Struct("module"), "core_layout.size")
            .is_some()
            != dwarf_src.member(TypeRef::Struct("module"), "mem").is_some(),
        "struct module has exactly one of core_layout and mem[]"
    );
}

/// kallsyms from the dump names the same addresses as the vmlinux's .symtab plus KERNELOFFSET.
#[test]
fn kallsyms_addresses_equal_vmlinux_symbols() {
    real::check_each(full_kallsyms_scenarios(), real::Scenario::id, |s| {
        let v = vmlinux(&s.kernel);
        let dump = Vmcore::open(s.dir.join("vmcore.lzo")).unwrap();
        let k = dump_kallsyms(&dump).unwrap().kallsyms;
        let slide = slide(&dump);
        assert!(k.len() > 50_000, "{} symbols", k.len());
        for name in SYMBOLS {
            let want = v.symbol(name).unwrap().address.wrapping_add(slide);
            assert_eq!(k.address(name), Some(want), "{}: {name}", s.id());
        }
        // A sample of 1000 entries spread over the table: each is a vmlinux symbol of that name at that
        // address (statics may share a name, so any same-named one may match). Per-CPU symbols are
        // offsets into each CPU's area, not relocated by KASLR: kallsyms keeps them as they are.
        // (Zero-based per-CPU areas, `__per_cpu_start` = 0; x86-64 dropped them in 6.15, and 7.x per-CPU
        // symbols are ordinary kernel addresses, relocated like the rest.)
        let percpu_start = v.symbol("__per_cpu_start").unwrap().address;
        let percpu_end = v.symbol("__per_cpu_end").unwrap().address;
        let zero_based = percpu_start == 0;
        let relocated = |a: u64| {
            if zero_based && a < percpu_end {
                a
            } else {
                a.wrapping_add(slide)
            }
        };
        let step = k.len() / 1000;
        let mut checked = 0;
        for i in (0..k.len()).step_by(step).take(1000) {
            let sym = k.get(i).unwrap();
            let all = v.symbols_named(&sym.name).unwrap();
            assert!(
                all.iter().any(|e| relocated(e.address) == sym.address),
                "{}: kallsyms {} {:#x} not among vmlinux {:?}",
                s.id(),
                sym.name,
                sym.address,
                all.iter().map(|e| relocated(e.address)).collect::<Vec<_>>()
            );
            checked += 1;
        }
        assert_eq!(checked, 1000);
        if zero_based {
            assert!(
                (0..k.len()).any(|i| k.get(i).unwrap().address < percpu_end),
                "the sample's per-CPU rule is exercised"
            );
        }
    });
}

/// VMCOREINFO pointing at garbage: the scan finds the real tables and says so; with a wrong `_stext` as
/// well, nothing validates, and the report falls back to the kernel log alone.
#[test]
fn damaged_tables_fail_their_rung_only() {
    // Kernels whose VMCOREINFO describes kallsyms (6.0+); 5.x's has no such lines to damage.
    let with_kallsyms: Vec<real::Scenario> = each_mixed()
        .into_iter()
        .filter(|s| {
            let dump = Vmcore::open(s.dir.join("vmcore.lzo")).unwrap();
            dump.vmcoreinfo()
                .is_some_and(|v| v.symbol("kallsyms_num_syms").is_some())
        })
        .collect();
    assert!(
        with_kallsyms
            .iter()
            .any(|s| s.kernel.release == real::DEFAULT_RELEASE),
        "6.1's VMCOREINFO describes kallsyms"
    );
    real::check_each(
        with_kallsyms,
        real::Scenario::id,
        damaged_tables_fail_their_rung_only_on,
    );
}

fn damaged_tables_fail_their_rung_only_on(s: &real::Scenario) {
    let path = s.dir.join("vmcore.lzo");
    let bytes = std::fs::read(&path).unwrap();
    let dump = Vmcore::from_bytes(Path::new("mixed"), bytes.clone()).unwrap();
    let good = engine::make_report(&dump, &opts(true)).unwrap();
    let k = dump_kallsyms(&dump).unwrap().kallsyms;
    let start = k.address("__start_BTF").unwrap();
    let stext = k.address("_stext").unwrap();
    // Replace a VMCOREINFO value (text, in every copy the file holds).
    let replace = |bytes: &mut Vec<u8>, key: &[u8], value: u64| {
        let hex = format!("{value:016x}");
        let mut copies = 0;
        let mut from = 0;
        while let Some(p) = bytes[from..].windows(key.len()).position(|w| w == key) {
            let at = from + p + key.len();
            bytes[at..at + 16].copy_from_slice(hex.as_bytes());
            copies += 1;
            from = at;
        }
        assert!(
            copies > 0,
            "VMCOREINFO has {}",
            String::from_utf8_lossy(key)
        );
    };
    // Point kallsyms_num_syms at the BTF blob: its first word (0x0001eb9f = 125855) is a plausible
    // count, and the decode then runs into garbage or finds no _stext.
    let mut damaged = bytes;
    replace(&mut damaged, b"SYMBOL(kallsyms_num_syms)=", start);
    let dump = Vmcore::from_bytes(Path::new("damaged"), damaged.clone()).unwrap();
    let found = dump_kallsyms(&dump).expect("found by scan");
    assert!(
        found.how.contains("unreadable") && found.how.contains("found by scan"),
        "{}",
        found.how
    );
    assert_eq!(
        found.kallsyms.address("tainted_mask"),
        k.address("tainted_mask")
    );
    let r = engine::make_report(&dump, &opts(true)).unwrap();
    assert_eq!(r.source.kind, "btf");
    assert_eq!(
        serde_json::to_value(&r.report).unwrap(),
        serde_json::to_value(&good.report).unwrap(),
        "the scan's tables give the same report"
    );

    replace(&mut damaged, b"SYMBOL(_stext)=", stext + 0x40);
    let dump = Vmcore::from_bytes(Path::new("damaged"), damaged).unwrap();
    let err = dump_kallsyms(&dump)
        .err()
        .expect("a wrong _stext fits no table");
    assert!(err.contains("_stext"), "{err}");
    let r = engine::make_report(&dump, &opts(true)).unwrap();
    assert_eq!(r.source.kind, "vmcoreinfo", "{:?}", r.source.tried);
    let rung = r
        .source
        .tried
        .iter()
        .find(|a| a.source == "btf-dump")
        .unwrap();
    assert!(rung.outcome.contains("kallsyms"), "{}", rung.outcome);
}

/// Kernels before 6.0 (Debian 5.10): VMCOREINFO does not describe kallsyms, so the tables are found by
/// scanning the kernel image, and BTF at `__start_BTF` from them. `vmtaint report --no-debuginfo` on every
/// scenario and format gives the DWARF report (apart from `source`), and `source.tried` says how the
/// tables were found.
#[test]
fn kernels_before_6_0_report_the_same_without_debuginfo() {
    let old: Vec<real::Kernel> = real::kernels()
        .into_iter()
        .filter(|k| k.version() < (6, 0))
        .collect();
    assert!(
        !old.is_empty(),
        "the real-dump script makes a kernel before 6.0"
    );
    let mut checked = 0;
    for k in &old {
        let vmlinux = k.vmlinux();
        for s in k.scenarios() {
            for path in s.dumps() {
                let run = |extra: &[&str]| -> Value { common::report_json(&path, extra) };
                let dwarf = run(&["--vmlinux", vmlinux.to_str().unwrap()]);
                assert_eq!(dwarf["source"]["kind"], "dwarf", "{}", path.display());
                let btf = run(&["--no-debuginfo"]);
                assert_eq!(btf["source"]["kind"], "btf", "{}", path.display());
                let rung = btf["source"]["tried"]
                    .as_array()
                    .unwrap()
                    .last()
                    .unwrap()
                    .clone();
                assert_eq!(rung["source"], "btf-dump");
                let outcome = rung["outcome"].as_str().unwrap();
                assert!(
                    outcome.contains("VMCOREINFO does not describe them")
                        && outcome.contains("found by scan at"),
                    "{}: {outcome}",
                    path.display()
                );
                assert!(btf["tainted_mask"].is_u64(), "{}", path.display());
                assert_eq!(
                    without_source(dwarf),
                    without_source(btf),
                    "{}: the report without debuginfo differs from the DWARF one",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        old.len() * real::SCENARIOS.len() * real::KDUMP_FILES.len()
    );
}

/// Debian's arm64 kallsyms has no data symbols: every one the analyzers need is recovered from the code of
/// the functions that use it (engine::recover), at the debug vmlinux's address plus the KASLR slide, on every
/// arm64 scenario. (That the reports then equal the DWARF ones: report_real_arm64.rs.)
#[test]
fn arm64_data_symbols_recovered_from_code_are_the_vmlinux_symbols() {
    let scenarios = real::scenarios_of("aarch64");
    assert_eq!(
        scenarios.len(),
        real::SCENARIOS.len() * real::kernels_of("aarch64").len(),
        "every arm64 scenario is present"
    );
    real::check_each(scenarios, real::Scenario::id, |s| {
        let v = vmlinux(&s.kernel);
        let dump = Vmcore::open(s.dir.join("vmcore.lzo")).unwrap();
        let slide = slide(&dump);
        let src = BtfSource::from_dump(&dump).unwrap();
        let recovery = CodeRecovery::new(&src, &dump);
        let names: Vec<&str> = recoverable().collect();
        assert!(names.len() >= 12, "{names:?}");
        for name in names {
            assert_eq!(src.symbol(name), None, "{}: kallsyms has {name}", s.id());
            let want = v.symbol(name).unwrap().address.wrapping_add(slide);
            assert_eq!(
                recovery.symbol(name),
                Some(want),
                "{}: {name}: {:?}",
                s.id(),
                recovery.outcomes()
            );
        }
        assert!(recovery.outcomes().iter().all(|o| o.address.is_some()));
    });
}

/// The code recovery reads is the dump's (every copy of it in the file changed here): where it does not say what the variable is (a load replaced by a
/// NOP), the next function is read; where none does, the symbol stays unknown, the report says why, and the
/// verdict comes from the kernel log as without recovery.
#[test]
fn arm64_code_that_names_nothing_recovers_nothing() {
    let k = real::kernels_of("aarch64")
        .into_iter()
        .next()
        .expect("an arm64 kernel line");
    let path = k.dir.join("mixed").join("vmcore.elf");
    assert!(
        real::require_input(
            path.exists(),
            &path.display().to_string(),
            "make-real-cores.sh"
        ),
        "{}",
        path.display()
    );
    let words = |w: &[u32]| -> Vec<u8> { w.iter().flat_map(|w| w.to_le_bytes()).collect() };
    // get_taint: adrp x0; paciasp; autiasp; ldr x0, [x0, #3104]; ret (Debian 6.1.0-56-cloud-arm64).
    let get_taint = words(&[0xb000cc20, 0xd503233f, 0xd50323bf, 0xf9461000, 0xd65f03c0]);
    // print_tainted: adrp x0; add x0, x0, #0xc18; paciasp; ldr x1, [x0, #8]
    let print_tainted = words(&[0xb000cc20, 0x91306000, 0xd503233f, 0xf9400401]);
    let nop_load = |bytes: &mut Vec<u8>, pattern: &[u8]| {
        let at: Vec<usize> = bytes
            .windows(pattern.len())
            .enumerate()
            .filter(|(_, w)| *w == pattern)
            .map(|(i, _)| i)
            .collect();
        // The ELF dump may hold the kernel's text more than once (its text mapping and the linear map).
        assert!(!at.is_empty(), "the code is in the dump");
        for start in at {
            let load = start + pattern.len() - if pattern.len() == 20 { 8 } else { 4 };
            bytes[load..load + 4].copy_from_slice(&0xd503201fu32.to_le_bytes());
        }
    };
    let report = |dump: Vmcore| {
        let r = engine::make_report(&dump, &opts(true)).unwrap();
        serde_json::to_value(&r).unwrap()
    };
    // The file (800 MB) is read and changed once per case, never held twice.
    let damaged = |patterns: &[&[u8]]| {
        let mut bytes = std::fs::read(&path).unwrap();
        for p in patterns {
            nop_load(&mut bytes, p);
        }
        report(Vmcore::from_bytes(&path, bytes).unwrap())
    };
    let outcome = |r: &Value| -> String {
        r["source"]["tried"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| {
                a["source"] == "kernel-code"
                    && a["outcome"].as_str().unwrap().starts_with("`tainted_mask`")
            })
            .map(|a| a["outcome"].as_str().unwrap().to_string())
            .expect("an outcome for tainted_mask")
    };
    let good = report(Vmcore::open(&path).unwrap());
    let r = damaged(&[&get_taint]);
    assert!(
        outcome(&r).contains("recovered from print_tainted's code"),
        "{}",
        outcome(&r)
    );
    assert_eq!(r["tainted_mask"], good["tainted_mask"]);
    assert_eq!(r["tainted_mask_source"], "memory");
    let r = damaged(&[&get_taint, &print_tainted]);
    let o = outcome(&r);
    assert!(
        o.contains("not recovered") && o.contains("get_taint") && o.contains("print_tainted"),
        "{o}"
    );
    assert_eq!(r["tainted_mask_source"], "kernel_log", "{}", r["problems"]);
    assert!(
        r["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["message"]
                .as_str()
                .unwrap()
                .starts_with("`tainted_mask` not recovered")),
        "{}",
        r["problems"]
    );
    // What was recovered still is: modules, from print_modules.
    assert_eq!(r["modules"], good["modules"]);
}
