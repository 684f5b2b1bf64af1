//! Symbols and types without DWARF: the kernel's BTF, from a vmlinux's `.BTF` section or from the dump's
//! own memory (`__start_BTF`..`__stop_BTF`), with addresses from the vmlinux's `.symtab` or from the dump's
//! kallsyms (located through VMCOREINFO, 6.0+).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use analyzers::target::{Member, TypeRef};
use symbols::btf::Btf;
use symbols::kallsyms::{Kallsyms, KallsymsTables};
use symbols::proc_kallsyms::ProcKallsyms;
use symbols::{TypeDesc, Vmlinux};
use vmcore::Vmcore;

use crate::debuginfo::member_of;
use crate::target::SymbolSource;

/// Largest in-memory BTF blob read (6.1 cloud kernel: 4.1 MB; allyesconfig kernels: about 10 MB).
const MAX_BTF_BYTES: u64 = 64 << 20;

/// Where the addresses come from.
enum Addresses {
    /// The dump's kallsyms (no sizes).
    Kallsyms(Kallsyms),
    /// A vmlinux `.symtab`, plus the KASLR slide.
    Vmlinux { vmlinux: Arc<Vmlinux>, slide: u64 },
    /// A running kernel's `/proc/kallsyms` (run-time addresses).
    Proc(ProcKallsyms),
}

/// BTF types plus kallsyms or `.symtab` addresses, as a [`SymbolSource`].
pub struct BtfSource {
    btf: Btf,
    addresses: Addresses,
    origin: String,
    variables: Mutex<HashMap<String, Option<Arc<TypeDesc>>>>,
}

/// The dump's kallsyms, located through VMCOREINFO.
pub fn dump_kallsyms(dump: &Vmcore) -> Result<Kallsyms, String> {
    let vi = dump
        .vmcoreinfo()
        .ok_or("the dump has no VMCOREINFO to locate kallsyms")?;
    let tables = KallsymsTables::from_lookup(|n| vi.symbol(n))
        .ok_or("VMCOREINFO names no kallsyms tables (kernels before 6.0 do not export them)")?;
    Kallsyms::read(&tables, dump).map_err(|e| e.to_string())
}

/// The BTF blob in the dump's memory, between `__start_BTF` and `__stop_BTF`.
fn dump_btf(dump: &Vmcore, symbol: impl Fn(&str) -> Option<u64>) -> Result<Btf, String> {
    let start = symbol("__start_BTF").ok_or("no __start_BTF symbol (kernel built without BTF?)")?;
    let stop = symbol("__stop_BTF").ok_or("no __stop_BTF symbol")?;
    let len = stop
        .checked_sub(start)
        .filter(|&l| l > 0 && l <= MAX_BTF_BYTES)
        .ok_or_else(|| {
            format!("__start_BTF {start:#x} .. __stop_BTF {stop:#x} is not a BTF blob")
        })?;
    use rayon::prelude::*;
    // Megabytes of compressed pages: decompress them on every core.
    const CHUNK: usize = 64 << 10;
    let mut bytes = vec![0u8; len as usize];
    bytes
        .par_chunks_mut(CHUNK)
        .enumerate()
        .try_for_each(|(i, chunk)| dump.read_virt(start + (i * CHUNK) as u64, chunk))
        .map_err(|e| format!("BTF blob at {start:#x} ({len} bytes) unreadable: {e}"))?;
    Btf::parse(bytes).map_err(|e| format!("in-memory BTF at {start:#x}: {e}"))
}

impl BtfSource {
    /// BTF and kallsyms from the dump alone.
    pub fn from_dump(dump: &Vmcore) -> Result<BtfSource, String> {
        let ksyms = dump_kallsyms(dump)?;
        let btf = dump_btf(dump, |n| ksyms.address(n))?;
        Ok(BtfSource {
            btf,
            addresses: Addresses::Kallsyms(ksyms),
            origin: "dump".into(),
            variables: Mutex::default(),
        })
    }

