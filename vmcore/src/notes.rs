//! ELF notes of a dump: per-CPU `NT_PRSTATUS` (registers at the crash), `VMCOREINFO`, and QEMU's per-CPU state
//! (which carries CR3, our way in when a QEMU dump has no VMCOREINFO).

use serde::Serialize;

/// x86-64 general registers in `struct user_regs_struct` order, as `elf_prstatus.pr_reg` stores them.
pub const X86_64_REG_NAMES: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];

/// `NT_PRSTATUS` of one CPU.
#[derive(Debug, Clone, Serialize)]
pub struct PrStatus {
    pub pid: u32,
    /// The 27 x86-64 registers in [`X86_64_REG_NAMES`] order.
    pub regs: Vec<u64>,
}

impl PrStatus {
    pub fn reg(&self, name: &str) -> Option<u64> {
        let i = X86_64_REG_NAMES.iter().position(|&n| n == name)?;
        self.regs.get(i).copied()
    }
}

/// The part of QEMU's `QEMUCPUState` note we use.
#[derive(Debug, Clone, Serialize)]
pub struct QemuCpuState {
    pub rip: u64,
    pub rsp: u64,
    pub cr0: u64,
    pub cr3: u64,
    pub cr4: u64,
}

/// Everything the notes told us.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Notes {
    pub prstatus: Vec<PrStatus>,
    pub qemu_cpus: Vec<QemuCpuState>,
    #[serde(skip)]
    pub vmcoreinfo: Option<String>,
    /// (name, type, size) of notes we do not interpret.
    pub other: Vec<(String, u32, usize)>,
}

const NT_PRSTATUS: u32 = 1;
/// `elf_prstatus` on x86-64: pid at 32, pr_reg (27 x u64) at 112, 336 bytes in all.
const PRSTATUS_PID: usize = 32;
const PRSTATUS_REGS: usize = 112;
const PRSTATUS_SIZE: usize = 336;
/// `QEMUCPUState` (target/i386/arch_dump.c): u32 version, u32 size, 16 GPRs, rip, rflags, 10 segment
/// descriptors of 24 bytes, then cr[0..5].
const QEMU_RSP: usize = 8 + 6 * 8;
const QEMU_RIP: usize = 8 + 16 * 8;
const QEMU_CR: usize = 8 + 18 * 8 + 10 * 24;

/// Parse a note segment. Returns `Err(offset within the segment, expectation)` on a malformed note.
pub(crate) fn parse(seg: &[u8], notes: &mut Notes) -> Result<(), (usize, String)> {
    let mut pos = 0usize;
    let align4 = |n: usize| n.checked_add(3).map(|v| v & !3);
    while pos + 12 <= seg.len() {
        let namesz = crate::source::le_u32(seg, pos) as usize;
        let descsz = crate::source::le_u32(seg, pos + 4) as usize;
        let ntype = crate::source::le_u32(seg, pos + 8);
        if namesz == 0 && descsz == 0 && ntype == 0 {
            break; // zero padding at the end of the segment
        }
        let name_at = pos + 12;
        let desc_at = align4(namesz).and_then(|n| name_at.checked_add(n));
        let end = desc_at.and_then(|d| align4(descsz).and_then(|s| d.checked_add(s)));
        let (Some(desc_at), Some(end)) = (desc_at, end) else {
            return Err((pos, "note sizes that fit in the segment".into()));
        };
        // The last note's padding may be missing.
        if desc_at + descsz > seg.len() {
            return Err((
                pos,
                format!(
                    "note of {namesz}+{descsz} bytes within the {}-byte note segment",
                    seg.len()
                ),
            ));
        }
        let name = &seg[name_at..name_at + namesz.min(seg.len() - name_at)];
        let name =
            String::from_utf8_lossy(name.split(|&b| b == 0).next().unwrap_or(&[])).into_owned();
        let desc = &seg[desc_at..desc_at + descsz];
        match (name.as_str(), ntype) {
            ("CORE", NT_PRSTATUS) if descsz >= PRSTATUS_SIZE => notes.prstatus.push(PrStatus {
                pid: crate::source::le_u32(desc, PRSTATUS_PID),
                regs: (0..27)
                    .map(|i| crate::source::le_u64(desc, PRSTATUS_REGS + 8 * i))
                    .collect(),
            }),
            ("VMCOREINFO", 0) => {
                notes.vmcoreinfo = Some(String::from_utf8_lossy(desc).into_owned());
            }
            ("QEMU", 0) if descsz >= QEMU_CR + 5 * 8 => notes.qemu_cpus.push(QemuCpuState {
                rip: crate::source::le_u64(desc, QEMU_RIP),
                rsp: crate::source::le_u64(desc, QEMU_RSP),
                cr0: crate::source::le_u64(desc, QEMU_CR),
                cr3: crate::source::le_u64(desc, QEMU_CR + 3 * 8),
                cr4: crate::source::le_u64(desc, QEMU_CR + 4 * 8),
            }),
            _ => notes.other.push((name, ntype, descsz)),
        }
        pos = end.min(seg.len());
    }
    Ok(())
}
