//! When each taint flag was set, read from the kernel log.
//!
//! The kernel prints a line when most flags are set (`X: loading out-of-tree module taints kernel.`...),
//! and every WARN, oops, soft lockup or bad-page report prints the whole mask of that moment in its
//! `CPU: N PID: N Comm: NAME Tainted: P           OE ...` header *before* adding its own flag. This module
//! turns those lines into [`TimelineEvent`]s, marks flags the dump was about to set (`pending`), and for every
//! flag of the final `tainted_mask` with no line of its own, tells the first header that shows it or why
//! there is no evidence.
//!
//! Print-once caveat (kernel/module/main.c and signing, 6.1): `loading out-of-tree module taints kernel.`,
//! `module license '...' taints kernel.`, `loading test module taints kernel.` and `...: kernel tainted.`
//! (forced load) are printed only when the flag was not yet set; `module verification failed` and
//! `tainting kernel with TAINT_LIVEPATCH` are `pr_notice_once`. So the module named is the *first* one that
//! set the flag since boot; later modules with the same flag load silently. Only the staging (`C`) line is
//! printed for every module. Forced unload (`R`) and user-set taint (`U`) print nothing at all.
//!
//! ```
//! use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
//! use analyzers::timeline::{build, taint_events, TaintSnapshot};
//! let rec = |seq, text: &str| LogRecord {
//!     seq, ts_ns: 5_123_456_000 + seq, level: 4, facility: 0, caller: None, text: text.into(),
//! };
//! let log = KernelLog {
//!     records: vec![rec(0, "oot_prop: loading out-of-tree module taints kernel.")],
//!     source: LogSource::PrintkRingbuffer, dropped: 0, problems: vec![],
//! };
//! let tl = build(&log, &TaintSnapshot::upstream(1 << 12)); // O
//! assert_eq!(tl.events[0].kind, analyzers::timeline::EventKind::Taint);
//! assert_eq!(taint_events(&tl), vec![('O', "oot_prop".to_string())]);
//! ```

use serde::{Deserialize, Serialize};

use crate::kernel_log::{KernelLog, LogRecord};

/// Letters of upstream bits 0-18 (include/linux/panic.h, 6.0+), used when the dump's table is unknown.
pub const UPSTREAM_LETTERS: [char; 19] = [
    'P', 'F', 'S', 'R', 'M', 'B', 'U', 'D', 'A', 'W', 'C', 'I', 'O', 'E', 'L', 'K', 'X', 'T', 'N',
];

// Upstream bit numbers the log patterns stand for.
const BIT_P: u32 = 0;
const BIT_F: u32 = 1;
const BIT_B: u32 = 5;
const BIT_D: u32 = 7;
const BIT_A: u32 = 8;
const BIT_W: u32 = 9;
const BIT_C: u32 = 10;
const BIT_O: u32 = 12;
const BIT_E: u32 = 13;
const BIT_L: u32 = 14;
const BIT_K: u32 = 15;
const BIT_X: u32 = 16;
const BIT_N: u32 = 18;
/// RHEL 6-8 `TAINT_TECH_PREVIEW`.
const BIT_RHEL_TECH_PREVIEW: u32 = 29;

/// How many records after a report's first line its `CPU: ... Tainted:` header and `RIP:` line may come.
const REPORT_WINDOW: u64 = 100;

/// The taint state of the dump the timeline is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaintSnapshot {
    /// The final `tainted_mask`.
    pub tainted_mask: u64,
    /// `(bit, letter)` of every entry of the dump's taint table (`c_true`), in bit order. Empty: the
    /// upstream letters of bits 0-18.
    pub flags: Vec<(u32, char)>,
}

impl TaintSnapshot {
    /// A snapshot decoded with the upstream letters (for tests, or when the dump's table is unreadable).
    pub fn upstream(tainted_mask: u64) -> Self {
        Self {
            tainted_mask,
            flags: Vec::new(),
        }
    }

    /// A snapshot decoded with `table`'s letters (its entries that have one).
    pub fn with_table(tainted_mask: u64, table: &crate::taint::TaintTable) -> Self {
        Self {
            tainted_mask,
            flags: table
                .entries
                .iter()
                .filter(|e| e.c_true != 0)
                .map(|e| (e.bit, e.c_true as char))
                .collect(),
        }
    }

    fn letter(&self, bit: u32) -> Option<char> {
        if self.flags.is_empty() {
            return UPSTREAM_LETTERS.get(bit as usize).copied();
        }
        self.flags
            .iter()
            .find(|(b, _)| *b == bit)
            .map(|&(_, c)| c)
            .filter(|c| !c.is_whitespace())
    }

    fn bit_of(&self, letter: char) -> Option<u32> {
        if self.flags.is_empty() {
            return UPSTREAM_LETTERS
                .iter()
                .position(|&c| c == letter)
                .map(|b| b as u32);
        }
        self.flags
            .iter()
            .find(|(_, c)| *c == letter)
            .map(|&(b, _)| b)
    }

    /// Columns of a `Tainted:` string: one per table entry (`TAINT_FLAGS_COUNT`); `None` when the table is
    /// unknown and the count is read off each line ([`columns_in`]).
    fn columns(&self) -> Option<usize> {
        self.flags
            .iter()
            .map(|&(b, _)| b)
            .max()
            .map(|m| m as usize + 1)
    }

    /// Decode the columns of a `Tainted:` string: column i shows bit i's letter when the bit is set.
    fn decode(&self, columns: &str) -> u64 {
        let mut mask = 0;
        for (i, c) in columns.chars().enumerate().take(64) {
            let set = match self.letter(i as u32) {
                Some(l) => c == l,
                // Unknown column: any letter but the 'G' that stands for "not P" in column 0.
                None => column_set(i, c),
            };
            if set {
                mask |= 1u64 << i;
            }
        }
        mask
    }
}

