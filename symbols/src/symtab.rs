//! `.symtab`: name -> address, size, kind. Indexed lazily by name hash on first lookup.

use std::ops::Range;

/// What a symbol names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    /// `STT_OBJECT`: a variable.
    Object,
    /// `STT_FUNC`.
    Function,
    /// `STT_NOTYPE` (linker-script and assembly labels such as `_stext`).
    NoType,
    /// `STT_SECTION`.
    Section,
    /// `STT_FILE`.
    File,
    /// Anything else.
    Other,
}

/// A symbol from the vmlinux's `.symtab`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// The name.
    pub name: String,
    /// Unrelocated (link-time) address. Add the dump's KASLR slide with [`Symbol::relocated`].
    pub address: u64,
    /// Size in bytes (0 when the symbol has none).
    pub size: u64,
    /// What it names.
    pub kind: SymbolKind,
    /// True for `STB_LOCAL` (a `static` in C).
    pub local: bool,
    /// For local symbols, the source file name of its `STT_FILE` group (e.g. `panic.c`).
    pub file: Option<String>,
    /// Index in `.symtab`.
    pub index: usize,
}

impl Symbol {
    /// The address at run time given the KASLR slide (VMCOREINFO `KERNELOFFSET`).
    pub fn relocated(&self, slide: u64) -> u64 {
        self.address.wrapping_add(slide)
    }
}

const SYM_SIZE: usize = 24;

// ELF symbol binding and type values (st_info high and low nibbles).
pub(crate) const STB_LOCAL: u8 = 0;
pub(crate) const STT_NOTYPE: u8 = 0;
pub(crate) const STT_OBJECT: u8 = 1;
pub(crate) const STT_FUNC: u8 = 2;
pub(crate) const STT_SECTION: u8 = 3;
pub(crate) const STT_FILE: u8 = 4;

/// Buckets of the name index (2^16: the counts fit in L2 cache).
const BUCKETS: usize = 1 << 16;

fn bucket(hash: u64) -> usize {
    hash as usize & (BUCKETS - 1)
}

pub(crate) struct NameIndex {
    starts: Vec<u32>,
    entries: Vec<(u32, u32)>,
}

/// Raw `.symtab` + `.strtab` bytes with a name index built on first use.
pub(crate) struct SymbolTable {
    pub symtab: Range<usize>,
    pub strtab: Range<usize>,
    /// Open-addressing name table, see [`SymbolTable::index`].
    index: std::sync::OnceLock<NameIndex>,
    /// Indexes of the `STT_FILE` symbols, ascending.
    files: std::sync::OnceLock<Vec<u32>>,
}

pub(crate) struct RawSym<'a> {
    pub name: &'a [u8],
    pub info: u8,
    pub shndx: u16,
    pub value: u64,
    pub size: u64,
}

/// A fast non-cryptographic hash over 8-byte words (names are short and trusted to be few).
fn name_hash(name: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = name.len() as u64;
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let mut w = [0u8; 8];
    w[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K)
}

