//! A wrapped printk ring's start, filled from a text log kept beside the dump.
//!
//! The ring keeps 128 KiB-1 MiB of log: a chatty kernel overwrites the lines that say who tainted it long
//! before it crashes. A text log saved beside the dump (`vmcore-dmesg.txt` of an earlier capture, an admin's
//! `kern.log` or `dmesg` output copied there) may still have them. Its lines older than the ring's oldest
//! record fill the start of the log, and the timeline events they give are marked as from that file.
//!
//! Only when it is safe: the ring must have wrapped (records were lost), the file must stamp lines with the
//! time since boot (a wall-clock syslog does not compare with the ring's clock), and some line of the file
//! must be a record the ring still has (same microsecond, same text): that proves file and ring are the same
//! boot and places the file on the ring's clock. Lines of an earlier boot in the same file (before a
//! `Linux version` banner or a fall of the time) are never taken.
//!
//! ```
//! use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
//! use analyzers::log_fill::{older_records, FillOutcome};
//! let rec = |seq, us: u64, text: &str| LogRecord { seq, ts_ns: us * 1000, level: 6, facility: 0, caller: None, text: text.into() };
//! // The ring lost its first 100 records; it starts with "b" at 2.000000 s.
//! let ring = KernelLog { records: vec![rec(100, 2_000_000, "b"), rec(101, 3_000_000, "c")],
//!     source: LogSource::PrintkRingbuffer, dropped: 100, problems: vec![] };
//! let file = "[    1.000000] oot_prop: module license 'Proprietary' taints kernel.\n[    2.000000] b\n";
//! let fill = older_records(&ring, file.as_bytes(), "kern.log").unwrap();
//! assert_eq!(fill.outcome, FillOutcome::Filled);
//! assert_eq!(fill.records.len(), 1);
//! assert_eq!(fill.records[0].ts_ns, 1_000_000_000);
//! ```

use std::collections::HashSet;
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::kernel_log::{KernelLog, LogRecord};
use crate::text_log::{TextLogError, TextLogReader};

/// Ring records (from the oldest) looked for in the file to prove it is the same boot.
const OVERLAP_RECORDS: usize = 256;
/// Most lines taken from a file.
const MAX_FILLED: usize = 100_000;
/// A fall of the time by more than this (µs) starts a new boot.
const NEW_BOOT_STEP_US: u64 = 1_000_000;
/// Lines read from a file at most (a GB-sized syslog is streamed, not kept).
const MAX_LINES: u64 = 50_000_000;

/// What came of a text log beside the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillOutcome {
    /// Lines older than the ring's oldest record were taken.
    Filled,
    /// The ring lost nothing: there is nothing to fill.
    NotWrapped,
    /// The file and the ring share lines, but the file has none older than the ring's oldest record.
    NothingOlder,
    /// No line of the file is a record the ring has: it cannot be shown to be the same boot.
    NoOverlap,
    /// The file's times are not times since boot (wall-clock syslog): they do not compare with the ring.
    OtherClock,
}

/// The lines a text log gives to a wrapped ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The file's name, as given.
    pub file: String,
    pub outcome: FillOutcome,
    /// The lines kept for the analyzers (taint, report and load-failure lines with their context), older than
    /// the ring's oldest record, in file order; their `seq` is below the ring's first.
    pub records: Vec<LogRecord>,
    /// Lines of the file that are records the ring still has.
    pub overlap: usize,
}

/// What the report says about a fill (`kernel_log.older_lines` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillSummary {
    pub file: String,
    pub outcome: FillOutcome,
    /// Lines taken from the file.
    pub records: usize,
    /// Lines of the file that are records the ring still has.
    pub overlap: usize,
}

impl Fill {
    pub fn summary(&self) -> FillSummary {
        FillSummary {
            file: self.file.clone(),
            outcome: self.outcome,
            records: self.records.len(),
            overlap: self.overlap,
        }
    }
}

/// The lines of `input` (a text kernel log named `file`) older than the oldest record of `ring`, when the
/// ring has wrapped and the file provably is the same boot (see the module doc).
pub fn older_records<R: BufRead>(
    ring: &KernelLog,
    input: R,
    file: &str,
) -> Result<Fill, TextLogError> {
    let fill = |outcome, records: Vec<LogRecord>, overlap| Fill {
        file: file.to_string(),
        outcome,
        records,
        overlap,
    };
    let Some(oldest) = ring.records.first() else {
        return Ok(fill(FillOutcome::NotWrapped, Vec::new(), 0));
    };
    if ring.dropped == 0 && oldest.seq == 0 {
        return Ok(fill(FillOutcome::NotWrapped, Vec::new(), 0));
    }
    let oldest_us = oldest.ts_ns / 1000;
    // The ring's first records, by (microsecond, first line of text).
    let known: HashSet<(u64, &str)> = ring
        .records
        .iter()
        .take(OVERLAP_RECORDS)
        .map(|r| (r.ts_ns / 1000, r.text.lines().next().unwrap_or("")))
        .collect();
    let mut reader = TextLogReader::new(
        std::io::BufReader::with_capacity(crate::text_log::READ_CHUNK, input),
        file,
    );
    let mut older: Vec<LogRecord> = Vec::new();
    let mut overlap = 0usize;
    let mut boot_stamped = 0u64;
    let mut last_us = 0u64;
    let mut keeper = crate::text_log::Keeper::default();
    let mut lines = 0u64;
    let mut scratch = String::new();
    // Lines are parsed in place; a record is made only for a line kept.
    while let Some(item) = reader.next_parsed() {
        let line = item?;
        lines += 1;
        if lines > MAX_LINES {
            break;
        }
        let Some(boot_ns) = line.boot_ns() else {
            continue;
        };
        boot_stamped += 1;
        let us = boot_ns / 1000;
        let text = line.record_text(&mut scratch);
        // A new boot starts (what came before belongs to another one): its banner, or the time falling back
        // by more than CPUs' clocks disagree (printk order across CPUs may step back a little).
        if text.starts_with("Linux version ") || us.saturating_add(NEW_BOOT_STEP_US) < last_us {
            older.clear();
            overlap = 0;
        }
        last_us = us;
        if known.contains(&(us, text)) {
            overlap += 1;
            continue;
        }
        if us >= oldest_us || overlap > 0 {
            continue;
        }
        // Keep what the analyzers read, as from a log file alone.
        if keeper.keep(text) && older.len() < MAX_FILLED {
            older.push(LogRecord {
                ts_ns: boot_ns,
                ..line.record(text)
            });
        }
    }
    if boot_stamped == 0 {
        return Ok(fill(FillOutcome::OtherClock, Vec::new(), 0));
    }
    if overlap == 0 {
        return Ok(fill(FillOutcome::NoOverlap, Vec::new(), 0));
    }
    if older.is_empty() {
        return Ok(fill(FillOutcome::NothingOlder, Vec::new(), overlap));
    }
    // Sequence numbers below the ring's first, in file order.
    let n = older.len() as u64;
    for (i, r) in older.iter_mut().enumerate() {
        r.seq = oldest.seq.saturating_sub(n - i as u64);
    }
    Ok(fill(FillOutcome::Filled, older, overlap))
}
