//! A cheap pass over one unit's top-level DIEs: names, tags, declaration flags, and for variables
//! the `DW_OP_addr` location. Children are skipped through `DW_AT_sibling` when present, so a
//! unit's function bodies and struct members are never decoded.

use std::collections::HashMap;

use gimli::{constants as dw, AttributeValue, EndianSlice, LittleEndian, UnitOffset};

pub(crate) type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// How a DIE's name is stored, comparable without reading the string for `.debug_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NameKey {
    /// Offset in `.debug_str` (`DW_FORM_strp`, or `strx` resolved).
    Str(u64),
    /// `DW_FORM_string`: position and length in `.debug_info`.
    Inline(u64, u32),
    /// Offset in `.debug_line_str`.
    LineStr(u64),
}

/// The kinds of top-level DIE we index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Aggregate,
    Enum,
    Typedef,
    Base,
    Variable,
}

#[derive(Debug, Clone)]
pub(crate) struct SkimEntry {
    pub key: NameKey,
    pub kind: EntryKind,
    /// Unit-relative offset of the DIE (the definition, for variables with a specification).
    pub offset: u32,
    pub declaration: bool,
    /// `DW_OP_addr` of a variable's location.
    pub address: Option<u64>,
}

/// The indexed top-level DIEs of one unit, sorted by key.
#[derive(Debug, Default)]
pub(crate) struct UnitSkim {
    pub entries: Vec<SkimEntry>,
}

impl UnitSkim {
    /// Entries whose name is one of `str_offsets` (in `.debug_str`) or equals `name` bytes.
    pub fn matching<'s>(
        &'s self,
        str_offsets: &'s [u64],
        name: &'s [u8],
        bytes_of: impl Fn(NameKey) -> Option<&'s [u8]> + 's,
    ) -> impl Iterator<Item = &'s SkimEntry> + 's {
        let by_str = str_offsets.iter().flat_map(move |&o| {
            let first = self.entries.partition_point(|e| e.key < NameKey::Str(o));
            self.entries[first..]
                .iter()
                .take_while(move |e| e.key == NameKey::Str(o))
        });
        let first_other = self
            .entries
            .partition_point(|e| matches!(e.key, NameKey::Str(_)));
        let others = self.entries[first_other..]
            .iter()
            .filter(move |e| bytes_of(e.key) == Some(name));
        by_str.chain(others)
    }
}

fn kind_of(tag: gimli::DwTag) -> Option<EntryKind> {
    Some(match tag {
        dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type => {
            EntryKind::Aggregate
        }
        dw::DW_TAG_enumeration_type => EntryKind::Enum,
        dw::DW_TAG_typedef => EntryKind::Typedef,
        dw::DW_TAG_base_type => EntryKind::Base,
        dw::DW_TAG_variable => EntryKind::Variable,
        _ => return None,
    })
}

/// How a name attribute's value is stored, as a [`NameKey`] (`None` for forms that hold no name).
fn name_key(
    dwarf: &gimli::Dwarf<Slice<'_>>,
    header: &gimli::UnitHeader<Slice<'_>>,
    str_offsets_base: gimli::DebugStrOffsetsBase,
    info_start: usize,
    v: AttributeValue<Slice<'_>>,
) -> gimli::Result<Option<NameKey>> {
    Ok(match v {
        AttributeValue::DebugStrRef(o) => Some(NameKey::Str(o.0 as u64)),
        AttributeValue::DebugLineStrRef(o) => Some(NameKey::LineStr(o.0 as u64)),
        AttributeValue::String(s) => {
            let pos = (s.slice().as_ptr() as usize).wrapping_sub(info_start) as u64;
            Some(NameKey::Inline(
                pos,
                u32::try_from(s.len()).unwrap_or(u32::MAX),
            ))
        }
        AttributeValue::DebugStrOffsetsIndex(i) => {
            let o = dwarf
                .debug_str_offsets
                .get_str_offset(header.format(), str_offsets_base, i)?;
            Some(NameKey::Str(o.0 as u64))
        }
        _ => None,
    })
}

