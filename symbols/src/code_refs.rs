//! The data addresses a piece of arm64 (A64) kernel code refers to, found by decoding the few instruction
//! forms the compiler uses to reach a global: `ADRP Xn, page` then `ADD Xd, Xn, #lo12` (the address) or a
//! load/store `[Xn, #imm]` (the access), possibly through a section anchor (an `ADD` giving the anchor,
//! then an access at an offset from it), and the atomics (`LDXR`/`STXR`, `CAS`, `LDADD`...) on such an
//! address.
//!
//! Used where kallsyms holds only text symbols (kernels without `CONFIG_KALLSYMS_ALL`, e.g. Debian's arm64
//! builds): a small accessor function such as `get_taint` names the variable it reads. This module only
//! lists what the code refers to; which reference is the variable is the caller's decision, to be validated
//! against memory.
//!
//! The decoding is one forward pass that tracks the registers holding known addresses. A register becomes
//! unknown when an instruction not understood here may write it, at every branch target (another path may
//! arrive with other values), after an unconditional branch or return, and (`x0`-`x18`, `x30`) after a
//! call. At most [`MAX_INSNS`] instructions are decoded. Encodings: the Arm Architecture Reference Manual
//! for A-profile, "A64 instruction set encoding" (data processing - immediate, loads and stores, branches).
//!
//! ```
//! use symbols::code_refs::{data_refs, Access};
//! // get_taint on Debian's 6.1 arm64 kernel (aarch64-linux-gnu-objdump -d):
//! // nop; nop; adrp x0, 0xffff800009a18000; paciasp; autiasp; ldr x0, [x0, #3104]; ret
//! let words: [u32; 7] = [0xd503201f, 0xd503201f, 0xb000cc20, 0xd503233f, 0xd50323bf, 0xf9461000, 0xd65f03c0];
//! let code: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
//! let refs = data_refs(&code, 0xffff_8000_0809_3790);
//! assert_eq!(refs.len(), 1);
//! assert_eq!(refs[0].address, 0xffff_8000_09a1_8c20); // tainted_mask
//! assert_eq!(refs[0].access, Access::Load(8));
//! assert_eq!(refs[0].at, 0xffff_8000_0809_37a4);
//! ```

/// Most instructions decoded in one call (64 KiB of code: far more than any accessor function).
pub const MAX_INSNS: usize = 16 * 1024;

/// How the code uses an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Computed into a register (`ADR`, or `ADD` to a known address): passed on, or a base for later accesses.
    Address,
    /// Read by a load of this many bytes (a load pair: one reference per register).
    Load(u8),
    /// Written by a store of this many bytes.
    Store(u8),
    /// Read and/or written by an atomic or exclusive access of this many bytes (`LDXR`, `STLXR`, `CAS`,
    /// `LDADD`, `SWP`...).
    Atomic(u8),
}

/// One reference: the instruction's address, the data address and how it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRef {
    /// Address of the instruction.
    pub at: u64,
    /// The address referred to.
    pub address: u64,
    /// How.
    pub access: Access,
}

/// Register state: `x0`..`x30` known values (index 31, SP or XZR, is never tracked).
#[derive(Clone, Copy)]
struct Regs([Option<u64>; 31]);

impl Regs {
    const UNKNOWN: Regs = Regs([None; 31]);

    fn get(&self, r: u32) -> Option<u64> {
        self.0.get(r as usize).copied().flatten()
    }

    fn set(&mut self, r: u32, v: Option<u64>) {
        if let Some(slot) = self.0.get_mut(r as usize) {
            *slot = v;
        }
    }

    /// A call: the procedure-call standard lets the callee change x0-x18 and the link register x30.
    fn after_call(&mut self) {
        for r in 0..=18 {
            self.0[r] = None;
        }
        self.0[30] = None;
    }
}

fn bits(insn: u32, lo: u32, width: u32) -> u32 {
    (insn >> lo) & ((1u32 << width) - 1)
}

/// Sign-extend the low `width` bits of `v`.
fn sext(v: u64, width: u32) -> i64 {
    let shift = 64 - width;
    ((v << shift) as i64) >> shift
}

