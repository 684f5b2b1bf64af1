//! `/proc/kcore`-style ELF cores: kernel *virtual* memory, one `PT_LOAD` per region (kernel text, the direct
//! map of RAM, vmalloc/modules), `p_vaddr` the region's address and `p_paddr` its physical address, or `-1`
//! where it has none (vmalloc, modules; kernels since 4.16 write this), or 0 everywhere (older kernels).
//! Notes as `fs/proc/kcore.c` writes them: `CORE` `NT_PRSTATUS` (zeroed), `NT_PRPSINFO`, `NT_TASKSTRUCT`,
//! then `VMCOREINFO`.
//!
//! ```
//! use testcores::kcore::{write_kcore, KcoreOptions, KcoreSegment};
//! let seg = KcoreSegment { vaddr: 0xffff_ffff_c000_0000, paddr: None, bytes: vec![7; 4096] };
//! let core = write_kcore(&[seg], &KcoreOptions::default());
//! assert_eq!(&core[..4], b"\x7fELF");
//! ```

use crate::elf::{ehdr, phdr, EHDR_SIZE, PHDR_SIZE, PT_LOAD, PT_NOTE};
use crate::notes::note;

/// One region of kernel virtual memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KcoreSegment {
    pub vaddr: u64,
    /// `None` for regions without a physical address (written as `-1`, or 0 with `old_style_paddr`).
    pub paddr: Option<u64>,
    pub bytes: Vec<u8>,
}

/// How to write the core.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KcoreOptions {
    /// The VMCOREINFO note's text (kernels since 4.19 write one).
    pub vmcoreinfo: Option<String>,
    /// Write `p_paddr` 0 instead of -1 for regions without one (kernels before 4.16).
    pub old_style_paddr: bool,
}

const NT_PRSTATUS: u32 = 1;
const NT_PRPSINFO: u32 = 3;
const NT_TASKSTRUCT: u32 = 4;

/// The core's bytes: header, program headers (PT_NOTE first), notes, then each segment's bytes.
pub fn write_kcore(segments: &[KcoreSegment], opts: &KcoreOptions) -> Vec<u8> {
    let mut notes = Vec::new();
    notes.extend(note("CORE", NT_PRSTATUS, &[0u8; 336]).0);
    let mut psinfo = vec![0u8; 136];
    psinfo[40..47].copy_from_slice(b"vmlinux"); // pr_fname
    notes.extend(note("CORE", NT_PRPSINFO, &psinfo).0);
    notes.extend(note("CORE", NT_TASKSTRUCT, &[0u8; 256]).0);
    if let Some(vi) = &opts.vmcoreinfo {
        notes.extend(note("VMCOREINFO", 0, vi.as_bytes()).0);
    }
    let phnum = 1 + segments.len();
    let notes_at = EHDR_SIZE + phnum * PHDR_SIZE;
    let mut data_at = (notes_at + notes.len()).next_multiple_of(4096);
    let mut out = vec![0u8; EHDR_SIZE];
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2; // ELFCLASS64
    out[5] = 1; // little-endian
    out[6] = 1; // EV_CURRENT
    out[ehdr::E_TYPE..ehdr::E_TYPE + 2].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    out[ehdr::E_MACHINE..ehdr::E_MACHINE + 2].copy_from_slice(&62u16.to_le_bytes());
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[ehdr::E_PHOFF..ehdr::E_PHOFF + 8].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes());
    out[52..54].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    out[ehdr::E_PHENTSIZE..ehdr::E_PHENTSIZE + 2]
        .copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    out[ehdr::E_PHNUM..ehdr::E_PHNUM + 2].copy_from_slice(&(phnum as u16).to_le_bytes());
    let ph = |ty: u32, off: u64, vaddr: u64, paddr: u64, size: u64| {
        let mut p = vec![0u8; PHDR_SIZE];
        p[phdr::P_TYPE..phdr::P_TYPE + 4].copy_from_slice(&ty.to_le_bytes());
        p[phdr::P_FLAGS..phdr::P_FLAGS + 4].copy_from_slice(&7u32.to_le_bytes());
        p[phdr::P_OFFSET..phdr::P_OFFSET + 8].copy_from_slice(&off.to_le_bytes());
        p[phdr::P_VADDR..phdr::P_VADDR + 8].copy_from_slice(&vaddr.to_le_bytes());
        p[phdr::P_PADDR..phdr::P_PADDR + 8].copy_from_slice(&paddr.to_le_bytes());
        p[phdr::P_FILESZ..phdr::P_FILESZ + 8].copy_from_slice(&size.to_le_bytes());
        p[phdr::P_MEMSZ..phdr::P_MEMSZ + 8].copy_from_slice(&size.to_le_bytes());
        p[phdr::P_ALIGN..phdr::P_ALIGN + 8].copy_from_slice(&4096u64.to_le_bytes());
        p
    };
    out.extend(ph(PT_NOTE, notes_at as u64, 0, 0, notes.len() as u64));
    let mut offsets = Vec::new();
    for s in segments {
        let paddr = match s.paddr {
            Some(p) => p,
            None if opts.old_style_paddr => 0,
            None => u64::MAX,
        };
        out.extend(ph(
            PT_LOAD,
            data_at as u64,
            s.vaddr,
            paddr,
            s.bytes.len() as u64,
        ));
        offsets.push(data_at);
        data_at = (data_at + s.bytes.len()).next_multiple_of(4096);
    }
    out.extend_from_slice(&notes);
    for (s, at) in segments.iter().zip(offsets) {
        out.resize(at, 0);
        out.extend_from_slice(&s.bytes);
    }
    out
}
