//! Shared by the CLI's integration tests.

use std::path::Path;
use std::process::{Command, Stdio};

/// Run the built `vmtaint` binary: (exit code, stdout, stderr).
#[allow(dead_code)] // not every test binary uses every helper
pub fn vmtaint(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmtaint"))
        .args(args)
        .output()
        .expect("run vmtaint");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `vmtaint report DUMP --json EXTRA...` with every real kernel's debug vmlinux findable by build-id
/// (`VMTAINT_DEBUGINFO_PATH` is testcores' dump directory); the run must exit 0.
#[allow(dead_code)] // not every test binary uses every helper
pub fn report_json(dump: &Path, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vmtaint"))
        .args(["report", dump.to_str().unwrap(), "--json"])
        .args(extra)
        .env("VMTAINT_DEBUGINFO_PATH", testcores::real::dir())
        .stdin(Stdio::null())
        .output()
        .expect("run vmtaint");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{} {extra:?}: {}",
        dump.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}
