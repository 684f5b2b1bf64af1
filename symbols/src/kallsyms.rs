//! The kernel's own symbol table (kallsyms), read out of a running or crashed kernel's memory.
//!
//! Kernels since 6.0 export the addresses of the kallsyms tables in VMCOREINFO
//! (`SYMBOL(kallsyms_names)` and friends), so a dump names its symbols without any vmlinux. This
//! module knows nothing of dumps: it reads through a closure, and the caller passes the table
//! addresses in [`KallsymsTables`].
//!
//! The tables (facts from the kernel's `scripts/kallsyms.c` and `kernel/kallsyms.c`):
//! - `kallsyms_num_syms`: the number of symbols (`unsigned int`; older kernels `unsigned long`, the
//!   low 4 bytes on little-endian are the same).
//! - `kallsyms_names`: per symbol, a length then that many token indexes. The length is one byte,
//!   or (6.1+, for "big" symbols of 128 tokens or more) two: `0x80 | (len & 0x7f)`, then `len >> 7`.
//!   The first character of the expanded name is the type letter (`T`, `d`, ...).
//! - `kallsyms_token_table` (NUL-terminated tokens) and `kallsyms_token_index` (`u16[256]`, each
//!   token's offset in the table).
//! - Addresses, in one of these encodings ([`AddressEncoding`]); the one that reproduces
//!   VMCOREINFO's `SYMBOL(_stext)` is used.
//!
//! ```no_run
//! # fn main() -> Result<(), symbols::kallsyms::KallsymsError> {
//! use symbols::kallsyms::{Kallsyms, KallsymsTables};
//! let vmcoreinfo = |name: &str| -> Option<u64> { None }; // SYMBOL(name) of the dump
//! let tables = KallsymsTables::from_lookup(vmcoreinfo).expect("a 6.0+ kernel");
//! let read = |addr: u64, _buf: &mut [u8]| -> Result<(), kmem::ReadError> {
//!     Err(kmem::ReadError::Unmapped { vaddr: addr, detail: "no memory" })
//! };
//! let ksyms = Kallsyms::read(&tables, &read)?;
//! let tainted_mask = ksyms.address("tainted_mask");
//! # Ok(()) }
//! ```

use crate::name_index::{NameIndex, PolyHash};

/// Most symbols accepted (a large distribution kernel has about 200k).
pub const MAX_SYMBOLS: u32 = 1 << 22;
/// Most bytes of `kallsyms_names` read (6.1 cloud kernel: 1.4 MB for 150k symbols).
const MAX_NAMES_BYTES: u64 = 64 << 20;
/// Largest token table read (the kernel's is a few hundred bytes to a few KB).
const MAX_TOKEN_TABLE: u64 = 64 << 10;
/// How much of `kallsyms_names` is read at a time.
const NAMES_CHUNK: usize = 256 << 10;

/// Reads `buf.len()` bytes of kernel virtual memory at an address. Called from several threads at
/// once for the big tables.
pub type ReadMemory<'a> = &'a dyn kmem::KernelMemory;

/// Reads of this size or more are split into chunks read in parallel.
const PARALLEL_CHUNK: usize = 64 << 10;

/// Where the kallsyms tables are (run-time addresses, e.g. VMCOREINFO `SYMBOL()` values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KallsymsTables {
    /// `kallsyms_names`.
    pub names: u64,
    /// `kallsyms_num_syms`.
    pub num_syms: u64,
    /// `kallsyms_token_table`.
    pub token_table: u64,
    /// `kallsyms_token_index`.
    pub token_index: u64,
    /// `kallsyms_offsets` (base-relative, absolute-percpu and place-relative encodings).
    pub offsets: Option<u64>,
    /// `kallsyms_relative_base` (base-relative encodings).
    pub relative_base: Option<u64>,
    /// `kallsyms_addresses` (absolute encoding, kernels without `CONFIG_KALLSYMS_BASE_RELATIVE`).
    pub addresses: Option<u64>,
    /// `kallsyms_markers` (not needed for a sequential decode; kept for completeness).
    pub markers: Option<u64>,
    /// `_stext`, to tell the address encodings apart.
    pub stext: Option<u64>,
}

