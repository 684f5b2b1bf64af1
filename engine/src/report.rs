//! One dump in, one typed report out: the ladder picks the symbol source, the dump becomes a
//! [`DumpTarget`], the analyzers run, and the report records which source answered and which dump it is.

use analyzers::report::{analyze, Report};
use serde::Serialize;
use vmcore::Vmcore;

use crate::debuginfo::{
    choose_source, Attempt, Chosen, DebuginfoOptions, Refused, SourceReport, VmlinuxCache,
};
use crate::target::{DumpTarget, SymbolSource, VmcoreInfoOnly};

/// Which dump the report is about.
#[derive(Debug, Clone, Serialize)]
pub struct DumpSummary {
    pub path: String,
    pub format: vmcore::Format,
    pub release: Option<String>,
    pub build_id: Option<String>,
    pub crash_time_utc: Option<String>,
}

/// The report as `vmtaint report --json` prints it: the analyzers' report, plus where its symbols came from
/// and which dump it describes.
#[derive(Debug, Clone, Serialize)]
pub struct FullReport {
    #[serde(flatten)]
    pub report: Report,
    pub source: SourceReport,
    pub dump: DumpSummary,
}

/// Make the report of an opened dump. Fails only when the user's explicit `--vmlinux` does not fit.
///
/// ```no_run
/// let dump = vmcore::Vmcore::open("/var/crash/vmcore")?;
/// let full = engine::make_report(&dump, &engine::DebuginfoOptions::default())?;
/// println!("mask {:?}, symbols from {}", full.report.tainted_mask, full.source.kind);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn make_report(dump: &Vmcore, opts: &DebuginfoOptions) -> Result<FullReport, Refused> {
    make_report_cached(dump, opts, &VmlinuxCache::default())
}

/// [`make_report`] with debug vmlinux files shared through `cache` (scans).
pub fn make_report_cached(
    dump: &Vmcore,
    opts: &DebuginfoOptions,
    cache: &VmlinuxCache,
) -> Result<FullReport, Refused> {
    let mut tried = Vec::new();
    let chosen = choose_source(dump, opts, cache, &mut tried)?;
    let empty = vmcore::VmcoreInfo::default();
    let vmcoreinfo_only = VmcoreInfoOnly(dump.vmcoreinfo().unwrap_or(&empty));
    let (symbols, matched_by): (&dyn SymbolSource, Option<String>) = match &chosen {
        Chosen::Dwarf(d, how) => (d, Some(how.clone())),
        Chosen::Btf(b, how) => (b.as_ref(), how.clone()),
        Chosen::VmcoreInfoOnly => {
            tried.push(Attempt {
                source: "vmcoreinfo",
                outcome: "used: the kernel log alone".into(),
            });
            (&vmcoreinfo_only, None)
        }
    };
    let target = DumpTarget { dump, symbols };
    let report = analyze(&target);
    let info = dump.info();
    Ok(FullReport {
        report,
        source: SourceReport {
            kind: symbols.kind(),
            origin: symbols.origin(),
            matched_by,
            tried,
        },
        dump: DumpSummary {
            path: info.path,
            format: info.format,
            release: info.release,
            build_id: info.build_id,
            crash_time_utc: info.crash_time_utc,
        },
    })
}
