//! `vmtaint report --live` and `info --live` on this machine's own running kernel, through the CLI: the exit
//! statuses of the contract, the mask of /proc/sys/kernel/tainted, and stderr saying what a reduced report
//! lacks and why.

mod common;

use common::vmtaint;
use std::path::Path;

#[test]
fn report_live_on_this_machine() {
    let (rc, out, err) = vmtaint(&["report", "--live", "--json"]);
    assert_eq!(rc, 0, "stderr: {err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let truth: u64 = std::fs::read_to_string("/proc/sys/kernel/tainted")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(r["tainted_mask"].as_u64(), Some(truth));
    let kcore_opens = std::fs::File::open("/proc/kcore").is_ok();
    if kcore_opens {
        assert_eq!(r["dump"]["format"], "kcore", "{err}");
    } else {
        assert_eq!(r["dump"]["format"], "live-procfs");
        assert_eq!(r["source"]["kind"], "procfs");
        assert!(
            err.contains("/proc/kcore") && err.contains("reduced report"),
            "{err}"
        );
    }
    // Human output works too.
    let (rc, out, _) = vmtaint(&["report", "--live", "--color", "never"]);
    assert_eq!(rc, 0);
    assert!(out.contains("symbols:"), "{out}");
}

#[test]
fn info_live_says_why_kcore_is_closed_with_exit_2() {
    let (rc, out, err) = vmtaint(&["info", "--live", "--json"]);
    if Path::new("/proc/kcore").exists() && std::fs::File::open("/proc/kcore").is_ok() {
        assert_eq!(rc, 0, "{err}");
        let i: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(i["format"], "kcore");
    } else {
        assert_eq!(rc, 2, "{out}");
        assert!(err.contains("/proc/kcore"), "{err}");
    }
}

#[test]
fn a_dump_or_live_is_required_and_not_both() {
    let (rc, _, err) = vmtaint(&["report"]);
    assert_eq!(rc, 2, "{err}");
    let (rc, _, err) = vmtaint(&["report", "--live", "/tmp/x"]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}
