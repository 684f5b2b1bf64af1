//! Kernel logs saved as text: `vmcore-dmesg.txt` / `makedumpfile --dump-dmesg` (with or without the caller
//! column of 1.7.5+), `dmesg` (also `-T` human times, `-r` raw levels, `-x`-less), `journalctl -k` (short,
//! short-iso, short-monotonic), and syslog files (`/var/log/messages`, `kern.log`, with or without the
//! `[  1.234]` stamp rsyslog's imklog keeps). Each line is recognised by its own prefix, so a file that
//! mixes them (a sosreport concatenation) still reads.
//!
//! The reader yields the same [`LogRecord`]s as the in-memory log readers. It streams: memory is bounded by
//! [`MAX_LINE`] per line, and [`read_text_log`] keeps only the records the analyzers use (lines that set or
//! show taint, every crash report with [`crate::crash_report::REPORT_LINES`] lines of context, module load
//! failures) up to [`MAX_KEPT`], so a GB file is read in constant memory. Invalid UTF-8 is replaced,
//! lines without a timestamp take the previous line's time, time going backwards is noted; binary input is
//! a typed error.
//!
//! ```
//! use analyzers::text_log::{read_text_log, Clock, TextLogFormat};
//! let text = "[    2.101966] [  T116] oot_gpl: loading out-of-tree module taints kernel.\n";
//! let t = read_text_log(text.as_bytes(), "dmesg.txt").unwrap();
//! assert_eq!(t.format, TextLogFormat::Dmesg);
//! assert_eq!(t.clock, Clock::SinceBoot);
//! let r = &t.log.records[0];
//! assert_eq!((r.ts_ns, r.caller.as_deref()), (2_101_966_000, Some("T116")));
//! assert_eq!(r.text, "oot_gpl: loading out-of-tree module taints kernel.");
//! ```

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::kernel_log::{KernelLog, LogRecord, LogSource};
use crate::timeline::{classify, Line};

/// Longest line kept; the rest of a longer line is dropped (and counted).
pub const MAX_LINE: usize = 64 * 1024;
/// Most records kept by [`read_text_log`].
pub const MAX_KEPT: usize = 1 << 20;
/// How many bytes of the start are checked for binary content.
const SNIFF: usize = 64 * 1024;
/// How much [`read_text_log`] reads at a time.
pub(crate) const READ_CHUNK: usize = 256 * 1024;

/// Which text format the lines were in (the most frequent one, for a mixed file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextLogFormat {
    /// `[    5.123456] text` (vmcore-dmesg.txt, makedumpfile, dmesg, journalctl -o short-monotonic).
    Dmesg,
    /// `[Mon Nov 30 05:37:00 2026] text` (dmesg -T).
    DmesgHuman,
    /// `Nov 30 05:37:00 host kernel: text` (syslog files, journalctl -k).
    Syslog,
    /// `2026-11-30T05:37:00.123456+00:00 host kernel: text` (rsyslog RFC 3339, journalctl -o short-iso).
    SyslogIso,
    /// No recognisable prefix.
    Bare,
}

/// What the records' `ts_ns` mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Nanoseconds since boot (the kernel's own stamp), as in the in-memory log.
    SinceBoot,
    /// Nanoseconds since the Unix epoch (dmesg -T, syslog wall-clock stamps; syslog's short form has no year
    /// and counts from the start of an unknown year).
    WallClock,
    /// No line had a timestamp: `ts_ns` is 0.
    None,
}

