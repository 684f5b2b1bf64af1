//! Every oops, BUG, WARNING, panic, sysrq crash, hung task and soft lockup report of the kernel log, as
//! typed data: its headline, the task, the `Tainted:` columns it printed, the faulting location (`RIP:` on
//! x86-64, `pc :` on arm64), the `Call Trace:` frames and the `Modules linked in:` list.
//!
//! Formats, from the kernel sources of 5.10-7.x: `__warn()` (kernel/panic.c; 7.x moved the CPU and task to
//! the end: `WARNING: FILE:LINE at SYM, CPU#N: COMM/PID`), `dump_stack_print_info()` (lib/dump_stack.c:
//! `CPU: N [UID: N ]PID: N Comm: C [Kdump: loaded ]Tainted: ...`), `show_trace_log_lvl()` and
//! `printk_stack_address()` (arch/x86/kernel/dumpstack.c: `Call Trace:`, `<IRQ>`/`<TASK>` markers, ` ? ` for
//! unreliable frames), arm64 `dump_backtrace()` (`Call trace:`), `print_modules()` (kernel/module/main.c:
//! `Modules linked in: a(POE+) b [last unloaded: c(POE)]`), `check_hung_task()` (`INFO: task C:PID blocked for
//! more than N seconds.`) and the soft-lockup watchdog.
//!
//! A report is the lines from its headline up to the next headline, its `---[ end trace ...]---` marker or
//! [`REPORT_LINES`] lines, whichever comes first. Nothing here trusts the log: counts are capped.
//!
//! ```
//! use analyzers::crash_report::{parse_frame, ReportKind};
//! use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
//! let f = parse_frame(" ? oot_oops_init+0xc/0x1000 [oot_oops]").unwrap();
//! assert_eq!((f.location.symbol.as_deref(), f.location.offset, f.location.module.as_deref(), f.reliable), (Some("oot_oops_init"), Some(0xc), Some("oot_oops"), false));
//! let rec = |seq, text: &str| LogRecord { seq, ts_ns: seq * 1000, level: 0, facility: 0, caller: None, text: text.into() };
//! let log = KernelLog {
//!     records: vec![rec(0, "sysrq: Trigger a crash"), rec(1, "Kernel panic - not syncing: sysrq triggered crash")],
//!     source: LogSource::PrintkRingbuffer, dropped: 0, problems: vec![],
//! };
//! let reports = analyzers::crash_report::parse_reports(&log);
//! assert_eq!(reports[0].kind, ReportKind::Sysrq);
//! ```

use serde::{Deserialize, Serialize};

use crate::kernel_log::KernelLog;
use crate::timeline::{
    columns_in, parse_tainted_verbose, parse_warn, Classes, Line, TaintedColumns,
};

/// Most lines one report may span.
pub const REPORT_LINES: usize = 400;
/// Most frames kept per call trace.
pub const MAX_FRAMES: usize = 256;
/// Most reports kept from one log (a storm of WARNs keeps the first ones).
pub const MAX_REPORTS: usize = 1000;
/// Most modules kept from one `Modules linked in:` line.
const MAX_LINKED: usize = 4096;

/// How the report came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// A kernel fault: page fault (`BUG: unable to handle ...`, `BUG: kernel NULL pointer dereference`,
    /// arm64 `Unable to handle kernel ...`), or a die() header of its own (general protection fault...).
    Oops,
    /// `kernel BUG at FILE:LINE!` (BUG_ON) and other `BUG: ...` reports (bad page, scheduling while atomic).
    Bug,
    /// `WARNING: ...`.
    Warning,
    /// `Kernel panic - not syncing: ...` not preceded by a sysrq crash trigger.
    Panic,
    /// `sysrq: Trigger a crash` and the panic it causes.
    Sysrq,
    /// `INFO: task C:PID blocked for more than N seconds.`
    HungTask,
    /// `watchdog: BUG: soft lockup - CPU#N stuck for Ns!`
    SoftLockup,
}

/// Where a call-trace frame ran (the markers `show_trace_log_lvl()` prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameContext {
    Task,
    Irq,
    Softirq,
    Nmi,
    /// No marker printed (kernels before 5.8, arm64).
    Unknown,
}