    /// The `.BTF` section of a vmlinux (e.g. a stripped one), with its `.symtab` (plus `slide`) for
    /// addresses, or the dump's kallsyms when the file has no symbols.
    pub fn from_vmlinux(
        vmlinux: Arc<Vmlinux>,
        slide: u64,
        dump: &Vmcore,
    ) -> Result<BtfSource, String> {
        let path = vmlinux.path().display().to_string();
        let section = vmlinux
            .btf_section()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{path}: no .BTF section"))?;
        let btf = Btf::parse(section.to_vec()).map_err(|e| format!("{path}: .BTF: {e}"))?;
        let addresses = if vmlinux.has_symbols() {
            Addresses::Vmlinux { vmlinux, slide }
        } else {
            Addresses::Kallsyms(
                dump_kallsyms(dump).map_err(|e| format!("{path} has no .symtab, and {e}"))?,
            )
        };
        Ok(BtfSource {
            btf,
            addresses,
            origin: path,
            variables: Mutex::default(),
        })
    }

    /// A running kernel's own BTF (`/sys/kernel/btf/vmlinux`, raw BTF bytes) with `/proc/kallsyms`
    /// addresses; `origin` names both files.
    pub fn from_host(
        btf: Vec<u8>,
        kallsyms: ProcKallsyms,
        origin: String,
    ) -> Result<BtfSource, String> {
        let btf = Btf::parse(btf).map_err(|e| format!("{origin}: {e}"))?;
        Ok(BtfSource {
            btf,
            addresses: Addresses::Proc(kallsyms),
            origin,
            variables: Mutex::default(),
        })
    }

    /// The parsed BTF.
    pub fn btf(&self) -> &Btf {
        &self.btf
    }

    /// Size of a symbol, when the address source knows it (`.symtab` does, kallsyms does not).
    fn symbol_size(&self, name: &str) -> Option<u64> {
        match &self.addresses {
            Addresses::Kallsyms(_) | Addresses::Proc(_) => None,
            Addresses::Vmlinux { vmlinux, .. } => {
                vmlinux.symbol(name).ok().map(|s| s.size).filter(|&s| s > 0)
            }
        }
    }

    fn variable(&self, name: &str) -> Option<Arc<TypeDesc>> {
        let mut cache = self.variables.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(name.to_string())
            .or_insert_with(|| {
                self.btf
                    .variable_type(name, self.symbol_size(name))
                    .ok()
                    .map(Arc::new)
            })
            .clone()
    }
}

impl SymbolSource for BtfSource {
    fn kind(&self) -> &'static str {
        "btf"
    }

    fn origin(&self) -> String {
        self.origin.clone()
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        match &self.addresses {
            Addresses::Kallsyms(k) => k.address(name),
            Addresses::Proc(k) => k.address(name),
            Addresses::Vmlinux { vmlinux, slide } => vmlinux
                .symbol(name)
                .ok()
                .map(|s| s.address.wrapping_add(*slide)),
        }
    }

    fn symbol_at(&self, addr: u64) -> Option<analyzers::target::SymbolAt> {
        match &self.addresses {
            Addresses::Kallsyms(k) => {
                let (s, next) = k.at_or_below(addr)?;
                Some(analyzers::target::SymbolAt {
                    name: s.name,
                    address: s.address,
                    size: next.map(|n| n - s.address),
                })
            }
            // A running kernel's /proc/kallsyms: not asked (its addresses stay bare).
            Addresses::Proc(_) => None,
            Addresses::Vmlinux { vmlinux, slide } => {
                let s = vmlinux
                    .symbol_containing(addr.wrapping_sub(*slide))
                    .ok()??;
                Some(analyzers::target::SymbolAt {
                    name: s.name,
                    address: s.address.wrapping_add(*slide),
                    size: (s.size > 0).then_some(s.size),
                })
            }
        }
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        match ty {
            TypeRef::Struct(n) | TypeRef::Union(n) => self.btf.layout(n).ok().map(|l| l.size),
            TypeRef::TypeOf(v) => self.variable(v)?.size(),
        }
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        let m = match ty {
            TypeRef::Struct(n) | TypeRef::Union(n) => self.btf.layout(n).ok()?.member(path),
            TypeRef::TypeOf(v) => self.variable(v)?.as_layout()?.member(path),
        };
        m.ok().map(|m| member_of(&m))
    }

    fn enumerator(&self, name: &str) -> Option<i64> {
        self.btf.enumerator(name)
    }

    fn enumerator_in(&self, enumeration: &str, name: &str) -> Option<i64> {
        match self.btf.enumeration(enumeration) {
            Ok(e) => e.value(name),
            Err(_) => None,
        }
    }
}
