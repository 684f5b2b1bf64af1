//! The `taint` command's options and the text it prints for them (no crash calls: unit-tested).

use analyzers::document::FullReport;
use render::text::{self, Section};

/// What `taint` was asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub json: bool,
    pub modules: bool,
    pub timeline: bool,
    pub parameters: bool,
    pub keys: bool,
    pub crash_site: bool,
}

pub const USAGE: &str = concat!(
    "Usage: taint [-j] [-m] [-t] [-p] [-k] [-c]\n",
    "  -j  JSON (the same document as `vmtaint report --json`)\n",
    "  -m  loaded modules only\n",
    "  -t  taint timeline only\n",
    "  -p  parameters of every module (values at crash time)\n",
    "  -k  keys in the trusted keyrings\n",
    "  -c  crash site: where it crashed, which tainting module is involved\n",
    "Enter \"help taint\" for details.\n",
);

/// Parse `args[1..]` (combined flags like `-jm` allowed); `Err` carries the offending argument.
pub fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    for a in args {
        let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(a.clone());
        };
        for c in flags.chars() {
            match c {
                'j' => o.json = true,
                'm' => o.modules = true,
                't' => o.timeline = true,
                'p' => o.parameters = true,
                'k' => o.keys = true,
                'c' => o.crash_site = true,
                _ => return Err(a.clone()),
            }
        }
    }
    Ok(o)
}

