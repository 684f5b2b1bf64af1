//! Readers for Linux kernel crash dumps, and x86-64 and AArch64 kernel address translation.
//!
//! [`Vmcore::open`] recognises the format by content, never by name: ELF64 cores (`/proc/vmcore` copies,
//! `makedumpfile -E`, QEMU `dump-guest-memory`), kdump-compressed files (`KDUMP   `, header versions 1-6, zlib,
//! lzo, snappy, zstd or raw pages) and flattened streams (`makedumpfile -F`, QEMU's kdump formats) read in
//! place. Physical reads say *why* a page is missing ([`ReadError`]); virtual reads translate through the
//! kernel's own page tables ([`x86_64`], [`aarch64`]; [`arch`] picks by the dump's machine). Nothing here knows
//! about DWARF.
//!
//! ```no_run
//! let dump = vmcore::Vmcore::open("vmcore")?;
//! println!("{} {:?}", dump.format().name(), dump.vmcoreinfo().and_then(|v| v.osrelease.as_deref()));
//! let uts = dump.vmcoreinfo().and_then(|v| v.symbol("init_uts_ns")).expect("6.x kernels export it");
//! let mut release = [0u8; 65];
//! dump.read_virt(uts + 65 * 2, &mut release)?; // uts_namespace.name.release (name is first on 6.1)
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aarch64;
pub mod arch;
mod cache;
pub mod codec;
mod elf;
pub mod error;
mod flattened;
mod kdump;
pub mod lzo;
pub mod notes;
mod source;
pub mod vmcoreinfo;
pub mod x86_64;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

pub use arch::{Machine, TranslationInfo, Translator};
pub use codec::Compression;
pub use elf::LoadSegment;
pub use error::{Error, ReadError};
pub use kdump::KdumpHeader;
pub use notes::{Notes, PrStatus, QemuCpuState};
pub use vmcoreinfo::VmcoreInfo;
pub use x86_64::{PageTableWalker, PhysicalMemory, Translation};

use source::{Backing, Source};

/// The container format of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Format {
    /// ELF64 core.
    #[serde(rename = "elf")]
    Elf,
    /// kdump-compressed (`KDUMP   `).
    #[serde(rename = "kdump")]
    Kdump,
    /// A flattened stream holding a kdump-compressed file.
    #[serde(rename = "kdump-flattened")]
    KdumpFlattened,
    /// A flattened stream holding an ELF core (`makedumpfile -F -E`).
    #[serde(rename = "elf-flattened")]
    ElfFlattened,
    /// An ELF core of kernel virtual memory, read through its segments: `/proc/kcore` of a running kernel.
    #[serde(rename = "kcore")]
    Kcore,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Elf => "elf",
            Format::Kdump => "kdump",
            Format::KdumpFlattened => "kdump-flattened",
            Format::ElfFlattened => "elf-flattened",
            Format::Kcore => "kcore",
        }
    }
}

enum Body {
    Elf(elf::Elf),
    Kdump(Box<kdump::Kdump>),
}

/// Pages of decompressed data kept per open dump (4096 pages = 16 MiB at most for 4 KiB pages).
const CACHE_PAGES: usize = 4096;

/// An opened crash dump. `Sync`: share it across threads and read from all of them.
pub struct Vmcore {
    src: Source,
    body: Body,
    vmcoreinfo: Option<VmcoreInfo>,
    notes: Notes,
    page_size: u64,
    cache: cache::PageCache,
    translator: OnceLock<Result<Translator, String>>,
}

impl Vmcore {
    /// Open and parse the headers of a dump file (pages are read on demand).
    pub fn open(path: impl AsRef<Path>) -> Result<Vmcore, Error> {
        let path = path.as_ref();
        let backing = source::map_file(path)?;
        Self::from_backing(path, backing)
    }

    /// Parse a dump held in memory (fuzzing, tests). `name` stands for the file name in errors.
    pub fn from_bytes(name: impl AsRef<Path>, bytes: Vec<u8>) -> Result<Vmcore, Error> {
        Self::from_backing(name.as_ref(), Backing::Owned(bytes))
    }

