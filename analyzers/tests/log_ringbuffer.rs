//! The 5.10+ lockless ring buffer: a real-shaped 6.1 ring in fake memory (VMCOREINFO values of the Debian
//! 6.1 kernel), wrapped data blocks, recycled and reserved descriptors, the DWARF/BTF fallback, and
//! corrupt rings that must end in an error or a problem line, never a panic or a hang.

mod log_kit;

use analyzers::kernel_log::{read_log, LogError, LogSource};
use log_kit::*;

fn texts(log: &analyzers::kernel_log::KernelLog) -> Vec<&str> {
    log.records.iter().map(|r| r.text.as_str()).collect()
}

/// 16 descriptors, 512 bytes of text: the 14 messages below wrap the data ring (each block is 8 bytes of id
/// plus the text rounded up to 8), recycling the oldest records.
fn wrapped_ring() -> (Ring, Vec<Msg>) {
    let mut r = Ring::new(4, 9);
    let mut all = Vec::new();
    for i in 0..14u64 {
        let mut m = msg(
            &format!("message {i:02}: the quick brown fox jumps over the lazy dog"),
            1_000_000_000 * i + 123_456_789,
        );
        m.level = (i % 8) as u8;
        m.caller_id = if i % 3 == 0 { 0x8000_0001 } else { 89 };
        r.push(&m);
        all.push(m);
    }
    (r, all)
}

#[test]
fn wrapped_ring_reads_the_surviving_records_in_order() {
    let (r, all) = wrapped_ring();
    assert!(r.wrapped_blocks >= 1, "the fixture must wrap a data block");
    assert!(r.recycled >= 1, "the fixture must lose old records");
    let log = read_log(&r.t).unwrap();
    assert!(
        log.records.iter().any(|x| r.wrapped_seqs.contains(&x.seq)),
        "a record stored in a wrapped block must survive: wrapped {:?}",
        r.wrapped_seqs
    );
    assert_eq!(log.source, LogSource::PrintkRingbuffer);
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    let kept = all.len() - r.recycled as usize;
    assert_eq!(log.records.len(), kept);
    let want: Vec<&str> = all[r.recycled as usize..]
        .iter()
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(texts(&log), want);
    assert_eq!(log.dropped, r.recycled, "dropped = first surviving seq");
    for (rec, m) in log.records.iter().zip(&all[r.recycled as usize..]) {
        assert_eq!(rec.ts_ns, m.ts_ns);
        assert_eq!(rec.level, m.level);
        assert_eq!(rec.facility, 0);
    }
    let seqs: Vec<u64> = log.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (r.recycled..all.len() as u64).collect::<Vec<_>>());
    // caller_id: bit 31 marks a CPU
    let first = &log.records[0];
    let m = &all[r.recycled as usize];
    let want_caller = if m.caller_id & 0x8000_0000 != 0 {
        "C1"
    } else {
        "T89"
    };
    assert_eq!(first.caller.as_deref(), Some(want_caller));
    assert!(log
        .records
        .iter()
        .any(|r| r.caller.as_deref() == Some("C1")));
    assert!(log
        .records
        .iter()
        .any(|r| r.caller.as_deref() == Some("T89")));
}

