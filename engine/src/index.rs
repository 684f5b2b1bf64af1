//! A small persistent index of symbol and type answers per kernel build, so that a report against a vmlinux
//! seen before asks its DWARF (or `.BTF`) nothing.
//!
//! What is kept is what the analyzers asked and what the source answered, not a copy of the debug info:
//! symbol addresses (unrelocated), symbol extents, type sizes, members (offset, size, array length, bits),
//! enumerators, variable types' layouts (through `TypeOf` questions) and the symbols containing addresses.
//! "Not known" answers are kept too: a type the kernel does not have is the most expensive DWARF question.
//! A question the index does not hold goes to the real source, and the answer is added to the index.
//!
//! The file is `<dir>/<kind>-<build-id>.idx`, `dir` being `$VMTAINT_INDEX_DIR`, else
//! `$XDG_CACHE_HOME/vmtaint/index`, else `~/.cache/vmtaint/index`; `VMTAINT_INDEX=off` (or `0`) disables it.
//! It is written to a temporary file in the same directory and renamed into place (concurrent scans each
//! write a whole file; the last rename wins, and a writer first merges what the file on disk holds). On
//! reading, a file whose magic, format version, kind, build-id, source identity (size and modification time
//! of the vmlinux), producer (vmtaint's version and executable) or checksum differs, or that is truncated,
//! is ignored and rebuilt: never trusted.
//!
//! ```no_run
//! use engine::index::{AnswerIndex, Identity};
//! let id = Identity { kind: "dwarf", build_id: "1234abcd".into(), source: "590000000:1700000000".into() };
//! let index = AnswerIndex::load(std::path::Path::new("/tmp/idx"), id);
//! index.save_if_learned();
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

use analyzers::target::{Member, SymbolAt, TypeRef};

use crate::target::SymbolSource;

/// The first bytes of every index file.
const MAGIC: &[u8; 16] = b"VMTAINT-INDEX\0\0\x01";
/// Bumped whenever the file layout or the meaning of a key changes.
const FORMAT: u32 = 1;
/// Index files larger than this are not read (a real one holds a few hundred answers: a few KB).
const MAX_FILE: u64 = 16 << 20;
/// Longest key or value recorded.
const MAX_FIELD: usize = 4096;

/// Environment variable naming the index directory.
pub const INDEX_DIR_ENV: &str = "VMTAINT_INDEX_DIR";
/// Environment variable that disables the index when `off` or `0`.
pub const INDEX_ENV: &str = "VMTAINT_INDEX";

/// Where indexes live for this process: `None` when disabled (see the module documentation).
pub fn default_dir() -> Option<PathBuf> {
    if std::env::var_os(INDEX_ENV).is_some_and(|v| v == "off" || v == "0") {
        return None;
    }
    if let Some(d) = std::env::var_os(INDEX_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("vmtaint/index"))
}

/// What an index answers for: a symbol source kind of one kernel build, read from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The source kind (`dwarf`, `btf-vmlinux`).
    pub kind: &'static str,
    /// The build-id, lower-case hex.
    pub build_id: String,
    /// The source file's identity (size and modification time): a rebuilt file with the same build-id
    /// (as synthetic tests make) gets a fresh index.
    pub source: String,
}

impl Identity {
    /// The identity of `file` for a source of `kind` with `build_id`; `None` when the file cannot be
    /// examined or the build-id is not plain hex (it names the index file).
    pub fn of_file(kind: &'static str, build_id: &str, file: &Path) -> Option<Identity> {
        if build_id.is_empty()
            || build_id.len() > 256
            || !build_id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        let meta = std::fs::metadata(file).ok()?;
        let mtime = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(Identity {
            kind,
            build_id: build_id.to_ascii_lowercase(),
            source: format!("{}:{}", meta.len(), mtime.as_nanos()),
        })
    }

    /// The identity of a build known only by its `build_id` and `release` (the dump's own BTF and kallsyms).
    pub fn of_build(kind: &'static str, build_id: &str, release: &str) -> Option<Identity> {
        let build_id = build_id.trim();
        if build_id.is_empty()
            || build_id.len() > 256
            || !build_id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        Some(Identity {
            kind,
            build_id: build_id.to_ascii_lowercase(),
            source: format!("release {release}"),
        })
    }

