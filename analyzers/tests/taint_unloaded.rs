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
