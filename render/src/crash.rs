//! Human lines for the crash-site verdict (kept apart from the analyzers, which return typed data only).
//!
//! ```
//! use analyzers::crash_site::*;
//! use analyzers::crash_report::{CodeLocation, ReportKind};
//! let site = CrashSite {
//!     how: ReportKind::Panic, headline: "Kernel panic - not syncing: x".into(), seq: 9, ts_ns: 3 * 86_400_000_000_000,
//!     report: 0,
//!     site: Some(CodeLocation { symbol: Some("blk_mq_complete_request".into()), offset: Some(0x42), size: Some(0x50), module: None, address: None, resolved_by: None }),
//!     site_from: Some(SiteFrom::CallTrace), owner: Owner::KernelProper, owner_module: None, owner_source: OwnerSource::Log,
//!     verdict: Relation::Absent,
//!     tainting_modules: vec![TaintingModule { name: "nvidia".into(), letters: "PO".into(), relation: Relation::Absent,
//!         known_from: vec!["loaded".into()], still_loaded: Some(true), first_taint_ns: Some(14_000_000_000),
//!         failed_load: None }],
//!     flags_before: vec![FlagAtCrash { bit: 0, letter: 'P', set_by: Some("nvidia".into()), set_ns: Some(14_000_000_000), pending: false }],
//!     flags_by_crash: vec![], unowned: None,
//! };
//! let lines = render::crash::crash_site_lines(&site);
//! assert_eq!(lines[0], "Crash in blk_mq_complete_request+0x42 (kernel proper; panic: Kernel panic - not syncing: x)");
//! assert_eq!(lines[1], "No tainting module on the call trace (nvidia(PO) absent)");
//! assert_eq!(lines[2], "P was set 3 days earlier by nvidia (loaded 00:00:14, still loaded)");
//! ```

use analyzers::crash_report::{CodeLocation, ReportKind};
use analyzers::crash_site::{CrashSite, FlagAtCrash, Owner, Relation, TaintingModule};

fn kind_name(k: ReportKind) -> &'static str {
    match k {
        ReportKind::Oops => "oops",
        ReportKind::Bug => "BUG",
        ReportKind::Warning => "WARNING",
        ReportKind::Panic => "panic",
        ReportKind::Sysrq => "sysrq crash",
        ReportKind::HungTask => "hung task",
        ReportKind::SoftLockup => "soft lockup",
    }
}

/// `func+0x42`, `func+0x42 [mod]` or the bare address.
pub fn location_text(l: &CodeLocation) -> String {
    let mut s = match (&l.symbol, l.offset, l.address) {
        (Some(sym), Some(off), _) => format!("{sym}+{off:#x}"),
        (Some(sym), None, _) => sym.clone(),
        (None, _, Some(a)) => format!("{a:#x}"),
        (None, _, None) => "?".to_string(),
    };
    if let Some(m) = &l.module {
        s += &format!(" [{m}]");
    }
    if l.resolved_by.is_some() && l.symbol.is_some() {
        if let Some(a) = l.address {
            s += &format!(" (at {a:#x}, resolved from the dump)");
        }
    }
    s
}

/// `3 days`, `2 h`, `5 min`, `12 s`, `0.35 s`.
fn duration(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 2.0 * 86_400.0 {
        format!("{} days", (s / 86_400.0).round() as u64)
    } else if s >= 2.0 * 3600.0 {
        format!("{} h", (s / 3600.0).round() as u64)
    } else if s >= 120.0 {
        format!("{} min", (s / 60.0).round() as u64)
    } else if s >= 10.0 {
        format!("{} s", s as u64)
    } else {
        format!("{s:.2} s")
    }
}