/// Why a file is not a text kernel log.
#[derive(Debug, thiserror::Error)]
pub enum TextLogError {
    #[error("{file}: cannot read at byte {offset}: {source}")]
    Io {
        file: String,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    /// NUL bytes or mostly non-text bytes in the first 64 KiB.
    #[error("{file}: not a text log: {why} in the first {checked} bytes")]
    Binary {
        file: String,
        why: String,
        checked: usize,
    },
    /// Text, but no line looks like a kernel log line.
    #[error("{file}: no kernel log line found in {lines} lines (expected `[   1.234567] text`, dmesg -T, journalctl -k or syslog lines)")]
    NotAKernelLog { file: String, lines: u64 },
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    pub format: TextLogFormat,
    /// Seconds since boot (`[ 5.123456]`), in nanoseconds.
    pub boot_ns: Option<u64>,
    /// Wall-clock time in nanoseconds since the epoch (syslog/dmesg -T).
    pub wall_ns: Option<u64>,
    pub level: Option<u8>,
    pub caller: Option<String>,
    /// `kernel` for kernel lines of syslog formats, else the program (`systemd-modules-load[412]`);
    /// `None` for dmesg formats (all kernel).
    pub ident: Option<String>,
    pub text: String,
}

impl TextLine {
    /// A kernel message (not a userspace program's syslog line).
    pub fn is_kernel(&self) -> bool {
        self.ident.as_deref().is_none_or(|i| i == "kernel")
    }
}

/// `[  123.456789]` at the start: (ns, rest).
fn boot_stamp(s: &str) -> Option<(u64, &str)> {
    plain_boot_stamp(s).unwrap_or_else(|| any_boot_stamp(s))
}

/// [`boot_stamp`] of any form (blanks of any kind before the seconds).
fn any_boot_stamp(s: &str) -> Option<(u64, &str)> {
    let r = s.strip_prefix('[')?;
    let close = r.find(']')?;
    let inner = r[..close].trim_start();
    let (sec, frac) = inner.split_once('.')?;
    if sec.is_empty() || frac.is_empty() || frac.len() > 9 {
        return None;
    }
    if !sec.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: u64 = sec.parse().ok()?;
    let frac_ns: u64 = frac.parse::<u64>().ok()? * 10u64.pow(9 - frac.len() as u32);
    Some((
        sec.checked_mul(1_000_000_000)?.checked_add(frac_ns)?,
        &r[close + 1..],
    ))
}

/// [`boot_stamp`] of the usual form, `[`, blanks, digits, `.`, 1 to 9 digits, `]`, read byte by byte; `None`
/// when the line has another form (the general parse decides).
fn plain_boot_stamp(s: &str) -> Option<Option<(u64, &str)>> {
    let b = s.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut i = 1;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let sec_start = i;
    let mut sec = Some(0u64);
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        sec = sec.and_then(|v| v.checked_mul(10)?.checked_add(u64::from(c - b'0')));
        i += 1;
    }
    if i == sec_start || b.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let frac_start = i;
    let mut frac = 0u64;
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        if i - frac_start == 9 {
            return None;
        }
        frac = frac * 10 + u64::from(c - b'0');
        i += 1;
    }
    let frac_len = i - frac_start;
    if frac_len == 0 || b.get(i) != Some(&b']') {
        return None;
    }
    let ns = sec.and_then(|sec| {
        sec.checked_mul(1_000_000_000)?
            .checked_add(frac * 10u64.pow(9 - frac_len as u32))
    });
    Some(ns.map(|ns| (ns, &s[i + 1..])))
}

/// `[  T123]` / `[C1]` caller column (printk caller id): (caller, rest).
fn caller_stamp(s: &str) -> Option<(&str, &str)> {
    let t = s.strip_prefix(' ').unwrap_or(s);
    let r = t.strip_prefix('[')?;
    let close = r.find(']')?;
    let inner = r[..close].trim_start();
    let kind = inner.chars().next()?;
    if (kind != 'T' && kind != 'C')
        || inner.len() < 2
        || !inner[1..].bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((inner, &r[close + 1..]))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn hms(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.split(':');
    let h = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let sec = it.next()?.parse().ok()?;
    (it.next().is_none() && h < 24 && m < 60 && sec < 61).then_some((h, m, sec))
}

fn wall(y: i64, mon: u32, d: u32, (h, m, s): (u32, u32, u32), frac_ns: u64) -> Option<u64> {
    if !(1..=12).contains(&mon) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    let days = days_from_civil(y, mon, d);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s);
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(frac_ns)
}

fn month(s: &str) -> Option<u32> {
    MONTHS.iter().position(|&m| m == s).map(|i| i as u32 + 1)
}

/// `[Mon Nov 30 05:37:00 2026] rest` (dmesg -T): (wall ns, rest).
fn human_stamp(s: &str) -> Option<(u64, &str)> {
    let r = s.strip_prefix('[')?;
    let close = r.find(']')?;
    let f: Vec<&str> = r[..close].split_whitespace().collect();
    if f.len() != 5 {
        return None;
    }
    let mon = month(f[1])?;
    let day: u32 = f[2].parse().ok()?;
    let t = hms(f[3])?;
    let year: i64 = f[4].parse().ok()?;
    Some((wall(year, mon, day, t, 0)?, &r[close + 1..]))
}

