//! `/proc/kallsyms` of a running kernel: `ADDRESS TYPE NAME [MODULE]` lines, addresses already relocated
//! (KASLR applied). The kernel prints zeros instead of addresses to readers it does not trust
//! (`kptr_restrict`, no `CAP_SYSLOG`): such a file has names but no addresses, and is refused as a source.
//!
//! ```
//! let text = "ffffffff81000000 T _stext\nffffffff82a0b0c8 d tainted_mask\nffffffffc0a00000 t f\t[oot]\n";
//! let k = symbols::proc_kallsyms::ProcKallsyms::parse(text.as_bytes()).unwrap();
//! assert_eq!(k.address("tainted_mask"), Some(0xffff_ffff_82a0_b0c8));
//! assert_eq!(k.address("f"), None); // module symbols are not the kernel's own
//! assert_eq!(k.extent("_stext"), Some(0x1a0_b0c8)); // up to the next symbol above it
//! ```

use std::collections::HashMap;
use std::sync::OnceLock;

/// Why a `/proc/kallsyms` text gives no addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcKallsymsError {
    /// Every address is 0: the kernel hides them from this reader.
    #[error("every address is 0: the kernel hides them from this reader (kptr_restrict; read it as root)")]
    Hidden,
    /// Not a kallsyms text.
    #[error("line {line}: expected `ADDRESS TYPE NAME`, found {found:?}")]
    Malformed { line: usize, found: String },
    #[error("no symbols")]
    Empty,
}

/// The kernel's own symbols (module symbols left out), by name; the first of equal names wins, as in the
/// kernel's own lookup order.
#[derive(Debug, Clone, Default)]
pub struct ProcKallsyms {
    by_name: HashMap<String, u64>,
    /// Every kernel symbol's address, sorted, made on the first [`ProcKallsyms::extent`] (only arm64's
    /// recovery from code asks): a symbol ends where the next one above it starts.
    addresses: OnceLock<Vec<u64>>,
}

/// Lines read at most (a kernel has a few hundred thousand symbols; modules add some).
const MAX_LINES: usize = 4_000_000;

impl ProcKallsyms {
    /// Parse the text of `/proc/kallsyms`.
    pub fn parse(text: &[u8]) -> Result<ProcKallsyms, ProcKallsymsError> {
        let mut by_name = HashMap::new();
        let mut nonzero = false;
        for (i, line) in text.split(|&b| b == b'\n').take(MAX_LINES).enumerate() {
            if line.is_empty() {
                continue;
            }
            let line = String::from_utf8_lossy(line);
            let mut f = line.split_ascii_whitespace();
            let (Some(addr), Some(_ty), Some(name)) = (f.next(), f.next(), f.next()) else {
                return Err(ProcKallsymsError::Malformed {
                    line: i + 1,
                    found: line.chars().take(80).collect(),
                });
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                return Err(ProcKallsymsError::Malformed {
                    line: i + 1,
                    found: line.chars().take(80).collect(),
                });
            };
            if f.next().is_some() {
                continue; // `[module]`
            }
            nonzero |= addr != 0;
            by_name.entry(name.to_string()).or_insert(addr);
        }
        if by_name.is_empty() {
            return Err(ProcKallsymsError::Empty);
        }
        if !nonzero {
            return Err(ProcKallsymsError::Hidden);
        }
        Ok(ProcKallsyms {
            by_name,
            addresses: OnceLock::new(),
        })
    }

    /// The run-time address of a kernel symbol.
    pub fn address(&self, name: &str) -> Option<u64> {
        self.by_name.get(name).copied()
    }

    /// Bytes from a kernel symbol to the next symbol above it: an upper bound on its size, as the dump's
    /// kallsyms gives (the file has no sizes); `None` for the highest symbol or an unknown name.
    pub fn extent(&self, name: &str) -> Option<u64> {
        let addr = self.address(name)?;
        let addresses = self.addresses.get_or_init(|| {
            let mut a: Vec<u64> = self.by_name.values().copied().collect();
            a.sort_unstable();
            a.dedup();
            a
        });
        let next = addresses.partition_point(|&a| a <= addr);
        addresses.get(next).map(|&n| n - addr)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_addresses_are_refused() {
        let t = b"0000000000000000 T _stext\n0000000000000000 D tainted_mask\n";
        assert_eq!(
            ProcKallsyms::parse(t).unwrap_err(),
            ProcKallsymsError::Hidden
        );
    }

    #[test]
    fn garbage_is_named() {
        assert!(matches!(
            ProcKallsyms::parse(b"\x7fELF\x02\x01"),
            Err(ProcKallsymsError::Malformed { line: 1, .. })
        ));
        assert_eq!(
            ProcKallsyms::parse(b"").unwrap_err(),
            ProcKallsymsError::Empty
        );
    }
}
