//! The persistent answer index (`engine::index`): a report made through it, cold or warm, is the report made
//! without it, on the real `mixed` dump of every kernel line, with DWARF and with the dump's own BTF; and a
//! damaged, truncated, foreign or other build's index file, or several processes writing at once, never
//! changes a report.

use std::path::{Path, PathBuf};
use std::process::Command;

use testcores::real;

const BIN: &str = env!("CARGO_BIN_EXE_vmtaint");

/// `kernel`'s real `mixed/vmcore.lzo`, through the real-dump gate (only this file is needed: the test does
/// not wait for the other scenarios' dumps). `None` only when `VMTAINT_ALLOW_MISSING_REAL=1` outside CI.
fn mixed(kernel: &real::Kernel) -> Option<PathBuf> {
    let p = kernel.dir.join("mixed").join("vmcore.lzo");
    real::require_input(
        p.exists(),
        &format!("real dump {}", p.display()),
        "run `bash testcores/make-real-cores.sh` first",
    )
    .then_some(p)
}

/// A fresh index directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "vmtaint-answer-index-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The JSON report of `dump` (DWARF from the kernel's debuginfo directory, or `--no-debuginfo`) with the
/// index in `index` (`None`: disabled), and the exit status.
fn report(dump: &Path, kernel: &real::Kernel, btf: bool, index: Option<&Path>) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["report", "--json", "--debuginfo-dir"])
        .arg(kernel.debuginfo_dir());
    if btf {
        cmd.arg("--no-debuginfo");
    }
    cmd.arg(dump);
    match index {
        Some(dir) => cmd
            .env("VMTAINT_INDEX_DIR", dir)
            .env_remove("VMTAINT_INDEX"),
        None => cmd.env("VMTAINT_INDEX", "off"),
    };
    let out = cmd.output().expect("run vmtaint");
    (
        out.status.code().unwrap_or(-1),
        masked(&String::from_utf8_lossy(&out.stdout)),
    )
}

/// A scan's cost (pages read and milliseconds) differs from run to run, and reads "remembered by the answer
/// index" when the index placed the table: everything else must be the same.
fn masked(json: &str) -> String {
    let mut out = json.to_string();
    for marker in [" pages read in ", "remembered by the answer index"] {
        let mut from = 0;
        while let Some(at) = out[from..].find(marker).map(|i| i + from) {
            let start = out[..at].rfind("; ").map_or(at, |i| i + 2);
            let end = out[at..].find(')').map_or(out.len(), |i| i + at);
            out.replace_range(start..end, "SCAN-COST");
            from = start + "SCAN-COST".len();
        }
    }
    out
}

