//! The combined taint report: every analyzer run in parallel over one [`Target`], then a cheap combining
//! step. One failing analyzer never hides the others: what could not be read lands in
//! [`Report::problems`], named by analyzer.
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! use analyzers::report::analyze;
//! let mut t = FakeTarget::new();
//! t.map(0x1000, 0x200u64.to_le_bytes().to_vec()); // W
//! t.add_symbol("tainted_mask", 0x1000);
//! let r = analyze(&t);
//! assert_eq!(r.tainted_mask, Some(0x200));
//! assert!(r.render_text(false).starts_with("TAINTED: W (0x200)"));
//! // no `modules` symbol in this target: reported, not fatal
//! assert!(r.problems.iter().any(|p| p.analyzer == "modules"));
//! ```

use std::fmt::Write as _;

use serde::Serialize;

use crate::modules::{analyze_modules, ModuleInfo, Modules};
use crate::signatures::{read_signature_state, summarize, Signatures};
use crate::taint::{read_taint_table, read_tainted_mask, TaintFlag, TaintSource};
use crate::target::{ReadError, Target};
use crate::timeline::{taint_events, TaintSnapshot};
use crate::unloaded::{
    attribute_flags, read_unloaded, LastUnloaded, UnloadedHint, UnloadedTainted,
};

/// Version of the JSON shape of [`Report`].
pub const SCHEMA_VERSION: u32 = 1;

/// Why an analyzer could not produce its result at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalyzerError {
    #[error("symbol `{0}` not found")]
    MissingSymbol(String),
    #[error("no type information for {0}")]
    MissingType(String),
    #[error("cannot read {what}: {source}")]
    Read {
        what: String,
        #[source]
        source: ReadError,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Something an analyzer could not read or had to guess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub analyzer: String,
    pub message: String,
}

pub use crate::panic::PanicInfo;
pub use crate::timeline::TimelineEvent;

/// What the kernel log reader found: where the log came from and how much of it there is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSummary {
    /// `printk_ringbuffer` (5.10+) or `log_buf` (3.5-5.9).
    pub source: crate::kernel_log::LogSource,
    pub records: usize,
    /// Records lost to wrap-around before the oldest one still in the buffer.
    pub dropped: u64,
}

/// The whole report. The JSON key names are a contract (schema version 1).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    /// `None` when `tainted_mask` could not be read.
    pub tainted_mask: Option<u64>,
    pub taint_string: Option<String>,
    pub flags: Vec<TaintFlag>,
    pub taint_source: TaintSource,
    pub modules: Vec<ModuleInfo>,
    pub signatures: Signatures,
    pub last_unloaded_module: Option<LastUnloaded>,
    /// `None` when the kernel does not track unloaded tainted modules.
    pub unloaded_tainted_modules: Option<Vec<UnloadedTainted>>,
    pub unloaded_hints: Vec<UnloadedHint>,
    /// Module-capable flags no loaded module carries and no evidence attributes.
    pub unexplained_flags: Vec<TaintFlag>,
    pub timeline: Vec<TimelineEvent>,
    pub panic: Option<PanicInfo>,
    /// Every oops/BUG/WARNING/panic/sysrq/hung-task/soft-lockup report of the kernel log.
    pub crash_reports: Vec<crate::crash_report::CrashReport>,
    /// Where it crashed and whether a tainting module is involved (`None`: no crash in the log).
    pub crash_site: Option<crate::crash_site::CrashSite>,
    /// Module loads the kernel log shows failing, and why.
    pub load_failures: Vec<crate::load_failures::LoadFailure>,
    /// Set when the report was made from a kernel log alone ([`crate::log_report`]).
    pub log_only: Option<crate::log_report::LogOnly>,
    /// `None` when no kernel log could be read (the reason is in `problems`).
    pub kernel_log: Option<LogSummary>,
    pub problems: Vec<Problem>,
}

/// Run every analyzer on `target`, the kernel log included: its taint lines feed the timeline and the
/// attribution of flags no loaded module carries.
pub fn analyze(target: &dyn Target) -> Report {
    analyze_with(target, &[])
}

