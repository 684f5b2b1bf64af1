//! The report a kernel log alone can give (a `vmcore-dmesg.txt` whose vmcore is missing or cut short, a
//! `dmesg`, `journalctl -k` or syslog file): the same [`Report`] as from a dump, with what only memory knows
//! left empty and named in [`LogOnly::unknown`], never guessed.
//!
//! - mask: the last `Tainted:` string of the log (any width, distribution columns included: a column that
//!   is not blank is a set bit), plus the flags of the taint lines and reports printed after it; the crash's
//!   own flag (D of an oops that ran kdump) is left out and shows as `pending`, as in a dump. Without any
//!   `Tainted:` string the mask is only what the taint lines show ([`MaskBasis::TaintLinesOnly`]), and with
//!   neither it is unknown;
//! - letters: the built-in table of the kernel release the log names (`Linux version ...`, or the release
//!   after a `Tainted:` string; RHEL and SUSE releases add their distribution bits);
//! - timeline, crash reports, crash site and load failures: the same analyzers as for a dump;
//! - per-module letters and the last unloaded module: the last `Modules linked in:` list.
//!
//! The front end names the source kind [`SOURCE_KIND`] (`"log"`) in its `source.kind`.
//!
//! ```
//! use analyzers::text_log::read_text_log;
//! use analyzers::log_report::{report_from_log, MaskBasis};
//! let text = "\
//! [    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP
//! [    2.716807] oot_prop: loading out-of-tree module taints kernel.
//! [    3.063368] Kernel panic - not syncing: sysrq triggered crash
//! [    3.067750] CPU: 0 PID: 1 Comm: init Kdump: loaded Tainted: P           OE      6.1.0-56-cloud-amd64 #1
//! ";
//! let t = read_text_log(text.as_bytes(), "vmcore-dmesg.txt").unwrap();
//! let r = report_from_log(&t);
//! assert_eq!(r.tainted_mask, Some(0x3001));
//! assert_eq!(r.log_only.as_ref().unwrap().mask_basis, MaskBasis::TaintedLine);
//! assert!(r.modules.is_empty()); // only memory knows the loaded modules
//! ```

use serde::{Deserialize, Serialize};

use crate::crash_report::{parse_reports_classified, LinkedModule};
use crate::crash_site::ModuleFacts;
use crate::report::{Analyzer, LogSummary, Problem, ProblemKind, Report, SCHEMA_VERSION};
use crate::signatures::{ForceConfig, Signatures, UnsignedExplanation};
use crate::taint::builtin_table_for_release;
use crate::text_log::{Clock, TextLog, TextLogFormat};
use crate::timeline::{
    build_classified, classify, columns_in, Classes, EventKind, Line, TaintSnapshot, TaintedColumns,
};
use crate::unloaded::LastUnloaded;

/// How many records before its `Tainted:` header a report's first line may be (as the timeline allows).
const REPORT_HEADER_WINDOW: u64 = 100;

/// The `source.kind` of a report made from a log alone.
pub const SOURCE_KIND: &str = "log";

/// Where the log-only mask comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskBasis {
    /// The last `Tainted:` string, plus flags set by lines after it.
    TaintedLine,
    /// No `Tainted:` string: only the flags the taint lines set (a lower bound).
    TaintLinesOnly,
    /// Neither: unknown.
    None,
}

/// A fact the report leaves empty because only the dump's memory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownFact {
    /// The report key or the fact (`modules`, `signatures`, ...).
    pub what: String,
    pub why: String,
}

/// What a log-only report adds. JSON key `log_only` (null for a dump).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOnly {
    pub format: TextLogFormat,
    pub clock: Clock,
    pub lines: u64,
    pub mask_basis: MaskBasis,
    /// The line whose `Tainted:` string gave the mask.
    pub tainted_line: Option<String>,
    /// The kernel release the log names.
    pub release: Option<String>,
    /// Modules and their letters from the log's last `Modules linked in:` list.
    pub modules_linked_in: Vec<LinkedModule>,
    /// Time of that list, nanoseconds (since boot, or wall clock: see `clock`).
    pub modules_linked_in_ns: Option<u64>,
    pub unknown: Vec<UnknownFact>,
}

fn release_after(columns_and_rest: &str) -> Option<String> {
    let cols = columns_in(columns_and_rest);
    let rest = columns_and_rest.get(cols.len()..)?.trim_start();
    let tok = rest.split_whitespace().next()?;
    tok.starts_with(|c: char| c.is_ascii_digit())
        .then(|| tok.to_string())
}

