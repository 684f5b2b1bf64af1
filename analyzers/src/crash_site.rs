//! Where the kernel crashed and whether a tainting module had a hand in it: the verdict a support engineer
//! wants first ("is this the vendor's crash or ours?").
//!
//! The crash is the log's last report that is not a WARNING (a `Kernel panic - not syncing: Fatal exception`
//! or a hung-task/soft-lockup panic points back at the report before it). Its site is the faulting `RIP:`
//! (`pc :` on arm64), a WARNING's own location, or for a panic, sysrq crash or hung task the first reliable
//! call-trace frame outside the panic, printk and scheduler machinery. The owner is what the kernel printed
//! (`[module]`, else kernel proper); [`CrashSite::owner_source`] says so, and a later address resolver
//! (module symbol tables in memory) can fill in `site` and `owner` where the log printed a bare address.
//!
//! Tainting modules come from the dump's loaded modules (when known), the report's `Modules linked in:`
//! letters, the last unloaded module and the timeline's taint lines; each is found at the crash site, on
//! the call trace (reliable or `?` frames), or absent. Flags are split into those the report's `Tainted:`
//! string shows (set before the crash, each with the timeline event that set it) and the one the crash
//! itself sets (D, W, L, B).
//!
//! ```
//! use analyzers::crash_report::parse_reports;
//! use analyzers::crash_site::{analyze, Owner, Relation};
//! use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
//! let rec = |seq, text: &str| LogRecord { seq, ts_ns: seq * 1_000_000_000, level: 0, facility: 0, caller: None, text: text.into() };
//! let log = KernelLog {
//!     records: vec![
//!         rec(0, "nvidia: module license 'NVIDIA' taints kernel."),
//!         rec(5, "Kernel panic - not syncing: oh no"),
//!         rec(6, "CPU: 0 PID: 1 Comm: init Tainted: P                  6.1.0 #1"),
//!         rec(7, "Call Trace:"),
//!         rec(8, " panic+0x118/0x2f4"),
//!         rec(9, " blk_mq_complete_request+0x42/0x50"),
//!     ],
//!     source: LogSource::PrintkRingbuffer, dropped: 0, problems: vec![],
//! };
//! let tl = analyzers::timeline::build(&log, &analyzers::timeline::TaintSnapshot::upstream(1));
//! let site = analyze(&parse_reports(&log), &tl.events, &Default::default()).unwrap();
//! assert_eq!(site.site.unwrap().symbol.as_deref(), Some("blk_mq_complete_request"));
//! assert_eq!(site.owner, Owner::KernelProper);
//! assert_eq!(site.verdict, Relation::Absent);
//! assert_eq!(site.flags_before[0].set_by.as_deref(), Some("nvidia"));
//! ```

use serde::{Deserialize, Serialize};

use crate::crash_report::{CodeLocation, CrashReport, ReportKind};
use crate::timeline::{EventKind, TimelineEvent};

/// Who owns the crash site's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// vmlinux: the kernel printed a symbol without `[module]`.
    KernelProper,
    /// A module ([`CrashSite::owner_module`]).
    Module,
    /// Only an address is known (or no site at all).
    Unknown,
    /// An address in the module area that no loaded module owns ([`CrashSite::unowned`]).
    NoLoadedModule,
}

/// How the owner was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerSource {
    /// From the symbol the kernel printed into its log (`%pS`).
    Log,
    /// From the dump's memory: the kernel printed a bare address, vmtaint found its owner (a module's
    /// memory ranges and symbol table, or the vmlinux symbols).
    Memory,
    /// Not found.
    None,
}

/// Which line gave the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteFrom {
    /// The report's kernel-mode `RIP:` / `pc :` line.
    Registers,
    /// A WARNING's own `at SYMBOL`.
    WarnLine,
    /// The first reliable call-trace frame outside the panic/printk/scheduler machinery.
    CallTrace,
}

/// Where a tainting module is relative to the crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// The crash site is in the module.
    AtSite,
    /// A reliable frame of the call trace is in the module.
    OnCallTrace,
    /// Only a `?` (unreliable) frame is in the module: a stale return address, maybe not involved.
    OnCallTraceUnreliable,
    /// Nowhere in the site or the trace.
    Absent,
    /// (verdict only) No tainting module is known.
    NoTaintingModule,
}