/// [`analyze`], plus `(letter, module)` taint evidence from elsewhere (e.g. a `vmcore-dmesg.txt` kept beside an
/// older dump whose own log wrapped).
pub fn analyze_with(target: &dyn Target, extra_taint_events: &[(char, String)]) -> Report {
    let t = target;
    // The table is a handful of small reads and every other analyzer decodes through it.
    let table = read_taint_table(t);
    let (((mask, modules), (unloaded, sig_state)), log) = rayon::join(
        || {
            rayon::join(
                || rayon::join(|| read_tainted_mask(t), || analyze_modules(t, &table)),
                || rayon::join(|| read_unloaded(t, &table), || read_signature_state(t)),
            )
        },
        || crate::kernel_log::read_log(t),
    );

    let mut problems = Vec::new();
    let mut note = |analyzer: &str, messages: &[String]| {
        problems.extend(messages.iter().map(|m| Problem {
            analyzer: analyzer.to_string(),
            message: m.clone(),
        }))
    };
    note("taint", &table.problems);
    let mask = match mask {
        Ok(m) => Some(m),
        Err(e) => {
            note("taint", &[e.to_string()]);
            None
        }
    };
    let (modules, modules_known) = match modules {
        Ok(Modules { modules, problems }) => {
            note("modules", &problems);
            (modules, true)
        }
        Err(e) => {
            note("modules", &[e.to_string()]);
            (Vec::new(), false)
        }
    };
    note("unloaded", &unloaded.problems);
    note("signatures", &sig_state.problems);
    let log = match log {
        Ok(l) => {
            note("kernel_log", &l.problems);
            Some(l)
        }
        Err(e) => {
            note("kernel_log", &[e.to_string()]);
            None
        }
    };
    let timeline = log.as_ref().map(|l| {
        let snapshot = TaintSnapshot {
            tainted_mask: mask.unwrap_or(0),
            flags: table
                .entries
                .iter()
                .filter(|e| e.c_true != 0)
                .map(|e| (e.bit, e.c_true as char))
                .collect(),
        };
        crate::timeline::build(l, &snapshot)
    });
    if mask.is_none() && timeline.is_some() {
        note(
            "timeline",
            &["tainted_mask is unreadable: `pending` and `no_evidence` are unreliable".into()],
        );
    }
    let mut events = timeline.as_ref().map(taint_events).unwrap_or_default();
    events.extend_from_slice(extra_taint_events);
    let panic = Some(crate::panic::analyze(t, log.as_ref()))
        .filter(|p| p.message.is_some() || p.cpu.is_some() || p.pid.is_some());

    let crash_reports = log
        .as_ref()
        .map(crate::crash_report::parse_reports)
        .unwrap_or_default();
    let crash_site = crate::crash_site::analyze(
        &crash_reports,
        timeline.as_ref().map_or(&[][..], |t| &t.events[..]),
        &crate::crash_site::ModuleFacts {
            loaded: modules_known.then(|| {
                modules
                    .iter()
                    .map(|m| (m.name.clone(), m.taints.clone()))
                    .collect()
            }),
            last_unloaded: unloaded
                .last_unloaded_module
                .as_ref()
                .map(|l| (l.name.clone(), l.taints.clone().unwrap_or_default())),
            tainted_mask: mask,
        },
    );
    let signatures = summarize(&sig_state, mask, &table, &modules);
    let attribution = mask.map(|m| attribute_flags(m, &table, &modules, &unloaded, &events));
    let described = mask.map(|m| table.describe(m));
    Report {
        schema_version: SCHEMA_VERSION,
        tainted_mask: mask,
        taint_string: described.as_ref().map(|d| d.taint_string.clone()),
        flags: described.map(|d| d.flags).unwrap_or_default(),
        taint_source: table.source,
        modules,
        signatures,
        last_unloaded_module: unloaded.last_unloaded_module,
        unloaded_tainted_modules: unloaded.unloaded_tainted_modules,
        unloaded_hints: attribution
            .as_ref()
            .map(|a| a.hints.clone())
            .unwrap_or_default(),
        unexplained_flags: attribution.map(|a| a.unexplained).unwrap_or_default(),
        timeline: timeline.map(|tl| tl.events).unwrap_or_default(),
        panic,
        crash_reports,
        crash_site,
        load_failures: log
            .as_ref()
            .map(crate::load_failures::find)
            .unwrap_or_default(),
        log_only: None,
        kernel_log: log.as_ref().map(|l| LogSummary {
            source: l.source,
            records: l.records.len(),
            dropped: l.dropped,
        }),
        problems,
    }
}