impl KallsymsTables {
    /// The tables from a `SYMBOL(name)` lookup (VMCOREINFO). `None` without the four tables every
    /// encoding needs (`names`, `num_syms`, `token_table`, `token_index`).
    pub fn from_lookup(symbol: impl Fn(&str) -> Option<u64>) -> Option<KallsymsTables> {
        Some(KallsymsTables {
            names: symbol("kallsyms_names")?,
            num_syms: symbol("kallsyms_num_syms")?,
            token_table: symbol("kallsyms_token_table")?,
            token_index: symbol("kallsyms_token_index")?,
            offsets: symbol("kallsyms_offsets"),
            relative_base: symbol("kallsyms_relative_base"),
            addresses: symbol("kallsyms_addresses"),
            markers: symbol("kallsyms_markers"),
            stext: symbol("_stext"),
        })
    }
}

/// How `kallsyms` stores addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressEncoding {
    /// `unsigned long kallsyms_addresses[]` (no `CONFIG_KALLSYMS_BASE_RELATIVE`).
    Absolute,
    /// `kallsyms_relative_base + (u32)kallsyms_offsets[i]` (base-relative without absolute per-CPU;
    /// the only base-relative form in the newest kernels).
    BaseRelative,
    /// `CONFIG_KALLSYMS_ABSOLUTE_PERCPU` (x86-64 SMP, 4.6-6.14): a non-negative offset is the address
    /// itself (per-CPU symbols), a negative one is `kallsyms_relative_base - 1 - offset`.
    AbsolutePercpu,
    /// Place-relative: `&kallsyms_offsets[i] + offset` (sign-extended).
    PlaceRelative,
}

impl AddressEncoding {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            AddressEncoding::Absolute => "absolute",
            AddressEncoding::BaseRelative => "base-relative",
            AddressEncoding::AbsolutePercpu => "absolute-percpu",
            AddressEncoding::PlaceRelative => "place-relative",
        }
    }
}

/// Why the kallsyms tables could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KallsymsError {
    /// Memory the tables claim to occupy could not be read.
    #[error("kallsyms: cannot read {what} at {addr:#x}: {source}")]
    Read {
        /// Which table.
        what: &'static str,
        /// Where.
        addr: u64,
        /// Why the reader failed.
        source: kmem::ReadError,
    },
    /// The tables do not hold together.
    #[error("kallsyms: {0}")]
    Malformed(String),
    /// No address encoding reproduces `_stext` (or `_stext` is unknown, or not in the table).
    #[error("kallsyms: no address encoding gives _stext: {0}")]
    NoEncoding(String),
}

/// One kallsyms entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbol {
    /// The name without its type letter (non-UTF-8 bytes replaced).
    pub name: String,
    /// The type letter (`T` global text, `d` local data, ...); upper case is global.
    pub kind: char,
    /// The run-time address.
    pub address: u64,
}

/// The symbol table: the compressed names as the kernel keeps them, the addresses, and an index
/// of name hashes. Names are expanded only to answer a lookup (and for [`Kallsyms::iter`]): expanding
/// all 150k of them would cost more than the rest of a report.
pub struct Kallsyms {
    /// `kallsyms_names` as read.
    names: Vec<u8>,
    /// Where each entry's tokens start in `names`, and how many there are.
    entries: Vec<(u32, u16)>,
    tokens: Tokens,
    addresses: Vec<u64>,
    index: NameIndex,
    encoding: AddressEncoding,
}

impl std::fmt::Debug for Kallsyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kallsyms")
            .field("symbols", &self.len())
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

fn read_exact(
    read: ReadMemory<'_>,
    what: &'static str,
    addr: u64,
    len: u64,
) -> Result<Vec<u8>, KallsymsError> {
    use rayon::prelude::*;
    let mut buf = vec![0u8; len as usize];
    buf.par_chunks_mut(PARALLEL_CHUNK)
        .enumerate()
        .try_for_each(|(i, chunk)| {
            let at = addr.wrapping_add((i * PARALLEL_CHUNK) as u64);
            read.read(at, chunk).map_err(|source| KallsymsError::Read {
                what,
                addr: at,
                source,
            })
        })?;
    Ok(buf)
}

