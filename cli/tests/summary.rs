//! `vmtaint summary`: a scan split into 4 shards run as separate processes, one of them killed halfway and rerun
//! (once resuming its own file, once from scratch into a new file as a pod with fresh storage would), merged:
//! the summary equals the unsharded scan's. Malformed lines are counted and named, not fatal.

mod common;
use common::vmtaint;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testcores::real;

/// A tree of links to every real dump of the default kernel (all formats) plus a file that is not a dump.
fn tree(dir: &Path) -> usize {
    let mut n = 0;
    for s in real::scenarios() {
        let d = dir.join(s.name);
        std::fs::create_dir_all(&d).unwrap();
        for dump in s.dumps() {
            std::os::unix::fs::symlink(&dump, d.join(dump.file_name().unwrap())).unwrap();
            n += 1;
        }
    }
    std::fs::write(dir.join("README.txt"), "not a dump\n").unwrap();
    n
}

/// The tables of a summary: what follows its first line (counts and timing), up to the malformed lines.
fn tables(summary: &str) -> String {
    summary
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("malformed lines:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn lines_in(p: &Path) -> usize {
    std::fs::read_to_string(p).map_or(0, |t| t.lines().count())
}

/// Start a shard scanning one dump at a time, kill it (SIGKILL, as a preempted pod) once it has written
/// `after` lines.
fn kill_halfway(tree: &Path, shard: &str, out: &Path, after: usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmtaint"))
        .args([
            "scan",
            tree.to_str().unwrap(),
            "--shard",
            shard,
            "--jobs",
            "1",
        ])
        .args(["--no-progress", "--jsonl", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while lines_in(out) < after {
        if child.try_wait().unwrap().is_some() {
            break; // finished before we could kill it: the rerun still has to leave it whole
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "shard {shard} is stuck"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    child.wait().unwrap();
}

fn scan(tree: &Path, shard: &str, out: &Path) {
    let (code, _, stderr) = vmtaint(&[
        "scan",
        tree.to_str().unwrap(),
        "--shard",
        shard,
        "--no-progress",
        "--jsonl",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "shard {shard}: {stderr}");
}

#[test]
fn four_shards_one_killed_and_rerun_merge_to_the_unsharded_summary() {
    let tmp = std::env::temp_dir().join(format!("vmtaint-summary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let dumps = tmp.join("crash");
    let n = tree(&dumps);
    assert!(n >= 8, "{n} dumps");

    let whole = tmp.join("whole.jsonl");
    let (code, _, whole_summary) = vmtaint(&[
        "scan",
        dumps.to_str().unwrap(),
        "--no-progress",
        "--jsonl",
        whole.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{whole_summary}");
    assert_eq!(lines_in(&whole), n);

    // Shard sizes, to kill the big ones halfway.
    let per_shard: Vec<usize> = (0..4)
        .map(|k| {
            let out = tmp.join(format!("probe-{k}.jsonl"));
            scan(&dumps, &format!("{k}/4"), &out);
            lines_in(&out)
        })
        .collect();
    assert_eq!(per_shard.iter().sum::<usize>(), n);
    let mut by_size: Vec<usize> = (0..4).collect();
    by_size.sort_by_key(|&k| std::cmp::Reverse(per_shard[k]));
    let (resumed, restarted) = (by_size[0], by_size[1]);
    assert!(
        per_shard[resumed] >= 2 && per_shard[restarted] >= 2,
        "{per_shard:?}"
    );

    let mut files = Vec::new();
    for (k, &size) in per_shard.iter().enumerate() {
        let shard = format!("{k}/4");
        let out = tmp.join(format!("shard-{k}.jsonl"));
        if k == resumed {
            // Killed, then rerun on the same file: it resumes after its whole lines.
            kill_halfway(&dumps, &shard, &out, size / 2);
            assert!(
                lines_in(&out) < size,
                "shard {shard} was killed before its end"
            );
            scan(&dumps, &shard, &out);
            assert_eq!(
                lines_in(&out),
                per_shard[k],
                "resumed: no line twice, none lost"
            );
            files.push(out);
        } else if k == restarted {
            // Killed, then rerun from scratch into a new file: every dump it had done is there twice.
            kill_halfway(&dumps, &shard, &out, size / 2);
            assert!(
                lines_in(&out) < size,
                "shard {shard} was killed before its end"
            );
            let again = tmp.join(format!("shard-{k}-retry.jsonl"));
            scan(&dumps, &shard, &again);
            files.push(out);
            files.push(again);
        } else {
            scan(&dumps, &shard, &out);
            files.push(out);
        }
    }
    // A junk line and a cut one in the middle of the inputs: counted and named, not fatal.
    let junk = tmp.join("junk.jsonl");
    std::fs::write(&junk, "{\"path\": 3}\nnot json\n{\"path\":\"/x\",\"si").unwrap();
    files.insert(1, junk.clone());

    let mut args = vec!["summary".to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let csv = tmp.join("merged.csv");
    args.extend(["--csv".into(), csv.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, merged, stderr) = vmtaint(&args);
    assert_eq!(code, 0, "{stderr}");

    assert_eq!(
        tables(&merged),
        tables(&whole_summary),
        "merged:\n{merged}\nwhole:\n{whole_summary}"
    );
    assert!(tables(&merged).contains("dumps by verdict"), "{merged}");
    let first = merged.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("merged {n} dumps from ")),
        "{first}"
    );
    assert!(
        !first.contains(" 0 duplicate lines"),
        "the restarted shard repeated dumps: {first}"
    );
    assert!(first.ends_with(", 3 malformed"), "{first}");
    for line in [":1: ", ":2: ", ":3: cut short"] {
        assert!(
            merged.contains(&format!("  {}{line}", junk.display())),
            "{line} named\n{merged}"
        );
    }
    assert_eq!(lines_in(&csv), n + 1, "a header and one row per dump");

    // The CSV equals the unsharded scan's rows (in path order).
    let (code, _, _) = vmtaint(&[
        "summary",
        whole.to_str().unwrap(),
        "--csv",
        tmp.join("whole.csv").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        std::fs::read_to_string(tmp.join("whole.csv")).unwrap()
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn no_results_exit_2_and_a_missing_file_is_named() {
    let tmp = std::env::temp_dir().join(format!("vmtaint-summary-empty-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let junk = tmp.join("junk.jsonl");
    std::fs::write(&junk, "garbage\n").unwrap();
    let (code, out, _) = vmtaint(&["summary", junk.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.contains("malformed lines: 1"), "{out}");
    let missing: PathBuf = tmp.join("nope.jsonl");
    let (code, _, err) = vmtaint(&["summary", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    std::fs::remove_dir_all(&tmp).unwrap();
}