/// A code location as the kernel printed it (`%pS`: `func+0xoff/0xsize [module]`) or as a raw address.
/// `symbol`/`module` are `None` for a bare address; an address resolver fills them later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLocation {
    pub symbol: Option<String>,
    pub offset: Option<u64>,
    pub size: Option<u64>,
    /// The `[module]` the kernel printed; `None` means kernel proper when `symbol` is known.
    pub module: Option<String>,
    /// The raw address, when printed (`[<ffffffff8107d3a0>]` before 4.x, `RIP: 0010:0xffffffffc03e1000`).
    pub address: Option<u64>,
    /// Set when the kernel printed a bare address and vmtaint resolved it from the dump's memory
    /// ([`crate::resolve`]); `None` for what the kernel printed itself.
    #[serde(default)]
    pub resolved_by: Option<ResolvedBy>,
}

/// Where a bare address was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedBy {
    /// The vmlinux symbols (`.symtab` or the dump's kallsyms).
    VmlinuxSymbols,
    /// A loaded module's memory ranges and its own in-memory symbol table.
    ModuleSymtab,
    /// In the module area but in no loaded module's memory (a freed `__init` section or an unloaded
    /// module's memory): symbol and module stay `null`.
    NoLoadedModule,
}

/// One frame of a call trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    #[serde(flatten)]
    pub location: CodeLocation,
    /// `false` for ` ? ` frames: a return address found on the stack, not proven part of the chain.
    pub reliable: bool,
    pub context: FrameContext,
}

/// One module of a `Modules linked in:` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedModule {
    pub name: String,
    /// The taint letters in parentheses as printed (`POE`; RHEL 6 `U`), without the state marks.
    pub taints: String,
    /// `+` (loading) or `-` (unloading), when printed.
    pub state: Option<char>,
}

/// A `Modules linked in:` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModulesLinkedIn {
    pub modules: Vec<LinkedModule>,
    /// `[last unloaded: NAME(LETTERS)]`.
    pub last_unloaded: Option<LinkedModule>,
}

/// One report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashReport {
    pub kind: ReportKind,
    /// The first line (for a sysrq crash, the panic line when there is one).
    pub headline: String,
    /// Sequence number and time of the headline.
    pub seq: u64,
    pub ts_ns: u64,
    pub cpu: Option<u32>,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    /// The `Tainted:` columns of the report's header (trailing blanks cut), or `Not tainted`: the mask
    /// *before* the report added its own flag.
    pub tainted: Option<String>,
    /// 6.11+'s second line: `(letter, NAME)` of each set flag.
    pub tainted_names: Vec<(char, String)>,
    /// `FILE:LINE` of a WARNING or `kernel BUG at`.
    pub file_line: Option<String>,
    /// The kernel-mode `RIP:` (x86-64) or `pc :` (arm64) line, or the WARN's own location.
    pub location: Option<CodeLocation>,
    /// arm64 `lr :`.
    pub link_register: Option<CodeLocation>,
    /// A kworker's `Workqueue: WQ FUNC [MOD]` line: the work function it was running when the report was
    /// made (show_regs() → print_worker_info()).
    #[serde(default)]
    pub workqueue: Option<WorkqueueInfo>,
    pub call_trace: Vec<Frame>,
    pub modules_linked_in: Option<ModulesLinkedIn>,
    /// `Kernel panic - not syncing: MSG` message of a panic or sysrq report.
    pub panic_message: Option<String>,
}

/// The work a kworker was running: `Workqueue: events oot_initfree_run [oot_initfree]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkqueueInfo {
    /// The workqueue's name (`events`, `kblockd`, ...).
    pub name: String,
    /// The work function, as printed (`%ps`: no offset).
    pub function: CodeLocation,
}

/// `Workqueue: WQ FUNC [MOD]` (the text after `Workqueue: `).
fn parse_workqueue(rest: &str) -> Option<WorkqueueInfo> {
    let (name, func) = rest.trim().split_once(' ')?;
    let func = func.trim();
    // `FUNC [MOD]` or `FUNC`; print_worker_info() may add ` (DESC)` after it.
    let func = match func.find(" (") {
        Some(i) if !func[..i].contains('[') || func[..i].ends_with(']') => &func[..i],
        _ => func,
    };
    let (sym, module) = match func.strip_suffix(']').and_then(|x| x.rsplit_once(" [")) {
        Some((sym, m)) => (sym.trim(), Some(m.to_string())),
        None => (func, None),
    };
    if name.is_empty() || sym.is_empty() || !sym.bytes().all(is_symbol_char) {
        return None;
    }
    Some(WorkqueueInfo {
        name: name.to_string(),
        function: CodeLocation {
            symbol: Some(sym.to_string()),
            offset: None,
            size: None,
            module,
            address: None,
            resolved_by: None,
        },
    })
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

fn is_symbol_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$'
}

