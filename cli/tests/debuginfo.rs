//! Choosing the debug vmlinux: a vmlinux for another build is refused with both build-ids named (unless
//! --ignore-build-id), and the report says which source it used and how it matched.

mod common;
use common::vmtaint;

use serde_json::Value;
use testcores::real;

#[test]
fn a_vmlinux_of_another_build_is_refused_naming_both_ids() {
    let mixed = real::all_scenarios()
        .into_iter()
        .filter(|s| s.name == "mixed");
    real::check_each(mixed, real::Scenario::id, refused_naming_both_ids);
}

fn refused_naming_both_ids(s: &real::Scenario) {
    let dump = s.dir.join("vmcore.lzo");
    let dump_id = vmcore::Vmcore::open(&dump)
        .unwrap()
        .vmcoreinfo()
        .unwrap()
        .build_id
        .clone()
        .unwrap();
    // An ELF with DWARF and a GNU build-id that is not this kernel's: the test's own vmtaint binary.
    let other = env!("CARGO_BIN_EXE_vmtaint");
    let other_id = real::readelf_build_id(std::path::Path::new(other));
    let (code, out, err) = vmtaint(&["report", "--vmlinux", other, dump.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    for needle in [
        other,
        dump_id.as_str(),
        other_id.as_str(),
        "--ignore-build-id",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in: {err}");
    }
    // Overridden: a report is made (the wrong symbols find nothing, which the report says).
    let (code, out, err) = vmtaint(&[
        "report",
        "--json",
        "--ignore-build-id",
        "--vmlinux",
        other,
        dump.to_str().unwrap(),
    ]);
    // A report is made (and printed), but with another build's symbols there is no verdict: exit 3, why on stderr.
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("no taint verdict") && err.contains("tainted_mask"),
        "{err}"
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["source"]["matched_by"], "ignored (--ignore-build-id)");
    // No mask from memory; at most the one the kernel log shows, said so.
    assert!(
        r["tainted_mask"].is_null() || r["tainted_mask_source"] == "kernel_log",
        "{}",
        r["tainted_mask_source"]
    );
    assert!(!r["problems"].as_array().unwrap().is_empty());
}

#[test]
fn the_matching_vmlinux_is_found_by_build_id_and_named() {
    let s = real::scenario("clean").expect("clean");
    let (code, out, err) = vmtaint(&[
        "report",
        "--json",
        s.dir.join("vmcore.zlib").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["source"]["kind"], "dwarf");
    assert_eq!(r["source"]["matched_by"], "build-id");
    assert_eq!(r["source"]["origin"], real::vmlinux().to_str().unwrap());
    assert_eq!(r["taint_string"], "Not tainted");
}

/// Every kernel's vmlinux is found by build-id in a --debuginfo-dir laid out as `<release>/vmlinux` (the
/// testcores directory), and the report names that file.
#[test]
fn every_kernels_vmlinux_is_found_in_a_debuginfo_dir() {
    let dir = real::dir();
    let clean = real::all_scenarios()
        .into_iter()
        .filter(|s| s.name == "clean");
    real::check_each(clean, real::Scenario::id, |s| {
        let (code, out, err) = vmtaint(&[
            "report",
            "--json",
            "--debuginfo-dir",
            dir.to_str().unwrap(),
            s.dir.join("vmcore.zlib").to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let r: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(r["source"]["kind"], "dwarf");
        assert_eq!(r["source"]["matched_by"], "build-id");
        let origin = std::path::PathBuf::from(r["source"]["origin"].as_str().unwrap());
        assert_eq!(
            std::fs::canonicalize(&origin).unwrap(),
            std::fs::canonicalize(s.kernel.vmlinux()).unwrap(),
            "{origin:?}"
        );
        assert_eq!(r["taint_string"], "Not tainted");
    });
}
