//! `vmtaint info`.

use std::path::Path;
use std::process::ExitCode;

use engine::DumpInfo;
use vmcore::Vmcore;

use crate::EXIT_UNREADABLE;

pub fn run(path: &Path, json: bool) -> ExitCode {
    let dump = match Vmcore::open(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("vmtaint: {e}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    print_info(&DumpInfo::of(&dump), json)
}

/// `vmtaint info --live`: `/proc/kcore`, or why it cannot be read (exit 2).
pub fn run_live(host: &engine::LiveHost, json: bool) -> ExitCode {
    match host.open_kcore() {
        Ok(kcore) => print_info(&DumpInfo::of(&kcore), json),
        Err(why) => {
            eprintln!("vmtaint: cannot read the running kernel's memory: {why}");
            ExitCode::from(EXIT_UNREADABLE)
        }
    }
}

fn print_info(info: &DumpInfo, json: bool) -> ExitCode {
    let info = info.clone();
    let out = if json {
        serde_json::to_string_pretty(&info).expect("DumpInfo serializes") + "\n"
    } else {
        render(&info)
    };
    if let Err(e) = crate::report::write_stdout(out.as_bytes()) {
        eprintln!("vmtaint: standard output: {e}");
        return ExitCode::from(crate::scan::EXIT_WRITE_FAILED);
    }
    ExitCode::SUCCESS
}

/// Short, aligned human output.
pub fn render(i: &DumpInfo) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut rows: Vec<(&str, String)> = vec![
        ("file", i.path.clone()),
        (
            "format",
            match (i.header_version, i.flattened_records) {
                (Some(v), Some(r)) => format!("{} (header v{v}, {r} records)", i.format.name()),
                (Some(v), None) => format!("{} (header v{v})", i.format.name()),
                _ => i.format.name().to_string(),
            },
        ),
        ("compression", i.compression.name().to_string()),
        ("release", opt(&i.release)),
        ("build-id", opt(&i.build_id)),
        ("machine", opt(&i.machine)),
        (
            "crash time",
            match (&i.crash_time_utc, i.crash_time) {
                (Some(s), Some(t)) => format!("{s} ({t})"),
                _ => "-".into(),
            },
        ),
        (
            "KASLR offset",
            i.kaslr_offset.map_or("-".into(), |o| format!("{o:#x}")),
        ),
        (
            "phys_base",
            i.phys_base.map_or("-".into(), |p| {
                if p < 0 {
                    format!("-{:#x}", -(p as i128))
                } else {
                    format!("{p:#x}")
                }
            }),
        ),
        ("CPUs", i.cpus.map_or("-".into(), |c| c.to_string())),
        ("page size", i.page_size.to_string()),
        (
            "pages",
            format!(
                "{} RAM, {} dumped, {} excluded ({})",
                i.ram_pages,
                i.dumped_pages,
                i.excluded_pages,
                mib(i.ram_pages * i.page_size)
            ),
        ),
        (
            "dump level",
            i.dump_level.map_or("-".into(), |d| d.to_string()),
        ),
        (
            "complete",
            if i.incomplete {
                "NO (cut short)".into()
            } else {
                "yes".into()
            },
        ),
        (
            "translation",
            match (&i.address_translation, &i.direct_map_base) {
                (Some(t), _) => t.summary(),
                (None, Some(b)) => format!("{} (direct map at {b})", i.translation),
                (None, None) => i.translation.clone(),
            },
        ),
    ];
    for w in &i.warnings {
        rows.push(("warning", w.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:>width$}  {v}\n"))
        .collect()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}