/// `s.rsplit_once(" [")`, by `memrchr`: every line of a call trace is tried.
fn rsplit_blank_bracket(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    memchr::memrchr_iter(b'[', b)
        .find(|&i| i > 0 && b[i - 1] == b' ')
        .map(|i| (&s[..i - 1], &s[i + 1..]))
}

/// Parse `func+0xoff/0xsize [module]`, `func+0xoff/0xsize`, or `0xffff...` (nothing else on the text).
pub fn parse_location(s: &str) -> Option<CodeLocation> {
    let s = s.trim();
    let (sym, module) = match s.strip_suffix(']').and_then(rsplit_blank_bracket) {
        Some((sym, m)) => {
            // `[mod]` or `[mod 0123abcd...]` (build id, CONFIG_STACKTRACE_BUILD_ID).
            let name = m.split(' ').next().unwrap_or("");
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return None;
            }
            (sym.trim_end(), Some(name.to_string()))
        }
        None => (s, None),
    };
    if let Some(a) = hex(sym) {
        return Some(CodeLocation {
            symbol: None,
            offset: None,
            size: None,
            module,
            address: Some(a),
            resolved_by: None,
        });
    }
    let (name, offs) = sym.rsplit_once('+')?;
    let (off, size) = offs.split_once('/')?;
    if name.is_empty() || !name.bytes().all(is_symbol_char) {
        return None;
    }
    Some(CodeLocation {
        symbol: Some(name.to_string()),
        offset: Some(hex(off)?),
        size: Some(hex(size)?),
        module,
        address: None,
        resolved_by: None,
    })
}

/// Parse one call-trace line: ` [? ][[<addr>] ]func+0xoff/0xsize [module]` (x86-64 and arm64 forms).
pub fn parse_frame(line: &str) -> Option<Frame> {
    let mut s = line.trim();
    let mut reliable = true;
    if let Some(r) = s.strip_prefix("? ") {
        reliable = false;
        s = r.trim_start();
    }
    // Before 4.x (and on some arches): `[<ffffffff8107d3a0>] func+0x20/0x30`; 3.10's RIP line prints the
    // address twice (`[<ffffffffc0123456>]  [<ffffffffc0123456>] func+...`).
    let mut address = None;
    for _ in 0..2 {
        let Some(r) = s.strip_prefix("[<") else { break };
        let (a, rest) = r.split_once(">]")?;
        address = u64::from_str_radix(a, 16).ok();
        s = rest.trim_start();
        if let Some(r) = s.strip_prefix("? ") {
            reliable = false;
            s = r;
        }
    }
    let mut location = parse_location(s)?;
    if location.address.is_none() {
        location.address = address;
    }
    Some(Frame {
        location,
        reliable,
        context: FrameContext::Unknown,
    })
}

/// Parse `Modules linked in: a(POE+) b ... [last unloaded: c(POE)]`.
pub fn parse_modules_linked_in(line: &str) -> Option<ModulesLinkedIn> {
    let rest = line.trim_end().strip_prefix("Modules linked in:")?;
    let (list, last) = match rest.find(" [last unloaded: ") {
        Some(at) => (
            &rest[..at],
            rest[at + 17..].strip_suffix(']').map(parse_linked),
        ),
        None => (rest, None),
    };
    Some(ModulesLinkedIn {
        modules: list
            .split_whitespace()
            .take(MAX_LINKED)
            .filter_map(parse_linked)
            .collect(),
        last_unloaded: last.flatten(),
    })
}

fn parse_linked(s: &str) -> Option<LinkedModule> {
    let s = s.trim();
    let (name, flags) = match s.split_once('(') {
        Some((n, f)) => (n, f.strip_suffix(')')?),
        None => (s, ""),
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return None;
    }
    let state = flags.chars().find(|&c| c == '+' || c == '-');
    Some(LinkedModule {
        name: name.to_string(),
        taints: flags.chars().filter(|c| c.is_ascii_alphabetic()).collect(),
        state,
    })
}

