//! The `vmtaint` command's pieces, as a library so tests drive them directly: argument handling and output of
//! the `info`, `report`, `scan` and `summary` commands. The work itself is the `engine` crate's.

pub mod info;
pub mod report;
pub mod scan;
pub mod summary;

/// Exit status when the input cannot be read (the contract other tools rely on).
pub const EXIT_UNREADABLE: u8 = 2;
