//! Targeted DWARF lookups: find the one unit that defines a name, then convert only that DIE.
//!
//! Search order for a name: units already skimmed (cached), then units suggested by a hint (the
//! unit of the symbol's source file), then every other unit in link order, a batch at a time
//! in parallel, stopping at the first batch with a definition. A name is matched by its
//! `.debug_str` offset (the linker merges identical strings), so skimming compares integers.

mod convert;
pub(crate) mod forms;
mod skim;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gimli::{EndianSlice, LittleEndian, SectionId, UnitOffset};
use rayon::prelude::*;

use crate::elf::{self, ElfImage};

pub(crate) use convert::Converter;
pub(crate) use skim::EntryKind;
use skim::{NameKey, Slice, UnitSkim};

/// The debug sections' bytes (borrowed from the mapping, or decompressed).
pub(crate) struct DwarfBytes<'a> {
    sections: HashMap<SectionId, &'a [u8]>,
    /// The file behind the mapped sections: for `pread` of small scattered pieces and for
    /// dropping pages once read (the kernel maps up to 64 KiB around every fault, so scattered
    /// reads over a 160 MB section would otherwise make most of it resident).
    image: &'a ElfImage,
}

impl<'a> DwarfBytes<'a> {
    pub fn new(sections: HashMap<SectionId, &'a [u8]>, image: &'a ElfImage) -> Self {
        DwarfBytes { sections, image }
    }

    /// Drops the pages of `range` of section `id` from the resident set (mapped sections only).
    fn release(&self, id: SectionId, range: std::ops::Range<usize>) {
        if let Some(s) = self.get(id).get(range) {
            elf::release_slice(&self.image.map, s);
        }
    }

    /// Copies `buf.len()` bytes (fewer at the end) of section `id` from `offset`, by `pread`
    /// when the section is mapped (no page becomes resident), else from memory.
    fn copy(&self, id: SectionId, offset: usize, buf: &mut [u8]) -> usize {
        let section = self.get(id);
        let n = buf.len().min(section.len().saturating_sub(offset));
        if n == 0 {
            return 0;
        }
        if !elf::read_at(
            &self.image.map,
            &self.image.file,
            section,
            offset as u64,
            &mut buf[..n],
        ) {
            buf[..n].copy_from_slice(&section[offset..offset + n]);
        }
        n
    }

    pub fn get(&self, id: SectionId) -> &[u8] {
        self.sections.get(&id).copied().unwrap_or(&[])
    }
    pub fn dwarf(&self) -> gimli::Dwarf<Slice<'_>> {
        let mut d = gimli::Dwarf::load(|id| {
            Ok::<_, std::convert::Infallible>(EndianSlice::new(self.get(id), LittleEndian))
        })
        .unwrap_or_else(|e: std::convert::Infallible| match e {});
        d.file_type = gimli::DwarfFileType::Main;
        d
    }
}

/// A unit's enumerator names, each with the unit-relative offset of its enumeration DIE, sorted by name key.
type Enumerators = Vec<(NameKey, u32)>;

/// One unit in `.debug_info`.
pub(crate) struct UnitEntry {
    pub offset: usize,
    pub len: usize,
    skim: OnceLock<Arc<UnitSkim>>,
    /// Enumerator names of the unit's top-level enums and their enum DIE (built for enumerator questions).
    enumerators: OnceLock<Arc<Enumerators>>,
    abbrevs: OnceLock<Arc<gimli::Abbreviations>>,
    name: OnceLock<Option<String>>,
}

/// Where a definition was found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    pub unit: usize,
    pub die: u32,
}

/// What to look for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query<'q> {
    pub name: &'q str,
    pub kind: EntryKind,
    /// For variables: the symbol's address, to pick the right `static` among duplicates.
    pub address: Option<u64>,
}

/// Lazily built, cached knowledge about the units.
pub(crate) struct DwarfIndex {
    units: OnceLock<Result<Vec<UnitEntry>, String>>,
    str_offsets: Mutex<HashMap<String, Arc<Vec<u64>>>>,
}

/// Units skimmed per parallel batch in the sequential fallback.
const BATCH: usize = 16;

impl DwarfIndex {
    pub fn new() -> Self {
        DwarfIndex {
            units: OnceLock::new(),
            str_offsets: Mutex::new(HashMap::new()),
        }
    }

