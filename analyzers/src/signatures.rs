//! Module signature policy: `sig_enforce`, kernel lockdown, unsigned modules, and whether they explain the
//! E (UNSIGNED_MODULE) flag.
//!
//! `static bool sig_enforce` starts as `IS_ENABLED(CONFIG_MODULE_SIG_FORCE)`; the `module.sig_enforce`
//! parameter and `set_module_sig_enforced()` (x86 secure boot via IMA's arch policy) can only turn it on.
//! So `false` proves CONFIG_MODULE_SIG_FORCE is off, `true` proves nothing about the config. Under any
//! lockdown level other than none, unsigned modules are refused even when `sig_enforce` is false
//! (`module_sig_check()` asks `security_locked_down(LOCKDOWN_MODULE_SIGNATURE)`).
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! use analyzers::signatures::{read_signature_state, ForceConfig};
//! let mut t = FakeTarget::new();
//! t.map(0x1000, vec![0]);
//! t.add_symbol("sig_enforce", 0x1000);
//! let s = read_signature_state(&t);
//! assert_eq!(s.sig_enforce, Some(false));
//! assert_eq!(s.module_sig_force, ForceConfig::NotSet);
//! ```

use serde::{Deserialize, Serialize};

use crate::modules::ModuleInfo;
use crate::taint::TaintTable;
use crate::target::{Target, TypeRef};

/// What `sig_enforce` tells about CONFIG_MODULE_SIG_FORCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForceConfig {
    /// `sig_enforce` is false: the option is off.
    NotSet,
    /// `sig_enforce` is true: the option, the boot parameter or secure boot set it.
    SetOrEnforcedAtRunTime,
    /// `sig_enforce` could not be read (no CONFIG_MODULE_SIG, or unreadable).
    Unknown,
}

/// Whether the loaded modules account for the E flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsignedExplanation {
    /// E is not set.
    NotSet,
    /// E is set and at least one loaded module is unsigned.
    Explained,
    /// E is set but no loaded module is unsigned: an unloaded module did it.
    UnexplainedByLoadedModules,
    /// E is set but module signatures are not tracked (`sig_ok` absent or unreadable).
    Unknown,
}

/// Signature state read from the dump (no combination with modules or flags yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureState {
    pub sig_enforce: Option<bool>,
    pub module_sig_force: ForceConfig,
    /// `kernel_locked_down` as its `enum lockdown_reason` enumerator name (5.4+), `None` when absent.
    pub lockdown: Option<String>,
    pub problems: Vec<String>,
}

/// The signature section of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signatures {
    pub sig_enforce: Option<bool>,
    pub module_sig_force: ForceConfig,
    pub lockdown: Option<String>,
    /// Whether an unsigned module would be refused now: `sig_enforce` or any lockdown. `None` when unknown.
    pub enforcement_effective: Option<bool>,
    /// Whether modules carry `sig_ok` at all (CONFIG_MODULE_SIG); `None` with no module to tell.
    pub module_sig_supported: Option<bool>,
    /// Names of loaded modules with `sig_ok == false`.
    pub unsigned_modules: Vec<String>,
    pub unsigned_flag_set: bool,
    pub unsigned_flag: UnsignedExplanation,
}

/// The lockdown levels `kernel_locked_down` can hold (security/lockdown/lockdown.c `lockdown_levels`).
const LOCKDOWN_LEVELS: [&str; 3] = [
    "LOCKDOWN_NONE",
    "LOCKDOWN_INTEGRITY_MAX",
    "LOCKDOWN_CONFIDENTIALITY_MAX",
];

/// Read `sig_enforce` and `kernel_locked_down`.
pub fn read_signature_state(t: &dyn Target) -> SignatureState {
    let mut problems = Vec::new();
    let sig_enforce = match t.symbol("sig_enforce") {
        Some(a) => match t.read_uint(a, 1) {
            Ok(v) => Some(v != 0),
            Err(e) => {
                problems.push(format!("sig_enforce unreadable: {e}"));
                None
            }
        },
        None => None,
    };
    let lockdown = t.symbol("kernel_locked_down").and_then(|a| {
        let size = t
            .size_of(TypeRef::TypeOf("kernel_locked_down"))
            .filter(|s| matches!(s, 1 | 2 | 4 | 8))
            .unwrap_or(4);
        match t.read_uint(a, size) {
            Ok(v) => Some(lockdown_name(t, v as i64)),
            Err(e) => {
                problems.push(format!("kernel_locked_down unreadable: {e}"));
                None
            }
        }
    });
    SignatureState {
        sig_enforce,
        module_sig_force: match sig_enforce {
            Some(false) => ForceConfig::NotSet,
            Some(true) => ForceConfig::SetOrEnforcedAtRunTime,
            None => ForceConfig::Unknown,
        },
        lockdown,
        problems,
    }
}

fn lockdown_name(t: &dyn Target, v: i64) -> String {
    for name in LOCKDOWN_LEVELS {
        if t.enumerator(name) == Some(v) {
            return name.to_string();
        }
    }
    if v == 0 {
        // LOCKDOWN_NONE is the first enumerator in every version.
        return "LOCKDOWN_NONE".into();
    }
    format!("unknown ({v})")
}

/// Combine the state with the loaded modules and the mask.
pub fn summarize(
    state: &SignatureState,
    tainted_mask: Option<u64>,
    table: &TaintTable,
    modules: &[ModuleInfo],
) -> Signatures {
    let unsigned_modules: Vec<String> = modules
        .iter()
        .filter(|m| m.signed == Some(false))
        .map(|m| m.name.clone())
        .collect();
    let module_sig_supported = if modules.is_empty() {
        None
    } else {
        Some(modules.iter().any(|m| m.signed.is_some()))
    };
    let e_bit = table.bit_for_letter('E').unwrap_or(13);
    let unsigned_flag_set = tainted_mask.is_some_and(|m| e_bit < 64 && m & (1 << e_bit) != 0);
    let unsigned_flag = if !unsigned_flag_set {
        UnsignedExplanation::NotSet
    } else if !unsigned_modules.is_empty() {
        UnsignedExplanation::Explained
    } else if module_sig_supported == Some(false) {
        UnsignedExplanation::Unknown
    } else {
        UnsignedExplanation::UnexplainedByLoadedModules
    };
    let locked = state.lockdown.as_deref().map(|l| l != "LOCKDOWN_NONE");
    let enforcement_effective = match (state.sig_enforce, locked) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) | (Some(false), None) => Some(false),
        _ => None,
    };
    Signatures {
        sig_enforce: state.sig_enforce,
        module_sig_force: state.module_sig_force,
        lockdown: state.lockdown.clone(),
        enforcement_effective,
        module_sig_supported,
        unsigned_modules,
        unsigned_flag_set,
        unsigned_flag,
    }
}
