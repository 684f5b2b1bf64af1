//! The keys the kernel trusted for module signatures: the keyrings `.builtin_trusted_keys`,
//! `.secondary_trusted_keys`, `.platform` and `.machine` (5.18+), each read from the `struct key *` the kernel
//! keeps in `builtin_trusted_keys`, `secondary_trusted_keys`, `platform_trusted_keys` (or
//! `platform_keyring`) and `machine_trusted_keys`, where the kernel has them.
//!
//! A keyring's keys live in its `keys` `assoc_array` (lib/assoc_array.c, include/linux/assoc_array_priv.h):
//! `root` is a tagged pointer, bit 0 set for metadata (bit 1 then tells a shortcut from a node), clear for
//! a leaf; a node has 16 slots, a shortcut a `next_node`; keyring leaves carry bit 1 when the key is itself
//! a keyring (security/keys/keyring.c). The walk is bounded ([`MAX_NODES`], [`MAX_KEYS`]), remembers the
//! nodes it visited, and ends a loop or a wild pointer with a named problem.
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! use analyzers::keyrings::read_keyrings;
//! let t = FakeTarget::new(); // no keyring symbols at all
//! let k = read_keyrings(&t);
//! assert!(k.keyrings.is_empty());
//! ```

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::memread::read_cstr;
use crate::target::{Member, Target, TypeRef};

/// Most assoc_array nodes and shortcuts visited per keyring.
pub const MAX_NODES: usize = 4096;
/// Most keys read per keyring.
pub const MAX_KEYS: usize = 4096;
const FAN_OUT: u64 = 16;
const MAX_DESC: usize = 512;

/// The keyring variables, in report order: (symbol, keyring name as the kernel names it).
const KEYRINGS: &[(&[&str], &str)] = &[
    (&["builtin_trusted_keys"], ".builtin_trusted_keys"),
    (&["secondary_trusted_keys"], ".secondary_trusted_keys"),
    (&["platform_trusted_keys", "platform_keyring"], ".platform"),
    (&["machine_trusted_keys"], ".machine"),
];

/// One key. JSON: an element of a keyring's `keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub serial: Option<u32>,
    /// The key type's name (`asymmetric` for X.509 certificates).
    pub key_type: Option<String>,
    /// For X.509 keys: `SIGNER: CN: KEY ID` (as `/proc/keys` shows it).
    pub description: Option<String>,
    /// Expiry, seconds since the epoch (UTC); `None` when the key never expires (`expiry` 0 or
    /// TIME64_MAX).
    pub expiry: Option<i64>,
    #[serde(
        serialize_with = "crate::hex::one",
        deserialize_with = "crate::hex::read_one"
    )]
    pub address: u64,
}

/// One keyring and its keys. JSON: an element of `keyrings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyring {
    /// `.builtin_trusted_keys`, ...
    pub name: String,
    /// The kernel variable it was found through.
    pub symbol: String,
    /// The keyring's own description as the kernel keeps it (normally `name`).
    pub description: Option<String>,
    #[serde(
        serialize_with = "crate::hex::one",
        deserialize_with = "crate::hex::read_one"
    )]
    pub address: u64,
    /// `keys.nr_leaves_on_tree`: how many keys the kernel counted.
    pub nr_leaves: Option<u64>,
    pub keys: Vec<KeyInfo>,
    /// What could not be read in this keyring.
    pub problems: Vec<String>,
}

/// The keyrings the kernel has, and problems not tied to one keyring.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Keyrings {
    pub keyrings: Vec<Keyring>,
    pub problems: Vec<String>,
}

struct KeyLayout {
    description: Member,
    key_type: Member,
    type_name: Member,
    expiry: Option<Member>,
    serial: Option<Member>,
    root: u64,
    nr_leaves: Option<u64>,
    node_slots: u64,
    shortcut_next: u64,
}

impl KeyLayout {
    fn learn(t: &dyn Target) -> Result<Self, String> {
        let key = TypeRef::Struct("key");
        let need = |ty: TypeRef<'_>, m: &str| {
            t.member(ty, m)
                .ok_or_else(|| format!("no {ty}.{m} in the kernel's types"))
        };
        let keys = need(key, "keys")?;
        let aa = TypeRef::Struct("assoc_array");
        let root = keys.offset + t.member(aa, "root").map_or(0, |m| m.offset);
        let nr_leaves = t
            .member(aa, "nr_leaves_on_tree")
            .map(|m| keys.offset + m.offset);
        Ok(KeyLayout {
            description: need(key, "description")?,
            key_type: need(key, "type")?,
            type_name: need(TypeRef::Struct("key_type"), "name")?,
            expiry: t.member(key, "expiry"),
            serial: t.member(key, "serial"),
            root,
            nr_leaves,
            // include/linux/assoc_array_priv.h: back_pointer, parent_slot, slots[16].
            node_slots: t
                .member(TypeRef::Struct("assoc_array_node"), "slots")
                .map_or(16, |m| m.offset),
            // back_pointer, int parent_slot, int skip_to_level, next_node.
            shortcut_next: t
                .member(TypeRef::Struct("assoc_array_shortcut"), "next_node")
                .map_or(16, |m| m.offset),
        })
    }
}

