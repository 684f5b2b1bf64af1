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
//! assert_eq!(r.flags[0].letter, 'W');
//! // no `modules` symbol in this target: reported, not fatal
//! assert!(r.problems.iter().any(|p| p.analyzer == "modules"));
//! ```

use serde::{Deserialize, Serialize};

use crate::kernel_log::{KernelLog, LogError};
use crate::modules::{analyze_modules, ModuleInfo, Modules};
use crate::signatures::{read_signature_state, summarize, SignatureState, Signatures};
use crate::taint::{read_taint_table, read_tainted_mask, TaintFlag, TaintSource, TaintTable};
use crate::target::{ReadError, Target};
use crate::timeline::{taint_events, TaintSnapshot};
use crate::unloaded::{
    attribute_flags, read_unloaded, LastUnloaded, Unloaded, UnloadedHint, UnloadedTainted,
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

/// Which part of the work a [`Problem`] comes from (JSON: the snake_case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Analyzer {
    Taint,
    Modules,
    Unloaded,
    Signatures,
    KernelLog,
    Timeline,
    /// The trusted keyrings ([`crate::keyrings`]).
    Keyrings,
    /// Code addresses resolved from the dump ([`crate::resolve`]).
    Resolve,
    /// The crash utility hosting the analyzers (its memory, symbol and VMCOREINFO access).
    Crash,
}

impl Analyzer {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Analyzer::Taint => "taint",
            Analyzer::Modules => "modules",
            Analyzer::Unloaded => "unloaded",
            Analyzer::Signatures => "signatures",
            Analyzer::KernelLog => "kernel_log",
            Analyzer::Timeline => "timeline",
            Analyzer::Keyrings => "keyrings",
            Analyzer::Resolve => "resolve",
            Analyzer::Crash => "crash",
        }
    }
}

impl std::fmt::Display for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq<&str> for Analyzer {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// What kind of problem (JSON: the snake_case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A symbol the analyzer needs is not known: its part of the report is missing.
    MissingSymbol,
    /// A type or member the analyzer needs is not known: its part of the report is missing.
    MissingType,
    /// Memory the analyzer needs could not be read (the message says why: excluded, not in the dump, ...).
    Unreadable,
    /// What was read cannot be what the kernel wrote: left out, not reported as fact.
    Invalid,
    /// The analyzer ran, but part of what it read is missing, suspect or had to be inferred (the message
    /// says which).
    Partial,
    /// The environment hosting the analyzers (the crash utility) could not provide something.
    Host,
}

impl From<&AnalyzerError> for ProblemKind {
    fn from(e: &AnalyzerError) -> Self {
        match e {
            AnalyzerError::MissingSymbol(_) => ProblemKind::MissingSymbol,
            AnalyzerError::MissingType(_) => ProblemKind::MissingType,
            AnalyzerError::Read { .. } => ProblemKind::Unreadable,
            AnalyzerError::Invalid(_) => ProblemKind::Invalid,
        }
    }
}

/// Something an analyzer could not read or had to guess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub analyzer: Analyzer,
    pub kind: ProblemKind,
    pub message: String,
}

impl Problem {
    pub fn new(analyzer: Analyzer, kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem {
            analyzer,
            kind,
            message: message.into(),
        }
    }

    /// An analyzer that could not produce its result at all.
    pub fn failed(analyzer: Analyzer, e: &AnalyzerError) -> Self {
        Problem::new(analyzer, e.into(), e.to_string())
    }
}

pub use crate::panic::PanicInfo;
pub use crate::timeline::TimelineEvent;

/// What the kernel log reader found: where the log came from and how much of it there is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSummary {
    /// `printk_ringbuffer` (5.10+), `log_buf` (3.5-5.9), or for a live kernel without `/proc/kcore`,
    /// `dev_kmsg` / `dmesg`.
    pub source: crate::kernel_log::LogSource,
    pub records: usize,
    /// Records lost to wrap-around before the oldest one still in the buffer.
    pub dropped: u64,
    /// A text log beside the dump that was offered to fill a wrapped ring's start, and what came of it.
    #[serde(default)]
    pub older_lines: Option<crate::log_fill::FillSummary>,
}

