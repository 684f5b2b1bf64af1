//! Analyzers of kernel taint over a [`Target`]: taint flags, modules, signatures, unloaded modules, kernel log,
//! taint timeline and panic. Each returns plain serde data and its own errors.

pub mod crash_report;
pub mod crash_site;
pub mod document;
/// Test support: an in-memory target (feature `fake`; the crate's own tests always have it).
#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod hex;
pub mod kernel_log;
pub mod load_failures;
pub mod log_report;
mod memread;
pub mod modules;
pub mod panic;
pub mod report;
pub mod signatures;
pub mod taint;
pub mod target;
pub mod text_log;
pub mod timeline;
pub mod unloaded;

pub use target::{Member, ReadError, Target, TypeRef};
