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

/// A tmpfs of `kib` KiB at `dir`, unmounted on drop. Needs root (CI runs as root): fails loudly otherwise.
struct SmallVolume(PathBuf);

impl SmallVolume {
    fn mount(dir: &Path, kib: u64) -> SmallVolume {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test needs to mount a small tmpfs (run as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallVolume(dir.to_path_buf())
    }
}

impl Drop for SmallVolume {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Nothing silently lost: when the results file fills its disk, the scan stops with exit status 1 and an
/// error naming the file; every line already in the file is a whole JSON document (a partial line is cut
/// off), and a rerun on a roomier disk resumes after them and ends with every dump reported once.
#[test]
fn a_full_disk_stops_the_scan_with_exit_1_and_loses_nothing() {
    let tmp = std::env::temp_dir().join(format!("vmtaint-scan-full-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let tree = tmp.join("crash");
    std::fs::create_dir_all(&tree).unwrap();
    let (want, damaged) = archive(&tree);
    let volume = SmallVolume::mount(&tmp.join("small"), 64);
    let jsonl = volume.0.join("out.jsonl");
    let (code, _, stderr) = vmtaint(&[
        "scan",
        tree.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
        "--jobs",
        "2",
        "--no-progress",
    ]);
    assert_eq!(code, 1, "a full disk is a failure: {stderr}");
    assert!(
        stderr.contains(jsonl.to_str().unwrap()) && stderr.contains("No space left on device"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "no partial line is left"
    );
    let first = lines(&jsonl);
    assert!(
        !first.is_empty() && first.len() < want.len(),
        "{} of {} lines fit in 64 KiB",
        first.len(),
        want.len()
    );
    // The same file, moved to a disk with room: the rerun adds exactly the dumps that were missing.
    let roomy = tmp.join("out.jsonl");
    std::fs::copy(&jsonl, &roomy).unwrap();
    drop(volume);
    let (code, _, stderr) = vmtaint(&[
        "scan",
        tree.to_str().unwrap(),
        "--jsonl",
        roomy.to_str().unwrap(),
        "--no-progress",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let all = lines(&roomy);
    assert_eq!(all[..first.len()], first[..], "earlier lines untouched");
    let paths: BTreeSet<PathBuf> = all
        .iter()
        .map(|l| PathBuf::from(l["path"].as_str().unwrap()))
        .collect();
    assert_eq!(paths.len(), all.len(), "every dump once");
    assert!(paths.contains(&damaged));
    for (p, tainted) in &want {
        let l = all
            .iter()
            .find(|l| l["path"] == p.to_str().unwrap())
            .unwrap_or_else(|| panic!("{} missing after the rerun", p.display()));
        assert_eq!(
            l["tainted_mask"].as_u64(),
            Some(*tainted),
            "{}",
            p.display()
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A crash directory whose vmcore is empty (the dump was never saved) still has its `vmcore-dmesg.txt`: the
/// scan gives it a log-only line (`dump.format` "log", `source.kind` "log") whose mask is the guest's, and
/// the report names what only memory knows as unknown.
#[test]
fn an_archive_directory_with_only_its_kernel_log_gets_a_log_only_line() {
    let tmp = std::env::temp_dir().join(format!("vmtaint-scan-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let s = real::scenario("mixed").unwrap();
    let host = tmp.join("web7-2026-11-23-08:52:23");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("vmcore"), b"").unwrap();
    std::fs::copy(
        s.dir.join("vmcore-dmesg.txt"),
        host.join("vmcore-dmesg.txt"),
    )
    .unwrap();
    let jsonl = tmp.join("out.jsonl");
    let (code, _, stderr) = vmtaint(&[
        "scan",
        tmp.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
        "--no-progress",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let got = lines(&jsonl);
    assert_eq!(got.len(), 1, "{got:?}");
    let l = &got[0];
    assert!(l["path"].as_str().unwrap().ends_with("vmcore-dmesg.txt"));
    assert_eq!(l["dump"]["format"], "log");
    assert_eq!(l["source"]["kind"], "log");
    assert_eq!(l["tainted_mask"].as_u64(), Some(s.tainted()));
    assert_eq!(l["archive"]["host"], "web7");
    assert!(!l["log_only"]["unknown"].as_array().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&tmp);
}
