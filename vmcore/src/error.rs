//! Errors as data.
//!
//! Opening a dump fails with [`Error`], which always names the file, the offset and what was expected there.
//! Reading memory from an opened dump fails with [`ReadError`], which is small and cheap (reads are hot) and
//! tells *why* a page is not there: a page that was filtered out is a different answer from a page the
//! dump never covered, and both differ from a corrupt one.

use std::path::{Path, PathBuf};

/// An error opening or parsing a dump file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or mapped.
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes at `offset` are not what the format requires.
    #[error("{}: offset {offset:#x}: expected {expected}", file.display())]
    Malformed {
        file: PathBuf,
        offset: u64,
        expected: String,
    },
    /// The file ends before a structure it declares.
    #[error("{}: truncated: {what} needs bytes {offset:#x}..{end:#x} but the {kind} has {len:#x}", file.display())]
    Truncated {
        file: PathBuf,
        what: String,
        offset: u64,
        end: u64,
        len: u64,
        /// "file", or "flattened stream" when the offsets are the stream's logical ones.
        kind: &'static str,
    },
    /// The file is not a dump format we know.
    #[error("{}: not a crash dump: first bytes {magic} match no known format (ELF core, kdump-compressed `KDUMP   `, flattened `makedumpfile`)", file.display())]
    UnknownFormat { file: PathBuf, magic: String },
    /// The dump's kernel ran on an architecture whose addresses are not translated here.
    #[error("{}: unsupported architecture {machine}: vmtaint reads x86_64 and aarch64 kernels", file.display())]
    UnsupportedArchitecture { file: PathBuf, machine: String },
    /// A kernel address could not be translated because the dump lacks what translation needs.
    #[error("{}: cannot translate kernel addresses: {detail}", file.display())]
    NoTranslation { file: PathBuf, detail: String },
}

impl Error {
    pub(crate) fn malformed(file: &Path, offset: u64, expected: impl Into<String>) -> Self {
        Error::Malformed {
            file: file.to_path_buf(),
            offset,
            expected: expected.into(),
        }
    }
}

/// Why a read of dump memory failed: the one read error of every layer (see the `kmem` crate).
pub use kmem::ReadError;
