//! Choosing where symbols and types come from, in order of preference, and saying which was used:
//! 1. `dwarf`: DWARF from a debug vmlinux (`--vmlinux`, `--debuginfo-dir`, `VMTAINT_DEBUGINFO_PATH`, the
//!    distro places); skipped by `--no-debuginfo`;
//! 2. `btf-vmlinux`: the `.BTF` section of that vmlinux when it has no DWARF (a stripped vmlinux), or of an
//!    explicit `--vmlinux` under `--no-debuginfo`, with its `.symtab` for addresses;
//! 3. `btf-sysfs` (a running kernel only): its own BTF (`/sys/kernel/btf/vmlinux`) with `/proc/kallsyms`;
//!    then `btf-dump`: the BTF blob and the kallsyms table inside the dump (placed by VMCOREINFO on 6.0+
//!    kernels, found by scanning the kernel image on older ones; the outcome says which);
//! 4. `vmcoreinfo`: the kernel log alone (the dump's VMCOREINFO).
//!
//! Every step tried is recorded for the report; a corrupt BTF blob or kallsyms table fails its rung only.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use analyzers::target::{Member, TypeRef};
use symbols::Vmlinux;
use vmcore::Vmcore;

use crate::btf_source::{
    dump_marks, BtfFound, BtfSource, KallsymsFound, LazyDumpBtf, KEY_BTF, KEY_KALLSYMS, KEY_MARKS,
};
use crate::index::{AnswerIndex, Identity};
use crate::live::LiveHost;
use crate::target::SymbolSource;

/// DWARF and ELF symbols of a debug vmlinux, with the dump's KASLR slide applied to addresses.
pub struct DwarfSource {
    pub vmlinux: Arc<Vmlinux>,
    pub slide: u64,
}

/// The analyzers' view of a member of the [`symbols::types`] model.
pub(crate) fn member_of(m: &symbols::Member) -> Member {
    Member {
        offset: m.offset,
        size: m.size,
        array_len: m.ty.as_array().and_then(|(_, n)| n),
        bits: m
            .bits
            .as_ref()
            .map(|b| (b.first_bit as u32, b.bit_size as u32)),
    }
}

/// Types best found through a variable of that type: DWARF has no index of type names, and looking up the
/// variable first (through the symbol table's unit hint) puts the type's compile unit at hand instead of a
/// search of every unit. The source keeps this knowledge so that analyzers ask only what they mean.
const UNIT_HINTS: &[(&str, &str)] = &[
    ("taint_flag", "taint_flags"),
    ("printk_info", "prb"),
    ("printk_ringbuffer", "prb"),
    ("prb_desc_ring", "prb"),
    ("prb_desc", "prb"),
    ("prb_data_ring", "prb"),
    ("printk_log", "log_buf"),
    // security/keys/keyring.c defines `key_type_keyring` and includes lib/assoc_array's private header.
    ("key_type", "key_type_keyring"),
    ("key", "key_type_keyring"),
    ("assoc_array", "key_type_keyring"),
    ("assoc_array_node", "key_type_keyring"),
    ("assoc_array_shortcut", "key_type_keyring"),
];

impl DwarfSource {
    fn layout(&self, name: &str) -> Option<Arc<symbols::Layout>> {
        if let Some((_, var)) = UNIT_HINTS.iter().find(|(ty, _)| *ty == name) {
            // Resolved once and cached by the vmlinux: later calls are lookups.
            let _ = self.vmlinux.variable_type(var);
        }
        self.vmlinux.layout(name).ok()
    }
}

impl SymbolSource for DwarfSource {
    fn kind(&self) -> &'static str {
        "dwarf"
    }

    fn origin(&self) -> String {
        self.vmlinux.path().display().to_string()
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        self.vmlinux
            .symbol(name)
            .ok()
            .map(|s| s.address.wrapping_add(self.slide))
    }

    fn symbol_at(&self, addr: u64) -> Option<analyzers::target::SymbolAt> {
        let s = self
            .vmlinux
            .symbol_containing(addr.wrapping_sub(self.slide))
            .ok()??;
        Some(analyzers::target::SymbolAt {
            name: s.name,
            address: s.address.wrapping_add(self.slide),
            size: (s.size > 0).then_some(s.size),
        })
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        match ty {
            TypeRef::Struct(n) | TypeRef::Union(n) => self.layout(n).map(|l| l.size),
            TypeRef::TypeOf(v) => self.vmlinux.variable_type(v).ok()?.size(),
        }
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        match ty {
            TypeRef::Struct(n) | TypeRef::Union(n) => {
                self.layout(n)?.member(path).ok().map(|m| member_of(&m))
            }
            TypeRef::TypeOf(v) => {
                let t = self.vmlinux.variable_type(v).ok()?;
                t.as_layout()?.member(path).ok().map(|m| member_of(&m))
            }
        }
    }

    fn enumerator(&self, name: &str) -> Option<i64> {
        self.vmlinux.enumerator(name).ok()
    }
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct DebuginfoOptions {
    pub vmlinux: Option<PathBuf>,
    pub dirs: Vec<PathBuf>,
    pub ignore_build_id: bool,
    pub no_debuginfo: bool,
}