/// `Nov 30 05:37:00 rest` (syslog short, no year): (ns since the start of a year 1970, rest).
fn syslog_stamp(s: &str) -> Option<(u64, &str)> {
    let mon = month(s.get(..3)?)?;
    let r = s.get(3..)?.strip_prefix(' ')?.trim_start();
    let (day, r) = r.split_once(' ')?;
    let day: u32 = day.parse().ok()?;
    let (time, r) = r.split_once(' ')?;
    Some((wall(1970, mon, day, hms(time)?, 0)?, r))
}

/// `2026-11-30T05:37:00[.123456][+00:00|Z|+0000] rest`: (wall ns in UTC, rest).
fn iso_stamp(s: &str) -> Option<(u64, &str)> {
    let (stamp, rest) = s.split_once(' ')?;
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let mon: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    // Split off the zone: `Z`, or the last `+`/`-`.
    let (clock, zone) = match time.strip_suffix('Z') {
        Some(c) => (c, ""),
        None => match time.rfind(['+', '-']) {
            Some(i) => (&time[..i], &time[i..]),
            None => (time, ""),
        },
    };
    let (hms_s, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let frac_ns = if frac.is_empty() {
        0
    } else if frac.len() <= 9 && frac.bytes().all(|b| b.is_ascii_digit()) {
        frac.parse::<u64>().ok()? * 10u64.pow(9 - frac.len() as u32)
    } else {
        return None;
    };
    let local = wall(y, mon, day, hms(hms_s)?, frac_ns)?;
    let offset_s: i64 = if zone.is_empty() {
        0
    } else {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 4 {
            return None;
        }
        let h: i64 = digits[..2].parse().ok()?;
        let m: i64 = digits[2..].parse().ok()?;
        sign * (h * 3600 + m * 60)
    };
    let utc = i128::from(local) - i128::from(offset_s) * 1_000_000_000;
    Some((u64::try_from(utc).ok()?, rest))
}

/// `host ident: text` after a syslog stamp: (ident, text).
fn host_ident(s: &str) -> Option<(&str, &str)> {
    let (_host, r) = s.split_once(' ')?;
    // The ident has no blank: it ends at the first `: `, before the first blank (or ends the line with `:`).
    let (ident, text) = match memchr::memchr(b' ', r.as_bytes()) {
        Some(blank) => (r[..blank].strip_suffix(':')?, &r[blank + 1..]),
        None => (r.strip_suffix(':')?, ""),
    };
    (!ident.is_empty()).then_some((ident, text))
}

/// The text of `host kernel: text`: [`host_ident`] whose ident is `kernel`, without searching the line.
fn kernel_after_host(s: &str) -> Option<&str> {
    let blank = s.bytes().position(|b| b == b' ')?;
    let rest = s[blank + 1..].strip_prefix("kernel:")?;
    if rest.is_empty() {
        Some(rest)
    } else {
        rest.strip_prefix(' ')
    }
}

/// `<N>` raw level (dmesg -r): (level, rest).
fn raw_level(s: &str) -> (Option<u8>, &str) {
    if let Some(r) = s.strip_prefix('<') {
        if let Some((n, rest)) = r.split_once('>') {
            if let Ok(v) = n.parse::<u32>() {
                if n.len() <= 4 {
                    return (Some((v & 7) as u8), rest);
                }
            }
        }
    }
    (None, s)
}

/// After the boot stamp: optional caller column, then one blank.
fn after_boot_stamp(rest: &str) -> (Option<&str>, &str) {
    let (caller, rest) = match caller_stamp(rest) {
        Some((c, r)) => (Some(c), r),
        None => (None, rest),
    };
    (caller, rest.strip_prefix(' ').unwrap_or(rest))
}

/// One parsed line, borrowing from it: what [`TextLine`] owns. The reader parses every line into this and
/// allocates only for the lines it keeps.
#[derive(Debug, Clone, Copy)]
struct Parts<'a> {
    format: TextLogFormat,
    boot_ns: Option<u64>,
    wall_ns: Option<u64>,
    level: Option<u8>,
    caller: Option<&'a str>,
    ident: Option<&'a str>,
    text: &'a str,
}

