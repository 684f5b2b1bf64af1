//! The part of crash's C API this extension uses, declared from crash's `defs.h` (facts only) and checked
//! against the dynamic symbol table of Debian's crash 8.0.2 (`nm -D /usr/bin/crash` exports every name
//! below) and crash 9. The layouts and constants are in [`crate::abi`], whose tests compile
//! `plugin/abi/probe.c` against each crash's `defs.h`; that probe also asserts the C type of every
//! function and global declared here (keep the two in step).
//!
//! Every function here was read for error paths: none of them is called in a way that reaches
//! `error(FATAL, ...)`, `RESTART()` or any other `longjmp` back to crash's prompt, because such a jump would
//! skip Rust frames. The safe wrappers in this module are the only places that touch crash's globals.
//! Where a residual path remains (see [`crate`] docs and the README), it is named at the call site.

use std::ffi::{c_char, c_int, c_long, c_ulong, c_ulonglong, c_void, CStr, CString};

pub use crate::abi::{CommandTableEntry, MAXARGS};
use crate::abi::{Syment, GNU_RETURN_ON_ERROR_TTY_OFF, KVADDR, PHYSADDR, RETURN_ON_ERROR_QUIET};

/// A NULL-terminated array of C string pointers (crash's `char **help_data`), for statics.
#[repr(transparent)]
pub struct HelpData<const N: usize>(pub [*const c_char; N]);

// SAFETY: immutable pointers to `'static` string literals.
unsafe impl<const N: usize> Sync for HelpData<N> {}

extern "C" {
    /// crash's current output stream (redirected for `| cmd` and `> file`).
    static mut fp: *mut libc::FILE;
    static mut args: [*mut c_char; MAXARGS];
    static mut argcnt: c_int;
    /// `struct program_context *pc`, pointing at the exported `program_context`.
    static pc: *mut c_void;

    fn register_extension(table: *const CommandTableEntry);
    fn readmem(
        addr: c_ulonglong,
        memtype: c_int,
        buf: *mut c_void,
        size: c_long,
        what: *const c_char,
        error_handle: c_ulong,
    ) -> c_int;
    fn symbol_search(name: *const c_char) -> *const Syment;
    fn value_search(value: c_ulong, offset: *mut c_ulong) -> *const Syment;
    fn enumerator_value(name: *mut c_char, value: *mut c_long) -> c_int;
    fn gdb_pass_through(cmd: *mut c_char, fptr: *mut libc::FILE, flags: c_ulong) -> c_int;
    fn output_open() -> c_int;
}

/// Register a command table. crash keeps the pointer, so the table must be a static.
pub fn register(table: &'static [CommandTableEntry]) {
    // SAFETY: a valid, 'static, NULL-name-terminated table (the caller's static); register_extension
    // only records it (its failure paths print with error(INFO) and return).
    unsafe { register_extension(table.as_ptr()) }
}

/// The current command's arguments, `args[0..argcnt]` (args[0] is the command name).
pub fn command_args() -> Vec<String> {
    // SAFETY: crash fills args/argcnt before calling a command function and does not touch them while
    // it runs; argcnt is clamped to the array length.
    unsafe {
        let n = (std::ptr::addr_of!(argcnt).read().max(0) as usize).min(MAXARGS);
        let table = std::ptr::addr_of!(args).read();
        table[..n]
            .iter()
            .take_while(|p| !p.is_null())
            .map(|&p| CStr::from_ptr(p).to_string_lossy().into_owned())
            .collect()
    }
}

/// Write `bytes` to crash's current output stream (`fp`), then flush it.
pub fn write_output(bytes: &[u8]) {
    // SAFETY: `fp` is crash's valid FILE* while a command runs. A closed pipe makes fwrite fail with
    // EPIPE: crash ignores SIGPIPE outside gdb, so nothing is raised.
    unsafe {
        let out = std::ptr::addr_of!(fp).read();
        if out.is_null() {
            return;
        }
        libc::fwrite(bytes.as_ptr().cast(), 1, bytes.len(), out);
        libc::fflush(out);
    }
}

/// Read kernel virtual memory; `false` when crash cannot (unmapped, excluded, read error).
///
/// One faulting path remains inside: crash's x86-64 `kvtop` fills page-table pages with
/// `FAULT_ON_ERROR` reads, so an address whose *page-table page* is missing from the dump would jump back
/// to the prompt. Callers check those pages first ([`crate::kvtop_guard`]).
pub fn read_kvaddr(addr: u64, buf: &mut [u8]) -> bool {
    let Ok(size) = c_long::try_from(buf.len()) else {
        return false;
    };
    if size == 0 {
        return true;
    }
    // SAFETY: buf is valid for `size` bytes; RETURN_ON_ERROR|QUIET makes every failure path return FALSE.
    unsafe {
        readmem(
            addr,
            KVADDR,
            buf.as_mut_ptr().cast(),
            size,
            c"vmtaint".as_ptr(),
            RETURN_ON_ERROR_QUIET,
        ) != 0
    }
}

