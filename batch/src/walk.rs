//! Finding dumps in archives: a walk by content (magic, never by name) that recurses into directories and
//! recognises the kdump archive layouts (a crash directory whose dump is missing or unreadable still yields its
//! kernel log), and `--shard K/N`'s stable split of what it found.
//!
//! ```no_run
//! let found = batch::walk::walk(&["/var/crash".into()]);
//! let shard: batch::walk::Shard = "0/4".parse().unwrap();
//! for d in found.dumps.iter().filter(|d| shard.takes(&d.rel)) {
//!     println!("{} ({} bytes)", d.path.display(), d.size);
//! }
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde_json::{json, Value};

/// `--shard K/N`: this process takes the dumps whose path hash is K modulo N (K counts from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 0/4")?;
        let index: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("K in {s:?} is not a number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("N in {s:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "need 0 <= K < N, got {index}/{count} (K counts from 0, like JOB_COMPLETION_INDEX)"
            ));
        }
        Ok(Shard { index, count })
    }
}

/// A dump found by the walk.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    /// Path relative to the scan root it was found under (what `--shard` hashes).
    pub rel: String,
    pub size: u64,
    pub mtime: i64,
    /// `HOST-DATE/` directory of the kdump archive layout, with `vmcore-dmesg.txt` beside the dump.
    pub archive: Option<Value>,
}

/// What the walk saw.
#[derive(Debug, Default)]
pub struct Walk {
    pub dumps: Vec<Found>,
    pub skipped: Vec<(PathBuf, String)>,
    /// Kernel logs kept beside dumps in archive layouts (`vmcore-dmesg.txt`, `dmesg.*`).
    pub logs: Vec<Found>,
}

/// Find dumps under `roots` by content.
pub fn walk(roots: &[PathBuf]) -> Walk {
    let mut w = Walk::default();
    for root in roots {
        let base = if root.is_dir() {
            root.clone()
        } else {
            root.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        visit(root, &base, &mut w, 0);
    }
    // A crash directory whose vmcore is missing, empty or unreadable still has its kernel log: it gets a
    // log-only line (dump.format "log") instead of no line at all.
    let dump_dirs: HashSet<PathBuf> = w
        .dumps
        .iter()
        .filter_map(|d| d.path.parent().map(Path::to_path_buf))
        .collect();
    let logs = std::mem::take(&mut w.logs);
    for log in logs {
        if log
            .path
            .parent()
            .is_some_and(|dir| !dump_dirs.contains(dir))
        {
            w.skipped.retain(|(p, _)| p != &log.path);
            w.dumps.push(log);
        }
    }
    w.dumps.sort_by(|a, b| a.path.cmp(&b.path));
    w.dumps.dedup_by(|a, b| a.path == b.path);
    w
}

/// What the walk records of a file it keeps.
fn found(path: &Path, base: &Path, meta: &std::fs::Metadata) -> Found {
    Found {
        path: path.to_path_buf(),
        rel: path
            .strip_prefix(base)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned(),
        size: meta.len(),
        mtime: meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64),
        archive: archive_info(path),
    }
}

/// `vmcore-dmesg.txt` (kexec-tools) or `dmesg.YYYYMMDDHHMM` (Debian's kdump-tools).
fn is_archive_log(path: &Path) -> bool {
    path.file_name()
        .and_then(|f| f.to_str())
        .is_some_and(|f| f == "vmcore-dmesg.txt" || f.starts_with("dmesg."))
}

fn visit(path: &Path, base: &Path, w: &mut Walk, depth: usize) {
    // Don't follow directory symlinks (loops); do read files they point at.
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return w
                .skipped
                .push((path.to_path_buf(), format!("unreadable: {e}")))
        }
    };
    if meta.is_dir() {
        if depth > 64 {
            return w.skipped.push((
                path.to_path_buf(),
                "directory nesting deeper than 64".into(),
            ));
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
            Err(e) => {
                return w
                    .skipped
                    .push((path.to_path_buf(), format!("unreadable directory: {e}")))
            }
        };
        entries.sort();
        for e in entries {
            visit(&e, base, w, depth + 1);
        }
        return;
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => {
            return w
                .skipped
                .push((path.to_path_buf(), "not a regular file".into()))
        }
        Err(e) => {
            return w
                .skipped
                .push((path.to_path_buf(), format!("unreadable: {e}")))
        }
    };
    match vmcore::sniff(path) {
        Ok(Some(_)) => w.dumps.push(found(path, base, &meta)),
        Ok(None) => {
            if is_archive_log(path) {
                w.logs.push(found(path, base, &meta));
            }
            w.skipped
                .push((path.to_path_buf(), "not a crash dump".into()))
        }
        Err(e) => w
            .skipped
            .push((path.to_path_buf(), format!("unreadable: {e}"))),
    }
}