/// What a timeline event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A line printed when a flag is set (module load, ACPI override, vendor support status).
    Taint,
    /// `WARNING: CPU: N PID: N at ...` (W).
    Warn,
    /// An oops: `BUG: unable to handle ...`, `kernel BUG at`, `general protection fault`, `Oops:` (D).
    Oops,
    /// `watchdog: BUG: soft lockup - CPU#N stuck for Ns!` (L).
    SoftLockup,
    /// `BUG: Bad page state` / `BUG: Bad page map` / a slab `BUG cache (Tainted: ...)` report (B).
    BadPage,
    /// `Kernel panic - not syncing: ...`.
    Panic,
    /// `sysrq: Trigger a crash`.
    Sysrq,
    /// A flag with no line of its own, first shown set by this `Tainted:` header.
    FirstSeen,
    /// A flag of the final mask with no evidence in the log.
    NoEvidence,
}

/// One event. The JSON keys are a contract: `seq`, `ts_ns`, `kind`, `bit`, `letter`, `module`, `text`,
/// `tainted`, `pending`, `reason`, `new_bit`, `from_file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Sequence number of the log record (`None` for `no_evidence`).
    pub seq: Option<u64>,
    /// Time since boot in nanoseconds (`None` for `no_evidence`).
    pub ts_ns: Option<u64>,
    pub kind: EventKind,
    /// The taint bit the event sets, if any. Letters alone are ambiguous across distributions (RHEL 8 has
    /// `T` for both bit 17 and bit 29).
    pub bit: Option<u32>,
    /// The letter of `bit` in the dump's taint table.
    pub letter: Option<char>,
    /// The module named by the line (`X:` prefix, `[X]` after a WARN location or an oops `RIP:`).
    pub module: Option<String>,
    /// The log line.
    pub text: Option<String>,
    /// The `Tainted:` columns printed by the report's header (trailing blanks cut), or `Not tainted`.
    pub tainted: Option<String>,
    /// The flag is not in the final `tainted_mask`: the kernel printed the report and the dump was taken
    /// before `add_taint()` ran (an x86-64 oops runs kdump before adding D).
    pub pending: bool,
    /// Why there is no better evidence, or what limits this one (print-once lines).
    pub reason: Option<String>,
    /// The event is where its flag was first set as far as the log tells: no earlier event and no earlier
    /// `Tainted:` header shows the flag. A line repeated for a flag already set (6.12+ print the license
    /// line for every proprietary module) is kept with `false` and is never the flag's origin. `false` for
    /// events without a flag and for `no_evidence`.
    pub new_bit: bool,
    /// The text log beside the dump this event's line came from, when the in-memory ring had lost it
    /// ([`crate::log_fill`]); `None` for the dump's own log.
    #[serde(default)]
    pub from_file: Option<String>,
}

/// The taint history of a dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// Log events in log order, then `no_evidence` entries in bit order.
    pub events: Vec<TimelineEvent>,
}

/// `(letter, module)` of every event that names both, for attributing flags of unloaded modules.
pub fn taint_events(tl: &Timeline) -> Vec<(char, String)> {
    tl.events
        .iter()
        .filter_map(|e| Some((e.letter?, e.module.clone()?)))
        .collect()
}

/// A `CPU: N PID: N Comm: NAME [Kdump: loaded ]Tainted: ...` header (lib/dump_stack.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub cpu: Option<u32>,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    /// The `Tainted:` columns (`None` when the header shows no taint part).
    pub tainted: Option<TaintedColumns>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaintedColumns {
    NotTainted,
    /// The columns exactly as printed, trailing blanks included (the release follows after them).
    Columns(String),
}

fn leading_u32(s: &str) -> Option<u32> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

pub(crate) fn parse_header(line: &str) -> Option<Header> {
    // 2.6.x (RHEL 6) `__show_regs()`: `Pid: 2335, comm: insmod Tainted: P ... 2.6.32-754.el6.x86_64 #1`.
    if let Some(rest) = line.strip_prefix("Pid: ") {
        let (pid, r) = rest.split_once(", comm: ")?;
        let markers = [" Tainted: ", " Not tainted"];
        let comm_end = markers.iter().filter_map(|m| r.find(m)).min()?;
        return Some(Header {
            cpu: None,
            pid: pid.trim().parse().ok(),
            comm: Some(r[..comm_end].to_string()),
            tainted: tainted_part(r),
        });
    }
    let rest = line.strip_prefix("CPU: ")?;
    let pid_at = rest.find(" PID: ")?;
    let comm_at = rest.find(" Comm: ")?;
    let cpu = leading_u32(rest);
    let pid = leading_u32(&rest[pid_at + 6..]);
    let after_comm = &rest[comm_at + 7..];
    let markers = [" Kdump: loaded", " Tainted: ", " Not tainted"];
    let comm_end = markers
        .iter()
        .filter_map(|m| after_comm.find(m))
        .min()
        .unwrap_or_else(|| after_comm.find(' ').unwrap_or(after_comm.len()));
    let comm = Some(after_comm[..comm_end].to_string());
    Some(Header {
        cpu,
        pid,
        comm,
        tainted: tainted_part(after_comm),
    })
}

/// The taint part of a line: after `Tainted: ` (columns to the end of the line, the caller cuts them to
/// the table width), or `Not tainted`.
fn tainted_part(s: &str) -> Option<TaintedColumns> {
    if let Some(i) = s.find("Tainted: ") {
        if !s[..i].ends_with("Not ") {
            return Some(TaintedColumns::Columns(s[i + 9..].to_string()));
        }
    }
    if s.contains("Not tainted") {
        return Some(TaintedColumns::NotTainted);
    }
    None
}

/// The taint columns at the start of `s` (the text after `Tainted: `), without knowing how many the kernel
/// has (18 on 5.10, 19 on 6.x, 20 on 7.x, more on distribution kernels): `print_tainted()` writes one letter
/// or blank per flag, then `dump_stack_print_info()` a blank and the release, which starts with a digit.
/// Tokens of letters are columns; the first other token is the release (or a RHEL `---` marker).
pub fn columns_in(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b' ' {
            i += 1;
        }
        // RHEL prints `-` for its reserved bits (`P           OE  ------------ T 3.10.0-...`).
        if !s[start..i]
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'-')
        {
            // The blank before the release is not a column.
            return &s[..start.saturating_sub(1)];
        }
    }
    s.trim_end()
}