/// The report `log` can give. See the module documentation.
pub fn report_from_log(text: &TextLog) -> Report {
    let log = &text.log;
    let mut problems: Vec<Problem> = log
        .problems
        .iter()
        .map(|m| Problem::new(Analyzer::KernelLog, ProblemKind::Partial, m.clone()))
        .collect();

    // Every analyzer below reads the same lines: classified once.
    let classes = Classes::of(log);

    // The release, and the last Tainted: string with its record.
    let mut release: Option<String> = None;
    let mut last_tainted: Option<(u64, String, String)> = None; // (seq, columns, line)
    for (rec, line, _) in classes.read(log) {
        if let Some(r) = line.strip_prefix("Linux version ") {
            release = r.split_whitespace().next().map(str::to_string);
        }
        // Only a report header (`CPU: `, `Pid: `) or a slab `BUG ` line shows a Tainted: string.
        let may_show = ["CPU: ", "Pid: ", "BUG "]
            .iter()
            .any(|p| line.starts_with(p));
        let tainted = match may_show.then(|| classify(line)) {
            Some(Line::Header(h)) => h.tainted,
            Some(Line::BadPage { tainted }) => tainted,
            _ => None,
        };
        match tainted {
            Some(TaintedColumns::Columns(c)) => {
                if let Some(r) = release_after(&c) {
                    release.get_or_insert(r);
                }
                last_tainted = Some((rec.seq, columns_in(&c).to_string(), line.to_string()));
            }
            Some(TaintedColumns::NotTainted) => {
                if let Some((_, r)) = line.split_once("Not tainted ") {
                    if let Some(t) = r.split_whitespace().next() {
                        release.get_or_insert(t.to_string());
                    }
                }
                last_tainted = Some((rec.seq, String::new(), line.to_string()));
            }
            None => {}
        }
    }
    let table = builtin_table_for_release(release.as_deref());
    let snapshot = |mask: u64| TaintSnapshot::with_table(mask, &table);
    // Column i of a Tainted: string is bit i; any non-blank column but column 0's `G` is set.
    let header_mask = last_tainted.as_ref().map(|(_, cols, _)| {
        cols.chars()
            .enumerate()
            .take(64)
            .filter(|&(i, c)| crate::timeline::column_set(i, c))
            .fold(0u64, |m, (i, _)| m | (1u64 << i))
    });
    let reports = parse_reports_classified(log, &classes);
    // First pass: which flags lines after the last Tainted: string set.
    let first = build_classified(log, &classes, &snapshot(header_mask.unwrap_or(0)));
    let crash_probe = crate::crash_site::analyze(&reports, &first.events, &ModuleFacts::default());
    let crash_bits: Vec<u32> = crash_probe
        .as_ref()
        .map(|c| c.flags_by_crash.iter().map(|f| f.bit).collect())
        .unwrap_or_default();
    let crash_seq = crash_probe.as_ref().map(|c| c.seq);
    let after = last_tainted.as_ref().map(|(s, _, _)| *s);
    let later_bits = first
        .events
        .iter()
        .filter(|e| {
            !matches!(e.kind, EventKind::FirstSeen | EventKind::NoEvidence)
                && e.seq.is_some_and(|s| {
                    after.is_none_or(|a| {
                        // After the last Tainted: string, or the report that printed it (a report's
                        // header shows the mask before the report's own flag).
                        s > a || (e.tainted.is_some() && a - s <= REPORT_HEADER_WINDOW)
                    })
                })
        })
        // The crash's own flag: the dump may have been taken before add_taint() ran.
        .filter(|e| !(e.bit.is_some_and(|b| crash_bits.contains(&b)) && e.seq >= crash_seq))
        .filter_map(|e| e.bit.filter(|&b| b < 64))
        .fold(0u64, |m, b| m | (1u64 << b));
    let (mask, mask_basis) = match header_mask {
        Some(h) => (Some(h | later_bits), MaskBasis::TaintedLine),
        None if later_bits != 0 => (Some(later_bits), MaskBasis::TaintLinesOnly),
        None => (None, MaskBasis::None),
    };
    match mask_basis {
        MaskBasis::TaintLinesOnly => problems.push(Problem::new(
            Analyzer::Taint,
            ProblemKind::Partial,
            "no Tainted: string in the log: the mask is only what its taint lines set (flags \
             set without a line, such as U or R, are not seen)",
        )),
        MaskBasis::None => problems.push(Problem::new(
            Analyzer::Taint,
            ProblemKind::Partial,
            "no Tainted: string and no taint line in the log: taint state unknown",
        )),
        MaskBasis::TaintedLine => {}
    }
    drop(first);
    let timeline = build_classified(log, &classes, &snapshot(mask.unwrap_or(0)));

    // Module letters and the last unloaded module from the last `Modules linked in:`.
    let linked = reports
        .iter()
        .rev()
        .find_map(|r| r.modules_linked_in.clone().map(|m| (r.ts_ns, m)));
    // 6.0+ keep the unloaded module's taints; before, `[last unloaded: x]` carries none.
    let keeps_taints = release
        .as_deref()
        .and_then(|r| r.split('.').next()?.parse::<u32>().ok())
        .map(|major| major >= 6);
    let last_unloaded = linked
        .as_ref()
        .and_then(|(_, m)| m.last_unloaded.as_ref())
        .map(|u| LastUnloaded {
            name: u.name.clone(),
            taints: if !u.taints.is_empty() || keeps_taints == Some(true) {
                Some(u.taints.clone())
            } else {
                None
            },
            taints_raw: (!u.taints.is_empty()).then(|| format!("({})", u.taints)),
        });
    let crash_site = crate::crash_site::analyze(
        &reports,
        &timeline.events,
        &ModuleFacts {
            loaded: None,
            last_unloaded: last_unloaded
                .as_ref()
                .map(|l| (l.name.clone(), l.taints.clone().unwrap_or_default())),
            tainted_mask: mask,
        },
    );
    let load_failures = crate::load_failures::find_classified(log, &classes);
    let panic = Some(crate::panic::from_log_classified(None, log, &classes))
        .filter(|p| p.message.is_some() || p.pid.is_some());

    let mut unknown = vec![
        UnknownFact {
            what: "modules".into(),
            why:
                "the loaded modules, their addresses, versions and the taints of modules no report \
                  listed are in the dump's memory only"
                    .into(),
        },
        UnknownFact {
            what: "signatures".into(),
            why: "sig_ok of each module, sig_enforce and lockdown are in memory only".into(),
        },
        UnknownFact {
            what: "unloaded_tainted_modules".into(),
            why: "the kernel keeps this list in memory only".into(),
        },
    ];
    if last_unloaded.is_none() {
        unknown.push(UnknownFact {
            what: "last_unloaded_module".into(),
            why: "no Modules linked in: list of the log names one (`[last unloaded: ...]`); only memory \
                  keeps it"
                .into(),
        });
    }
    if mask_basis == MaskBasis::TaintedLine {
        unknown.push(UnknownFact {
            what: "tainted_mask".into(),
            why: "flags set after the last Tainted: string without a line of their own (U, R) are not seen"
                .into(),
        });
    }
    if !crash_bits.is_empty() {
        unknown.push(UnknownFact {
            what: "pending".into(),
            why: "whether the crash's own flag was added before the dump was taken (an x86-64 oops runs \
                  kdump first) cannot be told from the log: it is shown pending"
                .into(),
        });
    }
    if text.clock == Clock::WallClock {
        unknown.push(UnknownFact {
            what: "ts_ns".into(),
            why: "the log has wall-clock times only: ts_ns are nanoseconds since the epoch, not since boot"
                .into(),
        });
    }
    let described = mask.map(|m| table.describe(m));
    let e_set = mask.is_some_and(|m| {
        let e = table.bit_for_letter('E').unwrap_or(13);
        e < 64 && m & (1u64 << e) != 0
    });
    Report {
        schema_version: SCHEMA_VERSION,
        tainted_mask: mask,
        tainted_mask_source: mask.map(|_| crate::report::MaskSource::KernelLog),
        taint_string: described.as_ref().map(|d| d.taint_string.clone()),
        flags: described.map(|d| d.flags).unwrap_or_default(),
        taint_source: table.source,
        modules: Vec::new(),
        keyrings: Vec::new(),
        signatures: Signatures {
            sig_enforce: None,
            module_sig_force: ForceConfig::Unknown,
            lockdown: None,
            enforcement_effective: None,
            module_sig_supported: None,
            unsigned_modules: Vec::new(),
            unsigned_flag_set: e_set,
            unsigned_flag: if e_set {
                UnsignedExplanation::Unknown
            } else {
                UnsignedExplanation::NotSet
            },
        },
        last_unloaded_module: last_unloaded,
        unloaded_tainted_modules: None,
        unloaded_hints: Vec::new(),
        unexplained_flags: Vec::new(),
        timeline: timeline.events,
        panic,
        crash_reports: reports,
        crash_site,
        load_failures,
        kernel_log: Some(LogSummary {
            source: log.source,
            records: usize::try_from(text.stats.lines).unwrap_or(usize::MAX),
            dropped: log.dropped,
            older_lines: None,
        }),
        log_only: Some(LogOnly {
            format: text.format,
            clock: text.clock,
            lines: text.stats.lines,
            mask_basis,
            tainted_line: last_tainted.map(|(_, _, l)| l),
            release,
            modules_linked_in_ns: linked.as_ref().map(|(t, _)| *t),
            modules_linked_in: linked.map(|(_, m)| m.modules).unwrap_or_default(),
            unknown,
        }),
        problems,
    }
}
