//! [`CrashTarget`]: the analyzers' [`Target`] answered by crash itself.
//!
//! | Target method | crash API |
//! |---|---|
//! | `read` | `readmem(addr, KVADDR, .., RETURN_ON_ERROR\|QUIET)`, after [`KvtopGuard`] checked the page tables |
//! | `symbol` | `symbol_search(name)->value` (kernel, then module symbols; KASLR applied by crash) |
//! | `symbol_at` | `value_search(addr)` (name and start; no size: the resolver bounds it by `_text`..`_end`) |
//! | `size_of`, `member` | gdb expressions through `gdb_pass_through(.., GNU_RETURN_ON_ERROR)`, output captured in a private temporary file; bit fields from `ptype /o` (see [`crate::gdb_text`]) |
//! | `enumerator` | `enumerator_value(name, &value)` |
//! | `vmcoreinfo` | `pc->read_vmcoreinfo(key)` (see [`crate::vmcoreinfo`]) |
//!
//! crash is single-threaded and its error handling longjmps; every call is made on the thread that
//! runs the command (checked), and gdb is only asked while crash's output is open.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::thread::{self, ThreadId};

use analyzers::{Member, ReadError, Target, TypeRef};

use crate::ffi;
use crate::gdb_text as g;
use crate::kvtop_guard::KvtopGuard;
use crate::vmcoreinfo::VmcoreinfoReader;

/// Set to any value to have every question and crash's answer printed to stderr (not to crash's output).
pub const TRACE_ENV: &str = "VMTAINT_CRASH_TRACE";

/// Largest gdb answer we read back (a `ptype /o` of `struct module` is about 60 KB).
const MAX_GDB_OUTPUT: usize = 4 << 20;

/// A temporary file gdb writes its answers to. It lives as long as crash (never closed), so gdb's
/// output stream never dangles after a query.
struct GdbCapture(*mut libc::FILE);

// SAFETY: the FILE* is only used by CrashTarget on the thread running the command (checked by
// CrashTarget::on_owner_thread before every use).
unsafe impl Send for GdbCapture {}
unsafe impl Sync for GdbCapture {}

fn capture() -> Option<&'static GdbCapture> {
    static CAPTURE: OnceLock<Option<GdbCapture>> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            // SAFETY: tmpfile returns a new FILE* or NULL.
            let f = unsafe { libc::tmpfile() };
            (!f.is_null()).then_some(GdbCapture(f))
        })
        .as_ref()
}

