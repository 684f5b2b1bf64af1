//! A FakeTarget laid out like real kernels, for the taint/module/unloaded tests.
//!
//! The 6.1 layout is the Debian 6.1.0-56-cloud-amd64 one, from its debug vmlinux:
//! `pahole -C module` / `-C taint_flag`, gdb `ptype last_unloaded_module`, the symbol addresses, and the
//! 57 bytes of `taint_flags[]` (`x/57xb &taint_flags`). Older and newer layouts follow the kernel sources.

#![allow(dead_code)]

use analyzers::fake::FakeTarget;
use analyzers::target::{Member, Target, TypeRef};

// Debian 6.1.0-56-cloud-amd64 symbol addresses (no KASLR slide).
pub const TAINTED_MASK: u64 = 0xffff_ffff_832e_ecb8;
pub const TAINT_FLAGS: u64 = 0xffff_ffff_8200_f0a0;
pub const MODULES: u64 = 0xffff_ffff_82b2_7160;
pub const LAST_UNLOADED: u64 = 0xffff_ffff_8333_fbe0;
pub const SIG_ENFORCE: u64 = 0xffff_ffff_8334_207c;
pub const LOCKED_DOWN: u64 = 0xffff_ffff_833d_9de4;
/// Where the kit puts module structs and strings (module space).
pub const MODULE_AREA: u64 = 0xffff_ffff_c000_0000;

/// `x/57xb &taint_flags` on the 6.1 vmlinux: {c_true, c_false, module} x 19.
pub const TAINT_FLAGS_6_1: [u8; 57] = [
    0x50, 0x47, 0x01, 0x46, 0x20, 0x01, 0x53, 0x20, 0x00, 0x52, 0x20, 0x00, 0x4d, 0x20, 0x00, 0x42,
    0x20, 0x00, 0x55, 0x20, 0x00, 0x44, 0x20, 0x00, 0x41, 0x20, 0x00, 0x57, 0x20, 0x00, 0x43, 0x20,
    0x01, 0x49, 0x20, 0x00, 0x4f, 0x20, 0x01, 0x45, 0x20, 0x01, 0x4c, 0x20, 0x00, 0x4b, 0x20, 0x01,
    0x58, 0x20, 0x01, 0x54, 0x20, 0x01, 0x4e, 0x20, 0x01,
];

/// Mainline (c_true, c_false, module, desc) by bit, 0..=19.
pub const MAINLINE: [(u8, u8, bool, &str); 20] = [
    (b'P', b'G', true, "PROPRIETARY_MODULE"),
    (b'F', b' ', true, "FORCED_MODULE"),
    (b'S', b' ', false, "CPU_OUT_OF_SPEC"),
    (b'R', b' ', false, "FORCED_RMMOD"),
    (b'M', b' ', false, "MACHINE_CHECK"),
    (b'B', b' ', false, "BAD_PAGE"),
    (b'U', b' ', false, "USER"),
    (b'D', b' ', false, "DIE"),
    (b'A', b' ', false, "OVERRIDDEN_ACPI_TABLE"),
    (b'W', b' ', false, "WARN"),
    (b'C', b' ', true, "CRAP"),
    (b'I', b' ', false, "FIRMWARE_WORKAROUND"),
    (b'O', b' ', true, "OOT_MODULE"),
    (b'E', b' ', true, "UNSIGNED_MODULE"),
    (b'L', b' ', false, "SOFTLOCKUP"),
    (b'K', b' ', true, "LIVEPATCH"),
    (b'X', b' ', true, "AUX"),
    (b'T', b' ', true, "RANDSTRUCT"),
    (b'N', b' ', true, "TEST"),
    (b'J', b' ', true, "FWCTL"),
];

fn m(offset: u64, size: u64) -> Member {
    Member {
        offset,
        size,
        array_len: None,
        bits: None,
    }
}

/// How `struct module` describes its memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MemKind {
    /// 6.4+: `mem[7]` of `struct module_memory {base, size, ...}` (64 bytes each here).
    MemArray,
    /// 4.5-6.3: `core_layout` / `init_layout` (6.1 offsets).
    Layouts,
    /// Before 4.5: `module_core`, `core_size`, `init_size`.
    Flat,
}

