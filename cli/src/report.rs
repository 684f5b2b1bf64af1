//! `vmtaint report`: the taint report of one dump, human or JSON (schema: docs/schema/report.schema.json).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use analyzers::report::{analyze, Report};
use serde::Serialize;
use vmcore::Vmcore;

use crate::debuginfo::{
    choose_source, Chosen, DebuginfoOptions, Refused, SourceReport, VmlinuxCache,
};
use crate::target::{DumpTarget, SymbolSource, VmcoreInfoOnly};
use crate::EXIT_UNREADABLE;

/// Which dump the report is about.
#[derive(Debug, Clone, Serialize)]
pub struct DumpSummary {
    pub path: String,
    pub format: vmcore::Format,
    pub release: Option<String>,
    pub build_id: Option<String>,
    pub crash_time_utc: Option<String>,
}

/// The report as `vmtaint report --json` prints it: the analyzers' report, plus where its symbols came from
/// and which dump it describes.
#[derive(Debug, Clone, Serialize)]
pub struct FullReport {
    #[serde(flatten)]
    pub report: Report,
    pub source: SourceReport,
    pub dump: DumpSummary,
}

/// Make the report of an opened dump. Fails only when the user's explicit `--vmlinux` does not fit.
pub fn make_report(dump: &Vmcore, opts: &DebuginfoOptions) -> Result<FullReport, Refused> {
    make_report_cached(dump, opts, &VmlinuxCache::default())
}

/// [`make_report`] with debug vmlinux files shared through `cache` (scans).
pub fn make_report_cached(
    dump: &Vmcore,
    opts: &DebuginfoOptions,
    cache: &VmlinuxCache,
) -> Result<FullReport, Refused> {
    let mut tried = Vec::new();
    let chosen = choose_source(dump, opts, cache, &mut tried)?;
    let empty = vmcore::VmcoreInfo::default();
    let vmcoreinfo_only = VmcoreInfoOnly(dump.vmcoreinfo().unwrap_or(&empty));
    let (symbols, matched_by): (&dyn SymbolSource, Option<String>) = match &chosen {
        Chosen::Dwarf(d, how) => (d, Some(how.clone())),
        Chosen::Btf(b, how) => (b.as_ref(), how.clone()),
        Chosen::VmcoreInfoOnly => {
            tried.push(crate::debuginfo::Attempt {
                source: "vmcoreinfo",
                outcome: "used: the kernel log alone".into(),
            });
            (&vmcoreinfo_only, None)
        }
    };
    let target = DumpTarget { dump, symbols };
    let report = analyze(&target);
    let info = dump.info();
    Ok(FullReport {
        report,
        source: SourceReport {
            kind: symbols.kind(),
            origin: symbols.origin(),
            matched_by,
            tried,
        },
        dump: DumpSummary {
            path: info.path,
            format: info.format,
            release: info.release,
            build_id: info.build_id,
            crash_time_utc: info.crash_time_utc,
        },
    })
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub fn run(path: &Path, json: bool, color: Color, opts: &DebuginfoOptions) -> ExitCode {
    // An architecture whose addresses cannot be translated gives no report at all, not an empty one.
    let dump = match Vmcore::open(path).and_then(|d| d.ensure_supported().map(|_| d)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("vmtaint: {e}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    let full = match make_report(&dump, opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vmtaint: {e}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    let out = if json {
        serde_json::to_string_pretty(&full).expect("the report serializes") + "\n"
    } else {
        let color = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        render(&full, color)
    };
    let _ = std::io::stdout().write_all(out.as_bytes());
    ExitCode::SUCCESS
}

/// Human output: which dump and which symbols, then the analyzers' report.
pub fn render(r: &FullReport, color: bool) -> String {
    let d = &r.dump;
    let mut s = r.report.render_text(color);
    s += &format!(
        "\n{} ({}, {}); symbols: {} {}{}\n",
        d.path,
        d.format.name(),
        d.release.as_deref().unwrap_or("release unknown"),
        r.source.kind,
        r.source.origin,
        r.source
            .matched_by
            .as_deref()
            .map(|m| format!(" (matched by {m})"))
            .unwrap_or_default()
    );
    s
}
