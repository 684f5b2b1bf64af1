//! The ELF container: a read-only mapping, the section table, notes and raw symbol table bytes.
//!
//! Opening reads only the ELF header, the section headers and the note sections, so it is cheap
//! even for a 600 MB debug vmlinux; everything else is touched on demand.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use object::elf;
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::{Endianness, Object, ObjectSection};

use crate::error::{Error, Result};

/// One section header, reduced to what this crate uses.
#[derive(Debug, Clone)]
pub(crate) struct SectionInfo {
    pub name: String,
    /// Virtual address for allocated sections, else 0.
    pub address: u64,
    /// Size in memory.
    pub size: u64,
    /// Bytes in the file; empty for `SHT_NOBITS`.
    pub file_range: Range<usize>,
    pub sh_type: u32,
    pub sh_flags: u64,
}

/// A mapped ELF64 little-endian file.
pub(crate) struct ElfImage {
    pub path: PathBuf,
    pub map: std::sync::Arc<Mmap>,
    /// The open file, for `pread` of small scattered pieces (see [`read_at`]).
    pub file: std::sync::Arc<File>,
    pub sections: Vec<SectionInfo>,
    pub build_id: Option<Vec<u8>>,
    pub machine: u16,
}

impl ElfImage {
    pub fn open(path: &Path) -> Result<ElfImage> {
        let io = |source| Error::Io {
            file: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the mapping is read-only and private to this process. A debug vmlinux is not
        // modified while we read it; if it were truncated underneath us, reads could fault, which
        // is the accepted trade-off of mmap for multi-hundred-MB inputs (every tool does this).
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let mut image = ElfImage {
            path: path.to_path_buf(),
            map: std::sync::Arc::new(map),
            file: std::sync::Arc::new(file),
            sections: Vec::new(),
            build_id: None,
            machine: 0,
        };
        image.parse_headers()?;
        Ok(image)
    }

    pub fn data(&self) -> &[u8] {
        &self.map
    }

    fn not_elf(&self, detail: impl Into<String>) -> Error {
        Error::NotElf {
            file: self.path.clone(),
            detail: detail.into(),
        }
    }

    pub fn truncated(&self, offset: Option<u64>, detail: impl Into<String>) -> Error {
        Error::Truncated {
            file: self.path.clone(),
            offset,
            detail: detail.into(),
        }
    }

    pub fn malformed(&self, offset: Option<u64>, detail: impl Into<String>) -> Error {
        Error::Malformed {
            file: self.path.clone(),
            offset,
            detail: detail.into(),
        }
    }

    fn parse_headers(&mut self) -> Result<()> {
        let data: &[u8] = &self.map;
        match object::FileKind::parse(data) {
            Ok(object::FileKind::Elf64) => {}
            Ok(object::FileKind::Elf32) => return Err(self.not_elf("32-bit ELF is not supported")),
            Ok(kind) => return Err(self.not_elf(format!("not ELF ({kind:?})"))),
            Err(_) if data.len() < 64 && data.starts_with(b"\x7fELF") => {
                return Err(self.truncated(Some(0), "ELF header cut short"))
            }
            Err(_) => return Err(self.not_elf("no ELF magic")),
        }
        let header = elf::FileHeader64::<Endianness>::parse(data)
            .map_err(|e| self.truncated(Some(0), format!("ELF header: {e}")))?;
        let endian = header
            .endian()
            .map_err(|e| self.malformed(Some(5), e.to_string()))?;
        if endian != Endianness::Little {
            return Err(self.not_elf("big-endian ELF is not supported"));
        }
        self.machine = header.e_machine(endian).0;
        // Check the section header table against the file size first, so a cut file says so.
        let shoff = header.e_shoff(endian);
        let shnum = u64::from(header.e_shnum(endian));
        let shentsize = u64::from(header.e_shentsize(endian));
        let table_end = shnum
            .checked_mul(shentsize)
            .and_then(|n| n.checked_add(shoff));
        match table_end {
            Some(end) if end <= data.len() as u64 => {}
            Some(_) if shoff != 0 => {
                return Err(self.truncated(Some(shoff), "section header table beyond end of file"))
            }
            _ => return Err(self.malformed(Some(shoff), "bad section header table")),
        }
        let file = ElfFile64::<Endianness>::parse(data)
            .map_err(|e| self.malformed(None, format!("ELF: {e}")))?;
        let mut sections = Vec::new();
        for section in file.sections() {
            let name = section.name().unwrap_or("").to_string();
            let raw = section.elf_section_header();
            let sh_type = raw.sh_type(endian).0;
            let sh_flags = raw.sh_flags(endian).0;
            let file_range = match section.file_range() {
                Some((off, len)) => {
                    let end = off.checked_add(len).filter(|e| *e <= data.len() as u64);
                    match end {
                        Some(end) => off as usize..end as usize,
                        // Keep the section but with no bytes; users report Truncated on access.
                        None => usize::MAX..usize::MAX,
                    }
                }
                None => 0..0,
            };
            sections.push(SectionInfo {
                name,
                address: section.address(),
                size: section.size(),
                file_range,
                sh_type,
                sh_flags,
            });
        }
        self.sections = sections;
        self.build_id = match file.build_id() {
            Ok(id) => id.map(<[u8]>::to_vec),
            Err(e) => return Err(self.malformed(None, format!("notes: {e}"))),
        };
        Ok(())
    }

    pub fn section(&self, name: &str) -> Option<&SectionInfo> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The file bytes of a section; a section that runs past the end of the file is `Truncated`.
    pub fn section_bytes(&self, section: &SectionInfo) -> Result<&[u8]> {
        if section.file_range.start == usize::MAX {
            return Err(self.truncated(
                None,
                format!("section {} runs past end of file", section.name),
            ));
        }
        Ok(&self.map[section.file_range.clone()])
    }

    /// Bytes of the file backing the unrelocated virtual address range `[address, address+len)`,
    /// from an allocated section with file contents.
    pub fn bytes_at(&self, address: u64, len: u64) -> Option<&[u8]> {
        let end = address.checked_add(len)?;
        self.sections
            .iter()
            .filter(|s| s.sh_flags & elf::SHF_ALLOC.0 != 0 && s.sh_type != elf::SHT_NOBITS.0)
            .find(|s| s.address <= address && end <= s.address.saturating_add(s.size))
            .and_then(|s| {
                if s.file_range.start == usize::MAX {
                    return None;
                }
                let start = s
                    .file_range
                    .start
                    .checked_add(usize::try_from(address - s.address).ok()?)?;
                let stop = start.checked_add(usize::try_from(len).ok()?)?;
                (stop <= s.file_range.end).then(|| &self.map[start..stop])
            })
    }
}

/// Drops the pages of `s`, a slice of `map`, from the process's resident set (ignored if `s`
/// is not inside `map`). They are re-read from the page cache if touched again.
pub(crate) fn release_slice(map: &Mmap, s: &[u8]) {
    let base = map.as_ptr() as usize;
    let start = s.as_ptr() as usize;
    if start < base || start + s.len() > base + map.len() {
        return;
    }
    let page = 4096usize;
    let from = (start - base).next_multiple_of(page);
    let to = (start - base + s.len()) / page * page;
    if to > from {
        // SAFETY: the mapping is a read-only view of a file; MADV_DONTNEED only drops page table
        // entries, and later reads fault the same file contents back in, so no live slice into
        // the mapping changes value.
        #[cfg(unix)]
        #[allow(unsafe_code)]
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
        };
    }
}

/// Reads `buf.len()` bytes at `offset` of `section` (a slice of `map`) with `pread`, so that no
/// page of the mapping becomes resident (each fault would map up to 64 KiB around it). Returns
/// false if `section` is not part of `map` or the read fails; callers then copy from memory.
pub(crate) fn read_at(
    map: &Mmap,
    file: &File,
    section: &[u8],
    offset: u64,
    buf: &mut [u8],
) -> bool {
    let base = map.as_ptr() as usize;
    let start = section.as_ptr() as usize;
    if start < base || start + section.len() > base + map.len() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let at = (start - base) as u64 + offset;
        file.read_exact_at(buf, at).is_ok()
    }
    #[cfg(not(unix))]
    {
        let _ = (file, offset, buf);
        false
    }
}
