//! VMCOREINFO through crash's own reader, `pc->read_vmcoreinfo`.
//!
//! crash sets that function pointer for every dump format it reads VMCOREINFO from (ELF notes in
//! netdump.c, the kdump sub-header in diskdump.c, kernel memory on live systems in kernel.c) and to
//! `no_vmcoreinfo` (always NULL) otherwise. No function behind it is exported, and the pointer sits in
//! `struct program_context`, whose layout varies between crash versions. What does not vary (crash 8.0.2
//! through today's master) is that it is the third-last member, followed by `FILE *error_fp` and
//! `char *error_path`. The struct is the exported object `program_context`, and the dynamic symbol table
//! records its size, so the pointer is at `&program_context + size - 24`; we find that size with
//! `dladdr1(RTLD_DL_SYMENT)` and accept the pointer only if it points into crash's own executable.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use crate::ffi;

/// `RTLD_DL_SYMENT` of glibc's `dladdr1()`: return the matching `ElfW(Sym)`.
const RTLD_DL_SYMENT: c_int = 1;
/// The members after `read_vmcoreinfo` in `struct program_context`, plus itself: three pointers.
const TAIL_BYTES: u64 = crate::abi::PROGRAM_CONTEXT_TAIL_BYTES;

type ReadVmcoreinfo = unsafe extern "C" fn(*const c_char) -> *mut c_char;

/// crash's VMCOREINFO reader, found for this command (crash may swap it at any time).
pub struct VmcoreinfoReader {
    read: ReadVmcoreinfo,
}

impl VmcoreinfoReader {
    /// Find `pc->read_vmcoreinfo`, or say why it cannot be trusted.
    pub fn locate() -> Result<Self, String> {
        let pc = ffi::program_context_addr();
        if pc.is_null() {
            return Err("crash's pc is NULL".into());
        }
        // SAFETY: dladdr1 only inspects the loaded objects' symbol tables; the out-pointers are valid.
        let (info, sym) = unsafe {
            let mut info: libc::Dl_info = std::mem::zeroed();
            let mut sym: *mut libc::Elf64_Sym = std::ptr::null_mut();
            let found = libc::dladdr1(
                pc,
                &mut info,
                (&mut sym as *mut *mut libc::Elf64_Sym).cast::<*mut c_void>(),
                RTLD_DL_SYMENT,
            );
            if found == 0 || sym.is_null() || info.dli_sname.is_null() {
                return Err("dladdr1 does not know crash's program_context".into());
            }
            (info, *sym)
        };
        // SAFETY: dli_sname is a NUL-terminated name in the object's string table.
        let name = unsafe { CStr::from_ptr(info.dli_sname) };
        if name.to_bytes() != b"program_context" || info.dli_saddr != pc {
            return Err(format!(
                "pc points at {:?}, not at the start of program_context",
                name
            ));
        }
        let size = sym.st_size;
        if size < TAIL_BYTES || size % 8 != 0 {
            return Err(format!("implausible size {size} of program_context"));
        }
        // SAFETY: the slot is inside the `size`-byte object program_context, 8-byte aligned (the object
        // is pointer-aligned and the offset a multiple of 8); it holds a function pointer or NULL.
        let raw = unsafe {
            pc.cast::<u8>()
                .add((size - TAIL_BYTES) as usize)
                .cast::<*const c_void>()
                .read()
        };
        if raw.is_null() {
            return Err("pc->read_vmcoreinfo is NULL".into());
        }
        // SAFETY: as above, dladdr only inspects symbol tables.
        let same_object = unsafe {
            let mut f: libc::Dl_info = std::mem::zeroed();
            libc::dladdr(raw, &mut f) != 0 && f.dli_fbase == info.dli_fbase
        };
        if !same_object {
            return Err(
                "the pointer found is not a function of crash (unknown program_context layout)"
                    .into(),
            );
        }
        // SAFETY: a non-NULL pointer into crash's executable at the position defs.h gives
        // `char *(*read_vmcoreinfo)(const char *)`.
        let read = unsafe { std::mem::transmute::<*const c_void, ReadVmcoreinfo>(raw) };
        Ok(Self { read })
    }

    /// The value of `key`. The caller has validated the key (see `gdb_text::is_valid_vmcoreinfo_key`),
    /// and, on a live system, made sure crash's reader cannot fault (see [`crate::crash_target`]).
    pub fn get(&self, key: &str) -> Option<String> {
        let key = CString::new(key).ok()?;
        // SAFETY: crash's readers take a NUL-terminated key and return a calloc'd string or NULL; their
        // error paths print with error(INFO) and return NULL (the live reader's FAULT_ON_ERROR
        // get_symbol_data is guarded by the caller).
        unsafe {
            let value = (self.read)(key.as_ptr());
            if value.is_null() {
                return None;
            }
            let s = CStr::from_ptr(value).to_string_lossy().into_owned();
            libc::free(value.cast());
            Some(s)
        }
    }
}