fn index_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.expect("dir entry").path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn cold_and_warm_reports_are_the_reports_without_index_on_every_kernel() {
    for kernel in real::kernels() {
        let Some(dump) = mixed(&kernel) else { continue };
        let id = format!("{}/mixed", kernel.release);
        for btf in [false, true] {
            let dir = scratch("every-kernel");
            let reference = report(&dump, &kernel, btf, None);
            assert!(!reference.1.is_empty(), "{id}: no report");
            let cold = report(&dump, &kernel, btf, Some(&dir));
            let files = index_files(&dir);
            assert_eq!(files.len(), 1, "{id} btf={btf}: {files:?}");
            let warm = report(&dump, &kernel, btf, Some(&dir));
            assert_eq!(cold, reference, "{id} btf={btf}: cold");
            assert_eq!(warm, reference, "{id} btf={btf}: warm");
            // The warm run learned nothing new: the file is as the cold run left it.
            assert_eq!(index_files(&dir), files);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// The default kernel, its mixed dump, the reference reports (DWARF, BTF) and a warm index directory.
type Warmed = (real::Kernel, PathBuf, [(i32, String); 2], PathBuf);

/// The default kernel's mixed dump, its reference reports (DWARF, BTF) and a warm index directory.
fn warmed(name: &str) -> Option<Warmed> {
    let kernel = real::default_kernel();
    let dump = mixed(&kernel)?;
    let dir = scratch(name);
    let reference = [false, true].map(|btf| report(&dump, &kernel, btf, None));
    for btf in [false, true] {
        assert_eq!(
            report(&dump, &kernel, btf, Some(&dir)),
            reference[btf as usize]
        );
    }
    assert_eq!(index_files(&dir).len(), 2, "{:?}", index_files(&dir));
    Some((kernel, dump, reference, dir))
}

/// Damage each index file with `damage`, then check both reports are still right and the file was
/// rebuilt (it differs from the damaged bytes, and a further run leaves it alone).
fn survives(name: &str, damage: impl Fn(&Path, Vec<u8>) -> Vec<u8>) {
    let Some((kernel, dump, reference, dir)) = warmed(name) else {
        return;
    };
    for (i, file) in index_files(&dir).iter().enumerate() {
        let sound = std::fs::read(file).unwrap();
        let bad = damage(file, sound.clone());
        assert_ne!(bad, sound, "{name}: the damage changed nothing");
        std::fs::write(file, &bad).unwrap();
        let btf = file
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("btf-dump");
        assert_eq!(
            report(&dump, &kernel, btf, Some(&dir)),
            reference[btf as usize],
            "{name}: {} (file {i})",
            file.display()
        );
        let rebuilt = std::fs::read(file).unwrap();
        assert_ne!(rebuilt, bad, "{name}: {} was not rebuilt", file.display());
        assert_eq!(
            report(&dump, &kernel, btf, Some(&dir)),
            reference[btf as usize]
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The offset of the value recorded for `key` (a `u32` length, then the bytes).
fn value_at(bytes: &[u8], key: &str) -> usize {
    let at = bytes
        .windows(key.len())
        .position(|w| w == key.as_bytes())
        .unwrap_or_else(|| panic!("no {key:?} in the index"));
    at + key.len() + 4
}

#[test]
fn a_changed_answer_is_caught_by_the_checksum() {
    // Change the recorded offset of `module.list` (keeping the file's structure): trusted, the report would
    // walk the module list wrong.
    survives("changed-answer", |_, mut bytes| {
        let v = value_at(&bytes, "member struct module\tlist");
        bytes[v] = if bytes[v] == b'1' { b'2' } else { b'1' };
        bytes
    });
}

#[test]
fn a_truncated_index_is_rebuilt() {
    survives("truncated", |_, bytes| {
        bytes[..bytes.len() * 2 / 3].to_vec()
    });
}

#[test]
fn a_foreign_file_is_rebuilt() {
    survives("foreign", |_, _| {
        b"\x7fELF\x02\x01\x01\0 some other file".to_vec()
    });
}

#[test]
fn another_builds_index_is_not_used() {
    // The 5.10 kernel's sound index files, under the 6.1 kernel's names: other layouts, other addresses.
    let old = real::kernels()
        .into_iter()
        .find(|k| k.version() == (5, 10))
        .expect("a 5.10 kernel line");
    let Some(other) = mixed(&old) else { return };
    let other_dir = scratch("other-build-source");
    for btf in [false, true] {
        report(&other, &old, btf, Some(&other_dir));
    }
    let others = index_files(&other_dir);
    assert_eq!(others.len(), 2, "{others:?}");
    survives("other-build", |file, _| {
        let prefix = |p: &Path| {
            p.file_name().unwrap().to_string_lossy()[..4].to_string() // "dwar" or "btf-"
        };
        let same_kind = others
            .iter()
            .find(|o| prefix(o) == prefix(file))
            .expect("same kind");
        std::fs::read(same_kind).unwrap()
    });
    std::fs::remove_dir_all(&other_dir).unwrap();
}

#[test]
fn processes_writing_at_once_leave_a_sound_index() {
    let kernel = real::default_kernel();
    let Some(dump) = mixed(&kernel) else { return };
    for btf in [false, true] {
        let dir = scratch("concurrent");
        let reference = report(&dump, &kernel, btf, None);
        // Four cold processes at once, each learning the whole index and renaming it into place.
        let children: Vec<_> = (0..4)
            .map(|_| {
                let mut cmd = Command::new(BIN);
                cmd.args(["report", "--json", "--debuginfo-dir"])
                    .arg(kernel.debuginfo_dir())
                    .env("VMTAINT_INDEX_DIR", &dir)
                    .env_remove("VMTAINT_INDEX")
                    .stdout(std::process::Stdio::piped());
                if btf {
                    cmd.arg("--no-debuginfo");
                }
                cmd.arg(&dump).spawn().expect("spawn vmtaint")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("vmtaint");
            assert_eq!(
                (
                    out.status.code().unwrap_or(-1),
                    masked(&String::from_utf8_lossy(&out.stdout))
                ),
                reference,
                "btf={btf}: a concurrent report"
            );
        }
        let files = index_files(&dir);
        assert_eq!(
            files.len(),
            1,
            "one index, no temporary file left: {files:?}"
        );
        let written = std::fs::read(&files[0]).unwrap();
        assert_eq!(report(&dump, &kernel, btf, Some(&dir)), reference);
        // Sound: the warm run used it as it was and had nothing to add.
        assert_eq!(std::fs::read(&files[0]).unwrap(), written);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn vmtaint_index_off_writes_nothing() {
    let kernel = real::default_kernel();
    let Some(dump) = mixed(&kernel) else { return };
    let dir = scratch("off");
    let out = Command::new(BIN)
        .args(["report", "--json"])
        .arg(&dump)
        .env("VMTAINT_INDEX_DIR", &dir)
        .env("VMTAINT_INDEX", "off")
        .output()
        .expect("run vmtaint");
    assert!(out.status.success());
    assert!(!dir.exists(), "{} was made", dir.display());
}
