//! The `vmtaint` command's pieces, as a library so tests and benchmarks drive them directly: the glue that
//! turns a dump plus a symbol source into an analyzers [`target::DumpTarget`], and the `info`, `report` and
//! `scan` commands.

pub mod btf_source;
pub mod debuginfo;
pub mod info;
pub mod report;
pub mod scan;
pub mod target;

/// Exit status when the input cannot be read (the contract other tools rely on).
pub const EXIT_UNREADABLE: u8 = 2;