/// The whole report. The JSON key names are a contract (schema version 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    /// `None` when `tainted_mask` could not be read (and the kernel log shows no `Tainted:` header either).
    pub tainted_mask: Option<u64>,
    /// Where `tainted_mask` comes from: `memory` (the kernel's variable), or `kernel_log` when the variable is
    /// out of reach (no debuginfo and a kallsyms without data symbols): the last `Tainted:` header of the log
    /// plus the flags later events set, which misses flags set silently after it. `None` with no mask.
    pub tainted_mask_source: Option<MaskSource>,
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
    /// Every oops/BUG/WARNING/panic/sysrq/hung-task/soft-lockup report of the kernel log (absent from the JSON
    /// of versions before it: reads back empty).
    #[serde(default)]
    pub crash_reports: Vec<crate::crash_report::CrashReport>,
    /// Where it crashed and whether a tainting module is involved (`None`: no crash in the log).
    pub crash_site: Option<crate::crash_site::CrashSite>,
    /// Module loads the kernel log shows failing, and why (absent from the JSON of versions before it: reads
    /// back empty; [`crate::document::CrashFacts::read_back`] says such a count is unknown).
    #[serde(default)]
    pub load_failures: Vec<crate::load_failures::LoadFailure>,
    /// Set when the report was made from a kernel log alone ([`crate::log_report`]).
    pub log_only: Option<crate::log_report::LogOnly>,
    /// `None` when no kernel log could be read (the reason is in `problems`).
    pub kernel_log: Option<LogSummary>,
    /// The trusted keyrings (`.builtin_trusted_keys`, `.secondary_trusted_keys`, `.platform`, `.machine`)
    /// the kernel has, with their keys.
    #[serde(default)]
    pub keyrings: Vec<crate::keyrings::Keyring>,
    pub problems: Vec<Problem>,
}

/// Where a report's `tainted_mask` was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskSource {
    Memory,
    KernelLog,
}

/// The mask the log shows: the columns of the last `Tainted:` header (a WARN, oops or panic prints one before
/// adding its own flag), decoded with the dump's table, plus the flag of that event and of every later one but an
/// oops (kdump runs inside it, before D is added, so the dumped mask lacks it too).
/// `None` when the log has no header. Also returns the header's event text, for saying so.
fn mask_from_log(
    tl: &crate::timeline::Timeline,
    table: &crate::taint::TaintTable,
) -> Option<(u64, String)> {
    use crate::timeline::EventKind;
    let (at, header) = tl
        .events
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, e)| Some((i, e.tainted.as_deref()?)))?;
    let mut mask = 0u64;
    if header != "Not tainted" {
        for (i, c) in header.chars().enumerate().take(64) {
            if table
                .entries
                .iter()
                .any(|e| e.bit as usize == i && e.c_true != 0 && e.c_true as char == c)
            {
                mask |= 1 << i;
            }
        }
    }
    for e in &tl.events[at..] {
        // Not an oops: after the last header it is the dump's own, and kdump runs inside it, before add_taint().
        let sets = matches!(
            e.kind,
            EventKind::Taint | EventKind::Warn | EventKind::SoftLockup | EventKind::BadPage
        );
        if let (true, Some(bit)) = (sets, e.bit) {
            if bit < 64 {
                mask |= 1 << bit;
            }
        }
    }
    let event = tl.events[at].text.clone().unwrap_or_default();
    Some((mask, event))
}

/// Run every analyzer on `target`, the kernel log included: its taint lines feed the timeline and the
/// attribution of flags no loaded module carries.
pub fn analyze(target: &dyn Target) -> Report {
    analyze_with(target, &[])
}