/// A module that carries taint flags, and where it is relative to the crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaintingModule {
    pub name: String,
    /// Its taint letters (as the dump or the log printed them; empty when only a taint line names it).
    pub letters: String,
    pub relation: Relation,
    /// Where it is known from: `loaded` (the dump's module list), `modules_linked_in`, `last_unloaded`,
    /// `kernel_log` (a taint line names it).
    pub known_from: Vec<String>,
    /// Loaded when the dump was taken: `None` when unknown (a log alone, and not in the crash report's own
    /// `Modules linked in:`).
    pub still_loaded: Option<bool>,
    /// Time of its first taint line (≈ its load), nanoseconds since boot.
    pub first_taint_ns: Option<u64>,
    /// Set when the module never got loaded: its load failed (the reason, as `load_failures` names it), yet
    /// the kernel had already tainted itself for it (O and E are set before symbols and parameters are
    /// checked; seen on every kernel 5.10-7.2).
    #[serde(default)]
    pub failed_load: Option<crate::load_failures::Reason>,
}

/// A taint flag at the crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagAtCrash {
    pub bit: u32,
    pub letter: char,
    /// The module whose line set it first (the timeline event with `new_bit`), if any.
    pub set_by: Option<String>,
    /// When it was set (that event's time), nanoseconds since boot.
    pub set_ns: Option<u64>,
    /// The crash's own flag not yet in `tainted_mask` (x86-64 oopses run kdump before adding D).
    pub pending: bool,
}

/// The verdict. JSON key `crash_site` of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashSite {
    /// How the crash came.
    pub how: ReportKind,
    pub headline: String,
    pub seq: u64,
    pub ts_ns: u64,
    /// Index of the report in the report's `crash_reports`.
    pub report: usize,
    /// The code location of the crash; `None` when the report shows neither registers nor a trace.
    pub site: Option<CodeLocation>,
    pub site_from: Option<SiteFrom>,
    pub owner: Owner,
    pub owner_module: Option<String>,
    pub owner_source: OwnerSource,
    /// The strongest relation of any tainting module (`no_tainting_module` when none is known).
    pub verdict: Relation,
    pub tainting_modules: Vec<TaintingModule>,
    /// Flags the report's `Tainted:` string shows: set before the crash.
    pub flags_before: Vec<FlagAtCrash>,
    /// The flag the crash itself adds (D for an oops or BUG, W, L, B).
    pub flags_by_crash: Vec<FlagAtCrash>,
    /// The site's address is in the module area but in no loaded module: the nearest modules and the last
    /// unloaded one.
    #[serde(default)]
    pub unowned: Option<crate::resolve::Unowned>,
}

/// What the dump (not the log) knows about modules; all empty for a log alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleFacts {
    /// `(name, taint letters)` of every loaded module; `None` when the module list is unknown.
    pub loaded: Option<Vec<(String, String)>>,
    /// `(name, taint letters)` of `last_unloaded_module`.
    pub last_unloaded: Option<(String, String)>,
    /// The final `tainted_mask`, for `pending`.
    pub tainted_mask: Option<u64>,
}

/// Functions that report a crash rather than cause it: skipped when the site comes from a call trace.
fn is_machinery(sym: &str) -> bool {
    const EXACT: &[&str] = &[
        "panic",
        "vpanic",
        "nmi_panic",
        "__warn",
        "warn_slowpath_fmt",
        "report_bug",
        "show_stack",
        "show_trace_log_lvl",
        "_printk",
        "printk",
        "vprintk",
        "vprintk_emit",
        "vprintk_default",
        "schedule",
        "__schedule",
        "schedule_timeout",
        "io_schedule",
        "io_schedule_timeout",
        "schedule_preempt_disabled",
        "__switch_to",
        "__switch_to_asm",
        "context_switch",
        "check_panic_on_warn",
        "oops_end",
        "die",
        "__die",
    ];
    EXACT.contains(&sym) || sym.starts_with("dump_stack") || sym.starts_with("__schedule")
}

/// The report that crashed the kernel.
fn crash_report(reports: &[CrashReport]) -> Option<usize> {
    let last = reports
        .iter()
        .rposition(|r| r.kind != ReportKind::Warning)?;
    let r = &reports[last];
    if r.kind == ReportKind::Panic && last > 0 {
        // A panic that only finishes an earlier report: `Fatal exception` (oops), `hung_task: blocked
        // tasks`, `softlockup: hung tasks`, `panic_on_warn set ...`, `Fatal exception in interrupt`.
        let msg = r.panic_message.as_deref().unwrap_or("");
        let follows = msg.starts_with("Fatal exception")
            || msg.contains("hung_task")
            || msg.contains("softlockup")
            || msg.contains("panic_on_warn")
            || msg.starts_with("Oops");
        if follows {
            return Some(last - 1);
        }
    }
    Some(last)
}

