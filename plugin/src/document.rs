//! The crash extension's `taint -j` is the same document as `vmtaint report --json`: the analyzers' report,
//! where its symbols came from (`crash`: crash's own symbol and type API) and which dump crash has open.

use analyzers::document::{DumpSummary, FullReport, SourceReport};
use analyzers::report::Report;

/// The document for a report made inside crash.
pub fn document(report: Report, dump: DumpSummary) -> FullReport {
    FullReport {
        report,
        source: SourceReport {
            kind: "crash".into(),
            origin: "crash".into(),
            matched_by: None,
            tried: Vec::new(),
            answers: Default::default(),
        },
        dump,
    }
}

/// Which dump crash has open: the first of crash's own command-line arguments that is a crash dump by
/// content (crash's `pc->dumpfile` sits in a structure whose layout changes between crash versions).
pub fn dump_summary(
    args: impl IntoIterator<Item = String>,
    release: Option<String>,
    build_id: Option<String>,
) -> DumpSummary {
    // Opening reads headers only; the container format is named as `vmtaint report` names it.
    let dump = args.into_iter().skip(1).find_map(|a| {
        vmcore::sniff(std::path::Path::new(&a)).ok()??;
        let format = vmcore::Vmcore::open(&a).ok()?.format().name();
        Some((a, format))
    });
    let (path, format) = match dump {
        Some((path, kind)) => (path, kind.to_string()),
        // A live system, or a dump given in a way we cannot see.
        None => ("(crash session)".to_string(), "unknown".to_string()),
    };
    DumpSummary {
        path,
        format,
        release,
        build_id,
        crash_time_utc: None,
    }
}

/// crash's own command line, from `/proc/self/cmdline`.
#[cfg_attr(test, allow(dead_code))] // used by the command, which needs crash to link
pub fn own_args() -> Vec<String> {
    std::fs::read("/proc/self/cmdline")
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testcores_kdump() -> Vec<u8> {
        let mut image = testcores::image::MemoryImage::new(4096);
        image.add_ram(0..16);
        testcores::kdump::write_kdump(&image, &Default::default())
    }

    #[test]
    fn the_dump_is_the_argument_that_is_a_dump() {
        let dir = std::env::temp_dir().join(format!("vmtaint-doc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let vmlinux = dir.join("vmlinux");
        let dump = dir.join("vmcore");
        std::fs::write(&vmlinux, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0").unwrap(); // ET_EXEC
                                                                                           // A real dump: the smallest synthetic kdump file testcores writes.
        std::fs::write(&dump, testcores_kdump()).unwrap();
        let args = ["crash", vmlinux.to_str().unwrap(), dump.to_str().unwrap()].map(String::from);
        let d = dump_summary(args, Some("6.1.0".into()), None);
        assert_eq!(d.path, dump.display().to_string());
        assert_eq!(d.format, "kdump");
        assert_eq!(d.release.as_deref(), Some("6.1.0"));
        let live = dump_summary(["crash".to_string()], None, None);
        assert_eq!(live.format, "unknown");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
