#![no_main]
// Fuzz the flattened reader: seeds in corpus/flattened are small synthetic flattened dumps (testcores); the reader picks the
// format by content, so mutations that change the magic exercise the others too.
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| common::exercise(data));
