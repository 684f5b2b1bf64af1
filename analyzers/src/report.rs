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
    /// The trusted keyrings (`.builtin_trusted_keys`, `.secondary_trusted_keys`, `.platform`, `.machine`)
    /// the kernel has, with their keys.
    pub keyrings: Vec<crate::keyrings::Keyring>,
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
    let (((mask, modules), (unloaded, (sig_state, keyrings))), log) = rayon::join(
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
    note("keyrings", &keyrings.problems);
    for k in &keyrings.keyrings {
        note(
            "keyrings",
            &k.problems
                .iter()
                .map(|p| format!("{}: {p}", k.name))
                .collect::<Vec<_>>(),
        );
    }
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
    note("resolve", &resolve_problems);
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
    if let Some(c) = crash_site.as_mut() {
        let at = c.site.as_ref().and_then(|l| l.address);
        c.unowned = unowned.into_iter().find(|u| Some(u.address) == at);
    }
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
        keyrings: keyrings.keyrings,
        kernel_log: log.as_ref().map(|l| LogSummary {
            source: l.source,
            records: l.records.len(),
            dropped: l.dropped,
        }),
        problems,
    }
}
