//! `vmtaint scan` over a directory holding every real test dump (all formats), files that are not dumps, and a
//! damaged dump: one good JSON line per dump with the guest's own taint, one error line for the damaged one;
//! then resume, shards and the CSV.

mod common;
use common::vmtaint;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use testcores::real;

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// An archive-like tree: HOST-DATE/vmcore* links to every real dump, a dmesg beside each, junk, a damaged dump.
fn archive(dir: &Path) -> (BTreeMap<PathBuf, u64>, PathBuf) {
    let mut want = BTreeMap::new();
    for s in real::all_scenarios() {
        let host = dir.join(format!(
            "{}-{}-2026-11-23-08:52:23",
            s.kernel.release, s.name
        ));
        std::fs::create_dir_all(&host).unwrap();
        std::fs::copy(
            s.dir.join("vmcore-dmesg.txt"),
            host.join("vmcore-dmesg.txt"),
        )
        .unwrap();
        for d in s.dumps() {
            let link = host.join(d.file_name().unwrap());
            std::os::unix::fs::symlink(&d, &link).unwrap();
            want.insert(link, s.tainted());
        }
    }
    std::fs::write(dir.join("README.txt"), "not a dump\n").unwrap();
    std::fs::write(dir.join("empty"), "").unwrap();
    let damaged_dir = dir.join("broken-2026-01-01-00:00:00");
    std::fs::create_dir_all(&damaged_dir).unwrap();
    let good = std::fs::read(real::scenario("clean").unwrap().dir.join("vmcore.lzo")).unwrap();
    let damaged = damaged_dir.join("vmcore");
    std::fs::write(&damaged, &good[..3000]).unwrap(); // cut inside the sub-header: unreadable
    (want, damaged)
}

#[test]
fn scan_gives_one_line_per_dump_resumes_and_shards() {
    let tmp = std::env::temp_dir().join(format!("vmtaint-scan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let tree = tmp.join("crash");
    let (want, damaged) = archive(&tree);
    // `<release>/vmlinux` for every kernel line: each dump's own, by build-id.
    let debuginfo = real::dir();
    let jsonl = tmp.join("out.jsonl");
    let csv = tmp.join("out.csv");
    let (code, stdout, stderr) = vmtaint(&[
        "scan",
        "--debuginfo-dir",
        debuginfo.to_str().unwrap(),
        tree.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "results go to --jsonl only");
    assert!(stderr.contains("dumps by verdict"), "{stderr}");
    let got = lines(&jsonl);
    assert_eq!(
        got.len(),
        want.len() + 1,
        "one line per dump plus the damaged one"
    );
    let mut seen = BTreeSet::new();
    for l in &got {
        let path = PathBuf::from(l["path"].as_str().unwrap());
        assert!(seen.insert(path.clone()), "{} twice", path.display());
        assert!(
            l["size"].as_u64().is_some()
                && l["mtime"].as_i64().is_some()
                && l["elapsed_ms"].as_f64().is_some()
        );
        if path == damaged {
            let e = l["error"]
                .as_str()
                .expect("the damaged dump is an error line");
            assert!(
                e.contains(damaged.to_str().unwrap()) && e.contains("truncated"),
                "{e}"
            );
            continue;
        }
        assert!(
            l.get("error").is_none(),
            "{}: {}",
            path.display(),
            l["error"]
        );
        assert_eq!(
            l["tainted_mask"].as_u64(),
            Some(want[&path]),
            "{}",
            path.display()
        );
        assert_eq!(l["source"]["kind"], "dwarf", "{}", path.display());
        assert!(
            l["archive"]["host"]
                .as_str()
                .is_some_and(|h| path.to_str().unwrap().contains(h)),
            "{l}"
        );
        assert!(l["archive"]["dmesg"]
            .as_str()
            .unwrap()
            .ends_with("vmcore-dmesg.txt"));
    }
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        rows.lines().count(),
        got.len() + 1,
        "a header and a row per dump"
    );
    assert!(rows.contains("oot_prop(POE)"));

    // Resume: everything already reported is skipped; nothing new is appended.
    let (code, _, stderr) = vmtaint(&[
        "scan",
        "--debuginfo-dir",
        debuginfo.to_str().unwrap(),
        tree.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(
        stderr.contains(&format!("{} already in the output", got.len())),
        "{stderr}"
    );
    assert_eq!(lines(&jsonl).len(), got.len());

    // Shards: disjoint, and together they are the whole scan.
    let mut union = BTreeSet::new();
    for k in 0..3 {
        let out = tmp.join(format!("shard{k}.jsonl"));
        let (code, _, stderr) = vmtaint(&[
            "scan",
            "--debuginfo-dir",
            debuginfo.to_str().unwrap(),
            tree.to_str().unwrap(),
            "--shard",
            &format!("{k}/3"),
            "--jsonl",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        for l in lines(&out) {
            assert!(
                union.insert(l["path"].as_str().unwrap().to_string()),
                "a dump in two shards"
            );
        }
    }
    assert_eq!(union.len(), got.len());
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn nothing_to_scan_exits_2() {
    let tmp = std::env::temp_dir().join(format!("vmtaint-scan-empty-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("notes.txt"), "hello").unwrap();
    let (code, stdout, stderr) = vmtaint(&["scan", tmp.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("no crash dumps found"), "{stderr}");
    let (code, _, _) = vmtaint(&["scan", "/nonexistent/vmtaint"]);
    assert_eq!(code, 2);
    std::fs::remove_dir_all(&tmp).unwrap();
}
