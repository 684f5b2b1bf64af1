//! Finding the kallsyms tables and the BTF blob in a kernel image's memory without being told where
//! they are, for kernels whose VMCOREINFO does not name them (before 6.0) or whose `__start_BTF` is
//! unknown.
//!
//! Both searches read a window of kernel virtual memory (typically `_stext` up to the first data
//! symbol VMCOREINFO names) a megabyte at a time through a [`ReadMemory`] (any [`kmem::KernelMemory`]); unreadable pages
//! (excluded from a filtered dump, or outside it) are skipped. Every loop is bounded: the window
//! ([`MAX_WINDOW`]), the candidates validated ([`MAX_CANDIDATES`]), the bytes searched before the token
//! table and the name entries decoded over all candidates.
//!
//! **kallsyms** (layout from the kernel's `scripts/kallsyms.c`, 2.6 to 6.x): `kallsyms_token_index` is
//! 256 strictly increasing `u16` offsets starting at 0, 8-aligned, right after `kallsyms_token_table`,
//! whose 256 NUL-terminated tokens must start exactly at those offsets. The scan looks for that pair
//! from the top of the window down, then walks back from the token table to the `kallsyms_num_syms`
//! word followed by `kallsyms_names`: decoding that many entries must end (8-aligned) exactly at
//! `kallsyms_markers`, whose every entry must be the offset of every 256th entry, followed by the token
//! table (up to 6.3, optionally after `kallsyms_seqs_of_names`, 3 bytes per symbol). The addresses are
//! `kallsyms_offsets` + `kallsyms_relative_base` (or `kallsyms_addresses`) right before
//! `kallsyms_num_syms` (up to 6.3) or right after the token index (6.4+). The table is then read with
//! [`Kallsyms::read`], which must reproduce `_stext`, and every address must be sorted and inside the
//! image (or a per-CPU offset).
//!
//! **BTF**: the vmlinux blob starts with magic `0xeB9F`, version 1, flags 0, a header of 24+ bytes and
//! type and string sections inside [`MAX_BTF_BYTES`]; it must parse and define `struct task_struct`.
//!
//! ```no_run
//! # fn main() -> Result<(), symbols::image_scan::ScanError> {
//! use symbols::image_scan::{find_btf, find_kallsyms, ScanWindow};
//! let read = |addr: u64, _: &mut [u8]| -> Result<(), kmem::ReadError> {
//!     Err(kmem::ReadError::Unmapped { vaddr: addr, detail: "no memory" })
//! };
//! let stext = 0xffff_ffff_8100_0000; // VMCOREINFO's SYMBOL(_stext)
//! let window = ScanWindow { start: stext, end: stext + (64 << 20) };
//! let found = find_kallsyms(&read, window, stext)?;
//! let tainted_mask = found.kallsyms.address("tainted_mask");
//! let after = ScanWindow { start: found.tables.token_index, end: window.end };
//! let btf = find_btf(&read, after)?;
//! println!("BTF at {:#x}, {} bytes", btf.start, btf.len);
//! # Ok(()) }
//! ```

use rayon::prelude::*;

use crate::btf::Btf;
use crate::kallsyms::{AddressEncoding, Kallsyms, KallsymsTables, ReadMemory, MAX_SYMBOLS};

/// Largest window searched (the x86-64 `KERNEL_IMAGE_SIZE` with KASLR).
pub const MAX_WINDOW: u64 = 1 << 30;
/// Most token-index-shaped (or BTF-header-shaped) places validated before giving up.
pub const MAX_CANDIDATES: usize = 64;
/// Largest BTF blob accepted (6.1 cloud kernel: 4.1 MB; allyesconfig kernels: about 10 MB).
pub const MAX_BTF_BYTES: u64 = 64 << 20;

const PAGE: u64 = 4096;
/// Pages read (in parallel) per step of a scan.
const CHUNK: u64 = 256 * PAGE;
/// How far before the token table `kallsyms_num_syms` is looked for (names, markers and
/// `kallsyms_seqs_of_names`; 6.1 cloud kernel: 1.4 MB).
const MAX_NAMES_SPAN: u64 = 32 << 20;
/// Name entries decoded over all `kallsyms_num_syms` candidates of one token table.
const DECODE_BUDGET: u64 = 64 << 20;
/// Longest token accepted (tokens are merged byte pairs; the kernel's are a few bytes).
const MAX_TOKEN_LEN: u16 = 255;
/// Rejections kept for the error message.
const KEPT_REJECTIONS: usize = 4;

