//! Text kernel logs: every format the reader recognises (built from the real 6.1 `oops` log in
//! tests/data), and bad input: binary, invalid UTF-8, missing or backwards timestamps, huge lines, a long
//! stream read in bounded memory.

use analyzers::log_report::{report_from_log, MaskBasis};
use analyzers::text_log::{parse_line, read_text_log, Clock, TextLogError, TextLogFormat};

fn oops_text() -> String {
    std::fs::read_to_string(format!(
        "{}/tests/data/oops-6.1.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// (seconds, microseconds, text) of each `[ s.us] text` line.
fn stamped(text: &str) -> Vec<(u64, u64, String)> {
    text.lines()
        .map(|l| {
            let (stamp, rest) = l[1..].split_once("] ").unwrap();
            let (s, us) = stamp.trim().split_once('.').unwrap();
            (s.parse().unwrap(), us.parse().unwrap(), rest.to_string())
        })
        .collect()
}

/// The oops log as another tool would have saved it.
fn convert(fmt: &str) -> String {
    stamped(&oops_text())
        .into_iter()
        .map(|(s, us, t)| match fmt {
            "caller" => format!("[{s:5}.{us:06}] [    T116] {t}\n"),
            "console-caller" => format!("[{s:5}.{us:06}][  T116] {t}\n"),
            "raw" => format!("<4>[{s:5}.{us:06}] {t}\n"),
            // dmesg -T of a guest booted at 05:37:00.
            "human" => format!("[Mon Nov 30 05:37:{:02} 2026] {t}\n", s),
            "journal" => format!("Nov 30 05:37:{:02} guest kernel: {t}\n", s),
            "journal-mono" => format!("[{s:5}.{us:06}] guest kernel: {t}\n"),
            "syslog-imklog" => format!("Nov 30 05:37:{:02} guest kernel: [{s:5}.{us:06}] {t}\n", s),
            "iso" => format!(
                "2026-11-30T05:37:{:02}.{us:06}+01:00 guest kernel: {t}\n",
                s
            ),
            "crlf" => format!("[{s:5}.{us:06}] {t}\r\n"),
            _ => unreachable!(),
        })
        .collect()
}

#[test]
fn every_format_gives_the_same_report() {
    let base = report_from_log(&read_text_log(oops_text().as_bytes(), "oops").unwrap());
    assert_eq!(base.tainted_mask, Some(0x3000));
    let key = |r: &analyzers::report::Report| {
        (
            r.tainted_mask,
            r.timeline
                .iter()
                .map(|e| {
                    (
                        e.kind,
                        e.letter,
                        e.module.clone(),
                        e.text.clone(),
                        e.pending,
                    )
                })
                .collect::<Vec<_>>(),
            r.crash_site
                .as_ref()
                .map(|c| (c.how, c.site.clone(), c.verdict)),
        )
    };
    for (fmt, want_format, want_clock) in [
        ("caller", TextLogFormat::Dmesg, Clock::SinceBoot),
        ("console-caller", TextLogFormat::Dmesg, Clock::SinceBoot),
        ("raw", TextLogFormat::Dmesg, Clock::SinceBoot),
        ("human", TextLogFormat::DmesgHuman, Clock::WallClock),
        ("journal", TextLogFormat::Syslog, Clock::WallClock),
        ("journal-mono", TextLogFormat::Dmesg, Clock::SinceBoot),
        ("syslog-imklog", TextLogFormat::Syslog, Clock::SinceBoot),
        ("iso", TextLogFormat::SyslogIso, Clock::WallClock),
        ("crlf", TextLogFormat::Dmesg, Clock::SinceBoot),
    ] {
        let text = convert(fmt);
        let t = read_text_log(text.as_bytes(), fmt).unwrap();
        assert_eq!((t.format, t.clock), (want_format, want_clock), "{fmt}");
        let r = report_from_log(&t);
        assert_eq!(key(&r), key(&base), "{fmt}");
        if want_clock == Clock::SinceBoot {
            assert_eq!(
                r.timeline.iter().map(|e| e.ts_ns).collect::<Vec<_>>(),
                base.timeline.iter().map(|e| e.ts_ns).collect::<Vec<_>>(),
                "{fmt}: times"
            );
        } else {
            assert!(
                r.log_only
                    .as_ref()
                    .unwrap()
                    .unknown
                    .iter()
                    .any(|u| u.what == "ts_ns"),
                "{fmt}: says its times are wall-clock"
            );
        }
        if fmt.contains("caller") {
            assert!(
                t.log
                    .records
                    .iter()
                    .all(|r| r.caller.as_deref() == Some("T116")),
                "{fmt}"
            );
        }
    }
}

#[test]
fn line_prefixes() {
    let l = parse_line("2026-11-30T05:37:02.5+01:00 guest kernel: x");
    // 04:37:02.5 UTC.
    assert_eq!(l.wall_ns, Some(1_796_013_422_500_000_000)); // date -u -d 2026-11-30T04:37:02.5Z +%s
    let l = parse_line("<3>[   12.000001][    C1] irq line");
    assert_eq!(
        (l.level, l.boot_ns, l.caller.as_deref(), l.text.as_str()),
        (Some(3), Some(12_000_001_000), Some("C1"), "irq line")
    );
    let l = parse_line("Nov 30 05:37:03 guest systemd-modules-load[412]: Failed to insert module 'oot_prop': Key was rejected by service");
    assert_eq!(l.ident.as_deref(), Some("systemd-modules-load[412]"));
    assert!(!l.is_kernel());
    let t = read_text_log(
        "[    1.000000] a\nNov 30 05:37:03 guest systemd-modules-load[412]: Failed to insert module 'x': Key was rejected by service\n".as_bytes(),
        "m",
    )
    .unwrap();
    let user = t.log.records.last().unwrap(); // "a" is not kept: no analyzer uses it
    assert_eq!(user.facility, 1);
    assert!(user.text.starts_with("systemd-modules-load[412]: Failed"));
    // A line that only looks like a stamp is bare text.
    assert_eq!(parse_line("[abc] x").format, TextLogFormat::Bare);
    assert_eq!(parse_line("[ 1.2.3] x").format, TextLogFormat::Bare);
    assert_eq!(
        parse_line("[99999999999999999999.1] x").format,
        TextLogFormat::Bare
    );
}

#[test]
fn bad_input_is_a_result_or_a_typed_error() {
    // Binary.
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0".to_vec();
    elf.extend(std::iter::repeat_n(0u8, 100));
    match read_text_log(elf.as_slice(), "vmcore") {
        Err(TextLogError::Binary { why, .. }) => {
            assert!(why.contains("NUL byte at offset 7"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let noise: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 32) as u8 | 1).collect();
    assert!(matches!(
        read_text_log(noise.as_slice(), "n"),
        Err(TextLogError::Binary { .. })
    ));
    // Empty, and text that is no kernel log.
    assert!(matches!(
        read_text_log(&b""[..], "e"),
        Err(TextLogError::NotAKernelLog { lines: 0, .. })
    ));
    assert!(matches!(
        read_text_log(&b"hello\nworld\n"[..], "t"),
        Err(TextLogError::NotAKernelLog { lines: 2, .. })
    ));
    // Invalid UTF-8, lines without time, time going backwards, a huge line.
    let mut text = b"[    5.000000] oot: loading out-of-tree module taints kernel.\n".to_vec();
    text.extend(b"[    6.000000] caf\xe9 \xff\xfe\n");
    text.extend(b"    continuation without time\n");
    text.extend(b"[    1.000000] after a reboot\n");
    text.extend(b"[    7.000000] ");
    text.extend(std::iter::repeat_n(b'x', 200_000));
    text.extend(b"\n[    8.000000] CPU: 0 PID: 1 Comm: sh Tainted: G           O       6.1.0 #1\n");
    let t = read_text_log(text.as_slice(), "bad").unwrap();
    let p = t.log.problems.join("\n");
    for want in [
        "without a timestamp",
        "backwards",
        "longer than",
        "not valid UTF-8",
    ] {
        assert!(p.contains(want), "{want}: {p}");
    }
    assert_eq!(t.stats.lines, 6);
    let r = report_from_log(&t);
    assert_eq!(r.tainted_mask, Some(1 << 12));
    assert_eq!(
        r.log_only.as_ref().unwrap().mask_basis,
        MaskBasis::TaintedLine
    );
}

/// A long log (400k lines, 40 MB) streams: only the records the analyzers use are kept.
#[test]
fn long_logs_stream_in_bounded_memory() {
    struct Gen {
        line: u64,
        buf: Vec<u8>,
        pos: usize,
    }
    impl std::io::Read for Gen {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.pos == self.buf.len() {
                if self.line == 400_000 {
                    return Ok(0);
                }
                self.buf.clear();
                self.pos = 0;
                let s = self.line / 1000;
                let text = match self.line {
                    1000 => "oot: loading out-of-tree module taints kernel.".to_string(),
                    399_999 => "Kernel panic - not syncing: sysrq triggered crash".to_string(),
                    n => format!("eth0: link flapped {n} times, nothing to do with taint padding padding padding"),
                };
                self.buf
                    .extend(format!("[{s:5}.{:06}] {text}\n", self.line % 1000).as_bytes());
                self.line += 1;
            }
            let n = out.len().min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
    let g = Gen {
        line: 0,
        buf: Vec::new(),
        pos: 0,
    };
    let t = read_text_log(std::io::BufReader::new(g), "big").unwrap();
    assert_eq!(t.stats.lines, 400_000);
    assert_eq!(
        t.log.records.len(),
        2,
        "kept only the taint line and the panic"
    );
    let r = report_from_log(&t);
    assert_eq!(r.tainted_mask, Some(1 << 12));
    assert_eq!(
        r.log_only.as_ref().unwrap().mask_basis,
        MaskBasis::TaintLinesOnly
    );
}

/// A log-only report says what it cannot know instead of showing empty sections as facts.
#[test]
fn log_only_text_names_the_unknowns() {
    let r = report_from_log(&read_text_log(oops_text().as_bytes(), "oops").unwrap());
    let text = render::text::report(&r, false);
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("From a kernel log alone ("),
        "{text}"
    );
    assert!(
        text.contains("  last unloaded: unknown (no list in the log names one"),
        "{text}"
    );
    assert!(
        text.contains("signatures, sig_enforce, lockdown: unknown"),
        "{text}"
    );
    assert!(text.contains("  oot_oops  (OE)  [loading]"), "{text}");
    assert!(!text.contains("last unloaded: none"), "{text}");
    let unknown: Vec<&str> = r
        .log_only
        .as_ref()
        .unwrap()
        .unknown
        .iter()
        .map(|u| u.what.as_str())
        .collect();
    for w in ["modules", "signatures", "last_unloaded_module", "pending"] {
        assert!(unknown.contains(&w), "{w}: {unknown:?}");
    }
}

/// Pathological logs at a modest size: a line with no end (cut at `MAX_LINE`), text with no line break at
/// all, random bytes, and the same taint line over and over. Each is a report or a typed error, with what
/// was cut named.
#[test]
fn pathological_logs_are_bounded() {
    use analyzers::text_log::MAX_LINE;
    // One stamped line of 3 MB without a newline.
    let mut text =
        b"[    1.000000] oot: loading out-of-tree module taints kernel.\n[    2.000000] ".to_vec();
    text.extend(std::iter::repeat_n(b'y', 3 << 20));
    let t = read_text_log(text.as_slice(), "long").unwrap();
    assert_eq!((t.stats.lines, t.stats.truncated_lines), (2, 1));
    assert!(t.log.records.iter().all(|r| r.text.len() <= MAX_LINE));
    assert!(t.log.problems.iter().any(|p| p.contains("were cut")));
    assert_eq!(report_from_log(&t).tainted_mask, Some(1 << 12));

    // No newline and no kernel line: not a log.
    let flat = vec![b'z'; 2 << 20];
    assert!(matches!(
        read_text_log(flat.as_slice(), "flat"),
        Err(TextLogError::NotAKernelLog { lines: 1, .. })
    ));

    // Random bytes: binary.
    let noise = testcores::noise(1 << 20, 0x9e37_79b9_7f4a_7c15);
    assert!(matches!(
        read_text_log(noise.as_slice(), "noise"),
        Err(TextLogError::Binary { .. })
    ));

    // 20,000 copies of one taint line: each kept and a timeline event; only the first sets the flag.
    let line = b"[    2.101966] oot_gpl: loading out-of-tree module taints kernel.\n";
    let many = line.repeat(20_000);
    let t = read_text_log(many.as_slice(), "many").unwrap();
    assert_eq!(t.log.records.len(), 20_000);
    let r = report_from_log(&t);
    assert_eq!(r.tainted_mask, Some(1 << 12));
    assert_eq!(r.timeline.len(), 20_000);
    assert_eq!(r.timeline.iter().filter(|e| e.new_bit).count(), 1);
    assert!(r.timeline[0].new_bit);
    assert!(r.timeline[1..].iter().all(|e| e
        .reason
        .as_deref()
        .is_some_and(|s| s.contains("already set"))));
}
