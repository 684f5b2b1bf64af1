//! Analyzers of kernel taint over a [`Target`]: taint flags, modules, signatures, unloaded modules, kernel log,
//! taint timeline, panic, crash reports and the crash-site verdict, module load failures. Each returns plain
//! serde data and its own errors.
//!
//! A kernel log saved as text needs no dump: [`text_log::read_text_log`] reads it (streaming) into the same
//! records the in-memory readers yield, and [`log_report::report_from_log`] makes the report a log can give.
//! Human text lives in the `render` crate.

pub mod crash_report;
pub mod crash_site;
pub mod document;
/// Test support: an in-memory target (feature `fake`; the crate's own tests always have it).
#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod hex;
pub mod kernel_log;
pub mod keyrings;
pub mod load_failures;
pub mod log_fill;
pub mod log_report;
mod memread;
pub mod module_params;
pub mod modules;
pub mod panic;
pub mod report;
pub mod resolve;
pub mod signatures;
pub mod taint;
pub mod target;
pub mod text_log;
pub mod timeline;
pub mod unloaded;

pub use target::{Member, ReadError, Target, TypeRef};