const RED: &str = "\x1b[1;31m";
const GREEN: &str = "\x1b[1;32m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

struct Paint(bool);

impl Paint {
    fn on(&self, style: &str, s: &str) -> String {
        if self.0 {
            format!("{style}{s}{RESET}")
        } else {
            s.to_string()
        }
    }
}

impl Report {
    /// Human-readable report: verdict first, then flags, culprits, modules, unloaded modules, timeline and
    /// problems. ANSI colour only when `color` is true.
    pub fn render_text(&self, color: bool) -> String {
        let p = Paint(color);
        let mut o = String::new();
        match self.tainted_mask {
            Some(0) => {
                let _ = writeln!(o, "{}", p.on(GREEN, "Not tainted"));
            }
            Some(m) => {
                let letters: Vec<String> =
                    self.flags.iter().map(|f| f.letter.to_string()).collect();
                let verdict = format!("TAINTED: {} ({m:#x})", letters.join(" "));
                let _ = writeln!(o, "{}", p.on(RED, &verdict));
            }
            None => {
                let _ = writeln!(
                    o,
                    "{}",
                    p.on(YELLOW, "Taint state unknown (tainted_mask unreadable)")
                );
            }
        }
        if let Some(l) = &self.log_only {
            crate::render_log::log_only_lines(l)
                .iter()
                .for_each(|x| o.push_str(&format!("{x}\n")));
        }
        if let Some(c) = &self.crash_site {
            crate::render_crash::crash_site_lines(c)
                .iter()
                .for_each(|l| o.push_str(&format!("{l}\n")));
        }
        if let Some(s) = &self.taint_string {
            let _ = writeln!(
                o,
                "Kernel prints: \"{s}\"  [table: {}]",
                source_name(self.taint_source)
            );
        }
        if !self.flags.is_empty() {
            let _ = writeln!(o, "\n{}", p.on(BOLD, "Flags"));
            for f in &self.flags {
                let _ = writeln!(o, "  {}  bit {:<2}  {}", f.letter, f.bit, f.name);
            }
            self.render_culprits(&p, &mut o);
        }
        if let Some(l) = &self.log_only {
            // A log alone: what it says about modules, and what only memory knows.
            crate::render_log::log_only_module_lines(l, self.last_unloaded_module.as_ref())
                .iter()
                .for_each(|x| o.push_str(&format!("{x}\n")));
            self.render_timeline(&p, &mut o);
            self.render_tail(&p, &mut o);
            return o;
        }
        self.render_modules(&p, &mut o);
        self.render_signatures(&mut o);
        let _ = writeln!(o, "\n{}", p.on(BOLD, "Unloaded"));
        match &self.last_unloaded_module {
            Some(l) => {
                let _ = writeln!(
                    o,
                    "  last unloaded: {}{}",
                    l.name,
                    l.taints_raw
                        .as_deref()
                        .filter(|r| !r.is_empty())
                        .map(|r| format!(" {r}"))
                        .unwrap_or_default()
                );
            }
            None => {
                let _ = writeln!(o, "  last unloaded: none");
            }
        }
        if let Some(list) = &self.unloaded_tainted_modules {
            for u in list {
                let _ = writeln!(
                    o,
                    "  tainted, unloaded {}x: {} ({})",
                    u.count, u.name, u.taints
                );
            }
        }
        self.render_timeline(&p, &mut o);
        self.render_tail(&p, &mut o);
        o
    }