/// [`analyze`], where the in-memory log's lost start may be filled from text logs beside the dump: `fill` is
/// given the ring as read and returns the first useful [`crate::log_fill::Fill`] (or `None`). Records it adds
/// go before the ring's; the timeline events they give name the file (`from_file`), and
/// `kernel_log.older_lines` says what came of it.
pub fn analyze_filled(
    target: &dyn Target,
    fill: impl FnOnce(&KernelLog) -> Option<crate::log_fill::Fill>,
) -> Report {
    let mut g = gather(target);
    let mut summary = None;
    let mut first_seq = None;
    if let Ok(log) = g.log.as_mut() {
        if let Some(f) = fill(log) {
            summary = Some(f.summary());
            if f.outcome == crate::log_fill::FillOutcome::Filled {
                first_seq = log.records.first().map(|r| r.seq);
                let mut records = f.records;
                records.append(&mut log.records);
                log.records = records;
            }
        }
    }
    let mut report = combine(target, g, &[]);
    if let (Some(first), Some(s)) = (first_seq, summary.as_ref()) {
        for e in &mut report.timeline {
            if e.seq.is_some_and(|q| q < first) {
                e.from_file = Some(s.file.clone());
            }
        }
    }
    if let Some(k) = report.kernel_log.as_mut() {
        k.older_lines = summary;
    }
    report
}

/// [`analyze`], plus `(letter, module)` taint evidence from elsewhere (e.g. a `vmcore-dmesg.txt` kept beside an
/// older dump whose own log wrapped).
pub fn analyze_with(target: &dyn Target, extra_taint_events: &[(char, String)]) -> Report {
    combine(target, gather(target), extra_taint_events)
}

/// What the analyzers read from a target, before it is combined into a [`Report`]. A front end that learns
/// some of these facts elsewhere (a live kernel's `/proc` and `/sys` when its memory is closed) fills them in
/// itself and calls [`combine`].
#[derive(Debug, Clone)]
pub struct Gathered {
    pub table: TaintTable,
    pub mask: Result<u64, AnalyzerError>,
    pub modules: Result<Modules, AnalyzerError>,
    pub unloaded: Unloaded,
    pub signatures: SignatureState,
    /// The trusted keyrings (empty when the kernel or the front end has none).
    pub keyrings: crate::keyrings::Keyrings,
    pub log: Result<KernelLog, LogError>,
}

/// Run every reading analyzer on `target` (in parallel).
pub fn gather(target: &dyn Target) -> Gathered {
    let t = target;
    // The table is a handful of small reads and every other analyzer decodes through it.
    let table = read_taint_table(t);
    let (((mask, modules), (unloaded, (signatures, keyrings))), log) = rayon::join(
        || {
            rayon::join(
                || rayon::join(|| read_tainted_mask(t), || analyze_modules(t, &table)),
                || {
                    rayon::join(
                        || read_unloaded(t, &table),
                        || {
                            rayon::join(
                                || read_signature_state(t),
                                || crate::keyrings::read_keyrings(t),
                            )
                        },
                    )
                },
            )
        },
        || crate::kernel_log::read_log(t),
    );
    Gathered {
        table,
        mask,
        modules,
        unloaded,
        signatures,
        keyrings,
        log,
    }
}

