//! The report as Markdown that pastes cleanly into an issue tracker (GitHub, GitLab, Jira's Markdown): a verdict
//! line, tables for flags, culprits and modules, the timeline as a code block (the kernel log's own format), and
//! where the report came from.
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! let mut t = FakeTarget::new();
//! t.map(0x1000, 0x200u64.to_le_bytes().to_vec()); // W
//! t.add_symbol("tainted_mask", 0x1000);
//! let md = render::markdown::report(&analyzers::report::analyze(&t));
//! assert!(md.starts_with("**TAINTED: W** (`0x200`)"));
//! assert!(md.contains("| W | 9 |"));
//! ```

use std::fmt::Write as _;

use analyzers::document::FullReport;
use analyzers::report::Report;

use crate::text::{culprits_of, section, source_name, Section};

/// A table cell: pipes escaped, line breaks flattened (either would break the table).
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Inline code that survives backticks in the text.
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn table(o: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(o, "| {} |", header.join(" | "));
    let _ = writeln!(
        o,
        "|{}|",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
}

/// The report (without the dump and source line: see [`full_report`]).
pub fn report(r: &Report) -> String {
    let mut o = String::new();
    match r.tainted_mask {
        Some(0) => o.push_str("**Not tainted**\n"),
        Some(m) => {
            let letters: Vec<String> = r.flags.iter().map(|f| f.letter.to_string()).collect();
            let _ = writeln!(
                o,
                "**TAINTED: {}** ({})",
                letters.join(" "),
                code(&format!("{m:#x}"))
            );
        }
        None => o.push_str("**Taint state unknown** (`tainted_mask` unreadable)\n"),
    }
    if let Some(s) = &r.taint_string {
        let _ = writeln!(
            o,
            "\nThe kernel prints {} (table: {}).",
            code(s),
            source_name(r.taint_source)
        );
    }
    if !r.flags.is_empty() {
        o.push_str("\n### Flags\n\n");
        let rows: Vec<Vec<String>> = r
            .flags
            .iter()
            .map(|f| vec![f.letter.to_string(), f.bit.to_string(), f.name.clone()])
            .collect();
        table(&mut o, &["flag", "bit", "meaning"], &rows);
    }
    let culprits = culprits_of(r);
    if !culprits.is_empty() {
        o.push_str("\n### Culprits\n\n");
        let rows: Vec<Vec<String>> = culprits
            .iter()
            .map(|c| {
                let who = if c.who.is_empty() {
                    "no module found".to_string()
                } else {
                    c.who.join(", ")
                };
                let note = if c.pending {
                    "pending: not yet in tainted_mask"
                } else {
                    ""
                };
                vec![c.letter.to_string(), who, note.to_string()]
            })
            .collect();
        table(&mut o, &["flag", "module (evidence)", "note"], &rows);
    }
    let _ = writeln!(o, "\n### Modules ({})\n", r.modules.len());
    if r.modules.is_empty() {
        o.push_str("No module could be read.\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .modules
            .iter()
            .map(|m| {
                vec![
                    m.name.clone(),
                    m.state.clone(),
                    m.taints.clone(),
                    match m.signed {
                        Some(true) => "yes".into(),
                        Some(false) => "no".into(),
                        None => "-".into(),
                    },
                    m.base.map_or("-".into(), |b| format!("{b:#x}")),
                    m.size.map_or("-".into(), |s| s.to_string()),
                    m.version.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        table(
            &mut o,
            &[
                "name", "state", "taints", "signed", "base", "size", "version",
            ],
            &rows,
        );
    }
    // Signatures and unloaded modules read well as the text report's lines.
    for s in [Section::Signatures, Section::Unloaded] {
        let text = section(r, s, false);
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        if s == Section::Unloaded {
            o.push_str("\n### Unloaded\n\n");
            lines.next(); // the text heading
        } else {
            o.push('\n');
        }
        for l in lines {
            let _ = writeln!(o, "- {}", cell(l.trim()));
        }
    }
    let _ = writeln!(o, "\n### Timeline ({} events)\n", r.timeline.len());
    let timeline = section(r, Section::Timeline, false);
    let body: Vec<&str> = timeline.lines().skip(2).collect(); // blank line and heading
                                                              // A fence longer than any run of backticks in the log.
    let longest = body
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(o, "{fence}");
    for l in body {
        let _ = writeln!(o, "{}", l.strip_prefix("  ").unwrap_or(l));
    }
    let _ = writeln!(o, "{fence}");
    if !r.problems.is_empty() {
        o.push_str("\n### Problems\n\n");
        for p in &r.problems {
            let _ = writeln!(o, "- {} {}", code(p.analyzer.name()), cell(&p.message));
        }
    }
    o
}

/// The whole document: the report, then which dump and which symbols.
pub fn full_report(d: &FullReport) -> String {
    let mut s = report(&d.report);
    let dump = &d.dump;
    let _ = writeln!(
        s,
        "\n*{}* ({}, {}{}); symbols: {} {}{}{}",
        cell(&dump.path),
        dump.format,
        dump.release
            .as_deref()
            .map_or("release unknown".into(), code),
        dump.crash_time_utc
            .as_deref()
            .map(|t| format!(", crashed {t}"))
            .unwrap_or_default(),
        d.source.kind,
        cell(&d.source.origin),
        d.source
            .matched_by
            .as_deref()
            .map(|m| format!(" (matched by {m})"))
            .unwrap_or_default(),
        match crate::recovered_from_code(d) {
            0 => String::new(),
            n => format!(", {n} data symbols recovered from the kernel's code"),
        }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use analyzers::fake::FakeTarget;

    #[test]
    fn tables_are_well_formed_and_cells_cannot_break_them() {
        let mut t = FakeTarget::new();
        t.map(0x1000, 0x3201u64.to_le_bytes().to_vec()); // P W O E
        t.add_symbol("tainted_mask", 0x1000);
        let mut r = analyzers::report::analyze(&t);
        r.problems.push(analyzers::report::Problem::new(
            analyzers::report::Analyzer::Taint,
            analyzers::report::ProblemKind::Invalid,
            "a | b\nc",
        ));
        let md = report(&r);
        assert!(md.starts_with("**TAINTED: P W O E** (`0x3201`)"), "{md}");
        // Every table row has as many cells as its header.
        let mut cols = None;
        for l in md.lines() {
            if l.starts_with('|') {
                let n = l.replace("\\|", "").matches('|').count();
                match cols {
                    None => cols = Some(n),
                    Some(c) => assert_eq!(c, n, "{l}\n{md}"),
                }
            } else {
                cols = None;
            }
        }
        assert!(md.contains("a \\| b c"), "{md}");
        assert_eq!(md.matches("```").count(), 2, "one fenced timeline\n{md}");
    }
}
