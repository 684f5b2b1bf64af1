//! The running kernel as a report (`vmtaint report --live`).
//!
//! With `/proc/kcore` readable (root, no confidentiality lockdown, CONFIG_PROC_KCORE), the running kernel is a
//! dump like any other: `vmcore` reads kcore by virtual address through its segments, the ladder picks the
//! symbol source (a debug vmlinux matched by the build-id of `/sys/kernel/notes`, else the kernel's own BTF
//! with `/proc/kallsyms`, else the BTF and kallsyms in its memory, else VMCOREINFO), and the same analyzers
//! run, the log from the in-memory printk ring. Memory changes while it is read: the analyzers bound every
//! walk, and a read the kernel refuses is named for its address, never retried.
//!
//! Without `/proc/kcore`, a reduced report: the mask from `/proc/sys/kernel/tainted`, modules and their
//! letters from `/proc/modules` and `/sys/module/*/taint`, signature enforcement and lockdown from `/sys`,
//! the log from `/dev/kmsg` (else `dmesg --raw`); what only memory holds (`last_unloaded_module`, each
//! module's `sig_ok`, the kernel's own flag table) is named in `problems`, and [`LiveReport::reduced`] says
//! why kcore was closed and what to do.
//!
//! ```no_run
//! let live = engine::live_report(&engine::LiveHost::system(), &engine::DebuginfoOptions::default())?;
//! println!("mask {:?} via {}", live.full.report.tainted_mask, live.full.source.kind);
//! if let Some(why) = &live.reduced {
//!     eprintln!("reduced report: {why}");
//! }
//! # Ok::<(), engine::LiveError>(())
//! ```

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use analyzers::document::{Attempt, DumpSummary, FullReport, SourceReport};
use analyzers::kernel_log::{KernelLog, LogError, LogRecord, LogSource};
use analyzers::modules::{ModuleInfo, Modules};
use analyzers::report::{combine, AnalyzerError, Gathered};
use analyzers::signatures::{ForceConfig, SignatureState};
use analyzers::taint::{read_taint_table, TaintTable};
use analyzers::target::{Member, ReadError, Target, TypeRef};
use analyzers::unloaded::Unloaded;
use symbols::proc_kallsyms::ProcKallsyms;
use vmcore::Vmcore;

use crate::btf_source::BtfSource;
use crate::debuginfo::{DebuginfoOptions, Refused, VmlinuxCache};

/// Largest host text file read (`/proc/modules`, `/proc/kallsyms`, the log): 256 MiB.
const MAX_TEXT: u64 = 256 << 20;
/// Largest BTF read from `/sys/kernel/btf/vmlinux`.
const MAX_BTF: u64 = 64 << 20;
/// Records read from `/dev/kmsg` at most (its ring holds far fewer).
const MAX_KMSG_RECORDS: usize = 1 << 21;
/// Modules listed at most.
const MAX_MODULES: usize = 100_000;

/// Where a running kernel's files are: `/` for this machine, another directory in tests.
#[derive(Debug, Clone)]
pub struct LiveHost {
    root: PathBuf,
}

/// Why no report of the running kernel could be made at all (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Neither kernel memory nor `/proc/sys/kernel/tainted` could be read: why, and what to do.
    #[error("cannot read the running kernel: {0}")]
    Unreadable(String),
    /// The user's explicit `--vmlinux` does not fit the running kernel.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// A report of the running kernel.
#[derive(Debug, Clone)]
pub struct LiveReport {
    pub full: FullReport,
    /// `Some(why and what to do)` when `/proc/kcore` was closed and the report comes from `/proc` and `/sys`.
    pub reduced: Option<String>,
}

impl LiveHost {
    /// This machine.
    pub fn system() -> LiveHost {
        LiveHost { root: "/".into() }
    }

