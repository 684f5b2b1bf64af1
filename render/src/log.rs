//! Human lines for log-only reports and module load failures (the analyzers return typed data only).
//!
//! ```
//! use analyzers::load_failures::{LoadFailure, Reason};
//! let f = LoadFailure {
//!     module: Some("oot_prop".into()), seq: 3, ts_ns: 5_000_000_000, reason: Reason::SignatureRejected,
//!     detail: Some("unsigned module".into()), kernel_line: Some("Loading of unsigned module is rejected".into()),
//!     userspace_line: None, repeats: 0,
//! };
//! let lines = render::log::load_failure_lines(&[f]);
//! assert_eq!(lines[1], "  [    5.000000] oot_prop  signature rejected: unsigned module");
//! ```

use analyzers::kernel_log::format_ts;
use analyzers::load_failures::{LoadFailure, Reason};
use analyzers::log_report::{LogOnly, MaskBasis};
use analyzers::text_log::Clock;
use analyzers::unloaded::LastUnloaded;

/// The lines that say a report comes from a log alone, and what it cannot know.
pub fn log_only_lines(l: &LogOnly) -> Vec<String> {
    let mut out = vec![format!(
        "From a kernel log alone ({} lines, {:?} format): {}",
        l.lines,
        l.format,
        match l.mask_basis {
            MaskBasis::TaintedLine =>
                "mask from its last Tainted: string and the taint lines after it",
            MaskBasis::TaintLinesOnly =>
                "no Tainted: string; mask only from taint lines (a lower bound)",
            MaskBasis::None => "no Tainted: string and no taint line",
        }
    )];
    if l.clock == Clock::WallClock {
        out.push("Times are wall-clock times, not times since boot".into());
    }
    if !l.modules_linked_in.is_empty() {
        let m: Vec<String> = l
            .modules_linked_in
            .iter()
            .filter(|m| !m.taints.is_empty())
            .map(|m| format!("{}({})", m.name, m.taints))
            .collect();
        if !m.is_empty() {
            out.push(format!(
                "Tainted modules in the last Modules linked in: list: {}",
                m.join(" ")
            ));
        }
    }
    let unknown: Vec<&str> = l.unknown.iter().map(|u| u.what.as_str()).collect();
    out.push(format!("Unknown from a log: {}", unknown.join(", ")));
    out
}

/// How a load failure's reason reads in human output.
pub fn reason_text(r: Reason) -> &'static str {
    match r {
        Reason::CrcMismatch => "symbol CRC mismatch",
        Reason::NoSymbolVersion => "no symbol version",
        Reason::UnknownSymbol => "unknown symbol",
        Reason::Vermagic => "version magic mismatch",
        Reason::BadParameter => "bad parameter",
        Reason::SignatureRejected => "signature rejected",
        Reason::Lockdown => "refused by lockdown",
        Reason::DuplicateSymbol => "duplicate symbol",
        Reason::BadModuleFile => "not a loadable module",
        Reason::Other => "failed",
    }
}

/// A `Load failures (N)` section; empty when there are none.
pub fn load_failure_lines(failures: &[LoadFailure]) -> Vec<String> {
    if failures.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!("\nLoad failures ({})", failures.len())];
    for f in failures {
        let mut s = format!(
            "  {} {}  {}",
            format_ts(f.ts_ns),
            f.module.as_deref().unwrap_or("(module unknown)"),
            reason_text(f.reason)
        );
        if let Some(d) = &f.detail {
            s += &format!(": {d}");
        }
        out.push(s);
    }
    out
}

/// The modules section of a log-only report: the last `Modules linked in:` list with its letters, the last
/// unloaded module when a list named it, and what only memory knows.
pub fn log_only_module_lines(l: &LogOnly, last_unloaded: Option<&LastUnloaded>) -> Vec<String> {
    let mut out = vec![format!(
        "\nModules (from the log's last Modules linked in: list, {} modules)",
        l.modules_linked_in.len()
    )];
    if l.modules_linked_in.is_empty() {
        out.push("  no Modules linked in: list in the log: loaded modules unknown".into());
    }
    for m in &l.modules_linked_in {
        let mut s = format!("  {}", m.name);
        if !m.taints.is_empty() {
            s += &format!("  ({})", m.taints);
        }
        if let Some(st) = m.state {
            s += &format!("  [{}]", if st == '+' { "loading" } else { "unloading" });
        }
        out.push(s);
    }
    out.push(format!(
        "  last unloaded: {}",
        match last_unloaded {
            Some(u) => match u.taints_raw.as_deref() {
                Some(t) => format!("{} {t}", u.name),
                None => u.name.clone(),
            },
            None => "unknown (no list in the log names one; only memory keeps it)".into(),
        }
    ));
    out.push("  signatures, sig_enforce, lockdown: unknown (only memory keeps them)".into());
    out
}
