//! The real dumps made by `testcores/make-real-cores.sh`, and what the guest said about itself before it
//! crashed. Tests on real dumps get them from here, and fail (never skip silently) when they are missing.
//!
//! ```no_run
//! for s in testcores::real::scenarios() {
//!     for dump in s.dumps() {
//!         println!("{} {}", s.name, dump.display());
//!     }
//! }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Scenario directories the script makes (see the script for what each one does).
pub const SCENARIOS: [&str; 5] = ["clean", "mixed", "unloaded", "oops", "many"];
/// Dump files each scenario holds: makedumpfile lzo, zlib and flattened, and the raw `/proc/vmcore` copy.
pub const KDUMP_FILES: [&str; 4] = ["vmcore.lzo", "vmcore.zlib", "vmcore.flat", "vmcore.elf"];

/// Where real dumps live: `$VMTAINT_TESTCORES_DIR`, else `~/.cache/vmtaint/testcores` (the script's default:
/// outside the repository, so fresh clones and CI reuse what an earlier run made).
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VMTAINT_TESTCORES_DIR") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache.join("vmtaint/testcores")
}

/// The debug vmlinux the dumps were made with.
pub fn vmlinux() -> PathBuf {
    let release =
        std::env::var("VMTAINT_KERNEL_RELEASE").unwrap_or_else(|_| "6.1.0-56-cloud-amd64".into());
    PathBuf::from(format!("/usr/lib/debug/boot/vmlinux-{release}"))
}

/// One scenario's directory.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub dir: PathBuf,
}

impl Scenario {
    /// The kdump-made dump files of the scenario (all of them must exist).
    pub fn dumps(&self) -> Vec<PathBuf> {
        KDUMP_FILES.iter().map(|f| self.dir.join(f)).collect()
    }

    /// A file of the guest's own view, captured before the crash (`truth/NAME`).
    pub fn truth(&self, name: &str) -> String {
        let p = self.dir.join("truth").join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// `/proc/sys/kernel/tainted` of the guest.
    pub fn tainted(&self) -> u64 {
        self.truth("tainted")
            .trim()
            .parse()
            .expect("truth/tainted is a decimal number")
    }

    /// `/proc/modules` of the guest: name -> the taint letters in parentheses (empty when untainted).
    pub fn modules(&self) -> BTreeMap<String, String> {
        self.truth("modules")
            .lines()
            .filter_map(|l| {
                let name = l.split_whitespace().next()?.to_string();
                let taints = l
                    .rsplit_once('(')
                    .and_then(|(_, t)| t.split_once(')'))
                    .map(|(t, _)| t.to_string());
                Some((name, taints.unwrap_or_default()))
            })
            .collect()
    }

    /// `uname -r` of the guest.
    pub fn release(&self) -> String {
        self.truth("uname.txt").trim().to_string()
    }
}

/// Every scenario, after checking that its dumps exist. Panics with what to run when they don't, unless
/// `VMTAINT_ALLOW_MISSING_REAL=1` (never under `CI=true`), in which case it says so loudly and returns none.
pub fn scenarios() -> Vec<Scenario> {
    let base = dir();
    let all: Vec<Scenario> = SCENARIOS
        .iter()
        .map(|&name| Scenario {
            name,
            dir: base.join(name),
        })
        .collect();
    let missing: Vec<PathBuf> = all
        .iter()
        .flat_map(|s| s.dumps().into_iter().chain([s.dir.join("truth/tainted")]))
        .filter(|p| !p.exists())
        .collect();
    if missing.is_empty() {
        return all;
    }
    let what = format!(
        "real test dumps ({} files, e.g. {})",
        missing.len(),
        missing[0].display()
    );
    require_input(
        false,
        &what,
        "run `bash testcores/make-real-cores.sh` first",
    );
    Vec::new()
}

/// One scenario by name (same rules as [`scenarios`]).
pub fn scenario(name: &str) -> Option<Scenario> {
    scenarios().into_iter().find(|s| s.name == name)
}

/// An independent oracle: a symbol's link-time address in the debug vmlinux, from binutils' `nm`.
pub fn nm_symbol(vmlinux: &Path, name: &str) -> u64 {
    let out = std::process::Command::new("nm")
        .arg(vmlinux)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success(), "nm {} failed", vmlinux.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (addr, _kind, sym) = (f.next()?, f.next()?, f.next()?);
            (sym == name)
                .then(|| u64::from_str_radix(addr, 16).ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("nm: no symbol {name} in {}", vmlinux.display()))
}

/// An independent oracle: `(offset, size)` of `member` in `struct name`, from dwarves' `pahole`.
pub fn pahole_member(vmlinux: &Path, name: &str, member: &str) -> (u64, u64) {
    let out = std::process::Command::new("pahole")
        .arg("-C")
        .arg(name)
        .arg(vmlinux)
        .output()
        .expect("run pahole (dwarves)");
    assert!(out.status.success(), "pahole -C {name} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let Some((decl, comment)) = line.split_once("/*") else {
            continue;
        };
        let decl = decl.trim().trim_end_matches(';');
        let ident = decl.rsplit([' ', '*']).next().unwrap_or("");
        let ident = ident.split('[').next().unwrap_or("");
        if ident != member {
            continue;
        }
        let nums: Vec<u64> = comment
            .trim_end_matches("*/")
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [off, size, ..] = nums[..] {
            return (off, size);
        }
    }
    panic!("pahole: no member {member} in struct {name}");
}

/// An independent oracle: the GNU build-id of an ELF file, from binutils' `readelf -n`.
pub fn readelf_build_id(file: &Path) -> String {
    let out = std::process::Command::new("readelf")
        .arg("-n")
        .arg(file)
        .output()
        .expect("run readelf (binutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
        .unwrap_or_else(|| panic!("readelf: no build-id in {}", file.display()))
}

/// The one gate for what tests on real data need (dumps, a debug vmlinux, the crash utility, drgn): `true`
/// when `present`. When not: under CI (`CI=true`) it always panics; elsewhere it panics too unless
/// `VMTAINT_ALLOW_MISSING_REAL=1`, which makes it say loudly on stderr that the tests needing `what` are NOT
/// RUN and return `false`. No test skips silently.
///
/// ```no_run
/// let crash = std::path::Path::new("/usr/bin/crash");
/// if !testcores::real::require_input(crash.exists(), "the crash utility", "apt-get install crash") {
///     return;
/// }
/// ```
pub fn require_input(present: bool, what: &str, how_to_get_it: &str) -> bool {
    if present {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let allow = std::env::var("VMTAINT_ALLOW_MISSING_REAL").is_ok_and(|v| v == "1");
    let msg = format!("{what} is missing ({how_to_get_it})");
    if allow && !ci {
        eprintln!(
            "WARNING: {msg}; VMTAINT_ALLOW_MISSING_REAL=1 so the tests that need it are NOT RUN"
        );
        return false;
    }
    panic!(
        "{msg}{}",
        if ci {
            " (CI=true: real tests must run)"
        } else {
            ""
        }
    );
}
