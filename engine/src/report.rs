//! One dump in, one typed report out: the ladder picks the symbol source, the dump becomes a
//! [`DumpTarget`], the analyzers run, and the report records which source answered and which dump it is.

use analyzers::document::{Attempt, DumpSummary, FullReport, SourceReport};
use analyzers::report::{combine, gather, Problem, ProblemKind};
use vmcore::Vmcore;

use crate::debuginfo::{choose_source_for, Chosen, DebuginfoOptions, Refused, VmlinuxCache};
use crate::index::Indexed;
use crate::recover::CodeRecovery;
use crate::target::{Chain, DumpTarget, SymbolSource, VmcoreInfoOnly};

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
    make_report_for(dump, opts, cache, None)
}

/// [`make_report_cached`] for a dump that is the running kernel of `host` (`/proc/kcore`): the ladder also
/// has the kernel's own BTF with `/proc/kallsyms`, and the build-id from `/sys/kernel/notes`.
pub fn make_report_for(
    dump: &Vmcore,
    opts: &DebuginfoOptions,
    cache: &VmlinuxCache,
    host: Option<&crate::live::LiveHost>,
) -> Result<FullReport, Refused> {
    let mut tried = Vec::new();
    let chosen = choose_source_for(dump, opts, cache, host, &mut tried)?;
    let empty = vmcore::VmcoreInfo::default();
    let vmcoreinfo_only = VmcoreInfoOnly(dump.vmcoreinfo().unwrap_or(&empty));
    let (symbols, matched_by): (&dyn SymbolSource, Option<String>) = match &chosen {
        Chosen::Dwarf(d, how) => (d, Some(how.clone())),
        Chosen::Btf(b, how) => (b.as_ref(), how.clone()),
        Chosen::BtfDumpIndexed(lazy) => (lazy.as_ref(), None),
        Chosen::VmcoreInfoOnly => {
            tried.push(Attempt {
                source: "vmcoreinfo".into(),
                address: None,
                outcome: "used: the kernel log alone".into(),
            });
            (&vmcoreinfo_only, None)
        }
    };
    // Answers known for this build from an earlier report come from its index, the rest from the source.
    let index = match &chosen {
        Chosen::Dwarf(d, _) => cache
            .index_for("dwarf", &d.vmlinux)
            .map(|i| (i, d.slide, 0)),
        // The dump's own BTF and kallsyms (not a vmlinux's, not a running kernel's).
        Chosen::Btf(b, None) if host.is_none() && b.origin() == "dump" => {
            dump_index_of(dump, cache)
        }
        Chosen::BtfDumpIndexed(_) => dump_index_of(dump, cache),
        _ => None,
    };
    let indexed = index.as_ref().map(|(index, slide, floor)| Indexed {
        inner: symbols,
        index,
        slide: *slide,
        floor: *floor,
    });
    let best: &dyn SymbolSource = match &indexed {
        Some(i) => i,
        None => symbols,
    };
    // The kallsyms of an arm64 kernel (the dump's own, or a running kernel's /proc/kallsyms) has only text
    // symbols: data symbols it lacks are recovered from the code of the functions that use them (every
    // report alike: the index does not keep them). Also behind a vmlinux's `.BTF` when that file has no
    // `.symtab`.
    let text_only_kallsyms = match &chosen {
        Chosen::Btf(b, _) => {
            (host.is_none() && b.addresses_from_dump())
                || (host.is_some() && b.addresses_from_proc())
        }
        Chosen::BtfDumpIndexed(_) => true,
        _ => false,
    };
    let recovery = (text_only_kallsyms && dump.machine() == vmcore::Machine::Aarch64)
        .then(|| CodeRecovery::new(best, dump));
    let best: &dyn SymbolSource = match &recovery {
        Some(r) => r,
        None => best,
    };
    // VMCOREINFO stands behind the chosen source for what it lacks (unless it is the chosen source).
    let rungs: Vec<&dyn SymbolSource> = match chosen {
        Chosen::VmcoreInfoOnly => vec![best],
        _ => vec![best, &vmcoreinfo_only],
    };
    let chain = Chain::new(rungs);
    let target = DumpTarget {
        dump,
        symbols: &chain,
    };
    let mut report = match host {
        // The running kernel: what its memory cannot give, /proc and /sys can (each said so).
        Some(h) => {
            let mut gathered = gather(&target);
            h.fill_gaps(&mut gathered, &target);
            combine(&target, gathered, &[])
        }
        // A dump file may have text logs beside it with what its wrapped ring lost.
        None => analyzers::report::analyze_filled(&target, |ring| {
            crate::beside::fill_from_beside(dump.path(), ring)
        }),
    };
    if let Some((index, _, _)) = &index {
        index.save_if_learned();
    }
    for o in recovery.iter().flat_map(CodeRecovery::outcomes) {
        if o.address.is_none() && o.has_accessor {
            report.problems.push(Problem::new(
                crate::recover::analyzer_of(o.name),
                ProblemKind::MissingSymbol,
                o.note.clone(),
            ));
        }
        tried.push(Attempt {
            source: crate::recover::SOURCE.into(),
            address: o.address,
            outcome: o.note,
        });
    }
    let answers = chain
        .answers()
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    // Not DumpInfo::of: counting a kdump's pages reads both bitmaps whole (512 MiB each at 16 TiB).
    let (release, crash_time) = crate::info::release_and_crash_time(dump);
    let path = dump.path().display().to_string();
    if crate::target::tracing() {
        eprintln!(
            "trace: {} bytes read from the dump {path}",
            dump.bytes_read()
        );
    }
    Ok(FullReport {
        report,
        source: SourceReport {
            kind: symbols.kind().into(),
            origin: symbols.origin(),
            matched_by,
            tried,
            answers,
        },
        dump: DumpSummary {
            path,
            format: dump.format().name().to_string(),
            release,
            build_id: dump.vmcoreinfo().and_then(|v| v.build_id.clone()),
            crash_time_utc: crash_time.map(crate::info::rfc3339),
        },
    })
}

