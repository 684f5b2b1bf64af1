//! Symbols and types without DWARF: the kernel's BTF, from a vmlinux's `.BTF` section or from the dump's
//! own memory (`__start_BTF`..`__stop_BTF`), with addresses from the vmlinux's `.symtab` or from the dump's
//! kallsyms (located through VMCOREINFO on 6.0+, found by scanning the kernel image before that).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use analyzers::target::{Member, TypeRef};
use symbols::btf::Btf;
use symbols::image_scan::{self, ScanWindow};
use symbols::kallsyms::{Kallsyms, KallsymsTables};
use symbols::proc_kallsyms::ProcKallsyms;
use symbols::{TypeDesc, Vmlinux};
use vmcore::{Vmcore, VmcoreInfo};

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
    /// How the dump's kallsyms and BTF were found.
    how: String,
    /// How the dump's kallsyms and BTF were found, for an answer index (from the dump, the usual ways).
    found: Option<(KallsymsFound, BtfFound)>,
    variables: Mutex<HashMap<String, Option<Arc<TypeDesc>>>>,
}

/// The dump's kallsyms, where they are and how they were found (for `source.tried`).
pub struct DumpKallsyms {
    /// The table.
    pub kallsyms: Kallsyms,
    /// Where its parts are.
    pub tables: KallsymsTables,
    /// How they were found: `kallsyms: described by VMCOREINFO ...` or `...; found by scan at ...`.
    pub how: String,
    /// The same, in the form an answer index keeps (when it is one of the usual ways).
    pub(crate) found: Option<KallsymsFound>,
}

/// Something else the dump holds about itself, and how it was found.
struct InDump<T> {
    value: T,
    how: String,
    found: Option<BtfFound>,
}

/// How a dump's kallsyms were found, in the form an answer index keeps (run-time addresses here; the index
/// keeps them unrelocated, see [`KallsymsFound::moved`]). Only the usual ways are kept.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KallsymsFound {
    /// Where VMCOREINFO says (6.0+).
    Described { names: u64 },
    /// Found by scanning the kernel image because VMCOREINFO does not describe them.
    Scanned {
        token_table: u64,
        names: u64,
        count: usize,
        encoding: String,
        pages: u64,
        ms: String,
    },
}

/// How a dump's BTF blob was found, like [`KallsymsFound`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BtfFound {
    /// Between `__start_BTF` and `__stop_BTF`.
    Symbol { start: u64 },
    /// Found by scanning the kernel image because kallsyms has no `__start_BTF`.
    Scanned {
        start: u64,
        len: u64,
        pages: u64,
        ms: String,
    },
}

/// What replaces a scan's cost (pages read, time) when an answer index recalls where the scan of an earlier
/// dump of the build found the table: this report did not scan.
const RECALLED: &str = "remembered by the answer index";

impl KallsymsFound {
    /// The text of `source.tried` (`recalled`: the scan was not done by this report).
    pub(crate) fn how(&self, recalled: bool) -> String {
        match self {
            KallsymsFound::Described { names } => {
                format!("kallsyms: described by VMCOREINFO (kallsyms_names at {names:#x})")
            }
            KallsymsFound::Scanned {
                token_table,
                names,
                count,
                encoding,
                pages,
                ms,
            } => format!(
                "kallsyms: VMCOREINFO does not describe them (kernels before 6.0); found by scan at \
                 {token_table:#x} (names {names:#x}, {count} symbols, {encoding} addresses; {})",
                if recalled {
                    RECALLED.to_string()
                } else {
                    format!("{pages} pages read in {ms} ms")
                }
            ),
        }
    }

    /// The same with addresses moved by `delta`.
    pub(crate) fn moved(&self, delta: u64) -> KallsymsFound {
        let mut f = self.clone();
        match &mut f {
            KallsymsFound::Described { names } => *names = names.wrapping_add(delta),
            KallsymsFound::Scanned {
                token_table, names, ..
            } => {
                *token_table = token_table.wrapping_add(delta);
                *names = names.wrapping_add(delta);
            }
        }
        f
    }

    /// One line for the index.
    pub(crate) fn record(&self) -> String {
        match self {
            KallsymsFound::Described { names } => format!("described {names:x}"),
            KallsymsFound::Scanned {
                token_table,
                names,
                count,
                encoding,
                pages,
                ms,
            } => format!("scanned {token_table:x} {names:x} {count} {encoding} {pages} {ms}"),
        }
    }

