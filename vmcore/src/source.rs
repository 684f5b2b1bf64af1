//! The bytes of a dump file: memory-mapped, with bounds-checked reads that name what they wanted.
//!
//! A [`Source`] is either the plain file or a flattened stream seen through its offset map, so the ELF and kdump
//! parsers read "the dump file" without knowing which it is.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::Error;
use crate::flattened::{FlatMap, FlatReadError};

/// The whole file, mapped (or owned, for in-memory dumps such as fuzz inputs), or read on demand when it
/// cannot be mapped (`/proc/kcore` has no mmap: its bytes are the running kernel's memory, read per call).
pub(crate) enum Backing {
    /// The file's read-only map (the file itself is not needed once mapped).
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
    /// A file read with `pread` (procfs files); `len` is its size at open time.
    Read {
        file: File,
        len: u64,
    },
}

impl Backing {
    /// The mapped or owned bytes; empty for a [`Backing::Read`] file, whose bytes only
    /// [`Source::read_at`] fetches (only ELF cores are read that way: see [`map_file`]).
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
            Backing::Read { .. } => &[],
        }
    }

    fn len(&self) -> u64 {
        match self {
            Backing::Read { len, .. } => *len,
            b => b.bytes().len() as u64,
        }
    }
}

pub(crate) fn map_file(path: &Path) -> Result<Backing, Error> {
    let io = |source| Error::Io {
        file: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Err(Error::Truncated {
            file: path.to_path_buf(),
            what: "a dump header".into(),
            offset: 0,
            end: 8,
            len: 0,
            kind: "file",
        });
    }
    // SAFETY: the map is read-only; a dump being modified while we read it (another process truncating or
    // rewriting it) is outside what we support, as for every mmap-based reader. All reads are bounds-checked
    // against the length at map time.
    #[allow(unsafe_code)]
    let map = match unsafe { memmap2::Mmap::map(&file) } {
        Ok(m) => m,
        // procfs files (`/proc/kcore`) have no mmap, and kcore's size (the whole kernel address space) is
        // more than a mapping may be (ENOMEM): read such files piecewise instead. arm64's kcore (6.1, 48-bit
        // VA: 0xfc00_0100_3000 bytes) fails mmap with EIO (procfs' get_unmapped_area; seen in the live
        // guest): a real I/O error on a dump file is then met again by the first read, and named there.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(
                    19 /* ENODEV */ | 22 /* EINVAL */ | 12 /* ENOMEM */ | 75 /* EOVERFLOW */ | 5 /* EIO */
                )
            ) =>
        {
            return Ok(Backing::Read { file, len });
        }
        Err(e) => return Err(io(e)),
    };
    #[cfg(unix)]
    {
        // Page reads are scattered; don't let the kernel read ahead megabytes we won't use.
        let _ = map.advise(memmap2::Advice::Random);
    }
    Ok(Backing::Mapped(map))
}

/// What the parsers read: the plain file, or the logical file a flattened stream describes.
pub(crate) struct Source {
    pub(crate) path: Arc<Path>,
    pub(crate) backing: Backing,
    pub(crate) flat: Option<FlatMap>,
    /// Bytes of the file the reads so far have touched (see [`Source::read_at`]); relaxed: a tally, not a lock.
    pub(crate) bytes_read: AtomicU64,
}

impl Source {
    /// Length of the (logical) dump file.
    pub(crate) fn len(&self) -> u64 {
        match &self.flat {
            Some(f) => f.logical_len(),
            None => self.backing.len(),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        if self.flat.is_some() {
            "flattened stream"
        } else {
            "file"
        }
    }

    /// `len` bytes at logical `offset`, borrowed when contiguous in the file, counted in [`Source::bytes_read`].
    pub(crate) fn read_at(
        &self,
        offset: u64,
        len: u64,
        what: &str,
    ) -> Result<Cow<'_, [u8]>, Error> {
        let bytes = self.peek_at(offset, len, what)?;
        self.bytes_read.fetch_add(len, Ordering::Relaxed);
        Ok(bytes)
    }

    /// The end of `len` bytes at `offset`, or the error naming `what` when they run past the file.
    fn end_of(&self, offset: u64, len: u64, what: &str) -> Result<u64, Error> {
        offset
            .checked_add(len)
            .filter(|&e| e <= self.len())
            .ok_or_else(|| self.truncated(offset, len, what))
    }

    /// `len` bytes at `offset`, named `what`, run past the end of the file (or stream).
    fn truncated(&self, offset: u64, len: u64, what: &str) -> Error {
        Error::Truncated {
            file: self.path.to_path_buf(),
            what: what.to_string(),
            offset,
            end: offset.saturating_add(len),
            len: self.len(),
            kind: self.kind(),
        }
    }