/// The second taint line of 6.11+ reports, `Tainted: [P]=PROPRIETARY_MODULE, [W]=WARN, [O]=OOT_MODULE`
/// (`print_tainted_verbose()`): each set flag's letter and name, in table order.
pub fn parse_tainted_verbose(line: &str) -> Option<Vec<(char, String)>> {
    let rest = line.trim_end().strip_prefix("Tainted: [")?;
    let mut out = Vec::new();
    for part in format!("[{rest}").split(", ").take(64) {
        let mut chars = part.chars();
        let (Some('['), Some(letter), Some(']'), Some('=')) =
            (chars.next(), chars.next(), chars.next(), chars.next())
        else {
            return None;
        };
        let name = chars.as_str();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
        {
            return None;
        }
        out.push((letter, name.to_string()));
    }
    Some(out)
}

/// Whether column `i` of a `Tainted:` string shows its flag set, without knowing the flag's letter: any
/// character but a blank, RHEL's `-` for reserved bits, and column 0's `G` (the `c_false` of P).
pub fn column_set(i: usize, c: char) -> bool {
    !(c.is_whitespace() || c == '-' || (i == 0 && c == 'G'))
}

/// What a log line is, for the timeline and the panic analyzer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// A flag-setting line: upstream bit candidates (first one present in the table wins), module.
    Taint {
        bits: &'static [u32],
        letter: Option<char>,
        module: Option<String>,
        print_once: bool,
    },
    Warn {
        module: Option<String>,
    },
    /// The first line of an oops (`BUG: unable to handle ...`, `kernel BUG at ...`).
    OopsCause,
    /// The die() header `STR: ERR [#N] ...` (`Oops: 0002 [#1]`, `general protection fault...: 0000 [#1]`).
    DieHeader,
    SoftLockup,
    BadPage {
        tainted: Option<TaintedColumns>,
    },
    Panic {
        message: String,
    },
    Sysrq,
    Header(Header),
    /// `RIP: 0010:func+0x15/0x30 [module]`, arm64 `pc : func+0x14/0x1000 [module]` (module if any).
    Rip {
        module: Option<String>,
    },
    Other,
}

fn is_module_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() < 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `[module]` at the end of a `%pS` symbol (`func+0x15/0x30 [oot_prop]`).
fn trailing_module(s: &str) -> Option<String> {
    let s = s.trim_end().strip_suffix(']')?;
    let open = s.rfind('[')?;
    let name = &s[open + 1..];
    is_module_name(name).then(|| name.to_string())
}

/// The location parts of a `WARNING:` headline (kernel/panic.c `__warn()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WarnLine {
    pub cpu: Option<u32>,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    /// `FILE:LINE` when the WARN had one.
    pub file_line: Option<String>,
    /// `func+0xoff/0xsize [module]` as printed.
    pub symbol: Option<String>,
    pub module: Option<String>,
}

/// `WARNING: CPU: 0 PID: 103 at FILE:LINE func+0x11/0x1000 [mod]` (up to 6.x) or the 7.x form
/// `WARNING: FILE:LINE at func+0x10/0xff0 [mod], CPU#1: insmod/142` (either may lack `FILE:LINE`).
pub(crate) fn parse_warn(line: &str) -> Option<WarnLine> {
    let rest = line.strip_prefix("WARNING: ")?;
    if let Some(r) = rest.strip_prefix("CPU: ") {
        let pid_at = r.find(" PID: ")?;
        let at = r.find(" at ")?;
        let loc = r[at + 4..].trim_end();
        // `FILE:LINE SYMBOL` or just `SYMBOL`.
        let (file_line, symbol) = match loc.split_once(' ') {
            Some((f, s)) if f.contains(':') && !f.contains('+') => (Some(f), s),
            _ => (None, loc),
        };
        return Some(WarnLine {
            cpu: leading_u32(r),
            pid: leading_u32(&r[pid_at + 6..]),
            comm: None,
            file_line: file_line.map(str::to_string),
            symbol: Some(symbol.trim().to_string()).filter(|s| !s.is_empty()),
            module: trailing_module(loc),
        });
    }
    // 7.x: "...at SYMBOL, CPU#N: COMM/PID".
    let cpu_at = rest.rfind(", CPU#")?;
    let (head, tail) = (&rest[..cpu_at], &rest[cpu_at + 6..]);
    let (cpu, task) = tail.split_once(": ")?;
    let cpu: u32 = cpu.parse().ok()?;
    let (comm, pid) = match task.trim_end().rsplit_once('/') {
        Some((c, p)) => (Some(c.to_string()), p.parse().ok()),
        None => (Some(task.trim_end().to_string()), None),
    };
    let (file_line, symbol) = match head.split_once(" at ") {
        Some((f, s)) => (Some(f.to_string()), s),
        None => (None, head.strip_prefix("at ").unwrap_or(head)),
    };
    Some(WarnLine {
        cpu: Some(cpu),
        pid,
        comm,
        file_line,
        symbol: Some(symbol.trim().to_string()).filter(|s| !s.is_empty()),
        module: trailing_module(symbol),
    })
}

/// Split `NAME: rest` where NAME is a module name: `line.split_once(": ")` whose first part
/// [`is_module_name`], without searching past the name (the first `": "` can only be right after it).
pub(crate) fn module_prefix(line: &str) -> Option<(&str, &str)> {
    /// The bytes of a module name.
    static NAME_BYTE: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            t[c] = b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
            c += 1;
        }
        t
    };
    let b = line.as_bytes();
    let n = b
        .iter()
        .take(64)
        .position(|&c| !NAME_BYTE[usize::from(c)])
        .unwrap_or(b.len().min(64));
    (n > 0 && n < 64 && b[n..].starts_with(b": ")).then(|| (&line[..n], &line[n + 2..]))
}