/// kdump-tools / kexec-tools archive layout: `/var/crash/HOST-YYYY-MM-DD-HH:MM:SS/vmcore` (RHEL) or
/// `/var/crash/YYYYMMDDHHMM/dump.YYYYMMDDHHMM` (Debian), with `vmcore-dmesg.txt` / `dmesg.*` beside it.
fn archive_info(path: &Path) -> Option<Value> {
    let dir = path.parent()?;
    let name = dir.file_name()?.to_str()?;
    let dmesg = ["vmcore-dmesg.txt"]
        .iter()
        .map(|f| dir.join(f))
        .chain(
            std::fs::read_dir(dir)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|f| f.to_str())
                        .is_some_and(|f| f.starts_with("dmesg."))
                }),
        )
        .find(|p| p.is_file());
    // HOST-YYYY-MM-DD-HH:MM:SS
    let rhel = name.len() > 20 && {
        let (_, date) = name.split_at(name.len() - 19);
        date.as_bytes().iter().enumerate().all(|(i, c)| match i {
            4 | 7 | 10 => *c == b'-',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        }) && name.as_bytes()[name.len() - 20] == b'-'
    };
    let (host, date) = if rhel {
        (
            Some(name[..name.len() - 20].to_string()),
            Some(name[name.len() - 19..].to_string()),
        )
    } else if name.len() == 12 && name.bytes().all(|c| c.is_ascii_digit()) {
        (None, Some(name.to_string()))
    } else {
        (None, None)
    };
    if host.is_none() && date.is_none() && dmesg.is_none() {
        return None;
    }
    Some(json!({ "host": host, "date": date, "dmesg": dmesg.map(|p| p.display().to_string()) }))
}

/// FNV-1a: stable across runs, hosts and Rust versions (unlike `DefaultHasher`).
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Shard {
    pub fn takes(&self, rel: &str) -> bool {
        stable_hash(rel) % self.count == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_and_are_stable() {
        let names: Vec<String> = (0..1000).map(|i| format!("host-{i}/vmcore")).collect();
        let shards: Vec<Shard> = (0..4).map(|k| format!("{k}/4").parse().unwrap()).collect();
        let mut total = 0;
        for s in &shards {
            let n = names.iter().filter(|p| s.takes(p)).count();
            assert!((150..350).contains(&n), "{n}");
            total += n;
        }
        assert_eq!(total, 1000, "every dump in exactly one shard");
        assert_eq!(
            stable_hash("a"),
            0xaf63_dc4c_8601_ec8c,
            "FNV-1a test vector"
        );
        assert_eq!(
            stable_hash(""),
            0xcbf2_9ce4_8422_2325,
            "FNV-1a offset basis"
        );
        assert!(
            "4/4".parse::<Shard>().is_err()
                && "1/0".parse::<Shard>().is_err()
                && "x".parse::<Shard>().is_err()
        );
    }

    #[test]
    fn archive_layouts() {
        let d = std::env::temp_dir().join(format!("vmtaint-arch-{}", std::process::id()));
        let rhel = d.join("10.0.0.7-2025-03-04-05:06:07");
        std::fs::create_dir_all(&rhel).unwrap();
        std::fs::write(rhel.join("vmcore-dmesg.txt"), "x").unwrap();
        let a = archive_info(&rhel.join("vmcore")).unwrap();
        assert_eq!(a["host"], "10.0.0.7");
        assert_eq!(a["date"], "2025-03-04-05:06:07");
        assert!(a["dmesg"].as_str().unwrap().ends_with("vmcore-dmesg.txt"));
        let deb = d.join("202503040506");
        std::fs::create_dir_all(&deb).unwrap();
        std::fs::write(deb.join("dmesg.202503040506"), "x").unwrap();
        let a = archive_info(&deb.join("dump.202503040506")).unwrap();
        assert_eq!(a["host"], Value::Null);
        assert_eq!(a["date"], "202503040506");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
