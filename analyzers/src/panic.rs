//! Why and where the kernel went down: the panic message, CPU, task and time.
//!
//! The message is the log's last `Kernel panic - not syncing: MSG` line; without one (an x86-64 oops runs
//! kdump from `oops_end()` before any panic line) the last oops, and then a `sysrq: Trigger a crash` line.
//! The CPU is `panic_cpu` (set by `panic()` and by `crash_kexec()`, `-1` when unset), else the CPU of the
//! report header. PID and command come from the `CPU: N PID: N Comm: NAME` header of the crash report: the
//! one printed right after the crash line (oops, plain panic), else the last one before it (a panic after
//! an oops prints no second header).
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
//! let rec = |seq, text: &str| LogRecord {
//!     seq, ts_ns: 9_000_000_000 + seq, level: 0, facility: 0, caller: None, text: text.into(),
//! };
//! let log = KernelLog {
//!     records: vec![
//!         rec(0, "Kernel panic - not syncing: sysrq triggered crash"),
//!         rec(1, "CPU: 1 PID: 77 Comm: bash Not tainted 6.1.0-56-cloud-amd64 #1 Debian 6.1.153-1"),
//!     ],
//!     source: LogSource::PrintkRingbuffer, dropped: 0, problems: vec![],
//! };
//! let p = analyzers::panic::analyze(&FakeTarget::new(), Some(&log));
//! assert_eq!(p.message.as_deref(), Some("sysrq triggered crash"));
//! assert_eq!((p.cpu, p.pid, p.comm.as_deref()), (Some(1), Some(77), Some("bash")));
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::kernel_log::KernelLog;
use crate::target::{Target, TypeRef};
use crate::timeline::{classify, Classes, Header, Line};

/// The panic section of a report. JSON keys: `message`, `cpu`, `pid`, `comm`, `ts_ns`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PanicInfo {
    pub message: Option<String>,
    pub cpu: Option<u32>,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    /// Time of the crash line, nanoseconds since boot.
    pub ts_ns: Option<u64>,
}

/// How far (in records) the header of a crash report may follow its first line.
const HEADER_WINDOW: usize = 100;

/// `panic_cpu` (an `atomic_t`), or `None` when unknown or unset (`PANIC_CPU_INVALID` = -1).
fn panic_cpu(t: &dyn Target) -> Option<u32> {
    let addr = t.symbol("panic_cpu")?;
    // `atomic_t` is a typedef of an unnamed struct: ask through the variable (a lookup of a struct tag
    // `atomic_t` finds nothing, and proving that costs a search of every DWARF unit).
    let counter = t
        .member(TypeRef::TypeOf("panic_cpu"), "counter")
        .map_or(0, |m| m.offset);
    let v = t.read_u32(addr.wrapping_add(counter)).ok()? as i32;
    u32::try_from(v).ok()
}

/// Analyze the crash from `log` (if any) and the `panic_cpu` variable.
pub fn analyze(t: &dyn Target, log: Option<&KernelLog>) -> PanicInfo {
    from_log(panic_cpu(t), log)
}

/// [`analyze`] without a dump: `cpu` is `panic_cpu` when known (a log alone has none).
pub fn from_log(cpu: Option<u32>, log: Option<&KernelLog>) -> PanicInfo {
    match log {
        Some(log) => from_log_classified(cpu, log, &Classes::of(log)),
        None => PanicInfo {
            cpu,
            ..PanicInfo::default()
        },
    }
}

/// [`from_log`] of a log whose lines are classified.
pub(crate) fn from_log_classified(
    cpu: Option<u32>,
    log: &KernelLog,
    classes: &Classes,
) -> PanicInfo {
    let mut info = PanicInfo {
        cpu,
        ..PanicInfo::default()
    };

    // The log's lines of the classes read below (crash lines, report starts and headers; not taint lines or
    // `RIP:`s, of which a log may have many): (index among all lines, record time, line, class). The lines
    // are read as stored, a `'\r'` at the end kept.
    let classes: Vec<(usize, u64, &str, Cow<'_, Line>)> = classes
        .read(log)
        .enumerate()
        .filter_map(|(i, (r, l, class))| {
            let class = if l.ends_with('\r') {
                Cow::Owned(classify(l))
            } else {
                Cow::Borrowed(class)
            };
            (!matches!(*class, Line::Other | Line::Taint { .. } | Line::Rip { .. }))
                .then_some((i, r.ts_ns, l, class))
        })
        .collect();

    let last = |pred: &dyn Fn(&Line) -> bool| classes.iter().rposition(|(.., c)| pred(c));
    let crash = last(&|c| matches!(c, Line::Panic { .. }))
        .or_else(|| last(&|c| matches!(c, Line::OopsCause)))
        .or_else(|| last(&|c| matches!(c, Line::DieHeader)))
        .or_else(|| last(&|c| matches!(c, Line::Sysrq)));
    let Some(k) = crash else { return info };
    let (at, ts, line, class) = &classes[k];

    info.ts_ns = Some(*ts);
    info.message = Some(match &**class {
        Line::Panic { message } => message.clone(),
        _ => line.trim_end().to_string(),
    });

    // The header of this report: the first one in the next HEADER_WINDOW lines, before any other report
    // starts...
    let starts_report = |c: &Line| {
        matches!(
            c,
            Line::Warn { .. }
                | Line::OopsCause
                | Line::SoftLockup
                | Line::BadPage { .. }
                | Line::Panic { .. }
        )
    };
    let after = classes[k + 1..]
        .iter()
        .take_while(|(i, ..)| *i <= at + HEADER_WINDOW)
        .take_while(|(.., c)| !starts_report(c))
        .find_map(|(.., c)| match &**c {
            Line::Header(h) => Some(h),
            _ => None,
        });
    // ...else the last one before it.
    let header: Option<&Header> = after.or_else(|| {
        classes[..k].iter().rev().find_map(|(.., c)| match &**c {
            Line::Header(h) => Some(h),
            _ => None,
        })
    });
    if let Some(h) = header {
        info.pid = h.pid;
        info.comm = h.comm.clone();
        if info.cpu.is_none() {
            info.cpu = h.cpu;
        }
    }
    info
}
