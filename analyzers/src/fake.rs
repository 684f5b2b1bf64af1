//! An in-memory [`Target`] for tests: memory regions, symbols, type layouts and VMCOREINFO set by hand.
//!
//! It lets tests build kernel states no real dump of ours has (old layouts, looped lists, wild pointers)
//! without writing a dump file.
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! use analyzers::target::{Target, TypeRef};
//! let mut t = FakeTarget::new();
//! t.map(0xffff_8880_0000_1000, vec![0; 64]);
//! t.write_u64(0xffff_8880_0000_1000, 0x3201);
//! t.add_symbol("tainted_mask", 0xffff_8880_0000_1000);
//! t.add_struct("taint_flag", 3, &[("c_true", 0, 1), ("c_false", 1, 1), ("module", 2, 1)]);
//! assert_eq!(t.read_u64(t.symbol("tainted_mask").unwrap()).unwrap(), 0x3201);
//! assert_eq!(t.member(TypeRef::Struct("taint_flag"), "module").unwrap().offset, 2);
//! ```

use std::collections::{BTreeMap, HashMap};

use crate::target::{Member, ReadError, Target, TypeRef};

/// See the module documentation.
#[derive(Debug, Default, Clone)]
pub struct FakeTarget {
    /// start address -> bytes; regions never overlap.
    regions: BTreeMap<u64, Vec<u8>>,
    /// Address ranges that read as [`ReadError::Excluded`].
    excluded: Vec<std::ops::Range<u64>>,
    symbols: HashMap<String, u64>,
    extents: HashMap<String, u64>,
    sizes: HashMap<String, u64>,
    members: HashMap<(String, String), Member>,
    enumerators: HashMap<String, i64>,
    vmcoreinfo: HashMap<String, String>,
    /// start address -> (name, size): what [`Target::symbol_at`] answers.
    functions: BTreeMap<u64, (String, u64)>,
}

fn type_key(ty: TypeRef<'_>) -> String {
    ty.to_string()
}

impl FakeTarget {
    pub fn new() -> Self {
        Self::default()
    }

    /// Map `bytes` at `addr`. Panics (test helper) if it overlaps an existing region.
    pub fn map(&mut self, addr: u64, bytes: Vec<u8>) {
        let end = addr + bytes.len() as u64;
        if let Some((&s, b)) = self.regions.range(..end).next_back() {
            assert!(
                s + b.len() as u64 <= addr,
                "FakeTarget::map: {addr:#x} overlaps region at {s:#x}"
            );
        }
        self.regions.insert(addr, bytes);
    }

    /// Make reads of `range` fail with [`ReadError::Excluded`].
    pub fn exclude(&mut self, range: std::ops::Range<u64>) {
        self.excluded.push(range);
    }