impl Parts<'_> {
    fn is_kernel(&self) -> bool {
        self.ident.is_none_or(|i| i == "kernel")
    }

    fn to_line(self) -> TextLine {
        TextLine {
            format: self.format,
            boot_ns: self.boot_ns,
            wall_ns: self.wall_ns,
            level: self.level,
            caller: self.caller.map(str::to_string),
            ident: self.ident.map(str::to_string),
            text: self.text.to_string(),
        }
    }
}

/// Parse one line in any of the supported formats.
pub fn parse_line(line: &str) -> TextLine {
    parse_parts(line).to_line()
}

fn parse_parts(line: &str) -> Parts<'_> {
    let (level, s) = raw_level(line);
    let mk = |format, boot_ns, wall_ns, caller, ident, text| Parts {
        format,
        boot_ns,
        wall_ns,
        level,
        caller,
        ident,
        text,
    };
    if let Some((ns, rest)) = boot_stamp(s) {
        let (caller, text) = after_boot_stamp(rest);
        // journalctl -o short-monotonic: `[    1.234567] host kernel: text`.
        if let Some(t) = kernel_after_host(text) {
            return mk(
                TextLogFormat::Dmesg,
                Some(ns),
                None,
                caller,
                Some("kernel"),
                t,
            );
        }
        return mk(TextLogFormat::Dmesg, Some(ns), None, caller, None, text);
    }
    if let Some((ns, rest)) = human_stamp(s) {
        let (caller, text) = after_boot_stamp(rest);
        return mk(
            TextLogFormat::DmesgHuman,
            None,
            Some(ns),
            caller,
            None,
            text,
        );
    }
    let syslog = |format, wall_ns: u64, rest| -> Option<Parts<'_>> {
        let (ident, text) = host_ident(rest)?;
        // rsyslog imklog keeps the kernel's stamp: `kernel: [    1.234567] text`.
        if ident == "kernel" {
            if let Some((ns, r)) = boot_stamp(text) {
                let (caller, t) = after_boot_stamp(r);
                return Some(mk(format, Some(ns), Some(wall_ns), caller, Some(ident), t));
            }
        }
        Some(mk(format, None, Some(wall_ns), None, Some(ident), text))
    };
    if let Some(t) = syslog_stamp(s).and_then(|(ns, r)| syslog(TextLogFormat::Syslog, ns, r)) {
        return t;
    }
    if let Some(t) = iso_stamp(s).and_then(|(ns, r)| syslog(TextLogFormat::SyslogIso, ns, r)) {
        return t;
    }
    mk(TextLogFormat::Bare, None, None, None, None, s)
}

/// Read one line of at most [`MAX_LINE`] bytes (the rest is skipped); `Ok(None)` at the end.
fn read_bounded_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut truncated = false;
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(any.then_some(truncated));
        }
        any = true;
        let (chunk, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (&avail[..i], Some(i + 1)),
            None => (avail, None),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        if chunk.len() > room {
            truncated = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(avail.len());
        r.consume(used);
        if done.is_some() {
            return Ok(Some(truncated));
        }
    }
}

/// A streaming reader of text log lines as [`LogRecord`]s.
pub struct TextLogReader<R> {
    input: R,
    file: String,
    buf: Vec<u8>,
    /// The current line with invalid UTF-8 replaced (only for such lines).
    lossy: String,
    offset: u64,
    lines: u64,
    last_ts: u64,
    /// Counts, for [`TextLog`].
    pub stats: TextLogStats,
}

/// What the reader saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TextLogStats {
    pub lines: u64,
    /// Lines per format, in [`TextLogFormat`] order (dmesg, dmesg -T, syslog, syslog ISO, bare).
    pub per_format: [u64; 5],
    /// Lines with no usable timestamp (given the previous line's time).
    pub without_time: u64,
    /// Times that went backwards (a reboot inside the file, merged files).
    pub backwards: u64,
    pub truncated_lines: u64,
    pub invalid_utf8_lines: u64,
    /// Lines with a boot stamp, and with a wall-clock stamp only.
    pub boot_stamped: u64,
    pub wall_stamped: u64,
}