/// The target of a PC-relative branch at `pc` (B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ), if `insn` is one.
fn branch_target(insn: u32, pc: u64) -> Option<u64> {
    let off = if insn & 0x7c00_0000 == 0x1400_0000 {
        // B / BL: imm26.
        sext(u64::from(bits(insn, 0, 26)), 26)
    } else if insn & 0xff00_0010 == 0x5400_0000 || insn & 0x7e00_0000 == 0x3400_0000 {
        // B.cond, CBZ/CBNZ: imm19.
        sext(u64::from(bits(insn, 5, 19)), 19)
    } else if insn & 0x7e00_0000 == 0x3600_0000 {
        // TBZ/TBNZ: imm14.
        sext(u64::from(bits(insn, 5, 14)), 14)
    } else {
        return None;
    };
    Some(pc.wrapping_add((off << 2) as u64))
}

/// What one instruction does to the tracked registers, and the reference it makes.
struct Step {
    /// One reference, two for a pair of registers.
    reference: Option<(u64, Access)>,
    second: Option<(u64, Access)>,
    /// Control does not fall through to the next instruction (B, RET, BR, ERET).
    stops: bool,
}

/// Decode `insn` at `pc`, updating `regs`.
fn step(insn: u32, pc: u64, regs: &mut Regs) -> Step {
    let rd = bits(insn, 0, 5);
    let rn = bits(insn, 5, 5);
    let mut s = Step {
        reference: None,
        second: None,
        stops: false,
    };
    // ADR / ADRP.
    if insn & 0x1f00_0000 == 0x1000_0000 {
        let imm = sext(u64::from(bits(insn, 5, 19) << 2 | bits(insn, 29, 2)), 21);
        let v = if insn >> 31 == 1 {
            (pc & !0xfff).wrapping_add((imm << 12) as u64)
        } else {
            let v = pc.wrapping_add(imm as u64);
            s.reference = Some((v, Access::Address));
            v
        };
        regs.set(rd, Some(v));
        return s;
    }
    // ADD / SUB (immediate), 64-bit, not setting flags: sf=1 op S=0 100010 sh imm12 Rn Rd.
    if insn & 0xbf80_0000 == 0x9100_0000 {
        let imm = u64::from(bits(insn, 10, 12)) << (12 * bits(insn, 22, 1));
        let sub = insn & 0x4000_0000 != 0;
        let v = regs.get(rn).map(|b| {
            if sub {
                b.wrapping_sub(imm)
            } else {
                b.wrapping_add(imm)
            }
        });
        if let Some(v) = v {
            s.reference = Some((v, Access::Address));
        }
        regs.set(rd, v);
        return s;
    }
    // MOV Xd, Xm (ORR Xd, XZR, Xm).
    if insn & 0xffe0_ffe0 == 0xaa00_03e0 {
        let v = regs.get(bits(insn, 16, 5));
        regs.set(rd, v);
        return s;
    }
    if let Some(target) = branch_target(insn, pc) {
        let _ = target;
        if insn & 0xfc00_0000 == 0x9400_0000 {
            regs.after_call(); // BL
        } else if insn & 0xfc00_0000 == 0x1400_0000 {
            s.stops = true; // B
        }
        return s;
    }
    // BR, BLR, RET (and their pointer-authenticated forms), ERET: unconditional branch (register).
    if insn & 0xfe00_0000 == 0xd600_0000 {
        let opc = bits(insn, 21, 4);
        if opc & 0x7 == 1 {
            regs.after_call(); // BLR*
        } else {
            s.stops = true;
        }
        return s;
    }
    // Loads and stores: op0 = x1x0 in bits 28..25.
    if insn & 0x0a00_0000 == 0x0800_0000 {
        load_store(insn, regs, &mut s);
        return s;
    }
    // System instructions (hints such as NOP, BTI, PACIASP; barriers; MSR) write no general register,
    // except MRS and SYSL (L=1), which write Rt.
    if insn & 0xffc0_0000 == 0xd500_0000 {
        if insn & 0x0020_0000 != 0 {
            regs.set(rd, None);
        }
        return s;
    }
    // Anything else may write Rd (bits 4..0): compares write XZR, which is not tracked.
    regs.set(rd, None);
    s
}