/// The die() header: `STR: HEX [#N]...` (x86 `__die_header`, arm64 `Internal error: Oops: HEX [#N]`).
fn is_die_header(line: &str) -> bool {
    static AT: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(" [#"));
    let Some(at) = AT.find(line.as_bytes()) else {
        return false;
    };
    let after = &line[at + 3..];
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || after.as_bytes().get(digits) != Some(&b']') {
        return false;
    }
    let before = &line[..at];
    match before.rfind(": ") {
        Some(c) => {
            let hex = &before[c + 2..];
            !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// Whether `line` starts with the start of a pattern of [`classify`] that is anchored at the line's start.
fn starts_like_a_pattern(line: &str) -> bool {
    match line.as_bytes().first() {
        Some(b'P') => line.starts_with("Pid: "),
        Some(b'C') => line.starts_with("CPU: "),
        Some(b'K') => line.starts_with("Kernel panic - not syncing: "),
        Some(b'W') => line.starts_with("WARNING: "),
        Some(b'R') => line.starts_with("RIP: "),
        Some(b'p') => line.starts_with("pc : "),
        Some(b'B') => line.starts_with("BUG"),
        Some(b'k') => line.starts_with("kernel BUG at "),
        Some(b'U') => line.starts_with("Unable to handle kernel "),
        Some(b's') => line.starts_with("sysrq: "),
        Some(b'S') => line.starts_with("SysRq : "),
        Some(b'T') => line.starts_with("TECH"),
        _ => false,
    }
}

pub(crate) fn classify(line: &str) -> Line {
    // Most lines match no pattern: only the patterns not anchored at the line's start are tried for a line
    // that starts like none of the others, in the same order as in the full list.
    if starts_like_a_pattern(line) {
        return classify_all(line);
    }
    if memchr::memchr(b'#', line.as_bytes()).is_some() {
        if line.contains("BUG: soft lockup - CPU#") {
            return Line::SoftLockup;
        }
        if is_die_header(line) {
            return Line::DieHeader;
        }
    }
    acpi_override(line)
        .or_else(|| module_line(line))
        .unwrap_or(Line::Other)
}

fn taint_line(bits: &'static [u32], module: Option<&str>, print_once: bool) -> Line {
    Line::Taint {
        bits,
        letter: None,
        module: module.map(str::to_string),
        print_once,
    }
}

/// drivers/acpi/tables.c acpi_table_taint() (pr_fmt "ACPI: ").
fn acpi_override(line: &str) -> Option<Line> {
    (line.ends_with("this is unsafe: tainting kernel") && line.contains("Override ["))
        .then(|| taint_line(&[BIT_A], None, false))
}

/// Every pattern, in order.
fn classify_all(line: &str) -> Line {
    let taint = taint_line;
    if let Some(h) = parse_header(line) {
        return Line::Header(h);
    }
    if let Some(msg) = line.strip_prefix("Kernel panic - not syncing: ") {
        return Line::Panic {
            message: msg.trim_end().to_string(),
        };
    }
    if let Some(w) = parse_warn(line) {
        return Line::Warn { module: w.module };
    }
    // x86-64 `RIP: 0010:func+off/size [mod]`; arm64 `pc : func+off/size [mod]` (arch/arm64/kernel/process.c).
    if let Some(rest) = line
        .strip_prefix("RIP: ")
        .or_else(|| line.strip_prefix("pc : "))
    {
        return Line::Rip {
            module: trailing_module(rest),
        };
    }
    // kernel/watchdog.c, pr_fmt "watchdog: ".
    if line.contains("BUG: soft lockup - CPU#") {
        return Line::SoftLockup;
    }
    // mm/page_alloc.c bad_page(), mm/memory.c print_bad_pte().
    if line.starts_with("BUG: Bad page state in process")
        || line.starts_with("BUG: Bad page map in process")
    {
        return Line::BadPage { tainted: None };
    }
    // mm/slub.c slab_bug(): "BUG <cache> (<print_tainted()>): <reason>", then add_taint(TAINT_BAD_PAGE).
    if let Some(rest) = line.strip_prefix("BUG ") {
        if let Some(open) = rest.find(" (") {
            let inner = &rest[open + 2..];
            if inner.starts_with("Tainted: ") || inner.starts_with("Not tainted): ") {
                let tainted = inner
                    .find("): ")
                    .and_then(|close| tainted_part(&inner[..close]));
                return Line::BadPage { tainted };
            }
        }
    }
    // arch/x86/mm/fault.c show_fault_oops() (5.x+ and older wording), lib/bug.c, arm64 die_kernel_fault().
    if line.starts_with("BUG: unable to handle ")
        || line.starts_with("BUG: kernel NULL pointer dereference")
        || line.starts_with("kernel BUG at ")
        || line.starts_with("Unable to handle kernel ")
    {
        return Line::OopsCause;
    }
    if is_die_header(line) {
        return Line::DieHeader;
    }
    // drivers/tty/sysrq.c: "sysrq: " pr_fmt (5.x+), "SysRq : " before.
    if (line.starts_with("sysrq: ") || line.starts_with("SysRq : "))
        && line.contains("Trigger a crash")
    {
        return Line::Sysrq;
    }
    if let Some(l) = acpi_override(line) {
        return l;
    }
    // RHEL kernel/rh_taint.c mark_tech_preview(): "TECH PREVIEW: %s may not be fully supported." with the
    // driver or module name; bit 29 on RHEL 6-8, TAINT_AUX (16) from RHEL 9.
    if let Some(rest) = line
        .strip_prefix("TECH PREVIEW: ")
        .or_else(|| line.strip_prefix("TECH_PREVIEW: "))
    {
        if let Some(what) = rest.strip_suffix(" may not be fully supported.") {
            let module = is_module_name(what).then_some(what);
            return taint(&[BIT_RHEL_TECH_PREVIEW, BIT_X], module, false);
        }
        if let Some((what, _)) = rest.split_once(" may not be fully supported.") {
            let module = is_module_name(what).then_some(what);
            return taint(&[BIT_RHEL_TECH_PREVIEW, BIT_X], module, false);
        }
    }
    module_line_all(line).unwrap_or(Line::Other)
}

/// The lines of a module's name and what it did that set a flag.
fn module_line(line: &str) -> Option<Line> {
    static TAINT: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("taint"));
    let (_, rest) = module_prefix(line)?;
    // Every line of `module_line_all` says `taint` but the staging one: most `NAME: ` lines are none.
    if TAINT.find(rest.as_bytes()).is_none()
        && !rest.starts_with("module is from the staging directory")
    {
        return None;
    }
    module_line_all(line)
}

/// [`module_line`], trying every pattern.
fn module_line_all(line: &str) -> Option<Line> {
    let taint = |bits, module, print_once| Some(taint_line(bits, module, print_once));
    let (name, rest) = module_prefix(line)?;
    // kernel/module/main.c (6.1) unless noted.
    if rest == "loading out-of-tree module taints kernel." {
        return taint(&[BIT_O], Some(name), true);
    }
    if rest.starts_with("module license '") && rest.ends_with("' taints kernel.") {
        return taint(&[BIT_P], Some(name), true);
    }
    // check_module_license_and_versions(): ndiswrapper, driverloader, lve.
    if rest == "module license taints kernel." {
        return taint(&[BIT_P], Some(name), true);
    }
    // inherit_taint(): the module's own P bit only (the global one is already set by the owner).
    if rest.starts_with("module uses symbols ") && rest.ends_with(", inheriting taint.") {
        return taint(&[BIT_P], Some(name), false);
    }
    // load_module() (pr_notice_once), kernel/module/signing.c decides sig_ok.
    if rest == "module verification failed: signature and/or required key missing - tainting kernel"
    {
        return taint(&[BIT_E], Some(name), true);
    }
    if rest.starts_with("module is from the staging directory") {
        return taint(&[BIT_C], Some(name), false);
    }
    // check_modinfo_livepatch() (pr_notice_once).
    if rest == "tainting kernel with TAINT_LIVEPATCH" {
        return taint(&[BIT_K], Some(name), true);
    }
    if rest == "loading test module taints kernel." {
        return taint(&[BIT_N], Some(name), true);
    }
    // try_to_force_load(): "NAME: REASON: kernel tainted." (bad vermagic, no versions, a symbol name).
    if rest.ends_with(": kernel tainted.") {
        return taint(&[BIT_F], Some(name), true);
    }
    // SUSE: "X: externally supported module, setting X kernel taint flag.", older SUSE/Novell:
    // "X: module not supported by Novell, setting U taint flag." The letter is in the line.
    static SETTING: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("setting "));
    if let Some(at) = SETTING.find(rest.as_bytes()) {
        let tail = &rest[at + 8..];
        let mut chars = tail.chars();
        if let (Some(l), Some(' ')) = (chars.next(), chars.next()) {
            let after = chars.as_str();
            if after.starts_with("kernel taint flag") || after.starts_with("taint flag") {
                return Some(Line::Taint {
                    bits: &[],
                    letter: Some(l),
                    module: Some(name.to_string()),
                    print_once: false,
                });
            }
        }
    }
    None
}