impl GdbCapture {
    /// Run a gdb command; its output when gdb succeeded.
    fn run(&self, cmd: &str) -> Option<String> {
        let f = self.0;
        // SAFETY: f is our own open FILE*; we empty it before the command and read it back after.
        unsafe {
            libc::fflush(f);
            if libc::ftruncate(libc::fileno(f), 0) != 0 {
                return None;
            }
            libc::rewind(f);
        }
        if !ffi::gdb_command(cmd, f) {
            return None;
        }
        let mut out = Vec::new();
        // SAFETY: as above; reads at most MAX_GDB_OUTPUT bytes into a buffer of that capacity.
        unsafe {
            libc::fflush(f);
            libc::rewind(f);
            let mut chunk = [0u8; 8192];
            loop {
                let n = libc::fread(chunk.as_mut_ptr().cast(), 1, chunk.len(), f);
                if n == 0 || out.len() + n > MAX_GDB_OUTPUT {
                    break;
                }
                out.extend_from_slice(&chunk[..n]);
            }
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Type answers for the whole crash session. crash opens one kernel per session and gdb's answers
/// about its types do not change, while each question costs gdb a symbol lookup (tens of ms on the 6.1
/// debug vmlinux): the second and later `taint` commands reuse them. Answers obtained while gdb could
/// not be asked (closed output) are never stored.
#[derive(Default)]
struct TypeCache {
    members: HashMap<(String, String), Option<Member>>,
    sizes: HashMap<String, Option<u64>>,
    /// `ptype /o` output by command.
    layouts: HashMap<String, Option<String>>,
    enumerators: HashMap<String, Option<i64>>,
}

fn type_cache() -> std::sync::MutexGuard<'static, TypeCache> {
    static CACHE: OnceLock<Mutex<TypeCache>> = OnceLock::new();
    CACHE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The kernel crash has open, as a [`Target`]. Create it in the command function, use it there.
///
/// ```ignore
/// // inside a crash command function:
/// let t = CrashTarget::new();
/// let report = analyzers::report::analyze(&t);
/// ```
pub struct CrashTarget {
    owner: ThreadId,
    trace: bool,
    gdb: Option<&'static GdbCapture>,
    vmcoreinfo: Result<VmcoreinfoReader, String>,
    kvtop: Result<KvtopGuard, String>,
    /// Questions not asked because crash's output was closed (gdb would have longjmped).
    skipped: Mutex<u32>,
}

impl Default for CrashTarget {
    fn default() -> Self {
        Self::new()
    }
}

impl CrashTarget {
    /// Bind to crash on the current thread (the one running the command).
    pub fn new() -> Self {
        let vmcoreinfo = VmcoreinfoReader::locate();
        Self {
            owner: thread::current().id(),
            trace: std::env::var_os(TRACE_ENV).is_some(),
            gdb: capture(),
            kvtop: KvtopGuard::new(vmcoreinfo.as_ref().ok()),
            vmcoreinfo,
            skipped: Mutex::new(0),
        }
    }

    /// Why VMCOREINFO is unavailable through crash, if it is.
    pub fn vmcoreinfo_unavailable(&self) -> Option<&str> {
        self.vmcoreinfo.as_ref().err().map(String::as_str)
    }

    /// Why reads are not guarded against crash's faulting page-table walk, if they are not.
    pub fn kvtop_unguarded(&self) -> Option<&str> {
        self.kvtop.as_ref().err().map(String::as_str)
    }

    /// How many gdb questions were skipped because crash's output had been closed.
    pub fn skipped_queries(&self) -> u32 {
        *self.skipped.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn traced<T: std::fmt::Debug>(&self, question: std::fmt::Arguments<'_>, answer: T) -> T {
        if self.trace {
            eprintln!("vmtaint-crash: {question} -> {answer:?}");
        }
        answer
    }

    /// Compute an answer and store it in the session cache, unless gdb was skipped meanwhile.
    fn remember<K: std::hash::Hash + Eq + Clone, V: Clone>(
        &self,
        key: &K,
        map: impl Fn(&mut TypeCache) -> &mut HashMap<K, V>,
        compute: impl FnOnce() -> V,
    ) -> V {
        let skipped = self.skipped_queries();
        let v = compute();
        if self.skipped_queries() == skipped {
            map(&mut type_cache()).insert(key.clone(), v.clone());
        }
        v
    }

    fn on_owner_thread(&self) -> bool {
        thread::current().id() == self.owner
    }

    fn gdb(&self, cmd: &str) -> Option<String> {
        if !self.on_owner_thread() {
            return None;
        }
        if !ffi::output_is_open() {
            *self.skipped.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            return None;
        }
        self.gdb?.run(cmd)
    }

    fn numbers(&self, cmd: &str) -> Option<Vec<u64>> {
        g::parse_numbers(&self.gdb(cmd)?)
    }

    /// The bit field `name` directly inside the member `parent` (empty: the type itself) of `ty`.
    fn bitfield(&self, ty: TypeRef<'_>, parent: &str, name: &str) -> Option<g::BitField> {
        let cmd = g::ptype_offsets_command(ty, parent);
        let cached = type_cache().layouts.get(&cmd).cloned();
        let text = match cached {
            Some(t) => t,
            None => self.remember(&cmd, |c| &mut c.layouts, || self.gdb(&cmd)),
        }?;
        g::find_bitfield(&text, name)
    }

    fn lookup_member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        let nums = self.numbers(&g::offset_size_command(ty, path))?;
        let [offset, size] = nums[..] else {
            return None;
        };
        let declared = self
            .gdb(&g::whatis_command(ty, path))
            .and_then(|w| g::whatis_type(&w).map(str::to_string))?;
        let mut member = Member {
            offset,
            size,
            array_len: g::array_len_of(&declared),
            bits: None,
        };
        if g::may_be_bitfield(&declared) {
            let (parent, name) = path.rsplit_once('.').unwrap_or(("", path));
            let parent_offset = if parent.is_empty() {
                0
            } else {
                self.lookup_member(ty, parent)?.offset
            };
            if let Some(b) = self.bitfield(ty, parent, name) {
                member.offset = parent_offset + b.byte;
                member.size = b.type_size;
                member.bits = Some((b.bit, b.width));
            }
        }
        Some(member)
    }

    /// crash's live-system VMCOREINFO reader (kernel.c) reads `vmcoreinfo_data`/`vmcoreinfo_size` with
    /// `get_symbol_data()`, which faults (longjmps) when the read fails. Make sure those reads succeed
    /// before any reader may run; the dump readers (netdump.c, diskdump.c) need no such check.
    fn vmcoreinfo_reader_cannot_fault(&self) -> bool {
        ["vmcoreinfo_data", "vmcoreinfo_size"].iter().all(|s| {
            match ffi::symbol_value(s) {
                // Without both symbols crash never installs its live reader.
                None => true,
                Some(addr) => ffi::read_kvaddr(addr, &mut [0u8; 8]),
            }
        })
    }
}

impl Target for CrashTarget {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if !self.on_owner_thread() {
            return Err(ReadError::Host {
                addr,
                host: "crash",
                detail: "crash can only be read from its own thread",
            });
        }
        if let Ok(guard) = &self.kvtop {
            if !guard.can_read(addr, buf.len()) {
                return Err(ReadError::Host {
                    addr,
                    host: "crash",
                    detail: "a page table for this address is missing from the dump",
                });
            }
        }
        let ok = ffi::read_kvaddr(addr, buf);
        if self.trace && !ok {
            eprintln!("vmtaint-crash: read({addr:#x}, {}) -> failed", buf.len());
        }
        if ok {
            Ok(())
        } else {
            Err(ReadError::Host {
                addr,
                host: "crash",
                detail: "readmem failed (unmapped, excluded from the dump, or unreadable)",
            })
        }
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        if !self.on_owner_thread() {
            return None;
        }
        self.traced(format_args!("symbol({name})"), ffi::symbol_value(name))
    }

    fn symbol_at(&self, addr: u64) -> Option<analyzers::target::SymbolAt> {
        if !self.on_owner_thread() {
            return None;
        }
        let (name, address) = ffi::symbol_at(addr)?;
        // crash's syment has no size: the resolver bounds it by the kernel's text range.
        Some(analyzers::target::SymbolAt {
            name,
            address,
            size: None,
        })
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        if !g::is_valid_type(ty) {
            return None;
        }
        let key = ty.to_string();
        let cached = type_cache().sizes.get(&key).copied();
        if let Some(v) = cached {
            return v;
        }
        let v = self.remember(
            &key,
            |c| &mut c.sizes,
            || {
                self.numbers(&g::size_command(ty))
                    .and_then(|n| n.first().copied())
            },
        );
        self.traced(format_args!("size_of({ty})"), v)
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        if !g::is_valid_type(ty) || !g::is_member_path(path) {
            return None;
        }
        let key = (ty.to_string(), path.to_string());
        let cached = type_cache().members.get(&key).copied();
        if let Some(v) = cached {
            return v;
        }
        let v = self.remember(&key, |c| &mut c.members, || self.lookup_member(ty, path));
        self.traced(format_args!("member({ty}, {path})"), v)
    }

    fn enumerator(&self, name: &str) -> Option<i64> {
        if !g::is_ident(name) || !self.on_owner_thread() {
            return None;
        }
        if !ffi::output_is_open() {
            *self.skipped.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            return None;
        }
        let key = name.to_string();
        let cached = type_cache().enumerators.get(&key).copied();
        if let Some(v) = cached {
            return v;
        }
        let v = self.remember(&key, |c| &mut c.enumerators, || ffi::enumerator(name));
        self.traced(format_args!("enumerator({name})"), v)
    }

    fn vmcoreinfo(&self, key: &str) -> Option<String> {
        if !g::is_valid_vmcoreinfo_key(key) || !self.on_owner_thread() {
            return None;
        }
        let reader = self.vmcoreinfo.as_ref().ok()?;
        // The live reader asks gdb for the symbol type: same closed-output rule as other gdb queries.
        if !ffi::output_is_open() || !self.vmcoreinfo_reader_cannot_fault() {
            return None;
        }
        self.traced(format_args!("vmcoreinfo({key})"), reader.get(key))
    }
}
