//! Self-contained HTML pages (inline CSS and SVG; no script, no font, nothing fetched): the summary of many dumps
//! (`scan --html`, `summary --html`) and one dump's report (`report --html`).
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! let mut t = FakeTarget::new();
//! t.map(0x1000, 0x200u64.to_le_bytes().to_vec()); // W
//! t.add_symbol("tainted_mask", 0x1000);
//! let page = render::html::report_page(&analyzers::report::analyze(&t), "vmcore");
//! assert!(page.contains("TAINTED: W") && !page.contains("<script"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use analyzers::document::FullReport;
use analyzers::report::Report;
use analyzers::timeline::EventKind;

use crate::summary::verdict;
use crate::text::{culprits_of, event_name, source_name};

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;\
padding:0 1em;color:#1d1d1f}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;\
vertical-align:top}th{background:#f4f4f6}code,pre{font-family:ui-monospace,'DejaVu Sans Mono',monospace}\
pre{background:#f7f7f9;padding:.8em;overflow-x:auto;font-size:12px}.tainted{color:#b00020;font-weight:600}\
.clean{color:#137333;font-weight:600}.unknown{color:#a15c00;font-weight:600}.error{color:#555;font-weight:600}\
svg text{font:12px system-ui,sans-serif}.legend span{display:inline-block;margin-right:1.2em}\
.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-1px}section.dump{margin-top:1.5em}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n{body}</body></html>\n",
        esc(title)
    )
}

/// The colour and CSS class of a verdict.
fn verdict_style(v: &str) -> (&'static str, &'static str) {
    match v {
        "tainted" => ("#d93025", "tainted"),
        "not tainted" => ("#1e8e3e", "clean"),
        "unknown" => ("#f29900", "unknown"),
        _ => ("#80868b", "error"),
    }
}

const VERDICTS: [&str; 4] = ["tainted", "not tainted", "unknown", "error"];

/// Horizontal bars: one row per (label, count), longest first as given.
fn bars(rows: &[(String, u64, &str)]) -> String {
    if rows.is_empty() {
        return "<p>none</p>\n".into();
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let label_w = rows
        .iter()
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 60) as u64
        * 8
        + 12;
    let bar_w = 520u64;
    let h = 22 * rows.len() as u64 + 6;
    let mut s = format!(
        "<svg role=\"img\" width=\"{}\" height=\"{h}\" viewBox=\"0 0 {} {h}\">",
        label_w + bar_w + 60,
        label_w + bar_w + 60
    );
    for (i, (label, n, color)) in rows.iter().enumerate() {
        let y = 22 * i as u64 + 3;
        let w = (bar_w * n / max).max(2);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" \
             height=\"16\" fill=\"{color}\"><title>{}: {n}</title></rect><text x=\"{}\" y=\"{}\">{n}</text>",
            label_w - 6,
            y + 12,
            esc(label),
            esc(label),
            label_w + w + 5,
            y + 12
        );
    }
    s + "</svg>\n"
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-from-days, inverted).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The Monday starting the week of an RFC 3339 UTC time (`2026-11-30T05:36:42Z`), as `YYYY-MM-DD`.
pub fn week_of(time: &str) -> Option<String> {
    let date = time.get(..10)?;
    let mut it = date.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) mod 7.
    let monday = days - (days + 3).rem_euclid(7);
    let (y, m, d) = civil_from_days(monday);
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// Columns stacked by verdict, one per week that has dumps.
fn weeks_chart(weeks: &BTreeMap<String, BTreeMap<&'static str, u64>>) -> String {
    if weeks.is_empty() {
        return "<p>No dump has a crash time.</p>\n".into();
    }
    let max = weeks
        .values()
        .map(|v| v.values().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let col = 38u64;
    let plot_h = 200u64;
    let w = 80 + col * weeks.len() as u64 + 20;
    let h = plot_h + 70;
    let mut s = format!(
        "<svg role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
         <line x1=\"75\" y1=\"10\" x2=\"75\" y2=\"{}\" stroke=\"#999\"/><text x=\"70\" y=\"16\" text-anchor=\"end\">{max}</text>\
         <text x=\"70\" y=\"{}\" text-anchor=\"end\">0</text>",
        plot_h + 10,
        plot_h + 10
    );
    for (i, (week, counts)) in weeks.iter().enumerate() {
        let x = 80 + col * i as u64;
        let mut y = plot_h + 10;
        for v in VERDICTS {
            let n = counts.get(v).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let bh = (plot_h * n / max).max(1);
            y -= bh;
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{bh}\" fill=\"{}\"><title>week of {week}: {n} {v}</title></rect>",
                col - 6,
                verdict_style(v).0
            );
        }
        let _ = write!(
            s,
            "<text transform=\"translate({},{}) rotate(-45)\" text-anchor=\"end\">{}</text>",
            x + col / 2,
            plot_h + 24,
            esc(week)
        );
    }
    s + "</svg>\n"
}