pub use analyzers::document::{Attempt, SourceReport};

/// An error that stops the report (exit status 2): the user named a vmlinux that does not fit the dump.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Debug vmlinux files shared by every dump of a scan: one open [`Vmlinux`] per file (its symbol index and
/// the layouts it has resolved are then reused by every dump of that build), and one discovery per
/// (release, build-id).
///
/// It also holds the answer indexes ([`crate::index`]) of the builds it has seen, loaded once per build.
#[derive(Default)]
pub struct VmlinuxCache {
    opened: Mutex<HashMap<PathBuf, Arc<Vmlinux>>>,
    discovered: Mutex<HashMap<DiscoveryKey, Result<PathBuf, String>>>,
    /// `None`: not decided yet (the environment decides, see [`crate::index::default_dir`]);
    /// `Some(None)`: no index.
    index_dir: std::sync::OnceLock<Option<PathBuf>>,
    indexes: Mutex<HashMap<PathBuf, Arc<AnswerIndex>>>,
}

/// (release, build-id) of a dump.
type DiscoveryKey = (Option<String>, Option<String>);

impl VmlinuxCache {
    /// A cache whose answer indexes live in `dir` (`None`: none kept), whatever the environment says.
    ///
    /// ```
    /// let cache = engine::VmlinuxCache::with_index_dir(None); // no persistent index
    /// # drop(cache);
    /// ```
    pub fn with_index_dir(dir: Option<PathBuf>) -> VmlinuxCache {
        let cache = VmlinuxCache::default();
        let _ = cache.index_dir.set(dir);
        cache
    }

    /// The `btf-dump` answer index of the build `dump` comes from (its VMCOREINFO `BUILD-ID`), for a dump
    /// whose VMCOREINFO gives `KERNELOFFSET` and `_stext`; `None` otherwise or when indexes are disabled.
    pub(crate) fn dump_index(&self, dump: &Vmcore) -> Option<Arc<AnswerIndex>> {
        let dir = self
            .index_dir
            .get_or_init(crate::index::default_dir)
            .as_ref()?;
        let vi = dump.vmcoreinfo()?;
        dump_slide_floor(dump)?;
        let identity = Identity::of_build(
            "btf-dump",
            vi.build_id.as_deref()?,
            vi.osrelease.as_deref().unwrap_or(""),
        )?;
        let key = PathBuf::from(format!("btf-dump {}", identity.build_id));
        let mut indexes = self.indexes.lock().expect("cache lock");
        if let Some(i) = indexes.get(&key) {
            return Some(i.clone());
        }
        let index = Arc::new(AnswerIndex::load(dir, identity));
        indexes.insert(key, index.clone());
        Some(index)
    }

    /// The answer index of `vmlinux` read as a `kind` source, loaded from disk once per process; `None`
    /// when indexes are disabled or the file has no build-id.
    pub(crate) fn index_for(
        &self,
        kind: &'static str,
        vmlinux: &Vmlinux,
    ) -> Option<Arc<AnswerIndex>> {
        let dir = self
            .index_dir
            .get_or_init(crate::index::default_dir)
            .as_ref()?;
        let build_id = vmlinux.build_id()?.to_hex();
        let identity = Identity::of_file(kind, &build_id, vmlinux.path())?;
        let mut indexes = self.indexes.lock().expect("cache lock");
        let key = vmlinux.path().join(kind);
        if let Some(i) = indexes.get(&key) {
            return Some(i.clone());
        }
        let index = Arc::new(AnswerIndex::load(dir, identity));
        indexes.insert(key, index.clone());
        Some(index)
    }

    fn open(&self, path: &std::path::Path) -> Result<Arc<Vmlinux>, symbols::Error> {
        if let Some(v) = self.opened.lock().expect("cache lock").get(path) {
            return Ok(v.clone());
        }
        // Opening reads only headers; two threads racing here both open, and one copy is kept.
        let v = Arc::new(Vmlinux::open(path)?);
        let mut opened = self.opened.lock().expect("cache lock");
        Ok(opened.entry(path.to_path_buf()).or_insert(v).clone())
    }