    fn file_name(&self) -> String {
        format!("{}-{}.idx", self.kind, self.build_id)
    }
}

/// Who wrote an index: vmtaint's version and the identity of the running executable, so that another build
/// of vmtaint (whose answers may differ) rebuilds it.
fn producer() -> &'static str {
    static P: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let exe = std::env::current_exe()
            .and_then(std::fs::metadata)
            .ok()
            .map(|m| {
                let t = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}:{t}", m.len())
            })
            .unwrap_or_default();
        format!("vmtaint {} {exe}", env!("CARGO_PKG_VERSION"))
    })
}

/// Why an index file was not used (for `VMTAINT_TRACE` and the tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// No file yet.
    Missing,
    /// Not an index file (other magic).
    Foreign,
    /// Another format version of vmtaint's index.
    OtherFormat(u32),
    /// The file is for another build, source file, kind or vmtaint.
    Stale(&'static str),
    /// Truncated or corrupt (length, checksum, record bounds).
    Corrupt(&'static str),
}

/// The answers known for one [`Identity`], loaded from its file and added to as questions miss.
pub struct AnswerIndex {
    path: Option<PathBuf>,
    identity: Identity,
    answers: RwLock<HashMap<String, String>>,
    learned: AtomicBool,
    /// Why the file on disk was not used when loading (`None`: it was).
    pub rejected: Option<Rejected>,
    saving: Mutex<()>,
}

/// FNV-1a, 64-bit: detects damage (not an adversary, who could as well write a valid file).
fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn put_field(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_le_bytes());
    out.extend_from_slice(field);
}

/// A reader over the file bytes that fails on any overrun.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn field(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > MAX_FIELD {
            return None;
        }
        self.take(n)
    }
}

/// The file's bytes for `identity` and `answers`.
fn encode(identity: &Identity, answers: &HashMap<String, String>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + answers.len() * 48);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    put_field(&mut out, identity.kind.as_bytes());
    put_field(&mut out, identity.build_id.as_bytes());
    put_field(&mut out, identity.source.as_bytes());
    put_field(&mut out, producer().as_bytes());
    let mut keys: Vec<&String> = answers.keys().collect();
    keys.sort();
    out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    for k in keys {
        put_field(&mut out, k.as_bytes());
        put_field(&mut out, answers[k].as_bytes());
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The answers in `bytes` if it is a sound index for `identity`.
fn decode(bytes: &[u8], identity: &Identity) -> Result<HashMap<String, String>, Rejected> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(Rejected::Foreign);
    }
    let mut c = Cursor(&bytes[MAGIC.len()..]);
    let format = c.u32().ok_or(Rejected::Corrupt("truncated header"))?;
    if format != FORMAT {
        return Err(Rejected::OtherFormat(format));
    }
    if bytes.len() < MAGIC.len() + 4 + 8 {
        return Err(Rejected::Corrupt("truncated"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if checksum(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
        return Err(Rejected::Corrupt("checksum"));
    }
    let mut c = Cursor(&body[MAGIC.len() + 4..]);
    let mut text = |what| {
        c.field()
            .and_then(|f| std::str::from_utf8(f).ok())
            .map(str::to_string)
            .ok_or(Rejected::Corrupt(what))
    };
    if text("kind")? != identity.kind {
        return Err(Rejected::Stale("kind"));
    }
    if text("build-id")? != identity.build_id {
        return Err(Rejected::Stale("build-id"));
    }
    if text("source")? != identity.source {
        return Err(Rejected::Stale("source file"));
    }
    if text("producer")? != producer() {
        return Err(Rejected::Stale("producer"));
    }
    let n = c.u32().ok_or(Rejected::Corrupt("record count"))? as usize;
    // Each record takes at least 8 bytes: a count beyond that is a lie.
    if n > c.0.len() / 8 {
        return Err(Rejected::Corrupt("record count"));
    }
    let mut answers = HashMap::with_capacity(n);
    for _ in 0..n {
        let k = c.field().ok_or(Rejected::Corrupt("record"))?;
        let v = c.field().ok_or(Rejected::Corrupt("record"))?;
        let (Ok(k), Ok(v)) = (std::str::from_utf8(k), std::str::from_utf8(v)) else {
            return Err(Rejected::Corrupt("record text"));
        };
        answers.insert(k.to_string(), v.to_string());
    }
    if !c.0.is_empty() {
        return Err(Rejected::Corrupt("trailing bytes"));
    }
    Ok(answers)
}

fn read_file(path: &Path, identity: &Identity) -> Result<HashMap<String, String>, Rejected> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(_) => return Err(Rejected::Missing),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| Rejected::Corrupt("unreadable"))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Rejected::Corrupt("too large"));
    }
    decode(&bytes, identity)
}

