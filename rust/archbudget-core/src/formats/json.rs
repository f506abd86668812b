//! JSON text as Python's `json` reads it, since Keras and transformers write and read
//! their files with it: UTF-8 with or without a byte-order mark, UTF-16 and UTF-32 (found
//! as `json.detect_encoding` finds them), and the non-standard `NaN`, `Infinity` and
//! `-Infinity` that `json.dumps` writes for non-finite floats. Those become the strings
//! "NaN", "Infinity" and "-Infinity": a key whose value must be a number then reports
//! it as a value of the wrong type, naming the key.
use std::borrow::Cow;
use std::cell::RefCell;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::{Error, Result};

pub fn parse(bytes: &[u8], location: &str) -> Result<Value> {
    parse_with(bytes, location, |text| serde_json::from_slice(text))
}

/// [`parse`] for a model description (Keras JSON, transformers config.json), without the
/// values of keys ending in `_initializer`, `_regularizer` or `_constraint`, nor a
/// `dtype` that is an object (a Keras layer's `DTypePolicy`; a string `dtype`, an
/// input's, stays): how a Keras layer fills, penalises or clips its weights, and the
/// policy it computes under, change no count, shape or byte, and those objects are a
/// third of a Keras Application's JSON (each one a few allocations to build and to free).
/// The text must be well-formed all the same.
pub fn parse_model(bytes: &[u8], location: &str) -> Result<Value> {
    parse_with(bytes, location, |text| match std::str::from_utf8(text) {
        // UTF-8 checked once for the whole text (fast on ASCII), not string by string
        Ok(text) => without_weight_settings(serde_json::Deserializer::from_str(text)),
        // read as bytes, so that the error says where the text stops being UTF-8
        Err(_) => without_weight_settings(serde_json::Deserializer::from_slice(text)),
    })
}

fn without_weight_settings<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
) -> serde_json::Result<Value> {
    let entries = RefCell::new(Vec::new());
    let value = WithoutWeightSettings { entries: &entries }.deserialize(&mut de)?;
    de.end().map(|()| value)
}

fn parse_with(
    bytes: &[u8],
    location: &str,
    from_slice: impl Fn(&[u8]) -> serde_json::Result<Value>,
) -> Result<Value> {
    let text = decode(bytes).map_err(|m| Error::parse(location, format!("malformed JSON: {m}")))?;
    from_slice(&text).or_else(|strict| {
        let quoted = quote_non_finite(&text)
            .ok_or_else(|| Error::parse(location, format!("malformed JSON: {strict}")))?;
        from_slice(&quoted).map_err(|e| Error::parse(location, format!("malformed JSON: {e}")))
    })
}

/// Keys whose values [`parse_model`] checks and drops.
fn is_weight_setting(key: &str) -> bool {
    key.ends_with("_initializer") || key.ends_with("_regularizer") || key.ends_with("_constraint")
}

/// serde_json's own `Value` visitor, but for [`is_weight_setting`] keys of objects; and
/// an object's entries gathered on one stack shared by all objects before its map is
/// built at its final size (no rehashing as a layer config of 20 keys grows).
#[derive(Clone, Copy)]
struct WithoutWeightSettings<'s> {
    entries: &'s RefCell<Vec<(String, Value)>>,
}

impl<'de> DeserializeSeed<'de> for WithoutWeightSettings<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for WithoutWeightSettings<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let start = self.entries.borrow().len();
        let read = (|| {
            while let Some(key) = map.next_key_seed(Key)? {
                if let Some(value) = self.entry_value(&key, &mut map)? {
                    self.entries.borrow_mut().push((key.into_owned(), value));
                }
            }
            Ok(())
        })();
        let mut entries = self.entries.borrow_mut();
        let object: Map<String, Value> = entries.drain(start..).collect();
        read.map(|()| Value::Object(object))
    }
}

impl WithoutWeightSettings<'_> {
    /// The value of `key` in an object being read, None where [`parse_model`] drops it.
    fn entry_value<'de, A: MapAccess<'de>>(
        self,
        key: &str,
        map: &mut A,
    ) -> std::result::Result<Option<Value>, A::Error> {
        if is_weight_setting(key) {
            map.next_value::<IgnoredAny>()?;
            Ok(None)
        } else if key == "dtype" {
            map.next_value_seed(UnlessObject(self))
        } else {
            map.next_value_seed(self).map(Some)
        }
    }
}

