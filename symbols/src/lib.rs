//! Kernel symbols and type layouts from a debuginfo vmlinux, resolved lazily.
//!
//! Opening reads only the ELF headers and notes. A symbol lookup indexes `.symtab` once; a type
//! or variable lookup skims only the DWARF units needed to find its definition (units suggested
//! by the symbol table first, then the rest in link order, in parallel), converts just that DIE
//! tree, and caches the result.
//!
//! ```no_run
//! # fn main() -> Result<(), symbols::Error> {
//! let vmlinux = symbols::Vmlinux::open("/usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64")?;
//! let addr = vmlinux.symbol("tainted_mask")?.address; // unrelocated; add KERNELOFFSET
//! let module = vmlinux.layout("module")?;
//! let taints = module.member("taints")?; // offset, size, bit info, type name
//! assert_eq!(taints.size, 8);
//! let states = vmlinux.enumeration("module_state")?; // [(name, value)]
//! assert_eq!(states.value("MODULE_STATE_LIVE"), Some(0));
//! let ty = vmlinux.variable_type("last_unloaded_module")?; // struct/array/base description
//! println!("{addr:#x} {} {ty}", module.size);
//! # Ok(())
//! # }
//! ```

pub mod btf;
mod btf_variables;
mod build_id;
pub mod code_refs;
mod discovery;
mod dwarf;
mod elf;
mod error;
pub mod image_scan;
pub mod kallsyms;
mod name_index;
pub mod proc_kallsyms;
mod symtab;
pub mod types;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use gimli::SectionId;

pub use build_id::{read_build_id, BuildId};
pub use discovery::{Discovered, Discovery, MatchedBy, DEBUGINFO_PATH_ENV};
pub use error::{Error, Result};
pub use symtab::{Symbol, SymbolKind};
pub use types::{
    AggregateKind, BaseEncoding, BaseType, BitField, Enumeration, Layout, Member, TypeDesc,
};

use dwarf::{DwarfBytes, DwarfIndex, EntryKind, Query};
use elf::ElfImage;
use symtab::SymbolTable;

/// Units on each side of the estimated position whose names are read first for a hint.
const HINT_WINDOW: usize = 48;

/// Largest decompressed debug section accepted (the sizes come from the file).
const MAX_DECOMPRESSED: u64 = 8 << 30;

/// An opened vmlinux with debug info. Cheap to open; all lookups are lazy and cached.
/// Shareable across threads.
pub struct Vmlinux {
    image: ElfImage,
    symtab: Option<SymbolTable>,
    decompressed: OnceLock<std::result::Result<HashMap<SectionId, Vec<u8>>, String>>,
    dwarf: DwarfIndex,
    layouts: Mutex<HashMap<String, Arc<Layout>>>,
    enums: Mutex<HashMap<String, Arc<Enumeration>>>,
    /// Enumerator values by enumerator name (`None`: no enum has it).
    enumerators: Mutex<HashMap<String, Option<i64>>>,
    variables: Mutex<HashMap<String, Arc<TypeDesc>>>,
}