#[test]
fn ids_wrap_past_the_62_bit_limit() {
    // The first id is 2^62 - count: after `count` records ids wrap to 0 (DESC0_ID overflow).
    let mut r = Ring::new(3, 12);
    for i in 0..20u64 {
        r.push(&msg(&format!("line {i}"), i));
    }
    assert!(r.head_id < 20, "head id {:#x} must have wrapped", r.head_id);
    let log = read_log(&r.t).unwrap();
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    let last: Vec<String> = (20 - log.records.len() as u64..20)
        .map(|i| format!("line {i}"))
        .collect();
    assert_eq!(
        texts(&log),
        last.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[test]
fn reserved_head_is_skipped_committed_is_read_empty_is_kept() {
    let mut r = Ring::new(4, 10);
    r.push(&msg("first", 1_000));
    r.push(&msg("", 2_000)); // printk("\n"): data-less NO_LPOS record
    r.push_state(&msg("still open for continuation", 3_000), COMMITTED);
    r.push_state(&msg("being written", 4_000), RESERVED);
    let log = read_log(&r.t).unwrap();
    assert_eq!(texts(&log), ["first", "", "still open for continuation"]);
    assert_eq!(log.problems.len(), 1, "{:?}", log.problems);
    assert!(
        log.problems[0].contains("1 descriptor(s) reserved"),
        "{:?}",
        log.problems
    );
    assert_eq!(log.dropped, 0);
    // makedumpfile skips data-less records; so does render()
    assert_eq!(
        log.render(),
        "[    0.000001] first\n[    0.000003] still open for continuation\n"
    );
    assert_eq!(
        log.render_with_caller(),
        "[    0.000001] [      T1] first\n[    0.000003] [      T1] still open for continuation\n"
    );
}

#[test]
fn type_info_replaces_missing_vmcoreinfo() {
    let (r, _) = wrapped_ring();
    let want = read_log(&r.t).unwrap();
    // Same memory, no VMCOREINFO at all: symbol `prb` and DWARF/BTF-like layouts instead.
    let mut t = analyzers::fake::FakeTarget::new();
    for (addr, len) in [
        (PRB_VAR, 8u64),
        (RING, 88),
        (DESCS, 16 * 24),
        (INFOS, 16 * 88),
        (DATA, 512),
    ] {
        let mut b = vec![0u8; len as usize];
        analyzers::target::Target::read(&r.t, addr, &mut b).unwrap();
        t.map(addr, b);
    }
    t.add_symbol("prb", PRB_VAR);
    Ring::declare_types(&mut t);
    let got = read_log(&t).unwrap();
    assert_eq!(got, want);
}

#[test]
fn missing_layout_names_every_missing_key() {
    let mut r = Ring::new(4, 9);
    r.push(&msg("x", 1));
    let mut t = analyzers::fake::FakeTarget::new();
    t.set_vmcoreinfo("SYMBOL(prb)", &format!("{PRB_VAR:x}"));
    for (k, v) in VMCOREINFO_6_1 {
        if !k.contains("prb_desc.") && *k != "OFFSET(printk_info.ts_nsec)" {
            t.set_vmcoreinfo(k, v);
        }
    }
    match read_log(&t) {
        Err(LogError::MissingLayout(m)) => {
            assert!(m.contains("OFFSET(prb_desc.state_var)"), "{m}");
            assert!(m.contains("OFFSET(prb_desc.text_blk_lpos)"), "{m}");
            assert!(m.contains("OFFSET(printk_info.ts_nsec)"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_log_at_all() {
    assert_eq!(
        read_log(&analyzers::fake::FakeTarget::new()),
        Err(LogError::NotFound)
    );
}

#[test]
fn huge_count_bits_and_size_bits_are_rejected() {
    let (mut r, _) = wrapped_ring();
    r.t.write_u32(RING, 40); // count_bits
    assert!(matches!(read_log(&r.t), Err(LogError::Corrupt(m)) if m.contains("count_bits")));
    let (mut r, _) = wrapped_ring();
    r.t.write_u32(RING + 48, 63); // size_bits
    assert!(matches!(read_log(&r.t), Err(LogError::Corrupt(m)) if m.contains("size_bits")));
}

#[test]
fn wild_sizes_in_vmcoreinfo_are_rejected_before_any_read() {
    let (mut r, _) = wrapped_ring();
    r.t.set_vmcoreinfo("SIZE(prb_desc)", "1099511627776");
    assert!(matches!(read_log(&r.t), Err(LogError::Corrupt(_))));
}

#[test]
fn wild_lpos_loses_one_record_not_the_log() {
    let (mut r, all) = wrapped_ring();
    let log = read_log(&r.t).unwrap();
    let victim = log.records[2].seq;
    // find the victim's slot: ids are consecutive, head is the last record
    let slot = (r.head_id - (all.len() as u64 - 1 - victim)) & 15;
    r.t.write_u64(DESCS + slot * 24 + 8, 0x1234_5678_9abc_def0);
    r.t.write_u64(DESCS + slot * 24 + 16, 0x0fed_cba9_8765_4320);
    let log2 = read_log(&r.t).unwrap();
    assert_eq!(log2.records.len(), log.records.len() - 1);
    assert!(log2.records.iter().all(|x| x.seq != victim));
    assert!(
        log2.problems
            .iter()
            .any(|p| p.contains("impossible text block")),
        "{:?}",
        log2.problems
    );
}

#[test]
fn overwritten_block_is_detected_by_its_id() {
    let (mut r, _) = wrapped_ring();
    let log = read_log(&r.t).unwrap();
    // Point the head descriptor's text at another record's block.
    let head_slot = r.head_id & 15;
    let prev_slot = (r.head_id - 1) & 15;
    let mut lpos = [0u8; 16];
    analyzers::target::Target::read(&r.t, DESCS + prev_slot * 24 + 8, &mut lpos).unwrap();
    r.t.write(DESCS + head_slot * 24 + 8, &lpos);
    let log2 = read_log(&r.t).unwrap();
    assert_eq!(log2.records.len(), log.records.len() - 1);
    assert!(
        log2.problems.iter().any(|p| p.contains("overwritten")),
        "{:?}",
        log2.problems
    );
}

#[test]
fn ids_spanning_more_than_the_ring_are_bounded() {
    let (mut r, _) = wrapped_ring();
    r.t.write_u64(RING + 32, r.head_id.wrapping_sub(1 << 40)); // tail_id far behind
    let log = read_log(&r.t).unwrap();
    assert!(log.records.len() <= 16);
    assert!(
        log.problems.iter().any(|p| p.contains("span more than")),
        "{:?}",
        log.problems
    );
}

#[test]
fn unreadable_descriptor_array_gives_problems_not_a_panic() {
    let (mut r, _) = wrapped_ring();
    r.t.write_u64(RING + 8, 0xdead_0000_0000_0000);
    let log = read_log(&r.t).unwrap();
    assert!(log.records.is_empty());
    assert!(!log.problems.is_empty() && log.problems.len() <= 16);
    assert!(log.problems[0].contains("not mapped"), "{:?}", log.problems);
}

#[test]
fn unreadable_prb_pointer_is_an_error() {
    let mut t = analyzers::fake::FakeTarget::new();
    for (k, v) in VMCOREINFO_6_1 {
        t.set_vmcoreinfo(k, v);
    }
    t.set_vmcoreinfo("SYMBOL(prb)", "ffffffff8a000000");
    assert!(matches!(read_log(&t), Err(LogError::Read { .. })));
}