/// A range of kernel virtual addresses to search, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanWindow {
    /// First address searched.
    pub start: u64,
    /// One past the last address searched.
    pub end: u64,
}

impl std::fmt::Display for ScanWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}..{:#x}", self.start, self.end)
    }
}

/// What a scan read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Pages read successfully.
    pub pages_read: u64,
    /// Pages the reader could not provide (skipped).
    pub pages_unreadable: u64,
    /// Places with the right shape that were validated.
    pub candidates: usize,
}

impl std::fmt::Display for ScanStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pages read, {} unreadable, {} candidates",
            self.pages_read, self.pages_unreadable, self.candidates
        )
    }
}

/// Why a scan found nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The window is empty, reversed or larger than [`MAX_WINDOW`].
    #[error("scan window {0} is empty or larger than {MAX_WINDOW} bytes")]
    BadWindow(ScanWindow),
    /// Nothing in the window validated.
    #[error("no {what} found in {window} ({stats}){}", rejections(.rejected))]
    NotFound {
        /// `kallsyms tables` or `BTF blob`.
        what: &'static str,
        /// The window searched.
        window: ScanWindow,
        /// What was read.
        stats: ScanStats,
        /// Why the first candidates were rejected (at most a few).
        rejected: Vec<String>,
    },
    /// More than [`MAX_CANDIDATES`] candidates failed validation: the memory is not a kernel image.
    #[error("gave up looking for {what} in {window} after {} candidates ({stats}){}", MAX_CANDIDATES, rejections(.rejected))]
    TooManyCandidates {
        /// `kallsyms tables` or `BTF blob`.
        what: &'static str,
        /// The window searched.
        window: ScanWindow,
        /// What was read.
        stats: ScanStats,
        /// Why the first candidates were rejected.
        rejected: Vec<String>,
    },
}

fn rejections(r: &[String]) -> String {
    if r.is_empty() {
        String::new()
    } else {
        format!("; rejected: {}", r.join("; "))
    }
}

/// The kallsyms tables found by [`find_kallsyms`].
#[derive(Debug)]
pub struct FoundKallsyms {
    /// Where each table is (`markers` included, `stext` as given).
    pub tables: KallsymsTables,
    /// The table, read and checked.
    pub kallsyms: Kallsyms,
    /// Whether `kallsyms_seqs_of_names` sits between the markers and the token table.
    pub seqs_of_names: bool,
    /// What the scan read.
    pub stats: ScanStats,
}

/// The BTF blob found by [`find_btf`].
#[derive(Debug)]
pub struct FoundBtf {
    /// Its address (what `__start_BTF` would be).
    pub start: u64,
    /// Its length in bytes.
    pub len: u64,
    /// The parsed blob.
    pub btf: Btf,
    /// What the scan read.
    pub stats: ScanStats,
}

/// Pages of memory read at once: `bytes` covers `base..base + bytes.len()`, unreadable pages are zeros
/// and marked in `readable`.
struct Chunk {
    base: u64,
    bytes: Vec<u8>,
    readable: Vec<bool>,
}

impl Chunk {
    /// Read `base..base + len` (`base` page-aligned) page by page, in parallel.
    fn read(read: ReadMemory<'_>, base: u64, len: u64, stats: &mut ScanStats) -> Chunk {
        let mut bytes = vec![0u8; len as usize];
        let readable: Vec<bool> = bytes
            .par_chunks_mut(PAGE as usize)
            .enumerate()
            .map(|(i, page)| {
                let ok = read.read(base + i as u64 * PAGE, page).is_ok();
                if !ok {
                    page.fill(0);
                }
                ok
            })
            .collect();
        let good = readable.iter().filter(|&&r| r).count() as u64;
        stats.pages_read += good;
        stats.pages_unreadable += readable.len() as u64 - good;
        Chunk {
            base,
            bytes,
            readable,
        }
    }

