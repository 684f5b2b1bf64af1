//! vmtaint's engine: where a crash dump becomes a [`target::DumpTarget`] the analyzers can question.
//!
//! Every front end (the `vmtaint` CLI, its scans, the Python module) goes through here: open the dump with
//! `vmcore`, walk the symbol-source ladder ([`debuginfo`]: DWARF from a debug vmlinux matched by build-id,
//! then a vmlinux's `.BTF`, then the dump's own BTF and kallsyms, then VMCOREINFO alone), run the analyzers,
//! and return a typed [`FullReport`]. Rendering it is the front ends' business.
//!
//! ```no_run
//! let dump = vmcore::Vmcore::open("/var/crash/vmcore")?;
//! let full = engine::make_report(&dump, &engine::DebuginfoOptions::default())?;
//! assert_eq!(full.report.schema_version, analyzers::report::SCHEMA_VERSION);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod beside;
pub mod btf_source;
pub mod debuginfo;
pub mod index;
pub mod info;
pub mod live;
pub mod recover;
pub mod report;
pub mod target;

pub use analyzers::document::{DumpSummary, FullReport};
pub use debuginfo::{DebuginfoOptions, Refused, SourceReport, VmlinuxCache};
pub use info::DumpInfo;
pub use live::{live_report, LiveError, LiveHost, LiveReport};
pub use report::{make_report, make_report_cached, make_report_for, report_file, Error};