/// The `DW_AT_str_offsets_base` of a unit (read from its root DIE), or the default for its encoding.
fn str_offsets_base_of(
    raw: &mut gimli::EntriesRaw<'_, Slice<'_>>,
    root: &gimli::Abbreviation,
    header: &gimli::UnitHeader<Slice<'_>>,
) -> gimli::Result<gimli::DebugStrOffsetsBase> {
    let mut base = gimli::DebugStrOffsetsBase::default_for_encoding_and_file(
        header.encoding(),
        gimli::DwarfFileType::Main,
    );
    for spec in root.attributes() {
        let attr = raw.read_attribute(*spec)?;
        if attr.name() == dw::DW_AT_str_offsets_base {
            if let AttributeValue::DebugStrOffsetsBase(b) = attr.value() {
                base = b;
            }
        }
    }
    Ok(base)
}

/// The enumerators of one unit's top-level enums (named or anonymous): each enumerator's name and the
/// unit-relative offset of the enumeration DIE that holds it, sorted by name key. Built only for enumerator
/// questions (the type skim never reads an enum's children).
pub(crate) fn skim_enumerators(
    dwarf: &gimli::Dwarf<Slice<'_>>,
    header: &gimli::UnitHeader<Slice<'_>>,
    abbrevs: &gimli::Abbreviations,
    info_start: usize,
) -> gimli::Result<Vec<(NameKey, u32)>> {
    let mut raw = header.entries_raw(abbrevs, None)?;
    let Some(root) = raw.read_abbreviation()? else {
        return Ok(Vec::new());
    };
    let str_offsets_base = str_offsets_base_of(&mut raw, root, header)?;
    if !root.has_children() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    // The enumeration DIE whose children are being read (depth 2 under it), if any.
    let mut in_enum: Option<u32> = None;
    let mut depth = 1isize;
    while !raw.is_empty() {
        let offset = raw.next_offset();
        let Some(abbrev) = raw.read_abbreviation()? else {
            depth -= 1;
            if depth <= 1 {
                in_enum = None;
            }
            if depth <= 0 {
                break;
            }
            continue;
        };
        let tag = abbrev.tag();
        if depth == 2 && in_enum.is_some() && tag == dw::DW_TAG_enumerator {
            let mut key = None;
            for spec in abbrev.attributes() {
                if spec.name() == dw::DW_AT_name {
                    let v = raw.read_attribute(*spec)?.value();
                    key = name_key(dwarf, header, str_offsets_base, info_start, v)?;
                } else {
                    raw.skip_attributes(std::slice::from_ref(spec))?;
                }
            }
            if let (Some(key), Some(e)) = (key, in_enum) {
                out.push((key, e));
            }
            if abbrev.has_children() {
                depth += 1;
            }
            continue;
        }
        if depth == 1 && tag == dw::DW_TAG_enumeration_type && abbrev.has_children() {
            raw.skip_attributes(abbrev.attributes())?;
            in_enum = u32::try_from(offset.0).ok();
            depth += 1;
            continue;
        }
        // Anything else: skip its children through DW_AT_sibling when it has one.
        let mut sibling = None;
        for spec in abbrev.attributes() {
            if depth == 1 && spec.name() == dw::DW_AT_sibling {
                if let AttributeValue::UnitRef(o) = raw.read_attribute(*spec)?.value() {
                    sibling = Some(o);
                }
            } else {
                raw.skip_attributes(std::slice::from_ref(spec))?;
            }
        }
        if abbrev.has_children() {
            match sibling {
                Some(s) if s.0 > offset.0 => raw = header.entries_raw(abbrevs, Some(s))?,
                _ => depth += 1,
            }
        }
    }
    out.sort_unstable();
    out.shrink_to_fit();
    Ok(out)
}

