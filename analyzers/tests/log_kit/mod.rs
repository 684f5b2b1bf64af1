//! Builders of kernel logs in fake memory, shaped like the kernel's own: a 6.1 `printk_ringbuffer` (with
//! the VMCOREINFO keys and values of the Debian 6.1.0-56-cloud-amd64 kernel, checked with pahole against its
//! debug vmlinux) and a 3.5-5.9 `log_buf`. They write records the way kernel/printk/printk_ringbuffer.c lays
//! them out (ids, lpos, wrapping blocks, recycled descriptors), so the reader is tested against the format
//! rather than against itself.
#![allow(dead_code)]

use std::collections::VecDeque;

use analyzers::fake::FakeTarget;
use analyzers::target::{Member, TypeRef};

pub const PRB_VAR: u64 = 0xffff_ffff_8a00_0000;
pub const RING: u64 = 0xffff_ffff_8a10_0000;
pub const DESCS: u64 = 0xffff_ffff_8a20_0000;
pub const INFOS: u64 = 0xffff_ffff_8a30_0000;
pub const DATA: u64 = 0xffff_ffff_8a40_0000;

const ID_MASK: u64 = !(3u64 << 62);
pub const RESERVED: u64 = 0;
pub const COMMITTED: u64 = 1;
pub const FINALIZED: u64 = 2;
pub const REUSABLE: u64 = 3;

/// The printk VMCOREINFO lines of 6.1.0-56-cloud-amd64 (offsets and sizes as pahole prints them).
pub const VMCOREINFO_6_1: &[(&str, &str)] = &[
    ("SIZE(printk_ringbuffer)", "88"),
    ("OFFSET(printk_ringbuffer.desc_ring)", "0"),
    ("OFFSET(printk_ringbuffer.text_data_ring)", "48"),
    ("OFFSET(printk_ringbuffer.fail)", "80"),
    ("SIZE(prb_desc_ring)", "48"),
    ("OFFSET(prb_desc_ring.count_bits)", "0"),
    ("OFFSET(prb_desc_ring.descs)", "8"),
    ("OFFSET(prb_desc_ring.infos)", "16"),
    ("OFFSET(prb_desc_ring.head_id)", "24"),
    ("OFFSET(prb_desc_ring.tail_id)", "32"),
    ("SIZE(prb_desc)", "24"),
    ("OFFSET(prb_desc.state_var)", "0"),
    ("OFFSET(prb_desc.text_blk_lpos)", "8"),
    ("SIZE(prb_data_blk_lpos)", "16"),
    ("OFFSET(prb_data_blk_lpos.begin)", "0"),
    ("OFFSET(prb_data_blk_lpos.next)", "8"),
    ("SIZE(printk_info)", "88"),
    ("OFFSET(printk_info.seq)", "0"),
    ("OFFSET(printk_info.ts_nsec)", "8"),
    ("OFFSET(printk_info.text_len)", "16"),
    ("OFFSET(printk_info.caller_id)", "20"),
    ("OFFSET(printk_info.dev_info)", "24"),
    ("SIZE(dev_printk_info)", "64"),
    ("OFFSET(dev_printk_info.subsystem)", "0"),
    ("LENGTH(printk_info_subsystem)", "16"),
    ("OFFSET(dev_printk_info.device)", "16"),
    ("LENGTH(printk_info_device)", "48"),
    ("SIZE(prb_data_ring)", "32"),
    ("OFFSET(prb_data_ring.size_bits)", "0"),
    ("OFFSET(prb_data_ring.data)", "8"),
    ("OFFSET(prb_data_ring.head_lpos)", "16"),
    ("OFFSET(prb_data_ring.tail_lpos)", "24"),
    ("SIZE(atomic_long_t)", "8"),
    ("OFFSET(atomic_long_t.counter)", "0"),
];

/// One record as a test wants it.
#[derive(Clone, Debug)]
pub struct Msg {
    pub text: String,
    pub ts_ns: u64,
    pub level: u8,
    pub facility: u8,
    pub caller_id: u32,
}

pub fn msg(text: &str, ts_ns: u64) -> Msg {
    Msg {
        text: text.to_string(),
        ts_ns,
        level: 6,
        facility: 0,
        caller_id: 1,
    }
}