/// The text of the report for `o`: the whole document or the sections asked for, each exactly as it reads
/// in the whole report, followed by the problems of the analyzers behind it.
pub fn render(doc: &FullReport, o: Options) -> Result<String, serde_json::Error> {
    let report = &doc.report;
    let whole = !o.modules && !o.timeline && !o.parameters && !o.keys && !o.crash_site;
    if o.json {
        let mut s = if whole {
            serde_json::to_string_pretty(doc)?
        } else {
            let mut part = serde_json::Map::new();
            if o.modules {
                part.insert("modules".into(), serde_json::to_value(&report.modules)?);
            }
            if o.timeline {
                part.insert("timeline".into(), serde_json::to_value(&report.timeline)?);
            }
            if o.parameters {
                // Per module: its name and parameters (the same objects as in `modules`).
                let params: serde_json::Map<String, serde_json::Value> = report
                    .modules
                    .iter()
                    .map(|m| Ok((m.name.clone(), serde_json::to_value(&m.parameters)?)))
                    .collect::<Result<_, serde_json::Error>>()?;
                part.insert("parameters".into(), params.into());
            }
            if o.keys {
                part.insert("keyrings".into(), serde_json::to_value(&report.keyrings)?);
            }
            if o.crash_site {
                part.insert(
                    "crash_site".into(),
                    serde_json::to_value(&report.crash_site)?,
                );
            }
            serde_json::to_string_pretty(&part)?
        };
        s.push('\n');
        return Ok(s);
    }
    if whole {
        return Ok(text::report(report, false));
    }
    let mut wanted = Vec::new();
    if o.modules {
        wanted.push(Section::Modules);
    }
    if o.keys {
        wanted.push(Section::Keyrings);
    }
    if o.timeline {
        wanted.push(Section::Timeline);
    }
    let mut out = String::new();
    if o.crash_site {
        // The lines the whole report opens with, by the same renderer.
        match (&report.crash_site, &report.kernel_log) {
            (Some(c), _) => {
                for l in render::crash::crash_site_lines(c) {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
            (None, Some(_)) => out.push_str("Crash site: the kernel log shows no crash\n"),
            (None, None) => out.push_str("Crash site unknown: no kernel log\n"),
        }
        for pr in report
            .problems
            .iter()
            .filter(|p| ["kernel_log", "resolve"].contains(&p.analyzer.name()))
        {
            out.push_str(&format!("  [{}] {}\n", pr.analyzer, pr.message));
        }
    }
    if o.parameters {
        let p = text::parameters(report, false);
        if p.is_empty() {
            out.push_str("Parameters: no module has any\n");
        } else {
            out.push_str(p.trim_start_matches('\n'));
        }
    }
    for section in wanted {
        // A section alone starts at its heading, not at the blank line that separates it in the whole report.
        out.push_str(text::section(report, section, false).trim_start_matches('\n'));
        for pr in report
            .problems
            .iter()
            .filter(|p| section.analyzers().contains(&p.analyzer.name()))
        {
            out.push_str(&format!("  [{}] {}\n", pr.analyzer, pr.message));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn report() -> FullReport {
        use analyzers::fake::FakeTarget;
        let mut t = FakeTarget::new();
        t.map(0x1000, 0x1001u64.to_le_bytes().to_vec()); // P and O
        t.add_symbol("tainted_mask", 0x1000);
        crate::document::document(
            analyzers::report::analyze(&t),
            crate::document::dump_summary(["crash".to_string()], None, None),
        )
    }

    #[test]
    fn sections_are_cut_from_the_full_report() {
        let r = report();
        let all = |o| render(&r, o).expect("renders");
        let full = all(Options::default());
        assert_eq!(full, text::report(&r.report, false));
        let modules = all(Options {
            modules: true,
            ..Options::default()
        });
        assert!(modules.starts_with("Modules (0)"), "{modules}");
        assert!(!modules.contains("TAINTED"), "{modules}");
        // the fake target has no `modules` symbol: the analyzer's problem is shown with its section
        assert!(modules.contains("[modules]"), "{modules}");
        let timeline = all(Options {
            timeline: true,
            ..Options::default()
        });
        assert!(timeline.starts_with("Timeline"), "{timeline}");
        assert!(!timeline.contains("Modules ("), "{timeline}");
        // The fake target has no kernel log: the crash site is unknown, and the log's problem says why.
        let site = all(Options {
            crash_site: true,
            ..Options::default()
        });
        assert!(
            site.starts_with("Crash site unknown: no kernel log\n  [kernel_log] "),
            "{site}"
        );
    }

    #[test]
    fn json_is_the_whole_report_or_the_sections_asked_for() {
        let r = report();
        let json = |o| -> serde_json::Value {
            serde_json::from_str(&render(&r, o).expect("renders")).expect("JSON")
        };
        let whole = json(Options {
            json: true,
            ..Options::default()
        });
        assert_eq!(whole, serde_json::to_value(&r).expect("serializes"));
        assert_eq!(whole["tainted_mask"], 0x1001);
        assert_eq!(whole["source"]["kind"], "crash");
        let part = json(Options {
            json: true,
            modules: true,
            timeline: true,
            ..Options::default()
        });
        let keys: Vec<&String> = part.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["modules", "timeline"]);
        let part = json(Options {
            json: true,
            parameters: true,
            keys: true,
            ..Options::default()
        });
        let keys: Vec<&String> = part.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["keyrings", "parameters"]);
        let part = json(Options {
            json: true,
            crash_site: true,
            ..Options::default()
        });
        assert_eq!(part, serde_json::json!({ "crash_site": null }));
        assert!(USAGE.contains("-j") && USAGE.contains("-m") && USAGE.contains("-t"));
        assert!(USAGE.contains("-p") && USAGE.contains("-k") && USAGE.contains("-c"));
    }

    #[test]
    fn options() {
        assert_eq!(parse_options(&[]), Ok(Options::default()));
        assert_eq!(
            parse_options(&args(&["-jm"])),
            Ok(Options {
                json: true,
                modules: true,
                ..Options::default()
            })
        );
        assert_eq!(
            parse_options(&args(&["-pk"])).map(|o| (o.parameters, o.keys)),
            Ok((true, true))
        );
        assert_eq!(
            parse_options(&args(&["-t", "-j"])).map(|o| o.timeline),
            Ok(true)
        );
        assert_eq!(
            parse_options(&args(&["-jc"])).map(|o| (o.json, o.crash_site)),
            Ok((true, true))
        );
        assert_eq!(parse_options(&args(&["-x"])), Err("-x".into()));
        assert_eq!(parse_options(&args(&["-"])), Err("-".into()));
        assert_eq!(parse_options(&args(&["mixed"])), Err("mixed".into()));
    }
}
