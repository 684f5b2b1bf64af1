//! Pages read per second from each format of a real dump: sequential (every dumped page in PFN order) and
//! random (a fixed pseudo-random sample). Each iteration opens the dump afresh, so the page cache starts empty.
//!
//!   bash testcores/make-real-cores.sh && cargo bench -p vmcore --bench read_pages

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vmcore::Vmcore;

fn dumped_pfns(d: &Vmcore) -> Vec<u64> {
    let ps = d.page_size();
    // Whole pages: a RAM segment may end mid-page (0x9fc00 on a PC).
    let mut buf = vec![0u8; ps as usize];
    (0..d.max_pfn())
        .filter(|&pfn| d.read_phys(pfn * ps, &mut buf).is_ok())
        .collect()
}

fn bench(c: &mut Criterion) {
    let scen =
        testcores::real::scenario("mixed").expect("real dumps (run testcores/make-real-cores.sh)");
    let mut g = c.benchmark_group("read_pages");
    g.sample_size(10);
    for path in scen.dumps() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let d = Vmcore::open(&path).unwrap();
        let ps = d.page_size();
        let pfns = dumped_pfns(&d);
        drop(d);
        // Sequential: every dumped page.
        g.throughput(Throughput::Elements(pfns.len() as u64));
        g.bench_function(format!("{name}/sequential"), |b| {
            b.iter_batched(
                || Vmcore::open(&path).unwrap(),
                |d| {
                    let mut page = vec![0u8; ps as usize];
                    for &pfn in &pfns {
                        d.read_phys(pfn * ps, &mut page).unwrap();
                    }
                },
                BatchSize::PerIteration,
            )
        });
        // Random: 4096 pages in a fixed pseudo-random order (xorshift; repeatable).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let sample: Vec<u64> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                pfns[(x % pfns.len() as u64) as usize]
            })
            .collect();
        g.throughput(Throughput::Elements(sample.len() as u64));
        g.bench_function(format!("{name}/random"), |b| {
            b.iter_batched(
                || Vmcore::open(&path).unwrap(),
                |d| {
                    let mut page = vec![0u8; ps as usize];
                    for &pfn in &sample {
                        d.read_phys(pfn * ps, &mut page).unwrap();
                    }
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
