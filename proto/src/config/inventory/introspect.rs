//! A struct's keys, read from its `Deserialize` impl.
//!
//! serde's derive hands the list of the struct's field names (after
//! `rename` / `rename_all`) to `Deserializer::deserialize_struct`. A
//! deserializer that records that list and stops is all it takes to learn
//! the keys a configuration file may write, without a hand-kept copy.

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Stops at the first call: records the fields when it is
/// `deserialize_struct`.
struct FieldNames<'a> {
    found: &'a mut Option<&'static [&'static str]>,
}

/// Why the recording deserializer stopped (always: it reads no data).
#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("only the field names are read")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        *self.found = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The keys of struct `T` as its `Deserialize` impl matches them; empty
/// for a type that is not a struct.
pub fn keys_of<'de, T: Deserialize<'de>>() -> Vec<String> {
    let mut found = None;
    // The error is the point: the deserializer stops once it has the names.
    let _ = T::deserialize(FieldNames { found: &mut found });
    found
        .map(|fields| fields.iter().map(|f| f.to_string()).collect())
        .unwrap_or_default()
}
