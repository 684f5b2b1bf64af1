//! The kernel log (dmesg) read out of a crashed kernel's memory.
//!
//! Two record formats are understood:
//! - the lockless `printk_ringbuffer` of 5.10+ (`kernel/printk/printk_ringbuffer.[ch]`): a ring of
//!   descriptors (`struct prb_desc`: `state_var`, `text_blk_lpos`), a parallel array of `struct printk_info`
//!   (seq, timestamp, text length, caller) and a text data ring of `[id][text]` blocks addressed by logical
//!   positions (lpos);
//! - the `log_buf` of 3.5-5.9: `struct printk_log` headers (`ts_nsec`, `len`, `text_len`, `dict_len`,
//!   `facility`, `flags:5`, `level:3`) each followed by text and dictionary, a `len` of 0 meaning "wrap to the
//!   start of the buffer".
//!
//! Every structure offset comes from VMCOREINFO first (the kernel exports them for exactly this purpose, see
//! `log_buf_vmcoreinfo_setup()` in `kernel/printk/printk.c`), then from the [`Target`]'s type information
//! (DWARF, BTF, or the crash utility), so the same code runs on a bare dump and inside crash.
//!
//! Nothing here trusts the dump: ring sizes are capped, every walk is bounded by the ring's own capacity, and
//! what cannot be read lands in [`KernelLog::problems`] instead of stopping the whole log.
//!
//! ```
//! use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
//! let log = KernelLog {
//!     records: vec![LogRecord {
//!         seq: 0, ts_ns: 5_123_456_789, level: 4, facility: 0, caller: Some("T89".into()),
//!         text: "oot_prop: loading out-of-tree module taints kernel.".into(),
//!     }],
//!     source: LogSource::PrintkRingbuffer, dropped: 0, problems: vec![],
//! };
//! assert_eq!(log.render(), "[    5.123456] oot_prop: loading out-of-tree module taints kernel.\n");
//! ```

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::target::{ReadError, Target, TypeRef};

/// Largest text data ring accepted (the kernel's own limit for `log_buf_len=` is 2 GiB; real ones are
/// 128 KiB - 32 MiB). Nothing is allocated from it: it only rejects wild `size_bits`.
pub const MAX_DATA_RING_BITS: u32 = 28;
/// Largest descriptor ring accepted: 2^22 descriptors (a 128 MiB log at the kernel's 32-byte average).
pub const MAX_DESC_RING_BITS: u32 = 22;
/// Largest offset or size accepted for the small printk structures (they are tens of bytes).
const MAX_STRUCT: u64 = 4096;
/// Largest `log_buf_len` accepted for the 3.5-5.9 format.
pub const MAX_LOG_BUF_LEN: u64 = 1 << 28;

/// Which record format the log came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// 5.10+ lockless ring buffer (`prb`).
    PrintkRingbuffer,
    /// 3.5-5.9 `log_buf` of `struct printk_log` records.
    LogBuf,
    /// A running kernel's `/dev/kmsg` (the same records, read through the kernel's own interface).
    DevKmsg,
    /// The output of `dmesg --raw` (when `/dev/kmsg` is closed).
    Dmesg,
    /// A text file (`vmcore-dmesg.txt`, dmesg, journalctl -k, syslog), read by [`crate::text_log`].
    Text,
}

/// One kernel log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// The kernel's sequence number (`printk_info.seq`; for `log_buf`, `log_first_seq` + index when known).
    pub seq: u64,
    /// `local_clock()` at the time of the printk, in nanoseconds since boot.
    pub ts_ns: u64,
    /// Syslog level 0 (emerg) .. 7 (debug).
    pub level: u8,
    /// Syslog facility (0 = kernel).
    pub facility: u8,
    /// Who printed it: `T<pid>` for a task, `C<cpu>` for a CPU in interrupt context (`printk_info.caller_id`).
    pub caller: Option<String>,
    /// The message. A multi-line message stays one record with `'\n'` inside, as the kernel stores it.
    /// Bytes that are not UTF-8 are replaced by U+FFFD.
    pub text: String,
}

/// The kernel log of a dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelLog {
    /// Records in sequence order.
    pub records: Vec<LogRecord>,
    pub source: LogSource,
    /// Records lost to wrap-around before the oldest one still in the buffer (= its sequence number).
    pub dropped: u64,
    /// What could not be read or looked odd (skipped descriptors, unreadable blocks...).
    pub problems: Vec<String>,
}

