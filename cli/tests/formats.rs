//! `report --format text|json|markdown` on real dumps (`--json` still the JSON one), the JSON document read
//! back into typed data unchanged, and the generated shell completions and manual page.

mod common;
use common::vmtaint;

use analyzers::document::FullReport;
use testcores::real;

#[test]
fn markdown_has_the_flags_culprits_modules_and_timeline_of_the_real_dump() {
    let s = real::scenario("mixed").expect("the mixed scenario");
    let dump = &s.dumps()[0];
    let (code, md, err) = vmtaint(&["report", dump.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(code, 0, "{err}");
    let (_, json, _) = vmtaint(&["report", dump.to_str().unwrap(), "--json"]);
    let (_, json2, _) = vmtaint(&["report", dump.to_str().unwrap(), "--format", "json"]);
    assert_eq!(json, json2, "--json is --format json");
    let full: FullReport = serde_json::from_str(&json).unwrap();
    let r = &full.report;
    assert_eq!(r.tainted_mask, Some(s.tainted()));
    assert!(md.starts_with("**TAINTED: "), "{md}");
    assert!(md.contains(&format!("(`{:#x}`)", s.tainted())), "{md}");
    for f in &r.flags {
        assert!(
            md.contains(&format!("| {} | {} | {} |", f.letter, f.bit, f.name)),
            "{}\n{md}",
            f.name
        );
    }
    for (name, taints) in s.modules() {
        assert!(
            md.contains(&format!("| {name} | LIVE | {taints} |")),
            "{name}\n{md}"
        );
        if !taints.is_empty() {
            assert!(
                md.contains(&format!("{name} (loaded)")),
                "culprit {name}\n{md}"
            );
        }
    }
    assert!(md.contains("### Culprits") && md.contains("### Modules"));
    let fenced: Vec<&str> = md.split("```").collect();
    assert_eq!(fenced.len(), 3, "one code block: the timeline\n{md}");
    assert_eq!(
        fenced[1].lines().filter(|l| l.starts_with('[')).count(),
        r.timeline.len()
    );
    assert!(md.contains(&full.dump.path));
}

#[test]
fn every_real_report_reads_back_into_the_same_document() {
    for s in real::scenarios() {
        for dump in s.dumps() {
            let (code, json, err) = vmtaint(&["report", dump.to_str().unwrap(), "--json"]);
            assert_eq!(code, 0, "{err}");
            let full: FullReport = serde_json::from_str(&json).unwrap();
            assert_eq!(
                serde_json::to_string_pretty(&full).unwrap() + "\n",
                json,
                "{}",
                dump.display()
            );
        }
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_cli_definition() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = vmtaint(&["completions", shell]);
        assert_eq!(code, 0, "{err}");
        for word in ["summary", "report", "markdown", "--debuginfo-dir"] {
            assert!(out.contains(word), "{shell}: {word}");
        }
    }
    let (code, _, err) = vmtaint(&["completions", "tcsh-9000"]);
    assert_eq!(code, 2, "{err}");
    let (code, man, err) = vmtaint(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        man.starts_with(".ie") || man.contains(".TH vmtaint"),
        "{man}"
    );
    for word in ["summary", "completions", "report"] {
        assert!(man.contains(word), "{word}");
    }
}
