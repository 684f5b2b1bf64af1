//! A scan's JSON lines: one per dump, written as each dump finishes ([`ScanLine`]) and read back into typed
//! data ([`ScanRecord`], [`merge`]) so the shards of a batch job make one summary (`vmtaint summary`).
//!
//! ```no_run
//! let merged = batch::lines::merge(&["shard-0.jsonl".into(), "shard-1.jsonl".into()])?;
//! for r in &merged.records {
//!     println!("{}: {}", r.path, render_verdict(r));
//! }
//! eprintln!("{} duplicates dropped, {} malformed lines", merged.duplicates, merged.malformed.len());
//! # fn render_verdict(r: &batch::lines::ScanRecord) -> &'static str { "" }
//! # Ok::<(), batch::lines::MergeError>(())
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use analyzers::document::{CrashFacts, FullReport, TaintingAtCrash};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One dump's JSON line as a scan writes it: which file, then its report (or why there is none), then how long
/// it took.
#[derive(Serialize)]
pub struct ScanLine<'a> {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<&'a Value>,
    #[serde(flatten)]
    pub report: Option<&'a FullReport>,
    /// The report's [`FullReport::crash_facts`] (`crash_owner`, `tainting_module_at_crash`,
    /// `load_failure_count`); `None` with `error`.
    #[serde(flatten)]
    pub crash: Option<CrashFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    pub elapsed_ms: f64,
}

/// A scan's JSON line read back.
#[derive(Debug, Clone)]
pub struct ScanRecord {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
    /// The kdump archive layout's `host`, `date` and `dmesg`, when the dump was found in one.
    pub archive: Option<Value>,
    /// The report, or why the scan got none.
    pub result: Result<FullReport, String>,
    /// The line's crash facts (`None` with an error); for a line of a version before them, what its report
    /// tells (unknown where it lacks `crash_site` or `load_failures`).
    pub crash: Option<CrashFacts>,
    pub elapsed_ms: f64,
}

/// The fields every line has, report or not.
#[derive(Deserialize)]
struct Head {
    path: String,
    size: u64,
    mtime: i64,
    #[serde(default)]
    archive: Option<Value>,
    #[serde(default)]
    error: Option<String>,
    elapsed_ms: f64,
}

impl ScanRecord {
    /// Read one line. The error says what is wrong with it (serde_json's message: what was expected where).
    pub fn parse(line: &str) -> Result<ScanRecord, serde_json::Error> {
        let value: Value = serde_json::from_str(line)?;
        let head = Head::deserialize(&value)?;
        let result = match head.error {
            Some(e) => Err(e),
            None => Ok(FullReport::deserialize(&value)?),
        };
        let crash = match &result {
            Err(_) => None,
            Ok(report) => Some(crash_facts_of(&value, report)?),
        };
        Ok(ScanRecord {
            path: head.path,
            size: head.size,
            mtime: head.mtime,
            archive: head.archive,
            result,
            crash,
            elapsed_ms: head.elapsed_ms,
        })
    }

    /// The crash facts as the CSV renderer takes them.
    pub fn crash(&self) -> Option<&CrashFacts> {
        self.crash.as_ref()
    }

    /// The result as the renderers take it.
    pub fn result(&self) -> Result<&FullReport, &str> {
        self.result.as_ref().map_err(String::as_str)
    }
}

/// A line's crash facts: its own keys, else (a line written before them) what its report tells, unknown where
/// the line lacks the report key they come from: an old report's `load_failures` reads back empty, which is not
/// a count of zero.
fn crash_facts_of(line: &Value, report: &FullReport) -> Result<CrashFacts, serde_json::Error> {
    if line.get("tainting_module_at_crash").is_some() {
        return CrashFacts::deserialize(line);
    }
    let mut facts = report.crash_facts();
    if line.get("crash_site").is_none() {
        facts.crash_owner = None;
        facts.tainting_module_at_crash = TaintingAtCrash::Unknown;
    }
    if line.get("load_failures").is_none() {
        facts.load_failure_count = None;
    }
    Ok(facts)
}