/// Why no log could be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// Neither `prb` (5.10+) nor `log_buf` (3.5-5.9) is known to VMCOREINFO or the symbol table.
    #[error("no kernel log found: neither `prb` nor `log_buf` is known")]
    NotFound,
    /// A structure offset or size needed to decode the log is in neither VMCOREINFO nor the type info.
    #[error("layout unknown: {0}")]
    MissingLayout(String),
    #[error("cannot read {what}: {source}")]
    Read {
        what: String,
        #[source]
        source: ReadError,
    },
    /// The ring's own header is impossible (wild sizes, ids or indexes).
    #[error("corrupt kernel log: {0}")]
    Corrupt(String),
    /// The log's interface outside kernel memory (a live kernel's `/dev/kmsg`, `dmesg`) failed: why.
    #[error("no kernel log: {0}")]
    Unavailable(String),
}

impl KernelLog {
    /// The log as `makedumpfile --dump-dmesg` (1.7.2, this machine's version) writes it.
    ///
    /// Each record is `[%5lu.%06lu] text\n` (seconds and microseconds, like the kernel's `print_time()`);
    /// a `'\n'` inside a message continues on a new line indented by the prefix width; a byte that is
    /// neither printable ASCII nor C whitespace becomes `\xNN`, and a byte >= 0x80 becomes `\xffffffNN`
    /// (makedumpfile formats the sign-extended C `char`). Records of the lockless ring with no text are
    /// data-less and makedumpfile skips them, so this does too; empty `log_buf` records are printed.
    pub fn render(&self) -> String {
        self.render_with(false)
    }

    /// [`render`](Self::render) with the caller column makedumpfile 1.7.5+ adds when the dump exports
    /// `printk_info.caller_id` (`[%5lu.%06lu] [%8s] text`, e.g. `[    5.123456] [     T89] text`).
    pub fn render_with_caller(&self) -> String {
        self.render_with(true)
    }

