#![no_main]
// Any bytes as kernel memory holding the kernel log: the first byte picks the 5.10+ printk_ringbuffer
// (6.1's VMCOREINFO layout) or the 3.5-5.9 log_buf; the rest is memory mapped at MEM, so every pointer,
// id, lpos, index and length the readers follow comes from the input. Then the log's analyzers run.
use analyzers::fake::FakeTarget;

const MEM: u64 = 0x1000;

const PRB: &[(&str, &str)] = &[
    ("OFFSET(printk_ringbuffer.desc_ring)", "0"),
    ("OFFSET(printk_ringbuffer.text_data_ring)", "48"),
    ("OFFSET(prb_desc_ring.count_bits)", "0"),
    ("OFFSET(prb_desc_ring.descs)", "8"),
    ("OFFSET(prb_desc_ring.infos)", "16"),
    ("OFFSET(prb_desc_ring.head_id)", "24"),
    ("OFFSET(prb_desc_ring.tail_id)", "32"),
    ("SIZE(prb_desc)", "24"),
    ("OFFSET(prb_desc.state_var)", "0"),
    ("OFFSET(prb_desc.text_blk_lpos)", "8"),
    ("OFFSET(prb_data_blk_lpos.begin)", "0"),
    ("OFFSET(prb_data_blk_lpos.next)", "8"),
    ("SIZE(printk_info)", "88"),
    ("OFFSET(printk_info.seq)", "0"),
    ("OFFSET(printk_info.ts_nsec)", "8"),
    ("OFFSET(printk_info.text_len)", "16"),
    ("OFFSET(printk_info.caller_id)", "20"),
    ("OFFSET(prb_data_ring.size_bits)", "0"),
    ("OFFSET(prb_data_ring.data)", "8"),
    ("OFFSET(atomic_long_t.counter)", "0"),
];

const LOG_BUF: &[(&str, &str)] = &[
    ("SIZE(printk_log)", "16"),
    ("OFFSET(printk_log.ts_nsec)", "0"),
    ("OFFSET(printk_log.len)", "8"),
    ("OFFSET(printk_log.text_len)", "10"),
    ("OFFSET(printk_log.dict_len)", "12"),
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, memory)) = data.split_first() else { return };
    let mut t = FakeTarget::new();
    t.map(MEM, memory.to_vec());
    if mode & 1 == 0 {
        for (k, v) in PRB {
            t.set_vmcoreinfo(k, v);
        }
        t.set_vmcoreinfo("SYMBOL(prb)", &format!("{MEM:x}"));
    } else {
        for (k, v) in LOG_BUF {
            t.set_vmcoreinfo(k, v);
        }
        // Pointer, length and indexes in the first 24 bytes; records after.
        t.add_symbol("log_buf", MEM);
        t.add_symbol("log_buf_len", MEM + 8);
        t.add_symbol("log_first_idx", MEM + 12);
        t.add_symbol("log_next_idx", MEM + 16);
        t.add_symbol("log_first_seq", MEM + 24);
    }
    if let Ok(log) = analyzers::kernel_log::read_log(&t) {
        let _ = log.render_with_caller();
        let tl = analyzers::timeline::build(&log, &analyzers::timeline::TaintSnapshot::upstream(0x3201));
        let reports = analyzers::crash_report::parse_reports(&log);
        let _ = analyzers::crash_site::analyze(&reports, &tl.events, &Default::default());
        let _ = analyzers::load_failures::find(&log);
    }
});