/// One module to lay out.
#[derive(Clone, Debug)]
pub struct Mod {
    pub name: &'static str,
    pub state: u32,
    pub taints: u64,
    pub sig_ok: bool,
    pub base: u64,
    /// Per memory region: for `Layouts`/`Flat` [core, init]; for `MemArray` one size per type.
    pub sizes: Vec<u32>,
    pub version: Option<&'static str>,
    pub srcversion: Option<&'static str>,
}

impl Mod {
    pub fn new(name: &'static str) -> Self {
        Mod {
            name,
            state: 0,
            taints: 0,
            sig_ok: true,
            base: 0xffff_ffff_c100_0000,
            sizes: vec![16384, 0],
            version: None,
            srcversion: None,
        }
    }
    pub fn taints(mut self, t: u64) -> Self {
        self.taints = t;
        self
    }
    pub fn unsigned(mut self) -> Self {
        self.sig_ok = false;
        self
    }
}

pub struct Kit {
    pub t: FakeTarget,
    pub mem: MemKind,
    pub has_sig_ok: bool,
    /// Addresses of the module structs, in list order.
    pub modules: Vec<u64>,
    next: u64,
}

/// `struct module` member offsets (6.1 from pahole, except the memory members of the other layouts).
pub const OFF_LIST: u64 = 8;
pub const OFF_NAME: u64 = 24;
pub const OFF_MKOBJ_MOD: u64 = 80 + 64;
pub const OFF_VERSION: u64 = 184;
pub const OFF_SRCVERSION: u64 = 192;
pub const OFF_SIG_OK: u64 = 297;
pub const OFF_CORE_BASE: u64 = 320;
pub const OFF_CORE_SIZE: u64 = 328;
pub const OFF_INIT_SIZE: u64 = 408;
pub const OFF_TAINTS: u64 = 504;
pub const SIZEOF_MODULE: u64 = 896;
/// `mem[]` for the 6.4+ layout (replaces core_layout/init_layout in the same space).
pub const OFF_MEM: u64 = 320;
pub const MEM_STRIDE: u64 = 64;
pub const MEM_COUNT: u64 = 7;

impl Kit {
    /// A 6.1 kernel as Debian builds it: table, struct module, last_unloaded_module, sig_enforce, lockdown.
    pub fn v6_1() -> Self {
        let mut k = Kit::bare();
        k.t.set_vmcoreinfo("OSRELEASE", "6.1.0-56-cloud-amd64");
        k.taint_flags_3byte(&TAINT_FLAGS_6_1);
        k.module_type(MemKind::Layouts, true);
        k.last_unloaded_struct("", "");
        k.t.map(SIG_ENFORCE, vec![0]);
        k.t.add_symbol("sig_enforce", SIG_ENFORCE);
        k.t.add_type(TypeRef::TypeOf("sig_enforce"), 1, &[]);
        k.t.map(LOCKED_DOWN, vec![0; 4]);
        k.t.add_symbol("kernel_locked_down", LOCKED_DOWN);
        k.t.add_type(TypeRef::TypeOf("kernel_locked_down"), 4, &[]);
        k.t.add_enumerator("LOCKDOWN_NONE", 0);
        k.t.add_enumerator("LOCKDOWN_MODULE_SIGNATURE", 1);
        k.t.add_enumerator("LOCKDOWN_INTEGRITY_MAX", 21);
        k.t.add_enumerator("LOCKDOWN_CONFIDENTIALITY_MAX", 30);
        k
    }

    /// Only `tainted_mask` and the `modules` head (empty list).
    pub fn bare() -> Self {
        let mut t = FakeTarget::new();
        t.map(TAINTED_MASK, vec![0; 8]);
        t.add_symbol("tainted_mask", TAINTED_MASK);
        t.add_type(TypeRef::TypeOf("tainted_mask"), 8, &[]);
        t.map(MODULES, vec![0; 16]);
        t.write_u64(MODULES, MODULES);
        t.write_u64(MODULES + 8, MODULES);
        t.add_symbol("modules", MODULES);
        Kit {
            t,
            mem: MemKind::Layouts,
            has_sig_ok: true,
            modules: Vec::new(),
            next: MODULE_AREA,
        }
    }

    pub fn mask(&mut self, mask: u64) -> &mut Self {
        self.t.write_u64(TAINTED_MASK, mask);
        self
    }