    fn render_with(&self, caller: bool) -> String {
        let mut out = String::new();
        for r in &self.records {
            if self.source == LogSource::PrintkRingbuffer && r.text.is_empty() {
                continue;
            }
            let mut prefix = format_ts(r.ts_ns);
            prefix.push(' ');
            if caller {
                let _ = write!(prefix, "[{:>8}] ", r.caller.as_deref().unwrap_or(""));
            }
            out.push_str(&prefix);
            for &b in r.text.as_bytes() {
                match b {
                    b'\n' => {
                        out.push('\n');
                        out.extend(std::iter::repeat_n(' ', prefix.len()));
                    }
                    0x20..=0x7e | b'\t' | 0x0b | 0x0c | b'\r' => out.push(b as char),
                    0x80..=0xff => {
                        let _ = write!(out, "\\xffffff{b:02x}");
                    }
                    _ => {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

/// `[%5lu.%06lu]`: the kernel's `print_time()`, also used by dmesg and makedumpfile.
pub fn format_ts(ts_ns: u64) -> String {
    format!(
        "[{:5}.{:06}]",
        ts_ns / 1_000_000_000,
        (ts_ns % 1_000_000_000) / 1000
    )
}

/// Read the kernel log: the 5.10+ ring if `prb` is known, else the 3.5-5.9 `log_buf`.
pub fn read_log(t: &dyn Target) -> Result<KernelLog, LogError> {
    if let Some(prb) = symbol(t, "prb") {
        return read_ringbuffer(t, prb);
    }
    if let Some(log_buf) = symbol(t, "log_buf") {
        return read_log_buf(t, log_buf);
    }
    Err(LogError::NotFound)
}

// ---------------------------------------------------------------------------------------------------------
// Layout look-ups: VMCOREINFO first, then the target's type information.

/// `SYMBOL(name)` from VMCOREINFO (hex, KASLR-adjusted), else the symbol table.
fn symbol(t: &dyn Target, name: &str) -> Option<u64> {
    t.vmcoreinfo(&format!("SYMBOL({name})"))
        .and_then(|v| u64::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok())
        .or_else(|| t.symbol(name))
}

fn vmci_dec(t: &dyn Target, key: &str) -> Option<u64> {
    t.vmcoreinfo(key).and_then(|v| v.trim().parse().ok())
}

/// `OFFSET(ty.member)` from VMCOREINFO, else the member's offset from type info.
fn offset(t: &dyn Target, ty: &str, member: &str) -> Option<u64> {
    vmci_dec(t, &format!("OFFSET({ty}.{member})"))
        .or_else(|| t.member(TypeRef::Struct(ty), member).map(|m| m.offset))
}

fn size(t: &dyn Target, ty: &str) -> Option<u64> {
    vmci_dec(t, &format!("SIZE({ty})")).or_else(|| t.size_of(TypeRef::Struct(ty)))
}

/// Collects the names of missing layout items so one error lists them all.
struct Need<'a> {
    t: &'a dyn Target,
    missing: Vec<String>,
}

impl<'a> Need<'a> {
    fn new(t: &'a dyn Target) -> Self {
        Self {
            t,
            missing: Vec::new(),
        }
    }
    fn off(&mut self, ty: &str, member: &str) -> u64 {
        offset(self.t, ty, member).unwrap_or_else(|| {
            self.missing.push(format!("OFFSET({ty}.{member})"));
            0
        })
    }
    fn size(&mut self, ty: &str) -> u64 {
        size(self.t, ty).unwrap_or_else(|| {
            self.missing.push(format!("SIZE({ty})"));
            0
        })
    }
    fn done(self) -> Result<(), LogError> {
        if self.missing.is_empty() {
            Ok(())
        } else {
            Err(LogError::MissingLayout(self.missing.join(", ")))
        }
    }
}

fn read_err(what: impl Into<String>) -> impl FnOnce(ReadError) -> LogError {
    let what = what.into();
    move |source| LogError::Read { what, source }
}

fn read_bytes(t: &dyn Target, addr: u64, len: usize) -> Result<Vec<u8>, ReadError> {
    let mut b = vec![0u8; len];
    t.read(addr, &mut b)?;
    Ok(b)
}

fn le(b: &[u8], off: u64, width: usize) -> u64 {
    let mut v = [0u8; 8];
    let range = usize::try_from(off)
        .ok()
        .and_then(|o| Some(o..o.checked_add(width)?));
    if let Some(s) = range.and_then(|r| b.get(r)) {
        v[..width].copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

fn caller_string(id: u32) -> String {
    // printk.c: bit 31 set = CPU id (printk from interrupt context), else the task's pid.
    if id & 0x8000_0000 != 0 {
        format!("C{}", id & 0x7fff_ffff)
    } else {
        format!("T{id}")
    }
}

/// Where facility and the `flags:5, level:3` byte sit in a record header. The kernel does not export them
/// in VMCOREINFO; type info has them, and without it they are taken from their fixed place right after
/// `text_len` (5.10+: `u16 text_len; u8 facility; u8 flags:5, level:3;`) or after `dict_len`
/// (3.5-5.9: `u16 text_len; u16 dict_len; u8 facility; u8 flags:5, level:3;`) — that declaration order
/// has not changed since 3.5.
struct LevelLayout {
    facility: u64,
    level_byte: u64,
    level_shift: u32,
}

fn level_layout(t: &dyn Target, ty: &str, text_len: u64, after_text_len: u64) -> LevelLayout {
    let facility = t
        .member(TypeRef::Struct(ty), "facility")
        .map(|m| m.offset)
        .unwrap_or(text_len + after_text_len);
    match t.member(TypeRef::Struct(ty), "level") {
        Some(m) => {
            let (bit, _) = m.bits.unwrap_or((0, 8));
            LevelLayout {
                facility,
                level_byte: m.offset + u64::from(bit / 8),
                level_shift: bit % 8,
            }
        }
        // GCC on little-endian allocates bit fields from the low bit: flags is bits 0-4, level bits 5-7.
        None => LevelLayout {
            facility,
            level_byte: text_len + after_text_len + 1,
            level_shift: 5,
        },
    }
}

// ---------------------------------------------------------------------------------------------------------
// 5.10+ lockless ring buffer.

/// Descriptor states in the top two bits of `state_var` (printk_ringbuffer.h `enum desc_state`).
const DESC_COMMITTED: u64 = 1;
const DESC_FINALIZED: u64 = 2;
const DESC_REUSABLE: u64 = 3;
const DESC_ID_MASK: u64 = !(3u64 << 62);
/// Size of the block id that starts every data block (`unsigned long id`).
const BLK_ID_SIZE: u64 = 8;

struct PrbLayout {
    desc_ring: u64,
    text_data_ring: u64,
    count_bits: u64,
    descs: u64,
    infos: u64,
    head_id: u64,
    tail_id: u64,
    desc_size: u64,
    state_var: u64,
    text_blk_lpos: u64,
    lpos_begin: u64,
    lpos_next: u64,
    info_size: u64,
    seq: u64,
    ts_nsec: u64,
    text_len: u64,
    caller_id: Option<u64>,
    level: LevelLayout,
    size_bits: u64,
    data: u64,
    counter: u64,
}

fn prb_layout(t: &dyn Target) -> Result<PrbLayout, LogError> {
    let mut n = Need::new(t);
    let text_len = n.off("printk_info", "text_len");
    let l = PrbLayout {
        desc_ring: n.off("printk_ringbuffer", "desc_ring"),
        text_data_ring: n.off("printk_ringbuffer", "text_data_ring"),
        count_bits: n.off("prb_desc_ring", "count_bits"),
        descs: n.off("prb_desc_ring", "descs"),
        infos: n.off("prb_desc_ring", "infos"),
        head_id: n.off("prb_desc_ring", "head_id"),
        tail_id: n.off("prb_desc_ring", "tail_id"),
        desc_size: n.size("prb_desc"),
        state_var: n.off("prb_desc", "state_var"),
        text_blk_lpos: n.off("prb_desc", "text_blk_lpos"),
        lpos_begin: n.off("prb_data_blk_lpos", "begin"),
        lpos_next: n.off("prb_data_blk_lpos", "next"),
        info_size: n.size("printk_info"),
        seq: n.off("printk_info", "seq"),
        ts_nsec: n.off("printk_info", "ts_nsec"),
        text_len,
        caller_id: offset(t, "printk_info", "caller_id"),
        level: level_layout(t, "printk_info", text_len, 2),
        size_bits: n.off("prb_data_ring", "size_bits"),
        data: n.off("prb_data_ring", "data"),
        // `atomic_long_t` is `struct { s64 counter; }`: exported as OFFSET(atomic_long_t.counter), and 0
        // everywhere; the typedef has no struct name of its own to ask the type info about.
        counter: vmci_dec(t, "OFFSET(atomic_long_t.counter)").unwrap_or(0),
    };
    n.done()?;
    // Every offset and size of these small structs is far below a page; anything else is a wild value
    // that would make the reads below huge.
    let all = [
        l.desc_ring,
        l.text_data_ring,
        l.count_bits,
        l.descs,
        l.infos,
        l.head_id,
        l.tail_id,
        l.desc_size,
        l.state_var,
        l.text_blk_lpos,
        l.lpos_begin,
        l.lpos_next,
        l.info_size,
        l.seq,
        l.ts_nsec,
        l.text_len,
        l.caller_id.unwrap_or(0),
        l.size_bits,
        l.data,
        l.counter,
    ];
    if all.iter().any(|&v| v > MAX_STRUCT) {
        return Err(LogError::Corrupt(format!(
            "a printk_ringbuffer offset or size exceeds {MAX_STRUCT} bytes"
        )));
    }
    if l.desc_size < l.text_blk_lpos + 16 || l.info_size < l.text_len + 2 {
        return Err(LogError::Corrupt(format!(
            "impossible sizes: prb_desc {} bytes, printk_info {} bytes",
            l.desc_size, l.info_size
        )));
    }
    Ok(l)
}

/// Tally of descriptors skipped for an ordinary reason, reported as one line each.
#[derive(Default)]
struct Skips {
    reserved: u64,
    id_mismatch: u64,
    dataless_failed: u64,
    bad_block: Vec<String>,
}

fn read_ringbuffer(t: &dyn Target, prb_var: u64) -> Result<KernelLog, LogError> {
    let l = prb_layout(t)?;
    // SYMBOL(prb) is the address of `struct printk_ringbuffer *prb`, not of the ring itself.
    let rb = t.read_u64(prb_var).map_err(read_err("the `prb` pointer"))?;
    let dr = rb.wrapping_add(l.desc_ring);
    let tr = rb.wrapping_add(l.text_data_ring);
    let rd = |addr: u64, what: &str| t.read_u64(addr).map_err(read_err(what));
    let count_bits = u64::from(
        t.read_u32(dr.wrapping_add(l.count_bits))
            .map_err(read_err("prb_desc_ring.count_bits"))?,
    );
    let size_bits = u64::from(
        t.read_u32(tr.wrapping_add(l.size_bits))
            .map_err(read_err("prb_data_ring.size_bits"))?,
    );
    if count_bits > u64::from(MAX_DESC_RING_BITS) {
        return Err(LogError::Corrupt(format!(
            "descriptor ring count_bits {count_bits} > {MAX_DESC_RING_BITS}"
        )));
    }
    if !(3..=u64::from(MAX_DATA_RING_BITS)).contains(&size_bits) {
        return Err(LogError::Corrupt(format!(
            "text data ring size_bits {size_bits} outside 3..={MAX_DATA_RING_BITS}"
        )));
    }
    let descs = rd(dr.wrapping_add(l.descs), "prb_desc_ring.descs")?;
    let infos = rd(dr.wrapping_add(l.infos), "prb_desc_ring.infos")?;
    let head_id = rd(
        dr.wrapping_add(l.head_id + l.counter),
        "prb_desc_ring.head_id",
    )? & DESC_ID_MASK;
    let tail_id = rd(
        dr.wrapping_add(l.tail_id + l.counter),
        "prb_desc_ring.tail_id",
    )? & DESC_ID_MASK;
    let data = rd(tr.wrapping_add(l.data), "prb_data_ring.data")?;

    let count = 1u64 << count_bits;
    let data_size = 1u64 << size_bits;
    let mut problems = Vec::new();
    // Ids count up modulo 2^62; the live ones are tail..=head, never more than the ring holds.
    let mut span = head_id.wrapping_sub(tail_id) & DESC_ID_MASK;
    if span >= count {
        problems.push(format!(
            "descriptor ids tail {tail_id:#x} .. head {head_id:#x} span more than the {count} descriptors \
             of the ring; reading the last {count} only"
        ));
        span = count - 1;
    }
    let first_id = head_id.wrapping_sub(span) & DESC_ID_MASK;

    let mut skips = Skips::default();
    let mut records = Vec::with_capacity((span + 1).min(1 << 16) as usize);
    for i in 0..=span {
        let id = first_id.wrapping_add(i) & DESC_ID_MASK;
        let idx = id & (count - 1);
        match read_prb_record(t, &l, descs, infos, data, data_size, id, idx, &mut skips) {
            Ok(Some(r)) => records.push(r),
            Ok(None) => {}
            Err(e) => problems.push(format!("descriptor {id:#x} (slot {idx}): {e}")),
        }
    }
    if skips.reserved > 0 {
        problems.push(format!(
            "{} descriptor(s) reserved (a printk was being written when the dump was taken); skipped",
            skips.reserved
        ));
    }
    if skips.id_mismatch > 0 {
        problems.push(format!(
            "{} descriptor(s) hold another id than expected (recycled or overwritten); skipped",
            skips.id_mismatch
        ));
    }
    if skips.dataless_failed > 0 {
        problems.push(format!(
            "{} record(s) have no text block (the kernel failed to reserve one); skipped",
            skips.dataless_failed
        ));
    }
    problems.extend(skips.bad_block);
    finish(records, LogSource::PrintkRingbuffer, problems)
}

/// Read one descriptor; `Ok(None)` when it holds no readable record.
#[allow(clippy::too_many_arguments)]
fn read_prb_record(
    t: &dyn Target,
    l: &PrbLayout,
    descs: u64,
    infos: u64,
    data: u64,
    data_size: u64,
    id: u64,
    idx: u64,
    skips: &mut Skips,
) -> Result<Option<LogRecord>, ReadError> {
    let desc = read_bytes(
        t,
        descs.wrapping_add(idx * l.desc_size),
        l.desc_size as usize,
    )?;
    let sv = le(&desc, l.state_var + l.counter, 8);
    if sv & DESC_ID_MASK != id {
        skips.id_mismatch += 1;
        return Ok(None);
    }
    match sv >> 62 {
        DESC_COMMITTED | DESC_FINALIZED => {}
        DESC_REUSABLE => return Ok(None),
        _ => {
            skips.reserved += 1;
            return Ok(None);
        }
    }
    let begin = le(&desc, l.text_blk_lpos + l.lpos_begin, 8);
    let next = le(&desc, l.text_blk_lpos + l.lpos_next, 8);
    let info = read_bytes(
        t,
        infos.wrapping_add(idx * l.info_size),
        l.info_size as usize,
    )?;
    let text_len = le(&info, l.text_len, 2);
    let level_byte = le(&info, l.level.level_byte, 1) as u8;
    let mut rec = LogRecord {
        seq: le(&info, l.seq, 8),
        ts_ns: le(&info, l.ts_nsec, 8),
        level: (level_byte >> l.level.level_shift) & 7,
        facility: le(&info, l.level.facility, 1) as u8,
        caller: l.caller_id.map(|o| caller_string(le(&info, o, 4) as u32)),
        text: String::new(),
    };
    // Data-less blocks have bit 0 set in both positions: NO_LPOS (3) is an empty message, FAILED_LPOS (1)
    // a record whose text could not be stored.
    if begin & 1 == 1 && next & 1 == 1 {
        if begin == 3 && next == 3 {
            return Ok(Some(rec));
        }
        skips.dataless_failed += 1;
        return Ok(None);
    }
    let wraps = |lpos: u64| lpos >> data_size.trailing_zeros();
    let index = |lpos: u64| lpos & (data_size - 1);
    let (block, block_size) = if wraps(begin) == wraps(next) && begin < next {
        (index(begin), next - begin)
    } else if wraps(begin.wrapping_add(data_size)) == wraps(next) {
        // A block that would cross the end of the ring is stored whole at its beginning.
        (0, index(next))
    } else {
        skips.bad_block.push(format!(
            "record seq {}: impossible text block lpos {begin:#x}..{next:#x}; skipped",
            rec.seq
        ));
        return Ok(None);
    };
    if begin % BLK_ID_SIZE != 0 || next % BLK_ID_SIZE != 0 || block_size < BLK_ID_SIZE {
        skips.bad_block.push(format!(
            "record seq {}: misaligned or short text block lpos {begin:#x}..{next:#x}; skipped",
            rec.seq
        ));
        return Ok(None);
    }
    let blk_id = t.read_u64(data.wrapping_add(block))?;
    if blk_id & DESC_ID_MASK != id {
        skips.bad_block.push(format!(
            "record seq {}: its text block belongs to descriptor {blk_id:#x}, not {id:#x} (overwritten); skipped",
            rec.seq
        ));
        return Ok(None);
    }
    // A message may have been truncated to fit: never read past the block.
    let n = text_len.min(block_size - BLK_ID_SIZE) as usize;
    let text = read_bytes(t, data.wrapping_add(block + BLK_ID_SIZE), n)?;
    rec.text = String::from_utf8_lossy(&text).into_owned();
    Ok(Some(rec))
}

fn finish(
    mut records: Vec<LogRecord>,
    source: LogSource,
    mut problems: Vec<String>,
) -> Result<KernelLog, LogError> {
    if records.windows(2).any(|w| w[0].seq >= w[1].seq) {
        problems.push("sequence numbers out of order; records sorted by sequence number".into());
        records.sort_by_key(|r| r.seq);
    }
    let dropped = records.first().map_or(0, |r| r.seq);
    Ok(KernelLog {
        records,
        source,
        dropped,
        problems,
    })
}

// ---------------------------------------------------------------------------------------------------------
// 3.5-5.9 log_buf.

fn read_log_buf(t: &dyn Target, log_buf_var: u64) -> Result<KernelLog, LogError> {
    // The record struct was `struct log` in 3.5-3.10 and `struct printk_log` from 3.11.
    let ty = if size(t, "printk_log").is_some() {
        "printk_log"
    } else if size(t, "log").is_some() {
        "log"
    } else {
        return Err(LogError::MissingLayout(
            "SIZE(printk_log) (or SIZE(log) before 3.11): this kernel's log_buf has no record format \
             (older than 3.5?)"
                .into(),
        ));
    };
    let mut n = Need::new(t);
    let hdr = n.size(ty);
    let ts_off = n.off(ty, "ts_nsec");
    let len_off = n.off(ty, "len");
    let text_len_off = n.off(ty, "text_len");
    n.done()?;
    if hdr < text_len_off + 2 || hdr < len_off + 2 || hdr < ts_off + 8 || hdr > 256 {
        return Err(LogError::Corrupt(format!(
            "impossible {ty} header size {hdr}"
        )));
    }
    let level = level_layout(t, ty, text_len_off, 4);
    let caller_off = offset(t, ty, "caller_id");
    let sym = |name: &str| {
        symbol(t, name).ok_or_else(|| LogError::MissingLayout(format!("SYMBOL({name})")))
    };
    let buf = t
        .read_u64(log_buf_var)
        .map_err(read_err("the `log_buf` pointer"))?;
    let buf_len = u64::from(
        t.read_u32(sym("log_buf_len")?)
            .map_err(read_err("log_buf_len"))?,
    );
    let first_idx = u64::from(
        t.read_u32(sym("log_first_idx")?)
            .map_err(read_err("log_first_idx"))?,
    );
    let next_idx = u64::from(
        t.read_u32(sym("log_next_idx")?)
            .map_err(read_err("log_next_idx"))?,
    );
    if buf_len == 0 || buf_len > MAX_LOG_BUF_LEN || first_idx >= buf_len || next_idx >= buf_len {
        return Err(LogError::Corrupt(format!(
            "log_buf_len {buf_len:#x}, log_first_idx {first_idx:#x}, log_next_idx {next_idx:#x}"
        )));
    }
    let mut problems = Vec::new();
    // log_first_seq is a plain static (not in VMCOREINFO): only the symbol table knows it.
    let first_seq = match t.symbol("log_first_seq").map(|a| t.read_u64(a)) {
        Some(Ok(s)) => Some(s),
        _ => {
            problems.push(
                "log_first_seq unknown: records numbered from 0 and no count of dropped records"
                    .into(),
            );
            None
        }
    };
    // Every record is at least a header long: this bounds the walk even on a looping buffer.
    let max_records = buf_len / hdr + 2;
    // No kernel prints 2^64 messages: a first sequence number whose records would run past u64 is damage.
    let first_seq = first_seq.filter(|&s| {
        let possible = s.checked_add(max_records + 1).is_some();
        if !possible {
            problems.push(format!(
                "log_first_seq {s:#x} is impossible (its records would overflow a u64): records numbered from 0"
            ));
        }
        possible
    });
    let mut records = Vec::new();
    let mut idx = first_idx;
    let mut wraps = 0;
    while idx != next_idx {
        if records.len() as u64 > max_records {
            problems.push(format!(
                "more than {max_records} records: the index chain loops; stopped"
            ));
            break;
        }
        if idx + hdr > buf_len {
            problems.push(format!(
                "record index {idx:#x} runs past the end of log_buf; stopped"
            ));
            break;
        }
        let h = match read_bytes(t, buf.wrapping_add(idx), hdr as usize) {
            Ok(h) => h,
            Err(e) => {
                problems.push(format!("record at index {idx:#x} unreadable: {e}; stopped"));
                break;
            }
        };
        let len = le(&h, len_off, 2);
        if len == 0 {
            // End-of-buffer marker: the next record is at the start.
            wraps += 1;
            if wraps > 1 || idx == 0 {
                problems.push("log_buf wraps more than once; stopped".into());
                break;
            }
            idx = 0;
            continue;
        }
        if len < hdr || idx + len > buf_len {
            problems.push(format!(
                "record at index {idx:#x} has impossible length {len}; stopped"
            ));
            break;
        }
        let text_len = le(&h, text_len_off, 2).min(len - hdr);
        let text = match read_bytes(t, buf.wrapping_add(idx + hdr), text_len as usize) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                problems.push(format!("text of record at index {idx:#x} unreadable: {e}"));
                String::new()
            }
        };
        let level_byte = le(&h, level.level_byte, 1) as u8;
        records.push(LogRecord {
            seq: first_seq.unwrap_or(0) + records.len() as u64,
            ts_ns: le(&h, ts_off, 8),
            level: (level_byte >> level.level_shift) & 7,
            facility: le(&h, level.facility, 1) as u8,
            caller: caller_off
                .filter(|&o| o.checked_add(4).is_some_and(|end| end <= hdr))
                .map(|o| caller_string(le(&h, o, 4) as u32)),
            text,
        });
        idx += len;
    }
    finish(records, LogSource::LogBuf, problems)
}