/// A 6.1 ring being written.
pub struct Ring {
    pub t: FakeTarget,
    pub count_bits: u32,
    pub size_bits: u32,
    pub head_id: u64,
    pub tail_id: u64,
    pub head_lpos: u64,
    pub tail_lpos: u64,
    next_seq: u64,
    /// live records: (id, begin lpos, next lpos)
    live: VecDeque<(u64, u64, u64)>,
    /// How many data blocks wrapped to the start of the ring, and the seqs of their records.
    pub wrapped_blocks: usize,
    pub wrapped_seqs: Vec<u64>,
    /// Records recycled to make room.
    pub recycled: u64,
}

fn align8(v: u64) -> u64 {
    (v + 7) & !7
}

impl Ring {
    /// An empty ring as `_DEFINE_PRINTKRB` leaves it: head = tail = DESC0_ID in the last slot (reusable,
    /// no data), data lpos at BLK0_LPOS = -size.
    pub fn new(count_bits: u32, size_bits: u32) -> Ring {
        let count = 1u64 << count_bits;
        let size = 1u64 << size_bits;
        let mut t = FakeTarget::new();
        for (k, v) in VMCOREINFO_6_1 {
            t.set_vmcoreinfo(k, v);
        }
        t.set_vmcoreinfo("SYMBOL(prb)", &format!("{PRB_VAR:x}"));
        t.map(PRB_VAR, RING.to_le_bytes().to_vec());
        t.map(RING, vec![0; 88]);
        t.map(DESCS, vec![0; (count * 24) as usize]);
        t.map(INFOS, vec![0; (count * 88) as usize]);
        t.map(DATA, vec![0; size as usize]);
        let desc0_id = (0u64.wrapping_sub(count + 1)) & ID_MASK;
        let blk0 = 0u64.wrapping_sub(size);
        let mut r = Ring {
            t,
            count_bits,
            size_bits,
            head_id: desc0_id,
            tail_id: desc0_id,
            head_lpos: blk0,
            tail_lpos: blk0,
            next_seq: 0,
            live: VecDeque::new(),
            wrapped_blocks: 0,
            wrapped_seqs: Vec::new(),
            recycled: 0,
        };
        let last = count - 1;
        r.write_desc(last, (REUSABLE << 62) | desc0_id, 1, 1);
        r.sync_header();
        r
    }

    pub fn count(&self) -> u64 {
        1 << self.count_bits
    }
    pub fn size(&self) -> u64 {
        1 << self.size_bits
    }

    pub fn sync_header(&mut self) {
        let (cb, sb, hid, tid, hl, tl) = (
            self.count_bits,
            self.size_bits,
            self.head_id,
            self.tail_id,
            self.head_lpos,
            self.tail_lpos,
        );
        self.t.write_u32(RING, cb);
        self.t.write_u64(RING + 8, DESCS);
        self.t.write_u64(RING + 16, INFOS);
        self.t.write_u64(RING + 24, hid);
        self.t.write_u64(RING + 32, tid);
        self.t.write_u32(RING + 48, sb);
        self.t.write_u64(RING + 56, DATA);
        self.t.write_u64(RING + 64, hl);
        self.t.write_u64(RING + 72, tl);
    }

    pub fn write_desc(&mut self, slot: u64, state_var: u64, begin: u64, next: u64) {
        let d = DESCS + slot * 24;
        self.t.write_u64(d, state_var);
        self.t.write_u64(d + 8, begin);
        self.t.write_u64(d + 16, next);
    }

    fn recycle_oldest(&mut self) {
        let (id, _, next) = self.live.pop_front().expect("nothing to recycle");
        let slot = id & (self.count() - 1);
        let d = DESCS + slot * 24;
        // desc_make_reusable(): same id, state reusable; data tail moves past its block.
        self.t.write_u64(d, (REUSABLE << 62) | id);
        self.tail_lpos = next;
        self.tail_id = self.live.front().map_or(id, |&(i, _, _)| i);
        self.recycled += 1;
    }

