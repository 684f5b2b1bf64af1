//! `vmtaint report`: the taint report of one dump, human or JSON (schema: docs/schema/report.schema.json).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use engine::{make_report, DebuginfoOptions, FullReport};
use vmcore::Vmcore;

use crate::EXIT_UNREADABLE;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub fn run(path: &Path, json: bool, color: Color, opts: &DebuginfoOptions) -> ExitCode {
    let dump = match Vmcore::open(path) {
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