impl AnswerIndex {
    /// The index of `identity` in `dir`: what its file holds if the file is sound, else empty (to be
    /// rebuilt as questions are answered; [`AnswerIndex::rejected`] says why).
    pub fn load(dir: &Path, identity: Identity) -> AnswerIndex {
        let path = dir.join(identity.file_name());
        let (answers, rejected) = match read_file(&path, &identity) {
            Ok(a) => (a, None),
            Err(r) => (HashMap::new(), Some(r)),
        };
        AnswerIndex {
            path: Some(path),
            identity,
            answers: RwLock::new(answers),
            learned: AtomicBool::new(false),
            rejected,
            saving: Mutex::new(()),
        }
    }

    /// The file this index is kept in.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// How many answers it holds.
    pub fn len(&self) -> usize {
        self.answers.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when it holds no answer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.answers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    pub(crate) fn put(&self, key: String, value: String) {
        if key.len() > MAX_FIELD || value.len() > MAX_FIELD {
            return;
        }
        let mut a = self.answers.write().unwrap_or_else(|p| p.into_inner());
        if a.insert(key, value).is_none() {
            self.learned.store(true, Ordering::Relaxed);
        }
    }

    /// Write the file if answers were added since it was loaded or last saved (merged with what the file on
    /// disk holds by then, if it is sound: another process may have learned other answers). Failures (a
    /// read-only cache, a full disk) only cost the next run its speed-up, and are ignored.
    pub fn save_if_learned(&self) {
        let Some(path) = &self.path else { return };
        let _one = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        if !self.learned.swap(false, Ordering::Relaxed) {
            return;
        }
        let mut answers = read_file(path, &self.identity).unwrap_or_default();
        answers.extend(
            self.answers
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let _ = write_atomically(path, &encode(&self.identity, &answers));
    }
}

/// Write `bytes` to a temporary file beside `path` and rename it over `path`: readers see the old file or
/// the new one, never a part.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".{}.{}.{}.{nanos}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("index"),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A symbol source answered from an [`AnswerIndex`] first, then from `inner` (whose answers are recorded).
/// Addresses are kept unrelocated: `slide` (the dump's KASLR offset) is taken off before recording and added
/// back when answering, so every dump of the build shares the answers.
///
/// Addresses below `floor` (run-time) are neither recorded nor looked up: a kallsyms table holds per-CPU
/// symbols that KASLR does not move, and only the kernel image (from `_stext` up) moves by the slide.
pub struct Indexed<'a> {
    pub inner: &'a dyn SymbolSource,
    pub index: &'a AnswerIndex,
    pub slide: u64,
    pub floor: u64,
}

fn opt_u64(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:x}"))
}

fn parse_opt_u64(s: &str) -> Option<Option<u64>> {
    if s == "-" {
        Some(None)
    } else {
        u64::from_str_radix(s, 16).ok().map(Some)
    }
}

impl Indexed<'_> {
    /// The recorded answer for `key`, else `ask` the inner source and record it. An answer that does not
    /// parse (the file was sound, but its content is not ours) is asked again.
    fn answer<T>(
        &self,
        key: String,
        parse: impl Fn(&str) -> Option<T>,
        show: impl Fn(&T) -> Option<String>,
        ask: impl FnOnce() -> T,
    ) -> T {
        if let Some(v) = self.index.get(&key).and_then(|v| parse(&v)) {
            return v;
        }
        let v = ask();
        if let Some(shown) = show(&v) {
            self.index.put(key, shown);
        }
        v
    }

    /// The unrelocated form of a run-time address, if it may be recorded (at or above `floor`).
    fn unslid(&self, addr: u64) -> Option<u64> {
        (addr >= self.floor).then(|| addr.wrapping_sub(self.slide))
    }

    fn ty_key(ty: TypeRef<'_>) -> String {
        match ty {
            TypeRef::Struct(n) => format!("struct {n}"),
            TypeRef::Union(n) => format!("union {n}"),
            TypeRef::TypeOf(n) => format!("typeof {n}"),
        }
    }
}