/// Reads the values of objects that a typed reader (`keras::text`) leaves as JSON, as
/// [`parse_model`] reads them.
pub(crate) struct ModelValues {
    entries: RefCell<Vec<(String, Value)>>,
}

impl ModelValues {
    pub(crate) fn new() -> ModelValues {
        ModelValues {
            entries: RefCell::new(Vec::new()),
        }
    }

    fn seed(&self) -> WithoutWeightSettings<'_> {
        WithoutWeightSettings {
            entries: &self.entries,
        }
    }

    /// A whole value (a layer's `config`).
    pub(crate) fn value<'de, D: Deserializer<'de>>(
        &self,
        deserializer: D,
    ) -> std::result::Result<Value, D::Error> {
        self.seed().deserialize(deserializer)
    }

    /// The value of `key` in an object whose keys a typed reader visits: None where
    /// [`parse_model`] drops it.
    pub(crate) fn entry_value<'de, A: MapAccess<'de>>(
        &self,
        key: &str,
        map: &mut A,
    ) -> std::result::Result<Option<Value>, A::Error> {
        self.seed().entry_value(key, map)
    }
}

/// An object key, borrowed from the text where it has no escapes: a dropped key then
/// costs no allocation.
pub(crate) struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: serde::de::Error>(
        self,
        v: &'de str,
    ) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A value as [`WithoutWeightSettings`] reads it, or None (checked, dropped) for an object.
struct UnlessObject<'s>(WithoutWeightSettings<'s>);

impl<'de> DeserializeSeed<'de> for UnlessObject<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UnlessObject<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Self::Value, E> {
        self.0.visit_bool(v).map(Some)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
        self.0.visit_i64(v).map(Some)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
        self.0.visit_u64(v).map(Some)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
        self.0.visit_f64(v).map(Some)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        self.0.visit_str(v).map(Some)
    }

    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Self::Value, A::Error> {
        self.0.visit_seq(seq).map(Some)
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[derive(Clone, Copy)]
enum Encoding {
    Utf8,
    Utf16 { big_endian: bool },
    Utf32 { big_endian: bool },
}

/// Python's `json.detect_encoding`: a byte-order mark, else the pattern of zero bytes
/// that ASCII text leaves in its first four bytes. Returns the encoding and the length
/// of the mark.
fn detect(b: &[u8]) -> (Encoding, usize) {
    use Encoding::*;
    if b.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return (Utf32 { big_endian: true }, 4);
    }
    if b.starts_with(&[0xFF, 0xFE, 0, 0]) {
        return (Utf32 { big_endian: false }, 4);
    }
    if b.starts_with(&[0xFE, 0xFF]) {
        return (Utf16 { big_endian: true }, 2);
    }
    if b.starts_with(&[0xFF, 0xFE]) {
        return (Utf16 { big_endian: false }, 2);
    }
    if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return (Utf8, 3);
    }
    let encoding = match b {
        [0, 0, _, _, ..] => Utf32 { big_endian: true },
        [0, _, _, _, ..] => Utf16 { big_endian: true },
        [_, 0, 0, 0, ..] => Utf32 { big_endian: false },
        [_, 0, _, _, ..] => Utf16 { big_endian: false },
        [0, _] => Utf16 { big_endian: true },
        [_, 0] => Utf16 { big_endian: false },
        _ => Utf8,
    };
    (encoding, 0)
}

/// The text as UTF-8 bytes.
pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<Cow<'_, [u8]>, String> {
    let (encoding, mark) = detect(bytes);
    let body = &bytes[mark..];
    let units = |width: usize, big_endian: bool| {
        if body.len() % width != 0 {
            return Err(format!(
                "{} bytes of UTF-{} text is not a whole number of characters",
                body.len(),
                width * 8
            ));
        }
        Ok(body.chunks_exact(width).map(move |c| {
            let mut v = 0u32;
            for i in 0..width {
                let byte = if big_endian { c[i] } else { c[width - 1 - i] };
                v = (v << 8) | u32::from(byte);
            }
            v
        }))
    };
    let text: String = match encoding {
        Encoding::Utf8 => return Ok(Cow::Borrowed(body)),
        Encoding::Utf16 { big_endian } => {
            char::decode_utf16(units(2, big_endian)?.map(|u| u as u16))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| "not valid UTF-16 text".to_string())?
        }
        Encoding::Utf32 { big_endian } => units(4, big_endian)?
            .map(char::from_u32)
            .collect::<Option<_>>()
            .ok_or("not valid UTF-32 text")?,
    };
    Ok(Cow::Owned(text.into_bytes()))
}