    pub(crate) fn parse(record: &str) -> Option<KallsymsFound> {
        let f: Vec<&str> = record.split(' ').collect();
        let hex = |s: &str| u64::from_str_radix(s, 16).ok();
        match f.as_slice() {
            ["described", names] => Some(KallsymsFound::Described { names: hex(names)? }),
            ["scanned", tt, names, count, encoding, pages, ms] => Some(KallsymsFound::Scanned {
                token_table: hex(tt)?,
                names: hex(names)?,
                count: count.parse().ok()?,
                encoding: encoding.to_string(),
                pages: pages.parse().ok()?,
                ms: ms.parse::<f64>().ok().map(|_| ms.to_string())?,
            }),
            _ => None,
        }
    }

    /// Where a few bytes that identify the table sit, and how many.
    fn mark(&self, vi: &VmcoreInfo) -> Option<(u64, usize)> {
        match self {
            KallsymsFound::Described { .. } => Some((vi.symbol("kallsyms_num_syms")?, 4)),
            KallsymsFound::Scanned { token_table, .. } => Some((*token_table, 32)),
        }
    }
}

impl BtfFound {
    /// The text of `source.tried` (`recalled`: the scan was not done by this report).
    pub(crate) fn how(&self, recalled: bool) -> String {
        match self {
            BtfFound::Symbol { start } => format!("BTF: at __start_BTF {start:#x}"),
            BtfFound::Scanned {
                start,
                len,
                pages,
                ms,
            } => format!(
                "BTF: no __start_BTF/__stop_BTF symbols; found by scan at {start:#x} ({len} bytes; {})",
                if recalled {
                    RECALLED.to_string()
                } else {
                    format!("{pages} pages read in {ms} ms")
                }
            ),
        }
    }

    fn start(&self) -> u64 {
        match self {
            BtfFound::Symbol { start } | BtfFound::Scanned { start, .. } => *start,
        }
    }

    /// The same with addresses moved by `delta`.
    pub(crate) fn moved(&self, delta: u64) -> BtfFound {
        let mut f = self.clone();
        match &mut f {
            BtfFound::Symbol { start } | BtfFound::Scanned { start, .. } => {
                *start = start.wrapping_add(delta)
            }
        }
        f
    }

    /// One line for the index.
    pub(crate) fn record(&self) -> String {
        match self {
            BtfFound::Symbol { start } => format!("symbol {start:x}"),
            BtfFound::Scanned {
                start,
                len,
                pages,
                ms,
            } => format!("scanned {start:x} {len} {pages} {ms}"),
        }
    }

    pub(crate) fn parse(record: &str) -> Option<BtfFound> {
        let f: Vec<&str> = record.split(' ').collect();
        let hex = |s: &str| u64::from_str_radix(s, 16).ok();
        match f.as_slice() {
            ["symbol", start] => Some(BtfFound::Symbol { start: hex(start)? }),
            ["scanned", start, len, pages, ms] => Some(BtfFound::Scanned {
                start: hex(start)?,
                len: len.parse().ok()?,
                pages: pages.parse().ok()?,
                ms: ms.parse::<f64>().ok().map(|_| ms.to_string())?,
            }),
            _ => None,
        }
    }
}

