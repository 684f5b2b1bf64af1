//! The summary `vmtaint info` prints: what the dump is, which kernel, when, and how much of memory it holds,
//! assembled from `vmcore`'s typed accessors (format, pages, headers, notes, VMCOREINFO, translation).
//!
//! ```no_run
//! let dump = vmcore::Vmcore::open("/var/crash/vmcore")?;
//! let info = engine::DumpInfo::of(&dump);
//! println!("{} {:?} {} of {} pages dumped", info.format.name(), info.release, info.dumped_pages, info.ram_pages);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Serialize;
use vmcore::{Compression, Format, TranslationInfo, Vmcore};

/// A summary of a dump. JSON keys are part of the CLI's contract (see `docs/schema/info.schema.json`).
#[derive(Debug, Clone, Serialize)]
pub struct DumpInfo {
    pub path: String,
    pub format: Format,
    pub compression: Compression,
    pub page_size: u64,
    /// Kernel release (`OSRELEASE`, else the kdump header's utsname).
    pub release: Option<String>,
    /// VMCOREINFO `BUILD-ID`.
    pub build_id: Option<String>,
    pub machine: Option<String>,
    /// When the kernel crashed (or the dump was written), seconds since the epoch.
    pub crash_time: Option<i64>,
    /// The same time in UTC, RFC 3339.
    pub crash_time_utc: Option<String>,
    /// KASLR slide of the kernel text (`KERNELOFFSET`).
    pub kaslr_offset: Option<u64>,
    /// `phys_base` (signed: negative when the kernel runs below its link address).
    pub phys_base: Option<i64>,
    pub cpus: Option<u64>,
    /// Pages of RAM the dump describes, and how many of them it holds.
    pub ram_pages: u64,
    pub dumped_pages: u64,
    pub excluded_pages: u64,
    /// makedumpfile's `-d` level (kdump only).
    pub dump_level: Option<i32>,
    /// kdump header version (kdump only).
    pub header_version: Option<u32>,
    /// Cut short: the kdump `INCOMPLETE` flag, or ELF segment data past the end of the file.
    pub incomplete: bool,
    pub has_vmcoreinfo: bool,
    /// Records in the flattened stream (flattened only).
    pub flattened_records: Option<u64>,
    /// Where kernel address translation starts (`init_top_pgt`, `QEMU CR3`, or `kcore segments (virtual
    /// addresses)` for `/proc/kcore`), or `unavailable`.
    pub translation: String,
    /// `page_offset_base` when known.
    pub direct_map_base: Option<String>,
    /// The translation in use: architecture, VA bits, granule, levels, page-table root (absent when none).
    pub address_translation: Option<TranslationInfo>,
    /// Things a reader should know that are not errors.
    pub warnings: Vec<String>,
}