impl std::fmt::Debug for Vmlinux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vmlinux")
            .field("path", &self.image.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Vmlinux {
    /// Opens and maps a vmlinux (ELF64 little-endian). Reads the headers and notes only.
    pub fn open(path: impl AsRef<Path>) -> Result<Vmlinux> {
        let image = ElfImage::open(path.as_ref())?;
        let symtab = match (image.section(".symtab"), image.section(".strtab")) {
            (Some(s), Some(t)) => {
                let s_bytes = image.section_bytes(s)?;
                let t_bytes = image.section_bytes(t)?;
                let base = image.data().as_ptr() as usize;
                let range = |b: &[u8]| {
                    let start = b.as_ptr() as usize - base;
                    start..start + b.len()
                };
                Some(SymbolTable::new(range(s_bytes), range(t_bytes)))
            }
            _ => None,
        };
        Ok(Vmlinux {
            image,
            symtab,
            decompressed: OnceLock::new(),
            dwarf: DwarfIndex::new(),
            layouts: Mutex::new(HashMap::new()),
            enums: Mutex::new(HashMap::new()),
            enumerators: Mutex::new(HashMap::new()),
            variables: Mutex::new(HashMap::new()),
        })
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.image.path
    }

    /// True if the file has DWARF type information (a non-empty `.debug_info`); a stripped vmlinux
    /// may still have `.BTF` ([`Vmlinux::btf_section`]).
    pub fn has_dwarf(&self) -> bool {
        self.image
            .section(".debug_info")
            .is_some_and(|s| s.size > 0)
    }

    /// True if the file has a `.symtab`.
    pub fn has_symbols(&self) -> bool {
        self.symtab.is_some()
    }

    /// The bytes of the `.BTF` section (the kernel's own type information), if the file has one.
    pub fn btf_section(&self) -> Result<Option<&[u8]>> {
        match self.image.section(".BTF") {
            Some(s) => self.image.section_bytes(s).map(Some),
            None => Ok(None),
        }
    }

    /// The GNU build-id note, if any.
    pub fn build_id(&self) -> Option<BuildId> {
        self.image.build_id.clone().map(BuildId)
    }

    /// Compares with a dump's VMCOREINFO `BUILD-ID` (hex). A different id is
    /// [`Error::BuildIdMismatch`] naming both ids and this file.
    pub fn check_build_id(&self, dump_build_id: &str) -> Result<()> {
        let dump = BuildId::from_hex(dump_build_id)?;
        let mine = self.build_id().ok_or_else(|| Error::NoBuildId {
            file: self.path().to_path_buf(),
        })?;
        // Some kernels print the id zero-padded to a fixed width: compare the note's length.
        let same = dump.0.len() >= mine.0.len()
            && dump.0[..mine.0.len()] == mine.0[..]
            && dump.0[mine.0.len()..].iter().all(|&b| b == 0);
        if same {
            Ok(())
        } else {
            Err(Error::BuildIdMismatch {
                file: self.path().to_path_buf(),
                vmlinux_id: mine.to_hex(),
                dump_id: dump.to_hex(),
            })
        }
    }

    fn symtab(&self) -> Result<&SymbolTable> {
        self.symtab.as_ref().ok_or_else(|| Error::NoSymbols {
            file: self.path().to_path_buf(),
            hint: error::debug_package_hint(None),
        })
    }

    /// The symbol with this name; a global one wins over `static` duplicates.
    pub fn symbol(&self, name: &str) -> Result<Symbol> {
        let all = self.symbols_named(name)?;
        let pick = all.iter().position(|s| !s.local).unwrap_or(0);
        all.into_iter().nth(pick).ok_or_else(|| Error::NotFound {
            file: self.path().to_path_buf(),
            what: "symbol",
            name: name.to_string(),
        })
    }

    /// The symbol containing the unrelocated `address` (or the nearest below it), from `.symtab`.
    pub fn symbol_containing(&self, address: u64) -> Result<Option<Symbol>> {
        Ok(self.symtab()?.containing(self.image.data(), address))
    }

    /// Every symbol with this name (several `static`s may share one), in table order.
    pub fn symbols_named(&self, name: &str) -> Result<Vec<Symbol>> {
        Ok(self.symtab()?.lookup(self.image.data(), name))
    }

    /// File bytes at an unrelocated virtual address of an initialized section (e.g. `.rodata`).
    pub fn bytes_at(&self, address: u64, len: u64) -> Option<&[u8]> {
        self.image.bytes_at(address, len)
    }

    /// The initialized bytes of a data symbol (its `size` bytes from the file).
    pub fn symbol_bytes(&self, name: &str) -> Result<&[u8]> {
        let sym = self.symbol(name)?;
        self.bytes_at(sym.address, sym.size)
            .ok_or_else(|| Error::NotFound {
                file: self.path().to_path_buf(),
                what: "initialized data of symbol",
                name: name.to_string(),
            })
    }

    /// The `linux_banner` string ("Linux version 6.1.0-... (...)\n") without its NUL, for
    /// comparing with the dump's copy when build-ids cannot be compared.
    pub fn linux_banner(&self) -> Result<&[u8]> {
        let b = self.symbol_bytes("linux_banner")?;
        Ok(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())])
    }

    /// The debug sections, borrowed from the mapping or decompressed once.
    fn dwarf_bytes(&self) -> Result<DwarfBytes<'_>> {
        // .debug_line only because gimli::Unit reads the line program header.
        const IDS: [SectionId; 9] = [
            SectionId::DebugAbbrev,
            SectionId::DebugLine,
            SectionId::DebugAddr,
            SectionId::DebugInfo,
            SectionId::DebugLineStr,
            SectionId::DebugStr,
            SectionId::DebugStrOffsets,
            SectionId::DebugRngLists,
            SectionId::DebugRanges,
        ];
        let is_compressed =
            |sec: &elf::SectionInfo| sec.sh_flags & object::elf::SHF_COMPRESSED.0 != 0;
        let decompressed = self
            .decompressed
            .get_or_init(|| {
                let mut out = HashMap::new();
                for id in IDS {
                    let Some(sec) = self.image.section(id.name()) else {
                        continue;
                    };
                    if is_compressed(sec) {
                        let raw = self.image.section_bytes(sec).map_err(|e| e.to_string())?;
                        out.insert(
                            id,
                            self.decompress(&sec.name, raw).map_err(|e| e.to_string())?,
                        );
                    }
                }
                Ok(out)
            })
            .as_ref()
            .map_err(|e| self.image.malformed(None, e.clone()))?;
        let mut map = HashMap::new();
        for id in IDS {
            let Some(sec) = self.image.section(id.name()) else {
                continue;
            };
            let bytes = match decompressed.get(&id) {
                Some(v) => v.as_slice(),
                None => self.image.section_bytes(sec)?,
            };
            map.insert(id, bytes);
        }
        if map.get(&SectionId::DebugInfo).is_none_or(|b| b.is_empty()) {
            return Err(Error::NoDebugInfo {
                file: self.path().to_path_buf(),
                hint: error::debug_package_hint(self.release_hint().as_deref()),
            });
        }
        Ok(DwarfBytes::new(map, &self.image))
    }

    fn decompress(&self, name: &str, raw: &[u8]) -> Result<Vec<u8>> {
        // ELF64 Chdr: ch_type u32, reserved u32, ch_size u64, ch_addralign u64.
        if raw.len() < 24 {
            return Err(self
                .image
                .truncated(None, format!("{name}: compression header")));
        }
        let ch_type = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let mut size = [0u8; 8];
        size.copy_from_slice(&raw[8..16]);
        let size = u64::from_le_bytes(size);
        if size > MAX_DECOMPRESSED {
            return Err(self
                .image
                .malformed(None, format!("{name}: claims {size} bytes uncompressed")));
        }
        let format = match ch_type {
            t if t == object::elf::ELFCOMPRESS_ZLIB.0 => object::CompressionFormat::Zlib,
            t if t == object::elf::ELFCOMPRESS_ZSTD.0 => object::CompressionFormat::Zstandard,
            t => {
                return Err(self
                    .image
                    .malformed(None, format!("{name}: compression type {t}")))
            }
        };
        let data = object::CompressedData {
            format,
            data: &raw[24..],
            uncompressed_size: size,
        };
        data.decompress()
            .map(std::borrow::Cow::into_owned)
            .map_err(|e| self.image.malformed(None, format!("{name}: {e}")))
    }

    /// The release from `init_uts_ns`/`linux_banner` for error hints, if readable.
    fn release_hint(&self) -> Option<String> {
        let banner = self.linux_banner().ok()?;
        let text = std::str::from_utf8(banner).ok()?;
        text.strip_prefix("Linux version ")?
            .split_whitespace()
            .next()
            .map(str::to_string)
    }

    fn dwarf_err(&self, detail: String) -> Error {
        Error::Malformed {
            file: self.path().to_path_buf(),
            offset: None,
            detail: format!("DWARF: {detail}"),
        }
    }

    fn not_found(&self, what: &'static str, name: &str) -> Error {
        Error::NotFound {
            file: self.path().to_path_buf(),
            what,
            name: name.to_string(),
        }
    }

    /// Unit indexes likely to define the variable at `sym` (its source file's units first).
    fn hints_for(&self, bytes: &DwarfBytes<'_>, sym: &Symbol) -> Vec<usize> {
        let Ok(symtab) = self.symtab() else {
            return Vec::new();
        };
        let data = self.image.data();
        // The symbol's own STT_FILE group, or for a global the nearest local at or below it in
        // the same section (input sections are laid out in link order, like the units).
        let anchor = if sym.local {
            Some(sym.index)
        } else {
            symtab
                .shndx(data, sym.index)
                .and_then(|shndx| symtab.nearest_local_at_or_below(data, shndx, sym.address))
        };
        let Some((ordinal, file)) = anchor.and_then(|i| symtab.file_ordinal(data, i)) else {
            return Vec::new();
        };
        let Ok(units) = self.dwarf.units(bytes) else {
            return Vec::new();
        };
        // STT_FILE groups and units both follow link order: the file's ordinal among STT_FILE
        // symbols places its unit roughly. Look at names near there first, then everywhere.
        let estimate = ordinal.saturating_mul(units.len()) / symtab.file_count(data).max(1);
        let matches = |i: &usize| {
            self.dwarf
                .unit_name(bytes, *i)
                .is_some_and(|n| n.rsplit('/').next() == Some(file.as_str()))
        };
        let window =
            estimate.saturating_sub(HINT_WINDOW)..(estimate + HINT_WINDOW).min(units.len());
        let mut hits: Vec<usize> = window.filter(matches).collect();
        if hits.is_empty() {
            hits = (0..units.len()).filter(matches).collect();
        }
        hits.sort_by_key(|&i| i.abs_diff(estimate));
        hits
    }

    fn find(
        &self,
        bytes: &DwarfBytes<'_>,
        q: Query<'_>,
        hints: &[usize],
    ) -> Result<Option<dwarf::Found>> {
        self.dwarf
            .find(bytes, &q, hints)
            .map_err(|e| self.dwarf_err(e))
    }

    /// The layout of `struct NAME` or `union NAME` (tag name, without the keyword).
    pub fn layout(&self, name: &str) -> Result<Arc<Layout>> {
        if let Some(l) = lock(&self.layouts).get(name) {
            return Ok(l.clone());
        }
        let bytes = self.dwarf_bytes()?;
        let q = Query {
            name,
            kind: EntryKind::Aggregate,
            address: None,
        };
        let found = self
            .find(&bytes, q, &[])?
            .ok_or_else(|| self.not_found("struct or union", name))?;
        let layout = self
            .dwarf
            .with_unit(&bytes, found.unit, |c| {
                c.layout_at(DwarfIndex::die_offset(found), 0)
            })
            .map_err(|e| self.dwarf_err(e))?;
        let layout = Arc::new(layout);
        lock(&self.layouts).insert(name.to_string(), layout.clone());
        Ok(layout)
    }

    /// The enumerators of `enum NAME`.
    pub fn enumeration(&self, name: &str) -> Result<Arc<Enumeration>> {
        if let Some(e) = lock(&self.enums).get(name) {
            return Ok(e.clone());
        }
        let bytes = self.dwarf_bytes()?;
        let q = Query {
            name,
            kind: EntryKind::Enum,
            address: None,
        };
        let found = self
            .find(&bytes, q, &[])?
            .ok_or_else(|| self.not_found("enum", name))?;
        let e = self
            .dwarf
            .with_unit(&bytes, found.unit, |c| {
                c.enumeration_at(DwarfIndex::die_offset(found))
            })
            .map_err(|e| self.dwarf_err(e))?;
        let e = Arc::new(e);
        lock(&self.enums).insert(name.to_string(), e.clone());
        Ok(e)
    }

    /// The value of enumerator `name` in whichever enum defines it (the first such enum in link order;
    /// anonymous enums too), found through an index of enumerator names built unit by unit on demand.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), symbols::Error> {
    /// let vmlinux = symbols::Vmlinux::open("vmlinux")?;
    /// assert_eq!(vmlinux.enumerator("MODULE_STATE_COMING")?, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn enumerator(&self, name: &str) -> Result<i64> {
        if let Some(v) = lock(&self.enumerators).get(name) {
            return v.ok_or_else(|| self.not_found("enumerator", name));
        }
        let bytes = self.dwarf_bytes()?;
        let found = self
            .dwarf
            .find_enumerator(&bytes, name)
            .map_err(|e| self.dwarf_err(e))?;
        let value = match found {
            Some(found) => self
                .dwarf
                .with_unit(&bytes, found.unit, |c| {
                    c.enumeration_at(DwarfIndex::die_offset(found))
                })
                .map_err(|e| self.dwarf_err(e))?
                .value(name),
            None => None,
        };
        lock(&self.enumerators).insert(name.to_string(), value);
        value.ok_or_else(|| self.not_found("enumerator", name))
    }

    /// The type of the global or `static` variable `name` (its definition; the symbol's address
    /// picks among same-named statics).
    pub fn variable_type(&self, name: &str) -> Result<Arc<TypeDesc>> {
        if let Some(t) = lock(&self.variables).get(name) {
            return Ok(t.clone());
        }
        let bytes = self.dwarf_bytes()?;
        let sym = self.symtab.as_ref().and_then(|_| self.symbol(name).ok());
        let hints = sym
            .as_ref()
            .map(|s| self.hints_for(&bytes, s))
            .unwrap_or_default();
        let q = Query {
            name,
            kind: EntryKind::Variable,
            address: sym.as_ref().map(|s| s.address),
        };
        let found = self
            .find(&bytes, q, &hints)?
            .ok_or_else(|| self.not_found("variable", name))?;
        let (ty, _) = self
            .dwarf
            .with_unit(&bytes, found.unit, |c| {
                c.variable_type(DwarfIndex::die_offset(found))
            })
            .map_err(|e| self.dwarf_err(e))?;
        let ty = Arc::new(ty);
        lock(&self.variables).insert(name.to_string(), ty.clone());
        Ok(ty)
    }
}