/// What starts a report, from one line.
fn headline_kind(class: &Line, line: &str) -> Option<ReportKind> {
    Some(match class {
        Line::Warn { .. } => ReportKind::Warning,
        Line::OopsCause if line.starts_with("kernel BUG at ") => ReportKind::Bug,
        Line::OopsCause | Line::DieHeader => ReportKind::Oops,
        Line::SoftLockup => ReportKind::SoftLockup,
        Line::BadPage { .. } => ReportKind::Bug,
        Line::Panic { .. } => ReportKind::Panic,
        Line::Sysrq => ReportKind::Sysrq,
        Line::Other if is_hung_task(line) => ReportKind::HungTask,
        // Other `BUG: ` reports (scheduling while atomic, sleeping function called from invalid context...).
        Line::Other if line.starts_with("BUG: ") => ReportKind::Bug,
        _ => return None,
    })
}

/// `INFO: task NAME:PID blocked for more than N seconds.` (kernel/hung_task.c).
fn is_hung_task(line: &str) -> bool {
    line.starts_with("INFO: task ") && line.contains(" blocked for more than ")
}

/// `(comm, pid)` of a hung-task line.
fn hung_task(line: &str) -> (Option<String>, Option<u32>) {
    let Some(rest) = line.strip_prefix("INFO: task ") else {
        return (None, None);
    };
    let Some((task, _)) = rest.split_once(" blocked for more than ") else {
        return (None, None);
    };
    match task.rsplit_once(':') {
        Some((c, p)) => (Some(c.to_string()), p.parse().ok()),
        None => (Some(task.to_string()), None),
    }
}

/// Every report of `log`, in log order.
pub fn parse_reports(log: &KernelLog) -> Vec<CrashReport> {
    parse_reports_classified(log, &Classes::of(log))
}

