//! Which machine a dump comes from, and the one place that picks its address translation.
//!
//! The machine is read from the container (ELF `e_machine`, the kdump header's utsname machine), else guessed
//! from VMCOREINFO keys only one architecture writes. Translation itself lives in [`crate::x86_64`] and
//! [`crate::aarch64`]; [`Translator`] holds whichever the dump needs.

use serde::Serialize;

use crate::error::ReadError;
use crate::vmcoreinfo::VmcoreInfo;
use crate::{aarch64, x86_64, PhysicalMemory};

/// The CPU architecture a dump's kernel ran on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Machine {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "aarch64")]
    Aarch64,
    /// Anything else, as the dump names it (`e_machine 21`, `ppc64le`...).
    Other(String),
}

/// ELF `e_machine` values.
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

impl Machine {
    pub fn name(&self) -> &str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "aarch64",
            Machine::Other(m) => m,
        }
    }

    pub(crate) fn from_elf(e_machine: u16) -> Machine {
        match e_machine {
            EM_X86_64 => Machine::X86_64,
            EM_AARCH64 => Machine::Aarch64,
            3 => Machine::Other("i386".into()),
            8 => Machine::Other("mips".into()),
            21 => Machine::Other("ppc64".into()),
            22 => Machine::Other("s390x".into()),
            40 => Machine::Other("arm".into()),
            243 => Machine::Other("riscv64".into()),
            n => Machine::Other(format!("e_machine {n}")),
        }
    }

    /// From a kdump header's utsname machine; an empty one defers to VMCOREINFO, then to x86-64 (the
    /// format's origin).
    pub(crate) fn from_utsname(machine: &str, vi: Option<&VmcoreInfo>) -> Machine {
        match machine {
            "x86_64" => Machine::X86_64,
            "aarch64" | "arm64" => Machine::Aarch64,
            "" => match vi {
                Some(v) if v.get("NUMBER(kimage_voffset)").is_some() => Machine::Aarch64,
                _ => Machine::X86_64,
            },
            other => Machine::Other(other.to_string()),
        }
    }
}

/// A dump's kernel address translation, for whichever architecture it is.
#[derive(Debug)]
pub enum Translator {
    X86_64(x86_64::Translator),
    Aarch64(aarch64::Translator),
}

/// What `vmtaint info` says about the translation in use. JSON keys are part of `docs/schema/info.schema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranslationInfo {
    /// `x86_64` or `aarch64`.
    pub arch: &'static str,
    /// Virtual-address bits the page tables resolve (x86-64: 48 or 57; AArch64: `64 - TCR_EL1_T1SZ`).
    pub va_bits: u32,
    /// Translation granule in bytes.
    pub granule: u64,
    /// Page-table levels walked.
    pub levels: u32,
    /// Physical address of the top-level table (hex).
    pub root: String,
    /// Where the root came from: `init_top_pgt`, `QEMU CR3`, `swapper_pg_dir`.
    pub root_source: &'static str,
    /// The first address of the direct / linear map (hex), when known.
    pub linear_map: Option<String>,
    /// AArch64 `KERNELPACMASK` (hex), when pointer authentication is on.
    pub pac_mask: Option<String>,
}

impl Translator {
    /// Translate a kernel virtual address to a physical one.
    pub fn translate(&self, mem: &dyn PhysicalMemory, vaddr: u64) -> Result<u64, ReadError> {
        match self {
            Translator::X86_64(t) => t.translate(mem, vaddr),
            Translator::Aarch64(t) => t.translate(mem, vaddr),
        }
    }

    pub fn machine(&self) -> Machine {
        match self {
            Translator::X86_64(_) => Machine::X86_64,
            Translator::Aarch64(_) => Machine::Aarch64,
        }
    }

    /// Where the page-table root came from, for reports.
    pub fn root_source(&self) -> &'static str {
        match self {
            Translator::X86_64(t) => t.root_source,
            Translator::Aarch64(_) => "swapper_pg_dir",
        }
    }

    /// The direct map's base (`page_offset_base` on x86-64, `PAGE_OFFSET` on AArch64), when known.
    pub fn direct_map_base(&self) -> Option<u64> {
        match self {
            Translator::X86_64(t) => t.direct_map_base,
            Translator::Aarch64(t) => Some(t.config.page_offset()),
        }
    }

    /// A code address read from memory (return address, function pointer) with any pointer-authentication
    /// code removed. Identity on x86-64.
    pub fn strip_code_pointer(&self, addr: u64) -> u64 {
        match self {
            Translator::X86_64(_) => addr,
            Translator::Aarch64(t) => t.strip_pac(addr),
        }
    }

    pub fn info(&self) -> TranslationInfo {
        match self {
            Translator::X86_64(t) => TranslationInfo {
                arch: "x86_64",
                va_bits: if t.walker.five_level { 57 } else { 48 },
                granule: 4096,
                levels: if t.walker.five_level { 5 } else { 4 },
                root: format!("{:#x}", t.walker.root),
                root_source: t.root_source,
                linear_map: t.direct_map_base.map(|b| format!("{b:#x}")),
                pac_mask: None,
            },
            Translator::Aarch64(t) => TranslationInfo {
                arch: "aarch64",
                va_bits: t.walker.va_bits,
                granule: t.config.granule.size(),
                levels: t.walker.levels,
                root: format!("{:#x}", t.walker.root),
                root_source: "swapper_pg_dir",
                linear_map: Some(format!("{:#x}", t.config.page_offset())),
                pac_mask: (t.config.pac_mask != 0).then(|| format!("{:#x}", t.config.pac_mask)),
            },
        }
    }
}

impl TranslationInfo {
    /// One line for humans: `aarch64, 48-bit VA, 4 KiB granule, 4 levels from swapper_pg_dir at 0x...`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}, {}-bit VA, {} KiB pages, {} levels from {} at {}",
            self.arch,
            self.va_bits,
            self.granule / 1024,
            self.levels,
            self.root_source,
            self.root
        );
        if let Some(l) = &self.linear_map {
            s += &format!(", direct map at {l}");
        }
        if let Some(m) = &self.pac_mask {
            s += &format!(", PAC mask {m}");
        }
        s
    }
}