    /// [`Source::read_at`] without counting: for bytes an earlier read already counted.
    pub(crate) fn peek_at(
        &self,
        offset: u64,
        len: u64,
        what: &str,
    ) -> Result<Cow<'_, [u8]>, Error> {
        let end = self.end_of(offset, len, what)?;
        if let Backing::Read { file, .. } = &self.backing {
            use std::os::unix::fs::FileExt;
            let mut buf = vec![0u8; len as usize];
            return file
                .read_exact_at(&mut buf, offset)
                .map(|_| Cow::Owned(buf))
                .map_err(|source| Error::Io {
                    file: self.path.to_path_buf(),
                    source,
                });
        }
        match &self.flat {
            None => Ok(Cow::Borrowed(
                &self.backing.bytes()[offset as usize..end as usize],
            )),
            Some(flat) => flat.read(self.backing.bytes(), offset, len).map_err(|e| match e {
                FlatReadError::PastEnd => self.truncated(offset, len, what),
                FlatReadError::MostlyUnwritten { written, len } => Error::malformed(
                    &self.path,
                    offset,
                    format!("{what}: the flattened stream wrote only {written} of these {len} bytes"),
                ),
            }),
        }
    }

    /// Visit `offset..offset+len` in slabs of at most `slab` bytes (a multiple of what the caller chunks by),
    /// counting the bytes as read when `counted`. Long ranges of a plain mapped file are read from the map and
    /// unmapped behind the reader: nothing left resident (a 16 TiB machine's bitmaps are 512 MiB each).
    pub(crate) fn for_each_slab(
        &self,
        offset: u64,
        len: u64,
        slab: u64,
        what: &str,
        counted: bool,
        mut f: impl FnMut(&[u8]),
    ) -> Result<(), Error> {
        const PREAD_FROM: u64 = 256 << 10;
        let end = self.end_of(offset, len, what)?;
        match (&self.backing, &self.flat) {
            (Backing::Mapped(map), None) if len >= PREAD_FROM => {
                // Counted straight from the map (no copy out of the page cache: the copy was half of `info`'s
                // time on a 16 TiB machine), each slab's pages unmapped again once visited so that the 1 GiB of
                // a 16 TiB machine's bitmaps never stays resident in this process.
                // Whole pages of any host page size (4, 16 or 64 KiB); a slab is 256 KiB.
                const PAGE: u64 = 64 << 10;
                let mut at = offset;
                // Pages below `dropped` are unmapped already; pages a slab only began stay until the next one.
                let mut dropped = offset.div_ceil(PAGE) * PAGE;
                while at < end {
                    let n = (end - at).min(slab);
                    f(&map[at as usize..(at + n) as usize]);
                    at += n;
                    let upto = at / PAGE * PAGE;
                    if upto > dropped {
                        // SAFETY: the map is read-only and shared, so MADV_DONTNEED only drops this process's
                        // page-table entries: the next access faults the same file bytes back in, and no slice
                        // borrowed from the map (here or on another thread) can see different contents.
                        #[allow(unsafe_code)]
                        let _ = unsafe {
                            map.unchecked_advise_range(
                                memmap2::UncheckedAdvice::DontNeed,
                                dropped as usize,
                                (upto - dropped) as usize,
                            )
                        };
                        dropped = upto;
                    }
                }
            }
            _ => {
                let mut at = offset;
                while at < end {
                    let n = (end - at).min(slab);
                    f(&self.peek_at(at, n, what)?);
                    at += n;
                }
            }
        }
        if counted {
            self.bytes_read.fetch_add(len, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Where logical `offset..offset+len` lies in the real file, when it is one contiguous piece.
    pub(crate) fn file_range(&self, offset: u64, len: u64) -> Option<u64> {
        match &self.flat {
            None if matches!(self.backing, Backing::Read { .. }) => None,
            None => (offset.checked_add(len)? <= self.len()).then_some(offset),
            Some(flat) => flat.file_offset(offset, len),
        }
    }
}

/// Little-endian field readers over a header slice whose length the caller has checked.
pub(crate) fn le_u16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().expect("2 bytes"))
}
pub(crate) fn le_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}
pub(crate) fn le_i32(b: &[u8], off: usize) -> i32 {
    le_u32(b, off) as i32
}
pub(crate) fn le_u64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}
pub(crate) fn le_i64(b: &[u8], off: usize) -> i64 {
    le_u64(b, off) as i64
}
pub(crate) fn be_i64(b: &[u8], off: usize) -> i64 {
    i64::from_be_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// A printable rendering of a file's first bytes for "unknown format" errors.
pub(crate) fn magic_preview(b: &[u8]) -> String {
    let head = &b[..b.len().min(16)];
    let hex: Vec<String> = head.iter().map(|c| format!("{c:02x}")).collect();
    format!("[{}]", hex.join(" "))
}
