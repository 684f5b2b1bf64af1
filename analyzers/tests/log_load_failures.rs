//! Module load failures with the texts of kernel/module/*.c, kernel/params.c and the loaders of 5.10-7.x,
//! paired with userspace lines where the kernel does not name the module.

use analyzers::load_failures::{find, LoadFailure, Reason};
use analyzers::text_log::read_text_log;

fn failures(text: &str) -> Vec<LoadFailure> {
    find(&read_text_log(text.as_bytes(), "t").unwrap().log)
}

fn short(f: &[LoadFailure]) -> Vec<(Option<&str>, Reason, Option<&str>, bool)> {
    f.iter()
        .map(|f| {
            (
                f.module.as_deref(),
                f.reason,
                f.detail.as_deref(),
                f.userspace_line.is_some(),
            )
        })
        .collect()
}

#[test]
fn each_kernel_refusal() {
    let f = failures(
        "\
[   10.000000] dm9000: disagrees about version of symbol platform_driver_register
[   10.000100] dm9000: Unknown symbol platform_driver_register (err -22)
[   11.000000] oot_needs: Unknown symbol oot_missing_export (err -2)
[   11.000200] insmod: can't insert '/root/oot_needs.ko': unknown symbol in module, or unknown parameter
[   12.000000] oot_old: version magic '6.1.0-55-cloud-amd64 SMP preempt mod_unload modversions ' should be '6.1.0-56-cloud-amd64 SMP preempt mod_unload modversions '
[   13.000000] oot_params: `300' invalid for parameter `level'
[   13.500000] oot_params: Unknown parameter `bogus'
[   14.000000] oot_dup: exports duplicate symbol oot_fn (owned by oot_orig)
[   15.000000] oot_nover: no symbol version for module_layout
[   16.000000] module oot_big: .gnu.linkonce.this_module section size must match the kernel's built struct module size at run time
",
    );
    assert_eq!(
        short(&f),
        [
            (Some("dm9000"), Reason::CrcMismatch, Some("platform_driver_register"), false),
            (Some("oot_needs"), Reason::UnknownSymbol, Some("oot_missing_export"), true),
            (
                Some("oot_old"),
                Reason::Vermagic,
                Some("version magic '6.1.0-55-cloud-amd64 SMP preempt mod_unload modversions ' should be '6.1.0-56-cloud-amd64 SMP preempt mod_unload modversions '"),
                false
            ),
            (Some("oot_params"), Reason::BadParameter, Some("level='300' invalid"), false),
            (Some("oot_params"), Reason::BadParameter, Some("unknown parameter bogus"), false),
            (Some("oot_dup"), Reason::DuplicateSymbol, Some("oot_fn (owned by oot_orig)"), false),
            (Some("oot_nover"), Reason::NoSymbolVersion, Some("module_layout"), false),
            (
                Some("oot_big"),
                Reason::BadModuleFile,
                Some(".gnu.linkonce.this_module section size must match the kernel's built struct module size at run time"),
                false
            ),
        ]
    );
    assert_eq!(f[0].ts_ns, 10_000_000_000);
}

/// 6.1's signature refusals name no module: the loader's line does.
#[test]
fn signature_refusals_are_paired_with_the_loaders_line() {
    let f = failures(
        "\
[    3.100000] Loading of unsigned module is rejected
[    3.100500] systemd-modules-load[412]: Failed to insert module 'oot_prop': Key was rejected by service
[    4.000000] Loading of module with unavailable key is rejected
[    4.000300] modprobe: ERROR: could not insert 'oot_badkey': Key was rejected by service
[    5.000000] Loading of unsigned module is rejected
[   10.000000] Lockdown: insmod: unsigned module loading is restricted; see man kernel_lockdown.7
[   10.000100] insmod: ERROR: could not insert module /root/oot_lock.ko: Operation not permitted
[   10.200000] insmod: can't insert '/lib/modules/late.ko': Key was rejected by service
",
    );
    assert_eq!(
        short(&f),
        [
            (
                Some("oot_prop"),
                Reason::SignatureRejected,
                Some("unsigned module"),
                true
            ),
            (
                Some("oot_badkey"),
                Reason::SignatureRejected,
                Some("module with unavailable key"),
                true
            ),
            // Nothing within 5 s says which module: unknown, not guessed.
            (
                None,
                Reason::SignatureRejected,
                Some("unsigned module"),
                false
            ),
            (
                Some("oot_lock"),
                Reason::Lockdown,
                Some("insmod: unsigned module loading is restricted; see man kernel_lockdown.7"),
                true
            ),
            // 5.2 s after the refusal: a failure of its own.
            (
                Some("late"),
                Reason::Other,
                Some("Key was rejected by service"),
                true
            ),
        ]
    );
}

/// A syslog file: kernel lines carry the time since boot, userspace lines the wall clock.
#[test]
fn pairing_in_a_syslog_file_with_two_clocks() {
    let f = failures(
        "\
Nov 30 05:37:03 guest kernel: [    3.100000] Loading of unsigned module is rejected
Nov 30 05:37:03 guest systemd-modules-load[412]: Failed to insert module 'oot_prop': Key was rejected by service
",
    );
    assert_eq!(
        short(&f),
        [(
            Some("oot_prop"),
            Reason::SignatureRejected,
            Some("unsigned module"),
            true
        )]
    );
    // An errno that does not fit is not paired.
    let f = failures(
        "\
[    3.100000] Loading of unsigned module is rejected
[    3.100500] modprobe: ERROR: could not insert 'other': Exec format error
",
    );
    assert_eq!(
        short(&f),
        [
            (
                None,
                Reason::SignatureRejected,
                Some("unsigned module"),
                false
            ),
            (
                Some("other"),
                Reason::Other,
                Some("Exec format error"),
                true
            )
        ]
    );
}

#[test]
fn load_failures_are_in_the_report_and_its_text() {
    let t = read_text_log(
        "[    0.000000] Linux version 6.1.0-56-cloud-amd64 (x) #1\n[    3.100000] Loading of unsigned module is rejected\n[    3.100500] insmod: can't insert '/root/oot_prop.ko': Key was rejected by service\n".as_bytes(),
        "t",
    )
    .unwrap();
    let r = analyzers::log_report::report_from_log(&t);
    assert_eq!(r.load_failures.len(), 1);
    let text = render::text::report(&r, false);
    assert!(
        text.contains(
            "Load failures (1)\n  [    3.100000] oot_prop  signature rejected: unsigned module"
        ),
        "{text}"
    );
}
