//! `vmtaint scan`'s crash facts on the default kernel's real dumps: the JSON keys `crash_owner`,
//! `tainting_module_at_crash` and `load_failure_count` of each line, and the CSV columns of the same names
//! (appended to the old ones), against what each guest did: an oops in oot_oops's own function (`oops`), a
//! sysrq crash with tainting modules loaded (`mixed`), an oops in a kernel function oot_core called
//! (`coreoops`), the failed loads of `truth/load_attempts.txt` (`loadfail`). `vmtaint summary` reads the lines
//! back into the same columns.

mod common;
use common::vmtaint;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use testcores::real;

/// The fields of one CSV line (quoted fields with doubled quotes, as `render::summary::csv_row` writes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let (mut quoted, mut chars) = (false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// Scenario name -> its row, as a map of column -> value.
fn csv_rows(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = csv_fields(lines.next().unwrap());
    lines
        .map(|l| {
            let row: BTreeMap<String, String> = header.iter().cloned().zip(csv_fields(l)).collect();
            let name = scenario_of(&row["path"]);
            (name, row)
        })
        .collect()
}

/// `<tree>/<scenario>/vmcore` -> `<scenario>`.
fn scenario_of(path: &str) -> String {
    Path::new(path)
        .parent()
        .and_then(Path::file_name)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn scan_lines_and_csv_carry_the_crash_facts() {
    let names = ["oops", "mixed", "coreoops", "loadfail"];
    let scenarios: Vec<real::Scenario> = real::scenarios()
        .into_iter()
        .filter(|s| names.contains(&s.name))
        .collect();
    if scenarios.is_empty() {
        return; // the gate said loudly that the real dumps are missing (VMTAINT_ALLOW_MISSING_REAL=1)
    }
    assert_eq!(scenarios.len(), names.len(), "{scenarios:?}");
    let tmp = std::env::temp_dir().join(format!("vmtaint-scan-facts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let tree = tmp.join("crash");
    for s in &scenarios {
        let d = tree.join(s.name);
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink(s.dir.join("vmcore.lzo"), d.join("vmcore")).unwrap();
    }
    let (jsonl, csv, merged_csv) = (
        tmp.join("out.jsonl"),
        tmp.join("out.csv"),
        tmp.join("merged.csv"),
    );
    let (code, _, stderr) = vmtaint(&[
        "scan",
        "--debuginfo-dir",
        real::dir().to_str().unwrap(),
        tree.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let lines: BTreeMap<String, Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (scenario_of(v["path"].as_str().unwrap()), v)
        })
        .collect();
    assert_eq!(lines.len(), names.len());

    // The CSV: the old columns first, in their order, then the three new ones.
    let header = std::fs::read_to_string(&csv).unwrap();
    let header = header.lines().next().unwrap();
    assert!(
        header.starts_with(
            "path,verdict,tainted_mask,taint_string,flags,tainting_modules,unexplained_flags,release,error,"
        ) && header.ends_with(",crash_owner,tainting_module_at_crash,load_failure_count"),
        "{header}"
    );
    let rows = csv_rows(&csv);

    let want = |s: &real::Scenario| -> (&str, &str, usize) {
        match s.name {
            // The module whose own function oopsed.
            "oops" => ("oot_oops", "at_site", 0),
            // sysrq_handle_crash: kernel proper, and the tainting modules nowhere on the trace.
            "mixed" => ("kernel proper", "absent", 0),
            // kstrtoint/kstrtoll (kernel proper), called by oot_core's own function.
            "coreoops" => ("kernel proper", "on_trace", 0),
            "loadfail" => {
                let failed = s.load_attempts().iter().filter(|a| a.status != 0).count();
                assert_eq!(failed, 5, "{:?}", s.load_attempts());
                // The guest crashed by sysrq after its failed loads (no module at the crash).
                ("kernel proper", "absent", failed)
            }
            _ => unreachable!(),
        }
    };
    for s in &scenarios {
        let line = &lines[s.name];
        let (owner, relation, failures) = want(s);
        let got = (
            line["crash_owner"].as_str().unwrap_or("<null>"),
            line["tainting_module_at_crash"].as_str().unwrap(),
            line["load_failure_count"].as_u64().unwrap() as usize,
        );
        assert_eq!(got, (owner, relation, failures), "{}", s.id());
        // The count is the report's own list.
        assert_eq!(line["load_failures"].as_array().unwrap().len(), failures);
        if s.name == "mixed" {
            // Absent, not unknown: the guest had tainting modules loaded.
            let tainting = s.modules().values().filter(|l| !l.is_empty()).count();
            assert!(tainting > 0, "{}", s.id());
            assert!(
                line["crash_site"]["tainting_modules"]
                    .as_array()
                    .unwrap()
                    .len()
                    >= tainting,
                "{}",
                line["crash_site"]
            );
        }
        let row = &rows[s.name];
        assert_eq!(
            (
                row["crash_owner"].as_str(),
                row["tainting_module_at_crash"].as_str(),
                row["load_failure_count"].as_str(),
            ),
            (owner, relation, failures.to_string().as_str()),
            "{}: {row:?}",
            s.id()
        );
    }

    // Read back: `vmtaint summary` writes the same CSV from the lines.
    let (code, _, stderr) = vmtaint(&[
        "summary",
        jsonl.to_str().unwrap(),
        "--csv",
        merged_csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(csv_rows(&merged_csv), rows);
    std::fs::remove_dir_all(&tmp).unwrap();
}
