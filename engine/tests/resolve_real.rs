//! Address resolution on real dumps: the oops scenario's faulting RIP, taken from the dump's own
//! NT_PRSTATUS (the registers kdump saved), resolves through the module's in-memory symbol table to what the
//! kernel printed (`RIP: 0010:oot_oops_poke+0x5/0x1000 [oot_oops]`); call-trace frames in vmlinux resolve
//! through `.symtab` (DWARF rung) and the dump's kallsyms (no debuginfo) to the printed `func+off/size`.

use analyzers::resolve::{Resolution, Resolver};
use analyzers::target::Target;
use engine::btf_source::BtfSource;
use engine::debuginfo::{choose_source, Chosen, DebuginfoOptions, VmlinuxCache};
use engine::target::DumpTarget;

/// `func+0xoff/0xsize` and the optional `[module]` of a printed location.
fn printed(text: &str) -> (String, u64, u64, Option<String>) {
    let (loc, module) = match text.split_once(" [") {
        Some((l, m)) => (l, Some(m.trim_end_matches(']').to_string())),
        None => (text, None),
    };
    let (name, rest) = loc.rsplit_once('+').expect("func+off/size");
    let (off, size) = rest.split_once('/').expect("off/size");
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    (name.to_string(), hex(off), hex(size), module)
}

fn dmesg_lines(sc: &testcores::real::Scenario) -> Vec<String> {
    std::fs::read_to_string(sc.dir.join("vmcore-dmesg.txt"))
        .expect("vmcore-dmesg.txt")
        .lines()
        .map(|l| l.split_once("] ").map_or(l, |(_, t)| t).to_string())
        .collect()
}

#[test]
fn oops_rip_and_call_trace_resolve_to_what_the_kernel_printed() {
    let kernel = testcores::real::default_kernel();
    let Some(sc) = kernel.scenario("oops") else {
        return;
    };
    let lines = dmesg_lines(&sc);
    let rip_line = lines
        .iter()
        .find_map(|l| l.strip_prefix("RIP: 0010:"))
        .expect("a kernel-mode RIP line");
    let (rip_sym, rip_off, _, rip_mod) = printed(rip_line);
    let frame = lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("do_one_initcall+"))
        .expect("do_one_initcall on the trace");
    let (frame_sym, frame_off, frame_size, _) = printed(frame);

    let dump = vmcore::Vmcore::open(sc.dir.join("vmcore.lzo")).expect("opens");
    // The CPU that oopsed: the one whose saved RIP is a kernel address (the others sit in the NMI stop path).
    let rips: Vec<u64> = dump
        .notes()
        .prstatus
        .iter()
        .filter_map(|p| p.reg("rip"))
        .collect();
    assert!(!rips.is_empty(), "no NT_PRSTATUS in the dump");

    let opts = DebuginfoOptions {
        vmlinux: Some(kernel.vmlinux()),
        ..Default::default()
    };
    let chosen =
        choose_source(&dump, &opts, &VmlinuxCache::default(), &mut Vec::new()).expect("source");
    let Chosen::Dwarf(dwarf, _) = chosen else {
        panic!("the debug vmlinux is not used")
    };
    let from_dump = BtfSource::from_dump(&dump).expect("kallsyms and BTF in the dump");
    for (what, symbols) in [
        ("dwarf", &dwarf as &dyn engine::target::SymbolSource),
        ("kallsyms", &from_dump),
    ] {
        let t = DumpTarget {
            dump: &dump,
            symbols,
        };
        let table = analyzers::taint::read_taint_table(&t);
        let modules = analyzers::modules::analyze_modules(&t, &table)
            .expect("modules")
            .modules;
        let mut r = Resolver::new(&t, &modules, None);
        let resolved: Vec<Resolution> = rips.iter().map(|&a| r.resolve(a)).collect();
        assert!(
            resolved.contains(&Resolution::Module {
                module: rip_mod.clone().expect("[module] printed"),
                symbol: Some(rip_sym.clone()),
                offset: rip_off,
                size: resolved.iter().find_map(|x| match x {
                    Resolution::Module { size, .. } => *size,
                    _ => None,
                }),
                init: false,
            }),
            "{what}: saved RIPs {rips:x?} resolve to {resolved:?}, the kernel printed {rip_line}"
        );
        assert!(r.problems.is_empty(), "{what}: {:?}", r.problems);

        let at = t.symbol(&frame_sym).expect("symbol") + frame_off;
        match r.resolve(at) {
            Resolution::Vmlinux {
                symbol,
                offset,
                size,
            } => {
                assert_eq!(
                    (symbol.as_str(), offset),
                    (frame_sym.as_str(), frame_off),
                    "{what}"
                );
                // The kernel's %pS size is the distance to the next kallsyms symbol.
                if what == "kallsyms" {
                    assert_eq!(size, Some(frame_size), "{what}: size");
                }
            }
            other => panic!("{what}: {frame} resolved to {other:?}"),
        }
    }
}

fn report(sc: &testcores::real::Scenario, no_debuginfo: bool) -> analyzers::report::Report {
    let dump = vmcore::Vmcore::open(sc.dir.join("vmcore.lzo")).expect("opens");
    let opts = DebuginfoOptions {
        vmlinux: (!no_debuginfo).then(|| sc.kernel.vmlinux()),
        no_debuginfo,
        ..Default::default()
    };
    engine::make_report(&dump, &opts).expect("report").report
}