/// One line as the reader parsed it, borrowing the reader's buffer.
pub(crate) struct ParsedLine<'a> {
    seq: u64,
    ts_ns: u64,
    parts: Parts<'a>,
}

impl ParsedLine<'_> {
    /// The record's text: the kernel's message, or `ident: text` for another program's syslog line.
    /// `scratch` holds the latter.
    pub(crate) fn record_text<'s>(&'s self, scratch: &'s mut String) -> &'s str {
        if self.parts.is_kernel() {
            return self.parts.text;
        }
        scratch.clear();
        scratch.push_str(self.parts.ident.unwrap_or(""));
        scratch.push_str(": ");
        scratch.push_str(self.parts.text);
        scratch
    }

    /// The line's time since boot, when it has the kernel's stamp.
    pub(crate) fn boot_ns(&self) -> Option<u64> {
        self.parts.boot_ns
    }

    /// The record of this line, whose text is `text` (from [`ParsedLine::record_text`]).
    pub(crate) fn record(&self, text: &str) -> LogRecord {
        LogRecord {
            seq: self.seq,
            ts_ns: self.ts_ns,
            // Unknown levels are reported as 6 (info); only dmesg -r prints them.
            level: self.parts.level.unwrap_or(6),
            facility: if self.parts.is_kernel() { 0 } else { 1 },
            caller: self.parts.caller.map(str::to_string),
            text: text.to_string(),
        }
    }
}

impl<R: BufRead> TextLogReader<R> {
    /// Read `input` (named `file` in errors).
    pub fn new(input: R, file: &str) -> Self {
        Self {
            input,
            file: file.to_string(),
            buf: Vec::new(),
            lossy: String::new(),
            offset: 0,
            lines: 0,
            last_ts: 0,
            stats: TextLogStats::default(),
        }
    }

    /// The next line parsed, without allocating for it; `None` at the end.
    pub(crate) fn next_parsed(&mut self) -> Option<Result<ParsedLine<'_>, TextLogError>> {
        let truncated = match read_bounded_line(&mut self.input, &mut self.buf) {
            Ok(Some(t)) => t,
            Ok(None) => return None,
            Err(source) => {
                return Some(Err(TextLogError::Io {
                    file: self.file.clone(),
                    offset: self.offset,
                    source,
                }))
            }
        };
        self.offset += self.buf.len() as u64 + 1;
        if self.lines == 0 && self.buf.starts_with(b"\xef\xbb\xbf") {
            self.buf.drain(..3);
        }
        let seq = self.lines;
        self.lines += 1;
        let st = &mut self.stats;
        st.lines += 1;
        if truncated {
            st.truncated_lines += 1;
        }
        let text: &str = match std::str::from_utf8(&self.buf) {
            Ok(s) => s,
            Err(_) => {
                st.invalid_utf8_lines += 1;
                self.lossy = String::from_utf8_lossy(&self.buf).into_owned();
                &self.lossy
            }
        };
        let parts = parse_parts(text.trim_end_matches('\r'));
        st.per_format[parts.format as usize] += 1;
        let ts = match (parts.boot_ns, parts.wall_ns) {
            (Some(b), _) => {
                st.boot_stamped += 1;
                Some(b)
            }
            (None, Some(w)) => {
                st.wall_stamped += 1;
                Some(w)
            }
            _ => None,
        };
        let ts_ns = match ts {
            Some(t) => {
                if t < self.last_ts {
                    st.backwards += 1;
                }
                self.last_ts = t;
                t
            }
            None => {
                st.without_time += 1;
                self.last_ts
            }
        };
        Some(Ok(ParsedLine { seq, ts_ns, parts }))
    }

    /// The next record with its parsed line, `None` at the end.
    pub fn next_line(&mut self) -> Option<Result<(LogRecord, TextLine), TextLogError>> {
        let mut scratch = String::new();
        Some(self.next_parsed()?.map(|p| {
            let rec = p.record(p.record_text(&mut scratch));
            (rec, p.parts.to_line())
        }))
    }
}

impl<R: BufRead> Iterator for TextLogReader<R> {
    type Item = Result<LogRecord, TextLogError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_line().map(|r| r.map(|(rec, _)| rec))
    }
}