fn crash_flag(kind: ReportKind, headline: &str) -> Option<(u32, char)> {
    match kind {
        ReportKind::Oops => Some((7, 'D')),
        ReportKind::Bug if headline.starts_with("kernel BUG at ") => Some((7, 'D')),
        ReportKind::Bug
            if headline.starts_with("BUG: Bad page") || headline.starts_with("BUG ") =>
        {
            Some((5, 'B'))
        }
        ReportKind::Warning => Some((9, 'W')),
        ReportKind::SoftLockup => Some((14, 'L')),
        _ => None,
    }
}

/// Marks the tainting modules that are not loaded, are not the last unloaded one, and whose load the log shows
/// failing: they tainted the kernel without ever running ([`TaintingModule::failed_load`]).
pub fn mark_failed_loads(
    site: &mut CrashSite,
    failures: &[crate::load_failures::LoadFailure],
    last_unloaded: Option<&str>,
) {
    for m in &mut site.tainting_modules {
        if m.still_loaded == Some(true) || last_unloaded == Some(m.name.as_str()) {
            continue;
        }
        m.failed_load = failures
            .iter()
            .find(|f| f.module.as_deref() == Some(m.name.as_str()))
            .map(|f| f.reason);
    }
}

/// The crash site of the log's reports. `None` when the log shows no crash (or only warnings).
pub fn analyze(
    reports: &[CrashReport],
    timeline: &[TimelineEvent],
    facts: &ModuleFacts,
) -> Option<CrashSite> {
    let at = crash_report(reports)?;
    let r = &reports[at];

    let (site, site_from) = match &r.location {
        Some(l) if r.kind == ReportKind::Warning => (Some(l.clone()), Some(SiteFrom::WarnLine)),
        Some(l) => (Some(l.clone()), Some(SiteFrom::Registers)),
        None => match r.call_trace.iter().find(|f| {
            f.reliable
                && f.location
                    .symbol
                    .as_deref()
                    .is_some_and(|s| !is_machinery(s))
        }) {
            Some(f) => (Some(f.location.clone()), Some(SiteFrom::CallTrace)),
            None => (None, None),
        },
    };
    let source = |l: &CodeLocation| match l.resolved_by {
        Some(_) => OwnerSource::Memory,
        None => OwnerSource::Log,
    };
    let (owner, owner_module, owner_source) = match &site {
        Some(
            l @ CodeLocation {
                module: Some(m), ..
            },
        ) => (Owner::Module, Some(m.clone()), source(l)),
        Some(
            l @ CodeLocation {
                symbol: Some(_), ..
            },
        ) => (Owner::KernelProper, None, source(l)),
        Some(CodeLocation {
            resolved_by: Some(crate::crash_report::ResolvedBy::NoLoadedModule),
            ..
        }) => (Owner::NoLoadedModule, None, OwnerSource::Memory),
        _ => (Owner::Unknown, None, OwnerSource::None),
    };

    // Tainting modules, from every source.
    let mut mods: Vec<TaintingModule> = Vec::new();
    let mut add = |name: &str, letters: &str, from: &str| {
        let m = match mods.iter_mut().position(|m| m.name == name) {
            Some(i) => &mut mods[i],
            None => {
                mods.push(TaintingModule {
                    name: name.to_string(),
                    letters: String::new(),
                    relation: Relation::Absent,
                    known_from: Vec::new(),
                    still_loaded: None,
                    first_taint_ns: None,
                    failed_load: None,
                });
                mods.last_mut().unwrap()
            }
        };
        if m.letters.is_empty() {
            m.letters = letters.to_string();
        }
        if !m.known_from.iter().any(|f| f == from) {
            m.known_from.push(from.to_string());
        }
    };
    if let Some(loaded) = &facts.loaded {
        for (n, l) in loaded.iter().filter(|(_, l)| !l.is_empty()) {
            add(n, l, "loaded");
        }
    }
    // The crash report's own list, else the last one printed before it.
    let linked = reports[..=at]
        .iter()
        .rev()
        .find_map(|x| x.modules_linked_in.as_ref());
    if let Some(list) = linked {
        for m in list.modules.iter().filter(|m| !m.taints.is_empty()) {
            add(&m.name, &m.taints, "modules_linked_in");
        }
        if let Some(u) = list.last_unloaded.as_ref().filter(|u| !u.taints.is_empty()) {
            add(&u.name, &u.taints, "last_unloaded");
        }
    }
    if let Some((n, l)) = facts.last_unloaded.as_ref().filter(|(_, l)| !l.is_empty()) {
        add(n, l, "last_unloaded");
    }
    for e in timeline
        .iter()
        .filter(|e| e.kind == EventKind::Taint && e.ts_ns.is_some_and(|t| t <= r.ts_ns))
    {
        if let Some(m) = &e.module {
            add(m, "", "kernel_log");
        }
    }
    let own_list = r.modules_linked_in.as_ref();
    for m in &mut mods {
        m.first_taint_ns = timeline
            .iter()
            .filter(|e| e.kind == EventKind::Taint && e.module.as_deref() == Some(&m.name))
            .find_map(|e| e.ts_ns);
        m.still_loaded = match &facts.loaded {
            Some(l) => Some(l.iter().any(|(n, _)| *n == m.name)),
            None if own_list.is_some_and(|l| l.modules.iter().any(|x| x.name == m.name)) => {
                Some(true)
            }
            None => None,
        };
        let in_frame = |reliable: bool| {
            r.call_trace
                .iter()
                .any(|f| f.reliable == reliable && f.location.module.as_deref() == Some(&m.name))
        };
        m.relation = if owner_module.as_deref() == Some(&m.name) {
            Relation::AtSite
        } else if in_frame(true)
            || r.link_register.as_ref().and_then(|l| l.module.as_deref()) == Some(&m.name)
            // A kworker running the module's work function: that function is on the stack whatever the
            // unwinder marks reliable (seen: a call through a freed __init pointer leaves only `?` frames).
            || r.workqueue.as_ref().and_then(|w| w.function.module.as_deref()) == Some(&m.name)
        {
            Relation::OnCallTrace
        } else if in_frame(false) {
            Relation::OnCallTraceUnreliable
        } else {
            Relation::Absent
        };
    }
    let verdict = [
        Relation::AtSite,
        Relation::OnCallTrace,
        Relation::OnCallTraceUnreliable,
        Relation::Absent,
    ]
    .into_iter()
    .find(|rel| mods.iter().any(|m| m.relation == *rel))
    .unwrap_or(Relation::NoTaintingModule);

    // Flags before the crash: the report's Tainted: columns (column i is bit i).
    let origin = |bit: u32| {
        timeline.iter().find(|e| {
            e.bit == Some(bit)
                && e.new_bit
                && e.ts_ns.is_some_and(|t| t <= r.ts_ns)
                && e.kind != EventKind::NoEvidence
        })
    };
    let mut flags_before = Vec::new();
    if let Some(cols) = r.tainted.as_deref().filter(|t| *t != "Not tainted") {
        for (i, c) in cols.chars().enumerate().take(64) {
            if !crate::timeline::column_set(i, c) {
                continue;
            }
            let o = origin(i as u32);
            flags_before.push(FlagAtCrash {
                bit: i as u32,
                letter: c,
                set_by: o.and_then(|e| e.module.clone()),
                set_ns: o.and_then(|e| e.ts_ns),
                pending: false,
            });
        }
    }
    let flags_by_crash = crash_flag(r.kind, &r.headline)
        .filter(|(b, _)| !flags_before.iter().any(|f| f.bit == *b))
        .map(|(bit, letter)| FlagAtCrash {
            bit,
            letter,
            set_by: if r.kind == ReportKind::Warning {
                owner_module.clone()
            } else {
                None
            },
            set_ns: Some(r.ts_ns),
            pending: facts.tainted_mask.is_some_and(|m| m & (1u64 << bit) == 0),
        })
        .into_iter()
        .collect();

    Some(CrashSite {
        how: r.kind,
        headline: r.headline.clone(),
        seq: r.seq,
        ts_ns: r.ts_ns,
        report: at,
        site,
        site_from,
        owner,
        owner_module,
        owner_source,
        verdict,
        tainting_modules: mods,
        flags_before,
        flags_by_crash,
        unowned: None,
    })
}
