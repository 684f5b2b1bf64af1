//! Modules the log shows failing to load, and why.
//!
//! Kernel texts (kernel/module/main.c, version.c, signing.c, kernel/params.c of 5.10-7.x):
//! `NAME: disagrees about version of symbol SYM` (CRC mismatch), `NAME: Unknown symbol SYM (err N)`,
//! `NAME: no symbol version for SYM` (Debian fails closed), `NAME: version magic 'X' should be 'Y'`,
//! ``NAME: Unknown parameter `P'``, ``NAME: `V' invalid for parameter `P'``, ``NAME: `V' too large for parameter
//! `P'``, `NAME: exports duplicate symbol SYM (owned by OWNER)`, `NAME: module has no symbols (stripped?)`,
//! `module NAME: .gnu.linkonce.this_module section size must match ...`, and the signature refusals
//! `Loading of unsigned module is rejected`, `Loading of module with unavailable key is rejected`,
//! `Loading of module with unsupported crypto is rejected` (no module name from 5.4 to 7.x; a few kernels
//! print `NAME: loading of ... is rejected`), and lockdown's `Lockdown: COMM: unsigned module loading is
//! restricted; see man kernel_lockdown.7`.
//!
//! Lines without a module name are paired with what userspace wrote about the same attempt: kmod's
//! `modprobe: ERROR: could not insert 'X': REASON` and `insmod: ERROR: could not insert module PATH: REASON`,
//! busybox's `insmod: can't insert 'PATH/X.ko': REASON`, systemd's `Failed to insert module 'X': REASON`: the
//! first such line after the kernel line (within [`PAIR_WINDOW_NS`], or among the next 5 lines when the
//! clocks differ, as in syslog files) whose errno text fits the refusal and whose module, if named, agrees. A
//! userspace line no kernel line explains is a failure of its own.
//!
//! ```
//! use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
//! use analyzers::load_failures::{find, Reason};
//! let rec = |seq, ts_ns, text: &str| LogRecord { seq, ts_ns, level: 5, facility: 0, caller: None, text: text.into() };
//! let log = KernelLog {
//!     records: vec![
//!         rec(0, 5_000_000_000, "Loading of unsigned module is rejected"),
//!         rec(1, 5_001_000_000, "insmod: can't insert '/lib/oot_prop.ko': Key was rejected by service"),
//!     ],
//!     source: LogSource::PrintkRingbuffer, dropped: 0, problems: vec![],
//! };
//! let f = find(&log);
//! assert_eq!(f.len(), 1);
//! assert_eq!(f[0].module.as_deref(), Some("oot_prop"));
//! assert_eq!(f[0].reason, Reason::SignatureRejected);
//! ```

use serde::{Deserialize, Serialize};

use crate::kernel_log::KernelLog;
use crate::timeline::Classes;

/// How long after a kernel refusal the userspace line about it may come.
pub const PAIR_WINDOW_NS: u64 = 5_000_000_000;
/// How many lines after a kernel refusal its userspace line is looked for.
const PAIR_LINES: usize = 50;
/// Lines this close pair whatever their times say.
const PAIR_NEAR_LINES: usize = 5;
/// Times further apart than this come from two clocks (since boot and wall clock), not one.
const OTHER_CLOCK_NS: u64 = 30 * 86_400 * 1_000_000_000;
/// Most failures kept.
const MAX_FAILURES: usize = 10_000;

/// Why the load failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// `disagrees about version of symbol` (CONFIG_MODVERSIONS CRC mismatch).
    CrcMismatch,
    /// `no symbol version for` (the module has no CRC for a symbol).
    NoSymbolVersion,
    UnknownSymbol,
    /// `version magic '...' should be '...'`.
    Vermagic,
    /// Unknown parameter, or a value invalid / too large for it.
    BadParameter,
    /// Unsigned, or signed with an unavailable key or unsupported crypto, under sig_enforce.
    SignatureRejected,
    /// Lockdown refused an unsigned module.
    Lockdown,
    DuplicateSymbol,
    /// Not a loadable module (stripped, wrong `struct module` size, bad ELF).
    BadModuleFile,
    /// Only userspace said it failed; its error text is the detail.
    Other,
}