/// `kallsyms_names`, read a chunk at a time as the decode reaches it (its end is not exported).
struct NamesStream<'r> {
    read: ReadMemory<'r>,
    base: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl NamesStream<'_> {
    fn byte(&mut self) -> Result<u8, KallsymsError> {
        self.ensure(1)?;
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    fn ensure(&mut self, n: usize) -> Result<(), KallsymsError> {
        while self.buf.len() < self.pos + n {
            let have = self.buf.len() as u64;
            if have >= MAX_NAMES_BYTES {
                return Err(KallsymsError::Malformed(format!(
                    "kallsyms_names runs past {MAX_NAMES_BYTES} bytes"
                )));
            }
            let addr = self.base.wrapping_add(have);
            let chunk = NAMES_CHUNK.min((MAX_NAMES_BYTES - have) as usize);
            let start = self.buf.len();
            self.buf.resize(start + chunk, 0);
            if let Err(source) = self.read.read(addr, &mut self.buf[start..]) {
                // The table may end just before unreadable memory: fall back to page-sized steps.
                self.buf.truncate(start);
                let page = 4096 - (addr % 4096) as usize;
                self.buf.resize(start + page, 0);
                self.read
                    .read(addr, &mut self.buf[start..])
                    .map_err(|_| KallsymsError::Read {
                        what: "kallsyms_names",
                        addr,
                        source,
                    })?;
            }
        }
        Ok(())
    }
}

impl Kallsyms {
    /// Read and index the whole table through `read`.
    pub fn read(tables: &KallsymsTables, read: ReadMemory<'_>) -> Result<Kallsyms, KallsymsError> {
        let raw = read_exact(read, "kallsyms_num_syms", tables.num_syms, 4)?;
        let count = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        if count == 0 || count > MAX_SYMBOLS {
            return Err(KallsymsError::Malformed(format!(
                "kallsyms_num_syms is {count} (expected 1..={MAX_SYMBOLS})"
            )));
        }

        let tokens = read_tokens(tables, read)?;
        // The hash of each token, and of each token without its first byte (the first token of an
        // entry starts with the type letter, which is not part of the name).
        let token_hash: Vec<PolyHash> = (0..256).map(|t| PolyHash::of(&tokens[t])).collect();
        let token_tail_hash: Vec<PolyHash> = (0..256)
            .map(|t| PolyHash::of(tokens[t].get(1..).unwrap_or_default()))
            .collect();

        // Every kernel lays out kallsyms_names, then the markers, then the token table: read that span
        // at once (in parallel) when it is plausible, and stream in chunks otherwise.
        let prefetched = match tables.token_table.checked_sub(tables.names) {
            Some(span) if span > 0 && span <= MAX_NAMES_BYTES => {
                read_exact(read, "kallsyms_names", tables.names, span).ok()
            }
            _ => None,
        };
        let mut names = NamesStream {
            read,
            base: tables.names,
            buf: prefetched.unwrap_or_default(),
            pos: 0,
        };
        let mut entries = Vec::with_capacity(count as usize);
        let mut hashes = Vec::with_capacity(count as usize);
        for i in 0..count {
            let b0 = names.byte()?;
            let len = if b0 & 0x80 != 0 {
                usize::from(b0 & 0x7f) | usize::from(names.byte()?) << 7
            } else {
                usize::from(b0)
            };
            names.ensure(len)?;
            let toks = &names.buf[names.pos..names.pos + len];
            let Some((&first, rest)) = toks.split_first() else {
                return Err(KallsymsError::Malformed(format!(
                    "symbol {i} has an empty name"
                )));
            };
            if tokens[usize::from(first)].is_empty() {
                return Err(KallsymsError::Malformed(format!(
                    "symbol {i} starts with an empty token"
                )));
            }
            let mut h = token_tail_hash[usize::from(first)];
            for &t in rest {
                h.append(token_hash[usize::from(t)]);
            }
            hashes.push(h.value);
            let start = u32::try_from(names.pos)
                .map_err(|_| KallsymsError::Malformed("names exceed 4 GB".into()))?;
            entries.push((start, len as u16));
            names.pos += len;
        }
        // After kallsyms_names come kallsyms_markers (one u32 or unsigned long per 256 names), on newer
        // kernels kallsyms_seqs_of_names (3 bytes per name), then kallsyms_token_table. A wrong
        // kallsyms_num_syms that still decodes (a pointer to other data whose first word is a plausible
        // count) ends the names elsewhere: before the markers, or past the token table.
        let names_end = tables.names.wrapping_add(names.pos as u64);
        let gap_max = u64::from(count.div_ceil(256)) * 8 + 3 * u64::from(count) + 64;
        let ends_right = match tables.markers {
            Some(markers) => names_end <= markers && markers - names_end < 8,
            None => {
                tables.token_table <= tables.names
                    || (names_end <= tables.token_table
                        && tables.token_table - names_end <= gap_max)
            }
        };
        if !ends_right {
            return Err(KallsymsError::Malformed(format!(
                "kallsyms_num_syms {count} ends kallsyms_names at {names_end:#x}, which is not where the \
                 tables after them begin (kallsyms_markers {:?}, kallsyms_token_table {:#x})",
                tables.markers, tables.token_table
            )));
        }
        let mut names_buf = names.buf;
        names_buf.truncate(names.pos);

        let mut ks = Kallsyms {
            names: names_buf,
            entries,
            tokens,
            addresses: Vec::new(),
            index: NameIndex::default(),
            encoding: AddressEncoding::Absolute,
        };
        ks.index = NameIndex::build_hashed(hashes.len(), |i| Some(hashes[i]));
        let (encoding, addresses) = ks.decode_addresses(tables, read, count)?;
        ks.encoding = encoding;
        ks.addresses = addresses;
        Ok(ks)
    }