/// The dump's `btf-dump` answer index with its slide and floor.
fn dump_index_of(
    dump: &Vmcore,
    cache: &VmlinuxCache,
) -> Option<(std::sync::Arc<crate::index::AnswerIndex>, u64, u64)> {
    let (slide, floor) = crate::debuginfo::dump_slide_floor(dump)?;
    Some((cache.dump_index(dump)?, slide, floor))
}

/// Why a file got no report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not a dump we can read (names the file, offset and what was expected).
    #[error(transparent)]
    Open(#[from] vmcore::Error),
    /// The user's explicit `--vmlinux` does not fit the dump.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// Neither a dump nor a kernel log: both readers' reasons.
    #[error("{dump}; and as a kernel log: {log}")]
    Neither {
        dump: Box<vmcore::Error>,
        log: Box<analyzers::text_log::TextLogError>,
    },
}

/// The report of `path`: a crash dump (recognised by content), else a text kernel log (`vmcore-dmesg.txt`,
/// `dmesg`, `journalctl -k`, syslog), whose report has what a log can give and names the rest unknown.
pub fn report_file(
    path: &std::path::Path,
    opts: &DebuginfoOptions,
    cache: &VmlinuxCache,
) -> Result<FullReport, Error> {
    match Vmcore::open(path) {
        Ok(dump) => {
            // An architecture whose addresses cannot be translated gives an error, not an empty report.
            dump.ensure_supported()?;
            Ok(make_report_cached(&dump, opts, cache)?)
        }
        // Only a file that is no dump format at all may be a log: a damaged dump stays a damaged dump.
        Err(e @ vmcore::Error::UnknownFormat { .. }) => {
            report_log_file(path).map_err(|log| Error::Neither {
                dump: Box::new(e),
                log: Box::new(log),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// The report of a text kernel log alone (streamed: memory stays bounded on huge files).
pub fn report_log_file(
    path: &std::path::Path,
) -> Result<FullReport, analyzers::text_log::TextLogError> {
    let name = path.display().to_string();
    let file =
        std::fs::File::open(path).map_err(|source| analyzers::text_log::TextLogError::Io {
            file: name.clone(),
            offset: 0,
            source,
        })?;
    let log = analyzers::text_log::read_text_log(std::io::BufReader::new(file), &name)?;
    let report = analyzers::log_report::report_from_log(&log);
    Ok(FullReport {
        source: SourceReport {
            kind: analyzers::log_report::SOURCE_KIND.into(),
            origin: name.clone(),
            matched_by: None,
            tried: Vec::new(),
            answers: Default::default(),
        },
        dump: DumpSummary {
            path: name,
            format: "log".into(),
            release: report.log_only.as_ref().and_then(|l| l.release.clone()),
            build_id: None,
            crash_time_utc: None,
        },
        report,
    })
}