/// The load/store group: accesses at an immediate offset from a known base are references.
fn load_store(insn: u32, regs: &mut Regs, s: &mut Step) {
    let rt = bits(insn, 0, 5);
    let rn = bits(insn, 5, 5);
    let simd = insn & 0x0400_0000 != 0;
    let size = bits(insn, 30, 2);
    // Load/store exclusive (LDXR, STLXR, LDAXP, ...) and compare-and-swap (CAS, CASP): address [Xn].
    if insn & 0x3f00_0000 == 0x0800_0000 {
        let pair = bits(insn, 21, 1) == 1 && bits(insn, 23, 1) == 0;
        let bytes = (1u8 << size) * if pair { 2 } else { 1 };
        if let Some(base) = regs.get(rn) {
            s.reference = Some((base, Access::Atomic(bytes)));
        }
        // Status or compared value (Rs) and the loaded register; for pairs (LDXP, CASP) the second ones.
        let rs = bits(insn, 16, 5);
        regs.set(rt, None);
        regs.set(rs, None);
        if pair {
            for r in [bits(insn, 10, 5), rs + 1, rt + 1] {
                regs.set(r, None);
            }
        }
        return;
    }
    // Atomic memory operations (LDADD, SWP, LDCLR, ...): size 111 V 00 A R 1 Rs o3 opc 00 Rn Rt.
    if insn & 0x3f20_0c00 == 0x3820_0000 {
        if let Some(base) = regs.get(rn) {
            s.reference = Some((base, Access::Atomic(1 << size)));
        }
        regs.set(rt, None);
        return;
    }
    // Load/store register (unsigned immediate): size 111 V 01 opc imm12 Rn Rt.
    if insn & 0x3b00_0000 == 0x3900_0000 {
        let opc = bits(insn, 22, 2);
        let scale = if simd && opc & 2 != 0 { 4 } else { size };
        let offset = u64::from(bits(insn, 10, 12)) << scale;
        access(regs, rn, rt, simd, size, opc, Some(offset), s);
        return;
    }
    // Load/store register (unscaled, post-index, unprivileged, pre-index): size 111 V 00 opc 0 imm9 xx Rn Rt.
    if insn & 0x3b20_0000 == 0x3800_0000 {
        let opc = bits(insn, 22, 2);
        let imm = sext(u64::from(bits(insn, 12, 9)), 9) as u64;
        let base = regs.get(rn);
        match bits(insn, 10, 2) {
            // Unscaled (LDUR/STUR) and unprivileged (LDTR/STTR): [Xn, #imm].
            0 | 2 => access(regs, rn, rt, simd, size, opc, Some(imm), s),
            // Post-index: [Xn], #imm, then Xn += imm.
            1 => {
                access(regs, rn, rt, simd, size, opc, Some(0), s);
                regs.set(rn, base.map(|b| b.wrapping_add(imm)));
            }
            // Pre-index: [Xn, #imm]!, Xn = the address.
            _ => {
                access(regs, rn, rt, simd, size, opc, Some(imm), s);
                regs.set(rn, base.map(|b| b.wrapping_add(imm)));
            }
        }
        return;
    }
    // Load/store pair (LDP, STP, LDPSW, LDNP/STNP), any addressing mode: opc 101 V 0 mode L imm7 Rt2 Rn Rt.
    if insn & 0x3a00_0000 == 0x2800_0000 {
        let opc = bits(insn, 30, 2);
        let load = bits(insn, 22, 1) == 1;
        let mode = bits(insn, 23, 2); // 00 no-allocate, 01 post, 10 offset, 11 pre
        let shift = if simd { 2 + opc } else { 2 + (opc >> 1) };
        let imm = (sext(u64::from(bits(insn, 15, 7)), 7) << shift) as u64;
        let base = regs.get(rn);
        let at = if mode == 1 { Some(0) } else { Some(imm) };
        if let (Some(b), Some(off)) = (base, at) {
            let bytes = (1u32 << shift).min(128) as u8;
            let a = if load {
                Access::Load(bytes)
            } else {
                Access::Store(bytes)
            };
            let first = b.wrapping_add(off);
            s.reference = Some((first, a));
            s.second = Some((first.wrapping_add(u64::from(bytes)), a));
        }
        if load && !simd {
            regs.set(rt, None);
            regs.set(bits(insn, 10, 5), None);
        }
        if mode == 1 || mode == 3 {
            regs.set(rn, base.map(|b| b.wrapping_add(imm)));
        }
        return;
    }
    // Any other load/store (register offset, literal, SIMD structures...): the registers it names may be
    // written (loaded, or a base written back); none is an immediate-offset reference.
    for r in [rt, rn, bits(insn, 10, 5), bits(insn, 16, 5)] {
        regs.set(r, None);
    }
}

