//! Kernel addresses in JSON as `"0xffffffffc0644000"` strings: as JSON numbers they exceed 2^53 and lose
//! precision in JavaScript and other double-based consumers.

use serde::Serializer;

pub(crate) fn one<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

pub(crate) fn opt<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => one(v, s),
        None => s.serialize_none(),
    }
}
