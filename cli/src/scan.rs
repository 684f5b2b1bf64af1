//! `vmtaint scan`: one answer per dump across archives of thousands.
//!
//! Dumps are found by content (magic), recursing into directories; everything else is reported as skipped.
//! Each dump's result is one JSON line, written and flushed as soon as it is ready, so a scan can be followed,
//! interrupted and resumed (`--jsonl OUT` that already holds results skips dumps with the same path, size and
//! mtime). `--shard K/N` takes a stable 1/N of the dumps (by a hash of the path relative to the scan root) so
//! any batch engine can split an archive.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Instant, UNIX_EPOCH};

use analyzers::document::FullReport;
use rayon::prelude::*;
use render::summary::{Counts, Summary};
use serde::Serialize;
use serde_json::{json, Value};

use crate::EXIT_UNREADABLE;

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

/// Results already in a JSONL file: (path, size, mtime) of lines, and whether each was an error.
fn already_done(jsonl: &Path) -> BTreeMap<(String, u64, i64), bool> {
    // Only a regular file holds earlier results: /dev/stdout, a FIFO or /dev/full would read forever.
    let Ok(f) = File::open(jsonl).and_then(|f| {
        f.metadata()?
            .is_file()
            .then_some(f)
            .ok_or(std::io::ErrorKind::InvalidInput.into())
    }) else {
        return BTreeMap::new();
    };
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter_map(|v| {
            let key = (
                v["path"].as_str()?.to_string(),
                v["size"].as_u64()?,
                v["mtime"].as_i64()?,
            );
            Some((key, v.get("error").is_some()))
        })
        .collect()
}

/// Options of one scan.
pub struct ScanOptions {
    pub paths: Vec<PathBuf>,
    pub jsonl: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub jobs: Option<usize>,
    pub shard: Option<Shard>,
    pub retry_errors: bool,
    pub progress: bool,
}

/// Exit status when results could not be written (disk full, I/O error): what was written stays valid.
pub const EXIT_WRITE_FAILED: u8 = 1;

/// One dump's JSON line: which file, then its report (or why there is none), then how long it took.
#[derive(Serialize)]
struct ScanLine<'a> {
    path: String,
    size: u64,
    mtime: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    archive: Option<&'a Value>,
    #[serde(flatten)]
    report: Option<&'a FullReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    elapsed_ms: f64,
}

/// A dump's result, as it comes back from a worker.
struct Done {
    index: usize,
    result: Result<FullReport, String>,
    elapsed_ms: f64,
}

/// Where the JSON lines go, and how a failed write is told.
enum Output {
    Stdout(std::io::StdoutLock<'static>),
    /// The file, and its length after the last whole line: a failed write is cut back to it, so every line
    /// in the file stays a whole JSON document and a rerun resumes after it.
    File(PathBuf, File, u64),
}

impl Output {
    /// Write and flush one line. `Ok(false)`: stdout's reader went away (`| head`), stop quietly.
    fn line(&mut self, text: &str) -> Result<bool, String> {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        match self {
            Output::Stdout(o) => match o.write_all(&bytes).and_then(|_| o.flush()) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
                Err(e) => Err(format!("standard output: {e}")),
            },
            Output::File(p, f, good) => match f.write_all(&bytes).and_then(|_| f.flush()) {
                Ok(()) => {
                    *good += bytes.len() as u64;
                    Ok(true)
                }
                Err(e) => {
                    let cut = match f.set_len(*good) {
                        Ok(()) => String::new(),
                        Err(c) => format!(" (and the partial line could not be cut off: {c})"),
                    };
                    Err(format!("{}: {e}{cut}", p.display()))
                }
            },
        }
    }
}