    /// Bump allocator in module space; each allocation is its own region.
    pub fn alloc(&mut self, bytes: Vec<u8>) -> u64 {
        let a = self.next;
        let len = bytes.len() as u64;
        self.t.map(a, bytes);
        self.next = (a + len + 0xff) & !0xff;
        a
    }

    pub fn cstring(&mut self, s: &str) -> u64 {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.alloc(b)
    }

    /// 4.10-6.10 `struct taint_flag {c_true, c_false, module}` (3 bytes) holding `bytes`.
    pub fn taint_flags_3byte(&mut self, bytes: &[u8]) {
        self.t.map(TAINT_FLAGS, bytes.to_vec());
        self.t.add_symbol("taint_flags", TAINT_FLAGS);
        self.t.add_struct(
            "taint_flag",
            3,
            &[("c_true", 0, 1), ("c_false", 1, 1), ("module", 2, 1)],
        );
        self.t
            .add_type(TypeRef::TypeOf("taint_flags"), bytes.len() as u64, &[]);
    }

    /// The 3-byte table as kallsyms + BTF on 5.x see it: no size for `typeof(taint_flags)`, only the
    /// distance to the next symbol (`extent`), the gap filled with zeros as in `.rodata`.
    pub fn taint_flags_3byte_sizeless(&mut self, bytes: &[u8], extent: u64) {
        let mut padded = bytes.to_vec();
        padded.resize(extent as usize, 0);
        self.t.map(TAINT_FLAGS, padded);
        self.t.add_symbol("taint_flags", TAINT_FLAGS);
        self.t.set_symbol_extent("taint_flags", extent);
        self.t.add_struct(
            "taint_flag",
            3,
            &[("c_true", 0, 1), ("c_false", 1, 1), ("module", 2, 1)],
        );
    }

    /// Mainline table bytes for `count` flags in the 3-byte layout.
    pub fn mainline_3byte(count: usize) -> Vec<u8> {
        MAINLINE[..count]
            .iter()
            .flat_map(|&(t, f, m, _)| [t, f, m as u8])
            .collect()
    }

    /// 6.11+ 16-byte layout `{c_true, c_false[, module], desc}`; `entries` are (c_true, c_false, module,
    /// desc), holes as (0, 0, false, "").
    pub fn taint_flags_desc(&mut self, entries: &[(u8, u8, bool, &str)], with_module: bool) {
        let mut bytes = Vec::new();
        for &(c_t, c_f, module, desc) in entries {
            let ptr = if desc.is_empty() {
                0
            } else {
                self.cstring(desc)
            };
            let mut e = [0u8; 16];
            e[0] = c_t;
            e[1] = c_f;
            if with_module {
                e[2] = module as u8;
            }
            e[8..].copy_from_slice(&ptr.to_le_bytes());
            bytes.extend_from_slice(&e);
        }
        self.t.map(TAINT_FLAGS, bytes.clone());
        self.t.add_symbol("taint_flags", TAINT_FLAGS);
        let mut members = vec![("c_true", 0, 1), ("c_false", 1, 1), ("desc", 8, 8)];
        if with_module {
            members.push(("module", 2, 1));
        }
        self.t.add_struct("taint_flag", 16, &members);
        self.t
            .add_type(TypeRef::TypeOf("taint_flags"), bytes.len() as u64, &[]);
    }

    /// 2.6.28-4.9 `struct tnt {u8 bit; char true; char false;}`; 4.9's 16 entries P..K.
    pub fn tnts_4_9(&mut self) {
        let bytes: Vec<u8> = MAINLINE[..16]
            .iter()
            .enumerate()
            .flat_map(|(bit, &(t, f, _, _))| [bit as u8, t, f])
            .collect();
        self.t.map(TAINT_FLAGS, bytes.clone());
        self.t.add_symbol("tnts", TAINT_FLAGS);
        self.t
            .add_struct("tnt", 3, &[("bit", 0, 1), ("true", 1, 1), ("false", 2, 1)]);
        self.t
            .add_type(TypeRef::TypeOf("tnts"), bytes.len() as u64, &[]);
    }