    /// A directory laid out like `/` (`proc/`, `sys/`, `dev/kmsg` as a file of `/dev/kmsg` records).
    pub fn at(root: impl Into<PathBuf>) -> LiveHost {
        LiveHost { root: root.into() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn is_system(&self) -> bool {
        self.root == Path::new("/")
    }

    /// `/proc/kcore`.
    pub fn kcore_path(&self) -> PathBuf {
        self.path("proc/kcore")
    }

    fn text(&self, rel: &str) -> Result<String, String> {
        let p = self.path(rel);
        read_bounded(&p, MAX_TEXT)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| format!("{}: {e}", p.display()))
    }

    /// `/proc/sys/kernel/osrelease`.
    pub fn release(&self) -> Option<String> {
        self.text("proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// The kernel's GNU build-id, from the ELF notes in `/sys/kernel/notes`.
    pub fn build_id(&self) -> Option<String> {
        let notes = read_bounded(&self.path("sys/kernel/notes"), 1 << 20).ok()?;
        gnu_build_id(&notes)
    }

    /// Open `/proc/kcore`, or say why it is closed and what to do.
    pub fn open_kcore(&self) -> Result<Vmcore, String> {
        let path = self.kcore_path();
        Vmcore::open(&path).map_err(|e| self.kcore_closed(&path, &e))
    }

    fn kcore_closed(&self, path: &Path, e: &vmcore::Error) -> String {
        let vmcore::Error::Io { source, .. } = e else {
            return format!("{e} (report this: /proc/kcore did not read as an ELF core)");
        };
        let lockdown = self.lockdown();
        match source.raw_os_error() {
            Some(2) => format!(
                "{}: no such file: this kernel has no /proc/kcore (built without CONFIG_PROC_KCORE)",
                path.display()
            ),
            Some(1 | 13) if euid().is_some_and(|u| u != 0) => format!(
                "{}: permission denied: run as root (sudo vmtaint report --live)",
                path.display()
            ),
            Some(1 | 13) if lockdown.as_deref() == Some("LOCKDOWN_CONFIDENTIALITY_MAX") => format!(
                "{}: kernel lockdown (confidentiality) closes kernel memory: boot with lockdown=none \
                 (or without Secure Boot's lockdown) for the full report",
                path.display()
            ),
            Some(1 | 13) => format!(
                "{}: permission denied even to root (lockdown {}, or a security module): boot with \
                 lockdown=none for the full report",
                path.display(),
                lockdown.as_deref().unwrap_or("unknown")
            ),
            _ => format!("{}: {source}", path.display()),
        }
    }

    /// `/sys/kernel/security/lockdown` (`none [integrity] confidentiality`) as the kernel's enumerator name.
    fn lockdown(&self) -> Option<String> {
        let t = self.text("sys/kernel/security/lockdown").ok()?;
        let sel = t.split_whitespace().find(|w| w.starts_with('['))?;
        Some(
            match sel.trim_matches(|c| c == '[' || c == ']') {
                "none" => "LOCKDOWN_NONE",
                "integrity" => "LOCKDOWN_INTEGRITY_MAX",
                "confidentiality" => "LOCKDOWN_CONFIDENTIALITY_MAX",
                other => return Some(format!("unknown ({other})")),
            }
            .to_string(),
        )
    }

    /// The kernel's own BTF (`/sys/kernel/btf/vmlinux`) with `/proc/kallsyms` addresses.
    pub fn btf_source(&self) -> Result<BtfSource, String> {
        let btf_path = self.path("sys/kernel/btf/vmlinux");
        let ks_path = self.path("proc/kallsyms");
        let btf =
            read_bounded(&btf_path, MAX_BTF).map_err(|e| format!("{}: {e}", btf_path.display()))?;
        let text =
            read_bounded(&ks_path, MAX_TEXT).map_err(|e| format!("{}: {e}", ks_path.display()))?;
        let ks = ProcKallsyms::parse(&text).map_err(|e| format!("{}: {e}", ks_path.display()))?;
        BtfSource::from_host(
            btf,
            ks,
            format!("{} + {}", btf_path.display(), ks_path.display()),
        )
    }

    /// The log through `/dev/kmsg`, else `dmesg --raw` (this machine only).
    fn log(&self) -> Result<KernelLog, String> {
        let kmsg = self.path("dev/kmsg");
        match read_kmsg(&kmsg) {
            Ok(log) => Ok(log),
            Err(e) if self.is_system() => {
                let first = format!("{}: {e}", kmsg.display());
                read_dmesg_command().map_err(|d| format!("{first}; dmesg --raw: {d}"))
            }
            Err(e) => Err(format!("{}: {e}", kmsg.display())),
        }
    }

    /// Loaded modules from `/proc/modules`, each one's letters from `/sys/module/NAME/taint`.
    fn modules(&self, table: &TaintTable) -> Result<Modules, AnalyzerError> {
        let text = match self.text("proc/modules") {
            Ok(t) => t,
            // A kernel without module support has no /proc/modules and no modules.
            Err(_) if !self.path("proc/modules").exists() && self.path("proc").exists() => {
                return Ok(Modules {
                    modules: Vec::new(),
                    problems: Vec::new(),
                })
            }
            Err(e) => return Err(AnalyzerError::Invalid(e)),
        };
        let mut modules = Vec::new();
        let mut problems = Vec::new();
        for line in text.lines().take(MAX_MODULES) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 {
                problems.push(format!("/proc/modules: unexpected line {line:?}"));
                continue;
            }
            let name = f[0].to_string();
            let paren = f
                .get(6)
                .map(|t| t.trim_matches(|c| c == '(' || c == ')').to_string())
                .unwrap_or_default();
            let taints = match self.text(&format!("sys/module/{name}/taint")) {
                Ok(t) => t.trim().to_string(),
                Err(_) => paren,
            };
            let taint_mask = taints
                .chars()
                .filter_map(|c| table.bit_for_letter(c))
                .fold(0u64, |m, b| m | 1u64.checked_shl(b).unwrap_or(0));
            let attr = |a: &str| {
                self.text(&format!("sys/module/{name}/{a}"))
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            };
            let base = f[5]
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .filter(|&a| a != 0);
            modules.push(ModuleInfo {
                state: match f[4] {
                    "Live" => "LIVE".into(),
                    "Loading" => "COMING".into(),
                    "Unloading" => "GOING".into(),
                    other => format!("unknown ({other})"),
                },
                taints,
                signed: None,
                base,
                size: f[1].parse().ok(),
                version: attr("version"),
                srcversion: attr("srcversion"),
                address: 0,
                // /sys/module/NAME/parameters would give them; the reduced report does not read it yet.
                parameters: None,
                taint_mask,
                name,
            });
        }
        Ok(Modules { modules, problems })
    }

    /// The address of module `name`'s `struct module`: its `.gnu.linkonce.this_module` section, from
    /// `/sys/module/NAME/sections/` (root; others read 0).
    fn module_struct_address(&self, name: &str) -> Option<u64> {
        let t = self
            .text(&format!(
                "sys/module/{name}/sections/.gnu.linkonce.this_module"
            ))
            .ok()?;
        u64::from_str_radix(t.trim().strip_prefix("0x")?, 16)
            .ok()
            .filter(|&a| a != 0)
    }

    /// What the running kernel's memory could not give, from `/proc` and `/sys`, each said so in the report's
    /// problems. Kernels built without CONFIG_KALLSYMS_ALL (Debian's arm64) have no data symbols in
    /// `/proc/kallsyms`: without a debug vmlinux, `tainted_mask`, `modules`, `taint_flags` and
    /// `last_unloaded_module` have no address. Then the mask is `/proc/sys/kernel/tainted` (the kernel's own
    /// variable, as the kernel prints it), each module listed in `/proc/modules` is read through kcore at the
    /// address its `/sys/module/NAME/sections/.gnu.linkonce.this_module` gives (taints, `sig_ok`,
    /// parameters, as from the list), and what stays unknown (`last_unloaded_module`) is named with what to
    /// do.
    pub(crate) fn fill_gaps(&self, g: &mut Gathered, target: &dyn Target) {
        const NO_DATA_SYMBOLS: &str = "not among this kernel's symbols (no debug vmlinux, and \
             /proc/kallsyms has no data symbols: a kernel built without CONFIG_KALLSYMS_ALL)";
        const WHAT_TO_DO: &str =
            "give the debug vmlinux (--vmlinux, or install the kernel's -dbg / \
             debuginfo package) for the full report";
        if matches!(&g.mask, Err(AnalyzerError::MissingSymbol(_))) {
            match self
                .text("proc/sys/kernel/tainted")
                .map(|t| t.trim().parse::<u64>())
            {
                Ok(Ok(m)) => {
                    g.mask = Ok(m);
                    g.table.problems.push(format!(
                        "`tainted_mask` is {NO_DATA_SYMBOLS}: the mask is the kernel's own \
                         {}",
                        self.path("proc/sys/kernel/tainted").display()
                    ));
                }
                Ok(Err(_)) => g.table.problems.push(format!(
                    "`tainted_mask` is {NO_DATA_SYMBOLS}, and {} is not a number",
                    self.path("proc/sys/kernel/tainted").display()
                )),
                Err(e) => g
                    .table
                    .problems
                    .push(format!("`tainted_mask` is {NO_DATA_SYMBOLS}, and {e}")),
            }
        }
        if matches!(&g.modules, Err(AnalyzerError::MissingSymbol(_))) {
            if let Ok(listed) = self.modules(&g.table) {
                g.modules =
                    Ok(self.modules_through_sysfs(listed, &g.table, target, NO_DATA_SYMBOLS));
            }
        }
        if g.signatures.sig_enforce.is_none() {
            let host = self.signature_state();
            if host.sig_enforce.is_some() {
                g.signatures.sig_enforce = host.sig_enforce;
                g.signatures.module_sig_force = host.module_sig_force;
            }
            if g.signatures.lockdown.is_none() {
                g.signatures.lockdown = host.lockdown;
            }
        }
        if g.unloaded.last_unloaded_module.is_none()
            && target.symbol("last_unloaded_module").is_none()
        {
            g.unloaded.problems.push(format!(
                "last_unloaded_module is unknown: only kernel memory holds it, and its symbol is \
                 {NO_DATA_SYMBOLS}; {WHAT_TO_DO}"
            ));
        }
    }

    /// Modules `/proc/modules` lists, each read through kcore as a `struct module` at its sysfs address;
    /// those that cannot be (no address, not a module there) keep what `/proc` and `/sys` say.
    fn modules_through_sysfs(
        &self,
        listed: Modules,
        table: &TaintTable,
        target: &dyn Target,
        why: &str,
    ) -> Modules {
        let mut problems = listed.problems;
        let addrs: Vec<Option<u64>> = listed
            .modules
            .iter()
            .map(|m| self.module_struct_address(&m.name))
            .collect();
        let known: Vec<u64> = addrs.iter().flatten().copied().collect();
        let read = match analyzers::modules::analyze_modules_at(target, table, &known) {
            Ok(r) => {
                problems.extend(r.problems);
                r.modules
            }
            Err(e) => {
                problems.push(format!("struct module through /proc/kcore: {e}"));
                Vec::new()
            }
        };
        let mut from_sysfs = Vec::new();
        let modules = listed
            .modules
            .into_iter()
            .zip(addrs)
            .map(|(m, addr)| {
                match read
                    .iter()
                    .find(|r| Some(r.address) == addr && r.name == m.name)
                {
                    Some(r) => r.clone(),
                    None => {
                        from_sysfs.push(m.name.clone());
                        m
                    }
                }
            })
            .collect();
        problems.push(format!(
            "the `modules` list head is {why}: the modules are /proc/modules' list, each read through \
             /proc/kcore at its /sys/module/NAME/sections/.gnu.linkonce.this_module"
        ));
        if !from_sysfs.is_empty() {
            problems.push(format!(
                "modules {} not read from memory (no section address, or no module there): letters from \
                 /sys/module/NAME/taint, signature state unknown",
                from_sysfs.join(", ")
            ));
        }
        Modules { modules, problems }
    }

    fn signature_state(&self) -> SignatureState {
        let sig_enforce = self
            .text("sys/module/module/parameters/sig_enforce")
            .ok()
            .map(|s| s.trim() == "Y");
        SignatureState {
            sig_enforce,
            module_sig_force: match sig_enforce {
                Some(false) => ForceConfig::NotSet,
                Some(true) => ForceConfig::SetOrEnforcedAtRunTime,
                None => ForceConfig::Unknown,
            },
            lockdown: self.lockdown(),
            problems: Vec::new(),
        }
    }

    /// The reduced report from `/proc`, `/sys` and the log; `why` says why kcore is closed.
    fn reduced_report(&self, why: &str) -> Result<FullReport, LiveError> {
        let facts = HostFacts {
            release: self.release(),
        };
        let tainted_path = self.path("proc/sys/kernel/tainted");
        let mask = self
            .text("proc/sys/kernel/tainted")
            .map_err(|e| LiveError::Unreadable(format!("{why}; and {e}")))?;
        let mask = mask.trim().parse::<u64>().map_err(|_| {
            LiveError::Unreadable(format!(
                "{why}; and {} holds {:?}, not a number",
                tainted_path.display(),
                mask.trim()
            ))
        })?;
        let mut table = read_taint_table(&facts);
        table.problems = vec![format!(
            "the kernel's own taint_flags[] table needs /proc/kcore: {}",
            table.problems.last().cloned().unwrap_or_default()
        )];
        let modules = self.modules(&table).map(|mut m| {
            if !m.modules.is_empty() {
                m.problems.push(
                    "each module's signature state (sig_ok) and struct module address need /proc/kcore"
                        .into(),
                );
            }
            m
        });
        let log = self.log();
        let mut tried = vec![Attempt {
            source: "kcore".into(),
            address: None,
            outcome: why.to_string(),
        }];
        tried.push(Attempt {
            source: "procfs".into(),
            address: None,
            outcome: format!(
                "used {}, /proc/modules, /sys/module/*/taint and {}",
                tainted_path.display(),
                match &log {
                    Ok(l) if l.source == LogSource::Dmesg => "dmesg --raw",
                    _ => "/dev/kmsg",
                }
            ),
        });
        let gathered = Gathered {
            table,
            mask: Ok(mask),
            modules,
            unloaded: Unloaded {
                last_unloaded_module: None,
                unloaded_tainted_modules: None,
                problems: vec![
                    "last_unloaded_module (and unloaded_tainted_modules) need /proc/kcore: only kernel \
                     memory holds them"
                        .into(),
                ],
            },
            signatures: self.signature_state(),
            // Kernel memory only (the keyrings' assoc_arrays): none without /proc/kcore.
            keyrings: Default::default(),
            log: log.map_err(LogError::Unavailable),
        };
        let report = combine(&facts, gathered, &[]);
        Ok(FullReport {
            report,
            source: SourceReport {
                kind: "procfs".into(),
                origin: format!(
                    "{} and {}",
                    self.path("proc").display(),
                    self.path("sys").display()
                ),
                matched_by: None,
                tried,
                answers: BTreeMap::new(),
            },
            dump: DumpSummary {
                path: self.path("proc").display().to_string(),
                format: "live-procfs".into(),
                release: self.release(),
                build_id: self.build_id(),
                crash_time_utc: None,
            },
        })
    }
}

/// The running kernel's report: through `/proc/kcore` when it opens, else the reduced one.
pub fn live_report(host: &LiveHost, opts: &DebuginfoOptions) -> Result<LiveReport, LiveError> {
    match host.open_kcore() {
        Ok(kcore) => {
            let full =
                crate::report::make_report_for(&kcore, opts, &VmlinuxCache::default(), Some(host))?;
            Ok(LiveReport {
                full,
                reduced: None,
            })
        }
        Err(why) => Ok(LiveReport {
            full: host.reduced_report(&why)?,
            reduced: Some(why),
        }),
    }
}

/// A target with no memory and no symbols: what the reduced report's combining step may ask.
struct HostFacts {
    release: Option<String>,
}

impl Target for HostFacts {
    fn read(&self, addr: u64, _buf: &mut [u8]) -> Result<(), ReadError> {
        Err(ReadError::NoTranslation {
            vaddr: addr,
            why: std::sync::Arc::from("kernel memory (/proc/kcore) is closed"),
        })
    }
    fn symbol(&self, _name: &str) -> Option<u64> {
        None
    }
    fn size_of(&self, _ty: TypeRef<'_>) -> Option<u64> {
        None
    }
    fn member(&self, _ty: TypeRef<'_>, _path: &str) -> Option<Member> {
        None
    }
    fn enumerator(&self, _name: &str) -> Option<i64> {
        None
    }
    fn vmcoreinfo(&self, key: &str) -> Option<String> {
        (key == "OSRELEASE").then(|| self.release.clone()).flatten()
    }
}

/// Read a whole file, at most `max` bytes (procfs files report size 0: read until the end).
fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::fs::File::open(path)?.take(max).read_to_end(&mut out)?;
    Ok(out)
}

/// The effective user id, from `/proc/self/status`.
fn euid() -> Option<u32> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("Uid:"))?;
    l.split_whitespace().nth(2)?.parse().ok()
}