    /// Load failures and problems.
    fn render_tail(&self, p: &Paint, o: &mut String) {
        crate::render_log::load_failure_lines(&self.load_failures)
            .iter()
            .for_each(|x| o.push_str(&format!("{x}\n")));
        if !self.problems.is_empty() {
            let _ = writeln!(o, "\n{}", p.on(BOLD, "Problems"));
            for pr in &self.problems {
                let _ = writeln!(o, "  [{}] {}", pr.analyzer, pr.message);
            }
        }
    }

    /// One line per flag: the loaded modules carrying it, then other evidence: the attribution hints for
    /// flags no loaded module carries, the last unloaded module when its taints hold the letter, and the
    /// log events that name a module (a `WARNING` in a module sets W, which no module's taints record).
    /// Flags the log shows pending (set after the dump was taken) get a line of their own.
    fn render_culprits(&self, p: &Paint, o: &mut String) {
        let mut lines = Vec::new();
        for f in &self.flags {
            let mut who: Vec<String> = self
                .modules
                .iter()
                .filter(|m| m.taint_mask & (1u64 << f.bit) != 0)
                .map(|m| format!("{} (loaded)", m.name))
                .collect();
            // One entry per module, its kinds of evidence joined: "oot_gone (last unloaded, kernel log)".
            let mut others: Vec<(String, Vec<String>)> = Vec::new();
            let mut add = |module: &str, why: String| {
                if who.iter().any(|w| w.starts_with(&format!("{module} ("))) {
                    return;
                }
                match others.iter_mut().find(|(m, _)| m == module) {
                    Some((_, whys)) if whys.contains(&why) => {}
                    Some((_, whys)) => whys.push(why),
                    None => others.push((module.to_string(), vec![why])),
                }
            };
            for h in self.unloaded_hints.iter().filter(|h| h.bit == f.bit) {
                add(&h.module, evidence_name(h).to_string());
            }
            if let Some(l) = &self.last_unloaded_module {
                if l.taints.as_deref().is_some_and(|t| t.contains(f.letter)) {
                    add(&l.name, "last unloaded".to_string());
                }
            }
            for e in self.timeline.iter().filter(|e| {
                e.bit == Some(f.bit) && e.kind != crate::timeline::EventKind::Taint && e.new_bit
            }) {
                if let Some(m) = &e.module {
                    add(m, format!("{} in kernel log", event_name(e.kind)));
                }
            }
            who.extend(
                others
                    .into_iter()
                    .map(|(m, whys)| format!("{m} ({})", whys.join(", "))),
            );
            if !who.is_empty() {
                lines.push(format!("  {} <- {}", f.letter, who.join(", ")));
            } else if self.unexplained_flags.iter().any(|u| u.bit == f.bit) {
                lines.push(format!(
                    "  {} <- {}",
                    f.letter,
                    p.on(YELLOW, "no module found")
                ));
            }
        }
        for e in self.timeline.iter().filter(|e| e.pending) {
            if let (Some(letter), Some(m)) = (e.letter, &e.module) {
                lines.push(format!(
                    "  {letter} <- {m} ({} in kernel log; {})",
                    event_name(e.kind),
                    p.on(YELLOW, "pending: not yet in tainted_mask")
                ));
            }
        }
        if !lines.is_empty() {
            let _ = writeln!(o, "\n{}", p.on(BOLD, "Culprits"));
            for l in lines {
                let _ = writeln!(o, "{l}");
            }
        }
    }