/// One failed load attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadFailure {
    /// `None` when neither the kernel nor a paired userspace line names it.
    pub module: Option<String>,
    pub seq: u64,
    pub ts_ns: u64,
    pub reason: Reason,
    /// The symbol, parameter (`P='V'`), version magic or signature refusal, as printed.
    pub detail: Option<String>,
    /// The kernel's line (`None` for a userspace-only failure).
    pub kernel_line: Option<String>,
    /// The userspace line paired with it.
    pub userspace_line: Option<String>,
    /// How many more times the kernel printed the same refusal for this attempt (0: once). busybox's
    /// `insmod` tries `finit_module` and then `init_module` with the same file, so the kernel refuses one
    /// command twice (seen on every kernel 5.10-7.2).
    #[serde(default)]
    pub repeats: u32,
}

/// Between two backquote-quote delimiters: `` `X' ``.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let r = s.strip_prefix('`')?;
    let end = r.find('\'')?;
    Some((&r[..end], &r[end + 1..]))
}

fn is_module_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() < 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A kernel line: (module, reason, detail).
fn kernel_failure(line: &str) -> Option<(Option<String>, Reason, Option<String>)> {
    let line = line.trim_end();
    for (prefix, what) in [
        ("Loading of unsigned module is rejected", "unsigned module"),
        (
            "Loading of module with unavailable key is rejected",
            "module with unavailable key",
        ),
        (
            "Loading of module with unsupported crypto is rejected",
            "module with unsupported crypto",
        ),
    ] {
        if line == prefix {
            return Some((None, Reason::SignatureRejected, Some(what.to_string())));
        }
    }
    if let Some(rest) = line.strip_prefix("Lockdown: ") {
        if rest.contains("unsigned module loading is restricted") {
            return Some((None, Reason::Lockdown, Some(rest.to_string())));
        }
    }
    if let Some(rest) = line.strip_prefix("module ") {
        if let Some((name, r)) = rest.split_once(": ") {
            if is_module_name(name)
                && r.starts_with(".gnu.linkonce.this_module section size must match")
            {
                return Some((Some(name.into()), Reason::BadModuleFile, Some(r.into())));
            }
        }
    }
    let (name, rest) = crate::timeline::module_prefix(line)?;
    // The first letters of the texts below: most `NAME: ` lines are none of them.
    if !matches!(
        rest.as_bytes().first(),
        Some(b'd' | b'n' | b'U' | b'v' | b'`' | b'e' | b'm' | b'l')
    ) {
        return None;
    }
    let m = || Some(name.to_string());
    if let Some(sym) = rest.strip_prefix("disagrees about version of symbol ") {
        return Some((m(), Reason::CrcMismatch, Some(sym.into())));
    }
    if let Some(sym) = rest.strip_prefix("no symbol version for ") {
        return Some((m(), Reason::NoSymbolVersion, Some(sym.into())));
    }
    if let Some(r) = rest.strip_prefix("Unknown symbol ") {
        let sym = r.split_once(" (err ").map_or(r, |(s, _)| s);
        return Some((m(), Reason::UnknownSymbol, Some(sym.into())));
    }
    if rest.starts_with("version magic '") && rest.contains("' should be '") {
        return Some((m(), Reason::Vermagic, Some(rest.into())));
    }
    if let Some(r) = rest.strip_prefix("Unknown parameter ") {
        let p = quoted(r).map_or(r, |(p, _)| p);
        return Some((
            m(),
            Reason::BadParameter,
            Some(format!("unknown parameter {p}")),
        ));
    }
    if let Some((val, r)) = quoted(rest) {
        for kind in [" invalid for parameter ", " too large for parameter "] {
            if let Some(p) = r.strip_prefix(kind).and_then(quoted) {
                return Some((
                    m(),
                    Reason::BadParameter,
                    Some(format!(
                        "{}='{val}' {}",
                        p.0,
                        kind.trim().trim_end_matches(" for parameter")
                    )),
                ));
            }
        }
    }
    if let Some(r) = rest.strip_prefix("exports duplicate symbol ") {
        return Some((m(), Reason::DuplicateSymbol, Some(r.into())));
    }
    if rest == "module has no symbols (stripped?)" {
        return Some((m(), Reason::BadModuleFile, Some(rest.into())));
    }
    if let Some(r) = rest.strip_prefix("loading of ") {
        if let Some(what) = r.strip_suffix(" is rejected") {
            return Some((m(), Reason::SignatureRejected, Some(what.into())));
        }
    }
    None
}