/// The first `GNU` `NT_GNU_BUILD_ID` (3) note of an ELF note area, as hex.
fn gnu_build_id(notes: &[u8]) -> Option<String> {
    let mut off = 0usize;
    let u32_at = |o: usize| -> Option<u32> {
        Some(u32::from_le_bytes(notes.get(o..o + 4)?.try_into().ok()?))
    };
    while off + 12 <= notes.len() {
        let namesz = u32_at(off)? as usize;
        let descsz = u32_at(off + 4)? as usize;
        let ntype = u32_at(off + 8)?;
        let name_at = off + 12;
        let desc_at = name_at.checked_add(namesz.checked_add(3)? & !3)?;
        let end = desc_at.checked_add(descsz.checked_add(3)? & !3)?;
        if end > notes.len() + 3 {
            return None;
        }
        if ntype == 3 && notes.get(name_at..name_at + namesz)? == b"GNU\0" {
            let d = notes.get(desc_at..desc_at + descsz)?;
            return Some(d.iter().map(|b| format!("{b:02x}")).collect());
        }
        off = end;
    }
    None
}

/// Records of `/dev/kmsg` (`PRIO,SEQ,USEC,FLAGS[,caller=Tn];TEXT` with `\xNN` escapes; ` KEY=VALUE`
/// continuation lines are skipped). Reading stops at the end of the ring (`EAGAIN`); records overwritten
/// while reading (`EPIPE`) are skipped, and counted by the sequence gap.
fn read_kmsg(path: &Path) -> std::io::Result<KernelLog> {
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000; // x86-64 and arm64
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)?;
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut pending = Vec::new();
    let mut total = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n as u64;
                pending.extend_from_slice(&buf[..n]);
                // A character device returns one record per read; a plain file many.
                while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=nl).collect();
                    if let Some(r) = kmsg_record(&line[..line.len() - 1]) {
                        records.push(r);
                    }
                }
                if records.len() >= MAX_KMSG_RECORDS || total > MAX_TEXT {
                    problems.push(format!("stopped after {} records", records.len()));
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                problems.push("records were overwritten while /dev/kmsg was read".into());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let dropped = records.first().map_or(0, |r: &LogRecord| r.seq);
    Ok(KernelLog {
        records,
        source: LogSource::DevKmsg,
        dropped,
        problems,
    })
}