fn legend() -> String {
    let mut s = String::from("<p class=\"legend\">");
    for v in VERDICTS {
        let _ = write!(
            s,
            "<span><i class=\"sw\" style=\"background:{}\"></i>{v}</span>",
            verdict_style(v).0
        );
    }
    s + "</p>\n"
}

/// The page of many dumps: dumps by verdict, flags by count, the modules that taint most dumps, dumps by week
/// of crash stacked by verdict, dumps whose flags no module explains, then one row per dump linking to its
/// report further down the page. `dumps` are (path, result) in the order to list them.
pub fn summary_page(title: &str, dumps: &[(&str, Result<&FullReport, &str>)]) -> String {
    let mut by_verdict: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut flags: BTreeMap<String, u64> = BTreeMap::new();
    let mut modules: BTreeMap<String, u64> = BTreeMap::new();
    let mut weeks: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut undated = 0u64;
    let mut unexplained = Vec::new();
    for (i, (path, result)) in dumps.iter().enumerate() {
        let v = verdict(*result);
        *by_verdict.entry(v).or_default() += 1;
        let Ok(d) = result else {
            undated += 1;
            continue;
        };
        let r = &d.report;
        for f in &r.flags {
            *flags.entry(format!("{} {}", f.letter, f.name)).or_default() += 1;
        }
        let tainting: BTreeSet<&str> = r
            .modules
            .iter()
            .filter(|m| !m.taints.is_empty())
            .map(|m| m.name.as_str())
            .collect();
        for m in tainting {
            *modules.entry(m.to_string()).or_default() += 1;
        }
        match d.dump.crash_time_utc.as_deref().and_then(week_of) {
            Some(w) => *weeks.entry(w).or_default().entry(v).or_default() += 1,
            None => undated += 1,
        }
        if !r.unexplained_flags.is_empty() {
            let letters: String = r.unexplained_flags.iter().map(|f| f.letter).collect();
            unexplained.push((i, *path, letters));
        }
    }
    let sorted = |m: BTreeMap<String, u64>, color: &'static str, top: usize| {
        let mut rows: Vec<(String, u64, &str)> =
            m.into_iter().map(|(k, v)| (k, v, color)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        rows.truncate(top);
        rows
    };
    let mut b = format!(
        "<h1>{}</h1>\n<p>{} dumps: {}.</p>\n",
        esc(title),
        dumps.len(),
        VERDICTS
            .iter()
            .filter_map(|v| by_verdict.get(v).map(|n| format!("{n} {v}")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    b += "<h2>Dumps by verdict</h2>\n";
    b += &bars(
        &VERDICTS
            .iter()
            .filter_map(|v| {
                by_verdict
                    .get(v)
                    .map(|n| (v.to_string(), *n, verdict_style(v).0))
            })
            .collect::<Vec<_>>(),
    );
    b += "<h2>Flags by dumps</h2>\n";
    b += &bars(&sorted(flags, "#d93025", 32));
    b += "<h2>Modules tainting the most dumps</h2>\n";
    b += &bars(&sorted(modules, "#8430ce", 20));
    b += "<h2>Dumps by week of crash</h2>\n";
    b += &legend();
    b += &weeks_chart(&weeks);
    if undated > 0 {
        let _ = writeln!(b, "<p>{undated} dumps without a crash time (or without a report) are not shown by week.</p>");
    }
    let _ = writeln!(
        b,
        "<h2>Dumps whose flags no module explains ({})</h2>",
        unexplained.len()
    );
    if unexplained.is_empty() {
        b += "<p>none</p>\n";
    } else {
        b += "<ul>\n";
        for (i, path, letters) in &unexplained {
            let _ = writeln!(
                b,
                "<li><a href=\"#dump-{i}\">{}</a> ({})</li>",
                esc(path),
                esc(letters)
            );
        }
        b += "</ul>\n";
    }
    b += "<h2>Dumps</h2>\n<table><tr><th>dump</th><th>verdict</th><th>flags</th><th>tainting modules</th>\
          <th>release</th><th>crash time (UTC)</th></tr>\n";
    for (i, (path, result)) in dumps.iter().enumerate() {
        let v = verdict(*result);
        let (flags, mods, release, time) = match result {
            Ok(d) => (
                d.report.taint_string.clone().unwrap_or_default(),
                d.report
                    .modules
                    .iter()
                    .filter(|m| !m.taints.is_empty())
                    .map(|m| format!("{} ({})", m.name, m.taints))
                    .collect::<Vec<_>>()
                    .join(", "),
                d.dump.release.clone().unwrap_or_default(),
                d.dump.crash_time_utc.clone().unwrap_or_default(),
            ),
            Err(e) => (String::new(), e.to_string(), String::new(), String::new()),
        };
        let _ = writeln!(
            b,
            "<tr><td><a href=\"#dump-{i}\">{}</a></td><td class=\"{}\">{v}</td><td><code>{}</code></td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            esc(path),
            verdict_style(v).1,
            esc(&flags),
            esc(&mods),
            esc(&release),
            esc(&time)
        );
    }
    b += "</table>\n<h2>Reports</h2>\n";
    for (i, (path, result)) in dumps.iter().enumerate() {
        let _ = writeln!(
            b,
            "<section class=\"dump\" id=\"dump-{i}\"><h3>{}</h3>",
            esc(path)
        );
        match result {
            Ok(d) => {
                let _ = writeln!(b, "<pre>{}</pre>", esc(&crate::text::full_report(d, false)));
            }
            Err(e) => {
                let _ = writeln!(b, "<p class=\"error\">error: {}</p>", esc(e));
            }
        }
        b += "</section>\n";
    }
    page(title, &b)
}

fn event_color(k: EventKind) -> &'static str {
    match k {
        EventKind::Taint => "#8430ce",
        EventKind::Warn => "#f29900",
        EventKind::Oops | EventKind::BadPage | EventKind::SoftLockup => "#d93025",
        EventKind::Panic | EventKind::Sysrq => "#202124",
        EventKind::FirstSeen | EventKind::NoEvidence => "#80868b",
    }
}

/// The timeline on a time axis (seconds since boot): one marker per event, labelled with its flag and module.
fn timeline_chart(r: &Report) -> String {
    let timed: Vec<_> = r.timeline.iter().filter(|e| e.ts_ns.is_some()).collect();
    if timed.is_empty() {
        return "<p>No timed event in the kernel log.</p>\n".into();
    }
    let last = timed
        .iter()
        .filter_map(|e| e.ts_ns)
        .max()
        .unwrap_or(1)
        .max(1) as f64
        / 1e9;
    let span = if last <= 0.0 { 1.0 } else { last * 1.05 };
    let (left, width) = (40.0, 940.0);
    let row_h = 18.0;
    let h = 60.0 + row_h * timed.len() as f64;
    let axis_y = 30.0;
    let mut s = format!(
        "<svg role=\"img\" width=\"{}\" height=\"{h}\" viewBox=\"0 0 {} {h}\">\
         <line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#444\"/>",
        left + width + 20.0,
        left + width + 20.0,
        left + width
    );
    for i in 0..=5 {
        let t = span * i as f64 / 5.0;
        let x = left + width * i as f64 / 5.0;
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{}\" \
             text-anchor=\"middle\">{t:.2} s</text>",
            axis_y - 4.0,
            axis_y + 4.0,
            axis_y - 8.0
        );
    }
    for (i, e) in timed.iter().enumerate() {
        let t = e.ts_ns.unwrap_or(0) as f64 / 1e9;
        let x = left + width * t / span;
        let y = axis_y + 20.0 + row_h * i as f64;
        let label = format!(
            "{:.6} s  {}{}{}",
            t,
            e.letter.map(|l| format!("{l} ")).unwrap_or_default(),
            event_name(e.kind),
            e.module
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        );
        let anchor = if x > left + width * 0.6 {
            "end"
        } else {
            "start"
        };
        let tx = if anchor == "end" { x - 8.0 } else { x + 8.0 };
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{axis_y}\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"#ccc\"/>\
             <circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{}\"><title>{}</title></circle>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            event_color(e.kind),
            esc(e.text.as_deref().unwrap_or("")),
            y + 4.0,
            esc(&label)
        );
    }
    s + "</svg>\n"
}