impl SymbolTable {
    pub fn new(symtab: Range<usize>, strtab: Range<usize>) -> SymbolTable {
        SymbolTable {
            symtab,
            strtab,
            index: std::sync::OnceLock::new(),
            files: std::sync::OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.symtab.len() / SYM_SIZE
    }

    /// Reads symbol `i`; names outside `.strtab` read as empty.
    pub fn raw<'a>(&self, data: &'a [u8], i: usize) -> Option<RawSym<'a>> {
        let start = self.symtab.start.checked_add(i.checked_mul(SYM_SIZE)?)?;
        let end = start.checked_add(SYM_SIZE)?;
        if end > self.symtab.end {
            return None;
        }
        let b = &data[start..end];
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(a)
        };
        let name_off = u32_at(0) as usize;
        let strtab = &data[self.strtab.clone()];
        let name = strtab.get(name_off..).map_or(&[][..], |s| {
            let n = s.iter().position(|&c| c == 0).unwrap_or(s.len());
            &s[..n]
        });
        Some(RawSym {
            name,
            info: b[4],
            shndx: u16::from_le_bytes([b[6], b[7]]),
            value: u64_at(8),
            size: u64_at(16),
        })
    }

    /// Symbol indexes bucketed by name hash (a counting sort: sequential passes, small
    /// working set), as `(bucket starts, (hash, index) in bucket order)`.
    fn index(&self, data: &[u8]) -> &NameIndex {
        self.index.get_or_init(|| {
            let symtab = &data[self.symtab.clone()];
            let strtab = &data[self.strtab.clone()];
            let n = self.len().min(u32::MAX as usize / 2);
            let hashes: Vec<u64> = symtab
                .chunks_exact(SYM_SIZE)
                .take(n)
                .map(|sym| {
                    let name_off = u32::from_le_bytes([sym[0], sym[1], sym[2], sym[3]]) as usize;
                    let rest = strtab.get(name_off..).unwrap_or(&[]);
                    name_hash(&rest[..memchr::memchr(0, rest).unwrap_or(rest.len())])
                })
                .collect();
            let mut starts = vec![0u32; BUCKETS + 1];
            for h in &hashes {
                starts[bucket(*h) + 1] += 1;
            }
            for b in 0..BUCKETS {
                starts[b + 1] += starts[b];
            }
            let mut fill = starts.clone();
            let mut entries = vec![(0u32, 0u32); hashes.len()];
            for (i, h) in hashes.iter().enumerate() {
                let slot = &mut fill[bucket(*h)];
                entries[*slot as usize] = ((*h >> 32) as u32, i as u32);
                *slot += 1;
            }
            NameIndex { starts, entries }
        })
    }

    /// All symbols with this name, in table order. The first lookup builds the name index
    /// (about 7 ms for the 116k symbols of a distribution kernel).
    pub fn lookup(&self, data: &[u8], name: &str) -> Vec<Symbol> {
        let index = self.index(data);
        let h = name_hash(name.as_bytes());
        let b = bucket(h);
        let range = index.starts[b] as usize..index.starts[b + 1] as usize;
        let mut out = Vec::new();
        for &(tag, i) in &index.entries[range] {
            if tag == (h >> 32) as u32 {
                if let Some(s) = self.raw(data, i as usize) {
                    if s.name == name.as_bytes() {
                        out.extend(self.symbol(data, i as usize));
                    }
                }
            }
        }
        out.sort_by_key(|s| s.index);
        out
    }

    /// The function or object symbol containing the unrelocated `address` (within its size), else the
    /// nearest one at or below it; a linear scan (meant for a handful of addresses per report).
    pub fn containing(&self, data: &[u8], address: u64) -> Option<Symbol> {
        let mut best: Option<(u64, u64, usize)> = None; // (value, size, index)
        for i in 0..self.len() {
            let Some(raw) = self.raw(data, i) else {
                continue;
            };
            let kind = raw.info & 0xf;
            if !(kind == STT_FUNC || kind == STT_OBJECT || kind == STT_NOTYPE)
                || raw.value > address
                || raw.value == 0
                || raw.name.is_empty()
            {
                continue;
            }
            let inside = address < raw.value.saturating_add(raw.size);
            let better = match best {
                None => true,
                Some((v, sz, _)) => {
                    let best_inside = address < v.saturating_add(sz);
                    (inside && !best_inside) || (inside == best_inside && raw.value > v)
                }
            };
            if better {
                best = Some((raw.value, raw.size, i));
            }
        }
        self.symbol(data, best?.2)
    }

    pub fn symbol(&self, data: &[u8], i: usize) -> Option<Symbol> {
        let raw = self.raw(data, i)?;
        let local = raw.info >> 4 == STB_LOCAL;
        let kind = match raw.info & 0xf {
            STT_OBJECT => SymbolKind::Object,
            STT_FUNC => SymbolKind::Function,
            STT_NOTYPE => SymbolKind::NoType,
            STT_SECTION => SymbolKind::Section,
            STT_FILE => SymbolKind::File,
            _ => SymbolKind::Other,
        };
        let file = if local && kind != SymbolKind::File {
            self.file_of(data, i)
        } else {
            None
        };
        Some(Symbol {
            name: String::from_utf8_lossy(raw.name).into_owned(),
            address: raw.value,
            size: raw.size,
            kind,
            local,
            file,
            index: i,
        })
    }

    /// The `STT_FILE` symbol that opens the local group containing symbol `i`.
    fn file_of(&self, data: &[u8], i: usize) -> Option<String> {
        self.file_ordinal(data, i).map(|(_, name)| name)
    }

    fn files(&self, data: &[u8]) -> &[u32] {
        self.files.get_or_init(|| {
            let n = self.len().min(u32::MAX as usize);
            let base = self.symtab.start;
            // Only st_info is needed: read it in place instead of decoding whole symbols.
            (0..n)
                .filter(|&i| {
                    data.get(base + i * SYM_SIZE + 4)
                        .is_some_and(|b| b & 0xf == STT_FILE)
                })
                .map(|i| i as u32)
                .collect()
        })
    }

    /// Number of `STT_FILE` symbols.
    pub fn file_count(&self, data: &[u8]) -> usize {
        self.files(data).len()
    }

    /// `(ordinal, name)` of the `STT_FILE` group containing local symbol `i`: the ordinal counts
    /// `STT_FILE` symbols from the start of the table (they follow link order).
    pub fn file_ordinal(&self, data: &[u8], i: usize) -> Option<(usize, String)> {
        let files = self.files(data);
        let ordinal = files
            .partition_point(|&f| (f as usize) < i)
            .checked_sub(1)?;
        let sym = self.raw(data, files[ordinal] as usize)?;
        Some((ordinal, String::from_utf8_lossy(sym.name).into_owned()))
    }

    /// The section index of symbol `i` (for neighbour searches).
    pub fn shndx(&self, data: &[u8], i: usize) -> Option<u16> {
        self.raw(data, i).map(|s| s.shndx)
    }

    /// The local `STT_OBJECT`/`STT_FUNC` symbol in section `shndx` with the highest address
    /// `<= address` (reads only st_info, st_shndx and st_value: no names).
    pub fn nearest_local_at_or_below(
        &self,
        data: &[u8],
        shndx: u16,
        address: u64,
    ) -> Option<usize> {
        let symtab = &data[self.symtab.clone()];
        let mut best: Option<(u64, usize)> = None;
        for (i, sym) in symtab.chunks_exact(SYM_SIZE).enumerate() {
            let info = sym[4];
            let t = info & 0xf;
            if info >> 4 != STB_LOCAL || (t != STT_OBJECT && t != STT_FUNC) {
                continue;
            }
            if u16::from_le_bytes([sym[6], sym[7]]) != shndx {
                continue;
            }
            let mut v = [0u8; 8];
            v.copy_from_slice(&sym[8..16]);
            let value = u64::from_le_bytes(v);
            if value <= address && best.is_none_or(|(b, _)| value > b) {
                best = Some((value, i));
            }
        }
        best.map(|(_, i)| i)
    }
}
