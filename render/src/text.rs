//! The report as text for a person: verdict first, then flags and their culprits, modules, signatures,
//! unloaded modules, the taint timeline and what could not be read. Each section is its own function so a
//! front end can print just some (the crash extension's `taint -m`, `taint -t`).

use std::fmt::Write as _;

use analyzers::document::FullReport;
use analyzers::report::Report;
use analyzers::taint::TaintSource;
use analyzers::unloaded::UnloadedHint;

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

/// A part of the human report, in the order the whole report prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `TAINTED: P W O E (0x3201)` and the kernel's own taint string.
    Verdict,
    /// Each flag, then the modules and evidence behind it.
    Flags,
    /// The loaded modules table.
    Modules,
    /// The parameters of the tainting modules (all modules: [`parameters`]).
    Parameters,
    /// Signature enforcement, lockdown, unsigned modules.
    Signatures,
    /// The trusted keyrings and their keys.
    Keyrings,
    /// `last_unloaded_module` and the tracked unloaded tainted modules.
    Unloaded,
    /// The taint timeline from the kernel log.
    Timeline,
    /// Module loads the log shows failing, and why.
    LoadFailures,
    /// What could not be read.
    Problems,
}

impl Section {
    /// Every section, in print order.
    pub const ALL: [Section; 10] = [
        Section::Verdict,
        Section::Flags,
        Section::Modules,
        Section::Parameters,
        Section::Signatures,
        Section::Keyrings,
        Section::Unloaded,
        Section::Timeline,
        Section::LoadFailures,
        Section::Problems,
    ];

    /// The analyzers whose problems belong with this section when it is printed alone.
    pub fn analyzers(self) -> &'static [&'static str] {
        match self {
            Section::Verdict | Section::Flags => &["taint"],
            Section::Modules | Section::Parameters => &["modules"],
            Section::Signatures => &["signatures"],
            Section::Keyrings => &["keyrings"],
            Section::Unloaded => &["unloaded"],
            Section::Timeline => &["timeline", "kernel_log"],
            Section::LoadFailures => &["load_failures"],
            Section::Problems => &[],
        }
    }
}

/// Human-readable report: every [`Section`]. ANSI colour only when `color` is true.
///
/// ```
/// use analyzers::fake::FakeTarget;
/// let mut t = FakeTarget::new();
/// t.map(0x1000, 0x200u64.to_le_bytes().to_vec()); // W
/// t.add_symbol("tainted_mask", 0x1000);
/// let text = render::text::report(&analyzers::report::analyze(&t), false);
/// assert!(text.starts_with("TAINTED: W (0x200)"));
/// ```
pub fn report(r: &Report, color: bool) -> String {
    Section::ALL.iter().map(|&s| section(r, s, color)).collect()
}

/// One section of the report, exactly as it reads in the whole report (headings, blank lines).
pub fn section(r: &Report, which: Section, color: bool) -> String {
    let p = Paint(color);
    let mut o = String::new();
    // A log alone: its module list, and what only memory knows, instead of empty sections read as facts.
    if let Some(l) = &r.log_only {
        match which {
            Section::Modules => {
                for x in crate::log::log_only_module_lines(l, r.last_unloaded_module.as_ref()) {
                    let _ = writeln!(o, "{x}");
                }
                return o;
            }
            Section::Signatures | Section::Unloaded => return o,
            _ => {}
        }
    }
    match which {
        Section::Verdict => verdict(r, &p, &mut o),
        Section::Flags => flags(r, &p, &mut o),
        Section::Modules => modules(r, &p, &mut o),
        Section::Parameters => params(r, &p, &mut o, false),
        Section::Signatures => signatures(r, &mut o),
        Section::Keyrings => keyrings(r, &p, &mut o),
        Section::Unloaded => unloaded(r, &p, &mut o),
        Section::Timeline => timeline(r, &p, &mut o),
        Section::LoadFailures => crate::log::load_failure_lines(&r.load_failures)
            .iter()
            .for_each(|x| {
                let _ = writeln!(o, "{x}");
            }),
        Section::Problems => problems(r, &p, &mut o),
    }
    o
}

/// The whole document: the report, then which dump and which symbols.
pub fn full_report(d: &FullReport, color: bool) -> String {
    let dump = &d.dump;
    let mut s = report(&d.report, color);
    let recovered = crate::recovered_from_code(d);
    let _ = writeln!(
        s,
        "\n{} ({}, {}); symbols: {} {}{}{}",
        dump.path,
        dump.format,
        dump.release.as_deref().unwrap_or("release unknown"),
        d.source.kind,
        d.source.origin,
        d.source
            .matched_by
            .as_deref()
            .map(|m| format!(" (matched by {m})"))
            .unwrap_or_default(),
        match recovered {
            0 => String::new(),
            n => format!(
                ", {n} data symbols recovered from the kernel's code (source.tried in --json)"
            ),
        }
    );
    s
}

