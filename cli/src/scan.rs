//! `vmtaint scan`: one answer per dump across archives of thousands.
//!
//! Dumps are found by content (magic), recursing into directories; everything else is reported as skipped.
//! Each dump's result is one JSON line, written and flushed as soon as it is ready, so a scan can be followed,
//! interrupted and resumed (`--jsonl OUT` that already holds results skips dumps with the same path, size and
//! mtime). `--shard K/N` takes a stable 1/N of the dumps (by a hash of the path relative to the scan root) so
//! any batch engine can split an archive.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use analyzers::document::FullReport;
use rayon::prelude::*;
use render::summary::{Counts, Summary};
use serde_json::Value;

use crate::EXIT_UNREADABLE;

pub use batch::lines::ScanLine;
pub use batch::walk::{walk, Found, Shard, Walk};

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
    pub html: Option<PathBuf>,
    pub jobs: Option<usize>,
    pub shard: Option<Shard>,
    pub retry_errors: bool,
    pub progress: bool,
}

/// Exit status when results could not be written (disk full, I/O error): what was written stays valid.
pub const EXIT_WRITE_FAILED: u8 = 1;

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
            .read(true)
            .append(true)
            .open(p)
        {
            // A scan killed mid-write left a partial last line: cut it, or the next line would be glued to it.
            Ok(mut f) => match f.metadata().and_then(|m| {
                if m.is_file() {
                    batch::lines::cut_partial_line(&mut f)?;
                }
                f.metadata()
            }) {
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
    let mut for_html: Vec<(String, Result<FullReport, String>)> = Vec::new();
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
            let crash = result.ok().map(FullReport::crash_facts);
            let line = ScanLine {
                path: path.clone(),
                size: f.size,
                mtime: f.mtime,
                archive: f.archive.as_ref(),
                report: result.ok(),
                crash: crash.clone(),
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
                csv_rows.push(render::summary::csv_row_with(&path, result, crash.as_ref()));
            }
            if opts.html.is_some() {
                for_html.push((path, d.result));
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
    if let (Some(html), None) = (&opts.html, &write_error) {
        for_html.sort_by(|a, b| a.0.cmp(&b.0));
        let dumps: Vec<(&str, Result<&FullReport, &str>)> = for_html
            .iter()
            .map(|(p, r)| (p.as_str(), r.as_ref().map_err(String::as_str)))
            .collect();
        let title = format!("vmtaint scan: {} dumps", dumps.len());
        let page = render::html::summary_page(&title, &dumps);
        if let Err(e) = crate::report::write_file(html, page.as_bytes()) {
            write_error = Some(format!("{}: {e}", html.display()));
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
pub fn write_csv(path: &Path, rows: &[String]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(File::create(path)?);
    writeln!(f, "{}", render::summary::CSV_HEADER)?;
    for r in rows {
        writeln!(f, "{r}")?;
    }
    f.flush()?;
    f.into_inner().map_err(|e| e.into_error())?.sync_all()
}