/// Every keyring of [`KEYRINGS`] the kernel has. A kernel without the symbols (no
/// CONFIG_SYSTEM_TRUSTED_KEYRING, or a symbol source without static variables) gives none, and says so.
pub fn read_keyrings(t: &dyn Target) -> Keyrings {
    let mut out = Keyrings::default();
    let found: Vec<(&str, &str, u64)> = KEYRINGS
        .iter()
        .filter_map(|(syms, name)| syms.iter().find_map(|s| Some((*s, *name, t.symbol(s)?))))
        .collect();
    if found.is_empty() {
        return out;
    }
    let layout = match KeyLayout::learn(t) {
        Ok(l) => l,
        Err(e) => {
            out.problems.push(e);
            return out;
        }
    };
    for (symbol, name, var) in found {
        let key = match t.read_u64(var) {
            Ok(0) => continue, // declared but never set up (e.g. no secondary keyring configured)
            Ok(k) => k,
            Err(e) => {
                out.problems
                    .push(format!("{symbol} at {var:#x} unreadable: {e}"));
                continue;
            }
        };
        out.keyrings
            .push(read_keyring(t, &layout, symbol, name, key));
    }
    out
}

fn read_keyring(t: &dyn Target, l: &KeyLayout, symbol: &str, name: &str, key: u64) -> Keyring {
    let mut problems = Vec::new();
    let description = string_member(t, key, &l.description)
        .map_err(|e| problems.push(e))
        .ok();
    let nr_leaves = l
        .nr_leaves
        .and_then(|o| t.read_u64(key.wrapping_add(o)).ok());
    let mut keys = Vec::new();
    match t.read_u64(key.wrapping_add(l.root)) {
        Ok(root) => walk(t, l, root, &mut keys, &mut problems),
        Err(e) => problems.push(format!("keys.root unreadable: {e}")),
    }
    if let Some(n) = nr_leaves {
        if n != keys.len() as u64 && problems.is_empty() {
            problems.push(format!(
                "the kernel counted {n} keys, the walk found {}",
                keys.len()
            ));
        }
    }
    Keyring {
        name: name.to_string(),
        symbol: symbol.to_string(),
        description,
        address: key,
        nr_leaves,
        keys,
        problems,
    }
}

fn string_member(t: &dyn Target, base: u64, m: &Member) -> Result<String, String> {
    let p = t.read_u64(base.wrapping_add(m.offset)).map_err(|e| {
        format!(
            "pointer at {:#x} unreadable: {e}",
            base.wrapping_add(m.offset)
        )
    })?;
    if p == 0 {
        return Err("NULL string pointer".into());
    }
    read_cstr(t, p, MAX_DESC).map_err(|e| format!("string at {p:#x} unreadable: {e}"))
}

fn walk(
    t: &dyn Target,
    l: &KeyLayout,
    root: u64,
    keys: &mut Vec<KeyInfo>,
    problems: &mut Vec<String>,
) {
    let mut stack = vec![root];
    let mut seen: HashSet<u64> = HashSet::new();
    let mut leaves: HashSet<u64> = HashSet::new();
    while let Some(ptr) = stack.pop() {
        if ptr == 0 {
            continue;
        }
        if ptr & 1 == 0 {
            // A leaf: a struct key, bit 1 marking a keyring.
            let key = ptr & !3;
            if !leaves.insert(key) {
                problems.push(format!(
                    "key {key:#x} appears twice in the array: stopped there"
                ));
                return;
            }
            if keys.len() >= MAX_KEYS {
                problems.push(format!("more than {MAX_KEYS} keys: stopped there"));
                return;
            }
            keys.push(read_key(t, l, key, problems));
            continue;
        }
        let meta = ptr & !3;
        if !seen.insert(meta) {
            problems.push(format!(
                "assoc_array loops: {meta:#x} visited twice; stopped there"
            ));
            return;
        }
        if seen.len() > MAX_NODES {
            problems.push(format!("more than {MAX_NODES} array nodes: stopped there"));
            return;
        }
        if ptr & 2 != 0 {
            match t.read_u64(meta.wrapping_add(l.shortcut_next)) {
                Ok(next) => stack.push(next),
                Err(e) => {
                    problems.push(format!("shortcut {meta:#x} unreadable: {e}"));
                    return;
                }
            }
        } else {
            let mut b = vec![0u8; (FAN_OUT * 8) as usize];
            if let Err(e) = t.read(meta.wrapping_add(l.node_slots), &mut b) {
                problems.push(format!("array node {meta:#x} unreadable: {e}"));
                return;
            }
            for s in b.chunks_exact(8).rev() {
                stack.push(u64::from_le_bytes(s.try_into().unwrap_or([0; 8])));
            }
        }
    }
}

fn read_key(t: &dyn Target, l: &KeyLayout, key: u64, problems: &mut Vec<String>) -> KeyInfo {
    let mut note = |what: String| problems.push(format!("key {key:#x}: {what}"));
    let description = string_member(t, key, &l.description)
        .map_err(&mut note)
        .ok();
    let key_type = match t.read_u64(key.wrapping_add(l.key_type.offset)) {
        Ok(ty) if ty != 0 => string_member(t, ty, &l.type_name).map_err(&mut note).ok(),
        Ok(_) => None,
        Err(e) => {
            note(format!("type unreadable: {e}"));
            None
        }
    };
    let expiry = l.expiry.and_then(|m| {
        t.read_u64(key.wrapping_add(m.offset))
            .map_err(|e| note(format!("expiry unreadable: {e}")))
            .ok()
            .map(|v| v as i64)
            // 0 (older kernels) and TIME64_MAX (6.x) both mean "never".
            .filter(|&v| v != 0 && v != i64::MAX)
    });
    let serial = l
        .serial
        .and_then(|m| t.read_u32(key.wrapping_add(m.offset)).ok());
    KeyInfo {
        serial,
        key_type,
        description,
        expiry,
        address: key,
    }
}