    fn from_backing(path: &Path, backing: Backing) -> Result<Vmcore, Error> {
        let bytes = backing.bytes();
        let flat = if flattened::is_flattened(bytes) {
            Some(flattened::FlatMap::build(path, bytes)?)
        } else {
            None
        };
        let src = Source {
            path: Arc::from(path),
            backing,
            flat,
            bytes_read: Default::default(),
        };
        let head = src.read_at(0, src.len().min(8), "format magic")?;
        let mut body = if head.len() >= 8 && head[..8] == kdump::KDUMP_SIGNATURE[..] {
            Body::Kdump(Box::new(kdump::Kdump::parse(&src)?))
        } else if head.starts_with(b"\x7fELF") {
            Body::Elf(elf::Elf::parse(&src)?)
        } else {
            return Err(Error::UnknownFormat {
                file: path.to_path_buf(),
                magic: source::magic_preview(&head),
            });
        };
        let mut notes = Notes::default();
        let (note_bytes, note_origin) = match &body {
            Body::Elf(e) => (Some(&e.notes[..]), "PT_NOTE"),
            Body::Kdump(k) => (k.notes.as_deref(), "kdump note area"),
        };
        if let Some(nb) = note_bytes {
            notes::parse(nb, &mut notes).map_err(|(off, expected)| {
                Error::malformed(
                    path,
                    off as u64,
                    format!("{expected} (offset within the {note_origin})"),
                )
            })?;
        }
        // kcore of kernels that write a physical address on every segment: its NT_TASKSTRUCT note (the
        // reading task's `task_struct`, which no vmcore carries) says this core is kernel virtual memory.
        if let Body::Elf(e) = &mut body {
            const NT_TASKSTRUCT: u32 = 4;
            if e.addressing == elf::Addressing::Physical
                && notes
                    .other
                    .iter()
                    .any(|(n, t, _)| n == "CORE" && *t == NT_TASKSTRUCT)
            {
                e.address_virtually();
            }
        }
        let vmcoreinfo_text = match &body {
            Body::Kdump(k) => k.vmcoreinfo.clone().or_else(|| notes.vmcoreinfo.clone()),
            Body::Elf(_) => notes.vmcoreinfo.clone(),
        };
        let vmcoreinfo = vmcoreinfo_text.as_deref().map(VmcoreInfo::parse);
        let page_size = match &body {
            Body::Kdump(k) => k.header.block_size as u64,
            Body::Elf(_) => vmcoreinfo
                .as_ref()
                .and_then(|v| v.page_size)
                .filter(|p| p.is_power_of_two())
                .unwrap_or(4096),
        };
        Ok(Vmcore {
            src,
            body,
            vmcoreinfo,
            notes,
            page_size,
            cache: cache::PageCache::new(CACHE_PAGES),
            translator: OnceLock::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.src.path
    }

    /// Bytes of the dump file read since it was opened: headers, notes, the bitmap bytes and page descriptors
    /// looked up, and each page's stored (compressed) bytes every time one is decoded or copied. Pages served
    /// from the decoded-page cache are not read again. A relaxed atomic tally: cheap on every read, exact once
    /// the readers have finished.
    ///
    /// ```no_run
    /// let dump = vmcore::Vmcore::open("vmcore")?;
    /// let mut mask = [0u8; 8];
    /// let _ = dump.read_phys(0x1000, &mut mask);
    /// eprintln!("{} bytes read from {}", dump.bytes_read(), dump.path().display());
    /// # Ok::<(), vmcore::Error>(())
    /// ```
    pub fn bytes_read(&self) -> u64 {
        self.src
            .bytes_read
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn format(&self) -> Format {
        match (&self.body, self.src.flat.is_some()) {
            (Body::Elf(e), false) if e.addressing == elf::Addressing::Virtual => Format::Kcore,
            (Body::Elf(_), false) => Format::Elf,
            (Body::Elf(_), true) => Format::ElfFlattened,
            (Body::Kdump(_), false) => Format::Kdump,
            (Body::Kdump(_), true) => Format::KdumpFlattened,
        }
    }

    /// The page codec (kdump), or [`Compression::None`].
    pub fn compression(&self) -> Compression {
        match &self.body {
            Body::Kdump(k) => k.compression(&self.src),
            Body::Elf(_) => Compression::None,
        }
    }

    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    pub fn vmcoreinfo(&self) -> Option<&VmcoreInfo> {
        self.vmcoreinfo.as_ref()
    }

    pub fn notes(&self) -> &Notes {
        &self.notes
    }

    pub fn kdump_header(&self) -> Option<&KdumpHeader> {
        match &self.body {
            Body::Kdump(k) => Some(&k.header),
            Body::Elf(_) => None,
        }
    }

    /// One past the highest page frame the dump describes (kdump `max_mapnr`; the end of the last ELF segment).
    pub fn max_pfn(&self) -> u64 {
        match &self.body {
            Body::Kdump(k) => k.header.max_mapnr,
            Body::Elf(e) => e.phys_end().div_ceil(self.page_size),
        }
    }

    /// The `PT_LOAD` segments of an ELF dump, sorted by physical address (by virtual address for kcore).
    pub fn elf_segments(&self) -> Option<&[LoadSegment]> {
        match &self.body {
            Body::Elf(e) => Some(&e.segments),
            Body::Kdump(_) => None,
        }
    }

    /// Read physical memory. Fails on the first byte that is not in the dump, saying why.
    pub fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        match &self.body {
            Body::Elf(e) => e.read(&self.src, paddr, buf),
            Body::Kdump(k) => {
                let ps = self.page_size;
                let mut done = 0usize;
                while done < buf.len() {
                    let a = paddr
                        .checked_add(done as u64)
                        .ok_or(ReadError::NotInDump { paddr: u64::MAX })?;
                    let (pfn, off) = (a / ps, (a % ps) as usize);
                    let n = (ps as usize - off).min(buf.len() - done);
                    let d = k.page_desc(&self.src, pfn)?;
                    let out = &mut buf[done..done + n];
                    if d.codec == Compression::None && d.size as u64 == ps {
                        out.copy_from_slice(&k.page_bytes(&self.src, &d)?[off..off + n]);
                    } else if let Some(page) = self.cache.get(pfn) {
                        out.copy_from_slice(&page[off..off + n]);
                    } else if n as u64 == ps {
                        // A whole page (big sequential reads: the BTF blob, the log): decode straight into the
                        // caller's buffer and leave the cache to the small, repeated reads it serves.
                        k.read_page(&self.src, &d, out)?;
                    } else {
                        let mut page = vec![0u8; ps as usize];
                        k.read_page(&self.src, &d, &mut page)?;
                        out.copy_from_slice(&page[off..off + n]);
                        self.cache.insert(pfn, Arc::from(page));
                    }
                    done += n;
                }
                Ok(())
            }
        }
    }

    /// The architecture of the dumped kernel: ELF `e_machine`, the kdump header's machine, else VMCOREINFO.
    pub fn machine(&self) -> Machine {
        match &self.body {
            Body::Elf(e) => Machine::from_elf(e.machine),
            Body::Kdump(k) => Machine::from_utsname(&k.header.machine, self.vmcoreinfo.as_ref()),
        }
    }

    /// Fails, in one line, when the dump's architecture is one whose addresses cannot be translated here.
    pub fn ensure_supported(&self) -> Result<Machine, Error> {
        match self.machine() {
            Machine::Other(machine) => Err(Error::UnsupportedArchitecture {
                file: self.path().to_path_buf(),
                machine,
            }),
            m => Ok(m),
        }
    }

    /// A code address read from the dump (return address, function pointer) with any AArch64
    /// pointer-authentication code stripped; unchanged when there is none or no translator.
    pub fn strip_code_pointer(&self, addr: u64) -> u64 {
        self.translator()
            .map_or(addr, |t| t.strip_code_pointer(addr))
    }

    /// The kernel address translator, built on first use from VMCOREINFO (or QEMU's CR3 when there is none).
    pub fn translator(&self) -> Result<&Translator, Error> {
        self.ensure_supported()?;
        self.translator
            .get_or_init(|| self.build_translator())
            .as_ref()
            .map_err(|detail| Error::NoTranslation {
                file: self.path().to_path_buf(),
                detail: detail.clone(),
            })
    }

    /// Translate a kernel virtual address to a physical one (kcore: where its segments say, else none).
    pub fn translate(&self, vaddr: u64) -> Result<u64, ReadError> {
        if let Body::Elf(e) = &self.body {
            if e.addressing == elf::Addressing::Virtual {
                return e.kcore_paddr(vaddr).ok_or(ReadError::Unmapped {
                    vaddr,
                    detail: "no physical address in /proc/kcore's segments",
                });
            }
        }
        self.translator_for(vaddr)?.translate(self, vaddr)
    }

    /// The translator, or the typed reason there is none (the same reason for every address).
    fn translator_for(&self, vaddr: u64) -> Result<&Translator, ReadError> {
        match self.translator.get_or_init(|| self.build_translator()) {
            Ok(t) => Ok(t),
            Err(why) => Err(ReadError::NoTranslation {
                vaddr,
                why: Arc::from(why.as_str()),
            }),
        }
    }

    /// Read kernel virtual memory, page by page (through the segments for kcore).
    pub fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if let Body::Elf(e) = &self.body {
            if e.addressing == elf::Addressing::Virtual {
                return e.read_virtual(&self.src, vaddr, buf);
            }
        }
        let t = self.translator_for(vaddr)?;
        let mut done = 0usize;
        while done < buf.len() {
            let a = vaddr.wrapping_add(done as u64);
            let n = (4096 - (a & 4095) as usize).min(buf.len() - done);
            let p = t.translate(self, a)?;
            self.read_phys(p, &mut buf[done..done + n])
                .map_err(|e| ReadError::Page {
                    vaddr: a,
                    source: Box::new(e),
                })?;
            done += n;
        }
        Ok(())
    }

    fn build_translator(&self) -> Result<Translator, String> {
        if matches!(&self.body, Body::Elf(e) if e.addressing == elf::Addressing::Virtual) {
            return Err(
                "none needed: /proc/kcore is read by virtual address through its segments".into(),
            );
        }
        match self.machine() {
            Machine::X86_64 => self.build_x86_64_translator().map(Translator::X86_64),
            Machine::Aarch64 => self.build_aarch64_translator().map(Translator::Aarch64),
            Machine::Other(m) => Err(format!(
                "unsupported architecture {m}: vmtaint reads x86_64 and aarch64 kernels"
            )),
        }
    }

    fn build_aarch64_translator(&self) -> Result<aarch64::Translator, String> {
        let vi = self.vmcoreinfo.as_ref().ok_or(
            "the dump has no VMCOREINFO (VA_BITS, kimage_voffset, PHYS_OFFSET, swapper_pg_dir)",
        )?;
        let dump_page_size = match &self.body {
            Body::Kdump(k) => Some(k.header.block_size as u64),
            Body::Elf(_) => None,
        };
        let config =
            aarch64::Config::from_vmcoreinfo(vi, dump_page_size).map_err(|e| e.to_string())?;
        aarch64::Translator::checked(config, self).map_err(|e| e.to_string())
    }

    fn build_x86_64_translator(&self) -> Result<x86_64::Translator, String> {
        let vi = self.vmcoreinfo.as_ref();
        let phys_base = vi.and_then(|v| v.phys_base).map(|p| p as u64);
        let sme_mask = vi.and_then(|v| v.sme_mask).unwrap_or(0);
        let qemu = self.notes.qemu_cpus.first();
        let (walker, kernel_text, source) = match (vi.and_then(|v| v.init_top_pgt), phys_base) {
            (Some(top), Some(pb)) => {
                let root = top.wrapping_sub(x86_64::START_KERNEL_MAP).wrapping_add(pb);
                let five = vi.and_then(|v| v.pgtable_l5_enabled).unwrap_or(false);
                let image = vi.and_then(|v| v.kernel_image_size).unwrap_or(512 << 20);
                (PageTableWalker::new(root, five, sme_mask), Some((pb, image)), "init_top_pgt")
            }
            _ => match qemu {
                Some(cpu) if cpu.cr3 != 0 => {
                    let five = cpu.cr4 & (1 << 12) != 0; // CR4.LA57
                    // Without VMCOREINFO the SME C-bit is unknown; a physical address cannot exceed what the
                    // dump describes, so a single CR3 frame bit above that is the encryption bit.
                    let sme_mask = if sme_mask != 0 { sme_mask } else { self.infer_sme_bit(cpu.cr3) };
                    // CR3 low bits hold the PCID; the walker keeps the frame only.
                    (PageTableWalker::new(cpu.cr3, five, sme_mask), None, "QEMU CR3")
                }
                _ => {
                    return Err(match vi {
                        None => "the dump has no VMCOREINFO (SYMBOL(init_top_pgt), NUMBER(phys_base)) and no QEMU CPU note with CR3".into(),
                        Some(_) => "VMCOREINFO lacks SYMBOL(init_top_pgt) or NUMBER(phys_base), and there is no QEMU CPU note with CR3".into(),
                    })
                }
            },
        };
        let mut probe = [0u8; 8];
        if let Err(e) = self.read_phys(walker.root, &mut probe) {
            // Without the page tables, kernel text and data (tainted_mask, the log pointer...) still translate
            // through the text mapping; only then is a translator worth having. Walks will fail, each naming
            // the unreadable table.
            if kernel_text.is_none() {
                return Err(format!(
                    "the top page table ({source}) at physical {:#x} is unreadable: {e}",
                    walker.root
                ));
            }
        }
        let mut t = x86_64::Translator::new(walker, kernel_text, None, source);
        t.direct_map_base = match &self.body {
            Body::Elf(e) => e.direct_map_base(),
            Body::Kdump(_) => None,
        }
        .or_else(|| t.discover_direct_map(self));
        Ok(t)
    }

    fn infer_sme_bit(&self, cr3: u64) -> u64 {
        let max_phys = self.max_pfn().saturating_mul(self.page_size).max(1);
        let width = 64 - (max_phys - 1).leading_zeros();
        if width >= 52 {
            return 0; // the dump claims the whole physical address space: nothing to infer
        }
        let high = (cr3 & 0x000f_ffff_ffff_f000) >> width << width;
        if high.count_ones() == 1 {
            high
        } else {
            0
        }
    }

    /// How much of physical memory the dump describes and how much of it the file holds: from the kdump
    /// bitmaps, or the ELF `PT_LOAD` segments (memory size vs file size).
    ///
    /// For kdump files this counts both bitmaps whole the first time (512 MiB each for a 16 TiB machine): only
    /// `info` needs it, the report never asks. Fails when a bitmap cannot be read.
    pub fn page_counts(&self) -> Result<PageCounts, Error> {
        Ok(match &self.body {
            Body::Kdump(k) => {
                let t = k.totals(&self.src)?;
                PageCounts {
                    ram: t.ram,
                    dumped: t.dumped,
                    descriptors_missing: k.descriptors_missing(&self.src, t.dumped),
                }
            }
            Body::Elf(e) => PageCounts {
                ram: e.ram_bytes() / self.page_size,
                dumped: e.dumped_bytes() / self.page_size,
                descriptors_missing: 0,
            },
        })
    }

    /// Bytes of `PT_LOAD` segment data the file lacks (an ELF core cut short); 0 for kdump files.
    pub fn missing_bytes(&self) -> u64 {
        match &self.body {
            Body::Elf(e) => e.missing_bytes,
            Body::Kdump(_) => 0,
        }
    }

    /// The flattened stream the dump is read from (`makedumpfile -F`), `None` for a plain file.
    pub fn flattened(&self) -> Option<FlattenedStream> {
        self.src.flat.as_ref().map(|f| FlattenedStream {
            records: f.records,
            terminated: !f.unterminated,
        })
    }

    /// `page_offset_base` as an ELF core's segments show it (`p_vaddr - p_paddr` of a direct-map segment,
    /// as `/proc/vmcore` copies and `/proc/kcore` write them); `None` for kdump files.
    pub fn segments_direct_map_base(&self) -> Option<u64> {
        match &self.body {
            Body::Elf(e) => e.direct_map_base(),
            Body::Kdump(_) => None,
        }
    }
}

/// Pages of physical memory a dump describes ([`Vmcore::page_counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageCounts {
    /// Pages of RAM the dump describes.
    pub ram: u64,
    /// Pages whose contents the file holds (the rest were excluded, or never written).
    pub dumped: u64,
    /// kdump: bytes past the end of the file that the page descriptors of every dumped page would need (the
    /// 2nd bitmap marks more pages than the file holds; those pages read as corrupt). 0 when they fit, for a
    /// dump marked incomplete, and for ELF.
    pub descriptors_missing: u64,
}

/// A flattened stream's shape ([`Vmcore::flattened`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlattenedStream {
    /// Data records in the stream.
    pub records: u64,
    /// The stream ends with its end marker (false: it was cut short).
    pub terminated: bool,
}

/// Kernel virtual memory, through the dump's address translation.
impl kmem::KernelMemory for Vmcore {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.read_virt(addr, buf)
    }
}

impl PhysicalMemory for Vmcore {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        Vmcore::read_phys(self, paddr, buf)
    }
}

/// Is this file a dump we can read? Checks the magic only (cheap; for directory scans): a kdump signature,
/// an ELF *core* (a vmlinux is ELF too, but `ET_EXEC`), or a flattened stream.
pub fn sniff(path: &Path) -> std::io::Result<Option<&'static str>> {
    use std::io::Read;
    let mut head = [0u8; 20];
    let mut f = std::fs::File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    Ok(if head.starts_with(b"KDUMP   ") {
        Some("kdump")
    } else if head.starts_with(b"\x7fELF")
        && head.len() >= 18
        && u16::from_le_bytes([head[16], head[17]]) == 4
    {
        Some("elf")
    } else if flattened::is_flattened(head) {
        Some("flattened")
    } else {
        None
    })
}
