//! Cold resolution of vmtaint's names on the real debug vmlinux (set VMTAINT_VMLINUX to override).

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let path = std::env::var("VMTAINT_VMLINUX")
        .unwrap_or_else(|_| "/usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64".to_string());
    if !std::path::Path::new(&path).exists() {
        eprintln!("resolve bench: {path} missing; nothing measured");
        return;
    }
    let mut g = c.benchmark_group("vmlinux");
    g.sample_size(20);
    g.bench_function("cold_resolve", |b| {
        b.iter(|| {
            let v = symbols::Vmlinux::open(&path).unwrap();
            for s in [
                "tainted_mask",
                "taint_flags",
                "modules",
                "last_unloaded_module",
                "prb",
                "init_uts_ns",
                "linux_banner",
            ] {
                v.symbol(s).unwrap();
            }
            for l in [
                "module",
                "taint_flag",
                "list_head",
                "printk_ringbuffer",
                "module_layout",
                "kernel_symbol",
            ] {
                v.layout(l).unwrap();
            }
            v.enumeration("module_state").unwrap();
            v.variable_type("last_unloaded_module").unwrap();
            v.variable_type("taint_flags").unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