/// A line that could not be read back: which file, which line (from 1), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub file: PathBuf,
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

/// Why shards could not be merged at all (a file that cannot be read; a bad line is not such a reason).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", file.display())]
pub struct MergeError {
    pub file: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Shards merged: one record per dump, sorted by path.
#[derive(Debug, Default)]
pub struct Merged {
    pub records: Vec<ScanRecord>,
    /// Files read.
    pub files: usize,
    /// Lines read back (not counting blank lines or malformed ones).
    pub lines: usize,
    /// Older lines about a dump that a newer line also reports (a retried shard).
    pub duplicates: usize,
    pub malformed: Vec<Malformed>,
}

/// Lines longer than this are not a scan's (a report is a few KiB): named as malformed, never buffered whole.
pub const MAX_LINE: usize = 64 << 20;

/// Merge the JSON lines of `files` (a scan's shards, in any order). A dump reported more than once (a retried
/// shard, or a rerun with `--retry-errors`) keeps its newest line: from the most recently modified file, and
/// within a file the last one. Malformed lines (a shard killed mid-write, junk) are counted and named.
pub fn merge(files: &[PathBuf]) -> Result<Merged, MergeError> {
    // Newest = (file mtime, position on the command line, line number), largest wins.
    type Age = (SystemTime, usize, usize);
    let mut newest: BTreeMap<String, (Age, ScanRecord)> = BTreeMap::new();
    let mut m = Merged::default();
    for (index, file) in files.iter().enumerate() {
        let err = |source| MergeError {
            file: file.clone(),
            source,
        };
        let f = std::fs::File::open(file).map_err(err)?;
        let mtime = f
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        m.files += 1;
        let mut reader = BufReader::new(f);
        let mut buf = Vec::new();
        let mut number = 0;
        loop {
            buf.clear();
            let n = read_line_bounded(&mut reader, &mut buf).map_err(err)?;
            if n == 0 {
                break;
            }
            number += 1;
            let bad = |reason: String| Malformed {
                file: file.clone(),
                line: number,
                reason,
            };
            if buf.len() > MAX_LINE {
                m.malformed
                    .push(bad(format!("longer than {MAX_LINE} bytes")));
                continue;
            }
            let text = match std::str::from_utf8(&buf) {
                Ok(t) => t.trim_end_matches(['\n', '\r']),
                Err(e) => {
                    m.malformed.push(bad(format!("not UTF-8: {e}")));
                    continue;
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            if !buf.ends_with(b"\n") {
                // A writer killed mid-line: the line may parse by chance (a cut number) but is not whole.
                m.malformed.push(bad(
                    "cut short (no end of line: a writer stopped mid-line)".into()
                ));
                continue;
            }
            match ScanRecord::parse(text) {
                Ok(r) => {
                    m.lines += 1;
                    let age = (mtime, index, number);
                    match newest.get(&r.path) {
                        Some((old, _)) if *old > age => m.duplicates += 1,
                        Some(_) => {
                            m.duplicates += 1;
                            newest.insert(r.path.clone(), (age, r));
                        }
                        None => {
                            newest.insert(r.path.clone(), (age, r));
                        }
                    }
                }
                Err(e) => m.malformed.push(bad(e.to_string())),
            }
        }
    }
    m.records = newest.into_values().map(|(_, r)| r).collect();
    Ok(m)
}

/// Read up to and including the next `\n`, keeping at most [`MAX_LINE`] + 1 bytes of it (the rest is skipped):
/// a file of one endless line costs bounded memory. Returns the bytes consumed (0 at the end).
fn read_line_bounded(r: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = (MAX_LINE + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        if done && take > room {
            // Keep the end of line so the caller sees a whole (over-long) line.
            buf.push(b'\n');
        }
        r.consume(take);
        consumed += take;
        if done {
            return Ok(consumed);
        }
    }
}

/// Make `file` end after its last whole line, cutting off a partial one (a scan killed mid-write) so that
/// lines appended next start on a line of their own. Returns how many bytes were cut.
pub fn cut_partial_line(file: &mut std::fs::File) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    // Look back in blocks for the last newline.
    let mut end = len;
    let mut block = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block[..n])?;
        if let Some(i) = block[..n].iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            file.seek(SeekFrom::End(0))?;
            return Ok(len - keep);
        }
        end = start;
    }
    file.set_len(0)?;
    file.seek(SeekFrom::End(0))?;
    Ok(len)
}