    pub fn units(&self, bytes: &DwarfBytes<'_>) -> Result<&[UnitEntry], String> {
        self.units
            .get_or_init(|| {
                // Only each unit's length and version are read here (a few bytes per unit, by
                // pread); gimli parses the full header when a unit is used.
                let total = bytes.get(SectionId::DebugInfo).len();
                let mut out = Vec::new();
                let mut offset = 0usize;
                while offset < total {
                    let mut head = [0u8; 14];
                    let n = bytes.copy(SectionId::DebugInfo, offset, &mut head);
                    let err =
                        |what: &str| format!(".debug_info unit header at {offset:#x}: {what}");
                    if n < 4 {
                        return Err(err("cut short"));
                    }
                    let len32 = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
                    let (len, version_at) = if len32 == 0xffff_ffff {
                        if n < 14 {
                            return Err(err("cut short"));
                        }
                        let mut l = [0u8; 8];
                        l.copy_from_slice(&head[4..12]);
                        (u64::from_le_bytes(l).checked_add(12), 12)
                    } else if len32 >= 0xffff_fff0 {
                        return Err(err("reserved unit length"));
                    } else {
                        (Some(u64::from(len32) + 4), 4)
                    };
                    let len = len
                        .and_then(|l| usize::try_from(l).ok())
                        .filter(|&l| offset.checked_add(l).is_some_and(|end| end <= total))
                        .ok_or_else(|| err("unit runs past the end of the section"))?;
                    let version = u16::from_le_bytes([head[version_at], head[version_at + 1]]);
                    if !(2..=5).contains(&version) || len < version_at + 2 {
                        return Err(err(&format!("unsupported DWARF version {version}")));
                    }
                    out.push(UnitEntry {
                        offset,
                        len,
                        skim: OnceLock::new(),
                        enumerators: OnceLock::new(),
                        abbrevs: OnceLock::new(),
                        name: OnceLock::new(),
                    });
                    offset += len;
                }
                Ok(out)
            })
            .as_deref()
            .map_err(Clone::clone)
    }

