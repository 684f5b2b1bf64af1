//! last_unloaded_module in both forms, unloaded_tainted_modules, and attribution of orphan flags.

mod taint_kit;

use analyzers::modules::analyze_modules;
use analyzers::taint::read_taint_table;
use analyzers::unloaded::{attribute_flags, read_unloaded, Evidence};
use taint_kit::*;

#[test]
fn struct_form_strips_parentheses_and_keeps_raw() {
    let mut k = Kit::v6_1();
    k.last_unloaded_struct("oops_mod", "(POE)");
    let u = read_unloaded(&k.t, &read_taint_table(&k.t));
    let l = u.last_unloaded_module.unwrap();
    assert_eq!(l.name, "oops_mod");
    assert_eq!(l.taints.as_deref(), Some("POE"));
    assert_eq!(l.taints_raw.as_deref(), Some("(POE)"));
    assert_eq!(u.unloaded_tainted_modules, None);
    assert!(u.problems.is_empty());
}

#[test]
fn untainted_last_unloaded_has_empty_taints() {
    let mut k = Kit::v6_1();
    k.last_unloaded_struct("loop", "");
    let l = read_unloaded(&k.t, &read_taint_table(&k.t))
        .last_unloaded_module
        .unwrap();
    assert_eq!((l.name.as_str(), l.taints.as_deref()), ("loop", Some("")));
}

#[test]
fn nothing_unloaded_since_boot_is_null() {
    let k = Kit::v6_1();
    let u = read_unloaded(&k.t, &read_taint_table(&k.t));
    assert_eq!(u.last_unloaded_module, None);
}

#[test]
fn old_char_array_form() {
    let mut k = Kit::bare();
    k.last_unloaded_array("floppy");
    let l = read_unloaded(&k.t, &read_taint_table(&k.t))
        .last_unloaded_module
        .unwrap();
    assert_eq!(l.name, "floppy");
    assert_eq!(l.taints, None);
    assert_eq!(l.taints_raw, None);
}

#[test]
fn unloaded_tainted_modules_list_with_counts() {
    let mut k = Kit::v6_1();
    k.unloaded_tainted(&[("nvidia", bits("PO"), 2), ("test_mod", bits("OE"), 1)]);
    let u = read_unloaded(&k.t, &read_taint_table(&k.t));
    let list = u.unloaded_tainted_modules.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (
            list[0].name.as_str(),
            list[0].taints.as_str(),
            list[0].count
        ),
        ("nvidia", "PO", 2)
    );
    assert_eq!(
        (
            list[1].name.as_str(),
            list[1].taints.as_str(),
            list[1].count
        ),
        ("test_mod", "OE", 1)
    );
}

#[test]
fn orphan_flags_are_attributed_to_named_modules() {
    let mut k = Kit::v6_1();
    // loaded: "hello" carries O only; P, E are orphans; W is not a module flag
    k.add_module(&Mod::new("hello").taints(bits("O")));
    k.add_module(&Mod::new("ext4"));
    k.link();
    k.last_unloaded_struct("oops_mod", "(OE)");
    k.unloaded_tainted(&[("nvidia", bits("P"), 3)]);
    let mask = bits("PWOE");
    let table = read_taint_table(&k.t);
    let modules = analyze_modules(&k.t, &table).unwrap().modules;
    let unloaded = read_unloaded(&k.t, &table);
    let log = [('P', "nvidia".to_string()), ('E', "oops_mod".to_string())];
    let a = attribute_flags(mask, &table, &modules, &unloaded, &log);
    let got: Vec<(char, &str, Evidence)> = a
        .hints
        .iter()
        .map(|h| (h.letter, h.module.as_str(), h.evidence))
        .collect();
    assert_eq!(
        got,
        [
            ('P', "nvidia", Evidence::UnloadedTaintedModules),
            ('P', "nvidia", Evidence::KernelLog),
            ('E', "oops_mod", Evidence::LastUnloadedModule),
            ('E', "oops_mod", Evidence::KernelLog),
        ]
    );
    assert_eq!(
        a.hints[0].detail.as_deref(),
        Some("taints (P), unloaded 3 time(s)")
    );
    assert_eq!(a.hints[2].detail.as_deref(), Some("taints (OE)"));
    assert!(a.unexplained.is_empty());
}

#[test]
fn orphan_flag_without_evidence_is_unexplained() {
    let mut k = Kit::v6_1();
    k.add_module(&Mod::new("ext4"));
    k.link();
    let table = read_taint_table(&k.t);
    let modules = analyze_modules(&k.t, &table).unwrap().modules;
    let unloaded = read_unloaded(&k.t, &table);
    // T (RANDSTRUCT) is set at boot, never by a module: not an orphan
    let a = attribute_flags(
        bits("PWT"),
        &table,
        &modules,
        &unloaded,
        &[('O', "x".into())],
    );
    assert!(a.hints.is_empty());
    let un: Vec<char> = a.unexplained.iter().map(|f| f.letter).collect();
    assert_eq!(un, ['P']);
}

/// Values the kernel cannot have written are named in `problems`, never reported as facts.
#[test]
fn impossible_last_unloaded_values_are_flagged_not_reported() {
    let table = |k: &Kit| read_taint_table(&k.t);
    // A name filling all 57 bytes with no NUL: not a string the kernel wrote.
    let mut k = Kit::v6_1();
    k.last_unloaded_struct("x", "(POE)");
    k.t.write(LAST_UNLOADED, &[b'a'; 57]);
    let u = read_unloaded(&k.t, &table(&k));
    assert_eq!(u.last_unloaded_module, None);
    assert!(
        u.problems
            .iter()
            .any(|p| p.contains("last_unloaded_module.name") && p.contains("no terminating NUL")),
        "{:?}",
        u.problems
    );
    // Taints with a letter the kernel's own table does not have: the name stays, the taints are unknown.
    for bad in ["(PQE)", "POE", "(P\u{1}E)"] {
        let mut k = Kit::v6_1();
        k.last_unloaded_struct("oot_gone", bad);
        let u = read_unloaded(&k.t, &table(&k));
        let l = u.last_unloaded_module.expect("the name is plausible");
        assert_eq!(l.name, "oot_gone");
        assert_eq!((l.taints, l.taints_raw), (None, None), "{bad}");
        assert!(
            u.problems
                .iter()
                .any(|p| p.contains("last_unloaded_module.taints")),
            "{bad}: {:?}",
            u.problems
        );
    }
}

#[test]
fn impossible_unloaded_tainted_entries_are_flagged_not_reported() {
    let mut k = Kit::v6_1();
    k.unloaded_tainted(&[
        ("nvidia", bits("PO"), 2),
        ("never_unloaded", bits("O"), 0),
        ("boot_flag", bits("W"), 1),
        ("ok_mod", bits("E"), 1),
    ]);
    let u = read_unloaded(&k.t, &read_taint_table(&k.t));
    let names: Vec<String> = u
        .unloaded_tainted_modules
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["nvidia", "ok_mod"]);
    let joined = u.problems.join("\n");
    assert!(
        joined.contains("never_unloaded") && joined.contains("count 0"),
        "{joined}"
    );
    assert!(
        joined.contains("boot_flag") && joined.contains("not module taints"),
        "{joined}"
    );
}