/// [`parse_reports`] of a log whose lines are classified.
pub(crate) fn parse_reports_classified(log: &KernelLog, classes: &Classes) -> Vec<CrashReport> {
    let mut reports: Vec<CrashReport> = Vec::new();
    // The open report and how many lines it has had.
    let mut open: Option<(usize, usize)> = None;
    let mut in_trace = false;
    let mut context = FrameContext::Unknown;
    for (rec, raw, class) in classes.read(log) {
        let line = raw.trim_end_matches('\r');
        if let Some(kind) = headline_kind(class, line) {
            // Lines that continue the open report instead of starting one.
            let cur = open.map(|(i, n)| (&reports[i], n));
            let joins = match (cur, kind) {
                // The die() header of an oops its cause line opened.
                (Some((r, _)), ReportKind::Oops) if matches!(class, Line::DieHeader) => {
                    matches!(r.kind, ReportKind::Oops | ReportKind::Bug) && r.call_trace.is_empty()
                }
                // The panic of a sysrq crash trigger.
                (Some((r, n)), ReportKind::Panic) => {
                    r.kind == ReportKind::Sysrq && r.panic_message.is_none() && n < 20
                }
                _ => false,
            };
            if joins {
                let (i, _) = open.unwrap();
                if let Line::Panic { message } = class {
                    let r = &mut reports[i];
                    r.panic_message = Some(message.clone());
                    r.headline = line.to_string();
                }
                continue;
            }
            if reports.len() >= MAX_REPORTS {
                open = None;
                continue;
            }
            let mut r = CrashReport {
                kind,
                headline: line.to_string(),
                seq: rec.seq,
                ts_ns: rec.ts_ns,
                cpu: None,
                pid: None,
                comm: None,
                tainted: None,
                tainted_names: Vec::new(),
                file_line: None,
                location: None,
                link_register: None,
                workqueue: None,
                call_trace: Vec::new(),
                modules_linked_in: None,
                panic_message: None,
            };
            match class {
                Line::Panic { message } => r.panic_message = Some(message.clone()),
                Line::Warn { .. } => {
                    if let Some(w) = parse_warn(line) {
                        r.cpu = w.cpu;
                        r.pid = w.pid;
                        r.comm = w.comm;
                        r.file_line = w.file_line;
                        r.location = w.symbol.as_deref().and_then(parse_location);
                    }
                }
                Line::BadPage { tainted: Some(t) } => r.tainted = Some(shown(t)),
                _ => {}
            }
            if let Some(f) = line.strip_prefix("kernel BUG at ") {
                r.file_line = Some(f.trim_end().trim_end_matches('!').to_string());
            }
            if kind == ReportKind::HungTask {
                (r.comm, r.pid) = hung_task(line);
            }
            reports.push(r);
            open = Some((reports.len() - 1, 0));
            in_trace = false;
            context = FrameContext::Unknown;
            continue;
        }
        let Some((i, n)) = open else { continue };
        if n >= REPORT_LINES {
            open = None;
            continue;
        }
        open = Some((i, n + 1));
        let r = &mut reports[i];
        if line.starts_with("---[ end trace") || line.starts_with("---[ end Kernel panic") {
            open = None;
            continue;
        }
        match class {
            Line::Header(h) => {
                if r.tainted.is_none() && h.tainted.is_some() {
                    r.tainted = h.tainted.as_ref().map(shown);
                    r.cpu = r.cpu.or(h.cpu);
                    r.pid = r.pid.or(h.pid);
                    r.comm = r.comm.clone().or_else(|| h.comm.clone());
                }
                continue;
            }
            Line::Rip { .. } => {
                // arm64 show_regs(): `pc : func+0x1c/0x30 [mod]` (the timeline classifies it as the RIP).
                if let Some(pc) = line.strip_prefix("pc : ") {
                    if r.location.is_none() {
                        r.location = parse_location(pc);
                    }
                    continue;
                }
                // The first kernel-mode RIP (`0010:`); user-space ones (`0033:`) end a trace's task part.
                if let Some(rest) = line.strip_prefix("RIP: ") {
                    let (cs, at) = rest.split_once(':').unwrap_or(("", rest));
                    let user = cs == "0033" || cs == "0023";
                    let have = r.location.as_ref().is_some_and(|l| l.symbol.is_some());
                    if !user && !have {
                        r.location = parse_frame(at).map(|f| f.location);
                    }
                }
                continue;
            }
            _ => {}
        }
        let t = line.trim();
        if let Some(names) = parse_tainted_verbose(line) {
            if r.tainted_names.is_empty() {
                r.tainted_names = names;
            }
            continue;
        }
        if let Some(m) = parse_modules_linked_in(line) {
            if r.modules_linked_in.is_none() {
                r.modules_linked_in = Some(m);
            }
            in_trace = false;
            continue;
        }
        // Before 4.x, x86 show_fault_oops(): `IP: [<ffffffffc0123456>] func+0x16/0x30 [mod]`.
        if let Some(ip) = line.strip_prefix("IP: ") {
            if r.location.is_none() {
                r.location = parse_frame(ip).map(|f| f.location);
            }
            continue;
        }
        if let Some(wq) = line.strip_prefix("Workqueue: ") {
            if r.workqueue.is_none() {
                r.workqueue = parse_workqueue(wq);
            }
            continue;
        }
        // arm64 show_regs() `lr : ...` (its `pc : ...` is a Line::Rip, above).
        if let Some(lr) = line.strip_prefix("lr : ") {
            if r.link_register.is_none() {
                r.link_register = parse_location(lr);
            }
            continue;
        }
        if t == "Call Trace:" || t == "Call trace:" {
            in_trace = true;
            continue;
        }
        if !in_trace {
            continue;
        }
        match t {
            "<TASK>" => context = FrameContext::Task,
            "<IRQ>" => context = FrameContext::Irq,
            "<SOFTIRQ>" => context = FrameContext::Softirq,
            "<NMI>" => context = FrameContext::Nmi,
            "</TASK>" | "</IRQ>" | "</SOFTIRQ>" | "</NMI>" => context = FrameContext::Unknown,
            _ => {
                // Register dumps and code bytes inside the trace are not frames; they do not end it.
                if let Some(mut f) = parse_frame(line) {
                    if r.call_trace.len() < MAX_FRAMES {
                        f.context = context;
                        r.call_trace.push(f);
                    }
                }
            }
        }
    }
    reports
}

fn shown(t: &TaintedColumns) -> String {
    match t {
        TaintedColumns::NotTainted => "Not tainted".to_string(),
        TaintedColumns::Columns(c) => columns_in(c).trim_end().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsplit_blank_bracket_is_rsplit_once() {
        for s in [
            "",
            "[",
            " [",
            "a [b",
            "a [b [c",
            "a[b",
            "func+0x1/0x2 [mod",
            " [x [",
            "a  [[b",
            "é [ü",
        ] {
            assert_eq!(rsplit_blank_bracket(s), s.rsplit_once(" ["), "{s:?}");
        }
    }
}