    /// Entry `i` expanded: its type letter, then its name.
    fn expand(&self, i: usize, out: &mut Vec<u8>) {
        out.clear();
        let (start, len) = self.entries[i];
        let start = start as usize;
        for &t in &self.names[start..start + usize::from(len)] {
            out.extend_from_slice(&self.tokens[usize::from(t)]);
        }
    }

    fn name_is(&self, i: usize, name: &str, scratch: &mut Vec<u8>) -> bool {
        self.expand(i, scratch);
        scratch.get(1..) == Some(name.as_bytes())
    }

    fn decode_addresses(
        &self,
        tables: &KallsymsTables,
        read: ReadMemory<'_>,
        count: u32,
    ) -> Result<(AddressEncoding, Vec<u64>), KallsymsError> {
        let stext = tables.stext.ok_or_else(|| {
            KallsymsError::NoEncoding("the dump does not give SYMBOL(_stext)".into())
        })?;
        let mut scratch = Vec::new();
        let stext_idx: Vec<usize> = self
            .index
            .candidates(b"_stext")
            .filter(|&i| self.name_is(i, "_stext", &mut scratch))
            .collect();
        if stext_idx.is_empty() {
            return Err(KallsymsError::NoEncoding(
                "_stext is not in the table".into(),
            ));
        }
        let n = count as u64;
        let mut tried = Vec::new();
        if let Some(addrs) = tables.addresses {
            let raw = read_exact(read, "kallsyms_addresses", addrs, n * 8)?;
            let a: Vec<u64> = raw
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            if stext_idx.iter().any(|&i| a[i] == stext) {
                return Ok((AddressEncoding::Absolute, a));
            }
            tried.push(format!("absolute gives {:#x}", a[stext_idx[0]]));
        }
        if let Some(offs) = tables.offsets {
            let raw = read_exact(read, "kallsyms_offsets", offs, n * 4)?;
            let o: Vec<i32> = raw
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            let base = match tables.relative_base {
                Some(at) => {
                    let b = read_exact(read, "kallsyms_relative_base", at, 8)?;
                    Some(u64::from_le_bytes(b.try_into().expect("8 bytes")))
                }
                None => None,
            };
            let mut candidates = Vec::new();
            if base.is_some() {
                candidates.push(AddressEncoding::AbsolutePercpu);
                candidates.push(AddressEncoding::BaseRelative);
            }
            candidates.push(AddressEncoding::PlaceRelative);
            for enc in candidates {
                let at = |i: usize| -> u64 {
                    let off = o[i];
                    let base = base.unwrap_or(0);
                    match enc {
                        AddressEncoding::BaseRelative => base.wrapping_add(u64::from(off as u32)),
                        AddressEncoding::AbsolutePercpu if off >= 0 => off as u64,
                        AddressEncoding::AbsolutePercpu => {
                            base.wrapping_sub(1).wrapping_sub(off as i64 as u64)
                        }
                        AddressEncoding::PlaceRelative | AddressEncoding::Absolute => offs
                            .wrapping_add(4 * i as u64)
                            .wrapping_add(off as i64 as u64),
                    }
                };
                if stext_idx.iter().any(|&i| at(i) == stext) {
                    return Ok((enc, (0..o.len()).map(at).collect()));
                }
                tried.push(format!("{} gives {:#x}", enc.name(), at(stext_idx[0])));
            }
        }
        if tried.is_empty() {
            return Err(KallsymsError::NoEncoding(
                "neither kallsyms_addresses nor kallsyms_offsets is given".into(),
            ));
        }
        Err(KallsymsError::NoEncoding(format!(
            "expected {stext:#x}; {}",
            tried.join(", ")
        )))
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the table is empty (never, once read).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every address, in table order.
    pub(crate) fn addresses(&self) -> &[u64] {
        &self.addresses
    }

    /// How the addresses were encoded.
    pub fn encoding(&self) -> AddressEncoding {
        self.encoding
    }

    /// The `i`th entry in table order (sorted by address).
    pub fn get(&self, i: usize) -> Option<KernelSymbol> {
        if i >= self.len() {
            return None;
        }
        let mut buf = Vec::new();
        self.expand(i, &mut buf);
        let (&kind, name) = buf.split_first()?;
        Some(KernelSymbol {
            name: String::from_utf8_lossy(name).into_owned(),
            kind: char::from(kind),
            address: *self.addresses.get(i)?,
        })
    }

    /// The entry at or below `address` (the table is sorted by address) and the next higher address, which
    /// bounds its size.
    pub fn at_or_below(&self, address: u64) -> Option<(KernelSymbol, Option<u64>)> {
        let i = self
            .addresses
            .partition_point(|&a| a <= address)
            .checked_sub(1)?;
        let next = self.addresses[i + 1..]
            .iter()
            .copied()
            .find(|&a| a > self.addresses[i]);
        Some((self.get(i)?, next))
    }

    /// Every entry in table order.
    pub fn iter(&self) -> impl Iterator<Item = KernelSymbol> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Every entry named `name`, in table order.
    pub fn all_named(&self, name: &str) -> Vec<KernelSymbol> {
        let mut scratch = Vec::new();
        self.index
            .candidates(name.as_bytes())
            .filter(|&i| self.name_is(i, name, &mut scratch))
            .filter_map(|i| self.get(i))
            .collect()
    }

    /// The symbol named `name`; a global one (upper-case type letter) wins over local duplicates,
    /// as with ELF symbols.
    pub fn symbol(&self, name: &str) -> Option<KernelSymbol> {
        let all = self.all_named(name);
        let pick = all
            .iter()
            .position(|s| s.kind.is_ascii_uppercase())
            .unwrap_or(0);
        all.into_iter().nth(pick)
    }

    /// Bytes from [`Kallsyms::symbol`] to the next higher address in the table: an upper bound of the
    /// object's size (kallsyms keeps no sizes; the gap includes alignment padding).
    pub fn extent(&self, name: &str) -> Option<u64> {
        let at = self.address(name)?;
        let next = self.addresses.partition_point(|&a| a <= at);
        Some(self.addresses.get(next)? - at)
    }

    /// The address of [`Kallsyms::symbol`].
    pub fn address(&self, name: &str) -> Option<u64> {
        self.symbol(name).map(|s| s.address)
    }
}

/// The 256 tokens, each as a range of the token table.
struct Tokens {
    table: Vec<u8>,
    spans: Vec<std::ops::Range<usize>>,
}

impl std::ops::Index<usize> for Tokens {
    type Output = [u8];
    fn index(&self, i: usize) -> &[u8] {
        &self.table[self.spans[i].clone()]
    }
}

fn read_tokens(tables: &KallsymsTables, read: ReadMemory<'_>) -> Result<Tokens, KallsymsError> {
    let raw = read_exact(read, "kallsyms_token_index", tables.token_index, 512)?;
    let index: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let max_off = u64::from(*index.iter().max().expect("256 entries"));
    // The table sits just before the index in every kernel seen; otherwise read past the last
    // token's start by a bound.
    let len = match tables.token_index.checked_sub(tables.token_table) {
        Some(d) if d > max_off && d <= MAX_TOKEN_TABLE => d,
        _ => (max_off + 1024).min(MAX_TOKEN_TABLE),
    };
    if max_off >= len {
        return Err(KallsymsError::Malformed(format!(
            "token offset {max_off} beyond the {len}-byte token table"
        )));
    }
    let table = read_exact(read, "kallsyms_token_table", tables.token_table, len)?;
    let spans = index
        .iter()
        .enumerate()
        .map(|(i, &off)| {
            let start = usize::from(off);
            let end = table[start..].iter().position(|&b| b == 0).ok_or_else(|| {
                KallsymsError::Malformed(format!("token {i} is not NUL-terminated"))
            })?;
            Ok(start..start + end)
        })
        .collect::<Result<_, KallsymsError>>()?;
    Ok(Tokens { table, spans })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const BASE: u64 = 0xffff_ffff_8100_0000;
    const STEXT: u64 = BASE + 0x20_0000;

    /// Kernel memory as a few regions.
    #[derive(Default, Clone)]
    struct Memory(BTreeMap<u64, Vec<u8>>);

    impl Memory {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), kmem::ReadError> {
            let unmapped = kmem::ReadError::Unmapped {
                vaddr: addr,
                detail: "not in the test's memory",
            };
            let (start, bytes) = self.0.range(..=addr).next_back().ok_or(unmapped.clone())?;
            let off = (addr - start) as usize;
            let src = bytes.get(off..off + buf.len()).ok_or(unmapped)?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    /// Token `i` is the byte `i`, except token 0, which is "_s" (so names compress a little).
    fn token_bytes(i: usize) -> Vec<u8> {
        if i == 0 {
            b"_s".to_vec()
        } else {
            vec![i as u8]
        }
    }

    fn compress(entry: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < entry.len() {
            if entry[i..].starts_with(b"_s") {
                out.push(0);
                i += 2;
            } else {
                out.push(entry[i]);
                i += 1;
            }
        }
        out
    }

    /// (type letter + name, address) entries, laid out as a kernel would with `encoding`.
    fn table(entries: &[(&str, u64)], encoding: AddressEncoding) -> (KallsymsTables, Memory) {
        let mut mem = Memory::default();
        let mut names = Vec::new();
        for (e, _) in entries {
            let c = compress(e.as_bytes());
            if c.len() > 0x7f {
                names.push(0x80 | (c.len() & 0x7f) as u8);
                names.push((c.len() >> 7) as u8);
            } else {
                names.push(c.len() as u8);
            }
            names.extend(c);
        }
        let mut token_table = Vec::new();
        let mut token_index = Vec::new();
        for i in 0..256 {
            token_index.extend_from_slice(&(token_table.len() as u16).to_le_bytes());
            token_table.extend(token_bytes(i));
            token_table.push(0);
        }
        let t = KallsymsTables {
            names: 0x1_0000,
            num_syms: 0x3_0008,
            token_table: 0x1_0000 + names.len() as u64 + 64,
            token_index: 0x1_0000 + names.len() as u64 + 64 + token_table.len() as u64,
            offsets: Some(0x2_0000),
            relative_base: Some(0x3_0000),
            addresses: None,
            markers: None,
            stext: Some(STEXT),
        };
        let mut blob = names;
        blob.resize(64 + blob.len(), 0);
        blob.extend(&token_table);
        blob.extend(&token_index);
        mem.0.insert(t.names, blob);
        let mut base_and_count = BASE.to_le_bytes().to_vec();
        base_and_count.extend((entries.len() as u32).to_le_bytes());
        mem.0.insert(0x3_0000, base_and_count);
        let mut t = t;
        match encoding {
            AddressEncoding::Absolute => {
                t.offsets = None;
                t.addresses = Some(0x4_0000);
                let a: Vec<u8> = entries.iter().flat_map(|(_, a)| a.to_le_bytes()).collect();
                mem.0.insert(0x4_0000, a);
            }
            _ => {
                let o: Vec<u8> = entries
                    .iter()
                    .enumerate()
                    .flat_map(|(i, &(_, a))| {
                        let off: i32 = match encoding {
                            AddressEncoding::BaseRelative => (a - BASE) as u32 as i32,
                            AddressEncoding::AbsolutePercpu if a < BASE => a as i32,
                            AddressEncoding::AbsolutePercpu => {
                                (BASE - 1).wrapping_sub(a) as i64 as i32
                            }
                            _ => a.wrapping_sub(0x2_0000 + 4 * i as u64) as i64 as i32,
                        };
                        off.to_le_bytes()
                    })
                    .collect();
                mem.0.insert(0x2_0000, o);
            }
        }
        (t, mem)
    }

    fn entries() -> Vec<(String, u64)> {
        let big = format!("t{}", "x".repeat(300));
        vec![
            ("Afixed_percpu_data".to_string(), 0),
            ("T_text".into(), BASE),
            ("T_stext".into(), STEXT),
            ("tfoo".into(), STEXT + 0x10),
            ("Tfoo".into(), STEXT + 0x20),
            ("dtainted_mask".into(), STEXT + 0x1000),
            (big, STEXT + 0x2000),
        ]
    }

    fn read(t: &KallsymsTables, mem: &Memory) -> Result<Kallsyms, KallsymsError> {
        let m = mem.clone();
        let f = move |a: u64, b: &mut [u8]| m.read(a, b);
        Kallsyms::read(t, &f)
    }

    #[test]
    fn decodes_every_encoding() {
        let owned = entries();
        let e: Vec<(&str, u64)> = owned.iter().map(|(n, a)| (n.as_str(), *a)).collect();
        for enc in [
            AddressEncoding::Absolute,
            AddressEncoding::BaseRelative,
            AddressEncoding::AbsolutePercpu,
            AddressEncoding::PlaceRelative,
        ] {
            // Per-CPU (absolute) addresses only exist with the absolute-percpu encoding.
            let e: Vec<_> = e
                .iter()
                .copied()
                .filter(|&(_, a)| a >= BASE || enc == AddressEncoding::AbsolutePercpu)
                .collect();
            let (t, mem) = table(&e, enc);
            let k = read(&t, &mem).unwrap_or_else(|err| panic!("{enc:?}: {err}"));
            assert_eq!(k.encoding(), enc);
            assert_eq!(k.len(), e.len());
            for (i, &(entry, addr)) in e.iter().enumerate() {
                let s = k.get(i).unwrap();
                assert_eq!(format!("{}{}", s.kind, s.name), entry, "{enc:?}");
                assert_eq!(s.address, addr, "{enc:?} {entry}");
            }
            // The global wins over the local of the same name; both are listed.
            assert_eq!(k.address("foo"), Some(STEXT + 0x20));
            assert_eq!(k.all_named("foo").len(), 2);
            assert_eq!(k.address("tainted_mask"), Some(STEXT + 0x1000));
            assert_eq!(
                k.address(&"x".repeat(300)),
                Some(STEXT + 0x2000),
                "a big symbol"
            );
            assert_eq!(k.address("nope"), None);
        }
    }

    #[test]
    fn damage_is_an_error_never_a_panic() {
        let owned = entries();
        let e: Vec<(&str, u64)> = owned.iter().map(|(n, a)| (n.as_str(), *a)).collect();
        let (t, mem) = table(&e, AddressEncoding::AbsolutePercpu);
        assert!(read(&t, &mem).is_ok());

        // No _stext to choose the encoding by.
        let mut no_stext = t.clone();
        no_stext.stext = None;
        assert!(matches!(
            read(&no_stext, &mem),
            Err(KallsymsError::NoEncoding(_))
        ));
        let mut wrong = t.clone();
        wrong.stext = Some(STEXT + 1);
        assert!(matches!(
            read(&wrong, &mem),
            Err(KallsymsError::NoEncoding(_))
        ));

        // Absurd counts, and a count larger than the names the memory holds.
        for count in [0u32, MAX_SYMBOLS + 1, u32::MAX, 1000] {
            let mut m = mem.clone();
            m.0.get_mut(&0x3_0000).unwrap()[8..12].copy_from_slice(&count.to_le_bytes());
            assert!(read(&t, &m).is_err(), "count {count}");
        }
        // Unmapped tables.
        for field in 0..5 {
            let mut bad = t.clone();
            match field {
                0 => bad.names = 0x9_0000,
                1 => bad.num_syms = 0x9_0000,
                2 => bad.token_table = 0x9_0000,
                3 => bad.token_index = 0x9_0000,
                _ => bad.offsets = Some(0x9_0000),
            }
            assert!(read(&bad, &mem).is_err(), "field {field}");
        }
        // Every byte of the names and token tables replaced by every interesting value: errors or
        // some table, never a panic.
        let blob_len = mem.0[&t.names].len();
        for i in 0..blob_len {
            for v in [0u8, 0x7f, 0x80, 0xff] {
                let mut m = mem.clone();
                m.0.get_mut(&t.names).unwrap()[i] = v;
                if let Ok(k) = read(&t, &m) {
                    let _ = k.iter().count();
                    let _ = k.address("foo");
                }
            }
        }
    }
}