    pub fn header<'b>(
        &self,
        bytes: &'b DwarfBytes<'_>,
        unit: &UnitEntry,
    ) -> Result<gimli::UnitHeader<Slice<'b>>, String> {
        let info = gimli::DebugInfo::new(bytes.get(SectionId::DebugInfo), LittleEndian);
        info.header_from_offset(gimli::DebugInfoOffset(unit.offset))
            .map_err(|e| format!("unit header at {:#x}: {e}", unit.offset))
    }

    fn abbrevs(
        &self,
        bytes: &DwarfBytes<'_>,
        unit: &UnitEntry,
    ) -> Result<Arc<gimli::Abbreviations>, String> {
        if let Some(a) = unit.abbrevs.get() {
            return Ok(a.clone());
        }
        let header = self.header(bytes, unit)?;
        let abbrev = gimli::DebugAbbrev::new(bytes.get(SectionId::DebugAbbrev), LittleEndian);
        let a = Arc::new(
            header
                .abbreviations(&abbrev)
                .map_err(|e| format!("abbreviations of unit at {:#x}: {e}", unit.offset))?,
        );
        Ok(unit.abbrevs.get_or_init(|| a).clone())
    }

    fn skim(&self, bytes: &DwarfBytes<'_>, unit: &UnitEntry) -> Result<Arc<UnitSkim>, String> {
        if let Some(s) = unit.skim.get() {
            return Ok(s.clone());
        }
        let dwarf = bytes.dwarf();
        let header = self.header(bytes, unit)?;
        let abbrevs = self.abbrevs(bytes, unit)?;
        let info_start = bytes.get(SectionId::DebugInfo).as_ptr() as usize;
        let s = skim::skim_unit(&dwarf, &header, &abbrevs, info_start)
            .map_err(|e| format!("unit at {:#x}: {e}", unit.offset))?;
        bytes.release(SectionId::DebugInfo, unit.offset..unit.offset + unit.len);
        Ok(unit.skim.get_or_init(|| Arc::new(s)).clone())
    }

    fn enumerators(
        &self,
        bytes: &DwarfBytes<'_>,
        unit: &UnitEntry,
    ) -> Result<Arc<Enumerators>, String> {
        if let Some(s) = unit.enumerators.get() {
            return Ok(s.clone());
        }
        let dwarf = bytes.dwarf();
        let header = self.header(bytes, unit)?;
        let abbrevs = self.abbrevs(bytes, unit)?;
        let info_start = bytes.get(SectionId::DebugInfo).as_ptr() as usize;
        let s = skim::skim_enumerators(&dwarf, &header, &abbrevs, info_start)
            .map_err(|e| format!("unit at {:#x}: {e}", unit.offset))?;
        bytes.release(SectionId::DebugInfo, unit.offset..unit.offset + unit.len);
        Ok(unit.enumerators.get_or_init(|| Arc::new(s)).clone())
    }

    /// The enum that defines enumerator `name`: a top-level enumeration with an enumerator of that name,
    /// searched first in the units already read for other questions (those that define the structures and
    /// variables the enum goes with), then in link order. `Found::die` is the enumeration DIE.
    pub fn find_enumerator(
        &self,
        bytes: &DwarfBytes<'_>,
        name: &str,
    ) -> Result<Option<Found>, String> {
        let units = self.units(bytes)?;
        let offsets = self.str_offsets_of(bytes, name);
        // Neither in .debug_str nor short enough to be stored inline: no unit can name it.
        if offsets.is_empty() && name.len() > 16 {
            return Ok(None);
        }
        let matches = |list: &[(NameKey, u32)]| -> Option<u32> {
            let by_str = offsets.iter().find_map(|&o| {
                let i = list.partition_point(|(k, _)| *k < NameKey::Str(o));
                list.get(i)
                    .filter(|(k, _)| *k == NameKey::Str(o))
                    .map(|e| e.1)
            });
            by_str.or_else(|| {
                list.iter()
                    .filter(|(k, _)| !matches!(k, NameKey::Str(_)))
                    .find(|(k, _)| Self::key_bytes(bytes, *k) == Some(name.as_bytes()))
                    .map(|e| e.1)
            })
        };
        let read = |u: &UnitEntry| u.skim.get().is_some() || u.enumerators.get().is_some();
        let (read, rest): (Vec<usize>, Vec<usize>) =
            (0..units.len()).partition(|&i| read(&units[i]));
        // The units already read one by one (the first usually has it), the rest a parallel batch at a time.
        for &i in &read {
            if let Some(die) = matches(&self.enumerators(bytes, &units[i])?) {
                return Ok(Some(Found { unit: i, die }));
            }
        }
        for chunk in rest.chunks(BATCH) {
            let lists: Vec<Result<Arc<Enumerators>, String>> = chunk
                .par_iter()
                .map(|&i| self.enumerators(bytes, &units[i]))
                .collect();
            for (&i, list) in chunk.iter().zip(lists) {
                if let Some(die) = matches(&list?) {
                    return Ok(Some(Found { unit: i, die }));
                }
            }
        }
        Ok(None)
    }

    /// Offsets in `.debug_str` where the NUL-terminated `name` starts (several if not merged).
    fn str_offsets_of(&self, bytes: &DwarfBytes<'_>, name: &str) -> Arc<Vec<u64>> {
        let mut cache = self.str_offsets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(name) {
            return v.clone();
        }
        let mut needle = name.as_bytes().to_vec();
        needle.push(0);
        let v: Vec<u64> = memchr::memmem::find_iter(bytes.get(SectionId::DebugStr), &needle)
            .map(|o| o as u64)
            .collect();
        let v = Arc::new(v);
        cache.insert(name.to_string(), v.clone());
        v
    }

    fn key_bytes<'b>(bytes: &'b DwarfBytes<'_>, key: NameKey) -> Option<&'b [u8]> {
        let (section, start, len) = match key {
            NameKey::Inline(pos, len) => (
                bytes.get(SectionId::DebugInfo),
                pos as usize,
                Some(len as usize),
            ),
            NameKey::LineStr(o) => (bytes.get(SectionId::DebugLineStr), o as usize, None),
            NameKey::Str(o) => (bytes.get(SectionId::DebugStr), o as usize, None),
        };
        let rest = section.get(start..)?;
        let len = len.unwrap_or_else(|| rest.iter().position(|&c| c == 0).unwrap_or(rest.len()));
        rest.get(..len)
    }

    /// Does this unit's skim define the query? Returns the DIE offset. For variables a
    /// definition with a matching address wins; a declaration is returned only as
    /// `Err(offset)` (a fallback).
    fn match_in(
        &self,
        bytes: &DwarfBytes<'_>,
        skim: &UnitSkim,
        q: &Query<'_>,
        offsets: &[u64],
    ) -> Option<Result<u32, u32>> {
        let mut declaration = None;
        for e in skim.matching(offsets, q.name.as_bytes(), |k| Self::key_bytes(bytes, k)) {
            if e.kind != q.kind {
                continue;
            }
            if e.declaration {
                declaration.get_or_insert(e.offset);
                continue;
            }
            match (q.address, e.address) {
                (Some(want), Some(have)) if want != have => continue,
                _ => return Some(Ok(e.offset)),
            }
        }
        declaration.map(Err)
    }

    /// Finds a definition, trying `hints` (unit indexes) before the rest.
    pub fn find(
        &self,
        bytes: &DwarfBytes<'_>,
        q: &Query<'_>,
        hints: &[usize],
    ) -> Result<Option<Found>, String> {
        let units = self.units(bytes)?;
        let offsets = self.str_offsets_of(bytes, q.name);
        let mut fallback_decl: Option<Found> = None;
        let mut check = |i: usize, skim: &UnitSkim| -> Option<Found> {
            match self.match_in(bytes, skim, q, &offsets) {
                Some(Ok(die)) => Some(Found { unit: i, die }),
                Some(Err(die)) => {
                    fallback_decl.get_or_insert(Found { unit: i, die });
                    None
                }
                None => None,
            }
        };
        // A name absent from .debug_str and short enough to be inline may still match inline.
        // 1. Cached skims.
        for (i, u) in units.iter().enumerate() {
            if let Some(s) = u.skim.get() {
                if let Some(f) = check(i, s) {
                    return Ok(Some(f));
                }
            }
        }
        // 2. Hinted units.
        for &i in hints {
            if let Some(u) = units.get(i) {
                if u.skim.get().is_none() {
                    let s = self.skim(bytes, u)?;
                    if let Some(f) = check(i, &s) {
                        return Ok(Some(f));
                    }
                }
            }
        }
        // A name that is neither in .debug_str nor short enough to be stored inline cannot match.
        if offsets.is_empty() && q.name.len() > 16 {
            return Ok(fallback_decl);
        }
        // 3. Everything else, in link order, a parallel batch at a time.
        let todo: Vec<usize> = (0..units.len())
            .filter(|&i| units[i].skim.get().is_none())
            .collect();
        for chunk in todo.chunks(BATCH) {
            let skims: Vec<Result<Arc<UnitSkim>, String>> = chunk
                .par_iter()
                .map(|&i| self.skim(bytes, &units[i]))
                .collect();
            for (&i, s) in chunk.iter().zip(skims) {
                if let Some(f) = check(i, &*s?) {
                    return Ok(Some(f));
                }
            }
        }
        Ok(fallback_decl)
    }

    /// A converter over unit `i` (with its cached abbreviations).
    pub fn with_unit<T>(
        &self,
        bytes: &DwarfBytes<'_>,
        i: usize,
        f: impl FnOnce(&Converter<'_, '_>) -> Result<T, String>,
    ) -> Result<T, String> {
        let units = self.units(bytes)?;
        let entry = units.get(i).ok_or("unit index out of range")?;
        let dwarf = bytes.dwarf();
        let header = self.header(bytes, entry)?;
        let abbrevs = self.abbrevs(bytes, entry)?;
        let unit = gimli::Unit::new_with_abbreviations(&dwarf, header, abbrevs)
            .map_err(|e| format!("unit at {:#x} (root DIE): {e}", entry.offset))?;
        f(&Converter {
            dwarf: &dwarf,
            unit: &unit,
        })
    }

    pub fn die_offset(found: Found) -> UnitOffset {
        UnitOffset(found.die as usize)
    }

    /// The root DIE name (source file) of unit `i`, read by `pread` from a few bytes of the
    /// unit, its abbreviation table and the string section; cached.
    pub fn unit_name(&self, bytes: &DwarfBytes<'_>, i: usize) -> Option<String> {
        let units = self.units(bytes).ok()?;
        let unit = units.get(i)?;
        unit.name
            .get_or_init(|| {
                let header = self.header(bytes, unit).ok()?;
                let mut die = [0u8; 256];
                let n = bytes.copy(
                    SectionId::DebugInfo,
                    unit.offset + header.header_size(),
                    &mut die,
                );
                let mut abbrev = [0u8; 512];
                let abbrev_off = header.debug_abbrev_offset().0;
                let m = bytes.copy(SectionId::DebugAbbrev, abbrev_off, &mut abbrev);
                let name = forms::root_name(
                    &die[..n],
                    0,
                    &abbrev[..m],
                    0,
                    usize::from(header.format().word_size()),
                    usize::from(header.address_size()),
                    header.version(),
                );
                let string_at = |id: SectionId, o: u64| {
                    let mut buf = [0u8; 512];
                    let n = bytes.copy(id, usize::try_from(o).ok()?, &mut buf);
                    let len = buf[..n].iter().position(|&c| c == 0)?;
                    Some(String::from_utf8_lossy(&buf[..len]).into_owned())
                };
                match name {
                    Some(forms::RootName::Inline(b)) => {
                        Some(String::from_utf8_lossy(b).into_owned())
                    }
                    Some(forms::RootName::Str(o)) => string_at(SectionId::DebugStr, o),
                    Some(forms::RootName::LineStr(o)) => string_at(SectionId::DebugLineStr, o),
                    // Unusual encodings (strx, a root abbreviation far into its table): let
                    // gimli parse the unit.
                    Some(forms::RootName::Indexed) | None => self
                        .with_unit(bytes, i, |c| {
                            Ok(c.unit
                                .name
                                .map(|n| String::from_utf8_lossy(n.slice()).into_owned()))
                        })
                        .ok()
                        .flatten(),
                }
            })
            .clone()
    }
}
