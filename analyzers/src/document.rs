//! The document every front end renders: the analyzers' [`Report`] plus where its symbols came from and which
//! dump it describes. `vmtaint report --json`, a scan's JSON line, the crash extension's `taint -j` and the
//! Python module's dict are all this one type, serialized; the human text, CSV and summaries are renderings of
//! it (crate `render`). It reads back from its JSON too (`vmtaint summary` merges scans' JSON lines), apart
//! from what the JSON leaves out (modules' raw `taint_mask`, which reads back as 0).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::report::Report;

/// One rung of the symbol-source ladder and what happened there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The rung: `dwarf`, `btf`, `vmcoreinfo` (a fixed name when made, an owned one when read back from JSON).
    pub source: Cow<'static, str>,
    pub outcome: String,
}

/// Which source answered the symbol and type questions, and why the better ones did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// `dwarf`, `btf`, `vmcoreinfo` (the kernel log alone) or `crash` (the crash utility's own API).
    pub kind: Cow<'static, str>,
    /// The vmlinux path, `dump`, or `crash`.
    pub origin: String,
    /// How the vmlinux was matched to the dump: `build-id`, `release+banner`, `ignored (--ignore-build-id)`.
    pub matched_by: Option<String>,
    pub tried: Vec<Attempt>,
    /// How many symbol and type questions each source answered (`{"dwarf": 57, "vmcoreinfo": 1}`): the
    /// chosen source first, VMCOREINFO behind it for what it lacks.
    pub answers: std::collections::BTreeMap<String, u32>,
}

/// Which dump the report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpSummary {
    pub path: String,
    /// `elf`, `kdump`, `kdump-flattened`, `elf-flattened` (the container format).
    pub format: String,
    pub release: Option<String>,
    pub build_id: Option<String>,
    pub crash_time_utc: Option<String>,
}

/// The whole document (schema: docs/schema/report.schema.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FullReport {
    #[serde(flatten)]
    pub report: Report,
    pub source: SourceReport,
    pub dump: DumpSummary,
}

impl FullReport {
    /// Is there a taint verdict? `false` when `tainted_mask` could not be read (exit status 3).
    pub fn has_verdict(&self) -> bool {
        // A mask rebuilt from the kernel log (the variable out of reach) is shown, but is not a verdict.
        self.report.tainted_mask.is_some()
            && self.report.tainted_mask_source != Some(crate::report::MaskSource::KernelLog)
    }
}