    /// Declare `struct module` in one of the three generations.
    pub fn module_type(&mut self, mem: MemKind, sig_ok: bool) {
        self.mem = mem;
        self.has_sig_ok = sig_ok;
        let ty = TypeRef::Struct("module");
        let mut members = vec![
            ("state", 0, 4),
            ("list", OFF_LIST, 16),
            ("name", OFF_NAME, 56),
            ("mkobj.mod", OFF_MKOBJ_MOD, 8),
            ("version", OFF_VERSION, 8),
            ("srcversion", OFF_SRCVERSION, 8),
            ("taints", OFF_TAINTS, 8),
        ];
        if sig_ok {
            members.push(("sig_ok", OFF_SIG_OK, 1));
        }
        match mem {
            MemKind::Layouts => members.extend([
                ("core_layout.base", OFF_CORE_BASE, 8),
                ("core_layout.size", OFF_CORE_SIZE, 4),
                ("init_layout.size", OFF_INIT_SIZE, 4),
            ]),
            MemKind::Flat => members.extend([
                ("module_core", OFF_CORE_BASE, 8),
                ("init_size", OFF_CORE_SIZE, 4),
                ("core_size", OFF_CORE_SIZE + 4, 4),
            ]),
            MemKind::MemArray => {
                self.t.add_member(
                    ty,
                    "mem",
                    Member {
                        offset: OFF_MEM,
                        size: MEM_STRIDE * MEM_COUNT,
                        array_len: Some(MEM_COUNT),
                        bits: None,
                    },
                );
                self.t.add_struct(
                    "module_memory",
                    MEM_STRIDE,
                    &[("base", 0, 8), ("size", 8, 4)],
                );
                self.t.add_enumerator("MOD_TEXT", 0);
            }
        }
        self.t.add_type(ty, SIZEOF_MODULE, &members);
        for (n, v) in [("LIVE", 0), ("COMING", 1), ("GOING", 2), ("UNFORMED", 3)] {
            self.t.add_enumerator(&format!("MODULE_STATE_{n}"), v);
        }
    }

    /// Lay out one module (not yet linked: call [`Kit::link`]).
    pub fn add_module(&mut self, md: &Mod) -> u64 {
        let mut b = vec![0u8; SIZEOF_MODULE as usize];
        let put = |b: &mut Vec<u8>, off: u64, v: &[u8]| {
            b[off as usize..off as usize + v.len()].copy_from_slice(v)
        };
        put(&mut b, 0, &md.state.to_le_bytes());
        put(&mut b, OFF_NAME, md.name.as_bytes());
        put(&mut b, OFF_TAINTS, &md.taints.to_le_bytes());
        if self.has_sig_ok {
            b[OFF_SIG_OK as usize] = md.sig_ok as u8;
        }
        match self.mem {
            MemKind::Layouts => {
                put(&mut b, OFF_CORE_BASE, &md.base.to_le_bytes());
                put(&mut b, OFF_CORE_SIZE, &md.sizes[0].to_le_bytes());
                put(&mut b, OFF_INIT_SIZE, &md.sizes[1].to_le_bytes());
            }
            MemKind::Flat => {
                put(&mut b, OFF_CORE_BASE, &md.base.to_le_bytes());
                put(&mut b, OFF_CORE_SIZE + 4, &md.sizes[0].to_le_bytes());
                put(&mut b, OFF_CORE_SIZE, &md.sizes[1].to_le_bytes());
            }
            MemKind::MemArray => {
                for (i, s) in md.sizes.iter().enumerate() {
                    let e = OFF_MEM + i as u64 * MEM_STRIDE;
                    let base = md.base + i as u64 * 0x10_0000;
                    put(&mut b, e, &base.to_le_bytes());
                    put(&mut b, e + 8, &s.to_le_bytes());
                }
            }
        }
        if let Some(v) = md.version {
            let p = self.cstring(v);
            put(&mut b, OFF_VERSION, &p.to_le_bytes());
        }
        if let Some(v) = md.srcversion {
            let p = self.cstring(v);
            put(&mut b, OFF_SRCVERSION, &p.to_le_bytes());
        }
        let addr = self.alloc(b);
        self.t.write_u64(addr + OFF_MKOBJ_MOD, addr);
        self.modules.push(addr);
        addr
    }