/// The parameters of every module that has any (`taint -p`, `report -m`): one line per parameter,
/// `  NAME = VALUE  (KIND)`, under a line per module.
pub fn parameters(r: &Report, color: bool) -> String {
    let mut o = String::new();
    params(r, &Paint(color), &mut o, true);
    o
}

fn params(r: &Report, p: &Paint, o: &mut String, all: bool) {
    let shown: Vec<_> = r
        .modules
        .iter()
        .filter(|m| all || m.taint_mask != 0)
        .filter(|m| m.parameters.as_ref().is_some_and(|v| !v.is_empty()))
        .collect();
    if shown.is_empty() {
        return;
    }
    let title = if all {
        "Parameters"
    } else {
        "Parameters (tainting modules)"
    };
    let _ = writeln!(o, "\n{}", p.on(BOLD, title));
    for m in shown {
        let _ = writeln!(o, "  {}", m.name);
        for x in m.parameters.iter().flatten() {
            let value = match (&x.value, x.kind.as_str()) {
                (Some(v), _) => v.clone(),
                (None, "unknown") => format!("? (unknown ops {:#x})", x.ops),
                (None, _) => "?".to_string(),
            };
            let mut line = format!("    {} = {}  ({})", x.name, value, x.kind);
            if let Some(why) = &x.problem {
                line += &format!("  {}", p.on(YELLOW, why));
            }
            let _ = writeln!(o, "{line}");
        }
    }
}

/// One line per key under its keyring: `  [serial] TYPE  DESCRIPTION  (expires DATE)`.
fn keyrings(r: &Report, p: &Paint, o: &mut String) {
    if r.keyrings.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n{}", p.on(BOLD, "Trusted keys"));
    for k in &r.keyrings {
        let _ = writeln!(o, "  {} ({} keys)", k.name, k.keys.len());
        for key in &k.keys {
            let expiry = match key.expiry {
                Some(s) => format!("  (expires {})", utc_date(s)),
                None => String::new(),
            };
            let _ = writeln!(
                o,
                "    {}  {}{expiry}",
                key.key_type.as_deref().unwrap_or("?"),
                key.description.as_deref().unwrap_or("?"),
            );
        }
    }
    if r.signatures.module_sig_supported != Some(false) {
        let _ = writeln!(
            o,
            "  Modules signed by a key not in these keyrings are rejected (sig_enforce) or taint E."
        );
    }
}