/// `hh:mm:ss` since boot.
fn clock(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn module_state(m: &TaintingModule) -> String {
    let mut parts = Vec::new();
    if let Some(reason) = m.failed_load {
        // It tainted the kernel while loading, then the load failed: it never ran.
        let when = m
            .first_taint_ns
            .map(|t| format!(" at {}", clock(t)))
            .unwrap_or_default();
        let why = crate::log::reason_text(reason);
        return format!(" (failed to load{when}: {why}; never loaded)");
    }
    if let Some(t) = m.first_taint_ns {
        parts.push(format!("loaded {}", clock(t)));
    }
    match m.still_loaded {
        Some(true) => parts.push("still loaded".to_string()),
        Some(false) => parts.push("unloaded since".to_string()),
        None => {}
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// The verdict's first lines: where, which tainting module is involved, which flags came before the crash
/// and which by it.
pub fn crash_site_lines(c: &CrashSite) -> Vec<String> {
    let mut out = Vec::new();
    let how = format!("{}: {}", kind_name(c.how), c.headline);
    out.push(match (&c.site, c.owner) {
        (Some(l), Owner::KernelProper) => {
            format!("Crash in {} (kernel proper; {how})", location_text(l))
        }
        (Some(l), Owner::Module) => format!(
            "Crash in {} (module {}; {how})",
            location_text(l),
            c.owner_module.as_deref().unwrap_or("?")
        ),
        (Some(l), Owner::Unknown) => {
            format!("Crash at {} (owner unknown; {how})", location_text(l))
        }
        (Some(l), Owner::NoLoadedModule) => {
            let mut near = Vec::new();
            if let Some(u) = &c.unowned {
                if let Some((m, d)) = &u.nearest_below {
                    near.push(format!("{d:#x} past the end of {m}"));
                }
                if let Some((m, d)) = &u.nearest_above {
                    near.push(format!("{d:#x} before {m}"));
                }
                if let Some(m) = &u.last_unloaded {
                    near.push(format!("last unloaded: {m}"));
                }
            }
            format!(
                "Crash at {} in no loaded module: a freed __init section or an unloaded module's memory{} ({how})",
                location_text(l),
                if near.is_empty() {
                    String::new()
                } else {
                    format!("; {}", near.join(", "))
                }
            )
        }
        (None, _) => format!("Crash site unknown ({how})"),
    });
    let names = |rel: Relation| -> Vec<String> {
        c.tainting_modules
            .iter()
            .filter(|m| m.relation == rel)
            .map(|m| {
                if m.letters.is_empty() {
                    m.name.clone()
                } else {
                    format!("{}({})", m.name, m.letters)
                }
            })
            .collect()
    };
    out.push(match c.verdict {
        Relation::AtSite => format!(
            "Tainting module at the crash site: {}",
            names(Relation::AtSite).join(", ")
        ),
        Relation::OnCallTrace => format!(
            "Tainting module on the call trace (not at the site): {}",
            names(Relation::OnCallTrace).join(", ")
        ),
        Relation::OnCallTraceUnreliable => format!(
            "No tainting module on the reliable call trace; only in '?' frames: {}",
            names(Relation::OnCallTraceUnreliable).join(", ")
        ),
        Relation::Absent => format!(
            "No tainting module on the call trace ({} absent)",
            names(Relation::Absent).join(", ")
        ),
        Relation::NoTaintingModule => "No tainting module known".to_string(),
    });
    // Flags before the crash, grouped by the module that set them (at its first such line); flags with no
    // module are grouped by time.
    let mut groups: Vec<(Option<&str>, Option<u64>, Vec<char>)> = Vec::new();
    for f in &c.flags_before {
        let same =
            |(m, t, _): &&mut (Option<&str>, Option<u64>, Vec<char>)| match f.set_by.as_deref() {
                Some(by) => *m == Some(by),
                None => m.is_none() && *t == f.set_ns,
            };
        match groups.iter_mut().find(same) {
            Some(g) => {
                g.2.push(f.letter);
                g.1 = match (g.1, f.set_ns) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            None => groups.push((f.set_by.as_deref(), f.set_ns, vec![f.letter])),
        }
    }
    for (module, at, letters) in groups {
        let l: Vec<String> = letters.iter().map(char::to_string).collect();
        let verb = if letters.len() > 1 { "were" } else { "was" };
        let mut s = format!("{} {verb} set", l.join(", "));
        match at {
            Some(t) => s += &format!(" {} earlier", duration(c.ts_ns.saturating_sub(t))),
            None => s += " before the crash",
        }
        if let Some(m) = module {
            s += &format!(" by {m}");
            if let Some(tm) = c.tainting_modules.iter().find(|x| x.name == m) {
                s += &module_state(tm);
            }
        }
        out.push(s);
    }
    for f in &c.flags_by_crash {
        out.push(by_crash(f));
    }
    out
}

fn by_crash(f: &FlagAtCrash) -> String {
    let mut s = format!("{} set by this crash", f.letter);
    if let Some(m) = &f.set_by {
        s += &format!(" (in {m})");
    }
    if f.pending {
        s += "; pending: not yet in tainted_mask when the dump was taken";
    }
    s
}
