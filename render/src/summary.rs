//! What a scan prints about many dumps: each dump's verdict, its CSV row, and the closing summary table
//! (dumps by verdict, flags by count, the modules that taint most dumps, dumps with unexplained flags).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use analyzers::document::{CrashFacts, FullReport};

/// A dump's verdict: `not tainted`, `tainted`, `unknown` (no mask read) or `error` (no report).
pub fn verdict(result: Result<&FullReport, &str>) -> &'static str {
    match result {
        Err(_) => "error",
        Ok(r) => match r.report.tainted_mask {
            Some(0) => "not tainted",
            Some(_) => "tainted",
            None => "unknown",
        },
    }
}

/// The closing table of a scan, added to one dump at a time.
///
/// ```
/// let mut s = render::summary::Summary::default();
/// s.add("/crash/a/vmcore", Err("not a crash dump"));
/// assert_eq!(s.scanned, 1);
/// assert!(s.render(&render::summary::Counts::default(), 1.0).contains("error: /crash/a/vmcore: not a crash dump"));
/// ```
#[derive(Debug, Default)]
pub struct Summary {
    pub scanned: u64,
    pub errors: u64,
    verdicts: BTreeMap<&'static str, u64>,
    flags: BTreeMap<String, u64>,
    modules: BTreeMap<String, u64>,
    /// Path -> the unexplained letters (sorted by path: the same table whatever order dumps finish in).
    unexplained: BTreeMap<String, String>,
    /// The first [`ERROR_SAMPLES`] errors by path.
    error_samples: BTreeMap<String, String>,
}

/// How many errors the table names (the rest are counted).
pub const ERROR_SAMPLES: usize = 5;

/// How the dumps of a scan were found and chosen (for the summary's first line).
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Dumps found under the scan's paths.
    pub found: usize,
    /// Of those, in this process's shard.
    pub in_shard: usize,
    /// Already reported in the output file (resumed).
    pub resumed: usize,
    /// Other files seen and skipped.
    pub skipped: usize,
}

impl Summary {
    /// Count one dump's result.
    pub fn add(&mut self, path: &str, result: Result<&FullReport, &str>) {
        self.scanned += 1;
        let v = verdict(result);
        *self.verdicts.entry(v).or_default() += 1;
        let r = match result {
            Err(e) => {
                self.errors += 1;
                self.error_samples.insert(path.to_string(), e.to_string());
                if self.error_samples.len() > ERROR_SAMPLES {
                    self.error_samples.pop_last();
                }
                return;
            }
            Ok(r) => &r.report,
        };
        for f in &r.flags {
            *self
                .flags
                .entry(format!("{} {}", f.letter, f.name))
                .or_default() += 1;
        }
        let tainting: BTreeSet<&str> = r
            .modules
            .iter()
            .filter(|m| !m.taints.is_empty())
            .map(|m| m.name.as_str())
            .collect();
        for m in tainting {
            *self.modules.entry(m.to_string()).or_default() += 1;
        }
        if !r.unexplained_flags.is_empty() {
            let letters: String = r.unexplained_flags.iter().map(|f| f.letter).collect();
            self.unexplained.insert(path.to_string(), letters);
        }
    }