/// What [`classify`] makes of each line of a log (each record's text split at `'\n'`, a `'\r'` at the end
/// cut), computed once for the analyzers that read the same log. Only the lines that are not
/// [`Line::Other`] are stored: a log is mostly other lines.
pub(crate) struct Classes {
    /// (line number from 0, class), in line order.
    found: Vec<(usize, Line)>,
    /// Whether a record has more than one line (never in a text log).
    multi_line: bool,
}

/// `text.split('\n')`, by `memchr` (or the whole text, known to be one line): most records are one short
/// line.
struct SplitLines<'a> {
    rest: Option<&'a str>,
    /// The text is known to have no `'\n'`.
    whole: bool,
}

impl<'a> Iterator for SplitLines<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let at = if self.whole {
            None
        } else {
            memchr::memchr(b'\n', s.as_bytes())
        };
        match at {
            Some(i) => {
                self.rest = Some(&s[i + 1..]);
                Some(&s[..i])
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

/// The lines of `log`: (record, line as stored, `'\r'` kept).
fn lines_of(log: &KernelLog, multi_line: bool) -> impl Iterator<Item = (&LogRecord, &str)> {
    log.records.iter().flat_map(move |r| {
        SplitLines {
            rest: Some(&r.text),
            whole: !multi_line,
        }
        .map(move |l| (r, l))
    })
}

impl Classes {
    pub(crate) fn of(log: &KernelLog) -> Self {
        let multi_line = log
            .records
            .iter()
            .any(|r| memchr::memchr(b'\n', r.text.as_bytes()).is_some());
        let found = lines_of(log, multi_line)
            .enumerate()
            .filter_map(|(i, (_, l))| match classify(l.trim_end_matches('\r')) {
                Line::Other => None,
                c => Some((i, c)),
            })
            .collect();
        Self { found, multi_line }
    }

    /// Each line of `log` (the log these classes are of) with its class: (record, line as stored with a
    /// `'\r'` at the end kept, class).
    pub(crate) fn read<'a, 'c>(
        &'c self,
        log: &'a KernelLog,
    ) -> impl Iterator<Item = (&'a LogRecord, &'a str, &'c Line)> {
        let mut reader = ClassReader {
            found: &self.found,
            line: 0,
        };
        lines_of(log, self.multi_line).map(move |(r, l)| (r, l, reader.next_class()))
    }
}

/// Reads [`Classes`] line by line.
struct ClassReader<'a> {
    found: &'a [(usize, Line)],
    line: usize,
}

impl<'a> ClassReader<'a> {
    /// The class of the next line.
    fn next_class(&mut self) -> &'a Line {
        static OTHER: Line = Line::Other;
        let i = self.line;
        self.line += 1;
        match self.found.split_first() {
            Some(((at, class), rest)) if *at == i => {
                self.found = rest;
                class
            }
            _ => &OTHER,
        }
    }
}

