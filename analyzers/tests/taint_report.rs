//! The combined report: JSON contract, text rendering, signatures, and analyzers failing independently.

mod taint_kit;

use analyzers::report::{analyze, analyze_with, SCHEMA_VERSION};
use analyzers::signatures::{ForceConfig, UnsignedExplanation};
use taint_kit::*;

/// The guest scenario: oops in an out-of-tree, unsigned, proprietary module; mask P W O E.
fn guest() -> Kit {
    let mut k = Kit::v6_1();
    k.mask(0x3201);
    let mut hello = Mod::new("hello").taints(bits("POE")).unsigned();
    hello.version = Some("0.1");
    k.add_module(&Mod::new("ext4"));
    k.add_module(&hello);
    k.link();
    k.last_unloaded_struct("loop", "");
    k
}

#[test]
fn json_keys_are_the_contract() {
    let r = analyze_with(&guest().t, &[('P', "hello".into())]);
    let v = serde_json::to_value(&r).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "crash_reports",
            "crash_site",
            "flags",
            "kernel_log",
            "keyrings",
            "last_unloaded_module",
            "load_failures",
            "log_only",
            "modules",
            "panic",
            "problems",
            "schema_version",
            "signatures",
            "taint_source",
            "taint_string",
            "tainted_mask",
            "tainted_mask_source",
            "timeline",
            "unexplained_flags",
            "unloaded_hints",
            "unloaded_tainted_modules",
        ]
    );
    assert_eq!(v["schema_version"], SCHEMA_VERSION);
    assert_eq!(v["tainted_mask"], 0x3201);
    assert_eq!(v["taint_string"], "Tainted: P        W  OE     ");
    assert_eq!(v["taint_source"], "taint_flags");
    assert_eq!(
        v["flags"][0],
        serde_json::json!({"bit": 0, "letter": "P", "name": "PROPRIETARY_MODULE"})
    );
    let m = &v["modules"][1];
    let mut mkeys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    mkeys.sort_unstable();
    assert_eq!(
        mkeys,
        [
            "address",
            "base",
            "name",
            "parameters",
            "signed",
            "size",
            "srcversion",
            "state",
            "taints",
            "version"
        ]
    );
    assert_eq!(m["taints"], "POE");
    assert_eq!(m["signed"], false);
    assert_eq!(v["last_unloaded_module"]["name"], "loop");
    assert_eq!(v["signatures"]["unsigned_modules"][0], "hello");
    assert_eq!(v["signatures"]["unsigned_flag"], "explained");
    // hello carries P, O, E: nothing is orphaned, the log event is not needed
    assert_eq!(v["unloaded_hints"], serde_json::json!([]));
    assert_eq!(v["timeline"], serde_json::json!([]));
    assert!(v["panic"].is_null(), "no log, no panic_cpu: nothing to say");
    // The fake kernel has no log: that is named, and it is the only problem.
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["analyzer"], "kernel_log");
}

#[test]
fn text_starts_with_the_verdict_and_colours_only_on_request() {
    let r = analyze(&guest().t);
    let plain = render::text::report(&r, false);
    assert!(plain.starts_with("TAINTED: P W O E (0x3201)\n"), "{plain}");
    assert!(!plain.contains('\x1b'));
    assert!(plain.contains("Kernel prints: \"Tainted: P        W  OE     \""));
    assert!(plain.contains("  P <- hello (loaded)"), "{plain}");
    assert!(plain.contains("last unloaded: loop"));
    // aligned module table: both rows put STATE in the same column
    let rows: Vec<&str> = plain
        .lines()
        .filter(|l| l.contains(" LIVE ") || l.contains("STATE"))
        .collect();
    assert_eq!(rows.len(), 3, "{plain}");
    let col = |l: &str, w: &str| l.find(w).unwrap();
    assert_eq!(col(rows[0], "STATE"), col(rows[1], "LIVE"));
    assert_eq!(col(rows[1], "LIVE"), col(rows[2], "LIVE"));
    let colored = render::text::report(&r, true);
    assert!(colored.starts_with("\x1b[1;31mTAINTED: P W O E (0x3201)\x1b[0m"));
}

