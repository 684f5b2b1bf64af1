//! Typed errors for everything this crate reads.

use std::path::PathBuf;

/// Everything that can go wrong while opening or querying a vmlinux.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or mapped.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not an ELF file, or an ELF this crate does not read (only 64-bit little-endian).
    #[error("{file}: not a usable vmlinux: {detail}")]
    NotElf {
        /// The file.
        file: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A structure points outside the file (cut short) or outside its section.
    #[error("{file}: truncated{}: {detail}", fmt_offset(*offset))]
    Truncated {
        /// The file.
        file: PathBuf,
        /// Byte offset in the file or section where reading failed, when known.
        offset: Option<u64>,
        /// What was being read.
        detail: String,
    },
    /// Bytes that do not parse as what they claim to be.
    #[error("{file}: malformed{}: {detail}", fmt_offset(*offset))]
    Malformed {
        /// The file.
        file: PathBuf,
        /// Byte offset (in the named section or file) where parsing failed, when known.
        offset: Option<u64>,
        /// What was wrong.
        detail: String,
    },
    /// The ELF has no DWARF type information (a stripped or non-debug kernel image).
    #[error("{file}: no DWARF debug info (.debug_info missing or empty); {hint}")]
    NoDebugInfo {
        /// The file.
        file: PathBuf,
        /// What to install or pass instead.
        hint: String,
    },
    /// The ELF has no `.symtab`.
    #[error("{file}: no symbol table (.symtab); {hint}")]
    NoSymbols {
        /// The file.
        file: PathBuf,
        /// What to install or pass instead.
        hint: String,
    },
    /// A symbol, type, member or variable is not there.
    #[error("{what} `{name}` not found in {file}")]
    NotFound {
        /// The file searched.
        file: PathBuf,
        /// The kind of thing looked for ("symbol", "struct or union", "member", ...).
        what: &'static str,
        /// The name looked for.
        name: String,
    },
    /// A struct or union has no such member.
    #[error(transparent)]
    NoMember(#[from] crate::types::NoSuchMember),
    /// The vmlinux was built from another kernel than the dump.
    #[error(
        "{file}: build-id {vmlinux_id} does not match the dump's BUILD-ID {dump_id} \
         (wrong vmlinux for this dump)"
    )]
    BuildIdMismatch {
        /// The vmlinux.
        file: PathBuf,
        /// The vmlinux's `.note.gnu.build-id`, hex.
        vmlinux_id: String,
        /// The dump's VMCOREINFO `BUILD-ID`, hex.
        dump_id: String,
    },
    /// The vmlinux carries no GNU build-id note, so it cannot be matched by build-id.
    #[error("{file}: no GNU build-id note")]
    NoBuildId {
        /// The file.
        file: PathBuf,
    },
    /// A build-id string that is not hex.
    #[error("build-id `{text}` is not a hex string")]
    BadBuildId {
        /// The text given.
        text: String,
    },
    /// Discovery found no matching vmlinux; every place looked at is listed.
    #[error("{}", fmt_not_discovered(release.as_deref(), build_id.as_deref(), looked))]
    NotDiscovered {
        /// The kernel release searched for (OSRELEASE).
        release: Option<String>,
        /// The build-id searched for, hex.
        build_id: Option<String>,
        /// Each place looked at and why it did not fit.
        looked: Vec<(PathBuf, String)>,
    },
}

/// Short alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn fmt_offset(offset: Option<u64>) -> String {
    offset
        .map(|o| format!(" at offset {o:#x}"))
        .unwrap_or_default()
}

fn fmt_not_discovered(
    release: Option<&str>,
    build_id: Option<&str>,
    looked: &[(PathBuf, String)],
) -> String {
    let mut s = String::from("no debug vmlinux found");
    if let Some(r) = release {
        s.push_str(&format!(" for release {r}"));
    }
    if let Some(b) = build_id {
        s.push_str(&format!(" with build-id {b}"));
    }
    s.push_str("; looked at:");
    for (path, why) in looked {
        s.push_str(&format!("\n  {}: {why}", path.display()));
    }
    if let Some(r) = release {
        s.push_str(&format!(
            "\nhint: install linux-image-{r}-dbg (Debian/Ubuntu) or kernel-debuginfo-{r} \
             (Fedora/RHEL), or pass --debuginfo-dir DIR / VMTAINT_DEBUGINFO_PATH"
        ));
    }
    s
}

/// The package hint for a missing or stripped debug vmlinux.
pub(crate) fn debug_package_hint(release: Option<&str>) -> String {
    let rel = release.unwrap_or("<release>");
    format!(
        "install the kernel's debug package (linux-image-{rel}-dbg on Debian/Ubuntu, \
         kernel-debuginfo-{rel} on Fedora/RHEL) and use /usr/lib/debug/boot/vmlinux-{rel}"
    )
}