    /// Parameters on the module at `module` (int, charp, an int array) and a `.builtin_trusted_keys`
    /// keyring whose assoc_array node holds two keys: what the parameter decoder and the keyring walker
    /// read. Layouts follow include/linux/moduleparam.h, include/linux/key.h and assoc_array_priv.h; the
    /// member offsets are the kit's own (the analyzers take them from the types).
    pub fn params_and_keyring(&mut self, module: u64) {
        const OFF_KP: u64 = 600;
        const OFF_NUM_KP: u64 = 608;
        let m = TypeRef::Struct("module");
        for (name, off, size) in [("kp", OFF_KP, 8), ("num_kp", OFF_NUM_KP, 4)] {
            self.t.add_member(
                m,
                name,
                Member {
                    offset: off,
                    size,
                    array_len: None,
                    bits: None,
                },
            );
        }
        self.t.add_struct(
            "kernel_param",
            40,
            &[
                ("name", 0, 8),
                ("mod", 8, 8),
                ("ops", 16, 8),
                ("perm", 24, 2),
                ("arg", 32, 8),
            ],
        );
        self.t.add_struct(
            "kparam_array",
            32,
            &[
                ("max", 0, 4),
                ("elemsize", 4, 4),
                ("num", 8, 8),
                ("ops", 16, 8),
                ("elem", 24, 8),
            ],
        );
        let (int_ops, charp_ops, array_ops) = (
            0xffff_ffff_8200_1000u64,
            0xffff_ffff_8200_1040u64,
            0xffff_ffff_8200_1080u64,
        );
        self.t.add_symbol("param_ops_int", int_ops);
        self.t.add_symbol("param_ops_charp", charp_ops);
        self.t.add_symbol("param_array_ops", array_ops);
        let value = self.alloc(7i32.to_le_bytes().to_vec());
        let text = self.cstring("hello");
        let charp = self.alloc(text.to_le_bytes().to_vec());
        let num = self.alloc(2u32.to_le_bytes().to_vec());
        let elems = self.alloc([1i32, 2, 0].iter().flat_map(|v| v.to_le_bytes()).collect());
        let mut arr = vec![0u8; 32];
        arr[0..4].copy_from_slice(&3u32.to_le_bytes());
        arr[4..8].copy_from_slice(&4u32.to_le_bytes());
        arr[8..16].copy_from_slice(&num.to_le_bytes());
        arr[16..24].copy_from_slice(&int_ops.to_le_bytes());
        arr[24..32].copy_from_slice(&elems.to_le_bytes());
        let arr = self.alloc(arr);
        let mut table = Vec::new();
        for (name, ops, arg) in [
            ("debug", int_ops, value),
            ("mode", charp_ops, charp),
            ("ids", array_ops, arr),
        ] {
            let n = self.cstring(name);
            let mut kp = vec![0u8; 40];
            kp[0..8].copy_from_slice(&n.to_le_bytes());
            kp[16..24].copy_from_slice(&ops.to_le_bytes());
            kp[24..26].copy_from_slice(&0o644u16.to_le_bytes());
            kp[32..40].copy_from_slice(&arg.to_le_bytes());
            table.extend(kp);
        }
        let kp = self.alloc(table);
        self.t.write_u64(module + OFF_KP, kp);
        self.t.write_u32(module + OFF_NUM_KP, 3);

        self.t.add_struct(
            "key",
            0x100,
            &[
                ("serial", 4, 4),
                ("type", 0x10, 8),
                ("description", 0x20, 8),
                ("expiry", 0x28, 8),
                ("keys", 0x40, 16),
            ],
        );
        self.t.add_struct(
            "assoc_array",
            16,
            &[("root", 0, 8), ("nr_leaves_on_tree", 8, 8)],
        );
        self.t.add_struct("key_type", 64, &[("name", 0, 8)]);
        let asym_name = self.cstring("asymmetric");
        let asym = self.alloc(asym_name.to_le_bytes().to_vec());
        let ring_name = self.cstring("keyring");
        let ring_type = self.alloc(ring_name.to_le_bytes().to_vec());
        let key = |k: &mut Kit, serial: u32, ty: u64, desc: &str, root: u64, n: u64| {
            let d = k.cstring(desc);
            let mut b = vec![0u8; 0x100];
            b[4..8].copy_from_slice(&serial.to_le_bytes());
            b[0x10..0x18].copy_from_slice(&ty.to_le_bytes());
            b[0x20..0x28].copy_from_slice(&d.to_le_bytes());
            b[0x40..0x48].copy_from_slice(&root.to_le_bytes());
            b[0x48..0x50].copy_from_slice(&n.to_le_bytes());
            k.alloc(b)
        };
        let k1 = key(
            self,
            0x1586_c79e,
            asym,
            "Debian Secure Boot CA: 6ccece7e",
            0,
            0,
        );
        let k2 = key(
            self,
            0x1586_c79f,
            asym,
            "Build time autogenerated kernel key: cf735cef",
            0,
            0,
        );
        let mut node = vec![0u8; 16 + 16 * 8 + 8];
        node[16..24].copy_from_slice(&k1.to_le_bytes());
        node[24..32].copy_from_slice(&k2.to_le_bytes());
        let node = self.alloc(node);
        let ring = key(
            self,
            0x1586_c79d,
            ring_type,
            ".builtin_trusted_keys",
            node | 1,
            2,
        );
        let var = self.alloc(ring.to_le_bytes().to_vec());
        self.t.add_symbol("builtin_trusted_keys", var);
    }