impl DumpInfo {
    /// Summarize an opened dump (reads headers, notes and at most the top page table: never fails).
    pub fn of(d: &Vmcore) -> DumpInfo {
        let vi = d.vmcoreinfo();
        let mut warnings = Vec::new();
        let pages = match d.page_counts() {
            Ok(p) => p,
            Err(e) => {
                warnings.push(format!("pages not counted: {e}"));
                vmcore::PageCounts::default()
            }
        };
        if pages.descriptors_missing > 0 {
            warnings.push(format!(
                "the 2nd bitmap marks {} dumped pages but the file ends {} bytes before their page descriptors \
                 do: pages past that read as corrupt",
                pages.dumped, pages.descriptors_missing
            ));
        }
        let flat = d.flattened();
        let cut_flat = flat.is_some_and(|f| !f.terminated);
        let (release, machine, crash_time, cpus, dump_level, header_version, incomplete) = match d
            .kdump_header()
        {
            Some(h) => {
                if h.incomplete() {
                    warnings.push("the dump is marked incomplete: makedumpfile stopped before writing every page".into());
                }
                if h.split {
                    warnings.push(format!(
                        "this file is one part of a split dump (pfns {}..{})",
                        h.start_pfn, h.end_pfn
                    ));
                }
                (
                    vi.and_then(|v| v.osrelease.clone())
                        .or_else(|| Some(h.release.clone()).filter(|r| !r.is_empty())),
                    Some(h.machine.clone()).filter(|m| !m.is_empty()),
                    vi.and_then(|v| v.crashtime)
                        .or(Some(h.timestamp_sec).filter(|&t| t > 0)),
                    Some(h.nr_cpus.max(0) as u64),
                    Some(h.dump_level),
                    Some(h.header_version),
                    h.incomplete(),
                )
            }
            None => {
                let missing = d.missing_bytes();
                if missing > 0 {
                    warnings.push(format!(
                            "the file is {missing} bytes short of what its PT_LOAD segments declare: it was cut short"
                        ));
                }
                let notes = d.notes();
                let cpus = if !notes.prstatus.is_empty() {
                    notes.prstatus.len()
                } else {
                    notes.qemu_cpus.len()
                };
                (
                    vi.and_then(|v| v.osrelease.clone()),
                    Some(d.machine().name().to_string()),
                    vi.and_then(|v| v.crashtime),
                    (cpus > 0).then_some(cpus as u64),
                    None,
                    None,
                    missing > 0,
                )
            }
        };
        if cut_flat {
            warnings.push("the flattened stream has no end marker: it was cut short".into());
        }
        if vi.is_none() {
            warnings.push(
                "no VMCOREINFO: kernel release, build-id and KASLR offset are unknown".into(),
            );
        }
        let (translation, direct_map_base, address_translation) = match d.translator() {
            _ if d.format() == Format::Kcore => (
                "kcore segments (virtual addresses)".to_string(),
                d.segments_direct_map_base().map(|b| format!("{b:#x}")),
                None,
            ),
            Ok(t) => (
                t.root_source().to_string(),
                t.direct_map_base().map(|b| format!("{b:#x}")),
                Some(t.info()),
            ),
            Err(e) => {
                warnings.push(e.to_string());
                ("unavailable".to_string(), None, None)
            }
        };
        DumpInfo {
            path: d.path().display().to_string(),
            format: d.format(),
            compression: d.compression(),
            page_size: d.page_size(),
            release,
            build_id: vi.and_then(|v| v.build_id.clone()),
            machine,
            crash_time,
            crash_time_utc: crash_time.map(rfc3339),
            kaslr_offset: vi.and_then(|v| v.kernel_offset),
            phys_base: vi.and_then(|v| v.phys_base).or(match d.kdump_header() {
                Some(h) if h.header_version >= 1 => Some(h.phys_base as i64),
                _ => None,
            }),
            cpus,
            ram_pages: pages.ram,
            dumped_pages: pages.dumped,
            excluded_pages: pages.ram.saturating_sub(pages.dumped),
            dump_level,
            header_version,
            incomplete: incomplete || cut_flat,
            has_vmcoreinfo: vi.is_some(),
            flattened_records: flat.map(|f| f.records),
            translation,
            direct_map_base,
            address_translation,
            warnings,
        }
    }
}

/// The kernel release and crash time a report names its dump by, from headers alone: unlike
/// [`DumpInfo::of`], nothing counts the pages (both kdump bitmaps whole, 512 MiB each at 16 TiB).
pub(crate) fn release_and_crash_time(d: &Vmcore) -> (Option<String>, Option<i64>) {
    let vi = d.vmcoreinfo();
    let release = vi.and_then(|v| v.osrelease.clone());
    let crash_time = vi.and_then(|v| v.crashtime);
    match d.kdump_header() {
        Some(h) => (
            release.or_else(|| Some(h.release.clone()).filter(|r| !r.is_empty())),
            crash_time.or(Some(h.timestamp_sec).filter(|&t| t > 0)),
        ),
        None => (release, crash_time),
    }
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub(crate) fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's public-domain algorithm description).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_points() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