    /// The table, as printed on stderr at the end of a scan: a line of counts, then [`Summary::tables`].
    pub fn render(&self, c: &Counts, secs: f64) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "scanned {} of {} dumps{} in {secs:.1} s ({:.1} dumps/s); {} already in the output, {} other files skipped",
            self.scanned,
            c.found,
            if c.in_shard != c.found {
                format!(" ({} in this shard)", c.in_shard)
            } else {
                String::new()
            },
            self.scanned as f64 / secs.max(1e-9),
            c.resumed,
            c.skipped,
        );
        s + &self.tables()
    }

    /// The tables alone (dumps by verdict, flags, modules, unexplained flags, errors): the same for a scan and
    /// for its shards merged by `vmtaint summary`.
    pub fn tables(&self) -> String {
        let mut s = String::new();
        fn table<K: AsRef<str> + Ord>(title: &str, counts: &BTreeMap<K, u64>, out: &mut String) {
            if counts.is_empty() {
                return;
            }
            let mut rows: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let _ = writeln!(out, "{title}");
            let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
            for (k, v) in rows.iter().take(10) {
                let _ = writeln!(out, "  {k:<w$}  {v:>6}");
            }
        }
        table("dumps by verdict:", &self.verdicts, &mut s);
        table("flags by dumps:", &self.flags, &mut s);
        table("modules tainting the most dumps:", &self.modules, &mut s);
        if !self.unexplained.is_empty() {
            let _ = writeln!(
                s,
                "dumps with unexplained flags: {}",
                self.unexplained.len()
            );
            for (path, letters) in self.unexplained.iter().take(10) {
                let _ = writeln!(s, "  {path} ({letters})");
            }
        }
        for (path, e) in &self.error_samples {
            let _ = writeln!(s, "error: {path}: {e}");
        }
        s
    }
}

/// The CSV header line (without newline). Columns are a contract: only ever appended.
pub const CSV_HEADER: &str = "path,verdict,tainted_mask,taint_string,flags,tainting_modules,unexplained_flags,release,error,\
                              crash_owner,tainting_module_at_crash,load_failure_count";

/// One CSV row (without newline): the summary columns a spreadsheet wants, the crash facts taken from the
/// report ([`FullReport::crash_facts`]).
///
/// ```
/// let row = render::summary::csv_row("/crash/a/vmcore", Err("not a crash dump"));
/// assert_eq!(row, r#""/crash/a/vmcore",error,,"",,"",,"","not a crash dump","",,"#);
/// ```
pub fn csv_row(path: &str, result: Result<&FullReport, &str>) -> String {
    let facts = result.ok().map(FullReport::crash_facts);
    csv_row_with(path, result, facts.as_ref())
}

/// [`csv_row`] with the crash facts given (a scan line read back keeps its own: `batch::lines::ScanRecord`).
/// Empty crash columns: no crash in the log (`crash_owner`), no facts at all (an error, an old scan line), no
/// kernel log to count load failures in (`load_failure_count`).
pub fn csv_row_with(
    path: &str,
    result: Result<&FullReport, &str>,
    crash: Option<&CrashFacts>,
) -> String {
    let esc = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let (mask, string, flags, mods, unexplained, release, error) = match result {
        Err(_) => Default::default(),
        Ok(d) => {
            let r = &d.report;
            let mods: Vec<String> = r
                .modules
                .iter()
                .filter(|m| !m.taints.is_empty())
                .map(|m| format!("{}({})", m.name, m.taints))
                .collect();
            (
                r.tainted_mask.map_or(String::new(), |m| m.to_string()),
                r.taint_string.clone().unwrap_or_default(),
                r.flags.iter().map(|f| f.letter).collect::<String>(),
                mods.join(" "),
                r.unexplained_flags
                    .iter()
                    .map(|f| f.letter)
                    .collect::<String>(),
                d.dump.release.clone().unwrap_or_default(),
                String::new(),
            )
        }
    };
    let error = match result {
        Err(e) => e.to_string(),
        Ok(_) => error,
    };
    let (owner, tainting, load_failures) = match crash {
        None => Default::default(),
        Some(c) => (
            c.crash_owner.clone().unwrap_or_default(),
            c.tainting_module_at_crash.name(),
            c.load_failure_count
                .map_or(String::new(), |n| n.to_string()),
        ),
    };
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{}",
        esc(path),
        verdict(result),
        mask,
        esc(&string),
        flags,
        esc(&mods),
        unexplained,
        esc(&release),
        esc(&error),
        esc(&owner),
        tainting,
        load_failures,
    )
}