    /// Write the `modules` ring in [`Kit::modules`] order.
    pub fn link(&mut self) {
        let mut nodes = vec![MODULES];
        nodes.extend(self.modules.iter().map(|a| a + OFF_LIST));
        for (i, &n) in nodes.iter().enumerate() {
            let next = nodes[(i + 1) % nodes.len()];
            let prev = nodes[(i + nodes.len() - 1) % nodes.len()];
            self.t.write_u64(n, next);
            self.t.write_u64(n + 8, prev);
        }
    }

    /// 6.0+ `struct {char name[57]; char taints[23];} last_unloaded_module`.
    pub fn last_unloaded_struct(&mut self, name: &str, taints: &str) {
        let mut b = vec![0u8; 80];
        b[..name.len()].copy_from_slice(name.as_bytes());
        b[57..57 + taints.len()].copy_from_slice(taints.as_bytes());
        if self.t.symbol("last_unloaded_module").is_some() {
            self.t.write(LAST_UNLOADED, &b);
            return;
        }
        self.t.map(LAST_UNLOADED, b);
        self.t.add_symbol("last_unloaded_module", LAST_UNLOADED);
        self.t.add_type(
            TypeRef::TypeOf("last_unloaded_module"),
            80,
            &[("name", 0, 57), ("taints", 57, 23)],
        );
    }

    /// Pre-6.0 `char last_unloaded_module[57]`.
    pub fn last_unloaded_array(&mut self, name: &str) {
        let mut b = vec![0u8; 57];
        b[..name.len()].copy_from_slice(name.as_bytes());
        self.t.map(LAST_UNLOADED, b);
        self.t.add_symbol("last_unloaded_module", LAST_UNLOADED);
        self.t
            .add_type(TypeRef::TypeOf("last_unloaded_module"), 57, &[]);
    }

    /// CONFIG_MODULE_UNLOAD_TAINT_TRACKING's list of `struct mod_unload_taint {list; name[56]; taints;
    /// count;}` (96 bytes).
    pub fn unloaded_tainted(&mut self, entries: &[(&str, u64, u64)]) {
        self.t.add_struct(
            "mod_unload_taint",
            96,
            &[
                ("list", 0, 16),
                ("name", 16, 56),
                ("taints", 72, 8),
                ("count", 80, 8),
            ],
        );
        let head = self.alloc(vec![0u8; 16]);
        self.t.add_symbol("unloaded_tainted_modules", head);
        let mut nodes = vec![head];
        for &(name, taints, count) in entries {
            let mut b = vec![0u8; 96];
            b[16..16 + name.len()].copy_from_slice(name.as_bytes());
            b[72..80].copy_from_slice(&taints.to_le_bytes());
            b[80..88].copy_from_slice(&count.to_le_bytes());
            nodes.push(self.alloc(b));
        }
        for (i, &n) in nodes.iter().enumerate() {
            self.t.write_u64(n, nodes[(i + 1) % nodes.len()]);
            self.t
                .write_u64(n + 8, nodes[(i + nodes.len() - 1) % nodes.len()]);
        }
    }
}

/// Bits by letter in the mainline table.
pub fn bits(letters: &str) -> u64 {
    letters.chars().fold(0, |acc, c| {
        let bit = MAINLINE
            .iter()
            .position(|&(t, _, _, _)| t as char == c)
            .expect("mainline letter");
        acc | 1 << bit
    })
}
