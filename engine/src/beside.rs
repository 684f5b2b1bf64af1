//! Text kernel logs kept beside a dump: where a wrapped printk ring lost its start, their older lines fill
//! it ([`analyzers::log_fill`]).

use std::path::{Path, PathBuf};

use analyzers::kernel_log::KernelLog;
use analyzers::log_fill::{older_records, Fill, FillOutcome};

/// File names looked for in the dump's directory, in order: kexec-tools' and makedumpfile's log of the
/// same capture, then logs an admin or a collection script copied there.
pub const BESIDE_LOGS: [&str; 6] = [
    "vmcore-dmesg.txt",
    "kern.log",
    "dmesg.txt",
    "dmesg",
    "messages",
    "syslog",
];

/// The text logs beside `dump` that exist (never the dump itself).
pub fn logs_beside(dump: &Path) -> Vec<PathBuf> {
    let Some(dir) = dump.parent() else {
        return Vec::new();
    };
    BESIDE_LOGS
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file() && p.as_path() != dump)
        .collect()
}

/// The first log beside `dump` that fills `ring`'s lost start; else what came of the most telling one (a
/// file that shares lines with the ring but has nothing older, then one that could not be used); `None`
/// when there is no log beside the dump or the ring lost nothing.
pub fn fill_from_beside(dump: &Path, ring: &KernelLog) -> Option<Fill> {
    let mut best: Option<Fill> = None;
    for path in logs_beside(dump) {
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        let name = path.display().to_string();
        let Ok(fill) = older_records(ring, std::io::BufReader::new(file), &name) else {
            continue; // not a text kernel log
        };
        match fill.outcome {
            FillOutcome::Filled => return Some(fill),
            FillOutcome::NotWrapped => return None,
            FillOutcome::NothingOlder => best = Some(fill),
            FillOutcome::NoOverlap | FillOutcome::OtherClock => {
                if best.is_none() {
                    best = Some(fill);
                }
            }
        }
    }
    best
}
