//! Mutated inputs never panic: the real 6.1 logs in tests/data with random byte edits, splices and cuts
//! through the text reader and the log-only report; random memory under the printk ring and log_buf
//! readers. (The fuzz targets `text_log` and `printk` do the same with coverage guidance.)

use analyzers::fake::FakeTarget;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"[    1.000000] ",
    b"Tainted: ",
    b"CPU: 0 PID: 1 Comm: x Tainted: P  W  ",
    b"Call Trace:\n",
    b" ? f+0x1/0x2 [m]\n",
    b"Modules linked in: a(POE+) b(",
    b"[last unloaded: ",
    b"Kernel panic - not syncing: ",
    b"WARNING: ",
    b", CPU#",
    b"RIP: 0010:",
    b"Oops: 0002 [#1]",
    b"Loading of unsigned module is rejected\n",
    b"insmod: can't insert '",
    b"\xff\xfe",
    b"\n",
    b"[Mon Nov 30 05:37:00 2026] ",
    b"2026-11-30T05:37:00+01:00 h kernel: ",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 => {
                let p = PIECES[rng.below(PIECES.len())];
                v.splice(at..at, p.iter().copied());
            }
            2 => {
                let end = (at + rng.below(200)).min(v.len());
                v.drain(at..end);
            }
            _ => v.truncate(at),
        }
    }
    v
}

#[test]
fn mutated_text_logs_never_panic() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let bases: Vec<Vec<u8>> = ["oops-6.1.txt", "mixed-6.1.txt"]
        .iter()
        .map(|f| std::fs::read(format!("{dir}/{f}")).unwrap())
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut reports = 0;
    for i in 0..3000 {
        let input = mutate(&mut rng, &bases[i % bases.len()]);
        if let Ok(t) = analyzers::text_log::read_text_log(input.as_slice(), "m") {
            let r = analyzers::log_report::report_from_log(&t);
            let _ = render::text::report(&r, false);
            let _ = serde_json::to_string(&r).unwrap();
            reports += 1;
        }
    }
    assert!(reports > 2000, "most mutants still read as logs: {reports}");
}

#[test]
fn random_memory_under_the_log_readers_never_panics() {
    let mut rng = Rng(42);
    let prb: &[(&str, &str)] = &[
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
    ];
    const MEM: u64 = 0x1000;
    for i in 0..2000 {
        // Small values make pointers land inside the mapped memory often.
        let mem: Vec<u8> = (0..4096)
            .map(|j| match j % 8 {
                0 => (rng.next() % 0x30) as u8,
                1 => 0x10,
                _ => 0,
            })
            .collect();
        let mut t = FakeTarget::new();
        t.map(MEM, mem);
        if i % 2 == 0 {
            for (k, v) in prb {
                t.set_vmcoreinfo(k, v);
            }
            t.set_vmcoreinfo("SYMBOL(prb)", &format!("{MEM:x}"));
        } else {
            t.set_vmcoreinfo("SIZE(printk_log)", "16");
            t.set_vmcoreinfo("OFFSET(printk_log.ts_nsec)", "0");
            t.set_vmcoreinfo("OFFSET(printk_log.len)", "8");
            t.set_vmcoreinfo("OFFSET(printk_log.text_len)", "10");
            t.add_symbol("log_buf", MEM);
            t.add_symbol("log_buf_len", MEM + 8);
            t.add_symbol("log_first_idx", MEM + 12);
            t.add_symbol("log_next_idx", MEM + 16);
        }
        if let Ok(log) = analyzers::kernel_log::read_log(&t) {
            let _ = log.render();
            let tl =
                analyzers::timeline::build(&log, &analyzers::timeline::TaintSnapshot::upstream(1));
            let reports = analyzers::crash_report::parse_reports(&log);
            let _ = analyzers::crash_site::analyze(&reports, &tl.events, &Default::default());
        }
    }
}