#[test]
fn not_tainted_report() {
    let mut k = Kit::v6_1();
    k.add_module(&Mod::new("ext4"));
    k.link();
    let r = analyze(&k.t);
    assert_eq!(r.taint_string.as_deref(), Some("Not tainted"));
    assert!(render::text::report(&r, false).starts_with("Not tainted\n"));
    assert_eq!(r.signatures.unsigned_flag, UnsignedExplanation::NotSet);
}

#[test]
fn e_flag_without_unsigned_loaded_module_points_at_the_unloaded_one() {
    let mut k = Kit::v6_1();
    k.mask(bits("OE"));
    k.add_module(&Mod::new("ext4"));
    k.link();
    k.last_unloaded_struct("oops_mod", "(OE)");
    let r = analyze(&k.t);
    assert_eq!(
        r.signatures.unsigned_flag,
        UnsignedExplanation::UnexplainedByLoadedModules
    );
    assert_eq!(r.signatures.sig_enforce, Some(false));
    assert_eq!(r.signatures.module_sig_force, ForceConfig::NotSet);
    assert_eq!(r.signatures.enforcement_effective, Some(false));
    assert_eq!(r.signatures.lockdown.as_deref(), Some("LOCKDOWN_NONE"));
    let hinted: Vec<(char, &str)> = r
        .unloaded_hints
        .iter()
        .map(|h| (h.letter, h.module.as_str()))
        .collect();
    assert_eq!(hinted, [('O', "oops_mod"), ('E', "oops_mod")]);
    assert!(render::text::report(&r, false).contains("  E <- oops_mod (last unloaded)"));
}

#[test]
fn lockdown_enforces_even_without_sig_enforce() {
    let mut k = Kit::v6_1();
    k.t.write_u32(LOCKED_DOWN, 21);
    let r = analyze(&k.t);
    assert_eq!(
        r.signatures.lockdown.as_deref(),
        Some("LOCKDOWN_INTEGRITY_MAX")
    );
    assert_eq!(r.signatures.enforcement_effective, Some(true));
}

#[test]
fn one_failing_analyzer_does_not_hide_the_others() {
    let mut k = guest();
    // break the module list head and the taint table; the mask and last_unloaded_module still read
    k.t.exclude(MODULES..MODULES + 16);
    k.t.exclude(TAINT_FLAGS..TAINT_FLAGS + 57);
    let r = analyze(&k.t);
    assert_eq!(r.tainted_mask, Some(0x3201));
    assert!(r.modules.is_empty());
    assert_eq!(r.last_unloaded_module.as_ref().unwrap().name, "loop");
    let by: Vec<&str> = r.problems.iter().map(|p| p.analyzer.name()).collect();
    assert!(
        by.contains(&"modules") && by.contains(&"taint"),
        "{:?}",
        r.problems
    );
    // built-in table for 6.1 reproduces the same string
    assert_eq!(
        r.taint_string.as_deref(),
        Some("Tainted: P        W  OE     ")
    );
    // with no module readable, P O E have no candidate at all
    let un: String = r.unexplained_flags.iter().map(|f| f.letter).collect();
    assert_eq!(un, "POE");
}

#[test]
fn unreadable_mask_still_reports_modules() {
    let mut k = guest();
    k.t.exclude(TAINTED_MASK..TAINTED_MASK + 8);
    let r = analyze(&k.t);
    assert_eq!(r.tainted_mask, None);
    assert_eq!(r.modules.len(), 2);
    assert!(render::text::report(&r, false).starts_with("Taint state unknown"));
    assert!(r
        .problems
        .iter()
        .any(|p| p.analyzer == "taint" && p.message.contains("tainted_mask")));
}