/// Skims a unit. `info_start` is the address of `.debug_info`'s first byte (to place inline names).
pub(crate) fn skim_unit(
    dwarf: &gimli::Dwarf<Slice<'_>>,
    header: &gimli::UnitHeader<Slice<'_>>,
    abbrevs: &gimli::Abbreviations,
    info_start: usize,
) -> gimli::Result<UnitSkim> {
    let mut raw = header.entries_raw(abbrevs, None)?;
    let Some(root) = raw.read_abbreviation()? else {
        return Ok(UnitSkim::default());
    };
    let str_offsets_base = str_offsets_base_of(&mut raw, root, header)?;
    if !root.has_children() {
        return Ok(UnitSkim::default());
    }
    let key_of = |v| name_key(dwarf, header, str_offsets_base, info_start, v);
    let mut entries = Vec::new();
    // Names of variable declarations, for definitions that only carry DW_AT_specification.
    let mut declared: HashMap<u32, NameKey> = HashMap::new();
    let mut depth = 1isize;
    while !raw.is_empty() {
        let offset = raw.next_offset();
        let Some(abbrev) = raw.read_abbreviation()? else {
            depth -= 1;
            if depth <= 0 {
                break;
            }
            continue;
        };
        if depth != 1 {
            raw.skip_attributes(abbrev.attributes())?;
            if abbrev.has_children() {
                depth += 1;
            }
            continue;
        }
        let kind = kind_of(abbrev.tag());
        let (mut key, mut declaration, mut sibling, mut address, mut specification) =
            (None, false, None, None, None);
        for spec in abbrev.attributes() {
            match spec.name() {
                dw::DW_AT_sibling => {
                    if let AttributeValue::UnitRef(o) = raw.read_attribute(*spec)?.value() {
                        sibling = Some(o);
                    }
                }
                dw::DW_AT_name if kind.is_some() => {
                    key = key_of(raw.read_attribute(*spec)?.value())?
                }
                dw::DW_AT_declaration if kind.is_some() => {
                    declaration = matches!(
                        raw.read_attribute(*spec)?.value(),
                        AttributeValue::Flag(true)
                    )
                }
                dw::DW_AT_location if kind == Some(EntryKind::Variable) => {
                    if let AttributeValue::Exprloc(e) = raw.read_attribute(*spec)?.value() {
                        let b = e.0.slice();
                        if b.len() == 9 && b[0] == dw::DW_OP_addr.0 {
                            let mut a = [0u8; 8];
                            a.copy_from_slice(&b[1..9]);
                            address = Some(u64::from_le_bytes(a));
                        }
                    }
                }
                dw::DW_AT_specification if kind == Some(EntryKind::Variable) => {
                    if let AttributeValue::UnitRef(o) = raw.read_attribute(*spec)?.value() {
                        specification = Some(o);
                    }
                }
                _ => raw.skip_attributes(std::slice::from_ref(spec))?,
            }
        }
        if let Some(kind) = kind {
            let off32 = u32::try_from(offset.0).unwrap_or(u32::MAX);
            if key.is_none() {
                if let Some(UnitOffset(s)) = specification {
                    key = u32::try_from(s)
                        .ok()
                        .and_then(|s| declared.get(&s).copied());
                }
            }
            if let Some(key) = key {
                if kind == EntryKind::Variable && declaration {
                    declared.insert(off32, key);
                }
                entries.push(SkimEntry {
                    key,
                    kind,
                    offset: off32,
                    declaration,
                    address,
                });
            }
        }
        if abbrev.has_children() {
            match sibling {
                Some(s) if s.0 > offset.0 => raw = header.entries_raw(abbrevs, Some(s))?,
                _ => depth += 1,
            }
        }
    }
    entries.sort_unstable_by_key(|e| (e.key, e.offset));
    entries.shrink_to_fit();
    Ok(UnitSkim { entries })
}