/// One `Tainted:` header seen in the log.
struct Seen {
    seq: u64,
    ts_ns: u64,
    mask: u64,
    shown: String,
    line: String,
}

const PRINT_ONCE: &str =
    "the kernel prints this line only when the flag is first set: later modules with \
                          the same flag load without a line";

/// Build the taint timeline of `log` against the dump's final taint state.
pub fn build(log: &KernelLog, taint: &TaintSnapshot) -> Timeline {
    build_classified(log, &Classes::of(log), taint)
}

/// [`build`] of a log whose lines are classified.
pub(crate) fn build_classified(
    log: &KernelLog,
    classes: &Classes,
    taint: &TaintSnapshot,
) -> Timeline {
    let mut events: Vec<TimelineEvent> = Vec::new();
    // The report (warn/oops/...) whose header and RIP lines are still to come: (event index, its seq,
    // whether its header was seen, whether its RIP was seen).
    let mut open: Option<(usize, u64, bool, bool)> = None;
    let mut seen: Vec<Seen> = Vec::new();
    let columns = taint.columns();
    let pending_of = |bit: Option<u32>| -> bool {
        bit.is_some_and(|b| b < 64 && taint.tainted_mask & (1u64 << b) == 0)
    };
    let cut = |t: &TaintedColumns| -> (u64, String) {
        match t {
            TaintedColumns::NotTainted => (0, "Not tainted".to_string()),
            TaintedColumns::Columns(c) => {
                // The table's width, unless the line itself has fewer columns (a table built for a newer
                // kernel than the one that printed the line).
                let inferred = columns_in(c);
                let cols: String = match columns {
                    Some(n) => c.chars().take(n.min(inferred.chars().count())).collect(),
                    None => inferred.to_string(),
                };
                (taint.decode(&cols), cols.trim_end().to_string())
            }
        }
    };

    for (rec, line, class) in classes.read(log) {
        let line = line.trim_end_matches('\r');
        let event = |kind: EventKind, bit: Option<u32>, module: Option<String>| TimelineEvent {
            seq: Some(rec.seq),
            ts_ns: Some(rec.ts_ns),
            kind,
            bit,
            letter: bit.and_then(|b| taint.letter(b)),
            module,
            text: Some(line.to_string()),
            tainted: None,
            pending: pending_of(bit),
            reason: None,
            new_bit: false,
            from_file: None,
        };
        let report_open =
            |ev: &mut Vec<TimelineEvent>, e: TimelineEvent| -> (usize, u64, bool, bool) {
                ev.push(e);
                (ev.len() - 1, rec.seq, false, false)
            };
        match class.clone() {
            Line::Taint {
                bits,
                letter,
                module,
                print_once,
            } => {
                let bit = match letter {
                    Some(l) => taint.bit_of(l),
                    // The first candidate bit the dump's mask has, else the first the table knows.
                    None => bits
                        .iter()
                        .find(|&&b| {
                            taint.tainted_mask & (1u64 << b) != 0 && taint.letter(b).is_some()
                        })
                        .or_else(|| bits.iter().find(|&&b| taint.letter(b).is_some()))
                        .copied(),
                };
                let mut e = event(EventKind::Taint, bit, module);
                if e.letter.is_none() {
                    e.letter = letter;
                }
                if print_once {
                    e.reason = Some(PRINT_ONCE.to_string());
                }
                events.push(e);
            }
            Line::Warn { module } => {
                let e = event(EventKind::Warn, Some(BIT_W), module);
                open = Some(report_open(&mut events, e));
            }
            Line::OopsCause => {
                let e = event(EventKind::Oops, Some(BIT_D), None);
                open = Some(report_open(&mut events, e));
            }
            Line::DieHeader => {
                // Part of the oops its cause line opened, or an oops of its own (gpf, invalid opcode).
                let joins = matches!(open, Some((i, s, false, _))
                        if events[i].kind == EventKind::Oops && rec.seq.saturating_sub(s) <= REPORT_WINDOW);
                if joins {
                    // oops_end() adds TAINT_DIE after this header's report: the event takes its time,
                    // and keeps the cause line (`BUG: ...`) as its text.
                    if let Some((i, ..)) = open {
                        events[i].seq = Some(rec.seq);
                        events[i].ts_ns = Some(rec.ts_ns);
                    }
                } else {
                    let e = event(EventKind::Oops, Some(BIT_D), None);
                    open = Some(report_open(&mut events, e));
                }
            }
            Line::SoftLockup => {
                let e = event(EventKind::SoftLockup, Some(BIT_L), None);
                open = Some(report_open(&mut events, e));
            }
            Line::BadPage { tainted } => {
                let mut e = event(EventKind::BadPage, Some(BIT_B), None);
                let has_header = tainted.is_some();
                if let Some(t) = &tainted {
                    let (mask, shown) = cut(t);
                    e.tainted = Some(shown.clone());
                    seen.push(Seen {
                        seq: rec.seq,
                        ts_ns: rec.ts_ns,
                        mask,
                        shown,
                        line: line.to_string(),
                    });
                }
                let mut o = report_open(&mut events, e);
                o.2 = has_header;
                open = Some(o);
            }
            Line::Panic { .. } => {
                let e = event(EventKind::Panic, None, None);
                open = Some(report_open(&mut events, e));
            }
            Line::Sysrq => {
                events.push(event(EventKind::Sysrq, None, None));
            }
            Line::Header(h) => {
                let Some(t) = &h.tainted else { continue };
                let (mask, shown) = cut(t);
                seen.push(Seen {
                    seq: rec.seq,
                    ts_ns: rec.ts_ns,
                    mask,
                    shown: shown.clone(),
                    line: line.to_string(),
                });
                if let Some((i, s, header @ false, _)) = open.as_mut() {
                    if rec.seq.saturating_sub(*s) <= REPORT_WINDOW {
                        events[*i].tainted = Some(shown);
                        *header = true;
                    }
                }
            }
            Line::Rip { module } => {
                if let Some((i, s, _, rip @ false)) = open.as_mut() {
                    if rec.seq.saturating_sub(*s) <= REPORT_WINDOW {
                        *rip = true;
                        if events[*i].module.is_none() && events[*i].kind == EventKind::Oops {
                            events[*i].module = module;
                        }
                    }
                }
            }
            Line::Other => {}
        }
    }

    // Flags of the final mask with no line of their own.
    let explained: u64 = events
        .iter()
        .filter_map(|e| e.bit)
        .filter(|&b| b < 64)
        .fold(0, |m, b| m | (1u64 << b));
    let mut missing = Vec::new();
    for bit in (0..64u32).filter(|b| taint.tainted_mask & (1u64 << b) != 0) {
        if explained & (1u64 << bit) != 0 {
            continue;
        }
        let letter = taint.letter(bit);
        if let Some(s) = seen.iter().find(|s| s.mask & (1u64 << bit) != 0) {
            events.push(TimelineEvent {
                seq: Some(s.seq),
                ts_ns: Some(s.ts_ns),
                kind: EventKind::FirstSeen,
                bit: Some(bit),
                letter,
                module: None,
                text: Some(s.line.clone()),
                tainted: Some(s.shown.clone()),
                pending: false,
                reason: Some({
                    let mut r =
                        "no line sets this flag; this is the first Tainted: header showing it, so \
                                 it was set at or before this time"
                            .to_string();
                    if matches!(bit, 3 | 6 | 16) || bit >= 19 {
                        r += "; ";
                        r += &no_line_reason(bit);
                    }
                    r
                }),
                new_bit: false,
                from_file: None,
            });
        } else {
            let reason = if log.dropped > 0 {
                format!(
                    "log wrapped: the first {} record(s) are lost and the evidence may have been among them",
                    log.dropped
                )
            } else {
                no_line_reason(bit)
            };
            missing.push(TimelineEvent {
                seq: None,
                ts_ns: None,
                kind: EventKind::NoEvidence,
                bit: Some(bit),
                letter,
                module: None,
                text: None,
                tainted: None,
                pending: false,
                reason: Some(reason),
                new_bit: false,
                from_file: None,
            });
        }
    }
    // first_seen entries go to their place in log order; the sort is stable for same-record events.
    events.sort_by_key(|e| e.seq);
    mark_new_bits(&mut events, &seen);
    events.extend(missing);
    Timeline { events }
}

