//! Types of the global variables the taint analyzers ask about, for BTF.
//!
//! vmlinux BTF describes variables (`VAR` records) only for per-CPU data, so the type of an ordinary
//! global such as `tainted_mask` is not in it. For the few globals the analyzers ask
//! `TypeOf(...)` about, the kernel's declared types are written down here and the pieces looked up
//! in BTF (so sizes, layouts and array lengths still come from the dump's own types):
//!
//! | variable | declared type | kernels |
//! |---|---|---|
//! | `tainted_mask` | `unsigned long` | all (2.6.28+) |
//! | `taint_flags` | `const struct taint_flag[TAINT_FLAGS_COUNT]` | 4.10+ |
//! | `last_unloaded_module` | `struct { char name[..]; char taints[MODULE_FLAGS_BUF_SIZE]; }` | 5.19/6.0+ |
//! | `last_unloaded_module` | `char[MODULE_NAME_LEN + 1]` | before that |
//! | `panic_cpu` | `atomic_t` | 4.5+ |
//! | `kernel_locked_down` | `enum lockdown_reason` | 5.4+ |
//! | `prb` | `struct printk_ringbuffer *` | 5.10+ |
//! | `log_buf` | `char *` | all |
//! | `sig_enforce` | `bool` | all with module signing |
//! | `modules` | `struct list_head` | all |
//!
//! Array lengths are not in BTF either:
//! - `taint_flags`: from the symbol's size when the caller knows it (a vmlinux `.symtab`); else
//!   `TAINT_FLAGS_COUNT` from `last_unloaded_module.taints`, which is `char[TAINT_FLAGS_COUNT + 4]`
//!   (`MODULE_FLAGS_BUF_SIZE`) in every kernel with the struct form. kallsyms has no sizes, and
//!   the distance to the next symbol includes alignment padding, so it is not used.
//! - `last_unloaded_module`: the struct form is found by its shape (the only anonymous struct
//!   whose members are exactly `name` and `taints`), so its sizes are the dump's own (6.16-era
//!   kernels shortened `name` by one byte). Without it, the older `char[MODULE_NAME_LEN + 1]`,
//!   with `MODULE_NAME_LEN` from `struct module.name`.

use crate::btf::{Btf, BtfError};
use crate::types::{BaseEncoding, BaseType, TypeDesc};

/// What `MODULE_FLAGS_BUF_SIZE` adds to `TAINT_FLAGS_COUNT` (the parentheses and NUL around the letters, plus one).
const MODULE_FLAGS_BUF_EXTRA: u64 = 4;

impl Btf {
    /// The type of the global variable `name`: its `VAR` record if BTF has one, else the declared
    /// type from the table in this module's documentation. `symbol_size` (the ELF symbol's size,
    /// when known) gives array lengths.
    pub fn variable_type(
        &self,
        name: &str,
        symbol_size: Option<u64>,
    ) -> Result<TypeDesc, BtfError> {
        if let Some(ty) = self.var_type(name) {
            return self.type_desc(ty);
        }
        let named = |n: &str| -> Result<TypeDesc, BtfError> {
            let id = self.type_id(n).ok_or_else(|| BtfError::NotFound {
                what: "type",
                name: n.to_string(),
            })?;
            self.type_desc(id)
        };
        let not_known = || BtfError::NotFound {
            what: "variable (not in BTF, nor in the table of known globals)",
            name: name.to_string(),
        };
        Ok(match name {
            "tainted_mask" => named("long unsigned int")?,
            "panic_cpu" => named("atomic_t")?,
            "kernel_locked_down" => named("lockdown_reason")?,
            "sig_enforce" => named("_Bool")?,
            "modules" => named("list_head")?,
            "prb" => TypeDesc::Pointer {
                size: 8,
                target: Box::new(TypeDesc::Opaque {
                    kind: crate::types::AggregateKind::Struct,
                    name: Some("printk_ringbuffer".into()),
                }),
            },
            "log_buf" => TypeDesc::Pointer {
                size: 8,
                target: Box::new(char_type()),
            },
            "taint_flags" => {
                let element = named("taint_flag")?;
                let stride = element.size().filter(|&s| s > 0);
                let count = match (symbol_size, stride) {
                    (Some(total), Some(stride)) if total % stride == 0 => Some(total / stride),
                    _ => self.taint_flags_count(),
                };
                TypeDesc::Array {
                    element: Box::new(element),
                    count,
                }
            }
            "last_unloaded_module" => self.last_unloaded_module()?,
            _ => return Err(not_known()),
        })
    }

    /// `TAINT_FLAGS_COUNT`, from `last_unloaded_module.taints` (see the module documentation).
    fn taint_flags_count(&self) -> Option<u64> {
        let ty = self.last_unloaded_module().ok()?;
        let taints = ty.as_layout()?.member("taints").ok()?;
        taints
            .ty
            .as_array()?
            .1?
            .checked_sub(MODULE_FLAGS_BUF_EXTRA)
            .filter(|&n| n > 0)
    }

    fn last_unloaded_module(&self) -> Result<TypeDesc, BtfError> {
        if let [id] = self.anonymous_structs_with(&["name", "taints"])[..] {
            return self.type_desc(id);
        }
        let module = self.layout("module")?;
        let name = module.member("name").map_err(|_| BtfError::NotFound {
            what: "member",
            name: "module.name".into(),
        })?;
        let len =
            name.ty.as_array().and_then(|(_, n)| n).ok_or_else(|| {
                BtfError::Malformed("struct module.name is not a sized array".into())
            })?;
        Ok(TypeDesc::Array {
            element: Box::new(char_type()),
            count: Some(len + 1),
        })
    }
}

fn char_type() -> TypeDesc {
    TypeDesc::Base(BaseType {
        name: "char".into(),
        size: 1,
        encoding: BaseEncoding::SignedChar,
    })
}