    /// `len` bytes at `addr` when they lie in readable pages of this chunk.
    fn get(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let off = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let end = off.checked_add(len)?;
        if end > self.bytes.len() || len == 0 {
            return None;
        }
        let first = off / PAGE as usize;
        let last = (end - 1) / PAGE as usize;
        self.readable[first..=last]
            .iter()
            .all(|&r| r)
            .then(|| &self.bytes[off..end])
    }
}

fn check_window(window: ScanWindow) -> Result<(u64, u64), ScanError> {
    if window.end <= window.start || window.end - window.start > MAX_WINDOW {
        return Err(ScanError::BadWindow(window));
    }
    let lo = window.start & !(PAGE - 1);
    let hi = window.end.checked_add(PAGE - 1).map(|e| e & !(PAGE - 1));
    match hi {
        Some(hi) => Ok((lo, hi)),
        None => Err(ScanError::BadWindow(window)),
    }
}

fn align8(x: u64) -> u64 {
    x.wrapping_add(7) & !7
}

fn align_up(x: u64, a: u64) -> u64 {
    x.wrapping_add(a - 1) & !(a - 1)
}

/// Collects rejections and counts candidates against [`MAX_CANDIDATES`].
struct Verdicts {
    what: &'static str,
    window: ScanWindow,
    stats: ScanStats,
    rejected: Vec<String>,
}

impl Verdicts {
    /// Record a failed candidate; an error once too many have failed.
    fn reject(&mut self, why: String) -> Result<(), ScanError> {
        if self.rejected.len() < KEPT_REJECTIONS {
            self.rejected.push(why);
        }
        if self.stats.candidates >= MAX_CANDIDATES {
            return Err(ScanError::TooManyCandidates {
                what: self.what,
                window: self.window,
                stats: self.stats,
                rejected: std::mem::take(&mut self.rejected),
            });
        }
        Ok(())
    }

    fn not_found(self) -> ScanError {
        ScanError::NotFound {
            what: self.what,
            window: self.window,
            stats: self.stats,
            rejected: self.rejected,
        }
    }
}

/// The 256 offsets at `bytes` when they have the shape of `kallsyms_token_index`: 0 first, strictly
/// increasing by at most a token's length plus its NUL.
fn token_index_shape(bytes: &[u8]) -> Option<[u16; 256]> {
    if bytes[0] != 0 || bytes[1] != 0 {
        return None;
    }
    let mut index = [0u16; 256];
    for i in 1..256 {
        let v = u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]);
        let step = v.checked_sub(index[i - 1])?;
        if step == 0 || step > MAX_TOKEN_LEN + 1 {
            return None;
        }
        index[i] = v;
    }
    Some(index)
}

/// Find and read the kallsyms tables in `window` of kernel memory; `stext` is the run-time address
/// of `_stext` (VMCOREINFO's `SYMBOL(_stext)`), which chooses and checks the address encoding.
pub fn find_kallsyms(
    read: ReadMemory<'_>,
    window: ScanWindow,
    stext: u64,
) -> Result<FoundKallsyms, ScanError> {
    let (lo, hi) = check_window(window)?;
    let mut v = Verdicts {
        what: "kallsyms tables",
        window,
        stats: ScanStats::default(),
        rejected: Vec::new(),
    };
    // From the top down: the tables sit late in .rodata, and the window usually ends at .data.
    let mut top = hi;
    while top > lo {
        let base = top.saturating_sub(CHUNK).max(lo);
        // One page more than the step, for a token index that starts near the step's end.
        let len = (top - base + PAGE).min(hi - base);
        let chunk = Chunk::read(read, base, len, &mut v.stats);
        // Only token indexes that start inside the window.
        // 8-aligned up to 6.x (`.balign 8`), 4-aligned in 7.x.
        let mut p = (top.min(window.end) - 1) & !3;
        while p >= base && p >= window.start {
            if let Some(index) = chunk.get(p, 512).and_then(token_index_shape) {
                v.stats.candidates += 1;
                match tables_at_token_index(read, p, &index, stext, window) {
                    Ok((tables, kallsyms, seqs_of_names)) => {
                        return Ok(FoundKallsyms {
                            tables,
                            kallsyms,
                            seqs_of_names,
                            stats: v.stats,
                        })
                    }
                    Err(why) => v.reject(format!("token index at {p:#x}: {why}"))?,
                }
            }
            if p < 8 {
                break;
            }
            p -= 4;
        }
        top = base;
    }
    Err(v.not_found())
}