/// A text log read for analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextLog {
    /// The records kept (see the module doc), in file order; `seq` is the line number from 0.
    pub log: KernelLog,
    /// The most frequent format.
    pub format: TextLogFormat,
    pub clock: Clock,
    pub stats: TextLogStats,
}

/// Which lines of a text log the analyzers get: every crash report's first line and the
/// [`crate::crash_report::REPORT_LINES`] lines after it (its context), and the [`wanted`] lines anywhere.
#[derive(Default)]
pub(crate) struct Keeper {
    /// Lines left of the open report's context.
    context: usize,
}

impl Keeper {
    /// Whether to keep this line, the next one of the log.
    pub(crate) fn keep(&mut self, text: &str) -> bool {
        let class = classify(text);
        let starts = !matches!(class, Line::Other | Line::Taint { .. })
            || text.starts_with("INFO: task ")
            || text.starts_with("BUG: ");
        if starts {
            self.context = crate::crash_report::REPORT_LINES;
        }
        if self.context > 0 {
            self.context -= 1;
            true
        } else {
            wanted(text, &class)
        }
    }
}

/// Whether a record is kept for the analyzers: taint, report and load-failure lines (`class`: what
/// `classify` made of it).
fn wanted(text: &str, class: &Line) -> bool {
    if !matches!(class, Line::Other) {
        return true;
    }
    text.starts_with("Tainted: [")
        || text.starts_with("Modules linked in:")
        || text.starts_with("INFO: task ")
        || text.starts_with("BUG: ")
        || text.starts_with("Disabling lock debugging")
        || text.starts_with("Linux version ")
        || tech_preview(text)
        || crate::load_failures::is_candidate(text)
}

/// Whether `TECH_PREVIEW` or `TECH PREVIEW` is in the line (RHEL's tech preview notes).
fn tech_preview(text: &str) -> bool {
    text.contains("PREVIEW") && (text.contains("TECH_PREVIEW") || text.contains("TECH PREVIEW"))
}

/// Check the start of the input for binary content: NUL bytes, or under 90% text bytes.
fn sniff(head: &[u8], file: &str) -> Result<(), TextLogError> {
    let n = head.len().min(SNIFF);
    let head = &head[..n];
    if let Some(at) = head.iter().position(|&b| b == 0) {
        return Err(TextLogError::Binary {
            file: file.to_string(),
            why: format!("a NUL byte at offset {at}"),
            checked: n,
        });
    }
    let texty = head
        .iter()
        .filter(|&&b| b >= 0x20 || b == b'\n' || b == b'\t' || b == b'\r' || b == 0x1b)
        .count();
    if n > 0 && texty * 10 < n * 9 {
        return Err(TextLogError::Binary {
            file: file.to_string(),
            why: format!("{} control bytes", n - texty),
            checked: n,
        });
    }
    Ok(())
}