/// Combine what was gathered into the report: timeline, attribution, signatures summary, panic. `target` is
/// asked only for `panic_cpu`.
pub fn combine(target: &dyn Target, g: Gathered, extra_taint_events: &[(char, String)]) -> Report {
    let t = target;
    let Gathered {
        table,
        mask,
        modules,
        unloaded,
        signatures: sig_state,
        keyrings,
        log,
    } = g;
    let mut problems = Vec::new();
    // What an analyzer noted while it ran (its result is there, partly): kind `partial`.
    fn note(problems: &mut Vec<Problem>, analyzer: Analyzer, messages: &[String]) {
        problems.extend(
            messages
                .iter()
                .map(|m| Problem::new(analyzer, ProblemKind::Partial, m.clone())),
        )
    }
    note(&mut problems, Analyzer::Taint, &table.problems);
    let mask = match mask {
        Ok(m) => Some(m),
        Err(e) => {
            problems.push(Problem::failed(Analyzer::Taint, &e));
            None
        }
    };
    let (modules, modules_known) = match modules {
        Ok(Modules {
            modules,
            problems: found,
        }) => {
            note(&mut problems, Analyzer::Modules, &found);
            (modules, true)
        }
        Err(e) => {
            problems.push(Problem::failed(Analyzer::Modules, &e));
            (Vec::new(), false)
        }
    };
    note(&mut problems, Analyzer::Unloaded, &unloaded.problems);
    note(&mut problems, Analyzer::Signatures, &sig_state.problems);
    note(&mut problems, Analyzer::Keyrings, &keyrings.problems);
    for k in &keyrings.keyrings {
        let named: Vec<String> = k
            .problems
            .iter()
            .map(|p| format!("{}: {p}", k.name))
            .collect();
        note(&mut problems, Analyzer::Keyrings, &named);
    }
    let log = match log {
        Ok(l) => {
            note(&mut problems, Analyzer::KernelLog, &l.problems);
            Some(l)
        }
        Err(e) => {
            let kind = match &e {
                crate::kernel_log::LogError::NotFound => ProblemKind::MissingSymbol,
                crate::kernel_log::LogError::MissingLayout(_) => ProblemKind::MissingType,
                crate::kernel_log::LogError::Read { .. }
                | crate::kernel_log::LogError::Unavailable(_) => ProblemKind::Unreadable,
                crate::kernel_log::LogError::Corrupt(_) => ProblemKind::Invalid,
            };
            problems.push(Problem::new(Analyzer::KernelLog, kind, e.to_string()));
            None
        }
    };
    let build_timeline = |mask: u64| {
        log.as_ref()
            .map(|l| crate::timeline::build(l, &TaintSnapshot::with_table(mask, &table)))
    };
    let mut timeline = build_timeline(mask.unwrap_or(0));
    let mut mask_source = mask.map(|_| MaskSource::Memory);
    let mask = match (
        mask,
        timeline.as_ref().and_then(|tl| mask_from_log(tl, &table)),
    ) {
        (Some(m), _) => Some(m),
        (None, Some((m, event))) => {
            note(
                &mut problems,
                Analyzer::Taint,
                &[format!(
                    "tainted_mask is not in memory's reach: the mask ({m:#x}) is the kernel log's last `Tainted:` \
                     header (at \"{event}\") plus the flags later log lines set; a flag set without a log line after \
                     it would be missing"
                )],
            );
            mask_source = Some(MaskSource::KernelLog);
            timeline = build_timeline(m);
            Some(m)
        }
        (None, None) => {
            if timeline.is_some() {
                note(
                    &mut problems,
                    Analyzer::Timeline,
                    &[
                        "tainted_mask is unreadable: `pending` and `no_evidence` are unreliable"
                            .into(),
                    ],
                );
            }
            None
        }
    };
    let mut events = timeline.as_ref().map(taint_events).unwrap_or_default();
    events.extend_from_slice(extra_taint_events);
    let panic = Some(crate::panic::analyze(t, log.as_ref()))
        .filter(|p| p.message.is_some() || p.cpu.is_some() || p.pid.is_some());

    let mut crash_reports = log
        .as_ref()
        .map(crate::crash_report::parse_reports)
        .unwrap_or_default();
    // Bare addresses the kernel could not name, resolved from the dump's own symbols and module tables.
    let (unowned, resolve_problems) = crate::resolve::resolve_reports(
        t,
        &modules,
        unloaded
            .last_unloaded_module
            .as_ref()
            .map(|l| l.name.clone()),
        &mut crash_reports,
    );
    note(&mut problems, Analyzer::Resolve, &resolve_problems);
    let mut crash_site = crate::crash_site::analyze(
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
    let load_failures = log
        .as_ref()
        .map(crate::load_failures::find)
        .unwrap_or_default();
    if let Some(c) = crash_site.as_mut() {
        let at = c.site.as_ref().and_then(|l| l.address);
        c.unowned = unowned.into_iter().find(|u| Some(u.address) == at);
        crate::crash_site::mark_failed_loads(
            c,
            &load_failures,
            unloaded
                .last_unloaded_module
                .as_ref()
                .map(|l| l.name.as_str()),
        );
    }
    let signatures = summarize(&sig_state, mask, &table, &modules);
    let attribution = mask.map(|m| attribute_flags(m, &table, &modules, &unloaded, &events));
    let described = mask.map(|m| table.describe(m));
    Report {
        schema_version: SCHEMA_VERSION,
        tainted_mask: mask,
        tainted_mask_source: mask_source,
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
        load_failures,
        log_only: None,
        keyrings: keyrings.keyrings,
        kernel_log: log.as_ref().map(|l| LogSummary {
            source: l.source,
            records: l.records.len(),
            dropped: l.dropped,
            older_lines: None,
        }),
        problems,
    }
}
