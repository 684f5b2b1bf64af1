//! The HTML pages in a real browser: `scan --html`, `summary --html` and `report --html` on the real dumps,
//! rendered by headless Chromium (Debian's `chromium`) to PNG (kept in target/html-pages/ to look at), their
//! DOM text checked for the verdicts, module names and counts, and Chromium's network log checked for any
//! request the page made (none: everything is inline).

mod common;
use common::vmtaint;

use std::path::{Path, PathBuf};
use std::process::Command;

use analyzers::document::FullReport;
use serde_json::Value;
use testcores::real;

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Where the PNGs go: beside the build, kept after the test for a person to look at.
fn png_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_vmtaint"));
    let d = exe.parent().unwrap().parent().unwrap().join("html-pages");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Load `page` in headless Chromium: its DOM after load, a PNG screenshot, and the URLs the page itself asked
/// for (Chromium's own background requests, initiated by no page, are not counted).
fn browse(page: &Path, png: &Path, tmp: &Path) -> (String, Vec<String>) {
    let exe = chromium().expect("chromium");
    let profile = tmp.join("chromium-profile");
    let netlog = tmp.join(format!(
        "{}.netlog.json",
        png.file_stem().unwrap().to_str().unwrap()
    ));
    let url = format!("file://{}", page.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
    ];
    let dom = Command::new(&exe)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(["--dump-dom", &url])
        .output()
        .expect("run chromium");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot = Command::new(&exe)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args([
            "--window-size=1200,1800",
            &format!("--screenshot={}", png.display()),
            &url,
        ])
        .output()
        .expect("run chromium");
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let png_bytes = std::fs::read(png).unwrap();
    assert!(
        png_bytes.starts_with(b"\x89PNG") && png_bytes.len() > 10_000,
        "{}",
        png.display()
    );
    let log: Value =
        serde_json::from_slice(&std::fs::read(&netlog).unwrap()).expect("net log JSON");
    let mut fetched: Vec<String> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            // A page's request carries its origin ("null" for a file:// page); the browser's own say so.
            e["params"]["initiator"]
                .as_str()
                .is_some_and(|i| i != "not an origin")
        })
        .filter_map(|e| e["params"]["url"].as_str().map(String::from))
        .collect();
    fetched.dedup();
    (String::from_utf8_lossy(&dom.stdout).into_owned(), fetched)
}

/// The DOM's text: tags dropped, entities of the escaper undone.
fn text_of(dom: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_pages_render_in_chromium_with_the_facts_and_fetch_nothing() {
    if !real::require_input(chromium().is_some(), "chromium", "apt-get install chromium") {
        return;
    }
    let tmp = std::env::temp_dir().join(format!("vmtaint-html-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let pngs = png_dir();

    // The detector can fail: a page with a remote image and stylesheet is caught.
    let probe = tmp.join("probe.html");
    std::fs::write(
        &probe,
        "<html><body><img src=\"http://127.0.0.1:9/p.png\"><link rel=stylesheet href=\"http://127.0.0.1:9/s.css\">\
         <p>probe</p></body></html>",
    )
    .unwrap();
    let (_, fetched) = browse(&probe, &tmp.join("probe.png"), &tmp);
    assert!(
        fetched.iter().any(|u| u.contains("127.0.0.1:9")),
        "{fetched:?}"
    );

    // One dump per scenario (ELF) and a damaged one.
    let dumps = tmp.join("crash");
    let mut reports = Vec::new();
    for s in real::scenarios() {
        let d = dumps.join(s.name);
        std::fs::create_dir_all(&d).unwrap();
        let link = d.join("vmcore.elf");
        std::os::unix::fs::symlink(s.dir.join("vmcore.elf"), &link).unwrap();
        let (code, json, err) = vmtaint(&["report", link.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{err}");
        reports.push(serde_json::from_str::<FullReport>(&json).unwrap());
    }
    std::fs::create_dir_all(dumps.join("broken")).unwrap();
    let good = std::fs::read(real::scenario("clean").unwrap().dir.join("vmcore.lzo")).unwrap();
    std::fs::write(dumps.join("broken/vmcore"), &good[..3000]).unwrap();

    let scan_html = tmp.join("scan.html");
    let jsonl = tmp.join("scan.jsonl");
    let (code, _, err) = vmtaint(&[
        "scan",
        dumps.to_str().unwrap(),
        "--no-progress",
        "--jsonl",
        jsonl.to_str().unwrap(),
        "--html",
        scan_html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let summary_html = tmp.join("summary.html");
    let (code, _, err) = vmtaint(&[
        "summary",
        jsonl.to_str().unwrap(),
        "--html",
        summary_html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");

    let tainted = reports
        .iter()
        .filter(|r| r.report.tainted_mask.is_some_and(|m| m != 0))
        .count();
    let clean = reports
        .iter()
        .filter(|r| r.report.tainted_mask == Some(0))
        .count();
    for (page, png) in [(&scan_html, "scan.png"), (&summary_html, "summary.png")] {
        let (dom, fetched) = browse(page, &pngs.join(png), &tmp);
        assert!(
            fetched.is_empty(),
            "{}: the page fetched {fetched:?}",
            page.display()
        );
        assert!(!dom.contains("<script"), "no script");
        let text = text_of(&dom);
        let n = reports.len() + 1;
        assert!(
            text.contains(&format!(
                "{n} dumps: {tainted} tainted, {clean} not tainted, 1 error."
            )),
            "{}: {text}",
            page.display()
        );
        for r in &reports {
            assert!(text.contains(&r.dump.path), "{}", r.dump.path);
            for m in r.report.modules.iter().filter(|m| !m.taints.is_empty()) {
                assert!(
                    text.contains(&format!("{} ({})", m.name, m.taints)),
                    "{}",
                    m.name
                );
            }
        }
        // Each dump's row links to its own report section.
        for i in 0..n {
            assert!(
                dom.contains(&format!("href=\"#dump-{i}\""))
                    && dom.contains(&format!("id=\"dump-{i}\""))
            );
        }
        assert!(text.contains("truncated"), "the damaged dump's error");
    }

    let mixed = reports
        .iter()
        .find(|r| r.dump.path.contains("/mixed/"))
        .expect("mixed");
    let report_html = tmp.join("report.html");
    let (code, _, err) = vmtaint(&[
        "report",
        &mixed.dump.path,
        "--html",
        report_html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (dom, fetched) = browse(&report_html, &pngs.join("report.png"), &tmp);
    assert!(fetched.is_empty(), "the report page fetched {fetched:?}");
    let text = text_of(&dom);
    let r = &mixed.report;
    assert!(
        text.contains(&format!(
            "TAINTED: {} ({:#x})",
            r.flags
                .iter()
                .map(|f| f.letter.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            r.tainted_mask.unwrap()
        )),
        "{text}"
    );
    for f in &r.flags {
        assert!(text.contains(&f.name), "{}", f.name);
    }
    let timed = r.timeline.iter().filter(|e| e.ts_ns.is_some()).count();
    assert!(timed > 0);
    assert_eq!(
        dom.matches("<circle").count(),
        timed,
        "one marker per timed event"
    );
    for e in r.timeline.iter().filter_map(|e| e.module.as_deref()) {
        assert!(text.contains(&format!("({e})")), "{e}");
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