/// Run a scan with `job` producing each dump's report or why there is none.
pub fn run<J>(opts: &ScanOptions, job: J) -> ExitCode
where
    J: Fn(&Found) -> Result<FullReport, String> + Sync,
{
    let started = Instant::now();
    let walked = walk(&opts.paths);
    let found = walked.dumps.len();
    let mut dumps: Vec<Found> = walked
        .dumps
        .into_iter()
        .filter(|d| opts.shard.is_none_or(|s| s.takes(&d.rel)))
        .collect();
    let in_shard = dumps.len();
    let done = opts.jsonl.as_deref().map(already_done).unwrap_or_default();
    dumps.retain(
        |d| match done.get(&(d.path.display().to_string(), d.size, d.mtime)) {
            Some(&was_error) => opts.retry_errors && was_error,
            None => true,
        },
    );
    let resumed = in_shard - dumps.len();
    if found == 0 {
        eprintln!(
            "vmtaint scan: no crash dumps found under {} ({} files skipped)",
            join(&opts.paths),
            walked.skipped.len()
        );
        return ExitCode::from(EXIT_UNREADABLE);
    }

    let mut out = match &opts.jsonl {
        Some(p) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => match f.metadata() {
                Ok(m) => Output::File(p.clone(), f, m.len()),
                Err(e) => {
                    eprintln!("vmtaint scan: {}: {e}", p.display());
                    return ExitCode::from(EXIT_UNREADABLE);
                }
            },
            Err(e) => {
                eprintln!("vmtaint scan: {}: {e}", p.display());
                return ExitCode::from(EXIT_UNREADABLE);
            }
        },
        None => Output::Stdout(std::io::stdout().lock()),
    };
    let bar = (opts.progress && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(dumps.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} dumps  {per_sec}  ETA {eta}  {msg}",
            )
            .expect("valid template"),
        );
        b
    });

    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("vmtaint scan: cannot start worker threads: {e}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Done>();
    let mut summary = Summary::default();
    let mut csv_rows: Vec<String> = Vec::new();
    let mut write_error: Option<String> = None;
    std::thread::scope(|scope| {
        let dumps = &dumps;
        let job = &job;
        let stop = &stop;
        scope.spawn(move || {
            pool.install(|| {
                dumps
                    .par_iter()
                    .enumerate()
                    .for_each_with(tx, |tx, (index, d)| {
                        // Once the output is gone, no more work: nothing could be kept.
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let t = Instant::now();
                        let result = job(d);
                        let _ = tx.send(Done {
                            index,
                            result,
                            elapsed_ms: t.elapsed().as_secs_f64() * 1000.0,
                        });
                    })
            })
        });
        for d in rx {
            if write_error.is_some() || stop.load(Ordering::Relaxed) {
                continue; // drain what the workers already finished
            }
            let f = &dumps[d.index];
            let path = f.path.display().to_string();
            let result = d.result.as_ref().map_err(String::as_str);
            let line = ScanLine {
                path: path.clone(),
                size: f.size,
                mtime: f.mtime,
                archive: f.archive.as_ref(),
                report: result.ok(),
                error: result.err(),
                elapsed_ms: d.elapsed_ms,
            };
            let text = match serde_json::to_string(&line) {
                Ok(t) => t,
                Err(e) => {
                    write_error = Some(format!("{path}: the report does not serialize: {e}"));
                    stop.store(true, Ordering::Relaxed);
                    continue;
                }
            };
            match out.line(&text) {
                Ok(true) => {}
                Ok(false) => {
                    stop.store(true, Ordering::Relaxed);
                    continue;
                }
                Err(e) => {
                    write_error = Some(e);
                    stop.store(true, Ordering::Relaxed);
                    continue;
                }
            }
            summary.add(&path, result);
            if let Some(b) = &bar {
                b.inc(1);
            }
            if opts.csv.is_some() {
                csv_rows.push(render::summary::csv_row(&path, result));
            }
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let (Some(csv), None) = (&opts.csv, &write_error) {
        if let Err(e) = write_csv(csv, &csv_rows) {
            write_error = Some(format!("{}: {e}", csv.display()));
        }
    }
    eprint!(
        "{}",
        summary.render(
            &Counts {
                found,
                in_shard,
                resumed,
                skipped: walked.skipped.len(),
            },
            started.elapsed().as_secs_f64(),
        )
    );
    if let Some(e) = write_error {
        eprintln!(
            "vmtaint scan: stopped: cannot write results: {e}; the {} lines written are valid, and a rerun \
             with the same --jsonl resumes after them",
            summary.scanned
        );
        return ExitCode::from(EXIT_WRITE_FAILED);
    }
    if summary.scanned > 0 && summary.errors == summary.scanned && resumed == 0 {
        return ExitCode::from(EXIT_UNREADABLE);
    }
    ExitCode::SUCCESS
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row per dump: the summary columns a spreadsheet wants.
fn write_csv(path: &Path, rows: &[String]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(File::create(path)?);
    writeln!(f, "{}", render::summary::CSV_HEADER)?;
    for r in rows {
        writeln!(f, "{r}")?;
    }
    f.flush()?;
    f.into_inner().map_err(|e| e.into_error())?.sync_all()
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
