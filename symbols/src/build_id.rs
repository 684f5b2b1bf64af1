//! GNU build-ids and the check against a dump's VMCOREINFO `BUILD-ID`.

use std::fmt;

use crate::error::{Error, Result};

/// A GNU build-id (usually 20 bytes of SHA-1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BuildId(pub Vec<u8>);

impl BuildId {
    /// Parses a hex string such as VMCOREINFO's `BUILD-ID=3b43fa...`; surrounding whitespace
    /// and case are ignored.
    pub fn from_hex(text: &str) -> Result<BuildId> {
        let t = text.trim();
        let bad = || Error::BadBuildId {
            text: text.to_string(),
        };
        if t.is_empty() || t.len() % 2 != 0 || t.len() > 1024 {
            return Err(bad());
        }
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8).ok_or_else(bad);
        t.as_bytes()
            .chunks(2)
            .map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?))
            .collect::<Result<Vec<u8>>>()
            .map(BuildId)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Reads only the build-id note of an ELF file (for discovery): headers and notes, nothing else.
pub fn read_build_id(path: &std::path::Path) -> Result<Option<BuildId>> {
    let image = crate::elf::ElfImage::open(path)?;
    Ok(image.build_id.map(BuildId))
}