/// Reads `addr..addr + len` at once (it must be readable).
fn read_span(read: ReadMemory<'_>, addr: u64, len: u64) -> Result<Vec<u8>, String> {
    const PARALLEL: usize = 64 << 10;
    let mut buf = vec![0u8; len as usize];
    buf.par_chunks_mut(PARALLEL)
        .enumerate()
        .try_for_each(|(i, c)| read.read(addr + (i * PARALLEL) as u64, c))
        .map_err(|e| format!("{len} bytes at {addr:#x} unreadable: {e}"))?;
    Ok(buf)
}

/// The token table ending (8-aligned) at the token index `index` at `p`: its address, after checking
/// that every token is NUL-terminated printable text starting exactly at its offset.
fn token_table_before(
    read: ReadMemory<'_>,
    p: u64,
    index: &[u16; 256],
    floor: u64,
) -> Result<u64, String> {
    let last = u64::from(index[255]);
    let back = (last + u64::from(MAX_TOKEN_LEN) + 9).min(p - floor);
    let at = p - back;
    let buf = read_span(read, at, back)?;
    let b = |addr: u64| buf[(addr - at) as usize];
    // The table ends with the last token's NUL, then up to 7 bytes of padding before the index.
    'pad: for pad in 0..8u64 {
        let end = p - pad; // one past the last token's NUL
        if end <= at + last + 1 || (end..p).any(|a| b(a) != 0) || b(end - 1) != 0 {
            continue;
        }
        let mut len_last = 0;
        while end - 2 - len_last > at && b(end - 2 - len_last) != 0 {
            len_last += 1;
        }
        let Some(start) = (end - 1 - len_last).checked_sub(last).filter(|&s| s >= at) else {
            continue;
        };
        for i in 0..256 {
            let from = start + u64::from(index[i]);
            let to = if i < 255 {
                start + u64::from(index[i + 1]) - 1
            } else {
                end - 1
            };
            if b(to) != 0 || (from..to).any(|a| !b(a).is_ascii_graphic()) {
                continue 'pad;
            }
        }
        return Ok(start);
    }
    Err("no token table of NUL-terminated printable tokens ends before it".into())
}

/// Reads `from..to` page by page (in parallel) and keeps the readable part that ends at `to`: (its
/// bytes, its start, whether an unreadable page stopped it).
fn read_down(read: ReadMemory<'_>, from: u64, to: u64) -> (Vec<u8>, u64, bool) {
    let mut starts = vec![from];
    let mut next = (from & !(PAGE - 1)) + PAGE;
    while next < to {
        starts.push(next);
        next += PAGE;
    }
    let pieces: Vec<Option<Vec<u8>>> = starts
        .par_iter()
        .enumerate()
        .map(|(i, &a)| {
            let end = starts.get(i + 1).copied().unwrap_or(to);
            let mut buf = vec![0u8; (end - a) as usize];
            read.read(a, &mut buf).ok().map(|()| buf)
        })
        .collect();
    let first_kept = pieces
        .iter()
        .rposition(Option::is_none)
        .map_or(0, |bad| bad + 1);
    let hole = first_kept > 0;
    let kept_from = starts.get(first_kept).copied().unwrap_or(to);
    let bytes = pieces[first_kept..]
        .iter()
        .flatten()
        .flatten()
        .copied()
        .collect();
    (bytes, kept_from, hole)
}

/// What [`names_before`] found, and the memory it read to find it.
struct Names {
    num_syms: u64,
    names: u64,
    count: u32,
    markers: u64,
    seqs_of_names: bool,
    /// `span_start..table`, read (the names and usually the address table before them).
    span: Vec<u8>,
    span_start: u64,
}