/// The bytes that identify a build's kallsyms and BTF in a dump (a few bytes of the kallsyms tables and the
/// BTF header), hex; `None` when unreadable.
pub(crate) fn dump_marks(dump: &Vmcore, k: &KallsymsFound, b: &BtfFound) -> Option<String> {
    let (at, n) = k.mark(dump.vmcoreinfo()?)?;
    let mut bytes = vec![0u8; n + BTF_HEADER_LEN];
    dump.read_virt(at, &mut bytes[..n]).ok()?;
    dump.read_virt(b.start(), &mut bytes[n..]).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// VMCOREINFO symbols that live in `.data` or `.bss` (every kernel since 2.6 exports some of them).
const DATA_SYMBOLS: [&str; 12] = [
    "init_uts_ns",
    "node_online_map",
    "swapper_pg_dir",
    "init_top_pgt",
    "vmap_area_list",
    "prb",
    "printk_rb_static",
    "clear_seq",
    "log_buf",
    "log_buf_len",
    "log_first_idx",
    "contig_page_data",
];

/// The part of kernel memory searched for kallsyms and BTF when VMCOREINFO does not place them: from
/// `_stext` up to the lowest data symbol VMCOREINFO names above it (`.data` follows `.rodata` and
/// `.BTF` in every kernel image), at most [`image_scan::MAX_WINDOW`]. `None` without `SYMBOL(_stext)`.
pub fn image_window(vi: &VmcoreInfo) -> Option<ScanWindow> {
    let stext = vi.stext?;
    let limit = stext.checked_add(image_scan::MAX_WINDOW)?;
    let end = DATA_SYMBOLS
        .iter()
        .filter_map(|n| vi.symbol(n))
        .filter(|&a| a > stext && a < limit)
        .min()
        .unwrap_or(limit);
    Some(ScanWindow { start: stext, end })
}

/// Why kallsyms were looked for by a scan on kernels before 6.0.
const NOT_DESCRIBED: &str = "VMCOREINFO does not describe them (kernels before 6.0)";
/// Why the BTF blob was looked for by a scan when kallsyms lacks its bounds.
const NO_BTF_SYMBOLS: &str = "no __start_BTF/__stop_BTF symbols";

/// The dump's kallsyms: where VMCOREINFO describes them (6.0+), else found by scanning the kernel
/// image ([`image_scan::find_kallsyms`]).
pub fn dump_kallsyms(dump: &Vmcore) -> Result<DumpKallsyms, String> {
    let vi = dump
        .vmcoreinfo()
        .ok_or("the dump has no VMCOREINFO to locate kallsyms")?;
    let described = match KallsymsTables::from_lookup(|n| vi.symbol(n)) {
        Some(tables) => match Kallsyms::read(&tables, dump) {
            Ok(kallsyms) => {
                let found = KallsymsFound::Described {
                    names: tables.names,
                };
                return Ok(DumpKallsyms {
                    kallsyms,
                    how: found.how(false),
                    tables,
                    found: Some(found),
                });
            }
            Err(e) => format!("the tables VMCOREINFO describes are unreadable ({e})"),
        },
        None => NOT_DESCRIBED.to_string(),
    };
    let window = image_window(vi)
        .ok_or_else(|| format!("kallsyms: {described}, and without SYMBOL(_stext) no scan"))?;
    let stext = vi.stext.expect("image_window needs _stext");
    let started = std::time::Instant::now();
    match image_scan::find_kallsyms(dump, window, stext) {
        Ok(found) => {
            let ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3);
            let recall = KallsymsFound::Scanned {
                token_table: found.tables.token_table,
                names: found.tables.names,
                count: found.kallsyms.len(),
                encoding: found.kallsyms.encoding().name().to_string(),
                pages: found.stats.pages_read,
                ms: ms.clone(),
            };
            Ok(DumpKallsyms {
                how: format!(
                    "kallsyms: {described}; found by scan at {:#x} (names {:#x}, {} symbols, {} \
                     addresses; {} pages read in {ms} ms)",
                    found.tables.token_table,
                    found.tables.names,
                    found.kallsyms.len(),
                    found.kallsyms.encoding().name(),
                    found.stats.pages_read,
                ),
                kallsyms: found.kallsyms,
                tables: found.tables,
                found: (described == NOT_DESCRIBED).then_some(recall),
            })
        }
        Err(e) => Err(format!("kallsyms: {described}; {e}")),
    }
}

/// The BTF blob in the dump's memory: between `__start_BTF` and `__stop_BTF` when `symbol` knows them,
/// else found by its header ([`image_scan::find_btf`]) from `after` (the end of the kallsyms tables:
/// `.BTF` follows `.rodata`) to the end of the image window, then in the whole window.
fn dump_btf(
    dump: &Vmcore,
    symbol: impl Fn(&str) -> Option<u64>,
    after: Option<u64>,
) -> Result<InDump<Btf>, String> {
    let by_symbol = match (symbol("__start_BTF"), symbol("__stop_BTF")) {
        (Some(start), Some(stop)) => match btf_between(dump, start, stop) {
            Ok(btf) => {
                let found = BtfFound::Symbol { start };
                return Ok(InDump {
                    value: btf,
                    how: found.how(false),
                    found: Some(found),
                });
            }
            Err(e) => e,
        },
        _ => NO_BTF_SYMBOLS.to_string(),
    };
    let window = dump
        .vmcoreinfo()
        .and_then(image_window)
        .ok_or_else(|| format!("BTF: {by_symbol}, and without SYMBOL(_stext) no scan"))?;
    let started = std::time::Instant::now();
    let narrow = after
        .filter(|&a| a > window.start && a < window.end)
        .map(|start| ScanWindow { start, ..window });
    let found = match narrow.map(|w| image_scan::find_btf(dump, w)) {
        Some(Ok(found)) => Ok(found),
        _ => image_scan::find_btf(dump, window),
    };
    match found {
        Ok(found) => {
            let ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3);
            let recall = BtfFound::Scanned {
                start: found.start,
                len: found.len,
                pages: found.stats.pages_read,
                ms: ms.clone(),
            };
            Ok(InDump {
                how: format!(
                    "BTF: {by_symbol}; found by scan at {:#x} ({} bytes; {} pages read in {ms} ms)",
                    found.start, found.len, found.stats.pages_read,
                ),
                value: found.btf,
                found: (by_symbol == NO_BTF_SYMBOLS).then_some(recall),
            })
        }
        Err(e) => Err(format!("BTF: {by_symbol}; {e}")),
    }
}