fn show_member(m: &Option<Member>) -> String {
    match m {
        None => "-".into(),
        Some(m) => format!(
            "{:x} {:x} {} {}",
            m.offset,
            m.size,
            opt_u64(m.array_len),
            m.bits
                .map_or_else(|| "-".into(), |(a, b)| format!("{a}:{b}"))
        ),
    }
}

fn parse_member(s: &str) -> Option<Option<Member>> {
    if s == "-" {
        return Some(None);
    }
    let mut f = s.split(' ');
    let offset = u64::from_str_radix(f.next()?, 16).ok()?;
    let size = u64::from_str_radix(f.next()?, 16).ok()?;
    let array_len = parse_opt_u64(f.next()?)?;
    let bits = match f.next()? {
        "-" => None,
        b => {
            let (a, w) = b.split_once(':')?;
            Some((a.parse().ok()?, w.parse().ok()?))
        }
    };
    if f.next().is_some() {
        return None;
    }
    Some(Some(Member {
        offset,
        size,
        array_len,
        bits,
    }))
}

fn show_i64(v: &Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn parse_i64(s: &str) -> Option<Option<i64>> {
    if s == "-" {
        Some(None)
    } else {
        s.parse().ok().map(Some)
    }
}

impl SymbolSource for Indexed<'_> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn origin(&self) -> String {
        self.inner.origin()
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        let slide = self.slide;
        self.answer(
            format!("symbol {name}"),
            |s| parse_opt_u64(s).map(|a| a.map(|a| a.wrapping_add(slide))),
            |v| match v {
                None => Some("-".into()),
                Some(a) => self.unslid(*a).map(|a| format!("{a:x}")),
            },
            || self.inner.symbol(name),
        )
    }

    fn symbol_extent(&self, name: &str) -> Option<u64> {
        self.answer(
            format!("extent {name}"),
            parse_opt_u64,
            |v| Some(opt_u64(*v)),
            || self.inner.symbol_extent(name),
        )
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        self.answer(
            format!("size {}", Self::ty_key(ty)),
            parse_opt_u64,
            |v| Some(opt_u64(*v)),
            || self.inner.size_of(ty),
        )
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        self.answer(
            format!("member {}\t{path}", Self::ty_key(ty)),
            parse_member,
            |m| Some(show_member(m)),
            || self.inner.member(ty, path),
        )
    }

    fn enumerator(&self, name: &str) -> Option<i64> {
        self.answer(
            format!("enumerator {name}"),
            parse_i64,
            |v| Some(show_i64(v)),
            || self.inner.enumerator(name),
        )
    }

    fn symbol_at(&self, addr: u64) -> Option<SymbolAt> {
        let slide = self.slide;
        let Some(unslid) = self.unslid(addr) else {
            return self.inner.symbol_at(addr);
        };
        self.answer(
            format!("symbol_at {unslid:x}"),
            |s| {
                if s == "-" {
                    return Some(None);
                }
                let (rest, name) = s.split_once('\t')?;
                let (a, size) = rest.split_once(' ')?;
                Some(Some(SymbolAt {
                    name: name.to_string(),
                    address: u64::from_str_radix(a, 16).ok()?.wrapping_add(slide),
                    size: parse_opt_u64(size)?,
                }))
            },
            |v| match v {
                None => Some("-".into()),
                Some(s) => Some(format!(
                    "{:x} {}\t{}",
                    self.unslid(s.address)?,
                    opt_u64(s.size),
                    s.name
                )),
            },
            || self.inner.symbol_at(addr),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn identity() -> Identity {
        Identity {
            kind: "dwarf",
            build_id: "00aa11bb".into(),
            source: "123:456".into(),
        }
    }

    fn answers() -> HashMap<String, String> {
        [
            ("symbol tainted_mask", "ffffffff82e0a2b8"),
            ("member struct module\ttaints", "268 8 - -"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn a_sound_file_reads_back() {
        let bytes = encode(&identity(), &answers());
        assert_eq!(decode(&bytes, &identity()), Ok(answers()));
    }

    #[test]
    fn every_damaged_byte_and_every_truncation_is_rejected() {
        let bytes = encode(&identity(), &answers());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            assert!(decode(&bad, &identity()).is_err(), "byte {i} flipped");
        }
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n], &identity()).is_err(), "cut at {n}");
        }
    }

    #[test]
    fn another_build_kind_source_format_or_file_is_stale_or_foreign() {
        let bytes = encode(&identity(), &answers());
        let other = |f: fn(&mut Identity)| {
            let mut id = identity();
            f(&mut id);
            decode(&bytes, &id)
        };
        assert_eq!(
            other(|i| i.build_id = "00aa11bc".into()),
            Err(Rejected::Stale("build-id"))
        );
        assert_eq!(other(|i| i.kind = "btf-dump"), Err(Rejected::Stale("kind")));
        assert_eq!(
            other(|i| i.source = "123:457".into()),
            Err(Rejected::Stale("source file"))
        );
        let mut v2 = bytes.clone();
        v2[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(decode(&v2, &identity()), Err(Rejected::OtherFormat(2)));
        assert_eq!(
            decode(b"\x7fELF\x02\x01\x01 not an index", &identity()),
            Err(Rejected::Foreign)
        );
    }

    /// A source that counts the questions it is asked.
    struct Counting(AtomicU32);

    impl SymbolSource for Counting {
        fn kind(&self) -> &'static str {
            "dwarf"
        }
        fn origin(&self) -> String {
            "test".into()
        }
        fn symbol(&self, name: &str) -> Option<u64> {
            self.0.fetch_add(1, Ordering::Relaxed);
            match name {
                "tainted_mask" => Some(0xffff_ffff_9000_1000),
                "percpu_thing" => Some(0x2_0000),
                _ => None,
            }
        }
        fn size_of(&self, _: TypeRef<'_>) -> Option<u64> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Some(24)
        }
        fn member(&self, _: TypeRef<'_>, path: &str) -> Option<Member> {
            self.0.fetch_add(1, Ordering::Relaxed);
            (path == "bits").then_some(Member {
                offset: 3,
                size: 4,
                array_len: Some(7),
                bits: Some((2, 5)),
            })
        }
        fn enumerator(&self, _: &str) -> Option<i64> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Some(-3)
        }
        fn symbol_at(&self, addr: u64) -> Option<SymbolAt> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Some(SymbolAt {
                name: "f".into(),
                address: addr - 0x10,
                size: None,
            })
        }
    }

    #[test]
    fn answers_survive_a_save_and_move_with_the_slide() {
        let dir = std::env::temp_dir().join(format!("vmtaint-index-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ask = |index: &AnswerIndex, slide: u64| {
            let inner = Counting(AtomicU32::new(0));
            let src = Indexed {
                inner: &inner,
                index,
                slide,
                floor: 0xffff_ffff_8000_0000,
            };
            let got = (
                src.symbol("tainted_mask"),
                src.symbol("absent"),
                src.symbol("percpu_thing"),
                src.size_of(TypeRef::Struct("module")),
                src.member(TypeRef::TypeOf("x"), "bits"),
                src.member(TypeRef::TypeOf("x"), "none"),
                src.enumerator("E"),
                src.symbol_at(0xffff_ffff_9000_2000 + slide),
            );
            (got, inner.0.load(Ordering::Relaxed))
        };
        let first = AnswerIndex::load(&dir, identity());
        assert_eq!(first.rejected, Some(Rejected::Missing));
        let (cold, asked) = ask(&first, 0);
        assert_eq!(asked, 8);
        first.save_if_learned();
        let again = AnswerIndex::load(&dir, identity());
        assert_eq!(again.rejected, None);
        // Another dump of the build, 16 MiB further: every answer moves, and only the per-CPU symbol (below
        // the floor: KASLR does not move it) is asked again.
        let slide = 0x100_0000;
        let (warm, asked) = ask(&again, slide);
        assert_eq!(asked, 1);
        assert_eq!(warm.0, cold.0.map(|a| a + slide));
        assert_eq!(warm.1, None);
        assert_eq!(warm.2, Some(0x2_0000));
        assert_eq!(
            (warm.3, warm.4, warm.5, warm.6),
            (cold.3, cold.4, cold.5, cold.6)
        );
        assert_eq!(warm.7.map(|s| s.address), cold.7.map(|s| s.address + slide));
        // Nothing new: nothing written, no temporary file left.
        again.save_if_learned();
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