fn kmsg_record(line: &[u8]) -> Option<LogRecord> {
    if line.first() == Some(&b' ') {
        return None; // dictionary continuation
    }
    let semi = line.iter().position(|&b| b == b';')?;
    let head = std::str::from_utf8(&line[..semi]).ok()?;
    let mut f = head.split(',');
    let prio: u32 = f.next()?.parse().ok()?;
    let seq: u64 = f.next()?.parse().ok()?;
    let usec: u64 = f.next()?.parse().ok()?;
    let _flags = f.next();
    let caller = f
        .find_map(|kv| kv.strip_prefix("caller="))
        .map(str::to_string);
    Some(LogRecord {
        seq,
        ts_ns: usec.saturating_mul(1000),
        level: (prio & 7) as u8,
        facility: (prio >> 3).min(255) as u8,
        caller,
        text: unescape(&line[semi + 1..]),
    })
}

/// `/dev/kmsg` and `dmesg` write unprintable bytes as `\xNN`.
fn unescape(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            if let Some(v) = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `dmesg --raw`: `<PRIO>[SECONDS.MICROS] TEXT` lines (sequence numbers are line numbers).
fn read_dmesg_command() -> Result<KernelLog, String> {
    let out = std::process::Command::new("dmesg")
        .arg("--raw")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(parse_dmesg_raw(&out.stdout))
}

fn parse_dmesg_raw(text: &[u8]) -> KernelLog {
    let mut records = Vec::new();
    for line in text.split(|&b| b == b'\n').take(MAX_KMSG_RECORDS) {
        let Some(rest) = line.strip_prefix(b"<") else {
            continue;
        };
        let Some(gt) = rest.iter().position(|&b| b == b'>') else {
            continue;
        };
        let Some(prio) = std::str::from_utf8(&rest[..gt])
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let rest = &rest[gt + 1..];
        let (ts_ns, text) = match (
            rest.strip_prefix(b"["),
            rest.iter().position(|&b| b == b']'),
        ) {
            (Some(_), Some(close)) => {
                let ts = std::str::from_utf8(&rest[1..close]).unwrap_or("").trim();
                let ns = ts.split_once('.').and_then(|(s, us)| {
                    Some(s.parse::<u64>().ok()? * 1_000_000_000 + us.parse::<u64>().ok()? * 1000)
                });
                let t = &rest[close + 1..];
                (ns.unwrap_or(0), t.strip_prefix(b" ").unwrap_or(t))
            }
            _ => (0, rest),
        };
        records.push(LogRecord {
            seq: records.len() as u64,
            ts_ns,
            level: (prio & 7) as u8,
            facility: (prio >> 3).min(255) as u8,
            caller: None,
            text: unescape(text),
        });
    }
    KernelLog {
        records,
        source: LogSource::Dmesg,
        dropped: 0,
        problems: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmsg_records_parse() {
        let r = kmsg_record(
            b"4,339,5140900,-,caller=T89;oot_prop: loading out-of-tree module taints kernel.",
        )
        .unwrap();
        assert_eq!(
            (r.seq, r.ts_ns, r.level, r.facility),
            (339, 5_140_900_000, 4, 0)
        );
        assert_eq!(r.caller.as_deref(), Some("T89"));
        assert!(r.text.starts_with("oot_prop: loading"));
        assert_eq!(kmsg_record(b"6,1,2,-;a\\x0ab").unwrap().text, "a\nb");
        assert!(kmsg_record(b" SUBSYSTEM=acpi").is_none());
        assert!(kmsg_record(b"garbage").is_none());
    }

    #[test]
    fn dmesg_raw_parses() {
        let l = parse_dmesg_raw(b"<4>[    5.140900] oot: x\n<6>[12.000001] y\nnoise\n");
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.records[0].ts_ns, 5_140_900_000);
        assert_eq!(l.records[1].text, "y");
    }

    /// A kernel whose symbols name no data (arm64 without CONFIG_KALLSYMS_ALL, no debug vmlinux): the mask
    /// and the module list come from /proc and /sys, each said so, and the last unloaded module is named
    /// unknown; a module with no readable `struct module` keeps its sysfs letters, its signature unknown.
    #[test]
    fn gaps_of_a_kernel_without_data_symbols_are_filled_from_proc_and_sys_and_named() {
        let root = std::env::temp_dir().join(format!("vmtaint-fill-gaps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let put = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        put("proc/sys/kernel/tainted", "12801\n");
        put(
            "proc/modules",
            "oot_prop 16384 0 - Live 0xffff800000a00000 (POE)\n",
        );
        put("sys/module/oot_prop/taint", "POE\n");
        let host = LiveHost::at(&root);
        let memory = analyzers::fake::FakeTarget::new();
        let mut g = analyzers::report::gather(&memory);
        assert!(g.mask.is_err() && g.modules.is_err(), "no symbols at all");
        host.fill_gaps(&mut g, &memory);
        assert_eq!(g.mask.as_ref().ok(), Some(&12801));
        assert!(g
            .table
            .problems
            .iter()
            .any(|p| p.contains("CONFIG_KALLSYMS_ALL") && p.contains("/proc/sys/kernel/tainted")));
        let m = g.modules.as_ref().unwrap();
        assert_eq!(m.modules.len(), 1);
        assert_eq!(
            (m.modules[0].name.as_str(), m.modules[0].taints.as_str()),
            ("oot_prop", "POE")
        );
        assert_eq!(m.modules[0].signed, None);
        assert!(
            m.problems
                .iter()
                .any(|p| p.contains("oot_prop not read from memory")),
            "{:?}",
            m.problems
        );
        assert!(g
            .unloaded
            .problems
            .iter()
            .any(|p| p.contains("last_unloaded_module is unknown")));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn build_id_from_notes() {
        let mut n = Vec::new();
        n.extend_from_slice(&4u32.to_le_bytes());
        n.extend_from_slice(&3u32.to_le_bytes());
        n.extend_from_slice(&6u32.to_le_bytes()); // other note first
        n.extend_from_slice(b"Xen\0");
        n.extend_from_slice(&[1, 2, 3, 0]);
        n.extend_from_slice(&4u32.to_le_bytes());
        n.extend_from_slice(&2u32.to_le_bytes());
        n.extend_from_slice(&3u32.to_le_bytes());
        n.extend_from_slice(b"GNU\0");
        n.extend_from_slice(&[0xab, 0xcd, 0, 0]);
        assert_eq!(gnu_build_id(&n).as_deref(), Some("abcd"));
        assert_eq!(gnu_build_id(&n[..10]), None);
    }
}