/// `path`'s lines as [`merge`] would read them, for one file (tests, tools).
pub fn read(path: &Path) -> Result<Merged, MergeError> {
    merge(&[path.to_path_buf()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vmtaint-lines-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn error_lines_merge_newest_wins_and_junk_is_named() {
        let d = tmp("merge");
        let a = d.join("a.jsonl");
        let b = d.join("b.jsonl");
        std::fs::write(
            &a,
            concat!(
                r#"{"path":"/c/1","size":1,"mtime":2,"error":"old","elapsed_ms":1.0}"#,
                "\n",
                "not json\n",
                "\n",
                r#"{"path":"/c/2","size":1,"mtime":2,"error":"x","elapsed_ms":1.0}"#,
                "\n",
                r#"{"path":"/c/1","size":1,"mtime":2,"error":"new","elapsed_ms":1.0}"#,
                "\n",
                r#"{"path":"/c/3","size":1,"mt"#,
            ),
        )
        .unwrap();
        std::fs::write(
            &b,
            r#"{"path":"/c/2","size":1,"mtime":2,"tainted_mask":1,"elapsed_ms":1.0}"#.to_string()
                + "\n",
        )
        .unwrap();
        let m = merge(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.files, 2);
        let paths: Vec<&str> = m.records.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/c/1", "/c/2"]);
        assert_eq!(
            m.records[0].result().unwrap_err(),
            "new",
            "the later line wins"
        );
        assert_eq!(m.duplicates, 1);
        // /c/2 in b has no error but no whole report: malformed, so a's error line stays.
        assert_eq!(m.records[1].result().unwrap_err(), "x");
        let named: Vec<String> = m.malformed.iter().map(|x| x.to_string()).collect();
        assert_eq!(named.len(), 3, "{named:?}");
        assert!(
            named[0].starts_with(&format!("{}:2: ", a.display())),
            "{named:?}"
        );
        assert!(named[1].contains(":6: cut short"), "{named:?}");
        assert!(
            named[2].starts_with(&format!("{}:1: missing field", b.display())),
            "{named:?}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_partial_last_line_is_cut_before_appending() {
        let d = tmp("cut");
        let p = d.join("out.jsonl");
        std::fs::write(&p, "{\"a\":1}\n{\"b\":").unwrap();
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&p)
            .unwrap();
        assert_eq!(cut_partial_line(&mut f).unwrap(), 5);
        f.write_all(b"{\"c\":3}\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"c\":3}\n"
        );
        assert_eq!(cut_partial_line(&mut f).unwrap(), 0);
        std::fs::write(&p, "no newline at all").unwrap();
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&p)
            .unwrap();
        assert_eq!(cut_partial_line(&mut f).unwrap(), 17);
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_endless_line_costs_bounded_memory() {
        let mut r = BufReader::new(std::io::repeat(b'x').take((MAX_LINE + 10_000) as u64));
        let mut buf = Vec::new();
        let n = read_line_bounded(&mut r, &mut buf).unwrap();
        assert_eq!(n, MAX_LINE + 10_000);
        assert_eq!(buf.len(), MAX_LINE + 1);
    }

    use std::io::Read as _;

    /// A report from a kernel log: an oops in oot_oops's own function, and one failed load.
    fn log_report() -> FullReport {
        let log = concat!(
            "[    5.000000] oot_needsym: Unknown symbol oot_export_hello (err -2)\n",
            "[    9.000000] oot_oops: loading out-of-tree module taints kernel.\n",
            "[   10.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000\n",
            "[   10.000001] Oops: 0002 [#1] PREEMPT SMP NOPTI\n",
            "[   10.000002] CPU: 0 PID: 70 Comm: insmod Tainted: G           O       6.1.0-56-cloud-amd64 #1  Debian 6.1.158-1\n",
            "[   10.000003] RIP: 0010:oot_oops_poke+0x5/0x10 [oot_oops]\n",
            "[   10.000004] Call Trace:\n",
            "[   10.000005]  <TASK>\n",
            "[   10.000006]  oot_oops_init+0x9/0x1000 [oot_oops]\n",
            "[   10.000007]  do_one_initcall+0x56/0x220\n",
            "[   10.000008]  </TASK>\n",
            "[   10.000009] Modules linked in: oot_oops(O+)\n",
        );
        let text =
            analyzers::text_log::read_text_log(std::io::Cursor::new(log), "dmesg.txt").unwrap();
        FullReport {
            report: analyzers::log_report::report_from_log(&text),
            source: analyzers::document::SourceReport {
                kind: "log".into(),
                origin: "dmesg.txt".into(),
                matched_by: None,
                tried: Vec::new(),
                answers: Default::default(),
            },
            dump: analyzers::document::DumpSummary {
                path: "dmesg.txt".into(),
                format: "log".into(),
                release: None,
                build_id: None,
                crash_time_utc: None,
            },
        }
    }

    /// A scan file of a version before the crash facts (and before `crash_reports`, `crash_site`,
    /// `load_failures`, `log_only`, `keyrings`) reads back: its report whole, its crash facts unknown (not a
    /// load-failure count of 0); a new line keeps the facts it was written with.
    #[test]
    fn lines_without_the_crash_facts_read_back_with_them_unknown() {
        let report = log_report();
        let facts = report.crash_facts();
        assert_eq!(
            facts,
            CrashFacts {
                crash_owner: Some("oot_oops".into()),
                tainting_module_at_crash: TaintingAtCrash::AtSite,
                load_failure_count: Some(1),
            }
        );
        let line = |path: &str| ScanLine {
            path: path.into(),
            size: 1,
            mtime: 2,
            archive: None,
            report: Some(&report),
            crash: Some(facts.clone()),
            error: None,
            elapsed_ms: 1.0,
        };
        let new = serde_json::to_value(line("/c/new")).unwrap();
        for key in [
            "crash_owner",
            "tainting_module_at_crash",
            "load_failure_count",
        ] {
            assert!(new.get(key).is_some(), "{key} in {new}");
        }
        let mut old = serde_json::to_value(line("/c/old")).unwrap();
        for key in [
            "crash_owner",
            "tainting_module_at_crash",
            "load_failure_count",
            "crash_reports",
            "crash_site",
            "load_failures",
            "log_only",
            "keyrings",
        ] {
            old.as_object_mut().unwrap().remove(key).expect(key);
        }
        let d = tmp("old");
        let f = d.join("old.jsonl");
        std::fs::write(&f, format!("{old}\n{new}\n")).unwrap();
        let m = read(&f).unwrap();
        assert!(m.malformed.is_empty(), "{:?}", m.malformed);
        let paths: Vec<&str> = m.records.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/c/new", "/c/old"]);
        assert_eq!(m.records[0].crash(), Some(&facts));
        assert_eq!(
            m.records[1].crash(),
            Some(&CrashFacts {
                crash_owner: None,
                tainting_module_at_crash: TaintingAtCrash::Unknown,
                load_failure_count: None,
            })
        );
        let old_report = m.records[1].result().unwrap();
        assert_eq!(old_report.report.tainted_mask, report.report.tainted_mask);
        assert!(old_report.report.load_failures.is_empty());
        // An error line has no facts.
        std::fs::write(
            &f,
            r#"{"path":"/c/1","size":1,"mtime":2,"error":"x","elapsed_ms":1.0}"#.to_string() + "\n",
        )
        .unwrap();
        assert_eq!(read(&f).unwrap().records[0].crash(), None);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
