//! Kernel addresses in JSON as `"0xffffffffc0644000"` strings: as JSON numbers they exceed 2^53 and lose
//! precision in JavaScript and other double-based consumers. Read back the same way (a scan's JSON lines
//! merged by `vmtaint summary`).

use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn one<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

pub(crate) fn opt<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => one(v, s),
        None => s.serialize_none(),
    }
}

fn parse<E: serde::de::Error>(text: &str) -> Result<u64, E> {
    text.strip_prefix("0x")
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| {
            E::custom(format!(
                "expected a hex address like \"0xffffffffc0644000\", got {text:?}"
            ))
        })
}

pub(crate) fn read_one<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    parse(&String::deserialize(d)?)
}

pub(crate) fn read_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|t| parse(&t))
        .transpose()
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_round_trip_and_junk_is_refused() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct A {
            #[serde(serialize_with = "super::one", deserialize_with = "super::read_one")]
            a: u64,
            #[serde(serialize_with = "super::opt", deserialize_with = "super::read_opt")]
            b: Option<u64>,
        }
        let v = A {
            a: 0xffff_ffff_c064_4000,
            b: None,
        };
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(text, r#"{"a":"0xffffffffc0644000","b":null}"#);
        assert_eq!(serde_json::from_str::<A>(&text).unwrap(), v);
        for bad in [
            r#"{"a":"ffff","b":null}"#,
            r#"{"a":"0xzz","b":null}"#,
            r#"{"a":12,"b":null}"#,
        ] {
            assert!(serde_json::from_str::<A>(bad).is_err(), "{bad}");
        }
    }
}
