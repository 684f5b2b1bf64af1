//! ELF notes as the kernel (and QEMU) write them: `CORE`/`NT_PRSTATUS` per CPU, `VMCOREINFO`,
//! and QEMU's per-CPU `QEMU` note.

use crate::image::{reg, CpuState, MemoryImage};

/// `NT_PRSTATUS`.
pub const NT_PRSTATUS: u32 = 1;
/// Size of the x86-64 `struct elf_prstatus`.
pub const PRSTATUS_SIZE: usize = 336;
/// Offset of `pr_pid` in `elf_prstatus`.
pub const PRSTATUS_PID_OFFSET: usize = 32;
/// Offset of `pr_reg` in `elf_prstatus`.
pub const PRSTATUS_REG_OFFSET: usize = 112;
/// `QEMUCPUSTATE_VERSION`.
pub const QEMU_CPUSTATE_VERSION: u32 = 1;
/// Size of QEMU's `QEMUCPUState` with the optional trailing `kernel_gs_base` (version 1).
pub const QEMU_CPUSTATE_SIZE: usize = 440;
/// Offset of `cr[0]` in `QEMUCPUState` (CR3 is at `+ 3 * 8`).
pub const QEMU_CPUSTATE_CR_OFFSET: usize = 392;

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// One ELF note: `Elf64_Nhdr` (three u32), name with NUL padded to 4, descriptor padded to 4.
/// Returns the note bytes and the offset of the descriptor inside them.
pub fn note(name: &str, n_type: u32, desc: &[u8]) -> (Vec<u8>, usize) {
    let namesz = name.len() + 1;
    let mut out = Vec::with_capacity(12 + pad4(namesz) + pad4(desc.len()));
    out.extend_from_slice(&(namesz as u32).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&n_type.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.resize(12 + pad4(namesz), 0);
    let desc_at = out.len();
    out.extend_from_slice(desc);
    out.resize(desc_at + pad4(desc.len()), 0);
    (out, desc_at)
}

/// The x86-64 `elf_prstatus` descriptor for one CPU.
pub fn prstatus(cpu: &CpuState) -> Vec<u8> {
    let mut d = vec![0u8; PRSTATUS_SIZE];
    d[PRSTATUS_PID_OFFSET..PRSTATUS_PID_OFFSET + 4].copy_from_slice(&cpu.pid.to_le_bytes());
    for (i, v) in cpu.regs.iter().enumerate() {
        let at = PRSTATUS_REG_OFFSET + 8 * i;
        d[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    d
}

fn put_u64(d: &mut [u8], at: usize, v: u64) {
    d[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// QEMU's `QEMUCPUState` for one CPU (target/i386/arch_dump.c): version, size, rax..r15, rip,
/// rflags, ten 24-byte segments (cs ds es fs gs ss ldt tr gdt idt: selector, limit, flags, pad,
/// base), `cr[5]`, `kernel_gs_base`.
pub fn qemu_cpu_state(cpu: &CpuState) -> Vec<u8> {
    let mut d = vec![0u8; QEMU_CPUSTATE_SIZE];
    d[0..4].copy_from_slice(&QEMU_CPUSTATE_VERSION.to_le_bytes());
    d[4..8].copy_from_slice(&(QEMU_CPUSTATE_SIZE as u32).to_le_bytes());
    let gprs = [
        reg::RAX,
        reg::RBX,
        reg::RCX,
        reg::RDX,
        reg::RSI,
        reg::RDI,
        reg::RSP,
        reg::RBP,
        reg::R8,
        reg::R9,
        reg::R10,
        reg::R11,
        reg::R12,
        reg::R13,
        reg::R14,
        reg::R15,
        reg::RIP,
        reg::RFLAGS,
    ];
    for (i, r) in gprs.iter().enumerate() {
        put_u64(&mut d, 8 + 8 * i, cpu.regs[*r]);
    }
    // Segments: selector from pr_reg, base for fs and gs.
    let segs: [(usize, u64); 6] = [
        (reg::CS, 0),
        (reg::DS, 0),
        (reg::ES, 0),
        (reg::FS, cpu.regs[reg::FS_BASE]),
        (reg::GS, cpu.regs[reg::GS_BASE]),
        (reg::SS, 0),
    ];
    for (i, (sel, base)) in segs.iter().enumerate() {
        let at = 152 + 24 * i;
        d[at..at + 4].copy_from_slice(&(cpu.regs[*sel] as u32).to_le_bytes());
        put_u64(&mut d, at + 16, *base);
    }
    for (i, cr) in cpu.cr.iter().enumerate() {
        put_u64(&mut d, QEMU_CPUSTATE_CR_OFFSET + 8 * i, *cr);
    }
    put_u64(&mut d, QEMU_CPUSTATE_CR_OFFSET + 40, cpu.kernel_gs_base);
    d
}

/// The note section of an image, as /proc/vmcore (and so makedumpfile) carries it: one
/// `CORE`/`NT_PRSTATUS` per CPU, then `VMCOREINFO` (type 0) if present; with `qemu`, one `QEMU`
/// note per CPU after the `CORE` notes, as QEMU's dump does.
/// Returns the bytes and the range of the VMCOREINFO descriptor inside them.
pub fn note_section(
    img: &MemoryImage,
    qemu: bool,
    vmcoreinfo: bool,
) -> (Vec<u8>, Option<std::ops::Range<usize>>) {
    let mut out = Vec::new();
    for cpu in &img.cpus {
        out.extend(note("CORE", NT_PRSTATUS, &prstatus(cpu)).0);
    }
    if qemu {
        for cpu in &img.cpus {
            out.extend(note("QEMU", 0, &qemu_cpu_state(cpu)).0);
        }
    }
    let mut vmci = None;
    if let (true, Some(text)) = (vmcoreinfo, &img.vmcoreinfo) {
        let (n, desc_at) = note("VMCOREINFO", 0, text.as_bytes());
        let start = out.len() + desc_at;
        vmci = Some(start..start + text.len());
        out.extend(n);
    }
    (out, vmci)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_padding_and_header() {
        let (n, desc_at) = note("VMCOREINFO", 0, b"A=1\n\x00");
        // namesz 11 -> padded 12; desc 5 -> padded 8
        assert_eq!(n.len(), 12 + 12 + 8);
        assert_eq!(desc_at, 24);
        assert_eq!(&n[0..4], &11u32.to_le_bytes());
        assert_eq!(&n[4..8], &5u32.to_le_bytes());
        assert_eq!(&n[12..23], b"VMCOREINFO\0");
    }

    #[test]
    fn prstatus_layout() {
        let mut cpu = CpuState::new(42);
        cpu.regs[reg::RIP] = 0xffff_ffff_8100_0000;
        cpu.regs[reg::R15] = 0x15;
        cpu.regs[reg::GS] = 0x2b;
        let d = prstatus(&cpu);
        assert_eq!(d.len(), 336);
        assert_eq!(u32::from_le_bytes(d[32..36].try_into().unwrap()), 42);
        assert_eq!(u64::from_le_bytes(d[112..120].try_into().unwrap()), 0x15);
        let rip_at = 112 + 16 * 8;
        assert_eq!(
            u64::from_le_bytes(d[rip_at..rip_at + 8].try_into().unwrap()),
            0xffff_ffff_8100_0000
        );
        assert_eq!(u64::from_le_bytes(d[320..328].try_into().unwrap()), 0x2b);
    }

    #[test]
    fn qemu_state_layout() {
        let mut cpu = CpuState::new(1);
        cpu.regs[reg::RAX] = 0xa;
        cpu.regs[reg::RFLAGS] = 0x246;
        cpu.regs[reg::GS_BASE] = 0xffff_8880_1f00_0000;
        cpu.cr[3] = 0x1234_5000;
        cpu.kernel_gs_base = 0x77;
        let d = qemu_cpu_state(&cpu);
        let u64_at = |at: usize| u64::from_le_bytes(d[at..at + 8].try_into().unwrap());
        assert_eq!(u32::from_le_bytes(d[4..8].try_into().unwrap()), 440);
        assert_eq!(u64_at(8), 0xa);
        assert_eq!(u64_at(144), 0x246);
        // gs is the fifth segment; base at +16.
        assert_eq!(u64_at(152 + 4 * 24 + 16), 0xffff_8880_1f00_0000);
        assert_eq!(u64_at(392 + 24), 0x1234_5000);
        assert_eq!(u64_at(432), 0x77);
    }
}
