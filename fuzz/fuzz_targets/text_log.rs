#![no_main]
// Any bytes as a text kernel log file: read it (format detection, stamps, bounded lines) and make the
// log-only report (timeline, crash reports, crash site, load failures) and its human text.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(t) = analyzers::text_log::read_text_log(data, "fuzz-input") {
        let r = analyzers::log_report::report_from_log(&t);
        let _ = render::text::report(&r, false);
    }
});