/// One dump's report: verdict, the kernel's `Tainted:` columns each explained, culprits, modules, the taint
/// timeline drawn on a time axis, then the full text report.
pub fn report_page(r: &Report, title: &str) -> String {
    let mut b = format!("<h1>{}</h1>\n", esc(title));
    let v = match r.tainted_mask {
        Some(0) => "<p class=\"clean\">Not tainted</p>".to_string(),
        Some(m) => format!(
            "<p class=\"tainted\">TAINTED: {} ({m:#x})</p>",
            r.flags
                .iter()
                .map(|f| f.letter.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        None => "<p class=\"unknown\">Taint state unknown (tainted_mask unreadable)</p>".into(),
    };
    b += &v;
    b.push('\n');
    if let Some(ts) = &r.taint_string {
        let _ = writeln!(
            b,
            "<h2>Flags</h2>\n<p>The kernel prints <code>{}</code> (table: {}). Each column is one taint bit: its \
             letter when set, blank (or <code>G</code> in column 0) when not.</p>",
            esc(ts),
            source_name(r.taint_source)
        );
        let columns = ts.strip_prefix("Tainted: ").unwrap_or(ts);
        b += "<table><tr><th>column (bit)</th><th>shows</th><th>flag</th><th>set by</th></tr>\n";
        let culprits = culprits_of(r);
        for (bit, c) in columns.chars().enumerate() {
            let flag = r.flags.iter().find(|f| f.bit as usize == bit);
            let (shows, meaning, who) = match flag {
                Some(f) => (
                    format!("<b>{}</b>", esc(&c.to_string())),
                    esc(&f.name),
                    culprits
                        .iter()
                        .filter(|x| x.letter == f.letter && !x.pending)
                        .flat_map(|x| x.who.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                None if bit == 0 && c == 'G' => (
                    "G".into(),
                    "not set: only GPL-compatible modules".into(),
                    String::new(),
                ),
                None => ("&nbsp;".into(), "not set".into(), String::new()),
            };
            let _ = writeln!(
                b,
                "<tr><td>{bit}</td><td><code>{shows}</code></td><td>{meaning}</td><td>{}</td></tr>",
                esc(&who)
            );
        }
        b += "</table>\n";
    }
    let _ = writeln!(b, "<h2>Timeline ({} events)</h2>", r.timeline.len());
    b += &timeline_chart(r);
    let tainting: Vec<_> = r.modules.iter().filter(|m| !m.taints.is_empty()).collect();
    let _ = writeln!(
        b,
        "<h2>Modules carrying taint ({} of {})</h2>",
        tainting.len(),
        r.modules.len()
    );
    if !tainting.is_empty() {
        b += "<table><tr><th>module</th><th>taints</th><th>signed</th></tr>\n";
        for m in tainting {
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&m.name),
                esc(&m.taints),
                match m.signed {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                }
            );
        }
        b += "</table>\n";
    }
    let _ = writeln!(
        b,
        "<h2>Full report</h2>\n<pre>{}</pre>",
        esc(&crate::text::report(r, false))
    );
    page(title, &b)
}

/// [`report_page`] of a whole document, titled by its dump and ending with where the symbols came from.
pub fn full_report_page(d: &FullReport) -> String {
    let title = format!("vmtaint: {}", d.dump.path);
    let mut p = report_page(&d.report, &title);
    let tail = format!(
        "<p>{} ({}, {}); crashed {}; symbols: {} {}</p>\n</body>",
        esc(&d.dump.path),
        esc(&d.dump.format),
        esc(d.dump.release.as_deref().unwrap_or("release unknown")),
        esc(d
            .dump
            .crash_time_utc
            .as_deref()
            .unwrap_or("at an unknown time")),
        esc(&d.source.kind),
        esc(&d.source.origin)
    );
    if let Some(at) = p.rfind("</body>") {
        p.replace_range(at..at + "</body>".len(), &tail);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(
            week_of("2026-11-30T05:36:42Z").as_deref(),
            Some("2026-11-30")
        ); // a Monday
        assert_eq!(
            week_of("2026-12-06T23:59:59Z").as_deref(),
            Some("2026-11-30")
        ); // Sunday
        assert_eq!(
            week_of("2021-01-01T00:00:00Z").as_deref(),
            Some("2020-12-28")
        );
        assert_eq!(
            week_of("1970-01-01T00:00:00Z").as_deref(),
            Some("1969-12-29")
        );
        assert_eq!(week_of("junk"), None);
        for days in [-800_000i64, -1, 0, 59, 60, 20_000, 1_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn text_is_escaped_and_nothing_is_fetched() {
        let page = summary_page("<x>", &[("/a/<b>&\"", Err("bad <dump>"))]);
        assert!(page.contains("&lt;x&gt;") && page.contains("/a/&lt;b&gt;&amp;&quot;"));
        assert!(!page.contains("<b>&") && !page.contains("<dump>"));
        for banned in ["<script", "src=", "@import", "url(", "<link"] {
            assert!(!page.contains(banned), "{banned}");
        }
    }
}
