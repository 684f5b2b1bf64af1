//! The 3.5-5.9 `log_buf` of `struct printk_log` records, and the dmesg rendering shared by both formats.

use analyzers::fake::FakeTarget;
use analyzers::kernel_log::{read_log, KernelLog, LogError, LogRecord, LogSource};

const BUF: u64 = 0xffff_8880_0100_0000;
const VARS: u64 = 0xffff_ffff_8b00_0000;
const LEN: u64 = 512;
const HDR: u64 = 16;

/// `struct printk_log` (5.x without CONFIG_PRINTK_CALLER): ts_nsec u64 @0, len u16 @8, text_len u16 @10,
/// dict_len u16 @12, facility u8 @14, flags:5 level:3 @15; 16 bytes, records aligned to 8.
fn header(ts: u64, len: u16, text_len: u16, dict_len: u16, level: u8) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&ts.to_le_bytes());
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(&text_len.to_le_bytes());
    h.extend_from_slice(&dict_len.to_le_bytes());
    h.push(0);
    h.push((level << 5) | 0b10);
    h
}

/// A log_buf holding `texts` written from index `start`, wrapping like log_store(): when a record does
/// not fit before the end, a zeroed header marks the end and the record goes to index 0.
/// Returns (target, next_idx).
fn log_buf(start: u64, texts: &[&str]) -> (FakeTarget, u64) {
    let mut t = FakeTarget::new();
    t.map(BUF, vec![0xaa; LEN as usize]);
    let mut idx = start;
    for (i, text) in texts.iter().enumerate() {
        let dict = b"SUBSYSTEM=x";
        let len = (HDR + text.len() as u64 + dict.len() as u64 + 7) & !7;
        if idx + len + HDR > LEN {
            t.write(BUF + idx, &[0u8; HDR as usize]);
            idx = 0;
        }
        let mut rec = header(
            1_000_000 * (i as u64 + 1),
            len as u16,
            text.len() as u16,
            dict.len() as u16,
            (i % 8) as u8,
        );
        rec.extend_from_slice(text.as_bytes());
        rec.extend_from_slice(dict);
        t.write(BUF + idx, &rec);
        idx += len;
    }
    t.map(VARS, vec![0; 64]);
    t.write_u64(VARS, BUF); // char *log_buf
    t.write_u32(VARS + 8, LEN as u32); // u32 log_buf_len
    t.write_u32(VARS + 12, start as u32); // log_first_idx
    t.write_u32(VARS + 16, idx as u32); // log_next_idx
    t.write_u64(VARS + 24, 40); // u64 log_first_seq
    for (name, off) in [
        ("log_buf", 0),
        ("log_buf_len", 8),
        ("log_first_idx", 12),
        ("log_next_idx", 16),
    ] {
        t.set_vmcoreinfo(&format!("SYMBOL({name})"), &format!("{:x}", VARS + off));
    }
    t.add_symbol("log_first_seq", VARS + 24);
    for (k, v) in [
        ("SIZE(printk_log)", "16"),
        ("OFFSET(printk_log.ts_nsec)", "0"),
        ("OFFSET(printk_log.len)", "8"),
        ("OFFSET(printk_log.text_len)", "10"),
    ] {
        t.set_vmcoreinfo(k, v);
    }
    (t, idx)
}

const TEXTS: &[&str] = &[
    "Linux version 5.4.0",
    "Command line: ro quiet",
    "oot: loading out-of-tree module taints kernel.",
    "second line\ncontinued",
    "after the wrap",
    "",
    "last one",
];

#[test]
fn wrapped_log_buf_is_read_in_order() {
    let (t, next) = log_buf(320, TEXTS);
    assert!(next < 320, "the fixture must wrap (next_idx {next})");
    let log = read_log(&t).unwrap();
    assert_eq!(log.source, LogSource::LogBuf);
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    let got: Vec<&str> = log.records.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(got, TEXTS);
    assert_eq!(log.records[0].seq, 40);
    assert_eq!(log.dropped, 40);
    assert_eq!(log.records[3].level, 3);
    assert_eq!(log.records[3].ts_ns, 4_000_000);
    assert_eq!(log.records[0].caller, None);
    // empty log_buf records are printed by makedumpfile, continuation lines indented by the prefix
    let text = log.render();
    assert!(
        text.contains("[    0.004000] second line\n               continued\n"),
        "{text}"
    );
    assert!(text.contains("[    0.006000] \n"), "{text}");
}