/// Why a flag of the mask has no line, and where else to look.
fn no_line_reason(bit: u32) -> String {
    match bit {
        // U (TAINT_USER) and R (TAINT_FORCED_RMMOD) never print a line.
        6 => "set without a log line: TAINT_USER is set from userspace (writing /proc/sys/kernel/tainted, \
              or a tool that pokes kernel memory)"
            .to_string(),
        3 => "set without a log line: a forced module unload (rmmod -f) prints nothing".to_string(),
        16 => "no log line explains the auxiliary bit (TAINT_AUX: distribution use, e.g. RHEL 8.6+ tech \
               preview, or written to /proc/sys/kernel/tainted): look for `TECH PREVIEW:` lines in older \
               logs, /sys/module/*/taint of loaded modules, or the vendor driver's own messages"
            .to_string(),
        b if b >= 19 => "no log line explains this distribution bit: look for `TECH PREVIEW:` or vendor \
                         support lines in older logs, /sys/module/*/taint, and the distribution's \
                         documentation of its taint flags"
            .to_string(),
        _ => "set before the log begins or without a log line".to_string(),
    }
}

/// Set [`TimelineEvent::new_bit`]: a flag is new at an event when no earlier event set it and no `Tainted:`
/// header printed before the event's record shows it (a report's own header shows the mask before the
/// report's flag, so it never hides the report's event).
fn mark_new_bits(events: &mut [TimelineEvent], seen: &[Seen]) {
    let mut known = 0u64;
    let mut next_seen = 0;
    for e in events.iter_mut() {
        let Some(seq) = e.seq else { continue };
        while next_seen < seen.len() && seen[next_seen].seq < seq {
            known |= seen[next_seen].mask;
            next_seen += 1;
        }
        let Some(bit) = e.bit.filter(|&b| b < 64) else {
            continue;
        };
        let m = 1u64 << bit;
        e.new_bit = known & m == 0;
        if !e.new_bit && e.kind == EventKind::Taint {
            e.reason = Some(REPEATED.to_string());
        }
        known |= m;
    }
}

const REPEATED: &str =
    "the flag was already set before this line (an earlier line or Tainted: header \
                        shows it): this module has the flag too, but did not set it first";

#[cfg(test)]
mod tests {
    use super::*;