    fn discover(
        &self,
        opts: &DebuginfoOptions,
        release: Option<&str>,
        build_id: Option<&str>,
    ) -> Result<PathBuf, String> {
        let key = (release.map(str::to_string), build_id.map(str::to_string));
        if let Some(r) = self.discovered.lock().expect("cache lock").get(&key) {
            return r.clone();
        }
        let id = build_id.and_then(|h| symbols::BuildId::from_hex(h).ok());
        let r = symbols::Discovery::new()
            .dirs(opts.dirs.iter().cloned())
            .from_env()
            .find(release, id.as_ref())
            .map(|d| d.path)
            .map_err(|e| e.to_string());
        self.discovered
            .lock()
            .expect("cache lock")
            .insert(key, r.clone());
        r
    }
}

/// Open and check the DWARF source for `dump`, or say why not.
pub fn dwarf_for(
    dump: &Vmcore,
    opts: &DebuginfoOptions,
    tried: &mut Vec<Attempt>,
) -> Result<Option<(DwarfSource, String)>, Refused> {
    dwarf_for_cached(dump, opts, &VmlinuxCache::default(), tried)
}

/// [`dwarf_for`] with files shared through `cache`.
pub fn dwarf_for_cached(
    dump: &Vmcore,
    opts: &DebuginfoOptions,
    cache: &VmlinuxCache,
    tried: &mut Vec<Attempt>,
) -> Result<Option<(DwarfSource, String)>, Refused> {
    Ok(match dwarf_rung(dump, opts, cache, None, tried)? {
        DwarfRung::Used(d, how) => Some((d, how)),
        DwarfRung::NoDwarf(..) | DwarfRung::Failed => None,
    })
}

/// What the DWARF rung found.
enum DwarfRung {
    Used(DwarfSource, String),
    /// A vmlinux that fits the dump but has no DWARF: the BTF rung may use it.
    NoDwarf(Arc<Vmlinux>, u64, String),
    Failed,
}

fn dwarf_rung(
    dump: &Vmcore,
    opts: &DebuginfoOptions,
    cache: &VmlinuxCache,
    host: Option<&LiveHost>,
    tried: &mut Vec<Attempt>,
) -> Result<DwarfRung, Refused> {
    if opts.no_debuginfo {
        tried.push(Attempt {
            source: "dwarf".into(),
            address: None,
            outcome: "skipped (--no-debuginfo)".into(),
        });
        return Ok(DwarfRung::Failed);
    }
    let Some((vmlinux, slide, matched_by)) = vmlinux_for(dump, opts, cache, host, "dwarf", tried)?
    else {
        return Ok(DwarfRung::Failed);
    };
    if !vmlinux.has_dwarf() {
        tried.push(Attempt {
            source: "dwarf".into(),
            address: None,
            outcome: format!(
                "{}: no DWARF debug info (.debug_info missing or empty)",
                vmlinux.path().display()
            ),
        });
        return Ok(DwarfRung::NoDwarf(vmlinux, slide, matched_by));
    }
    tried.push(Attempt {
        source: "dwarf".into(),
        address: None,
        outcome: format!(
            "used {} (matched by {matched_by})",
            vmlinux.path().display()
        ),
    });
    Ok(DwarfRung::Used(DwarfSource { vmlinux, slide }, matched_by))
}