    /// One line per event, in the kernel log's own time format:
    /// `[    5.123456] O  oot_prop  loading out-of-tree module taints kernel.`
    fn render_timeline(&self, p: &Paint, o: &mut String) {
        let _ = writeln!(
            o,
            "\n{}",
            p.on(BOLD, &format!("Timeline ({} events)", self.timeline.len()))
        );
        if self.timeline.is_empty() {
            let _ = writeln!(o, "  (no events)");
            return;
        }
        let width = self
            .timeline
            .iter()
            .map(|e| e.module.as_deref().map_or(1, |m| m.chars().count()))
            .max()
            .unwrap_or(1);
        for e in &self.timeline {
            let stamp = match e.ts_ns {
                Some(ns) => format!("[{:>5}.{:06}]", ns / 1_000_000_000, ns / 1000 % 1_000_000),
                None => format!("[{:^12}]", "no log"),
            };
            let module = e.module.as_deref().unwrap_or("-");
            // The module's own `NAME: ` prefix repeats the module column.
            let text = match (&e.text, &e.reason) {
                (Some(t), _) => t
                    .strip_prefix(module)
                    .and_then(|r| r.strip_prefix(": "))
                    .unwrap_or(t)
                    .to_string(),
                (None, Some(r)) => format!("{}: {r}", event_name(e.kind)),
                (None, None) => event_name(e.kind).to_string(),
            };
            let pad = width.saturating_sub(module.chars().count());
            let mut line = format!(
                "  {stamp} {}  {module}{}  {text}",
                e.letter.unwrap_or(' '),
                " ".repeat(pad)
            );
            if e.pending {
                line += &format!("  {}", p.on(YELLOW, "[pending: not yet in tainted_mask]"));
            }
            let _ = writeln!(o, "{}", line.trim_end());
        }
    }

    fn render_modules(&self, p: &Paint, o: &mut String) {
        let _ = writeln!(
            o,
            "\n{}",
            p.on(BOLD, &format!("Modules ({})", self.modules.len()))
        );
        if self.modules.is_empty() {
            return;
        }
        let header = [
            "NAME",
            "STATE",
            "TAINTS",
            "SIGNED",
            "BASE",
            "SIZE",
            "VERSION",
            "SRCVERSION",
        ];
        let rows: Vec<[String; 8]> = self
            .modules
            .iter()
            .map(|m| {
                [
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
                    m.srcversion.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let mut width = header.map(str::len);
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String; 8], taint_col_colored: bool| {
            let mut s = String::from(" ");
            for (i, c) in cells.iter().enumerate() {
                let pad = width[i] - c.chars().count();
                let cell = if i == 2 && taint_col_colored && !c.is_empty() {
                    p.on(YELLOW, c)
                } else {
                    c.clone()
                };
                s.push(' ');
                s.push_str(&cell);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
            s
        };
        let _ = writeln!(o, "{}", line(&header.map(String::from), false));
        for r in &rows {
            let _ = writeln!(o, "{}", line(r, true));
        }
    }

    fn render_signatures(&self, o: &mut String) {
        let s = &self.signatures;
        let yn = |b: Option<bool>| match b {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        let _ = writeln!(
            o,
            "\nSignatures: enforced {} (sig_enforce {}), lockdown {}, unsigned loaded: {}",
            yn(s.enforcement_effective),
            yn(s.sig_enforce),
            s.lockdown.as_deref().unwrap_or("n/a"),
            if s.unsigned_modules.is_empty() {
                "none".to_string()
            } else {
                s.unsigned_modules.join(", ")
            }
        );
    }
}

fn evidence_name(h: &UnloadedHint) -> &'static str {
    match h.evidence {
        crate::unloaded::Evidence::LastUnloadedModule => "last unloaded",
        crate::unloaded::Evidence::UnloadedTaintedModules => "unloaded, tracked",
        crate::unloaded::Evidence::KernelLog => "kernel log",
    }
}

fn event_name(k: crate::timeline::EventKind) -> &'static str {
    use crate::timeline::EventKind as K;
    match k {
        K::Taint => "taint",
        K::Warn => "WARNING",
        K::Oops => "oops",
        K::SoftLockup => "soft lockup",
        K::BadPage => "bad page",
        K::Panic => "panic",
        K::Sysrq => "sysrq",
        K::FirstSeen => "first seen",
        K::NoEvidence => "no evidence",
    }
}

fn source_name(s: TaintSource) -> &'static str {
    match s {
        TaintSource::TaintFlags => "taint_flags[]",
        TaintSource::Tnts => "tnts[]",
        TaintSource::BuiltinMainline => "built-in mainline",
        TaintSource::BuiltinRhel => "built-in RHEL",
        TaintSource::BuiltinSuse => "built-in SUSE",
    }
}
