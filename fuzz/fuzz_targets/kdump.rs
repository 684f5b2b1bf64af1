#![no_main]
// Fuzz the kdump reader: seeds in corpus/kdump are small synthetic kdump dumps (testcores); the reader picks the
// format by content, so mutations that change the magic exercise the others too.
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| common::exercise(data));
