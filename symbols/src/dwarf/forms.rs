//! Just enough DWARF decoding to read a unit's root DIE name without parsing the unit's whole
//! abbreviation table (gimli parses the table eagerly, which costs ~50 us per unit; the kernel
//! has thousands of units and we only want their names to place symbol hints).

use gimli::constants as dw;

pub(crate) struct Cursor<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Cursor { data, pos }
    }
    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    pub fn skip(&mut self, n: u64) -> Option<()> {
        let n = usize::try_from(n).ok()?;
        let end = self.pos.checked_add(n)?;
        (end <= self.data.len()).then(|| self.pos = end)
    }
    pub fn uint(&mut self, n: usize) -> Option<u64> {
        let end = self.pos.checked_add(n)?;
        let b = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(
            b.iter()
                .rev()
                .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
        )
    }
    pub fn uleb(&mut self) -> Option<u64> {
        let mut result = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            if shift < 64 {
                result |= u64::from(b & 0x7f) << shift;
            }
            if b & 0x80 == 0 {
                return Some(result);
            }
            shift += 7;
        }
    }
    pub fn cstr(&mut self) -> Option<&'a [u8]> {
        let rest = self.data.get(self.pos..)?;
        let n = rest.iter().position(|&c| c == 0)?;
        self.pos += n + 1;
        Some(&rest[..n])
    }
}

/// A unit's root DIE name, as stored.
pub(crate) enum RootName<'a> {
    Inline(&'a [u8]),
    Str(u64),
    LineStr(u64),
    /// `DW_FORM_strx*` needs the unit's string-offsets base; callers fall back to gimli.
    Indexed,
}

/// Reads the `DW_AT_name` of the DIE at `die` whose abbreviation table starts at `abbrev_off`.
/// `offset_size` is 4 or 8, `addr_size` the unit's address size, `version` the DWARF version.
pub(crate) fn root_name<'a>(
    info: &'a [u8],
    die: usize,
    abbrev: &[u8],
    abbrev_off: usize,
    offset_size: usize,
    addr_size: usize,
    version: u16,
) -> Option<RootName<'a>> {
    let mut d = Cursor::new(info, die);
    let code = d.uleb()?;
    if code == 0 {
        return None;
    }
    // Find `code` in the table (the root's abbreviation is nearly always the first).
    let mut a = Cursor::new(abbrev, abbrev_off);
    let mut guard = 0u32;
    loop {
        guard += 1;
        if guard > 100_000 {
            return None;
        }
        let c = a.uleb()?;
        if c == 0 {
            return None;
        }
        let _tag = a.uleb()?;
        let _children = a.u8()?;
        if c == code {
            break;
        }
        loop {
            let (n, f) = (a.uleb()?, a.uleb()?);
            if f == u64::from(dw::DW_FORM_implicit_const.0) {
                a.uleb()?;
            }
            if n == 0 && f == 0 {
                break;
            }
        }
    }
    loop {
        let name = a.uleb()?;
        let mut form = a.uleb()?;
        if name == 0 && form == 0 {
            return None;
        }
        if form == u64::from(dw::DW_FORM_implicit_const.0) {
            a.uleb()?;
        }
        while form == u64::from(dw::DW_FORM_indirect.0) {
            form = d.uleb()?;
        }
        if name == u64::from(dw::DW_AT_name.0) {
            let form = dw::DwForm(u16::try_from(form).ok()?);
            return match form {
                dw::DW_FORM_string => Some(RootName::Inline(d.cstr()?)),
                dw::DW_FORM_strp => Some(RootName::Str(d.uint(offset_size)?)),
                dw::DW_FORM_line_strp => Some(RootName::LineStr(d.uint(offset_size)?)),
                dw::DW_FORM_strx
                | dw::DW_FORM_strx1
                | dw::DW_FORM_strx2
                | dw::DW_FORM_strx3
                | dw::DW_FORM_strx4 => Some(RootName::Indexed),
                _ => None,
            };
        }
        skip_form(&mut d, form, offset_size, addr_size, version)?;
    }
}

/// Skips one attribute value of `form`.
fn skip_form(
    d: &mut Cursor<'_>,
    form: u64,
    offset_size: usize,
    addr_size: usize,
    version: u16,
) -> Option<()> {
    let form = dw::DwForm(u16::try_from(form).ok()?);
    let fixed = |d: &mut Cursor<'_>, n: u64| d.skip(n);
    let os = offset_size as u64;
    match form {
        dw::DW_FORM_addr => fixed(d, addr_size as u64),
        dw::DW_FORM_data1
        | dw::DW_FORM_ref1
        | dw::DW_FORM_flag
        | dw::DW_FORM_strx1
        | dw::DW_FORM_addrx1 => fixed(d, 1),
        dw::DW_FORM_data2 | dw::DW_FORM_ref2 | dw::DW_FORM_strx2 | dw::DW_FORM_addrx2 => {
            fixed(d, 2)
        }
        dw::DW_FORM_strx3 | dw::DW_FORM_addrx3 => fixed(d, 3),
        dw::DW_FORM_data4
        | dw::DW_FORM_ref4
        | dw::DW_FORM_strx4
        | dw::DW_FORM_addrx4
        | dw::DW_FORM_ref_sup4 => fixed(d, 4),
        dw::DW_FORM_data8 | dw::DW_FORM_ref8 | dw::DW_FORM_ref_sig8 | dw::DW_FORM_ref_sup8 => {
            fixed(d, 8)
        }
        dw::DW_FORM_data16 => fixed(d, 16),
        dw::DW_FORM_strp
        | dw::DW_FORM_line_strp
        | dw::DW_FORM_sec_offset
        | dw::DW_FORM_strp_sup
        | dw::DW_FORM_GNU_ref_alt
        | dw::DW_FORM_GNU_strp_alt => fixed(d, os),
        dw::DW_FORM_ref_addr => fixed(d, if version <= 2 { addr_size as u64 } else { os }),
        dw::DW_FORM_flag_present | dw::DW_FORM_implicit_const => Some(()),
        dw::DW_FORM_sdata
        | dw::DW_FORM_udata
        | dw::DW_FORM_ref_udata
        | dw::DW_FORM_strx
        | dw::DW_FORM_addrx
        | dw::DW_FORM_loclistx
        | dw::DW_FORM_rnglistx
        | dw::DW_FORM_GNU_addr_index
        | dw::DW_FORM_GNU_str_index => d.uleb().map(drop),
        dw::DW_FORM_string => d.cstr().map(drop),
        dw::DW_FORM_block | dw::DW_FORM_exprloc => {
            let n = d.uleb()?;
            d.skip(n)
        }
        dw::DW_FORM_block1 => {
            let n = d.uint(1)?;
            d.skip(n)
        }
        dw::DW_FORM_block2 => {
            let n = d.uint(2)?;
            d.skip(n)
        }
        dw::DW_FORM_block4 => {
            let n = d.uint(4)?;
            d.skip(n)
        }
        _ => None,
    }
}