#[test]
fn impossible_first_sequence_number_is_said_not_used() {
    // Found by the printk fuzz target: log_first_seq is read from memory, so it can be anything.
    let (mut t, _) = log_buf(320, TEXTS);
    t.write_u64(VARS + 24, u64::MAX - 1);
    let log = read_log(&t).unwrap();
    let got: Vec<&str> = log.records.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(got, TEXTS, "the records themselves are still read in order");
    assert_eq!(log.records[0].seq, 0);
    assert_eq!(log.dropped, 0);
    assert!(
        log.problems
            .iter()
            .any(|p| p.contains("log_first_seq 0xfffffffffffffffe is impossible")),
        "{:?}",
        log.problems
    );
}

#[test]
fn second_wrap_marker_stops_the_walk() {
    let (mut t, _) = log_buf(320, TEXTS);
    // Corrupt: a zero length right at index 0 would loop back to 0 forever.
    t.write(BUF, &[0u8; HDR as usize]);
    let log = read_log(&t).unwrap();
    assert!(
        log.problems
            .iter()
            .any(|p| p.contains("wraps more than once")),
        "{:?}",
        log.problems
    );
    assert!(log.records.len() < TEXTS.len());
}

#[test]
fn impossible_length_stops_the_walk() {
    let (mut t, _) = log_buf(0, TEXTS[..3].as_ref());
    t.write(BUF + 8, &4u16.to_le_bytes()); // shorter than a header
    let log = read_log(&t).unwrap();
    assert!(log.records.is_empty());
    assert!(
        log.problems.iter().any(|p| p.contains("impossible length")),
        "{:?}",
        log.problems
    );
}

#[test]
fn wild_indexes_are_an_error() {
    let (mut t, _) = log_buf(0, TEXTS);
    t.write_u32(VARS + 12, 0xffff_0000);
    assert!(matches!(read_log(&t), Err(LogError::Corrupt(_))));
    let (mut t, _) = log_buf(0, TEXTS);
    t.write_u32(VARS + 8, u32::MAX);
    assert!(matches!(read_log(&t), Err(LogError::Corrupt(_))));
}

#[test]
fn pre_3_5_log_buf_without_records_is_reported() {
    let mut t = FakeTarget::new();
    t.set_vmcoreinfo("SYMBOL(log_buf)", "ffffffff8b000000");
    assert!(
        matches!(read_log(&t), Err(LogError::MissingLayout(m)) if m.contains("SIZE(printk_log)"))
    );
}

fn one(text: &str, ts_ns: u64) -> KernelLog {
    KernelLog {
        records: vec![LogRecord {
            seq: 0,
            ts_ns,
            level: 4,
            facility: 0,
            caller: Some("C3".into()),
            text: text.into(),
        }],
        source: LogSource::PrintkRingbuffer,
        dropped: 0,
        problems: vec![],
    }
}

/// makedumpfile 1.7.2 dump_record(): "[%5lld.%06ld] ", '\n' -> newline + indent, isprint/isspace bytes as
/// is, others "\x%02x" of the (signed) char.
#[test]
fn render_matches_makedumpfile_byte_for_byte() {
    assert_eq!(one("plain", 0).render(), "[    0.000000] plain\n");
    assert_eq!(one("t", 123_456_789_999).render(), "[  123.456789] t\n");
    assert_eq!(
        one("big", 123_456_000_000_000).render(),
        "[123456.000000] big\n"
    );
    assert_eq!(one("a\tb\rc", 1_000).render(), "[    0.000001] a\tb\rc\n");
    assert_eq!(
        one("bell\x07 del\x7f", 1_000).render(),
        "[    0.000001] bell\\x07 del\\x7f\n"
    );
    assert_eq!(
        one("caf\u{e9}", 1_000).render(),
        "[    0.000001] caf\\xffffffc3\\xffffffa9\n"
    );
    assert_eq!(
        one("one\ntwo", 5_123_456_789).render_with_caller(),
        "[    5.123456] [      C3] one\n                          two\n"
    );
}
