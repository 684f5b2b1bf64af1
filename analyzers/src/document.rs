//! The document every front end renders: the analyzers' [`Report`] plus where its symbols came from and which
//! dump it describes. `vmtaint report --json`, a scan's JSON line, the crash extension's `taint -j` and the
//! Python module's dict are all this one type, serialized; the human text, CSV and summaries are renderings of
//! it (crate `render`). It reads back from its JSON too (`vmtaint summary` merges scans' JSON lines), apart
//! from what the JSON leaves out (modules' raw `taint_mask`, which reads back as 0).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::report::Report;

/// One rung of the symbol-source ladder and what happened there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The rung: `dwarf`, `btf`, `vmcoreinfo` (a fixed name when made, an owned one when read back from JSON).
    pub source: Cow<'static, str>,
    pub outcome: String,
    /// For a `kernel-code` entry that recovered its variable: the address found (`outcome` says how and what
    /// its memory showed); absent from every other entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<u64>,
}

/// Which source answered the symbol and type questions, and why the better ones did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// `dwarf`, `btf`, `vmcoreinfo` (the kernel log alone) or `crash` (the crash utility's own API).
    pub kind: Cow<'static, str>,
    /// The vmlinux path, `dump`, or `crash`.
    pub origin: String,
    /// How the vmlinux was matched to the dump: `build-id`, `release+banner`, `ignored (--ignore-build-id)`.
    pub matched_by: Option<String>,
    pub tried: Vec<Attempt>,
    /// How many symbol and type questions each source answered (`{"dwarf": 57, "vmcoreinfo": 1}`): the
    /// chosen source first, VMCOREINFO behind it for what it lacks.
    pub answers: std::collections::BTreeMap<String, u32>,
}

/// Which dump the report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpSummary {
    pub path: String,
    /// `elf`, `kdump`, `kdump-flattened`, `elf-flattened` (the container format).
    pub format: String,
    pub release: Option<String>,
    pub build_id: Option<String>,
    pub crash_time_utc: Option<String>,
}

/// The whole document (schema: docs/schema/report.schema.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FullReport {
    #[serde(flatten)]
    pub report: Report,
    pub source: SourceReport,
    pub dump: DumpSummary,
}

impl FullReport {
    /// Is there a taint verdict? `false` when `tainted_mask` could not be read (exit status 3).
    pub fn has_verdict(&self) -> bool {
        // A mask rebuilt from the kernel log (the variable out of reach) is shown, but is not a verdict.
        self.report.tainted_mask.is_some()
            && self.report.tainted_mask_source != Some(crate::report::MaskSource::KernelLog)
    }
}

/// Where a tainting module is relative to the crash, in one word: a scan line's `tainting_module_at_crash` and
/// its CSV column ([`crate::crash_site::Relation`] folded for filtering thousands of dumps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaintingAtCrash {
    /// The crash site is in a tainting module.
    AtSite,
    /// A reliable call-trace frame (or the link register, or the kworker's work function) is in one.
    OnTrace,
    /// Only `?` (unreliable) frames are in one: a stale return address, maybe not involved.
    OnTraceUnreliable,
    /// No tainting module at the site or on the trace (or none known at all).
    Absent,
    /// No crash in the kernel log (or no log), or a crash report with neither a site nor a call trace.
    Unknown,
}

impl TaintingAtCrash {
    /// The JSON (and CSV) word.
    pub fn name(self) -> &'static str {
        match self {
            TaintingAtCrash::AtSite => "at_site",
            TaintingAtCrash::OnTrace => "on_trace",
            TaintingAtCrash::OnTraceUnreliable => "on_trace_unreliable",
            TaintingAtCrash::Absent => "absent",
            TaintingAtCrash::Unknown => "unknown",
        }
    }
}

/// What a scan line and its CSV row say about the crash beside the report, taken from the typed report: who
/// owns the crash site, whether a tainting module is involved, how many module loads failed.
///
/// ```
/// use analyzers::document::{CrashFacts, TaintingAtCrash};
/// let none = CrashFacts { crash_owner: None, tainting_module_at_crash: TaintingAtCrash::Unknown, load_failure_count: Some(0) };
/// assert_eq!(serde_json::to_string(&none).unwrap(),
///     r#"{"crash_owner":null,"tainting_module_at_crash":"unknown","load_failure_count":0}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashFacts {
    /// [`CrashFacts::KERNEL_PROPER`], the module's name, [`CrashFacts::NO_LOADED_MODULE`] (an address in the
    /// module area no loaded module owns) or [`CrashFacts::UNKNOWN`]; `None` when the log shows no crash (or
    /// there is no log).
    pub crash_owner: Option<String>,
    pub tainting_module_at_crash: TaintingAtCrash,
    /// Entries of `load_failures`; `None` when no kernel log was read (nothing to count from).
    pub load_failure_count: Option<usize>,
}

impl CrashFacts {
    pub const KERNEL_PROPER: &'static str = "kernel proper";
    pub const NO_LOADED_MODULE: &'static str = "no loaded module";
    pub const UNKNOWN: &'static str = "unknown";
}

impl FullReport {
    /// The crash facts of a scan line ([`CrashFacts`]), from `crash_site`, `crash_reports` and
    /// `load_failures`.
    pub fn crash_facts(&self) -> CrashFacts {
        use crate::crash_site::{Owner, Relation};
        let r = &self.report;
        let Some(c) = &r.crash_site else {
            return CrashFacts {
                crash_owner: None,
                tainting_module_at_crash: TaintingAtCrash::Unknown,
                load_failure_count: r.kernel_log.as_ref().map(|_| r.load_failures.len()),
            };
        };
        let crash_owner = match c.owner {
            Owner::KernelProper => CrashFacts::KERNEL_PROPER,
            Owner::Module => c.owner_module.as_deref().unwrap_or(CrashFacts::UNKNOWN),
            Owner::NoLoadedModule => CrashFacts::NO_LOADED_MODULE,
            Owner::Unknown => CrashFacts::UNKNOWN,
        };
        // Nothing to place a module against: neither a site nor a frame.
        let blind = c.site.is_none()
            && r.crash_reports
                .get(c.report)
                .is_none_or(|x| x.call_trace.is_empty());
        let tainting_module_at_crash = match c.verdict {
            _ if blind => TaintingAtCrash::Unknown,
            Relation::AtSite => TaintingAtCrash::AtSite,
            Relation::OnCallTrace => TaintingAtCrash::OnTrace,
            Relation::OnCallTraceUnreliable => TaintingAtCrash::OnTraceUnreliable,
            Relation::Absent | Relation::NoTaintingModule => TaintingAtCrash::Absent,
        };
        CrashFacts {
            crash_owner: Some(crash_owner.to_string()),
            tainting_module_at_crash,
            load_failure_count: r.kernel_log.as_ref().map(|_| r.load_failures.len()),
        }
    }
}