/// Read a text kernel log for analysis. `file` names it in errors.
///
/// Keeps every record an analyzer uses (taint lines, crash reports with their context, load failures), so
/// memory stays bounded on huge files; counts what it saw in [`TextLog::stats`] and notes oddities in
/// `log.problems`.
pub fn read_text_log<R: BufRead>(mut input: R, file: &str) -> Result<TextLog, TextLogError> {
    let head = input.fill_buf().map_err(|source| TextLogError::Io {
        file: file.to_string(),
        offset: 0,
        source,
    })?;
    sniff(head, file)?;
    // Large reads: the caller's buffer may be small (a default `BufReader` reads 8 KiB at a time).
    let mut reader = TextLogReader::new(std::io::BufReader::with_capacity(READ_CHUNK, input), file);
    let mut records = Vec::new();
    let mut keeper = Keeper::default();
    let mut dropped_kept = 0u64;
    let mut scratch = String::new();
    while let Some(item) = reader.next_parsed() {
        let line = item?;
        let text = line.record_text(&mut scratch);
        if keeper.keep(text) {
            if records.len() < MAX_KEPT {
                records.push(line.record(text));
            } else {
                dropped_kept += 1;
            }
        }
    }
    let st = reader.stats;
    let recognised = st.lines - st.per_format[TextLogFormat::Bare as usize];
    if recognised == 0 {
        return Err(TextLogError::NotAKernelLog {
            file: file.to_string(),
            lines: st.lines,
        });
    }
    let format = [
        TextLogFormat::Dmesg,
        TextLogFormat::DmesgHuman,
        TextLogFormat::Syslog,
        TextLogFormat::SyslogIso,
    ]
    .into_iter()
    .max_by_key(|f| st.per_format[*f as usize])
    .unwrap_or(TextLogFormat::Bare);
    let clock = if st.boot_stamped > 0 {
        Clock::SinceBoot
    } else if st.wall_stamped > 0 {
        Clock::WallClock
    } else {
        Clock::None
    };
    let mut problems = Vec::new();
    if st.without_time > 0 {
        problems.push(format!(
            "{} line(s) without a timestamp: each takes the time of the line before it",
            st.without_time
        ));
    }
    if st.backwards > 0 {
        problems.push(format!(
            "time goes backwards {} time(s) (a reboot inside the file, or files joined): events keep file order",
            st.backwards
        ));
    }
    if st.boot_stamped > 0 && st.wall_stamped > st.boot_stamped {
        problems.push(
            "some lines have wall-clock times only: their ts_ns are not times since boot".into(),
        );
    }
    if st.truncated_lines > 0 {
        problems.push(format!(
            "{} line(s) longer than {MAX_LINE} bytes were cut",
            st.truncated_lines
        ));
    }
    if st.invalid_utf8_lines > 0 {
        problems.push(format!(
            "{} line(s) are not valid UTF-8 (bytes replaced by U+FFFD)",
            st.invalid_utf8_lines
        ));
    }
    if dropped_kept > 0 {
        problems.push(format!(
            "more than {MAX_KEPT} relevant lines: {dropped_kept} later ones ignored"
        ));
    }
    Ok(TextLog {
        log: KernelLog {
            records,
            source: LogSource::Text,
            dropped: 0,
            problems,
        },
        format,
        clock,
        stats: st,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `host_ident` as first written: the first `": "` (or a `:` ending the line), no blank before it.
    fn host_ident_by_search(s: &str) -> Option<(&str, &str)> {
        let (_host, r) = s.split_once(' ')?;
        let (ident, text) = r
            .split_once(": ")
            .or_else(|| r.strip_suffix(':').map(|i| (i, "")))?;
        (!ident.is_empty() && !ident.contains(' ')).then_some((ident, text))
    }

    /// The byte-by-byte readings of stamps and idents give what the general ones give.
    #[test]
    fn fast_stamp_and_ident_readings_agree() {
        let stamps = [
            "[    5.123456] text",
            "[5.1] text",
            "[ 0.000000]",
            "[  123.1234567890] ten digits",
            "[   12.] no fraction",
            "[   .5] no seconds",
            "[\t 5.123456] tab",
            "[ 18446744073.709551615] near the top",
            "[ 18446744074.000000] over",
            "[ 99999999999999999999.1] over",
            "[ 1.2.3] two dots",
            "[ 1.2 ] blank",
            "[ 1.2x] letter",
            "[  T116] caller",
            "[",
            "",
            "x[ 1.2]",
        ];
        for s in stamps {
            if let Some(fast) = plain_boot_stamp(s) {
                assert_eq!(fast, any_boot_stamp(s), "{s:?}");
            }
        }
        assert_eq!(boot_stamp("[    5.123456] t"), Some((5_123_456_000, " t")));
        assert_eq!(
            boot_stamp("[\u{a0}5.1] nbsp"),
            any_boot_stamp("[\u{a0}5.1] nbsp")
        );
        let idents = [
            "host kernel: text",
            "host kernel:",
            "host kernel:text",
            "host kern el: text",
            "host : text",
            "host systemd-modules-load[412]: Failed",
            "host a:b: c",
            "host a b:",
            "host ab",
            "host",
            "host  kernel: double blank",
            "host kernel: a: b",
            "host kernel:x y",
            "host kernel:",
            "host kernel: ",
            "host kernelx: y",
            "kernel: at the start",
            " kernel: after a blank",
        ];
        for s in idents {
            assert_eq!(host_ident(s), host_ident_by_search(s), "{s:?}");
            assert_eq!(
                kernel_after_host(s),
                host_ident_by_search(s)
                    .filter(|(i, _)| *i == "kernel")
                    .map(|(_, t)| t),
                "{s:?}"
            );
        }
    }
}
