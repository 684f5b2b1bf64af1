//! VMCOREINFO: the `KEY=VALUE` text the kernel leaves for dump tools.
//!
//! Every key is kept in order; the ones this project relies on are typed. Values follow the kernel's own
//! conventions: `SYMBOL()` and `KERNELOFFSET` are hexadecimal without `0x`, `NUMBER()` is signed decimal,
//! `OFFSET()`, `SIZE()`, `LENGTH()` and `PAGESIZE` are decimal.
//!
//! ```
//! let info = vmcore::VmcoreInfo::parse("OSRELEASE=6.1.0-56-cloud-amd64\nPAGESIZE=4096\nSYMBOL(prb)=ffffffff82a6e7d8\nNUMBER(phys_base)=-2147483648\nKERNELOFFSET=1c00000\n");
//! assert_eq!(info.osrelease.as_deref(), Some("6.1.0-56-cloud-amd64"));
//! assert_eq!(info.symbol("prb"), Some(0xffffffff82a6e7d8));
//! assert_eq!(info.phys_base, Some(-2147483648));
//! assert_eq!(info.kernel_offset, Some(0x1c00000));
//! ```

use serde::Serialize;

/// Parsed VMCOREINFO.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VmcoreInfo {
    /// Every `KEY=VALUE` line, in order.
    pub entries: Vec<(String, String)>,
    pub osrelease: Option<String>,
    /// Hex string, as the kernel prints it.
    pub build_id: Option<String>,
    pub page_size: Option<u64>,
    /// The KASLR slide of kernel text.
    pub kernel_offset: Option<u64>,
    /// `NUMBER(phys_base)`: signed, it is negative when the kernel runs below its link address.
    pub phys_base: Option<i64>,
    pub init_top_pgt: Option<u64>,
    pub swapper_pg_dir: Option<u64>,
    pub stext: Option<u64>,
    pub pgtable_l5_enabled: Option<bool>,
    pub sme_mask: Option<u64>,
    pub kernel_image_size: Option<u64>,
    /// Seconds since the epoch at the crash (`CRASHTIME`).
    pub crashtime: Option<i64>,
}

impl VmcoreInfo {
    /// Parse the note's text. Lines without `=` and trailing NULs are ignored; values are trimmed.
    pub fn parse(text: &str) -> VmcoreInfo {
        let mut info = VmcoreInfo::default();
        for line in text.split('\n') {
            let line = line.trim_end_matches(['\0', '\r']);
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if k.is_empty() {
                continue;
            }
            info.entries.push((k.to_string(), v.trim().to_string()));
        }
        info.osrelease = info.get("OSRELEASE").map(str::to_string);
        info.build_id = info.get("BUILD-ID").map(str::to_string);
        info.page_size = info.get("PAGESIZE").and_then(|v| v.parse().ok());
        info.kernel_offset = info.get("KERNELOFFSET").and_then(parse_hex);
        info.phys_base = info.number("phys_base");
        info.init_top_pgt = info.symbol("init_top_pgt");
        info.swapper_pg_dir = info.symbol("swapper_pg_dir");
        info.stext = info.symbol("_stext");
        info.pgtable_l5_enabled = info.number("pgtable_l5_enabled").map(|v| v != 0);
        info.sme_mask = info.number("sme_mask").map(|v| v as u64);
        info.kernel_image_size = info.number("KERNEL_IMAGE_SIZE").map(|v| v as u64);
        info.crashtime = info.get("CRASHTIME").and_then(|v| v.parse().ok());
        info
    }

    /// The last value of `key` (the kernel never repeats a key; a repeat means the later one is current).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `SYMBOL(name)`: already KASLR-adjusted.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.get(&format!("SYMBOL({name})")).and_then(parse_hex)
    }

    /// `NUMBER(name)`.
    pub fn number(&self, name: &str) -> Option<i64> {
        self.get(&format!("NUMBER({name})"))
            .and_then(|v| v.parse().ok())
    }

    /// `OFFSET(struct.member)`.
    pub fn offset(&self, path: &str) -> Option<u64> {
        self.get(&format!("OFFSET({path})"))
            .and_then(|v| v.parse().ok())
    }

    /// `SIZE(name)`.
    pub fn size(&self, name: &str) -> Option<u64> {
        self.get(&format!("SIZE({name})"))
            .and_then(|v| v.parse().ok())
    }

    /// `LENGTH(name)`.
    pub fn length(&self, name: &str) -> Option<u64> {
        self.get(&format!("LENGTH({name})"))
            .and_then(|v| v.parse().ok())
    }
}

fn parse_hex(v: &str) -> Option<u64> {
    u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_key_and_types_the_known_ones() {
        let t = "OSRELEASE=6.1.0\nBUILD-ID=abcd\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff9a00a000\n\
                 NUMBER(pgtable_l5_enabled)=0\nNUMBER(sme_mask)=0\nOFFSET(printk_info.ts_nsec)=8\n\
                 SIZE(printk_info)=88\nLENGTH(node_data)=64\nCRASHTIME=1763900000\nbogus line\n\0\0";
        let i = VmcoreInfo::parse(t);
        assert_eq!(i.entries.len(), 10);
        assert_eq!(i.build_id.as_deref(), Some("abcd"));
        assert_eq!(i.page_size, Some(4096));
        assert_eq!(i.init_top_pgt, Some(0xffffffff9a00a000));
        assert_eq!(i.pgtable_l5_enabled, Some(false));
        assert_eq!(i.offset("printk_info.ts_nsec"), Some(8));
        assert_eq!(i.size("printk_info"), Some(88));
        assert_eq!(i.length("node_data"), Some(64));
        assert_eq!(i.crashtime, Some(1763900000));
        assert_eq!(i.kernel_offset, None);
    }
}
