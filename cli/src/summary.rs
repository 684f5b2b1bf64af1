//! `vmtaint summary RESULTS.jsonl...`: the shards of a batch scan (a Kubernetes Indexed Job, a Slurm array)
//! merged into the closing summary one unsharded `scan` would have printed. A dump reported twice (a retried
//! shard) counts once, by its newest line; malformed lines are counted and named, never fatal.

use std::path::PathBuf;
use std::process::ExitCode;

use batch::lines::{merge, Merged};
use render::summary::Summary;

use crate::EXIT_UNREADABLE;

/// How many malformed lines are named (all are counted).
const MALFORMED_NAMED: usize = 10;

/// Options of `vmtaint summary`.
pub struct SummaryOptions {
    pub files: Vec<PathBuf>,
    pub csv: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

/// The summary text: a line of what was merged, the tables `scan` closes with, then the malformed lines.
pub fn render(m: &Merged, summary: &Summary) -> String {
    let mut s = format!(
        "merged {} dumps from {} lines in {} files; {} duplicate lines dropped (newest kept), {} malformed\n",
        m.records.len(),
        m.lines,
        m.files,
        m.duplicates,
        m.malformed.len()
    );
    s += &summary.tables();
    if !m.malformed.is_empty() {
        s += &format!("malformed lines: {}\n", m.malformed.len());
        for x in m.malformed.iter().take(MALFORMED_NAMED) {
            s += &format!("  {x}\n");
        }
    }
    s
}

/// Fold merged records into the scan's summary table.
pub fn summarize(m: &Merged) -> Summary {
    let mut summary = Summary::default();
    for r in &m.records {
        summary.add(&r.path, r.result());
    }
    summary
}

pub fn run(opts: &SummaryOptions) -> ExitCode {
    let merged = match merge(&opts.files) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("vmtaint summary: {e}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    let summary = summarize(&merged);
    if let Err(e) = crate::report::write_stdout(render(&merged, &summary).as_bytes()) {
        eprintln!("vmtaint summary: standard output: {e}");
        return ExitCode::from(crate::scan::EXIT_WRITE_FAILED);
    }
    if let Some(csv) = &opts.csv {
        let rows: Vec<String> = merged
            .records
            .iter()
            .map(|r| render::summary::csv_row_with(&r.path, r.result(), r.crash()))
            .collect();
        if let Err(e) = crate::scan::write_csv(csv, &rows) {
            eprintln!("vmtaint summary: {}: {e}", csv.display());
            return ExitCode::from(crate::scan::EXIT_WRITE_FAILED);
        }
    }
    if let Some(html) = &opts.html {
        let dumps: Vec<(&str, Result<&analyzers::document::FullReport, &str>)> = merged
            .records
            .iter()
            .map(|r| (r.path.as_str(), r.result()))
            .collect();
        let title = format!(
            "vmtaint: {} dumps from {} scan files",
            dumps.len(),
            merged.files
        );
        let page = render::html::summary_page(&title, &dumps);
        if let Err(e) = crate::report::write_file(html, page.as_bytes()) {
            eprintln!("vmtaint summary: {}: {e}", html.display());
            return ExitCode::from(crate::scan::EXIT_WRITE_FAILED);
        }
    }
    if merged.records.is_empty() {
        eprintln!(
            "vmtaint summary: no scan results in {}",
            opts.files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(EXIT_UNREADABLE);
    }
    ExitCode::SUCCESS
}