/// A userspace line: (module, error text).
fn userspace_failure(line: &str) -> Option<(Option<String>, String)> {
    let line = line.trim_end();
    // Only these programs' lines are read (the name ends at `[PID]` or `: `).
    let named = ["systemd-modules-load", "modprobe", "insmod"]
        .iter()
        .any(|p| {
            line.strip_prefix(p)
                .is_some_and(|r| r.starts_with('[') || r.starts_with(':'))
        });
    if !named {
        return None;
    }
    // `PROG[PID]: ` or `PROG: ` prefix.
    let (prog, rest) = line.split_once(": ")?;
    let prog = prog.split('[').next().unwrap_or(prog);
    let from_path = |p: &str| -> Option<String> {
        let file = p.rsplit('/').next()?;
        let name = file
            .strip_suffix(".ko")
            .or_else(|| file.strip_suffix(".ko.xz"))
            .or_else(|| file.strip_suffix(".ko.zst"))
            .or_else(|| file.strip_suffix(".ko.gz"))
            .unwrap_or(file);
        is_module_name(name).then(|| name.replace('-', "_"))
    };
    match prog {
        "systemd-modules-load" => {
            let r = rest.strip_prefix("Failed to insert module '")?;
            let (m, err) = r.split_once("': ")?;
            Some((from_path(m), err.to_string()))
        }
        "modprobe" | "insmod" => {
            let r = rest.strip_prefix("ERROR: ").unwrap_or(rest);
            let r = r
                .strip_prefix("could not insert module ")
                .map(|x| x.to_string())
                .or_else(|| {
                    r.strip_prefix("could not insert '")
                        .map(|x| x.replacen("': ", ": ", 1))
                })
                .or_else(|| {
                    r.strip_prefix("can't insert '")
                        .map(|x| x.replacen("': ", ": ", 1))
                })?;
            let (m, err) = r.split_once(": ")?;
            Some((from_path(m), err.to_string()))
        }
        _ => None,
    }
}

/// Whether the userspace error text fits the kernel refusal (errno strings of glibc/musl).
fn errno_fits(reason: Reason, err: &str) -> bool {
    let e = err.to_ascii_lowercase();
    match reason {
        Reason::SignatureRejected => {
            e.contains("key was rejected") || e.contains("required key not available")
        }
        Reason::Lockdown => e.contains("operation not permitted"),
        Reason::CrcMismatch
        | Reason::Vermagic
        | Reason::NoSymbolVersion
        | Reason::BadModuleFile => {
            e.contains("exec format error") || e.contains("invalid module format")
        }
        Reason::UnknownSymbol => {
            e.contains("unknown symbol")
                || e.contains("no such file")
                || e.contains("invalid argument")
        }
        Reason::BadParameter => {
            // ERANGE from kstrto*() for a number out of the parameter's range.
            e.contains("out of range")
                || e.contains("invalid argument")
                || e.contains("unknown symbol")
                || e.contains("no such file")
                || e.contains("no space")
        }
        Reason::DuplicateSymbol => e.contains("file exists") || e.contains("exec format"),
        Reason::Other => true,
    }
}

/// Whether a line may take part in a load failure (used by readers to keep lines).
pub fn is_candidate(line: &str) -> bool {
    kernel_failure(line).is_some() || userspace_failure(line).is_some()
}

/// A line of the log that may take part in a load failure.
struct Candidate<'a> {
    /// Its number among all lines of the log.
    i: usize,
    seq: u64,
    ts: u64,
    line: &'a str,
    kernel: Option<(Option<String>, Reason, Option<String>)>,
    user: Option<(Option<String>, String)>,
}

/// Every failed load attempt of `log`.
pub fn find(log: &KernelLog) -> Vec<LoadFailure> {
    find_classified(log, &Classes::of(log))
}