/// A single-register access at `[Xn + offset]`: record it and update Rt.
#[allow(clippy::too_many_arguments)]
fn access(
    regs: &mut Regs,
    rn: u32,
    rt: u32,
    simd: bool,
    size: u32,
    opc: u32,
    offset: Option<u64>,
    s: &mut Step,
) {
    let bytes: u8 = if simd && opc & 2 != 0 { 16 } else { 1 << size };
    // opc 00: store; 01: load; 1x: sign-extending load (size 11 with opc 10: PRFM, a prefetch).
    let prefetch = !simd && size == 3 && opc == 2;
    let load = opc != 0;
    if let (Some(b), Some(off), false) = (regs.get(rn), offset, prefetch) {
        let a = if load {
            Access::Load(bytes)
        } else {
            Access::Store(bytes)
        };
        s.reference = Some((b.wrapping_add(off), a));
    }
    if load && !simd && !prefetch {
        regs.set(rt, None);
    }
}

/// The data references of `code`, little-endian A64 instructions whose first byte is at `address`: at most
/// one per instruction (two for a pair of registers), in code order (see the module documentation). Trailing bytes that do not make a
/// whole instruction are ignored; so is code past [`MAX_INSNS`] instructions.
pub fn data_refs(code: &[u8], address: u64) -> Vec<CodeRef> {
    let words: Vec<u32> = code
        .chunks_exact(4)
        .take(MAX_INSNS)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let end = address.wrapping_add(4 * words.len() as u64);
    // Instructions that some branch of this code jumps to.
    let mut joins = vec![false; words.len()];
    for (i, &w) in words.iter().enumerate() {
        let pc = address.wrapping_add(4 * i as u64);
        if let Some(t) = branch_target(w, pc) {
            if t >= address && t < end && (t - address) % 4 == 0 {
                joins[((t - address) / 4) as usize] = true;
            }
        }
    }
    let mut refs = Vec::new();
    let mut regs = Regs::UNKNOWN;
    for (i, &w) in words.iter().enumerate() {
        if joins[i] {
            regs = Regs::UNKNOWN;
        }
        let pc = address.wrapping_add(4 * i as u64);
        let s = step(w, pc, &mut regs);
        for (a, access) in s.reference.into_iter().chain(s.second) {
            refs.push(CodeRef {
                at: pc,
                address: a,
                access,
            });
        }
        if s.stops {
            regs = Regs::UNKNOWN;
        }
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    fn r(at: u64, address: u64, access: Access) -> CodeRef {
        CodeRef {
            at,
            address,
            access,
        }
    }

    // Every encoding below is copied from `aarch64-linux-gnu-objdump -d` of Debian's
    // vmlinux-6.1.0-56-cloud-arm64 (the debug vmlinux of the real arm64 dumps), with its disassembly.

    #[test]
    fn is_module_sig_enforced_reads_a_byte() {
        // adrp x0, ffff800009a41000; paciasp; autiasp; ldrb w0, [x0, #1856]; ret
        let c = code(&[
            0xd503201f, 0xd503201f, 0xd000c760, 0xd503233f, 0xd50323bf, 0x395d0000, 0xd65f03c0,
        ]);
        assert_eq!(
            data_refs(&c, 0xffff800008153040),
            [r(0xffff800008153054, 0xffff800009a41740, Access::Load(1))]
        );
    }

    #[test]
    fn print_tainted_goes_through_section_anchors() {
        let base = 0xffff8000080936e0;
        let c = code(&[
            0xd503201f, // nop
            0xd503201f, // nop
            0xb000cc20, // adrp x0, ffff800009a18000
            0x91306000, // add x0, x0, #0xc18
            0xd503233f, // paciasp
            0xf9400401, // ldr x1, [x0, #8]
            0xb4000381, // cbz x1, +0x70 (past this code)
            0x90006c23, // adrp x3, ffff800008e17000
            0x9136c063, // add x3, x3, #0xdb0
            0x9111a007, // add x7, x0, #0x468
            0x90005b42, // adrp x2, ffff800008bfb000
            0x9137e042, // add x2, x2, #0xdf8
            0xd2800001, // mov x1, #0x0
            0xf9400064, // ldr x4, [x3]
            0x91046042, // add x2, x2, #0x118
            0x79401063, // ldrh w3, [x3, #8]
        ]);
        let refs = data_refs(&c, base);
        assert_eq!(
            refs,
            [
                r(base + 0x0c, 0xffff800009a18c18, Access::Address),
                r(base + 0x14, 0xffff800009a18c20, Access::Load(8)), // tainted_mask
                r(base + 0x20, 0xffff800008e17db0, Access::Address),
                r(base + 0x24, 0xffff800009a19080, Access::Address),
                r(base + 0x2c, 0xffff800008bfbdf8, Access::Address),
                r(base + 0x34, 0xffff800008e17db0, Access::Load(8)),
                r(base + 0x38, 0xffff800008bfbf10, Access::Address), // taint_flags
                r(base + 0x3c, 0xffff800008e17db8, Access::Load(2)),
            ]
        );
    }

    #[test]
    fn print_modules_pre_index_load_and_branch_targets() {
        let base = 0xffff800008ba04c4;
        let c = code(&[
            0x900068f4, // adrp x20, ffff8000098bc000
            0x91170294, // add x20, x20, #0x5c0
            0xd0001435, // adrp x21, ffff800008e26000
            0x911e42b5, // add x21, x21, #0x790
            0xf8450e93, // ldr x19, [x20, #80]!    (modules.next)
            0xd1002273, // sub x19, x19, #0x8
            0x91002260, // add x0, x19, #0x8      (a branch target below: x19 unknown there)
            0xeb14001f, // cmp x0, x20
            0x540001e0, // b.eq +0x3c
            0xb9400260, // ldr w0, [x19]
            0x71000c1f, // cmp w0, #0x3
            0x54000120, // b.eq +0x24
            0x910007e1, // add x1, sp, #0x1
            0x52800022, // mov w2, #0x1
            0xaa1303e0, // mov x0, x19
            0x97d6c805, // bl module_flags
            0x91006261, // add x1, x19, #0x18
            0xaa0003e2, // mov x2, x0
            0xaa1503e0, // mov x0, x21
            0x97fffa0a, // bl _printk
            0xf9400673, // ldr x19, [x19, #8]
            0xd1002273, // sub x19, x19, #0x8
            0x17fffff0, // b -0x40 (to the add x0, x19, #0x8)
            0xb0007502, // adrp x2, ffff800009a41000
            0x911b6042, // add x2, x2, #0x6d8
            0x91006041, // add x1, x2, #0x18   (last_unloaded_module.name)
            0x39406040, // ldrb w0, [x2, #24]
            0x340000a0, // cbz w0, +0x14
            0xd0001420, // adrp x0, ffff800008e26000
            0x91014442, // add x2, x2, #0x51   (last_unloaded_module.taints)
            0x911e6000, // add x0, x0, #0x798
        ]);
        let refs = data_refs(&c, base);
        let at = |i: u64| base + 4 * i;
        assert_eq!(
            refs,
            [
                r(at(1), 0xffff8000098bc5c0, Access::Address),
                r(at(3), 0xffff800008e26790, Access::Address),
                r(at(4), 0xffff8000098bc610, Access::Load(8)), // modules
                r(at(24), 0xffff800009a416d8, Access::Address),
                r(at(25), 0xffff800009a416f0, Access::Address),
                r(at(26), 0xffff800009a416f0, Access::Load(1)),
                r(at(29), 0xffff800009a41729, Access::Address),
                r(at(30), 0xffff800008e26798, Access::Address),
            ]
        );
    }

    #[test]
    fn pre_index_writes_back_the_address() {
        // adrp x20; ldr x19, [x20, #80]! (x19 is loaded, x20 becomes x20 + 80); add x0, x20, #0
        let c = code(&[0x900068f4, 0xf8450e93, 0x91000280]);
        let refs = data_refs(&c, 0xffff800008ba04c4);
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1].address, 0xffff8000098bc050);
    }

    #[test]
    fn nmi_panic_atomics() {
        let base = 0xffff8000080934f4;
        let c = code(&[
            0xb000bd03, // adrp x3, ffff800009834000
            0x91154063, // add x3, x3, #0x550
            0x91038060, // add x0, x3, #0xe0    (panic_cpu)
            0x12800001, // mov w1, #0xffffffff
            0x2a0103e4, // mov w4, w1
            0x88e4fc02, // casal w4, w2, [x0]
            0x2a0403e0, // mov w0, w4
            0xb000bd04, // adrp x4, ffff800009834000
            0x91154084, // add x4, x4, #0x550
            0x91038084, // add x4, x4, #0xe0
            0xb2407fe0, // mov x0, #0xffffffff
            0xf9800091, // prfm pstl1strm, [x4]
            0x885f7c83, // ldxr w3, [x4]
            0x4a000061, // eor w1, w3, w0
            0x8801fc82, // stlxr w1, w2, [x4]
        ]);
        let refs = data_refs(&c, base);
        let panic_cpu = 0xffff800009834630;
        let atomics: Vec<&CodeRef> = refs
            .iter()
            .filter(|r| matches!(r.access, Access::Atomic(_)))
            .collect();
        assert_eq!(atomics.len(), 3, "{refs:?}");
        assert!(atomics
            .iter()
            .all(|r| r.address == panic_cpu && r.access == Access::Atomic(4)));
        // The prefetch is no access.
        assert!(!refs.iter().any(|r| r.at == base + 44));
    }

    #[test]
    fn lockdown_is_locked_down_reads_a_word() {
        let base = 0xffff800008599160;
        let c = code(&[
            0xd503201f, 0xd503201f, 0xd503233f, // nop; nop; paciasp
            0xa9be7bfd, // stp x29, x30, [sp, #-32]!
            0x910003fd, // mov x29, sp
            0x7100741f, // cmp w0, #0x1d
            0x54000128, // b.hi +0x24
            0xf000a681, // adrp x1, ffff800009a6c000
            0xb94c3821, // ldr w1, [x1, #3128]
            0x6b00003f, // cmp w1, w0
        ]);
        assert_eq!(
            data_refs(&c, base),
            [r(base + 32, 0xffff800009a6cc38, Access::Load(4))]
        );
    }

    #[test]
    fn unknown_writes_and_calls_forget_registers() {
        let base = 0xffff800008093798;
        // adrp x0; mov w0, #0 (movz: an instruction this decoder does not track) ; ldr x1, [x0, #8]
        let c = code(&[0xb000cc20, 0x52800000, 0xf9400401]);
        assert!(data_refs(&c, base).is_empty());
        // adrp x0; bl +0x100; ldr x1, [x0, #8]: x0 is the callee's.
        let c = code(&[0xb000cc20, 0x94000040, 0xf9400401]);
        assert!(data_refs(&c, base).is_empty());
        // adrp x19 (callee-saved, kept over a call); bl +0x100; ldr x1, [x19, #8]
        let c = code(&[0xb000cc33, 0x94000040, 0xf9400661]);
        assert_eq!(data_refs(&c, base).len(), 1);
        // adrp x0; ret; ldr x1, [x0, #8]: after a return, nothing is known.
        let c = code(&[0xb000cc20, 0xd65f03c0, 0xf9400401]);
        assert!(data_refs(&c, base).is_empty());
        // A load into x0 through x0 forgets x0.
        let c = code(&[0xb000cc20, 0xf9400400, 0xf9400401]);
        assert_eq!(data_refs(&c, base).len(), 1);
    }

    #[test]
    fn load_pair_names_both_words() {
        // restrict_link_by_builtin_secondary_and_machine: secondary_trusted_keys and machine_trusted_keys
        // (adjacent in .bss) loaded by one ldp.
        let base = 0xffff8000082aaef8;
        let c = code(&[
            0xb000bd06, // adrp x6, ffff800009a4b000
            0x911060c3, // add x3, x6, #0x418
            0xa9409463, // ldp x3, x5, [x3, #8]
        ]);
        assert_eq!(
            data_refs(&c, base),
            [
                r(base + 4, 0xffff800009a4b418, Access::Address),
                r(base + 8, 0xffff800009a4b420, Access::Load(8)),
                r(base + 8, 0xffff800009a4b428, Access::Load(8)),
            ]
        );
    }

    #[test]
    fn adr_and_negative_adrp() {
        // adr x0, #-4 at 0x1000 -> 0xffc; adrp x1, #-0x1000 at 0x2000 -> 0x1000, then ldr x2, [x1, #16]
        // adr: 0 immlo(2) 10000 immhi(19) Rd. -4: imm21 = 0x1ffffc: immlo = 0, immhi = 0x7ffff.
        let adr = 0x1000_0000 | (0x7ffff << 5);
        // adrp -1 page: imm21 = 0x1fffff: immlo = 3, immhi = 0x7ffff.
        let adrp = 0x9000_0000 | (3 << 29) | (0x7ffff << 5) | 1;
        let ldr = 0xf9400822; // ldr x2, [x1, #16]
        let refs = data_refs(&code(&[adr]), 0x1000);
        assert_eq!(refs, [r(0x1000, 0xffc, Access::Address)]);
        let refs = data_refs(&code(&[adrp, ldr]), 0x2000);
        assert_eq!(refs, [r(0x2004, 0x1010, Access::Load(8))]);
    }

    #[test]
    fn stores_pairs_and_unscaled() {
        let base = 0x10000;
        let adrp = 0x9000_0000; // adrp x0, #0 -> 0x10000
                                // str w1, [x0, #4]: 0xb9000401; stp x1, x2, [x0, #16]: 0xa9010801; ldur x3, [x0, #-8]: 0xf85f8003
                                // strb w1, [x0], #1 (post-index): 0x38001401, then ldrh w2, [x0, #2]: 0x79400402
        let refs = data_refs(
            &code(&[
                adrp, 0xb9000401, 0xa9010801, 0xf85f8003, 0x38001401, 0x79400402,
            ]),
            base,
        );
        assert_eq!(
            refs,
            [
                r(base + 4, 0x10004, Access::Store(4)),
                r(base + 8, 0x10010, Access::Store(8)),
                r(base + 8, 0x10018, Access::Store(8)),
                r(base + 12, 0xfff8, Access::Load(8)),
                r(base + 16, 0x10000, Access::Store(1)),
                r(base + 20, 0x10003, Access::Load(2)),
            ]
        );
    }

    #[test]
    fn any_bytes_any_length() {
        assert!(data_refs(&[], 0).is_empty());
        assert!(data_refs(&[1, 2, 3], u64::MAX).is_empty());
        // Every instruction word's low and high halves over a pseudo-random walk: no panic, bounded output.
        let mut x: u32 = 0x1234_5678;
        let words: Vec<u32> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x
            })
            .collect();
        let refs = data_refs(&code(&words), u64::MAX - 1000);
        assert!(refs.len() <= 2 * MAX_INSNS);
    }
}