/// `/proc/keys` rows: serial -> (type column, describe text).
fn proc_keys(sc: &testcores::real::Scenario) -> Vec<(u32, String, String)> {
    let text = std::fs::read_to_string(sc.dir.join("truth/keys.txt")).unwrap_or_else(|e| {
        panic!(
            "{}: truth/keys.txt: {e} (rebuild the dumps)",
            sc.dir.display()
        )
    });
    text.lines()
        .map(|l| {
            let serial = u32::from_str_radix(&l[..8], 16).expect("serial");
            // serial flags usage timeout perm uid gid, then the type in 9 columns, then describe().
            let mut rest = l;
            for _ in 0..7 {
                rest = rest.trim_start();
                rest = &rest[rest.find(' ').unwrap_or(rest.len())..];
            }
            let rest = rest.trim_start();
            let (ty, describe) = rest.split_at(rest.len().min(9));
            (
                serial,
                ty.trim().to_string(),
                describe.trim_start().to_string(),
            )
        })
        .collect()
}

#[test]
fn keyrings_match_the_guests_proc_keys() {
    let kernel = testcores::real::default_kernel();
    let Some(sc) = kernel.scenario("oops") else {
        return;
    };
    let truth = proc_keys(&sc);
    for no_debuginfo in [false, true] {
        let r = report(&sc, no_debuginfo);
        let ctx = if no_debuginfo {
            "kallsyms+BTF"
        } else {
            "dwarf"
        };
        let names: Vec<&str> = r.keyrings.iter().map(|k| k.name.as_str()).collect();
        for want in [
            ".builtin_trusted_keys",
            ".secondary_trusted_keys",
            ".platform",
            ".machine",
        ] {
            let in_guest = truth
                .iter()
                .any(|(_, ty, d)| ty == "keyring" && d.starts_with(&format!("{want}: ")));
            assert_eq!(
                names.contains(&want),
                in_guest,
                "{ctx}: {want} in {names:?}"
            );
        }
        let mut keys_seen = 0;
        for k in &r.keyrings {
            assert!(k.problems.is_empty(), "{ctx}: {}: {:?}", k.name, k.problems);
            let (_, _, describe) = truth
                .iter()
                .find(|(_, ty, d)| ty == "keyring" && d.starts_with(&format!("{}: ", k.name)))
                .unwrap_or_else(|| panic!("{ctx}: {} not in /proc/keys", k.name));
            let count = describe.rsplit(": ").next().unwrap();
            let want = if count == "empty" {
                0
            } else {
                count.parse().unwrap()
            };
            assert_eq!(k.keys.len(), want, "{ctx}: {} has {describe}", k.name);
            for key in &k.keys {
                let serial = key.serial.expect("serial");
                let (_, ty, d) = truth
                    .iter()
                    .find(|(s, _, _)| *s == serial)
                    .unwrap_or_else(|| panic!("{ctx}: key {serial:08x} not in /proc/keys"));
                let key_type = key.key_type.as_deref().unwrap();
                assert!(
                    key_type.starts_with(ty.as_str()),
                    "{ctx}: {key_type} vs {ty}"
                );
                let desc = key.description.as_deref().unwrap();
                assert!(
                    d.starts_with(&format!("{desc}: ")),
                    "{ctx}: {desc:?} vs {d:?}"
                );
                keys_seen += 1;
            }
        }
        // Not vacuous: Debian's build key is in .builtin_trusted_keys.
        assert!(keys_seen >= 1, "{ctx}: no keys at all");
        assert!(
            r.keyrings.iter().any(|k| k.name == ".builtin_trusted_keys"
                && k.keys
                    .iter()
                    .any(|x| x.key_type.as_deref() == Some("asymmetric"))),
            "{ctx}: {:?}",
            r.keyrings
        );
    }
}

#[test]
fn parameters_match_the_guests_sysfs() {
    let kernel = testcores::real::default_kernel();
    let Some(sc) = kernel.scenario("mixed") else {
        return;
    };
    let text = std::fs::read_to_string(sc.dir.join("truth/params.txt"))
        .unwrap_or_else(|e| panic!("truth/params.txt: {e} (rebuild the dumps)"));
    let truth: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let (n, v) = l.split_once('=').expect("name=value");
            (n.to_string(), v.to_string())
        })
        .collect();
    assert!(truth.len() >= 9, "{truth:?}");
    for no_debuginfo in [false, true] {
        let r = report(&sc, no_debuginfo);
        let m = r
            .modules
            .iter()
            .find(|m| m.name == "oot_params")
            .expect("oot_params loaded");
        let mut ours: Vec<(String, String)> = m
            .parameters
            .as_ref()
            .expect("parameters")
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.value
                        .clone()
                        .unwrap_or_else(|| format!("?{:?}", p.problem)),
                )
            })
            .collect();
        ours.sort();
        let mut want = truth.clone();
        want.sort();
        assert_eq!(ours, want, "no_debuginfo={no_debuginfo}");
        // Every other module's parameters read without problems (Debian's own modules; a module's own
        // ops, e.g. fuse's, are `unknown` with the pointer).
        for m in &r.modules {
            for p in m.parameters.iter().flatten() {
                assert!(p.problem.is_none(), "{}: {p:?}", m.name);
                assert_eq!(p.kind == "unknown", p.value.is_none(), "{}: {p:?}", m.name);
            }
        }
    }
}