/// `NaN`, `Infinity` and `-Infinity` outside strings turned into strings; None when the
/// text has none (the strict error then stands).
fn quote_non_finite(text: &[u8]) -> Option<Vec<u8>> {
    const WORDS: [&[u8]; 3] = [b"-Infinity", b"Infinity", b"NaN"];
    let mut out = Vec::with_capacity(text.len() + 16);
    let (mut in_string, mut escaped, mut found) = (false, false, false);
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if let Some(word) = WORDS.iter().find(|w| text[i..].starts_with(w)) {
            out.push(b'"');
            out.extend_from_slice(word);
            out.push(b'"');
            i += word.len();
            found = true;
            continue;
        }
        out.push(c);
        i += 1;
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_python_reads() {
        let doc = r#"{"model_type": "gpt2", "n": 2}"#;
        let utf16le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let utf32le: Vec<u8> = doc.chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
        let bom8 = [&[0xEF, 0xBB, 0xBF][..], doc.as_bytes()].concat();
        let bom16 = [&[0xFF, 0xFE][..], &utf16le].concat();
        for bytes in [bom8, bom16, utf16le, utf16be, utf32le] {
            assert_eq!(parse(&bytes, "c.json").unwrap()["n"], 2);
        }
    }

    #[test]
    fn model_parse_drops_weight_settings_only() {
        let text = br#"{"units": 4, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
            "bias_regularizer": null, "kernel_constraint": {"a": [1, 2]}, "dtype": {"name": "float32"},
            "layers": [{"x": -1, "y": 2.5, "z": [true, "s", null], "activity_regularizer": 1, "dtype": "int32"}],
            "esc\u0061ped": 1}"#;
        let full = parse(text, "m.json").unwrap();
        let mut without = full.clone();
        let object = without.as_object_mut().unwrap();
        for key in [
            "kernel_initializer",
            "bias_regularizer",
            "kernel_constraint",
            "dtype",
        ] {
            object.shift_remove(key);
        }
        object["layers"][0]
            .as_object_mut()
            .unwrap()
            .shift_remove("activity_regularizer");
        assert_eq!(parse_model(text, "m.json").unwrap(), without);
        assert_eq!(
            parse_model(text, "m.json").unwrap()["layers"][0]["dtype"],
            "int32"
        );
        assert_eq!(parse_model(text, "m.json").unwrap()["escaped"], 1);
        // still checked: malformed inside a dropped value is malformed
        let e = parse_model(br#"{"kernel_initializer": {"a": }}"#, "m.json").unwrap_err();
        let strict = parse(br#"{"kernel_initializer": {"a": }}"#, "m.json").unwrap_err();
        assert_eq!(e.to_string(), strict.to_string());
        assert_eq!(parse_model(b"{\"a\": NaN}", "m.json").unwrap()["a"], "NaN");
    }

    #[test]
    fn model_parse_names_where_the_text_stops_being_utf8() {
        let text = b"{\"units\": 4,\n \"name\": \"d\xff\"}";
        let e = parse_model(text, "m.json").unwrap_err().to_string();
        assert_eq!(e, parse(text, "m.json").unwrap_err().to_string());
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn non_finite_numbers_become_strings_outside_strings_only() {
        let v = parse(
            br#"{"a": NaN, "b": [-Infinity, Infinity], "c": "NaN \" Infinity"}"#,
            "c.json",
        )
        .unwrap();
        assert_eq!(v["a"], "NaN");
        assert_eq!(v["b"][0], "-Infinity");
        assert_eq!(v["c"], "NaN \" Infinity");
        let e = parse(b"{\"a\": nan}", "c.json").unwrap_err().to_string();
        assert!(e.contains("c.json: malformed JSON"), "{e}");
    }
}