/// Read physical memory; `false` when crash cannot. The PHYSADDR path of readmem translates nothing,
/// so with RETURN_ON_ERROR it has no faulting path at all.
pub fn read_physaddr(paddr: u64, buf: &mut [u8]) -> bool {
    let Ok(size) = c_long::try_from(buf.len()) else {
        return false;
    };
    if size == 0 {
        return true;
    }
    // SAFETY: buf is valid for `size` bytes; RETURN_ON_ERROR|QUIET makes every failure path return FALSE.
    unsafe {
        readmem(
            paddr,
            PHYSADDR,
            buf.as_mut_ptr().cast(),
            size,
            c"vmtaint page table".as_ptr(),
            RETURN_ON_ERROR_QUIET,
        ) != 0
    }
}

// `ulong`/`long` are 64-bit here but not on every crash platform: keep the casts.
#[allow(clippy::unnecessary_cast)]
/// A symbol's value (address) from crash's symbol table, kernel then modules; `None` when unknown.
pub fn symbol_value(name: &str) -> Option<u64> {
    let name = CString::new(name).ok()?;
    // SAFETY: symbol_search only compares names in crash's tables; it returns NULL when not found.
    let sp = unsafe { symbol_search(name.as_ptr()) };
    // SAFETY: non-NULL results point into crash's symbol table, whose first field is `ulong value`.
    (!sp.is_null()).then(|| unsafe { (*sp).value } as u64)
}

#[allow(clippy::unnecessary_cast)]
/// The symbol at or below `addr` through crash's `value_search()`: `(name, start)`; `None` when crash knows
/// none.
pub fn symbol_at(addr: u64) -> Option<(String, u64)> {
    let mut offset: c_ulong = 0;
    // SAFETY: value_search only searches crash's symbol tables and writes the offset; NULL when not found.
    let sp = unsafe { value_search(addr as c_ulong, &mut offset) };
    if sp.is_null() {
        return None;
    }
    // SAFETY: a non-NULL result points into crash's symbol table: `ulong value; char *name; ...`.
    let (value, name) = unsafe { ((*sp).value as u64, (*sp).name) };
    if name.is_null() {
        return None;
    }
    // SAFETY: crash's symbol names are NUL-terminated strings it owns for the session.
    let name = unsafe { std::ffi::CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    Some((name, value))
}

#[allow(clippy::unnecessary_cast)]
/// The value of an enumerator through `enumerator_value()` (gdb's type information).
///
/// `name` must be a plain C identifier (checked by the caller): crash copies it into a BUFSIZE buffer.
pub fn enumerator(name: &str) -> Option<i64> {
    let mut buf = CString::new(name).ok()?.into_bytes_with_nul();
    let mut value: c_long = 0;
    // SAFETY: a NUL-terminated writable buffer; the RETURN_ON_ERROR lookup (arg_to_datatype) returns FALSE
    // on failure. It calls into gdb, so the caller checks `output_is_open()` first.
    let ok = unsafe { enumerator_value(buf.as_mut_ptr().cast(), &mut value) };
    (ok != 0).then_some(value as i64)
}

/// Whether crash's output is still open. gdb_interface() calls `restart()` (a longjmp) when it finds the
/// output pipe closed (`taint | true`), so every gdb-backed query checks this first.
pub fn output_is_open() -> bool {
    // SAFETY: output_open only looks at crash's redirection state and waitpid(WNOHANG)s the pipe reader.
    unsafe { output_open() != 0 }
}

/// Run one gdb command with its output sent to `out`; `false` when gdb reported an error.
pub fn gdb_command(cmd: &str, out: *mut libc::FILE) -> bool {
    let Ok(cmd) = CString::new(cmd) else {
        return false;
    };
    let mut buf = cmd.into_bytes_with_nul();
    // SAFETY: a writable NUL-terminated command and a valid FILE*. With GNU_RETURN_ON_ERROR gdb's
    // exceptions are caught in gdb_command_funnel and reported as failure; the caller checked
    // `output_is_open()` (the only FATAL/restart path of gdb_interface once gdb is initialized).
    unsafe { gdb_pass_through(buf.as_mut_ptr().cast(), out, GNU_RETURN_ON_ERROR_TTY_OFF) != 0 }
}

/// The address crash's `pc` points at (`&program_context`).
pub fn program_context_addr() -> *mut c_void {
    // SAFETY: reading an initialized pointer-sized global.
    unsafe { std::ptr::addr_of!(pc).read() }
}