/// `YYYY-MM-DD` of seconds since the epoch (UTC), civil-from-days.
fn utc_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn verdict(r: &Report, p: &Paint, o: &mut String) {
    match r.tainted_mask {
        Some(0) => {
            let _ = writeln!(o, "{}", p.on(GREEN, "Not tainted"));
        }
        Some(m) => {
            let letters: Vec<String> = r.flags.iter().map(|f| f.letter.to_string()).collect();
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
    // A report from a log alone says so first.
    if let Some(l) = &r.log_only {
        for x in crate::log::log_only_lines(l) {
            let _ = writeln!(o, "{x}");
        }
    }
    // Where it crashed and whether a tainting module is involved: the support engineer's next question.
    if let Some(c) = &r.crash_site {
        for l in crate::crash::crash_site_lines(c) {
            let _ = writeln!(o, "{l}");
        }
    }
    if let Some(s) = &r.taint_string {
        let _ = writeln!(
            o,
            "Kernel prints: \"{s}\"  [table: {}]",
            source_name(r.taint_source)
        );
    }
}

fn flags(r: &Report, p: &Paint, o: &mut String) {
    if r.flags.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n{}", p.on(BOLD, "Flags"));
    for f in &r.flags {
        let _ = writeln!(o, "  {}  bit {:<2}  {}", f.letter, f.bit, f.name);
    }
    culprits(r, p, o);
}

fn unloaded(r: &Report, p: &Paint, o: &mut String) {
    let _ = writeln!(o, "\n{}", p.on(BOLD, "Unloaded"));
    match &r.last_unloaded_module {
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
    if let Some(list) = &r.unloaded_tainted_modules {
        for u in list {
            let _ = writeln!(
                o,
                "  tainted, unloaded {}x: {} ({})",
                u.count, u.name, u.taints
            );
        }
    }
}

fn problems(r: &Report, p: &Paint, o: &mut String) {
    if r.problems.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n{}", p.on(BOLD, "Problems"));
    for pr in &r.problems {
        let _ = writeln!(o, "  [{}] {}", pr.analyzer, pr.message);
    }
}

/// Who set a flag, as the culprits section and the Markdown table show it.
pub struct Culprit {
    pub letter: char,
    /// `oot_prop (loaded)`, `oot_gone (last unloaded, kernel log)`; empty when no module was found.
    pub who: Vec<String>,
    /// The log shows the flag pending: set after the dump was taken, not yet in `tainted_mask`.
    pub pending: bool,
}

/// One entry per flag: the loaded modules carrying it, then other evidence: the attribution hints for
/// flags no loaded module carries, the last unloaded module when its taints hold the letter, and the
/// log events that name a module (a `WARNING` in a module sets W, which no module's taints record).
/// Flags the log shows pending (set after the dump was taken) get an entry of their own. Flags with no
/// module and not unexplained (e.g. W from the core kernel) have none.
pub fn culprits_of(r: &Report) -> Vec<Culprit> {
    let mut out = Vec::new();
    for f in &r.flags {
        let mut who: Vec<String> = r
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
        for h in r.unloaded_hints.iter().filter(|h| h.bit == f.bit) {
            add(&h.module, evidence_name(h).to_string());
        }
        if let Some(l) = &r.last_unloaded_module {
            if l.taints.as_deref().is_some_and(|t| t.contains(f.letter)) {
                add(&l.name, "last unloaded".to_string());
            }
        }
        for e in r.timeline.iter().filter(|e| {
            e.bit == Some(f.bit) && e.kind != analyzers::timeline::EventKind::Taint && e.new_bit
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
        if !who.is_empty() || r.unexplained_flags.iter().any(|u| u.bit == f.bit) {
            out.push(Culprit {
                letter: f.letter,
                who,
                pending: false,
            });
        }
    }
    for e in r.timeline.iter().filter(|e| e.pending) {
        if let (Some(letter), Some(m)) = (e.letter, &e.module) {
            out.push(Culprit {
                letter,
                who: vec![format!("{m} ({} in kernel log)", event_name(e.kind))],
                pending: true,
            });
        }
    }
    out
}

fn culprits(r: &Report, p: &Paint, o: &mut String) {
    let lines: Vec<String> = culprits_of(r)
        .into_iter()
        .map(|c| {
            if c.pending {
                let who = c.who.join(", ");
                let who = who.strip_suffix(')').unwrap_or(&who).to_string();
                format!(
                    "  {} <- {who}; {})",
                    c.letter,
                    p.on(YELLOW, "pending: not yet in tainted_mask")
                )
            } else if c.who.is_empty() {
                format!("  {} <- {}", c.letter, p.on(YELLOW, "no module found"))
            } else {
                format!("  {} <- {}", c.letter, c.who.join(", "))
            }
        })
        .collect();
    if !lines.is_empty() {
        let _ = writeln!(o, "\n{}", p.on(BOLD, "Culprits"));
        for l in lines {
            let _ = writeln!(o, "{l}");
        }
    }
}

/// One line per event, in the kernel log's own time format:
/// `[    5.123456] O  oot_prop  loading out-of-tree module taints kernel.`
fn timeline(r: &Report, p: &Paint, o: &mut String) {
    let _ = writeln!(
        o,
        "\n{}",
        p.on(BOLD, &format!("Timeline ({} events)", r.timeline.len()))
    );
    if r.timeline.is_empty() {
        let _ = writeln!(o, "  (no events)");
        return;
    }
    let width = r
        .timeline
        .iter()
        .map(|e| e.module.as_deref().map_or(1, |m| m.chars().count()))
        .max()
        .unwrap_or(1);
    for e in &r.timeline {
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
        if let Some(f) = &e.from_file {
            // The dump's own ring had lost this line; a text log beside the dump kept it.
            let name = std::path::Path::new(f)
                .file_name()
                .map_or(f.as_str(), |n| n.to_str().unwrap_or(f));
            line += &format!("  [from {name}]");
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
}

fn modules(r: &Report, p: &Paint, o: &mut String) {
    let _ = writeln!(
        o,
        "\n{}",
        p.on(BOLD, &format!("Modules ({})", r.modules.len()))
    );
    if r.modules.is_empty() {
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
    let rows: Vec<[String; 8]> = r
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

fn signatures(r: &Report, o: &mut String) {
    let s = &r.signatures;
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

fn evidence_name(h: &UnloadedHint) -> &'static str {
    match h.evidence {
        analyzers::unloaded::Evidence::LastUnloadedModule => "last unloaded",
        analyzers::unloaded::Evidence::UnloadedTaintedModules => "unloaded, tracked",
        analyzers::unloaded::Evidence::KernelLog => "kernel log",
    }
}

/// What a timeline event is, in words.
pub fn event_name(k: analyzers::timeline::EventKind) -> &'static str {
    use analyzers::timeline::EventKind as K;
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

/// Where the flag table came from, in words.
pub fn source_name(s: TaintSource) -> &'static str {
    match s {
        TaintSource::TaintFlags => "taint_flags[]",
        TaintSource::Tnts => "tnts[]",
        TaintSource::BuiltinMainline => "built-in mainline",
        TaintSource::BuiltinRhel => "built-in RHEL",
        TaintSource::BuiltinSuse => "built-in SUSE",
    }
}
