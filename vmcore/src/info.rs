//! The summary `vmtaint info` prints: what the dump is, which kernel, when, and how much of memory it holds.

use serde::Serialize;

use crate::{Body, Compression, Format, TranslationInfo, Vmcore};

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

/// What names a dump in a report: its file, format, kernel release, build-id and crash time. Cheap: reads
/// headers only (a [`DumpInfo`] also counts the pages, which reads both kdump bitmaps whole).
#[derive(Debug, Clone, Serialize)]
pub struct DumpIdentity {
    pub path: String,
    pub format: Format,
    pub release: Option<String>,
    pub build_id: Option<String>,
    pub crash_time: Option<i64>,
    pub crash_time_utc: Option<String>,
}

pub(crate) fn identify(d: &Vmcore) -> DumpIdentity {
    let vi = d.vmcoreinfo.as_ref();
    let (release, crash_time) = match &d.body {
        Body::Kdump(k) => (
            vi.and_then(|v| v.osrelease.clone())
                .or_else(|| Some(k.header.release.clone()).filter(|r| !r.is_empty())),
            vi.and_then(|v| v.crashtime)
                .or(Some(k.header.timestamp_sec).filter(|&t| t > 0)),
        ),
        Body::Elf(_) => (
            vi.and_then(|v| v.osrelease.clone()),
            vi.and_then(|v| v.crashtime),
        ),
    };
    DumpIdentity {
        path: d.path().display().to_string(),
        format: d.format(),
        release,
        build_id: vi.and_then(|v| v.build_id.clone()),
        crash_time,
        crash_time_utc: crash_time.map(rfc3339),
    }
}

pub(crate) fn summarize(d: &Vmcore) -> DumpInfo {
    let vi = d.vmcoreinfo.as_ref();
    let ps = d.page_size;
    let mut warnings = Vec::new();
    let (release, machine, crash_time, cpus, ram, dumped, dump_level, header_version, incomplete) =
        match &d.body {
            Body::Kdump(k) => {
                let h = &k.header;
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
                    0,
                    0,
                    Some(h.dump_level),
                    Some(h.header_version),
                    h.incomplete(),
                )
            }
            Body::Elf(e) => {
                if e.missing_bytes > 0 {
                    warnings.push(format!(
                    "the file is {} bytes short of what its PT_LOAD segments declare: it was cut short",
                    e.missing_bytes
                ));
                }
                let cpus = if !d.notes.prstatus.is_empty() {
                    d.notes.prstatus.len()
                } else {
                    d.notes.qemu_cpus.len()
                };
                (
                    vi.and_then(|v| v.osrelease.clone()),
                    Some(d.machine().name().to_string()),
                    vi.and_then(|v| v.crashtime),
                    (cpus > 0).then_some(cpus as u64),
                    0,
                    0,
                    None,
                    None,
                    e.missing_bytes > 0,
                )
            }
        };
    let (ram, dumped) = match (d.page_totals(), &d.body) {
        (Ok((ram, dumped)), Body::Kdump(k)) => {
            let missing = k.descriptors_missing(&d.src, dumped);
            if missing > 0 {
                warnings.push(format!(
                    "the 2nd bitmap marks {dumped} dumped pages but the {} ends {missing} bytes before their page \
                     descriptors do: pages past that read as corrupt",
                    d.src.kind()
                ));
            }
            (ram, dumped)
        }
        (Ok(t), Body::Elf(_)) => t,
        (Err(e), _) => {
            warnings.push(format!("pages not counted: {e}"));
            (ram, dumped)
        }
    };
    if d.src.flat.as_ref().is_some_and(|f| f.unterminated) {
        warnings.push("the flattened stream has no end marker: it was cut short".into());
    }
    if vi.is_none() {
        warnings
            .push("no VMCOREINFO: kernel release, build-id and KASLR offset are unknown".into());
    }
    let kcore = d.format() == Format::Kcore;
    let (translation, direct_map_base, address_translation) = match d.translator() {
        _ if kcore => (
            "kcore segments (virtual addresses)".to_string(),
            match &d.body {
                Body::Elf(e) => e.direct_map_base().map(|b| format!("{b:#x}")),
                Body::Kdump(_) => None,
            },
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
        page_size: ps,
        release,
        build_id: vi.and_then(|v| v.build_id.clone()),
        machine,
        crash_time,
        crash_time_utc: crash_time.map(rfc3339),
        kaslr_offset: vi.and_then(|v| v.kernel_offset),
        phys_base: vi.and_then(|v| v.phys_base).or(match &d.body {
            Body::Kdump(k) if k.header.header_version >= 1 => Some(k.header.phys_base as i64),
            _ => None,
        }),
        cpus,
        ram_pages: ram,
        dumped_pages: dumped,
        excluded_pages: ram.saturating_sub(dumped),
        dump_level,
        header_version,
        incomplete: incomplete || d.src.flat.as_ref().is_some_and(|f| f.unterminated),
        has_vmcoreinfo: vi.is_some(),
        flattened_records: d.src.flat.as_ref().map(|f| f.records),
        translation,
        direct_map_base,
        address_translation,
        warnings,
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
