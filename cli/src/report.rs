//! `vmtaint report`: the taint report of one dump (or of a kernel log alone), as text, JSON (schema:
//! docs/schema/report.schema.json) or Markdown.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use engine::DebuginfoOptions;

use crate::EXIT_UNREADABLE;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// `--format`: what `report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a person on a terminal (colour with --color).
    Text,
    /// The JSON document (schema: docs/schema/report.schema.json).
    Json,
    /// Markdown that pastes into an issue tracker: tables for flags, culprits, modules; the timeline as code.
    Markdown,
}

/// Exit status when a report was made but has no taint verdict (`tainted_mask` unreadable: symbols missing
/// or memory unreadable); the reason is on stderr.
pub const EXIT_NO_VERDICT: u8 = 3;

pub fn run(
    path: &Path,
    format: Format,
    color: Color,
    html: Option<&Path>,
    opts: &DebuginfoOptions,
) -> ExitCode {
    let full = match engine::report_file(path, opts, &engine::VmlinuxCache::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vmtaint: {e}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    emit(&full, format, color, html)
}

/// `vmtaint report --live`: the running kernel. A reduced report (kernel memory closed) still exits 0 with a
/// verdict, and says on stderr what it lacks and what to do.
pub fn run_live(
    host: &engine::LiveHost,
    format: Format,
    color: Color,
    html: Option<&Path>,
    opts: &DebuginfoOptions,
) -> ExitCode {
    let live = match engine::live_report(host, opts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vmtaint: {e}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    if let Some(why) = &live.reduced {
        eprintln!(
            "vmtaint: {why}\nvmtaint: reduced report from /proc and /sys: no last_unloaded_module, no \
             per-module signature state, the built-in flag table"
        );
    }
    emit(&live.full, format, color, html)
}

fn emit(full: &engine::FullReport, format: Format, color: Color, html: Option<&Path>) -> ExitCode {
    let out = match format {
        // Written as it serializes: a log of a million taint lines has a timeline of hundreds of MB.
        Format::Json => None,
        Format::Markdown => Some(render::markdown::full_report(full)),
        Format::Text => {
            let color = match color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            Some(render::text::full_report(full, color))
        }
    };
    if let Some(html) = html {
        if let Err(e) = write_file(html, render::html::full_report_page(full).as_bytes()) {
            eprintln!("vmtaint: {}: {e}", html.display());
            return ExitCode::from(crate::scan::EXIT_WRITE_FAILED);
        }
    }
    let written = match out {
        Some(out) => write_stdout(out.as_bytes()),
        None => match write_json_stdout(full) {
            Err(e) if !e.is_io() => {
                eprintln!("vmtaint: the report does not serialize: {e}");
                return ExitCode::from(EXIT_UNREADABLE);
            }
            r => r.map_err(std::io::Error::from),
        },
    };
    if let Err(e) = written {
        eprintln!("vmtaint: standard output: {e}");
        return ExitCode::from(crate::scan::EXIT_WRITE_FAILED);
    }
    if !full.has_verdict() {
        let taint = || {
            full.report
                .problems
                .iter()
                .filter(|p| p.analyzer == "taint")
        };
        let why = taint()
            .find(|p| p.message.contains("tainted_mask"))
            .or_else(|| taint().next_back())
            .map_or("tainted_mask could not be read", |p| p.message.as_str());
        eprintln!(
            "vmtaint: {}: no taint verdict: {why} (symbols from {})",
            full.dump.path, full.source.kind
        );
        return ExitCode::from(EXIT_NO_VERDICT);
    }
    ExitCode::SUCCESS
}

/// Write `value` as pretty JSON and a newline to stdout, as it serializes; a reader that went away is not an
/// error, as in [`write_stdout`].
fn write_json_stdout(value: &impl serde::Serialize) -> serde_json::Result<()> {
    let mut o = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut o, value).and_then(|()| {
        o.write_all(b"\n")
            .and_then(|()| o.flush())
            .map_err(serde_json::Error::io)
    });
    match written {
        Err(e) if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) => Ok(()),
        other => other,
    }
}

/// Write all of `bytes` to stdout; a reader that went away (`| head`) is not an error worth a message.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(bytes).and_then(|_| o.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Write a whole output file and make sure it reached the disk.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