/// `kallsyms_num_syms`, names and markers before the token table at `table`. `kallsyms_num_syms` is a
/// 4-byte count right before the names (7.x), or padded to 8 bytes (up to 6.x, and a pointer-sized word
/// in old kernels). `kallsyms_num_syms` is one 8-byte slot (a `.long`
/// then padding, or a pointer-sized word in old kernels) right before the names.
fn names_before(read: ReadMemory<'_>, table: u64, floor: u64) -> Result<Names, String> {
    let limit = table.saturating_sub(MAX_NAMES_SPAN).max(floor);
    // span holds cur..table; it grows downwards by doubling, and stops at an unreadable page (the
    // names cannot span a hole).
    let mut span: Vec<u8> = Vec::new();
    let mut cur = table;
    let mut exhausted = false;
    let mut budget = DECODE_BUDGET;
    let Some(mut p) = table.checked_sub(6).map(|a| a & !3) else {
        return Err("token table at the bottom of memory".into());
    };
    loop {
        if p < cur {
            if exhausted || cur <= limit {
                return Err(format!(
                    "no kallsyms_num_syms in {cur:#x}..{table:#x} whose names end at markers \
                     that match them and the token table"
                ));
            }
            let want = (span.len() as u64).max(256 << 10);
            let from = cur.saturating_sub(want).max(limit);
            let (bytes, kept_from, hole) = read_down(read, from, cur);
            exhausted = hole || kept_from <= limit;
            if bytes.is_empty() {
                return Err(format!("memory just below {cur:#x} is unreadable"));
            }
            span.splice(0..0, bytes);
            cur = kept_from;
            continue;
        }
        let word = |at: u64| -> u32 {
            let off = (at - cur) as usize;
            span.get(off..off + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let n = word(p);
        let padded = p % 8 == 0 && p + 8 <= table && word(p + 4) == 0;
        let starts = [Some(p + 4), padded.then_some(p + 8)];
        for names in starts.into_iter().flatten() {
            if n == 0 || n > MAX_SYMBOLS || 2 * u64::from(n) > table - names {
                continue;
            }
            let rel = (names - cur) as usize;
            if let Some((markers, seqs_of_names)) =
                check_names(&span[rel..], names, n, table, &mut budget)
            {
                return Ok(Names {
                    num_syms: p,
                    names,
                    count: n,
                    markers,
                    seqs_of_names,
                    span,
                    span_start: cur,
                });
            }
            if budget == 0 {
                return Err("decode budget spent on kallsyms_num_syms candidates".into());
            }
        }
        let Some(next) = p.checked_sub(4) else {
            return Err("reached address 0".into());
        };
        p = next;
    }
}

/// Decode `n` name entries from `names` (the bytes up to the token table at `table`); when they end at
/// markers that match them, followed by the token table (directly or after `kallsyms_seqs_of_names`),
/// the markers' address and whether the seqs table is there.
fn check_names(
    bytes: &[u8],
    names: u64,
    n: u32,
    table: u64,
    budget: &mut u64,
) -> Option<(u64, bool)> {
    let m = n.div_ceil(256) as usize;
    let mut marks = Vec::with_capacity(m);
    let mut pos = 0usize;
    for i in 0..n {
        *budget = budget.saturating_sub(1);
        if *budget == 0 {
            return None;
        }
        if i % 256 == 0 {
            marks.push(pos as u64);
        }
        let b0 = *bytes.get(pos)?;
        let len = if b0 & 0x80 != 0 {
            pos += 1;
            usize::from(b0 & 0x7f) | usize::from(*bytes.get(pos)?) << 7
        } else {
            usize::from(b0)
        };
        if len == 0 {
            return None;
        }
        pos += 1 + len;
        if pos > bytes.len() {
            return None;
        }
    }
    let end = names + pos as u64;
    for align in [8u64, 4] {
        let markers = align_up(end, align);
        let Some(pad) = bytes.get(pos..(markers - names) as usize) else {
            continue;
        };
        if pad.iter().any(|&b| b != 0) {
            continue;
        }
        for width in [4usize, 8] {
            let at = (markers - names) as usize;
            let Some(raw) = bytes.get(at..at + m * width) else {
                continue;
            };
            let same = raw.chunks_exact(width).zip(&marks).all(|(c, &want)| {
                let mut w = [0u8; 8];
                w[..width].copy_from_slice(c);
                u64::from_le_bytes(w) == want
            });
            if !same {
                continue;
            }
            let after = align_up(markers + (m * width) as u64, align);
            if after == table {
                return Some((markers, false));
            }
            // 6.2-6.x (and stable backports such as Debian's 6.1): kallsyms_seqs_of_names, 3 bytes
            // per symbol, each a big-endian symbol number, between the markers and the token table.
            let seqs_end = after + 3 * u64::from(n);
            if align_up(seqs_end, align) == table {
                let s = bytes.get((after - names) as usize..(seqs_end - names) as usize)?;
                if seqs_in_range(s, n) {
                    return Some((markers, true));
                }
            }
        }
    }
    None
}

/// Every 3-byte big-endian entry of `kallsyms_seqs_of_names` is a symbol number below `n`.
fn seqs_in_range(s: &[u8], n: u32) -> bool {
    s.chunks_exact(3)
        .all(|t| u32::from_be_bytes([0, t[0], t[1], t[2]]) < n)
}

/// Everything found from a token index at `p`.
fn tables_at_token_index(
    read: ReadMemory<'_>,
    p: u64,
    index: &[u16; 256],
    stext: u64,
    window: ScanWindow,
) -> Result<(KallsymsTables, Kallsyms, bool), String> {
    let table = token_table_before(read, p, index, window.start)?;
    let Names {
        num_syms,
        names,
        count: n,
        markers,
        seqs_of_names: seqs,
        span,
        span_start,
    } = names_before(read, table, window.start)?;
    let n64 = u64::from(n);
    // The table is read again by Kallsyms::read: serve what the search already read from memory.
    let span_end = span_start + span.len() as u64;
    let cached = |addr: u64, buf: &mut [u8]| -> Result<(), kmem::ReadError> {
        match addr.checked_add(buf.len() as u64) {
            Some(end) if addr >= span_start && end <= span_end => {
                let off = (addr - span_start) as usize;
                buf.copy_from_slice(&span[off..off + buf.len()]);
                Ok(())
            }
            _ => read.read(addr, buf),
        }
    };
    let base = KallsymsTables {
        names,
        num_syms,
        token_table: table,
        token_index: p,
        offsets: None,
        relative_base: None,
        addresses: None,
        markers: Some(markers),
        stext: Some(stext),
    };
    // Up to 6.3 the address table ends right before kallsyms_num_syms (kallsyms_relative_base in
    // between for the offsets); 6.4+ puts it after the token index, and 7.x has no relative base
    // (place-relative offsets) and kallsyms_seqs_of_names after the offsets.
    let after_index = p + 512;
    let layouts = [
        KallsymsTables {
            offsets: num_syms.checked_sub(8 + align8(4 * n64)),
            relative_base: num_syms.checked_sub(8),
            ..base.clone()
        },
        KallsymsTables {
            addresses: num_syms.checked_sub(8 * n64),
            ..base.clone()
        },
        KallsymsTables {
            offsets: Some(after_index),
            relative_base: Some(align8(after_index + 4 * n64)),
            ..base.clone()
        },
        KallsymsTables {
            offsets: Some(after_index),
            ..base.clone()
        },
        KallsymsTables {
            addresses: Some(after_index),
            ..base.clone()
        },
    ];
    let mut why = Vec::new();
    for mut t in layouts {
        if t.offsets.is_none() && t.addresses.is_none() {
            continue;
        }
        match Kallsyms::read(&t, &cached) {
            Ok(k) => match check_addresses(&k, stext) {
                Ok(()) => {
                    if k.encoding() == AddressEncoding::PlaceRelative {
                        // Decoded without a base: whatever follows the offsets is not one.
                        t.relative_base = None;
                    }
                    let seqs = seqs || seqs_after_offsets(read, &t, after_index, n);
                    return Ok((t, k, seqs));
                }
                Err(e) => why.push(e),
            },
            Err(e) => why.push(e.to_string()),
        }
    }
    Err(format!(
        "{n} names at {:#x} but no address table fits: {}",
        base.names,
        why.join("; ")
    ))
}

/// Whether `kallsyms_seqs_of_names` follows an address table that starts after the token index (7.x).
fn seqs_after_offsets(read: ReadMemory<'_>, t: &KallsymsTables, after_index: u64, n: u32) -> bool {
    let n64 = u64::from(n);
    let end = match (t.offsets, t.relative_base, t.addresses) {
        (Some(o), None, _) if o == after_index => o + 4 * n64,
        (Some(o), Some(rb), _) if o == after_index => rb + 8,
        (None, _, Some(a)) if a == after_index => a + 8 * n64,
        _ => return false,
    };
    [4, 8].into_iter().any(|align| {
        let at = align_up(end, align);
        read_span(read, at, 3 * n64).is_ok_and(|s| seqs_in_range(&s, n))
    })
}

/// Addresses sorted, and each inside the image around `_stext` or a per-CPU offset.
fn check_addresses(k: &Kallsyms, stext: u64) -> Result<(), String> {
    let lo = stext.saturating_sub(MAX_WINDOW);
    let hi = stext.saturating_add(MAX_WINDOW);
    let percpu = k.encoding() == AddressEncoding::AbsolutePercpu;
    let addrs = k.addresses();
    if let Some(i) = addrs.windows(2).position(|w| w[0] > w[1]) {
        return Err(format!(
            "{} encoding: addresses not sorted at entry {} ({:#x} > {:#x})",
            k.encoding().name(),
            i,
            addrs[i],
            addrs[i + 1]
        ));
    }
    if let Some((i, a)) = addrs
        .iter()
        .enumerate()
        .find(|&(_, &a)| !((lo..hi).contains(&a) || (percpu && a < 1 << 31)))
    {
        return Err(format!(
            "{} encoding: entry {i} at {a:#x} is outside the image around _stext {stext:#x}",
            k.encoding().name()
        ));
    }
    Ok(())
}

/// Find the kernel's BTF blob (what `__start_BTF` points at) in `window`, from its start upwards.
pub fn find_btf(read: ReadMemory<'_>, window: ScanWindow) -> Result<FoundBtf, ScanError> {
    const MAGIC: [u8; 4] = [0x9f, 0xeb, 0x01, 0x00];
    let (lo, hi) = check_window(window)?;
    let mut v = Verdicts {
        what: "BTF blob",
        window,
        stats: ScanStats::default(),
        rejected: Vec::new(),
    };
    let finder = memchr::memmem::Finder::new(&MAGIC);
    let mut base = lo;
    while base < hi {
        let step = CHUNK.min(hi - base);
        // One page more, for a header that starts near the step's end.
        let len = (step + PAGE).min(hi - base);
        let chunk = Chunk::read(read, base, len, &mut v.stats);
        let searched = &chunk.bytes[..step as usize + 3.min(len - step) as usize];
        for off in finder.find_iter(searched) {
            let at = base + off as u64;
            if at < window.start || at >= window.end {
                continue;
            }
            let Some(header) = chunk.get(at, 24) else {
                continue;
            };
            let Some(len) = btf_header_len(header) else {
                continue;
            };
            v.stats.candidates += 1;
            match read_span(read, at, len).and_then(|bytes| {
                let btf = Btf::parse(bytes).map_err(|e| e.to_string())?;
                btf.aggregate_id("task_struct")
                    .map_err(|_| "no struct task_struct (not the kernel's own BTF)".to_string())?;
                Ok(btf)
            }) {
                Ok(btf) => {
                    return Ok(FoundBtf {
                        start: at,
                        len,
                        btf,
                        stats: v.stats,
                    })
                }
                Err(why) => v.reject(format!("BTF header at {at:#x}: {why}"))?,
            }
        }
        base += step;
    }
    Err(v.not_found())
}

/// The blob's length when the 24 bytes are a plausible BTF header: version 1, no flags, a 24-256 byte
/// header, non-empty 4-aligned type and string sections, at most [`MAX_BTF_BYTES`] in all.
fn btf_header_len(h: &[u8]) -> Option<u64> {
    let word = |i: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            h.get(4 + 4 * i..8 + 4 * i)?.try_into().ok()?,
        )))
    };
    let (hdr_len, type_off, type_len, str_off, str_len) =
        (word(0)?, word(1)?, word(2)?, word(3)?, word(4)?);
    let total = hdr_len + (type_off + type_len).max(str_off + str_len);
    let plausible = h[3] == 0
        && (24..=256).contains(&hdr_len)
        && type_off % 4 == 0
        && type_len > 0
        && str_len > 0
        && total <= MAX_BTF_BYTES;
    plausible.then_some(total)
}

#[cfg(test)]
mod tests;