/// The vmlinux for `dump` (explicit or discovered), opened and matched by build-id or banner; failures are
/// recorded under `rung`, except that an explicit `--vmlinux` that does not fit is refused.
fn vmlinux_for(
    dump: &Vmcore,
    opts: &DebuginfoOptions,
    cache: &VmlinuxCache,
    host: Option<&LiveHost>,
    rung: &'static str,
    tried: &mut Vec<Attempt>,
) -> Result<Option<(Arc<Vmlinux>, u64, String)>, Refused> {
    let vi = dump.vmcoreinfo();
    let release = vi
        .and_then(|v| v.osrelease.clone())
        .or_else(|| host.and_then(LiveHost::release));
    // A running kernel names its build-id in /sys/kernel/notes even where VMCOREINFO lacks BUILD-ID.
    let dump_id = vi
        .and_then(|v| v.build_id.clone())
        .or_else(|| host.and_then(LiveHost::build_id));
    let slide = vi.and_then(|v| v.kernel_offset).unwrap_or(0);
    let (path, explicit) = match &opts.vmlinux {
        Some(p) => (p.clone(), true),
        None => match cache.discover(opts, release.as_deref(), dump_id.as_deref()) {
            Ok(p) => (p, false),
            Err(e) => {
                tried.push(Attempt {
                    source: rung.into(),
                    address: None,
                    outcome: e,
                });
                return Ok(None);
            }
        },
    };
    let vmlinux = match cache.open(&path) {
        Ok(v) => v,
        Err(e) if explicit => return Err(Refused(e.to_string())),
        Err(e) => {
            tried.push(Attempt {
                source: rung.into(),
                address: None,
                outcome: e.to_string(),
            });
            return Ok(None);
        }
    };
    let matched_by = match (&dump_id, opts.ignore_build_id) {
        (_, true) => "ignored (--ignore-build-id)".to_string(),
        (Some(id), false) => match vmlinux.check_build_id(id) {
            Ok(()) => "build-id".into(),
            Err(e) if explicit => {
                return Err(Refused(format!(
                    "{e} (use --ignore-build-id to read it anyway)"
                )))
            }
            Err(e) => {
                tried.push(Attempt {
                    source: rung.into(),
                    address: None,
                    outcome: e.to_string(),
                });
                return Ok(None);
            }
        },
        // No BUILD-ID in the dump: compare the banner the kernel built with the one in memory.
        (None, false) => match banner_matches(dump, &vmlinux, slide) {
            Ok(()) => "release+banner".into(),
            Err(why) if explicit => {
                return Err(Refused(format!(
                    "{}: {why} (use --ignore-build-id to read it anyway)",
                    path.display()
                )))
            }
            Err(why) => {
                tried.push(Attempt {
                    source: rung.into(),
                    address: None,
                    outcome: format!("{}: {why}", path.display()),
                });
                return Ok(None);
            }
        },
    };
    Ok(Some((vmlinux, slide, matched_by)))
}

/// The symbol source a report uses, chosen down the ladder (see the module documentation).
pub enum Chosen<'d> {
    /// The dump's BTF and kallsyms, read only for questions its build's answer index does not hold.
    BtfDumpIndexed(Box<LazyDumpBtf<'d>>),
    /// DWARF, and how the vmlinux was matched.
    Dwarf(DwarfSource, String),
    /// BTF (from a vmlinux or the dump), and how a vmlinux was matched (`None` for the dump).
    Btf(Box<BtfSource>, Option<String>),
    /// Nothing better than the kernel log alone.
    VmcoreInfoOnly,
}

/// Walk the ladder for `dump`, recording each rung in `tried`.
pub fn choose_source<'d>(
    dump: &'d Vmcore,
    opts: &DebuginfoOptions,
    cache: &VmlinuxCache,
    tried: &mut Vec<Attempt>,
) -> Result<Chosen<'d>, Refused> {
    choose_source_for(dump, opts, cache, None, tried)
}