/// The blob between `__start_BTF` and `__stop_BTF`.
fn btf_between(dump: &Vmcore, start: u64, stop: u64) -> Result<Btf, String> {
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
        let k = &ksyms.kallsyms;
        // `.BTF` follows `.rodata`, where the kallsyms tables end with the token index.
        let after = Some(ksyms.tables.token_index + 512);
        let btf =
            dump_btf(dump, |n| k.address(n), after).map_err(|e| format!("{}; {e}", ksyms.how))?;
        Ok(BtfSource {
            btf: btf.value,
            addresses: Addresses::Kallsyms(ksyms.kallsyms),
            origin: "dump".into(),
            how: format!("{}; {}", ksyms.how, btf.how),
            found: ksyms.found.zip(btf.found),
            variables: Mutex::default(),
        })
    }

    /// How the dump's kallsyms and BTF were found (empty for a vmlinux's).
    pub fn how(&self) -> &str {
        &self.how
    }

    /// How the dump's kallsyms and BTF were found, when in one of the ways an answer index keeps.
    pub(crate) fn found(&self) -> Option<&(KallsymsFound, BtfFound)> {
        self.found.as_ref()
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
        let mut how = String::new();
        let addresses = if vmlinux.has_symbols() {
            Addresses::Vmlinux { vmlinux, slide }
        } else {
            let k = dump_kallsyms(dump).map_err(|e| format!("{path} has no .symtab, and {e}"))?;
            how = k.how;
            Addresses::Kallsyms(k.kallsyms)
        };
        Ok(BtfSource {
            btf,
            addresses,
            origin: path,
            how,
            found: None,
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
            how: format!("the running kernel's own: {origin}"),
            origin,
            found: None,
            variables: Mutex::default(),
        })
    }

    /// Whether its addresses are the dump's own kallsyms (which, without `CONFIG_KALLSYMS_ALL`, has no data
    /// symbols: see [`crate::recover`]).
    pub fn addresses_from_dump(&self) -> bool {
        matches!(self.addresses, Addresses::Kallsyms(_))
    }

    /// Whether its addresses are a running kernel's `/proc/kallsyms` (the same kallsyms, printed).
    pub fn addresses_from_proc(&self) -> bool {
        matches!(self.addresses, Addresses::Proc(_))
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

    fn symbol_extent(&self, name: &str) -> Option<u64> {
        match &self.addresses {
            Addresses::Kallsyms(k) => k.extent(name),
            Addresses::Proc(k) => k.extent(name),
            // `.symtab` sizes answer through `symbol_size` instead.
            Addresses::Vmlinux { .. } => None,
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
}

/// Index keys of how a build's kallsyms and BTF were found, and of the bytes that identify them.
pub(crate) const KEY_KALLSYMS: &str = "dump kallsyms";
pub(crate) const KEY_BTF: &str = "dump btf";
pub(crate) const KEY_MARKS: &str = "dump marks";
/// Bytes of the BTF header compared (magic, version, flags, hdr_len, type_off/len, str_off/len).
const BTF_HEADER_LEN: usize = 24;

/// The dump's BTF and kallsyms as a [`SymbolSource`] that reads them only when a question needs them: used
/// when the build's answer index holds the answers and the dump shows the same kallsyms and BTF header as
/// the build it was made from. A question the index does not hold builds the whole [`BtfSource`] then.
pub struct LazyDumpBtf<'d> {
    dump: &'d Vmcore,
    how: String,
    built: std::sync::OnceLock<Option<BtfSource>>,
}

impl<'d> LazyDumpBtf<'d> {
    pub(crate) fn new(dump: &'d Vmcore, how: String) -> LazyDumpBtf<'d> {
        LazyDumpBtf {
            dump,
            how,
            built: std::sync::OnceLock::new(),
        }
    }

    /// How the dump's kallsyms and BTF were found.
    pub fn how(&self) -> &str {
        &self.how
    }

    fn source(&self) -> Option<&BtfSource> {
        self.built
            .get_or_init(|| BtfSource::from_dump(self.dump).ok())
            .as_ref()
    }
}

impl SymbolSource for LazyDumpBtf<'_> {
    fn kind(&self) -> &'static str {
        "btf"
    }

    fn origin(&self) -> String {
        "dump".into()
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        self.source()?.symbol(name)
    }

    fn symbol_extent(&self, name: &str) -> Option<u64> {
        self.source()?.symbol_extent(name)
    }

    fn symbol_at(&self, addr: u64) -> Option<analyzers::target::SymbolAt> {
        self.source()?.symbol_at(addr)
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        self.source()?.size_of(ty)
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        self.source()?.member(ty, path)
    }

    fn enumerator(&self, name: &str) -> Option<i64> {
        self.source()?.enumerator(name)
    }
}
