//! Shared by the CLI's integration tests.

use std::process::Command;

/// Run the built `vmtaint` binary: (exit code, stdout, stderr).
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