/// [`choose_source`] for `dump`, which is the running kernel of `host` (`/proc/kcore`) when given: its
/// build-id also comes from `/sys/kernel/notes`, and its own BTF with `/proc/kallsyms` is a rung.
pub fn choose_source_for<'d>(
    dump: &'d Vmcore,
    opts: &DebuginfoOptions,
    cache: &VmlinuxCache,
    host: Option<&LiveHost>,
    tried: &mut Vec<Attempt>,
) -> Result<Chosen<'d>, Refused> {
    let candidate = match dwarf_rung(dump, opts, cache, host, tried)? {
        DwarfRung::Used(d, how) => return Ok(Chosen::Dwarf(d, how)),
        DwarfRung::NoDwarf(v, slide, how) => Some((v, slide, how)),
        DwarfRung::Failed if opts.no_debuginfo && opts.vmlinux.is_some() => {
            vmlinux_for(dump, opts, cache, host, "btf-vmlinux", tried)?
        }
        DwarfRung::Failed => None,
    };
    match candidate {
        Some((vmlinux, slide, how)) => {
            let path = vmlinux.path().display().to_string();
            match BtfSource::from_vmlinux(vmlinux, slide, dump) {
                Ok(src) => {
                    tried.push(Attempt {
                        source: "btf-vmlinux".into(),
                        address: None,
                        outcome: format!("used {path} .BTF (matched by {how})"),
                    });
                    return Ok(Chosen::Btf(Box::new(src), Some(how)));
                }
                Err(e) => tried.push(Attempt {
                    source: "btf-vmlinux".into(),
                    address: None,
                    outcome: e,
                }),
            }
        }
        None => tried.push(Attempt {
            source: "btf-vmlinux".into(),
            address: None,
            outcome: "not tried (no vmlinux without DWARF; an explicit --vmlinux with \
                      --no-debuginfo is read for its .BTF)"
                .into(),
        }),
    }
    if let Some(host) = host {
        match host.btf_source() {
            Ok(src) => {
                tried.push(Attempt {
                    source: "btf-sysfs".into(),
                    address: None,
                    outcome: format!("used {}", src.origin()),
                });
                return Ok(Chosen::Btf(Box::new(src), None));
            }
            Err(e) => tried.push(Attempt {
                source: "btf-sysfs".into(),
                address: None,
                outcome: e,
            }),
        }
    }
    let index = host.is_none().then(|| cache.dump_index(dump)).flatten();
    if let Some(lazy) = index.as_ref().and_then(|i| lazy_from_index(dump, i)) {
        tried.push(Attempt {
            source: "btf-dump".into(),
            address: None,
            outcome: format!("used the dump's BTF and kallsyms ({})", lazy.how()),
        });
        return Ok(Chosen::BtfDumpIndexed(Box::new(lazy)));
    }
    match BtfSource::from_dump(dump) {
        Ok(src) => {
            if let Some(index) = &index {
                remember_marks(dump, &src, index);
            }
            tried.push(Attempt {
                source: "btf-dump".into(),
                address: None,
                outcome: format!("used the dump's BTF and kallsyms ({})", src.how()),
            });
            Ok(Chosen::Btf(Box::new(src), None))
        }
        Err(e) => {
            tried.push(Attempt {
                source: "btf-dump".into(),
                address: None,
                outcome: e,
            });
            Ok(Chosen::VmcoreInfoOnly)
        }
    }
}

/// The dump's slide and the lowest address an answer index may record for it (`_stext`: kallsyms' per-CPU
/// symbols do not move with KASLR), when the dump says both.
pub(crate) fn dump_slide_floor(dump: &Vmcore) -> Option<(u64, u64)> {
    let vi = dump.vmcoreinfo()?;
    Some((vi.kernel_offset?, vi.stext?))
}

/// A lazy source over the dump's BTF and kallsyms when `index` says how its build's were found and this dump
/// shows the same bytes there (a few bytes of the kallsyms tables and the BTF header).
fn lazy_from_index<'d>(dump: &'d Vmcore, index: &AnswerIndex) -> Option<LazyDumpBtf<'d>> {
    let (slide, _) = dump_slide_floor(dump)?;
    let k = KallsymsFound::parse(&index.get(KEY_KALLSYMS)?)?.moved(slide);
    let b = BtfFound::parse(&index.get(KEY_BTF)?)?.moved(slide);
    if dump_marks(dump, &k, &b)? != index.get(KEY_MARKS)? {
        return None;
    }
    Some(LazyDumpBtf::new(
        dump,
        format!("{}; {}", k.how(true), b.how(true)),
    ))
}

/// Record in `index` how `src` found the dump's kallsyms and BTF and the bytes that identify them.
fn remember_marks(dump: &Vmcore, src: &BtfSource, index: &AnswerIndex) {
    let (Some((slide, _)), Some((k, b))) = (dump_slide_floor(dump), src.found()) else {
        return;
    };
    if let Some(marks) = dump_marks(dump, k, b) {
        let back = slide.wrapping_neg();
        index.put(KEY_KALLSYMS.into(), k.moved(back).record());
        index.put(KEY_BTF.into(), b.moved(back).record());
        index.put(KEY_MARKS.into(), marks);
    }
}

/// `linux_banner` in the vmlinux file equals the one in the dump's memory.
fn banner_matches(dump: &Vmcore, vmlinux: &Vmlinux, slide: u64) -> Result<(), String> {
    let file = vmlinux.linux_banner().map_err(|e| e.to_string())?;
    let addr = vmlinux
        .symbol("linux_banner")
        .map_err(|e| e.to_string())?
        .address
        .wrapping_add(slide);
    let mut mem = vec![0u8; file.len()];
    dump.read_virt(addr, &mut mem)
        .map_err(|e| format!("linux_banner unreadable in the dump: {e}"))?;
    if mem == file {
        Ok(())
    } else {
        Err(format!(
            "linux_banner differs: vmlinux has {:?}, the dump {:?}",
            String::from_utf8_lossy(file).trim_end(),
            String::from_utf8_lossy(&mem).trim_end()
        ))
    }
}