    /// Overwrite mapped bytes. Panics (test helper) if not mapped.
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        let (&s, b) = self
            .regions
            .range_mut(..=addr)
            .next_back()
            .expect("FakeTarget::write: address not mapped");
        let off = (addr - s) as usize;
        assert!(
            off + data.len() <= b.len(),
            "FakeTarget::write: {addr:#x} runs past its region"
        );
        b[off..off + data.len()].copy_from_slice(data);
    }

    pub fn write_u64(&mut self, addr: u64, v: u64) {
        self.write(addr, &v.to_le_bytes());
    }

    pub fn write_u32(&mut self, addr: u64, v: u32) {
        self.write(addr, &v.to_le_bytes());
    }

    pub fn add_symbol(&mut self, name: &str, addr: u64) {
        self.symbols.insert(name.to_string(), addr);
    }

    /// A function of `size` bytes at `addr`: a symbol, and what [`Target::symbol_at`] answers inside it.
    pub fn add_function(&mut self, name: &str, addr: u64, size: u64) {
        self.add_symbol(name, addr);
        self.functions.insert(addr, (name.to_string(), size));
    }

    /// Declare `struct NAME` of `size` bytes with simple members `(name, offset, size)`.
    pub fn add_struct(&mut self, name: &str, size: u64, members: &[(&str, u64, u64)]) {
        self.add_type(TypeRef::Struct(name), size, members);
    }

    /// Declare any type (struct, union, or a variable's type) with simple members `(name, offset, size)`.
    pub fn add_type(&mut self, ty: TypeRef<'_>, size: u64, members: &[(&str, u64, u64)]) {
        self.sizes.insert(type_key(ty), size);
        for &(m, offset, msize) in members {
            self.add_member(
                ty,
                m,
                Member {
                    offset,
                    size: msize,
                    array_len: None,
                    bits: None,
                },
            );
        }
    }

    /// Declare one member with full detail (arrays, bit fields, dotted nested paths).
    pub fn add_member(&mut self, ty: TypeRef<'_>, path: &str, member: Member) {
        self.members
            .insert((type_key(ty), path.to_string()), member);
    }

    pub fn add_enumerator(&mut self, name: &str, value: i64) {
        self.enumerators.insert(name.to_string(), value);
    }

    /// Answer [`Target::symbol_extent`] for `name` (a source without symbol sizes, like kallsyms).
    pub fn set_symbol_extent(&mut self, name: &str, extent: u64) {
        self.extents.insert(name.to_string(), extent);
    }

    pub fn set_vmcoreinfo(&mut self, key: &str, value: &str) {
        self.vmcoreinfo.insert(key.to_string(), value.to_string());
    }

    /// How many regions are mapped.
    pub fn region_count(&self) -> usize {
        self.regions.len()
    }

    /// Overwrite bytes of the `n`-th region (modulo the count) from `offset` (modulo its length), clipped at
    /// its end: how fuzzing turns a well-formed kernel into hostile memory (loops, wild pointers, huge counts).
    pub fn overwrite(&mut self, n: usize, offset: usize, data: &[u8]) {
        let count = self.regions.len();
        if count == 0 {
            return;
        }
        let Some(bytes) = self.regions.values_mut().nth(n % count) else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        let start = offset % bytes.len();
        let n = data.len().min(bytes.len() - start);
        bytes[start..start + n].copy_from_slice(&data[..n]);
    }
}

impl Target for FakeTarget {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.wrapping_add(done as u64);
            let (&s, b) = self
                .regions
                .range(..=a)
                .next_back()
                .ok_or(ReadError::Unmapped {
                    vaddr: a,
                    detail: "nothing mapped there in the fake target",
                })?;
            let off = (a - s) as usize;
            if off >= b.len() {
                return Err(ReadError::Unmapped {
                    vaddr: a,
                    detail: "nothing mapped there in the fake target",
                });
            }
            let n = (b.len() - off).min(buf.len() - done);
            let end = a + n as u64;
            if let Some(first) = self
                .excluded
                .iter()
                .filter(|r| r.start < end && a < r.end)
                .map(|r| r.start.max(a))
                .min()
            {
                // The fake target maps virtual addresses to themselves.
                return Err(ReadError::Excluded { paddr: first });
            }
            buf[done..done + n].copy_from_slice(&b[off..off + n]);
            done += n;
        }
        Ok(())
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }

    fn symbol_extent(&self, name: &str) -> Option<u64> {
        self.extents.get(name).copied()
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        self.sizes.get(&type_key(ty)).copied()
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        self.members.get(&(type_key(ty), path.to_string())).copied()
    }

    fn enumerator(&self, name: &str) -> Option<i64> {
        self.enumerators.get(name).copied()
    }

    fn vmcoreinfo(&self, key: &str) -> Option<String> {
        self.vmcoreinfo.get(key).cloned()
    }

    fn symbol_at(&self, addr: u64) -> Option<crate::target::SymbolAt> {
        let (&start, (name, size)) = self.functions.range(..=addr).next_back()?;
        (addr - start < *size).then(|| crate::target::SymbolAt {
            name: name.clone(),
            address: start,
            size: Some(*size),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_span_adjacent_regions_and_stop_at_holes() {
        let mut t = FakeTarget::new();
        t.map(0x1000, vec![1; 16]);
        t.map(0x1010, vec![2; 16]);
        let mut b = [0u8; 20];
        t.read(0x1008, &mut b).unwrap();
        assert_eq!(&b[..8], &[1; 8]);
        assert_eq!(&b[8..], &[2; 12]);
        let mut c = [0u8; 40];
        assert_eq!(
            t.read(0x1000, &mut c),
            Err(ReadError::Unmapped {
                vaddr: 0x1020,
                detail: "nothing mapped there in the fake target"
            })
        );
        t.exclude(0x1004..0x1008);
        assert_eq!(
            t.read(0x1000, &mut c[..8]),
            Err(ReadError::Excluded { paddr: 0x1004 })
        );
    }
}