    /// A line of each pattern of [`classify`], and lines close to them that are not.
    const PATTERN_LINES: &[&str] = &[
        "CPU: 1 PID: 412 Comm: insmod Kdump: loaded Tainted: P           OE      6.1.0-56-cloud-amd64 #1",
        "Pid: 2335, comm: insmod Tainted: P           ---------------    2.6.32-754.el6.x86_64 #1",
        "Kernel panic - not syncing: sysrq triggered crash",
        "WARNING: CPU: 0 PID: 103 at drivers/oot/warn.c:12 oot_warn_init+0x11/0x1000 [oot_warn]",
        "WARNING: drivers/oot/warn.c:12 at oot_warn_init+0x10/0xff0 [oot_warn], CPU#1: insmod/142",
        "RIP: 0010:oot_oops_poke+0x5/0x30 [oot_oops]",
        "pc : oot_oops_poke+0x14/0x1000 [oot_oops]",
        "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [insmod:99]",
        "BUG: Bad page state in process insmod  pfn:1234",
        "BUG kmalloc-64 (Tainted: G    B       ): Poison overwritten",
        "BUG kmalloc-64 (Not tainted): Poison overwritten",
        "BUG: unable to handle page fault for address: 0000000000000000",
        "BUG: kernel NULL pointer dereference, address: 0000000000000000",
        "BUG: scheduling while atomic: insmod/1/0x00000002",
        "kernel BUG at drivers/oot/bug.c:7!",
        "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000",
        "Oops: 0002 [#1] PREEMPT SMP NOPTI",
        "general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP",
        "Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP",
        "md: raid1 [#1] personality",
        "sysrq: Trigger a crash",
        "SysRq : Trigger a crash",
        "ACPI: Override [DSDT-  BOCHS ], this is unsafe: tainting kernel",
        "TECH PREVIEW: NVMe/TCP may not be fully supported.",
        "TECH_PREVIEW: oot_tp may not be fully supported. Please review provided documentation",
        "oot_prop: loading out-of-tree module taints kernel.",
        "oot_prop: module license 'Proprietary' taints kernel.",
        "ndiswrapper: module license taints kernel.",
        "oot_dep: module uses symbols nvidia_x from proprietary module nvidia, inheriting taint.",
        "oot_gpl: module verification failed: signature and/or required key missing - tainting kernel",
        "oot_stg: module is from the staging directory, the quality is unknown, you have been warned.",
        "oot_lp: tainting kernel with TAINT_LIVEPATCH",
        "test_mod: loading test module taints kernel.",
        "oot_f: disagrees about version of symbol module_layout: kernel tainted.",
        "oot_s: externally supported module, setting X kernel taint flag.",
        "oot_n: module not supported by Novell, setting U taint flag.",
        "a-very-long-module-name-that-is-too-long-to-be-one-of-the-kernel-s: loading out-of-tree module taints kernel.",
        "usb 1-1: new high-speed USB device number 2 using xhci_hcd",
        "Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC",
        "",
        ":",
        ": x",
        "#",
    ];

    #[test]
    fn split_lines_splits_as_split_does() {
        for t in ["", "a", "a\n", "\n", "a\nb", "a\n\nb\n", "\r\n\r", "é\nü"] {
            assert_eq!(
                SplitLines {
                    rest: Some(t),
                    whole: false
                }
                .collect::<Vec<_>>(),
                t.split('\n').collect::<Vec<_>>(),
                "{t:?}"
            );
        }
    }

    /// `module_prefix` as first written: the first `": "`, and a module name before it.
    fn module_prefix_by_search(line: &str) -> Option<(&str, &str)> {
        let (name, rest) = line.split_once(": ")?;
        is_module_name(name).then_some((name, rest))
    }

    /// Lines near `line`: cut at the start, prefixed, with a `#` or a die marker added.
    fn variants(line: &str) -> Vec<String> {
        let mut out = vec![
            line.to_string(),
            format!(" {line}"),
            format!("x{line}"),
            format!("{line}#"),
            format!("{line} [#2]"),
            format!("{line}\r"),
        ];
        for (i, _) in line.char_indices().skip(1).take(4) {
            out.push(line[i..].to_string());
        }
        out
    }

    fn check_agrees(lines: impl IntoIterator<Item = String>) -> usize {
        let mut n = 0;
        for l in lines.into_iter().flat_map(|l| variants(&l)) {
            assert_eq!(classify(&l), classify_all(&l), "{l:?}");
            assert_eq!(module_prefix(&l), module_prefix_by_search(&l), "{l:?}");
            n += 1;
        }
        n
    }

    /// `classify` tries only the patterns a line can match: the same answer as trying the whole list.
    #[test]
    fn classify_fast_path_agrees_with_the_full_list() {
        check_agrees(PATTERN_LINES.iter().map(|s| s.to_string()));
    }

    /// The same on every line of the real dumps' kernel logs (`vmcore-dmesg.txt`, the serial console).
    #[test]
    fn classify_fast_path_agrees_on_real_logs() {
        let mut lines = std::collections::BTreeSet::new();
        for sc in testcores::real::all_scenarios() {
            for file in ["vmcore-dmesg.txt", "serial.log"] {
                let path = sc.dir.join(file);
                let bytes =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                for l in String::from_utf8_lossy(&bytes).lines() {
                    lines.insert(crate::text_log::parse_line(l).text);
                }
            }
        }
        assert!(lines.len() > 1000, "{} distinct lines", lines.len());
        check_agrees(lines);
    }

    #[test]
    fn header_parses_comm_with_spaces_and_kdump_marker() {
        let h = parse_header(
            "CPU: 1 PID: 412 Comm: kworker/1:2 Kdump: loaded Tainted: P           OE      6.1.0-56-cloud-amd64 #1 Debian 6.1.153-1",
        )
        .unwrap();
        assert_eq!(h.cpu, Some(1));
        assert_eq!(h.pid, Some(412));
        assert_eq!(h.comm.as_deref(), Some("kworker/1:2"));
        let h = parse_header("CPU: 0 PID: 1 Comm: my prog Not tainted 6.1.0 #1").unwrap();
        assert_eq!(h.comm.as_deref(), Some("my prog"));
        assert_eq!(h.tainted, Some(TaintedColumns::NotTainted));
        assert!(parse_header("CPU: 0 something else").is_none());
    }

    #[test]
    fn die_headers_are_recognized_and_others_not() {
        assert!(is_die_header("Oops: 0002 [#1] PREEMPT SMP NOPTI"));
        assert!(is_die_header(
            "general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI"
        ));
        assert!(is_die_header("invalid opcode: 0000 [#2] SMP PTI"));
        assert!(is_die_header(
            "Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP"
        ));
        assert!(!is_die_header("md: raid1 [#1] personality"));
        assert!(!is_die_header("foo: bar [#x]"));
    }

    #[test]
    fn decode_uses_columns_and_ignores_g() {
        let t = TaintSnapshot::upstream(0);
        assert_eq!(t.decode("P           OE     "), 0x3001);
        assert_eq!(t.decode("G        W         "), 0x200);
        assert_eq!(t.decode("G                  "), 0);
    }
}