/// [`find`] reading the lines of `log` from its classification.
pub(crate) fn find_classified(log: &KernelLog, classes: &Classes) -> Vec<LoadFailure> {
    let mut out: Vec<LoadFailure> = Vec::new();
    // Userspace lines already used to name a kernel failure.
    let mut used: Vec<u64> = Vec::new();
    // The sequence number of the userspace line paired with the last failure.
    let mut last_paired: Option<u64> = None;
    // The lines that may take part, with their number among all lines: the kernel's refusals and the
    // userspace failure lines (a log is mostly neither).
    let lines: Vec<Candidate> = classes
        .read(log)
        .enumerate()
        .filter_map(|(i, (r, line, _))| {
            let (seq, ts) = (r.seq, r.ts_ns);
            let kernel = kernel_failure(line);
            let user = userspace_failure(line);
            (kernel.is_some() || user.is_some()).then_some(Candidate {
                i,
                seq,
                ts,
                line,
                kernel,
                user,
            })
        })
        .collect();
    for (k, c) in lines.iter().enumerate() {
        if out.len() >= MAX_FAILURES {
            break;
        }
        let (i, seq, ts, line) = (c.i, c.seq, c.ts, c.line);
        let Some((module, reason, detail)) = c.kernel.clone() else {
            continue;
        };
        // The same refusal again before the attempt's userspace line (or with none): the same command
        // retried the load (busybox's insmod: finit_module, then init_module).
        if let Some(prev) = out.last_mut() {
            if prev.kernel_line.as_deref() == Some(line)
                && ts.saturating_sub(prev.ts_ns) < PAIR_WINDOW_NS
                && last_paired.is_none_or(|u| u > seq)
            {
                prev.repeats += 1;
                continue;
            }
        }
        // One attempt may print several lines (a CRC mismatch is followed by `Unknown symbol` for the same
        // symbol): they join the previous failure of the same module within the window.
        if let Some(prev) = out.last_mut() {
            if module.is_some()
                && prev.module == module
                && prev.kernel_line.is_some()
                && ts.saturating_sub(prev.ts_ns) < PAIR_WINDOW_NS
                // simplify_symbols() goes on after an unresolved symbol; parse_args() and the other
                // checks stop at the first error, so their lines are attempts of their own.
                && matches!(prev.reason, Reason::CrcMismatch | Reason::UnknownSymbol)
                && matches!(reason, Reason::CrcMismatch | Reason::UnknownSymbol)
            {
                if let (Some(d), Some(pd)) = (&detail, prev.detail.as_mut()) {
                    if !pd.split(", ").any(|x| x == d) && prev.reason == reason {
                        pd.push_str(", ");
                        pd.push_str(d);
                    }
                }
                continue;
            }
        }
        let mut f = LoadFailure {
            module,
            seq,
            ts_ns: ts,
            reason,
            detail,
            kernel_line: Some(line.to_string()),
            userspace_line: None,
            repeats: 0,
        };
        // The userspace line of the same attempt.
        // Within the window, or among the next few lines (a syslog file stamps kernel lines with the
        // time since boot and userspace lines with the wall clock: their times do not compare).
        let paired = lines[k + 1..]
            .iter()
            .take_while(|u| u.i <= i + PAIR_LINES)
            .filter(|u| {
                let (n, dt) = (u.i - i - 1, u.ts.abs_diff(ts));
                dt <= PAIR_WINDOW_NS || (n < PAIR_NEAR_LINES && dt > OTHER_CLOCK_NS)
            })
            .find_map(|u| {
                let (m, err) = u.user.clone()?;
                (!used.contains(&u.seq)
                    && errno_fits(reason, &err)
                    && (f.module.is_none() || m.is_none() || m == f.module))
                    .then_some((u.seq, m, u.line))
            });
        last_paired = paired.as_ref().map(|(s, _, _)| *s);
        if let Some((s, m, l)) = paired {
            used.push(s);
            if f.module.is_none() {
                f.module = m;
            }
            f.userspace_line = Some(l.to_string());
        }
        out.push(f);
    }
    // Userspace failures no kernel line explained.
    for c in &lines {
        if out.len() >= MAX_FAILURES {
            break;
        }
        let (seq, ts, line) = (c.seq, c.ts, c.line);
        if let Some((m, err)) = c.user.clone() {
            if used.contains(&seq) {
                continue;
            }
            out.push(LoadFailure {
                module: m,
                seq,
                ts_ns: ts,
                reason: Reason::Other,
                detail: Some(err),
                kernel_line: None,
                userspace_line: Some(line.to_string()),
                repeats: 0,
            });
        }
    }
    out.sort_by_key(|f| f.seq);
    out
}