    /// Append a record in `state` (finalized for ordinary ones). Returns its id.
    pub fn push_state(&mut self, m: &Msg, state: u64) -> u64 {
        let count = self.count();
        let size = self.size();
        let id = (self.head_id + 1) & ID_MASK;
        let text = m.text.as_bytes();
        let (begin, next, wrapping) = if text.is_empty() {
            (3, 3, false) // NO_LPOS: data-less, empty message
        } else {
            let need = align8(8 + text.len() as u64);
            let begin = self.head_lpos;
            let wraps = |l: u64| l >> self.size_bits;
            if wraps(begin) == wraps(begin.wrapping_add(need)) {
                (begin, begin.wrapping_add(need), false)
            } else {
                // get_next_lpos(): the block goes whole to the start of the next wrap.
                let next = (begin.wrapping_add(need) & !(size - 1)).wrapping_add(need);
                (begin, next, true)
            }
        };
        // Make room, oldest first: descriptors, then data.
        while self.live.len() as u64 >= count - 1
            || (begin & 1 == 0 && next.wrapping_sub(self.tail_lpos) > size && !self.live.is_empty())
        {
            self.recycle_oldest();
        }
        if begin & 1 == 0 {
            let idx = begin & (size - 1);
            // data_alloc(): the id goes where the block begins, and for a wrapping block also at index 0,
            // where its data is.
            self.t.write_u64(DATA + idx, id);
            let at = if wrapping {
                self.wrapped_blocks += 1;
                self.wrapped_seqs.push(self.next_seq);
                self.t.write_u64(DATA, id);
                0
            } else {
                idx
            };
            self.t.write(DATA + at + 8, text);
            self.head_lpos = next;
        }
        let slot = id & (count - 1);
        self.write_desc(slot, (state << 62) | id, begin, next);
        let info = INFOS + slot * 88;
        self.t.write_u64(info, self.next_seq);
        self.t.write_u64(info + 8, m.ts_ns);
        self.t.write(info + 16, &(text.len() as u16).to_le_bytes());
        self.t
            .write(info + 18, &[m.facility, (m.level << 5) | 0b00010]);
        self.t.write_u32(info + 20, m.caller_id);
        self.next_seq += 1;
        self.head_id = id;
        self.live.push_back((id, begin, next));
        self.sync_header();
        id
    }

    pub fn push(&mut self, m: &Msg) -> u64 {
        self.push_state(m, FINALIZED)
    }

    /// Declare the 6.1 layouts as type information (for a target with no VMCOREINFO), incl. the bit
    /// fields VMCOREINFO does not export.
    pub fn declare_types(t: &mut FakeTarget) {
        t.add_struct(
            "printk_ringbuffer",
            88,
            &[
                ("desc_ring", 0, 48),
                ("text_data_ring", 48, 32),
                ("fail", 80, 8),
            ],
        );
        t.add_struct(
            "prb_desc_ring",
            48,
            &[
                ("count_bits", 0, 4),
                ("descs", 8, 8),
                ("infos", 16, 8),
                ("head_id", 24, 8),
                ("tail_id", 32, 8),
            ],
        );
        t.add_struct(
            "prb_desc",
            24,
            &[("state_var", 0, 8), ("text_blk_lpos", 8, 16)],
        );
        t.add_struct("prb_data_blk_lpos", 16, &[("begin", 0, 8), ("next", 8, 8)]);
        t.add_struct(
            "printk_info",
            88,
            &[
                ("seq", 0, 8),
                ("ts_nsec", 8, 8),
                ("text_len", 16, 2),
                ("facility", 18, 1),
                ("caller_id", 20, 4),
                ("dev_info", 24, 64),
            ],
        );
        for (name, bit, width) in [("flags", 0, 5), ("level", 5, 3)] {
            t.add_member(
                TypeRef::Struct("printk_info"),
                name,
                Member {
                    offset: 19,
                    size: 1,
                    array_len: None,
                    bits: Some((bit, width)),
                },
            );
        }
        t.add_struct(
            "prb_data_ring",
            32,
            &[
                ("size_bits", 0, 4),
                ("data", 8, 8),
                ("head_lpos", 16, 8),
                ("tail_lpos", 24, 8),
            ],
        );
    }
}
